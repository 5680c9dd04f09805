// Package certcmd implements `edgek certificate check` and `edgek certificate rotate`, as
// K3s users know them: list the certificates of a data dir with their expiry, and make the
// next start issue new leaf certificates. CAs and the service-account key are never touched:
// replacing them would invalidate every client and token that trusts them.
package certcmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/pkg/preflight"
)

// tlsDirs are the certificate dirs of a data dir: the server's and the node's.
func tlsDirs(dataDir string) []string {
	return []string{(&config.Server{DataDir: dataDir}).TLSDir(), (&config.Agent{DataDir: dataDir}).TLSDir()}
}

// Cert is one certificate file.
type Cert = pki.CertFile

// List returns the certificates in the data dir's TLS dirs (the first certificate of every
// .crt and .pem file), sorted by path.
func List(dataDir string) ([]Cert, error) { return pki.ListCerts(tlsDirs(dataDir)...) }

// Check prints the certificates of the data dir with their expiry. It fails when there are
// none, or when one has expired.
func Check(w io.Writer, dataDir string, now time.Time) error {
	certs, err := List(dataDir)
	if err != nil {
		return err
	}
	if len(certs) == 0 {
		return fmt.Errorf("no certificates in %s: has edgek run with this --data-dir?", strings.Join(tlsDirs(dataDir), " or "))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSUBJECT\tEXPIRES\tDAYS LEFT\tSTATUS")
	var expired, soon []string
	for _, c := range certs {
		left := c.NotAfter.Sub(now)
		rel, _ := filepath.Rel(dataDir, c.Path)
		status := "ok"
		switch {
		case left <= 0:
			status = "EXPIRED"
			expired = append(expired, rel)
		case c.IsCA && left < pki.WarnBefore:
			status = "EXPIRES SOON (CA: not renewed automatically)"
			soon = append(soon, rel)
		case c.IsCA:
			status = "ok (CA)"
		case left < pki.WarnBefore:
			status = "EXPIRES SOON (renewal overdue)"
			soon = append(soon, rel)
		case left < pki.RenewBefore:
			status = "due: renewed within the hour while edgek runs"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", rel, c.Subject, c.NotAfter.UTC().Format("2006-01-02"), int(left.Hours()/24), status)
	}
	tw.Flush()
	if len(soon) > 0 {
		fmt.Fprintf(w, "\nWARNING: %d certificate(s) expire within %d days: %s.\n%s\n", len(soon), int(pki.WarnBefore.Hours()/24),
			strings.Join(soon, ", "), soonAdvice)
	}
	if len(expired) > 0 {
		return fmt.Errorf("%d certificate(s) expired (%s): restart edgek to renew leaf certificates", len(expired), strings.Join(expired, ", "))
	}
	return nil
}

// soonAdvice is what to do about a certificate close to expiry.
const soonAdvice = `A leaf certificate is renewed 90 days before its expiry, by edgek while it runs (the server's
and its node's) or by the kubelet (a joined node's kubelet-*.pem): one this close was not;
see the edgek log ("certificate") and the node's Events. A CA lasts 10 years and is never
renewed by itself: replacing it means new certificates for every node (README: "Data dir,
certificates and token").`

// rotated reports whether a file in a TLS dir is a leaf certificate or key that the next
// start issues anew: client-*, serving-* (edgek's) and the kubelet's own kubelet-client-*, kubelet-server-*
// and kubelet.{crt,key}. Not the CAs, not the service-account key, not a joined node's copies
// of the server's CAs.
func rotated(name string) bool {
	for _, p := range []string{"client-*.crt", "client-*.key", "serving-*.crt", "serving-*.key", "kubelet-client-*.pem", "kubelet-server-*.pem", "kubelet.crt", "kubelet.key"} {
		if ok, _ := filepath.Match(p, name); ok && !strings.HasSuffix(name, "-ca.crt") && !strings.HasSuffix(name, "-ca.key") {
			return true
		}
	}
	return false
}

// Rotate moves the leaf certificates and keys of a stopped edgek's data dir into
// <tls-dir>-rotated-<time>/ (a backup), so that the next start issues new ones with new
// keys; a joined node's kubelet requests a new certificate with the join token. It refuses
// while edgek runs on the data dir. It returns the files moved.
func Rotate(dataDir string, now time.Time) ([]string, error) {
	for _, lock := range []struct{ path, what string }{
		{(&config.Server{DataDir: dataDir}).LockFile(), "edgek server"},
		{(&config.Agent{DataDir: dataDir}).LockFile(), "edgek agent or server"},
	} {
		if _, err := os.Stat(filepath.Dir(lock.path)); err != nil {
			continue
		}
		f, err := preflight.Lock(lock.path, lock.what, dataDir)
		if err != nil {
			return nil, fmt.Errorf("%w: stop it first (systemctl stop edgek, or edgek-agent), then rotate", err)
		}
		defer f.Close()
	}
	var moved []string
	stamp := now.UTC().Format("20060102T150405Z")
	for _, dir := range tlsDirs(dataDir) {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return moved, err
		}
		backup := dir + "-rotated-" + stamp
		for _, e := range entries {
			if e.IsDir() || !rotated(e.Name()) {
				continue
			}
			if err := os.MkdirAll(backup, 0o700); err != nil {
				return moved, err
			}
			if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(backup, e.Name())); err != nil {
				return moved, err
			}
			moved = append(moved, filepath.Join(dir, e.Name()))
		}
	}
	// A joined node's kubelet would go on with the kubeconfig that names the moved cert.
	a := &config.Agent{DataDir: dataDir}
	if _, err := os.Stat(a.NodeIdentityKey()); err == nil {
		if err := os.Remove(a.Kubeconfig("kubelet")); err == nil {
			moved = append(moved, a.Kubeconfig("kubelet"))
		}
	}
	if len(moved) == 0 {
		return nil, fmt.Errorf("no certificates to rotate in %s: has edgek run with this --data-dir?", strings.Join(tlsDirs(dataDir), " or "))
	}
	return moved, nil
}
