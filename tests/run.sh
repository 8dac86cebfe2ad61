#!/usr/bin/env bash
# run.sh BUILD_DIR... - runs every test program and CLI script (tests/cli_*.sh) of each build
# (the first build also runs the mido cross-check of the whole corpus), then prints the sum of
# their closing "N passed, N failed" lines. A program that dies before its closing line counts as one failure.
set -u
total_p=0 total_f=0
run() { # run LABEL COMMAND...
    local label=$1 out line p f
    shift
    out=$("$@" 2>&1)
    local rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    if [ -z "$line" ]; then
        p=0 f=1
        printf '%s\n' "$out" | tail -20
        echo "FAIL $label: exit $rc without a closing line"
    else
        p=${line%% passed*}
        f=${line#*, }
        f=${f%% failed*}
        if [ "$f" != 0 ] || [ "$rc" != 0 ]; then
            printf '%s\n' "$out" | grep -E 'FAIL|ERROR|error' | head -40
            [ "$f" = 0 ] && f=1 # a non-zero exit is a failure even if the count missed it
        fi
    fi
    printf '%-40s %s\n' "$label" "$p passed, $f failed"
    total_p=$((total_p + p))
    total_f=$((total_f + f))
}
first=1
for b in "$@"; do
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] && run "$b: $(basename "$t")" "$t"
    done
    for c in tests/cli_*.sh; do
        [ "$c" = tests/cli_lib.sh ] || run "$b: $(basename "$c")" "$c" "$b/groovybee"
    done
    if [ $first = 1 ]; then
        # the fp32 products by both libraries (gemm.h: GB_GEMM_FP32), whichever is the default
        for lib in openblas onednn; do
            for t in test_gemm test_lstm test_torch_parity test_stream; do
                run "$b: $t (fp32 by $lib)" env GB_GEMM_FP32=$lib "$b/tests/$t"
            done
        done
        # a CPU without bf16 instructions (oneDNN capped below them): the bf16 tests skip
        for t in test_gemm test_bf16 test_stream; do
            run "$b: $t (no bf16: DNNL_MAX_CPU_ISA=AVX2)" env DNNL_MAX_CPU_ISA=AVX2 "$b/tests/$t"
        done
        run "$b: mido_check.py (corpus)" /usr/bin/python3 tests/mido_check.py "$b/groovybee" data/jsb data/classical
    fi
    first=0
done
echo "$total_p passed, $total_f failed"
[ $total_f = 0 ]
