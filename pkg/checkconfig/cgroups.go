package checkconfig

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	nodehost "github.com/edgek-io/edgek/pkg/agent/host"
)

// cgroupController is one line of /proc/cgroups.
type cgroupController struct {
	hierarchy int  // v1 hierarchy id; 0 when not mounted as v1 (or on v2)
	enabled   bool // false when disabled on the kernel command line
}

// readProcCgroups parses /proc/cgroups: "subsys_name hierarchy num_cgroups enabled".
func (h *host) readProcCgroups() map[string]cgroupController {
	m := map[string]cgroupController{}
	sc := bufio.NewScanner(strings.NewReader(h.readProc("cgroups")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		var hier int
		fmt.Sscan(f[1], &hier)
		m[f[0]] = cgroupController{hierarchy: hier, enabled: f[3] == "1"}
	}
	return m
}

// cgroupMode is "v2", "hybrid", "v1" or "" (no cgroups mounted). The version is told as the
// node tells it (package agent/host), so that the check and the kubelet's configuration agree.
func (h *host) cgroupMode(procCgroups map[string]cgroupController) string {
	switch {
	case nodehost.IsCgroup2(h.sys("fs/cgroup")):
		return "v2"
	case nodehost.IsCgroup2(h.sys("fs/cgroup/unified")):
		return "hybrid"
	}
	for _, c := range procCgroups {
		if c.hierarchy != 0 {
			return "v1"
		}
	}
	return ""
}

// requiredControllers are the controllers the kubelet and runc need, by cgroup version.
var requiredControllers = map[string][]string{
	"v1": {"cpu", "cpuacct", "cpuset", "pids", "devices", "freezer"},
	"v2": {"cpu", "cpuset", "pids"},
}

func (h *host) checkCgroups() []Check {
	procCgroups := h.readProcCgroups()
	mode := h.cgroupMode(procCgroups)
	version := Check{Name: "cgroup version", Required: true}
	switch mode {
	case "":
		version.Detail = "no cgroup filesystem under " + h.sys("fs/cgroup")
		version.Fix = "mount cgroup2 on /sys/fs/cgroup (an init system such as systemd or OpenRC does it)"
		return []Check{version}
	case "v2":
		version.OK, version.Detail = true, "v2 (unified hierarchy)"
	default:
		name := map[string]string{"hybrid": "v1 (hybrid: v1 controllers, v2 mounted at unified/)", "v1": "v1 (legacy)"}[mode]
		version.Required = false
		version.Detail = name + "; edgek runs the kubelet with failCgroupV1=false because Kubernetes ≥1.35 refuses cgroup v1 otherwise, and v1 support is deprecated"
		version.Fix = "boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line (kernel ≥5.8) to switch to cgroup v2"
	}
	return []Check{version, h.checkControllers(mode, procCgroups), h.checkMemoryCgroup(mode, procCgroups)}
}

// availableControllers returns the controllers usable under mode.
func (h *host) availableControllers(mode string, procCgroups map[string]cgroupController) map[string]bool {
	avail := map[string]bool{}
	if mode == "v2" {
		b, _ := os.ReadFile(h.sys("fs/cgroup/cgroup.controllers"))
		for _, c := range strings.Fields(string(b)) {
			avail[c] = true
		}
		for name, c := range procCgroups {
			if !c.enabled {
				delete(avail, name)
			}
		}
		return avail
	}
	for name, c := range procCgroups {
		if c.enabled && c.hierarchy != 0 {
			avail[name] = true
		}
	}
	return avail
}

func (h *host) checkControllers(mode string, procCgroups map[string]cgroupController) Check {
	c := Check{Name: "cgroup controllers", Required: true}
	avail := h.availableControllers(mode, procCgroups)
	v := "v1"
	if mode == "v2" {
		v = "v2"
	}
	var have, missing []string
	for _, name := range requiredControllers[v] {
		if avail[name] {
			have = append(have, name)
		} else {
			missing = append(missing, name)
		}
	}
	if v == "v2" {
		// On v2 the freezer is cgroup.freeze (kernel ≥5.2) and devices is an eBPF program.
		if kv, ok := h.kernelVersion(); ok && versionLess(kv, [2]int{5, 2}) {
			missing = append(missing, "freezer (cgroup v2 needs kernel ≥5.2)")
		} else {
			have = append(have, "freezer")
		}
	}
	if len(missing) == 0 {
		c.OK = true
		c.Detail = strings.Join(have, ", ")
		return c
	}
	c.Detail = "missing " + strings.Join(missing, ", ")
	if len(have) > 0 {
		c.Detail += " (have " + strings.Join(have, ", ") + ")"
	}
	var disabled []string
	for _, m := range missing {
		if pc, ok := procCgroups[m]; ok && !pc.enabled {
			disabled = append(disabled, m)
		}
	}
	if len(disabled) > 0 {
		c.Fix = "the kernel command line disables " + strings.Join(disabled, ", ") + ": remove cgroup_disable=... from it and reboot"
	} else {
		c.Fix = "use a kernel with these cgroup controllers (CONFIG_CGROUP_*, CONFIG_CPUSETS)"
	}
	return c
}

// checkMemoryCgroup is separate because Raspberry Pi OS and some boards ship with the memory
// controller disabled, and the fix is specific: the file to edit and the words to append.
func (h *host) checkMemoryCgroup(mode string, procCgroups map[string]cgroupController) Check {
	c := Check{Name: "memory cgroup", Required: true}
	if h.availableControllers(mode, procCgroups)["memory"] {
		c.OK, c.Detail = true, "enabled"
		return c
	}
	pc, known := procCgroups["memory"]
	switch {
	case known && !pc.enabled:
		c.Detail = "the memory controller is disabled"
	case mode == "v2" && known && pc.hierarchy != 0:
		c.Detail = "the memory controller is bound to a cgroup v1 hierarchy, not to the unified one"
		c.Fix = "do not mount the memory controller as cgroup v1 (remove that mount from /etc/fstab or the init scripts) and reboot"
		return c
	case mode == "v2" && known:
		c.Detail = "the memory controller is not in " + h.sys("fs/cgroup/cgroup.controllers") + " (not delegated to this cgroup namespace)"
		c.Fix = "run edgek in the host's cgroup namespace (docker run --cgroupns=host) or delegate the memory controller to its cgroup (systemd: Delegate=yes)"
		return c
	case known:
		c.Detail = "the memory controller is not mounted"
		c.Fix = "mount it (mkdir -p /sys/fs/cgroup/memory && mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory; the init system normally does it) or boot with cgroup v2"
		return c
	case !strings.Contains(h.readProc("cmdline"), "cgroup_disable=memory") && h.cmdlineTxt() == "" && !h.isRaspberryPi():
		c.Detail = "the kernel has no memory controller (CONFIG_MEMCG)"
		c.Fix = "use a kernel built with CONFIG_MEMCG"
		return c
	default:
		// Raspberry Pi kernels disable it unless cgroup_enable=memory is given.
		c.Detail = "the memory controller is disabled"
	}
	if slices.Contains(strings.Fields(h.readProc("cmdline")), "cgroup_disable=memory") {
		c.Detail += " (cgroup_disable=memory is on the kernel command line)"
	}
	c.Fix = h.memoryFix()
	return c
}

// memoryFix says which file to edit and what to append to enable the memory controller.
func (h *host) memoryFix() string {
	const words = "cgroup_memory=1 cgroup_enable=memory"
	if file := h.cmdlineTxt(); file != "" {
		fix := "append ` " + words + "` to the end of the single line of " + file + " (same line, separated by a space; not a new line), then reboot"
		if lines := nonEmptyLines(file); lines > 1 {
			fix += "; " + file + " has " + fmt.Sprint(lines) + " lines: the kernel reads only the first, join them into one"
		}
		return fix
	}
	if h.isRaspberryPi() {
		return "append ` " + words + "` to the end of the single line of /boot/firmware/cmdline.txt (Raspberry Pi OS bookworm and later; /boot/cmdline.txt on older releases), then reboot"
	}
	return "add cgroup_enable=memory to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub; on a Raspberry Pi append `" + words + "` to cmdline.txt) and reboot"
}

// cmdlineTxt is the Raspberry Pi firmware's kernel command line file, "" when there is none:
// /boot/firmware/cmdline.txt since Raspberry Pi OS bookworm (and on Ubuntu), /boot/cmdline.txt
// before.
func (h *host) cmdlineTxt() string {
	for _, rel := range []string{"firmware/cmdline.txt", "cmdline.txt"} {
		if p := filepath.Join(h.BootRoot, rel); exists(p) {
			return p
		}
	}
	return ""
}

func nonEmptyLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

func (h *host) isRaspberryPi() bool {
	b, err := os.ReadFile(h.sys(filepath.Join("firmware", "devicetree", "base", "model")))
	return err == nil && strings.Contains(string(b), "Raspberry Pi")
}

// MemoryCgroup checks only the memory cgroup controller, cheaply: edgek server and agent
// refuse to start without it (the kubelet would fail obscurely). Empty fields of env take
// DefaultEnv's values.
func MemoryCgroup(env Env) Check {
	h := &host{Env: withDefaults(env)}
	procCgroups := h.readProcCgroups()
	mode := h.cgroupMode(procCgroups)
	if mode == "" {
		return Check{Name: "memory cgroup", Required: true, Detail: "no cgroup filesystem under " + h.sys("fs/cgroup"),
			Fix: "mount cgroup2 on /sys/fs/cgroup (an init system such as systemd or OpenRC does it)"}
	}
	return h.checkMemoryCgroup(mode, procCgroups)
}
