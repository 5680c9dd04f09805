package tokencmd

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/pkg/server/bootstrap"
)

func newServer(t *testing.T) (Server, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	b, err := pki.Ensure(pki.Options{Dir: filepath.Join(dir, "tls"), SANs: []string{"127.0.0.1"}, ClusterDomain: "cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	full, err := pki.EnsureToken(tokenFile, b.ServerCACert, "")
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()
	_, secret, _ := pki.ParseToken(full)
	if err := bootstrap.PublishServerToken(t.Context(), client, pki.BootstrapToken(secret)); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	out := &bytes.Buffer{}
	return Server{Client: client, CACert: b.ServerCACert, TokenFile: tokenFile, Out: out, Now: func() time.Time { return now }}, out
}

func tokenSecrets(t *testing.T, s Server) map[string]map[string]string {
	t.Helper()
	list, err := s.Client.CoreV1().Secrets("kube-system").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, sec := range list.Items {
		d := map[string]string{}
		for k, v := range sec.Data {
			d[k] = string(v)
		}
		got[sec.Name] = d
	}
	return got
}

func TestCreateListDelete(t *testing.T) {
	s, out := newServer(t)
	if err := s.Create(t.Context(), time.Hour, "gate 7"); err != nil {
		t.Fatal(err)
	}
	full := strings.TrimSpace(out.String())
	hash, secret, err := pki.ParseToken(full)
	if err != nil || hash == "" || !pki.IsBootstrapToken(secret) {
		t.Fatalf("created token %q: %v; want K10<hash>::<id>.<secret>", full, err)
	}
	id, tokSecret, _ := strings.Cut(secret, ".")
	sec := tokenSecrets(t, s)["bootstrap-token-"+id]
	for k, want := range map[string]string{
		"token-id": id, "token-secret": tokSecret, "expiration": "2026-12-03T13:00:00Z", "description": "gate 7",
		"usage-bootstrap-authentication": "true", "auth-extra-groups": "system:bootstrappers:edgek",
	} {
		if sec[k] != want {
			t.Errorf("token Secret %s = %q, want %q", k, sec[k], want)
		}
	}
	if err := s.Create(t.Context(), -time.Second, ""); err == nil {
		t.Error("a negative --ttl was taken")
	}

	out.Reset()
	if err := s.List(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !regexp.MustCompile(id+`\s+1h0m0s\s+2026-12-03T13:00:00Z\s+gate 7`).MatchString(got) || !strings.Contains(got, "<forever>") || strings.Contains(got, tokSecret) {
		t.Errorf("list:\n%s\nwant the created token's ID, TTL, expiry and description, the server's token forever, no secret", got)
	}

	serverFull, _ := pki.EnsureToken(s.TokenFile, s.CACert, "")
	_, serverSecret, _ := pki.ParseToken(serverFull)
	serverID, _, _ := strings.Cut(pki.BootstrapToken(serverSecret), ".")
	for _, bad := range []struct{ arg, want string }{
		{serverID, "is the server's own token"},
		{"zzzzzz", "no token zzzzzz"},
		{"not-an-id", "is not a token ID"},
	} {
		if err := s.Delete(t.Context(), []string{bad.arg}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("delete %s: %v, want %q", bad.arg, err, bad.want)
		}
	}
	if err := s.Delete(t.Context(), []string{full}); err != nil {
		t.Fatalf("delete by full token: %v", err)
	}
	if _, ok := tokenSecrets(t, s)["bootstrap-token-"+id]; ok {
		t.Error("the token is still there")
	}
}

func TestRotate(t *testing.T) {
	s, out := newServer(t)
	before, _ := pki.EnsureToken(s.TokenFile, s.CACert, "")
	_, oldSecret, _ := pki.ParseToken(before)
	oldID, _, _ := strings.Cut(pki.BootstrapToken(oldSecret), ".")
	if err := s.Create(t.Context(), 0, "kept"); err != nil {
		t.Fatal(err)
	}
	_, created, _ := pki.ParseToken(strings.TrimSpace(out.String()))
	createdID, _, _ := strings.Cut(created, ".")
	out.Reset()
	// A configuration that sets the token: refused unless forced.
	env := filepath.Join(t.TempDir(), "edgek.service.env")
	if err := os.WriteFile(env, []byte("EDGEK_TOKEN=K10abc::server:x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.ConfigFiles = []string{filepath.Join(t.TempDir(), "missing.yaml"), env}
	if err := s.Rotate(t.Context(), "", false); err == nil || !strings.Contains(err.Error(), env) {
		t.Errorf("rotate with the token set in %s: %v, want a refusal naming it", env, err)
	}
	if got, _ := pki.EnsureToken(s.TokenFile, s.CACert, ""); got != before {
		t.Fatal("a refused rotate changed the token")
	}
	if err := s.Rotate(t.Context(), "", true); err != nil {
		t.Fatal(err)
	}
	after, _ := pki.EnsureToken(s.TokenFile, s.CACert, "")
	if after == before || !strings.HasPrefix(out.String(), after+"\n") {
		t.Errorf("rotate printed %q; token file holds %q (was %q)", out.String(), after, before)
	}
	_, newSecret, _ := pki.ParseToken(after)
	newID, _, _ := strings.Cut(pki.BootstrapToken(newSecret), ".")
	secrets := tokenSecrets(t, s)
	if _, ok := secrets["bootstrap-token-"+oldID]; ok {
		t.Error("the old server token still joins agents")
	}
	if _, ok := secrets["bootstrap-token-"+newID]; !ok {
		t.Error("the new server token was not published")
	}
	if _, ok := secrets["bootstrap-token-"+createdID]; !ok {
		t.Error("rotating the server token deleted a created token")
	}
	if err := s.Rotate(t.Context(), "weak", true); err == nil || !strings.Contains(err.Error(), "too weak") {
		t.Errorf("rotate to a weak secret: %v", err)
	}
}
