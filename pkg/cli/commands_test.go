package cli

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestCheckConfigAndKillallExitCodes: check-config exits 1 when the host cannot run a node,
// 0 when it can; killall gets the data dir and --dry-run.
func TestCheckConfigAndKillallExitCodes(t *testing.T) {
	for _, ok := range []bool{true, false} {
		r := Runners{CheckConfig: func(io.Writer) bool { return ok }}
		err := App(t.Context(), io.Discard, r).RunContext(t.Context(), []string{"edgek", "check-config"})
		code := 0
		if ec, isExit := err.(cli.ExitCoder); isExit {
			code = ec.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 0, false: 1}[ok]; code != want {
			t.Errorf("check-config with ok=%t: exit %d, want %d", ok, code, want)
		}
	}
	var gotDir string
	var gotDry bool
	r := Runners{Killall: func(_ context.Context, dataDir string, dryRun, _ bool) error {
		gotDir, gotDry = dataDir, dryRun
		return nil
	}}
	if err := App(t.Context(), io.Discard, r).RunContext(t.Context(), []string{"edgek", "killall", "--data-dir", "/srv/edgek", "--dry-run"}); err != nil {
		t.Fatal(err)
	}
	if gotDir != "/srv/edgek" || !gotDry {
		t.Errorf("killall got data dir %q, dry-run %t", gotDir, gotDry)
	}
	// A data dir set in the config file (shared with server and agent keys) is used.
	cfg := writeFile(t, filepath.Join(t.TempDir(), "config.yaml"), "data-dir: /srv/from-config\nnode-ip: 192.0.2.1\ntoken: x\n")
	if err := App(t.Context(), io.Discard, r).RunContext(t.Context(), []string{"edgek", "killall", "--config", cfg}); err != nil {
		t.Fatal(err)
	}
	if gotDir != "/srv/from-config" || gotDry {
		t.Errorf("killall with a config file got data dir %q, dry-run %t", gotDir, gotDry)
	}
}
