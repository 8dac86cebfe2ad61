#!/bin/sh
# ship-model.sh - makes the model groovybee ships, by the demo's own recipe (scripts/demo.sh):
# the roll preset on data/classical, 10 epochs of 20,000 windows, seed 1, no early stop. It
# writes models/default.safetensors (about 2 MB: the weights and the run's metadata), its
# training log, and models/primers/: 12 short pieces of data/classical (4 a composer, all
# public domain), whose windows prime `groovybee generate` without a model where the training
# corpus is not at hand (an installed copy, another folder), with their rows of
# data/classical/CREDITS.md. About 5 minutes on 2 cores.
set -eu
cd "$(dirname "$0")/.."
make -s all
PRIMERS="beethoven__ode.mid beethoven__LVB_Sonate_02no1_3.mid beethoven__LVB_Sonate_79_2.mid
beethoven__fur_Elise_WoO59.mid mozart__menuet_k2.mid mozart__mozart_abendruhe.mid
mozart__k453a.mid mozart__k375g.mid tchaikovsky__16OldFrenchSong.mid
tchaikovsky__01MorningPrayer.mid tchaikovsky__05MarchOfTheWoodenSoldiers.mid
tchaikovsky__dansenapolitaine.mid"
mkdir -p models/primers
rm -f models/default.jsonl
build/groovybee train data/classical --preset roll --epochs 10 --max-windows 20000 \
    --patience 0 --seed 1 --log models/default.jsonl -o models/default.safetensors
rm -f models/default.optim.safetensors # the last state is for resuming, not for shipping
rm -f models/primers/*.mid
{
    echo "# Primers of the shipped model"
    echo
    echo "Copied from data/classical by scripts/ship-model.sh; their credits, from"
    echo "data/classical/CREDITS.md (the Mutopia Project; every piece public domain):"
    echo
    grep '^| file ' data/classical/CREDITS.md | head -1 |
        sed 's/at the commit above/at the commit data\/classical\/CREDITS.md names/' 
    grep '^| file ' data/classical/CREDITS.md -A1 | sed -n 2p
    for f in $PRIMERS; do
        cp "data/classical/$f" models/primers/
        grep "^| $f " data/classical/CREDITS.md
    done
} >models/primers/CREDITS.md
echo "shipped: models/default.safetensors ($(wc -c <models/default.safetensors) bytes), $(ls models/primers/*.mid | wc -l) primers"
