//go:build vm

// Package vm proves edgek on real Debian bookworm machines with systemd and cgroup v2: it boots
// VMs under qemu (TCG emulation, user-mode networking with restrict=on, so no traffic leaves
// this machine), serves a release over HTTPS on loopback, and drives the guests over SSH
// through the README's `curl -sfL ... | sh -`. It needs root (the image build). Run it with
// `make vm-test` (amd64) or `make vm-test-arm64`.
//
// Environment:
//
//	EDGEK_VM_ARCH       guest architecture: amd64 (default) or arm64
//	EDGEK_DIST          release dir as `make release` writes it (default: dist/ when it holds
//	                    edgek-<arch>, else EDGEK_BIN or bin/edgek for amd64)
//	EDGEK_UPGRADE_VERSION  the version EDGEK_UPGRADE_BIN reports
//	EDGEK_UPGRADE_BIN   the "newer build" for the upgrade step (default: built from the tree
//	                    with another version stamped)
//	EDGEK_VM_ARTIFACTS  where console logs of failed runs go (default _artifacts/vm)
//	EDGEK_VM_CACHE      image cache (default /var/cache/edgek-vm; see scripts/vm-image.sh)
package vm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var (
	repoRoot     string
	guestArch    string
	imageDir     string // output of scripts/vm-image.sh: rootfs.img, vmlinuz, initrd, key
	artifactsDir string
)

func TestMain(m *testing.M) {
	// qemu's guestfwd runs this binary as `vm.test relay ADDR` for each guest connection.
	if len(os.Args) == 3 && os.Args[1] == "relay" {
		os.Exit(relay(os.Args[2]))
	}
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "vm:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setup() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("these tests build VM images and need root (run `sudo make vm-test`)")
	}
	// go test runs in the package's directory (runtime.Caller is no help under -trimpath).
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	guestArch = envOr("EDGEK_VM_ARCH", "amd64")
	if guestArch != "amd64" && guestArch != "arm64" {
		return fmt.Errorf("EDGEK_VM_ARCH=%q: want amd64 or arm64", guestArch)
	}
	artifactsDir = envOr("EDGEK_VM_ARTIFACTS", filepath.Join(repoRoot, "_artifacts", "vm"))
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		return fmt.Errorf("artifacts dir: %w", err)
	}
	cmd := exec.Command(filepath.Join(repoRoot, "scripts", "vm-image.sh"), guestArch)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("scripts/vm-image.sh %s: %w", guestArch, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	imageDir = lines[len(lines)-1]
	if _, err := os.Stat(filepath.Join(imageDir, "rootfs.img")); err != nil {
		return fmt.Errorf("vm image: %w", err)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
