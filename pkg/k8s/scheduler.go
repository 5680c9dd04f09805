package k8s

import (
	"context"
	"fmt"

	"k8s.io/client-go/tools/cache"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
	"k8s.io/kubernetes/cmd/kube-scheduler/app/options"
)

// PrepareScheduler parses kube-scheduler arguments. The returned function sets the
// scheduler up and runs it until its context is cancelled.
func PrepareScheduler(args []string) (RunFunc, error) {
	opts := options.NewOptions()
	if err := parse("kube-scheduler", *opts.Flags, args); err != nil {
		return nil, err
	}
	if err := opts.ComponentGlobalsRegistry.Set(); err != nil {
		return nil, fmt.Errorf("kube-scheduler feature gates: %w", err)
	}
	name, err := cache.NewInformerName("kube-scheduler")
	if err != nil {
		return nil, fmt.Errorf("kube-scheduler informer name: %w", err)
	}
	opts.InformerName = name
	return func(ctx context.Context) error {
		cc, sched, err := app.Setup(ctx, opts)
		if err != nil {
			return fmt.Errorf("set up kube-scheduler: %w", err)
		}
		return app.Run(ctx, cc, sched)
	}, nil
}
