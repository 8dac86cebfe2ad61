#!/usr/bin/env bash
# cli_report.sh GROOVYBEE - `groovybee report`: the page and every file it refers to, written
# beside it; no network address in it; then a real browser (Debian's chromium, headless) loads
# it from file:// with no console message, every sound with its WAV's duration and every
# picture decoded (the page's #selftest). Bad input: an error naming the file, no page.
# Skips the browser with a reason where chromium is missing (scripts/deps.sh test installs it).
# Ends with "N passed, N failed".
set -u
. "$(dirname "$0")/cli_lib.sh"

mkdir -p "$T/gen"
for s in 1 2 3; do
    "$G" generate -o "$T/gen/p$s.mid" --seed $s --seconds 6 -q 2>/dev/null
done
expect "report --help" 0 "$G" report --help
has "... says how it is checked" "$T/out" "#selftest"
expect "report without -o" 2 "$G" report "$T/gen" --reference data/jsb/jsb_train_00*
expect "report without --reference" 2 "$G" report "$T/gen" -o "$T/r"
expect "report" 0 "$G" report "$T/gen" --reference data/jsb/jsb_train_00* -o "$T/r" \
    --model models/default.safetensors --log models/default.jsonl
has "... says where the page is" "$T/err" "report of 3 pieces: $T/r/index.html"
P=$T/r/index.html
[ -s "$P" ] && ok "index.html written" || bad "no $P"
grep -qiE '(https?|ftp)://' "$P" && bad "the page names a network address" || ok "no network address in the page"
missing=""
for ref in $(grep -oE '(src|href)="[^"]*"' "$P" | sed 's/^[a-z]*="//; s/"$//'); do
    [ -f "$T/r/$ref" ] || missing="$missing $ref"
done
[ -z "$missing" ] && ok "every file the page refers to lies beside it" || bad "missing:$missing"
[ "$(grep -c '<audio' "$P")" = 3 ] && ok "an audio player a piece" || bad "$(grep -c '<audio' "$P") players"
has "the comparison table" "$P" "pitch class histogram"
has "the model's configuration" "$P" "LSTM 1 x 256, NADE head"
has "a phone's viewport" "$P" 'name="viewport"'

if command -v chromium >/dev/null 2>&1; then
    # --virtual-time-budget lets the page's loads and its self-test finish before the dump
    chromium --headless=new --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
        --virtual-time-budget=20000 --dump-dom "file://$P#selftest" >"$T/dom" 2>"$T/console"
    sed -n '/<pre id="selftest">/,/^end/p' "$T/dom" | sed 's/<pre id="selftest">//' >"$T/self"
    grep -q '^end' "$T/self" && ok "chromium ran the page's self-test" \
        || bad "no self-test output: $(tail -c 300 "$T/dom")"
    if grep -q 'CONSOLE' "$T/console"; then bad "console messages: $(grep CONSOLE "$T/console" | head -3)"
    else ok "no console message"; fi
    if $PY - "$T/self" "$T/r" >"$T/py" 2>&1 <<'EOF'
import math, sys, wave
lines = [l.split() for l in open(sys.argv[1]) if l.startswith(("audio", "img"))]
audio = [l for l in lines if l[0] == "audio"]
img = [l for l in lines if l[0] == "img"]
assert len(audio) == 3 and len(img) == 5, lines  # 3 rolls, the histograms, the loss curve
for _, src, d in audio:
    w = wave.open(sys.argv[2] + "/" + src)
    want = w.getnframes() / w.getframerate()
    assert math.isfinite(float(d)) and abs(float(d) - want) < 0.05, (src, d, want)
for _, src, size in img:
    wdt, hgt = map(int, size.split("x"))
    assert wdt > 0 and hgt > 0, (src, size)
print("3 sounds with their WAVs' durations, 5 pictures decoded")
EOF
    then ok "in the browser: $(cat "$T/py")"; else bad "in the browser: $(tail -3 "$T/py")"; fi
else
    echo "skip: chromium is not installed (scripts/deps.sh test installs it): the page is not loaded in a browser"
fi

# bad input: a generated file that is not MIDI
cp README.md "$T/gen/bad.mid"
expect "a broken generated file" 1 "$G" report "$T/gen" --reference data/jsb/jsb_train_00* -o "$T/b"
has "... named" "$T/err" "bad.mid"
[ ! -e "$T/b/index.html" ] && ok "... and no page" || bad "a page was written"

cli_end
