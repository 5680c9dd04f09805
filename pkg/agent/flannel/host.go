package flannel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	goiptables "github.com/coreos/go-iptables/iptables"
	"github.com/flannel-io/flannel/pkg/ip"
	"github.com/flannel-io/flannel/pkg/lease"
	"github.com/flannel-io/flannel/pkg/subnet"
	"github.com/flannel-io/flannel/pkg/trafficmngr/iptables"
)

// resyncSeconds is how often flannel re-checks its iptables rules. flanneld checks every
// 5 s and K3s every 50-60 s; each check execs iptables about ten times, so edgek uses 60 s
// to keep idle CPU low on small devices.
const resyncSeconds = 60

const (
	bridgeNFCallIPTables = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	ipForward            = "/proc/sys/net/ipv4/ip_forward"
)

// checkHost verifies what flannel needs from the host before anything is changed:
// iptables and iptables-restore (flannel's traffic manager execs them; edgek does not carry
// them), and br_netfilter (flanneld refuses to start without it: without it, traffic
// between pods on the same bridge bypasses kube-proxy's rules). It also turns on IPv4
// forwarding and bridge netfilter calls, as K3s does, since pod traffic is routed; if that
// fails it only warns (some container hosts keep these read-only but already on).
func checkHost(log *slog.Logger) error {
	for _, bin := range []string{"iptables", "iptables-restore"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("flannel needs %s from the host: install the iptables package: %w", bin, err)
		}
	}
	if _, err := os.Stat(bridgeNFCallIPTables); errors.Is(err, os.ErrNotExist) {
		out, merr := exec.Command("modprobe", "br_netfilter").CombinedOutput()
		if _, err := os.Stat(bridgeNFCallIPTables); err != nil {
			return fmt.Errorf("flannel needs the br_netfilter kernel module (modprobe br_netfilter: %v %s): %w",
				merr, strings.TrimSpace(string(out)), err)
		}
		log.Info("loaded kernel module br_netfilter")
	}
	for _, p := range []string{bridgeNFCallIPTables, ipForward} {
		if err := ensureSysctlOn(p); err != nil {
			log.Warn("could not turn on a sysctl pod networking needs", "path", p, "err", err)
		}
	}
	return nil
}

// ensureSysctlOn sets a boolean sysctl to 1 unless it already is.
func ensureSysctlOn(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	return os.WriteFile(path, []byte("1\n"), 0o644)
}

// setupTraffic installs flannel's masquerade (nat FLANNEL-POSTRTG) and forward (filter
// FLANNEL-FWD) rules with flannel's iptables traffic manager, which re-checks them every
// resyncSeconds until ctx ends. Rules of a previous subnet recorded in subnetFile are
// removed first, as flanneld does. Flannel only logs iptables failures, so the rules are
// checked afterwards.
func setupTraffic(ctx context.Context, subnetFile string, config *subnet.Config, l *lease.Lease) error {
	var prevNet, prevSubnet ip.IP4Net
	if b, err := os.ReadFile(subnetFile); err == nil {
		n, s := parseSubnetEnv(b)
		prevNet, prevSubnet = toIP4Net(n), toIP4Net(s)
	}
	tm := &iptables.IPTablesManager{}
	if err := tm.Init(ctx); err != nil {
		return fmt.Errorf("init flannel iptables manager: %w", err)
	}
	// No IPv6 network: edgek's flannel is IPv4 only, so no ip6tables rules are made.
	var none ip.IP6Net
	if err := tm.SetupAndEnsureMasqRules(ctx, config.Network, prevSubnet, prevNet,
		none, none, none, l, resyncSeconds, false); err != nil {
		return fmt.Errorf("set up flannel masquerade rules: %w", err)
	}
	tm.SetupAndEnsureForwardRules(ctx, config.Network, none, resyncSeconds)
	return checkRules()
}

// checkRules verifies that the jumps into flannel's chains exist.
func checkRules() error {
	ipt, err := goiptables.New()
	if err != nil {
		return fmt.Errorf("run iptables: %w", err)
	}
	for _, r := range []struct{ table, chain, target, comment string }{
		{"nat", "POSTROUTING", "FLANNEL-POSTRTG", "flanneld masq"},
		{"filter", "FORWARD", "FLANNEL-FWD", "flanneld forward"},
	} {
		ok, err := ipt.Exists(r.table, r.chain, "-m", "comment", "--comment", r.comment, "-j", r.target)
		if err != nil {
			return fmt.Errorf("check iptables rule %s/%s -j %s: %w", r.table, r.chain, r.target, err)
		}
		if !ok {
			return fmt.Errorf("iptables rule %s/%s -j %s was not installed (see flannel's log)", r.table, r.chain, r.target)
		}
	}
	return nil
}

func toIP4Net(p netip.Prefix) ip.IP4Net {
	if !p.IsValid() || !p.Addr().Is4() {
		return ip.IP4Net{}
	}
	return ip.IP4Net{IP: ip.FromBytes(p.Addr().AsSlice()), PrefixLen: uint(p.Bits())}
}

func fromIP4Net(n ip.IP4Net) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte(n.IP.ToIP().To4())), int(n.PrefixLen))
}
