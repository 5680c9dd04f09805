package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/manifests"
	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/logging"
	"github.com/edgek-io/edgek/pkg/version"
)

func serverCommand(ctx context.Context, stderr io.Writer, r Runners) *cli.Command {
	s := serverSettings()
	return &cli.Command{
		Name:  "server",
		Usage: "run the Kubernetes control plane (and, unless --disable-agent, an agent)",
		Flags: s.Flags(),
		Action: func(cc *cli.Context) error {
			// Not Before: App sets that to read the config file.
			if err := noArgs(cc); err != nil {
				return err
			}
			c, err := serverConfig(cc, s)
			if err == nil {
				err = c.Validate(append(manifests.Names(), config.ServiceLB))
			}
			if err != nil {
				return fmt.Errorf("invalid configuration: %w", err)
			}
			log := logging.New(stderr, c.Debug)
			logging.RouteUpstream(log, c.Debug)
			log.Info("starting edgek server", "version", version.Version, "data-dir", c.DataDir, "node-ip", c.NodeIP, "node-name", c.NodeName)
			return r.Server(ctx, c, log)
		},
	}
}

// serverSettings are the flags of `edgek server`: its own, the cluster's network, and the
// node settings it shares with `edgek agent`.
func serverSettings() settings[config.Server] {
	type c = config.Server
	type n = config.Network
	network := settings[n]{
		prefixSetting("cluster-cidr", config.DefaultClusterCIDR, "pod network CIDR", func(s *n) *netip.Prefix { return &s.ClusterCIDR }),
		prefixSetting("service-cidr", config.DefaultServiceCIDR, "Service ClusterIP CIDR", func(s *n) *netip.Prefix { return &s.ServiceCIDR }),
		addrSetting("cluster-dns", config.DefaultClusterDNS, "cluster DNS Service IP (inside --service-cidr)", func(s *n) *netip.Addr { return &s.ClusterDNS }),
		stringSetting("cluster-domain", config.DefaultClusterDomain, "cluster DNS domain", func(s *n) *string { return &s.ClusterDomain }),
		stringSetting("flannel-backend", config.DefaultFlannelBackend, "pod network backend: vxlan, host-gw or none (bring your own CNI)", func(s *n) *string { return &s.FlannelBackend }),
		boolSetting("disable-network-policy", "do not enforce NetworkPolicies on the nodes (e.g. your CNI does)", func(s *n) *bool { return &s.DisableNetworkPolicy }),
	}
	datastore := settings[config.Datastore]{
		stringSetting("datastore-endpoint", "", "postgres://, mysql:// or https:// (etcd) URL; default: embedded SQLite", func(d *config.Datastore) *string { return &d.Endpoint }),
		stringSetting("datastore-cafile", "", "CA file for the external datastore", func(d *config.Datastore) *string { return &d.CAFile }),
		stringSetting("datastore-certfile", "", "client certificate file for the external datastore", func(d *config.Datastore) *string { return &d.CertFile }),
		stringSetting("datastore-keyfile", "", "client key file for the external datastore", func(d *config.Datastore) *string { return &d.KeyFile }),
		durationSetting("datastore-timeout", config.DefaultDatastoreWait, "how long start-up waits for an external datastore", func(d *config.Datastore) *time.Duration { return &d.Wait }),
	}
	s := settings[c]{
		flagOnly[c](configFlag()),
		boolSetting(debugFlagName, "log at debug level", func(s *c) *bool { return &s.Debug }),
		stringSetting(dataDirFlagName, config.DefaultDataDir, dataDirUsage, func(s *c) *string { return &s.DataDir }, "EDGEK_DATA_DIR"),
		addrSetting("bind-address", "0.0.0.0", "address the apiserver listens on", func(s *c) *netip.Addr { return &s.BindAddress }),
		intSetting("https-listen-port", config.DefaultHTTPSPort, "apiserver port", func(s *c) *int { return &s.HTTPSPort }),
	}
	s = append(s, within(network, func(s *c) *n { return &s.Network })...)
	s = append(s, stringsSetting("tls-san", "extra hostname or IP for the apiserver certificate (repeatable)", func(s *c) *[]string { return &s.TLSSANs }))
	s = append(s, tokenSettings(func(s *c) *string { return &s.Token })...)
	s = append(s, within(datastore, func(s *c) *config.Datastore { return &s.Datastore })...)
	s = append(s,
		stringsSetting("kube-apiserver-arg", "extra kube-apiserver flag as key=value (repeatable)", func(s *c) *[]string { return &s.ExtraAPIServerArgs }),
		stringsSetting("kube-scheduler-arg", "extra kube-scheduler flag as key=value (repeatable)", func(s *c) *[]string { return &s.ExtraSchedulerArgs }),
		stringsSetting("kube-controller-manager-arg", "extra kube-controller-manager flag as key=value (repeatable)", func(s *c) *[]string { return &s.ExtraControllerManagerArgs }),
		stringSetting("write-kubeconfig", config.DefaultKubeconfig, "where to write the admin kubeconfig", func(s *c) *string { return &s.WriteKubeconfig }, "EDGEK_KUBECONFIG_OUTPUT"),
		setting[c]{flags: []cli.Flag{str("write-kubeconfig-mode", "0600", "file mode of the admin kubeconfig (octal)", "EDGEK_KUBECONFIG_MODE")}, read: func(cc *cli.Context, s *c) error {
			mode, err := strconv.ParseUint(cc.String("write-kubeconfig-mode"), 8, 32)
			if err != nil {
				return fmt.Errorf("--write-kubeconfig-mode %q is not an octal file mode like 0600", cc.String("write-kubeconfig-mode"))
			}
			s.WriteKubeconfigMode = os.FileMode(mode)
			return nil
		}},
		boolSetting("disable-agent", "run only the control plane", func(s *c) *bool { return &s.DisableAgent }),
		stringsSetting("disable", "bundled addon not to deploy, removed if deployed: coredns, dashboard, local-storage, servicelb (repeatable or comma-separated)", func(s *c) *[]string { return &s.Disable }),
		stringSetting("audit-log", "", "write the apiserver's audit log to this file (policy: <data-dir>/server/etc/audit-policy.yaml, made if missing)", func(s *c) *string { return &s.AuditLog }),
		boolSetting("secrets-encryption", "encrypt Secrets at rest in the datastore (the key stays in <data-dir>/server/cred)", func(s *c) *bool { return &s.SecretsEncryption }),
		stringSetting("pod-security", "", "Pod Security Standard enforced in every namespace but kube-system: privileged, baseline or restricted (default: none, as Kubernetes)", func(s *c) *string { return &s.PodSecurity }),
	)
	return append(s, within(nodeSettings(), func(s *c) *config.NodeSettings { return &s.NodeSettings })...)
}

// serverConfig builds the server configuration from parsed flags and the host's defaults
// (node name and IP). It does not validate.
func serverConfig(cc *cli.Context, s settings[config.Server]) (*config.Server, error) {
	c := &config.Server{}
	err := s.Read(cc, c)
	return c, errors.Join(err, hostDefaults(&c.NodeSettings))
}
