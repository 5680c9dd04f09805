package datastore

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/test/testutil"
)

func TestIsEtcd(t *testing.T) {
	tests := []struct {
		endpoint string
		want     bool
	}{
		{"", false},
		{"https://10.0.0.5:2379", true},
		{"http://127.0.0.1:2379", true},
		{"https://a:2379,https://b:2379", true},
		{"sqlite:///var/lib/edgek/server/db/state.db", false},
		{"postgres://u:p@db:5432/kine", false},
		{"postgresql://db/kine", false},
		{"mysql://u:p@tcp(db:3306)/kine", false},
		{"HTTPS://upper:2379", false}, // the scheme must be lower case, as config validation requires
		{"httpx://x", false},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			if got := isEtcd(tt.endpoint); got != tt.want {
				t.Errorf("isEtcd(%q) = %v, want %v", tt.endpoint, got, tt.want)
			}
		})
	}
}

func TestBackendName(t *testing.T) {
	tests := []struct {
		endpoint, want string
	}{
		{"", "sqlite"},
		{"sqlite:///tmp/x.db", "sqlite"},
		{"postgres://user:secret@db:5432/kine", "postgres"},
		{"postgresql://db/kine", "postgresql"},
		{"mysql://user:secret@tcp(db:3306)/kine", "mysql"},
	}
	for _, tt := range tests {
		t.Run(tt.want+" "+tt.endpoint, func(t *testing.T) {
			k := &Kine{cfg: config.Datastore{Endpoint: tt.endpoint}}
			got := k.backendName()
			if got != tt.want {
				t.Errorf("backendName() = %q, want %q", got, tt.want)
			}
			if strings.Contains(got, "secret") {
				t.Errorf("backendName() %q leaks the password", got)
			}
		})
	}
}

func TestNewPaths(t *testing.T) {
	dataDir := t.TempDir()
	c := &config.Server{DataDir: dataDir, Datastore: config.Datastore{Endpoint: "postgres://db/kine", Wait: time.Second}}
	k := New(c, testutil.DiscardLogger())
	if want := filepath.Join(dataDir, "server", "db"); k.dbDir != want {
		t.Errorf("SQLite dir = %q, want %q", k.dbDir, want)
	}
	if want := filepath.Join(dataDir, "server", "db", "state.db"); filepath.Join(k.dbDir, "state.db") != want || c.DBFile() != want {
		t.Errorf("SQLite file is not %q (config.DBFile() = %q)", want, c.DBFile())
	}
	if want := filepath.Join(dataDir, "server", "db", "kine.sock"); k.socket != want {
		t.Errorf("socket = %q, want %q", k.socket, want)
	}
	if k.cfg != c.Datastore {
		t.Errorf("cfg = %+v, want %+v", k.cfg, c.Datastore)
	}
	if k.Name() != "datastore" {
		t.Errorf("Name() = %q", k.Name())
	}
	k.Stop() // Stop before Start must not block or panic
}

// listen returns the address of a loopback TCP listener that accepts connections.
func listen(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestExternalEtcdEndpoints(t *testing.T) {
	up := listen(t)
	down := closedPort(t)
	tests := []struct {
		name     string
		endpoint string
		want     []string
	}{
		{"one", "https://" + up, []string{"https://" + up}},
		{"with path", "https://" + up + "/some/path", []string{"https://" + up + "/some/path"}},
		{"first down, second up", "http://" + down + ",https://" + up, []string{"http://" + down, "https://" + up}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &config.Server{DataDir: t.TempDir(), Datastore: config.Datastore{
				Endpoint: tt.endpoint, CAFile: "/etc/etcd/ca.crt", CertFile: "/etc/etcd/client.crt", KeyFile: "/etc/etcd/client.key",
				Wait: 5 * time.Second,
			}}
			k := New(c, testutil.DiscardLogger())
			if err := k.Start(t.Context(), func(error) {}); err != nil {
				t.Fatal(err)
			}
			defer k.Stop()
			got := k.Endpoints()
			if !slices.Equal(got.Servers, tt.want) {
				t.Errorf("Servers = %q, want %q", got.Servers, tt.want)
			}
			if got.CAFile != "/etc/etcd/ca.crt" || got.CertFile != "/etc/etcd/client.crt" || got.KeyFile != "/etc/etcd/client.key" {
				t.Errorf("TLS files not passed through to the apiserver: %+v", got)
			}
			if _, err := os.Stat(c.DBDir()); !os.IsNotExist(err) {
				t.Errorf("external etcd created the SQLite dir %s (err %v)", c.DBDir(), err)
			}
		})
	}
}

func TestWaitReachable(t *testing.T) {
	up := listen(t)
	down := closedPort(t)
	tests := []struct {
		name      string
		endpoints string
		wait      time.Duration
		wantErr   []string // substrings; nil means success
	}{
		{"reachable", "https://" + up, time.Second, nil},
		{"reachable with path", "http://" + up + "/v3", time.Second, nil},
		{"second of two reachable", "https://" + down + ",https://" + up, time.Second, nil},
		{"unreachable", "https://" + down, 300 * time.Millisecond,
			[]string{"external etcd datastore did not answer within 300ms", down, "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := waitReachable(t.Context(), tt.endpoints, tt.wait)
			if elapsed := time.Since(start); elapsed > tt.wait+2*time.Second {
				t.Errorf("took %s with wait %s", elapsed, tt.wait)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want error, got nil")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestWaitReachableDefaultPort(t *testing.T) {
	// Without a port the etcd client port 2379 is dialled.
	err := waitReachable(t.Context(), "https://127.0.0.1", 200*time.Millisecond)
	if err == nil {
		t.Skip("something listens on 127.0.0.1:2379")
	}
	if !strings.Contains(err.Error(), "127.0.0.1:2379") {
		t.Errorf("error %q does not name 127.0.0.1:2379", err)
	}
}

func TestWaitReachableCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	err := waitReachable(ctx, "https://"+closedPort(t), time.Minute)
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("want a 'did not answer' error, got %v", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("cancelled wait took %s", elapsed)
	}
}

func TestExternalEtcdUnreachableStart(t *testing.T) {
	down := closedPort(t)
	c := &config.Server{DataDir: t.TempDir(), Datastore: config.Datastore{Endpoint: "https://" + down, Wait: 200 * time.Millisecond}}
	k := New(c, testutil.DiscardLogger())
	err := k.Start(t.Context(), func(error) {})
	if err == nil || !strings.Contains(err.Error(), "did not answer within 200ms") {
		t.Fatalf("want a 'did not answer within 200ms' error, got %v", err)
	}
	if e := k.Endpoints(); len(e.Servers) != 0 {
		t.Errorf("endpoints set despite failure: %+v", e)
	}
}

func TestRestrictDBFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"state.db", "state.db-wal", "other.db"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs strings.Builder
	restrictDBFiles(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	for name, want := range map[string]os.FileMode{"state.db": 0o600, "state.db-wal": 0o600, "other.db": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", name, got, want)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("missing state.db-shm should not warn, got %q", logs.String())
	}
}

// startEmbedded starts kine on SQLite in a temporary dir; its fail func sends to the channel.
func startEmbedded(t *testing.T) (*Kine, chan error) {
	t.Helper()
	k := New(&config.Server{DataDir: t.TempDir()}, testutil.DiscardLogger())
	failed := make(chan error, 2)
	if err := k.Start(t.Context(), func(err error) { failed <- err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	conn, err := net.Dial("unix", k.socket)
	if err != nil {
		t.Fatalf("datastore socket does not answer after Start: %v", err)
	}
	conn.Close()
	return k, failed
}

// stopsWithin fails the test if Stop takes longer than the graceful stop and some.
func stopsWithin(t *testing.T, k *Kine) {
	t.Helper()
	done := make(chan struct{})
	go func() { k.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(gracefulStop + 5*time.Second):
		t.Fatal("Stop did not return")
	}
}

func TestEmbeddedServerFailureReachesFail(t *testing.T) {
	k, failed := startEmbedded(t)
	// The socket fails under the running server, as when its descriptor is closed.
	k.lis.Close()
	select {
	case err := <-failed:
		if !errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), "etcd API server") {
			t.Errorf("fail got %v, want the etcd API server's closed-listener error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the datastore's server stopped serving and fail was not called")
	}
	stopsWithin(t, k)
	stopsWithin(t, k)
	if len(failed) != 0 {
		t.Errorf("fail called again: %v", <-failed)
	}
}

func TestEmbeddedStopTwice(t *testing.T) {
	k, failed := startEmbedded(t)
	stopsWithin(t, k)
	stopsWithin(t, k)
	if len(failed) != 0 {
		t.Errorf("fail called for a datastore that was stopped: %v", <-failed)
	}
	if _, err := net.Dial("unix", k.socket); err == nil {
		t.Error("the datastore socket still answers after Stop")
	}
}
