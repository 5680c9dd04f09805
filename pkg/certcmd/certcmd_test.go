package certcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/pkg/preflight"
)

// dataDir makes a data dir holding a server's and its node's certificates.
func dataDir(t *testing.T) (string, *pki.Bundle) {
	t.Helper()
	dir := t.TempDir()
	b, err := pki.Ensure(pki.Options{Dir: filepath.Join(dir, "server", "tls"), SANs: []string{"127.0.0.1"}, ClusterDomain: "cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.EnsureNode(pki.NodeOptions{Dir: filepath.Join(dir, "agent", "tls"), Server: b, NodeName: "n1", SANs: []string{"n1"}}); err != nil {
		t.Fatal(err)
	}
	return dir, b
}

func TestCheck(t *testing.T) {
	dir, _ := dataDir(t)
	var out bytes.Buffer
	if err := Check(&out, dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"server/tls/server-ca.crt", "ok (CA)", "server/tls/serving-kube-apiserver.crt", "agent/tls/client-kubelet.crt", "system:node:n1"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("check output lacks %q:\n%s", w, out.String())
		}
	}
	if strings.Contains(out.String(), "-chain.crt") {
		t.Errorf("check lists the chain file:\n%s", out.String())
	}
	out.Reset()
	if err := Check(&out, dir, time.Now().Add(400*24*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("check in 400 days: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "EXPIRED") {
		t.Errorf("no EXPIRED status in 400 days:\n%s", out.String())
	}
	// 300 days on: leaves are due (renewed while edgek runs); 350 days on: overdue.
	out.Reset()
	if err := Check(&out, dir, time.Now().Add(300*24*time.Hour)); err != nil || !strings.Contains(out.String(), "due: renewed within the hour while edgek runs") ||
		strings.Contains(out.String(), "WARNING") {
		t.Errorf("check in 300 days: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := Check(&out, dir, time.Now().Add(350*24*time.Hour)); err != nil || !strings.Contains(out.String(), "EXPIRES SOON (renewal overdue)") ||
		!strings.Contains(out.String(), "expire within 30 days: agent/tls/client-kube-proxy.crt") {
		t.Errorf("check in 350 days: %v\n%s", err, out.String())
	}
	// CAs last 10 years; 20 days before that, they are flagged as such.
	out.Reset()
	Check(&out, dir, time.Now().AddDate(10, 0, -20))
	if !strings.Contains(out.String(), "EXPIRES SOON (CA: not renewed automatically)") {
		t.Errorf("check 20 days before the CAs expire:\n%s", out.String())
	}
	if err := Check(&out, t.TempDir(), time.Now()); err == nil || !strings.Contains(err.Error(), "no certificates") {
		t.Errorf("empty data dir: %v", err)
	}
}

func TestRotate(t *testing.T) {
	dir, b := dataDir(t)
	read := func(p string) string { d, _ := os.ReadFile(p); return string(d) }
	caBefore, saBefore := read(b.ServerCACert), read(b.ServiceAccountKey)
	servingBefore, servingKeyBefore := read(b.APIServerServingCert), read(b.APIServerServingKey)
	moved, err := Rotate(dir, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(moved, "\n")
	for _, w := range []string{"serving-kube-apiserver.crt", "serving-kube-apiserver.key", "client-admin.crt", "client-kubelet.key", "serving-kubelet.crt"} {
		if !strings.Contains(joined, w) {
			t.Errorf("%s not rotated; moved:\n%s", w, joined)
		}
	}
	for _, keep := range []string{"-ca.crt", "-ca.key", "service.key", "service.pub"} {
		if strings.Contains(joined, keep) {
			t.Errorf("rotate moved a %s file:\n%s", keep, joined)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "server", "tls-rotated-20261123T120000Z", "serving-kube-apiserver.crt")); err != nil {
		t.Errorf("no backup of the serving cert: %v", err)
	}
	b2, err := pki.Ensure(pki.Options{Dir: filepath.Join(dir, "server", "tls"), SANs: []string{"127.0.0.1"}, ClusterDomain: "cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	if read(b2.ServerCACert) != caBefore || read(b2.ServiceAccountKey) != saBefore {
		t.Error("the CA or the service-account key changed")
	}
	if read(b2.APIServerServingCert) == servingBefore || read(b2.APIServerServingKey) == servingKeyBefore {
		t.Error("the next start did not issue a new serving certificate and key")
	}
}

func TestRotateRefusesWhileRunning(t *testing.T) {
	dir, _ := dataDir(t)
	lock, err := preflight.Lock(filepath.Join(dir, "server", "edgek.lock"), "edgek server", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := Rotate(dir, time.Now()); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Errorf("rotate while the server runs: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "server", "tls", "serving-kube-apiserver.crt")); err != nil {
		t.Errorf("the refused rotation moved files: %v", err)
	}
}
