package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "f.conf")
	for _, content := range []string{"one", "two"} {
		if err := WriteFileAtomic(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("content %q, %v; want %q", got, err, content)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "sub", ".f.conf.*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing-parent-is-a-file", "x"), nil, 0o600); err != nil {
		t.Fatal(err) // parent created
	}
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o600)
	if err := WriteFileAtomic(filepath.Join(dir, "file", "x"), nil, 0o600); err == nil {
		t.Error("want an error when the parent is a regular file")
	}
}

func TestWriteFileAtomicModes(t *testing.T) {
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
			if err := WriteFileAtomic(path, []byte("new"), tt.mode); err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(dir)
			if got, _ := os.ReadFile(path); len(entries) != 1 || string(got) != "new" {
				t.Errorf("dir holds %d entries, f=%q; want only f=new", len(entries), got)
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
	if err := WriteFileAtomic(target, []byte("x"), 0o600); err == nil {
		t.Fatal("WriteFileAtomic over a directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only the directory (temp file left?)", len(entries))
	}
}

func TestWriteFileIfChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.conf")
	if err := WriteFileIfChanged(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	// Same content: not rewritten (an atomic write would replace the inode), mode set.
	if err := WriteFileIfChanged(path, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	same, _ := os.Stat(path)
	if !os.SameFile(before, same) {
		t.Error("an unchanged file was rewritten")
	}
	if same.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", same.Mode().Perm())
	}
	if err := WriteFileIfChanged(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if got, _ := os.ReadFile(path); string(got) != "two" || os.SameFile(same, after) {
		t.Errorf("changed content %q not written atomically (same inode: %v)", got, os.SameFile(same, after))
	}
}
