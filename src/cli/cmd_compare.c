/* cmd_compare.c - `groovybee compare`: generated music against a corpus, feature by feature
 * (Yang & Lerch's protocol over their features and MusPy's), with a search for copied passages,
 * as a table, JSON and a PNG (docs/metrics.md). The reading and the figures are gb_comparison's
 * (src/api/compare.c); this file parses the options and prints what it holds. */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli.h"
#include "plot/plot.h"

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

/* The label of a set: the stem of its one file, the name of its one folder, else the first
 * path's and "+N". */
static void label_of(const gb_strs *paths, char *out, size_t cap) {
    char stem[64];
    cli_stem(paths->v[0], stem, sizeof stem);
    if (paths->n == 1) snprintf(out, cap, "%s", stem);
    else snprintf(out, cap, "%.40s+%zu", stem, paths->n - 1);
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

static void copy_cells(const gb_piece_set *set, int spb, char *longest, char *windows,
                       size_t cap) {
    gb_cmp_copy_sum t = gb_comparison_copy_sum(set);
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

static void print_table(FILE *f, const gb_comparison *cm, const gb_set_stats *rs,
                        const column *cols, size_t nc) {
    const gb_piece_set *ref = &cm->ref;
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
    if (cm->ix) {
        char l[64], w[64];
        const char *rows[2] = {"copying: longest verbatim", "copying: 4-bar windows found"};
        for (int r = 0; r < 2; r++) {
            fprintf(f, "%-*s", NAME, rows[r]);
            pad(f, "", REF + 2);
            for (size_t c = 0; c < nc; c++) {
                copy_cells(cols[c].set, cm->o.steps_per_beat, l, w, sizeof l);
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

static void json_copy(FILE *f, const gb_piece_set *s, const gb_cmp_files *ref, int spb) {
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
            cli_json_str(f, c->ref_piece < ref->files.n ? ref->files.v[c->ref_piece] : "");
            fprintf(f, ",\"reference_part\":%d,\"reference_step\":%llu", c->ref_part,
                    (unsigned long long)c->ref_step);
        }
        fputc('}', f);
    }
    gb_cmp_copy_sum t = gb_comparison_copy_sum(s);
    fprintf(f, "],\"longest_steps\":%llu,\"longest_beats\":", (unsigned long long)t.longest);
    json_num(f, (double)t.longest / spb);
    fprintf(f, ",\"whole_pieces\":%zu,\"windows\":%llu,\"windows_found\":%llu,\"share_found\":",
            t.whole, (unsigned long long)t.windows, (unsigned long long)t.found);
    json_num(f, t.windows ? (double)t.found / (double)t.windows : 0);
    fputc('}', f);
}

static void json_column(FILE *f, const column *c, const gb_comparison *cm) {
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
        if (cm->ix) {
            fputc(',', f);
            json_copy(f, c->set, &cm->ref_files, cm->o.steps_per_beat);
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

static void print_json(FILE *f, const gb_comparison *cm, const gb_set_stats *rs,
                       const column *cols, size_t nc) {
    const gb_piece_set *ref = &cm->ref;
    const gb_cmp_baselines *b = cm->base;
    fprintf(f, "{\"groovybee\":\"%s\",\"steps_per_beat\":%d,\"segment_beats\":", GB_VERSION,
            cm->o.steps_per_beat);
    json_num(f, cm->o.segment);
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
        json_column(f, &cols[c], cm);
    }
    fputs("]}\n", f);
}

/* What print writes, to stdout ("-") or atomically into its file. */
static int write_text(const char *path,
                      void (*print)(FILE *, const gb_comparison *, const gb_set_stats *,
                                    const column *, size_t),
                      const gb_comparison *cm, const gb_set_stats *rs, const column *cols,
                      size_t nc) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        fprintf(stderr, "groovybee: out of memory\n");
        return 0;
    }
    print(f, cm, rs, cols, nc);
    if (fclose(f) != 0) {
        free(text);
        fprintf(stderr, "groovybee: out of memory\n");
        return 0;
    }
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

/* The reference's histograms and every column's, side by side. */
static int write_png(const char *path, const gb_comparison *cm, const column *cols, size_t nc) {
    const gb_piece_set *sets[MAX_SETS + 1];
    size_t ns = 0;
    sets[ns++] = &cm->ref;
    for (size_t i = 0; i < nc; i++) sets[ns++] = cols[i].set;
    gb_plot_opts po = {.title = "groovybee compare"}; /* 0 x 0: the comparison's size */
    gb_error e;
    if (gb_plot_compare_png(sets, ns, &po, path, &e) == GB_OK) return 1;
    fprintf(stderr, "groovybee: %s\n", e.msg);
    return 0;
}

/* The comparison the options ask for, written where they say; an exit status. */
static int compare(const gb_strs *gen, size_t n_gen, const gb_strs *ref,
                   const gb_compare_opts *o, int do_base, double vfrac, uint64_t seed,
                   const char *json, const char *table, const char *png) {
    gb_error e;
    gb_comparison *cm = NULL;
    gb_status st = gb_comparison_new(o, do_base, &cm, &e);
    if (st == GB_OK) st = gb_comparison_read_reference(cm, (const char *const *)ref->v,
                                                       ref->n, &e);
    if (st == GB_OK)
        fprintf(stderr, "reference: %zu piece%s from %zu files (%zu skipped)\n", cm->ref.n,
                cm->ref.n == 1 ? "" : "s", cm->ref_files.files.n, cm->ref.skipped);
    for (size_t i = 0; i < n_gen && st == GB_OK; i++) {
        char label[64];
        label_of(&gen[i], label, sizeof label);
        st = gb_comparison_add(cm, label, (const char *const *)gen[i].v, gen[i].n, &e);
    }
    if (st == GB_OK && do_base) st = gb_comparison_baselines(cm, vfrac, seed, &e);
    if (st != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        gb_comparison_free(cm);
        return EXIT_RUNTIME;
    }
    column cols[MAX_SETS];
    size_t nc = 0;
    for (size_t i = 0; i < cm->n_gen; i++)
        cols[nc++] = (column){"generated", &cm->gen[i].set, &cm->gen[i].cmp, cm->ref.label};
    const gb_cmp_baselines *b = cm->base;
    if (b) {
        cols[nc++] = (column){"ceiling", &b->valid, &b->ceiling_cmp, b->train.label};
        cols[nc++] = (column){"floor", &b->floor, &b->floor_cmp, b->train.label};
    }
    const gb_set_stats *rs = &cm->gen[0].cmp.ref; /* every generated set's reference */
    int ok = !json || write_text(json, print_json, cm, rs, cols, nc);
    if (ok && table) ok = write_text(table, print_table, cm, rs, cols, nc);
    else if (ok && (!json || strcmp(json, "-"))) print_table(stdout, cm, rs, cols, nc);
    if (ok && png) ok = write_png(png, cm, cols, nc);
    gb_comparison_free(cm);
    return ok ? EXIT_OK : EXIT_RUNTIME;
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
    gb_strs gen[MAX_SETS] = {{0}}, ref = {0}, *into = &gen[0];
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
            if (!gb_strs_add(into, optarg)) {
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
    gb_compare_opts o = {.steps_per_beat = (int)spb, .segment = segment,
                         .copy_search = !no_copy, .skip = cli_warn_skipped};
    status = compare(gen, n_gen, &ref, &o, do_base, vfrac, (uint64_t)seed, json, table, png);
out:
    for (size_t i = 0; i < MAX_SETS; i++) gb_strs_free(&gen[i]);
    gb_strs_free(&ref);
    return status;
}
