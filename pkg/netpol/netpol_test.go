package netpol

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/pkg/killall"
	"github.com/edgek-io/edgek/test/testutil"
)

// A filter table as kube-router, kube-proxy, flannel and the site leave it.
const filterDump = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:FLANNEL-FWD - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NWPLCY-DEFAULT - [0:0]
:KUBE-NWPLCY-LC2JZ2QMS7GEKKAB - [0:0]
:KUBE-POD-FW-3BAXMFOMK4XJG2FC - [0:0]
:KUBE-ROUTER-FORWARD - [0:0]
:KUBE-ROUTER-INPUT - [0:0]
:KUBE-ROUTER-OUTPUT - [0:0]
:SITE - [0:0]
-A INPUT -m comment --comment "kube-router netpol - 4IA2OSFRMVNDXBVV" -j KUBE-ROUTER-INPUT
-A INPUT -j SITE
-A FORWARD -m comment --comment "kube-router netpol - TEMCG2JMHZYE7H7T" -j KUBE-ROUTER-FORWARD
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
-A OUTPUT -m comment --comment "kube-router netpol - VEAAIY32XVBHCSCY" -j KUBE-ROUTER-OUTPUT
-A KUBE-NWPLCY-LC2JZ2QMS7GEKKAB -m set --match-set KUBE-SRC-NQSLZM5PDZ5XKNAV src -m set --match-set KUBE-DST-VBH27M7NWLDOZIE4 dst -j MARK --set-xmark 0x10000/0x10000
-A KUBE-POD-FW-3BAXMFOMK4XJG2FC -j KUBE-NWPLCY-DEFAULT
-A KUBE-ROUTER-FORWARD -d 10.42.1.5/32 -j KUBE-POD-FW-3BAXMFOMK4XJG2FC
-A SITE -s 192.0.2.0/24 -j DROP
COMMIT
`

func TestCleanupFilter(t *testing.T) {
	input, removed := killall.FilterSave(filterDump, owned)
	if len(removed) != 12 {
		t.Errorf("removed %d lines, want 12:\n%s", len(removed), strings.Join(removed, "\n"))
	}
	for _, keep := range []string{":FLANNEL-FWD", ":KUBE-FORWARD", ":SITE", "-A INPUT -j SITE", "kubernetes forwarding rules", "flanneld forward", "-A SITE -s 192.0.2.0/24 -j DROP"} {
		if !strings.Contains(input, keep) {
			t.Errorf("restore input lost %q:\n%s", keep, input)
		}
	}
	for _, gone := range []string{"KUBE-ROUTER", "KUBE-NWPLCY", "KUBE-POD-FW", "KUBE-SRC", "kube-router netpol"} {
		if strings.Contains(input, gone) {
			t.Errorf("restore input still has %q:\n%s", gone, input)
		}
	}
	if !strings.HasPrefix(input, "*filter\n") || !strings.HasSuffix(input, "COMMIT\n") {
		t.Errorf("restore input is not one table:\n%s", input)
	}
}

func TestOwned(t *testing.T) {
	for name, want := range map[string]bool{
		"KUBE-ROUTER-INPUT": true, "KUBE-SRC-NQSLZM5PDZ5XKNAV": true, "KUBE-DST-X": true, "KUBE-POD-FW-X": true, "KUBE-NWPLCY-DEFAULT": true,
		"KUBE-FORWARD": false, "KUBE-SERVICES": false, "FLANNEL-FWD": false, "site-blocklist": false,
	} {
		if owned(name) != want {
			t.Errorf("owned(%q) = %v", name, !want)
		}
	}
}

// Without the marker (edgek's controller never ran on this node) nothing is touched: the
// chains may be another kube-router's.
func TestCleanupWithoutMarker(t *testing.T) {
	t.Setenv("PATH", "") // iptables-save would fail if it were run
	if err := Cleanup(t.Context(), filepath.Join(t.TempDir(), "network-policy.enabled"), testutil.DiscardLogger()); err != nil {
		t.Errorf("Cleanup without marker: %v", err)
	}
}
