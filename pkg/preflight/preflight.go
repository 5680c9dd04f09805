// Package preflight holds the checks edgek runs before it writes anything: a usable data
// dir, a lock that keeps a second edgek off it, and free ports.
package preflight

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"

	"github.com/edgek-io/edgek/pkg/config"
)

// WritableDir creates dir (0700) and checks that files can be created in it. dataDir is
// the --data-dir named in the error.
func WritableDir(dir, dataDir string) error {
	return makeWritable(dir, "data dir "+dataDir, "--data-dir")
}

// StorageDir checks that the node's local-path volumes can go in dir
// (--default-local-storage-path), making it if missing, before anything starts.
func StorageDir(dir string) error {
	return makeWritable(dir, "local storage dir "+dir, "--default-local-storage-path")
}

// makeWritable makes dir (0700) and checks a file can be created in it; the errors name
// what the dir is and the flag that chooses another.
func makeWritable(dir, what, flag string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s is not usable: %w (choose another with %s or fix its permissions)", what, err, flag)
	}
	if err := CanCreate(dir); err != nil {
		return fmt.Errorf("%s is not writable: %w (choose another with %s or fix its permissions)", what, err, flag)
	}
	return nil
}

// CanCreate checks that a file can be created in dir (and removes it again): a read-only
// file system or missing permission fail here rather than half-way through start-up.
func CanCreate(dir string) error {
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return err
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// Lock takes an exclusive lock on path, held until the returned file is closed (or the
// process exits). what names the holder in the error, e.g. "edgek server".
func Lock(path, what, dataDir string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another %s is already running with data dir %s", what, dataDir)
		}
		return nil, fmt.Errorf("lock data dir %s: %w", dataDir, err)
	}
	return f, nil
}

// Port is a port a component will listen on.
type Port struct {
	Addr netip.Addr
	Port int
	What string
}

var loopback = netip.MustParseAddr("127.0.0.1")

// NodePorts are the ports of a node's kubelet and kube-proxy.
func NodePorts() []Port {
	return []Port{
		{netip.IPv4Unspecified(), config.KubeletPort, "the kubelet API"},
		{loopback, config.KubeletHealthzPort, "the kubelet health check"},
		{loopback, config.KubeProxyMetricsPort, "kube-proxy metrics"},
		{loopback, config.KubeProxyHealthzPort, "kube-proxy health check"},
	}
}

// LoopbackPort is a port on 127.0.0.1.
func LoopbackPort(port int, what string) Port { return Port{loopback, port, what} }

// CheckPorts fails on the first port that cannot be listened on.
func CheckPorts(ports []Port) error {
	for _, p := range ports {
		addr := net.JoinHostPort(p.Addr.String(), strconv.Itoa(p.Port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("port %d (%s) on %s is not free: %w; stop what uses it or choose another port", p.Port, p.What, p.Addr, err)
		}
		l.Close()
	}
	return nil
}
