#!/usr/bin/env bash
# Measures edgek's start-up time, memory and idle CPU, inside a private network namespace (no
# traffic leaves the machine). Prints markdown tables; numbers go into docs/BENCHMARKS.md.
#   usage: scripts/bench.sh [path/to/edgek]
#   IDLE_SECONDS (60): idle time before measuring the control plane alone
#   NODE_IDLE_SECONDS (120): idle time before measuring a full node
#   MEMORY_LIMIT (unset): e.g. 1G: the full node (edgek, containerd, shims and every pod) runs
#     under this memory limit, as on a small board (cgroup v1 hosts)
#   AGENT_IDLE_SECONDS (60): idle time before measuring an agent that joined the full node (from
#     a second namespace, joined to the first by a veth pair); 0 skips the agent
#   SERVER_ARGS (unset): extra flags for every server started, e.g. "--disable local-storage" to
#     measure what a component costs
# On cgroup v1 hosts the full node runs in a cgroup of its own (the kubelet's cgroup root
# included), whose peak and idle memory are reported.
set -euo pipefail
BIN=$(readlink -f "${1:-bin/edgek}")
IDLE=${IDLE_SECONDS:-60}
NODE_IDLE=${NODE_IDLE_SECONDS:-120}
AGENT_IDLE=${AGENT_IDLE_SECONDS:-60}
read -ra server_args <<<"${SERVER_ARGS:-}"
NS=edgek-bench-$$
NS2=edgek-bench-a-$$
WORK=$(mktemp -d /tmp/edgek-bench.XXXXXX)
PID=
APID=

CG=edgek-bench-$$
CG2=edgek-bench-a-$$
# The kubelet makes /var/lib/kubelet/device-plugins whatever its root dir: removed after the
# run unless it was there before.
KUBELET_DIR_NEW=
[[ -e /var/lib/kubelet ]] || KUBELET_DIR_NEW=1
cleanup() {
  if [[ -n $APID ]] && kill -0 "$APID" 2>/dev/null; then kill -TERM "$APID"; wait "$APID" || true; fi
  if [[ -d $WORK/agent ]]; then
    nsenter --net=/run/netns/"$NS2" "$BIN" killall --data-dir "$WORK/agent" >/dev/null 2>&1 || true
  fi
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" || true; fi
  if [[ -d $WORK/node ]]; then
    nsenter --net=/run/netns/"$NS" "$BIN" killall --data-dir "$WORK/node" >/dev/null 2>&1 || true
  fi
  for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/*/"$CG2"; do
    [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  ip netns del "$NS2" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
  if [[ -n $KUBELET_DIR_NEW ]]; then rm -rf /var/lib/kubelet; fi
}
trap cleanup EXIT

# make_netns NAME IP: a namespace whose only way out is a bridge with no ports.
make_netns() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip -n "$1" link add edgek0 type bridge
  ip -n "$1" addr add "$2"/24 dev edgek0
  ip -n "$1" link set edgek0 up
  ip -n "$1" route add default dev edgek0
}
# make_cgroup NAME: /NAME in every cgroup v1 hierarchy (cpuset filled from the parent), for
# a node and, as the kubelet's cgroup root, its pods.
make_cgroup() {
  local h d f
  for h in /sys/fs/cgroup/*/cgroup.procs; do
    d=$(dirname "$h")/$1
    mkdir -p "$d"
    for f in cpuset.cpus cpuset.mems; do
      if [[ -f $(dirname "$h")/$f ]]; then cat "$(dirname "$h")/$f" >"$d/$f"; fi
    done
  done
}
# in_cgroup NAME CMD...: moves the calling (background) subshell into /NAME where it exists
# and execs CMD, so that $! is CMD's pid and its children start in the cgroup.
in_cgroup() {
  local cg=$1 h d
  shift
  for h in /sys/fs/cgroup/*/cgroup.procs; do
    d=$(dirname "$h")/$cg
    if [[ -d $d ]]; then echo "$BASHPID" >"$d/cgroup.procs"; fi
  done
  exec "$@"
}
make_netns "$NS" 172.31.254.2
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
    --node-ip 172.31.254.2 --disable-agent --config /dev/null "${server_args[@]}" >>"$WORK/log" 2>&1 &
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
node_args=()
MEMCG=
if [[ -d /sys/fs/cgroup/memory ]]; then
  # One cgroup for the whole node: edgek (and so containerd and the shims) and, as the
  # kubelet's cgroup root, every pod.
  make_cgroup "$CG"
  MEMCG=/sys/fs/cgroup/memory/$CG
  if [[ -n ${MEMORY_LIMIT:-} ]]; then echo "$MEMORY_LIMIT" >"$MEMCG/memory.limit_in_bytes"; fi
  node_args+=(--kubelet-arg "cgroup-root=/$CG")
fi
t0=$(date +%s.%N)
in_cgroup "$CG" nsenter --net=/run/netns/"$NS" "$BIN" server --data-dir "$WORK/node" --write-kubeconfig "$WORK/node-kubeconfig.yaml" \
  --node-ip 172.31.254.2 --resolv-conf "$WORK/resolv.conf" --config /dev/null --kube-apiserver-arg profiling=true \
  "${node_args[@]}" "${server_args[@]}" >>"$WORK/node.log" 2>&1 &
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
# Local storage: a claim and a pod using it, created together (the claim binds once the pod is
# scheduled: WaitForFirstConsumer). ServiceLB: a LoadBalancer Service until it has its address.
# Each kubectl call takes ~0.1 s, the resolution of these two rows.
pvc_bound="(local-storage disabled)"
pvc_pod="(local-storage disabled)"
if kubectl get storageclass local-path >/dev/null 2>&1; then
  t1=$(date +%s.%N)
  kubectl apply -f - >/dev/null <<'EOF2'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: bench-data, namespace: default}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: bench-data, namespace: default}
spec:
  containers:
  - {name: pause, image: docker.io/edgek/pause:3.10, imagePullPolicy: Never, volumeMounts: [{name: data, mountPath: /data}]}
  volumes: [{name: data, persistentVolumeClaim: {claimName: bench-data}}]
EOF2
  until [[ $(kubectl get pvc bench-data -o 'jsonpath={.status.phase}' 2>/dev/null) == Bound ]]; do sleep 0.05; done
  pvc_bound=$(since "$t1")
  until [[ $(kubectl get pod bench-data -o 'jsonpath={.status.phase}' 2>/dev/null) == Running ]]; do sleep 0.05; done
  pvc_pod=$(since "$t1")
fi
# Metrics API: start → the first `kubectl top nodes` with numbers (metrics-server needs two
# kubelet readings, 15 s apart).
top_ready="(metrics-server disabled)"
if kubectl get apiservice v1beta1.metrics.k8s.io >/dev/null 2>&1; then
  until kubectl top nodes --no-headers 2>/dev/null | grep -q 'm '; do sleep 0.5; done
  top_ready=$(since "$t0")
fi
lb_ready="(servicelb disabled)"
# The node's log says whether ServiceLB runs (it is off with --disable servicelb, in a flag or
# in a config file).
if grep -q 'msg="component ready" component=servicelb ' "$WORK/node.log"; then
  t1=$(date +%s.%N)
  kubectl create service loadbalancer bench-lb --tcp=8099:8099 >/dev/null
  until [[ -n $(kubectl get svc bench-lb -o 'jsonpath={.status.loadBalancer.ingress[0].ip}' 2>/dev/null) ]]; do sleep 0.05; done
  lb_ready=$(since "$t1")
fi
sleep "$NODE_IDLE"
# pod_mem NS SELECTOR prints "rss_mib pss_mib" summed over every process of the pod (its
# containers and its pause container), found through the pod's memory cgroup.
pod_mem() {
  local uid dir rss=0 pss=0 r p pid
  uid=$(kubectl get pod -n "$1" -l "$2" -o 'jsonpath={.items[0].metadata.uid}')
  dir=$(find /sys/fs/cgroup/memory /sys/fs/cgroup -maxdepth 6 -type d \( -name "pod$uid" -o -name "pod${uid//-/_}*" \) 2>/dev/null | head -1)
  [[ -n $dir ]] || { echo "no cgroup for pod $uid" >&2; echo "? ?"; return; }
  for pid in $(find "$dir" -name cgroup.procs -exec cat {} + | sort -u); do
    read -r r p < <(mem "$pid")
    rss=$((rss + r)); pss=$((pss + p))
  done
  echo "$rss $pss"
}
read -r coredns_rss coredns_pss < <(pod_mem kube-system k8s-app=kube-dns)
read -r dash_rss dash_pss < <(pod_mem edgek-dashboard app.kubernetes.io/name=edgek-dashboard)
# Summed PSS of edgek, its containerd and its shims (the pods excluded). The node's runtime dir
# is /run/edgek-<first 8 hex digits of sha256(data dir)> (see README).
RUN_DIR=/run/edgek-$(printf %s "$WORK/node" | sha256sum | cut -c1-8)
SOCK=$RUN_DIR/containerd/containerd.sock
pids=("$PID" $(pgrep -f "^containerd --config $WORK/node/" || true) $(pgrep -f -- "-address $SOCK" || true))
pss_sum=0
for p in "${pids[@]}"; do
  read -r _ p_pss < <(mem "$p")
  pss_sum=$((pss_sum + p_pss))
done
read -r node_rss node_pss < <(mem "$PID")
node_cg="(cgroup v2 host: not measured)"
if [[ -n $MEMCG ]]; then
  peak=$(($(cat "$MEMCG/memory.max_usage_in_bytes") / 1024 / 1024))
  now=$(($(cat "$MEMCG/memory.usage_in_bytes") / 1024 / 1024))
  rss_now=$(awk '/^total_rss / {print int($2/1048576)}' "$MEMCG/memory.stat")
  limit=${MEMORY_LIMIT:-none}
  node_cg="peak ${peak} MiB; idle ${now} MiB (${rss_now} MiB anonymous, the rest page cache); limit ${limit}"
fi
# The Go heap of the whole process, through the apiserver's pprof (profiling=true above): the
# live heap right after a GC, and what the runtime holds idle and has already returned to the
# kernel. RSS swings by hundreds of MiB with the latter (Go's scavenger returns the start-up
# peak slowly), the live heap does not: compare components by it (docs/BENCHMARKS.md).
NTLS=$WORK/node/server/tls
heap=$(in_ns curl -sf --max-time 30 --cacert "$NTLS/server-ca.crt" --cert "$NTLS/client-admin.crt" --key "$NTLS/client-admin.key" \
  "https://127.0.0.1:6443/debug/pprof/heap?gc=1&debug=1" |
  awk '/^# HeapAlloc =/ {a=$4} /^# HeapIdle =/ {i=$4} /^# HeapReleased =/ {r=$4} END {printf "%.0f / %.0f / %.0f MiB\n", a/1048576, i/1048576, r/1048576}')
c1=$(awk '{print $14+$15}' "/proc/$PID/stat")
sleep 60
c2=$(awk '{print $14+$15}' "/proc/$PID/stat")
node_cpu=$(echo "scale=1; ($c2 - $c1) * 100 / $hz / 60" | bc)

# --- an agent joining the full node from a second "host" ------------------------------------
agent_rows=
if ((AGENT_IDLE > 0)); then
  make_netns "$NS2" 172.31.254.3
  ip -n "$NS" link add lan0 type veth peer name lan0 netns "$NS2"
  for n in "$NS" "$NS2"; do ip -n "$n" link set lan0 master edgek0; ip -n "$n" link set lan0 up; done
  # The agent's kubelet needs a cgroup root of its own on this shared host (see TestJoin).
  agent_args=()
  AMEMCG=
  if [[ -n $MEMCG ]]; then
    make_cgroup "$CG2"
    AMEMCG=/sys/fs/cgroup/memory/$CG2
    agent_args+=(--kubelet-arg "cgroup-root=/$CG2")
  fi
  cp "$WORK/node/server/token" "$WORK/token"
  t0=$(date +%s.%N)
  in_cgroup "$CG2" nsenter --net=/run/netns/"$NS2" "$BIN" agent --server https://172.31.254.2:6443 --token-file "$WORK/token" \
    --data-dir "$WORK/agent" --node-ip 172.31.254.3 --node-name bench-agent --resolv-conf "$WORK/resolv.conf" \
    --config /dev/null "${agent_args[@]}" >>"$WORK/agent.log" 2>&1 &
  APID=$!
  until kubectl get node bench-agent -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True; do
    kill -0 "$APID" 2>/dev/null || { echo "edgek agent exited; log:" >&2; tail -20 "$WORK/agent.log" >&2; exit 1; }
    sleep 0.1
  done
  agent_ready=$(since "$t0")
  sleep "$AGENT_IDLE"
  read -r agent_rss agent_pss < <(mem "$APID")
  apids=("$APID" $(pgrep -f "^containerd --config $WORK/agent/" || true))
  agent_sum=0
  for p in "${apids[@]}"; do
    read -r _ p_pss < <(mem "$p")
    agent_sum=$((agent_sum + p_pss))
  done
  agent_cg="(cgroup v2 host: not measured)"
  if [[ -n $AMEMCG ]]; then
    agent_cg="peak $(($(cat "$AMEMCG/memory.max_usage_in_bytes") / 1048576)) MiB; idle $(($(cat "$AMEMCG/memory.usage_in_bytes") / 1048576)) MiB ($(awk '/^total_rss / {print int($2/1048576)}' "$AMEMCG/memory.stat") MiB anonymous)"
  fi
  agent_rows="| agent: start to its node Ready (joining over the LAN) | ${agent_ready} s |
| agent: edgek RSS / PSS after ${AGENT_IDLE} s idle | ${agent_rss} / ${agent_pss} MiB |
| agent: summed PSS of edgek + containerd (no pods on it) | ${agent_sum} MiB |
| agent, whole cgroup (edgek agent, containerd) | ${agent_cg} |"
fi

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
| local storage: claim and pod created → claim Bound / pod Running | ${pvc_bound} / ${pvc_pod} s |
| ServiceLB: LoadBalancer Service created → has its address | ${lb_ready} s |
| metrics: start → first \`kubectl top nodes\` answer | ${top_ready} s |
| CoreDNS pod (all its processes, pause included): RSS / PSS | ${coredns_rss} / ${coredns_pss} MiB |
| dashboard pod (all its processes, pause included): RSS / PSS | ${dash_rss} / ${dash_pss} MiB |
| full node: edgek RSS / PSS after ${NODE_IDLE} s idle | ${node_rss} / ${node_pss} MiB |
| full node: edgek Go heap: live after GC / idle / idle returned to the kernel | ${heap} |
| full node: summed PSS of edgek + containerd + shims (${#pids[@]} processes; pods excluded) | ${pss_sum} MiB |
| full node: edgek idle CPU over 60 s | ${node_cpu} % of one core |
| full node, whole cgroup (edgek, containerd, shims, CoreDNS, dashboard, 1 or 2 pods) | ${node_cg} |
${agent_rows}
| SQLite data dir after start | $((db / 1024)) MiB |
| binary size | $((size / 1024 / 1024)) MiB |
EOF2
