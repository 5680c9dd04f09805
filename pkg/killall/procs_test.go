package killall

import (
	"slices"
	"testing"

	"github.com/edgek-io/edgek/pkg/config"
)

// hostProcs is a host running an edgek server with two pods, Docker with a container, a
// second edgek on another data dir, and the shell that runs killall (pid 300).
func hostProcs(h *fakeHost) []fakeProc {
	sock := "{run}/containerd/containerd.sock"
	return []fakeProc{
		{pid: 1, ppid: 0, argv: []string{"/sbin/init"}, exe: "/usr/lib/systemd/systemd"},
		{pid: 100, ppid: 1, argv: []string{"sshd: root@pts/0"}, exe: "/usr/sbin/sshd"},
		{pid: 200, ppid: 100, argv: []string{"-bash"}, exe: "/usr/bin/bash"},
		{pid: 300, ppid: 200, argv: h.argv("edgek killall --data-dir {data}")},

		// edgek server (systemd service) and the containerd it started.
		{pid: 500, ppid: 1, argv: h.argv("/usr/local/bin/edgek server --data-dir {data} --node-ip 10.0.0.5"),
			cgroup: "0::/system.slice/edgek.service\n"},
		{pid: 510, ppid: 500, argv: h.argv("containerd -c {data}/agent/etc/containerd/config.toml --log-level info")},
		// Shims: the edgek binary re-executed with bare shim flags, and the pods below them.
		{pid: 600, ppid: 1, argv: h.argv("/usr/local/bin/edgek -namespace k8s.io -id 3f2a -address " + sock)},
		// A pod started by an older edgek: its network namespace is in /run/netns.
		{pid: 610, ppid: 600, argv: []string{"/pause"}, exe: "/pause", netns: "net:[4026532300]"},
		{pid: 620, ppid: 600, argv: []string{"nginx: master process nginx -g daemon off;"}, exe: "/usr/sbin/nginx"},
		{pid: 621, ppid: 620, argv: []string{"nginx: worker process"}, exe: "/usr/sbin/nginx"},
		{pid: 650, ppid: 1, argv: h.argv("/usr/local/bin/edgek -namespace k8s.io -id 77aa -address=" + sock + " -debug")},
		{pid: 651, ppid: 650, argv: []string{"/coredns", "-conf", "/etc/coredns/Corefile"}, exe: "/coredns"},

		// Docker: its containerd, a shim and a container. Never touched.
		{pid: 700, ppid: 1, argv: []string{"/usr/bin/containerd"}, exe: "/usr/bin/containerd"},
		{pid: 710, ppid: 1, argv: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", "c0ffee", "-address", "/run/containerd/containerd.sock"}, exe: "/usr/bin/containerd-shim-runc-v2"},
		{pid: 711, ppid: 710, argv: []string{"redis-server *:6379"}, exe: "/usr/bin/redis-server"},

		// Another edgek on its own data dir, with its containerd; and edgek kubectl.
		{pid: 800, ppid: 1, argv: []string{"edgek", "server", "--data-dir=/srv/other"}},
		{pid: 810, ppid: 800, argv: []string{"containerd", "--config", "/srv/other/agent/etc/containerd/config.toml"}},
		{pid: 820, ppid: 200, argv: []string{"edgek", "kubectl", "get", "pods", "--data-dir", h.data}},

		// An edgek agent whose data dir comes from its environment, one with a relative
		// --data-dir, and a stray containerd found by its socket.
		{pid: 900, ppid: 1, argv: []string{"/opt/edgek/edgek", "agent", "--server", "https://10.0.0.5:6443"}, exe: "/opt/edgek/edgek",
			env: []string{"PATH=/usr/bin", "EDGEK_DATA_DIR=" + h.data}},
		{pid: 910, ppid: 1, argv: []string{"./edgek", "server", "--data-dir", "edgek"}, exe: "/home/pi/bin/edgek", cwd: h.data[:len(h.data)-len("/edgek")]},
		{pid: 920, ppid: 1, argv: h.argv("/usr/local/bin/containerd --address " + sock)},
	}
}

func pids(ps []proc) []int {
	var out []int
	for _, p := range ps {
		out = append(out, p.pid)
	}
	return out
}

func TestSelectProcesses(t *testing.T) {
	h := newFakeHost(t)
	for _, p := range hostProcs(h) {
		writeProc(t, h.proc, p)
	}
	r, err := newRun(h.options(300, true))
	if err != nil {
		t.Fatal(err)
	}
	table, err := readProcTable(h.proc)
	if err != nil {
		t.Fatal(err)
	}
	protected := table.protected(300)
	for _, pid := range []int{1, 100, 200, 300} {
		if !protected[pid] {
			t.Errorf("pid %d (self or an ancestor) is not protected", pid)
		}
	}
	rt := r.selectRuntime(table, protected)
	edgek := r.selectEdgek(table, protected, rt.containerd)

	check := func(what string, got []proc, want []int) {
		t.Helper()
		if g := pids(got); !slices.Equal(g, want) {
			t.Errorf("%s: %v, want %v", what, g, want)
		}
	}
	check("edgek", edgek, []int{500, 900, 910})
	check("shims", rt.shims, []int{600, 650})
	check("containers", rt.containers, []int{610, 621, 620, 651}) // children before parents
	check("containerd", rt.containerd, []int{510, 920})

	if got := systemdUnit(h.proc, 500); got != "edgek.service" {
		t.Errorf("unit of 500: %q", got)
	}
}

// TestSelectSelfInsideContainer: killall run from inside a pod spares itself and its parents.
func TestSelectSelfInsideContainer(t *testing.T) {
	h := newFakeHost(t)
	procs := hostProcs(h)
	procs = append(procs,
		fakeProc{pid: 630, ppid: 620, argv: []string{"sh"}, exe: "/bin/sh"},
		fakeProc{pid: 631, ppid: 630, argv: h.argv("edgek killall --data-dir {data}")},
	)
	for _, p := range procs {
		writeProc(t, h.proc, p)
	}
	r, err := newRun(h.options(631, true))
	if err != nil {
		t.Fatal(err)
	}
	table, _ := readProcTable(h.proc)
	rt := r.selectRuntime(table, table.protected(631))
	for _, p := range slices.Concat(rt.containers, rt.shims) {
		if slices.Contains([]int{631, 630, 620, 600, 1}, p.pid) {
			t.Errorf("selected self or ancestor %v", p)
		}
	}
	if g := pids(rt.containers); !slices.Equal(g, []int{610, 621, 651}) {
		t.Errorf("containers %v", g)
	}
}

// TestSelectDefaultDataDir: with the default data dir, an edgek without --data-dir or
// EDGEK_DATA_DIR is selected, and one with another data dir is not.
func TestSelectDefaultDataDir(t *testing.T) {
	h := newFakeHost(t)
	for _, p := range []fakeProc{
		{pid: 10, ppid: 1, argv: []string{"edgek", "server"}},
		{pid: 11, ppid: 1, argv: []string{"edgek", "--debug", "agent", "--token", "x"}},
		{pid: 12, ppid: 1, argv: []string{"edgek", "server", "--data-dir", "/srv/x"}},
		{pid: 13, ppid: 1, argv: []string{"edgek", "server"}, env: []string{"EDGEK_DATA_DIR=/srv/y"}},
		{pid: 14, ppid: 1, argv: []string{"edgek", "server", "--data-dir", config.DefaultDataDir}},
		{pid: 15, ppid: 1, argv: []string{"edgek", "check-config"}},
		{pid: 16, ppid: 1, argv: []string{"/usr/bin/k3s", "server"}, exe: "/usr/bin/k3s"},
	} {
		writeProc(t, h.proc, p)
	}
	o := h.options(2, true)
	o.DataDir = ""
	r, err := newRun(o)
	if err != nil {
		t.Fatal(err)
	}
	table, _ := readProcTable(h.proc)
	if g := pids(r.selectEdgek(table, table.protected(2), nil)); !slices.Equal(g, []int{10, 11, 14}) {
		t.Errorf("edgek: %v, want [10 11 14]", g)
	}
}

func TestFlagValue(t *testing.T) {
	tests := []struct {
		args  []string
		names []string
		want  string
		ok    bool
	}{
		{[]string{"-c", "/a"}, []string{"config", "c"}, "/a", true},
		{[]string{"--config=/b", "-c", "/a"}, []string{"config", "c"}, "/b", true},
		{[]string{"-address", "/s"}, []string{"address"}, "/s", true},
		{[]string{"--", "--address", "/s"}, []string{"address"}, "", false},
		{[]string{"--address"}, []string{"address"}, "", false},
		{[]string{"--addresses", "/s"}, []string{"address"}, "", false},
	}
	for _, tt := range tests {
		got, ok := flagValue(tt.args, tt.names...)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%v: %q %v, want %q %v", tt.args, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSystemdUnit(t *testing.T) {
	h := newFakeHost(t)
	for pid, cg := range map[int]string{
		10: "0::/system.slice/edgek.service\n",
		11: "12:pids:/system.slice/edgek-agent.service\n1:name=systemd:/system.slice/edgek-agent.service\n0::/system.slice/edgek-agent.service\n",
		12: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/edgek.service\n",
		13: "0::/system.slice/ssh.service\n",
		14: "0::/\n",
	} {
		writeProc(t, h.proc, fakeProc{pid: pid, ppid: 1, argv: []string{"edgek"}, cgroup: cg})
	}
	for pid, want := range map[int]string{10: "edgek.service", 11: "edgek-agent.service", 12: "", 13: "", 14: "", 99: ""} {
		if got := systemdUnit(h.proc, pid); got != want {
			t.Errorf("pid %d: %q, want %q", pid, got, want)
		}
	}
}
