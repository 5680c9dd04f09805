package host

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/edgek-io/edgek/test/testutil"
)

func TestResolvConf(t *testing.T) {
	const (
		upstream = "nameserver 192.168.1.1\n"
		stub     = "nameserver 127.0.0.53\noptions edns0\n"
	)
	tests := []struct {
		name          string
		given         string // content; "" for none given
		etc, resolved string // content; "-" for absent
		want          string // "given", "etc", "resolved" or "fallback"
	}{
		{"given file with a server", upstream, stub, "-", "given"},
		{"given file with only loopback", stub, upstream, "-", "fallback"},
		{"etc with a server", "", upstream, upstream, "etc"},
		{"systemd-resolved stub", "", stub, upstream, "resolved"},
		{"stub without resolved's list", "", stub, "-", "fallback"},
		{"no etc, resolved present", "", "-", upstream, "resolved"},
		{"empty etc (air-gapped)", "", "", "-", "fallback"},
		{"nothing at all", "", "-", "-", "fallback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			paths := map[string]string{"fallback": filepath.Join(dir, "fallback.conf")}
			given := ""
			if tt.given != "" {
				given = testutil.WriteFile(t, filepath.Join(dir, "given.conf"), tt.given)
				paths["given"] = given
			}
			paths["etc"], paths["resolved"] = filepath.Join(dir, "etc.conf"), filepath.Join(dir, "resolved.conf")
			if tt.etc != "-" {
				testutil.WriteFile(t, filepath.Join(dir, "etc.conf"), tt.etc)
			}
			if tt.resolved != "-" {
				testutil.WriteFile(t, filepath.Join(dir, "resolved.conf"), tt.resolved)
			}
			got, err := resolvConf(given, paths["fallback"], paths["etc"], paths["resolved"], testutil.DiscardLogger())
			if err != nil {
				t.Fatal(err)
			}
			if got != paths[tt.want] {
				t.Errorf("resolvConf = %s, want the %s file %s", got, tt.want, paths[tt.want])
			}
			if tt.want == "fallback" {
				data, _ := os.ReadFile(got)
				if !strings.Contains(string(data), "nameserver 8.8.8.8") {
					t.Errorf("fallback file lacks the placeholder server:\n%s", data)
				}
			}
		})
	}
}

func TestCgroupV2ByMagic(t *testing.T) {
	dir := t.TempDir()
	fsType := func(magic int64, err error) func(string) (int64, error) {
		return func(string) (int64, error) { return magic, err }
	}
	const tmpfs = 0x01021994
	if !isCgroup2(dir, fsType(unix.CGROUP2_SUPER_MAGIC, nil)) {
		t.Error("cgroup2 magic: want v2")
	}
	if isCgroup2(dir, fsType(tmpfs, nil)) {
		t.Error("tmpfs at /sys/fs/cgroup (v1 or hybrid): want not v2")
	}
	failed := fsType(0, errors.New("statfs failed"))
	if isCgroup2(dir, failed) {
		t.Error("statfs failed, no cgroup.controllers: want not v2")
	}
	testutil.WriteFile(t, filepath.Join(dir, "cgroup.controllers"), "cpu memory pids\n")
	if !isCgroup2(dir, failed) {
		t.Error("statfs failed, cgroup.controllers present: want v2")
	}
	if !isCgroup2(dir, fsType(tmpfs, nil)) {
		t.Error("cgroup.controllers in a plain directory (check-config's fake /sys): want v2")
	}
	// This machine: whatever it is, the magic and the file must agree.
	if got, byFile := CgroupV1("/sys"), !isCgroup2("/sys/fs/cgroup", failed); got != byFile {
		t.Errorf("CgroupV1(/sys) = %t by magic, %t by cgroup.controllers", got, byFile)
	}
}

func TestCgroupDriver(t *testing.T) {
	dir := t.TempDir()
	systemd, absent := filepath.Join(dir, "run-systemd-system"), filepath.Join(dir, "absent")
	if err := os.Mkdir(systemd, 0o755); err != nil {
		t.Fatal(err)
	}
	notDir := testutil.WriteFile(t, filepath.Join(dir, "file"), "")
	// proc1 returns a fake /proc/1 with that comm ("" for none) and exe link ("" for none).
	proc1 := func(comm, exe string) string {
		p, err := os.MkdirTemp(dir, "proc1-")
		if err != nil {
			t.Fatal(err)
		}
		if comm != "" {
			testutil.WriteFile(t, filepath.Join(p, "comm"), comm+"\n")
		}
		if exe != "" {
			if err := os.Symlink(exe, filepath.Join(p, "exe")); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	systemdInit := proc1("systemd", "/usr/lib/systemd/systemd")
	tests := []struct {
		name       string
		v1         bool
		systemdDir string
		proc1      string
		want       string
	}{
		{"cgroup v2, systemd is PID 1", false, systemd, systemdInit, "systemd"},
		{"cgroup v2, systemd started as /sbin/init, unreadable comm", false, systemd, proc1("", "/lib/systemd/systemd"), "systemd"},
		{"cgroup v1 with systemd", true, systemd, systemdInit, "cgroupfs"},
		{"cgroup v2, OpenRC", false, absent, proc1("init", "/sbin/openrc-init"), "cgroupfs"},
		{"cgroup v2, container sharing the host's /run", false, systemd, proc1("edgek", "/bin/edgek"), "cgroupfs"},
		{"cgroup v2, /run/systemd/system not a dir", false, notDir, systemdInit, "cgroupfs"},
		{"cgroup v2, unreadable /proc/1", false, systemd, proc1("", ""), "cgroupfs"},
		{"cgroup v1, no systemd", true, absent, proc1("init", "/sbin/init"), "cgroupfs"},
	}
	for _, tt := range tests {
		if got := cgroupDriver(tt.v1, tt.systemdDir, tt.proc1); got != tt.want {
			t.Errorf("%s: cgroupDriver = %s, want %s", tt.name, got, tt.want)
		}
	}
}
