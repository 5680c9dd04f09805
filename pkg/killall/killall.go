// Package killall stops everything an edgek node started on this host and removes the
// runtime state it made, like K3s's k3s-killall.sh (`edgek killall`). The data dir is left
// as it is, so edgek can be started again; images, certificates and the datastore survive.
//
// In order, each step logged and each failure collected while the others go on:
//
//  1. Processes: the edgek server/agent using the data dir (its systemd unit is stopped
//     first when it runs as one, so that it is not restarted), then every container (the
//     process trees under edgek's containerd shims), the shims, and edgek's containerd.
//     SIGTERM, up to 5 s, then SIGKILL. The calling process and its ancestors are never
//     signalled. See selectEdgek and selectRuntime for how the processes are recognised.
//  2. Routes: those edgek marks with its route protocol (config.RouteProtocol: the service
//     range route of a node without a default route) and those into the pod network named
//     by <run-dir>/flannel/subnet.env (flannel's routes to other nodes, host-gw ones too).
//  3. Mounts, deepest first, lazily (MNT_DETACH): everything below <data-dir>/agent/containerd
//     and <data-dir>/agent/kubelet, and everything at or below <run-dir> (the pods' network
//     namespaces among them: edgek's containerd keeps them in its state dir, not in the
//     host-wide /run/netns, where killall removes only a cni-* namespace that one of the
//     containers it stopped ran in, as pods of older edgek versions did). Then <run-dir>/containerd,
//     <run-dir>/flannel and the run dir (when empty) are removed.
//  4. Links: the veths enslaved to cni0, then cni0, flannel.1, flannel-v6.1, flannel-wg,
//     flannel-wg-v6 and kube-ipvs0, each only when it has the type edgek gives it.
//  5. Firewall: the iptables and ip6tables rules and chains of kube-proxy, the kubelet,
//     flannel, the network policy controller and the CNI plugins (iptables-save, filter,
//     iptables-restore), then the network policy controller's ipsets, and the nftables
//     tables of kube-proxy and flannel.
//  6. Host-wide state: kubepods.slice (systemd cgroup driver), the kubelet's device-plugin
//     socket and checkpoint in /var/lib/kubelet/device-plugins, and the CNI results of
//     edgek's pod network in /var/lib/cni/results; each dir removed when left empty.
package killall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgek-io/edgek/pkg/config"
)

// Options say which edgek to stop.
type Options struct {
	// DataDir is the data dir of the edgek to stop. Default config.DefaultDataDir.
	DataDir string
	// RunDir is its runtime dir (sockets, containerd state). Default config.RunDirFor(DataDir).
	RunDir string
	// Log gets a line for each step and each action. Default: discarded.
	Log *slog.Logger
	// DryRun logs what would be done and changes nothing.
	DryRun bool

	// Test hooks; the zero values mean the real host.
	procRoot string        // procfs, default /proc
	hostRoot string        // prefix of host-wide paths (/var/lib/cni, /sys/fs/cgroup...), default /
	netnsDir string        // named network namespaces, default /run/netns
	self     int           // the calling process, default os.Getpid()
	selfExe  string        // the edgek binary, default os.Executable()
	sys      system        // what acts on the host
	grace    time.Duration // how long a process gets between SIGTERM and SIGKILL, default 5 s
}

// DefaultGrace is how long a process may take to exit after SIGTERM before it gets SIGKILL.
const DefaultGrace = 5 * time.Second

// run is one killall run: the options with defaults filled in.
type run struct {
	Options
	log  *slog.Logger
	data []string // DataDir as given (absolute) and with symlinks resolved
	rdir []string // RunDir likewise
	ns   []string // netnsDir likewise
	// podNetns are the network namespaces of the containers stopped ("net:[inode]"): pods
	// an edgek from before netns_mounts_under_state_dir made have theirs in /run/netns.
	podNetns map[string]bool
	errs     []error
}

// Run stops edgek's processes and removes its runtime state. It keeps going after a failure
// and returns all failures joined.
func Run(ctx context.Context, o Options) error {
	r, err := newRun(o)
	if err != nil {
		return err
	}
	steps := []struct {
		name string
		fn   func(context.Context)
	}{
		{"stop processes", r.stopProcesses},
		{"delete routes", r.deleteRoutes},
		{"unmount and remove runtime state", r.cleanMounts},
		{"delete network links", r.deleteLinks},
		{"remove firewall rules", r.cleanFirewall},
		{"remove the kubelet's and CNI's host-wide state", r.cleanHost},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			r.fail(fmt.Errorf("%s: %w", s.name, err))
			break
		}
		r.log.Info(s.name)
		s.fn(ctx)
	}
	return errors.Join(r.errs...)
}

func newRun(o Options) (*run, error) {
	if o.DataDir == "" {
		o.DataDir = config.DefaultDataDir
	}
	if o.RunDir == "" {
		o.RunDir = config.RunDirFor(o.DataDir)
	}
	if o.procRoot == "" {
		o.procRoot = "/proc"
	}
	if o.hostRoot == "" {
		o.hostRoot = "/"
	}
	if o.netnsDir == "" {
		o.netnsDir = "/run/netns"
	}
	if o.sys == nil {
		if o.procRoot != "/proc" || o.hostRoot != "/" {
			return nil, errors.New("killall: a fake proc root needs a fake system")
		}
		if !o.DryRun && os.Geteuid() != 0 {
			return nil, errors.New("killall must run as root")
		}
		o.sys = hostSystem{}
	}
	if o.self == 0 {
		o.self = os.Getpid()
	}
	if o.selfExe == "" {
		if exe, err := os.Executable(); err == nil {
			o.selfExe = resolve(exe)
		}
	}
	if o.grace == 0 {
		o.grace = DefaultGrace
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.DryRun {
		log = log.With("dry-run", true)
	}
	r := &run{Options: o, log: log}
	var err error
	if r.data, err = pathForms(o.DataDir); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if r.rdir, err = pathForms(o.RunDir); err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	if r.ns, err = pathForms(o.netnsDir); err != nil {
		return nil, fmt.Errorf("netns dir: %w", err)
	}
	for _, f := range r.rdir {
		if !safeRunDir(f) {
			return nil, fmt.Errorf("run dir %s: refusing to unmount everything below a system directory", o.RunDir)
		}
	}
	return r, nil
}

// safeRunDir reports whether dir may be cleaned whole: not "/", "/run", "/var/run" or a
// similar shared directory.
func safeRunDir(dir string) bool {
	shared := []string{"/var/run", "/var/lib", "/var/tmp", "/var/log", "/run/user", "/run/containerd", "/run/netns", "/run/systemd", "/usr/local", "/usr/lib"}
	return strings.Count(dir, "/") >= 2 && !slices.Contains(shared, dir)
}

func (r *run) fail(err error) {
	r.log.Error(err.Error())
	r.errs = append(r.errs, err)
}

// act logs an action ("would ..." in a dry run) and reports whether to do it.
func (r *run) act(msg string, args ...any) bool {
	if r.DryRun {
		r.log.Info("would "+msg, args...)
		return false
	}
	r.log.Info(msg, args...)
	return true
}

// pathForms returns p made absolute and, when different, with its symlinks resolved
// (mountinfo shows resolved paths; command lines show what was typed).
func pathForms(p string) ([]string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	forms := []string{abs}
	if real := resolve(abs); real != abs {
		forms = append(forms, real)
	}
	return forms, nil
}

// resolve resolves the symlinks of the longest existing prefix of p.
func resolve(p string) string {
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	dir, base := filepath.Split(filepath.Clean(p))
	if dir == "" || dir == p || filepath.Clean(dir) == p {
		return p
	}
	return filepath.Join(resolve(filepath.Clean(dir)), base)
}

// within reports whether p is one of roots or below one.
func within(p string, roots []string) bool {
	for _, root := range roots {
		if p == root || below(p, root) {
			return true
		}
	}
	return false
}

// strictlyWithin reports whether p is below one of roots (not equal).
func strictlyWithin(p string, roots []string) bool {
	for _, root := range roots {
		if below(p, root) {
			return true
		}
	}
	return false
}

func below(p, root string) bool {
	if root == "/" {
		return p != "/" && filepath.IsAbs(p)
	}
	return len(p) > len(root) && p[:len(root)] == root && p[len(root)] == '/'
}

// agentPaths returns one of config.Agent's paths (a method expression such as
// (*config.Agent).KubeletRootDir) for each form of the data dir.
func agentPaths(dataDirs []string, path func(*config.Agent) string) []string {
	out := make([]string, len(dataDirs))
	for i, d := range dataDirs {
		out[i] = path(&config.Agent{DataDir: d})
	}
	return out
}

// runDirRel returns one of config.Agent's paths below its run dir (a method expression such as
// (*config.Agent).ContainerdState) relative to the run dir: the run dir killall cleans is
// Options.RunDir, which need not be config.RunDirFor(DataDir).
func runDirRel(path func(*config.Agent) string) string {
	a := &config.Agent{DataDir: config.DefaultDataDir}
	rel, _ := filepath.Rel(a.RunDir(), path(a)) // both absolute: no error
	return rel
}

// join appends elems to every form of a path.
func join(forms []string, elems ...string) []string {
	out := make([]string, len(forms))
	for i, f := range forms {
		out[i] = filepath.Join(append([]string{f}, elems...)...)
	}
	return out
}
