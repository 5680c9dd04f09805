// Package deploy keeps the manifests of <data-dir>/server/manifests applied to the cluster,
// like K3s's auto-deploying manifests ("AddOns").
//
// Every *.yaml, *.yml and *.json file in the directory or a subdirectory of it (hidden files
// and directories are left out) is applied with server-side apply (field manager "edgek",
// conflicts forced) at start-up and again whenever its content changes; a file may hold
// several YAML documents, List objects or concatenated JSON objects. Namespaced objects
// without a namespace go to "default". CustomResourceDefinitions of a file are applied first,
// then its Namespaces, then the rest in file order.
//
// Each file is tracked by a cluster-scoped Addon (addons.edgek.io) named after the file (its
// path in the directory without extension, made a DNS label: sub/a.yaml is "sub-a"); when two
// files get the same name, the first in path order keeps it and the other is not applied. The
// Addon's status records the content checksum, whether the last apply succeeded, the last
// error and the objects applied. When a changed file no longer holds an object it held
// before, the object is deleted (pruned). A file that fails is retried on later scans (after
// 1, 2, 4... scans, at most 30) and at once when it changes; the other files are applied
// regardless.
//
// A file NAME.skip beside a manifest NAME stops edgek from managing it: it is neither applied
// nor pruned and its Addon says skipped. Removing a file from the directory leaves its objects
// in the cluster (as K3s does) and deletes only its Addon.
//
// Bundled manifests (CoreDNS, dashboard) are written to the directory at every start,
// replacing what is there under the same name, unless a .skip file beside it keeps the user's
// version. A disabled bundled addon's file is removed instead, and the objects its bundled
// manifest created are deleted with its Addon.
package deploy

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/fsutil"
	"github.com/fsnotify/fsnotify"
)

// DefaultInterval is how often the directory is scanned when Options.Interval is zero.
const DefaultInterval = 10 * time.Second

// debounce is how long the controller waits after a file system event before scanning, so
// that a file being written is read once it is complete.
const debounce = 500 * time.Millisecond

// Options configure a Controller.
type Options struct {
	// Dir is the manifests directory, <data-dir>/server/manifests; created if missing.
	Dir string
	// Kubeconfig is the path of the admin kubeconfig.
	Kubeconfig string
	// Bundled maps file names ("coredns.yaml") to rendered bundled manifests. They are
	// written to Dir at every start (when their content differs), replacing files of the
	// same name that have no .skip file beside them; other files in Dir are never touched.
	Bundled map[string][]byte
	// Disabled lists bundled addons (file names without extension, e.g. "dashboard") not to
	// run: their file is not written and is removed from Dir, and the objects they created
	// are deleted with their Addon. A name that is not bundled is logged and ignored.
	Disabled []string
	// Interval is how often Dir is rescanned; default DefaultInterval. File system events
	// trigger a scan sooner.
	Interval time.Duration
	// Log receives the controller's log lines; default: none.
	Log *slog.Logger
}

// Controller applies the manifests of a directory and keeps them applied.
type Controller struct {
	o   Options
	log *slog.Logger

	// Replaced by tests.
	connect func(kubeconfig string) (cluster, error)
	now     func() time.Time

	// Used by Start, then only by the background loop.
	cl           cluster
	files        map[string]*fileState // by file name
	disabledDone map[string]bool
	pass         int

	ready   chan struct{}
	task    *daemon.Task
	watcher *fsnotify.Watcher
}

var _ daemon.Component = (*Controller)(nil)

// New returns a Controller; nothing happens before Start.
func New(o Options) *Controller {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{
		o:            o,
		log:          log,
		connect:      connectKube,
		now:          time.Now,
		files:        map[string]*fileState{},
		disabledDone: map[string]bool{},
		ready:        make(chan struct{}),
	}
}

// Name implements daemon.Component.
func (c *Controller) Name() string { return "deploy" }

// Start implements daemon.Component: it makes sure the Addon CRD exists, writes the bundled
// manifests, removes disabled addons and applies every manifest once, then watches the
// directory in the background. A manifest that fails to apply does not fail Start: it is
// reported in its Addon, an Event and the log.
func (c *Controller) Start(ctx context.Context, fail func(error)) error {
	if err := c.firstPass(ctx); err != nil {
		return err
	}
	close(c.ready)

	w, err := fsnotify.NewWatcher()
	if err == nil {
		err = w.Add(c.o.Dir)
		if err != nil {
			w.Close()
		}
	}
	if err != nil {
		c.log.Warn("cannot watch the manifests directory, scanning it periodically only",
			"dir", c.o.Dir, "interval", c.o.Interval, "err", err)
		w = nil
	}
	c.watcher = w
	c.task = daemon.Go(ctx, fail, c.loop)
	return nil
}

// Ready implements daemon.Component: it returns once the first pass over the directory is
// done (Start does it).
func (c *Controller) Ready(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Stop implements daemon.Component.
func (c *Controller) Stop() {
	c.task.Stop()
	if c.watcher != nil {
		c.watcher.Close()
	}
}

// firstPass does what Start does before watching the directory.
func (c *Controller) firstPass(ctx context.Context) error {
	cl, err := c.connect(c.o.Kubeconfig)
	if err != nil {
		return err
	}
	c.cl = cl
	if err := cl.ensureCRD(ctx); err != nil {
		return fmt.Errorf("addon CRD: %w", err)
	}
	if err := c.stage(); err != nil {
		return err
	}
	if err := c.loadAddons(ctx); err != nil {
		return err
	}
	c.runPass(ctx)
	return nil
}

// loadAddons remembers the files existing Addons were made from, so that the first pass
// deletes the Addons of files removed while edgek was down. Addons of disabled bundled
// addons are left to disableAddons.
func (c *Controller) loadAddons(ctx context.Context) error {
	addons, err := c.cl.listAddons(ctx)
	if err != nil {
		return fmt.Errorf("list addons: %w", err)
	}
	disabled := c.disabledNames()
	for _, a := range addons {
		if disabled[a.Name] || a.Source == "" {
			continue
		}
		if _, ok := c.files[a.Source]; !ok {
			c.files[a.Source] = &fileState{addon: a.Name}
		}
	}
	return nil
}

// loop rescans the directory every interval and shortly after file system events.
func (c *Controller) loop(ctx context.Context) error {
	ticker := time.NewTicker(c.o.Interval)
	defer ticker.Stop()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if c.watcher != nil {
		events, errs = c.watcher.Events, c.watcher.Errors
	}
	var soon <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
			c.runPass(ctx)
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if soon == nil {
				soon = time.After(debounce)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			c.log.Warn("manifests directory watch error", "dir", c.o.Dir, "err", err)
		case <-soon:
			soon = nil
			c.runPass(ctx)
			ticker.Reset(c.o.Interval)
		}
	}
}

// stage creates the directory, writes the bundled manifests (but not over one with a .skip
// file beside it) and removes those of disabled addons.
func (c *Controller) stage() error {
	if err := os.MkdirAll(c.o.Dir, 0o700); err != nil {
		return fmt.Errorf("manifests directory: %w", err)
	}
	disabled := c.disabledNames()
	for name, content := range c.o.Bundled {
		if filepath.Base(name) != name || !isManifestName(name) {
			return fmt.Errorf("bundled manifest %q: not a manifest file name", name)
		}
		path := filepath.Join(c.o.Dir, name)
		if disabled[addonName(name)] {
			err := os.Remove(path)
			if err == nil {
				c.log.Info("removed the manifest of a disabled addon", "file", name)
			} else if !os.IsNotExist(err) {
				return fmt.Errorf("remove disabled manifest: %w", err)
			}
			continue
		}
		if _, err := os.Stat(path + ".skip"); err == nil {
			continue // the user keeps their own version of it
		}
		// Temporary files are hidden, never taken for a manifest.
		if err := fsutil.WriteFileIfChanged(path, content, 0o600); err != nil {
			return fmt.Errorf("write bundled manifest %s: %w", name, err)
		}
	}
	return nil
}

// disabledNames returns the set of disabled addon names.
func (c *Controller) disabledNames() map[string]bool {
	m := make(map[string]bool, len(c.o.Disabled))
	for _, n := range c.o.Disabled {
		m[n] = true
	}
	return m
}
