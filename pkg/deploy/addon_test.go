package deploy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func TestAddonName(t *testing.T) {
	for in, want := range map[string]string{
		"coredns.yaml":                      "coredns",
		"my-app.yml":                        "my-app",
		"Web_Server.v2.json":                "web-server-v2",
		"--x--.yaml":                        "x",
		"___.yaml":                          "manifest",
		"a.yaml.yaml":                       "a-yaml",
		strings.Repeat("a", 62) + "_b.yaml": strings.Repeat("a", 62),
	} {
		if got := addonName(in); got != want {
			t.Errorf("addonName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsManifestName(t *testing.T) {
	for name, want := range map[string]bool{
		"a.yaml": true, "a.yml": true, "a.json": true,
		"a.yaml.skip": false, "a.txt": false, ".a.yaml": false, ".yaml": false,
		".a.yaml.tmp123": false, "a.YAML": false, "a.yaml~": false,
	} {
		if got := isManifestName(name); got != want {
			t.Errorf("isManifestName(%q) = %v", name, got)
		}
	}
}

// TestAddonCRD: the CRD decodes strictly into the apiextensions type and has the printer
// columns `kubectl get addons` shows.
func TestAddonCRD(t *testing.T) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict([]byte(addonCRD), &crd); err != nil {
		t.Fatal(err)
	}
	if crd.Name != addonCRDName || crd.Spec.Group != addonGroup || crd.Spec.Scope != apiextensionsv1.ClusterScoped ||
		crd.Spec.Names.Kind != addonKind || crd.Spec.Names.Plural != addonGVR.Resource || len(crd.Spec.Versions) != 1 {
		t.Fatalf("CRD = %+v", crd.Spec)
	}
	v := crd.Spec.Versions[0]
	if v.Name != addonVersion || !v.Served || !v.Storage || v.Subresources != nil {
		t.Errorf("version = %+v", v)
	}
	var cols []string
	for _, c := range v.AdditionalPrinterColumns {
		if c.Priority == 0 {
			cols = append(cols, strings.ToUpper(c.Name))
		}
	}
	if want := []string{"SOURCE", "APPLIED", "ERROR", "AGE"}; !slices.Equal(cols, want) {
		t.Errorf("columns = %v, want %v", cols, want)
	}
	status := v.Schema.OpenAPIV3Schema.Properties["status"].Properties
	for _, f := range []string{"checksum", "applied", "skipped", "error", "lastApplied", "objects"} {
		if _, ok := status[f]; !ok {
			t.Errorf("status.%s not in the schema", f)
		}
	}
	item := status["objects"].Items.Schema.Properties
	for _, f := range []string{"apiVersion", "kind", "namespace", "name"} {
		if _, ok := item[f]; !ok {
			t.Errorf("status.objects[].%s not in the schema", f)
		}
	}
}

func ref(apiVersion, kind, ns, name string) objectRef {
	return objectRef{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name}
}

func TestPruneList(t *testing.T) {
	a := ref("v1", "ConfigMap", "default", "a")
	b := ref("v1", "ConfigMap", "default", "b")
	dOld := ref("apps/v1beta1", "Deployment", "x", "d")
	dNew := ref("apps/v1", "Deployment", "x", "d")
	otherGroup := ref("example.com/v1", "Deployment", "x", "d")
	ns := ref("v1", "Namespace", "", "apps")
	kubeSystem := ref("v1", "Namespace", "", "kube-system")
	for _, tc := range []struct {
		name         string
		old, current []objectRef
		want         []objectRef
	}{
		{"nothing before", nil, []objectRef{a}, nil},
		{"same", []objectRef{a, b}, []objectRef{b, a}, nil},
		{"removed, reverse order", []objectRef{ns, a, b}, []objectRef{b}, []objectRef{a, ns}},
		{"API version changed: same object", []objectRef{dOld}, []objectRef{dNew}, nil},
		{"other group: another object", []objectRef{otherGroup}, []objectRef{dNew}, []objectRef{otherGroup}},
		{"namespace differs", []objectRef{ref("v1", "ConfigMap", "other", "a")}, []objectRef{a}, []objectRef{ref("v1", "ConfigMap", "other", "a")}},
		{"system namespaces are never deleted", []objectRef{kubeSystem, ns}, nil, []objectRef{ns}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pruneList(tc.old, tc.current); !slices.Equal(got, tc.want) {
				t.Errorf("pruneList = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMergeRefs(t *testing.T) {
	a := ref("v1", "ConfigMap", "default", "a")
	b := ref("v1", "ConfigMap", "default", "b")
	c := ref("v1", "ConfigMap", "default", "c")
	if got := mergeRefs([]objectRef{a, b, a}, []objectRef{c, b}); !slices.Equal(got, []objectRef{a, b, c}) {
		t.Errorf("mergeRefs = %v", got)
	}
}

func TestOneLine(t *testing.T) {
	err := errors.Join(errors.New("first\n  detail"), errors.New("second"))
	if got := oneLine(err, 100); got != "first; detail; second" {
		t.Errorf("oneLine = %q", got)
	}
	if got := oneLine(errors.New(strings.Repeat("é", 10)), 8); got != "éé..." {
		t.Errorf("oneLine truncated = %q", got)
	}
}
