// Package nodeidentity binds a node name to the machine that first joined with it.
//
// Every joining agent has an identity key that stays on the machine (its data dir); its first
// kubelet client certificate is requested with that key, through a CSR the edgek bootstrap
// token may create. The server's approver signs such a CSR only when the name is free, or
// bound to the same key: the name of a server's node, or of a node another machine
// registered, is refused with the reason in the CSR (the agent prints it). Deleting the Node
// object releases its name (the binding is owned by the Node, so the garbage collector
// removes it), so a re-imaged board can join again under its old name.
//
// The binding is a Secret in kube-system named "<node>.node-identity.edgek" that holds the
// SHA-256 of the key's public part: nothing secret, and no bootstrapper can read it.
package nodeidentity

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
)

const (
	// nodeUserPrefix and nodesGroup are how the Node authorizer knows a kubelet.
	nodeUserPrefix = "system:node:"
	nodesGroup     = "system:nodes"
)

// Annotations of a joining agent's CSR: the public part of its identity key, and the
// identity key's signature of the request, so that the certificate's own key is a fresh one
// (the identity key never leaves the machine, not even in a certificate). A copied proof is
// worthless: it only vouches for the request it signs, whose key the copier does not have.
const (
	AnnotationKey   = "edgek.io/node-identity-key"
	AnnotationProof = "edgek.io/node-identity-proof"
)

// proofDigest is what the identity key signs: the request, in a form no other use of the
// key could produce.
func proofDigest(request []byte) []byte {
	sum := sha256.Sum256(append([]byte("edgek node identity proof\x00"), request...))
	return sum[:]
}

// Prove returns the annotations that bind a CSR's request to the identity key.
func Prove(identity *ecdsa.PrivateKey, request []byte) (map[string]string, error) {
	der, err := x509.MarshalPKIXPublicKey(identity.Public())
	if err != nil {
		return nil, fmt.Errorf("marshal the identity key: %w", err)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, identity, proofDigest(request))
	if err != nil {
		return nil, fmt.Errorf("sign with the identity key: %w", err)
	}
	return map[string]string{
		AnnotationKey:   base64.StdEncoding.EncodeToString(der),
		AnnotationProof: base64.StdEncoding.EncodeToString(sig),
	}, nil
}

// identityOf checks the proof of csr and returns the hash of its identity key.
func identityOf(csr *certificatesv1.CertificateSigningRequest) (string, error) {
	der, err := base64.StdEncoding.DecodeString(csr.Annotations[AnnotationKey])
	if err != nil || len(der) == 0 {
		return "", fmt.Errorf("no node identity key (annotation %s): not a request of an edgek agent", AnnotationKey)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return "", fmt.Errorf("node identity key: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return "", fmt.Errorf("node identity key is %T, not ECDSA", pub)
	}
	sig, err := base64.StdEncoding.DecodeString(csr.Annotations[AnnotationProof])
	if err != nil || !ecdsa.VerifyASN1(ec, proofDigest(csr.Spec.Request), sig) {
		return "", errors.New("the node identity proof does not match the request")
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// request is a kubelet client certificate request, checked.
type request struct {
	node    string // the node name it asks a certificate for
	keyHash string // of the machine's identity key that vouches for it
}

// parseRequest checks that csr asks for exactly a kubelet client certificate (subject
// "system:node:<name>" in "system:nodes", no alternative names, client auth), signed by the
// key it carries and vouched for by a machine's identity key, and returns the node name and
// the identity key's hash.
func parseRequest(csr *certificatesv1.CertificateSigningRequest) (request, error) {
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName {
		return request{}, fmt.Errorf("signer %q is not %s", csr.Spec.SignerName, certificatesv1.KubeAPIServerClientKubeletSignerName)
	}
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return request{}, errors.New("request is not a PEM CERTIFICATE REQUEST")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return request{}, fmt.Errorf("parse certificate request: %w", err)
	}
	if err := req.CheckSignature(); err != nil {
		return request{}, fmt.Errorf("certificate request signature: %w", err)
	}
	node, ok := strings.CutPrefix(req.Subject.CommonName, nodeUserPrefix)
	if !ok || node == "" {
		return request{}, fmt.Errorf("subject %q is not %s<node name>", req.Subject.CommonName, nodeUserPrefix)
	}
	if !slices.Equal(req.Subject.Organization, []string{nodesGroup}) {
		return request{}, fmt.Errorf("organization %q is not [%s]", req.Subject.Organization, nodesGroup)
	}
	if len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs) > 0 {
		return request{}, errors.New("a kubelet client certificate has no alternative names")
	}
	for _, u := range csr.Spec.Usages {
		switch u {
		case certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth:
		default:
			return request{}, fmt.Errorf("usage %q is not for a client certificate", u)
		}
	}
	if !slices.Contains(csr.Spec.Usages, certificatesv1.UsageClientAuth) {
		return request{}, errors.New("usages lack client auth")
	}
	hash, err := identityOf(csr)
	if err != nil {
		return request{}, err
	}
	return request{node: node, keyHash: hash}, nil
}
