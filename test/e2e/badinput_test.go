//go:build e2e

package e2e

import (
	"os"
	"os/exec"
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
		{"unusable data dir", nil, []string{"--data-dir", filepath.Join(notADir, "data")}, "is not usable"},
		// The server's own data dir, made read-only (an SD card the kernel remounted ro).
		{"read-only data dir", func(t *testing.T) { readOnlyBind(t, s.dataDir) }, nil, "is not writable"},
		{"unwritable kubeconfig", nil, []string{"--write-kubeconfig", "/sys/fs/edgek-e2e.yaml"}, "cannot write kubeconfig /sys/fs/edgek-e2e.yaml"},
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
			// Before it, only structured log lines: no usage text, no stack trace.
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			for _, l := range lines[:len(lines)-1] {
				if !strings.HasPrefix(l, "time=") {
					t.Errorf("output line %q is not a log line; output:\n%s", l, out)
					break
				}
			}
			if strings.Contains(out, "sup3rsecret") {
				t.Errorf("output reveals the datastore password:\n%s", out)
			}
		})
	}
	if diff := diffSnapshots(before, snapshot(t, s.dataDir)); diff != "" {
		t.Errorf("bad input changed the data dir: %s", diff)
	}
	checkKernelDefaults(t, s.ns)
}

// checkKernelDefaults: a node with --protect-kernel-defaults on a host whose kernel settings
// are not the kubelet's stops before anything starts, naming the settings and the fix. The
// host gets the kernel's default vm.overcommit_memory (0; the kubelet wants 1, and a kubelet
// of an earlier test may have set it) for the check, and its value back afterwards.
func checkKernelDefaults(t *testing.T, ns *netns) {
	t.Helper()
	const knob = "/proc/sys/vm/overcommit_memory"
	old, err := os.ReadFile(knob)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(knob, []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(knob, old, 0o644) })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code, err := runEdgek(ns, 60*time.Second, "agent", "--server", "https://"+ns.ip+":6443", "--token", "K10"+strings.Repeat("ab", 32)+"::server:x",
		"--protect-kernel-defaults", "--data-dir", filepath.Join(dir, "data"), "--config", filepath.Join(dir, "config.yaml"), "--node-ip", ns.ip)
	if err != nil || code == 0 || !strings.Contains(lastLine(out), "vm.overcommit_memory is 0, not 1") || !strings.Contains(lastLine(out), "/etc/sysctl.d/") {
		t.Errorf("agent with --protect-kernel-defaults: exit %d, %v, want a refusal naming the setting and the fix; output:\n%s", code, err, out)
	}
}

// readOnlyBind makes dir read-only (a read-only bind mount onto itself) until the test ends.
func readOnlyBind(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
		t.Fatalf("bind mount %s: %v\n%s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("unmount %s: %v\n%s", dir, err, out)
		}
	})
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s read-only: %v\n%s", dir, err, out)
	}
}

func lastLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}
