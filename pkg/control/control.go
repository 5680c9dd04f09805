// Package control runs the Kubernetes control plane in-process: kube-apiserver,
// kube-scheduler and kube-controller-manager, each a daemon.Component.
package control

import (
	"context"
	"net"
	"strconv"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/control/args"
	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/k8s"
	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/pkg/upstream"
)

// LocalURL is the apiserver URL for clients on this host.
func LocalURL(c *config.Server) string {
	host := "127.0.0.1"
	if b := c.BindAddress; b.IsValid() && !b.IsUnspecified() {
		host = b.String()
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(c.HTTPSPort))
}

// NewAPIServer returns the kube-apiserver component. etcd is called at Start, once the
// datastore runs.
func NewAPIServer(c *config.Server, b *pki.Bundle, etcd func() config.EtcdEndpoints) daemon.Component {
	return &daemon.Upstream{
		ComponentName: "kube-apiserver",
		Prepare: func(ctx context.Context) (func(context.Context) error, error) {
			if c.AuditLog != "" {
				if err := EnsureAuditPolicy(c.AuditPolicyFile()); err != nil {
					return nil, err
				}
			}
			if c.PodSecurity != "" {
				if err := WritePodSecurity(c.PodSecurityFile(), c.PodSecurity); err != nil {
					return nil, err
				}
			}
			return k8s.PrepareAPIServer(ctx, args.APIServer(args.Inputs{Server: c, TLS: b, Etcd: etcd()}))
		},
		Health: func(ctx context.Context) error {
			return upstream.WaitHealthy(ctx, LocalURL(c)+"/readyz", b.ServerCACert, &b.Admin)
		},
	}
}

// NewScheduler returns the kube-scheduler component.
func NewScheduler(c *config.Server, b *pki.Bundle) daemon.Component {
	return &daemon.Upstream{
		ComponentName: "kube-scheduler",
		Prepare: func(context.Context) (func(context.Context) error, error) {
			return k8s.PrepareScheduler(args.Scheduler(args.Inputs{Server: c, TLS: b}))
		},
		Health: func(ctx context.Context) error {
			return upstream.WaitHealthy(ctx, localHealthz(c.SchedulerPort()), servingCA(b, c.ExtraSchedulerArgs), nil)
		},
	}
}

// NewControllerManager returns the kube-controller-manager component.
func NewControllerManager(c *config.Server, b *pki.Bundle) daemon.Component {
	return &daemon.Upstream{
		ComponentName: "kube-controller-manager",
		Prepare: func(context.Context) (func(context.Context) error, error) {
			return k8s.PrepareControllerManager(args.ControllerManager(args.Inputs{Server: c, TLS: b}))
		},
		Health: func(ctx context.Context) error {
			return upstream.WaitHealthy(ctx, localHealthz(c.ControllerManagerSecurePort()), servingCA(b, c.ExtraControllerManagerArgs), nil)
		},
	}
}

// servingCA is the CA to verify a component's health endpoint with: the server CA, which
// issued its serving certificate, unless an extra argument gave it another certificate (then
// none: the local health endpoint carries no data).
func servingCA(b *pki.Bundle, extra []string) string {
	if _, ok := config.ExtraArg(extra, "tls-cert-file"); ok {
		return ""
	}
	return b.ServerCACert
}

func localHealthz(port int) string {
	return "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/healthz"
}
