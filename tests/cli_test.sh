#!/usr/bin/env bash
# cli_test.sh GROOVYBEE - the command line as a user meets it: help, exit codes, error messages
# that name the file and the byte, the whole bundled corpus through info and encode, and the
# encode -> decode -> encode round trip checked by mido and NumPy, then train and eval with tiny
# models: both heads, their tensors, windows in beats and short parts, --keys, and every new option's
# usage error. Ends with "N passed, N failed".
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
# the presets' defaults (the help on one line: some wrap)
"$G" train --help | tr -s ' \n' '  ' >"$T/trainhelp"
while IFS='|' read -r name text; do
    has "train --help shows the default $name" "$T/trainhelp" "$text"
done <<'EOF'
batch|--batch B windows a batch [roll: 16, events: 64, paper: 64]
stride (2 beats)|--stride S steps (or beats: 8b) between window starts [roll: 2b, events: 64, paper: 6]
window|window [roll: 16b, events: 128, paper: 12]
transposition|(kept inside 0..127) [roll: 6, events: 3, paper: 0]
input dropout|--dropout-in P dropout on the inputs [roll: 0.2, paper: 0]
output dropout|--dropout-out P dropout on the top layer's output, before the head [roll: 0.5, paper: 0]
averaged weights|weighing the old average by D [roll: 0.999, paper: 0: off]
merge|--split-parts a part each, as the report [roll: merge, paper: split]
lr decay|better validation loss [roll: 0.5, paper: 1: off]
lr patience|--lr-patience N [roll: 2, paper: 0: off]
epochs|--epochs N epochs to train (counting those before a resume) [roll: 100, paper: 20]
patience|--patience N stop after N epochs without a better validation loss [roll: 10, paper: 5; 0: off]
EOF
has "help lists train" <("$G" --help) "train"
# the kernels line: OpenBLAS's core and oneDNN's ISA; a core the user set is kept, and said to be
# slow when it wastes the CPU (Prescott: SSE3 kernels, on any CPU with AVX2)
expect "--version" 0 "$G" --version
has "--version names the kernels" "$T/out" "kernels: OpenBLAS "
has "--version names oneDNN's ISA" "$T/out" "oneDNN "
expect "--version with OPENBLAS_CORETYPE=Prescott" 0 env OPENBLAS_CORETYPE=Prescott "$G" --version
has "a core the user set is kept" "$T/out" "core Prescott"
if grep -q avx2 /proc/cpuinfo; then
    has "a generic core is called slow" "$T/out" "SLOW on this CPU: OPENBLAS_CORETYPE="
fi
# a CPU without bf16 instructions, as oneDNN sees it when capped below them: fp32 by default,
# and bf16 asked for says so and gives fp32
expect "--version capped at AVX2" 0 env DNNL_MAX_CPU_ISA=AVX2 "$G" --version
has "without bf16 instructions: not native" "$T/out" "(avx2, bf16 not native)"
has "without bf16 instructions: fp32 by default" "$T/out" "precision: fp32 by default"
expect "train --precision bf16 without bf16 instructions" 0 env DNNL_MAX_CPU_ISA=AVX2 "$G" train \
    data/jsb/jsb_train_000.mid --hidden 8 --epochs 1 --max-windows 16 --precision bf16 -o "$T/nobf.safetensors"
has "bf16 without bf16 instructions says so" "$T/err" "--precision bf16: this CPU has no bf16 instructions"
has "and trains in fp32" "$T/err" "kernels: fp32 products"
expect "train --precision nonsense" 2 "$G" train data/jsb --precision fp16 -o "$T/e.safetensors"
has "--precision says what it wants" "$T/err" "--precision wants fp32, bf16 or auto, not 'fp16'"
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
# ---- train and eval: a tiny model on three chorales (the roll preset: a NADE head, meter inputs,
# merged parts, windows of 16 beats every 2, batch 16, input and output dropout, transposition,
# averaged weights, the lr halved on plateaus, patience 10)
# st_ok NAME MODEL.safetensors PYTHON: the Python assertions hold, given s (tensor name -> shape),
# m (the metadata) and w (tensor name -> NumPy array) of the safetensors file
st_ok() {
    if $PY - "$2" "$3" >"$T/py" 2>&1 <<'PY'; then ok "$1"; else bad "$1: $(tail -3 "$T/py")"; fi
import json, struct, sys
import numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
m = h.pop("__metadata__")
s = {k: v["shape"] for k, v in h.items()}
assert all(v["dtype"] == "F32" for v in h.values()), h
w = {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                      np.float32).reshape(v["shape"]) for k, v in h.items()}
exec(sys.argv[2])
PY
}
J3="data/jsb/jsb_train_000.mid data/jsb/jsb_train_001.mid data/jsb/jsb_train_002.mid"
# shellcheck disable=SC2086
expect "train a tiny model" 0 "$G" train $J3 --hidden 16 --layers 2 --epochs 2 -o "$T/m.safetensors" --log "$T/m.jsonl"
has "train prints the configuration" "$T/err" "model: LSTM 2 x 16, NADE head of 128, dropout 0.2 (in 0.2, out 0.5), BCE loss on every step"
has "the roll preset feeds the meter" "$T/err" "encoding: 4 steps a beat, rests kept, binary rolls, 128 features + meter;"
has "the roll preset merges the parts" "$T/err" "parts: programs all but drums, merged: one part a file"
has "the roll preset's windows: 16 beats every 2, batch 16" "$T/err" "training: windows of 64 steps every 8, batch 16,"
has "the roll preset's transposition, lr decay and averaged weights" "$T/err" \
    "Adam lr 0.003, transposed by up to 6, lr x 0.5 after 2 flat epochs, averaged weights (0.999), no clipping,"
has "the roll preset's patience: 10" "$T/err" "run: epochs 2, patience 10,"
has "train prints the corpus" "$T/err" "corpus: 3 files found, 3 read, 0 skipped"
has "train names its kernels and precision" "$T/err" "  kernels: $("$G" --version | grep -q 'bf16 by default' && echo bf16 || echo fp32) products; OpenBLAS "
has "train prints the windows" "$T/err" "windows: 42 training, 57 validation; 9 of 969 target steps predicted by no window (a smaller --stride covers more)"
# the 42 and 57: windows of 64 steps every 8 in the two training chorales and the validation one;
# the 9: target steps (1..steps-1 of each part) after the last window
if $PY - "$T/rolls" <<'PY'; then ok "the windows and the uncovered steps: the parts' tails"; else bad "window counts, uncovered steps"; fi
import glob, sys
import numpy as np
lens = [np.load(glob.glob("%s/jsb_train_00%d.*.npy" % (sys.argv[1], i))[0]).shape[0] for i in range(3)]
assert sum(lens) == 972, lens
n = [(L - 65) // 8 + 1 for L in lens]
assert sorted(n) == [17, 25, 57] and 42 + 57 == sum(n), (lens, n)
unc = sum(L - 1 - ((L - 65) // 8 * 8 + 64) for L in lens)
assert unc == 9, (lens, unc)
PY
has "train prints epochs" "$T/err" "epoch 2/2  train 0."
has "train says where the model is" "$T/err" "done: 2 epochs; best: epoch"
[ -f "$T/m.safetensors" ] && [ -f "$T/m.optim.safetensors" ] && ok "model and optim files written" || bad "model files: $(ls "$T")"
st_ok "checkpoint holds PyTorch names and shapes: NADE (D, Hn), fc (D + Hn, H), 148 inputs with the meter" "$T/m.safetensors" '
want = {"lstm1.weight_ih": [64, 148], "lstm1.weight_hh": [64, 16], "lstm1.bias_ih": [64],
        "lstm1.bias_hh": [64], "lstm2.weight_ih": [64, 16], "lstm2.weight_hh": [64, 16],
        "lstm2.bias_ih": [64], "lstm2.bias_hh": [64], "fc.weight": [256, 16], "fc.bias": [256],
        "nade.W": [128, 128], "nade.V": [128, 128]}
assert s == want, s
assert m["format"] == "groovybee-1" and m["loss"] == "bce" and m["H"] == "16", m
assert m["head"] == "nade" and m["nade_hidden"] == "128" and m["meter"] == "1", m
assert m["seq"] == "64" and m["stride"] == "8" and m["steps_per_beat"] == "4", m
assert (m["merge"], m["transpose"], m["batch"], m["lr_patience"]) == ("1", "6", "16", "2"), m
assert [round(float(m[k]), 6) for k in ("dropout_in", "dropout_out", "ema", "lr_decay")] == [0.2, 0.5, 0.999, 0.5], m
assert json.loads(m["corpus"])[0] == "data/jsb/jsb_train_000.mid", m["corpus"]
assert all(np.isfinite(a).all() for a in w.values())'
if $PY - "$T/m.jsonl" <<'PY'; then ok "the log holds 2 epochs"; else bad "log: $(cat "$T/m.jsonl")"; fi
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["epoch"] for l in lines] == [1, 2], lines
assert set(lines[0]) == {"epoch", "train_loss", "valid_loss", "windows", "seconds", "windows_per_s"}
assert lines[1]["train_loss"] < 0.7 and lines[1]["windows"] == 42, lines
PY
# shellcheck disable=SC2086
expect "train --resume" 0 "$G" train $J3 --epochs 3 --resume -o "$T/m.safetensors" --log "$T/m.jsonl"
has "resume trains the third epoch" "$T/err" "epoch 3/3"
has "resume keeps the NADE head" "$T/err" "NADE head of 128"
[ "$(wc -l <"$T/m.jsonl")" = 3 ] && ok "resume appends to the log" || bad "log after resume: $(cat "$T/m.jsonl")"
# shellcheck disable=SC2086
expect "resume cannot change the model" 2 "$G" train $J3 --resume --hidden 32 -o "$T/m.safetensors"
has "resume says what cannot change" "$T/err" "--hidden: 32 here, 16 in the run being resumed"
for o in "--head sigmoid" "--transpose 2" "--no-meter" "--nade-hidden 32"; do
    # shellcheck disable=SC2086
    expect "resume refuses $o" 2 "$G" train $J3 --resume $o -o "$T/m.safetensors"
    has "resume names ${o%% *}" "$T/err" "${o%% *}"
    has "resume says why (${o%% *})" "$T/err" "in the run being resumed"
done
st_ok "refused resumes leave the model as it was" "$T/m.safetensors" 'assert m["epochs"] == "3" and m["head"] == "nade" and m["transpose"] == "6", m'
expect "eval" 0 "$G" eval "$T/m.safetensors" data/jsb/jsb_valid_000.mid data/jsb/jsb_valid_001.mid
has "eval reports the frame NLL" "$T/out" "frame NLL"
has "eval names each file" "$T/out" "data/jsb/jsb_valid_001.mid"
has "eval names the NADE head" "$T/out" "BCE NADE"
has "eval says which keys the NLL counts" "$T/out" "nats per step over keys 0-127"
expect "eval --json" 0 "$G" eval --json "$T/m.safetensors" data/jsb/jsb_valid_000.mid
if $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["files"][0]["parts"][0]; assert d["parts"]==1 and d["steps"]==p["steps"]>100 and 0<d["loss"]<1 and 20<d["nll"]<100 and abs(d["nll"]-p["nll"])<1e-9, d' "$T/out"; then
    ok "eval --json parses and holds the figures"; else bad "eval --json parses and holds the figures"; fi
if $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["head"]=="nade" and d["keys"]==[0,127], d' "$T/out"; then
    ok "eval --json gives the head and the keys"; else bad "eval --json head and keys: $(head -c 300 "$T/out")"; fi

# ---- eval --precision: fp32 by default (the yardstick), bf16 within 1% of it on a bf16 CPU
has "eval --help lists --precision with its default" <("$G" eval --help) "[fp32: eval is the yardstick"
expect "eval --precision nonsense is a usage error" 2 "$G" eval --precision nonsense "$T/m.safetensors" data/jsb/jsb_valid_000.mid
has "eval --precision nonsense names the option" "$T/err" "--precision wants fp32, bf16 or auto, not 'nonsense'"
expect "eval --precision fp32" 0 "$G" eval --precision fp32 "$T/m.safetensors" data/jsb/jsb_valid_000.mid data/jsb/jsb_valid_001.mid
has "eval names its precision" "$T/out" "3 epochs), fp32 products"
"$G" eval "$T/m.safetensors" data/jsb/jsb_valid_000.mid data/jsb/jsb_valid_001.mid >"$T/eval-default" 2>&1
cmp -s "$T/out" "$T/eval-default" && ok "eval is fp32 by default: the same bytes" || bad "eval's default is not --precision fp32"
"$G" eval --json --precision fp32 "$T/m.safetensors" data/jsb/jsb_valid_000.mid 2>/dev/null >"$T/e32.json" || bad "eval --json --precision fp32"
"$G" eval --json --precision bf16 "$T/m.safetensors" data/jsb/jsb_valid_000.mid >"$T/e16.json" 2>"$T/err" || bad "eval --json --precision bf16: $(head -3 "$T/err")"
if "$G" --version | grep -q 'bf16 by default'; then want=bf16; else
    want=fp32; has "eval --precision bf16 without bf16 instructions says so" "$T/err" "this CPU has no bf16 instructions"; fi
if $PY - "$T/e32.json" "$T/e16.json" "$want" <<'PY'; then ok "eval --precision bf16 ($want here): a finite NLL within 1% of fp32's"; else bad "eval --precision bf16 against fp32"; fi
import json, math, sys
f, b = (json.load(open(p)) for p in sys.argv[1:3])
assert f["precision"] == "fp32" and b["precision"] == sys.argv[3], (f["precision"], b["precision"])
assert math.isfinite(b["nll"]) and abs(b["nll"] - f["nll"]) <= 0.01 * f["nll"], (f["nll"], b["nll"])
assert abs(b["loss"] - f["loss"]) <= 0.01 * f["loss"], (f["loss"], b["loss"])
if sys.argv[3] == "fp32":
    assert b == f, "bf16 fell back to fp32: the same figures"
PY

# ---- the two heads: sigmoid (each pitch on its own) and NADE (a step's pitches jointly)
J10=$(ls data/jsb/jsb_train_00*.mid)
# trained long enough (10 chorales, 10 epochs) to give the keys no chorale plays a low probability
# shellcheck disable=SC2086
expect "train --head sigmoid" 0 "$G" train $J10 --head sigmoid --hidden 16 --epochs 10 --lr 0.03 --batch 8 --patience 0 -o "$T/s.safetensors"
has "the configuration names the sigmoid head" "$T/err" "model: LSTM 1 x 16, sigmoid head, dropout 0.2"
st_ok "a sigmoid model has no NADE tensors: fc (D, H), 148 inputs with the meter" "$T/s.safetensors" '
assert s == {"lstm1.weight_ih": [64, 148], "lstm1.weight_hh": [64, 16], "lstm1.bias_ih": [64],
             "lstm1.bias_hh": [64], "fc.weight": [128, 16], "fc.bias": [128]}, s
assert m["head"] == "linear" and m["nade_hidden"] == "0" and m["meter"] == "1", m'
# shellcheck disable=SC2086
expect "train --head nade --nade-hidden 24 --no-meter" 0 "$G" train $J3 --head nade --nade-hidden 24 --no-meter --hidden 8 --epochs 1 -o "$T/n.safetensors"
has "the configuration names the NADE's size" "$T/err" "model: LSTM 1 x 8, NADE head of 24,"
has "--no-meter: 128 features alone" "$T/err" "binary rolls, 128 features; parts:"
st_ok "NADE tensors (D, Hn), fc (D + Hn, H), 128 inputs without the meter" "$T/n.safetensors" '
assert s == {"lstm1.weight_ih": [32, 128], "lstm1.weight_hh": [32, 8], "lstm1.bias_ih": [32],
             "lstm1.bias_hh": [32], "fc.weight": [152, 8], "fc.bias": [152],
             "nade.W": [128, 24], "nade.V": [128, 24]}, s
assert m["head"] == "nade" and m["nade_hidden"] == "24" and m["meter"] == "0", m'
V2="data/jsb/jsb_valid_000.mid data/jsb/jsb_valid_001.mid"
for k in s:sigmoid n:NADE; do
    # shellcheck disable=SC2086
    expect "eval a ${k#*:} model" 0 "$G" eval "$T/${k%%:*}.safetensors" $V2
    has "eval of the ${k#*:} model gives the NLL" "$T/out" "frame NLL"
done
has "a model without the meter evaluates" "$T/out" "all: 2 files, 2 parts, 628 steps"

# ---- eval --keys: the pitches the frame NLL sums over
kfail=0
for k in s m; do
    for keys in "" 0-127 21-108; do
        # shellcheck disable=SC2086
        "$G" eval --json ${keys:+--keys $keys} "$T/$k.safetensors" $V2 >"$T/keys-$k-${keys:-default}.json" 2>"$T/err" ||
            { kfail=1; bad "eval --json --keys '$keys' of $k: $(head -3 "$T/err")"; }
    done
done
[ $kfail = 0 ] && ok "eval --json with --keys 0-127 and 21-108"
if $PY - "$T" <<'PY'; then ok "--keys 0-127 is the default; 21-108 sums less; the JSON says which keys"; else bad "--keys figures"; fi
import json, sys
for k, head in (("s", ("linear", "sigmoid")), ("m", ("nade",))):
    d, a, p = (json.load(open("%s/keys-%s-%s.json" % (sys.argv[1], k, n))) for n in ("default", "0-127", "21-108"))
    assert d == a, (d, a)
    assert d["keys"] == [0, 127] and p["keys"] == [21, 108], (d["keys"], p["keys"])
    assert d["head"] in head and p["head"] == d["head"], (k, d["head"])
    assert 0 < p["nll"] <= d["nll"], (k, p["nll"], d["nll"])
    assert p["loss"] == d["loss"], (k, p["loss"], d["loss"])  # the model's loss keeps every pitch
    for fp, fd in zip(p["files"], d["files"]):
        for x, y in zip(fp["parts"], fd["parts"]):
            assert 0 < x["nll"] <= y["nll"], (k, x, y)
PY
# a trained sigmoid model spends little on keys no chorale plays: 0-127 and 21-108 close
if $PY - "$T" "$T/rolls" <<'PY'; then ok "on chorales 21-108 and 0-127 differ little (trained sigmoid model)"; else bad "on chorales 21-108 and 0-127 differ little"; fi
import glob, json, sys
import numpy as np
for f in ("jsb_valid_000", "jsb_valid_001"):  # the premise: nothing sounds outside 21..108
    a = np.load(glob.glob("%s/%s.*.npy" % (sys.argv[2], f))[0])
    assert not a[:, :21].any() and not a[:, 109:].any(), f
a, p = (json.load(open("%s/keys-s-%s.json" % (sys.argv[1], n)))["nll"] for n in ("0-127", "21-108"))
assert 0 <= a - p < 0.01 * a, (a, p)
PY
for k in 5-2 200-300 junk 0-128 21-; do
    expect "eval --keys $k is a usage error" 2 "$G" eval --keys "$k" "$T/s.safetensors" data/jsb/jsb_valid_000.mid
    has "eval --keys $k says what it wants" "$T/err" "--keys wants LO-HI with 0 <= LO <= HI <= 127 (21-108: the 88 piano keys), not '$k'"
done
expect "eval --keys 60-60 (one key)" 0 "$G" eval --keys 60-60 "$T/s.safetensors" data/jsb/jsb_valid_000.mid
has "eval --keys 60-60 says so" "$T/out" "over keys 60-60"

# ---- windows in beats, short parts as one masked window
# shellcheck disable=SC2086
expect "--seq and --stride in beats" 0 "$G" train $J3 --hidden 8 --epochs 1 --steps-per-beat 2 --seq 4b --stride 2b -o "$T/b.safetensors"
has "4 beats at 2 steps a beat: windows of 8 steps every 4" "$T/err" "windows of 8 steps every 4,"
st_ok "the checkpoint keeps the windows in steps" "$T/b.safetensors" 'assert (m["seq"], m["stride"], m["steps_per_beat"]) == ("8", "4", "2"), m'
# shellcheck disable=SC2086
expect "the preset's windows at 2 steps a beat" 0 "$G" train $J3 --hidden 8 --epochs 1 --steps-per-beat 2 -o "$T/b.safetensors"
has "16 beats every 2 at 2 steps a beat: 32 steps every 4" "$T/err" "windows of 32 steps every 4,"
# shellcheck disable=SC2086
expect "windows in steps beside a beat stride" 0 "$G" train $J3 --hidden 8 --epochs 1 --seq 48 --stride 4b -o "$T/b.safetensors"
has "--seq 48 --stride 4b: 48 steps every 16" "$T/err" "windows of 48 steps every 16,"
# shellcheck disable=SC2086
expect "a 5000-step window trains each part as one masked window" 0 "$G" train $J3 --hidden 8 --seq 5000 --valid-fraction 0 --epochs 2 -o "$T/long.safetensors" --log "$T/long.jsonl"
has "train says the parts are shorter than a window" "$T/err" "windows: 3 training, 0 validation; 3 parts shorter than 5001 steps: one shorter window each (none for a part of one step)"
has "whole parts leave no step unpredicted" "$T/err" "; 0 of 969 target steps predicted by no window"
has "the short windows train" "$T/err" "done: 2 epochs; best: epoch"
if $PY -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; assert [x["windows"] for x in l]==[3,3] and all(0<x["train_loss"]<1 for x in l), l' "$T/long.jsonl"; then
    ok "3 windows an epoch, finite losses"; else bad "masked windows log: $(cat "$T/long.jsonl")"; fi
# the masked window of a 516-step part is its own 515-step window: same losses, same weights (the
# preset's transposition and averaged weights kept; no dropout, whose masks span the whole window)
for q in 5000 515; do
    "$G" train data/jsb/jsb_train_000.mid --hidden 8 --seq $q --valid-fraction 0 --epochs 2 -q \
        --dropout-in 0 --dropout-out 0 \
        -o "$T/w$q.safetensors" --log "$T/w$q.jsonl" 2>"$T/err" || bad "train --seq $q: $(tail -2 "$T/err")"
done
if $PY - "$T/w5000" "$T/w515" <<'PY'; then ok "a masked 5000-step window trains as the part's own 515-step one"; else bad "masked window differs from the exact one"; fi
import json, struct, sys
import numpy as np
def load(p):
    b = open(p + ".safetensors", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__")
    return {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                             np.float32) for k, v in h.items()}
la, lb = ([json.loads(l)["train_loss"] for l in open(p + ".jsonl")] for p in sys.argv[1:])
assert len(la) == 2 and all(abs(x - y) < 1e-6 for x, y in zip(la, lb)), (la, lb)
a, b = (load(p) for p in sys.argv[1:])
assert a.keys() == b.keys()
d = max(float(np.abs(a[k] - b[k]).max()) for k in a)
assert d < 1e-5, d
PY

# ---- the other new options: in the configuration and the checkpoint
# shellcheck disable=SC2086
expect "train with --transpose, input/output dropout, weight and lr decay" 0 "$G" train $J3 --hidden 8 --epochs 2 \
    --transpose 3 --dropout-in 0.1 --dropout-out 0.2 --weight-decay 0.01 --lr-decay 0.5 --lr-patience 1 \
    -o "$T/reg.safetensors" --log "$T/reg.jsonl"
has "the configuration gives the dropouts" "$T/err" "dropout 0.2 (in 0.1, out 0.2)"
has "the configuration gives transposition and decays" "$T/err" ", transposed by up to 3, weight decay 0.01, lr x 0.5 after 1 flat epochs,"
st_ok "the checkpoint keeps them" "$T/reg.safetensors" '
assert m["transpose"] == "3" and m["lr_patience"] == "1", m
assert [round(float(m[k]), 6) for k in ("dropout_in", "dropout_out", "weight_decay", "lr_decay")] == [0.1, 0.2, 0.01, 0.5], m'
# shellcheck disable=SC2086
"$G" train $J3 --hidden 8 --epochs 2 --transpose 0 --dropout-in 0.1 --dropout-out 0.2 --weight-decay 0.01 --lr-decay 0.5 \
    --lr-patience 1 -q -o "$T/reg0.safetensors" --log "$T/reg0.jsonl" 2>"$T/err" || bad "train with --transpose 0: $(tail -2 "$T/err")"
if $PY -c 'import json,sys; a,b=([json.loads(l)["train_loss"] for l in open(p)] for p in sys.argv[1:]); assert a!=b, (a, b)' "$T/reg.jsonl" "$T/reg0.jsonl"; then
    ok "--transpose changes what trains"; else bad "--transpose 3 trained as --transpose 0"; fi

# ---- the presets' run lengths: roll 100 epochs, patience 10; paper 20 and 5 (stopped after one
# epoch by --target-loss), and the paper preset's training values
# shellcheck disable=SC2086
expect "the roll preset's default epochs" 0 "$G" train $J3 --hidden 8 --target-loss 1 -o "$T/r100.safetensors"
has "the roll preset: 100 epochs, patience 10" "$T/err" "run: epochs 100, patience 10, target loss 1,"
has "the roll preset trains towards epoch 100" "$T/err" "epoch 1/100  train 0."
has "the target loss stops it" "$T/err" "done: training loss below 1 after 1 epoch;"
# shellcheck disable=SC2086
expect "the paper preset's default epochs" 0 "$G" train $J3 --preset paper --hidden 8 --max-windows 64 --target-loss 1 -o "$T/p20.safetensors"
has "the paper preset: 20 epochs, patience 5" "$T/err" "run: epochs 20, patience 5, target loss 1,"
has "the paper preset trains towards epoch 20" "$T/err" "epoch 1/20  train 0."
has "the paper preset: no input or output dropout" "$T/err" "dropout 0.2 (in 0, out 0), MSE loss on the last step"
has "the paper preset: batch 64, no transposition, no averaged weights" "$T/err" \
    "training: windows of 12 steps every 6, batch 64, Adam lr 0.001, no clipping,"
grep -q "merged" "$T/err" && bad "the paper preset merged the parts: $(grep merged "$T/err")" ||
    ok "the paper preset keeps the parts apart"
st_ok "the paper checkpoint keeps its values" "$T/p20.safetensors" '
assert (m["merge"], m["transpose"], m["batch"], m["lr_patience"]) == ("0", "0", "64", "0"), m
assert [float(m[k]) for k in ("dropout_in", "dropout_out", "ema", "lr_decay")] == [0, 0, 0, 1], m'

# ---- bad training input
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
# usage errors: each OPTIONS|MESSAGE gives exit 2, this message, and no model
while IFS='|' read -r opts msg; do
    # shellcheck disable=SC2086
    expect "train $opts is a usage error" 2 "$G" train $J3 --hidden 8 --epochs 1 $opts -o "$T/e.safetensors" </dev/null
    has "train $opts says why" "$T/err" "$msg"
done <<'EOF'
--head foo|--head wants 'sigmoid' or 'nade', not 'foo'
--seq 4x|--seq wants a count of steps (64) or of beats (16b) in 1..65536, not '4x'
--seq 0b|--seq wants a count of steps (64) or of beats (16b) in 1..65536, not '0b'
--seq b|--seq wants a count of steps (64) or of beats (16b) in 1..65536, not 'b'
--stride 0|--stride wants a count of steps (64) or of beats (16b) in 1..65536, not '0'
--seq 65537|--seq wants a count of steps (64) or of beats (16b) in 1..65536, not '65537'
--head sigmoid --nade-hidden 8|--nade-hidden needs --head nade
--preset paper --nade-hidden 8|--nade-hidden needs --head nade
--seq 4b --step-ticks 10|--seq 4b: beats need --steps-per-beat (not --step-ticks)
--stride 2b --step-ticks 10|--stride 2b: beats need --steps-per-beat (not --step-ticks)
--preset paper --seq 4b|--seq 4b: beats need --steps-per-beat (not --step-ticks)
--head nade --loss mse|a NADE head models binary steps: it needs the BCE loss and binary values
--values velocity|a NADE head models binary steps: it needs the BCE loss and binary values
--preset paper --head nade|a NADE head models binary steps: it needs the BCE loss and binary values
--nade-hidden 0|--nade-hidden wants an integer from 1 to
--transpose 200|--transpose wants an integer from 0 to 127, not '200'
--dropout-in 1|--dropout-in wants a number from 0 to 0.99, not '1'
--dropout-out -0.1|--dropout-out wants a number from 0 to 0.99, not '-0.1'
--weight-decay -1|--weight-decay wants a number from 0 to
--lr-decay 0|--lr-decay wants a number from 1e-06 to 1, not '0'
--lr-decay 1.5|--lr-decay wants a number from 1e-06 to 1, not '1.5'
--lr-patience -1|--lr-patience wants an integer from 0 to
EOF
# the meter counts the time that silent steps would lose: the two cannot go together
# shellcheck disable=SC2086
expect "--meter with --strip-silence is a usage error" 2 "$G" train $J3 --hidden 8 --epochs 1 --meter --strip-silence -o "$T/e.safetensors"
has "--meter with --strip-silence says why" "$T/err" "the meter inputs need the rests kept: add --no-meter, or --keep-silence"
# shellcheck disable=SC2086
expect "--strip-silence --no-meter trains" 0 "$G" train $J3 --hidden 8 --epochs 1 --strip-silence --no-meter -o "$T/strip.safetensors"
has "stripped, without the meter" "$T/err" "silent steps stripped, binary rolls, 128 features; parts:"
# shellcheck disable=SC2086
expect "a loss that blows up stops the run" 1 "$G" train $J3 --hidden 8 --head sigmoid --loss mse --lr 1e30 --epochs 3 -o "$T/e.safetensors"
has "the NaN stop says so" "$T/err" "became NaN or infinite in epoch 1; no model was written"
[ ! -e "$T/e.safetensors" ] && ok "failed runs write no model" || bad "a failed run wrote $T/e.safetensors"

[ -z "$(ls "$T" | grep '\.tmp-')" ] && ok "no temporary files left" || bad "temporary files left: $(ls "$T")"

cli_end
