package server

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/edgek-io/edgek/pkg/checkconfig"
	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/metricsserver"
	"github.com/edgek-io/edgek/pkg/preflight"
)

// locks closes every lock it holds.
type locks []*os.File

func (l locks) Close() error {
	for _, f := range l {
		f.Close()
	}
	return nil
}

// checkPreflight checks what would make start-up fail half-way, before anything is
// written: the data dir is writable, no other edgek uses it, a local node has the memory
// cgroup, the ports are free and the kubeconfig can be written. It returns the held data-dir locks.
func checkPreflight(c *config.Server) (io.Closer, error) {
	if err := preflight.WritableDir(c.ServerDir(), c.DataDir); err != nil {
		return nil, err
	}
	var held locks
	lock, err := preflight.Lock(c.LockFile(), "edgek server", c.DataDir)
	if err != nil {
		return nil, err
	}
	held = append(held, lock)
	ports := []preflight.Port{
		{Addr: c.BindAddress, Port: c.HTTPSPort, What: "the apiserver (--https-listen-port)"},
		preflight.LoopbackPort(c.SchedulerPort(), "kube-scheduler"),
		preflight.LoopbackPort(c.ControllerManagerSecurePort(), "kube-controller-manager"),
	}
	if !slices.Contains(c.Disable, metricsserver.Addon) {
		ports = append(ports, preflight.Port{Addr: c.NodeIP, Port: config.MetricsServerPort, What: "metrics-server (--disable metrics-server if you run your own)"})
	}
	if !c.DisableAgent {
		if err := preflight.MemoryCgroup(checkconfig.Env{}); err != nil {
			held.Close()
			return nil, err
		}
		if c.ProtectKernelDefaults {
			if err := preflight.KernelDefaults("/proc/sys"); err != nil {
				held.Close()
				return nil, err
			}
		}
		a := c.Agent("")
		if err := preflight.WritableDir(a.AgentDir(), c.DataDir); err != nil {
			held.Close()
			return nil, err
		}
		if err := preflight.StorageDir(a.LocalStorageDir()); err != nil {
			held.Close()
			return nil, err
		}
		lock, err := preflight.Lock(a.LockFile(), "edgek agent", c.DataDir)
		if err != nil {
			held.Close()
			return nil, err
		}
		held = append(held, lock)
		ports = append(ports, preflight.NodePorts()...)
	}
	if err := preflight.CheckPorts(ports); err != nil {
		held.Close()
		return nil, err
	}
	if err := kubeconfigWritable(filepath.Dir(c.WriteKubeconfig)); err != nil {
		held.Close()
		return nil, fmt.Errorf("cannot write kubeconfig %s: %w (set --write-kubeconfig)", c.WriteKubeconfig, err)
	}
	return held, nil
}

// kubeconfigWritable creates the kubeconfig's directory and checks a file can be made in it
// (a read-only /etc would otherwise fail only once the control plane runs).
func kubeconfigWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return preflight.CanCreate(dir)
}
