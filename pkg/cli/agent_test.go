package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/pkg/config"
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
	cfg := writeFile(t, filepath.Join(t.TempDir(), "config.yaml"), "")
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
	f := writeFile(t, filepath.Join(t.TempDir(), "token"), "K10abc::server:from-file\n")
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
