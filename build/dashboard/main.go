// Command dashboard is edgek's web UI: a small server-rendered view of a cluster (nodes,
// namespaces, workloads, pods and their logs, services, events) with a few actions (scale,
// restart, delete). It holds no rights of its own: users sign in with a bearer token, and every
// apiserver call made for them carries that token, so RBAC decides what they see and do.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dashboard:", err)
		os.Exit(2)
	}
	if cfg.ShowVersion {
		fmt.Println("edgek-dashboard", version)
		return
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("dashboard stopped", "err", err)
		os.Exit(1)
	}
}
