// Package testutil holds the helpers edgek's tests share: writing files, loggers that discard
// or record, and self-signed certificates. It imports only the standard library, and only
// _test.go files import it.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes content to path with mode 0644, creating missing parent directories (0755),
// and returns path. An error fails the test.
func WriteFile(t testing.TB, path, content string) string {
	t.Helper()
	return WriteFileMode(t, path, content, 0o644)
}

// WriteFileMode is WriteFile with the file's mode (before the umask).
func WriteFileMode(t testing.TB, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteFiles writes each of files, by path relative to root, like WriteFile: a fake /proc,
// /sys or data dir in one call.
func WriteFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		WriteFile(t, filepath.Join(root, rel), content)
	}
}
