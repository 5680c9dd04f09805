// Package logging builds edgek's one structured log stream and routes the loggers of the
// upstream libraries (klog for Kubernetes, logrus for kine) into it.
package logging

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"strconv"

	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
)

// New returns a text logger writing to w, at debug level when debug is set.
func New(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// RouteUpstream sends klog and logrus output into logger. klog's verbosity is 0, or 2 with
// debug (the level Kubernetes components use for "useful steady state" detail).
func RouteUpstream(logger *slog.Logger, debug bool) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	v := 0
	if debug {
		v = 2
	}
	_ = fs.Set("v", strconv.Itoa(v))
	_ = fs.Set("logtostderr", "true")
	klog.SetSlogLogger(logger.With("component", "k8s"))

	logrus.SetOutput(io.Discard)
	logrus.SetLevel(logrus.InfoLevel)
	if debug {
		logrus.SetLevel(logrus.DebugLevel)
	}
	// Replace, not add: routing twice must not log every kine line twice.
	hooks := make(logrus.LevelHooks)
	hooks.Add(&logrusHook{logger: logger.With("component", "kine")})
	logrus.StandardLogger().ReplaceHooks(hooks)
}

// logrusHook forwards logrus entries (kine logs through logrus) to slog.
type logrusHook struct{ logger *slog.Logger }

func (h *logrusHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *logrusHook) Fire(e *logrus.Entry) error {
	level := slog.LevelInfo
	switch {
	case e.Level <= logrus.ErrorLevel:
		level = slog.LevelError
	case e.Level == logrus.WarnLevel:
		level = slog.LevelWarn
	case e.Level >= logrus.DebugLevel:
		level = slog.LevelDebug
	}
	attrs := make([]any, 0, 2*len(e.Data))
	for k, v := range e.Data {
		attrs = append(attrs, k, v)
	}
	h.logger.Log(context.Background(), level, e.Message, attrs...)
	return nil
}
