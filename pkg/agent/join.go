package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgek-io/edgek/pkg/checkconfig"
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
	if err := preflight.MemoryCgroup(checkconfig.Env{}); err != nil {
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

// savedClusterFile keeps the settings of the last join.
func savedClusterFile(a *config.Agent) string {
	return filepath.Join(a.AgentDir(), "etc", "cluster.json")
}

// joinServer learns the cluster settings from the server, fills them into a, and writes
// the CAs and the kubelet's bootstrap kubeconfig. A node that already has its kubelet
// certificate authenticates with it (the join token may have changed since), and starts
// with the settings of its last join if the server cannot be reached: its pods keep being
// managed while the server is away.
func joinServer(ctx context.Context, a *config.Agent, log *slog.Logger) error {
	pinned, err := os.ReadFile(serverCAFile(a))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the saved server CA: %w", err)
	}
	saved, _ := join.Load(savedClusterFile(a))
	opts := join.Options{ServerURL: a.ServerURL, Token: a.Token, Pinned: pinned, Log: log}
	rejoin := false
	if cert, err := currentKubeletCert(a, time.Now()); err == nil && saved != nil && saved.ServerURL == a.ServerURL {
		warnClockBehind(cert.Leaf, time.Now(), log)
		rejoin = true
		opts.ClientCert, opts.Retry, opts.RejectGrace = cert, 30*time.Second, time.Second
	}
	log.Info("joining server", "server", a.ServerURL, "with", map[bool]string{true: "the node's certificate", false: "the join token"}[rejoin])
	c, err := join.Fetch(ctx, opts)
	if rejoin && errors.Is(err, join.ErrRejected) {
		log.Info("the server does not accept the node's certificate: joining with the token")
		opts.ClientCert, opts.Retry, opts.RejectGrace = nil, 0, 0
		c, err = join.Fetch(ctx, opts)
	}
	switch {
	case err == nil:
	case rejoin && errors.Is(err, join.ErrUnreachable) && ctx.Err() == nil:
		log.Warn("cannot reach the server: starting with the settings of the last join", "server", a.ServerURL, "error", err.Error())
		c = &saved.Cluster
	default:
		return err
	}
	if saved != nil && (saved.ServerURL != a.ServerURL || string(saved.Cluster.ServerCA) != string(c.ServerCA)) {
		// Another server, or the same one reinstalled: the kubelet's credentials are for the
		// old one and would be kept (the kubelet only checks they have not expired).
		log.Warn("the server changed since the last join: the kubelet requests a new certificate", "server", a.ServerURL)
		resetKubeletCredentials(a)
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
	if err := os.MkdirAll(filepath.Dir(savedClusterFile(a)), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(savedClusterFile(a)), err)
	}
	if err := (join.Saved{ServerURL: a.ServerURL, Cluster: *c}).Save(savedClusterFile(a)); err != nil {
		return fmt.Errorf("save the cluster settings: %w", err)
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

// currentKubeletCert returns the kubelet's client certificate unless it has expired at now
// (cert.Leaf is set). Like the kubelet, it does not refuse a certificate whose NotBefore is
// still ahead: that means this node's clock is behind (a board without RTC before NTP), and
// the server, which signed it, judges it by its own clock.
func currentKubeletCert(a *config.Agent, now time.Time) (*tls.Certificate, error) {
	path := kubeletClientCert(a)
	cert, err := tls.LoadX509KeyPair(path, path)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, err
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%s expired at %s", path, leaf.NotAfter)
	}
	cert.Leaf = leaf
	return &cert, nil
}

// warnClockBehind warns when the node's clock is earlier than its certificate's start.
func warnClockBehind(leaf *x509.Certificate, now time.Time, log *slog.Logger) {
	if now.Before(leaf.NotBefore) {
		log.Warn("the system clock is earlier than the kubelet certificate's start: the clock is wrong (no RTC, no NTP yet?); enable NTP (timedatectl set-ntp true) or set the clock (date -s)",
			"clock", now.UTC().Format(time.RFC3339), "certificate-not-before", leaf.NotBefore.Format(time.RFC3339))
	}
}

// resetKubeletCredentials removes the kubelet's kubeconfig and client certificates, so that
// it bootstraps again.
func resetKubeletCredentials(a *config.Agent) {
	old, _ := filepath.Glob(filepath.Join(a.TLSDir(), "kubelet-client-*.pem"))
	for _, p := range append(old, a.Kubeconfig("kubelet")) {
		os.Remove(p)
	}
}

// waitCredentials waits, on a joining agent, until the kubelet holds the client certificate
// the server signed: flannel and kube-proxy use the kubelet's kubeconfig.
func waitCredentials(ctx context.Context, a *config.Agent, log *slog.Logger) error {
	if !a.Joins() {
		return nil
	}
	logged := false
	// The kubelet itself exits after 5 minutes without a certificate; fail first, clearly.
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if _, err := currentKubeletCert(a, time.Now()); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the kubelet's client certificate was not signed within 4 minutes: is the server's controller-manager running? (edgek kubectl get csr on the server)")
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
