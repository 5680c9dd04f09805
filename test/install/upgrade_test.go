package install

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/edgek-io/edgek/test/testutil"
)

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// Re-running the installer upgrades in place: the binary is replaced by a rename (a new
// inode: the running edgek keeps its file) and the service is restarted only when the
// binary, unit or env file changed.
func TestUpgrade(t *testing.T) {
	d := newDirs(t)
	s := newServer(t, d, true)
	s.add(t, v1, "amd64", "gz")
	newer := s.add(t, v2, "amd64", "gz")
	path := toolPath(t, d, "x86_64", "curl", "gzip")
	env := map[string]string{"EDGEK_TOKEN": token}
	bin := filepath.Join(d.bin, "edgek")

	s.set("channels/stable", []byte(v1+"\n"))
	out := download(t, d, s, path, env, "")
	assertContains(t, "output", out, "restart needed: true")
	before := inode(t, bin)
	unit := readFile(t, filepath.Join(d.systemd, "edgek.service"))

	s.set("channels/stable", []byte(v2+"\n"))
	out = download(t, d, s, path, env, "")
	assertInstalled(t, d, newer)
	assertContains(t, "output", out, "version "+v2+" (channel stable", "restart needed: true")
	if inode(t, bin) == before {
		t.Error("the binary was rewritten in place, not replaced by a rename")
	}
	if got := readFile(t, filepath.Join(d.systemd, "edgek.service")); got != unit {
		t.Errorf("the unit changed on upgrade:\n%s", got)
	}
	assertContains(t, "uninstaller", readFile(t, filepath.Join(d.bin, "edgek-uninstall.sh")), "edgek version "+v2)

	// The same again: nothing is downloaded, nothing restarted.
	s.requests()
	out = download(t, d, s, path, env, "")
	assertContains(t, "output", out, "already (same sha256): nothing to download", "restart needed: false: nothing changed")
	assertAsked(t, s.requests(), nil, []string{v2 + "/edgek-amd64.gz", v2 + "/edgek-amd64"})

	// A changed env file restarts; so does INSTALL_EDGEK_FORCE_RESTART.
	out = download(t, d, s, path, map[string]string{"EDGEK_TOKEN": token, "EDGEK_NODE_NAME": "n1"}, "")
	assertContains(t, "output", out, "restart needed: true")
	out = download(t, d, s, path, map[string]string{"EDGEK_TOKEN": token, "EDGEK_NODE_NAME": "n1", "INSTALL_EDGEK_FORCE_RESTART": "true"}, "")
	assertContains(t, "output", out, "restart needed: true")
}

// A local binary re-installed unchanged does not restart the service either.
func TestReinstallLocalUnchanged(t *testing.T) {
	d := newDirs(t)
	for i, want := range []string{"restart needed: true", "restart needed: false"} {
		out, err := run(t, d.environ(nil), script)
		if err != nil {
			t.Fatalf("install %d: %v\n%s", i, err, out)
		}
		assertContains(t, "output", out, want)
	}
}

// The air-gap path: the binary is copied to $BIN_DIR/edgek by hand, nothing is downloaded.
func TestSkipDownload(t *testing.T) {
	t.Run("placed binary", func(t *testing.T) {
		t.Parallel()
		d := newDirs(t)
		s := newServer(t, d, true)
		s.add(t, v1, "amd64")
		placed := fakeBinary(v2, "arm64")
		testutil.WriteFileMode(t, filepath.Join(d.bin, "edgek"), placed, 0o644)
		out := download(t, d, s, toolPath(t, d, "x86_64"), map[string]string{"INSTALL_EDGEK_SKIP_DOWNLOAD": "true"}, "")
		assertInstalled(t, d, placed)
		assertUnit(t, d, "edgek", "server")
		assertContains(t, "output", out, "INSTALL_EDGEK_SKIP_DOWNLOAD=true", "edgek version "+v2, "restart needed: true")
		if asked := s.requests(); len(asked) > 0 {
			t.Errorf("downloaded %v with INSTALL_EDGEK_SKIP_DOWNLOAD=true", asked)
		}
	})
	t.Run("no binary placed", func(t *testing.T) {
		t.Parallel()
		d := newDirs(t)
		s := newServer(t, d, true)
		download(t, d, s, toolPath(t, d, "x86_64"), map[string]string{"INSTALL_EDGEK_SKIP_DOWNLOAD": "true"},
			"copy the edgek binary for this machine there first")
		assertMissing(t, filepath.Join(d.systemd, "edgek.service"))
	})
	t.Run("with INSTALL_EDGEK_BIN", func(t *testing.T) {
		t.Parallel()
		d := newDirs(t)
		s := newServer(t, d, true)
		download(t, d, s, toolPath(t, d, "x86_64"),
			map[string]string{"INSTALL_EDGEK_SKIP_DOWNLOAD": "true", "INSTALL_EDGEK_BIN": d.fake}, "not both")
	})
}
