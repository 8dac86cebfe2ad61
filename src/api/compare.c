/* compare.c - gb_comparison: `groovybee compare` for programs. Generated sets against one
 * reference, feature by feature (Yang & Lerch's protocol over their features and MusPy's), with
 * a search for copied passages, and the ceiling and floor baselines (src/metrics,
 * docs/metrics.md). The CLI prints from the same structure (src/api/api.h). */
#define _GNU_SOURCE
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

#define MAX_SPB 96

static gb_status nomem(gb_error *err) { return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory"); }


/* ------------------------------------------------------------------------------------------ */
/* reading sets */

/* The files the walk could not open: counted, and passed on. */
typedef struct {
    size_t skipped;
    const gb_compare_opts *o;
} listing;

static void list_skip(void *ctx, const char *path, int is_file, const gb_error *e) {
    listing *l = ctx;
    l->skipped += is_file != 0;
    if (l->o->skip) l->o->skip(l->o->ctx, path, e);
}

gb_status gb_comparison_add_pieces(const gb_comparison *c, gb_piece_set *set, const char *path,
                                   const char *id, const gb_piece_notes *p, size_t file,
                                   size_t **file_ix, size_t *file_cap, gb_error *err) {
    gb_piece_features f;
    gb_status st;
    uint64_t span = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->notes[i].end > span) span = p->notes[i].end;
    uint64_t len = (uint64_t)llround(c->o.segment * p->tpq); /* >= tpq when segment > 0 */
    size_t pieces = c->o.segment > 0 && p->n ? (size_t)((span + len - 1) / len) : 1;
    for (size_t k = 0; k < pieces; k++) {
        gb_piece_notes seg = {0};
        const gb_piece_notes *q = p;
        char sid[PATH_MAX + 32];
        snprintf(sid, sizeof sid, "%s", id);
        if (c->o.segment > 0) {
            if ((st = gb_piece_notes_cut(p, k * len, len, &seg, err)) != GB_OK) return st;
            if (!seg.n && p->n) { /* a silent passage is not a piece */
                gb_piece_notes_free(&seg);
                continue;
            }
            q = &seg;
            snprintf(sid, sizeof sid, "%s#%zu", id, k);
        }
        st = gb_features_of(q, c->o.steps_per_beat, &f, err);
        gb_piece_notes_free(&seg);
        if (st != GB_OK) return st;
        if ((st = gb_piece_set_add(set, path, sid, &f, err)) != GB_OK) return st;
        if (file_ix) {
            if (gb_grow((void **)file_ix, file_cap, set->n, sizeof **file_ix) != GB_OK)
                return nomem(err);
            (*file_ix)[set->n - 1] = file;
        }
    }
    return GB_OK;
}

/* One song read from path into set: as reference (ro not NULL) its file is recorded and its
 * frames go to the copy index; as generated it is searched there. */
static gb_status read_song(gb_comparison *c, const gb_song *s, const char *path,
                           gb_piece_set *set, gb_cmp_files *ro, gb_piece_notes *p,
                           gb_error *err) {
    char *real = realpath(path, NULL); /* a file in both sets is not compared with itself */
    size_t before = set->n, fi = ro ? ro->files.n : 0;
    gb_status st = gb_piece_notes_of(s, p, err);
    if (st == GB_OK)
        st = gb_comparison_add_pieces(c, set, path, real ? real : path, p, fi,
                                      ro ? &ro->file_of : NULL, ro ? &ro->file_cap : NULL, err);
    if (st == GB_OK && c->ix && ro) st = gb_copy_add(c->ix, s, fi, err);
    if (st == GB_OK && c->ix && !ro && set->n > before) {
        st = gb_copy_find(c->ix, s, &set->pieces[before].copy, err);
        set->pieces[before].has_copy = st == GB_OK;
    }
    if (st == GB_OK && ro && !gb_strs_add(&ro->files, path)) st = nomem(err);
    free(real);
    return st;
}

/* A copy of err's message, to be wrapped in another (snprintf may not read what it writes). */
static gb_status wrap(gb_error *err, gb_status st, const char *path) {
    char inner[256];
    snprintf(inner, sizeof inner, "%s", err ? err->msg : "");
    int64_t at = err ? err->offset : -1;
    if (at >= 0) return gb_fail(err, st, at, "%s: at byte %lld: %s", path, (long long)at, inner);
    return gb_fail(err, st, -1, "%s: %s", path, inner);
}

/* Reads the files the paths name (walked) into set, named `what` in errors; ro: as the
 * reference (keeping each file's notes with c->keep_notes). */
static gb_status read_set(gb_comparison *c, const char *what, const char *const *paths,
                          size_t n, gb_piece_set *set, gb_cmp_files *ro, gb_error *err) {
    listing l = {.o = &c->o};
    gb_strs files;
    gb_status st = gb_walk_midi_list(paths, n, list_skip, &l, &files, err);
    set->seen = files.n + l.skipped, set->skipped = l.skipped;
    if (st == GB_OK && ro && c->keep_notes && files.n &&
        !(ro->kept = calloc(files.n, sizeof *ro->kept)))
        st = nomem(err);
    for (size_t i = 0; i < files.n && st == GB_OK; i++) {
        const char *path = files.v[i];
        gb_song s;
        gb_piece_notes p = {0};
        gb_error e;
        if (gb_song_read(path, &s, &e) != GB_OK) {
            if (c->o.skip) c->o.skip(c->o.ctx, path, &e);
            set->skipped++;
            continue;
        }
        size_t fi = ro ? ro->files.n : 0;
        st = read_song(c, &s, path, set, ro, &p, err);
        gb_song_free(&s);
        if (st == GB_OK && ro && c->keep_notes) ro->kept[fi] = p;
        else gb_piece_notes_free(&p);
        if (st != GB_OK) st = wrap(err, st, path);
    }
    if (st == GB_OK && set->n == 0)
        st = gb_fail(err, GB_ERR_ARG, -1, "%s: no readable MIDI file (%zu found, %zu skipped)",
                     what, set->seen, set->skipped);
    gb_strs_free(&files);
    return st;
}

static void files_free(gb_cmp_files *ro) {
    if (ro->kept)
        for (size_t i = 0; i < ro->files.n; i++) gb_piece_notes_free(&ro->kept[i]);
    free(ro->kept);
    free(ro->file_of);
    gb_strs_free(&ro->files);
    memset(ro, 0, sizeof *ro);
}

/* ------------------------------------------------------------------------------------------ */
/* the comparison */

void gb_compare_opts_default(gb_compare_opts *o) {
    *o = (gb_compare_opts){.steps_per_beat = 4, .segment = 0, .copy_search = 1};
}

gb_status gb_comparison_new(const gb_compare_opts *o, int keep_notes, gb_comparison **out,
                            gb_error *err) {
    *out = NULL;
    gb_compare_opts def;
    if (!o) gb_compare_opts_default(&def), o = &def;
    if (o->steps_per_beat < 1 || o->steps_per_beat > MAX_SPB)
        return gb_fail(err, GB_ERR_ARG, -1, "steps per beat %d: wanted 1..%d", o->steps_per_beat,
                       MAX_SPB);
    if (!(o->segment == 0 || (o->segment >= 1 && o->segment <= 1e6)))
        return gb_fail(err, GB_ERR_ARG, -1, "segment %g: wanted 0 (whole pieces) or 1 to 1e6 "
                       "beats", o->segment);
    gb_comparison *c = calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->o = *o, c->keep_notes = keep_notes;
    snprintf(c->ref.label, sizeof c->ref.label, "reference");
    if (o->copy_search) {
        gb_status st = gb_copy_new(o->steps_per_beat, &c->ix, err);
        if (st != GB_OK) {
            free(c);
            return st;
        }
    }
    *out = c;
    return GB_OK;
}

gb_status gb_comparison_read_reference(gb_comparison *c, const char *const *paths, size_t n,
                                       gb_error *err) {
    return read_set(c, "the reference", paths, n, &c->ref, &c->ref_files, err);
}

gb_status gb_comparison_add(gb_comparison *c, const char *label, const char *const *gen,
                            size_t n, gb_error *err) {
    if (gb_grow((void **)&c->gen, &c->cap_gen, c->n_gen + 1, sizeof *c->gen) != GB_OK)
        return nomem(err);
    gb_cmp_gen *g = &c->gen[c->n_gen];
    memset(g, 0, sizeof *g);
    if (label) snprintf(g->set.label, sizeof g->set.label, "%s", label);
    else snprintf(g->set.label, sizeof g->set.label, "generated %zu", c->n_gen + 1);
    gb_status st = read_set(c, g->set.label, gen, n, &g->set, NULL, err);
    if (st == GB_OK) st = gb_compare_sets(&g->set, &c->ref, &g->cmp, err);
    if (st != GB_OK) {
        gb_piece_set_free(&g->set);
        return st;
    }
    c->n_gen++;
    return GB_OK;
}

gb_status gb_compare_paths(const char *const *gen, size_t n_gen, const char *const *ref,
                           size_t n_ref, const gb_compare_opts *o, gb_comparison **out,
                           gb_error *err) {
    gb_comparison *c;
    *out = NULL;
    gb_status st = gb_comparison_new(o, 0, &c, err);
    if (st != GB_OK) return st;
    st = gb_comparison_read_reference(c, ref, n_ref, err);
    if (st == GB_OK) st = gb_comparison_add(c, "generated", gen, n_gen, err);
    if (st != GB_OK) {
        gb_comparison_free(c);
        return st;
    }
    *out = c;
    return GB_OK;
}

static void baselines_free(gb_cmp_baselines *b) {
    if (!b) return;
    gb_piece_set_free(&b->train);
    gb_piece_set_free(&b->valid);
    gb_piece_set_free(&b->floor);
    free(b);
}

void gb_comparison_free(gb_comparison *c) {
    if (!c) return;
    baselines_free(c->base);
    for (size_t i = 0; i < c->n_gen; i++) gb_piece_set_free(&c->gen[i].set);
    free(c->gen);
    files_free(&c->ref_files);
    gb_piece_set_free(&c->ref);
    if (c->ix) gb_copy_free(c->ix);
    free(c);
}

/* ------------------------------------------------------------------------------------------ */
/* the baselines */

/* The floor: random notes with the density of each validation file (valid[i]). */
static gb_status make_floor(const gb_comparison *c, const uint8_t *valid, uint64_t seed,
                            gb_piece_set *floor, gb_error *err) {
    gb_status st = GB_OK;
    gb_rng rng;
    gb_rng_seed(&rng, seed ^ 0x464C4F4F52ull); /* "FLOOR" */
    for (size_t i = 0; i < c->ref_files.files.n && st == GB_OK; i++) {
        if (!valid[i]) continue;
        gb_piece_notes r;
        if ((st = gb_piece_notes_random(&c->ref_files.kept[i], c->o.steps_per_beat, &rng, &r,
                                        err)) != GB_OK)
            break;
        char id[64];
        snprintf(id, sizeof id, "random-%zu", i);
        st = gb_comparison_add_pieces(c, floor, c->ref_files.files.v[i], id, &r, i, NULL, NULL,
                                      err);
        gb_piece_notes_free(&r);
    }
    return st;
}

static gb_status make_baselines(const gb_comparison *c, double fraction, uint64_t seed,
                                gb_cmp_baselines *b, gb_error *err) {
    const gb_piece_set *ref = &c->ref;
    size_t nf = c->ref_files.files.n;
    uint8_t *valid = malloc(nf ? nf : 1);
    if (!valid) return nomem(err);
    gb_status st = gb_split_choose(nf, fraction, seed, valid, err);
    for (size_t i = 0; i < nf; i++) (valid[i] ? &b->valid : &b->train)->seen++;
    b->floor.seen = b->valid.seen;
    for (size_t i = 0; i < ref->n && st == GB_OK; i++) {
        const gb_piece *p = &ref->pieces[i];
        st = gb_piece_set_add(valid[c->ref_files.file_of[i]] ? &b->valid : &b->train, p->path,
                              p->id, &p->f, err);
    }
    if (st == GB_OK) st = make_floor(c, valid, seed, &b->floor, err);
    free(valid);
    snprintf(b->valid.label, sizeof b->valid.label, "ceiling");
    snprintf(b->floor.label, sizeof b->floor.label, "floor");
    snprintf(b->train.label, sizeof b->train.label, "training split");
    if (st == GB_OK && (!b->valid.n || !b->train.n))
        st = gb_fail(err, GB_ERR_ARG, -1,
                     "the baselines need a reference of two files or more (it has %zu)", nf);
    if (st == GB_OK) st = gb_compare_sets(&b->valid, &b->train, &b->ceiling_cmp, err);
    if (st == GB_OK) st = gb_compare_sets(&b->floor, &b->train, &b->floor_cmp, err);
    return st;
}

gb_status gb_comparison_baselines(gb_comparison *c, double fraction, uint64_t seed,
                                  gb_error *err) {
    if (!c->keep_notes)
        return gb_fail(err, GB_ERR_ARG, -1, "baselines need the reference's notes kept");
    gb_cmp_baselines *b = calloc(1, sizeof *b);
    if (!b) return nomem(err);
    gb_status st = make_baselines(c, fraction, seed, b, err);
    if (st != GB_OK) {
        baselines_free(b);
        return st;
    }
    baselines_free(c->base);
    c->base = b;
    return GB_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* what the comparison says */

gb_cmp_copy_sum gb_comparison_copy_sum(const gb_piece_set *set) {
    gb_cmp_copy_sum t = {0};
    for (size_t i = 0; i < set->n; i++) {
        const gb_copy_result *r = &set->pieces[i].copy;
        if (!set->pieces[i].has_copy) continue;
        t.n++, t.whole += r->whole != 0;
        if (r->longest > t.longest) t.longest = r->longest;
        t.windows += r->windows, t.found += r->windows_found;
    }
    return t;
}

int gb_compare_features(void) { return GB_F_COUNT; }

const char *gb_compare_feature_key(int k) {
    return k >= 0 && k < GB_F_COUNT ? gb_features[k].key : NULL;
}

const char *gb_compare_feature_name(int k) {
    return k >= 0 && k < GB_F_COUNT ? gb_features[k].name : NULL;
}

size_t gb_comparison_sets(const gb_comparison *c) { return c->n_gen; }

gb_status gb_comparison_feature(const gb_comparison *c, size_t set, int k,
                                gb_compare_feature *out, gb_error *err) {
    *out = (gb_compare_feature){.defined = 0, .why = "no such set or feature", .kl = NAN,
                                .oa = NAN};
    if (set >= c->n_gen || k < 0 || k >= GB_F_COUNT)
        return gb_fail(err, GB_ERR_ARG, -1, "set %zu, feature %d: %zu sets, %d features", set,
                       k, c->n_gen, GB_F_COUNT);
    const gb_feature_cmp *f = &c->gen[set].cmp.f[k];
    *out = (gb_compare_feature){.defined = f->defined, .why = f->defined ? NULL : f->why,
                                .kl = f->defined ? f->kl : NAN, .oa = f->defined ? f->oa : NAN};
    return GB_OK;
}

static void counts_of(const gb_piece_set *s, gb_compare_set *out) {
    *out = (gb_compare_set){.label = s->label, .files = s->seen, .skipped = s->skipped,
                            .pieces = s->n, .mean_oa = NAN};
}

gb_status gb_comparison_set(const gb_comparison *c, size_t set, gb_compare_set *out,
                            gb_error *err) {
    memset(out, 0, sizeof *out);
    out->mean_oa = NAN;
    if (set >= c->n_gen)
        return gb_fail(err, GB_ERR_ARG, -1, "set %zu: %zu sets", set, c->n_gen);
    const gb_cmp_gen *g = &c->gen[set];
    counts_of(&g->set, out);
    double sum = 0;
    int n = 0;
    for (int k = 0; k < GB_F_COUNT; k++)
        if (g->cmp.f[k].defined) sum += g->cmp.f[k].oa, n++;
    if (n) out->mean_oa = sum / n;
    if (c->ix) {
        gb_cmp_copy_sum t = gb_comparison_copy_sum(&g->set);
        out->copy_searched = 1, out->copies = t.whole, out->longest = t.longest;
        out->windows = t.windows, out->windows_found = t.found;
    }
    return GB_OK;
}

void gb_comparison_reference(const gb_comparison *c, gb_compare_set *out) {
    counts_of(&c->ref, out);
}
