package testutil

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestWriteFile(t *testing.T) {
	root := t.TempDir()
	path := WriteFile(t, filepath.Join(root, "a", "b", "f"), "x")
	if got, err := os.ReadFile(path); err != nil || string(got) != "x" {
		t.Errorf("%s: %q, %v", path, got, err)
	}
	WriteFiles(t, root, map[string]string{"proc/cgroups": "c", "sys/x": ""})
	for _, rel := range []string{"proc/cgroups", "sys/x"} {
		if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
			t.Error(err)
		}
	}
}

func TestLogRecorder(t *testing.T) {
	var logs LogRecorder
	log := logs.Logger().With("component", "test")
	log.Debug("probe", "n", 1)
	log.Warn("disk almost full", "dir", "/var/lib/edgek")
	if n := logs.Count(`level=WARN msg="disk almost full"`, "component=test", "dir=/var/lib/edgek"); n != 1 {
		t.Errorf("Count = %d:\n%s", n, &logs)
	}
	if got := logs.Take(); !slices.Equal(got, []string{
		"level=DEBUG msg=probe component=test n=1",
		`level=WARN msg="disk almost full" component=test dir=/var/lib/edgek`,
	}) {
		t.Errorf("Take = %q", got)
	}
	if got := logs.Lines(); len(got) != 0 {
		t.Errorf("after Take: %q", got)
	}
	DiscardLogger().Error("dropped")
}

func TestSelfSigned(t *testing.T) {
	certPEM, keyPEM := SelfSigned(t, x509.Certificate{NotAfter: time.Now().Add(time.Hour)})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c := pair.Leaf
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil || c.SerialNumber.Int64() != 1 {
		t.Errorf("serial %v; signed by its own key: %v", c.SerialNumber, err)
	}
}
