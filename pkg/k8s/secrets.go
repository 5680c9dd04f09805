package k8s

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RewriteSecrets updates every Secret unchanged, so that the apiserver stores each one again
// with its current encryption key (it rewrites only those stored with another key or in
// plain text), and returns how many it updated. A Secret changed or deleted meanwhile was
// written with the current key anyway.
func RewriteSecrets(ctx context.Context, adminKubeconfig string) (int, error) {
	cs, err := Client(adminKubeconfig)
	if err != nil {
		return 0, err
	}
	n := 0
	opts := metav1.ListOptions{Limit: 100}
	for {
		list, err := cs.CoreV1().Secrets("").List(ctx, opts)
		if err != nil {
			return n, fmt.Errorf("list Secrets: %w", err)
		}
		for i := range list.Items {
			s := &list.Items[i]
			_, err := cs.CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
			switch {
			case err == nil:
				n++
			case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			default:
				return n, fmt.Errorf("rewrite Secret %s/%s: %w", s.Namespace, s.Name, err)
			}
		}
		if list.Continue == "" {
			return n, nil
		}
		opts.Continue = list.Continue
	}
}
