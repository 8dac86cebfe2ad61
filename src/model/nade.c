/* nade.c - the NADE head of nade.h: the reference (double, one row at a time), the fast path
 * (float, vectorised, rows over OpenMP threads) and sampling. */
#include "model/nade.h"
#include "model/vmath.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- reference ---- */

void gb_nade_ref(int n, int D, int Hn, const float *W, const float *V, const float *y,
                 const float *x, const float *wrow, const uint8_t *keys, double *nll, float *dy,
                 float *dW, float *dV) {
    int Dout = D + Hn;
    double *a = malloc((size_t)Hn * sizeof *a), *hs = malloc((size_t)D * Hn * sizeof *hs);
    double *dl = malloc((size_t)D * sizeof *dl), *c = malloc((size_t)Hn * sizeof *c);
    for (int r = 0; r < n; r++) {
        const float *yr = y + (size_t)r * Dout, *xr = x + (size_t)r * D;
        double sum = 0;
        for (int j = 0; j < Hn; j++) a[j] = yr[D + j];
        for (int k = 0; k < D; k++) {
            double l = yr[k];
            for (int j = 0; j < Hn; j++) {
                hs[(size_t)k * Hn + j] = 1.0 / (1.0 + exp(-a[j]));
                l += (double)V[(size_t)k * Hn + j] * hs[(size_t)k * Hn + j];
            }
            if (!keys || keys[k]) sum += gb_bce(l, xr[k]);
            dl[k] = (1.0 / (1.0 + exp(-l)) - xr[k]) * (wrow ? wrow[r] : 1.0);
            for (int j = 0; j < Hn; j++) a[j] += xr[k] * (double)W[(size_t)k * Hn + j];
        }
        if (nll) nll[r] = sum;
        if (!dy) continue;
        float *dyr = dy + (size_t)r * Dout;
        if (wrow && wrow[r] == 0) {
            memset(dyr, 0, (size_t)Dout * sizeof *dyr);
            continue;
        }
        for (int j = 0; j < Hn; j++) c[j] = 0;
        for (int k = D - 1; k >= 0; k--) {
            for (int j = 0; j < Hn; j++) dW[(size_t)k * Hn + j] += (float)(xr[k] * c[j]);
            for (int j = 0; j < Hn; j++) {
                double h = hs[(size_t)k * Hn + j];
                dV[(size_t)k * Hn + j] += (float)(dl[k] * h);
                c[j] += dl[k] * V[(size_t)k * Hn + j] * h * (1 - h);
            }
            dyr[k] = (float)dl[k];
        }
        for (int j = 0; j < Hn; j++) dyr[D + j] = (float)c[j];
    }
    free(a), free(hs), free(dl), free(c);
}

/* ---- fast ---- */

/* sigmoid of n floats, vectorised (vmath.h; libm's expf is scalar) */
static inline void sigmoid_n(const float *in, float *out, int n) {
#pragma omp simd
    for (int j = 0; j < n; j++) out[j] = gb_vsigmoidf(in[j]);
}

static inline float dotf(const float *a, const float *b, int n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < n; j++) s += a[j] * b[j];
    return s;
}

/* One row. a_k changes only where x_k != 0 (a note of the step: a handful in 128), so h_k is
 * one vector over each segment of features between two notes: the sigmoid runs once a segment,
 * not once a feature, and what is left is D dot products of Hn forward and two backward.
 * Forward keeps each segment's h in hs (at most D + 1 of them, Hn each) and where segments
 * start (seg); then (dy) backward, segment by segment from the last. a, c: Hn floats of
 * scratch; dl: D. */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
nade_row(int D, int Hn, const float *W, const float *V, const float *yr, const float *xr,
         float w, const uint8_t *keys, double *nll, float *dyr, float *dW, float *dV, float *a,
         float *hs, int *seg, float *dl, float *c) {
    double sum = 0;
    int ns = 1;
    memcpy(a, yr + D, (size_t)Hn * sizeof *a);
    sigmoid_n(a, hs, Hn);
    seg[0] = 0;
    for (int k = 0; k < D; k++) {
        float l = yr[k] + dotf(V + (size_t)k * Hn, hs + (size_t)(ns - 1) * Hn, Hn);
        if (!keys || keys[k]) sum += gb_bce(l, xr[k]);
        dl[k] = (1.0f / (1.0f + expf(-l)) - xr[k]) * w;
        if (xr[k] != 0.0f && k + 1 < D) { /* a new segment from k + 1 */
            const float *wk = W + (size_t)k * Hn;
            float xk = xr[k];
#pragma omp simd
            for (int j = 0; j < Hn; j++) a[j] += xk * wk[j];
            sigmoid_n(a, hs + (size_t)ns * Hn, Hn);
            seg[ns++] = k + 1;
        }
    }
    if (nll) *nll = sum;
    if (!dyr) return;
    memset(c, 0, (size_t)Hn * sizeof *c); /* sum of da_k over the features after */
    for (int s = ns - 1; s >= 0; s--) {
        int k0 = seg[s], k1 = s + 1 < ns ? seg[s + 1] : D;
        const float *h = hs + (size_t)s * Hn;
        if (s + 1 < ns) { /* the note that ends this segment: dW_k += x_k sum_{k' > k} da_k' */
            float *dwk = dW + (size_t)(k1 - 1) * Hn, xk = xr[k1 - 1];
#pragma omp simd
            for (int j = 0; j < Hn; j++) dwk[j] += xk * c[j];
        }
        memset(a, 0, (size_t)Hn * sizeof *a); /* a: sum over the segment of dl_k V_k */
        for (int k = k0; k < k1; k++) {
            const float *vk = V + (size_t)k * Hn;
            float *dvk = dV + (size_t)k * Hn, d = dl[k];
            dyr[k] = d;
#pragma omp simd
            for (int j = 0; j < Hn; j++) {
                dvk[j] += d * h[j];
                a[j] += d * vk[j];
            }
        }
#pragma omp simd
        for (int j = 0; j < Hn; j++) c[j] += a[j] * h[j] * (1.0f - h[j]);
    }
    memcpy(dyr + D, c, (size_t)Hn * sizeof *c);
}

void gb_nade_fast(int n, int D, int Hn, const float *W, const float *V, const float *y,
                  const float *x, const float *wrow, const uint8_t *keys, double *nll, float *dy,
                  float *dW, float *dV) {
    int Dout = D + Hn, nt = (long)n * D * Hn >= 1L << 18 ? omp_get_max_threads() : 1;
    /* per thread: hs ((D + 1) Hn), a, c (Hn), dl (D), seg (D + 1 ints as floats' room), then
     * with dy its dW, dV (D Hn each) */
    size_t dh = (size_t)D * Hn, sc = dh + 3 * (size_t)Hn + 2 * (size_t)D + 1;
    size_t per = sc + (dy ? 2 * dh : 0);
    /* each thread: its scratch and (backward) its own dW, dV, summed into the caller's after, in
     * thread order: with a static schedule the result does not depend on timing */
    float *mem = calloc((size_t)nt * per, sizeof *mem);
    if (!mem) { /* no error channel: NaN reaches the caller through the loss */
        for (int r = 0; r < n; r++)
            if (nll) nll[r] = NAN;
        if (dy) dy[0] = NAN;
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        float *hs = mem + (size_t)omp_get_thread_num() * per, *a = hs + dh + Hn, *c = a + Hn;
        float *dl = c + Hn, *tw = hs + sc, *tv = tw + dh;
        int *seg = (int *)(dl + D); /* D + 1 ints in D + 1 floats' room */
#pragma omp for schedule(static)
        for (int r = 0; r < n; r++) {
            float w = wrow ? wrow[r] : 1.0f;
            float *dyr = dy ? dy + (size_t)r * Dout : NULL;
            if (dyr && w == 0.0f) {
                memset(dyr, 0, (size_t)Dout * sizeof *dyr);
                if (!nll) continue;
                dyr = NULL;
            }
            nade_row(D, Hn, W, V, y + (size_t)r * Dout, x + (size_t)r * D, w, keys,
                     nll ? nll + r : NULL, dyr, tw, tv, a, hs, seg, dl, c);
        }
    }
    if (dy)
        for (int t = 0; t < nt; t++) {
            const float *tw = mem + (size_t)t * per + sc, *tv = tw + dh;
            for (size_t i = 0; i < dh; i++) dW[i] += tw[i], dV[i] += tv[i];
        }
    free(mem);
}

/* ---- sampling ---- */

void gb_nade_sample(int D, int Hn, const float *W, const float *V, const float *y,
                    float temperature, gb_rng *rng, float *x, float *scratch) {
    float *a = scratch, h[256];
    memcpy(a, y + D, (size_t)Hn * sizeof *a);
    for (int k = 0; k < D; k++) {
        double l = y[k];
        for (int j0 = 0; j0 < Hn; j0 += 256) { /* h in blocks: no scratch beyond a */
            int nb = Hn - j0 < 256 ? Hn - j0 : 256;
            sigmoid_n(a + j0, h, nb);
            l += dotf(V + (size_t)k * Hn + j0, h, nb);
        }
        if (temperature > 0)
            x[k] = gb_rng_float(rng) < 1.0 / (1.0 + exp(-l / temperature)) ? 1.0f : 0.0f;
        else
            x[k] = l >= 0 ? 1.0f : 0.0f;
        if (x[k] != 0.0f)
            for (int j = 0; j < Hn; j++) a[j] += W[(size_t)k * Hn + j];
    }
}
