// Package kubeproxy builds kube-proxy's command line.
package kubeproxy

import (
	"strconv"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/upstream"
)

// Args returns the kube-proxy command line. kube-proxy runs in iptables mode (it execs the
// host's iptables-restore) and leaves the host-wide conntrack sysctls alone.
func Args(a *config.Agent) []string {
	return upstream.Build(map[string]string{
		// Its own identity, system:kube-proxy, on every node (a joined node requests it).
		"kubeconfig":                        a.Kubeconfig("kube-proxy"),
		"hostname-override":                 a.NodeName,
		"cluster-cidr":                      a.ClusterCIDR.String(),
		"proxy-mode":                        "iptables",
		"healthz-bind-address":              "127.0.0.1:" + strconv.Itoa(config.KubeProxyHealthzPort),
		"metrics-bind-address":              "127.0.0.1:" + strconv.Itoa(config.KubeProxyMetricsPort),
		"conntrack-max-per-core":            "0",
		"conntrack-tcp-timeout-established": "0s",
		"conntrack-tcp-timeout-close-wait":  "0s",
		"nodeport-addresses":                "primary",
	}, a.ExtraKubeProxyArgs)
}
