package install

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/test/testutil"
)

func TestDownloadHTTP(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		d := newDirs(t)
		s := newServer(t, d, false)
		s.add(t, v1, "amd64")
		download(t, d, s, toolPath(t, d, "x86_64", "curl"), map[string]string{"INSTALL_EDGEK_VERSION": v1},
			"is plain http")
		out := download(t, d, s, toolPath(t, d, "", "curl"), map[string]string{"INSTALL_EDGEK_VERSION": v1},
			"set INSTALL_EDGEK_ALLOW_HTTP=true")
		if asked := s.requests(); len(asked) > 0 {
			t.Errorf("asked %v over plain http:\n%s", asked, out)
		}
		assertMissing(t, filepath.Join(d.bin, "edgek"))
	})
	t.Run("allowed", func(t *testing.T) {
		t.Parallel()
		d := newDirs(t)
		s := newServer(t, d, false)
		raw := s.add(t, v1, "amd64")
		out := download(t, d, s, toolPath(t, d, "x86_64", "curl"),
			map[string]string{"INSTALL_EDGEK_VERSION": v1, "INSTALL_EDGEK_ALLOW_HTTP": "true"}, "")
		assertInstalled(t, d, raw)
		assertContains(t, "output", out, "plain http (INSTALL_EDGEK_ALLOW_HTTP=true)")
	})
	t.Run("other scheme", func(t *testing.T) {
		t.Parallel()
		d := newDirs(t)
		s := newServer(t, d, true)
		download(t, d, s, toolPath(t, d, "x86_64", "curl"),
			map[string]string{"INSTALL_EDGEK_URL": "ftp://127.0.0.1/edgek", "INSTALL_EDGEK_VERSION": v1}, "must be an https:// URL")
	})
	// An https release that redirects to plain http is refused by curl's --proto-redir.
	t.Run("redirect to http", func(t *testing.T) {
		t.Parallel()
		d := newDirs(t)
		plain := newServer(t, d, false)
		plain.add(t, v1, "amd64")
		s := newServer(t, d, true)
		redirect := httptest.NewTLSServer(http.RedirectHandler(plain.url+"/"+v1+"/sha256sum-amd64.txt", http.StatusFound))
		t.Cleanup(redirect.Close)
		testutil.WriteFileMode(t, s.env["CURL_CA_BUNDLE"], certPEM(redirect), 0o644)
		out := download(t, d, s, toolPath(t, d, "x86_64", "curl"),
			map[string]string{"INSTALL_EDGEK_URL": redirect.URL, "INSTALL_EDGEK_VERSION": v1}, "could not download")
		assertContains(t, "output", out, `Protocol "http" not supported or disabled`)
		if asked := plain.requests(); len(asked) > 0 {
			t.Errorf("followed a redirect to plain http: %v", asked)
		}
	})
}

func TestDownloadCompressed(t *testing.T) {
	tests := []struct {
		name    string
		offered []string
		tools   []string
		// want is the file downloaded; note is printed.
		want, note string
		corrupt    bool
	}{
		{name: "zstd preferred", offered: []string{"zst", "xz"}, tools: []string{"zstd", "xz", "gzip"}, want: "edgek-amd64.zst"},
		{name: "xz without zstd", offered: []string{"zst", "xz"}, tools: []string{"xz", "gzip"}, want: "edgek-amd64.xz"},
		{name: "unxz without xz (busybox)", offered: []string{"zst", "xz"}, tools: []string{"unxz"}, want: "edgek-amd64.xz"},
		{name: "gzip", offered: []string{"gz"}, tools: []string{"gzip"}, want: "edgek-amd64.gz"},
		{name: "raw without a decompressor", offered: []string{"zst", "xz"}, want: "edgek-amd64",
			note: "no decompressor here for edgek-amd64.zst edgek-amd64.xz: downloading the uncompressed edgek-amd64"},
		{name: "raw when decompressing fails", offered: []string{"zst"}, tools: []string{"zstd"}, corrupt: true, want: "edgek-amd64",
			note: "could not decompress edgek-amd64.zst with zstd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDirs(t)
			s := newServer(t, d, true)
			raw := s.add(t, v1, "amd64", tt.offered...)
			if tt.corrupt {
				// A file the checksum file vouches for, that zstd cannot read.
				s.set(v1+"/edgek-amd64.zst", []byte("not zstd"))
				sums := "" + sha256Hex([]byte("not zstd")) + "  edgek-amd64.zst\n" +
					listedSum(t, s, v1, "amd64", "edgek-amd64") + "  edgek-amd64\n"
				s.set(v1+"/sha256sum-amd64.txt", []byte(sums))
			}
			out := download(t, d, s, toolPath(t, d, "x86_64", append([]string{"curl"}, tt.tools...)...),
				map[string]string{"INSTALL_EDGEK_VERSION": v1}, "")
			assertInstalled(t, d, raw)
			asked := s.requests()
			assertAsked(t, asked, []string{v1 + "/" + tt.want}, nil)
			if !tt.corrupt && tt.want != "edgek-amd64" {
				assertAsked(t, asked, nil, []string{v1 + "/edgek-amd64"})
				assertContains(t, "output", out, "checked the sha256 of "+tt.want, "checked the sha256 of edgek-amd64")
			}
			assertContains(t, "output", out, tt.note)
		})
	}
}

// With wget and no curl (busybox-like hosts), the download works the same.
func TestDownloadWget(t *testing.T) {
	d := newDirs(t)
	s := newServer(t, d, true)
	raw := s.add(t, v1, "arm64", "gz")
	s.set("channels/stable", []byte(v1+"\n"))
	download(t, d, s, toolPath(t, d, "aarch64", "wget", "gzip"), nil, "")
	assertInstalled(t, d, raw)
	assertAsked(t, s.requests(), []string{"channels/stable", v1 + "/edgek-arm64.gz"}, nil)
}

// Without INSTALL_EDGEK_URL the installer asks the documented default, over https only.
// curl is a stand-in that records its arguments: nothing leaves this machine.
func TestDownloadDefaultURL(t *testing.T) {
	d := newDirs(t)
	s := newServer(t, d, true)
	path := toolPath(t, d, "x86_64")
	log := filepath.Join(d.root, "curl.args")
	testutil.WriteFileMode(t, filepath.Join(path, "curl"), "#!/bin/sh\necho \"$*\" >>"+log+"\nexit 22\n", 0o755)
	download(t, d, s, path, map[string]string{"INSTALL_EDGEK_URL": ""},
		"could not download https://github.com/edgek-io/edgek/releases/download/channels/stable")
	args := readFile(t, log)
	assertContains(t, "curl arguments", args, "--proto =https --proto-redir =https",
		"https://github.com/edgek-io/edgek/releases/download/channels/stable")
	if strings.Contains(args, "-k") || strings.Contains(args, "--insecure") {
		t.Errorf("curl runs insecure: %s", args)
	}
}

func TestDownloadNeedsCurlOrWget(t *testing.T) {
	d := newDirs(t)
	s := newServer(t, d, true)
	download(t, d, s, toolPath(t, d, "x86_64"), map[string]string{"INSTALL_EDGEK_VERSION": v1},
		"neither curl nor wget is installed")
	if _, err := os.Stat(filepath.Join(d.bin, "edgek")); err == nil {
		t.Error("installed without a download")
	}
}

// The installer runs on busybox's sh and applets (Alpine): install, then re-run unchanged.
func TestBusybox(t *testing.T) {
	d := newDirs(t)
	s := newServer(t, d, true)
	raw := s.add(t, v1, "amd64", "xz")
	s.set("channels/stable", []byte(v1+"\n"))
	path, busybox := busyboxPath(t, d)
	e := s.installEnv(map[string]string{"PATH": path, "EDGEK_TOKEN": token})
	for i, want := range []string{"restart needed: true", "restart needed: false"} {
		out, err := runProg(t, d.environ(e), busybox, "sh", script)
		if err != nil {
			t.Fatalf("install %d under busybox sh: %v\n%s", i, err, out)
		}
		assertContains(t, "output", out, want)
		if i == 0 {
			assertContains(t, "output", out, "downloading "+s.url+"/"+v1+"/edgek-amd64.xz", "checked the sha256 of edgek-amd64")
		}
	}
	assertInstalled(t, d, raw)
	assertUnit(t, d, "edgek", "server")
	assertContains(t, "env file", envFile(t, d, "edgek"), `EDGEK_TOKEN="`+token+`"`)
	out, err := runProg(t, []string{"PATH=" + path, "HOME=" + d.root}, busybox, "sh", filepath.Join(d.bin, "edgek-uninstall.sh"))
	if err != nil {
		t.Fatalf("uninstall under busybox sh: %v\n%s", err, out)
	}
	assertMissing(t, filepath.Join(d.bin, "edgek"), filepath.Join(d.systemd, "edgek.service"), filepath.Join(d.bin, "edgek-killall.sh"))
}
