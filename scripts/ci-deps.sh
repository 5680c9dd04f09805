#!/usr/bin/env bash
# Installs the host tools the test suite uses. Idempotent; needs root and Debian's apt.
set -euo pipefail
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
