package daemon

import "context"

// Upstream is a component that runs one upstream program in-process: Prepare parses and
// validates its configuration (so that bad arguments fail start-up at once) and returns the
// function that runs it; Health blocks until it serves.
type Upstream struct {
	ComponentName string
	Prepare       func(ctx context.Context) (run func(context.Context) error, err error)
	Health        func(ctx context.Context) error

	task *Task
}

var _ Component = (*Upstream)(nil)

// Name implements Component.
func (u *Upstream) Name() string { return u.ComponentName }

// Start implements Component: it prepares the program and runs it with Go, so that it runs
// until Stop and an exit of its own calls fail.
func (u *Upstream) Start(ctx context.Context, fail func(error)) error {
	run, err := u.Prepare(ctx)
	if err != nil {
		return err
	}
	u.task = Go(ctx, fail, run)
	return nil
}

// Ready implements Component.
func (u *Upstream) Ready(ctx context.Context) error {
	if u.Health == nil {
		return nil
	}
	return u.Health(ctx)
}

// Stop implements Component: it cancels the program's context and waits for it to return.
// Before Start, after a failed Start and a second time it does nothing.
func (u *Upstream) Stop() { u.task.Stop() }

// Step is a component that does one thing at its turn in the start order (after the
// components before it are ready) and has nothing to run or stop.
type Step struct {
	StepName string
	Do       func(ctx context.Context) error
}

var _ Component = (*Step)(nil)

// Name implements Component.
func (s *Step) Name() string { return s.StepName }

// Start implements Component: it does the step; nothing runs afterwards, so fail is unused.
func (s *Step) Start(ctx context.Context, _ func(error)) error { return s.Do(ctx) }

// Ready implements Component.
func (s *Step) Ready(context.Context) error { return nil }

// Stop implements Component: there is nothing to stop, however often it is called.
func (s *Step) Stop() {}
