// Package control runs the Kubernetes control plane in-process: kube-apiserver,
// kube-scheduler and kube-controller-manager, each a daemon.Component.
package control

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/control/args"
	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/k8s"
	"github.com/edgek-io/edgek/pkg/pki"
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
			return WaitHealthy(ctx, LocalURL(c)+"/readyz", b.ServerCACert, &b.Admin)
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
			return WaitHealthy(ctx, localHealthz(c.SchedulerPort()), servingCA(b, c.ExtraSchedulerArgs), nil)
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
			return WaitHealthy(ctx, localHealthz(c.ControllerManagerSecurePort()), servingCA(b, c.ExtraControllerManagerArgs), nil)
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

// WaitHealthy polls url until it answers 200. With caFile the server is verified and the
// client presents cert; without, the server's self-signed certificate is accepted (local
// health endpoints carry no data). Plain http:// URLs work too.
func WaitHealthy(ctx context.Context, url, caFile string, cert *pki.CertPair) error {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		tlsConf.InsecureSkipVerify = true
	} else {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("read CA: %w", err)
		}
		tlsConf.RootCAs = x509.NewCertPool()
		tlsConf.RootCAs.AppendCertsFromPEM(pem)
	}
	if cert != nil {
		kp, err := tls.LoadX509KeyPair(cert.Cert, cert.Key)
		if err != nil {
			return fmt.Errorf("load client certificate: %w", err)
		}
		tlsConf.Certificates = []tls.Certificate{kp}
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}}
	defer client.CloseIdleConnections()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy (last answer: %s): %w", url, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
