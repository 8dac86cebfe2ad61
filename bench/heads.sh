#!/bin/sh
# heads.sh - what the NADE head costs: training throughput of the roll preset with --head nade
# against --head sigmoid, on the JSB chorales (train split, one step a beat) and on
# data/classical (sixteenth steps), the same model otherwise, alternating fresh processes RUNS
# times (default 3), 2 epochs each with validation (train's windows/s counts training only).
# Prints per corpus the median windows/s of each head and their ratio sigmoid / nade: the
# factor an epoch costs more with the NADE head (issue 10's bound: 2). Needs build/groovybee.
# Environment: BENCH_RUNS (3), THREADS (0: every core), MAXW (max windows an epoch on
# data/classical, 3000).
set -eu
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
THREADS=${THREADS:-0}
MAXW=${MAXW:-3000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, threads $THREADS"
rate() { # rate LOG: the mean windows/s of the epochs in a train --log file
    sed 's/.*"windows_per_s":\([0-9.]*\).*/\1/' "$1" | awk '{s += $1} END {printf "%.1f", s / NR}'
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for corpus in jsb classical; do
    if [ $corpus = jsb ]; then
        set -- --steps-per-beat 1 --valid 'data/jsb/jsb_valid_*.mid' data/jsb/jsb_train_*.mid
    else
        set -- --max-windows "$MAXW" data/classical
    fi
    : > "$tmp/sigmoid" && : > "$tmp/nade"
    r=0
    while [ $r -lt "$RUNS" ]; do
        for head in sigmoid nade; do
            build/groovybee train "$@" --head $head --epochs 2 --patience 0 --threads "$THREADS" \
                -q -o "$tmp/m.safetensors" --log "$tmp/log" 2>/dev/null
            rate "$tmp/log" >> "$tmp/$head"
            echo >> "$tmp/$head"
        done
        r=$((r + 1))
    done
    s=$(median < "$tmp/sigmoid") n=$(median < "$tmp/nade")
    printf '%-10s sigmoid %8.1f windows/s   nade %8.1f windows/s   an epoch costs %.2fx with nade\n' \
        $corpus "$s" "$n" "$(echo "$s $n" | awk '{print $1 / $2}')"
done
