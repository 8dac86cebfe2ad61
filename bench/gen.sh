#!/bin/sh
# gen.sh - generation speed of the report's model (D 128, H 512, L 2, batch 1, each prediction
# fed back): groovybee's stream (bench/gen_steps.c) against PyTorch's LSTMCell loop
# (bench/gen_torch.py), alternating fresh processes, RUNS rounds (default 5) of:
#   groovybee with 2 OpenMP threads, groovybee with 1, the same two with the weights in bf16
#   (gen_steps -p bf16: `generate --precision bf16`), torch with 1 intra-op thread, torch with 2
# then the median steps/s of each, the ratio of the best groovybee median (fp32, then bf16) to
# the best PyTorch median, bf16 against fp32, and the weight bandwidth groovybee reached (each
# step reads all 13.9 MB of weights in fp32, 7.0 MB in bf16).
# Needs build/libgroovybee.a (`make`) and Debian's python3-torch. Run it on a quiet machine:
# both sides are bound by memory bandwidth and share it with anything else running.
# Environment: BENCH_RUNS (5), BENCH_STEPS (4000), PYTHON (/usr/bin/python3), CC (cc),
# BENCH_BF16 (1; 0 leaves the bf16 sides out).
set -eu
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-5}
N=${BENCH_STEPS:-4000}
PYTHON=${PYTHON:-/usr/bin/python3}
CC=${CC:-cc}
SIDES="c2 c1 t1 t2"
[ "${BENCH_BF16:-1}" = 0 ] || SIDES="c2 c1 b2 b1 t1 t2"
[ -f build/libgroovybee.a ] || { echo "gen.sh: build/libgroovybee.a is missing; run make" >&2; exit 1; }
"$PYTHON" -c 'import torch' 2>/dev/null ||
    { echo "gen.sh: $PYTHON cannot import torch (apt-get install python3-torch)" >&2; exit 1; }
# shellcheck disable=SC2046
$CC -O2 -std=c11 -fopenmp -Iinclude -Isrc $(pkg-config --cflags openblas) bench/gen_steps.c \
    build/libgroovybee.a $(pkg-config --libs openblas libpng fluidsynth) -ldnnl -fopenmp -lm \
    -o build/bench_gen_steps
out=$(mktemp)
trap 'rm -f "$out"' EXIT
i=1
while [ "$i" -le "$RUNS" ]; do
    for side in $SIDES; do
        case $side in
        c2) r=$(OMP_NUM_THREADS=2 build/bench_gen_steps -n "$N") ;;
        c1) r=$(OMP_NUM_THREADS=1 build/bench_gen_steps -n "$N") ;;
        b2) r=$(OMP_NUM_THREADS=2 build/bench_gen_steps -n "$N" -p bf16) ;;
        b1) r=$(OMP_NUM_THREADS=1 build/bench_gen_steps -n "$N" -p bf16) ;;
        t1) r=$("$PYTHON" bench/gen_torch.py -n "$N" --threads 1) ;;
        t2) r=$("$PYTHON" bench/gen_torch.py -n "$N" --threads 2) ;;
        esac
        echo "run=$i side=$side $r" | tee -a "$out" >&2
    done
    i=$((i + 1))
done
awk -v sides="$SIDES" '
function med(s,    n, i, j, t, a) {
    n = cnt[s]; for (i = 1; i <= n; i++) a[i] = v[s, i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function best(a, b) { return cnt[b] && med(b) > med(a) ? b : a }
{ delete kv; for (f = 1; f <= NF; f++) { p = index($f, "="); kv[substr($f, 1, p - 1)] = substr($f, p + 1) }
  s = kv["side"]; v[s, ++cnt[s]] = kv["steps_s"] + 0; if (kv["mb_step"] != "") mb[s] = kv["mb_step"] + 0 }
END {
    ns = split(sides, sd, " ")
    name["c2"] = "groovybee, 2 threads"; name["c1"] = "groovybee, 1 thread"
    name["b2"] = "groovybee bf16, 2 threads"; name["b1"] = "groovybee bf16, 1 thread"
    name["t1"] = "torch LSTMCell loop, 1 thread"; name["t2"] = "torch LSTMCell loop, 2 threads"
    printf "%-32s %10s %8s\n", "side (medians of " cnt["c1"] " runs)", "steps/s", "GB/s"
    for (k = 1; k <= ns; k++) {
        m = med(sd[k]); w = mb[sd[k]] ? mb[sd[k]] : mb["c1"] # torch: fp32 weights
        printf "%-32s %10.1f %8.1f\n", name[sd[k]], m, m * w / 1000
    }
    c = best("c2", "c1"); t = best("t1", "t2")
    printf "groovybee best / PyTorch best: %.2fx (target 5x: %s); %.1f GB/s of weights\n", med(c) / med(t), (med(c) / med(t) >= 5) ? "met" : "not met", med(c) * mb[c] / 1000
    if (cnt["b1"]) {
        b = best("b2", "b1")
        printf "groovybee bf16 best / PyTorch best: %.2fx (target 8x: %s); bf16 / fp32: %.2fx; %.1f GB/s of weights\n", med(b) / med(t), (med(b) / med(t) >= 8) ? "met" : "not met", med(b) / med(c), med(b) * mb[b] / 1000
    }
}' "$out"
