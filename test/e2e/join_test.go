//go:build e2e

package e2e

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/test/testutil"
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
      tolerations: [{operator: Exists}]
` + webContainers + `---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

// TestJoin runs a two-node cluster: a server, and an `edgek agent` on a second host (its
// own network namespace, on a LAN made of a veth between the two) that joins it with the
// server's token. Pods on the two nodes talk over flannel VXLAN, the agent's kubelet serves
// logs and exec, tokens that are not the server's are refused, and node names are bound to
// the machine that joined with them.
func TestJoin(t *testing.T) { testJoin(t, "vxlan") }

// TestJoinHostGW is TestJoin with flannel's host-gw backend: routes to the other node's pod
// subnet via its address on the LAN, no VXLAN device.
func TestJoinHostGW(t *testing.T) { testJoin(t, "host-gw") }

func testJoin(t *testing.T, backend string) {
	nsServer, nsAgent := newNetns(t), newNetnsAt(t, "172.31.254.3")
	run(t, "ip", "-n", nsAgent.name, "route", "add", "default", "dev", "edgek0")
	nsServer.connect(t, nsAgent)

	s := newServer(t, nsServer, "--node-name", "server", "--flannel-backend", backend)
	s.start()
	token := strings.TrimSpace(readFile(t, filepath.Join(s.dataDir, "server", "token")))
	if backend == "vxlan" {
		checkJoinRefused(t, nsAgent, s, token)
	}

	a := newAgent(t, nsAgent, s, token, "--node-name", "agent", "--node-label", "edgek.io/e2e=agent",
		"--node-taint", "edgek.io/e2e=agent:NoSchedule")
	// The agent finds its image in place at start, zstd-compressed, next to a broken archive
	// that is reported and skipped.
	agentImages := filepath.Join(a.dataDir, "agent", "images")
	os.MkdirAll(agentImages, 0o755)
	if err := os.WriteFile(filepath.Join(agentImages, "broken.tar"), []byte("not a tar archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	webBin := buildWebserver(t)
	dropImageAs(t, agentImages, webBin, "web.tar.zst")
	// Older than the importer's settle time (a file still being copied is left for later):
	// the start-up import takes it, not the watcher.
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(filepath.Join(agentImages, "web.tar.zst"), old, old); err != nil {
		t.Fatal(err)
	}
	a.start()
	// Imported during start-up, before the agent says it is ready.
	if log := readFile(t, a.logPath); !regexp.MustCompile(`(?s)msg="imported images" [^\n]*file=web.tar.zst .*msg="edgek agent is ready"`).MatchString(log) {
		t.Error("the archive in place at start was not imported before the agent was ready")
	}
	s.mustKubectl("wait", "--for=condition=Ready", "node/server", "node/agent", "--timeout=120s")
	checkCgroupRoot(t, a)
	if out := s.mustKubectl("get", "node", "agent", "-o", `jsonpath={.metadata.labels.edgek\.io/e2e} {.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect} {.spec.podCIDR}`); !strings.HasPrefix(out, "agent edgek.io/e2e=agent:NoSchedule 10.42.") {
		t.Errorf("agent node label, taint, podCIDR: %q", out)
	}
	if s.mustKubectl("get", "node", "server", "-o", "jsonpath={.spec.podCIDR}") == s.mustKubectl("get", "node", "agent", "-o", "jsonpath={.spec.podCIDR}") {
		t.Error("both nodes got the same podCIDR")
	}
	if out := s.mustKubectl("get", "csr", "-o", `jsonpath={range .items[*]}{.spec.username} {.status.conditions[0].type}{"\n"}{end}`); !strings.Contains(out, "system:bootstrap:") || !strings.Contains(out, "Approved") {
		t.Errorf("the agent's kubelet did not get its certificate through an approved CSR: %q", out)
	}
	if backend == "vxlan" {
		checkKubeProxyIdentity(t, a)
	}

	dropImage(t, filepath.Join(s.dataDir, "agent", "images"), webBin)
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

	// The agent learnt the backend from the server.
	agentPodCIDR := s.mustKubectl("get", "node", "agent", "-o", "jsonpath={.spec.podCIDR}")
	routes, _ := nsServer.command("ip", "route", "show", agentPodCIDR).CombinedOutput()
	links, _ := nsAgent.command("ip", "-o", "link", "show").CombinedOutput()
	switch backend {
	case "vxlan":
		if !strings.Contains(string(routes), "dev flannel.1") || !strings.Contains(string(links), "flannel.1") {
			t.Errorf("vxlan: route to the agent's pods %q, agent links:\n%s", routes, links)
		}
	case "host-gw":
		if !strings.Contains(string(routes), "via 172.31.254.3") || strings.Contains(string(links), "flannel.1") {
			t.Errorf("host-gw: route to the agent's pods %q, agent links:\n%s", routes, links)
		}
	}

	if log := readFile(t, a.logPath); !regexp.MustCompile(`msg="image archive import failed" .*file=broken.tar err=\S`).MatchString(log) {
		t.Error("the broken archive was not reported with its name and the reason")
	}

	// Across nodes, both ways, over the pod network.
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
	checkTop(t, s, []string{"server", "agent"}, pods["agent"])
	checkNetworkPolicy(t, s, pods, ips)

	if backend != "vxlan" {
		a.stop()
		s.stop()
		return
	}
	// The agent's kubelet serves logs and exec (above) with a certificate the server CA signed,
	// which the apiserver verifies: with a self-signed one in its place they fail.
	csrs := func(signer string) string {
		return s.mustKubectl("get", "csr", "-o", `jsonpath={range .items[?(@.spec.signerName=="`+signer+`")]}{.spec.username} {.status.conditions[0].type}{"\n"}{end}`)
	}
	if out := csrs("kubernetes.io/kubelet-serving"); !strings.Contains(out, "system:node:agent Approved") {
		t.Errorf("the agent's kubelet serving certificate was not approved: %q", out)
	}
	checkLocalStorageOnAgent(t, s, a)
	checkServiceLB(t, nsServer, nsAgent, s, webBin, pods)
	a.stop()
	// As the kubelet keeps it (a file and the -current link to it), for the names and
	// addresses it would request: the kubelet serves it as long as it is valid.
	tlsDir := filepath.Join(a.dataDir, "agent", "tls")
	fake := "kubelet-server-2026-01-01-00-00-00.pem"
	if err := os.WriteFile(filepath.Join(tlsDir, fake), selfSigned(t, "agent", nsAgent.ip), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(tlsDir, "kubelet-server-current.pem"))
	if err := os.Symlink(filepath.Join(tlsDir, fake), filepath.Join(tlsDir, "kubelet-server-current.pem")); err != nil {
		t.Fatal(err)
	}
	// A restarted agent rejoins with its certificate and keeps its node.
	a.start()
	s.mustKubectl("wait", "--for=condition=Ready", "node/agent", "--timeout=120s")
	if n := strings.Count(csrs("kubernetes.io/kube-apiserver-client-kubelet"), "\n"); n != 1 {
		t.Errorf("%d client CSRs after the agent's restart, want the first one only", n)
	}
	eventually(t, 60*time.Second, "kubectl logs refused by the apiserver: the kubelet's serving certificate is self-signed", func() error {
		if out, err := s.kubectl("logs", pods["agent"]); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			return fmt.Errorf("%v, %q", err, out)
		}
		return nil
	})
	if log := readFile(t, a.logPath); !strings.Contains(log, `with="the node's certificate"`) ||
		strings.Contains(log, "does not accept the node's certificate") {
		t.Error("the restarted agent did not rejoin with its certificate")
	}

	// With the server away, a restarted agent starts its kubelet from the settings of its
	// last join (the pod network waits for the server).
	s.stop()
	a.stop()
	a.launch()
	a.waitLog(90*time.Second, "starting with the settings of the last join", `msg="component ready" component=kubelet`)
	a.stop()

	// edgek token rotate, on the running server: the old token joins no one from then on
	// (its bootstrap token is gone), and the joined node still rejoins.
	tokens := func() string {
		return s.mustKubectl("get", "secret", "-n", "kube-system", "--field-selector", "type=bootstrap.kubernetes.io/token", "-o", "name")
	}
	s.start()
	newToken := tokenLine(t, s.edgekToken("rotate", "--force")) // --force: this host may have an installed edgek configured
	if newToken == token || newToken != strings.TrimSpace(readFile(t, filepath.Join(s.dataDir, "server", "token"))) {
		t.Fatalf("edgek token rotate printed %q; the old token was %q", newToken, token)
	}
	eventually(t, 30*time.Second, "one bootstrap token, the new one", func() error {
		if out := tokens(); strings.Count(out, "secret/") != 1 || strings.Contains(out, "bootstrap-token-"+bootstrapID(token)) {
			return fmt.Errorf("bootstrap token Secrets: %q", out)
		}
		return nil
	})
	checkRefused(t, nsAgent, s, "the token before rotate", token, "the server rejected the join token")
	a.start()
	eventually(t, 60*time.Second, "the agent's node Ready after the token change", func() error {
		_, err := s.kubectl("wait", "--for=condition=Ready", "node/agent", "--timeout=5s")
		return err
	})
	checkNodeIdentity(t, nsServer, s, a)
	s.stop()
}

// checkNodeIdentity: another machine (a third host on the LAN) holding the join token cannot
// join under the name of a registered node, nor under the server's; once the node is deleted
// its name is free. a is running; it is stopped on return.
func checkNodeIdentity(t *testing.T, nsServer *netns, s, a *server) {
	t.Helper()
	token := strings.TrimSpace(readFile(t, filepath.Join(s.dataDir, "server", "token")))
	nsOther := newNetnsAt(t, "172.31.254.4")
	run(t, "ip", "-n", nsOther.name, "route", "add", "default", "dev", "edgek0")
	nsServer.connect(t, nsOther)
	checkRefused(t, nsOther, s, "another machine as node agent", token,
		`NodeNameTaken, message: node "agent" is registered by another machine`, "--node-name", "agent")
	checkRefused(t, nsOther, s, "another machine as the server's node", token,
		`NodeNameReserved, message: node name "server" is the server's node`, "--node-name", "server")
	if !strings.Contains(readFile(t, s.logPath), `msg="refused a joining node's certificate"`) {
		t.Error("the server did not log the refusals")
	}
	// Tokens that expire (edgek token create): an expired one is refused.
	expired := tokenLine(t, s.edgekToken("create", "--ttl", "1s"))
	time.Sleep(2 * time.Second)
	checkRefused(t, nsOther, s, "an expired token", expired, "the server rejected the join token", "--node-name", "other")

	// The board is re-imaged: its node is deleted, and the new machine takes the name, joining
	// with a token made for it.
	a.stop()
	s.mustKubectl("delete", "node", "agent")
	fresh := tokenLine(t, s.edgekToken("create", "--ttl", "10m", "--description", "e2e re-imaged board"))
	if list := s.edgekToken("list"); !strings.Contains(list, bootstrapID(fresh)) || !strings.Contains(list, "e2e re-imaged board") || strings.Contains(list, fresh[strings.LastIndex(fresh, ".")+1:]) {
		t.Errorf("edgek token list: want the new token's ID and description, not its secret:\n%s", list)
	}
	other := newAgent(t, nsOther, s, fresh, "--node-name", "agent")
	other.launch()
	other.waitLog(120*time.Second, `msg="the server signed the kubelet's client certificate"`)
	other.stop()
	if out := s.edgekToken("delete", bootstrapID(fresh)); !strings.Contains(out, "deleted token "+bootstrapID(fresh)) {
		t.Errorf("edgek token delete: %s", out)
	}
	// The apiserver caches a token's successful authentication for 10 seconds (kube-apiserver's
	// token success cache): the agent above used this one just now.
	time.Sleep(11 * time.Second)
	checkRefused(t, nsOther, s, "a deleted token", fresh, "the server rejected the join token", "--node-name", "other")
}

// bootstrapID is the id of the bootstrap token edgek derives from a join token.
func bootstrapID(token string) string {
	_, secret, _ := pki.ParseToken(token)
	id, _, _ := strings.Cut(pki.BootstrapToken(secret), ".")
	return id
}

// checkJoinRefused runs agents with tokens that must not join: each exits with a clear error.
func checkJoinRefused(t *testing.T, ns *netns, s *server, token string) {
	t.Helper()
	hash, _, _ := strings.Cut(strings.TrimPrefix(token, "K10"), "::")
	checkRefused(t, ns, s, "wrong secret", "K10"+hash+"::server:not-the-secret", "the server rejected the join token")
	checkRefused(t, ns, s, "token of another server", "K10"+strings.Repeat("ab", 32)+"::server:x", "is not the one the token pins")
}

// checkRefused runs an agent in ns that joins s with token (and extra flags) and must exit
// with an error that says want.
func checkRefused(t *testing.T, ns *netns, s *server, name, token, want string, extra ...string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"agent", "--server", "https://" + s.ns.ip + ":6443", "--token", token,
		"--data-dir", filepath.Join(dir, "data"), "--config", filepath.Join(dir, "config.yaml"), "--node-ip", ns.ip}, extra...)
	out, code, err := runEdgek(ns, 90*time.Second, args...)
	if err != nil || code == 0 || !strings.Contains(lastLine(out), want) {
		t.Errorf("%s: exit %d, %v, want an error %q; output:\n%s", name, code, err, want, out)
		// It joined after all: stop what it started (containerd, shims, pods).
		if out, _, err := runEdgek(ns, 2*time.Minute, "killall", "--data-dir", filepath.Join(dir, "data")); err != nil {
			t.Errorf("killall after %s: %v\n%s", name, err, out)
		}
	}
}

// edgekToken runs edgek token with args on the server s, and returns its output.
func (s *server) edgekToken(args ...string) string {
	s.t.Helper()
	// Flags before arguments (urfave/cli stops parsing flags at the first argument).
	out, code, err := runEdgek(s.ns, time.Minute, append([]string{"token", args[0], "--data-dir", s.dataDir}, args[1:]...)...)
	if err != nil || code != 0 {
		s.t.Fatalf("edgek token %v: exit %d, %v\n%s", args, code, err, out)
	}
	return out
}

// tokenLine is the join token edgek token printed.
func tokenLine(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "K10") {
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("no token in the output of edgek token:\n%s", out)
	return ""
}

// checkCgroupRoot: --kubelet-arg reaches the kubelet; its pods' cgroups are under the
// cgroup root withCgroupRoot passed that way.
func checkCgroupRoot(t *testing.T, n *server) {
	t.Helper()
	var root string
	for _, a := range n.args {
		if r, ok := strings.CutPrefix(a, "cgroup-root="); ok {
			root = r
		}
	}
	if root == "" {
		t.Fatal("node has no --kubelet-arg cgroup-root")
	}
	if dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", root, "kubepods*")); len(dirs) == 0 {
		if dirs, _ = filepath.Glob(filepath.Join("/sys/fs/cgroup", root, "kubepods*")); len(dirs) == 0 {
			t.Errorf("no kubepods cgroup under the node's cgroup root %s: --kubelet-arg ignored?", root)
		}
	}
}

// newCgroupRoot creates /name in every cgroup hierarchy (the kubelet wants its cgroup root
// to exist) and removes what is left below it when the test ends.
func newCgroupRoot(t *testing.T, name string) string {
	t.Helper()
	hierarchies := []string{"/sys/fs/cgroup"} // cgroup v2: one hierarchy
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		procs, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs") // v1 or hybrid: one per mount
		hierarchies = hierarchies[:0]
		for _, p := range procs {
			hierarchies = append(hierarchies, filepath.Dir(p))
		}
	}
	for _, hier := range hierarchies {
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

// selfSigned is a self-signed kubelet serving certificate and its key (PEM) of node at ip,
// with the subject and names the kubelet requests (so it does not replace it at once).
func selfSigned(t *testing.T, node, ip string) []byte {
	t.Helper()
	cert, key := testutil.SelfSigned(t, x509.Certificate{
		Subject:   pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{node}, IPAddresses: []net.IP{net.ParseIP(ip)},
	})
	return append(cert, key...)
}

// checkKubeProxyIdentity: a joined node's kube-proxy runs as system:kube-proxy, from a
// certificate the node requested, and the node's own credentials no longer carry what
// kube-proxy may read (EndpointSlices of every namespace).
func checkKubeProxyIdentity(t *testing.T, a *server) {
	t.Helper()
	tlsDir := filepath.Join(a.dataDir, "agent", "tls")
	if c := readCert(t, filepath.Join(tlsDir, "client-kube-proxy.crt")); c.Subject.CommonName != "system:kube-proxy" || len(c.Subject.Organization) > 0 {
		t.Errorf("kube-proxy's certificate is for %q %q", c.Subject.CommonName, c.Subject.Organization)
	}
	if kc := readFile(t, filepath.Join(a.dataDir, "agent", "kube-proxy.kubeconfig")); !strings.Contains(kc, filepath.Join(tlsDir, "client-kube-proxy.crt")) {
		t.Errorf("kube-proxy's kubeconfig does not name its certificate:\n%s", kc)
	}
	canI := func(kubeconfig string) string {
		out, _ := a.ns.command(edgekBin, "kubectl", "--kubeconfig", filepath.Join(a.dataDir, "agent", kubeconfig),
			"auth", "can-i", "list", "endpointslices.discovery.k8s.io", "--all-namespaces").CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	if got := canI("kube-proxy.kubeconfig"); got != "yes" {
		t.Errorf("kube-proxy may not list EndpointSlices: %q", got)
	}
	if got := canI("kubelet.kubeconfig"); got != "no" {
		t.Errorf("the node's own credentials may list EndpointSlices: %q", got)
	}
}
