package deploy

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, refOf(o).String())
	}
	return out
}

func TestDecodeManifest(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"empty file", "", nil},
		{"comments only", "# nothing\n---\n# still nothing\n", nil},
		{"multi-document", "---\n" + configMap("a", "", "1") + "---\n\n---\n# c\n" + configMap("b", "x", "1") + "...\n", []string{"ConfigMap a", "ConfigMap x/b"}},
		{"separator with comment", configMap("a", "", "1") + "--- # next\n" + configMap("b", "", "1"), []string{"ConfigMap a", "ConfigMap b"}},
		{"List", "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(configMap("a", "", "1"), "\n", "\n  ") +
			"\n- apiVersion: v1\n  kind: ConfigMapList\n  items:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: nested}}\n",
			[]string{"ConfigMap a", "ConfigMap nested"}},
		{"empty List", "apiVersion: v1\nkind: List\n", nil},
		{"JSON", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`, []string{"ConfigMap a"}},
		{"JSON stream", " \n{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}\n" +
			`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}]}`,
			[]string{"ConfigMap a", "ConfigMap b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := decodeManifest([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := names(objs); !slices.Equal(got, tc.want) {
				t.Errorf("objects = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecodeManifestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"bad YAML", configMap("a", "", "1") + "---\nkind: [ConfigMap\n", "document 2"},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: a}\n", "document 1"},
		{"scalar", "just a string\n", "document 1: not an object"},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", "kind is missing"},
		{"no apiVersion", "kind: ConfigMap\nmetadata: {name: a}\n", "apiVersion is missing"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\n", "ConfigMap: metadata.name is missing"},
		{"name read as a boolean", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n", "metadata.name is not a string but true: quote it"},
		{"namespace read as a number", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: 1}\n", "metadata.namespace is not a string"},
		{"generateName", "apiVersion: v1\nkind: Pod\nmetadata: {generateName: p-}\n", "generateName is not supported"},
		{"bad List item", "apiVersion: v1\nkind: List\nitems: [3]\n", "List item 1: not an object"},
		{"bad JSON", `{"apiVersion": "v1",`, "JSON object 1"},
		{"bad separator", configMap("a", "", "1") + "--- x\n", "separator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeManifest([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestDecodeKeepsValues: integers stay integers (server-side apply needs them so), and
// server-set metadata from `kubectl get -o yaml` is dropped.
func TestDecodeKeepsValues(t *testing.T) {
	objs, err := decodeManifest([]byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
  resourceVersion: "42"
  uid: 0e0e
  creationTimestamp: null
  managedFields: [{manager: kubectl}]
  labels: {app: d}
spec:
  replicas: 2
  template: {spec: {terminationGracePeriodSeconds: 3.5}}
`))
	if err != nil {
		t.Fatal(err)
	}
	o := objs[0]
	if r, _, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "replicas"); r != int64(2) {
		t.Errorf("replicas = %#v, want int64(2)", r)
	}
	if g, _, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "template", "spec", "terminationGracePeriodSeconds"); g != 3.5 {
		t.Errorf("float = %#v", g)
	}
	md := o.Object["metadata"].(map[string]any)
	for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "managedFields"} {
		if _, ok := md[f]; ok {
			t.Errorf("metadata.%s kept", f)
		}
	}
	if o.GetLabels()["app"] != "d" {
		t.Error("labels lost")
	}
}

func TestApplyOrder(t *testing.T) {
	objs, err := decodeManifest([]byte(
		"apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n" +
			configMap("c", "apps", "1") + "---\n" + namespaceApps + "---\n" +
			"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n---\n" +
			"apiVersion: example.com/v1\nkind: Namespace\nmetadata: {name: not-a-core-namespace}\n---\n" +
			configMap("d", "", "1")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CustomResourceDefinition widgets.example.com", "Namespace apps", "Widget w", "ConfigMap apps/c",
		"Namespace not-a-core-namespace", "ConfigMap d"}
	if got := names(applyOrder(objs)); !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	if got := names(objs)[0]; got != "Widget w" {
		t.Errorf("applyOrder changed its argument: %s first", got)
	}
}
