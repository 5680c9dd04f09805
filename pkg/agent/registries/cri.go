package registries

import (
	"maps"
	"slices"
	"strings"
)

// criRegistry is the CRI image plugin's registry table in a version 3 containerd config.
const criRegistry = "plugins.'io.containerd.cri.v1.images'.registry"

// CRIConfig returns the part of containerd's config.toml that hosts.toml cannot express: the
// credentials, as [plugins.'io.containerd.cri.v1.images'.registry.configs."<host>".auth]
// tables with full headers, so the fragment can be appended after the rest of the config.
// It returns "" when no credentials are configured.
//
// containerd 2.4 still honours these for CRI pulls (internal/cri/server/images/image_pull.go:
// the credentials callback reads Registry.Configs[host].Auth when the kubelet sent no pull
// secret), looked up by the exact host[:port] it contacts: a mirror's host, or
// registry-1.docker.io for docker.io, which is why docker.io credentials are repeated under
// that name. containerd logs them as deprecated (to be removed in 2.7) and, while they are
// set, pulls with its local puller instead of the transfer service.
//
// The result holds secrets: the config file it goes into must not be world-readable, and
// the fragment must not be logged.
func (r *Registries) CRIConfig() string {
	auths := map[string]AuthConfig{}
	for name, c := range r.Configs {
		if c.Auth == nil || c.Auth.empty() || name == wildcard {
			continue
		}
		auths[name] = *c.Auth
	}
	if a, ok := auths[dockerHub]; ok {
		if _, set := auths[dockerHubHost]; !set {
			auths[dockerHubHost] = a
		}
	}
	var b strings.Builder
	for _, host := range slices.Sorted(maps.Keys(auths)) {
		a := auths[host]
		b.WriteString("\n[" + criRegistry + ".configs." + tomlQuote(host) + ".auth]\n")
		for _, kv := range [][2]string{
			{"username", a.Username},
			{"password", a.Password},
			{"auth", a.Auth},
			{"identitytoken", a.IdentityToken},
		} {
			if kv[1] != "" {
				b.WriteString("  " + kv[0] + " = " + tomlQuote(kv[1]) + "\n")
			}
		}
	}
	return b.String()
}
