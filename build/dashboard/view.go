package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rows of the tables the pages show, computed from the API objects so that templates only
// print strings.

type nodeRow struct {
	Name, Status, Roles, Version, CPU, Memory, Arch, OS, InternalIP, Age string
	Ready                                                                bool
}

func nodeRowOf(n *node, now time.Time) nodeRow {
	r := nodeRow{Name: n.Metadata.Name, Status: "Unknown", Version: n.Status.NodeInfo.KubeletVersion,
		CPU: n.Status.Capacity["cpu"], Memory: humanBytes(n.Status.Capacity["memory"]),
		Arch: n.Status.NodeInfo.Architecture, OS: n.Status.NodeInfo.OSImage, Age: age(n.Metadata.CreationTimestamp, now)}
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			r.Ready = c.Status == "True"
			r.Status = map[string]string{"True": "Ready", "False": "NotReady"}[c.Status]
			if r.Status == "" {
				r.Status = "Unknown"
			}
		}
	}
	if n.Spec.Unschedulable {
		r.Status += ",SchedulingDisabled"
	}
	var roles []string
	for k, v := range n.Metadata.Labels {
		if role, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && role != "" {
			roles = append(roles, role)
		} else if k == "kubernetes.io/role" && v != "" {
			roles = append(roles, v)
		}
	}
	slices.Sort(roles)
	r.Roles = strings.Join(slices.Compact(roles), ",")
	if r.Roles == "" {
		r.Roles = "<none>"
	}
	for _, a := range n.Status.Addresses {
		if a.Type == "InternalIP" && r.InternalIP == "" {
			r.InternalIP = a.Address
		}
	}
	return r
}

type namespaceRow struct{ Name, Status, Age string }

type workloadRow struct {
	Kind                                             kindInfo
	Name, Namespace, Ready, UpToDate, Available, Age string
	Images                                           string
	Healthy                                          bool
	URL                                              string
}

// counts returns desired, ready, up-to-date and available replicas (pods, for a DaemonSet).
func (w *workload) counts(kind string) (desired, ready, updated, available int32) {
	st := &w.Status
	if kind == "daemonset" {
		return st.DesiredNumberScheduled, st.NumberReady, st.UpdatedNumberScheduled, st.NumberAvailable
	}
	desired = 1 // the default when spec.replicas is unset
	if w.Spec.Replicas != nil {
		desired = *w.Spec.Replicas
	}
	return desired, st.ReadyReplicas, st.UpdatedReplicas, st.AvailableReplicas
}

func workloadRowOf(k kindInfo, w *workload, now time.Time) workloadRow {
	desired, ready, updated, available := w.counts(k.Name)
	var images []string
	for _, c := range w.Spec.Template.Spec.Containers {
		images = append(images, c.Image)
	}
	return workloadRow{Kind: k, Name: w.Metadata.Name, Namespace: w.Metadata.Namespace,
		Ready:    fmt.Sprintf("%d/%d", ready, desired),
		UpToDate: strconv.Itoa(int(updated)), Available: strconv.Itoa(int(available)),
		Age: age(w.Metadata.CreationTimestamp, now), Images: strings.Join(images, ", "),
		Healthy: ready == desired, URL: k.detailURL(w.Metadata.Namespace, w.Metadata.Name)}
}

type jobRow struct {
	Name, Namespace, Completions, Status, Duration, Age string
	Healthy                                             bool
}

// jobRowOf is a row of kubectl get jobs: succeeded/completions, and the state from the
// Complete/Failed conditions, suspension or activity.
func jobRowOf(j *job, now time.Time) jobRow {
	completions := int32(1)
	if j.Spec.Completions != nil {
		completions = *j.Spec.Completions
	}
	r := jobRow{Name: j.Metadata.Name, Namespace: j.Metadata.Namespace,
		Completions: fmt.Sprintf("%d/%d", j.Status.Succeeded, completions),
		Status:      "Pending", Duration: "-", Age: age(j.Metadata.CreationTimestamp, now), Healthy: true}
	switch {
	case hasTrueCondition(j.Status.Conditions, "Complete"):
		r.Status = "Complete"
	case hasTrueCondition(j.Status.Conditions, "Failed"):
		r.Status, r.Healthy = "Failed", false
	case j.Spec.Suspend != nil && *j.Spec.Suspend:
		r.Status = "Suspended"
	case j.Status.Active > 0:
		r.Status = "Running"
	}
	if j.Status.StartTime != nil {
		end := now
		if j.Status.CompletionTime != nil {
			end = *j.Status.CompletionTime
		}
		r.Duration = age(*j.Status.StartTime, end)
	}
	return r
}

func hasTrueCondition(cs []condition, typ string) bool {
	for _, c := range cs {
		if c.Type == typ && c.Status == "True" {
			return true
		}
	}
	return false
}

type cronJobRow struct {
	Name, Namespace, Schedule, Suspend, LastSchedule, Age string
	Active                                                int
}

func cronJobRowOf(c *cronJob, now time.Time) cronJobRow {
	r := cronJobRow{Name: c.Metadata.Name, Namespace: c.Metadata.Namespace, Schedule: c.Spec.Schedule,
		Suspend: "False", LastSchedule: "-", Active: len(c.Status.Active), Age: age(c.Metadata.CreationTimestamp, now)}
	if c.Spec.Suspend != nil && *c.Spec.Suspend {
		r.Suspend = "True"
	}
	if c.Status.LastScheduleTime != nil {
		r.LastSchedule = age(*c.Status.LastScheduleTime, now) + " ago"
	}
	return r
}

type podRow struct {
	Name, Namespace, Phase, Status, Ready, Node, IP, Age string
	Restarts                                             int32
	Healthy                                              bool
}

func podRowOf(p *pod, now time.Time) podRow {
	r := podRow{Name: p.Metadata.Name, Namespace: p.Metadata.Namespace, Phase: p.Status.Phase,
		Node: p.Spec.NodeName, IP: p.Status.PodIP, Age: age(p.Metadata.CreationTimestamp, now)}
	ready := 0
	for _, cs := range p.Status.ContainerStatuses {
		r.Restarts += cs.RestartCount
		if cs.Ready {
			ready++
		}
	}
	r.Ready = fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers))
	r.Status = podStatus(p)
	r.Healthy = r.Status == "Running" && ready == len(p.Spec.Containers) || r.Status == "Completed"
	if r.Phase == "" {
		r.Phase = "Unknown"
	}
	return r
}

// podStatus is the STATUS column of kubectl get pods, simplified: the phase, or why the pod
// is not running (an init container's progress, a container's waiting or termination reason,
// Terminating).
func podStatus(p *pod) string {
	reason := p.Status.Phase
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	initDone := true
	for i, cs := range p.Status.InitContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode == 0 {
			continue
		}
		initDone = false
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
			reason = "Init:" + cs.State.Terminated.Reason
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		break
	}
	if initDone {
		for _, cs := range slices.Backward(p.Status.ContainerStatuses) {
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
			case cs.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
			}
		}
	}
	if p.Metadata.DeletionTimestamp != nil {
		reason = "Terminating"
	}
	if reason == "" {
		reason = "Unknown"
	}
	return reason
}

type serviceRow struct {
	Name, Namespace, Type, ClusterIP, ExternalIP, Ports, Age string
}

func serviceRowOf(s *service, now time.Time) serviceRow {
	r := serviceRow{Name: s.Metadata.Name, Namespace: s.Metadata.Namespace, Type: s.Spec.Type,
		ClusterIP: s.Spec.ClusterIP, Age: age(s.Metadata.CreationTimestamp, now)}
	ext := slices.Clone(s.Spec.ExternalIPs)
	for _, in := range s.Status.LoadBalancer.Ingress {
		ext = append(ext, cmp.Or(in.IP, in.Hostname))
	}
	r.ExternalIP = cmp.Or(strings.Join(ext, ","), "<none>")
	var ports []string
	for _, p := range s.Spec.Ports {
		v := strconv.Itoa(int(p.Port))
		if p.NodePort != 0 {
			v += ":" + strconv.Itoa(int(p.NodePort))
		}
		if p.TargetPort != "" && string(p.TargetPort) != strconv.Itoa(int(p.Port)) {
			v += "→" + string(p.TargetPort)
		}
		ports = append(ports, v+"/"+cmp.Or(p.Protocol, "TCP"))
	}
	r.Ports = cmp.Or(strings.Join(ports, ", "), "<none>")
	return r
}

type eventRow struct {
	Namespace, Type, Reason, Object, Message, Source, Age string
	Count                                                 int32
	when                                                  time.Time
}

func eventRowOf(e *event, now time.Time) eventRow {
	when := e.LastTimestamp
	count := e.Count
	if e.Series != nil {
		when = e.Series.LastObservedTime
		count = e.Series.Count
	}
	for _, t := range []time.Time{e.EventTime, e.FirstTimestamp, e.Metadata.CreationTimestamp} {
		if when.IsZero() {
			when = t
		}
	}
	return eventRow{Namespace: e.Metadata.Namespace, Type: e.Type, Reason: e.Reason,
		Object:  strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name,
		Message: strings.TrimSpace(e.Message), Source: cmp.Or(e.ReportingComponent, e.Source.Component),
		Count: max(count, 1), Age: age(when, now), when: when}
}

type conditionRow struct{ Type, Status, Reason, Message, Age string }

func conditionRows(cs []condition, now time.Time) []conditionRow {
	rows := make([]conditionRow, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, conditionRow{c.Type, c.Status, c.Reason, c.Message, age(c.LastTransitionTime, now)})
	}
	return rows
}

// selectorQuery is a labelSelector for the pods of a workload, or "" when its selector is
// not only matchLabels (the pods section is then left out rather than shown wrong).
func selectorQuery(s *labelSelector) string {
	if s == nil || len(s.MatchLabels) == 0 || len(s.MatchExpressions) > 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.MatchLabels)) {
		parts = append(parts, k+"="+s.MatchLabels[k])
	}
	return strings.Join(parts, ",")
}

// age is a duration the way kubectl prints it: 45s, 3m20s, 5h, 12d.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 10*time.Minute:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 8*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 8*24*time.Hour:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours())/24)
	default:
		return fmt.Sprintf("%dy", int(d.Hours())/24/365)
	}
}

// humanBytes shows a memory quantity ("8029832Ki") in binary units ("7.7Gi"); a quantity it
// cannot read is shown as it is.
func humanBytes(q string) string {
	n, ok := parseQuantity(q)
	if !ok {
		return q
	}
	units := []string{"", "Ki", "Mi", "Gi", "Ti", "Pi"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(n, 'f', 0, 64)
	}
	return strconv.FormatFloat(n, 'f', 1, 64) + units[i]
}

// parseQuantity reads a Kubernetes resource quantity: a decimal number with a binary (Ki..Ei)
// or decimal (m, k, M..E) suffix or an exponent.
func parseQuantity(q string) (float64, bool) {
	suffixes := []struct {
		s string
		f float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"Pi", 1 << 50}, {"Ei", 1 << 60},
		{"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18}}
	f := 1.0
	for _, s := range suffixes {
		if num, ok := strings.CutSuffix(q, s.s); ok {
			q, f = num, s.f
			break
		}
	}
	n, err := strconv.ParseFloat(q, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n * f, true
}
