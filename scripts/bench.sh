#!/usr/bin/env bash
# Measures edgek's start-up time, memory and idle CPU, inside a private network namespace (no
# traffic leaves the machine). Prints markdown tables; numbers go into docs/BENCHMARKS.md.
#   usage: scripts/bench.sh [path/to/edgek]
#   IDLE_SECONDS (60): idle time before measuring the control plane alone
#   NODE_IDLE_SECONDS (120): idle time before measuring a full node
set -euo pipefail
BIN=$(readlink -f "${1:-bin/edgek}")
IDLE=${IDLE_SECONDS:-60}
NODE_IDLE=${NODE_IDLE_SECONDS:-120}
NS=edgek-bench-$$
WORK=$(mktemp -d /tmp/edgek-bench.XXXXXX)
PID=

cleanup() {
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" || true; fi
  if [[ -d $WORK/node ]]; then
    nsenter --net=/run/netns/"$NS" "$BIN" killall --data-dir "$WORK/node" >/dev/null 2>&1 || true
  fi
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

stop_server

# --- a full node: control plane + containerd, kubelet, flannel, kube-proxy -------------------
echo "nameserver 172.31.254.53" >"$WORK/resolv.conf"
kubectl() { in_ns "$BIN" kubectl --kubeconfig "$WORK/node-kubeconfig.yaml" "$@"; }
since() { echo "$(date +%s.%N) - $1" | bc; }
t0=$(date +%s.%N)
nsenter --net=/run/netns/"$NS" "$BIN" server --data-dir "$WORK/node" --write-kubeconfig "$WORK/node-kubeconfig.yaml" \
  --node-ip 172.31.254.2 --resolv-conf "$WORK/resolv.conf" --config /dev/null >>"$WORK/node.log" 2>&1 &
PID=$!
until [[ -f $WORK/node-kubeconfig.yaml ]] && kubectl get --raw /readyz >/dev/null 2>&1; do
  kill -0 "$PID" 2>/dev/null || { echo "edgek exited; log:" >&2; tail -20 "$WORK/node.log" >&2; exit 1; }
  sleep 0.1
done
# The first user pod is created as soon as the API answers, as a deploy script would.
# (retried until the namespace's default ServiceAccount exists, a second or so)
until kubectl run bench --image=docker.io/edgek/pause:3.10 --image-pull-policy=Never >/dev/null 2>&1; do sleep 0.1; done
node_ready=
pod_running=
until [[ -n $node_ready && -n $pod_running ]]; do
  if [[ -z $node_ready ]] && kubectl get nodes -o 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True; then
    node_ready=$(since "$t0")
  fi
  if [[ -z $pod_running ]] && [[ $(kubectl get pod bench -o 'jsonpath={.status.phase}' 2>/dev/null) == Running ]]; then
    pod_running=$(since "$t0")
  fi
  sleep 0.1
done
addons_ready=
until [[ -n $addons_ready ]]; do
  if kubectl wait -n kube-system --for=condition=Ready pod -l k8s-app=kube-dns --timeout=1s >/dev/null 2>&1 &&
    kubectl wait -n edgek-dashboard --for=condition=Ready pod -l app.kubernetes.io/name=edgek-dashboard --timeout=1s >/dev/null 2>&1; then
    addons_ready=$(since "$t0")
  fi
  sleep 0.2
done
sleep "$NODE_IDLE"
read -r coredns_rss coredns_pss < <(mem "$(pgrep -x coredns | head -1)")
read -r dash_rss dash_pss < <(mem "$(pgrep -x dashboard | head -1)")
# Summed PSS of edgek, its containerd and the shims (the pause container itself excluded).
pids=("$PID" $(pgrep -f "^containerd --config $WORK/node/" || true) $(pgrep -f "containerd-shim-runc-v2 -namespace k8s.io" || true))
pss_sum=0
for p in "${pids[@]}"; do
  read -r _ pss < <(mem "$p")
  pss_sum=$((pss_sum + pss))
done
read -r node_rss node_pss < <(mem "$PID")
c1=$(awk '{print $14+$15}' "/proc/$PID/stat")
sleep 60
c2=$(awk '{print $14+$15}' "/proc/$PID/stat")
node_cpu=$(echo "scale=1; ($c2 - $c1) * 100 / $hz / 60" | bc)

cat <<EOF2
| measure | value |
|---|---|
| control plane only: start to /readyz, fresh data dir | ${fresh} s |
| control plane only: start to /readyz, existing data dir | ${existing} s |
| control plane only: RSS / PSS after ${IDLE} s idle | ${rss} / ${pss} MiB |
| control plane only: idle CPU (10 s window) | ${idle_cpu} % of one core |
| full node: start to node Ready, fresh data dir | ${node_ready} s |
| full node: start to first user pod Running | ${pod_running} s |
| full node: start to all addon pods (CoreDNS, dashboard) Ready | ${addons_ready} s |
| CoreDNS pod: RSS / PSS | ${coredns_rss} / ${coredns_pss} MiB |
| dashboard pod: RSS / PSS | ${dash_rss} / ${dash_pss} MiB |
| full node: edgek RSS / PSS after ${NODE_IDLE} s idle | ${node_rss} / ${node_pss} MiB |
| full node: summed PSS of edgek + containerd + shims (${#pids[@]} processes; pods excluded) | ${pss_sum} MiB |
| full node: edgek idle CPU over 60 s | ${node_cpu} % of one core |
| SQLite data dir after start | $((db / 1024)) MiB |
| binary size | $((size / 1024 / 1024)) MiB |
EOF2
