package nodeidentity

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"
)

// LoadOrCreateKey returns the machine's identity key stored at path, creating an ECDSA P-256
// key (mode 0600) on the first join.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	pemData, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if pemData, err = keyutil.MakeEllipticPrivateKeyPEM(); err != nil {
			return nil, fmt.Errorf("generate the node identity key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
		}
		if err := keyutil.WriteKey(path, pemData); err != nil {
			return nil, fmt.Errorf("write the node identity key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read the node identity key: %w", err)
	}
	key, err := keyutil.ParsePrivateKeyPEM(pemData)
	if err != nil {
		return nil, fmt.Errorf("node identity key %s: %w (remove it to make a new one; the node's name is then bound anew, after its Node is deleted)", path, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("node identity key %s: %T, not ECDSA", path, key)
	}
	return ec, nil
}

// ErrRefused wraps the server's reason when it refuses a node's certificate.
var ErrRefused = errors.New("the server refused this node's certificate")

// Request asks the server, as a bootstrap token client, for a kubelet client certificate of
// node, for a new key, vouched for by the machine's identity key; it waits until the
// certificate is issued, and returns it and its key (PEM), or until it is refused
// (ErrRefused, with the server's reason). ctx bounds the wait.
func Request(ctx context.Context, client kubernetes.Interface, node string, identity *ecdsa.PrivateKey) (cert, key []byte, err error) {
	key, pemReq, err := newRequest("the kubelet's", pkix.Name{CommonName: nodeUserPrefix + node, Organization: []string{nodesGroup}})
	if err != nil {
		return nil, nil, err
	}
	proof, err := Prove(identity, pemReq)
	if err != nil {
		return nil, nil, err
	}
	cert, err = submitCSR(ctx, client, clientCSR("node-csr-", proof, pemReq, certificatesv1.KubeAPIServerClientKubeletSignerName))
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// RequestKubeProxy asks the server, with a node's credentials, for a client certificate of
// system:kube-proxy for a new key, and waits until it is issued (or refused: ErrRefused).
func RequestKubeProxy(ctx context.Context, client kubernetes.Interface) (cert, key []byte, err error) {
	key, pemReq, err := newRequest("kube-proxy's", pkix.Name{CommonName: KubeProxyUser})
	if err != nil {
		return nil, nil, err
	}
	cert, err = submitCSR(ctx, client, clientCSR("kube-proxy-csr-", nil, pemReq, certificatesv1.KubeAPIServerClientSignerName))
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// newRequest makes a new ECDSA key (PEM) for whose ("the kubelet's") and a certificate request
// for subject signed with it.
func newRequest(whose string, subject pkix.Name) (key, pemReq []byte, err error) {
	if key, err = keyutil.MakeEllipticPrivateKeyPEM(); err != nil {
		return nil, nil, fmt.Errorf("generate %s key: %w", whose, err)
	}
	signer, err := keyutil.ParsePrivateKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	if pemReq, err = certutil.MakeCSR(signer, &subject, nil, nil); err != nil {
		return nil, nil, fmt.Errorf("make certificate request: %w", err)
	}
	return key, pemReq, nil
}

// clientCSR is a request for a client certificate from signer.
func clientCSR(generateName string, annotations map[string]string, pemReq []byte, signer string) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: generateName, Annotations: annotations},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pemReq,
			SignerName: signer,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
}

// submitCSR creates req and waits for its certificate.
func submitCSR(ctx context.Context, client kubernetes.Interface, req *certificatesv1.CertificateSigningRequest) ([]byte, error) {
	created, err := client.CertificatesV1().CertificateSigningRequests().Create(ctx, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create certificate signing request: %w", err)
	}
	cert, err := csr.WaitForCertificate(ctx, client, created.Name, created.UID)
	if err != nil {
		// client-go words a refusal "certificate signing request is denied, reason: R, message: M".
		if _, why, ok := strings.Cut(err.Error(), "is denied, "); ok {
			return nil, fmt.Errorf("%w (%s): %s", ErrRefused, created.Name, why)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("certificate signing request %s was not signed: %w", created.Name, context.Cause(ctx))
		}
		return nil, fmt.Errorf("wait for certificate signing request %s: %w", created.Name, err)
	}
	return cert, nil
}
