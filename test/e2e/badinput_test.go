//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checkBadInput runs edgek with bad input against the stopped server's data dir: each run
// must fail with one clear "edgek: ..." line and leave the data dir exactly as it was.
func checkBadInput(t *testing.T, s *server) {
	t.Helper()
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badYAML, []byte("cluster-cidr: [10.42.0.0/16\ntls-san: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s.dataDir)

	cases := []struct {
		name  string
		setup func(t *testing.T)
		args  []string
		want  string
	}{
		{"unknown flag", nil, []string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{"malformed config file", nil, []string{"--config", badYAML}, "is not valid YAML"},
		{"port in use", func(t *testing.T) { s.ns.listen(t, "0.0.0.0:6443") }, nil, "port 6443 (the apiserver (--https-listen-port)) on 0.0.0.0 is not free"},
		{"unwritable data dir", nil, []string{"--data-dir", filepath.Join(notADir, "data")}, "is not usable"},
		{"wrong token", nil, []string{"--token", "not-the-stored-secret"}, "token given differs from the token stored in"},
		{"unreachable external datastore", nil, []string{"--datastore-endpoint", "postgres://edgek:sup3rsecret@127.0.0.1:1/edgek", "--datastore-timeout", "3s"}, "datastore did not answer within 3s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				c.setup(t)
			}
			args := append(append([]string{}, s.args...), c.args...)
			out, code, err := runEdgek(s.ns, 60*time.Second, args...)
			if err != nil {
				t.Fatalf("run edgek: %v\n%s", err, out)
			}
			if code == 0 {
				t.Fatalf("exit code 0, want failure; output:\n%s", out)
			}
			last := lastLine(out)
			if !strings.HasPrefix(last, "edgek: ") || !strings.Contains(last, c.want) {
				t.Errorf("last line %q, want an \"edgek: \" line containing %q; output:\n%s", last, c.want, out)
			}
			if strings.Contains(out, "sup3rsecret") {
				t.Errorf("output reveals the datastore password:\n%s", out)
			}
		})
	}
	if diff := diffSnapshots(before, snapshot(t, s.dataDir)); diff != "" {
		t.Errorf("bad input changed the data dir: %s", diff)
	}
}

func lastLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}
