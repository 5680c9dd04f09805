package registries

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"gopkg.in/yaml.v3"
)

// Load reads a registries.yaml. A missing file is an empty configuration. Malformed YAML,
// unknown keys, values of the wrong type and invalid hosts, endpoints or paths are errors
// naming the file, the line and the key; they never contain a credential.
func Load(path string) (*Registries, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Registries{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read registries config: %w", err)
	}
	r, errs := parse(data)
	if len(errs) > 0 {
		for i, err := range errs {
			errs[i] = fmt.Errorf("%s: %w", path, err)
		}
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// parse walks the YAML node tree rather than decoding into structs: it can then name the
// line and full key of every problem, and keep values (passwords) out of its errors.
func parse(data []byte) (*Registries, []error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return &Registries{}, nil
	} else if err != nil {
		return nil, []error{err} // "yaml: line N: <syntax problem>"
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, []error{fmt.Errorf("line %d: only one YAML document is allowed", next.Line)}
	} else if !errors.Is(err, io.EOF) {
		return nil, []error{err}
	}
	p := &parser{}
	r := &Registries{}
	if len(doc.Content) > 0 {
		p.mapping(doc.Content[0], "top level", func(key string, k, v *yaml.Node) {
			switch key {
			case "mirrors":
				r.Mirrors = p.mirrors(v)
			case "configs":
				r.Configs = p.configs(v)
			default:
				p.unknown(k, "top level", key, "mirrors, configs")
			}
		})
	}
	return r, p.errs
}

type parser struct{ errs []error }

func (p *parser) fail(n *yaml.Node, path, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("line %d: %s: %s", n.Line, path, fmt.Sprintf(format, args...)))
}

func (p *parser) unknown(k *yaml.Node, path, key, allowed string) {
	p.fail(k, path, "unknown key %q (allowed: %s)", key, allowed)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// mapping calls fn for each key of a mapping node, in order; null is an empty mapping.
func (p *parser) mapping(n *yaml.Node, path string, fn func(key string, k, v *yaml.Node)) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, "must be a mapping")
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.fail(k, path, "keys must be strings")
			continue
		}
		if seen[k.Value] {
			p.fail(k, path, "key %q appears twice", k.Value)
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, v)
	}
}

// str decodes a scalar; null is "". The value is never put in an error.
func (p *parser) str(n *yaml.Node, path string) string {
	n = resolve(n)
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(n, path, "must be a string")
		return ""
	}
	return n.Value
}

func (p *parser) boolean(n *yaml.Node, path string) bool {
	n = resolve(n)
	if isNull(n) {
		return false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		p.fail(n, path, "must be true or false")
	}
	return b
}

func (p *parser) check(n *yaml.Node, path string, err error) {
	if err != nil {
		p.fail(n, path, "%v", err)
	}
}

func (p *parser) mirrors(n *yaml.Node) map[string]Mirror {
	m := map[string]Mirror{}
	p.mapping(n, "mirrors", func(name string, k, v *yaml.Node) {
		path := fmt.Sprintf("mirrors.%q", name)
		p.check(k, path, checkRegistryName(name))
		var mirror Mirror
		p.mapping(v, path, func(key string, k, v *yaml.Node) {
			switch key {
			case "endpoint":
				mirror.Endpoints = p.endpoints(v, path+".endpoint")
			case "rewrite":
				if v := resolve(v); !isNull(v) && !(v.Kind == yaml.MappingNode && len(v.Content) == 0) {
					p.fail(k, path+".rewrite", "repository rewrites are not supported: containerd 2.4's "+
						"hosts.toml has no rewrite option (K3s patches containerd for it); remove the key "+
						"or mirror the repositories under their original names")
				}
			default:
				p.unknown(k, path, key, "endpoint, rewrite")
			}
		})
		m[name] = mirror
	})
	if len(m) == 0 {
		return nil
	}
	return m
}

func (p *parser) endpoints(n *yaml.Node, path string) []string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "must be a list of URLs")
		return nil
	}
	var out []string
	for i, e := range n.Content {
		ep := fmt.Sprintf("%s[%d]", path, i)
		s := p.str(e, ep)
		if s == "" {
			p.fail(e, ep, "empty endpoint")
			continue
		}
		if _, err := parseEndpoint(s); err != nil {
			p.fail(e, ep, "%v", err)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (p *parser) configs(n *yaml.Node) map[string]RegistryConfig {
	m := map[string]RegistryConfig{}
	p.mapping(n, "configs", func(name string, k, v *yaml.Node) {
		path := fmt.Sprintf("configs.%q", name)
		p.check(k, path, checkRegistryName(name))
		var c RegistryConfig
		p.mapping(v, path, func(key string, k, v *yaml.Node) {
			switch key {
			case "auth":
				c.Auth = p.auth(v, path+".auth")
				if c.Auth != nil {
					p.check(k, path+".auth", checkAuth(name, *c.Auth))
				}
			case "tls":
				c.TLS = p.tls(v, path+".tls")
				if c.TLS != nil {
					p.check(k, path+".tls", checkTLS(*c.TLS))
				}
			default:
				p.unknown(k, path, key, "auth, tls")
			}
		})
		m[name] = c
	})
	if len(m) == 0 {
		return nil
	}
	return m
}

func (p *parser) auth(n *yaml.Node, path string) *AuthConfig {
	if isNull(resolve(n)) {
		return nil
	}
	a := &AuthConfig{}
	p.mapping(n, path, func(key string, k, v *yaml.Node) {
		kp := path + "." + key
		switch key {
		case "username":
			a.Username = p.str(v, kp)
		case "password":
			a.Password = p.str(v, kp)
		case "auth":
			a.Auth = p.str(v, kp)
		case "identity_token":
			a.IdentityToken = p.str(v, kp)
		case "token", "registry_token", "registrytoken":
			p.fail(k, kp, "not supported: containerd's CRI takes no bearer token from its config; "+
				"use identity_token (an OAuth refresh token), username/password or auth")
		default:
			p.unknown(k, path, key, "username, password, auth, identity_token")
		}
	})
	return a
}

func (p *parser) tls(n *yaml.Node, path string) *TLSConfig {
	if isNull(resolve(n)) {
		return nil
	}
	t := &TLSConfig{}
	p.mapping(n, path, func(key string, k, v *yaml.Node) {
		kp := path + "." + key
		switch key {
		case "ca_file":
			t.CAFile = p.str(v, kp)
		case "cert_file":
			t.CertFile = p.str(v, kp)
		case "key_file":
			t.KeyFile = p.str(v, kp)
		case "insecure_skip_verify":
			t.InsecureSkipVerify = p.boolean(v, kp)
		default:
			p.unknown(k, path, key, "ca_file, cert_file, key_file, insecure_skip_verify")
		}
	})
	return t
}
