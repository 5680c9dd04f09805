package deploy

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// The Addon custom resource: one per manifest file, cluster-scoped, status in the main
// resource (no status subresource: edgek is its only writer and writes it in one request).
const (
	addonGroup   = "edgek.io"
	addonVersion = "v1"
	addonKind    = "Addon"
	addonCRDName = "addons." + addonGroup
)

var addonGVR = schema.GroupVersionResource{Group: addonGroup, Version: addonVersion, Resource: "addons"}

// addonCRD defines addons.edgek.io; `kubectl get addons` shows which manifests are applied.
const addonCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: addons.edgek.io
  labels:
    app.kubernetes.io/managed-by: edgek
spec:
  group: edgek.io
  scope: Cluster
  names:
    kind: Addon
    listKind: AddonList
    plural: addons
    singular: addon
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - name: Source
      type: string
      description: Manifest file in <data-dir>/server/manifests
      jsonPath: .spec.source
    - name: Applied
      type: boolean
      description: Whether the file's current content is applied
      jsonPath: .status.applied
    - name: Error
      type: string
      description: Why the last apply failed
      jsonPath: .status.error
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    - name: Skipped
      type: boolean
      description: A .skip file stops edgek from managing the file
      jsonPath: .status.skipped
      priority: 1
    - name: Last-Applied
      type: date
      jsonPath: .status.lastApplied
      priority: 1
    schema:
      openAPIV3Schema:
        description: A manifest file that edgek applies to the cluster.
        type: object
        properties:
          apiVersion:
            type: string
          kind:
            type: string
          metadata:
            type: object
          spec:
            type: object
            properties:
              source:
                description: File name in the manifests directory.
                type: string
          status:
            type: object
            properties:
              checksum:
                description: SHA-256 of the file content last applied or tried.
                type: string
              applied:
                description: Whether that content was applied without error.
                type: boolean
              skipped:
                description: Whether a .skip file stops edgek from managing the file.
                type: boolean
              error:
                description: The last error, if the last apply failed.
                type: string
              lastApplied:
                description: When the file was last applied without error.
                type: string
                format: date-time
              objects:
                description: The objects the file created, pruned when the file no longer holds them.
                type: array
                items:
                  type: object
                  properties:
                    apiVersion:
                      type: string
                    kind:
                      type: string
                    namespace:
                      type: string
                    name:
                      type: string
`

// sourceAnnotation, on every object the controller applies, names the manifest file it came
// from. It tells a user where an object is defined, and lets --disable remove the objects of a
// bundled addon without touching same-named objects of the user's own.
const sourceAnnotation = "addons.edgek.io/source"

// setSource records the manifest file an object comes from in its annotations.
func setSource(o *unstructured.Unstructured, file string) {
	ann := o.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[sourceAnnotation] = file
	o.SetAnnotations(ann)
}

// madeFrom reports whether an object is the manifest file source's to delete: its
// sourceAnnotation names that file, or (unless strict) it has none.
func madeFrom(o *unstructured.Unstructured, source string, strict bool) bool {
	got, ok := o.GetAnnotations()[sourceAnnotation]
	if !ok {
		return !strict
	}
	return got == source
}

// addon is the part of an Addon object the controller reads and writes.
type addon struct {
	Name   string
	UID    types.UID // set by getAddon, listAddons and putAddon
	Source string
	Status addonStatus
}

type addonStatus struct {
	Checksum    string      `json:"checksum,omitempty"`
	Applied     bool        `json:"applied"`
	Skipped     bool        `json:"skipped,omitempty"`
	Error       string      `json:"error,omitempty"`
	LastApplied string      `json:"lastApplied,omitempty"`
	Objects     []objectRef `json:"objects,omitempty"`
}

// objectRef names an object a manifest created.
type objectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// key identifies the object whatever its API version.
func (r objectRef) key() string {
	gv, _ := schema.ParseGroupVersion(r.APIVersion)
	return gv.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

func (r objectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// protected reports whether edgek must never delete the object, whatever a manifest said.
func (r objectRef) protected() bool {
	if r.Kind != "Namespace" || r.APIVersion != "v1" {
		return false
	}
	switch r.Name {
	case "default", "kube-system", "kube-public", "kube-node-lease":
		return true
	}
	return false
}

// pruneList returns the objects of old that are not in current, in reverse order (objects
// created last are deleted first), without protected ones.
func pruneList(old, current []objectRef) []objectRef {
	keep := make(map[string]bool, len(current))
	for _, r := range current {
		keep[r.key()] = true
	}
	var out []objectRef
	for i := len(old) - 1; i >= 0; i-- {
		if r := old[i]; !keep[r.key()] && !r.protected() {
			out = append(out, r)
		}
	}
	return out
}

// mergeRefs returns a followed by the objects of b that are not in a.
func mergeRefs(a, b []objectRef) []objectRef {
	seen := make(map[string]bool, len(a))
	out := make([]objectRef, 0, len(a)+len(b))
	for _, r := range a {
		if !seen[r.key()] {
			seen[r.key()] = true
			out = append(out, r)
		}
	}
	for _, r := range b {
		if !seen[r.key()] {
			seen[r.key()] = true
			out = append(out, r)
		}
	}
	return out
}

// manifestExts are the extensions of the files the controller applies.
var manifestExts = []string{".yaml", ".yml", ".json"}

// isManifestName reports whether a directory entry is a manifest: a known extension and not
// hidden (editors' and edgek's temporary files are).
func isManifestName(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	for _, ext := range manifestExts {
		if strings.HasSuffix(name, ext) && len(name) > len(ext) {
			return true
		}
	}
	return false
}

// addonName derives an Addon name (a DNS label) from a file name: the name without its
// extension, lower-cased, with every character other than a-z, 0-9 and '-' turned into '-'.
func addonName(file string) string {
	base := file
	for _, ext := range manifestExts {
		if s, ok := strings.CutSuffix(base, ext); ok {
			base = s
			break
		}
	}
	b := []byte(strings.ToLower(base))
	for i, ch := range b {
		if (ch < 'a' || ch > 'z') && (ch < '0' || ch > '9') {
			b[i] = '-'
		}
	}
	name := strings.Trim(string(b), "-")
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	if name == "" {
		name = "manifest"
	}
	return name
}

// oneLine turns an error into one line of at most limit bytes, for status.error and Events:
// its lines (errors.Join puts one error per line) are joined with "; ".
func oneLine(err error, limit int) string {
	var lines []string
	for l := range strings.Lines(err.Error()) {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	s := strings.Join(lines, "; ")
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit-3], "") + "..."
	}
	return s
}
