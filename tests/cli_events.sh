#!/usr/bin/env bash
# cli_events.sh GROOVYBEE - performance events on the command line: encode --events (per part
# and --ensemble) and decode --events, their help and usage errors, token files NumPy reads,
# bad token files (values out of range, wrong dtype or shape, an empty stream, not .npy) that
# fail naming the file and leave no output, Performance RNN's decoding rules (notes never turned
# off, stray NOTE_OFFs) checked with mido, and the issue's target on the bundled corpus: encode
# then decode gives back >= 99% of the notes, checked independently by tests/events_check.py.
# Then the events model: train --preset events (and --ensemble), eval's NLL per event against
# the same network in PyTorch, generate's options, lengths and seeds checked with mido.
# Ends with "N passed, N failed".
set -u
. "$(dirname "$0")/cli_lib.sh"

# py NAME PYTHON ARGS...: the Python assertions hold (numpy as np, mido, sys imported)
py() {
    local name=$1 code=$2
    shift 2
    if $PY -c "import sys, numpy as np, mido
$code" "$@" >"$T/py" 2>&1; then ok "$name"; else bad "$name: $(tail -3 "$T/py")"; fi
}

# ---- help and usage
expect "encode --help" 0 "$G" encode --help
has "encode --help lists --events" "$T/out" "--events"
has "encode --help lists --ensemble with its default" "$T/out" "[off: one"
has "encode --help names the vocabulary" "$T/out" "vocabulary 388"
expect "decode --help" 0 "$G" decode --help
has "decode --help lists --events" "$T/out" "--events"
has "decode --help gives the 5 s rule" "$T/out" "ends after 5 s"
has "decode --help gives the tempo's default" "$T/out" "[120]"
J=data/jsb/jsb_train_000.mid
expect "--ensemble without --events" 2 "$G" encode --ensemble "$J" -o "$T/x"
has "--ensemble says what it needs" "$T/err" "--ensemble needs --events"
expect "--events with a roll option" 2 "$G" encode --events --steps-per-beat 4 "$J" -o "$T/x"
expect "decode --events with --threshold" 2 "$G" decode --events --threshold 3 x.npy -o "$T/x.mid"
expect "decode --events with a tempo MIDI cannot hold" 2 "$G" decode --events --bpm 2 x.npy -o "$T/x.mid"
[ ! -e "$T/x" ] && ok "usage errors write nothing" || bad "usage errors wrote $T/x"

# ---- encode: a stream per part
P=jsb_train_000.p00.t00.c00.prog000.acoustic-grand-piano.events.npy
expect "encode --events" 0 "$G" encode --events "$J" -o "$T/ev"
has "encode --events reports its count" "$T/err" "encoded 1 file (1 part) into $T/ev as event streams"
[ -f "$T/ev/$P" ] && ok "a stream named by part, track, channel, program, instrument" || bad "stream name: $(ls "$T/ev")"
py "NumPy loads the stream: uint16, shape (n,), the 388-token vocabulary" '
a = np.load(sys.argv[1])
assert a.dtype == np.uint16 and a.ndim == 1 and a.shape[0] > 600, (a.dtype, a.shape)
assert a.max() < 388, a.max()
on, off = (a < 128).sum(), ((a >= 128) & (a < 256)).sum()
assert on == off == 301, (on, off)   # 301 notes, each turned on and off
assert a[0] >= 356 and a[1] < 128, a[:3]   # VELOCITY, then the first NOTE_ON at 0 s
' "$T/ev/$P"

# ---- encode: a stream per file
C=data/classical/beethoven__Concerto_No3.mid
expect "encode --events --ensemble" 0 "$G" encode --events --ensemble "$C" "$J" -o "$T/ens"
has "--ensemble reports its count" "$T/err" "encoded 2 files (14 parts) into $T/ens as ensemble streams"
E=$T/ens/beethoven__Concerto_No3.ensemble.events.npy
py "an ensemble stream: PROGRAM tokens, every instrument of the file" '
a = np.load(sys.argv[1])
assert a.dtype == np.uint16 and a.ndim == 1 and a.max() < 517
progs = set(int(x) - 388 for x in a if x >= 388)
assert progs == {0, 40, 41, 43, 47, 68, 69, 70, 71, 73}, progs
first = next(x for x in a if x < 256 or x >= 388)
assert first >= 388, first   # an instrument before its first note
' "$E"

# ---- decode: back to MIDI
expect "decode --events" 0 "$G" decode --events "$T/ev/$P" -o "$T/back.mid"
expect "info of the decoded file" 0 "$G" info "$T/back.mid"
has "the default tempo is 120 bpm" "$T/out" "120.00 bpm"
has "every note is back" "$T/out" "301 C3-F6"
expect "decode --events --bpm 90" 0 "$G" decode --events --bpm 90 "$T/ev/$P" -o "$T/b90.mid"
expect "info at 90 bpm" 0 "$G" info "$T/b90.mid"
has "the tempo asked for is written" "$T/out" "90.00 bpm"
has "times stay in seconds" "$T/out" "77.400 s"
expect "decode an ensemble stream" 0 "$G" decode --events "$E" -o "$T/ens.mid"
expect "info --json of the ensemble" 0 "$G" info --json "$T/ens.mid"
py "a part per instrument, on channels 1-9 and 11-16 (10 is drums)" '
import json
d = json.load(open(sys.argv[1]))
progs = [p["program"] for p in d["parts"]]
assert sorted(set(progs)) == [0, 40, 41, 43, 47, 68, 69, 70, 71, 73], progs
assert all(p["channel"] != 9 for p in d["parts"])
assert sum(p["notes"] for p in d["parts"]) >= 0.99 * 12338
' "$T/out"
R=beethoven__Cellosonata_No3_1.p00.t01.c00.prog042.cello.events.npy
expect "encode the cello sonata per part" 0 "$G" encode --events data/classical/beethoven__Cellosonata_No3_1.mid -o "$T/cello"
expect "decode two streams" 0 "$G" decode --events "$T/cello/$R" "$T/ev/$P" -o "$T/two.mid"
expect "info --json of two streams" 0 "$G" info --json "$T/two.mid"
py "each stream is a part, its program read off its name" '
import json
p = json.load(open(sys.argv[1]))["parts"]
assert [x["program"] for x in p] == [42, 0] and [x["channel"] for x in p] == [0, 1], p
assert p[0]["name"].startswith("beethoven__Cellosonata_No3_1.p00"), p[0]["name"]
' "$T/out"
expect "--program overrides the name" 0 "$G" decode --events --program 71 "$T/cello/$R" -o "$T/clar.mid"
expect "info of it" 0 "$G" info "$T/clar.mid"
has "program 71" "$T/out" "71 Clarinet"
if $PY tests/mido_check.py "$G" "$T/back.mid" "$T/ens.mid" "$T/two.mid" >"$T/mido" 2>&1; then
    ok "mido reads every decoded file with the same notes"; else bad "mido check of decoded files"; tail -3 "$T/mido"; fi

# ---- Performance RNN's rules, checked with mido
# tok NAME VALUES...: a token file of those values
tok() {
    local f=$1
    shift
    $PY -c 'import sys, numpy as np; np.save(sys.argv[1], np.array([int(x) for x in sys.argv[2:]], dtype=np.uint16))' "$T/$f" "$@"
}
tok open.npy 60 355 355 355 355 355 355 355 64 305   # ON 60, 7 s, ON 64, 0.5 s: never turned off
expect "a stream that never turns notes off decodes" 0 "$G" decode --events "$T/open.npy" -o "$T/open.mid"
has "it says what the rule did" "$T/err" "2 notes never turned off ended after 5 s or at the end"
py "a note never turned off lasts 5 s, or to the end of the stream" '
m = mido.MidiFile(sys.argv[1])
t, on, notes = 0, {}, {}
for msg in mido.merge_tracks(m.tracks):
    t += mido.tick2second(msg.time, m.ticks_per_beat, 500000)
    if msg.type == "note_on" and msg.velocity:
        on[msg.note] = t
    elif msg.type in ("note_off", "note_on"):
        notes[msg.note] = (on[msg.note], t)
assert abs(notes[60][0]) < 1e-6 and abs(notes[60][1] - 5) < 1e-6, notes
assert abs(notes[64][0] - 7) < 1e-6 and abs(notes[64][1] - 7.5) < 1e-6, notes
' "$T/open.mid"
tok stray.npy 188 60 300 188 188          # OFF 60 (nothing sounds), ON 60, 0.45 s, OFF 60, OFF 60
expect "stray NOTE_OFFs are ignored" 0 "$G" decode --events "$T/stray.npy" -o "$T/stray.mid"
has "and counted" "$T/err" "2 NOTE_OFF without a sounding note ignored"
expect "info of it" 0 "$G" info "$T/stray.mid"
has "one note of 0.45 s" "$T/out" "1 C4-C4         0.000     0.450"
tok unison.npy 60 305 60 305 188 305 188   # ON 60, 0.5 s, ON 60, 0.5 s, OFF 60, 0.5 s, OFF 60
expect "decode --events --restrike" 0 "$G" decode --events --restrike "$T/unison.npy" -o "$T/re.mid"
expect "and without it" 0 "$G" decode --events "$T/unison.npy" -o "$T/st.mid"
expect "--restrike without --events" 2 "$G" decode --restrike "$T/unison.npy" -o "$T/x.mid"
py "restrike: the second ON ends the first (0-0.5, 0.5-1); stacked: two voices (0-1, 0.5-1.5)" '
def notes(f):
    m = mido.MidiFile(f)
    t, on, out = 0, {}, []
    for msg in mido.merge_tracks(m.tracks):
        t += mido.tick2second(msg.time, m.ticks_per_beat, 500000)
        if msg.type == "note_on" and msg.velocity:
            on[(msg.channel, msg.note)] = t
        elif msg.type in ("note_off", "note_on"):
            out.append((round(on.pop((msg.channel, msg.note)), 6), round(t, 6)))
    return sorted(out)
assert notes(sys.argv[1]) == [(0, 0.5), (0.5, 1.0)], notes(sys.argv[1])
assert notes(sys.argv[2]) == [(0, 1.0), (0.5, 1.5)], notes(sys.argv[2])
' "$T/re.mid" "$T/st.mid"
tok silent.npy 300 301
expect "a stream without notes still makes a file" 0 "$G" decode --events "$T/silent.npy" -o "$T/silent.mid"
has "and says it has no notes" "$T/err" "silent.npy: no notes in the stream"

# ---- bad token files: an error naming the file, exit 1, no output
# refused NAME FILE MESSAGE
refused() {
    rm -f "$T/out.mid"
    expect "$1 is refused" 1 "$G" decode --events "$2" -o "$T/out.mid"
    has "$1: the error names the file" "$T/err" "groovybee: $2: "
    has "$1: and says why" "$T/err" "$3"
    [ ! -e "$T/out.mid" ] && ok "$1: no output" || bad "$1 left $T/out.mid"
}
tok range.npy 60 300 600 188
refused "a value out of range" "$T/range.npy" "at byte 132: token 2 is 600, outside the vocabulary (0..516)"
$PY -c 'import sys, numpy as np; np.save(sys.argv[1], np.array([60, 300, 188]))' "$T/int64.npy"
refused "int64 tokens" "$T/int64.npy" "descr '<i8' is not uint16"
$PY -c 'import sys, numpy as np; np.save(sys.argv[1], np.array([60, 300, 188], dtype=np.float32))' "$T/f32.npy"
refused "float tokens" "$T/f32.npy" "descr '<f4' is not uint16"
$PY -c 'import sys, numpy as np; np.save(sys.argv[1], np.zeros((2, 3), dtype=np.uint16))' "$T/2d.npy"
refused "a 2-d array" "$T/2d.npy" "shape is not (N,)"
tok empty.npy
refused "an empty stream" "$T/empty.npy" "empty token stream"
"$G" encode "$J" -o "$T/roll" 2>/dev/null
refused "a piano roll" "$T/roll/jsb_train_000.p00.t00.c00.prog000.acoustic-grand-piano.npy" "descr '|u1' is not uint16"
printf 'not npy' >"$T/text.npy"
refused "not a .npy file" "$T/text.npy" "at byte 0: not a .npy file"
head -c 131 "$T/ev/$P" >"$T/cut.npy"
refused "a cut file" "$T/cut.npy" "of uint16 needs"
refused "missing" "$T/nope.npy" "cannot open"
rm -f "$T/out.mid"
expect "one bad stream among good ones fails the whole file" 1 "$G" decode --events "$T/ev/$P" "$T/range.npy" -o "$T/out.mid"
[ ! -e "$T/out.mid" ] && ok "and writes nothing" || bad "a failed decode left $T/out.mid"
tok many.npy 388 60 389 60 390 60 391 60 392 60 393 60 394 60 395 60 396 60 397 60 398 60 399 60 400 60 401 60 402 60 403 60 256
refused "16 melodic instruments" "$T/many.npy" "16 melodic instruments: MIDI has 15 melodic channels"
head -c 300 "$C" >"$T/cut.mid"
expect "encode --events skips a broken MIDI file" 1 "$G" encode --events "$J" "$T/cut.mid" -o "$T/mixed"
has "it is named and counted" "$T/err" "encoded 1 file (1 part) into $T/mixed as event streams; skipped 1 file"

# ---- the events model: train, eval against PyTorch, generate
M=$T/evm.safetensors
TINY="--hidden 32 --layers 1 --seq 32 --stride 16 --batch 8 --epochs 2 --max-windows 40 --threads 1 -q"
expect "train --preset events" 0 "$G" train --preset events $TINY data/jsb/jsb_train_00[0-4].mid -o "$M"
has "train names the representation" "$T/err" "performance events, 388 tokens"
has "train says the augmentation" "$T/err" "transposed by up to 3, time stretched by up to 5%"
expect "--stretch without events" 2 "$G" train --stretch 0.1 "$J" -o "$T/x.safetensors"
has "it says what it needs" "$T/err" "--stretch is for performance events"
expect "events with a roll option" 2 "$G" train --preset events --onsets "$J" -o "$T/x.safetensors"
has "it names the roll options" "$T/err" "do not apply"
expect "--stretch cannot change on --resume" 2 "$G" train --resume --stretch 0.1 "$J" -o "$M"
expect "--resume goes on" 0 "$G" train --resume --epochs 3 -q data/jsb/jsb_train_00[0-4].mid -o "$M"
py "the checkpoint: events performance, vocab 388, a softmax head, stretch 0.05" '
import json, struct
b = open(sys.argv[1], "rb").read()
h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
m = h["__metadata__"]
assert (m["events"], m["vocab"], m["head"], m["loss"], m["stretch"], m["epochs"] != "0") == \
    ("performance", "388", "softmax", "ce", "0.0500000007", True), m
assert h["lstm1.weight_ih"]["shape"] == [128, 388] and h["fc.weight"]["shape"] == [388, 32]
' "$M"
expect "eval of an event model" 0 "$G" eval "$M" "$J"
has "eval gives the NLL per event and perplexity" "$T/out" "nats per event, perplexity"
has "eval gives the token classes" "$T/out" "TIME_SHIFT"
expect "eval --json" 0 "$G" eval --json "$M" "$J"
cp "$T/out" "$T/eval.json"
"$G" encode --events "$J" -o "$T/evj" 2>/dev/null
py "eval's NLL per event is PyTorch's (LSTMCell, Linear, cross-entropy) on the same stream" '
import json, struct, torch
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
W = {k: torch.from_numpy(np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
     dtype=np.float32).reshape(v["shape"]).copy()) for k, v in h.items() if k != "__metadata__"}
cell = torch.nn.LSTMCell(388, 32); fc = torch.nn.Linear(32, 388)
cell.load_state_dict({k[6:]: v for k, v in W.items() if k.startswith("lstm1.")})
fc.load_state_dict({k[3:]: v for k, v in W.items() if k.startswith("fc.")})
tok = torch.from_numpy(np.load(sys.argv[2]).astype(np.int64))
x = torch.nn.functional.one_hot(tok, 388).double()
cell, fc = cell.double(), fc.double()
hh = cc = torch.zeros(1, 32, dtype=torch.float64)
logits = []
with torch.no_grad():
    for t in range(len(tok) - 1):
        hh, cc = cell(x[t:t + 1], (hh, cc))
        logits.append(fc(hh))
    nll = torch.nn.functional.cross_entropy(torch.cat(logits), tok[1:], reduction="none")
r = json.load(open(sys.argv[3]))
assert r["loss_kind"] == "ce" and r["head"] == "softmax", r
assert r["steps"] == len(tok) - 1, (r["steps"], len(tok))
assert abs(r["nll"] - nll.mean().item()) < 1e-4, (r["nll"], nll.mean().item())
assert abs(r["perplexity"] - np.exp(r["nll"])) < 1e-6 * r["perplexity"]
c = r["classes"]
assert sum(v["events"] for v in c.values()) == r["steps"]
on = (tok[1:] < 128)
assert c["NOTE_ON"]["events"] == int(on.sum()), c
assert abs(c["NOTE_ON"]["nll"] - nll[on].mean().item()) < 1e-4, (c["NOTE_ON"], nll[on].mean())
assert c["PROGRAM"]["events"] == 0 and c["PROGRAM"]["nll"] is None
' "$M" "$T/evj/$P" "$T/eval.json"
expect "generate --seconds 5" 0 "$G" generate "$M" -o "$T/g1.mid" --seconds 5 --seed 3
has "generate names the primer event" "$T/err" "event "
expect "the same seed again" 0 "$G" generate "$M" -o "$T/g2.mid" --seconds 5 --seed 3 -q
cmp -s "$T/g1.mid" "$T/g2.mid" && ok "the same seed gives the same bytes" || bad "the same seed gave other bytes"
expect "another seed, with top-k and top-p" 0 "$G" generate "$M" -o "$T/g3.mid" --seconds 5 --seed 4 --top-k 20 --top-p 0.9 -q
cmp -s "$T/g1.mid" "$T/g3.mid" && bad "another seed gave the same bytes" || ok "another seed gives other music"
py "a generated piece lasts its 5 s from its place in the bar, with notes" '
for f in sys.argv[1:]:
    m = mido.MidiFile(f)
    t, first, on = 0.0, None, 0
    for msg in m:
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            on += 1
            first = t if first is None else first
    bar = 4 * 60 / 40.0   # the longest bar at the slowest tempo it could take: 6 s
    assert on > 0 and t - first <= 5.0 + 1e-3 and first < bar, (f, on, first, t)
' "$T/g1.mid" "$T/g3.mid"
expect "generate --steps 40 (events)" 0 "$G" generate "$M" -o "$T/g4.mid" --steps 40 --seed 1 -q
expect "--steps and --seconds" 2 "$G" generate "$M" -o "$T/x.mid" --steps 4 --seconds 3
expect "--key-fix with an event model" 2 "$G" generate "$M" -o "$T/x.mid" --key-fix
expect "--top-p 0" 2 "$G" generate "$M" -o "$T/x.mid" --top-p 0
[ ! -e "$T/x.mid" ] && ok "refused generations write nothing" || bad "a refused generation wrote $T/x.mid"
$PY -c '
import sys, mido
m = mido.MidiFile(); t = mido.MidiTrack(); m.tracks.append(t)
t.append(mido.MetaMessage("set_tempo", tempo=500000)); t.append(mido.Message("program_change", program=0))
m.save(sys.argv[1])' "$T/nonotes.mid"
expect "a primer without notes" 1 "$G" generate "$M" -o "$T/x.mid" --primer "$T/nonotes.mid"
has "it says so" "$T/err" "no part"
[ ! -e "$T/x.mid" ] && ok "and writes nothing" || bad "it wrote $T/x.mid"
expect "train --preset events --ensemble" 0 "$G" train --preset events --ensemble $TINY "$C" -o "$T/ens.safetensors"
has "train names the ensemble" "$T/err" "of an ensemble (PROGRAM tokens), 517 tokens"
expect "generate with the ensemble model" 0 "$G" generate "$T/ens.safetensors" -o "$T/ge.mid" --seconds 8 --seed 2
py "the ensemble piece is a MIDI file with notes" '
m = mido.MidiFile(sys.argv[1])
assert sum(1 for msg in m if msg.type == "note_on" and msg.velocity > 0) > 0
' "$T/ge.mid"
expect "two event models make one file" 0 "$G" generate "$M" "$T/ens.safetensors" -o "$T/gm.mid" --seconds 4 --seed 2

# ---- the issue's target on the bundled corpus, checked with mido (tests/events_check.py). The
# sanitizer build runs the same codec over the corpus for memory errors only: the mido check
# (Python's time, the same for both builds) runs once, with the release build.
if ldd "$G" 2>/dev/null | grep -q libasan; then
    expect "encode --events --ensemble: the whole corpus" 0 "$G" encode --events --ensemble data/jsb/*.mid data/classical/*.mid -o "$T/cE"
    expect "encode --events: the classical corpus" 0 "$G" encode --events data/classical/*.mid -o "$T/cP"
    nfail=0 n=0
    for f in "$T"/cE/*.npy; do
        n=$((n + 1))
        "$G" decode --events "$f" -o "$T/c.mid" 2>>"$T/c.err" || nfail=$((nfail + 1))
    done
    for m in data/classical/*.mid; do
        s=$(basename "$m" .mid)
        set -- "$T"/cP/"$s".p*.events.npy
        while [ $# -gt 0 ]; do # 15 streams at a time: MIDI's melodic channels
            k=$(( $# < 15 ? $# : 15 ))
            n=$((n + 1))
            "$G" decode --events "${@:1:$k}" -o "$T/c.mid" 2>>"$T/c.err" || nfail=$((nfail + 1))
            shift "$k"
        done
    done
    if [ $nfail = 0 ]; then ok "decode --events: $n corpus streams and groups of streams"; else
        bad "decode --events failed $nfail of $n times"; head -5 "$T/c.err"; fi
else
    $PY tests/events_check.py "$G" data/jsb data/classical >"$T/check" 2>&1
    grep -E '^round trip|^     ' "$T/check"
    while IFS= read -r line; do
        case "$line" in
        "ok   "*) ok "${line#ok   }" ;;
        "FAIL "*) bad "${line#FAIL }" ;;
        esac
    done <"$T/check"
    grep -qE '^[0-9]+ passed, 0 failed' "$T/check" && ok "events_check.py ran to its end" || bad "events_check.py: $(tail -3 "$T/check")"
fi

cli_end
