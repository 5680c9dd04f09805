// Package logging builds edgek's one structured log stream and routes the loggers of the
// upstream libraries (klog for Kubernetes, logrus for kine and containerd, the standard
// library's log and gRPC's logger) into it.
package logging

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/grpclog"
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

// RouteUpstream sends klog, logrus, log and gRPC output into logger. klog's verbosity is 0, or 2 with
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
	routeStandard(logger)
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

// routeStandard sends what the standard library's log package and gRPC's logger write (some
// upstream code logs through them, by default straight to stderr) into logger, so that the
// output stays one structured stream.
func routeStandard(logger *slog.Logger) {
	log.SetFlags(0)
	log.SetOutput(&lineWriter{logger: logger.With("component", "go"), level: slog.LevelInfo})
	grpclog.SetLoggerV2(&grpcLogger{logger: logger.With("component", "grpc")})
}

// lineWriter logs each write (one log.Print call) as a message.
type lineWriter struct {
	logger *slog.Logger
	level  slog.Level
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.logger.Log(context.Background(), w.level, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// grpcLogger is a grpclog.LoggerV2 writing into slog.
type grpcLogger struct{ logger *slog.Logger }

func (g *grpcLogger) log(level slog.Level, msg string) {
	g.logger.Log(context.Background(), level, strings.TrimRight(msg, "\n"))
}

// gRPC logs at error only by default (GRPC_GO_LOG_SEVERITY_LEVEL): its info lines are
// per-connection chatter and are dropped, its warnings (a socket not there yet while a
// component starts or stops) are shown with --debug.
func (g *grpcLogger) Info(args ...any)                 {}
func (g *grpcLogger) Infoln(args ...any)               {}
func (g *grpcLogger) Infof(format string, args ...any) {}
func (g *grpcLogger) Warning(args ...any)              { g.log(slog.LevelDebug, fmt.Sprint(args...)) }
func (g *grpcLogger) Warningln(args ...any)            { g.log(slog.LevelDebug, fmt.Sprintln(args...)) }
func (g *grpcLogger) Warningf(format string, args ...any) {
	g.log(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (g *grpcLogger) Error(args ...any)   { g.log(slog.LevelError, fmt.Sprint(args...)) }
func (g *grpcLogger) Errorln(args ...any) { g.log(slog.LevelError, fmt.Sprintln(args...)) }
func (g *grpcLogger) Errorf(format string, args ...any) {
	g.log(slog.LevelError, fmt.Sprintf(format, args...))
}

// Fatal* log and exit, as grpclog's contract requires.
func (g *grpcLogger) Fatal(args ...any)   { g.log(slog.LevelError, fmt.Sprint(args...)); os.Exit(1) }
func (g *grpcLogger) Fatalln(args ...any) { g.log(slog.LevelError, fmt.Sprintln(args...)); os.Exit(1) }
func (g *grpcLogger) Fatalf(format string, args ...any) {
	g.log(slog.LevelError, fmt.Sprintf(format, args...))
	os.Exit(1)
}

// V reports whether verbosity level l is logged: gRPC's verbose lines only at debug.
func (g *grpcLogger) V(l int) bool {
	return l <= 0 && g.logger.Enabled(context.Background(), slog.LevelDebug)
}
