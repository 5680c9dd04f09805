//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// nodeIP is the address of the node inside each test network namespace.
const nodeIP = "172.31.254.2"

var nsCounter atomic.Int32

// netns is a network namespace whose only way out is a bridge with no ports, so that no
// packet of the cluster under test can leave this machine.
type netns struct {
	name string
	path string
	ip   string // the node's address on edgek0
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// newNetns creates the namespace and removes it when the test ends. Its default route goes
// to the port-less bridge.
func newNetns(t *testing.T) *netns {
	t.Helper()
	n := newNetnsNoRoute(t)
	run(t, "ip", "-n", n.name, "route", "add", "default", "dev", "edgek0")
	return n
}

// newNetnsNoRoute creates a namespace whose only interface is the port-less bridge, with no
// default route (an isolated edge network).
func newNetnsNoRoute(t *testing.T) *netns {
	return newNetnsAt(t, nodeIP)
}

// newNetnsAt is newNetnsNoRoute with the node at ip (in 172.31.254.0/24).
func newNetnsAt(t *testing.T, ip string) *netns {
	t.Helper()
	n := &netns{name: fmt.Sprintf("edgek-e2e-%d-%d", os.Getpid(), nsCounter.Add(1)), ip: ip}
	n.path = "/run/netns/" + n.name
	run(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", n.name, err, out)
		}
	})
	run(t, "ip", "-n", n.name, "link", "set", "lo", "up")
	run(t, "ip", "-n", n.name, "link", "add", "edgek0", "type", "bridge")
	run(t, "ip", "-n", n.name, "addr", "add", ip+"/24", "dev", "edgek0")
	run(t, "ip", "-n", n.name, "link", "set", "edgek0", "up")
	return n
}

// connect joins the edgek0 bridges of n and other with a veth pair made inside the two
// namespaces (it goes when they go): two hosts on one isolated LAN.
func (n *netns) connect(t *testing.T, other *netns) {
	t.Helper()
	// Named after the peer, so that a host can be on several links.
	dev := func(peer *netns) string { return "lan" + peer.ip[strings.LastIndex(peer.ip, ".")+1:] }
	run(t, "ip", "-n", n.name, "link", "add", dev(other), "type", "veth", "peer", "name", dev(n), "netns", other.name)
	for _, l := range []struct{ ns, peer *netns }{{n, other}, {other, n}} {
		run(t, "ip", "-n", l.ns.name, "link", "set", dev(l.peer), "master", "edgek0")
		run(t, "ip", "-n", l.ns.name, "link", "set", dev(l.peer), "up")
	}
}

// command returns a command that runs inside the namespace. nsenter execs the program,
// so the command's PID is the program's PID.
func (n *netns) command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + n.path, name}, args...)...)
}

// listen opens a TCP listener inside the namespace (for "port in use" tests).
func (n *netns) listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	target, err := os.Open(n.path)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("setns: %v", err)
	}
	l, lerr := net.Listen("tcp", addr)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		panic(fmt.Sprintf("cannot return to the host network namespace: %v", err))
	}
	if lerr != nil {
		t.Fatalf("listen in %s: %v", n.name, lerr)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
