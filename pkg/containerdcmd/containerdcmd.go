// Package containerdcmd runs the containerd programs that edgek carries in its own binary:
// the containerd daemon and ctr. It is the one package that links them. The runc shim is a
// separate small binary (see pkg/data): linked in here it would register every daemon plugin
// in each shim process.
package containerdcmd

import (
	"context"
	"fmt"
	"os"

	_ "github.com/containerd/containerd/v2/cmd/containerd/builtins" // every plugin containerd ships, CRI included
	"github.com/containerd/containerd/v2/cmd/containerd/command"
	ctr "github.com/containerd/containerd/v2/cmd/ctr/app"
)

// Containerd runs the containerd daemon with args (args[0] is the program name).
func Containerd(args []string) int {
	if err := command.App().Run(context.Background(), args); err != nil {
		fmt.Fprintln(os.Stderr, "containerd:", err)
		return 1
	}
	return 0
}

// Ctr runs ctr with args (args[0] is the program name) against address unless the
// caller gave --address or $CONTAINERD_ADDRESS.
func Ctr(args []string, address string) int {
	if os.Getenv("CONTAINERD_ADDRESS") == "" {
		os.Setenv("CONTAINERD_ADDRESS", address)
	}
	if os.Getenv("CONTAINERD_NAMESPACE") == "" {
		os.Setenv("CONTAINERD_NAMESPACE", "k8s.io")
	}
	if err := ctr.New().Run(context.Background(), args); err != nil {
		fmt.Fprintln(os.Stderr, "ctr:", err)
		return 1
	}
	return 0
}
