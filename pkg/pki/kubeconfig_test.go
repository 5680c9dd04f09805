package pki

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kubeconfigField returns the value of the first "key: value" line.
func kubeconfigField(t *testing.T, content, key string) string {
	t.Helper()
	for line := range strings.Lines(content) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+": "); ok {
			return v
		}
	}
	t.Fatalf("kubeconfig has no %q", key)
	return ""
}

func TestWriteKubeconfig(t *testing.T) {
	b := mustEnsure(t, testOptions(t))
	tests := []struct {
		name     string
		existing os.FileMode // 0: file does not exist yet
		mode     os.FileMode
	}{
		{"new admin kubeconfig", 0, 0o600},
		{"new world-readable", 0, 0o644},
		{"existing file gets mode", 0o644, 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cred", "admin.kubeconfig")
			if tt.existing != 0 {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte("old"), tt.existing); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteKubeconfig(path, "https://127.0.0.1:6443", b.ServerCACert, b.Admin, tt.mode); err != nil {
				t.Fatalf("WriteKubeconfig: %v", err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.mode {
				t.Errorf("mode = %o, want %o", fi.Mode().Perm(), tt.mode)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			content := string(data)
			for key, want := range map[string]string{
				"server":          `"https://127.0.0.1:6443"`,
				"current-context": "default",
				"kind":            "Config",
			} {
				if got := kubeconfigField(t, content, key); got != want {
					t.Errorf("%s = %s, want %s", key, got, want)
				}
			}
			for key, file := range map[string]string{
				"certificate-authority-data": b.ServerCACert,
				"client-certificate-data":    b.Admin.Cert,
				"client-key-data":            b.Admin.Key,
			} {
				got, err := base64.StdEncoding.DecodeString(kubeconfigField(t, content, key))
				if err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(want) {
					t.Errorf("%s does not decode to %s", key, filepath.Base(file))
				}
			}
		})
	}
}

func TestWriteKubeconfigErrors(t *testing.T) {
	b := mustEnsure(t, testOptions(t))
	tests := []struct {
		name, server, ca string
	}{
		{"http URL", "http://127.0.0.1:6443", b.ServerCACert},
		{"no host", "https://", b.ServerCACert},
		{"missing CA file", "https://127.0.0.1:6443", filepath.Join(t.TempDir(), "nope.crt")},
		{"CA file not PEM", "https://127.0.0.1:6443", b.ServerCACert + ".txt"},
	}
	if err := os.WriteFile(b.ServerCACert+".txt", []byte("not pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.kubeconfig")
			if err := WriteKubeconfig(path, tt.server, tt.ca, b.Admin, 0o600); err == nil {
				t.Fatal("WriteKubeconfig succeeded, want error")
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("kubeconfig written despite error")
			}
		})
	}
}
