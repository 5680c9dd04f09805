package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// Token format, K3s compatible: K10<sha256 hex of the CA cert file>::<user>:<secret>.
const (
	tokenPrefix      = "K10"
	tokenUser        = "server"
	tokenSecretBytes = 32
)

// FullToken returns the K3s-compatible full token
// "K10" + hex(sha256(CA cert file)) + "::server:" + secret.
func FullToken(caCertFile, secret string) (string, error) {
	if err := checkSecret(secret); err != nil {
		return "", err
	}
	hash, err := caHash(caCertFile)
	if err != nil {
		return "", err
	}
	return tokenPrefix + hash + "::" + tokenUser + ":" + secret, nil
}

// ParseToken splits a token. A full token "K10<hash>::<user>:<secret>" (any
// user) returns its lower-cased CA hash and secret; a token without the "K10"
// prefix is a bare secret and returns ("", token). Errors never quote the
// token.
func ParseToken(token string) (caHash, secret string, err error) {
	if token == "" {
		return "", "", errors.New("token is empty")
	}
	if !strings.HasPrefix(token, tokenPrefix) {
		return "", token, nil
	}
	hash, creds, ok := strings.Cut(strings.TrimPrefix(token, tokenPrefix), "::")
	if !ok {
		return "", "", errors.New(`malformed token: "K10" prefix but no "::<user>:<secret>" part`)
	}
	if len(hash) != 2*sha256.Size {
		return "", "", fmt.Errorf("malformed token: CA hash has %d characters, want %d", len(hash), 2*sha256.Size)
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return "", "", errors.New("malformed token: CA hash is not hex")
	}
	_, secret, ok = strings.Cut(creds, ":")
	if !ok || secret == "" {
		return "", "", errors.New(`malformed token: want "::<user>:<secret>" after the CA hash`)
	}
	return strings.ToLower(hash), secret, nil
}

// EnsureToken returns the full token stored at path, creating it if missing.
// A stored token is kept; if want is given its secret must match the stored
// one. A new token uses want's secret, or 32 random bytes in hex if want is
// empty, and is written 0600. A full want must carry caCertFile's hash. The
// stored file is rewritten (same secret) if it is not the current full token.
func EnsureToken(path, caCertFile, want string) (string, error) {
	var wantSecret string
	if want != "" {
		hash, secret, err := ParseToken(want)
		if err != nil {
			return "", fmt.Errorf("token given: %w", err)
		}
		if err := checkCAHash(caCertFile, hash); err != nil {
			return "", fmt.Errorf("token given: %w", err)
		}
		wantSecret = secret
	}
	secret, err := storedSecret(path)
	if err != nil {
		return "", err
	}
	switch {
	case secret != "" && wantSecret != "" && secret != wantSecret:
		return "", fmt.Errorf("token given differs from the token stored in %s; pass the stored token or remove the file", path)
	case secret == "" && wantSecret != "":
		secret = wantSecret
	case secret == "":
		if secret, err = randomSecret(); err != nil {
			return "", err
		}
	}
	full, err := FullToken(caCertFile, secret)
	if err != nil {
		return "", err
	}
	if err := writeTokenFile(path, full); err != nil {
		return "", err
	}
	return full, nil
}

// storedSecret returns the secret of the token at path, or "" if none.
func storedSecret(path string) (string, error) {
	data, err := readOptional(path)
	if err != nil || data == nil {
		return "", err
	}
	_, secret, err := ParseToken(strings.TrimSpace(string(data)))
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return secret, nil
}

// writeTokenFile writes full to path 0600 unless it already holds exactly that.
func writeTokenFile(path, full string) error {
	data, err := readOptional(path)
	if err != nil {
		return err
	}
	if data != nil && strings.TrimSpace(string(data)) == full {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() == keyMode {
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write token: %w", err)
	}
	if err := writeFileAtomic(path, []byte(full), keyMode); err != nil {
		return fmt.Errorf("write token: %w", err)
	}
	return nil
}

func caHash(caCertFile string) (string, error) {
	data, err := os.ReadFile(caCertFile)
	if err != nil {
		return "", fmt.Errorf("hash CA cert: %w", err)
	}
	norm, err := NormalizeCertsPEM(data)
	if err != nil {
		return "", fmt.Errorf("hash CA cert %s: %w", caCertFile, err)
	}
	return CAHashPEM(norm), nil
}

// NormalizeCertsPEM re-encodes the CERTIFICATE blocks of data, in order, without anything
// else (comments, other blocks, CRLF line ends). The token's CA hash is taken over this form,
// which an agent rebuilds from the certificates the server presents; for a CA file edgek
// wrote it is the file itself, as in K3s.
func NormalizeCertsPEM(data []byte) ([]byte, error) {
	var out []byte
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes})...)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

// checkCAHash fails if hash is set and is not the hash of caCertFile.
func checkCAHash(caCertFile, hash string) error {
	if hash == "" {
		return nil
	}
	want, err := caHash(caCertFile)
	if err != nil {
		return err
	}
	if !strings.EqualFold(hash, want) {
		return fmt.Errorf("CA hash does not match %s", caCertFile)
	}
	return nil
}

// checkSecret rejects secrets that would not survive a round trip through a
// token file. The secret itself is never quoted.
func checkSecret(secret string) error {
	if secret == "" {
		return errors.New("token secret is empty")
	}
	if strings.ContainsFunc(secret, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return errors.New("token secret contains whitespace or control characters")
	}
	return nil
}

func randomSecret() (string, error) {
	b := make([]byte, tokenSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// BootstrapToken derives the Kubernetes bootstrap token ("<id>.<secret>", 6 and 16
// characters of [a-f0-9]) that agents holding the join secret authenticate with. Server
// and agent derive it alike, so the join secret itself never crosses the network.
func BootstrapToken(secret string) string {
	sum := sha256.Sum256([]byte("edgek-bootstrap-token:" + secret))
	h := hex.EncodeToString(sum[:])
	return h[:6] + "." + h[6:22]
}

// CAHashPEM is the token's CA hash of CA certificates in NormalizeCertsPEM form.
func CAHashPEM(pemData []byte) string {
	sum := sha256.Sum256(pemData)
	return hex.EncodeToString(sum[:])
}
