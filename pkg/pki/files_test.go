package pki

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	tests := []struct {
		name     string
		existing bool
		mode     os.FileMode
	}{
		{"new key", false, 0o600},
		{"new cert", false, 0o644},
		{"replace, tighten mode", true, 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tt.existing {
				if err := os.WriteFile(path, []byte("old content"), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			if err := writeFileAtomic(path, []byte("new"), tt.mode); err != nil {
				t.Fatal(err)
			}
			files := snapshot(t, dir)
			if len(files) != 1 || files["f"] != "new" {
				t.Errorf("dir = %v, want only f=new", files)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != tt.mode {
				t.Errorf("mode = %o, want %o", fi.Mode().Perm(), tt.mode)
			}
		})
	}
}

func TestWriteFileAtomicFailureLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	// Renaming a file over a non-empty directory fails.
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(target, []byte("x"), 0o600); err == nil {
		t.Fatal("writeFileAtomic over a directory succeeded")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only the directory (temp file left?)", len(entries))
	}
}
