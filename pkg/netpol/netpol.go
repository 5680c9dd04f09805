// Package netpol enforces NetworkPolicies on a node with kube-router's network policy
// controller (github.com/cloudnativelabs/kube-router/v2, pkg/controllers/netpol) used as a
// library, as K3s does: iptables chains and ipsets for the pods on this node, for ingress and
// egress, namespace and pod selectors, ipBlocks, ports and named ports. Only the policy
// controller is linked; kube-router's routing (BGP) and service proxy are not.
//
// It needs the host's iptables (as kube-proxy does) and ipset commands.
package netpol

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol"
	"github.com/cloudnativelabs/kube-router/v2/pkg/healthcheck"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	"github.com/cloudnativelabs/kube-router/v2/pkg/utils"
	"github.com/coreos/go-iptables/iptables"
	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"

	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/k8s"
	"github.com/edgek-io/edgek/pkg/killall"
)

// Name is the component's name (in the log).
const Name = "network-policy"

// nodePortRange is the apiserver's --service-node-port-range (its default), which
// kube-router keeps open to every pod.
const nodePortRange = "30000:32767"

// Options is what the controller needs. Built once by the caller.
type Options struct {
	// Kubeconfig is the identity it reads pods, namespaces and NetworkPolicies with
	// (kube-proxy's, system:kube-proxy, which the server's bootstrap lets read them).
	Kubeconfig string
	// NodeName is this node: the policies are enforced for the pods running here.
	NodeName string
	// ServiceCIDR is the cluster's Service range (traffic to ClusterIPs is left to kube-proxy).
	ServiceCIDR netip.Prefix
	// Marker is a file made once the controller runs: Cleanup removes rules only where it
	// exists, so the chains of another kube-router (a CNI of the user's) are left alone.
	Marker string
	Log    *slog.Logger
}

// NeedsIPSet is the error when the host lacks the ipset command.
var NeedsIPSet = errors.New("network policy enforcement needs the ipset command: install it (Debian/Ubuntu: apt-get install ipset, Alpine: apk add ipset, Fedora: dnf install ipset), or start the server with --disable-network-policy")

// New returns the node's network-policy component: ready once the first full sync of the
// rules has started (the controller reports each sync as it begins).
func New(o Options) daemon.Component {
	synced := make(chan struct{})
	return &daemon.Upstream{
		ComponentName: Name,
		Prepare:       func(ctx context.Context) (func(context.Context) error, error) { return o.prepare(ctx, synced) },
		Health: func(ctx context.Context) error {
			select {
			case <-synced:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("first network policy sync: %w", context.Cause(ctx))
			}
		},
	}
}

// prepare builds the controller. The node checked for ipset before starting anything (the
// agent's prepare); should it be gone since, ipset save fails here with NeedsIPSet.
func (o Options) prepare(ctx context.Context, synced chan struct{}) (func(context.Context) error, error) {
	client, err := k8s.Client(o.Kubeconfig)
	if err != nil {
		return nil, err
	}
	kr := options.NewKubeRouterConfig()
	kr.ClusterIPCIDRs = []string{o.ServiceCIDR.String()}
	kr.EnableIPv4, kr.EnableIPv6 = true, false
	kr.NodePortRange = nodePortRange
	kr.HostnameOverride = o.NodeName
	kr.RunFirewall, kr.RunRouter, kr.RunServiceProxy = true, false, false
	kr.MetricsEnabled = false

	ipt, err := iptables.NewWithProtocol(iptables.ProtocolIPv4)
	if err != nil {
		return nil, fmt.Errorf("network policy: iptables: %w", err)
	}
	set, err := utils.NewIPSet(false)
	if err != nil {
		return nil, fmt.Errorf("network policy: ipset: %w", err)
	}
	if err := set.Save(); err != nil {
		return nil, fmt.Errorf("network policy: ipset save: %w (%w)", err, NeedsIPSet)
	}
	f := informers.NewSharedInformerFactory(client, 0)
	pods := f.Core().V1().Pods().Informer()
	namespaces := f.Core().V1().Namespaces().Informer()
	policies := f.Networking().V1().NetworkPolicies().Informer()

	// The controller reads this node's address from its Node, which the kubelet registers a
	// moment after it starts.
	var npc *netpol.NetworkPolicyController
	deadline := time.Now().Add(2 * time.Minute)
	for attempt, delay := 1, 500*time.Millisecond; ; attempt, delay = attempt+1, min(2*delay, 5*time.Second) {
		npc, err = netpol.NewNetworkPolicyController(client, kr, pods, policies, namespaces, &sync.Mutex{},
			map[v1.IPFamily]utils.IPTablesHandler{v1.IPv4Protocol: ipt},
			map[v1.IPFamily]utils.IPSetHandler{v1.IPv4Protocol: set})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("network policy controller: %w", err)
		}
		log := o.Log.Debug
		if attempt%5 == 0 {
			log = o.Log.Warn
		}
		log("network policy controller cannot start yet (waiting for this node's Node object), retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("network policy controller: %w (last: %w)", context.Cause(ctx), err)
		case <-time.After(delay):
		}
	}
	if err := os.WriteFile(o.Marker, nil, 0o600); err != nil {
		return nil, fmt.Errorf("network policy: %w", err)
	}
	pods.AddEventHandler(npc.PodEventHandler)
	namespaces.AddEventHandler(npc.NamespaceEventHandler)
	policies.AddEventHandler(npc.NetworkPolicyEventHandler)

	return func(ctx context.Context) error {
		f.Start(ctx.Done())
		for _, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return nil // stopped before the caches filled
			}
		}
		// Each full sync reports on this channel (a blocking send): the first one makes the
		// component ready.
		beats := make(chan *healthcheck.ControllerHeartbeat, 1)
		stopped := make(chan struct{})
		go func() {
			// Drained until the controller has stopped: a sync in progress at shutdown
			// still sends its beat.
			first := true
			for {
				select {
				case <-beats:
					if first {
						close(synced)
						first = false
					}
				case <-stopped:
					return
				}
			}
		}()
		var wg sync.WaitGroup
		wg.Add(1)
		go npc.Run(beats, ctx.Done(), &wg)
		<-ctx.Done()
		wg.Wait()
		close(stopped)
		return nil
	}, nil
}

// owned reports whether an iptables chain or ipset name is the policy controller's.
func owned(name string) bool {
	for _, p := range []string{"KUBE-ROUTER-", "KUBE-NWPLCY-", "KUBE-POD-FW-", "KUBE-SRC-", "KUBE-DST-"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Cleanup removes what the controller of an earlier start left on this host, for a node
// that now runs with network policy disabled: its chains and the rules that jump to them or
// match its sets (else the old policies would go on dropping traffic), then its ipsets, then
// the marker. Without the marker (New never ran here) it does nothing: the chains may be
// another kube-router's. Run it before kube-proxy and flannel, which write the same table.
func Cleanup(ctx context.Context, marker string, log *slog.Logger) error {
	if _, err := os.Stat(marker); err != nil {
		return nil
	}
	dump, err := exec.CommandContext(ctx, "iptables-save", "-t", "filter").Output()
	if err != nil {
		return fmt.Errorf("iptables-save: %w", err)
	}
	input, removed := killall.FilterSave(string(dump), owned)
	if len(removed) == 0 {
		return os.Remove(marker)
	}
	restore := exec.CommandContext(ctx, "iptables-restore", "-w")
	restore.Stdin = strings.NewReader(input)
	if out, err := restore.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore: %w: %s", err, out)
	}
	var sets []string
	if out, err := exec.CommandContext(ctx, "ipset", "list", "-n").Output(); err == nil {
		for _, name := range strings.Fields(string(out)) {
			if owned(name) {
				sets = append(sets, name)
			}
		}
	}
	for _, name := range sets {
		if out, err := exec.CommandContext(ctx, "ipset", "destroy", name).CombinedOutput(); err != nil {
			return fmt.Errorf("ipset destroy %s: %w: %s", name, err, out)
		}
	}
	log.Info("network policy is disabled: removed the rules and sets an earlier start left", "rules", len(removed), "sets", len(sets))
	return os.Remove(marker)
}
