#!/usr/bin/env bash
# Installs the host tools the build and the test suite use. Idempotent; needs root and Debian's apt.
set -euo pipefail
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
# kube-proxy and flannel exec the host's iptables (edgek does not carry it).
command -v iptables-restore >/dev/null || need+=(iptables)
# scripts/build-data.sh builds a static runc with cgo against libseccomp.
command -v gcc >/dev/null || need+=(gcc)
# The dashboard's browser test drives a headless chromium through chromedriver.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# scripts/bench.sh (make bench) polls with curl and computes with bc.
command -v curl >/dev/null || need+=(curl)
command -v bc >/dev/null || need+=(bc)
# The external-datastore test runs its own PostgreSQL (kine's postgres driver).
for pkg in libc6-dev libseccomp-dev postgresql; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
done
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
