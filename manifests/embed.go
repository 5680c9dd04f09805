// Package manifests holds the addon manifests edgek carries (CoreDNS, the dashboard). Each
// *.yaml file is a Go text/template filled in with Vars; pkg/deploy writes the rendered files
// to <data-dir>/server/manifests at every start and applies them.
package manifests

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"text/template"
)

//go:embed *.yaml
var files embed.FS

// Vars are the values the templates use.
type Vars struct {
	ClusterDNS     string // cluster DNS Service IP (--cluster-dns)
	ClusterDomain  string // cluster DNS domain (--cluster-domain)
	ClusterCIDR    string // pod network (--cluster-cidr)
	ServiceCIDR    string // Service network (--service-cidr)
	CoreDNSImage   string // image reference of CoreDNS
	DashboardImage string // image reference of the dashboard
	ServerCABundle string // base64 of the server CA's PEM (the metrics APIService's caBundle)
}

// Render returns every bundled manifest, by file name ("coredns.yaml"), filled in with v. A
// template that uses a value Vars does not have is an error.
func Render(v Vars) (map[string][]byte, error) { return render(files, v) }

func render(fsys fs.FS, v Vars) (map[string][]byte, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(names))
	for _, name := range names {
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		t, err := template.New(name).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", name, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, v); err != nil {
			return nil, fmt.Errorf("manifest %s: %w", name, err)
		}
		out[name] = buf.Bytes()
	}
	return out, nil
}

// Names returns the names of the bundled addons, sorted: the file names without ".yaml"
// ("coredns", "dashboard", "local-storage"), as --disable takes them.
func Names() []string {
	names, _ := fs.Glob(files, "*.yaml") // the pattern is valid
	for i, n := range names {
		names[i] = strings.TrimSuffix(n, ".yaml")
	}
	return names
}
