//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// demoChart is a chart as a user's first one looks: a Deployment whose data lives on a
// PersistentVolumeClaim of the default StorageClass, behind a LoadBalancer Service.
var demoChart = map[string]string{
	"Chart.yaml":  "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
	"values.yaml": "port: 8090\nstorage: 32Mi\n",
	"templates/pvc.yaml": `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: "web-{{ .Release.Name }}"}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: "{{ .Values.storage }}"}}
`,
	"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: "web-{{ .Release.Name }}"}
spec:
  replicas: 1
  selector: {matchLabels: {app: web, release: "{{ .Release.Name }}"}}
  template:
    metadata: {labels: {app: web, release: "{{ .Release.Name }}"}}
    spec:
      securityContext: {runAsUser: 1000, runAsGroup: 1000}
` + webContainers + `        volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: "web-{{ .Release.Name }}"}}]
`,
	"templates/service.yaml": `apiVersion: v1
kind: Service
metadata: {name: "web-{{ .Release.Name }}"}
spec:
  type: LoadBalancer
  selector: {app: web, release: "{{ .Release.Name }}"}
  ports: [{port: {{ .Values.port }}, targetPort: 8080}]
`,
}

// TestHelmChart: a real Helm client (built from its Go module by `make e2e`, HELM_BIN)
// installs a chart with a PVC and a LoadBalancer Service and waits for it (the claim bound,
// the pod ready); the Service gets the node's address and answers from another host on the
// LAN, the pod writes to its volume; `helm uninstall` removes the volume's directory.
func TestHelmChart(t *testing.T) {
	helm := os.Getenv("HELM_BIN")
	if helm == "" {
		t.Fatal("HELM_BIN is not set: run the suite with `make e2e`, which builds Helm from test/tools")
	}
	ns := newNetns(t)
	s := newServer(t, ns, "--disable", "dashboard")
	s.start()
	webBin := buildWebserver(t)
	dropImage(t, filepath.Join(s.dataDir, "agent", "images"), webBin)

	chart := t.TempDir()
	for name, body := range demoChart {
		p := filepath.Join(chart, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	runHelm := func(args ...string) string {
		t.Helper()
		cmd := ns.command(helm, append(args, "--kubeconfig", s.kubeconfig())...)
		cmd.Env = append(os.Environ(), "HOME="+home, "HELM_CACHE_HOME="+home+"/cache",
			"HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	start := time.Now()
	runHelm("install", "demo", chart, "--namespace", "demo", "--create-namespace", "--wait", "--timeout", "4m")
	t.Logf("helm install --wait took %s", time.Since(start).Round(time.Second))
	if out := runHelm("status", "demo", "--namespace", "demo"); !strings.Contains(out, "STATUS: deployed") {
		t.Errorf("helm status:\n%s", out)
	}
	if out := s.mustKubectl("get", "pvc", "-n", "demo", "web-demo", "-o", "jsonpath={.status.phase} {.spec.storageClassName}"); out != "Bound local-path" {
		t.Errorf("the chart's claim: %q", out)
	}
	waitIngress(t, s, "demo", "web-demo", nodeIP)
	getFromHost(t, lanHost(t, ns, "172.31.254.5"), webBin, "http://"+nodeIP+":8090/", "")
	pod := strings.TrimSpace(s.mustKubectl("get", "pods", "-n", "demo", "-l", "release=demo", "-o", "jsonpath={.items[0].metadata.name}"))
	if out, err := s.kubectl("exec", "-n", "demo", pod, "--", "/webserver", "write", "/data/f", "helm"); err != nil {
		t.Errorf("write into the chart's volume: %q, %v", out, err)
	}
	dir := volumePath(s, "demo", "web-demo")
	if got := readFile(t, filepath.Join(dir, "f")); got != "helm" {
		t.Errorf("%s/f on the node holds %q", dir, got)
	}

	runHelm("uninstall", "demo", "--namespace", "demo", "--wait", "--timeout", "2m")
	waitRemoved(t, "the chart's volume directory", dir)
	s.stop()
}
