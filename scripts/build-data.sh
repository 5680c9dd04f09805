#!/usr/bin/env bash
# Builds what edgek carries as separate binaries (see pkg/data): a static runc, the upstream CNI
# plugins bridge, host-local, loopback and portmap, and pause, all from the separate Go module in
# build/tools (its own go.mod/go.sum), and crictl and coredns from their own modules (build/crictl,
# build/coredns), then packs them into pkg/data/assets/data.tar.zst (bin/<name>, mode 0755, zstd)
# with its sha256 in data.sha256 and its GOARCH in data.goarch.
# `make data` runs it when an input changed.
#
# Only the native architecture is supported for now: runc needs cgo and a static libseccomp,
# so a cross build would need a cross compiler and a foreign libseccomp-dev. Pure-Go pieces honour
# GOARCH, but a GOARCH other than the host's is refused.
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
if [[ $goarch != "$hostarch" ]]; then
  echo "build-data: GOARCH=$goarch: only native builds ($hostarch) are supported (runc needs cgo)" >&2
  exit 1
fi
export GOARCH=$goarch GOOS=linux

cc=${CC:-gcc}
if ! command -v "$cc" >/dev/null || ! echo '#include <seccomp.h>' | "$cc" -E - >/dev/null 2>&1 ||
  [[ $("$cc" -print-file-name=libseccomp.a) != /* ]]; then
  cat >&2 <<EOF
build-data: runc is built with cgo against a static libseccomp; $cc, seccomp.h or libseccomp.a
is missing. On Debian/Ubuntu install them with:
  sudo apt-get install -y gcc libc6-dev libseccomp-dev
(or run: sudo ./scripts/ci-deps.sh)
EOF
  exit 1
fi

out=$root/build/out/$goarch
rm -rf "$out"
mkdir -p "$out/bin" "$assets"

echo "build-data: runc ($goarch)"
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
# binary carries every plugin manifests/coredns.yaml's Corefile uses.
echo "build-data: coredns"
CGO_ENABLED=0 go -C "$root/build/coredns" build -trimpath -ldflags '-s -w' -o "$out/bin/coredns" .
have=$("$out/bin/coredns" -plugins)
for p in cache errors forward health hosts kubernetes loadbalance log loop prometheus ready reload; do
  if ! grep -qx "$p" <<<"$have"; then
    echo "build-data: coredns lacks plugin $p; it has: ${have//$'\n'/ }" >&2
    exit 1
  fi
done

# The dashboard addon: a small standard-library-only web UI (build/dashboard).
echo "build-data: dashboard"
CGO_ENABLED=0 go -C "$root/build/dashboard" build -trimpath -ldflags '-s -w' -o "$out/bin/dashboard" .

echo "build-data: packing"
archive=$out/data.tar.zst
if command -v zstd >/dev/null; then
  # The zstd CLI compresses ~12% better than the Go encoder's best level; a window that spans
  # the whole tar lets the plugins share their common code.
  CGO_ENABLED=0 go -C "$tools" run ./packdata -tar -o "$out/data.tar" "$out/bin"
  zstd -q -19 --long=25 -f "$out/data.tar" -o "$archive"
else
  CGO_ENABLED=0 go -C "$tools" run ./packdata -o "$archive" "$out/bin"
fi
sha=$(sha256sum "$archive" | cut -d' ' -f1)

# The archive goes last, so that an interrupted run leaves make a stale or missing target.
echo "$sha" >"$assets/data.sha256"
echo "$goarch" >"$assets/data.goarch"
mv -f "$archive" "$assets/data.tar.zst"
echo "build-data: $assets/data.tar.zst $(stat -c %s "$assets/data.tar.zst") bytes, sha256 $sha"
