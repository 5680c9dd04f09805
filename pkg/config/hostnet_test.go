package config

import (
	"os"
	"path/filepath"
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
