package nodeidentity

import (
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// kube-proxy client certificates: a joined node's kube-proxy has its own identity,
// system:kube-proxy (bound to system:node-proxier by Kubernetes' defaults), instead of the
// node's credentials, so that a kubelet credential is not granted what kube-proxy reads. A
// node requests it with its own credentials (signer kube-apiserver-client); the approver
// signs off exactly that subject for a node, nothing else.

// KubeProxyUser is kube-proxy's user name.
const KubeProxyUser = "system:kube-proxy"

const reasonKubeProxy = "KubeProxyCertificate"

// kubeProxyVerdict judges a request of signer kube-apiserver-client. ok is false when the
// request is not a node's kube-proxy request: another component's, left to others.
func kubeProxyVerdict(csr *certificatesv1.CertificateSigningRequest) (v verdict, ok bool) {
	node, isNode := strings.CutPrefix(csr.Spec.Username, nodeUserPrefix)
	if !isNode || node == "" || !slices.Contains(csr.Spec.Groups, nodesGroup) {
		return verdict{}, false
	}
	deny := func(format string, a ...any) (verdict, bool) {
		return verdict{reason: reasonInvalid, message: fmt.Sprintf(format, a...)}, true
	}
	req, err := signedRequest(csr)
	if err != nil {
		return deny("%v", err)
	}
	if req.Subject.CommonName != KubeProxyUser || len(req.Subject.Organization) > 0 {
		return deny("subject %q %q: a node may request a client certificate for %s only", req.Subject.CommonName, req.Subject.Organization, KubeProxyUser)
	}
	if len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs) > 0 {
		return deny("a client certificate names no hosts or addresses")
	}
	for _, u := range csr.Spec.Usages {
		switch u {
		case certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth:
		default:
			return deny("usage %q is not for a client certificate", u)
		}
	}
	if !slices.Contains(csr.Spec.Usages, certificatesv1.UsageClientAuth) {
		return deny("usages lack client auth")
	}
	return verdict{approve: true, reason: reasonKubeProxy, message: "kube-proxy of node " + node}, true
}
