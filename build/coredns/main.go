// Command coredns is CoreDNS with only the plugins a cluster DNS needs. scripts/build-data.sh
// builds it into the archive edgek embeds (pkg/data); edgek turns it into the image its CoreDNS
// addon runs (manifests/coredns.yaml). The full upstream binary links every plugin (cloud
// backends, etcd, dnstap, QUIC, ...) and weighs ~79 MB; this one carries the plugins below.
//
// It is a module of its own so that CoreDNS's dependency versions (Kubernetes client libraries,
// grpc, prometheus) do not move the main module's.
package main

import (
	"fmt"
	"os"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The plugins, one per directive below (prometheus is package metrics).
	_ "github.com/coredns/coredns/plugin/acl"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/rewrite"
	_ "github.com/coredns/coredns/plugin/template"
)

// directives is the execution order of the plugins this binary carries (those of the cluster
// DNS, plus acl, bind, file, rewrite and template for the coredns-custom overrides K3s users
// write): upstream's order (core/dnsserver/zdirectives.go, generated from plugin.cfg) with every
// other plugin left out.
// The order matters (each plugin sees only what the ones after it do); main_test.go checks it
// against upstream's list.
var directives = []string{
	"reload",
	"bind",
	"ready",
	"health",
	"prometheus",
	"errors",
	"log",
	"loadbalance",
	"rewrite",
	"acl",
	"cache",
	"template",
	"hosts",
	"kubernetes",
	"file",
	"loop",
	"forward",
}

func main() {
	if err := dnsserver.SetDirectives(directives); err != nil {
		fmt.Fprintln(os.Stderr, "coredns:", err)
		os.Exit(1)
	}
	coremain.Run()
}
