/* song.c - gb_midi (events) -> gb_song (parts of paired notes, tempo map), and time in seconds.
 *
 * Note pairing follows pretty_midi (docs/midi.md): a note-on with velocity 0 is a note-off; a
 * note-off closes every open note of its channel and pitch begun at an EARLIER tick, so that an
 * off and an on of one pitch at the same tick re-strike it whatever their order; notes still open
 * at the end of a track end at its last event. Programs are tracked per channel within a track. */
#include "midi/midi.h"

#include <stdlib.h>
#include <string.h>

/* ---- open notes: one list per (channel, pitch), entries recycled through a free list ---- */

typedef struct {
    uint64_t start;
    int32_t next; /* next entry of the same key, or of the free list; -1 ends */
    int32_t part;
    size_t slot;
} open_note;

typedef struct {
    open_note *e;
    size_t n, cap;
    int32_t free_head;
    size_t n_open;
    int32_t head[16 * 128];
} open_set;

static void open_reset(open_set *o) {
    o->n = 0;
    o->n_open = 0;
    o->free_head = -1;
    for (int i = 0; i < 16 * 128; i++) o->head[i] = -1;
}

static gb_status open_push(open_set *o, int key, uint64_t start, size_t slot, int32_t part) {
    int32_t i = o->free_head;
    if (i >= 0) {
        o->free_head = o->e[i].next;
    } else {
        if (o->n >= INT32_MAX || gb_grow((void **)&o->e, &o->cap, o->n + 1, sizeof *o->e))
            return GB_ERR_NOMEM;
        i = (int32_t)o->n++;
    }
    o->e[i] = (open_note){start, o->head[key], part, slot};
    o->head[key] = i;
    o->n_open++;
    return GB_OK;
}

/* ---- building ---- */

typedef struct {
    gb_song *s;
    size_t parts_cap, tempos_cap, timesigs_cap, keysigs_cap;
    size_t *notes_cap; /* per part */
    open_set open;
} builder;

static gb_status add_note(builder *b, int32_t part, uint64_t start, uint64_t end, int pitch,
                          uint8_t vel) {
    gb_part *p = &b->s->parts[part];
    if (gb_grow((void **)&p->notes, &b->notes_cap[part], p->n_notes + 1, sizeof *p->notes))
        return GB_ERR_NOMEM;
    p->notes[p->n_notes++] = (gb_note){start, end, (uint8_t)pitch, vel};
    return GB_OK;
}

/* Closes the open notes of key begun before tick (all of them when every is set). */
static gb_status close_notes(builder *b, int key, uint64_t tick, int every) {
    open_set *o = &b->open;
    int32_t *link = &o->head[key];
    while (*link >= 0) {
        int32_t i = *link;
        open_note *n = &o->e[i];
        if (every || n->start < tick) {
            b->s->parts[n->part].notes[n->slot].end = tick;
            o->n_open--;
            *link = n->next;
            n->next = o->free_head;
            o->free_head = i;
        } else {
            link = &n->next;
        }
    }
    return GB_OK;
}

static int32_t find_part(builder *b, int track, int channel, int program, const char *name) {
    gb_song *s = b->s;
    for (size_t i = s->n_parts; i-- > 0;) {
        gb_part *p = &s->parts[i];
        if (p->track != track) break; /* parts of earlier tracks come first */
        if (p->channel == channel && p->program == program) return (int32_t)i;
    }
    if (s->n_parts >= INT32_MAX) return -1;
    size_t cap = b->parts_cap;
    if (gb_grow((void **)&s->parts, &b->parts_cap, s->n_parts + 1, sizeof *s->parts) ||
        gb_grow((void **)&b->notes_cap, &cap, s->n_parts + 1, sizeof *b->notes_cap))
        return -1;
    gb_part *p = &s->parts[s->n_parts];
    memset(p, 0, sizeof *p);
    p->track = track;
    p->channel = channel;
    p->program = program;
    p->is_drum = channel == 9;
    memcpy(p->name, name, sizeof p->name);
    b->notes_cap[s->n_parts] = 0;
    return (int32_t)s->n_parts++;
}

/* Text metas may hold any bytes; names keep printable ASCII so that CSV and JSON stay clean. */
static void copy_name(char dst[64], const gb_midi_event *e) {
    size_t n = e->len < 63 ? e->len : 63, k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = e->data[i];
        if (c == 0) break;
        dst[k++] = c >= 0x20 && c < 0x7F && c != '"' && c != ',' && c != '\\' ? (char)c : '_';
    }
    while (k > 0 && dst[k - 1] == ' ') k--;
    dst[k] = 0;
}

static gb_status read_meta(builder *b, const gb_midi_event *e, int track, gb_error *err) {
    gb_song *s = b->s;
    const uint8_t *d = e->data;
    switch (e->meta) {
    case GB_META_TEMPO: {
        uint32_t us = e->len == 3 ? (uint32_t)d[0] << 16 | (uint32_t)d[1] << 8 | d[2] : 0;
        if (!us)
            return gb_fail(err, GB_ERR_FORMAT, e->offset,
                           e->len == 3 ? "tempo of 0 microseconds per quarter note"
                                       : "tempo event of %u bytes (3 expected)",
                           e->len);
        if (gb_grow((void **)&s->tempos, &b->tempos_cap, s->n_tempos + 1, sizeof *s->tempos))
            return GB_ERR_NOMEM;
        s->tempos[s->n_tempos++] = (gb_tempo){e->tick, us, track, 0};
        return GB_OK;
    }
    case GB_META_TIME_SIGNATURE:
        if (e->len != 4 || d[1] > 7 || !d[0])
            return gb_fail(err, GB_ERR_FORMAT, e->offset, "bad time signature event");
        if (gb_grow((void **)&s->timesigs, &b->timesigs_cap, s->n_timesigs + 1,
                    sizeof *s->timesigs))
            return GB_ERR_NOMEM;
        s->timesigs[s->n_timesigs++] =
            (gb_timesig){e->tick, d[0], (uint8_t)(1u << d[1]), d[2], d[3]};
        return GB_OK;
    case GB_META_KEY_SIGNATURE:
        if (e->len != 2 || (int8_t)d[0] < -7 || (int8_t)d[0] > 7 || d[1] > 1)
            return gb_fail(err, GB_ERR_FORMAT, e->offset, "bad key signature event");
        if (gb_grow((void **)&s->keysigs, &b->keysigs_cap, s->n_keysigs + 1,
                    sizeof *s->keysigs))
            return GB_ERR_NOMEM;
        s->keysigs[s->n_keysigs++] = (gb_keysig){e->tick, (int8_t)d[0], d[1]};
        return GB_OK;
    }
    return GB_OK;
}

static gb_status read_track(builder *b, const gb_midi_track *t, int track, gb_error *err) {
    char name[64] = "", instrument[64] = "";
    for (size_t i = 0; i < t->n_events; i++) {
        const gb_midi_event *e = &t->events[i];
        if (e->status != 0xFF) continue;
        if (e->meta == GB_META_TRACK_NAME && !name[0]) copy_name(name, e);
        if (e->meta == GB_META_INSTRUMENT && !instrument[0]) copy_name(instrument, e);
    }
    if (!name[0]) memcpy(name, instrument, sizeof name);

    uint8_t program[16] = {0};
    uint64_t end = 0;
    for (size_t i = 0; i < t->n_events; i++) {
        const gb_midi_event *e = &t->events[i];
        end = e->tick;
        if (e->status == 0xFF) {
            gb_status st = read_meta(b, e, track, err);
            if (st == GB_ERR_NOMEM) return gb_fail(err, st, e->offset, "out of memory");
            if (st) return st;
            continue;
        }
        if (e->status >= 0xF0) continue; /* sysex */
        int kind = e->status & 0xF0, ch = e->status & 0x0F, key = ch * 128 + e->d1;
        if (kind == 0xC0) {
            program[ch] = e->d1;
        } else if (kind == 0x80 || (kind == 0x90 && e->d2 == 0)) {
            if (close_notes(b, key, e->tick, 0))
                return gb_fail(err, GB_ERR_NOMEM, e->offset, "out of memory");
        } else if (kind == 0x90) {
            int32_t part = find_part(b, track, ch, program[ch], name);
            if (part < 0 || add_note(b, part, e->tick, e->tick, e->d1, e->d2) ||
                open_push(&b->open, key, e->tick, b->s->parts[part].n_notes - 1, part))
                return gb_fail(err, GB_ERR_NOMEM, e->offset, "out of memory");
        }
    }
    for (int key = 0; key < 16 * 128 && b->open.n_open; key++)
        if (close_notes(b, key, end, 1)) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    if (end > b->s->end_tick) b->s->end_tick = end;
    return GB_OK;
}

/* ---- sorting and the tempo map ---- */

static int cmp_note(const void *a, const void *b) {
    const gb_note *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->pitch != y->pitch) return x->pitch < y->pitch ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->velocity > y->velocity) - (x->velocity < y->velocity);
}

static int cmp_part(const void *a, const void *b) {
    const gb_part *x = a, *y = b;
    if (x->track != y->track) return x->track < y->track ? -1 : 1;
    if (x->channel != y->channel) return x->channel < y->channel ? -1 : 1;
    return (x->program > y->program) - (x->program < y->program);
}

/* Meta events are collected track by track and sorted stably, so at equal ticks the file's
 * order stands (the later event wins). */
static int cmp_tempo(const void *a, const void *b) {
    const gb_tempo *x = a, *y = b;
    return (x->tick > y->tick) - (x->tick < y->tick);
}
static int cmp_timesig(const void *a, const void *b) {
    const gb_timesig *x = a, *y = b;
    return (x->tick > y->tick) - (x->tick < y->tick);
}
static int cmp_keysig(const void *a, const void *b) {
    const gb_keysig *x = a, *y = b;
    return (x->tick > y->tick) - (x->tick < y->tick);
}

#define DEFAULT_TEMPO 500000u /* 120 quarter notes per minute, the SMF default */

static double smpte_ticks_per_second(const gb_song *s) {
    double fps = s->smpte_fps == 29 ? 30000.0 / 1001.0 : s->smpte_fps;
    return fps * s->smpte_tpf;
}

static void build_tempo_map(gb_song *s) {
    for (size_t i = 0; i < s->n_tempos; i++) {
        gb_tempo *t = &s->tempos[i];
        int first = i == 0 || (s->format == 2 && t[-1].track != t->track);
        uint64_t tick0 = first ? 0 : t[-1].tick;
        double sec0 = first ? 0 : t[-1].seconds;
        uint32_t us = first ? DEFAULT_TEMPO : t[-1].usec_per_quarter;
        t->seconds = sec0 + (double)(t->tick - tick0) * us / (1e6 * s->division);
    }
}

gb_status gb_song_from_midi(const gb_midi *m, gb_song *out, gb_error *err) {
    memset(out, 0, sizeof *out);
    builder b = {.s = out};
    open_reset(&b.open);
    out->format = m->format;
    out->division = m->division;
    out->smpte_fps = m->smpte_fps;
    out->smpte_tpf = m->smpte_tpf;
    out->n_tracks = (int)m->n_tracks;
    gb_status st = GB_OK;
    for (size_t t = 0; t < m->n_tracks && st == GB_OK; t++)
        st = read_track(&b, &m->tracks[t], (int)t, err);
    free(b.open.e);
    free(b.notes_cap);
    if (st != GB_OK) {
        gb_song_free(out);
        return st;
    }
    /* Notes entered their part at note-on, so they are in start order already: only runs that
     * share a start tick need sorting (by pitch), short ones by insertion. */
    for (size_t i = 0; i < out->n_parts; i++) {
        gb_note *v = out->parts[i].notes;
        size_t n = out->parts[i].n_notes;
        for (size_t a = 0, z; a < n; a = z) {
            for (z = a + 1; z < n && v[z].start == v[a].start; z++) {}
            if (z - a <= 16) {
                for (size_t k = a + 1; k < z; k++) {
                    gb_note x = v[k];
                    size_t j = k;
                    for (; j > a && cmp_note(&v[j - 1], &x) > 0; j--) v[j] = v[j - 1];
                    v[j] = x;
                }
            } else {
                qsort(v + a, z - a, sizeof *v, cmp_note);
            }
        }
    }
    if (out->n_parts) qsort(out->parts, out->n_parts, sizeof *out->parts, cmp_part);
    /* In format 2 each track keeps a tempo map of its own: as collected, by track then tick. */
    if ((out->format != 2 &&
         gb_sort_stable(out->tempos, out->n_tempos, sizeof *out->tempos, cmp_tempo)) ||
        gb_sort_stable(out->timesigs, out->n_timesigs, sizeof *out->timesigs, cmp_timesig) ||
        gb_sort_stable(out->keysigs, out->n_keysigs, sizeof *out->keysigs, cmp_keysig)) {
        gb_song_free(out);
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    }
    build_tempo_map(out);
    return GB_OK;
}

gb_status gb_song_parse(const uint8_t *bytes, size_t len, gb_song *out, gb_error *err) {
    gb_midi m;
    memset(out, 0, sizeof *out);
    gb_status st = gb_midi_parse(bytes, len, &m, err);
    if (st != GB_OK) return st;
    st = gb_song_from_midi(&m, out, err);
    gb_midi_free(&m);
    return st;
}

gb_status gb_song_read(const char *path, gb_song *out, gb_error *err) {
    gb_buf buf;
    memset(out, 0, sizeof *out);
    gb_status st = gb_file_read(path, GB_MIDI_MAX_BYTES, &buf, err);
    if (st != GB_OK) return st;
    st = gb_song_parse(buf.data, buf.len, out, err);
    gb_buf_free(&buf);
    return st;
}

void gb_song_free(gb_song *s) {
    for (size_t i = 0; i < s->n_parts; i++) free(s->parts[i].notes);
    free(s->parts);
    free(s->tempos);
    free(s->timesigs);
    free(s->keysigs);
    memset(s, 0, sizeof *s);
}

/* The last tempo at or before tick in the map that applies to track, or NULL. */
static const gb_tempo *tempo_at(const gb_song *s, int track, uint64_t tick) {
    const gb_tempo *best = NULL;
    if (s->format == 2) {
        for (size_t i = 0; i < s->n_tempos; i++)
            if (s->tempos[i].track == track && s->tempos[i].tick <= tick) best = &s->tempos[i];
        return best;
    }
    size_t lo = 0, hi = s->n_tempos; /* first entry with tick > tick */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->tempos[mid].tick <= tick) lo = mid + 1;
        else hi = mid;
    }
    return lo ? &s->tempos[lo - 1] : NULL;
}

double gb_song_seconds(const gb_song *s, int track, uint64_t tick) {
    if (s->division <= 0) return s->smpte_fps ? (double)tick / smpte_ticks_per_second(s) : 0;
    const gb_tempo *t = tempo_at(s, track, tick);
    uint64_t tick0 = t ? t->tick : 0;
    double sec0 = t ? t->seconds : 0;
    uint32_t us = t ? t->usec_per_quarter : DEFAULT_TEMPO;
    return sec0 + (double)(tick - tick0) * us / (1e6 * s->division);
}

uint64_t gb_song_tick_at(const gb_song *s, int track, double seconds) {
    if (seconds <= 0) return 0;
    if (s->division <= 0)
        return s->smpte_fps ? (uint64_t)(seconds * smpte_ticks_per_second(s) + 0.5) : 0;
    const gb_tempo *best = NULL;
    for (size_t i = 0; i < s->n_tempos; i++) {
        const gb_tempo *t = &s->tempos[i];
        if ((s->format != 2 || t->track == track) && t->seconds <= seconds) best = t;
    }
    uint64_t tick0 = best ? best->tick : 0;
    double sec0 = best ? best->seconds : 0;
    uint32_t us = best ? best->usec_per_quarter : DEFAULT_TEMPO;
    return tick0 + (uint64_t)((seconds - sec0) * 1e6 * s->division / us + 0.5);
}

int gb_song_ticks_per_quarter(const gb_song *s) {
    if (s->division > 0) return s->division;
    /* SMPTE: no beats in the file; a quarter note at the default 120 bpm lasts half a second. */
    int tpq = (int)(smpte_ticks_per_second(s) / 2 + 0.5);
    return tpq > 0 ? tpq : 1;
}
