package agent

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/edgek-io/edgek/pkg/agent/containerd"
	"github.com/edgek-io/edgek/pkg/agent/host"
	"github.com/edgek-io/edgek/pkg/agent/kubelet"
	"github.com/edgek-io/edgek/pkg/agent/registries"
	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/data"
	"github.com/edgek-io/edgek/pkg/fsutil"
	"github.com/edgek-io/edgek/pkg/netpol"
	"github.com/edgek-io/edgek/pkg/pki"
)

// node is a prepared node: what its components are made from.
type node struct {
	agent *config.Agent
	// exe is the edgek binary (containerd runs as a child process of it).
	exe string
	// binDir holds the binaries edgek carries (layoutBin).
	binDir string
	// cgroupDriver is the kubelet's and containerd's: systemd or cgroupfs.
	cgroupDriver string
	// restrictOOMScoreAdj: no CAP_SYS_RESOURCE (LXC, rootless, restricted VM).
	restrictOOMScoreAdj bool
	regs                *registries.Registries
	// ipamDir holds the pod IP reservations (in the runtime dir).
	ipamDir string
	log     *slog.Logger
}

// prepare readies the host for the node's components: it checks for iptables, extracts the
// carried binaries, issues the node's certificates (a server's node), learns the host's
// cgroup setup and resolv.conf, and writes the kubelet's and containerd's registry
// configuration.
func prepare(o Options) (*node, error) {
	a := o.Agent
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		return nil, fmt.Errorf("iptables not found: kube-proxy and flannel need the host's iptables; install it (Debian/Ubuntu: apt-get install iptables, Alpine: apk add iptables) or run edgek check-config")
	}
	if enforcesPolicies(a) {
		if _, err := exec.LookPath("ipset"); err != nil {
			return nil, netpol.NeedsIPSet
		}
	}
	n := &node{agent: a, log: o.Log, ipamDir: a.IPAMDir()}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the edgek binary: %w", err)
	}
	if n.exe, err = filepath.EvalSymlinks(exe); err != nil {
		return nil, fmt.Errorf("find the edgek binary: %w", err)
	}
	if n.binDir, err = layoutBin(a); err != nil {
		return nil, err
	}
	tls, err := NodeCerts(o)
	if err != nil {
		return nil, err
	}
	v1 := host.CgroupV1("/sys")
	if v1 {
		o.Log.Warn("cgroup v1 host: running the kubelet with failCgroupV1=false (Kubernetes >= 1.35 refuses cgroup v1 otherwise); consider booting with systemd.unified_cgroup_hierarchy=1")
	}
	n.cgroupDriver = host.CgroupDriver(v1)
	cgroupVersion := "v2"
	if v1 {
		cgroupVersion = "v1"
	}
	o.Log.Info("cgroups", "version", cgroupVersion, "driver", n.cgroupDriver)
	resolv, err := host.ResolvConf(a.ResolvConf, filepath.Join(a.AgentDir(), "etc", "resolv.conf"), o.Log)
	if err != nil {
		return nil, err
	}
	facts := kubelet.Host{CgroupDriver: n.cgroupDriver, CgroupV1: v1, ResolvConf: resolv}
	if err := os.MkdirAll(a.StaticPodDir(), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", a.StaticPodDir(), err)
	}
	if err := fsutil.WriteFileAtomic(a.KubeletConfigFile(), []byte(kubelet.Config(a, tls, facts)), 0o600); err != nil {
		return nil, fmt.Errorf("write kubelet config: %w", err)
	}
	if n.regs, err = registries.Load(a.PrivateRegistry); err != nil {
		return nil, err
	}
	if err := n.regs.Write(a.CertsDir()); err != nil {
		return nil, fmt.Errorf("registry configuration from %s: %w", a.PrivateRegistry, err)
	}
	n.restrictOOMScoreAdj = containerd.LacksCapSysResource("/proc/self/status")
	if n.restrictOOMScoreAdj {
		o.Log.Info("no CAP_SYS_RESOURCE: containerd restricts containers' oom_score_adj (LXC, rootless or restricted VM)")
	}
	if pods, _ := os.ReadDir(filepath.Join(a.KubeletRootDir(), "pods")); len(pods) > 0 {
		// A node that ran pods before this version kept their IPs in the CNI default.
		if err := migrateIPAM("/var/lib/cni/networks/cbr0", filepath.Join(n.ipamDir, "cbr0")); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// layoutBin extracts the binaries edgek carries (runc, the runc shim, CNI plugins, pause) and
// links them into <data-dir>/agent/bin. containerd and the shims use that
// stable path, so an upgrade that replaces the extracted version does not break running
// shims.
func layoutBin(a *config.Agent) (string, error) {
	extracted, err := data.Extract(a.DataDir)
	if err != nil {
		return "", fmt.Errorf("extract carried binaries: %w", err)
	}
	bin := filepath.Join(a.AgentDir(), "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", bin, err)
	}
	links := map[string]string{}
	for _, n := range data.Names() {
		links[n] = filepath.Join(extracted, n)
	}
	for name, target := range links {
		if err := symlink(target, filepath.Join(bin, name)); err != nil {
			return "", err
		}
	}
	return bin, nil
}

// symlink makes link point at target, replacing what was there atomically.
func symlink(target, link string) error {
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	tmp := link + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	return nil
}

// NodeCerts issues the node's certificates and writes its kubeconfigs. A joining agent has
// only the CAs (written by Run); its kubelet requests its certificate itself.
func NodeCerts(o Options) (*pki.NodeBundle, error) {
	a := o.Agent
	if a.Joins() {
		return &pki.NodeBundle{ServerCACert: serverCAFile(a), ClientCACert: clientCAFile(a)}, nil
	}
	if o.ServerTLS == nil {
		return nil, fmt.Errorf("internal error: an agent inside a server needs the server's certificates")
	}
	hostname, _ := os.Hostname()
	tls, err := pki.EnsureNode(pki.NodeOptions{
		Dir: a.TLSDir(), Server: o.ServerTLS, NodeName: a.NodeName,
		SANs: []string{a.NodeName, hostname, a.NodeIP.String(), "localhost", "127.0.0.1"},
		Log:  o.Log.With("component", "pki"),
	})
	if err != nil {
		return nil, fmt.Errorf("node certificates: %w", err)
	}
	for name, pair := range map[string]pki.CertPair{"kubelet": tls.Kubelet, "kube-proxy": tls.KubeProxy} {
		if err := pki.WriteKubeconfigFiles(a.Kubeconfig(name), a.ServerURL, tls.ServerCACert, pair, 0o600); err != nil {
			return nil, fmt.Errorf("write %s kubeconfig: %w", name, err)
		}
	}
	return tls, nil
}

// migrateIPAM copies the pod IP reservations of an edgek that kept them in the CNI default
// (/var/lib/cni) into the runtime dir, once, so that running pods keep their addresses.
func migrateIPAM(old, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	entries, err := os.ReadDir(old)
	if err != nil {
		return nil // nothing to migrate
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(old, e.Name()))
		if err != nil {
			return fmt.Errorf("migrate pod IP reservations: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			return fmt.Errorf("migrate pod IP reservations: %w", err)
		}
	}
	return nil
}
