package install

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	v1 = "v0.3.0"
	v2 = "v0.4.0-2-gabc1234"
)

// download runs the installer against s with PATH = path, and returns its output; with
// fail set, the install must fail and leave nothing behind.
func download(t *testing.T, d dirs, s server, path string, env map[string]string, fail string, args ...string) string {
	t.Helper()
	e := s.installEnv(env)
	e["PATH"] = path
	out, err := run(t, d.environ(e), script, args...)
	if strings.Contains(out, token) {
		t.Errorf("the token appears in the installer's output:\n%s", out)
	}
	switch {
	case fail == "" && err != nil:
		t.Fatalf("install: %v\n%s", err, out)
	case fail != "" && err == nil:
		t.Fatalf("install succeeded, want failure mentioning %q:\n%s", fail, out)
	case fail != "":
		assertContains(t, "output", out, fail)
		assertNoTemp(t, d)
	}
	return out
}

func assertNoTemp(t *testing.T, d dirs) {
	t.Helper()
	if left, _ := filepath.Glob(filepath.Join(d.bin, ".edgek.install.*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// assertInstalled checks that bin/edgek is want, with mode 0755.
func assertInstalled(t *testing.T, d dirs, want string) {
	t.Helper()
	path := filepath.Join(d.bin, "edgek")
	if got := readFile(t, path); got != want {
		t.Errorf("installed binary is\n%s\nwant\n%s", got, want)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("installed binary: %v, %v; want mode 0755", fi, err)
	}
	assertNoTemp(t, d)
}

func assertAsked(t *testing.T, asked []string, want, notWant []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(asked, w) {
			t.Errorf("the installer did not ask for %s; it asked for %v", w, asked)
		}
	}
	for _, n := range notWant {
		if slices.Contains(asked, n) {
			t.Errorf("the installer asked for %s; it asked for %v", n, asked)
		}
	}
}

func TestDownloadArch(t *testing.T) {
	tests := []struct{ machine, arch string }{
		{"x86_64", "amd64"}, {"amd64", "amd64"},
		{"aarch64", "arm64"}, {"arm64", "arm64"},
		{"armv7l", "armhf"}, {"armv7", "armhf"}, {"armv8l", "armhf"},
		{"armv6l", ""}, {"i686", ""}, {"mips64", ""}, {"riscv64", ""},
	}
	for _, tt := range tests {
		t.Run(tt.machine, func(t *testing.T) {
			t.Parallel()
			d := newDirs(t)
			s := newServer(t, d, true)
			for _, arch := range []string{"amd64", "arm64", "armhf"} {
				s.add(t, v1, arch)
			}
			path := toolPath(t, d, tt.machine, "curl")
			env := map[string]string{"INSTALL_EDGEK_VERSION": v1}
			if tt.arch == "" {
				download(t, d, s, path, env, "unsupported architecture '"+tt.machine+"'")
				out := download(t, d, s, path, env, "x86_64/amd64 (amd64), aarch64/arm64 (arm64) and armv7l/armv8l (armhf")
				assertMissing(t, filepath.Join(d.bin, "edgek"))
				if asked := s.requests(); len(asked) > 0 {
					t.Errorf("asked %v for an unsupported arch:\n%s", asked, out)
				}
				return
			}
			out := download(t, d, s, path, env, "")
			assertInstalled(t, d, fakeBinary(v1, tt.arch))
			assertAsked(t, s.requests(), []string{v1 + "/sha256sum-" + tt.arch + ".txt", v1 + "/edgek-" + tt.arch}, nil)
			assertContains(t, "output", out, "checked the sha256 of edgek-"+tt.arch)
		})
	}
}

func TestDownloadVersion(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		// want is the version installed, or empty when the install fails with fail.
		want, fail string
		asked      []string
	}{
		{name: "stable channel by default", want: v2, asked: []string{"channels/stable", v2 + "/edgek-amd64"}},
		{name: "other channel", env: map[string]string{"INSTALL_EDGEK_CHANNEL": "old"}, want: v1, asked: []string{"channels/old"}},
		{name: "pinned version", env: map[string]string{"INSTALL_EDGEK_VERSION": v1}, want: v1, asked: []string{v1 + "/edgek-amd64"}},
		{name: "unknown channel", env: map[string]string{"INSTALL_EDGEK_CHANNEL": "beta"}, fail: "channels/beta (is 'beta' a channel of"},
		{name: "bad channel name", env: map[string]string{"INSTALL_EDGEK_CHANNEL": "../x"}, fail: "not a channel name"},
		{name: "channel without a version", env: map[string]string{"INSTALL_EDGEK_CHANNEL": "broken"}, fail: "does not hold a version"},
		{name: "unreleased version", env: map[string]string{"INSTALL_EDGEK_VERSION": "v9.9.9"}, fail: "is v9.9.9 released for amd64?"},
		{name: "bad version", env: map[string]string{"INSTALL_EDGEK_VERSION": "v1 && true"}, fail: "is not a version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDirs(t)
			s := newServer(t, d, true)
			s.add(t, v1, "amd64")
			s.add(t, v2, "amd64")
			s.set("channels/stable", []byte(v2+"\n"))
			s.set("channels/old", []byte(v1+"\r\n"))
			s.set("channels/broken", []byte("<html>not found</html>\n"))
			out := download(t, d, s, toolPath(t, d, "x86_64", "curl"), tt.env, tt.fail)
			asked := s.requests()
			if tt.fail != "" {
				assertMissing(t, filepath.Join(d.bin, "edgek"), filepath.Join(d.systemd, "edgek.service"))
				return
			}
			assertInstalled(t, d, fakeBinary(tt.want, "amd64"))
			assertAsked(t, asked, tt.asked, nil)
			if tt.env["INSTALL_EDGEK_VERSION"] != "" {
				assertAsked(t, asked, nil, []string{"channels/stable"})
			}
			assertContains(t, "output", out, "edgek version "+tt.want)
		})
	}
}

// listedSum is the checksum the release's sha256sum file lists for name.
func listedSum(t *testing.T, s server, version, arch, name string) string {
	t.Helper()
	for _, line := range strings.Split(string(s.files[version+"/sha256sum-"+arch+".txt"]), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == name {
			return f[0]
		}
	}
	t.Fatalf("no %s in the sha256sum file", name)
	return ""
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestDownloadChecksumMismatch(t *testing.T) {
	for _, form := range []string{"", "gz"} {
		name := "edgek-amd64"
		tools := []string{"curl"}
		if form != "" {
			name += "." + form
			tools = append(tools, "gzip")
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := newDirs(t)
			s := newServer(t, d, true)
			s.add(t, v1, "amd64", "gz")
			// The file on the server is not the one the checksum file names.
			s.set(v1+"/"+name, []byte("tampered"))
			out := download(t, d, s, toolPath(t, d, "x86_64", tools...), map[string]string{"INSTALL_EDGEK_VERSION": v1}, "checksum mismatch for "+name)
			assertContains(t, "output", out,
				"expected "+listedSum(t, s, v1, "amd64", name), "got "+sha256Hex([]byte("tampered")),
				v1+"/sha256sum-amd64.txt", "nothing was installed")
			assertMissing(t, filepath.Join(d.bin, "edgek"), filepath.Join(d.systemd, "edgek.service"),
				filepath.Join(d.systemd, "edgek.service.env"), filepath.Join(d.bin, "edgek-uninstall.sh"),
				filepath.Join(d.bin, "edgek-killall.sh"), filepath.Join(d.bin, "kubectl"))
		})
	}
}

// An upgrade whose download does not match changes nothing of the running install.
func TestDownloadChecksumMismatchKeepsInstall(t *testing.T) {
	d := newDirs(t)
	s := newServer(t, d, true)
	old := s.add(t, v1, "amd64")
	s.add(t, v2, "amd64")
	s.set(v2+"/edgek-amd64", []byte("tampered"))
	path := toolPath(t, d, "x86_64", "curl")
	download(t, d, s, path, map[string]string{"INSTALL_EDGEK_VERSION": v1, "EDGEK_TOKEN": token}, "")
	files := []string{"edgek", "edgek-uninstall.sh", "edgek-killall.sh"}
	before := map[string]string{}
	for _, f := range files {
		before[f] = readFile(t, filepath.Join(d.bin, f))
	}
	unit, env := readFile(t, filepath.Join(d.systemd, "edgek.service")), envFile(t, d, "edgek")

	download(t, d, s, path, map[string]string{"INSTALL_EDGEK_VERSION": v2, "EDGEK_TOKEN": "other"}, "checksum mismatch for edgek-amd64")
	assertInstalled(t, d, old)
	for _, f := range files {
		if got := readFile(t, filepath.Join(d.bin, f)); got != before[f] {
			t.Errorf("%s changed by the refused upgrade", f)
		}
	}
	if readFile(t, filepath.Join(d.systemd, "edgek.service")) != unit || envFile(t, d, "edgek") != env {
		t.Error("the unit or env file changed by the refused upgrade")
	}
}
