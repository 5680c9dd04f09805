package metricsserver

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/edgek-io/edgek/test/testutil"
)

func TestEnsureEndpoints(t *testing.T) {
	ctx := context.Background()
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: Namespace, UID: "svc-uid"}}
	client := fake.NewClientset(svc)
	c := &Config{Addr: netip.MustParseAddr("172.31.254.2"), Port: 10251, Client: client, Log: testutil.DiscardLogger()}

	if err := c.ensureEndpoints(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := client.DiscoveryV1().EndpointSlices(Namespace).Get(ctx, ServiceName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["kubernetes.io/service-name"] != ServiceName || got.OwnerReferences[0].UID != "svc-uid" ||
		got.Endpoints[0].Addresses[0] != "172.31.254.2" || *got.Ports[0].Port != 10251 || *got.Ports[0].Name != "https" {
		t.Errorf("EndpointSlice: %+v", got)
	}

	// Already right: nothing is written.
	client.ClearActions()
	if err := c.ensureEndpoints(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("unexpected %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}

	// The node IP changed (DHCP): the slice follows.
	c.Addr = netip.MustParseAddr("172.31.254.9")
	if err := c.ensureEndpoints(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = client.DiscoveryV1().EndpointSlices(Namespace).Get(ctx, ServiceName, metav1.GetOptions{})
	if got.Endpoints[0].Addresses[0] != "172.31.254.9" {
		t.Errorf("after the address changed: %v", got.Endpoints[0].Addresses)
	}
}

func TestEnsureEndpointsWithoutService(t *testing.T) {
	client := fake.NewClientset()
	c := &Config{Addr: netip.MustParseAddr("172.31.254.2"), Port: 10251, Client: client, Log: testutil.DiscardLogger()}
	err := c.ensureEndpoints(context.Background())
	if err == nil || !strings.Contains(err.Error(), "get Service kube-system/metrics-server") {
		t.Errorf("no Service: %v", err)
	}
	for _, a := range client.Actions() {
		if _, ok := a.(k8stesting.CreateAction); ok {
			t.Errorf("wrote %s without its Service", a.GetResource().Resource)
		}
	}
}

func TestOptions(t *testing.T) {
	c := &Config{Addr: netip.MustParseAddr("10.0.0.1"), Port: 10251, ServingCert: "/tls/s.crt", ServingKey: "/tls/s.key",
		Kubeconfig: "/cred/ms.kubeconfig", KubeletCA: "/tls/kubelet-ca.crt", Resolution: 15 * time.Second}
	o, err := c.options()
	if err != nil {
		t.Fatal(err)
	}
	if o.SecureServing.BindAddress.String() != "10.0.0.1" || o.SecureServing.BindPort != 10251 ||
		o.KubeletClient.KubeletCAFile != "/tls/kubelet-ca.crt" || o.KubeletClient.InsecureKubeletTLS ||
		o.Authentication.RemoteKubeConfigFile != "/cred/ms.kubeconfig" || o.Kubeconfig != "/cred/ms.kubeconfig" ||
		o.Authentication.Anonymous.Enabled {
		t.Errorf("options: %+v", o)
	}
	c.Resolution = 5 * time.Second
	if _, err := c.options(); err == nil || !strings.Contains(err.Error(), "at least 10s") {
		t.Errorf("5s resolution: %v", err)
	}
}
