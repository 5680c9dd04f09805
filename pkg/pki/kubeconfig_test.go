package pki

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
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

func TestWriteKubeconfigFilesNamesTheFilesAndSkipsUnchanged(t *testing.T) {
	b := mustEnsure(t, testOptions(t))
	path := filepath.Join(t.TempDir(), "cred", "scheduler.kubeconfig")
	if err := WriteKubeconfigFiles(path, "https://127.0.0.1:6443", b.ServerCACert, b.Scheduler, 0o600); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := kubeconfigField(t, string(content), "client-certificate"); got != strconv.Quote(b.Scheduler.Cert) {
		t.Errorf("client-certificate = %s, want %q", got, b.Scheduler.Cert)
	}
	if got := kubeconfigField(t, string(content), "client-key"); got != strconv.Quote(b.Scheduler.Key) {
		t.Errorf("client-key = %s, want %q", got, b.Scheduler.Key)
	}
	if strings.Contains(string(content), "client-certificate-data") {
		t.Error("the certificate is embedded")
	}
	// client-go loads it, with the files.
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CertFile != b.Scheduler.Cert || cfg.KeyFile != b.Scheduler.Key || len(cfg.CAData) == 0 {
		t.Errorf("client-go config: cert %q key %q CA %d bytes", cfg.CertFile, cfg.KeyFile, len(cfg.CAData))
	}

	// Unchanged: not written again (the hourly renewal check must not wear an SD card).
	before, _ := os.Stat(path)
	time.Sleep(10 * time.Millisecond)
	if err := WriteKubeconfigFiles(path, "https://127.0.0.1:6443", b.ServerCACert, b.Scheduler, 0o600); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
		t.Error("an unchanged kubeconfig was written again")
	}

	if err := WriteKubeconfigFiles(path, "https://127.0.0.1:6443", b.ServerCACert, CertPair{Cert: "/nonexistent.crt", Key: b.Scheduler.Key}, 0o600); err == nil {
		t.Error("a missing certificate file was accepted")
	}
}
