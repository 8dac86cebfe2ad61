#!/bin/sh
# lstm_threads.sh - the threading configurations of groovybee's training step (bench_lstm_train
# at B=64 and B=16, the report's model), alternated in fresh processes, RUNS rounds (default 3),
# medians printed. Run bench/lstm.sh first (it builds build/bench_lstm_train).
#   default   Debian's default OpenBLAS (pthread build, 2 threads); the gate kernels on one
#             thread (gb_fast_step_threads() = 0); Adam's OpenMP loop on 2 threads, default spin
#   passive   OMP_WAIT_POLICY=passive: the gate kernels and bias sums on OpenMP too, idle
#             OpenMP workers sleep instead of spinning
#   blas1     OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive: GEMMs on one thread, gates on 2
#   blas1spin the same with GOMP_SPINCOUNT=300000 (libgomp's default spin, now that no OpenBLAS
#             thread competes with the OpenMP workers)
#   omp       OpenBLAS's OpenMP build (libopenblas0-openmp, through LD_LIBRARY_PATH): one OpenMP
#             pool for GEMMs, gates and Adam; default spin
#   omppass   the same with OMP_WAIT_POLICY=passive
#   noomp     OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2: no OpenMP parallelism in groovybee at all
# Each run waits (up to 60 s) for the machine to be quiet and is tagged with other= (per cent of
# the CPUs that other processes used during it). Environment: BENCH_RUNS, BENCH_SECONDS (2), CFGS
# (the configurations to run, default all of the above).
set -eu
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-2}
OMPBLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
CFGS=${CFGS:-default passive blas1 blas1spin omp omppass noomp}
[ -x build/bench_lstm_train ] || { echo "lstm_threads.sh: run bench/lstm.sh first" >&2; exit 1; }
[ -f "$OMPBLAS/libopenblas.so.0" ] ||
    { echo "lstm_threads.sh: $OMPBLAS missing (apt-get install libopenblas0-openmp)" >&2; exit 1; }
envof() {
    case $1 in
    default) echo "" ;;
    passive) echo "OMP_WAIT_POLICY=passive" ;;
    blas1) echo "OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive" ;;
    blas1spin) echo "OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive GOMP_SPINCOUNT=300000" ;;
    omp) echo "LD_LIBRARY_PATH=$OMPBLAS" ;;
    omppass) echo "LD_LIBRARY_PATH=$OMPBLAS OMP_WAIT_POLICY=passive" ;;
    noomp) echo "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2" ;;
    *) echo "lstm_threads.sh: unknown configuration $1" >&2; exit 1 ;;
    esac
}
out=$(mktemp)
one=$(mktemp)
tf=$(mktemp)
trap 'rm -f "$out" "$one" "$tf"' EXIT
NCPU=$(nproc)
busy() {
    a=$(head -1 /proc/stat)
    sleep 0.5
    b=$(head -1 /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk '{ idle = $5 + $6; tot = 0; for (i = 2; i <= NF; i++) tot += $i
        if (NR == 1) { i0 = idle; t0 = tot } else printf "%.0f", 100 * (1 - (idle - i0) / (tot - t0)) }'
}
for i in $(seq "$RUNS"); do
    for c in $CFGS; do
        e=$(envof "$c")
        w=0
        while b=$(busy) && [ "$b" -ge 10 ] && [ "$w" -lt 60 ]; do sleep 2; w=$((w + 2)); done
        s0=$(head -1 /proc/stat)
        # shellcheck disable=SC2086
        /usr/bin/time -f "%e %U %S" -o "$tf" env $e build/bench_lstm_train -t "$SECS" >"$one"
        s1=$(head -1 /proc/stat)
        o=$(printf '%s\n%s\n' "$s0" "$s1" | awk -v ncpu="$NCPU" -v tf="$tf" '{ idle = $5 + $6; tot = 0
            for (k = 2; k <= NF; k++) tot += $k
            if (NR == 1) { i0 = idle; t0 = tot } else b = (tot - t0) - (idle - i0) }
            END { getline l < tf; split(l, x, " "); v = 100 * (b / 100 - x[2] - x[3]) / (ncpu * x[1])
                  printf "%.0f", v < 0 ? 0 : v }')
        sed "s/^/run=$i cfg=$c other=$o /" "$one" | tee -a "$out" >&2
    done
done
awk -v cfgs="$CFGS" '
function med(k,    n, i, j, t, a) {
    n = cnt[k]
    for (i = 1; i <= n; i++) a[i] = val[k, i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
    delete kv
    for (f = 1; f <= NF; f++) { p = index($f, "="); if (p) kv[substr($f, 1, p - 1)] = substr($f, p + 1) }
    k = kv["cfg"] SUBSEP kv["B"]; c = ++cnt[k]; val[k, c] = kv["windows_s"] + 0
    desc[kv["cfg"]] = sprintf("blas=%s blas_threads=%s omp_threads=%s step_threads=%s", kv["blas"], kv["blas_threads"], kv["omp_threads"], kv["step_threads"])
    oth[kv["cfg"]] = oth[kv["cfg"]] " " kv["other"]
}
END {
    n = split(cfgs, cf, " ")
    printf "%-10s %12s %12s  %-62s %s\n", "config", "B=64 win/s", "B=16 win/s", "what the runs reported", "others %"
    for (i = 1; i <= n; i++)
        printf "%-10s %12.1f %12.1f  %-62s%s\n", cf[i], med(cf[i] SUBSEP 64), med(cf[i] SUBSEP 16), desc[cf[i]], oth[cf[i]]
}' "$out"
