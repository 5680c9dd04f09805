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
	"runtime"
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
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..")
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
	os.Exit(m.Run())
}
