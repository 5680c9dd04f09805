// Package agent assembles the node side of edgek: containerd (a supervised child process),
// image import, the kubelet, flannel and kube-proxy, as daemon components in start order.
//
// Run is `edgek agent`: preflight, join the server, prepare the node, run its components.
// A server runs the same Components in its own process (pkg/server).
package agent

import (
	"context"
	"log/slog"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/pki"
)

// Options is what an agent needs besides its configuration.
type Options struct {
	Agent *config.Agent
	// ServerTLS is the server's PKI when the agent runs inside the server process: the
	// node's certificates are issued from it directly.
	ServerTLS *pki.Bundle
	Log       *slog.Logger
}

// Run runs a standalone agent (edgek agent) that joins the server a.ServerURL with
// a.Token, until ctx ends or a component fails. a must be validated.
func Run(ctx context.Context, a *config.Agent, log *slog.Logger) error {
	lock, err := checkPreflight(a)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := joinServer(ctx, a, log); err != nil {
		if ctx.Err() != nil { // stopped while joining: not a failure
			log.Info("shutting down during the join", "reason", context.Cause(ctx))
			return nil
		}
		return err
	}
	comps, err := Components(Options{Agent: a, Log: log})
	if err != nil {
		return err
	}
	onReady := func() error {
		log.Info("edgek agent is ready", "server", a.ServerURL, "node-name", a.NodeName)
		return nil
	}
	return daemon.Run(ctx, log, onReady, comps...)
}

// Components prepares the node (binaries, certificates, configuration files: see prepare)
// and returns its components in start order.
func Components(o Options) ([]daemon.Component, error) {
	n, err := prepare(o)
	if err != nil {
		return nil, err
	}
	var comps []daemon.Component
	if !enforcesPolicies(o.Agent) {
		comps = append(comps, n.networkPolicyCleanup())
	}
	comps = append(comps,
		n.containerd(),
		n.images(),
		n.kubelet(),
		n.flannel(),
		n.serviceRoute(),
		n.kubeProxy(),
		n.localStorage(),
	)
	if enforcesPolicies(o.Agent) {
		comps = append(comps, n.networkPolicy())
	}
	if o.Agent.Joins() {
		comps = append(comps, n.certificates())
	}
	return comps, nil
}

// enforcesPolicies reports whether the node runs the network policy controller: unless the
// server disabled it, or the cluster brings its own CNI (--flannel-backend none).
func enforcesPolicies(a *config.Agent) bool {
	return !a.DisableNetworkPolicy && a.FlannelBackend != "none"
}
