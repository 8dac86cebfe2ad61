#!/bin/sh
# memory.sh - peak memory (maximum RSS, /usr/bin/time) of `groovybee train` against the size of
# its corpus: the bundled data/ (450 files) linked K times into a scratch folder, for K in
# COPIES (default "1 4 22": 450, 1,800 and 9,900 files), each trained one epoch of 64 windows
# with the paper preset (per-tick steps: the report's 32 GB problem) and the roll preset. Memory
# must grow with the notes, not with steps x 128. Needs build/groovybee (`make`).
set -eu
cd "$(dirname "$0")/.."
COPIES=${COPIES:-"1 4 22"}
[ -x /usr/bin/time ] || { echo "memory.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mb=$(du -sLm data | cut -f1)
printf '%-8s %8s %10s %12s %12s\n' copies files "MIDI MB" "paper RSS" "roll RSS"
for k in $COPIES; do
    rm -rf "$d/c"
    mkdir -p "$d/c"
    i=1
    while [ "$i" -le "$k" ]; do ln -s "$PWD/data" "$d/c/$i"; i=$((i + 1)); done
    line="$k $((450 * k)) $((mb * k))"
    for p in paper roll; do
        /usr/bin/time -f %M -o "$d/rss" build/groovybee train "$d/c" --preset $p --epochs 1 \
            --max-windows 64 -q -o "$d/m.safetensors" >/dev/null 2>&1
        line="$line $(($(cat "$d/rss") / 1024))"
    done
    echo "$line" | awk '{ printf "%-8s %8s %10s %9s MB %9s MB\n", $1, $2, $3, $4, $5 }'
done
