// Package checkconfig tells whether this host can run edgek (`edgek check-config`): kernel
// version, cgroups, namespaces, kernel features and the few host programs edgek needs.
// It reads the kernel through /proc and /sys only and changes nothing.
package checkconfig

import (
	"fmt"
	"io"
)

// Check is one line of the report.
type Check struct {
	// Name says what was checked ("cgroup version", "kernel feature vxlan").
	Name string
	// OK is true when the check passed.
	OK bool
	// Required is true when edgek cannot work without it. A check that is neither OK nor
	// Required is a warning.
	Required bool
	// Detail is what was found.
	Detail string
	// Fix says how to fix a failed check, in one line. Empty when there is nothing to do.
	Fix string
}

// Report is the result of Run, in the order the checks were made.
type Report struct {
	Checks []Check
}

// Failed reports whether a required check did not pass.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Required && !c.OK {
			return true
		}
	}
	return false
}

// counts returns the number of passed, warning and failed checks.
func (r Report) counts() (ok, warn, failed int) {
	for _, c := range r.Checks {
		switch {
		case c.OK:
			ok++
		case c.Required:
			failed++
		default:
			warn++
		}
	}
	return ok, warn, failed
}

// Write prints the report as one line per check ("✓" passed, "!" warning, "✗" failed,
// followed by the fix when there is one) and a summary line.
func (r Report) Write(w io.Writer) {
	for _, c := range r.Checks {
		mark := "✓"
		switch {
		case c.OK:
		case c.Required:
			mark = "✗"
		default:
			mark = "!"
		}
		line := mark + " " + c.Name
		if c.Detail != "" {
			line += ": " + c.Detail
		}
		if !c.OK && c.Fix != "" {
			line += " (fix: " + c.Fix + ")"
		}
		fmt.Fprintln(w, line)
	}
	ok, warn, failed := r.counts()
	verdict := "edgek can run on this host"
	if failed > 0 {
		verdict = "edgek cannot run on this host until the checks marked ✗ are fixed"
	} else if warn > 0 {
		verdict += "; see the warnings marked !"
	}
	fmt.Fprintf(w, "\n%d checks: %d passed, %s, %d failed: %s\n", len(r.Checks), ok, plural(warn, "warning"), failed, verdict)
}

// Run makes every check against env. Empty fields of env take DefaultEnv's values.
func Run(env Env) Report {
	h := newHost(env)
	var r Report
	add := func(cs ...Check) { r.Checks = append(r.Checks, cs...) }
	add(h.checkKernelVersion())
	add(h.checkCgroups()...)
	add(h.checkNamespaces()...)
	backend := h.iptablesBackend()
	add(h.checkKernelFeatures(backend)...)
	add(h.checkSysctls()...)
	add(h.checkTools(backend)...)
	add(Check{
		Name: "bundled runtime", OK: true,
		Detail: "runc, containerd, its shim and the CNI plugins (bridge, host-local, loopback, portmap; flannel runs in edgek itself) are inside edgek; no host packages needed",
	})
	return r
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
