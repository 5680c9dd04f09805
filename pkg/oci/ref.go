package oci

import (
	"fmt"
	"regexp"
	"strings"
)

// NormalizeRef returns the full name of an image reference the way containerd and the CRI
// store it, and its tag: "pause:3.10" → ("docker.io/library/pause:3.10", "3.10"),
// "edgek/pause" → ("docker.io/edgek/pause:latest", "latest"),
// "registry.local:5000/x:1" is kept. Digest references are refused: the digest of an image
// built here is only known after building it.
func NormalizeRef(ref string) (name, tag string, err error) {
	if strings.Contains(ref, "@") {
		return "", "", fmt.Errorf("image reference %q: digest references are not supported", ref)
	}
	repo := ref
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		repo, tag = ref[:i], ref[i+1:]
		if !validTag(tag) {
			return "", "", fmt.Errorf("image reference %q: invalid tag %q", ref, tag)
		}
	} else {
		tag = "latest"
	}
	domain, path, found := strings.Cut(repo, "/")
	if !found || !(strings.ContainsAny(domain, ".:") || domain == "localhost") {
		domain, path = "docker.io", repo
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	if !validDomain(domain) {
		return "", "", fmt.Errorf("image reference %q: invalid registry %q", ref, domain)
	}
	for _, comp := range strings.Split(path, "/") {
		if !validComponent(comp) {
			return "", "", fmt.Errorf("image reference %q: invalid path component %q", ref, comp)
		}
	}
	return domain + "/" + path + ":" + tag, tag, nil
}

// Grammar of github.com/distribution/reference (without IPv6 registries).
var (
	tagRE       = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	domainRE    = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?$`)
)

func validTag(tag string) bool       { return tagRE.MatchString(tag) }
func validComponent(c string) bool   { return componentRE.MatchString(c) }
func validDomain(domain string) bool { return domainRE.MatchString(domain) }
