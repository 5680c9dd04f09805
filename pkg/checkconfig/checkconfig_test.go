package checkconfig

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgek-io/edgek/test/testutil"
)

// The fake host's files, relative to its root: proc/..., sys/..., modules/....

const release = "6.1.0-18-arm64"

var procCgroupsV1 = `#subsys_name	hierarchy	num_cgroups	enabled
cpuset	3	1	1
cpu	1	1	1
cpuacct	2	1	1
blkio	7	1	1
memory	4	29	1
devices	5	1	1
freezer	6	1	1
net_cls	0	1	1
perf_event	0	1	1
net_prio	0	1	1
hugetlb	0	1	1
pids	8	1	1
`

// procCgroupsV1NoMemory is Raspberry Pi OS without cgroup_enable=memory.
var procCgroupsV1NoMemory = strings.Replace(procCgroupsV1, "memory	4	29	1", "memory	0	1	0", 1)

var procCgroupsV2 = `#subsys_name	hierarchy	num_cgroups	enabled
cpuset	0	80	1
cpu	0	80	1
cpuacct	0	80	1
blkio	0	80	1
memory	0	80	1
devices	0	80	1
freezer	0	80	1
pids	0	80	1
`

// baseHost is a healthy host with cgroup v1 hybrid, like the development machine.
func baseHost() map[string]string {
	files := map[string]string{
		"proc/sys/kernel/osrelease":                   release + "\n",
		"proc/cgroups":                                procCgroupsV1,
		"proc/cmdline":                                "console=ttyS0 root=/dev/vda\n",
		"proc/filesystems":                            "nodev\tsysfs\nnodev\ttmpfs\nnodev\toverlay\n",
		"proc/sys/net/ipv4/ip_forward":                "0\n",
		"proc/sys/net/bridge/bridge-nf-call-iptables": "1\n",
		"sys/fs/cgroup/unified/cgroup.controllers":    "",
		"sys/fs/cgroup/memory/memory.limit_in_bytes":  "9223372036854771712\n",
		"sys/module/bridge/uevent":                    "",
	}
	for _, ns := range []string{"net", "pid", "ipc", "uts", "mnt", "user", "cgroup"} {
		files["proc/self/ns/"+ns] = ""
	}
	return files
}

// fullConfig is a kernel config with everything edgek needs, partly as modules.
var fullConfig = map[string]string{
	"CONFIG_MODULES": "y", "CONFIG_OVERLAY_FS": "m", "CONFIG_BRIDGE_NETFILTER": "m", "CONFIG_BRIDGE": "m",
	"CONFIG_VETH": "m", "CONFIG_VXLAN": "m", "CONFIG_NF_CONNTRACK": "m", "CONFIG_NF_NAT": "m",
	"CONFIG_NETFILTER_XT_MATCH_CONNTRACK": "m", "CONFIG_NETFILTER_XT_TARGET_MASQUERADE": "m",
	"CONFIG_NETFILTER_XT_MATCH_COMMENT": "m", "CONFIG_NETFILTER_XT_MARK": "m",
	"CONFIG_NETFILTER_XT_MATCH_ADDRTYPE": "m", "CONFIG_NETFILTER_XT_MATCH_STATISTIC": "m",
	"CONFIG_NF_TABLES": "m", "CONFIG_NFT_COMPAT": "m", "CONFIG_NFT_NAT": "m", "CONFIG_IP_NF_NAT": "m",
	"CONFIG_IP_SET": "m", "CONFIG_NETFILTER_XT_SET": "m", "CONFIG_NETFILTER_XT_MATCH_PHYSDEV": "m",
	"CONFIG_NETFILTER_XT_TARGET_NFLOG": "m",
}

var allPrograms = []string{"iptables", "iptables-save", "iptables-restore", "ipset", "ip6tables", "ip6tables-save", "ip6tables-restore", "nft", "apt-get"}

type scenario struct {
	files    map[string]string // added to (or, with value "-", removed from) baseHost
	config   map[string]string // nil: no kernel config available
	programs []string          // what LookPath finds
	version  string            // output of iptables --version
}

func (s scenario) env(t *testing.T) Env {
	t.Helper()
	root := t.TempDir()
	files := baseHost()
	for k, v := range s.files {
		if v == "-" {
			delete(files, k)
		} else {
			files[k] = v
		}
	}
	testutil.WriteFiles(t, root, files)
	return Env{
		ProcRoot:    filepath.Join(root, "proc"),
		SysRoot:     filepath.Join(root, "sys"),
		BootRoot:    filepath.Join(root, "boot"),
		ModulesRoot: filepath.Join(root, "modules"),
		LookPath: func(name string) (string, error) {
			for _, p := range s.programs {
				if p == name {
					return "/usr/sbin/" + name, nil
				}
			}
			return "", &fs.PathError{Op: "lookpath", Path: name, Err: fs.ErrNotExist}
		},
		KernelConfig: func() (map[string]string, error) {
			if s.config == nil {
				return nil, errors.New("no kernel config")
			}
			return s.config, nil
		},
		Output: func(name string, args ...string) (string, error) {
			if s.version == "" {
				return "", errors.New("not found")
			}
			return s.version + "\n", nil
		},
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func find(t *testing.T, r Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Check{}
}

// state is how a check shows in the report: ✓, ! or ✗.
func state(c Check) string {
	switch {
	case c.OK:
		return "✓"
	case c.Required:
		return "✗"
	}
	return "!"
}

func TestRun(t *testing.T) {
	healthy := scenario{config: fullConfig, programs: allPrograms, version: "iptables v1.8.9 (nf_tables)"}
	tests := []struct {
		name   string
		s      scenario
		failed bool
		want   map[string]string // check name → ✓ / ! / ✗
		fix    map[string]string // check name → substring of its Fix
		detail map[string]string // check name → substring of its Detail
	}{
		{
			name: "cgroup v1 hybrid",
			s:    healthy,
			want: map[string]string{
				"cgroup version": "!", "cgroup controllers": "✓", "memory cgroup": "✓", "namespaces": "✓",
				"kernel feature overlay": "✓", "kernel feature vxlan": "✓", "kernel feature nft_compat": "✓",
				"sysctl net.ipv4.ip_forward": "✓", "iptables": "✓", "Linux kernel": "✓", "bundled runtime": "✓", "kernel config": "✓",
			},
			fix:    map[string]string{"cgroup version": "systemd.unified_cgroup_hierarchy=1"},
			detail: map[string]string{"cgroup version": "failCgroupV1=false", "iptables": "backend nf_tables", "cgroup controllers": "cpuacct"},
		},
		{
			name: "cgroup v2",
			s: scenario{
				files: map[string]string{
					"proc/cgroups": procCgroupsV2, "sys/fs/cgroup/unified/cgroup.controllers": "-",
					"sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
				},
				config: fullConfig, programs: allPrograms, version: "iptables v1.8.9 (legacy)",
			},
			want: map[string]string{
				"cgroup version": "✓", "cgroup controllers": "✓", "memory cgroup": "✓", "kernel feature iptable_nat": "✓",
			},
			detail: map[string]string{"cgroup version": "v2", "iptables": "backend legacy"},
		},
		{
			name: "cgroup v2 without memory",
			s: scenario{
				files: map[string]string{
					"proc/cgroups": strings.Replace(procCgroupsV2, "memory	0	80	1", "memory	0	80	0", 1), "sys/fs/cgroup/unified/cgroup.controllers": "-",
					"sys/fs/cgroup/cgroup.controllers": "cpuset cpu io pids\n",
					"proc/cmdline":                     "root=/dev/sda1 cgroup_disable=memory\n",
				},
				config: fullConfig, programs: allPrograms,
			},
			failed: true,
			want:   map[string]string{"cgroup version": "✓", "cgroup controllers": "✓", "memory cgroup": "✗"},
			fix:    map[string]string{"memory cgroup": "GRUB_CMDLINE_LINUX"},
			detail: map[string]string{"memory cgroup": "cgroup_disable=memory"},
		},
		{
			name: "raspberry pi without memory controller",
			s: scenario{
				files: map[string]string{
					"proc/cgroups":                       procCgroupsV1NoMemory,
					"sys/firmware/devicetree/base/model": "Raspberry Pi 4 Model B Rev 1.4\x00",
				},
				config: fullConfig, programs: allPrograms,
			},
			failed: true,
			want:   map[string]string{"memory cgroup": "✗", "cgroup controllers": "✓"},
			fix:    map[string]string{"memory cgroup": "cgroup_memory=1 cgroup_enable=memory` to the end of the single line of /boot/firmware/cmdline.txt (Raspberry Pi OS bookworm and later; /boot/cmdline.txt on older releases)"},
			detail: map[string]string{"memory cgroup": "disabled"},
		},
		{
			name: "v1 without freezer and pids",
			s: scenario{
				files:  map[string]string{"proc/cgroups": strings.NewReplacer("freezer	6", "freezer	0", "pids	8	1	1\n", "").Replace(procCgroupsV1)},
				config: fullConfig, programs: allPrograms,
			},
			failed: true,
			want:   map[string]string{"cgroup controllers": "✗"},
			detail: map[string]string{"cgroup controllers": "missing pids, freezer"},
		},
		{
			name:   "no iptables",
			s:      scenario{config: fullConfig, programs: []string{"apk", "nft"}},
			failed: true,
			want: map[string]string{
				"iptables": "✗", "ip6tables": "!", "nft": "✓",
				// unknown backend: the legacy nat module is checked
				"kernel feature iptable_nat": "✓",
			},
			fix:    map[string]string{"iptables": "apk add iptables"},
			detail: map[string]string{"iptables": "iptables, iptables-save, iptables-restore"},
		},
		{
			name:   "no ipset",
			s:      scenario{config: fullConfig, programs: []string{"iptables", "iptables-save", "iptables-restore", "apt-get"}, version: "iptables v1.8.9 (nf_tables)"},
			failed: true,
			want:   map[string]string{"iptables": "✓", "ipset": "✗"},
			fix:    map[string]string{"ipset": "apt-get install ipset"},
			detail: map[string]string{"ipset": "--disable-network-policy"},
		},
		{
			name:   "no iptables and no package manager",
			s:      scenario{config: fullConfig, programs: []string{"iptables"}},
			failed: true,
			want:   map[string]string{"iptables": "✗", "nft": "✓"},
			fix:    map[string]string{"iptables": "apt-get install iptables / apk add iptables / dnf install iptables"},
			detail: map[string]string{"iptables": "iptables-save, iptables-restore", "nft": "not installed"},
		},
		{
			name: "kernel features undeterminable",
			s: scenario{
				files:    map[string]string{"proc/sys/net/bridge/bridge-nf-call-iptables": "-", "proc/filesystems": "nodev\tsysfs\n"},
				programs: allPrograms, version: "iptables v1.8.9 (nf_tables)",
			},
			want: map[string]string{
				"kernel feature overlay": "!", "kernel feature vxlan": "!", "kernel feature bridge": "✓",
				"sysctl net.bridge.bridge-nf-call-iptables": "!", "kernel config": "!",
			},
			fix:    map[string]string{"sysctl net.bridge.bridge-nf-call-iptables": "/etc/modules-load.d/edgek.conf"},
			detail: map[string]string{"kernel feature vxlan": "cannot tell"},
		},
		{
			name: "modules dir without config",
			s: scenario{
				files: map[string]string{
					"proc/sys/net/bridge/bridge-nf-call-iptables": "-", "proc/filesystems": "nodev\tsysfs\n",
					"modules/" + release + "/modules.dep": "kernel/fs/overlayfs/overlay.ko.xz:\n" +
						"kernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz\n" +
						"kernel/drivers/net/veth.ko.xz:\n",
					"modules/" + release + "/modules.builtin": "kernel/net/netfilter/nf_conntrack.ko\n",
				},
				programs: append(slices.Clone(allPrograms), "modprobe"), version: "iptables v1.8.9 (nf_tables)",
			},
			failed: true,
			want: map[string]string{
				"kernel feature overlay": "✓", "kernel feature br_netfilter": "✓", "kernel feature veth": "✓",
				"kernel feature nf_conntrack": "✓", "kernel feature vxlan": "✗",
				"sysctl net.bridge.bridge-nf-call-iptables": "✓",
			},
			detail: map[string]string{"kernel feature overlay": "module available", "kernel feature nf_conntrack": "built in", "kernel config": "no kernel config",
				"sysctl net.bridge.bridge-nf-call-iptables": "edgek loads it"},
		},
		{
			name: "config without vxlan",
			s: scenario{
				files:    map[string]string{"proc/filesystems": "nodev\tsysfs\n"},
				config:   with(fullConfig, "CONFIG_VXLAN", "n", "CONFIG_OVERLAY_FS", "y"),
				programs: allPrograms,
			},
			failed: true,
			want:   map[string]string{"kernel feature vxlan": "✗", "kernel feature overlay": "✓"},
			fix:    map[string]string{"kernel feature vxlan": "CONFIG_VXLAN"},
			detail: map[string]string{"kernel feature vxlan": "flannel"},
		},
		{
			name: "old masquerade module",
			s: scenario{
				config:   with(fullConfig, "CONFIG_NETFILTER_XT_TARGET_MASQUERADE", "n", "CONFIG_IP_NF_TARGET_MASQUERADE", "m"),
				programs: allPrograms,
			},
			want:   map[string]string{"kernel feature xt_MASQUERADE": "✓"},
			detail: map[string]string{"kernel feature xt_MASQUERADE": "ipt_MASQUERADE"},
		},
		{
			name: "old kernel",
			s: scenario{
				files:  map[string]string{"proc/sys/kernel/osrelease": "4.9.337-rt\n"},
				config: fullConfig, programs: allPrograms,
			},
			want: map[string]string{"Linux kernel": "!"},
		},
		{
			name: "ancient kernel and no namespaces",
			s: scenario{
				files:  map[string]string{"proc/sys/kernel/osrelease": "3.2.0\n", "proc/self/ns/pid": "-", "proc/self/ns/user": "-"},
				config: fullConfig, programs: allPrograms,
			},
			failed: true,
			want:   map[string]string{"Linux kernel": "✗", "namespaces": "✗", "user and cgroup namespaces": "!"},
			detail: map[string]string{"namespaces": "missing pid"},
		},
		{
			name: "no cgroups",
			s: scenario{
				files:  map[string]string{"proc/cgroups": "-", "sys/fs/cgroup/unified/cgroup.controllers": "-"},
				config: fullConfig, programs: allPrograms,
			},
			failed: true,
			want:   map[string]string{"cgroup version": "✗"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Run(tt.s.env(t))
			var out bytes.Buffer
			r.Write(&out)
			if r.Failed() != tt.failed {
				t.Errorf("Failed() = %v, want %v\n%s", r.Failed(), tt.failed, out.String())
			}
			for name, want := range tt.want {
				if got := state(find(t, r, name)); got != want {
					t.Errorf("%s: %s, want %s\n%s", name, got, want, out.String())
				}
			}
			for name, want := range tt.fix {
				if c := find(t, r, name); !strings.Contains(c.Fix, want) {
					t.Errorf("%s: fix %q does not contain %q", name, c.Fix, want)
				}
			}
			for name, want := range tt.detail {
				if c := find(t, r, name); !strings.Contains(c.Detail, want) {
					t.Errorf("%s: detail %q does not contain %q", name, c.Detail, want)
				}
			}
			for _, c := range r.Checks {
				if !c.OK && c.Fix == "" && c.Name != "sysctl net.ipv4.ip_forward" {
					t.Errorf("%s failed without a fix", c.Name)
				}
			}
		})
	}
}

func TestWrite(t *testing.T) {
	r := Report{Checks: []Check{
		{Name: "a", OK: true, Required: true, Detail: "fine", Fix: "not shown"},
		{Name: "b", Detail: "meh", Fix: "do x"},
		{Name: "c", Required: true, Detail: "broken", Fix: "do y"},
	}}
	var out bytes.Buffer
	r.Write(&out)
	want := "✓ a: fine\n! b: meh (fix: do x)\n✗ c: broken (fix: do y)\n\n" +
		"3 checks: 1 passed, 1 warning, 1 failed: edgek cannot run on this host until the checks marked ✗ are fixed\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	if !r.Failed() {
		t.Error("Failed() = false")
	}
	r.Checks = r.Checks[:2]
	if r.Failed() {
		t.Error("a warning made Failed() true")
	}
}

func TestParseKernelConfig(t *testing.T) {
	cfg, err := parseKernelConfig(strings.NewReader("#\n# Automatically generated\nCONFIG_VXLAN=m\n# CONFIG_WIREGUARD is not set\nCONFIG_LOCALVERSION=\"-arm64\"\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"CONFIG_VXLAN": "m", "CONFIG_WIREGUARD": "n", "CONFIG_LOCALVERSION": "-arm64"}
	if !maps.Equal(cfg, want) {
		t.Errorf("got %v, want %v", cfg, want)
	}
}

func TestParseKernelVersion(t *testing.T) {
	for in, want := range map[string][2]int{"6.1.0-18-arm64": {6, 1}, "5.15.0+rpt-rpi-v8": {5, 15}, "4.19-rc1": {4, 19}, "6.18.44-fc-v595": {6, 18}} {
		if got, ok := parseKernelVersion(in); !ok || got != want {
			t.Errorf("%s: got %v %v, want %v", in, got, ok, want)
		}
	}
	if _, ok := parseKernelVersion("linux"); ok {
		t.Error("parsed nonsense")
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/net/bridge/br_netfilter.ko.zst": "br_netfilter", "kernel/drivers/net/vxlan/vxlan.ko": "vxlan",
		"kernel/net/netfilter/xt-foo.ko.xz": "xt_foo", "modules.order": "",
	} {
		if got := moduleName(in); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

func TestReadKernelConfig(t *testing.T) {
	root := t.TempDir()
	proc, boot := filepath.Join(root, "proc"), filepath.Join(root, "boot")
	if err := os.MkdirAll(boot, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(proc, "sys", "kernel", "osrelease"), release+"\n")
	if _, err := readKernelConfig(proc, boot); err == nil {
		t.Error("no config found, but no error")
	}

	// /boot/config-<release>
	testutil.WriteFile(t, filepath.Join(boot, "config-"+release), "CONFIG_VXLAN=m\n")
	cfg, err := readKernelConfig(proc, boot)
	if err != nil || cfg["CONFIG_VXLAN"] != "m" {
		t.Errorf("boot config: %v %v", cfg, err)
	}

	// /proc/config.gz wins.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("CONFIG_VXLAN=y\n"))
	zw.Close()
	testutil.WriteFile(t, filepath.Join(proc, "config.gz"), gz.String())
	cfg, err = readKernelConfig(proc, boot)
	if err != nil || cfg["CONFIG_VXLAN"] != "y" {
		t.Errorf("config.gz: %v %v", cfg, err)
	}
}
