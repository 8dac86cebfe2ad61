#!/bin/sh
# demo.sh - the main job on the bundled corpus. For now (the LSTM is the next milestone): every
# file of the corpus through the reader, its parts encoded to piano rolls, and one piece decoded
# from its rolls back into out/demo.mid, which `groovybee info` then describes.
set -eu
G=build/groovybee
mkdir -p out
rm -rf out/rolls
echo "== encoding the bundled corpus (data/) into piano rolls at sixteenth-note steps"
$G encode -o out/rolls data/jsb/*.mid data/classical/*.mid
piece=mozart__KV331_3_RondoAllaTurca
echo "== decoding the rolls of $piece back into one MIDI file"
$G decode out/rolls/$piece.p*.npy -o out/demo.mid --bpm 60  # the piece is written at 60 bpm
$G info out/demo.mid
echo
echo "rolls: out/rolls/ ($(ls out/rolls | wc -l) .npy files; open with numpy.load)"
echo "MIDI:  out/demo.mid"
