package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// run serves the dashboard until ctx ends, then shuts down gracefully.
func run(ctx context.Context, cfg config, log *slog.Logger) error {
	api, err := newAPIClient(cfg.APIServer, cfg.APIServerCA)
	if err != nil {
		return err
	}
	h, err := newServer(serverOptions{API: api, Log: log, SessionTTL: cfg.SessionTTL, MaxSessions: cfg.MaxSessions})
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second, // a log page waits up to 60 s on the apiserver
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	tls := cfg.TLSCert != ""
	log.Info("serving", "addr", ln.Addr().String(), "tls", tls, "apiserver", cfg.APIServer, "version", version)
	done := make(chan error, 1)
	go func() {
		if tls {
			done <- hs.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			done <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}
