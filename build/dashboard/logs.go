package main

import (
	"net/http"
	"net/url"
	"strconv"
)

const (
	defaultTail = 200
	maxTail     = 10000
	// maxLogBytes bounds a log read (also sent to the apiserver as limitBytes).
	maxLogBytes = 2 << 20
)

type logData struct {
	Namespace, Pod, Container string
	Containers                []logContainer
	Tail                      int
	Previous                  bool
	Text                      string
	Err                       *errorView
}

type logContainer struct {
	Name string
	Init bool
}

// podLog shows the last lines of a container's log: ./log?ns=&pod=&container=&tail=&previous=1.
// With raw=1 it answers the log as text (the page's follow mode fetches it).
func (s *server) podLog(w http.ResponseWriter, r *http.Request, rq *request) {
	q := r.URL.Query()
	d := logData{Namespace: q.Get("ns"), Pod: q.Get("pod"), Container: q.Get("container"),
		Tail: defaultTail, Previous: q.Get("previous") == "1"}
	raw := q.Get("raw") == "1"
	if !validName(d.Namespace) || !validName(d.Pod) || (d.Container != "" && !validName(d.Container)) {
		s.renderError(w, rq, http.StatusBadRequest, "Bad request", "ns, pod and container must be object names")
		return
	}
	if t := q.Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 {
			s.renderError(w, rq, http.StatusBadRequest, "Bad request", "tail must be a positive number of lines")
			return
		}
		d.Tail = min(n, maxTail)
	}
	ctx := r.Context()
	p := s.newPage(rq, "pods", "Log of "+d.Pod)
	if !raw {
		var pd pod
		var err error
		parallel(
			func() { p.Namespaces = s.namespaceNames(ctx, rq) },
			func() { err = rq.kube.get(ctx, kinds["pod"].objectPath(d.Namespace, d.Pod), nil, &pd) },
		)
		if err != nil {
			s.fail(w, r, rq, err)
			return
		}
		for _, c := range pd.Spec.InitContainers {
			d.Containers = append(d.Containers, logContainer{Name: c.Name, Init: true})
		}
		for _, c := range pd.Spec.Containers {
			d.Containers = append(d.Containers, logContainer{Name: c.Name})
		}
		if d.Container == "" {
			d.Container = pd.Metadata.Annotations["kubectl.kubernetes.io/default-container"]
		}
		if d.Container == "" && len(pd.Spec.Containers) > 0 {
			d.Container = pd.Spec.Containers[0].Name
		}
	}
	lq := url.Values{"tailLines": {strconv.Itoa(d.Tail)}, "limitBytes": {strconv.Itoa(maxLogBytes)}}
	if d.Container != "" {
		lq.Set("container", d.Container)
	}
	if d.Previous {
		lq.Set("previous", "true")
	}
	text, err := rq.kube.text(ctx, kinds["pod"].objectPath(d.Namespace, d.Pod)+"/log", lq, maxLogBytes)
	if raw {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			ev := errorFor(err)
			http.Error(w, ev.Title+": "+ev.Message, ev.Code)
			return
		}
		w.Write([]byte(text))
		return
	}
	if s.expired(w, r, rq, err) {
		return
	}
	// A log that cannot be read (container not started, no previous instance) leaves the page
	// usable to pick another container.
	d.Text, d.Err = text, errorFor(err)
	status := http.StatusOK
	if d.Err != nil && d.Err.Code == http.StatusForbidden {
		status = http.StatusForbidden
	}
	p.Data = d
	s.render(w, status, "log", p)
}
