#!/bin/sh
# gen.sh - generation speed of the report's model (D 128, H 512, L 2, batch 1, each prediction
# fed back): groovybee's stream (bench/gen_steps.c) against PyTorch's LSTMCell loop
# (bench/gen_torch.py), alternating fresh processes, RUNS rounds (default 5) of:
#   groovybee with 2 OpenMP threads, groovybee with 1, the same two with the weights in bf16
#   (gen_steps -p bf16: `generate --precision bf16`), torch with 1 intra-op thread, torch with 2
# then the median steps/s of each, the ratio of the best groovybee median (fp32, then bf16) to
# the best PyTorch median, bf16 against fp32, and the weight bandwidth groovybee reached (each
# step reads all 13.9 MB of weights in fp32, 7.0 MB in bf16). Then the same for the events
# preset's token model (-c events: V 388 tokens in, H 512, L 1, a softmax over the 388 out, each
# event drawn at temperature 1 and fed back; groovybee through gb_generate_tokens, PyTorch with
# torch.multinomial on the one-hot LSTMCell loop): events/s, the ratios without a target.
# Needs build/libgroovybee.a (`make`) and Debian's python3-torch. Run it on a quiet machine:
# both sides are bound by memory bandwidth and share it with anything else running.
# Environment: BENCH_RUNS (5), BENCH_STEPS (4000: steps or events a run), PYTHON
# (/usr/bin/python3), CC (cc), BENCH_BF16 (1; 0 leaves the bf16 sides out), CONFIGS ("paper
# events").
set -eu
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-5}
N=${BENCH_STEPS:-4000}
PYTHON=${PYTHON:-/usr/bin/python3}
CC=${CC:-cc}
CONFIGS=${CONFIGS:-paper events}
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
    for c in $CONFIGS; do
        for side in $SIDES; do
            case $side in
            c2) r=$(OMP_NUM_THREADS=2 build/bench_gen_steps -c "$c" -n "$N") ;;
            c1) r=$(OMP_NUM_THREADS=1 build/bench_gen_steps -c "$c" -n "$N") ;;
            b2) r=$(OMP_NUM_THREADS=2 build/bench_gen_steps -c "$c" -n "$N" -p bf16) ;;
            b1) r=$(OMP_NUM_THREADS=1 build/bench_gen_steps -c "$c" -n "$N" -p bf16) ;;
            t1) r=$("$PYTHON" bench/gen_torch.py -c "$c" -n "$N" --threads 1) ;;
            t2) r=$("$PYTHON" bench/gen_torch.py -c "$c" -n "$N" --threads 2) ;;
            esac
            echo "run=$i side=$side $r" | tee -a "$out" >&2
        done
    done
    i=$((i + 1))
done
nl=
for c in $CONFIGS; do
grep " config=$c " "$out" | awk -v sides="$SIDES" -v cfg="$c" -v nl="$nl" '
function med(s,    n, i, j, t, a) {
    n = cnt[s]; for (i = 1; i <= n; i++) a[i] = v[s, i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function best(a, b) { return cnt[b] && med(b) > med(a) ? b : a }
function target(r, x) { return cfg == "events" ? "" : sprintf(" (target %dx: %s)", x, r >= x ? "met" : "not met") }
{ delete kv; for (f = 1; f <= NF; f++) { p = index($f, "="); kv[substr($f, 1, p - 1)] = substr($f, p + 1) }
  s = kv["side"]; v[s, ++cnt[s]] = kv["steps_s"] + 0; if (kv["mb_step"] != "") mb[s] = kv["mb_step"] + 0 }
END {
    ns = split(sides, sd, " ")
    name["c2"] = "groovybee, 2 threads"; name["c1"] = "groovybee, 1 thread"
    name["b2"] = "groovybee bf16, 2 threads"; name["b1"] = "groovybee bf16, 1 thread"
    name["t1"] = "torch LSTMCell loop, 1 thread"; name["t2"] = "torch LSTMCell loop, 2 threads"
    printf "%s%-32s %10s %8s\n", nl ? "\n" : "", "side (medians of " cnt["c1"] " runs)", cfg == "events" ? "events/s" : "steps/s", "GB/s"
    for (k = 1; k <= ns; k++) {
        m = med(sd[k]); w = mb[sd[k]]
        printf "%-32s %10.1f %8.1f\n", name[sd[k]], m, m * w / 1000
    }
    c = best("c2", "c1"); t = best("t1", "t2")
    printf "%s: groovybee best / PyTorch best: %.2fx%s; %.1f GB/s of weights\n", cfg, med(c) / med(t), target(med(c) / med(t), 5), med(c) * mb[c] / 1000
    if (cnt["b1"]) {
        b = best("b2", "b1")
        printf "%s: groovybee bf16 best / PyTorch best: %.2fx%s; bf16 / fp32: %.2fx; %.1f GB/s of weights\n", cfg, med(b) / med(t), target(med(b) / med(t), 8), med(b) / med(c), med(b) * mb[b] / 1000
    }
}'
nl=1
done
