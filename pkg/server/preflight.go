package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/edgek-io/edgek/pkg/config"
)

// preflight checks what would make start-up fail half-way, before anything is written:
// the data dir is writable, no other server uses it, the ports are free and the kubeconfig
// can be written. It returns the held data-dir lock.
func preflight(c *config.Server) (*os.File, error) {
	if err := os.MkdirAll(c.ServerDir(), 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s is not usable: %w (choose another with --data-dir or fix its permissions)", c.DataDir, err)
	}
	probe, err := os.CreateTemp(c.ServerDir(), ".write-test-*")
	if err != nil {
		return nil, fmt.Errorf("data dir %s is not writable: %w (choose another with --data-dir or fix its permissions)", c.DataDir, err)
	}
	probe.Close()
	os.Remove(probe.Name())

	lock, err := lockDataDir(c)
	if err != nil {
		return nil, err
	}
	if err := checkPorts(c); err != nil {
		lock.Close()
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(c.WriteKubeconfig), 0o755); err != nil {
		lock.Close()
		return nil, fmt.Errorf("cannot write kubeconfig %s: %w (set --write-kubeconfig)", c.WriteKubeconfig, err)
	}
	return lock, nil
}

func lockDataDir(c *config.Server) (*os.File, error) {
	f, err := os.OpenFile(c.LockFile(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another edgek server is already running with data dir %s", c.DataDir)
		}
		return nil, fmt.Errorf("lock data dir %s: %w", c.DataDir, err)
	}
	return f, nil
}

// portCheck is a port a component will listen on.
type portCheck struct {
	addr netip.Addr
	port int
	what string
}

func checkPorts(c *config.Server) error {
	loopback := netip.MustParseAddr("127.0.0.1")
	ports := []portCheck{
		{c.BindAddress, c.HTTPSPort, "the apiserver (--https-listen-port)"},
		{loopback, config.SchedulerSecurePort, "kube-scheduler"},
		{loopback, config.ControllerManagerPort, "kube-controller-manager"},
	}
	if !c.DisableAgent {
		ports = append(ports, []portCheck{
			{netip.IPv4Unspecified(), 10250, "the kubelet API"},
			{loopback, 10248, "the kubelet health check"},
			{loopback, 10249, "kube-proxy metrics"},
			{loopback, 10256, "kube-proxy health check"},
		}...)
	}
	for _, p := range ports {
		addr := net.JoinHostPort(p.addr.String(), strconv.Itoa(p.port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("port %d (%s) on %s is not free: %w; stop what uses it or choose another port", p.port, p.what, p.addr, err)
		}
		l.Close()
	}
	return nil
}
