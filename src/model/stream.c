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
    if (tbg > INT_MAX || (double)T_max * B * c->D > INT_MAX)
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

void gb_lstm_stream_run(const gb_lstm *m, gb_lstm_stream *s, const float *x, int T, float *y) {
    const gb_lstm_config *c = &m->cfg;
    int D = c->D, H = c->H, L = c->L, G = 4 * H, B = s->B, TB = T * B;
    if (T < 1 || T > s->T_max || D != s->cfg.D || H != s->cfg.H || L != s->cfg.L) {
        if (T > 0)
            for (size_t i = 0; i < (size_t)T * B * D; i++) y[i] = NAN;
        return;
    }
    size_t bh = (size_t)B * H, bg = 4 * bh;
    const float *X = x; /* (T*B, in) the layer's input */
    for (int l = 0; l < L; l++) {
        int in = l ? H : D;
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
    /* head: Y (T*B, D) = b_fc + H_top (T*B, H) fc_w^T */
    for (int r = 0; r < TB; r++) memcpy(y + (size_t)r * D, m->p.fc_b, (size_t)D * sizeof *y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, TB, D, H, 1.0f, X, H, m->p.fc_w, H,
                1.0f, y, D);
}
