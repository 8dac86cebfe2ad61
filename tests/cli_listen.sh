#!/usr/bin/env bash
# cli_listen.sh GROOVYBEE - the blind listening test: `listen make` writes pairs of WAVs of
# exactly the same length, a key apart whose SHA-256 (sha256sum's) the page shows, the same kit
# for the same seed; a real browser (headless chromium) answers the page's pairs as scripted and
# the answers it would download score as expected; `listen score` against Python's Wilson
# interval and exact binomial test; bad files named. Skips the browser with a reason where
# chromium is missing. Ends with "N passed, N failed".
set -u
. "$(dirname "$0")/cli_lib.sh"

mkdir -p "$T/gen"
for s in 1 2; do "$G" generate -o "$T/gen/p$s.mid" --seed $s --seconds 12 -q 2>/dev/null; done
REF=(data/classical/mozart__menuet_k2.mid data/classical/beethoven__ode.mid)
expect "listen --help" 0 "$G" listen --help
expect "listen without make or score" 2 "$G" listen
expect "listen make without -o" 2 "$G" listen make "$T/gen" --reference "${REF[@]}"
expect "listen make" 0 "$G" listen make "$T/gen" --reference "${REF[@]}" -o "$T/kit" --pairs 6 \
    --seconds 4 --seed 5
K=$T/kit
sha=$(sha256sum "$K/key.json" | cut -d' ' -f1)
grep -q "<code id=\"sha256\">$sha</code>" "$K/index.html" && ok "the page shows the key's SHA-256 ($sha)" \
    || bad "the page's SHA-256 is not sha256sum's $sha"
if $PY - "$K" >"$T/py" 2>&1 <<'EOF'
import glob, json, sys, wave
k = json.load(open(sys.argv[1] + "/key.json"))
assert [p["pair"] for p in k["pairs"]] == list(range(1, 7)), k
assert all(p["human"] in "AB" for p in k["pairs"]) and {p["human"] for p in k["pairs"]} == {"A", "B"}
wavs = sorted(glob.glob(sys.argv[1] + "/pairs/*.wav"))
assert len(wavs) == 12, wavs
for w in wavs:
    f = wave.open(w)
    assert f.getnframes() == 5 * f.getframerate(), (w, f.getnframes())  # 4 s + 1 s of release
print("6 pairs, both orders drawn, 12 WAVs of exactly 5.0 s")
EOF
then ok "the kit: $(cat "$T/py")"; else bad "the kit: $(tail -3 "$T/py")"; fi
"$G" listen make "$T/gen" --reference "${REF[@]}" -o "$T/kit2" --pairs 6 --seconds 4 --seed 5 2>/dev/null
cmp -s "$K/key.json" "$T/kit2/key.json" && ok "the same seed, the same key" || bad "the same seed gave another key"
grep -qiE '(https?|ftp)://' "$K/index.html" && bad "the page names a network address" || ok "the page works offline"
truth=$($PY -c 'import json,sys; print("".join(p["human"] for p in json.load(open(sys.argv[1]))["pairs"]))' "$K/key.json")
wrong=$(echo "$truth" | tr AB BA)

# a browser answers as scripted; what Save would download is scored
if command -v chromium >/dev/null 2>&1; then
    for who in "right:$truth:1" "wrong:$wrong:0"; do
        IFS=: read -r name answers want <<<"$who"
        chromium --headless=new --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
            --virtual-time-budget=5000 --dump-dom "file://$K/index.html#selftest=$name:$answers" \
            >"$T/dom" 2>"$T/console"
        sed -n 's/.*<pre id="answers">\(.*\)<\/pre>.*/\1/p' "$T/dom" | sed 's/&quot;/"/g' >"$T/$name.json"
        if grep -q CONSOLE "$T/console"; then bad "console messages: $(grep CONSOLE "$T/console" | head -2)"
        else ok "$name: no console message"; fi
        expect "$name: listen score --json" 0 "$G" listen score "$K/key.json" "$T/$name.json" --json
        $PY -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["accuracy"] == float(sys.argv[2]) and o["answers"] == 6 and o["listeners"][0]["listener"] == sys.argv[3], o' \
            "$T/out" "$want" "$name" && ok "$name: the browser's answers score $want" \
            || bad "$name: $(head -c 300 "$T/out")"
    done
else
    echo "skip: chromium is not installed (scripts/deps.sh test installs it): the page is not answered in a browser"
fi

# score against Python: three listeners, 4 + 3 + 6 of 6 right
$PY - "$K/key.json" "$T" <<'EOF'
import json, sys
truth = [p["human"] for p in json.load(open(sys.argv[1]))["pairs"]]
flip = {"A": "B", "B": "A"}
for name, right in (("ann", 4), ("bob", 3), ("cy", 6)):
    ans = [{"pair": i + 1, "human": h if i < right else flip[h]} for i, h in enumerate(truth)]
    json.dump({"listener": name, "answers": ans}, open("%s/%s.json" % (sys.argv[2], name), "w"))
EOF
expect "listen score, three listeners" 0 "$G" listen score "$K/key.json" "$T/ann.json" "$T/bob.json" "$T/cy.json" --json
if $PY - "$T/out" <<'EOF' >"$T/py" 2>&1
import json, math, sys
o = json.load(open(sys.argv[1]))
def wilson(k, n, z=1.959963984540054):
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0, c - h), min(1, c + h)
def binom(k, n):
    d = abs(2 * k - n)
    return min(1, sum(math.comb(n, i) for i in range(n + 1) if abs(2 * i - n) >= d) / 2 ** n)
for got, (k, n) in [(o, (13, 18))] + list(zip(o["listeners"], [(4, 6), (3, 6), (6, 6)])):
    assert got["right"] == k and got["answers"] == n, got
    assert abs(got["accuracy"] - k / n) < 1e-12, got
    lo, hi = wilson(k, n)
    assert abs(got["interval95"][0] - lo) < 1e-9 and abs(got["interval95"][1] - hi) < 1e-9, (got, lo, hi)
    assert abs(got["p_value"] - binom(k, n)) < 1e-9, (got, binom(k, n))
assert o["could_not_tell"] is True  # 13 of 18: [0.49, 0.87]
print("13 of 18: interval [%.4f, %.4f], p %.4f, as Python computes them" % (*o["interval95"], o["p_value"]))
EOF
then ok "score: $(cat "$T/py")"; else bad "score: $(tail -3 "$T/py")"; fi
expect "listen score, the table" 0 "$G" listen score "$K/key.json" "$T/ann.json" "$T/bob.json" "$T/cy.json"
has "... says listeners could not tell" "$T/out" "listeners could not tell"
expect "listen score, one sure listener" 0 "$G" listen score "$K/key.json" "$T/cy.json" "$T/cy.json" "$T/cy.json"
has "... 18 of 18: listeners could tell" "$T/out" "listeners could tell"

# bad files, named
echo "not json" >"$T/bad.json"
expect "answers that are not JSON" 1 "$G" listen score "$K/key.json" "$T/bad.json"
has "... named" "$T/err" "bad.json"
expect "a key that is not a key" 1 "$G" listen score "$T/ann.json" "$T/bob.json"
has "... named" "$T/err" "ann.json: not a listening kit's key"
# a folder holding a dangling link named .mid (the walk's skip hook was called though NULL)
mkdir "$T/dangling" && cp "$T"/gen/*.mid "$T/dangling/" && ln -s "$T/nowhere.mid" "$T/dangling/x.mid"
expect "listen make over a folder with a dangling .mid link" 0 "$G" listen make "$T/dangling" \
    --reference "${REF[@]}" -o "$T/kit3" --pairs 1 --seconds 2

cli_end
