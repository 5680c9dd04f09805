package pki

import (
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testNow is the fixed "now" of the tests; testBuild the build time they run with.
var (
	testNow   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testBuild = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
)

func testOptions(t *testing.T) Options {
	t.Helper()
	return Options{
		Dir:           filepath.Join(t.TempDir(), "server", "tls"),
		SANs:          []string{"edge-1", "10.0.0.5", "127.0.0.1", "10.43.0.1"},
		ClusterDomain: "cluster.local",
		Now:           func() time.Time { return testNow },
		BuildTime:     testBuild,
	}
}

func mustEnsure(t *testing.T, opts Options) *Bundle {
	t.Helper()
	b, err := Ensure(opts)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return b
}

// snapshot returns the content of every file in dir by name, but the last-seen time.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string]string, len(entries))
	for _, e := range entries {
		if e.Name() == lastSeenFile {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(data)
	}
	return files
}

// changed returns the names whose content differs between a and b, and
// names present in only one of them.
func changed(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out[k] = true
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out[k] = true
		}
	}
	return out
}

func readCertFile(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := parseCert(data)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return cert
}

func readKeyFile(t *testing.T, path string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := parseKey(data)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return key
}
