/* lstm.c - the network of lstm.h: parameters and their initialisation, the activations of a
 * batch, dropout masks, and forward/backward in two kernel paths.
 *
 * The reference path walks the report's LSTMCell loop literally: for each step, each layer, one
 * call of the plain-loop cell kernel (kernels.c), then the head; backward walks it in reverse.
 * The fast path runs a layer over all steps before the next, so that everything that does not
 * depend on the recurrence becomes one large sgemm over T*B rows:
 *   forward, per layer:  Z = X W_ih^T (one sgemm), then per step Z_t += h_{t-1} W_hh^T (sgemm)
 *                        and the fused pointwise cell;   head: Y = H_top fc_w^T (one sgemm)
 *   backward, per layer: per step the fused pointwise backward and dh_{t-1} += dZ_t W_hh (sgemm);
 *                        then dW_ih += dZ^T X, dW_hh += dZ[1..]^T H[..T-1], dX = dZ W_ih
 * With token input (lstm.h) layer 0's X W_ih^T is a gather: the rows of W_ih^T (emb, the
 * token columns of W_ih transposed once a forward, from the bf16 copy in bf16 mode) at the
 * tokens, plus one sgemm over the E extra columns; its dW_ih a scatter-add of dZ's rows into
 * emb's (threads over column blocks: no two write one element, and rows are added in order),
 * transposed into W_ih's columns after; the reference path multiplies the one-hot rows.
 * Both paths read and write the same activations, and draw the same dropout masks (all of them,
 * before any compute, each window's from its own key), so they can be compared number for number. */
#include "model/gemm.h"
#include "model/kernels.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct gb_lstm_acts {
    gb_lstm_config cfg;
    int T, B;   /* capacity: the (T, B) the buffers were sized for */
    int fT, fB; /* the last forward's (T, B); 0 before the first */
    int masked[GB_LSTM_MAX_LAYERS + 1]; /* the last forward dropped out the input of layer l
                                           (l = L: the head's) */
    int step_threads; /* gb_fast_step_threads(gx), asked when the products are chosen */
    /* per layer l; buffers below are laid out with the forward's B, rows of a (T, B, .) block
     * are steps, and (T+1, B, H) blocks keep the zero initial state in row 0 (step t's state is
     * row t+1). x_in and mask go up to l = L, the head, whose input is the top layer's h. */
    float *x_in[GB_LSTM_MAX_LAYERS + 1]; /* (T, B, in) layer l's input after its mask */
    float *mask[GB_LSTM_MAX_LAYERS + 1]; /* (T, B, in) 0 or 1/(1-p) on layer l's input */
    float *gates[GB_LSTM_MAX_LAYERS]; /* (T, B, G) i, f, g, o after their nonlinearities */
    float *c[GB_LSTM_MAX_LAYERS];     /* (T+1, B, H) cell states */
    float *tc[GB_LSTM_MAX_LAYERS];    /* (T, B, H) tanh(c_t) */
    float *h[GB_LSTM_MAX_LAYERS];     /* (T+1, B, H) hidden states */
    /* backward scratch */
    float *dz;  /* (T, B, G) dL/dz of one layer (reference: one step, (B, G)) */
    float *dh;  /* (T, B, H) dL/dh of one layer (reference: one step, (B, H)) */
    float *dx;  /* (B, H) reference: gradient to the layer below at one step */
    float *dhr; /* (L, B, H) recurrent dL/dh_{t-1} of each layer (reference) */
    float *dc;  /* (L, B, H) dL/dc_{t-1} of each layer */
    /* token input only (else NULL) */
    float *emb;    /* (V, G) fast: W_ih's token columns transposed (forward), dW_ih's (backward) */
    float *onehot; /* (B, Dw) reference: one step's one-hot input rows */
    float *mem; /* the one allocation all of the above point into */
    gb_gemm_ctx *gx; /* the products' precision and state (fp32 until set; NULL: OpenBLAS) */
    uint16_t *wbf;   /* bf16 mode: the parameters rounded to bf16 by the last forward */
    /* bf16 mode: the products' activation operands rounded once where they are made, so that
     * each is converted once, not once per product that reads it (else NULL) */
    uint16_t *hbf[GB_LSTM_MAX_LAYERS];      /* (T+1, B, H) h, as a->h */
    uint16_t *inbf[GB_LSTM_MAX_LAYERS + 1]; /* (T, B, in) layer l's input when it is not the
                                               layer below's h as it stands (l = 0, masked) */
    uint16_t *dzbf;                         /* (T, B, G) dz */
    uint16_t *bfmem;
};

static int use_ref;
void gb_lstm_use_reference(int on) { use_ref = on != 0; }

/* ------------------------------------------------------------------------------------------ */
/* parameters */

static size_t layer_params(int in, int H) { return (size_t)4 * H * (in + H) + (size_t)8 * H; }

size_t gb_lstm_n_params(const gb_lstm_config *c) {
    size_t dout = (size_t)gb_lstm_dout(c), n = dout * c->H + dout; /* head */
    for (int l = 0; l < c->L; l++) n += layer_params(l ? c->H : gb_lstm_dw(c), c->H);
    if (c->head == GB_HEAD_NADE) n += (size_t)2 * c->D * c->Hn;
    return n;
}

void gb_lstm_views_of(const gb_lstm_config *c, float *block, gb_lstm_views *v) {
    size_t G = (size_t)4 * c->H;
    memset(v, 0, sizeof *v);
    for (int l = 0; l < c->L; l++) {
        size_t in = (size_t)(l ? c->H : gb_lstm_dw(c));
        v->w_ih[l] = block, block += G * in;
        v->w_hh[l] = block, block += G * c->H;
        v->b_ih[l] = block, block += G;
        v->b_hh[l] = block, block += G;
    }
    size_t dout = (size_t)gb_lstm_dout(c);
    v->fc_w = block, block += dout * c->H;
    v->fc_b = block, block += dout;
    if (c->head == GB_HEAD_NADE) {
        v->nade_w = block, block += (size_t)c->D * c->Hn;
        v->nade_v = block;
    }
}

static gb_status check_config(const gb_lstm_config *c, gb_error *err) {
    if (c->D < 1 || c->H < 1 || c->D > (1 << 20) || c->H > (1 << 20))
        return gb_fail(err, GB_ERR_ARG, -1, "lstm: D = %d, H = %d: need 1..2^20", c->D, c->H);
    if (c->L < 1 || c->L > GB_LSTM_MAX_LAYERS)
        return gb_fail(err, GB_ERR_ARG, -1, "lstm: L = %d: need 1..%d", c->L,
                       GB_LSTM_MAX_LAYERS);
    if (c->E < 0 || c->E > (1 << 20))
        return gb_fail(err, GB_ERR_ARG, -1, "lstm: E = %d: need 0..2^20", c->E);
    if (c->V < 0 || c->V > (1 << 20))
        return gb_fail(err, GB_ERR_ARG, -1, "lstm: V = %d: need 0..2^20", c->V);
    float ps[3] = {c->dropout, c->dropout_in, c->dropout_out};
    for (int i = 0; i < 3; i++)
        if (!(ps[i] >= 0.0f && ps[i] < 1.0f))
            return gb_fail(err, GB_ERR_ARG, -1, "lstm: dropout %g: need [0, 1)", (double)ps[i]);
    if (c->head != GB_HEAD_LINEAR && c->head != GB_HEAD_NADE && c->head != GB_HEAD_SOFTMAX)
        return gb_fail(err, GB_ERR_ARG, -1, "lstm: unknown head %d", (int)c->head);
    if (c->head == GB_HEAD_NADE ? c->Hn < 1 || c->Hn > (1 << 16) : c->Hn != 0)
        return gb_fail(err, GB_ERR_ARG, -1, "lstm: Hn = %d: need 1..65536 with a NADE head, 0 "
                       "without", c->Hn);
    return GB_OK;
}

gb_status gb_lstm_init(gb_lstm *m, const gb_lstm_config *c, gb_rng *rng, gb_error *err) {
    memset(m, 0, sizeof *m);
    gb_status s = check_config(c, err);
    if (s != GB_OK) return s;
    if (!rng) return gb_fail(err, GB_ERR_ARG, -1, "lstm: init needs an rng");
    size_t n = gb_lstm_n_params(c);
    float *p = calloc(n, sizeof *p), *g = calloc(n, sizeof *g);
    float *am = calloc(n, sizeof *am), *av = calloc(n, sizeof *av);
    if (!p || !g || !am || !av) {
        free(p), free(g), free(am), free(av);
        return gb_fail(err, GB_ERR_NOMEM, -1, "lstm: out of memory for %zu parameters", n);
    }
    m->cfg = *c;
    m->n_params = n;
    m->params = p, m->grads = g, m->adam_m = am, m->adam_v = av;
    gb_lstm_views_of(c, p, &m->p);
    gb_lstm_views_of(c, g, &m->g);
    /* PyTorch: LSTMCell and Linear(H, Dout) both draw uniform(-1/sqrt(H), 1/sqrt(H)); the NADE's
     * W and V by their own fan-ins, D and Hn */
    size_t nade = c->head == GB_HEAD_NADE ? (size_t)2 * c->D * c->Hn : 0, dh = nade / 2;
    float k = 1.0f / sqrtf((float)c->H);
    for (size_t i = 0; i < n; i++) {
        if (i == n - nade) k = 1.0f / sqrtf((float)c->D);
        if (nade && i == n - dh) k = 1.0f / sqrtf((float)c->Hn);
        p[i] = -k + 2.0f * k * gb_rng_float(rng);
    }
    return GB_OK;
}

void gb_lstm_free(gb_lstm *m) {
    free(m->params), free(m->grads), free(m->adam_m), free(m->adam_v), free(m->ema);
    memset(m, 0, sizeof *m);
}

void gb_lstm_zero_grad(gb_lstm *m) { memset(m->grads, 0, m->n_params * sizeof *m->grads); }

/* ------------------------------------------------------------------------------------------ */
/* activations */

gb_status gb_lstm_acts_new(const gb_lstm_config *c, int T, int B, gb_lstm_acts **out,
                           gb_error *err) {
    *out = NULL;
    gb_status s = check_config(c, err);
    if (s != GB_OK) return s;
    if (T < 1 || B < 1) return gb_fail(err, GB_ERR_ARG, -1, "lstm: T = %d, B = %d", T, B);
    int L = c->L, Din = gb_lstm_din(c);
    /* the floats below, counted in double first: no size_t overflow, and T*B rows fit the int
     * dimensions of cblas */
    double dtbh = (double)T * B * c->H, dbh = (double)B * c->H, dtbx = (double)T * B * Din;
    double dtok = c->V ? (double)c->V * 4 * c->H + (double)B * gb_lstm_dw(c) : 0; /* emb, onehot */
    double est = L * (4 * dtbh + 2 * (dtbh + dbh) + dtbh) + 2 * (L * dtbh + dtbx) + 4 * dtbh +
                 dtbh + dbh + 2.0 * L * dbh + dtok;
    if (est > (double)(SIZE_MAX / sizeof(float)) / 2 || (double)T * B * 4 * c->H > INT_MAX ||
        dtbx > INT_MAX)
        return gb_fail(err, GB_ERR_LIMIT, -1, "lstm: activations for T = %d, B = %d too large",
                       T, B);
    gb_lstm_acts *a = calloc(1, sizeof *a);
    if (!a) return gb_fail(err, GB_ERR_NOMEM, -1, "lstm: out of memory");
    size_t tbh = (size_t)T * B * c->H, tbg = tbh * 4, sbh = (size_t)(T + 1) * B * c->H;
    size_t bh = (size_t)B * c->H, tbx = (size_t)T * B * Din;
    size_t nemb = c->V ? (size_t)c->V * 4 * c->H : 0, n1h = c->V ? (size_t)B * gb_lstm_dw(c) : 0;
    size_t n = (size_t)L * (tbg + 2 * sbh + tbh) + 2 * ((size_t)L * tbh + tbx) /* x_in, mask */
               + tbg + tbh + bh + (size_t)2 * L * bh + nemb + n1h;
    a->mem = calloc(n, sizeof(float));
    if (!a->mem) {
        free(a);
        return gb_fail(err, GB_ERR_NOMEM, -1, "lstm: out of memory for activations (%zu floats)",
                       n);
    }
    float *p = a->mem;
    for (int l = 0; l <= L; l++) {
        size_t in = l ? tbh : tbx;
        a->x_in[l] = p, p += in;
        a->mask[l] = p, p += in;
        if (l == L) break;
        a->gates[l] = p, p += tbg;
        a->c[l] = p, p += sbh;
        a->tc[l] = p, p += tbh;
        a->h[l] = p, p += sbh;
    }
    a->dz = p, p += tbg;
    a->dh = p, p += tbh;
    a->dx = p, p += bh;
    a->dhr = p, p += (size_t)L * bh;
    a->dc = p, p += (size_t)L * bh;
    if (c->V) a->emb = p, p += nemb, a->onehot = p;
    a->cfg = *c;
    a->T = T, a->B = B;
    a->gx = gb_gemm_ctx_new(GB_PREC_FP32); /* NULL (no memory): OpenBLAS, the same numbers */
    a->step_threads = gb_fast_step_threads(a->gx);
    *out = a;
    return GB_OK;
}

gb_status gb_lstm_acts_set_precision(gb_lstm_acts *a, gb_precision p, gb_error *err) {
    const gb_lstm_config *c = &a->cfg;
    int bf = p == GB_PREC_BF16, L = c->L;
    size_t tb = (size_t)a->T * a->B, H = (size_t)c->H;
    size_t nact = (size_t)L * (tb + a->B) * H + tb * 4 * H + tb * gb_lstm_din(c) + L * tb * H;
    gb_gemm_ctx *x = gb_gemm_ctx_new(p);
    uint16_t *w = bf ? malloc(gb_lstm_n_params(c) * sizeof *w) : NULL;
    uint16_t *act = bf ? malloc(nact * sizeof *act) : NULL;
    if (!x || (bf && (!w || !act))) {
        gb_gemm_ctx_free(x), free(w), free(act);
        return gb_fail(err, GB_ERR_NOMEM, -1, "lstm: out of memory for the %s products",
                       bf ? "bf16" : "fp32");
    }
    gb_gemm_ctx_free(a->gx), free(a->wbf), free(a->bfmem);
    a->gx = x, a->wbf = w, a->bfmem = act;
    memset(a->hbf, 0, sizeof a->hbf), memset(a->inbf, 0, sizeof a->inbf), a->dzbf = NULL;
    for (int l = 0; act && l <= L; l++) {
        a->inbf[l] = act, act += tb * (l ? H : (size_t)gb_lstm_din(c));
        if (l == L) break;
        a->hbf[l] = act, act += (tb + a->B) * H;
    }
    a->dzbf = act;
    a->step_threads = gb_fast_step_threads(x);
    return GB_OK;
}

void gb_lstm_acts_free(gb_lstm_acts *a) {
    if (!a) return;
    gb_gemm_ctx_free(a->gx), free(a->wbf), free(a->bfmem);
    free(a->mem);
    free(a);
}

int gb_lstm_acts_step_threads(const gb_lstm_acts *a) { return a->step_threads; }

const float *gb_lstm_acts_mask(const gb_lstm_acts *a, int l) {
    return l >= 0 && l <= a->cfg.L && a->masked[l] ? a->mask[l] : NULL;
}

/* Layer l's input (T, B, in) for the current forward (l = L: the head's): after its mask
 * (x_in), or else the window, or layer l-1's h itself (rows 1..T of its (T+1, B, H) block). */
static const float *layer_input(const gb_lstm_acts *a, const float *x, int l) {
    if (a->masked[l]) return a->x_in[l];
    return l == 0 ? x : a->h[l - 1] + (size_t)a->fB * a->cfg.H;
}

/* x_in of layer l for steps [t0, t0 + nt): its unmasked input times its mask. */
static void apply_mask(gb_lstm_acts *a, const float *x, int l, int t0, int nt) {
    size_t row = (size_t)a->fB * (l ? a->cfg.H : gb_lstm_din(&a->cfg));
    const float *src = l == 0 ? x : a->h[l - 1] + (size_t)a->fB * a->cfg.H;
    src += t0 * row;
    float *dst = a->x_in[l] + t0 * row;
    const float *mk = a->mask[l] + t0 * row;
    for (size_t k = 0; k < nt * row; k++) dst[k] = src[k] * mk[k];
}

/* Operands of the products: a weight matrix of m (with its bf16 copy in bf16 mode), or an
 * activation block. */
static gb_mat weight(const gb_lstm *m, const gb_lstm_acts *a, const float *w, int ld, int trans) {
    return (gb_mat){w, a->wbf ? a->wbf + (w - m->params) : NULL, ld, trans};
}
static gb_mat act(const float *f, int ld, int trans) { return (gb_mat){f, NULL, ld, trans}; }
/* an activation block with its bf16 copy at the same offset of bf (NULL in fp32) */
static gb_mat act_bf(const float *f, const uint16_t *bf, size_t off, int ld, int trans) {
    return (gb_mat){f + off, bf ? bf + off : NULL, ld, trans};
}
/* Layer l's input (layer_input) as an operand: in bf16 with its copy, which for an unmasked
 * layer above the first is the layer below's h copy (rows 1..T). */
static gb_mat input_mat(const gb_lstm_acts *a, const float *x, int l) {
    int in = l ? a->cfg.H : gb_lstm_din(&a->cfg);
    const uint16_t *bf = !a->wbf ? NULL
                         : l > 0 && !a->masked[l] ? a->hbf[l - 1] + (size_t)a->fB * a->cfg.H
                                                  : a->inbf[l];
    return (gb_mat){layer_input(a, x, l), bf, in, 0};
}
/* In bf16, rounds layer l's input into its copy when it has one of its own (input_mat). */
static void round_input(gb_lstm_acts *a, const float *x, int l) {
    if (a->wbf && (l == 0 || a->masked[l]))
        gb_bf16_round((size_t)a->fT * a->fB * (l ? a->cfg.H : gb_lstm_din(&a->cfg)),
                      layer_input(a, x, l), a->inbf[l]);
}

/* With token input: layer 0's E extra features (T*B, E), after the row's id, as an operand. */
static gb_mat input_cols(const gb_lstm_acts *a, const float *x) {
    return act_bf(layer_input(a, x, 0), a->wbf ? a->inbf[0] : NULL, 1, gb_lstm_din(&a->cfg), 0);
}

static int same_config(const gb_lstm_config *p, const gb_lstm_config *q) {
    return p->D == q->D && p->H == q->H && p->L == q->L && p->E == q->E && p->V == q->V &&
           gb_lstm_dout(p) == gb_lstm_dout(q);
}

/* ---- token input (lstm.h): the one-hot product as a gather and a scatter-add ---- */

/* Row r's token and its dropout scale: the id from x (it is never masked; its mask entry is
 * the scale), -1 when it is not in 0..V-1. */
static int token_of(const gb_lstm_acts *a, const float *x, size_t r, float *scale) {
    size_t at = r * (size_t)gb_lstm_din(&a->cfg);
    float v = x[at];
    *scale = a->masked[0] ? a->mask[0][at] : 1.0f;
    return v >= 0.0f && v < (float)a->cfg.V ? (int)v : -1;
}

/* bf16 mode rounds what the one-hot product would round: the scale (the one-hot input's one
 * non-zero value) */
static float rounded(const gb_lstm_acts *a, float v) {
    if (!a->wbf) return v;
    uint16_t b;
    gb_bf16_round(1, &v, &b);
    return gb_bf16_to_f32(b);
}

/* The reference's one-hot input rows (B, Dw) of step t: the scale at the token, then the extras
 * after their mask; a row of NaN for a token out of range. */
static void onehot_rows(gb_lstm_acts *a, const float *x, int t) {
    const gb_lstm_config *c = &a->cfg;
    int B = a->fB, Din = gb_lstm_din(c), Dw = gb_lstm_dw(c);
    const float *in = (a->masked[0] ? a->x_in[0] : x) + (size_t)t * B * Din;
    for (int b = 0; b < B; b++) {
        float *row = a->onehot + (size_t)b * Dw, s;
        int k = token_of(a, x, (size_t)t * B + b, &s);
        for (int j = 0; j < Dw; j++) row[j] = k < 0 ? NAN : 0.0f;
        if (k < 0) continue;
        row[k] = s;
        for (int e = 0; e < c->E; e++) row[c->V + e] = in[(size_t)b * Din + 1 + e];
    }
}

enum { TOK_BLOCK = 64 }; /* gate columns per task of the gather and the scatter */

/* emb (V, G) = W_ih's first V columns, transposed: in bf16 mode from the rounded copy. */
static void emb_build(const gb_lstm *m, gb_lstm_acts *a) {
    int V = m->cfg.V, G = 4 * m->cfg.H, Dw = gb_lstm_dw(&m->cfg);
    const float *w = m->p.w_ih[0];
    const uint16_t *wb = a->wbf ? a->wbf + (w - m->params) : NULL;
#pragma omp parallel for schedule(static) if (a->step_threads && (long)V * G >= 65536)
    for (int g0 = 0; g0 < G; g0 += TOK_BLOCK) {
        int g1 = g0 + TOK_BLOCK < G ? g0 + TOK_BLOCK : G;
        for (int v = 0; v < V; v++)
            for (int g = g0; g < g1; g++) {
                size_t at = (size_t)g * Dw + v;
                a->emb[(size_t)v * G + g] = wb ? gb_bf16_to_f32(wb[at]) : w[at];
            }
    }
}

/* Z (T*B, G) = scale * emb[token] per row (NaN for a token out of range). */
static void token_gather(gb_lstm_acts *a, const float *x, int TB, float *Z) {
    int G = 4 * a->cfg.H;
#pragma omp parallel for schedule(static) if (a->step_threads && (long)TB * G >= 65536)
    for (int r = 0; r < TB; r++) {
        float s;
        int k = token_of(a, x, (size_t)r, &s);
        float *z = Z + (size_t)r * G;
        const float *e = a->emb + (size_t)(k < 0 ? 0 : k) * G;
        s = rounded(a, s);
        if (k < 0)
            for (int g = 0; g < G; g++) z[g] = NAN;
        else if (s == 1.0f)
            memcpy(z, e, (size_t)G * sizeof *z);
        else
            for (int g = 0; g < G; g++) z[g] = s * e[g];
    }
}

/* dW_ih's token columns += sum over rows of scale * dZ[r] at the row's token (in bf16 mode the
 * rounded dz and scale, as the one-hot product's operands): emb as the (V, G) accumulator, each
 * thread a block of gate columns over every row in order, then added into W_ih's layout. */
static void token_scatter(gb_lstm *m, gb_lstm_acts *a, const float *x, int TB, const float *dZ) {
    int V = m->cfg.V, G = 4 * m->cfg.H, Dw = gb_lstm_dw(&m->cfg);
    float *dw = m->g.w_ih[0];
    memset(a->emb, 0, (size_t)V * G * sizeof *a->emb);
#pragma omp parallel for schedule(static) if (a->step_threads && (long)TB * G >= 65536)
    for (int g0 = 0; g0 < G; g0 += TOK_BLOCK) {
        int g1 = g0 + TOK_BLOCK < G ? g0 + TOK_BLOCK : G;
        for (int r = 0; r < TB; r++) {
            float s;
            int k = token_of(a, x, (size_t)r, &s);
            if (k < 0) continue;
            s = rounded(a, s);
            float *e = a->emb + (size_t)k * G;
            size_t at = (size_t)r * G;
            if (a->wbf)
                for (int g = g0; g < g1; g++) e[g] += s * gb_bf16_to_f32(a->dzbf[at + g]);
            else
                for (int g = g0; g < g1; g++) e[g] += s * dZ[at + g];
        }
        for (int v = 0; v < V; v++)
            for (int g = g0; g < g1; g++) dw[(size_t)g * Dw + v] += a->emb[(size_t)v * G + g];
    }
}

/* ------------------------------------------------------------------------------------------ */
/* forward */

static void forward_ref(const gb_lstm *m, gb_lstm_acts *a, const float *x, int T, int B,
                        float *y) {
    int Din = gb_lstm_din(&m->cfg), Dout = gb_lstm_dout(&m->cfg), H = m->cfg.H, L = m->cfg.L;
    int tok = m->cfg.V > 0;
    size_t bh = (size_t)B * H, bg = 4 * bh;
    for (int t = 0; t < T; t++) {
        for (int l = 0; l <= L; l++) {
            int in = l ? H : Din;
            if (a->masked[l]) apply_mask(a, x, l, t, 1);
            const float *xt = layer_input(a, x, l) + (size_t)t * B * in;
            if (l == 0 && tok) { /* the one-hot rows, multiplied as they are */
                onehot_rows(a, x, t);
                xt = a->onehot, in = gb_lstm_dw(&m->cfg);
            }
            if (l == L) {
                gb_ref_head_forward(B, H, Dout, xt, m->p.fc_w, m->p.fc_b, y + (size_t)t * B * Dout);
                break;
            }
            gb_ref_cell_forward(B, in, H, xt, a->h[l] + t * bh, a->c[l] + t * bh, m->p.w_ih[l],
                                m->p.w_hh[l], m->p.b_ih[l], m->p.b_hh[l], a->gates[l] + t * bg,
                                a->c[l] + (t + 1) * bh, a->tc[l] + t * bh,
                                a->h[l] + (t + 1) * bh);
        }
    }
}

static void forward_fast(const gb_lstm *m, gb_lstm_acts *a, const float *x, int T, int B,
                         float *y) {
    int Din = gb_lstm_din(&m->cfg), Dout = gb_lstm_dout(&m->cfg);
    int H = m->cfg.H, L = m->cfg.L, G = 4 * H, TB = T * B;
    size_t bh = (size_t)B * H, bg = 4 * bh;
    for (int l = 0; l < L; l++) {
        int in = l ? H : Din;
        if (a->masked[l]) apply_mask(a, x, l, 0, T);
        round_input(a, x, l);
        float *Z = a->gates[l]; /* (T*B, G), activated in place step by step */
        if (l == 0 && m->cfg.V) { /* token input: Z = emb[token] + X[:, 1..] W_ih[:, V..]^T */
            int V = m->cfg.V, E = m->cfg.E;
            emb_build(m, a);
            token_gather(a, x, TB, Z);
            if (E)
                gb_gemm(a->gx, TB, G, E, input_cols(a, x), weight(m, a, m->p.w_ih[0] + V, V + E, 1),
                        1.0f, Z, G);
        } else {
            gb_gemm(a->gx, TB, G, in, input_mat(a, x, l), weight(m, a, m->p.w_ih[l], in, 1), 0.0f,
                    Z, G);
        }
        for (int t = 0; t < T; t++) {
            if (t > 0) /* Z_t (B, G) += h_{t-1} (B, H) W_hh^T; h_{-1} = 0 */
                gb_gemm(a->gx, B, G, H, act_bf(a->h[l], a->hbf[l], t * bh, H, 0),
                        weight(m, a, m->p.w_hh[l], H, 1), 1.0f, Z + t * bg, G);
            gb_fast_cell_pointwise(B, H, Z + t * bg, m->p.b_ih[l], m->p.b_hh[l],
                                   a->c[l] + t * bh, a->c[l] + (t + 1) * bh, a->tc[l] + t * bh,
                                   a->h[l] + (t + 1) * bh, a->step_threads);
            if (a->wbf) gb_bf16_round(bh, a->h[l] + (t + 1) * bh, a->hbf[l] + (t + 1) * bh);
        }
    }
    /* head: Y (T*B, Dout) = b_fc + H_top (T*B, H) fc_w^T */
    if (a->masked[L]) apply_mask(a, x, L, 0, T);
    round_input(a, x, L);
    for (int r = 0; r < TB; r++) memcpy(y + (size_t)r * Dout, m->p.fc_b, (size_t)Dout * sizeof *y);
    gb_gemm(a->gx, TB, Dout, H, input_mat(a, x, L), weight(m, a, m->p.fc_w, H, 1), 1.0f, y,
            Dout);
}

void gb_lstm_forward(const gb_lstm *m, gb_lstm_acts *a, const float *x, int T, int B,
                     float *y, const uint64_t *drop_keys) {
    const gb_lstm_config *c = &m->cfg;
    a->fT = a->fB = 0;
    if (T < 1 || B < 1 || T > a->T || B > a->B || !same_config(c, &a->cfg)) {
        /* outside the contract (acts sized for a smaller batch, or another model): no error
         * channel here, so the outputs become NaN and the loss carries that to the caller */
        if (T > 0 && B > 0)
            for (size_t i = 0; i < (size_t)T * B * gb_lstm_dout(c); i++) y[i] = NAN;
        return;
    }
    a->fT = T, a->fB = B;
    size_t bh = (size_t)B * c->H;
    for (int l = 0; l < c->L; l++) { /* zero initial states */
        memset(a->c[l], 0, bh * sizeof(float));
        memset(a->h[l], 0, bh * sizeof(float));
    }
    /* dropout masks, all drawn up front so that both paths see the same ones: window b's from
     * an rng of its own seeded with drop_keys[b] (the input of layer 0, 1, ..., L-1, then the
     * head's; each step, unit), whatever the batch it is in and its place there */
    for (int l = 0; l <= c->L; l++) {
        float p = l == 0 ? c->dropout_in : l == c->L ? c->dropout_out : c->dropout;
        a->masked[l] = drop_keys && p > 0.0f;
    }
    for (int b = 0; drop_keys && b < B; b++) {
        gb_rng r;
        gb_rng_seed(&r, drop_keys[b]);
        for (int l = 0; l <= c->L; l++) {
            if (!a->masked[l]) continue;
            float p = l == 0 ? c->dropout_in : l == c->L ? c->dropout_out : c->dropout;
            float keep = 1.0f / (1.0f - p);
            size_t n = (size_t)(l ? c->H : gb_lstm_din(c));
            for (int t = 0; t < T; t++) {
                float *mk = a->mask[l] + ((size_t)t * B + b) * n;
                for (size_t k = 0; k < n; k++) mk[k] = gb_rng_float(&r) < p ? 0.0f : keep;
            }
        }
    }
    if (a->wbf) gb_bf16_round(m->n_params, m->params, a->wbf); /* backward reads them too */
    if (use_ref)
        forward_ref(m, a, x, T, B, y);
    else
        forward_fast(m, a, x, T, B, y);
}

/* ------------------------------------------------------------------------------------------ */
/* backward */

static void backward_ref(gb_lstm *m, gb_lstm_acts *a, const float *x, const float *dy, int T,
                         int B) {
    int Din = gb_lstm_din(&m->cfg), Dout = gb_lstm_dout(&m->cfg), H = m->cfg.H, L = m->cfg.L;
    size_t bh = (size_t)B * H, bg = 4 * bh;
    memset(a->dhr, 0, L * bh * sizeof(float));
    memset(a->dc, 0, L * bh * sizeof(float));
    float *dabove = a->dh; /* (B, H) the gradient reaching h^l_t from above */
    for (int t = T - 1; t >= 0; t--) {
        gb_ref_head_backward(B, H, Dout, layer_input(a, x, L) + t * bh, m->p.fc_w,
                             dy + (size_t)t * B * Dout, m->g.fc_w, m->g.fc_b, dabove);
        if (a->masked[L]) /* through the head's dropout mask */
            for (size_t k = 0; k < bh; k++) dabove[k] *= a->mask[L][t * bh + k];
        for (int l = L - 1; l >= 0; l--) {
            int in = l ? H : Din;
            float *dhr = a->dhr + l * bh; /* in: from step t+1; out: to step t-1 */
            for (size_t k = 0; k < bh; k++) dabove[k] += dhr[k];
            const float *xt = layer_input(a, x, l) + (size_t)t * B * in;
            if (l == 0 && m->cfg.V) { /* the one-hot rows, as forward multiplied them */
                onehot_rows(a, x, t);
                xt = a->onehot, in = gb_lstm_dw(&m->cfg);
            }
            gb_ref_cell_backward(B, in, H, xt, a->h[l] + t * bh, a->c[l] + t * bh,
                                 m->p.w_ih[l], m->p.w_hh[l], a->gates[l] + t * bg,
                                 a->tc[l] + t * bh, dabove, a->dc + l * bh, a->dz, m->g.w_ih[l],
                                 m->g.w_hh[l], m->g.b_ih[l], m->g.b_hh[l], l ? a->dx : NULL,
                                 dhr);
            if (l > 0) { /* through layer l's input mask */
                const float *mk = a->masked[l] ? a->mask[l] + t * bh : NULL;
                for (size_t k = 0; k < bh; k++) dabove[k] = mk ? a->dx[k] * mk[k] : a->dx[k];
            }
        }
    }
}

/* a[j] += sum over rows of mat (rows, cols), and b[j] too: the bias gradients. Between sgemm
 * calls, so threads only as gb_fast_step_threads(gx) allows. */
static void colsum_add(int rows, int cols, const float *mat, float *a, float *b, int threads) {
    enum { W = 64 };
#pragma omp parallel for schedule(static) if (threads && (long)rows * cols >= 65536)
    for (int j0 = 0; j0 < cols; j0 += W) {
        int w = cols - j0 < W ? cols - j0 : W;
        float s[W] = {0};
        for (int r = 0; r < rows; r++) {
            const float *row = mat + (size_t)r * cols + j0;
            for (int j = 0; j < w; j++) s[j] += row[j];
        }
        for (int j = 0; j < w; j++) {
            a[j0 + j] += s[j];
            if (b) b[j0 + j] += s[j];
        }
    }
}

static void backward_fast(gb_lstm *m, gb_lstm_acts *a, const float *x, const float *dy, int T,
                          int B) {
    int Din = gb_lstm_din(&m->cfg), Dout = gb_lstm_dout(&m->cfg);
    int H = m->cfg.H, L = m->cfg.L, G = 4 * H, TB = T * B;
    size_t bh = (size_t)B * H, bg = 4 * bh;
    float *dh = a->dh; /* (T*B, H) */
    float *dZ = a->dz; /* (T*B, G) */
    /* head: dfc_w (Dout, H) += dy^T Htop, dfc_b += colsum dy, dh = (dy fc_w) * mask */
    gb_gemm(a->gx, Dout, H, TB, act(dy, Dout, 1), input_mat(a, x, L), 1.0f, m->g.fc_w, H);
    colsum_add(TB, Dout, dy, m->g.fc_b, NULL, a->step_threads);
    gb_gemm(a->gx, TB, H, Dout, act(dy, Dout, 0), weight(m, a, m->p.fc_w, H, 0), 0.0f, dh, H);
    if (a->masked[L])
        for (size_t k = 0; k < (size_t)TB * H; k++) dh[k] *= a->mask[L][k];
    for (int l = L - 1; l >= 0; l--) {
        int in = l ? H : Din;
        float *dc = a->dc; /* (B, H) */
        memset(dc, 0, bh * sizeof(float));
        for (int t = T - 1; t >= 0; t--) {
            gb_fast_cell_pointwise_backward(B, H, a->gates[l] + t * bg, a->c[l] + t * bh,
                                            a->tc[l] + t * bh, dh + t * bh, dc, dZ + t * bg,
                                            a->step_threads);
            if (a->wbf) gb_bf16_round(bg, dZ + t * bg, a->dzbf + t * bg);
            if (t > 0) /* dh_{t-1} (B, H) += dZ_t (B, G) W_hh (G, H) */
                gb_gemm(a->gx, B, H, G, act_bf(dZ, a->dzbf, t * bg, G, 0),
                        weight(m, a, m->p.w_hh[l], H, 0), 1.0f, dh + (t - 1) * bh, H);
        }
        /* dW_ih (G, in) += dZ^T X;  dW_hh (G, H) += dZ[1..T-1]^T h[0..T-2] (h_{-1} = 0) */
        if (l == 0 && m->cfg.V) { /* token input: scatter-add, and the E extra columns */
            int V = m->cfg.V, E = m->cfg.E;
            token_scatter(m, a, x, TB, dZ);
            if (E)
                gb_gemm(a->gx, G, E, TB, act_bf(dZ, a->dzbf, 0, G, 1), input_cols(a, x), 1.0f,
                        m->g.w_ih[0] + V, V + E);
        } else {
            gb_gemm(a->gx, G, in, TB, act_bf(dZ, a->dzbf, 0, G, 1), input_mat(a, x, l), 1.0f,
                    m->g.w_ih[l], in);
        }
        if (T > 1)
            gb_gemm(a->gx, G, H, (T - 1) * B, act_bf(dZ, a->dzbf, bg, G, 1),
                    act_bf(a->h[l], a->hbf[l], bh, H, 0), 1.0f, m->g.w_hh[l], H);
        colsum_add(TB, G, dZ, m->g.b_ih[l], m->g.b_hh[l], a->step_threads);
        if (l > 0) { /* dh of layer l-1 (T*B, H) = (dZ W_ih) * layer l's input mask */
            gb_gemm(a->gx, TB, H, G, act_bf(dZ, a->dzbf, 0, G, 0),
                    weight(m, a, m->p.w_ih[l], H, 0), 0.0f, dh, H);
            if (a->masked[l]) {
                const float *mk = a->mask[l];
                for (size_t k = 0; k < (size_t)TB * H; k++) dh[k] *= mk[k];
            }
        }
    }
}

void gb_lstm_backward(gb_lstm *m, gb_lstm_acts *a, const float *x, const float *dy, int T,
                      int B) {
    if (T != a->fT || B != a->fB || !same_config(&m->cfg, &a->cfg)) return; /* no such forward */
    if (use_ref)
        backward_ref(m, a, x, dy, T, B);
    else
        backward_fast(m, a, x, dy, T, B);
}
