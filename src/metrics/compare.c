/* compare.c - two sets of pieces compared by Yang & Lerch's protocol (docs/metrics.md). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "metrics/metrics.h"

gb_status gb_piece_set_add(gb_piece_set *set, const char *path, const char *id,
                           const gb_piece_features *f, gb_error *err) {
    if (gb_grow((void **)&set->pieces, &set->cap, set->n + 1, sizeof *set->pieces) != GB_OK)
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    gb_piece *p = &set->pieces[set->n];
    memset(p, 0, sizeof *p);
    p->path = strdup(path);
    p->id = strdup(id ? id : path);
    if (!p->path || !p->id) {
        free(p->path);
        free(p->id);
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    }
    p->f = *f;
    set->n++;
    return GB_OK;
}

void gb_piece_set_free(gb_piece_set *set) {
    for (size_t i = 0; i < set->n; i++) {
        free(set->pieces[i].path);
        free(set->pieces[i].id);
    }
    free(set->pieces);
    memset(set, 0, sizeof *set);
}

void gb_set_stats_of(const gb_piece_set *set, gb_set_stats *out) {
    memset(out, 0, sizeof *out);
    for (int f = 0; f < GB_F_COUNT; f++) {
        const int o = gb_features[f].offset, d = gb_features[f].dim;
        size_t n = 0;
        for (size_t i = 0; i < set->n; i++) {
            if (set->pieces[i].f.undef[f]) continue;
            n++;
            for (int k = 0; k < d; k++) out->mean[o + k] += set->pieces[i].f.v[o + k];
        }
        out->n[f] = n;
        if (!n) continue;
        for (int k = 0; k < d; k++) out->mean[o + k] /= (double)n;
        if (n < 2) continue;
        for (size_t i = 0; i < set->n; i++) {
            if (set->pieces[i].f.undef[f]) continue;
            for (int k = 0; k < d; k++) {
                double e = set->pieces[i].f.v[o + k] - out->mean[o + k];
                out->sd[o + k] += e * e;
            }
        }
        for (int k = 0; k < d; k++) out->sd[o + k] = sqrt(out->sd[o + k] / (double)(n - 1));
    }
}

/* ------------------------------------------------------------------------------------------ */
/* kernel densities */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void mean_sd(const double *x, size_t n, double *mean, double *sd) {
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = n > 1 ? sqrt(s / (double)(n - 1)) : 0;
}

/* The log density at u of the Gaussian kernels of bandwidth h at sorted x[0..n): the largest
 * term (the nearest sample) is taken out of the sum, so that far from every sample the log
 * stays finite and exact. */
static double log_kde(const double *x, size_t n, double h, double u) {
    size_t lo = 0, hi = n; /* the first sample >= u */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x[mid] < u) lo = mid + 1;
        else hi = mid;
    }
    double dmin = INFINITY;
    if (lo < n) dmin = x[lo] - u;
    if (lo > 0 && u - x[lo - 1] < dmin) dmin = u - x[lo - 1];
    const double c = 0.5 / (h * h), base = dmin * dmin;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - u;
        s += exp(-(d * d - base) * c);
    }
    return log(s) - base * c - log((double)n * h) - 0.91893853320467274; /* log sqrt(2 pi) */
}

void gb_kde_compare(const double *p_in, size_t n_p, const double *q_in, size_t n_q, double *kl,
                    double *oa) {
    double *p = malloc((n_p + n_q) * sizeof *p), *q;
    if (!p) {
        *kl = NAN, *oa = NAN;
        return;
    }
    q = p + n_p;
    memcpy(p, p_in, n_p * sizeof *p);
    memcpy(q, q_in, n_q * sizeof *q);
    qsort(p, n_p, sizeof *p, cmp_double);
    qsort(q, n_q, sizeof *q, cmp_double);
    /* Scott's rule, as scipy's gaussian_kde: h = sd * n^(-1/5); a sample without spread (one
     * value, or all equal) gets the floor, a thousandth of the data's scale */
    double lo = p[0] < q[0] ? p[0] : q[0], hi = p[n_p - 1] > q[n_q - 1] ? p[n_p - 1] : q[n_q - 1];
    double scale = fmax(1.0, fmax(fabs(lo), fabs(hi))), floor_h = 1e-3 * scale;
    double m, sd_p, sd_q;
    mean_sd(p, n_p, &m, &sd_p);
    mean_sd(q, n_q, &m, &sd_q);
    double hp = fmax(floor_h, sd_p * pow((double)n_p, -0.2));
    double hq = fmax(floor_h, sd_q * pow((double)n_q, -0.2));
    /* the trapezoid rule over both densities' support, 6 bandwidths past the data, in steps of
     * an eighth of the narrower bandwidth: Gaussian sums integrate almost exactly; min(p, q)
     * has kinks where p and q cross, which cost it up to about 1e-3 */
    double hmax = fmax(hp, hq), a = lo - 6 * hmax, b = hi + 6 * hmax;
    double g = ceil((b - a) / (0.125 * fmin(hp, hq))) + 1;
    size_t G = g < 257 ? 257 : g > 16385 ? 16385 : (size_t)g;
    double dx = (b - a) / (double)(G - 1), skl = 0, soa = 0;
#pragma omp parallel for reduction(+ : skl, soa) schedule(static) if (G * (n_p + n_q) > 100000)
    for (size_t i = 0; i < G; i++) {
        double u = a + dx * (double)i, w = (i == 0 || i == G - 1) ? 0.5 : 1.0;
        double lp = log_kde(p, n_p, hp, u), lq = log_kde(q, n_q, hq, u);
        double pp = exp(lp), qq = exp(lq);
        skl += w * pp * (lp - lq);
        soa += w * fmin(pp, qq);
    }
    free(p);
    *kl = fmax(0.0, skl * dx); /* a rounding error below 0 is 0 */
    *oa = fmin(1.0, soa * dx);
}

/* ------------------------------------------------------------------------------------------ */
/* the protocol */

static double distance(const gb_piece_features *x, const gb_piece_features *y, int f) {
    const int o = gb_features[f].offset, d = gb_features[f].dim;
    if (d == 1) return fabs(x->v[o] - y->v[o]);
    double s = 0;
    for (int k = 0; k < d; k++) s += (x->v[o + k] - y->v[o + k]) * (x->v[o + k] - y->v[o + k]);
    return sqrt(s);
}

/* Of n_all candidate pairs, whether pair number c is kept: all of them up to cap, else cap of
 * them evenly through their order. */
static int keep_pair(uint64_t c, uint64_t n_all, uint64_t cap) {
    return n_all <= cap || (c + 1) * cap / n_all > c * cap / n_all;
}

gb_status gb_compare_sets(const gb_piece_set *gen, const gb_piece_set *ref, gb_set_cmp *out,
                          gb_error *err) {
    memset(out, 0, sizeof *out);
    gb_set_stats_of(gen, &out->gen);
    gb_set_stats_of(ref, &out->ref);
    double *intra = malloc(2 * GB_CMP_MAX_PAIRS * sizeof *intra);
    double *inter = malloc(GB_CMP_MAX_PAIRS * sizeof *inter);
    if (!intra || !inter) {
        free(intra);
        free(inter);
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    }
    for (int f = 0; f < GB_F_COUNT; f++) {
        gb_feature_cmp *c = &out->f[f];
        /* intra-set: every unordered pair of reference pieces, each counted in both orders as
         * in Yang & Lerch's exhaustive cross-validation */
        uint64_t nr = out->ref.n[f], all = nr * (nr ? nr - 1 : 0) / 2, k = 0;
        size_t ni = 0;
        for (size_t i = 0; i < ref->n; i++) {
            if (ref->pieces[i].f.undef[f]) continue;
            for (size_t j = i + 1; j < ref->n; j++) {
                if (ref->pieces[j].f.undef[f]) continue;
                if (keep_pair(k++, all, GB_CMP_MAX_PAIRS)) {
                    double d = distance(&ref->pieces[i].f, &ref->pieces[j].f, f);
                    intra[ni++] = d, intra[ni++] = d;
                }
            }
        }
        /* inter-set: every generated piece against every reference piece but itself */
        all = 0;
        for (size_t i = 0; i < gen->n; i++) {
            if (gen->pieces[i].f.undef[f]) continue;
            for (size_t j = 0; j < ref->n; j++)
                all += !ref->pieces[j].f.undef[f] && strcmp(gen->pieces[i].id, ref->pieces[j].id);
        }
        k = 0;
        size_t nx = 0;
        for (size_t i = 0; i < gen->n; i++) {
            if (gen->pieces[i].f.undef[f]) continue;
            for (size_t j = 0; j < ref->n; j++) {
                if (ref->pieces[j].f.undef[f] || !strcmp(gen->pieces[i].id, ref->pieces[j].id))
                    continue;
                if (keep_pair(k++, all, GB_CMP_MAX_PAIRS))
                    inter[nx++] = distance(&gen->pieces[i].f, &ref->pieces[j].f, f);
            }
        }
        c->n_intra = ni, c->n_inter = nx;
        if (ni) mean_sd(intra, ni, &c->intra_mean, &c->intra_sd);
        if (nx) mean_sd(inter, nx, &c->inter_mean, &c->inter_sd);
        if (!ni) {
            c->why = "the reference has fewer than two pieces where it is defined";
        } else if (!nx) {
            c->why = out->gen.n[f] ? "every generated piece is itself in the reference"
                                   : "no generated piece where it is defined";
        } else {
            gb_kde_compare(intra, ni, inter, nx, &c->kl, &c->oa);
            if (isnan(c->kl)) {
                free(intra);
                free(inter);
                return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
            }
            c->defined = 1;
        }
    }
    free(intra);
    free(inter);
    return GB_OK;
}
