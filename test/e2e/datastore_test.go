//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExternalPostgres runs the control plane on an external PostgreSQL (through kine) that
// the test runs itself inside the cluster's network namespace: objects land in PostgreSQL,
// survive a restart, and no SQLite file is made.
func TestExternalPostgres(t *testing.T) {
	pg := startPostgres(t, newNetns(t))
	s := newServer(t, pg.ns, "--disable-agent", "--datastore-endpoint", "postgres://postgres@127.0.0.1:5432/edgek?sslmode=disable")
	s.start()
	s.mustKubectl("create", "configmap", "e2e-pg", "--from-literal=k=v")
	s.stop()
	s.start()
	if out := s.mustKubectl("get", "configmap", "e2e-pg", "-o", "jsonpath={.data.k}"); out != "v" {
		t.Errorf("configmap after restart: %q", out)
	}
	if n := strings.TrimSpace(pg.sql(t, "edgek", "SELECT count(*) FROM kine WHERE name = '/registry/configmaps/default/e2e-pg'")); n == "0" || n == "" {
		t.Errorf("the ConfigMap is not in PostgreSQL's kine table (count %q)", n)
	}
	if _, err := os.Stat(filepath.Join(s.dataDir, "server", "db", "state.db")); err == nil {
		t.Error("a SQLite database was made although the datastore is PostgreSQL")
	}
	s.stop()
}

// postgres is a PostgreSQL server the test runs on 127.0.0.1:5432 inside ns.
type postgres struct {
	ns  *netns
	bin string // the server's bin dir
}

// startPostgres initialises a throw-away cluster (trust auth, no fsync) and starts it as
// the postgres user; it is stopped when the test ends.
func startPostgres(t *testing.T, ns *netns) *postgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL is not installed (scripts/ci-deps.sh installs Debian's postgresql)")
	}
	pg := &postgres{ns: ns, bin: filepath.Dir(bins[len(bins)-1])}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// Not t.TempDir(): its parents are 0700 root, and PostgreSQL refuses to run as root.
	dir, err := os.MkdirTemp("", "edgek-e2e-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	asPostgres := func(name string, args ...string) *exec.Cmd {
		return pg.ns.command("setpriv", append([]string{"--reuid=postgres", "--regid=postgres", "--init-groups", "--",
			filepath.Join(pg.bin, name)}, args...)...)
	}
	if out, err := asPostgres("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	logf, err := os.Create(filepath.Join(artifactsDir, t.Name()+"-postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv := asPostgres("postgres", "-D", data, "-h", "127.0.0.1", "-p", "5432", "-k", dir, "-c", "fsync=off")
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { srv.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			srv.Process.Kill()
			<-exited
		}
	})
	eventually(t, 30*time.Second, "PostgreSQL accepts connections", func() error {
		if out, err := pg.ns.command(filepath.Join(pg.bin, "pg_isready"), "-h", "127.0.0.1", "-p", "5432").CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	return pg
}

// sql runs a query in database db and returns the unaligned result.
func (pg *postgres) sql(t *testing.T, db, query string) string {
	t.Helper()
	out, err := pg.ns.command(filepath.Join(pg.bin, "psql"), "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", db, "-tAc", query).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", query, err, out)
	}
	return string(out)
}

// TestExternalEtcd runs the control plane on an external etcd (TLS with client
// certificates), which the test runs itself inside the network namespace: the apiserver
// talks to it directly, objects survive a restart, and no SQLite file is made.
func TestExternalEtcd(t *testing.T) {
	ns := newNetns(t)
	bin := filepath.Join(t.TempDir(), "etcdserver")
	build := exec.Command("go", "build", "-o", bin, "./etcdserver")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build etcdserver: %v\n%s", err, out)
	}
	dir := t.TempDir()
	logPath := filepath.Join(artifactsDir, t.Name()+"-etcd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	etcd := ns.command(bin, dir)
	etcd.Stdout, etcd.Stderr = logf, logf
	if err := etcd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { etcd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		etcd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			etcd.Process.Kill()
			<-exited
		}
	})
	eventually(t, 60*time.Second, "etcd ready", func() error {
		if data, _ := os.ReadFile(logPath); !strings.Contains(string(data), "ready\n") {
			return fmt.Errorf("log: %s", data)
		}
		return nil
	})
	tls := filepath.Join(dir, "tls")
	s := newServer(t, ns, "--disable-agent", "--datastore-endpoint", "https://127.0.0.1:2379",
		"--datastore-cafile", filepath.Join(tls, "ca.crt"),
		"--datastore-certfile", filepath.Join(tls, "client.crt"),
		"--datastore-keyfile", filepath.Join(tls, "client.key"))
	s.start()
	s.mustKubectl("create", "configmap", "e2e-etcd", "--from-literal=k=v")
	s.stop()
	s.start()
	if out := s.mustKubectl("get", "configmap", "e2e-etcd", "-o", "jsonpath={.data.k}"); out != "v" {
		t.Errorf("configmap after restart: %q", out)
	}
	if _, err := os.Stat(filepath.Join(s.dataDir, "server", "db", "state.db")); err == nil {
		t.Error("a SQLite database was made although the datastore is etcd")
	}
	s.stop()
}
