//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const netpolClient = `apiVersion: v1
kind: Namespace
metadata: {name: np-allowed, labels: {team: allowed}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: np-allowed}
spec:
  nodeSelector: {kubernetes.io/hostname: server}
  containers:
  - {name: web, image: ` + webImage + `, imagePullPolicy: Never}
`

const denyIngress = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`

// allowFrom lets pods of namespaces labelled team=allowed reach the web pods on port.
func allowFrom(port int) string {
	return fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-team, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: allowed}}}]
    ports: [{protocol: TCP, port: %d}]
`, port)
}

const denyEgress = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: np-allowed}
spec:
  podSelector: {}
  policyTypes: [Egress]
`

// checkNetworkPolicy (on TestJoin's two nodes): NetworkPolicies are enforced across nodes.
// The target is the agent's web pod; the clients run on the server: its web pod (namespace
// default) and a pod in namespace np-allowed (labelled team=allowed). Default-deny ingress
// blocks both; an allow rule for team=allowed on port 8080 opens exactly that namespace's
// traffic, and the same rule for another port does not; removing the policies restores
// traffic; default-deny egress in np-allowed blocks its pod's own connections.
func checkNetworkPolicy(t *testing.T, s *server, pods, ips map[string]string) {
	t.Helper()
	s.mustApply(netpolClient)
	s.mustKubectl("wait", "-n", "np-allowed", "--for=condition=Ready", "pod/client", "--timeout=120s")
	target := "http://" + ips["agent"] + ":8080/"
	reach := func(ns, pod string) bool {
		out, err := s.kubectl("exec", "-n", ns, pod, "--", "/webserver", "get", target)
		return err == nil && strings.TrimSpace(out) == pods["agent"]
	}
	expect := func(what string, fromDefault, fromAllowed bool) {
		t.Helper()
		eventually(t, 60*time.Second, what, func() error {
			d, a := reach("default", pods["server"]), reach("np-allowed", "client")
			if d != fromDefault || a != fromAllowed {
				return fmt.Errorf("%s reaches it: from namespace default %v (want %v), from np-allowed %v (want %v)", target, d, fromDefault, a, fromAllowed)
			}
			return nil
		})
	}
	expect("both clients reach the agent's pod without policies", true, true)
	s.mustApply(denyIngress)
	expect("default-deny ingress blocks both", false, false)
	s.mustApply(allowFrom(8080))
	expect("the allow rule opens port 8080 to namespace np-allowed only", false, true)
	s.mustApply(allowFrom(9090))
	expect("the allow rule for port 9090 does not open 8080", false, false)
	s.mustKubectl("delete", "networkpolicy", "deny-ingress", "allow-team")
	expect("traffic restored once the policies are deleted", true, true)
	s.mustApply(denyEgress)
	expect("default-deny egress in np-allowed blocks its pod", true, false)
	s.mustKubectl("delete", "namespace", "np-allowed", "--wait=false")
}
