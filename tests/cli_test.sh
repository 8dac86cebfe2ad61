#!/usr/bin/env bash
# cli_test.sh GROOVYBEE - the command line as a user meets it: help, exit codes, error messages
# that name the file and the byte, the whole bundled corpus through info and encode, and the
# encode -> decode -> encode round trip checked by mido and NumPy. Ends with "N passed, N failed".
set -u
. "$(dirname "$0")/cli_lib.sh"

# ---- help and usage
expect "groovybee --help" 0 "$G" --help
has "help lists the commands" "$T/out" "encode"
for c in info notes encode decode train eval; do
    expect "$c --help" 0 "$G" "$c" --help
    has "$c --help shows usage" "$T/out" "usage: groovybee $c"
done
has "encode --help shows defaults" <("$G" encode --help) "[4: sixteenth notes]"
has "decode --help shows defaults" <("$G" decode --help) "[120]"
has "train --help shows defaults" <("$G" train --help) "windows a batch [64]"
has "help lists train" <("$G" --help) "train"
expect "no command is a usage error" 2 "$G"
expect "unknown command is a usage error" 2 "$G" frobnicate
expect "unknown option is a usage error" 2 "$G" info --frob data/jsb/jsb_train_000.mid
expect "info without a file is a usage error" 2 "$G" info
expect "bad number is a usage error" 2 "$G" encode -o "$T/x" --steps-per-beat 0 data/jsb/jsb_train_000.mid
has "bad number says what it wants" "$T/err" "--steps-per-beat wants an integer from 1 to 960"
expect "exclusive step options" 2 "$G" encode -o "$T/x" --steps-per-beat 4 --step-ticks 10 data/jsb/jsb_train_000.mid

# ---- errors name the file and the byte
echo "hello, this is not MIDI" >"$T/text.mid"
expect "non-MIDI file fails" 1 "$G" info "$T/text.mid"
has "non-MIDI error names file and byte" "$T/err" "$T/text.mid: at byte 0: not a MIDI file"
head -c 300 data/classical/beethoven__Concerto_No3.mid >"$T/cut.mid"
expect "truncated file fails" 1 "$G" notes "$T/cut.mid"
has "truncated error says so" "$T/err" "(truncated file?)"
: >"$T/empty.mid"
expect "empty file fails" 1 "$G" info "$T/empty.mid"
has "empty error" "$T/err" "empty.mid: at byte 0: empty file"
expect "missing file fails" 1 "$G" info "$T/nope.mid"
has "missing file error" "$T/err" "nope.mid: cannot open: No such file or directory"
expect "a directory is not a file" 1 "$G" notes "$T"

# ---- info
expect "info text" 0 "$G" info data/classical/beethoven__Concerto_No3.mid
has "info shows tempo" "$T/out" "132.00 bpm"
has "info shows GM names" "$T/out" "Flute"
expect "info --json" 0 "$G" info --json data/classical/beethoven__Concerto_No3.mid
if $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["format"]==1 and d["division"]==384 and len(d["parts"])==13 and d["parts"][0]["instrument"]=="Flute" and abs(d["tempos"][0]["bpm"]-132)<0.001' "$T/out"; then
    ok "info --json parses and holds the figures"; else bad "info --json parses and holds the figures"; fi

# ---- the whole bundled corpus reads without error
nfail=0
for f in data/jsb/*.mid data/classical/*.mid; do
    "$G" info "$f" >/dev/null 2>>"$T/corpus.err" || nfail=$((nfail + 1))
done
if [ $nfail = 0 ]; then ok "info reads every corpus file"; else bad "info failed on $nfail corpus files"; head "$T/corpus.err"; fi
expect "encode reads every corpus file" 0 "$G" encode -o "$T/rolls" data/jsb/*.mid data/classical/*.mid
has "encode reports its count" "$T/err" "encoded 450 files"
if $PY - "$T/rolls" <<'PY'; then ok "NumPy loads every roll as uint8 (steps, 128)"; else bad "NumPy loads every roll"; fi
import numpy as np, os, sys
d = sys.argv[1]
names = os.listdir(d)
assert len(names) > 450, len(names)
for n in names:
    a = np.load(os.path.join(d, n))
    assert a.dtype == np.uint8 and a.ndim == 2 and a.shape[1] == 128, (n, a.dtype, a.shape)
    assert a.max() <= 127 and a.shape[0] > 0, n
PY

# ---- encode: names, silence stripping, a broken file among good ones
R=jsb_train_000.p00.t00.c00.prog000.acoustic-grand-piano.npy
expect "encode one file" 0 "$G" encode -o "$T/one" data/jsb/jsb_train_000.mid
[ -f "$T/one/$R" ] && ok "roll named by part, track, channel, program, instrument" || bad "roll name: $(ls "$T/one")"
expect "encode --strip-silence --step-ticks 1" 0 "$G" encode -o "$T/strip" --strip-silence --step-ticks 1 data/jsb/jsb_train_000.mid
if $PY -c 'import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); assert (a.sum(1)>0).all() and a.shape[0] <= 61920 and a.shape[0] > b.shape[0], (a.shape, b.shape)' "$T/strip/$R" "$T/one/$R"; then
    ok "stripped roll has no silent step"; else bad "stripped roll has no silent step"; fi
expect "encode skips a broken file" 1 "$G" encode -o "$T/mixed" data/jsb/jsb_train_001.mid "$T/cut.mid" data/jsb/jsb_train_002.mid
has "skipped file is named" "$T/err" "cut.mid: at byte"
has "skipped file is counted" "$T/err" "encoded 2 files (2 parts) into $T/mixed; skipped 1 file"

# ---- decode, and the round trip: encode -> decode -> encode gives the same rolls
expect "decode" 0 "$G" decode "$T/one/$R" -o "$T/back.mid" --bpm 100
expect "decoded file reads back" 0 "$G" info "$T/back.mid"
has "decoded file keeps the tempo" "$T/out" "100.00 bpm"
expect "re-encode" 0 "$G" encode -o "$T/again" "$T/back.mid"
if cmp -s "$T/one/$R" "$T/again/back.p00.t01.c00.prog000.acoustic-grand-piano.npy"; then
    ok "encode -> decode -> encode is the identity on rolls"; else bad "round trip rolls differ: $(ls "$T/again")"; fi
expect "decode two rolls with programs" 0 "$G" decode "$T/rolls/beethoven__Cellosonata_No3_1.p00.t01.c00.prog042.cello.npy" "$T/one/$R" --program 40 -o "$T/two.mid"
expect "info --json of the merged file" 0 "$G" info --json "$T/two.mid"
if $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["parts"]; assert [x["program"] for x in p]==[40,0] and [x["channel"] for x in p]==[0,1] and [x["track"] for x in p]==[1,2], p' "$T/out"; then
    ok "two rolls make two tracks with their programs"; else bad "two rolls make two tracks with their programs"; fi
expect "program from the roll's name" 0 "$G" decode "$T/rolls/beethoven__Cellosonata_No3_1.p00.t01.c00.prog042.cello.npy" -o "$T/cello.mid"
expect "info cello" 0 "$G" info "$T/cello.mid"
has "program 42 read off the name" "$T/out" "42 Cello"
if $PY tests/mido_check.py "$G" "$T/back.mid" "$T/two.mid" "$T/cello.mid" >"$T/mido" 2>&1; then
    ok "mido reads every decoded file with the same notes"; else bad "mido check of decoded files"; cat "$T/mido"; fi
printf 'not npy at all' >"$T/bad.npy"
expect "decode of a bad roll fails" 1 "$G" decode "$T/bad.npy" -o "$T/bad.mid"
has "bad roll error names it" "$T/err" "bad.npy: at byte 0:"
[ ! -e "$T/bad.mid" ] && ok "failed decode leaves no output" || bad "failed decode left $T/bad.mid"
# ---- train and eval: a tiny model on three chorales
J3="data/jsb/jsb_train_000.mid data/jsb/jsb_train_001.mid data/jsb/jsb_train_002.mid"
# shellcheck disable=SC2086
expect "train a tiny model" 0 "$G" train $J3 --hidden 16 --layers 2 --epochs 2 -o "$T/m.safetensors" --log "$T/m.jsonl"
has "train prints the configuration" "$T/err" "model: LSTM 2 x 16, dropout 0.2, BCE loss on every step"
has "train prints the corpus" "$T/err" "corpus: 3 files found, 3 read, 0 skipped"
has "train prints the windows" "$T/err" "windows: 12 training, 15 validation"
has "train prints epochs" "$T/err" "epoch 2/2  train 0."
has "train says where the model is" "$T/err" "done: 2 epochs; best: epoch"
[ -f "$T/m.safetensors" ] && [ -f "$T/m.optim.safetensors" ] && ok "model and optim files written" || bad "model files: $(ls "$T")"
if $PY - "$T/m.safetensors" "$T/m.jsonl" <<'PY'; then ok "checkpoint holds PyTorch names and shapes, log holds 2 epochs"; else bad "checkpoint names, shapes or log"; fi
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
meta = h.pop("__metadata__")
want = {"lstm1.weight_ih": [64, 128], "lstm1.weight_hh": [64, 16], "lstm1.bias_ih": [64],
        "lstm1.bias_hh": [64], "lstm2.weight_ih": [64, 16], "lstm2.weight_hh": [64, 16],
        "lstm2.bias_ih": [64], "lstm2.bias_hh": [64], "fc.weight": [128, 16], "fc.bias": [128]}
assert {k: v["shape"] for k, v in h.items()} == want, h
assert all(v["dtype"] == "F32" for v in h.values())
assert meta["format"] == "groovybee-1" and meta["loss"] == "bce" and meta["H"] == "16", meta
assert json.loads(meta["corpus"])[0] == "data/jsb/jsb_train_000.mid", meta["corpus"]
lines = [json.loads(l) for l in open(sys.argv[2])]
assert [l["epoch"] for l in lines] == [1, 2], lines
assert set(lines[0]) == {"epoch", "train_loss", "valid_loss", "windows", "seconds", "windows_per_s"}
assert lines[1]["train_loss"] < 0.7 and lines[1]["windows"] == 12, lines
PY
# shellcheck disable=SC2086
expect "train --resume" 0 "$G" train $J3 --epochs 3 --resume -o "$T/m.safetensors" --log "$T/m.jsonl"
has "resume trains the third epoch" "$T/err" "epoch 3/3"
[ "$(wc -l <"$T/m.jsonl")" = 3 ] && ok "resume appends to the log" || bad "log after resume: $(cat "$T/m.jsonl")"
# shellcheck disable=SC2086
expect "resume cannot change the model" 2 "$G" train $J3 --resume --hidden 32 -o "$T/m.safetensors"
has "resume says what cannot change" "$T/err" "--hidden cannot change on --resume"
expect "eval" 0 "$G" eval "$T/m.safetensors" data/jsb/jsb_valid_000.mid data/jsb/jsb_valid_001.mid
has "eval reports the frame NLL" "$T/out" "frame NLL"
has "eval names each file" "$T/out" "data/jsb/jsb_valid_001.mid"
expect "eval --json" 0 "$G" eval --json "$T/m.safetensors" data/jsb/jsb_valid_000.mid
if $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["files"][0]["parts"][0]; assert d["parts"]==1 and d["steps"]==p["steps"]>100 and 0<d["loss"]<1 and 20<d["nll"]<100 and abs(d["nll"]-p["nll"])<1e-9, d' "$T/out"; then
    ok "eval --json parses and holds the figures"; else bad "eval --json parses and holds the figures"; fi
expect "eval with a broken file among good ones" 1 "$G" eval "$T/m.safetensors" "$T/cut.mid" data/jsb/jsb_valid_000.mid
has "eval names the skipped file" "$T/err" "cut.mid: at byte"
expect "eval of a bad model file" 1 "$G" eval "$T/text.mid" data/jsb/jsb_valid_000.mid
has "bad model error names the file" "$T/err" "$T/text.mid: at byte"
expect "eval of an optim file" 1 "$G" eval "$T/m.optim.safetensors" data/jsb/jsb_valid_000.mid
has "optim file is not a model" "$T/err" "not a groovybee model"
mkdir -p "$T/emptycorpus"
expect "train on an empty corpus" 1 "$G" train "$T/emptycorpus" -o "$T/e.safetensors"
has "empty corpus error" "$T/err" "no parts to train on: 0 MIDI files found"
expect "train on a missing corpus" 1 "$G" train "$T/nowhere" -o "$T/e.safetensors"
has "missing corpus error names it" "$T/err" "nowhere: cannot open: No such file or directory"
expect "train on broken files only" 1 "$G" train "$T/cut.mid" "$T/text.mid" -o "$T/e.safetensors"
has "broken files are named and counted" "$T/err" "2 skipped"
expect "train without -o" 2 "$G" train data/jsb
expect "train with a bad preset" 2 "$G" train data/jsb --preset jazz -o "$T/e.safetensors"
expect "train with a bad loss" 2 "$G" train data/jsb --loss hinge -o "$T/e.safetensors"
expect "train with an unknown instrument" 2 "$G" train data/jsb --instrument kazoo -o "$T/e.safetensors"
expect "train with too long windows" 1 "$G" train data/jsb/jsb_train_000.mid --seq 5000 --valid-fraction 0 -o "$T/e.safetensors"
has "too long windows error" "$T/err" "no training windows"
# shellcheck disable=SC2086
expect "a loss that blows up stops the run" 1 "$G" train $J3 --hidden 8 --loss mse --lr 1e30 --epochs 3 -o "$T/e.safetensors"
has "the NaN stop says so" "$T/err" "became NaN or infinite in epoch 1; no model was written"
[ ! -e "$T/e.safetensors" ] && ok "failed runs write no model" || bad "a failed run wrote $T/e.safetensors"

[ -z "$(ls "$T" | grep '\.tmp-')" ] && ok "no temporary files left" || bad "temporary files left: $(ls "$T")"

cli_end
