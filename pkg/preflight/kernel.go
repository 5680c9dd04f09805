package preflight

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// kernelDefaults are the kernel settings the kubelet wants (its setupKernelTunables): it sets
// them itself, unless --protect-kernel-defaults, with which it refuses to start if one differs.
var kernelDefaults = []struct{ key, want string }{
	{"vm.overcommit_memory", "1"},
	{"vm.panic_on_oom", "0"},
	{"kernel.panic", "10"},
	{"kernel.panic_on_oops", "1"},
	{"kernel.keys.root_maxkeys", "1000000"},
	{"kernel.keys.root_maxbytes", "25000000"},
}

// KernelDefaults checks, for --protect-kernel-defaults, that the kernel settings under
// procSys (/proc/sys) are the kubelet's, and says how to set them if not.
func KernelDefaults(procSys string) error {
	var wrong, fix []string
	for _, k := range kernelDefaults {
		data, err := os.ReadFile(filepath.Join(procSys, strings.ReplaceAll(k.key, ".", "/")))
		if err != nil {
			return fmt.Errorf("--protect-kernel-defaults: read %s: %w", k.key, err)
		}
		if got := strings.TrimSpace(string(data)); got != k.want {
			wrong = append(wrong, fmt.Sprintf("%s is %s, not %s", k.key, got, k.want))
			fix = append(fix, k.key+"="+k.want)
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("--protect-kernel-defaults: the kubelet would refuse this kernel's settings: %s; put %q in /etc/sysctl.d/90-kubelet.conf and run sysctl --system, or leave the flag out (the kubelet then sets them itself)",
			strings.Join(wrong, ", "), strings.Join(fix, "\n"))
	}
	return nil
}
