#!/usr/bin/env bash
# cli_mpi.sh GROOVYBEE - data-parallel training with Open MPI on this machine (loopback):
# mpirun -np 2 gives one process's losses within 1e-4 relative over 3 epochs for each preset
# (fp32; docs/testing.md gives the bound), with and without --shard-files; the same seed and N
# give the same files bit for bit; a run resumes with the same N bit for bit and with another N
# within the bound; a killed rank ends the job with the checkpoint still loadable; a rank that
# cannot read its corpus, or reads another one, ends the job naming itself. Rank 0 alone writes.
# eval under mpirun prints one process's output bit for bit.
# Ends with "N passed, N failed".
set -u
. "$(dirname "$0")/cli_lib.sh"

if ! command -v mpirun >/dev/null 2>&1; then
    echo "SKIP cli_mpi.sh: no mpirun (scripts/deps.sh build installs openmpi-bin)"
    bad "mpirun is missing"
    cli_end
    exit 1
fi
# Open MPI's own components leak at MPI_Finalize (dlclosed, so no suppression can name them):
# under AddressSanitizer the ranks run with leak checking off; everything else stays checked,
# and the single-process paths of the same code are leak-checked by the other tests.
MPI=(mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS=detect_leaks=0)
J=data/jsb
SMALL=(--hidden 32 --max-windows 256 --threads 1 --precision fp32 -q)

# same_losses NAME A.jsonl B.jsonl: every epoch's train and valid losses within 1e-4 relative
same_losses() {
    if $PY - "$2" "$3" >"$T/py" 2>&1 <<'EOF'
import json, math, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 3, (len(a), len(b))
worst = 0.0
for x, y in zip(a, b):
    for k in ("train_loss", "valid_loss"):
        assert math.isfinite(x[k]) and math.isfinite(y[k]), (x, y)
        worst = max(worst, abs(x[k] - y[k]) / abs(y[k]))
print("max relative difference %.3g" % worst)
assert worst < 1e-4, worst
EOF
    then ok "$1 ($(cat "$T/py"))"; else bad "$1: $(tail -3 "$T/py")"; fi
}

# ---- 1 rank against 2, each preset (fp32), over 3 epochs
for preset in roll events paper; do
    expect "$preset: one process" 0 "$G" train $J --preset $preset "${SMALL[@]}" --epochs 3 \
        -o "$T/$preset.1.safetensors" --log "$T/$preset.1.jsonl"
    expect "$preset: mpirun -np 2" 0 "${MPI[@]}" -np 2 "$G" train $J --preset $preset \
        "${SMALL[@]}" --epochs 3 -o "$T/$preset.2.safetensors" --log "$T/$preset.2.jsonl"
    has "$preset: rank 0 says the job's shape" "$T/err" "job: 2 ranks (MPI)"
    same_losses "$preset: 2 ranks give one process's losses" "$T/$preset.1.jsonl" "$T/$preset.2.jsonl"
done
has "the log gives the allreduce's time" "$T/roll.2.jsonl" '"allreduce_seconds":'
n=$(grep -c '^done: 3 epochs' "$T/err")
[ "$n" = 1 ] && ok "rank 0 alone reports" || bad "the closing line came $n times"

# ---- the same seed and N: the same files bit for bit
expect "roll: the same job again" 0 "${MPI[@]}" -np 2 "$G" train $J "${SMALL[@]}" --epochs 3 \
    -o "$T/again.safetensors"
cmp -s "$T/roll.2.safetensors" "$T/again.safetensors" && ok "the same job writes the same model" \
    || bad "the same job wrote another model"
cmp -s "$T/roll.2.optim.safetensors" "$T/again.optim.safetensors" \
    && ok "... and the same optimizer state" || bad "the same job wrote another optimizer state"

# ---- shards: each rank reads its half of the files, the same losses
expect "roll: --shard-files" 0 "${MPI[@]}" -np 2 "$G" train $J "${SMALL[@]}" --epochs 3 \
    --shard-files -o "$T/shard.safetensors" --log "$T/shard.jsonl"
has "the corpus is in the ranks' memory" "$T/err" "in the memory of 2 ranks"
has "the shards add up to the corpus" "$T/err" "305 files found, 305 read"
same_losses "shards give one process's losses" "$T/roll.1.jsonl" "$T/shard.jsonl"
expect "events: --shard-files with --valid files" 0 "${MPI[@]}" -np 2 "$G" train $J \
    --preset events "${SMALL[@]}" --epochs 3 --shard-files --valid "$J/*valid_00*" \
    -o "$T/sv.2.safetensors" --log "$T/sv.2.jsonl"
expect "events: one process with those --valid files" 0 "$G" train $J --preset events \
    "${SMALL[@]}" --epochs 3 --valid "$J/*valid_00*" -o "$T/sv.1.safetensors" --log "$T/sv.1.jsonl"
same_losses "shards with --valid give one process's losses" "$T/sv.1.jsonl" "$T/sv.2.jsonl"

# ---- resume: with the same N bit for bit; with another N within the bound
expect "2 ranks, 2 epochs" 0 "${MPI[@]}" -np 2 "$G" train $J "${SMALL[@]}" --epochs 2 \
    -o "$T/r.safetensors" --log "$T/r.jsonl"
cp "$T/r.safetensors" "$T/r1.safetensors"
cp "$T/r.optim.safetensors" "$T/r1.optim.safetensors"
cp "$T/r.jsonl" "$T/r1.jsonl"
expect "... resumed with 2 ranks to 3" 0 "${MPI[@]}" -np 2 "$G" train $J --resume --epochs 3 \
    --max-windows 256 --threads 1 --precision fp32 -q -o "$T/r.safetensors" --log "$T/r.jsonl"
cmp -s "$T/r.safetensors" "$T/roll.2.safetensors" && cmp -s "$T/r.optim.safetensors" \
    "$T/roll.2.optim.safetensors" && ok "resumed with the same N: the uninterrupted job's files" \
    || bad "resumed with the same N: files differ from the uninterrupted job's"
expect "... resumed with 1 process instead" 0 "$G" train $J --resume --epochs 3 --threads 1 \
    --max-windows 256 --precision fp32 -q -o "$T/r1.safetensors" --log "$T/r1.jsonl"
same_losses "resumed with another N: the uninterrupted losses" "$T/roll.1.jsonl" "$T/r1.jsonl"
expect "one process's run resumed with 2 ranks" 0 "${MPI[@]}" -np 2 "$G" train $J --resume \
    --epochs 4 --max-windows 256 --threads 1 --precision fp32 -q -o "$T/roll.1.safetensors" \
    --log "$T/roll.1.jsonl"
[ "$(wc -l <"$T/roll.1.jsonl")" = 4 ] && ok "... to epoch 4, logged once" \
    || bad "the log has $(wc -l <"$T/roll.1.jsonl") lines, want 4"

# ---- eval: the ranks share out the parts; rank 0 prints one process's figures, bit for bit
for fmt in "" --json; do
    expect "eval $fmt: one process" 0 "$G" eval "$T/roll.2.safetensors" $J/jsb_valid_0* $fmt
    mv "$T/out" "$T/eval1"
    expect "eval $fmt: mpirun -np 2" 0 "${MPI[@]}" -np 2 "$G" eval "$T/roll.2.safetensors" \
        $J/jsb_valid_0* $fmt
    cmp -s "$T/out" "$T/eval1" && ok "eval $fmt: 2 ranks print one process's output" \
        || bad "eval $fmt: 2 ranks print otherwise: $(diff "$T/out" "$T/eval1" | head -4)"
done
expect "eval: a rank that read other files ends the job" 1 "${MPI[@]}" \
    -np 1 "$G" eval "$T/roll.2.safetensors" $J/jsb_valid_00* : \
    -np 1 "$G" eval "$T/roll.2.safetensors" $J/jsb_valid_01*
has "... naming it" "$T/err" "rank 1 read other files than rank 0"

# ---- faults
# a rank that cannot read its corpus (mpirun's MPMD form gives rank 1 other arguments)
expect "a rank that cannot read its corpus ends the job" 1 "${MPI[@]}" \
    -np 1 "$G" train $J "${SMALL[@]}" -o "$T/f.safetensors" : \
    -np 1 "$G" train "$T/no-such-folder" "${SMALL[@]}" -o "$T/f.safetensors"
has "... naming the rank" "$T/err" "rank 1 of 2"
has "... and the path" "$T/err" "no-such-folder"
[ ! -e "$T/f.safetensors" ] && ok "... writing nothing" || bad "a failed job wrote a model"
# a rank whose files differ from rank 0's (a host with another copy of the corpus)
expect "a rank that read another corpus ends the job" 1 "${MPI[@]}" \
    -np 1 "$G" train $J "${SMALL[@]}" -o "$T/f.safetensors" : \
    -np 1 "$G" train $J/jsb_train_00* "${SMALL[@]}" -o "$T/f.safetensors"
has "... naming it" "$T/err" "rank 1 read another corpus than rank 0"
# a rank killed during training: the job ends, the last checkpoint loads and resumes
"${MPI[@]}" -np 2 "$G" train $J --hidden 32 --threads 1 --precision fp32 -q --epochs 1000 \
    --patience 0 --max-windows 64 -o "$T/k.safetensors" --log "$T/k.jsonl" >"$T/kout" 2>&1 &
job=$!
while [ ! -s "$T/k.jsonl" ] && kill -0 $job 2>/dev/null; do sleep 0.2; done
victim=""
for p in $(pgrep -f "train $J --hidden 32 --threads 1 --precision fp32 -q --epochs 1000"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
done
if [ -n "$victim" ]; then
    kill -9 "$victim"
    ok "rank 1 killed during training (pid $victim)"
else
    bad "found no rank 1 to kill"
fi
# The job must end by itself. A bound is needed to tell "ended" from "waits forever"; it is
# generous (the ranks' next allreduce comes within a second), and times nothing.
for _ in $(seq 1500); do kill -0 $job 2>/dev/null || break; sleep 0.2; done
if kill -0 $job 2>/dev/null; then
    bad "the job still runs 300 s after a rank died"
    kill -9 $job
fi
wait $job
rc=$?
[ $rc != 0 ] && ok "the job ended with a failure (exit $rc)" || bad "the job exited 0"
grep -q "signal 9" "$T/kout" && ok "mpirun says which rank died" \
    || bad "mpirun did not say: $(tail -5 "$T/kout")"
left=$(pgrep -fc "train $J --hidden 32 --threads 1 --precision fp32 -q --epochs 1000")
[ "$left" = 0 ] && ok "no rank left running" || bad "$left ranks left running"
expect "the model file loads" 0 "$G" generate "$T/k.safetensors" --primer $J/jsb_train_000.mid \
    --steps 8 -o "$T/k.mid"
expect "the run resumes from its files" 0 "$G" train $J --resume --epochs \
    $(($(wc -l <"$T/k.jsonl") + 1)) --max-windows 64 -q -o "$T/k.safetensors"

cli_end
