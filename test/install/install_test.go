// Package install tests scripts/install.sh: it installs a fake edgek into temporary
// directories (never the system's), checks what was written, and runs the uninstaller.
package install

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/test/testutil"
)

const script = "../../scripts/install.sh"

// fakeEdgek answers --version like edgek and logs killall calls.
var fakeEdgek = fakeBinary("v0.0.0-test", "local")

// token is what EDGEK_TOKEN holds in the tests; it must never be printed.
const token = "K10deadbeef::server:hunter2-secret"

// dirs are one test's stand-ins for the system's directories.
type dirs struct {
	root, fake, bin, systemd, config, data string
}

func newDirs(t *testing.T) dirs {
	t.Helper()
	root := t.TempDir()
	d := dirs{
		root:    root,
		fake:    filepath.Join(root, "edgek-download"),
		bin:     filepath.Join(root, "bin"),
		systemd: filepath.Join(root, "systemd"),
		config:  filepath.Join(root, "etc-edgek"),
		data:    filepath.Join(root, "var-lib-edgek"),
	}
	testutil.WriteFileMode(t, d.fake, fakeEdgek, 0o755)
	return d
}

// expand replaces {root} and {bin} in s with this test's directories.
func (d dirs) expand(s string) string {
	return strings.NewReplacer("{root}", d.root, "{bin}", d.bin).Replace(s)
}

// environ is a clean environment (nothing inherited but PATH) for the installer; extra
// entries override the defaults, and an empty value unsets a variable.
func (d dirs) environ(extra map[string]string) []string {
	env := map[string]string{
		"PATH":                      os.Getenv("PATH"),
		"HOME":                      d.root,
		"INSTALL_EDGEK_BIN":         d.fake,
		"INSTALL_EDGEK_BIN_DIR":     d.bin,
		"INSTALL_EDGEK_SYSTEMD_DIR": d.systemd,
		"INSTALL_EDGEK_CONFIG_DIR":  d.config,
		"INSTALL_EDGEK_SKIP_START":  "true",
		"INSTALL_EDGEK_SKIP_ENABLE": "true",
		// Never the default (a real host): a test that downloads by mistake fails here.
		"INSTALL_EDGEK_URL": "https://127.0.0.1:1/no-download-expected",
	}
	for k, v := range extra {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = d.expand(v)
		}
	}
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// run runs the shell script name with sh (dash on Debian).
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	return runProg(t, env, "sh", append([]string{name}, args...)...)
}

func runProg(t *testing.T, env []string, prog string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), prog, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func assertContains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, s)
		}
	}
}

func assertMissing(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists, want it absent (err=%v)", p, err)
		}
	}
}

func assertLinkToEdgek(t *testing.T, d dirs, names ...string) {
	t.Helper()
	for _, n := range names {
		target, err := os.Readlink(filepath.Join(d.bin, n))
		if err != nil || target != "edgek" {
			t.Errorf("%s: readlink = %q, %v; want edgek", n, target, err)
		}
	}
}

// assertUnit checks the unit file of service and returns it.
func assertUnit(t *testing.T, d dirs, service, execStart string) string {
	t.Helper()
	unit := readFile(t, filepath.Join(d.systemd, service+".service"))
	assertContains(t, service+".service", unit,
		"\nExecStart="+filepath.Join(d.bin, "edgek")+" "+execStart+"\n",
		"\nType=exec\n", "\nKillMode=process\n", "\nDelegate=yes\n", "\nRestart=always\n",
		"\nLimitNOFILE=1048576\n", "\nTasksMax=infinity\n", "\nTimeoutStartSec=0\n",
		"\nExecStartPre=-/sbin/modprobe br_netfilter\n", "\nExecStartPre=-/sbin/modprobe overlay\n",
		"\nEnvironmentFile=-"+filepath.Join(d.systemd, service+".service.env")+"\n",
	)
	return unit
}

// envFile checks that the env file of service is readable by its owner only and returns it.
func envFile(t *testing.T, d dirs, service string) string {
	t.Helper()
	path := filepath.Join(d.systemd, service+".service.env")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	return readFile(t, path)
}

func TestInstall(t *testing.T) {
	sum := sha256.Sum256([]byte(fakeEdgek))
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		setup func(t *testing.T, d dirs)
		// fail, when set, is a message the failing installer must print.
		fail  string
		check func(t *testing.T, d dirs, out string)
	}{
		{
			name: "server by default",
			env:  map[string]string{"EDGEK_TOKEN": token, "INSTALL_EDGEK_SHA256": hex.EncodeToString(sum[:])},
			check: func(t *testing.T, d dirs, out string) {
				assertUnit(t, d, "edgek", "server")
				assertContains(t, "env file", envFile(t, d, "edgek"), `EDGEK_TOKEN="`+token+`"`)
				assertLinkToEdgek(t, d, "kubectl", "ctr", "crictl")
				assertMissing(t, filepath.Join(d.systemd, "edgek-agent.service"))
				if fi, err := os.Stat(filepath.Join(d.bin, "edgek")); err != nil || fi.Mode().Perm() != 0o755 {
					t.Errorf("edgek binary: %v, %v", fi, err)
				}
				if fi, err := os.Stat(filepath.Join(d.bin, "edgek-uninstall.sh")); err != nil || fi.Mode()&0o100 == 0 {
					t.Errorf("uninstaller: %v, %v", fi, err)
				}
				assertContains(t, "output", out, "[edgek-install] ", "v0.0.0-test", "sha256 checked")
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if !strings.HasPrefix(line, "[edgek-install] ") {
						t.Errorf("output line without prefix: %q", line)
					}
				}
			},
		},
		{
			name: "agent when EDGEK_URL is set",
			env:  map[string]string{"EDGEK_URL": "https://server.example:6443", "EDGEK_TOKEN": token},
			check: func(t *testing.T, d dirs, _ string) {
				assertUnit(t, d, "edgek-agent", "agent")
				assertContains(t, "env file", envFile(t, d, "edgek-agent"),
					`EDGEK_URL="https://server.example:6443"`, `EDGEK_TOKEN="`+token+`"`)
				assertMissing(t, filepath.Join(d.systemd, "edgek.service"))
			},
		},
		{
			name: "agent by default needs a token",
			env:  map[string]string{"EDGEK_URL": "https://server.example:6443"},
			fail: "EDGEK_TOKEN",
		},
		{
			name: "script arguments override",
			env:  map[string]string{"EDGEK_URL": "https://server.example:6443", "EDGEK_TOKEN": token},
			args: []string{"server", "--tls-san", "edge.example"},
			check: func(t *testing.T, d dirs, _ string) {
				assertUnit(t, d, "edgek", "server --tls-san edge.example")
				assertMissing(t, filepath.Join(d.systemd, "edgek-agent.service"))
			},
		},
		{
			name: "INSTALL_EDGEK_EXEC then arguments",
			env:  map[string]string{"INSTALL_EDGEK_EXEC": "server --disable-agent"},
			args: []string{"--node-label", "zone=a b", "--token=" + token},
			check: func(t *testing.T, d dirs, out string) {
				unit := assertUnit(t, d, "edgek", `server --disable-agent --node-label "zone=a b"`)
				if strings.Contains(unit, token) {
					t.Errorf("the token is in the unit (readable by every user):\n%s", unit)
				}
				assertContains(t, "env file", envFile(t, d, "edgek"), `EDGEK_TOKEN="`+token+`"`)
				assertContains(t, "output", out, "the value of --token goes to the env file")
			},
		},
		{
			name: "secret flags go to the env file",
			env:  map[string]string{"EDGEK_TOKEN": "overridden"},
			args: []string{"server", "--datastore-endpoint", "postgres://u:" + token + "@db/edgek", "--token", token, "--tls-san", "a"},
			check: func(t *testing.T, d dirs, _ string) {
				assertUnit(t, d, "edgek", "server --tls-san a")
				env := envFile(t, d, "edgek")
				assertContains(t, "env file", env, `EDGEK_TOKEN="`+token+`"`, `EDGEK_DATASTORE_ENDPOINT="postgres://u:`+token+`@db/edgek"`)
				if strings.Contains(env, "overridden") {
					t.Errorf("EDGEK_TOKEN from the environment wins over --token:\n%s", env)
				}
			},
		},
		{
			name: "flags only keep the default command",
			args: []string{"--disable-agent"},
			check: func(t *testing.T, d dirs, _ string) {
				assertUnit(t, d, "edgek", "server --disable-agent")
			},
		},
		{
			name: "unknown command",
			args: []string{"kubectl"},
			fail: "'server' or 'agent'",
		},
		{
			name: "flag without a value",
			args: []string{"agent", "--token"},
			fail: "--token needs a value",
		},
		{
			name: "EDGEK_DOWNLOAD_URL is no longer read",
			env:  map[string]string{"INSTALL_EDGEK_BIN": "", "EDGEK_DOWNLOAD_URL": "https://downloads.example/edgek"},
			fail: "EDGEK_DOWNLOAD_URL is no longer read: set INSTALL_EDGEK_URL",
		},
		{
			name: "no opt-out of verification",
			env:  map[string]string{"INSTALL_EDGEK_BIN": "", "INSTALL_EDGEK_SKIP_VERIFY": "true"},
			fail: "INSTALL_EDGEK_SKIP_VERIFY is not supported",
		},
		{
			name: "relative data dir",
			args: []string{"server", "--data-dir", "data"},
			fail: "DATA_DIR must be an absolute path",
		},
		{
			name: "binary that does not run",
			env:  map[string]string{"INSTALL_EDGEK_BIN": "{root}/broken"},
			setup: func(t *testing.T, d dirs) {
				testutil.WriteFileMode(t, filepath.Join(d.root, "broken"), "#!/bin/sh\necho 'exec format error'\nexit 1\n", 0o755)
			},
			fail: "does not run",
		},
		{
			name: "sha256 mismatch",
			env:  map[string]string{"INSTALL_EDGEK_SHA256": strings.Repeat("0", 64)},
			fail: "sha256 mismatch",
		},
		{
			name: "foreign kubectl is kept",
			setup: func(t *testing.T, d dirs) {
				testutil.WriteFileMode(t, filepath.Join(d.bin, "kubectl"), "#!/bin/sh\necho upstream\n", 0o755)
			},
			check: func(t *testing.T, d dirs, out string) {
				if got := readFile(t, filepath.Join(d.bin, "kubectl")); got != "#!/bin/sh\necho upstream\n" {
					t.Errorf("kubectl was changed: %q", got)
				}
				assertLinkToEdgek(t, d, "ctr", "crictl")
				assertContains(t, "output", out, "INSTALL_EDGEK_SYMLINK=force")
			},
		},
		{
			name: "INSTALL_EDGEK_SYMLINK=force replaces kubectl",
			env:  map[string]string{"INSTALL_EDGEK_SYMLINK": "force"},
			setup: func(t *testing.T, d dirs) {
				testutil.WriteFileMode(t, filepath.Join(d.bin, "kubectl"), "#!/bin/sh\necho upstream\n", 0o755)
			},
			check: func(t *testing.T, d dirs, _ string) {
				assertLinkToEdgek(t, d, "kubectl", "ctr", "crictl")
			},
		},
		{
			name: "INSTALL_EDGEK_SYMLINK=skip",
			env:  map[string]string{"INSTALL_EDGEK_SYMLINK": "skip"},
			check: func(t *testing.T, d dirs, _ string) {
				assertMissing(t, filepath.Join(d.bin, "kubectl"), filepath.Join(d.bin, "ctr"), filepath.Join(d.bin, "crictl"))
			},
		},
		{
			name: "INSTALL_EDGEK_SKIP_SERVICE",
			env:  map[string]string{"INSTALL_EDGEK_SKIP_SERVICE": "true", "EDGEK_TOKEN": token},
			check: func(t *testing.T, d dirs, out string) {
				assertMissing(t, filepath.Join(d.systemd, "edgek.service"), filepath.Join(d.systemd, "edgek.service.env"))
				assertContains(t, "output", out, "start edgek by hand")
				if _, err := os.Stat(filepath.Join(d.bin, "edgek")); err != nil {
					t.Error(err)
				}
			},
		},
		{
			name: "env file keeps EDGEK_* values exactly",
			env: map[string]string{
				"EDGEK_TOKEN":        token,
				"EDGEK_NODE_NAME":    `it's "a" $b \c ` + "`d`",
				"EDGEK_DATA_DIR":     "{root}/data",
				"INSTALL_EDGEK_EXEC": "server",
				"OTHER_VAR":          "not saved",
			},
			check: func(t *testing.T, d dirs, _ string) {
				env := envFile(t, d, "edgek")
				for _, no := range []string{"INSTALL_", "OTHER_VAR"} {
					if strings.Contains(env, no) {
						t.Errorf("env file contains %s:\n%s", no, env)
					}
				}
				// OpenRC sources the file with sh; systemd reads the same quoting.
				cmd := exec.CommandContext(t.Context(), "sh", "-c",
					`set -a; . "$1"; printf '%s\n%s\n%s' "$EDGEK_TOKEN" "$EDGEK_NODE_NAME" "$EDGEK_DATA_DIR"`,
					"sh", filepath.Join(d.systemd, "edgek.service.env"))
				cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
				got, err := cmd.Output()
				if err != nil {
					t.Fatal(err)
				}
				want := token + "\n" + `it's "a" $b \c ` + "`d`" + "\n" + d.root + "/data"
				if string(got) != want {
					t.Errorf("env file read back as %q, want %q", got, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDirs(t)
			if tt.setup != nil {
				tt.setup(t, d)
			}
			out, err := run(t, d.environ(tt.env), script, tt.args...)
			if strings.Contains(out, token) {
				t.Errorf("the token appears in the installer's output:\n%s", out)
			}
			if tt.fail != "" {
				if err == nil {
					t.Fatalf("install succeeded, want failure mentioning %q:\n%s", tt.fail, out)
				}
				assertContains(t, "output", out, tt.fail)
				assertMissing(t, filepath.Join(d.bin, "edgek"), filepath.Join(d.systemd, "edgek.service"))
				if left, _ := filepath.Glob(filepath.Join(d.bin, ".edgek.install.*")); len(left) > 0 {
					t.Errorf("temporary files left behind: %v", left)
				}
			} else if err != nil {
				t.Fatalf("install: %v\n%s", err, out)
			}
			if tt.check != nil {
				tt.check(t, d, out)
			}
		})
	}
}

func TestUninstall(t *testing.T) {
	d := newDirs(t)
	foreign := "#!/bin/sh\necho upstream\n"
	testutil.WriteFileMode(t, filepath.Join(d.bin, "kubectl"), foreign, 0o755)
	testutil.WriteFileMode(t, filepath.Join(d.config, "config.yaml"), "tls-san: [edge.example]\n", 0o600)
	testutil.WriteFileMode(t, filepath.Join(d.data, "server", "token"), token, 0o600)

	out, err := run(t, d.environ(map[string]string{"EDGEK_TOKEN": token, "EDGEK_DATA_DIR": d.data}), script)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	assertLinkToEdgek(t, d, "ctr", "crictl")
	// A link the user has pointed elsewhere since is no longer edgek's to remove.
	other := filepath.Join(d.bin, "crictl")
	if err := os.Remove(other); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin/true", other); err != nil {
		t.Fatal(err)
	}

	// The uninstaller knows the directories from install time: no INSTALL_* variables now.
	uninstall := filepath.Join(d.bin, "edgek-uninstall.sh")
	out, err = run(t, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + d.root}, uninstall)
	if err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	if strings.Contains(out, token) {
		t.Errorf("the token appears in the uninstaller's output:\n%s", out)
	}
	assertContains(t, "killall log", readFile(t, filepath.Join(d.root, "killall.log")), "killall EDGEK_DATA_DIR="+d.data)
	assertMissing(t,
		filepath.Join(d.bin, "edgek"),
		filepath.Join(d.bin, "ctr"),
		filepath.Join(d.bin, "edgek-killall.sh"),
		uninstall,
		filepath.Join(d.systemd, "edgek.service"),
		filepath.Join(d.systemd, "edgek.service.env"),
		d.config,
		d.data,
	)
	if got := readFile(t, filepath.Join(d.bin, "kubectl")); got != foreign {
		t.Errorf("foreign kubectl changed: %q", got)
	}
	if target, err := os.Readlink(other); err != nil || target != "/bin/true" {
		t.Errorf("re-pointed crictl: %q, %v", target, err)
	}
}

// TestSystemDirsNeverRemoved: the directories the uninstaller removes cannot be system
// directories: the installer refuses them before writing anything, and the uninstaller
// carries the same check (tested on names only: it must never run against the real ones).
func TestSystemDirsNeverRemoved(t *testing.T) {
	for _, tt := range []struct{ env, dir string }{
		{"EDGEK_DATA_DIR", "/var/lib"},
		{"EDGEK_DATA_DIR", "/usr/"},
		{"INSTALL_EDGEK_CONFIG_DIR", "/etc"},
		{"INSTALL_EDGEK_CONFIG_DIR", "//home"},
	} {
		d := newDirs(t)
		out, err := run(t, d.environ(map[string]string{tt.env: tt.dir}), script)
		if err == nil || !strings.Contains(out, "is a system directory") {
			t.Errorf("install with %s=%s: %v, want a refusal:\n%s", tt.env, tt.dir, err, out)
		}
		assertMissing(t, filepath.Join(d.bin, "edgek"), filepath.Join(d.bin, "edgek-uninstall.sh"))
	}

	d := newDirs(t)
	if out, err := run(t, d.environ(nil), script); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	uninstaller := readFile(t, filepath.Join(d.bin, "edgek-uninstall.sh"))
	start, end := strings.Index(uninstaller, "system_dir() {"), strings.Index(uninstaller, "\n}\n")
	if start < 0 || end < start || !strings.Contains(uninstaller, `if system_dir "$dir"; then`) {
		t.Fatalf("the uninstaller does not check for system directories:\n%s", uninstaller)
	}
	fn := uninstaller[start : end+3]
	for dir, system := range map[string]bool{"/": true, "/var/": true, "/var//lib": true, "/usr/local": true, "/etc": true,
		d.data: false, "/var/lib/edgek": false, "/etc/edgek": false} {
		out, _ := runProg(t, []string{"PATH=" + os.Getenv("PATH")}, "sh", "-c", fn+`if system_dir "$1"; then echo system; else echo own; fi`, "sh", dir)
		if got := strings.TrimSpace(out) == "system"; got != system {
			t.Errorf("uninstaller's system_dir %q = %q, want system %v", dir, out, system)
		}
	}
}
