package k8s

import (
	"context"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
)

// PrepareControllerManager parses kube-controller-manager arguments. The returned function
// builds its configuration and runs the controllers until its context is cancelled.
func PrepareControllerManager(args []string) (RunFunc, error) {
	s, err := options.NewKubeControllerManagerOptions()
	if err != nil {
		return nil, fmt.Errorf("kube-controller-manager options: %w", err)
	}
	nfs := s.Flags(app.KnownControllers(), app.ControllersDisabledByDefault(), app.ControllerAliases())
	s.ParsedFlags = &nfs
	if err := parse("kube-controller-manager", nfs, args); err != nil {
		return nil, err
	}
	if err := s.ComponentGlobalsRegistry.Set(); err != nil {
		return nil, fmt.Errorf("kube-controller-manager feature gates: %w", err)
	}
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	return func(ctx context.Context) error {
		c, err := s.Config(ctx, app.KnownControllers(), app.ControllersDisabledByDefault(), app.ControllerAliases())
		if err != nil {
			return fmt.Errorf("configure kube-controller-manager: %w", err)
		}
		return app.Run(ctx, c.Complete())
	}, nil
}
