#!/usr/bin/python3
"""metrics_check.py GROOVYBEE FILE... - the independent check of the features of compare.

Reads each file with mido (the note pairing of tests/mido_check.py), computes every feature of
docs/metrics.md here with NumPy, the time-based ones on a binary piano roll at tick resolution
(MusPy's way) rather than by the event sweep groovybee uses, and compares them with the
per-piece values of `groovybee compare FILE... --reference FILE... --json -`. Prints a line per
file and exits non-zero on any difference beyond 1e-9. Run with Debian's /usr/bin/python3."""
import json
import math
import os
import subprocess
import sys

import mido
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mido_check import mido_notes  # noqa: E402

LENGTHS = [4, 2, 1, 0.5, 0.25, 3, 1.5, 0.75, 0.375, 4 / 3, 2 / 3, 1 / 3]
MAJOR = [0, 2, 4, 5, 7, 9, 11]


def entropy(counts):
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def features(path, spb=4):
    mid = mido.MidiFile(path)
    tpq = mid.ticks_per_beat
    sigs = []  # the first time signature in tick order (file order at one tick)
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == 'time_signature':
                sigs.append((tick, msg.numerator, msg.denominator))
    sigs.sort(key=lambda t: t[0])
    num, den = sigs[0][1:] if sigs else (4, 4)
    notes = sorted((start, pitch, max(end, start + 1))
                   for _, _, ch, _, pitch, _, start, end, _, _ in mido_notes(path) if ch != 9)
    n = len(notes)
    f = {'note_count': n, 'pitch_count': len({p for _, p, _ in notes})}
    if n == 0:
        return f
    starts = np.array([s for s, _, _ in notes])
    pitches = np.array([p for _, p, _ in notes])
    ends = np.array([e for _, _, e in notes])
    f['pitch_range'] = int(pitches.max() - pitches.min())
    pc = np.bincount(pitches % 12, minlength=12).astype(float)
    f['pitch_class_histogram'] = list(pc / n)
    f['pitch_entropy'] = entropy(np.bincount(pitches, minlength=128).astype(float))
    f['pitch_class_entropy'] = entropy(pc)
    f['scale_consistency'] = max(sum(pc[(r + d) % 12] for d in MAJOR) for r in range(12)) / n
    if n > 1:
        f['pitch_interval'] = float(np.abs(np.diff(pitches)).mean())
    onsets = sorted(set(starts.tolist()))
    if len(onsets) > 1:
        f['inter_onset_interval'] = float(np.diff(onsets).mean()) / tpq
        tm = np.zeros((12, 12))
        group = {t: [p for s, p, _ in notes if s == t] for t in onsets}
        for a, b in zip(onsets, onsets[1:]):
            for x in group[a]:
                for y in group[b]:
                    tm[x % 12, y % 12] += 1
        f['pitch_class_transitions'] = list((tm / tm.sum()).ravel())
    nlh = np.zeros(12)
    for s, e in zip(starts, ends):
        nlh[int(np.argmin([abs(c - (e - s) / tpq) for c in LENGTHS]))] += 1
    f['note_length_histogram'] = list(nlh / n)
    span = int(ends.max())
    roll = np.zeros((span, 128), bool)
    for s, p, e in notes:
        roll[s:e, p] = True
    count = roll.sum(1)
    f['polyphony'] = float(count.sum() / np.count_nonzero(count))
    f['polyphony_rate'] = float(np.count_nonzero(count >= 2) / span)
    beats = -(-span // tpq)
    f['empty_beat_rate'] = sum(not count[k * tpq:(k + 1) * tpq].any() for k in range(beats)) / beats
    bar = max(1, round(4 * num / den * spb))
    step = (starts * spb * 2 + tpq) // (2 * tpq)
    end_steps = -(-span * spb // tpq)  # rounded up
    bars = max(-(-end_steps // bar), int(step.max()) // bar + 1)
    if bars > 1:
        on = np.zeros(bars * bar, bool)
        on[step] = True
        f['groove_consistency'] = 1 - np.count_nonzero(on[bar:] != on[:-bar]) / (bar * (bars - 1))
    return f


def main():
    exe, files = sys.argv[1], sys.argv[2:]
    out = subprocess.run([exe, 'compare', *files, '--reference', *files, '--json', '-',
                          '--no-copy'], capture_output=True, text=True, check=True).stdout
    pieces = json.loads(out)['sets'][0]['pieces']
    bad = 0
    for path, piece in zip(files, pieces):
        want, got = features(path), piece['features']
        diffs = []
        for key, value in got.items():
            w = want.get(key)
            if w is None or value is None:
                if (w is None) != (value is None):
                    diffs.append(f'{key}: groovybee {value}, mido {w}')
                continue
            a, b = np.atleast_1d(value), np.atleast_1d(w)
            if a.shape != b.shape or np.max(np.abs(a - b)) > 1e-9:
                diffs.append(f'{key}: groovybee {value}, mido {w}')
        print(('FAIL ' if diffs else 'ok   ') + path)
        for d in diffs:
            print('    ' + d[:300])
        bad += bool(diffs)
    if len(pieces) != len(files):
        print(f'FAIL {len(pieces)} pieces for {len(files)} files')
        bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
