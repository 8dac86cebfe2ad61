#!/usr/bin/env bash
# cli_plot.sh GROOVYBEE - `groovybee plot` as a user meets it: help with defaults, piano roll,
# --lines and --loss pictures checked as PNGs byte for byte (signature, chunk CRCs, IHDR size,
# inflated pixel rows), a log written by `train` itself, and errors that name the file and leave
# no picture behind. Ends with "N passed, N failed".
set -u
. "$(dirname "$0")/cli_lib.sh"

# png NAME FILE W H: FILE is a valid 8-bit RGB PNG of W x H pixels
png() {
    if $PY - "$2" "$3" "$4" 2>"$T/png.err" <<'PY'; then ok "$1"; else bad "$1: $(tail -1 "$T/png.err")"; fi
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
pos, chunks = 8, []
while pos < len(b):
    n, kind = struct.unpack(">I4s", b[pos:pos + 8])
    data = b[pos + 8:pos + 8 + n]
    assert struct.unpack(">I", b[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + data), kind
    chunks.append((kind, data))
    pos += 12 + n
assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND", [k for k, _ in chunks]
w, h, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
assert (w, h) == (int(sys.argv[2]), int(sys.argv[3])), (w, h)
assert (depth, colour) == (8, 2), (depth, colour)
raw = zlib.decompress(b"".join(d for k, d in chunks if k == b"IDAT"))
assert len(raw) == h * (1 + 3 * w), len(raw)
PY
}
# none NAME: no picture in $T/out.d and no temporary file of an atomic write beside it
none() {
    local left
    left=$(ls -A "$T/out.d"; ls "$T" | grep -F .tmp-)
    if [ -z "$left" ]; then ok "$1"; else bad "$1: left $left"; fi
}
mkdir "$T/out.d"
M=data/classical/mozart__KV331_1_1_tema.mid

# ---- help and usage
expect "plot --help" 0 "$G" plot --help
has "help shows usage" "$T/out" "usage: groovybee plot FILE.mid -o OUT.png"
has "help shows the loss form" "$T/out" "groovybee plot --loss LOG.jsonl -o OUT.png"
has "help shows the default width" "$T/out" "width in pixels, 256 to 8192 [1600]"
has "help shows the default height" "$T/out" "[900]"
has "help shows the default title" "$T/out" "[the input's file name]"
expect "plot without -o is a usage error" 2 "$G" plot "$M"
has "usage error says what is missing" "$T/err" "-o OUT.png is required"
expect "plot without input is a usage error" 2 "$G" plot -o "$T/x.png"
expect "a width too small is a usage error" 2 "$G" plot "$M" -o "$T/x.png" --width 100
has "bad width says the range" "$T/err" "--width wants an integer from 256 to 8192, not '100'"
expect "--loss with a MIDI file is a usage error" 2 "$G" plot --loss "$T/log.jsonl" "$M" -o "$T/x.png"
expect "--lines with --loss is a usage error" 2 "$G" plot --loss "$T/log.jsonl" --lines -o "$T/x.png"
expect "unknown option is a usage error" 2 "$G" plot --frob "$M" -o "$T/x.png"
[ ! -e "$T/x.png" ] && ok "usage errors write nothing" || bad "a usage error wrote $T/x.png"

# ---- pictures
expect "plot a corpus file" 0 "$G" plot "$M" -o "$T/roll.png"
png "the piano roll is a 1600 x 900 PNG" "$T/roll.png" 1600 900
[ ! -s "$T/out" ] && ok "plot prints nothing on stdout" || bad "plot printed: $(head -c 200 "$T/out")"
expect "plot with a size and no title" 0 "$G" plot "$M" -o "$T/small.png" --width 640 --height 360 --title ''
png "the size is what was asked" "$T/small.png" 640 360
expect "plot --lines" 0 "$G" plot --lines "$M" -o "$T/lines.png" --title "predicted notes"
png "the lines figure is a PNG" "$T/lines.png" 1600 900
cmp -s "$T/roll.png" "$T/lines.png" && bad "--lines draws something else" || ok "--lines draws something else"
expect "plot a format 1 orchestral file" 0 "$G" plot data/classical/beethoven__Concerto_No3.mid -o "$T/orch.png" --height 1000
png "the orchestral roll is a PNG" "$T/orch.png" 1600 1000

# a log as `train --log` writes it
expect "train a tiny model with a log" 0 "$G" train data/jsb/jsb_train_00[0-2].mid --hidden 8 --epochs 3 -o "$T/m.safetensors" --log "$T/m.jsonl"
expect "plot --loss of train's log" 0 "$G" plot --loss "$T/m.jsonl" -o "$T/loss.png"
png "the loss curve is a PNG" "$T/loss.png" 1600 900
printf '{"epoch": 1, "train_loss": 0.7, "valid_loss": null}\n\n{"epoch": 2, "train_loss": 0.6}\n' >"$T/noval.jsonl"
expect "plot --loss without validation" 0 "$G" plot --loss "$T/noval.jsonl" -o "$T/noval.png" --width 800 --height 450
png "the training-only curve is a PNG" "$T/noval.png" 800 450

# ---- errors name the file and leave nothing behind
expect "missing input fails" 1 "$G" plot "$T/nope.mid" -o "$T/out.d/x.png"
has "missing input is named" "$T/err" "groovybee: $T/nope.mid: cannot open: No such file or directory"
none "missing input leaves no picture"
echo "hello, this is not MIDI" >"$T/text.mid"
expect "a bad MIDI file fails" 1 "$G" plot "$T/text.mid" -o "$T/out.d/x.png"
has "bad MIDI error names file and byte" "$T/err" "text.mid: at byte 0: not a MIDI file"
none "a bad MIDI file leaves no picture"
printf '{"epoch": 1, "train_loss": 0.7}\n{"epoch": 2, "valid_loss": 0.6}\n' >"$T/bad.jsonl"
expect "a bad log fails" 1 "$G" plot --loss "$T/bad.jsonl" -o "$T/out.d/x.png"
has "bad log error names file and line" "$T/err" "groovybee: $T/bad.jsonl: line 2: no \"train_loss\""
none "a bad log leaves no picture"
printf 'epoch,train_loss\n1,0.5\n' >"$T/csv.jsonl"
expect "a CSV log fails" 1 "$G" plot --loss "$T/csv.jsonl" -o "$T/out.d/x.png"
has "CSV log error says what is wrong" "$T/err" "csv.jsonl: line 1: not a JSON object"
expect "missing log fails" 1 "$G" plot --loss "$T/nope.jsonl" -o "$T/out.d/x.png"
has "missing log is named" "$T/err" "nope.jsonl: cannot open"
none "a missing log leaves no picture"
expect "a directory as output fails" 1 "$G" plot "$M" -o "$T/out.d"
has "directory output error names it" "$T/err" "groovybee: $T/out.d: cannot write"
none "a directory as output is left as it was"

cli_end
