//go:build e2e

package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// topLine is a `kubectl top` row with numbers: NAME CPU(cores) [CPU%] MEMORY(bytes) [MEMORY%].
var topLine = regexp.MustCompile(`^(\S+)\s+\d+m\s+(\d+%\s+)?\d+Mi\b`)

// checkTop: the metrics API (the server's in-process metrics-server) answers `kubectl top`
// with numbers for every node and for the pod.
func checkTop(t *testing.T, s *server, nodes []string, pod string) {
	t.Helper()
	start := time.Now()
	eventually(t, 120*time.Second, "kubectl top nodes with a row for each node", func() error {
		out, err := s.kubectl("top", "nodes", "--no-headers")
		if err != nil {
			return fmt.Errorf("%q, %v", out, err)
		}
		for _, n := range nodes {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(n) + `\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%`).MatchString(out) {
				return fmt.Errorf("no numbers for node %s in %q", n, out)
			}
		}
		return nil
	})
	t.Logf("kubectl top nodes answered after %s", time.Since(start).Round(time.Second))
	eventually(t, 90*time.Second, "kubectl top pod "+pod, func() error {
		out, err := s.kubectl("top", "pod", pod, "--no-headers")
		if m := topLine.FindStringSubmatch(strings.TrimSpace(out)); err != nil || m == nil || m[1] != pod {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
}

const burnManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: burn, namespace: default}
spec:
  selector: {matchLabels: {app: burn}}
  template:
    metadata: {labels: {app: burn}}
    spec:
      containers:
      - name: web
        image: ` + webImage + `
        imagePullPolicy: Never
        resources: {requests: {cpu: 20m}}
---
apiVersion: v1
kind: Service
metadata: {name: burn, namespace: default}
spec:
  selector: {app: burn}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: burn, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burn}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  # No waiting before scaling down (the default is 5 minutes), so the test sees it.
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 0
      policies: [{type: Percent, value: 100, periodSeconds: 15}]
`

// checkHPA: a HorizontalPodAutoscaler on CPU scales a Deployment up from 1 replica while a
// client on the node keeps its pods busy, and back to 1 once the client stops.
func checkHPA(t *testing.T, s *server, ns *netns, webBin string) {
	t.Helper()
	s.mustApply(burnManifest)
	s.mustKubectl("rollout", "status", "deployment/burn", "--timeout=120s")
	clusterIP := strings.TrimSpace(s.mustKubectl("get", "svc", "burn", "-o", "jsonpath={.spec.clusterIP}"))
	replicas := func() (int, string) {
		out, _ := s.kubectl("get", "hpa", "burn", "-o", `jsonpath={.status.desiredReplicas} {.status.currentMetrics[0].resource.current.averageUtilization}`)
		n, _ := strconv.Atoi(strings.Fields(out + " x")[0])
		return n, out
	}
	load := ns.command(webBin, "load", "http://"+clusterIP+"/burn")
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	stopLoad := func() {
		if load.Process != nil {
			load.Process.Kill()
			load.Wait()
			load.Process = nil
		}
	}
	defer stopLoad()
	start := time.Now()
	eventually(t, 180*time.Second, "the HPA scaling burn up under load", func() error {
		if n, out := replicas(); n < 2 {
			return fmt.Errorf("desired replicas, CPU utilization %%: %q", out)
		}
		return nil
	})
	t.Logf("HPA scaled up %s after the load started", time.Since(start).Round(time.Second))
	stopLoad()
	start = time.Now()
	eventually(t, 180*time.Second, "the HPA scaling burn back to 1 without load", func() error {
		n, out := replicas()
		if ready := s.mustKubectl("get", "deployment", "burn", "-o", "jsonpath={.status.replicas}"); n != 1 || ready != "1" {
			return fmt.Errorf("desired replicas, CPU utilization %%: %q; deployment replicas %q", out, ready)
		}
		return nil
	})
	t.Logf("HPA scaled down %s after the load stopped", time.Since(start).Round(time.Second))
	s.mustKubectl("delete", "hpa,deployment,service", "burn")
}
