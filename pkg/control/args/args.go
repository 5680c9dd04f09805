// Package args builds the command lines of the upstream Kubernetes components: edgek's own
// defaults, overridden key by key by the user's --kube-*-arg values.
package args

import (
	"slices"
	"strings"
)

// Build returns "--key=value" arguments, sorted by key. A key the user gives in extra (as
// "key=value" or "--key=value") replaces edgek's default for that key; a key the user gives
// several times is passed several times, in the user's order (for repeatable flags).
func Build(defaults map[string]string, extra []string) []string {
	user := map[string][]string{}
	for _, e := range extra {
		k, v, _ := strings.Cut(strings.TrimLeft(e, "-"), "=")
		user[k] = append(user[k], v)
	}
	keys := make([]string, 0, len(defaults)+len(user))
	for k := range defaults {
		keys = append(keys, k)
	}
	for k := range user {
		if _, ok := defaults[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if vs, ok := user[k]; ok {
			for _, v := range vs {
				out = append(out, "--"+k+"="+v)
			}
			continue
		}
		out = append(out, "--"+k+"="+defaults[k])
	}
	return out
}
