/* dataset.c - the compact corpus of dataset.h: walking folders, encoding parts straight from
 * their notes into per-step cell lists (never a dense roll), the meter map, the split by file,
 * windows and the batch cutter with its augmentation. */
#define _POSIX_C_SOURCE 200809L
#include "roll/dataset.h"
#include "events/events.h"
#include "roll/quantise.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------------------------ */
/* encoding options and the part filter */

void gb_ds_encoding_default(gb_ds_encoding *e) {
    memset(e, 0, sizeof *e);
    e->roll.steps_per_beat = 4;
    e->binary = 1;
    memset(e->programs, 1, sizeof e->programs);
}

int gb_ds_features(const gb_ds_encoding *e) {
    if (e->events) return e->events == GB_DS_ENSEMBLE ? GB_EV_VOCAB_ENSEMBLE : GB_EV_VOCAB;
    return e->onsets ? 256 : 128;
}

int gb_ds_in_features(const gb_ds_encoding *e) {
    if (e->events) return 1;
    return gb_ds_features(e) + (e->meter ? GB_DS_METER_FEATURES : 0);
}

int gb_ds_target_features(const gb_ds_encoding *e) {
    return e->events ? 1 : gb_ds_features(e);
}

void gb_ds_filter_clear(gb_ds_encoding *e) {
    e->drums = 0;
    memset(e->programs, 0, sizeof e->programs);
}

static const char *const families[16] = {
    "piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive",
    "sound effects"};

static int contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return n == 0;
}

gb_status gb_ds_filter_add_instrument(gb_ds_encoding *e, const char *name, gb_error *err) {
    if (!name || !*name) return gb_fail(err, GB_ERR_ARG, -1, "empty instrument name");
    if (strcasecmp(name, "drums") == 0) {
        e->drums = 1;
        return GB_OK;
    }
    for (int f = 0; f < 16; f++)
        if (strcasecmp(name, families[f]) == 0) {
            memset(e->programs + 8 * f, 1, 8);
            return GB_OK;
        }
    int found = 0;
    for (int p = 0; p < 128; p++)
        if (contains_nocase(gb_gm_name(p, 0), name)) e->programs[p] = 1, found = 1;
    if (!found)
        return gb_fail(err, GB_ERR_ARG, -1,
                       "no GM instrument or family matches '%s' (try 'piano', 'strings', "
                       "'cello', 'drums')", name);
    return GB_OK;
}

void gb_ds_filter_format(const gb_ds_encoding *e, char *out, size_t cap) {
    int n = 0;
    for (int p = 0; p < 128; p++) n += e->programs[p] != 0;
    if (n == 128 || n == 0) {
        snprintf(out, cap, "%s", n ? "all" : "none");
        return;
    }
    size_t k = 0;
    out[0] = 0;
    for (int p = 0; p < 128; p++) {
        if (!e->programs[p]) continue;
        int q = p;
        while (q + 1 < 128 && e->programs[q + 1]) q++;
        int w = q > p ? snprintf(out + k, cap - k, "%s%d-%d", k ? "," : "", p, q)
                      : snprintf(out + k, cap - k, "%s%d", k ? "," : "", p);
        if (w < 0 || (size_t)w >= cap - k) break; /* 128 programs fit in 512 bytes anyway */
        k += (size_t)w;
        p = q;
    }
}

/* Parses "all", "none" or comma-separated programs and ranges "0-7,40". */
gb_status gb_ds_filter_parse(gb_ds_encoding *e, const char *s, gb_error *err) {
    uint8_t set[128] = {0};
    if (strcmp(s, "all") == 0) {
        memset(e->programs, 1, sizeof e->programs);
        return GB_OK;
    }
    if (strcmp(s, "none") == 0) {
        memset(e->programs, 0, sizeof e->programs);
        return GB_OK;
    }
    const char *p = s;
    for (;;) {
        long a = 0, b;
        if (!isdigit((unsigned char)*p)) goto bad;
        for (; isdigit((unsigned char)*p) && a <= 127; p++) a = a * 10 + (*p - '0');
        b = a;
        if (*p == '-') {
            p++;
            if (!isdigit((unsigned char)*p)) goto bad;
            for (b = 0; isdigit((unsigned char)*p) && b <= 127; p++) b = b * 10 + (*p - '0');
        }
        if (a > 127 || b > 127 || b < a) goto bad;
        for (long k = a; k <= b; k++) set[k] = 1;
        if (*p == 0) break;
        if (*p++ != ',') goto bad;
    }
    memcpy(e->programs, set, sizeof set);
    return GB_OK;
bad:
    return gb_fail(err, GB_ERR_FORMAT, -1,
                   "programs '%.60s': want 'all', 'none' or programs 0..127 and ranges like "
                   "'0-7,40'", s);
}

static int part_taken(const gb_ds_encoding *e, const gb_part *p) {
    return p->is_drum ? e->drums != 0 : e->programs[p->program & 127] != 0;
}

/* ------------------------------------------------------------------------------------------ */
/* the dataset */

static gb_status check_encoding(const gb_ds_encoding *e, gb_error *err) {
    if (e->events < GB_DS_ROLL || e->events > GB_DS_ENSEMBLE)
        return gb_fail(err, GB_ERR_ARG, -1, "unknown representation %d", (int)e->events);
    if (e->events && e->meter)
        return gb_fail(err, GB_ERR_ARG, -1, "meter inputs are for piano rolls: performance "
                       "events keep time in their TIME_SHIFT tokens");
    if (e->events) return GB_OK;
    if (e->roll.step_ticks < 0)
        return gb_fail(err, GB_ERR_ARG, -1, "step_ticks %d is negative", e->roll.step_ticks);
    if (e->roll.step_ticks == 0 && (e->roll.steps_per_beat < 1 || e->roll.steps_per_beat > 960))
        return gb_fail(err, GB_ERR_ARG, -1, "steps_per_beat %d is not in 1..960",
                       e->roll.steps_per_beat);
    if (e->meter && e->roll.strip_silence)
        return gb_fail(err, GB_ERR_ARG, -1, "meter features need the rests kept: stripping "
                       "silent steps loses the time they count");
    return GB_OK;
}

gb_status gb_ds_init(gb_dataset *ds, const gb_ds_encoding *e, gb_error *err) {
    memset(ds, 0, sizeof *ds);
    gb_status s = check_encoding(e, err);
    if (s != GB_OK) return s;
    ds->enc = *e;
    return GB_OK;
}

void gb_ds_free(gb_dataset *ds) {
    if (!ds) return;
    for (size_t i = 0; i < ds->n_files; i++) free(ds->files[i].path), free(ds->files[i].sigs);
    for (size_t i = 0; i < ds->n_parts; i++) free(ds->parts[i].mem);
    free(ds->files);
    free(ds->parts);
    memset(ds, 0, sizeof *ds);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Index of value v in the sorted, unique bnd[0..n) (it is there). */
static uint32_t seg_of(const uint32_t *bnd, uint32_t n, uint32_t v) {
    uint32_t lo = 0, hi = n;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (bnd[mid] <= v) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* Paints one pitch's notes (in their order, so later ones win) over the segments they cover:
 * segv[seg] = velocity, with bit 7 on the segment that is a note's first step when onsets are
 * encoded (that segment is one step long: a + 1 is a boundary then). Returns the range of
 * segments touched in [*lo, *hi). */
static void paint_pitch(const gb_note *notes, const uint32_t *idx, size_t n, const uint32_t *na,
                        const uint32_t *nb, const uint32_t *bnd, uint32_t nseg, int onsets,
                        uint8_t *segv, uint32_t *lo, uint32_t *hi) {
    *lo = nseg, *hi = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t j = idx[i], sa = seg_of(bnd, nseg, na[j]), sg = sa;
        uint8_t v = notes[j].velocity;
        for (; sg < nseg && bnd[sg] < nb[j]; sg++) segv[sg] = v;
        if (onsets) segv[sa] |= 0x80;
        if (sa < *lo) *lo = sa;
        if (sg > *hi) *hi = sg;
    }
}

/* Encodes one part into out (its arrays in one allocation). The steps where a row can change
 * are the notes' first and end steps (and, with onsets, the step after each first one): between
 * two such boundaries every step is the same, so each segment between them is computed once,
 * and the segments become the runs (silent ones dropped when stripping silence). */
static gb_status encode_part(const gb_dataset *ds, const gb_song *s, const gb_part *p,
                             int index, gb_ds_part *out, gb_error *err) {
    const gb_ds_encoding *e = &ds->enc;
    memset(out, 0, sizeof *out);
    gb_quantiser qz;
    gb_status qs = gb_quantiser_of(s, &e->roll, &qz, err);
    if (qs != GB_OK) return qs;
    size_t n = p->n_notes;
    if (n == 0) return GB_OK;
    if (n > UINT32_MAX / 4) return gb_fail(err, GB_ERR_LIMIT, -1, "%zu notes in a part", n);
    uint32_t *na = malloc(n * sizeof *na), *nb = malloc(n * sizeof *nb);
    uint32_t *bnd = malloc((3 * n + 1) * sizeof *bnd), *idx = malloc(n * sizeof *idx);
    uint8_t *segv = NULL;
    uint32_t *segpos = NULL;
    gb_status st = GB_OK;
    if (!na || !nb || !bnd || !idx) {
        st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu notes", n);
        goto out;
    }
    uint64_t steps = 0;
    for (size_t i = 0; i < n; i++) {
        const gb_note *nt = &p->notes[i];
        if (nt->pitch > 127 || nt->velocity < 1 || nt->velocity > 127) {
            st = gb_fail(err, GB_ERR_ARG, -1, "note %zu has pitch %d, velocity %d", i, nt->pitch,
                         nt->velocity);
            goto out;
        }
        uint64_t a, b;
        gb_note_steps(&qz, nt, &a, &b);
        if (b > GB_ROLL_MAX_STEPS) {
            st = gb_fail(err, GB_ERR_LIMIT, -1, "part needs %llu steps, more than the limit of %u",
                         (unsigned long long)b, GB_ROLL_MAX_STEPS);
            goto out;
        }
        na[i] = (uint32_t)a, nb[i] = (uint32_t)b;
        if (b > steps) steps = b;
    }
    /* the boundaries, sorted and unique; the last is `steps`, so nseg segments precede it */
    size_t k = 0;
    bnd[k++] = 0;
    for (size_t i = 0; i < n; i++) {
        bnd[k++] = na[i], bnd[k++] = nb[i];
        if (e->onsets) bnd[k++] = na[i] + 1;
    }
    qsort(bnd, k, sizeof *bnd, cmp_u32);
    uint32_t u = 1;
    for (size_t i = 1; i < k; i++)
        if (bnd[i] != bnd[u - 1]) bnd[u++] = bnd[i];
    uint32_t nseg = u - 1; /* bnd[nseg] == steps */
    /* notes bucketed by pitch, keeping their order (a counting sort) */
    size_t start[129] = {0};
    for (size_t i = 0; i < n; i++) start[p->notes[i].pitch + 1]++;
    for (int q = 0; q < 128; q++) start[q + 1] += start[q];
    {
        size_t fill[128];
        memcpy(fill, start, sizeof fill);
        for (size_t i = 0; i < n; i++) idx[fill[p->notes[i].pitch]++] = (uint32_t)i;
    }
    segv = calloc(nseg, 1);
    segpos = calloc((size_t)nseg + 1, sizeof *segpos);
    if (!segv || !segpos) {
        st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %u segments", nseg);
        goto out;
    }
    /* pass 1: pitches sounding in each segment */
    for (int q = 0; q < 128; q++) {
        uint32_t lo, hi;
        paint_pitch(p->notes, idx + start[q], start[q + 1] - start[q], na, nb, bnd, nseg,
                    e->onsets, segv, &lo, &hi);
        for (uint32_t sg = lo; sg < hi; sg++)
            if (segv[sg]) segpos[sg + 1]++, segv[sg] = 0;
    }
    uint32_t runs = 0;
    for (uint32_t sg = 0; sg < nseg; sg++) {
        if (segpos[sg + 1] || !e->roll.strip_silence) runs++;
        segpos[sg + 1] += segpos[sg]; /* now the first cell of each segment */
    }
    uint32_t total = segpos[nseg];
    /* one allocation: run_start (runs), run_cell (runs + 1), cells (total) */
    size_t bytes = ((size_t)2 * runs + 1) * 4 + (size_t)total * 2;
    uint8_t *mem = malloc(bytes);
    if (!mem) {
        st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %u runs", runs);
        goto out;
    }
    uint32_t *run_start = (uint32_t *)mem, *run_cell = run_start + runs;
    uint16_t *cells = (uint16_t *)(run_cell + runs + 1);
    uint32_t r = 0, kept = 0;
    for (uint32_t sg = 0; sg < nseg; sg++) {
        uint32_t len = bnd[sg + 1] - bnd[sg];
        if (segpos[sg + 1] == segpos[sg] && e->roll.strip_silence) continue;
        run_start[r] = kept, run_cell[r] = segpos[sg];
        r++;
        kept += len;
    }
    run_cell[runs] = total;
    /* pass 2: the cells, pitches ascending within each segment since pitches go in order */
    for (int q = 0; q < 128; q++) {
        uint32_t lo, hi;
        paint_pitch(p->notes, idx + start[q], start[q + 1] - start[q], na, nb, bnd, nseg,
                    e->onsets, segv, &lo, &hi);
        for (uint32_t sg = lo; sg < hi; sg++)
            if (segv[sg]) {
                uint8_t v = segv[sg];
                cells[segpos[sg]++] = (uint16_t)(q | (v & 0x7F) << 7 | (v >> 7) << 14);
                segv[sg] = 0;
            }
    }
    out->steps = kept;
    out->n_runs = runs;
    out->run_start = run_start;
    out->run_cell = run_cell;
    out->cells = cells;
    out->n_cells = total;
    out->mem = mem;
    out->index = index;
    out->track = p->track, out->channel = p->channel, out->program = p->program;
    out->is_drum = p->is_drum;
out:
    free(na), free(nb), free(bnd), free(idx), free(segv), free(segpos);
    return st;
}

static size_t part_bytes(const gb_ds_part *p) {
    if (p->tokens) return (size_t)p->steps * 2;
    return ((size_t)2 * p->n_runs + 1) * 4 + (size_t)p->n_cells * 2;
}

/* Events: parts[0..n) (the taken parts of a song, or one of them) as one token stream in out,
 * which takes the first part's track, channel and program. */
static gb_status encode_events(const gb_dataset *ds, const gb_song *s, const gb_part *parts,
                               size_t n, int index, gb_ds_part *out, gb_error *err) {
    memset(out, 0, sizeof *out);
    gb_events_opts o = {.ensemble = ds->enc.events == GB_DS_ENSEMBLE};
    gb_tokens t;
    gb_status st = gb_events_encode(s, parts, n, &o, &t, err);
    if (st != GB_OK) return st;
    if (t.n > UINT32_MAX) {
        gb_tokens_free(&t);
        return gb_fail(err, GB_ERR_LIMIT, -1, "%zu tokens in a part", t.n);
    }
    out->index = index;
    out->track = parts[0].track, out->channel = parts[0].channel;
    out->program = parts[0].program, out->is_drum = parts[0].is_drum;
    out->steps = (uint32_t)t.n;
    out->tokens = t.v;
    out->mem = t.v;
    return GB_OK;
}

/* The song's time signatures on the step grid, into f: 4/4 from step 0 until the first; one a
 * file cannot mean (numerator or denominator 0) left out; one under which no step starts (the
 * next takes over first) dropped, so that each entry holds from a later step than the one
 * before. The grid's fraction num / den and tpq are kept for gb_ds_meter_row, whose arithmetic
 * needs tpq * num < 2^31 (any MIDI file's: 15-bit division x at most 960 steps a beat). */
static gb_status meter_map(const gb_song *s, const gb_roll_opts *o, gb_ds_file *f,
                           gb_error *err) {
    gb_quantiser q;
    gb_status st = gb_quantiser_of(s, o, &q, err);
    if (st != GB_OK) return st;
    uint64_t tpq = (uint64_t)gb_song_ticks_per_quarter(s);
    if (tpq * q.num >= 1u << 31)
        return gb_fail(err, GB_ERR_LIMIT, -1, "meter: %llu ticks a quarter note in steps of "
                       "1/%llu: too fine a grid", (unsigned long long)tpq,
                       (unsigned long long)q.num);
    gb_ds_timesig *m = malloc((s->n_timesigs + 1) * sizeof *m);
    if (!m) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu time signatures",
                           s->n_timesigs);
    uint32_t n = 0;
    m[n++] = (gb_ds_timesig){0, 0, 4, 4};
    for (size_t i = 0; i < s->n_timesigs; i++) {
        const gb_timesig *t = &s->timesigs[i];
        if (!t->numerator || !t->denominator) continue;
        /* the first step at or after the tick, ceil(tick * num / den), split as gb_quantise
         * does to stay in 64 bits (saturating: such a step is never reached) */
        uint64_t qt = t->tick / q.den, r = t->tick % q.den, up = (r * q.num + q.den - 1) / q.den;
        uint64_t step = qt > (UINT64_MAX - up) / q.num ? UINT64_MAX : qt * q.num + up;
        while (n && m[n - 1].step >= step) n--; /* this one takes over from there */
        m[n++] = (gb_ds_timesig){step, (uint32_t)(up * q.den - r * q.num), t->numerator,
                                 t->denominator};
    }
    gb_ds_timesig *fit = realloc(m, n * sizeof *m);
    f->sigs = fit ? fit : m;
    f->n_sigs = n;
    f->num = (uint32_t)q.num, f->den = (uint32_t)q.den, f->tpq = (uint32_t)tpq;
    return GB_OK;
}

static int note_order(const void *a, const void *b) {
    const gb_note *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return (x->pitch > y->pitch) - (x->pitch < y->pitch);
}

/* The parts of s the filter takes, merged into one part (merged->notes owned; NULL when none):
 * their notes by start, then pitch, the parts' order kept among equals (so that, as within a
 * part, a later note of a pitch overwrites an earlier one). It takes the first part's track,
 * channel and program. */
static gb_status merge_parts(const gb_ds_encoding *e, const gb_song *s, gb_part *merged,
                             size_t *filtered, gb_error *err) {
    memset(merged, 0, sizeof *merged);
    size_t n = 0, taken = 0;
    for (size_t i = 0; i < s->n_parts; i++)
        if (part_taken(e, &s->parts[i])) n += s->parts[i].n_notes, taken++;
    *filtered = s->n_parts - taken;
    if (!n) return GB_OK;
    if (!(merged->notes = malloc(n * sizeof *merged->notes)))
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu notes", n);
    for (size_t i = 0; i < s->n_parts; i++) {
        const gb_part *p = &s->parts[i];
        if (!part_taken(e, p)) continue;
        if (!merged->n_notes) {
            merged->track = p->track, merged->channel = p->channel;
            merged->program = p->program, merged->is_drum = p->is_drum;
        }
        memcpy(merged->notes + merged->n_notes, p->notes, p->n_notes * sizeof *p->notes);
        merged->n_notes += p->n_notes;
    }
    gb_status st = gb_sort_stable(merged->notes, n, sizeof *merged->notes, note_order);
    if (st != GB_OK) {
        free(merged->notes);
        merged->notes = NULL;
        return gb_fail(err, st, -1, "out of memory for %zu notes", n);
    }
    return GB_OK;
}

/* Events of merged parts are one instrument's, which has one key a pitch: where a note starts
 * while another of its pitch sounds (two instruments in unison), the earlier ends there, the key
 * struck again, and of two notes of a pitch that start together the longer is kept. Without
 * this 15% of data/classical's merged NOTE_ONs would strike a sounding pitch, a stack of voices
 * the decoder keeps open until as many NOTE_OFFs come. notes: sorted by start, then pitch. */
static void restrike_unisons(gb_part *p) {
    size_t last[128], k = 0;
    for (int q = 0; q < 128; q++) last[q] = SIZE_MAX;
    for (size_t i = 0; i < p->n_notes; i++) {
        gb_note x = p->notes[i];
        size_t *l = &last[x.pitch & 127];
        if (*l != SIZE_MAX && p->notes[*l].end > x.start) {
            gb_note *y = &p->notes[*l];
            if (y->start == x.start) { /* struck together: one note, the longer */
                if (x.end > y->end) *y = x;
                continue;
            }
            y->end = x.start;
        }
        *l = k;
        p->notes[k++] = x;
    }
    p->n_notes = k;
}

gb_status gb_ds_add_song(gb_dataset *ds, const gb_song *s, const char *path, int valid,
                         gb_error *err) {
    size_t first = ds->n_parts, filtered = 0;
    gb_status st = GB_OK;
    gb_part merged = {0}, *taken = NULL; /* events, one stream a file: the taken parts */
    size_t n_taken = 0;
    int events = ds->enc.events != GB_DS_ROLL;
    int whole = ds->enc.events == GB_DS_ENSEMBLE; /* the taken parts, instruments kept */
    int merge = ds->enc.merge && !whole;
    if (merge && (st = merge_parts(&ds->enc, s, &merged, &filtered, err)) != GB_OK) return st;
    if (merge && events) restrike_unisons(&merged);
    if (whole) {
        if (s->n_parts && !(taken = malloc(s->n_parts * sizeof *taken)))
            return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for parts");
        for (size_t i = 0; i < s->n_parts; i++)
            if (part_taken(&ds->enc, &s->parts[i])) taken[n_taken++] = s->parts[i];
        filtered = s->n_parts - n_taken;
    }
    size_t n_parts = merge ? merged.n_notes > 0 : whole ? n_taken > 0 : s->n_parts;
    for (size_t i = 0; i < n_parts && st == GB_OK; i++) {
        const gb_part *p = merge ? &merged : &s->parts[i];
        if (!merge && !whole && !part_taken(&ds->enc, p)) {
            filtered++;
            continue;
        }
        gb_ds_part dp;
        if (whole) st = encode_events(ds, s, taken, n_taken, 0, &dp, err);
        else if (events) st = encode_events(ds, s, p, 1, merge ? 0 : (int)i, &dp, err);
        else st = encode_part(ds, s, p, merge ? 0 : (int)i, &dp, err); /* merged: the only part */
        if (st != GB_OK) break;
        if (dp.steps == 0) continue; /* no notes: nothing to learn */
        if (gb_grow((void **)&ds->parts, &ds->cap_parts, ds->n_parts + 1, sizeof dp) != GB_OK) {
            free(dp.mem);
            st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for parts");
            break;
        }
        dp.file = ds->n_files;
        ds->parts[ds->n_parts++] = dp;
    }
    free(merged.notes);
    free(taken);
    gb_ds_file fi = {.valid = valid != 0, .first_part = first, .n_parts = ds->n_parts - first};
    if (st == GB_OK && ds->n_parts > first) {
        fi.path = strdup(path ? path : "");
        if (!fi.path ||
            gb_grow((void **)&ds->files, &ds->cap_files, ds->n_files + 1, sizeof *ds->files) !=
                GB_OK)
            st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for files");
        else if (ds->enc.meter)
            st = meter_map(s, &ds->enc.roll, &fi, err);
    }
    if (st != GB_OK) { /* take back this song's parts */
        for (size_t i = first; i < ds->n_parts; i++) free(ds->parts[i].mem);
        ds->n_parts = first;
        free(fi.path);
        return st;
    }
    ds->parts_filtered += filtered;
    if (ds->n_parts == first) {
        ds->files_no_parts++;
        return GB_OK;
    }
    ds->files[ds->n_files++] = fi;
    ds->bytes += fi.n_sigs * sizeof *fi.sigs;
    for (size_t i = first; i < ds->n_parts; i++) {
        ds->steps += ds->parts[i].steps;
        ds->runs += ds->parts[i].n_runs;
        ds->cells += ds->parts[i].n_cells;
        ds->bytes += part_bytes(&ds->parts[i]);
    }
    return GB_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* walking paths */

typedef struct {
    gb_dataset *ds;
    int valid;
    gb_ds_warn_fn warn;
    void *ctx;
    uint64_t at, lo, hi; /* the walk's file count so far; the files [lo, hi) are taken */
    int lead;            /* reports directories that cannot be opened (shard 0) */
} adder;

static void skip(adder *a, const char *path, const gb_error *e) {
    a->ds->files_skipped++;
    if ((unsigned)e->status < GB_DS_N_STATUS) a->ds->skipped_by[e->status]++;
    if (a->warn) a->warn(a->ctx, path, e);
}

/* Whether the walk's next file is this shard's. */
static int mine(adder *a) {
    uint64_t i = a->at++;
    return i >= a->lo && i < a->hi;
}

/* An entry the walk could not open: a file (counted as seen) or a directory. */
static void skip_entry(void *ctx, const char *path, int is_file, const gb_error *e) {
    adder *a = ctx;
    if (is_file ? !mine(a) : !a->lead) return;
    a->ds->files_seen += is_file != 0;
    skip(a, path, e);
}

/* Reads one file; a bad one is skipped, only running out of memory fails the load. */
static gb_status add_file(void *ctx, const char *path, gb_error *err) {
    adder *a = ctx;
    if (!mine(a)) return GB_OK;
    a->ds->files_seen++;
    gb_song s;
    gb_error e = {0};
    gb_status st = gb_song_read(path, &s, &e);
    if (st == GB_OK) {
        st = gb_ds_add_song(a->ds, &s, path, a->valid, &e);
        gb_song_free(&s);
    }
    if (st == GB_ERR_NOMEM) {
        if (err) *err = e;
        return st;
    }
    if (st != GB_OK) skip(a, path, &e);
    return GB_OK;
}

static gb_status count_file(void *ctx, const char *path, gb_error *err) {
    (void)path, (void)err;
    ++*(uint64_t *)ctx;
    return GB_OK;
}

static void count_skipped(void *ctx, const char *path, int is_file, const gb_error *e) {
    (void)path, (void)e;
    *(uint64_t *)ctx += is_file != 0;
}

gb_status gb_ds_add_paths_shard(gb_dataset *ds, const char *const *paths, size_t n, int valid,
                                int k, int shards, gb_ds_warn_fn warn, void *ctx,
                                gb_error *err) {
    adder a = {ds, valid, warn, ctx, 0, 0, UINT64_MAX, k == 0};
    if (shards > 1) {
        uint64_t files = 0;
        gb_status s = gb_walk_midi(paths, n, count_file, count_skipped, &files, err);
        if (s != GB_OK) return s;
        a.lo = files * (uint64_t)k / (uint64_t)shards;
        a.hi = files * (uint64_t)(k + 1) / (uint64_t)shards;
    }
    return gb_walk_midi(paths, n, add_file, skip_entry, &a, err);
}

gb_status gb_ds_add_paths(gb_dataset *ds, const char *const *paths, size_t n, int valid,
                          gb_ds_warn_fn warn, void *ctx, gb_error *err) {
    return gb_ds_add_paths_shard(ds, paths, n, valid, 0, 1, warn, ctx, err);
}

/* ------------------------------------------------------------------------------------------ */
/* split, hash */

gb_status gb_split_choose(size_t n, double fraction, uint64_t seed, uint8_t *valid,
                          gb_error *err) {
    size_t k = 0;
    if (fraction > 0 && n >= 2) {
        double want = floor(fraction * (double)n + 0.5);
        k = want < 1 ? 1 : want > (double)(n - 1) ? n - 1 : (size_t)want;
    }
    memset(valid, 0, n);
    if (!k) return GB_OK;
    /* a partial Fisher-Yates over indices: the first k drawn are the validation files; the
     * stream is the seed's, offset so that it differs from the weights' */
    gb_rng r;
    gb_rng_seed(&r, seed ^ 0x53504C495421ull); /* "SPLIT!" */
    size_t *ix = malloc(n * sizeof *ix);
    if (!ix) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory splitting %zu files", n);
    for (size_t i = 0; i < n; i++) ix[i] = i;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)gb_rng_below(&r, n - i);
        size_t t = ix[i];
        ix[i] = ix[j], ix[j] = t;
        valid[ix[i]] = 1;
    }
    free(ix);
    return GB_OK;
}

gb_status gb_ds_split_range(gb_dataset *ds, double fraction, uint64_t seed, size_t n_all,
                            size_t first, gb_error *err) {
    if (first > n_all || ds->n_files > n_all - first)
        return gb_fail(err, GB_ERR_ARG, -1, "split: files %zu..%zu of %zu", first,
                       first + ds->n_files, n_all);
    uint8_t *valid = malloc(n_all ? n_all : 1);
    if (!valid) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    gb_status st = gb_split_choose(n_all, fraction, seed, valid, err);
    for (size_t i = 0; i < ds->n_files && st == GB_OK; i++) ds->files[i].valid = valid[first + i];
    free(valid);
    return st;
}

gb_status gb_ds_split(gb_dataset *ds, double fraction, uint64_t seed, gb_error *err) {
    return gb_ds_split_range(ds, fraction, seed, ds->n_files, 0, err);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

uint64_t gb_ds_hash_head(const gb_ds_encoding *e, size_t n_files) {
    uint64_t h = 0xCBF29CE484222325ull;
    int feat[4] = {e->binary, e->onsets, gb_ds_features(e), (int)n_files};
    h = fnv(h, feat, sizeof feat);
    if (e->meter) { /* only then, so that corpora without meter keep their earlier hash */
        int din = gb_ds_in_features(e);
        h = fnv(h, &din, sizeof din);
    }
    if (e->events) { /* likewise */
        int ev = (int)e->events;
        h = fnv(h, &ev, sizeof ev);
    }
    return h;
}

uint64_t gb_ds_hash_files(const gb_dataset *ds, uint64_t h, int valid) {
    for (size_t f = 0; f < ds->n_files; f++) {
        const gb_ds_file *fi = &ds->files[f];
        if (fi->valid != valid) continue;
        uint32_t head[2] = {(uint32_t)fi->valid, (uint32_t)fi->n_parts};
        h = fnv(h, head, sizeof head);
        if (fi->sigs) {
            uint32_t grid[4] = {fi->n_sigs, fi->num, fi->den, fi->tpq};
            h = fnv(h, grid, sizeof grid);
            for (uint32_t i = 0; i < fi->n_sigs; i++) { /* field by field: no padding bytes */
                const gb_ds_timesig *g = &fi->sigs[i];
                uint64_t v[3] = {g->step, g->late, (uint64_t)g->numerator << 8 | g->denominator};
                h = fnv(h, v, sizeof v);
            }
        }
        for (size_t i = fi->first_part; i < fi->first_part + fi->n_parts; i++) {
            const gb_ds_part *p = &ds->parts[i];
            uint32_t sz[3] = {p->steps, p->n_runs, p->n_cells};
            h = fnv(h, sz, sizeof sz);
            h = fnv(h, p->run_start, (size_t)p->n_runs * 4);
            h = fnv(h, p->run_cell, (size_t)p->n_runs * 4);
            h = fnv(h, p->cells, (size_t)p->n_cells * 2);
            if (p->tokens) h = fnv(h, p->tokens, (size_t)p->steps * 2);
        }
    }
    return h;
}

uint64_t gb_ds_hash(const gb_dataset *ds) {
    uint64_t h = gb_ds_hash_head(&ds->enc, ds->n_files);
    return gb_ds_hash_files(ds, gb_ds_hash_files(ds, h, 0), 1);
}

/* ------------------------------------------------------------------------------------------ */
/* cutting */

/* floor((a + j * b) / c) mod m, exact in 64 bits for any j when a, b < 2^40 and c < 2^31:
 * with j = jq * c + jr and b = bq * c + br, (a + j * b) / c = jq * b + jr * bq + a / c
 * + (a % c + jr * br) / c, whose last term's dividend stays below 2^62 and whose others are
 * summed mod m. */
static uint64_t floor_mod(uint64_t a, uint64_t b, uint64_t c, uint64_t j, uint64_t m) {
    uint64_t jq = j / c, jr = j % c;
    return ((jq % m) * (b % m) + (jr % m) * (b / c % m) + a / c % m +
            (a % c + jr * (b % c)) / c) % m;
}

void gb_ds_meter_row(const gb_dataset *ds, size_t part, uint64_t step, float *out) {
    const gb_ds_file *f = &ds->files[ds->parts[part].file];
    uint32_t lo = 0, hi = f->n_sigs; /* the last signature from step or before (sigs[0]: 0) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (f->sigs[mid].step <= step) lo = mid;
        else hi = mid;
    }
    const gb_ds_timesig *g = &f->sigs[lo];
    /* the step starts (late + j * den) / num ticks after the signature's tick, j steps after
     * g->step; an eighth of a beat lasts tpq / (2 * denominator) ticks; counted mod a bar */
    uint64_t d2 = 2u * g->denominator;
    uint64_t e = floor_mod(d2 * g->late, d2 * f->den, (uint64_t)f->tpq * f->num, step - g->step,
                           8u * g->numerator);
    memset(out, 0, GB_DS_METER_FEATURES * sizeof *out);
    out[e % 8] = 1.0f;
    out[8 + (e / 8 < 11 ? e / 8 : 11)] = 1.0f;
}

/* Writes steps [k0, k0 + n) of a part as rows of D features moved up by shift semitones (the
 * caller keeps them inside 0..127), then with meter its meter features: step k0 + t at
 * out + (t * B + b) * width, zeroed first. */
static void cut_rows(const gb_dataset *ds, size_t part, size_t k0, size_t n, int shift,
                     int meter, int B, int b, float *out) {
    const gb_ds_part *p = &ds->parts[part];
    int D = gb_ds_features(&ds->enc), binary = ds->enc.binary, onsets = ds->enc.onsets;
    int width = D + (meter ? GB_DS_METER_FEATURES : 0);
    uint32_t r = seg_of(p->run_start, p->n_runs, (uint32_t)k0); /* the run holding step k0 */
    for (size_t t = 0; t < n; t++) {
        size_t k = k0 + t;
        while (r + 1 < p->n_runs && p->run_start[r + 1] <= k) r++;
        float *row = out + ((size_t)t * B + b) * width;
        memset(row, 0, (size_t)D * sizeof *row);
        for (uint32_t c = p->run_cell[r]; c < p->run_cell[r + 1]; c++) {
            unsigned cell = p->cells[c], vel = cell >> 7 & 127;
            int pitch = (int)(cell & 127) + shift;
            row[pitch] = binary ? 1.0f : (float)vel / 127.0f;
            if (onsets && cell >> 14) row[128 + pitch] = 1.0f;
        }
        if (meter) gb_ds_meter_row(ds, part, k, row + D);
    }
}

void gb_ds_cut(const gb_dataset *ds, size_t part, size_t k0, size_t n, int B, int b, float *out) {
    const gb_ds_part *p = &ds->parts[part];
    if (p->tokens) {
        for (size_t t = 0; t < n; t++) out[(size_t)t * B + b] = (float)p->tokens[k0 + t];
        return;
    }
    cut_rows(ds, part, k0, n, 0, ds->enc.meter, B, b, out);
}

gb_status gb_ds_windows_make(const gb_dataset *ds, int valid, int T, int stride,
                             gb_ds_windows *w, gb_error *err) {
    memset(w, 0, sizeof *w);
    if (T < 1 || stride < 1)
        return gb_fail(err, GB_ERR_ARG, -1, "windows of %d steps every %d: need both >= 1", T,
                       stride);
    w->T = T, w->stride = stride;
    size_t np = 0;
    for (size_t f = 0; f < ds->n_files; f++)
        if ((ds->files[f].valid != 0) == (valid != 0)) np += ds->files[f].n_parts;
    w->part = malloc((np ? np : 1) * sizeof *w->part);
    w->len = malloc((np ? np : 1) * sizeof *w->len);
    w->cum = malloc((np + 1) * sizeof *w->cum);
    if (!w->part || !w->len || !w->cum) {
        gb_ds_windows_free(w);
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for windows");
    }
    uint64_t total = 0;
    for (size_t f = 0; f < ds->n_files; f++) {
        const gb_ds_file *fi = &ds->files[f];
        if ((fi->valid != 0) != (valid != 0)) continue;
        for (size_t i = fi->first_part; i < fi->first_part + fi->n_parts; i++) {
            uint64_t S = ds->parts[i].steps;
            uint64_t full = S >= (uint64_t)T + 1 ? (S - T - 1) / (uint64_t)stride + 1 : 0;
            w->short_parts += !full;
            if (S < 2) continue; /* one step: nothing to predict */
            w->part[w->n_parts] = i;
            w->len[w->n_parts] = full ? T : (int)(S - 1);
            w->cum[w->n_parts++] = total;
            total += full ? full : 1;
            /* full windows cover targets [s + 1, s + T] for s = 0, stride, ...: one stretch
             * when stride <= T, else T apart; a short part's one window covers them all */
            if (full)
                w->uncovered += S - 1 - T - (full - 1) * (uint64_t)(stride < T ? stride : T);
        }
    }
    w->cum[w->n_parts] = total;
    if (total > GB_DS_MAX_WINDOWS) {
        gb_ds_windows_free(w);
        return gb_fail(err, GB_ERR_LIMIT, -1, "%llu windows: more than %u (raise --stride)",
                       (unsigned long long)total, GB_DS_MAX_WINDOWS);
    }
    w->n = total;
    return GB_OK;
}

void gb_ds_windows_free(gb_ds_windows *w) {
    free(w->part);
    free(w->len);
    free(w->cum);
    memset(w, 0, sizeof *w);
}

void gb_ds_window_at(const gb_ds_windows *w, uint64_t i, size_t *part, size_t *start, int *len) {
    size_t lo = 0, hi = w->n_parts; /* the last part whose first window is <= i */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->cum[mid] <= i) lo = mid;
        else hi = mid;
    }
    *part = w->part[lo];
    *start = (size_t)((i - w->cum[lo]) * (uint64_t)w->stride);
    *len = w->len[lo];
}

/* A shift uniform over [-N, N] cut to those that keep pitches low..high inside 0..127 (none when
 * high < 0), from one number of the rng whatever the range (its high 32 bits scaled by the
 * range's size: a bias below size / 2^32). */
static int draw_between(int low, int high, int transpose, gb_rng *r) {
    int64_t lo = -(int64_t)transpose, hi = transpose;
    if (high >= 0) {
        if (lo < -low) lo = -low;
        if (hi > 127 - high) hi = 127 - high;
    }
    uint64_t u = gb_rng_next(r) >> 32;
    return (int)(lo + (int64_t)((u * (uint64_t)(hi - lo + 1)) >> 32));
}

/* The transposition of the window of steps [start, start + len] of p, from its lowest and
 * highest pitches (0 always among the shifts). */
static int draw_shift(const gb_ds_part *p, size_t start, int len, int transpose, gb_rng *rng) {
    int low = 128, high = -1;
    for (uint32_t r = seg_of(p->run_start, p->n_runs, (uint32_t)start);
         r < p->n_runs && p->run_start[r] <= start + (size_t)len; r++)
        if (p->run_cell[r] < p->run_cell[r + 1]) { /* pitches ascend within a run */
            int a = p->cells[p->run_cell[r]] & 127, z = p->cells[p->run_cell[r + 1] - 1] & 127;
            if (a < low) low = a;
            if (z > high) high = z;
        }
    return draw_between(low, high, transpose, rng);
}

/* Events: the transposition of the tokens [start, end) of p, drawn as draw_shift draws it, from
 * their lowest and highest NOTE_ON / NOTE_OFF pitches. */
static int draw_token_shift(const gb_ds_part *p, size_t start, size_t end, int transpose,
                            gb_rng *r) {
    int low = 128, high = -1;
    for (size_t i = start; i < end; i++)
        if (p->tokens[i] < GB_EV_TIME_SHIFT) {
            int pitch = p->tokens[i] & 127;
            if (pitch < low) low = pitch;
            if (pitch > high) high = pitch;
        }
    return draw_between(low, high, transpose, r);
}

/* Token k of a window of n (its len + 1) into column b of a batch: the input of step k, the
 * target of step k - 1. */
static void put_token(float *x, float *target, int B, int b, size_t n, size_t k, unsigned tok) {
    if (k + 1 < n) x[k * (size_t)B + b] = (float)tok;
    if (k) target[(k - 1) * (size_t)B + b] = (float)tok;
}

/* Events: up to n tokens of p from token start into column b of x and target (put_token),
 * pitches moved by shift, times by factor (aug's rules; 1: as they are, token for token);
 * returns how many (< n at the part's end). The
 * shift was drawn for the pitches of the next 2n tokens of p, which a factor of 0.5 or more
 * never reads past in an encoder's stream (a stretch only drops TIME_SHIFTs, and keeps at least
 * about half of each run of them); a pitch it would move out of 0..127 ends the window. */
static size_t cut_tokens(const gb_ds_part *p, size_t start, size_t n, int shift, double factor,
                         int B, int b, float *x, float *target) {
    size_t k = 0, i = start;
    uint64_t src = 0, dst = 0; /* steps read from p and written since start */
    while (k < n) {
        unsigned tok = i < p->steps ? p->tokens[i] : 0;
        int value;
        gb_ev_class c = i < p->steps ? gb_events_class(tok, &value) : GB_EVC_INVALID;
        if (c == GB_EVC_TIME_SHIFT) {
            src += (uint64_t)value, i++;
            continue;
        }
        uint64_t want = factor == 1.0 ? src : (uint64_t)llround((double)src * factor);
        while (dst < want && k < n) { /* the time up to this token, in the encoder's order */
            uint64_t d = want - dst < GB_EV_MAX_SHIFT ? want - dst : GB_EV_MAX_SHIFT;
            put_token(x, target, B, b, n, k++, gb_ev_shift((int)d)), dst += d;
        }
        if (k == n || i >= p->steps) break;
        if (c == GB_EVC_NOTE_ON || c == GB_EVC_NOTE_OFF) {
            if (value + shift < 0 || value + shift > 127) break; /* past the span drawn for */
            tok = (unsigned)((int)tok + shift);
        }
        put_token(x, target, B, b, n, k++, tok), i++;
    }
    return k;
}

void gb_ds_cut_batch(const gb_dataset *ds, const gb_ds_windows *w, const uint32_t *ids, int B,
                     const gb_ds_aug *aug, float *x, float *target, float *mask) {
    int T = w->T, Dt = gb_ds_target_features(&ds->enc), Din = gb_ds_in_features(&ds->enc);
    for (int b = 0; b < B; b++) {
        size_t part, start;
        int len;
        gb_ds_window_at(w, ids[b], &part, &start, &len);
        const gb_ds_part *p = &ds->parts[part];
        gb_rng r; /* the window's own draws */
        if (aug) gb_rng_seed(&r, aug->keys[b]);
        if (p->tokens) {
            int shift = 0;
            double factor = 1.0;
            if (aug && aug->transpose > 0) {
                size_t end = start + 2 * ((size_t)len + 1);
                shift = draw_token_shift(p, start, end < p->steps ? end : p->steps,
                                         aug->transpose, &r);
            }
            if (aug && aug->stretch > 0) {
                double u = (double)(gb_rng_next(&r) >> 11) * 0x1p-53;
                factor = 1.0 - aug->stretch + 2.0 * aug->stretch * u;
            }
            size_t got = cut_tokens(p, start, (size_t)len + 1, shift, factor, B, b, x, target);
            len = got > 1 ? (int)got - 1 : 0; /* the rows after it are padding, zeroed below */
        } else {
            int shift = aug && aug->transpose > 0 ? draw_shift(p, start, len, aug->transpose, &r)
                                                  : 0;
            cut_rows(ds, part, start, (size_t)len, shift, ds->enc.meter, B, b, x);
            cut_rows(ds, part, start + 1, (size_t)len, shift, 0, B, b, target);
        }
        for (int t = 0; t < T; t++) mask[(size_t)t * B + b] = t < len ? 1.0f : 0.0f;
        for (int t = len; t < T; t++) { /* the padding of a short window */
            memset(x + ((size_t)t * B + b) * Din, 0, (size_t)Din * sizeof *x);
            memset(target + ((size_t)t * B + b) * Dt, 0, (size_t)Dt * sizeof *target);
        }
    }
}

void gb_ds_perm_init(gb_ds_perm *p, uint64_t n, gb_rng *rng) {
    uint32_t w = n > 1 ? (uint32_t)(n - 1) : 0;
    w |= w >> 1, w |= w >> 2, w |= w >> 4, w |= w >> 8, w |= w >> 16;
    p->n = (uint32_t)n, p->mask = w, p->key = (uint32_t)gb_rng_next(rng);
}

/* Kensler's permute(): every step (xor with the key, multiplication by an odd constant, xor
 * with a right shift of the masked value) is a bijection of [0, mask], so the whole is one;
 * values >= n are walked on until they fall inside (at most ~2 rounds on average, since
 * mask < 2n). The final offset by the key rotates the cycle. */
uint32_t gb_ds_perm_at(const gb_ds_perm *p, uint32_t i) {
    uint32_t w = p->mask, k = p->key, l = p->n;
    if (l <= 1) return 0;
    do {
        i ^= k;
        i *= 0xe170893du;
        i ^= k >> 16;
        i ^= (i & w) >> 4;
        i ^= k >> 8;
        i *= 0x0929eb3fu;
        i ^= k >> 23;
        i ^= (i & w) >> 1;
        i *= 1u | k >> 27;
        i *= 0x6935fa69u;
        i ^= (i & w) >> 11;
        i *= 0x74dcb303u;
        i ^= (i & w) >> 2;
        i *= 0x9e501cc3u;
        i ^= (i & w) >> 2;
        i *= 0xc860a3dfu;
        i &= w;
        i ^= i >> 5;
    } while (i >= l);
    return (uint32_t)(((uint64_t)i + k) % l);
}
