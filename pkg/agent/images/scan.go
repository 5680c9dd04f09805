package images

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// scan imports the archives of the directory that are new or changed and hold still.
func (i *Importer) scan(ctx context.Context) error {
	i.scanMu.Lock()
	defer i.scanMu.Unlock()
	if !i.loaded {
		i.loadState()
	}

	current, err := i.listDir()
	if err != nil {
		return err
	}
	dirty := i.forgetRemoved(current)
	if !i.verified && len(i.imported) > 0 {
		changed, err := i.verifyImported(ctx)
		if err != nil {
			return err
		}
		dirty = dirty || changed
	}

	var scanErr error
	for _, name := range slices.Sorted(maps.Keys(current)) {
		st := current[name]
		if !i.due(name, st) {
			continue
		}
		start := time.Now()
		names, err := i.importFile(ctx, name)
		if err != nil {
			if transient(err) || ctx.Err() != nil {
				// Not the archive's fault: leave it for the next scan, stop this one.
				scanErr = fmt.Errorf("import %s: %w", name, err)
				break
			}
			i.log.Error("image archive import failed", "file", name, "err", err)
			i.failed[name] = st
			if _, ok := i.imported[name]; ok {
				delete(i.imported, name)
				dirty = true
			}
			continue
		}
		i.log.Info("imported images", "file", name, "images", names, "took", time.Since(start).Round(time.Millisecond))
		delete(i.failed, name)
		i.imported[name] = imported{stamp: st, Images: names}
		// Saved after each archive, so a crash in a long scan keeps what was done.
		err = i.saveState()
		dirty = false
		if err != nil {
			scanErr = err
			break
		}
	}
	i.seen = current
	if dirty {
		scanErr = errors.Join(scanErr, i.saveState())
	}
	return scanErr
}

// listDir returns the archives in the directory with their size and mtime. A missing
// directory has none. Symlinks are followed.
func (i *Importer) listDir() (map[string]stamp, error) {
	entries, err := os.ReadDir(i.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]stamp{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read image directory: %w", err)
	}
	files := map[string]stamp{}
	for _, e := range entries {
		if !isArchiveName(e.Name()) {
			continue
		}
		info, err := os.Stat(filepath.Join(i.dir, e.Name()))
		if err != nil || !info.Mode().IsRegular() {
			continue // removed meanwhile, a dangling symlink or a directory
		}
		files[e.Name()] = stamp{Size: info.Size(), ModTime: info.ModTime()}
	}
	return files, nil
}

// forgetRemoved drops what is remembered about files no longer in the directory, and reports
// whether the persisted state changed. Their images stay in containerd.
func (i *Importer) forgetRemoved(current map[string]stamp) (dirty bool) {
	for name := range i.imported {
		if _, ok := current[name]; !ok {
			delete(i.imported, name)
			dirty = true
		}
	}
	for name := range i.failed {
		if _, ok := current[name]; !ok {
			delete(i.failed, name)
		}
	}
	return dirty
}

// verifyImported forgets the archives whose images are no longer all in containerd (its
// data was wiped, or an image was deleted by hand) so that they are imported again. It runs
// on the first scan only: one List call, not one per scan.
func (i *Importer) verifyImported(ctx context.Context) (dirty bool, err error) {
	present, err := i.listImagesFn(ctx)
	if err != nil {
		return false, err
	}
	for name, f := range i.imported {
		for _, img := range f.Images {
			if !present[img] {
				i.log.Info("image archive imported before but its images are missing, importing again",
					"file", name, "image", img)
				delete(i.imported, name)
				dirty = true
				break
			}
		}
	}
	i.verified = true
	return dirty, nil
}

// due reports whether an archive is to be imported now: not imported or failed in this
// version, and not possibly still being written. A file seen by the previous scan must be
// unchanged since; a file seen for the first time must have an mtime older than settleTime
// (so that archives already in place at start-up are imported without waiting for a
// second scan).
func (i *Importer) due(name string, st stamp) bool {
	if f, ok := i.imported[name]; ok && f.equal(st) {
		return false
	}
	if f, ok := i.failed[name]; ok && f.equal(st) {
		return false
	}
	if prev, ok := i.seen[name]; ok {
		return prev.equal(st)
	}
	return i.now().Sub(st.ModTime) >= settleTime
}

// importFile imports one archive of the directory.
func (i *Importer) importFile(ctx context.Context, name string) ([]string, error) {
	f, err := os.Open(filepath.Join(i.dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return i.importStream(ctx, f)
}
