package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// maxRetryPasses bounds the backoff of a failing file: it is tried again at least every
// maxRetryPasses scans (5 minutes at the default interval).
const maxRetryPasses = 30

// errorLimit bounds status.error and Event messages.
const errorLimit = 1024

// fileState is what the controller remembers about one manifest file between scans.
type fileState struct {
	addon    string // Addon name
	checksum string // of the content last applied or tried
	applied  bool   // that content was applied and recorded
	skipped  bool   // a .skip file is there, and the Addon says so
	conflict string // another file with the same Addon name, logged once
	failures int    // consecutive failed attempts
	retryAt  int    // pass from which a failed file is tried again
}

// manifestFile is one manifest read from the directory.
type manifestFile struct {
	name     string
	content  []byte
	checksum string // of content; empty if the file could not be read
	readErr  error
}

// result is the outcome of applying one file.
type result struct {
	old     *addon      // the Addon before, nil if there was none
	applied []objectRef // objects applied, namespaces filled in
	pruned  []objectRef
	kept    []objectRef // objects that were to be pruned but could not be deleted
	err     error
}

// runPass removes disabled addons, forgets removed files, and applies the manifests that are
// new, changed, or failed before and due for a retry. Errors are logged.
func (c *Controller) runPass(ctx context.Context) {
	c.pass++
	c.disableAddons(ctx)
	files, skips, err := c.scan()
	if err != nil {
		c.log.Error("manifests directory scan failed", "dir", c.o.Dir, "err", err)
		return
	}
	claimed := c.claimNames(files)
	c.forgetRemoved(ctx, files, claimed)

	var due []manifestFile
	for _, f := range files {
		if st := c.files[f.name]; claimed[st.addon] == f.name && c.isDue(ctx, f, st, skips[f.name]) {
			due = append(due, f)
		}
	}
	results := make([]*result, len(due))
	succeeded := false
	for i, f := range due {
		results[i] = c.applyFile(ctx, f)
		succeeded = succeeded || results[i].err == nil
	}
	// Files may depend on each other (a Namespace or a CRD defined in another file): if some
	// file went through, those that failed get a second chance before being reported.
	if succeeded {
		for i, f := range due {
			if r := results[i]; r.err != nil && ctx.Err() == nil {
				again := c.applyFile(ctx, f)
				again.applied = mergeRefs(again.applied, r.applied)
				results[i] = again
			}
		}
	}
	if ctx.Err() != nil {
		return // stopping: what was not recorded is done again at the next start
	}
	for i, f := range due {
		c.record(ctx, f, c.files[f.name], results[i])
	}
}

// scan reads the manifests of the directory and its subdirectories (as K3s does; hidden
// ones are left out), in path order, and returns the names of those with a .skip file beside
// them. A file's name is its path relative to the directory.
func (c *Controller) scan() ([]manifestFile, map[string]bool, error) {
	var files []manifestFile
	skips := map[string]bool{}
	err := filepath.WalkDir(c.o.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == c.o.Dir {
				return err
			}
			c.log.Warn("cannot read a manifests subdirectory", "path", path, "err", err)
			return nil // the rest is still applied
		}
		if d.IsDir() {
			if path == c.o.Dir {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir // e.g. the ..data of a mounted ConfigMap
			}
			c.watch(path)
			return nil
		}
		name, err := filepath.Rel(c.o.Dir, path)
		if err != nil {
			return nil
		}
		if base, ok := strings.CutSuffix(name, ".skip"); ok {
			skips[base] = true
			return nil
		}
		if !isManifestName(d.Name()) {
			return nil
		}
		if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
			return nil // removed meanwhile, a dangling symlink or a directory
		}
		content, err := os.ReadFile(path)
		if err != nil {
			files = append(files, manifestFile{name: name, readErr: err}) // fails like a bad file
			return nil
		}
		sum := sha256.Sum256(content)
		files = append(files, manifestFile{name: name, content: content, checksum: hex.EncodeToString(sum[:])})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return files, skips, nil // WalkDir goes in lexical order
}

// watch adds a subdirectory to the directory watch (fsnotify does not recurse); without a
// watch the periodic scan still finds its changes.
func (c *Controller) watch(dir string) {
	if c.watcher == nil {
		return
	}
	if err := c.watcher.Add(dir); err != nil {
		c.log.Debug("cannot watch a manifests subdirectory", "dir", dir, "err", err)
	}
}

// claimNames gives each file an Addon name; when two files get the same name, the first in
// name order keeps it and the other is not applied. It returns which file has which name.
func (c *Controller) claimNames(files []manifestFile) map[string]string {
	claimed := map[string]string{}
	for _, f := range files {
		st := c.files[f.name]
		if st == nil {
			st = &fileState{}
			c.files[f.name] = st
		}
		st.addon = addonName(f.name)
		if other, ok := claimed[st.addon]; ok {
			if st.conflict != other {
				err := fmt.Errorf("its addon name %q is taken by %s: rename one of them", st.addon, other)
				c.log.Error("manifest apply failed", "file", f.name, "err", err)
				st.conflict = other
			}
			continue
		}
		st.conflict = ""
		claimed[st.addon] = f.name
	}
	return claimed
}

// forgetRemoved deletes the Addons of files no longer in the directory; their objects stay.
func (c *Controller) forgetRemoved(ctx context.Context, files []manifestFile, claimed map[string]string) {
	present := map[string]bool{}
	for _, f := range files {
		present[f.name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(c.files)) {
		st := c.files[name]
		if present[name] {
			continue
		}
		if _, taken := claimed[st.addon]; !taken && st.conflict == "" {
			if err := c.cl.deleteAddon(ctx, st.addon); err != nil {
				c.log.Warn("cannot delete the addon of a removed manifest", "file", name, "addon", st.addon, "err", err)
				continue // tried again at the next scan
			}
			c.log.Info("manifest removed; its objects are left in the cluster", "file", name, "addon", st.addon)
		}
		delete(c.files, name)
	}
}

// isDue reports whether a file is to be applied now, and records skip files in the Addon.
func (c *Controller) isDue(ctx context.Context, f manifestFile, st *fileState, skip bool) bool {
	if skip {
		if !st.skipped {
			c.markSkipped(ctx, f, st)
		}
		return false
	}
	if st.skipped { // the .skip file is gone: manage the file again
		st.skipped = false
		st.checksum = ""
	}
	if st.checksum != f.checksum {
		st.failures = 0
		return true
	}
	return !st.applied && c.pass >= st.retryAt
}

// markSkipped records in the file's Addon that a .skip file stops edgek from managing it.
func (c *Controller) markSkipped(ctx context.Context, f manifestFile, st *fileState) {
	a, err := c.cl.getAddon(ctx, st.addon)
	if err == nil {
		if a == nil {
			a = &addon{Name: st.addon}
		}
		a.Source = f.name
		a.Status.Skipped = true
		a.Status.Error = ""
		err = c.cl.putAddon(ctx, a)
	}
	if err != nil {
		c.log.Warn("cannot record a skipped manifest", "file", f.name, "addon", st.addon, "err", err)
		return // tried again at the next scan
	}
	st.skipped = true
	st.checksum = ""
	c.log.Info("manifest skipped: a .skip file is beside it", "file", f.name)
	c.event(ctx, a, corev1.EventTypeNormal, "Skipped", f.name+" is not managed: "+f.name+".skip exists")
}

// applyFile applies one file and, if every object went through, deletes the objects its
// previous content had and the current one does not.
func (c *Controller) applyFile(ctx context.Context, f manifestFile) *result {
	r := &result{}
	name := c.files[f.name].addon
	r.old, r.err = c.cl.getAddon(ctx, name)
	if r.err != nil {
		r.err = fmt.Errorf("read addon %s: %w", name, r.err)
		return r
	}
	if f.readErr != nil {
		r.err = f.readErr
		return r
	}
	objs, err := decodeManifest(f.content)
	if err != nil {
		r.err = err
		return r
	}
	var errs []error
	var crds []string
	for _, o := range applyOrder(objs) {
		if !isCRD(o) && len(crds) > 0 {
			// Objects of the file's CRDs can only be applied once the CRDs serve.
			c.cl.crdsApplied(ctx, crds)
			crds = nil
		}
		desc := refOf(o).String()
		setSource(o, f.name)
		ref, err := c.cl.apply(ctx, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", desc, err))
			continue
		}
		r.applied = append(r.applied, ref)
		if isCRD(o) {
			crds = append(crds, o.GetName())
		}
	}
	if len(crds) > 0 {
		c.cl.crdsApplied(ctx, crds)
	}
	if len(errs) > 0 {
		r.err = errors.Join(errs...)
		return r
	}
	// An Addon recorded for another file (renamed, or one with the same Addon name) lists
	// objects this file never had: they are not pruned.
	if r.old != nil && r.old.Source == f.name {
		for _, ref := range pruneList(r.old.Status.Objects, r.applied) {
			if _, err := c.cl.delete(ctx, ref, f.name, false); err != nil {
				errs = append(errs, fmt.Errorf("prune %s: %w", ref, err))
				r.kept = append(r.kept, ref)
				continue
			}
			r.pruned = append(r.pruned, ref)
		}
	}
	r.err = errors.Join(errs...)
	return r
}

// record writes the outcome of applying a file to its Addon, an Event and the log, and
// schedules a retry if it failed.
func (c *Controller) record(ctx context.Context, f manifestFile, st *fileState, r *result) {
	a := r.old
	if a == nil {
		a = &addon{Name: st.addon}
	}
	a.Source = f.name
	a.Status.Checksum = f.checksum
	a.Status.Skipped = false
	if r.err == nil {
		a.Status.Applied = true
		a.Status.Error = ""
		a.Status.Objects = mergeRefs(r.applied, r.kept)
		a.Status.LastApplied = c.now().UTC().Format(time.RFC3339)
	} else {
		// Nothing is pruned after a failure, and everything that may exist is remembered.
		a.Status.Applied = false
		a.Status.Error = oneLine(r.err, errorLimit)
		a.Status.Objects = mergeRefs(a.Status.Objects, mergeRefs(r.applied, r.kept))
	}
	putErr := c.cl.putAddon(ctx, a)
	st.checksum = f.checksum
	if r.err == nil && putErr == nil {
		st.applied, st.failures = true, 0
		c.log.Info("manifest applied", "file", f.name, "objects", len(r.applied), "pruned", len(r.pruned))
		c.event(ctx, a, corev1.EventTypeNormal, "Applied",
			fmt.Sprintf("Applied %s: %d objects, %d pruned", f.name, len(r.applied), len(r.pruned)))
		return
	}
	st.applied = false
	st.failures++
	st.retryAt = c.pass + min(1<<min(st.failures-1, 8), maxRetryPasses)
	if r.err != nil {
		c.log.Error("manifest apply failed", "file", f.name, "err", r.err)
		c.event(ctx, a, corev1.EventTypeWarning, "ApplyFailed", f.name+": "+oneLine(r.err, errorLimit))
	}
	if putErr != nil {
		c.log.Error("cannot record the state of a manifest", "file", f.name, "addon", a.Name, "err", putErr)
	}
}

// event emits an Event about an Addon; failing to is only logged.
func (c *Controller) event(ctx context.Context, a *addon, typ, reason, msg string) {
	if err := c.cl.event(ctx, a, typ, reason, msg); err != nil {
		c.log.Debug("cannot emit event", "addon", a.Name, "reason", reason, "err", err)
	}
}
