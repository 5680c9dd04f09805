package join

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/test/testutil"
)

// fakeServer is an HTTPS server with an edgek server's certificates that answers the node
// ConfigMap to the bootstrap token of its join token.
type fakeServer struct {
	url, token string
	ca         []byte
	cluster    Cluster
	nodeCert   tls.Certificate // a node client certificate the server accepts
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	dir := t.TempDir()
	b, err := pki.Ensure(pki.Options{Dir: dir, SANs: []string{"127.0.0.1"}, ClusterDomain: "cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := pki.EnsureToken(filepath.Join(dir, "token"), b.ServerCACert, "")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := pki.ParseToken(token)
	f := &fakeServer{token: token, ca: read(t, b.ServerCACert), cluster: Cluster{
		ClientCA: read(t, b.ClientCACert),
		Network: config.Network{
			ClusterCIDR:    netip.MustParsePrefix("10.42.0.0/16"),
			ServiceCIDR:    netip.MustParsePrefix("10.43.0.0/16"),
			ClusterDNS:     netip.MustParseAddr("10.43.0.10"),
			ClusterDomain:  "cluster.local",
			FlannelBackend: "vxlan",
		},
	}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		byCert := len(r.TLS.PeerCertificates) > 0 && strings.HasPrefix(r.TLS.PeerCertificates[0].Subject.CommonName, "system:node:")
		if !byCert && r.Header.Get("Authorization") != "Bearer "+pki.BootstrapToken(secret) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/api/v1/namespaces/kube-system/configmaps/edgek-node-config" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"kind": "ConfigMap", "data": f.cluster.Data()})
	}))
	cert, err := tls.LoadX509KeyPair(b.APIServerServingChain, b.APIServerServingKey)
	if err != nil {
		t.Fatal(err)
	}
	node, err := pki.EnsureNode(pki.NodeOptions{Dir: filepath.Join(dir, "node"), Server: b, NodeName: "n1", SANs: []string{"n1"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.nodeCert, err = tls.LoadX509KeyPair(node.Kubelet.Cert, node.Kubelet.Key); err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AppendCertsFromPEM(read(t, b.ClientCACert))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: clientCAs}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFetch(t *testing.T) {
	f := newFakeServer(t)
	other := newFakeServer(t)
	_, secret, _ := pki.ParseToken(f.token)
	otherHash, _, _ := pki.ParseToken(other.token)
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "full token", opts: Options{Token: f.token}},
		{name: "bare secret trusts the presented CA", opts: Options{Token: secret}},
		{name: "node certificate instead of the token", opts: Options{Token: "K10" + strings.TrimPrefix(f.token, "K10")[:64] + "::server:wrong", ClientCert: &f.nodeCert}},
		{name: "bare secret with the pinned CA", opts: Options{Token: secret, Pinned: f.ca}},
		{name: "bare secret, another CA pinned", opts: Options{Token: secret, Pinned: other.ca},
			wantErr: "other than the one saved"},
		{name: "token of another server", opts: Options{Token: other.token},
			wantErr: "is not the one the token pins"},
		{name: "right CA, wrong secret", opts: Options{Token: "K10" + strings.TrimPrefix(f.token, "K10")[:64] + "::server:wrong"},
			wantErr: "rejected the join token"},
		{name: "CA hash of another server, right secret", opts: Options{Token: "K10" + otherHash + "::server:" + secret},
			wantErr: "is not the one the token pins"},
		{name: "malformed token", opts: Options{Token: "K10abc::server:x"}, wantErr: "--token: malformed token"},
		{name: "not https", opts: Options{ServerURL: "http://127.0.0.1:6443", Token: f.token}, wantErr: "want https://host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			if o.ServerURL == "" {
				o.ServerURL = f.url
			}
			o.Log, o.Retry, o.RejectGrace = testutil.DiscardLogger(), 3*time.Second, 100*time.Millisecond
			c, err := Fetch(context.Background(), o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Fetch error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error quotes the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if string(c.ServerCA) != string(f.ca) || string(c.ClientCA) != string(f.cluster.ClientCA) {
				t.Error("CAs differ from the server's")
			}
			if c.ClusterCIDR != f.cluster.ClusterCIDR || c.ServiceCIDR != f.cluster.ServiceCIDR ||
				c.ClusterDNS != f.cluster.ClusterDNS || c.ClusterDomain != "cluster.local" || c.FlannelBackend != "vxlan" {
				t.Errorf("cluster = %+v, want %+v", c, f.cluster)
			}
		})
	}
}

func TestFetchRetriesUnreachableServer(t *testing.T) {
	f := newFakeServer(t)
	start := time.Now()
	_, err := Fetch(context.Background(), Options{ServerURL: "https://127.0.0.1:1", Token: f.token, Log: testutil.DiscardLogger(), Retry: 1500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "connect to 127.0.0.1:1") {
		t.Fatalf("Fetch error = %v, want a connection error", err)
	}
	if time.Since(start) < time.Second {
		t.Errorf("gave up after %v, before retrying", time.Since(start))
	}
	if errors.Is(err, ErrRejected) {
		t.Error("unreachable server reported as a rejected token")
	}
}

func TestFromDataRejectsIncompleteConfig(t *testing.T) {
	_, err := fromData(map[string]string{"cluster-cidr": "10.42.0.0/16"})
	for _, w := range []string{"service-cidr", "cluster-dns", "cluster-domain", "flannel-backend", "client-ca.crt"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not name %s", err, w)
		}
	}
}

func TestSavedRoundTrip(t *testing.T) {
	f := newFakeServer(t)
	c := f.cluster
	c.ServerCA = f.ca
	path := filepath.Join(t.TempDir(), "cluster.json")
	if err := (Saved{ServerURL: f.url, Cluster: c}).Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.ServerURL != f.url || string(got.Cluster.ServerCA) != string(f.ca) || got.Cluster.ClusterCIDR != c.ClusterCIDR ||
		got.Cluster.FlannelBackend != "vxlan" || string(got.Cluster.ClientCA) != string(c.ClientCA) {
		t.Errorf("Load = %+v, want %+v", got, c)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// The network policy setting goes to agents; a server older than it publishes no key, and
// has no RBAC for the controller: its agents do not enforce.
func TestNetworkPolicySetting(t *testing.T) {
	f := newFakeServer(t)
	for _, disabled := range []bool{false, true} {
		c := f.cluster
		c.DisableNetworkPolicy = disabled
		got, err := fromData(c.Data())
		if err != nil || got.DisableNetworkPolicy != disabled {
			t.Errorf("DisableNetworkPolicy %v: round trip gave %v, %v", disabled, got.DisableNetworkPolicy, err)
		}
	}
	old := f.cluster.Data()
	delete(old, "network-policy")
	if got, err := fromData(old); err != nil || !got.DisableNetworkPolicy {
		t.Errorf("an older server's data: DisableNetworkPolicy %v, %v; want true", got.DisableNetworkPolicy, err)
	}
}
