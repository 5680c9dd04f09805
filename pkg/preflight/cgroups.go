package preflight

import (
	"fmt"

	"github.com/edgek-io/edgek/pkg/checkconfig"
)

// MemoryCgroup fails when the memory cgroup controller is not usable, with the exact fix
// (Raspberry Pi OS: the cmdline.txt to edit and the words to append). Without it the kubelet
// cannot run, and says so only obscurely. env is the host; the zero Env is the real one.
func MemoryCgroup(env checkconfig.Env) error {
	c := checkconfig.MemoryCgroup(env)
	if c.OK {
		return nil
	}
	return fmt.Errorf("the memory cgroup controller is not available (%s): the kubelet cannot run pods without it; to fix: %s (edgek check-config checks the whole host)", c.Detail, c.Fix)
}
