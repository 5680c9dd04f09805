package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// PEM block types.
const (
	blockCert      = "CERTIFICATE"
	blockECKey     = "EC PRIVATE KEY"
	blockRSAKey    = "RSA PRIVATE KEY"
	blockPKCS8Key  = "PRIVATE KEY"
	blockPublicKey = "PUBLIC KEY"
)

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: blockCert, Bytes: der})
}

// encodeKey PEM-encodes an ECDSA (SEC 1) or RSA (PKCS#1) private key.
func encodeKey(key crypto.Signer) ([]byte, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("marshal EC key: %w", err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: blockECKey, Bytes: der}), nil
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: blockRSAKey, Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	default:
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
}

func encodePublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: blockPublicKey, Bytes: der}), nil
}

// parseCert parses the first CERTIFICATE block of data.
func parseCert(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no CERTIFICATE PEM block")
		}
		if block.Type == blockCert {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// parseKey parses the first private key block of data (SEC 1, PKCS#1 or
// PKCS#8). Parse errors never include the key material.
func parseKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no private key PEM block")
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case blockECKey:
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case blockRSAKey:
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case blockPKCS8Key:
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", key)
		}
		return signer, nil
	}
}

// keyMatches reports whether key is the private half of pub.
func keyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	p, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	return ok && p.Equal(key.Public())
}
