// Package containerd runs containerd (the same edgek binary, re-executed under the name
// containerd) as a supervised child process, with a generated configuration.
//
// containerd is a child process rather than in-process so that its shims, and the
// containers under them, outlive an edgek restart: stopping edgek stops containerd, the
// shims stay, and the next containerd adopts them.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/fsutil"
)

const (
	stopTimeout = 10 * time.Second
	// A containerd that dies more often than this within restartWindow fails the agent.
	maxRestarts   = 5
	restartWindow = time.Minute
)

// Containerd supervises the containerd child process.
type Containerd struct {
	agent *config.Agent
	host  Host
	exe   string // the edgek binary
	log   *slog.Logger

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	done     chan struct{} // closed when the supervisor loop ends
	rotate   *daemon.Task  // rotates containerd's log until Stop
}

var _ daemon.Component = (*Containerd)(nil)

// New returns the containerd component. exe is the edgek binary to re-execute.
func New(a *config.Agent, h Host, exe string, log *slog.Logger) *Containerd {
	return &Containerd{agent: a, host: h, exe: exe, log: log}
}

// Name implements daemon.Component.
func (c *Containerd) Name() string { return "containerd" }

// Start writes the configuration and starts containerd, which is restarted if it dies
// until it dies too often (then fail hears it). Its log is rotated until Stop.
func (c *Containerd) Start(ctx context.Context, fail func(error)) error {
	for _, d := range []string{filepath.Dir(c.agent.ContainerdConfigFile()), c.agent.ContainerdRoot(), c.agent.ContainerdState(), c.agent.CertsDir(), c.agent.CNIConfDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := fsutil.WriteFileAtomic(c.agent.ContainerdConfigFile(), []byte(Config(c.agent, c.host)), 0o600); err != nil {
		return fmt.Errorf("write containerd config: %w", err)
	}
	c.killStale()
	// rotateLogs returns only when its context ends: returning before Stop is a bug, reported.
	c.rotate = daemon.Go(ctx, fail, func(ctx context.Context) error { c.rotateLogs(ctx); return nil })
	c.done = make(chan struct{})
	started := make(chan error, 1)
	go c.supervise(fail, started)
	if err := <-started; err != nil {
		c.rotate.Stop() // Stop is not called after a failed Start
		return err
	}
	return nil
}

// Ready waits until containerd answers its gRPC health check.
func (c *Containerd) Ready(ctx context.Context) error {
	conn, err := grpc.NewClient("unix://"+c.agent.ContainerdSocket(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("containerd client: %w", err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := client.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd not serving on %s (see %s): %w", c.agent.ContainerdSocket(), c.logFile(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop ends containerd (not its shims: containers keep running) and the log rotation. It
// is safe before Start, after a failure and twice: a containerd that already exited is not
// signalled again, and done is closed.
func (c *Containerd) Stop() {
	c.mu.Lock()
	c.stopping = true
	cmd := c.cmd
	c.mu.Unlock()
	if cmd != nil {
		cmd.Process.Signal(syscall.SIGTERM) // an error means it has exited already
		select {
		case <-c.done:
		case <-time.After(stopTimeout):
			// Kill the current process: a restart may have replaced the one signalled.
			c.mu.Lock()
			cmd = c.cmd
			c.mu.Unlock()
			cmd.Process.Kill()
			<-c.done
		}
	}
	c.rotate.Stop()
}

func (c *Containerd) logFile() string {
	return filepath.Join(c.agent.ContainerdRoot(), "containerd.log")
}
func (c *Containerd) pidFile() string {
	return filepath.Join(c.agent.ContainerdState(), "containerd.pid")
}

// errStopping: Stop was called, so spawn started nothing.
var errStopping = errors.New("containerd is being stopped")

// spawn starts containerd, unless Stop was called: the check and the start are one step
// under mu, so that Stop never misses a process started during a restart.
func (c *Containerd) spawn() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return errStopping
	}
	logf, err := os.OpenFile(c.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open containerd log: %w", err)
	}
	cmd := exec.Command(c.exe, "--config", c.agent.ContainerdConfigFile())
	cmd.Args[0] = "containerd"
	cmd.Env = append(os.Environ(), "PATH="+c.host.BinDir+":"+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group (a Ctrl-C on edgek's terminal is edgek's to handle), and killed
	// if edgek dies without stopping it; the shims are not affected by either.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start containerd: %w", err)
	}
	logf.Close()
	os.WriteFile(c.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
	c.cmd = cmd
	c.log.Info("containerd started", "pid", cmd.Process.Pid, "log", c.logFile())
	return nil
}

// supervise starts containerd, restarts it when it dies, and fails the agent if it keeps
// dying. It runs on its own locked OS thread: Pdeathsig fires when the *thread* that
// started the child ends, and a locked goroutine's thread lives exactly as long as it.
func (c *Containerd) supervise(fail func(error), started chan<- error) {
	runtime.LockOSThread()
	defer close(c.done)
	if err := c.spawn(); err != nil {
		started <- err
		return
	}
	started <- nil
	var restarts []time.Time
	for {
		c.mu.Lock()
		cmd := c.cmd
		c.mu.Unlock()
		err := cmd.Wait()
		c.mu.Lock()
		stopping := c.stopping
		c.mu.Unlock()
		if stopping {
			return
		}
		now := time.Now()
		restarts = append(restarts, now)
		for len(restarts) > 0 && now.Sub(restarts[0]) > restartWindow {
			restarts = restarts[1:]
		}
		if len(restarts) > maxRestarts {
			fail(fmt.Errorf("containerd exited %d times within %s, last: %v (see %s)", len(restarts), restartWindow, err, c.logFile()))
			return
		}
		c.log.Warn("containerd exited, restarting", "err", err, "log", c.logFile())
		time.Sleep(time.Second)
		if err := c.spawn(); errors.Is(err, errStopping) {
			return
		} else if err != nil {
			fail(err)
			return
		}
	}
}

// killStale stops a containerd left running by an edgek that was killed: only one may
// own the socket and the state dir.
func (c *Containerd) killStale() {
	data, err := os.ReadFile(c.pidFile())
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.HasPrefix(string(cmdline), "containerd\x00") || !strings.Contains(string(cmdline), c.agent.ContainerdConfigFile()) {
		return
	}
	c.log.Warn("stopping a containerd left running by a previous edgek", "pid", pid)
	syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}
