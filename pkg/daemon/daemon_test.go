package daemon

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgek-io/edgek/test/testutil"
)

type fake struct {
	name     string
	startErr error
	events   *[]string
	mu       *sync.Mutex
	task     *Task
	run      func(ctx context.Context) error
}

func (f *fake) Name() string { return f.name }
func (f *fake) record(e string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*f.events = append(*f.events, e+" "+f.name)
}
func (f *fake) Start(ctx context.Context, fail func(error)) error {
	f.record("start")
	if f.startErr != nil {
		return f.startErr
	}
	run := f.run
	if run == nil {
		run = func(ctx context.Context) error { <-ctx.Done(); return nil }
	}
	f.task = Go(ctx, fail, run)
	return nil
}
func (f *fake) Ready(context.Context) error { return nil }
func (f *fake) Stop()                       { f.task.Stop(); f.record("stop") }

func newFakes(names ...string) ([]*fake, *[]string) {
	var events []string
	mu := &sync.Mutex{}
	var fs []*fake
	for _, n := range names {
		fs = append(fs, &fake{name: n, events: &events, mu: mu})
	}
	return fs, &events
}

func comps(fs []*fake) []Component {
	var cs []Component
	for _, f := range fs {
		cs = append(cs, f)
	}
	return cs
}

var quiet = testutil.DiscardLogger()

func TestRunStopsInReverseOrderOnShutdown(t *testing.T) {
	fs, events := newFakes("a", "b", "c")
	ctx, cancel := context.WithCancel(t.Context())
	err := Run(ctx, quiet, func() error { cancel(); return nil }, comps(fs)...)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if !slices.Equal(*events, want) {
		t.Errorf("events = %q, want %q", *events, want)
	}
}

func TestRunReturnsFirstBackgroundFailure(t *testing.T) {
	fs, events := newFakes("a", "b")
	fs[1].run = func(context.Context) error { return errors.New("boom") }
	err := Run(t.Context(), quiet, nil, comps(fs)...)
	if err == nil || !strings.Contains(err.Error(), "b failed: boom") {
		t.Fatalf("Run error = %v, want b failed: boom", err)
	}
	if got := (*events)[len(*events)-1]; got != "stop a" {
		t.Errorf("last event = %q, want stop a", got)
	}
}

func TestRunStartErrorStopsEarlierComponents(t *testing.T) {
	fs, events := newFakes("a", "b", "c")
	fs[1].startErr = errors.New("port in use")
	err := Run(t.Context(), quiet, nil, comps(fs)...)
	if err == nil || !strings.Contains(err.Error(), "start b: port in use") {
		t.Fatalf("Run error = %v", err)
	}
	want := []string{"start a", "start b", "stop a"}
	if !slices.Equal(*events, want) {
		t.Errorf("events = %q, want %q", *events, want)
	}
}

func TestTaskUnexpectedExitIsAFailure(t *testing.T) {
	got := make(chan error, 1)
	task := Go(t.Context(), func(err error) { got <- err }, func(context.Context) error { return nil })
	if err := <-got; err == nil || !strings.Contains(err.Error(), "exited unexpectedly") {
		t.Errorf("fail got %v", err)
	}
	task.Stop()
}

type slowReady struct{ fake }

func (s *slowReady) Ready(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

func TestShutdownDuringStartIsClean(t *testing.T) {
	fs, events := newFakes("a")
	slow := &slowReady{fake: fake{name: "slow", events: events, mu: fs[0].mu}}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Run(ctx, quiet, nil, fs[0], slow); err != nil {
		t.Fatalf("Run after a shutdown request during start-up = %v, want nil", err)
	}
	want := []string{"start a", "start slow", "stop slow", "stop a"}
	if !slices.Equal(*events, want) {
		t.Errorf("events = %q, want %q", *events, want)
	}
}

// returnsWithin fails the test if f does not return within a few seconds (a Stop that blocks).
func returnsWithin(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not return", what)
	}
}

// failCounter is a fail func that counts its calls and keeps the last error.
type failCounter struct {
	mu    sync.Mutex
	calls int
	err   error
}

func (f *failCounter) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.err = err
}

func (f *failCounter) get() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.err
}

func TestSecondStopIsNoOp(t *testing.T) {
	untilStopped := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	tests := []struct {
		name string
		comp func(runs *int) Component
	}{
		{"upstream", func(runs *int) Component {
			return &Upstream{ComponentName: "u", Prepare: func(context.Context) (func(context.Context) error, error) {
				return func(ctx context.Context) error { *runs++; return untilStopped(ctx) }, nil
			}}
		}},
		{"step", func(runs *int) Component {
			return &Step{StepName: "s", Do: func(context.Context) error { *runs++; return nil }}
		}},
		{"task", func(runs *int) Component {
			return &fake{name: "f", events: &[]string{}, mu: &sync.Mutex{},
				run: func(ctx context.Context) error { *runs++; return untilStopped(ctx) }}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var runs int
			c := tt.comp(&runs)
			var fc failCounter
			if err := c.Start(t.Context(), fc.fail); err != nil {
				t.Fatal(err)
			}
			if err := c.Ready(t.Context()); err != nil {
				t.Fatal(err)
			}
			returnsWithin(t, "first Stop", c.Stop)
			returnsWithin(t, "second Stop", c.Stop)
			if runs != 1 {
				t.Errorf("ran %d times, want 1", runs)
			}
			if n, err := fc.get(); n != 0 {
				t.Errorf("fail called %d times (last %v) for a component that was stopped", n, err)
			}
		})
	}
}

func TestStopBeforeStartIsNoOp(t *testing.T) {
	var task *Task
	returnsWithin(t, "Stop of a nil *Task", task.Stop)
	u := &Upstream{ComponentName: "u", Prepare: func(context.Context) (func(context.Context) error, error) {
		return nil, errors.New("bad flag")
	}}
	if err := u.Start(t.Context(), func(error) {}); err == nil {
		t.Fatal("Start with a failing Prepare returned nil")
	}
	returnsWithin(t, "Stop after a failed Start", u.Stop)
}

func TestTaskFailsOnceWhenFnReturns(t *testing.T) {
	var fc failCounter
	returned := make(chan struct{})
	task := Go(t.Context(), fc.fail, func(context.Context) error { defer close(returned); return errors.New("boom") })
	<-returned
	returnsWithin(t, "Stop after a failure", task.Stop)
	returnsWithin(t, "second Stop after a failure", task.Stop)
	// Stop waits for fail: by now it was called, and only once.
	if n, err := fc.get(); n != 1 || err == nil || err.Error() != "boom" {
		t.Errorf("fail called %d times with %v, want once with boom", n, err)
	}
}

func TestTaskNoFailAfterStop(t *testing.T) {
	var fc failCounter
	task := Go(t.Context(), fc.fail, func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("interrupted") // what a stopped server typically returns
	})
	returnsWithin(t, "Stop", task.Stop)
	if n, err := fc.get(); n != 0 {
		t.Errorf("fail called %d times (last %v) after Stop", n, err)
	}
}

func TestTaskOutlivesStartContext(t *testing.T) {
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(t.Context(), key{}, "v"))
	var fc failCounter
	got := make(chan any, 1)
	task := Go(ctx, fc.fail, func(ctx context.Context) error {
		got <- ctx.Value(key{})
		<-ctx.Done()
		return nil
	})
	cancel()
	if v := <-got; v != "v" {
		t.Errorf("fn's context lost the start context's value: got %v", v)
	}
	select {
	case <-task.done:
		t.Fatal("cancelling the start context stopped the task")
	case <-time.After(50 * time.Millisecond):
	}
	returnsWithin(t, "Stop", task.Stop)
	if n, err := fc.get(); n != 0 {
		t.Errorf("fail called %d times (last %v)", n, err)
	}
}

func TestUpstreamExitCallsFail(t *testing.T) {
	var fc failCounter
	exited := make(chan struct{})
	u := &Upstream{ComponentName: "u", Prepare: func(context.Context) (func(context.Context) error, error) {
		return func(context.Context) error { defer close(exited); return errors.New("crashed") }, nil
	}}
	if err := u.Start(t.Context(), fc.fail); err != nil {
		t.Fatal(err)
	}
	<-exited
	returnsWithin(t, "Stop after a failure", u.Stop)
	returnsWithin(t, "second Stop", u.Stop)
	if n, err := fc.get(); n != 1 || err == nil || err.Error() != "crashed" {
		t.Errorf("fail called %d times with %v, want once with crashed", n, err)
	}
}
