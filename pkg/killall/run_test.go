package killall

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/test/testutil"
)

// nodeHost is a fake host with edgek's processes, mounts, netns, links and rules.
func nodeHost(t *testing.T) *fakeHost {
	h := newFakeHost(t)
	for _, p := range hostProcs(h) {
		writeProc(t, h.proc, p)
	}
	h.writeMountinfo(t, mountinfoSample)
	for _, name := range []string{"cni-1b2c3d4e-aaaa-bbbb-cccc-123456789abc", "cni-00000000-0000-0000-0000-0000000f0e19", "myns"} {
		if err := os.WriteFile(filepath.Join(h.netns, name), nil, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	h.links = []link{
		{Name: "lo", Type: "device", Index: 1},
		{Name: "eth0", Type: "device", Index: 2},
		{Name: "cni0", Type: "bridge", Index: 5},
		{Name: "veth1a2b", Type: "veth", Index: 6, Master: 5},
		{Name: "flannel.1", Type: "vxlan", Index: 9},
	}
	for _, p := range []string{"iptables", "iptables-save", "iptables-restore", "ipset", "nft", "systemctl"} {
		h.programs[p] = true
	}
	testutil.WriteFile(t, filepath.Join(h.run, "flannel", "subnet.env"), "FLANNEL_NETWORK=10.42.0.0/16\n")
	h.routes = []route{
		{Dst: netip.MustParsePrefix("10.42.1.0/24"), Gw: netip.MustParseAddr("192.168.1.21"), LinkIndex: 2},           // host-gw
		{Dst: netip.MustParsePrefix("10.43.0.0/16"), LinkIndex: 2, Protocol: config.RouteProtocol},                    // service range
		{Dst: netip.MustParsePrefix("192.168.1.0/24"), LinkIndex: 2, Protocol: 2},                                     // the LAN
		{Dst: netip.MustParsePrefix("10.0.0.0/8"), Gw: netip.MustParseAddr("192.168.1.1"), LinkIndex: 2, Protocol: 4}, // the site's
	}
	// Host-wide state: systemd's pod slice, the kubelet's device plugins, CNI results of an
	// edgek pod (both networks) and of another runtime's sandbox.
	testutil.WriteFiles(t, h.root, map[string]string{
		"sys/fs/cgroup/kubepods.slice/cgroup.procs":                  "",
		"var/lib/kubelet/device-plugins/kubelet.sock":                "",
		"var/lib/kubelet/device-plugins/kubelet_internal_checkpoint": "{}",
		"var/lib/cni/results/cbr0-3f2a-eth0":                         "{}",
		"var/lib/cni/results/cni-loopback-3f2a-lo":                   "{}",
		"var/lib/cni/results/cni-loopback-77aa-lo":                   "{}",
		"var/lib/cni/results/mynet-77aa-eth0":                        "{}",
	})
	h.outputs["iptables-save"] = iptablesSample
	h.outputs["nft list tables"] = "table ip filter\ntable ip kube-proxy\ntable ip6 flannel-ipv6\n"
	// The network policy controller's sets, and one of the site's own.
	h.outputs["ipset list -n"] = "KUBE-SRC-3BAXMFOMK4XJG2FC\nsite-blocklist\nKUBE-DST-VBH27M7NWLDOZIE4\n"
	return h
}

func TestRun(t *testing.T) {
	h := nodeHost(t)
	h.stubborn[620] = true // nginx ignores SIGTERM
	if err := Run(t.Context(), h.options(300, false)); err != nil {
		t.Fatalf("Run: %v\n%s", err, h.log.String())
	}
	want := []string{
		"run systemctl stop edgek.service",
		"kill 500 terminated", "kill 900 terminated", "kill 910 terminated",
		"kill 610 terminated", "kill 621 terminated", "kill 620 terminated", "kill 651 terminated",
		"kill 620 killed",
		"kill 600 terminated", "kill 650 terminated",
		"kill 510 terminated", "kill 920 terminated",
	}
	want = append(want, "delroute 10.42.1.0/24 via 192.168.1.21", "delroute 10.43.0.0/16")
	// The pod of an older edgek has its network namespace in /run/netns: unmounted (before
	// the run dir, being less deep) and removed; another runtime's there stays.
	oldPodNetns := "{netns}/cni-1b2c3d4e-aaaa-bbbb-cccc-123456789abc"
	unmounts := slices.Insert(slices.Clone(wantUnmounts), len(wantUnmounts)-1, oldPodNetns)
	for _, m := range unmounts {
		want = append(want, "unmount "+h.rel(h.sub(m)))
	}
	want = append(want,
		"remove "+h.rel(h.sub(oldPodNetns)),
		"removeall "+h.rel(h.run)+"/containerd",
		"removeall "+h.rel(h.run)+"/flannel",
		"remove "+h.rel(h.run),
		"dellink veth1a2b", "dellink cni0", "dellink flannel.1",
		"run iptables-save", "run iptables-restore",
		"run ipset list -n", "run ipset destroy KUBE-SRC-3BAXMFOMK4XJG2FC", "run ipset destroy KUBE-DST-VBH27M7NWLDOZIE4",
		"run nft list tables", "run nft delete table ip kube-proxy", "run nft delete table ip6 flannel-ipv6",
		"run systemctl stop kubepods.slice",
		"remove /var/lib/cni/results/cbr0-3f2a-eth0", "remove /var/lib/cni/results/cni-loopback-3f2a-lo",
		"remove /var/lib/kubelet/device-plugins/kubelet.sock",
		"remove /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint",
		"remove /var/lib/kubelet/device-plugins", "remove /var/lib/kubelet",
	)
	if !slices.Equal(h.actions, want) {
		t.Errorf("actions:\n%s\nwant:\n%s", strings.Join(h.actions, "\n"), strings.Join(want, "\n"))
	}
	if got := h.stdin["iptables-restore"]; got != iptablesWant {
		t.Errorf("iptables-restore got\n%s", got)
	}
	// What is not edgek's is still there.
	for _, pid := range []int{1, 100, 200, 300, 700, 710, 711, 800, 810, 820} {
		if _, err := os.Stat(filepath.Join(h.proc, strconv.Itoa(pid))); err != nil {
			t.Errorf("pid %d was killed", pid)
		}
	}
	for _, ns := range []string{"myns", "cni-00000000-0000-0000-0000-0000000f0e19"} { // another runtime's
		if _, err := os.Stat(filepath.Join(h.netns, ns)); err != nil {
			t.Errorf("netns %s removed", ns)
		}
	}
	for _, d := range []string{"containerd", "flannel"} {
		if _, err := os.Stat(filepath.Join(h.run, d)); !os.IsNotExist(err) {
			t.Errorf("run dir %s not removed", d)
		}
	}
	if _, err := os.Stat(h.data); err != nil {
		t.Error("data dir removed")
	}
	for _, f := range []string{"cni-loopback-77aa-lo", "mynet-77aa-eth0"} { // another runtime's
		if _, err := os.Stat(filepath.Join(h.root, "var/lib/cni/results", f)); err != nil {
			t.Errorf("CNI result %s removed", f)
		}
	}
}

func TestSandboxOf(t *testing.T) {
	for _, tt := range []struct {
		name, network, id string
		ok                bool
	}{
		{"cbr0-3f2a9c-eth0", "cbr0", "3f2a9c", true},
		{"cni-loopback-3f2a9c-lo", "cni-loopback", "3f2a9c", true},
		{"cni-loopback-3f2a9c-lo", "cbr0", "", false},
		{"cbr0-eth0", "cbr0", "", false},
		{"cbr0x-1-eth0", "cbr0", "", false},
	} {
		id, ok := sandboxOf(tt.name, tt.network)
		if id != tt.id || ok != tt.ok {
			t.Errorf("sandboxOf(%q, %q) = %q, %v; want %q, %v", tt.name, tt.network, id, ok, tt.id, tt.ok)
		}
	}
}

func TestRunDry(t *testing.T) {
	h := nodeHost(t)
	if err := Run(t.Context(), h.options(300, true)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Only reads.
	want := []string{"run iptables-save", "run ipset list -n", "run nft list tables"}
	if !slices.Equal(h.actions, want) {
		t.Errorf("dry run acted:\n%s", strings.Join(h.actions, "\n"))
	}
	log := h.log.String()
	for _, s := range []string{
		`msg="would stop systemd service" dry-run=true unit=edgek.service`,
		`msg="would stop edgek" dry-run=true pid=500`,
		`msg="would stop containerd shim" dry-run=true pid=650`,
		`msg="would stop container process" dry-run=true pid=621`,
		`msg="would unmount" dry-run=true path=` + h.sub("{run}/containerd/io.containerd.runtime.v2.task/k8s.io/3f2a/rootfs"),
		`msg="would remove" dry-run=true path=` + h.run + "/containerd",
		`msg="would delete link" dry-run=true link=cni0`,
		`msg="would remove edgek rules" dry-run=true command=iptables lines=69`,
		`msg="would delete nftables table" dry-run=true family=ip table=kube-proxy`,
		`msg="ip6tables-save is not installed: skipping ip6tables"`,
	} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %s", s)
		}
	}
	if t.Failed() {
		t.Log(log)
	}
}

// TestRunKeepsGoing: a failure is reported and the later steps still run.
func TestRunKeepsGoing(t *testing.T) {
	h := nodeHost(t)
	// A mount killall cannot remove keeps <run-dir>/containerd from being deleted.
	h.writeMountinfo(t, mountinfoSample+"130 25 0:70 / {run}/containerd/stuck rw - tmpfs tmpfs rw\n")
	failing := &failingUnmount{fakeHost: h, path: h.sub("{run}/containerd/stuck")}
	o := h.options(300, false)
	o.sys = failing
	err := Run(t.Context(), o)
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"unmount " + h.sub("{run}/containerd/stuck"), "not removing " + h.run + "/containerd"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if !slices.Contains(h.actions, "run iptables-restore") || slices.Contains(h.actions, "removeall "+h.rel(h.run)+"/containerd") {
		t.Errorf("actions:\n%s", strings.Join(h.actions, "\n"))
	}
}

type failingUnmount struct {
	*fakeHost
	path string
}

func (f *failingUnmount) Unmount(path string) error {
	if path == f.path {
		f.record("unmount %s (fails)", f.rel(path))
		return os.ErrPermission
	}
	return f.fakeHost.Unmount(path)
}

func TestNewRunRefusesRealSystemWithFakeProc(t *testing.T) {
	if _, err := newRun(Options{procRoot: t.TempDir()}); err == nil {
		t.Error("a fake proc root with the real system was accepted")
	}
}

func TestNewRunRefusesSharedRunDir(t *testing.T) {
	h := newFakeHost(t)
	for _, dir := range []string{"/", "/run", "/var/run", "/tmp", "/run/containerd"} {
		o := h.options(1, true)
		o.RunDir = dir
		if _, err := newRun(o); err == nil {
			t.Errorf("run dir %s accepted", dir)
		}
	}
	o := h.options(1, true)
	o.RunDir = ""
	if r, err := newRun(o); err != nil || r.RunDir != config.RunDirFor(o.DataDir) {
		t.Errorf("default run dir of data dir %s: %v, %v", o.DataDir, r, err)
	}
}

// The run-dir paths killall cleans are config.Agent's, rebased onto Options.RunDir: below the
// run dir, and the same paths for any data dir.
func TestRunDirRel(t *testing.T) {
	a := &config.Agent{DataDir: "/srv/edgek"}
	for _, path := range []func(*config.Agent) string{
		(*config.Agent).ContainerdState, (*config.Agent).ContainerdSocket, (*config.Agent).FlannelSubnetFile, (*config.Agent).CNIRunDir,
	} {
		rel := runDirRel(path)
		if !filepath.IsLocal(rel) || filepath.Join(a.RunDir(), rel) != path(a) {
			t.Errorf("runDirRel = %q: not %s below the run dir %s", rel, path(a), a.RunDir())
		}
	}
}
