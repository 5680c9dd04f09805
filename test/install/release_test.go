package install

// A fake release server in the layout of /work/notes/release-contract.md (and of `make
// release`'s dist/): <version>/edgek-<arch>[.zst|.xz|.gz], <version>/sha256sum-<arch>.txt
// and channels/<channel>, served on loopback only.

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/edgek-io/edgek/test/testutil"
)

// fakeBinary is an edgek stand-in that says which version and arch it is, and logs the
// killall calls (with the data dir it was given by environment) to $HOME/killall.log.
func fakeBinary(version, arch string) string {
	return `#!/bin/sh
case "$1" in
--version) echo "edgek version ` + version + ` (` + arch + `)"; exit 0 ;;
killall) shift; echo "killall${*:+ $*} EDGEK_DATA_DIR=${EDGEK_DATA_DIR:-}" >>"$HOME/killall.log"; exit 0 ;;
esac
exit 0
`
}

// release is the content of a fake release server, and the paths asked of it.
type release struct {
	mu    sync.Mutex
	files map[string][]byte
	asked []string
}

func (r *release) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path := strings.TrimPrefix(req.URL.Path, "/")
	r.mu.Lock()
	r.asked = append(r.asked, path)
	b, ok := r.files[path]
	r.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	_, _ = w.Write(b)
}

func (r *release) set(path string, content []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[path] = content
}

// requests returns the paths asked so far, and forgets them.
func (r *release) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	asked := r.asked
	r.asked = nil
	return asked
}

// add publishes version for arch: the raw binary and the given compressed forms ("zst",
// "xz", "gz"), with their sha256sum file. It returns the raw binary.
func (r *release) add(t *testing.T, version, arch string, forms ...string) string {
	t.Helper()
	raw := fakeBinary(version, arch)
	name := "edgek-" + arch
	files := map[string][]byte{name: []byte(raw)}
	for _, f := range forms {
		files[name+"."+f] = compress(t, f, []byte(raw))
	}
	var sums strings.Builder
	for _, n := range slices.Sorted(maps.Keys(files)) {
		sum := sha256.Sum256(files[n])
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), n)
		r.set(version+"/"+n, files[n])
	}
	r.set(version+"/sha256sum-"+arch+".txt", []byte(sums.String()))
	return raw
}

func compress(t *testing.T, form string, b []byte) []byte {
	t.Helper()
	if form == "gz" {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tool := map[string]string{"zst": "zstd", "xz": "xz"}[form]
	needTool(t, tool)
	cmd := exec.CommandContext(t.Context(), tool, "-q", "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return out
}

// needTool returns the path of tool, which scripts/ci-deps.sh (make deps) installs.
func needTool(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s: %v (scripts/ci-deps.sh installs shellcheck, busybox, zstd, xz-utils and wget)", tool, err)
	}
	return path
}

// server is a fake release served over TLS (or plain http) on loopback.
type server struct {
	*release
	url string
	// env makes the installer's curl (CURL_CA_BUNDLE) and wget (WGETRC) trust the server.
	env map[string]string
}

func newServer(t *testing.T, d dirs, tls bool) server {
	t.Helper()
	r := &release{files: map[string][]byte{}}
	s := server{release: r, env: map[string]string{}}
	if !tls {
		ts := httptest.NewServer(r)
		t.Cleanup(ts.Close)
		s.url = ts.URL
		return s
	}
	ts := httptest.NewTLSServer(r)
	t.Cleanup(ts.Close)
	s.url = ts.URL
	ca := filepath.Join(d.root, "release-ca.pem")
	testutil.WriteFileMode(t, ca, certPEM(ts), 0o644)
	wgetrc := filepath.Join(d.root, "wgetrc")
	testutil.WriteFileMode(t, wgetrc, "ca_certificate = "+ca+"\n", 0o644)
	s.env["CURL_CA_BUNDLE"] = ca
	s.env["WGETRC"] = wgetrc
	return s
}

// installEnv is the environment for installing from s, plus extra.
func (s server) installEnv(extra map[string]string) map[string]string {
	env := map[string]string{"INSTALL_EDGEK_URL": s.url, "INSTALL_EDGEK_BIN": ""}
	for k, v := range s.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// minimalTools are the only commands the installer may use on a minimal Debian, Raspberry
// Pi OS or Alpine (busybox) host, besides curl/wget and the decompressors.
var minimalTools = []string{
	"sh", "cat", "chmod", "cp", "mkdir", "mv", "rm", "ln", "readlink", "sed", "awk", "tr",
	"head", "env", "sort", "id", "mktemp", "cksum", "sha256sum", "uname",
}

// toolPath makes a directory holding only minimalTools plus extra (links to the host's),
// with `uname -m` answering machine when it is set, and returns it for PATH.
func toolPath(t *testing.T, d dirs, machine string, extra ...string) string {
	t.Helper()
	dir, err := os.MkdirTemp(d.root, "path")
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range append(slices.Clone(minimalTools), extra...) {
		if err := os.Symlink(needTool(t, tool), filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	if machine != "" {
		real := needTool(t, "uname")
		uname := filepath.Join(dir, "uname")
		if err := os.Remove(uname); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFileMode(t, uname, "#!/bin/sh\n[ \"$1\" = -m ] && { echo "+machine+"; exit 0; }\nexec "+real+" \"$@\"\n", 0o755)
	}
	return dir
}

// certPEM is the certificate of a TLS test server, for a client to trust.
func certPEM(ts *httptest.Server) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}))
}

// busyboxPath makes a directory where every tool the installer uses is a busybox applet, as
// on Alpine, except curl (the host's) and extra host tools; it returns it and busybox's path.
func busyboxPath(t *testing.T, d dirs, extra ...string) (dir, busybox string) {
	t.Helper()
	busybox = needTool(t, "busybox")
	dir, err := os.MkdirTemp(d.root, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	applets := append(slices.Clone(minimalTools), "unxz", "gzip", "cmp")
	for _, applet := range applets {
		if applet == "cksum" {
			continue // not in Debian's busybox: the installer must do without
		}
		if err := os.Symlink(busybox, filepath.Join(dir, applet)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range append([]string{"curl"}, extra...) {
		if err := os.Symlink(needTool(t, tool), filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, busybox
}
