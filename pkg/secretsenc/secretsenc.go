// Package secretsenc keeps the files of secrets encryption at rest (--secrets-encryption):
// the apiserver's EncryptionConfiguration, with a secretbox (XSalsa20-Poly1305) key that lives
// in the server's cred dir and never in the datastore, and the record of which key every
// existing Secret has been rewritten with. The rewrite itself goes through the apiserver
// (pkg/server/encryption). Standard library and YAML only, so that the CLI can read the status.
package secretsenc

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgek-io/edgek/pkg/fsutil"
)

// Key is one secretbox key: a name and 32 random bytes, base64.
type Key struct {
	Name   string `yaml:"name"`
	Secret string `yaml:"secret"`
}

// The EncryptionConfiguration (apiserver.config.k8s.io/v1), the part edgek writes.
type fileConfig struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Resources  []resource `yaml:"resources"`
}

type resource struct {
	Resources []string   `yaml:"resources"`
	Providers []provider `yaml:"providers"`
}

type provider struct {
	Secretbox *struct {
		Keys []Key `yaml:"keys"`
	} `yaml:"secretbox,omitempty"`
	Identity *struct{} `yaml:"identity,omitempty"`
}

// Files are where a server keeps them.
type Files struct {
	// Config is the EncryptionConfiguration the apiserver reads (0600).
	Config string
	// State holds the name of the key every existing Secret was last rewritten with.
	State string
}

// In returns the files in a server's cred dir.
func In(credDir string) Files {
	return Files{Config: filepath.Join(credDir, "encryption-config.yaml"), State: filepath.Join(credDir, "encryption-state")}
}

// Ensure returns the keys of f.Config (the active one first), creating it with one new key
// if it does not exist.
func (f Files) Ensure(now time.Time) ([]Key, error) {
	keys, err := f.Keys()
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return keys, err
	}
	k, err := NewKey(now)
	if err != nil {
		return nil, err
	}
	if err := f.Write([]Key{k}); err != nil {
		return nil, err
	}
	return []Key{k}, nil
}

// NewKey makes a key named after now.
func NewKey(now time.Time) (Key, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Key{}, fmt.Errorf("generate secrets encryption key: %w", err)
	}
	return Key{Name: "edgek-" + now.UTC().Format("20060102T150405Z"), Secret: base64.StdEncoding.EncodeToString(b)}, nil
}

// Keys reads f.Config: the keys, the one that encrypts first (fs.ErrNotExist: none).
func (f Files) Keys() ([]Key, error) {
	data, err := os.ReadFile(f.Config)
	if err != nil {
		return nil, fmt.Errorf("secrets encryption config: %w", err)
	}
	var c fileConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("secrets encryption config %s: %w", f.Config, err)
	}
	if len(c.Resources) != 1 || len(c.Resources[0].Providers) == 0 || c.Resources[0].Providers[0].Secretbox == nil ||
		len(c.Resources[0].Providers[0].Secretbox.Keys) == 0 {
		return nil, fmt.Errorf("secrets encryption config %s: not one secretbox provider with keys, as edgek writes it", f.Config)
	}
	keys := c.Resources[0].Providers[0].Secretbox.Keys
	for _, k := range keys {
		if b, err := base64.StdEncoding.DecodeString(k.Secret); err != nil || len(b) != 32 || k.Name == "" {
			return nil, fmt.Errorf("secrets encryption config %s: key %q is not a name and 32 bytes in base64", f.Config, k.Name)
		}
	}
	return keys, nil
}

// Write writes f.Config with keys (the first encrypts; all decrypt; data still in plain text
// is read through the identity provider last).
func (f Files) Write(keys []Key) error {
	sb := &struct {
		Keys []Key `yaml:"keys"`
	}{Keys: keys}
	c := fileConfig{
		APIVersion: "apiserver.config.k8s.io/v1",
		Kind:       "EncryptionConfiguration",
		Resources:  []resource{{Resources: []string{"secrets"}, Providers: []provider{{Secretbox: sb}, {Identity: &struct{}{}}}}},
	}
	data, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("render secrets encryption config: %w", err)
	}
	data = append([]byte("# Written by edgek (--secrets-encryption). Without this file the Secrets in the datastore\n# cannot be read: back it up apart from the datastore, never next to it.\n"), data...)
	if err := os.MkdirAll(filepath.Dir(f.Config), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(f.Config), err)
	}
	if err := fsutil.WriteFileAtomic(f.Config, data, 0o600); err != nil {
		return fmt.Errorf("write secrets encryption config: %w", err)
	}
	return nil
}

// Rewritten returns the name of the key every Secret was last rewritten with ("" if none).
func (f Files) Rewritten() string {
	data, err := os.ReadFile(f.State)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// SetRewritten records that every Secret was rewritten with key.
func (f Files) SetRewritten(key string) error {
	if err := fsutil.WriteFileAtomic(f.State, []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("record the secrets encryption state: %w", err)
	}
	return nil
}

// Status writes what `edgek secrets-encrypt status` shows (never a key).
func (f Files) Status(w io.Writer) error {
	keys, err := f.Keys()
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(w, "Encryption: disabled (start the server with --secrets-encryption to enable it)")
		return nil
	}
	if err != nil {
		return err
	}
	rewritten := "yes"
	if f.Rewritten() != keys[0].Name {
		rewritten = "not yet (the server rewrites them when it starts)"
	}
	fmt.Fprintf(w, "Encryption: enabled (secretbox)\nConfig: %s\nActive key: %s\nKeys: %d\nExisting Secrets rewritten with the active key: %s\n",
		f.Config, keys[0].Name, len(keys), rewritten)
	return nil
}
