// Package encryption is the server's side of secrets encryption at rest that goes through
// the apiserver: rewriting every Secret with the active key (at a server's start, after
// --secrets-encryption is turned on or a rotation was cut short) and rotating the key of a
// running server (`edgek secrets-encrypt rotate-keys`). The key files are pkg/secretsenc's.
// Only servers use it; nodes never import it.
package encryption

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgek-io/edgek/pkg/secretsenc"
)

// RewriteSecrets updates every Secret unchanged, so that the apiserver stores each one again
// with its current encryption key (it rewrites only those stored with another key or in
// plain text), and returns how many it updated. A Secret changed or deleted meanwhile was
// written with the current key anyway.
//
// cs has the admin credentials.
func RewriteSecrets(ctx context.Context, cs kubernetes.Interface) (int, error) {
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

// reloadMetric counts the apiserver's reloads of its encryption config, by status.
const reloadMetric = "apiserver_encryption_config_controller_automatic_reloads_total"

// RotateKey replaces the secrets encryption key of a running server, without a restart: a
// new key is put first in the config (the old ones still decrypt), the apiserver loads it
// (automatic reload, checked through its metrics), every Secret is rewritten with it, and the
// old keys are removed. Progress is written to out. If a step fails, the config keeps every
// key that may still be in use, and the server's next start finishes the rewrite.
//
// client makes a client with the admin credentials; it is called once the key files are
// found, so that a server without encryption is told so, whether it runs or not.
func RotateKey(ctx context.Context, client func() (kubernetes.Interface, error), f secretsenc.Files, now time.Time, out io.Writer) error {
	keys, err := f.Keys()
	if errors.Is(err, fs.ErrNotExist) {
		return errors.New("secrets encryption is not enabled: start the server with --secrets-encryption first")
	}
	if err != nil {
		return err
	}
	cs, err := client()
	if err != nil {
		return err
	}
	loaded, err := reloads(ctx, cs)
	if err != nil {
		return fmt.Errorf("%w (rotate-keys needs the server running, on this machine, as root)", err)
	}
	key, err := secretsenc.NewKey(now)
	if err != nil {
		return err
	}
	if err := f.Write(append([]secretsenc.Key{key}, keys...)); err != nil {
		return err
	}
	fmt.Fprintf(out, "new key %s added; waiting for the apiserver to load it\n", key.Name)
	if loaded, err = waitReload(ctx, cs, loaded); err != nil {
		return err
	}
	n, err := RewriteSecrets(ctx, cs)
	if err != nil {
		return fmt.Errorf("%w (the old keys stay in the config; the server rewrites the rest when it starts)", err)
	}
	if err := f.SetRewritten(key.Name); err != nil {
		return err
	}
	fmt.Fprintf(out, "rewrote %d Secrets with %s\n", n, key.Name)
	if err := f.Write([]secretsenc.Key{key}); err != nil {
		return err
	}
	if _, err := waitReload(ctx, cs, loaded); err != nil {
		return err
	}
	fmt.Fprintf(out, "removed %d old key(s); the active key is %s\n", len(keys), key.Name)
	return nil
}

// waitReload waits until the apiserver has loaded its encryption config once more than the
// counts in before, and returns the new counts. A failed load is an error: the apiserver
// goes on with the config it had.
func waitReload(ctx context.Context, cs kubernetes.Interface, before reloadCounts) (reloadCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		now, err := reloads(ctx, cs)
		switch {
		case err != nil && ctx.Err() != nil:
			return now, fmt.Errorf("the apiserver did not load the new encryption config within 3 minutes: %w", err)
		case err == nil && now.failure > before.failure:
			return now, errors.New("the apiserver failed to load the new encryption config; see the server's log (component k8s, encryption)")
		case err == nil && now.success > before.success:
			return now, nil
		}
		select {
		case <-ctx.Done():
			return now, errors.New("the apiserver did not load the new encryption config within 3 minutes; see the server's log")
		case <-time.After(time.Second):
		}
	}
}

type reloadCounts struct{ success, failure float64 }

// reloads reads the apiserver's encryption config reload counters from its metrics.
func reloads(ctx context.Context, cs kubernetes.Interface) (reloadCounts, error) {
	body, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return reloadCounts{}, fmt.Errorf("read the apiserver's metrics: %w", err)
	}
	return parseReloads(string(body)), nil
}

// parseReloads sums the reload counters in Prometheus text (0 before the first reload: the
// apiserver adds the series then).
func parseReloads(metrics string) reloadCounts {
	var c reloadCounts
	for line := range strings.Lines(metrics) {
		name, rest, ok := strings.Cut(line, "{")
		if !ok || name != reloadMetric {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(labels, `status="success"`):
			c.success += v
		case strings.Contains(labels, `status="failure"`):
			c.failure += v
		}
	}
	return c
}
