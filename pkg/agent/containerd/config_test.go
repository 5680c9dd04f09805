package containerd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/pkg/config"
)

// containerd refuses a shim socket dir longer than 42 characters; the run dir of any data
// dir keeps within it.
func TestShimSocketDirFits(t *testing.T) {
	for _, dir := range []string{"/var/lib/edgek", "/a/very/long/data/dir/on/an/external/disk/edgek"} {
		a := &config.Agent{DataDir: dir}
		if s := a.ContainerdState() + "/s"; len(s) > 42 {
			t.Errorf("data dir %s: shim socket dir %s is %d characters, over containerd's 42", dir, s, len(s))
		}
	}
}

func TestConfig(t *testing.T) {
	a := &config.Agent{DataDir: "/var/lib/edgek", PauseImage: "docker.io/edgek/pause:3.10"}
	got := Config(a, Host{BinDir: "/var/lib/edgek/data/abc/bin", RestrictOOMScoreAdj: true})
	for _, want := range []string{
		"version = 3",
		`root = "/var/lib/edgek/agent/containerd"`,
		`address = "/run/edgek/containerd/containerd.sock"`,
		`sandbox = "docker.io/edgek/pause:3.10"`,
		`restrict_oom_score_adj = true`,
		`bin_dirs = ["/var/lib/edgek/data/abc/bin"]`,
		`conf_dir = "/var/lib/edgek/agent/etc/cni/net.d"`,
		`BinaryName = "/var/lib/edgek/data/abc/bin/runc"`,
		`Root = "/run/edgek/containerd/runc"`,
		`socket_dir = "/run/edgek/containerd/s"`,
		`SystemdCgroup = false`,
		`config_path = "/var/lib/edgek/agent/etc/containerd/certs.d"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
}

// The kubelet's cgroupDriver and runc's SystemdCgroup come from one host fact (agent.go).
func TestConfigSystemdCgroup(t *testing.T) {
	a := &config.Agent{DataDir: "/var/lib/edgek"}
	for _, systemd := range []bool{true, false} {
		got := Config(a, Host{BinDir: "/bin", SystemdCgroup: systemd})
		want := fmt.Sprintf("SystemdCgroup = %t", systemd)
		if !strings.Contains(got, want) || strings.Count(got, "SystemdCgroup") != 1 {
			t.Errorf("config lacks %q (once):\n%s", want, got)
		}
	}
}

func TestLacksCapSysResource(t *testing.T) {
	tests := []struct {
		capEff string
		want   bool
	}{
		{"000001ffffffffff", false},
		{"000001fffeffffff", true}, // seen on the CI VM: CAP_SYS_RESOURCE (bit 24) dropped
		{"0000000000000000", true},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "status")
		os.WriteFile(p, []byte("Name:\tedgek\nCapPrm:\t000001ffffffffff\nCapEff:\t"+tt.capEff+"\n"), 0o644)
		if got := LacksCapSysResource(p); got != tt.want {
			t.Errorf("CapEff %s: got %v, want %v", tt.capEff, got, tt.want)
		}
	}
}
