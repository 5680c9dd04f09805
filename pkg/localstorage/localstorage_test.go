package localstorage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"

	"github.com/edgek-io/edgek/test/testutil"
)

const uid = "0b5c7a9e-1f2d-4c3b-9a8e-7d6c5b4a3f21"

func TestIsVolumePath(t *testing.T) {
	dir := "/var/lib/edgek/storage"
	for path, want := range map[string]bool{
		dir + "/pvc-" + uid + "_default_data-web-0": true,
		dir + "/pvc-" + uid + "_default_data":       true,
		dir + "/pvc-" + uid:                         false, // not the layout
		dir + "/other":                              false,
		dir + "/sub/pvc-" + uid + "_default_data":   false, // not directly under dir
		dir + "/../pvc-" + uid + "_default_data":    false,
		"/etc/pvc-" + uid + "_default_data":         false,
		dir:                                         false,
	} {
		if got := isVolumePath(dir, path); got != want {
			t.Errorf("isVolumePath(%q) = %v, want %v", path, got, want)
		}
	}
}

func claim(modes ...v1.PersistentVolumeAccessMode) *v1.PersistentVolumeClaim {
	return &v1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-web-0", Namespace: "default", UID: uid},
		Spec: v1.PersistentVolumeClaimSpec{
			AccessModes: modes,
			Resources:   v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
}

func TestProvision(t *testing.T) {
	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "pi-1",
		Labels:      map[string]string{v1.LabelHostname: "pi-1"},
		Annotations: map[string]string{PathAnnotation: "/srv/storage"}}}
	bare := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old"}}
	p := &Provisioner{Client: fake.NewClientset(node, bare), Log: testutil.DiscardLogger()}
	retain := v1.PersistentVolumeReclaimRetain
	class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path"}, ReclaimPolicy: &retain}
	opts := controller.ProvisionOptions{StorageClass: class, PVName: "pvc-" + uid, PVC: claim(v1.ReadWriteOnce), SelectedNodeName: "pi-1"}
	pv, state, err := p.Provision(context.Background(), opts)
	if err != nil || state != controller.ProvisioningFinished {
		t.Fatalf("Provision: %v, %v", state, err)
	}
	wantPath := "/srv/storage/pvc-" + uid + "_default_data-web-0"
	if pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != wantPath || *pv.Spec.HostPath.Type != v1.HostPathDirectory {
		t.Errorf("hostPath %+v, want %s (Directory)", pv.Spec.HostPath, wantPath)
	}
	terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchExpressions[0].Key != v1.LabelHostname || terms[0].MatchExpressions[0].Values[0] != "pi-1" {
		t.Errorf("node affinity %+v", terms)
	}
	if pv.Labels[NodeLabel] != "pi-1" || pv.Spec.PersistentVolumeReclaimPolicy != retain || pv.Spec.Capacity.Storage().String() != "1Gi" {
		t.Errorf("PV %+v", pv)
	}

	for _, tc := range []struct {
		name  string
		opts  func(o *controller.ProvisionOptions)
		state controller.ProvisioningState
		want  string
	}{
		{"immediate binding", func(o *controller.ProvisionOptions) { o.SelectedNodeName = "" }, controller.ProvisioningFinished, "WaitForFirstConsumer"},
		{"shared access", func(o *controller.ProvisionOptions) { o.PVC = claim(v1.ReadWriteMany) }, controller.ProvisioningFinished, "ReadWriteMany is not supported"},
		{"node gone", func(o *controller.ProvisionOptions) { o.SelectedNodeName = "gone" }, controller.ProvisioningReschedule, "gone"},
		{"node without edgek", func(o *controller.ProvisionOptions) { o.SelectedNodeName = "old" }, controller.ProvisioningFinished, "has not published"},
	} {
		o := opts
		o.PVC = claim(v1.ReadWriteOnce)
		tc.opts(&o)
		_, state, err := p.Provision(context.Background(), o)
		if err == nil || state != tc.state || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, %v; want %s and an error with %q", tc.name, state, err, tc.state, tc.want)
		}
	}
}

func TestNames(t *testing.T) {
	long := strings.Repeat("board-", 20) + "x.example.com" // a 133-byte FQDN
	for name, want := range map[string]string{"pi-1": "pi-1", long: "board-board-board-board-board-board-board-boar-"} {
		got := NodeLabelValue(name)
		if len(validation.IsValidLabelValue(got)) != 0 || !strings.HasPrefix(got, want) || (name == "pi-1") != (got == want) {
			t.Errorf("NodeLabelValue(%q) = %q", name, got)
		}
	}
	if NodeLabelValue(long) == NodeLabelValue(long+"x") {
		t.Error("two long names share a label value")
	}
	p := VolumePath("/s", "pvc-"+uid, strings.Repeat("n", 63), strings.Repeat("c", 253))
	if len(filepath.Base(p)) > 240 || !isVolumePath("/s", p) {
		t.Errorf("VolumePath with the longest names: %q (%d bytes)", p, len(filepath.Base(p)))
	}
}

func volume(name, path string, reclaim v1.PersistentVolumeReclaimPolicy) *v1.PersistentVolume {
	return &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{NodeLabel: "pi-1"}},
		Spec: v1.PersistentVolumeSpec{PersistentVolumeReclaimPolicy: reclaim,
			PersistentVolumeSource: v1.PersistentVolumeSource{HostPath: &v1.HostPathVolumeSource{Path: path}}},
	}
}

// TestNode runs a node's half against a fake API: it publishes its dir, makes the directory
// of a volume pinned to it (0777), removes it when a volume with reclaim policy Delete goes,
// removes at start the directory of such a volume deleted while it was down, and leaves
// everything else alone: Retain volumes, volumes that only lost their label, directories
// it did not make.
func TestNode(t *testing.T) {
	const del, retain = v1.PersistentVolumeReclaimDelete, v1.PersistentVolumeReclaimRetain
	pvName := func(n int) string { return fmt.Sprintf("pvc-%08d-2222-3333-4444-555555555555", n) }
	dir := filepath.Join(t.TempDir(), "storage")
	live := VolumePath(dir, "pvc-"+uid, "default", "data")
	orphan := VolumePath(dir, pvName(1), "default", "old")         // Delete, deleted while down
	retained := VolumePath(dir, pvName(2), "default", "kept")      // Retain, deleted while down
	relabelled := VolumePath(dir, pvName(3), "default", "elsewhr") // exists, not labelled for pi-1
	foreign := filepath.Join(dir, "notes")
	for _, d := range []string{live, orphan, retained, relabelled, foreign} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{orphan, relabelled} {
		testutil.WriteFile(t, marker(d), "")
	}
	other := volume(pvName(3), relabelled, del)
	other.Labels[NodeLabel] = "pi-2"
	outside := filepath.Join(t.TempDir(), "pvc-22222222-2222-3333-4444-555555555555_default_x")
	cs := fake.NewClientset(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "pi-1"}}, volume("pvc-"+uid, live, del), other)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&Node{Client: cs, NodeName: "pi-1", Dir: dir, Log: testutil.DiscardLogger()}).Run(ctx)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting: %s", what)
			}
		}
	}
	wait("the orphan directory and its marker removed", func() bool { return !exists(orphan) && !exists(marker(orphan)) })
	for _, d := range []string{live, retained, relabelled, foreign} {
		if !exists(d) {
			t.Errorf("%s removed", d)
		}
	}
	wait("the dir published", func() bool {
		n, err := cs.CoreV1().Nodes().Get(ctx, "pi-1", metav1.GetOptions{})
		return err == nil && n.Annotations[PathAnnotation] == dir
	})
	wait("the live volume's marker", func() bool { return exists(marker(live)) })

	pvs := cs.CoreV1().PersistentVolumes()
	newPath := VolumePath(dir, pvName(4), "web", "data-web-1")
	keptPath := VolumePath(dir, pvName(5), "web", "data-web-2")
	for _, pv := range []*v1.PersistentVolume{volume(pvName(4), newPath, del), volume(pvName(5), keptPath, retain), volume("pvc-22222222-2222-3333-4444-555555555555", outside, del)} {
		if _, err := pvs.Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	wait("the new volumes' directories", func() bool { return exists(newPath) && exists(keptPath) })
	if fi, _ := os.Stat(newPath); fi.Mode().Perm() != 0o777 {
		t.Errorf("mode %v, want 0777", fi.Mode().Perm())
	}
	if exists(outside) {
		t.Errorf("made %s, outside the storage dir", outside)
	}
	if !exists(marker(newPath)) || exists(marker(keptPath)) {
		t.Errorf("markers: Delete volume %v (want true), Retain volume %v (want false)", exists(marker(newPath)), exists(marker(keptPath)))
	}
	for _, name := range []string{pvName(4), pvName(5)} {
		if err := pvs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	wait("the deleted volume's directory removed", func() bool { return !exists(newPath) && !exists(marker(newPath)) })
	// A live volume whose label changed leaves the watch but keeps its directory.
	pv, _ := pvs.Get(ctx, "pvc-"+uid, metav1.GetOptions{})
	pv.Labels[NodeLabel] = "pi-2"
	if _, err := pvs.Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(outside, 0o755)
	if err := pvs.Delete(ctx, "pvc-22222222-2222-3333-4444-555555555555", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	for _, d := range []string{outside, keptPath, live} {
		if !exists(d) {
			t.Errorf("removed %s", d)
		}
	}
}
