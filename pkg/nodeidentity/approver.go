package nodeidentity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Approver signs off the kubelet client certificates that joining agents request with the
// bootstrap token, by the rule of decide, and keeps the bindings; and the kubelet serving
// certificates nodes request for themselves (servingVerdict).
type Approver struct {
	Client kubernetes.Interface
	// Group is the group of the bootstrap token whose requests it judges (others' are left
	// to the controller-manager: nodes renewing their own certificate).
	Group string
	// ServerNodes are the names of the servers' nodes, never given to an agent.
	ServerNodes []string
	Log         *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (a *Approver) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Run reserves the servers' names, then judges requests and makes registered nodes own
// their bindings until ctx ends.
func (a *Approver) Run(ctx context.Context) error {
	st := store{a.Client}
	// Before any request is judged; the apiserver may not answer every call at first.
	for {
		err := st.reserve(ctx, a.ServerNodes)
		if err == nil {
			break
		}
		a.Log.Warn("node identity: reserving the server's node name, will retry", "error", err.Error())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer queue.ShutDown()
	enqueue := func(kind string) cache.ResourceEventHandlerFuncs {
		add := func(obj any) {
			if m, err := meta(obj); err == nil {
				queue.Add(kind + "/" + m.GetName())
			}
		}
		return cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, obj any) {
			if kind == "csr" { // a node's status changes every few seconds: only its arrival matters
				add(obj)
			}
		}}
	}
	factory := informers.NewSharedInformerFactory(a.Client, 0)
	csrInformer := factory.Certificates().V1().CertificateSigningRequests()
	if _, err := csrInformer.Informer().AddEventHandler(enqueue("csr")); err != nil {
		return fmt.Errorf("watch certificate signing requests: %w", err)
	}
	nodeInformer := factory.Core().V1().Nodes()
	if _, err := nodeInformer.Informer().AddEventHandler(enqueue("node")); err != nil {
		return fmt.Errorf("watch nodes: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	for {
		key, quit := queue.Get()
		if quit {
			return nil
		}
		kind, name, _ := strings.Cut(key, "/")
		var err error
		switch kind {
		case "csr":
			// Gone from the cache: nothing to judge (a NotFound of the work itself is retried).
			if csr, gerr := csrInformer.Lister().Get(name); gerr == nil {
				err = a.judge(ctx, st, csr, nodeInformer.Lister())
			}
		case "node":
			if node, gerr := nodeInformer.Lister().Get(name); gerr == nil {
				err = st.own(ctx, node)
			}
		}
		switch {
		case err == nil:
			queue.Forget(key)
		case errors.Is(err, errNotYet):
			queue.AddAfter(key, retryServing)
		case ctx.Err() == nil:
			a.Log.Warn("node identity: will retry", "object", key, "error", err.Error())
			queue.AddRateLimited(key)
		}
		queue.Done(key)
	}
}

func meta(obj any) (metav1.Object, error) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", obj)
	}
	return m, nil
}

// How often a kubelet serving certificate request is judged again while its node has not
// reported the addresses it names, and for how long.
const (
	retryServing    = 3 * time.Second
	patienceServing = 2 * time.Minute
)

// judge approves or denies a pending request: a joining agent's client certificate (of the
// bootstrap token), a node's serving certificate, or a node's kube-proxy certificate.
func (a *Approver) judge(ctx context.Context, st store, csr *certificatesv1.CertificateSigningRequest, nodes corelisters.NodeLister) error {
	if len(csr.Status.Conditions) > 0 {
		return nil
	}
	var v verdict
	var err error
	switch csr.Spec.SignerName {
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		if !slices.Contains(csr.Spec.Groups, a.Group) {
			return nil // a node renewing its own: the controller-manager's
		}
		v, err = a.verdict(ctx, st, csr)
	case certificatesv1.KubeletServingSignerName:
		name, _ := strings.CutPrefix(csr.Spec.Username, nodeUserPrefix)
		node, gerr := nodes.Get(name)
		if gerr != nil {
			node = nil
		}
		all, lerr := nodes.List(labels.Everything())
		if lerr != nil {
			return fmt.Errorf("list nodes: %w", lerr)
		}
		v, err = servingVerdict(csr, node, all)
		if errors.Is(err, errNotYet) && a.now().Sub(csr.CreationTimestamp.Time) > patienceServing {
			if v.message == "" {
				v.reason, v.message = reasonInvalid, err.Error()
			}
			err = nil
		}
	case certificatesv1.KubeAPIServerClientSignerName:
		var mine bool
		if v, mine = kubeProxyVerdict(csr); !mine {
			return nil
		}
	default:
		return nil
	}
	if err != nil {
		return err
	}
	cond := certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue,
		Reason: v.reason, Message: v.message, LastUpdateTime: metav1.NewTime(a.now()),
	}
	if v.approve {
		cond.Type = certificatesv1.CertificateApproved
	}
	upd := csr.DeepCopy()
	upd.Status.Conditions = append(upd.Status.Conditions, cond)
	if _, err := a.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("%s certificate signing request %s: %w", strings.ToLower(string(cond.Type)), csr.Name, err)
	}
	what := "a joining node's certificate"
	switch csr.Spec.SignerName {
	case certificatesv1.KubeletServingSignerName:
		what = "a kubelet serving certificate"
	case certificatesv1.KubeAPIServerClientSignerName:
		what = "a node's kube-proxy certificate"
	}
	if v.approve {
		a.Log.Info("approved "+what, "csr", csr.Name, "requester", csr.Spec.Username, "message", v.message)
	} else {
		a.Log.Warn("refused "+what, "csr", csr.Name, "requester", csr.Spec.Username, "reason", v.reason, "message", v.message)
	}
	return nil
}

// verdict applies decide to csr, and binds the name when it is claimed.
func (a *Approver) verdict(ctx context.Context, st store, csr *certificatesv1.CertificateSigningRequest) (verdict, error) {
	r, err := parseRequest(csr)
	if err == nil {
		if errs := validation.IsDNS1123Subdomain(r.node); len(errs) > 0 {
			err = fmt.Errorf("node name %q: %s", r.node, strings.Join(errs, "; "))
		} else if len(secretName(r.node)) > maxSecretName {
			err = fmt.Errorf("node name %q is longer than %d characters", r.node, maxSecretName-len(secretSuffix))
		}
	}
	if err != nil {
		return verdict{reason: reasonInvalid, message: err.Error()}, nil
	}
	b, old, err := st.get(ctx, r.node)
	if err != nil {
		return verdict{}, err
	}
	_, err = a.Client.CoreV1().Nodes().Get(ctx, r.node, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return verdict{}, fmt.Errorf("look up node %s: %w", r.node, err)
	}
	v := decide(r, b, err == nil)
	if v.claim {
		if err := st.put(ctx, r.node, roleAgent, r.keyHash, old); err != nil {
			return verdict{}, err
		}
	}
	return v, nil
}
