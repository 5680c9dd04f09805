// Package certwatch keeps a running node's certificates from lapsing. Every hour, and soon
// after a certificate file changes, it renews what is due (on a server: every leaf edgek
// signs, through the same code as at start) and warns, in the log and with an Event on the
// node, about every certificate that expires within pki.WarnBefore: a leaf that close was
// not renewed, and a CA is never renewed by itself.
//
// Renewed files are picked up where they are used, without a restart: the apiserver, the
// scheduler and the controller-manager reload their serving certificates and the apiserver
// its client certificates when the files change; the kubelet reloads its serving
// certificate; every client in edgek's process reads its certificate from the file its
// kubeconfig names (pki.WriteKubeconfigFiles) and client-go reconnects with the new one
// within minutes. Pods are not touched.
package certwatch

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/edgek-io/edgek/pkg/pki"
)

// Defaults.
const (
	// CheckEvery is how often the certificates are checked.
	CheckEvery = time.Hour
	// warnEvery is how often the same certificate is warned about.
	warnEvery = 24 * time.Hour
	// EventReason is the reason of the Events about certificates close to expiry.
	EventReason = "CertificateExpiring"
)

// settle is how long a change in a watched dir must be quiet before the check runs: a
// renewal writes several files. Shortened by tests.
var settle = 2 * time.Second

// Options configures a watcher. Built once by the caller.
type Options struct {
	// Dirs are the TLS dirs whose certificates are checked and watched for changes.
	Dirs []string
	// Renew issues again what is due; nil where the node renews nothing itself (a joined
	// node: its kubelet renews its certificates).
	Renew func() error
	// Node is the Node the Events are recorded on; Client returns a client to record them
	// with (called when the first Event is due, and again after a failure). Either empty:
	// warnings go to the log only.
	Node   string
	Client func() (kubernetes.Interface, error)
	// Log receives renewals' failures and the warnings. Required.
	Log *slog.Logger
	// Every is how often to check; default CheckEvery. Now is the clock; default time.Now.
	Every time.Duration
	Now   func() time.Time
}

// Run checks at once, then every Options.Every and after every change of a certificate
// file in Options.Dirs, until ctx ends. It returns ctx's error.
func Run(ctx context.Context, o Options) error {
	w := newWatcher(o)
	defer w.close()
	var (
		changes <-chan fsnotify.Event // nil: never
		fsErrs  <-chan error
	)
	if fw, err := fsnotify.NewWatcher(); err != nil {
		o.Log.Warn("cannot watch the certificate dirs; checking every interval only", "error", err.Error())
	} else {
		defer fw.Close()
		for _, d := range o.Dirs {
			if err := fw.Add(d); err != nil {
				o.Log.Warn("cannot watch a certificate dir; checking it every interval only", "dir", d, "error", err.Error())
			}
		}
		changes, fsErrs = fw.Events, fw.Errors
	}
	ticker := time.NewTicker(w.every)
	defer ticker.Stop()
	var settled <-chan time.Time
	w.check(ctx)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
			w.check(ctx)
		case ev := <-changes:
			if certFile(ev.Name) {
				settled = time.After(settle)
			}
		case err := <-fsErrs:
			o.Log.Debug("certificate dir watch", "error", err)
		case <-settled:
			settled = nil
			w.check(ctx)
		}
	}
}

// certFile reports whether a changed file may be a certificate or key.
func certFile(name string) bool {
	base := filepath.Base(name)
	if strings.HasPrefix(base, ".") { // fsutil.WriteFileAtomic's temp files
		return false
	}
	ext := filepath.Ext(base)
	return ext == ".crt" || ext == ".pem" || ext == ".key"
}

type watcher struct {
	o      Options
	every  time.Duration
	now    func() time.Time
	warned map[string]warning // by path

	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
}

// warning is when a certificate was last warned about, and its expiry then.
type warning struct{ at, notAfter time.Time }

func newWatcher(o Options) *watcher {
	w := &watcher{o: o, every: o.Every, now: o.Now, warned: map[string]warning{}}
	if w.every <= 0 {
		w.every = CheckEvery
	}
	if w.now == nil {
		w.now = time.Now
	}
	return w
}

func (w *watcher) close() {
	if w.broadcaster != nil {
		w.broadcaster.Shutdown()
	}
}

// check renews what is due, then warns about what expires soon.
func (w *watcher) check(ctx context.Context) {
	if w.o.Renew != nil {
		if err := w.o.Renew(); err != nil {
			w.o.Log.Error("certificate renewal failed; retrying within the hour", "error", err.Error())
		}
	}
	certs, err := pki.ListCerts(w.o.Dirs...)
	if err != nil {
		w.o.Log.Error("cannot read the certificates", "error", err.Error())
		return
	}
	now := w.now()
	for _, c := range certs {
		left := c.NotAfter.Sub(now)
		if left >= pki.WarnBefore {
			delete(w.warned, c.Path)
			continue
		}
		if last, ok := w.warned[c.Path]; ok && last.notAfter.Equal(c.NotAfter) && now.Sub(last.at) < warnEvery {
			continue
		}
		w.warned[c.Path] = warning{at: now, notAfter: c.NotAfter}
		msg := message(c, left)
		w.o.Log.Warn(msg, "file", c.Path, "subject", c.Subject, "not-after", c.NotAfter.UTC().Format(time.RFC3339))
		w.event(ctx, msg)
	}
}

// message says which certificate expires when, and what to do.
func message(c pki.CertFile, left time.Duration) string {
	what := "certificate " + filepath.Base(c.Path)
	if c.IsCA {
		what = "CA certificate " + filepath.Base(c.Path)
	}
	when := fmt.Sprintf("expires in %d days (%s)", int(left.Hours()/24), c.NotAfter.UTC().Format("2006-01-02"))
	if left <= 0 {
		when = "has expired (" + c.NotAfter.UTC().Format("2006-01-02") + ")"
	}
	advice := "it was not renewed: see the edgek log for the renewal's error, and edgek certificate check"
	if c.IsCA {
		advice = "CAs are not renewed automatically: plan new certificates for the cluster (README: Data dir, certificates and token)"
	}
	return fmt.Sprintf("%s %s; %s", what, when, advice)
}

// event records a Warning Event on the node; failures are logged at debug level (the
// warning is in the log already) and retried with the next warning.
func (w *watcher) event(ctx context.Context, msg string) {
	if w.o.Node == "" || w.o.Client == nil {
		return
	}
	if w.recorder == nil {
		client, err := w.o.Client()
		if err != nil {
			w.o.Log.Debug("no client to record certificate Events", "error", err.Error())
			return
		}
		w.broadcaster = record.NewBroadcaster(record.WithContext(ctx))
		w.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
		w.recorder = w.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "edgek", Host: w.o.Node})
	}
	// A Node's Events name it by its name as UID, as the kubelet's do, so that
	// kubectl describe node shows them.
	ref := &corev1.ObjectReference{Kind: "Node", Name: w.o.Node, UID: types.UID(w.o.Node)}
	w.recorder.Event(ref, corev1.EventTypeWarning, EventReason, msg)
}
