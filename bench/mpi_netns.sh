#!/usr/bin/env bash
# mpi_netns.sh - 2 ranks as two hosts: two network namespaces (gb-host1, gb-host2) joined by a
# veth pair (10.77.0.1 and 10.77.0.2), each with its own hostname, so that Open MPI sees two
# nodes and the job crosses a real network stack (TCP through the kernel, no shared memory:
# --mca btl tcp,self). mpirun starts in gb-host1 and reaches gb-host2 through an rsh agent that
# enters its namespace (what ssh does on a cluster). --bind-to none: Open MPI would bind each
# "host"'s rank to its core 0, which here is one core for both (4 ms a message, measured). Needs
# root (ip netns) and `make`.
# Runs build/bench_allreduce across the pair, then per config (as bench/mpi.sh) N=2 training
# runs, and prints windows/s, the allreduce's share and the bytes the veth carried.
# RATE=1gbit (any tc rate) shapes both ends (tc tbf, bucket BURST: 32kb), to see a slower
# network.
# Knobs: CONFIGS ("roll paper"), BENCH_RUNS (3), EPOCHS (3), RATE (none).
set -eu
cd "$(dirname "$0")/.."
CONFIGS=${CONFIGS:-"roll paper"}
RUNS=${BENCH_RUNS:-3}
EPOCHS=${EPOCHS:-3}
RATE=${RATE:-}
PYTHON=${PYTHON:-/usr/bin/python3}
[ "$(id -u)" = 0 ] || { echo "mpi_netns.sh: needs root (ip netns)" >&2; exit 1; }
[ -x build/groovybee ] || { echo "mpi_netns.sh: run make first" >&2; exit 1; }
[ -x build/bench_allreduce ] || { echo "mpi_netns.sh: run bench/mpi.sh first (it builds build/bench_allreduce)" >&2; exit 1; }
W=$(mktemp -d)
cleanup() {
    ip netns del gb-host1 2>/dev/null || true
    ip netns del gb-host2 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
cleanup_ns_only() { ip netns del gb-host1 2>/dev/null || true; ip netns del gb-host2 2>/dev/null || true; }
cleanup_ns_only
ip netns add gb-host1
ip netns add gb-host2
ip link add gb-veth1 type veth peer name gb-veth2
ip link set gb-veth1 netns gb-host1
ip link set gb-veth2 netns gb-host2
for i in 1 2; do
    ip -n gb-host$i addr add 10.77.0.$i/24 dev gb-veth$i
    ip -n gb-host$i link set gb-veth$i up
    ip -n gb-host$i link set lo up
    # a token bucket with a small bucket (a large one would let that much through at once,
    # flattering each allreduce) and a long queue (no drops, no TCP back-off)
    [ -n "$RATE" ] && ip netns exec gb-host$i tc qdisc add dev gb-veth$i root tbf rate "$RATE" \
        burst "${BURST:-32kb}" limit 64mb
done
# Open MPI's rsh agent: `agent HOST COMMAND...` runs COMMAND (a shell line) on HOST
cat >"$W/agent" <<'EOF'
#!/bin/sh
host=$1
shift
case $host in 10.77.0.1) ns=gb-host1 ;; 10.77.0.2) ns=gb-host2 ;; *) echo "agent: no host $host" >&2; exit 1 ;; esac
exec ip netns exec $ns unshare --uts /bin/sh -c "hostname $ns; $*"
EOF
chmod +x "$W/agent"
# run COMMAND...: in gb-host1 (named so), mpirun's options for the two hosts prepended
run() {
    ip netns exec gb-host1 unshare --uts /bin/sh -c 'hostname gb-host1; exec "$@"' sh \
        mpirun --allow-run-as-root -np 2 --host 10.77.0.1:1,10.77.0.2:1 --bind-to none \
        --mca plm_rsh_agent "$W/agent" --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 \
        --mca oob_tcp_if_include 10.77.0.0/24 "$@"
}
bytes() { ip netns exec gb-host1 cat /sys/class/net/gb-veth1/statistics/tx_bytes; }
echo "veth pair 10.77.0.1 <-> 10.77.0.2${RATE:+, shaped to $RATE by tc tbf}"
run sh -c 'echo "  rank $OMPI_COMM_WORLD_RANK on $(hostname)"'
echo "-- allreduce (gb_dist_sum_float) across the veth"
run build/bench_allreduce
for cfg in $CONFIGS; do
    case $cfg in
    roll) opts="--preset roll --max-windows 1024 --precision fp32" ;;
    paper) opts="--preset paper --max-windows 4096 --precision fp32" ;;
    events) opts="--preset events --max-windows 1024 --precision fp32" ;;
    *) echo "mpi_netns.sh: unknown config $cfg" >&2; exit 2 ;;
    esac
    for r in $(seq "$RUNS"); do
        b0=$(bytes)
        # shellcheck disable=SC2086
        run build/groovybee train data/jsb $opts --epochs "$EPOCHS" --patience 0 -q --threads 1 \
            -o "$W/m.safetensors" --log "$W/m.jsonl" 2>/dev/null
        b1=$(bytes)
        "$PYTHON" - "$W/m.jsonl" "$cfg" "$r" $((b1 - b0)) <<'EOF'
import json, statistics, sys
e = [json.loads(l) for l in open(sys.argv[1])]
later = e[1:]
wps = statistics.median(x["windows_per_s"] for x in later)
train_s = sum(x["windows"] / x["windows_per_s"] for x in later)
share = sum(x["allreduce_seconds"] for x in later) / train_s
print("%s run %s N=2 across the veth: %.1f windows/s, allreduce %.1f%% of training, "
      "%.1f MB sent by gb-host1" % (sys.argv[2], sys.argv[3], wps, 100 * share,
                                    int(sys.argv[4]) / 1e6))
EOF
    done
done
