package servicelb

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/edgek-io/edgek/test/testutil"
)

func node(name, ip string, ready bool, labels map[string]string) *v1.Node {
	status := v1.ConditionFalse
	if ready {
		status = v1.ConditionTrue
	}
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: v1.NodeStatus{
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: status}},
			Addresses:  []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: ip}, {Type: v1.NodeHostName, Address: name}},
		},
	}
}

func lb(name string, age time.Duration, port int32, policy v1.ServiceExternalTrafficPolicy) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.NewTime(time.Now().Add(-age))},
		Spec: v1.ServiceSpec{
			Type: v1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: policy, IPFamilies: []v1.IPFamily{v1.IPv4Protocol},
			Ports: []v1.ServicePort{{Protocol: v1.ProtocolTCP, Port: port}},
		},
	}
}

// TestController runs the controller against a fake API: node addresses for every
// LoadBalancer, the second Service on a port pending (with an Event) until the first goes,
// edgek's own ports refused, externalTrafficPolicy Local and the node label honoured.
func TestController(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	other := "other.example/lb"
	classy := lb("classy", time.Hour, 81, v1.ServiceExternalTrafficPolicyCluster)
	classy.Spec.LoadBalancerClass = &other
	nodePort := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: v1.ServiceSpec{
		Type: v1.ServiceTypeNodePort, Ports: []v1.ServicePort{{Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30080}},
	}}
	// A LoadBalancer whose port is its own NodePort is fine.
	own := lb("own", time.Hour, 31000, v1.ServiceExternalTrafficPolicyCluster)
	own.Spec.Ports[0].NodePort = 31000
	cs := fake.NewClientset(
		node("server", "192.168.1.10", true, nil), node("agent", "192.168.1.11", true, nil), node("down", "192.168.1.12", false, nil),
		lb("first", 2*time.Hour, 80, v1.ServiceExternalTrafficPolicyCluster),
		lb("second", time.Hour, 80, v1.ServiceExternalTrafficPolicyCluster),
		lb("api", time.Hour, 6443, v1.ServiceExternalTrafficPolicyCluster),
		lb("shadow", time.Hour, 30080, v1.ServiceExternalTrafficPolicyCluster),
		classy, nodePort, own,
	)
	c := &Controller{Client: cs, Log: testutil.DiscardLogger(), Reserved: []Port{{Protocol: v1.ProtocolTCP, Port: 6443, What: "the apiserver"}}}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	ingress := func(name string) string {
		s, err := cs.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		return strings.Join(ingressIPs(s.Status.LoadBalancer.Ingress), ",")
	}
	wait := func(name, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for ingress(name) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: ingress %q, want %q", name, ingress(name), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("first", "192.168.1.10,192.168.1.11")
	wait("second", "")
	wait("api", "")
	wait("classy", "")
	wait("shadow", "")
	wait("own", "192.168.1.10,192.168.1.11")
	events := func() string {
		list, _ := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		var out []string
		for _, e := range list.Items {
			out = append(out, e.InvolvedObject.Name+": "+e.Reason+": "+e.Message)
		}
		slices.Sort(out)
		return strings.Join(out, "\n")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(events(), "second: PortInUse: port 80/TCP is taken by Service default/first") ||
		!strings.Contains(events(), "api: PortInUse: port 6443/TCP is taken by the apiserver") ||
		!strings.Contains(events(), "shadow: PortInUse: port 30080/TCP is taken by the NodePort of Service default/web") {
		if time.Now().After(deadline) {
			t.Fatalf("events:\n%s", events())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The port is free: the second gets the addresses.
	if err := cs.CoreV1().Services("default").Delete(ctx, "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("second", "192.168.1.10,192.168.1.11")

	// Local: only the nodes with a ready endpoint.
	if _, err := cs.CoreV1().Services("default").Create(ctx, lb("local", time.Minute, 90, v1.ServiceExternalTrafficPolicyLocal), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("local", "")
	agent, yes := "agent", true
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "local-1", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "local"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.42.1.5"}, NodeName: &agent, Conditions: discoveryv1.EndpointConditions{Ready: &yes}}},
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("local", "192.168.1.11")

	// Once a node carries the label, only labelled nodes serve.
	n, _ := cs.CoreV1().Nodes().Get(ctx, "server", metav1.GetOptions{})
	n.Labels = map[string]string{EnableLabel: "true"}
	if _, err := cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("second", "192.168.1.10")
}
