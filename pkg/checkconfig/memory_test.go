package checkconfig

import (
	"strings"
	"testing"
)

// Raspberry Pi OS ships without the memory controller until cmdline.txt gets
// `cgroup_memory=1 cgroup_enable=memory`: the fix must name the file and the words.
func TestMemoryCgroup(t *testing.T) {
	const words = "` cgroup_memory=1 cgroup_enable=memory` to the end of the single line of "
	v2NoMemory := map[string]string{
		"proc/cgroups": strings.Replace(procCgroupsV2, "memory	0	80	1", "memory	0	1	0", 1),
		"sys/fs/cgroup/unified/cgroup.controllers": "-",
		"sys/fs/cgroup/cgroup.controllers":         "cpuset cpu io pids\n",
	}
	piModel := "Raspberry Pi 4 Model B Rev 1.4\x00"
	plus := func(m map[string]string, kv ...string) map[string]string { return with(m, kv...) }
	tests := []struct {
		name    string
		files   map[string]string
		ok      bool
		fix     []string // substrings of Fix
		noFix   []string // must not be in Fix
		detail  string
		pathEnd string // the file named in Fix ends so (under the fake root)
	}{
		{name: "v1 healthy", files: map[string]string{}, ok: true},
		{
			name:   "v1 bookworm: disabled in /proc/cgroups",
			files:  map[string]string{"proc/cgroups": procCgroupsV1NoMemory, "boot/firmware/cmdline.txt": "console=serial0,115200 root=PARTUUID=1234-02 rootwait\n"},
			fix:    []string{words, "/boot/firmware/cmdline.txt", "reboot"},
			noFix:  []string{"GRUB"},
			detail: "disabled",
		},
		{
			name:  "v1 bullseye: /boot/cmdline.txt",
			files: map[string]string{"proc/cgroups": procCgroupsV1NoMemory, "boot/cmdline.txt": "console=serial0,115200 root=/dev/mmcblk0p2\n"},
			fix:   []string{words, "/boot/cmdline.txt"},
			noFix: []string{"firmware"},
		},
		{
			name:  "v2 bookworm: memory not in cgroup.controllers",
			files: plus(v2NoMemory, "boot/firmware/cmdline.txt", "console=tty1 root=PARTUUID=1234-02\n", "sys/firmware/devicetree/base/model", piModel),
			fix:   []string{words, "/boot/firmware/cmdline.txt"},
		},
		{
			name:  "v2 Pi without /boot mounted",
			files: plus(v2NoMemory, "sys/firmware/devicetree/base/model", piModel),
			fix:   []string{words, "/boot/firmware/cmdline.txt (Raspberry Pi OS bookworm and later; /boot/cmdline.txt on older releases)"},
		},
		{
			name:  "words added on a second line of cmdline.txt",
			files: map[string]string{"proc/cgroups": procCgroupsV1NoMemory, "boot/firmware/cmdline.txt": "console=tty1 root=PARTUUID=1234-02\ncgroup_memory=1 cgroup_enable=memory\n"},
			fix:   []string{words, "has 2 lines: the kernel reads only the first"},
		},
		{
			name:  "v2 without /proc/cgroups on a Pi",
			files: plus(v2NoMemory, "proc/cgroups", "-", "sys/firmware/devicetree/base/model", piModel),
			fix:   []string{words},
		},
		{
			name:  "v2 PC with cgroup_disable=memory",
			files: plus(v2NoMemory, "proc/cmdline", "root=/dev/sda1 cgroup_disable=memory\n"),
			fix:   []string{"GRUB_CMDLINE_LINUX"}, detail: "cgroup_disable=memory",
		},
		{
			name:  "v2 container without the controller delegated",
			files: plus(v2NoMemory, "proc/cgroups", procCgroupsV2),
			fix:   []string{"--cgroupns=host", "Delegate=yes"}, noFix: []string{"cmdline"},
		},
		{
			name:  "v1 enabled but not mounted",
			files: map[string]string{"proc/cgroups": strings.Replace(procCgroupsV1, "memory	4	29	1", "memory	0	1	1", 1)},
			fix:   []string{"mount -t cgroup -o memory"},
		},
		{
			name:  "no memory controller in the kernel",
			files: plus(v2NoMemory, "proc/cgroups", "-"),
			fix:   []string{"CONFIG_MEMCG"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := scenario{files: tt.files}.env(t)
			c := MemoryCgroup(env)
			if c.OK != tt.ok || !c.Required {
				t.Fatalf("OK = %v (want %v), Required = %v: %+v", c.OK, tt.ok, c.Required, c)
			}
			for _, want := range tt.fix {
				if !strings.Contains(c.Fix, want) {
					t.Errorf("fix %q lacks %q", c.Fix, want)
				}
			}
			for _, bad := range tt.noFix {
				if strings.Contains(c.Fix, bad) {
					t.Errorf("fix %q contains %q", c.Fix, bad)
				}
			}
			if !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("detail %q lacks %q", c.Detail, tt.detail)
			}
			// check-config reports the same.
			if full := find(t, Run(env), "memory cgroup"); full != c {
				t.Errorf("check-config says %+v, start-up check %+v", full, c)
			}
		})
	}
}
