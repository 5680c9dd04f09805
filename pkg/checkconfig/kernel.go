package checkconfig

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Kernel versions: below minKernel nothing works; below recommendedKernel Kubernetes warns.
var (
	minKernel         = [2]int{3, 10}
	recommendedKernel = [2]int{4, 19}
)

// parseKernelVersion returns major and minor of a release such as "6.1.0-18-arm64".
func parseKernelVersion(release string) ([2]int, bool) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i]
	}
	mn, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return [2]int{}, false
	}
	return [2]int{major, mn}, true
}

func versionLess(a, b [2]int) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }

func (h *host) kernelVersion() ([2]int, bool) { return parseKernelVersion(h.release) }

func (h *host) checkKernelVersion() Check {
	c := Check{Name: "Linux kernel", Required: true}
	v, ok := h.kernelVersion()
	switch {
	case h.release == "":
		c.Detail = "cannot read " + h.proc("sys/kernel/osrelease")
		c.Fix = "edgek runs on Linux only; mount procfs on /proc"
	case !ok:
		c.Detail = fmt.Sprintf("cannot parse release %q", h.release)
		c.Required = false
	case versionLess(v, minKernel):
		c.Detail = fmt.Sprintf("%s is too old (need %d.%d or later)", h.release, minKernel[0], minKernel[1])
		c.Fix = "upgrade the kernel"
	case versionLess(v, recommendedKernel):
		c.Required = false
		c.Detail = fmt.Sprintf("%s; Kubernetes recommends %d.%d or later", h.release, recommendedKernel[0], recommendedKernel[1])
		c.Fix = "upgrade the kernel to a current LTS release"
	default:
		c.OK = true
		c.Detail = h.release
	}
	return c
}

// moduleIndex is what /lib/modules/<release> says: modules that can be loaded and modules
// built into the kernel, by name with "-" written "_".
type moduleIndex struct {
	available map[string]bool
	builtin   map[string]bool
}

// readModuleIndex reads modules.dep and modules.builtin in dir; nil when neither is there.
func readModuleIndex(dir string) *moduleIndex {
	idx := &moduleIndex{available: map[string]bool{}, builtin: map[string]bool{}}
	okDep := readModuleList(filepath.Join(dir, "modules.dep"), idx.available, true)
	okBuiltin := readModuleList(filepath.Join(dir, "modules.builtin"), idx.builtin, false)
	if !okDep && !okBuiltin {
		return nil
	}
	return idx
}

// readModuleList adds the module names of a modules.dep (dep: "path.ko[.xz]: deps...") or
// modules.builtin (one path a line) file to into.
func readModuleList(file string, into map[string]bool, dep bool) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		p := sc.Text()
		if dep {
			p, _, _ = strings.Cut(p, ":")
		}
		if name := moduleName(p); name != "" {
			into[name] = true
		}
	}
	return true
}

// moduleName turns "kernel/net/bridge/br_netfilter.ko.zst" into "br_netfilter".
func moduleName(p string) string {
	base := path.Base(strings.TrimSpace(p))
	i := strings.Index(base, ".ko")
	if i <= 0 {
		return ""
	}
	return normModule(base[:i])
}

func normModule(name string) string { return strings.ReplaceAll(name, "-", "_") }

// feature is a kernel feature edgek needs, provided by one of several modules.
type feature struct {
	name string
	why  string
	// alts are the modules that provide it, each with its kernel config symbol.
	alts []module
	// proof is a path under ProcRoot or SysRoot ("proc:..." / "sys:...") that exists only
	// when the feature is there.
	proof string
}

type module struct{ name, config string }

// features edgek's components need. Modules are the ones the kernel would load for them.
func features(iptablesBackend string) []feature {
	fs := []feature{
		{name: "overlay", why: "containerd's overlayfs snapshotter", alts: []module{{"overlay", "CONFIG_OVERLAY_FS"}}},
		{name: "br_netfilter", why: "Service traffic between pods on the same node", alts: []module{{"br_netfilter", "CONFIG_BRIDGE_NETFILTER"}}, proof: "proc:sys/net/bridge"},
		{name: "bridge", why: "the cni0 bridge", alts: []module{{"bridge", "CONFIG_BRIDGE"}}},
		{name: "veth", why: "pod network interfaces", alts: []module{{"veth", "CONFIG_VETH"}}},
		{name: "vxlan", why: "flannel's VXLAN backend", alts: []module{{"vxlan", "CONFIG_VXLAN"}}},
		{name: "nf_conntrack", why: "kube-proxy and NAT", alts: []module{{"nf_conntrack", "CONFIG_NF_CONNTRACK"}}, proof: "proc:sys/net/netfilter/nf_conntrack_max"},
		{name: "nf_nat", why: "Service and pod NAT", alts: []module{{"nf_nat", "CONFIG_NF_NAT"}}},
		{name: "xt_conntrack", why: "iptables -m conntrack (kube-proxy, flannel)", alts: []module{{"xt_conntrack", "CONFIG_NETFILTER_XT_MATCH_CONNTRACK"}}},
		{name: "xt_MASQUERADE", why: "iptables -j MASQUERADE (kube-proxy, flannel)", alts: []module{{"xt_MASQUERADE", "CONFIG_NETFILTER_XT_TARGET_MASQUERADE"}, {"ipt_MASQUERADE", "CONFIG_IP_NF_TARGET_MASQUERADE"}}},
		{name: "xt_comment", why: "iptables -m comment (kube-proxy, flannel)", alts: []module{{"xt_comment", "CONFIG_NETFILTER_XT_MATCH_COMMENT"}}},
		{name: "xt_mark", why: "iptables -m mark / -j MARK (kube-proxy, flannel)", alts: []module{{"xt_mark", "CONFIG_NETFILTER_XT_MARK"}}},
		{name: "xt_addrtype", why: "iptables -m addrtype (kube-proxy)", alts: []module{{"xt_addrtype", "CONFIG_NETFILTER_XT_MATCH_ADDRTYPE"}}},
		{name: "xt_statistic", why: "iptables -m statistic (kube-proxy load balancing)", alts: []module{{"xt_statistic", "CONFIG_NETFILTER_XT_MATCH_STATISTIC"}}},
		{name: "ip_set", why: "address sets of the network policy controller", alts: []module{{"ip_set", "CONFIG_IP_SET"}}},
		{name: "xt_set", why: "iptables -m set (network policy)", alts: []module{{"xt_set", "CONFIG_NETFILTER_XT_SET"}}},
		{name: "xt_physdev", why: "iptables -m physdev (network policy between pods on one node)", alts: []module{{"xt_physdev", "CONFIG_NETFILTER_XT_MATCH_PHYSDEV"}}},
		{name: "xt_NFLOG", why: "iptables -j NFLOG (network policy logs dropped packets)", alts: []module{{"xt_NFLOG", "CONFIG_NETFILTER_XT_TARGET_NFLOG"}}},
	}
	if iptablesBackend == "nf_tables" {
		fs = append(fs,
			feature{name: "nf_tables", why: "the nf_tables backend of iptables", alts: []module{{"nf_tables", "CONFIG_NF_TABLES"}}},
			feature{name: "nft_compat", why: "iptables matches under nf_tables", alts: []module{{"nft_compat", "CONFIG_NFT_COMPAT"}}},
			feature{name: "nat chain", why: "the nat table under nf_tables", alts: []module{{"nft_chain_nat", "CONFIG_NFT_NAT"}}},
		)
	} else {
		fs = append(fs, feature{name: "iptable_nat", why: "the iptables nat table", alts: []module{{"iptable_nat", "CONFIG_IP_NF_NAT"}}})
	}
	return fs
}

// modState is what is known of a kernel module.
type modState int

const (
	modUnknown modState = iota
	modPresent
	modMissing
)

// moduleState says whether a module is built in, loaded or loadable, and how that is known.
func (h *host) moduleState(m module) (modState, string) {
	name := normModule(m.name)
	if exists(h.sys(filepath.Join("module", name))) {
		return modPresent, "loaded or built in"
	}
	if h.mods != nil {
		if h.mods.builtin[name] {
			return modPresent, "built in"
		}
		if h.mods.available[name] {
			return modPresent, "module available"
		}
	}
	if h.config != nil {
		switch h.config[m.config] {
		case "y":
			return modPresent, "built in (" + m.config + "=y)"
		case "m":
			if h.mods != nil {
				return modMissing, m.config + "=m but the module is not installed under " + filepath.Join(h.ModulesRoot, h.release)
			}
			return modPresent, "module (" + m.config + "=m)"
		}
		if h.config["CONFIG_MODULES"] == "n" || h.mods != nil {
			return modMissing, "not in the kernel (" + m.config + " is not set)"
		}
		return modMissing, m.config + " is not set"
	}
	if h.mods != nil {
		return modMissing, "neither built in nor under " + filepath.Join(h.ModulesRoot, h.release)
	}
	return modUnknown, ""
}

// featureCheck decides one feature: present, missing (a failure) or unknown (a warning).
func (h *host) featureCheck(f feature) Check {
	c := Check{Name: "kernel feature " + f.name, Required: true}
	if f.proof != "" {
		root, rel, _ := strings.Cut(f.proof, ":")
		p := h.proc(rel)
		if root == "sys" {
			p = h.sys(rel)
		}
		if exists(p) {
			c.OK, c.Detail = true, "present ("+p+")"
			return c
		}
	}
	// All alternatives are judged from the same sources, so the first one's verdict stands
	// unless another is present.
	state, how := h.moduleState(f.alts[0])
	for _, m := range f.alts[1:] {
		if s, d := h.moduleState(m); s == modPresent && state != modPresent {
			state, how = s, m.name+": "+d
		}
	}
	switch state {
	case modPresent:
		c.OK, c.Detail = true, how
	case modMissing:
		c.Detail = how + "; needed for " + f.why
		c.Fix = "use a kernel built with " + f.alts[0].config + " (or install the distribution's extra kernel modules package)"
	default:
		c.Required = false
		c.Detail = "cannot tell (see kernel config); needed for " + f.why
		c.Fix = "`modprobe " + f.alts[0].name + "` tests it; the kernel needs " + f.alts[0].config
	}
	return c
}

// checkKernelSources says where the kernel features are read from.
func (h *host) checkKernelSources() Check {
	c := Check{Name: "kernel config", OK: true}
	dir := filepath.Join(h.ModulesRoot, h.release)
	switch {
	case h.config != nil && h.mods != nil:
		c.Detail = "kernel config and " + dir
	case h.config != nil:
		c.Detail = "kernel config (no " + dir + ")"
	case h.mods != nil:
		c.Detail = dir + " (no kernel config: " + h.configErr.Error() + ")"
	default:
		c.OK = false
		c.Detail = "no kernel config (" + h.configErr.Error() + ") and no " + dir + ": kernel features that are not loaded cannot be checked"
		c.Fix = "`modprobe configs` provides /proc/config.gz; or install the kernel's modules package"
	}
	return c
}

func (h *host) checkKernelFeatures(iptablesBackend string) []Check {
	cs := []Check{h.checkKernelSources()}
	for _, f := range features(iptablesBackend) {
		if f.name == "overlay" {
			cs = append(cs, h.checkOverlay(f))
			continue
		}
		cs = append(cs, h.featureCheck(f))
	}
	return cs
}

// checkOverlay looks for overlay in /proc/filesystems before asking about the module.
func (h *host) checkOverlay(f feature) Check {
	sc := bufio.NewScanner(strings.NewReader(h.readProc("filesystems")))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && fields[len(fields)-1] == "overlay" {
			return Check{Name: "kernel feature overlay", OK: true, Required: true, Detail: "overlay filesystem registered"}
		}
	}
	c := h.featureCheck(f)
	if !c.OK && c.Required {
		c.Fix = "use a kernel with CONFIG_OVERLAY_FS (containerd's snapshotter needs it)"
	}
	return c
}
