package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnsureCreatesFilesWithModes(t *testing.T) {
	opts := testOptions(t)
	b := mustEnsure(t, opts)

	fi, err := os.Stat(opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %o, want 700", got)
	}
	tests := []struct {
		path string
		mode os.FileMode
	}{
		{b.ServerCACert, 0o644}, {b.ServerCAKey, 0o600},
		{b.ClientCACert, 0o644}, {b.ClientCAKey, 0o600},
		{b.RequestHeaderCACert, 0o644}, {b.RequestHeaderCAKey, 0o600},
		{b.KubeletCACert, 0o644}, {b.KubeletCAKey, 0o600},
		{b.ServiceAccountKey, 0o600}, {b.ServiceAccountPub, 0o644},
		{b.APIServerServingCert, 0o644}, {b.APIServerServingKey, 0o600}, {b.APIServerServingChain, 0o644},
		{b.SchedulerServing.Cert, 0o644}, {b.SchedulerServing.Key, 0o600},
		{b.ControllerManagerServing.Cert, 0o644}, {b.ControllerManagerServing.Key, 0o600},
		{b.Admin.Cert, 0o644}, {b.Admin.Key, 0o600},
		{b.Scheduler.Cert, 0o644}, {b.Scheduler.Key, 0o600},
		{b.ControllerManager.Cert, 0o644}, {b.ControllerManager.Key, 0o600},
		{b.APIServerKubeletClient.Cert, 0o644}, {b.APIServerKubeletClient.Key, 0o600},
		{b.AuthProxy.Cert, 0o644}, {b.AuthProxy.Key, 0o600},
		{b.MetricsServerServing.Cert, 0o644}, {b.MetricsServerServing.Key, 0o600},
		{b.MetricsServer.Cert, 0o644}, {b.MetricsServer.Key, 0o600},
	}
	for _, tt := range tests {
		if !filepath.IsAbs(tt.path) || filepath.Dir(tt.path) != opts.Dir {
			t.Errorf("path %q: want absolute path in %s", tt.path, opts.Dir)
			continue
		}
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if got := fi.Mode().Perm(); got != tt.mode {
			t.Errorf("%s: mode %o, want %o", filepath.Base(tt.path), got, tt.mode)
		}
	}
	if files := snapshot(t, opts.Dir); len(files) != len(tests) {
		t.Errorf("dir holds %d files, want %d (leftover temp files?)", len(files), len(tests))
	}
	chain, err := os.ReadFile(b.APIServerServingChain)
	if err != nil {
		t.Fatal(err)
	}
	leaf, rest := pem.Decode(chain)
	ca, _ := pem.Decode(rest)
	if leaf == nil || ca == nil || !bytes.Equal(pem.EncodeToMemory(ca), mustRead(t, b.ServerCACert)) {
		t.Errorf("serving chain is not the serving cert followed by the server CA:\n%s", chain)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnsureServingSANs(t *testing.T) {
	opts := testOptions(t)
	opts.SANs = []string{"", "Edge-1", "edge-1", "10.0.0.5", "10.0.0.5", "::1", "0:0::1", "localhost", " 192.168.1.2 ", "api.example.com"}
	opts.ClusterDomain = "edge.local"
	b := mustEnsure(t, opts)
	cert := readCertFile(t, b.APIServerServingCert)

	wantDNS := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.edge.local", "localhost", "edge-1", "api.example.com"}
	if !slices.Equal(cert.DNSNames, wantDNS) {
		t.Errorf("DNSNames = %q, want %q", cert.DNSNames, wantDNS)
	}
	var gotIPs []string
	for _, ip := range cert.IPAddresses {
		gotIPs = append(gotIPs, ip.String())
	}
	wantIPs := []string{"10.0.0.5", "::1", "192.168.1.2"}
	if !slices.Equal(gotIPs, wantIPs) {
		t.Errorf("IPAddresses = %q, want %q", gotIPs, wantIPs)
	}
}

func TestEnsureValidityAndKeys(t *testing.T) {
	opts := testOptions(t)
	b := mustEnsure(t, opts)
	caEnd := testNow.AddDate(10, 0, 0)
	leafEnd := testNow.Add(365 * 24 * time.Hour)
	tests := []struct {
		name      string
		pair      CertPair
		isCA      bool
		notAfter  time.Time
		cnPrefix  string
		keyUsages x509.KeyUsage
	}{
		{"server CA", CertPair{b.ServerCACert, b.ServerCAKey}, true, caEnd, "edgek-server-ca@", x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature},
		{"client CA", CertPair{b.ClientCACert, b.ClientCAKey}, true, caEnd, "edgek-client-ca@", x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature},
		{"request-header CA", CertPair{b.RequestHeaderCACert, b.RequestHeaderCAKey}, true, caEnd, "edgek-request-header-ca@", x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature},
		{"kubelet CA", CertPair{b.KubeletCACert, b.KubeletCAKey}, true, caEnd, "edgek-kubelet-ca@", x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature},
		{"serving", CertPair{b.APIServerServingCert, b.APIServerServingKey}, false, leafEnd, "kube-apiserver", x509.KeyUsageDigitalSignature},
		{"admin", b.Admin, false, leafEnd, "system:admin", x509.KeyUsageDigitalSignature},
		{"auth proxy", b.AuthProxy, false, leafEnd, "system:auth-proxy", x509.KeyUsageDigitalSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := readCertFile(t, tt.pair.Cert)
			if cert.IsCA != tt.isCA {
				t.Errorf("IsCA = %v, want %v", cert.IsCA, tt.isCA)
			}
			if !cert.NotBefore.Equal(time.Unix(0, 0)) {
				t.Errorf("NotBefore = %v, want the Unix epoch", cert.NotBefore)
			}
			if !cert.NotAfter.Equal(tt.notAfter) {
				t.Errorf("NotAfter = %v, want %v", cert.NotAfter, tt.notAfter)
			}
			if !strings.HasPrefix(cert.Subject.CommonName, tt.cnPrefix) {
				t.Errorf("CN = %q, want prefix %q", cert.Subject.CommonName, tt.cnPrefix)
			}
			if cert.KeyUsage != tt.keyUsages {
				t.Errorf("KeyUsage = %b, want %b", cert.KeyUsage, tt.keyUsages)
			}
			if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %v: want positive, at most 128 bits", cert.SerialNumber)
			}
			key, ok := readKeyFile(t, tt.pair.Key).(*ecdsa.PrivateKey)
			if !ok || key.Curve != elliptic.P256() {
				t.Fatalf("key: want ECDSA P-256")
			}
			if !keyMatches(cert.PublicKey, key) {
				t.Error("key does not match certificate")
			}
		})
	}
}

func TestEnsureServiceAccountKey(t *testing.T) {
	b := mustEnsure(t, testOptions(t))
	data, err := os.ReadFile(b.ServiceAccountKey)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "-----BEGIN RSA PRIVATE KEY-----") {
		t.Errorf("service.key is not an RSA PRIVATE KEY PEM")
	}
	key, ok := readKeyFile(t, b.ServiceAccountKey).(*rsa.PrivateKey)
	if !ok || key.N.BitLen() != 2048 {
		t.Fatal("service.key: want RSA 2048")
	}
	pubPEM, err := os.ReadFile(b.ServiceAccountPub)
	if err != nil {
		t.Fatal(err)
	}
	want, err := encodePublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if string(pubPEM) != string(want) {
		t.Error("service.pub is not the public key of service.key")
	}
}

func TestEnsureCertsVerify(t *testing.T) {
	b := mustEnsure(t, testOptions(t))
	server, client, rh := b.ServerCACert, b.ClientCACert, b.RequestHeaderCACert
	tests := []struct {
		name  string
		pair  CertPair
		ca    string
		usage x509.ExtKeyUsage
		cn    string
		orgs  []string
		host  string // a name a serving cert is for
	}{
		{"serving", CertPair{b.APIServerServingCert, b.APIServerServingKey}, server, x509.ExtKeyUsageServerAuth, "kube-apiserver", nil, "kubernetes.default.svc.cluster.local"},
		{"scheduler serving", b.SchedulerServing, server, x509.ExtKeyUsageServerAuth, "kube-scheduler", nil, "127.0.0.1"},
		{"controller-manager serving", b.ControllerManagerServing, server, x509.ExtKeyUsageServerAuth, "kube-controller-manager", nil, "localhost"},
		{"admin", b.Admin, client, x509.ExtKeyUsageClientAuth, "system:admin", []string{"system:masters"}, ""},
		{"scheduler", b.Scheduler, client, x509.ExtKeyUsageClientAuth, "system:kube-scheduler", nil, ""},
		{"controller-manager", b.ControllerManager, client, x509.ExtKeyUsageClientAuth, "system:kube-controller-manager", nil, ""},
		{"apiserver kubelet client", b.APIServerKubeletClient, client, x509.ExtKeyUsageClientAuth, "system:kube-apiserver", nil, ""},
		{"auth proxy", b.AuthProxy, rh, x509.ExtKeyUsageClientAuth, "system:auth-proxy", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := readCertFile(t, tt.pair.Cert)
			opts := x509.VerifyOptions{
				Roots:       poolOf(readCertFile(t, tt.ca)),
				CurrentTime: testNow,
				KeyUsages:   []x509.ExtKeyUsage{tt.usage},
			}
			if _, err := cert.Verify(opts); err != nil {
				t.Errorf("verify: %v", err)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{tt.usage}) {
				t.Errorf("ExtKeyUsage = %v, want [%v]", cert.ExtKeyUsage, tt.usage)
			}
			if cert.Subject.CommonName != tt.cn || !slices.Equal(cert.Subject.Organization, tt.orgs) {
				t.Errorf("subject = %v, want CN=%s O=%v", cert.Subject, tt.cn, tt.orgs)
			}
			if tt.usage == x509.ExtKeyUsageServerAuth {
				opts.DNSName = tt.host
				if _, err := cert.Verify(opts); err != nil {
					t.Errorf("verify for %s: %v", tt.host, err)
				}
			}
		})
	}
}

func TestEnsureReusesFiles(t *testing.T) {
	opts := testOptions(t)
	mustEnsure(t, opts)
	before := snapshot(t, opts.Dir)
	opts.Now = func() time.Time { return testNow.Add(24 * time.Hour) }
	mustEnsure(t, opts)
	if diff := changed(before, snapshot(t, opts.Dir)); len(diff) != 0 {
		t.Errorf("second Ensure changed %v", diff)
	}
}

func TestEnsureRegenerates(t *testing.T) {
	tests := []struct {
		name        string
		change      func(t *testing.T, opts *Options, b *Bundle)
		wantChanged []string
	}{
		{
			name: "added SAN renews only the serving cert",
			change: func(t *testing.T, opts *Options, b *Bundle) {
				opts.SANs = append(opts.SANs, "new.example.com", "10.0.0.9")
			},
			wantChanged: []string{"serving-kube-apiserver.crt", "serving-kube-apiserver-chain.crt"},
		},
		{
			name: "leaf near expiry is renewed, CAs are not",
			change: func(t *testing.T, opts *Options, b *Bundle) {
				opts.Now = func() time.Time { return testNow.Add(300 * 24 * time.Hour) }
			},
			wantChanged: []string{"serving-kube-apiserver.crt", "serving-kube-apiserver-chain.crt", "serving-kube-scheduler.crt",
				"serving-kube-controller-manager.crt", "client-admin.crt", "client-kube-scheduler.crt",
				"client-kube-controller-manager.crt", "client-kube-apiserver.crt", "client-auth-proxy.crt",
				"serving-metrics-server.crt", "client-metrics-server.crt"},
		},
		{
			name: "deleted leaf key gets a new key and cert",
			change: func(t *testing.T, opts *Options, b *Bundle) {
				if err := os.Remove(b.Scheduler.Key); err != nil {
					t.Fatal(err)
				}
			},
			wantChanged: []string{"client-kube-scheduler.crt", "client-kube-scheduler.key"},
		},
		{
			name: "leaf signed by another CA is reissued with its key",
			change: func(t *testing.T, opts *Options, b *Bundle) {
				other := testOptions(t)
				ob := mustEnsure(t, other)
				copyFile(t, ob.Admin.Cert, b.Admin.Cert)
				copyFile(t, ob.Admin.Key, b.Admin.Key)
			},
			wantChanged: []string{"client-admin.crt", "client-admin.key"},
		},
		{
			name: "deleted service.pub is rewritten identically",
			change: func(t *testing.T, opts *Options, b *Bundle) {
				if err := os.Remove(b.ServiceAccountPub); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(t)
			b := mustEnsure(t, opts)
			before := snapshot(t, opts.Dir)
			tt.change(t, &opts, b)
			b = mustEnsure(t, opts)
			after := snapshot(t, opts.Dir)
			got := changed(before, after)
			for _, name := range tt.wantChanged {
				if !got[name] {
					t.Errorf("%s not regenerated", name)
				}
				delete(got, name)
			}
			if len(got) != 0 {
				t.Errorf("unexpected changes: %v", got)
			}
			now := opts.now()
			for _, p := range []CertPair{b.Admin, b.Scheduler, {b.APIServerServingCert, b.APIServerServingKey}} {
				cert := readCertFile(t, p.Cert)
				if cert.NotAfter.Sub(now) < RenewBefore || !keyMatches(cert.PublicKey, readKeyFile(t, p.Key)) {
					t.Errorf("%s: not a current cert for its key", filepath.Base(p.Cert))
				}
			}
			if !hasAllSANs(readCertFile(t, b.APIServerServingCert), nil, []net.IP{net.ParseIP("127.0.0.1")}) {
				t.Error("serving cert lost a SAN")
			}
		})
	}
}

func TestEnsureHalfPresentCA(t *testing.T) {
	tests := []struct{ remove, wantInErr string }{
		{"server-ca.key", "server-ca.key is missing"},
		{"server-ca.crt", "server-ca.crt is missing"},
		{"client-ca.key", "client-ca.key is missing"},
		{"request-header-ca.crt", "request-header-ca.crt is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.remove, func(t *testing.T) {
			opts := testOptions(t)
			b := mustEnsure(t, opts)
			// Make every leaf due for renewal, so a wrongly written file shows up.
			opts.Now = func() time.Time { return testNow.Add(300 * 24 * time.Hour) }
			for _, p := range []string{filepath.Join(opts.Dir, tt.remove), b.Admin.Key, b.ServiceAccountPub} {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, opts.Dir)
			_, err := Ensure(opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Ensure error = %v, want it to contain %q", err, tt.wantInErr)
			}
			if diff := changed(before, snapshot(t, opts.Dir)); len(diff) != 0 {
				t.Errorf("failed Ensure changed %v", diff)
			}
		})
	}
}

func TestEnsureRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no dir", Options{ClusterDomain: "cluster.local"}},
		{"no cluster domain", Options{Dir: t.TempDir()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Ensure(tt.opts); err == nil {
				t.Error("Ensure succeeded, want error")
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
