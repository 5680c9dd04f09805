#!/usr/bin/env bash
# Builds the release artifacts into dist/:
#   dist/edgek-<arch>             raw static binary, 0755, for arch amd64, arm64, armhf (GOARM=7)
#   dist/edgek-<arch>.<fmt>       its compressed download, one per format in RELEASE_FORMATS
#                                 (xz, zst; default xz, the smallest; empty: none)
#   dist/sha256sum-<arch>.txt     sha256sum lines for every file of that arch
#   dist/version                  the version string
# For each arch it builds the data archive (scripts/build-data.sh) and then the binary
# (make build BIN=...), because the archive in pkg/data/assets is embedded per build; the host's
# arch goes last and its archive is restored first when it was already built, so that
# `make build` is not forced into a rebuild afterwards. Foreign binaries' `--version` is checked
# under qemu-user (qemu-user-static) when it is installed. Do not run other builds of this tree
# meanwhile: pkg/data/assets holds a foreign archive while a foreign arch builds (each binary is
# checked to embed the archive built for it).
#
#   VERSION=v0.3.0 scripts/release.sh            (make release sets VERSION)
#   RELEASE_ARCHES="arm64" RELEASE_FORMATS="zst" scripts/release.sh
#   RELEASE_COMPRESS_ARCHES=amd64 scripts/release.sh   (compress amd64's download only)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)}
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
arches=${RELEASE_ARCHES:-amd64 arm64 armhf}
formats=${RELEASE_FORMATS-xz}
# RELEASE_COMPRESS_ARCHES: the arches whose downloads are compressed (default: all). xz -9e takes
# minutes per arch on two cores; `make test` compresses only amd64, which its VM test installs.
compress_arches=${RELEASE_COMPRESS_ARCHES:-$arches}
hostarch=$(go env GOHOSTARCH)
# DIST: where to write (default dist/; make vm-test-arm64 builds its upgrade binary elsewhere).
dist=${DIST:-$root/dist}
assets=$root/pkg/data/assets
saved=$(mktemp -d)

log() { echo "release: $*"; }
die() {
  echo "release: $*" >&2
  exit 1
}

# goarch_of ARCH prints the GOARCH of a release arch.
goarch_of() {
  case $1 in
  amd64 | arm64) echo "$1" ;;
  armhf) echo arm ;;
  *) die "unknown arch $1 (amd64, arm64, armhf)" ;;
  esac
}

# qemu_of GOARCH prints how to run a binary of that GOARCH here (empty: natively).
qemu_of() {
  [[ $1 == "$hostarch" ]] && return
  case $1 in
  amd64) echo qemu-x86_64-static ;;
  arm64) echo qemu-aarch64-static ;;
  arm) echo qemu-arm-static ;;
  esac
}

# The host's data archive, when it is current, is put back at the end with its mtime, so that
# make still sees it up to date.
save_native() {
  if [[ -f $assets/data.tar.zst && $(cat "$assets/data.goarch" 2>/dev/null) == "$hostarch" ]]; then
    cp -p "$assets/data.tar.zst" "$assets/data.sha256" "$assets/data.goarch" "$saved/"
  fi
}
restore_native() {
  if [[ -f $saved/data.tar.zst ]]; then
    cp -p "$saved/data.sha256" "$saved/data.goarch" "$assets/"
    cp -p "$saved/data.tar.zst" "$assets/data.tar.zst"
  fi
  rm -rf "$saved"
}

compress() { # compress FILE FORMAT
  case $2 in
  # xz -9e: the smallest of the formats measured (docs/BENCHMARKS.md); a 64 MiB dictionary
  # spans most of the binary, and decoding needs ~65 MiB of memory.
  xz) xz -9e -T1 -k -f -c "$1" >"$1.xz" ;;
  # zstd with a 128 MiB window (decoders accept it without --long or --memory).
  zst) zstd -q -19 --long=27 -T1 -f "$1" -o "$1.zst" ;;
  *) die "unknown format $2 (xz, zst)" ;;
  esac
}

# check_version FILE GOARCH: `edgek --version` names this version and arch.
check_version() {
  local run out
  run=$(qemu_of "$2")
  if [[ -n $run ]] && ! command -v "$run" >/dev/null; then
    log "$(basename "$1"): --version NOT checked: $run not found (install qemu-user-static)"
    return
  fi
  out=$(${run:+"$run"} "$1" --version) || die "$1 --version failed"
  grep -q "^edgek version $version " <<<"$out" || die "$1 --version: want $version, got: $out"
  grep -q "linux/$2\$" <<<"$out" || die "$1 --version: want linux/$2, got: $out"
  log "$(basename "$1") --version${run:+ (under $run)}: ${out//$'\n'/; }"
}

build_arch() { # build_arch ARCH
  local arch=$1 goarch start bin f files goenv sha
  goarch=$(goarch_of "$arch")
  goenv=(GOARCH="$goarch")
  [[ $goarch == arm ]] && goenv+=(GOARM=7)
  bin=$dist/edgek-$arch
  rm -f "$bin" "$bin".* "$dist/sha256sum-$arch.txt"
  start=$SECONDS
  if [[ $goarch == "$hostarch" && -f $saved/data.tar.zst ]]; then
    restore_native
  fi
  # make rebuilds the data archive when its GOARCH differs (DATA_FORCE) or an input changed.
  env "${goenv[@]}" make --no-print-directory data
  [[ $(cat "$assets/data.goarch") == "$goarch" ]] || die "make data did not build a $goarch archive"
  sha=$(cat "$assets/data.sha256")
  log "$arch: data $((SECONDS - start)) s"
  start=$SECONDS
  env "${goenv[@]}" make --no-print-directory build BIN="$bin" \
    VERSION="$version" BUILD_DATE="$build_date"
  chmod 0755 "$bin"
  # The archive in pkg/data/assets is shared by every build of this tree: make sure the binary
  # embeds this arch's (its sha256 is embedded as text).
  grep -qF "$sha" "$bin" ||
    die "$bin does not embed the $goarch data archive $sha (did another build replace it?)"
  log "$arch: binary $((SECONDS - start)) s, $(stat -c %s "$bin") bytes"
  check_version "$bin" "$goarch"
  files=("edgek-$arch")
  local fmts=""
  [[ " $compress_arches " != *" $arch "* ]] || fmts=$formats
  for f in $fmts; do
    start=$SECONDS
    compress "$bin" "$f"
    files+=("edgek-$arch.$f")
    log "$arch: .$f $((SECONDS - start)) s, $(stat -c %s "$bin.$f") bytes"
  done
  (cd "$dist" && sha256sum "${files[@]}" >"sha256sum-$arch.txt")
}

main() {
  local arch ordered=() native=()
  for arch in $arches; do
    if [[ $(goarch_of "$arch") == "$hostarch" ]]; then native+=("$arch"); else ordered+=("$arch"); fi
  done
  ordered+=("${native[@]}")
  for f in $formats; do
    case $f in xz | zst) command -v "${f/zst/zstd}" >/dev/null || die "$f: ${f/zst/zstd} is not installed" ;; esac
  done
  mkdir -p "$dist"
  save_native
  trap restore_native EXIT
  for arch in "${ordered[@]}"; do
    log "$arch (GOARCH=$(goarch_of "$arch")), version $version"
    build_arch "$arch"
  done
  echo "$version" >"$dist/version"
  log "done: $(cd "$dist" && echo *)"
}

main
