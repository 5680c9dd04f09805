package agent

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/test/testutil"
)

// writeKubeletCert writes a self-signed kubelet client certificate valid from notBefore to
// notAfter where the kubelet keeps it.
func writeKubeletCert(t *testing.T, a *config.Agent, notBefore, notAfter time.Time) {
	t.Helper()
	cert, key := testutil.SelfSigned(t, x509.Certificate{Subject: pkix.Name{CommonName: "system:node:pi-1"}, NotBefore: notBefore, NotAfter: notAfter})
	if err := os.MkdirAll(a.TLSDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFileMode(t, kubeletClientCert(a), string(cert)+string(key), 0o600)
}

// A board without RTC boots at 1970 with a certificate the server signed in 2026: the node
// keeps it (the server judges it by its own clock) and warns about the clock.
func TestCurrentKubeletCertClockBehind(t *testing.T) {
	a := &config.Agent{DataDir: t.TempDir()}
	signed := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	writeKubeletCert(t, a, signed.Add(-5*time.Minute), signed.AddDate(1, 0, 0))
	boot := time.Unix(42, 0)
	cert, err := currentKubeletCert(a, boot)
	if err != nil {
		t.Fatalf("clock at 1970: %v", err)
	}
	var logs bytes.Buffer
	warnClockBehind(cert.Leaf, boot, slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), "clock is wrong") {
		t.Errorf("no warning about the clock: %q", logs.String())
	}
	logs.Reset()
	warnClockBehind(cert.Leaf, signed, slog.New(slog.NewTextHandler(&logs, nil)))
	if logs.Len() != 0 {
		t.Errorf("warned with a right clock: %q", logs.String())
	}
	if _, err := currentKubeletCert(a, signed.AddDate(1, 0, 1)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired certificate accepted (err %v)", err)
	}
}
