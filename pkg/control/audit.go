package control

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/edgek-io/edgek/pkg/fsutil"
)

// DefaultAuditPolicy is the audit policy --audit-log uses unless the user's own file is
// there: who did what, with the request body of changes, never the content of Secrets,
// ConfigMaps or tokens, and without the steady chatter of nodes and control-plane components
// (leases, status updates, their reads), which would write to an SD card all day.
const DefaultAuditPolicy = `# Written by edgek for --audit-log when missing; edit it, edgek keeps your version.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  # Heartbeats and health checks.
  - level: None
    resources: [{group: coordination.k8s.io, resources: [leases]}]
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version", "/metrics"]
  - level: None
    resources: [{group: "", resources: [events]}, {group: events.k8s.io, resources: [events]}]
  # Nodes reporting their status, and the reads of nodes and control-plane components.
  - level: None
    userGroups: ["system:nodes"]
    verbs: [get, list, watch]
  - level: None
    userGroups: ["system:nodes"]
    resources: [{group: "", resources: [nodes/status, pods/status]}]
  - level: None
    users: ["system:kube-proxy", "system:kube-scheduler", "system:kube-controller-manager", "system:apiserver"]
    verbs: [get, list, watch]
  - level: None
    userGroups: ["system:serviceaccounts:kube-system"]
    verbs: [get, list, watch]
  # Secrets, ConfigMaps and tokens: who and what, never the content.
  - level: Metadata
    resources:
      - {group: "", resources: [secrets, configmaps, serviceaccounts/token]}
      - {group: authentication.k8s.io, resources: [tokenreviews]}
      - {group: certificates.k8s.io, resources: [certificatesigningrequests]}
  # Changes: with the request body.
  - level: Request
    verbs: [create, update, patch, delete, deletecollection]
  # The rest (reads by users, exec, logs): who and what.
  - level: Metadata
`

// EnsureAuditPolicy writes DefaultAuditPolicy to path unless a file is there.
func EnsureAuditPolicy(path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := fsutil.WriteFileAtomic(path, []byte(DefaultAuditPolicy), 0o600); err != nil {
		return fmt.Errorf("write audit policy: %w", err)
	}
	return nil
}
