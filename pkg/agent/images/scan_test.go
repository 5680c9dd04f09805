package images

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/klauspost/compress/zstd"

	"github.com/edgek-io/edgek/test/testutil"
)

// fakeContainerd stands in for containerd. An archive's (decompressed) content is its image
// names, separated by spaces; content starting with "bad" fails the import with that text.
// While down is set, every import fails as if containerd were unreachable.
type fakeContainerd struct {
	mu      sync.Mutex
	imports []string // contents imported, in order
	images  map[string]bool
	listErr error
	down    bool
	done    chan string // gets each imported content, if set
}

func (f *fakeContainerd) importFn(_ context.Context, r io.Reader) ([]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	content := string(data)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imports = append(f.imports, content)
	switch {
	case strings.HasPrefix(content, "bad"):
		return nil, errors.New(content)
	case f.down:
		return nil, fmt.Errorf("dial: %w", errdefs.ErrUnavailable)
	}
	names := strings.Fields(content)
	for _, n := range names {
		f.images[n] = true
	}
	if f.done != nil {
		f.done <- content
	}
	return names, nil
}

func (f *fakeContainerd) listImages(context.Context) (map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	out := map[string]bool{}
	for n := range f.images {
		out[n] = true
	}
	return out, nil
}

// takeImports returns and clears the contents imported so far, sorted.
func (f *fakeContainerd) takeImports() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.imports
	f.imports = nil
	slices.Sort(out)
	return out
}

type fixture struct {
	dir, stateFile string
	now            time.Time
	fake           *fakeContainerd
	logs           *testutil.LogRecorder
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	return &fixture{
		dir:       filepath.Join(root, "agent", "images"),
		stateFile: filepath.Join(root, "agent", "images.state.json"),
		now:       time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
		fake:      &fakeContainerd{images: map[string]bool{}},
		logs:      &testutil.LogRecorder{},
	}
}

// importer returns a new Importer on the fixture, as after an edgek restart.
func (f *fixture) importer() *Importer {
	i := New("/nonexistent/containerd.sock", f.dir, f.stateFile, f.logs.Logger())
	i.now = func() time.Time { return f.now }
	i.importFn = f.fake.importFn
	i.listImagesFn = f.fake.listImages
	return i
}

// write writes an archive with the given mtime age relative to the fixture's clock.
func (f *fixture) write(t *testing.T, name string, data []byte, age time.Duration) {
	t.Helper()
	path := testutil.WriteFile(t, filepath.Join(f.dir, name), string(data))
	mtime := f.now.Add(-age)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

const old = time.Hour // an archive written long ago: stable

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zst(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func assertImports(t *testing.T, f *fixture, want ...string) {
	t.Helper()
	got := f.fake.takeImports()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("imported %q, want %q", got, want)
	}
}

func TestImportDirPicksArchives(t *testing.T) {
	f := newFixture(t)
	f.write(t, "a.tar", []byte("img/a"), old)
	f.write(t, "b.tar.gz", gz(t, "img/b"), old)
	f.write(t, "c.tgz", gz(t, "img/c"), old)
	f.write(t, "d.tar.zst", zst(t, "img/d"), old)
	f.write(t, "e.tar.zstd", zst(t, "img/e"), old)
	f.write(t, "F.TAR", []byte("img/f"), old)
	f.write(t, "g.tar", gz(t, "img/g"), old) // compression is told by content
	f.write(t, "notes.txt", []byte("img/no"), old)
	f.write(t, "x.tar.bz2", []byte("img/no"), old)
	f.write(t, ".tar", []byte("img/no"), old)
	f.write(t, ".h.tar.Xy12", []byte("img/no"), old)
	f.write(t, ".hidden.tar", []byte("img/no"), old)
	if err := os.Mkdir(filepath.Join(f.dir, "sub.tar"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.tar", filepath.Join(f.dir, "link.tar")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("missing", filepath.Join(f.dir, "dangling.tar")); err != nil {
		t.Fatal(err)
	}

	i := f.importer()
	if err := i.ImportDir(t.Context()); err != nil {
		t.Fatalf("ImportDir: %v", err)
	}
	assertImports(t, f, "img/a", "img/a", "img/b", "img/c", "img/d", "img/e", "img/f", "img/g")
	if n := f.logs.Count(`msg="imported images"`); n != 8 {
		t.Errorf("%d 'imported images' logs, want 8", n)
	}

	// Nothing is imported again while unchanged.
	for range 3 {
		if err := i.ImportDir(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	assertImports(t, f)
}

func TestImportDirCreatesMissingDir(t *testing.T) {
	f := newFixture(t)
	if err := f.importer().ImportDir(t.Context()); err != nil {
		t.Fatalf("ImportDir: %v", err)
	}
	if st, err := os.Stat(f.dir); err != nil || !st.IsDir() {
		t.Fatalf("images dir not created: %v", err)
	}
	assertImports(t, f)
}

func TestStableSizeRule(t *testing.T) {
	f := newFixture(t)
	i := f.importer()

	// A file written just now may still be growing: wait for a scan that sees it unchanged.
	f.write(t, "fresh.tar", []byte("img/fresh"), 0)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "img/fresh")

	// A file that changes between scans is skipped until it holds still.
	f.write(t, "growing.tar", []byte("img/gr"), 0)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Second)
	f.write(t, "growing.tar", []byte("img/growing"), 0)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "img/growing")

	// A file whose mtime is in the future (clock skew) also waits for a second scan.
	f.write(t, "future.tar", []byte("img/future"), -time.Hour)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "img/future")
}

func TestBadArchiveLoggedOnceAndRetriedWhenChanged(t *testing.T) {
	f := newFixture(t)
	f.write(t, "bad.tar", []byte("bad: not a tar"), old)
	f.write(t, "good.tar", []byte("img/good"), old)
	i := f.importer()

	for range 3 {
		if err := i.ImportDir(t.Context()); err != nil {
			t.Fatalf("ImportDir: %v (a bad archive is not the directory's error)", err)
		}
	}
	assertImports(t, f, "bad: not a tar", "img/good")
	if n := f.logs.Count(`msg="image archive import failed"`); n != 1 || f.logs.Count(`msg="image archive import failed"`, "file=bad.tar") != 1 {
		t.Errorf("failure logged %d times, want once for bad.tar:\n%s", n, f.logs)
	}

	// Fixed: retried once it holds still.
	f.now = f.now.Add(time.Minute)
	f.write(t, "bad.tar", []byte("img/fixed"), 0)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "img/fixed")

	// A failed archive is tried again after a restart (the failure may have been containerd's).
	f.write(t, "bad2.tar", []byte("bad again"), old)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "bad again")
	if err := f.importer().ImportDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "bad again")
}

func TestReimportWhenChanged(t *testing.T) {
	f := newFixture(t)
	f.write(t, "app.tar", []byte("img/app:v1"), old)
	i := f.importer()
	if err := i.ImportDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "img/app:v1")

	f.write(t, "app.tar", []byte("img/app:v2"), old/2) // replaced by a finished copy
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Seen by the previous scan with another size/mtime: waits for one more scan.
	assertImports(t, f)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "img/app:v2")
}

func TestStatePersistsAcrossRestart(t *testing.T) {
	f := newFixture(t)
	f.write(t, "a.tar", []byte("img/a"), old)
	f.write(t, "b.tar.gz", gz(t, "img/b1 img/b2"), old)
	if err := f.importer().ImportDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "img/a", "img/b1 img/b2")

	var state stateFileContent
	data, err := os.ReadFile(f.stateFile)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatal(err)
	}
	if state.Version != stateVersion || len(state.Files) != 2 || !slices.Equal(state.Files["b.tar.gz"].Images, []string{"img/b1", "img/b2"}) {
		t.Errorf("state file = %s", data)
	}
	if entries, _ := os.ReadDir(f.dir); len(entries) != 2 {
		t.Errorf("images dir holds %d entries, want only the 2 archives", len(entries))
	}

	// Restart: unchanged archives are not imported again.
	if err := f.importer().ImportDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f)

	// Restart after containerd lost an image (data wiped): that archive is imported again.
	delete(f.fake.images, "img/b2")
	if err := f.importer().ImportDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "img/b1 img/b2")

	// A removed archive is forgotten; brought back, it is imported again.
	if err := os.Remove(filepath.Join(f.dir, "a.tar")); err != nil {
		t.Fatal(err)
	}
	i := f.importer()
	if err := i.ImportDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(f.stateFile)
	if strings.Contains(string(data), "a.tar") {
		t.Errorf("removed archive still in state file: %s", data)
	}
	f.write(t, "a.tar", []byte("img/a"), old)
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "img/a")
}

func TestCorruptStateFileIsIgnored(t *testing.T) {
	f := newFixture(t)
	f.write(t, "a.tar", []byte("img/a"), old)
	if err := os.WriteFile(f.stateFile, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.importer().ImportDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "img/a")
	if n := f.logs.Count(`msg="ignoring image import state file"`); n != 1 {
		t.Errorf("corrupt state file warned %d times", n)
	}
	if err := f.importer().ImportDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f) // rewritten state is good
}

func TestContainerdUnavailableIsRetried(t *testing.T) {
	f := newFixture(t)
	f.write(t, "a.tar", []byte("img/a"), old)
	f.write(t, "b.tar", []byte("img/b"), old)
	i := f.importer()
	f.fake.down = true

	err := i.ImportDir(t.Context())
	if !errdefs.IsUnavailable(err) {
		t.Fatalf("ImportDir = %v, want an Unavailable error", err)
	}
	if n := f.logs.Count(`msg="image archive import failed"`); n != 0 {
		t.Errorf("an unreachable containerd was logged as a bad archive")
	}
	assertImports(t, f, "img/a") // the scan stopped after the first failure

	f.fake.down = false // containerd is back: the unchanged archives are imported
	if err := i.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertImports(t, f, "img/a", "img/b")

	// An unreachable containerd at start-up, when state needs checking, is the scan's error.
	f.fake.listErr = fmt.Errorf("list: %w", errdefs.ErrUnavailable)
	if err := f.importer().ImportDir(t.Context()); !errdefs.IsUnavailable(err) {
		t.Fatalf("ImportDir = %v, want an Unavailable error", err)
	}
	assertImports(t, f)
}

func TestWatch(t *testing.T) {
	f := newFixture(t)
	f.fake.done = make(chan string, 10)
	i := f.importer()
	i.interval = 5 * time.Millisecond
	if err := i.ImportDir(t.Context()); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		i.Watch(ctx)
		close(stopped)
	}()

	f.write(t, "late.tar.zst", zst(t, "img/late"), 0) // fresh: imported on a later scan
	select {
	case got := <-f.fake.done:
		if got != "img/late" {
			t.Errorf("imported %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not import a new archive")
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
	assertImports(t, f, "img/late")
}

func TestImportStreamDecompresses(t *testing.T) {
	f := newFixture(t)
	i := f.importer()
	for _, data := range [][]byte{[]byte("img/plain"), gz(t, "img/gz"), zst(t, "img/zst")} {
		if _, err := i.importStream(t.Context(), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	assertImports(t, f, "img/gz", "img/plain", "img/zst")

	if _, err := i.importStream(t.Context(), bytes.NewReader([]byte{0x1f, 0x8b, 0, 0})); err == nil {
		t.Error("importStream accepted a corrupt gzip stream")
	}
}
