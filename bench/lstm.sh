#!/bin/sh
# lstm.sh - training throughput of the report's LSTM (D=128, H=512, L=2, T=12, MSE on the last
# step, dropout 0.2, clip 1.0, Adam lr 1e-3): groovybee's fast path against PyTorch on the CPU.
# Builds build/bench_lstm_train and build/bench_sgemm_peak (needs build/libgroovybee.a: run
# `make` first), measures the ceilings (clock, FMA peak, sgemm peak and the LSTM's GEMM shapes:
# bench/sgemm_peak.c; before and after the runs, keeping the higher figures, since the host
# sometimes gives less than two full cores), then alternates fresh processes, RUNS rounds
# (default 5) of:
#   B=64: groovybee (default env), groovybee (C_ENV), torch nn.LSTM (default env, 1 thread),
#         torch nn.LSTM (T_ENV, T_THREADS threads), torch LSTMCell loop (default env, 1 thread)
#   B=16: the same
# and prints, per batch size, the median windows/s and GFLOP/s of each, the ratios groovybee /
# best PyTorch form, and GFLOP/s as fractions of the measured 2-core FMA peak and the sgemm peak.
# The table goes to stdout, ending with one key=value summary line; the raw lines of every run go
# to stderr, each tagged with busy= (per cent of the CPUs busy in the 0.5 s before it: other
# people's work, since nothing of ours runs then), waited= (seconds spent waiting for quiet) and
# other= (per cent of the CPUs that other processes used during the run; see side() below).
# The ratio divides the better groovybee median by the best median of the PyTorch runs (forms and
# configurations) at the same batch size.
# Environment:
#   BENCH_RUNS     rounds (default 5)          BENCH_SECONDS  least timed seconds a run (2)
#   C_ENV          the tuned groovybee configuration, as VAR=value words for env(1). Default:
#                  OpenBLAS's OpenMP build (Debian's libopenblas0-openmp, loaded through
#                  LD_LIBRARY_PATH without touching the system's alternatives) with sleeping
#                  OpenMP workers, when that library is installed; else OMP_WAIT_POLICY=passive.
#   T_ENV, T_THREADS  the tuned PyTorch configuration (default: the same OpenMP OpenBLAS with
#                  sleeping workers, and torch.set_num_threads(2), when installed; else the
#                  default env and 1 thread, which makes that run a repeat of the first)
#   PYTHON         default /usr/bin/python3 (Debian's, with python3-torch)
#   TORCH2=1       also one run of nn.LSTM with torch.set_num_threads(2) per batch size
#   CC             default cc
# About 4 minutes with the defaults on a quiet machine (longer when it waits for quiet).
set -eu
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-5}
SECS=${BENCH_SECONDS:-2}
CC=${CC:-cc}
PYTHON=${PYTHON:-/usr/bin/python3}
OMPBLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ -z "${C_ENV+x}" ]; then
    if [ -f "$OMPBLAS/libopenblas.so.0" ]; then
        C_ENV="LD_LIBRARY_PATH=$OMPBLAS OMP_WAIT_POLICY=passive"
    else
        C_ENV="OMP_WAIT_POLICY=passive"
    fi
fi
if [ -z "${T_ENV+x}" ]; then
    if [ -f "$OMPBLAS/libopenblas.so.0" ]; then
        T_ENV="LD_LIBRARY_PATH=$OMPBLAS OMP_WAIT_POLICY=passive"
        T_THREADS=${T_THREADS:-2}
    else
        T_ENV="OMP_WAIT_POLICY=active"
    fi
fi
T_THREADS=${T_THREADS:-1}

[ -f build/libgroovybee.a ] || { echo "lstm.sh: build/libgroovybee.a is missing; run make" >&2; exit 1; }
"$PYTHON" -c 'import torch' 2>/dev/null ||
    { echo "lstm.sh: $PYTHON cannot import torch (apt-get install python3-torch)" >&2; exit 1; }
BLAS_CFLAGS=$(pkg-config --cflags openblas 2>/dev/null || true)
BLAS_LIBS=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
# shellcheck disable=SC2086
$CC -O2 -std=c11 -fopenmp -Iinclude -Isrc $BLAS_CFLAGS bench/lstm_train.c build/libgroovybee.a \
    $BLAS_LIBS -fopenmp -lm -o build/bench_lstm_train
# shellcheck disable=SC2086
$CC -O2 -std=c11 -fopenmp $BLAS_CFLAGS bench/sgemm_peak.c $BLAS_LIBS -fopenmp \
    -o build/bench_sgemm_peak

out=$(mktemp)
one=$(mktemp)
trap 'exit 130' INT TERM

NCPU=$(nproc)
tf=$(mktemp)
trap 'rm -f "$out" "$one" "$tf"' EXIT
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
# Runs one side; its lines, tagged, go to stderr and to $out. Before each run, waits (up to
# QUIET_WAIT seconds, default 60) for the machine to be quiet (busy < 10%); a run during which
# others used more than MAX_OTHER per cent of the CPUs (default 10) is run again, up to twice.
# Stops at the first failure.
QUIET_WAIT=${QUIET_WAIT:-60}
MAX_OTHER=${MAX_OTHER:-10}
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

echo "lstm.sh: load $(cut -d' ' -f1-3 /proc/loadavg) before the runs; others: $(pgrep -f 'fuzz|test_|make' | grep -v "^$$\$" | tr '\n' ' ')" >&2
i=0
side peak build/bench_sgemm_peak
echo "lstm.sh: $RUNS alternated rounds, $SECS s a run; tuned groovybee: env $C_ENV; tuned torch: env $T_ENV, $T_THREADS threads" >&2
i=1
while [ "$i" -le "$RUNS" ]; do
    for B in 64 16; do
        side c_default build/bench_lstm_train -t "$SECS" -B "$B"
        # shellcheck disable=SC2086
        side c_tuned env $C_ENV build/bench_lstm_train -t "$SECS" -B "$B"
        side torch_lstm "$PYTHON" bench/lstm_torch.py --form lstm -B "$B" -t "$SECS"
        # shellcheck disable=SC2086
        side torch_lstm_tuned env $T_ENV "$PYTHON" bench/lstm_torch.py --form lstm -B "$B" \
            -t "$SECS" --threads "$T_THREADS"
        side torch_cell "$PYTHON" bench/lstm_torch.py --form cell -B "$B" -t "$SECS"
    done
    i=$((i + 1))
done
if [ "${TORCH2:-0}" = 1 ]; then
    for B in 64 16; do
        side torch_lstm_2threads "$PYTHON" bench/lstm_torch.py --form lstm -B "$B" -t "$SECS" --threads 2
    done
fi
i=0
side peak build/bench_sgemm_peak
echo "lstm.sh: load $(cut -d' ' -f1-3 /proc/loadavg) after the runs" >&2

# Medians per (tag, B), then the tables. Each line is key=value pairs.
awk -v c_env="$C_ENV" -v t_env="$T_ENV" -v t_threads="$T_THREADS" '
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
    if (kv["tag"] == "peak") { # measured before and after the runs: the higher of the two
        if (kv["what"] == "clock" && kv["ghz"] + 0 > ghz) ghz = kv["ghz"] + 0
        if (kv["what"] == "fma" && kv["width"] == 512 && kv["threads"] == 2 && kv["gflop_s"] + 0 > fma) fma = kv["gflop_s"] + 0
        if (kv["what"] == "sgemm" && kv["shape"] == "square" && kv["gflop_s"] + 0 > sq) sq = kv["gflop_s"] + 0
        if (kv["what"] == "bound" && kv["gflop_s"] + 0 > bound[kv["B"]]) { bound[kv["B"]] = kv["gflop_s"] + 0; boundw[kv["B"]] = kv["windows_s"] + 0 }
        next
    }
    k = kv["tag"] SUBSEP kv["B"]; c = ++cnt[k]
    val[k, c] = kv["windows_s"] + 0; gf[k] = kv["gflop_step"] + 0; bz[kv["B"]] = bz[kv["B"]] " " kv["other"]
    if (kv["other"] + 0 > maxother) maxother = kv["other"] + 0
}
END {
    printf "clock %.2f GHz (dependent adds); FMA peak, 2 threads: %.1f GFLOP/s (nominal 2 x 32 x %.2f = %.1f); sgemm 2048^3: %.1f GFLOP/s\n", ghz, fma, ghz, 64 * ghz, sq
    printf "tuned groovybee: env %s\ntuned torch: env %s, torch.set_num_threads(%s)\n", c_env, t_env, t_threads
    sum = sprintf("ghz=%.3f fma_peak=%.1f sgemm_peak=%.1f", ghz, fma, sq)
    nt = split("c_default c_tuned torch_lstm torch_lstm_tuned torch_cell torch_lstm_2threads", tags, " ")
    names["c_default"] = "groovybee (default env)"; names["c_tuned"] = "groovybee (tuned env)"
    names["torch_lstm"] = "torch nn.LSTM, 1 thread"; names["torch_cell"] = "torch LSTMCell loop, 1 thr"
    names["torch_lstm_tuned"] = "torch nn.LSTM (tuned env)"
    names["torch_lstm_2threads"] = "torch nn.LSTM, 2 threads"
    for (bi = 1; bi <= 2; bi++) {
        B = bi == 1 ? 64 : 16
        if (!cnt["torch_lstm" SUBSEP B] || !cnt["c_default" SUBSEP B]) { print "lstm.sh: missing results" > "/dev/stderr"; exit 1 }
        best = 0
        for (t = 1; t <= nt; t++) {
            k = tags[t] SUBSEP B
            if (tags[t] ~ /^torch/ && tags[t] != "torch_lstm_2threads" && cnt[k] && med(k) > best) { best = med(k); bestname = names[tags[t]] }
        }
        printf "\nB=%d, medians of %d runs (%% of the CPUs others used during each run:%s)\n", B, cnt["c_default" SUBSEP B], bz[B]
        printf "%-28s %6s %10s %15s %8s %8s %8s %9s %9s\n", "side", "runs", "windows/s", "(min-max)", "GFLOP/s", "x torch", "of FMA", "of sgemm", "of bound"
        for (t = 1; t <= nt; t++) {
            k = tags[t] SUBSEP B
            if (!cnt[k]) continue
            m = med(k); g = m / B * gf[k]
            printf "%-28s %6d %10.1f %7.1f-%-7.1f %8.1f %8.2f %7.0f%% %8.0f%% %8.0f%%\n", names[tags[t]], cnt[k], m, lo(k), hi(k), g, m / best, 100 * g / fma, 100 * g / sq, 100 * g / bound[B]
            sum = sum sprintf(" %s_B%d_windows_s=%.1f", tags[t], B, m)
        }
        printf "GEMM-only bound (sgemm_peak.c, each call at its shape'"'"'s measured rate): %.1f windows/s, %.1f GFLOP/s\n", boundw[B], bound[B]
        cd = med("c_default" SUBSEP B); ct = cnt["c_tuned" SUBSEP B] ? med("c_tuned" SUBSEP B) : cd
        cb = ct > cd ? ct : cd
        sum = sum sprintf(" ratio_B%d=%.2f ratio_default_B%d=%.2f", B, cb / best, B, cd / best)
        target = B == 64 ? 1.5 : 2
        verdict = (cb / best >= target) ? "met" : "not met"
        printf "groovybee best / best PyTorch run (%s): %.2fx (target %gx: %s)\n", bestname, cb / best, target, verdict
    }
    print "summary: " sum " max_other=" maxother
}' "$out"
