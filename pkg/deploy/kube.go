package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

// fieldManager owns the fields edgek applies.
const fieldManager = "edgek"

// eventNamespace holds the Events about Addons, which are cluster-scoped.
const eventNamespace = metav1.NamespaceDefault

// How long to wait for CRDs to be established: the Addon CRD at start-up, and a manifest's
// CRDs before the objects of their kinds are applied (if that is not enough, the file is
// tried again at the next scan).
const (
	addonCRDTimeout = time.Minute
	userCRDTimeout  = 10 * time.Second
)

var (
	crdGVR   = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	eventGVR = schema.GroupVersionResource{Version: "v1", Resource: "events"}
)

// restMapper maps kinds to resources; restmapper.DeferredDiscoveryRESTMapper is one.
type restMapper interface {
	RESTMappingWithContext(ctx context.Context, gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error)
	ResetWithContext(ctx context.Context)
}

// kube is the cluster as seen through the dynamic client.
type kube struct {
	dyn    dynamic.Interface
	mapper restMapper
	now    func() time.Time
}

var _ cluster = (*kube)(nil)

// connectKube returns the cluster the admin kubeconfig points to. It does not contact it.
func connectKube(kubeconfig string) (cluster, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig: %w", err)
	}
	cfg.UserAgent = "edgek-deploy"
	cfg.QPS, cfg.Burst = 50, 100 // client-go's 5 QPS would make start-up wait on itself
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapperWithContext(memory.NewMemCacheClientWithContext(dc))
	return &kube{dyn: dyn, mapper: mapper, now: time.Now}, nil
}

func (k *kube) ensureCRD(ctx context.Context) error {
	data, err := yaml.YAMLToJSON([]byte(addonCRD))
	if err != nil {
		return err
	}
	force := true
	_, err = k.dyn.Resource(crdGVR).Patch(ctx, addonCRDName, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: fieldManager, Force: &force})
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return k.waitEstablished(ctx, addonCRDName, addonCRDTimeout)
}

// mapping returns how objects of a kind are served, refreshing the discovery data once if
// the kind is unknown (it may come from a CRD created since).
func (k *kube) mapping(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	var versions []string
	if gvk.Version != "" {
		versions = []string{gvk.Version}
	}
	m, err := k.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), versions...)
	if meta.IsNoMatchError(err) {
		k.mapper.ResetWithContext(ctx)
		m, err = k.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), versions...)
	}
	return m, err
}

// namespaceFor returns the namespace an object goes to.
func namespaceFor(m *meta.RESTMapping, ns string) string {
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return ""
	}
	if ns == "" {
		return metav1.NamespaceDefault
	}
	return ns
}

func (k *kube) apply(ctx context.Context, obj *unstructured.Unstructured) (objectRef, error) {
	m, err := k.mapping(ctx, obj.GroupVersionKind())
	if err != nil {
		return objectRef{}, err
	}
	ns := namespaceFor(m, obj.GetNamespace())
	obj.SetNamespace(ns)
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return objectRef{}, err
	}
	force := true
	_, err = k.dyn.Resource(m.Resource).Namespace(ns).Patch(ctx, obj.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: fieldManager, Force: &force, FieldValidation: metav1.FieldValidationStrict})
	if err != nil {
		return objectRef{}, err
	}
	return refOf(obj), nil
}

func (k *kube) crdsApplied(ctx context.Context, names []string) {
	deadline := time.Now().Add(userCRDTimeout)
	for _, name := range names {
		// An error leaves the objects of that CRD to fail with "no matches for kind".
		_ = k.waitEstablished(ctx, name, time.Until(deadline))
	}
	k.mapper.ResetWithContext(ctx)
}

// waitEstablished waits until a CRD has the condition Established.
func (k *kube) waitEstablished(ctx context.Context, name string, timeout time.Duration) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, max(timeout, 0), true,
		func(ctx context.Context) (bool, error) {
			u, err := k.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				last = err
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				if c, ok := c.(map[string]any); ok && c["type"] == "Established" && c["status"] == "True" {
					return true, nil
				}
			}
			last = nil
			return false, nil
		})
	if err != nil {
		if last != nil {
			return fmt.Errorf("CRD %s not established after %s: %w", name, timeout, last)
		}
		return fmt.Errorf("CRD %s not established after %s", name, timeout)
	}
	return nil
}

func (k *kube) delete(ctx context.Context, ref objectRef, source string, strict bool) (bool, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false, err
	}
	// Any served version will do: the one recorded may be gone since.
	m, err := k.mapping(ctx, gv.WithKind(ref.Kind).GroupKind().WithVersion(""))
	if meta.IsNoMatchError(err) {
		return false, nil // the kind is gone, and its objects with it
	}
	if err != nil {
		return false, err
	}
	res := k.dyn.Resource(m.Resource).Namespace(namespaceFor(m, ref.Namespace))
	opts := metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationBackground)}
	u, err := res.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !madeFrom(u, source, strict) {
		return false, nil // someone else's
	}
	opts.Preconditions = &metav1.Preconditions{UID: new(u.GetUID())}
	err = res.Delete(ctx, ref.Name, opts)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (k *kube) getAddon(ctx context.Context, name string) (*addon, error) {
	u, err := k.dyn.Resource(addonGVR).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return addonFrom(u)
}

func (k *kube) listAddons(ctx context.Context) ([]*addon, error) {
	list, err := k.dyn.Resource(addonGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []*addon
	for i := range list.Items {
		a, err := addonFrom(&list.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (k *kube) putAddon(ctx context.Context, a *addon) error {
	status, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&a.Status)
	if err != nil {
		return err
	}
	res := k.dyn.Resource(addonGVR)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := res.Get(ctx, a.Name, metav1.GetOptions{})
		create := apierrors.IsNotFound(err)
		if err != nil && !create {
			return err
		}
		if create {
			u = &unstructured.Unstructured{Object: map[string]any{}}
			u.SetAPIVersion(addonGroup + "/" + addonVersion)
			u.SetKind(addonKind)
			u.SetName(a.Name)
			u.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "edgek"})
		}
		u.Object["spec"] = map[string]any{"source": a.Source}
		u.Object["status"] = status
		if create {
			u, err = res.Create(ctx, u, metav1.CreateOptions{FieldManager: fieldManager})
		} else {
			u, err = res.Update(ctx, u, metav1.UpdateOptions{FieldManager: fieldManager})
		}
		if err != nil {
			return err
		}
		a.UID = u.GetUID()
		return nil
	})
}

func (k *kube) deleteAddon(ctx context.Context, name string) error {
	err := k.dyn.Resource(addonGVR).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// event emits an Event about an Addon. The same event again (a file failing the same way at
// every retry) counts up the existing Event instead of adding one, as the kubelet's event
// correlator does; after the apiserver's event TTL a new series starts.
func (k *kube) event(ctx context.Context, a *addon, eventType, reason, message string) error {
	now := metav1.NewTime(k.now())
	sum := sha256.Sum256([]byte(string(a.UID) + "\x00" + eventType + "\x00" + reason + "\x00" + message))
	name := fmt.Sprintf("%s.%x", a.Name, sum[:8])
	res := k.dyn.Resource(eventGVR).Namespace(eventNamespace)
	ev := &corev1.Event{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: eventNamespace,
		},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: addonGroup + "/" + addonVersion, Kind: addonKind, Name: a.Name, UID: a.UID,
		},
		Reason:         reason,
		Message:        message,
		Type:           eventType,
		Source:         corev1.EventSource{Component: "edgek-deploy"},
		FirstTimestamp: now,
		LastTimestamp:  now,
		Count:          1,
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ev)
	if err != nil {
		return err
	}
	_, err = res.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	// The same event again: one request more, only then.
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	count, _, _ := unstructured.NestedInt64(u.Object, "count")
	u.Object["count"] = count + 1
	u.Object["lastTimestamp"] = now.UTC().Format(time.RFC3339)
	_, err = res.Update(ctx, u, metav1.UpdateOptions{})
	return err
}

// addonFrom reads an Addon object.
func addonFrom(u *unstructured.Unstructured) (*addon, error) {
	var body struct {
		Spec struct {
			Source string `json:"source"`
		} `json:"spec"`
		Status addonStatus `json:"status"`
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &body); err != nil {
		return nil, fmt.Errorf("addon %s: %w", u.GetName(), err)
	}
	return &addon{Name: u.GetName(), UID: u.GetUID(), Source: body.Spec.Source, Status: body.Status}, nil
}
