package pki

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// NodeOptions describes the certificates of one node, issued by a server's CAs.
type NodeOptions struct {
	// Dir holds the node's files, e.g. <data-dir>/agent/tls. Created 0700.
	Dir string
	// Server is the server's bundle whose CAs sign the node's certificates.
	Server *Bundle
	// NodeName is the node's name: the kubelet's client identity is system:node:<NodeName>.
	NodeName string
	// SANs are the kubelet serving certificate's names and IPs (node name, node IP...).
	SANs []string
	// Now returns the current time. Default (nil): time.Now.
	Now func() time.Time
	// BuildTime and Log are as in Options.
	BuildTime time.Time
	Log       *slog.Logger
}

// NodeBundle holds the paths of a node's certificates.
type NodeBundle struct {
	// ServerCACert verifies the apiserver; ClientCACert verifies clients of the kubelet.
	ServerCACert, ClientCACert string
	Kubelet                    CertPair // client: CN=system:node:<name>, O=system:nodes
	KubeletServing             CertPair // serving cert of the kubelet's API (logs, exec), signed by the kubelet CA
	KubeProxy                  CertPair // client: CN=system:kube-proxy
}

// EnsureNode creates or renews a node's certificates with the server's CAs, under the same
// rules as Ensure. It is used where the agent runs inside the server process.
func EnsureNode(opts NodeOptions) (*NodeBundle, error) {
	if opts.Dir == "" || opts.Server == nil || opts.NodeName == "" {
		return nil, fmt.Errorf("node pki options: Dir, Server and NodeName must be set")
	}
	now, build, log := clockDefaults(opts.Now, opts.BuildTime, opts.Log)
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve node pki dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create node pki dir: %w", err)
	}
	clk, err := loadClock(dir, now, build, log)
	if err != nil {
		return nil, err
	}
	kubeletCA, err := loadCA(opts.Server.KubeletCACert, opts.Server.KubeletCAKey)
	if err != nil {
		return nil, err
	}
	clientCA, err := loadCA(opts.Server.ClientCACert, opts.Server.ClientCAKey)
	if err != nil {
		return nil, err
	}
	dns, ips := splitSANs(opts.SANs)
	b := &NodeBundle{ServerCACert: opts.Server.ServerCACert, ClientCACert: opts.Server.ClientCACert}
	for _, l := range []struct {
		spec leafSpec
		out  *CertPair
	}{
		{leafSpec{name: "client-kubelet", ca: clientCA, cn: "system:node:" + opts.NodeName, orgs: []string{"system:nodes"}}, &b.Kubelet},
		{leafSpec{name: "serving-kubelet", ca: kubeletCA, cn: opts.NodeName, server: true, dns: dns, ips: ips}, &b.KubeletServing},
		{leafSpec{name: "client-kube-proxy", ca: clientCA, cn: "system:kube-proxy"}, &b.KubeProxy},
	} {
		if *l.out, err = ensureLeaf(dir, l.spec, clk, log); err != nil {
			return nil, err
		}
	}
	return b, nil
}
