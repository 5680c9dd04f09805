// Package fsutil holds file helpers shared by edgek's components.
package fsutil

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data so that readers (containerd, the kubelet, CNI) see
// the old file or the new one, never a partial one, also after a power cut: it writes a
// temporary file named ".<name>.*" beside path with mode perm, syncs it, renames it over path
// and syncs the directory (so that the rename survives a crash: the CA files depend on it). The
// parent directory is created (0755) if missing.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes what was created, renamed or removed in dir durable (fsync of the directory).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// WriteFileIfChanged is WriteFileAtomic unless path already holds exactly data, in which case
// only its mode is set to perm: for files edgek writes at every start or check, so that an SD
// card does not pay for a file that did not change.
func WriteFileIfChanged(path string, data []byte, perm os.FileMode) error {
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
		return os.Chmod(path, perm)
	}
	return WriteFileAtomic(path, data, perm)
}
