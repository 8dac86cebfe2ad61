/* features.c - the features of one piece (docs/metrics.md defines each). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "metrics/metrics.h"

const gb_feature_info gb_features[GB_F_COUNT] = {
    {"pitch_count", "pitch count", "Yang & Lerch", "pitches", 1, 0},
    {"pitch_class_histogram", "pitch class histogram", "Yang & Lerch", "share", 12, 1},
    {"pitch_class_transitions", "pitch class transitions", "Yang & Lerch", "share", 144, 13},
    {"pitch_range", "pitch range", "Yang & Lerch", "semitones", 1, 157},
    {"pitch_interval", "average pitch interval", "Yang & Lerch", "semitones", 1, 158},
    {"note_count", "note count", "Yang & Lerch", "notes", 1, 159},
    {"inter_onset_interval", "average inter-onset interval", "Yang & Lerch", "quarters", 1, 160},
    {"note_length_histogram", "note length histogram", "Yang & Lerch", "share", 12, 161},
    {"polyphony", "polyphony", "MusPy", "pitches", 1, 173},
    {"polyphony_rate", "polyphony rate", "MusPy", "share", 1, 174},
    {"scale_consistency", "scale consistency", "MusPy", "share", 1, 175},
    {"pitch_entropy", "pitch entropy", "MusPy", "bits", 1, 176},
    {"pitch_class_entropy", "pitch class entropy", "MusPy", "bits", 1, 177},
    {"empty_beat_rate", "empty beat rate", "MusPy", "share", 1, 178},
    {"groove_consistency", "groove consistency", "MusPy", "share", 1, 179},
};

const double gb_length_classes[12] = {4,   2,     1,    0.5,     0.25,    3,
                                      1.5, 0.75,  0.375, 4.0 / 3, 2.0 / 3, 1.0 / 3};
const char *const gb_length_class_names[12] = {
    "whole", "half", "quarter", "8th", "16th", "dotted half", "dotted quarter", "dotted 8th",
    "dotted 16th", "half triplet", "quarter triplet", "8th triplet"};

const char *gb_undef_str(gb_undef u) {
    switch (u) {
    case GB_UNDEF_NONE: return "defined";
    case GB_UNDEF_NO_NOTES: return "the piece has no notes";
    case GB_UNDEF_ONE_NOTE: return "an interval needs two notes";
    case GB_UNDEF_ONE_ONSET: return "an inter-onset interval needs two onset times";
    case GB_UNDEF_ONE_BAR: return "groove consistency needs two bars";
    default: return "?";
    }
}

/* ------------------------------------------------------------------------------------------ */
/* a piece's notes */

static int cmp_note(const void *a, const void *b) {
    const gb_note *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->pitch != y->pitch) return x->pitch < y->pitch ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

gb_status gb_piece_notes_of(const gb_song *s, gb_piece_notes *out, gb_error *err) {
    memset(out, 0, sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < s->n_parts; i++)
        if (!s->parts[i].is_drum) n += s->parts[i].n_notes;
    if (n && !(out->notes = malloc(n * sizeof *out->notes)))
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu notes", n);
    for (size_t i = 0; i < s->n_parts; i++) {
        const gb_part *p = &s->parts[i];
        if (p->is_drum) continue;
        for (size_t k = 0; k < p->n_notes; k++) {
            gb_note nt = p->notes[k];
            if (nt.end <= nt.start) nt.end = nt.start + 1; /* cut at its track's end: one tick */
            out->notes[out->n++] = nt;
        }
    }
    if (out->n) qsort(out->notes, out->n, sizeof *out->notes, cmp_note);
    out->tpq = gb_song_ticks_per_quarter(s);
    out->bar_num = 4, out->bar_den = 4;
    if (s->n_timesigs && s->timesigs[0].numerator && s->timesigs[0].denominator)
        out->bar_num = s->timesigs[0].numerator, out->bar_den = s->timesigs[0].denominator;
    return GB_OK;
}

void gb_piece_notes_free(gb_piece_notes *p) {
    free(p->notes);
    memset(p, 0, sizeof *p);
}

static gb_status notes_like(const gb_piece_notes *p, size_t n, gb_piece_notes *out,
                            gb_error *err) {
    memset(out, 0, sizeof *out);
    out->tpq = p->tpq, out->bar_num = p->bar_num, out->bar_den = p->bar_den;
    if (n && !(out->notes = malloc(n * sizeof *out->notes)))
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu notes", n);
    return GB_OK;
}

gb_status gb_piece_notes_cut(const gb_piece_notes *p, uint64_t t0, uint64_t len,
                             gb_piece_notes *out, gb_error *err) {
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) n += p->notes[i].start >= t0 && p->notes[i].start - t0 < len;
    gb_status st = notes_like(p, n, out, err);
    if (st != GB_OK) return st;
    for (size_t i = 0; i < p->n; i++) {
        gb_note nt = p->notes[i];
        if (nt.start < t0 || nt.start - t0 >= len) continue;
        nt.start -= t0;
        nt.end = nt.end - t0 > len ? len : nt.end - t0;
        out->notes[out->n++] = nt;
    }
    return GB_OK;
}

gb_status gb_piece_notes_random(const gb_piece_notes *p, int steps_per_beat, gb_rng *rng,
                                gb_piece_notes *out, gb_error *err) {
    if (steps_per_beat < 1) return gb_fail(err, GB_ERR_ARG, -1, "steps per beat must be >= 1");
    gb_status st = notes_like(p, p->n, out, err);
    if (st != GB_OK || !p->n) return st;
    uint64_t span = 0;
    int lo = 127, hi = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->notes[i].end > span) span = p->notes[i].end;
        if (p->notes[i].pitch < lo) lo = p->notes[i].pitch;
        if (p->notes[i].pitch > hi) hi = p->notes[i].pitch;
    }
    /* onsets on the grid inside [0, span): step k at tick k * tpq / steps_per_beat */
    uint64_t steps = span * (uint64_t)steps_per_beat / (uint64_t)p->tpq;
    if (steps < 1) steps = 1;
    for (size_t i = 0; i < p->n; i++) out->notes[i] = p->notes[i];
    for (size_t i = p->n - 1; i > 0; i--) { /* the lengths shuffled: Fisher-Yates */
        size_t j = (size_t)gb_rng_below(rng, i + 1);
        gb_note t = out->notes[i];
        out->notes[i] = out->notes[j], out->notes[j] = t;
    }
    for (size_t i = 0; i < p->n; i++) {
        gb_note *nt = &out->notes[i];
        uint64_t len = nt->end - nt->start;
        nt->start = gb_rng_below(rng, steps) * (uint64_t)p->tpq / (uint64_t)steps_per_beat;
        nt->end = nt->start + len;
        nt->pitch = (uint8_t)(lo + (int)gb_rng_below(rng, (uint64_t)(hi - lo + 1)));
    }
    out->n = p->n;
    qsort(out->notes, out->n, sizeof *out->notes, cmp_note);
    return GB_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* the features */

static double entropy_bits(const double *count, int n, double total) {
    double h = 0;
    for (int i = 0; i < n; i++)
        if (count[i] > 0) h -= count[i] / total * log2(count[i] / total);
    return h + 0.0; /* no -0 */
}

/* The nearest of the 12 length classes to a length in quarter notes (ties: the first). */
static int length_class(double q) {
    int best = 0;
    for (int c = 1; c < 12; c++)
        if (fabs(gb_length_classes[c] - q) < fabs(gb_length_classes[best] - q)) best = c;
    return best;
}

typedef struct {
    uint64_t t;
    int d; /* +1 a pitch starts sounding, -1 it stops */
} edge;

static int cmp_edge(const void *a, const void *b) {
    const edge *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->d - y->d; /* at one tick, stops before starts */
}

/* Polyphony and polyphony rate from the time each number of pitches sounds. A pitch's
 * overlapping notes are merged first: a pitch sounds or not, as in a binary piano roll. */
static gb_status sounding(const gb_piece_notes *p, double *poly, double *rate, gb_error *err) {
    edge *e = malloc(2 * p->n * sizeof *e);
    if (!e) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    size_t ne = 0;
    uint64_t open_end[128] = {0}, open_start[128];
    int open[128] = {0};
    uint64_t span = 0;
    for (size_t i = 0; i < p->n; i++) { /* notes by start: merge each pitch's runs */
        const gb_note *nt = &p->notes[i];
        int k = nt->pitch;
        if (nt->end > span) span = nt->end;
        if (open[k] && nt->start <= open_end[k]) {
            if (nt->end > open_end[k]) open_end[k] = nt->end;
            continue;
        }
        if (open[k]) e[ne++] = (edge){open_start[k], 1}, e[ne++] = (edge){open_end[k], -1};
        open[k] = 1, open_start[k] = nt->start, open_end[k] = nt->end;
    }
    for (int k = 0; k < 128; k++)
        if (open[k]) e[ne++] = (edge){open_start[k], 1}, e[ne++] = (edge){open_end[k], -1};
    qsort(e, ne, sizeof *e, cmp_edge);
    double pitch_time = 0, any = 0, multi = 0;
    int c = 0;
    for (size_t i = 0; i + 1 < ne; i++) {
        c += e[i].d;
        double dt = (double)(e[i + 1].t - e[i].t);
        pitch_time += c * dt;
        any += (c > 0) * dt;
        multi += (c > 1) * dt;
    }
    free(e);
    *poly = pitch_time / any; /* any > 0: every note lasts a tick at least */
    *rate = multi / (double)span;
    return GB_OK;
}

gb_status gb_features_of(const gb_piece_notes *p, int steps_per_beat, gb_piece_features *out,
                         gb_error *err) {
    memset(out, 0, sizeof *out);
    if (steps_per_beat < 1 || p->tpq < 1)
        return gb_fail(err, GB_ERR_ARG, -1, "steps per beat and ticks per quarter must be >= 1");
    const size_t n = p->n;
    const double tpq = p->tpq;
    double *v = out->v;
#define AT(f) (v + gb_features[f].offset)
    AT(GB_F_NOTE_COUNT)[0] = (double)n;
    if (n == 0) {
        for (int f = 0; f < GB_F_COUNT; f++)
            if (f != GB_F_NOTE_COUNT && f != GB_F_PITCH_COUNT) out->undef[f] = GB_UNDEF_NO_NOTES;
        return GB_OK;
    }
    double pitch_hist[128] = {0}, pc_hist[12] = {0};
    int lo = 127, hi = 0;
    uint64_t span = 0;
    for (size_t i = 0; i < n; i++) {
        const gb_note *nt = &p->notes[i];
        pitch_hist[nt->pitch]++, pc_hist[nt->pitch % 12]++;
        if (nt->pitch < lo) lo = nt->pitch;
        if (nt->pitch > hi) hi = nt->pitch;
        if (nt->end > span) span = nt->end;
        AT(GB_F_LENGTH_HIST)[length_class((double)(nt->end - nt->start) / tpq)] += 1.0 / n;
    }
    int used = 0;
    for (int k = 0; k < 128; k++) used += pitch_hist[k] > 0;
    AT(GB_F_PITCH_COUNT)[0] = used;
    for (int c = 0; c < 12; c++) AT(GB_F_PC_HIST)[c] = pc_hist[c] / n;
    AT(GB_F_PITCH_RANGE)[0] = hi - lo;
    AT(GB_F_PITCH_ENTROPY)[0] = entropy_bits(pitch_hist, 128, (double)n);
    AT(GB_F_PC_ENTROPY)[0] = entropy_bits(pc_hist, 12, (double)n);

    /* consecutive notes in (start, pitch) order */
    if (n < 2) {
        out->undef[GB_F_PITCH_INTERVAL] = GB_UNDEF_ONE_NOTE;
    } else {
        double sum = 0;
        for (size_t i = 1; i < n; i++) sum += abs(p->notes[i].pitch - p->notes[i - 1].pitch);
        AT(GB_F_PITCH_INTERVAL)[0] = sum / (double)(n - 1);
    }

    /* onset groups: notes starting at one tick; transitions run from every note of a group to
     * every note of the next */
    size_t onsets = 1, transitions = 0;
    double *tm = AT(GB_F_PC_TRANS);
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a + 1; b < n && p->notes[b].start == p->notes[a].start;) b++;
        size_t c_end = b;
        while (c_end < n && p->notes[c_end].start == p->notes[b].start) c_end++;
        if (b == n) break;
        onsets++;
        for (size_t i = a; i < b; i++)
            for (size_t j = b; j < c_end; j++, transitions++)
                tm[(p->notes[i].pitch % 12) * 12 + p->notes[j].pitch % 12] += 1;
    }
    if (onsets < 2) {
        out->undef[GB_F_PC_TRANS] = out->undef[GB_F_IOI] = GB_UNDEF_ONE_ONSET;
    } else {
        for (int k = 0; k < 144; k++) tm[k] /= (double)transitions;
        AT(GB_F_IOI)[0] = (double)(p->notes[n - 1].start - p->notes[0].start) / tpq /
                          (double)(onsets - 1);
    }

    gb_status st = sounding(p, AT(GB_F_POLYPHONY), AT(GB_F_POLY_RATE), err);
    if (st != GB_OK) return st;

    /* scale consistency: the major scales; the natural minor ones are the same pitch-class
     * sets (A minor = C major), so 12 sets cover MusPy's 24 scales */
    static const int major[7] = {0, 2, 4, 5, 7, 9, 11};
    double best = 0;
    for (int root = 0; root < 12; root++) {
        double in = 0;
        for (int d = 0; d < 7; d++) in += pc_hist[(root + major[d]) % 12];
        if (in > best) best = in;
    }
    AT(GB_F_SCALE)[0] = best / n;

    /* empty beats: beat k spans ticks [k tpq, (k + 1) tpq); beats up to the last note's end */
    uint64_t T = (uint64_t)p->tpq, beats = (span + T - 1) / T;
    uint8_t *full = calloc(beats, 1);
    if (!full) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %llu beats",
                              (unsigned long long)beats);
    for (size_t i = 0; i < n; i++)
        for (uint64_t k = p->notes[i].start / T; k <= (p->notes[i].end - 1) / T; k++) full[k] = 1;
    uint64_t empty = 0;
    for (uint64_t k = 0; k < beats; k++) empty += !full[k];
    free(full);
    AT(GB_F_EMPTY_BEAT)[0] = (double)empty / (double)beats;

    /* groove: onset patterns of the bars on the grid; bars up to the last note's end */
    uint64_t bar_steps = (uint64_t)llround(4.0 * p->bar_num / p->bar_den * steps_per_beat);
    if (bar_steps < 1) bar_steps = 1;
    uint64_t spb = (uint64_t)steps_per_beat;
    uint64_t last_step = (p->notes[n - 1].start * spb * 2 + T) / (2 * T); /* halves up */
    uint64_t end_steps = (span * spb + T - 1) / T;
    uint64_t bars = (end_steps + bar_steps - 1) / bar_steps;
    if (last_step / bar_steps + 1 > bars) bars = last_step / bar_steps + 1;
    if (bars < 2) {
        out->undef[GB_F_GROOVE] = GB_UNDEF_ONE_BAR;
    } else {
        uint8_t *on = calloc(bars * bar_steps, 1);
        if (!on) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %llu bars",
                                (unsigned long long)bars);
        for (size_t i = 0; i < n; i++) on[(p->notes[i].start * spb * 2 + T) / (2 * T)] = 1;
        uint64_t diff = 0;
        for (uint64_t k = bar_steps; k < bars * bar_steps; k++) diff += on[k] != on[k - bar_steps];
        free(on);
        AT(GB_F_GROOVE)[0] = 1.0 - (double)diff / (double)(bar_steps * (bars - 1));
    }
#undef AT
    return GB_OK;
}
