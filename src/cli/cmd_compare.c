/* cmd_compare.c - `groovybee compare`: generated music against a corpus, feature by feature
 * (Yang & Lerch's protocol over their features and MusPy's), with a search for copied passages,
 * as a table, JSON and a PNG (src/metrics, docs/metrics.md). */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "metrics/metrics.h"
#include "plot/plot.h"
#include "roll/dataset.h"

static const char *HELP =
    "usage: groovybee compare GENERATED... [--beside GENERATED...]... --reference CORPUS...\n"
    "                         [--baselines] [--segment BEATS] [--json OUT.json] [--png OUT.png]\n"
    "\n"
    "Measures how close generated MIDI files are to a corpus. For each piece (its non-drum\n"
    "notes, every part merged) it takes the features of Yang & Lerch (2018): pitch count, pitch\n"
    "class histogram and transitions, pitch range, average pitch interval, note count, average\n"
    "inter-onset interval, note length histogram; and of MusPy (Dong et al. 2020): polyphony,\n"
    "polyphony rate, scale consistency, pitch and pitch-class entropy, empty-beat rate, groove\n"
    "consistency. Then, per feature, Yang & Lerch's protocol: the distances between reference\n"
    "pieces (intra-set) and from each generated piece to each reference piece (inter-set),\n"
    "smoothed into densities; KL is the divergence of the inter-set density from the intra-set\n"
    "one (0: alike), OA the area they share (1: alike). It also looks for copying: the longest\n"
    "stretch of a generated part that stands verbatim in a reference part (sounding pitches\n"
    "compared on the grid) and the share of generated 4-bar windows found there.\n"
    "Every file argument may be a folder, walked for .mid/.midi files; unreadable files are\n"
    "skipped with a warning. docs/metrics.md defines every figure.\n"
    "\n"
    "options:\n"
    "  -r, --reference PATH...  the corpus: the paths after it (required)\n"
    "  --beside PATH...         another generated set, compared the same way in the next\n"
    "                           columns (repeatable, up to %d sets in all)\n"
    "  --baselines              also the ceiling (the corpus' validation files against its\n"
    "                           training files, split as `train` splits) and the floor (random\n"
    "                           notes with the density of those validation pieces) [off]\n"
    "  --valid-fraction F       the split of --baselines [0.1]\n"
    "  --seed N                 the seed of that split and of the random notes [1]\n"
    "  --segment BEATS          compare pieces cut into segments of BEATS quarter notes, so\n"
    "                           that short generated pieces meet corpus passages of their\n"
    "                           length [0: whole pieces]\n"
    "  --steps-per-beat N       the grid of the copy search and of groove patterns [%d]\n"
    "  --no-copy                skip the copy search\n"
    "  --json OUT.json          every figure as JSON; '-' writes it to stdout instead of the\n"
    "                           table\n"
    "  --png OUT.png            the feature histograms of every set side by side\n"
    "  --table OUT.txt          the table into this file instead of stdout\n"
    "  -h, --help               show this help\n";

enum { MAX_SETS = 8, DEFAULT_SPB = 4 };

typedef struct {
    char **paths;
    size_t n, cap;
} strlist;

static int strlist_add(strlist *l, const char *s) {
    char *d = strdup(s);
    if (!d || gb_grow((void **)&l->paths, &l->cap, l->n + 1, sizeof *l->paths) != GB_OK) {
        free(d);
        return 0;
    }
    l->paths[l->n++] = d;
    return 1;
}

static void strlist_free(strlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

/* ------------------------------------------------------------------------------------------ */
/* reading sets */

typedef struct {
    strlist files;
    size_t skipped;
} listing;

static gb_status list_visit(void *ctx, const char *path, gb_error *err) {
    listing *l = ctx;
    return strlist_add(&l->files, path) ? GB_OK
                                        : gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
}

static void list_skip(void *ctx, const char *path, int is_file, const gb_error *e) {
    listing *l = ctx;
    l->skipped += is_file != 0;
    cli_warn_skipped(NULL, path, e);
}

typedef struct {
    int spb;            /* steps per beat */
    double segment;     /* quarter notes; 0: whole pieces */
    gb_copy_index *ix;  /* the reference's frames; NULL: no copy search */
} how;

/* Adds the pieces of notes p (the whole, or its segments with notes) to set, with their
 * features. file_ix records which file each piece came from (NULL: not needed). */
static gb_status add_pieces(gb_piece_set *set, const char *path, const char *id,
                            const gb_piece_notes *p, const how *h, size_t file, size_t **file_ix,
                            size_t *file_cap, gb_error *err) {
    gb_piece_features f;
    gb_status st;
    uint64_t span = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->notes[i].end > span) span = p->notes[i].end;
    uint64_t len = (uint64_t)llround(h->segment * p->tpq); /* >= tpq when segment > 0 */
    size_t pieces = h->segment > 0 && p->n ? (size_t)((span + len - 1) / len) : 1;
    for (size_t k = 0; k < pieces; k++) {
        gb_piece_notes seg = {0};
        const gb_piece_notes *q = p;
        char sid[PATH_MAX + 32];
        snprintf(sid, sizeof sid, "%s", id);
        if (h->segment > 0) {
            if ((st = gb_piece_notes_cut(p, k * len, len, &seg, err)) != GB_OK) return st;
            if (!seg.n && p->n) { /* a silent passage is not a piece */
                gb_piece_notes_free(&seg);
                continue;
            }
            q = &seg;
            snprintf(sid, sizeof sid, "%s#%zu", id, k);
        }
        st = gb_features_of(q, h->spb, &f, err);
        gb_piece_notes_free(&seg);
        if (st != GB_OK) return st;
        if ((st = gb_piece_set_add(set, path, sid, &f, err)) != GB_OK) return st;
        if (file_ix) {
            if (gb_grow((void **)file_ix, file_cap, set->n, sizeof **file_ix) != GB_OK)
                return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
            (*file_ix)[set->n - 1] = file;
        }
    }
    return GB_OK;
}

/* What reading a set leaves besides its pieces. */
typedef struct {
    size_t *file_of;      /* file index of each piece (the reference) */
    size_t file_cap;
    strlist files;        /* the files read */
    gb_piece_notes *kept; /* the notes of each file read, when asked (for the floor) */
} readout;

/* Reads the files named by paths (walked) into set. As reference (is_ref): adds each song to
 * h->ix. As generated: searches each song in h->ix. keep_notes keeps every file's notes. */
static int read_set(const char *what, const strlist *paths, int is_ref, int keep_notes,
                    const how *h, gb_piece_set *set, readout *ro) {
    listing l = {0};
    gb_error e;
    int ok = 0;
    if (gb_walk_midi((const char *const *)paths->paths, paths->n, list_visit, list_skip, &l, &e) !=
        GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        goto out;
    }
    set->seen = l.files.n + l.skipped, set->skipped = l.skipped;
    if (keep_notes && l.files.n && !(ro->kept = calloc(l.files.n, sizeof *ro->kept))) {
        fprintf(stderr, "groovybee: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < l.files.n; i++) {
        const char *path = l.files.paths[i];
        gb_song s;
        gb_piece_notes p;
        if (gb_song_read(path, &s, &e) != GB_OK) {
            cli_warn_skipped(NULL, path, &e);
            set->skipped++;
            continue;
        }
        char *real = realpath(path, NULL);
        size_t before = set->n, fi = ro->files.n;
        gb_status st = gb_piece_notes_of(&s, &p, &e);
        if (st == GB_OK)
            st = add_pieces(set, path, real ? real : path, &p, h, fi, is_ref ? &ro->file_of : NULL,
                            &ro->file_cap, &e);
        if (st == GB_OK && h->ix && is_ref) st = gb_copy_add(h->ix, &s, fi, &e);
        if (st == GB_OK && h->ix && !is_ref && set->n > before) {
            st = gb_copy_find(h->ix, &s, &set->pieces[before].copy, &e);
            set->pieces[before].has_copy = st == GB_OK;
        }
        if (st == GB_OK && !strlist_add(&ro->files, path))
            st = gb_fail(&e, GB_ERR_NOMEM, -1, "out of memory");
        free(real);
        gb_song_free(&s);
        if (st == GB_OK && keep_notes) ro->kept[fi] = p;
        else gb_piece_notes_free(&p);
        if (st != GB_OK) {
            cli_error(path, &e);
            goto out;
        }
    }
    if (set->n == 0) {
        fprintf(stderr, "groovybee: %s: no readable MIDI file (%zu found, %zu skipped)\n", what,
                set->seen, set->skipped);
        goto out;
    }
    ok = 1;
out:
    strlist_free(&l.files);
    return ok;
}

static void readout_free(readout *ro) {
    if (ro->kept)
        for (size_t i = 0; i < ro->files.n; i++) gb_piece_notes_free(&ro->kept[i]);
    free(ro->kept);
    free(ro->file_of);
    strlist_free(&ro->files);
    memset(ro, 0, sizeof *ro);
}

/* The label of a set: the stem of its one file, the name of its one folder, else the first
 * path's and "+N". */
static void label_of(const strlist *paths, char *out, size_t cap) {
    char stem[64];
    cli_stem(paths->paths[0], stem, sizeof stem);
    if (paths->n == 1) snprintf(out, cap, "%s", stem);
    else snprintf(out, cap, "%.40s+%zu", stem, paths->n - 1);
}

/* ------------------------------------------------------------------------------------------ */
/* the baselines */

typedef struct {
    gb_piece_set train, valid, floor;
    gb_set_cmp ceiling_cmp, floor_cmp;
} baselines;

static gb_status make_baselines(const gb_piece_set *ref, const readout *ro, double fraction,
                                uint64_t seed, const how *h, baselines *b, gb_error *err) {
    size_t nf = ro->files.n;
    uint8_t *valid = malloc(nf ? nf : 1);
    if (!valid) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    gb_status st = gb_split_choose(nf, fraction, seed, valid, err);
    for (size_t i = 0; i < nf; i++) (valid[i] ? &b->valid : &b->train)->seen++;
    b->floor.seen = b->valid.seen;
    for (size_t i = 0; i < ref->n && st == GB_OK; i++) {
        const gb_piece *p = &ref->pieces[i];
        st = gb_piece_set_add(valid[ro->file_of[i]] ? &b->valid : &b->train, p->path, p->id,
                              &p->f, err);
    }
    gb_rng rng;
    gb_rng_seed(&rng, seed ^ 0x464C4F4F52ull); /* "FLOOR" */
    for (size_t i = 0; i < nf && st == GB_OK; i++) {
        if (!valid[i]) continue;
        gb_piece_notes r;
        if ((st = gb_piece_notes_random(&ro->kept[i], h->spb, &rng, &r, err)) != GB_OK) break;
        char id[64];
        snprintf(id, sizeof id, "random-%zu", i);
        st = add_pieces(&b->floor, ro->files.paths[i], id, &r, h, i, NULL, NULL, err);
        gb_piece_notes_free(&r);
    }
    free(valid);
    snprintf(b->valid.label, sizeof b->valid.label, "ceiling");
    snprintf(b->floor.label, sizeof b->floor.label, "floor");
    snprintf(b->train.label, sizeof b->train.label, "training split");
    if (st == GB_OK && (!b->valid.n || !b->train.n))
        st = gb_fail(err, GB_ERR_ARG, -1,
                     "--baselines needs a reference of two files or more (it has %zu)", nf);
    if (st == GB_OK) st = gb_compare_sets(&b->valid, &b->train, &b->ceiling_cmp, err);
    if (st == GB_OK) st = gb_compare_sets(&b->floor, &b->train, &b->floor_cmp, err);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* the table */

static const char *num(double v, char *buf) {
    double a = fabs(v);
    snprintf(buf, 16, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : "%.2f", v);
    return buf;
}

/* "12.3 ± 4.5", "12.3" for one piece, "12 values" for a histogram, "-" without values. */
static void mean_sd_str(const gb_set_stats *s, int f, char *out, size_t cap) {
    char a[16], b[16];
    const int o = gb_features[f].offset;
    if (!s->n[f]) snprintf(out, cap, "-");
    else if (gb_features[f].dim > 1) snprintf(out, cap, "%d values", gb_features[f].dim);
    else if (s->n[f] == 1) snprintf(out, cap, "%s", num(s->mean[o], a));
    else snprintf(out, cap, "%s ± %s", num(s->mean[o], a), num(s->sd[o], b));
}

typedef struct {
    const char *role;        /* "generated", "ceiling", "floor" */
    const gb_piece_set *set;
    const gb_set_cmp *cmp;
    const char *against;     /* the label of the set it is compared with */
} column;

/* printf's width counts bytes; "±" is two */
static void pad(FILE *f, const char *s, int width) {
    int w = 0;
    for (const char *c = s; *c; c++) w += ((unsigned char)*c & 0xC0) != 0x80;
    fputs(s, f);
    for (; w < width; w++) fputc(' ', f);
}

/* The copy results of a set's files, summed. */
typedef struct {
    size_t n, whole;          /* files searched, files that are copies */
    uint64_t longest;         /* the longest stretch of any */
    uint64_t windows, found;  /* their 4-bar windows, and those found */
} copy_sum;

static copy_sum copy_total(const gb_piece_set *set) {
    copy_sum t = {0};
    for (size_t i = 0; i < set->n; i++) {
        const gb_copy_result *c = &set->pieces[i].copy;
        if (!set->pieces[i].has_copy) continue;
        t.n++, t.whole += c->whole != 0;
        if (c->longest > t.longest) t.longest = c->longest;
        t.windows += c->windows, t.found += c->windows_found;
    }
    return t;
}

static void copy_cells(const gb_piece_set *set, int spb, char *longest, char *windows,
                       size_t cap) {
    copy_sum t = copy_total(set);
    if (!t.n) {
        snprintf(longest, cap, "-");
        snprintf(windows, cap, "-");
        return;
    }
    if (t.whole) snprintf(longest, cap, "%zu of %zu whole", t.whole, t.n);
    else snprintf(longest, cap, "%llu steps, %.4g beats", (unsigned long long)t.longest,
                  (double)t.longest / spb);
    if (t.windows) snprintf(windows, cap, "%llu of %llu, %.0f%%", (unsigned long long)t.found,
                            (unsigned long long)t.windows,
                            100.0 * (double)t.found / (double)t.windows);
    else snprintf(windows, cap, "no 4-bar window");
}

/* How many pieces of set lack feature k, by reason. */
static void undef_counts(const gb_piece_set *set, int k, size_t by[GB_UNDEF_COUNT]) {
    memset(by, 0, GB_UNDEF_COUNT * sizeof *by);
    for (size_t i = 0; i < set->n; i++) by[set->pieces[i].f.undef[k]]++;
}

static void print_table(FILE *f, const gb_piece_set *ref, const gb_set_stats *rs,
                        const column *cols, size_t nc, const how *h) {
    enum { NAME = 30, REF = 16, MEAN = 16, NUM = 6 };
    char buf[128];
    fprintf(f, "%-*s", NAME, "");
    snprintf(buf, sizeof buf, "%s (%zu)", ref->label, ref->n);
    pad(f, buf, REF + 2);
    for (size_t c = 0; c < nc; c++) {
        snprintf(buf, sizeof buf, "%s (%zu)", cols[c].set->label, cols[c].set->n);
        fprintf(f, "%s", c ? "  " : "");
        pad(f, buf, MEAN + 2 * NUM + 2);
    }
    fprintf(f, "\n%-*s", NAME, "feature");
    pad(f, "mean ± sd", REF + 2);
    for (size_t c = 0; c < nc; c++) {
        fprintf(f, "%s", c ? "  " : "");
        pad(f, "mean ± sd", MEAN);
        fprintf(f, "%*s%*s", NUM, "KL", NUM + 2, "OA");
    }
    fputc('\n', f);
    for (int k = 0; k < GB_F_COUNT; k++) {
        fprintf(f, "%-*s", NAME, gb_features[k].name);
        mean_sd_str(rs, k, buf, sizeof buf);
        pad(f, buf, REF + 2);
        for (size_t c = 0; c < nc; c++) {
            fprintf(f, "%s", c ? "  " : "");
            mean_sd_str(&cols[c].cmp->gen, k, buf, sizeof buf);
            pad(f, buf, MEAN);
            const gb_feature_cmp *fc = &cols[c].cmp->f[k];
            if (fc->defined) fprintf(f, "%*.2f%*.2f", NUM, fc->kl, NUM + 2, fc->oa);
            else fprintf(f, "%*s%*s", NUM, "-", NUM + 2, "-");
        }
        fputc('\n', f);
    }
    if (h->ix) {
        char l[64], w[64];
        const char *rows[2] = {"copying: longest verbatim", "copying: 4-bar windows found"};
        for (int r = 0; r < 2; r++) {
            fprintf(f, "%-*s", NAME, rows[r]);
            pad(f, "", REF + 2);
            for (size_t c = 0; c < nc; c++) {
                copy_cells(cols[c].set, h->spb, l, w, sizeof l);
                fprintf(f, "%s", c ? "  " : "");
                pad(f, r ? w : l, MEAN + 2 * NUM + 2);
            }
            fputc('\n', f);
        }
    }
    for (size_t c = 0; c < nc; c++)
        if (strcmp(cols[c].against, ref->label))
            fprintf(f, "note: %s is compared with the %s\n", cols[c].set->label, cols[c].against);
    /* what is undefined, and why */
    for (size_t c = 0; c < nc; c++) {
        const gb_piece_set *s = cols[c].set;
        for (int k = 0; k < GB_F_COUNT; k++) {
            size_t by[GB_UNDEF_COUNT];
            undef_counts(s, k, by);
            for (int u = 1; u < GB_UNDEF_COUNT; u++)
                if (by[u])
                    fprintf(f, "note: %s: %s undefined for %zu of %zu pieces: %s\n",
                            cols[c].set->label, gb_features[k].name, by[u], s->n,
                            gb_undef_str((gb_undef)u));
            if (!cols[c].cmp->f[k].defined && cols[c].cmp->f[k].why)
                fprintf(f, "note: %s: no KL/OA for %s: %s\n", cols[c].set->label, gb_features[k].name,
                        cols[c].cmp->f[k].why);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* JSON */

static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.15g", v);
    else fputs("null", f);
}

static void json_values(FILE *f, const double *v, int dim) {
    if (dim == 1) {
        json_num(f, v[0]);
        return;
    }
    fputc('[', f);
    for (int k = 0; k < dim; k++) {
        if (k) fputc(',', f);
        json_num(f, v[k]);
    }
    fputc(']', f);
}

static void json_stats(FILE *f, const gb_set_stats *s, int k) {
    const int o = gb_features[k].offset, d = gb_features[k].dim;
    fprintf(f, "\"n\":%zu,\"mean\":", s->n[k]);
    if (s->n[k]) json_values(f, s->mean + o, d);
    else fputs("null", f);
    fputs(",\"sd\":", f);
    if (s->n[k]) json_values(f, s->sd + o, d);
    else fputs("null", f);
}

static void json_set_head(FILE *f, const gb_piece_set *s) {
    fputs("\"label\":", f);
    cli_json_str(f, s->label);
    fprintf(f, ",\"files\":%zu,\"skipped\":%zu,\"n_pieces\":%zu", s->seen, s->skipped, s->n);
}

static void json_features_stats(FILE *f, const gb_set_stats *s) {
    fputs("\"features\":{", f);
    for (int k = 0; k < GB_F_COUNT; k++) {
        fprintf(f, "%s\"%s\":{", k ? "," : "", gb_features[k].key);
        json_stats(f, s, k);
        fputc('}', f);
    }
    fputc('}', f);
}

static void json_copy(FILE *f, const gb_piece_set *s, const readout *ref, int spb) {
    fputs("\"copying\":{\"pieces\":[", f);
    int first = 1;
    for (size_t i = 0; i < s->n; i++) {
        const gb_piece *p = &s->pieces[i];
        if (!p->has_copy) continue;
        const gb_copy_result *c = &p->copy;
        fputs(first ? "{\"path\":" : ",{\"path\":", f);
        first = 0;
        cli_json_str(f, p->path);
        fprintf(f, ",\"longest_steps\":%llu,\"span_steps\":%llu,\"whole\":%s,\"windows\":%llu,"
                   "\"windows_found\":%llu",
                (unsigned long long)c->longest, (unsigned long long)c->span,
                c->whole ? "true" : "false", (unsigned long long)c->windows,
                (unsigned long long)c->windows_found);
        if (c->longest) {
            fprintf(f, ",\"part\":%d,\"step\":%llu,\"reference\":", c->gen_part,
                    (unsigned long long)c->gen_step);
            cli_json_str(f, c->ref_piece < ref->files.n ? ref->files.paths[c->ref_piece] : "");
            fprintf(f, ",\"reference_part\":%d,\"reference_step\":%llu", c->ref_part,
                    (unsigned long long)c->ref_step);
        }
        fputc('}', f);
    }
    copy_sum t = copy_total(s);
    fprintf(f, "],\"longest_steps\":%llu,\"longest_beats\":", (unsigned long long)t.longest);
    json_num(f, (double)t.longest / spb);
    fprintf(f, ",\"whole_pieces\":%zu,\"windows\":%llu,\"windows_found\":%llu,\"share_found\":",
            t.whole, (unsigned long long)t.windows, (unsigned long long)t.found);
    json_num(f, t.windows ? (double)t.found / (double)t.windows : 0);
    fputc('}', f);
}

static void json_column(FILE *f, const column *c, const readout *ref, const how *h) {
    fputc('{', f);
    json_set_head(f, c->set);
    fprintf(f, ",\"role\":\"%s\",\"compared_with\":", c->role);
    cli_json_str(f, c->against);
    fputs(",\"features\":{", f);
    for (int k = 0; k < GB_F_COUNT; k++) {
        const gb_feature_cmp *fc = &c->cmp->f[k];
        fprintf(f, "%s\"%s\":{", k ? "," : "", gb_features[k].key);
        json_stats(f, &c->cmp->gen, k);
        fputs(",\"undefined\":{", f);
        size_t by[GB_UNDEF_COUNT];
        undef_counts(c->set, k, by);
        for (int u = 1, first = 1; u < GB_UNDEF_COUNT; u++)
            if (by[u]) {
                fputs(first ? "" : ",", f);
                first = 0;
                cli_json_str(f, gb_undef_str((gb_undef)u));
                fprintf(f, ":%zu", by[u]);
            }
        fprintf(f, "},\"reference\":{");
        json_stats(f, &c->cmp->ref, k);
        fprintf(f, "},\"intra\":{\"n\":%zu,\"mean\":", fc->n_intra);
        json_num(f, fc->n_intra ? fc->intra_mean : NAN);
        fputs(",\"sd\":", f);
        json_num(f, fc->n_intra ? fc->intra_sd : NAN);
        fprintf(f, "},\"inter\":{\"n\":%zu,\"mean\":", fc->n_inter);
        json_num(f, fc->n_inter ? fc->inter_mean : NAN);
        fputs(",\"sd\":", f);
        json_num(f, fc->n_inter ? fc->inter_sd : NAN);
        fputs("},\"kl\":", f);
        json_num(f, fc->defined ? fc->kl : NAN);
        fputs(",\"overlap\":", f);
        json_num(f, fc->defined ? fc->oa : NAN);
        if (!fc->defined) {
            fputs(",\"why\":", f);
            cli_json_str(f, fc->why ? fc->why : "");
        }
        fputc('}', f);
    }
    fputc('}', f);
    if (!strcmp(c->role, "generated")) {
        if (h->ix) {
            fputc(',', f);
            json_copy(f, c->set, ref, h->spb);
        }
        fputs(",\"pieces\":[", f);
        for (size_t i = 0; i < c->set->n; i++) {
            const gb_piece *p = &c->set->pieces[i];
            fputs(i ? ",{\"path\":" : "{\"path\":", f);
            cli_json_str(f, p->path);
            fputs(",\"features\":{", f);
            for (int k = 0; k < GB_F_COUNT; k++) {
                fprintf(f, "%s\"%s\":", k ? "," : "", gb_features[k].key);
                if (p->f.undef[k]) fputs("null", f);
                else json_values(f, p->f.v + gb_features[k].offset, gb_features[k].dim);
            }
            fputs("}}", f);
        }
        fputc(']', f);
    }
    fputc('}', f);
}

static int write_json(const char *path, const gb_piece_set *ref, const gb_set_stats *rs,
                      const baselines *b, const column *cols, size_t nc, const readout *ro,
                      const how *h) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        fprintf(stderr, "groovybee: out of memory\n");
        return 0;
    }
    fprintf(f, "{\"groovybee\":\"%s\",\"steps_per_beat\":%d,\"segment_beats\":", GB_VERSION,
            h->spb);
    json_num(f, h->segment);
    fputs(",\"reference\":{", f);
    json_set_head(f, ref);
    fputc(',', f);
    json_features_stats(f, rs);
    fputc('}', f);
    if (b) {
        fputs(",\"training_split\":{", f);
        json_set_head(f, &b->train);
        fputc(',', f);
        json_features_stats(f, &b->ceiling_cmp.ref);
        fputc('}', f);
    }
    fputs(",\"sets\":[", f);
    for (size_t c = 0; c < nc; c++) {
        if (c) fputc(',', f);
        json_column(f, &cols[c], ro, h);
    }
    fputs("]}\n", f);
    fclose(f);
    int ok = 1;
    if (!strcmp(path, "-")) {
        ok = fwrite(text, 1, len, stdout) == len;
    } else {
        gb_error e;
        if (gb_file_write_atomic(path, text, len, &e) != GB_OK) {
            cli_error(path, &e);
            ok = 0;
        }
    }
    free(text);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */

int cmd_compare(int argc, char **argv) {
    enum { O_BESIDE = 256, O_BASE, O_VFRAC, O_SEED, O_SEGMENT, O_SPB, O_NOCOPY, O_JSON, O_PNG,
           O_TABLE };
    static const struct option opts[] = {{"reference", no_argument, 0, 'r'},
                                         {"beside", no_argument, 0, O_BESIDE},
                                         {"baselines", no_argument, 0, O_BASE},
                                         {"valid-fraction", required_argument, 0, O_VFRAC},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"segment", required_argument, 0, O_SEGMENT},
                                         {"steps-per-beat", required_argument, 0, O_SPB},
                                         {"no-copy", no_argument, 0, O_NOCOPY},
                                         {"json", required_argument, 0, O_JSON},
                                         {"png", required_argument, 0, O_PNG},
                                         {"table", required_argument, 0, O_TABLE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    strlist gen[MAX_SETS] = {{0}}, ref = {0}, *into = &gen[0];
    size_t n_gen = 1;
    int do_base = 0, no_copy = 0, status = EXIT_USAGE, c;
    double vfrac = 0.1, segment = 0;
    long spb = DEFAULT_SPB, seed = 1;
    const char *json = NULL, *png = NULL, *table = NULL;
    /* "-" first: every argument that is not an option comes back as 1, in order, so that
     * paths join the set named before them */
    while ((c = getopt_long(argc, argv, "-rh", opts, NULL)) != -1) {
        switch (c) {
        case 1:
            if (!strlist_add(into, optarg)) {
                fprintf(stderr, "groovybee: out of memory\n");
                status = EXIT_RUNTIME;
                goto out;
            }
            break;
        case 'r': into = &ref; break;
        case O_BESIDE:
            if (n_gen == MAX_SETS - 2) {
                cli_usage_error("compare", "at most %d generated sets", MAX_SETS - 2);
                goto out;
            }
            into = &gen[n_gen++];
            break;
        case O_BASE: do_base = 1; break;
        case O_VFRAC:
            if (!cli_double("compare", "--valid-fraction", optarg, 0.01, 0.99, &vfrac)) goto out;
            break;
        case O_SEED:
            if (!cli_int("compare", "--seed", optarg, 0, LONG_MAX, &seed)) goto out;
            break;
        case O_SEGMENT:
            if (!cli_double("compare", "--segment", optarg, 0, 1e6, &segment)) goto out;
            if (segment > 0 && segment < 1) {
                cli_usage_error("compare", "--segment wants 0 (whole pieces) or 1 beat or more");
                goto out;
            }
            break;
        case O_SPB:
            if (!cli_int("compare", "--steps-per-beat", optarg, 1, 96, &spb)) goto out;
            break;
        case O_NOCOPY: no_copy = 1; break;
        case O_JSON: json = optarg; break;
        case O_PNG: png = optarg; break;
        case O_TABLE: table = optarg; break;
        case 'h':
            printf(HELP, MAX_SETS - 2, DEFAULT_SPB);
            status = EXIT_OK;
            goto out;
        default: cli_usage_error("compare", "bad option"); goto out;
        }
    }
    if (!gen[0].n) {
        cli_usage_error("compare", "no generated files given");
        goto out;
    }
    for (size_t i = 1; i < n_gen; i++)
        if (!gen[i].n) {
            cli_usage_error("compare", "--beside wants files after it");
            goto out;
        }
    if (!ref.n) {
        cli_usage_error("compare", "--reference CORPUS... is required");
        goto out;
    }
    status = EXIT_RUNTIME;
    how h = {(int)spb, segment, NULL};
    gb_error e;
    gb_piece_set ref_set, gen_set[MAX_SETS];
    memset(&ref_set, 0, sizeof ref_set);
    memset(gen_set, 0, sizeof gen_set);
    gb_set_cmp *cmp = calloc(n_gen, sizeof *cmp);
    readout ro = {0}, gro = {0};
    baselines *b = NULL;
    if (!cmp) {
        fprintf(stderr, "groovybee: out of memory\n");
        goto done;
    }
    if (!no_copy && gb_copy_new(h.spb, &h.ix, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        goto done;
    }
    snprintf(ref_set.label, sizeof ref_set.label, "reference");
    if (!read_set("the reference", &ref, 1, do_base, &h, &ref_set, &ro)) goto done;
    fprintf(stderr, "reference: %zu piece%s from %zu files (%zu skipped)\n", ref_set.n,
            ref_set.n == 1 ? "" : "s", ro.files.n, ref_set.skipped);
    column cols[MAX_SETS];
    size_t nc = 0;
    for (size_t i = 0; i < n_gen; i++) {
        label_of(&gen[i], gen_set[i].label, sizeof gen_set[i].label);
        int ok = read_set(gen_set[i].label, &gen[i], 0, 0, &h, &gen_set[i], &gro);
        readout_free(&gro);
        if (!ok) goto done;
        if (gb_compare_sets(&gen_set[i], &ref_set, &cmp[i], &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s\n", e.msg);
            goto done;
        }
        cols[nc++] = (column){"generated", &gen_set[i], &cmp[i], ref_set.label};
    }
    if (do_base) {
        if (!(b = calloc(1, sizeof *b))) {
            fprintf(stderr, "groovybee: out of memory\n");
            goto done;
        }
        if (make_baselines(&ref_set, &ro, vfrac, (uint64_t)seed, &h, b, &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s\n", e.msg);
            goto done;
        }
        cols[nc++] = (column){"ceiling", &b->valid, &b->ceiling_cmp, b->train.label};
        cols[nc++] = (column){"floor", &b->floor, &b->floor_cmp, b->train.label};
    }
    const gb_set_stats *rs = &cmp[0].ref; /* every generated set's reference */
    if (json && !write_json(json, &ref_set, rs, b, cols, nc, &ro, &h)) goto done;
    if (table) { /* the table into its file (atomically) instead of stdout */
        char *text = NULL;
        size_t len = 0;
        FILE *mf = open_memstream(&text, &len);
        if (!mf) {
            fprintf(stderr, "groovybee: out of memory\n");
            goto done;
        }
        print_table(mf, &ref_set, rs, cols, nc, &h);
        if (fclose(mf) != 0) {
            free(text);
            fprintf(stderr, "groovybee: out of memory\n");
            goto done;
        }
        gb_status ws = gb_file_write_atomic(table, text, len, &e);
        free(text);
        if (ws != GB_OK) {
            fprintf(stderr, "groovybee: %s\n", e.msg);
            goto done;
        }
    } else if (!json || strcmp(json, "-")) {
        print_table(stdout, &ref_set, rs, cols, nc, &h);
    }
    if (png) {
        const gb_piece_set *sets[MAX_SETS + 1];
        size_t ns = 0;
        sets[ns++] = &ref_set;
        for (size_t i = 0; i < nc; i++) sets[ns++] = cols[i].set;
        gb_plot_opts po = {.title = "groovybee compare"}; /* 0 x 0: the comparison's size */
        if (gb_plot_compare_png(sets, ns, &po, png, &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s\n", e.msg);
            goto done;
        }
    }
    status = EXIT_OK;
done:
    if (b) {
        gb_piece_set_free(&b->train);
        gb_piece_set_free(&b->valid);
        gb_piece_set_free(&b->floor);
        free(b);
    }
    readout_free(&ro);
    gb_piece_set_free(&ref_set);
    for (size_t i = 0; i < n_gen; i++) gb_piece_set_free(&gen_set[i]);
    free(cmp);
    if (h.ix) gb_copy_free(h.ix);
out:
    for (size_t i = 0; i < MAX_SETS; i++) strlist_free(&gen[i]);
    strlist_free(&ref);
    return status;
}
