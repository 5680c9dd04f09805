//go:build tools

// Package tools pins, in this module's go.mod/go.sum, the programs that edgek carries as
// binaries because they cannot be Go imports of the main (CGO_ENABLED=0) binary: runc (cgo), the
// upstream CNI plugins and containerd's runc shim (package main; the shim is also kept out of
// edgek because it would register every containerd daemon plugin in the shim process). scripts/build-data.sh builds them, with ./pause, and
// ./packdata packs them into pkg/data/assets. This is a separate module so that their dependency
// versions do not change the main module's.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containernetworking/plugins/plugins/ipam/host-local"
	_ "github.com/containernetworking/plugins/plugins/main/bridge"
	_ "github.com/containernetworking/plugins/plugins/main/loopback"
	_ "github.com/containernetworking/plugins/plugins/meta/portmap"
	_ "github.com/opencontainers/runc"
)
