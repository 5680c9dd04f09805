//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// webDaemonSet runs the test workload on every node.
const webDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ` + webImage + `
        imagePullPolicy: Never
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

// TestJoin runs a two-node cluster: a server, and an `edgek agent` on a second host (its
// own network namespace, on a LAN made of a veth between the two) that joins it with the
// server's token. Pods on the two nodes talk over flannel VXLAN, and the agent's kubelet
// serves logs and exec.
func TestJoin(t *testing.T) {
	nsServer, nsAgent := newNetns(t), newNetnsAt(t, "172.31.254.3")
	run(t, "ip", "-n", nsAgent.name, "route", "add", "default", "dev", "edgek0")
	nsServer.connect(t, nsAgent)

	s := newServer(t, nsServer, "--node-name", "server")
	s.start()
	token := strings.TrimSpace(readFile(t, filepath.Join(s.dataDir, "server", "token")))
	checkJoinRefused(t, nsAgent, s, token)

	// The second kubelet on this machine gets a cgroup root of its own: kubelets remove
	// pod cgroups they do not know under theirs.
	cgroupRoot := newCgroupRoot(t, fmt.Sprintf("edgek-e2e-%d", os.Getpid()))
	a := newAgent(t, nsAgent, s, token, "--node-name", "agent", "--node-label", "edgek.io/e2e=agent",
		"--kubelet-arg", "cgroup-root=/"+cgroupRoot)
	a.start()
	s.mustKubectl("wait", "--for=condition=Ready", "node/server", "node/agent", "--timeout=120s")
	if out := s.mustKubectl("get", "node", "agent", "-o", `jsonpath={.metadata.labels.edgek\.io/e2e} {.spec.podCIDR}`); !strings.HasPrefix(out, "agent 10.42.") {
		t.Errorf("agent node labels/podCIDR: %q", out)
	}
	if s.mustKubectl("get", "node", "server", "-o", "jsonpath={.spec.podCIDR}") == s.mustKubectl("get", "node", "agent", "-o", "jsonpath={.spec.podCIDR}") {
		t.Error("both nodes got the same podCIDR")
	}
	if out := s.mustKubectl("get", "csr", "-o", `jsonpath={range .items[*]}{.spec.username} {.status.conditions[0].type}{"\n"}{end}`); !strings.Contains(out, "system:bootstrap:") || !strings.Contains(out, "Approved") {
		t.Errorf("the agent's kubelet did not get its certificate through an approved CSR: %q", out)
	}

	webBin := buildWebserver(t)
	for _, n := range []*server{s, a} {
		dropImage(t, filepath.Join(n.dataDir, "agent", "images"), webBin)
	}
	s.mustApply(webDaemonSet)
	pods := map[string]string{} // node -> pod
	ips := map[string]string{}  // node -> pod IP
	eventually(t, 120*time.Second, "a ready web pod on each node", func() error {
		out, err := s.kubectl("get", "pods", "-l", "app=web", "-o",
			`jsonpath={range .items[*]}{.spec.nodeName} {.metadata.name} {.status.podIP} {.status.containerStatuses[0].ready}{"\n"}{end}`)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 4 && f[3] == "true" {
				pods[f[0]], ips[f[0]] = f[1], f[2]
			}
		}
		if pods["server"] == "" || pods["agent"] == "" {
			return fmt.Errorf("pods: %q", out)
		}
		return nil
	})

	// Across nodes, both ways, over the pod network (VXLAN between the two hosts).
	for from, to := range map[string]string{"server": "agent", "agent": "server"} {
		target := "http://" + ips[to] + ":8080/"
		eventually(t, 30*time.Second, "from "+from+"'s pod, GET "+to+"'s pod "+target, func() error {
			out, err := s.kubectl("exec", pods[from], "--", "/webserver", "get", target)
			if err != nil || strings.TrimSpace(out) != pods[to] {
				return fmt.Errorf("%q, %v", out, err)
			}
			return nil
		})
	}
	// Cluster DNS and a ClusterIP Service from the agent's pod, and the agent's kubelet API.
	eventually(t, 30*time.Second, "from the agent's pod, GET http://web.default.svc.cluster.local/", func() error {
		out, err := s.kubectl("exec", pods["agent"], "--", "/webserver", "get", "http://web.default.svc.cluster.local/")
		if err != nil || !strings.HasPrefix(out, "web-") {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	if out := s.mustKubectl("logs", pods["agent"]); !strings.Contains(out, "listening on :8080") {
		t.Errorf("kubectl logs of the agent's pod = %q", out)
	}

	// A restarted agent keeps its certificate and its node.
	a.stop()
	a.start()
	s.mustKubectl("wait", "--for=condition=Ready", "node/agent", "--timeout=120s")
	if n := strings.Count(s.mustKubectl("get", "csr", "-o", "name"), "\n"); n != 1 {
		t.Errorf("%d CSRs after the agent's restart, want the first one only", n)
	}
	a.stop()
	s.stop()
}

// checkJoinRefused runs agents with tokens that must not join: each exits with a clear error.
func checkJoinRefused(t *testing.T, ns *netns, s *server, token string) {
	t.Helper()
	hash, _, _ := strings.Cut(strings.TrimPrefix(token, "K10"), "::")
	url := "https://" + s.ns.ip + ":6443"
	for _, tt := range []struct{ name, token, want string }{
		{"wrong secret", "K10" + hash + "::server:not-the-secret", "the server rejected the join token"},
		{"token of another server", "K10" + strings.Repeat("ab", 32) + "::server:x", "is not the one the token pins"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.yaml"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		out, code, err := runEdgek(ns, 90*time.Second, "agent", "--server", url, "--token", tt.token,
			"--data-dir", filepath.Join(dir, "data"), "--config", filepath.Join(dir, "config.yaml"), "--node-ip", ns.ip)
		if err != nil || code == 0 || !strings.Contains(lastLine(out), tt.want) {
			t.Errorf("%s: exit %d, %v, want an error %q; output:\n%s", tt.name, code, err, tt.want, out)
		}
	}
}

// newCgroupRoot creates /name in every cgroup hierarchy (the kubelet wants its cgroup root
// to exist) and removes what is left below it when the test ends.
func newCgroupRoot(t *testing.T, name string) string {
	t.Helper()
	mounts, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	for _, m := range mounts {
		hier := filepath.Dir(m)
		dir := filepath.Join(hier, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(hier, f)); err == nil {
				os.WriteFile(filepath.Join(dir, f), v, 0o644)
			}
		}
		t.Cleanup(func() { removeCgroupTree(t, dir) })
	}
	return name
}

// removeCgroupTree removes dir and the cgroups below it, deepest first.
func removeCgroupTree(t *testing.T, dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		var err error
		for try := 0; try < 50; try++ { // a cgroup whose last task just exited may be busy a moment
			if err = os.Remove(dirs[i]); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil && !os.IsNotExist(err) {
			t.Errorf("remove cgroup %s: %v", dirs[i], err)
		}
	}
}
