package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

var testVars = Vars{
	ClusterDNS:     "10.53.0.10",
	ClusterDomain:  "edge.test",
	ClusterCIDR:    "10.52.0.0/16",
	ServiceCIDR:    "10.53.0.0/16",
	CoreDNSImage:   "example.test/coredns:1",
	DashboardImage: "example.test/dashboard:1",
	ServerCABundle: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
}

// TestRenderBundled renders every bundled manifest and checks that each document is an
// object with apiVersion, kind and metadata.name, and that no template action is left.
func TestRenderBundled(t *testing.T) {
	out, err := Render(testVars)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no bundled manifest")
	}
	var names []string
	for file, content := range out {
		names = append(names, strings.TrimSuffix(file, ".yaml"))
		if bytes.Contains(content, []byte("{{")) {
			t.Errorf("%s: template action left after rendering", file)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(content)))
		objects := 0
		for i := 1; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			var obj map[string]any
			if err := yaml.UnmarshalStrict(doc, &obj); err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			if obj == nil {
				continue
			}
			objects++
			md, _ := obj["metadata"].(map[string]any)
			if obj["apiVersion"] == nil || obj["kind"] == nil || md["name"] == nil {
				t.Errorf("%s document %d: apiVersion, kind or metadata.name missing", file, i)
			}
		}
		if objects == 0 {
			t.Errorf("%s: no object", file)
		}
	}
	slices.Sort(names)
	if got := Names(); !slices.Equal(got, names) {
		t.Errorf("Names() = %v, want %v", got, names)
	}
	if !slices.Contains(Names(), "coredns") {
		t.Errorf("Names() = %v, want coredns among them", Names())
	}
}

func TestRenderCoreDNSValues(t *testing.T) {
	out, err := Render(testVars)
	if err != nil {
		t.Fatal(err)
	}
	c := string(out["coredns.yaml"])
	for _, want := range []string{testVars.ClusterDNS, testVars.ClusterDomain, testVars.CoreDNSImage} {
		if !strings.Contains(c, want) {
			t.Errorf("coredns.yaml does not contain %q", want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	for name, text := range map[string]string{
		"unknown field": "image: {{.NoSuchField}}\n",
		"bad template":  "image: {{.CoreDNSImage\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := render(fstest.MapFS{"x.yaml": {Data: []byte(text)}}, testVars)
			if err == nil || !strings.Contains(err.Error(), "x.yaml") {
				t.Errorf("err = %v, want an error naming x.yaml", err)
			}
		})
	}
	out, err := render(fstest.MapFS{
		"a.yaml":    {Data: []byte("dns: {{.ClusterDNS}}\n")},
		"notes.txt": {Data: []byte("{{.Nope}}")},
	}, testVars)
	if err != nil || string(out["a.yaml"]) != "dns: 10.53.0.10\n" || len(out) != 1 {
		t.Errorf("render = %q, %v", out, err)
	}
}
