/* loss.c - the losses of the heads (lstm.h): MSE and BCE on the linear head with PyTorch's mean
 * reduction, the NADE's exact likelihood (nade.h), the softmax head's cross-entropy
 * (softmax.h), over the steps a window's mask and the loss-on mode cover; and dL/dy. */
#include "model/nade.h"
#include "model/softmax.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The rows (T, B) the loss covers: w[r] 1 on them, 0 elsewhere (w may be NULL); their count. */
static size_t cover(gb_loss_on on, const float *mask, int T, int B, float *w) {
    size_t rows = 0;
    for (int b = 0; b < B; b++) {
        int last = -1; /* ON_LAST: the window's last real step */
        for (int t = 0; t < T; t++) {
            int real = !mask || mask[(size_t)t * B + b] != 0.0f;
            int on_all = real && on == GB_LOSS_ON_ALL;
            if (w) w[(size_t)t * B + b] = (float)on_all;
            rows += on_all;
            if (real) last = t;
        }
        if (on == GB_LOSS_ON_LAST && last >= 0) {
            if (w) w[(size_t)last * B + b] = 1;
            rows++;
        }
    }
    return rows;
}

size_t gb_loss_rows(gb_loss_on on, const float *mask, int T, int B) {
    return cover(on, mask, T, B, NULL);
}

float gb_loss(const gb_lstm *m, gb_lstm_views *g, gb_loss_kind k, gb_loss_on on, const float *y,
              const float *target, const float *mask, int T, int B, float *dy) {
    int D = m->cfg.D, Dout = gb_lstm_dout(&m->cfg), nade = m->cfg.head == GB_HEAD_NADE;
    int sm = m->cfg.head == GB_HEAD_SOFTMAX;
    if (!nade && !sm && k != GB_LOSS_MSE && k != GB_LOSS_BCE) return NAN; /* CE: softmax's */
    size_t n = (size_t)T * B;
    /* w[r]: 1 on the rows (steps of windows) the loss covers, then 1 / (rows covered * D) (the
     * softmax head: 1 / rows covered, a mean over steps alone) */
    int per = sm ? 1 : D;
    float *w = malloc(n * sizeof *w);
    double *nll = nade || sm ? malloc(n * sizeof *nll) : NULL;
    if (!w || ((nade || sm) && !nll)) {
        free(w), free(nll);
        return NAN; /* no error channel: the caller stops on a non-finite loss */
    }
    size_t rows = cover(on, mask, T, B, w);
    float inv = rows ? (float)(1.0 / ((double)rows * per)) : 0;
    for (size_t r = 0; r < n; r++) w[r] *= inv;
    double sum = 0;
    if (sm) {
        gb_softmax_fast((int)n, D, y, target, w, NULL, nll, g ? dy : NULL);
        for (size_t r = 0; r < n; r++)
            if (w[r] != 0) sum += nll[r];
    } else if (nade) {
        gb_nade_fast((int)n, D, m->cfg.Hn, m->p.nade_w, m->p.nade_v, y, target, w, NULL, nll,
                     g ? dy : NULL, g ? g->nade_w : NULL, g ? g->nade_v : NULL);
        for (size_t r = 0; r < n; r++)
            if (w[r] != 0) sum += nll[r];
    } else {
        for (size_t r = 0; r < n; r++) {
            const float *yr = y + r * Dout, *tr = target + r * D;
            float *dyr = g ? dy + r * Dout : NULL;
            if (w[r] == 0) {
                if (dyr) memset(dyr, 0, (size_t)Dout * sizeof *dyr);
                continue;
            }
            for (int d = 0; d < D; d++) {
                double v = yr[d], t = tr[d];
                if (k == GB_LOSS_MSE) { /* (y - t)^2, d/dy = 2 (y - t) */
                    sum += (v - t) * (v - t);
                    if (dyr) dyr[d] = (float)(2.0 * (v - t) * w[r]);
                } else { /* d/dy = sigmoid(y) - t */
                    sum += gb_bce(v, t);
                    double s = v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
                    if (dyr) dyr[d] = (float)((s - t) * w[r]);
                }
            }
        }
    }
    free(w), free(nll);
    return rows ? (float)(sum / ((double)rows * per)) : 0.0f;
}

void gb_step_nll(const gb_lstm *m, const float *y, const float *target, int n,
                 const uint8_t *keys, double *nll) {
    int D = m->cfg.D, Dout = gb_lstm_dout(&m->cfg);
    if (m->cfg.head == GB_HEAD_SOFTMAX) {
        gb_softmax_fast(n, D, y, target, NULL, keys, nll, NULL);
        return;
    }
    if (m->cfg.head == GB_HEAD_NADE) {
        gb_nade_fast(n, D, m->cfg.Hn, m->p.nade_w, m->p.nade_v, y, target, NULL, keys, nll, NULL,
                     NULL, NULL);
        return;
    }
    for (int r = 0; r < n; r++) {
        double s = 0;
        for (int d = 0; d < D; d++)
            if (!keys || keys[d]) s += gb_bce(y[(size_t)r * Dout + d], target[(size_t)r * D + d]);
        nll[r] = s;
    }
}
