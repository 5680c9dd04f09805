package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/edgek-io/edgek/pkg/fsutil"
)

// Token format, K3s compatible: K10<sha256 hex of the CA cert file>::<user>:<secret>.
const (
	tokenPrefix      = "K10"
	tokenUser        = "server"
	tokenSecretBytes = 32
)

// FullToken returns the K3s-compatible full token
// "K10" + hex(sha256(CA cert file)) + "::server:" + secret, or "::<id>.<secret>" for a
// bootstrap token (edgek token create).
func FullToken(caCertFile, secret string) (string, error) {
	if err := checkSecret(secret); err != nil {
		return "", err
	}
	hash, err := caHash(caCertFile)
	if err != nil {
		return "", err
	}
	if IsBootstrapToken(secret) {
		return tokenPrefix + hash + "::" + secret, nil
	}
	return tokenPrefix + hash + "::" + tokenUser + ":" + secret, nil
}

// bootstrapTokenRE is the form of a Kubernetes bootstrap token: "<id>.<secret>".
var bootstrapTokenRE = regexp.MustCompile(`\A[a-z0-9]{6}\.[a-z0-9]{16}\z`)

// IsBootstrapToken reports whether secret is a Kubernetes bootstrap token ("<id>.<secret>",
// 6 and 16 characters of [a-z0-9]), as `edgek token create` makes.
func IsBootstrapToken(secret string) bool { return bootstrapTokenRE.MatchString(secret) }

// ParseToken splits a token. A full token "K10<hash>::<user>:<secret>" (any
// user) or "K10<hash>::<id>.<secret>" (a bootstrap token) returns its lower-cased CA hash
// and secret; a token without the "K10" prefix is a bare secret and returns ("", token).
// Errors never quote the token.
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
	if IsBootstrapToken(creds) {
		return strings.ToLower(hash), creds, nil
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
	secret, err := StoredSecret(path)
	if err != nil {
		return "", err
	}
	switch {
	case secret != "" && wantSecret != "" && secret != wantSecret:
		return "", fmt.Errorf("token given differs from the token stored in %s; pass the stored token or remove the file", path)
	case secret == "" && wantSecret != "":
		if err := CheckStrength(wantSecret); err != nil {
			return "", fmt.Errorf("token given: %w", err)
		}
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

// StoredSecret returns the secret of the token stored at path, or "" if there is none. It
// writes nothing.
func StoredSecret(path string) (string, error) {
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
	if err := fsutil.WriteFileAtomic(path, []byte(full), keyMode); err != nil {
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

// Strength rule for a token secret a user chooses.
const (
	minSecretBits     = 80
	minDistinctSecret = 8
)

// CheckStrength refuses a secret a user chose that is easy to guess: it needs about 80 bits
// as counted by its length and the kinds of characters in it, and 8 different characters.
func CheckStrength(secret string) error {
	if err := checkSecret(secret); err != nil {
		return err
	}
	var lower, upper, digit, other bool
	distinct := map[rune]bool{}
	for _, r := range secret {
		distinct[r] = true
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			other = true
		}
	}
	alphabet := 0
	for _, c := range []struct {
		in   bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}} {
		if c.in {
			alphabet += c.size
		}
	}
	bits := float64(utf8.RuneCountInString(secret)) * math.Log2(float64(alphabet))
	if bits < minSecretBits || len(distinct) < minDistinctSecret {
		return fmt.Errorf("token secret is too weak: it needs %d bits (length × log2 of the kinds of characters used: e.g. 16 characters mixing upper and lower case and digits, or 18 lower-case letters) and %d different characters; leave --token out and edgek makes a random one", minSecretBits, minDistinctSecret)
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
// and agent derive it alike, so the join secret itself never crosses the network. A secret
// that is a bootstrap token already (edgek token create) is used as it is.
func BootstrapToken(secret string) string {
	if IsBootstrapToken(secret) {
		return secret
	}
	sum := sha256.Sum256([]byte("edgek-bootstrap-token:" + secret))
	h := hex.EncodeToString(sum[:])
	return h[:6] + "." + h[6:22]
}

// CAHashPEM is the token's CA hash of CA certificates in NormalizeCertsPEM form.
func CAHashPEM(pemData []byte) string {
	sum := sha256.Sum256(pemData)
	return hex.EncodeToString(sum[:])
}

// RotateToken replaces the secret of the token stored at path with newSecret (checked with
// CheckStrength), or with a random one if it is empty, and returns the new full token and
// the old secret.
func RotateToken(path, caCertFile, newSecret string) (full, oldSecret string, err error) {
	if oldSecret, err = StoredSecret(path); err != nil {
		return "", "", err
	}
	if oldSecret == "" {
		return "", "", fmt.Errorf("no token in %s: has edgek server run with this data dir?", path)
	}
	if newSecret != "" {
		hash, secret, err := ParseToken(newSecret)
		if err != nil {
			return "", "", fmt.Errorf("new token: %w", err)
		}
		if err := checkCAHash(caCertFile, hash); err != nil {
			return "", "", fmt.Errorf("new token: %w", err)
		}
		if err := CheckStrength(secret); err != nil {
			return "", "", fmt.Errorf("new token: %w", err)
		}
		newSecret = secret
	} else if newSecret, err = randomSecret(); err != nil {
		return "", "", err
	}
	if newSecret == oldSecret {
		return "", "", errors.New("the new token is the current one")
	}
	if full, err = FullToken(caCertFile, newSecret); err != nil {
		return "", "", err
	}
	if err := writeTokenFile(path, full); err != nil {
		return "", "", err
	}
	return full, oldSecret, nil
}
