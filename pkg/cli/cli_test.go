package cli

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/test/testutil"
)

// runServer runs `edgek server args...` and returns the configuration the server would
// have been started with.
func runServer(t *testing.T, args ...string) (*config.Server, error) {
	t.Helper()
	var got *config.Server
	r := Runners{Server: func(_ context.Context, c *config.Server, _ *slog.Logger) error {
		got = c
		return nil
	}}
	base := []string{"edgek", "server", "--node-ip=192.0.2.10", "--node-name=n1", "--data-dir=/var/lib/edgek-test"}
	err := App(t.Context(), io.Discard, r).RunContext(t.Context(), append(base, args...))
	return got, err
}

func TestServerDefaults(t *testing.T) {
	c, err := runServer(t, "--config", filepath.Join(t.TempDir(), "absent-but-default.yaml"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("explicit missing config file: want a 'does not exist' error, got %v, config %+v", err, c)
	}
	t.Setenv("EDGEK_CONFIG_FILE", "")
	c, err = runServer(t, "--config", testutil.WriteFile(t, filepath.Join(t.TempDir(), "c.yaml"), ""))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPSPort != 6443 || c.ClusterCIDR.String() != "10.42.0.0/16" || c.ServiceCIDR.String() != "10.43.0.0/16" ||
		c.ClusterDNS.String() != "10.43.0.10" || c.ClusterDomain != "cluster.local" ||
		c.WriteKubeconfig != "/etc/edgek/edgek.yaml" || c.WriteKubeconfigMode != 0o600 || c.DisableAgent || c.SecretsEncryption {
		t.Errorf("unexpected defaults: %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := testutil.WriteFile(t, filepath.Join(dir, "config.yaml"), `
cluster-domain: file.local
https-listen-port: 7443
write-kubeconfig-mode: 0644
disable-agent: true
secrets-encryption: true
tls-san: [file-a, file-b]
kube-apiserver-arg:
  - v=1
`)
	testutil.WriteFile(t, filepath.Join(dir, "config.yaml.d", "10-more.yaml"), "tls-san+: [dropin]\ncluster-dns: 10.43.0.53\n")
	testutil.WriteFile(t, filepath.Join(dir, "config.yaml.d", "20-last.yaml"), "cluster-dns: 10.43.0.99\n")

	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantDomain string
		wantPort   int
	}{
		{"file over default", nil, nil, "file.local", 7443},
		{"env over file", map[string]string{"EDGEK_CLUSTER_DOMAIN": "env.local", "EDGEK_HTTPS_LISTEN_PORT": "8443"}, nil, "env.local", 8443},
		{"cli over env", map[string]string{"EDGEK_CLUSTER_DOMAIN": "env.local"}, []string{"--cluster-domain=cli.local", "--https-listen-port=9443"}, "cli.local", 9443},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := runServer(t, append([]string{"--config", cfg}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if c.ClusterDomain != tt.wantDomain || c.HTTPSPort != tt.wantPort {
				t.Errorf("domain, port = %q, %d; want %q, %d", c.ClusterDomain, c.HTTPSPort, tt.wantDomain, tt.wantPort)
			}
			if c.WriteKubeconfigMode != 0o644 || !c.DisableAgent || !c.SecretsEncryption {
				t.Errorf("mode %o, disable-agent %v, secrets-encryption %v: file values not applied", c.WriteKubeconfigMode, c.DisableAgent, c.SecretsEncryption)
			}
			if want := []string{"file-a", "file-b", "dropin"}; !slices.Equal(c.TLSSANs, want) {
				t.Errorf("tls-san = %q, want %q", c.TLSSANs, want)
			}
			if c.ClusterDNS.String() != "10.43.0.99" {
				t.Errorf("cluster-dns = %s, want the last drop-in's 10.43.0.99", c.ClusterDNS)
			}
			if !slices.Equal(c.ExtraAPIServerArgs, []string{"v=1"}) {
				t.Errorf("kube-apiserver-arg = %q", c.ExtraAPIServerArgs)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{"malformed yaml", []string{"--config", testutil.WriteFile(t, filepath.Join(dir, "bad.yaml"), "cluster-cidr: [unclosed\n")}, "is not valid YAML"},
		{"unknown key", []string{"--config", testutil.WriteFile(t, filepath.Join(dir, "unknown.yaml"), "no-such-key: 1\n")}, `unknown key "no-such-key"`},
		{"not a mapping", []string{"--config", testutil.WriteFile(t, filepath.Join(dir, "list.yaml"), "- a\n")}, "want a mapping"},
		{"bad cidr", []string{"--cluster-cidr=10.42.0.0"}, "--cluster-cidr \"10.42.0.0\" is not a CIDR"},
		{"overlapping cidrs", []string{"--cluster-cidr=10.43.0.0/16"}, "overlaps --service-cidr"},
		{"dns outside services", []string{"--cluster-dns=10.42.0.10"}, "outside --service-cidr"},
		{"bad mode", []string{"--write-kubeconfig-mode=rw"}, "not an octal file mode"},
		{"bad port", []string{"--https-listen-port=70000"}, "not a port number"},
		{"bad extra arg", []string{"--kube-apiserver-arg=novalue"}, "must have the form key=value"},
		{"bad datastore", []string{"--datastore-endpoint=redis://x"}, "--datastore-endpoint must be"},
		{"relative data dir", []string{"--data-dir=rel"}, "must be an absolute path"},
		{"relative local storage path", []string{"--default-local-storage-path=storage"}, "--default-local-storage-path \"storage\" must be an absolute path"},
		{"stray argument", []string{"oops"}, `unexpected argument "oops"`},
		{"unknown addon", []string{"--disable=coredns,nosuch"}, `--disable "nosuch": no such bundled addon`},
		{"bad flannel backend", []string{"--flannel-backend=wireguard"}, `--flannel-backend "wireguard" is not one of`},
		{"bad taint", []string{"--node-taint=edge"}, `--node-taint "edge" must look like key=value:NoSchedule`},
		{"bad label", []string{"--node-label=edge"}, `--node-label "edge" must look like key=value`},
		{"missing token file", []string{"--token-file=" + filepath.Join(dir, "absent")}, "--token-file: open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("EDGEK_CONFIG_FILE", testutil.WriteFile(t, filepath.Join(dir, "empty.yaml"), ""))
			c, err := runServer(t, tt.args...)
			if err == nil {
				t.Fatalf("want error containing %q, got config %+v", tt.want, c)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if c != nil {
				t.Errorf("server started despite bad input")
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	_, err := runServer(t, "--config", testutil.WriteFile(t, filepath.Join(t.TempDir(), "x.yaml"), ""), "--cluster-cidr=bad", "--service-cidr=bad")
	if err == nil {
		t.Fatal("want error")
	}
	if got := oneLine(err); strings.Contains(got, "\n") || !strings.Contains(got, "cluster-cidr") {
		t.Errorf("oneLine = %q", got)
	}
}
