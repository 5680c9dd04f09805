package cli

import (
	"slices"
	"strings"
	"testing"
)

// TestTool: a tool is reached by a link of its name or as edgek's first argument, with the
// rest of the command line untouched (its flags are not edgek's), and edgek's own commands
// are not tools.
func TestTool(t *testing.T) {
	var got []string
	record := func(args []string) int { got = args; return 3 }
	r := Runners{Kubectl: record, Ctr: record, Crictl: record, Containerd: record}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"/usr/local/bin/kubectl", "get", "pods", "--kubeconfig=x"}, []string{"kubectl", "get", "pods", "--kubeconfig=x"}},
		{[]string{"edgek", "kubectl", "--help"}, []string{"kubectl", "--help"}},
		{[]string{"edgek", "ctr", "images", "ls"}, []string{"ctr", "images", "ls"}},
		{[]string{"crictl", "ps"}, []string{"crictl", "ps"}},
		{[]string{"/proc/self/exe", "containerd", "--config", "c.toml"}, []string{"containerd", "--config", "c.toml"}},
	} {
		got = nil
		run, ok := Tool(tc.args, r)
		if !ok {
			t.Errorf("Tool(%q): not a tool", tc.args)
			continue
		}
		if code := run(); code != 3 || !slices.Equal(got, tc.want) {
			t.Errorf("Tool(%q) ran with %q (exit %d), want %q", tc.args, got, code, tc.want)
		}
	}
	for _, args := range [][]string{{"edgek"}, {"edgek", "server", "kubectl"}, {"edgek", "--debug", "kubectl"}, {}} {
		if _, ok := Tool(args, r); ok {
			t.Errorf("Tool(%q) is a tool", args)
		}
	}
}

// TestToolsInHelp: the tools are listed in edgek's help (but containerd, which edgek runs
// itself) from the same list Tool routes by.
func TestToolsInHelp(t *testing.T) {
	var out strings.Builder
	app := App(t.Context(), &out, Runners{})
	app.Writer = &out
	if err := app.RunContext(t.Context(), []string{"edgek", "--help"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kubectl", "ctr", "crictl"} {
		if !strings.Contains(out.String(), "   "+name+" ") {
			t.Errorf("help lacks %s:\n%s", name, out.String())
		}
	}
	if strings.Contains(out.String(), "containerd ") && strings.Contains(out.String(), "the containerd daemon") {
		t.Errorf("help lists the hidden containerd tool:\n%s", out.String())
	}
}
