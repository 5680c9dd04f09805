package checkconfig

import (
	"path/filepath"
	"strings"
)

func (h *host) checkNamespaces() []Check {
	missing := func(names ...string) []string {
		var m []string
		for _, n := range names {
			if !exists(h.proc(filepath.Join("self", "ns", n))) {
				m = append(m, n)
			}
		}
		return m
	}
	required := Check{Name: "namespaces", Required: true}
	if m := missing("net", "pid", "ipc", "uts", "mnt"); len(m) > 0 {
		required.Detail = "missing " + strings.Join(m, ", ")
		required.Fix = "use a kernel with CONFIG_NAMESPACES and CONFIG_{NET,PID,IPC,UTS}_NS"
	} else {
		required.OK, required.Detail = true, "net, pid, ipc, uts, mnt"
	}
	optional := Check{Name: "user and cgroup namespaces"}
	if m := missing("user", "cgroup"); len(m) > 0 {
		optional.Detail = "missing " + strings.Join(m, ", ") + "; pods with hostUsers: false and private cgroup namespaces will not work"
		optional.Fix = "use a kernel with CONFIG_USER_NS and CONFIG_CGROUP_NS"
	} else {
		optional.OK, optional.Detail = true, "user, cgroup"
	}
	return []Check{required, optional}
}

// checkSysctls reports the sysctls pod networking depends on.
func (h *host) checkSysctls() []Check {
	fwd := Check{Name: "sysctl net.ipv4.ip_forward", OK: true}
	switch v := strings.TrimSpace(h.readProc("sys/net/ipv4/ip_forward")); v {
	case "1":
		fwd.Detail = "1"
	case "":
		fwd.OK = false
		fwd.Detail = "cannot read " + h.proc("sys/net/ipv4/ip_forward")
	default:
		fwd.Detail = v + " (edgek sets it to 1 when it starts)"
	}

	// edgek's flannel agent loads br_netfilter (modprobe) and sets this sysctl to 1 at start.
	bridge := Check{Name: "sysctl net.bridge.bridge-nf-call-iptables", OK: true}
	switch v := strings.TrimSpace(h.readProc("sys/net/bridge/bridge-nf-call-iptables")); v {
	case "1":
		bridge.Detail = "1"
	case "":
		if m := h.missingPrograms("modprobe"); len(m) > 0 {
			bridge.OK = false
			bridge.Detail = "br_netfilter is not loaded and there is no modprobe for edgek to load it with"
			bridge.Fix = "load it at boot: echo br_netfilter > /etc/modules-load.d/edgek.conf (or install kmod)"
		} else {
			bridge.Detail = "br_netfilter is not loaded yet (edgek loads it with modprobe when it starts)"
		}
	default:
		bridge.Detail = v + " (edgek sets it to 1 when it starts)"
	}
	return []Check{fwd, bridge}
}

// iptablesBackend returns "nf_tables", "legacy" or "" (unknown / not installed), from
// `iptables --version` ("iptables v1.8.9 (nf_tables)"), else from where the iptables
// symlink leads (xtables-nft-multi / xtables-legacy-multi).
func (h *host) iptablesBackend() string {
	p, err := h.LookPath("iptables")
	if err != nil {
		return ""
	}
	if out, err := h.Output(p, "--version"); err == nil {
		switch {
		case strings.Contains(out, "nf_tables"):
			return "nf_tables"
		case strings.Contains(out, "legacy"):
			return "legacy"
		case strings.Contains(out, "iptables v1.") && !strings.Contains(out, "("):
			return "legacy" // before 1.8 there was only the legacy backend, unnamed
		}
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		switch base := filepath.Base(real); {
		case strings.Contains(base, "nft"):
			return "nf_tables"
		case strings.Contains(base, "legacy"):
			return "legacy"
		}
	}
	return ""
}

// installHint names the command that installs pkg with the host's package manager.
func (h *host) installHint(pkg string) string {
	for _, pm := range []struct{ bin, cmd string }{
		{"apt-get", "apt-get install " + pkg},
		{"apk", "apk add " + pkg},
		{"dnf", "dnf install " + pkg},
		{"yum", "yum install " + pkg},
		{"zypper", "zypper install " + pkg},
		{"pacman", "pacman -S " + pkg},
	} {
		if _, err := h.LookPath(pm.bin); err == nil {
			return pm.cmd
		}
	}
	return "install " + pkg + " (apt-get install " + pkg + " / apk add " + pkg + " / dnf install " + pkg + ")"
}

func (h *host) checkTools(backend string) []Check {
	ipt := Check{Name: "iptables", Required: true}
	if m := h.missingPrograms("iptables", "iptables-save", "iptables-restore"); len(m) > 0 {
		ipt.Detail = "not found on PATH: " + strings.Join(m, ", ") + "; kube-proxy and flannel run them"
		ipt.Fix = h.installHint("iptables")
	} else {
		ipt.OK = true
		ipt.Detail = "iptables, iptables-save, iptables-restore"
		switch backend {
		case "":
			ipt.Detail += "; backend unknown"
		default:
			ipt.Detail += "; backend " + backend
		}
	}
	cs := []Check{ipt}

	ipset := Check{Name: "ipset", Required: true}
	if _, err := h.LookPath("ipset"); err != nil {
		ipset.Detail = "not found on PATH; the network policy controller runs it (not needed with --disable-network-policy)"
		ipset.Fix = h.installHint("ipset")
	} else {
		ipset.OK, ipset.Detail = true, "installed"
	}
	cs = append(cs, ipset)

	ip6 := Check{Name: "ip6tables"}
	if m := h.missingPrograms("ip6tables", "ip6tables-save", "ip6tables-restore"); len(m) > 0 {
		ip6.Detail = "not found on PATH: " + strings.Join(m, ", ") + "; needed only for IPv6 and dual-stack clusters"
		ip6.Fix = h.installHint("iptables")
	} else {
		ip6.OK, ip6.Detail = true, "ip6tables, ip6tables-save, ip6tables-restore"
	}
	cs = append(cs, ip6)

	nft := Check{Name: "nft", OK: true}
	if _, err := h.LookPath("nft"); err != nil {
		nft.Detail = "not installed; needed only for kube-proxy's nftables mode"
	} else {
		nft.Detail = "installed"
	}
	return append(cs, nft)
}
