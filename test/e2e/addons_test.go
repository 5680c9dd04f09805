//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// outsideName is answered only by the test's own resolver in the node's namespace.
const outsideName = "outside.example"

// TestAddons: a fresh server deploys CoreDNS and the dashboard from its bundled manifests
// with no registry; cluster names and pod names resolve, other names are forwarded to the
// node's resolver; user manifests are applied, re-applied, reported when malformed; and
// --disable removes an addon.
func TestAddons(t *testing.T) {
	ns := newNetns(t)
	webBin := buildWebserver(t)
	// The node's resolver: the test's own responder on the node IP, inside the namespace.
	dns := ns.command(webBin, "dns", nodeIP+":53", outsideName+"=192.0.2.7")
	if err := dns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Process.Kill(); dns.Wait() })

	// Not the defaults: the bundled manifests and the kubelet must both follow the flags.
	const domain, dnsIP = "edge.test", "10.43.0.53"
	// --pod-security restricted: the bundled addons must run under it.
	s := newServer(t, ns, "--cluster-domain", domain, "--cluster-dns", dnsIP, "--pod-security", "restricted")
	os.WriteFile(filepath.Join(filepath.Dir(s.dataDir), "resolv.conf"), []byte("nameserver "+nodeIP+"\n"), 0o644)
	s.start()
	s.mustKubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=120s")
	for _, a := range []struct{ ns, sel string }{{"kube-system", "k8s-app=kube-dns"}, {"edgek-dashboard", "app.kubernetes.io/name=edgek-dashboard"}} {
		eventually(t, 180*time.Second, a.sel+" Ready", func() error {
			_, err := s.kubectl("wait", "-n", a.ns, "--for=condition=Ready", "pod", "-l", a.sel, "--timeout=5s")
			return err
		})
	}

	checkSeccomp(t, s, "coredns", "dashboard")
	checkPodSecurity(t, s)
	if ip := s.mustKubectl("get", "svc", "-n", "kube-system", "kube-dns", "-o", "jsonpath={.spec.clusterIP}"); ip != dnsIP {
		t.Errorf("kube-dns Service at %q, want --cluster-dns %s", ip, dnsIP)
	}

	dropImage(t, filepath.Join(s.dataDir, "agent", "images"), webBin)
	s.mustApply(webManifest)
	pods := waitWebPods(t, s, 2)
	checkDNS(t, s, pods[0], domain)
	checkUserManifests(t, s)
	eventually(t, 90*time.Second, "the metrics APIService available", func() error {
		out, err := s.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", "-o", `jsonpath={.status.conditions[?(@.type=="Available")].status}`)
		if err != nil || out != "True" {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	s.stop()

	// --disable dashboard,local-storage,metrics-server removes the bundled addons that were
	// deployed, and the server no longer runs the provisioner nor metrics-server; --disable servicelb (in process, no
	// manifest) stops the LoadBalancer controller.
	// --disable-network-policy stops the node's policy controller and removes the rules the
	// first start's left.
	if out, _ := ns.command("iptables-save", "-t", "filter").CombinedOutput(); !strings.Contains(string(out), ":KUBE-ROUTER-FORWARD") {
		t.Errorf("no network policy chains while it is enabled:\n%s", out)
	}
	s.args = append(s.args, "--disable", "dashboard", "--disable", "local-storage,servicelb,metrics-server", "--disable-network-policy")
	s.start()
	eventually(t, 60*time.Second, "dashboard removed", func() error {
		out, _ := s.kubectl("get", "deploy", "-A", "-l", "app.kubernetes.io/name=edgek-dashboard", "-o", "name")
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("still there: %s", out)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(s.dataDir, "server", "manifests", "dashboard.yaml")); err == nil {
		t.Error("dashboard.yaml still in the manifests dir after --disable dashboard")
	}
	// Everything else the addon made goes too (its namespace holds the ServiceAccount and
	// Service), and so does its Addon record.
	eventually(t, 90*time.Second, "the dashboard's namespace, the local-path StorageClass, the metrics API and their Addons removed", func() error {
		var left []string
		for _, obj := range [][]string{{"namespace", "edgek-dashboard"}, {"addon", "dashboard"}, {"storageclass", "local-path"}, {"addon", "local-storage"},
			{"apiservice", "v1beta1.metrics.k8s.io"}, {"-n", "kube-system", "service,endpointslice", "metrics-server"}, {"addon", "metrics-server"}} {
			out, err := s.kubectl(append([]string{"get", "--ignore-not-found"}, obj...)...)
			if err != nil || strings.TrimSpace(out) != "" {
				left = append(left, fmt.Sprintf("%s: %q %v", obj[0], out, err))
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("still there: %s", strings.Join(left, "; "))
		}
		return nil
	})
	// The node's half runs (volumes made before stay managed), the server's provisioner not.
	log := readFile(t, s.logPath)
	if !strings.Contains(log, `msg="component ready" component=local-storage `) || strings.Contains(log, `component=local-path-provisioner`) {
		t.Error("with --disable local-storage: want the node's local-storage component and no local-path-provisioner")
	}
	if strings.Contains(log, `component=servicelb`) || strings.Contains(log, "not a bundled addon") {
		t.Error("with --disable servicelb: the servicelb component ran, or the addon deployer warned about the name")
	}
	if strings.Contains(log, `component=metrics-server`) {
		t.Error("with --disable metrics-server: the metrics-server component ran")
	}
	if strings.Contains(log, `component ready" component=network-policy `) || !strings.Contains(log, "network policy is disabled: removed the rules") {
		t.Error("with --disable-network-policy: the controller ran, or the earlier rules were not removed")
	}
	if out, _ := ns.command("iptables-save", "-t", "filter").CombinedOutput(); strings.Contains(string(out), "KUBE-ROUTER") || strings.Contains(string(out), "KUBE-NWPLCY") {
		t.Errorf("network policy chains left with --disable-network-policy:\n%s", out)
	}
	s.stop()
}

func checkDNS(t *testing.T, s *server, pod, domain string) {
	t.Helper()
	exec := func(args ...string) (string, error) {
		return s.kubectl(append([]string{"exec", pod, "--", "/webserver"}, args...)...)
	}
	eventually(t, 60*time.Second, "a Service name resolves and answers", func() error {
		out, err := exec("get", "http://web.default.svc."+domain+"/")
		if err != nil || !strings.HasPrefix(out, "web-") {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	podIP := strings.TrimSpace(s.mustKubectl("get", "pod", pod, "-o", "jsonpath={.status.podIP}"))
	podName := strings.ReplaceAll(podIP, ".", "-") + ".default.pod." + domain
	if out, err := exec("lookup", podName); err != nil || strings.TrimSpace(out) != podIP {
		t.Errorf("pod DNS %s = %q, %v; want %s", podName, out, err, podIP)
	}
	if out, err := exec("lookup", outsideName); err != nil || strings.TrimSpace(out) != "192.0.2.7" {
		t.Errorf("forwarded name %s = %q, %v; want 192.0.2.7 from the node's resolver", outsideName, out, err)
	}
}

const userManifest = `apiVersion: v1
kind: ConfigMap
metadata: {name: user-config, namespace: default}
data: {version: "%s"}
`

func checkUserManifests(t *testing.T, s *server) {
	t.Helper()
	dir := filepath.Join(s.dataDir, "server", "manifests")
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	valueIs := func(want string) func() error {
		return func() error {
			out, err := s.kubectl("get", "cm", "user-config", "-o", "jsonpath={.data.version}")
			if err != nil || out != want {
				return fmt.Errorf("version %q, %v", out, err)
			}
			return nil
		}
	}
	write("user.yaml", fmt.Sprintf(userManifest, "1"))
	write("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [oops\n")
	eventually(t, 60*time.Second, "user manifest applied", valueIs("1"))
	write("user.yaml", fmt.Sprintf(userManifest, "2"))
	eventually(t, 60*time.Second, "changed user manifest re-applied", valueIs("2"))
	// A subdirectory's manifests are applied too (as K3s does, for mounted directories).
	if err := os.Mkdir(filepath.Join(dir, "team"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("team/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: team-extra, namespace: default}\n")
	eventually(t, 60*time.Second, "a subdirectory's manifest applied", func() error {
		out, err := s.kubectl("get", "cm", "team-extra", "-o", `jsonpath={.metadata.annotations.addons\.edgek\.io/source}`)
		if err != nil || out != "team/extra.yaml" {
			return fmt.Errorf("source annotation %q, %v", out, err)
		}
		return nil
	})
	eventually(t, 30*time.Second, "malformed manifest reported", func() error {
		out, err := s.kubectl("get", "addon", "broken", "-o", "jsonpath={.status.error}")
		if err != nil || out == "" {
			return fmt.Errorf("addon broken status.error = %q, %v", out, err)
		}
		events, _ := s.kubectl("get", "events", "-A", "--field-selector", "reason=ApplyFailed", "-o", "jsonpath={.items[*].message}")
		if !strings.Contains(events, "broken.yaml") {
			return fmt.Errorf("no ApplyFailed event naming broken.yaml: %q", events)
		}
		return nil
	})
	if out, _ := s.kubectl("get", "addon", "coredns", "-o", "jsonpath={.status.applied}"); out != "true" {
		t.Errorf("coredns addon applied = %q while a user file is broken", out)
	}
	if !regexp.MustCompile(`msg="manifest apply failed" [^\n]*file=broken.yaml err=\S`).MatchString(readFile(t, s.logPath)) {
		t.Error("edgek's log does not name the malformed file and the error")
	}
}

// checkSeccomp: the bundled addons' containers run under the runtime's default seccomp
// filter (Seccomp: 2 in their process status), not unconfined.
func checkSeccomp(t *testing.T, s *server, containers ...string) {
	t.Helper()
	crictl := func(args ...string) string {
		cmd := s.ns.command(edgekBin, append([]string{"crictl"}, args...)...)
		cmd.Env = append(os.Environ(), "EDGEK_DATA_DIR="+s.dataDir)
		var stderr strings.Builder
		cmd.Stderr = &stderr // crictl's warnings are not part of the answer
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("edgek crictl %v: %v\n%s%s", args, err, out, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	for _, name := range containers {
		id := strings.Fields(crictl("ps", "--name", "^"+name+"$", "-q"))
		if len(id) == 0 {
			t.Errorf("no running %s container", name)
			continue
		}
		pid := crictl("inspect", "-o", "go-template", "--template", "{{.info.pid}}", id[0])
		status := readFile(t, "/proc/"+pid+"/status")
		if !regexp.MustCompile(`(?m)^Seccomp:\s+2$`).MatchString(status) {
			t.Errorf("%s (pid %s) does not run under a seccomp filter:\n%s", name, pid, regexp.MustCompile(`(?m)^Seccomp.*$`).FindString(status))
		}
	}
}

// checkPodSecurity: with --pod-security restricted, a privileged pod is refused in a new
// namespace, with the reason, but accepted in kube-system (exempt) and in a namespace that
// sets its own level (default, where the test workload runs).
func checkPodSecurity(t *testing.T, s *server) {
	t.Helper()
	run := func(ns string) (string, error) {
		return s.kubectl("run", "psa-probe", "-n", ns, "--image=docker.io/e2e/web:1", "--privileged", "--dry-run=server", "-o", "name")
	}
	s.mustKubectl("create", "namespace", "psa-test")
	if out, err := run("psa-test"); err == nil || !strings.Contains(err.Error(), `violates PodSecurity "restricted:latest"`) {
		t.Errorf("a privileged pod in a new namespace under --pod-security restricted: %v\n%s", err, out)
	}
	if out, err := run("kube-system"); err != nil {
		t.Errorf("a privileged pod in kube-system (exempt): %v\n%s", err, out)
	}
	s.mustKubectl("label", "namespace", "default", "pod-security.kubernetes.io/enforce=privileged")
	if out, err := run("default"); err != nil {
		t.Errorf("a privileged pod in a namespace labelled privileged: %v\n%s", err, out)
	}
}
