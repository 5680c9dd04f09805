//go:build vm

package vm

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// vmOpts describes one guest.
type vmOpts struct {
	name string
	// httpsAddr is the release server (127.0.0.1:port) the guest reaches at 10.0.2.100:443.
	httpsAddr string
	// rtc is qemu's -rtc base= value ("" = utc, the host's time).
	rtc string
	// lan is a qemu socket netdev ("listen=127.0.0.1:P" or "connect=127.0.0.1:P") for a second
	// NIC with MAC lanMAC: the only link between two guests.
	lan, lanMAC string
}

// vm is a running guest: a copy-on-write overlay of the cached image, one qemu process.
type vm struct {
	opts    vmOpts
	dir     string
	console string
	sshPort int
	key     string
	cmd     *exec.Cmd
	exited  chan error
}

// userMAC is the MAC of the user-network NIC, which the image's networkd config matches.
const userMAC = "52:54:00:12:34:56"

func startVM(t *testing.T, opts vmOpts) *vm {
	t.Helper()
	v := &vm{opts: opts, dir: t.TempDir(), key: filepath.Join(imageDir, "id_ed25519")}
	v.console = filepath.Join(v.dir, "console.log")
	overlay := filepath.Join(v.dir, "overlay.qcow2")
	out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
		"-b", filepath.Join(imageDir, "rootfs.img"), overlay).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img create: %v\n%s", err, out)
	}
	v.sshPort = freePort(t)
	args, err := v.qemuArgs(overlay)
	if err != nil {
		t.Fatal(err)
	}
	v.cmd = exec.Command(args[0], args[1:]...)
	// qemu dies with the test binary even when it is killed (go test -timeout) before cleanup.
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	v.cmd.Stdout, v.cmd.Stderr = nil, nil
	if log, err := os.Create(filepath.Join(v.dir, "qemu.log")); err == nil {
		v.cmd.Stdout, v.cmd.Stderr = log, log
	}
	if err := v.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", args[0], err)
	}
	v.exited = make(chan error, 1)
	go func() { v.exited <- v.cmd.Wait() }()
	t.Logf("%s: qemu pid %d, ssh port %d, console %s", opts.name, v.cmd.Process.Pid, v.sshPort, v.console)
	t.Cleanup(func() { v.stop(t) })
	return v
}

func (v *vm) qemuArgs(overlay string) ([]string, error) {
	cmdline, err := os.ReadFile(filepath.Join(imageDir, "cmdline"))
	if err != nil {
		return nil, fmt.Errorf("image cmdline: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"qemu-system-x86_64"}
	if guestArch == "arm64" {
		args = []string{"qemu-system-aarch64", "-M", "virt"}
	}
	nic := fmt.Sprintf("user,model=virtio-net-pci,mac=%s,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22", userMAC, v.sshPort)
	if v.opts.httpsAddr != "" {
		nic += fmt.Sprintf(",guestfwd=tcp:%s:443-cmd:%s relay %s", releaseHost, self, v.opts.httpsAddr)
	}
	rtc := "base=utc"
	if v.opts.rtc != "" {
		rtc = "base=" + v.opts.rtc + ",clock=vm"
	}
	args = append(args,
		"-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", "3072",
		"-kernel", filepath.Join(imageDir, "vmlinuz"), "-initrd", filepath.Join(imageDir, "initrd"),
		"-append", strings.TrimSpace(string(cmdline)),
		"-drive", "file="+overlay+",format=qcow2,if=virtio",
		"-nic", nic, "-rtc", rtc,
		"-display", "none", "-monitor", "none", "-serial", "file:"+v.console)
	if v.opts.lan != "" {
		args = append(args, "-netdev", "socket,id=lan,"+v.opts.lan,
			"-device", "virtio-net-pci,netdev=lan,mac="+v.opts.lanMAC)
	}
	return args, nil
}

// diagScript collects what explains a failure, from a guest that still answers.
const diagScript = `uptime; date -u; systemctl --no-pager status 'edgek*' | head -n 20
edgek kubectl get nodes,pods,svc,endpointslices -A -o wide
edgek kubectl get events -A --sort-by=.lastTimestamp | tail -n 40
iptables-save | grep -c KUBE-; ip -br addr; ip route; ls -la /run/edgek /run/edgek/* /run/flannel
edgek crictl pods; edgek crictl ps -a
echo '--- containerd.log'; tail -n 300 /var/lib/edgek/agent/containerd/containerd.log
echo '--- previous boot'; journalctl -b -1 -u 'edgek*' --no-pager | tail -n 40
echo '--- this boot'; journalctl -b -u 'edgek*' --no-pager`

// stop keeps the console log and the guest's diagnostics when the test failed, then kills
// qemu (by its PID).
func (v *vm) stop(t *testing.T) {
	if t.Failed() {
		out, _ := v.run(3*time.Minute, diagScript)
		dst := filepath.Join(artifactsDir, t.Name()+"-"+v.opts.name+"-diag.log")
		if err := os.WriteFile(dst, []byte(out), 0o644); err == nil {
			t.Logf("%s: diagnostics kept at %s", v.opts.name, dst)
		}
	}
	if v.cmd.ProcessState == nil {
		_ = v.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-v.exited:
		case <-time.After(10 * time.Second):
			_ = v.cmd.Process.Kill()
			<-v.exited
		}
	}
	if t.Failed() {
		dst := filepath.Join(artifactsDir, t.Name()+"-"+v.opts.name+"-console.log")
		_ = os.MkdirAll(filepath.Dir(dst), 0o755)
		if data, err := os.ReadFile(v.console); err == nil {
			_ = os.WriteFile(dst, data, 0o644)
			t.Logf("%s: console log kept at %s", v.opts.name, dst)
		}
	}
}

// sshArgs are the ssh options for a throwaway test guest (its host key changes every image).
func (v *vm) sshArgs() []string {
	return []string{"-i", v.key, "-p", strconv.Itoa(v.sshPort),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15",
		"-o", "ServerAliveCountMax=8", "root@127.0.0.1"}
}

// run runs a shell script in the guest as root and returns its combined output.
func (v *vm) run(timeout time.Duration, script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", append(v.sshArgs(), "sh", "-c", shQuote(script))...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%s: timed out after %s: %q", v.opts.name, timeout, script)
	}
	if err != nil {
		return string(out), fmt.Errorf("%s: %q: %w\n%s", v.opts.name, script, err, out)
	}
	return string(out), nil
}

// must is run that fails the test on error.
func (v *vm) must(t *testing.T, timeout time.Duration, script string) string {
	t.Helper()
	out, err := v.run(timeout, script)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// upload writes data to path in the guest.
func (v *vm) upload(t *testing.T, data []byte, path string, mode os.FileMode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	script := fmt.Sprintf("mkdir -p %s && cat > %s.part && chmod %o %s.part && mv %s.part %s",
		shQuote(filepath.Dir(path)), shQuote(path), mode, shQuote(path), shQuote(path), shQuote(path))
	cmd := exec.CommandContext(ctx, "ssh", append(v.sshArgs(), script)...)
	cmd.Stdin = strings.NewReader(string(data))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: upload %s: %v\n%s", v.opts.name, path, err, out)
	}
}

// waitSSH waits for the guest's sshd (first boot, or after a reboot) and returns its boot ID.
func (v *vm) waitSSH(t *testing.T, timeout time.Duration, notBootID string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-v.exited:
			v.exited <- err
			t.Fatalf("%s: qemu exited: %v (console: %s)", v.opts.name, err, tail(v.console, 30))
		default:
		}
		out, err := v.run(40*time.Second, "cat /proc/sys/kernel/random/boot_id")
		if id := strings.TrimSpace(out); err == nil && id != "" && id != notBootID {
			return id
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no ssh after %s: %v (console: %s)", v.opts.name, timeout, err, tail(v.console, 30))
		}
		time.Sleep(5 * time.Second)
	}
}

func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n" + strings.Join(lines, "\n")
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
