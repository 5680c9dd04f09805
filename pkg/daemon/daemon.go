// Package daemon starts edgek's components in order, waits for each to be ready, turns the
// first background failure into a shutdown, and stops the components in reverse order.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Component is one part of edgek (datastore, apiserver, kubelet...). Run drives every
// component through the same life, and every implementation keeps this contract:
//
//   - Order. Run calls Start, then, if Start returned nil, Ready (bounded by ReadyTimeout),
//     and only then the next component's Start. Stop is called only for a component whose
//     Start returned nil, in reverse start order, and Run waits at most StopTimeout for it.
//   - Start does what must happen before the component runs (write its configuration, check
//     the host, open its sockets) and returns once the component is launched; waiting for it
//     to serve is Ready's job. If Start returns an error it first undoes what it did: Stop
//     will not be called.
//   - Work that outlives Start runs until Stop, not until ctx ends: ctx carries values and
//     bounds start-up work only (Run cancels it at shutdown before it stops anything, so
//     work tied to it would end before the components that depend on this one stopped). Go
//     runs such work with a context that only Stop cancels.
//   - A failure after Start (background work that ends on its own, with or without an error)
//     is reported by calling fail, once: Run keeps the first failure of all components, shuts
//     down, and calls Stop. So the component need not clean up before it calls fail, and it
//     never exits the process. fail is never called once Stop has returned.
//   - Ready blocks until the component serves, so that the components after it can use it,
//     or until ctx ends (then it returns ctx's error). It starts nothing that needs stopping.
//   - Stop ends the component's background work, waits for all of it, and releases what
//     Start acquired (listeners, connections, files, child processes). After the component
//     called fail, Stop is safe and releases what is left; a second Stop is a no-op.
type Component interface {
	// Name identifies the component in logs and errors.
	Name() string
	// Start launches the component and returns once it is launched; fail reports a failure
	// after that. See the contract above.
	Start(ctx context.Context, fail func(error)) error
	// Ready blocks until the component serves, or ctx ends.
	Ready(ctx context.Context) error
	// Stop ends the component's background work and waits for it; it may be called again.
	Stop()
}

// StopTimeout bounds how long one component may take to stop.
const StopTimeout = 10 * time.Second

// ReadyTimeout bounds how long start-up waits for one component to be ready.
const ReadyTimeout = 5 * time.Minute

// Run starts comps in order, each once the previous one is ready, calls onReady when all
// are, then waits until ctx ends or a component fails. It returns the failure, or nil after
// a requested shutdown.
func Run(ctx context.Context, log *slog.Logger, onReady func() error, comps ...Component) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var started []Component
	defer func() { stopAll(log, started) }()

	for _, c := range comps {
		name := c.Name()
		fail := func(err error) {
			log.Error("component failed", "component", name, "err", err)
			cancel(&failure{name: name, err: err})
		}
		t0 := time.Now()
		if err := c.Start(ctx, fail); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		started = append(started, c)
		rctx, rcancel := context.WithTimeout(ctx, ReadyTimeout)
		err := c.Ready(rctx)
		rcancel()
		if err != nil {
			if f := failed(ctx); f != nil {
				return f
			}
			if ctx.Err() != nil {
				log.Info("shutting down during start-up", "reason", context.Cause(ctx))
				return nil
			}
			return fmt.Errorf("%s not ready after %s: %w", name, time.Since(t0).Round(time.Second), err)
		}
		log.Info("component ready", "component", name, "seconds", time.Since(t0).Seconds())
	}
	if onReady != nil {
		if err := onReady(); err != nil {
			return err
		}
	}
	<-ctx.Done()
	if f := failed(ctx); f != nil {
		return f
	}
	log.Info("shutting down", "reason", context.Cause(ctx))
	return nil
}

// failure is a component's background failure, the cause of the daemon's cancellation.
type failure struct {
	name string
	err  error
}

func (f *failure) Error() string { return f.name + " failed: " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// failed returns the component failure that cancelled ctx, or nil for a requested shutdown.
func failed(ctx context.Context) error {
	var f *failure
	if errors.As(context.Cause(ctx), &f) {
		return f
	}
	return nil
}

func stopAll(log *slog.Logger, started []Component) {
	for i := len(started) - 1; i >= 0; i-- {
		c := started[i]
		done := make(chan struct{})
		go func() { c.Stop(); close(done) }()
		select {
		case <-done:
		case <-time.After(StopTimeout):
			log.Warn("component did not stop in time", "component", c.Name(), "timeout", StopTimeout)
		}
	}
}

// Task runs one blocking function in the background with its own context, so that
// components can be stopped one by one in reverse order. It is the usual way for a
// Component to keep the contract: fn runs until Stop, and fail hears if it ends before.
type Task struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Go runs fn until Stop. If fn returns before Stop was called, fail gets its error (or a
// note that it exited), once, before Stop returns. ctx supplies values only: cancelling it
// does not stop fn.
func Go(ctx context.Context, fail func(error), fn func(context.Context) error) *Task {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t := &Task{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		err := fn(ctx)
		if ctx.Err() != nil {
			return // stopped on purpose
		}
		if err == nil {
			err = errors.New("exited unexpectedly")
		}
		fail(err)
	}()
	return t
}

// Stop cancels the task's context and waits for fn to return (and for fail, if fn had
// failed). It may be called more than once, from several goroutines, and on a nil *Task
// (a component stopped before its task was started); it must not be called from fn.
func (t *Task) Stop() {
	if t == nil {
		return
	}
	t.cancel()
	<-t.done
}
