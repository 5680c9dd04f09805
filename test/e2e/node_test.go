//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/oci"
)

const webImage = "docker.io/e2e/web:1"

// webContainers is the containers list of the test workload's pod template.
const webContainers = `      containers:
      - name: web
        image: ` + webImage + `
        imagePullPolicy: Never
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
`

const webManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
` + webContainers + `---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-nodeport, namespace: default}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
`

// TestNode runs a full single-node cluster offline: an image imported from a tarball in the
// images dir, pods on the flannel network, Services through kube-proxy, logs/exec/
// port-forward through the kubelet, and containers that survive an edgek restart.
func TestNode(t *testing.T) {
	ns := newNetns(t)
	// This host runs nodes (CI installed what check-config asks for): check-config agrees.
	if out, code, err := runEdgek(ns, 60*time.Second, "check-config"); err != nil || code != 0 ||
		!strings.Contains(out, "0 failed: edgek can run on this host") {
		t.Errorf("edgek check-config on this host: code %d, %v\n%s", code, err, out)
	}
	s := newServer(t, ns)
	s.start()
	s.mustKubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=120s")
	if out := s.mustKubectl("get", "nodes", "-l", "node-role.kubernetes.io/control-plane=true", "-o", "name"); strings.Count(out, "node/") != 1 {
		t.Errorf("the server's node lacks the control-plane role label: %q", out)
	}
	// On a cgroup v1 host (this one) the node runs, with a warning that says so.
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); os.IsNotExist(err) &&
		!strings.Contains(readFile(t, s.logPath), "level=WARN msg=\"cgroup v1 host: running the kubelet with failCgroupV1=false") {
		t.Error("cgroup v1 host: no warning in the log")
	}

	webBin := buildWebserver(t)
	dropImage(t, filepath.Join(s.dataDir, "agent", "images"), webBin)
	s.mustApply(webManifest)
	pods := waitWebPods(t, s, 2)

	ips := make([]string, len(pods))
	for i, p := range pods {
		ips[i] = strings.TrimSpace(s.mustKubectl("get", "pod", p, "-o", "jsonpath={.status.podIP}"))
	}
	clusterIP := strings.TrimSpace(s.mustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"))

	// Pod to pod over pod IPs (the other pod answers with its name), and pod to ClusterIP.
	for _, c := range []struct{ target, want string }{
		{"http://" + ips[1] + ":8080/", pods[1]}, {"http://" + clusterIP + "/", "web-"},
	} {
		eventually(t, 20*time.Second, "from pod "+pods[0]+", GET "+c.target, func() error {
			out, err := s.kubectl("exec", pods[0], "--", "/webserver", "get", c.target)
			if err != nil || !strings.HasPrefix(strings.TrimSpace(out), c.want) {
				return fmt.Errorf("%q, %v; want %q", out, err, c.want)
			}
			return nil
		})
	}
	// ClusterIP from the node's own namespace, and the NodePort at the node IP. Each Service's
	// EndpointSlice is updated on its own, so the NodePort may lag the ClusterIP by a moment
	// (until then kube-proxy rejects connections to it).
	for _, target := range []string{"http://" + clusterIP + "/", "http://" + nodeIP + ":30080/"} {
		getFromHost(t, ns, webBin, target, "")
	}
	if out := s.mustKubectl("logs", pods[0]); !strings.Contains(out, "listening on :8080") {
		t.Errorf("kubectl logs %s = %q", pods[0], out)
	}
	if links, _ := ns.command("ip", "-o", "link", "show").CombinedOutput(); !strings.Contains(string(links), "flannel.1") || !strings.Contains(string(links), "cni0") {
		t.Errorf("flannel.1 and cni0 missing:\n%s", links)
	}
	checkPortForward(t, s, pods[0], webBin)
	checkRuntimeTools(t, s)
	checkContainerdRestarts(t, s, pods[0])
	checkTop(t, s, []string{s.mustKubectl("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}")}, pods[0])
	checkHPA(t, s, ns, webBin)
	vols := checkLocalStorage(t, s)

	checkRestartKeepsContainers(t, s, ips[0], webBin)
	vols.checkAfterRestart(t)

	s.mustKubectl("delete", "pod", pods[0], "--wait=false")
	eventually(t, 90*time.Second, "deleted pod replaced", func() error {
		now := runningWebPods(s)
		if len(now) != 2 || slices.Contains(now, pods[0]) {
			return fmt.Errorf("running web pods: %v", now)
		}
		return nil
	})
	s.stop()
}

// buildWebserver builds the test workload as a static binary.
func buildWebserver(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "webserver")
	cmd := exec.Command("go", "build", "-o", bin, "./webserver")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-trimpath", "GOPROXY=off") // standard library only
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build webserver: %v\n%s", err, out)
	}
	return bin
}

// dropImage writes a one-layer image holding the webserver into the air-gap images dir.
func dropImage(t *testing.T, dir, webBin string) { dropImageAs(t, dir, webBin, "web.tar") }

// dropImageAs is dropImage with a file name; a .tar.zst one is zstd-compressed.
func dropImageAs(t *testing.T, dir, webBin, name string) {
	t.Helper()
	data, err := os.ReadFile(webBin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = oci.WriteArchive(&buf, oci.Image{
		Ref: webImage, Entrypoint: []string{"/webserver"}, ExposedPorts: []string{"8080/tcp"},
		Files: []oci.File{{Path: "/webserver", Mode: 0o755, Data: data}},
	})
	if err != nil {
		t.Fatal(err)
	}
	data = buf.Bytes()
	if strings.HasSuffix(name, ".zst") {
		enc, _ := zstd.NewWriter(nil)
		data = enc.EncodeAll(data, nil)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Written under a temporary name and renamed, as a user's copy would finish.
	tmp := filepath.Join(dir, "."+name+".partial")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// runningWebPods lists the web pods that run and are not being deleted.
func runningWebPods(s *server) []string {
	out, err := s.kubectl("get", "pods", "-l", "app=web", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.metadata.deletionTimestamp}{"\n"}{end}`)
	if err != nil {
		return nil
	}
	var pods []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == "Running" {
			pods = append(pods, f[0])
		}
	}
	return pods
}

func waitWebPods(t *testing.T, s *server, n int) []string {
	t.Helper()
	var pods []string
	eventually(t, 120*time.Second, fmt.Sprintf("%d web pods Ready", n), func() error {
		out, err := s.kubectl("get", "pods", "-l", "app=web", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.status.containerStatuses[0].ready}{"\n"}{end}`)
		if err != nil {
			return err
		}
		pods = nil
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[1] == "true" {
				pods = append(pods, f[0])
			}
		}
		if len(pods) != n {
			desc, _ := s.kubectl("get", "pods", "-o", "wide")
			return fmt.Errorf("ready: %v\n%s", pods, desc)
		}
		return nil
	})
	return pods
}

func checkPortForward(t *testing.T, s *server, pod, webBin string) {
	t.Helper()
	pf := s.ns.command(edgekBin, "kubectl", "--kubeconfig", s.kubeconfig(), "port-forward", "pod/"+pod, "18080:8080")
	var out bytes.Buffer
	pf.Stdout, pf.Stderr = &out, &out
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { pf.Process.Kill(); pf.Wait() }()
	eventually(t, 30*time.Second, "GET through kubectl port-forward", func() error {
		got, err := s.ns.command(webBin, "get", "http://127.0.0.1:18080/").CombinedOutput()
		if err != nil || strings.TrimSpace(string(got)) != pod {
			return fmt.Errorf("%q, %v (port-forward: %s)", got, err, out.String())
		}
		return nil
	})
}

// checkRestartKeepsContainers stops edgek, checks a pod still answers while it is down, and
// starts it again: the same containers run on, none restarted, and the built-in images, still
// in containerd from the first start, are neither rebuilt nor imported again.
func checkRestartKeepsContainers(t *testing.T, s *server, podIP, webBin string) {
	t.Helper()
	const builtinImported = `msg="imported built-in image"`
	if !strings.Contains(readFile(t, s.logPath), builtinImported) {
		t.Errorf("the first start did not log %s", builtinImported)
	}
	ids := func() string {
		return s.mustKubectl("get", "pods", "-l", "app=web", "-o",
			`jsonpath={range .items[*]}{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}{"\n"}{end}`)
	}
	before := ids()
	s.stop()
	if out, err := s.ns.command(webBin, "get", "http://"+podIP+":8080/").CombinedOutput(); err != nil {
		t.Errorf("with edgek stopped, the pod at %s does not answer: %q, %v", podIP, out, err)
	}
	s.start()
	s.mustKubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=120s")
	waitWebPods(t, s, 2)
	if after := ids(); after != before {
		t.Errorf("containers changed across an edgek restart:\nbefore:\n%safter:\n%s", before, after)
	}
	if log := readFile(t, s.logPath); strings.Contains(log, builtinImported) {
		t.Errorf("the restart built and imported built-in images again, though containerd held them")
	}
}

// TestNodeWithoutDefaultRoute: a node whose only interface has no default route (k3s#1103)
// still registers, runs pods, reaches Services from pods and from the node itself, and
// resolves Service names through CoreDNS.
func TestNodeWithoutDefaultRoute(t *testing.T) {
	ns := newNetnsNoRoute(t)
	webBin := buildWebserver(t)
	// The node's resolver, on the node's only interface: names outside the cluster are
	// forwarded there although the host has no default route.
	dns := ns.command(webBin, "dns", nodeIP+":53", outsideName+"=192.0.2.7")
	if err := dns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Process.Kill(); dns.Wait() })
	// A registries.yaml is handed to containerd (nothing is pulled: the mirror does not exist).
	registries := filepath.Join(t.TempDir(), "registries.yaml")
	os.WriteFile(registries, []byte("mirrors:\n  docker.io:\n    endpoint: [\"https://172.31.254.9:5000\"]\n"+
		"configs:\n  \"172.31.254.9:5000\":\n    auth: {username: edge, password: s3cret}\n"), 0o600)
	s := newServer(t, ns, "--flannel-iface", "edgek0", "--private-registry", registries)
	os.WriteFile(s.resolvConf(), []byte("nameserver "+nodeIP+"\n"), 0o644)
	s.start()
	hosts := readFile(t, filepath.Join(s.dataDir, "agent", "etc", "containerd", "certs.d", "docker.io", "hosts.toml"))
	if !strings.Contains(hosts, `[host."https://172.31.254.9:5000"]`) {
		t.Errorf("docker.io hosts.toml does not name the mirror:\n%s", hosts)
	}
	if cfg := readFile(t, filepath.Join(s.dataDir, "agent", "etc", "containerd", "config.toml")); !strings.Contains(cfg, `configs."172.31.254.9:5000".auth`) {
		t.Errorf("containerd config lacks the mirror's credentials")
	}
	if strings.Contains(readFile(t, s.logPath), "s3cret") {
		t.Errorf("the registry password appears in edgek's log")
	}
	s.mustKubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=120s")
	dropImage(t, filepath.Join(s.dataDir, "agent", "images"), webBin)
	s.mustApply(webManifest)
	pods := waitWebPods(t, s, 2)
	clusterIP := strings.TrimSpace(s.mustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"))
	eventually(t, 20*time.Second, "from a pod, GET the ClusterIP", func() error {
		out, err := s.kubectl("exec", pods[0], "--", "/webserver", "get", "http://"+clusterIP+"/")
		if err != nil || !strings.HasPrefix(out, "web-") {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	for _, target := range []string{"http://" + clusterIP + "/", "http://" + nodeIP + ":30080/"} {
		getFromHost(t, ns, webBin, target, "")
	}
	// A LoadBalancer Service answers at the node's address from another host of the LAN.
	s.mustApply(lbService("web-lb", 8081, "Cluster", ""))
	waitIngress(t, s, "default", "web-lb", nodeIP)
	getFromHost(t, lanHost(t, ns, "172.31.254.5"), webBin, "http://"+nodeIP+":8081/", "")
	// Cluster DNS works without a default route too (a known K3s pain).
	eventually(t, 180*time.Second, "CoreDNS Ready", func() error {
		_, err := s.kubectl("wait", "-n", "kube-system", "--for=condition=Ready", "pod", "-l", "k8s-app=kube-dns", "--timeout=5s")
		return err
	})
	eventually(t, 60*time.Second, "a Service name resolves and answers", func() error {
		out, err := s.kubectl("exec", pods[0], "--", "/webserver", "get", "http://web.default.svc.cluster.local/")
		if err != nil || !strings.HasPrefix(out, "web-") {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	eventually(t, 30*time.Second, "a name outside the cluster is forwarded to the node's resolver", func() error {
		out, err := s.kubectl("exec", pods[0], "--", "/webserver", "lookup", outsideName)
		if err != nil || strings.TrimSpace(out) != "192.0.2.7" {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	if out, _ := ns.command("ip", "route", "show", "proto", "0xed").CombinedOutput(); !strings.Contains(string(out), "10.43.0.0/16") {
		t.Errorf("no edgek route for the service range: %q", out)
	}
	s.stop()
	checkKillall(t, s)
	if out, _ := ns.command("ip", "route", "show", "proto", "0xed").CombinedOutput(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("edgek killall left the service range route: %q", out)
	}
}

// checkKillall runs edgek killall on a stopped node and checks that it leaves no process,
// mount, link or run dir of that node behind, and keeps the data dir.
func checkKillall(t *testing.T, s *server) {
	t.Helper()
	runDir := config.RunDirFor(s.dataDir)
	before, _ := os.ReadDir(filepath.Join(runDir, "containerd"))
	if len(before) == 0 {
		t.Errorf("%s/containerd is empty before killall: wrong run dir?", runDir)
	}
	// Pod network namespaces live in edgek's run dir, not in the host-wide /run/netns, where
	// another runtime's (here a decoy) must survive killall.
	if ns, _ := filepath.Glob(filepath.Join(runDir, "containerd", "*", "netns", "cni-*")); len(ns) == 0 {
		t.Errorf("no pod network namespace under %s/containerd", runDir)
	}
	decoy := fmt.Sprintf("/run/netns/cni-edgek-e2e-decoy-%d", os.Getpid())
	if err := os.MkdirAll("/run/netns", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(decoy, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(decoy)
	if out, err := s.ns.command(edgekBin, "killall", "--data-dir", s.dataDir).CombinedOutput(); err != nil {
		t.Fatalf("edgek killall: %v\n%s", err, out)
	}
	if _, err := os.Stat(decoy); err != nil {
		t.Errorf("killall removed another runtime's network namespace %s: %v", decoy, err)
	}
	if _, err := os.Stat(runDir); !os.IsNotExist(err) {
		t.Errorf("run dir %s still there after killall: %v", runDir, err)
	}
	links, _ := s.ns.command("ip", "-o", "link", "show").CombinedOutput()
	for _, name := range []string{"cni0", "flannel.1", "veth"} {
		if strings.Contains(string(links), name) {
			t.Errorf("link %s left after killall:\n%s", name, links)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, dir := range []string{s.dataDir, runDir} {
		if strings.Contains(string(mounts), dir) {
			t.Errorf("mounts under %s left after killall", dir)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, _ := os.ReadFile(p); strings.Contains(string(b), runDir+"/") || strings.Contains(string(b), s.dataDir+"/") {
			t.Errorf("process left after killall: %s", strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	rules, _ := s.ns.command("iptables-save").CombinedOutput()
	for _, chain := range []string{"KUBE-", "FLANNEL", "CNI-"} {
		if strings.Contains(string(rules), chain) {
			t.Errorf("iptables rules %s* left after killall", chain)
		}
	}
	for _, keep := range []string{"server/db/state.db", "server/tls/server-ca.crt", "agent/containerd"} {
		if _, err := os.Stat(filepath.Join(s.dataDir, keep)); err != nil {
			t.Errorf("killall removed %s from the data dir: %v", keep, err)
		}
	}
}

// checkRuntimeTools runs edgek's ctr and crictl against the embedded containerd.
func checkRuntimeTools(t *testing.T, s *server) {
	t.Helper()
	// The data dir is not the default one: EDGEK_DATA_DIR says which node's containerd.
	cmd := s.ns.command(edgekBin, "ctr", "images", "ls", "-q")
	cmd.Env = append(os.Environ(), "EDGEK_DATA_DIR="+s.dataDir)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), webImage) {
		t.Errorf("edgek ctr images ls: %q, %v", out, err)
	}
	cmd = s.ns.command(edgekBin, "crictl", "ps", "--name", "web", "-o", "json")
	cmd.Env = append(os.Environ(), "EDGEK_DATA_DIR="+s.dataDir)
	if out, err := cmd.CombinedOutput(); err != nil || strings.Count(string(out), `"CONTAINER_RUNNING"`) != 2 {
		t.Errorf("edgek crictl ps: %v\n%s", err, out)
	}
}

// checkContainerdRestarts kills containerd; edgek starts a new one, and the pods stay usable.
func checkContainerdRestarts(t *testing.T, s *server, pod string) {
	t.Helper()
	pidFile := filepath.Join(config.RunDirFor(s.dataDir), "containerd", "containerd.pid")
	old := strings.TrimSpace(readFile(t, pidFile))
	// Only that node's containerd: its command line names the node's config.
	if cmdline, err := os.ReadFile("/proc/" + old + "/cmdline"); err != nil || !strings.Contains(string(cmdline), s.dataDir+"/agent/etc/containerd") {
		t.Fatalf("pid %s from %s is not this node's containerd: %q, %v", old, pidFile, cmdline, err)
	}
	run(t, "kill", "-9", old)
	eventually(t, 30*time.Second, "containerd restarted", func() error {
		data, _ := os.ReadFile(pidFile)
		if now := strings.TrimSpace(string(data)); now == old || now == "" {
			return fmt.Errorf("pid still %q", now)
		}
		return nil
	})
	eventually(t, 60*time.Second, "exec after the containerd restart", func() error {
		_, err := s.kubectl("exec", pod, "--", "/webserver", "get", "http://127.0.0.1:8080/")
		return err
	})
	if !strings.Contains(readFile(t, s.logPath), "containerd exited, restarting") {
		t.Errorf("edgek did not log the containerd restart")
	}
}
