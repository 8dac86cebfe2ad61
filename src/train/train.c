/* train.c - the training loop of train.h. */
#define _POSIX_C_SOURCE 200809L
#include "train/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

uint64_t gb_train_seed(uint64_t seed, uint64_t stream, uint64_t index) {
    /* splitmix64-style mixing of (seed, stream, index): distinct streams from one seed */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream * 0x10001ull + index + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Window ids of positions [b0, b0 + Bc) of an order: a permutation, or none (in order). */
static void order_ids(const gb_ds_perm *perm, uint64_t b0, int Bc, uint32_t *ids) {
    for (int b = 0; b < Bc; b++)
        ids[b] = perm ? gb_ds_perm_at(perm, (uint32_t)(b0 + b)) : (uint32_t)(b0 + b);
}

/* A batch's buffers: inputs x (T, B, Din), targets (T, B, Dt), mask (T, B), the head's outputs
 * y and their gradients dy (T, B, Dout), window ids (B). */
typedef struct {
    float *x, *target, *mask, *y, *dy;
    uint32_t *ids;
} batch_bufs;

/* The loss averaged over the first n windows of the order perm, in evaluation mode, batch by
 * batch. */
static double valid_loss(const gb_dataset *ds, const gb_ds_windows *w, const gb_ds_perm *perm,
                         uint64_t n, const gb_model_info *in, const gb_lstm *m, gb_lstm_acts *a,
                         batch_bufs *bb) {
    int T = in->seq;
    double sum = 0;
    for (uint64_t b0 = 0; b0 < n; b0 += (uint64_t)in->batch) {
        int Bc = n - b0 < (uint64_t)in->batch ? (int)(n - b0) : in->batch;
        order_ids(perm, b0, Bc, bb->ids);
        gb_ds_cut_batch(ds, w, bb->ids, Bc, NULL, bb->x, bb->target, bb->mask);
        gb_lstm_forward(m, a, bb->x, T, Bc, bb->y, NULL);
        sum += (double)gb_loss(m, NULL, in->loss, in->loss_on, bb->y, bb->target, bb->mask, T, Bc,
                               NULL) * Bc;
    }
    return n ? sum / (double)n : NAN;
}

static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}

static gb_status log_epoch(const char *path, int epoch, double tl, double vl, uint64_t windows,
                           double seconds, double wps, gb_error *err) {
    FILE *f = fopen(path, "a");
    if (!f) return gb_fail(err, GB_ERR_IO, -1, "%s: cannot open: %s", path, strerror(errno));
    fprintf(f, "{\"epoch\":%d,\"train_loss\":", epoch);
    json_num(f, tl);
    fputs(",\"valid_loss\":", f);
    json_num(f, vl);
    fprintf(f, ",\"windows\":%llu,\"seconds\":%.3f,\"windows_per_s\":%.1f}\n",
            (unsigned long long)windows, seconds, wps);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return gb_fail(err, GB_ERR_IO, -1, "%s: cannot write: %s", path, strerror(errno));
    return GB_OK;
}

gb_status gb_train(const gb_dataset *ds, gb_model_info *info, const gb_train_opts *o,
                   gb_train_result *res, gb_error *err) {
    memset(res, 0, sizeof *res);
    res->train_loss = res->valid_loss = res->best_loss = NAN;
    gb_status s = gb_model_info_check(info, err);
    if (s != GB_OK) return s;
    if (info->seq < 1 || info->stride < 1 || info->batch < 1)
        return gb_fail(err, GB_ERR_ARG, -1, "seq %d, stride %d, batch %d: need >= 1", info->seq,
                       info->stride, info->batch);
    if (!(info->lr > 0) || !o->model_path || o->epochs < 0)
        return gb_fail(err, GB_ERR_ARG, -1, "training needs lr > 0, a model path, epochs >= 0");
    if (gb_ds_features(&ds->enc) != info->net.D ||
        gb_ds_in_features(&ds->enc) != gb_lstm_din(&info->net))
        return gb_fail(err, GB_ERR_ARG, -1, "the corpus has %d features a step (%d inputs), the "
                       "model D = %d (%d inputs)", gb_ds_features(&ds->enc),
                       gb_ds_in_features(&ds->enc), info->net.D, gb_lstm_din(&info->net));

    int T = info->seq, B = info->batch, Dt = gb_lstm_dt(&info->net);
    int Din = gb_lstm_din(&info->net), Dout = gb_lstm_dout(&info->net);
    gb_ds_windows wt = {0}, wv = {0};
    gb_lstm m = {0};
    gb_lstm_acts *acts = NULL;
    batch_bufs bb = {0};
    char *optim_path = gb_ckpt_optim_path(o->model_path);
    if (!optim_path) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");

    if ((s = gb_ds_windows_make(ds, 0, T, info->stride, &wt, err)) != GB_OK ||
        (s = gb_ds_windows_make(ds, 1, T, info->stride, &wv, err)) != GB_OK)
        goto out;
    if (wt.n == 0) {
        s = gb_fail(err, GB_ERR_ARG, -1, "no training windows: no training part has 2 steps or "
                    "more");
        goto out;
    }
    uint64_t n_train = o->max_windows && o->max_windows < wt.n ? o->max_windows : wt.n;
    uint64_t n_valid = o->max_windows && o->max_windows < wv.n ? o->max_windows : wv.n;
    res->train_windows = n_train, res->valid_windows = n_valid;
    uint64_t hash = gb_ds_hash(ds);

    /* the model, fresh or resumed */
    gb_rng rinit, rdrop;
    gb_rng_seed(&rinit, gb_train_seed(info->seed, GB_SEED_INIT, 0));
    if ((s = gb_lstm_init(&m, &info->net, &rinit, err)) != GB_OK) goto out;
    gb_ckpt_progress pr = {.best_loss = INFINITY, .train_loss = NAN, .corpus_hash = hash,
                           .lr = info->lr};
    gb_rng_seed(&pr.rng, gb_train_seed(info->seed, GB_SEED_DROPOUT, 0));
    if (info->ema > 0 && (s = gb_ema_init(&m, err)) != GB_OK) goto out; /* before a resume's */
    if (o->resume) {
        if ((s = gb_ckpt_load_optim(optim_path, &m, &pr, err)) != GB_OK) goto out;
        if (pr.corpus_hash != hash) {
            s = gb_fail(err, GB_ERR_ARG, -1, "the corpus differs from the one %s was trained on "
                        "(files, encoding or split changed): resuming needs the same corpus",
                        o->model_path);
            goto out;
        }
    }
    rdrop = pr.rng;
    if (!(pr.lr > 0)) pr.lr = info->lr; /* an optim file from before lr decay */
    info->corpus_hash = hash;
    info->train_windows = wt.n, info->valid_windows = wv.n;
    res->epochs_done = pr.epoch;
    res->best_epoch = pr.best_epoch;
    res->best_loss = pr.best_epoch ? pr.best_loss : NAN;
    res->train_loss = pr.train_loss;

    /* buffers of a batch, activations */
    size_t tb = (size_t)T * B;
    bb.x = malloc(tb * Din * sizeof *bb.x), bb.target = malloc(tb * Dt * sizeof *bb.target);
    bb.mask = malloc(tb * sizeof *bb.mask);
    bb.y = malloc(tb * Dout * sizeof *bb.y), bb.dy = malloc(tb * Dout * sizeof *bb.dy);
    bb.ids = malloc((size_t)B * sizeof *bb.ids);
    if (!bb.x || !bb.target || !bb.mask || !bb.y || !bb.dy || !bb.ids) {
        s = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for a batch of %d x %d x %d", T, B,
                    Din + Dout);
        goto out;
    }
    if ((s = gb_lstm_acts_new(&info->net, T, B, &acts, err)) != GB_OK ||
        (s = gb_lstm_acts_set_precision(acts, o->precision, err)) != GB_OK)
        goto out;
    /* validation windows: all in order, or the same seeded subset every epoch */
    gb_ds_perm vperm;
    {
        gb_rng rv;
        gb_rng_seed(&rv, gb_train_seed(info->seed, GB_SEED_VALID, 0));
        gb_ds_perm_init(&vperm, wv.n, &rv);
    }
    if (o->log_path && !o->resume) { /* a fresh run starts a fresh log */
        FILE *f = fopen(o->log_path, "w");
        if (!f || fclose(f) != 0) {
            s = gb_fail(err, GB_ERR_IO, -1, "%s: cannot create: %s", o->log_path,
                        strerror(errno));
            goto out;
        }
    }

    res->stop = GB_STOP_EPOCHS;
    if (o->patience > 0 && pr.bad_epochs >= o->patience) res->stop = GB_STOP_PATIENCE;
    if (o->target_loss > 0 && pr.train_loss < o->target_loss) res->stop = GB_STOP_TARGET;
    for (int epoch = pr.epoch + 1; epoch <= o->epochs && res->stop == GB_STOP_EPOCHS; epoch++) {
        double t0 = now();
        gb_rng rs;
        gb_rng_seed(&rs, gb_train_seed(info->seed, GB_SEED_SHUFFLE, (uint64_t)epoch));
        gb_ds_perm perm;
        gb_ds_perm_init(&perm, wt.n, &rs);
        gb_rng raug; /* transpositions: a stream of the epoch's own, for resumption */
        gb_rng_seed(&raug, gb_train_seed(info->seed, GB_SEED_AUG, (uint64_t)epoch));
        gb_ds_aug aug = {.transpose = info->transpose, .stretch = info->stretch, .rng = &raug};
        gb_train_progress p = {.epoch = epoch, .epochs = o->epochs, .total = n_train,
                               .valid_loss = NAN, .train_loss = NAN};
        double sum = 0;
        uint64_t batch = 0;
        for (uint64_t b0 = 0; b0 < n_train; b0 += (uint64_t)B, batch++) {
            int Bc = n_train - b0 < (uint64_t)B ? (int)(n_train - b0) : B;
            order_ids(&perm, b0, Bc, bb.ids);
            gb_ds_cut_batch(ds, &wt, bb.ids, Bc, &aug, bb.x, bb.target, bb.mask);
            if (o->hook) o->hook(o->ctx, epoch, batch, &m);
            gb_lstm_forward(&m, acts, bb.x, T, Bc, bb.y, &rdrop);
            gb_lstm_zero_grad(&m);
            float loss = gb_loss(&m, &m.g, info->loss, info->loss_on, bb.y, bb.target, bb.mask, T,
                                 Bc, bb.dy);
            float norm = 0;
            if (isfinite(loss)) {
                gb_lstm_backward(&m, acts, bb.x, bb.dy, T, Bc);
                norm = gb_lstm_clip(&m, info->clip);
            }
            if (!isfinite(loss) || !isfinite(norm)) {
                res->stop = GB_STOP_NONFINITE;
                res->bad_epoch = epoch, res->bad_batch = batch;
                goto out; /* nothing more is written: the files keep the last good epoch */
            }
            gb_adam_step(&m, pr.lr, 0.9f, 0.999f, 1e-8f, info->weight_decay);
            if (m.ema) gb_ema_step(&m, info->ema);
            sum += (double)loss * Bc;
            p.done = b0 + (uint64_t)Bc;
            p.loss = sum / (double)p.done;
            p.seconds = now() - t0;
            if (o->progress) o->progress(o->ctx, &p);
        }
        double train_s = now() - t0;
        double tl = sum / (double)n_train;
        gb_lstm judged = m; /* the weights validated and saved: the averaged ones, if kept */
        if (m.ema) {
            judged.params = m.ema;
            gb_lstm_views_of(&m.cfg, m.ema, &judged.p);
        }
        double vl = valid_loss(ds, &wv, n_valid < wv.n ? &vperm : NULL, n_valid, info, &judged,
                               acts, &bb);
        if (n_valid && !isfinite(vl)) {
            res->stop = GB_STOP_NONFINITE;
            res->bad_epoch = epoch, res->bad_in_valid = 1;
            goto out;
        }
        double crit = n_valid ? vl : tl;
        int improved = pr.best_epoch == 0 || crit < pr.best_loss;
        pr.epoch = epoch;
        pr.train_loss = tl;
        pr.rng = rdrop;
        if (improved) {
            pr.best_epoch = epoch, pr.best_loss = crit, pr.bad_epochs = 0;
            info->epochs = epoch;
            info->train_loss = tl;
            info->best_valid_loss = n_valid ? vl : NAN;
            if ((s = gb_ckpt_save(o->model_path, &m, m.ema, info, err)) != GB_OK) goto out;
        } else {
            pr.bad_epochs++;
            /* on a plateau: the lr falls by lr_decay every lr_patience epochs without a new
             * best (PyTorch's ReduceLROnPlateau, mode min, threshold 0, cooldown 0) */
            if (info->lr_patience > 0 && info->lr_decay < 1 &&
                pr.bad_epochs % info->lr_patience == 0)
                pr.lr *= info->lr_decay;
        }
        p.lr = pr.lr;
        if ((s = gb_ckpt_save_optim(optim_path, &m, &pr, err)) != GB_OK) goto out;
        double secs = now() - t0, wps = train_s > 0 ? (double)n_train / train_s : 0;
        if (o->log_path &&
            (s = log_epoch(o->log_path, epoch, tl, n_valid ? vl : NAN, n_train, secs, wps,
                           err)) != GB_OK)
            goto out;
        res->epochs_done = epoch;
        res->epochs_run++;
        res->best_epoch = pr.best_epoch, res->best_loss = pr.best_loss;
        res->train_loss = tl, res->valid_loss = n_valid ? vl : NAN;
        p.end = 1, p.seconds = secs, p.train_loss = tl, p.valid_loss = res->valid_loss;
        p.windows_per_s = wps, p.improved = improved;
        if (o->progress) o->progress(o->ctx, &p);
        if (o->target_loss > 0 && tl < o->target_loss) res->stop = GB_STOP_TARGET;
        else if (o->patience > 0 && pr.bad_epochs >= o->patience) res->stop = GB_STOP_PATIENCE;
    }
out:
    gb_lstm_acts_free(acts);
    gb_lstm_free(&m);
    gb_ds_windows_free(&wt);
    gb_ds_windows_free(&wv);
    free(bb.x), free(bb.target), free(bb.mask), free(bb.y), free(bb.dy), free(bb.ids);
    free(optim_path);
    return s;
}
