package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"path/filepath"
	"time"

	"github.com/edgek-io/edgek/pkg/fsutil"
)

// File base names of the CAs.
const (
	serverCAName        = "server-ca"
	clientCAName        = "client-ca"
	requestHeaderCAName = "request-header-ca"
	kubeletCAName       = "kubelet-ca"
)

// Validity periods.
const (
	caValidityYears = 10
	leafValidity    = 365 * 24 * time.Hour
	// NotBefore is always the Unix epoch and NotAfter is counted from the clock's floor:
	// see clock.go.
)

// RenewBefore is how long before its expiry a leaf certificate edgek signs is renewed: at
// start, and by the hourly check while edgek runs (pkg/certwatch).
const RenewBefore = 90 * 24 * time.Hour

// WarnBefore is how long before any certificate expires edgek warns, in its log and with an
// Event on the node: a leaf still that close to expiry was not renewed, and a CA is never
// renewed by itself.
const WarnBefore = 30 * 24 * time.Hour

// authority is a loaded CA.
type authority struct {
	cert              *x509.Certificate
	key               crypto.Signer
	certPath, keyPath string
}

// ServerCAFile is the server CA certificate in a server's TLS dir (the one join tokens pin).
func ServerCAFile(dir string) string {
	cert, _ := pairPaths(dir, serverCAName)
	return cert
}

// pairPaths returns the cert and key path of name in dir.
func pairPaths(dir, name string) (cert, key string) {
	return filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
}

// checkCAPairs fails if any CA has its cert or its key but not both: a new CA
// would break every client that trusts the old one, so a human must decide.
func checkCAPairs(dir string, names ...string) error {
	var errs []error
	for _, name := range names {
		certPath, keyPath := pairPaths(dir, name)
		haveCert, err := fileExists(certPath)
		if err != nil {
			return err
		}
		haveKey, err := fileExists(keyPath)
		if err != nil {
			return err
		}
		switch {
		case haveCert && !haveKey:
			errs = append(errs, fmt.Errorf("CA %s: %s is missing while %s exists; restore it, or remove both to create a new CA", name, keyPath, certPath))
		case haveKey && !haveCert:
			errs = append(errs, fmt.Errorf("CA %s: %s is missing while %s exists; restore it, or remove both to create a new CA", name, certPath, keyPath))
		}
	}
	return errors.Join(errs...)
}

// ensureCA loads CA name from dir, or creates it if neither file exists.
func ensureCA(dir, name string, c clock) (*authority, error) {
	if err := checkCAPairs(dir, name); err != nil {
		return nil, err
	}
	certPath, keyPath := pairPaths(dir, name)
	exists, err := fileExists(certPath)
	if err != nil {
		return nil, err
	}
	if exists {
		return loadCA(certPath, keyPath)
	}
	return createCA(name, certPath, keyPath, c)
}

func loadCA(certPath, keyPath string) (*authority, error) {
	certPEM, err := readOptional(certPath)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA %s: %w", certPath, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("load CA %s: certificate is not a CA", certPath)
	}
	keyPEM, err := readOptional(keyPath)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA key %s: %w", keyPath, err)
	}
	if !keyMatches(cert.PublicKey, key) {
		return nil, fmt.Errorf("load CA: key %s does not match certificate %s", keyPath, certPath)
	}
	return &authority{cert: cert, key: key, certPath: certPath, keyPath: keyPath}, nil
}

// createCA writes a new self-signed CA. The key is written first: a crash in
// between leaves a key without cert, which checkCAPairs reports.
func createCA(name, certPath, keyPath string, c clock) (*authority, error) {
	key, err := newECKey()
	if err != nil {
		return nil, fmt.Errorf("create CA %s: %w", name, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("create CA %s: %w", name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("edgek-%s@%d", name, c.at().Unix())},
		NotBefore:             notBefore,
		NotAfter:              c.at().AddDate(caValidityYears, 0, 0).UTC(),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA %s: sign: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("create CA %s: %w", name, err)
	}
	if err := writeKey(keyPath, key); err != nil {
		return nil, fmt.Errorf("create CA %s: %w", name, err)
	}
	if err := fsutil.WriteFileAtomic(certPath, encodeCert(der), certMode); err != nil {
		return nil, fmt.Errorf("create CA %s: %w", name, err)
	}
	return &authority{cert: cert, key: key, certPath: certPath, keyPath: keyPath}, nil
}

func newECKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ECDSA P-256 key: %w", err)
	}
	return key, nil
}

// randomSerial returns a random positive serial number of up to 128 bits.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	limit.Sub(limit, big.NewInt(1))
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("generate serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func writeKey(path string, key crypto.Signer) error {
	data, err := encodeKey(key)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return fsutil.WriteFileAtomic(path, data, keyMode)
}

// warnCAClock warns when a CA does not cover the current clock: made by an edgek that
// dated it from the wall clock (NotBefore after a clock that went back), or expired.
// A CA is never replaced on its own (every client trusts it), so TLS fails until the
// clock is set or the CA is rotated by hand.
func warnCAClock(a *authority, c clock, log *slog.Logger) {
	switch {
	case c.now.Before(a.cert.NotBefore):
		log.Warn("the system clock is earlier than the start of a CA's validity: connections fail until the clock is set (enable NTP or date -s)",
			"ca", a.certPath, "not-before", a.cert.NotBefore, "clock", c.now.UTC())
	case c.at().After(a.cert.NotAfter):
		log.Error("a CA has expired: every certificate it signed is rejected; create new CAs (remove the data dir's tls directory, then re-join agents)",
			"ca", a.certPath, "not-after", a.cert.NotAfter, "clock", c.now.UTC())
	}
}
