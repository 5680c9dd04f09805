package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// session is one signed-in browser. The token never leaves the server: the browser holds only
// the session's random id in an HttpOnly cookie.
type session struct {
	id      string
	token   string
	csrf    string // per-session token every POST form carries
	user    userInfo
	expires time.Time

	mu sync.Mutex
	ns string // namespace last chosen; "" is all namespaces
}

func (s *session) namespace() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ns
}

func (s *session) setNamespace(ns string) {
	s.mu.Lock()
	s.ns = ns
	s.mu.Unlock()
}

// sessionStore keeps sessions in memory only: a restart of the dashboard signs everyone out,
// and no token is ever written to disk.
type sessionStore struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[string]*session
}

func newSessionStore(ttl time.Duration, max int, now func() time.Time) *sessionStore {
	return &sessionStore{ttl: ttl, max: max, now: now, m: make(map[string]*session)}
}

// create starts a session for token. It lasts the store's TTL, or until the token expires
// when the token says when (a JWT's exp claim).
func (st *sessionStore) create(token string, user userInfo) *session {
	now := st.now()
	s := &session{id: randomID(), token: token, csrf: randomID(), user: user, ns: "default", expires: now.Add(st.ttl)}
	if exp, ok := tokenExpiry(token); ok && exp.Before(s.expires) {
		s.expires = exp
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var oldest *session
	for id, o := range st.m {
		if !now.Before(o.expires) {
			delete(st.m, id)
		} else if oldest == nil || o.expires.Before(oldest.expires) {
			oldest = o
		}
	}
	if len(st.m) >= st.max && oldest != nil {
		delete(st.m, oldest.id)
	}
	st.m[s.id] = s
	return s
}

// get returns the live session with id, or nil.
func (st *sessionStore) get(id string) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.m[id]
	if s != nil && !st.now().Before(s.expires) {
		delete(st.m, id)
		return nil
	}
	return s
}

func (st *sessionStore) delete(id string) {
	st.mu.Lock()
	delete(st.m, id)
	st.mu.Unlock()
}

func (st *sessionStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.m)
}

// randomID is 256 random bits, URL-safe.
func randomID() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenExpiry reads the exp claim of a JWT without verifying it: it only shortens the session,
// the apiserver still judges the token on every call.
func tokenExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(b, &claims) != nil || claims.Exp == 0 {
		return time.Time{}, false
	}
	return time.Unix(claims.Exp, 0), true
}
