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

// dataStatefulSet is two pods, each with a volume of the default StorageClass (local-path),
// running as a user other than root (the volume's directory must be writable by it).
const dataStatefulSet = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: data, namespace: default}
spec:
  serviceName: data
  replicas: 2
  selector: {matchLabels: {app: data}}
  template:
    metadata: {labels: {app: data}}
    spec:
      securityContext: {runAsUser: 1000, runAsGroup: 1000}
      containers:
      - name: web
        image: ` + webImage + `
        imagePullPolicy: Never
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 64Mi}}
`

// localVolumes is the StatefulSet's data, checked again after an edgek restart.
type localVolumes struct {
	s    *server
	dirs []string // the volumes' directories on the node
}

// checkLocalStorage: the bundled local-path StorageClass is the default; a StatefulSet's
// claims get directories under the node's storage dir, where pods running as a non-root
// user write; the data outlives the pods.
func checkLocalStorage(t *testing.T, s *server) *localVolumes {
	t.Helper()
	if out := s.mustKubectl("get", "storageclass", "local-path", "-o",
		`jsonpath={.metadata.annotations.storageclass\.kubernetes\.io/is-default-class} {.provisioner} {.volumeBindingMode}`); out != "true edgek.io/local-path WaitForFirstConsumer" {
		t.Errorf("StorageClass local-path: %q", out)
	}
	s.mustApply(dataStatefulSet)
	v := &localVolumes{s: s}
	v.waitPods(t)
	for i := range 2 {
		pod := fmt.Sprintf("data-%d", i)
		if out, err := s.kubectl("exec", pod, "--", "/webserver", "write", "/data/f", "from "+pod); err != nil {
			t.Fatalf("write into %s's volume as a non-root user: %q, %v", pod, out, err)
		}
		path := volumePath(s, "default", "data-"+pod)
		if filepath.Dir(path) != filepath.Join(s.dataDir, "storage") {
			t.Errorf("%s's volume is at %q, not in the node's storage dir", pod, path)
		}
		if got := readFile(t, filepath.Join(path, "f")); got != "from "+pod {
			t.Errorf("%s on the node holds %q", path, got)
		}
		v.dirs = append(v.dirs, path)
	}
	s.mustKubectl("delete", "pod", "data-0", "data-1")
	v.waitPods(t)
	v.checkData(t, "after the pods were deleted")
	return v
}

func (v *localVolumes) waitPods(t *testing.T) {
	t.Helper()
	eventually(t, 120*time.Second, "the StatefulSet's pods ready", func() error {
		out, err := v.s.kubectl("get", "pods", "-l", "app=data", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.containerStatuses[0].ready} {end}`)
		if err != nil || strings.TrimSpace(out) != "data-0=true data-1=true" {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
}

func (v *localVolumes) checkData(t *testing.T, when string) {
	t.Helper()
	for i := range 2 {
		pod := fmt.Sprintf("data-%d", i)
		if out, err := v.s.kubectl("exec", pod, "--", "/webserver", "cat", "/data/f"); err != nil || out != "from "+pod {
			t.Errorf("%s: %s reads %q, %v", when, pod, out, err)
		}
	}
}

// checkAfterRestart: the data is there after an edgek restart; deleting the claims removes
// the directories.
func (v *localVolumes) checkAfterRestart(t *testing.T) {
	t.Helper()
	v.waitPods(t)
	v.checkData(t, "after an edgek restart")
	v.s.mustKubectl("delete", "statefulset", "data")
	v.s.mustKubectl("delete", "pvc", "data-data-0", "data-data-1")
	waitRemoved(t, "the volumes' directories", v.dirs...)
}

// checkLocalStorageOnAgent: a claim of a pod pinned to the agent gets its directory on the
// agent (in the agent's storage dir), made by the agent; deleting it removes it there.
func checkLocalStorageOnAgent(t *testing.T, s, a *server) {
	t.Helper()
	s.mustApply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: on-agent, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 16Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: on-agent, namespace: default}
spec:
  nodeSelector: {kubernetes.io/hostname: agent}
  tolerations: [{operator: Exists}]
  containers:
  - name: web
    image: ` + webImage + `
    imagePullPolicy: Never
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: on-agent}}]
`)
	s.mustKubectl("wait", "--for=condition=Ready", "pod/on-agent", "--timeout=120s")
	if out, err := s.kubectl("exec", "on-agent", "--", "/webserver", "write", "/data/f", "on the agent"); err != nil {
		t.Fatalf("write into the agent's volume: %q, %v", out, err)
	}
	path := volumePath(s, "default", "on-agent")
	if filepath.Dir(path) != filepath.Join(a.dataDir, "storage") || readFile(t, filepath.Join(path, "f")) != "on the agent" {
		t.Errorf("the agent's volume is at %q, not in the agent's storage dir %s", path, filepath.Join(a.dataDir, "storage"))
	}
	s.mustKubectl("delete", "pod", "on-agent")
	s.mustKubectl("delete", "pvc", "on-agent")
	waitRemoved(t, "the agent's volume directory", path)
}

// volumePath is the node directory of the volume bound to the claim namespace/claim.
func volumePath(s *server, namespace, claim string) string {
	pv := strings.TrimSpace(s.mustKubectl("get", "pvc", "-n", namespace, claim, "-o", "jsonpath={.spec.volumeName}"))
	return s.mustKubectl("get", "pv", pv, "-o", "jsonpath={.spec.hostPath.path}")
}

// waitRemoved waits for the volume directories (what, in messages) to be gone from the node.
func waitRemoved(t *testing.T, what string, dirs ...string) {
	t.Helper()
	eventually(t, 60*time.Second, what+" removed", func() error {
		for _, d := range dirs {
			if _, err := os.Stat(d); err == nil {
				return fmt.Errorf("%s still exists", d)
			}
		}
		return nil
	})
}
