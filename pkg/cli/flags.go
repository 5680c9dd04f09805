package cli

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/config"
)

// env returns the environment variable that mirrors a flag: EDGEK_<FLAG>.
func env(flag string, aliases ...string) []string {
	vars := []string{"EDGEK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
	for _, a := range aliases {
		if !slices.Contains(vars, a) {
			vars = append(vars, a)
		}
	}
	return vars
}

func str(name, value, usage string, aliases ...string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: env(name, aliases...)}
}

func strs(name, usage string) *cli.StringSliceFlag {
	return &cli.StringSliceFlag{Name: name, Usage: usage, EnvVars: env(name)}
}

func boolean(name, usage string) *cli.BoolFlag {
	return &cli.BoolFlag{Name: name, Usage: usage, EnvVars: env(name)}
}

// configFlagName names the config file. Its own value cannot come from a config file.
const configFlagName = "config"

// The flags are built anew for every App: urfave/cli keeps parse state in flag values, which
// must not leak from one run (or test) to the next.
func configFlag() cli.Flag {
	return &cli.StringFlag{
		Name: configFlagName, Aliases: []string{"c"}, Value: config.DefaultConfigFile,
		Usage: "YAML config file; keys are long flag names (plus <file>.d/*.yaml)",
		// EDGEK_CONFIG_FILE as K3s's K3S_CONFIG_FILE; EDGEK_CONFIG as every other flag's.
		EnvVars: []string{"EDGEK_CONFIG_FILE", "EDGEK_CONFIG"},
	}
}

func debugFlag() cli.Flag { return boolean("debug", "log at debug level") }

func dataDirFlag() cli.Flag {
	return str("data-dir", config.DefaultDataDir, "directory for all state", "EDGEK_DATA_DIR")
}

func serverFlags() []cli.Flag {
	return append([]cli.Flag{
		configFlag(),
		debugFlag(),
		dataDirFlag(),
		str("bind-address", "0.0.0.0", "address the apiserver listens on"),
		&cli.IntFlag{Name: "https-listen-port", Value: config.DefaultHTTPSPort, Usage: "apiserver port", EnvVars: env("https-listen-port")},
		str("node-ip", "", "IP address this node advertises (default: address of the default-route interface)"),
		str("node-name", "", "node name (default: hostname)"),
		str("cluster-cidr", config.DefaultClusterCIDR, "pod network CIDR"),
		str("service-cidr", config.DefaultServiceCIDR, "Service ClusterIP CIDR"),
		str("cluster-dns", config.DefaultClusterDNS, "cluster DNS Service IP (inside --service-cidr)"),
		str("cluster-domain", config.DefaultClusterDomain, "cluster DNS domain"),
		strs("tls-san", "extra hostname or IP for the apiserver certificate (repeatable)"),
		str("token", "", "join secret for agents (default: generated at first start, kept in <data-dir>/server/token)"),
		str("token-file", "", "file holding the join secret (instead of --token)"),
		str("datastore-endpoint", "", "postgres://, mysql:// or https:// (etcd) URL; default: embedded SQLite"),
		str("datastore-cafile", "", "CA file for the external datastore"),
		str("datastore-certfile", "", "client certificate file for the external datastore"),
		str("datastore-keyfile", "", "client key file for the external datastore"),
		&cli.DurationFlag{Name: "datastore-timeout", Value: config.DefaultDatastoreWait, Usage: "how long start-up waits for an external datastore", EnvVars: env("datastore-timeout")},
		strs("kube-apiserver-arg", "extra kube-apiserver flag as key=value (repeatable)"),
		strs("kube-scheduler-arg", "extra kube-scheduler flag as key=value (repeatable)"),
		strs("kube-controller-manager-arg", "extra kube-controller-manager flag as key=value (repeatable)"),
		str("write-kubeconfig", config.DefaultKubeconfig, "where to write the admin kubeconfig", "EDGEK_KUBECONFIG_OUTPUT"),
		str("write-kubeconfig-mode", "0600", "file mode of the admin kubeconfig (octal)", "EDGEK_KUBECONFIG_MODE"),
		boolean("disable-agent", "run only the control plane"),
		strs("disable", "bundled addon not to deploy, removed if deployed: coredns, dashboard (repeatable or comma-separated)"),
		str("audit-log", "", "write the apiserver's audit log to this file (policy: <data-dir>/server/etc/audit-policy.yaml, made if missing)"),
		boolean("secrets-encryption", "encrypt Secrets at rest in the datastore (the key stays in <data-dir>/server/cred)"),
		str("pod-security", "", "Pod Security Standard enforced in every namespace but kube-system: privileged, baseline or restricted (default: none, as Kubernetes)"),
	}, nodeFlags()...)
}

// nodeFlags are the agent flags that `edgek server` and `edgek agent` share.
func nodeFlags() []cli.Flag {
	return []cli.Flag{
		str("flannel-backend", config.DefaultFlannelBackend, "pod network backend: vxlan, host-gw or none (bring your own CNI)"),
		str("flannel-iface", "", "interface for pod traffic between nodes (default: the one holding the node IP)"),
		strs("kubelet-arg", "extra kubelet flag as key=value (repeatable)"),
		strs("kube-proxy-arg", "extra kube-proxy flag as key=value (repeatable)"),
		strs("node-label", "label for this node as key=value (repeatable)"),
		strs("node-taint", "taint for this node as key=value:Effect (repeatable)"),
		str("private-registry", config.DefaultRegistriesFile, "registries.yaml with mirrors, credentials and TLS for registries (K3s format)"),
		str("resolv-conf", "", "resolv.conf that pods inherit (default: /etc/resolv.conf, or systemd-resolved's upstream list)"),
		boolean("protect-kernel-defaults", "refuse to start if the kernel settings differ from the kubelet's, instead of changing them"),
	}
}
