package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// sessionCookie names the cookie holding the session id.
const sessionCookie = "edgek_dashboard_session"

// maxFormBytes bounds a POSTed form (a login token is a few KB at most).
const maxFormBytes = 64 << 10

type serverOptions struct {
	API         *apiClient
	Log         *slog.Logger
	SessionTTL  time.Duration
	MaxSessions int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// server is the dashboard's HTTP handler.
type server struct {
	api      *apiClient
	log      *slog.Logger
	sessions *sessionStore
	pages    map[string]*template.Template
	now      func() time.Time
	handler  http.Handler
}

func newServer(o serverOptions) (*server, error) {
	if o.API == nil || o.Log == nil {
		return nil, errors.New("dashboard server: API and Log are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	s := &server{api: o.API, log: o.Log, pages: pages, now: o.Now,
		sessions: newSessionStore(o.SessionTTL, o.MaxSessions, o.Now)}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.action(s.logout))
	mux.HandleFunc("GET /{$}", s.authed(s.overview))
	mux.HandleFunc("GET /workloads", s.authed(s.workloads))
	mux.HandleFunc("GET /pods", s.authed(s.pods))
	mux.HandleFunc("GET /log", s.authed(s.podLog))
	mux.HandleFunc("GET /services", s.authed(s.services))
	mux.HandleFunc("GET /events", s.authed(s.events))
	for _, k := range kinds {
		if k.Detail {
			mux.HandleFunc("GET /"+k.Name, s.authed(s.workloadDetail))
		}
	}
	mux.HandleFunc("POST /scale", s.action(s.scale))
	mux.HandleFunc("POST /restart", s.action(s.restart))
	mux.HandleFunc("POST /delete", s.action(s.delete))

	// A browser's cross-site POST is refused before any handler (Sec-Fetch-Site/Origin); the
	// per-session CSRF token and SameSite=Strict cookie are the other two locks.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	s.handler = s.logRequests(securityHeaders(cop.Handler(mux)))
	return s, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// request is what a signed-in page handler gets.
type request struct {
	sess *session
	kube kube   // the apiserver with the user's token
	ns   string // selected namespace; "" is all
}

// authed wraps a page: without a session it sends the browser to the login page. A ns query
// parameter selects the namespace for this and later pages ("" is all namespaces).
func (s *server) authed(h func(http.ResponseWriter, *http.Request, *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.session(r)
		if sess == nil {
			seeOther(w, "./login")
			return
		}
		setLogUser(r, sess.user.Username)
		rq := &request{sess: sess, kube: kube{c: s.api, token: sess.token}}
		if q := r.URL.Query(); q.Has("ns") {
			ns := q.Get("ns")
			if ns != "" && !validName(ns) {
				rq.ns = sess.namespace()
				s.renderError(w, rq, http.StatusBadRequest, "Bad request", fmt.Sprintf("%q is not a namespace name", ns))
				return
			}
			sess.setNamespace(ns)
		}
		rq.ns = sess.namespace()
		h(w, r, rq)
	}
}

// action wraps a POST handler: it needs a session and the session's CSRF token in the form.
func (s *server) action(h func(http.ResponseWriter, *http.Request, *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		sess := s.session(r)
		if sess == nil {
			seeOther(w, "./login?reason=expired")
			return
		}
		setLogUser(r, sess.user.Username)
		rq := &request{sess: sess, kube: kube{c: s.api, token: sess.token}, ns: sess.namespace()}
		if err := r.ParseForm(); err != nil {
			s.renderError(w, rq, http.StatusBadRequest, "Bad request", "unreadable form")
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(sess.csrf)) != 1 {
			s.log.Warn("CSRF token mismatch", "path", r.URL.Path, "user", sess.user.Username)
			s.renderError(w, rq, http.StatusForbidden, "Forbidden",
				"the form's CSRF token is missing or stale; reload the page and try again")
			return
		}
		h(w, r, rq)
	}
}

func (s *server) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	return s.sessions.get(c.Value)
}

// setSessionCookie gives the browser the session id: HttpOnly, SameSite=Strict, and Secure
// when the dashboard serves TLS. It is a browser-session cookie; the server ends it at expiry.
func setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// endSession forgets the session and clears its cookie.
func (s *server) endSession(w http.ResponseWriter, r *http.Request, sess *session) {
	s.sessions.delete(sess.id)
	setSessionCookie(w, r, "", -1)
}

// seeOther redirects to loc, which is relative ("./pods"): every page sits at the top level,
// so relative links and redirects keep working when the dashboard is reached below a path
// prefix (the apiserver's service proxy, kubectl proxy).
func seeOther(w http.ResponseWriter, loc string) {
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
}

// securityHeaders forbids framing, sniffing, referrers and any script, style or connection
// not served by the dashboard itself.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
			"img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// logInfo is filled in by handlers for the request log line.
type logInfo struct{ user string }

type logInfoKey struct{}

func setLogUser(r *http.Request, user string) {
	if li, ok := r.Context().Value(logInfoKey{}).(*logInfo); ok {
		li.user = user
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs one line per request (probes and static files at debug level). Query
// strings hold no secret (the token only travels in the login form's body) but are left out.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		li := &logInfo{}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), logInfoKey{}, li)))
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || strings.HasPrefix(r.URL.Path, "/static/") {
			level = slog.LevelDebug
		}
		s.log.LogAttrs(r.Context(), level, "request", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", rec.status),
			slog.Duration("dur", time.Since(start)), slog.String("user", li.user),
			slog.String("remote", r.RemoteAddr))
	})
}
