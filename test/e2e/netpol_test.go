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

// checkNetworkPolicy (on TestJoin's two nodes): NetworkPolicies are enforced across nodes
// and on one node. The targets are the web pods (namespace default) of the agent and of the
// server; the clients run on the server: its web pod and a pod in namespace np-allowed
// (labelled team=allowed). Default-deny ingress blocks them; an allow rule for team=allowed
// on port 8080 opens exactly that namespace's traffic, and the same rule for another port
// does not; removing the policies restores traffic; default-deny egress in np-allowed blocks
// its pod's own connections.
func checkNetworkPolicy(t *testing.T, s *server, pods, ips map[string]string) {
	t.Helper()
	s.mustApply(netpolClient)
	s.mustKubectl("wait", "-n", "np-allowed", "--for=condition=Ready", "pod/client", "--timeout=120s")
	// reach: true if the target answered, false if the connection was refused or timed out
	// (the policy), an error for anything else (kubectl exec itself failing).
	reach := func(ns, pod, target string) (bool, error) {
		out, err := s.kubectl("exec", "-n", ns, pod, "--", "/webserver", "get", "http://"+ips[target]+":8080/")
		switch {
		case err == nil && strings.TrimSpace(out) == pods[target]:
			return true, nil
		case err != nil && (strings.Contains(err.Error(), "dial tcp") || strings.Contains(err.Error(), "Client.Timeout")):
			return false, nil // the webserver's own error, which kubectl's carries
		}
		return false, fmt.Errorf("from %s/%s to %s's pod: %q, %v", ns, pod, target, out, err)
	}
	type want struct{ defaultToAgent, allowedToAgent, allowedToServer bool }
	expect := func(what string, w want) {
		t.Helper()
		eventually(t, 60*time.Second, what, func() error {
			var got want
			var err error
			for _, p := range []struct {
				ns, pod, target string
				res             *bool
			}{{"default", pods["server"], "agent", &got.defaultToAgent}, {"np-allowed", "client", "agent", &got.allowedToAgent}, {"np-allowed", "client", "server", &got.allowedToServer}} {
				if *p.res, err = reach(p.ns, p.pod, p.target); err != nil {
					return err
				}
			}
			if got != w {
				return fmt.Errorf("reached (default→agent, np-allowed→agent, np-allowed→server on its node): %+v, want %+v", got, w)
			}
			return nil
		})
	}
	expect("every client reaches the web pods without policies", want{true, true, true})
	s.mustApply(denyIngress)
	expect("default-deny ingress blocks every client", want{false, false, false})
	s.mustApply(allowFrom(8080))
	expect("the allow rule opens port 8080 to namespace np-allowed only", want{false, true, true})
	s.mustApply(allowFrom(9090))
	expect("the allow rule for port 9090 does not open 8080", want{false, false, false})
	s.mustKubectl("delete", "networkpolicy", "deny-ingress", "allow-team")
	expect("traffic restored once the policies are deleted", want{true, true, true})
	s.mustApply(denyEgress)
	expect("default-deny egress in np-allowed blocks its pod", want{true, false, false})
	s.mustKubectl("delete", "namespace", "np-allowed", "--wait=false")
}
