package killall

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/edgek-io/edgek/pkg/config"
)

// mount is one line of /proc/self/mountinfo.
type mount struct {
	point  string // mount point, unescaped
	root   string // root of the mount within its filesystem, unescaped
	fstype string
}

// selfBind reports whether the mount is a directory bind-mounted onto itself, as the
// kubelet does with its root dir (to make it a shared mount).
func (m mount) selfBind() bool { return m.root == m.point && m.root != "/" }

// parseMountinfo reads mountinfo: "id parent maj:min root point options [optional...] - fstype source super".
func parseMountinfo(r io.Reader) ([]mount, error) {
	var ms []mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		m := mount{point: unescapeMount(f[4]), root: unescapeMount(f[3])}
		if i := slices.Index(f, "-"); i > 0 && i+1 < len(f) {
			m.fstype = f[i+1]
		}
		ms = append(ms, m)
	}
	return ms, sc.Err()
}

// unescapeMount undoes the kernel's octal escapes (\040 space, \011 tab, \012 newline, \134 \).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// selectMounts returns the mount points to unmount, deepest first (a mount point mounted on
// twice appears twice, the later mount first):
//   - below <data-dir>/agent/containerd and <data-dir>/agent/kubelet (those dirs themselves
//     only when bind-mounted onto themselves, as the kubelet does: otherwise they may be a
//     disk the user mounted);
//   - <run-dir> and everything below it (pod network namespaces included);
//   - /run/netns/cni-* network namespaces that a container killall stopped ran in.
func (r *run) selectMounts(ms []mount) []string {
	below := append(agentPaths(r.data, (*config.Agent).ContainerdRoot), agentPaths(r.data, (*config.Agent).KubeletRootDir)...)
	var out []string
	for i := len(ms) - 1; i >= 0; i-- { // later mounts sit on top of earlier ones
		p := ms[i].point
		if strictlyWithin(p, below) || within(p, r.rdir) || r.isPodNetns(ms[i]) ||
			(ms[i].selfBind() && slices.Contains(below, p)) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int {
		return strings.Count(b, "/") - strings.Count(a, "/")
	})
	return out
}

func (r *run) readMounts() ([]mount, error) {
	f, err := os.Open(filepath.Join(r.procRoot, "self", "mountinfo"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountinfo(f)
}

// isPodNetns reports whether m is a pod network namespace in /run/netns that one of the
// stopped containers ran in.
func (r *run) isPodNetns(m mount) bool {
	return m.fstype == "nsfs" && r.podNetns[m.root] && slices.Contains(r.ns, filepath.Dir(m.point)) &&
		strings.HasPrefix(filepath.Base(m.point), "cni-")
}

// cleanMounts unmounts edgek's mounts, then removes <run-dir>/containerd and <run-dir>/flannel.
func (r *run) cleanMounts(ctx context.Context) {
	ms, err := r.readMounts()
	if err != nil {
		r.fail(fmt.Errorf("read mounts: %w", err))
		return
	}
	points := r.selectMounts(ms)
	for _, p := range points {
		if r.act("unmount", "path", p) {
			if err := r.sys.Unmount(p); err != nil {
				r.fail(fmt.Errorf("unmount %s: %w", p, err))
			}
		}
	}
	if len(points) == 0 {
		r.log.Info("no edgek mounts")
	}
	for _, m := range ms {
		if r.isPodNetns(m) && r.act("remove network namespace", "path", m.point) {
			if err := r.sys.Remove(m.point); err != nil && !os.IsNotExist(err) {
				r.fail(fmt.Errorf("remove %s: %w", m.point, err))
			}
		}
	}
	if ctx.Err() != nil {
		return
	}

	r.removeTree(filepath.Join(r.RunDir, runDirRel((*config.Agent).ContainerdState)))
	// flannel's dir: subnet.env and net-conf.json.
	r.removeTree(filepath.Join(r.RunDir, filepath.Dir(runDirRel((*config.Agent).FlannelSubnetFile))))
	// host-local IPAM's reservations.
	r.removeTree(filepath.Join(r.RunDir, runDirRel((*config.Agent).CNIRunDir)))
	// The run dir itself, if nothing else is left in it (edgek creates nothing else there).
	if !r.DryRun {
		if err := r.sys.Remove(r.RunDir); err != nil && !os.IsNotExist(err) && !errors.Is(err, syscall.ENOTEMPTY) {
			r.fail(fmt.Errorf("remove %s: %w", r.RunDir, err))
		}
	}
}

// removeTree removes dir unless something is still mounted in it: removing through a mount
// would delete a container's files or a volume.
func (r *run) removeTree(dir string) {
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return
	}
	if !r.DryRun {
		forms, err := pathForms(dir)
		if err != nil {
			r.fail(err)
			return
		}
		ms, err := r.readMounts()
		if err != nil {
			r.fail(fmt.Errorf("read mounts: %w", err))
			return
		}
		for _, m := range ms {
			if within(m.point, forms) {
				r.fail(fmt.Errorf("not removing %s: %s is still mounted", dir, m.point))
				return
			}
		}
	}
	if r.act("remove", "path", dir) {
		if err := r.sys.RemoveAll(dir); err != nil {
			r.fail(fmt.Errorf("remove %s: %w", dir, err))
		}
	}
}
