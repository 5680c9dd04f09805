package deploy

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/edgek-io/edgek/test/testutil"
)

// fakeCluster is an in-memory cluster. It knows a few built-in kinds; the kinds of CRDs it
// is given become known when crdsApplied is called, as discovery would make them.
type fakeCluster struct {
	mu         sync.Mutex
	namespaced map[schema.GroupKind]bool // known kinds and their scope
	pending    map[schema.GroupKind]bool // kinds of CRDs applied, not yet discovered
	objects    map[string]*unstructured.Unstructured
	addons     map[string]*addon
	events     []fakeEvent
	applies    []string          // every apply attempt, as "Kind ns/name"
	deletes    []string          // every object deleted
	failApply  map[string]string // object name -> error to return
	changed    chan struct{}     // signalled after every apply, if set
}

type fakeEvent struct {
	addon, uid, typ, reason, msg string
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{
		namespaced: map[schema.GroupKind]bool{
			{Kind: "ConfigMap"}:                 true,
			{Kind: "Service"}:                   true,
			{Kind: "Namespace"}:                 false,
			{Group: "apps", Kind: "Deployment"}: true,
			{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:         false,
			{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: false,
		},
		pending:   map[schema.GroupKind]bool{},
		objects:   map[string]*unstructured.Unstructured{},
		addons:    map[string]*addon{},
		failApply: map[string]string{},
	}
}

func (f *fakeCluster) ensureCRD(context.Context) error { return nil }

func (f *fakeCluster) apply(_ context.Context, obj *unstructured.Unstructured) (objectRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer func() {
		if f.changed != nil {
			select {
			case f.changed <- struct{}{}:
			default:
			}
		}
	}()
	gvk := obj.GroupVersionKind()
	f.applies = append(f.applies, refOf(obj).String())
	namespaced, ok := f.namespaced[gvk.GroupKind()]
	if !ok {
		return objectRef{}, fmt.Errorf("no matches for kind %q in version %q", gvk.Kind, gvk.GroupVersion())
	}
	if msg := f.failApply[obj.GetName()]; msg != "" {
		return objectRef{}, fmt.Errorf("%s", msg)
	}
	switch {
	case !namespaced:
		obj.SetNamespace("")
	case obj.GetNamespace() == "":
		obj.SetNamespace("default")
	}
	if isCRD(obj) {
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(obj.Object, "spec", "scope")
		f.pending[schema.GroupKind{Group: group, Kind: kind}] = scope == "Namespaced"
	}
	ref := refOf(obj)
	f.objects[ref.key()] = obj.DeepCopy()
	return ref, nil
}

func (f *fakeCluster) crdsApplied(context.Context, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for gk, ns := range f.pending {
		f.namespaced[gk] = ns
	}
	clear(f.pending)
}

func (f *fakeCluster) delete(_ context.Context, ref objectRef, source string, strict bool) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	gv, _ := schema.ParseGroupVersion(ref.APIVersion)
	namespaced, ok := f.namespaced[gv.WithKind(ref.Kind).GroupKind()]
	if !ok {
		return false, nil
	}
	if namespaced && ref.Namespace == "" {
		ref.Namespace = "default"
	}
	obj := f.objects[ref.key()]
	if obj == nil || !madeFrom(obj, source, strict) {
		return false, nil
	}
	delete(f.objects, ref.key())
	f.deletes = append(f.deletes, ref.String())
	return true, nil
}

func (f *fakeCluster) getAddon(_ context.Context, name string) (*addon, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return copyAddon(f.addons[name]), nil
}

func (f *fakeCluster) listAddons(context.Context) ([]*addon, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*addon
	for _, a := range f.addons {
		out = append(out, copyAddon(a))
	}
	return out, nil
}

func (f *fakeCluster) putAddon(_ context.Context, a *addon) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a.UID = types.UID("uid-" + a.Name)
	f.addons[a.Name] = copyAddon(a)
	return nil
}

func (f *fakeCluster) deleteAddon(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.addons, name)
	return nil
}

func (f *fakeCluster) event(_ context.Context, a *addon, typ, reason, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fakeEvent{addon: a.Name, uid: string(a.UID), typ: typ, reason: reason, msg: msg})
	return nil
}

func copyAddon(a *addon) *addon {
	if a == nil {
		return nil
	}
	c := *a
	c.Status.Objects = slices.Clone(a.Status.Objects)
	return &c
}

// addon returns a copy of an Addon, failing the test if there is none.
func (f *fakeCluster) addon(t *testing.T, name string) *addon {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.addons[name]
	if a == nil {
		t.Fatalf("no addon %q; addons: %v", name, f.addonNames())
	}
	return copyAddon(a)
}

func (f *fakeCluster) addonNames() []string {
	var names []string
	for n := range f.addons {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// objectNames returns the objects in the cluster, sorted, as "Kind ns/name".
func (f *fakeCluster) objectNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, o := range f.objects {
		out = append(out, refOf(o).String())
	}
	slices.Sort(out)
	return out
}

// takeApplies returns and clears the apply attempts so far.
func (f *fakeCluster) takeApplies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.applies
	f.applies = nil
	return out
}

func (f *fakeCluster) takeEvents() []fakeEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.events
	f.events = nil
	return out
}

func (f *fakeCluster) addObject(t *testing.T, manifest string) {
	t.Helper()
	objs, err := decodeManifest([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, err := f.apply(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	f.takeApplies()
}

var testTime = time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)

// newTestController returns a Controller on dir and fc, logging into the returned recorder.
func newTestController(dir string, fc *fakeCluster, o Options) (*Controller, *testutil.LogRecorder) {
	logs := &testutil.LogRecorder{}
	o.Dir = dir
	o.Log = logs.Logger()
	c := New(o)
	c.connect = func(string) (cluster, error) { return fc, nil }
	c.now = func() time.Time { return testTime }
	return c, logs
}
