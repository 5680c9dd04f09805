//go:build vm

package vm

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestServer is the README's path on a systemd + cgroup v2 Debian machine: install with
// `curl | sh`, node and addons Ready, a pod and a Service by name, reboot, upgrade in place,
// uninstall without leftovers.
func TestServer(t *testing.T) {
	f := newFixture(t)
	rel := f.rel
	v := startVM(t, vmOpts{name: "server", httpsAddr: rel.addr})
	s := newSteps(t)
	ready := 20 * time.Minute
	if guestArch == "arm64" {
		ready = 40 * time.Minute
	}

	var boot string
	s.do("boot", func() { boot = v.waitSSH(t, 10*time.Minute, "") })
	s.do("systemd and cgroup v2", func() { checkHost(t, v) })
	s.do("prepare guest", func() {
		f.prepare(t, v)
	})
	s.do("install", func() { metric(t, "install_time", install(t, v, rel, "").Round(time.Second).Seconds(), "s") })
	s.do("node, CoreDNS, dashboard Ready", func() {
		waitNodes(t, v, 1, ready)
		waitDefaultPods(t, v, ready)
		readinessTimes(t, v, "edgek")
	})
	s.do("pod and Service by name", func() {
		v.must(t, 2*time.Minute, "cat <<'EOF' | "+kubectl+" apply -f -\n"+webManifest+"EOF")
		eventually(t, 10*time.Minute, "web pod Ready", func() error { _, err := webPod(v); return err })
		checkServiceByName(t, v, 5*time.Minute)
	})
	s.do("volume and LoadBalancer", func() {
		v.must(t, 2*time.Minute, "cat <<'EOF' | "+kubectl+" apply -f -\n"+dataManifest+"EOF")
		eventually(t, 10*time.Minute, "the data pod writes to its volume", func() error {
			_, err := v.run(2*time.Minute, kubectl+" exec deploy/data -- /webserver write /data/f kept")
			return err
		})
		checkData(t, v, 2*time.Minute)
		checkLoadBalancer(t, v, 5*time.Minute)
	})
	s.do("systemd cgroup driver", func() { checkSystemdCgroups(t, v) })
	s.do("PSS", func() { measurePSS(t, v, "edgek") })
	if testing.Short() {
		return
	}
	s.do("reboot", func() {
		before, err := webPod(v)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = v.run(time.Minute, "systemctl reboot")
		v.waitSSH(t, 10*time.Minute, boot)
		// Right after the boot the API still shows the old node and pod status: wait for the
		// pod's new container (same pod, another container ID) before judging anything.
		eventually(t, ready, "web pod running a new container after the reboot", func() error {
			after, err := webPod(v)
			if err != nil {
				return err
			}
			if strings.Fields(after)[0] != strings.Fields(before)[0] {
				t.Fatalf("web pod replaced across the reboot:\nbefore %s\nafter  %s", before, after)
			}
			if strings.Fields(after)[1] == strings.Fields(before)[1] {
				return fmt.Errorf("still the container from before the reboot: %s", after)
			}
			return nil
		})
		waitNodes(t, v, 1, ready)
		waitDefaultPods(t, v, ready)
		checkServiceByName(t, v, 10*time.Minute)
		checkData(t, v, ready)
		checkLoadBalancer(t, v, 10*time.Minute)
	})
	if guestArch == runtime.GOARCH || os.Getenv("EDGEK_UPGRADE_BIN") != "" {
		s.do("upgrade", func() { checkUpgrade(t, v, rel, f.version, ready) })
	} else {
		t.Logf("upgrade step skipped: set EDGEK_UPGRADE_BIN to an edgek-%s with another version", guestArch)
	}
	s.do("uninstall", func() {
		t.Log(v.must(t, 10*time.Minute, "/usr/local/bin/edgek-uninstall.sh 2>&1"))
		checkNothingLeft(t, v)
	})
}

// dataManifest is a pod whose data lives on a claim of the default StorageClass (local-path),
// as a user other than root, behind a LoadBalancer Service (ServiceLB).
var dataManifest = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 16Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: data, namespace: default}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: data}}
  template:
    metadata: {labels: {app: data}}
    spec:
      securityContext: {runAsUser: 1000, runAsGroup: 1000}
` + webContainers(6) + `        volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
---
apiVersion: v1
kind: Service
metadata: {name: data, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: data}
  ports: [{port: 8088, targetPort: 8080}]
`

// checkData reads back what the data pod wrote to its volume (once its pod is Ready again).
func checkData(t *testing.T, v *vm, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "the data pod reads its volume", func() error {
		out, err := v.run(2*time.Minute, kubectl+" exec deploy/data -- /webserver cat /data/f")
		if err != nil || strings.TrimSpace(out) != "kept" {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
}

// checkLoadBalancer fetches the data Service at the address ServiceLB gave it: the node's.
func checkLoadBalancer(t *testing.T, v *vm, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "the LoadBalancer Service answers at the node's address", func() error {
		out, err := v.run(time.Minute, `ip=$(`+kubectl+` get svc data -o jsonpath='{.status.loadBalancer.ingress[0].ip}') && `+
			`test "$ip" = "$(`+kubectl+` get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')" && `+
			`curl -sf --max-time 5 "http://$ip:8088/"`)
		if err != nil || !strings.HasPrefix(out, "data-") {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
}

// checkSystemdCgroups checks the pod's container sits in a systemd slice under kubepods.slice
// (the kubelet's systemd cgroup driver; cgroupfs would give /kubepods/...).
func checkSystemdCgroups(t *testing.T, v *vm) {
	t.Helper()
	out := v.must(t, time.Minute, "cat /proc/$(pgrep -xo webserver)/cgroup; ls -d /sys/fs/cgroup/kubepods.slice")
	if !strings.Contains(out, "0::/kubepods.slice/") || !strings.Contains(out, ".scope") {
		t.Errorf("pod not in a kubepods.slice systemd scope (cgroupfs driver?):\n%s", out)
	}
	t.Logf("web container cgroup: %s", strings.TrimSpace(out))
}

// checkUpgrade re-runs the installer with a newer build and checks the pod kept running.
// ready bounds the node's restart (an emulated arm64 guest takes minutes).
func checkUpgrade(t *testing.T, v *vm, rel *releaseServer, version string, ready time.Duration) {
	t.Helper()
	before, err := webPod(v)
	if err != nil {
		t.Fatal(err)
	}
	bin, next := upgradeBinary(t, guestArch, version)
	rel.publish(t, next, guestArch, map[string]string{"edgek-" + guestArch: bin})
	metric(t, "upgrade_install_time", install(t, v, rel, "").Round(time.Second).Seconds(), "s")
	out := v.must(t, 2*time.Minute, "edgek --version")
	if !strings.Contains(out, next) {
		t.Fatalf("after the upgrade edgek --version = %q, want %s", out, next)
	}
	waitNodes(t, v, 1, ready)
	eventually(t, ready, "web pod Ready after the upgrade", func() error {
		after, err := webPod(v)
		if err != nil {
			return err
		}
		if after != before {
			t.Fatalf("web pod changed across the upgrade:\nbefore %s\nafter  %s", before, after)
		}
		return nil
	})
	checkServiceByName(t, v, ready/2)
}

// leftoversScript prints one line per piece of edgek still on the machine.
const leftoversScript = `
for f in /usr/local/bin/edgek /usr/local/bin/kubectl /usr/local/bin/crictl /usr/local/bin/ctr \
	/usr/local/bin/edgek-uninstall.sh /usr/local/bin/edgek-killall.sh /etc/edgek /var/lib/edgek \
	/run/edgek /etc/systemd/system/edgek.service /etc/systemd/system/edgek.service.env \
	/etc/systemd/system/edgek-agent.service /etc/systemd/system/multi-user.target.wants/edgek.service \
	/var/lib/kubelet /var/lib/cni /etc/cni /run/flannel /run/containerd /var/lib/rancher; do
	if [ -e "$f" ] || [ -L "$f" ]; then echo "file $f: $(find "$f" -maxdepth 4 2>/dev/null | head -n 12 | tr '\n' ' ')"; fi
done
grep -E 'edgek|kubelet|containerd|/run/netns|kubepods' /proc/mounts | sed 's/^/mount /'
ip -o link | grep -E 'flannel|cni0|veth' | sed 's/^/link /'
iptables-save 2>/dev/null | grep -E '^:(KUBE-|FLANNEL|CNI-)|-j (KUBE-|FLANNEL|CNI-)' | sed 's/^/iptables /' | head -n 20
ip6tables-save 2>/dev/null | grep -E '^:(KUBE-|FLANNEL|CNI-)' | sed 's/^/ip6tables /' | head -n 20
systemctl list-units --all --plain --no-legend 'edgek*' | sed 's/^/unit /'
ps -eo pid=,comm=,args= | awk '$2 ~ /containerd|webserver|coredns|edgek|pause/' | sed 's/^/process /'
find /sys/fs/cgroup/kubepods.slice -maxdepth 2 -name '*.slice' 2>/dev/null | sed 's/^/cgroup /'
systemctl list-units --all --plain --no-legend 'kubepods*' | sed 's/^/unit /'
true`

// checkNothingLeft checks the uninstaller left no file, unit, link, mount, interface,
// iptables chain or process of edgek.
func checkNothingLeft(t *testing.T, v *vm) {
	t.Helper()
	out := strings.TrimSpace(v.must(t, 2*time.Minute, leftoversScript))
	if out != "" {
		t.Errorf("left after edgek-uninstall.sh:\n%s", out)
		return
	}
	fmt.Println("uninstall: nothing of edgek left")
}
