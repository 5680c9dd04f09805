package localstorage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Node keeps one node's local-path volume directories: it publishes Dir on the node's Node
// object, makes the directory of every volume pinned to the node, and removes the
// directory of a volume with reclaim policy Delete once that volume is deleted (at once,
// or at start when it was deleted while the node was down). It only ever touches volume
// directories directly under Dir, and their markers.
//
// A marker (.<volume dir>.delete, beside the directory) records that the volume's reclaim
// policy was Delete when the node last saw it: a volume deleted while the node was down is
// removed only if it has one. A volume that only left this node's watch (its label changed,
// the node was renamed) still exists and is left alone.
type Node struct {
	Client   kubernetes.Interface // the node's credentials
	NodeName string
	Dir      string
	Log      *slog.Logger

	mu sync.Mutex // one change to Dir at a time
}

// Run keeps the directories until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	if err := os.MkdirAll(n.Dir, 0o700); err != nil {
		return fmt.Errorf("local storage: create %s: %w", n.Dir, err)
	}
	go n.publish(ctx)
	factory := informers.NewSharedInformerFactoryWithOptions(n.Client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = NodeLabel + "=" + NodeLabelValue(n.NodeName)
	}))
	inf := factory.Core().V1().PersistentVolumes().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { n.ensure(obj) },
		UpdateFunc: func(_, obj any) { n.ensure(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if pv, ok := obj.(*v1.PersistentVolume); ok {
				n.remove(ctx, pv)
			}
		},
	}); err != nil {
		return fmt.Errorf("local storage: watch volumes: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		n.collect(ctx, inf.GetStore())
	}
	<-ctx.Done()
	return nil
}

// publish sets the node's PathAnnotation, once the kubelet has registered the node.
func (n *Node) publish(ctx context.Context) {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{PathAnnotation: n.Dir}}})
	// Every few seconds while the kubelet registers the node: a claim's pod may be waiting.
	for delay := time.Second; ; delay = min(2*delay, 5*time.Second) {
		_, err := n.Client.CoreV1().Nodes().Patch(ctx, n.NodeName, types.MergePatchType, patch, metav1.PatchOptions{})
		if err == nil {
			n.Log.Debug("published the local storage dir", "dir", n.Dir)
			return
		}
		n.Log.Debug("cannot publish the local storage dir yet", "error", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// path returns the directory of pv if it is a volume directory of this node.
func (n *Node) path(pv *v1.PersistentVolume) (string, bool) {
	if pv.Spec.HostPath == nil {
		return "", false
	}
	p := pv.Spec.HostPath.Path
	if !isVolumePath(n.Dir, p) {
		n.Log.Warn("a local-path volume of this node is outside its storage dir (was --default-local-storage-path changed?): its directory is left alone",
			"volume", pv.Name, "path", p, "dir", n.Dir)
		return "", false
	}
	return p, true
}

// ensure makes pv's directory, writable by every user (pods run as any user), and keeps its
// marker in step with its reclaim policy.
func (n *Node) ensure(obj any) {
	pv, ok := obj.(*v1.PersistentVolume)
	if !ok || pv.DeletionTimestamp != nil {
		return
	}
	p, ok := n.path(pv)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mark(p, pv.Spec.PersistentVolumeReclaimPolicy == v1.PersistentVolumeReclaimDelete)
	err := os.Mkdir(p, 0o777)
	if errors.Is(err, fs.ErrExist) {
		return
	}
	if err == nil {
		err = os.Chmod(p, 0o777) // Mkdir's mode is masked by the umask
	}
	if err != nil {
		n.Log.Error("cannot make the directory of a local-path volume", "volume", pv.Name, "path", p, "error", err.Error())
		return
	}
	n.Log.Info("made the directory of a local-path volume", "volume", pv.Name, "path", p)
}

// marker is the file that says the volume at p is to be removed with its volume.
func marker(p string) string { return filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".delete") }

// mark makes or removes p's marker.
func (n *Node) mark(p string, del bool) {
	m := marker(p)
	_, err := os.Lstat(m)
	switch {
	case del && errors.Is(err, fs.ErrNotExist):
		err = os.WriteFile(m, nil, 0o600)
	case !del && err == nil:
		err = os.Remove(m)
	default:
		err = nil
	}
	if err != nil {
		n.Log.Warn("cannot record a local-path volume's reclaim policy", "path", p, "error", err.Error())
	}
}

// remove handles a volume that left the node's watch: its directory goes if its reclaim
// policy is Delete and the volume no longer exists.
func (n *Node) remove(ctx context.Context, pv *v1.PersistentVolume) {
	p, ok := n.path(pv)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if pv.Spec.PersistentVolumeReclaimPolicy != v1.PersistentVolumeReclaimDelete {
		n.mark(p, false)
		n.Log.Info("kept the directory of a deleted local-path volume (reclaim policy "+string(pv.Spec.PersistentVolumeReclaimPolicy)+")", "volume", pv.Name, "path", p)
		return
	}
	if n.exists(ctx, pv.Name, p) {
		return
	}
	n.removeDir(p, pv.Name)
}

// exists reports whether the volume still exists (or cannot be told: then it is kept).
func (n *Node) exists(ctx context.Context, name, p string) bool {
	_, err := n.Client.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false
	case err == nil:
		n.Log.Info("a local-path volume is no longer labelled for this node; its directory is left alone", "volume", name, "path", p)
	default:
		n.Log.Warn("cannot tell whether a local-path volume was deleted; its directory is kept until the next start", "volume", name, "path", p, "error", err.Error())
	}
	return true
}

func (n *Node) removeDir(p, volume string) {
	if err := os.RemoveAll(p); err != nil {
		n.Log.Error("cannot remove the directory of a deleted local-path volume", "volume", volume, "path", p, "error", err.Error())
		return
	}
	if err := os.Remove(marker(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		n.Log.Warn("cannot remove a local-path volume's marker", "path", marker(p), "error", err.Error())
	}
	n.Log.Info("removed the directory of a deleted local-path volume", "volume", volume, "path", p)
}

// collect removes the volume directories in Dir whose volume was deleted while the node
// was down (no volume of store, synced, names them; they have a marker; the volume does
// not exist), and markers left without a directory.
func (n *Node) collect(ctx context.Context, store cache.Store) {
	n.mu.Lock()
	defer n.mu.Unlock()
	entries, err := os.ReadDir(n.Dir)
	if err != nil {
		n.Log.Error("cannot list the local storage dir", "dir", n.Dir, "error", err.Error())
		return
	}
	live := map[string]bool{}
	for _, obj := range store.List() {
		if pv, ok := obj.(*v1.PersistentVolume); ok && pv.Spec.HostPath != nil {
			live[pv.Spec.HostPath.Path] = true
		}
	}
	for _, e := range entries {
		p := filepath.Join(n.Dir, e.Name())
		if name, ok := strings.CutPrefix(e.Name(), "."); ok && strings.HasSuffix(name, ".delete") {
			vol := filepath.Join(n.Dir, strings.TrimSuffix(name, ".delete"))
			if _, err := os.Lstat(vol); errors.Is(err, fs.ErrNotExist) && isVolumePath(n.Dir, vol) {
				os.Remove(p) // the directory is gone: a marker left by an interrupted removal
			}
			continue
		}
		if !e.IsDir() || !isVolumePath(n.Dir, p) || live[p] {
			continue
		}
		if _, err := os.Lstat(marker(p)); err != nil {
			continue // Retain, or made before markers: kept
		}
		volume, _, _ := strings.Cut(e.Name(), "_")
		if !n.exists(ctx, volume, p) {
			n.removeDir(p, volume)
		}
	}
}
