// Package server wires `edgek server`: preflight checks, certificates, token, datastore and
// the control plane, started in order by the daemon package.
package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/edgek-io/edgek/manifests"
	"github.com/edgek-io/edgek/pkg/agent"
	"github.com/edgek-io/edgek/pkg/certwatch"
	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/control"
	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/datastore"
	"github.com/edgek-io/edgek/pkg/deploy"
	"github.com/edgek-io/edgek/pkg/join"
	"github.com/edgek-io/edgek/pkg/k8s"
	"github.com/edgek-io/edgek/pkg/localstorage"
	"github.com/edgek-io/edgek/pkg/metricsserver"
	"github.com/edgek-io/edgek/pkg/nodeidentity"
	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/pkg/secretsenc"
	"github.com/edgek-io/edgek/pkg/server/bootstrap"
	"github.com/edgek-io/edgek/pkg/server/encryption"
	"github.com/edgek-io/edgek/pkg/servicelb"
)

// Run runs a server until ctx ends or a component fails. c must be validated.
func Run(ctx context.Context, c *config.Server, log *slog.Logger) error {
	lock, err := checkPreflight(c)
	if err != nil {
		return err
	}
	defer lock.Close()

	pkiOpts := pki.Options{Dir: c.TLSDir(), SANs: c.ServingSANs(), ClusterDomain: c.ClusterDomain, Log: log.With("component", "pki")}
	bundle, err := pki.Ensure(pkiOpts)
	if err != nil {
		return fmt.Errorf("certificates in %s: %w", c.TLSDir(), err)
	}
	token, err := pki.EnsureToken(c.TokenFile(), bundle.ServerCACert, c.Token)
	if err != nil {
		return fmt.Errorf("join token: %w", err)
	}
	joinInfo, err := publishedJoin(c, bundle, token)
	if err != nil {
		return err
	}
	if err := writeComponentKubeconfigs(c, bundle); err != nil {
		return err
	}
	rewrite, err := secretsEncryption(c, log)
	if err != nil {
		return err
	}
	kine := datastore.New(c, log.With("component", "datastore"))
	nodeCfg := c.Agent(control.LocalURL(c))
	clockDirs := []string{c.TLSDir()}
	if !c.DisableAgent {
		clockDirs = append(clockDirs, nodeCfg.TLSDir())
	}
	comps := []daemon.Component{
		// Keeps the time certificates are judged at on a board without RTC current (pkg/pki).
		&daemon.Upstream{ComponentName: "clock", Prepare: func(context.Context) (func(context.Context) error, error) {
			return func(ctx context.Context) error { return pki.KeepTime(ctx, log.With("component", "pki"), clockDirs...) }, nil
		}},
		kine,
		control.NewAPIServer(c, bundle, kine.Endpoints),
		clusterBootstrap(c, bundle, joinInfo, log),
		certificates(c, pkiOpts, nodeCfg, bundle, clockDirs, log),
		rewrite,
		nodeIdentity(c, log),
		control.NewScheduler(c, bundle),
		control.NewControllerManager(c, bundle),
	}
	if !slices.Contains(c.Disable, localstorage.Addon) {
		provisioner, err := localStorage(ctx, c, log)
		if err != nil {
			return err
		}
		comps = append(comps, provisioner)
	}
	if !slices.Contains(c.Disable, config.ServiceLB) {
		comps = append(comps, serviceLB(c, log))
	}
	if !c.DisableAgent {
		node, err := agent.Components(agent.Options{Agent: nodeCfg, ServerTLS: bundle, Log: log})
		if err != nil {
			return err
		}
		comps = append(comps, node...)
		comps = append(comps, nodeRoles(c))
	}
	// Last, so that a local node has imported the addon images before their pods are created.
	deployer, err := addonDeployer(c, bundle, log)
	if err != nil {
		return err
	}
	comps = append(comps, deployer)
	// After the deployer: the bundled manifest's RBAC is what lets it authenticate callers.
	if !slices.Contains(c.Disable, metricsserver.Addon) {
		ms, err := metricsServer(c, bundle, log)
		if err != nil {
			return err
		}
		comps = append(comps, ms)
	}
	onReady := func() error {
		log.Info("edgek server is ready", "kubeconfig", c.WriteKubeconfig, "token", c.TokenFile())
		return nil
	}
	return daemon.Run(ctx, log, onReady, comps...)
}

// clusterBootstrap sets up in the cluster what edgek's nodes need (pkg/server/bootstrap),
// then writes the admin kubeconfig for users.
func clusterBootstrap(c *config.Server, bundle *pki.Bundle, j bootstrap.Join, log *slog.Logger) daemon.Component {
	return &daemon.Step{StepName: "bootstrap", Do: func(ctx context.Context) error {
		client, err := k8s.Client(c.Kubeconfig("admin"))
		if err != nil {
			return err
		}
		if err := bootstrap.Apply(ctx, client, j); err != nil {
			return err
		}
		if err := pki.WriteKubeconfig(c.WriteKubeconfig, control.LocalURL(c), bundle.ServerCACert, bundle.Admin, c.WriteKubeconfigMode); err != nil {
			return fmt.Errorf("write admin kubeconfig: %w", err)
		}
		log.Info("wrote admin kubeconfig", "path", c.WriteKubeconfig)
		return nil
	}}
}

// nodeRoles gives the server's own node the control-plane role labels, once it is registered.
func nodeRoles(c *config.Server) daemon.Component {
	return &daemon.Step{StepName: "node-roles", Do: func(ctx context.Context) error {
		client, err := k8s.Client(c.Kubeconfig("admin"))
		if err != nil {
			return err
		}
		return bootstrap.LabelServerNode(ctx, client, c.NodeName)
	}}
}

// certificates renews, while the server runs, every certificate it signs once it is due,
// with the same code as at start, and warns about any close to expiry (pkg/certwatch). The
// kubeconfigs of edgek's components name the renewed files; the one written for users embeds
// the admin certificate and is written again when that changes.
func certificates(c *config.Server, pkiOpts pki.Options, node *config.Agent, bundle *pki.Bundle, dirs []string, log *slog.Logger) daemon.Component {
	renew := func() error {
		b, err := pki.Ensure(pkiOpts)
		if err != nil {
			return fmt.Errorf("certificates in %s: %w", c.TLSDir(), err)
		}
		if err := writeComponentKubeconfigs(c, b); err != nil {
			return err
		}
		if err := pki.WriteKubeconfig(c.WriteKubeconfig, control.LocalURL(c), b.ServerCACert, b.Admin, c.WriteKubeconfigMode); err != nil {
			return fmt.Errorf("write admin kubeconfig: %w", err)
		}
		if c.DisableAgent {
			return nil
		}
		_, err = agent.NodeCerts(agent.Options{Agent: node, ServerTLS: bundle, Log: log})
		return err
	}
	o := certwatch.Options{
		Dirs:   dirs,
		Renew:  renew,
		Client: func() (kubernetes.Interface, error) { return k8s.Client(c.Kubeconfig("admin")) },
		Log:    log.With("component", "certificates"),
	}
	if !c.DisableAgent {
		o.Node = c.NodeName
	}
	return &daemon.Upstream{ComponentName: "certificates", Prepare: func(context.Context) (func(context.Context) error, error) {
		return func(ctx context.Context) error { return certwatch.Run(ctx, o) }, nil
	}}
}

// secretsEncryption makes the secrets encryption key at the first start with
// --secrets-encryption and returns the step that rewrites the Secrets stored before with the
// active key (a step that does nothing when encryption is off). Turning it off again is
// refused: the apiserver could not read the Secrets encrypted so far.
func secretsEncryption(c *config.Server, log *slog.Logger) (daemon.Component, error) {
	files := secretsenc.In(c.CredDir())
	noop := &daemon.Step{StepName: "secrets-encryption", Do: func(context.Context) error { return nil }}
	if !c.SecretsEncryption {
		if _, err := os.Stat(files.Config); err == nil {
			return nil, fmt.Errorf("the Secrets of this server are encrypted with the keys in %s: start it with --secrets-encryption (turning encryption off is not supported)", files.Config)
		}
		return noop, nil
	}
	keys, err := files.Ensure(time.Now())
	if err != nil {
		return nil, err
	}
	active := keys[0].Name
	if files.Rewritten() == active {
		return noop, nil
	}
	return &daemon.Step{StepName: "secrets-encryption", Do: func(ctx context.Context) error {
		client, err := k8s.Client(c.Kubeconfig("admin"))
		if err != nil {
			return err
		}
		n, err := encryption.RewriteSecrets(ctx, client)
		if err != nil {
			return fmt.Errorf("encrypt the existing Secrets: %w", err)
		}
		log.Info("rewrote the Secrets with the active encryption key", "key", active, "secrets", n)
		return files.SetRewritten(active)
	}}, nil
}

// publishedJoin is what the server publishes for agents that join with its token.
func publishedJoin(c *config.Server, b *pki.Bundle, token string) (bootstrap.Join, error) {
	_, secret, err := pki.ParseToken(token)
	if err != nil {
		return bootstrap.Join{}, fmt.Errorf("join token: %w", err)
	}
	clientCA, err := os.ReadFile(b.ClientCACert)
	if err != nil {
		return bootstrap.Join{}, fmt.Errorf("client CA: %w", err)
	}
	cluster := join.Cluster{
		ClientCA: clientCA,
		Network:  c.Network,
	}
	return bootstrap.Join{BootstrapToken: pki.BootstrapToken(secret), NodeConfig: cluster.Data()}, nil
}

func writeComponentKubeconfigs(c *config.Server, b *pki.Bundle) error {
	if err := os.MkdirAll(c.CredDir(), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", c.CredDir(), err)
	}
	url := control.LocalURL(c)
	for name, pair := range map[string]pki.CertPair{
		"admin":              b.Admin,
		"scheduler":          b.Scheduler,
		"controller-manager": b.ControllerManager,
		"metrics-server":     b.MetricsServer,
	} {
		if err := pki.WriteKubeconfigFiles(c.Kubeconfig(name), url, b.ServerCACert, pair, 0o600); err != nil {
			return fmt.Errorf("write %s kubeconfig: %w", name, err)
		}
	}
	return nil
}

// addonDeployer renders the bundled manifests with the cluster's settings and returns the
// deploy controller that applies them and the user's manifests.
func addonDeployer(c *config.Server, b *pki.Bundle, log *slog.Logger) (daemon.Component, error) {
	serverCA, err := os.ReadFile(b.ServerCACert)
	if err != nil {
		return nil, fmt.Errorf("read the server CA for the bundled manifests: %w", err)
	}
	bundled, err := manifests.Render(manifests.Vars{
		ClusterDNS:     c.ClusterDNS.String(),
		ClusterDomain:  c.ClusterDomain,
		ClusterCIDR:    c.ClusterCIDR.String(),
		ServiceCIDR:    c.ServiceCIDR.String(),
		CoreDNSImage:   config.CoreDNSImage,
		DashboardImage: config.DashboardImage,
		ServerCABundle: base64.StdEncoding.EncodeToString(serverCA),
	})
	if err != nil {
		return nil, fmt.Errorf("render bundled manifests: %w", err)
	}
	return deploy.New(deploy.Options{
		Dir:        c.ManifestsDir(),
		Kubeconfig: c.Kubeconfig("admin"),
		Bundled:    bundled,
		Disabled:   slices.DeleteFunc(slices.Clone(c.Disable), func(name string) bool { return name == config.ServiceLB }), // in process, no manifest
		Log:        log.With("component", "deploy"),
	}), nil
}

// metricsServer serves the metrics API in process (pkg/metricsserver), scraping every kubelet
// every 15 s (upstream's recommended resolution; what HPAs and `kubectl top` expect).
func metricsServer(c *config.Server, b *pki.Bundle, log *slog.Logger) (daemon.Component, error) {
	client, err := k8s.Client(c.Kubeconfig("admin"))
	if err != nil {
		return nil, fmt.Errorf("metrics-server: %w", err)
	}
	ms := &metricsserver.Config{
		Addr: c.NodeIP, Port: config.MetricsServerPort,
		ServingCert: b.MetricsServerServing.Cert, ServingKey: b.MetricsServerServing.Key,
		Kubeconfig: c.Kubeconfig("metrics-server"),
		ClientCert: b.MetricsServer.Cert, ClientKey: b.MetricsServer.Key,
		KubeletCA:  b.KubeletCACert,
		Resolution: 15 * time.Second,
		Client:     client,
		Log:        log.With("component", metricsserver.Addon),
	}
	return ms.Component(), nil
}

// localStorage provisions the volumes of the bundled local-path StorageClass
// (pkg/localstorage); the nodes make and remove their directories. Its controller is built
// here, before any component runs (see localstorage.Provisioner.Controller).
func localStorage(ctx context.Context, c *config.Server, log *slog.Logger) (daemon.Component, error) {
	client, err := k8s.Client(c.Kubeconfig("admin"))
	if err != nil {
		return nil, fmt.Errorf("local-path provisioner: %w", err)
	}
	p := &localstorage.Provisioner{Client: client, Log: log.With("component", "local-path-provisioner")}
	pc := p.Controller(ctx)
	return &daemon.Upstream{ComponentName: "local-path-provisioner", Prepare: func(context.Context) (func(context.Context) error, error) {
		return func(ctx context.Context) error { pc.Run(ctx); return nil }, nil
	}}, nil
}

// serviceLB gives LoadBalancer Services the nodes' addresses (pkg/servicelb); the ports
// edgek serves on every node are not given to one.
func serviceLB(c *config.Server, log *slog.Logger) daemon.Component {
	return &daemon.Upstream{ComponentName: config.ServiceLB, Prepare: func(context.Context) (func(context.Context) error, error) {
		client, err := k8s.Client(c.Kubeconfig("admin"))
		if err != nil {
			return nil, err
		}
		lb := &servicelb.Controller{Client: client, Log: log.With("component", config.ServiceLB), Reserved: []servicelb.Port{
			{Protocol: "TCP", Port: int32(c.HTTPSPort), What: "the apiserver"},
			{Protocol: "TCP", Port: config.KubeletPort, What: "the kubelet"},
			{Protocol: "UDP", Port: config.FlannelVXLANPort, What: "flannel VXLAN"},
			{Protocol: "TCP", Port: config.MetricsServerPort, What: "metrics-server"},
		}}
		return lb.Run, nil
	}}
}

// nodeIdentity judges the certificates joining agents request (pkg/nodeidentity): the
// server's own node name is never given to one.
func nodeIdentity(c *config.Server, log *slog.Logger) daemon.Component {
	var servers []string
	if !c.DisableAgent {
		servers = append(servers, c.NodeName)
	}
	return &daemon.Upstream{ComponentName: "node-identity", Prepare: func(context.Context) (func(context.Context) error, error) {
		client, err := k8s.Client(c.Kubeconfig("admin"))
		if err != nil {
			return nil, err
		}
		a := &nodeidentity.Approver{Client: client, Group: join.BootstrapGroup, ServerNodes: servers, Log: log.With("component", "node-identity")}
		return a.Run, nil
	}}
}
