package killall

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgek-io/edgek/test/testutil"
)

const edgekBin = "/usr/local/bin/edgek"

// fakeProc is a process of the fake /proc.
type fakeProc struct {
	pid, ppid int
	argv      []string
	exe       string // default edgekBin
	env       []string
	cgroup    string
	cwd       string
	netns     string // ns/net link, e.g. "net:[4026532300]"; none if empty
}

// writeProc creates <root>/<pid>/{stat,cmdline,exe,environ,cgroup,cwd}.
func writeProc(t *testing.T, root string, p fakeProc) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(p.pid))
	// A comm with a space and a parenthesis, as the kernel allows.
	stat := fmt.Sprintf("%d (x) %s) S %d %s %d 0 0\n", p.pid, filepath.Base(p.argv[0]), p.ppid,
		strings.TrimSpace(strings.Repeat("0 ", 17)), 1000+p.pid)
	testutil.WriteFiles(t, dir, map[string]string{
		"stat":    stat,
		"cmdline": strings.Join(p.argv, "\x00") + "\x00",
		"environ": strings.Join(p.env, "\x00"),
		"cgroup":  p.cgroup,
	})
	exe := p.exe
	if exe == "" {
		exe = edgekBin
	}
	if err := os.Symlink(exe, filepath.Join(dir, "exe")); err != nil {
		t.Fatal(err)
	}
	if p.netns != "" {
		if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p.netns, filepath.Join(dir, "ns", "net")); err != nil {
			t.Fatal(err)
		}
	}
	if p.cwd != "" {
		if err := os.Symlink(p.cwd, filepath.Join(dir, "cwd")); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeHost is a fake /proc, /run/netns (never edgek's), data dir and run dir, and a system recording what
// is done to it.
type fakeHost struct {
	t        *testing.T
	root     string // everything lives below
	proc     string
	netns    string
	data     string
	run      string
	log      testutil.LogRecorder
	mu       sync.Mutex
	actions  []string
	stubborn map[int]bool // ignore SIGTERM
	links    []link
	routes   []route
	programs map[string]bool
	outputs  map[string]string // program + args → output
	stdin    map[string]string // program → what it was given
}

func newFakeHost(t *testing.T) *fakeHost {
	root := t.TempDir()
	h := &fakeHost{
		t: t, root: root,
		proc:     filepath.Join(root, "proc"),
		netns:    filepath.Join(root, "run", "netns"),
		data:     filepath.Join(root, "var", "lib", "edgek"),
		run:      filepath.Join(root, "run", "edgek"),
		stubborn: map[int]bool{},
		programs: map[string]bool{},
		outputs:  map[string]string{},
		stdin:    map[string]string{},
	}
	for _, d := range []string{h.proc, h.netns, filepath.Join(h.proc, "self"), h.data, filepath.Join(h.run, "containerd")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// options returns Options for a run against the fake host, with self as the calling process.
func (h *fakeHost) options(self int, dry bool) Options {
	return Options{
		DataDir: h.data, RunDir: h.run, DryRun: dry,
		Log:      h.log.Logger(),
		procRoot: h.proc, hostRoot: h.root, netnsDir: h.netns, self: self, selfExe: edgekBin, sys: h,
		grace: 100 * time.Millisecond,
	}
}

func (h *fakeHost) record(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.actions = append(h.actions, fmt.Sprintf(format, args...))
}

// inside fails the test for a path outside the fake host.
func (h *fakeHost) inside(path string) bool {
	if !strings.HasPrefix(path, h.root+"/") {
		h.t.Errorf("action on %s, outside the fake host", path)
		return false
	}
	return true
}

func (h *fakeHost) rel(path string) string { return strings.TrimPrefix(path, h.root) }

func (h *fakeHost) Kill(pid int, sig syscall.Signal) error {
	h.record("kill %d %s", pid, sig)
	dir := filepath.Join(h.proc, strconv.Itoa(pid))
	if _, err := os.Stat(dir); err != nil {
		return syscall.ESRCH
	}
	if sig == syscall.SIGKILL || !h.stubborn[pid] {
		return os.RemoveAll(dir)
	}
	return nil
}

func (h *fakeHost) Unmount(path string) error {
	h.record("unmount %s", h.rel(path))
	file := filepath.Join(h.proc, "self", "mountinfo")
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) > 4 && unescapeMount(f[4]) == path {
			continue
		}
		keep = append(keep, line)
	}
	return os.WriteFile(file, []byte(strings.Join(keep, "\n")+"\n"), 0o644)
}

func (h *fakeHost) Remove(path string) error {
	h.record("remove %s", h.rel(path))
	if !h.inside(path) {
		return nil
	}
	return os.Remove(path)
}

func (h *fakeHost) RemoveAll(path string) error {
	h.record("removeall %s", h.rel(path))
	if !h.inside(path) {
		return nil
	}
	return os.RemoveAll(path)
}

func (h *fakeHost) Links() ([]link, error) { return slices.Clone(h.links), nil }

func (h *fakeHost) Routes() ([]route, error) { return slices.Clone(h.routes), nil }

func (h *fakeHost) DeleteRoute(r route) error {
	h.record("delroute %s", r)
	return nil
}

func (h *fakeHost) DeleteLink(name string) error {
	h.record("dellink %s", name)
	return nil
}

func (h *fakeHost) LookPath(name string) (string, error) {
	if h.programs[name] {
		return "/usr/sbin/" + name, nil
	}
	return "", fmt.Errorf("%s: not found", name)
}

func (h *fakeHost) Run(_ context.Context, stdin, name string, args ...string) (string, error) {
	cmd := strings.Join(append([]string{name}, args...), " ")
	h.record("run %s", cmd)
	if stdin != "" {
		h.mu.Lock()
		h.stdin[name] = stdin
		h.mu.Unlock()
	}
	return h.outputs[cmd], nil
}

// writeMountinfo writes the fake /proc/self/mountinfo; {data}, {run} and {netns} in it
// stand for the fake host's dirs.
func (h *fakeHost) writeMountinfo(t *testing.T, text string) {
	t.Helper()
	text = strings.NewReplacer("{data}", h.data, "{run}", h.run, "{netns}", h.netns).Replace(text)
	testutil.WriteFile(t, filepath.Join(h.proc, "self", "mountinfo"), text)
}

// sub replaces {data}, {run} and {netns} in s.
func (h *fakeHost) sub(s string) string {
	return strings.NewReplacer("{data}", h.data, "{run}", h.run, "{netns}", h.netns).Replace(s)
}

func (h *fakeHost) argv(s string) []string { return strings.Fields(h.sub(s)) }
