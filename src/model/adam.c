/* adam.c - global-norm gradient clipping, the Adam(W) step and the averaged weights, over the
 * flat blocks of gb_lstm. */
#include "model/lstm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The sum of the squares of g (n) in double, in an order fixed by n alone, so the norm has the
 * same bits with any thread count and vector width: SS_PARTS consecutive parts (over the
 * threads), each summed in SS_LANES interleaved lanes (a vector loop; any width divides 16),
 * the lanes and then the parts added in order. Each square of a float is exact in double. */
#define SS_PARTS 64
#define SS_LANES 16

static double sumsq(const float *g, size_t n) {
    double part[SS_PARTS];
    size_t per = (n / SS_PARTS / SS_LANES + 1) * SS_LANES;
#pragma omp parallel for schedule(static) if (n >= 1 << 16)
    for (int k = 0; k < SS_PARTS; k++) {
        size_t a = (size_t)k * per < n ? (size_t)k * per : n, len = n - a < per ? n - a : per;
        const float *x = g + a;
        double acc[SS_LANES] = {0}, s = 0;
        size_t i = 0;
        for (; i + SS_LANES <= len; i += SS_LANES)
#pragma omp simd
            for (int j = 0; j < SS_LANES; j++) acc[j] += (double)x[i + j] * x[i + j];
        for (int j = 0; j < SS_LANES; j++) s += acc[j];
        for (; i < len; i++) s += (double)x[i] * x[i];
        part[k] = s;
    }
    double ss = 0;
    for (int k = 0; k < SS_PARTS; k++) ss += part[k];
    return ss;
}

float gb_lstm_clip(gb_lstm *m, float max_norm) {
    size_t n = m->n_params;
    float *g = m->grads;
    double norm = sqrt(sumsq(g, n));
    /* scaled to exactly max_norm (PyTorch divides by norm + 1e-6); a non-finite norm is left
     * for the caller to see in the return value rather than turning every gradient into NaN */
    if (max_norm > 0 && isfinite(norm) && norm > max_norm) {
        float s = (float)(max_norm / norm);
#pragma omp parallel for simd schedule(static) if (n >= 1 << 16)
        for (size_t i = 0; i < n; i++) g[i] *= s;
    }
    return (float)norm;
}

/* The weight matrices, which AdamW's decoupled decay applies to (biases keep their values, as
 * usual: decaying them only shifts the units' operating points), as spans of the flat block in
 * ascending order; returns their count. */
struct span {
    size_t at, n;
};

static int weight_spans(const gb_lstm *m, struct span *out) {
    const gb_lstm_config *c = &m->cfg;
    size_t G = (size_t)4 * c->H, dout = (size_t)gb_lstm_dout(c), dh = (size_t)c->D * c->Hn;
    struct { const float *p; size_t n; } mats[2 * GB_LSTM_MAX_LAYERS + 3];
    int nm = 0, ns = 0;
    for (int l = 0; l < c->L; l++) {
        mats[nm].p = m->p.w_ih[l], mats[nm++].n = G * (size_t)(l ? c->H : gb_lstm_dw(c));
        mats[nm].p = m->p.w_hh[l], mats[nm++].n = G * c->H;
    }
    mats[nm].p = m->p.fc_w, mats[nm++].n = dout * c->H;
    if (c->head == GB_HEAD_NADE) {
        mats[nm].p = m->p.nade_w, mats[nm++].n = dh;
        mats[nm].p = m->p.nade_v, mats[nm++].n = dh;
    }
    for (int i = 0; i < nm; i++) {
        if (!mats[i].n) continue;
        struct span s = {(size_t)(mats[i].p - m->params), mats[i].n};
        int k = ns++;
        for (; k > 0 && out[k - 1].at > s.at; k--) out[k] = out[k - 1]; /* insertion sort */
        out[k] = s;
    }
    return ns;
}

gb_status gb_ema_init(gb_lstm *m, gb_error *err) {
    free(m->ema);
    if (!(m->ema = malloc(m->n_params * sizeof *m->ema)))
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for the averaged weights");
    memcpy(m->ema, m->params, m->n_params * sizeof *m->ema);
    return GB_OK;
}

void gb_ema_step(gb_lstm *m, float decay) {
    double t = (double)m->adam_t, d = (1 + t) / (10 + t);
    float w = 1.0f - (float)(d < decay ? d : decay), *e = m->ema;
    const float *p = m->params;
#pragma omp parallel for simd schedule(static) if (m->n_params >= 1 << 16)
    for (size_t i = 0; i < m->n_params; i++) e[i] += w * (p[i] - e[i]);
}

/* One pass over the block: Adam's moments and update, with AdamW's decay p *= 1 - lr * wd
 * folded into the same read of p where it applies (the same float operations in the same order
 * as a separate decay pass first: the same bits). This file is compiled with -fno-math-errno
 * (Makefile): with errno semantics gcc keeps sqrtf scalar, with a branch around a libm call,
 * and the loop does not vectorise. */
void gb_adam_step(gb_lstm *m, float lr, float beta1, float beta2, float eps, float weight_decay) {
    m->adam_t++;
    /* p -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / bc1, v_hat = v / bc2, written as
     * PyTorch computes it: (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps) */
    double bc1 = 1.0 - pow(beta1, (double)m->adam_t), bc2 = 1.0 - pow(beta2, (double)m->adam_t);
    float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
    float *p = m->params, *g = m->grads, *am = m->adam_m, *av = m->adam_v;
    size_t n = m->n_params;
    /* segments of the block with their decay factor: the weight spans and the gaps between */
    struct seg {
        size_t a, b;
        float f;
    } seg[2 * (2 * GB_LSTM_MAX_LAYERS + 3) + 1];
    int ns = 0;
    if (weight_decay > 0) {
        struct span w[2 * GB_LSTM_MAX_LAYERS + 3];
        int nw = weight_spans(m, w);
        float f = 1.0f - lr * weight_decay;
        size_t at = 0;
        for (int i = 0; i < nw; i++) {
            if (w[i].at > at) seg[ns++] = (struct seg){at, w[i].at, 1.0f};
            seg[ns++] = (struct seg){w[i].at, w[i].at + w[i].n, f};
            at = w[i].at + w[i].n;
        }
        if (at < n) seg[ns++] = (struct seg){at, n, 1.0f};
    } else {
        seg[ns++] = (struct seg){0, n, 1.0f};
    }
#pragma omp parallel if (n >= 1 << 16)
    for (int s = 0; s < ns; s++) {
        float f = seg[s].f;
#pragma omp for simd schedule(static) nowait
        for (size_t i = seg[s].a; i < seg[s].b; i++) {
            am[i] = beta1 * am[i] + (1.0f - beta1) * g[i];
            av[i] = beta2 * av[i] + (1.0f - beta2) * g[i] * g[i];
            p[i] = p[i] * f - step * am[i] / (sqrtf(av[i]) * rbc2 + eps);
        }
    }
}
