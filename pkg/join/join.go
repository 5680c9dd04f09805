// Package join is how an agent joins a server: it pins the server's CA with the join token,
// then reads the cluster settings a node needs with the bootstrap token derived from it.
// Both go through the apiserver; the node's own credentials then come from the kubelet's
// TLS bootstrap (a CSR the controller-manager approves and signs).
package join

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/fsutil"
	"github.com/edgek-io/edgek/pkg/pki"
)

// The ConfigMap in which a server publishes the settings its agents need. Bootstrap tokens
// and nodes may read it (see pkg/server/bootstrap).
const (
	ConfigMapNamespace = "kube-system"
	ConfigMapName      = "edgek-node-config"
	// BootstrapGroup is the extra group of the edgek bootstrap token.
	BootstrapGroup = "system:bootstrappers:edgek"
)

// Cluster is what an agent learns from the server it joins.
type Cluster struct {
	// ServerCA verifies the apiserver; ClientCA verifies the apiserver's calls to the
	// kubelet. Both PEM.
	ServerCA, ClientCA []byte
	// Network is the cluster's (its fields are kept flat in the saved JSON).
	config.Network
}

// Data returns the ConfigMap data that publishes c (the server CA is not in it: agents
// pin that one from the TLS handshake).
func (c Cluster) Data() map[string]string {
	return map[string]string{
		"client-ca.crt":   string(c.ClientCA),
		"cluster-cidr":    c.ClusterCIDR.String(),
		"service-cidr":    c.ServiceCIDR.String(),
		"cluster-dns":     c.ClusterDNS.String(),
		"cluster-domain":  c.ClusterDomain,
		"flannel-backend": c.FlannelBackend,
		"network-policy":  strconv.FormatBool(!c.DisableNetworkPolicy),
	}
}

// fromData parses the ConfigMap data written by Data.
func fromData(d map[string]string) (Cluster, error) {
	var c Cluster
	var errs []error
	var err error
	if c.ClusterCIDR, err = netip.ParsePrefix(d["cluster-cidr"]); err != nil {
		errs = append(errs, fmt.Errorf("cluster-cidr: %w", err))
	}
	if c.ServiceCIDR, err = netip.ParsePrefix(d["service-cidr"]); err != nil {
		errs = append(errs, fmt.Errorf("service-cidr: %w", err))
	}
	if c.ClusterDNS, err = netip.ParseAddr(d["cluster-dns"]); err != nil {
		errs = append(errs, fmt.Errorf("cluster-dns: %w", err))
	}
	if c.ClusterDomain = d["cluster-domain"]; c.ClusterDomain == "" {
		errs = append(errs, errors.New("cluster-domain is empty"))
	}
	if c.FlannelBackend = d["flannel-backend"]; c.FlannelBackend == "" {
		errs = append(errs, errors.New("flannel-backend is empty"))
	}
	// Absent from the data of servers older than network policy: not enforced, as there
	// (such a server also lacks the RBAC the controller reads with).
	c.DisableNetworkPolicy = d["network-policy"] != "true"
	c.ClientCA = []byte(d["client-ca.crt"])
	if block, _ := pem.Decode(c.ClientCA); block == nil {
		errs = append(errs, errors.New("client-ca.crt holds no PEM certificate"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("server's %s/%s ConfigMap: %w", ConfigMapNamespace, ConfigMapName, err)
	}
	return c, nil
}

// Options says how to join.
type Options struct {
	// ServerURL is the apiserver, https://host:port.
	ServerURL string
	// Token is the join token: the full K10<ca-hash>::server:<secret> form pins the CA;
	// a bare secret trusts the CA the server presents (or Pinned) and is logged.
	Token string
	// Pinned is the server CA saved at an earlier join, if any: without a CA hash in the
	// token, the server must still present this CA.
	Pinned []byte
	// ClientCert, if set, authenticates the agent instead of the token's bootstrap token:
	// a node that already has its kubelet client certificate uses it.
	ClientCert *tls.Certificate
	// Retry is how long an unreachable server is retried. Default 5 minutes.
	Retry time.Duration
	// RejectGrace is how long a rejected token is retried, for a server that has not yet
	// published it. Default 30 s.
	RejectGrace time.Duration
	Log         *slog.Logger
}

// ErrRejected means the server does not accept the token (or the node's certificate).
var ErrRejected = errors.New("the server rejected the join token")

// ErrUnreachable means the server did not answer (or not as an edgek server) until
// Options.Retry passed.
var ErrUnreachable = errors.New("no answer from the server")

// Fetch pins the server's CA and reads the cluster settings. A server that cannot be
// reached (yet) is retried until o.Retry has passed, a rejected token for o.RejectGrace (a
// server that just started may not have published it); a CA that does not match the token
// fails at once.
func Fetch(ctx context.Context, o Options) (*Cluster, error) {
	u, err := url.Parse(o.ServerURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want https://host:port (the server's apiserver, port 6443 by default)", o.ServerURL)
	}
	host, port := u.Hostname(), u.Port()
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i] // an IPv6 zone: for dialing only, certificates do not carry it
	}
	if port == "" {
		port = "443"
	}
	caHash, secret, err := pki.ParseToken(o.Token)
	if err != nil {
		return nil, fmt.Errorf("--token: %w", err)
	}
	if o.Retry == 0 {
		o.Retry = 5 * time.Minute
	}
	if o.RejectGrace == 0 {
		o.RejectGrace = 30 * time.Second
	}
	deadline := time.Now().Add(o.Retry)
	var firstReject time.Time
	for attempt := 1; ; attempt++ {
		c, err := fetchOnce(ctx, u, net.JoinHostPort(u.Hostname(), port), host, caHash, pki.BootstrapToken(secret), o)
		if err == nil {
			return c, nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return nil, fatal.err
		}
		if errors.Is(err, ErrRejected) {
			if firstReject.IsZero() {
				firstReject = time.Now()
			} else if time.Since(firstReject) > o.RejectGrace {
				return nil, fmt.Errorf("join %s: %w", o.ServerURL, err)
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("join %s: %w: %w", o.ServerURL, ErrUnreachable, err)
		}
		o.Log.Info("waiting for the server", "server", o.ServerURL, "attempt", attempt, "reason", err.Error())
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("join %s: %w (last error: %v)", o.ServerURL, context.Cause(ctx), err)
		case <-time.After(min(time.Duration(attempt)*time.Second, 10*time.Second)):
		}
	}
}

// fatalError wraps an error that retrying cannot fix.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return f.err.Error() }

func fetchOnce(ctx context.Context, u *url.URL, addr, host, caHash, bearer string, o Options) (*Cluster, error) {
	ca, err := serverCA(ctx, addr, host, caHash, o)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
	if o.ClientCert != nil {
		tlsConfig.Certificates = []tls.Certificate{*o.ClientCert}
	}
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer client.CloseIdleConnections()
	cmURL := u.JoinPath("/api/v1/namespaces", ConfigMapNamespace, "configmaps", ConfigMapName)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cmURL.String(), nil)
	if err != nil {
		return nil, &fatalError{err}
	}
	if o.ClientCert == nil {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		// Also what a server that has not yet published its bootstrap token answers: retried.
		return nil, fmt.Errorf("%w (401 Unauthorized): check --token against the server's <data-dir>/server/token", ErrRejected)
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("server answered %s for %s: is it an edgek server that has finished starting?", resp.Status, cmURL.Path)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("server answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(body, &cm); err != nil {
		return nil, &fatalError{fmt.Errorf("server's node configuration: %w", err)}
	}
	c, err := fromData(cm.Data)
	if err != nil {
		return nil, &fatalError{err}
	}
	c.ServerCA = ca
	return &c, nil
}

// serverCA returns the CA the server presents at the end of its certificate chain, after
// checking it against the token's hash (or the pinned CA) and that it signed the server's
// certificate for host.
func serverCA(ctx context.Context, addr, host, caHash string, o Options) ([]byte, error) {
	d := tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 10 * time.Second},
		// Verified below, against the CA the token pins.
		Config: &tls.Config{InsecureSkipVerify: true, ServerName: host, MinVersion: tls.VersionTLS12}, //nolint:gosec
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	conn.Close()
	if len(chain) < 2 {
		return nil, &fatalError{fmt.Errorf("%s presents no CA certificate after its own: is it an edgek server?", addr)}
	}
	// The CA part of the chain, in the form the token's hash is taken over.
	var caPEM []byte
	for _, c := range chain[1:] {
		caPEM = append(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	caCert := chain[len(chain)-1]
	switch {
	case caHash != "":
		if got := pki.CAHashPEM(caPEM); got != caHash {
			return nil, &fatalError{fmt.Errorf("the CA of %s (sha256 %s) is not the one the token pins (%s): the token belongs to another server, or something intercepts the connection", addr, got, caHash)}
		}
	case o.Pinned != nil:
		if pinned, err := pki.NormalizeCertsPEM(o.Pinned); err != nil || !bytes.Equal(pinned, caPEM) {
			return nil, &fatalError{fmt.Errorf("%s presents a CA other than the one saved at this node's first join: use the server's full K10... token", addr)}
		}
	default:
		o.Log.Warn("the token has no CA hash: trusting the CA the server presents; use the full K10... token from the server's <data-dir>/server/token to pin it", "ca-sha256", pki.CAHashPEM(caPEM))
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1 : len(chain)-1] {
		inter.AddCert(c)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host}); err != nil {
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			// Often this machine's clock (a board without a real-time clock, before NTP):
			// worth retrying, the clock may be set meanwhile.
			return nil, fmt.Errorf("the certificate of %s is not valid at this machine's time %s: check the clock (%w)", addr, time.Now().UTC().Format(time.RFC3339), err)
		}
		return nil, &fatalError{fmt.Errorf("the certificate of %s does not verify against its CA: %w (add the address to the server's --tls-san)", addr, err)}
	}
	return caPEM, nil
}

// Saved is what an agent keeps of its last join, to start when the server cannot be reached.
type Saved struct {
	ServerURL string
	Cluster   Cluster
}

// Save writes s to path (JSON, 0600).
func (s Saved) Save(path string) error {
	d := s.Cluster.Data()
	d["server-url"] = s.ServerURL
	d["server-ca.crt"] = string(s.Cluster.ServerCA)
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, data, 0o600)
}

// Load reads what Save wrote.
func Load(path string) (*Saved, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d map[string]string
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c, err := fromData(d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.ServerCA = []byte(d["server-ca.crt"])
	return &Saved{ServerURL: d["server-url"], Cluster: c}, nil
}
