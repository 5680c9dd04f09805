package killall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// system is every action killall takes on the host; tests record them instead.
type system interface {
	Kill(pid int, sig syscall.Signal) error
	Unmount(path string) error // lazy (MNT_DETACH)
	Remove(path string) error
	RemoveAll(path string) error
	Links() ([]link, error)
	DeleteLink(name string) error
	LookPath(name string) (string, error)
	// Run runs a program with stdin and returns its standard output.
	Run(ctx context.Context, stdin, name string, args ...string) (string, error)
}

// link is a network interface.
type link struct {
	Name   string
	Type   string // netlink kind: bridge, veth, vxlan, wireguard, dummy...
	Index  int
	Master int // index of the bridge it is enslaved to, 0 for none
}

// hostSystem is the real host.
type hostSystem struct{}

func (hostSystem) Kill(pid int, sig syscall.Signal) error { return unix.Kill(pid, sig) }

func (hostSystem) Unmount(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil // no longer a mount point: its parent's lazy unmount took it
	}
	return err
}

func (hostSystem) Remove(path string) error    { return os.Remove(path) }
func (hostSystem) RemoveAll(path string) error { return os.RemoveAll(path) }

func (hostSystem) Links() ([]link, error) {
	ls, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	out := make([]link, 0, len(ls))
	for _, l := range ls {
		a := l.Attrs()
		out = append(out, link{Name: a.Name, Type: l.Type(), Index: a.Index, Master: a.MasterIndex})
	}
	return out, nil
}

func (hostSystem) DeleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return err
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return err // ENODEV: it went away with its peer's network namespace
	}
	return nil
}

func (hostSystem) LookPath(name string) (string, error) { return exec.LookPath(name) }

func (hostSystem) Run(ctx context.Context, stdin, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return stdout.String(), fmt.Errorf("%s: %w: %s", name, err, msg)
		}
		return stdout.String(), fmt.Errorf("%s: %w", name, err)
	}
	return stdout.String(), nil
}
