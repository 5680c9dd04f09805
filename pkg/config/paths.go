package config

import (
	"os"
	"path/filepath"
	"strings"
)

// Paths inside the data dir. Everything edgek stores lives under DataDir.

// ServerDir is <data-dir>/server.
func (c *Server) ServerDir() string { return filepath.Join(c.DataDir, "server") }

// ManifestsDir holds the auto-deployed manifests: the bundled addons and the user's own.
func (c *Server) ManifestsDir() string { return filepath.Join(c.ServerDir(), "manifests") }

// TLSDir holds CAs, keys and certificates.
func (c *Server) TLSDir() string { return filepath.Join(c.ServerDir(), "tls") }

// CredDir holds the kubeconfigs of the control-plane components.
func (c *Server) CredDir() string { return filepath.Join(c.ServerDir(), "cred") }

// DBDir holds the SQLite database.
func (c *Server) DBDir() string { return filepath.Join(c.ServerDir(), "db") }

// DBFile is the SQLite database file.
func (c *Server) DBFile() string { return filepath.Join(c.DBDir(), "state.db") }

// KineSocket is the unix socket on which kine serves the etcd API.
func (c *Server) KineSocket() string { return filepath.Join(c.DBDir(), "kine.sock") }

// PodSecurityFile is the apiserver's admission configuration with --pod-security.
func (c *Server) PodSecurityFile() string {
	return filepath.Join(c.ServerDir(), "etc", "pod-security.yaml")
}

// AuditPolicyFile is the apiserver's audit policy with --audit-log.
func (c *Server) AuditPolicyFile() string {
	return filepath.Join(c.ServerDir(), "etc", "audit-policy.yaml")
}

// TokenFile holds the full join token.
func (c *Server) TokenFile() string { return filepath.Join(c.ServerDir(), "token") }

// LockFile is held while a server runs on this data dir.
func (c *Server) LockFile() string { return filepath.Join(c.ServerDir(), "edgek.lock") }

// Kubeconfig returns the path of a component's kubeconfig in CredDir.
func (c *Server) Kubeconfig(component string) string {
	return filepath.Join(c.CredDir(), component+".kubeconfig")
}

// KubectlDefault returns the kubeconfig `edgek kubectl` uses when neither --kubeconfig nor
// $KUBECONFIG (env) names one: def, if it exists; "" otherwise (kubectl's own default).
func KubectlDefault(args []string, env, def string) string {
	if env != "" {
		return ""
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig=") {
			return ""
		}
	}
	if _, err := os.Stat(def); err != nil {
		return ""
	}
	return def
}
