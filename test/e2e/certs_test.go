//go:build e2e

package e2e

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCertificateRenewal: while edgek runs a pod, leaf certificates that come within their
// renewal window are renewed without a restart (the hourly check also runs soon after a
// certificate file changes, which is how this test brings them close to expiry): the
// apiserver serves its new certificate, the node stays Ready, logs and exec work, and the
// pod runs on untouched. A CA close to expiry, which edgek never renews by itself, is
// warned about in the log, with an Event on the node, and by `edgek certificate check`.
func TestCertificateRenewal(t *testing.T) {
	ns := newNetns(t)
	s := newServer(t, ns)
	s.start()
	s.mustKubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=120s")
	webBin := buildWebserver(t)
	dropImage(t, filepath.Join(s.dataDir, "agent", "images"), webBin)
	s.mustApply(webManifest)
	pods := waitWebPods(t, s, 2)
	podIP := strings.TrimSpace(s.mustKubectl("get", "pod", pods[0], "-o", "jsonpath={.status.podIP}"))
	containers := func() string {
		return s.mustKubectl("get", "pods", "-l", "app=web", "-o",
			`jsonpath={range .items[*]}{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}{"\n"}{end}`)
	}
	before := containers()

	serverTLS, nodeTLS := filepath.Join(s.dataDir, "server", "tls"), filepath.Join(s.dataDir, "agent", "tls")
	served := func() (time.Time, error) {
		out, err := ns.command(webBin, "cert", "127.0.0.1:6443").CombinedOutput()
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", out, err)
		}
		return time.Parse(time.RFC3339, strings.Fields(string(out))[0])
	}
	soon := time.Now().Add(10 * 24 * time.Hour)

	// The apiserver's serving certificate, 10 days from expiry.
	reissue(t, filepath.Join(serverTLS, "serving-kube-apiserver.crt"), filepath.Join(serverTLS, "server-ca"), soon)
	s.waitLog(60*time.Second, `msg="renewing certificate" component=pki name=serving-kube-apiserver reason="expires soon"`)
	eventually(t, 90*time.Second, "the apiserver serves its renewed certificate", func() error {
		notAfter, err := served()
		if err != nil {
			return err
		}
		if notAfter.Before(time.Now().Add(300 * 24 * time.Hour)) {
			return fmt.Errorf("served certificate expires %s", notAfter)
		}
		return nil
	})

	// The node's kubelet client certificate and the apiserver's client certificate for
	// kubelets, 10 days from expiry.
	reissue(t, filepath.Join(nodeTLS, "client-kubelet.crt"), filepath.Join(serverTLS, "client-ca"), soon)
	s.waitLog(60*time.Second, `msg="renewing certificate" component=pki name=client-kubelet reason="expires soon"`)
	reissue(t, filepath.Join(serverTLS, "client-kube-apiserver.crt"), filepath.Join(serverTLS, "client-ca"), soon)
	s.waitLog(60*time.Second, `msg="renewing certificate" component=pki name=client-kube-apiserver reason="expires soon"`)
	// The log line comes just before the new file is written (and synced).
	for _, f := range []string{filepath.Join(nodeTLS, "client-kubelet.crt"), filepath.Join(serverTLS, "client-kube-apiserver.crt")} {
		eventually(t, 10*time.Second, f+" renewed", func() error {
			if c := readCert(t, f); c.NotAfter.Before(time.Now().Add(300 * 24 * time.Hour)) {
				return fmt.Errorf("%s expires %s after the renewal", f, c.NotAfter)
			}
			return nil
		})
	}

	// The kubelet CA, 20 days from expiry (same key and subject: everything still verifies).
	reissue(t, filepath.Join(serverTLS, "kubelet-ca.crt"), filepath.Join(serverTLS, "kubelet-ca"), time.Now().Add(20*24*time.Hour))
	s.waitLog(60*time.Second, `msg="CA certificate kubelet-ca.crt expires in 19 days`)
	eventually(t, 30*time.Second, "a CertificateExpiring Event on the node", func() error {
		out, err := s.kubectl("get", "events", "-A", "--field-selector", "reason=CertificateExpiring",
			"-o", `jsonpath={range .items[*]}{.type} {.involvedObject.kind} {.message}{"\n"}{end}`)
		if err != nil || !strings.Contains(out, "Warning Node CA certificate kubelet-ca.crt expires in 19 days") {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	out, code, err := runEdgek(ns, time.Minute, "certificate", "check", "--data-dir", s.dataDir)
	if err != nil || code != 0 || !regexp.MustCompile(`server/tls/kubelet-ca\.crt +\S+ +\S+ +19 +EXPIRES SOON \(CA`).MatchString(out) ||
		!strings.Contains(out, "WARNING: 1 certificate(s) expire within 30 days: server/tls/kubelet-ca.crt") {
		t.Errorf("edgek certificate check: exit %d, %v:\n%s", code, err, out)
	}

	// Everything still works, and the pods were never touched.
	s.mustKubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=60s")
	// client-go closes its connections when it sees a new client certificate, and the
	// request that sees it first fails ("use of closed network connection"): retried.
	eventually(t, 30*time.Second, "kubectl logs after the renewals", func() error {
		if out, err := s.kubectl("logs", pods[0]); err != nil || !strings.Contains(out, "listening on :8080") {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	eventually(t, 30*time.Second, "kubectl exec after the renewals", func() error {
		if out, err := s.kubectl("exec", pods[0], "--", "/webserver", "get", "http://"+podIP+":8080/"); err != nil || !strings.HasPrefix(out, pods[0]) {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	getFromHost(t, ns, webBin, "http://"+podIP+":8080/", "")
	if after := containers(); after != before {
		t.Errorf("containers changed across the renewals:\nbefore:\n%safter:\n%s", before, after)
	}
	s.stop()
}

// reissue replaces the certificate at path with a copy that expires at notAfter, signed by
// the CA whose files are ca.crt and ca.key (for a CA, its own: same key and subject, so what
// it signed still verifies).
func reissue(t *testing.T, path, ca string, notAfter time.Time) {
	t.Helper()
	cert, caCert := readCert(t, path), readCert(t, ca+".crt")
	tmpl := *cert
	tmpl.NotAfter = notAfter
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	parent := caCert
	if cert.IsCA {
		parent = &tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, parent, cert.PublicKey, readKey(t, ca+".key"))
	if err != nil {
		t.Fatalf("re-sign %s: %v", path, err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".test")
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(readFile(t, path)))
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func readKey(t *testing.T, path string) crypto.Signer {
	t.Helper()
	block, _ := pem.Decode([]byte(readFile(t, path)))
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k.(crypto.Signer)
}
