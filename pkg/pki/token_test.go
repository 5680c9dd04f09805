package pki

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// testCA writes a CA cert file and returns its path and hash.
func testCA(t *testing.T) (path, hash string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "server-ca.crt")
	data := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return path, hex.EncodeToString(sum[:])
}

func TestFullToken(t *testing.T) {
	ca, hash := testCA(t)
	got, err := FullToken(ca, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if want := "K10" + hash + "::server:s3cret"; got != want {
		t.Errorf("FullToken = %q, want %q", got, want)
	}
	for _, bad := range []string{"", "with space", "new\nline"} {
		if _, err := FullToken(ca, bad); err == nil {
			t.Errorf("FullToken(%q) succeeded, want error", bad)
		}
	}
	if _, err := FullToken(filepath.Join(t.TempDir(), "missing"), "x"); err == nil {
		t.Error("FullToken with missing CA file succeeded")
	}
}

func TestParseToken(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name, token        string
		wantHash, wantSecr string
		wantErr            bool
	}{
		{name: "full", token: "K10" + hash + "::server:s3cret", wantHash: hash, wantSecr: "s3cret"},
		{name: "full, other user", token: "K10" + hash + "::node:pw", wantHash: hash, wantSecr: "pw"},
		{name: "full, upper-case hash", token: "K10" + strings.ToUpper(hash) + "::server:x", wantHash: hash, wantSecr: "x"},
		{name: "full, colon in secret", token: "K10" + hash + "::server:a:b", wantHash: hash, wantSecr: "a:b"},
		{name: "bare", token: "s3cret", wantSecr: "s3cret"},
		{name: "full, bootstrap token", token: "K10" + hash + "::abcdef.0123456789abcdef", wantHash: hash, wantSecr: "abcdef.0123456789abcdef"},
		{name: "bare hex", token: strings.Repeat("0f", 32), wantSecr: strings.Repeat("0f", 32)},
		{name: "empty", token: "", wantErr: true},
		{name: "short hash", token: "K10abcd::server:x", wantErr: true},
		{name: "non-hex hash", token: "K10" + strings.Repeat("zz", 32) + "::server:x", wantErr: true},
		{name: "no :: part", token: "K10" + hash, wantErr: true},
		{name: "no user part", token: "K10" + hash + "::secret", wantErr: true},
		{name: "empty secret", token: "K10" + hash + "::server:", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, s, err := ParseToken(tt.token)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseToken err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if tt.token != "" && strings.Contains(err.Error(), tt.token) {
					t.Errorf("error %q quotes the token", err)
				}
				return
			}
			if h != tt.wantHash || s != tt.wantSecr {
				t.Errorf("ParseToken = (%q, %q), want (%q, %q)", h, s, tt.wantHash, tt.wantSecr)
			}
		})
	}
}

func TestEnsureToken(t *testing.T) {
	ca, hash := testCA(t)
	full := func(secret string) string { return "K10" + hash + "::server:" + secret }
	tests := []struct {
		name    string
		stored  string // "" = no file
		want    string
		wantTok string // "" = generated, checked by format
		wantErr string
	}{
		{name: "generate", wantTok: ""},
		{name: "new from bare secret", want: "Edge-Gateway-7-Berlin", wantTok: full("Edge-Gateway-7-Berlin")},
		{name: "new from full token", want: full("Edge-Gateway-7-Berlin"), wantTok: full("Edge-Gateway-7-Berlin")},
		{name: "new, weak", want: "abc", wantErr: "too weak"},
		{name: "new bootstrap token", want: "abcdef.0123456789abcdef", wantTok: "K10" + hash + "::abcdef.0123456789abcdef"},
		{name: "reuse stored", stored: full("old"), wantTok: full("old")},
		{name: "reuse stored, same secret given", stored: full("old"), want: "old", wantTok: full("old")},
		{name: "stored bare secret is normalised", stored: "old\n", wantTok: full("old")},
		{name: "stored token with stale hash is rewritten", stored: "K10" + strings.Repeat("00", 32) + "::server:old", wantTok: full("old")},
		{name: "given differs from stored", stored: full("old"), want: "other", wantErr: "differs from the token stored in"},
		{name: "given full token for another CA", want: "K10" + strings.Repeat("00", 32) + "::server:abc", wantErr: "CA hash does not match"},
		{name: "given malformed", want: "K10zz::server:abc", wantErr: "malformed"},
		{name: "stored malformed", stored: "K10zz", wantErr: "token file"},
	}
	generated := regexp.MustCompile("^K10" + hash + "::server:[0-9a-f]{64}$")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "server", "token")
			if tt.stored != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tt.stored), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := EnsureToken(path, ca, tt.want)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("EnsureToken err = %v, want it to contain %q", err, tt.wantErr)
				}
				for _, secret := range []string{"old", "other", "abc", "Edge-Gateway"} {
					if strings.Contains(err.Error(), ":"+secret) || strings.HasSuffix(err.Error(), secret) {
						t.Errorf("error %q may reveal a secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("EnsureToken: %v", err)
			}
			if tt.wantTok == "" && !generated.MatchString(got) || tt.wantTok != "" && got != tt.wantTok {
				t.Errorf("EnsureToken = %q, want %q", got, tt.wantTok)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != got {
				t.Errorf("file holds %q, want %q", data, got)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Errorf("mode = %o, want 600", fi.Mode().Perm())
			}
			again, err := EnsureToken(path, ca, "")
			if err != nil || again != got {
				t.Errorf("second EnsureToken = %q, %v; want %q", again, err, got)
			}
		})
	}
}

func TestBootstrapToken(t *testing.T) {
	tok := BootstrapToken("s3cret")
	if !regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`).MatchString(tok) {
		t.Fatalf("BootstrapToken = %q, not a Kubernetes bootstrap token", tok)
	}
	if BootstrapToken("s3cret") != tok {
		t.Error("BootstrapToken is not deterministic")
	}
	if BootstrapToken("other") == tok {
		t.Error("different secrets give the same bootstrap token")
	}
	if strings.Contains(tok, "s3cret") {
		t.Error("bootstrap token contains the secret")
	}
	if got := BootstrapToken("abcdef.0123456789abcdef"); got != "abcdef.0123456789abcdef" {
		t.Errorf("a bootstrap token (edgek token create) became %q", got)
	}
}

func TestCheckStrength(t *testing.T) {
	for _, tt := range []struct {
		secret string
		ok     bool
	}{
		{"3f8a1c9e7b2d4f60a5c8e1b3d7f9024c", true},  // hex digits, as edgek makes
		{"abcdef.0123456789abcdef", true},           // a bootstrap token
		{"Edge-Gateway-7-Berlin", true},             // 21 of all kinds
		{"Kx9mP2qR7vL4tW8z", true},                  // 16 of upper, lower case and digits
		{"correcthorsebattery", true},               // 19 lower-case letters
		{"abc", false},                              // short
		{"passwordpassword", false},                 // 16 lower-case letters: 75 bits
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}, // one character
		{"12341234123412341234123412341234", false}, // 4 different characters
	} {
		err := CheckStrength(tt.secret)
		if (err == nil) != tt.ok {
			t.Errorf("CheckStrength(%q) = %v, want ok %v", tt.secret, err, tt.ok)
		}
	}
}

func TestRotateToken(t *testing.T) {
	ca, hash := testCA(t)
	path := filepath.Join(t.TempDir(), "token")
	if _, _, err := RotateToken(path, ca, ""); err == nil || !strings.Contains(err.Error(), "no token in") {
		t.Errorf("rotate without a token: %v", err)
	}
	first, err := EnsureToken(path, ca, "")
	if err != nil {
		t.Fatal(err)
	}
	_, firstSecret, _ := ParseToken(first)
	full, old, err := RotateToken(path, ca, "")
	if err != nil || old != firstSecret || full == first || !strings.HasPrefix(full, "K10"+hash+"::server:") {
		t.Fatalf("RotateToken = %q, old %q, %v", full, old, err)
	}
	if got, _ := EnsureToken(path, ca, ""); got != full {
		t.Errorf("stored token after rotate = %q, want %q", got, full)
	}
	for _, bad := range []struct{ secret, want string }{{"abc", "too weak"}, {full, "is the current one"}} {
		if _, _, err := RotateToken(path, ca, bad.secret); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("RotateToken(%q): %v, want %q", bad.secret, err, bad.want)
		}
	}
	if full, _, err := RotateToken(path, ca, "Edge-Gateway-7-Berlin"); err != nil || full != "K10"+hash+"::server:Edge-Gateway-7-Berlin" {
		t.Errorf("RotateToken to a chosen secret = %q, %v", full, err)
	}
}
