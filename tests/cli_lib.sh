# cli_lib.sh - sourced by the tests/cli_*.sh scripts: $G (the groovybee binary given as $1),
# $T (a scratch directory removed on exit), $PY (the Debian python3 with mido and NumPy), and the
# checks ok/bad/expect/has; `cli_end` prints the closing "N passed, N failed" line.
G=$(realpath "$1")
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
# expect NAME WANTED_STATUS COMMAND...: runs it with stdout/stderr in $T/out and $T/err
expect() {
    local name=$1 want=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" = "$want" ]; then ok "$name"; else
        bad "$name: exit $got, expected $want"; sed 's/^/    /' "$T/err" | head -5; fi
}
has() { # has NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then ok "$1"; else bad "$1: '$3' not in $(head -c 300 "$2")"; fi
}
cli_end() {
    echo "$passed passed, $failed failed"
    [ $failed = 0 ]
}
