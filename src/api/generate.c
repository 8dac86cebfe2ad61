/* generate.c - gb_generate_song: `groovybee generate` for programs. Each model primes itself
 * with a random window of its training corpus (or of a primer file, or of the primers/ folder
 * shipped beside it), generates its part (src/gen), and the parts are merged into one format-1
 * song on the output's grid of GB_GEN_DIVISION ticks a quarter note. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api.h"
#include "gen/generate.h"

#define EVENTS_SECONDS 30.0 /* an event model's default length */

/* One model's share of the song: its primer source, the primer's part and place, what the
 * primer's file tells, and where its parts are in the output. */
typedef struct {
    const gb_model *mdl;
    gb_dataset ds;
    int ds_ready;
    size_t part, start;
    const char *src_path; /* into ds */
    int src_division, src_program, src_drum;
    double src_bpm;
    gb_timesig src_timesig;
    double src_phase; /* event models: quarter notes from the bar's start to where the output
                         starts */
    gb_key key;
    uint64_t step_ticks; /* in GB_GEN_DIVISION ticks */
    int first_part, n_parts; /* its parts in the output */
} voice;

static void voice_free(voice *v) {
    if (v->ds_ready) gb_ds_free(&v->ds);
}

/* A copy of err's message, to be wrapped in another (snprintf may not read what it writes). */
static const char *inner(const gb_error *err, char b[256]) {
    snprintf(b, 256, "%s", err ? err->msg : "");
    return b;
}

/* A primer file that cannot be read is the caller's error, not a corpus file skipped. */
typedef struct {
    gb_error first;
    int failed;
} primer_skip;

static void on_primer_skip(void *ctx, const char *path, const gb_error *e) {
    primer_skip *ps = ctx;
    if (ps->failed++) return;
    if (e->offset >= 0)
        gb_fail(&ps->first, e->status, e->offset, "%s: at byte %lld: %s", path,
                (long long)e->offset, e->msg);
    else
        gb_fail(&ps->first, e->status, -1, "%s: %s", path, e->msg);
}

static gb_status strings_one(const char *s, char ***paths, int *n, gb_error *err) {
    if (!(*paths = malloc(sizeof **paths)) || !((*paths)[0] = strdup(s))) {
        free(*paths);
        *paths = NULL;
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    }
    *n = 1;
    return GB_OK;
}

/* The model's primer source: the primer file, else the corpus named in its metadata, else the
 * primers/ folder beside the model file; loaded with the model's encoding. */
static gb_status load_source(voice *v, const gb_generate_opts *o, gb_error *err) {
    const gb_model *m = v->mdl;
    char b[256];
    gb_status s = gb_ds_init(&v->ds, &m->info.enc, err);
    if (s != GB_OK) return gb_fail(err, s, -1, "%s: %s", m->path, inner(err, b));
    v->ds_ready = 1;
    char **paths = NULL;
    int n = 0;
    if (o->primer) s = strings_one(o->primer, &paths, &n, err);
    else if ((s = gb_ckpt_paths_parse(m->info.corpus ? m->info.corpus : "[]", &paths, &n,
                                      err)) != GB_OK)
        return gb_fail(err, s, -1, "%s: %s", m->path, inner(err, b));
    const char *missing = NULL; /* a corpus path that is not here */
    struct stat sb;
    for (int i = 0; s == GB_OK && !o->primer && !missing && i < n; i++)
        if (stat(paths[i], &sb) != 0) missing = paths[i];
    if (s == GB_OK && !o->primer && (!n || missing)) { /* the primers/ folder beside the model */
        char dir[4096];
        const char *slash = strrchr(m->path, '/');
        snprintf(dir, sizeof dir, "%.*sprimers", slash ? (int)(slash - m->path + 1) : 0,
                 m->path);
        if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            for (int i = 0; i < n; i++) free(paths[i]);
            free(paths);
            missing = NULL;
            s = strings_one(dir, &paths, &n, err);
        }
    }
    if (s == GB_OK && !n)
        s = gb_fail(err, GB_ERR_ARG, -1, "%s: its metadata names no training corpus; give "
                    "--primer FILE.mid", m->path);
    else if (s == GB_OK && missing)
        s = gb_fail(err, GB_ERR_IO, -1, "%s: its training corpus '%s' is not here (paths are "
                    "relative to where it was trained), nor a primers/ folder beside it; give "
                    "--primer FILE.mid", m->path, missing);
    primer_skip ps = {0};
    if (s == GB_OK)
        s = gb_ds_add_paths(&v->ds, (const char *const *)paths, (size_t)n, 0,
                            o->primer ? on_primer_skip : o->skip,
                            o->primer ? (void *)&ps : o->ctx, err);
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    if (s == GB_OK && ps.failed) {
        if (err) *err = ps.first;
        s = ps.first.status;
    }
    if (s == GB_OK && v->ds.n_parts == 0) {
        char progs[512];
        gb_ds_filter_format(&m->info.enc, progs, sizeof progs);
        s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: no part that the model %s takes (GM programs "
                    "%s%s)", o->primer ? o->primer : "the model's corpus", m->path, progs,
                    m->info.enc.drums ? " + drums" : "");
    }
    return s;
}

/* What the primer's source file tells: division, tempo, meter, program, key; for an event
 * model also where the output starts: the primer's end, or its start when it is kept. */
static gb_status read_source(voice *v, int keep, gb_error *err) {
    const gb_model_info *in = &v->mdl->info;
    const gb_ds_part *p = &v->ds.parts[v->part];
    v->src_path = v->ds.files[p->file].path;
    char b[256];
    gb_song s;
    gb_status st = gb_song_read(v->src_path, &s, err);
    if (st != GB_OK) return gb_fail(err, st, err ? err->offset : -1, "%s: %s", v->src_path,
                                    inner(err, b));
    v->src_division = gb_song_ticks_per_quarter(&s);
    v->src_bpm = s.n_tempos ? 60e6 / s.tempos[0].usec_per_quarter : 120;
    v->src_timesig = s.n_timesigs ? s.timesigs[0] : (gb_timesig){0, 4, 4, 24, 8};
    if (p->tokens) { /* the tempo, meter and place in the bar where the output starts */
        uint64_t steps = 0, tick;
        for (size_t i = 0; i < v->start + (keep ? 0 : (size_t)in->seq); i++) {
            int val;
            if (gb_events_class(p->tokens[i], &val) == GB_EVC_TIME_SHIFT) steps += (uint64_t)val;
        }
        tick = gb_song_tick_at(&s, p->track, (double)steps / GB_EV_STEPS_PER_SECOND);
        for (size_t i = 0; i < s.n_tempos && s.tempos[i].tick <= tick; i++)
            v->src_bpm = 60e6 / s.tempos[i].usec_per_quarter;
        for (size_t i = 0; i < s.n_timesigs && s.timesigs[i].tick <= tick; i++)
            v->src_timesig = s.timesigs[i];
        double bar = v->src_timesig.numerator * 4.0 / (v->src_timesig.denominator
                                                           ? v->src_timesig.denominator : 4);
        double q = (double)(tick - (tick > v->src_timesig.tick ? v->src_timesig.tick : tick)) /
                   v->src_division;
        v->src_phase = bar > 0 ? fmod(q, bar) : 0;
    }
    v->src_program = p->program, v->src_drum = p->is_drum;
    if (in->enc.merge || in->enc.events == GB_DS_ENSEMBLE)
        v->src_program = 0, v->src_drum = 0; /* merged: one texture played on the piano;
                                                 an ensemble: its PROGRAM tokens say */
    double dur[12] = {0};
    const gb_part *sp = &s.parts[p->index];
    for (size_t i = 0; i < sp->n_notes; i++)
        dur[sp->notes[i].pitch % 12] += (double)(sp->notes[i].end - sp->notes[i].start);
    v->key = gb_key_detect(dur);
    gb_song_free(&s);
    const gb_roll_opts *ro = &in->enc.roll;
    double st_ticks = ro->step_ticks > 0
                          ? (double)ro->step_ticks * GB_GEN_DIVISION / v->src_division
                          : (double)GB_GEN_DIVISION / ro->steps_per_beat;
    v->step_ticks = st_ticks < 1 ? 1 : (uint64_t)llround(st_ticks);
    return GB_OK;
}

/* A paper model's beat is its source's division in steps; a roll model's its steps_per_beat. */
static long beat_steps(const voice *v) {
    const gb_roll_opts *ro = &v->mdl->info.enc.roll;
    return ro->step_ticks > 0 ? (v->src_division + ro->step_ticks - 1) / ro->step_ticks
                              : ro->steps_per_beat;
}

/* An event model's part(s): n events (or, with max_steps, up to that time) after its primer (T
 * tokens of its part from v->start), decoded at bpm and moved onto the output's grid, appended
 * to parts from *n_parts. The tokens decoded are the VELOCITY (and PROGRAM) in force at the
 * primer's end, the primer when kept, then the events drawn. */
static gb_status events_parts(voice *v, int T, long n, uint64_t max_steps, int keep,
                              const gb_gen_sampling *smp, gb_rng *rng, gb_precision prec,
                              double bpm, gb_part *parts, int *n_parts, gb_error *err) {
    int state[2] = {-1, -1}; /* the last VELOCITY and PROGRAM before the primer's end */
    const gb_ds_part *p = &v->ds.parts[v->part];
    const uint16_t *pr = p->tokens + v->start;
    for (size_t i = 0; i < v->start + (size_t)T; i++) {
        gb_ev_class c = gb_events_class(p->tokens[i], NULL);
        if (c == GB_EVC_VELOCITY) state[0] = p->tokens[i];
        if (c == GB_EVC_PROGRAM) state[1] = p->tokens[i];
    }
    size_t cap = 2 + (size_t)(keep ? T : 0) + (size_t)n;
    uint16_t *tokens = malloc(cap * sizeof *tokens);
    if (!tokens) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %ld events", n);
    int k = 0;
    if (state[1] >= 0 && !keep) tokens[k++] = (uint16_t)state[1];
    if (state[0] >= 0 && !keep) tokens[k++] = (uint16_t)state[0];
    if (keep) memcpy(tokens, pr, (size_t)T * sizeof *pr), k = T;
    int drawn;
    gb_status s = gb_generate_tokens(&v->mdl->net, pr, T, (int)n, max_steps, smp, rng, prec,
                                     tokens + k, &drawn, err);
    const gb_ds_encoding *enc = &v->mdl->info.enc;
    gb_events_opts eo = {.bpm = bpm, .program = v->src_program, .is_drum = v->src_drum,
                         .restrike = enc->events == GB_DS_EVENTS && enc->merge};
    gb_song song;
    if (s == GB_OK) s = gb_events_decode(tokens, (size_t)(k + drawn), &eo, &song, NULL, err);
    free(tokens);
    if (s != GB_OK) return s;
    if (*n_parts + (int)song.n_parts > GB_GEN_MAX_PARTS) {
        gb_song_free(&song);
        return gb_fail(err, GB_ERR_LIMIT, -1, "more than %d parts in all", GB_GEN_MAX_PARTS);
    }
    v->first_part = *n_parts, v->n_parts = (int)song.n_parts;
    /* at the primer's place in its bar (without bpm: at the primer's tempo), so that the bars
     * of the output are the music's */
    uint64_t phase = (uint64_t)llround(v->src_phase * GB_GEN_DIVISION);
    for (size_t i = 0; i < song.n_parts; i++) { /* its ticks onto the output's division */
        gb_part *q = &parts[(*n_parts)++];
        *q = song.parts[i];
        for (size_t j = 0; j < q->n_notes; j++) {
            q->notes[j].start =
                q->notes[j].start * GB_GEN_DIVISION / (uint64_t)song.division + phase;
            q->notes[j].end = q->notes[j].end * GB_GEN_DIVISION / (uint64_t)song.division + phase;
            if (q->notes[j].end <= q->notes[j].start) q->notes[j].end = q->notes[j].start + 1;
        }
        song.parts[i].notes = NULL, song.parts[i].n_notes = 0; /* moved */
    }
    gb_song_free(&song);
    return GB_OK;
}

/* A roll model's part: its primer's rows, then n generated steps, decoded into notes. */
static gb_status roll_part(voice *v, int T, long n, const gb_generate_opts *o, gb_rng *rng,
                           gb_part *out, gb_error *err) {
    const gb_model_info *in = &v->mdl->info;
    int D = in->net.D, Din = gb_lstm_din(&in->net), kept = o->keep_primer ? T : 0;
    int n_rows = kept + (int)n;
    float *pr = malloc((size_t)T * Din * sizeof *pr);
    float *rows = malloc((size_t)n_rows * D * sizeof *rows); /* the primer when kept, then the
                                                                generated steps */
    gb_status s = GB_OK;
    if (!pr || !rows) s = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %ld steps", n);
    if (s == GB_OK) {
        gb_ds_cut(&v->ds, v->part, v->start, (size_t)T, 1, 0, pr);
        for (int t = 0; t < kept; t++) /* the primer's rows without their meter */
            memcpy(rows + (size_t)t * D, pr + (size_t)t * Din, (size_t)D * sizeof *pr);
        gb_gen_meter meter = {&v->ds, v->part, v->start + (uint64_t)T};
        s = gb_generate(&v->mdl->net, in->loss, pr, T, (int)n,
                        o->temperature >= 0 ? (float)o->temperature : 0.9f, &meter, rng,
                        o->precision, rows + (size_t)kept * D, err);
    }
    if (s == GB_OK)
        s = gb_gen_decode(rows, n_rows, D, in->enc.binary, (float)o->threshold, o->velocity,
                          o->key_fix ? &v->key : NULL, v->step_ticks, out, err);
    free(pr);
    free(rows);
    return s;
}

/* The file name of a path, for a part's name. */
static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Model i's part(s): its primer picked with its own RNG stream (adding a model changes no other
 * part), generated and named, appended to parts. */
static gb_status voice_make(voice *v, int i, const gb_generate_opts *o, double first_bpm,
                            gb_part *parts, int *n_parts, gb_error *err) {
    const gb_model_info *in = &v->mdl->info;
    char b[256];
    gb_status s = load_source(v, o, err);
    if (s != GB_OK) return s;
    gb_rng rng;
    gb_rng_seed(&rng, o->seed + 0x9E3779B97F4A7C15ull * (uint64_t)i);
    int T = in->seq, events = in->enc.events != GB_DS_ROLL;
    if ((s = gb_gen_pick_primer(&v->ds, T, &rng, &v->part, &v->start, err)) != GB_OK)
        return gb_fail(err, s, -1, "%s: %s (the window model %s was trained on)",
                       o->primer ? o->primer : "the model's corpus", inner(err, b),
                       v->mdl->path);
    if ((s = read_source(v, o->keep_primer, err)) != GB_OK) return s;
    if (events && o->key_fix)
        return gb_fail(err, GB_ERR_ARG, -1, "%s: --key-fix is for roll models", v->mdl->path);
    double bpm = o->bpm > 0 ? o->bpm : first_bpm > 0 ? first_bpm : v->src_bpm;
    long n = o->steps;
    uint64_t max_steps = 0; /* event models: their length in 10 ms */
    if (events && !n) {
        max_steps = (uint64_t)llround((o->seconds > 0 ? o->seconds : EVENTS_SECONDS) *
                                      GB_EV_STEPS_PER_SECOND);
        n = (long)(max_steps * 4 < (1u << 24) ? max_steps * 4 : 1u << 24);
    } else if (!n) { /* 64 beats of its grid, or `seconds` at the output's tempo */
        double beats = o->seconds > 0 ? o->seconds * bpm / 60 : 64;
        n = (long)ceil(beats * (double)beat_steps(v) - 1e-9);
        n = n < 1 ? 1 : n > (1L << 24) ? 1L << 24 : n;
    }
    if (events) {
        gb_gen_sampling smp = {.temperature = o->temperature >= 0 ? (float)o->temperature : 1.0f,
                               .top_k = o->top_k, .top_p = (float)o->top_p};
        s = events_parts(v, T, n, max_steps, o->keep_primer, &smp, &rng, o->precision, bpm,
                         parts, n_parts, err);
    } else if (*n_parts == GB_GEN_MAX_PARTS) {
        s = gb_fail(err, GB_ERR_LIMIT, -1, "more than %d parts in all", GB_GEN_MAX_PARTS);
    } else {
        v->first_part = *n_parts, v->n_parts = 1;
        s = roll_part(v, T, n, o, &rng, &parts[(*n_parts)++], err);
    }
    if (s != GB_OK) return gb_fail(err, s, -1, "%s: %s", v->mdl->path, inner(err, b));
    for (int k = v->first_part; k < v->first_part + v->n_parts; k++) {
        gb_part *p = &parts[k];
        p->track = k + 1;
        if (o->n_programs > i) p->is_drum = 0, p->program = o->programs[i];
        else if (!events) /* an event model's decoder gave them already */
            p->is_drum = v->src_drum, p->program = v->src_program;
        if (!events || v->n_parts == 1)
            snprintf(p->name, sizeof p->name, "%s", base_name(v->mdl->path));
    }
    return GB_OK;
}

static int sharps_of(gb_key k) { /* key signature: the major key, or the relative major */
    static const int major_sharps[12] = {0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5};
    return major_sharps[(k.tonic + (k.minor ? 3 : 0)) % 12];
}

void gb_generate_opts_default(gb_generate_opts *o) {
    *o = (gb_generate_opts){.temperature = -1, .top_p = 0.9, .threshold = 0.1, .velocity = 80,
                            .precision = GB_PREC_FP32};
}

/* Moves the parts into out, with the conductor's tempo, meter and key (first voice's). */
static gb_status assemble(const voice *first, const gb_generate_opts *o, double bpm,
                          gb_part *parts, int n_parts, gb_song *out, gb_error *err) {
    *out = (gb_song){.format = 1, .division = GB_GEN_DIVISION, .n_tracks = n_parts + 1};
    out->tempos = calloc(1, sizeof *out->tempos);
    out->timesigs = calloc(1, sizeof *out->timesigs);
    out->keysigs = calloc(1, sizeof *out->keysigs);
    out->parts = calloc((size_t)n_parts + 1, sizeof *out->parts);
    if (!out->tempos || !out->timesigs || !out->keysigs || !out->parts) {
        gb_song_free(out);
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    }
    out->tempos[0] = (gb_tempo){0, (uint32_t)lrint(60e6 / bpm), 0, 0};
    out->n_tempos = 1;
    out->timesigs[0] = first->src_timesig;
    out->timesigs[0].tick = 0;
    out->n_timesigs = 1;
    out->keysigs[0] = (gb_keysig){0, (int8_t)sharps_of(first->key), (uint8_t)first->key.minor};
    out->n_keysigs = o->key_fix ? 1 : 0;
    for (int i = 0; i < n_parts; i++) {
        out->parts[i] = parts[i];
        for (size_t k = 0; k < parts[i].n_notes; k++)
            if (parts[i].notes[k].end > out->end_tick) out->end_tick = parts[i].notes[k].end;
        parts[i] = (gb_part){0}; /* moved */
    }
    out->n_parts = (size_t)n_parts;
    return GB_OK;
}

gb_status gb_generate_song(const gb_model *const *models, int n_models,
                           const gb_generate_opts *o, gb_song *out, gb_generate_report *rep,
                           gb_error *err) {
    *out = (gb_song){0};
    if (n_models < 1 || n_models > GB_GEN_MAX_MODELS)
        return gb_fail(err, GB_ERR_ARG, -1, "%d models: give 1 to %d", n_models,
                       GB_GEN_MAX_MODELS);
    if (o->n_programs > n_models)
        return gb_fail(err, GB_ERR_ARG, -1, "%d programs for %d model%s", o->n_programs,
                       n_models, n_models == 1 ? "" : "s");
    voice v[GB_GEN_MAX_MODELS];
    memset(v, 0, sizeof v);
    gb_part parts[GB_GEN_MAX_PARTS];
    memset(parts, 0, sizeof parts);
    int n_parts = 0;
    gb_status s = GB_OK;
    for (int i = 0; s == GB_OK && i < n_models; i++) {
        v[i].mdl = models[i];
        s = voice_make(&v[i], i, o, i ? v[0].src_bpm : 0, parts, &n_parts, err);
    }
    /* channels 0, 1, ... skipping 9, which General MIDI keeps for drums */
    for (int k = 0, ch = 0; s == GB_OK && k < n_parts; k++) {
        if (parts[k].is_drum) {
            parts[k].channel = 9;
            continue;
        }
        if (ch == 9) ch++;
        if (ch > 15)
            s = gb_fail(err, GB_ERR_LIMIT, -1, "more than 15 melodic parts: MIDI has no "
                        "channel for part %d", k + 1);
        else parts[k].channel = ch++;
    }
    double bpm = o->bpm > 0 ? o->bpm : v[0].src_bpm;
    if (s == GB_OK && rep) {
        memset(rep, 0, sizeof *rep);
        rep->bpm = bpm, rep->n_parts = (size_t)n_parts;
        for (int i = 0; i < n_models; i++)
            for (int k = v[i].first_part; k < v[i].first_part + v[i].n_parts; k++) {
                gb_generated_part *g = &rep->parts[k];
                g->model = i;
                snprintf(g->primer, sizeof g->primer, "%s", v[i].src_path);
                g->primer_at = v[i].start;
                if (o->key_fix) gb_key_name(v[i].key, g->key);
            }
    }
    if (s == GB_OK) s = assemble(&v[0], o, bpm, parts, n_parts, out, err);
    if (s == GB_OK && rep) rep->seconds = gb_song_seconds(out, -1, out->end_tick);
    for (int k = 0; k < n_parts; k++) gb_part_free(&parts[k]);
    for (int i = 0; i < n_models; i++) voice_free(&v[i]);
    return s;
}
