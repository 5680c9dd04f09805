package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// layout is a parsed OCI image layout archive.
type layout struct {
	ociLayout []byte
	index     Index
	blobs     map[string][]byte // by digest
	names     []string          // tar entry names in order
}

// parseArchive reads an archive and checks that every blob is stored under its digest.
func parseArchive(t *testing.T, data []byte) layout {
	t.Helper()
	l := layout{blobs: map[string][]byte{}}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read archive: %v", err)
		}
		l.names = append(l.names, hdr.Name)
		if !hdr.ModTime.Equal(epoch) {
			t.Errorf("%s: mtime %v, want %v", hdr.Name, hdr.ModTime, epoch)
		}
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case hdr.Name == "oci-layout":
			l.ociLayout = body
		case hdr.Name == "index.json":
			if err := json.Unmarshal(body, &l.index); err != nil {
				t.Fatalf("index.json: %v", err)
			}
		case strings.HasPrefix(hdr.Name, "blobs/sha256/"):
			d := "sha256:" + strings.TrimPrefix(hdr.Name, "blobs/sha256/")
			if got := Digest(body); got != d {
				t.Errorf("blob %s has digest %s", hdr.Name, got)
			}
			l.blobs[d] = body
		default:
			t.Errorf("unexpected archive entry %q", hdr.Name)
		}
	}
	return l
}

// blob returns the blob desc points to, checking size and media type.
func (l layout) blob(t *testing.T, desc Descriptor, mediaType string) []byte {
	t.Helper()
	b, ok := l.blobs[desc.Digest]
	if !ok {
		t.Fatalf("blob %s (%s) missing", desc.Digest, desc.MediaType)
	}
	if int64(len(b)) != desc.Size {
		t.Errorf("blob %s: size %d, descriptor says %d", desc.Digest, len(b), desc.Size)
	}
	if desc.MediaType != mediaType {
		t.Errorf("blob %s: media type %q, want %q", desc.Digest, desc.MediaType, mediaType)
	}
	return b
}

type layerEntry struct {
	hdr  *tar.Header
	data []byte
}

// image resolves one index entry to its manifest, config and layer entries.
func (l layout) image(t *testing.T, desc Descriptor) (Manifest, Config, []layerEntry) {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(l.blob(t, desc, MediaTypeManifest), &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if m.SchemaVersion != 2 || m.MediaType != MediaTypeManifest {
		t.Errorf("manifest header: %d %q", m.SchemaVersion, m.MediaType)
	}
	var c Config
	if err := json.Unmarshal(l.blob(t, m.Config, MediaTypeConfig), &c); err != nil {
		t.Fatalf("config: %v", err)
	}
	if len(m.Layers) != 1 {
		t.Fatalf("layers: %d, want 1", len(m.Layers))
	}
	zr, err := gzip.NewReader(bytes.NewReader(l.blob(t, m.Layers[0], MediaTypeLayer)))
	if err != nil {
		t.Fatalf("layer gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("layer gzip: %v", err)
	}
	if c.RootFS.Type != "layers" || len(c.RootFS.DiffIDs) != 1 || c.RootFS.DiffIDs[0] != Digest(raw) {
		t.Errorf("rootfs %+v, uncompressed layer digest %s", c.RootFS, Digest(raw))
	}
	var entries []layerEntry
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("layer tar: %v", err)
		}
		data, _ := io.ReadAll(tr)
		entries = append(entries, layerEntry{hdr, data})
	}
	return m, c, entries
}

var pauseImage = Image{
	Ref:          "docker.io/edgek/pause:3.10",
	Entrypoint:   []string{"/pause"},
	Env:          []string{"PATH=/"},
	ExposedPorts: []string{"8080/tcp"},
	WorkingDir:   "/",
	Files: []File{
		{Path: "/pause", Mode: 0o755, Data: []byte("\x7fELF pretend")},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0::/:/pause\n")},
		{Path: "/bin/sh", Mode: os.ModeSymlink, Data: []byte("/pause")},
		{Path: "/tmp", Mode: os.ModeDir | os.ModeSticky | 0o777},
	},
}

func writeArchive(t *testing.T, imgs ...Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteArchive(&buf, imgs...); err != nil {
		t.Fatalf("WriteArchive: %v", err)
	}
	return buf.Bytes()
}

func TestWriteArchiveRoundTrip(t *testing.T) {
	l := parseArchive(t, writeArchive(t, pauseImage))

	if string(l.ociLayout) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %s", l.ociLayout)
	}
	if l.index.SchemaVersion != 2 || l.index.MediaType != MediaTypeIndex || len(l.index.Manifests) != 1 {
		t.Fatalf("index = %+v", l.index)
	}
	desc := l.index.Manifests[0]
	if got := desc.Annotations[AnnotationImageName]; got != "docker.io/edgek/pause:3.10" {
		t.Errorf("%s = %q", AnnotationImageName, got)
	}
	if got := desc.Annotations[AnnotationRefName]; got != "3.10" {
		t.Errorf("%s = %q", AnnotationRefName, got)
	}
	if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != runtime.GOARCH {
		t.Errorf("platform = %+v", desc.Platform)
	}
	if len(l.blobs) != 3 {
		t.Errorf("%d blobs, want 3 (manifest, config, layer)", len(l.blobs))
	}

	_, cfg, entries := l.image(t, desc)
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("config platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/pause"}) || !slices.Equal(cfg.Config.Env, []string{"PATH=/"}) ||
		cfg.Config.WorkingDir != "/" || cfg.Config.Cmd != nil {
		t.Errorf("config = %+v", cfg.Config)
	}
	if _, ok := cfg.Config.ExposedPorts["8080/tcp"]; !ok || len(cfg.Config.ExposedPorts) != 1 {
		t.Errorf("exposed ports = %v", cfg.Config.ExposedPorts)
	}

	type want struct {
		typ  byte
		mode int64
		data string
	}
	wants := map[string]want{
		"bin/":       {tar.TypeDir, 0o755, ""},
		"bin/sh":     {tar.TypeSymlink, 0o777, ""},
		"etc/":       {tar.TypeDir, 0o755, ""},
		"etc/passwd": {tar.TypeReg, 0o644, "root:x:0:0::/:/pause\n"},
		"pause":      {tar.TypeReg, 0o755, "\x7fELF pretend"},
		"tmp/":       {tar.TypeDir, 0o1777, ""},
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.hdr.Name)
		w, ok := wants[e.hdr.Name]
		if !ok {
			t.Errorf("unexpected layer entry %q", e.hdr.Name)
			continue
		}
		if e.hdr.Typeflag != w.typ || e.hdr.Mode != w.mode || string(e.data) != w.data {
			t.Errorf("%s: type %c mode %o data %q, want %c %o %q", e.hdr.Name, e.hdr.Typeflag, e.hdr.Mode, e.data, w.typ, w.mode, w.data)
		}
		if e.hdr.Uid != 0 || e.hdr.Gid != 0 || !e.hdr.ModTime.Equal(epoch) {
			t.Errorf("%s: uid %d gid %d mtime %v", e.hdr.Name, e.hdr.Uid, e.hdr.Gid, e.hdr.ModTime)
		}
		if e.hdr.Name == "bin/sh" && e.hdr.Linkname != "/pause" {
			t.Errorf("bin/sh links to %q", e.hdr.Linkname)
		}
	}
	if len(names) != len(wants) || !slices.IsSorted(names) {
		t.Errorf("layer entries %q: want the %d entries sorted", names, len(wants))
	}
}

func TestWriteArchiveDeterministic(t *testing.T) {
	a := writeArchive(t, pauseImage)
	b := writeArchive(t, pauseImage)
	if !bytes.Equal(a, b) {
		t.Fatal("two archives of the same image differ")
	}
	// The order of Files does not matter either.
	shuffled := pauseImage
	shuffled.Files = slices.Clone(pauseImage.Files)
	slices.Reverse(shuffled.Files)
	if c := writeArchive(t, shuffled); !bytes.Equal(a, c) {
		t.Fatal("archive depends on the order of Files")
	}
	other := pauseImage
	other.Env = []string{"PATH=/bin"}
	if d := writeArchive(t, other); bytes.Equal(a, d) {
		t.Fatal("a different config gave the same archive")
	}
}

func TestWriteArchiveMultipleImages(t *testing.T) {
	server := Image{
		Ref:        "edgek/test-server",
		Entrypoint: []string{"/server"},
		Cmd:        []string{"-listen", ":8080"},
		Files:      []File{{Path: "server", Mode: 0o755, Data: []byte("server")}},
		Arch:       "arm64",
	}
	same := pauseImage
	same.Ref = "registry.local:5000/pause:3.10"
	l := parseArchive(t, writeArchive(t, pauseImage, server, same))

	if len(l.index.Manifests) != 3 {
		t.Fatalf("%d manifests in index, want 3", len(l.index.Manifests))
	}
	wantNames := []string{"docker.io/edgek/pause:3.10", "docker.io/edgek/test-server:latest", "registry.local:5000/pause:3.10"}
	for i, desc := range l.index.Manifests {
		if got := desc.Annotations[AnnotationImageName]; got != wantNames[i] {
			t.Errorf("image %d named %q, want %q", i, got, wantNames[i])
		}
		l.image(t, desc)
	}
	// Identical images share their blobs: 3 for pause, 3 for the server.
	if len(l.blobs) != 6 {
		t.Errorf("%d blobs, want 6", len(l.blobs))
	}
	if l.index.Manifests[0].Digest != l.index.Manifests[2].Digest {
		t.Error("identical images got different manifests")
	}
	_, cfg, entries := l.image(t, l.index.Manifests[1])
	if cfg.Architecture != "arm64" || !slices.Equal(cfg.Config.Cmd, server.Cmd) {
		t.Errorf("server config %+v", cfg)
	}
	if l.index.Manifests[1].Platform.Architecture != "arm64" {
		t.Errorf("server platform %+v", l.index.Manifests[1].Platform)
	}
	if len(entries) != 1 || entries[0].hdr.Name != "server" {
		t.Errorf("server layer entries %+v", entries)
	}
}

func TestWriteArchiveErrors(t *testing.T) {
	file := []File{{Path: "/a", Mode: 0o644}}
	tests := map[string][]Image{
		"no images":        nil,
		"same ref twice":   {{Ref: "a:1", Files: file}, {Ref: "docker.io/library/a:1", Files: file}},
		"digest ref":       {{Ref: "a@sha256:0000000000000000000000000000000000000000000000000000000000000000"}},
		"upper-case ref":   {{Ref: "Edgek/pause:1"}},
		"dot-dot path":     {{Ref: "a", Files: []File{{Path: "/../etc/x"}}}},
		"root path":        {{Ref: "a", Files: []File{{Path: "/", Mode: os.ModeDir}}}},
		"duplicate file":   {{Ref: "a", Files: []File{{Path: "/a"}, {Path: "a"}}}},
		"parent is a file": {{Ref: "a", Files: []File{{Path: "/a"}, {Path: "/a/b"}}}},
		"device file":      {{Ref: "a", Files: []File{{Path: "/dev/null", Mode: os.ModeDevice}}}},
	}
	for name, imgs := range tests {
		t.Run(name, func(t *testing.T) {
			if err := WriteArchive(io.Discard, imgs...); err == nil {
				t.Fatal("WriteArchive succeeded")
			}
		})
	}
}

func TestNormalizeRef(t *testing.T) {
	tests := []struct{ in, name, tag string }{
		{"pause", "docker.io/library/pause:latest", "latest"},
		{"pause:3.10", "docker.io/library/pause:3.10", "3.10"},
		{"edgek/pause:3.10", "docker.io/edgek/pause:3.10", "3.10"},
		{"docker.io/edgek/pause:3.10", "docker.io/edgek/pause:3.10", "3.10"},
		{"index.docker.io/busybox", "docker.io/library/busybox:latest", "latest"},
		{"localhost/app:v1", "localhost/app:v1", "v1"},
		{"registry.local:5000/team/app", "registry.local:5000/team/app:latest", "latest"},
		{"ghcr.io/a/b/c_d.e__f-g:1.0-rc_1", "ghcr.io/a/b/c_d.e__f-g:1.0-rc_1", "1.0-rc_1"},
	}
	for _, tt := range tests {
		name, tag, err := NormalizeRef(tt.in)
		if err != nil || name != tt.name || tag != tt.tag {
			t.Errorf("NormalizeRef(%q) = %q, %q, %v; want %q, %q", tt.in, name, tag, err, tt.name, tt.tag)
		}
	}
	for _, bad := range []string{"", "a:", "a/:1", "A", "a//b", "a:-x", "a..b", "-a", "reg:x/a", "a@sha256:00"} {
		if name, _, err := NormalizeRef(bad); err == nil {
			t.Errorf("NormalizeRef(%q) = %q, want an error", bad, name)
		}
	}
}
