// Package images imports container image archives into containerd, which is how images reach
// an air-gapped edgek node: no registry is needed.
//
// Archives are docker-archive (`docker save`) or OCI image layout tars (`ctr images export`,
// `skopeo copy oci-archive:`, pkg/oci), plain or compressed with gzip or zstd (detected from
// the content). They are imported into containerd's "k8s.io" namespace, the one the CRI plugin
// serves to the kubelet, for the current platform only, then unpacked into the overlayfs
// snapshotter so the first container start does not pay for it. Imported images carry the CRI
// labels io.cri-containerd.image=managed and io.cri-containerd.pinned=pinned: the CRI reports
// them as pinned and the kubelet's image garbage collector never removes them (an air-gapped
// node could not get them back).
//
// An Importer also watches <data-dir>/agent/images: every *.tar, *.tar.gz, *.tgz, *.tar.zst or
// *.tar.zstd file there is imported once, and again whenever its size or mtime changes.
package images

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
)

const (
	// Namespace is the containerd namespace of the CRI plugin.
	Namespace = "k8s.io"
	// Snapshotter is the snapshotter images are unpacked into (the CRI plugin's).
	Snapshotter = "overlayfs"

	// CRI labels, as defined in containerd v2.4.2 internal/cri/labels/labels.go (an internal
	// package, so they are repeated here).
	criImageLabelKey    = "io.cri-containerd.image"
	criImageLabelValue  = "managed"
	criPinnedLabelKey   = "io.cri-containerd.pinned"
	criPinnedLabelValue = "pinned"

	// PollInterval is how often Watch re-scans the directory.
	PollInterval = 2 * time.Second
	// settleTime is how old a file's mtime must be for the file to be imported on the first
	// scan that sees it; a younger file may still be being written and waits for a second scan
	// that finds its size and mtime unchanged.
	settleTime = 2 * time.Second
)

// Importer imports image archives into containerd. Its methods are safe for concurrent use.
type Importer struct {
	address   string
	dir       string
	stateFile string
	log       *slog.Logger

	// Replaced by tests.
	now          func() time.Time
	interval     time.Duration
	importFn     func(ctx context.Context, tar io.Reader) ([]string, error) // tar is uncompressed
	listImagesFn func(ctx context.Context) (map[string]bool, error)

	scanMu sync.Mutex // one scan at a time; guards the fields below
	dirState

	clientMu sync.Mutex
	client   *containerd.Client
}

// New returns an Importer for the containerd at address (a unix socket path) and the archive
// directory dir (<data-dir>/agent/images). stateFile (<data-dir>/agent/images.state.json)
// records which archives were imported so that a restart does not import unchanged archives
// again. containerd is contacted on first use, not by New.
func New(address, dir, stateFile string, log *slog.Logger) *Importer {
	i := &Importer{
		address:   address,
		dir:       dir,
		stateFile: stateFile,
		log:       log,
		now:       time.Now,
		interval:  PollInterval,
	}
	i.importFn = i.importTar
	i.listImagesFn = i.listImages
	return i
}

// importStream decompresses r if needed and imports the tar inside.
func (i *Importer) importStream(ctx context.Context, r io.Reader) ([]string, error) {
	tr, closeFn, err := decompress(r)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	names, err := i.importFn(ctx, tr)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrHeader) {
		err = fmt.Errorf("not a complete tar archive (docker save or OCI layout, optionally gzip or zstd): %w", err)
	}
	return names, err
}

// ImportDir imports every archive in the directory that was not imported before (or changed
// since), creating the directory if it is missing. An archive whose mtime is less than two
// seconds old may still be being written and is left for Watch. A bad archive is logged and
// skipped; the error returned is about the directory, the state file or containerd being
// unreachable.
func (i *Importer) ImportDir(ctx context.Context) error {
	if err := mkdirAll(i.dir); err != nil {
		return err
	}
	return i.scan(ctx)
}

// Watch scans the directory at once and then every PollInterval until ctx ends, importing
// archives that are new or changed once their size and mtime hold still between two scans.
func (i *Importer) Watch(ctx context.Context) {
	ticker := time.NewTicker(i.interval)
	defer ticker.Stop()
	var lastErr string
	for {
		err := i.scan(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && err.Error() != lastErr:
			// Logged once until it changes or clears: containerd may be restarting.
			i.log.Warn("image directory scan failed", "dir", i.dir, "err", err)
			lastErr = err.Error()
		case err == nil && lastErr != "":
			i.log.Info("image directory scan recovered", "dir", i.dir)
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Close closes the connection to containerd, if one was opened.
func (i *Importer) Close() error {
	i.clientMu.Lock()
	defer i.clientMu.Unlock()
	if i.client == nil {
		return nil
	}
	err := i.client.Close()
	i.client = nil
	return err
}

// errNoImages is returned for an archive that holds no named image for this platform.
var errNoImages = errors.New("archive holds no named image")
