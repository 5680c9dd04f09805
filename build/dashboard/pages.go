package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
)

// Page handlers: each fetches what it shows, per request (nothing of the cluster is cached),
// with the user's token.

type overviewData struct {
	Nodes      section[nodeRow]
	Namespaces section[namespaceRow]
}

func (s *server) overview(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	var nodes nodeList
	var nss namespaceList
	var nodeErr, nsErr error
	parallel(
		func() { nodeErr = rq.kube.get(ctx, "/api/v1/nodes", listQuery(), &nodes) },
		func() { nsErr = rq.kube.get(ctx, "/api/v1/namespaces", listQuery(), &nss) },
	)
	if s.expired(w, r, rq, nodeErr, nsErr) {
		return
	}
	now := s.now()
	d := overviewData{
		Nodes:      section[nodeRow]{Err: errorFor(nodeErr), More: nodes.Metadata.Continue != ""},
		Namespaces: section[namespaceRow]{Err: errorFor(nsErr), More: nss.Metadata.Continue != ""},
	}
	for i := range nodes.Items {
		d.Nodes.Rows = append(d.Nodes.Rows, nodeRowOf(&nodes.Items[i], now))
	}
	p := s.newPage(rq, "overview", "Overview")
	for _, ns := range nss.Items {
		d.Namespaces.Rows = append(d.Namespaces.Rows, namespaceRow{Name: ns.Metadata.Name,
			Status: ns.Status.Phase, Age: age(ns.Metadata.CreationTimestamp, now)})
		p.Namespaces = append(p.Namespaces, ns.Metadata.Name)
	}
	p.Data = d
	s.render(w, sectionStatus(nodeErr, nsErr), "overview", p)
}

// namespaceNames lists namespace names for the selector; nil when the user may not.
func (s *server) namespaceNames(ctx context.Context, rq *request) []string {
	var l namespaceList
	if err := rq.kube.get(ctx, "/api/v1/namespaces", listQuery(), &l); err != nil {
		return nil
	}
	names := make([]string, 0, len(l.Items))
	for _, ns := range l.Items {
		names = append(names, ns.Metadata.Name)
	}
	return names
}

// workloadSection is one table of the workloads page.
type workloadSection struct {
	Title   string // "Deployments"
	Kind    string // "deployment"
	AllNS   bool
	Section section[workloadRow]
}

// workloadsData is what the workloads page shows: the tables of the kinds it can act on,
// then Jobs and CronJobs (read-only).
type workloadsData struct {
	Sections []workloadSection
	AllNS    bool
	Jobs     section[jobRow]
	CronJobs section[cronJobRow]
}

func (s *server) workloads(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	p := s.newPage(rq, "workloads", "Workloads")
	order := []string{"deployment", "statefulset", "daemonset"}
	lists := make([]workloadList, len(order))
	errs := make([]error, len(order)+2)
	var jobs jobList
	var cronJobs cronJobList
	fetches := []func(){
		func() { p.Namespaces = s.namespaceNames(ctx, rq) },
		func() {
			errs[len(order)] = rq.kube.get(ctx, listPath("/apis/batch/v1", "jobs", rq.ns), listQuery(), &jobs)
		},
		func() {
			errs[len(order)+1] = rq.kube.get(ctx, listPath("/apis/batch/v1", "cronjobs", rq.ns), listQuery(), &cronJobs)
		},
	}
	for i, name := range order {
		k := kinds[name]
		fetches = append(fetches, func() {
			errs[i] = rq.kube.get(ctx, listPath(k.APIPath, k.Resource, rq.ns), listQuery(), &lists[i])
		})
	}
	parallel(fetches...)
	if s.expired(w, r, rq, errs...) {
		return
	}
	now := s.now()
	secs := make([]workloadSection, len(order))
	for i, name := range order {
		k := kinds[name]
		sec := section[workloadRow]{Err: errorFor(errs[i]), More: lists[i].Metadata.Continue != ""}
		for j := range lists[i].Items {
			sec.Rows = append(sec.Rows, workloadRowOf(k, &lists[i].Items[j], now))
		}
		secs[i] = workloadSection{Title: k.Title + "s", Kind: k.Name, AllNS: rq.ns == "", Section: sec}
	}
	data := workloadsData{Sections: secs, AllNS: rq.ns == "",
		Jobs:     section[jobRow]{Err: errorFor(errs[len(order)]), More: jobs.Metadata.Continue != ""},
		CronJobs: section[cronJobRow]{Err: errorFor(errs[len(order)+1]), More: cronJobs.Metadata.Continue != ""}}
	for i := range jobs.Items {
		data.Jobs.Rows = append(data.Jobs.Rows, jobRowOf(&jobs.Items[i], now))
	}
	for i := range cronJobs.Items {
		data.CronJobs.Rows = append(data.CronJobs.Rows, cronJobRowOf(&cronJobs.Items[i], now))
	}
	p.Flash = flashFor(r.URL.Query())
	p.Data = data
	s.render(w, sectionStatus(errs...), "workloads", p)
}

type listData[T any] struct {
	AllNS bool
	Rows  []T
	More  bool
	CSRF  string // for the rows' forms
}

func (s *server) pods(w http.ResponseWriter, r *http.Request, rq *request) {
	var l podList
	p, ok := s.list(w, r, rq, "pods", "Pods", listPath("/api/v1", "pods", rq.ns), &l)
	if !ok {
		return
	}
	now := s.now()
	d := listData[podRow]{AllNS: rq.ns == "", More: l.Metadata.Continue != "", CSRF: rq.sess.csrf}
	for i := range l.Items {
		d.Rows = append(d.Rows, podRowOf(&l.Items[i], now))
	}
	p.Data = d
	s.render(w, http.StatusOK, "pods", p)
}

func (s *server) services(w http.ResponseWriter, r *http.Request, rq *request) {
	var l serviceList
	p, ok := s.list(w, r, rq, "services", "Services", listPath("/api/v1", "services", rq.ns), &l)
	if !ok {
		return
	}
	now := s.now()
	d := listData[serviceRow]{AllNS: rq.ns == "", More: l.Metadata.Continue != ""}
	for i := range l.Items {
		d.Rows = append(d.Rows, serviceRowOf(&l.Items[i], now))
	}
	p.Data = d
	s.render(w, http.StatusOK, "services", p)
}

func (s *server) events(w http.ResponseWriter, r *http.Request, rq *request) {
	var l eventList
	p, ok := s.list(w, r, rq, "events", "Events", listPath("/api/v1", "events", rq.ns), &l)
	if !ok {
		return
	}
	now := s.now()
	d := listData[eventRow]{AllNS: rq.ns == "", More: l.Metadata.Continue != ""}
	for i := range l.Items {
		d.Rows = append(d.Rows, eventRowOf(&l.Items[i], now))
	}
	slices.SortStableFunc(d.Rows, func(a, b eventRow) int { return b.when.Compare(a.when) }) // newest first
	p.Data = d
	s.render(w, http.StatusOK, "events", p)
}

// list fetches one list into out while listing namespaces for the selector, and returns the
// page to fill; on an apiserver error it has already answered (ok false).
func (s *server) list(w http.ResponseWriter, r *http.Request, rq *request, nav, title, path string, out any) (*page, bool) {
	ctx := r.Context()
	p := s.newPage(rq, nav, title)
	var err error
	parallel(
		func() { p.Namespaces = s.namespaceNames(ctx, rq) },
		func() { err = rq.kube.get(ctx, path, listQuery(), out) },
	)
	if err != nil {
		s.fail(w, r, rq, err)
		return nil, false
	}
	p.Flash = flashFor(r.URL.Query())
	return p, true
}

type detailData struct {
	Kind                      kindInfo
	Name, Namespace, Age      string
	Desired                   int32
	Ready, Updated, Available int32
	Images                    []string
	RestartedAt               string
	Conditions                []conditionRow
	Selector                  string
	HasPods                   bool
	Pods                      listData[podRow]
	PodsErr                   *errorView
}

func (s *server) workloadDetail(w http.ResponseWriter, r *http.Request, rq *request) {
	k := kinds[r.URL.Path[1:]]
	q := r.URL.Query()
	ns, name := q.Get("ns"), q.Get("name")
	if !validName(ns) || !validName(name) {
		s.renderError(w, rq, http.StatusBadRequest, "Bad request", "ns and name must be object names")
		return
	}
	ctx := r.Context()
	p := s.newPage(rq, "workloads", k.Title+" "+name)
	var obj workload
	var err error
	parallel(
		func() { p.Namespaces = s.namespaceNames(ctx, rq) },
		func() { err = rq.kube.get(ctx, k.objectPath(ns, name), nil, &obj) },
	)
	if err != nil {
		s.fail(w, r, rq, err)
		return
	}
	now := s.now()
	d := detailData{Kind: k, Name: name, Namespace: ns, Age: age(obj.Metadata.CreationTimestamp, now),
		Conditions:  conditionRows(obj.Status.Conditions, now),
		RestartedAt: obj.Spec.Template.Metadata.Annotations["kubectl.kubernetes.io/restartedAt"],
		Selector:    selectorQuery(obj.Spec.Selector)}
	d.Desired, d.Ready, d.Updated, d.Available = obj.counts(k.Name)
	for _, c := range obj.Spec.Template.Spec.Containers {
		d.Images = append(d.Images, c.Name+": "+c.Image)
	}
	if d.Selector != "" {
		d.HasPods = true
		var pods podList
		q := listQuery()
		q.Set("labelSelector", d.Selector)
		err := rq.kube.get(ctx, listPath("/api/v1", "pods", ns), q, &pods)
		if s.expired(w, r, rq, err) {
			return
		}
		d.PodsErr = errorFor(err)
		d.Pods = listData[podRow]{More: pods.Metadata.Continue != "", CSRF: rq.sess.csrf}
		for i := range pods.Items {
			d.Pods.Rows = append(d.Pods.Rows, podRowOf(&pods.Items[i], now))
		}
	}
	p.Flash = flashFor(q)
	p.Data = d
	s.render(w, http.StatusOK, "detail", p)
}

// flashFor is the message a redirect after an action asks for (?done=...). Only fixed texts
// and validated names are shown.
func flashFor(q url.Values) string {
	switch q.Get("done") {
	case "scaled":
		return "Scale requested."
	case "restarted":
		return "Restart requested: the pods are being replaced."
	case "deleted":
		k, ok := kinds[q.Get("kind")]
		if name := q.Get("name"); ok && validName(name) {
			return "Deleted " + k.Name + " " + name + "."
		}
		return "Deleted."
	}
	return ""
}
