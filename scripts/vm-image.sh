#!/usr/bin/env bash
# Builds (once) a Debian bookworm VM image with systemd and cgroup v2 for the VM tests (test/vm).
#
#   scripts/vm-image.sh ARCH        ARCH = amd64 | arm64; needs root, debootstrap, mkfs.ext4
#
# The image is cached outside the clone, keyed by this script's content, so clean clones (CI)
# reuse it:  ${EDGEK_VM_CACHE:-/var/cache/edgek-vm}/<arch>-<hash>/ holds rootfs.img (raw ext4),
# vmlinuz, initrd, cmdline (the kernel console argument) and id_ed25519{,.pub}: a test-only key
# pair whose public half is root's authorized key in the image. The last line printed is that
# directory. A build goes to a temporary directory renamed into place at the end, so an
# interrupted build leaves no half cache. Packages come from the apt mirror in
# /etc/apt/sources.list* (no other network). arm64 runs debootstrap's second stage through
# qemu-user (binfmt_misc), registering qemu-aarch64 only if it is not, and unregistering it after.
set -euo pipefail

SUITE=bookworm
SIZE=4G
PACKAGES=systemd,systemd-sysv,udev,dbus,iproute2,iptables,ipset,kmod,initramfs-tools,openssh-server,curl,ca-certificates,procps,xz-utils,iputils-ping

die() { echo "vm-image: $*" >&2; exit 1; }
log() { echo "vm-image: $*" >&2; }

arch=${1:-}
case "$arch" in
amd64) console=ttyS0 ;;
arm64) console=ttyAMA0 ;;
*) die "usage: $0 amd64|arm64 (got '${arch}')" ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mkfs)"
for tool in debootstrap mkfs.ext4 ssh-keygen sha256sum; do
	command -v "$tool" >/dev/null || die "$tool not found: run 'make deps' (scripts/ci-deps.sh)"
done

cache_root=${EDGEK_VM_CACHE:-/var/cache/edgek-vm}
hash=$(sha256sum "$0" | cut -c1-12)
final="$cache_root/$arch-$hash"
if [ -s "$final/rootfs.img" ]; then
	echo "$final"
	exit 0
fi

# mirror prints the first Debian (non-security) mirror URI configured for apt.
mirror() {
	local uri
	uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p' |
		grep -v -e security -e '^$' | grep '/debian/\{0,1\}$' | head -n1)
	[ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list*"
	echo "$uri"
}

mkdir -p "$cache_root"
work=$(mktemp -d "$cache_root/.build-$arch.XXXXXX")
root="$work/root"
registered=

cleanup() {
	# Unmount anything left mounted under the build tree (deepest first), then drop it.
	local m
	awk -v p="$root/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" || true; done
	if [ -n "$registered" ] && [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
		echo -1 >/proc/sys/fs/binfmt_misc/qemu-aarch64 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# register_binfmt makes foreign arm64 binaries run through qemu-user for the second stage.
register_binfmt() {
	local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
	[ -f "$conf" ] || die "$conf missing: install qemu-user-static (make deps)"
	if ! grep -q binfmt_misc /proc/mounts; then
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
	fi
	if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
		cat "$conf" >/proc/sys/fs/binfmt_misc/register
		registered=1
	fi
}

# bootstrap installs the Debian tree into $root.
bootstrap() {
	local m
	m=$(mirror)
	log "debootstrap $SUITE $arch from $m"
	if [ "$arch" = amd64 ] && [ "$(dpkg --print-architecture)" = amd64 ]; then
		debootstrap --variant=minbase --include="$PACKAGES,linux-image-cloud-amd64" \
			"$SUITE" "$root" "$m" >"$work/debootstrap.log" 2>&1 ||
			{ tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
		return
	fi
	register_binfmt
	debootstrap --arch="$arch" --foreign --variant=minbase --include="$PACKAGES,linux-image-cloud-$arch" \
		"$SUITE" "$root" "$m" >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap (first stage) failed"; }
	log "second stage in a chroot through qemu-user (slow: ~20 min)"
	chroot "$root" /debootstrap/debootstrap --second-stage >>"$work/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap (second stage) failed"; }
}

# configure makes the tree boot as a headless test machine reachable over SSH.
configure() {
	echo edgek-vm >"$root/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 edgek-vm\n' >"$root/etc/hosts"
	echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$root/etc/fstab"
	# Empty: systemd makes a fresh machine ID on each VM's first boot.
	: >"$root/etc/machine-id"
	# qemu user networking (restrict=on) answers DHCP; its DNS is not reachable, on purpose.
	mkdir -p "$root/etc/systemd/network"
	printf '[Match]\nMACAddress=52:54:00:12:34:56\n\n[Network]\nDHCP=ipv4\n' \
		>"$root/etc/systemd/network/10-user.network"
	echo 'nameserver 10.0.2.3' >"$root/etc/resolv.conf"
	systemctl --root="$root" enable systemd-networkd.service >/dev/null 2>&1 ||
		die "cannot enable systemd-networkd in the image"
	# A VM without network must not hold up boot for minutes.
	ln -sf /dev/null "$root/etc/systemd/system/systemd-networkd-wait-online.service"
	mkdir -p "$root/etc/systemd/system.conf.d"
	printf '[Manager]\nDefaultTimeoutStartSec=300s\n' >"$root/etc/systemd/system.conf.d/vm.conf"
	ssh-keygen -q -t ed25519 -N '' -C edgek-vm-test -f "$work/id_ed25519"
	install -d -m 700 "$root/root/.ssh"
	install -m 600 "$work/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
	printf 'UseDNS no\nPermitRootLogin prohibit-password\n' >"$root/etc/ssh/sshd_config.d/vm.conf"
	passwd -R "$root" -d root >/dev/null
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root/debootstrap"
}

# pack writes the kernel, initrd and an ext4 image of the tree next to the key pair.
pack() {
	local kernel initrd
	kernel=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n1)
	initrd=$(find "$root/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n1)
	if [ -z "$kernel" ] || [ -z "$initrd" ]; then
		die "no kernel/initrd in $root/boot"
	fi
	cp "$kernel" "$work/vmlinuz"
	cp "$initrd" "$work/initrd"
	echo "console=$console root=/dev/vda rw panic=-1" >"$work/cmdline"
	log "mkfs.ext4 $SIZE"
	mkfs.ext4 -q -F -L edgek-vm -d "$root" "$work/rootfs.img" "$SIZE"
}

start=$(date +%s)
bootstrap
configure
pack
rm -rf "$root" "$work/debootstrap.log"
chmod 755 "$work"
mv "$work" "$final"
log "built $final in $(($(date +%s) - start)) s"
echo "$final"
