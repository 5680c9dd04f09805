#!/usr/bin/env bash
# Builds what edgek carries as separate binaries (see pkg/data): a static runc, the upstream CNI
# plugins bridge, host-local, loopback and portmap, and pause, all from the separate Go module in
# build/tools (its own go.mod/go.sum), and crictl and coredns from their own modules (build/crictl,
# build/coredns), then packs them into pkg/data/assets/data.tar.zst (bin/<name>, mode 0755, zstd)
# with its sha256 in data.sha256 and its GOARCH in data.goarch.
# `make data` runs it when an input changed.
#
# GOARCH picks the target: amd64, arm64 or arm (GOARM=7 only: Debian's armhf). The binaries go to
# build/out/<goarch>/bin, so arches do not overwrite each other; the archive is also kept there
# (build/out/<goarch>/data.tar.zst) beside the one it installs into pkg/data/assets. runc needs cgo
# and a static libseccomp: a foreign GOARCH is built with Debian's cross compiler
# (<triplet>-gcc) and its multiarch libseccomp-dev:<arch>; CC overrides the compiler.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools=$root/build/tools
assets=$root/pkg/data/assets
# What is carried; keep in sync with pkg/data.Names.
plugins=(bridge host-local loopback portmap)

# The tools module uses its committed go.sum; ignore the caller's GOFLAGS (e.g. -mod=mod) and any
# go.work.
export GOFLAGS="-mod=readonly -buildvcs=false" GOWORK=off
goarch=${GOARCH:-$(go env GOARCH)}
hostarch=$(go env GOHOSTARCH)
case $goarch in
amd64) triplet=x86_64-linux-gnu debarch=amd64 qemu=qemu-x86_64-static ;;
arm64) triplet=aarch64-linux-gnu debarch=arm64 qemu=qemu-aarch64-static ;;
arm)
  triplet=arm-linux-gnueabihf debarch=armhf qemu=qemu-arm-static
  if [[ ${GOARM:-7} != 7 ]]; then
    echo "build-data: GOARM=$GOARM: only GOARM=7 is supported (runc's C code is built for Debian's armhf, ARMv7)" >&2
    exit 1
  fi
  export GOARM=7
  ;;
*)
  echo "build-data: GOARCH=$goarch is not supported; use amd64, arm64 or arm (GOARM=7)" >&2
  exit 1
  ;;
esac
export GOARCH=$goarch GOOS=linux
native=false
[[ $goarch == "$hostarch" ]] && native=true

# Programs that run here during the build (packdata) are built for the host.
hostgo() { env -u GOARM GOARCH="$hostarch" go "$@"; }

if $native; then
  cc=${CC:-gcc}
  fix="sudo apt-get install -y gcc libc6-dev libseccomp-dev"
else
  cc=${CC:-$triplet-gcc}
  fix="sudo dpkg --add-architecture $debarch && sudo apt-get update &&
  sudo apt-get install -y gcc-$triplet libc6-dev-$debarch-cross libseccomp-dev:$debarch"
  # cgo's pkg-config (libseccomp-golang) must read the target's libseccomp.pc, not the host's.
  export PKG_CONFIG_LIBDIR=/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig
fi
if ! command -v "$cc" >/dev/null || ! echo '#include <seccomp.h>' | "$cc" -E - >/dev/null 2>&1 ||
  [[ $("$cc" -print-file-name=libseccomp.a) != /* ]] || ! pkg-config --exists libseccomp; then
  cat >&2 <<EOT
build-data: runc ($goarch) is built with cgo against a static libseccomp; $cc, seccomp.h,
libseccomp.a or its pkg-config file is missing. On Debian/Ubuntu install them with:
  $fix
(or run: sudo ./scripts/ci-deps.sh)
EOT
  exit 1
fi

out=$root/build/out/$goarch
rm -rf "$out"
mkdir -p "$out/bin" "$assets"

echo "build-data: runc ($goarch, CC=$cc)"
CGO_ENABLED=1 CC=$cc go -C "$tools" build -trimpath -tags "seccomp netgo osusergo" \
  -ldflags '-s -w -extldflags "-static"' -o "$out/bin/runc" github.com/opencontainers/runc

echo "build-data: CNI plugins, containerd shim, pause"
pkgs=()
for p in "${plugins[@]}"; do
  case $p in
  host-local) pkgs+=(github.com/containernetworking/plugins/plugins/ipam/host-local) ;;
  portmap) pkgs+=(github.com/containernetworking/plugins/plugins/meta/portmap) ;;
  *) pkgs+=("github.com/containernetworking/plugins/plugins/main/$p") ;;
  esac
done
# With several main packages and -o DIR, go build writes one binary per package, named after it.
# containerd's runc shim: a separate small program (as K3s ships it), since in edgek's binary it
# would load every containerd daemon plugin, and a small binary keeps each shim's memory low.
pkgs+=(github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2)
CGO_ENABLED=0 go -C "$tools" build -trimpath -ldflags '-s -w' -o "$out/bin/" "${pkgs[@]}" ./pause

# crictl, from its own module (it needs Kubernetes v0.34 libraries; see build/crictl/tools.go).
# cri-tools v1.34.0 is not in the checksum database; go.sum pins its hash.
echo "build-data: crictl"
GONOSUMDB=sigs.k8s.io/cri-tools CGO_ENABLED=0 go -C "$root/build/crictl" build -trimpath -ldflags '-s -w' \
  -o "$out/bin/crictl" sigs.k8s.io/cri-tools/cmd/crictl

# CoreDNS with only the plugins a cluster DNS needs, from its own module (build/coredns/main.go):
# edgek builds the CoreDNS addon's image from it at start-up. The check below makes sure the
# binary carries every plugin manifests/coredns.yaml's Corefile uses. A foreign binary runs
# under qemu-user when it is installed (qemu-user-static; called directly, no binfmt needed);
# without it the check is skipped, with a message: the plugin list does not depend on the arch.
echo "build-data: coredns"
CGO_ENABLED=0 go -C "$root/build/coredns" build -trimpath -ldflags '-s -w' -o "$out/bin/coredns" .
run=()
$native || run=("$qemu")
if $native || command -v "$qemu" >/dev/null; then
  have=$("${run[@]}" "$out/bin/coredns" -plugins)
  for p in cache errors forward health hosts kubernetes loadbalance log loop prometheus ready reload; do
    if ! grep -qx "$p" <<<"$have"; then
      echo "build-data: coredns lacks plugin $p; it has: ${have//$'\n'/ }" >&2
      exit 1
    fi
  done
else
  echo "build-data: coredns plugin check SKIPPED for $goarch: $qemu not found (install qemu-user-static)" >&2
fi

# The dashboard addon: a small standard-library-only web UI (build/dashboard).
echo "build-data: dashboard"
CGO_ENABLED=0 go -C "$root/build/dashboard" build -trimpath -ldflags '-s -w' -o "$out/bin/dashboard" .

echo "build-data: packing"
archive=$out/data.tar.zst
if command -v zstd >/dev/null; then
  # The zstd CLI compresses ~12% better than the Go encoder's best level. A 128 MiB window
  # (wlog 27) spans the whole tar, so CoreDNS, crictl, the shim and the plugins share their
  # common Go code: 23.5 MB instead of 28.6 MB with 32 MiB (amd64, docs/BENCHMARKS.md). Decoding
  # needs that window once, at first start (pkg/data returns it to the OS afterwards).
  CGO_ENABLED=0 hostgo -C "$tools" run ./packdata -tar -o "$out/data.tar" "$out/bin"
  zstd -q --ultra -22 --long=27 -T1 -f "$out/data.tar" -o "$archive"
else
  CGO_ENABLED=0 hostgo -C "$tools" run ./packdata -o "$archive" "$out/bin"
fi
sha=$(sha256sum "$archive" | cut -d' ' -f1)
echo "$sha" >"$out/data.sha256"

# The archive goes last, so that an interrupted run leaves make a stale or missing target.
echo "$sha" >"$assets/data.sha256"
echo "$goarch" >"$assets/data.goarch"
cp -f "$archive" "$assets/data.tar.zst.tmp"
mv -f "$assets/data.tar.zst.tmp" "$assets/data.tar.zst"
echo "build-data: $assets/data.tar.zst ($goarch) $(stat -c %s "$assets/data.tar.zst") bytes, sha256 $sha"
