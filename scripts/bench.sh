#!/usr/bin/env bash
# Measures edgek's start-up time and memory, inside a private network namespace (no traffic
# leaves the machine). Prints a markdown table; numbers go into docs/BENCHMARKS.md.
#   usage: scripts/bench.sh [path/to/edgek]   (IDLE_SECONDS=60 by default)
set -euo pipefail
BIN=$(readlink -f "${1:-bin/edgek}")
IDLE=${IDLE_SECONDS:-60}
NS=edgek-bench-$$
WORK=$(mktemp -d /tmp/edgek-bench.XXXXXX)
PID=

cleanup() {
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" || true; fi
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add edgek0 type bridge
ip -n "$NS" addr add 172.31.254.2/24 dev edgek0
ip -n "$NS" link set edgek0 up
ip -n "$NS" route add default dev edgek0
in_ns() { nsenter --net=/run/netns/"$NS" "$@"; }

TLS=$WORK/data/server/tls
readyz() {
  in_ns curl -sf --max-time 2 --cacert "$TLS/server-ca.crt" --cert "$TLS/client-admin.crt" \
    --key "$TLS/client-admin.key" https://127.0.0.1:6443/readyz >/dev/null 2>&1
}

# start_server starts edgek (PID) and sets ELAPSED to the seconds from exec to /readyz ok.
start_server() {
  local t0 t1
  t0=$(date +%s.%N)
  # nsenter directly (not the in_ns function, which would run in a subshell): it execs edgek,
  # so $! is edgek's PID.
  nsenter --net=/run/netns/"$NS" "$BIN" server --data-dir "$WORK/data" --write-kubeconfig "$WORK/kubeconfig.yaml" \
    --node-ip 172.31.254.2 --disable-agent --config /dev/null >>"$WORK/log" 2>&1 &
  PID=$!
  until [[ -f $TLS/client-admin.key ]] && readyz; do
    kill -0 "$PID" 2>/dev/null || { echo "edgek exited; log:" >&2; tail -20 "$WORK/log" >&2; exit 1; }
    sleep 0.05
  done
  t1=$(date +%s.%N)
  ELAPSED=$(echo "$t1 - $t0" | bc)
}

stop_server() { kill -TERM "$PID"; wait "$PID" || true; PID=; }

# mem prints "rss_mib pss_mib" of a process.
mem() {
  awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {printf "%.0f %.0f\n", r/1024, p/1024}' "/proc/$1/smaps_rollup"
}

command -v curl >/dev/null || { echo "bench needs curl" >&2; exit 1; }
command -v bc >/dev/null || { echo "bench needs bc" >&2; exit 1; }

start_server
fresh=$ELAPSED
stop_server
start_server
existing=$ELAPSED
sleep "$IDLE"
read -r rss pss < <(mem "$PID")
cpu_ticks=$(awk '{print $14+$15}' "/proc/$PID/stat")
sleep 10
cpu_ticks2=$(awk '{print $14+$15}' "/proc/$PID/stat")
hz=$(getconf CLK_TCK)
idle_cpu=$(echo "scale=1; ($cpu_ticks2 - $cpu_ticks) * 100 / $hz / 10" | bc)
db=$(du -k "$WORK/data/server/db" | awk '{print $1}')
size=$(stat -c %s "$BIN")

cat <<EOF2
| measure | value |
|---|---|
| start to /readyz, fresh data dir | ${fresh} s |
| start to /readyz, existing data dir | ${existing} s |
| RSS after ${IDLE} s idle (control plane only) | ${rss} MiB |
| PSS after ${IDLE} s idle (control plane only) | ${pss} MiB |
| idle CPU (10 s window) | ${idle_cpu} % of one core |
| SQLite data dir after start | $((db / 1024)) MiB |
| binary size | $((size / 1024 / 1024)) MiB |
EOF2
