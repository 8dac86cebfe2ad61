/* adam.c - global-norm gradient clipping, the Adam(W) step and the averaged weights, over the
 * flat blocks of gb_lstm. */
#include "model/lstm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float gb_lstm_clip(gb_lstm *m, float max_norm) {
    double ss = 0;
    for (size_t i = 0; i < m->n_params; i++) ss += (double)m->grads[i] * m->grads[i];
    double norm = sqrt(ss);
    /* scaled to exactly max_norm (PyTorch divides by norm + 1e-6); a non-finite norm is left
     * for the caller to see in the return value rather than turning every gradient into NaN */
    if (max_norm > 0 && isfinite(norm) && norm > max_norm) {
        float s = (float)(max_norm / norm);
        for (size_t i = 0; i < m->n_params; i++) m->grads[i] *= s;
    }
    return (float)norm;
}

/* AdamW's decoupled decay, p *= 1 - lr * wd, on the weight matrices (biases keep their values,
 * as usual: decaying them only shifts the units' operating points). */
static void decay(gb_lstm *m, float f) {
    const gb_lstm_config *c = &m->cfg;
    size_t G = (size_t)4 * c->H, dout = (size_t)gb_lstm_dout(c), dh = (size_t)c->D * c->Hn;
    struct span { float *p; size_t n; } mats[2 * GB_LSTM_MAX_LAYERS + 3];
    int nm = 0;
    for (int l = 0; l < c->L; l++) {
        mats[nm++] = (struct span){m->p.w_ih[l], G * (size_t)(l ? c->H : gb_lstm_din(c))};
        mats[nm++] = (struct span){m->p.w_hh[l], G * c->H};
    }
    mats[nm++] = (struct span){m->p.fc_w, dout * c->H};
    if (c->head == GB_HEAD_NADE) {
        mats[nm++] = (struct span){m->p.nade_w, dh};
        mats[nm++] = (struct span){m->p.nade_v, dh};
    }
    for (int i = 0; i < nm; i++)
        for (size_t k = 0; k < mats[i].n; k++) mats[i].p[k] *= f;
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
    float w = 1.0f - (float)(d < decay ? d : decay);
    for (size_t i = 0; i < m->n_params; i++) m->ema[i] += w * (m->params[i] - m->ema[i]);
}

void gb_adam_step(gb_lstm *m, float lr, float beta1, float beta2, float eps, float weight_decay) {
    if (weight_decay > 0) decay(m, 1.0f - lr * weight_decay);
    m->adam_t++;
    /* p -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / bc1, v_hat = v / bc2, written as
     * PyTorch computes it: (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps) */
    double bc1 = 1.0 - pow(beta1, (double)m->adam_t), bc2 = 1.0 - pow(beta2, (double)m->adam_t);
    float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
    float *p = m->params, *g = m->grads, *am = m->adam_m, *av = m->adam_v;
#pragma omp parallel for schedule(static) if (m->n_params >= 1 << 16)
    for (size_t i = 0; i < m->n_params; i++) {
        am[i] = beta1 * am[i] + (1.0f - beta1) * g[i];
        av[i] = beta2 * av[i] + (1.0f - beta2) * g[i] * g[i];
        p[i] -= step * am[i] / (sqrtf(av[i]) * rbc2 + eps);
    }
}
