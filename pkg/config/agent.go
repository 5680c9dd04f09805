package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
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
	// DefaultRunDir holds the runtime state (sockets, flannel's subnet file) of the node
	// that uses the default data dir; see RunDirFor.
	DefaultRunDir = "/run/edgek"
	// RouteProtocol marks the routes edgek adds itself (ip route ... proto 0xed), so that
	// edgek killall can find them.
	RouteProtocol = 0xed
)

// RunDirFor returns the runtime dir of the node whose data dir is dataDir: DefaultRunDir
// for the default data dir, /run/edgek-<8 hex digits of the data dir's hash> otherwise, so
// that nodes with different data dirs on one host never share a socket.
func RunDirFor(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = filepath.Clean(dataDir)
	}
	if abs == DefaultDataDir {
		return DefaultRunDir
	}
	sum := sha256.Sum256([]byte(abs))
	return DefaultRunDir + "-" + hex.EncodeToString(sum[:4])
}

// Agent is the configuration of the node side: containerd, kubelet, kube-proxy, flannel.
// `edgek server` runs one with the server's settings unless --disable-agent (Server.Agent).
type Agent struct {
	// DataDir is the same data dir as the server's; agent state lives in <data-dir>/agent.
	DataDir string
	// ServerURL is the apiserver the agent talks to (https://127.0.0.1:6443 in a server).
	ServerURL string
	// Token is the join token of an agent that joins a server (edgek agent); empty for
	// the agent inside a server. A joining agent learns the Network from the server, and
	// its kubelet gets its credentials by TLS bootstrap.
	Token string
	// Network is the server's.
	Network
	// NodeSettings are this node's own.
	NodeSettings
	// PauseImage is the pod sandbox image, built into edgek.
	PauseImage string
}

// Joins reports whether the agent joins a remote server (see Token).
func (a *Agent) Joins() bool { return a.Token != "" }

// Validate checks what `edgek agent` is given.
func (a *Agent) Validate() error {
	var errs []error
	if a.ServerURL == "" || a.Token == "" {
		errs = append(errs, errors.New("--server and --token (or --token-file) are required (env EDGEK_URL, EDGEK_TOKEN, EDGEK_TOKEN_FILE): the server's URL, e.g. https://10.0.0.1:6443, and the contents of its <data-dir>/server/token"))
	} else if u, err := url.Parse(a.ServerURL); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("--server %q: want https://host:port, e.g. https://10.0.0.1:6443", a.ServerURL))
	}
	if a.NodeName == "" {
		errs = append(errs, errors.New("node name is empty (set --node-name)"))
	}
	if !a.NodeIP.IsValid() {
		errs = append(errs, errors.New("node IP is unknown (set --node-ip)"))
	}
	errs = append(errs, a.NodeSettings.Validate())
	return errors.Join(errs...)
}

// AgentDir is <data-dir>/agent.
func (a *Agent) AgentDir() string { return filepath.Join(a.DataDir, "agent") }

// ContainerdConfigFile is the generated containerd configuration.
func (a *Agent) ContainerdConfigFile() string {
	return filepath.Join(a.AgentDir(), "etc", "containerd", "config.toml")
}

// ContainerdRoot holds containerd's persistent state (content, snapshots, metadata).
func (a *Agent) ContainerdRoot() string { return filepath.Join(a.AgentDir(), "containerd") }

// RunDir holds the node's runtime state; see RunDirFor.
func (a *Agent) RunDir() string { return RunDirFor(a.DataDir) }

// ContainerdState holds containerd's runtime state.
func (a *Agent) ContainerdState() string { return filepath.Join(a.RunDir(), "containerd") }

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

// NetworkPolicyMarker exists once this node's network policy controller has run (pkg/netpol):
// the chains it finds are then its own to remove when the policy is disabled.
func (a *Agent) NetworkPolicyMarker() string {
	return filepath.Join(a.AgentDir(), "etc", "network-policy.enabled")
}

// LockFile is held while an agent (standalone or inside a server) runs on this data dir.
func (a *Agent) LockFile() string { return filepath.Join(a.AgentDir(), "edgek.lock") }

// NodeIdentityKey is the key a joining agent's machine is known by: its node name is bound
// to it on the server (pkg/nodeidentity), and its kubelet's first client certificate is
// made for it.
func (a *Agent) NodeIdentityKey() string { return filepath.Join(a.TLSDir(), "node-identity.key") }

// LegacyBootstrapKubeconfig held the bootstrap token of agents that edgek before node
// identities joined; it is removed at start.
func (a *Agent) LegacyBootstrapKubeconfig() string {
	return filepath.Join(a.AgentDir(), "bootstrap.kubeconfig")
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

// CNIRunDir holds what the CNI plugins keep at run time: host-local's pod IP reservations
// (IPAMDir).
func (a *Agent) CNIRunDir() string { return filepath.Join(a.RunDir(), "cni") }

// IPAMDir holds host-local's pod IP reservations, one directory per network.
func (a *Agent) IPAMDir() string { return filepath.Join(a.CNIRunDir(), "networks") }

// LocalStorageDir holds the node's local-path volumes: --default-local-storage-path, else
// <data-dir>/storage.
func (a *Agent) LocalStorageDir() string {
	if a.LocalStoragePath != "" {
		return filepath.Clean(a.LocalStoragePath)
	}
	return filepath.Join(a.DataDir, "storage")
}

// FlannelSubnetFile is where flannel records this node's subnet and MTU.
func (a *Agent) FlannelSubnetFile() string {
	return filepath.Join(a.RunDir(), "flannel", "subnet.env")
}

// Agent returns the configuration of the agent that runs inside this server.
func (c *Server) Agent(serverURL string) *Agent {
	return &Agent{
		DataDir:      c.DataDir,
		ServerURL:    serverURL,
		Network:      c.Network,
		NodeSettings: c.NodeSettings,
		PauseImage:   PauseImage,
	}
}
