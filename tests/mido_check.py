#!/usr/bin/python3
"""mido_check.py GROOVYBEE FILE_OR_DIR... - the independent check of the MIDI reader.

For every MIDI file, reads it with Python's mido (Debian python3-mido), pairs notes with the rule
of docs/midi.md, builds parts and the tempo map here, and compares the result with
`groovybee notes FILE`: integers exactly, seconds within 2e-6 (the CSV prints 6 decimals).
One test per file; ends with "N passed, N failed". Run with Debian's /usr/bin/python3."""
import os
import subprocess
import sys

import mido


def tempo_map(mid, span=mido.tick2second):
    """[(tick, seconds, usec)] per track for format 2, one list for all tracks otherwise; span
    (ticks, ticks per quarter, usec per quarter) -> seconds of a stretch at one tempo."""
    def build(events):
        events.sort(key=lambda e: e[0])  # stable: file order at equal ticks
        out, tick0, sec0, us = [], 0, 0.0, 500000
        for tick, tempo in events:
            sec0 += span(tick - tick0, mid.ticks_per_beat, us)
            tick0, us = tick, tempo
            out.append((tick, sec0, us))
        return out

    per_track = []
    for track in mid.tracks:
        tick, ev = 0, []
        for msg in track:
            tick += msg.time
            if msg.type == 'set_tempo':
                ev.append((tick, msg.tempo))
        per_track.append(ev)
    if mid.type == 2:
        return [build(ev) for ev in per_track]
    merged = build([e for ev in per_track for e in ev])
    return [merged] * len(mid.tracks)


def seconds(tmap, tick, tpq, span=mido.tick2second):
    tick0, sec0, us = 0, 0.0, 500000
    for t, s, u in tmap:
        if t > tick:
            break
        tick0, sec0, us = t, s, u
    return sec0 + span(tick - tick0, tpq, us)


def mido_notes(path):
    mid = mido.MidiFile(path)
    tmaps = tempo_map(mid)
    parts = {}  # (track, channel, program) -> [(start, end, pitch, velocity)]
    for ti, track in enumerate(mid.tracks):
        program = [0] * 16
        open_ = {}  # (channel, pitch) -> [(start, velocity, program)]
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == 'end_of_track':
                break
            if msg.type == 'program_change':
                program[msg.channel] = msg.program
            elif msg.type == 'note_off' or (msg.type == 'note_on' and msg.velocity == 0):
                key = (msg.channel, msg.note)
                keep = []
                for start, vel, prog in open_.get(key, []):
                    if start < tick:
                        parts.setdefault((ti, msg.channel, prog), []).append(
                            (start, tick, msg.note, vel))
                    else:
                        keep.append((start, vel, prog))
                open_[key] = keep
            elif msg.type == 'note_on':
                open_.setdefault((msg.channel, msg.note), []).append(
                    (tick, msg.velocity, program[msg.channel]))
        for (ch, pitch), lst in open_.items():
            for start, vel, prog in lst:
                parts.setdefault((ti, ch, prog), []).append((start, tick, pitch, vel))
    rows = []
    for pi, key in enumerate(sorted(parts)):
        track, ch, prog = key
        for start, end, pitch, vel in parts[key]:
            rows.append((start, pi, pitch, end, vel, track, ch, prog))
    rows.sort()
    out = []
    for start, pi, pitch, end, vel, track, ch, prog in rows:
        tm = tmaps[track]
        out.append((pi, track, ch, prog, pitch, vel, start, end,
                    seconds(tm, start, mid.ticks_per_beat), seconds(tm, end, mid.ticks_per_beat)))
    return out


def groovybee_notes(exe, path):
    r = subprocess.run([exe, 'notes', path], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError('groovybee notes exited %d: %s' % (r.returncode, r.stderr.strip()))
    lines = r.stdout.splitlines()
    if lines[0] != 'part,track,channel,program,pitch,velocity,start_tick,end_tick,start_s,end_s':
        raise RuntimeError('bad CSV header: ' + lines[0])
    out = []
    for line in lines[1:]:
        f = line.split(',')
        out.append(tuple(int(x) for x in f[:8]) + (float(f[8]), float(f[9])))
    return out


def compare(exe, path):
    want = mido_notes(path)
    got = groovybee_notes(exe, path)
    if len(want) != len(got):
        return 'mido finds %d notes, groovybee %d' % (len(want), len(got))
    for i, (w, g) in enumerate(zip(want, got)):
        if w[:8] != g[:8] or abs(w[8] - g[8]) > 2e-6 or abs(w[9] - g[9]) > 2e-6:
            return 'row %d: mido %s, groovybee %s' % (i + 1, w, g)
    return None


def main():
    exe, args = sys.argv[1], sys.argv[2:]
    files = []
    for a in args:
        if os.path.isdir(a):
            files += sorted(os.path.join(a, f) for f in os.listdir(a)
                            if f.lower().endswith(('.mid', '.midi')))
        else:
            files.append(a)
    passed = failed = notes = 0
    for f in files:
        try:
            why = compare(exe, f)
        except Exception as e:  # a crash of either side is a failure of this file's test
            why = '%s: %s' % (type(e).__name__, e)
        if why:
            failed += 1
            print('FAIL mido agrees on %s: %s' % (f, why))
        else:
            passed += 1
    print('mido check: %d files' % len(files))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed or not files else 0


if __name__ == '__main__':
    sys.exit(main())
