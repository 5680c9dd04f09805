package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"path/filepath"

	"github.com/edgek-io/edgek/pkg/fsutil"
)

const serviceAccountKeyBits = 2048

// ensureServiceAccountKey creates service.key (RSA, PKCS#1) once and keeps it
// forever: a new key would invalidate every issued service-account token, so
// an unreadable key is an error, never replaced. service.pub is derived from
// it and rewritten whenever it is missing or differs.
func ensureServiceAccountKey(dir string) (keyPath, pubPath string, err error) {
	keyPath, pubPath = filepath.Join(dir, "service.key"), filepath.Join(dir, "service.pub")
	keyPEM, err := readOptional(keyPath)
	if err != nil {
		return "", "", fmt.Errorf("service-account key: %w", err)
	}
	var pub any
	if keyPEM == nil {
		key, err := rsa.GenerateKey(rand.Reader, serviceAccountKeyBits)
		if err != nil {
			return "", "", fmt.Errorf("service-account key: generate: %w", err)
		}
		if err := writeKey(keyPath, key); err != nil {
			return "", "", fmt.Errorf("service-account key: %w", err)
		}
		pub = key.Public()
	} else {
		key, err := parseKey(keyPEM)
		if err != nil {
			return "", "", fmt.Errorf("service-account key %s: %w", keyPath, err)
		}
		pub = key.Public()
	}
	pubPEM, err := encodePublicKey(pub)
	if err != nil {
		return "", "", fmt.Errorf("service-account key: %w", err)
	}
	old, err := readOptional(pubPath)
	if err != nil {
		return "", "", fmt.Errorf("service-account key: %w", err)
	}
	if !bytes.Equal(old, pubPEM) {
		if err := fsutil.WriteFileAtomic(pubPath, pubPEM, certMode); err != nil {
			return "", "", fmt.Errorf("service-account key: %w", err)
		}
	}
	return keyPath, pubPath, nil
}
