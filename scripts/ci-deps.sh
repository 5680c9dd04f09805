#!/usr/bin/env bash
# Installs the host tools the build and the test suite use. Idempotent; needs root and Debian's apt.
set -euo pipefail
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
# kube-proxy and flannel exec the host's iptables (edgek does not carry it).
command -v iptables-restore >/dev/null || need+=(iptables)
# The network policy controller (pkg/netpol) execs the host's ipset.
command -v ipset >/dev/null || need+=(ipset)
# scripts/build-data.sh builds a static runc with cgo against libseccomp.
command -v gcc >/dev/null || need+=(gcc)
# The dashboard's browser test drives a headless chromium through chromedriver.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# scripts/bench.sh (make bench) polls with curl and computes with bc.
command -v curl >/dev/null || need+=(curl)
command -v bc >/dev/null || need+=(bc)
# test/install: shellcheck on the installer and the scripts it writes; fake releases compressed
# with zstd and xz; downloads with wget as well as curl; busybox's sh and applets (as on Alpine).
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v busybox >/dev/null || need+=(busybox)
command -v zstd >/dev/null || need+=(zstd)
command -v xz >/dev/null || need+=(xz-utils)
command -v wget >/dev/null || need+=(wget)
# The image test (test/e2e/image_test.go) assembles the Dockerfile's root filesystem with
# debootstrap (scripts/image-rootfs.sh).
command -v debootstrap >/dev/null || need+=(debootstrap)
# The VM tests (make vm-test, test/vm): qemu guests from a debootstrapped image, driven over SSH.
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
command -v qemu-img >/dev/null || need+=(qemu-utils)
[ -f /usr/lib/binfmt.d/qemu-aarch64.conf ] || need+=(qemu-user-static)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v ssh >/dev/null || need+=(openssh-client)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
# The external-datastore test runs its own PostgreSQL (kine's postgres driver).
for pkg in libc6-dev libseccomp-dev postgresql; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
done
# make release cross-builds runc (cgo, static libseccomp) for arm64 and armhf: Debian's cross
# compilers and the foreign libseccomp-dev (multiarch), found by cgo through pkg-config; foreign
# binaries are checked under qemu-user-static and compressed with xz (both installed above).
command -v pkg-config >/dev/null || need+=(pkg-config)
for arch in arm64 armhf; do
  dpkg --print-foreign-architectures | grep -qx "$arch" || dpkg --add-architecture "$arch"
done
for pkg in gcc-aarch64-linux-gnu libc6-dev-arm64-cross libseccomp-dev:arm64 \
  gcc-arm-linux-gnueabihf libc6-dev-armhf-cross libseccomp-dev:armhf; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
done
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
