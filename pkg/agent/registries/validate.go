package registries

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	wildcard       = "*"
	dockerHub      = "docker.io"
	dockerHubHost  = "registry-1.docker.io" // what containerd contacts for docker.io
	defaultHostDir = "_default"             // containerd's hosts directory for any registry
)

// Validate reports every problem of r, joined. Load already applies these checks (with line
// numbers); Write applies them again for a Registries built in code.
func (r *Registries) Validate() error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(r.Mirrors)) {
		p := fmt.Sprintf("mirrors.%q", name)
		if err := checkRegistryName(name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
		for i, e := range r.Mirrors[name].Endpoints {
			if _, err := parseEndpoint(e); err != nil {
				errs = append(errs, fmt.Errorf("%s.endpoint[%d]: %w", p, i, err))
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Configs)) {
		p := fmt.Sprintf("configs.%q", name)
		c := r.Configs[name]
		if err := checkRegistryName(name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
		if c.Auth != nil {
			if err := checkAuth(name, *c.Auth); err != nil {
				errs = append(errs, fmt.Errorf("%s.auth: %w", p, err))
			}
		}
		if c.TLS != nil {
			if err := checkTLS(*c.TLS); err != nil {
				errs = append(errs, fmt.Errorf("%s.tls: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

// checkRegistryName accepts "*" or a host[:port] as it appears in an image reference.
func checkRegistryName(name string) error {
	if name == wildcard {
		return nil
	}
	if strings.Contains(name, "/") {
		return errors.New("must be a registry host[:port], without scheme or path")
	}
	return checkHost(name)
}

// checkHost accepts host, host:port, IPv4[:port] and [IPv6][:port]. The result also names a
// directory under certs.d, so ".", ".." and "_default" are refused.
func checkHost(hostport string) error {
	host := hostport
	if h, port, err := net.SplitHostPort(hostport); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid port in %q", hostport)
		}
		host = h
		if strings.Contains(host, ":") { // SplitHostPort removed the brackets
			if _, err := netip.ParseAddr(host); err != nil {
				return fmt.Errorf("invalid IPv6 address in %q", hostport)
			}
			return nil
		}
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		if _, err := netip.ParseAddr(host[1 : len(host)-1]); err != nil {
			return fmt.Errorf("invalid IPv6 address in %q", hostport)
		}
		return nil
	}
	if host == "" {
		return errors.New("empty host")
	}
	if strings.Contains(host, ":") {
		return fmt.Errorf("invalid host %q (an IPv6 address needs brackets)", hostport)
	}
	if host[0] == '.' || host[0] == '-' || host[0] == '_' {
		return fmt.Errorf("invalid host %q", hostport)
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("invalid host %q", hostport)
		}
	}
	return nil
}

func checkAuth(name string, a AuthConfig) error {
	if name == wildcard && !a.empty() {
		// containerd looks credentials up by the exact host it contacts; "*" never matches.
		return errors.New(`credentials cannot be set for "*": containerd matches them by exact host; list each host`)
	}
	return nil
}

func checkTLS(t TLSConfig) error {
	var errs []error
	for _, f := range []struct{ key, path string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if f.path != "" && !filepath.IsAbs(f.path) {
			errs = append(errs, fmt.Errorf("%s: %q is not an absolute path", f.key, f.path))
		}
	}
	if t.KeyFile != "" && t.CertFile == "" {
		errs = append(errs, errors.New("key_file is set without cert_file"))
	}
	return errors.Join(errs...)
}

// endpoint is a mirror endpoint in the form hosts.toml takes it.
type endpoint struct {
	scheme       string // "http" or "https"
	host         string // host[:port]; docker.io is replaced by registry-1.docker.io
	path         string // "" for the standard /v2 API root
	overridePath bool   // path is the API root, used as is
}

func (e endpoint) String() string {
	return (&url.URL{Scheme: e.scheme, Host: e.host, Path: e.path}).String()
}

// parseEndpoint normalizes a mirror endpoint URL. Its errors never repeat the URL whole: it
// might carry a password in its user info.
func parseEndpoint(s string) (endpoint, error) {
	raw := s
	if !strings.Contains(raw, "://") {
		raw = "//" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, errors.New("not a valid URL")
	}
	if u.User != nil {
		return endpoint{}, errors.New("credentials in an endpoint URL are not supported; use configs.<host>.auth")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return endpoint{}, fmt.Errorf("%q: a query or fragment is not allowed", s)
	}
	if err := checkHost(u.Host); err != nil {
		return endpoint{}, err
	}
	e := endpoint{scheme: strings.ToLower(u.Scheme), host: u.Host}
	switch e.scheme {
	case "http", "https":
	case "":
		e.scheme = "https"
		if port := u.Port(); isLocalhost(u.Hostname()) && port != "" && port != "443" {
			e.scheme = "http" // as containerd does for localhost
		}
	default:
		return endpoint{}, fmt.Errorf("%q: scheme must be http or https", s)
	}
	if e.host == dockerHub {
		e.host = dockerHubHost
	}
	switch p := path.Clean("/" + u.Path); p {
	case "/", "/v2":
	default:
		e.path, e.overridePath = p, true
	}
	return e, nil
}

func isLocalhost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
