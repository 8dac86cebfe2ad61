#!/bin/sh
# lstm.sh - training throughput, groovybee against PyTorch on the CPU, in fp32 and bf16, on the
# report's network (-c paper: D=128, H=512, L=2, T=12, MSE on the last step, dropout 0.2) and the
# roll preset's (-c roll: meter inputs, H=256, L=1, T=64, the NADE head on every step, dropout
# 0.2 in and 0.5 out) and the events preset's (-c events: token input over V=388, H=512, L=2,
# T=128, dropout 0.2, the softmax head and its cross-entropy on every step, clip 3; PyTorch feeds
# the tokens as one-hot vectors), at batch 64 and 16. One step: zero_grad, forward, loss,
# backward, clip to norm 1.0 (3.0 for events), Adam.
#
# Builds build/bench_lstm_train and build/bench_sgemm_peak (needs build/libgroovybee.a: run
# `make` first), measures the ceilings (clock, FMA peak, the fp32 and bf16 2048^3 products and
# the GEMM bound of the paper network; before and after the runs, keeping the higher figures),
# then alternates fresh processes, RUNS rounds (default 3) of, per configuration and batch:
#   c_fp32_openblas  groovybee --precision fp32, products by OpenBLAS (GB_GEMM_FP32=openblas)
#   c_fp32_onednn    groovybee --precision fp32, products by oneDNN (GB_GEMM_FP32=onednn)
#   c_bf16           groovybee --precision bf16 (skipped where the CPU has no bf16 instructions)
#   torch_fp32       PyTorch nn.LSTM (T_FORM=cell: the LSTMCell loop) (+ its NADE for roll),
#                    torch.set_num_threads(T_THREADS)
#   torch_bf16       the same under torch.autocast("cpu", torch.bfloat16) (oneDNN's kernels),
#                    torch.set_num_threads(T_BF16_THREADS)
# Everything runs as a user runs it: no environment tuning, except that PyTorch gets
# OPENBLAS_CORETYPE where its OpenBLAS reports a generic core on a CPU with AVX2 or AVX-512
# (groovybee sets that for itself: src/model/gemm.c), so that it is measured at its best.
# Prints per configuration and batch the median windows/s of each side (min-max), its GFLOP/s
# (the LSTM's and head's GEMM flops, both sides counted alike), the ratio to the best PyTorch
# side, and GFLOP/s as fractions of the measured fp32 and bf16 peaks; the kernels each side
# used; a closing key=value summary line. For events also events/s (windows/s x T) and, for
# groovybee, the softmax head's median ms against the LSTM's under it (the step less the head)
# and its share of the step (bench_lstm_train's head_ms, lstm_ms, head_share), with issue 12's
# bound: the head costs no more than the LSTM. Raw lines of every run go to stderr, tagged with
# busy= (per cent of the CPUs busy just before it), waited= and other= (per cent of the CPUs
# other processes used during it; a run with more than MAX_OTHER is repeated, twice at most).
# Environment:
#   BENCH_RUNS (3)  BENCH_SECONDS (2)  CONFIGS ("paper roll events")  BATCHES ("64 16")
#   BENCH_PEAK (1; 0 skips the ceilings, whose columns then read 0: a quick check of the script)
#   T_FORM (lstm: nn.LSTM, PyTorch's fastest form; cell: the LSTMCell loop; not for roll)
#   T_THREADS (1), T_BF16_THREADS (2): PyTorch's best on 2 cores in fp32 (its OpenBLAS runs
#   threads of its own, which more intra-op threads fight) and under autocast (oneDNN runs in
#   torch's OpenMP threads): bench/README.md     PYTHON (/usr/bin/python3)  CC (cc)
#   QUIET_WAIT (60)  MAX_OTHER (10)
set -eu
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-2}
CONFIGS=${CONFIGS:-paper roll events}
BATCHES=${BATCHES:-64 16}
T_THREADS=${T_THREADS:-1}
T_BF16_THREADS=${T_BF16_THREADS:-2}
T_FORM=${T_FORM:-lstm}
PEAK=${BENCH_PEAK:-1}
CC=${CC:-cc}
PYTHON=${PYTHON:-/usr/bin/python3}

[ -f build/libgroovybee.a ] || { echo "lstm.sh: build/libgroovybee.a is missing; run make" >&2; exit 1; }
"$PYTHON" -c 'import torch' 2>/dev/null ||
    { echo "lstm.sh: $PYTHON cannot import torch (apt-get install python3-torch)" >&2; exit 1; }
BLAS_LIBS=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
for p in lstm_train sgemm_peak; do
    # shellcheck disable=SC2086
    $CC -O2 -std=c11 -fopenmp -Iinclude -Isrc bench/$p.c build/libgroovybee.a $BLAS_LIBS -ldnnl \
        -fopenmp -lm -o build/bench_$p
done
BF16=$(build/groovybee --version | grep -q 'bf16 native' && echo 1 || echo 0)
# PyTorch's OpenBLAS (libblas.so.3) at its best: the core groovybee would pick, if it falls back
T_ENV=$(OPENBLAS_CORETYPE= build/groovybee --version | sed -n 's/.*OPENBLAS_CORETYPE=\([A-Za-z]*\) fits.*/OPENBLAS_CORETYPE=\1/p')
[ -n "$T_ENV" ] || T_ENV="X_NOTHING=1"

out=$(mktemp)
one=$(mktemp)
tf=$(mktemp)
trap 'rm -f "$out" "$one" "$tf"' EXIT
trap 'exit 130' INT TERM
NCPU=$(nproc)
# Per cent of all CPUs busy over half a second: with nothing of ours running, other work.
busy() {
    a=$(head -1 /proc/stat)
    sleep 0.5
    b=$(head -1 /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk '{ idle = $5 + $6; tot = 0; for (i = 2; i <= NF; i++) tot += $i
        if (NR == 1) { i0 = idle; t0 = tot } else printf "%.0f", 100 * (1 - (idle - i0) / (tot - t0)) }'
}
# Per cent of all CPUs that others used while a run of ours went: the CPUs' busy time over the
# run (/proc/stat, between $1 and $2) less our process's user + system time (/usr/bin/time).
others() {
    printf '%s\n%s\n' "$1" "$2" | awk -v ncpu="$NCPU" -v tf="$tf" '{ idle = $5 + $6; tot = 0
        for (i = 2; i <= NF; i++) tot += $i
        if (NR == 1) { i0 = idle; t0 = tot } else b = (tot - t0) - (idle - i0) }
        END { getline l < tf; split(l, x, " "); tck = 100
              if (x[1] > 0) { v = 100 * (b / tck - x[2] - x[3]) / (ncpu * x[1]); printf "%.0f", v < 0 ? 0 : v } else printf "NA" }'
}
QUIET_WAIT=${QUIET_WAIT:-60}
MAX_OTHER=${MAX_OTHER:-10}
# side TAG COMMAND...: one run, its lines tagged into $out (and stderr)
side() {
    tag=$1
    shift
    try=0
    while :; do
        w=0
        while b=$(busy) && [ "$b" -ge 10 ] && [ "$w" -lt "$QUIET_WAIT" ]; do
            sleep 2
            w=$((w + 2))
        done
        s0=$(head -1 /proc/stat)
        if [ -x /usr/bin/time ]; then
            /usr/bin/time -f "%e %U %S" -o "$tf" "$@" >"$one" || { echo "lstm.sh: '$*' failed" >&2; exit 1; }
        else
            : >"$tf"
            "$@" >"$one" || { echo "lstm.sh: '$*' failed" >&2; exit 1; }
        fi
        s1=$(head -1 /proc/stat)
        o=$(others "$s0" "$s1")
        try=$((try + 1))
        [ "$o" = NA ] || [ "$o" -le "$MAX_OTHER" ] || [ "$try" -ge 3 ] && break
        echo "lstm.sh: others used $o% during $tag, run $i: again" >&2
    done
    sed "s/^/run=$i tag=$tag busy=$b waited=$w other=$o /" "$one" | tee -a "$out" >&2
}

echo "lstm.sh: load $(cut -d' ' -f1-3 /proc/loadavg) before the runs; torch env: $T_ENV, $T_THREADS threads in fp32, $T_BF16_THREADS in bf16" >&2
i=0
[ "$PEAK" = 0 ] || side peak build/bench_sgemm_peak
i=1
while [ "$i" -le "$RUNS" ]; do
    for c in $CONFIGS; do
        for B in $BATCHES; do
            side c_fp32_openblas env GB_GEMM_FP32=openblas build/bench_lstm_train -c "$c" -p fp32 -t "$SECS" -B "$B"
            side c_fp32_onednn env GB_GEMM_FP32=onednn build/bench_lstm_train -c "$c" -p fp32 -t "$SECS" -B "$B"
            [ "$BF16" = 1 ] && side c_bf16 build/bench_lstm_train -c "$c" -p bf16 -t "$SECS" -B "$B"
            side torch_fp32 env "$T_ENV" "$PYTHON" bench/lstm_torch.py -c "$c" --form "$T_FORM" -B "$B" -t "$SECS" --threads "$T_THREADS"
            side torch_bf16 env "$T_ENV" "$PYTHON" bench/lstm_torch.py -c "$c" --form "$T_FORM" -B "$B" -t "$SECS" --threads "$T_BF16_THREADS" --autocast bf16
        done
    done
    i=$((i + 1))
done
i=0
[ "$PEAK" = 0 ] || side peak build/bench_sgemm_peak
echo "lstm.sh: load $(cut -d' ' -f1-3 /proc/loadavg) after the runs" >&2

awk '
function med(k,    n, i, j, t, a) {
    n = cnt[k]
    for (i = 1; i <= n; i++) a[i] = val[k, i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function lo(k,    i, m) { m = val[k, 1]; for (i = 2; i <= cnt[k]; i++) if (val[k, i] < m) m = val[k, i]; return m }
function hi(k,    i, m) { m = val[k, 1]; for (i = 2; i <= cnt[k]; i++) if (val[k, i] > m) m = val[k, i]; return m }
{
    delete kv
    for (f = 1; f <= NF; f++) { p = index($f, "="); if (p) kv[substr($f, 1, p - 1)] = substr($f, p + 1) }
    if (kv["tag"] == "peak") { # before and after the runs: the higher of the two
        if (kv["what"] == "clock" && kv["ghz"] + 0 > ghz) ghz = kv["ghz"] + 0
        if (kv["what"] == "fma" && kv["width"] == 512 && kv["threads"] + 0 > 1 && kv["gflop_s"] + 0 > fma) fma = kv["gflop_s"] + 0
        if (kv["what"] == "gemm" && kv["shape"] == "square" && kv["gflop_s"] + 0 > peak[kv["prec"]]) peak[kv["prec"]] = kv["gflop_s"] + 0
        if (kv["what"] == "kernels") { sub(/^.*kernels="/, ""); sub(/"$/, ""); kern = $0 }
        next
    }
    if (kv["side"] == "torch" && !tkern) { t = $0; sub(/^.*kernels="/, "", t); sub(/".*$/, "", t); tkern = t }
    cfg = kv["config"] == "" ? "paper" : kv["config"]
    if (kv["torch"] != "") tver = kv["torch"]
    k = cfg SUBSEP kv["B"] SUBSEP kv["tag"]; c = ++cnt[k]
    val[k, c] = kv["windows_s"] + 0; gf[cfg, kv["B"]] = kv["gflop_step"] + 0; tt[cfg] = kv["T"] + 0
    if (kv["head_ms"] != "") { # the softmax head against the LSTM under it
        nh = split("head_ms lstm_ms head_share", hk, " ")
        for (h = 1; h <= nh; h++) { cnt[k, hk[h]] = c; val[k SUBSEP hk[h], c] = kv[hk[h]] + 0 }
    }
    if (kv["other"] + 0 > maxother) maxother = kv["other"] + 0
}
END {
    printf "clock %.2f GHz; FMA peak (all cores) %.1f GFLOP/s; 2048^3 products: fp32 %.1f, bf16 %.1f GFLOP/s\n", ghz, fma, peak["fp32"], peak["bf16"]
    printf "kernels: %s\nPyTorch %s: %s\n", kern, tver, tkern
    sum = sprintf("ghz=%.3f fma_peak=%.1f fp32_peak=%.1f bf16_peak=%.1f", ghz, fma, peak["fp32"], peak["bf16"])
    nt = split("c_fp32_openblas c_fp32_onednn c_bf16 torch_fp32 torch_bf16", tags, " ")
    names["c_fp32_openblas"] = "groovybee fp32 (OpenBLAS)"; names["c_fp32_onednn"] = "groovybee fp32 (oneDNN)"
    names["c_bf16"] = "groovybee bf16 (oneDNN)"; names["torch_fp32"] = "torch fp32"; names["torch_bf16"] = "torch bf16 autocast"
    nc = split(configs, cs, " "); nb = split(batches, bs, " ")
    for (ci = 1; ci <= nc; ci++) for (bi = 1; bi <= nb; bi++) {
        cfg = cs[ci]; B = bs[bi]; best = 0
        for (t = 4; t <= 5; t++) { k = cfg SUBSEP B SUBSEP tags[t]; if (cnt[k] && med(k) > best) { best = med(k); bestname = names[tags[t]] } }
        if (!best) { print "lstm.sh: missing PyTorch results" > "/dev/stderr"; exit 1 }
        printf "\n%s, B=%d (best PyTorch: %s)\n", cfg, B, bestname
        ev = cfg == "events"; worst = 0
        printf "%-28s %5s %10s %15s %8s %8s %9s %9s", "side", "runs", "windows/s", "(min-max)", "GFLOP/s", "x torch", "of fp32pk", "of bf16pk"
        printf "%s", ev ? sprintf(" %10s %17s %6s\n", "events/s", "head ms/LSTM ms", "head%") : "\n"
        for (t = 1; t <= nt; t++) {
            k = cfg SUBSEP B SUBSEP tags[t]
            if (!cnt[k]) continue
            m = med(k); g = m / B * gf[cfg, B]
            printf "%-28s %5d %10.1f %7.1f-%-7.1f %8.1f %8.2f %8.0f%% %8.0f%%", names[tags[t]], cnt[k], m, lo(k), hi(k), g, m / best, peak["fp32"] ? 100 * g / peak["fp32"] : 0, peak["bf16"] ? 100 * g / peak["bf16"] : 0
            sum = sum sprintf(" %s_%s_B%d=%.1f", cfg, tags[t], B, m)
            if (!ev) { printf "\n"; continue }
            printf " %10.0f", m * tt[cfg]
            sum = sum sprintf(" %s_%s_B%d_events_s=%.0f", cfg, tags[t], B, m * tt[cfg])
            if (!cnt[k, "head_ms"]) { printf " %17s %6s\n", "-", "-"; continue }
            hm = med(k SUBSEP "head_ms"); lm = med(k SUBSEP "lstm_ms"); hs = med(k SUBSEP "head_share")
            printf " %8.1f/%-8.1f %5.1f%%\n", hm, lm, 100 * hs
            sum = sum sprintf(" %s_%s_B%d_head_share=%.3f", cfg, tags[t], B, hs)
            if (hm / lm > worst) worst = hm / lm
        }
        if (worst) printf "softmax head / LSTM under it: at most %.3f (issue 12: no more than 1: %s)\n", worst, worst <= 1 ? "met" : "not met"
    }
    print "summary: " sum " max_other=" maxother
}' configs="$CONFIGS" batches="$BATCHES" "$out"
