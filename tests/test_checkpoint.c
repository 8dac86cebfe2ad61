/* test_checkpoint.c - model and optim files (src/io/checkpoint.c): bit-exact round trips of
 * weights, metadata and optimizer state; the tensor names and shapes PyTorch's module gives;
 * every way a damaged or hostile file is refused, with the file named; a file with no
 * metadata (as PyTorch users write them); atomic replacement; token input and the softmax
 * head's keys. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "test.h"
#include "tmpdir.h"

static int has_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d))) found |= strstr(e->d_name, ".tmp") != NULL;
    if (d) closedir(d);
    return found;
}

/* A model with random weights and Adam moments, and an info unlike the defaults. */
static void make_model(gb_lstm *m, gb_model_info *in, int D, int H, int L, uint64_t seed) {
    gb_model_info_default(in);
    snprintf(in->preset, sizeof in->preset, "paper");
    in->net = (gb_lstm_config){.D = D, .H = H, .L = L, .dropout = 0.25f};
    in->loss = GB_LOSS_MSE;
    in->loss_on = GB_LOSS_ON_LAST;
    in->enc.roll = (gb_roll_opts){.step_ticks = 1, .strip_silence = 1};
    in->enc.binary = 0;
    in->enc.onsets = D == 256;
    gb_ds_filter_clear(&in->enc);
    in->enc.programs[40] = in->enc.programs[41] = in->enc.programs[42] = 1;
    in->enc.drums = 1;
    in->seq = 12, in->stride = 6, in->batch = 16;
    in->lr = 3e-4f, in->clip = 1.5f;
    in->valid_fraction = 0.15;
    in->seed = 0xFFFFFFFFFFFFFFFFull;
    in->threads = 2;
    in->corpus = strdup("[\"data/\\\"odd\\\" dir\",\"x.mid\"]");
    in->valid_corpus = strdup("[]");
    in->corpus_hash = 0x0123456789ABCDEFull;
    in->train_windows = 123456789012ull, in->valid_windows = 7;
    in->epochs = 9;
    in->train_loss = 0.1 + 1e-17;
    in->best_valid_loss = 1.0 / 3.0;
    gb_rng r;
    gb_rng_seed(&r, seed);
    gb_error e;
    CHECK_INT(gb_lstm_init(m, &in->net, &r, &e), GB_OK);
    for (size_t i = 0; i < m->n_params; i++) {
        m->adam_m[i] = gb_rng_float(&r) - 0.5f;
        m->adam_v[i] = gb_rng_float(&r) * 1e-3f;
    }
    m->params[0] = -0.0f, m->params[1] = 1e-40f; /* a negative zero and a subnormal survive */
    m->adam_t = 12345;
}

static void test_roundtrip(void) {
    int dims[][3] = {{128, 8, 2}, {256, 4, 1}, {128, 3, 4}};
    for (int k = 0; k < 3; k++) {
        gb_lstm m, m2;
        gb_model_info in, in2;
        make_model(&m, &in, dims[k][0], dims[k][1], dims[k][2], 10 + k);
        gb_error e;
        const char *path = tmp_path("rt.safetensors");
        CHECK_INT(gb_ckpt_save(path, &m, NULL, &in, &e), GB_OK);
        CHECK_INT(gb_ckpt_load(path, &m2, &in2, &e), GB_OK);
        CHECK(m2.n_params == m.n_params);
        CHECK(!memcmp(m2.params, m.params, m.n_params * sizeof(float)));
        CHECK(!strcmp(in2.preset, "paper"));
        CHECK(in2.net.D == in.net.D && in2.net.H == in.net.H && in2.net.L == in.net.L);
        CHECK(in2.net.dropout == 0.25f && m2.cfg.dropout == 0.25f);
        CHECK(in2.loss == GB_LOSS_MSE && in2.loss_on == GB_LOSS_ON_LAST);
        CHECK(in2.enc.roll.step_ticks == 1 && in2.enc.roll.strip_silence == 1);
        CHECK(in2.enc.roll.steps_per_beat == 0);
        CHECK(in2.enc.binary == 0 && in2.enc.onsets == (dims[k][0] == 256));
        CHECK(!memcmp(in2.enc.programs, in.enc.programs, 128) && in2.enc.drums == 1);
        CHECK(in2.seq == 12 && in2.stride == 6 && in2.batch == 16);
        CHECK(in2.lr == 3e-4f && in2.clip == 1.5f && in2.valid_fraction == 0.15);
        CHECK(in2.seed == 0xFFFFFFFFFFFFFFFFull && in2.threads == 2);
        CHECK(in2.corpus && !strcmp(in2.corpus, in.corpus));
        CHECK(in2.corpus_hash == 0x0123456789ABCDEFull);
        CHECK(in2.train_windows == 123456789012ull && in2.valid_windows == 7);
        CHECK(in2.epochs == 9 && in2.train_loss == in.train_loss);
        CHECK(in2.best_valid_loss == in.best_valid_loss);
        /* the other params block given explicitly is what gets written */
        float *other = malloc(m.n_params * sizeof *other);
        for (size_t i = 0; i < m.n_params; i++) other[i] = (float)i;
        CHECK_INT(gb_ckpt_save(path, &m, other, &in, &e), GB_OK);
        gb_lstm m3;
        gb_model_info in3;
        CHECK_INT(gb_ckpt_load(path, &m3, &in3, &e), GB_OK);
        CHECK(!memcmp(m3.params, other, m.n_params * sizeof(float)));
        free(other);
        gb_lstm_free(&m3), gb_model_info_free(&in3);
        gb_lstm_free(&m), gb_lstm_free(&m2);
        gb_model_info_free(&in), gb_model_info_free(&in2);
    }
}

/* Names and shapes exactly as PyTorch names lstm1..lstmL = nn.LSTMCell, fc = nn.Linear. */
static void test_pytorch_names(void) {
    gb_lstm m;
    gb_model_info in;
    make_model(&m, &in, 128, 5, 3, 1);
    gb_error e;
    const char *path = tmp_path("names.safetensors");
    CHECK_INT(gb_ckpt_save(path, &m, NULL, &in, &e), GB_OK);
    gb_st_file f;
    CHECK_INT(gb_st_read(path, &f, &e), GB_OK);
    static const struct {
        const char *name;
        int ndim;
        int64_t d0, d1;
    } want[] = {{"lstm1.weight_ih", 2, 20, 128}, {"lstm1.weight_hh", 2, 20, 5},
                {"lstm1.bias_ih", 1, 20, 0},     {"lstm1.bias_hh", 1, 20, 0},
                {"lstm2.weight_ih", 2, 20, 5},   {"lstm2.weight_hh", 2, 20, 5},
                {"lstm2.bias_ih", 1, 20, 0},     {"lstm2.bias_hh", 1, 20, 0},
                {"lstm3.weight_ih", 2, 20, 5},   {"lstm3.weight_hh", 2, 20, 5},
                {"lstm3.bias_ih", 1, 20, 0},     {"lstm3.bias_hh", 1, 20, 0},
                {"fc.weight", 2, 128, 5},        {"fc.bias", 1, 128, 0}};
    CHECK_INT(f.n, 14);
    for (size_t i = 0; i < 14 && i < f.n; i++) {
        CHECK(!strcmp(f.t[i].name, want[i].name));
        CHECK_INT(f.t[i].ndim, want[i].ndim);
        CHECK_INT(f.t[i].shape[0], want[i].d0);
        if (want[i].ndim == 2) CHECK_INT(f.t[i].shape[1], want[i].d1);
    }
    /* layer 2's W_ih is the block right after layer 1's four tensors: same floats */
    const gb_st_tensor *t = gb_st_find(&f, "lstm2.weight_ih");
    CHECK(t && !memcmp(t->data, m.p.w_ih[1], 20 * 5 * sizeof(float)));
    t = gb_st_find(&f, "fc.bias");
    CHECK(t && !memcmp(t->data, m.p.fc_b, 128 * sizeof(float)));
    static const char *const keys[] = {
        "format", "groovybee_version", "preset", "loss", "loss_on", "steps_per_beat",
        "step_ticks", "strip_silence", "onsets", "binary", "programs", "drums", "D", "H", "L",
        "dropout", "seq", "stride", "batch", "lr", "clip", "valid_fraction", "seed", "threads",
        "corpus", "valid_corpus", "corpus_hash", "train_windows", "valid_windows", "epochs",
        "train_loss", "best_valid_loss"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (!gb_st_meta(&f, keys[i])) fprintf(stderr, "  missing key %s\n", keys[i]);
        CHECK(gb_st_meta(&f, keys[i]) != NULL);
    }
    CHECK(!strcmp(gb_st_meta(&f, "format"), "groovybee-1"));
    CHECK(!strcmp(gb_st_meta(&f, "programs"), "40-42"));
    CHECK(!strcmp(gb_st_meta(&f, "loss"), "mse"));
    gb_st_free(&f);
    gb_lstm_free(&m);
    gb_model_info_free(&in);
}

/* Writes the model's tensors with changes: drop one by name, give one another first
 * dimension, add an extra; metadata kv replaces the model's. */
static void write_custom(const char *path, gb_lstm *m, const char *drop, const char *reshape,
                         int64_t d0, const char *extra, const char *const *kv) {
    gb_st_tensor_in t[4 * GB_LSTM_MAX_LAYERS + 3];
    size_t n = 0;
    int G = 4 * m->cfg.H;
    static char names[4 * GB_LSTM_MAX_LAYERS][32];
    static float big[4096];
    for (int l = 0; l < m->cfg.L; l++) {
        static const char *const what[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
        float *data[4] = {m->p.w_ih[l], m->p.w_hh[l], m->p.b_ih[l], m->p.b_hh[l]};
        for (int k = 0; k < 4; k++) {
            snprintf(names[4 * l + k], 32, "lstm%d.%s", l + 1, what[k]);
            t[n] = (gb_st_tensor_in){names[4 * l + k], data[k], k < 2 ? 2 : 1,
                                     {G, k == 0 ? (l ? m->cfg.H : m->cfg.D) : m->cfg.H}};
            if (k >= 2) t[n].shape[1] = 0;
            n++;
        }
    }
    t[n++] = (gb_st_tensor_in){"fc.weight", m->p.fc_w, 2, {m->cfg.D, m->cfg.H}};
    t[n++] = (gb_st_tensor_in){"fc.bias", m->p.fc_b, 1, {m->cfg.D}};
    if (extra) t[n++] = (gb_st_tensor_in){extra, big, 1, {4}};
    for (size_t i = 0; i < n; i++) {
        if (drop && !strcmp(t[i].name, drop)) {
            memmove(&t[i], &t[i + 1], (n - i - 1) * sizeof *t);
            n--;
            i--;
            continue;
        }
        if (reshape && !strcmp(t[i].name, reshape)) {
            t[i].shape[0] = d0;
            t[i].data = big; /* enough floats for any reshaped tiny tensor */
        }
    }
    gb_error e;
    CHECK_INT(gb_st_write(path, t, n, kv, &e), GB_OK);
}

static void expect_refused(const char *path, const char *msg_part) {
    gb_lstm m;
    gb_model_info in;
    gb_error e = {0};
    gb_status s = gb_ckpt_load(path, &m, &in, &e);
    CHECK(s != GB_OK);
    if (s == GB_OK) {
        fprintf(stderr, "  loaded, expected '%s'\n", msg_part);
        gb_lstm_free(&m);
        gb_model_info_free(&in);
        return;
    }
    CHECK_STR_HAS(e.msg, path); /* the file is named */
    CHECK_STR_HAS(e.msg, msg_part);
    CHECK(m.params == NULL && in.corpus == NULL); /* zeroed on failure */
}

static void test_damaged(void) {
    gb_lstm m;
    gb_model_info in;
    make_model(&m, &in, 128, 4, 2, 3);
    const char *p = tmp_path("bad.safetensors");
    const char *fine[] = {"format", "groovybee-1", "H", "4", NULL};
    /* missing tensors */
    write_custom(p, &m, "lstm2.bias_hh", NULL, 0, NULL, fine);
    expect_refused(p, "tensor 'lstm2.bias_hh' is missing");
    write_custom(p, &m, "fc.weight", NULL, 0, NULL, fine);
    expect_refused(p, "tensor 'fc.weight' is missing");
    write_custom(p, &m, "lstm1.weight_ih", NULL, 0, NULL, fine);
    expect_refused(p, "tensor 'lstm1.weight_ih' is missing");
    /* a layer missing in the middle: lstm1 and lstm3 but no lstm2 */
    write_custom(p, &m, "lstm2.weight_ih", NULL, 0, "lstm3.bias_ih", fine);
    expect_refused(p, "tensor 'lstm2.weight_ih' is missing");
    /* shapes that disagree with each other */
    write_custom(p, &m, NULL, "fc.bias", 127, NULL, fine);
    expect_refused(p, "tensor 'fc.bias' has shape [127], expected [128]");
    write_custom(p, &m, NULL, "lstm2.weight_hh", 12, NULL, fine);
    expect_refused(p, "tensor 'lstm2.weight_hh' has shape [12, 4], expected [16, 4]");
    write_custom(p, &m, NULL, "lstm1.bias_ih", 17, NULL, fine);
    expect_refused(p, "expected [16]");
    /* an unexpected tensor */
    write_custom(p, &m, NULL, NULL, 0, "lstm1.weight_ih_extra", fine);
    expect_refused(p, "unexpected tensor 'lstm1.weight_ih_extra'");
    write_custom(p, &m, NULL, NULL, 0, "lstm5.bias_ih", fine);
    expect_refused(p, "unexpected tensor 'lstm5.bias_ih'");
    /* shapes that disagree with the metadata */
    const char *h9[] = {"H", "9", NULL};
    write_custom(p, &m, NULL, NULL, 0, NULL, h9);
    expect_refused(p, "metadata says D 128, H 9, L 2 but the tensors have D 128, H 4, L 2");
    const char *l3[] = {"L", "3", NULL};
    write_custom(p, &m, NULL, NULL, 0, NULL, l3);
    expect_refused(p, "L 3 but");
    const char *ons[] = {"onsets", "1", NULL}; /* 256 features, but D is 128 */
    write_custom(p, &m, NULL, NULL, 0, NULL, ons);
    expect_refused(p, "D = 128 but the encoding gives 256 features");
    /* bad metadata numbers and words */
    static const char *const bad[][3] = {
        {"H", "abc", "metadata 'H' = 'abc': want an integer"},
        {"H", "4x", "metadata 'H' = '4x'"},
        {"H", "", "metadata 'H' = ''"},
        {"seq", "-1", "metadata 'seq' = '-1'"},
        {"seq", "99999999999999999999", "metadata 'seq'"},
        {"dropout", "1", "metadata 'dropout' = '1'"},
        {"dropout", "nan", "metadata 'dropout' = 'nan'"},
        {"lr", "-0.1", "metadata 'lr'"},
        {"loss", "xent", "metadata 'loss' = 'xent': want 'mse', 'bce' or 'ce'"},
        {"loss_on", "first", "metadata 'loss_on'"},
        {"steps_per_beat", "961", "metadata 'steps_per_beat'"},
        {"steps_per_beat", "0", "metadata 'steps_per_beat'"},
        {"strip_silence", "2", "metadata 'strip_silence'"},
        {"programs", "0-200", "programs '0-200'"},
        {"seed", "-5", "metadata 'seed' = '-5'"},
        {"seed", "18446744073709551616", "metadata 'seed'"},
        {"corpus_hash", "xyz", "metadata 'corpus_hash'"},
        {"train_loss", "-1", "metadata 'train_loss'"},
        {"format", "groovybee-2", "format 'groovybee-2' is not a groovybee model"},
        {"format", "groovybee-optim-1", "but its optimizer state"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *kv[] = {bad[i][0], bad[i][1], NULL};
        write_custom(p, &m, NULL, NULL, 0, NULL, kv);
        expect_refused(p, bad[i][2]);
    }
    /* framing damage: the reader's own errors, with the file and the byte */
    const char *good = tmp_path("good.safetensors");
    gb_error e;
    CHECK_INT(gb_ckpt_save(good, &m, NULL, &in, &e), GB_OK);
    gb_buf b;
    CHECK_INT(gb_file_read(good, 1 << 24, &b, &e), GB_OK);
    CHECK_INT(gb_file_write_atomic(p, b.data, b.len - 5, &e), GB_OK);
    expect_refused(p, "at byte");
    b.data[9] = 'X'; /* the header's JSON */
    CHECK_INT(gb_file_write_atomic(p, b.data, b.len, &e), GB_OK);
    expect_refused(p, "at byte");
    CHECK_INT(gb_file_write_atomic(p, "", 0, &e), GB_OK);
    expect_refused(p, "at byte 0");
    gb_buf_free(&b);
    expect_refused(tmp_path("missing.safetensors"), "cannot open");
    expect_refused(tmpdir, "not a regular file");
    /* an optim file is not a model */
    gb_ckpt_progress pr = {.epoch = 1, .best_epoch = 1};
    CHECK_INT(gb_ckpt_save_optim(p, &m, &pr, &e), GB_OK);
    expect_refused(p, "optimizer state");
    /* the writer refuses an info that disagrees with the model */
    in.net.H = 5;
    CHECK_INT(gb_ckpt_save(p, &m, NULL, &in, &e), GB_ERR_ARG);
    gb_lstm_free(&m);
    gb_model_info_free(&in);
}

/* A file as PyTorch users write it, with no metadata: dimensions from the shapes, the roll
 * preset's encoding; with D = 256 the onsets are taken to be on. */
static void test_no_metadata(void) {
    gb_lstm m, m2;
    gb_model_info in, in2;
    const char *p = tmp_path("torch.safetensors");
    gb_error e;
    for (int k = 0; k < 2; k++) {
        make_model(&m, &in, k ? 256 : 128, 6, 3, 4);
        write_custom(p, &m, NULL, NULL, 0, NULL, NULL);
        CHECK_INT(gb_ckpt_load(p, &m2, &in2, &e), GB_OK);
        CHECK(in2.net.D == (k ? 256 : 128) && in2.net.H == 6 && in2.net.L == 3);
        CHECK(in2.enc.onsets == k && in2.enc.binary == 1 && in2.enc.roll.steps_per_beat == 4);
        CHECK(in2.loss == GB_LOSS_BCE && in2.loss_on == GB_LOSS_ON_ALL && !in2.corpus);
        CHECK(!memcmp(m2.params, m.params, m.n_params * sizeof(float)));
        gb_lstm_free(&m), gb_lstm_free(&m2);
        gb_model_info_free(&in), gb_model_info_free(&in2);
    }
    /* D other than 128 or 256 does not fit any encoding */
    make_model(&m, &in, 100, 2, 1, 5);
    write_custom(p, &m, NULL, NULL, 0, NULL, NULL);
    expect_refused(p, "D = 100 but the encoding gives 128 features");
    gb_lstm_free(&m);
    gb_model_info_free(&in);
}

static void test_optim(void) {
    gb_lstm m, m2;
    gb_model_info in;
    make_model(&m, &in, 128, 4, 2, 6);
    char *op = gb_ckpt_optim_path("dir.x/model.safetensors");
    CHECK(op && !strcmp(op, "dir.x/model.optim.safetensors"));
    free(op);
    op = gb_ckpt_optim_path("model.bin");
    CHECK(op && !strcmp(op, "model.bin.optim.safetensors"));
    free(op);

    gb_ckpt_progress pr = {.epoch = 7, .best_epoch = 5, .best_loss = 0.25 + 1e-12,
                           .bad_epochs = 2, .train_loss = 1.0 / 7.0,
                           .corpus_hash = 0xFEDCBA9876543210ull, .run_epochs = 12,
                           .run_patience = -1, .run_target_loss = 0.125,
                           .run_max_windows = UINT64_MAX};
    const char *p = tmp_path("m.optim.safetensors");
    gb_error e;
    CHECK_INT(gb_ckpt_save_optim(p, &m, &pr, &e), GB_OK);
    gb_rng r;
    gb_rng_seed(&r, 99);
    CHECK_INT(gb_lstm_init(&m2, &m.cfg, &r, &e), GB_OK);
    gb_ckpt_progress pr2;
    CHECK_INT(gb_ckpt_load_optim(p, &m2, &pr2, &e), GB_OK);
    CHECK(!memcmp(m2.params, m.params, m.n_params * sizeof(float)));
    CHECK(!memcmp(m2.adam_m, m.adam_m, m.n_params * sizeof(float)));
    CHECK(!memcmp(m2.adam_v, m.adam_v, m.n_params * sizeof(float)));
    CHECK_INT(m2.adam_t, 12345);
    CHECK(pr2.epoch == 7 && pr2.best_epoch == 5 && pr2.bad_epochs == 2);
    CHECK(pr2.best_loss == pr.best_loss && pr2.train_loss == pr.train_loss);
    CHECK(pr2.corpus_hash == pr.corpus_hash);
    CHECK(pr2.run_epochs == 12 && pr2.run_patience == -1 && pr2.run_target_loss == 0.125 &&
          pr2.run_max_windows == UINT64_MAX); /* the run's budget, for a bare --resume */
    gb_ckpt_progress pr3;
    CHECK_INT(gb_ckpt_read_progress(p, &pr3, &e), GB_OK); /* without a model */
    CHECK(!memcmp(&pr3, &pr2, sizeof pr3));

    /* refused: another model's state, a model file, damaged progress */
    gb_lstm other;
    gb_lstm_config c5 = m.cfg;
    c5.H = 5;
    CHECK_INT(gb_lstm_init(&other, &c5, &r, &e), GB_OK);
    CHECK(gb_ckpt_load_optim(p, &other, &pr2, &e) == GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, "not of this one");
    CHECK_STR_HAS(e.msg, p);
    gb_lstm_free(&other);
    const char *mp = tmp_path("m.safetensors");
    CHECK_INT(gb_ckpt_save(mp, &m, NULL, &in, &e), GB_OK);
    CHECK(gb_ckpt_load_optim(mp, &m2, &pr2, &e) == GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, "not a groovybee optimizer state");
    pr.best_epoch = 8; /* after the last epoch */
    CHECK_INT(gb_ckpt_save_optim(p, &m, &pr, &e), GB_OK);
    CHECK(gb_ckpt_load_optim(p, &m2, &pr2, &e) == GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, "inconsistent progress");
    pr.best_epoch = 5;
    /* a tensor cut short */
    float *x = m.params;
    gb_st_tensor_in t[3] = {{"params", x, 1, {(int64_t)m.n_params}},
                            {"exp_avg", x, 1, {(int64_t)m.n_params - 1}},
                            {"exp_avg_sq", x, 1, {(int64_t)m.n_params}}};
    const char *kv[] = {"format", "groovybee-optim-1", "D", "128", "H", "4", "L", "2",
                        "step", "3", "epoch", "1", "best_epoch", "1", "best_loss", "0.5",
                        "bad_epochs", "0", "train_loss", "0.5",
                        "corpus_hash", "00", NULL};
    CHECK_INT(gb_st_write(p, t, 3, kv, &e), GB_OK);
    CHECK(gb_ckpt_load_optim(p, &m2, &pr2, &e) == GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, "tensor 'exp_avg' has shape");
    t[1].shape[0] = (int64_t)m.n_params;
    CHECK_INT(gb_st_write(p, t, 3, kv, &e), GB_OK);
    CHECK_INT(gb_ckpt_load_optim(p, &m2, &pr2, &e), GB_OK); /* the same, whole: accepted */
    kv[16] = "bad_epochs_x"; /* a required key missing */
    CHECK_INT(gb_st_write(p, t, 3, kv, &e), GB_OK);
    CHECK(gb_ckpt_load_optim(p, &m2, &pr2, &e) == GB_ERR_FORMAT);
    CHECK_STR_HAS(e.msg, "metadata 'bad_epochs' is missing");
    gb_lstm_free(&m), gb_lstm_free(&m2);
    gb_model_info_free(&in);
}

/* Saving replaces a checkpoint whole or not at all, and leaves no temporary file. */
static void test_atomic(void) {
    gb_lstm m, m2;
    gb_model_info in, in2;
    make_model(&m, &in, 128, 4, 2, 7);
    const char *p = tmp_path("atomic.safetensors");
    gb_error e;
    CHECK_INT(gb_ckpt_save(p, &m, NULL, &in, &e), GB_OK);
    float first = m.params[5];
    m.params[5] = 99.0f;
    in.net.dropout = 2.0f; /* refused before anything is written */
    CHECK_INT(gb_ckpt_save(p, &m, NULL, &in, &e), GB_ERR_ARG);
    in.net.dropout = 0.25f;
    CHECK_INT(gb_ckpt_save(tmp_path("no-dir/x.safetensors"), &m, NULL, &in, &e), GB_ERR_IO);
    CHECK_INT(gb_ckpt_load(p, &m2, &in2, &e), GB_OK);
    CHECK(m2.params[5] == first);
    gb_lstm_free(&m2), gb_model_info_free(&in2);
    CHECK_INT(gb_ckpt_save(p, &m, NULL, &in, &e), GB_OK);
    CHECK_INT(gb_ckpt_load(p, &m2, &in2, &e), GB_OK);
    CHECK(m2.params[5] == 99.0f);
    CHECK(!has_tmp_files(tmpdir));
    gb_lstm_free(&m), gb_lstm_free(&m2);
    gb_model_info_free(&in), gb_model_info_free(&in2);
}

/* Rewrites src as dst with the metadata key set to value (value NULL: removed), and (extra)
 * one more tensor. */
static void rewrite_meta(const char *src, const char *dst, const char *key, const char *value,
                         const char *extra) {
    gb_st_file f;
    gb_error e;
    CHECK_INT(gb_st_read(src, &f, &e), GB_OK);
    gb_st_tensor_in t[4 * GB_LSTM_MAX_LAYERS + 5];
    const char *kv[2 * 96 + 3];
    size_t n = 0, k = 0;
    static float four[4];
    for (size_t i = 0; i < f.n && i < 4 * GB_LSTM_MAX_LAYERS + 4; i++, n++) {
        t[n] = (gb_st_tensor_in){f.t[i].name, f.t[i].data, f.t[i].ndim, {0}};
        memcpy(t[n].shape, f.t[i].shape, sizeof t[n].shape);
    }
    if (extra) t[n++] = (gb_st_tensor_in){extra, four, 2, {2, 2}};
    for (size_t i = 0; i < f.n_meta && k < 2 * 96; i++) {
        if (!strcmp(f.meta[2 * i], key)) continue;
        kv[k++] = f.meta[2 * i], kv[k++] = f.meta[2 * i + 1];
    }
    if (value) kv[k++] = key, kv[k++] = value;
    kv[k] = NULL;
    CHECK_INT(gb_st_write(dst, t, n, kv, &e), GB_OK);
    gb_st_free(&f);
}

/* Token input and the softmax head (issue 12): the metadata says what the shapes cannot (head
 * "softmax", vocab V, loss "ce"); lstm1.weight_ih is (4H, V + E), fc (D, H) with D the classes.
 * Round trips with the softmax head and with a linear one on token input; every key that
 * disagrees is refused; and a file without the keys loads as before (test_no_metadata). */
static void test_tokens(void) {
    gb_lstm m, m2;
    gb_model_info in, in2;
    gb_error e;
    const char *p = tmp_path("tok.safetensors"), *q = tmp_path("tok2.safetensors");
    for (int k = 0; k < 2; k++) {
        make_model(&m, &in, 128, 5, 2, 21 + k);
        gb_lstm_free(&m);
        if (k == 0) /* Performance RNN's vocabulary, E = 3 extras, the softmax head */
            in.net = (gb_lstm_config){.D = 388, .V = 388, .E = 3, .H = 5, .L = 2,
                                      .dropout = 0.25f, .head = GB_HEAD_SOFTMAX},
            in.loss = GB_LOSS_CE, in.loss_on = GB_LOSS_ON_ALL;
        else /* tokens in, a roll's 128 binary features out */
            in.net = (gb_lstm_config){.D = 128, .V = 50, .H = 5, .L = 2, .dropout = 0.25f},
            in.loss = GB_LOSS_BCE, in.enc.binary = 1;
        gb_rng r;
        gb_rng_seed(&r, 5);
        CHECK_INT(gb_lstm_init(&m, &in.net, &r, &e), GB_OK);
        CHECK_INT(gb_ckpt_save(p, &m, NULL, &in, &e), GB_OK);
        gb_status ls = gb_ckpt_load(p, &m2, &in2, &e);
        CHECK_INT(ls, GB_OK);
        if (ls != GB_OK) fprintf(stderr, "  %s\n", e.msg);
        CHECK(m2.n_params == m.n_params);
        CHECK(!memcmp(m2.params, m.params, m.n_params * sizeof(float)));
        CHECK_INT(in2.net.V, in.net.V);
        CHECK_INT(in2.net.E, in.net.E);
        CHECK_INT(in2.net.D, in.net.D);
        CHECK_INT(in2.net.head, in.net.head);
        CHECK_INT(in2.loss, in.loss);
        CHECK(m2.cfg.V == in.net.V && m2.cfg.head == in.net.head);
        gb_st_file f;
        CHECK_INT(gb_st_read(p, &f, &e), GB_OK);
        const gb_st_tensor *w = gb_st_find(&f, "lstm1.weight_ih");
        const gb_st_tensor *fc = gb_st_find(&f, "fc.weight");
        CHECK(w && w->shape[0] == 20 && w->shape[1] == in.net.V + in.net.E);
        CHECK(fc && fc->shape[0] == in.net.D && fc->shape[1] == 5);
        CHECK(!strcmp(gb_st_meta(&f, "head"), k ? "linear" : "softmax"));
        CHECK(!strcmp(gb_st_meta(&f, "vocab"), k ? "50" : "388"));
        CHECK(!strcmp(gb_st_meta(&f, "loss"), k ? "bce" : "ce"));
        gb_st_free(&f);
        gb_lstm_free(&m2), gb_model_info_free(&in2);
        if (k == 0) {
            /* without "loss" the softmax head's own; without "vocab" a dense model of
             * D + E = 391 inputs, which the roll's encoding refuses; without "head" a linear
             * head, which takes no "ce" */
            rewrite_meta(p, q, "loss", NULL, NULL);
            CHECK_INT(gb_ckpt_load(q, &m2, &in2, &e), GB_OK);
            CHECK_INT(in2.loss, GB_LOSS_CE);
            gb_lstm_free(&m2), gb_model_info_free(&in2);
            rewrite_meta(p, q, "vocab", NULL, NULL);
            expect_refused(q, "the model takes 391 inputs a step but the encoding gives");
            rewrite_meta(p, q, "head", NULL, NULL);
            expect_refused(q, "a softmax head is trained with the cross-entropy loss");
            static const char *const bad[][3] = {
                {"loss", "bce", "a softmax head is trained with the cross-entropy loss"},
                {"loss", "xent", "want 'mse', 'bce' or 'ce'"},
                {"head", "nade", "metadata 'head' = 'nade': want 'linear' or 'softmax'"},
                {"head", "tree", "metadata 'head' = 'tree': want 'linear', 'nade' or 'softmax'"},
                {"vocab", "392", "metadata 'vocab' = '392': want an integer from 0 to 391"},
                {"vocab", "-1", "metadata 'vocab' = '-1'"},
            };
            for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                rewrite_meta(p, q, bad[i][0], bad[i][1], NULL);
                expect_refused(q, bad[i][2]);
            }
            rewrite_meta(p, q, "head", "softmax", "nade.W"); /* and a NADE's tensor */
            expect_refused(q, "metadata 'head' = 'softmax': want 'nade' (the file has nade.W)");
            /* the writer refuses an info of another vocabulary */
            in.net.V = 387, in.net.E = 4;
            CHECK_INT(gb_ckpt_save(q, &m, NULL, &in, &e), GB_ERR_ARG);
            in.net.V = 388, in.net.E = 3, in.loss = GB_LOSS_BCE; /* a softmax head without CE */
            CHECK_INT(gb_ckpt_save(q, &m, NULL, &in, &e), GB_ERR_ARG);
            CHECK_STR_HAS(e.msg, "cross-entropy");
        }
        gb_lstm_free(&m), gb_model_info_free(&in);
    }
}

int main(void) {
    if (!tmpdir_make("ckpt_test")) return 1;
    RUN(test_roundtrip);
    RUN(test_pytorch_names);
    RUN(test_damaged);
    RUN(test_no_metadata);
    RUN(test_optim);
    RUN(test_atomic);
    RUN(test_tokens);
    rm_tree(tmpdir);
    TEST_END();
}
