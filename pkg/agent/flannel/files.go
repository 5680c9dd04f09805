package flannel

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// cniConfName is the file the CNI config is written to in CNIConfDir.
const cniConfName = "10-flannel.conflist"

// netConf renders flannel's net-conf.json: the cluster network and the backend.
// Node subnets are not chosen by flannel here: the kube subnet manager uses each node's
// spec.podCIDR, allocated by the controller-manager.
func netConf(backendType string, clusterCIDR netip.Prefix) ([]byte, error) {
	type backendConf struct {
		Type string `json:"Type"`
	}
	conf := struct {
		Network    string      `json:"Network"`
		EnableIPv4 bool        `json:"EnableIPv4"`
		Backend    backendConf `json:"Backend"`
	}{
		Network:    clusterCIDR.Masked().String(),
		EnableIPv4: true,
		Backend:    backendConf{Type: backendType},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render flannel net-conf.json: %w", err)
	}
	return append(b, '\n'), nil
}

// subnetEnv renders flannel's subnet.env exactly as flannel's subnet.WriteSubnetFile does
// for an IPv4 network: FLANNEL_SUBNET holds the first address of the node's subnet (the
// bridge's gateway address), not the network address.
func subnetEnv(network, nodeSubnet netip.Prefix, mtu int, ipMasq bool) []byte {
	first := netip.PrefixFrom(nodeSubnet.Masked().Addr().Next(), nodeSubnet.Bits())
	return fmt.Appendf(nil, "FLANNEL_NETWORK=%s\nFLANNEL_SUBNET=%s\nFLANNEL_MTU=%d\nFLANNEL_IPMASQ=%t\n",
		network.Masked(), first, mtu, ipMasq)
}

// parseSubnetEnv reads FLANNEL_NETWORK and FLANNEL_SUBNET (as networks) from a subnet.env
// written by an earlier run. Missing or malformed values are returned as zero prefixes.
func parseSubnetEnv(data []byte) (network, nodeSubnet netip.Prefix) {
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(s.Text()), "=")
		if !ok {
			continue
		}
		p, err := netip.ParsePrefix(strings.Trim(v, `"'`))
		if err != nil || !p.Addr().Is4() {
			continue
		}
		switch k {
		case "FLANNEL_NETWORK":
			network = p.Masked()
		case "FLANNEL_SUBNET":
			nodeSubnet = p.Masked()
		}
	}
	return network, nodeSubnet
}

// The CNI configuration below is what flannel's CNI plugin (flannel-io/cni-plugin) would
// hand to the bridge plugin, given K3s's and upstream kube-flannel's delegate settings
// (hairpinMode, forceAddress, isDefaultGateway) and the subnet.env this package writes:
//   - type bridge (the plugin's default delegate), bridge cni0 (the bridge plugin's default);
//   - isGateway true (forced for bridge); isDefaultGateway true, which makes the bridge
//     plugin add the pod's 0.0.0.0/0 route via the bridge itself;
//   - ipMasq = !FLANNEL_IPMASQ = false, because flannel's own iptables rules masquerade;
//   - mtu = FLANNEL_MTU (the backend's MTU);
//   - ipam host-local with one range, the node's subnet, and a route to the cluster
//     network (FLANNEL_NETWORK); no default route in ipam, the bridge plugin adds it; its
//     state in the node's runtime dir (see Options.IPAMDir).
// Writing it directly spares edgek the flannel plugin and its scratch files, and makes the
// node's network ready in the same step that learns the lease.

type bridgeConf struct {
	Type             string   `json:"type"`
	Bridge           string   `json:"bridge"`
	IsGateway        bool     `json:"isGateway"`
	IsDefaultGateway bool     `json:"isDefaultGateway"`
	ForceAddress     bool     `json:"forceAddress"`
	HairpinMode      bool     `json:"hairpinMode"`
	IPMasq           bool     `json:"ipMasq"`
	MTU              int      `json:"mtu"`
	IPAM             ipamConf `json:"ipam"`
}

type ipamConf struct {
	Type    string        `json:"type"`
	Ranges  [][]rangeConf `json:"ranges"`
	Routes  []routeConf   `json:"routes"`
	DataDir string        `json:"dataDir,omitempty"`
}

type rangeConf struct {
	Subnet string `json:"subnet"`
}

type routeConf struct {
	Dst string `json:"dst"`
}

type portmapConf struct {
	Type         string          `json:"type"`
	Capabilities map[string]bool `json:"capabilities"`
	SNAT         bool            `json:"snat"`
}

// cniConflist renders 10-flannel.conflist for a node whose flannel lease is nodeSubnet.
func cniConflist(nodeSubnet, clusterCIDR netip.Prefix, mtu int, ipamDir string) ([]byte, error) {
	conf := struct {
		CNIVersion string `json:"cniVersion"`
		Name       string `json:"name"`
		Plugins    []any  `json:"plugins"`
	}{
		CNIVersion: "1.0.0",
		Name:       "cbr0",
		Plugins: []any{
			bridgeConf{
				Type:             "bridge",
				Bridge:           "cni0",
				IsGateway:        true,
				IsDefaultGateway: true,
				ForceAddress:     true,
				HairpinMode:      true,
				IPMasq:           false,
				MTU:              mtu,
				IPAM: ipamConf{
					Type:    "host-local",
					Ranges:  [][]rangeConf{{{Subnet: nodeSubnet.Masked().String()}}},
					Routes:  []routeConf{{Dst: clusterCIDR.Masked().String()}},
					DataDir: ipamDir,
				},
			},
			portmapConf{Type: "portmap", Capabilities: map[string]bool{"portMappings": true}, SNAT: true},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render CNI config: %w", err)
	}
	return append(b, '\n'), nil
}
