package config

import (
	"net/netip"
	"strings"
	"testing"
)

// bundled are the addon names --disable is checked against.
var bundled = []string{"coredns", "dashboard"}

func validServer() *Server {
	return &Server{
		DataDir: "/var/lib/edgek", HTTPSPort: DefaultHTTPSPort,
		Network: Network{
			ClusterCIDR: netip.MustParsePrefix(DefaultClusterCIDR), ServiceCIDR: netip.MustParsePrefix(DefaultServiceCIDR),
			ClusterDNS: netip.MustParseAddr(DefaultClusterDNS), ClusterDomain: DefaultClusterDomain,
			FlannelBackend: DefaultFlannelBackend,
		},
		WriteKubeconfig: DefaultKubeconfig, WriteKubeconfigMode: DefaultKubeconfigMode, DisableAgent: true,
	}
}

// TestComponentPorts: a secure-port given to the scheduler or controller-manager is the port
// edgek checks before start and polls for health (the last value wins, as in the argument
// builders); the apiserver's is --https-listen-port only; bad values are refused.
func TestComponentPorts(t *testing.T) {
	c := validServer()
	if err := c.Validate(bundled); err != nil {
		t.Fatal(err)
	}
	if c.SchedulerPort() != SchedulerSecurePort || c.ControllerManagerSecurePort() != ControllerManagerPort {
		t.Errorf("default ports %d, %d", c.SchedulerPort(), c.ControllerManagerSecurePort())
	}
	c.ExtraSchedulerArgs = []string{"secure-port=10359", "v=2", "--secure-port=10459"}
	c.ExtraControllerManagerArgs = []string{"--secure-port=10357"}
	if err := c.Validate(bundled); err != nil {
		t.Fatal(err)
	}
	if c.SchedulerPort() != 10459 || c.ControllerManagerSecurePort() != 10357 {
		t.Errorf("moved ports %d, %d", c.SchedulerPort(), c.ControllerManagerSecurePort())
	}
	for _, tc := range []struct {
		set  func(*Server)
		want string
	}{
		{func(c *Server) { c.ExtraAPIServerArgs = []string{"secure-port=7443"} }, "--https-listen-port"},
		{func(c *Server) { c.ExtraSchedulerArgs = []string{"secure-port=0"} }, "--kube-scheduler-arg secure-port=0: not a port number"},
		{func(c *Server) { c.ExtraControllerManagerArgs = []string{"secure-port=x"} }, "--kube-controller-manager-arg secure-port=x"},
	} {
		c := validServer()
		tc.set(c)
		if err := c.Validate(bundled); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want %q", err, tc.want)
		}
	}
}

func TestAuditLogPath(t *testing.T) {
	for path, ok := range map[string]bool{"": true, "-": true, "/var/log/edgek-audit.log": true, "audit.log": false} {
		c := validServer()
		c.AuditLog = path
		if err := c.Validate(bundled); (err == nil) != ok || !ok && !strings.Contains(err.Error(), "--audit-log") {
			t.Errorf("--audit-log %q: %v, want ok %v", path, err, ok)
		}
	}
}

func TestPodSecurityLevel(t *testing.T) {
	for level, ok := range map[string]bool{"": true, "privileged": true, "baseline": true, "restricted": true, "Restricted": false, "strict": false} {
		c := validServer()
		c.PodSecurity = level
		if err := c.Validate(bundled); (err == nil) != ok || !ok && !strings.Contains(err.Error(), "want privileged, baseline or restricted") {
			t.Errorf("--pod-security %q: %v, want ok %v", level, err, ok)
		}
	}
}
