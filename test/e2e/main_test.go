//go:build e2e

// Package e2e runs real edgek processes on this machine, each inside a network namespace
// the test creates (its only way out is a bridge with no ports), and drives them with
// `edgek kubectl`. It needs root. Run it with `make e2e`.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var (
	// edgekBin is the binary under test (EDGEK_BIN, else built once by `make build`).
	edgekBin string
	// artifactsDir keeps server logs and screenshots for CI to show (EDGEK_E2E_ARTIFACTS).
	artifactsDir string
)

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: these tests start real clusters and need root (run `sudo make e2e`)")
		os.Exit(1)
	}
	// go test runs in the package directory (runtime.Caller gives a module path under
	// make's -trimpath, which put artifacts under test/e2e/github.com/...).
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: working directory:", err)
		os.Exit(1)
	}
	root := filepath.Join(wd, "..", "..")
	edgekBin = os.Getenv("EDGEK_BIN")
	if edgekBin == "" {
		cmd := exec.Command("make", "-C", root, "build")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: make build:", err)
			os.Exit(1)
		}
		edgekBin = filepath.Join(root, "bin", "edgek")
	}
	artifactsDir = os.Getenv("EDGEK_E2E_ARTIFACTS")
	if artifactsDir == "" {
		artifactsDir = filepath.Join(root, "_artifacts")
	}
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	restore := saveHostState()
	code := m.Run()
	restore()
	os.Exit(code)
}

// hostSysctls are the host-wide sysctls the kubelet sets at start (it checks the kernel
// defaults it wants and, with protectKernelDefaults off, writes them); the run puts them back.
var hostSysctls = []string{
	"kernel/panic", "kernel/panic_on_oops", "vm/overcommit_memory",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// saveHostState records what the clusters under test change outside their network
// namespaces and data dirs, and returns a function that restores it: the sysctls above, and
// /var/lib/kubelet (the kubelet's device-plugin socket dir, which it makes whatever its root
// dir) when it did not exist before.
func saveHostState() func() {
	saved := map[string][]byte{}
	for _, name := range hostSysctls {
		if v, err := os.ReadFile(filepath.Join("/proc/sys", name)); err == nil {
			saved[name] = v
		}
	}
	_, err := os.Stat("/var/lib/kubelet")
	kubeletDirNew := os.IsNotExist(err)
	return func() {
		for name, v := range saved {
			if err := os.WriteFile(filepath.Join("/proc/sys", name), v, 0o644); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: restore sysctl %s: %v\n", name, err)
			}
		}
		if kubeletDirNew {
			if err := os.RemoveAll("/var/lib/kubelet"); err != nil {
				fmt.Fprintln(os.Stderr, "e2e: remove /var/lib/kubelet:", err)
			}
		}
	}
}
