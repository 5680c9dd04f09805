package nodeidentity

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/edgek-io/edgek/test/testutil"
)

const bootstrapGroup = "system:bootstrappers:edgek"

// fakeCluster is a fake apiserver in which created CSRs get a name and a UID, and the
// requester's groups, as the apiserver would give them.
type fakeCluster struct {
	*fake.Clientset
	groups atomic.Value // []string of the next requester
	user   atomic.Value // string: the next requester
	n      atomic.Int32
}

func newFakeCluster(t *testing.T, objs ...runtime.Object) *fakeCluster {
	c := &fakeCluster{Clientset: fake.NewClientset(objs...)}
	c.groups.Store([]string{"system:bootstrappers", bootstrapGroup, "system:authenticated"})
	c.user.Store("system:bootstrap:abcdef")
	c.PrependReactor("create", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		csr := a.(k8stesting.CreateAction).GetObject().(*certificatesv1.CertificateSigningRequest)
		n := c.n.Add(1)
		if csr.Name == "" {
			csr.Name = fmt.Sprintf("%s%d", csr.GenerateName, n)
		}
		csr.UID = types.UID(fmt.Sprint("uid-", n))
		csr.Spec.Username = c.user.Load().(string)
		csr.Spec.Groups = c.groups.Load().([]string)
		return false, nil, nil
	})
	return c
}

// runApprover runs an Approver on c with a clock that now returns, until the test ends.
func runApprover(t *testing.T, c *fakeCluster, now *atomic.Pointer[time.Time]) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	a := &Approver{Client: c, Group: bootstrapGroup, ServerNodes: []string{"server"},
		Log: testutil.DiscardLogger(), Now: func() time.Time { return *now.Load() }}
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("approver: %v", err)
		}
	})
}

// submit creates a CSR for node made with key and returns the condition it gets.
func submit(t *testing.T, c *fakeCluster, key *ecdsa.PrivateKey, node string) certificatesv1.CertificateSigningRequestCondition {
	t.Helper()
	csr := kubeletCSR(t, key, "system:node:"+node)
	csr.GenerateName = "node-csr-"
	created, err := c.CertificatesV1().CertificateSigningRequests().Create(t.Context(), csr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got, err := c.CertificatesV1().CertificateSigningRequests().Get(t.Context(), created.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Status.Conditions) > 0 {
			return got.Status.Conditions[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("CSR for %s was not judged", node)
	return certificatesv1.CertificateSigningRequestCondition{}
}

func bindingOf(t *testing.T, c *fakeCluster, node string) *corev1.Secret {
	t.Helper()
	s, err := c.CoreV1().Secrets("kube-system").Get(t.Context(), node+".node-identity.edgek", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("binding of %s: %v", node, err)
	}
	return s
}

func TestApprover(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var now atomic.Pointer[time.Time]
	now.Store(&start)
	// A server renamed from "old-server": its old name is freed.
	oldServer := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "old-server.node-identity.edgek", Namespace: "kube-system", Labels: map[string]string{"app.kubernetes.io/managed-by": "edgek"}},
		Type:       secretType, Data: map[string][]byte{"role": []byte("server")},
	}
	c := newFakeCluster(t, oldServer)
	runApprover(t, c, &now)
	keyA, keyB := newKey(t), newKey(t)
	hashA, hashB := keyHash(t, keyA), keyHash(t, keyB)
	expect := func(step string, got certificatesv1.CertificateSigningRequestCondition, typ certificatesv1.RequestConditionType, reason string) {
		t.Helper()
		if got.Type != typ || got.Reason != reason {
			t.Errorf("%s: %s %s (%s), want %s %s", step, got.Type, got.Reason, got.Message, typ, reason)
		}
	}

	expect("first machine claims pi", submit(t, c, keyA, "pi"), certificatesv1.CertificateApproved, reasonBound)
	if got := string(bindingOf(t, c, "pi").Data["public-key-sha256"]); got != hashA {
		t.Errorf("pi bound to %q, want machine A's key %q", got, hashA)
	}
	if _, err := c.CoreV1().Secrets("kube-system").Get(t.Context(), oldServer.Name, metav1.GetOptions{}); err == nil {
		t.Error("the former server name is still reserved")
	}
	expect("another machine before A registers", submit(t, c, keyB, "pi"), certificatesv1.CertificateDenied, reasonTaken)
	expect("the server's name", submit(t, c, keyB, "server"), certificatesv1.CertificateDenied, reasonReserved)
	expect("machine A again", submit(t, c, keyA, "pi"), certificatesv1.CertificateApproved, reasonBound)
	expect("not a DNS name", submit(t, c, keyB, "Pi_1"), certificatesv1.CertificateDenied, reasonInvalid)

	// A registers its node, which then owns the binding.
	node, err := c.CoreV1().Nodes().Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "node-uid"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the node owns its binding", func() bool {
		refs := bindingOf(t, c, "pi").OwnerReferences
		return len(refs) == 1 && refs[0].Kind == "Node" && refs[0].UID == node.UID
	})
	later := start.Add(time.Hour)
	now.Store(&later)
	expect("another machine, node registered", submit(t, c, keyB, "pi"), certificatesv1.CertificateDenied, reasonTaken)

	// The node is deleted (the garbage collector has not removed the binding yet).
	if err := c.CoreV1().Nodes().Delete(t.Context(), "pi", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("another machine, node deleted", submit(t, c, keyB, "pi"), certificatesv1.CertificateApproved, reasonBound)
	b := bindingOf(t, c, "pi")
	if string(b.Data["public-key-sha256"]) != hashB || len(b.OwnerReferences) != 0 {
		t.Errorf("after the take-over pi is bound to %q owned by %v, want machine B's key, no owner", b.Data["public-key-sha256"], b.OwnerReferences)
	}
	expect("machine A after the take-over", submit(t, c, keyA, "pi"), certificatesv1.CertificateDenied, reasonTaken)

	// Requests of others (a node renewing its certificate) are left to the controller-manager.
	c.groups.Store([]string{"system:nodes", "system:authenticated"})
	csr := kubeletCSR(t, keyB, "system:node:pi")
	csr.Name = "renewal"
	if _, err := c.CertificatesV1().CertificateSigningRequests().Create(t.Context(), csr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Judged in order: once a later request is judged, this one was seen and left alone.
	c.groups.Store([]string{bootstrapGroup})
	submit(t, c, keyB, "pi")
	got, _ := c.CertificatesV1().CertificateSigningRequests().Get(t.Context(), "renewal", metav1.GetOptions{})
	if len(got.Status.Conditions) != 0 {
		t.Errorf("a node's own renewal was judged: %v", got.Status.Conditions)
	}

	// A node's kubelet serving certificate, for the names and addresses it reports.
	gw := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gw"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeHostName, Address: "gw"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.21"},
	}}}
	if _, err := c.CoreV1().Nodes().Create(t.Context(), gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.user.Store("system:node:gw")
	c.groups.Store([]string{"system:nodes", "system:authenticated"})
	serving := servingCSR(t, "", "system:node:gw", []string{"gw"}, []net.IP{net.ParseIP("192.168.1.21")})
	serving.Name = "serving-gw"
	serving.CreationTimestamp = metav1.NewTime(later)
	if _, err := c.CertificatesV1().CertificateSigningRequests().Create(t.Context(), serving, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the serving certificate of gw approved", func() bool {
		got, _ := c.CertificatesV1().CertificateSigningRequests().Get(t.Context(), "serving-gw", metav1.GetOptions{})
		return len(got.Status.Conditions) == 1 && got.Status.Conditions[0].Type == certificatesv1.CertificateApproved
	})
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out: %s", what)
}

func TestRequest(t *testing.T) {
	key := newKey(t)
	for _, tt := range []struct {
		name    string
		status  certificatesv1.CertificateSigningRequestStatus
		want    string
		refused bool
	}{
		{"issued", certificatesv1.CertificateSigningRequestStatus{
			Conditions:  []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}},
			Certificate: []byte("CERT"),
		}, "", false},
		{"refused", certificatesv1.CertificateSigningRequestStatus{
			Conditions: []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: reasonTaken, Message: `node "pi" is registered by another machine`}},
		}, `NodeNameTaken, message: node "pi" is registered by another machine`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeCluster(t)
			// The server answers at once.
			c.PrependReactor("create", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
				a.(k8stesting.CreateAction).GetObject().(*certificatesv1.CertificateSigningRequest).Status = tt.status
				return false, nil, nil
			})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			cert, certKey, err := Request(ctx, c, "pi", key)
			if tt.refused {
				if !strings.Contains(fmt.Sprint(err), tt.want) || !errors.Is(err, ErrRefused) {
					t.Errorf("Request: %v, want ErrRefused with %q", err, tt.want)
				}
				return
			}
			if err != nil || string(cert) != "CERT" {
				t.Errorf("Request = %q, %v", cert, err)
			}
			// The certificate's key is a new one, not the identity key.
			if k, err := keyutil.ParsePrivateKeyPEM(certKey); err != nil || k.(*ecdsa.PrivateKey).Equal(key) {
				t.Errorf("the certificate's key: %v, or it is the identity key", err)
			}
		})
	}
}

func TestApproverKubeProxyCertificates(t *testing.T) {
	start := time.Now()
	var now atomic.Pointer[time.Time]
	now.Store(&start)
	c := newFakeCluster(t)
	c.user.Store("system:node:pi")
	c.groups.Store([]string{"system:nodes", "system:authenticated"})
	runApprover(t, c, &now)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// The fake has no signer: the approval is what is checked, through the error of a
	// request that then times out waiting for the certificate.
	go RequestKubeProxy(ctx, c)
	judged := func(prefix string) certificatesv1.CertificateSigningRequestCondition {
		t.Helper()
		for ctx.Err() == nil {
			list, err := c.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, csr := range list.Items {
				if strings.HasPrefix(csr.Name, prefix) && len(csr.Status.Conditions) > 0 {
					return csr.Status.Conditions[0]
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no judged CSR %s*", prefix)
		return certificatesv1.CertificateSigningRequestCondition{}
	}
	if got := judged("kube-proxy-csr-"); got.Type != certificatesv1.CertificateApproved || got.Reason != reasonKubeProxy {
		t.Errorf("a node's kube-proxy request: %s %s (%s)", got.Type, got.Reason, got.Message)
	}

	// A node asking for another identity through the same signer is refused.
	req := func(name, cn string, orgs ...string) {
		t.Helper()
		pemReq, err := certutil.MakeCSR(newKey(t), &pkix.Name{CommonName: cn, Organization: orgs}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: certificatesv1.CertificateSigningRequestSpec{Request: pemReq, SignerName: certificatesv1.KubeAPIServerClientSignerName,
				Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	req("admin-csr", "system:admin", "system:masters")
	if got := judged("admin-csr"); got.Type != certificatesv1.CertificateDenied {
		t.Errorf("a node asking for system:admin: %s %s", got.Type, got.Message)
	}
	req("proxy-group-csr", "system:kube-proxy", "system:masters")
	if got := judged("proxy-group-csr"); got.Type != certificatesv1.CertificateDenied {
		t.Errorf("kube-proxy with a group: %s %s", got.Type, got.Message)
	}

	// Not a node: left alone (another component's business).
	c.user.Store("jane")
	c.groups.Store([]string{"system:authenticated"})
	req("user-csr", "system:kube-proxy")
	time.Sleep(300 * time.Millisecond)
	if got, _ := c.CertificatesV1().CertificateSigningRequests().Get(ctx, "user-csr", metav1.GetOptions{}); len(got.Status.Conditions) > 0 {
		t.Errorf("a user's request was judged: %+v", got.Status.Conditions)
	}
}
