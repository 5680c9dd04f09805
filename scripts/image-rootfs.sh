#!/usr/bin/env bash
# Assembles, without Docker, the root filesystem of the image the Dockerfile builds: Debian
# bookworm (debootstrap's minbase, what debian:bookworm-slim is made from) with the packages of
# build/image/packages.txt, plus edgek laid out by build/image/layout.sh. The e2e test
# (test/e2e/image_test.go) runs `edgek server` from it with runc. Needs root and debootstrap.
#
# Usage:
#   scripts/image-rootfs.sh base              print the Debian root (built once, then cached)
#   scripts/image-rootfs.sh layer BIN DIR     lay edgek (BIN) out in the new directory DIR: the
#                                             image's top layer
#   scripts/image-rootfs.sh rootfs BIN DIR    the whole root filesystem in the new directory DIR
# Environment:
#   EDGEK_IMAGE_CACHE   where bases are kept, one per package list (default /var/cache/edgek-image)
#   EDGEK_IMAGE_MIRROR  Debian mirror (default: the first Debian URI of this host's apt sources)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
suite=bookworm
list=$here/build/image/packages.txt
cache=${EDGEK_IMAGE_CACHE:-/var/cache/edgek-image}

die() { echo "image-rootfs: $*" >&2; exit 1; }

# packages prints the package list, comma-separated.
packages() { sed 's/#.*//' "$list" | tr -s ' \t\n' '\n' | grep . | paste -sd, -; }

# mirror prints the Debian mirror from the host's apt sources (deb822 or one-line format).
mirror() {
	if [[ -n ${EDGEK_IMAGE_MIRROR:-} ]]; then echo "$EDGEK_IMAGE_MIRROR"; return; fi
	local m
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '$1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }' |
		grep -v security | head -n1 || true)
	[[ -n $m ]] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" && $2 !~ /^\[/ { print $2 } $1 == "deb" && $2 ~ /^\[/ { print $3 }' | grep -v security | head -n1 || true)
	[[ -n $m ]] || die "no Debian mirror in /etc/apt/sources.list*: set EDGEK_IMAGE_MIRROR"
	echo "$m"
}

# base builds the Debian root for the package list unless it is cached, and prints its path.
base() {
	command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap (or make deps)"
	local pkgs key dir tmp
	pkgs=$(packages)
	key=$(printf '%s %s %s\n' "$suite" "$(dpkg --print-architecture)" "$pkgs" | sha256sum | cut -c1-16)
	dir=$cache/$suite-$key
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock 9 # one build at a time; a second caller then finds it cached
	if [[ ! -d $dir ]]; then
		tmp=$(mktemp -d "$cache/.tmp-XXXXXX")
		chmod 0755 "$tmp" # the image's / (mktemp makes it 0700)
		trap 'undo "$tmp"' EXIT
		echo "image-rootfs: debootstrap $suite with $pkgs into $dir (a few minutes, once)" >&2
		debootstrap --variant=minbase --include="$pkgs" "$suite" "$tmp" "$(mirror)" >&2 ||
			die "debootstrap failed (log: $tmp/debootstrap/debootstrap.log)"
		# As in debian:bookworm-slim: no package lists or downloads; and no host files (a
		# container runtime provides resolv.conf, hosts and hostname).
		rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* \
			"$tmp/etc/resolv.conf" "$tmp/etc/hostname"
		mv "$tmp" "$dir"
		trap - EXIT
	fi
	echo "$dir"
}

# undo removes a failed build, unmounting what debootstrap may have left mounted in it.
undo() {
	local m
	for m in proc sys dev/pts dev; do
		mountpoint -q "$1/$m" 2>/dev/null && umount -l "$1/$m"
	done
	rm -rf "$1"
}

# newdir checks that DIR does not exist yet and creates it.
newdir() {
	[[ ! -e $1 ]] || die "$1 exists: give a new directory"
	mkdir -p "$1"
}

layer() {
	[[ -f $1 ]] || die "edgek binary $1 not found: run make build"
	newdir "$2"
	"$here/build/image/layout.sh" "$2" "$1"
}

rootfs() {
	local b
	b=$(base)
	newdir "$2"
	cp -a "$b/." "$2/"
	"$here/build/image/layout.sh" "$2" "$1"
}

(($(id -u) == 0)) || die "needs root (debootstrap)"
case "${1:-} $#" in
"base 1") base ;;
"layer 3") layer "$2" "$3" ;;
"rootfs 3") rootfs "$2" "$3" ;;
*) sed -n '/^# Usage:/,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
