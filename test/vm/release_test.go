//go:build vm

package vm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgek-io/edgek/test/testutil"
)

// releaseHost is the address the guests reach the release server at (a guestfwd rule).
const releaseHost = "10.0.2.100"

// releaseServer serves, over HTTPS from a test CA, install.sh at / and the release contract's
// layout under /releases: <version>/edgek-<arch>[.xz|.zst], <version>/sha256sum-<arch>.txt,
// channels/stable.
type releaseServer struct {
	root  string
	addr  string // 127.0.0.1:port
	caPEM []byte
}

func (r *releaseServer) baseURL() string { return "https://" + releaseHost + "/releases" }

func startReleaseServer(t *testing.T) *releaseServer {
	t.Helper()
	r := &releaseServer{root: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(r.root, "releases", "channels"), 0o755); err != nil {
		t.Fatal(err)
	}
	link(t, filepath.Join(repoRoot, "scripts", "install.sh"), filepath.Join(r.root, "install.sh"))
	cert, caPEM, err := testCert()
	if err != nil {
		t.Fatalf("release server certificate: %v", err)
	}
	r.caPEM = caPEM
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("release server: %v", err)
	}
	r.addr = ln.Addr().String()
	srv := &http.Server{
		Handler:   logRequests(t, http.FileServer(http.Dir(r.root))),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

// fixture is what every scenario starts from: the release under test, published on the
// release server, and the test workload's image for the guests' arch.
type fixture struct {
	rel     *releaseServer
	version string // of the release under test
	web     []byte // OCI archive of test/e2e/webserver
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	rel := startReleaseServer(t)
	version, files := distRelease(t, guestArch)
	rel.publish(t, version, guestArch, files)
	return fixture{rel: rel, version: version, web: webArchive(t, guestArch)}
}

// prepare makes a booted guest trust the release server and places the workload's image where
// edgek imports images from at start (the air-gap path: the guests reach no registry).
func (f fixture) prepare(t *testing.T, v *vm) {
	t.Helper()
	trustCA(t, v, f.rel.caPEM)
	v.upload(t, f.web, "/var/lib/edgek/agent/images/web.tar", 0o644)
}

func logRequests(t *testing.T, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		t.Logf("release server: %s %s", req.Method, req.URL.Path)
		h.ServeHTTP(w, req)
	})
}

// publish puts files (served name -> local path) under <version>/, writes
// sha256sum-<arch>.txt unless files has one, and makes version the stable channel.
func (r *releaseServer) publish(t *testing.T, version, arch string, files map[string]string) {
	t.Helper()
	dir := filepath.Join(r.root, "releases", version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sumName := "sha256sum-" + arch + ".txt"
	var sums strings.Builder
	for name, src := range files {
		link(t, src, filepath.Join(dir, name))
		if name != sumName {
			sum, err := fileSHA256(src)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&sums, "%s  %s\n", sum, name)
		}
	}
	if _, ok := files[sumName]; !ok {
		testutil.WriteFile(t, filepath.Join(dir, sumName), sums.String())
	}
	testutil.WriteFile(t, filepath.Join(r.root, "releases", "channels", "stable"), version+"\n")
}

// distRelease returns the release to install first: its version and its files for arch.
// It takes EDGEK_DIST (or dist/) when that holds edgek-<arch>; else EDGEK_BIN or bin/edgek
// (amd64).
func distRelease(t *testing.T, arch string) (string, map[string]string) {
	t.Helper()
	dist := envOr("EDGEK_DIST", filepath.Join(repoRoot, "dist"))
	if _, err := os.Stat(filepath.Join(dist, "edgek-"+arch)); err == nil {
		version, err := os.ReadFile(filepath.Join(dist, "version"))
		if err != nil {
			t.Fatalf("release dir %s: %v", dist, err)
		}
		matches, _ := filepath.Glob(filepath.Join(dist, "edgek-"+arch+"*"))
		files := map[string]string{"sha256sum-" + arch + ".txt": filepath.Join(dist, "sha256sum-"+arch+".txt")}
		for _, m := range matches {
			files[filepath.Base(m)] = m
		}
		return strings.TrimSpace(string(version)), files
	}
	if os.Getenv("EDGEK_DIST") != "" || arch != "amd64" {
		t.Fatalf("no %s/edgek-%s: run `make release` first", dist, arch)
	}
	bin := envOr("EDGEK_BIN", filepath.Join(repoRoot, "bin", "edgek"))
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("no dist/ and %s --version: %v (run `make build` or `make release`)", bin, err)
	}
	t.Logf("no dist/edgek-%s: serving %s (%s)", arch, bin, firstLine(string(out)))
	version := "v0.0.0-vmtest"
	if f := strings.Fields(firstLine(string(out))); len(f) >= 3 && f[1] == "version" {
		version = f[2] // "edgek version v0.3.0 (abc1234)"
	}
	return version, map[string]string{"edgek-" + arch: bin}
}

// upgradeBinary returns the "newer build" for the upgrade step and its version: EDGEK_UPGRADE_BIN,
// else the tree built for arch with version+"-upgrade" stamped.
func upgradeBinary(t *testing.T, arch, version string) (string, string) {
	t.Helper()
	next := version + "-upgrade"
	if bin := os.Getenv("EDGEK_UPGRADE_BIN"); bin != "" {
		return bin, envOr("EDGEK_UPGRADE_VERSION", next)
	}
	if arch != runtime.GOARCH {
		// A build from the tree embeds the host's data archive (pkg/data/assets): a foreign
		// binary must come from scripts/release.sh (make vm-test-arm64 does that).
		t.Fatalf("the upgrade binary for %s must be given as EDGEK_UPGRADE_BIN (see make vm-test-arm64)", arch)
	}
	bin := filepath.Join(t.TempDir(), "edgek-"+arch)
	start := time.Now()
	cmd := exec.Command("go", "build", "-ldflags",
		"-s -w -X github.com/edgek-io/edgek/pkg/version.Version="+next, "-o", bin, "./cmd/edgek")
	cmd.Dir = repoRoot
	// The Makefile's flags, so that the build cache of `make build` serves this build.
	cmd.Env = append(os.Environ(), "GOARCH="+arch, "CGO_ENABLED=0",
		"GOFLAGS="+envOr("GOFLAGS", "-trimpath -buildvcs=false -tags=no_devmapper,no_zfs,no_btrfs"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the upgrade binary: %v\n%s", err, out)
	}
	t.Logf("built the upgrade binary %s in %s", next, time.Since(start).Round(time.Second))
	return bin, next
}

func testCert() (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	// Valid from 1970: the clock test installs on a guest whose clock is in the 1970s.
	notBefore, notAfter := time.Unix(0, 0), time.Now().Add(24*time.Hour)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edgek vm-test CA"},
		NotBefore: notBefore, NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: releaseHost},
		NotBefore: notBefore, NotAfter: notAfter,
		IPAddresses: []net.IP{net.ParseIP(releaseHost), net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func link(t *testing.T, src, dst string) {
	t.Helper()
	abs, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, dst); err != nil {
		t.Fatal(err)
	}
}

func firstLine(s string) string { return strings.SplitN(strings.TrimSpace(s), "\n", 2)[0] }
