package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDefaultRouteInterface(t *testing.T) {
	const header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	tests := []struct {
		name, table, want string
	}{
		{"default via gateway", header + "eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n", "eth0"},
		{"default over a port-less bridge", header + "edgek0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n" +
			"edgek0\t00FE1FAC\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", "edgek0"},
		{"no default route", header + "eth1\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "route")
			if err := os.WriteFile(p, []byte(tt.table), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := defaultRouteInterface(p)
			if err != nil || got != tt.want {
				t.Errorf("defaultRouteInterface() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRunDirFor(t *testing.T) {
	if got := RunDirFor("/var/lib/edgek/"); got != DefaultRunDir {
		t.Errorf("RunDirFor(default) = %s, want %s", got, DefaultRunDir)
	}
	a, b := RunDirFor("/srv/node-a"), RunDirFor("/srv/node-b")
	if a == b || a == DefaultRunDir || !strings.HasPrefix(a, DefaultRunDir+"-") || len(a) != len(DefaultRunDir)+9 {
		t.Errorf("RunDirFor gives %s and %s for two data dirs", a, b)
	}
	if RunDirFor("/srv/node-a") != a {
		t.Error("RunDirFor is not stable")
	}
}

func TestServingSANs(t *testing.T) {
	host, _ := os.Hostname()
	c := &Server{
		NodeSettings: NodeSettings{NodeName: "pi-1", NodeIP: netip.MustParseAddr("192.168.1.20")},
		BindAddress:  netip.MustParseAddr("192.168.1.20"),
		Network:      Network{ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16")},
		TLSSANs:      []string{"edge.example.com", "203.0.113.7"},
	}
	got := c.ServingSANs()
	for _, w := range []string{"127.0.0.1", "::1", "localhost", "pi-1", host, "192.168.1.20", "10.43.0.1", "edge.example.com", "203.0.113.7"} {
		if !slices.Contains(got, w) {
			t.Errorf("ServingSANs() = %q, lacks %q", got, w)
		}
	}
	c.BindAddress = netip.IPv4Unspecified()
	c.ServiceCIDR = netip.MustParsePrefix("fd00:43::/112")
	if got := c.ServingSANs(); slices.Contains(got, "0.0.0.0") || !slices.Contains(got, "fd00:43::1") {
		t.Errorf("ServingSANs() with a wildcard bind address and an IPv6 service range = %q", got)
	}
}

func TestKubectlDefault(t *testing.T) {
	def := filepath.Join(t.TempDir(), "edgek.yaml")
	os.WriteFile(def, []byte("apiVersion: v1\n"), 0o600)
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		args []string
		env  string
		def  string
		want string
	}{
		{[]string{"get", "nodes"}, "", def, def},
		{[]string{"get", "nodes"}, "", missing, ""},
		{[]string{"get", "nodes"}, "/home/u/.kube/config", def, ""},
		{[]string{"--kubeconfig", "/x", "get", "nodes"}, "", def, ""},
		{[]string{"get", "--kubeconfig=/x", "nodes"}, "", def, ""},
		{[]string{"exec", "p", "--", "cat", "--kubeconfig"}, "", def, def},
	}
	for _, tt := range tests {
		if got := KubectlDefault(tt.args, tt.env, tt.def); got != tt.want {
			t.Errorf("KubectlDefault(%q, env %q, %s) = %q, want %q", tt.args, tt.env, tt.def, got, tt.want)
		}
	}
}
