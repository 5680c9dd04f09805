package upstream

import (
	"slices"
	"testing"
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
