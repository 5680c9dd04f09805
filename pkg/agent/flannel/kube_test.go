package flannel

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/edgek-io/edgek/test/testutil"
)

var testWaits = waits{
	podCIDRPoll: time.Millisecond,
	listPoll:    time.Millisecond,
	listTimeout: 200 * time.Millisecond,
	logEvery:    time.Hour,
}

func TestWaitForPodCIDR(t *testing.T) {
	c := fake.NewClientset()
	var gets atomic.Int32
	c.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		// The node appears on the 3rd read, without a podCIDR, and gets one on the 6th.
		switch n := gets.Add(1); {
		case n == 3:
			err := c.Tracker().Add(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "pi-1"}})
			return err != nil, nil, err
		case n == 6:
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "pi-1"}, Spec: corev1.NodeSpec{PodCIDR: "10.42.3.0/24"}}
			err := c.Tracker().Update(corev1.SchemeGroupVersion.WithResource("nodes"), node, "")
			return err != nil, nil, err
		}
		return false, nil, nil
	})
	cidr, err := waitForPodCIDR(t.Context(), c, "pi-1", testWaits, testutil.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if cidr != "10.42.3.0/24" {
		t.Errorf("podCIDR = %q", cidr)
	}
	if n := gets.Load(); n < 6 {
		t.Errorf("returned after %d reads, want at least 6", n)
	}
}

func TestWaitForPodCIDRCancelled(t *testing.T) {
	c := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "pi-1"}})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := waitForPodCIDR(ctx, c, "pi-1", testWaits, testutil.DiscardLogger())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no podCIDR yet") {
		t.Errorf("err = %v, want a deadline error that says the node has no podCIDR", err)
	}
}

func forbidLists(c *fake.Clientset, times int32) *atomic.Int32 {
	var lists atomic.Int32
	c.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		if lists.Add(1) <= times {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "",
				errors.New(`User "system:node:pi-1" cannot list resource "nodes"`))
		}
		return false, nil, nil
	})
	return &lists
}

func TestWaitForNodeList(t *testing.T) {
	c := fake.NewClientset()
	lists := forbidLists(c, 3)
	if err := waitForNodeList(t.Context(), c, testWaits, testutil.DiscardLogger()); err != nil {
		t.Fatal(err)
	}
	if n := lists.Load(); n != 4 {
		t.Errorf("listed %d times, want 4", n)
	}
}

func TestWaitForNodeListForbidden(t *testing.T) {
	c := fake.NewClientset()
	forbidLists(c, 1<<30)
	err := waitForNodeList(t.Context(), c, testWaits, testutil.DiscardLogger())
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "RBAC must grant get/list/watch on nodes") {
		t.Errorf("err = %v, want a forbidden error naming the RBAC it needs", err)
	}
}

func TestBackendNone(t *testing.T) {
	dir := t.TempDir()
	f := New(Options{Backend: "none", CNIConfDir: dir, RunDir: dir, SubnetFile: dir + "/subnet.env", Log: testutil.DiscardLogger()})
	if err := f.Start(t.Context(), func(err error) { t.Errorf("fail(%v)", err) }); err != nil {
		t.Fatal(err)
	}
	if err := f.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.Stop()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("backend none wrote %d files", len(entries))
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	f := New(Options{Backend: "wireguard", ClusterCIDR: netip.MustParsePrefix("fd00::/48"), Log: testutil.DiscardLogger()})
	err := f.Start(t.Context(), func(error) {})
	if err == nil {
		t.Fatal("Start accepted bad options")
	}
	for _, want := range []string{`unknown flannel backend "wireguard"`, "IPv4 cluster CIDR", "Kubeconfig is empty", "NodeName is empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to mention %q", err, want)
		}
	}
}
