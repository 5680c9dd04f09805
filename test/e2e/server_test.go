//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// server is one `edgek server` process under test.
type server struct {
	t       *testing.T
	ns      *netns
	dataDir string
	args    []string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	runs    int
	// readyLog is the log line that says the process is ready.
	readyLog string
	// api is the server whose apiserver kubectl talks to: itself, or an agent's server.
	api *server
	// wrap, if set, is a command line edgek (with nsenter) is started under.
	wrap []string
}

// newServer prepares a server in its own data dir inside ns; start runs it.
func newServer(t *testing.T, ns *netns, extraArgs ...string) *server {
	t.Helper()
	extraArgs = withCgroupRoot(t, extraArgs)
	s := newNode(t, ns, `msg="edgek server is ready"`)
	s.args = append([]string{"server",
		"--data-dir", s.dataDir,
		"--write-kubeconfig", s.kubeconfig(),
		"--config", s.configFile(),
		"--node-ip", ns.ip,
		"--resolv-conf", s.resolvConf(),
	}, extraArgs...)
	return s
}

// newAgent prepares `edgek agent` in its own data dir inside ns, joining srv with token.
func newAgent(t *testing.T, ns *netns, srv *server, token string, extraArgs ...string) *server {
	t.Helper()
	extraArgs = withCgroupRoot(t, extraArgs)
	a := newNode(t, ns, `msg="edgek agent is ready"`)
	a.api = srv
	a.args = append([]string{"agent",
		"--server", "https://" + srv.ns.ip + ":6443",
		"--token", token,
		"--data-dir", a.dataDir,
		"--config", a.configFile(),
		"--node-ip", ns.ip,
		"--resolv-conf", a.resolvConf(),
	}, extraArgs...)
	return a
}

// nodeCount numbers the nodes of this run, for their cgroup roots.
var nodeCount int

// withCgroupRoot gives a node with a kubelet a cgroup root of its own (made here, removed
// after the node's cleanup has stopped its containers), so that test clusters leave nothing
// in the host's cgroup tree and never see each other's pods or the host's: a kubelet removes
// the pod cgroups it does not know under its root.
func withCgroupRoot(t *testing.T, args []string) []string {
	t.Helper()
	if slices.Contains(args, "--disable-agent") {
		return args
	}
	nodeCount++
	root := newCgroupRoot(t, fmt.Sprintf("edgek-e2e-%d-%d", os.Getpid(), nodeCount))
	return append(slices.Clone(args), "--kubelet-arg", "cgroup-root=/"+root)
}

func newNode(t *testing.T, ns *netns, readyLog string) *server {
	t.Helper()
	s := &server{t: t, ns: ns, dataDir: filepath.Join(t.TempDir(), "data"), readyLog: readyLog}
	s.api = s
	// Pods inherit a resolver that does not exist: nothing may reach the host's resolver.
	if err := os.MkdirAll(filepath.Dir(s.dataDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.resolvConf(), []byte("nameserver 172.31.254.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.configFile(), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cleanup)
	return s
}

func (s *server) kubeconfig() string { return filepath.Join(s.api.dataDir, "..", "kubeconfig.yaml") }
func (s *server) resolvConf() string { return filepath.Join(s.dataDir, "..", "resolv.conf") }
func (s *server) configFile() string { return filepath.Join(s.dataDir, "..", "config.yaml") }

// start launches edgek and waits until the apiserver answers /readyz.
func (s *server) start() {
	s.t.Helper()
	s.launch()
	s.waitReady(90 * time.Second)
}

// launch starts edgek without waiting for it to be ready.
func (s *server) launch() {
	s.t.Helper()
	s.runs++
	s.logPath = filepath.Join(artifactsDir, fmt.Sprintf("%s-%s-run%d.log", strings.ReplaceAll(s.t.Name(), "/", "_"), s.args[0], s.runs))
	logf, err := os.Create(s.logPath)
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd = s.ns.command(edgekBin, s.args...)
	if len(s.wrap) > 0 {
		s.cmd = exec.Command(s.wrap[0], append(s.wrap[1:], s.cmd.Args...)...)
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("start edgek: %v", err)
	}
	s.exited = make(chan struct{})
	go func() { s.cmd.Wait(); logf.Close(); close(s.exited) }()
}

// waitLog waits until every one of lines appears in the log of the current run.
func (s *server) waitLog(timeout time.Duration, lines ...string) {
	s.t.Helper()
	eventually(s.t, timeout, fmt.Sprintf("log lines %q", lines), func() error {
		select {
		case <-s.exited:
			s.t.Fatalf("edgek exited: %v\n%s", s.cmd.ProcessState, s.logTail(40))
		default:
		}
		log, _ := os.ReadFile(s.logPath)
		for _, l := range lines {
			if !strings.Contains(string(log), l) {
				return fmt.Errorf("no %q yet", l)
			}
		}
		return nil
	})
}

func (s *server) waitReady(timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.exited:
			s.t.Fatalf("edgek exited before it was ready: %v\n%s", s.cmd.ProcessState, s.logTail(40))
		default:
		}
		if log, _ := os.ReadFile(s.logPath); strings.Contains(string(log), s.readyLog) {
			if s.api != s {
				return // an agent: its server may be away
			}
			if out, err := s.kubectl("get", "--raw", "/readyz"); err == nil && strings.TrimSpace(out) == "ok" {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("edgek not ready after %s\n%s", timeout, s.logTail(40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		s.t.Fatalf("edgek did not stop within 60s of SIGTERM\n%s", s.logTail(40))
	}
	if !s.cmd.ProcessState.Success() {
		s.t.Errorf("edgek exited with %v after SIGTERM\n%s", s.cmd.ProcessState, s.logTail(20))
	}
	s.cmd = nil
}

// kill9 kills edgek without warning, as a power cut or OOM kill would.
func (s *server) kill9() {
	s.t.Helper()
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

func (s *server) cleanup() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		<-s.exited
	}
	if !slices.Contains(s.args, "--disable-agent") {
		// Containers and shims outlive edgek by design; killall (inside the namespace, where
		// the links and iptables rules are) removes them and their mounts.
		out, err := s.ns.command(edgekBin, "killall", "--data-dir", s.dataDir).CombinedOutput()
		if err != nil {
			s.t.Errorf("edgek killall: %v\n%s", err, out)
		}
	}
	if s.t.Failed() && s.logPath != "" {
		s.t.Logf("edgek log (%s), last lines:\n%s", s.logPath, s.logTail(60))
	}
}

func (s *server) logTail(n int) string {
	data, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kubectl runs `edgek kubectl` against this server inside its namespace.
func (s *server) kubectl(args ...string) (string, error) {
	return s.kubectlIn("", args...)
}

// kubectlIn is kubectl with stdin.
func (s *server) kubectlIn(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--net=" + s.api.ns.path, edgekBin, "kubectl", "--kubeconfig", s.kubeconfig()}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

func (s *server) mustKubectl(args ...string) string {
	s.t.Helper()
	out, err := s.kubectl(args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func (s *server) mustApply(manifest string) {
	s.t.Helper()
	if out, err := s.kubectlIn(manifest, "apply", "-f", "-"); err != nil {
		s.t.Fatalf("%v\n%s", err, out)
	}
}

// eventually polls cond until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// runEdgek runs the binary to completion inside ns (for bad-input tests).
func runEdgek(ns *netns, timeout time.Duration, args ...string) (stderr string, code int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + ns.path, edgekBin}, args...)...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return buf.String(), ee.ExitCode(), nil
	}
	if err != nil {
		return buf.String(), -1, err
	}
	return buf.String(), 0, nil
}
