package k8s

import (
	"context"
	"fmt"
	"time"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	encryptionconfigcontroller "k8s.io/apiserver/pkg/server/options/encryptionconfig/controller"
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
	// The encryption config (reloaded when `edgek secrets-encrypt rotate-keys` changes it) is
	// a small file in the page cache: checking it every 10 s instead of every minute costs
	// nothing measurable and keeps a rotation short.
	encryptionconfigcontroller.EncryptionConfigFileChangePollDuration = 10 * time.Second
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
