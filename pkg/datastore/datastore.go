// Package datastore gives the apiserver its etcd endpoint: kine serving the etcd API on a
// unix socket in front of SQLite (default), PostgreSQL or MySQL, or an external etcd that
// the apiserver talks to directly.
//
// Only the drivers edgek supports are linked in (kine's endpoint package would pull in
// every driver kine has, ~16 MB of binary).
package datastore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	_ "github.com/k3s-io/kine/pkg/drivers/mysql" // mysql://
	_ "github.com/k3s-io/kine/pkg/drivers/pgsql" // postgres://, postgresql://
	_ "github.com/k3s-io/kine/pkg/drivers/remote"
	"github.com/k3s-io/kine/pkg/drivers/sqlite"
	"github.com/k3s-io/kine/pkg/server"
	"github.com/k3s-io/kine/pkg/tls"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/daemon"
)

// Tuning that kine's own command line would otherwise default; kine's library rejects zero
// values for most of them.
const (
	compactInterval     = 5 * time.Minute // compaction runs in kine; 0 would disable it
	compactTimeout      = 5 * time.Second
	compactMinRetain    = 1000
	compactBatchSize    = 1000
	pollInterval        = time.Second
	pollBatchSize       = 500
	notifyInterval      = 5 * time.Second
	emulatedEtcdVersion = "3.6.11"
	gracefulStop        = 2 * time.Second
)

// Kine runs the datastore component.
type Kine struct {
	cfg    config.Datastore
	dbDir  string
	socket string
	log    *slog.Logger

	endpoints config.EtcdEndpoints
	lis       net.Listener       // the etcd API socket (tests close it under the server)
	server    *daemon.Task       // serves the etcd API until Stop
	cancel    context.CancelFunc // ends the backend: polling, compaction, the database
	wg        sync.WaitGroup     // the backend's goroutines
}

var _ daemon.Component = (*Kine)(nil)

// New returns the datastore of a server configuration.
func New(c *config.Server, log *slog.Logger) *Kine {
	return &Kine{cfg: c.Datastore, dbDir: c.DBDir(), socket: c.KineSocket(), log: log}
}

// Name implements daemon.Component.
func (k *Kine) Name() string { return "datastore" }

// Endpoints returns the etcd endpoints; valid after Start returned nil.
func (k *Kine) Endpoints() config.EtcdEndpoints { return k.endpoints }

// Start opens the backend and serves the etcd API until Stop; if the server stops on its
// own (its socket fails), fail hears it. For an external etcd it only checks that the
// endpoint answers, and runs nothing.
func (k *Kine) Start(ctx context.Context, fail func(error)) error {
	if isEtcd(k.cfg.Endpoint) {
		if err := waitReachable(ctx, k.cfg.Endpoint, k.cfg.Wait); err != nil {
			return err
		}
		k.endpoints = config.EtcdEndpoints{Servers: strings.Split(k.cfg.Endpoint, ","), CAFile: k.cfg.CAFile, CertFile: k.cfg.CertFile, KeyFile: k.cfg.KeyFile}
		return nil
	}
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	backend, err := k.openBackend(bctx)
	if err != nil {
		cancel() // the driver may still be retrying: this ends it, there is nothing to wait for
		return err
	}
	k.cancel = cancel
	if k.cfg.Embedded() {
		restrictDBFiles(k.dbDir, k.log)
	}
	if err := backend.Start(bctx); err != nil {
		k.stopBackend()
		return fmt.Errorf("start datastore backend: %w", err)
	}
	lis, err := k.listen(ctx)
	if err != nil {
		k.stopBackend()
		return err
	}
	k.lis = lis
	k.server = daemon.Go(ctx, fail, func(ctx context.Context) error { return serve(ctx, lis, backend) })
	k.endpoints = config.EtcdEndpoints{Servers: []string{"unix://" + k.socket}}
	k.log.Info("datastore ready", "backend", k.backendName(), "socket", k.socket)
	return nil
}

// Ready implements daemon.Component: Start only returns once the datastore serves.
func (k *Kine) Ready(context.Context) error { return nil }

// Stop stops serving (clients get gracefulStop to finish), then closes the database and
// waits for the backend's goroutines. It is safe before Start, after a failure and twice.
func (k *Kine) Stop() {
	k.server.Stop()
	k.stopBackend()
}

// stopBackend ends the backend and waits for it.
func (k *Kine) stopBackend() {
	if k.cancel != nil {
		k.cancel()
		k.wg.Wait()
	}
}

func (k *Kine) backendName() string {
	if k.cfg.Embedded() {
		return "sqlite"
	}
	scheme, _, _ := strings.Cut(k.cfg.Endpoint, "://")
	return scheme
}

// openBackend creates the kine backend, giving an external database k.cfg.Wait to answer.
// ctx bounds the backend's whole life, not only the opening.
func (k *Kine) openBackend(ctx context.Context) (server.Backend, error) {
	endpoint := k.cfg.Endpoint
	// The dir holds kine's socket whatever the datastore, and SQLite's files when embedded.
	if err := os.MkdirAll(k.dbDir, 0o700); err != nil {
		return nil, fmt.Errorf("create datastore dir: %w", err)
	}
	if k.cfg.Embedded() {
		endpoint = "sqlite://" + filepath.Join(k.dbDir, "state.db") + "?" + sqlite.DefaultParams
	}
	type result struct {
		backend server.Backend
		err     error
	}
	done := make(chan result, 1)
	go func() {
		_, backend, err := drivers.New(ctx, &k.wg, &drivers.Config{
			Endpoint:         endpoint,
			BackendTLSConfig: tls.Config{CAFile: k.cfg.CAFile, CertFile: k.cfg.CertFile, KeyFile: k.cfg.KeyFile},
			CompactInterval:  compactInterval,
			CompactTimeout:   compactTimeout,
			CompactMinRetain: compactMinRetain,
			CompactBatchSize: compactBatchSize,
			PollInterval:     pollInterval,
			PollBatchSize:    pollBatchSize,
		})
		done <- result{backend, err}
	}()
	wait := k.cfg.Wait
	if k.cfg.Embedded() || wait <= 0 {
		wait = math.MaxInt64
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			// Never print the endpoint: it may carry a password.
			return nil, fmt.Errorf("open %s datastore: %w", k.backendName(), r.err)
		}
		if r.backend == nil {
			return nil, fmt.Errorf("open %s datastore: no backend", k.backendName())
		}
		return r.backend, nil
	case <-timer.C: // the caller cancels ctx, which stops the retries
		return nil, fmt.Errorf("external %s datastore did not answer within %s (the log shows the last connection error); check --datastore-endpoint and that the database is running", k.backendName(), k.cfg.Wait)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// listen opens the etcd API's unix socket, readable by root only.
func (k *Kine) listen(ctx context.Context) (net.Listener, error) {
	if err := os.Remove(k.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale datastore socket: %w", err)
	}
	lis, err := (&net.ListenConfig{}).Listen(ctx, "unix", k.socket)
	if err != nil {
		return nil, fmt.Errorf("listen on datastore socket: %w", err)
	}
	if err := os.Chmod(k.socket, 0o600); err != nil {
		lis.Close()
		return nil, fmt.Errorf("restrict datastore socket: %w", err)
	}
	return lis, nil
}

// serve answers the etcd API on lis until ctx ends, then stops, giving clients gracefulStop
// to finish. If the server stops on its own (lis fails), it closes what is left and returns
// the error.
func serve(ctx context.Context, lis net.Listener, backend server.Backend) error {
	// The apiserver's etcd client pings every 30s: allow it (gRPC's default policy answers
	// pings more often than every 5 minutes with GOAWAY "too_many_pings").
	srv := grpc.NewServer(
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * time.Hour, Timeout: 20 * time.Second}),
		grpc.MaxRecvMsgSize(2*1024*1024), grpc.MaxSendMsgSize(math.MaxInt32))
	server.New(backend, "unix", notifyInterval, emulatedEtcdVersion).Register(srv)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		srv.Stop() // no longer accepting: end the connections it still has
		if err == nil {
			err = errors.New("stopped")
		}
		return fmt.Errorf("etcd API server on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
		t := time.AfterFunc(gracefulStop, srv.Stop)
		defer t.Stop()
		srv.GracefulStop()
		<-served
		return nil
	}
}

func isEtcd(endpoint string) bool {
	return strings.HasPrefix(endpoint, "http://") || strings.HasPrefix(endpoint, "https://")
}

// waitReachable dials every etcd endpoint until one answers or wait passes.
func waitReachable(ctx context.Context, endpoints string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var hosts []string
	for _, e := range strings.Split(endpoints, ",") {
		_, rest, _ := strings.Cut(e, "://")
		host, _, _ := strings.Cut(rest, "/")
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(host, "2379")
		}
		hosts = append(hosts, host)
	}
	var lastErr error
	for {
		for _, h := range hosts {
			conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", h)
			if err == nil {
				conn.Close()
				return nil
			}
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("external etcd datastore did not answer within %s: %w", wait, lastErr)
		case <-time.After(time.Second):
		}
	}
}

// restrictDBFiles makes the SQLite files (which hold every Secret) readable by root only.
func restrictDBFiles(dir string, log *slog.Logger) {
	for _, name := range []string{"state.db", "state.db-wal", "state.db-shm"} {
		if err := os.Chmod(filepath.Join(dir, name), 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn("could not restrict datastore file", "file", name, "err", err)
		}
	}
}
