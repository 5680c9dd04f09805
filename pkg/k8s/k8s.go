// Package k8s runs the upstream Kubernetes programs in-process (kube-apiserver,
// kube-scheduler, kube-controller-manager, kubelet, kube-proxy, kubectl) and makes clients
// from kubeconfig files (Client). It is the one package that imports k8s.io/kubernetes, so
// that nothing else (and no unit test binary) links it. What a server sets up in its
// cluster through the apiserver is not here: see pkg/server/bootstrap and
// pkg/server/encryption.
//
// The upstream cobra commands are not used as-is: each installs its own SIGTERM handler
// (which panics when a second one is installed in the same process) and ignores the context
// it is given. The functions here do what those commands' RunE do, with edgek's context,
// and leave logging configuration to edgek.
package k8s

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
	cliflag "k8s.io/component-base/cli/flag"
)

// RunFunc runs a prepared component until ctx is cancelled or it fails.
type RunFunc = func(ctx context.Context) error

// parse applies command-line arguments to a component's named flag sets.
func parse(name string, nfs cliflag.NamedFlagSets, args []string) error {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	for _, f := range nfs.FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s arguments: %w", name, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s arguments: unexpected %q", name, fs.Args())
	}
	return nil
}
