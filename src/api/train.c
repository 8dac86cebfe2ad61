/* train.c - gb_train_corpus: `groovybee train` for programs. A configuration is a preset with
 * options over it, set by name as the CLI takes them (one table below serves both); checking
 * it resolves the preset, or for a resumed run reads the run's files and refuses options that
 * differ from them; a run loads the corpus, splits it, cuts the windows and trains
 * (src/train), as one process or as one rank of an MPI job (src/dist). What it has to say
 * goes to the caller's message hook as lines of text. */
#define _GNU_SOURCE
#include <cblas.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "train/train.h"

#define MAXLIST 256

typedef struct {
    int set;
    long v;
} opt_l;

typedef struct {
    int set;
    double v;
} opt_d;

typedef struct {
    const char *preset, *loss, *loss_on, *values, *log, *head, *seq, *stride, *precision;
    opt_l hidden, layers, spb, ticks, batch, epochs, patience, max_windows, threads, seed,
        nade_hidden, transpose, lr_patience;
    opt_d dropout, dropout_in, dropout_out, lr, clip, vfrac, target, weight_decay, lr_decay, ema,
        stretch;
    int strip, onsets, ensemble, meter, merge, resume, shard; /* strip, meter, merge: -1 unset */
    const char *programs[MAXLIST], *instruments[MAXLIST], *valid[MAXLIST];
    int n_programs, n_instruments, n_valid;
} args;

struct gb_train_config {
    args a;
    char **owned; /* copies of the values set, that a's strings point into */
    size_t n_owned;
    /* gb_train_config_check's results, for model_path */
    char *checked;
    gb_model_info info;
    gb_ckpt_progress pr; /* a resumed run's: its own budget */
    int resume;          /* resuming (a->resume, unless nothing was written yet) */
    int starts;          /* a->resume, but nothing written yet: the run starts */
    int epochs, patience;  /* the run's budget */
    double target_loss;    /* 0: none */
    uint64_t max_windows;  /* 0: every window */
    gb_precision prec;
    int prec_fallback;   /* bf16 asked on a CPU without it */
};

/* ---- the options ---- */

enum kind { K_STR, K_INT, K_DBL, K_ON, K_OFF, K_LIST };

typedef struct {
    const char *name;
    enum kind kind;
    size_t off;     /* of the field in args (K_LIST: of the array; its count follows below) */
    long ilo, ihi;  /* K_INT */
    double dlo, dhi; /* K_DBL */
} option;

#define F(f) offsetof(args, f)
#define INT(n, f, lo, hi) {n, K_INT, F(f), lo, hi, 0, 0}
#define DBL(n, f, lo, hi) {n, K_DBL, F(f), 0, 0, lo, hi}
#define STR(n, f) {n, K_STR, F(f), 0, 0, 0, 0}
#define ON(n, f) {n, K_ON, F(f), 0, 0, 0, 0}
#define OFF(n, f) {n, K_OFF, F(f), 0, 0, 0, 0}
#define LIST(n, f) {n, K_LIST, F(f), 0, 0, 0, 0}
static const option OPTIONS[] = {
    STR("preset", preset), INT("hidden", hidden, 1, 1 << 16),
    INT("layers", layers, 1, GB_LSTM_MAX_LAYERS), DBL("dropout", dropout, 0, 0.99),
    DBL("dropout-in", dropout_in, 0, 0.99), DBL("dropout-out", dropout_out, 0, 0.99),
    STR("head", head), INT("nade-hidden", nade_hidden, 1, 1 << 16), STR("loss", loss),
    STR("loss-on", loss_on), INT("steps-per-beat", spb, 1, 960),
    INT("step-ticks", ticks, 1, 1L << 30), ON("strip-silence", strip), OFF("keep-silence", strip),
    STR("values", values), ON("onsets", onsets), ON("ensemble", ensemble), ON("meter", meter),
    OFF("no-meter", meter), ON("merge-parts", merge), OFF("split-parts", merge),
    LIST("program", programs), LIST("instrument", instruments), STR("seq", seq),
    STR("stride", stride), INT("transpose", transpose, 0, 127), DBL("stretch", stretch, 0, 0.5),
    DBL("weight-decay", weight_decay, 0, 1e6), DBL("lr-decay", lr_decay, 1e-6, 1),
    INT("lr-patience", lr_patience, 0, 1 << 30), DBL("ema", ema, 0, 0.999999),
    INT("batch", batch, 1, 1 << 16), DBL("lr", lr, 1e-12, 1e30), DBL("clip", clip, 0, 1e30),
    INT("epochs", epochs, 1, 1 << 30), DBL("valid-fraction", vfrac, 0, 0.9), LIST("valid", valid),
    INT("patience", patience, 0, 1 << 30), DBL("target-loss", target, 0, 1e30),
    INT("max-windows", max_windows, 1, 0xFFFFFFFFL), INT("threads", threads, 0, 1024),
    STR("precision", precision), INT("seed", seed, 0, 0x7FFFFFFFFFFFFFFFL), ON("resume", resume),
    STR("log", log), ON("shard-files", shard),
};
#undef F
#undef INT
#undef DBL
#undef STR
#undef ON
#undef OFF
#undef LIST
#define N_OPTIONS (int)(sizeof OPTIONS / sizeof *OPTIONS)

const char *gb_train_option(int i, int *takes_value) {
    if (i < 0 || i >= N_OPTIONS) return NULL;
    if (takes_value) *takes_value = OPTIONS[i].kind != K_ON && OPTIONS[i].kind != K_OFF;
    return OPTIONS[i].name;
}

static gb_status parse_long(const char *opt, const char *s, long lo, long hi, long *out,
                            gb_error *err) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return gb_fail(err, GB_ERR_ARG, -1, "%s wants an integer from %ld to %ld, not '%s'", opt,
                       lo, hi, s);
    *out = v;
    return GB_OK;
}

static gb_status parse_double(const char *opt, const char *s, double lo, double hi,
                              double *out, gb_error *err) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return gb_fail(err, GB_ERR_ARG, -1, "%s wants a number from %g to %g, not '%s'", opt, lo,
                       hi, s);
    *out = v;
    return GB_OK;
}

gb_status gb_train_config_new(gb_train_config **out, gb_error *err) {
    if (!(*out = calloc(1, sizeof **out))) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    (*out)->a.strip = (*out)->a.meter = (*out)->a.merge = -1;
    return GB_OK;
}

static void unchecked(gb_train_config *c) {
    free(c->checked);
    c->checked = NULL;
    gb_model_info_free(&c->info);
}

void gb_train_config_free(gb_train_config *c) {
    if (!c) return;
    unchecked(c);
    for (size_t i = 0; i < c->n_owned; i++) free(c->owned[i]);
    free(c->owned);
    free(c);
}

gb_status gb_train_config_set(gb_train_config *c, const char *key, const char *value,
                              gb_error *err) {
    const option *o = NULL;
    for (int i = 0; !o && i < N_OPTIONS; i++)
        if (strcmp(OPTIONS[i].name, key) == 0) o = &OPTIONS[i];
    if (!o) return gb_fail(err, GB_ERR_ARG, -1, "no option '%s'", key);
    int flag = o->kind == K_ON || o->kind == K_OFF;
    if (flag != !value)
        return gb_fail(err, GB_ERR_ARG, -1, flag ? "--%s takes no value" : "--%s wants a value",
                       key);
    char opt[48];
    snprintf(opt, sizeof opt, "--%s", key);
    if (o->kind == K_STR && !strcmp(key, "precision") && strcmp(value, "fp32") &&
        strcmp(value, "bf16") && strcmp(value, "auto"))
        return gb_fail(err, GB_ERR_ARG, -1, "--precision wants fp32, bf16 or auto, not '%s'",
                       value);
    char *field = (char *)&c->a + o->off, *copy = NULL, **grown;
    if (o->kind == K_STR || o->kind == K_LIST) { /* kept: the caller's string may go */
        if (!(grown = realloc(c->owned, (c->n_owned + 1) * sizeof *grown)) ||
            !(copy = strdup(value))) {
            if (grown) c->owned = grown;
            return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
        }
        c->owned = grown;
        c->owned[c->n_owned++] = copy;
    }
    unchecked(c);
    gb_status s = GB_OK;
    switch (o->kind) {
    case K_STR: *(const char **)field = copy; break;
    case K_ON: *(int *)field = 1; break;
    case K_OFF: *(int *)field = 0; break;
    case K_INT:
        if ((s = parse_long(opt, value, o->ilo, o->ihi, &((opt_l *)field)->v, err)) == GB_OK)
            ((opt_l *)field)->set = 1;
        break;
    case K_DBL:
        if ((s = parse_double(opt, value, o->dlo, o->dhi, &((opt_d *)field)->v, err)) == GB_OK)
            ((opt_d *)field)->set = 1;
        break;
    case K_LIST: {
        const char **list = (const char **)field;
        int *n = o->off == offsetof(args, programs)      ? &c->a.n_programs
                 : o->off == offsetof(args, instruments) ? &c->a.n_instruments
                                                         : &c->a.n_valid;
        if (*n >= MAXLIST) return gb_fail(err, GB_ERR_ARG, -1, "too many %s options", opt);
        list[(*n)++] = copy;
        break;
    }
    }
    return s;
}

/* ---- reporting ---- */

/* Appends formatted text to b (out of memory: the text is cut). */
static void say(gb_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || gb_buf_reserve(b, (size_t)n + 1) != GB_OK) return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static const char *prec_name(gb_precision p) { return p == GB_PREC_BF16 ? "bf16" : "fp32"; }

static const char *human_bytes(double b, char *buf, size_t cap) {
    const char *u[] = {"B", "KB", "MB", "GB", "TB"};
    int k = 0;
    while (b >= 1024 && k < 4) b /= 1024, k++;
    snprintf(buf, cap, k ? "%.1f %s" : "%.0f %s", b, u[k]);
    return buf;
}

static void describe_config(gb_buf *b, const gb_train_config *c) {
    const gb_model_info *in = &c->info;
    const gb_ds_encoding *e = &in->enc;
    char steps[64], progs[512];
    if (e->roll.step_ticks)
        snprintf(steps, sizeof steps, "%d tick%s a step", e->roll.step_ticks,
                 e->roll.step_ticks == 1 ? "" : "s");
    else
        snprintf(steps, sizeof steps, "%d step%s a beat", e->roll.steps_per_beat,
                 e->roll.steps_per_beat == 1 ? "" : "s");
    gb_ds_filter_format(e, progs, sizeof progs);
    say(b, "preset %s%s\n", in->preset[0] ? in->preset : "(none)", c->resume ? " (resuming)" : "");
    const char *but = e->drums ? " + drums" : (strcmp(progs, "all") == 0 ? " but drums" : "");
    if (e->events)
        say(b, "  encoding: performance events%s, %d tokens; parts: programs %s%s%s\n",
                e->events == GB_DS_ENSEMBLE ? " of an ensemble (PROGRAM tokens)" : "", in->net.D,
                progs, but, e->events == GB_DS_ENSEMBLE || e->merge ? ", one stream a file" : "");
    else
        say(b, "  encoding: %s, %s, %s rolls%s, %d features%s; parts: programs %s%s%s\n",
                steps, e->roll.strip_silence ? "silent steps stripped" : "rests kept",
                e->binary ? "binary" : "velocity", e->onsets ? " + onsets" : "", in->net.D,
                e->meter ? " + meter" : "", progs, but,
                e->merge ? ", merged: one part a file" : "");
    char head[48] = "sigmoid head"; /* BCE on the linear head's logits; MSE: velocities */
    if (in->loss == GB_LOSS_MSE) snprintf(head, sizeof head, "linear head");
    if (in->net.head == GB_HEAD_NADE) snprintf(head, sizeof head, "NADE head of %d", in->net.Hn);
    if (in->net.head == GB_HEAD_SOFTMAX) snprintf(head, sizeof head, "softmax head");
    say(b, "  model: LSTM %d x %d, %s, dropout %g (in %g, out %g), %s loss on %s\n",
            in->net.L, in->net.H, head, (double)in->net.dropout, (double)in->net.dropout_in,
            (double)in->net.dropout_out,
            in->loss == GB_LOSS_MSE ? "MSE" : in->loss == GB_LOSS_CE ? "cross-entropy" : "BCE",
            in->loss_on == GB_LOSS_ON_ALL ? "every step" : "the last step");
    char clip[32] = "no clipping";
    if (in->clip > 0) snprintf(clip, sizeof clip, "clip %g", (double)in->clip);
    char opt[160] = "";
    if (in->transpose) snprintf(opt, sizeof opt, ", transposed by up to %d", in->transpose);
    if (in->stretch > 0)
        snprintf(opt + strlen(opt), sizeof opt - strlen(opt), ", time stretched by up to %g%%",
                 100.0 * in->stretch);
    if (in->weight_decay > 0)
        snprintf(opt + strlen(opt), sizeof opt - strlen(opt), ", weight decay %g",
                 (double)in->weight_decay);
    if (in->lr_patience > 0 && in->lr_decay < 1)
        snprintf(opt + strlen(opt), sizeof opt - strlen(opt), ", lr x %g after %d flat epochs",
                 (double)in->lr_decay, in->lr_patience);
    if (in->ema > 0)
        snprintf(opt + strlen(opt), sizeof opt - strlen(opt), ", averaged weights (%g)",
                 (double)in->ema);
    say(b, "  training: windows of %d %s every %d, batch %d, Adam lr %g%s, %s, "
            "seed %llu, threads %d%s\n", in->seq, e->events ? "events" : "steps", in->stride,
            in->batch, (double)in->lr, opt,
            clip, (unsigned long long)in->seed, in->threads, in->threads ? "" : " (default)");
    char tl[48] = "", mw[48] = "";
    if (c->target_loss > 0) snprintf(tl, sizeof tl, ", target loss %g", c->target_loss);
    if (c->max_windows)
        snprintf(mw, sizeof mw, ", at most %llu windows", (unsigned long long)c->max_windows);
    char vf[64];
    if (in->valid_corpus && strcmp(in->valid_corpus, "[]") != 0)
        snprintf(vf, sizeof vf, "validation files given apart");
    else
        snprintf(vf, sizeof vf, "validation %g of the files", in->valid_fraction);
    say(b, "  run: epochs %d, patience %d%s%s%s, %s\n", c->epochs, c->patience,
            c->patience ? "" : " (off)", tl, mw, vf);
    say(b, "  kernels: %s products; %s\n", prec_name(c->prec),
            gb_kernels_line());
}

/* What print_corpus reports: the dataset's and windows' counts, all uint64_t so that a job of
 * shards can sum them over its ranks in one call. */
typedef struct {
    uint64_t seen, skipped, skipped_by[GB_DS_N_STATUS], no_parts, filtered, parts, files, valid,
        steps, runs, bytes, train, validw, short_parts, uncovered;
} corpus_figs;

static void corpus_figures(const gb_dataset *ds, const gb_ds_windows *wt,
                           const gb_ds_windows *wv, const gb_dist *d, int shard,
                           corpus_figs *f) {
    *f = (corpus_figs){.seen = ds->files_seen, .skipped = ds->files_skipped,
                       .no_parts = ds->files_no_parts, .filtered = ds->parts_filtered,
                       .parts = ds->n_parts, .files = ds->n_files, .steps = ds->steps,
                       .runs = ds->runs, .bytes = ds->bytes, .train = wt->n, .validw = wv->n,
                       .short_parts = wt->short_parts + wv->short_parts,
                       .uncovered = wt->uncovered + wv->uncovered};
    for (int k = 0; k < GB_DS_N_STATUS; k++) f->skipped_by[k] = ds->skipped_by[k];
    for (size_t i = 0; i < ds->n_files; i++) f->valid += ds->files[i].valid != 0;
    if (shard) gb_dist_sum_u64(d, (uint64_t *)f, sizeof *f / sizeof(uint64_t));
}

static void describe_corpus(gb_buf *b, const corpus_figs *f, int events, int T, int shards) {
    char hb[32];
    say(b, "corpus: %llu file%s found, %llu read, %llu skipped",
            (unsigned long long)f->seen, f->seen == 1 ? "" : "s",
            (unsigned long long)(f->seen - f->skipped), (unsigned long long)f->skipped);
    if (f->skipped) {
        const char *sep = " (";
        for (int k = 1; k < GB_DS_N_STATUS; k++)
            if (f->skipped_by[k]) {
                say(b, "%s%llu %s", sep, (unsigned long long)f->skipped_by[k],
                        gb_status_str((gb_status)k));
                sep = ", ";
            }
        say(b, ")");
    }
    if (f->no_parts)
        say(b, ", %llu without a matching part", (unsigned long long)f->no_parts);
    char runs[48] = "";
    if (!events) snprintf(runs, sizeof runs, " in %llu runs", (unsigned long long)f->runs);
    char where[48] = "in memory";
    if (shards > 1) snprintf(where, sizeof where, "in the memory of %d ranks", shards);
    say(b, "\n  %llu part%s (%llu left out by the filter) in %llu training and %llu "
            "validation files; %llu %s%s, %s %s\n", (unsigned long long)f->parts,
            f->parts == 1 ? "" : "s", (unsigned long long)f->filtered,
            (unsigned long long)(f->files - f->valid), (unsigned long long)f->valid,
            (unsigned long long)f->steps, events ? "events" : "steps", runs,
            human_bytes((double)f->bytes, hb, sizeof hb), where);
    say(b, "windows: %llu training, %llu validation", (unsigned long long)f->train,
            (unsigned long long)f->validw);
    if (f->short_parts)
        say(b, "; %llu part%s shorter than %d steps: one shorter window each (none for "
                "a part of one step)", (unsigned long long)f->short_parts,
                f->short_parts == 1 ? "" : "s", T + 1);
    say(b, "; %llu of %llu target steps predicted by no window%s\n",
            (unsigned long long)f->uncovered, (unsigned long long)(f->steps - f->parts),
            f->uncovered ? " (a smaller --stride covers more)" : "");
}

/* The roll preset's choices beyond gb_model_info_default (chosen on validation splits; the
 * figures are in bench/README.md) */
#define ROLL_NADE_HIDDEN 128
#define ROLL_TRANSPOSE 6
#define ROLL_DROPOUT_IN 0.2f
#define ROLL_DROPOUT_OUT 0.5f
#define ROLL_WEIGHT_DECAY 0.0f
#define ROLL_LR_DECAY 0.5f
#define ROLL_LR_PATIENCE 2
#define ROLL_EMA 0.999f
#define ROLL_MERGE 1
#define ROLL_SEQ_BEATS 16
#define ROLL_STRIDE_BEATS 2
#define ROLL_BATCH 16
#define ROLL_EPOCHS 100
#define ROLL_PATIENCE 10

/* The events preset: Performance RNN's recipe (clip 3, batch 64, transposition by 3, time stretch
 * by 5%) at the size and rate measured on data/classical's validation files within the demo's
 * budget (bench/README.md, issue 12): one layer at lr 0.005 left 3 x 512 and 2 x 512 at 0.001
 * (and 2 x 512 at 0.005) far behind. */
#define EV_SEQ 128
#define EV_STRIDE 64
#define EV_HIDDEN 512
#define EV_LAYERS 1
#define EV_LR 5e-3f
#define EV_CLIP 3.0f
#define EV_TRANSPOSE 3
#define EV_STRETCH 0.05f

/* The preset, then every option given over it. */
static gb_status resolve(const args *a, gb_model_info *in, gb_error *err) {
        gb_model_info_default(in); /* the roll preset */
    const char *preset = a->preset ? a->preset : "roll";
    int seq_stride_beats[2] = {0, 0}; /* the preset's windows in beats (0: in steps) */
    if (strcmp(preset, "roll") == 0) { /* the measured best: bench/README.md, issue 10 */
        in->enc.meter = 1, in->enc.merge = ROLL_MERGE;
        in->net.head = GB_HEAD_NADE, in->net.Hn = ROLL_NADE_HIDDEN;
        in->transpose = ROLL_TRANSPOSE;
        in->net.dropout_in = ROLL_DROPOUT_IN, in->net.dropout_out = ROLL_DROPOUT_OUT;
        in->weight_decay = ROLL_WEIGHT_DECAY;
        in->lr_decay = ROLL_LR_DECAY, in->lr_patience = ROLL_LR_PATIENCE;
        in->ema = ROLL_EMA;
        seq_stride_beats[0] = ROLL_SEQ_BEATS, seq_stride_beats[1] = ROLL_STRIDE_BEATS;
        in->batch = ROLL_BATCH;
    } else if (strcmp(preset, "events") == 0) {
        in->enc.events = GB_DS_EVENTS, in->enc.merge = 1;
        in->net = (gb_lstm_config){.H = EV_HIDDEN, .L = EV_LAYERS, .dropout = 0.2f,
                                   .head = GB_HEAD_SOFTMAX};
        in->loss = GB_LOSS_CE, in->loss_on = GB_LOSS_ON_ALL;
        in->seq = EV_SEQ, in->stride = EV_STRIDE, in->batch = 64;
        in->lr = EV_LR, in->clip = EV_CLIP;
        in->transpose = EV_TRANSPOSE, in->stretch = EV_STRETCH;
    } else if (strcmp(preset, "paper") == 0) {
        in->enc.roll = (gb_roll_opts){.step_ticks = 1, .strip_silence = 1};
        in->enc.binary = 0;
        in->loss = GB_LOSS_MSE;
        in->loss_on = GB_LOSS_ON_LAST;
        in->seq = 12, in->stride = 6;
        in->net.H = 512, in->net.L = 2, in->lr = 1e-3f;
    } else if (strcmp(preset, "roll") != 0) {
        return gb_fail(err, GB_ERR_ARG, -1, "--preset wants 'roll', 'events' or 'paper', not '%s'", preset);
    }
    snprintf(in->preset, sizeof in->preset, "%s", preset);
    if (a->hidden.set) in->net.H = (int)a->hidden.v;
    if (a->layers.set) in->net.L = (int)a->layers.v;
    if (a->dropout.set) in->net.dropout = (float)a->dropout.v;
    if (a->loss) {
        if (strcmp(a->loss, "mse") && strcmp(a->loss, "bce"))
            return gb_fail(err, GB_ERR_ARG, -1, "--loss wants 'mse' or 'bce', not '%s'", a->loss);
        in->loss = a->loss[0] == 'm' ? GB_LOSS_MSE : GB_LOSS_BCE;
    }
    if (a->loss_on) {
        if (strcmp(a->loss_on, "last") && strcmp(a->loss_on, "all"))
            return gb_fail(err, GB_ERR_ARG, -1, "--loss-on wants 'last' or 'all', not '%s'", a->loss_on);
        in->loss_on = a->loss_on[0] == 'l' ? GB_LOSS_ON_LAST : GB_LOSS_ON_ALL;
    }
    if (a->spb.set) in->enc.roll.steps_per_beat = (int)a->spb.v, in->enc.roll.step_ticks = 0;
    if (a->ticks.set) in->enc.roll.step_ticks = (int)a->ticks.v, in->enc.roll.steps_per_beat = 0;
    if (a->strip >= 0) in->enc.roll.strip_silence = a->strip;
    if (a->values) {
        if (strcmp(a->values, "binary") && strcmp(a->values, "velocity"))
            return gb_fail(err, GB_ERR_ARG, -1, "--values wants 'binary' or 'velocity', not '%s'",
                                   a->values);
        in->enc.binary = a->values[0] == 'b';
    }
    if (a->onsets) in->enc.onsets = 1;
    int events = in->enc.events != GB_DS_ROLL;
    if ((a->ensemble || a->stretch.set) && !events)
        return gb_fail(err, GB_ERR_ARG, -1, "%s is for performance events: add --preset events",
                               a->ensemble ? "--ensemble" : "--stretch");
    if (events && (a->spb.set || a->ticks.set || a->strip >= 0 || a->values || a->onsets ||
                   a->meter == 1 || a->head || a->loss))
        return gb_fail(err, GB_ERR_ARG, -1, "performance events keep time in 10 ms TIME_SHIFTs and "
                               "velocity in VELOCITY tokens, with a softmax head: the roll's "
                               "--steps-per-beat, --step-ticks, --strip-silence, --values, "
                               "--onsets, --meter, --head and --loss do not apply");
    if (a->ensemble) in->enc.events = GB_DS_ENSEMBLE;
    if (a->stretch.set) in->stretch = (float)a->stretch.v;
    in->net.D = gb_ds_features(&in->enc);
    if (events) in->net.V = in->net.D;
    if (a->n_programs || a->n_instruments) gb_ds_filter_clear(&in->enc);
    for (int i = 0; i < a->n_programs; i++) {
        long p;
        gb_status s = parse_long("--program", a->programs[i], 0, 127, &p, err);
        if (s != GB_OK) return s;
        in->enc.programs[p] = 1;
    }
    for (int i = 0; i < a->n_instruments; i++) {
        gb_error e;
        if (gb_ds_filter_add_instrument(&in->enc, a->instruments[i], &e) != GB_OK)
            return gb_fail(err, GB_ERR_ARG, -1, "--instrument: %s", e.msg);
    }
    if (a->meter >= 0) in->enc.meter = a->meter;
    if (a->merge >= 0) in->enc.merge = a->merge;
    if (in->enc.meter && in->enc.roll.strip_silence)
        return gb_fail(err, GB_ERR_ARG, -1, "the meter inputs need the rests kept: add --no-meter, or "
                               "--keep-silence");
    in->net.E = in->enc.meter ? GB_DS_METER_FEATURES : 0;
    if (a->head) {
        if (strcmp(a->head, "sigmoid") && strcmp(a->head, "nade"))
            return gb_fail(err, GB_ERR_ARG, -1, "--head wants 'sigmoid' or 'nade', not '%s'", a->head);
        in->net.head = a->head[0] == 'n' ? GB_HEAD_NADE : GB_HEAD_LINEAR;
    }
    in->net.Hn = in->net.head == GB_HEAD_NADE
                     ? (a->nade_hidden.set ? (int)a->nade_hidden.v : in->net.Hn ? in->net.Hn : 128)
                     : 0;
    if (a->nade_hidden.set && in->net.head != GB_HEAD_NADE)
        return gb_fail(err, GB_ERR_ARG, -1, "--nade-hidden needs --head nade");
    /* windows: the preset's in beats become steps at the grid chosen; given ones are steps, or
     * beats with a 'b' suffix */
    int spb = in->enc.roll.step_ticks ? 0 : in->enc.roll.steps_per_beat;
    const char *win[2] = {a->seq, a->stride}, *wname[2] = {"--seq", "--stride"};
    int *wval[2] = {&in->seq, &in->stride};
    for (int i = 0; i < 2; i++) {
        if (!win[i]) {
            int beats = i ? seq_stride_beats[1] : seq_stride_beats[0];
            if (beats && spb) *wval[i] = beats * spb;
            continue;
        }
        char *end;
        long v = strtol(win[i], &end, 10);
        int in_beats = *end == 'b' && end[1] == 0;
        if (end == win[i] || (*end && !in_beats) || v < 1 || v > (1 << 16))
            return gb_fail(err, GB_ERR_ARG, -1, "%s wants a count of steps (64) or of beats (16b) in "
                                   "1..65536, not '%s'", wname[i], win[i]);
        if (in_beats && !spb)
            return gb_fail(err, GB_ERR_ARG, -1, "%s %s: beats need --steps-per-beat (not --step-ticks)",
                                   wname[i], win[i]);
        *wval[i] = (int)(in_beats ? v * spb : v);
    }
    if (a->batch.set) in->batch = (int)a->batch.v;
    if (a->lr.set) in->lr = (float)a->lr.v;
    if (a->clip.set) in->clip = (float)a->clip.v;
    if (a->vfrac.set) in->valid_fraction = a->vfrac.v;
    if (a->n_valid) in->valid_fraction = 0;
    if (a->seed.set) in->seed = (uint64_t)a->seed.v;
    if (a->threads.set) in->threads = (int)a->threads.v;
    if (a->transpose.set) in->transpose = (int)a->transpose.v;
    if (a->dropout_in.set) in->net.dropout_in = (float)a->dropout_in.v;
    if (a->dropout_out.set) in->net.dropout_out = (float)a->dropout_out.v;
    if (a->weight_decay.set) in->weight_decay = (float)a->weight_decay.v;
    if (a->lr_decay.set) in->lr_decay = (float)a->lr_decay.v;
    if (a->lr_patience.set) in->lr_patience = (int)a->lr_patience.v;
    if (a->ema.set) in->ema = (float)a->ema.v;
    return GB_OK;
}

/* --resume: the options given again must say what the run already is. Each is resolved over the
 * run's own preset as a fresh run would resolve it, and compared, as text, with the
 * checkpoint's value; the first that differs is refused, naming both. */
static gb_status resume_check(const args *a, const gb_model_info *ck, gb_error *err) {
    static const char *const LOSS[] = {"mse", "bce", "ce"}, *const ON[] = {"last", "all"};
    static const char *const HEAD[] = {"sigmoid", "nade", "softmax"};
    static const char *const REPR[] = {"off", "performance events", "ensemble"};
    static const char *const OFFON[] = {"off", "on"}, *const VALUES[] = {"velocity", "binary"};
    args b = *a;
    if (!b.preset) b.preset = ck->preset[0] ? ck->preset : "roll";
    gb_model_info fr;
    gb_status s = resolve(&b, &fr, err);
    if (s != GB_OK) return s;
    const char *name = NULL;
    char fv[512], cv[512], x[512], y[512]; /* what is given, what the run has */
#define TXT(given, opt, xs, ys)                                                              \
    do {                                                                                     \
        if (!name && (given) && strcmp(xs, ys) != 0) {                                      \
            name = opt;                                                                      \
            snprintf(fv, sizeof fv, "%s", xs);                                               \
            snprintf(cv, sizeof cv, "%s", ys);                                               \
        }                                                                                    \
    } while (0)
#define NUM(given, opt, field)                                                               \
    do {                                                                                     \
        if (!name && (given) && (double)fr.field != (double)ck->field) {                     \
            name = opt;                                                                      \
            snprintf(fv, sizeof fv, "%.7g", (double)fr.field);                               \
            snprintf(cv, sizeof cv, "%.7g", (double)ck->field);                              \
        }                                                                                    \
    } while (0)
#define NAMED(given, opt, names, field) TXT(given, opt, names[fr.field], names[ck->field])
    TXT(a->preset != NULL, "--preset", fr.preset, ck->preset);
    NUM(a->hidden.set, "--hidden", net.H);
    NUM(a->layers.set, "--layers", net.L);
    NUM(a->dropout.set, "--dropout", net.dropout);
    NUM(a->dropout_in.set, "--dropout-in", net.dropout_in);
    NUM(a->dropout_out.set, "--dropout-out", net.dropout_out);
    NAMED(a->loss != NULL, "--loss", LOSS, loss);
    NAMED(a->loss_on != NULL, "--loss-on", ON, loss_on);
    NUM(a->spb.set, "--steps-per-beat", enc.roll.steps_per_beat);
    NUM(a->ticks.set, "--step-ticks", enc.roll.step_ticks);
    NAMED(a->strip >= 0, "--strip-silence/--keep-silence", OFFON, enc.roll.strip_silence);
    NAMED(a->values != NULL, "--values", VALUES, enc.binary);
    NAMED(a->onsets, "--onsets", OFFON, enc.onsets);
    NAMED(a->ensemble, "--ensemble", REPR, enc.events);
    NUM(a->stretch.set, "--stretch", stretch);
    gb_ds_filter_format(&fr.enc, x, sizeof x);
    gb_ds_filter_format(&ck->enc, y, sizeof y);
    TXT(a->n_programs || a->n_instruments, "--program/--instrument", x, y);
    NUM(a->seq != NULL, "--seq", seq);
    NUM(a->stride != NULL, "--stride", stride);
    NAMED(a->head != NULL, "--head", HEAD, net.head);
    NUM(a->nade_hidden.set, "--nade-hidden", net.Hn);
    NAMED(a->meter >= 0, "--meter/--no-meter", OFFON, enc.meter);
    NUM(a->transpose.set, "--transpose", transpose);
    NUM(a->weight_decay.set, "--weight-decay", weight_decay);
    NUM(a->lr_decay.set, "--lr-decay", lr_decay);
    NUM(a->lr_patience.set, "--lr-patience", lr_patience);
    NUM(a->ema.set, "--ema", ema);
    NAMED(a->merge >= 0, "--merge-parts/--split-parts", OFFON, enc.merge);
    NUM(a->batch.set, "--batch", batch);
    NUM(a->lr.set, "--lr", lr);
    NUM(a->clip.set, "--clip", clip);
    NUM(a->vfrac.set, "--valid-fraction", valid_fraction);
    NUM(a->seed.set, "--seed", seed);
    char *given_valid = gb_ckpt_paths_json(a->valid, a->n_valid);
    TXT(a->n_valid, "--valid", given_valid ? given_valid : "",
        ck->valid_corpus ? ck->valid_corpus : "[]");
    free(given_valid);
#undef TXT
#undef NUM
#undef NAMED
    gb_model_info_free(&fr);
    if (name)
        return gb_fail(err, GB_ERR_ARG, -1, "%s: %s here, %s in the run being resumed: a resumed run "
                               "keeps its configuration (give the same value, or none)", name,
                               fv, cv);
    return GB_OK;
}


gb_status gb_train_config_check(gb_train_config *c, const char *model_path, gb_error *err) {
    if (c->checked && strcmp(c->checked, model_path) == 0) return GB_OK;
    unchecked(c);
    const args *a = &c->a;
    c->resume = a->resume, c->starts = 0;
    c->pr = (gb_ckpt_progress){0};
    gb_status s = GB_OK;
    if (a->spb.set && a->ticks.set)
        return gb_fail(err, GB_ERR_ARG, -1, "--steps-per-beat and --step-ticks exclude each "
                       "other");
    if (a->n_valid && a->vfrac.set)
        return gb_fail(err, GB_ERR_ARG, -1, "--valid and --valid-fraction exclude each other");
    const char *pn = a->precision ? a->precision : "auto";
    c->prec = !strcmp(pn, "bf16") ? gb_precision_supported(GB_PREC_BF16)
              : !strcmp(pn, "auto") ? gb_precision_auto() : GB_PREC_FP32;
    c->prec_fallback = !strcmp(pn, "bf16") && c->prec != GB_PREC_BF16;
    if (c->resume) {
        char *op = gb_ckpt_optim_path(model_path);
        if (!op) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
        if (access(model_path, F_OK) != 0 && access(op, F_OK) != 0) {
            c->resume = 0, c->starts = 1; /* stopped before its first epoch: start it */
        } else if ((s = gb_ckpt_read_info(model_path, &c->info, err)) == GB_OK &&
                   (s = gb_ckpt_read_progress(op, &c->pr, err)) != GB_OK) {
            gb_model_info_free(&c->info);
        }
        free(op);
        if (s != GB_OK) {
            char b[256];
            snprintf(b, sizeof b, "%s", err ? err->msg : "");
            return gb_fail(err, s, -1, "cannot resume: %s", b);
        }
    }
    if (c->resume) {
        if ((s = resume_check(a, &c->info, err)) != GB_OK) {
            gb_model_info_free(&c->info);
            return s;
        }
        if (a->threads.set) c->info.threads = (int)a->threads.v;
    } else {
        if ((s = resolve(a, &c->info, err)) != GB_OK ||
            (s = gb_model_info_check(&c->info, err)) != GB_OK) {
            gb_model_info_free(&c->info);
            return s == GB_ERR_NOMEM ? s : GB_ERR_ARG;
        }
    }
    /* the roll preset trains until the validation loss has stopped improving: with
     * transposition and dropout that takes tens of epochs (bench/README.md); a resumed run
     * keeps its own budget unless given again */
    int roll = strcmp(c->info.preset, "roll") == 0;
    const gb_ckpt_progress *pr = &c->pr;
    c->epochs = a->epochs.set ? (int)a->epochs.v : pr->run_epochs ? pr->run_epochs
                : roll ? ROLL_EPOCHS : 20;
    c->patience = a->patience.set ? (int)a->patience.v
                  : pr->run_patience ? (pr->run_patience > 0 ? pr->run_patience : 0)
                  : roll ? ROLL_PATIENCE : 5;
    c->target_loss = a->target.set ? a->target.v
                     : pr->run_target_loss > 0 ? pr->run_target_loss : 0;
    c->max_windows = a->max_windows.set ? (uint64_t)a->max_windows.v
                     : pr->run_max_windows != UINT64_MAX ? pr->run_max_windows : 0;
    if (!(c->checked = strdup(model_path))) {
        gb_model_info_free(&c->info);
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    }
    return GB_OK;
}

/* ---- the run ---- */

static void tell(const gb_train_hooks *h, gb_buf *b) {
    if (h && h->message && b->len) h->message(h->ctx, (const char *)b->data);
    b->len = 0;
}

/* The dataset of the corpus (and the --valid files) as this rank holds it, split. */
static gb_status load_corpus(const gb_train_config *c, const char *const *corpus, size_t n,
                             const gb_dist *d, int shard, const gb_train_hooks *h,
                             gb_dataset *ds, gb_error *err) {
    const args *a = &c->a;
    /* --valid patterns expanded here, so that a quoted glob works (a path without wildcards,
     * or a pattern that matches nothing, stays as it is and gets its error from the loader) */
    glob_t gl = {0};
    gb_status s = GB_OK;
    for (int i = 0; s == GB_OK && i < a->n_valid; i++)
        if (glob(a->valid[i], GLOB_NOCHECK | (i ? GLOB_APPEND : 0), NULL, &gl) != 0)
            s = gb_fail(err, GB_ERR_IO, -1, "--valid %s: cannot expand", a->valid[i]);
    if (s == GB_OK) s = gb_ds_init(ds, &c->info.enc, err);
    /* files that cannot be read are reported once: by rank 0, or by the rank whose shard holds
     * them */
    gb_ds_warn_fn warn = h && (d->rank == 0 || shard) ? h->skip : NULL;
    void *wctx = h ? h->ctx : NULL;
    int k = shard ? d->rank : 0, shards = shard ? d->size : 1;
    if (s == GB_OK)
        s = gb_ds_add_paths_shard(ds, corpus, n, 0, k, shards, warn, wctx, err);
    if (s == GB_OK && a->n_valid)
        s = gb_ds_add_paths_shard(ds, (const char *const *)gl.gl_pathv, gl.gl_pathc, 1, k,
                                  shards, warn, wctx, err);
    globfree(&gl);
    if (s != GB_OK || a->n_valid || (c->info.valid_corpus && strcmp(c->info.valid_corpus, "[]")))
        return s;
    uint64_t first = 0, all = ds->n_files;
    if (shard) { /* the files before this shard's, and the corpus' */
        uint64_t *nf = malloc((size_t)d->size * sizeof *nf);
        if (!nf) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
        gb_dist_gather_u64(d, ds->n_files, nf);
        all = 0;
        for (int r = 0; r < d->size; r++) {
            if (r == d->rank) first = all;
            all += nf[r];
        }
        free(nf);
    }
    return gb_ds_split_range(ds, c->info.valid_fraction, c->info.seed, (size_t)all,
                             (size_t)first, err);
}

gb_status gb_train_corpus(gb_train_config *c, const char *const *corpus, size_t n,
                          const char *model_path, const gb_train_hooks *h, gb_train_result *res,
                          gb_error *err) {
    memset(res, 0, sizeof *res);
    if (!n) return gb_fail(err, GB_ERR_ARG, -1, "no corpus (MIDI files or folders)");
    gb_status s = gb_train_config_check(c, model_path, err);
    if (s != GB_OK) return s;
    const args *a = &c->a;
    gb_model_info *info = &c->info;
    if (!c->resume) { /* what the run trains on, recorded in its files */
        free(info->corpus);
        free(info->valid_corpus);
        info->corpus = gb_ckpt_paths_json(corpus, (int)n);
        info->valid_corpus = gb_ckpt_paths_json(a->valid, a->n_valid);
        if (!info->corpus || !info->valid_corpus)
            return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    }
    gb_dist dist; /* a job of several ranks (mpirun), or of this process alone */
    if ((s = gb_dist_init(&dist, err)) != GB_OK) return s;
    int lead = dist.rank == 0, shard = a->shard && dist.size > 1;
    res->rank = dist.rank, res->ranks = dist.size;
    int threads = info->threads;
    if (!threads && dist.local_size > 1) { /* the machine's cores shared by its ranks */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > dist.local_size ? (int)(cores / dist.local_size) : 1;
    }
    if (threads > 0) { /* before any BLAS call; resumption bit for bit needs the same */
        openblas_set_num_threads(threads);
        omp_set_num_threads(threads);
    }
    gb_buf b = {0};
    if (lead) {
        if (c->starts) say(&b, "no run at %s yet: starting it\n", model_path);
        tell(h, &b);
        if (c->prec_fallback)
            say(&b, "--precision bf16: this CPU has no bf16 instructions (AVX512-BF16 or AMX; "
                "%s): fp32 instead\n", gb_kernels_line());
        tell(h, &b);
        describe_config(&b, c);
        if (dist.size > 1)
            say(&b, "  job: %d ranks (MPI) on %d machine%s, each %d thread%s and about %d "
                "windows of each batch of %d%s\n", dist.size,
                (dist.size + dist.local_size - 1) / dist.local_size,
                dist.local_size < dist.size ? "s" : "", threads ? threads : omp_get_max_threads(),
                threads == 1 ? "" : "s", (info->batch + dist.size - 1) / dist.size, info->batch,
                shard ? "; each reads its shard of the files" : "");
        tell(h, &b);
    }
    gb_dataset ds = {0};
    gb_ds_windows wt = {0}, wv = {0};
    corpus_figs cf;
    if ((s = load_corpus(c, corpus, n, &dist, shard, h, &ds, err)) != GB_OK ||
        (s = gb_ds_windows_make(&ds, 0, info->seq, info->stride, &wt, err)) != GB_OK ||
        (s = gb_ds_windows_make(&ds, 1, info->seq, info->stride, &wv, err)) != GB_OK)
        goto out;
    corpus_figures(&ds, &wt, &wv, &dist, shard, &cf);
    if (cf.parts == 0) { /* every rank knows: no abort needed */
        s = gb_fail(err, GB_ERR_FORMAT, -1, "no parts to train on: %llu MIDI file%s found, "
                    "%llu skipped, %llu without a matching part", (unsigned long long)cf.seen,
                    cf.seen == 1 ? "" : "s", (unsigned long long)cf.skipped,
                    (unsigned long long)cf.no_parts);
        goto done;
    }
    if (lead) {
        describe_corpus(&b, &cf, info->enc.events != GB_DS_ROLL, info->seq, shard ? dist.size : 1);
        tell(h, &b);
    }
    gb_train_opts o = {.model_path = model_path, .epochs = c->epochs, .patience = c->patience,
                       .target_loss = c->target_loss, .max_windows = c->max_windows,
                       .resume = c->resume, .precision = c->prec, .log_path = a->log,
                       .progress = h ? h->progress : NULL, .ctx = h ? h->ctx : NULL,
                       .dist = &dist, .shard = shard};
    s = gb_train(&ds, info, &o, res, err);
    res->rank = dist.rank, res->ranks = dist.size;
    res->patience = c->patience, res->target_loss = c->target_loss;
out:
    /* one rank's error ends the job: the others would wait for it in the next collective */
    if (s != GB_OK && dist.size > 1) {
        say(&b, "rank %d of %d: %s; ending the job\n", dist.rank, dist.size,
            err ? err->msg : "an error");
        tell(h, &b);
        gb_dist_abort(&dist, 1);
    }
done:
    unchecked(c); /* a next run reads its files afresh */
    gb_buf_free(&b);
    gb_ds_windows_free(&wt);
    gb_ds_windows_free(&wv);
    gb_ds_free(&ds);
    gb_dist_finalize(&dist);
    return s;
}
