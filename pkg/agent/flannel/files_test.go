package flannel

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/flannel-io/flannel/pkg/ip"
	"github.com/flannel-io/flannel/pkg/subnet"
)

func TestNetConf(t *testing.T) {
	for _, tc := range []struct {
		backend string
		cidr    string
		network string
	}{
		{"vxlan", "10.42.0.0/16", "10.42.0.0/16"},
		{"host-gw", "10.42.0.0/16", "10.42.0.0/16"},
		{"vxlan", "10.42.7.1/16", "10.42.0.0/16"}, // host bits dropped
	} {
		t.Run(tc.backend+" "+tc.cidr, func(t *testing.T) {
			b, err := netConf(tc.backend, netip.MustParsePrefix(tc.cidr))
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, b)
			}
			want := map[string]any{
				"Network":    tc.network,
				"EnableIPv4": true,
				"Backend":    map[string]any{"Type": tc.backend},
			}
			if !reflect.DeepEqual(raw, want) {
				t.Errorf("net-conf.json = %v, want %v", raw, want)
			}
			// What flannel's kube subnet manager makes of it.
			cfg, err := subnet.ParseConfig(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.BackendType != tc.backend || cfg.Network.String() != tc.network || !cfg.EnableIPv4 || cfg.EnableIPv6 {
				t.Errorf("flannel parsed %+v", cfg)
			}
		})
	}
}

func TestSubnetEnvMatchesFlannel(t *testing.T) {
	network := netip.MustParsePrefix("10.42.0.0/16")
	lease := netip.MustParsePrefix("10.42.3.0/24")
	got := subnetEnv(network, lease, 1450, true)

	want := "FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
	if string(got) != want {
		t.Errorf("subnetEnv =\n%s\nwant\n%s", got, want)
	}

	// Byte for byte what flannel's own writer produces.
	cfg, err := subnet.ParseConfig(`{"Network": "10.42.0.0/16", "Backend": {"Type": "vxlan"}}`)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "subnet.env")
	if err := subnet.WriteSubnetFile(path, cfg, true, toIP4Net(lease), ip.IP6Net{}, 1450); err != nil {
		t.Fatal(err)
	}
	upstream, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(upstream) {
		t.Errorf("subnetEnv differs from flannel's WriteSubnetFile:\n%s\nvs\n%s", got, upstream)
	}
}

func TestParseSubnetEnv(t *testing.T) {
	for _, tc := range []struct {
		name, in        string
		network, subnet string // "" = zero prefix
	}{
		{"ours", string(subnetEnv(netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("10.42.3.0/24"), 1450, true)),
			"10.42.0.0/16", "10.42.3.0/24"},
		{"quoted", "FLANNEL_NETWORK=\"10.1.0.0/16\"\nFLANNEL_SUBNET='10.1.17.1/24'\n", "10.1.0.0/16", "10.1.17.0/24"},
		{"empty", "", "", ""},
		{"garbage", "FLANNEL_NETWORK=nope\nFLANNEL_SUBNET\n=\n", "", ""},
		{"ipv6 ignored", "FLANNEL_NETWORK=fd00::/56\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, s := parseSubnetEnv([]byte(tc.in))
			if got := prefixString(n); got != tc.network {
				t.Errorf("network = %q, want %q", got, tc.network)
			}
			if got := prefixString(s); got != tc.subnet {
				t.Errorf("subnet = %q, want %q", got, tc.subnet)
			}
		})
	}
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

func TestCNIConflist(t *testing.T) {
	b, err := cniConflist(netip.MustParsePrefix("10.42.3.1/24"), netip.MustParsePrefix("10.42.0.0/16"), 1450, "/run/edgek/cni/networks")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		CNIVersion string           `json:"cniVersion"`
		Name       string           `json:"name"`
		Plugins    []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	if c.CNIVersion != "1.0.0" || c.Name != "cbr0" {
		t.Errorf("cniVersion %q name %q", c.CNIVersion, c.Name)
	}
	if len(c.Plugins) != 2 || c.Plugins[0]["type"] != "bridge" || c.Plugins[1]["type"] != "portmap" {
		t.Fatalf("plugins = %v, want bridge then portmap", c.Plugins)
	}
	br := c.Plugins[0]
	for k, want := range map[string]any{
		"bridge": "cni0", "isGateway": true, "isDefaultGateway": true, "ipMasq": false,
		"hairpinMode": true, "forceAddress": true, "mtu": float64(1450),
	} {
		if br[k] != want {
			t.Errorf("bridge %s = %v, want %v", k, br[k], want)
		}
	}
	ipam, _ := json.Marshal(br["ipam"])
	wantIPAM := `{"dataDir":"/run/edgek/cni/networks","ranges":[[{"subnet":"10.42.3.0/24"}]],"routes":[{"dst":"10.42.0.0/16"}],"type":"host-local"}`
	if string(ipam) != wantIPAM {
		t.Errorf("ipam = %s, want %s", ipam, wantIPAM)
	}
	pm := c.Plugins[1]
	if caps, _ := pm["capabilities"].(map[string]any); caps["portMappings"] != true || pm["snat"] != true {
		t.Errorf("portmap = %v", pm)
	}

	// libcni (what containerd's CRI uses) must accept it.
	list, err := libcni.ConfListFromBytes(b)
	if err != nil {
		t.Fatalf("libcni rejects the conflist: %v", err)
	}
	if len(list.Plugins) != 2 || list.Plugins[0].Network.Type != "bridge" {
		t.Errorf("libcni parsed %+v", list)
	}
}
