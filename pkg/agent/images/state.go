package images

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// stamp identifies one version of a file: a change of size or mtime is a new version.
type stamp struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
}

func (s stamp) equal(o stamp) bool { return s.Size == o.Size && s.ModTime.Equal(o.ModTime) }

// imported records an archive version that was imported, and the images it held.
type imported struct {
	stamp
	Images []string `json:"images"`
}

// stateFileContent is the JSON of the state file.
type stateFileContent struct {
	Version int                 `json:"version"`
	Files   map[string]imported `json:"files"` // by file name in the images directory
}

const stateVersion = 1

// dirState is what the scans remember. Only imported is persisted: a failed archive is tried
// once more after a restart, in case the failure was containerd's.
type dirState struct {
	loaded   bool                // imported was read from the state file
	verified bool                // imported was checked against containerd's image list
	imported map[string]imported // successfully imported archives
	failed   map[string]stamp    // archive versions that failed; retried when they change
	seen     map[string]stamp    // what the previous scan saw, for the stable-size rule
}

// loadState reads the state file; a missing file is an empty state. A corrupt one is logged
// and ignored: the worst outcome is importing the archives again.
func (i *Importer) loadState() {
	i.imported = map[string]imported{}
	i.failed = map[string]stamp{}
	i.seen = map[string]stamp{}
	i.loaded = true
	if i.stateFile == "" {
		return
	}
	data, err := os.ReadFile(i.stateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var content stateFileContent
	if err == nil {
		err = json.Unmarshal(data, &content)
	}
	if err == nil && content.Version != stateVersion {
		err = fmt.Errorf("unknown version %d", content.Version)
	}
	if err != nil {
		i.log.Warn("ignoring image import state file", "file", i.stateFile, "err", err)
		return
	}
	for name, f := range content.Files {
		i.imported[name] = f
	}
}

// saveState writes the state file atomically (temporary file and rename).
func (i *Importer) saveState() error {
	if i.stateFile == "" {
		return nil
	}
	data, err := json.MarshalIndent(stateFileContent{Version: stateVersion, Files: i.imported}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(i.stateFile)
	if err := mkdirAll(dir); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(i.stateFile)+".tmp*")
	if err != nil {
		return fmt.Errorf("write image import state: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write image import state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write image import state: %w", err)
	}
	if err := os.Rename(tmp.Name(), i.stateFile); err != nil {
		return fmt.Errorf("write image import state: %w", err)
	}
	return nil
}

func mkdirAll(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}
