//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// lbService is a LoadBalancer Service on port for the pods labelled app=web (and extra
// selector labels), with externalTrafficPolicy policy.
func lbService(name string, port int, policy, extraSelector string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s, namespace: default}
spec:
  type: LoadBalancer
  externalTrafficPolicy: %s
  selector: {app: web%s}
  ports: [{port: %d, targetPort: 8080}]
`, name, policy, extraSelector, port)
}

// lanHost is another host on the nodes' LAN (ip in 172.31.254.0/24): a namespace without
// Kubernetes, wired to n's bridge, from where the LoadBalancer addresses are reached.
func lanHost(t *testing.T, n *netns, ip string) *netns {
	t.Helper()
	h := newNetnsAt(t, ip)
	n.connect(t, h)
	return h
}

// waitIngress waits until the Service namespace/name's status lists exactly want
// (space-separated IPs).
func waitIngress(t *testing.T, s *server, namespace, name, want string) {
	t.Helper()
	eventually(t, 60*time.Second, "Service "+namespace+"/"+name+" has the LoadBalancer addresses ["+want+"]", func() error {
		out, err := s.kubectl("get", "svc", "-n", namespace, name, "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")
		if err != nil || out != want {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
}

// getFromHost GETs url from inside h (a node or a host on the LAN; webBin's get) until it
// answers with a web pod's name; want, when set, is the pod that must answer.
func getFromHost(t *testing.T, h *netns, webBin, url, want string) {
	t.Helper()
	eventually(t, 30*time.Second, "from "+h.name+", GET "+url, func() error {
		out, err := h.command(webBin, "get", url).CombinedOutput()
		got := strings.TrimSpace(string(out))
		if err != nil || !strings.HasPrefix(got, "web-") || (want != "" && got != want) {
			return fmt.Errorf("%q, %v; want %q", got, err, want)
		}
		return nil
	})
}

// checkServiceLB (on the two-node cluster of TestJoin, a web pod on each node): a
// LoadBalancer Service gets both nodes' addresses and answers on each from another host on
// the LAN; a second Service asking for the same port stays pending with an Event and gets
// the addresses once the first is gone; externalTrafficPolicy Local lists (and serves on)
// only the node running the endpoint; the enablelb node label selects the serving nodes.
//
// Each node is reached from a host wired to its own bridge: the test LAN's "switch" is a
// node's bridge, whose netfilter (bridge-nf-call-iptables, which kube-proxy needs) would
// otherwise take the frames it forwards to the other node, as no real switch does.
func checkServiceLB(t *testing.T, nsServer, nsAgent *netns, s *server, webBin string, pods map[string]string) {
	t.Helper()
	hosts := map[string]*netns{"172.31.254.2": lanHost(t, nsServer, "172.31.254.5"), "172.31.254.3": lanHost(t, nsAgent, "172.31.254.6")}
	both := "172.31.254.2 172.31.254.3"

	s.mustApply(lbService("web-lb", 8081, "Cluster", ""))
	waitIngress(t, s, "default", "web-lb", both)
	if out := s.mustKubectl("get", "svc", "web-lb"); !strings.Contains(out, "172.31.254.2,172.31.254.3") {
		t.Errorf("kubectl get svc does not show the external IPs:\n%s", out)
	}
	for _, ip := range strings.Fields(both) {
		getFromHost(t, hosts[ip], webBin, "http://"+ip+":8081/", "")
	}

	// The port is taken: the second Service waits, and says why.
	s.mustApply(lbService("web-lb2", 8081, "Cluster", ""))
	eventually(t, 60*time.Second, "a PortInUse Event on web-lb2", func() error {
		out, err := s.kubectl("get", "events", "--field-selector", "involvedObject.name=web-lb2,reason=PortInUse", "-o", "jsonpath={.items[*].message}")
		if err != nil || !strings.Contains(out, "port 8081/TCP is taken by Service default/web-lb") {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	if out := s.mustKubectl("get", "svc", "web-lb2", "-o", "jsonpath={.status.loadBalancer.ingress}"); out != "" {
		t.Errorf("web-lb2 got addresses for a port web-lb holds: %s", out)
	}

	// externalTrafficPolicy Local: only the agent runs an endpoint (its pod carries lb=local).
	s.mustKubectl("label", "pod", pods["agent"], "lb=local")
	s.mustApply(lbService("web-local", 8083, "Local", ", lb: local"))
	waitIngress(t, s, "default", "web-local", "172.31.254.3")
	getFromHost(t, hosts["172.31.254.3"], webBin, "http://172.31.254.3:8083/", pods["agent"])

	// Only the labelled nodes serve once one is labelled.
	s.mustKubectl("label", "node", "server", "svccontroller.edgek.io/enablelb=true")
	waitIngress(t, s, "default", "web-lb", "172.31.254.2")
	s.mustKubectl("label", "node", "server", "svccontroller.edgek.io/enablelb-")
	waitIngress(t, s, "default", "web-lb", both)

	// The first goes: the second gets the port.
	s.mustKubectl("delete", "svc", "web-lb")
	waitIngress(t, s, "default", "web-lb2", both)
	for _, ip := range strings.Fields(both) {
		getFromHost(t, hosts[ip], webBin, "http://"+ip+":8081/", "")
	}
	s.mustKubectl("delete", "svc", "web-lb2", "web-local")
	s.mustKubectl("label", "pod", pods["agent"], "lb-")
}
