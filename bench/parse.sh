#!/bin/sh
# parse.sh [PATH...] - MIDI parse throughput, libgroovybee against Python's mido, side by side.
# Builds build/bench_parse (needs build/libgroovybee.a: run `make` first, or `make bench`), then
# runs bench_parse and bench/parse_mido.py alternately, each in a fresh process, RUNS times each
# (default 3) over PATH... (default data/: data/jsb and data/classical), and prints the median
# MB/s and files/s of each side and the ratio groovybee/mido for both groovybee levels (events,
# notes) against mido's parse. Medians of alternated runs, because the host does not always give
# a full core. The table goes to stdout, ending with one key=value summary line; the raw lines of
# every run go to stderr. Environment: BENCH_RUNS (default 3), BENCH_SECONDS (least timed seconds
# per bench_parse level, default 2), CC (default cc), PYTHON (default /usr/bin/python3, Debian's
# python3 with python3-mido; the python3 on PATH may lack mido).
set -eu
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-2}
CC=${CC:-cc}
PYTHON=${PYTHON:-/usr/bin/python3}
[ $# -gt 0 ] || set -- data

[ -f build/libgroovybee.a ] || { echo "parse.sh: build/libgroovybee.a is missing; run make" >&2; exit 1; }
"$PYTHON" -c 'import mido' 2>/dev/null ||
    { echo "parse.sh: $PYTHON cannot import mido (scripts/deps.sh test installs it)" >&2; exit 1; }
$CC -O2 -std=c11 -Iinclude bench/parse.c build/libgroovybee.a -lm -o build/bench_parse

out=$(mktemp)
one=$(mktemp)
trap 'rm -f "$out" "$one"' EXIT
trap 'exit 130' INT TERM
echo "parse.sh: $RUNS alternated runs of each side over $*" >&2
# Runs one side; its lines, tagged, go to stderr and to $out. Stops at the first failure.
side() {
    tag=$1
    shift
    "$@" >"$one" || { echo "parse.sh: '$*' failed" >&2; exit 1; }
    sed "s/^/run=$i side=$tag /" "$one" | tee -a "$out" >&2
}
i=1
while [ "$i" -le "$RUNS" ]; do
    side c build/bench_parse -t "$SECS" "$@"
    side py "$PYTHON" bench/parse_mido.py "$@"
    i=$((i + 1))
done

# Medians per level, then the table. Each line is key=value pairs.
awk '
function med(level, key,    n, i, j, t, a) {
    n = cnt[level]
    for (i = 1; i <= n; i++) a[i] = val[level, key, i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
    delete kv
    for (f = 1; f <= NF; f++) { split($f, p, "="); kv[p[1]] = p[2] }
    lv = kv["level"]; c = ++cnt[lv]
    val[lv, "mb_s", c] = kv["mb_s"]; val[lv, "files_s", c] = kv["files_s"]
    bytes[lv] = kv["bytes"]; files[lv] = kv["files"]; errors[lv] = kv["errors"]; items[lv] = kv["items"]
}
END {
    if (!cnt["mido"] || !cnt["events"] || !cnt["notes"]) { print "parse.sh: missing results" > "/dev/stderr"; exit 1 }
    pm = med("mido", "mb_s"); pf = med("mido", "files_s")
    printf "corpus: %d files, %d bytes (%.2f MB); medians of %d runs each\n", files["mido"], bytes["mido"], bytes["mido"] / 1e6, cnt["mido"]
    printf "%-22s %10s %12s %10s %8s %10s\n", "level", "MB/s", "files/s", "x mido", "errors", "items"
    printf "%-22s %10.3f %12.1f %10s %8d %10d\n", "mido MidiFile", pm, pf, "1", errors["mido"], items["mido"]
    sum = sprintf("mido_mb_s=%.3f mido_files_s=%.1f", pm, pf)
    n = split("events notes", lvls, " ")
    for (k = 1; k <= n; k++) {
        lv = lvls[k]; m = med(lv, "mb_s"); f = med(lv, "files_s")
        printf "%-22s %10.2f %12.1f %10.1f %8d %10d\n", "groovybee " lv, m, f, m / pm, errors[lv], items[lv]
        sum = sum sprintf(" %s_mb_s=%.2f %s_files_s=%.1f %s_ratio=%.1f", lv, m, lv, f, lv, m / pm)
    }
    print "summary: " sum
}' "$out"
