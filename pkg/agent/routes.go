package agent

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/edgek-io/edgek/pkg/config"
)

// ensureServiceRoute gives locally originated traffic to ClusterIPs a route on a host that
// has no default route (an isolated edge network): the kernel picks a route before
// kube-proxy's DNAT, so without one every connection from the node to a Service fails with
// "network is unreachable" (k3s#1103). The route goes out through the node's interface, as a
// default route would. Hosts with a default route are left alone.
func ensureServiceRoute(serviceCIDR netip.Prefix, nodeIP netip.Addr, log *slog.Logger) error {
	family := netlink.FAMILY_V4
	if serviceCIDR.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	routes, err := netlink.RouteList(nil, family)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	dst := &net.IPNet{IP: serviceCIDR.Addr().AsSlice(), Mask: net.CIDRMask(serviceCIDR.Bits(), serviceCIDR.Addr().BitLen())}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" || r.Dst.String() == "::/0" {
			return nil // a default route covers the service range
		}
		if r.Dst.String() == dst.String() {
			return nil
		}
	}
	link, err := linkWithAddr(nodeIP)
	if err != nil {
		return err
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: dst, Scope: netlink.SCOPE_LINK, Src: nodeIP.AsSlice(),
		Protocol: config.RouteProtocol}
	if err := netlink.RouteReplace(route); err != nil {
		return fmt.Errorf("add route %s dev %s: %w", dst, link.Attrs().Name, err)
	}
	log.Info("no default route: routing the service range through the node's interface", "cidr", dst.String(), "dev", link.Attrs().Name)
	return nil
}

func linkWithAddr(ip netip.Addr) (netlink.Link, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip {
				return l, nil
			}
		}
	}
	return nil, fmt.Errorf("no interface holds the node IP %s", ip)
}
