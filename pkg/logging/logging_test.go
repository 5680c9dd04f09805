package logging

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/grpclog"
	"k8s.io/klog/v2"
)

// textLine matches one record of the slog text handler New builds.
var textLine = regexp.MustCompile(`^time=\S+ level=(DEBUG|INFO|WARN|ERROR)([+-]\d+)? msg=`)

// lines splits out into records and fails unless every one is a structured text record.
func lines(t *testing.T, out string) []string {
	t.Helper()
	var ls []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		if !textLine.MatchString(l) {
			t.Errorf("not a structured log line: %q", l)
		}
		ls = append(ls, l)
	}
	return ls
}

// find returns the line whose msg is msg, if any.
func find(ls []string, msg string) (string, bool) {
	for _, l := range ls {
		if strings.Contains(l, " msg="+msg+" ") || strings.HasSuffix(l, " msg="+msg) ||
			strings.Contains(l, ` msg="`+msg+`"`) {
			return l, true
		}
	}
	return "", false
}

func TestNew(t *testing.T) {
	for _, debug := range []bool{false, true} {
		t.Run(map[bool]string{false: "info", true: "debug"}[debug], func(t *testing.T) {
			var buf bytes.Buffer
			log := New(&buf, debug)
			log.Debug("dbg", "k", "v")
			log.Info("inf", "k", "v")
			log.Warn("wrn")
			log.Error("err", "err", errors.New("boom"))
			ls := lines(t, buf.String())
			want := map[string]string{"inf": "INFO", "wrn": "WARN", "err": "ERROR"}
			if debug {
				want["dbg"] = "DEBUG"
			}
			if len(ls) != len(want) {
				t.Errorf("got %d lines, want %d:\n%s", len(ls), len(want), buf.String())
			}
			for msg, level := range want {
				l, ok := find(ls, msg)
				if !ok {
					t.Errorf("line %q missing:\n%s", msg, buf.String())
					continue
				}
				if !strings.Contains(l, " level="+level+" ") {
					t.Errorf("line %q: want level %s", l, level)
				}
			}
			if l, _ := find(ls, "inf"); !strings.Contains(l, " k=v") {
				t.Errorf("attributes not kept as key=value: %q", l)
			}
			if _, ok := find(ls, "dbg"); ok != debug {
				t.Errorf("debug line shown = %v with debug = %v", ok, debug)
			}
		})
	}
}

// routeUpstream calls RouteUpstream and undoes its global changes when the test ends.
func routeUpstream(t *testing.T, debug bool) *bytes.Buffer {
	t.Helper()
	std := logrus.StandardLogger()
	oldOut, oldLevel := std.Out, std.GetLevel()
	oldHooks := std.ReplaceHooks(make(logrus.LevelHooks))
	t.Cleanup(func() {
		klog.ClearLogger()
		fs := flag.NewFlagSet("klog", flag.ContinueOnError)
		klog.InitFlags(fs)
		_ = fs.Set("v", "0")
		std.SetOutput(oldOut)
		std.SetLevel(oldLevel)
		std.ReplaceHooks(oldHooks)
	})
	var buf bytes.Buffer
	RouteUpstream(New(&buf, debug), debug)
	return &buf
}

func TestRouteUpstream(t *testing.T) {
	type want struct {
		msg, level, component string
		attrs                 []string
		debugOnly             bool // shown with debug only
		never                 bool // shown in neither mode
	}
	tests := []struct {
		name string
		emit func()
		want want
	}{
		{"klog info", func() { klog.Info("klog-info") }, want{msg: "klog-info", level: "INFO", component: "k8s"}},
		{"klog structured", func() { klog.InfoS("klog-infos", "pod", "kube-system/coredns") },
			want{msg: "klog-infos", level: "INFO", component: "k8s", attrs: []string{"pod=kube-system/coredns"}}},
		{"klog warning", func() { klog.Warning("klog-warn") }, want{msg: "klog-warn", level: "INFO", component: "k8s"}},
		{"klog error", func() { klog.ErrorS(errors.New("boom"), "klog-error") },
			want{msg: "klog-error", level: "ERROR", component: "k8s", attrs: []string{"err=boom"}}},
		// klog's V(n) maps to slog level -n (INFO-n, printed DEBUG+(4-n)).
		{"klog V(1)", func() { klog.V(1).Info("klog-v1") }, want{msg: "klog-v1", level: "DEBUG+3", component: "k8s", debugOnly: true}},
		{"klog V(2)", func() { klog.V(2).InfoS("klog-v2") }, want{msg: "klog-v2", level: "DEBUG+2", component: "k8s", debugOnly: true}},
		{"klog V(3) never", func() { klog.V(3).Info("klog-v3") }, want{msg: "klog-v3", never: true}},
		{"klog contextual", func() { klog.Background().Info("klog-ctx", "node", "n1") },
			want{msg: "klog-ctx", level: "INFO", component: "k8s", attrs: []string{"node=n1"}}},
		{"klog contextual V(2)", func() { klog.Background().V(2).Info("klog-ctx-v2") },
			want{msg: "klog-ctx-v2", level: "DEBUG+2", component: "k8s", debugOnly: true}},
		{"klog contextual V(5) never", func() { klog.Background().V(5).Info("klog-ctx-v5") }, want{msg: "klog-ctx-v5", never: true}},
		{"logrus info", func() { logrus.WithField("table", "kine").Info("logrus-info") },
			want{msg: "logrus-info", level: "INFO", component: "kine", attrs: []string{"table=kine"}}},
		{"logrus debug", func() { logrus.Debug("logrus-debug") }, want{msg: "logrus-debug", level: "DEBUG", component: "kine", debugOnly: true}},
		{"logrus trace never", func() { logrus.Trace("logrus-trace") }, want{msg: "logrus-trace", never: true}},
		{"logrus warn", func() { logrus.Warn("logrus-warn") }, want{msg: "logrus-warn", level: "WARN", component: "kine"}},
		{"logrus error", func() { logrus.Error("logrus-error") }, want{msg: "logrus-error", level: "ERROR", component: "kine"}},
		{"log package", func() { log.Printf("std-%s", "log") }, want{msg: "std-log", level: "INFO", component: "go"}},
		{"grpc error", func() { grpclog.Errorf("grpc-%s", "error") }, want{msg: "grpc-error", level: "ERROR", component: "grpc"}},
		{"grpc warning", func() { grpclog.Warningln("grpc-warning") }, want{msg: "grpc-warning", level: "DEBUG", component: "grpc", debugOnly: true}},
		{"grpc info never", func() { grpclog.Info("grpc-info") }, want{msg: "grpc-info", never: true}},
	}
	for _, debug := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(tt.name+map[bool]string{false: "", true: " debug"}[debug], func(t *testing.T) {
				buf := routeUpstream(t, debug)
				stderr := captureStderr(t, tt.emit)
				if stderr != "" {
					t.Errorf("upstream logger wrote to stderr directly: %q", stderr)
				}
				ls := lines(t, buf.String())
				l, ok := find(ls, tt.want.msg)
				if shown := !tt.want.never && (debug || !tt.want.debugOnly); ok != shown {
					t.Fatalf("line %q shown = %v with debug = %v, want %v; output:\n%s", tt.want.msg, ok, debug, shown, buf.String())
				}
				if !ok {
					return
				}
				if len(ls) != 1 {
					t.Errorf("want exactly one line, got:\n%s", buf.String())
				}
				if !strings.Contains(l, " level="+tt.want.level+" ") {
					t.Errorf("line %q: want level %s", l, tt.want.level)
				}
				for _, a := range append([]string{"component=" + tt.want.component}, tt.want.attrs...) {
					if !strings.Contains(l, " "+a) {
						t.Errorf("line %q: want attribute %s", l, a)
					}
				}
			})
		}
	}
}

func TestRouteUpstreamDiscardsLogrusOwnOutput(t *testing.T) {
	routeUpstream(t, false)
	if out := logrus.StandardLogger().Out; out != io.Discard {
		t.Errorf("logrus still writes to %T: kine lines would be printed twice", out)
	}
}

// captureStderr runs f with os.Stderr redirected and returns what was written to it.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	old := os.Stderr
	os.Stderr = tmp
	defer func() { os.Stderr = old }()
	f()
	os.Stderr = old
	data, err := os.ReadFile(tmp.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestRouteUpstreamTwiceLogsOnce(t *testing.T) {
	std := logrus.StandardLogger()
	oldHooks := std.ReplaceHooks(make(logrus.LevelHooks))
	oldLevel, oldOut := std.GetLevel(), std.Out
	t.Cleanup(func() {
		std.ReplaceHooks(oldHooks)
		std.SetLevel(oldLevel)
		std.SetOutput(oldOut)
	})
	var buf bytes.Buffer
	log := New(&buf, false)
	RouteUpstream(log, false)
	RouteUpstream(log, false)
	logrus.Info("kine says hello")
	if n := strings.Count(buf.String(), "kine says hello"); n != 1 {
		t.Errorf("a logrus line was logged %d times after routing twice:\n%s", n, buf.String())
	}
}
