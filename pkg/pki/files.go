package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// File modes of what this package writes.
const (
	keyMode  os.FileMode = 0o600
	certMode os.FileMode = 0o644
)

// fileExists reports whether path exists; errors other than "not found" are
// returned so that an unreadable file is never mistaken for a missing one.
func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
}

// readOptional returns the content of path, or nil if it does not exist.
func readOptional(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}
