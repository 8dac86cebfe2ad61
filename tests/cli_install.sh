#!/usr/bin/env bash
# cli_install.sh GROOVYBEE - `make install` into a scratch prefix: the binary, the shared library
# with its soname and the static one, the header, a pkg-config file a program builds with (the
# examples examples/*.c, run against the installed library and model), a man page per command that
# lists every option of its --help; DESTDIR stages under another root with the prefix's paths;
# `make uninstall` leaves no file behind. Runs on the release build (the sanitizer build's
# library would need its runtime in every program linked to it). Ends with "N passed, N failed".
set -u
. "$(dirname "$0")/cli_lib.sh"

B=$(realpath --relative-to=. "$(dirname "$G")")
if [ "$B" != build ]; then
    echo "skip: make install is checked on the release build (this is $B)"
    cli_end
    exit 0
fi
V=$(sed -n 's/^#define GB_VERSION "\(.*\)"/\1/p' include/groovybee.h)
P=$T/prefix
expect "make install PREFIX=..." 0 make -s --no-print-directory install B=build PREFIX="$P"
for f in bin/groovybee "lib/libgroovybee.so.$V" lib/libgroovybee.so.0 lib/libgroovybee.so \
    lib/libgroovybee.a include/groovybee.h lib/pkgconfig/groovybee.pc \
    share/man/man1/groovybee.1 share/man/man1/groovybee-train.1 \
    share/groovybee/default.safetensors share/groovybee/primers/beethoven__ode.mid; do
    [ -e "$P/$f" ] && ok "installs $f" || bad "no $P/$f"
done
readelf -d "$P/lib/libgroovybee.so.$V" | grep -q 'SONAME.*\[libgroovybee.so.0\]' \
    && ok "the library's soname is libgroovybee.so.0" || bad "soname: $(readelf -d "$P/lib/libgroovybee.so.$V" | grep SONAME)"
expect "the installed binary runs" 0 "$P/bin/groovybee" --version
has "... and says its version" "$T/out" "groovybee $V"

# the first tune: the shipped model and its primers, from another directory
expect "generate -o song.mid with no model, installed, elsewhere" 0 env -C "$T" \
    "$P/bin/groovybee" generate -o "$T/song.mid" --seed 3 --seconds 10
has "... says it uses the shipped model" "$T/err" "the shipped model $P/share/groovybee/default.safetensors"
has "... primed from the installed primers" "$T/err" "primed with $P/share/groovybee/primers/"
$PY -c "import mido, sys; m = mido.MidiFile(sys.argv[1]); n = sum(1 for t in m.tracks for e in t if e.type == 'note_on' and e.velocity); assert n >= 5 and m.length > 5, (n, m.length)" "$T/song.mid" \
    && ok "... and writes music mido reads (notes, 10 s)" || bad "song.mid: not music"

# a man page per command, each listing every option its --help lists
for c in $("$G" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p'); do
    page=$P/share/man/man1/groovybee-$c.1
    if [ ! -f "$page" ]; then bad "no man page for $c"; continue; fi
    missing=""
    for o in $("$G" "$c" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
        sed 's/\\-/-/g; s/\\f[BIRP]//g' "$page" | grep -q -- "$o" || missing="$missing $o"
    done
    [ -z "$missing" ] && ok "groovybee-$c(1) lists every option of its --help" \
        || bad "groovybee-$c(1) lacks$missing"
done
if command -v man >/dev/null 2>&1; then
    MANWIDTH=100 man -l "$P/share/man/man1/groovybee-train.1" >"$T/man" 2>/dev/null
    has "man renders groovybee-train(1)" "$T/man" "GROOVYBEE-TRAIN"
fi

# a program built with pkg-config against the installed library
export PKG_CONFIG_PATH=$P/lib/pkgconfig
flags=$(pkg-config --cflags --libs groovybee) && ok "pkg-config knows groovybee: $flags" \
    || bad "pkg-config does not find groovybee.pc"
[ "$(pkg-config --modversion groovybee)" = "$V" ] && ok "pkg-config gives the version" \
    || bad "pkg-config version $(pkg-config --modversion groovybee)"
# shellcheck disable=SC2086
expect "the example builds with pkg-config" 0 cc -std=c11 examples/parts.c $flags -o "$T/parts"
expect "... and runs on the installed library" 0 env LD_LIBRARY_PATH="$P/lib" "$T/parts" \
    data/jsb/jsb_train_000.mid
has "... reading a file's parts" "$T/out" "part 0: track"
LD_LIBRARY_PATH="$P/lib" ldd "$T/parts" | grep -q "libgroovybee.so.0 => $P/lib/" \
    && ok "... the shared one, by its soname" || bad "ldd: $(LD_LIBRARY_PATH="$P/lib" ldd "$T/parts" | grep groovybee)"
expect "a bad file: the example reports the library's error" 1 env LD_LIBRARY_PATH="$P/lib" \
    "$T/parts" README.md
has "... naming the file" "$T/err" "README.md"
# a C++ program links it too (the header's extern "C")
printf '#include <groovybee.h>\nint main() { gb_model *m = nullptr; gb_error e;\n  return gb_model_load("none", &m, &e) == GB_ERR_IO ? 0 : 1; }\n' >"$T/cpp.cpp"
# shellcheck disable=SC2086
expect "a C++ program builds with pkg-config" 0 c++ -std=c++11 -Wall -Werror "$T/cpp.cpp" $flags \
    -o "$T/cpp"
expect "... and calls the library" 0 env LD_LIBRARY_PATH="$P/lib" "$T/cpp"
# the model API's two examples, on the installed library and the model installed beside it
for x in generate train; do
    # shellcheck disable=SC2086
    expect "examples/$x.c builds with pkg-config" 0 cc -std=c11 examples/$x.c $flags -o "$T/$x"
done
expect "examples/generate runs the installed model on the installed library" 0 \
    env -C "$T" LD_LIBRARY_PATH="$P/lib" "$T/generate" "$P/share/groovybee/default.safetensors" \
    "$T/ex.mid" 5
has "... primed from the installed primers (run elsewhere)" "$T/out" "$P/share/groovybee/primers/"
expect "... a file groovybee reads" 0 "$P/bin/groovybee" info "$T/ex.mid"
expect "examples/train trains on the installed library" 0 env LD_LIBRARY_PATH="$P/lib" \
    "$T/train" data/jsb "$T/ex.safetensors" epochs=1 hidden=8 max-windows=16
has "... saying its epoch" "$T/out" "epoch 1/1: train"

# DESTDIR: staged under another root, with the prefix's own paths inside
expect "make install DESTDIR=... PREFIX=/usr/local" 0 make -s --no-print-directory install \
    B=build PREFIX=/usr/local DESTDIR="$T/stage"
[ -x "$T/stage/usr/local/bin/groovybee" ] && ok "DESTDIR stages the files" \
    || bad "nothing under $T/stage/usr/local"
has "the staged .pc names the prefix, not the stage" "$T/stage/usr/local/lib/pkgconfig/groovybee.pc" \
    "prefix=/usr/local"

# uninstall: nothing left
expect "make uninstall" 0 make -s --no-print-directory uninstall B=build PREFIX="$P"
left=$(find "$P" ! -type d | wc -l)
[ "$left" = 0 ] && ok "uninstall leaves no file" || bad "left: $(find "$P" ! -type d | head -5)"
expect "make uninstall DESTDIR=..." 0 make -s --no-print-directory uninstall B=build \
    PREFIX=/usr/local DESTDIR="$T/stage"
left=$(find "$T/stage" ! -type d | wc -l)
[ "$left" = 0 ] && ok "... there too" || bad "left: $(find "$T/stage" ! -type d | head -5)"

cli_end
