package nodeidentity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certutil "k8s.io/client-go/util/cert"
)

func TestDecide(t *testing.T) {
	r := request{node: "pi", keyHash: "aa"}
	for _, tt := range []struct {
		name       string
		b          *binding
		nodeExists bool
		approve    bool
		claim      bool
		reason     string
	}{
		{"free name", nil, false, true, true, reasonBound},
		{"same machine", &binding{keyHash: "aa"}, false, true, false, reasonBound},
		{"same machine, node registered", &binding{keyHash: "aa", owned: true}, true, true, false, reasonBound},
		{"server's name", &binding{server: true}, false, false, false, reasonReserved},
		{"server's name, node registered", &binding{server: true}, true, false, false, reasonReserved},
		{"other machine's registered node", &binding{keyHash: "bb", owned: true}, true, false, false, reasonTaken},
		{"other machine, node not registered", &binding{keyHash: "bb"}, false, false, false, reasonTaken},
		{"other machine's node deleted", &binding{keyHash: "bb", owned: true}, false, true, true, reasonBound},
		{"node registered without binding", nil, true, false, false, reasonTaken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := decide(r, tt.b, tt.nodeExists)
			if v.approve != tt.approve || v.claim != tt.claim || v.reason != tt.reason || !strings.Contains(v.message, `"pi"`) {
				t.Errorf("decide = %+v, want approve %v claim %v reason %s", v, tt.approve, tt.claim, tt.reason)
			}
		})
	}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// kubeletCSR is a CertificateSigningRequest for a kubelet client certificate of subject cn,
// for a new key, vouched for by the identity key.
func kubeletCSR(t *testing.T, identity *ecdsa.PrivateKey, cn string, orgs ...string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	if orgs == nil {
		orgs = []string{"system:nodes"}
	}
	req, err := certutil.MakeCSR(newKey(t), &pkix.Name{CommonName: cn, Organization: orgs}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := Prove(identity, req)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Annotations: proof}, Spec: certificatesv1.CertificateSigningRequestSpec{
		Request:    req,
		SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
		Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
	}}
}

func TestParseRequest(t *testing.T) {
	key := newKey(t)
	hash := keyHash(t, key)
	good := kubeletCSR(t, key, "system:node:pi")
	r, err := parseRequest(good)
	if err != nil || r.node != "pi" || r.keyHash != hash {
		t.Fatalf("parseRequest = %+v, %v; want pi and the key's hash", r, err)
	}
	sans, err := certutil.MakeCSR(newKey(t), &pkix.Name{CommonName: "system:node:pi", Organization: []string{"system:nodes"}}, []string{"pi.example"}, []net.IP{net.ParseIP("10.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		change func(c *certificatesv1.CertificateSigningRequest)
		want   string
	}{
		{"not a node", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Request = kubeletCSR(t, key, "system:admin").Spec.Request
		}, "is not system:node:"},
		{"no node name", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Request = kubeletCSR(t, key, "system:node:").Spec.Request
		}, "is not system:node:"},
		{"masters", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Request = kubeletCSR(t, key, "system:node:pi", "system:nodes", "system:masters").Spec.Request
		}, "organization"},
		{"alternative names", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Request = sans
			c.Annotations, _ = Prove(key, sans)
		}, "alternative names"},
		{"no identity", func(c *certificatesv1.CertificateSigningRequest) { c.Annotations = nil }, "no node identity key"},
		{"proof of another request", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Request = kubeletCSR(t, key, "system:node:pi").Spec.Request
		}, "proof does not match"},
		{"proof by another key", func(c *certificatesv1.CertificateSigningRequest) {
			other := kubeletCSR(t, newKey(t), "system:node:pi")
			c.Annotations[AnnotationProof] = other.Annotations[AnnotationProof]
		}, "proof does not match"},
		{"server auth", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = append(c.Spec.Usages, certificatesv1.UsageServerAuth)
		}, "usage"},
		{"no client auth", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature}
		}, "client auth"},
		{"other signer", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.SignerName = certificatesv1.KubeAPIServerClientSignerName
		}, "signer"},
		{"not PEM", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = []byte("junk") }, "PEM"},
		{"signature", func(c *certificatesv1.CertificateSigningRequest) {
			block, _ := pem.Decode(c.Spec.Request)
			block.Bytes[len(block.Bytes)-1] ^= 0xff // the last byte of the signature
			c.Spec.Request = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: block.Bytes})
		}, "signature"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := good.DeepCopy()
			tt.change(c)
			if _, err := parseRequest(c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseRequest: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// keyHash is the hash a binding holds for an identity key.
func keyHash(t *testing.T, k *ecdsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// servingCSR is a node's kubelet serving certificate request, as requester user.
func servingCSR(t *testing.T, user, cn string, dns []string, ips []net.IP, usages ...certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	req, err := certutil.MakeCSR(newKey(t), &pkix.Name{CommonName: cn, Organization: []string{"system:nodes"}}, dns, ips)
	if err != nil {
		t.Fatal(err)
	}
	if usages == nil {
		usages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	}
	return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
		Request: req, SignerName: certificatesv1.KubeletServingSignerName, Usages: usages,
		Username: user, Groups: []string{"system:nodes", "system:authenticated"},
	}}
}

func TestServingVerdict(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "pi"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeHostName, Address: "pi"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.20"},
	}}}
	ip := []net.IP{net.ParseIP("192.168.1.20")}
	for _, tt := range []struct {
		name    string
		csr     *certificatesv1.CertificateSigningRequest
		node    *corev1.Node
		approve bool
		notYet  bool
		want    string
	}{
		{"own names", servingCSR(t, "system:node:pi", "system:node:pi", []string{"pi"}, ip), node, true, false, "names and addresses of node pi"},
		{"another node's", servingCSR(t, "system:node:pi", "system:node:gw", []string{"gw"}, nil), node, false, false, "for itself only"},
		{"not a node", servingCSR(t, "alice", "system:node:pi", []string{"pi"}, nil), node, false, false, "for itself only"},
		{"an address it does not report", servingCSR(t, "system:node:pi", "system:node:pi", []string{"pi"}, []net.IP{net.ParseIP("10.0.0.1")}), node, false, true, "does not report 10.0.0.1"},
		{"a DNS name not its own", servingCSR(t, "system:node:pi", "system:node:pi", []string{"kubernetes.default"}, ip), node, false, false, `DNS name "kubernetes.default"`},
		{"another node's address", servingCSR(t, "system:node:pi", "system:node:pi", []string{"pi"}, []net.IP{net.ParseIP("192.168.1.21")}), node, false, false, "is node gw's"},
		{"not registered", servingCSR(t, "system:node:pi", "system:node:pi", []string{"pi"}, ip), nil, false, true, ""},
		{"client auth", servingCSR(t, "system:node:pi", "system:node:pi", []string{"pi"}, ip, certificatesv1.UsageServerAuth, certificatesv1.UsageClientAuth), node, false, false, "usage"},
		{"no names", servingCSR(t, "system:node:pi", "system:node:pi", nil, nil), node, false, false, "names the node's host names"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gw := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gw"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.21"}}}}
			all := []*corev1.Node{gw}
			if tt.node != nil {
				all = append(all, tt.node)
			}
			v, err := servingVerdict(tt.csr, tt.node, all)
			if errors.Is(err, errNotYet) != tt.notYet || (err != nil && !tt.notYet) {
				t.Fatalf("err = %v, want not-yet %v", err, tt.notYet)
			}
			if v.approve != tt.approve || !strings.Contains(v.message, tt.want) {
				t.Errorf("verdict %+v, want approve %v and %q", v, tt.approve, tt.want)
			}
		})
	}
}
