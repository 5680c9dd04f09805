package deploy

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
)

// testMapper is a static REST mapper that counts resets.
type testMapper struct {
	*meta.DefaultRESTMapper
	resets int
}

func (m *testMapper) ResetWithContext(context.Context) { m.resets++ }

func newTestKube(t *testing.T, objects ...runtime.Object) (*kube, *dynamicfake.FakeDynamicClient, *testMapper) {
	t.Helper()
	// Preferred versions, as discovery gives them, for mappings without a version.
	m := &testMapper{DefaultRESTMapper: meta.NewDefaultRESTMapper([]schema.GroupVersion{
		{Version: "v1"}, {Group: "rbac.authorization.k8s.io", Version: "v1"},
	})}
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, meta.RESTScopeRoot)
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		addonGVR:                                "AddonList",
		{Version: "v1", Resource: "configmaps"}: "ConfigMapList",
		eventGVR:                                "EventList",
		crdGVR:                                  "CustomResourceDefinitionList",
	}, objects...)
	return &kube{dyn: dyn, mapper: m, now: func() time.Time { return testTime }}, dyn, m
}

// TestKubeApply: objects are sent as server-side apply patches by field manager "edgek",
// forcing conflicts, with strict field validation, namespaced ones without namespace to
// "default", cluster-scoped ones without namespace.
func TestKubeApply(t *testing.T) {
	k, dyn, mapper := newTestKube(t)
	var got []clienttesting.PatchActionImpl
	dyn.PrependReactor("patch", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.PatchActionImpl)
		got = append(got, p)
		obj := &unstructured.Unstructured{}
		return true, obj, obj.UnmarshalJSON(p.Patch)
	})
	objs, err := decodeManifest([]byte(configMap("a", "", "1") + "---\n" +
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r, namespace: oops}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var refs []objectRef
	for _, o := range objs {
		r, err := k.apply(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	if want := []objectRef{ref("v1", "ConfigMap", "default", "a"), ref("rbac.authorization.k8s.io/v1", "ClusterRole", "", "r")}; !slices.Equal(refs, want) {
		t.Errorf("refs = %v, want %v", refs, want)
	}
	if len(got) != 2 {
		t.Fatalf("%d patches", len(got))
	}
	for i, p := range got {
		o := p.PatchOptions
		if p.PatchType != types.ApplyPatchType || o.FieldManager != "edgek" || o.Force == nil || !*o.Force ||
			o.FieldValidation != metav1.FieldValidationStrict {
			t.Errorf("patch %d: type %s, options %+v", i, p.PatchType, o)
		}
	}
	if got[0].Namespace != "default" || got[0].Resource.Resource != "configmaps" || got[0].Name != "a" {
		t.Errorf("ConfigMap patch: %s %s/%s", got[0].Resource, got[0].Namespace, got[0].Name)
	}
	var sent map[string]any
	json.Unmarshal(got[0].Patch, &sent)
	if md := sent["metadata"].(map[string]any); md["namespace"] != "default" {
		t.Errorf("ConfigMap sent with metadata %v", md)
	}
	if got[1].Namespace != "" || got[1].Resource.Resource != "clusterroles" {
		t.Errorf("ClusterRole patch: %s %q", got[1].Resource, got[1].Namespace)
	}

	// An unknown kind: discovery is refreshed once, then the error says which kind.
	objs, _ = decodeManifest([]byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"))
	if _, err := k.apply(t.Context(), objs[0]); !meta.IsNoMatchError(err) || mapper.resets != 1 {
		t.Errorf("unknown kind: err %v, resets %d", err, mapper.resets)
	}
}

func TestKubeDelete(t *testing.T) {
	cm := func(name, source string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetNamespace("default")
		u.SetName(name)
		if source != "" {
			setSource(u, source)
		}
		return u
	}
	k, _, _ := newTestKube(t, cm("a", ""))
	for i, want := range []bool{true, false} {
		// No namespace: "default"; the recorded version need not be served.
		ok, err := k.delete(t.Context(), ref("v1beta9", "ConfigMap", "", "a"), "x.yaml", false)
		if err != nil || ok != want {
			t.Errorf("delete %d = %v, %v; want %v", i, ok, err, want)
		}
	}
	if ok, err := k.delete(t.Context(), ref("example.com/v1", "Widget", "", "w"), "x.yaml", false); ok || err != nil {
		t.Errorf("delete of an unknown kind = %v, %v", ok, err)
	}
	// An object another file took over stays; one without the annotation goes unless strict.
	k, _, _ = newTestKube(t, cm("mine", ""), cm("ours", "x.yaml"), cm("theirs", "y.yaml"), cm("old", ""))
	for _, c := range []struct {
		name   string
		strict bool
		want   bool
	}{
		{"mine", true, false}, {"theirs", false, false}, {"theirs", true, false},
		{"ours", true, true}, {"old", false, true}, {"gone", false, false},
	} {
		if ok, err := k.delete(t.Context(), ref("v1", "ConfigMap", "default", c.name), "x.yaml", c.strict); ok != c.want || err != nil {
			t.Errorf("delete %s (strict %v) = %v, %v; want %v", c.name, c.strict, ok, err, c.want)
		}
	}
}

// TestKubeAddons: Addons are created, read, listed, updated and deleted; their status is in
// the main resource.
func TestKubeAddons(t *testing.T) {
	k, dyn, _ := newTestKube(t)
	ctx := t.Context()
	if a, err := k.getAddon(ctx, "a"); a != nil || err != nil {
		t.Fatalf("getAddon of a missing addon = %v, %v", a, err)
	}
	a := &addon{Name: "a", Source: "a.yaml", Status: addonStatus{
		Checksum: "c1", Applied: true, LastApplied: "2026-05-04T03:02:01Z",
		Objects: []objectRef{ref("v1", "ConfigMap", "default", "x"), ref("v1", "Namespace", "", "n")},
	}}
	if err := k.putAddon(ctx, a); err != nil {
		t.Fatal(err)
	}
	u, err := dyn.Resource(addonGVR).Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u.GetKind() != "Addon" || u.GetAPIVersion() != "edgek.io/v1" || u.GetLabels()["app.kubernetes.io/managed-by"] != "edgek" {
		t.Errorf("addon object = %v", u.Object)
	}
	if applied, _, _ := unstructured.NestedBool(u.Object, "status", "applied"); !applied {
		t.Errorf("status.applied not true: %v", u.Object["status"])
	}
	got, err := k.getAddon(ctx, "a")
	if err != nil || got.Source != "a.yaml" || got.Status.Checksum != "c1" || !slices.Equal(got.Status.Objects, a.Status.Objects) {
		t.Errorf("getAddon = %+v, %v", got, err)
	}

	// An update keeps labels set by others and drops cleared fields.
	u.SetLabels(map[string]string{"team": "edge"})
	if _, err := dyn.Resource(addonGVR).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	a.Status = addonStatus{Checksum: "c2", Error: "boom"}
	if err := k.putAddon(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, _ = k.getAddon(ctx, "a")
	if got.Status.Checksum != "c2" || got.Status.Applied || got.Status.Error != "boom" || len(got.Status.Objects) != 0 {
		t.Errorf("after update: %+v", got.Status)
	}
	u, _ = dyn.Resource(addonGVR).Get(ctx, "a", metav1.GetOptions{})
	if u.GetLabels()["team"] != "edge" {
		t.Errorf("labels after update = %v", u.GetLabels())
	}

	if err := k.putAddon(ctx, &addon{Name: "b", Source: "b.json"}); err != nil {
		t.Fatal(err)
	}
	list, err := k.listAddons(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("listAddons = %v, %v", list, err)
	}
	for range 2 {
		if err := k.deleteAddon(ctx, "a"); err != nil {
			t.Errorf("deleteAddon: %v", err)
		}
	}
	if _, err := dyn.Resource(addonGVR).Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("addon a after delete: %v", err)
	}
}

// TestKubeEvent: Events about an Addon go to namespace "default" (the Addon is
// cluster-scoped) and reference it.
func TestKubeEvent(t *testing.T) {
	k, dyn, _ := newTestKube(t)
	a := &addon{Name: "broken", UID: "u-1"}
	if err := k.event(t.Context(), a, "Warning", "ApplyFailed", "broken.yaml: bad"); err != nil {
		t.Fatal(err)
	}
	list, err := dyn.Resource(eventGVR).Namespace("default").List(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("events = %v, %v", list, err)
	}
	e := list.Items[0].Object
	io := e["involvedObject"].(map[string]any)
	if e["type"] != "Warning" || e["reason"] != "ApplyFailed" || e["message"] != "broken.yaml: bad" ||
		io["kind"] != "Addon" || io["apiVersion"] != "edgek.io/v1" || io["name"] != "broken" || io["uid"] != "u-1" ||
		io["namespace"] != nil || e["count"] != int64(1) {
		t.Errorf("event = %v", e)
	}
	// The same event again counts up; another message is another Event.
	k.now = func() time.Time { return testTime.Add(time.Minute) }
	for _, msg := range []string{"broken.yaml: bad", "broken.yaml: bad", "broken.yaml: worse"} {
		if err := k.event(t.Context(), a, "Warning", "ApplyFailed", msg); err != nil {
			t.Fatal(err)
		}
	}
	list, err = dyn.Resource(eventGVR).Namespace("default").List(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("events = %v, %v", list, err)
	}
	for _, item := range list.Items {
		want := map[string]int64{"broken.yaml: bad": 3, "broken.yaml: worse": 1}[item.Object["message"].(string)]
		if count, _, _ := unstructured.NestedInt64(item.Object, "count"); count != want {
			t.Errorf("event %q count = %d, want %d", item.Object["message"], count, want)
		}
	}
}

func TestWaitEstablished(t *testing.T) {
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.example.com"},
		"status": map[string]any{"conditions": []any{
			map[string]any{"type": "NamesAccepted", "status": "True"},
			map[string]any{"type": "Established", "status": "True"},
		}},
	}}
	k, _, mapper := newTestKube(t, crd)
	if err := k.waitEstablished(t.Context(), "widgets.example.com", time.Second); err != nil {
		t.Error(err)
	}
	if err := k.waitEstablished(t.Context(), "gadgets.example.com", 300*time.Millisecond); err == nil {
		t.Error("missing CRD established")
	}
	k.crdsApplied(t.Context(), []string{"widgets.example.com"})
	if mapper.resets != 1 {
		t.Errorf("crdsApplied reset the mapper %d times", mapper.resets)
	}
}
