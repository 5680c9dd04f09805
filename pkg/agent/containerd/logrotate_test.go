package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRotateLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "containerd.log")
	if rotated, err := rotateLog(path, 10); rotated || err != nil {
		t.Fatalf("no log yet: rotated %v, %v", rotated, err)
	}
	// As containerd holds it: one O_APPEND descriptor for its whole life.
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.WriteString("old line 1\nold line 2\n")
	if rotated, err := rotateLog(path, 100); rotated || err != nil {
		t.Fatalf("small log: rotated %v, %v", rotated, err)
	}
	if rotated, err := rotateLog(path, 10); !rotated || err != nil {
		t.Fatalf("large log: rotated %v, %v", rotated, err)
	}
	w.WriteString("new line\n")
	if got, _ := os.ReadFile(path); string(got) != "new line\n" {
		t.Errorf("log after rotation = %q: containerd's next writes must start the file anew", got)
	}
	if got, _ := os.ReadFile(path + ".1"); string(got) != "old line 1\nold line 2\n" {
		t.Errorf("previous log = %q", got)
	}
	// The next rotation replaces the previous one: two files at most.
	w.WriteString(strings.Repeat("x", 20) + "\n")
	if rotated, err := rotateLog(path, 10); !rotated || err != nil {
		t.Fatalf("second rotation: %v, %v", rotated, err)
	}
	if got, _ := os.ReadFile(path + ".1"); !strings.HasPrefix(string(got), "new line\n") {
		t.Errorf("previous log after the second rotation = %q", got)
	}
	if fi, _ := os.Stat(path + ".1"); fi.Mode().Perm() != 0o600 {
		t.Errorf("previous log mode %v, want 0600", fi.Mode().Perm())
	}
}
