package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
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

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

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
