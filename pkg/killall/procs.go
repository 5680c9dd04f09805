package killall

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/edgek-io/edgek/pkg/config"
)

// proc is one process as /proc shows it.
type proc struct {
	pid, ppid int
	state     byte   // R, S, D, Z...
	start     uint64 // start time in clock ticks after boot: tells a reused pid apart
	argv      []string
	exe       string // /proc/PID/exe without " (deleted)"; "" when unreadable
	cwd       string // /proc/PID/cwd; "" when unreadable
}

func (p proc) String() string {
	cmd := strings.Join(p.argv, " ")
	if len(cmd) > 120 {
		cmd = cmd[:117] + "..."
	}
	return strconv.Itoa(p.pid) + " " + cmd
}

// procTable is a snapshot of the processes under a proc root.
type procTable struct {
	root  string
	procs map[int]proc
}

func readProcTable(root string) (*procTable, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	t := &procTable{root: root, procs: map[int]proc{}}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		if p, ok := readProc(root, pid); ok {
			t.procs[pid] = p
		}
	}
	return t, nil
}

// readProc reads one process; false when it is gone or is a kernel thread.
func readProc(root string, pid int) (proc, bool) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	p, ok := readStat(dir)
	if !ok {
		return proc{}, false
	}
	p.pid = pid
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil || len(cmdline) == 0 {
		return proc{}, false // gone, or a kernel thread / zombie
	}
	p.argv = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		p.exe = strings.TrimSuffix(exe, " (deleted)")
	}
	if cwd, err := os.Readlink(filepath.Join(dir, "cwd")); err == nil {
		p.cwd = cwd
	}
	return p, true
}

// readStat parses /proc/PID/stat: "pid (comm) state ppid ... starttime(22) ...".
func readStat(dir string) (proc, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return proc{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return proc{}, false
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 20 || len(f[0]) != 1 {
		return proc{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return proc{}, false
	}
	return proc{ppid: ppid, state: f[0][0], start: start}, true
}

// alive reports whether p still runs: its pid exists, is not a zombie and is the same process.
func alive(root string, p proc) bool {
	q, ok := readStat(filepath.Join(root, strconv.Itoa(p.pid)))
	return ok && q.state != 'Z' && q.start == p.start
}

// protected returns the pids that must never be signalled: pid 1, self and its ancestors.
func (t *procTable) protected(self int) map[int]bool {
	keep := map[int]bool{1: true, self: true}
	for pid := self; ; {
		p, ok := t.procs[pid]
		if !ok || p.ppid <= 1 || keep[p.ppid] {
			break
		}
		keep[p.ppid] = true
		pid = p.ppid
	}
	return keep
}

// descendants returns every process below pid, deepest first.
func (t *procTable) descendants(pid int) []proc {
	children := map[int][]int{}
	for _, p := range t.procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []proc
	var walk func(int)
	walk = func(pid int) {
		kids := children[pid]
		slices.Sort(kids)
		for _, k := range kids {
			walk(k)
			out = append(out, t.procs[k])
		}
	}
	walk(pid)
	return out
}

// sorted returns the processes by pid.
func (t *procTable) sorted() []proc {
	out := make([]proc, 0, len(t.procs))
	for _, p := range t.procs {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b proc) int { return a.pid - b.pid })
	return out
}

// flagValue returns the value of a Go- or urfave-style flag: -name v, --name v, -name=v,
// --name=v. Arguments after "--" are not flags.
func flagValue(args []string, names ...string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !slices.Contains(names, name) {
			continue
		}
		if hasValue {
			return value, true
		}
		if i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && n == name {
			return true
		}
	}
	return false
}

// absFor makes a path from p's command line absolute, against p's working directory.
func absFor(p proc, path string) string {
	if filepath.IsAbs(path) || p.cwd == "" {
		return filepath.Clean(path)
	}
	return filepath.Join(p.cwd, path)
}

// runtime is what belongs to edgek's container runtime.
type runtime struct {
	containers []proc // processes below the shims (the containers), deepest first
	shims      []proc
	containerd []proc
}

// selectRuntime finds edgek's containerd and shims in t.
//
//   - A shim is a process whose command line has -namespace, -id and -address
//     <run-dir>/containerd/containerd.sock, whatever its binary (containerd starts shims by
//     re-executing edgek with bare shim flags).
//   - containerd is a process that is not a shim, whose argv[0] ends in "containerd" (or
//     whose first argument is "containerd"), and whose --config/-c is under
//     <data-dir>/agent/etc/containerd or whose --address/-a is that socket.
//   - The containers are every descendant of a shim.
//
// Processes in protected (the caller and its ancestors) are left out.
func (r *run) selectRuntime(t *procTable, protected map[int]bool) runtime {
	sockets := join(r.rdir, runDirRel((*config.Agent).ContainerdSocket))
	confDirs := agentPaths(r.data, func(a *config.Agent) string { return filepath.Dir(a.ContainerdConfigFile()) })
	var rt runtime
	var shims []proc
	seen := map[int]bool{}
	for _, p := range t.sorted() {
		args := p.argv[1:]
		addr, hasAddr := flagValue(args, "address", "a")
		switch {
		case hasAddr && hasFlag(args, "id") && hasFlag(args, "namespace") && slices.Contains(sockets, absFor(p, addr)):
			shims = append(shims, p)
			seen[p.pid] = true
		case isContainerd(p.argv) && r.ownsContainerd(p, sockets, confDirs) && !protected[p.pid]:
			rt.containerd = append(rt.containerd, p)
		}
	}
	// A protected shim (killall runs inside one of its containers) still has its other
	// processes stopped; only the caller's ancestors stay.
	for _, s := range shims {
		if !protected[s.pid] {
			rt.shims = append(rt.shims, s)
		}
		for _, c := range t.descendants(s.pid) {
			if !protected[c.pid] && !seen[c.pid] {
				seen[c.pid] = true
				rt.containers = append(rt.containers, c)
			}
		}
	}
	return rt
}

func isContainerd(argv []string) bool {
	return strings.HasSuffix(filepath.Base(argv[0]), "containerd") ||
		len(argv) > 1 && argv[1] == "containerd"
}

func (r *run) ownsContainerd(p proc, sockets, confDirs []string) bool {
	args := p.argv[1:]
	if cfg, ok := flagValue(args, "config", "c"); ok && strictlyWithin(absFor(p, cfg), confDirs) {
		return true
	}
	addr, ok := flagValue(args, "address", "a")
	return ok && slices.Contains(sockets, absFor(p, addr))
}

// selectEdgek finds the edgek servers and agents that use the data dir: processes running
// the edgek binary (their /proc/PID/exe is this binary or is named "edgek", or their argv[0]
// is named "edgek") whose first argument that is not a flag is "server" or "agent", and
// whose data dir is this one. Their data dir is --data-dir from the command line, else
// EDGEK_DATA_DIR from their environment, else the default (a data dir set only in a config
// file is not seen). An edgek that is the parent of the selected containerd is selected too.
func (r *run) selectEdgek(t *procTable, protected map[int]bool, containerd []proc) []proc {
	parents := map[int]bool{}
	for _, c := range containerd {
		parents[c.ppid] = true
	}
	var out []proc
	for _, p := range t.sorted() {
		if protected[p.pid] || !r.isEdgekBinary(p) {
			continue
		}
		if parents[p.pid] || isNodeCommand(p.argv) && slices.Contains(r.data, r.dataDirOf(p)) {
			out = append(out, p)
		}
	}
	return out
}

func (r *run) isEdgekBinary(p proc) bool {
	return p.exe != "" && (p.exe == r.selfExe || filepath.Base(p.exe) == "edgek") ||
		filepath.Base(p.argv[0]) == "edgek"
}

func isNodeCommand(argv []string) bool {
	for _, a := range argv[1:] {
		if !strings.HasPrefix(a, "-") {
			return a == "server" || a == "agent"
		}
	}
	return false
}

// dataDirOf returns the data dir an edgek process uses, resolved like r.data.
func (r *run) dataDirOf(p proc) string {
	dir, ok := flagValue(p.argv[1:], "data-dir")
	if !ok {
		dir, ok = environ(r.procRoot, p.pid, "EDGEK_DATA_DIR")
	}
	if !ok || dir == "" {
		dir = config.DefaultDataDir
	}
	dir = absFor(p, dir)
	if slices.Contains(r.data, dir) {
		return dir
	}
	return resolve(dir)
}

// environ returns a variable of a process's environment.
func environ(root string, pid int, key string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "environ"))
	if err != nil {
		return "", false
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// systemdUnit returns the edgek system service a process runs in ("edgek.service"), from
// /proc/PID/cgroup; "" when it runs in none. Only units directly in system.slice whose
// name starts with "edgek" count, so a user session is never taken for a service.
func systemdUnit(root string, pid int) string {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		// "0::/system.slice/edgek.service" (v2) or "1:name=systemd:/system.slice/edgek.service" (v1)
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !(parts[0] == "0" && parts[1] == "" || parts[1] == "name=systemd") {
			continue
		}
		elems := strings.Split(strings.TrimPrefix(parts[2], "/"), "/")
		if len(elems) >= 2 && elems[0] == "system.slice" &&
			strings.HasPrefix(elems[1], "edgek") && strings.HasSuffix(elems[1], ".service") {
			return elems[1]
		}
	}
	return ""
}
