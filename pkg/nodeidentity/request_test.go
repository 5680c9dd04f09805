package nodeidentity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tls", "node-identity.key")
	first, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	again, err := LoadOrCreateKey(path)
	if err != nil || !again.Equal(first) {
		t.Fatalf("the key changed between starts (%v)", err)
	}
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "remove it to make a new one") {
		t.Errorf("a broken key file: %v, want an error that says what to do", err)
	}
}
