package main

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestHealthzNeedsNoSession(t *testing.T) {
	s, _ := newTestServer(t)
	rec := (&browser{t: t, h: s}).get("/healthz")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != "ok" {
		t.Fatalf("healthz: %d %q", rec.Code, rec.Body)
	}
}

func TestPagesNeedLogin(t *testing.T) {
	s, f := newTestServer(t)
	b := &browser{t: t, h: s}
	for _, path := range []string{"/", "/pods", "/workloads", "/log?ns=default&pod=x", "/deployment?ns=default&name=web"} {
		rec := b.get(path)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "./login" {
			t.Errorf("GET %s: %d Location %q, want 303 to ./login", path, rec.Code, rec.Header().Get("Location"))
		}
	}
	rec := b.get("/login")
	for _, id := range []string{`id="login-token"`, `id="login-submit"`, `type="password"`} {
		if !strings.Contains(rec.Body.String(), id) {
			t.Errorf("login page lacks %s", id)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("the apiserver got %d requests without a session", n)
	}
}

func TestLogin(t *testing.T) {
	s, f := newTestServer(t)
	rec := (&browser{t: t, h: s}).post("/login", url.Values{"token": {" Bearer " + adminToken + "\n"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "./" {
		t.Fatalf("login: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies: %v", cookies)
	}
	c := cookies[0]
	if c.Name != sessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", c)
	}
	if strings.Contains(rec.Header().Get("Set-Cookie"), adminToken) {
		t.Error("the token is in the cookie")
	}
	sess := s.sessions.get(c.Value)
	if sess == nil || sess.token != adminToken || sess.user.Username != "system:serviceaccount:default:admin" {
		t.Fatalf("session %+v", sess)
	}
	reviews := find(f.requests(), http.MethodPost, "/apis/authentication.k8s.io/v1/selfsubjectreviews")
	if len(reviews) != 1 || reviews[0].Auth != "Bearer "+adminToken {
		t.Errorf("SelfSubjectReview requests %+v", reviews)
	}
	// Already signed in: the login page sends the browser home.
	b := &browser{t: t, h: s, cookie: c}
	if rec := b.get("/login"); rec.Code != http.StatusSeeOther {
		t.Errorf("login page when signed in: %d", rec.Code)
	}
}

func TestLoginCookieSecureOverTLS(t *testing.T) {
	s, _ := newTestServer(t)
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("token="+adminToken))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || !cookies[0].Secure || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookies over TLS: %+v", cookies)
	}
}

func TestLoginRefused(t *testing.T) {
	s, _ := newTestServer(t)
	for _, tc := range []struct {
		token string
		code  int
		msg   string
	}{
		{"wrong-token", http.StatusUnauthorized, "Unauthorized"},
		{"", http.StatusBadRequest, "Paste a bearer token"},
		{"two words", http.StatusBadRequest, "Paste a bearer token"},
	} {
		rec := (&browser{t: t, h: s}).post("/login", url.Values{"token": {tc.token}})
		body := rec.Body.String()
		if rec.Code != tc.code || !strings.Contains(body, `id="login-error"`) || !strings.Contains(body, tc.msg) {
			t.Errorf("token %q: %d, want %d with %q:\n%s", tc.token, rec.Code, tc.code, tc.msg, body)
		}
		if len(rec.Result().Cookies()) != 0 {
			t.Errorf("token %q: a cookie was set", tc.token)
		}
	}
	if n := s.sessions.len(); n != 0 {
		t.Errorf("%d sessions after refused logins", n)
	}
}

func TestPagesRender(t *testing.T) {
	s, f := newTestServer(t)
	b := login(t, s, adminToken)
	f.requests()
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/", []string{`data-testid="node-row" data-name="pi-1" data-ready="true"`, `data-testid="node-row" data-name="pi-2" data-ready="false"`,
			`<td data-testid="node-roles">control-plane,master</td>`, `<td data-testid="node-memory">7.7Gi</td>`, `<td data-testid="node-cpu">4</td>`,
			`<td data-testid="node-version">v1.37.2</td>`, `<td data-testid="node-status">Unknown,SchedulingDisabled</td>`,
			`data-testid="namespace-row" data-name="edgek-dashboard"`, `id="current-user"`, `system:serviceaccount:default:admin`,
			`id="logout"`, `id="ns-select"`, `<option value="kube-system">`}},
		{"/workloads", []string{`data-testid="deployment-row" data-name="web" data-namespace="default"`, `<td data-testid="ready">1/2</td>`,
			`data-testid="deployment-row" data-name="coredns" data-namespace="kube-system"`,
			`data-testid="statefulset-row" data-name="db"`, `data-testid="daemonset-row" data-name="node-exporter"`,
			`href="./deployment?name=web&amp;ns=default"`,
			`data-testid="job-row" data-name="migrate" data-namespace="default" class=""`,
			`<td data-testid="status">Complete</td><td>1/1</td><td>42s</td>`,
			`data-testid="job-row" data-name="broken" data-namespace="default" class="warn"`,
			`<td data-testid="status">Running</td><td>1/3</td><td>10m</td>`,
			`data-testid="cronjob-row" data-name="backup" data-namespace="default"`,
			`<td>*/10 * * * *</td><td>False</td><td>1</td><td>10m ago</td>`}},
		{"/pods", []string{`data-testid="pod-row" data-name="web-7d4b9c-abcde" data-namespace="default" data-phase="Running"`,
			`<td data-testid="pod-status">CrashLoopBackOff</td><td data-testid="pod-restarts">7</td>`,
			`<td data-testid="pod-status">Completed</td>`, `data-phase="Pending"`, `data-testid="pod-log-link"`, `data-testid="pod-delete"`}},
		{"/services", []string{`data-testid="service-row" data-name="web"`, `<td data-testid="service-type">NodePort</td>`,
			`<td data-testid="service-ports">80:30080→http/TCP</td>`, `<td data-testid="service-cluster-ip">10.43.0.1</td>`,
			`<td data-testid="service-ports">53:31053/UDP</td>`, `192.168.1.200`}},
		{"/events", []string{`data-testid="event-row" data-type="Warning" data-reason="BackOff" data-object="pod/web-7d4b9c-fghij"`,
			`data-reason="FailedScheduling"`, `data-reason="ScalingReplicaSet"`, `Back-off restarting failed container`}},
		{"/deployment?ns=default&name=web", []string{`id="scale-replicas" name="replicas" data-testid="scale-replicas" min="0" max="10000" value="2"`,
			`id="scale-submit"`, `data-testid="restart"`, `data-testid="delete"`, `data-testid="restarted-at">2026-11-19T08:00:00Z`,
			`data-testid="condition-row" data-type="Available"`, `data-testid="pod-row" data-name="web-7d4b9c-abcde"`}},
		{"/statefulset?ns=default&name=db", []string{`id="scale-replicas"`, `value="3"`, `data-testid="restart"`}},
		{"/log?ns=default&pod=web-7d4b9c-fghij", []string{`id="pod-log"`, `data-container="nginx"`,
			`&lt;script&gt;alert(1)&lt;/script&gt;`, `<option value="init-config">init-config (init)</option>`, `id="log-tail"`}},
	} {
		rec := b.get(tc.path)
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", tc.path, rec.Code, body)
			continue
		}
		for _, want := range tc.want {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s: page lacks %s", tc.path, want)
			}
		}
		if strings.Contains(body, "<script>alert") {
			t.Errorf("GET %s: unescaped log text", tc.path)
		}
	}
	// Every call made for the user carried the user's token, and nothing else.
	reqs := f.requests()
	if len(reqs) == 0 {
		t.Fatal("no apiserver requests")
	}
	for _, r := range reqs {
		if r.Auth != "Bearer "+adminToken {
			t.Errorf("%s %s carried %q", r.Method, r.Path, r.Auth)
		}
		if r.Method != http.MethodGet {
			t.Errorf("a page sent %s %s", r.Method, r.Path)
		}
	}
	// The log was asked with a tail and the default container; the detail page's pods by selector.
	logs := find(reqs, http.MethodGet, "/api/v1/namespaces/default/pods/web-7d4b9c-fghij/log")
	if len(logs) != 1 {
		t.Fatalf("log requests %+v", logs)
	}
	q, _ := url.ParseQuery(logs[0].Query)
	if q.Get("tailLines") != "200" || q.Get("container") != "nginx" || q.Get("limitBytes") == "" || q.Has("previous") {
		t.Errorf("log query %q", logs[0].Query)
	}
	var bySelector bool
	for _, r := range find(reqs, http.MethodGet, "/api/v1/namespaces/default/pods") {
		bySelector = bySelector || strings.Contains(r.Query, "labelSelector=app%3Dweb")
	}
	if !bySelector {
		t.Error("the deployment's pods were not listed by its selector")
	}
}

func TestNamespaceSelection(t *testing.T) {
	s, f := newTestServer(t)
	b := login(t, s, adminToken)
	f.requests()
	b.get("/pods?ns=")
	b.get("/workloads")
	b.get("/pods?ns=default")
	reqs := f.requests()
	if len(find(reqs, http.MethodGet, "/api/v1/pods")) != 1 || len(find(reqs, http.MethodGet, "/apis/apps/v1/deployments")) != 1 {
		t.Errorf("all namespaces was not remembered: %+v", reqs)
	}
	if len(find(reqs, http.MethodGet, "/api/v1/namespaces/default/pods")) != 1 {
		t.Errorf("ns=default not used: %+v", reqs)
	}
	if rec := b.get("/pods?ns=Bad_Name"); rec.Code != http.StatusBadRequest {
		t.Errorf("bad namespace: %d", rec.Code)
	}
	// All namespaces: the pods table gets a namespace column.
	if rec := b.get("/pods?ns="); !strings.Contains(rec.Body.String(), "<th>Namespace</th>") {
		t.Error("all-namespaces pod list lacks the namespace column")
	}
}

func TestLogRaw(t *testing.T) {
	s, f := newTestServer(t)
	b := login(t, s, adminToken)
	f.requests()
	rec := b.get("/log?ns=default&pod=web-7d4b9c-fghij&container=sidecar&tail=5&previous=1&raw=1")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") ||
		!strings.Contains(rec.Body.String(), "<script>alert(1)</script>") {
		t.Fatalf("raw log: %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("raw log made %d requests, want only the log", len(reqs))
	}
	q, _ := url.ParseQuery(reqs[0].Query)
	if q.Get("tailLines") != "5" || q.Get("container") != "sidecar" || q.Get("previous") != "true" {
		t.Errorf("log query %q", reqs[0].Query)
	}
	if rec := b.get("/log?ns=default&pod=web-7d4b9c-fghij&tail=x"); rec.Code != http.StatusBadRequest {
		t.Errorf("bad tail: %d", rec.Code)
	}
}

func TestForbidden(t *testing.T) {
	s, _ := newTestServer(t)
	b := login(t, s, viewerToken)
	// A single-list page the user may not read is a Forbidden page with the apiserver's message.
	rec := b.get("/pods?ns=restricted")
	body := rec.Body.String()
	if rec.Code != http.StatusForbidden || !strings.Contains(body, `data-testid="error" data-code="403"`) ||
		!strings.Contains(body, "<strong>Forbidden</strong>") || !strings.Contains(body, "is forbidden: User &#34;system:serviceaccount:default:viewer&#34; cannot get it") {
		t.Errorf("forbidden pods page: %d\n%s", rec.Code, body)
	}
	if !strings.Contains(body, `id="current-user"`) {
		t.Error("the forbidden page does not say who is signed in")
	}
	// The overview shows what the user may see and the forbidden section as such.
	rec = b.get("/")
	body = rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `data-code="403"`) || !strings.Contains(body, `data-testid="namespace-row"`) ||
		strings.Contains(body, `data-testid="node-row"`) {
		t.Errorf("overview for a user who may not list nodes: %d\n%s", rec.Code, body)
	}
	// An action the user may not take is a Forbidden page too.
	rec = b.post("/scale", url.Values{"csrf": {b.csrf()}, "kind": {"deployment"}, "ns": {"default"}, "name": {"web"}, "replicas": {"3"}})
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "cannot patch it") {
		t.Errorf("forbidden scale: %d\n%s", rec.Code, rec.Body)
	}
	// Being refused does not end the session.
	if rec := b.get("/workloads?ns=default"); rec.Code != http.StatusOK {
		t.Errorf("after a 403: %d", rec.Code)
	}
}

func TestRevokedTokenEndsSession(t *testing.T) {
	s, f := newTestServer(t)
	b := login(t, s, adminToken)
	f.revoke(adminToken) // the token expires or is revoked
	rec := b.get("/pods")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "./login?reason=expired" {
		t.Fatalf("after a 401: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if s.sessions.len() != 0 {
		t.Error("the session outlived a 401")
	}
	if !strings.Contains(b.get("/login?reason=expired").Body.String(), `id="login-message"`) {
		t.Error("the login page does not say why")
	}
}

func TestScale(t *testing.T) {
	s, f := newTestServer(t)
	b := login(t, s, adminToken)
	csrf := b.csrf()
	f.requests()
	rec := b.post("/scale", url.Values{"csrf": {csrf}, "kind": {"deployment"}, "ns": {"default"}, "name": {"web"}, "replicas": {"3"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "./deployment?done=scaled&name=web&ns=default" {
		t.Fatalf("scale: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests %+v", reqs)
	}
	r := reqs[0]
	if r.Method != http.MethodPatch || r.Path != "/apis/apps/v1/namespaces/default/deployments/web/scale" ||
		r.ContentType != "application/merge-patch+json" || r.Auth != "Bearer "+adminToken {
		t.Errorf("scale sent %+v", r)
	}
	var patch struct{ Spec struct{ Replicas *int } }
	if err := json.Unmarshal([]byte(r.Body), &patch); err != nil || patch.Spec.Replicas == nil || *patch.Spec.Replicas != 3 {
		t.Errorf("scale body %s", r.Body)
	}
	if !strings.Contains(b.get("/deployment?done=scaled&name=web&ns=default").Body.String(), `id="flash"`) {
		t.Error("no flash message after scaling")
	}
	f.requests()
	// Bad input never reaches the apiserver.
	for _, form := range []url.Values{
		{"kind": {"deployment"}, "ns": {"default"}, "name": {"web"}, "replicas": {"-1"}},
		{"kind": {"deployment"}, "ns": {"default"}, "name": {"web"}, "replicas": {"many"}},
		{"kind": {"daemonset"}, "ns": {"default"}, "name": {"x"}, "replicas": {"2"}},
		{"kind": {"secret"}, "ns": {"default"}, "name": {"x"}, "replicas": {"2"}},
		{"kind": {"deployment"}, "ns": {"../x"}, "name": {"web"}, "replicas": {"2"}},
	} {
		form.Set("csrf", csrf)
		if rec := b.post("/scale", form); rec.Code != http.StatusBadRequest {
			t.Errorf("scale %v: %d", form, rec.Code)
		}
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Errorf("bad scale forms reached the apiserver: %+v", reqs)
	}
}

func TestRestart(t *testing.T) {
	s, f := newTestServer(t)
	b := login(t, s, adminToken)
	csrf := b.csrf()
	f.requests()
	rec := b.post("/restart", url.Values{"csrf": {csrf}, "kind": {"deployment"}, "ns": {"default"}, "name": {"web"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "./deployment?done=restarted&name=web&ns=default" {
		t.Fatalf("restart: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].Method != http.MethodPatch || reqs[0].Path != "/apis/apps/v1/namespaces/default/deployments/web" ||
		reqs[0].ContentType != "application/merge-patch+json" || reqs[0].Auth != "Bearer "+adminToken {
		t.Fatalf("restart sent %+v", reqs)
	}
	want := `{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-20T10:00:00Z"}}}}}`
	if reqs[0].Body != want {
		t.Errorf("restart body %s, want %s", reqs[0].Body, want)
	}
}

func TestDelete(t *testing.T) {
	s, f := newTestServer(t)
	b := login(t, s, adminToken)
	csrf := b.csrf()
	f.requests()
	form := url.Values{"csrf": {csrf}, "kind": {"deployment"}, "ns": {"default"}, "name": {"web"}}
	// First the confirmation page; nothing is deleted yet.
	rec := b.post("/delete", form)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `id="delete-confirm"`) || !strings.Contains(body, `name="confirm" value="yes"`) ||
		!strings.Contains(body, `href="./deployment?name=web&amp;ns=default" id="delete-cancel"`) {
		t.Fatalf("confirmation: %d\n%s", rec.Code, body)
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Fatalf("the confirmation page sent %+v", reqs)
	}
	form.Set("confirm", "yes")
	rec = b.post("/delete", form)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "./workloads?done=deleted&kind=deployment&name=web" {
		t.Fatalf("delete: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].Method != http.MethodDelete || reqs[0].Path != "/apis/apps/v1/namespaces/default/deployments/web" ||
		reqs[0].Auth != "Bearer "+adminToken || !strings.Contains(reqs[0].Body, `"propagationPolicy":"Background"`) {
		t.Fatalf("delete sent %+v", reqs)
	}
	if !strings.Contains(b.get("/workloads?done=deleted&kind=deployment&name=web").Body.String(), "Deleted deployment web.") {
		t.Error("no flash message after deleting")
	}
	// A pod, from the pods page.
	rec = b.post("/delete", url.Values{"csrf": {csrf}, "kind": {"pod"}, "ns": {"default"}, "name": {"job-xyz"}, "confirm": {"yes"}})
	if rec.Code != http.StatusSeeOther || len(find(f.requests(), http.MethodDelete, "/api/v1/namespaces/default/pods/job-xyz")) != 1 {
		t.Errorf("pod delete: %d", rec.Code)
	}
	// A 404 from the apiserver is shown as such.
	rec = b.post("/delete", url.Values{"csrf": {csrf}, "kind": {"deployment"}, "ns": {"default"}, "name": {"gone"}, "confirm": {"yes"}})
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `data-code="404"`) {
		t.Errorf("delete of a missing object: %d", rec.Code)
	}
}

func TestCSRF(t *testing.T) {
	s, f := newTestServer(t)
	b := login(t, s, adminToken)
	csrf := b.csrf()
	other := login(t, s, adminToken).csrf() // another session's token
	f.requests()
	for _, tok := range []string{"", "forged", other} {
		for _, path := range []string{"/scale", "/restart", "/delete", "/logout"} {
			form := url.Values{"kind": {"deployment"}, "ns": {"default"}, "name": {"web"}, "replicas": {"0"}, "confirm": {"yes"}}
			if tok != "" {
				form.Set("csrf", tok)
			}
			rec := b.post(path, form)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "CSRF") {
				t.Errorf("POST %s with csrf %q: %d", path, tok, rec.Code)
			}
		}
	}
	// A browser's cross-site POST is refused even with the right token.
	rec := b.do(http.MethodPost, "/scale", url.Values{"csrf": {csrf}, "kind": {"deployment"}, "ns": {"default"}, "name": {"web"}, "replicas": {"0"}},
		"Sec-Fetch-Site", "cross-site")
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-site POST: %d", rec.Code)
	}
	rec = (&browser{t: t, h: s}).do(http.MethodPost, "/login", url.Values{"token": {adminToken}}, "Origin", "https://evil.example")
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-origin login: %d", rec.Code)
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Errorf("refused forms reached the apiserver: %+v", reqs)
	}
	// Without a session, an action goes to the login page.
	rec = (&browser{t: t, h: s}).post("/scale", url.Values{"csrf": {csrf}})
	if rec.Code != http.StatusSeeOther {
		t.Errorf("action without a session: %d", rec.Code)
	}
}

func TestLogout(t *testing.T) {
	s, _ := newTestServer(t)
	b := login(t, s, adminToken)
	rec := b.post("/logout", url.Values{"csrf": {b.csrf()}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "./login?reason=logout" {
		t.Fatalf("logout: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != sessionCookie || cookies[0].MaxAge >= 0 || cookies[0].Value != "" {
		t.Errorf("logout cookies %+v: want the session cookie cleared", cookies)
	}
	if s.sessions.len() != 0 {
		t.Error("session kept after logout")
	}
	// The old cookie no longer works.
	if rec := b.get("/"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "./login" {
		t.Errorf("after logout: %d", rec.Code)
	}
}

func TestSecurityHeadersAndStatic(t *testing.T) {
	s, _ := newTestServer(t)
	b := &browser{t: t, h: s}
	rec := b.get("/login")
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("pages must not be cached")
	}
	for _, p := range []string{"/static/app.js", "/static/style.css"} {
		if rec := b.get(p); rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("GET %s: %d", p, rec.Code)
		}
	}
	if rec := b.get("/static/"); rec.Code != http.StatusNotFound {
		t.Errorf("static directory listing: %d", rec.Code)
	}
	// No page refers to anything outside the dashboard.
	body := b.get("/login").Body.String()
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, `="/`) {
		t.Errorf("login page has an absolute reference:\n%s", body)
	}
}
