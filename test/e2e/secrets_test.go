//go:build e2e

package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSecretsEncryption: with --secrets-encryption a Secret's value is not in the SQLite
// files (read directly, as from a stolen disk), nor is the key; Secrets stored before are
// rewritten and still read back; `edgek secrets-encrypt status` says so; and starting again
// without the flag is refused, not left unable to read the Secrets.
func TestSecretsEncryption(t *testing.T) {
	ns := newNetns(t)
	s := newServer(t, ns, "--disable-agent")
	const before, after = "edgek-e2e-canary-before-4f1b9c", "edgek-e2e-canary-after-8d2e7a"

	// Without encryption the value is in the file as it is: the check below means something.
	s.start()
	s.mustKubectl("create", "secret", "generic", "before", "--from-literal=v="+before)
	s.stop()
	if !dbContains(t, s, before) {
		t.Fatal("a plain-text Secret is not found in the SQLite files: this test's reading of them is broken")
	}

	s.args = append(s.args, "--secrets-encryption")
	s.start()
	s.waitLog(60*time.Second, `msg="rewrote the Secrets with the active encryption key"`)
	s.mustKubectl("create", "secret", "generic", "after", "--from-literal=v="+after)
	for name, want := range map[string]string{"before": before, "after": after} {
		got, err := base64.StdEncoding.DecodeString(s.mustKubectl("get", "secret", name, "-o", "jsonpath={.data.v}"))
		if err != nil || string(got) != want {
			t.Errorf("Secret %s reads back %q, %v; want %q", name, got, err, want)
		}
	}
	out, code, err := runEdgek(ns, time.Minute, "secrets-encrypt", "status", "--data-dir", s.dataDir)
	if err != nil || code != 0 || !strings.Contains(out, "Encryption: enabled") || !strings.Contains(out, "rewritten with the active key: yes") {
		t.Errorf("secrets-encrypt status: exit %d, %v:\n%s", code, err, out)
	}
	// Key rotation while the server runs: a new key, every Secret rewritten with it, the old
	// key removed.
	oldKey := activeKey(t, s)
	out, code, err = runEdgek(ns, 5*time.Minute, "secrets-encrypt", "rotate-keys", "--data-dir", s.dataDir)
	newKey := activeKey(t, s)
	if err != nil || code != 0 || newKey == oldKey || !regexp.MustCompile(`rewrote [1-9][0-9]* Secrets with `+newKey).MatchString(out) ||
		!strings.Contains(out, "removed 1 old key(s); the active key is "+newKey) {
		t.Errorf("secrets-encrypt rotate-keys: exit %d, %v, key %s → %s:\n%s", code, err, oldKey, newKey, out)
	}
	out, _, _ = runEdgek(ns, time.Minute, "secrets-encrypt", "status", "--data-dir", s.dataDir)
	if !strings.Contains(out, "Active key: "+newKey+"\nKeys: 1\n") || !strings.Contains(out, "rewritten with the active key: yes") {
		t.Errorf("status after the rotation:\n%s", out)
	}
	s.stop()
	if !dbContains(t, s, "k8s:enc:secretbox:v1:"+newKey+":") {
		t.Errorf("no Secret stored with the new key %s", newKey)
	}
	// Only the new key is left: a restart reads every Secret with it.
	s.start()
	for name, want := range map[string]string{"before": before, "after": after} {
		got, err := base64.StdEncoding.DecodeString(s.mustKubectl("get", "secret", name, "-o", "jsonpath={.data.v}"))
		if err != nil || string(got) != want {
			t.Errorf("after the rotation and a restart, Secret %s reads back %q, %v; want %q", name, got, err, want)
		}
	}
	if strings.Contains(readFile(t, s.logPath), `msg="rewrote the Secrets`) {
		t.Error("the restart rewrote the Secrets again: the rotation did not record its rewrite")
	}
	s.stop()
	if dbContains(t, s, after) {
		t.Error("with --secrets-encryption a Secret's value is in the SQLite files")
	}
	config := readFile(t, filepath.Join(s.dataDir, "server", "cred", "encryption-config.yaml"))
	_, key, _ := strings.Cut(config, "secret: ")
	key = strings.TrimSpace(strings.SplitN(key, "\n", 2)[0])
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 32 {
		t.Fatalf("no secretbox key in the config:\n%s", config)
	} else if dbContains(t, s, key) || dbContains(t, s, string(raw)) {
		t.Error("the encryption key is in the datastore")
	}

	// Without the flag the apiserver could not read them: refused, with the way out.
	s.args = s.args[:len(s.args)-1]
	out, code, err = runEdgek(ns, time.Minute, s.args...)
	if err != nil || code == 0 || !strings.Contains(lastLine(out), "start it with --secrets-encryption") {
		t.Errorf("restart without --secrets-encryption: exit %d, %v, want a refusal; output:\n%s", code, err, out)
	}
}

// dbContains reports whether the server's SQLite files (database, WAL) hold text.
func dbContains(t *testing.T, s *server, text string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(s.dataDir, "server", "db", "state.db*"))
	if len(files) == 0 {
		t.Fatal("no SQLite files")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(text)) {
			return true
		}
	}
	return false
}

// TestAuditLog: --audit-log writes who did what under the shipped policy: a Secret's
// creation by name but never its value, a change with its request body, and none of the
// nodes' and components' steady chatter (leases).
func TestAuditLog(t *testing.T) {
	ns := newNetns(t)
	path := filepath.Join(t.TempDir(), "audit", "audit.log")
	s := newServer(t, ns, "--disable-agent", "--audit-log", path)
	const canary = "edgek-e2e-audit-canary-77c1d0"
	s.start()
	s.mustKubectl("create", "secret", "generic", "audited", "--from-literal=v="+canary)
	s.mustKubectl("create", "namespace", "audited-ns")
	var log string
	eventually(t, 30*time.Second, "the Secret's and the namespace's creation in the audit log", func() error {
		log = readFile(t, path)
		var secret, namespace bool
		for _, l := range strings.Split(log, "\n") {
			if !strings.Contains(l, `"verb":"create"`) || !strings.Contains(l, `"stage":"ResponseComplete"`) {
				continue
			}
			secret = secret || strings.Contains(l, `"resource":"secrets"`) && strings.Contains(l, `"name":"audited"`) && !strings.Contains(l, "requestObject")
			namespace = namespace || strings.Contains(l, `"resource":"namespaces"`) && strings.Contains(l, `"requestObject"`)
		}
		if !secret || !namespace {
			return fmt.Errorf("secret at Metadata level %v, namespace with its body %v", secret, namespace)
		}
		return nil
	})
	if strings.Contains(log, canary) {
		t.Error("a Secret's value is in the audit log")
	}
	if strings.Contains(log, `"resource":"leases"`) {
		t.Error("leases (heartbeats) are in the audit log")
	}
	if !strings.Contains(readFile(t, filepath.Join(s.dataDir, "server", "etc", "audit-policy.yaml")), "kind: Policy") {
		t.Error("no default audit policy written")
	}
	s.stop()
}

// activeKey returns the name of the key that encrypts, from the server's config.
func activeKey(t *testing.T, s *server) string {
	t.Helper()
	config := readFile(t, filepath.Join(s.dataDir, "server", "cred", "encryption-config.yaml"))
	_, rest, ok := strings.Cut(config, "- name: ")
	if !ok {
		t.Fatalf("no key in the encryption config:\n%s", config)
	}
	return strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0])
}
