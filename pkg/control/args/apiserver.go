// Package args builds the command lines of the upstream control-plane components: edgek's own
// defaults, overridden key by key by the user's --kube-*-arg values (upstream.Build).
package args

import (
	"strconv"
	"strings"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/pkg/secretsenc"
	"github.com/edgek-io/edgek/pkg/upstream"
)

// Inputs is everything the control-plane argument builders read.
type Inputs struct {
	Server *config.Server
	TLS    *pki.Bundle
	Etcd   config.EtcdEndpoints
}

// Issuer is the service-account token issuer and API audience of the cluster.
func Issuer(c *config.Server) string {
	return "https://kubernetes.default.svc." + c.ClusterDomain
}

// APIServer returns the kube-apiserver command line.
func APIServer(in Inputs) []string {
	c, t := in.Server, in.TLS
	d := map[string]string{
		"advertise-address":           c.NodeIP.String(),
		"allow-privileged":            "true",
		"anonymous-auth":              "false",
		"api-audiences":               Issuer(c) + ",edgek",
		"authorization-mode":          "Node,RBAC",
		"bind-address":                c.BindAddress.String(),
		"client-ca-file":              t.ClientCACert,
		"enable-admission-plugins":    "NodeRestriction",
		"enable-bootstrap-token-auth": "true",
		// The aggregator dials an APIService's endpoints, not its ClusterIP: the in-process
		// metrics-server is reached on a server without kube-proxy (--disable-agent) too.
		"enable-aggregator-routing":          "true",
		"etcd-servers":                       strings.Join(in.Etcd.Servers, ","),
		"kubelet-certificate-authority":      t.KubeletCACert,
		"kubelet-client-certificate":         t.APIServerKubeletClient.Cert,
		"kubelet-client-key":                 t.APIServerKubeletClient.Key,
		"kubelet-preferred-address-types":    "InternalIP,ExternalIP,Hostname",
		"profiling":                          "false",
		"proxy-client-cert-file":             t.AuthProxy.Cert,
		"proxy-client-key-file":              t.AuthProxy.Key,
		"requestheader-allowed-names":        "system:auth-proxy",
		"requestheader-client-ca-file":       t.RequestHeaderCACert,
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
		"requestheader-group-headers":        "X-Remote-Group",
		"requestheader-username-headers":     "X-Remote-User",
		"secure-port":                        strconv.Itoa(c.HTTPSPort),
		"service-account-issuer":             Issuer(c),
		"service-account-key-file":           t.ServiceAccountPub,
		"service-account-signing-key-file":   t.ServiceAccountKey,
		"service-cluster-ip-range":           c.ServiceCIDR.String(),
		"service-node-port-range":            "30000-32767",
		"storage-backend":                    "etcd3",
		"tls-cert-file":                      t.APIServerServingChain,
		"tls-private-key-file":               t.APIServerServingKey,
	}
	if c.AuditLog != "" {
		// Rotated by the apiserver: at most 4 files of 10 MiB.
		d["audit-log-path"] = c.AuditLog
		d["audit-policy-file"] = c.AuditPolicyFile()
		d["audit-log-maxsize"] = "10"
		d["audit-log-maxbackup"] = "3"
	}
	if c.PodSecurity != "" {
		d["admission-control-config-file"] = c.PodSecurityFile()
	}
	if c.SecretsEncryption {
		d["encryption-provider-config"] = secretsenc.In(c.CredDir()).Config
		// `edgek secrets-encrypt rotate-keys` changes the keys while the server runs.
		d["encryption-provider-config-automatic-reload"] = "true"
	}
	if c.NodeIP.IsLoopback() {
		// The apiserver refuses to advertise loopback into the kubernetes Endpoints.
		d["endpoint-reconciler-type"] = "none"
	}
	if in.Etcd.CAFile != "" {
		d["etcd-cafile"] = in.Etcd.CAFile
	}
	if in.Etcd.CertFile != "" {
		d["etcd-certfile"] = in.Etcd.CertFile
		d["etcd-keyfile"] = in.Etcd.KeyFile
	}
	return upstream.Build(d, c.ExtraAPIServerArgs)
}

// Scheduler returns the kube-scheduler command line.
func Scheduler(in Inputs) []string {
	kc := in.Server.Kubeconfig("scheduler")
	return upstream.Build(map[string]string{
		"authentication-kubeconfig": kc,
		"authorization-kubeconfig":  kc,
		"bind-address":              "127.0.0.1",
		"kubeconfig":                kc,
		"leader-elect":              "false",
		"profiling":                 "false",
		"secure-port":               strconv.Itoa(config.SchedulerSecurePort),
		"tls-cert-file":             in.TLS.SchedulerServing.Cert,
		"tls-private-key-file":      in.TLS.SchedulerServing.Key,
	}, in.Server.ExtraSchedulerArgs)
}

// ControllerManager returns the kube-controller-manager command line.
func ControllerManager(in Inputs) []string {
	c, t := in.Server, in.TLS
	kc := c.Kubeconfig("controller-manager")
	return upstream.Build(map[string]string{
		"allocate-node-cidrs":       "true",
		"authentication-kubeconfig": kc,
		"authorization-kubeconfig":  kc,
		"bind-address":              "127.0.0.1",
		"cluster-cidr":              c.ClusterCIDR.String(),
		"cluster-signing-kube-apiserver-client-cert-file": t.ClientCACert,
		"cluster-signing-kube-apiserver-client-key-file":  t.ClientCAKey,
		"cluster-signing-kubelet-client-cert-file":        t.ClientCACert,
		"cluster-signing-kubelet-client-key-file":         t.ClientCAKey,
		"cluster-signing-kubelet-serving-cert-file":       t.KubeletCACert,
		"cluster-signing-kubelet-serving-key-file":        t.KubeletCAKey,
		"cluster-signing-legacy-unknown-cert-file":        t.ServerCACert,
		"cluster-signing-legacy-unknown-key-file":         t.ServerCAKey,
		"configure-cloud-routes":                          "false",
		"controllers":                                     "*,tokencleaner",
		"kubeconfig":                                      kc,
		"leader-elect":                                    "false",
		"profiling":                                       "false",
		"root-ca-file":                                    t.ServerCACert,
		"secure-port":                                     strconv.Itoa(config.ControllerManagerPort),
		"service-account-private-key-file":                t.ServiceAccountKey,
		"service-cluster-ip-range":                        c.ServiceCIDR.String(),
		"tls-cert-file":                                   t.ControllerManagerServing.Cert,
		"tls-private-key-file":                            t.ControllerManagerServing.Key,
		"use-service-account-credentials":                 "true",
	}, c.ExtraControllerManagerArgs)
}
