/* eval.c - gb_model_eval: `groovybee eval` for programs. The model's loss on whole parts, each
 * run from its first step to its last with the LSTM's states carried (src/model/stream.h),
 * every step predicted from the steps before it (the first from a zero input); for BCE models
 * also the frame-level negative log-likelihood of the literature on polyphonic music
 * (Boulanger-Lewandowski et al. 2012): nats per step, summed over the pitches of the keys; for
 * event models the NLL per event (Performance RNN's figure), its perplexity, and each token
 * class's share of the events and of the NLL. Under mpirun the ranks share out the parts
 * (gb_model_eval_dist) and add up their sums, which every rank then reads as one process
 * would. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "model/stream.h"

#define CHUNK 256 /* steps run at a time: memory stays bounded for any part length */

/* A part's sums, all doubles (counts exact below 2^53) so that ranks can add them up in one
 * allreduce. */
typedef struct {
    double loss, nll; /* sums over steps */
    double steps;
    double class_nll[GB_EVC_COUNT]; /* event models: sums per class of the predicted token */
    double class_n[GB_EVC_COUNT];
} sums;

/* Buffers for a chunk: inputs x (CHUNK + 1, Din), targets (CHUNK, D), outputs y (CHUNK, Dout),
 * per-step NLLs (CHUNK): the model's loss (all features) and the reported one (keys). */
typedef struct {
    float *x, *target, *y;
    double *nll_all, *nll_keys;
} bufs;

/* What one evaluation holds while it runs. */
typedef struct {
    const gb_model *m;
    uint8_t keys[256]; /* the features the NLL counts: pitches of the keys, onsets never */
    gb_dataset ds;
    int ds_ready;
    gb_lstm_stream *st;
    bufs b;
    sums *per; /* (ds.n_parts) */
} job;

/* An event model's part: events 1 .. S-1, each predicted from those before it. */
static void eval_tokens(const gb_lstm *m, const gb_dataset *ds, size_t pi, gb_lstm_stream *st,
                        float *x, float *y, double *nll, sums *out) {
    size_t S = ds->parts[pi].steps;
    gb_lstm_stream_reset(st);
    for (size_t k0 = 0; k0 + 1 < S; k0 += CHUNK) {
        size_t n = S - 1 - k0 < CHUNK ? S - 1 - k0 : CHUNK;
        gb_ds_cut(ds, pi, k0, n + 1, 1, 0, x); /* inputs k0 .. k0+n-1, then their targets */
        gb_lstm_stream_run(m, st, x, (int)n, y);
        gb_step_nll(m, y, x + 1, (int)n, NULL, nll);
        for (size_t t = 0; t < n; t++) {
            gb_ev_class c = gb_events_class((unsigned)x[t + 1], NULL);
            out->loss += nll[t], out->nll += nll[t];
            out->class_nll[c] += nll[t], out->class_n[c]++;
        }
        out->steps += n;
    }
}

/* One part, whole: inputs are steps -1 (zeros) .. S-2, targets steps 0 .. S-1. */
static void eval_part(job *j, size_t pi, sums *out) {
    const gb_lstm *m = &j->m->net;
    const gb_model_info *in = &j->m->info;
    const gb_dataset *ds = &j->ds;
    bufs *b = &j->b;
    int D = in->net.D, Din = gb_lstm_din(&in->net), Dout = gb_lstm_dout(&in->net);
    size_t S = ds->parts[pi].steps;
    gb_lstm_stream_reset(j->st);
    memset(out, 0, sizeof *out);
    if (in->enc.events) {
        eval_tokens(m, ds, pi, j->st, b->x, b->y, b->nll_all, out);
        return;
    }
    for (size_t k0 = 0; k0 < S; k0 += CHUNK) {
        size_t n = S - k0 < CHUNK ? S - k0 : CHUNK;
        /* x rows: step k0-1 .. k0+n-1; row 0 is zeros at the start of the part */
        if (k0 == 0) {
            memset(b->x, 0, (size_t)Din * sizeof *b->x);
            gb_ds_cut(ds, pi, 0, n, 1, 0, b->x + Din);
        } else {
            gb_ds_cut(ds, pi, k0 - 1, n + 1, 1, 0, b->x);
        }
        gb_lstm_stream_run(m, j->st, b->x, (int)n, b->y);
        for (size_t t = 0; t < n; t++)
            memcpy(b->target + t * D, b->x + (t + 1) * Din, (size_t)D * sizeof *b->target);
        if (in->loss == GB_LOSS_MSE) {
            for (size_t t = 0; t < n; t++) {
                double l = 0;
                for (int d = 0; d < D; d++) {
                    double e = b->y[t * Dout + d] - b->target[t * D + d];
                    l += e * e;
                }
                out->loss += l / D;
            }
        } else {
            /* the keys' NLL, and the loss (every feature) from a second pass only when the keys
             * leave some feature out: for a NADE each pass is the whole head again */
            int all = 1;
            for (int d = 0; d < D; d++) all &= j->keys[d];
            gb_step_nll(m, b->y, b->target, (int)n, j->keys, b->nll_keys);
            if (!all) gb_step_nll(m, b->y, b->target, (int)n, NULL, b->nll_all);
            const double *nll_all = all ? b->nll_keys : b->nll_all;
            for (size_t t = 0; t < n; t++)
                out->loss += nll_all[t] / D, out->nll += b->nll_keys[t];
        }
        out->steps += n;
    }
}

void gb_eval_opts_default(gb_eval_opts *o) {
    *o = (gb_eval_opts){.keys_lo = 0, .keys_hi = 127, .precision = GB_PREC_FP32};
}

void gb_eval_result_free(gb_eval_result *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_files; i++) free(r->files[i]);
    free(r->files);
    free(r->parts);
    memset(r, 0, sizeof *r);
}

static void job_free(job *j) {
    free(j->per);
    gb_lstm_stream_free(j->st);
    free(j->b.x), free(j->b.target), free(j->b.y), free(j->b.nll_all), free(j->b.nll_keys);
    if (j->ds_ready) gb_ds_free(&j->ds);
}

/* The dataset of the model's encoding, and a stream and buffers for chunks. */
static gb_status job_init(job *j, const gb_model *m, const gb_eval_opts *o, gb_error *err) {
    const gb_lstm_config *c = &m->info.net;
    j->m = m;
    for (int k = o->keys_lo; k <= o->keys_hi; k++) j->keys[k] = 1;
    gb_status s = gb_ds_init(&j->ds, &m->info.enc, err);
    if (s != GB_OK) {
        char inner[256];
        snprintf(inner, sizeof inner, "%s", err ? err->msg : "");
        return gb_fail(err, s, -1, "%s: %s", m->path, inner);
    }
    j->ds_ready = 1;
    j->b = (bufs){malloc((size_t)(CHUNK + 1) * gb_lstm_din(c) * sizeof(float)),
                  malloc((size_t)CHUNK * c->D * sizeof(float)),
                  malloc((size_t)CHUNK * gb_lstm_dout(c) * sizeof(float)),
                  malloc(CHUNK * sizeof(double)), malloc(CHUNK * sizeof(double))};
    if (!j->b.x || !j->b.target || !j->b.y || !j->b.nll_all || !j->b.nll_keys)
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    if ((s = gb_lstm_stream_new(c, 1, CHUNK, &j->st, err)) != GB_OK) return s;
    return gb_lstm_stream_set_precision(j->st, &m->net, o->precision, err);
}

/* Every rank must have read the same parts, or the sums would add up different corpora. */
static gb_status same_corpus(const gb_dist *dist, const gb_dataset *ds, gb_error *err) {
    int r = gb_dist_differs(dist, gb_ds_hash(ds), NULL);
    if (r < 0) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    if (r)
        return gb_fail(err, GB_ERR_IO, -1, "rank %d read other files than rank 0 (a file "
                       "missing, unreadable or different on its host)", r);
    return GB_OK;
}

/* The result's arrays, before the parts are run: once the ranks have added up their sums,
 * nothing can fail on one rank alone. */
static gb_status result_alloc(const gb_dataset *ds, gb_eval_result *out, gb_error *err) {
    out->files = calloc(ds->n_files, sizeof *out->files);
    out->parts = calloc(ds->n_parts, sizeof *out->parts);
    if (!out->files || !out->parts) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    for (; out->n_files < ds->n_files; out->n_files++)
        if (!(out->files[out->n_files] = strdup(ds->files[out->n_files].path)))
            return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    out->n_parts = ds->n_parts;
    return GB_OK;
}

/* The rows and the totals from the parts' sums, added in the parts' order. */
static void result_fill(const job *j, gb_eval_result *out) {
    const gb_model_info *in = &j->m->info;
    const gb_dataset *ds = &j->ds;
    out->events = in->enc.events != GB_DS_ROLL;
    out->has_nll = in->loss == GB_LOSS_BCE || out->events;
    out->loss_kind = out->events ? "ce" : in->loss == GB_LOSS_BCE ? "bce" : "mse";
    out->head = in->net.head == GB_HEAD_NADE      ? "nade"
                : in->net.head == GB_HEAD_SOFTMAX ? "softmax"
                                                  : "linear";
    out->files_seen = ds->files_seen, out->files_skipped = ds->files_skipped;
    out->files_no_parts = ds->files_no_parts;
    sums all = {0};
    for (size_t i = 0; i < ds->n_parts; i++) {
        const sums *s = &j->per[i];
        const gb_ds_part *p = &ds->parts[i];
        all.loss += s->loss, all.nll += s->nll, all.steps += s->steps;
        for (int k = 0; k < GB_EVC_COUNT; k++)
            all.class_nll[k] += s->class_nll[k], all.class_n[k] += s->class_n[k];
        out->parts[i] = (gb_eval_part){.file = p->file, .part = p->index, .track = p->track,
                                       .channel = p->channel, .program = p->program,
                                       .is_drum = p->is_drum, .steps = (uint64_t)s->steps,
                                       .loss = s->loss / s->steps,
                                       .nll = out->has_nll ? s->nll / s->steps : NAN};
    }
    out->steps = (uint64_t)all.steps;
    out->loss = all.loss / all.steps;
    out->nll = out->has_nll ? all.nll / all.steps : NAN;
    out->perplexity = out->events ? exp(out->nll) : NAN;
    for (int k = 0; k < GB_EVC_COUNT && out->events; k++) {
        out->class_events[k] = (uint64_t)all.class_n[k];
        out->class_share[k] = all.steps ? all.class_n[k] / all.steps : 0.0;
        out->class_nll[k] = all.class_n[k] ? all.class_nll[k] / all.class_n[k] : NAN;
    }
}

/* Each rank its share of the parts (i % size == rank), then their sums on every rank. */
static void run_parts(job *j, const gb_dist *dist) {
    for (size_t i = 0; i < j->ds.n_parts; i++)
        if ((int)(i % (size_t)dist->size) == dist->rank) eval_part(j, i, &j->per[i]);
    gb_dist_sum_double(dist, (double *)j->per, j->ds.n_parts * (sizeof *j->per / sizeof(double)));
}

gb_status gb_model_eval_dist(const gb_model *m, const char *const *paths, size_t n,
                             const gb_eval_opts *o, const gb_dist *dist, gb_eval_result *out,
                             int *together, gb_error *err) {
    gb_eval_opts def;
    memset(out, 0, sizeof *out);
    *together = 1; /* the arguments are every rank's */
    if (!o) gb_eval_opts_default(&def), o = &def;
    if (o->keys_lo < 0 || o->keys_hi > 127 || o->keys_lo > o->keys_hi)
        return gb_fail(err, GB_ERR_ARG, -1, "keys %d-%d: wanted LO-HI with 0 <= LO <= HI <= 127",
                       o->keys_lo, o->keys_hi);
    *together = 0;
    job j = {0};
    gb_status s = job_init(&j, m, o, err);
    if (s == GB_OK) s = gb_ds_add_paths(&j.ds, paths, n, 0, o->skip, o->ctx, err);
    if (s == GB_OK) s = same_corpus(dist, &j.ds, err);
    if (s == GB_OK && j.ds.n_parts == 0) { /* every rank knows */
        *together = 1;
        s = gb_fail(err, GB_ERR_ARG, -1, "no parts to evaluate: %zu MIDI file%s found, %zu "
                    "skipped, %zu without a part the model's filter takes", j.ds.files_seen,
                    j.ds.files_seen == 1 ? "" : "s", j.ds.files_skipped, j.ds.files_no_parts);
    }
    if (s == GB_OK) s = result_alloc(&j.ds, out, err);
    if (s == GB_OK && !(j.per = calloc(j.ds.n_parts, sizeof *j.per)))
        s = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    if (s == GB_OK) {
        run_parts(&j, dist); /* after it, nothing fails */
        result_fill(&j, out);
    }
    job_free(&j);
    if (s != GB_OK) gb_eval_result_free(out);
    return s;
}

gb_status gb_model_eval(const gb_model *m, const char *const *paths, size_t n,
                        const gb_eval_opts *o, gb_eval_result *out, gb_error *err) {
    const gb_dist alone = {.rank = 0, .size = 1, .local_size = 1};
    int together;
    return gb_model_eval_dist(m, paths, n, o, &alone, out, &together, err);
}
