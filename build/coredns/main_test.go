package main

import (
	"slices"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
)

// upstreamDirectives is CoreDNS's own execution order (zdirectives.go), taken before any test
// calls dnsserver.SetDirectives.
var upstreamDirectives = slices.Clone(dnsserver.Directives)

// The reduced list must keep upstream's relative order: a plugin sees only what runs after it.
func TestDirectivesKeepUpstreamOrder(t *testing.T) {
	i := 0
	for _, d := range directives {
		j := slices.Index(upstreamDirectives[i:], d)
		if j < 0 {
			if slices.Contains(upstreamDirectives, d) {
				t.Fatalf("directive %q is out of upstream's order %v", d, upstreamDirectives)
			}
			t.Fatalf("directive %q is not one of upstream's", d)
		}
		i += j + 1
	}
}

// Every directive must have its plugin linked in (the binary's -plugins lists the same).
func TestDirectivesHavePlugins(t *testing.T) {
	for _, d := range directives {
		if _, err := caddy.DirectiveAction("dns", d); err != nil {
			t.Errorf("directive %q: %v", d, err)
		}
	}
}
