package killall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// stopProcesses stops the edgek node processes, then the containers, the shims and containerd.
func (r *run) stopProcesses(ctx context.Context) {
	t, err := readProcTable(r.procRoot)
	if err != nil {
		r.fail(fmt.Errorf("read processes: %w", err))
		return
	}
	protected := t.protected(r.self)
	rt := r.selectRuntime(t, protected)
	edgek := r.selectEdgek(t, protected, rt.containerd)
	if len(edgek) > 0 {
		r.stopUnits(ctx, edgek)
		r.kill(ctx, "edgek", edgek)
		if !r.DryRun {
			// While it stopped, edgek may have stopped containerd or started a shim: look again.
			if t, err = readProcTable(r.procRoot); err != nil {
				r.fail(fmt.Errorf("read processes: %w", err))
				return
			}
			rt = r.selectRuntime(t, t.protected(r.self))
		}
	}
	r.podNetns = containerNetns(r.procRoot, rt.containers)
	r.kill(ctx, "container process", rt.containers)
	r.kill(ctx, "containerd shim", rt.shims)
	r.kill(ctx, "containerd", rt.containerd)
	if len(edgek)+len(rt.containers)+len(rt.shims)+len(rt.containerd) == 0 {
		r.log.Info("no edgek processes running")
	}
}

// containerNetns returns the network namespaces ("net:[inode]") the containers run in.
func containerNetns(procRoot string, containers []proc) map[string]bool {
	ns := map[string]bool{}
	for _, c := range containers {
		if link, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(c.pid), "ns", "net")); err == nil {
			ns[link] = true
		}
	}
	return ns
}

// stopUnits stops the systemd services the edgek processes run in, so that systemd does not
// start them again (the edgek unit has Restart=always). A unit the caller runs in is left alone.
func (r *run) stopUnits(ctx context.Context, procs []proc) {
	own := systemdUnit(r.procRoot, r.self)
	done := map[string]bool{}
	for _, p := range procs {
		unit := systemdUnit(r.procRoot, p.pid)
		if unit == "" || unit == own || done[unit] {
			continue
		}
		done[unit] = true
		if _, err := r.sys.LookPath("systemctl"); err != nil {
			r.log.Warn("edgek runs as a systemd service but systemctl is not on PATH; systemd may restart it", "unit", unit)
			continue
		}
		if r.act("stop systemd service", "unit", unit, "pid", p.pid) {
			if _, err := r.sys.Run(ctx, "", "systemctl", "stop", unit); err != nil {
				r.fail(fmt.Errorf("stop %s: %w", unit, err))
			}
		}
	}
}

// kill sends SIGTERM to procs, waits up to the grace period, then sends SIGKILL to those left
// and waits as long again. Processes that already exited (or whose pid now names another
// process) are skipped.
func (r *run) kill(ctx context.Context, what string, procs []proc) {
	var live []proc
	for _, p := range procs {
		if alive(r.procRoot, p) {
			live = append(live, p)
			r.act("stop "+what, "pid", p.pid, "cmd", p.String())
		}
	}
	if r.DryRun || len(live) == 0 {
		return
	}
	r.signal(what, live, syscall.SIGTERM)
	if live = r.waitExit(ctx, live); len(live) == 0 {
		return
	}
	for _, p := range live {
		r.log.Warn(what+" still running after SIGTERM: sending SIGKILL", "pid", p.pid, "grace", r.grace)
	}
	r.signal(what, live, syscall.SIGKILL)
	for _, p := range r.waitExit(ctx, live) {
		r.fail(fmt.Errorf("%s %d still running after SIGKILL", what, p.pid))
	}
}

func (r *run) signal(what string, procs []proc, sig syscall.Signal) {
	for _, p := range procs {
		if err := r.sys.Kill(p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			r.fail(fmt.Errorf("signal %s %d: %w", what, p.pid, err))
		}
	}
}

// waitExit waits until every process in procs has exited, the grace period is over or ctx
// ends, and returns those still running.
func (r *run) waitExit(ctx context.Context, procs []proc) []proc {
	deadline := time.Now().Add(r.grace)
	tick := time.NewTicker(min(50*time.Millisecond, r.grace/4+time.Millisecond))
	defer tick.Stop()
	for {
		var live []proc
		for _, p := range procs {
			if alive(r.procRoot, p) {
				live = append(live, p)
			}
		}
		procs = live
		if len(procs) == 0 || !time.Now().Before(deadline) {
			return procs
		}
		select {
		case <-ctx.Done():
			return procs
		case <-tick.C:
		}
	}
}
