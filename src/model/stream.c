/* stream.c - the state-carrying evaluation forward of stream.h. It mirrors forward_fast in
 * lstm.c (layer by layer over the chunk) but keeps only what evaluation needs: one layer's
 * outputs at a time, and the states at the chunk's end. */
#include "model/stream.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    s->step_threads = gb_fast_step_threads();
    *out = s;
    return GB_OK;
}

void gb_lstm_stream_free(gb_lstm_stream *s) {
    if (!s) return;
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

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* One step of one sequence, as generation runs (T = B = 1). Each layer is then a
 * matrix-vector product, bound by reading the weights (14 MB for the report's model, from L3),
 * not by arithmetic; sgemm on one row also pays for packing them. Here each thread takes a block
 * of hidden units, reads their four gate rows of W_ih and W_hh once and finishes their cells:
 * one pass over the weights, one barrier per layer. */
static void step_one(const gb_lstm *m, gb_lstm_stream *s, const float *x, float *y) {
    int Din = gb_lstm_din(&m->cfg), Dout = gb_lstm_dout(&m->cfg), H = m->cfg.H, L = m->cfg.L;
    float *hn = s->out[0], *cn = s->c2;
#pragma omp parallel if ((long)H * (Din + H) >= 1L << 16)
    for (int l = 0; l < L; l++) {
        int in = l ? H : Din;
        const float *xin = l ? s->h[l - 1] : x, *wi = m->p.w_ih[l], *wh = m->p.w_hh[l];
        const float *bi = m->p.b_ih[l], *bh = m->p.b_hh[l];
#pragma omp for schedule(static)
        for (int j = 0; j < H; j++) {
            float z[4];
            for (int g = 0; g < 4; g++) z[g] = bi[g * H + j] + bh[g * H + j];
            dot4(wi + (size_t)j * in, (size_t)H * in, xin, in, z);
            dot4(wh + (size_t)j * H, (size_t)H * H, s->h[l], H, z);
            cn[j] = sigmoidf(z[1]) * s->c[l][j] + sigmoidf(z[0]) * tanhf(z[2]);
            hn[j] = sigmoidf(z[3]) * tanhf(cn[j]);
        }
#pragma omp single
        {
            memcpy(s->h[l], hn, (size_t)H * sizeof *hn);
            memcpy(s->c[l], cn, (size_t)H * sizeof *cn);
        }
    }
    const float *top = s->h[L - 1];
    int d = 0;
    for (; d + 4 <= Dout; d += 4) {
        for (int k = 0; k < 4; k++) y[d + k] = m->p.fc_b[d + k];
        dot4(m->p.fc_w + (size_t)d * H, (size_t)H, top, H, y + d);
    }
    for (; d < Dout; d++) {
        y[d] = m->p.fc_b[d];
        for (int k = 0; k < H; k++) y[d] += m->p.fc_w[(size_t)d * H + k] * top[k];
    }
}

void gb_lstm_stream_run(const gb_lstm *m, gb_lstm_stream *s, const float *x, int T, float *y) {
    const gb_lstm_config *c = &m->cfg;
    int Din = gb_lstm_din(c), D = gb_lstm_dout(c), H = c->H, L = c->L, G = 4 * H, B = s->B;
    int TB = T * B;
    if (T < 1 || T > s->T_max || Din != gb_lstm_din(&s->cfg) || D != gb_lstm_dout(&s->cfg) ||
        H != s->cfg.H || L != s->cfg.L) {
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
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, TB, G, in, 1.0f, X, in,
                    m->p.w_ih[l], in, 0.0f, Z, G);
        for (int t = 0; t < T; t++) {
            /* Z_t (B, G) += h_{t-1} (B, H) W_hh^T; h_{t-1} is the carried state at t = 0 */
            const float *hp = t ? O + (t - 1) * bh : s->h[l];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, G, H, 1.0f, hp, H,
                        m->p.w_hh[l], H, 1.0f, Z + t * bg, G);
            gb_fast_cell_pointwise(B, H, Z + t * bg, m->p.b_ih[l], m->p.b_hh[l], s->c[l], s->c2,
                                   s->tc, O + t * bh, s->step_threads);
            memcpy(s->c[l], s->c2, bh * sizeof(float));
        }
        memcpy(s->h[l], O + (size_t)(T - 1) * bh, bh * sizeof(float));
        X = O;
    }
    /* head: Y (T*B, Dout) = b_fc + H_top (T*B, H) fc_w^T */
    for (int r = 0; r < TB; r++) memcpy(y + (size_t)r * D, m->p.fc_b, (size_t)D * sizeof *y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, TB, D, H, 1.0f, X, H, m->p.fc_w, H,
                1.0f, y, D);
}
