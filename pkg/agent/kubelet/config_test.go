package kubelet

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/pki"
)

func agent() *config.Agent {
	return &config.Agent{
		DataDir:      "/var/lib/edgek",
		NodeSettings: config.NodeSettings{NodeName: "pi-1", NodeIP: netip.MustParseAddr("192.168.1.20")},
		Network:      config.Network{ClusterDNS: netip.MustParseAddr("10.43.0.10"), ClusterDomain: "cluster.local"},
	}
}

func TestConfig(t *testing.T) {
	tls := &pki.NodeBundle{ClientCACert: "/tls/client-ca.crt", KubeletServing: pki.CertPair{Cert: "/tls/k.crt", Key: "/tls/k.key"}}
	tests := []struct {
		name string
		host Host
		want []string
	}{
		{"cgroup v1 host", Host{CgroupDriver: "cgroupfs", CgroupV1: true, ResolvConf: "/etc/resolv.conf"},
			[]string{"failCgroupV1: false", "cgroupDriver: cgroupfs", `resolvConf: "/etc/resolv.conf"`}},
		{"cgroup v2 systemd host", Host{CgroupDriver: "systemd"}, []string{"cgroupDriver: systemd"}},
		{"cgroup v2 without systemd", Host{CgroupDriver: "cgroupfs"}, []string{"cgroupDriver: cgroupfs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Config(agent(), tls, tt.host)
			if !tt.host.CgroupV1 && strings.Contains(got, "failCgroupV1") {
				t.Errorf("cgroup v2 host: failCgroupV1 must not be set:\n%s", got)
			}
			for _, key := range []string{"cgroupRoot", "kubeReservedCgroup", "systemReservedCgroup", "kubeletCgroups"} {
				if strings.Contains(got, key) {
					t.Errorf("%s set: with the systemd driver pods must land in kubepods.slice under the default root:\n%s", key, got)
				}
			}
			for _, w := range append(tt.want,
				`clusterDNS: ["10.43.0.10"]`,
				`containerRuntimeEndpoint: "unix:///run/edgek/containerd/containerd.sock"`,
				`clientCAFile: "/tls/client-ca.crt"`,
				"anonymous: {enabled: false}",
				"readOnlyPort: 0",
				`tlsCertFile: "/tls/k.crt"`,
				`staticPodPath: "/var/lib/edgek/agent/pod-manifests"`,
			) {
				if !strings.Contains(got, w) {
					t.Errorf("config lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestConfigJoined: a joined node's kubelet requests and renews its client and serving
// certificates from the server; a server's own node has them from the server's CAs.
func TestConfigJoined(t *testing.T) {
	local := Config(agent(), &pki.NodeBundle{ClientCACert: "/tls/client-ca.crt", KubeletServing: pki.CertPair{Cert: "/tls/k.crt", Key: "/tls/k.key"}}, Host{CgroupDriver: "systemd"})
	joined := agent()
	joined.Token, joined.ServerURL = "K10abc::server:x", "https://192.168.1.10:6443"
	got := Config(joined, &pki.NodeBundle{ClientCACert: "/tls/client-ca.crt"}, Host{CgroupDriver: "systemd"})
	for _, w := range []string{"rotateCertificates: true", "serverTLSBootstrap: true"} {
		if !strings.Contains(got, w) {
			t.Errorf("joined node's config lacks %q:\n%s", w, got)
		}
		if strings.Contains(local, w) {
			t.Errorf("server node's config has %q:\n%s", w, local)
		}
	}
	if strings.Contains(got, "tlsCertFile") {
		t.Errorf("joined node's kubelet has a serving certificate file:\n%s", got)
	}
	if strings.Contains(got, "protectKernelDefaults") {
		t.Errorf("protectKernelDefaults without the flag:\n%s", got)
	}
	joined.ProtectKernelDefaults = true
	if got := Config(joined, &pki.NodeBundle{ClientCACert: "/tls/client-ca.crt"}, Host{CgroupDriver: "systemd"}); !strings.Contains(got, "protectKernelDefaults: true") {
		t.Errorf("--protect-kernel-defaults did not reach the kubelet:\n%s", got)
	}
}

func TestArgs(t *testing.T) {
	a := agent()
	a.NodeLabels = []string{"tier=edge", "zone=a"}
	a.NodeTaints = []string{"edge=true:NoSchedule"}
	a.ExtraKubeletArgs = []string{"max-pods=50", "root-dir=/var/lib/kubelet"}
	got := Args(a)
	for _, w := range []string{
		"--hostname-override=pi-1", "--node-ip=192.168.1.20", "--node-labels=tier=edge,zone=a",
		"--register-with-taints=edge=true:NoSchedule", "--max-pods=50", "--root-dir=/var/lib/kubelet",
		"--kubeconfig=/var/lib/edgek/agent/kubelet.kubeconfig", "--config=/var/lib/edgek/agent/etc/kubelet.yaml",
	} {
		if !slices.Contains(got, w) {
			t.Errorf("args %q lack %q", got, w)
		}
	}
	if slices.Contains(got, "--root-dir=/var/lib/edgek/agent/kubelet") {
		t.Errorf("--kubelet-arg root-dir did not replace the default: %q", got)
	}
}
