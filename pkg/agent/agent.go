// Package agent assembles the node side of edgek: containerd (a supervised child process),
// image import, the kubelet, flannel and kube-proxy, as daemon components in start order.
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/edgek-io/edgek/pkg/agent/containerd"
	"github.com/edgek-io/edgek/pkg/agent/flannel"
	"github.com/edgek-io/edgek/pkg/agent/host"
	"github.com/edgek-io/edgek/pkg/agent/kubelet"
	"github.com/edgek-io/edgek/pkg/agent/kubeproxy"
	"github.com/edgek-io/edgek/pkg/agent/registries"
	"github.com/edgek-io/edgek/pkg/certwatch"
	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/data"
	"github.com/edgek-io/edgek/pkg/fsutil"
	"github.com/edgek-io/edgek/pkg/k8s"
	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/pkg/upstream"
)

// Options is what an agent needs besides its configuration.
type Options struct {
	Agent *config.Agent
	// ServerTLS is the server's PKI when the agent runs inside the server process: the
	// node's certificates are issued from it directly.
	ServerTLS *pki.Bundle
	Log       *slog.Logger
}

// Components prepares the node (binaries, certificates, configuration files) and returns
// its components in start order.
func Components(o Options) ([]daemon.Component, error) {
	a := o.Agent
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		return nil, fmt.Errorf("iptables not found: kube-proxy and flannel need the host's iptables; install it (Debian/Ubuntu: apt-get install iptables, Alpine: apk add iptables) or run edgek check-config")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the edgek binary: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return nil, fmt.Errorf("find the edgek binary: %w", err)
	}
	binDir, err := layoutBin(a)
	if err != nil {
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
	driver := host.CgroupDriver(v1)
	cgroupVersion := "v2"
	if v1 {
		cgroupVersion = "v1"
	}
	o.Log.Info("cgroups", "version", cgroupVersion, "driver", driver)
	resolv, err := host.ResolvConf(a.ResolvConf, filepath.Join(a.AgentDir(), "etc", "resolv.conf"), o.Log)
	if err != nil {
		return nil, err
	}
	facts := kubelet.Host{CgroupDriver: driver, CgroupV1: v1, ResolvConf: resolv}
	if err := os.MkdirAll(a.StaticPodDir(), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", a.StaticPodDir(), err)
	}
	if err := fsutil.WriteFileAtomic(a.KubeletConfigFile(), []byte(kubelet.Config(a, tls, facts)), 0o600); err != nil {
		return nil, fmt.Errorf("write kubelet config: %w", err)
	}
	regs, err := registries.Load(a.PrivateRegistry)
	if err != nil {
		return nil, err
	}
	if err := regs.Write(a.CertsDir()); err != nil {
		return nil, fmt.Errorf("registry configuration from %s: %w", a.PrivateRegistry, err)
	}
	restrict := containerd.LacksCapSysResource("/proc/self/status")
	if restrict {
		o.Log.Info("no CAP_SYS_RESOURCE: containerd restricts containers' oom_score_adj (LXC, rootless or restricted VM)")
	}
	ipamDir := filepath.Join(a.RunDir(), "cni", "networks")
	if pods, _ := os.ReadDir(filepath.Join(a.KubeletRootDir(), "pods")); len(pods) > 0 {
		// A node that ran pods before this version kept their IPs in the CNI default.
		if err := migrateIPAM("/var/lib/cni/networks/cbr0", filepath.Join(ipamDir, "cbr0")); err != nil {
			return nil, err
		}
	}
	kubeletLog := o.Log.With("component", "kubelet")
	comps := []daemon.Component{
		containerd.New(a, containerd.Host{BinDir: binDir, SystemdCgroup: driver == "systemd", RestrictOOMScoreAdj: restrict, RegistryAuth: regs.CRIConfig()}, exe, o.Log.With("component", "containerd")),
		&imageComponent{agent: a, binDir: binDir, log: o.Log.With("component", "images")},
		&daemon.Upstream{
			ComponentName: "kubelet",
			Prepare: func(ctx context.Context) (func(context.Context) error, error) {
				args := kubelet.Args(a)
				kubeletLog.Debug("kubelet arguments", "args", args)
				return k8s.PrepareKubelet(ctx, a.KubeletConfigFile(), args)
			},
			Health: func(ctx context.Context) error {
				return upstream.WaitHealthy(ctx, "http://127.0.0.1:10248/healthz", "", nil)
			},
		},
		flannel.New(flannel.Options{
			Kubeconfig:  a.Kubeconfig("kubelet"),
			NodeName:    a.NodeName,
			NodeIP:      a.NodeIP,
			Iface:       a.FlannelIface,
			Backend:     a.FlannelBackend,
			ClusterCIDR: a.ClusterCIDR,
			SubnetFile:  a.FlannelSubnetFile(),
			CNIConfDir:  a.CNIConfDir(),
			RunDir:      filepath.Dir(a.FlannelSubnetFile()),
			IPAMDir:     ipamDir,
			Log:         o.Log.With("component", "flannel"),
		}),
		&daemon.Step{StepName: "service-route", Do: func(context.Context) error {
			return ensureServiceRoute(a.ServiceCIDR, a.NodeIP, o.Log)
		}},
		&daemon.Upstream{
			ComponentName: "kube-proxy",
			Prepare: func(context.Context) (func(context.Context) error, error) {
				return k8s.PrepareKubeProxy(kubeproxy.Args(a))
			},
			Health: func(ctx context.Context) error {
				return upstream.WaitHealthy(ctx, "http://127.0.0.1:10256/healthz", "", nil)
			},
		},
	}
	if a.Joins() {
		// The kubelet renews a joined node's certificates; this warns when one is close to
		// expiry all the same (a server out of reach for months). In a server, the server's
		// watcher covers the node's dir too.
		comps = append(comps, &daemon.Upstream{ComponentName: "certificates", Prepare: func(context.Context) (func(context.Context) error, error) {
			return func(ctx context.Context) error {
				return certwatch.Run(ctx, certwatch.Options{
					Dirs: []string{a.TLSDir()},
					// kube-proxy's certificate is the agent's to renew.
					Renew: func() error {
						return ensureKubeProxyCert(ctx, a, time.Now(), o.Log.With("component", "certificates"))
					},
					Node:   a.NodeName,
					Client: func() (kubernetes.Interface, error) { return k8s.Client(a.Kubeconfig("kubelet")) },
					Log:    o.Log.With("component", "certificates"),
				})
			}, nil
		}})
	}
	return comps, nil
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
