package killall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
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
	Routes() ([]route, error)
	DeleteRoute(r route) error
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

// route is an IPv4 or IPv6 route of the main table.
type route struct {
	Dst       netip.Prefix
	Gw        netip.Addr // invalid for none
	LinkIndex int
	Protocol  int
}

func (r route) String() string {
	s := r.Dst.String()
	if r.Gw.IsValid() {
		s += " via " + r.Gw.String()
	}
	return s
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

func (hostSystem) Routes() ([]route, error) {
	rs, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	var out []route
	for _, r := range rs {
		if r.Dst == nil {
			continue // a default route: never edgek's
		}
		addr, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		gw, _ := netip.AddrFromSlice(r.Gw)
		out = append(out, route{Dst: netip.PrefixFrom(addr.Unmap(), ones), Gw: gw.Unmap(), LinkIndex: r.LinkIndex, Protocol: int(r.Protocol)})
	}
	return out, nil
}

func (hostSystem) DeleteRoute(r route) error {
	nr := &netlink.Route{
		Dst:       &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), r.Dst.Addr().BitLen())},
		LinkIndex: r.LinkIndex,
		Protocol:  netlink.RouteProtocol(r.Protocol),
		// Any scope: the kernel only deletes a route whose scope matches the request's.
		Scope: netlink.SCOPE_NOWHERE,
	}
	if r.Gw.IsValid() {
		nr.Gw = r.Gw.AsSlice()
	}
	if err := netlink.RouteDel(nr); err != nil && !errors.Is(err, unix.ESRCH) {
		return err // ESRCH: gone already, e.g. with its link
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
