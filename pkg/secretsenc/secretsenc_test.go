package secretsenc

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestEnsureKeysStatus(t *testing.T) {
	f := In(t.TempDir() + "/cred")
	var out bytes.Buffer
	if err := f.Status(&out); err != nil || !strings.Contains(out.String(), "Encryption: disabled") {
		t.Fatalf("status before: %q, %v", out.String(), err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	keys, err := f.Ensure(now)
	if err != nil || len(keys) != 1 || keys[0].Name != "edgek-20261203T120000Z" {
		t.Fatalf("Ensure = %+v, %v", keys, err)
	}
	if fi, err := os.Stat(f.Config); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, want mode 0600", err)
	}
	data, _ := os.ReadFile(f.Config)
	for _, w := range []string{"kind: EncryptionConfiguration", "- secrets", "secretbox:", "identity: {}", keys[0].Secret} {
		if !strings.Contains(string(data), w) {
			t.Errorf("config lacks %q:\n%s", w, data)
		}
	}
	// Kept across starts.
	again, err := f.Ensure(now.Add(time.Hour))
	if err != nil || len(again) != 1 || again[0] != keys[0] {
		t.Fatalf("second Ensure = %+v, %v; want the same key", again, err)
	}
	out.Reset()
	if err := f.Status(&out); err != nil || !strings.Contains(out.String(), "Active key: edgek-20261203T120000Z") ||
		!strings.Contains(out.String(), "rewritten with the active key: not yet") || strings.Contains(out.String(), keys[0].Secret) {
		t.Errorf("status: %q, %v (and never the key)", out.String(), err)
	}
	if err := f.SetRewritten(keys[0].Name); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := f.Status(&out); err != nil || !strings.Contains(out.String(), "rewritten with the active key: yes") {
		t.Errorf("status after the rewrite: %q, %v", out.String(), err)
	}
}

func TestKeysRejectsOtherConfigs(t *testing.T) {
	f := In(t.TempDir())
	for _, bad := range []string{
		"not: [yaml",
		"apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - identity: {}\n",
		"apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - secretbox:\n      keys:\n      - name: k\n        secret: c2hvcnQ=\n",
	} {
		if err := os.WriteFile(f.Config, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Keys(); err == nil || !strings.Contains(err.Error(), f.Config) {
			t.Errorf("Keys of %q: %v, want an error naming the file", bad, err)
		}
		if _, err := f.Ensure(time.Now()); err == nil {
			t.Errorf("Ensure replaced or accepted a config it cannot read: %q", bad)
		}
	}
}
