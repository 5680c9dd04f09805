package agent

import (
	"context"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/edgek-io/edgek/pkg/agent/containerd"
	"github.com/edgek-io/edgek/pkg/agent/flannel"
	"github.com/edgek-io/edgek/pkg/agent/kubelet"
	"github.com/edgek-io/edgek/pkg/agent/kubeproxy"
	"github.com/edgek-io/edgek/pkg/certwatch"
	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/k8s"
	"github.com/edgek-io/edgek/pkg/localstorage"
	"github.com/edgek-io/edgek/pkg/netpol"
	"github.com/edgek-io/edgek/pkg/upstream"
)

// The node's components, in the order Components starts them.

func (n *node) containerd() daemon.Component {
	return containerd.New(n.agent, containerd.Host{
		BinDir:              n.binDir,
		SystemdCgroup:       n.cgroupDriver == "systemd",
		RestrictOOMScoreAdj: n.restrictOOMScoreAdj,
		RegistryAuth:        n.regs.CRIConfig(),
	}, n.exe, n.log.With("component", "containerd"))
}

// images imports the images edgek carries and the air-gap archives (images.go).
func (n *node) images() daemon.Component {
	return &imageComponent{agent: n.agent, binDir: n.binDir, log: n.log.With("component", "images")}
}

func (n *node) kubelet() daemon.Component {
	a, log := n.agent, n.log.With("component", "kubelet")
	return &daemon.Upstream{
		ComponentName: "kubelet",
		Prepare: func(ctx context.Context) (func(context.Context) error, error) {
			args := kubelet.Args(a)
			log.Debug("kubelet arguments", "args", args)
			return k8s.PrepareKubelet(ctx, a.KubeletConfigFile(), args)
		},
		Health: func(ctx context.Context) error {
			return upstream.WaitHealthy(ctx, healthz(config.KubeletHealthzPort), "", nil)
		},
	}
}

func (n *node) flannel() daemon.Component {
	a := n.agent
	return flannel.New(flannel.Options{
		Kubeconfig:  a.Kubeconfig("kubelet"),
		NodeName:    a.NodeName,
		NodeIP:      a.NodeIP,
		Iface:       a.FlannelIface,
		Backend:     a.FlannelBackend,
		ClusterCIDR: a.ClusterCIDR,
		SubnetFile:  a.FlannelSubnetFile(),
		CNIConfDir:  a.CNIConfDir(),
		RunDir:      filepath.Dir(a.FlannelSubnetFile()),
		IPAMDir:     n.ipamDir,
		Log:         n.log.With("component", "flannel"),
	})
}

// serviceRoute routes ClusterIPs on a host without a default route (routes.go).
func (n *node) serviceRoute() daemon.Component {
	return &daemon.Step{StepName: "service-route", Do: func(context.Context) error {
		return ensureServiceRoute(n.agent.ServiceCIDR, n.agent.NodeIP, n.log)
	}}
}

func (n *node) kubeProxy() daemon.Component {
	return &daemon.Upstream{
		ComponentName: "kube-proxy",
		Prepare: func(context.Context) (func(context.Context) error, error) {
			return k8s.PrepareKubeProxy(kubeproxy.Args(n.agent))
		},
		Health: func(ctx context.Context) error {
			return upstream.WaitHealthy(ctx, healthz(config.KubeProxyHealthzPort), "", nil)
		},
	}
}

// networkPolicy enforces NetworkPolicies for this node's pods (pkg/netpol), with kube-proxy's
// identity (which reads pods, namespaces and policies).
func (n *node) networkPolicy() daemon.Component {
	a := n.agent
	return netpol.New(netpol.Options{Kubeconfig: a.Kubeconfig("kube-proxy"), NodeName: a.NodeName, ServiceCIDR: a.ServiceCIDR,
		Marker: a.NetworkPolicyMarker(), Log: n.log.With("component", netpol.Name)})
}

// networkPolicyCleanup, with network policy disabled (or left to the CNI: --flannel-backend
// none), removes the rules an earlier start's controller left; first, before kube-proxy and
// flannel write the same table.
func (n *node) networkPolicyCleanup() daemon.Component {
	return &daemon.Step{StepName: "network-policy-cleanup", Do: func(ctx context.Context) error {
		if err := netpol.Cleanup(ctx, n.agent.NetworkPolicyMarker(), n.log.With("component", "network-policy-cleanup")); err != nil {
			n.log.Warn("could not remove the rules of an earlier network policy controller", "err", err)
		}
		return nil
	}}
}

// localStorage keeps the directories of the local-path volumes pinned to this node
// (pkg/localstorage), with the node's credentials.
func (n *node) localStorage() daemon.Component {
	a := n.agent
	return &daemon.Upstream{ComponentName: "local-storage", Prepare: func(context.Context) (func(context.Context) error, error) {
		client, err := k8s.Client(a.Kubeconfig("kubelet"))
		if err != nil {
			return nil, err
		}
		s := &localstorage.Node{Client: client, NodeName: a.NodeName, Dir: a.LocalStorageDir(), Log: n.log.With("component", "local-storage")}
		return s.Run, nil
	}}
}

// certificates, on a joined node: the kubelet renews its own certificates, and this renews
// kube-proxy's and warns when one is close to expiry all the same (a server out of reach for
// months). In a server, the server's watcher covers the node's certificates.
func (n *node) certificates() daemon.Component {
	a, log := n.agent, n.log.With("component", "certificates")
	return &daemon.Upstream{ComponentName: "certificates", Prepare: func(context.Context) (func(context.Context) error, error) {
		return func(ctx context.Context) error {
			return certwatch.Run(ctx, certwatch.Options{
				Dirs:   []string{a.TLSDir()},
				Renew:  func() error { return ensureKubeProxyCert(ctx, a, time.Now(), log) },
				Node:   a.NodeName,
				Client: func() (kubernetes.Interface, error) { return k8s.Client(a.Kubeconfig("kubelet")) },
				Log:    log,
			})
		}, nil
	}}
}

func healthz(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) + "/healthz" }
