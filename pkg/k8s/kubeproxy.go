package k8s

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/kubernetes/cmd/kube-proxy/app"
)

// PrepareKubeProxy parses and validates kube-proxy arguments. The returned function runs
// kube-proxy until its context is cancelled.
func PrepareKubeProxy(args []string) (RunFunc, error) {
	opts := app.NewOptions()
	fs := pflag.NewFlagSet("kube-proxy", pflag.ContinueOnError)
	fs.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	opts.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("kube-proxy arguments: %w", err)
	}
	if err := opts.Complete(fs); err != nil {
		return nil, fmt.Errorf("complete kube-proxy options: %w", err)
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("kube-proxy options: %w", err)
	}
	return func(ctx context.Context) error {
		// Options.Run never returns once the proxy runs, even after ctx ends.
		errCh := make(chan error, 1)
		go func() { errCh <- opts.Run(ctx) }()
		select {
		case err := <-errCh:
			return err
		case <-ctx.Done():
			return nil
		}
	}, nil
}
