package host

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

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
				given = write(t, dir, "given.conf", tt.given)
				paths["given"] = given
			}
			paths["etc"], paths["resolved"] = filepath.Join(dir, "etc.conf"), filepath.Join(dir, "resolved.conf")
			if tt.etc != "-" {
				write(t, dir, "etc.conf", tt.etc)
			}
			if tt.resolved != "-" {
				write(t, dir, "resolved.conf", tt.resolved)
			}
			got, err := resolvConf(given, paths["fallback"], paths["etc"], paths["resolved"], slog.New(slog.NewTextHandler(io.Discard, nil)))
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

func TestCgroups(t *testing.T) {
	sys := t.TempDir()
	if err := os.MkdirAll(filepath.Join(sys, "fs", "cgroup"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !CgroupV1(sys) {
		t.Error("no cgroup.controllers at the root: want cgroup v1 (or hybrid)")
	}
	write(t, filepath.Join(sys, "fs", "cgroup"), "cgroup.controllers", "cpu memory pids\n")
	if CgroupV1(sys) {
		t.Error("cgroup.controllers at the root: want cgroup v2")
	}
	systemd := t.TempDir()
	absent := filepath.Join(systemd, "absent")
	for _, tt := range []struct {
		v1         bool
		systemdDir string
		want       string
	}{
		{false, systemd, "systemd"},
		{true, systemd, "cgroupfs"},
		{false, absent, "cgroupfs"},
		{true, absent, "cgroupfs"},
	} {
		if got := cgroupDriver(tt.v1, tt.systemdDir); got != tt.want {
			t.Errorf("cgroupDriver(v1=%t, systemd init=%t) = %s, want %s", tt.v1, tt.systemdDir == systemd, got, tt.want)
		}
	}
}
