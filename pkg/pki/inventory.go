package pki

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CertFile is the first certificate of a file in a TLS dir.
type CertFile struct {
	Path     string
	Subject  string
	NotAfter time.Time
	IsCA     bool
}

// ListCerts returns the certificates of the given dirs (the first certificate of every .crt
// and .pem file but the *-chain.crt copies), sorted by path. A missing dir has none.
func ListCerts(dirs ...string) ([]CertFile, error) {
	var out []CertFile
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !(strings.HasSuffix(name, ".crt") || strings.HasSuffix(name, ".pem")) || strings.HasSuffix(name, "-chain.crt") {
				continue
			}
			path := filepath.Join(dir, name)
			data, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue // replaced meanwhile (a renewal's rename, the kubelet's rotation)
			}
			if err != nil {
				return nil, err
			}
			for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
				if block.Type != "CERTIFICATE" {
					continue
				}
				c, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
				out = append(out, CertFile{Path: path, Subject: c.Subject.CommonName, NotAfter: c.NotAfter, IsCA: c.IsCA})
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b CertFile) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}
