package killall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Paths outside edgek's dirs that its components write whatever they are told: the kubelet's
// device-plugin socket and checkpoint (the path is fixed in the kubelet), libcni's cache of
// results (fixed in containerd's CRI), and the slices the kubelet asks systemd for.
const (
	devicePluginDir = "/var/lib/kubelet/device-plugins"
	cniResultsDir   = "/var/lib/cni/results"
	// podNetworkName is the name in edgek's CNI conflist (flannel's "cbr0"); libcni keeps
	// one result per sandbox as <network>-<container id>-<interface>.
	podNetworkName = "cbr0"
	// loopbackNetworkName is the loopback network containerd's CRI adds to every sandbox.
	loopbackNetworkName = "cni-loopback"
	podSlice            = "kubepods.slice"
)

// cleanHost stops the kubelet's systemd slices and removes the files the kubelet and CNI
// keep outside edgek's dirs. Only what edgek's node made goes: the device-plugin files edgek's
// kubelet writes, and the CNI results of edgek's pod network (with the loopback results of the
// same sandboxes); another runtime's entries stay.
func (r *run) cleanHost(ctx context.Context) {
	r.stopPodSlices(ctx)
	results := r.host(cniResultsDir)
	entries, err := os.ReadDir(results)
	if err != nil && !os.IsNotExist(err) {
		r.fail(fmt.Errorf("read CNI results: %w", err))
	}
	for _, e := range entries {
		id, ok := sandboxOf(e.Name(), podNetworkName)
		if !ok {
			continue
		}
		r.removeFile(filepath.Join(results, e.Name()))
		for _, lo := range entries {
			if other, ok := sandboxOf(lo.Name(), loopbackNetworkName); ok && other == id {
				r.removeFile(filepath.Join(results, lo.Name()))
			}
		}
	}
	r.removeEmpty(results, filepath.Dir(results))

	plugins := r.host(devicePluginDir)
	for _, name := range []string{"kubelet.sock", "kubelet_internal_checkpoint"} {
		r.removeFile(filepath.Join(plugins, name))
	}
	r.removeEmpty(plugins, filepath.Dir(plugins))
}

// stopPodSlices stops kubepods.slice (and the slices below it) when the kubelet ran with the
// systemd cgroup driver: systemd keeps them, empty, after the kubelet has gone.
func (r *run) stopPodSlices(ctx context.Context) {
	if _, err := os.Stat(r.host("/sys/fs/cgroup", podSlice)); err != nil {
		return
	}
	if _, err := r.sys.LookPath("systemctl"); err != nil {
		r.log.Warn("the kubelet's systemd slice is there but systemctl is not on PATH", "unit", podSlice)
		return
	}
	if r.act("stop systemd slice", "unit", podSlice) {
		if _, err := r.sys.Run(ctx, "", "systemctl", "stop", podSlice); err != nil {
			r.fail(fmt.Errorf("stop %s: %w", podSlice, err))
		}
	}
}

// sandboxOf returns the container id of a libcni result file of network, named
// <network>-<id>-<interface>.
func sandboxOf(name, network string) (string, bool) {
	rest, ok := strings.CutPrefix(name, network+"-")
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", false
	}
	return rest[:i], true
}

// host returns a host path below the test root.
func (r *run) host(elem ...string) string {
	return filepath.Join(append([]string{r.hostRoot}, elem...)...)
}

func (r *run) removeFile(path string) {
	if _, err := os.Lstat(path); err != nil {
		return
	}
	if r.act("remove", "path", path) {
		if err := r.sys.Remove(path); err != nil && !os.IsNotExist(err) {
			r.fail(fmt.Errorf("remove %s: %w", path, err))
		}
	}
}

// removeEmpty removes each dir, in order, if it exists and is empty.
func (r *run) removeEmpty(dirs ...string) {
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil || len(entries) > 0 {
			return
		}
		if r.act("remove empty dir", "path", d) {
			if err := r.sys.Remove(d); err != nil && !os.IsNotExist(err) && !errors.Is(err, syscall.ENOTEMPTY) {
				r.fail(fmt.Errorf("remove %s: %w", d, err))
			}
		}
	}
}
