package upstream

import (
	"slices"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/pkg/config"
)

func TestBuild(t *testing.T) {
	tests := []struct {
		name     string
		defaults map[string]string
		extra    []string
		want     []string
	}{
		{"defaults only, sorted", map[string]string{"b": "2", "a": "1"}, nil, []string{"--a=1", "--b=2"}},
		{"user overrides default", map[string]string{"v": "0", "a": "1"}, []string{"v=4"}, []string{"--a=1", "--v=4"}},
		{"leading dashes accepted", map[string]string{"v": "0"}, []string{"--v=2"}, []string{"--v=2"}},
		{"new key added", map[string]string{"a": "1"}, []string{"z=9"}, []string{"--a=1", "--z=9"}},
		{"repeated user key kept in order", map[string]string{"x": "d"}, []string{"x=1", "x=2"}, []string{"--x=1", "--x=2"}},
		{"value with equals sign", nil, []string{"feature-gates=A=true,B=false"}, []string{"--feature-gates=A=true,B=false"}},
		{"empty value", map[string]string{"a": "1"}, []string{"a="}, []string{"--a="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Build(tt.defaults, tt.extra); !slices.Equal(got, tt.want) {
				t.Errorf("Build() = %q, want %q", got, tt.want)
			}
		})
	}
}

// What edgek reads from the user's values (config.ExtraArg: ports, certificate files) is what
// the component gets: the last value Build passes for a key.
func TestBuildAgreesWithExtraArg(t *testing.T) {
	extra := []string{"--secure-port=1", "secure-port=2", "-tls-cert-file=/a=b", "feature-gates=X=true"}
	args := Build(map[string]string{"secure-port": "0"}, extra)
	for _, key := range []string{"secure-port", "tls-cert-file", "feature-gates"} {
		want, ok := config.ExtraArg(extra, key)
		var last string
		for _, a := range args {
			if v, found := strings.CutPrefix(a, "--"+key+"="); found {
				last = v
			}
		}
		if !ok || last != want {
			t.Errorf("%s: Build passes %q last, config.ExtraArg reads %q (%v)", key, last, want, ok)
		}
	}
}
