// Package data carries the programs edgek needs on a node that cannot be Go imports of its
// CGO_ENABLED=0 binary: a static runc (cgo); the upstream CNI plugins bridge, host-local,
// loopback and portmap, and crictl (package main upstream); containerd's runc shim (a separate
// small program, as K3s ships it, so that each shim's memory stays low); pause, CoreDNS and the
// dashboard, the programs of the images edgek builds at start for the pod sandbox and the
// bundled addons. They are built by `make data` (scripts/build-data.sh: runc, the plugins, the
// shim and pause from the module in build/tools; crictl, CoreDNS and the dashboard from their
// own modules under build/), embedded as one zstd-compressed tar, and laid out at start-up by
// Extract.
package data

import (
	_ "embed"
	"slices"
	"strings"
)

var (
	//go:embed assets/data.tar.zst
	archive []byte
	//go:embed assets/data.sha256
	archiveSHA256 string
	//go:embed assets/data.goarch
	archiveGOARCH string
)

// names is what the archive holds under bin/; scripts/build-data.sh builds the same list.
var names = []string{"bridge", "containerd-shim-runc-v2", "coredns", "crictl", "dashboard", "host-local", "loopback", "pause", "portmap", "runc"}

// Names returns the names of the binaries Extract lays out, sorted.
func Names() []string { return slices.Clone(names) }

// Version returns the first 16 hex digits of the embedded archive's sha256: the name of its
// directory under <data-dir>/data.
func Version() string { return embedded().version() }

// Extract lays out the embedded binaries in <dataDir>/data/<Version()>/bin and returns that
// directory. If it is already complete, Extract returns at once without reading the archive.
// Otherwise it first removes every other version and leftover under <dataDir>/data (best
// effort; it frees space on small disks), then extracts into a temporary directory beside it,
// syncs it and renames it into place. Concurrent calls for the same data dir are serialised by
// a lock file.
func Extract(dataDir string) (binDir string, err error) {
	return extract(dataDir, embedded())
}

// bundle is an archive with its metadata; tests build their own.
type bundle struct {
	archive []byte
	sha256  string // hex
	goarch  string
	names   []string
}

func embedded() bundle {
	return bundle{
		archive: archive,
		sha256:  strings.TrimSpace(archiveSHA256),
		goarch:  strings.TrimSpace(archiveGOARCH),
		names:   names,
	}
}

func (b bundle) version() string {
	if len(b.sha256) < 16 {
		return b.sha256
	}
	return b.sha256[:16]
}
