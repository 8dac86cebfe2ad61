/* checkpoint.c - model and optim files (checkpoint.h): the PyTorch tensor names, the metadata
 * keys both ways, and the checks a loaded file must pass. */
#define _POSIX_C_SOURCE 200809L
#include "io/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

#define MAX_DIM (1 << 20) /* lstm.c's own bound on D and H */

void gb_model_info_default(gb_model_info *info) {
    memset(info, 0, sizeof *info);
    snprintf(info->preset, sizeof info->preset, "roll");
    info->net = (gb_lstm_config){.D = 128, .H = 256, .L = 1, .dropout = 0.2f};
    info->loss = GB_LOSS_BCE;
    info->loss_on = GB_LOSS_ON_ALL;
    gb_ds_encoding_default(&info->enc);
    info->seq = 64, info->stride = 32, info->batch = 64;
    info->lr = 3e-3f;
    info->lr_decay = 1;
    info->valid_fraction = 0.1;
    info->seed = 1;
    info->train_loss = NAN;
    info->best_valid_loss = NAN;
}

void gb_model_info_free(gb_model_info *info) {
    if (!info) return;
    free(info->corpus);
    free(info->valid_corpus);
    info->corpus = info->valid_corpus = NULL;
}

char *gb_ckpt_paths_json(const char *const *paths, int n) {
    size_t cap = 3;
    for (int i = 0; i < n; i++) cap += 6 * strlen(paths[i]) + 3;
    char *s = malloc(cap), *p = s;
    if (!s) return NULL;
    *p++ = '[';
    for (int i = 0; i < n; i++) {
        if (i) *p++ = ',';
        *p++ = '"';
        for (const unsigned char *c = (const unsigned char *)paths[i]; *c; c++) {
            if (*c == '"' || *c == '\\') *p++ = '\\', *p++ = (char)*c;
            else if (*c < 0x20) p += sprintf(p, "\\u%04x", *c);
            else *p++ = (char)*c;
        }
        *p++ = '"';
    }
    *p++ = ']';
    *p = 0;
    return s;
}

/* Reads what gb_ckpt_paths_json writes: strings with \" \\ and \u00XX escapes. */
gb_status gb_ckpt_paths_parse(const char *json, char ***paths, int *n, gb_error *err) {
    *paths = NULL, *n = 0;
    const char *p = json;
    char **v = NULL;
    size_t cap = 0;
    int k = 0;
    while (*p == ' ') p++;
    if (*p++ != '[') goto bad;
    while (*p == ' ') p++;
    if (*p == ']') goto done;
    for (;;) {
        while (*p == ' ') p++;
        if (*p++ != '"') goto bad;
        const char *q = p;
        size_t len = 0;
        for (; *q && *q != '"'; q++, len++)
            if (*q == '\\' && !*++q) goto bad;
        if (*q != '"' || gb_grow((void **)&v, &cap, (size_t)k + 1, sizeof *v) != GB_OK ||
            !(v[k] = malloc(len + 1)))
            goto bad;
        char *o = v[k++];
        while (*p != '"') {
            if (*p != '\\') {
                *o++ = *p++;
            } else if (p[1] == 'u') {
                unsigned u = 0;
                for (int i = 2; i < 6; i++) {
                    char h = p[i]; /* stops at the NUL or the closing quote: not hex */
                    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                          : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0) goto bad;
                    u = u * 16 + (unsigned)d;
                }
                if (u == 0 || u > 0x7F) goto bad;
                *o++ = (char)u, p += 6;
            } else {
                *o++ = p[1], p += 2;
            }
        }
        *o = 0;
        p++;
        while (*p == ' ') p++;
        if (*p == ']') break;
        if (*p++ != ',') goto bad;
    }
done:
    *paths = v, *n = k;
    return GB_OK;
bad:
    while (k > 0) free(v[--k]);
    free(v);
    return gb_fail(err, GB_ERR_FORMAT, -1, "corpus paths are not a JSON array of strings: %.60s",
                   json);
}

gb_status gb_model_info_check(const gb_model_info *in, gb_error *err) {
    const gb_lstm_config *c = &in->net;
    if (c->D < 1 || c->D > MAX_DIM || c->H < 1 || c->H > MAX_DIM)
        return gb_fail(err, GB_ERR_ARG, -1, "D = %d, H = %d: need 1..%d", c->D, c->H, MAX_DIM);
    if (c->L < 1 || c->L > GB_LSTM_MAX_LAYERS)
        return gb_fail(err, GB_ERR_ARG, -1, "L = %d: need 1..%d", c->L, GB_LSTM_MAX_LAYERS);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return gb_fail(err, GB_ERR_ARG, -1, "dropout %g: need [0, 1)", (double)c->dropout);
    if (in->loss != GB_LOSS_MSE && in->loss != GB_LOSS_BCE && in->loss != GB_LOSS_CE)
        return gb_fail(err, GB_ERR_ARG, -1, "unknown loss %d", (int)in->loss);
    if (c->V < 0 || c->V > MAX_DIM || c->E < 0 || c->E > MAX_DIM)
        return gb_fail(err, GB_ERR_ARG, -1, "vocabulary %d, extra inputs %d: need 0..%d", c->V,
                       c->E, MAX_DIM);
    if ((c->head == GB_HEAD_SOFTMAX) != (in->loss == GB_LOSS_CE))
        return gb_fail(err, GB_ERR_ARG, -1, "a softmax head is trained with the cross-entropy "
                       "loss (ce), and only it");
    if (in->loss_on != GB_LOSS_ON_LAST && in->loss_on != GB_LOSS_ON_ALL)
        return gb_fail(err, GB_ERR_ARG, -1, "unknown loss_on %d", (int)in->loss_on);
    const gb_roll_opts *r = &in->enc.roll;
    if (r->step_ticks < 0 || (r->step_ticks == 0 && (r->steps_per_beat < 1 ||
                                                    r->steps_per_beat > 960)))
        return gb_fail(err, GB_ERR_ARG, -1, "steps_per_beat %d, step_ticks %d: need 1..960 or "
                       "step_ticks >= 1", r->steps_per_beat, r->step_ticks);
    /* the events encoding gives a token model with a softmax head over its vocabulary */
    if (in->enc.events &&
        (c->V != gb_ds_features(&in->enc) || c->D != c->V || c->E || c->head != GB_HEAD_SOFTMAX))
        return gb_fail(err, GB_ERR_ARG, -1, "performance events of %d tokens need token input "
                       "and a softmax head over them, no extra inputs (vocab %d, D %d, E %d)",
                       gb_ds_features(&in->enc), c->V, c->D, c->E);
    if (in->enc.events && in->enc.meter)
        return gb_fail(err, GB_ERR_ARG, -1, "performance events take no meter inputs");
    if (!(in->stretch >= 0 && in->stretch <= 0.5f) || (in->stretch > 0 && !in->enc.events))
        return gb_fail(err, GB_ERR_ARG, -1, "time stretch %g: need 0..0.5, and events",
                       (double)in->stretch);
    /* the roll's encoding gives a dense model's inputs and a binary or velocity model's
     * outputs; a token model's and a softmax head's are not its */
    if (!in->enc.events && c->head != GB_HEAD_SOFTMAX && c->D != gb_ds_features(&in->enc))
        return gb_fail(err, GB_ERR_ARG, -1, "D = %d but the encoding gives %d features (onsets %s)",
                       c->D, gb_ds_features(&in->enc), in->enc.onsets ? "on" : "off");
    if (!c->V && !in->enc.events && gb_lstm_din(c) != gb_ds_in_features(&in->enc))
        return gb_fail(err, GB_ERR_ARG, -1, "the model takes %d inputs a step but the encoding "
                       "gives %d (meter %s)", gb_lstm_din(c), gb_ds_in_features(&in->enc),
                       in->enc.meter ? "on" : "off");
    if (c->head == GB_HEAD_NADE && (in->loss != GB_LOSS_BCE || !in->enc.binary))
        return gb_fail(err, GB_ERR_ARG, -1, "a NADE head models binary steps: it needs the BCE "
                       "loss and binary values");
    if (c->head == GB_HEAD_NADE ? c->Hn < 1 || c->Hn > MAX_DIM : c->Hn != 0)
        return gb_fail(err, GB_ERR_ARG, -1, "NADE hidden units %d: need 1..%d with a NADE head, "
                       "none without", c->Hn, MAX_DIM);
    if (in->transpose < 0 || in->transpose > 127 || !(in->weight_decay >= 0) ||
        !(in->lr_decay > 0 && in->lr_decay <= 1) || in->lr_patience < 0 ||
        !(in->ema >= 0 && in->ema < 1))
        return gb_fail(err, GB_ERR_ARG, -1, "transpose %d (0..127), weight decay %g (>= 0), lr "
                       "decay %g ((0, 1]), lr patience %d (>= 0), ema %g ([0, 1))", in->transpose,
                       (double)in->weight_decay, (double)in->lr_decay, in->lr_patience,
                       (double)in->ema);
    return GB_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* writing */

typedef struct {
    const char *kv[96]; /* key, value, ..., NULL */
    char val[48][80];   /* storage of formatted values */
    int n, nv;
} meta_b;

static void put(meta_b *b, const char *key, const char *value) {
    b->kv[b->n++] = key;
    b->kv[b->n++] = value;
    b->kv[b->n] = NULL;
}

static void putf(meta_b *b, const char *key, const char *fmt, ...) GB_PRINTF(3, 4);
static void putf(meta_b *b, const char *key, const char *fmt, ...) {
    char *v = b->val[b->nv++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof b->val[0], fmt, ap);
    va_end(ap);
    put(b, key, v);
}

/* Tensors of a parameter block, PyTorch's names; names point into names (L*4+4 of 32 bytes). */
static size_t tensor_list(const gb_lstm_config *c, float *block, gb_st_tensor_in *t,
                          char (*names)[32]) {
    gb_lstm_views v;
    gb_lstm_views_of(c, block, &v);
    size_t n = 0;
    int64_t G = 4 * (int64_t)c->H;
    for (int l = 0; l < c->L; l++) {
        int64_t in = l ? c->H : gb_lstm_dw(c);
        static const char *const what[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
        float *data[4] = {v.w_ih[l], v.w_hh[l], v.b_ih[l], v.b_hh[l]};
        for (int k = 0; k < 4; k++) {
            snprintf(names[n], 32, "lstm%d.%s", l + 1, what[k]);
            t[n] = (gb_st_tensor_in){.name = names[n], .data = data[k], .ndim = k < 2 ? 2 : 1};
            t[n].shape[0] = G;
            if (k < 2) t[n].shape[1] = k == 0 ? in : c->H;
            n++;
        }
    }
    int64_t dout = gb_lstm_dout(c);
    t[n++] = (gb_st_tensor_in){.name = "fc.weight", .data = v.fc_w, .ndim = 2,
                               .shape = {dout, c->H}};
    t[n++] = (gb_st_tensor_in){.name = "fc.bias", .data = v.fc_b, .ndim = 1, .shape = {dout}};
    if (c->head == GB_HEAD_NADE) {
        t[n++] = (gb_st_tensor_in){.name = "nade.W", .data = v.nade_w, .ndim = 2,
                                   .shape = {c->D, c->Hn}};
        t[n++] = (gb_st_tensor_in){.name = "nade.V", .data = v.nade_v, .ndim = 2,
                                   .shape = {c->D, c->Hn}};
    }
    return n;
}

gb_status gb_ckpt_save(const char *path, const gb_lstm *m, const float *params,
                       const gb_model_info *in, gb_error *err) {
    gb_status s = gb_model_info_check(in, err);
    if (s != GB_OK) return s;
    const gb_lstm_config *c = &m->cfg;
    if (c->D != in->net.D || c->H != in->net.H || c->L != in->net.L || c->E != in->net.E ||
        c->head != in->net.head || c->Hn != in->net.Hn || c->V != in->net.V)
        return gb_fail(err, GB_ERR_ARG, -1, "model (D %d, E %d, H %d, L %d, head %d, Hn %d, V %d) "
                       "and info disagree", c->D, c->E, c->H, c->L, (int)c->head, c->Hn, c->V);
    gb_st_tensor_in t[4 * GB_LSTM_MAX_LAYERS + 4];
    char names[4 * GB_LSTM_MAX_LAYERS + 4][32];
    size_t nt = tensor_list(c, (float *)(params ? params : m->params), t, names);

    meta_b *b = calloc(1, sizeof *b);
    if (!b) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    char programs[512];
    gb_ds_filter_format(&in->enc, programs, sizeof programs);
    put(b, "format", GB_CKPT_FORMAT);
    put(b, "groovybee_version", GB_VERSION);
    put(b, "preset", in->preset);
    put(b, "loss", in->loss == GB_LOSS_MSE ? "mse" : in->loss == GB_LOSS_CE ? "ce" : "bce");
    put(b, "loss_on", in->loss_on == GB_LOSS_ON_LAST ? "last" : "all");
    putf(b, "steps_per_beat", "%d", in->enc.roll.step_ticks ? 0 : in->enc.roll.steps_per_beat);
    putf(b, "step_ticks", "%d", in->enc.roll.step_ticks);
    putf(b, "strip_silence", "%d", in->enc.roll.strip_silence != 0);
    putf(b, "onsets", "%d", in->enc.onsets != 0);
    putf(b, "binary", "%d", in->enc.binary != 0);
    put(b, "programs", programs);
    putf(b, "drums", "%d", in->enc.drums != 0);
    putf(b, "D", "%d", c->D);
    putf(b, "H", "%d", c->H);
    putf(b, "L", "%d", c->L);
    putf(b, "dropout", "%.9g", (double)in->net.dropout);
    putf(b, "dropout_in", "%.9g", (double)in->net.dropout_in);
    putf(b, "dropout_out", "%.9g", (double)in->net.dropout_out);
    put(b, "head", c->head == GB_HEAD_NADE      ? "nade"
                   : c->head == GB_HEAD_SOFTMAX ? "softmax"
                                                : "linear");
    putf(b, "nade_hidden", "%d", c->Hn);
    putf(b, "vocab", "%d", c->V);
    putf(b, "meter", "%d", in->enc.meter != 0);
    putf(b, "merge", "%d", in->enc.merge != 0);
    put(b, "events", in->enc.events == GB_DS_ENSEMBLE ? "ensemble"
                     : in->enc.events ? "performance" : "none");
    putf(b, "transpose", "%d", in->transpose);
    putf(b, "stretch", "%.9g", (double)in->stretch);
    putf(b, "weight_decay", "%.9g", (double)in->weight_decay);
    putf(b, "lr_decay", "%.9g", (double)in->lr_decay);
    putf(b, "lr_patience", "%d", in->lr_patience);
    putf(b, "ema", "%.9g", (double)in->ema);
    putf(b, "seq", "%d", in->seq);
    putf(b, "stride", "%d", in->stride);
    putf(b, "batch", "%d", in->batch);
    putf(b, "lr", "%.9g", (double)in->lr);
    putf(b, "clip", "%.9g", (double)in->clip);
    putf(b, "valid_fraction", "%.17g", in->valid_fraction);
    putf(b, "seed", "%" PRIu64, in->seed);
    putf(b, "threads", "%d", in->threads);
    put(b, "corpus", in->corpus ? in->corpus : "[]");
    put(b, "valid_corpus", in->valid_corpus ? in->valid_corpus : "[]");
    putf(b, "corpus_hash", "%016" PRIx64, in->corpus_hash);
    putf(b, "train_windows", "%" PRIu64, in->train_windows);
    putf(b, "valid_windows", "%" PRIu64, in->valid_windows);
    putf(b, "epochs", "%d", in->epochs);
    putf(b, "train_loss", "%.17g", in->train_loss);
    putf(b, "best_valid_loss", "%.17g", in->best_valid_loss);
    s = gb_st_write(path, t, nt, b->kv, err);
    free(b);
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* reading */

static gb_status bad_meta(gb_error *err, const char *path, const char *key, const char *v,
                          const char *want) {
    return gb_fail(err, GB_ERR_FORMAT, -1, "%s: metadata '%s' = '%.40s': want %s", path, key, v,
                   want);
}

/* An integer key in [lo, hi]; absent: *out keeps its default. */
static gb_status meta_int(const gb_st_file *f, const char *path, const char *key, long lo,
                          long hi, int *out, gb_error *err) {
    const char *v = gb_st_meta(f, key);
    if (!v) return GB_OK;
    char *end, want[80];
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        snprintf(want, sizeof want, "an integer from %ld to %ld", lo, hi);
        return bad_meta(err, path, key, v, want);
    }
    *out = (int)x;
    return GB_OK;
}

static gb_status meta_u64(const gb_st_file *f, const char *path, const char *key, int base,
                          uint64_t *out, gb_error *err) {
    const char *v = gb_st_meta(f, key);
    if (!v) return GB_OK;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, base);
    if (errno || end == v || *end || v[0] == '-' || v[0] == ' ' || v[0] == '+')
        return bad_meta(err, path, key, v, base == 16 ? "a hexadecimal number"
                                                      : "an unsigned integer");
    *out = x;
    return GB_OK;
}

/* A number in [lo, hi] (NaN accepted when nan_ok: "no such figure"). */
static gb_status meta_double(const gb_st_file *f, const char *path, const char *key, double lo,
                             double hi, int nan_ok, double *out, gb_error *err) {
    const char *v = gb_st_meta(f, key);
    if (!v) return GB_OK;
    char *end, want[80];
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || (errno && errno != ERANGE) ||
        !((x >= lo && x <= hi) || (nan_ok && isnan(x)))) {
        snprintf(want, sizeof want, "a number from %g to %g%s", lo, hi, nan_ok ? " or nan" : "");
        return bad_meta(err, path, key, v, want);
    }
    *out = x;
    return GB_OK;
}

/* One of the words a, b (and c unless NULL): *out 0, 1 or 2; absent: *out keeps its default. */
static gb_status meta_enum(const gb_st_file *f, const char *path, const char *key,
                           const char *a, const char *b, const char *c, int *out, gb_error *err) {
    const char *v = gb_st_meta(f, key);
    if (!v) return GB_OK;
    if (strcmp(v, a) == 0) *out = 0;
    else if (strcmp(v, b) == 0) *out = 1;
    else if (c && strcmp(v, c) == 0) *out = 2;
    else {
        char want[80];
        if (c) snprintf(want, sizeof want, "'%s', '%s' or '%s'", a, b, c);
        else snprintf(want, sizeof want, "'%s' or '%s'", a, b);
        return bad_meta(err, path, key, v, want);
    }
    return GB_OK;
}

static const gb_st_tensor *want_tensor(const gb_st_file *f, const char *path, const char *name,
                                       int ndim, int64_t d0, int64_t d1, gb_error *err) {
    const gb_st_tensor *t = gb_st_find(f, name);
    if (!t) {
        gb_fail(err, GB_ERR_FORMAT, -1, "%s: tensor '%s' is missing", path, name);
        return NULL;
    }
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        char got[64] = "", exp[48];
        size_t k = 0;
        for (int i = 0; i < t->ndim && k < sizeof got - 24; i++)
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", i ? ", " : "",
                                  (long long)t->shape[i]);
        if (ndim == 2) snprintf(exp, sizeof exp, "%lld, %lld", (long long)d0, (long long)d1);
        else snprintf(exp, sizeof exp, "%lld", (long long)d0);
        gb_fail(err, GB_ERR_FORMAT, -1, "%s: tensor '%s' has shape [%s], expected [%s]", path,
                name, got, exp);
        return NULL;
    }
    return t;
}

/* gb_st_read, with the path in front of its message. */
static gb_status read_st(const char *path, gb_st_file *f, gb_error *err) {
    gb_error e;
    gb_status s = gb_st_read(path, f, &e);
    if (s == GB_OK) return s;
    if (e.offset >= 0)
        return gb_fail(err, s, e.offset, "%s: at byte %lld: %s", path, (long long)e.offset,
                       e.msg);
    return gb_fail(err, s, -1, "%s: %s", path, e.msg);
}

/* Reads the metadata into info (over defaults) and infers and checks the dimensions from the
 * tensors; with m, also allocates m and copies the parameters. */
static gb_status load(const char *path, gb_lstm *m, gb_model_info *info, gb_error *err) {
    gb_model_info_default(info);
    if (m) memset(m, 0, sizeof *m);
    gb_st_file f;
    gb_status s = read_st(path, &f, err);
    if (s != GB_OK) return s;
    const char *fmt = gb_st_meta(&f, "format");
    if (fmt && strcmp(fmt, GB_CKPT_FORMAT) != 0) {
        s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: format '%.40s' is not a groovybee model "
                    "('%s')%s", path, fmt, GB_CKPT_FORMAT,
                    strcmp(fmt, GB_CKPT_OPTIM_FORMAT) ? "" : " but its optimizer state");
        goto out;
    }
    /* dimensions from the tensors: D and H from lstm1, L from the lstmK present */
    const gb_st_tensor *w0 = gb_st_find(&f, "lstm1.weight_ih");
    const gb_st_tensor *h0 = gb_st_find(&f, "lstm1.weight_hh");
    if (!w0 || !h0) {
        s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: tensor '%s' is missing", path,
                    w0 ? "lstm1.weight_hh" : "lstm1.weight_ih");
        goto out;
    }
    if (w0->ndim != 2 || h0->ndim != 2 || h0->shape[1] < 1 || h0->shape[1] > MAX_DIM ||
        w0->shape[1] < 1 || w0->shape[1] > MAX_DIM) {
        s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: lstm1.weight_ih / weight_hh are not (4H, D) "
                    "and (4H, H) matrices with D, H in 1..%d", path, MAX_DIM);
        goto out;
    }
    /* Dw (layer 0's inputs) and H from lstm1; a NADE head when nade.W is there, D and Hn from
     * its shape, else D from fc.weight; the metadata's vocab V > 0: token input, E = Dw - V,
     * else E = Dw - D; head 'softmax' (only the metadata can tell it from a linear head) */
    const gb_st_tensor *nw = gb_st_find(&f, "nade.W"), *fw = gb_st_find(&f, "fc.weight");
    const gb_st_tensor *dt = nw ? nw : fw;
    int Din = (int)w0->shape[1], H = (int)h0->shape[1], L = 0, V = 0, head = nw != NULL;
    if ((s = meta_int(&f, path, "vocab", 0, Din, &V, err)) ||
        (s = meta_enum(&f, path, "head", "linear", "nade", "softmax", &head, err)))
        goto out;
    if ((head == 1) != (nw != NULL)) {
        s = bad_meta(err, path, "head", gb_st_meta(&f, "head"),
                     nw ? "'nade' (the file has nade.W)" : "'linear' or 'softmax' (the file has "
                                                           "no nade.W)");
        goto out;
    }
    if (!dt) {
        s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: tensor 'fc.weight' is missing", path);
        goto out;
    }
    if (dt->ndim != 2 || dt->shape[0] < 1 || dt->shape[0] > (V ? MAX_DIM : Din) ||
        (nw && (dt->shape[1] < 1 || dt->shape[1] > MAX_DIM))) {
        s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: %s is not a (D, %s) matrix with D <= %s%d", path,
                    nw ? "nade.W" : "fc.weight", nw ? "Hn" : "H",
                    V ? "" : "lstm1's inputs ", V ? MAX_DIM : Din);
        goto out;
    }
    int D = (int)dt->shape[0], Hn = nw ? (int)nw->shape[1] : 0;
    for (size_t i = 0; i < f.n; i++) { /* every tensor must be one of ours */
        const char *nm = f.t[i].name;
        if (strcmp(nm, "fc.weight") == 0 || strcmp(nm, "fc.bias") == 0) continue;
        if (nw && (strcmp(nm, "nade.W") == 0 || strcmp(nm, "nade.V") == 0)) continue;
        if (strncmp(nm, "lstm", 4) == 0 && nm[4] >= '1' && nm[4] <= '0' + GB_LSTM_MAX_LAYERS &&
            nm[5] == '.' &&
            (strcmp(nm + 6, "weight_ih") == 0 || strcmp(nm + 6, "weight_hh") == 0 ||
             strcmp(nm + 6, "bias_ih") == 0 || strcmp(nm + 6, "bias_hh") == 0)) {
            if (nm[4] - '0' > L) L = nm[4] - '0';
            continue;
        }
        s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: unexpected tensor '%s' (a groovybee model has "
                    "lstm1..lstm%d.{weight_ih,weight_hh,bias_ih,bias_hh}, fc.weight, fc.bias, "
                    "and nade.W, nade.V for a NADE head)",
                    path, nm, GB_LSTM_MAX_LAYERS);
        goto out;
    }
    gb_lstm_config c = {.D = D, .H = H, .L = L, .E = Din - (V ? V : D), .Hn = Hn, .V = V,
                        .head = nw ? GB_HEAD_NADE : head == 2 ? GB_HEAD_SOFTMAX : GB_HEAD_LINEAR};
    info->net = c;
    if (c.head == GB_HEAD_SOFTMAX) info->loss = GB_LOSS_CE; /* the default it must have */
    info->enc.onsets = D == 256; /* the default when the metadata does not say */
    info->enc.meter = c.E == GB_DS_METER_FEATURES;
    const gb_st_tensor *tt[4 * GB_LSTM_MAX_LAYERS + 4];
    size_t nt = 0;
    for (int l = 1; l <= L; l++) {
        char nm[32];
        static const char *const what[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
        for (int k = 0; k < 4; k++) {
            snprintf(nm, sizeof nm, "lstm%d.%s", l, what[k]);
            tt[nt] = want_tensor(&f, path, nm, k < 2 ? 2 : 1, 4 * (int64_t)H,
                                 k == 0 ? (l == 1 ? Din : H) : H, err);
            if (!tt[nt++]) {
                s = GB_ERR_FORMAT;
                goto out;
            }
        }
    }
    int Dout = gb_lstm_dout(&c);
    if (!(tt[nt++] = want_tensor(&f, path, "fc.weight", 2, Dout, H, err)) ||
        !(tt[nt++] = want_tensor(&f, path, "fc.bias", 1, Dout, 0, err)) ||
        (nw && (!(tt[nt++] = want_tensor(&f, path, "nade.W", 2, D, Hn, err)) ||
                !(tt[nt++] = want_tensor(&f, path, "nade.V", 2, D, Hn, err))))) {
        s = GB_ERR_FORMAT;
        goto out;
    }

    /* metadata over the defaults; every present key must parse */
    const char *v;
    int iv, spb = info->enc.roll.steps_per_beat, st = 0, strip = 0, ons = info->enc.onsets;
    int bin = info->enc.binary, drums = 0, md = D, mh = H, ml = L, meter = info->enc.meter;
    int mhn = Hn;
    double dv;
    if ((v = gb_st_meta(&f, "preset"))) snprintf(info->preset, sizeof info->preset, "%s", v);
    iv = info->loss == GB_LOSS_CE ? 2 : info->loss == GB_LOSS_BCE;
    if ((s = meta_enum(&f, path, "loss", "mse", "bce", "ce", &iv, err))) goto out;
    info->loss = iv == 2 ? GB_LOSS_CE : iv ? GB_LOSS_BCE : GB_LOSS_MSE;
    iv = info->loss_on == GB_LOSS_ON_ALL;
    if ((s = meta_enum(&f, path, "loss_on", "last", "all", NULL, &iv, err))) goto out;
    info->loss_on = iv ? GB_LOSS_ON_ALL : GB_LOSS_ON_LAST;
    iv = 0;
    if ((s = meta_enum(&f, path, "events", "none", "performance", "ensemble", &iv, err))) goto out;
    info->enc.events = (gb_ds_repr)iv;
    if ((s = meta_int(&f, path, "steps_per_beat", 0, 960, &spb, err)) ||
        (s = meta_int(&f, path, "step_ticks", 0, 1 << 30, &st, err)) ||
        (s = meta_int(&f, path, "strip_silence", 0, 1, &strip, err)) ||
        (s = meta_int(&f, path, "onsets", 0, 1, &ons, err)) ||
        (s = meta_int(&f, path, "binary", 0, 1, &bin, err)) ||
        (s = meta_int(&f, path, "drums", 0, 1, &drums, err)) ||
        (s = meta_int(&f, path, "meter", 0, 1, &meter, err)) ||
        (s = meta_int(&f, path, "merge", 0, 1, &info->enc.merge, err)) ||
        (s = meta_int(&f, path, "nade_hidden", 0, MAX_DIM, &mhn, err)) ||
        (s = meta_int(&f, path, "transpose", 0, 127, &info->transpose, err)) ||
        (s = meta_int(&f, path, "lr_patience", 0, 1 << 30, &info->lr_patience, err)) ||
        (s = meta_int(&f, path, "D", 1, MAX_DIM, &md, err)) ||
        (s = meta_int(&f, path, "H", 1, MAX_DIM, &mh, err)) ||
        (s = meta_int(&f, path, "L", 1, GB_LSTM_MAX_LAYERS, &ml, err)) ||
        (s = meta_int(&f, path, "seq", 1, 1 << 24, &info->seq, err)) ||
        (s = meta_int(&f, path, "stride", 1, 1 << 24, &info->stride, err)) ||
        (s = meta_int(&f, path, "batch", 1, 1 << 20, &info->batch, err)) ||
        (s = meta_int(&f, path, "threads", 0, 4096, &info->threads, err)) ||
        (s = meta_int(&f, path, "epochs", 0, 1 << 30, &info->epochs, err)) ||
        (s = meta_u64(&f, path, "seed", 10, &info->seed, err)) ||
        (s = meta_u64(&f, path, "corpus_hash", 16, &info->corpus_hash, err)) ||
        (s = meta_u64(&f, path, "train_windows", 10, &info->train_windows, err)) ||
        (s = meta_u64(&f, path, "valid_windows", 10, &info->valid_windows, err)))
        goto out;
    if (md != D || mh != H || ml != L || mhn != Hn) {
        char mn[32] = "", tn[32] = "";
        if (mhn != Hn) {
            snprintf(mn, sizeof mn, ", NADE hidden %d", mhn);
            snprintf(tn, sizeof tn, ", NADE hidden %d", Hn);
        }
        s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: metadata says D %d, H %d, L %d%s but the "
                    "tensors have D %d, H %d, L %d%s", path, md, mh, ml, mn, D, H, L, tn);
        goto out;
    }
    if (st == 0 && spb == 0) {
        s = bad_meta(err, path, "steps_per_beat", "0", "1..960 when step_ticks is 0");
        goto out;
    }
    info->enc.roll = (gb_roll_opts){.steps_per_beat = st ? 0 : spb, .step_ticks = st,
                                    .strip_silence = strip};
    info->enc.onsets = ons, info->enc.binary = bin, info->enc.drums = drums;
    info->enc.meter = meter;
    if ((v = gb_st_meta(&f, "programs"))) {
        gb_error pe;
        if (gb_ds_filter_parse(&info->enc, v, &pe) != GB_OK) {
            s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: metadata %s", path, pe.msg);
            goto out;
        }
    }
    float *fv[7] = {&info->net.dropout, &info->net.dropout_in, &info->net.dropout_out,
                    &info->ema, &info->lr_decay, &info->weight_decay, &info->lr};
    static const char *const fk[7] = {"dropout", "dropout_in", "dropout_out", "ema", "lr_decay",
                                      "weight_decay", "lr"};
    for (int i = 0; i < 7; i++) { /* probabilities and ema below 1, lr_decay up to 1 */
        dv = *fv[i];
        if ((s = meta_double(&f, path, fk[i], 0, i < 4 ? 0.999999 : i == 4 ? 1 : 1e30, 0, &dv,
                             err)))
            goto out;
        *fv[i] = (float)dv;
    }
    dv = info->stretch;
    if ((s = meta_double(&f, path, "stretch", 0, 0.5, 0, &dv, err))) goto out;
    info->stretch = (float)dv;
    dv = info->clip;
    if ((s = meta_double(&f, path, "clip", -1e30, 1e30, 0, &dv, err))) goto out;
    info->clip = (float)dv;
    if ((s = meta_double(&f, path, "valid_fraction", 0, 1, 0, &info->valid_fraction, err)) ||
        (s = meta_double(&f, path, "train_loss", 0, INFINITY, 1, &info->train_loss, err)) ||
        (s = meta_double(&f, path, "best_valid_loss", 0, INFINITY, 1, &info->best_valid_loss,
                         err)))
        goto out;
    if (((v = gb_st_meta(&f, "corpus")) && !(info->corpus = strdup(v))) ||
        ((v = gb_st_meta(&f, "valid_corpus")) && !(info->valid_corpus = strdup(v)))) {
        s = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
        goto out;
    }
    {
        gb_error ce;
        if (gb_model_info_check(info, &ce) != GB_OK) {
            s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: %s", path, ce.msg);
            goto out;
        }
    }
    if (m) {
        gb_rng r;
        gb_rng_seed(&r, 0);
        c = info->net;
        gb_error le;
        if ((s = gb_lstm_init(m, &c, &r, &le)) != GB_OK) {
            gb_fail(err, s, -1, "%s: %s", path, le.msg);
            goto out;
        }
        /* the tensors in block order are the parameter block, piece by piece */
        float *p = m->params;
        for (size_t i = 0; i < nt; i++) {
            memcpy(p, tt[i]->data, tt[i]->n * sizeof *p);
            p += tt[i]->n;
        }
    }
out:
    gb_st_free(&f);
    if (s != GB_OK) {
        gb_model_info_free(info);
        memset(info, 0, sizeof *info);
        if (m) gb_lstm_free(m);
    }
    return s;
}

gb_status gb_ckpt_load(const char *path, gb_lstm *m, gb_model_info *info, gb_error *err) {
    return load(path, m, info, err);
}

gb_status gb_ckpt_read_info(const char *path, gb_model_info *info, gb_error *err) {
    return load(path, NULL, info, err);
}

/* ------------------------------------------------------------------------------------------ */
/* the optim file */

char *gb_ckpt_optim_path(const char *model_path) {
    size_t n = strlen(model_path);
    const char *ext = ".safetensors";
    size_t e = strlen(ext);
    if (n > e && strcmp(model_path + n - e, ext) == 0) n -= e;
    char *p = malloc(n + 32);
    if (p) snprintf(p, n + 32, "%.*s.optim.safetensors", (int)n, model_path);
    return p;
}

gb_status gb_ckpt_save_optim(const char *path, const gb_lstm *m, const gb_ckpt_progress *pr,
                             gb_error *err) {
    int64_t n = (int64_t)m->n_params;
    gb_st_tensor_in t[4] = {{.name = "params", .data = m->params, .ndim = 1, .shape = {n}},
                            {.name = "exp_avg", .data = m->adam_m, .ndim = 1, .shape = {n}},
                            {.name = "exp_avg_sq", .data = m->adam_v, .ndim = 1, .shape = {n}},
                            {.name = "ema", .data = m->ema, .ndim = 1, .shape = {n}}};
    meta_b *b = calloc(1, sizeof *b);
    if (!b) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    put(b, "format", GB_CKPT_OPTIM_FORMAT);
    putf(b, "D", "%d", m->cfg.D);
    putf(b, "H", "%d", m->cfg.H);
    putf(b, "L", "%d", m->cfg.L);
    putf(b, "step", "%ld", m->adam_t);
    putf(b, "epoch", "%d", pr->epoch);
    putf(b, "best_epoch", "%d", pr->best_epoch);
    putf(b, "best_loss", "%.17g", pr->best_loss);
    putf(b, "bad_epochs", "%d", pr->bad_epochs);
    putf(b, "train_loss", "%.17g", pr->train_loss);
    putf(b, "lr", "%.9g", (double)pr->lr);
    putf(b, "corpus_hash", "%016" PRIx64, pr->corpus_hash);
    if (pr->run_epochs > 0) {
        putf(b, "run_epochs", "%d", pr->run_epochs);
        putf(b, "run_patience", "%d", pr->run_patience);
        putf(b, "run_target_loss", "%.17g", pr->run_target_loss);
        putf(b, "run_max_windows", "%" PRIu64, pr->run_max_windows);
    }
    gb_status s = gb_st_write(path, t, m->ema ? 4 : 3, b->kv, err);
    free(b);
    return s;
}

/* The progress in an optim file's metadata, and the model's D, H, L and Adam's step count. */
static gb_status progress_of(const gb_st_file *f, const char *path, gb_ckpt_progress *pr, int *D,
                             int *H, int *L, uint64_t *step, gb_error *err) {
    memset(pr, 0, sizeof *pr);
    const char *fmt = gb_st_meta(f, "format");
    gb_status s;
    if (!fmt || strcmp(fmt, GB_CKPT_OPTIM_FORMAT) != 0)
        return gb_fail(err, GB_ERR_FORMAT, -1, "%s: not a groovybee optimizer state (format "
                       "'%.40s', want '%s')", path, fmt ? fmt : "", GB_CKPT_OPTIM_FORMAT);
    static const char *const required[] = {"D", "H", "L", "step", "epoch", "best_epoch",
                                           "best_loss", "bad_epochs", "train_loss", "corpus_hash"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!gb_st_meta(f, required[i]))
            return gb_fail(err, GB_ERR_FORMAT, -1, "%s: metadata '%s' is missing", path,
                           required[i]);
    if ((s = meta_int(f, path, "D", 1, MAX_DIM, D, err)) ||
        (s = meta_int(f, path, "H", 1, MAX_DIM, H, err)) ||
        (s = meta_int(f, path, "L", 1, GB_LSTM_MAX_LAYERS, L, err)) ||
        (s = meta_u64(f, path, "step", 10, step, err)) ||
        (s = meta_int(f, path, "epoch", 0, 1 << 30, &pr->epoch, err)) ||
        (s = meta_int(f, path, "best_epoch", 0, 1 << 30, &pr->best_epoch, err)) ||
        (s = meta_int(f, path, "bad_epochs", 0, 1 << 30, &pr->bad_epochs, err)) ||
        (s = meta_double(f, path, "best_loss", 0, INFINITY, 1, &pr->best_loss, err)) ||
        (s = meta_double(f, path, "train_loss", 0, INFINITY, 1, &pr->train_loss, err)) ||
        (s = meta_u64(f, path, "corpus_hash", 16, &pr->corpus_hash, err)) ||
        (s = meta_int(f, path, "run_epochs", 1, 1 << 30, &pr->run_epochs, err)) ||
        (s = meta_int(f, path, "run_patience", -1, 1 << 30, &pr->run_patience, err)) ||
        (s = meta_double(f, path, "run_target_loss", -1, 1e30, 0, &pr->run_target_loss, err)) ||
        (s = meta_u64(f, path, "run_max_windows", 10, &pr->run_max_windows, err)))
        return s;
    double lr = 0; /* the learning rate reached (lr decay); absent: the model's own */
    if ((s = meta_double(f, path, "lr", 0, 1e30, 0, &lr, err))) return s;
    pr->lr = (float)lr;
    if (*step > (uint64_t)LONG_MAX || pr->best_epoch > pr->epoch || pr->bad_epochs > pr->epoch)
        return gb_fail(err, GB_ERR_FORMAT, -1, "%s: inconsistent progress (step %llu, epoch %d, "
                       "best epoch %d, bad epochs %d)", path, (unsigned long long)*step,
                       pr->epoch, pr->best_epoch, pr->bad_epochs);
    return GB_OK;
}

gb_status gb_ckpt_read_progress(const char *path, gb_ckpt_progress *pr, gb_error *err) {
    gb_st_file f;
    gb_status s = read_st(path, &f, err);
    if (s != GB_OK) return s;
    int D = 0, H = 0, L = 0;
    uint64_t step = 0;
    s = progress_of(&f, path, pr, &D, &H, &L, &step, err);
    gb_st_free(&f);
    return s;
}

gb_status gb_ckpt_load_optim(const char *path, gb_lstm *m, gb_ckpt_progress *pr, gb_error *err) {
    memset(pr, 0, sizeof *pr);
    gb_st_file f;
    gb_status s = read_st(path, &f, err);
    if (s != GB_OK) return s;
    int D = 0, H = 0, L = 0;
    uint64_t step = 0;
    if ((s = progress_of(&f, path, pr, &D, &H, &L, &step, err)) != GB_OK) goto out;
    if (D != m->cfg.D || H != m->cfg.H || L != m->cfg.L) {
        s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: optimizer state of a D %d, H %d, L %d model, "
                    "not of this one (D %d, H %d, L %d)", path, D, H, L, m->cfg.D, m->cfg.H,
                    m->cfg.L);
        goto out;
    }
    float *dst[4] = {m->params, m->adam_m, m->adam_v, m->ema};
    static const char *const names[4] = {"params", "exp_avg", "exp_avg_sq", "ema"};
    int nt = m->ema ? 4 : 3; /* the averaged weights when the run keeps them */
    if (f.n != (size_t)nt) {
        s = gb_fail(err, GB_ERR_FORMAT, -1, "%s: %zu tensors, want params, exp_avg, exp_avg_sq%s",
                    path, f.n, m->ema ? ", ema" : "");
        goto out;
    }
    const gb_st_tensor *t[4];
    for (int i = 0; i < nt; i++)
        if (!(t[i] = want_tensor(&f, path, names[i], 1, (int64_t)m->n_params, 0, err))) {
            s = GB_ERR_FORMAT;
            goto out;
        }
    for (int i = 0; i < nt; i++) memcpy(dst[i], t[i]->data, m->n_params * sizeof(float));
    m->adam_t = (long)step;
out:
    gb_st_free(&f);
    return s;
}
