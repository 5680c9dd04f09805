package config

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// DetectNodeIP picks the address a node advertises when --node-ip is not given: the first
// IPv4 address of the interface that holds the IPv4 default route, else the first global
// unicast IPv4 address of any interface that is up. Loopback is never chosen: the apiserver
// refuses to advertise it.
func DetectNodeIP() (netip.Addr, error) {
	if name, err := defaultRouteInterface("/proc/net/route"); err == nil && name != "" {
		if ip, ok := firstGlobalIPv4(name); ok {
			return ip, nil
		}
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list network interfaces: %w", err)
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		if ip, ok := firstGlobalIPv4(iface.Name); ok {
			return ip, nil
		}
	}
	return netip.Addr{}, errors.New("no usable IPv4 address found on any interface; set --node-ip")
}

func firstGlobalIPv4(ifname string) (netip.Addr, bool) {
	iface, err := net.InterfaceByName(ifname)
	if err != nil {
		return netip.Addr{}, false
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return netip.Addr{}, false
	}
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		if ip := pfx.Addr(); ip.Is4() && ip.IsGlobalUnicast() {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// defaultRouteInterface reads the kernel's IPv4 routing table and returns the interface of
// the default route (destination 0.0.0.0/0), or "" when there is none.
func defaultRouteInterface(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		// Iface Destination Gateway Flags RefCnt Use Metric Mask ...
		if len(fields) >= 8 && fields[1] == "00000000" && fields[7] == "00000000" {
			return fields[0], nil
		}
	}
	return "", s.Err()
}
