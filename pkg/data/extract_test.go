package data

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/edgek-io/edgek/test/testutil"
)

func TestEmbeddedArchive(t *testing.T) {
	b := embedded()
	sum := sha256.Sum256(b.archive)
	if got := hex.EncodeToString(sum[:]); got != b.sha256 {
		t.Fatalf("data.sha256 = %s, archive hashes to %s", b.sha256, got)
	}
	if b.goarch != runtime.GOARCH {
		t.Fatalf("data.goarch = %q, want %q", b.goarch, runtime.GOARCH)
	}
	if v := Version(); len(v) != 16 || !strings.HasPrefix(b.sha256, v) {
		t.Fatalf("Version() = %q", v)
	}
}

func TestExtract(t *testing.T) {
	dataDir := t.TempDir()
	binDir, err := Extract(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dataDir, "data", Version(), "bin"); binDir != want {
		t.Fatalf("bin dir = %s, want %s", binDir, want)
	}
	for _, name := range Names() {
		fi, err := os.Stat(filepath.Join(binDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 || fi.Size() == 0 {
			t.Errorf("%s: mode %v size %d, want a non-empty 0755 file", name, fi.Mode(), fi.Size())
		}
	}
	entries, err := os.ReadDir(binDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(Names()) {
		t.Errorf("bin dir holds %d entries, want %d (%v)", len(entries), len(Names()), Names())
	}
	if !complete(filepath.Dir(binDir)) {
		t.Error("no completion marker")
	}
	assertOnly(t, filepath.Join(dataDir, "data"), lockFile, Version())

	out, err := exec.Command(filepath.Join(binDir, "runc"), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("runc --version: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "runc version 1.5.2") {
		t.Errorf("runc --version printed %q", out)
	}
}

func TestExtractFastPath(t *testing.T) {
	dataDir := t.TempDir()
	b := embedded()
	want, err := extract(dataDir, b)
	if err != nil {
		t.Fatal(err)
	}
	// A complete version dir is used as it is: the archive is not read again.
	b.archive = []byte("not an archive")
	got, err := extract(dataDir, b)
	if err != nil {
		t.Fatalf("second call read the archive: %v", err)
	}
	if got != want {
		t.Fatalf("second call: %s, want %s", got, want)
	}
}

func TestExtractAfterInterruption(t *testing.T) {
	dataDir := t.TempDir()
	base := filepath.Join(dataDir, "data")
	// What a crash can leave: a half-written temp dir, and a version dir without its marker.
	for _, f := range []string{
		filepath.Join(base, tmpPrefix+Version()+"-123", "bin", "runc"),
		filepath.Join(base, Version(), "bin", "runc"),
	} {
		testutil.WriteFile(t, f, "partial")
	}
	binDir, err := Extract(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(binDir, "runc"))
	if err != nil || fi.Size() < 1<<20 {
		t.Fatalf("runc not re-extracted: %v %v", fi, err)
	}
	assertOnly(t, base, lockFile, Version())
}

func TestExtractRemovesStaleVersions(t *testing.T) {
	dataDir := t.TempDir()
	base := filepath.Join(dataDir, "data")
	testutil.WriteFile(t, filepath.Join(base, "0123456789abcdef", "bin", "runc"), "old")
	testutil.WriteFile(t, filepath.Join(base, "0123456789abcdef", completeMarker), "old")
	if _, err := Extract(dataDir); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, base, lockFile, Version())
}

func TestExtractRejectsBadArchives(t *testing.T) {
	tests := []struct {
		name    string
		entries []*tar.Header
	}{
		{"parent", []*tar.Header{{Name: "../evil", Typeflag: tar.TypeReg}}},
		{"nested parent", []*tar.Header{{Name: "bin/../../evil", Typeflag: tar.TypeReg}}},
		{"absolute", []*tar.Header{{Name: "/tmp/evil", Typeflag: tar.TypeReg}}},
		{"symlink", []*tar.Header{{Name: "bin", Typeflag: tar.TypeSymlink, Linkname: "/"}}},
		{"hardlink", []*tar.Header{{Name: "bin/runc", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}},
		{"missing binary", []*tar.Header{{Name: "bin/other", Typeflag: tar.TypeReg}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "d")
			b := testBundle(t, tt.entries)
			if _, err := extract(dataDir, b); err == nil {
				t.Fatal("extract succeeded")
			}
			assertOnly(t, filepath.Join(dataDir, "data"), lockFile)
			if _, err := os.Stat(filepath.Join(filepath.Dir(dataDir), "evil")); err == nil {
				t.Fatal("wrote outside the data dir")
			}
		})
	}
}

func TestExtractRejectsHashMismatch(t *testing.T) {
	b := testBundle(t, []*tar.Header{{Name: "bin/runc", Typeflag: tar.TypeReg}})
	b.archive = append(bytes.Clone(b.archive), 0)
	if _, err := extract(t.TempDir(), b); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("err = %v, want a sha256 mismatch", err)
	}
}

// testBundle builds an archive of the given entries (regular files get a few bytes) that must
// hold bin/runc.
func testBundle(t *testing.T, entries []*tar.Header) bundle {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		h.Mode = 0o755
		content := []byte("#!/bin/sh\n")
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(content))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(content); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return bundle{archive: buf.Bytes(), sha256: hex.EncodeToString(sum[:]), goarch: runtime.GOARCH, names: []string{"runc"}}
}

// assertOnly checks that dir holds exactly the named entries.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}
