package main

import (
	"net/url"
	"strings"
)

// kindInfo is a kind of object the dashboard acts on.
type kindInfo struct {
	Name     string // as in URLs and forms: "deployment"
	Title    string // "Deployment"
	APIPath  string // "/apis/apps/v1"
	Resource string // "deployments"
	// Detail: the kind has a detail page at ./<Name>?ns=&name=.
	Detail bool
	// Scalable through the scale subresource; Restartable by a pod template annotation.
	Scalable, Restartable bool
	// List is the page listing the kind, where a delete returns.
	List string
}

// kinds is a fixed table, never modified.
var kinds = map[string]kindInfo{
	"deployment": {Name: "deployment", Title: "Deployment", APIPath: "/apis/apps/v1", Resource: "deployments",
		Detail: true, Scalable: true, Restartable: true, List: "workloads"},
	"statefulset": {Name: "statefulset", Title: "StatefulSet", APIPath: "/apis/apps/v1", Resource: "statefulsets",
		Detail: true, Scalable: true, Restartable: true, List: "workloads"},
	"daemonset": {Name: "daemonset", Title: "DaemonSet", APIPath: "/apis/apps/v1", Resource: "daemonsets",
		Detail: true, Restartable: true, List: "workloads"},
	"pod": {Name: "pod", Title: "Pod", APIPath: "/api/v1", Resource: "pods", List: "pods"},
}

// listLimit is the most objects a page asks for in one list (memory stays bounded on a
// large cluster; the page says when the list was cut).
const listLimit = "500"

func listQuery() url.Values { return url.Values{"limit": {listLimit}} }

// listPath is the collection URL of a resource in ns ("" is all namespaces).
func listPath(apiPath, resource, ns string) string {
	if ns == "" {
		return apiPath + "/" + resource
	}
	return apiPath + "/namespaces/" + ns + "/" + resource
}

// objectPath is the URL of a named object; ns and name are validated names.
func (k kindInfo) objectPath(ns, name string) string {
	return listPath(k.APIPath, k.Resource, ns) + "/" + name
}

// detailURL is the relative URL of a workload's detail page.
func (k kindInfo) detailURL(ns, name string, extra ...string) string {
	q := url.Values{"ns": {ns}, "name": {name}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "./" + k.Name + "?" + q.Encode()
}

// validName reports whether s is a DNS-1123 subdomain (object and namespace names).
func validName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '.') && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return !strings.Contains(s, "..")
}
