/* stream.c - the state-carrying evaluation forward of stream.h. It mirrors forward_fast in
 * lstm.c (layer by layer over the chunk) but keeps only what evaluation needs: one layer's
 * outputs at a time, and the states at the chunk's end. */
#include "model/stream.h"

#include <immintrin.h>
#include <limits.h>
#include <omp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/gemm.h"
#include "model/kernels.h"

struct gb_lstm_stream {
    gb_lstm_config cfg;
    int B, T_max, step_threads;
    float *h[GB_LSTM_MAX_LAYERS]; /* (B, H) carried hidden state of each layer */
    float *c[GB_LSTM_MAX_LAYERS]; /* (B, H) carried cell state */
    float *z;                     /* (T_max, B, G) gate pre-activations of one layer */
    float *out[2];                /* (T_max, B, H) a layer's h over the chunk, ping-pong */
    float *c2;                    /* (B, H) the next cell state */
    float *tc;                    /* (B, H) tanh(c), unused but the kernel writes it */
    float *mem;
    /* precision (gb_lstm_stream_set_precision; fp32 when never set) */
    gb_gemm_ctx *gx;    /* the chunk path's products (NULL, out of memory: fp32 by OpenBLAS) */
    uint16_t *wbf;      /* bf16: the parameter block of wsrc's model rounded to bf16, else NULL */
    const float *wsrc;  /* the block wbf was rounded from (that model's m->params) */
    uint16_t *vbf;      /* bf16: (2 max(Din, H)) the one-step path's input vectors in bf16 */
};

gb_status gb_lstm_stream_new(const gb_lstm_config *c, int B, int T_max, gb_lstm_stream **out,
                             gb_error *err) {
    *out = NULL;
    if (c->D < 1 || c->H < 1 || c->L < 1 || c->L > GB_LSTM_MAX_LAYERS || B < 1 || T_max < 1)
        return gb_fail(err, GB_ERR_ARG, -1, "stream: D %d, H %d, L %d, B %d, T %d", c->D, c->H,
                       c->L, B, T_max);
    double tbg = (double)T_max * B * 4 * c->H;
    if (tbg > INT_MAX || (double)T_max * B * (gb_lstm_din(c) + gb_lstm_dout(c)) > INT_MAX)
        return gb_fail(err, GB_ERR_LIMIT, -1, "stream: chunks of %d x %d too large", T_max, B);
    size_t bh = (size_t)B * c->H, tbh = (size_t)T_max * bh;
    size_t n = (size_t)2 * c->L * bh + (size_t)tbg + 2 * tbh + 2 * bh;
    gb_lstm_stream *s = calloc(1, sizeof *s);
    float *mem = s ? calloc(n, sizeof *mem) : NULL;
    if (!mem) {
        free(s);
        return gb_fail(err, GB_ERR_NOMEM, -1, "stream: out of memory (%zu floats)", n);
    }
    float *p = mem;
    for (int l = 0; l < c->L; l++) s->h[l] = p, p += bh, s->c[l] = p, p += bh;
    s->z = p, p += (size_t)tbg;
    s->out[0] = p, p += tbh;
    s->out[1] = p, p += tbh;
    s->c2 = p, p += bh;
    s->tc = p;
    s->mem = mem;
    s->cfg = *c;
    s->B = B, s->T_max = T_max;
    s->gx = gb_gemm_ctx_new(GB_PREC_FP32); /* fp32 as gb_lstm_forward's; NULL: OpenBLAS */
    s->step_threads = gb_fast_step_threads(s->gx);
    *out = s;
    return GB_OK;
}

void gb_lstm_stream_free(gb_lstm_stream *s) {
    if (!s) return;
    gb_gemm_ctx_free(s->gx), free(s->wbf), free(s->vbf);
    free(s->mem);
    free(s);
}

void gb_lstm_stream_reset(gb_lstm_stream *s) {
    size_t bh = (size_t)s->B * s->cfg.H;
    for (int l = 0; l < s->cfg.L; l++) {
        memset(s->h[l], 0, bh * sizeof(float));
        memset(s->c[l], 0, bh * sizeof(float));
    }
}

const float *gb_lstm_stream_h(const gb_lstm_stream *s, int l) {
    return l >= 0 && l < s->cfg.L ? s->h[l] : NULL;
}

/* m has the shapes s was made for */
static int fits(const gb_lstm_stream *s, const gb_lstm *m) {
    const gb_lstm_config *c = &m->cfg;
    return gb_lstm_din(c) == gb_lstm_din(&s->cfg) && gb_lstm_dout(c) == gb_lstm_dout(&s->cfg) &&
           c->H == s->cfg.H && c->L == s->cfg.L && c->V == s->cfg.V && c->E == s->cfg.E;
}

gb_status gb_lstm_stream_set_precision(gb_lstm_stream *s, const gb_lstm *m, gb_precision p,
                                       gb_error *err) {
    int bf = p == GB_PREC_BF16, Din = gb_lstm_din(&s->cfg), H = s->cfg.H;
    if (!fits(s, m))
        return gb_fail(err, GB_ERR_ARG, -1, "stream: a model of other shapes (Din %d, Dout %d, "
                       "H %d, L %d) than the stream's (%d, %d, %d, %d)", gb_lstm_din(&m->cfg),
                       gb_lstm_dout(&m->cfg), m->cfg.H, m->cfg.L, Din, gb_lstm_dout(&s->cfg), H,
                       s->cfg.L);
    gb_gemm_ctx *x = gb_gemm_ctx_new(p);
    uint16_t *w = bf ? malloc(m->n_params * sizeof *w) : NULL;
    uint16_t *vbf = bf ? malloc((size_t)2 * (Din > H ? Din : H) * sizeof *vbf) : NULL;
    if (!x || (bf && (!w || !vbf))) {
        gb_gemm_ctx_free(x), free(w), free(vbf);
        return gb_fail(err, GB_ERR_NOMEM, -1, "stream: out of memory for the %s products",
                       bf ? "bf16" : "fp32");
    }
    if (w) gb_bf16_round(m->n_params, m->params, w);
    gb_gemm_ctx_free(s->gx), free(s->wbf), free(s->vbf);
    s->gx = x, s->wbf = w, s->vbf = vbf, s->wsrc = w ? m->params : NULL;
    s->step_threads = gb_fast_step_threads(x);
    return GB_OK;
}

gb_precision gb_lstm_stream_precision(const gb_lstm_stream *s) {
    return s->wbf ? GB_PREC_BF16 : GB_PREC_FP32;
}

/* out[g] += w_g . x for the four rows w_g = w + g * stride (a unit's i, f, g, o gate rows): x is
 * read once for four independent sums. Cloned for AVX2 (x86-64-v3), dispatched at load time,
 * with the baseline build kept for older CPUs. */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
dot4(const float *w, size_t stride, const float *x, int n, float out[4]) {
    const float *w0 = w, *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int i = 0; i < n; i++) {
        float xi = x[i];
        s0 += w0[i] * xi, s1 += w1[i] * xi, s2 += w2[i] * xi, s3 += w3[i] * xi;
    }
    out[0] += s0, out[1] += s1, out[2] += s2, out[3] += s3;
}

/* a token id of x (lstm.h), -1 when not in 0..V-1 */
static inline int token_id(float v, int V) { return v >= 0.0f && v < (float)V ? (int)v : -1; }

static inline float bf16_f32(uint16_t b) {
    float f;
    uint32_t u = (uint32_t)b << 16;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* dot4 in bf16: weights and x both bf16, products summed in fp32, as oneDNN's bf16 products do
 * in the chunk path: half the bytes of dot4 to stream. With AVX512-BF16 (every CPU that runs
 * bf16 natively, AMX ones included), vdpbf16ps multiplies 32 pairs an instruction, summing
 * pairs in fp32; elsewhere (the library asked for bf16 on another CPU) a plain loop widens
 * both operands. */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
dot4_dpbf16(const uint16_t *w, size_t stride, const uint16_t *x, int n, float out[4]) {
    __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh xv = (__m512bh)_mm512_loadu_si512(x + i);
        for (int g = 0; g < 4; g++)
            a[g] = _mm512_dpbf16_ps(a[g], (__m512bh)_mm512_loadu_si512(w + g * stride + i), xv);
    }
    if (i < n) { /* the tail, masked */
        __mmask32 k = (1u << (n - i)) - 1u;
        __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(k, x + i);
        for (int g = 0; g < 4; g++)
            a[g] = _mm512_dpbf16_ps(a[g], (__m512bh)_mm512_maskz_loadu_epi16(k, w + g * stride + i),
                                    xv);
    }
    for (int g = 0; g < 4; g++) out[g] += _mm512_reduce_add_ps(a[g]);
}

static void dot4_bf16(const uint16_t *w, size_t stride, const uint16_t *x, int n, float out[4]) {
    if (__builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw")) {
        dot4_dpbf16(w, stride, x, n, out);
        return;
    }
    for (int g = 0; g < 4; g++) {
        float sum = 0;
        for (int i = 0; i < n; i++) sum += bf16_f32(w[g * stride + i]) * bf16_f32(x[i]);
        out[g] += sum;
    }
}

/* The one-step path's operands, so that the step is written once for both precisions. A weight
 * matrix of m: its fp32 rows, or in bf16 mode the same rows of the bf16 copy. An input vector
 * x (n): in bf16 mode also rounded to bf16 (b, scratch of the stream), which dot4_bf16 reads. */
typedef struct {
    const float *f;
    const uint16_t *b;
} wrows;

typedef struct {
    const float *x;
    uint16_t *b; /* NULL in fp32 */
    int n;
} vin;

static wrows wrows_of(const gb_lstm_stream *s, const gb_lstm *m, const float *w) {
    return (wrows){w, s->wbf ? s->wbf + (w - m->params) : NULL};
}

/* v becomes x (n), rounded to bf16 when it has a copy */
static void vin_set(vin *v, const float *x, int n) {
    v->x = x, v->n = n;
    if (v->b) gb_bf16_round((size_t)n, x, v->b);
}

/* out[g] += row (r + g * stride) of w . v, g = 0..3 */
static void dot4w(wrows w, size_t r, size_t stride, const vin *v, float out[4]) {
    if (w.b) dot4_bf16(w.b + r, stride, v->b, v->n, out);
    else dot4(w.f + r, stride, v->x, v->n, out);
}

/* One step of one sequence, as generation runs (T = B = 1). Each layer is then a
 * matrix-vector product, bound by reading the weights (14 MB for the report's model in fp32,
 * 7 MB in bf16, from L3), not by arithmetic; sgemm on one row also pays for packing them. Here
 * each thread takes a block of hidden units, reads their four gate rows of W_ih and W_hh once
 * and finishes their cells in one vector loop (gb_fast_cell_units): one pass over the weights,
 * and per layer one barrier before the new state is copied for the next layer. */
static void step_one(const gb_lstm *m, gb_lstm_stream *s, const float *x, float *y) {
    int Din = gb_lstm_din(&m->cfg), Dout = gb_lstm_dout(&m->cfg), H = m->cfg.H, L = m->cfg.L;
    int Dw = gb_lstm_dw(&m->cfg), V = m->cfg.V, bf = s->wbf != NULL;
    float *hn = s->out[0], *cn = s->c2, *zs = s->z;
    /* the layer's input (then the head's), and its recurrent state; with token input layer 0's
     * vector is the extras alone, and its token's column of W_ih is gathered */
    vin xv = {0}, hv = {0};
    if (bf) xv.b = s->vbf, hv.b = s->vbf + (Din > H ? Din : H);
    int tok = V ? token_id(x[0], V) : 0;
    if (V) vin_set(&xv, x + 1, m->cfg.E);
    else vin_set(&xv, x, Din);
    vin_set(&hv, s->h[0], H);
#pragma omp parallel if ((long)H * (Din + H) >= 1L << 16)
    {
        /* this thread's block of units [j0, j1), the same for every layer */
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int j0 = (int)((long)H * id / nt), j1 = (int)((long)H * (id + 1) / nt);
        for (int l = 0; l < L; l++) {
            int in = l ? H : Dw, gather = l == 0 && V;
            size_t off = gather ? (size_t)V : 0; /* the extras' columns */
            wrows wi = wrows_of(s, m, m->p.w_ih[l]), wh = wrows_of(s, m, m->p.w_hh[l]);
            const float *bi = m->p.b_ih[l], *bh = m->p.b_hh[l];
            for (int j = j0; j < j1; j++) {
                float z[4] = {0};
                for (int g = 0; gather && g < 4; g++) {
                    size_t at = ((size_t)g * H + j) * in + (size_t)(tok < 0 ? 0 : tok);
                    z[g] = tok < 0 ? NAN : wi.b ? bf16_f32(wi.b[at]) : wi.f[at];
                }
                dot4w(wi, (size_t)j * in + off, (size_t)H * in, &xv, z);
                dot4w(wh, (size_t)j * H, (size_t)H * H, &hv, z);
                for (int g = 0; g < 4; g++) zs[g * H + j] = z[g];
            }
            gb_fast_cell_units(j1 - j0, H, zs + j0, bi + j0, bh + j0, s->c[l] + j0, cn + j0,
                               s->tc + j0, hn + j0);
#pragma omp barrier
#pragma omp single
            {
                memcpy(s->h[l], hn, (size_t)H * sizeof *hn);
                memcpy(s->c[l], cn, (size_t)H * sizeof *cn);
                vin_set(&xv, s->h[l], H); /* the next layer's input, or the head's */
                if (l + 1 < L) vin_set(&hv, s->h[l + 1], H);
            }
        }
    }
    wrows fc = wrows_of(s, m, m->p.fc_w);
    int d = 0;
    for (; d + 4 <= Dout; d += 4) {
        for (int k = 0; k < 4; k++) y[d + k] = m->p.fc_b[d + k];
        dot4w(fc, (size_t)d * H, (size_t)H, &xv, y + d);
    }
    for (; d < Dout; d++) {
        y[d] = m->p.fc_b[d];
        for (int k = 0; k < H; k++)
            y[d] += fc.b ? bf16_f32(fc.b[(size_t)d * H + k]) * bf16_f32(xv.b[k])
                         : fc.f[(size_t)d * H + k] * xv.x[k];
    }
}

/* With token input, Z (T*B, G) = the columns of W_ih (G, V + E) at the rows' tokens (in bf16
 * mode the rounded copy's), read in place (a strided read of G values a row: cheap beside the
 * chunk's products), as lstm.c's gather gives them; NaN rows for a token out of range. */
static void gather(const gb_lstm_stream *s, const gb_lstm *m, const float *x, int TB, float *Z) {
    int V = m->cfg.V, G = 4 * m->cfg.H, Din = gb_lstm_din(&m->cfg), Dw = gb_lstm_dw(&m->cfg);
    const float *w = m->p.w_ih[0];
    const uint16_t *wb = s->wbf ? s->wbf + (w - m->params) : NULL;
#pragma omp parallel for schedule(static) if (s->step_threads && (long)TB * G >= 65536)
    for (int r = 0; r < TB; r++) {
        int k = token_id(x[(size_t)r * Din], V);
        float *z = Z + (size_t)r * G;
        for (int g = 0; g < G; g++) {
            size_t at = (size_t)g * Dw + (size_t)(k < 0 ? 0 : k);
            z[g] = k < 0 ? NAN : wb ? bf16_f32(wb[at]) : w[at];
        }
    }
}

/* Operands of the chunk path's products: a weight matrix of m, used transposed (with its bf16
 * copy in bf16 mode), or an activation block. */
static gb_mat weight(const gb_lstm_stream *s, const gb_lstm *m, const float *w, int ld) {
    return (gb_mat){w, s->wbf ? s->wbf + (w - m->params) : NULL, ld, 1};
}
static gb_mat act(const float *f, int ld) { return (gb_mat){f, NULL, ld, 0}; }

void gb_lstm_stream_run(const gb_lstm *m, gb_lstm_stream *s, const float *x, int T, float *y) {
    const gb_lstm_config *c = &m->cfg;
    int Din = gb_lstm_din(c), D = gb_lstm_dout(c), H = c->H, L = c->L, G = 4 * H, B = s->B;
    int TB = T * B;
    if (T < 1 || T > s->T_max || !fits(s, m) || (s->wbf && m->params != s->wsrc)) {
        if (T > 0)
            for (size_t i = 0; i < (size_t)T * B * D; i++) y[i] = NAN;
        return;
    }
    if (TB == 1) {
        step_one(m, s, x, y);
        return;
    }
    size_t bh = (size_t)B * H, bg = 4 * bh;
    const float *X = x; /* (T*B, in) the layer's input */
    for (int l = 0; l < L; l++) {
        int in = l ? H : Din;
        float *Z = s->z, *O = s->out[l & 1]; /* (T*B, G), (T*B, H) */
        if (l == 0 && c->V) { /* token input: the tokens' columns, and the E extra ones */
            int V = c->V, E = c->E;
            gather(s, m, x, TB, Z);
            if (E)
                gb_gemm(s->gx, TB, G, E, (gb_mat){x + 1, NULL, Din, 0},
                        weight(s, m, m->p.w_ih[0] + V, V + E), 1.0f, Z, G);
        } else {
            gb_gemm(s->gx, TB, G, in, act(X, in), weight(s, m, m->p.w_ih[l], in), 0.0f, Z, G);
        }
        for (int t = 0; t < T; t++) {
            /* Z_t (B, G) += h_{t-1} (B, H) W_hh^T; h_{t-1} is the carried state at t = 0 */
            const float *hp = t ? O + (t - 1) * bh : s->h[l];
            gb_gemm(s->gx, B, G, H, act(hp, H), weight(s, m, m->p.w_hh[l], H), 1.0f, Z + t * bg,
                    G);
            gb_fast_cell_pointwise(B, H, Z + t * bg, m->p.b_ih[l], m->p.b_hh[l], s->c[l], s->c2,
                                   s->tc, O + t * bh, s->step_threads);
            memcpy(s->c[l], s->c2, bh * sizeof(float));
        }
        memcpy(s->h[l], O + (size_t)(T - 1) * bh, bh * sizeof(float));
        X = O;
    }
    /* head: Y (T*B, Dout) = b_fc + H_top (T*B, H) fc_w^T */
    for (int r = 0; r < TB; r++) memcpy(y + (size_t)r * D, m->p.fc_b, (size_t)D * sizeof *y);
    gb_gemm(s->gx, TB, D, H, act(X, H), weight(s, m, m->p.fc_w, H), 1.0f, y, D);
}
