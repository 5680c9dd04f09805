package deploy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgek-io/edgek/test/testutil"
)

func configMap(name, ns, value string) string {
	s := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
	if ns != "" {
		s += "  namespace: " + ns + "\n"
	}
	return s + "data:\n  v: \"" + value + "\"\n"
}

const namespaceApps = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n"

func removeFile(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func refStrings(refs []objectRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.String())
	}
	return out
}

func eventsOf(evs []fakeEvent, reason string) []fakeEvent {
	var out []fakeEvent
	for _, e := range evs {
		if e.reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// TestFirstPass: every manifest in the directory (and its subdirectories, even one named
// like a manifest) is applied once, a malformed one is reported (Addon, Warning Event, log)
// without stopping the others, and other files are ignored.
func TestFirstPass(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), "# apps\n"+configMap("a", "", "1")+"---\n"+configMap("b", "apps", "1")+"---\n"+namespaceApps)
	testutil.WriteFile(t, filepath.Join(dir, "b.json"), `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"},"data":{"v":"1"}}`)
	testutil.WriteFile(t, filepath.Join(dir, "broken.yaml"), "apiVersion: v1\nkind: [ConfigMap\n")
	testutil.WriteFile(t, filepath.Join(dir, "empty.yml"), "# nothing yet\n---\n")
	testutil.WriteFile(t, filepath.Join(dir, "notes.txt"), configMap("txt", "", "1"))
	testutil.WriteFile(t, filepath.Join(dir, ".hidden.yaml"), configMap("hidden", "", "1"))
	testutil.WriteFile(t, filepath.Join(dir, "sub.yaml", "x.yaml"), configMap("sub", "", "1")) // a directory named sub.yaml

	fc := newFakeCluster()
	c, logs := newTestController(dir, fc, Options{Bundled: map[string][]byte{
		"coredns.yaml": []byte(configMap("coredns", "kube-system", "1")),
	}})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}

	wantObjects := []string{"ConfigMap apps/b", "ConfigMap default/a", "ConfigMap default/j", "ConfigMap default/sub", "ConfigMap kube-system/coredns", "Namespace apps"}
	if got := fc.objectNames(); !slices.Equal(got, wantObjects) {
		t.Errorf("objects = %v, want %v", got, wantObjects)
	}
	if got, want := fc.addonNames(), []string{"a", "b", "broken", "coredns", "empty", "sub-yaml-x"}; !slices.Equal(got, want) {
		t.Errorf("addons = %v, want %v", got, want)
	}

	a := fc.addon(t, "a")
	if a.Source != "a.yaml" || !a.Status.Applied || a.Status.Error != "" || a.Status.Skipped ||
		a.Status.LastApplied != "2026-05-04T03:02:01Z" || len(a.Status.Checksum) != 64 {
		t.Errorf("addon a = %+v", a)
	}
	// The Namespace goes first, namespaces are filled in.
	if got, want := refStrings(a.Status.Objects), []string{"Namespace apps", "ConfigMap default/a", "ConfigMap apps/b"}; !slices.Equal(got, want) {
		t.Errorf("addon a objects = %v, want %v", got, want)
	}
	if e := fc.addon(t, "empty"); !e.Status.Applied || len(e.Status.Objects) != 0 {
		t.Errorf("addon empty = %+v", e)
	}

	broken := fc.addon(t, "broken")
	if broken.Status.Applied || !strings.Contains(broken.Status.Error, "document 1") ||
		strings.Contains(broken.Status.Error, "\n") || broken.Status.LastApplied != "" {
		t.Errorf("addon broken = %+v", broken)
	}
	evs := fc.takeEvents()
	failed := eventsOf(evs, "ApplyFailed")
	if len(failed) != 1 || failed[0].addon != "broken" || failed[0].typ != "Warning" || failed[0].uid != "uid-broken" ||
		!strings.HasPrefix(failed[0].msg, "broken.yaml: ") {
		t.Errorf("ApplyFailed events = %+v", failed)
	}
	if applied := eventsOf(evs, "Applied"); len(applied) != 5 || applied[0].typ != "Normal" {
		t.Errorf("Applied events = %+v", applied)
	}
	if n := logs.Count(`msg="manifest apply failed"`, "file=broken.yaml", "err="); n != 1 {
		t.Errorf("%d apply failed log lines for broken.yaml:\n%s", n, logs)
	}

	info, err := os.Stat(filepath.Join(dir, "coredns.yaml"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("bundled coredns.yaml: %v, %v", info, err)
	}
}

// TestStartReadyStop runs the component: Ready once the first pass is done, a changed file
// is applied again by the background loop, Stop ends it.
func TestStartReadyStop(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "1"))
	fc := newFakeCluster()
	fc.changed = make(chan struct{}, 1)
	c, _ := newTestController(dir, fc, Options{Interval: 20 * time.Millisecond})
	if err := c.Start(t.Context(), func(err error) { t.Errorf("fail(%v)", err) }); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if err := c.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := fc.takeApplies(); !slices.Equal(got, []string{"ConfigMap a"}) {
		t.Errorf("applies after Start = %v", got)
	}

	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "2"))
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-fc.changed:
		case <-deadline:
			t.Fatal("changed file not applied within 10s")
		}
		fc.mu.Lock()
		v := fc.objects["/ConfigMap/default/a"].Object["data"].(map[string]any)["v"]
		fc.mu.Unlock()
		if v == "2" {
			break
		}
	}
}

// TestChangedFile: a changed file is applied again and the objects it no longer holds are
// deleted; unchanged files are not applied again.
func TestChangedFile(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "1")+"---\n"+configMap("b", "", "1"))
	testutil.WriteFile(t, filepath.Join(dir, "other.yaml"), configMap("o", "", "1"))
	fc := newFakeCluster()
	c, logs := newTestController(dir, fc, Options{})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	fc.takeApplies()
	c.runPass(t.Context())
	if got := fc.takeApplies(); len(got) != 0 {
		t.Errorf("unchanged files applied again: %v", got)
	}

	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "2")+"---\n"+configMap("c", "", "1"))
	c.runPass(t.Context())
	if got, want := fc.takeApplies(), []string{"ConfigMap a", "ConfigMap c"}; !slices.Equal(got, want) {
		t.Errorf("applies = %v, want %v", got, want)
	}
	if got, want := fc.deletes, []string{"ConfigMap default/b"}; !slices.Equal(got, want) {
		t.Errorf("deletes = %v, want %v", got, want)
	}
	if got, want := refStrings(fc.addon(t, "a").Status.Objects), []string{"ConfigMap default/a", "ConfigMap default/c"}; !slices.Equal(got, want) {
		t.Errorf("objects = %v, want %v", got, want)
	}
	if logs.Count(`msg="manifest applied"`, "file=a.yaml", "pruned=1") != 1 {
		t.Errorf("no applied log line with pruned=1:\n%s", logs)
	}
}

// TestFailureKeepsObjectsAndRetries: a file that fails prunes nothing, remembers every object
// that may exist, is retried with a growing interval, and at once when it changes.
func TestFailureKeepsObjectsAndRetries(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "1")+"---\n"+configMap("old", "", "1"))
	fc := newFakeCluster()
	c, logs := newTestController(dir, fc, Options{})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	fc.takeApplies()
	fc.takeEvents()

	fc.failApply["bad"] = "admission webhook said no"
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "2")+"---\n"+configMap("bad", "", "1")+"---\n"+configMap("new", "", "1"))
	var attempts []int
	for pass := 1; pass <= 8; pass++ {
		c.runPass(t.Context())
		if slices.Contains(fc.takeApplies(), "ConfigMap bad") {
			attempts = append(attempts, pass)
		}
	}
	// Tried at once, then after 1, 2 and 4 passes.
	if want := []int{1, 2, 4, 8}; !slices.Equal(attempts, want) {
		t.Errorf("attempts in passes %v, want %v", attempts, want)
	}
	if len(fc.deletes) != 0 {
		t.Errorf("pruned after a failure: %v", fc.deletes)
	}
	a := fc.addon(t, "a")
	if a.Status.Applied || a.Status.Error != "ConfigMap bad: admission webhook said no" {
		t.Errorf("status = %+v", a.Status)
	}
	if got, want := refStrings(a.Status.Objects), []string{"ConfigMap default/a", "ConfigMap default/old", "ConfigMap default/new"}; !slices.Equal(got, want) {
		t.Errorf("objects = %v, want %v", got, want)
	}
	if n := len(eventsOf(fc.takeEvents(), "ApplyFailed")); n != 4 {
		t.Errorf("%d ApplyFailed events, want 4", n)
	}
	if n := logs.Count(`msg="manifest apply failed"`, "file=a.yaml"); n != 4 {
		t.Errorf("%d failure log lines, want 4", n)
	}

	// Fixed: applied at once, and now the old object is pruned.
	delete(fc.failApply, "bad")
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "3")+"---\n"+configMap("bad", "", "1")+"---\n"+configMap("new", "", "1"))
	c.runPass(t.Context())
	a = fc.addon(t, "a")
	if !a.Status.Applied || a.Status.Error != "" || !slices.Equal(fc.deletes, []string{"ConfigMap default/old"}) {
		t.Errorf("after the fix: status %+v, deletes %v", a.Status, fc.deletes)
	}
}

// TestSkipFile: with NAME.skip beside it, a file is neither applied nor pruned, and its Addon
// says skipped; removing the .skip file brings it back.
// TestSubdirectories: manifests in subdirectories are applied (as K3s does), named by their
// relative path; .skip works there too; hidden directories are left out.
func TestSubdirectories(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "apps/web.yaml"), configMap("web", "", "1"))
	testutil.WriteFile(t, filepath.Join(dir, "apps/deep/db.yml"), configMap("db", "", "1"))
	testutil.WriteFile(t, filepath.Join(dir, "apps/off.yaml"), configMap("off", "", "1"))
	testutil.WriteFile(t, filepath.Join(dir, "apps/off.yaml.skip"), "")
	testutil.WriteFile(t, filepath.Join(dir, ".hidden/x.yaml"), configMap("x", "", "1"))
	fc := newFakeCluster()
	c, _ := newTestController(dir, fc, Options{})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := fc.objectNames(); !slices.Equal(got, []string{"ConfigMap default/db", "ConfigMap default/web"}) {
		t.Errorf("objects = %v", got)
	}
	for name, source := range map[string]string{"apps-web": "apps/web.yaml", "apps-deep-db": "apps/deep/db.yml"} {
		if a := fc.addon(t, name); a.Source != source || !a.Status.Applied {
			t.Errorf("addon %s = %+v", name, a)
		}
	}
	if a := fc.addon(t, "apps-off"); !a.Status.Skipped {
		t.Errorf("addon apps-off = %+v", a)
	}
	obj := fc.objects[objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "db"}.key()]
	if got := obj.GetAnnotations()[sourceAnnotation]; got != "apps/deep/db.yml" {
		t.Errorf("source annotation %q", got)
	}
}

func TestSkipFile(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "1")+"---\n"+configMap("b", "", "1"))
	testutil.WriteFile(t, filepath.Join(dir, "s.yaml"), configMap("s", "", "1"))
	testutil.WriteFile(t, filepath.Join(dir, "s.yaml.skip"), "")
	fc := newFakeCluster()
	c, _ := newTestController(dir, fc, Options{})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := fc.takeApplies(); !slices.Equal(got, []string{"ConfigMap a", "ConfigMap b"}) {
		t.Errorf("applies = %v", got)
	}
	if s := fc.addon(t, "s"); !s.Status.Skipped || s.Status.Applied || s.Source != "s.yaml" {
		t.Errorf("addon s = %+v", s)
	}

	testutil.WriteFile(t, filepath.Join(dir, "a.yaml.skip"), "")
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "2"))
	c.runPass(t.Context())
	c.runPass(t.Context())
	if got := fc.takeApplies(); len(got) != 0 || len(fc.deletes) != 0 {
		t.Errorf("skipped file: applies %v, deletes %v", got, fc.deletes)
	}
	a := fc.addon(t, "a")
	if !a.Status.Skipped || len(a.Status.Objects) != 2 {
		t.Errorf("addon a = %+v", a)
	}
	if n := len(eventsOf(fc.takeEvents(), "Skipped")); n != 2 { // s at start, a now
		t.Errorf("%d Skipped events, want 2", n)
	}

	removeFile(t, dir, "a.yaml.skip")
	c.runPass(t.Context())
	a = fc.addon(t, "a")
	if a.Status.Skipped || !a.Status.Applied || !slices.Equal(fc.deletes, []string{"ConfigMap default/b"}) {
		t.Errorf("after removing the skip file: addon %+v, deletes %v", a, fc.deletes)
	}
}

// TestRemovedFile: a file removed from the directory leaves its objects; its Addon goes.
func TestRemovedFile(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "1"))
	fc := newFakeCluster()
	c, logs := newTestController(dir, fc, Options{})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	removeFile(t, dir, "a.yaml")
	c.runPass(t.Context())
	if got := fc.addonNames(); len(got) != 0 {
		t.Errorf("addons = %v", got)
	}
	if got := fc.objectNames(); !slices.Equal(got, []string{"ConfigMap default/a"}) {
		t.Errorf("objects = %v", got)
	}
	if logs.Count("manifest removed", "file=a.yaml") != 1 {
		t.Errorf("no log line about the removed file:\n%s", logs)
	}
}

// TestRestart: what changed while edgek was down is handled at the next start: a changed
// file prunes what its Addon recorded, a removed file's Addon goes.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "1")+"---\n"+configMap("b", "", "1"))
	testutil.WriteFile(t, filepath.Join(dir, "gone.yaml"), configMap("g", "", "1"))
	fc := newFakeCluster()
	c, _ := newTestController(dir, fc, Options{})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}

	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "1"))
	removeFile(t, dir, "gone.yaml")
	c2, _ := newTestController(dir, fc, Options{})
	if err := c2.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := fc.addonNames(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("addons = %v", got)
	}
	if got := fc.objectNames(); !slices.Equal(got, []string{"ConfigMap default/a", "ConfigMap default/g"}) {
		t.Errorf("objects = %v", got)
	}
}

// TestBundled: bundled files are written at every start, replacing changed copies; user
// files are not touched; an unchanged bundled file is not rewritten.
func TestBundled(t *testing.T) {
	dir := t.TempDir()
	bundled := configMap("coredns", "kube-system", "1")
	testutil.WriteFile(t, filepath.Join(dir, "coredns.yaml"), "edited by hand")
	testutil.WriteFile(t, filepath.Join(dir, "mine.yaml"), configMap("mine", "", "1"))
	fc := newFakeCluster()
	c, _ := newTestController(dir, fc, Options{Bundled: map[string][]byte{"coredns.yaml": []byte(bundled)}})
	if err := c.stage(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "coredns.yaml")); string(got) != bundled {
		t.Errorf("coredns.yaml = %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "mine.yaml")); string(got) != configMap("mine", "", "1") {
		t.Errorf("mine.yaml = %q", got)
	}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "coredns.yaml"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := c.stage(); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "coredns.yaml")); !info.ModTime().Equal(old) {
		t.Error("unchanged bundled file rewritten")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want 2 (temporary file left?)", len(entries))
	}
	// A .skip file keeps the user's edits of a bundled file.
	testutil.WriteFile(t, filepath.Join(dir, "coredns.yaml"), "edited by hand")
	testutil.WriteFile(t, filepath.Join(dir, "coredns.yaml.skip"), "")
	if err := c.stage(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "coredns.yaml")); string(got) != "edited by hand" {
		t.Errorf("coredns.yaml with a .skip file rewritten: %q", got)
	}

	bad, _ := newTestController(dir, fc, Options{Bundled: map[string][]byte{"../x.yaml": nil}})
	if err := bad.stage(); err == nil {
		t.Error("bundled file name with a directory accepted")
	}
}

const dashboard = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dash\n---\n" +
	"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dash\n  namespace: dash\n---\n" +
	"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dash-settings\n"

// TestDisabled: a disabled bundled addon's file is not written and is removed, its objects
// (from its Addon) and its Addon are deleted; an unknown name is logged.
func TestDisabled(t *testing.T) {
	dir := t.TempDir()
	fc := newFakeCluster()
	bundled := map[string][]byte{
		"coredns.yaml":   []byte(configMap("coredns", "kube-system", "1")),
		"dashboard.yaml": []byte(dashboard),
	}
	c, _ := newTestController(dir, fc, Options{Bundled: bundled})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	// An object that only an older dashboard had: known from the Addon only.
	fc.addObject(t, configMap("dash-old", "dash", "1"))
	fc.mu.Lock()
	fc.addons["dashboard"].Status.Objects = append(fc.addons["dashboard"].Status.Objects,
		objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "dash", Name: "dash-old"})
	fc.mu.Unlock()

	c2, logs := newTestController(dir, fc, Options{Bundled: bundled, Disabled: []string{"dashboard", "traefik"}})
	if err := c2.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dashboard.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dashboard.yaml still there: %v", err)
	}
	if got := fc.objectNames(); !slices.Equal(got, []string{"ConfigMap kube-system/coredns"}) {
		t.Errorf("objects = %v", got)
	}
	if got := fc.addonNames(); !slices.Equal(got, []string{"coredns"}) {
		t.Errorf("addons = %v", got)
	}
	if logs.Count("disabled addon removed", "addon=dashboard", "deleted=4") != 1 {
		t.Errorf("no log line about the dashboard:\n%s", logs)
	}
	if logs.Count("level=WARN", "addon=traefik") != 1 {
		t.Errorf("no warning about traefik:\n%s", logs)
	}
	c2.runPass(t.Context())
	if logs.Count("disabled addon removed") != 1 {
		t.Error("disabled addon handled again in a later pass")
	}
}

// TestDisabledWithoutAddon: without an Addon, the objects of the bundled manifest that carry
// its source annotation are deleted (a namespaced object without namespace in "default");
// same-named objects without it (the user's) stay.
func TestDisabledWithoutAddon(t *testing.T) {
	dir := t.TempDir()
	fc := newFakeCluster()
	objs, err := decodeManifest([]byte(dashboard))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "Namespace" { // the namespace is the user's own
			setSource(o, "dashboard.yaml")
		}
		if _, err := fc.apply(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	fc.addObject(t, configMap("unrelated", "dash", "1"))
	c, _ := newTestController(dir, fc, Options{
		Bundled:  map[string][]byte{"dashboard.yaml": []byte(dashboard)},
		Disabled: []string{"dashboard"},
	})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := fc.deletes, []string{"ConfigMap default/dash-settings", "Deployment dash/dash"}; !slices.Equal(got, want) {
		t.Errorf("deletes = %v, want %v", got, want)
	}
}

// TestDisabledUserReplacement: a user who disables a bundled addon and deploys their own from
// a file with the same Addon name (coredns.yml for coredns.yaml) keeps it, at this start and
// the next ones, although its objects have the bundled names.
func TestDisabledUserReplacement(t *testing.T) {
	dir := t.TempDir()
	fc := newFakeCluster()
	bundled := map[string][]byte{"coredns.yaml": []byte(configMap("coredns", "kube-system", "bundled"))}
	c, _ := newTestController(dir, fc, Options{Bundled: bundled})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(dir, "coredns.yml"), configMap("coredns", "kube-system", "mine"))
	for i := range 3 {
		c, logs := newTestController(dir, fc, Options{Bundled: bundled, Disabled: []string{"coredns"}})
		if err := c.firstPass(t.Context()); err != nil {
			t.Fatal(err)
		}
		if a := fc.addon(t, "coredns"); a.Source != "coredns.yml" || !a.Status.Applied {
			t.Errorf("start %d: addon = %+v", i, a)
		}
		obj := fc.objects[objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "kube-system", Name: "coredns"}.key()]
		if obj == nil || obj.GetAnnotations()[sourceAnnotation] != "coredns.yml" {
			t.Fatalf("start %d: the user's ConfigMap is gone or not theirs: %v", i, obj)
		}
		if i > 0 && len(fc.deletes) != 1 { // the first start removes the bundled one
			t.Errorf("start %d: deletes = %v", i, fc.deletes)
		}
		if i > 0 && logs.Count("its name is used by another manifest", "file=coredns.yml") != 1 {
			t.Errorf("start %d: no log line about the user's file:\n%s", i, logs)
		}
	}
}

// TestDisabledTakenOver: objects of a bundled addon that a user file has taken over (same
// names, applied later) are not deleted by --disable, although the bundled Addon lists them.
func TestDisabledTakenOver(t *testing.T) {
	dir := t.TempDir()
	fc := newFakeCluster()
	bundled := map[string][]byte{"coredns.yaml": []byte(configMap("coredns", "kube-system", "bundled") + "---\n" +
		configMap("coredns-extra", "kube-system", "bundled"))}
	c, _ := newTestController(dir, fc, Options{Bundled: bundled})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(dir, "my-dns.yaml"), configMap("coredns", "kube-system", "mine"))
	c.runPass(t.Context())
	c2, _ := newTestController(dir, fc, Options{Bundled: bundled, Disabled: []string{"coredns"}})
	if err := c2.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ConfigMap kube-system/coredns-extra"}; !slices.Equal(fc.deletes, want) {
		t.Errorf("deletes = %v, want %v", fc.deletes, want)
	}
}

// TestCRDFirst: a file's CRDs are applied before the objects of their kinds, whatever the
// order in the file; a file using another file's CRD succeeds in the same pass.
func TestCRDFirst(t *testing.T) {
	crd := func(kind string) string {
		return "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: " +
			strings.ToLower(kind) + "s.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names:\n    kind: " + kind + "\n"
	}
	cr := func(kind, name string) string {
		return "apiVersion: example.com/v1\nkind: " + kind + "\nmetadata:\n  name: " + name + "\n"
	}
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "one.yaml"), cr("Widget", "w1")+"---\n"+crd("Widget"))
	testutil.WriteFile(t, filepath.Join(dir, "a-uses-gadget.yaml"), cr("Gadget", "g1"))
	testutil.WriteFile(t, filepath.Join(dir, "z-gadget-crd.yaml"), crd("Gadget"))
	fc := newFakeCluster()
	c, _ := newTestController(dir, fc, Options{})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"one", "a-uses-gadget", "z-gadget-crd"} {
		if a := fc.addon(t, name); !a.Status.Applied {
			t.Errorf("addon %s = %+v", name, a.Status)
		}
	}
	if got := eventsOf(fc.takeEvents(), "ApplyFailed"); len(got) != 0 {
		t.Errorf("ApplyFailed events: %+v", got)
	}
	want := []string{
		"Gadget g1", // fails: the CRD is in a later file
		"CustomResourceDefinition widgets.example.com", "Widget w1",
		"CustomResourceDefinition gadgets.example.com",
		"Gadget g1", // second chance in the same pass
	}
	if got := fc.takeApplies(); !slices.Equal(got, want) {
		t.Errorf("applies = %v, want %v", got, want)
	}
}

// TestNameConflict: two files with the same Addon name: the first in name order wins, the
// other is reported once.
func TestNameConflict(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("a", "", "1"))
	testutil.WriteFile(t, filepath.Join(dir, "a.yml"), configMap("a2", "", "1"))
	fc := newFakeCluster()
	c, logs := newTestController(dir, fc, Options{})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.runPass(t.Context())
	if got := fc.objectNames(); !slices.Equal(got, []string{"ConfigMap default/a"}) {
		t.Errorf("objects = %v", got)
	}
	if n := logs.Count("manifest apply failed", "file=a.yml", "taken by a.yaml"); n != 1 {
		t.Errorf("%d conflict log lines, want 1:\n%s", n, logs)
	}
	// Removing the loser does not touch the winner's Addon.
	removeFile(t, dir, "a.yml")
	c.runPass(t.Context())
	if fc.addon(t, "a").Source != "a.yaml" {
		t.Error("addon a changed")
	}
}

// TestRenamedFile: a file renamed to another extension keeps its Addon name; the objects the
// Addon listed for the old file are not pruned by the new one.
func TestRenamedFile(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "a.yml"), configMap("x", "", "1"))
	fc := newFakeCluster()
	c, _ := newTestController(dir, fc, Options{})
	if err := c.firstPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	removeFile(t, dir, "a.yml")
	testutil.WriteFile(t, filepath.Join(dir, "a.yaml"), configMap("z", "", "1"))
	c.runPass(t.Context())
	if len(fc.deletes) != 0 {
		t.Errorf("deletes = %v", fc.deletes)
	}
	if a := fc.addon(t, "a"); a.Source != "a.yaml" || !a.Status.Applied || !slices.Equal(refStrings(a.Status.Objects), []string{"ConfigMap default/z"}) {
		t.Errorf("addon a = %+v", a)
	}
}
