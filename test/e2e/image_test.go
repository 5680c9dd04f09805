//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/cap"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestImage runs the Dockerfile's image without Docker: scripts/image-rootfs.sh assembles its
// root filesystem (Debian with build/image/packages.txt, plus edgek laid out by
// build/image/layout.sh) and the runc edgek carries runs it, with the Dockerfile's ENTRYPOINT,
// CMD and ENV, as a privileged container in the test's network namespace, as `docker run
// --privileged --cgroupns=host` would. The node must become Ready with kube-proxy's and
// flannel's rules made by the image's iptables, serve a ClusterIP, stop cleanly and leave
// nothing on the host.
func TestImage(t *testing.T) {
	ns := newNetns(t)
	c := newImageContainer(t, ns)
	started := time.Now()
	c.start()
	c.waitAPI(120 * time.Second)
	eventually(t, 60*time.Second, "the node registered", func() error {
		out, err := c.kubectl("get", "nodes", "-o", "name")
		if err != nil || !strings.Contains(out, "node/edgek-image") {
			return fmt.Errorf("%q, %v", out, err)
		}
		return nil
	})
	c.mustKubectl("wait", "--for=condition=Ready", "node/edgek-image", "--timeout=120s")
	t.Logf("container start to node Ready: %s", time.Since(started).Round(100*time.Millisecond))

	c.checkIPTables()
	// What check-config requires of a host (iptables, modprobe, ...), the image has.
	if out, err := c.execIn("edgek", "check-config"); err != nil || !strings.Contains(out, "0 failed: edgek can run on this host") {
		t.Errorf("edgek check-config in the container: %v\n%s", err, out)
	}
	webBin := buildWebserver(t)
	dropImage(t, filepath.Join(c.volume, "agent", "images"), webBin)
	if out, err := c.kubectlIn(webManifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c.mustKubectl("wait", "--for=condition=Available", "deployment/web", "--timeout=120s")
	clusterIP := strings.TrimSpace(c.mustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"))
	getFromHost(t, ns, webBin, "http://"+clusterIP+"/", "")

	c.stop()
	c.unmountRootfs()
	c.checkNothingLeft()
}

// image is what the Dockerfile's final stage sets for the container's process.
type image struct {
	entrypoint, cmd, env []string
}

// readDockerfile reads ENTRYPOINT, CMD (JSON form) and ENV of the Dockerfile's last stage.
func readDockerfile(t *testing.T, path string) image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var img image
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		word, rest, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch strings.ToUpper(word) {
		case "FROM":
			img = image{}
		case "ENTRYPOINT":
			img.entrypoint = jsonArgs(t, rest)
		case "CMD":
			img.cmd = jsonArgs(t, rest)
		case "ENV":
			img.env = append(img.env, rest)
		}
	}
	if len(img.entrypoint) == 0 || len(img.cmd) == 0 {
		t.Fatalf("%s: no ENTRYPOINT or CMD in JSON form in the last stage", path)
	}
	return img
}

func jsonArgs(t *testing.T, s string) []string {
	t.Helper()
	var args []string
	if err := json.Unmarshal([]byte(s), &args); err != nil {
		t.Fatalf("Dockerfile: %q is not a JSON array: %v", s, err)
	}
	return args
}

// repoRoot is the checkout this test belongs to. go test runs a test in its package's
// directory; runtime.Caller would give a module path under -trimpath (as make builds).
func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(fmt.Sprintf("e2e: working directory: %v", err))
	}
	return filepath.Join(wd, "..", "..")
}

// container is the image running under runc.
type container struct {
	t       *testing.T
	ns      *netns
	id      string
	runc    string
	state   string // runc's --root
	bundle  string
	rootfs  string // overlay of the edgek layer on the cached Debian base
	volume  string // bound to /var/lib/edgek
	cgroups []string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	mounted bool
}

// newImageContainer assembles the root filesystem and the runc bundle. The cleanups run in
// reverse: runc kill and delete, unmount, remove the cgroups (then the netns, made before).
func newImageContainer(t *testing.T, ns *netns) *container {
	t.Helper()
	dir := t.TempDir()
	c := &container{t: t, ns: ns, id: fmt.Sprintf("edgek-e2e-%d-image", os.Getpid()),
		state: filepath.Join(dir, "runc"), bundle: filepath.Join(dir, "bundle"),
		rootfs: filepath.Join(dir, "bundle", "rootfs"), volume: filepath.Join(dir, "volume")}
	for _, d := range []string{c.rootfs, c.volume, filepath.Join(dir, "upper"), filepath.Join(dir, "work")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	base := imageBase(t)
	layer := filepath.Join(dir, "layer")
	run(t, filepath.Join(repoRoot(), "scripts", "image-rootfs.sh"), "layer", edgekBin, layer)
	c.runc = carriedRunc(t, filepath.Join(dir, "edgek-data"))

	kubeletArgs := withCgroupRoot(t, nil) // --kubelet-arg cgroup-root=/<root>
	kubeletRoot := strings.TrimPrefix(kubeletArgs[1], "cgroup-root=/")
	ctrRoot := newCgroupRoot(t, c.id)
	c.cgroups = []string{kubeletRoot, ctrRoot}

	opts := fmt.Sprintf("lowerdir=%s:%s,upperdir=%s/upper,workdir=%s/work", layer, base, dir, dir)
	if err := unix.Mount("overlay", c.rootfs, "overlay", 0, opts); err != nil {
		t.Fatalf("mount the image's root filesystem: %v", err)
	}
	c.mounted = true
	t.Cleanup(c.unmountRootfs)

	img := readDockerfile(t, filepath.Join(repoRoot(), "Dockerfile"))
	args := append(append(img.entrypoint, img.cmd...), "--node-ip", ns.ip, kubeletArgs[0], kubeletArgs[1])
	env := append(img.env, "HOME=/root") // Docker sets HOME when the image does not
	// EDGEK_IPTABLES_MODE=legacy (or nft) in the test's environment tests that backend.
	if mode := os.Getenv("EDGEK_IPTABLES_MODE"); mode != "" {
		env = append(env, "EDGEK_IPTABLES_MODE="+mode)
	}
	c.writeSpec(dir, args, env, "/"+ctrRoot)
	t.Cleanup(c.remove)
	return c
}

// imageBase returns the cached Debian root of the image (building it takes about a minute).
func imageBase(t *testing.T) string {
	t.Helper()
	begin := time.Now()
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "image-rootfs.sh"), "base")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/image-rootfs.sh base: %v\n%s", err, stderr.String())
	}
	t.Logf("image base root: %s (%s)", strings.TrimSpace(string(out)), time.Since(begin).Round(100*time.Millisecond))
	return strings.TrimSpace(string(out))
}

// carriedRunc has edgek extract what it carries (its crictl does, into EDGEK_DATA_DIR) and
// returns the runc among them: the host's runc is not used.
func carriedRunc(t *testing.T, dataDir string) string {
	t.Helper()
	cmd := exec.Command(edgekBin, "crictl", "--version")
	cmd.Env = append(os.Environ(), "EDGEK_DATA_DIR="+dataDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("extract edgek's binaries: %v\n%s", err, out)
	}
	found, _ := filepath.Glob(filepath.Join(dataDir, "data", "*", "bin", "runc"))
	if len(found) != 1 {
		t.Fatalf("runc in %s/data/*/bin: %v", dataDir, found)
	}
	return found[0]
}

// writeSpec writes the bundle's config.json: a privileged container (all the capabilities
// this process has, every device, no seccomp, AppArmor or masked paths) with new mount, PID,
// UTS and IPC namespaces, the test's network namespace and the host's cgroup namespace.
func (c *container) writeSpec(dir string, args, env []string, cgroupsPath string) {
	c.t.Helper()
	caps, err := cap.Current()
	if err != nil {
		c.t.Fatal(err)
	}
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		c.t.Fatal(err)
	}
	spec := &specs.Spec{
		Version:  specs.Version,
		Hostname: "edgek-image",
		Root:     &specs.Root{Path: c.rootfs},
		Process: &specs.Process{
			Args: args, Env: env, Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: nofile.Max, Soft: nofile.Max}},
		},
		Mounts: c.mounts(dir),
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.IPCNamespace}, {Type: specs.NetworkNamespace, Path: c.ns.path},
			},
			CgroupsPath:       cgroupsPath,
			Resources:         &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}},
			RootfsPropagation: "rslave",
		},
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.bundle, "config.json"), data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// mounts are those of `docker run --privileged --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw
// --tmpfs /run -v /lib/modules:/lib/modules:ro -v VOLUME:/var/lib/edgek`, with a resolv.conf
// that leads nowhere (nothing may reach the host's resolver) and an /etc/hosts, as Docker
// provides them.
func (c *container) mounts(dir string) []specs.Mount {
	c.t.Helper()
	resolv, hosts := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "hosts")
	if err := os.WriteFile(resolv, []byte("nameserver 172.31.254.53\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"+c.ns.ip+" edgek-image\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	bind := func(src, dst string, opts ...string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)}
	}
	m := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		bind("/dev", "/dev", "rw"),
		bind("/sys", "/sys", "rw"), // with /sys/fs/cgroup and its hierarchies below it
		{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755"}},
		bind(c.volume, "/var/lib/edgek", "rw"),
		bind(resolv, "/etc/resolv.conf", "ro"),
		bind(hosts, "/etc/hosts", "ro"),
	}
	if _, err := os.Stat("/lib/modules"); err == nil {
		m = append(m, bind("/lib/modules", "/lib/modules", "ro"))
	}
	return m
}

// start runs the container in the foreground of a `runc run` child of the test.
func (c *container) start() {
	c.t.Helper()
	c.logPath = filepath.Join(artifactsDir, strings.ReplaceAll(c.t.Name(), "/", "_")+"-container.log")
	logf, err := os.Create(c.logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	c.cmd = exec.Command(c.runc, "--root", c.state, "run", "--bundle", c.bundle, c.id)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("runc run: %v", err)
	}
	c.exited = make(chan struct{})
	go func() { c.cmd.Wait(); logf.Close(); close(c.exited) }()
}

// kubeconfig is the one edgek wrote in the container, at its default path.
func (c *container) kubeconfig() string { return filepath.Join(c.rootfs, "etc", "edgek", "edgek.yaml") }

// waitAPI waits until the kubeconfig exists and the apiserver answers /readyz.
func (c *container) waitAPI(timeout time.Duration) {
	c.t.Helper()
	eventually(c.t, timeout, "the apiserver in the container ready", func() error {
		select {
		case <-c.exited:
			c.t.Fatalf("the container exited: %v\n%s", c.cmd.ProcessState, c.logTail(40))
		default:
		}
		if _, err := os.Stat(c.kubeconfig()); err != nil {
			return err
		}
		if out, err := c.kubectl("get", "--raw", "/readyz"); err != nil || strings.TrimSpace(out) != "ok" {
			return fmt.Errorf("/readyz: %q, %v", out, err)
		}
		return nil
	})
}

func (c *container) kubectl(args ...string) (string, error) { return c.kubectlIn("", args...) }

// kubectlIn runs the host's edgek kubectl inside the namespace with the container's kubeconfig.
func (c *container) kubectlIn(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	full := append([]string{"--net=" + c.ns.path, edgekBin, "kubectl", "--kubeconfig", c.kubeconfig()}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

func (c *container) mustKubectl(args ...string) string {
	c.t.Helper()
	out, err := c.kubectl(args...)
	if err != nil {
		c.t.Fatalf("%v\ncontainer log:\n%s", err, c.logTail(30))
	}
	return out
}

// execIn runs a command in the running container (with the image's environment).
func (c *container) execIn(args ...string) (string, error) {
	out, err := exec.Command(c.runc, append([]string{"--root", c.state, "exec", c.id}, args...)...).CombinedOutput()
	return string(out), err
}

// checkIPTables checks that the image carries iptables (both backends) and that kube-proxy
// and flannel made their rules with it, with the backend the entrypoint chose (the one
// EDGEK_IPTABLES_MODE names, if set for the test).
func (c *container) checkIPTables() {
	c.t.Helper()
	for _, name := range []string{"iptables", "iptables-save", "iptables-restore", "ip6tables",
		"ip6tables-save", "ip6tables-restore", "iptables-legacy", "iptables-nft"} {
		if out, err := c.execIn(name, "--version"); err != nil {
			c.t.Errorf("%s --version in the container: %v\n%s", name, err, out)
		}
	}
	eventually(c.t, 60*time.Second, "kube-proxy's and flannel's chains in the container's iptables", func() error {
		out, err := c.execIn("iptables-save", "-t", "nat")
		for _, chain := range []string{":KUBE-SERVICES", ":KUBE-POSTROUTING", ":FLANNEL-POSTRTG"} {
			if err != nil || !strings.Contains(out, chain) {
				return fmt.Errorf("no %s in iptables-save -t nat: %v\n%s", chain, err, out)
			}
		}
		return nil
	})
	want := "edgek-entrypoint: iptables backend " + os.Getenv("EDGEK_IPTABLES_MODE")
	for _, line := range strings.Split(readFile(c.t, c.logPath), "\n") {
		if strings.HasPrefix(line, want) {
			c.t.Log(line)
			return
		}
	}
	c.t.Errorf("no %q in the container's log", want)
}

// stop sends SIGTERM to the container's PID 1 (tini, which passes it to edgek) and waits for
// a clean exit: `runc run` exits with the container's status and deletes it.
func (c *container) stop() {
	c.t.Helper()
	if out, err := exec.Command(c.runc, "--root", c.state, "kill", c.id, "TERM").CombinedOutput(); err != nil {
		c.t.Fatalf("runc kill TERM: %v\n%s", err, out)
	}
	select {
	case <-c.exited:
	case <-time.After(90 * time.Second):
		c.t.Fatalf("the container did not stop within 90s of SIGTERM\n%s", c.logTail(40))
	}
	if !c.cmd.ProcessState.Success() {
		c.t.Errorf("the container exited with %v after SIGTERM\n%s", c.cmd.ProcessState, c.logTail(20))
	}
	c.cmd = nil
}

// remove kills and deletes the container if the test did not stop it.
func (c *container) remove() {
	if c.cmd != nil {
		exec.Command(c.runc, "--root", c.state, "kill", c.id, "KILL").Run()
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
			<-c.exited
		}
		c.cmd = nil
	}
	if out, err := exec.Command(c.runc, "--root", c.state, "delete", "--force", c.id).CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "does not exist") {
		c.t.Errorf("runc delete: %v\n%s", err, out)
	}
	if c.t.Failed() && c.logPath != "" {
		c.t.Logf("container log (%s), last lines:\n%s", c.logPath, c.logTail(60))
	}
}

func (c *container) unmountRootfs() {
	if !c.mounted {
		return
	}
	if err := unix.Unmount(c.rootfs, 0); err != nil {
		c.t.Errorf("unmount %s: %v", c.rootfs, err)
		return
	}
	c.mounted = false
}

// checkNothingLeft checks that the stopped container left no process, mount or busy cgroup on
// the host: its pods and shims lived in its PID namespace and went with its PID 1.
func (c *container) checkNothingLeft() {
	c.t.Helper()
	dir := filepath.Dir(c.bundle)
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), dir) {
		c.t.Errorf("mounts under %s left on the host", dir)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cg, _ := os.ReadFile(filepath.Join(p, "cgroup"))
		root, _ := os.Readlink(filepath.Join(p, "root"))
		if c.inCgroups(string(cg)) || strings.HasPrefix(root, dir) {
			cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
			c.t.Errorf("process %s left: %s", filepath.Base(p), bytes.ReplaceAll(cmdline, []byte{0}, []byte(" ")))
		}
	}
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	hierarchies = append(hierarchies, "/sys/fs/cgroup/cgroup.procs") // cgroup v2
	for _, h := range hierarchies {
		for _, name := range c.cgroups {
			filepath.WalkDir(filepath.Join(filepath.Dir(h), name), func(p string, d os.DirEntry, err error) error {
				if err != nil || d.Name() != "cgroup.procs" {
					return nil
				}
				if data, _ := os.ReadFile(p); len(bytes.TrimSpace(data)) > 0 {
					c.t.Errorf("%s still has processes: %s", p, bytes.Fields(data))
				}
				return nil
			})
		}
	}
}

// inCgroups reports whether a /proc/PID/cgroup text names one of the container's or the
// kubelet's cgroups or one below them.
func (c *container) inCgroups(procCgroup string) bool {
	for _, line := range strings.Split(procCgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, name := range c.cgroups {
			if parts[2] == "/"+name || strings.HasPrefix(parts[2], "/"+name+"/") {
				return true
			}
		}
	}
	return false
}

func (c *container) logTail(n int) string {
	data, _ := os.ReadFile(c.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
