#!/bin/sh
# demo.sh [both|roll|events|paper] - the main job on the bundled corpus of the report's
# composers (data/classical: Beethoven, Mozart, Tchaikovsky): train a model of each preset (roll
# and events, ours; paper, the report's), generate a piece from a random window of the corpus
# with each, render it to audio and draw it, draw the training curves, then generate PIECES more
# of SECONDS each (seeds 1..PIECES, default 16 of 30 s) and end with the comparison of those sets
# with the corpus (groovybee compare, docs/metrics.md): one piece says little, a set says how the
# model writes. `make demo` runs all three, `make demo-paper` the paper preset alone with a budget
# of its own. Outputs, for roll (events: demo-events.*, loss-events.png; paper: demo-paper.*,
# loss-paper.png): out/demo.mid, out/demo.wav, out/demo.png, out/loss.png, the model
# out/demo.safetensors with its log out/demo.jsonl; the set out/pieces/demo-NN.mid
# (demo-events-NN.mid, demo-paper-NN.mid); and out/compare.json, out/compare.png.
#
# The budget is about 11 minutes on 2 cores (printed at the start): each epoch sees a random subset of the corpus'
# windows (--max-windows), EPOCHS x WINDOWS in all: for roll DEMO_EPOCHS x DEMO_WINDOWS (10 x
# 20,000); for events DEMO_EVENTS_EPOCHS x DEMO_EVENTS_WINDOWS (12 x 6,000 windows of 128 events); for
# paper, 4 x 5,000 beside the others and 8 x 25,000 alone (DEMO_PAPER_EPOCHS,
# DEMO_PAPER_WINDOWS). Everything is seeded (DEMO_SEED): the same machine and thread count give
# the same files.
set -eu
G=build/groovybee
what=${1:-both}
SEED=${DEMO_SEED:-1}
PIECES=${DEMO_PIECES:-16}
SECONDS_EACH=${DEMO_SECONDS:-30}
mkdir -p out/pieces

# run PRESET NAME LOSS EPOCHS WINDOWS
run() {
    preset=$1 name=$2 loss=$3 epochs=$4 windows=$5
    echo "== training the $preset preset on data/classical ($epochs epochs of $windows windows, seed $SEED)"
    rm -f "out/$name.jsonl"
    $G train data/classical --preset "$preset" --epochs "$epochs" --max-windows "$windows" \
        --patience 0 --seed "$SEED" --log "out/$name.jsonl" -o "out/$name.safetensors"
    echo "== generating $SECONDS_EACH s from a random window of the corpus"
    $G generate "out/$name.safetensors" -o "out/$name.mid" --seed "$SEED" \
        --seconds "$SECONDS_EACH" --wav "out/$name.wav" --png "out/$name.png"
    $G plot --loss "out/$name.jsonl" -o "out/$loss.png" --title "$preset preset on data/classical"
    echo "== generating $PIECES more, seeds 1..$PIECES, for the comparison"
    rm -f out/pieces/"$name"-[0-9]*.mid
    k=1
    while [ $k -le "$PIECES" ]; do
        $G generate "out/$name.safetensors" -o "$(printf 'out/pieces/%s-%02d.mid' "$name" $k)" \
            --seed $k --seconds "$SECONDS_EACH" 2>/dev/null
        k=$((k + 1))
    done
    echo
    echo "model:  out/$name.safetensors (training log out/$name.jsonl)"
    echo "MIDI:   out/$name.mid"
    echo "audio:  out/$name.wav"
    echo "roll:   out/$name.png"
    echo "loss:   out/$loss.png"
    echo
}

# what to expect, measured from a fresh clone on a 2-core Zen 4 guest (10 min 46 s)
[ "$what" = both ] && echo "make demo: about 11 minutes on 2 cores (more on fewer); it trains" \
    "three models from scratch (a trained one ships: build/groovybee generate -o song.mid)"

case $what in
both)
    run roll demo loss "${DEMO_EPOCHS:-10}" "${DEMO_WINDOWS:-20000}"
    run events demo-events loss-events "${DEMO_EVENTS_EPOCHS:-12}" "${DEMO_EVENTS_WINDOWS:-6000}"
    run paper demo-paper loss-paper "${DEMO_PAPER_EPOCHS:-4}" "${DEMO_PAPER_WINDOWS:-5000}"
    set -- out/pieces/demo-[0-9]*.mid --beside out/pieces/demo-events-[0-9]*.mid \
        --beside out/pieces/demo-paper-[0-9]*.mid
    ;;
events)
    run events demo-events loss-events "${DEMO_EVENTS_EPOCHS:-12}" "${DEMO_EVENTS_WINDOWS:-6000}"
    set -- out/pieces/demo-events-[0-9]*.mid
    ;;
roll)
    run roll demo loss "${DEMO_EPOCHS:-10}" "${DEMO_WINDOWS:-20000}"
    set -- out/pieces/demo-[0-9]*.mid
    ;;
paper)
    run paper demo-paper loss-paper "${DEMO_PAPER_EPOCHS:-8}" "${DEMO_PAPER_WINDOWS:-25000}"
    set -- out/pieces/demo-paper-[0-9]*.mid
    ;;
*) echo "demo.sh: unknown preset '$what' (both, roll, events or paper)" >&2; exit 2 ;;
esac
echo "== $PIECES generated pieces against the corpus, in 64-beat segments (docs/metrics.md)"
$G compare "$@" --reference data/classical --segment 64 --baselines --seed "$SEED" \
    --json out/compare.json --png out/compare.png
echo
echo "figures: out/compare.json, histograms: out/compare.png"
