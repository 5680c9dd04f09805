package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The tests below serve the Corefile of manifests/coredns.yaml (ports and paths moved to the
// test's) against a fake Kubernetes API and a fake upstream resolver, then ask it for a
// Service, a node name, an outside name and a name from a coredns-custom server block.

// TestServe runs CoreDNS in the test process, with this binary's plugins and directives.
func TestServe(t *testing.T) {
	env := newServeEnv(t)
	if err := dnsserver.SetDirectives(directives); err != nil {
		t.Fatal(err)
	}
	inst, err := caddy.Start(caddy.CaddyfileInput{Contents: []byte(env.corefile), Filepath: env.corefilePath, ServerTypeName: "dns"})
	if err != nil {
		t.Fatalf("start CoreDNS: %v\nCorefile:\n%s", err, env.corefile)
	}
	t.Cleanup(func() {
		inst.ShutdownCallbacks()
		_ = inst.Stop()
	})
	env.check(t)
}

// TestBinary does the same with a built binary: COREDNS_BIN=/path/to/coredns go test -run Binary
// (`make unit` passes the one scripts/build-data.sh built). It logs the process's memory after
// the queries.
func TestBinary(t *testing.T) {
	bin := os.Getenv("COREDNS_BIN")
	if bin == "" {
		t.Skip("COREDNS_BIN not set")
	}
	env := newServeEnv(t)
	var out bytes.Buffer
	cmd := exec.Command(bin, "-conf", env.corefilePath)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("coredns output:\n%s", out.String())
		}
	})
	env.check(t)
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	rollup, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", cmd.Process.Pid))
	for _, line := range strings.Split(string(status)+string(rollup), "\n") {
		if strings.HasPrefix(line, "VmRSS") || strings.HasPrefix(line, "VmHWM") || strings.HasPrefix(line, "Pss:") ||
			strings.HasPrefix(line, "Pss_Anon") || strings.HasPrefix(line, "Pss_File") {
			t.Log(line)
		}
	}
}

type serveEnv struct {
	corefile, corefilePath string
	dnsAddr                string
	health, ready, metrics string // host:port
}

func newServeEnv(t *testing.T) *serveEnv {
	t.Helper()
	dir := t.TempDir()
	api := httptest.NewServer(fakeAPI(t))
	t.Cleanup(func() { api.CloseClientConnections(); api.Close() })
	upstream := fakeUpstream(t)

	dnsPort := freePort(t)
	env := &serveEnv{
		dnsAddr: fmt.Sprintf("127.0.0.1:%d", dnsPort),
		health:  fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		ready:   fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		metrics: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("NodeHosts", "192.0.2.10 node1\n")
	write("custom/test.server", fmt.Sprintf("custom.test:%d {\n    hosts {\n        192.0.2.20 x.custom.test\n    }\n}\n", dnsPort))
	// An override as K3s users write them: an alias for a Service, with the rewrite plugin.
	write("custom/alias.override", "rewrite name exact registry.local. web.default.svc.cluster.local.\n")

	corefile := decode(t, render(t, sample)).cm.Data["Corefile"]
	for _, r := range []struct{ old, new string }{
		{".:5353 {", fmt.Sprintf(".:%d {", dnsPort)},
		{"health {", "health " + env.health + " {"},
		{"\n    ready\n", "\n    ready " + env.ready + "\n"},
		{"ip6.arpa {\n", "ip6.arpa {\n        endpoint " + api.URL + "\n"},
		{"prometheus :9153", "prometheus " + env.metrics},
		{"/etc/resolv.conf", upstream}, // a resolv.conf cannot name a port
		{"/etc/coredns/NodeHosts", filepath.Join(dir, "NodeHosts")},
		{"/etc/coredns/custom/", filepath.Join(dir, "custom") + "/"},
	} {
		if !strings.Contains(corefile, r.old) {
			t.Fatalf("Corefile has no %q to replace:\n%s", r.old, corefile)
		}
		corefile = strings.ReplaceAll(corefile, r.old, r.new)
	}
	env.corefile = corefile
	env.corefilePath = write("Corefile", corefile)
	return env
}

func (e *serveEnv) check(t *testing.T) {
	t.Helper()
	// Ready once the kubernetes plugin has synced (CoreDNS itself waits up to 5 s for it).
	deadline := time.Now().Add(20 * time.Second)
	for !httpOK(e.ready, "/ready") {
		if time.Now().After(deadline) {
			t.Fatalf("/ready on %s not OK", e.ready)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// /ready can answer a moment before the DNS listeners are up (CoreDNS starts them after its
	// plugins' start-up hooks).
	for {
		m := new(dns.Msg).SetQuestion("node1.", dns.TypeA)
		if _, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, e.dnsAddr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DNS answer on %s", e.dnsAddr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !httpOK(e.health, "/health") {
		t.Errorf("/health on %s not OK", e.health)
	}
	for _, q := range []struct {
		name  string
		qtype uint16
		net   string
		want  string // the answer's data; "" for NXDOMAIN
	}{
		{"web.default.svc.cluster.local.", dns.TypeA, "udp", "10.43.0.99"}, // kubernetes
		{"web.default.svc.cluster.local.", dns.TypeA, "tcp", "10.43.0.99"}, // over TCP
		{"99.0.43.10.in-addr.arpa.", dns.TypePTR, "udp", "web.default.svc.cluster.local."},
		{"nope.default.svc.cluster.local.", dns.TypeA, "udp", ""}, // authoritative
		{"node1.", dns.TypeA, "udp", "192.0.2.10"},                // NodeHosts
		{"example.org.", dns.TypeA, "udp", "192.0.2.1"},           // forward
		{"x.custom.test.", dns.TypeA, "udp", "192.0.2.20"},        // coredns-custom server block
		{"registry.local.", dns.TypeA, "udp", "10.43.0.99"},       // coredns-custom override
	} {
		m := new(dns.Msg).SetQuestion(q.name, q.qtype)
		r, _, err := (&dns.Client{Net: q.net, Timeout: 5 * time.Second}).Exchange(m, e.dnsAddr)
		if err != nil {
			t.Errorf("%s %s: %v", q.name, q.net, err)
			continue
		}
		got := ""
		if len(r.Answer) > 0 {
			switch rr := r.Answer[0].(type) {
			case *dns.A:
				got = rr.A.String()
			case *dns.PTR:
				got = rr.Ptr
			}
		}
		if q.want == "" && r.Rcode != dns.RcodeNameError || q.want != "" && got != q.want {
			t.Errorf("%s %s %s: rcode %s, answer %q, want %q", q.name, dns.TypeToString[q.qtype], q.net, dns.RcodeToString[r.Rcode], got, q.want)
		}
	}
	body := httpGet(t, e.metrics, "/metrics")
	if !strings.Contains(body, "coredns_dns_requests_total") {
		t.Errorf("/metrics lacks coredns_dns_requests_total")
	}
}

func httpOK(hostport, path string) bool {
	resp, err := http.Get("http://" + hostport + path)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func httpGet(t *testing.T, hostport, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + hostport + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1 (at the time of asking).
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// fakeUpstream answers example.org A with 192.0.2.1 and NXDOMAIN to everything else, over UDP.
func fakeUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		if q := req.Question[0]; q.Name == "example.org." && q.Qtype == dns.TypeA {
			rr, _ := dns.NewRR("example.org. 60 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// fakeAPI serves what the kubernetes plugin lists and watches: a Service default/web
// (10.43.0.99), its EndpointSlice, and the namespaces default and kube-system. Watches send the
// objects as initial events when asked (the WatchList protocol) and then stay open.
func fakeAPI(t *testing.T) http.Handler {
	meta := func(ns, name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "1", UID: types.UID("uid-" + ns + "-" + name)}
	}
	svc := corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta("default", "web"),
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.43.0.99", ClusterIPs: []string{"10.43.0.99"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	ready := true
	slice := discoveryv1.EndpointSlice{
		TypeMeta:    metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  meta("default", "web-abcde"),
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(80)), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	slice.Labels = map[string]string{discoveryv1.LabelServiceName: "web"}
	ns := func(name string) corev1.Namespace {
		return corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: meta("", name)}
	}
	type resource struct {
		apiVersion, kind string
		items            []any
	}
	resources := map[string]resource{
		"/api/v1/services":                         {"v1", "Service", []any{svc}},
		"/apis/discovery.k8s.io/v1/endpointslices": {"discovery.k8s.io/v1", "EndpointSlice", []any{slice}},
		"/api/v1/namespaces":                       {"v1", "Namespace", []any{ns("default"), ns("kube-system")}},
		"/api/v1/pods":                             {"v1", "Pod", nil},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, ok := resources[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		q := r.URL.Query()
		if q.Get("watch") != "true" && q.Get("watch") != "1" {
			items := res.items
			if items == nil {
				items = []any{}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{
				"apiVersion": res.apiVersion, "kind": res.kind + "List",
				"metadata": map[string]string{"resourceVersion": "1"}, "items": items,
			})
			return
		}
		enc := json.NewEncoder(w)
		if q.Get("sendInitialEvents") == "true" {
			for _, it := range res.items {
				_ = enc.Encode(map[string]any{"type": "ADDED", "object": it})
			}
			_ = enc.Encode(map[string]any{"type": "BOOKMARK", "object": map[string]any{
				"apiVersion": res.apiVersion, "kind": res.kind,
				"metadata": map[string]any{"resourceVersion": "1", "annotations": map[string]string{"k8s.io/initial-events-end": "true"}},
			}})
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
}

func ptr[T any](v T) *T { return &v }
