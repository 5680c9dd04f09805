package agent

import (
	"io"

	"github.com/edgek-io/edgek/pkg/checkconfig"
	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/preflight"
)

// checkPreflight checks what a standalone agent needs before it touches anything: a
// writable data dir, no other edgek on it (the returned lock, held while the agent runs),
// free node ports, a usable local storage dir, the memory cgroup, and the kernel settings with --protect-kernel-defaults.
func checkPreflight(a *config.Agent) (io.Closer, error) {
	if err := preflight.WritableDir(a.AgentDir(), a.DataDir); err != nil {
		return nil, err
	}
	lock, err := preflight.Lock(a.LockFile(), "edgek agent or server", a.DataDir)
	if err != nil {
		return nil, err
	}
	err = preflight.CheckPorts(preflight.NodePorts())
	if err == nil {
		err = preflight.StorageDir(a.LocalStorageDir())
	}
	if err == nil {
		err = preflight.MemoryCgroup(checkconfig.Env{})
	}
	if err == nil && a.ProtectKernelDefaults {
		err = preflight.KernelDefaults("/proc/sys")
	}
	if err != nil {
		lock.Close()
		return nil, err
	}
	return lock, nil
}
