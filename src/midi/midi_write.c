/* midi_write.c - the MIDI writer: variable-length quantities, and a gb_song written as a
 * format 1 Standard MIDI File (a conductor track, then one track per part) to memory or disk.
 * The layout and the ordering rules are in docs/midi.md. */
#include "midi/midi.h"

#include <stdlib.h>
#include <string.h>

int gb_vlq_write(uint32_t v, uint8_t out[4]) {
    int n = 1;
    while (n < 4 && (v >> (7 * n)) != 0) n++;
    for (int i = 0; i < n; i++)
        out[i] = (uint8_t)(((v >> (7 * (n - 1 - i))) & 0x7F) | (i < n - 1 ? 0x80 : 0));
    return n;
}

/* An event waiting for its delta time: events are sorted by (tick, order). */
typedef struct {
    uint64_t tick;
    uint64_t order;
    uint8_t n, b[7];
} wev;

/* Scratch arrays reused from track to track. */
typedef struct {
    wev *ev;
    size_t n_ev, cap_ev;
    gb_note *notes;
    size_t cap_notes;
} scratch;

static int cmp_wev(const void *a, const void *b) {
    const wev *x = a, *y = b;
    if (x->tick != y->tick) return x->tick < y->tick ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* Same-pitch notes must be adjacent and in time order for the overlap cut. */
static int cmp_note(const void *a, const void *b) {
    const gb_note *x = a, *y = b;
    if (x->pitch != y->pitch) return x->pitch < y->pitch ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static gb_status push(scratch *sc, uint64_t tick, uint64_t order, const uint8_t *b, int n) {
    if (gb_grow((void **)&sc->ev, &sc->cap_ev, sc->n_ev + 1, sizeof *sc->ev) != GB_OK)
        return GB_ERR_NOMEM;
    wev *e = &sc->ev[sc->n_ev++];
    e->tick = tick;
    e->order = order;
    e->n = (uint8_t)n;
    memcpy(e->b, b, (size_t)n);
    return GB_OK;
}

static gb_status put_u16(gb_buf *b, unsigned v) {
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return gb_buf_append(b, x, 2);
}

static gb_status put_vlq(gb_buf *b, uint32_t v) {
    uint8_t x[4];
    return gb_buf_append(b, x, (size_t)gb_vlq_write(v, x));
}

/* Appends one MTrk chunk: an optional track name at tick 0, sc's events in order, then End of
 * Track at the tick of the last event. */
static gb_status write_track(gb_buf *out, size_t track, const char *name, size_t name_len,
                             scratch *sc, gb_error *err) {
    gb_status st;
    size_t start = out->len;
    if ((st = gb_buf_append(out, "MTrk\0\0\0\0", 8)) != GB_OK) return st;
    if (name_len > 0) {
        if ((st = gb_buf_append(out, "\0\xFF\x03", 3)) != GB_OK ||
            (st = put_vlq(out, (uint32_t)name_len)) != GB_OK ||
            (st = gb_buf_append(out, name, name_len)) != GB_OK)
            return st;
    }
    qsort(sc->ev, sc->n_ev, sizeof *sc->ev, cmp_wev);
    uint64_t prev = 0;
    for (size_t i = 0; i < sc->n_ev; i++) {
        const wev *e = &sc->ev[i];
        uint64_t delta = e->tick - prev;
        if (delta > GB_VLQ_MAX)
            return gb_fail(err, GB_ERR_LIMIT, -1,
                           "track %zu: %llu ticks from tick %llu to %llu, more than a delta time "
                           "holds (%u)",
                           track, (unsigned long long)delta, (unsigned long long)prev,
                           (unsigned long long)e->tick, GB_VLQ_MAX);
        if ((st = put_vlq(out, (uint32_t)delta)) != GB_OK ||
            (st = gb_buf_append(out, e->b, e->n)) != GB_OK)
            return st;
        prev = e->tick;
    }
    if ((st = gb_buf_append(out, "\0\xFF\x2F\0", 4)) != GB_OK) return st;
    size_t len = out->len - start - 8;
    if (len > UINT32_MAX)
        return gb_fail(err, GB_ERR_LIMIT, -1, "track %zu: %zu bytes, more than a chunk holds",
                       track, len);
    for (size_t i = 0; i < 4; i++) out->data[start + 4 + i] = (uint8_t)(len >> (24 - 8 * i));
    return GB_OK;
}

static gb_status write_conductor(const gb_song *s, gb_buf *out, scratch *sc, gb_error *err) {
    gb_status st;
    uint64_t seq = 0; /* at equal ticks: tempos, then time, then key signatures, as given */
    sc->n_ev = 0;
    if (s->n_tempos == 0) {
        const uint8_t b[6] = {0xFF, 0x51, 3, 0x07, 0xA1, 0x20}; /* 500000 us: 120 bpm */
        if ((st = push(sc, 0, seq++, b, 6)) != GB_OK) return st;
    }
    for (size_t i = 0; i < s->n_tempos; i++) {
        uint32_t us = s->tempos[i].usec_per_quarter;
        if (us == 0 || us > 0xFFFFFF)
            return gb_fail(err, GB_ERR_ARG, -1, "tempo %zu: %u us per quarter is outside "
                           "1..16777215", i, us);
        const uint8_t b[6] = {0xFF, 0x51, 3, (uint8_t)(us >> 16), (uint8_t)(us >> 8),
                              (uint8_t)us};
        if ((st = push(sc, s->tempos[i].tick, seq++, b, 6)) != GB_OK) return st;
    }
    for (size_t i = 0; i < s->n_timesigs; i++) {
        const gb_timesig *t = &s->timesigs[i];
        if (t->numerator == 0 || t->denominator == 0 ||
            (t->denominator & (t->denominator - 1)) != 0)
            return gb_fail(err, GB_ERR_ARG, -1, "time signature %zu: %u/%u needs a numerator "
                           "of 1 or more and a power of two below it", i, t->numerator,
                           t->denominator);
        uint8_t log2 = 0;
        while ((1u << log2) < t->denominator) log2++;
        const uint8_t b[7] = {0xFF, 0x58, 4, t->numerator, log2, t->clocks_per_click,
                              t->n32_per_quarter};
        if ((st = push(sc, t->tick, seq++, b, 7)) != GB_OK) return st;
    }
    for (size_t i = 0; i < s->n_keysigs; i++) {
        const gb_keysig *k = &s->keysigs[i];
        if (k->sharps < -7 || k->sharps > 7 || k->minor > 1)
            return gb_fail(err, GB_ERR_ARG, -1, "key signature %zu: %d sharps, minor %u is "
                           "outside -7..7, 0..1", i, k->sharps, k->minor);
        const uint8_t b[5] = {0xFF, 0x59, 2, (uint8_t)k->sharps, k->minor};
        if ((st = push(sc, k->tick, seq++, b, 5)) != GB_OK) return st;
    }
    return write_track(out, 0, NULL, 0, sc, err);
}

static gb_status write_part(const gb_part *p, size_t index, gb_buf *out, scratch *sc,
                            gb_error *err) {
    gb_status st;
    int ch = p->is_drum ? 9 : p->channel;
    if (ch < 0 || ch > 15)
        return gb_fail(err, GB_ERR_ARG, -1, "part %zu: channel %d is outside 0..15", index, ch);
    if (p->program < 0 || p->program > 127)
        return gb_fail(err, GB_ERR_ARG, -1, "part %zu: program %d is outside 0..127", index,
                       p->program);
    for (size_t i = 0; i < p->n_notes; i++) {
        const gb_note *n = &p->notes[i];
        if (n->pitch > 127)
            return gb_fail(err, GB_ERR_ARG, -1, "part %zu note %zu: pitch %u is outside 0..127",
                           index, i, n->pitch);
        if (n->velocity < 1 || n->velocity > 127)
            return gb_fail(err, GB_ERR_ARG, -1,
                           "part %zu note %zu: velocity %u is outside 1..127", index, i,
                           n->velocity);
    }
    if (p->n_notes > 0 &&
        gb_grow((void **)&sc->notes, &sc->cap_notes, p->n_notes, sizeof *sc->notes) != GB_OK)
        return GB_ERR_NOMEM;
    gb_note *nt = sc->notes;
    for (size_t i = 0; i < p->n_notes; i++) {
        nt[i] = p->notes[i];
        if (nt[i].end <= nt[i].start) nt[i].end = nt[i].start + 1; /* a note must sound */
    }
    if (p->n_notes > 1) qsort(nt, p->n_notes, sizeof *nt, cmp_note); /* nt NULL when empty */
    /* MIDI cannot express overlapping notes of one pitch on one channel: the earlier note is
     * cut at the later one's start. Of notes starting together the longest is kept; the others
     * are cut to nothing and dropped. */
    for (size_t i = 1; i < p->n_notes; i++)
        if (nt[i].pitch == nt[i - 1].pitch && nt[i - 1].end > nt[i].start)
            nt[i - 1].end = nt[i].start;

    sc->n_ev = 0;
    const uint8_t pc[2] = {(uint8_t)(0xC0 | ch), (uint8_t)p->program};
    if ((st = push(sc, 0, 0, pc, 2)) != GB_OK) return st;
    for (size_t i = 0; i < p->n_notes; i++) {
        if (nt[i].end == nt[i].start) continue;
        /* order: the program change, then note-offs, then note-ons, each by pitch. Offs first
         * so that a pitch struck again where it ends reads back as two notes. */
        const uint8_t on[3] = {(uint8_t)(0x90 | ch), nt[i].pitch, nt[i].velocity};
        const uint8_t off[3] = {(uint8_t)(0x80 | ch), nt[i].pitch, 0};
        if ((st = push(sc, nt[i].start, 1 + 128 + nt[i].pitch, on, 3)) != GB_OK ||
            (st = push(sc, nt[i].end, 1 + nt[i].pitch, off, 3)) != GB_OK)
            return st;
    }
    const char *nul = memchr(p->name, 0, sizeof p->name);
    size_t name_len = nul ? (size_t)(nul - p->name) : sizeof p->name;
    return write_track(out, index + 1, p->name, name_len, sc, err);
}

static gb_status write_song(const gb_song *s, gb_buf *out, scratch *sc, gb_error *err) {
    gb_status st;
    unsigned division;
    if (s->division > 0) {
        if (s->division > 0x7FFF)
            return gb_fail(err, GB_ERR_ARG, -1, "division %d is more than 32767",
                           s->division);
        division = (unsigned)s->division;
    } else if (s->smpte_fps > 0) {
        if (s->smpte_fps != 24 && s->smpte_fps != 25 && s->smpte_fps != 29 &&
            s->smpte_fps != 30)
            return gb_fail(err, GB_ERR_ARG, -1, "SMPTE rate %d is not 24, 25, 29 or 30",
                           s->smpte_fps);
        if (s->smpte_tpf < 1 || s->smpte_tpf > 255)
            return gb_fail(err, GB_ERR_ARG, -1, "SMPTE ticks per frame %d is outside 1..255",
                           s->smpte_tpf);
        /* the high byte is -fps in two's complement, which sets the top bit */
        division = (unsigned)((uint8_t)-s->smpte_fps) << 8 | (unsigned)s->smpte_tpf;
    } else {
        return gb_fail(err, GB_ERR_ARG, -1, "the song has neither a division nor an SMPTE rate");
    }
    if (s->n_parts > 0xFFFE)
        return gb_fail(err, GB_ERR_LIMIT, -1, "%zu parts: a MIDI file holds at most 65534 "
                       "besides the conductor track", s->n_parts);
    if ((st = gb_buf_append(out, "MThd\0\0\0\x06\0\x01", 10)) != GB_OK ||
        (st = put_u16(out, 1 + (unsigned)s->n_parts)) != GB_OK ||
        (st = put_u16(out, division)) != GB_OK ||
        (st = write_conductor(s, out, sc, err)) != GB_OK)
        return st;
    for (size_t i = 0; i < s->n_parts; i++)
        if ((st = write_part(&s->parts[i], i, out, sc, err)) != GB_OK) return st;
    return GB_OK;
}

gb_status gb_song_write(const gb_song *s, gb_buf *out, gb_error *err) {
    memset(out, 0, sizeof *out);
    scratch sc = {0};
    gb_buf b = {0};
    gb_status st = write_song(s, &b, &sc, err);
    free(sc.ev);
    free(sc.notes);
    if (st != GB_OK) {
        gb_buf_free(&b);
        /* the helpers fill err for every failure but running out of memory */
        return st == GB_ERR_NOMEM ? gb_fail(err, st, -1, "out of memory writing MIDI") : st;
    }
    *out = b;
    return GB_OK;
}

gb_status gb_song_save(const gb_song *s, const char *path, gb_error *err) {
    gb_buf b;
    gb_status st = gb_song_write(s, &b, err);
    if (st != GB_OK) return st;
    st = gb_file_write_atomic(path, b.data, b.len, err);
    gb_buf_free(&b);
    return st;
}
