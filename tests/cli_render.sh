#!/usr/bin/env bash
# cli_render.sh GROOVYBEE - `groovybee render`: help with defaults, a chorale rendered to WAV and
# read back by Python's own wave module (format, length, sound), and the failures that must
# leave no file behind. Ends with "N passed, N failed".
set -u
. "$(dirname "$0")/cli_lib.sh"
J=data/jsb/jsb_train_000.mid # 77.4 s (groovybee info)

# ---- help and usage
expect "render --help" 0 "$G" render --help
has "help shows usage" "$T/out" "usage: groovybee render IN.mid -o OUT.wav"
has "help shows the rate default" "$T/out" "[44100]"
has "help shows the gain default" "$T/out" "[0.2]"
has "help names the Debian package" "$T/out" "fluid-soundfont-gm"
GROOVYBEE_SOUNDFONT=/opt/my.sf2 "$G" render -h >"$T/out"
has "help shows the soundfont found here" "$T/out" "here: /opt/my.sf2]"
expect "missing -o is a usage error" 2 "$G" render "$J"
has "missing -o says so" "$T/err" "-o OUT.wav is required"
expect "no input is a usage error" 2 "$G" render -o "$T/x.wav"
expect "bad rate is a usage error" 2 "$G" render "$J" -o "$T/x.wav" --rate 100
has "bad rate says the range" "$T/err" "--rate wants an integer from 8000 to 96000"
expect "bad gain is a usage error" 2 "$G" render "$J" -o "$T/x.wav" --gain loud

# ---- a chorale, checked by an independent reader
expect "render a chorale" 0 "$G" render "$J" -o "$T/j.wav" --rate 22050
has "render sums up what it wrote" "$T/err" "rendered $J to $T/j.wav: 77."
if $PY - "$T/j.wav" <<'PY'; then ok "wave reads 2 x 16 bits at 22050 Hz, 77.4 s + tail, not silent"; else bad "WAV read back by Python's wave"; fi
import array, math, sys, wave
w = wave.open(sys.argv[1], "rb")
assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getcomptype()) == (2, 2, 22050, "NONE")
d = w.getnframes() / 22050
assert 77.4 <= d <= 77.4 + 5, d
w.setpos(30 * 22050)
a = array.array("h", w.readframes(22050))
if sys.byteorder == "big":
    a.byteswap()
rms = math.sqrt(sum(x * x for x in a) / len(a))
assert len(a) == 2 * 22050 and rms > 100, rms  # -50 dBFS; silence is exact zeros
PY
expect "same file, same bytes" 0 "$G" render "$J" -o "$T/j2.wav" --rate 22050
cmp -s "$T/j.wav" "$T/j2.wav" && ok "rendering is deterministic" || bad "two renders differ"

# ---- failures leave no output
expect "missing soundfont fails" 1 "$G" render "$J" -o "$T/a.wav" --soundfont /nonexistent.sf2
has "missing soundfont is named" "$T/err" "soundfont /nonexistent.sf2: No such file or directory"
GROOVYBEE_SOUNDFONT=$T/nope.sf2 "$G" render "$J" -o "$T/a.wav" 2>"$T/err"
has "GROOVYBEE_SOUNDFONT is used and named" "$T/err" "soundfont $T/nope.sf2:"
echo "hello, this is not a soundfont" >"$T/text.sf2"
expect "non-sf2 soundfont fails" 1 "$G" render "$J" -o "$T/a.wav" --soundfont "$T/text.sf2"
has "non-sf2 soundfont is named" "$T/err" "$T/text.sf2: not a SoundFont 2 file"
echo "hello, this is not MIDI" >"$T/text.mid"
expect "non-MIDI input fails" 1 "$G" render "$T/text.mid" -o "$T/a.wav"
has "non-MIDI error names the file and byte" "$T/err" "$T/text.mid: at byte 0: not a MIDI file"
[ ! -e "$T/a.wav" ] && ok "failed renders leave no output" || bad "a failed render left $T/a.wav"
expect "unwritable output fails" 1 "$G" render "$J" -o "$T/no/such/dir/a.wav"
has "unwritable output is named" "$T/err" "$T/no/such/dir/a.wav: cannot"
[ -z "$(ls "$T" | grep '\.tmp-')" ] && ok "no temporary files left" || bad "temporary files left: $(ls "$T")"

cli_end
