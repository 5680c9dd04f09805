package cli

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/test/testutil"
)

func TestLoadConfigFilesMissing(t *testing.T) {
	tests := []struct {
		name     string
		explicit bool
		dropin   string // content of <path>.d/10.yaml, if any
		want     map[string][]string
		wantErr  string
	}{
		{"default missing", false, "", map[string][]string{}, ""},
		{"default missing, drop-in still read", false, "cluster-domain: dropin.local\n", map[string][]string{"cluster-domain": {"dropin.local"}}, ""},
		{"explicit missing", true, "", nil, "does not exist (given by --config, EDGEK_CONFIG_FILE or EDGEK_CONFIG)"},
		{"explicit missing despite drop-in", true, "cluster-domain: dropin.local\n", nil, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if tt.dropin != "" {
				testutil.WriteFile(t, filepath.Join(path+".d", "10.yaml"), tt.dropin)
			}
			got, err := loadConfigFiles(path, tt.explicit)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("want error containing %q, got values %q", tt.wantErr, got)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not contain %q and the path", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("values = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadConfigFilesUnreadable(t *testing.T) {
	// A config path that exists but cannot be read is an error even when not explicit.
	dir := t.TempDir()
	if _, err := loadConfigFiles(dir, false); err == nil || !strings.Contains(err.Error(), "read config file") {
		t.Errorf("reading a directory as config file: want a 'read config file' error, got %v", err)
	}
}

func TestServerWithoutConfigFile(t *testing.T) {
	if _, err := os.Stat(config.DefaultConfigFile); !os.IsNotExist(err) {
		t.Skipf("%s exists on this machine (stat err %v)", config.DefaultConfigFile, err)
	}
	t.Setenv("EDGEK_CONFIG_FILE", "") // restored after the test
	os.Unsetenv("EDGEK_CONFIG_FILE")
	c, err := runServer(t)
	if err != nil {
		t.Fatalf("no --config and no %s: want success, got %v", config.DefaultConfigFile, err)
	}
	if c == nil || c.ClusterDomain != "cluster.local" || c.HTTPSPort != 6443 {
		t.Errorf("want the built-in defaults, got %+v", c)
	}
}

func TestMissingConfigFileNamedByEnv(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	t.Setenv("EDGEK_CONFIG_FILE", missing)
	c, err := runServer(t)
	if err == nil || !strings.Contains(err.Error(), "config file "+missing+" does not exist") {
		t.Fatalf("want a 'does not exist' error naming %s, got %v", missing, err)
	}
	if c != nil {
		t.Error("server started despite the missing config file")
	}
}

// TestConfigEnvAlias: EDGEK_CONFIG names the file as EDGEK_CONFIG_FILE does (which wins).
func TestConfigEnvAlias(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	t.Setenv("EDGEK_CONFIG_FILE", "")
	os.Unsetenv("EDGEK_CONFIG_FILE")
	t.Setenv("EDGEK_CONFIG", missing)
	if _, err := runServer(t); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("EDGEK_CONFIG=%s: want an error naming it, got %v", missing, err)
	}
	t.Setenv("EDGEK_CONFIG_FILE", "") // set but empty: EDGEK_CONFIG still counts
	if _, err := runServer(t); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("EDGEK_CONFIG_FILE= EDGEK_CONFIG=%s: want an error naming it, got %v", missing, err)
	}
	t.Setenv("EDGEK_CONFIG_FILE", testutil.WriteFile(t, filepath.Join(dir, "c.yaml"), "cluster-domain: alias.test\n"))
	c, err := runServer(t)
	if err != nil || c.ClusterDomain != "alias.test" {
		t.Fatalf("EDGEK_CONFIG_FILE over EDGEK_CONFIG: %v, %+v", err, c)
	}
}

func TestEmptyConfigFileEnvMeansDefault(t *testing.T) {
	t.Setenv("EDGEK_CONFIG_FILE", "")
	if _, err := os.Stat(config.DefaultConfigFile); err == nil {
		t.Skipf("%s exists on this machine", config.DefaultConfigFile)
	}
	if _, err := runServer(t); err != nil {
		t.Fatalf("EDGEK_CONFIG_FILE= (empty): %v", err)
	}
}
