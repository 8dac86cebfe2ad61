#!/usr/bin/env bash
# cli_resume.sh GROOVYBEE - `train --resume` as people use it: the same command plus --resume
# goes on; an option whose value differs from the run's is refused naming both values; a bare
# --resume keeps the run's --epochs, --patience and --max-windows; --resume before anything was
# written starts the run. Then training killed with SIGKILL at 20 random moments and resumed each
# time: every model file on disk loads, and the final files are byte-identical to an
# uninterrupted run's. Ends with "N passed, N failed".
set -u
. "$(dirname "$0")/cli_lib.sh"

J=(data/jsb/jsb_train_00[0-2].mid)
RUN=(--hidden 16 --epochs 2 --max-windows 32 --patience 4 --threads 1 -q)

# ---- the same command plus --resume
expect "a run of 2 epochs" 0 "$G" train "${J[@]}" "${RUN[@]}" -o "$T/m.safetensors"
expect "the same command plus --resume" 0 "$G" train "${J[@]}" "${RUN[@]}" --resume \
    -o "$T/m.safetensors"
has "... says the run is done" "$T/err" "already trained 2 epochs"
expect "a bare --resume" 0 "$G" train "${J[@]}" --resume -o "$T/m.safetensors"
has "... keeps the run's 2 epochs (not the preset's 100)" "$T/err" "already trained 2 epochs"
has "... keeps its patience and its windows" "$T/err" "run: epochs 2, patience 4, at most 32 windows"
expect "--resume --epochs 3" 0 "$G" train "${J[@]}" --resume --epochs 3 -q -o "$T/m.safetensors"
has "... trains the third" "$T/err" "done: 3 epochs"
expect "a bare --resume again" 0 "$G" train "${J[@]}" --resume -o "$T/m.safetensors"
has "... keeps the 3 given last" "$T/err" "already trained 3 epochs"

# ---- a value that differs is refused, naming both
for o in "--hidden 32:32 here, 16" "--preset events:events here, roll" "--transpose 2:2 here, 6" \
    "--head sigmoid:sigmoid here, nade" "--no-meter:off here, on" "--seed 5:5 here, 1" \
    "--lr 0.01:0.01 here, 0.003"; do
    opt=${o%%:*} want=${o#*:}
    # shellcheck disable=SC2086
    expect "resume refuses $opt" 2 "$G" train "${J[@]}" --resume $opt -o "$T/m.safetensors"
    has "... naming both values" "$T/err" "$want in the run being resumed"
done
# shellcheck disable=SC2086
expect "the run's own values are accepted" 0 "$G" train "${J[@]}" --resume --preset roll \
    --hidden 16 --transpose 6 --seed 1 --lr 0.003 --meter -q -o "$T/m.safetensors"

# ---- --resume with nothing written yet starts the run
expect "--resume before any file" 0 "$G" train "${J[@]}" "${RUN[@]}" --resume -o "$T/new.safetensors"
has "... says it starts" "$T/err" "no run at $T/new.safetensors yet: starting it"
cmp -s "$T/new.safetensors" "$T/m.safetensors" 2>/dev/null && bad "two runs share a file" || true
[ -s "$T/new.safetensors" ] && ok "... and writes the model" || bad "no model written"

# ---- SIGKILL at 20 random moments, resumed each time, against an uninterrupted run
K=(data/jsb/jsb_train_0[0-3]*.mid --hidden 16 --epochs 60 --max-windows 128 --threads 1 -q)
expect "the uninterrupted run" 0 "$G" train "${K[@]}" -o "$T/u.safetensors"
RANDOM=13 # the moments: seeded
live=0 unloadable=0
for i in $(seq 20); do
    "$G" train "${K[@]}" --resume -o "$T/k.safetensors" 2>>"$T/kill.err" &
    pid=$!
    sleep "0.$((RANDOM % 45 + 5))"
    kill -9 $pid 2>/dev/null && live=$((live + 1))
    wait $pid 2>/dev/null
    if [ -e "$T/k.safetensors" ] &&
        ! "$G" generate "$T/k.safetensors" --primer data/jsb/jsb_train_000.mid --steps 4 \
            -o "$T/k.mid" >/dev/null 2>&1; then
        unloadable=$((unloadable + 1))
    fi
done
[ $live -ge 15 ] && ok "$live of 20 kills hit a running job" || bad "only $live of 20 kills hit a running job"
[ $unloadable = 0 ] && ok "every model file on disk loaded" || bad "$unloadable model files did not load"
expect "the killed run finishes" 0 "$G" train "${K[@]}" --resume -o "$T/k.safetensors"
cmp -s "$T/k.safetensors" "$T/u.safetensors" && ok "the model is the uninterrupted run's, byte for byte" \
    || bad "the killed run's model differs from the uninterrupted one's"
cmp -s "$T/k.optim.safetensors" "$T/u.optim.safetensors" \
    && ok "... and so is the optimizer state" || bad "the optimizer state differs"

cli_end
