#!/bin/sh
# install.sh install|uninstall - `make install` and `make uninstall`: one list of what is
# installed, under $DESTDIR$PREFIX, from the build in $B:
#   bin/groovybee
#   lib/libgroovybee.so.VERSION, its soname link libgroovybee.so.MAJOR, libgroovybee.so,
#   lib/libgroovybee.a, lib/pkgconfig/groovybee.pc
#   include/groovybee.h
#   share/man/man1/groovybee.1 and groovybee-COMMAND.1, made by help2man from --help
#   share/groovybee/default.safetensors and primers/ (models/: the model generate uses
#   without one, scripts/ship-model.sh)
# uninstall removes exactly those, then the directories of ours left empty.
# Environment (from the Makefile): B, PREFIX, DESTDIR, VERSION.
set -eu
what=${1:?install or uninstall}
: "${B:?}" "${PREFIX:?}" "${VERSION:?}"
DESTDIR=${DESTDIR:-}
root=$DESTDIR$PREFIX
major=${VERSION%%.*}
# the subcommands, from the binary's own list
cmds=$("$B/groovybee" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p')

files="bin/groovybee lib/libgroovybee.so.$VERSION lib/libgroovybee.so.$major lib/libgroovybee.so
lib/libgroovybee.a lib/pkgconfig/groovybee.pc include/groovybee.h share/man/man1/groovybee.1"
for c in $cmds; do files="$files share/man/man1/groovybee-$c.1"; done
files="$files share/groovybee/default.safetensors share/groovybee/primers/CREDITS.md"
for p in models/primers/*.mid; do files="$files share/groovybee/primers/${p##*/}"; done

if [ "$what" = uninstall ]; then
    for f in $files; do rm -f "$root/$f"; done
    for d in lib/pkgconfig share/man/man1 share/man share/groovybee/primers share/groovybee; do
        rmdir "$root/$d" 2>/dev/null || true
    done
    echo "uninstalled groovybee $VERSION from $root"
    exit 0
fi
[ "$what" = install ] || { echo "install.sh: install or uninstall, not '$what'" >&2; exit 2; }

# man pages: help2man runs `groovybee --help` (and each `groovybee COMMAND --help`) through a
# wrapper of the page's name, so the pages say what --help says, word for word
M=$B/man
rm -rf "$M"
mkdir -p "$M/bin"
bin=$(cd "$B" && pwd)/groovybee
printf '#!/bin/sh\nexec "%s" "$@"\n' "$bin" >"$M/bin/groovybee"
chmod +x "$M/bin/groovybee"
help2man -N -n "learn a MIDI collection with an LSTM and write new music" \
    --version-string="$VERSION" -o "$M/groovybee.1" "$M/bin/groovybee"
for c in $cmds; do
    printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$bin" "$c" >"$M/bin/groovybee-$c"
    chmod +x "$M/bin/groovybee-$c"
    summary=$("$B/groovybee" --help | sed -n "s/^  $c  *//p")
    help2man -N -n "$summary" --version-string="$VERSION" -o "$M/groovybee-$c.1" \
        "$M/bin/groovybee-$c"
done

install -d "$root/bin" "$root/lib/pkgconfig" "$root/include" "$root/share/man/man1"
install -m 755 "$B/groovybee" "$root/bin/groovybee"
install -m 644 "$B/libgroovybee.so.$VERSION" "$root/lib/"
ln -sf "libgroovybee.so.$VERSION" "$root/lib/libgroovybee.so.$major"
ln -sf "libgroovybee.so.$major" "$root/lib/libgroovybee.so"
install -m 644 "$B/libgroovybee.a" "$root/lib/"
install -m 644 include/groovybee.h "$root/include/"
install -m 644 "$M"/*.1 "$root/share/man/man1/"
install -d "$root/share/groovybee/primers"
install -m 644 models/default.safetensors "$root/share/groovybee/"
install -m 644 models/primers/*.mid models/primers/CREDITS.md "$root/share/groovybee/primers/"
# the .pc names the prefix the files will live at (not DESTDIR, a staging root)
cat >"$root/lib/pkgconfig/groovybee.pc" <<EOF
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: groovybee
Description: learn a MIDI collection with an LSTM and write new music
Version: $VERSION
Requires.private: openblas libpng fluidsynth ompi-c jansson libcrypto
Libs: -L\${libdir} -lgroovybee
Libs.private: -ldnnl -fopenmp -lm
Cflags: -I\${includedir}
EOF
echo "installed groovybee $VERSION under $root"
