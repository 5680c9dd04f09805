package flannel

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Polling intervals; tests shorten them.
type waits struct {
	podCIDRPoll time.Duration // how often the node is read until it has a podCIDR
	listPoll    time.Duration // how often a forbidden node list is retried
	listTimeout time.Duration // how long node listing may stay forbidden
	logEvery    time.Duration // how often a wait that goes on is logged
}

var defaultWaits = waits{
	podCIDRPoll: 500 * time.Millisecond,
	listPoll:    2 * time.Second,
	listTimeout: 2 * time.Minute,
	logEvery:    30 * time.Second,
}

func newClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	return c, nil
}

// waitForPodCIDR returns the node's spec.podCIDR once the node is registered (by the
// kubelet) and has one (from the controller-manager's node IPAM). Flannel's lease
// acquisition fails at once on a node without a podCIDR, so flannel waits for it first,
// as K3s does. Reading one's own Node is allowed to node credentials.
func waitForPodCIDR(ctx context.Context, c kubernetes.Interface, node string, w waits, log *slog.Logger) (string, error) {
	var cidr string
	var last error
	lastLog := time.Now()
	err := wait.PollUntilContextCancel(ctx, w.podCIDRPoll, true, func(ctx context.Context) (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		switch {
		case err != nil:
			last = err
		case n.Spec.PodCIDR == "":
			last = fmt.Errorf("node %s has no podCIDR yet (the controller-manager allocates it)", node)
		default:
			cidr = n.Spec.PodCIDR
			return true, nil
		}
		if time.Since(lastLog) >= w.logEvery {
			log.Info("flannel is waiting for the node's podCIDR", "node", node, "reason", last)
			lastLog = time.Now()
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("wait for podCIDR of node %s (last: %v): %w", node, last, err)
	}
	return cidr, nil
}

// waitForNodeList returns once the client may list nodes. Flannel's kube subnet manager
// lists and watches all nodes to learn the other nodes' subnets; without that right it
// would retry silently for ten minutes. Kubernetes' node authorizer lets node credentials
// (system:node:<name>) read only their own Node, so RBAC must grant list/watch on nodes.
// A forbidden list is retried for a while, since RBAC may be applied while edgek starts.
func waitForNodeList(ctx context.Context, c kubernetes.Interface, w waits, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, w.listTimeout)
	defer cancel()
	var last error
	var lastLog time.Time
	err := wait.PollUntilContextCancel(ctx, w.listPoll, true, func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil {
			return true, nil
		}
		last = err
		if !apierrors.IsForbidden(err) {
			return false, nil // transient (apiserver starting): retry
		}
		if time.Since(lastLog) >= w.logEvery {
			log.Warn("flannel may not list nodes yet; it needs RBAC get/list/watch on nodes", "err", err)
			lastLog = time.Now()
		}
		return false, nil
	})
	if err != nil {
		if last != nil && apierrors.IsForbidden(last) {
			return fmt.Errorf("flannel's credentials may not list nodes (RBAC must grant get/list/watch on nodes): %w", last)
		}
		return fmt.Errorf("list nodes (last: %v): %w", last, err)
	}
	return nil
}
