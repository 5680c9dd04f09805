package containerd

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/test/testutil"
)

// standIn is the component supervising a stand-in for containerd: a script that sleeps (a
// real child process, not containerd). It needs root: the state dir is under /run.
func standIn(t *testing.T) *Containerd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containerd's state dir is under /run")
	}
	a := &config.Agent{DataDir: t.TempDir()}
	t.Cleanup(func() { os.RemoveAll(a.RunDir()) })
	exe := filepath.Join(t.TempDir(), "containerd")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := New(a, Host{BinDir: t.TempDir()}, exe, testutil.DiscardLogger())
	return c
}

// TestStopTwice stops a supervised stand-in twice.
func TestStopTwice(t *testing.T) {
	c := standIn(t)
	var fails atomic.Int32
	if err := c.Start(t.Context(), func(error) { fails.Add(1) }); err != nil {
		t.Fatal(err)
	}
	pid := c.cmd.Process.Pid
	for i := range 2 {
		done := make(chan struct{})
		go func() { c.Stop(); close(done) }()
		select {
		case <-done:
		case <-time.After(stopTimeout + 5*time.Second):
			t.Fatalf("Stop %d did not return", i+1)
		}
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("the child %d still runs after Stop", pid)
	}
	if n := fails.Load(); n != 0 {
		t.Errorf("fail called %d times for a containerd that was stopped", n)
	}
}

// TestStopDuringRestart stops while the supervisor waits to restart a containerd that died:
// no new containerd is started, Stop returns at once (not after stopTimeout), and the
// agent is not failed.
func TestStopDuringRestart(t *testing.T) {
	c := standIn(t)
	failed := make(chan error, 1)
	if err := c.Start(t.Context(), func(err error) { failed <- err }); err != nil {
		t.Fatal(err)
	}
	first := c.cmd.Process.Pid
	syscall.Kill(first, syscall.SIGKILL)
	for syscall.Kill(first, 0) == nil { // until the supervisor reaped it and waits to restart
		time.Sleep(10 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { c.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopTimeout / 2):
		t.Fatal("Stop during a restart waited for its timeout")
	}
	c.mu.Lock()
	last := c.cmd.Process.Pid
	c.mu.Unlock()
	if last != first {
		syscall.Kill(last, syscall.SIGKILL)
		t.Errorf("a containerd (pid %d) was started after Stop", last)
	}
	select {
	case err := <-failed:
		t.Errorf("Stop during a restart failed the agent: %v", err)
	default:
	}
}
