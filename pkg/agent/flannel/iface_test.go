package flannel

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func testIfaces() []ifaceInfo {
	pfx := netip.MustParsePrefix
	return []ifaceInfo{
		{iface: net.Interface{Index: 1, Name: "lo", MTU: 65536}, addrs: []netip.Prefix{pfx("127.0.0.1/8"), pfx("::1/128")}},
		// The test networks' only link: a bridge with no ports and no default route.
		{iface: net.Interface{Index: 7, Name: "edgek0", MTU: 1500}, addrs: []netip.Prefix{pfx("fe80::1/64"), pfx("10.99.0.2/24")}},
		{iface: net.Interface{Index: 9, Name: "wlan0", MTU: 1400}, addrs: []netip.Prefix{pfx("192.168.1.5/24"), pfx("192.168.1.6/24")}},
		{iface: net.Interface{Index: 11, Name: "v6only", MTU: 1500}, addrs: []netip.Prefix{pfx("fd00::5/64")}},
		{iface: net.Interface{Index: 12, Name: "nomtu", MTU: 0}, addrs: []netip.Prefix{pfx("10.5.0.1/24")}},
	}
}

func TestChooseExtIface(t *testing.T) {
	for _, tc := range []struct {
		name, iface, nodeIP string
		wantName, wantAddr  string
		wantIndex, wantMTU  int
		wantErr             string
	}{
		{name: "by node IP, port-less bridge", nodeIP: "10.99.0.2", wantName: "edgek0", wantAddr: "10.99.0.2", wantIndex: 7, wantMTU: 1500},
		{name: "by name", iface: "edgek0", nodeIP: "10.99.0.2", wantName: "edgek0", wantAddr: "10.99.0.2", wantIndex: 7, wantMTU: 1500},
		{name: "second address of an interface", nodeIP: "192.168.1.6", wantName: "wlan0", wantAddr: "192.168.1.6", wantIndex: 9, wantMTU: 1400},
		{name: "named interface without the node IP (public IP)", iface: "wlan0", nodeIP: "203.0.113.9",
			wantName: "wlan0", wantAddr: "192.168.1.5", wantIndex: 9, wantMTU: 1400},
		{name: "mapped IPv4", nodeIP: "::ffff:10.99.0.2", wantName: "edgek0", wantAddr: "10.99.0.2", wantIndex: 7, wantMTU: 1500},
		{name: "unknown name", iface: "eth0", nodeIP: "10.99.0.2", wantErr: `no interface named "eth0"`},
		{name: "nobody holds node IP", nodeIP: "10.1.1.1", wantErr: "no interface holds the node IP 10.1.1.1"},
		{name: "named interface without IPv4", iface: "v6only", nodeIP: "10.99.0.2", wantErr: "v6only: no usable IPv4 address"},
		{name: "IPv6 node IP", nodeIP: "fd00::5", wantErr: "not an IPv4 address"},
		{name: "no node IP", nodeIP: "", wantErr: "not an IPv4 address"},
		{name: "loopback node IP", nodeIP: "127.0.0.1", wantErr: "cannot be reached"},
		{name: "no MTU", nodeIP: "10.5.0.1", wantErr: "has no MTU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var nodeIP netip.Addr
			if tc.nodeIP != "" {
				nodeIP = netip.MustParseAddr(tc.nodeIP)
			}
			ext, err := chooseExtIface(testIfaces(), tc.iface, nodeIP)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ext.IfaceName != tc.wantName || ext.Iface.Name != tc.wantName || ext.Iface.Index != tc.wantIndex || ext.Iface.MTU != tc.wantMTU {
				t.Errorf("iface = %s %+v, want %s index %d mtu %d", ext.IfaceName, ext.Iface, tc.wantName, tc.wantIndex, tc.wantMTU)
			}
			if ext.IfaceAddr.String() != tc.wantAddr || ext.IfaceAddr.To4() == nil {
				t.Errorf("IfaceAddr = %v, want %s", ext.IfaceAddr, tc.wantAddr)
			}
			if want := nodeIP.Unmap().String(); ext.ExtAddr.String() != want {
				t.Errorf("ExtAddr = %v, want the node IP %s", ext.ExtAddr, want)
			}
			if ext.IfaceV6Addr != nil || ext.ExtV6Addr != nil {
				t.Errorf("IPv6 addresses set: %v %v", ext.IfaceV6Addr, ext.ExtV6Addr)
			}
		})
	}
}

// TestLookupExtIfaceLive runs the live lookup against this machine's interfaces.
func TestLookupExtIfaceLive(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.To4() == nil || n.IP.IsLoopback() {
				continue
			}
			nodeIP, _ := netip.AddrFromSlice(n.IP.To4())
			ext, err := lookupExtIface("", nodeIP)
			if err != nil {
				t.Fatal(err)
			}
			if ext.IfaceName != i.Name || ext.Iface.Index != i.Index {
				t.Errorf("lookup %s = %s, want %s", nodeIP, ext.IfaceName, i.Name)
			}
			return
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine")
}
