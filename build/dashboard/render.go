package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"sync"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates in templates/, each defining "content" for layout.html.
var pageNames = []string{"login", "overview", "workloads", "detail", "pods", "log", "services", "events", "confirm", "error"}

func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"join": strings.Join}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if pages[name], err = t.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
			return nil, err
		}
	}
	return pages, nil
}

func staticHandler() http.Handler {
	fsrv := http.FileServerFS(staticFS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// page is what layout.html renders: the header (user, namespace selector, navigation), a flash
// message or error, and the page's own Data.
type page struct {
	Title string
	Nav   string // the navigation entry shown as current, and where the namespace selector goes
	User  userInfo
	CSRF  string
	// NS is the selected namespace ("" is all); Namespaces lists the choices, nil when the
	// user may not list namespaces (the selector is then a text field).
	NS         string
	Namespaces []string
	Flash      string
	Error      *errorView
	Data       any
}

// errorView is an error as a page shows it.
type errorView struct {
	Code           int
	Title, Message string
}

// section is a part of a page with its own list request, which can fail alone (a user who
// may list pods but not nodes still sees the rest of the page).
type section[T any] struct {
	Rows []T
	Err  *errorView
	More bool // the list was cut at listLimit
}

func (s *server) newPage(rq *request, nav, title string) *page {
	return &page{Title: title, Nav: nav, User: rq.sess.user, CSRF: rq.sess.csrf, NS: rq.ns}
}

// render writes a page as HTML with the given status.
func (s *server) render(w http.ResponseWriter, status int, name string, p *page) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError shows an error page.
func (s *server) renderError(w http.ResponseWriter, rq *request, code int, title, msg string) {
	p := s.newPage(rq, "", title)
	p.Error = &errorView{Code: code, Title: title, Message: msg}
	s.render(w, code, "error", p)
}

// fail shows an apiserver error: a 401 (token expired or revoked) ends the session and sends
// the browser to the login page; anything else becomes an error page with a matching status
// (403 Forbidden with the apiserver's message, 404, 409, 422; 502 when the apiserver fails).
func (s *server) fail(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	if s.expired(w, r, rq, err) {
		return
	}
	ev := errorFor(err)
	p := s.newPage(rq, "", ev.Title)
	p.Error = ev
	s.render(w, ev.Code, "error", p)
}

// expired ends the session and redirects to the login page when any err is a 401.
func (s *server) expired(w http.ResponseWriter, r *http.Request, rq *request, errs ...error) bool {
	for _, err := range errs {
		if apiCode(err) == http.StatusUnauthorized {
			s.log.Info("token rejected by the apiserver; session ended", "user", rq.sess.user.Username)
			s.endSession(w, r, rq.sess)
			seeOther(w, "./login?reason=expired")
			return true
		}
	}
	return false
}

// errorFor describes err for a page; nil for nil.
func errorFor(err error) *errorView {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return &errorView{Code: 499, Title: "Cancelled", Message: err.Error()}
	}
	e, ok := errors.AsType[*apiError](err)
	if !ok {
		return &errorView{Code: http.StatusBadGateway, Title: "Apiserver unreachable", Message: err.Error()}
	}
	ev := &errorView{Code: e.Code, Title: e.Reason, Message: e.Message}
	switch e.Code {
	case http.StatusForbidden:
		ev.Title = "Forbidden"
	case http.StatusNotFound:
		ev.Title = "Not found"
	case http.StatusConflict, http.StatusUnprocessableEntity, http.StatusBadRequest:
	default:
		if e.Code >= 500 {
			ev.Code = http.StatusBadGateway
		}
	}
	if ev.Message == "" {
		ev.Message = http.StatusText(e.Code)
	}
	return ev
}

// sectionStatus is the HTTP status of a page made of sections: the first section's error code
// when every section failed, else 200.
func sectionStatus(errs ...error) int {
	for _, err := range errs {
		if err == nil {
			return http.StatusOK
		}
	}
	if len(errs) == 0 {
		return http.StatusOK
	}
	return errorFor(errs[0]).Code
}

// parallel runs fns concurrently and waits for them all.
func parallel(fns ...func()) {
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Go(f)
	}
	wg.Wait()
}
