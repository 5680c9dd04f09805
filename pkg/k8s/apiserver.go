package k8s

import (
	"context"
	"fmt"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// PrepareAPIServer parses and validates kube-apiserver arguments. The returned function
// serves until its context is cancelled.
func PrepareAPIServer(ctx context.Context, args []string) (RunFunc, error) {
	s := options.NewServerRunOptions()
	if err := parse("kube-apiserver", s.Flags(), args); err != nil {
		return nil, err
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return nil, fmt.Errorf("kube-apiserver feature gates: %w", err)
	}
	// The apiserver's loopback clients should not log warnings about its own requests.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	completed, err := s.Complete(ctx)
	if err != nil {
		return nil, fmt.Errorf("complete kube-apiserver options: %w", err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return nil, fmt.Errorf("kube-apiserver options: %w", utilerrors.NewAggregate(errs))
	}
	return func(ctx context.Context) error { return app.Run(ctx, completed) }, nil
}
