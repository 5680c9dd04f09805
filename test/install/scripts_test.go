package install

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/test/testutil"
)

// The installer as K3s users run it: `curl -sfL URL | sh -s - agent --server ... --token ...`.
func TestPipedInstall(t *testing.T) {
	d := newDirs(t)
	s := newServer(t, d, true)
	raw := s.add(t, v1, "amd64", "gz")
	s.set("channels/stable", []byte(v1+"\n"))
	body, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	e := s.installEnv(nil)
	e["PATH"] = toolPath(t, d, "x86_64", "curl", "gzip")
	cmd := exec.CommandContext(t.Context(), "sh", "-s", "-", "agent", "--server", "https://server.example:6443", "--token", token)
	cmd.Env = d.environ(e)
	cmd.Stdin = strings.NewReader(string(body))
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("curl | sh: %v\n%s", err, out)
	}
	if strings.Contains(out, token) {
		t.Errorf("the token appears in the installer's output:\n%s", out)
	}
	assertInstalled(t, d, raw)
	unit := assertUnit(t, d, "edgek-agent", "agent --server https://server.example:6443")
	if strings.Contains(unit, token) {
		t.Errorf("the token is in the unit (readable by every user):\n%s", unit)
	}
	assertContains(t, "env file", envFile(t, d, "edgek-agent"), `EDGEK_TOKEN="`+token+`"`)
}

// edgek-killall.sh runs `edgek killall` with the data dir and config the service uses.
func TestKillall(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "defaults", want: "killall --dry-run EDGEK_DATA_DIR=\n"},
		{name: "EDGEK_DATA_DIR from the env file", env: map[string]string{"EDGEK_DATA_DIR": "{root}/data"},
			want: "killall --dry-run EDGEK_DATA_DIR={root}/data\n"},
		{name: "flags of the service", args: []string{"server", "--data-dir", "{root}/d 2", "-c", "{root}/c.yaml"},
			want: "killall --data-dir {root}/d 2 -c {root}/c.yaml --dry-run EDGEK_DATA_DIR=\n"},
		{name: "flags with =", args: []string{"agent", "--server=https://s:6443", "--token=" + token, "--data-dir={root}/d", "--config={root}/c.yaml"},
			want: "killall --data-dir={root}/d --config={root}/c.yaml --dry-run EDGEK_DATA_DIR=\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDirs(t)
			testutil.WriteFileMode(t, d.fake, fakeBinary("v0.0.0-test", "local"), 0o755)
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = d.expand(a)
			}
			if out, err := run(t, d.environ(tt.env), script, args...); err != nil {
				t.Fatalf("install: %v\n%s", err, out)
			}
			killall := filepath.Join(d.bin, "edgek-killall.sh")
			if fi, err := os.Stat(killall); err != nil || fi.Mode().Perm() != 0o755 {
				t.Fatalf("killall script: %v, %v", fi, err)
			}
			out, err := run(t, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + d.root}, killall, "--dry-run")
			if err != nil {
				t.Fatalf("killall: %v\n%s", err, out)
			}
			if got, want := readFile(t, filepath.Join(d.root, "killall.log")), d.expand(tt.want); got != want {
				t.Errorf("edgek was run as %q, want %q", got, want)
			}
		})
	}
}

// shellcheck passes the installer and the scripts it writes.
func TestShellcheck(t *testing.T) {
	shellcheck := needTool(t, "shellcheck")
	d := newDirs(t)
	if out, err := run(t, d.environ(map[string]string{"EDGEK_DATA_DIR": "{root}/data"}), script, "server", "--data-dir", d.root+"/it's"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	for _, f := range []string{script, filepath.Join(d.bin, "edgek-uninstall.sh"), filepath.Join(d.bin, "edgek-killall.sh")} {
		out, err := exec.CommandContext(t.Context(), shellcheck, "-s", "sh", f).CombinedOutput()
		if err != nil {
			t.Errorf("shellcheck %s: %v\n%s", filepath.Base(f), err, out)
		}
	}
}
