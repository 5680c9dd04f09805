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

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/fsutil"
	"github.com/edgek-io/edgek/pkg/join"
	"github.com/edgek-io/edgek/pkg/k8s"
	"github.com/edgek-io/edgek/pkg/nodeidentity"
	"github.com/edgek-io/edgek/pkg/pki"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/certificate"
)

func serverCAFile(a *config.Agent) string { return filepath.Join(a.TLSDir(), "server-ca.crt") }
func clientCAFile(a *config.Agent) string { return filepath.Join(a.TLSDir(), "client-ca.crt") }

// kubeletClientCert is where the kubelet keeps its current client certificate (in its
// --cert-dir), once the server has signed it.
func kubeletClientCert(a *config.Agent) string {
	return filepath.Join(a.TLSDir(), "kubelet-client-current.pem")
}

// savedClusterFile keeps the settings of the last join.
func savedClusterFile(a *config.Agent) string {
	return filepath.Join(a.AgentDir(), "etc", "cluster.json")
}

// joinServer learns the cluster settings from the server, fills them into a, writes the
// CAs, and gets the kubelet its client certificate if it has none (requestKubeletCert). A node that already has its kubelet
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
	if cert, err := currentKubeletCert(a, time.Now()); err == nil && cert.Leaf.Subject.CommonName != "system:node:"+a.NodeName {
		log.Warn("the kubelet's certificate is for another node name: requesting one for this name", "certificate", cert.Leaf.Subject.CommonName, "node-name", a.NodeName)
		resetKubeletCredentials(a)
	} else if err == nil && saved != nil && saved.ServerURL == a.ServerURL {
		warnClockBehind(cert.Leaf, time.Now(), log)
		rejoin = true
		opts.ClientCert, opts.Retry, opts.RejectGrace = cert, 30*time.Second, time.Second
	}
	log.Info("joining server", "server", a.ServerURL, "with", map[bool]string{true: "the node's certificate", false: "the join token"}[rejoin])
	c, err := join.Fetch(ctx, opts)
	if rejoin && errors.Is(err, join.ErrRejected) {
		log.Info("the server does not accept the node's certificate: joining with the token")
		resetKubeletCredentials(a)
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
	a.Network = c.Network
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
	// The token's bootstrap kubeconfig of older edgek versions is not used any more.
	if err := os.Remove(a.LegacyBootstrapKubeconfig()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", a.LegacyBootstrapKubeconfig(), err)
	}
	if _, err := currentKubeletCert(a, time.Now()); err != nil {
		if err := requestKubeletCert(ctx, a, c.ServerCA, log); err != nil {
			return err
		}
	}
	// Written at every start (unchanged: not rewritten), so that the kubeconfig of an older
	// edgek, which embedded the first certificate, is replaced by one that follows renewals.
	if err := writeKubeletKubeconfig(a); err != nil {
		return err
	}
	if err := ensureKubeProxyCert(ctx, a, time.Now(), log); err != nil {
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

// resetKubeletCredentials removes the kubelet's kubeconfig, client and serving certificates
// (and kube-proxy's, obtained with them),
// so that they are requested again (the serving one by the kubelet: the apiserver verifies it
// with the server CA).
func resetKubeletCredentials(a *config.Agent) {
	old, _ := filepath.Glob(filepath.Join(a.TLSDir(), "kubelet-client-*.pem"))
	serving, _ := filepath.Glob(filepath.Join(a.TLSDir(), "kubelet-server-*.pem"))
	old = append(old, serving...)
	proxy := kubeProxyPair(a)
	old = append(old, proxy.Cert, proxy.Key)
	for _, p := range append(old, a.Kubeconfig("kubelet")) {
		os.Remove(p)
	}
}

// requestKubeletCert gets the kubelet's first client certificate: requested with the bootstrap
// token and vouched for by this machine's identity key, which the server binds the node name
// to (a name bound to another machine is refused, with the reason). The kubelet renews it later by
// itself (writeKubeletKubeconfig names the store it updates).
func requestKubeletCert(ctx context.Context, a *config.Agent, serverCA []byte, log *slog.Logger) error {
	identity, err := nodeidentity.LoadOrCreateKey(a.NodeIdentityKey())
	if err != nil {
		return err
	}
	_, secret, err := pki.ParseToken(a.Token)
	if err != nil {
		return fmt.Errorf("--token: %w", err)
	}
	client, err := kubernetes.NewForConfig(&rest.Config{
		Host:            a.ServerURL,
		BearerToken:     pki.BootstrapToken(secret),
		TLSClientConfig: rest.TLSClientConfig{CAData: serverCA},
		UserAgent:       "edgek-agent",
	})
	if err != nil {
		return fmt.Errorf("bootstrap client: %w", err)
	}
	log.Info("requesting the kubelet's client certificate, vouched for by this machine's identity key", "node-name", a.NodeName, "key", a.NodeIdentityKey())
	// The kubelet used to give up after 5 minutes; so does this, with a clearer message.
	wait, cancel := context.WithTimeoutCause(ctx, 4*time.Minute, errors.New("no answer within 4 minutes"))
	defer cancel()
	cert, keyPEM, err := nodeidentity.Request(wait, client, a.NodeName, identity)
	switch {
	case errors.Is(err, nodeidentity.ErrRefused):
		return fmt.Errorf("join as node %q: %w", a.NodeName, err)
	case err != nil && ctx.Err() == nil:
		return fmt.Errorf("join as node %q: %w (is the server's controller-manager running? edgek kubectl get csr on the server)", a.NodeName, err)
	case err != nil:
		return err
	}
	store, err := certificate.NewFileStore("kubelet-client", a.TLSDir(), a.TLSDir(), "", "")
	if err != nil {
		return fmt.Errorf("kubelet certificate store: %w", err)
	}
	if _, err := store.Update(cert, keyPEM); err != nil {
		return fmt.Errorf("save the kubelet's client certificate: %w", err)
	}
	log.Info("the server signed the kubelet's client certificate", "node-name", a.NodeName)
	return nil
}

// writeKubeletKubeconfig writes the kubeconfig of the kubelet (and of kube-proxy and flannel,
// which use the node's credentials on a joined node). It names the certificate store's
// kubelet-client-current.pem, which the kubelet points at each renewed certificate, so
// every client of the file follows the renewals (client-go reloads files that change).
func writeKubeletKubeconfig(a *config.Agent) error {
	current := kubeletClientCert(a)
	if err := pki.WriteKubeconfigFiles(a.Kubeconfig("kubelet"), a.ServerURL, serverCAFile(a), pki.CertPair{Cert: current, Key: current}, 0o600); err != nil {
		return fmt.Errorf("write the kubelet's kubeconfig: %w", err)
	}
	return nil
}

// kubeProxyPair is where a joined node keeps kube-proxy's certificate and key.
func kubeProxyPair(a *config.Agent) pki.CertPair {
	return pki.CertPair{Cert: filepath.Join(a.TLSDir(), "client-kube-proxy.crt"), Key: filepath.Join(a.TLSDir(), "client-kube-proxy.key")}
}

// ensureKubeProxyCert gives a joined node's kube-proxy its own identity, system:kube-proxy:
// unless its certificate has more than pki.RenewBefore left, the node requests a new one
// with its kubelet credentials (the server's approver signs off that subject for nodes),
// then writes kube-proxy's kubeconfig, which names the files (kube-proxy follows renewals).
// Run at every start and by the hourly certificate check. A node that cannot reach the
// server goes on with a certificate that is due but still valid.
func ensureKubeProxyCert(ctx context.Context, a *config.Agent, now time.Time, log *slog.Logger) error {
	pair := kubeProxyPair(a)
	var leaf *x509.Certificate
	if cert, err := tls.LoadX509KeyPair(pair.Cert, pair.Key); err == nil {
		leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	valid := leaf != nil && now.Before(leaf.NotAfter)
	if valid && leaf.NotAfter.Sub(now) > pki.RenewBefore {
		return writeKubeProxyKubeconfig(a)
	}
	wait := 2 * time.Minute
	if valid {
		wait = 20 * time.Second
	}
	if err := requestKubeProxyCert(ctx, a, wait, log); err != nil {
		if !valid {
			return err
		}
		log.Warn("could not renew kube-proxy's certificate; it goes on with the current one and retries within the hour",
			"not-after", leaf.NotAfter.UTC().Format(time.RFC3339), "error", err.Error())
	}
	return writeKubeProxyKubeconfig(a)
}

// requestKubeProxyCert gets kube-proxy a new certificate and key, waiting at most wait.
func requestKubeProxyCert(ctx context.Context, a *config.Agent, wait time.Duration, log *slog.Logger) error {
	client, err := k8s.Client(a.Kubeconfig("kubelet"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	certPEM, keyPEM, err := nodeidentity.RequestKubeProxy(ctx, client)
	if err != nil {
		return fmt.Errorf("request kube-proxy's certificate: %w (a server older than this agent does not sign it: upgrade servers first)", err)
	}
	pair := kubeProxyPair(a)
	if err := fsutil.WriteFileAtomic(pair.Key, keyPEM, 0o600); err != nil {
		return fmt.Errorf("save kube-proxy's key: %w", err)
	}
	if err := fsutil.WriteFileAtomic(pair.Cert, certPEM, 0o644); err != nil {
		return fmt.Errorf("save kube-proxy's certificate: %w", err)
	}
	log.Info("the server signed kube-proxy's client certificate", "user", nodeidentity.KubeProxyUser)
	return nil
}

func writeKubeProxyKubeconfig(a *config.Agent) error {
	if err := pki.WriteKubeconfigFiles(a.Kubeconfig("kube-proxy"), a.ServerURL, serverCAFile(a), kubeProxyPair(a), 0o600); err != nil {
		return fmt.Errorf("write kube-proxy's kubeconfig: %w", err)
	}
	return nil
}
