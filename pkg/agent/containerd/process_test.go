package containerd

import (
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgek-io/edgek/pkg/config"
)

// TestStopTwice supervises a stand-in for containerd (a script that sleeps: a real child
// process, not containerd) and stops it twice. It needs root: the state dir is under /run.
func TestStopTwice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: containerd's state dir is under /run")
	}
	a := &config.Agent{DataDir: t.TempDir()}
	t.Cleanup(func() { os.RemoveAll(a.RunDir()) })
	exe := filepath.Join(t.TempDir(), "containerd")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := New(a, Host{BinDir: t.TempDir()}, exe, slog.New(slog.DiscardHandler))
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
// the restart still happens (see supervise), and Stop must end that new process, not only
// signal the dead one. It takes stopTimeout.
func TestStopDuringRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("takes stopTimeout")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: containerd's state dir is under /run")
	}
	a := &config.Agent{DataDir: t.TempDir()}
	t.Cleanup(func() { os.RemoveAll(a.RunDir()) })
	exe := filepath.Join(t.TempDir(), "containerd")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := New(a, Host{BinDir: t.TempDir()}, exe, slog.New(slog.DiscardHandler))
	if err := c.Start(t.Context(), func(error) {}); err != nil {
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
	case <-time.After(stopTimeout + 5*time.Second):
		t.Fatal("Stop during a restart did not return")
	}
	c.mu.Lock()
	last := c.cmd.Process.Pid
	c.mu.Unlock()
	if err := syscall.Kill(last, 0); err == nil {
		t.Errorf("the restarted child %d still runs after Stop", last)
	}
}
