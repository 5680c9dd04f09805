package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/config"
)

// serverConfig builds the server configuration from parsed flags. It does not validate.
func serverConfig(ctx *cli.Context) (*config.Server, error) {
	var errs []error
	addr := func(flag string) netip.Addr {
		v := ctx.String(flag)
		if v == "" {
			return netip.Addr{}
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s %q is not an IP address", flag, v))
		}
		return a
	}
	prefix := func(flag string) netip.Prefix {
		p, err := netip.ParsePrefix(ctx.String(flag))
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s %q is not a CIDR like 10.42.0.0/16", flag, ctx.String(flag)))
		}
		return p.Masked()
	}
	c := &config.Server{
		DataDir:                    ctx.String("data-dir"),
		BindAddress:                addr("bind-address"),
		HTTPSPort:                  ctx.Int("https-listen-port"),
		NodeIP:                     addr("node-ip"),
		NodeName:                   strings.ToLower(ctx.String("node-name")),
		ClusterCIDR:                prefix("cluster-cidr"),
		ServiceCIDR:                prefix("service-cidr"),
		ClusterDNS:                 addr("cluster-dns"),
		ClusterDomain:              ctx.String("cluster-domain"),
		TLSSANs:                    ctx.StringSlice("tls-san"),
		ExtraAPIServerArgs:         ctx.StringSlice("kube-apiserver-arg"),
		ExtraSchedulerArgs:         ctx.StringSlice("kube-scheduler-arg"),
		ExtraControllerManagerArgs: ctx.StringSlice("kube-controller-manager-arg"),
		WriteKubeconfig:            ctx.String("write-kubeconfig"),
		DisableAgent:               ctx.Bool("disable-agent"),
		Disable:                    ctx.StringSlice("disable"),
		SecretsEncryption:          ctx.Bool("secrets-encryption"),
		AuditLog:                   ctx.String("audit-log"),
		PodSecurity:                ctx.String("pod-security"),
		Node:                       nodeSettings(ctx),
		Debug:                      ctx.Bool("debug"),
		Datastore: config.Datastore{
			Endpoint: ctx.String("datastore-endpoint"),
			CAFile:   ctx.String("datastore-cafile"),
			CertFile: ctx.String("datastore-certfile"),
			KeyFile:  ctx.String("datastore-keyfile"),
			Wait:     ctx.Duration("datastore-timeout"),
		},
	}
	var err error
	if c.Token, err = tokenFrom(ctx); err != nil {
		errs = append(errs, err)
	}
	mode, err := strconv.ParseUint(ctx.String("write-kubeconfig-mode"), 8, 32)
	if err != nil {
		errs = append(errs, fmt.Errorf("--write-kubeconfig-mode %q is not an octal file mode like 0600", ctx.String("write-kubeconfig-mode")))
	}
	c.WriteKubeconfigMode = os.FileMode(mode)
	if err := fillDefaults(c); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// fillDefaults sets what depends on the host: node name and node IP.
func fillDefaults(c *config.Server) error {
	return hostDefaults(&c.NodeName, &c.NodeIP)
}

func hostDefaults(name *string, ip *netip.Addr) error {
	if *name == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("read hostname: %w (set --node-name)", err)
		}
		*name = strings.ToLower(host)
	}
	if !ip.IsValid() {
		detected, err := config.DetectNodeIP()
		if err != nil {
			return err
		}
		*ip = detected
	}
	return nil
}

// agentConfig builds and validates the configuration of `edgek agent`. The cluster
// settings come from the server at start.
func agentConfig(ctx *cli.Context) (*config.Agent, error) {
	n := nodeSettings(ctx)
	a := &config.Agent{
		DataDir:            ctx.String("data-dir"),
		NodeName:           strings.ToLower(ctx.String("node-name")),
		ServerURL:          ctx.String("server"),
		FlannelIface:       n.FlannelIface,
		ExtraKubeletArgs:   n.ExtraKubeletArgs,
		ExtraKubeProxyArgs: n.ExtraKubeProxyArgs,
		NodeLabels:         n.Labels,
		NodeTaints:         n.Taints,
		ResolvConf:         n.ResolvConf,
		PrivateRegistry:    n.PrivateRegistry,
		PauseImage:         config.PauseImage,

		ProtectKernelDefaults: n.ProtectKernelDefaults,
	}
	var errs []error
	var err error
	if a.Token, err = tokenFrom(ctx); err != nil {
		return a, err
	}
	if v := ctx.String("node-ip"); v != "" {
		ip, err := netip.ParseAddr(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("--node-ip %q is not an IP address", v))
		}
		a.NodeIP = ip
	}
	if len(errs) == 0 {
		if err := hostDefaults(&a.NodeName, &a.NodeIP); err != nil {
			errs = append(errs, err)
		}
	}
	n.FlannelBackend = config.DefaultFlannelBackend // the server's is used; not an agent flag
	errs = append(errs, n.Validate(), a.Validate())
	return a, errors.Join(errs...)
}

func nodeSettings(ctx *cli.Context) config.NodeSettings {
	return config.NodeSettings{
		FlannelBackend:     ctx.String("flannel-backend"),
		FlannelIface:       ctx.String("flannel-iface"),
		ExtraKubeletArgs:   ctx.StringSlice("kubelet-arg"),
		ExtraKubeProxyArgs: ctx.StringSlice("kube-proxy-arg"),
		Labels:             ctx.StringSlice("node-label"),
		Taints:             ctx.StringSlice("node-taint"),
		ResolvConf:         ctx.String("resolv-conf"),
		PrivateRegistry:    ctx.String("private-registry"),

		ProtectKernelDefaults: ctx.Bool("protect-kernel-defaults"),
	}
}

// tokenFrom returns --token, else the contents of --token-file (trimmed).
func tokenFrom(ctx *cli.Context) (string, error) {
	if t := strings.TrimSpace(ctx.String("token")); t != "" {
		return t, nil
	}
	f := ctx.String("token-file")
	if f == "" {
		return "", nil
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}
