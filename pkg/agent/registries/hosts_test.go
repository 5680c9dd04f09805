package registries

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	dconfig "github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/pelletier/go-toml/v2"

	"github.com/edgek-io/edgek/test/testutil"
)

func TestHostsFiles(t *testing.T) {
	tls := &TLSConfig{CAFile: "/etc/ssl/mirror-ca.pem", CertFile: "/etc/ssl/c.pem", KeyFile: "/etc/ssl/c.key", InsecureSkipVerify: true}
	tests := []struct {
		name string
		r    Registries
		want map[string]string
	}{
		{
			name: "docker.io mirror with two endpoints, one plain http",
			r: Registries{Mirrors: map[string]Mirror{"docker.io": {Endpoints: []string{
				"https://mirror.example:5000", "http://10.0.0.5:5000/",
			}}}},
			want: map[string]string{"docker.io": header + `server = "https://registry-1.docker.io"

[host."https://mirror.example:5000"]
  capabilities = ["pull", "resolve"]

[host."http://10.0.0.5:5000"]
  capabilities = ["pull", "resolve"]
`},
		},
		{
			name: "TLS of the endpoint from configs; http endpoint of the same host gets none",
			r: Registries{
				Mirrors: map[string]Mirror{"registry.example.com": {Endpoints: []string{"mirror.example:5000", "http://mirror.example:5000"}}},
				Configs: map[string]RegistryConfig{"mirror.example:5000": {TLS: tls, Auth: &AuthConfig{Username: "u", Password: "p"}}},
			},
			want: map[string]string{
				"registry.example.com": header + `server = "https://registry.example.com"

[host."https://mirror.example:5000"]
  capabilities = ["pull", "resolve"]
  ca = ["/etc/ssl/mirror-ca.pem"]
  client = [["/etc/ssl/c.pem", "/etc/ssl/c.key"]]
  skip_verify = true

[host."http://mirror.example:5000"]
  capabilities = ["pull", "resolve"]
`,
				"mirror.example:5000": header + `server = "https://mirror.example:5000"
ca = ["/etc/ssl/mirror-ca.pem"]
client = [["/etc/ssl/c.pem", "/etc/ssl/c.key"]]
skip_verify = true
`,
			},
		},
		{
			name: "wildcard to _default, without server",
			r:    Registries{Mirrors: map[string]Mirror{"*": {Endpoints: []string{"https://mirror.example:5000"}}}},
			want: map[string]string{"_default": header + `
[host."https://mirror.example:5000"]
  capabilities = ["pull", "resolve"]
`},
		},
		{
			name: "TLS without mirror; cert file holding the key",
			r: Registries{Configs: map[string]RegistryConfig{
				"registry.example.com": {TLS: &TLSConfig{CertFile: "/etc/ssl/both.pem"}},
				"auth.only.example":    {Auth: &AuthConfig{Username: "u", Password: "p"}},
			}},
			want: map[string]string{"registry.example.com": header + `server = "https://registry.example.com"
client = ["/etc/ssl/both.pem"]
`},
		},
		{
			name: "custom API path, duplicate endpoint, last endpoint is the upstream",
			r: Registries{Mirrors: map[string]Mirror{"docker.io": {Endpoints: []string{
				"https://harbor.example/v2/proxy", "https://harbor.example/v2/proxy/", "https://registry-1.docker.io/v2",
			}}}},
			want: map[string]string{"docker.io": header + `server = "https://registry-1.docker.io"

[host."https://harbor.example/v2/proxy"]
  capabilities = ["pull", "resolve"]
  override_path = true
`},
		},
		{
			name: "localhost keeps containerd's default server; mirror without endpoints is nothing",
			r: Registries{Mirrors: map[string]Mirror{
				"localhost:5000": {Endpoints: []string{"localhost:5001"}},
				"quay.io":        {},
			}},
			want: map[string]string{"localhost:5000": header + `
[host."http://localhost:5001"]
  capabilities = ["pull", "resolve"]
`},
		},
		{
			name: "docker.io TLS from registry-1.docker.io",
			r:    Registries{Configs: map[string]RegistryConfig{"registry-1.docker.io": {TLS: &TLSConfig{CAFile: "/ca.pem"}}}},
			want: map[string]string{"docker.io": header + `server = "https://registry-1.docker.io"
ca = ["/ca.pem"]
`},
		},
		{name: "nothing", r: Registries{}, want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.hostsFiles()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", dump(got), dump(tt.want))
			}
			for dir, content := range got {
				checkHostsSchema(t, dir, content)
			}
		})
	}
}

func dump(files map[string]string) string {
	var b strings.Builder
	for dir, c := range files {
		b.WriteString("--- " + dir + "\n" + c)
	}
	return b.String()
}

// hostFile mirrors containerd 2.4.2's hosts.toml schema (core/remotes/docker/config
// hostFileConfig): decoding with unknown fields disallowed proves no key is silently ignored.
type hostFile struct {
	Server       string               `toml:"server"`
	Capabilities []string             `toml:"capabilities"`
	CA           any                  `toml:"ca"`
	Client       any                  `toml:"client"`
	SkipVerify   *bool                `toml:"skip_verify"`
	OverridePath bool                 `toml:"override_path"`
	Host         map[string]*hostFile `toml:"host"`
}

func checkHostsSchema(t *testing.T, dir, content string) {
	t.Helper()
	var f hostFile
	d := toml.NewDecoder(strings.NewReader(content))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil {
		t.Errorf("%s/hosts.toml is not containerd's schema: %v\n%s", dir, err, content)
	}
}

// TestContainerdReadsHostsTOML writes the files and resolves hosts with containerd's own
// loader, as the CRI image service does with config_path.
func TestContainerdReadsHostsTOML(t *testing.T) {
	pki := t.TempDir()
	ca, cert, key := writeTestCert(t, pki)
	r := &Registries{
		Mirrors: map[string]Mirror{
			"docker.io": {Endpoints: []string{"https://mirror.example:5000", "http://10.0.0.5:5000", "https://harbor.example/v2/dockerhub"}},
			"*":         {Endpoints: []string{"https://mirror.example:5000"}},
		},
		Configs: map[string]RegistryConfig{
			"mirror.example:5000":  {TLS: &TLSConfig{CAFile: ca, CertFile: cert, KeyFile: key}},
			"registry.example.com": {TLS: &TLSConfig{InsecureSkipVerify: true}},
		},
	}
	certsDir := t.TempDir()
	if err := r.Write(certsDir); err != nil {
		t.Fatal(err)
	}
	hosts := dconfig.ConfigureHosts(t.Context(), dconfig.HostOptions{HostDir: dconfig.HostDirFromRoot(certsDir)})
	pullResolve := docker.HostCapabilityPull | docker.HostCapabilityResolve
	all := pullResolve | docker.HostCapabilityPush | docker.HostCapabilityReferrers

	type want struct {
		url    string
		caps   docker.HostCapabilities
		tls    bool // a client certificate, a CA pool
		insecu bool
	}
	tests := []struct {
		registry string
		want     []want
	}{
		{"docker.io", []want{
			{"https://mirror.example:5000/v2", pullResolve, true, false},
			{"http://10.0.0.5:5000/v2", pullResolve, false, false},
			{"https://harbor.example/v2/dockerhub", pullResolve, false, false},
			{"https://registry-1.docker.io/v2", all, false, false},
		}},
		{"quay.io", []want{ // through _default
			{"https://mirror.example:5000/v2", pullResolve, true, false},
			{"https://quay.io/v2", all, false, false},
		}},
		{"registry.example.com", []want{ // TLS only: no mirror
			{"https://registry.example.com/v2", all, false, true},
		}},
		{"mirror.example:5000", []want{ // TLS only, CA and client certificate at the root
			{"https://mirror.example:5000/v2", all, true, false},
		}},
	}
	for _, tt := range tests {
		got, err := hosts(tt.registry)
		if err != nil {
			t.Fatalf("%s: %v", tt.registry, err)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("%s: %d hosts, want %d: %+v", tt.registry, len(got), len(tt.want), got)
		}
		for i, w := range tt.want {
			h := got[i]
			if u := h.Scheme + "://" + h.Host + h.Path; u != w.url || h.Capabilities != w.caps {
				t.Errorf("%s host %d: %s caps %b, want %s caps %b", tt.registry, i, u, h.Capabilities, w.url, w.caps)
			}
			tr, ok := h.Client.Transport.(*http.Transport)
			if !ok {
				t.Errorf("%s host %d: transport %T", tt.registry, i, h.Client.Transport)
				continue
			}
			c := tr.TLSClientConfig
			gotTLS := c != nil && len(c.Certificates) == 1 && c.RootCAs != nil
			if gotTLS != w.tls || (c != nil && c.InsecureSkipVerify) != w.insecu {
				t.Errorf("%s host %d: client cert+CA %v skip_verify %v, want %v %v", tt.registry, i, gotTLS, c != nil && c.InsecureSkipVerify, w.tls, w.insecu)
			}
		}
	}
}

// writeTestCert writes a self-signed certificate used both as CA and client certificate.
func writeTestCert(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	certPEM, keyPEM := testutil.SelfSigned(t, x509.Certificate{
		Subject:   pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
	})
	cert = testutil.WriteFile(t, filepath.Join(dir, "client.pem"), string(certPEM))
	key = testutil.WriteFile(t, filepath.Join(dir, "client.key"), string(keyPEM))
	return cert, cert, key
}
