package main

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// maxReplicas bounds what the scale form accepts.
const maxReplicas = 10000

// maxTokenBytes bounds a pasted token.
const maxTokenBytes = 16 << 10

type loginData struct {
	Message, Error string
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.session(r) != nil {
		seeOther(w, "./")
		return
	}
	var d loginData
	switch r.URL.Query().Get("reason") {
	case "expired":
		d.Message = "Your session ended or the apiserver no longer accepts its token. Sign in again."
	case "logout":
		d.Message = "Signed out."
	}
	s.render(w, http.StatusOK, "login", &page{Title: "Sign in", Data: d})
}

// login checks the pasted token with a SelfSubjectReview (which also says who it is) and
// starts a session holding it.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	token := strings.TrimSpace(r.PostFormValue("token"))
	token = strings.TrimSpace(strings.TrimPrefix(token, "Bearer "))
	fail := func(code int, msg string) {
		s.render(w, code, "login", &page{Title: "Sign in", Data: loginData{Error: msg}})
	}
	if token == "" || len(token) > maxTokenBytes || strings.IndexFunc(token, unicode.IsSpace) >= 0 ||
		strings.IndexFunc(token, unicode.IsControl) >= 0 {
		fail(http.StatusBadRequest, "Paste a bearer token (for example the output of: kubectl -n NAMESPACE create token SERVICEACCOUNT).")
		return
	}
	user, err := kube{c: s.api, token: token}.whoAmI(r.Context())
	switch code := apiCode(err); {
	case err == nil:
	case code == http.StatusUnauthorized:
		s.log.Info("login refused: token rejected by the apiserver", "remote", r.RemoteAddr)
		fail(http.StatusUnauthorized, "Unauthorized: the apiserver rejected this token (wrong, expired or revoked).")
		return
	case code == http.StatusForbidden || code == http.StatusNotFound:
		// Authenticated (403) or the review API is off (404): the token is accepted; a bad
		// one fails with 401 on the first page.
		user = userInfo{Username: "(unknown user)"}
	default:
		ev := errorFor(err)
		fail(http.StatusBadGateway, "Could not check the token: "+ev.Title+": "+ev.Message)
		return
	}
	if old := s.session(r); old != nil { // signing in again replaces the session
		s.sessions.delete(old.id)
	}
	sess := s.sessions.create(token, user)
	setSessionCookie(w, r, sess.id, 0)
	setLogUser(r, user.Username)
	s.log.Info("signed in", "user", user.Username, "groups", strings.Join(user.Groups, ","), "sessions", s.sessions.len())
	seeOther(w, "./")
}

func (s *server) logout(w http.ResponseWriter, r *http.Request, rq *request) {
	s.endSession(w, r, rq.sess)
	s.log.Info("signed out", "user", rq.sess.user.Username)
	seeOther(w, "./login?reason=logout")
}

// target reads and checks the kind, ns and name of an action's form.
func (s *server) target(w http.ResponseWriter, r *http.Request, rq *request) (k kindInfo, ns, name string, ok bool) {
	k, ok = kinds[r.PostForm.Get("kind")]
	ns, name = r.PostForm.Get("ns"), r.PostForm.Get("name")
	if !ok || !validName(ns) || !validName(name) {
		s.renderError(w, rq, http.StatusBadRequest, "Bad request", "the form needs a known kind, a namespace and a name")
		return k, ns, name, false
	}
	return k, ns, name, true
}

// scale PATCHes the scale subresource: {"spec":{"replicas":N}}.
func (s *server) scale(w http.ResponseWriter, r *http.Request, rq *request) {
	k, ns, name, ok := s.target(w, r, rq)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PostForm.Get("replicas"))
	if !k.Scalable || err != nil || n < 0 || n > maxReplicas {
		s.renderError(w, rq, http.StatusBadRequest, "Bad request", "replicas must be a number from 0 to "+strconv.Itoa(maxReplicas)+" for a Deployment or StatefulSet")
		return
	}
	patch := map[string]any{"spec": map[string]any{"replicas": n}}
	if err := rq.kube.mergePatch(r.Context(), k.objectPath(ns, name)+"/scale", patch); err != nil {
		s.fail(w, r, rq, err)
		return
	}
	s.log.Info("scaled", "kind", k.Name, "namespace", ns, "name", name, "replicas", n, "user", rq.sess.user.Username)
	seeOther(w, k.detailURL(ns, name, "done", "scaled"))
}

// restart sets the pod template annotation kubectl rollout restart sets, so the controller
// replaces the pods.
func (s *server) restart(w http.ResponseWriter, r *http.Request, rq *request) {
	k, ns, name, ok := s.target(w, r, rq)
	if !ok {
		return
	}
	if !k.Restartable {
		s.renderError(w, rq, http.StatusBadRequest, "Bad request", "a "+k.Title+" cannot be restarted")
		return
	}
	at := s.now().Format(time.RFC3339)
	patch := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{"kubectl.kubernetes.io/restartedAt": at}}}}}
	if err := rq.kube.mergePatch(r.Context(), k.objectPath(ns, name), patch); err != nil {
		s.fail(w, r, rq, err)
		return
	}
	s.log.Info("restarted", "kind", k.Name, "namespace", ns, "name", name, "user", rq.sess.user.Username)
	seeOther(w, k.detailURL(ns, name, "done", "restarted"))
}

type confirmData struct {
	Kind      kindInfo
	Namespace string
	Name      string
	Back      string
}

// delete asks for confirmation (a page with a second form) unless the form says confirm=yes,
// then DELETEs the object with background propagation.
func (s *server) delete(w http.ResponseWriter, r *http.Request, rq *request) {
	k, ns, name, ok := s.target(w, r, rq)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		back := "./" + k.List
		if k.Detail {
			back = k.detailURL(ns, name)
		}
		p := s.newPage(rq, k.List, "Delete "+k.Title+" "+name+"?")
		p.Data = confirmData{Kind: k, Namespace: ns, Name: name, Back: back}
		s.render(w, http.StatusOK, "confirm", p)
		return
	}
	opts := map[string]string{"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
	if err := rq.kube.send(r.Context(), http.MethodDelete, k.objectPath(ns, name), "application/json", opts, nil); err != nil {
		s.fail(w, r, rq, err)
		return
	}
	s.log.Info("deleted", "kind", k.Name, "namespace", ns, "name", name, "user", rq.sess.user.Username)
	q := url.Values{"done": {"deleted"}, "kind": {k.Name}, "name": {name}}
	seeOther(w, "./"+k.List+"?"+q.Encode())
}
