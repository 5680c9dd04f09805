package pki

import (
	"crypto/x509"
	"net"
	"strings"
)

// servingSANs returns the names of the apiserver serving certificate: the
// in-cluster kubernetes service names, localhost and extra.
func servingSANs(extra []string, clusterDomain string) (dns []string, ips []net.IP) {
	names := []string{
		"kubernetes",
		"kubernetes.default",
		"kubernetes.default.svc",
		"kubernetes.default.svc." + strings.TrimSuffix(clusterDomain, "."),
		"localhost",
	}
	return splitSANs(append(names, extra...))
}

// splitSANs sorts names into DNS names (lower-cased) and IP addresses,
// dropping empty strings and duplicates while keeping the first-seen order.
func splitSANs(names []string) (dns []string, ips []net.IP) {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			if key := "ip:" + ip.String(); !seen[key] {
				seen[key] = true
				ips = append(ips, ip)
			}
			continue
		}
		n = strings.ToLower(n)
		if key := "dns:" + n; !seen[key] {
			seen[key] = true
			dns = append(dns, n)
		}
	}
	return dns, ips
}

// hasAllSANs reports whether cert names every one of dns and ips.
func hasAllSANs(cert *x509.Certificate, dns []string, ips []net.IP) bool {
	have := make(map[string]bool, len(cert.DNSNames)+len(cert.IPAddresses))
	for _, d := range cert.DNSNames {
		have["dns:"+strings.ToLower(d)] = true
	}
	for _, ip := range cert.IPAddresses {
		have["ip:"+ip.String()] = true
	}
	for _, d := range dns {
		if !have["dns:"+strings.ToLower(d)] {
			return false
		}
	}
	for _, ip := range ips {
		if !have["ip:"+ip.String()] {
			return false
		}
	}
	return true
}
