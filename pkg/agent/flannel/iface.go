package flannel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/flannel-io/flannel/pkg/backend"
)

// ifaceInfo is one network interface and its addresses.
type ifaceInfo struct {
	iface net.Interface
	addrs []netip.Prefix
}

// lookupExtIface finds the interface flannel sends its traffic through: the one named
// name, or else the one holding nodeIP. Unlike flanneld's default it never looks at the
// default route, so a node whose only interface is a port-less bridge, with no default
// route, works as long as the bridge is named or holds the node IP.
func lookupExtIface(name string, nodeIP netip.Addr) (*backend.ExternalInterface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	infos := make([]ifaceInfo, 0, len(ifs))
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			return nil, fmt.Errorf("list addresses of %s: %w", i.Name, err)
		}
		info := ifaceInfo{iface: i}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			addr, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ones, _ := n.Mask.Size()
			info.addrs = append(info.addrs, netip.PrefixFrom(addr.Unmap(), ones))
		}
		infos = append(infos, info)
	}
	return chooseExtIface(infos, name, nodeIP)
}

// chooseExtIface picks flannel's external interface among ifaces, as flanneld does with
// --iface=<name or IP> --public-ip=<nodeIP>:
//   - name set: that interface. Its address is nodeIP if it holds it, else its first
//     usable IPv4 address (nodeIP is then announced as a public address, a NAT setup that
//     host-gw refuses).
//   - name empty: the interface holding nodeIP.
//
// The announced (external) address is always nodeIP.
func chooseExtIface(ifaces []ifaceInfo, name string, nodeIP netip.Addr) (*backend.ExternalInterface, error) {
	nodeIP = nodeIP.Unmap()
	if !nodeIP.Is4() {
		return nil, fmt.Errorf("node IP %v is not an IPv4 address (edgek's flannel is IPv4 only)", nodeIP)
	}
	if nodeIP.IsLoopback() || nodeIP.IsUnspecified() {
		return nil, fmt.Errorf("node IP %s cannot be reached by other nodes", nodeIP)
	}
	var chosen *ifaceInfo
	for i := range ifaces {
		if (name != "" && ifaces[i].iface.Name == name) || (name == "" && holds(ifaces[i], nodeIP)) {
			chosen = &ifaces[i]
			break
		}
	}
	if chosen == nil {
		if name != "" {
			return nil, fmt.Errorf("no interface named %q (have %s)", name, describe(ifaces))
		}
		return nil, fmt.Errorf("no interface holds the node IP %s (have %s); set the flannel interface", nodeIP, describe(ifaces))
	}
	ifaceAddr := nodeIP
	if !holds(*chosen, nodeIP) {
		a, err := firstUsableIPv4(chosen.addrs)
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", chosen.iface.Name, err)
		}
		ifaceAddr = a
	}
	if chosen.iface.MTU <= 0 {
		return nil, fmt.Errorf("interface %s has no MTU", chosen.iface.Name)
	}
	iface := chosen.iface
	return &backend.ExternalInterface{
		Iface:     &iface,
		IfaceName: iface.Name,
		IfaceAddr: net.IP(ifaceAddr.AsSlice()),
		ExtAddr:   net.IP(nodeIP.AsSlice()),
	}, nil
}

func holds(i ifaceInfo, a netip.Addr) bool {
	for _, p := range i.addrs {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// firstUsableIPv4 applies flannel's filter: IPv4, global or link-local unicast.
func firstUsableIPv4(addrs []netip.Prefix) (netip.Addr, error) {
	for _, p := range addrs {
		a := p.Addr()
		if a.Is4() && (a.IsGlobalUnicast() || a.IsLinkLocalUnicast()) {
			return a, nil
		}
	}
	return netip.Addr{}, errors.New("no usable IPv4 address")
}

func describe(ifaces []ifaceInfo) string {
	parts := make([]string, 0, len(ifaces))
	for _, i := range ifaces {
		parts = append(parts, fmt.Sprintf("%s%v", i.iface.Name, i.addrs))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
