#!/usr/bin/python3
"""events_check.py [-v] GROOVYBEE DIR... - the independent check of the performance-event codec.

For every MIDI file of each DIR, in both modes (a stream per part, and --ensemble: a stream per
file):
- the tokens `groovybee encode --events` writes are compared with those of a reference encoder
  written here from note_seq's rules (performance_lib.Performance._from_quantized_sequence, and
  PROGRAM tokens for ensembles as docs/formats.md says), on notes read with mido;
- the streams are decoded back with `groovybee decode --events`, the MIDI file read with mido,
  and each note of the original matched with a decoded one: the same part (or, for ensembles,
  the same GM program or drums), pitch exact, start and end on the 10 ms grid (within 5 ms, an
  end one step after the start for a note shorter than a step), velocity in the same bin of 4.
Prints the share of notes given back per DIR and mode (-v: and each file short of all), the
issue's target being 99%, then "N passed, N failed". Run with Debian's /usr/bin/python3 (mido,
NumPy)."""
import bisect
import glob
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile

import mido
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mido_check  # noqa: E402  (the note pairing of docs/midi.md, rebuilt with mido)

EPS = 1e-6
TARGET = 0.99


# ---- notes in seconds, from mido

# mido_check's tempo map and seconds, with groovybee's float order for a stretch at one tempo
# (ticks * us / (1e6 * tpq)) rather than mido.tick2second's: at a 10 ms grid's rounding edge the
# two round apart, and the tokens are compared with groovybee's arithmetic (with mido's, 32 of
# the 622 streams of data/classical differ).
def span(ticks, tpq, us):
    return ticks * us / (1e6 * tpq)


def parts_of(path):
    """The parts of a MIDI file in groovybee's order (track, channel, program), each a dict with
    prog, drum and notes [(start_s, end_s, pitch, velocity)] in the order of mido_check's rows
    (start tick, pitch, end)."""
    mid = mido.MidiFile(path)
    maps = mido_check.tempo_map(mid, span)
    parts = {}
    for pi, track, ch, prog, pitch, vel, st, en, _, _ in mido_check.mido_notes(path):
        p = parts.setdefault(pi, {'prog': prog, 'drum': ch == 9, 'notes': []})
        tm = maps[track]
        p['notes'].append((mido_check.seconds(tm, st, mid.ticks_per_beat, span),
                           mido_check.seconds(tm, en, mid.ticks_per_beat, span),
                           pitch, vel))
    return [parts[k] for k in sorted(parts)]


# ---- the reference encoder

def ref_encode(parts, ensemble):
    notes = []
    for p in parts:
        inst = (128 if p['drum'] else p['prog']) if ensemble else 0
        for a, b, pitch, vel in p['notes']:
            on, off = int(a * 100 + 0.5), int(b * 100 + 0.5)
            if off <= on:
                off = on + 1
            notes.append((inst, a, pitch, on, off, (vel - 1) // 4 + 1))
    notes.sort(key=lambda n: n[:3])  # stable: ties keep the order of the parts
    edges = sorted([(n[3], i, 0) for i, n in enumerate(notes)] +
                   [(n[4], i, 1) for i, n in enumerate(notes)])
    out, step, vbin, inst = [], 0, 0, None
    for s, i, is_off in edges:
        n = notes[i]
        while s > step + 100:
            out.append(256 + 99)
            step += 100
        if s > step:
            out.append(256 + s - step - 1)
            step = s
        if ensemble and n[0] != inst:
            inst = n[0]
            out.append(388 + inst)
        if not is_off and n[5] != vbin:
            vbin = n[5]
            out.append(356 + vbin - 1)
        out.append((128 if is_off else 0) + n[2])
    return out


# ---- matching

def match(orig, dec):
    """orig, dec: {key: [(start, end, pitch, velocity)]}. Returns the notes of orig that have a
    decoded note within the rules, each decoded note used once."""
    found = 0
    for key, notes in orig.items():
        pool = {}
        for n in dec.get(key, []):
            pool.setdefault(n[2], []).append(n)
        for lst in pool.values():
            lst.sort()
        used = {p: [False] * len(lst) for p, lst in pool.items()}
        for a, b, pitch, vel in sorted(notes):
            lst = pool.get(pitch, [])
            lo = bisect.bisect_left(lst, (a - 0.005 - EPS,))
            best, cost = None, None
            for j in range(lo, len(lst)):
                da, db, _, dv = lst[j]
                if da > a + 0.005 + EPS:
                    break
                if used[pitch][j] or (dv - 1) // 4 != (vel - 1) // 4:
                    continue
                end_ok = abs(db - b) <= 0.005 + EPS or (
                    abs(db - da - 0.01) <= EPS and b <= da + 0.005 + EPS)
                if not end_ok:
                    continue
                c = abs(da - a) + abs(db - b)
                if best is None or c < cost:
                    best, cost = j, c
            if best is not None:
                used[pitch][best] = True
                found += 1
    return found


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError('%s exited %d: %s' % (' '.join(cmd[:3]), r.returncode,
                                                 r.stderr.strip()[:300]))


def check_file(exe, path, parts, tmp, ensemble):
    """(notes, notes given back, streams, streams equal to the reference, problems); parts:
    parts_of(path)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    d = os.path.join(tmp, 'tok')
    for f in glob.glob(os.path.join(d, '*')):
        os.remove(f)
    run([exe, 'encode', '--events'] + (['--ensemble'] if ensemble else []) + [path, '-o', d])
    problems = []
    if ensemble:
        files = [os.path.join(d, stem + '.ensemble.events.npy')]
        refs = [ref_encode(parts, True)]
    else:
        files = sorted(glob.glob(os.path.join(d, stem + '.p*.events.npy')),
                       key=lambda f: int(re.search(r'\.p(\d+)\.t', f).group(1)))
        refs = [ref_encode([p], False) for p in parts]
        if len(files) != len(parts):
            problems.append('%d token files for %d parts' % (len(files), len(parts)))
    same = 0
    for f, ref in zip(files, refs):
        a = np.load(f)
        if a.dtype != np.uint16 or a.ndim != 1:
            problems.append('%s: dtype %s shape %s' % (f, a.dtype, a.shape))
        same += a.tolist() == ref
    # decode: an ensemble stream whole; parts in groups of at most 15 melodic (MIDI's channels)
    groups, cur, mel = [], [], 0
    for i, f in enumerate(files):
        drum = not ensemble and parts[i]['drum']
        if len(cur) == 16 or (not drum and mel == 15):
            groups.append(cur)
            cur, mel = [], 0
        cur.append(i)
        mel += not drum
    if cur:
        groups.append(cur)
    orig, dec = {}, {}
    for p_i, p in enumerate(parts):
        key = ((p['drum'], p['prog']) if not p['drum'] else (True, 0)) if ensemble else p_i
        orig.setdefault(key, []).extend(p['notes'])
    for g, idx in enumerate(groups):
        out = os.path.join(tmp, 'back%d.mid' % g)
        run([exe, 'decode', '--events'] + [files[i] for i in idx] + ['-o', out])
        back = parts_of(out)
        if not ensemble and len(back) != len(idx):
            problems.append('decoded %d parts from %d streams' % (len(back), len(idx)))
            continue
        for j, p in enumerate(back):
            if ensemble:
                key = (True, 0) if p['drum'] else (False, p['prog'])
            else:
                key = idx[j]
                q = parts[key]
                if p['drum'] != q['drum'] or (not q['drum'] and p['prog'] != q['prog']):
                    problems.append('part %d: program %d drum %s, was %d %s' % (
                        key, p['prog'], p['drum'], q['prog'], q['drum']))
            dec.setdefault(key, []).extend(p['notes'])
    total = sum(len(v) for v in orig.values())
    return total, match(orig, dec), len(files), same, problems


def check_both(job):
    """Both modes for one file, in a scratch directory of its own (a worker of the pool)."""
    exe, f = job
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            parts = parts_of(f)
            why = None
        except Exception as ex:
            parts, why = None, '%s: %s' % (type(ex).__name__, ex)
        for ensemble in (False, True):
            try:
                if parts is None:
                    raise RuntimeError(why)
                res[ensemble] = check_file(exe, f, parts, tmp, ensemble)
            except Exception as ex:  # a crash of either side fails the file
                res[ensemble] = (0, 0, 0, 0, ['%s: %s' % (type(ex).__name__, ex)])
    return res


def main():
    args = sys.argv[1:]
    verbose = '-v' in args
    args = [a for a in args if a != '-v']
    exe, dirs = os.path.abspath(args[0]), args[1:]
    passed = failed = 0

    def test(ok, name):
        nonlocal passed, failed
        if ok:
            passed += 1
            print('ok   ' + name)
        else:
            failed += 1
            print('FAIL ' + name)

    with multiprocessing.Pool(min(16, os.cpu_count() or 1)) as pool:
        for d in dirs:
            files = sorted(glob.glob(os.path.join(d, '*.mid')))
            sums = {False: [0, 0, 0, 0, []], True: [0, 0, 0, 0, []]}
            for f, res in zip(files, pool.imap(check_both, [(exe, f) for f in files])):
                for ensemble in (False, True):
                    n, k, s, e, bad = res[ensemble]
                    t = sums[ensemble]
                    t[0], t[1], t[2], t[3] = t[0] + n, t[1] + k, t[2] + s, t[3] + e
                    t[4] += ['%s: %s' % (f, w) for w in bad]
                    if verbose and n and k < n:
                        print('     %s (%s): %d of %d notes given back' % (
                            f, '--ensemble' if ensemble else 'per part', k, n))
            for ensemble in (False, True):
                mode = '--ensemble' if ensemble else 'per part'
                notes, back, streams, same, problems = sums[ensemble]
                share = back / notes if notes else 0
                print('round trip %s %s: %d of %d notes given back (%.3f%%), %d of %d streams '
                      'equal to the reference encoder' % (d, mode, back, notes, 100 * share,
                                                          same, streams))
                for p in problems[:10]:
                    print('     ' + p)
                test(files and not problems, '%s %s: every file encodes and decodes, parts keep '
                     'their program' % (d, mode))
                test(share >= TARGET, '%s %s: encode then decode gives back >= 99%% of the '
                     'notes (%.3f%%)' % (d, mode, 100 * share))
                test(streams and same == streams, '%s %s: the tokens are the reference '
                     'encoder\'s (%d of %d streams)' % (d, mode, same, streams))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
