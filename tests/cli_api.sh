#!/usr/bin/env bash
# cli_api.sh BUILD/groovybee - the library's model API (include/groovybee.h, "Models") through
# the two example programs built beside it (BUILD/examples/train, BUILD/examples/generate):
# each must give, byte for byte, the files the CLI gives for the same options, since both are
# meant to be the same code; and their errors must name what is wrong.
. "$(dirname "$0")/cli_lib.sh"
X=$(dirname "$G")/examples
J=data/jsb
SMALL=(epochs=2 hidden=16 max-windows=64 threads=1 seed=3)

# ---- train on a folder: the CLI's model and optimizer files, bit for bit
expect "examples/train on a folder" 0 "$X/train" $J "$T/lib.safetensors" "${SMALL[@]}"
has "... a line per epoch through the progress callback" "$T/out" "epoch 2/2: train 0."
has "... the configuration through the message hook" "$T/err" "model: LSTM 1 x 16, NADE head"
has "... the corpus too" "$T/err" "corpus: "
has "... and the best epoch" "$T/out" "$T/lib.safetensors: epoch "
expect "groovybee train with the same options" 0 "$G" train $J -o "$T/cli.safetensors" -q \
    --epochs 2 --hidden 16 --max-windows 64 --threads 1 --seed 3
cmp -s "$T/lib.safetensors" "$T/cli.safetensors" && ok "... the same model file" ||
    bad "the library's model differs from the CLI's"
cmp -s "$T/lib.optim.safetensors" "$T/cli.optim.safetensors" && ok "... the same optim file" ||
    bad "the library's optimizer file differs from the CLI's"
expect "examples/train, resumed to 3 epochs" 0 "$X/train" $J "$T/lib.safetensors" \
    "${SMALL[@]}" resume epochs=3
has "... trains the third" "$T/out" "epoch 3/3: train"
expect "groovybee train --resume to 3 epochs" 0 "$G" train $J -o "$T/cli.safetensors" -q \
    --resume --epochs 3
cmp -s "$T/lib.safetensors" "$T/cli.safetensors" && ok "... the same model file again" ||
    bad "resumed, the library's model differs from the CLI's"

# ---- under mpirun the example trains with every rank, as `groovybee train` does (cli_mpi.sh
# says why the ranks run without leak checks under AddressSanitizer)
MPI=(mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS=detect_leaks=0 -np 2)
expect "examples/train under mpirun -np 2" 0 "${MPI[@]}" "$X/train" $J "$T/mpi.safetensors" \
    "${SMALL[@]}"
[ "$(grep -c "epoch 2/2: train" "$T/out")" = 1 ] && ok "... rank 0 alone reports" ||
    bad "epoch lines: $(grep -c "epoch 2/2" "$T/out")"
expect "groovybee train under mpirun -np 2" 0 "${MPI[@]}" "$G" train $J -o "$T/mpi2.safetensors" \
    -q --epochs 2 --hidden 16 --max-windows 64 --threads 1 --seed 3
cmp -s "$T/mpi.safetensors" "$T/mpi2.safetensors" && ok "... the same model file" ||
    bad "under mpirun the library's model differs from the CLI's"

# ---- generate from it: the CLI's MIDI file, bit for bit
expect "examples/generate" 0 "$X/generate" "$T/lib.safetensors" "$T/lib.mid" 7
has "... summarizes the model" "$T/out" "preset roll, roll, LSTM 1 x 16"
has "... and the song" "$T/out" "part 1: Acoustic Grand Piano, "
expect "groovybee generate with the same options" 0 "$G" generate "$T/lib.safetensors" \
    -o "$T/cli.mid" --seconds 20 --seed 7
cmp -s "$T/lib.mid" "$T/cli.mid" && ok "... the same MIDI file" ||
    bad "the library's song differs from the CLI's"
"$PY" - "$T/lib.mid" >"$T/m" 2>&1 <<'PY' && ok "mido reads it: $(cat "$T/m")" || bad "mido: $(cat "$T/m")"
import sys, mido
f = mido.MidiFile(sys.argv[1])
notes = sum(1 for t in f.tracks for m in t if m.type == "note_on" and m.velocity > 0)
assert notes > 0 and 19 <= f.length <= 21, (notes, f.length)
print(f"{notes} notes, {f.length:.1f} s")
PY

# ---- errors name what is wrong, and write nothing
expect "an unknown option" 2 "$X/train" $J "$T/x.safetensors" hiddn=16
has "... is named" "$T/err" "no option 'hiddn'"
expect "a value out of range" 2 "$X/train" $J "$T/x.safetensors" layers=9
has "... says what it wants" "$T/err" "--layers wants an integer from 1 to 4, not '9'"
expect "options that contradict each other" 1 "$X/train" $J "$T/x.safetensors" preset=events \
    onsets
has "... say why" "$T/err" "do not apply"
expect "a folder that is not there" 1 "$X/train" "$T/none" "$T/x.safetensors" epochs=1
has "... is named" "$T/err" "$T/none"
[ ! -e "$T/x.safetensors" ] && ok "... and no model file is written" || bad "a model file was written"
expect "a model that is not one" 1 "$X/generate" README.md "$T/y.mid"
has "... is named" "$T/err" "README.md"
[ ! -e "$T/y.mid" ] && ok "... and no MIDI file is written" || bad "a MIDI file was written"
cli_end
