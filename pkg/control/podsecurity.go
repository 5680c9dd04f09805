package control

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgek-io/edgek/pkg/fsutil"
)

// PodSecurityConfig is the apiserver's admission configuration for --pod-security LEVEL: the
// PodSecurity admission plugin enforces, audits and warns about LEVEL in every namespace
// that does not set its own pod-security.kubernetes.io labels, except kube-system (system
// components and node-level addons need host access there).
func PodSecurityConfig(level string) string {
	return fmt.Sprintf(`# Written by edgek for --pod-security at every start: edits are lost. For another policy,
# pass your own file with --kube-apiserver-arg admission-control-config-file=PATH instead.
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults:
        enforce: %[1]q
        enforce-version: latest
        audit: %[1]q
        audit-version: latest
        warn: %[1]q
        warn-version: latest
      exemptions:
        usernames: []
        runtimeClasses: []
        namespaces: [kube-system]
`, level)
}

// WritePodSecurity writes PodSecurityConfig(level) to path unless it holds it already.
func WritePodSecurity(path, level string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := fsutil.WriteFileIfChanged(path, []byte(PodSecurityConfig(level)), 0o600); err != nil {
		return fmt.Errorf("write the pod security admission config: %w", err)
	}
	return nil
}
