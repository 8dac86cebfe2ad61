#!/usr/bin/env bash
# cli_compare.sh GROOVYBEE - `groovybee compare` as a user meets it: every feature of real corpus
# files against an independent NumPy implementation (tests/metrics_check.py), a set against
# itself, a copied file caught whole, sets side by side, the baselines, degenerate files with
# their reasons, the JSON and PNG outputs, and errors that name the file and write nothing.
# Ends with "N passed, N failed".
set -u
. "$(dirname "$0")/cli_lib.sh"

# json NAME PYTHON_EXPRESSION: evaluates it with j = the JSON in $T/out; passes when true
json() {
    if $PY - "$T/out" "$2" 2>"$T/py.err" <<'PY'; then ok "$1"; else bad "$1: $(tail -1 "$T/py.err")"; fi
import json, math, sys
j = json.load(open(sys.argv[1]))
S = {s["label"]: s for s in j["sets"]}
assert eval(sys.argv[2]), sys.argv[2]
PY
}
mkdir -p "$T/ref" "$T/gen" "$T/out.d"
J=data/jsb
cp $J/jsb_train_000.mid $J/jsb_train_001.mid $J/jsb_train_002.mid $J/jsb_train_003.mid \
    $J/jsb_train_004.mid $J/jsb_train_005.mid "$T/ref/"

# ---- help and usage
expect "compare --help" 0 "$G" compare --help
has "help shows the usage" "$T/out" "usage: groovybee compare GENERATED..."
has "help shows the default grid" "$T/out" "grid of the copy search and of groove patterns [4]"
has "help names docs/metrics.md" "$T/out" "docs/metrics.md"
expect "the command list names compare" 0 "$G" --help
has "compare in the command list" "$T/out" "compare "
expect "no generated files" 2 "$G" compare --reference "$T/ref"
has "says what is missing" "$T/err" "no generated files"
expect "no reference" 2 "$G" compare $J/jsb_valid_000.mid
has "asks for --reference" "$T/err" "--reference CORPUS... is required"
expect "empty --beside" 2 "$G" compare $J/jsb_valid_000.mid --beside --reference "$T/ref"
expect "bad --segment" 2 "$G" compare $J/jsb_valid_000.mid --reference "$T/ref" --segment -1
expect "bad --steps-per-beat" 2 "$G" compare $J/jsb_valid_000.mid --reference "$T/ref" \
    --steps-per-beat 0

# ---- every feature against NumPy over mido, on chorales and piano/orchestral pieces
expect "features agree with tests/metrics_check.py" 0 $PY tests/metrics_check.py "$G" \
    $J/jsb_train_000.mid $J/jsb_valid_001.mid data/classical/mozart__KV331_1_1_tema.mid \
    data/classical/beethoven__Fuge_Opus137.mid data/classical/tchaikovsky__05MarchOfTheWoodenSoldiers.mid
[ -s "$T/out" ] && grep -q FAIL "$T/out" && sed 's/^/    /' "$T/out" | head -20

# ---- a set against itself: KL 0 and overlap 1 for every feature
expect "set against itself" 0 "$G" compare "$T/ref" --reference "$T/ref" --json "$T/self.json"
cp "$T/self.json" "$T/out"
json "KL 0 for every feature" \
    'all(f["kl"] == 0 for f in j["sets"][0]["features"].values())'
json "overlap 1 for every feature" \
    'all(abs(f["overlap"] - 1) < 1e-4 for f in j["sets"][0]["features"].values())'
json "inter-set = intra-set distances" \
    'all(f["intra"]["n"] == f["inter"]["n"] == 30 for f in j["sets"][0]["features"].values())'
json "its copies found whole" 'j["sets"][0]["copying"]["whole_pieces"] == 6'

# ---- a copied file is flagged whole, with where it comes from
cp $J/jsb_train_003.mid "$T/gen/copied.mid"
expect "a copy" 0 "$G" compare "$T/gen/copied.mid" --reference "$T/ref" --json -
json "the copy is whole" 'S["copied"]["copying"]["pieces"][0]["whole"] is True'
json "its longest stretch is its span" \
    'S["copied"]["copying"]["pieces"][0]["longest_steps"] == S["copied"]["copying"]["pieces"][0]["span_steps"] > 100'
json "found in the file it was copied from" \
    'S["copied"]["copying"]["pieces"][0]["reference"].endswith("jsb_train_003.mid")'
json "every 4-bar window found" \
    'S["copied"]["copying"]["windows_found"] == S["copied"]["copying"]["windows"] > 0'
json "a copy is another file: its distance 0 stays in" \
    'S["copied"]["features"]["note_count"]["inter"]["n"] == 6'
expect "the table says it" 0 "$G" compare "$T/gen/copied.mid" --reference "$T/ref"
has "table: 1 of 1 whole" "$T/out" "1 of 1 whole"
has "table: the feature rows" "$T/out" "groove consistency"
# a chorale the reference does not hold is not a copy
expect "not a copy" 0 "$G" compare $J/jsb_valid_000.mid --reference "$T/ref" --json -
json "not whole, windows not found" \
    'S["jsb_valid_000"]["copying"]["pieces"][0]["whole"] is False and S["jsb_valid_000"]["copying"]["share_found"] < 0.5'

# ---- sets side by side, baselines, segments
expect "beside and baselines" 0 "$G" compare $J/jsb_valid_000.mid $J/jsb_valid_001.mid \
    --beside "$T/gen/copied.mid" --reference $J --baselines --segment 16 --json "$T/b.json" \
    --png "$T/out.d/c.png"
cp "$T/b.json" "$T/out"
json "four columns" '[s["role"] for s in j["sets"]] == ["generated", "generated", "ceiling", "floor"]'
json "labels" '[s["label"] for s in j["sets"]][:2] == ["jsb_valid_000+1", "copied"]'
json "the baselines use the training split" \
    'S["ceiling"]["compared_with"] == "training split" and j["training_split"]["files"] > 250'
json "the ceiling is closer than the floor (pitch range, scale)" \
    'all(S["ceiling"]["features"][k]["overlap"] > S["floor"]["features"][k]["overlap"] for k in ("pitch_range", "scale_consistency", "pitch_class_entropy"))'
json "segments of 16 beats" \
    'j["segment_beats"] == 16 and S["copied"]["n_pieces"] >= 3'
if [ -s "$T/out.d/c.png" ] && [ "$(head -c 4 "$T/out.d/c.png" | tail -c 3)" = PNG ]; then
    ok "the PNG is written"; else bad "the PNG is written"; fi

# ---- degenerate files: one note, no notes; reasons instead of NaN
$PY - "$T/gen" <<'PY'
import sys, mido
def save(name, notes):
    m = mido.MidiFile(ticks_per_beat=480)
    t = mido.MidiTrack(); m.tracks.append(t)
    now = 0
    for start, end, pitch in notes:
        t.append(mido.Message('note_on', note=pitch, velocity=80, time=start - now))
        t.append(mido.Message('note_off', note=pitch, velocity=0, time=end - start))
        now = end
    m.save(f"{sys.argv[1]}/{name}.mid")
save("one", [(0, 480, 60)])
save("empty", [])
PY
expect "one note and no notes" 0 "$G" compare "$T/gen/one.mid" "$T/gen/empty.mid" \
    --reference "$T/ref" --json -
json "no NaN anywhere" '"NaN" not in open(sys.argv[1]).read()'
json "pieces: note counts 1 and 0" \
    '[p["features"]["note_count"] for p in S["one+1"]["pieces"]] == [1, 0]'
json "the empty piece has no pitch range, said why" \
    'S["one+1"]["features"]["pitch_range"]["undefined"] == {"the piece has no notes": 1}'
json "one note has no interval, said why" \
    'S["one+1"]["features"]["pitch_interval"]["undefined"] == {"an interval needs two notes": 1, "the piece has no notes": 1}'
json "IOI undefined for both: no KL, and why" \
    'S["one+1"]["features"]["inter_onset_interval"]["kl"] is None and "no generated piece" in S["one+1"]["features"]["inter_onset_interval"]["why"]'
expect "the table notes the reasons" 0 "$G" compare "$T/gen/one.mid" "$T/gen/empty.mid" \
    --reference "$T/ref"
has "table: why" "$T/out" "pitch range undefined for 1 of 2 pieces: the piece has no notes"
expect "a reference of one file" 0 "$G" compare "$T/gen/one.mid" --reference $J/jsb_train_000.mid \
    --json -
json "no intra-set distances, said why" \
    'all(f["kl"] is None and "fewer than two" in f["why"] for f in S["one"]["features"].values())'

# ---- errors: named, nothing written
printf 'MThd garbage' >"$T/gen/broken.mid"
expect "a broken generated file is skipped" 0 "$G" compare "$T/gen/broken.mid" "$T/gen/one.mid" \
    --reference "$T/ref" --json "$T/out.d/ok.json"
has "the warning names it" "$T/err" "broken.mid"
has "and says skipped" "$T/err" "(skipped)"
cp "$T/out.d/ok.json" "$T/out"
json "counted as skipped" 'j["sets"][0]["skipped"] == 1 and j["sets"][0]["n_pieces"] == 1'
rm -f "$T/out.d/ok.json"
expect "only broken files" 1 "$G" compare "$T/gen/broken.mid" --reference "$T/ref" \
    --json "$T/out.d/x.json" --png "$T/out.d/x.png"
has "says no readable file" "$T/err" "no readable MIDI file"
expect "a missing reference" 1 "$G" compare "$T/gen/one.mid" --reference "$T/nowhere" \
    --json "$T/out.d/x.json"
has "names the path" "$T/err" "nowhere"
expect "an unwritable JSON path" 1 "$G" compare "$T/gen/one.mid" --reference "$T/ref" \
    --json "$T/no/dir/x.json"
has "names it" "$T/err" "no/dir/x.json"
expect "--baselines on one file" 1 "$G" compare "$T/gen/one.mid" --reference \
    $J/jsb_train_000.mid --baselines --json "$T/out.d/x.json"
has "says it needs two" "$T/err" "two files or more"
left=$(ls -A "$T/out.d" | grep -v '^c.png$'; ls "$T" | grep -F .tmp-)
if [ -z "$left" ]; then ok "failed runs write nothing"; else bad "failed runs left $left"; fi

cli_end
