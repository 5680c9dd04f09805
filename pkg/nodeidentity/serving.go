package nodeidentity

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

// Kubelet serving certificates: a joined node's kubelet requests its own (serverTLSBootstrap),
// signed by the kubelet CA, which the apiserver trusts for kubelets only when it calls them
// (logs, exec). The controller-manager does not approve these (the addresses in them are the
// node's word); the approver signs a request of node X for X: its name as the only DNS name,
// and IP addresses that X's Node reports and no other Node does.

// errNotYet: the node has not reported the addresses its request names (yet): judge later.
var errNotYet = errors.New("the node has not reported those addresses yet")

const reasonServing = "KubeletServingCertificate"

// servingVerdict judges the kubelet serving certificate request csr of a node, whose Node
// is node (nil: not registered), among all Nodes. errNotYet asks to try again later.
func servingVerdict(csr *certificatesv1.CertificateSigningRequest, node *corev1.Node, all []*corev1.Node) (verdict, error) {
	deny := func(format string, v ...any) (verdict, error) {
		return verdict{reason: reasonInvalid, message: fmt.Sprintf(format, v...)}, nil
	}
	req, err := signedRequest(csr)
	if err != nil {
		return deny("%v", err)
	}
	name, ok := strings.CutPrefix(req.Subject.CommonName, nodeUserPrefix)
	if !ok || name == "" || csr.Spec.Username != req.Subject.CommonName || !slices.Contains(csr.Spec.Groups, nodesGroup) {
		return deny("subject %q: a node may request a serving certificate for itself only (requester %q)", req.Subject.CommonName, csr.Spec.Username)
	}
	if !slices.Equal(req.Subject.Organization, []string{nodesGroup}) {
		return deny("organization %q is not [%s]", req.Subject.Organization, nodesGroup)
	}
	if len(req.EmailAddresses)+len(req.URIs) > 0 || len(req.DNSNames)+len(req.IPAddresses) == 0 {
		return deny("a kubelet serving certificate names the node's host names and addresses, nothing else")
	}
	for _, u := range csr.Spec.Usages {
		switch u {
		case certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth:
		default:
			return deny("usage %q is not for a serving certificate", u)
		}
	}
	if !slices.Contains(csr.Spec.Usages, certificatesv1.UsageServerAuth) {
		return deny("usages lack server auth")
	}
	if node == nil {
		return verdict{}, fmt.Errorf("node %s is not registered: %w", name, errNotYet)
	}
	for _, d := range req.DNSNames {
		if d != name {
			return deny("DNS name %q: a kubelet serving certificate names its node (%s) only", d, name)
		}
	}
	reports := func(n *corev1.Node, ip net.IP) bool {
		return slices.ContainsFunc(n.Status.Addresses, func(a corev1.NodeAddress) bool { return ip.Equal(net.ParseIP(a.Address)) })
	}
	var missing []string
	for _, ip := range req.IPAddresses {
		for _, other := range all {
			if other.Name != name && reports(other, ip) {
				return deny("address %s is node %s's", ip, other.Name)
			}
		}
		if !reports(node, ip) {
			missing = append(missing, ip.String())
		}
	}
	if len(missing) > 0 {
		return verdict{reason: reasonInvalid, message: fmt.Sprintf("node %s does not report %s among its addresses", name, strings.Join(missing, ", "))}, errNotYet
	}
	return verdict{approve: true, reason: reasonServing, message: fmt.Sprintf("names and addresses of node %s", name)}, nil
}

// signedRequest returns the certificate request of csr once its PEM parses and its signature
// verifies (the requester holds the key).
func signedRequest(csr *certificatesv1.CertificateSigningRequest) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("request is not a PEM CERTIFICATE REQUEST")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate request: %w", err)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature: %w", err)
	}
	return req, nil
}
