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

/* The windows of a split as the job holds them: all on every rank, or (shard) the global ids
 * [off, off + n) here as local ids 0..n-1 (the ranks' shards in rank order); total: the job's. */
typedef struct {
    const gb_dist *d;
    int rank, size, shard;
    uint64_t off, n, total;
} share;

static gb_status share_make(share *sh, const gb_dist *d, int shard, uint64_t n, gb_error *err) {
    *sh = (share){.d = d, .rank = d ? d->rank : 0, .size = d ? d->size : 1, .n = n, .total = n};
    sh->shard = shard && sh->size > 1;
    if (!sh->shard) return GB_OK;
    uint64_t *all = malloc((size_t)sh->size * sizeof *all);
    if (!all) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    gb_dist_gather_u64(d, n, all);
    sh->total = 0;
    for (int r = 0; r < sh->size; r++) {
        if (r == sh->rank) sh->off = sh->total;
        sh->total += all[r];
    }
    free(all);
    return GB_OK;
}

/* This rank's windows among positions [b0, b0 + Bc) of an order (perm, or none: in order):
 * their local ids and positions; returns how many. Every window on every rank: the ranks take
 * consecutive slices of Bc; shards: each its own windows. */
static int share_batch(const share *sh, const gb_ds_perm *perm, uint64_t b0, int Bc,
                       uint32_t *ids, uint64_t *pos) {
    uint64_t lo = b0, hi = b0 + (uint64_t)Bc;
    if (!sh->shard) {
        lo = b0 + (uint64_t)Bc * sh->rank / sh->size;
        hi = b0 + (uint64_t)Bc * (sh->rank + 1) / sh->size;
    }
    int k = 0;
    for (uint64_t p = lo; p < hi; p++) {
        uint64_t g = perm ? gb_ds_perm_at(perm, (uint32_t)p) : p;
        if (g < sh->off || g >= sh->off + sh->n) continue;
        ids[k] = (uint32_t)(g - sh->off), pos[k++] = p;
    }
    return k;
}

/* A batch's buffers: inputs x (T, B, Din), targets (T, B, Dt), mask (T, B), the head's outputs
 * y and their gradients dy (T, B, Dout), window ids and positions (B) and their dropout and
 * augmentation keys (B). */
typedef struct {
    float *x, *target, *mask, *y, *dy;
    uint32_t *ids;
    uint64_t *pos, *drop, *aug;
    double *acc; /* validation: 2 a batch */
} batch_bufs;

/* The loss averaged over the first n windows of the order perm, in evaluation mode, batch by
 * batch: the mean of the batches' losses weighted by their windows. The ranks share the work;
 * each batch's loss is its pieces' sum over their rows, so the figure is one process's. */
static double valid_loss(const gb_dataset *ds, const gb_ds_windows *w, const share *sh,
                         const gb_ds_perm *perm, uint64_t n, const gb_model_info *in,
                         const gb_lstm *m, gb_lstm_acts *a, batch_bufs *bb) {
    int T = in->seq;
    uint64_t nb = (n + (uint64_t)in->batch - 1) / (uint64_t)in->batch;
    double *acc = bb->acc; /* per batch: loss x rows, rows */
    memset(acc, 0, 2 * nb * sizeof *acc);
    for (uint64_t k = 0, b0 = 0; k < nb; k++, b0 += (uint64_t)in->batch) {
        int Bc = n - b0 < (uint64_t)in->batch ? (int)(n - b0) : in->batch;
        if (!sh->shard && (int)(k % (uint64_t)sh->size) != sh->rank) continue;
        share whole = *sh; /* unsharded, a rank takes whole batches in turn */
        whole.size = 1, whole.rank = 0;
        int Bl = share_batch(sh->shard ? sh : &whole, perm, b0, Bc, bb->ids, bb->pos);
        if (!Bl) continue;
        gb_ds_cut_batch(ds, w, bb->ids, Bl, NULL, bb->x, bb->target, bb->mask);
        gb_lstm_forward(m, a, bb->x, T, Bl, bb->y, NULL);
        /* one process: the batch's mean as it is (x 1 / 1); ranks: weighted by rows */
        size_t rows = sh->size > 1 ? gb_loss_rows(in->loss_on, bb->mask, T, Bl) : 1;
        acc[2 * k] = (double)gb_loss(m, NULL, in->loss, in->loss_on, bb->y, bb->target,
                                     bb->mask, T, Bl, NULL) * (double)rows;
        acc[2 * k + 1] = (double)rows;
    }
    gb_dist_sum_double(sh->d, acc, 2 * nb);
    double sum = 0;
    for (uint64_t k = 0, b0 = 0; k < nb; k++, b0 += (uint64_t)in->batch) {
        int Bc = n - b0 < (uint64_t)in->batch ? (int)(n - b0) : in->batch;
        sum += (acc[2 * k + 1] > 0 ? acc[2 * k] / acc[2 * k + 1] : 0) * Bc;
    }
    return n ? sum / (double)n : NAN;
}

/* The corpus hash of the job: gb_ds_hash, or over shards the whole corpus' (each rank carries
 * it on over its files, training files first, then validation files). Unsharded, every rank
 * must have read the same corpus: a file missing or different on one host would train the
 * ranks on different windows. */
static gb_status job_hash(const gb_dataset *ds, const gb_dist *d, int shard, uint64_t *out,
                          gb_error *err) {
    if (!d || d->size == 1) {
        *out = gb_ds_hash(ds);
        return GB_OK;
    }
    if (shard) {
        uint64_t files = ds->n_files;
        gb_dist_sum_u64(d, &files, 1);
        uint64_t h = gb_ds_hash_head(&ds->enc, (size_t)files);
        for (int valid = 0; valid < 2; valid++)
            h = gb_dist_chain_out(d, gb_ds_hash_files(ds, gb_dist_chain_in(d, h), valid));
        *out = h;
        return GB_OK;
    }
    int r = gb_dist_differs(d, gb_ds_hash(ds), out);
    if (r < 0) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    if (r)
        return gb_fail(err, GB_ERR_ARG, -1, "rank %d read another corpus than rank 0 (a file "
                       "missing, unreadable or different on its host): every rank needs the "
                       "same files, or --shard-files", r);
    return GB_OK;
}

static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}

static gb_status log_epoch(const char *path, int epoch, double tl, double vl, uint64_t windows,
                           double seconds, double wps, int ranks, double comm, gb_error *err) {
    FILE *f = fopen(path, "a");
    if (!f) return gb_fail(err, GB_ERR_IO, -1, "%s: cannot open: %s", path, strerror(errno));
    fprintf(f, "{\"epoch\":%d,\"train_loss\":", epoch);
    json_num(f, tl);
    fputs(",\"valid_loss\":", f);
    json_num(f, vl);
    fprintf(f, ",\"windows\":%llu,\"seconds\":%.3f,\"windows_per_s\":%.1f",
            (unsigned long long)windows, seconds, wps);
    if (ranks > 1) fprintf(f, ",\"ranks\":%d,\"allreduce_seconds\":%.3f", ranks, comm);
    fputs("}\n", f);
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
    share st, sv; /* the job's windows */
    if ((s = share_make(&st, o->dist, o->shard, wt.n, err)) != GB_OK ||
        (s = share_make(&sv, o->dist, o->shard, wv.n, err)) != GB_OK)
        goto out;
    int lead = st.rank == 0; /* the rank that writes files */
    if (st.total == 0) {
        s = gb_fail(err, GB_ERR_ARG, -1, "no training windows: no training part has 2 steps or "
                    "more");
        goto out;
    }
    if (st.total > GB_DS_MAX_WINDOWS || sv.total > GB_DS_MAX_WINDOWS) {
        s = gb_fail(err, GB_ERR_ARG, -1, "%llu windows: more than 2^32 - 1",
                    (unsigned long long)(st.total > sv.total ? st.total : sv.total));
        goto out;
    }
    uint64_t n_train = o->max_windows && o->max_windows < st.total ? o->max_windows : st.total;
    uint64_t n_valid = o->max_windows && o->max_windows < sv.total ? o->max_windows : sv.total;
    res->train_windows = n_train, res->valid_windows = n_valid;
    uint64_t hash = 0;
    if ((s = job_hash(ds, o->dist, st.shard, &hash, err)) != GB_OK) goto out;

    /* the model, fresh or resumed */
    gb_rng rinit;
    gb_rng_seed(&rinit, gb_train_seed(info->seed, GB_SEED_INIT, 0));
    if ((s = gb_lstm_init(&m, &info->net, &rinit, err)) != GB_OK) goto out;
    gb_ckpt_progress pr = {.best_loss = INFINITY, .train_loss = NAN, .corpus_hash = hash,
                           .lr = info->lr};
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
    if (!(pr.lr > 0)) pr.lr = info->lr; /* an optim file from before lr decay */
    /* this invocation's budget, saved with each epoch for a bare --resume to keep */
    pr.run_epochs = o->epochs > 0 ? o->epochs : 1;
    pr.run_patience = o->patience > 0 ? o->patience : -1;
    pr.run_target_loss = o->target_loss > 0 ? o->target_loss : -1;
    pr.run_max_windows = o->max_windows ? o->max_windows : UINT64_MAX;
    info->corpus_hash = hash;
    info->train_windows = st.total, info->valid_windows = sv.total;
    res->epochs_done = pr.epoch;
    res->best_epoch = pr.best_epoch;
    res->best_loss = pr.best_epoch ? pr.best_loss : NAN;
    res->train_loss = pr.train_loss;

    /* buffers of a batch, activations */
    size_t tb = (size_t)T * B;
    bb.x = malloc(tb * Din * sizeof *bb.x), bb.target = malloc(tb * Dt * sizeof *bb.target);
    bb.mask = malloc(tb * sizeof *bb.mask);
    bb.y = malloc(tb * Dout * sizeof *bb.y), bb.dy = malloc(tb * Dout * sizeof *bb.dy);
    bb.ids = malloc((size_t)B * sizeof *bb.ids), bb.pos = malloc((size_t)B * sizeof *bb.pos);
    bb.drop = malloc((size_t)B * sizeof *bb.drop), bb.aug = malloc((size_t)B * sizeof *bb.aug);
    bb.acc = malloc((2 * ((n_valid + (uint64_t)B - 1) / (uint64_t)B) + 1) * sizeof *bb.acc);
    if (!bb.x || !bb.target || !bb.mask || !bb.y || !bb.dy || !bb.ids || !bb.pos || !bb.drop ||
        !bb.aug || !bb.acc) {
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
        gb_ds_perm_init(&vperm, sv.total, &rv);
    }
    if (lead && o->log_path && !o->resume) { /* a fresh run starts a fresh log */
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
        gb_ds_perm_init(&perm, st.total, &rs);
        gb_ds_aug aug = {.transpose = info->transpose, .stretch = info->stretch, .keys = bb.aug};
        gb_train_progress p = {.epoch = epoch, .epochs = o->epochs, .total = n_train,
                               .valid_loss = NAN, .train_loss = NAN};
        double sum = 0, comm = 0;
        uint64_t batch = 0;
        for (uint64_t b0 = 0; b0 < n_train; b0 += (uint64_t)B, batch++) {
            int Bc = n_train - b0 < (uint64_t)B ? (int)(n_train - b0) : B;
            /* this rank's windows of the batch, each with its keys: the same masks and
             * augmentation wherever the window is trained */
            int Bl = share_batch(&st, &perm, b0, Bc, bb.ids, bb.pos);
            for (int b = 0; b < Bl; b++) {
                uint64_t at = (uint64_t)epoch << 32 | bb.pos[b];
                bb.drop[b] = gb_train_seed(info->seed, GB_SEED_DROPOUT, at);
                bb.aug[b] = gb_train_seed(info->seed, GB_SEED_AUG, at);
            }
            if (o->hook) o->hook(o->ctx, epoch, batch, &m);
            gb_lstm_zero_grad(&m);
            float loss = 0;
            size_t rows = 0;
            if (Bl) {
                gb_ds_cut_batch(ds, &wt, bb.ids, Bl, &aug, bb.x, bb.target, bb.mask);
                gb_lstm_forward(&m, acts, bb.x, T, Bl, bb.y, bb.drop);
                loss = gb_loss(&m, &m.g, info->loss, info->loss_on, bb.y, bb.target, bb.mask, T,
                               Bl, bb.dy);
                if (st.size > 1) rows = gb_loss_rows(info->loss_on, bb.mask, T, Bl);
            }
            double whole[2] = {(double)loss * (double)rows, (double)rows};
            if (st.size > 1) { /* the batch's loss: its pieces' over their rows */
                double t_comm = now();
                gb_dist_sum_double(st.d, whole, 2);
                comm += now() - t_comm;
                loss = (float)(whole[0] / whole[1]);
            }
            float norm = 0;
            if (isfinite(loss)) {
                if (Bl) gb_lstm_backward(&m, acts, bb.x, bb.dy, T, Bl);
                if (st.size > 1) { /* the sum of the pieces' gradients, each weighted by its
                                      share of the rows: the gradient of the batch's mean */
                    float wr = (float)((double)rows / whole[1]);
                    for (size_t i = 0; i < m.n_params; i++) m.grads[i] *= wr;
                    double t_comm = now();
                    gb_dist_sum_float(st.d, m.grads, m.n_params);
                    comm += now() - t_comm;
                }
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
            if (lead && o->progress) o->progress(o->ctx, &p);
        }
        double train_s = now() - t0;
        double tl = sum / (double)n_train;
        gb_lstm judged = m; /* the weights validated and saved: the averaged ones, if kept */
        if (m.ema) {
            judged.params = m.ema;
            gb_lstm_views_of(&m.cfg, m.ema, &judged.p);
        }
        double vl = valid_loss(ds, &wv, &sv, n_valid < sv.total ? &vperm : NULL, n_valid, info,
                               &judged, acts, &bb);
        if (n_valid && !isfinite(vl)) {
            res->stop = GB_STOP_NONFINITE;
            res->bad_epoch = epoch, res->bad_in_valid = 1;
            goto out;
        }
        double crit = n_valid ? vl : tl;
        int improved = pr.best_epoch == 0 || crit < pr.best_loss;
        pr.epoch = epoch;
        pr.train_loss = tl;
        if (improved) {
            pr.best_epoch = epoch, pr.best_loss = crit, pr.bad_epochs = 0;
            info->epochs = epoch;
            info->train_loss = tl;
            info->best_valid_loss = n_valid ? vl : NAN;
            if (lead && (s = gb_ckpt_save(o->model_path, &m, m.ema, info, err)) != GB_OK)
                goto out;
        } else {
            pr.bad_epochs++;
            /* on a plateau: the lr falls by lr_decay every lr_patience epochs without a new
             * best (PyTorch's ReduceLROnPlateau, mode min, threshold 0, cooldown 0) */
            if (info->lr_patience > 0 && info->lr_decay < 1 &&
                pr.bad_epochs % info->lr_patience == 0)
                pr.lr *= info->lr_decay;
        }
        p.lr = pr.lr;
        if (lead && (s = gb_ckpt_save_optim(optim_path, &m, &pr, err)) != GB_OK) goto out;
        double secs = now() - t0, wps = train_s > 0 ? (double)n_train / train_s : 0;
        if (lead && o->log_path &&
            (s = log_epoch(o->log_path, epoch, tl, n_valid ? vl : NAN, n_train, secs, wps,
                           st.size, comm, err)) != GB_OK)
            goto out;
        res->epochs_done = epoch;
        res->epochs_run++;
        res->best_epoch = pr.best_epoch, res->best_loss = pr.best_loss;
        res->train_loss = tl, res->valid_loss = n_valid ? vl : NAN;
        p.end = 1, p.seconds = secs, p.train_loss = tl, p.valid_loss = res->valid_loss;
        p.windows_per_s = wps, p.improved = improved, p.comm_seconds = comm;
        if (lead && o->progress) o->progress(o->ctx, &p);
        if (o->target_loss > 0 && tl < o->target_loss) res->stop = GB_STOP_TARGET;
        else if (o->patience > 0 && pr.bad_epochs >= o->patience) res->stop = GB_STOP_PATIENCE;
    }
out:
    gb_lstm_acts_free(acts);
    gb_lstm_free(&m);
    gb_ds_windows_free(&wt);
    gb_ds_windows_free(&wv);
    free(bb.x), free(bb.target), free(bb.mask), free(bb.y), free(bb.dy), free(bb.ids);
    free(bb.pos), free(bb.drop), free(bb.aug), free(bb.acc);
    free(optim_path);
    return s;
}
