#!/bin/sh
# deps.sh GROUP... - installs the Debian packages a make target needs, only those missing.
# Groups: build (library and CLI), test (make test), fuzz (make fuzz), man (make install).
# Quiet and quick when everything is there, so make can call it on every run.
set -eu
pkgs=""
for g in "$@"; do
    case "$g" in
    build) pkgs="$pkgs gcc make pkg-config libopenblas-dev libdnnl-dev libgomp1 libpng-dev libfluidsynth-dev fluid-soundfont-gm openmpi-bin libopenmpi-dev libjansson-dev libssl-dev" ;;
    test) pkgs="$pkgs python3 python3-mido python3-numpy help2man chromium g++" ;;
    man) pkgs="$pkgs help2man" ;;
    fuzz) pkgs="$pkgs clang libclang-rt-14-dev" ;;
    *) echo "deps.sh: unknown group '$g'" >&2; exit 2 ;;
    esac
done
missing=""
for p in $pkgs; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps.sh: installing missing Debian packages:$missing" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps.sh: need root (or sudo) to install:$missing" >&2; exit 1; }
    sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; update once, then install.
$sudo apt-get update -q >&2
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing >&2
