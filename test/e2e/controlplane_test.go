//go:build e2e

package e2e

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const crdManifest = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.e2e.edgek.io
spec:
  group: e2e.edgek.io
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`

const objectsManifest = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: e2e}
data: {colour: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: credentials, namespace: e2e}
stringData: {password: hunter2}
---
apiVersion: e2e.edgek.io/v1
kind: Gadget
metadata: {name: widget, namespace: e2e}
spec: {size: 42}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: e2e}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: e2e.local/never-pulled:1}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: nobody, namespace: e2e}
`

// TestControlPlane covers the control plane on kine+SQLite: objects of every kind survive a
// restart, the controller-manager reconciles, RBAC is enforced, certificates and the token
// are kept, and bad input is refused without touching the data dir.
func TestControlPlane(t *testing.T) {
	ns := newNetns(t)
	s := newServer(t, ns, "--disable-agent")
	s.start()

	token := readFile(t, filepath.Join(s.dataDir, "server", "token"))
	if !regexp.MustCompile(`^K10[0-9a-f]{64}::server:[0-9a-f]{32,}$`).MatchString(token) {
		t.Errorf("token %q does not have the K10<ca-hash>::server:<secret> form", redact(token))
	}
	if fi, err := os.Stat(s.kubeconfig()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode: %v %v, want 0600", fi.Mode(), err)
	}

	checkKubectlSymlink(t, s)
	s.mustKubectl("create", "namespace", "e2e")
	s.mustApply(crdManifest)
	s.mustKubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/gadgets.e2e.edgek.io")
	s.mustApply(objectsManifest)
	waitPendingPods(t, s, 2)
	checkNoAgent(t, s)
	checkRBAC(t, s)

	// Another server on the same data dir must be refused while this one runs.
	out, code, err := runEdgek(ns, 30*time.Second, s.args...)
	if err != nil || code == 0 || !strings.Contains(out, "already running with data dir") {
		t.Errorf("second server on the same data dir: code %d, err %v, output:\n%s", code, err, out)
	}

	tlsBefore := snapshot(t, filepath.Join(s.dataDir, "server", "tls"))
	s.stop()

	checkBadInput(t, s)

	s.start()
	checkObjects(t, s)
	if got := readFile(t, filepath.Join(s.dataDir, "server", "token")); got != token {
		t.Error("join token changed across a restart")
	}
	if diff := diffSnapshots(tlsBefore, snapshot(t, filepath.Join(s.dataDir, "server", "tls"))); diff != "" {
		t.Errorf("certificates changed across a restart: %s", diff)
	}
	out, code, err = runEdgek(ns, 30*time.Second, "certificate", "rotate", "--data-dir", s.dataDir)
	if code == 0 || !strings.Contains(out, "stop it first") {
		t.Errorf("certificate rotate while the server runs: code %d, %v:\n%s", code, err, out)
	}
	s.stop()
	checkCertificateRotate(t, s)
	checkLog(t, s)
	checkDefaultKubeconfig(t, s)
}

// checkNoAgent: with --disable-agent there is no node, the pods stay unscheduled, and no
// agent state is made.
func checkNoAgent(t *testing.T, s *server) {
	t.Helper()
	if out := s.mustKubectl("get", "nodes", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("--disable-agent: nodes %q", out)
	}
	if out := s.mustKubectl("get", "pods", "-A", "-o", "jsonpath={.items[*].spec.nodeName}"); strings.TrimSpace(out) != "" {
		t.Errorf("--disable-agent: pods scheduled to %q", out)
	}
	if _, err := os.Stat(filepath.Join(s.dataDir, "agent")); !os.IsNotExist(err) {
		t.Errorf("--disable-agent: %s/agent exists (%v)", s.dataDir, err)
	}
}

// checkLog: the server's output is one structured stream, the upstream components' klog
// lines included (component=k8s), and only info and above without --debug.
func checkLog(t *testing.T, s *server) {
	t.Helper()
	data := readFile(t, s.logPath)
	for _, l := range strings.Split(strings.TrimRight(data, "\n"), "\n") {
		if !strings.HasPrefix(l, "time=") || !strings.Contains(l, " level=") {
			t.Errorf("%s: not a structured log line: %q", s.logPath, l)
			break
		}
	}
	if !strings.Contains(data, "component=k8s") {
		t.Errorf("%s: no line of the Kubernetes components (component=k8s)", s.logPath)
	}
	if strings.Contains(data, "level=DEBUG") {
		t.Errorf("%s: debug lines without --debug", s.logPath)
	}
}

// checkDefaultKubeconfig starts the server without --write-kubeconfig, with --debug and the
// scheduler on another port (10259 taken), in a
// private mount namespace with a tmpfs on /etc/edgek (the host's stays untouched): it writes
// /etc/edgek/edgek.yaml, mode 0600, which `edgek kubectl` and the binary called kubectl use
// with no --kubeconfig and no KUBECONFIG.
func checkDefaultKubeconfig(t *testing.T, s *server) {
	t.Helper()
	if _, err := os.Stat("/etc/edgek"); os.IsNotExist(err) {
		if err := os.Mkdir("/etc/edgek", 0o755); err != nil { // the mount point
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/etc/edgek") })
	}
	_, err := os.Stat("/etc/edgek/edgek.yaml")
	hostHad := err == nil
	var args []string
	for i := 0; i < len(s.args); i++ {
		if s.args[i] == "--write-kubeconfig" {
			i++
			continue
		}
		args = append(args, s.args[i])
	}
	// Also: the scheduler moved off a busy 10259 with an extra argument (the port check and
	// the health check follow it).
	s.ns.listen(t, "127.0.0.1:10259")
	args = append(args, "--kube-scheduler-arg", "secure-port=10359")
	s.args, s.wrap = append(args, "--debug"), []string{"unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", `mount -t tmpfs -o mode=0755 edgek-e2e /etc/edgek && exec "$@"`, "sh"}
	s.start() // ready: /readyz through the kubeconfig the earlier runs wrote
	defer s.stop()
	inNS := func(name string, args ...string) (string, error) {
		full := append([]string{"--mount=/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/ns/mnt", "--net=" + s.ns.path, name}, args...)
		cmd := exec.Command("nsenter", full...)
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "KUBECONFIG=") {
				cmd.Env = append(cmd.Env, e)
			}
		}
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	s.waitLog(30*time.Second, `msg="wrote admin kubeconfig" path=/etc/edgek/edgek.yaml`)
	if out, err := inNS("stat", "-c", "%a", "/etc/edgek/edgek.yaml"); err != nil || out != "600" {
		t.Errorf("/etc/edgek/edgek.yaml mode: %q, %v; want 600", out, err)
	}
	if out, err := inNS(edgekBin, "kubectl", "get", "namespace", "e2e", "-o", "name"); err != nil || out != "namespace/e2e" {
		t.Errorf("edgek kubectl with the default kubeconfig: %q, %v", out, err)
	}
	link := filepath.Join(t.TempDir(), "kubectl")
	if err := os.Symlink(edgekBin, link); err != nil {
		t.Fatal(err)
	}
	if out, err := inNS(link, "get", "namespace", "e2e", "-o", "name"); err != nil || out != "namespace/e2e" {
		t.Errorf("kubectl (edgek by that name) with the default kubeconfig: %q, %v", out, err)
	}
	if !strings.Contains(readFile(t, s.logPath), "level=DEBUG") {
		t.Errorf("--debug: no debug line in %s", s.logPath)
	}
	if _, err := os.Stat("/etc/edgek/edgek.yaml"); err == nil && !hostHad {
		t.Error("/etc/edgek/edgek.yaml written on the host, outside the test's mount namespace")
	}
}

// checkCertificateRotate: `edgek certificate check` lists the certificates; `rotate` on the
// stopped server makes the next start issue new leaf certificates under the same CAs, and
// clients (the admin kubeconfig, rewritten) keep working.
func checkCertificateRotate(t *testing.T, s *server) {
	t.Helper()
	out, code, err := runEdgek(s.ns, 30*time.Second, "certificate", "check", "--data-dir", s.dataDir)
	if code != 0 || !strings.Contains(out, "server/tls/serving-kube-apiserver.crt") || !strings.Contains(out, "ok (CA)") {
		t.Errorf("certificate check: code %d, %v:\n%s", code, err, out)
	}
	tls := filepath.Join(s.dataDir, "server", "tls")
	caBefore, servingBefore := readFile(t, filepath.Join(tls, "server-ca.crt")), readFile(t, filepath.Join(tls, "serving-kube-apiserver.crt"))
	out, code, err = runEdgek(s.ns, 30*time.Second, "certificate", "rotate", "--data-dir", s.dataDir)
	if code != 0 || !strings.Contains(out, "rotated "+filepath.Join(tls, "serving-kube-apiserver.crt")) {
		t.Fatalf("certificate rotate: code %d, %v:\n%s", code, err, out)
	}
	s.start()
	if readFile(t, filepath.Join(tls, "server-ca.crt")) != caBefore {
		t.Error("the CA changed with a rotation")
	}
	if readFile(t, filepath.Join(tls, "serving-kube-apiserver.crt")) == servingBefore {
		t.Error("the serving certificate was not reissued after a rotation")
	}
	checkObjects(t, s)
	s.stop()
}

// checkKubectlSymlink runs the binary under the name kubectl (multi-call).
func checkKubectlSymlink(t *testing.T, s *server) {
	t.Helper()
	link := filepath.Join(t.TempDir(), "kubectl")
	if err := os.Symlink(edgekBin, link); err != nil {
		t.Fatal(err)
	}
	out, err := s.ns.command(link, "--kubeconfig", s.kubeconfig(), "get", "namespace", "default", "-o", "name").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "namespace/default" {
		t.Errorf("edgek called as kubectl: %q, %v", out, err)
	}
}

func waitPendingPods(t *testing.T, s *server, n int) {
	t.Helper()
	eventually(t, 60*time.Second, fmt.Sprintf("%d Pending web pods", n), func() error {
		out, err := s.kubectl("get", "pods", "-n", "e2e", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}")
		if err != nil {
			return err
		}
		if got := strings.Fields(out); len(got) != n || strings.Count(out, "Pending") != n {
			return fmt.Errorf("phases %q", got)
		}
		return nil
	})
	rs := s.mustKubectl("get", "rs", "-n", "e2e", "-l", "app=web", "-o", "jsonpath={.items[*].status.replicas}")
	if strings.TrimSpace(rs) != "2" {
		t.Errorf("ReplicaSet replicas = %q, want 2", rs)
	}
}

// checkRBAC authenticates as a ServiceAccount with a real token and is refused.
func checkRBAC(t *testing.T, s *server) {
	t.Helper()
	out, err := s.kubectl("auth", "can-i", "list", "secrets", "-n", "e2e", "--as=system:serviceaccount:e2e:nobody")
	if err == nil || strings.TrimSpace(out) != "no" {
		t.Errorf("can-i as nobody: %q, %v; want no", out, err)
	}
	if out := s.mustKubectl("auth", "can-i", "list", "secrets", "-n", "e2e"); strings.TrimSpace(out) != "yes" {
		t.Errorf("can-i as admin: %q, want yes", out)
	}
	token := strings.TrimSpace(s.mustKubectl("create", "token", "nobody", "-n", "e2e"))
	ca := filepath.Join(s.dataDir, "server", "tls", "server-ca.crt")
	out, err = s.kubectlAs(token, ca, "get", "secrets", "-n", "e2e")
	if err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("get secrets with the ServiceAccount's token: %q, %v; want Forbidden", out, err)
	}
	if _, err := s.kubectlAs(token, ca, "auth", "whoami"); err != nil {
		t.Errorf("the ServiceAccount's token does not authenticate: %v", err)
	}
}

// kubectlAs runs kubectl with only a bearer token (no admin certificate).
func (s *server) kubectlAs(token, ca string, args ...string) (string, error) {
	base := []string{"--kubeconfig=/dev/null", "--server=https://127.0.0.1:6443", "--certificate-authority=" + ca, "--token=" + token}
	cmd := s.ns.command(edgekBin, append(append([]string{"kubectl"}, base...), args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	return string(out), nil
}

func checkObjects(t *testing.T, s *server) {
	t.Helper()
	checks := []struct{ args, want string }{
		{"get ns e2e -o jsonpath={.status.phase}", "Active"},
		{"get cm settings -n e2e -o jsonpath={.data.colour}", "blue"},
		{"get secret credentials -n e2e -o jsonpath={.data.password}", "aHVudGVyMg=="},
		{"get crd gadgets.e2e.edgek.io -o jsonpath={.spec.group}", "e2e.edgek.io"},
		{"get gadget widget -n e2e -o jsonpath={.spec.size}", "42"},
		{"get deploy web -n e2e -o jsonpath={.spec.replicas}", "2"},
		{"get sa nobody -n e2e -o jsonpath={.metadata.name}", "nobody"},
	}
	for _, c := range checks {
		out, err := s.kubectl(strings.Fields(c.args)...)
		if err != nil || strings.TrimSpace(out) != c.want {
			t.Errorf("after restart, kubectl %s = %q, %v; want %q", c.args, out, err, c.want)
		}
	}
	waitPendingPods(t, s, 2)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func redact(token string) string {
	if i := strings.LastIndex(token, ":"); i >= 0 {
		return token[:i+1] + "<redacted>"
	}
	return "<redacted>"
}

// TestBinary checks the built binary itself: static (no ELF interpreter, no dynamic
// section), and --version names edgek and the Kubernetes it carries.
func TestBinary(t *testing.T) {
	f, err := elf.Open(edgekBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (program header %v)", edgekBin, p.Type)
		}
	}
	out, err := exec.Command(edgekBin, "--version").CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^edgek version \S+`).Match(out) || !regexp.MustCompile(`(?m)^kubernetes v1\.37\.\d+$`).Match(out) {
		t.Errorf("edgek --version: %v\n%s", err, out)
	}
}
