package preflight

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/test/testutil"
)

func TestKernelDefaults(t *testing.T) {
	sys := t.TempDir()
	set := func(key, v string) {
		testutil.WriteFile(t, filepath.Join(sys, strings.ReplaceAll(key, ".", "/")), v+"\n")
	}
	for _, k := range kernelDefaults {
		set(k.key, k.want)
	}
	if err := KernelDefaults(sys); err != nil {
		t.Fatalf("the kubelet's own settings: %v", err)
	}
	set("vm.overcommit_memory", "0")
	set("kernel.panic", "1")
	err := KernelDefaults(sys)
	for _, w := range []string{"vm.overcommit_memory is 0, not 1", "kernel.panic is 1, not 10", `"vm.overcommit_memory=1\nkernel.panic=10"`, "/etc/sysctl.d/"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("KernelDefaults = %v, want it to say %q", err, w)
		}
	}
}
