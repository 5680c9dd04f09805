// Package registries turns the K3s-format registries.yaml (mirrors, TLS, credentials) into
// what containerd 2.4 reads: a hosts.toml per registry under the CRI plugin's config_path,
// and, for credentials, which hosts.toml cannot hold, a fragment of containerd's config.toml.
//
// The file format is K3s's:
//
//	mirrors:
//	  docker.io:
//	    endpoint: ["https://mirror.example:5000", "http://10.0.0.5:5000"]
//	  "*":                                    # every registry without an entry of its own
//	    endpoint: ["https://mirror.example:5000"]
//	configs:
//	  "mirror.example:5000":                  # keyed by registry or endpoint host[:port]
//	    auth: {username: u, password: p}      # or auth: <base64 user:pass>, or identity_token
//	    tls: {ca_file: /etc/ssl/ca.pem, cert_file: /etc/ssl/c.pem, key_file: /etc/ssl/c.key,
//	          insecure_skip_verify: false}
//
// K3s's mirror "rewrite" is refused: upstream containerd's hosts.toml has no such option
// (K3s ships a patched containerd for it).
package registries

import (
	"fmt"
	"log/slog"
)

// Registries is a parsed registries.yaml. The zero value configures nothing.
type Registries struct {
	// Mirrors maps a registry name (host[:port], or "*" for every registry without an
	// entry of its own) to the endpoints tried, in order, before the registry itself.
	Mirrors map[string]Mirror
	// Configs maps a registry or endpoint host[:port] (or "*" for TLS of the default
	// endpoint of every registry without a directory of its own) to its TLS and credentials.
	Configs map[string]RegistryConfig
}

// Mirror is one entry of "mirrors".
type Mirror struct {
	// Endpoints ("endpoint") are URLs; without a scheme https is assumed (http for
	// localhost on a port other than 443). A path other than "/" or "/v2" is the registry
	// API root, used as is (containerd's override_path).
	Endpoints []string
}

// RegistryConfig is one entry of "configs".
type RegistryConfig struct {
	Auth *AuthConfig // "auth"; nil: anonymous
	TLS  *TLSConfig  // "tls"; nil: system roots, verification on
}

// AuthConfig holds registry credentials. Its String, GoString and LogValue methods
// redact the secrets, so printing or logging it is safe.
type AuthConfig struct {
	Username string // "username"
	Password string // "password"
	// Auth ("auth") is base64("username:password"), as in a Docker config.json.
	Auth string
	// IdentityToken ("identity_token") is an OAuth refresh token exchanged for access tokens.
	IdentityToken string
}

// TLSConfig holds the TLS settings of a registry endpoint. Paths must be absolute.
type TLSConfig struct {
	CAFile             string // "ca_file": added to the system roots
	CertFile           string // "cert_file": client certificate (may also hold the key)
	KeyFile            string // "key_file": client key; needs cert_file
	InsecureSkipVerify bool   // "insecure_skip_verify": default false
}

func (a AuthConfig) empty() bool {
	return a.Username == "" && a.Password == "" && a.Auth == "" && a.IdentityToken == ""
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}

// String shows the username and which secrets are set, never their values.
func (a AuthConfig) String() string {
	return fmt.Sprintf("{username: %q, password: %s, auth: %s, identity_token: %s}",
		a.Username, redact(a.Password), redact(a.Auth), redact(a.IdentityToken))
}

// GoString is String, so that %#v does not print the secrets either.
func (a AuthConfig) GoString() string { return "registries.AuthConfig" + a.String() }

// LogValue keeps the secrets out of slog output.
func (a AuthConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("username", a.Username),
		slog.String("password", redact(a.Password)),
		slog.String("auth", redact(a.Auth)),
		slog.String("identity_token", redact(a.IdentityToken)),
	)
}
