package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgek-io/edgek/pkg/fsutil"
)

// leafSpec describes one leaf certificate.
type leafSpec struct {
	name   string // file base name, e.g. "client-admin"
	ca     *authority
	cn     string
	orgs   []string
	server bool // ServerAuth with SANs; otherwise ClientAuth
	dns    []string
	ips    []net.IP
}

func (s leafSpec) usage() x509.ExtKeyUsage {
	if s.server {
		return x509.ExtKeyUsageServerAuth
	}
	return x509.ExtKeyUsageClientAuth
}

// ensureLeaf reuses the leaf in dir if it is still good (see renewReason) and
// otherwise issues a new one, keeping the existing key if it parses.
func ensureLeaf(dir string, spec leafSpec, c clock, log *slog.Logger) (CertPair, error) {
	certPath, keyPath := pairPaths(dir, spec.name)
	pair := CertPair{Cert: certPath, Key: keyPath}
	keyPEM, err := readOptional(keyPath)
	if err != nil {
		return pair, fmt.Errorf("ensure %s: %w", spec.name, err)
	}
	certPEM, err := readOptional(certPath)
	if err != nil {
		return pair, fmt.Errorf("ensure %s: %w", spec.name, err)
	}
	key, err := parseKey(keyPEM)
	if err == nil {
		cert, err := parseCert(certPEM)
		if err != nil {
			log.Info("issuing certificate", "name", spec.name, "reason", "none or unreadable")
		} else if reason := renewReason(cert, key, spec, c); reason == "" {
			return pair, nil
		} else {
			log.Info("renewing certificate", "name", spec.name, "reason", reason)
		}
	} else {
		// Missing or unusable key: a leaf key is cheap to replace.
		if key, err = newECKey(); err != nil {
			return pair, fmt.Errorf("ensure %s: %w", spec.name, err)
		}
		if err := writeKey(keyPath, key); err != nil {
			return pair, fmt.Errorf("ensure %s: %w", spec.name, err)
		}
	}
	der, err := issueLeaf(spec, key, c)
	if err != nil {
		return pair, fmt.Errorf("ensure %s: %w", spec.name, err)
	}
	if err := fsutil.WriteFileAtomic(certPath, encodeCert(der), certMode); err != nil {
		return pair, fmt.Errorf("ensure %s: %w", spec.name, err)
	}
	return pair, nil
}

// renewReason says why cert must be reissued, or "" if it can be kept. Validity is judged
// at c.at(), so that a clock in the past neither renews good certificates nor renews them
// at every start.
func renewReason(cert *x509.Certificate, key crypto.Signer, spec leafSpec, c clock) string {
	if !keyMatches(cert.PublicKey, key) {
		return "key does not match certificate"
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       poolOf(spec.ca.cert),
		CurrentTime: c.at(),
		KeyUsages:   []x509.ExtKeyUsage{spec.usage()},
	})
	if err != nil {
		return "does not verify against its CA"
	}
	if cert.NotAfter.Sub(c.at()) < RenewBefore {
		return "expires soon"
	}
	if c.now.Before(cert.NotBefore) && !c.now.Before(spec.ca.cert.NotBefore) {
		// Made by an edgek that dated certificates from the wall clock; its replacement
		// starts at the epoch, so this happens once.
		return "not valid yet at the system clock"
	}
	if cert.Subject.CommonName != spec.cn || !sameSet(cert.Subject.Organization, spec.orgs) {
		return "subject differs"
	}
	if !hasAllSANs(cert, spec.dns, spec.ips) {
		return "lacks a requested SAN"
	}
	return ""
}

// issueLeaf signs a certificate for key as described by spec.
func issueLeaf(spec leafSpec, key crypto.Signer, c clock) ([]byte, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.cn, Organization: spec.orgs},
		NotBefore:             notBefore,
		NotAfter:              c.at().Add(leafValidity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{spec.usage()},
		BasicConstraintsValid: true,
		DNSNames:              spec.dns,
		IPAddresses:           spec.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, spec.ca.cert, key.Public(), spec.ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return der, nil
}

func poolOf(ca *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca)
	return p
}

// sameSet reports whether a and b hold the same strings, ignoring order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// writeChain writes <leaf>-chain.crt: the leaf certificate followed by its CA, rewritten
// whenever either changed.
func writeChain(dir, leafPath, caPath string) (string, error) {
	leaf, err := os.ReadFile(leafPath)
	if err != nil {
		return "", fmt.Errorf("certificate chain: %w", err)
	}
	ca, err := os.ReadFile(caPath)
	if err != nil {
		return "", fmt.Errorf("certificate chain: %w", err)
	}
	path := filepath.Join(dir, strings.TrimSuffix(filepath.Base(leafPath), ".crt")+"-chain.crt")
	want := append(append(bytes.TrimSpace(leaf), '\n'), ca...)
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, want) {
		return path, nil
	}
	if err := fsutil.WriteFileAtomic(path, want, certMode); err != nil {
		return "", fmt.Errorf("certificate chain: %w", err)
	}
	return path, nil
}
