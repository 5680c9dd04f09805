package main

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is the clock of the dashboard under test; the fixtures are dated around it.
var testNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// fakeRequest is a request the fake apiserver received.
type fakeRequest struct {
	Method, Path, Query, Auth, ContentType, Body string
}

// fakeAPI is an apiserver answering the few endpoints the dashboard uses from fixtures, with
// a token → user table for authentication and a deny rule standing in for RBAC.
type fakeAPI struct {
	srv    *httptest.Server
	caFile string

	mu     sync.Mutex
	reqs   []fakeRequest
	routes map[string]string // "GET /api/v1/nodes" → 200 with this body
	users  map[string]string // bearer token → username; other tokens get 401
	deny   func(user, method, path string) bool
}

// Tokens of the fake's users.
const (
	adminToken  = "admin-token"
	viewerToken = "viewer-token"
)

func newFakeAPI(t testing.TB) *fakeAPI {
	t.Helper()
	f := &fakeAPI{
		routes: map[string]string{},
		users: map[string]string{
			adminToken:  "system:serviceaccount:default:admin",
			viewerToken: "system:serviceaccount:default:viewer",
		},
		deny: func(user, method, path string) bool {
			if !strings.HasSuffix(user, ":viewer") {
				return false
			}
			return (method != http.MethodGet && !strings.HasSuffix(path, "/selfsubjectreviews")) ||
				path == "/api/v1/nodes" || strings.Contains(path, "/namespaces/restricted/")
		},
	}
	for route, file := range map[string]string{
		"GET /api/v1/nodes":                                            "nodes.json",
		"GET /api/v1/namespaces":                                       "namespaces.json",
		"GET /apis/apps/v1/namespaces/default/deployments":             "deployments.json",
		"GET /apis/apps/v1/namespaces/default/statefulsets":            "statefulsets.json",
		"GET /apis/apps/v1/namespaces/default/daemonsets":              "daemonsets.json",
		"GET /apis/apps/v1/deployments":                                "deployments.json",
		"GET /apis/apps/v1/statefulsets":                               "statefulsets.json",
		"GET /apis/apps/v1/daemonsets":                                 "daemonsets.json",
		"GET /apis/batch/v1/namespaces/default/jobs":                   "jobs.json",
		"GET /apis/batch/v1/namespaces/default/cronjobs":               "cronjobs.json",
		"GET /apis/batch/v1/jobs":                                      "jobs.json",
		"GET /apis/batch/v1/cronjobs":                                  "cronjobs.json",
		"GET /apis/apps/v1/namespaces/default/deployments/web":         "deployment.json",
		"GET /apis/apps/v1/namespaces/default/statefulsets/db":         "statefulset.json",
		"GET /api/v1/namespaces/default/pods":                          "pods.json",
		"GET /api/v1/pods":                                             "pods.json",
		"GET /api/v1/namespaces/default/pods/web-7d4b9c-fghij":         "pod.json",
		"GET /api/v1/namespaces/default/services":                      "services.json",
		"GET /api/v1/namespaces/default/events":                        "events.json",
		"GET /api/v1/events":                                           "events.json",
		"GET /api/v1/namespaces/restricted/pods":                       "pods.json",
		"PATCH /apis/apps/v1/namespaces/default/deployments/web/scale": "",
		"PATCH /apis/apps/v1/namespaces/default/deployments/web":       "deployment.json",
		"DELETE /apis/apps/v1/namespaces/default/deployments/web":      "deployment.json",
		"PATCH /apis/apps/v1/namespaces/default/statefulsets/db/scale": "",
		"DELETE /api/v1/namespaces/default/pods/job-xyz":               "",
	} {
		body := `{"kind":"Status","apiVersion":"v1","status":"Success"}`
		if file != "" {
			b, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			body = string(b)
		}
		f.routes[route] = body
	}
	f.routes["GET /api/v1/namespaces/default/pods/web-7d4b9c-fghij/log"] = "line 1\n<script>alert(1)</script>\nline 3\n"
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut short at Close
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	// The dashboard trusts the fake through a CA file, as it does the cluster CA in a pod.
	f.caFile = filepath.Join(t.TempDir(), "ca.crt")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(f.caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeAPI) set(route, body string) {
	f.mu.Lock()
	f.routes[route] = body
	f.mu.Unlock()
}

// revoke makes the apiserver answer 401 to token.
func (f *fakeAPI) revoke(token string) {
	f.mu.Lock()
	delete(f.users, token)
	f.mu.Unlock()
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, fakeRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: string(body)})
	resp, found := f.routes[r.Method+" "+r.URL.Path]
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	user, ok := f.users[token]
	f.mu.Unlock()

	if !ok {
		writeStatus(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	if f.deny(user, r.Method, r.URL.Path) {
		writeStatus(w, http.StatusForbidden, "Forbidden",
			fmt.Sprintf("%s is forbidden: User %q cannot %s it", r.URL.Path, user, strings.ToLower(r.Method)))
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/apis/authentication.k8s.io/v1/selfsubjectreviews" {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"kind": "SelfSubjectReview", "status": map[string]any{
			"userInfo": map[string]any{"username": user, "groups": []string{"system:serviceaccounts", "system:authenticated"}}}})
		return
	}
	if !found {
		writeStatus(w, http.StatusNotFound, "NotFound", r.URL.Path+" not found")
		return
	}
	if strings.HasSuffix(r.URL.Path, "/log") {
		w.Header().Set("Content-Type", "text/plain")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	io.WriteString(w, resp)
}

func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"message": msg, "reason": reason, "code": code})
}

// requests returns what the fake received and forgets it.
func (f *fakeAPI) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

// find returns the received requests with method and path.
func find(reqs []fakeRequest, method, path string) []fakeRequest {
	var out []fakeRequest
	for _, r := range reqs {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// newTestServer returns a dashboard talking to a new fake apiserver.
func newTestServer(t testing.TB) (*server, *fakeAPI) {
	t.Helper()
	f := newFakeAPI(t)
	api, err := newAPIClient(f.srv.URL, f.caFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(serverOptions{API: api, Log: slog.New(slog.DiscardHandler), SessionTTL: time.Hour,
		MaxSessions: 10, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return s, f
}

// browser drives the dashboard's handler with a cookie, like a browser would.
type browser struct {
	t      testing.TB
	h      http.Handler
	cookie *http.Cookie
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) *httptest.ResponseRecorder {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	return rec
}

func (b *browser) get(path string) *httptest.ResponseRecorder { return b.do(http.MethodGet, path, nil) }

func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	return b.do(http.MethodPost, path, form)
}

// login signs in with token and returns the browser holding the session cookie.
func login(t testing.TB, h http.Handler, token string) *browser {
	t.Helper()
	b := &browser{t: t, h: h}
	rec := b.post("/login", url.Values{"token": {token}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login: status %d, body:\n%s", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie {
			b.cookie = c
		}
	}
	if b.cookie == nil {
		t.Fatal("login: no session cookie")
	}
	return b
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page's forms.
func (b *browser) csrf() string {
	b.t.Helper()
	rec := b.get("/")
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if m == nil {
		b.t.Fatalf("no CSRF token in the page:\n%s", rec.Body)
	}
	return m[1]
}
