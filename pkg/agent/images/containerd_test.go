package images

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/diff"
	"github.com/containerd/containerd/v2/core/diff/apply"
	"github.com/containerd/containerd/v2/core/metadata"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/containerd/v2/plugins/diff/walking"
	"github.com/containerd/containerd/v2/plugins/snapshots/overlay"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/image-spec/identity"
	bolt "go.etcd.io/bbolt"

	"github.com/edgek-io/edgek/pkg/oci"
)

// inProcessContainerd returns a client on containerd's own content store, metadata store and
// overlayfs snapshotter, run in the test process: the import and unpack code paths of a real
// daemon without the daemon. It needs root (mounts).
func inProcessContainerd(t *testing.T) *containerd.Client {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: unpacking mounts overlayfs")
	}
	root := t.TempDir()
	cs, err := local.NewStore(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	sn, err := overlay.NewSnapshotter(filepath.Join(root, "overlayfs"))
	if err != nil {
		t.Skipf("overlayfs snapshotter unavailable: %v", err)
	}
	bdb, err := bolt.Open(filepath.Join(root, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db := metadata.NewDB(bdb, cs, map[string]snapshots.Snapshotter{Snapshotter: sn})
	if err := db.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, err := containerd.New("", containerd.WithServices(
		containerd.WithContentStore(db.ContentStore()),
		containerd.WithImageStore(metadata.NewImageStore(db)),
		containerd.WithLeasesService(metadata.NewLeaseManager(db)),
		containerd.WithSnapshotters(db.Snapshotters()),
		containerd.WithDiffService(differ{walking.NewWalkingDiff(db.ContentStore()), apply.NewFileSystemApplier(db.ContentStore())}),
	))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		sn.Close()
		bdb.Close()
	})
	return c
}

type differ struct {
	diff.Comparer
	diff.Applier
}

var (
	pauseImage = oci.Image{
		Ref:        "docker.io/edgek/pause:3.10",
		Entrypoint: []string{"/pause"},
		Files:      []oci.File{{Path: "/pause", Mode: 0o755, Data: []byte("pause binary")}},
	}
	serverImage = oci.Image{
		Ref:          "edgek/test-server:v1",
		Entrypoint:   []string{"/bin/server"},
		ExposedPorts: []string{"8080/tcp"},
		Files:        []oci.File{{Path: "/bin/server", Mode: 0o755, Data: []byte("server binary")}},
	}
)

func ociArchive(t *testing.T, imgs ...oci.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := oci.WriteArchive(&buf, imgs...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportOCIArchiveIntoContainerd(t *testing.T) {
	c := inProcessContainerd(t)
	ctx := t.Context()

	names, err := importAndUnpack(ctx, c, bytes.NewReader(ociArchive(t, pauseImage, serverImage)), Snapshotter, nil)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	want := []string{"docker.io/edgek/pause:3.10", "docker.io/edgek/test-server:v1"}
	if !slices.Equal(names, want) {
		t.Fatalf("imported %q, want %q", names, want)
	}

	nsCtx := namespaces.WithNamespace(ctx, Namespace)
	for _, name := range want {
		img, err := c.GetImage(nsCtx, name)
		if err != nil {
			t.Fatalf("image %s not in namespace %s: %v", name, Namespace, err)
		}
		labels := img.Labels()
		if labels[criPinnedLabelKey] != criPinnedLabelValue || labels[criImageLabelKey] != criImageLabelValue {
			t.Errorf("%s labels = %v", name, labels)
		}
		if ok, err := img.IsUnpacked(nsCtx, Snapshotter); err != nil || !ok {
			t.Errorf("%s unpacked = %v, %v", name, ok, err)
		}
	}

	// The unpacked root filesystem holds the file with its mode.
	img, _ := c.GetImage(nsCtx, want[0])
	diffIDs, err := img.RootFS(nsCtx)
	if err != nil {
		t.Fatal(err)
	}
	sn := c.SnapshotService(Snapshotter)
	mounts, err := sn.View(nsCtx, "test-view", identity.ChainID(diffIDs).String())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Remove(nsCtx, "test-view")
	err = mount.WithReadonlyTempMount(nsCtx, mounts, func(root string) error {
		st, err := os.Stat(filepath.Join(root, "pause"))
		if err != nil {
			return err
		}
		if st.Mode().Perm() != 0o755 {
			t.Errorf("/pause mode %v", st.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read unpacked rootfs: %v", err)
	}

	// Importing the same archive again is harmless.
	if _, err := importAndUnpack(ctx, c, bytes.NewReader(ociArchive(t, pauseImage)), Snapshotter, nil); err != nil {
		t.Fatalf("second import: %v", err)
	}
}

func TestImportDockerArchiveIntoContainerd(t *testing.T) {
	c := inProcessContainerd(t)
	names, err := importAndUnpack(t.Context(), c, bytes.NewReader(dockerArchive(t, "busybox:1.36", "registry.local:5000/tools/sh")), Snapshotter, nil)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	want := []string{"docker.io/library/busybox:1.36", "registry.local:5000/tools/sh:latest"}
	if !slices.Equal(names, want) {
		t.Fatalf("imported %q, want %q", names, want)
	}
}

func TestImportArchiveNamingAndPlatform(t *testing.T) {
	c := inProcessContainerd(t)
	ctx := t.Context()

	// Only the OCI ref.name annotation: a full reference names the image, a bare tag nothing.
	full := rewriteIndex(t, ociArchive(t, pauseImage), func(idx *oci.Index) {
		idx.Manifests[0].Annotations = map[string]string{oci.AnnotationRefName: "edgek/other:1"}
	})
	names, err := importAndUnpack(ctx, c, bytes.NewReader(full), Snapshotter, nil)
	if err != nil || !slices.Equal(names, []string{"docker.io/edgek/other:1"}) {
		t.Errorf("ref.name-only archive: %q, %v", names, err)
	}
	bare := rewriteIndex(t, ociArchive(t, pauseImage), func(idx *oci.Index) {
		idx.Manifests[0].Annotations = map[string]string{oci.AnnotationRefName: "latest"}
	})
	if _, err := importAndUnpack(ctx, c, bytes.NewReader(bare), Snapshotter, nil); !errors.Is(err, errNoImages) {
		t.Errorf("tag-only archive: err = %v, want errNoImages", err)
	}

	// An image for another platform is an error and leaves no image record; the others stay.
	foreign := serverImage
	foreign.Ref = "edgek/foreign:1"
	foreign.Arch = "s390x"
	if runtime.GOARCH == "s390x" {
		foreign.Arch = "riscv64"
	}
	names, err = importAndUnpack(ctx, c, bytes.NewReader(ociArchive(t, foreign, serverImage)), Snapshotter, nil)
	if err == nil || !slices.Equal(names, []string{"docker.io/edgek/test-server:v1"}) {
		t.Errorf("mixed-platform archive: %q, %v", names, err)
	}
	if _, err := c.GetImage(namespaces.WithNamespace(ctx, Namespace), "docker.io/edgek/foreign:1"); !errdefs.IsNotFound(err) {
		t.Errorf("foreign image record: %v, want not found", err)
	}

	// Not an archive at all.
	if _, err := importAndUnpack(ctx, c, bytes.NewReader([]byte("hello")), Snapshotter, nil); err == nil || transient(err) {
		t.Errorf("garbage archive: err = %v, want a non-transient error", err)
	}
}

// dockerArchive builds a `docker save` style archive with one image tagged with tags.
func dockerArchive(t *testing.T, tags ...string) []byte {
	t.Helper()
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	lw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	lw.Write([]byte("hi"))
	lw.Close()
	config, _ := json.Marshal(oci.Config{
		Architecture: runtime.GOARCH, OS: "linux",
		Config: oci.ContainerConfig{Cmd: []string{"/hello"}},
		RootFS: oci.RootFS{Type: "layers", DiffIDs: []string{oci.Digest(layer.Bytes())}},
	})
	manifest, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": tags, "Layers": []string{"abc/layer.tar"}}})

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{"abc/layer.tar", layer.Bytes()}, {"config.json", config}, {"manifest.json", manifest}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg})
		tw.Write(f.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rewriteIndex returns archive with its index.json changed by edit.
func rewriteIndex(t *testing.T, archive []byte, edit func(*oci.Index)) []byte {
	t.Helper()
	var out bytes.Buffer
	tr := tar.NewReader(bytes.NewReader(archive))
	tw := tar.NewWriter(&out)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if hdr.Name == "index.json" {
			var idx oci.Index
			if err := json.Unmarshal(data, &idx); err != nil {
				t.Fatal(err)
			}
			edit(&idx)
			data, _ = json.Marshal(idx)
			hdr.Size = int64(len(data))
		}
		tw.WriteHeader(hdr)
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestImportBuiltinSkipsWhatItAlreadyHolds(t *testing.T) {
	c := inProcessContainerd(t)
	ctx := t.Context()
	builds := 0
	build := func(img oci.Image) func() ([]byte, error) {
		return func() ([]byte, error) { builds++; return ociArchive(t, img), nil }
	}
	ref := pauseImage.Ref

	imported, err := importBuiltin(ctx, c, Snapshotter, ref, "key-1", build(pauseImage))
	if err != nil || !imported || builds != 1 {
		t.Fatalf("first import: imported=%v builds=%d err=%v", imported, builds, err)
	}
	img, err := c.GetImage(namespaces.WithNamespace(ctx, Namespace), ref)
	if err != nil {
		t.Fatal(err)
	}
	if l := img.Labels(); l[BuiltFromLabel] != "key-1" || l[criPinnedLabelKey] != criPinnedLabelValue {
		t.Fatalf("labels after import: %v", l)
	}

	// Same key: neither built nor imported (a restart, or an upgrade carrying the same binary).
	imported, err = importBuiltin(ctx, c, Snapshotter, ref, "key-1", build(pauseImage))
	if err != nil || imported || builds != 1 {
		t.Fatalf("same key: imported=%v builds=%d err=%v", imported, builds, err)
	}

	// Another key (a new binary): built and imported again, the label follows.
	imported, err = importBuiltin(ctx, c, Snapshotter, ref, "key-2", build(pauseImage))
	if err != nil || !imported || builds != 2 {
		t.Fatalf("new key: imported=%v builds=%d err=%v", imported, builds, err)
	}
	img, _ = c.GetImage(namespaces.WithNamespace(ctx, Namespace), ref)
	if got := img.Labels()[BuiltFromLabel]; got != "key-2" {
		t.Fatalf("label after re-import = %q", got)
	}

	// Removed by hand (crictl rmi): imported again.
	if err := c.ImageService().Delete(namespaces.WithNamespace(ctx, Namespace), ref); err != nil {
		t.Fatal(err)
	}
	imported, err = importBuiltin(ctx, c, Snapshotter, ref, "key-2", build(pauseImage))
	if err != nil || !imported || builds != 3 {
		t.Fatalf("after removal: imported=%v builds=%d err=%v", imported, builds, err)
	}

	// An archive that does not hold ref is an error, not a silent success.
	_, err = importBuiltin(ctx, c, Snapshotter, "docker.io/edgek/other:1", "key-3", build(pauseImage))
	if err == nil {
		t.Fatal("archive without the image: no error")
	}
}
