#!/usr/bin/env bash
# cli_generate.sh GROOVYBEE - `groovybee generate` as a user meets it: small models trained
# here (NADE with meter inputs: the roll preset's, and one without its regularisation for
# --temperature 0; sigmoid; NADE without meter; paper), then the same seed giving the same bytes,
# every file read back by mido with the notes `groovybee notes` lists, --temperature 0 drawing
# nothing, --keep-primer keeping the primer as it was, a meter model hearing the primer's time
# signature, --key-fix leaving only in-key notes, two models making a two-track file with both
# programs, --wav and --png, and each bad input getting its error with nothing left behind. Ends
# with "N passed, N failed".
set -u
. "$(dirname "$0")/cli_lib.sh"

J=$(ls data/jsb/jsb_train_00*.mid)
# shellcheck disable=SC2086
"$G" train $J --seq 16 --stride 8 --hidden 16 --epochs 1 -q -o "$T/roll.safetensors" 2>"$T/err" ||
    bad "training a small roll model: $(tail -3 "$T/err")"
# shellcheck disable=SC2086
"$G" train $J --preset paper --hidden 16 --epochs 1 --max-windows 256 -q \
    -o "$T/paper.safetensors" 2>"$T/err" || bad "training a small paper model: $(tail -3 "$T/err")"
# --temperature 0 plays the notes above even odds: a model of the roll preset's kind trained a little
# further, without the preset's transposition, dropout and averaged weights (which leave a model of
# two epochs too unsure of every note to play one)
# shellcheck disable=SC2086
"$G" train $J --seq 16 --stride 8 --hidden 16 --epochs 2 --lr 0.03 --batch 8 --transpose 0 \
    --dropout-in 0 --dropout-out 0 --ema 0 -q -o "$T/argmax.safetensors" 2>"$T/err" ||
    bad "training a small roll model for --temperature 0: $(tail -3 "$T/err")"
# the roll preset's models above have a NADE head and meter inputs; these two lack one each
# shellcheck disable=SC2086
"$G" train $J --seq 16 --stride 8 --hidden 16 --epochs 1 --head sigmoid -q -o "$T/sig.safetensors" \
    2>"$T/err" || bad "training a small sigmoid model: $(tail -3 "$T/err")"
# shellcheck disable=SC2086
"$G" train $J --seq 16 --stride 8 --hidden 16 --epochs 1 --no-meter -q -o "$T/nometer.safetensors" \
    2>"$T/err" || bad "training a small NADE model without the meter: $(tail -3 "$T/err")"
# primers of one window (16 steps: 4 beats, chords on C D E F), in 4/4 and in 3/4: a seed has no
# window to choose
"$PY" -c '
import mido, sys
for name, num in (("p44", 4), ("p34", 3)):
    m = mido.MidiFile(ticks_per_beat=480); t = mido.MidiTrack(); m.tracks.append(t)
    t.append(mido.MetaMessage("time_signature", numerator=num, denominator=4, time=0))
    for chord in ((60, 64, 67), (62, 65, 69), (64, 67, 72), (65, 69, 74)):
        t += [mido.Message("note_on", note=p, velocity=80, time=0) for p in chord]
        t += [mido.Message("note_off", note=p, time=480 if i == 0 else 0) for i, p in enumerate(chord)]
    m.save("%s/%s.mid" % (sys.argv[1], name))' "$T" || bad "writing the primers with mido"

expect "generate --help" 0 "$G" generate --help
has "generate --help shows usage" "$T/out" "usage: groovybee generate"
has "generate --help shows defaults" "$T/out" "silence [0.1]"
has "generate --help lists --precision with its default" "$T/out" "[auto]; bf16 reads the weights in bf16"

# ---- the same seed, the same bytes; another seed, other music
expect "generate" 0 "$G" generate "$T/roll.safetensors" -o "$T/a.mid" --seed 7 --steps 64
has "the summary gives the seed" "$T/err" "seed 7"
has "the summary names the primer" "$T/err" "primed with data/jsb/jsb_train_00"
"$G" generate "$T/roll.safetensors" -o "$T/b.mid" --seed 7 --steps 64 -q
cmp -s "$T/a.mid" "$T/b.mid" && ok "same seed, same bytes" || bad "same seed gave other bytes"
"$G" generate "$T/roll.safetensors" -o "$T/c.mid" --seed 8 --steps 64 -q
cmp -s "$T/a.mid" "$T/c.mid" && bad "another seed gave the same bytes" || ok "another seed, other music"
expect "no seed: a random one, printed" 0 "$G" generate "$T/roll.safetensors" -o "$T/r.mid" --steps 8
seed=$(sed -n 's/.*seed \([0-9]*\),.*/\1/p' "$T/err")
"$G" generate "$T/roll.safetensors" -o "$T/r2.mid" --steps 8 --seed "$seed" -q
cmp -s "$T/r.mid" "$T/r2.mid" && ok "the printed seed repeats the run" || bad "seed $seed did not repeat"

# ---- length: 64 steps of sixteenths = 16 quarters = 15360 ticks at 960 per quarter
last_end=$("$G" notes "$T/a.mid" | awk -F, 'NR > 1 && $8 > m { m = $8 } END { print m + 0 }')
[ "$last_end" -le 15360 ] && [ "$last_end" -gt 0 ] && ok "64 steps last at most 16 beats" ||
    bad "64 steps end at tick $last_end"
"$G" generate "$T/roll.safetensors" -o "$T/k.mid" --seed 7 --steps 64 --keep-primer -q
kept_end=$("$G" notes "$T/k.mid" | awk -F, 'NR > 1 && $8 > m { m = $8 } END { print m + 0 }')
[ "$kept_end" -gt 15360 ] && ok "--keep-primer puts the primer before" ||
    bad "--keep-primer: last note ends at $kept_end"

# ---- mido reads every generated file with the notes groovybee lists
"$PY" tests/mido_check.py "$G" "$T/a.mid" "$T/k.mid" >"$T/mido" 2>&1 &&
    ok "mido reads generated files as groovybee does" || bad "mido check: $(tail -5 "$T/mido")"

# ---- the NADE head with meter inputs (the roll preset's): pitch by pitch, the meter counted on
"$PY" - "$T/roll.safetensors" "$T/argmax.safetensors" <<'EOF' >"$T/nm" 2>&1 && ok "the roll models above are NADEs with meter inputs" || bad "roll model: $(tail -2 "$T/nm")"
import json, struct, sys
for f in sys.argv[1:]:
    b = open(f, "rb").read()
    h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
    m = h.pop("__metadata__")
    assert m["head"] == "nade" and m["meter"] == "1" and m["merge"] == "1" and "nade.W" in h, (f, m)
    assert h["lstm1.weight_ih"]["shape"][1] == 148, (f, h["lstm1.weight_ih"])
EOF
expect "--temperature 0 (NADE + meter)" 0 "$G" generate "$T/argmax.safetensors" --primer "$T/p44.mid" \
    --temperature 0 --seed 1 --steps 64 -o "$T/t0.mid"
has "--temperature 0: primed with the one window" "$T/err" "primed with $T/p44.mid step 0"
[ "$("$G" notes "$T/t0.mid" | wc -l)" -gt 1 ] && ok "--temperature 0 plays notes" || bad "--temperature 0 wrote no note"
"$G" generate "$T/argmax.safetensors" --primer "$T/p44.mid" --temperature 0 --seed 2 --steps 64 -q -o "$T/t0b.mid"
cmp -s "$T/t0.mid" "$T/t0b.mid" && ok "--temperature 0 draws nothing: another seed, the same bytes" ||
    bad "--temperature 0 depends on the seed"
"$G" generate "$T/argmax.safetensors" --primer "$T/p44.mid" --temperature 0 --seed 1 --steps 64 \
    --keep-primer -q -o "$T/t0k.mid"
for f in p44 t0 t0k; do "$G" encode -o "$T/t0rolls" "$T/$f.mid" 2>"$T/err" || bad "encode $f: $(cat "$T/err")"; done
"$PY" - "$T/t0rolls" <<'EOF' >"$T/kc" 2>&1 && ok "--keep-primer: the primer's 16 steps, then the same music" || bad "--keep-primer at --temperature 0: $(tail -2 "$T/kc")"
import glob, sys
import numpy as np
p, g, k = (np.load(glob.glob("%s/%s.*.npy" % (sys.argv[1], n))[0]) for n in ("p44", "t0", "t0k"))
assert p.shape[0] == 16 and 0 < g.shape[0] <= 64 and k.shape[0] <= 80, (p.shape, g.shape, k.shape)
assert (k[:16] == p).all(), "the primer is not kept as it was"
assert (k[16:16 + len(g)] == g).all() and not k[16 + len(g):].any(), "the music after it differs"
EOF
# the same draws (one window, one seed) after a primer in 4/4 and one in 3/4
for p in p44 p34; do
    "$G" generate "$T/roll.safetensors" --primer "$T/$p.mid" --seed 1 --steps 64 -q -o "$T/m-$p.mid" \
        2>"$T/err" || bad "generate with the meter model: $(cat "$T/err")"
    "$G" generate "$T/nometer.safetensors" --primer "$T/$p.mid" --seed 1 --steps 64 -q \
        -o "$T/nm-$p.mid" 2>"$T/err" || bad "generate with the model without the meter: $(cat "$T/err")"
done
cmp -s <("$G" notes "$T/m-p44.mid") <("$G" notes "$T/m-p34.mid") && bad "a meter model ignores the primer's 3/4" ||
    ok "a meter model plays other notes after a primer in 3/4"
cmp -s <("$G" notes "$T/nm-p44.mid") <("$G" notes "$T/nm-p34.mid") &&
    ok "a model without the meter plays the same notes in 3/4" || bad "the time signature reached a --no-meter model"
"$G" generate "$T/roll.safetensors" -o "$T/hot.mid" --seed 5 --steps 64 --temperature 2 -q ||
    bad "NADE at --temperature 2"
"$PY" tests/mido_check.py "$G" "$T/t0.mid" "$T/t0k.mid" "$T/m-p34.mid" "$T/hot.mid" >"$T/mido" 2>&1 &&
    ok "mido reads the NADE model's files as groovybee does" || bad "mido check: $(tail -5 "$T/mido")"

# ---- the sigmoid head: each pitch drawn on its own
expect "generate with a sigmoid model" 0 "$G" generate "$T/sig.safetensors" -o "$T/s1.mid" --seed 7 --steps 64
"$G" generate "$T/sig.safetensors" -o "$T/s2.mid" --seed 7 --steps 64 -q
cmp -s "$T/s1.mid" "$T/s2.mid" && ok "sigmoid: same seed, same bytes" || bad "sigmoid: same seed gave other bytes"
"$G" generate "$T/sig.safetensors" -o "$T/s3.mid" --seed 8 --steps 64 -q
cmp -s "$T/s1.mid" "$T/s3.mid" && bad "sigmoid: another seed gave the same bytes" || ok "sigmoid: another seed, other music"
expect "sigmoid --temperature 0" 0 "$G" generate "$T/sig.safetensors" --primer "$T/p44.mid" \
    --temperature 0 --seed 1 --steps 64 -o "$T/s0.mid"
"$G" generate "$T/sig.safetensors" --primer "$T/p44.mid" --temperature 0 --seed 2 --steps 64 -q -o "$T/s0b.mid"
cmp -s "$T/s0.mid" "$T/s0b.mid" && ok "sigmoid --temperature 0: another seed, the same bytes" ||
    bad "sigmoid --temperature 0 depends on the seed"
"$PY" tests/mido_check.py "$G" "$T/s1.mid" "$T/s0.mid" >"$T/mido" 2>&1 &&
    ok "mido reads the sigmoid model's files as groovybee does" || bad "mido check: $(tail -5 "$T/mido")"

# ---- --key-fix: every note in the key the summary names
expect "generate --key-fix" 0 "$G" generate "$T/roll.safetensors" -o "$T/key.mid" --seed 3 \
    --steps 128 --key-fix --temperature 1.5
key=$(sed -n 's/.*key \([A-G][#b]\{0,1\} m[a-z]*\).*/\1/p' "$T/err")
"$G" notes "$T/key.mid" >"$T/key.csv"
"$PY" - "$key" "$T/key.csv" <<'EOF' >"$T/kc" 2>&1 && ok "--key-fix leaves only notes of $key" || bad "--key-fix: $(cat "$T/kc")"
import csv, sys
names = {"C": 0, "C#": 1, "D": 2, "Eb": 3, "E": 4, "F": 5, "F#": 6, "G": 7, "Ab": 8, "A": 9, "Bb": 10, "B": 11}
tonic, mode = sys.argv[1].split()
scale = [0, 2, 4, 5, 7, 9, 11] if mode == "major" else [0, 2, 3, 5, 7, 8, 10, 11]
pcs = {(int(r["pitch"]) - names[tonic]) % 12 for r in csv.DictReader(open(sys.argv[2]))}
off = pcs - set(scale)
assert pcs, "no notes"
assert not off, "off-key degrees %s" % sorted(off)
EOF
"$G" generate "$T/roll.safetensors" -o "$T/nokey.mid" --seed 3 --steps 128 --temperature 1.5 -q
[ "$(cut -d, -f5 <("$G" notes "$T/nokey.mid") | sort -u | wc -l)" -gt \
  "$(cut -d, -f5 "$T/key.csv" | sort -u | wc -l)" ] && ok "without --key-fix more pitches sound" ||
    bad "--key-fix changed nothing"

# ---- two models: two tracks, two programs; the paper model's velocities
expect "two models" 0 "$G" generate "$T/roll.safetensors" "$T/paper.safetensors" -o "$T/two.mid" \
    --seed 1 --steps 64 --program 40 --program 0 --threshold 0.01
"$G" info "$T/two.mid" --json >"$T/two.json"
"$PY" - "$T/two.json" <<'EOF' >"$T/tc" 2>&1 && ok "two parts on their tracks with programs 40 and 0" || bad "two models: $(cat "$T/tc")"
import json, sys
j = json.load(open(sys.argv[1]))
parts = j["parts"]
assert len(parts) == 2, parts
assert [p["program"] for p in parts] == [40, 0], parts
assert len({p["track"] for p in parts}) == 2 and len({p["channel"] for p in parts}) == 2, parts
EOF
expect "a paper model alone" 0 "$G" generate "$T/paper.safetensors" -o "$T/p.mid" --seed 1 --steps 200
"$PY" tests/mido_check.py "$G" "$T/two.mid" "$T/p.mid" >"$T/mido" 2>&1 &&
    ok "mido reads multi-model and paper output" || bad "mido check: $(tail -5 "$T/mido")"
expect "a primer file" 0 "$G" generate "$T/roll.safetensors" --primer data/jsb/jsb_valid_000.mid \
    -o "$T/pr.mid" --seed 1 --steps 16
has "the primer is the file given" "$T/err" "primed with data/jsb/jsb_valid_000.mid"

# ---- --wav and --png beside the MIDI file
expect "--wav and --png" 0 "$G" generate "$T/roll.safetensors" -o "$T/w.mid" --seed 7 --steps 64 \
    --wav "$T/w.wav" --png "$T/w.png"
"$PY" - "$T/w.wav" "$T/w.png" <<'EOF' >"$T/wc" 2>&1 && ok "the WAV and the PNG read back" || bad "media: $(cat "$T/wc")"
import struct, sys, wave
w = wave.open(sys.argv[1])
assert (w.getnchannels(), w.getsampwidth()) == (2, 2), (w.getnchannels(), w.getsampwidth())
a = w.readframes(w.getnframes())
assert max(abs(v) for v in struct.unpack("<%dh" % (len(a) // 2), a)) > 100, "silent"
png = open(sys.argv[2], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height = struct.unpack(">II", png[16:24])
assert width > 100 and height > 100, (width, height)
EOF

# ---- --precision: fp32 as before (the one-step path's bits are held by test_stream), bf16 on a
# CPU with bf16 instructions (auto picks it there)
expect "generate --precision fp32" 0 "$G" generate "$T/roll.safetensors" -o "$T/f1.mid" --seed 7 --steps 64 --precision fp32
has "the summary names the precision" "$T/err" "seed 7, fp32 products,"
"$G" generate "$T/roll.safetensors" -o "$T/f2.mid" --seed 7 --steps 64 -q --precision fp32
cmp -s "$T/f1.mid" "$T/f2.mid" && ok "fp32: same seed, same bytes" || bad "fp32: same seed gave other bytes"
expect "generate --precision bf16" 0 "$G" generate "$T/roll.safetensors" -o "$T/b1.mid" --seed 7 --steps 64 --precision bf16
if "$G" --version | grep -q 'bf16 by default'; then
    has "the summary says bf16" "$T/err" "seed 7, bf16 products,"
    cmp -s "$T/a.mid" "$T/b1.mid" && ok "auto is bf16 here: the same bytes" || bad "auto is not bf16 on a bf16 CPU"
    for m in roll paper sig; do
        "$G" generate "$T/$m.safetensors" -o "$T/b-$m.mid" --seed 3 --steps 64 -q --precision bf16 \
            --threshold 0.01 2>"$T/err" || bad "generate --precision bf16 with the $m model: $(cat "$T/err")"
    done
    [ "$("$G" notes "$T/b-roll.mid" | wc -l)" -gt 1 ] && ok "bf16 plays notes" || bad "bf16 wrote no note"
    "$PY" tests/mido_check.py "$G" "$T/b1.mid" "$T/b-roll.mid" "$T/b-paper.mid" "$T/b-sig.mid" >"$T/mido" 2>&1 &&
        ok "mido reads bf16 output as groovybee does" || bad "mido check (bf16): $(tail -5 "$T/mido")"
else
    has "bf16 without bf16 instructions says so" "$T/err" "this CPU has no bf16 instructions"
    cmp -s "$T/f1.mid" "$T/b1.mid" && ok "bf16 without bf16 instructions: fp32's bytes" || bad "bf16 fell back to other bytes"
    cmp -s "$T/a.mid" "$T/f1.mid" && ok "auto is fp32 here: the same bytes" || bad "auto is not fp32 without bf16"
fi
expect "generate --precision nonsense is a usage error" 2 "$G" generate "$T/roll.safetensors" --precision nonsense -o "$T/x.mid"
has "generate --precision nonsense names the option" "$T/err" "--precision wants fp32, bf16 or auto, not 'nonsense'"

# ---- bad input: an error naming what is wrong, and no output left
expect "no -o" 2 "$G" generate "$T/roll.safetensors"
expect "no model and none shipped" 2 env GROOVYBEE_DATA="$T/none" "$G" generate -o "$T/x.mid"
expect "a missing model" 1 "$G" generate "$T/nope.safetensors" -o "$T/x.mid"
has "a missing model is named" "$T/err" "nope.safetensors"
expect "a MIDI file as a model" 1 "$G" generate data/jsb/jsb_train_000.mid -o "$T/x.mid"
has "a file of another format is named" "$T/err" "jsb_train_000.mid"
"$PY" -c '
import mido, sys
m = mido.MidiFile(ticks_per_beat=480); t = mido.MidiTrack(); m.tracks.append(t)
t += [mido.Message("note_on", note=60, velocity=80, time=0), mido.Message("note_off", note=60, time=960)]
m.save(sys.argv[1])' "$T/short.mid"
expect "a primer shorter than the window" 1 "$G" generate "$T/roll.safetensors" --primer "$T/short.mid" -o "$T/x.mid"
has "the short primer error" "$T/err" "short.mid: no part has the 16 steps a primer needs"
expect "more --program than models" 2 "$G" generate "$T/roll.safetensors" --program 1 --program 2 -o "$T/x.mid"
expect "a bad --temperature" 2 "$G" generate "$T/roll.safetensors" --temperature -1 -o "$T/x.mid"
expect "a missing soundfont" 1 "$G" generate "$T/roll.safetensors" -o "$T/x.mid" --seed 1 \
    --steps 8 --wav "$T/x.wav" --soundfont "$T/none.sf2"
has "the missing soundfont is named" "$T/err" "none.sf2"
[ ! -e "$T/x.mid" ] && [ ! -e "$T/x.wav" ] && ok "failed runs leave no output" ||
    bad "a failed run left $(ls "$T"/x.* 2>/dev/null)"
[ -z "$(ls "$T" | grep '\.tmp-')" ] && ok "no temporary files left" || bad "temporary files left"

# ---- the first tune: no model given, the one groovybee ships (models/), from any folder
mkdir -p "$T/elsewhere"
expect "generate -o song.mid, no model" 0 env -C "$T/elsewhere" "$G" generate -o song.mid \
    --seed 2 --seconds 10
has "... the shipped model, found from the executable" "$T/err" "the shipped model"
has "... primed from its primers/ (its corpus path is not here)" "$T/err" "models/primers/"
$PY -c "import mido, sys; m = mido.MidiFile(sys.argv[1]); n = sum(1 for t in m.tracks for e in t if e.type == 'note_on' and e.velocity); assert n >= 5 and m.length > 5, (n, m.length)" "$T/elsewhere/song.mid" \
    && ok "... music: notes over 10 s (mido)" || bad "song.mid is not music"
expect "no model, none shipped where GROOVYBEE_DATA says" 2 env GROOVYBEE_DATA="$T/none" \
    "$G" generate -o "$T/x.mid"
has "... says what is missing" "$T/err" "models/default.safetensors"
cp "$T/roll.safetensors" "$T/elsewhere/moved.safetensors"
expect "a model away from its corpus, no primers beside it" 1 env -C "$T/elsewhere" "$G" \
    generate moved.safetensors -o x.mid
has "... names the corpus and the primers folder" "$T/err" "nor a primers/ folder beside it"
[ ! -e "$T/elsewhere/x.mid" ] && ok "... and writes nothing" || bad "wrote x.mid"

cli_end
