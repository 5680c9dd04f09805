package registries

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/test/testutil"
)

// writeYAML writes a registries.yaml and returns its path.
func writeYAML(t *testing.T, content string) string {
	t.Helper()
	return testutil.WriteFile(t, filepath.Join(t.TempDir(), "registries.yaml"), content)
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *Registries
	}{
		{
			name: "K3s mirror with auth and TLS",
			yaml: `
mirrors:
  docker.io:
    endpoint:
      - "https://mycustomreg.com:5000"
configs:
  "mycustomreg.com:5000":
    auth:
      username: xxxxxx # this is the registry username
      password: xxxxxx # this is the registry password
    tls:
      cert_file: /etc/ssl/reg.crt
      key_file: /etc/ssl/reg.key
      ca_file: /etc/ssl/ca.crt
`,
			want: &Registries{
				Mirrors: map[string]Mirror{"docker.io": {Endpoints: []string{"https://mycustomreg.com:5000"}}},
				Configs: map[string]RegistryConfig{"mycustomreg.com:5000": {
					Auth: &AuthConfig{Username: "xxxxxx", Password: "xxxxxx"},
					TLS:  &TLSConfig{CertFile: "/etc/ssl/reg.crt", KeyFile: "/etc/ssl/reg.key", CAFile: "/etc/ssl/ca.crt"},
				}},
			},
		},
		{
			name: "K3s wildcard, plain http, insecure_skip_verify, identity_token, auth",
			yaml: `
mirrors:
  "*":
    endpoint: ["https://mirror.example:5000"]
  registry.example.com:
    endpoint:
      - "http://registry.example.com"
configs:
  "mirror.example:5000":
    auth: {identity_token: tok}
    tls: {insecure_skip_verify: true}
  "registry.example.com":
    auth: {auth: dTpw}
`,
			want: &Registries{
				Mirrors: map[string]Mirror{
					"*":                    {Endpoints: []string{"https://mirror.example:5000"}},
					"registry.example.com": {Endpoints: []string{"http://registry.example.com"}},
				},
				Configs: map[string]RegistryConfig{
					"mirror.example:5000":  {Auth: &AuthConfig{IdentityToken: "tok"}, TLS: &TLSConfig{InsecureSkipVerify: true}},
					"registry.example.com": {Auth: &AuthConfig{Auth: "dTpw"}},
				},
			},
		},
		{
			name: "nulls, an empty rewrite and anchors are accepted",
			yaml: `
mirrors:
  docker.io: &m
    endpoint: [mirror.example:5000]
    rewrite: {}
  quay.io: *m
configs:
`,
			want: &Registries{
				Mirrors: map[string]Mirror{
					"docker.io": {Endpoints: []string{"mirror.example:5000"}},
					"quay.io":   {Endpoints: []string{"mirror.example:5000"}},
				},
			},
		},
		{name: "empty file", yaml: "", want: &Registries{}},
		{name: "only comments", yaml: "# nothing yet\n", want: &Registries{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(writeYAML(t, tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	r, err := Load(filepath.Join(t.TempDir(), "registries.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Mirrors) != 0 || len(r.Configs) != 0 || r.CRIConfig() != "" {
		t.Errorf("missing file gave %+v", r)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error, besides the file name
	}{
		{"malformed YAML", "mirrors:\n  docker.io:\n    endpoint: [a\n", []string{"yaml: line"}},
		{"unknown top-level key", "mirror:\n  docker.io: {}\n", []string{"line 1", `unknown key "mirror"`, "top level"}},
		{"unknown mirror key", "mirrors:\n  docker.io:\n    endpoints: [x]\n", []string{"line 3", `mirrors."docker.io"`, `unknown key "endpoints"`}},
		{"unknown tls key", "configs:\n  r.example:\n    tls:\n      ca: /x\n", []string{"line 4", `configs."r.example".tls`, `unknown key "ca"`}},
		{"token", "configs:\n  r.example:\n    auth:\n      token: s3cr3t\n", []string{"line 4", `configs."r.example".auth.token`, "identity_token"}},
		{"rewrite", "mirrors:\n  docker.io:\n    endpoint: [m.example]\n    rewrite:\n      \"^library/(.*)\": \"mirrored/$1\"\n",
			[]string{"line 4", `mirrors."docker.io".rewrite`, "not supported"}},
		{"endpoint not a list", "mirrors:\n  docker.io:\n    endpoint: https://m.example\n", []string{"line 3", "must be a list"}},
		{"bad scheme", "mirrors:\n  docker.io:\n    endpoint: [\"ftp://m.example\"]\n", []string{"line 3", `endpoint[0]`, "http or https"}},
		{"bad registry name", "mirrors:\n  https://docker.io:\n    endpoint: [m.example]\n", []string{"line 2", "without scheme or path"}},
		{"dot-dot registry name", "configs:\n  \"..\":\n    tls: {insecure_skip_verify: true}\n", []string{"line 2", "invalid host"}},
		{"skip verify not bool", "configs:\n  r.example:\n    tls: {insecure_skip_verify: \"yes\"}\n", []string{"line 3", "true or false"}},
		{"relative CA", "configs:\n  r.example:\n    tls: {ca_file: ca.pem}\n", []string{"line 3", "absolute"}},
		{"key without cert", "configs:\n  r.example:\n    tls: {key_file: /k.pem}\n", []string{"line 3", "without cert_file"}},
		{"wildcard auth", "configs:\n  \"*\":\n    auth: {username: u, password: s3cr3t}\n", []string{"line 3", "exact host"}},
		{"duplicate key", "mirrors:\n  docker.io: {}\n  docker.io: {}\n", []string{"line 3", "twice"}},
		{"two documents", "mirrors: {}\n---\nconfigs: {}\n", []string{"one YAML document"}},
		{"password not a string", "configs:\n  r.example:\n    auth: {password: [s3cr3t]}\n", []string{"line 3", "auth.password", "must be a string"}},
		{"user info in endpoint", "mirrors:\n  docker.io:\n    endpoint: [\"https://u:s3cr3t@m.example\"]\n", []string{"line 3", "configs.<host>.auth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeYAML(t, tt.yaml)
			_, err := Load(p)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range append(tt.want, p) {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q: %s", w, msg)
				}
			}
			if strings.Contains(msg, "s3cr3t") {
				t.Errorf("error shows a secret: %s", msg)
			}
		})
	}
}

func TestLoadReportsAllErrors(t *testing.T) {
	_, err := Load(writeYAML(t, "mirrors:\n  docker.io:\n    endpoints: [x]\nconfigs:\n  r.example:\n    tsl: {}\n"))
	if err == nil || !strings.Contains(err.Error(), `"endpoints"`) || !strings.Contains(err.Error(), `"tsl"`) {
		t.Errorf("want both unknown keys reported, got %v", err)
	}
}

func TestValidate(t *testing.T) {
	r := &Registries{
		Mirrors: map[string]Mirror{"docker.io": {Endpoints: []string{"ftp://m.example"}}},
		Configs: map[string]RegistryConfig{"*": {Auth: &AuthConfig{Password: "s3cr3t"}}},
	}
	err := r.Validate()
	if err == nil || !strings.Contains(err.Error(), `mirrors."docker.io".endpoint[0]`) || !strings.Contains(err.Error(), `configs."*".auth`) {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error shows a secret: %v", err)
	}
	if err := r.Write(t.TempDir()); err == nil {
		t.Error("Write accepted an invalid config")
	}
}
