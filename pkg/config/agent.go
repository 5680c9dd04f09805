package config

import (
	"net/netip"
	"path/filepath"
)

// Agent defaults.
const (
	DefaultFlannelBackend = "vxlan"
	// PauseImage is the pod sandbox image edgek builds from the pause binary it carries.
	PauseImage = "docker.io/edgek/pause:3.10"
	// CoreDNSImage and DashboardImage are the addon images edgek builds from binaries it
	// carries (see pkg/data); the bundled manifests refer to them.
	CoreDNSImage   = "docker.io/edgek/coredns:1.15.0"
	DashboardImage = "docker.io/edgek/dashboard:0.1.0"
	// RunDir holds the host-wide runtime state of the node (sockets, flannel's subnet file).
	RunDir = "/run/edgek"
)

// Agent is the configuration of the node side: containerd, kubelet, kube-proxy, flannel.
// `edgek server` runs one with the server's settings unless --disable-agent.
type Agent struct {
	// DataDir is the same data dir as the server's; agent state lives in <data-dir>/agent.
	DataDir string
	// NodeName is the node's name. Default: the hostname.
	NodeName string
	// NodeIP is the node's address (kubelet --node-ip, flannel's public IP).
	NodeIP netip.Addr
	// ServerURL is the apiserver the agent talks to (https://127.0.0.1:6443 in a server).
	ServerURL string
	// ClusterCIDR, ServiceCIDR, ClusterDNS, ClusterDomain mirror the server's.
	ClusterCIDR   netip.Prefix
	ServiceCIDR   netip.Prefix
	ClusterDNS    netip.Addr
	ClusterDomain string
	// FlannelBackend is vxlan (default), host-gw or none.
	FlannelBackend string
	// FlannelIface is the interface flannel uses. Default: the one holding NodeIP.
	FlannelIface string
	// ExtraKubeletArgs and ExtraKubeProxyArgs are "key=value" overrides.
	ExtraKubeletArgs   []string
	ExtraKubeProxyArgs []string
	// NodeLabels ("k=v") and NodeTaints ("k=v:Effect") are set at registration.
	NodeLabels []string
	NodeTaints []string
	// ResolvConf is the resolv.conf pods inherit. Default: detected from the host.
	ResolvConf string
	// PrivateRegistry is the registries.yaml handed to containerd.
	PrivateRegistry string
	// PauseImage is the pod sandbox image, built into edgek.
	PauseImage string
}

// AgentDir is <data-dir>/agent.
func (a *Agent) AgentDir() string { return filepath.Join(a.DataDir, "agent") }

// ContainerdConfigFile is the generated containerd configuration.
func (a *Agent) ContainerdConfigFile() string {
	return filepath.Join(a.AgentDir(), "etc", "containerd", "config.toml")
}

// ContainerdRoot holds containerd's persistent state (content, snapshots, metadata).
func (a *Agent) ContainerdRoot() string { return filepath.Join(a.AgentDir(), "containerd") }

// ContainerdState holds containerd's runtime state.
func (a *Agent) ContainerdState() string { return filepath.Join(RunDir, "containerd") }

// ContainerdSocket is containerd's gRPC socket.
func (a *Agent) ContainerdSocket() string {
	return filepath.Join(a.ContainerdState(), "containerd.sock")
}

// DefaultRegistriesFile is where users describe mirrors and credentials (K3s's registries.yaml).
const DefaultRegistriesFile = "/etc/edgek/registries.yaml"

// CertsDir is containerd's hosts.toml directory, generated from the registries.yaml.
func (a *Agent) CertsDir() string { return filepath.Join(a.AgentDir(), "etc", "containerd", "certs.d") }

// CNIConfDir holds the CNI network configuration.
func (a *Agent) CNIConfDir() string { return filepath.Join(a.AgentDir(), "etc", "cni", "net.d") }

// KubeletRootDir is the kubelet's --root-dir (pods, volumes, plugins).
func (a *Agent) KubeletRootDir() string { return filepath.Join(a.AgentDir(), "kubelet") }

// StaticPodDir holds static pod manifests the kubelet runs without the apiserver.
func (a *Agent) StaticPodDir() string { return filepath.Join(a.AgentDir(), "pod-manifests") }

// PodLogsDir holds container logs.
func (a *Agent) PodLogsDir() string { return filepath.Join(a.AgentDir(), "logs", "pods") }

// KubeletConfigFile is the generated KubeletConfiguration.
func (a *Agent) KubeletConfigFile() string { return filepath.Join(a.AgentDir(), "etc", "kubelet.yaml") }

// KubeProxyConfigFile is the generated KubeProxyConfiguration.
func (a *Agent) KubeProxyConfigFile() string {
	return filepath.Join(a.AgentDir(), "etc", "kube-proxy.yaml")
}

// TLSDir holds the node's certificates.
func (a *Agent) TLSDir() string { return filepath.Join(a.AgentDir(), "tls") }

// Kubeconfig returns the path of an agent component's kubeconfig.
func (a *Agent) Kubeconfig(component string) string {
	return filepath.Join(a.AgentDir(), component+".kubeconfig")
}

// ImagesDir is where air-gap image archives are dropped.
func (a *Agent) ImagesDir() string { return filepath.Join(a.AgentDir(), "images") }

// ImagesStateFile remembers which archives were imported.
func (a *Agent) ImagesStateFile() string { return filepath.Join(a.AgentDir(), "images.state.json") }

// FlannelSubnetFile is where flannel records this node's subnet and MTU.
func (a *Agent) FlannelSubnetFile() string { return filepath.Join(RunDir, "flannel", "subnet.env") }

// Agent returns the configuration of the agent that runs inside this server.
func (c *Server) Agent(serverURL string) *Agent {
	return &Agent{
		DataDir:            c.DataDir,
		NodeName:           c.NodeName,
		NodeIP:             c.NodeIP,
		ServerURL:          serverURL,
		ClusterCIDR:        c.ClusterCIDR,
		ServiceCIDR:        c.ServiceCIDR,
		ClusterDNS:         c.ClusterDNS,
		ClusterDomain:      c.ClusterDomain,
		FlannelBackend:     c.Node.FlannelBackend,
		FlannelIface:       c.Node.FlannelIface,
		ExtraKubeletArgs:   c.Node.ExtraKubeletArgs,
		ExtraKubeProxyArgs: c.Node.ExtraKubeProxyArgs,
		NodeLabels:         c.Node.Labels,
		NodeTaints:         c.Node.Taints,
		ResolvConf:         c.Node.ResolvConf,
		PrivateRegistry:    c.Node.PrivateRegistry,
		PauseImage:         PauseImage,
	}
}
