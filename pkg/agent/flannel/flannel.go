// Package flannel runs flannel inside edgek: the kube subnet manager (node subnets are the
// podCIDRs the controller-manager allocates), the VXLAN or host-gw backend, flannel's
// iptables masquerade and forward rules, flannel's subnet.env, and the CNI configuration
// pods are wired with.
//
// Flannel leaves what it made on the host when it stops, as upstream does, so that pods
// keep their network across an edgek restart; `edgek killall` removes it: the links
// flannel.1 (vxlan) and cni0 (bridge plugin), routes to other nodes' subnets (vxlan routes
// via flannel.1; host-gw routes via the node interface), and the iptables chains
// nat/FLANNEL-POSTRTG and filter/FLANNEL-FWD with their jumps from POSTROUTING and FORWARD.
package flannel

import (
	"context"
	"errors"
	"fmt"
	"github.com/edgek-io/edgek/pkg/fsutil"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/flannel-io/flannel/pkg/backend"
	"github.com/flannel-io/flannel/pkg/subnet/kube"

	"github.com/edgek-io/edgek/pkg/daemon"

	// Backends register themselves in init.
	_ "github.com/flannel-io/flannel/pkg/backend/hostgw"
	_ "github.com/flannel-io/flannel/pkg/backend/vxlan"
)

const (
	backendVXLAN  = "vxlan"
	backendHostGW = "host-gw"
	backendNone   = "none"

	// annotationPrefix is flanneld's default node annotation prefix (also K3s's).
	annotationPrefix = "flannel.alpha.coreos.com"
	netConfName      = "net-conf.json"
)

// Options configures flannel.
type Options struct {
	// Kubeconfig is the kubeconfig flannel uses: node credentials (system:node:<name>).
	// They must be allowed to list/watch nodes (RBAC) and to patch their own Node.
	Kubeconfig string
	// NodeName is this node's name.
	NodeName string
	// NodeIP is the IPv4 address flannel announces to other nodes.
	NodeIP netip.Addr
	// Iface is the interface flannel uses. Default (""): the interface holding NodeIP.
	Iface string
	// Backend is "vxlan" (default when ""), "host-gw", or "none" (flannel does nothing: the
	// user brings their own CNI).
	Backend string
	// ClusterCIDR is the pod network, e.g. 10.42.0.0/16. Node subnets are the podCIDRs the
	// controller-manager allocates inside it.
	ClusterCIDR netip.Prefix
	// SubnetFile is where flannel's subnet.env is written (config.Agent.FlannelSubnetFile()).
	SubnetFile string
	// CNIConfDir is where 10-flannel.conflist is written (config.Agent.CNIConfDir()).
	CNIConfDir string
	// RunDir is where flannel's net-conf.json is written.
	RunDir string
	// IPAMDir is where the host-local IPAM plugin records the pod IPs in use. On a tmpfs
	// (the node's runtime dir) it empties at reboot, when the pods are gone too, instead of
	// leaking addresses of pods a power cut killed. Default (""): the plugin's /var/lib/cni.
	IPAMDir string
	// Log receives edgek's own messages; flannel logs through klog. Default: slog.Default().
	Log *slog.Logger
}

func (o *Options) validate() error {
	var errs []error
	switch o.Backend {
	case backendVXLAN, backendHostGW, backendNone:
	default:
		errs = append(errs, fmt.Errorf("unknown flannel backend %q (want vxlan, host-gw or none)", o.Backend))
	}
	if !o.ClusterCIDR.IsValid() || !o.ClusterCIDR.Addr().Is4() {
		errs = append(errs, fmt.Errorf("flannel needs an IPv4 cluster CIDR, got %v", o.ClusterCIDR))
	}
	for _, f := range []struct{ name, v string }{
		{"Kubeconfig", o.Kubeconfig}, {"NodeName", o.NodeName}, {"SubnetFile", o.SubnetFile},
		{"CNIConfDir", o.CNIConfDir}, {"RunDir", o.RunDir},
	} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("flannel option %s is empty", f.name))
		}
	}
	return errors.Join(errs...)
}

// Flannel is the flannel component.
type Flannel struct {
	o     Options
	waits waits
	ready chan struct{} // closed once the lease is known and the CNI config written
	task  *daemon.Task
}

var _ daemon.Component = (*Flannel)(nil)

// New returns flannel configured by o.
func New(o Options) *Flannel {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Backend == "" {
		o.Backend = backendVXLAN
	}
	return &Flannel{o: o, waits: defaultWaits, ready: make(chan struct{})}
}

// Name implements daemon.Component.
func (f *Flannel) Name() string { return "flannel" }

// Start checks the host, picks the interface and writes net-conf.json, then runs the rest
// in the background: wait for the node's podCIDR, acquire the lease, set up the backend
// and iptables, write subnet.env and the CNI config, and run the backend until Stop.
func (f *Flannel) Start(ctx context.Context, fail func(error)) error {
	if f.o.Backend == backendNone {
		f.o.Log.Info("flannel is off (backend none): the cluster needs another CNI")
		close(f.ready)
		return nil
	}
	if err := f.o.validate(); err != nil {
		return err
	}
	if err := checkHost(f.o.Log); err != nil {
		return err
	}
	ext, err := lookupExtIface(f.o.Iface, f.o.NodeIP)
	if err != nil {
		return fmt.Errorf("choose flannel's interface: %w", err)
	}
	conf, err := netConf(f.o.Backend, f.o.ClusterCIDR)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(f.netConfPath(), conf, 0o644); err != nil {
		return fmt.Errorf("write flannel net-conf.json: %w", err)
	}
	f.o.Log.Info("starting flannel", "backend", f.o.Backend, "iface", ext.IfaceName,
		"ifaceAddr", ext.IfaceAddr, "publicIP", ext.ExtAddr, "mtu", ext.Iface.MTU)
	f.task = daemon.Go(ctx, fail, func(ctx context.Context) error { return f.run(ctx, ext) })
	return nil
}

// Ready returns once the node's lease is acquired and the CNI config is written.
func (f *Flannel) Ready(ctx context.Context) error {
	select {
	case <-f.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop ends flannel's goroutines and waits for the backend to return. Links, routes and
// iptables rules stay (see the package comment).
func (f *Flannel) Stop() { f.task.Stop() }

func (f *Flannel) netConfPath() string { return filepath.Join(f.o.RunDir, netConfName) }

// run is flannel's background work; it returns when ctx ends or something fails.
func (f *Flannel) run(ctx context.Context, ext *backend.ExternalInterface) error {
	client, err := newClient(f.o.Kubeconfig)
	if err != nil {
		return err
	}
	podCIDR, err := waitForPodCIDR(ctx, client, f.o.NodeName, f.waits, f.o.Log)
	if err != nil {
		return err
	}
	if err := waitForNodeList(ctx, client, f.waits, f.o.Log); err != nil {
		return err
	}
	f.o.Log.Info("flannel found the node's podCIDR", "podCIDR", podCIDR)

	// flannel v0.28.10's kube.NewSubnetManager takes the node's name only from the
	// environment: NODE_NAME, else a lookup of the pod POD_NAMESPACE/POD_NAME (flanneld
	// runs in a DaemonSet). It reads it once, here. edgek runs one flannel per process,
	// so setting the process environment is safe.
	if err := os.Setenv("NODE_NAME", f.o.NodeName); err != nil {
		return fmt.Errorf("set NODE_NAME for flannel: %w", err)
	}
	// setNodeNetworkUnavailable false: no cloud provider sets NetworkUnavailable on edgek
	// nodes, so flannel has no condition to clear (K3s passes false too).
	sm, err := kube.NewSubnetManager(ctx, "", f.o.Kubeconfig, annotationPrefix, f.netConfPath(), false)
	if err != nil {
		return fmt.Errorf("start flannel's kube subnet manager: %w", err)
	}
	config, err := sm.GetNetworkConfig(ctx)
	if err != nil {
		return fmt.Errorf("read flannel network config: %w", err)
	}
	be, err := backend.NewManager(ctx, sm, ext).GetBackend(config.BackendType)
	if err != nil {
		return fmt.Errorf("create flannel backend %s: %w", config.BackendType, err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	bn, err := be.RegisterNetwork(ctx, &wg, config)
	if err != nil {
		return fmt.Errorf("register flannel network (backend %s): %w", config.BackendType, err)
	}
	if err := setupTraffic(ctx, f.o.SubnetFile, config, bn.Lease()); err != nil {
		return err
	}
	if err := f.writeNodeFiles(fromIP4Net(bn.Lease().Subnet), bn.MTU()); err != nil {
		return err
	}
	close(f.ready)

	bn.Run(ctx) // watches other nodes' leases and keeps routes/FDB/ARP entries in line
	if ctx.Err() == nil {
		return errors.New("flannel backend stopped")
	}
	return nil
}

// writeNodeFiles writes subnet.env, then the CNI config, which makes the node's network
// ready for the kubelet.
func (f *Flannel) writeNodeFiles(lease netip.Prefix, mtu int) error {
	// ipMasq true: flannel's own rules masquerade pod traffic leaving the cluster network.
	if err := fsutil.WriteFileAtomic(f.o.SubnetFile, subnetEnv(f.o.ClusterCIDR, lease, mtu, true), 0o644); err != nil {
		return fmt.Errorf("write flannel subnet file: %w", err)
	}
	conf, err := cniConflist(lease, f.o.ClusterCIDR, mtu, f.o.IPAMDir)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(f.o.CNIConfDir, cniConfName), conf, 0o644); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	f.o.Log.Info("flannel is ready", "subnet", lease, "mtu", mtu, "cniConfig", filepath.Join(f.o.CNIConfDir, cniConfName))
	return nil
}
