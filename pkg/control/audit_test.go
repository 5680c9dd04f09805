package control

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apiserver/pkg/audit/policy"
)

func TestDefaultAuditPolicy(t *testing.T) {
	if _, err := policy.LoadPolicyFromBytes([]byte(DefaultAuditPolicy)); err != nil {
		t.Fatalf("the apiserver refuses the default audit policy: %v", err)
	}
	path := filepath.Join(t.TempDir(), "etc", "audit-policy.yaml")
	if err := EnsureAuditPolicy(path); err != nil {
		t.Fatal(err)
	}
	// The user's edits are kept.
	if err := os.WriteFile(path, []byte("# mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := EnsureAuditPolicy(path); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "# mine\n" {
		t.Errorf("the user's policy was replaced: %q", got)
	}
}
