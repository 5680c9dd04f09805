//go:build vm

package vm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgek-io/edgek/pkg/oci"
)

// kubectl is how the guest runs kubectl: edgek's own, with the admin kubeconfig.
const kubectl = "edgek kubectl"

// steps runs a scenario's steps in order, logging how long each took.
type steps struct {
	t     *testing.T
	start time.Time
}

func newSteps(t *testing.T) *steps { return &steps{t: t, start: time.Now()} }

func (s *steps) do(name string, fn func()) {
	s.t.Helper()
	begin := time.Now()
	s.t.Logf("STEP %s: start (+%s)", name, begin.Sub(s.start).Round(time.Second))
	fn()
	s.t.Logf("STEP %s: done in %s", name, time.Since(begin).Round(time.Second))
}

// eventually polls check until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(5 * time.Second)
	}
}

// metric logs one measured figure in a form the benchmark notes can grep.
func metric(t *testing.T, name string, value any, unit string) {
	t.Helper()
	t.Logf("METRIC %s %s=%v %s", guestArch, name, value, unit)
}

// checkHost checks the guest is what the test claims: systemd as PID 1, cgroup v2 unified.
func checkHost(t *testing.T, v *vm) {
	t.Helper()
	out := v.must(t, time.Minute, "readlink /proc/1/exe; stat -fc %T /sys/fs/cgroup; uname -rm; cat /sys/fs/cgroup/cgroup.controllers")
	if !strings.Contains(out, "systemd") || !strings.Contains(out, "cgroup2fs") {
		t.Fatalf("guest is not systemd + cgroup v2 unified:\n%s", out)
	}
	t.Logf("guest: %s", strings.ReplaceAll(strings.TrimSpace(out), "\n", " | "))
}

// trustCA puts the release server's CA into the guest's trust store, so that plain
// `curl -sfL https://...` works as it does against a real release host. It appends to the
// bundle as update-ca-certificates would (which takes ~1.5 min under emulation).
func trustCA(t *testing.T, v *vm, caPEM []byte) {
	t.Helper()
	v.upload(t, caPEM, "/usr/local/share/ca-certificates/edgek-vm-test.crt", 0o644)
	v.must(t, time.Minute, "cat /usr/local/share/ca-certificates/edgek-vm-test.crt >>/etc/ssl/certs/ca-certificates.crt")
}

// installCmd is the README's `curl | sh`, with the release base URL exported.
func installCmd(rel *releaseServer, args string) string {
	installer, _ := os.ReadFile(filepath.Join(repoRoot, "scripts", "install.sh"))
	env := "export INSTALL_EDGEK_URL=" + rel.baseURL()
	if !bytes.Contains(installer, []byte("INSTALL_EDGEK_URL")) {
		// The installer before the release layout: point it at the stable binary.
		env = fmt.Sprintf(`v=$(curl -sfL %s/channels/stable) && export EDGEK_DOWNLOAD_URL=%s/$v/edgek-%s`,
			rel.baseURL(), rel.baseURL(), guestArch)
	}
	return fmt.Sprintf("%s && curl -sfL https://%s/install.sh | sh -s - %s", env, releaseHost, args)
}

// install runs the installer in the guest and returns how long it took.
func install(t *testing.T, v *vm, rel *releaseServer, args string) time.Duration {
	t.Helper()
	start := time.Now()
	out, err := v.run(20*time.Minute, installCmd(rel, args))
	t.Logf("%s: installer output:\n%s", v.opts.name, out)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	return time.Since(start)
}

// jsonpathReady lists "<namespace>/<name> <Ready status>" of all pods.
const podsReady = kubectl + ` get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'`

// waitNodes waits until n nodes are Ready.
func waitNodes(t *testing.T, v *vm, n int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d node(s) Ready", n), func() error {
		out, err := v.run(2*time.Minute, kubectl+` get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'`)
		if err != nil {
			return err
		}
		if c := strings.Count(out, " True"); c < n {
			return fmt.Errorf("nodes: %q", out)
		}
		return nil
	})
}

// waitDefaultPods waits until CoreDNS and the dashboard run and every pod is Ready.
func waitDefaultPods(t *testing.T, v *vm, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "CoreDNS, dashboard and all pods Ready", func() error {
		out, err := v.run(2*time.Minute, podsReady)
		if err != nil {
			return err
		}
		if !strings.Contains(out, "kube-system/coredns") || !strings.Contains(out, "edgek-dashboard/") {
			return fmt.Errorf("CoreDNS or dashboard pod missing: %q", out)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasSuffix(line, " True") {
				return fmt.Errorf("not Ready: %q", line)
			}
		}
		return nil
	})
}

// guestUnix runs a guest command printing a date and returns it as Unix seconds (guest clock).
func guestUnix(t *testing.T, v *vm, dateExpr string) int64 {
	t.Helper()
	out := v.must(t, time.Minute, fmt.Sprintf(`date -d "$(%s)" +%%s`, dateExpr))
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("guest date from %q: %q", dateExpr, out)
	}
	return n
}

// readinessTimes measures, on the guest clock, from the service's start to node Ready and
// to the last default pod Ready (the condition's lastTransitionTime, so polling costs nothing).
func readinessTimes(t *testing.T, v *vm, service string) {
	t.Helper()
	start := guestUnix(t, v, "systemctl show -p ExecMainStartTimestamp --value "+service)
	node := guestUnix(t, v, kubectl+` get nodes -o jsonpath='{.items[0].status.conditions[?(@.type=="Ready")].lastTransitionTime}'`)
	out := v.must(t, time.Minute, kubectl+` get pods -A -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].lastTransitionTime}{"\n"}{end}' | sort | tail -n1`)
	pods := guestUnix(t, v, "echo "+strings.TrimSpace(out))
	metric(t, "start_to_node_ready", node-start, "s")
	metric(t, "start_to_default_pods_ready", pods-start, "s")
}

// measurePSS sums the PSS of every process of the edgek service (edgek, containerd, shims)
// and, apart, of the pods.
func measurePSS(t *testing.T, v *vm, service string) {
	t.Helper()
	out := v.must(t, 2*time.Minute, `pss() { t=0; for p in $(cat "$@" 2>/dev/null); do
		k=$(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null); t=$((t + ${k:-0})); done; echo $((t / 1024)); }
	echo "$(pss /sys/fs/cgroup/system.slice/`+service+`.service/cgroup.procs) $(pss $(find /sys/fs/cgroup/kubepods.slice -name cgroup.procs))"`)
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("pss: %q", out)
	}
	metric(t, "pss_edgek_service", f[0], "MiB")
	metric(t, "pss_pods", f[1], "MiB")
}

const webImage = "docker.io/e2e/web:1"

// webService selects the web pods of webManifest and podOn.
const webService = `---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

// webContainers is the containers list of the web workload, indented by indent spaces.
func webContainers(indent int) string {
	pad := strings.Repeat(" ", indent)
	return pad + `containers:
` + pad + `- name: web
` + pad + `  image: ` + webImage + `
` + pad + `  imagePullPolicy: Never
` + pad + `  ports: [{containerPort: 8080}]
` + pad + `  readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 2}
`
}

var webManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
` + webContainers(6) + webService

// webArchive builds test/e2e/webserver for arch into a one-layer image archive that edgek
// imports from its air-gap images dir (no registry is reachable).
func webArchive(t *testing.T, arch string) []byte {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "webserver")
	cmd := exec.Command("go", "build", "-o", bin, "./test/e2e/webserver")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH="+arch, "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build webserver: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = oci.WriteArchive(&buf, oci.Image{
		Ref: webImage, Entrypoint: []string{"/webserver"}, ExposedPorts: []string{"8080/tcp"},
		Files: []oci.File{{Path: "/webserver", Mode: 0o755, Data: data}}, Arch: arch,
	})
	if err != nil {
		t.Fatalf("web image: %v", err)
	}
	return buf.Bytes()
}

// webPod returns "<name> <containerID> <startedAt> <restartCount>" of the Running web pod.
func webPod(v *vm) (string, error) {
	out, err := v.run(2*time.Minute, kubectl+` get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].state.running.startedAt} {.status.containerStatuses[0].restartCount} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'`)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.HasSuffix(lines[0], " True") {
		return "", fmt.Errorf("web pods: %q", out)
	}
	return strings.TrimSuffix(lines[0], " True"), nil
}

// checkServiceByName resolves the web Service by name from inside a pod and fetches it.
func checkServiceByName(t *testing.T, v *vm, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "web Service by name from a pod", func() error {
		_, err := v.run(2*time.Minute, kubectl+" exec deploy/web -- /webserver lookup web.default.svc.cluster.local && "+
			kubectl+" exec deploy/web -- /webserver get http://web.default.svc.cluster.local/")
		return err
	})
}
