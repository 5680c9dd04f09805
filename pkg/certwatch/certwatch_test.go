package certwatch

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/edgek-io/edgek/test/testutil"
)

var now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// writeCert writes a self-signed certificate expiring at notAfter.
func writeCert(t *testing.T, path string, isCA bool, notAfter time.Time) {
	t.Helper()
	cert, _ := testutil.SelfSigned(t, x509.Certificate{
		Subject:   pkix.Name{CommonName: filepath.Base(path)},
		NotBefore: time.Unix(0, 0), NotAfter: notAfter, IsCA: isCA, BasicConstraintsValid: true,
	})
	testutil.WriteFile(t, path, string(cert))
}

func TestCheckRenewsThenWarnsAboutWhatExpiresSoon(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, filepath.Join(dir, "server-ca.crt"), true, now.Add(20*24*time.Hour))
	writeCert(t, filepath.Join(dir, "client-admin.crt"), false, now.Add(200*24*time.Hour))
	writeCert(t, filepath.Join(dir, "kubelet-client-current.pem"), false, now.Add(10*24*time.Hour))
	writeCert(t, filepath.Join(dir, "serving-kube-apiserver-chain.crt"), false, now.Add(time.Hour)) // a copy: not judged

	renews := 0
	logs := &testutil.LogRecorder{}
	client := fake.NewClientset()
	clock := now
	w := newWatcher(Options{
		Dirs: []string{dir, filepath.Join(dir, "missing")},
		Renew: func() error {
			renews++
			// The renewal replaces the admin certificate that is due; the kubelet's is not ours.
			writeCert(t, filepath.Join(dir, "client-admin.crt"), false, now.Add(365*24*time.Hour))
			return nil
		},
		Node:   "board-1",
		Client: func() (kubernetes.Interface, error) { return client, nil },
		Log:    logs.Logger(),
		Now:    func() time.Time { return clock },
	})
	defer w.close()

	w.check(t.Context())
	if renews != 1 {
		t.Fatalf("renew called %d times", renews)
	}
	got := strings.Join(logs.Take(), "\n")
	for _, want := range []string{
		`level=WARN msg="CA certificate server-ca.crt expires in 20 days (2030-06-21); CAs are not renewed automatically`,
		`level=WARN msg="certificate kubelet-client-current.pem expires in 10 days (2030-06-11); it was not renewed`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "client-admin") || strings.Contains(got, "chain") {
		t.Errorf("warned about a certificate that is fine or a copy:\n%s", got)
	}

	// Events on the node, recorded asynchronously.
	var events []corev1.Event
	deadline := time.Now().Add(10 * time.Second)
	for len(events) < 2 && time.Now().Before(deadline) {
		list, err := client.CoreV1().Events("default").List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		events = list.Items
		time.Sleep(20 * time.Millisecond)
	}
	if len(events) != 2 {
		t.Fatalf("%d Events, want 2: %+v", len(events), events)
	}
	for _, e := range events {
		if e.Type != corev1.EventTypeWarning || e.Reason != EventReason || e.InvolvedObject.Kind != "Node" || e.InvolvedObject.Name != "board-1" {
			t.Errorf("Event %s/%s on %s/%s: %s", e.Type, e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
		}
	}

	// An hour later: no repeat within a day.
	clock = now.Add(time.Hour)
	w.check(t.Context())
	if got := logs.Take(); len(got) != 0 {
		t.Errorf("warned again within a day: %q", got)
	}
	// A day later: warned again.
	clock = now.Add(25 * time.Hour)
	w.check(t.Context())
	if got := logs.Take(); len(got) != 2 {
		t.Errorf("a day later: %q, want the two warnings again", got)
	}
	// Renewed (a new expiry): quiet.
	writeCert(t, filepath.Join(dir, "kubelet-client-current.pem"), false, now.Add(365*24*time.Hour))
	clock = now.Add(26 * time.Hour)
	w.check(t.Context())
	if got := logs.Take(); len(got) != 0 {
		t.Errorf("after the kubelet's renewal: %q, want nothing (the CA was warned about 1 hour ago)", got)
	}
}

func TestCheckLogsARenewalFailure(t *testing.T) {
	logs := &testutil.LogRecorder{}
	w := newWatcher(Options{Dirs: []string{t.TempDir()}, Renew: func() error { return errors.New("sign: disk full") }, Log: logs.Logger()})
	w.check(t.Context())
	if got := strings.Join(logs.Take(), "\n"); !strings.Contains(got, `level=ERROR msg="certificate renewal failed`) {
		t.Errorf("log: %q", got)
	}
}

func TestRunChecksSoonAfterACertificateChanges(t *testing.T) {
	defer func(s time.Duration) { settle = s }(settle)
	settle = 200 * time.Millisecond
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	checks := make(chan struct{}, 10)
	done := make(chan error)
	go func() {
		done <- Run(ctx, Options{
			Dirs:  []string{dir},
			Renew: func() error { checks <- struct{}{}; return nil },
			Log:   testutil.DiscardLogger(),
			Every: time.Hour,
		})
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-checks:
		case <-time.After(10 * time.Second):
			t.Fatalf("no check %s", what)
		}
	}
	wait("at start")
	// A temp file is not a certificate; a .crt is.
	testutil.WriteFile(t, filepath.Join(dir, ".x.tmp-1"), "x")
	testutil.WriteFile(t, filepath.Join(dir, "notes.txt"), "x")
	writeCert(t, filepath.Join(dir, "client-admin.crt"), false, now)
	wait("after a certificate changed")
	select {
	case <-checks:
		t.Error("more than one check for one change")
	case <-time.After(3 * settle):
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
}
