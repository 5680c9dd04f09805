package args

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/pki"
)

func inputs(mod func(*config.Server)) Inputs {
	c := &config.Server{
		DataDir:      "/var/lib/edgek",
		BindAddress:  netip.MustParseAddr("0.0.0.0"),
		HTTPSPort:    6443,
		NodeSettings: config.NodeSettings{NodeIP: netip.MustParseAddr("172.31.254.2")},
		Network: config.Network{
			ClusterCIDR:   netip.MustParsePrefix("10.42.0.0/16"),
			ServiceCIDR:   netip.MustParsePrefix("10.43.0.0/16"),
			ClusterDNS:    netip.MustParseAddr("10.43.0.10"),
			ClusterDomain: "cluster.local",
		},
	}
	if mod != nil {
		mod(c)
	}
	b := &pki.Bundle{
		ServerCACert: "/tls/server-ca.crt", ServerCAKey: "/tls/server-ca.key",
		ClientCACert: "/tls/client-ca.crt", ClientCAKey: "/tls/client-ca.key",
		KubeletCACert: "/tls/kubelet-ca.crt", KubeletCAKey: "/tls/kubelet-ca.key",
		ServiceAccountKey: "/tls/service.key", ServiceAccountPub: "/tls/service.pub",
		SchedulerServing:         pki.CertPair{Cert: "/tls/serving-kube-scheduler.crt", Key: "/tls/serving-kube-scheduler.key"},
		ControllerManagerServing: pki.CertPair{Cert: "/tls/serving-kube-controller-manager.crt", Key: "/tls/serving-kube-controller-manager.key"},
	}
	return Inputs{Server: c, TLS: b, Etcd: config.EtcdEndpoints{Servers: []string{"unix:///var/lib/edgek/server/db/kine.sock"}}}
}

// flagValue returns the value of --name in args, and whether it occurs.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// withEtcd returns default inputs whose apiserver talks to the etcd endpoints e.
func withEtcd(e config.EtcdEndpoints) Inputs {
	in := inputs(nil)
	in.Etcd = e
	return in
}

// flagCount returns how often --name occurs in args.
func flagCount(args []string, name string) int {
	n := 0
	for _, a := range args {
		if strings.HasPrefix(a, "--"+name+"=") {
			n++
		}
	}
	return n
}

func TestControlPlaneArgs(t *testing.T) {
	tests := []struct {
		name   string
		build  func(Inputs) []string
		in     Inputs
		want   map[string]string // flag -> value; "" value with absent=true means must be absent
		absent []string
	}{
		{"apiserver defaults", APIServer, inputs(nil), map[string]string{
			"advertise-address":        "172.31.254.2",
			"authorization-mode":       "Node,RBAC",
			"enable-admission-plugins": "NodeRestriction",
			"etcd-servers":             "unix:///var/lib/edgek/server/db/kine.sock",
			"secure-port":              "6443",
			"service-cluster-ip-range": "10.43.0.0/16",
			"service-account-issuer":   "https://kubernetes.default.svc.cluster.local",
			"anonymous-auth":           "false",
			"client-ca-file":           "/tls/client-ca.crt",
			// The apiserver verifies kubelets' serving certificates.
			"kubelet-certificate-authority": "/tls/kubelet-ca.crt",
		}, []string{"endpoint-reconciler-type", "etcd-cafile", "etcd-certfile", "etcd-keyfile", "encryption-provider-config", "encryption-provider-config-automatic-reload", "audit-log-path", "admission-control-config-file"}},
		{"apiserver external etcd with client tls", APIServer, withEtcd(config.EtcdEndpoints{
			Servers: []string{"https://10.0.0.5:2379", "https://10.0.0.6:2379"},
			CAFile:  "/etc/etcd/ca.crt", CertFile: "/etc/etcd/client.crt", KeyFile: "/etc/etcd/client.key",
		}), map[string]string{
			"etcd-servers":  "https://10.0.0.5:2379,https://10.0.0.6:2379",
			"etcd-cafile":   "/etc/etcd/ca.crt",
			"etcd-certfile": "/etc/etcd/client.crt",
			"etcd-keyfile":  "/etc/etcd/client.key",
		}, nil},
		{"apiserver external etcd with ca only", APIServer, withEtcd(config.EtcdEndpoints{
			Servers: []string{"https://10.0.0.5:2379"}, CAFile: "/etc/etcd/ca.crt",
		}), map[string]string{"etcd-servers": "https://10.0.0.5:2379", "etcd-cafile": "/etc/etcd/ca.crt"},
			[]string{"etcd-certfile", "etcd-keyfile"}},
		{"apiserver with an audit log", APIServer, inputs(func(c *config.Server) { c.AuditLog = "/var/log/edgek-audit.log" }),
			map[string]string{"audit-log-path": "/var/log/edgek-audit.log", "audit-policy-file": "/var/lib/edgek/server/etc/audit-policy.yaml", "audit-log-maxsize": "10", "audit-log-maxbackup": "3"}, nil},
		{"apiserver with pod security", APIServer, inputs(func(c *config.Server) { c.PodSecurity = "restricted" }),
			map[string]string{"admission-control-config-file": "/var/lib/edgek/server/etc/pod-security.yaml"}, nil},
		{"apiserver with secrets encryption", APIServer, inputs(func(c *config.Server) { c.SecretsEncryption = true }),
			map[string]string{"encryption-provider-config": "/var/lib/edgek/server/cred/encryption-config.yaml", "encryption-provider-config-automatic-reload": "true"}, nil},
		{"apiserver on loopback node ip", APIServer, inputs(func(c *config.Server) { c.NodeIP = netip.MustParseAddr("127.0.0.1") }),
			map[string]string{"endpoint-reconciler-type": "none"}, nil},
		{"apiserver extra args override", APIServer, inputs(func(c *config.Server) {
			c.ExtraAPIServerArgs = []string{"authorization-mode=RBAC", "--audit-log-path=/var/log/audit.log"}
		}), map[string]string{"authorization-mode": "RBAC", "audit-log-path": "/var/log/audit.log"}, nil},
		{"scheduler defaults", Scheduler, inputs(nil), map[string]string{
			"kubeconfig":           "/var/lib/edgek/server/cred/scheduler.kubeconfig",
			"leader-elect":         "false",
			"bind-address":         "127.0.0.1",
			"secure-port":          "10259",
			"tls-cert-file":        "/tls/serving-kube-scheduler.crt",
			"tls-private-key-file": "/tls/serving-kube-scheduler.key",
		}, nil},
		{"scheduler extra args override", Scheduler, inputs(func(c *config.Server) {
			c.ExtraSchedulerArgs = []string{"leader-elect=true", "--bind-address=0.0.0.0", "v=2"}
		}), map[string]string{
			"leader-elect": "true",
			"bind-address": "0.0.0.0",
			"v":            "2",
			"kubeconfig":   "/var/lib/edgek/server/cred/scheduler.kubeconfig",
			"secure-port":  "10259",
		}, nil},
		{"controller-manager defaults", ControllerManager, inputs(nil), map[string]string{
			"kubeconfig":                       "/var/lib/edgek/server/cred/controller-manager.kubeconfig",
			"leader-elect":                     "false",
			"allocate-node-cidrs":              "true",
			"cluster-cidr":                     "10.42.0.0/16",
			"root-ca-file":                     "/tls/server-ca.crt",
			"service-account-private-key-file": "/tls/service.key",
			"tls-cert-file":                    "/tls/serving-kube-controller-manager.crt",
			"use-service-account-credentials":  "true",
			"secure-port":                      "10257",
		}, nil},
		{"controller-manager extra args", ControllerManager, inputs(func(c *config.Server) {
			c.ExtraControllerManagerArgs = []string{"node-monitor-grace-period=20s"}
		}), map[string]string{"node-monitor-grace-period": "20s", "leader-elect": "false"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.build(tt.in)
			if again := tt.build(tt.in); !slices.Equal(got, again) {
				t.Errorf("args not deterministic: %q then %q", got, again)
			}
			for k, want := range tt.want {
				if v, ok := flagValue(got, k); !ok || v != want {
					t.Errorf("--%s = %q (present %v), want %q", k, v, ok, want)
				}
				if n := flagCount(got, k); n > 1 {
					t.Errorf("--%s given %d times, want the user's value to replace the default", k, n)
				}
			}
			for _, k := range tt.absent {
				if _, ok := flagValue(got, k); ok {
					t.Errorf("--%s present, want absent", k)
				}
			}
		})
	}
}
