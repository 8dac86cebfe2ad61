/* roll.c - piano rolls: quantising a part's notes onto a grid of steps x 128 velocities and
 * turning such a grid back into notes. The rules are in docs/formats.md.
 *
 * The one ambiguity of a velocity roll: two notes of the same pitch and the same velocity where
 * one ends on the step the next starts leave no mark between them, so they decode as one note.
 * A change of velocity, or a silent step between them, keeps them apart. */
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

#include "roll/quantise.h"

/* Splitting t into q * den + r keeps the products small (r < den <= INT_MAX, num <= 960) and
 * the rounded remainder at most num; a result near 2^64 saturates, far beyond GB_ROLL_MAX_STEPS
 * anyway. */
uint64_t gb_quantise(const gb_quantiser *qz, uint64_t t) {
    uint64_t q = t / qz->den, r = t % qz->den;
    if (q >= UINT64_MAX / qz->num) return UINT64_MAX;
    return q * qz->num + (2 * r * qz->num + qz->den) / (2 * qz->den);
}

void gb_note_steps(const gb_quantiser *qz, const gb_note *n, uint64_t *a, uint64_t *b) {
    *a = gb_quantise(qz, n->start);
    *b = gb_quantise(qz, n->end);
    if (*b <= *a) *b = *a == UINT64_MAX ? UINT64_MAX : *a + 1;
}

gb_status gb_quantiser_of(const gb_song *s, const gb_roll_opts *o, gb_quantiser *q,
                          gb_error *err) {
    if (o->step_ticks > 0) {
        *q = (gb_quantiser){1, (uint64_t)o->step_ticks};
        return GB_OK;
    }
    int spb = o->steps_per_beat ? o->steps_per_beat : 4;
    if (spb < 0 || spb > 960)
        return gb_fail(err, GB_ERR_ARG, -1, "steps_per_beat %d is not in 1..960", spb);
    int tpq = s ? gb_song_ticks_per_quarter(s) : 0;
    if (tpq <= 0) return gb_fail(err, GB_ERR_ARG, -1, "song has no ticks per quarter note");
    *q = (gb_quantiser){(uint64_t)spb, (uint64_t)tpq};
    return GB_OK;
}

gb_status gb_roll_encode(const gb_song *s, const gb_part *p, const gb_roll_opts *o,
                         gb_roll *out, gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!p || !o || !out || (p->n_notes && !p->notes))
        return gb_fail(err, GB_ERR_ARG, -1, "gb_roll_encode: missing argument");
    gb_quantiser qz;
    gb_status st = gb_quantiser_of(s, o, &qz, err);
    if (st != GB_OK) return st;

    /* Size the roll before allocating: a hostile file's notes can end at any 64-bit tick. */
    uint64_t steps = 0;
    for (size_t i = 0; i < p->n_notes; i++) {
        const gb_note *n = &p->notes[i];
        if (n->pitch > 127 || n->velocity < 1 || n->velocity > 127)
            return gb_fail(err, GB_ERR_ARG, -1, "note %zu has pitch %d, velocity %d", i,
                           n->pitch, n->velocity);
        uint64_t a, b;
        gb_note_steps(&qz, n, &a, &b);
        if (b > steps) steps = b;
    }
    if (steps > GB_ROLL_MAX_STEPS)
        return gb_fail(err, GB_ERR_LIMIT, -1, "part needs %llu steps, more than the limit of %u",
                       (unsigned long long)steps, GB_ROLL_MAX_STEPS);
    if (steps == 0) return GB_OK;

    uint8_t *v = calloc((size_t)steps, 128);
    if (!v) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %llu steps",
                           (unsigned long long)steps);
    /* Notes are sorted by start, so where two overlap on a pitch the later one wins. */
    for (size_t i = 0; i < p->n_notes; i++) {
        const gb_note *n = &p->notes[i];
        uint64_t a, b;
        gb_note_steps(&qz, n, &a, &b);
        for (uint64_t k = a; k < b; k++) v[k * 128 + n->pitch] = n->velocity;
    }

    if (o->strip_silence) {
        size_t kept = 0;
        for (size_t k = 0; k < steps; k++) {
            const uint8_t *row = v + k * 128;
            int sounding = 0;
            for (int j = 0; j < 128 && !sounding; j++) sounding = row[j] != 0;
            if (!sounding) continue;
            if (kept != k) memcpy(v + kept * 128, row, 128);
            kept++;
        }
        /* Every note leaves at least one sounding step, so kept > 0 here. */
        uint8_t *shrunk = realloc(v, kept * 128);
        if (shrunk) v = shrunk;
        steps = kept;
    }
    out->v = v;
    out->steps = (size_t)steps;
    return GB_OK;
}

gb_status gb_roll_decode(const gb_roll *r, int threshold, uint64_t step_ticks, gb_part *out,
                         gb_error *err) {
    return gb_roll_decode_onsets(r, NULL, threshold, step_ticks, out, err);
}

gb_status gb_roll_decode_onsets(const gb_roll *r, const uint8_t *onsets, int threshold,
                                uint64_t step_ticks, gb_part *out, gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!r || !out || (r->steps && !r->v))
        return gb_fail(err, GB_ERR_ARG, -1, "gb_roll_decode: missing argument");
    if (step_ticks == 0) return gb_fail(err, GB_ERR_ARG, -1, "step_ticks must be > 0");
    if (r->steps && step_ticks > UINT64_MAX / r->steps)
        return gb_fail(err, GB_ERR_ARG, -1, "%zu steps of %llu ticks overflow 64-bit ticks",
                       r->steps, (unsigned long long)step_ticks);
    if (threshold < 1) threshold = 1;

    gb_note *notes = NULL;
    size_t n = 0, cap = 0;
    /* Scanning step by step, pitch by pitch, finds notes already in (start, pitch) order. */
    for (size_t k = 0; k < r->steps; k++) {
        for (int pitch = 0; pitch < 128; pitch++) {
            uint8_t val = r->v[k * 128 + pitch];
            if (val < threshold || (k > 0 && r->v[(k - 1) * 128 + pitch] == val &&
                                    !(onsets && onsets[k * 128 + pitch])))
                continue;
            size_t end = k + 1;
            while (end < r->steps && r->v[end * 128 + pitch] == val &&
                   !(onsets && onsets[end * 128 + pitch]))
                end++;
            if (gb_grow((void **)&notes, &cap, n + 1, sizeof *notes) != GB_OK) {
                free(notes);
                return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu notes", n + 1);
            }
            notes[n++] = (gb_note){.start = k * step_ticks,
                                   .end = end * step_ticks,
                                   .pitch = (uint8_t)pitch,
                                   .velocity = val > 127 ? 127 : val};
        }
    }
    out->notes = notes;
    out->n_notes = n;
    return GB_OK;
}

void gb_roll_free(gb_roll *r) {
    if (!r) return;
    free(r->v);
    memset(r, 0, sizeof *r);
}

void gb_part_free(gb_part *p) {
    if (!p) return;
    free(p->notes);
    memset(p, 0, sizeof *p);
}
