package testutil

import (
	"log/slog"
	"strings"
	"sync"
)

// DiscardLogger returns a logger that drops everything, for code under test that must be given
// one.
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// LogRecorder keeps what a logger from its Logger method logs, one line per record in slog's
// text format without the time: `level=WARN msg="disk almost full" dir=/var/lib/edgek`.
// Tests check lines with Count or Take. It is safe for concurrent use; the zero value is ready.
type LogRecorder struct {
	mu    sync.Mutex
	lines []string
}

// Logger returns a logger that records every level, debug included, into l.
func (l *LogRecorder) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// Write records the lines of p (a slog handler writes one record per call).
func (l *LogRecorder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for line := range strings.Lines(string(p)) {
		l.lines = append(l.lines, strings.TrimSuffix(line, "\n"))
	}
	return len(p), nil
}

// Lines returns the lines recorded so far.
func (l *LogRecorder) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// Take returns the lines recorded so far and forgets them.
func (l *LogRecorder) Take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	l.lines = nil
	return lines
}

// Count returns how many recorded lines contain every one of parts, e.g.
// Count(`msg="manifest applied"`, "file=a.yaml").
func (l *LogRecorder) Count(parts ...string) int {
	n := 0
	for _, line := range l.Lines() {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// String returns the recorded lines, one per line, for failure messages.
func (l *LogRecorder) String() string {
	lines := l.Lines()
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}
