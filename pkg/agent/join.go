package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/fsutil"
	"github.com/edgek-io/edgek/pkg/join"
	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/pkg/preflight"
)

func serverCAFile(a *config.Agent) string { return filepath.Join(a.TLSDir(), "server-ca.crt") }
func clientCAFile(a *config.Agent) string { return filepath.Join(a.TLSDir(), "client-ca.crt") }

// kubeletClientCert is where the kubelet keeps its current client certificate (in its
// --cert-dir), once the server has signed it.
func kubeletClientCert(a *config.Agent) string {
	return filepath.Join(a.TLSDir(), "kubelet-client-current.pem")
}

// Run runs a standalone agent (edgek agent) that joins the server a.ServerURL with
// a.Token, until ctx ends or a component fails. a must be validated.
func Run(ctx context.Context, a *config.Agent, log *slog.Logger) error {
	if err := preflight.WritableDir(a.AgentDir(), a.DataDir); err != nil {
		return err
	}
	lock, err := preflight.Lock(a.LockFile(), "edgek agent or server", a.DataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := preflight.CheckPorts(preflight.NodePorts()); err != nil {
		return err
	}
	if err := joinServer(ctx, a, log); err != nil {
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

// joinServer learns the cluster settings from the server, fills them into a, and writes
// the CAs and the kubelet's bootstrap kubeconfig.
func joinServer(ctx context.Context, a *config.Agent, log *slog.Logger) error {
	pinned, err := os.ReadFile(serverCAFile(a))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the saved server CA: %w", err)
	}
	log.Info("joining server", "server", a.ServerURL)
	c, err := join.Fetch(ctx, join.Options{ServerURL: a.ServerURL, Token: a.Token, Pinned: pinned, Log: log})
	if err != nil {
		return err
	}
	a.ClusterCIDR, a.ServiceCIDR = c.ClusterCIDR, c.ServiceCIDR
	a.ClusterDNS, a.ClusterDomain = c.ClusterDNS, c.ClusterDomain
	a.FlannelBackend = c.FlannelBackend
	if err := os.MkdirAll(a.TLSDir(), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", a.TLSDir(), err)
	}
	for path, data := range map[string][]byte{serverCAFile(a): c.ServerCA, clientCAFile(a): c.ClientCA} {
		if err := fsutil.WriteFileAtomic(path, data, 0o644); err != nil {
			return fmt.Errorf("save the server's CAs: %w", err)
		}
	}
	_, secret, err := pki.ParseToken(a.Token)
	if err != nil {
		return fmt.Errorf("--token: %w", err)
	}
	if err := pki.WriteTokenKubeconfig(a.BootstrapKubeconfig(), a.ServerURL, c.ServerCA, pki.BootstrapToken(secret), 0o600); err != nil {
		return err
	}
	log.Info("joined server", "server", a.ServerURL, "cluster-cidr", c.ClusterCIDR, "service-cidr", c.ServiceCIDR,
		"cluster-dns", c.ClusterDNS, "flannel-backend", c.FlannelBackend)
	return nil
}

// waitCredentials waits, on a joining agent, until the kubelet holds the client certificate
// the server signed: flannel and kube-proxy use the kubelet's kubeconfig.
func waitCredentials(ctx context.Context, a *config.Agent, log *slog.Logger) error {
	if !a.Joins() {
		return nil
	}
	logged := false
	for {
		if _, err := os.Stat(kubeletClientCert(a)); err == nil {
			return nil
		}
		if !logged {
			log.Info("waiting for the server to sign the kubelet's client certificate")
			logged = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the kubelet's client certificate was not signed: %w (is the server's controller-manager running?)", context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
