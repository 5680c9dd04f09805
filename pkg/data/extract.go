package data

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/klauspost/compress/zstd"

	"github.com/edgek-io/edgek/pkg/fsutil"
)

const (
	// completeMarker is written last into a version directory; without it the directory is
	// treated as garbage.
	completeMarker = ".complete"
	lockFile       = ".lock"
	tmpPrefix      = ".tmp-"
)

func extract(dataDir string, b bundle) (string, error) {
	if _, err := hex.DecodeString(b.sha256); err != nil || len(b.sha256) != sha256.Size*2 {
		return "", fmt.Errorf("embedded data: bad sha256 %q (rebuild with make data)", b.sha256)
	}
	base := filepath.Join(dataDir, "data")
	dir := filepath.Join(base, b.version())
	binDir := filepath.Join(dir, "bin")
	if complete(dir) {
		return binDir, nil
	}
	if b.goarch != runtime.GOARCH {
		return "", fmt.Errorf("embedded data is for GOARCH %q, this binary is %q (rebuild with make data)", b.goarch, runtime.GOARCH)
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("extract data: %w", err)
	}
	unlock, err := lock(filepath.Join(base, lockFile))
	if err != nil {
		return "", fmt.Errorf("extract data: %w", err)
	}
	defer unlock()
	if complete(dir) { // another process finished while we waited for the lock
		return binDir, nil
	}
	// Under the lock, anything but the lock file is an old version or a crash's leftover,
	// including an incomplete dir. Removing it first also frees space on small disks.
	removeStale(base)
	if err := install(base, dir, b); err != nil {
		return "", fmt.Errorf("extract data to %s: %w", dir, err)
	}
	// The decoder's window (the archive is compressed with a 128 MiB one) is garbage now: give
	// it back to the OS at once, so that a first start leaves the same footprint as later ones
	// instead of holding it until the scavenger returns it minutes later.
	debug.FreeOSMemory()
	return binDir, nil
}

func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, completeMarker))
	return err == nil
}

// lock takes an exclusive flock on path, creating it.
func lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// removeStale removes every entry of base but the lock file (best effort).
func removeStale(base string) {
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if e.Name() != lockFile {
			os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
}

// install unpacks b into a temporary directory in base, marks it complete and renames it to dir.
func install(base, dir string, b bundle) (err error) {
	tmp, err := os.MkdirTemp(base, tmpPrefix+filepath.Base(dir)+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := unpack(tmp, b); err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(tmp, completeMarker), []byte(b.sha256+"\n"), 0o644); err != nil {
		return err
	}
	if err := fsutil.SyncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return fsutil.SyncDir(base)
}

// unpack checks b's hash and writes its tar entries under dir. Only directories and regular
// files inside dir are accepted; every name in b.names must be in bin/.
func unpack(dir string, b bundle) error {
	if sum := sha256.Sum256(b.archive); hex.EncodeToString(sum[:]) != b.sha256 {
		return errors.New("embedded archive does not match its sha256 (rebuild with make data)")
	}
	zr, err := zstd.NewReader(bytes.NewReader(b.archive), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return err
	}
	defer zr.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	dirs := map[string]bool{".": true}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if err := unpackEntry(root, hdr, tr, dirs); err != nil {
			return err
		}
	}
	for _, name := range b.names {
		if fi, err := root.Stat(path.Join("bin", name)); err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("archive lacks bin/%s", name)
		}
	}
	for d := range dirs {
		if err := fsutil.SyncDir(filepath.Join(dir, d)); err != nil {
			return err
		}
	}
	return nil
}

func unpackEntry(root *os.Root, hdr *tar.Header, r io.Reader, dirs map[string]bool) error {
	name := path.Clean(hdr.Name)
	if !filepath.IsLocal(name) {
		return fmt.Errorf("archive entry %q: path outside the target", hdr.Name)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		dirs[name] = true
		if err := root.MkdirAll(name, 0o755); err != nil {
			return err
		}
		return root.Chmod(name, 0o755)
	case tar.TypeReg:
		parent := path.Dir(name)
		if !dirs[parent] {
			dirs[parent] = true
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return err
			}
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if err == nil {
			err = f.Chmod(0o755) // whatever the umask
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	default:
		return fmt.Errorf("archive entry %q: unsupported type %q", hdr.Name, hdr.Typeflag)
	}
}

func writeSynced(name string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
