package pki

import (
	"crypto/x509"
	"slices"
	"testing"
)

func TestEnsureNode(t *testing.T) {
	dir := t.TempDir()
	server, err := Ensure(Options{Dir: dir + "/server", ClusterDomain: "cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	nb, err := EnsureNode(NodeOptions{Dir: dir + "/agent", Server: server, NodeName: "pi-1", SANs: []string{"pi-1", "172.31.254.2"}})
	if err != nil {
		t.Fatal(err)
	}
	kubelet := readCertFile(t, nb.Kubelet.Cert)
	if kubelet.Subject.CommonName != "system:node:pi-1" || !slices.Equal(kubelet.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("kubelet client subject = %v", kubelet.Subject)
	}
	verify(t, kubelet, server.ClientCACert, x509.ExtKeyUsageClientAuth)
	serving := readCertFile(t, nb.KubeletServing.Cert)
	verify(t, serving, server.KubeletCACert, x509.ExtKeyUsageServerAuth)
	// Only the kubelet CA: a node's serving certificate never passes for the apiserver's.
	if _, err := serving.Verify(x509.VerifyOptions{Roots: poolOf(readCertFile(t, server.ServerCACert))}); err == nil {
		t.Error("the kubelet serving certificate verifies against the server CA")
	}
	if !slices.Contains(serving.DNSNames, "pi-1") || len(serving.IPAddresses) != 1 || serving.IPAddresses[0].String() != "172.31.254.2" {
		t.Errorf("kubelet serving SANs = %v %v", serving.DNSNames, serving.IPAddresses)
	}
	if cn := readCertFile(t, nb.KubeProxy.Cert).Subject.CommonName; cn != "system:kube-proxy" {
		t.Errorf("kube-proxy CN = %q", cn)
	}
	again, err := EnsureNode(NodeOptions{Dir: dir + "/agent", Server: server, NodeName: "pi-1", SANs: []string{"pi-1", "172.31.254.2"}})
	if err != nil || *again != *nb {
		t.Fatalf("second EnsureNode = %+v, %v", again, err)
	}
}

func verify(t *testing.T, cert *x509.Certificate, caFile string, usage x509.ExtKeyUsage) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(readCertFile(t, caFile))
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		t.Errorf("%s does not verify against %s: %v", cert.Subject.CommonName, caFile, err)
	}
}
