// Package servicelb gives LoadBalancer Services the addresses of the cluster's nodes, as
// K3s's ServiceLB does, in process: kube-proxy already sends a LoadBalancer IP's port to the
// Service's endpoints, so a Service whose status lists the node IPs answers on
// <node IP>:<port> on every node. No pod, no image, no iptables rules of edgek's own.
//
// Rules (K3s's): a port (with its protocol) belongs to the oldest LoadBalancer Service that
// asks for it; a later one stays pending, with a Warning Event naming the owner, until the
// port is free. edgek's own ports and every Service's NodePorts are taken too. When some node carries EnableLabel=true, only those nodes serve; with
// externalTrafficPolicy: Local, only the nodes running one of the Service's ready endpoints.
// Services with a spec.loadBalancerClass are another controller's.
package servicelb

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

// EnableLabel selects the nodes that serve LoadBalancers (K3s:
// svccontroller.k3s.cattle.io/enablelb): once a node has it set to "true", only such nodes do.
const EnableLabel = "svccontroller.edgek.io/enablelb"

// Port is a port on every node that a LoadBalancer must not take (edgek's own).
type Port struct {
	Protocol v1.Protocol
	Port     int32
	What     string
}

// Controller keeps the status of LoadBalancer Services.
type Controller struct {
	Client kubernetes.Interface // admin credentials
	// Reserved are ports the nodes serve themselves (the apiserver's, the kubelet's).
	Reserved []Port
	Log      *slog.Logger

	services  corelisters.ServiceLister
	nodes     corelisters.NodeLister
	slices    discoverylisters.EndpointSliceLister
	recorder  record.EventRecorder
	conflicts map[string]string // Service -> the message of its last conflict Event
}

// Run keeps the Services' status until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	c.services = factory.Core().V1().Services().Lister()
	c.nodes = factory.Core().V1().Nodes().Lister()
	c.slices = factory.Discovery().V1().EndpointSlices().Lister()
	c.conflicts = map[string]string{}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.Client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	c.recorder = broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "edgek-servicelb"})

	changed := make(chan struct{}, 1)
	poke := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify(changed) },
		UpdateFunc: func(any, any) { notify(changed) },
		DeleteFunc: func(any) { notify(changed) },
	}
	for _, inf := range []cache.SharedIndexInformer{
		factory.Core().V1().Services().Informer(),
		factory.Core().V1().Nodes().Informer(),
		factory.Discovery().V1().EndpointSlices().Informer(),
	} {
		if _, err := inf.AddEventHandler(poke); err != nil {
			return fmt.Errorf("servicelb: %w", err)
		}
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	factory.WaitForCacheSync(ctx.Done())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		// Changes come in bursts (a node's status, a Deployment's slices): one pass for each.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
		if err := c.sync(ctx); err != nil {
			c.Log.Warn("cannot update LoadBalancer Services; retrying", "error", err.Error())
			time.AfterFunc(5*time.Second, func() { notify(changed) })
		}
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sync gives every LoadBalancer Service the ingress it should have.
func (c *Controller) sync(ctx context.Context) error {
	all, err := c.services.List(labels.Everything())
	if err != nil {
		return err
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	var lbs []*v1.Service
	for _, s := range all {
		if s.Spec.Type == v1.ServiceTypeLoadBalancer && s.Spec.LoadBalancerClass == nil {
			lbs = append(lbs, s)
		}
	}
	// The oldest Service keeps a port.
	slices.SortFunc(lbs, func(a, b *v1.Service) int {
		if d := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); d != 0 {
			return d
		}
		return cmp.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	owner := map[string]owned{}
	for _, r := range c.Reserved {
		owner[portKey(r.Protocol, r.Port)] = owned{what: r.What}
	}
	// A NodePort answers on every node address too, and kube-proxy matches a LoadBalancer's
	// address and port first: a LoadBalancer port must not shadow another Service's NodePort.
	for _, s := range all {
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				key := s.Namespace + "/" + s.Name
				owner[portKey(p.Protocol, p.NodePort)] = owned{service: key, what: "the NodePort of Service " + key}
			}
		}
	}
	serving := servingNodes(nodes)
	var errs []error
	for _, s := range lbs {
		key := s.Namespace + "/" + s.Name
		var ingress []v1.LoadBalancerIngress
		if conflict := claimPorts(s, owner); conflict != "" {
			c.reportConflict(s, key, conflict)
		} else {
			delete(c.conflicts, key)
			ingress = c.ingress(s, serving)
		}
		if !sameIngress(s.Status.LoadBalancer.Ingress, ingress) {
			updated := s.DeepCopy()
			updated.Status.LoadBalancer.Ingress = ingress
			if _, err := c.Client.CoreV1().Services(s.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("update %s: %w", key, err))
				continue
			}
			c.Log.Info("LoadBalancer Service addresses", "service", key, "ingress", ingressIPs(ingress))
		}
	}
	for key := range c.conflicts {
		if !slices.ContainsFunc(lbs, func(s *v1.Service) bool { return s.Namespace+"/"+s.Name == key }) {
			delete(c.conflicts, key)
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func portKey(p v1.Protocol, port int32) string { return fmt.Sprintf("%d/%s", port, p) }

// owned is who holds a port on the nodes: a Service (by namespace/name), or edgek.
type owned struct {
	service string
	what    string
}

// claimPorts takes s's ports in owner, or returns why it cannot (all or none).
func claimPorts(s *v1.Service, owner map[string]owned) string {
	key := s.Namespace + "/" + s.Name
	for _, p := range s.Spec.Ports {
		if o, taken := owner[portKey(p.Protocol, p.Port)]; taken && o.service != key {
			return fmt.Sprintf("port %s is taken by %s", portKey(p.Protocol, p.Port), o.what)
		}
	}
	for _, p := range s.Spec.Ports {
		owner[portKey(p.Protocol, p.Port)] = owned{service: key, what: "Service " + key}
	}
	return ""
}

func (c *Controller) reportConflict(s *v1.Service, key, conflict string) {
	msg := conflict + ": the Service gets its addresses when the port is free"
	if c.conflicts[key] == msg {
		return
	}
	c.conflicts[key] = msg
	c.recorder.Event(s, v1.EventTypeWarning, "PortInUse", msg)
	c.Log.Warn("LoadBalancer Service pending", "service", key, "reason", conflict)
}

// servingNodes are the Ready nodes that serve LoadBalancers (see EnableLabel).
func servingNodes(nodes []*v1.Node) []*v1.Node {
	labelled := slices.ContainsFunc(nodes, func(n *v1.Node) bool { return n.Labels[EnableLabel] == "true" })
	var out []*v1.Node
	for _, n := range nodes {
		if (labelled && n.Labels[EnableLabel] != "true") || n.Labels[EnableLabel] == "false" || !ready(n) {
			continue
		}
		out = append(out, n)
	}
	return out
}

func ready(n *v1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// ingress lists the addresses s is served at: the serving nodes' external addresses, else
// internal ones (of the Service's IP families); with externalTrafficPolicy Local, only nodes
// that run a ready endpoint of s.
func (c *Controller) ingress(s *v1.Service, nodes []*v1.Node) []v1.LoadBalancerIngress {
	var local map[string]bool
	if s.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal {
		local = c.endpointNodes(s)
	}
	families := map[bool]bool{} // is4 -> wanted
	for _, f := range s.Spec.IPFamilies {
		families[f == v1.IPv4Protocol] = true
	}
	if len(families) == 0 {
		families[true] = true
	}
	var ips []netip.Addr
	for _, n := range nodes {
		if local != nil && !local[n.Name] {
			continue
		}
		for _, a := range nodeAddrs(n) {
			if families[a.Is4()] && !slices.Contains(ips, a) {
				ips = append(ips, a)
			}
		}
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	out := make([]v1.LoadBalancerIngress, 0, len(ips))
	vip := v1.LoadBalancerIPModeVIP
	for _, ip := range ips {
		out = append(out, v1.LoadBalancerIngress{IP: ip.String(), IPMode: &vip})
	}
	return out
}

// nodeAddrs are a node's ExternalIP addresses, or its InternalIP ones if it has none.
func nodeAddrs(n *v1.Node) []netip.Addr {
	for _, t := range []v1.NodeAddressType{v1.NodeExternalIP, v1.NodeInternalIP} {
		var out []netip.Addr
		for _, a := range n.Status.Addresses {
			if ip, err := netip.ParseAddr(a.Address); err == nil && a.Type == t {
				out = append(out, ip.Unmap())
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// endpointNodes are the nodes running a ready endpoint of s.
func (c *Controller) endpointNodes(s *v1.Service) map[string]bool {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: s.Name})
	list, _ := c.slices.EndpointSlices(s.Namespace).List(sel) // a lister does not fail
	out := map[string]bool{}
	for _, es := range list {
		for _, e := range es.Endpoints {
			if e.NodeName != nil && (e.Conditions.Ready == nil || *e.Conditions.Ready) {
				out[*e.NodeName] = true
			}
		}
	}
	return out
}

// sameIngress compares addresses and their mode (kube-proxy serves VIP ones only).
func sameIngress(a, b []v1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y v1.LoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname && ptr.Equal(x.IPMode, y.IPMode)
	})
}

func ingressIPs(in []v1.LoadBalancerIngress) []string {
	out := make([]string, 0, len(in))
	for _, i := range in {
		out = append(out, i.IP)
	}
	return out
}
