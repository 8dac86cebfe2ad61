/* events.c - performance events: notes <-> the token streams of Performance RNN (Oore et al.
 * 2018), following note_seq's performance_lib (Performance._from_quantized_sequence and
 * _to_sequence) and its PerformanceOneHotEncoding order; PROGRAM tokens for ensembles are ours.
 * The format is in docs/formats.md ("Performance events"), the API in groovybee.h.
 *
 * Encoding sorts the notes by (instrument when ensemble, start time, pitch), gives each an
 * index, and sorts their onsets and offsets by (step, index, offset after onset) as note_seq
 * does; the tokens are counted before they are written, so that a hostile file's gaps of
 * centuries fail with GB_ERR_LIMIT before anything large is allocated. Decoding keeps, per
 * (instrument, pitch), a FIFO of sounding notes: a NOTE_OFF closes the earliest. */
#include "events/events.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_INST 129 /* GM programs 0..127, then drums */
#define DRUMS 128

/* ------------------------------------------------------------------------------------------ */
/* token classes */

gb_ev_class gb_events_class(unsigned token, int *value) {
    int v = -1;
    gb_ev_class c = GB_EVC_INVALID;
    if (token < GB_EV_NOTE_OFF) c = GB_EVC_NOTE_ON, v = (int)token;
    else if (token < GB_EV_TIME_SHIFT) c = GB_EVC_NOTE_OFF, v = (int)token - GB_EV_NOTE_OFF;
    else if (token < GB_EV_VELOCITY) c = GB_EVC_TIME_SHIFT, v = (int)token - GB_EV_TIME_SHIFT + 1;
    else if (token < GB_EV_PROGRAM) c = GB_EVC_VELOCITY, v = (int)token - GB_EV_VELOCITY + 1;
    else if (token < GB_EV_VOCAB_ENSEMBLE) c = GB_EVC_PROGRAM, v = (int)token - GB_EV_PROGRAM;
    if (value) *value = v;
    return c;
}

const char *gb_events_class_name(gb_ev_class c) {
    static const char *names[] = {"NOTE_ON", "NOTE_OFF", "TIME_SHIFT", "VELOCITY", "PROGRAM"};
    return (unsigned)c < GB_EVC_COUNT ? names[c] : "INVALID";
}

const char *gb_events_token_str(unsigned token, char *buf, size_t cap) {
    int v;
    gb_ev_class c = gb_events_class(token, &v);
    if (c == GB_EVC_PROGRAM && v == DRUMS) snprintf(buf, cap, "PROGRAM drums");
    else snprintf(buf, cap, "%s %d", gb_events_class_name(c), c == GB_EVC_INVALID ? (int)token : v);
    return buf;
}

void gb_tokens_free(gb_tokens *t) {
    if (!t) return;
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------------------------------ */
/* encoding */

typedef struct {
    double start_s;     /* unquantised start: note_seq orders notes by it */
    uint64_t on, off;   /* steps, off > on */
    int pitch, bin, inst;
} ev_note;

typedef struct {
    uint64_t step;
    uint32_t note; /* index in the sorted notes */
    uint32_t is_off;
} ev_edge;

static int cmp_note(const void *a, const void *b) {
    const ev_note *x = a, *y = b;
    if (x->inst != y->inst) return x->inst < y->inst ? -1 : 1;
    if (x->start_s != y->start_s) return x->start_s < y->start_s ? -1 : 1;
    return (x->pitch > y->pitch) - (x->pitch < y->pitch);
}

static int cmp_edge(const void *a, const void *b) {
    const ev_edge *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    if (x->note != y->note) return x->note < y->note ? -1 : 1;
    return (int)x->is_off - (int)y->is_off;
}

/* Writes the stream of the sorted edges into out, or with out NULL only counts it into *n.
 * Counting adds the TIME_SHIFTs of a gap arithmetically and stops past GB_EV_MAX_TOKENS. */
static gb_status emit(const ev_note *notes, const ev_edge *edges, size_t n_edges, int ensemble,
                      uint16_t *out, uint64_t *n, gb_error *err) {
    uint64_t k = 0, step = 0;
    int bin = 0, inst = -1;
    for (size_t i = 0; i < n_edges; i++) {
        const ev_edge *e = &edges[i];
        const ev_note *nt = &notes[e->note];
        if (e->step > step) {
            uint64_t gap = e->step - step;
            if (out) {
                for (; gap > GB_EV_MAX_SHIFT; gap -= GB_EV_MAX_SHIFT)
                    out[k++] = gb_ev_shift(GB_EV_MAX_SHIFT);
                out[k++] = gb_ev_shift((int)gap);
            } else {
                k += (gap + GB_EV_MAX_SHIFT - 1) / GB_EV_MAX_SHIFT;
            }
            step = e->step;
        }
        if (ensemble && nt->inst != inst) {
            inst = nt->inst;
            if (out) out[k] = gb_ev_program(inst);
            k++;
        }
        if (!e->is_off && nt->bin != bin) {
            bin = nt->bin;
            if (out) out[k] = gb_ev_velocity(bin);
            k++;
        }
        if (out) out[k] = e->is_off ? gb_ev_note_off(nt->pitch) : gb_ev_note_on(nt->pitch);
        k++;
        if (k > GB_EV_MAX_TOKENS)
            return gb_fail(err, GB_ERR_LIMIT, -1,
                           "the stream would be more than %u tokens (a part of %.0f s)",
                           GB_EV_MAX_TOKENS, (double)step / GB_EV_STEPS_PER_SECOND);
    }
    *n = k;
    return GB_OK;
}

gb_status gb_events_encode(const gb_song *s, const gb_part *parts, size_t n_parts,
                           const gb_events_opts *o, gb_tokens *out, gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!s || !out || (n_parts && !parts))
        return gb_fail(err, GB_ERR_ARG, -1, "gb_events_encode: missing argument");
    int ensemble = o && o->ensemble;
    size_t total = 0;
    for (size_t k = 0; k < n_parts; k++) {
        if (parts[k].n_notes && !parts[k].notes)
            return gb_fail(err, GB_ERR_ARG, -1, "gb_events_encode: part %zu has no notes array",
                           k);
        if (ensemble && !parts[k].is_drum && (parts[k].program < 0 || parts[k].program > 127))
            return gb_fail(err, GB_ERR_ARG, -1, "part %zu has program %d", k, parts[k].program);
        total += parts[k].n_notes;
    }
    if (total > GB_EV_MAX_TOKENS / 2)
        return gb_fail(err, GB_ERR_LIMIT, -1, "%zu notes make more than %u tokens", total,
                       GB_EV_MAX_TOKENS);
    if (!total) return GB_OK;

    ev_note *notes = malloc(total * sizeof *notes);
    ev_edge *edges = malloc(2 * total * sizeof *edges);
    gb_status st = GB_OK;
    if (!notes || !edges) {
        st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu notes", total);
        goto done;
    }
    size_t m = 0;
    for (size_t k = 0; k < n_parts; k++) {
        const gb_part *p = &parts[k];
        int inst = !ensemble ? 0 : p->is_drum ? DRUMS : p->program;
        for (size_t i = 0; i < p->n_notes; i++) {
            const gb_note *x = &p->notes[i];
            if (x->pitch > 127 || x->velocity < 1 || x->velocity > 127) {
                st = gb_fail(err, GB_ERR_ARG, -1, "part %zu: note %zu has pitch %d, velocity %d",
                             k, i, x->pitch, x->velocity);
                goto done;
            }
            double a = gb_song_seconds(s, p->track, x->start);
            double b = gb_song_seconds(s, p->track, x->end);
            if (!(a >= 0 && a <= GB_EV_MAX_SECONDS && b >= 0 && b <= GB_EV_MAX_SECONDS)) {
                st = gb_fail(err, GB_ERR_LIMIT, -1,
                             "part %zu: note %zu ends at %g s, beyond the limit of %g s", k, i,
                             b > a ? b : a, GB_EV_MAX_SECONDS);
                goto done;
            }
            ev_note *nt = &notes[m++];
            nt->start_s = a;
            nt->on = gb_ev_step(a);
            nt->off = gb_ev_step(b);
            if (nt->off <= nt->on) nt->off = nt->on + 1; /* as note_seq: at least one step */
            nt->pitch = x->pitch;
            nt->bin = gb_ev_velocity_bin(x->velocity);
            nt->inst = inst;
        }
    }
    /* Stable: notes equal in instrument, start and pitch keep the order of the parts. */
    if ((st = gb_sort_stable(notes, total, sizeof *notes, cmp_note)) != GB_OK) {
        gb_fail(err, st, -1, "out of memory sorting %zu notes", total);
        goto done;
    }
    for (size_t i = 0; i < total; i++) {
        edges[2 * i] = (ev_edge){notes[i].on, (uint32_t)i, 0};
        edges[2 * i + 1] = (ev_edge){notes[i].off, (uint32_t)i, 1};
    }
    qsort(edges, 2 * total, sizeof *edges, cmp_edge);
    uint64_t n;
    if ((st = emit(notes, edges, 2 * total, ensemble, NULL, &n, err)) != GB_OK) goto done;
    if (!(out->v = malloc((size_t)n * sizeof *out->v))) {
        st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %llu tokens",
                     (unsigned long long)n);
        goto done;
    }
    emit(notes, edges, 2 * total, ensemble, out->v, &n, err);
    out->n = (size_t)n;
done:
    free(notes);
    free(edges);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* decoding */

typedef struct {
    gb_note *v; /* start and end in steps until the end, then ticks */
    size_t n, cap;
} note_list;

typedef struct {
    uint64_t start;
    uint32_t next; /* the next sounding note of the same (instrument, pitch); NONE at the tail */
    uint8_t velocity;
} open_note;

#define NONE UINT32_MAX
#define MAX_VOICES 16 /* parts of one instrument at most (15 melodic channels) */

static int cmp_gb_note(const void *a, const void *b) {
    const gb_note *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->pitch != y->pitch) return x->pitch < y->pitch ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->velocity > y->velocity) - (x->velocity < y->velocity);
}

static gb_status add_note(note_list *l, uint64_t start, uint64_t end, int pitch, int velocity,
                          gb_error *err) {
    if (gb_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) != GB_OK)
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu notes", l->n + 1);
    l->v[l->n++] = (gb_note){start, end, (uint8_t)pitch, (uint8_t)velocity};
    return GB_OK;
}

/* round(step * 10 ms / (us / division)) in integers: q * num + the rounded remainder, where
 * 2 * r * num < 2 * 2^24 * 10^4 * 2^15 fits easily. */
static uint64_t step_ticks(uint64_t step, uint64_t num, uint64_t us) {
    uint64_t q = step / us, r = step % us;
    return q * num + (2 * r * num + us) / (2 * us);
}

/* A MIDI channel sounds a pitch once at a time, so where two notes of one pitch of an
 * instrument overlap (a unison of two players in an ensemble), the later goes to another part
 * of the same instrument: notes taken by start, each to the first part where its pitch is free.
 * New parts only for melodic instruments and while *spare melodic channels remain; after that a
 * note goes to the first part (where the MIDI writer cuts the earlier note at its start). The
 * list's notes (in steps) become the notes of parts[0..*nv), the list is emptied. */
static gb_status split_voices(note_list *l, int melodic, int *spare, gb_part *parts, int *nv,
                              gb_error *err) {
    uint64_t last[MAX_VOICES][128]; /* end of the last note of each voice and pitch */
    size_t count[MAX_VOICES] = {0};
    *nv = 1;
    if (l->n > 1) qsort(l->v, l->n, sizeof *l->v, cmp_gb_note);
    uint8_t *voice = l->n ? malloc(l->n) : NULL;
    if (l->n && !voice) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    memset(last[0], 0, sizeof last[0]);
    for (size_t i = 0; i < l->n; i++) {
        const gb_note *x = &l->v[i];
        int v = 0;
        while (v < *nv && last[v][x->pitch] > x->start) v++;
        if (v == *nv) {
            if (melodic && *spare > 0 && *nv < MAX_VOICES) {
                memset(last[v], 0, sizeof last[v]);
                (*nv)++;
                (*spare)--;
            } else {
                v = 0;
            }
        }
        if (x->end > last[v][x->pitch]) last[v][x->pitch] = x->end;
        voice[i] = (uint8_t)v;
        count[v]++;
    }
    if (*nv == 1) {
        parts[0].notes = l->v;
        parts[0].n_notes = l->n;
    } else {
        for (int v = 0; v < *nv; v++) {
            if (!(parts[v].notes = malloc(count[v] * sizeof *parts[v].notes))) {
                for (int w = 0; w < v; w++) free(parts[w].notes), parts[w].notes = NULL;
                free(voice);
                return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
            }
        }
        for (size_t i = 0; i < l->n; i++) {
            gb_part *p = &parts[voice[i]];
            p->notes[p->n_notes++] = l->v[i];
        }
        free(l->v);
    }
    free(voice);
    l->v = NULL;
    l->n = l->cap = 0;
    return GB_OK;
}

gb_status gb_events_decode(const uint16_t *tokens, size_t n, const gb_events_opts *o,
                           gb_song *out, gb_events_stats *stats, gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (stats) memset(stats, 0, sizeof *stats);
    if (!out || (n && !tokens))
        return gb_fail(err, GB_ERR_ARG, -1, "gb_events_decode: missing argument");
    gb_events_opts d = {0};
    if (o) d = *o;
    double bpm = d.bpm ? d.bpm : 120, open_s = d.open_note_s ? d.open_note_s : 5;
    int velocity = d.velocity ? d.velocity : 100;
    double usd = 60e6 / bpm;
    if (!(bpm > 0) || !(usd >= 1 && usd <= 0xFFFFFF))
        return gb_fail(err, GB_ERR_ARG, -1, "tempo of %g bpm does not fit MIDI (about 3.6 to 6e7)",
                       bpm);
    if (!(open_s > 0 && open_s <= GB_EV_MAX_SECONDS))
        return gb_fail(err, GB_ERR_ARG, -1, "open_note_s %g is not in (0, %g]", open_s,
                       GB_EV_MAX_SECONDS);
    if (d.program < 0 || d.program > 127 || velocity < 1 || velocity > 127)
        return gb_fail(err, GB_ERR_ARG, -1, "program %d or velocity %d out of range", d.program,
                       velocity);
    if (!n) return gb_fail(err, GB_ERR_FORMAT, -1, "empty token stream: no events to decode");
    if (n > GB_EV_MAX_TOKENS)
        return gb_fail(err, GB_ERR_LIMIT, -1, "stream of %zu tokens is more than the limit of %u",
                       n, GB_EV_MAX_TOKENS);
    for (size_t i = 0; i < n; i++)
        if (tokens[i] >= GB_EV_VOCAB_ENSEMBLE)
            return gb_fail(err, GB_ERR_FORMAT, -1,
                           "token %zu is %u, outside the vocabulary (0..%d)", i,
                           (unsigned)tokens[i], GB_EV_VOCAB_ENSEMBLE - 1);

    gb_status st = GB_OK;
    note_list lists[N_INST];
    memset(lists, 0, sizeof lists);
    uint32_t *head = malloc(2 * N_INST * 128 * sizeof *head), *tail = head + N_INST * 128;
    open_note *pool = NULL;
    size_t pool_n = 0, pool_cap = 0, free_list = NONE;
    gb_part *parts = NULL;
    if (!head) {
        st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < 2 * N_INST * 128; i++) head[i] = NONE;

    int inst = d.is_drum ? DRUMS : d.program;
    uint64_t step = 0, open_steps = (uint64_t)(open_s * GB_EV_STEPS_PER_SECOND + 0.5);
    if (!open_steps) open_steps = 1;
    for (size_t i = 0; i < n; i++) {
        int v;
        gb_ev_class c = gb_events_class(tokens[i], &v);
        if (c == GB_EVC_TIME_SHIFT) {
            step += (uint64_t)v;
        } else if (c == GB_EVC_VELOCITY) {
            velocity = gb_ev_bin_velocity(v);
        } else if (c == GB_EVC_PROGRAM) {
            inst = v;
        } else if (c == GB_EVC_NOTE_ON) { /* to the tail of its (instrument, pitch) queue */
            size_t q = (size_t)inst * 128 + (size_t)v;
            while (d.restrike && head[q] != NONE) { /* the key struck again ends what sounds */
                uint32_t old = head[q];
                head[q] = pool[old].next;
                pool[old].next = (uint32_t)free_list;
                free_list = old;
                if (pool[old].start == step) {
                    if (stats) stats->empty++;
                } else if ((st = add_note(&lists[inst], pool[old].start, step, v,
                                          pool[old].velocity, err)) != GB_OK) {
                    goto done;
                }
            }
            size_t slot;
            if (free_list != NONE) {
                slot = free_list;
                free_list = pool[slot].next;
            } else {
                if (gb_grow((void **)&pool, &pool_cap, pool_n + 1, sizeof *pool) != GB_OK) {
                    st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu notes", pool_n);
                    goto done;
                }
                slot = pool_n++;
            }
            pool[slot] = (open_note){step, NONE, (uint8_t)velocity};
            if (head[q] == NONE) head[q] = (uint32_t)slot;
            else pool[tail[q]].next = (uint32_t)slot;
            tail[q] = (uint32_t)slot;
        } else { /* NOTE_OFF: closes the earliest sounding note of its pitch, if any */
            size_t q = (size_t)inst * 128 + (size_t)v;
            uint32_t slot = head[q];
            if (slot == NONE) {
                if (stats) stats->stray_offs++;
                continue;
            }
            head[q] = pool[slot].next;
            uint64_t start = pool[slot].start;
            int vel = pool[slot].velocity;
            pool[slot].next = (uint32_t)free_list;
            free_list = slot;
            if (start == step) { /* note_seq drops a note of no duration */
                if (stats) stats->empty++;
                continue;
            }
            if ((st = add_note(&lists[inst], start, step, v, vel, err)) != GB_OK) goto done;
        }
    }
    /* Notes never turned off: open_note_s long, or to the end of the stream. */
    for (size_t q = 0; q < (size_t)N_INST * 128; q++) {
        for (uint32_t slot = head[q]; slot != NONE; slot = pool[slot].next) {
            uint64_t start = pool[slot].start, end = start + open_steps;
            if (end > step) end = step;
            if (end <= start) {
                if (stats) stats->empty++;
                continue;
            }
            if (stats) stats->open_notes++;
            st = add_note(&lists[q / 128], start, end, (int)(q % 128), pool[slot].velocity, err);
            if (st != GB_OK) goto done;
        }
    }

    /* The parts: instruments with notes, programs ascending, drums last. */
    size_t melodic = 0, total = 0;
    for (int x = 0; x < N_INST; x++)
        if (lists[x].n) melodic += x != DRUMS, total += lists[x].n;
    if (melodic > 15) {
        st = gb_fail(err, GB_ERR_LIMIT, -1,
                     "%zu melodic instruments: MIDI has 15 melodic channels", melodic);
        goto done;
    }
    int spare = 15 - (int)melodic, channel = 0;
    parts = calloc(N_INST + MAX_VOICES, sizeof *parts);
    out->tempos = malloc(sizeof *out->tempos);
    out->timesigs = malloc(sizeof *out->timesigs);
    if (!parts || !out->tempos || !out->timesigs) {
        st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
        goto done;
    }
    int division = (int)(60000.0 / bpm + 0.5);
    division = division < 1 ? 1 : division > 32767 ? 32767 : division;
    uint64_t us = (uint64_t)(usd + 0.5), num = 10000 * (uint64_t)division, end_tick = 0;
    size_t n_parts = 0;
    for (int x = 0; x < N_INST; x++) {
        if (!lists[x].n) continue;
        gb_part *first = &parts[n_parts];
        int nv = 1;
        if ((st = split_voices(&lists[x], x != DRUMS, &spare, first, &nv, err)) != GB_OK)
            goto done;
        for (int v = 0; v < nv; v++) {
            gb_part *p = &parts[n_parts++];
            p->track = (int)n_parts;
            p->is_drum = x == DRUMS;
            p->program = x == DRUMS ? 0 : x;
            if (p->is_drum) p->channel = 9;
            else {
                if (channel == 9) channel++;
                p->channel = channel++;
            }
            if (v) snprintf(p->name, sizeof p->name, "%s %d", gb_gm_name(p->program, p->is_drum),
                            v + 1);
            else snprintf(p->name, sizeof p->name, "%s", gb_gm_name(p->program, p->is_drum));
            for (size_t i = 0; i < p->n_notes; i++) {
                p->notes[i].start = step_ticks(p->notes[i].start, num, us);
                p->notes[i].end = step_ticks(p->notes[i].end, num, us);
                if (p->notes[i].end > end_tick) end_tick = p->notes[i].end;
            }
            if (p->n_notes > 1) qsort(p->notes, p->n_notes, sizeof *p->notes, cmp_gb_note);
        }
        if (stats) stats->voices += (size_t)(nv - 1);
    }
    out->format = 1;
    out->division = division;
    out->n_tracks = (int)n_parts + 1;
    out->end_tick = end_tick;
    out->tempos[0] = (gb_tempo){0, (uint32_t)us, 0, 0.0};
    out->n_tempos = 1;
    out->timesigs[0] = (gb_timesig){0, 4, 4, 24, 8};
    out->n_timesigs = 1;
    if (!n_parts) { /* a stream without notes */
        free(parts);
        parts = NULL;
    }
    out->parts = parts;
    out->n_parts = n_parts;
    parts = NULL;
    if (stats) {
        stats->notes = total;
        stats->steps = step;
    }
done:
    for (int x = 0; x < N_INST; x++) free(lists[x].v);
    free(head);
    free(pool);
    for (size_t i = 0; parts && i < N_INST + MAX_VOICES; i++) free(parts[i].notes);
    free(parts);
    if (st != GB_OK) gb_song_free(out);
    return st;
}
