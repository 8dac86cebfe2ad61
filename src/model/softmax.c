/* softmax.c - the softmax head of softmax.h: its loss and gradient (the reference in double, the
 * fast path in float, vectorised, rows over OpenMP threads) and sampling. */
#include "model/softmax.h"
#include "model/vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A row's target id, or -1 when the row is done here: not covered (weight 0: nll 0, dy 0,
 * nothing read) or a target not in 0..D-1 (NaN). nll and dyr: the row's, or NULL. */
static int row_target(int D, float t, double w, double *nll, float *dyr) {
    if (w == 0) {
        if (nll) *nll = 0;
        if (dyr) memset(dyr, 0, (size_t)D * sizeof *dyr);
        return -1;
    }
    if (t >= 0.0f && t < (float)D) return (int)t;
    if (nll) *nll = NAN;
    for (int j = 0; dyr && j < D; j++) dyr[j] = NAN;
    return -1;
}

/* ---- reference ---- */

void gb_softmax_ref(int n, int D, const float *y, const float *t, const float *wrow,
                    const uint8_t *keys, double *nll, float *dy) {
    for (int r = 0; r < n; r++) {
        const float *yr = y + (size_t)r * D;
        float *dyr = dy ? dy + (size_t)r * D : NULL;
        double w = wrow ? wrow[r] : 1.0;
        int k = row_target(D, t[r], w, nll ? &nll[r] : NULL, dyr);
        if (k < 0) continue;
        double m = -INFINITY, s = 0;
        for (int j = 0; j < D; j++) m = yr[j] > m ? yr[j] : m;
        for (int j = 0; j < D; j++) s += exp((double)yr[j] - m);
        if (nll) nll[r] = !keys || keys[k] ? (m - yr[k]) + log(s) : 0.0;
        for (int j = 0; dyr && j < D; j++)
            dyr[j] = (float)((exp((double)yr[j] - m) / s - (j == k)) * w);
    }
}

/* ---- fast ---- */

/* One row: the max m, exp(y - m) (into e unless NULL), how many logits equal m (neq, each
 * exp 1) and the sum of the others' exps (rest), in vector loops. The sum of the exps is
 * neq + rest; kept in two parts because when the target is the most likely class its NLL is
 * log1p(neq - 1 + rest), which a float sum 1 + rest would round to a multiple of 2^-23. */
GB_VCLONES static float row_exps(int D, const float *restrict y, float *restrict e, float *rest,
                                 int *neq) {
    float m = y[0], s = 0;
    int q = 0;
#pragma omp simd reduction(max : m)
    for (int j = 1; j < D; j++) m = y[j] > m ? y[j] : m;
    if (e) {
#pragma omp simd reduction(+ : s, q)
        for (int j = 0; j < D; j++) {
            float v = gb_vexpf(y[j] - m);
            int top = y[j] == m;
            e[j] = v;
            s += gb_vsel(top, 0.0f, v);
            q += top;
        }
    } else {
#pragma omp simd reduction(+ : s, q)
        for (int j = 0; j < D; j++) {
            int top = y[j] == m;
            s += gb_vsel(top, 0.0f, gb_vexpf(y[j] - m));
            q += top;
        }
    }
    *rest = s, *neq = q;
    return m;
}

GB_VCLONES static void row_scale(int D, float *restrict e, float f) {
#pragma omp simd
    for (int j = 0; j < D; j++) e[j] *= f;
}

void gb_softmax_fast(int n, int D, const float *y, const float *t, const float *wrow,
                     const uint8_t *keys, double *nll, float *dy) {
#pragma omp parallel for schedule(static) if ((long)n * D >= 1L << 16)
    for (int r = 0; r < n; r++) {
        const float *yr = y + (size_t)r * D;
        float *dyr = dy ? dy + (size_t)r * D : NULL;
        float w = wrow ? wrow[r] : 1.0f;
        int k = row_target(D, t[r], w, nll ? &nll[r] : NULL, dyr);
        if (k < 0) continue;
        float rest;
        int neq;
        float m = row_exps(D, yr, dyr, &rest, &neq);
        double others = (double)(neq - 1) + rest; /* the sum of exps but one of the tops' */
        if (nll) nll[r] = !keys || keys[k] ? ((double)m - yr[k]) + log1p(others) : 0.0;
        if (dyr) { /* p_j w, and at the target p_k w - w: for a top target -(others / s) w */
            float s = (float)neq + rest;
            row_scale(D, dyr, w / s);
            dyr[k] = yr[k] == m ? (float)(-others / s * w) : dyr[k] - w;
        }
    }
}

/* ---- sampling ---- */

/* most likely first, then the lower id */
static int item_cmp(const void *pa, const void *pb) {
    const gb_softmax_item *a = pa, *b = pb;
    if (a->p != b->p) return a->p > b->p ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

int gb_softmax_filter(int D, const float *logits, float temperature, int top_k, float top_p,
                      gb_softmax_item *work) {
    int best = -1; /* the most likely class, the lowest id among equals; NaN never */
    for (int j = 0; j < D; j++)
        if (logits[j] == logits[j] && (best < 0 || logits[j] > logits[best])) best = j;
    if (best < 0 || logits[best] == -INFINITY) return 0;
    if (!(temperature > 0)) {
        work[0] = (gb_softmax_item){1.0, best};
        return 1;
    }
    /* unnormalised probabilities exp((l_j - l_max) / temperature); with +inf logits, those
     * share the mass */
    double top = logits[best], tinv = 1.0 / temperature;
    int inf = top == INFINITY, n = 0;
    for (int j = 0; j < D; j++) {
        double l = logits[j], p;
        if (inf) p = l == INFINITY;
        else p = l == l ? exp((l - top) * tinv) : 0.0; /* NaN: never drawn */
        if (p > 0) work[n++] = (gb_softmax_item){p, j};
    }
    int use_k = top_k > 0 && top_k < n, use_p = top_p > 0 && top_p < 1;
    if (use_k || use_p) qsort(work, (size_t)n, sizeof *work, item_cmp);
    if (use_k) n = top_k;
    double tot = 0;
    for (int i = 0; i < n; i++) tot += work[i].p;
    if (use_p) { /* the shortest prefix with mass >= top_p of the kept ones' */
        double c = 0, want = top_p * tot;
        int i = 0;
        while (i < n && c < want) c += work[i++].p;
        n = i ? i : 1, tot = i ? c : work[0].p;
    }
    for (int i = 0; i < n; i++) work[i].p /= tot;
    return n;
}

int gb_softmax_sample(int D, const float *logits, float temperature, int top_k, float top_p,
                      gb_rng *rng, gb_softmax_item *work) {
    int n = gb_softmax_filter(D, logits, temperature, top_k, top_p, work);
    if (n == 0) return -1;
    if (!(temperature > 0)) return work[0].id;
    double u = (double)(gb_rng_next(rng) >> 11) * 0x1p-53, c = 0;
    for (int i = 0; i < n; i++) {
        c += work[i].p;
        if (u < c) return work[i].id;
    }
    return work[n - 1].id; /* u within rounding of 1 */
}
