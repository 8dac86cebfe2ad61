#!/usr/bin/python3
"""parse_mido.py - MIDI parse throughput of Python's mido, the baseline for bench/parse.sh.

Usage: /usr/bin/python3 bench/parse_mido.py [-t SECONDS] PATH...
Collects files exactly as bench_parse does (a file as given, a directory walked for *.mid /
*.midi case-insensitively, all sorted by path), reads them into memory, then times whole passes
of mido.MidiFile(file=io.BytesIO(data)) with time.monotonic(): at least one pass, more until
SECONDS (default 0: one pass) have passed. Prints one line in bench_parse's format, MB = 1e6:
  level=mido bytes=N files=N passes=N seconds=S mb_s=X files_s=Y errors=E items=I
errors counts the files mido rejects (per pass); items is messages per pass, all tracks.
"""
import io
import os
import sys
import time

import mido


def collect(path, explicit, out):
    if os.path.isfile(path):
        if explicit or os.path.splitext(path)[1].lower() in (".mid", ".midi"):
            out.append(path)
    elif os.path.isdir(path):
        for name in os.listdir(path):
            collect(os.path.join(path, name), False, out)
    else:
        sys.exit("parse_mido.py: cannot stat %s" % path)


def one_pass(blobs):
    errors = items = 0
    for data in blobs:
        try:
            mf = mido.MidiFile(file=io.BytesIO(data))
        except Exception:  # noqa: BLE001 - any rejection counts the same
            errors += 1
            continue
        items += sum(len(t) for t in mf.tracks)
    return errors, items


def main(argv):
    min_seconds = 0.0
    if len(argv) > 2 and argv[1] == "-t":
        min_seconds = float(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) < 2:
        sys.exit("usage: parse_mido.py [-t SECONDS] PATH...")
    paths = []
    for p in argv[1:]:
        collect(p, True, paths)
    if not paths:
        sys.exit("parse_mido.py: no MIDI files found")
    # Byte order, as strcmp in bench_parse.
    paths.sort(key=os.fsencode)
    blobs = []
    for p in paths:
        with open(p, "rb") as f:
            blobs.append(f.read())
    nbytes = sum(len(b) for b in blobs)

    passes = 0
    t0 = time.monotonic()
    while True:
        errors, items = one_pass(blobs)
        passes += 1
        dt = time.monotonic() - t0
        if dt >= min_seconds:
            break
    print("level=mido bytes=%d files=%d passes=%d seconds=%.4f mb_s=%.3f files_s=%.2f "
          "errors=%d items=%d" % (nbytes, len(paths), passes, dt, nbytes * passes / dt / 1e6,
                                  len(paths) * passes / dt, errors, items), flush=True)


if __name__ == "__main__":
    main(sys.argv)
