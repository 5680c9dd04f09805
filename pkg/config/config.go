// Package config holds edgek's configuration types, their defaults and validation.
//
// A Config is built once (flags ← environment ← config file ← defaults, by pkg/cli),
// validated, and then passed down read-only to every component.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults, as documented in README.md.
const (
	DefaultDataDir         = "/var/lib/edgek"
	DefaultConfigFile      = "/etc/edgek/config.yaml"
	DefaultKubeconfig      = "/etc/edgek/edgek.yaml"
	DefaultKubeconfigMode  = 0o600
	DefaultHTTPSPort       = 6443
	DefaultClusterCIDR     = "10.42.0.0/16"
	DefaultServiceCIDR     = "10.43.0.0/16"
	DefaultClusterDNS      = "10.43.0.10"
	DefaultClusterDomain   = "cluster.local"
	DefaultDatastoreWait   = 30 * time.Second
	SchedulerSecurePort    = 10259
	ControllerManagerPort  = 10257
	maxUnixSocketPathBytes = 107
)

// ServiceLB is the name of the addon that edgek runs in process, with no bundled manifest
// (pkg/servicelb); --disable takes it besides the bundled manifests' names.
const ServiceLB = "servicelb"

// Server is the configuration of `edgek server`.
type Server struct {
	// DataDir holds all state: datastore, certificates, token. Default /var/lib/edgek.
	DataDir string
	// BindAddress is where the apiserver listens. Default 0.0.0.0 (all addresses).
	BindAddress netip.Addr
	// HTTPSPort is the apiserver port. Default 6443.
	HTTPSPort int
	// Network is the cluster's network, published to the agents that join.
	Network
	// NodeSettings are the server's own node's (unless DisableAgent). NodeIP is also the
	// address the apiserver advertises to the cluster.
	NodeSettings
	// TLSSANs are extra names/IPs for the apiserver serving certificate.
	TLSSANs []string
	// Token is the join secret (bare or full K10 form). Default: generated at first start.
	Token string
	// Datastore selects kine's backend.
	Datastore Datastore
	// Extra arguments ("key=value") for the upstream components; they override edgek's own.
	ExtraAPIServerArgs         []string
	ExtraSchedulerArgs         []string
	ExtraControllerManagerArgs []string
	// WriteKubeconfig is where the admin kubeconfig is written. Default /etc/edgek/edgek.yaml.
	WriteKubeconfig string
	// WriteKubeconfigMode is its file mode. Default 0600.
	WriteKubeconfigMode os.FileMode
	// DisableAgent runs only the control plane. Default false.
	DisableAgent bool
	// Disable lists bundled addons (coredns, dashboard, local-storage) not to deploy; deployed ones are removed.
	Disable []string
	// AuditLog, if set, is the file the apiserver writes its audit log to (policy:
	// AuditPolicyFile, written with edgek's default if missing). Default: no audit log.
	AuditLog string
	// PodSecurity is the Pod Security Standard enforced (and audited and warned about) in
	// every namespace but kube-system: privileged, baseline or restricted. Default "": no
	// cluster-wide default (Kubernetes': privileged), namespaces may still set their labels.
	PodSecurity string
	// SecretsEncryption encrypts Secrets at rest with a key in the cred dir (pkg/secretsenc).
	// Default false; once on, it stays on.
	SecretsEncryption bool
	// Debug turns on debug logging. Default false.
	Debug bool
}

// Network is the cluster's network: set on the server, learned from it by joining agents.
type Network struct {
	// ClusterCIDR is the pod network. Default 10.42.0.0/16.
	ClusterCIDR netip.Prefix
	// ServiceCIDR is the Service ClusterIP range. Default 10.43.0.0/16.
	ServiceCIDR netip.Prefix
	// ClusterDNS is the cluster DNS Service IP. Default 10.43.0.10.
	ClusterDNS netip.Addr
	// ClusterDomain is the cluster's DNS domain. Default cluster.local.
	ClusterDomain string
	// FlannelBackend is vxlan (default), host-gw or none (the cluster brings its own CNI).
	FlannelBackend string
	// DisableNetworkPolicy turns off the enforcement of NetworkPolicies on every node
	// (pkg/netpol), e.g. for a CNI that enforces them itself.
	DisableNetworkPolicy bool
}

// NodeSettings are one node's own settings: the flags `edgek server` and `edgek agent`
// share. They are declared once (here, and as flags in pkg/cli) and flow unchanged into
// the node's Agent configuration.
type NodeSettings struct {
	// NodeName is the node's name. Default: the hostname, lower-cased.
	NodeName string
	// NodeIP is the node's address (kubelet --node-ip, flannel's public IP). Default: the
	// address of the interface holding the default route, else the first global unicast
	// address.
	NodeIP netip.Addr
	// FlannelIface is the interface flannel uses. Default: the one holding the node IP.
	FlannelIface string
	// ExtraKubeletArgs and ExtraKubeProxyArgs are "key=value" overrides.
	ExtraKubeletArgs   []string
	ExtraKubeProxyArgs []string
	// NodeLabels ("k=v") and NodeTaints ("k=v:Effect") are set when the node registers.
	NodeLabels []string
	NodeTaints []string
	// ResolvConf is the resolv.conf pods inherit. Default: detected from the host.
	ResolvConf string
	// PrivateRegistry is the registries.yaml (mirrors, auth, TLS). Default /etc/edgek/registries.yaml.
	PrivateRegistry string
	// ProtectKernelDefaults makes the kubelet refuse kernel settings other than its own
	// instead of changing them (checked before start). Default false.
	ProtectKernelDefaults bool
	// LocalStoragePath is where the node keeps local-path volumes (pkg/localstorage).
	// Default "": <data-dir>/storage (see Agent.LocalStorageDir).
	LocalStoragePath string
}

// Validate checks the node settings.
func (n NodeSettings) Validate() error {
	var errs []error
	for _, a := range append(append([]string{}, n.ExtraKubeletArgs...), n.ExtraKubeProxyArgs...) {
		if err := ValidateExtraArg(a); err != nil {
			errs = append(errs, err)
		}
	}
	for _, t := range n.NodeTaints {
		if k, effect, ok := strings.Cut(t, ":"); !ok || k == "" || (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute") {
			errs = append(errs, fmt.Errorf("--node-taint %q must look like key=value:NoSchedule (effects: NoSchedule, PreferNoSchedule, NoExecute)", t))
		}
	}
	if n.LocalStoragePath != "" && !filepath.IsAbs(n.LocalStoragePath) {
		errs = append(errs, fmt.Errorf("--default-local-storage-path %q must be an absolute path", n.LocalStoragePath))
	}
	for _, l := range n.NodeLabels {
		if k, _, ok := strings.Cut(l, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("--node-label %q must look like key=value", l))
		}
	}
	return errors.Join(errs...)
}

// Datastore selects where Kubernetes state lives.
type Datastore struct {
	// Endpoint is empty for embedded SQLite, else a postgres://, mysql:// or https:// (etcd) URL.
	Endpoint string
	// CAFile, CertFile, KeyFile are TLS files for talking to an external datastore.
	CAFile, CertFile, KeyFile string
	// Wait is how long start-up waits for an external datastore to answer. Default 30s.
	Wait time.Duration
}

// Embedded reports whether the datastore is edgek's own SQLite file.
func (d Datastore) Embedded() bool { return d.Endpoint == "" || hasScheme(d.Endpoint, "sqlite") }

// Validate checks the configuration and returns every problem found, joined. addons are the
// names --disable may give: the bundled addons' (manifests.Names(); passed in, so that
// configuration does not depend on what edgek deploys).
func (c *Server) Validate(addons []string) error {
	var errs []error
	switch c.PodSecurity {
	case "", "privileged", "baseline", "restricted":
	default:
		errs = append(errs, fmt.Errorf("--pod-security %q: want privileged, baseline or restricted", c.PodSecurity))
	}
	if c.AuditLog != "" && c.AuditLog != "-" && !filepath.IsAbs(c.AuditLog) {
		errs = append(errs, fmt.Errorf("--audit-log %q must be an absolute path (or - for standard output)", c.AuditLog))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	} else if !filepath.IsAbs(c.DataDir) {
		errs = append(errs, fmt.Errorf("--data-dir %q must be an absolute path", c.DataDir))
	} else if n := len(c.KineSocket()); n > maxUnixSocketPathBytes {
		errs = append(errs, fmt.Errorf("--data-dir %q is too long: the datastore socket path would be %d bytes, the limit is %d", c.DataDir, n, maxUnixSocketPathBytes))
	}
	if c.HTTPSPort < 1 || c.HTTPSPort > 65535 {
		errs = append(errs, fmt.Errorf("--https-listen-port %d is not a port number (1-65535)", c.HTTPSPort))
	}
	if err := c.Network.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.WriteKubeconfig == "" {
		errs = append(errs, errors.New("--write-kubeconfig must not be empty"))
	}
	if c.WriteKubeconfigMode&^0o777 != 0 {
		errs = append(errs, fmt.Errorf("--write-kubeconfig-mode %o has bits outside 0777", c.WriteKubeconfigMode))
	}
	if !c.DisableAgent {
		if err := c.NodeSettings.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range c.Disable {
		if !slices.Contains(addons, d) {
			errs = append(errs, fmt.Errorf("--disable %q: no such bundled addon (there are: %s)", d, strings.Join(addons, ", ")))
		}
	}
	if err := c.Datastore.validate(); err != nil {
		errs = append(errs, err)
	}
	for _, group := range [][]string{c.ExtraAPIServerArgs, c.ExtraSchedulerArgs, c.ExtraControllerManagerArgs} {
		for _, a := range group {
			if err := ValidateExtraArg(a); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, ok := ExtraArg(c.ExtraAPIServerArgs, "secure-port"); ok {
		errs = append(errs, errors.New("--kube-apiserver-arg secure-port: set the apiserver's port with --https-listen-port"))
	}
	for _, p := range []struct {
		flag string
		args []string
	}{{"--kube-scheduler-arg", c.ExtraSchedulerArgs}, {"--kube-controller-manager-arg", c.ExtraControllerManagerArgs}} {
		if v, ok := ExtraArg(p.args, "secure-port"); ok {
			if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 65535 {
				errs = append(errs, fmt.Errorf("%s secure-port=%s: not a port number (1-65535); edgek checks the component's health there", p.flag, v))
			}
		}
	}
	return errors.Join(errs...)
}

// SchedulerPort is the kube-scheduler's secure port: SchedulerSecurePort unless
// --kube-scheduler-arg secure-port=N moves it.
func (c *Server) SchedulerPort() int {
	return portArg(c.ExtraSchedulerArgs, SchedulerSecurePort)
}

// ControllerManagerSecurePort is the kube-controller-manager's secure port:
// ControllerManagerPort unless --kube-controller-manager-arg secure-port=N moves it.
func (c *Server) ControllerManagerSecurePort() int {
	return portArg(c.ExtraControllerManagerArgs, ControllerManagerPort)
}

func portArg(args []string, def int) int {
	if v, ok := ExtraArg(args, "secure-port"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// ExtraArg returns the value the last of args (--kube-*-arg values) gives key, as the
// argument builders do: a later value wins.
func ExtraArg(args []string, key string) (string, bool) {
	var value string
	found := false
	for _, a := range args {
		if k, v, ok := SplitExtraArg(a); ok && k == key {
			value, found = v, true
		}
	}
	return value, found
}

// Validate checks the cluster's network.
func (n Network) Validate() error {
	var errs []error
	if !n.ClusterCIDR.IsValid() {
		errs = append(errs, errors.New("--cluster-cidr is not set"))
	}
	if !n.ServiceCIDR.IsValid() {
		errs = append(errs, errors.New("--service-cidr is not set"))
	}
	if n.ClusterCIDR.IsValid() && n.ServiceCIDR.IsValid() && n.ClusterCIDR.Overlaps(n.ServiceCIDR) {
		errs = append(errs, fmt.Errorf("--cluster-cidr %s overlaps --service-cidr %s", n.ClusterCIDR, n.ServiceCIDR))
	}
	if n.ServiceCIDR.IsValid() && n.ClusterDNS.IsValid() && !n.ServiceCIDR.Contains(n.ClusterDNS) {
		errs = append(errs, fmt.Errorf("--cluster-dns %s is outside --service-cidr %s", n.ClusterDNS, n.ServiceCIDR))
	}
	if n.ServiceCIDR.IsValid() && n.ServiceCIDR.Addr().Is4() && n.ServiceCIDR.Bits() < 12 {
		errs = append(errs, fmt.Errorf("--service-cidr %s is too large: the apiserver allows at most a /12", n.ServiceCIDR))
	}
	if n.ClusterDomain == "" {
		errs = append(errs, errors.New("--cluster-domain must not be empty"))
	}
	switch n.FlannelBackend {
	case "vxlan", "host-gw", "none":
	default:
		errs = append(errs, fmt.Errorf("--flannel-backend %q is not one of vxlan, host-gw, none", n.FlannelBackend))
	}
	return errors.Join(errs...)
}

func (d Datastore) validate() error {
	if d.Embedded() {
		return nil
	}
	for _, s := range []string{"postgres", "postgresql", "mysql", "http", "https"} {
		if hasScheme(d.Endpoint, s) {
			return nil
		}
	}
	return errors.New("--datastore-endpoint must be empty (embedded SQLite) or start with sqlite://, postgres://, mysql://, http:// or https:// (etcd)")
}

// ValidateExtraArg checks one --kube-*-arg value.
func ValidateExtraArg(a string) error {
	k, _, ok := SplitExtraArg(a)
	if !ok || k == "" {
		return fmt.Errorf("extra argument %q must have the form key=value", a)
	}
	return nil
}

// SplitExtraArg splits one --kube-*-arg value, "key=value" or "--key=value", at its first
// "=" into the key without leading dashes and the value; ok is false when there is no "=".
// Validation, ExtraArg and the argument builders (upstream.Build) all read values with it.
func SplitExtraArg(a string) (key, value string, ok bool) {
	key, value, ok = strings.Cut(a, "=")
	return strings.TrimLeft(key, "-"), value, ok
}

func hasScheme(endpoint, scheme string) bool {
	p := scheme + "://"
	return len(endpoint) >= len(p) && endpoint[:len(p)] == p
}

// EtcdEndpoints is how the apiserver reaches the datastore (kine's socket or an external etcd).
type EtcdEndpoints struct {
	Servers                   []string
	CAFile, CertFile, KeyFile string
}

// ServingSANs lists the names the apiserver certificate must carry besides the
// kubernetes.default.svc ones pki adds.
func (c *Server) ServingSANs() []string {
	sans := []string{"127.0.0.1", "::1", "localhost", c.NodeName}
	if host, err := os.Hostname(); err == nil {
		sans = append(sans, host)
	}
	if c.NodeIP.IsValid() {
		sans = append(sans, c.NodeIP.String())
	}
	if c.BindAddress.IsValid() && !c.BindAddress.IsUnspecified() {
		sans = append(sans, c.BindAddress.String())
	}
	if ip, ok := firstServiceIP(c.ServiceCIDR); ok {
		sans = append(sans, ip.String())
	}
	return append(sans, c.TLSSANs...)
}

// firstServiceIP is the ClusterIP of the kubernetes Service.
func firstServiceIP(p netip.Prefix) (netip.Addr, bool) {
	if !p.IsValid() {
		return netip.Addr{}, false
	}
	ip := p.Masked().Addr().Next()
	return ip, p.Contains(ip)
}

// TokenCommand is an `edgek token` invocation, run on a server.
type TokenCommand struct {
	// Op is create, list, delete or rotate.
	Op string
	// DataDir is the server's data dir.
	DataDir string
	// TTL: how long a created token joins agents (0: forever).
	TTL time.Duration
	// Description of a created token.
	Description string
	// IDs of the tokens to delete.
	IDs []string
	// NewToken is the server's new token for rotate ("": a random one).
	NewToken string
	// Force rotate even where the server's configuration sets the token.
	Force bool
}
