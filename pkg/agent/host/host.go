// Package host reads the facts of the host that shape a node's configuration: cgroup
// version and driver, and the resolv.conf pods inherit.
package host

import (
	"bufio"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/edgek-io/edgek/pkg/fsutil"
)

// CgroupV1 reports whether the host mounts cgroup v1 controllers (v1 or hybrid): whether
// <sysRoot>/fs/cgroup is anything but the cgroup2 file system.
func CgroupV1(sysRoot string) bool { return !IsCgroup2(sysRoot + "/fs/cgroup") }

// IsCgroup2 reports whether dir is a cgroup v2 (unified) hierarchy: /sys/fs/cgroup on a v2
// host, /sys/fs/cgroup/unified on a hybrid one. It is the one test of the cgroup version, for
// the node's configuration and for check-config alike.
func IsCgroup2(dir string) bool { return isCgroup2(dir, statfsType) }

// isCgroup2 tells cgroup v2 by the file system's magic number, else by the cgroup.controllers
// file only a cgroup2 directory has: when statfs fails, and in the fake /sys of tests.
func isCgroup2(dir string, fsType func(string) (int64, error)) bool {
	if t, err := fsType(dir); err == nil && t == unix.CGROUP2_SUPER_MAGIC {
		return true
	}
	_, err := os.Stat(dir + "/cgroup.controllers")
	return err == nil
}

func statfsType(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Type), nil
}

// CgroupDriver follows the host: systemd manages cgroups only where it is PID 1 (and has
// booted the system: /run/systemd/system) and cgroups are unified; everywhere else (cgroup
// v1, OpenRC, a container whose init is not systemd) the kubelet and runc manage them
// directly. The kubelet and containerd's runc must be given the same driver.
func CgroupDriver(v1 bool) string { return cgroupDriver(v1, "/run/systemd/system", "/proc/1") }

func cgroupDriver(v1 bool, systemdDir, proc1 string) string {
	if v1 {
		return "cgroupfs"
	}
	if fi, err := os.Stat(systemdDir); err != nil || !fi.IsDir() || !initIsSystemd(proc1) {
		return "cgroupfs"
	}
	return "systemd"
}

// initIsSystemd reports whether the process whose /proc dir is proc1 is systemd: by its name
// (systemd names itself so even when started as /sbin/init), else by its executable.
func initIsSystemd(proc1 string) bool {
	if comm, err := os.ReadFile(proc1 + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "systemd" {
		return true
	}
	exe, err := os.Readlink(proc1 + "/exe")
	return err == nil && filepath.Base(exe) == "systemd"
}

// ResolvConf picks the resolv.conf pods (and CoreDNS's forwarding) inherit: the given one,
// else /etc/resolv.conf unless it only names loopback resolvers (systemd-resolved's stub,
// unusable from a pod), in which case systemd-resolved's upstream list. When the choice names
// no usable server (an air-gapped device often has none), CoreDNS would refuse to start, so a
// file with a placeholder server is written to fallback and used instead, as K3s does.
func ResolvConf(given, fallback string, log *slog.Logger) (string, error) {
	return resolvConf(given, fallback, "/etc/resolv.conf", "/run/systemd/resolve/resolv.conf", log)
}

func resolvConf(given, fallback, etc, resolved string, log *slog.Logger) (string, error) {
	path := given
	if path == "" {
		path = hostResolvConf(etc, resolved)
	}
	if path != "" {
		if servers, err := nameservers(path); err == nil && slices.ContainsFunc(servers, func(a netip.Addr) bool { return !a.IsLoopback() }) {
			return path, nil
		}
	}
	log.Warn("no usable nameserver for pods: using a placeholder resolv.conf; names outside the cluster will not resolve until --resolv-conf names a resolver", "checked", path, "written", fallback)
	if err := fsutil.WriteFileAtomic(fallback, []byte("# Written by edgek: the host's resolv.conf names no usable resolver.\nnameserver 8.8.8.8\n"), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", fallback, err)
	}
	return fallback, nil
}

// hostResolvConf is /etc/resolv.conf, or systemd-resolved's upstream list when the former only
// names its loopback stub; "" when there is neither.
func hostResolvConf(etc, resolved string) string {
	if servers, err := nameservers(etc); err == nil {
		for _, s := range servers {
			if !s.IsLoopback() {
				return etc
			}
		}
		if _, err := os.Stat(resolved); err == nil {
			return resolved
		}
		if len(servers) == 0 {
			return etc
		}
	}
	if _, err := os.Stat(resolved); err == nil {
		return resolved
	}
	return ""
}

func nameservers(path string) ([]netip.Addr, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []netip.Addr
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if ip, err := netip.ParseAddr(fields[1]); err == nil {
				out = append(out, ip)
			}
		}
	}
	return out, s.Err()
}
