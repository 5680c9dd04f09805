package preflight

import (
	"strings"
	"testing"

	"github.com/edgek-io/edgek/pkg/checkconfig"

	"github.com/edgek-io/edgek/test/testutil"
)

// fakeHost writes files (relative to a temp root) and returns an Env reading them.
func fakeHost(t *testing.T, files map[string]string) checkconfig.Env {
	t.Helper()
	root := t.TempDir()
	testutil.WriteFiles(t, root, files)
	return checkconfig.Env{ProcRoot: root + "/proc", SysRoot: root + "/sys", BootRoot: root + "/boot"}
}

func TestMemoryCgroup(t *testing.T) {
	const cgroupsV2 = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t0\t80\t1\nmemory\t0\t80\t%s\npids\t0\t80\t1\n"
	pi := map[string]string{
		"proc/cgroups":                       strings.Replace(cgroupsV2, "%s", "0", 1),
		"sys/fs/cgroup/cgroup.controllers":   "cpuset cpu io pids\n",
		"boot/firmware/cmdline.txt":          "console=serial0,115200 console=tty1 root=PARTUUID=0ee3f8ae-02 rootfstype=ext4 fsck.repair=yes rootwait\n",
		"sys/firmware/devicetree/base/model": "Raspberry Pi 5 Model B Rev 1.0\x00",
	}
	err := MemoryCgroup(fakeHost(t, pi))
	if err == nil {
		t.Fatal("Raspberry Pi OS without the memory controller: want a refusal")
	}
	for _, want := range []string{"memory cgroup controller is not available", "/boot/firmware/cmdline.txt", "` cgroup_memory=1 cgroup_enable=memory`", "reboot"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	pi["proc/cgroups"] = strings.Replace(cgroupsV2, "%s", "1", 1)
	pi["sys/fs/cgroup/cgroup.controllers"] = "cpuset cpu io memory pids\n"
	if err := MemoryCgroup(fakeHost(t, pi)); err != nil {
		t.Errorf("after the fix: %v", err)
	}
}
