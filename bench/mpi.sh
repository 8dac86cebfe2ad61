#!/usr/bin/env bash
# mpi.sh - data-parallel training on this machine (bench/README.md, "Data-parallel training"):
#  1. the allreduce seam alone (build/bench_allreduce: gb_dist_sum_float over 4 B .. 16 MB,
#     2 ranks on loopback, i.e. Open MPI's shared-memory transport);
#  2. per config, side by side in one run, alternating, BENCH_RUNS times:
#       N=1      groovybee train, one process, one thread
#       N=2      mpirun -np 2 groovybee train, one thread a rank, the same global batch
#       base     the single-process path before data-parallel training (commit BASE, built
#                into a scratch worktree), one process, one thread: the regression check
#       threads  one process with 2 threads (what this machine gives without MPI)
#       half     one process, one thread, batch B/2: a rank's own compute at N=2
#     the training windows/s of each (the median over runs of each run's last epochs), the
#     allreduce's share of N=2's training time (its log), and the model of docs/scaling.md:
#     N=2 predicted from N=1's step halved (or half's step, the compute a rank really does) and
#     the allreduce of the gradient's bytes measured in 1;
#  3. with root, bench/mpi_netns.sh: the same N=2 runs across two network namespaces.
# Needs `make` (build/groovybee, build/libgroovybee.a) and Open MPI (scripts/deps.sh build).
# Knobs: CONFIGS ("roll paper"), BENCH_RUNS (3), EPOCHS (3: the first is not counted), BASE
# (ee75954^: the last commit before src/dist), NETNS (1: run step 3 when root).
set -eu
cd "$(dirname "$0")/.."
CONFIGS=${CONFIGS:-"roll paper"}
RUNS=${BENCH_RUNS:-3}
EPOCHS=${EPOCHS:-3}
BASE=${BASE:-ee75954^}
NETNS=${NETNS:-1}
CC=${CC:-cc}
PYTHON=${PYTHON:-/usr/bin/python3}
MPI=(mpirun --allow-run-as-root --oversubscribe)
[ -x build/groovybee ] && [ -f build/libgroovybee.a ] || { echo "mpi.sh: run make first" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpi.sh: no mpirun (scripts/deps.sh build)" >&2; exit 1; }
W=$(mktemp -d)
cleanup() {
    git worktree remove --force "$W/base" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT

# shellcheck disable=SC2046
$CC -O2 -std=c11 -Iinclude -Isrc bench/allreduce.c build/libgroovybee.a \
    $(pkg-config --libs ompi-c) -o build/bench_allreduce
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores; $(mpirun --version | head -1)"
echo "$(build/groovybee --version | grep kernels)"
echo "== allreduce (gb_dist_sum_float), 2 ranks on loopback"
"${MPI[@]}" -np 2 build/bench_allreduce | tee "$W/allreduce.txt"

echo "== building the base ($BASE) into a scratch worktree"
git worktree add --detach "$W/base" "$BASE" >/dev/null 2>&1
make -C "$W/base" --no-print-directory -s build B=build >/dev/null
BASEBIN=$W/base/build/groovybee

# config NAME -> the train options of a run of that config
config() {
    case $1 in
    roll) echo "--preset roll --max-windows 1024 --precision fp32" ;;
    paper) echo "--preset paper --max-windows 4096 --precision fp32" ;;
    events) echo "--preset events --max-windows 1024 --precision fp32" ;;
    *) echo "mpi.sh: unknown config $1" >&2; exit 2 ;;
    esac
}
# wps LOG: the median windows/s of the epochs after the first; and the allreduce share
stats() {
    "$PYTHON" - "$1" <<'EOF'
import json, statistics, sys
e = [json.loads(l) for l in open(sys.argv[1])][1:]
wps = statistics.median(x["windows_per_s"] for x in e)
train_s = sum(x["windows"] / x["windows_per_s"] for x in e)
share = sum(x.get("allreduce_seconds", 0) for x in e) / train_s
print("%.1f %.4f" % (wps, share))
EOF
}
# model_fact MODEL KEY: a metadata value of the safetensors file, or (bytes) its tensors' bytes:
# the parameters, as many as the gradient block
model_fact() {
    "$PYTHON" - "$1" "$2" <<'EOF'
import json, sys
f = open(sys.argv[1], "rb")
h = json.loads(f.read(int.from_bytes(f.read(8), "little")))
meta = h.pop("__metadata__")
if sys.argv[2] == "bytes":
    print(sum(t["data_offsets"][1] - t["data_offsets"][0] for t in h.values()))
else:
    print(meta[sys.argv[2]])
EOF
}
for cfg in $CONFIGS; do
    # shellcheck disable=SC2046
    set -- $(config "$cfg")
    common=(data/jsb "$@" --epochs "$EPOCHS" --patience 0 -q)
    for r in $(seq "$RUNS"); do
        build/groovybee train "${common[@]}" --threads 1 -o "$W/n1.safetensors" --log "$W/n1.jsonl" 2>/dev/null
        echo "$cfg run $r N=1 $(stats "$W/n1.jsonl")" | tee -a "$W/runs.txt"
        "${MPI[@]}" -np 2 build/groovybee train "${common[@]}" --threads 1 -o "$W/n2.safetensors" \
            --log "$W/n2.jsonl" 2>/dev/null
        echo "$cfg run $r N=2 $(stats "$W/n2.jsonl")" | tee -a "$W/runs.txt"
        "$BASEBIN" train "${common[@]}" --threads 1 -o "$W/b.safetensors" --log "$W/b.jsonl" 2>/dev/null
        echo "$cfg run $r base $(stats "$W/b.jsonl")" | tee -a "$W/runs.txt"
        build/groovybee train "${common[@]}" --threads 2 -o "$W/t2.safetensors" --log "$W/t2.jsonl" 2>/dev/null
        echo "$cfg run $r threads $(stats "$W/t2.jsonl")" | tee -a "$W/runs.txt"
        half=$(($(model_fact "$W/n1.safetensors" batch) / 2))
        build/groovybee train "${common[@]}" --threads 1 --batch "$half" -o "$W/h.safetensors" --log "$W/h.jsonl" 2>/dev/null
        echo "$cfg run $r half $(stats "$W/h.jsonl")" | tee -a "$W/runs.txt"
    done
    echo "$cfg batch=$(model_fact "$W/n1.safetensors" batch)" \
        "gradient_bytes=$(model_fact "$W/n1.safetensors" bytes)" >>"$W/shapes.txt"
done

echo "== summary (medians over $RUNS runs; windows/s of training)"
"$PYTHON" - "$W/runs.txt" "$W/allreduce.txt" "$W/shapes.txt" <<'EOF'
import collections, math, statistics, sys
runs = collections.defaultdict(list)
for l in open(sys.argv[1]):
    cfg, _, _, kind, wps, share = l.split()
    runs[cfg, kind].append((float(wps), float(share)))
ar = []
for l in open(sys.argv[2]):
    kv = dict(x.split("=") for x in l.split())
    ar.append((int(kv["bytes"]), float(kv["seconds"])))
def t_allreduce(b):  # linear interpolation in the measured sizes (log-log beyond)
    for (b0, t0), (b1, t1) in zip(ar, ar[1:]):
        if b0 <= b <= b1:
            return t0 + (t1 - t0) * (b - b0) / (b1 - b0)
    (b0, t0), (b1, t1) = ar[-2], ar[-1]
    return t1 * (b / b1) ** (math.log(t1 / t0) / math.log(b1 / b0))
# the model's two constants from the seam alone: latency (the 4-byte allreduce, which is
# 2 (N-1) latencies at N = 2) and bandwidth (the slope over the two largest sizes)
(b0, t0), (b1, t1) = ar[-2], ar[-1]
print("allreduce: 4 B in %.1f us (latency term 2(N-1)a, a = %.1f us); %.2f Gbit/s between "
      "%d and %d MB" % (ar[0][1] * 1e6, ar[0][1] / 2 * 1e6, (b1 - b0) * 8 / (t1 - t0) / 1e9,
                        b0 >> 20, b1 >> 20))
shapes = {}
for l in open(sys.argv[3]):
    cfg, *kv = l.split()
    shapes[cfg] = {k: int(v) for k, v in (x.split("=") for x in kv)}
print("%-6s %9s %9s %7s %8s %10s %7s %10s %7s %9s %9s %9s" % (
    "config", "N=1 w/s", "N=2 w/s", "speedup", "allred.", "model a", "error", "model b",
    "error", "base w/s", "N=1/base", "2 thr w/s"))
for cfg, sh in shapes.items():
    med = lambda k, i=0: statistics.median(x[i] for x in runs[cfg, k])
    n1, n2, base, thr, half = (med(k) for k in ("N=1", "N=2", "base", "threads", "half"))
    share = med("N=2", 1)
    B, S = sh["batch"], sh["gradient_bytes"]
    step1 = B / n1                      # seconds a step on one rank
    step_half = (B // 2) / half         # a rank's step at N=2, measured alone
    comm = t_allreduce(S) + t_allreduce(16)  # the gradient, and the loss's 16 bytes
    pa, pb = B / (step1 / 2 + comm), B / (step_half + comm)
    print("%-6s %9.1f %9.1f %6.2fx %7.1f%% %10.1f %+6.1f%% %10.1f %+6.1f%% %9.1f %8.3f %9.1f" % (
        cfg, n1, n2, n2 / n1, 100 * share, pa, 100 * (pa - n2) / n2, pb, 100 * (pb - n2) / n2,
        base, n1 / base, thr))
    print("       batch %d, gradient %.2f MB: allreduce %.2f ms a step (the seam alone); a step "
          "%.1f ms at N=1, %.1f ms at batch %d (model a: N=1's halved; b: the latter)" % (
              B, S / 1e6, comm * 1e3, step1 * 1e3, step_half * 1e3, B // 2))
EOF

if [ "$NETNS" = 1 ] && [ "$(id -u)" = 0 ]; then
    echo "== across two network namespaces (bench/mpi_netns.sh)"
    CONFIGS="$CONFIGS" BENCH_RUNS="$RUNS" EPOCHS="$EPOCHS" bench/mpi_netns.sh
fi
