// Package pki creates and maintains the certificate authorities, keys,
// certificates, kubeconfigs and join token of an edgek server.
//
// Everything here is a function over paths. Ensure creates what is missing in
// a directory and reuses what is there, so it is safe to call at every start:
// CAs and the service-account key are never regenerated, leaf certificates are
// renewed when they no longer verify, are close to expiry or lack a requested
// name. Every file is written atomically (temp file, fsync, rename).
package pki

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/edgek-io/edgek/pkg/version"
)

// MetricsServerName is the DNS name of the metrics API behind the apiserver's aggregator
// (the Service kube-system/metrics-server), which its serving certificate must carry.
const MetricsServerName = "metrics-server.kube-system.svc"

// Options describes the certificates a server needs. Built once by the caller.
type Options struct {
	// Dir holds every file Ensure produces, e.g. <data-dir>/server/tls.
	// Created 0700 if missing. Required.
	Dir string
	// SANs are extra names for the apiserver serving certificate: strings that
	// parse as an IP become IP SANs, the rest DNS SANs. Empty strings and
	// duplicates are ignored.
	SANs []string
	// ClusterDomain is the cluster DNS domain, e.g. "cluster.local". Required.
	ClusterDomain string
	// Now returns the current time. Default (nil): time.Now.
	Now func() time.Time
	// BuildTime is a time the clock cannot really be before (see clock.go). Default (zero):
	// version.BuildTime(), when this edgek was built.
	BuildTime time.Time
	// Log receives the warnings about a wrong clock and the renewals. Default (nil): none.
	Log *slog.Logger
}

// Bundle holds the absolute paths of everything Ensure produced.
type Bundle struct {
	// ServerCACert and ServerCAKey are the cluster CA that signs serving certs.
	ServerCACert, ServerCAKey string
	// ClientCACert and ClientCAKey are the CA that signs client certs.
	ClientCACert, ClientCAKey string
	// RequestHeaderCACert and RequestHeaderCAKey are the front-proxy CA.
	RequestHeaderCACert, RequestHeaderCAKey string
	// KubeletCACert and KubeletCAKey sign kubelets' serving certificates, and nothing else:
	// the apiserver trusts it for kubelets only, so a certificate a node obtains for the
	// names it reports can never pass for the apiserver's.
	KubeletCACert, KubeletCAKey string
	// ServiceAccountKey is an RSA 2048 private key (PKCS#1 PEM) that signs
	// service-account tokens; ServiceAccountPub is its public key (PKIX PEM).
	ServiceAccountKey string
	ServiceAccountPub string
	// APIServerServingCert and APIServerServingKey are the apiserver's
	// serving cert (signed by the server CA, ExtKeyUsage ServerAuth).
	APIServerServingCert, APIServerServingKey string
	// APIServerServingChain is the serving certificate followed by the server CA: the
	// apiserver presents the chain so that a joining agent can pin the CA by its hash.
	APIServerServingChain string
	// SchedulerServing and ControllerManagerServing are the serving certs of the
	// kube-scheduler and kube-controller-manager (signed by the server CA, for 127.0.0.1 and
	// localhost, where they listen): edgek checks their health against the CA.
	SchedulerServing, ControllerManagerServing CertPair
	// MetricsServerServing is the serving cert of the metrics API (pkg/metricsserver), for
	// the name the apiserver's aggregator checks: metrics-server.kube-system.svc.
	MetricsServerServing CertPair

	// Client certs signed by the client CA (ExtKeyUsage ClientAuth).

	Admin                  CertPair // CN=system:admin, O=system:masters
	Scheduler              CertPair // CN=system:kube-scheduler
	ControllerManager      CertPair // CN=system:kube-controller-manager
	APIServerKubeletClient CertPair // CN=system:kube-apiserver, no group (apiserver -> kubelet; RBAC: system:kubelet-api-admin)
	MetricsServer          CertPair // CN=system:metrics-server (reads kubelets' metrics; RBAC: manifests/metrics-server.yaml)

	// AuthProxy is signed by the request-header CA (ExtKeyUsage ClientAuth).
	AuthProxy CertPair // CN=system:auth-proxy
}

// CertPair is the path of a certificate and of its private key.
type CertPair struct{ Cert, Key string }

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// clockDefaults fills in the defaults of the clock-related options.
func clockDefaults(now func() time.Time, build time.Time, log *slog.Logger) (time.Time, time.Time, *slog.Logger) {
	t := time.Now()
	if now != nil {
		t = now()
	}
	if build.IsZero() {
		build = version.BuildTime()
	}
	if log == nil {
		log = discardLog
	}
	return t, build, log
}

func (o Options) validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("Dir must be set"))
	}
	if o.ClusterDomain == "" {
		errs = append(errs, errors.New("ClusterDomain must be set"))
	}
	return errors.Join(errs...)
}

// Ensure creates missing CAs, keys and certificates in opts.Dir and reuses
// existing ones. A CA whose cert or key alone is present is an error: Ensure
// then writes nothing rather than replace a CA clients may trust.
func Ensure(opts Options) (*Bundle, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("pki options: %w", err)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve pki dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki dir: %w", err)
	}
	if err := checkCAPairs(dir, serverCAName, clientCAName, requestHeaderCAName, kubeletCAName); err != nil {
		return nil, err
	}
	now, build, log := clockDefaults(opts.Now, opts.BuildTime, opts.Log)
	clk, err := loadClock(dir, now, build, log)
	if err != nil {
		return nil, err
	}
	cas := make(map[string]*authority, 4)
	for _, name := range []string{serverCAName, clientCAName, requestHeaderCAName, kubeletCAName} {
		if cas[name], err = ensureCA(dir, name, clk); err != nil {
			return nil, err
		}
		warnCAClock(cas[name], clk, log)
	}
	b := &Bundle{}
	b.ServerCACert, b.ServerCAKey = cas[serverCAName].certPath, cas[serverCAName].keyPath
	b.ClientCACert, b.ClientCAKey = cas[clientCAName].certPath, cas[clientCAName].keyPath
	b.RequestHeaderCACert, b.RequestHeaderCAKey = cas[requestHeaderCAName].certPath, cas[requestHeaderCAName].keyPath
	b.KubeletCACert, b.KubeletCAKey = cas[kubeletCAName].certPath, cas[kubeletCAName].keyPath
	if b.ServiceAccountKey, b.ServiceAccountPub, err = ensureServiceAccountKey(dir); err != nil {
		return nil, err
	}
	var serving CertPair
	for _, l := range leafSpecs(opts, cas, b, &serving) {
		if *l.out, err = ensureLeaf(dir, l.spec, clk, log); err != nil {
			return nil, err
		}
	}
	b.APIServerServingCert, b.APIServerServingKey = serving.Cert, serving.Key
	if b.APIServerServingChain, err = writeChain(dir, serving.Cert, b.ServerCACert); err != nil {
		return nil, err
	}
	return b, nil
}

// leafTarget pairs a leaf certificate with where its paths go.
type leafTarget struct {
	spec leafSpec
	out  *CertPair
}

// leafSpecs lists every leaf certificate of a server.
func leafSpecs(opts Options, cas map[string]*authority, b *Bundle, serving *CertPair) []leafTarget {
	dns, ips := servingSANs(opts.SANs, opts.ClusterDomain)
	server, client, rh := cas[serverCAName], cas[clientCAName], cas[requestHeaderCAName]
	masters := []string{"system:masters"}
	local, loopback := []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1).To4()}
	return []leafTarget{
		{leafSpec{name: "serving-kube-apiserver", ca: server, cn: "kube-apiserver", server: true, dns: dns, ips: ips}, serving},
		{leafSpec{name: "serving-kube-scheduler", ca: server, cn: "kube-scheduler", server: true, dns: local, ips: loopback}, &b.SchedulerServing},
		{leafSpec{name: "serving-kube-controller-manager", ca: server, cn: "kube-controller-manager", server: true, dns: local, ips: loopback}, &b.ControllerManagerServing},
		{leafSpec{name: "client-admin", ca: client, cn: "system:admin", orgs: masters}, &b.Admin},
		{leafSpec{name: "client-kube-scheduler", ca: client, cn: "system:kube-scheduler"}, &b.Scheduler},
		{leafSpec{name: "client-kube-controller-manager", ca: client, cn: "system:kube-controller-manager"}, &b.ControllerManager},
		// Least privilege: the kubelets' API, bound by pkg/server/bootstrap, not cluster-admin.
		{leafSpec{name: "client-kube-apiserver", ca: client, cn: "system:kube-apiserver"}, &b.APIServerKubeletClient},
		{leafSpec{name: "client-auth-proxy", ca: rh, cn: "system:auth-proxy"}, &b.AuthProxy},
		{leafSpec{name: "serving-metrics-server", ca: server, cn: "metrics-server", server: true, dns: []string{MetricsServerName}}, &b.MetricsServerServing},
		{leafSpec{name: "client-metrics-server", ca: client, cn: "system:metrics-server"}, &b.MetricsServer},
	}
}
