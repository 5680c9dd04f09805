package registries

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/edgek-io/edgek/pkg/agent/containerd"
	"github.com/edgek-io/edgek/pkg/config"
)

func TestCRIConfig(t *testing.T) {
	tests := []struct {
		name string
		r    Registries
		want string
	}{
		{name: "nothing", r: Registries{}, want: ""},
		{
			name: "TLS and empty auth only",
			r: Registries{Configs: map[string]RegistryConfig{
				"r.example": {TLS: &TLSConfig{InsecureSkipVerify: true}, Auth: &AuthConfig{}},
			}},
			want: "",
		},
		{
			name: "username/password, auth, identity token; escaping",
			r: Registries{Configs: map[string]RegistryConfig{
				"mirror.example:5000": {Auth: &AuthConfig{Username: "u", Password: "p\"\\\x07"}},
				"b.example":           {Auth: &AuthConfig{Auth: "dTpw"}},
				"c.example":           {Auth: &AuthConfig{IdentityToken: "tok"}},
			}},
			want: `
[plugins.'io.containerd.cri.v1.images'.registry.configs."b.example".auth]
  auth = "dTpw"

[plugins.'io.containerd.cri.v1.images'.registry.configs."c.example".auth]
  identitytoken = "tok"

[plugins.'io.containerd.cri.v1.images'.registry.configs."mirror.example:5000".auth]
  username = "u"
  password = "p\"\\\u0007"
`,
		},
		{
			name: "docker.io is repeated as registry-1.docker.io",
			r: Registries{Configs: map[string]RegistryConfig{
				"docker.io": {Auth: &AuthConfig{Username: "u", Password: "p"}},
			}},
			want: `
[plugins.'io.containerd.cri.v1.images'.registry.configs."docker.io".auth]
  username = "u"
  password = "p"

[plugins.'io.containerd.cri.v1.images'.registry.configs."registry-1.docker.io".auth]
  username = "u"
  password = "p"
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.CRIConfig(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestCRIConfigInContainerdConfig appends the fragment to edgek's generated config.toml and
// decodes it as containerd's CRI image plugin does (internal/cri/config Registry/AuthConfig).
func TestCRIConfigInContainerdConfig(t *testing.T) {
	r := &Registries{Configs: map[string]RegistryConfig{
		"mirror.example:5000": {Auth: &AuthConfig{Username: "u", Password: "p=\"x\"\n"}},
	}}
	a := &config.Agent{DataDir: "/var/lib/edgek", PauseImage: "docker.io/edgek/pause:3.10"}
	full := containerd.Config(a, containerd.Host{BinDir: "/bin"}) + r.CRIConfig()

	type authConfig struct {
		Username      string `toml:"username"`
		Password      string `toml:"password"`
		Auth          string `toml:"auth"`
		IdentityToken string `toml:"identitytoken"`
	}
	var cfg struct {
		Plugins map[string]struct {
			Registry struct {
				ConfigPath string `toml:"config_path"`
				Configs    map[string]struct {
					Auth *authConfig `toml:"auth"`
				} `toml:"configs"`
			} `toml:"registry"`
		} `toml:"plugins"`
	}
	if err := toml.Unmarshal([]byte(full), &cfg); err != nil {
		t.Fatalf("config.toml with the fragment does not parse: %v\n%s", err, full)
	}
	reg := cfg.Plugins["io.containerd.cri.v1.images"].Registry
	if reg.ConfigPath != a.CertsDir() {
		t.Errorf("config_path %q lost", reg.ConfigPath)
	}
	got := reg.Configs["mirror.example:5000"].Auth
	if got == nil || *got != (authConfig{Username: "u", Password: "p=\"x\"\n"}) {
		t.Errorf("auth decoded as %+v", got)
	}
}

func TestTOMLQuote(t *testing.T) {
	for _, s := range []string{
		"", "plain", `q"uote`, `back\slash`, "tab\tnl\ncr\rff\fbs\b", "bell\a vt\v nul\x00 del\x7f esc\x1b",
		"unicode é ✓ \u2028 \U0001F600", "$1 ^library/(.*)",
	} {
		var v struct{ K string }
		if err := toml.Unmarshal([]byte("K = "+tomlQuote(s)), &v); err != nil {
			t.Errorf("%q: %s does not parse: %v", s, tomlQuote(s), err)
		} else if v.K != s {
			t.Errorf("%q: round trip gave %q", s, v.K)
		}
	}
	if got := tomlQuote("a\xffb"); got != `"a\uFFFDb"` {
		t.Errorf("invalid UTF-8: %s", got)
	}
}

func TestAuthConfigRedacted(t *testing.T) {
	a := AuthConfig{Username: "u", Password: "s3cr3t", Auth: "s3cr3t", IdentityToken: "s3cr3t"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "auth", a)
	for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%+v %#v %s", a, a, &a), buf.String()} {
		if strings.Contains(s, "s3cr3t") || !strings.Contains(s, "u") {
			t.Errorf("not redacted: %s", s)
		}
	}
}
