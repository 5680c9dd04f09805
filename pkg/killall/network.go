package killall

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgek-io/edgek/pkg/config"
)

// edgekLinks are the interfaces edgek's components create, with the type each has.
var edgekLinks = []link{
	{Name: "cni0", Type: "bridge"},          // the CNI bridge plugin
	{Name: "flannel.1", Type: "vxlan"},      // flannel VXLAN, VNI 1
	{Name: "flannel-v6.1", Type: "vxlan"},   // flannel VXLAN over IPv6
	{Name: "flannel-wg", Type: "wireguard"}, // flannel WireGuard backend
	{Name: "flannel-wg-v6", Type: "wireguard"},
	{Name: "kube-ipvs0", Type: "dummy"}, // kube-proxy in IPVS mode
}

// selectLinks returns the links to delete, in order: the veths enslaved to cni0 (the host
// ends of pod interfaces), then edgekLinks that exist with their expected type. Any other
// interface is left alone.
func selectLinks(ls []link) (del []string, skipped []link) {
	byName := map[string]link{}
	for _, l := range ls {
		byName[l.Name] = l
	}
	if br, ok := byName["cni0"]; ok && br.Type == "bridge" {
		for _, l := range ls {
			if l.Type == "veth" && l.Master == br.Index {
				del = append(del, l.Name)
			}
		}
	}
	for _, want := range edgekLinks {
		l, ok := byName[want.Name]
		switch {
		case !ok:
		case l.Type == want.Type:
			del = append(del, l.Name)
		default:
			skipped = append(skipped, l)
		}
	}
	return del, skipped
}

func (r *run) deleteLinks(context.Context) {
	ls, err := r.sys.Links()
	if err != nil {
		r.fail(fmt.Errorf("list network links: %w", err))
		return
	}
	del, skipped := selectLinks(ls)
	for _, l := range skipped {
		r.log.Warn("leaving a link with an edgek name but another type", "link", l.Name, "type", l.Type)
	}
	for _, name := range del {
		if r.act("delete link", "link", name) {
			if err := r.sys.DeleteLink(name); err != nil {
				r.fail(fmt.Errorf("delete link %s: %w", name, err))
			}
		}
	}
	if len(del) == 0 {
		r.log.Info("no edgek network links")
	}
}

// selectRoutes returns the routes edgek made: those marked with its route protocol (the
// service-range route of a node without a default route), and every route into the pod
// network (flannel's routes to other nodes' subnets; host-gw ones outlive the links).
func selectRoutes(rs []route, podNetwork netip.Prefix) []route {
	var out []route
	for _, r := range rs {
		inPodNet := podNetwork.IsValid() && podNetwork.Contains(r.Dst.Addr()) && r.Dst.Bits() >= podNetwork.Bits()
		if r.Protocol == config.RouteProtocol || inPodNet {
			out = append(out, r)
		}
	}
	return out
}

// podNetwork reads FLANNEL_NETWORK from flannel's subnet.env in the run dir.
func (r *run) podNetwork() netip.Prefix {
	data, err := os.ReadFile(filepath.Join(r.RunDir, runDirRel((*config.Agent).FlannelSubnetFile)))
	if err != nil {
		return netip.Prefix{}
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "FLANNEL_NETWORK="); ok {
			if p, err := netip.ParsePrefix(v); err == nil {
				return p.Masked()
			}
		}
	}
	return netip.Prefix{}
}

// deleteRoutes runs before the run dir (and subnet.env) is removed.
func (r *run) deleteRoutes(context.Context) {
	rs, err := r.sys.Routes()
	if err != nil {
		r.fail(fmt.Errorf("list routes: %w", err))
		return
	}
	for _, rt := range selectRoutes(rs, r.podNetwork()) {
		if r.act("delete route", "route", rt.String()) {
			if err := r.sys.DeleteRoute(rt); err != nil {
				r.fail(fmt.Errorf("delete route %s: %w", rt, err))
			}
		}
	}
}
