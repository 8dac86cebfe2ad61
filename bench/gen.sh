#!/bin/sh
# gen.sh - generation speed of the report's model (D 128, H 512, L 2, batch 1, each prediction
# fed back): groovybee's stream (bench/gen_steps.c) against PyTorch's LSTMCell loop
# (bench/gen_torch.py), alternating fresh processes, RUNS rounds (default 5) of:
#   groovybee with 2 OpenMP threads, groovybee with 1, torch with 1 intra-op thread, torch with 2
# then the median steps/s of each, the ratio of the best groovybee median to the best PyTorch
# median, and the weight bandwidth groovybee reached (each step reads all 13.9 MB of weights).
# Needs build/libgroovybee.a (`make`) and Debian's python3-torch. Run it on a quiet machine:
# both sides are bound by memory bandwidth and share it with anything else running.
# Environment: BENCH_RUNS (5), BENCH_STEPS (4000), PYTHON (/usr/bin/python3), CC (cc).
set -eu
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-5}
N=${BENCH_STEPS:-4000}
PYTHON=${PYTHON:-/usr/bin/python3}
CC=${CC:-cc}
[ -f build/libgroovybee.a ] || { echo "gen.sh: build/libgroovybee.a is missing; run make" >&2; exit 1; }
"$PYTHON" -c 'import torch' 2>/dev/null ||
    { echo "gen.sh: $PYTHON cannot import torch (apt-get install python3-torch)" >&2; exit 1; }
# shellcheck disable=SC2046
$CC -O2 -std=c11 -fopenmp -Iinclude -Isrc $(pkg-config --cflags openblas) bench/gen_steps.c \
    build/libgroovybee.a $(pkg-config --libs openblas libpng fluidsynth) -fopenmp -lm \
    -o build/bench_gen_steps
out=$(mktemp)
trap 'rm -f "$out"' EXIT
i=1
while [ "$i" -le "$RUNS" ]; do
    for side in c2 c1 t1 t2; do
        case $side in
        c2) r=$(OMP_NUM_THREADS=2 build/bench_gen_steps -n "$N") ;;
        c1) r=$(OMP_NUM_THREADS=1 build/bench_gen_steps -n "$N") ;;
        t1) r=$("$PYTHON" bench/gen_torch.py -n "$N" --threads 1) ;;
        t2) r=$("$PYTHON" bench/gen_torch.py -n "$N" --threads 2) ;;
        esac
        echo "run=$i side=$side $r" | tee -a "$out" >&2
    done
    i=$((i + 1))
done
awk '
function med(s,    n, i, j, t, a) {
    n = cnt[s]; for (i = 1; i <= n; i++) a[i] = v[s, i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ for (f = 1; f <= NF; f++) { p = index($f, "="); kv[substr($f, 1, p - 1)] = substr($f, p + 1) }
  s = kv["side"]; v[s, ++cnt[s]] = kv["steps_s"] + 0; if (kv["mb_step"] != "") mb = kv["mb_step"] + 0 }
END {
    split("c2 c1 t1 t2", sides, " ")
    name["c2"] = "groovybee, 2 threads"; name["c1"] = "groovybee, 1 thread"
    name["t1"] = "torch LSTMCell loop, 1 thread"; name["t2"] = "torch LSTMCell loop, 2 threads"
    printf "%-32s %10s %8s\n", "side (medians of " cnt["c1"] " runs)", "steps/s", "GB/s"
    for (k = 1; k <= 4; k++) { m = med(sides[k]); printf "%-32s %10.1f %8.1f\n", name[sides[k]], m, m * mb / 1000 }
    c = med("c2"); if (med("c1") > c) c = med("c1")
    t = med("t1"); if (med("t2") > t) t = med("t2")
    printf "groovybee best / PyTorch best: %.2fx (target 5x: %s); %.1f GB/s of weights\n", c / t, (c / t >= 5) ? "met" : "not met", c * mb / 1000
}' "$out"
