#!/bin/sh
# demo.sh [roll|paper] - the main job on the bundled corpus of the report's composers
# (data/classical: Beethoven, Mozart, Tchaikovsky): train a model of the preset (roll, the
# default, or paper, the report's), generate a piece from a random window of the corpus, render
# it to audio and draw it, and draw the training curve. Outputs, for roll (paper: demo-paper.*,
# loss-paper.png): out/demo.mid, out/demo.wav, out/demo.png, out/loss.png, and the model
# out/demo.safetensors with its log out/demo.jsonl.
#
# The budget is about 10 minutes on 2 cores: the epochs see a random subset of the corpus'
# windows each (--max-windows), DEMO_EPOCHS x DEMO_WINDOWS in all. Everything is seeded
# (DEMO_SEED): the same machine and thread count give the same files.
set -eu
G=build/groovybee
preset=${1:-roll}
SEED=${DEMO_SEED:-1}
case $preset in
roll)
    name=demo loss=loss
    EPOCHS=${DEMO_EPOCHS:-10} WINDOWS=${DEMO_WINDOWS:-20000}
    ;;
paper)
    name=demo-paper loss=loss-paper
    EPOCHS=${DEMO_EPOCHS:-8} WINDOWS=${DEMO_WINDOWS:-25000}
    ;;
*) echo "demo.sh: unknown preset '$preset' (roll or paper)" >&2; exit 2 ;;
esac
mkdir -p out
echo "== training the $preset preset on data/classical ($EPOCHS epochs of $WINDOWS windows, seed $SEED)"
rm -f "out/$name.jsonl"
$G train data/classical --preset "$preset" --epochs "$EPOCHS" --max-windows "$WINDOWS" \
    --patience 0 --seed "$SEED" --log "out/$name.jsonl" -o "out/$name.safetensors"
echo "== generating 64 beats from a random window of the corpus"
$G generate "out/$name.safetensors" -o "out/$name.mid" --seed "$SEED" \
    --wav "out/$name.wav" --png "out/$name.png"
$G plot --loss "out/$name.jsonl" -o "out/$loss.png" --title "$preset preset on data/classical"
echo
echo "model:  out/$name.safetensors (training log out/$name.jsonl)"
echo "MIDI:   out/$name.mid"
echo "audio:  out/$name.wav"
echo "roll:   out/$name.png"
echo "loss:   out/$loss.png"
