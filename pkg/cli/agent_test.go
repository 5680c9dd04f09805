package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/test/testutil"
)

// runAgent runs `edgek agent args...` and returns the configuration the agent would have
// been started with.
func runAgent(t *testing.T, args ...string) (*config.Agent, error) {
	t.Helper()
	var got *config.Agent
	r := Runners{Agent: func(_ context.Context, a *config.Agent, _ *slog.Logger) error {
		got = a
		return nil
	}}
	cfg := testutil.WriteFile(t, filepath.Join(t.TempDir(), "config.yaml"), "")
	base := []string{"edgek", "agent", "--config", cfg, "--node-ip=192.0.2.11", "--data-dir=/var/lib/edgek-test"}
	err := App(t.Context(), io.Discard, r).RunContext(t.Context(), append(base, args...))
	return got, err
}

func TestAgentConfig(t *testing.T) {
	t.Setenv("EDGEK_TOKEN", "K10abc::server:from-env")
	a, err := runAgent(t, "--server", "https://192.0.2.10:6443", "--node-name", "Pi-2",
		"--node-label", "zone=a", "--kubelet-arg", "max-pods=20")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Joins() || a.Token != "K10abc::server:from-env" || a.ServerURL != "https://192.0.2.10:6443" ||
		a.NodeName != "pi-2" || a.NodeIP.String() != "192.0.2.11" || a.DataDir != "/var/lib/edgek-test" ||
		a.NodeLabels[0] != "zone=a" || a.ExtraKubeletArgs[0] != "max-pods=20" || a.PauseImage == "" {
		t.Errorf("unexpected agent configuration: %+v", a)
	}
}

func TestAgentTokenFile(t *testing.T) {
	t.Setenv("EDGEK_TOKEN", "")
	f := testutil.WriteFile(t, filepath.Join(t.TempDir(), "token"), "K10abc::server:from-file\n")
	a, err := runAgent(t, "--server", "https://192.0.2.10:6443", "--token-file", f)
	if err != nil || a.Token != "K10abc::server:from-file" {
		t.Fatalf("--token-file: %v, %+v", err, a)
	}
	_, err = runAgent(t, "--server", "https://192.0.2.10:6443", "--token-file", f+".missing")
	if err == nil || !strings.Contains(err.Error(), "--token-file") {
		t.Errorf("missing --token-file: %v", err)
	}
}

func TestAgentBadInput(t *testing.T) {
	t.Setenv("EDGEK_TOKEN", "")
	t.Setenv("EDGEK_URL", "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no server or token", nil, "--server and --token (or --token-file) are required"},
		{"no token", []string{"--server", "https://192.0.2.10:6443"}, "--server and --token (or --token-file) are required"},
		{"plain http", []string{"--server", "http://192.0.2.10:6443", "--token", "t"}, "want https://host:port"},
		{"bad node ip", []string{"--server", "https://192.0.2.10:6443", "--token", "t", "--node-ip", "pi"}, `--node-ip "pi" is not an IP address`},
		{"bad taint", []string{"--server", "https://192.0.2.10:6443", "--token", "t", "--node-taint", "x"}, "--node-taint"},
		{"backend is the server's", []string{"--server", "https://192.0.2.10:6443", "--token", "t", "--flannel-backend", "host-gw"}, "flag provided but not defined: -flannel-backend"},
		{"stray argument", []string{"--server", "https://192.0.2.10:6443", "--token", "t", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := runAgent(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q (config %+v)", err, tt.want, a)
			}
			if a != nil {
				t.Error("the agent was started despite the error")
			}
		})
	}
}

func TestAgentNodeNameDefaultsToHostname(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	t.Setenv("EDGEK_NODE_NAME", "")
	a, err := runAgent(t, "--server", "https://192.0.2.10:6443", "--token", "t")
	if err != nil {
		t.Fatal(err)
	}
	if a.NodeName != strings.ToLower(host) {
		t.Errorf("node name %q, want the hostname %q lower-cased", a.NodeName, strings.ToLower(host))
	}
}

// TestNodeSettingsShared: every node setting is one declaration that `edgek server` and
// `edgek agent` both read, from flags and from the config file alike, into the same place.
func TestNodeSettingsShared(t *testing.T) {
	t.Setenv("EDGEK_TOKEN", "K10abc::server:secret")
	t.Setenv("EDGEK_CONFIG_FILE", "")
	cfg := testutil.WriteFile(t, filepath.Join(t.TempDir(), "config.yaml"), "node-taint: [edge=true:NoSchedule]\nprotect-kernel-defaults: true\n")
	flags := []string{"--config", cfg, "--node-name=Pi-3", "--node-ip=192.0.2.11", "--flannel-iface=eth1",
		"--kubelet-arg=max-pods=20", "--kube-proxy-arg=v=2", "--node-label=zone=a",
		"--private-registry=/etc/r.yaml", "--resolv-conf=/etc/r.conf"}
	srv, err := runServer(t, flags...)
	if err != nil {
		t.Fatal(err)
	}
	ag, err := runAgent(t, append([]string{"--server", "https://192.0.2.10:6443"}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	want := config.NodeSettings{
		NodeName: "pi-3", NodeIP: srv.NodeIP, FlannelIface: "eth1",
		ExtraKubeletArgs: []string{"max-pods=20"}, ExtraKubeProxyArgs: []string{"v=2"},
		NodeLabels: []string{"zone=a"}, NodeTaints: []string{"edge=true:NoSchedule"},
		PrivateRegistry: "/etc/r.yaml", ResolvConf: "/etc/r.conf", ProtectKernelDefaults: true,
	}
	if !reflect.DeepEqual(srv.NodeSettings, want) || !reflect.DeepEqual(ag.NodeSettings, want) {
		t.Errorf("node settings\nserver %+v\nagent  %+v\nwant   %+v", srv.NodeSettings, ag.NodeSettings, want)
	}
	if node := srv.Agent("https://127.0.0.1:6443"); !reflect.DeepEqual(node.NodeSettings, want) || node.Network != srv.Network {
		t.Errorf("the server's node gets %+v, %+v", node.NodeSettings, node.Network)
	}
	// The cluster's network is the server's alone: an agent has no such flags.
	if _, err := runAgent(t, "--server", "https://192.0.2.10:6443", "--flannel-backend=host-gw"); err == nil {
		t.Error("edgek agent accepted --flannel-backend")
	}
}
