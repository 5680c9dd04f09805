package cli

import (
	"context"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/test/testutil"
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
	cfg := testutil.WriteFile(t, filepath.Join(t.TempDir(), "config.yaml"), "data-dir: /srv/from-config\nnode-ip: 192.0.2.1\ntoken: x\n")
	if err := App(t.Context(), io.Discard, r).RunContext(t.Context(), []string{"edgek", "killall", "--config", cfg}); err != nil {
		t.Fatal(err)
	}
	if gotDir != "/srv/from-config" || gotDry {
		t.Errorf("killall with a config file got data dir %q, dry-run %t", gotDir, gotDry)
	}
}

// TestTokenCommands: edgek token's subcommands reach the runner with their settings.
func TestTokenCommands(t *testing.T) {
	var got config.TokenCommand
	r := Runners{Token: func(_ context.Context, c config.TokenCommand, _ io.Writer) error { got = c; return nil }}
	for _, tt := range []struct {
		args []string
		want config.TokenCommand
	}{
		{[]string{"create"}, config.TokenCommand{Op: "create", DataDir: config.DefaultDataDir, TTL: 24 * time.Hour}},
		{[]string{"create", "--ttl", "1h", "--description", "gate 7", "--data-dir", "/srv/e"}, config.TokenCommand{Op: "create", DataDir: "/srv/e", TTL: time.Hour, Description: "gate 7"}},
		{[]string{"create", "--ttl", "0"}, config.TokenCommand{Op: "create", DataDir: config.DefaultDataDir}},
		{[]string{"list"}, config.TokenCommand{Op: "list", DataDir: config.DefaultDataDir}},
		{[]string{"delete", "abcdef", "012345"}, config.TokenCommand{Op: "delete", DataDir: config.DefaultDataDir, IDs: []string{"abcdef", "012345"}}},
		{[]string{"rotate", "--new-token", "Edge-Gateway-7-Berlin", "--force"}, config.TokenCommand{Op: "rotate", DataDir: config.DefaultDataDir, NewToken: "Edge-Gateway-7-Berlin", Force: true}},
	} {
		got = config.TokenCommand{}
		if err := App(t.Context(), io.Discard, r).RunContext(t.Context(), append([]string{"edgek", "token"}, tt.args...)); err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v: runner got %+v, want %+v", tt.args, got, tt.want)
		}
	}
	if err := App(t.Context(), io.Discard, r).RunContext(t.Context(), []string{"edgek", "token", "list", "extra"}); err == nil || !strings.Contains(err.Error(), `unexpected argument "extra"`) {
		t.Errorf("token list extra: %v", err)
	}
	if err := App(t.Context(), io.Discard, r).RunContext(t.Context(), []string{"edgek", "token", "delete", "abcdef", "--data-dir", "/x"}); err == nil || !strings.Contains(err.Error(), "flags go first") {
		t.Errorf("token delete with a flag after the IDs: %v", err)
	}
}
