package pki

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The clock of a board without RTC: it boots at 1970, builds are from late 2026, NTP
// brings the real date later.
var (
	bootClock  = time.Date(1970, 1, 1, 0, 0, 42, 0, time.UTC)
	clockBuild = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	realDate   = time.Date(2026, 12, 20, 8, 0, 0, 0, time.UTC)
)

// clockOptions are Ensure options at the fixed time now, logging into logs.
func clockOptions(dir string, now time.Time, logs *bytes.Buffer) Options {
	return Options{
		Dir: dir, SANs: []string{"127.0.0.1", "pi-1"}, ClusterDomain: "cluster.local",
		Now: func() time.Time { return now }, BuildTime: clockBuild,
		Log: slog.New(slog.NewTextHandler(logs, nil)),
	}
}

// leafPairs are the leaf certificates of b with the CA that signs each.
func leafPairs(b *Bundle) map[string]string {
	return map[string]string{
		b.APIServerServingCert: b.ServerCACert, b.SchedulerServing.Cert: b.ServerCACert,
		b.ControllerManagerServing.Cert: b.ServerCACert, b.Admin.Cert: b.ClientCACert,
		b.Scheduler.Cert: b.ClientCACert, b.ControllerManager.Cert: b.ClientCACert,
		b.APIServerKubeletClient.Cert: b.ClientCACert, b.AuthProxy.Cert: b.RequestHeaderCACert,
	}
}

// verifyAt fails unless every leaf of b verifies against its CA at each of times.
func verifyAt(t *testing.T, b *Bundle, times ...time.Time) {
	t.Helper()
	for leaf, ca := range leafPairs(b) {
		cert := readCertFile(t, leaf)
		for _, at := range times {
			_, err := cert.Verify(x509.VerifyOptions{
				Roots: poolOf(readCertFile(t, ca)), CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			if err != nil {
				t.Errorf("%s at %s: %v", filepath.Base(leaf), at.Format(time.RFC3339), err)
			}
		}
	}
}

func ensureAt(t *testing.T, dir string, now time.Time) (*Bundle, string) {
	t.Helper()
	var logs bytes.Buffer
	b, err := Ensure(clockOptions(dir, now, &logs))
	if err != nil {
		t.Fatalf("Ensure at %s: %v", now, err)
	}
	return b, logs.String()
}

// expectUnchanged runs Ensure at now and fails if it rewrote any certificate or key.
func expectUnchanged(t *testing.T, dir string, now time.Time) string {
	t.Helper()
	before := snapshot(t, dir)
	_, logs := ensureAt(t, dir, now)
	if c := changed(before, snapshot(t, dir)); len(c) > 0 {
		t.Errorf("Ensure at %s rewrote %v; log:\n%s", now.Format(time.RFC3339), c, logs)
	}
	return logs
}

func TestFirstBootAt1970(t *testing.T) {
	dir := t.TempDir()
	b, logs := ensureAt(t, dir, bootClock)
	if !strings.Contains(logs, "the system clock is behind") {
		t.Errorf("no warning about the clock; log:\n%s", logs)
	}
	ca := readCertFile(t, b.ServerCACert)
	if want := clockBuild.AddDate(10, 0, 0); !ca.NotAfter.Equal(want) {
		t.Errorf("CA made at 1970 expires %v, want build time + 10 years (%v)", ca.NotAfter, want)
	}
	// Valid at the boot clock, once NTP brings the date, and for years after the build.
	verifyAt(t, b, bootClock, realDate, clockBuild.Add(300*24*time.Hour))
	for _, p := range []string{b.ServerCACert, b.ClientCACert, b.RequestHeaderCACert} {
		if !readCertFile(t, p).NotAfter.After(clockBuild.AddDate(9, 11, 0)) {
			t.Errorf("%s is not valid ~10 years after the build", filepath.Base(p))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, lastSeenFile)); err == nil {
		t.Errorf("a clock behind the build time was recorded as seen")
	}
	// NTP arrives: the next start keeps everything and records the real time.
	logs = expectUnchanged(t, dir, realDate)
	if strings.Contains(logs, "behind") {
		t.Errorf("warned about the clock once it was right:\n%s", logs)
	}
	if seen, err := readLastSeen(filepath.Join(dir, lastSeenFile)); err != nil || !seen.Equal(realDate) {
		t.Errorf("last seen = %v, %v; want %v", seen, err, realDate)
	}
}

func TestRestartAt1970AfterRealDate(t *testing.T) {
	dir := t.TempDir()
	b, _ := ensureAt(t, dir, realDate)
	// Power cut, no RTC: the board restarts at 1970, twice, then NTP comes back.
	for range 2 {
		logs := expectUnchanged(t, dir, bootClock)
		if !strings.Contains(logs, "behind") || !strings.Contains(logs, realDate.Format(time.RFC3339)) {
			t.Errorf("want a warning naming the last-seen time as floor; log:\n%s", logs)
		}
	}
	verifyAt(t, b, bootClock, realDate)
	expectUnchanged(t, dir, realDate.Add(time.Hour))
}

func TestRestartAt1970WithWallClockDatedCerts(t *testing.T) {
	dir := t.TempDir()
	b, _ := ensureAt(t, dir, realDate)
	// An older edgek dated the admin certificate from the wall clock.
	redate(t, b.Admin.Cert, b.ClientCACert, b.ClientCAKey, realDate.Add(-time.Minute))
	_, logs := ensureAt(t, dir, bootClock)
	if !strings.Contains(logs, "not valid yet at the system clock") {
		t.Errorf("admin certificate not renewed; log:\n%s", logs)
	}
	verifyAt(t, b, bootClock)
	expectUnchanged(t, dir, bootClock) // renewed once, not at every start

	// The same older edgek dated the CA too: it cannot be replaced, only reported.
	redate(t, b.ServerCACert, b.ServerCACert, b.ServerCAKey, realDate.Add(-time.Minute))
	ensureAt(t, dir, bootClock) // rewrites the serving chain, which holds the CA
	logs = expectUnchanged(t, dir, bootClock)
	if !strings.Contains(logs, "earlier than the start of a CA's validity") {
		t.Errorf("no warning about the CA; log:\n%s", logs)
	}
	expectUnchanged(t, dir, realDate.Add(time.Hour))
}

// redate re-signs the certificate in path with the key in caKey, as an older edgek would
// have made it: NotBefore = notBefore.
func redate(t *testing.T, path, caCert, caKey string, notBefore time.Time) {
	t.Helper()
	cert, ca := readCertFile(t, path), readCertFile(t, caCert)
	tmpl := *cert
	tmpl.NotBefore = notBefore
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, cert.PublicKey, readKeyFile(t, caKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, encodeCert(der), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLastSeenWrittenRarely(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, lastSeenFile)
	ensureAt(t, dir, realDate)
	ensureAt(t, dir, realDate.Add(23*time.Hour))
	if seen, _ := readLastSeen(path); !seen.Equal(realDate) {
		t.Errorf("rewritten within a day: %v", seen)
	}
	later := realDate.Add(25 * time.Hour)
	ensureAt(t, dir, later)
	if seen, _ := readLastSeen(path); !seen.Equal(later) {
		t.Errorf("last seen = %v, want %v", seen, later)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, logs := ensureAt(t, dir, later); !strings.Contains(logs, "ignoring the last-seen time") {
		t.Errorf("unreadable last-seen file not reported:\n%s", logs)
	}
	if seen, _ := readLastSeen(path); !seen.Equal(later) {
		t.Errorf("unreadable last-seen file not replaced: %v", seen)
	}
}

// A node that runs for days keeps its last-seen time current without restarting, and a
// clock that fell behind it (an RTC reset) does not move it back.
func TestKeepTime(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, lastSeenFile)
	ensureAt(t, dir, realDate)
	tick := make(chan time.Time)
	now := realDate
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); defer mu.Unlock(); now = t }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- keepTime(ctx, tick, clock, discardLog, dir) }()

	for _, step := range []struct {
		now, want time.Time
	}{
		{realDate.Add(time.Hour), realDate},                          // within a day: not rewritten
		{realDate.Add(50 * time.Hour), realDate.Add(50 * time.Hour)}, // two days on
		{time.Unix(100000000, 0), realDate.Add(50 * time.Hour)},      // clock reset to 1973
	} {
		set(step.now)
		tick <- step.now
		tick <- step.now // the second send returns once the first tick's work is done
		if seen, _ := readLastSeen(path); !seen.Equal(step.want) {
			t.Errorf("clock at %v: last seen %v, want %v", step.now, seen, step.want)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("keepTime returned %v, want context.Canceled", err)
	}
}

func TestEnsureNodeAt1970(t *testing.T) {
	dir := t.TempDir()
	server, _ := ensureAt(t, dir+"/server", realDate)
	var logs bytes.Buffer
	opts := NodeOptions{
		Dir: dir + "/agent", Server: server, NodeName: "pi-1", SANs: []string{"pi-1"},
		Now: func() time.Time { return bootClock }, BuildTime: clockBuild, Log: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	nb, err := EnsureNode(opts)
	if err != nil {
		t.Fatal(err)
	}
	for cert, ca := range map[string]string{nb.Kubelet.Cert: server.ClientCACert, nb.KubeletServing.Cert: server.KubeletCACert} {
		c := readCertFile(t, cert)
		for _, at := range []time.Time{bootClock, realDate, clockBuild.Add(300 * 24 * time.Hour)} {
			if _, err := c.Verify(x509.VerifyOptions{Roots: poolOf(readCertFile(t, ca)), CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("%s at %s: %v", filepath.Base(cert), at, err)
			}
		}
	}
	before := snapshot(t, opts.Dir)
	opts.Now = func() time.Time { return realDate }
	if _, err := EnsureNode(opts); err != nil {
		t.Fatal(err)
	}
	if c := changed(before, snapshot(t, opts.Dir)); len(c) > 0 {
		t.Errorf("the clock jump renewed %v", c)
	}
}
