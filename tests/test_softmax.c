/* test_softmax.c - the softmax head's kernels (src/model/softmax.c): the fast loss and gradient
 * against the double reference, and sampling with temperature, top-k and top-p against an
 * oracle written here from the definitions, with the draws' frequencies against the
 * distribution by chi-square. (The head inside the model, its loss through gb_loss and by finite
 * differences: tests/test_lstm.c.) */
#include "model/softmax.h"
#include "test.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

static int verbose(void) { return getenv("GB_TEST_VERBOSE") != NULL; }

/* ------------------------------------------------------------------------------------------ */
/* loss and gradient */

/* gb_softmax_fast against gb_softmax_ref on 600 rows of D = 388 (Performance RNN's vocabulary),
 * logits uniform in +-s for s = 0.1, 3 and 30 (a flat, a typical and a confident head), a third
 * of the targets the row's most likely class (small NLLs: the case a float sum 1 + rest would
 * round), row weights with zeros among them (targets there out of range: never read). Measured:
 * NLL relative error 4e-8 at most (the vectorised exp's 8e-8 and float sums), dy 6e-8 absolute
 * at most (a row's weight is 1 here, its entries up to 1; float's y - max rounds by up to
 * 2^-24 |y - max|, which the exp turns into a relative error of that size: 2e-6 of the small
 * entries of the s = 30 rows). Bounds: 1e-6 relative on the NLL, 3e-7 absolute on dy. A wrong
 * max, a missed class or the mean taken over D moves them by 1e-2 and more. Also: rows with
 * weight 0 get zeros, a bad id NaN, keys zero an NLL, and the threaded path gives the bits of
 * one thread. */
static void test_fast_vs_ref(void) {
    enum { N = 600, D = 388 };
    gb_rng r;
    gb_rng_seed(&r, 7);
    float *y = malloc((size_t)N * D * sizeof *y), t[N], w[N];
    float *dyf = malloc((size_t)N * D * sizeof *dyf), *dyr = malloc((size_t)N * D * sizeof *dyr);
    double nf[N], nr[N];
    const float scale[3] = {0.1f, 3.0f, 30.0f};
    for (int i = 0; i < N; i++) {
        float s = scale[i % 3], *yi = y + (size_t)i * D;
        int best = 0;
        for (int d = 0; d < D; d++) {
            yi[d] = s * (2 * gb_rng_float(&r) - 1);
            best = yi[d] > yi[best] ? d : best;
        }
        t[i] = (float)(i % 3 == 1 ? best : (int)gb_rng_below(&r, D));
        w[i] = i % 7 == 3 ? 0.0f : 1.0f;
        if (w[i] == 0) t[i] = -5; /* not read */
    }
    gb_softmax_ref(N, D, y, t, w, NULL, nr, dyr);
    gb_softmax_fast(N, D, y, t, w, NULL, nf, dyf);
    double en = 0, ed = 0;
    int zeros = 1;
    for (int i = 0; i < N; i++) {
        if (w[i] == 0) {
            for (int d = 0; d < D; d++) zeros &= dyf[(size_t)i * D + d] == 0;
            zeros &= nf[i] == 0;
            continue;
        }
        double e = fabs(nf[i] - nr[i]) / nr[i];
        en = e > en || e != e ? e : en;
        for (int d = 0; d < D; d++) {
            double g = fabs((double)dyf[(size_t)i * D + d] - dyr[(size_t)i * D + d]);
            ed = g > ed || g != g ? g : ed;
        }
    }
    if (verbose()) fprintf(stderr, "  info fast vs ref: nll rel %.2g, dy abs %.2g\n", en, ed);
    CHECK(en < 1e-6);
    CHECK(ed < 3e-7);
    CHECK(zeros);
    /* one thread: the same bits (rows are independent) */
    float *dy1 = malloc((size_t)N * D * sizeof *dy1);
    double n1[N];
    int th = omp_get_max_threads();
    omp_set_num_threads(1);
    gb_softmax_fast(N, D, y, t, w, NULL, n1, dy1);
    omp_set_num_threads(th);
    CHECK(memcmp(dy1, dyf, (size_t)N * D * sizeof *dy1) == 0);
    CHECK(memcmp(n1, nf, sizeof n1) == 0);
    /* a bad id in a weighted row; keys */
    float tb[2] = {(float)D, 3};
    uint8_t *keys = calloc(D, 1);
    keys[3] = 1;
    double n3;
    gb_softmax_ref(1, D, y + D, tb + 1, NULL, NULL, &n3, NULL);
    for (int f = 0; f < 2; f++) {
        double nn[2];
        (f ? gb_softmax_fast : gb_softmax_ref)(2, D, y, tb, NULL, keys, nn, dy1);
        CHECK(isnan(nn[0]) && isnan(dy1[0]) && isnan(dy1[D - 1]));
        CHECK_NEAR(nn[1], n3, 1e-6 * n3);
        tb[1] = 4;
        (f ? gb_softmax_fast : gb_softmax_ref)(2, D, y, tb, NULL, keys, nn, NULL);
        CHECK(nn[1] == 0); /* class 4 is filtered out */
        tb[1] = 3;
    }
    free(keys), free(y), free(dyf), free(dyr), free(dy1);
}

/* ------------------------------------------------------------------------------------------ */
/* sampling */

/* The oracle: the definition in softmax.h, written out plainly. Writes the kept ids in the
 * order most likely first (ties: lower id) and their probabilities into ids, p; returns the
 * count. Without top-k and top-p it keeps every class of positive probability, most likely
 * first too (the library walks them in id order then: compared as sets). */
static int oracle(int D, const float *l, double temp, int k, double top_p, int *ids, double *p) {
    double *z = malloc((size_t)D * sizeof *z);
    int *used = calloc(D, sizeof *used), n = 0;
    double zmax = -INFINITY;
    for (int j = 0; j < D; j++) {
        z[j] = l[j] != l[j] ? -INFINITY : l[j] / temp;
        if (z[j] > zmax) zmax = z[j];
    }
    for (int i = 0; i < D; i++) { /* selection: the most likely unused, lowest id first */
        int b = -1;
        for (int j = 0; j < D; j++)
            if (!used[j] && (b < 0 || z[j] > z[b])) b = j;
        double pb = exp(z[b] - zmax);
        if (!(pb > 0)) break;
        used[b] = 1, ids[n] = b, p[n++] = pb;
    }
    if (k > 0 && k < n) n = k;
    double tot = 0;
    for (int i = 0; i < n; i++) tot += p[i];
    for (int i = 0; i < n; i++) p[i] /= tot;
    if (top_p > 0 && top_p < 1) {
        double c = 0;
        int m = 0;
        while (m < n && c < top_p) c += p[m++];
        n = m;
        for (int i = 0; i < n; i++) p[i] /= c;
    }
    free(z), free(used);
    return n;
}

/* gb_softmax_filter against the oracle over 2000 random cases: D of 1, 2, 7 and 388; logits
 * continuous, or on a coarse grid (ties), with some -inf and NaN; temperatures 0.3..3; top-k
 * of 0 (none), 1, 3, 50, D, D + 4; top-p of 0 (none), 0.1, 0.5, 0.9, 0.999, 1. The kept set
 * and its order must be the oracle's (as a set where no filter sorts), the probabilities within
 * 1e-12. And the properties the options promise, on each case: top-k never keeps a class below
 * the k-th most likely; top-p's set has mass >= p, and without its last class < p. */
static void test_filter_vs_oracle(void) {
    enum { DMAX = 388 };
    gb_rng r;
    gb_rng_seed(&r, 11);
    float l[DMAX];
    int ids[DMAX], Ds[4] = {1, 2, 7, DMAX}, ks[6] = {0, 1, 3, 50, -1, -2};
    double p[DMAX], ps[6] = {0, 0.1, 0.5, 0.9, 0.999, 1};
    gb_softmax_item *w = malloc(DMAX * sizeof *w);
    long bad_set = 0, bad_p = 0, bad_k = 0, bad_mass = 0, cases = 0;
    for (int it = 0; it < 2000; it++) {
        int D = Ds[it % 4], grid = it % 3 == 0;
        for (int j = 0; j < D; j++) {
            float v = 8 * gb_rng_float(&r) - 4;
            l[j] = grid ? roundf(v) : v;
            if (D > 2 && gb_rng_float(&r) < 0.05f) l[j] = gb_rng_float(&r) < 0.5f ? -INFINITY : NAN;
        }
        l[gb_rng_below(&r, D)] = 1.5f; /* at least one finite logit */
        float temp = 0.3f + 2.7f * gb_rng_float(&r);
        int k = ks[gb_rng_below(&r, 6)];
        k = k == -1 ? D : k == -2 ? D + 4 : k;
        double tp = ps[gb_rng_below(&r, 6)];
        int n = gb_softmax_filter(D, l, temp, k, (float)tp, w);
        int no = oracle(D, l, temp, k, (float)tp, ids, p);
        cases++;
        int sorted = (k > 0 && k < D) || (tp > 0 && tp < 1);
        if (n != no) {
            bad_set++;
            continue;
        }
        if (sorted) {
            for (int i = 0; i < n; i++) {
                bad_set += w[i].id != ids[i];
                bad_p += fabs(w[i].p - p[i]) > 1e-12;
            }
        } else { /* id order: look each up */
            for (int i = 0; i < n; i++) {
                int at = -1;
                for (int q = 0; q < no; q++) at = ids[q] == w[i].id ? q : at;
                bad_set += at < 0 || (i && w[i].id <= w[i - 1].id);
                bad_p += at >= 0 && fabs(w[i].p - p[at]) > 1e-12;
            }
        }
        /* top-k: nothing kept is less likely than a class left out among the k best */
        if (k > 0 && k < D) {
            double lowest = INFINITY;
            for (int i = 0; i < n; i++) lowest = fmin(lowest, (double)l[w[i].id]);
            int above = 0; /* classes strictly more likely than the least likely kept one */
            for (int j = 0; j < D; j++) above += l[j] == l[j] && l[j] > lowest;
            bad_k += n > k || above >= k;
        }
        /* top-p: mass of the kept (under the top-k distribution) >= p, and < p without the
         * last; recomputed from the oracle's top-k-only distribution */
        if (tp > 0 && tp < 1) {
            int nk = oracle(D, l, temp, k, 1.0, ids, p);
            double c = 0, c_less = 0;
            for (int i = 0; i < n; i++) {
                for (int q = 0; q < nk; q++)
                    if (ids[q] == w[i].id) c += p[q], c_less += i < n - 1 ? p[q] : 0;
            }
            bad_mass += !(c >= tp * (1 - 1e-12)) || !(c_less < tp * (1 + 1e-12));
        }
    }
    if (verbose() || bad_set || bad_p || bad_k || bad_mass)
        fprintf(stderr, "  filter: %ld cases; bad set %ld, p %ld, top-k %ld, top-p mass %ld\n",
                cases, bad_set, bad_p, bad_k, bad_mass);
    CHECK_INT(bad_set, 0);
    CHECK_INT(bad_p, 0);
    CHECK_INT(bad_k, 0);
    CHECK_INT(bad_mass, 0);
    free(w);
}

/* Chi-square statistic of counts against probabilities p (n classes, N draws), and the count
 * of draws outside the classes. */
static double chi2(const long *count, const double *p, int n, long N) {
    double x = 0;
    for (int i = 0; i < n; i++) {
        double e = p[i] * N;
        x += (count[i] - e) * (count[i] - e) / e;
    }
    return x;
}

/* The draws' frequencies against the distribution they should follow, N = 200000 draws each,
 * by Pearson's chi-square: D = 8 logits, (temperature, top-k, top-p) = (1, none, none),
 * (0.7, none, none), (2, none, none), (1, 3, none), (1, none, 0.8), (0.5, 5, 0.9). The expected
 * probabilities are the oracle's (the definition). The test's rng seed is fixed, so the
 * statistics are fixed numbers (measured in GB_TEST_VERBOSE); the bound is the chi-square's
 * 0.9999 quantile for the case's degrees of freedom (at most 7: 29.9), so a true sampler
 * passes a fresh seed with probability 0.9999, while an error of 0.005 in the probability of a
 * class near 0.1 adds about 0.005^2 N / 0.1 = 50 and fails. Draws outside the kept set (the
 * top-k's k best, the nucleus): none. */
static void test_sample_frequencies(void) {
    enum { D = 8, N = 200000 };
    const float l[D] = {0.3f, -1.2f, 2.0f, 0.9f, -0.4f, 1.7f, 0.0f, -2.5f};
    const struct {
        float temp;
        int k;
        float p;
    } cs[6] = {{1, 0, 0}, {0.7f, 0, 0}, {2, 0, 0}, {1, 3, 0}, {1, 0, 0.8f}, {0.5f, 5, 0.9f}};
    /* 0.9999 quantiles of chi-square with 1..7 degrees of freedom */
    const double q9999[8] = {0, 15.14, 18.42, 21.11, 23.51, 25.74, 27.86, 29.88};
    gb_softmax_item w[D];
    for (int c = 0; c < 6; c++) {
        int ids[D];
        double p[D];
        int n = oracle(D, l, cs[c].temp, cs[c].k, cs[c].p, ids, p);
        long cnt[D] = {0}, outside = 0;
        gb_rng r;
        gb_rng_seed(&r, 100 + c);
        for (long i = 0; i < N; i++) {
            int id = gb_softmax_sample(D, l, cs[c].temp, cs[c].k, cs[c].p, &r, w);
            int at = -1;
            for (int q = 0; q < n; q++) at = ids[q] == id ? q : at;
            if (at < 0) outside++;
            else cnt[at]++;
        }
        double x = chi2(cnt, p, n, N);
        if (verbose() || x >= q9999[n - 1] || outside)
            fprintf(stderr, "  info sample T %.1f k %d p %.1f: %d classes, chi2 %.2f (bound %.2f), "
                    "outside %ld\n", (double)cs[c].temp, cs[c].k, (double)cs[c].p, n, x,
                    q9999[n - 1], outside);
        CHECK(n >= 2);
        CHECK(x < q9999[n - 1]);
        CHECK_INT(outside, 0);
    }
    /* top-k 3: exactly the 3 best, {2, 5, 3} */
    int ids[D];
    double p[D];
    CHECK_INT(oracle(D, l, 1, 3, 0, ids, p), 3);
    CHECK(ids[0] == 2 && ids[1] == 5 && ids[2] == 3);
}

/* Greedy (temperature 0): the most likely class, the lower id among equals, no number drawn;
 * the same seed gives the same draws, another seed others; the degenerate logits. */
static void test_sample_edges(void) {
    float l[5] = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
    gb_softmax_item w[5];
    gb_rng r, r0;
    gb_rng_seed(&r, 3);
    r0 = r;
    CHECK_INT(gb_softmax_sample(5, l, 0.0f, 0, 0, &r, w), 1);
    CHECK_INT(gb_softmax_sample(5, l, -1.0f, 2, 0.5f, &r, w), 1);
    CHECK(memcmp(&r, &r0, sizeof r) == 0); /* nothing drawn */
    /* top-k 1 and a tiny top-p are greedy too, but draw */
    CHECK_INT(gb_softmax_sample(5, l, 1.0f, 1, 0, &r, w), 1);
    CHECK_INT(gb_softmax_sample(5, l, 1.0f, 0, 1e-6f, &r, w), 1);
    CHECK(memcmp(&r, &r0, sizeof r) != 0);
    /* determinism */
    int a[1000], b[1000], c[1000];
    gb_rng ra, rb, rc;
    gb_rng_seed(&ra, 42), gb_rng_seed(&rb, 42), gb_rng_seed(&rc, 43);
    int same = 1, diff = 0;
    for (int i = 0; i < 1000; i++) {
        a[i] = gb_softmax_sample(5, l, 1.3f, 4, 0.95f, &ra, w);
        b[i] = gb_softmax_sample(5, l, 1.3f, 4, 0.95f, &rb, w);
        c[i] = gb_softmax_sample(5, l, 1.3f, 4, 0.95f, &rc, w);
        same &= a[i] == b[i];
        diff += a[i] != c[i];
    }
    CHECK(same);
    CHECK(diff > 100);
    /* every logit -inf or NaN: nothing to draw; +inf logits share the mass; NaN never drawn */
    float none[3] = {-INFINITY, NAN, -INFINITY};
    CHECK_INT(gb_softmax_filter(3, none, 1.0f, 0, 0, w), 0);
    CHECK_INT(gb_softmax_sample(3, none, 1.0f, 0, 0, &r, w), -1);
    CHECK_INT(gb_softmax_sample(3, none, 0.0f, 0, 0, &r, w), -1);
    float inf[4] = {INFINITY, 3, INFINITY, NAN};
    CHECK_INT(gb_softmax_filter(4, inf, 1.0f, 0, 0, w), 2);
    CHECK(w[0].id == 0 && w[1].id == 2 && w[0].p == 0.5 && w[1].p == 0.5);
    float nan1[3] = {NAN, 0, 0};
    int seen0 = 0;
    for (int i = 0; i < 2000; i++) seen0 += gb_softmax_sample(3, nan1, 1.0f, 0, 0, &r, w) == 0;
    CHECK_INT(seen0, 0);
    /* one class */
    float one = -7;
    CHECK_INT(gb_softmax_sample(1, &one, 1.0f, 0, 0.5f, &r, w), 0);
}

int main(void) {
    RUN(test_fast_vs_ref);
    RUN(test_filter_vs_oracle);
    RUN(test_sample_frequencies);
    RUN(test_sample_edges);
    TEST_END();
}
