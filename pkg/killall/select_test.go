package killall

import (
	"slices"
	"strings"
	"testing"
)

func TestSelectMounts(t *testing.T) {
	h := newFakeHost(t)
	r, err := newRun(h.options(1, true))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := parseMountinfo(strings.NewReader(h.sub(mountinfoSample)))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, w := range wantUnmounts {
		want = append(want, h.sub(w))
	}
	if got := r.selectMounts(ms); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`: "/a b", `/tab\011x`: "/tab\tx", `/back\134slash`: `/back\slash`, `/end\04`: `/end\04`, `/plain`: "/plain",
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestFilterIPTablesSave(t *testing.T) {
	got, removed := filterIPTablesSave(iptablesSample)
	if got != iptablesWant {
		t.Errorf("got\n%s\nwant\n%s", got, iptablesWant)
	}
	for _, line := range removed {
		for _, keep := range []string{"ssh from the office", "home lan", "docker0", "DOCKER", "NOTRACK"} {
			if strings.Contains(line, keep) {
				t.Errorf("removed %q", line)
			}
		}
	}
	if len(removed) != 69 { // every line of mangle, filter and nat but the 23 kept
		t.Errorf("removed %d lines, want 69", len(removed))
	}

	// Nothing of edgek's: nothing to restore.
	clean := "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n"
	if got, removed := filterIPTablesSave(clean); got != "" || len(removed) != 0 {
		t.Errorf("clean dump: %q, %v", got, removed)
	}
}

func TestSplitRule(t *testing.T) {
	got := splitRule(`-A POSTROUTING -s 10.42.0.0/24 -m comment --comment "name: \"cbr0\" id: \"ab\"" -j CNI-ab`)
	want := []string{"-A", "POSTROUTING", "-s", "10.42.0.0/24", "-m", "comment", "--comment", `name: "cbr0" id: "ab"`, "-j", "CNI-ab"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q", got)
	}
}

func TestSelectLinks(t *testing.T) {
	ls := []link{
		{Name: "lo", Type: "device", Index: 1},
		{Name: "eth0", Type: "device", Index: 2},
		{Name: "docker0", Type: "bridge", Index: 4},
		{Name: "cni0", Type: "bridge", Index: 5},
		{Name: "veth1a2b", Type: "veth", Index: 6, Master: 5},
		{Name: "vethdock", Type: "veth", Index: 7, Master: 4},
		{Name: "veth3c4d", Type: "veth", Index: 8, Master: 5},
		{Name: "flannel.1", Type: "vxlan", Index: 9},
		{Name: "flannel-wg", Type: "bridge", Index: 10},
		{Name: "vxlan.calico", Type: "vxlan", Index: 11},
	}
	del, skipped := selectLinks(ls)
	if want := []string{"veth1a2b", "veth3c4d", "cni0", "flannel.1"}; !slices.Equal(del, want) {
		t.Errorf("delete %v, want %v", del, want)
	}
	if len(skipped) != 1 || skipped[0].Name != "flannel-wg" {
		t.Errorf("skipped %v", skipped)
	}
	if del, _ := selectLinks([]link{{Name: "cni0", Type: "dummy", Index: 3}, {Name: "v", Type: "veth", Master: 3}}); len(del) != 0 {
		t.Errorf("a cni0 that is no bridge: deleted %v", del)
	}
}

func TestSelectNftTables(t *testing.T) {
	list := "table ip filter\ntable ip kube-proxy\ntable ip6 kube-proxy\ntable ip6 flannel-ipv6\ntable inet firewalld\ntable inet kube-proxy\n"
	got := selectNftTables(list)
	want := []nftTable{{"ip", "kube-proxy"}, {"ip6", "kube-proxy"}, {"ip6", "flannel-ipv6"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// The kubelet bind-mounts its root dir onto itself; that mount goes, a disk mounted there stays.
func TestSelectMountsKubeletSelfBind(t *testing.T) {
	h := newFakeHost(t)
	r, err := newRun(h.options(1, true))
	if err != nil {
		t.Fatal(err)
	}
	const info = `22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
130 22 252:1 {data}/agent/kubelet {data}/agent/kubelet rw,relatime shared:71 - ext4 /dev/vda1 rw
131 22 252:4 / {data}/agent/containerd rw,relatime shared:72 - ext4 /dev/sdc1 rw
`
	ms, err := parseMountinfo(strings.NewReader(h.sub(info)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.selectMounts(ms), []string{h.sub("{data}/agent/kubelet")}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
