package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// decodeManifest returns the objects of a manifest file: YAML documents separated by "---"
// lines, or JSON objects one after the other. Empty documents and documents holding only
// comments are skipped; List objects are replaced by their items. Every object needs
// apiVersion, kind and metadata.name. Server-set metadata (resourceVersion, uid,
// managedFields...), found in files saved from `kubectl get -o yaml`, is dropped.
func decodeManifest(data []byte) ([]*unstructured.Unstructured, error) {
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for i, doc := range docs {
		got, err := decodeDocument(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		objs = append(objs, got...)
	}
	return objs, nil
}

// splitDocuments returns the documents of a file as JSON; "null" for empty ones.
func splitDocuments(data []byte) ([][]byte, error) {
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		var docs [][]byte
		d := json.NewDecoder(bytes.NewReader(data))
		for i := 1; ; i++ {
			var raw json.RawMessage
			err := d.Decode(&raw)
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			if err != nil {
				return nil, fmt.Errorf("JSON object %d: %w", i, err)
			}
			docs = append(docs, raw)
		}
	}
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		j, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		docs = append(docs, j)
	}
}

// decodeDocument returns the objects of one document: none, one, or a List's items.
func decodeDocument(doc []byte) ([]*unstructured.Unstructured, error) {
	var v any
	if err := utiljson.Unmarshal(doc, &v); err != nil { // integers stay int64
		return nil, err
	}
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object but %T", v)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return expand(&unstructured.Unstructured{Object: m})
}

// expand checks one object, or returns the items of a List (any kind with an items array,
// like kubectl).
func expand(u *unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	items, isList := u.Object["items"].([]any)
	if isList || (u.GetKind() == "List" && u.Object["items"] == nil) {
		var out []*unstructured.Unstructured
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s item %d: not an object", u.GetKind(), i+1)
			}
			got, err := expand(&unstructured.Unstructured{Object: m})
			if err != nil {
				return nil, fmt.Errorf("%s item %d: %w", u.GetKind(), i+1, err)
			}
			out = append(out, got...)
		}
		return out, nil
	}
	for _, f := range []string{"name", "namespace"} {
		// YAML reads `name: y` or `name: 1` as a boolean or a number.
		if v, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", f); ok {
			if _, isString := v.(string); !isString {
				return nil, fmt.Errorf("%s: metadata.%s is not a string but %v: quote it", u.GetKind(), f, v)
			}
		}
	}
	switch {
	case u.GetAPIVersion() == "":
		return nil, errors.New("apiVersion is missing")
	case u.GetKind() == "":
		return nil, errors.New("kind is missing")
	case u.GetName() == "" && u.GetGenerateName() != "":
		return nil, fmt.Errorf("%s: metadata.generateName is not supported, set metadata.name", u.GetKind())
	case u.GetName() == "":
		return nil, fmt.Errorf("%s: metadata.name is missing", u.GetKind())
	}
	if md, ok := u.Object["metadata"].(map[string]any); ok {
		for _, f := range []string{"resourceVersion", "uid", "selfLink", "generation", "creationTimestamp", "managedFields"} {
			delete(md, f)
		}
	}
	return []*unstructured.Unstructured{u}, nil
}

// applyOrder sorts objects for applying: CustomResourceDefinitions first (objects of their
// kinds may follow), then Namespaces, then the others in file order.
func applyOrder(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	rank := func(u *unstructured.Unstructured) int {
		switch {
		case isCRD(u):
			return 0
		case u.GetKind() == "Namespace" && u.GetAPIVersion() == "v1":
			return 1
		}
		return 2
	}
	out := slices.Clone(objs)
	slices.SortStableFunc(out, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })
	return out
}

func isCRD(u *unstructured.Unstructured) bool {
	return u.GetKind() == "CustomResourceDefinition" && u.GroupVersionKind().Group == "apiextensions.k8s.io"
}

// refOf names an object as it is in a manifest (its namespace may be empty).
func refOf(u *unstructured.Unstructured) objectRef {
	return objectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}
