/* test_train.c - the training loop (src/train/train.c) on a tiny model and a few chorales:
 * resuming gives the uninterrupted run's losses and files bit for bit; a NaN stops the run and
 * leaves the last good files; patience keeps the best model; the target loss stops; the last
 * partial batch is trained; runs without validation; empty, unreadable and too short corpora
 * and a changed corpus on resume get their errors. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "tmpdir.h"
#include "train/train.h"

static gb_dataset ds; /* 6 chorales, 2 of them for validation */

static int same_file(const char *a, const char *b) {
    gb_buf x, y;
    gb_error e;
    if (gb_file_read(a, 1 << 26, &x, &e) != GB_OK) return 0;
    if (gb_file_read(b, 1 << 26, &y, &e) != GB_OK) {
        gb_buf_free(&x);
        return 0;
    }
    int same = x.len == y.len && !memcmp(x.data, y.data, x.len);
    gb_buf_free(&x), gb_buf_free(&y);
    return same;
}

/* The log's lines cut before "windows": epoch and the two losses, as printed. */
static int log_losses(const char *path, char lines[][128], int max) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        char *w = strstr(line, ",\"windows\"");
        if (w) *w = 0;
        snprintf(lines[n++], 128, "%.127s", line);
    }
    fclose(f);
    return n;
}

static int everything; /* tiny_info turns on every option of issue 10 (and wants a meter ds) */

static void tiny_info(gb_model_info *in) {
    gb_model_info_default(in);
    in->net.H = 8;
    in->seq = 16, in->stride = 12, in->batch = 8;
    in->lr = 1e-2f;
    in->seed = 3;
    if (everything) {
        in->enc.meter = 1;
        in->net.E = GB_DS_METER_FEATURES;
        in->net.head = GB_HEAD_NADE, in->net.Hn = 8;
        in->net.dropout_in = 0.1f, in->net.dropout_out = 0.2f;
        in->transpose = 3, in->weight_decay = 0.01f;
        in->lr_decay = 0.5f, in->lr_patience = 1;
        in->ema = 0.9f;
    }
}

typedef struct {
    int n;
    double train[16], valid[16];
    int improved[16];
    uint64_t last_done, total;
    /* hook */
    int poison_epoch;
    uint64_t poison_batch;
    int spoil_from;
} rec;

static void record(void *ctx, const gb_train_progress *p) {
    rec *r = ctx;
    if (!p->end) {
        r->last_done = p->done, r->total = p->total;
        return;
    }
    if (r->n < 16) {
        r->train[r->n] = p->train_loss, r->valid[r->n] = p->valid_loss;
        r->improved[r->n] = p->improved;
    }
    r->n++;
}

static void hook(void *ctx, int epoch, uint64_t batch, gb_lstm *m) {
    rec *r = ctx;
    if (epoch == r->poison_epoch && batch == r->poison_batch) m->params[3] = NAN;
    if (r->spoil_from && epoch >= r->spoil_from) /* every output unit on: a bad model */
        for (int d = 0; d < m->cfg.D; d++) m->p.fc_b[d] = 8.0f;
}

static gb_status train(const gb_dataset *d, const char *name, int epochs, int resume,
                       int patience, double target, rec *r, gb_train_result *res, gb_error *e) {
    gb_model_info in;
    char model[256], log[300];
    snprintf(model, sizeof model, "%s", tmp_path(name));
    snprintf(log, sizeof log, "%s.jsonl", model);
    if (resume) {
        if (gb_ckpt_read_info(model, &in, e) != GB_OK) return e->status;
    } else {
        tiny_info(&in);
    }
    gb_train_opts o = {.model_path = model, .epochs = epochs, .patience = patience,
                       .target_loss = target, .resume = resume, .log_path = log,
                       .progress = record, .ctx = r, .hook = hook};
    gb_status s = gb_train(d, &in, &o, res, e);
    gb_model_info_free(&in);
    return s;
}

/* Resuming reproduces an uninterrupted run bit for bit: the plain roll model on ds, or (d with
 * meter, everything set) the NADE head with meter inputs, transposition, dropout on the inputs
 * and the output, AdamW, lr decay on plateau and averaged weights. */
static void resume_bit_identical(const gb_dataset *d) {
    rec a = {0}, b = {0};
    gb_train_result ra, rb;
    gb_error e;
    CHECK_INT(train(d, "a.safetensors", 3, 0, 0, 0, &a, &ra, &e), GB_OK);
    CHECK_INT(a.n, 3);
    CHECK_INT(ra.epochs_done, 3);
    CHECK(a.train[2] < a.train[0]); /* it learns */
    CHECK_INT(train(d, "b.safetensors", 1, 0, 0, 0, &b, &rb, &e), GB_OK);
    CHECK_INT(b.n, 1);
    CHECK_INT(train(d, "b.safetensors", 3, 1, 0, 0, &b, &rb, &e), GB_OK);
    CHECK_INT(b.n, 3);
    CHECK_INT(rb.epochs_done, 3);
    CHECK_INT(rb.epochs_run, 2);
    for (int i = 0; i < 3; i++) {
        CHECK(a.train[i] == b.train[i]); /* exactly */
        CHECK(a.valid[i] == b.valid[i]);
        CHECK(isfinite(a.valid[i]));
    }
    /* the logs hold the same losses, and the files the same bytes */
    char la[8][128], lb[8][128];
    CHECK_INT(log_losses(tmp_path("a.safetensors.jsonl"), la, 8), 3);
    CHECK_INT(log_losses(tmp_path("b.safetensors.jsonl"), lb, 8), 3);
    for (int i = 0; i < 3; i++) CHECK(!strcmp(la[i], lb[i]));
    CHECK_STR_HAS(la[0], "{\"epoch\":1,\"train_loss\":0.");
    CHECK(same_file(tmp_path("a.safetensors"), tmp_path("b.safetensors")));
    CHECK(same_file(tmp_path("a.optim.safetensors"), tmp_path("b.optim.safetensors")));
    /* resuming a finished run trains nothing */
    CHECK_INT(train(d, "b.safetensors", 3, 1, 0, 0, &b, &rb, &e), GB_OK);
    CHECK_INT(rb.epochs_run, 0);
    CHECK_INT(rb.stop, GB_STOP_EPOCHS);
    if (!everything) return;
    /* the model file holds the averaged weights, not the last ones; the optim file both */
    gb_lstm m, last;
    gb_model_info in;
    gb_ckpt_progress pr;
    CHECK_INT(gb_ckpt_load(tmp_path("b.safetensors"), &m, &in, &e), GB_OK);
    CHECK(m.cfg.head == GB_HEAD_NADE && m.cfg.E == GB_DS_METER_FEATURES && in.ema == 0.9f);
    gb_model_info_free(&in);
    CHECK_INT(gb_ckpt_load(tmp_path("b.safetensors"), &last, &in, &e), GB_OK);
    gb_model_info_free(&in);
    CHECK_INT(gb_ema_init(&last, &e), GB_OK);
    CHECK_INT(gb_ckpt_load_optim(tmp_path("b.optim.safetensors"), &last, &pr, &e), GB_OK);
    if (rb.best_epoch == 3) /* the model file is the last epoch's average */
        CHECK(!memcmp(m.params, last.ema, m.n_params * sizeof(float)));
    CHECK(memcmp(last.params, last.ema, m.n_params * sizeof(float)) != 0);
    CHECK(pr.lr > 0 && pr.lr <= 1e-2f);
    gb_lstm_free(&m), gb_lstm_free(&last);
}

static void test_resume_bit_identical(void) { resume_bit_identical(&ds); }

static void test_resume_everything(void) {
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    enc.meter = 1;
    gb_dataset dm;
    gb_error e;
    const char *paths[6];
    for (int i = 0; i < 6; i++) paths[i] = ds.files[i].path;
    CHECK_INT(gb_ds_init(&dm, &enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_paths(&dm, paths, 6, 0, NULL, NULL, &e), GB_OK);
    CHECK_INT(gb_ds_split(&dm, 0.34, 1, NULL), GB_OK);
    everything = 1;
    resume_bit_identical(&dm);
    everything = 0;
    gb_ds_free(&dm);
}

static void test_nan_stops(void) {
    rec c = {0}, n = {.poison_epoch = 2, .poison_batch = 1};
    gb_train_result rc, rn;
    gb_error e;
    CHECK_INT(train(&ds, "c.safetensors", 1, 0, 0, 0, &c, &rc, &e), GB_OK);
    CHECK_INT(train(&ds, "n.safetensors", 4, 0, 0, 0, &n, &rn, &e), GB_OK);
    CHECK_INT(rn.stop, GB_STOP_NONFINITE);
    CHECK_INT(rn.bad_epoch, 2);
    CHECK_INT(rn.bad_batch, 1);
    CHECK_INT(rn.epochs_done, 1);
    CHECK_INT(rn.best_epoch, 1);
    CHECK_INT(n.n, 1);
    /* the files are epoch 1's, as a run of one epoch leaves them */
    CHECK(same_file(tmp_path("c.safetensors"), tmp_path("n.safetensors")));
    /* the optim files: the same progress and tensors; only the budget differs, as asked (1
     * epoch, 4) */
    gb_ckpt_progress pc, pn;
    CHECK_INT(gb_ckpt_read_progress(tmp_path("c.optim.safetensors"), &pc, &e), GB_OK);
    CHECK_INT(gb_ckpt_read_progress(tmp_path("n.optim.safetensors"), &pn, &e), GB_OK);
    CHECK(pc.run_epochs == 1 && pn.run_epochs == 4);
    pn.run_epochs = 1;
    CHECK(!memcmp(&pc, &pn, sizeof pc));
    gb_buf x, y; /* the tensors: the bytes after the header (the same length: "1" and "4") */
    CHECK_INT(gb_file_read(tmp_path("c.optim.safetensors"), 1 << 26, &x, &e), GB_OK);
    CHECK_INT(gb_file_read(tmp_path("n.optim.safetensors"), 1 << 26, &y, &e), GB_OK);
    uint64_t hl = 0;
    if (x.len > 8) memcpy(&hl, x.data, 8);
    CHECK(x.len == y.len && x.len > 8 + hl &&
          !memcmp((const uint8_t *)x.data + 8 + hl, (const uint8_t *)y.data + 8 + hl,
                  x.len - 8 - hl));
    gb_buf_free(&x), gb_buf_free(&y);
    char l[8][128];
    CHECK_INT(log_losses(tmp_path("n.safetensors.jsonl"), l, 8), 1);
    /* a NaN in the first batch: nothing written at all */
    rec f = {.poison_epoch = 1, .poison_batch = 0};
    CHECK_INT(train(&ds, "f.safetensors", 2, 0, 0, 0, &f, &rn, &e), GB_OK);
    CHECK_INT(rn.stop, GB_STOP_NONFINITE);
    CHECK_INT(rn.best_epoch, 0);
    CHECK(access(tmp_path("f.safetensors"), F_OK) != 0);
    CHECK(access(tmp_path("f.optim.safetensors"), F_OK) != 0);
    /* and a learning rate that blows up, with no hook: MSE of huge outputs overflows */
    gb_model_info in;
    tiny_info(&in);
    in.loss = GB_LOSS_MSE;
    in.lr = 1e30f;
    rec h = {0};
    gb_train_opts o = {.model_path = tmp_path("h.safetensors"), .epochs = 5, .progress = record,
                       .ctx = &h};
    CHECK_INT(gb_train(&ds, &in, &o, &rn, &e), GB_OK);
    CHECK_INT(rn.stop, GB_STOP_NONFINITE);
    gb_model_info_free(&in);
}

static void test_patience_keeps_best(void) {
    rec p = {.spoil_from = 2};
    gb_train_result r;
    gb_error e;
    CHECK_INT(train(&ds, "p.safetensors", 10, 0, 2, 0, &p, &r, &e), GB_OK);
    CHECK_INT(r.stop, GB_STOP_PATIENCE);
    CHECK_INT(r.epochs_done, 3);
    CHECK_INT(r.best_epoch, 1);
    CHECK_INT(p.n, 3);
    CHECK(p.improved[0] && !p.improved[1] && !p.improved[2]);
    CHECK(p.valid[1] > p.valid[0] && p.valid[2] > p.valid[0]);
    CHECK(r.best_loss == p.valid[0]);
    /* the model file is epoch 1's: a one-epoch run wrote the same bytes (test_nan_stops) */
    rec c = {0};
    gb_train_result rc;
    if (access(tmp_path("c.safetensors"), F_OK) != 0)
        CHECK_INT(train(&ds, "c.safetensors", 1, 0, 0, 0, &c, &rc, &e), GB_OK);
    CHECK(same_file(tmp_path("c.safetensors"), tmp_path("p.safetensors")));
    gb_model_info in;
    CHECK_INT(gb_ckpt_read_info(tmp_path("p.safetensors"), &in, &e), GB_OK);
    CHECK_INT(in.epochs, 1);
    CHECK(in.best_valid_loss == p.valid[0]);
    gb_model_info_free(&in);
    /* the optim file holds the last state: resuming with more patience goes on from epoch 3 */
    rec q = {.spoil_from = 2};
    CHECK_INT(train(&ds, "p.safetensors", 4, 1, 0, 0, &q, &r, &e), GB_OK);
    CHECK_INT(r.epochs_run, 1);
    CHECK_INT(r.epochs_done, 4);
    CHECK_INT(r.best_epoch, 1);
}

static void test_target_and_batches(void) {
    rec t = {0};
    gb_train_result r;
    gb_error e;
    CHECK_INT(train(&ds, "t.safetensors", 5, 0, 0, 100.0, &t, &r, &e), GB_OK);
    CHECK_INT(r.stop, GB_STOP_TARGET);
    CHECK_INT(r.epochs_done, 1);
    /* every window trained, the last batch smaller than the others */
    CHECK(r.train_windows % 8 != 0);
    CHECK_INT(t.last_done, r.train_windows);
    CHECK_INT(t.total, r.train_windows);
    gb_model_info in;
    CHECK_INT(gb_ckpt_read_info(tmp_path("t.safetensors"), &in, &e), GB_OK);
    CHECK(in.train_windows == r.train_windows && in.corpus_hash == gb_ds_hash(&ds));
    gb_model_info_free(&in);
}

static void test_no_validation(void) {
    gb_dataset d2;
    gb_error e;
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    CHECK_INT(gb_ds_init(&d2, &enc, &e), GB_OK);
    const char *paths[] = {"data/jsb/jsb_train_000.mid", "data/jsb/jsb_train_001.mid"};
    CHECK_INT(gb_ds_add_paths(&d2, paths, 2, 0, NULL, NULL, &e), GB_OK);
    rec v = {0};
    gb_train_result r;
    CHECK_INT(train(&d2, "v.safetensors", 2, 0, 0, 0, &v, &r, &e), GB_OK);
    CHECK_INT(r.valid_windows, 0);
    CHECK(isnan(v.valid[0]) && isnan(r.valid_loss));
    CHECK(r.best_loss == (v.train[1] < v.train[0] ? v.train[1] : v.train[0]));
    char l[8][128];
    CHECK_INT(log_losses(tmp_path("v.safetensors.jsonl"), l, 8), 2);
    CHECK_STR_HAS(l[0], "\"valid_loss\":null");
    gb_ds_free(&d2);
}

static void test_errors(void) {
    gb_error e;
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    gb_dataset d;
    gb_train_result r;
    rec x = {0};
    /* an empty corpus */
    CHECK_INT(gb_ds_init(&d, &enc, &e), GB_OK);
    CHECK_INT(train(&d, "x.safetensors", 1, 0, 0, 0, &x, &r, &e), GB_ERR_ARG);
    CHECK_STR_HAS(e.msg, "no training windows");
    /* a folder whose only file is broken: skipped, counted, and nothing to train on */
    char dir[256];
    snprintf(dir, sizeof dir, "%s", tmp_path("broken"));
    CHECK(mkdir(dir, 0777) == 0);
    char p[300];
    snprintf(p, sizeof p, "%s/x.mid", dir);
    CHECK_INT(gb_file_write_atomic(p, "MThd", 4, &e), GB_OK);
    const char *dp[] = {dir};
    CHECK_INT(gb_ds_add_paths(&d, dp, 1, 0, NULL, NULL, &e), GB_OK);
    CHECK_INT(d.files_skipped, 1);
    CHECK_INT(d.n_parts, 0);
    CHECK_INT(train(&d, "x.safetensors", 1, 0, 0, 0, &x, &r, &e), GB_ERR_ARG);
    /* a path that is not there */
    const char *np[] = {"no/such/corpus"};
    CHECK_INT(gb_ds_add_paths(&d, np, 1, 0, NULL, NULL, &e), GB_ERR_IO);
    CHECK_STR_HAS(e.msg, "no/such/corpus: cannot open");
    gb_ds_free(&d);
    /* parts all shorter than seq + 1 still train: one shorter, masked window each */
    gb_model_info in;
    tiny_info(&in);
    uint32_t longest = 0;
    size_t n_train = 0;
    for (size_t i = 0; i < ds.n_parts; i++) {
        if (ds.parts[i].steps > longest) longest = ds.parts[i].steps;
        n_train += !ds.files[ds.parts[i].file].valid && ds.parts[i].steps >= 2;
    }
    in.seq = (int)longest;
    gb_train_opts o = {.model_path = tmp_path("y.safetensors"), .epochs = 1};
    CHECK_INT(gb_train(&ds, &in, &o, &r, &e), GB_OK);
    CHECK_INT(r.train_windows, n_train);
    CHECK(isfinite(r.train_loss) && r.train_loss > 0);
    /* a model file where none can be written */
    in.seq = 16;
    o.model_path = tmp_path("no-dir/y.safetensors");
    CHECK_INT(gb_train(&ds, &in, &o, &r, &e), GB_ERR_IO);
    gb_model_info_free(&in);
    /* resuming without an optim file */
    CHECK_INT(train(&ds, "z.safetensors", 1, 0, 0, 0, &x, &r, &e), GB_OK);
    CHECK(unlink(tmp_path("z.optim.safetensors")) == 0);
    CHECK_INT(train(&ds, "z.safetensors", 2, 1, 0, 0, &x, &r, &e), GB_ERR_IO);
    CHECK_STR_HAS(e.msg, "z.optim.safetensors");
    /* resuming on another corpus (here: another split) */
    CHECK_INT(train(&ds, "w.safetensors", 1, 0, 0, 0, &x, &r, &e), GB_OK);
    gb_dataset d3;
    CHECK_INT(gb_ds_init(&d3, &enc, &e), GB_OK);
    const char *paths[6];
    for (int i = 0; i < 6; i++) paths[i] = ds.files[i].path;
    CHECK_INT(gb_ds_add_paths(&d3, paths, 6, 0, NULL, NULL, &e), GB_OK);
    CHECK_INT(gb_ds_split(&d3, 0.5, 1, NULL), GB_OK);
    CHECK_INT(train(&d3, "w.safetensors", 2, 1, 0, 0, &x, &r, &e), GB_ERR_ARG);
    CHECK_STR_HAS(e.msg, "corpus differs");
    gb_ds_free(&d3);
}

int main(void) {
    if (!tmpdir_make("train_test")) return 1;
    gb_ds_encoding enc;
    gb_ds_encoding_default(&enc);
    gb_error e;
    const char *paths[6];
    char names[6][64];
    for (int i = 0; i < 6; i++) {
        snprintf(names[i], sizeof names[i], "data/jsb/jsb_train_%03d.mid", 10 + i);
        paths[i] = names[i];
    }
    if (gb_ds_init(&ds, &enc, &e) != GB_OK ||
        gb_ds_add_paths(&ds, paths, 6, 0, NULL, NULL, &e) != GB_OK || ds.n_files != 6) {
        fprintf(stderr, "cannot load the chorales: %s\n", e.msg);
        return 1;
    }
    CHECK_INT(gb_ds_split(&ds, 0.34, 1, NULL), GB_OK);
    RUN(test_resume_bit_identical);
    RUN(test_resume_everything);
    RUN(test_nan_stops);
    RUN(test_patience_keeps_best);
    RUN(test_target_and_batches);
    RUN(test_no_validation);
    RUN(test_errors);
    gb_ds_free(&ds);
    rm_tree(tmpdir);
    TEST_END();
}
