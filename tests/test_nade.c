/* test_nade.c - the NADE head of src/model/nade.h: the fast path against the double reference
 * (nll, dy, dW, dV; zero-weight rows, key subsets, sizes with Hn not a multiple of 8, batches
 * large enough for threads), the reference against the definition (a normalised distribution:
 * the probabilities of all 2^D steps sum to 1; each key's nll is the conditional worked out from
 * the joint by enumeration; W = V = 0 is independent BCE), sampling against the distribution it
 * samples (frequencies of 200k draws, temperature, the greedy choice at 0), and the model-level
 * wrappers gb_step_nll and gb_loss against the reference. */
#include "model/nade.h"
#include "test.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

static void fill(float *v, size_t n, gb_rng *r, float lo, float hi) {
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * gb_rng_float(r);
}

static float *falloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static int verbose(void) { return getenv("GB_TEST_VERBOSE") != NULL; }

static double softplus(double l) { return (l > 0 ? l : 0) + log1p(exp(-fabs(l))); }

/* A NADE problem of n rows: W, V (D, Hn), y (n, D + Hn), x (n, D) binary. */
typedef struct {
    int n, D, Hn;
    float *W, *V, *y, *x;
} nprob;

static void nprob_new(nprob *p, int n, int D, int Hn, float wscale, float density, gb_rng *r) {
    p->n = n, p->D = D, p->Hn = Hn;
    p->W = falloc((size_t)D * Hn), p->V = falloc((size_t)D * Hn);
    p->y = falloc((size_t)n * (D + Hn)), p->x = falloc((size_t)n * D);
    fill(p->W, (size_t)D * Hn, r, -wscale, wscale);
    fill(p->V, (size_t)D * Hn, r, -wscale, wscale);
    fill(p->y, (size_t)n * (D + Hn), r, -3, 3);
    for (size_t i = 0; i < (size_t)n * D; i++) p->x[i] = gb_rng_float(r) < density;
}

static void nprob_free(nprob *p) { free(p->W), free(p->V), free(p->y), free(p->x); }

/* max |a - b| / max |b|: an error on the scale of the tensor */
static double rel_max(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= d)) d = e; /* NaN sticks */
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return s > 0 ? d / s : d;
}

/* ------------------------------------------------------------------------------------------ */
/* fast against reference */

/* gb_nade_fast (float, vectorised sigmoid of relative error ~2e-7, rows over threads, per-thread
 * dW/dV summed after) against gb_nade_ref (double, one row at a time), at sizes from D = Hn = 1
 * to D = 256, with Hn of 1, 3, 7, 37, 260 (not multiples of 8: the vector loops' tails) and
 * batches where n D Hn >= 2^18, so that the fast path runs on threads. W, V in [-1, 1] (larger
 * than the init's, so that h is far from 1/2), y in [-3, 3], x of density 0.3, row weights in
 * [0, 1) with every fourth row 0, keys NULL and a random half; row 0 all notes, row 1 none.
 * Errors, measured (worst over the sizes): nll 2.2e-7 relative to sum_k softplus(|b_v[k]|) + 1
 * over the selected keys (the size of the row's terms);
 * dy 4.7e-7, dW 3.2e-7, dV 2.8e-7 of the tensor's largest |value|. Float rounding of sums over Hn
 * (up to 260) and over n rows, and the sigmoid's 2e-7, account for that. Bounds: 5e-6 for all,
 * ~10x the measured, and far below a wrong term (a missing x_k, an off-by-one in the running
 * sum of da: errors of the size of the values themselves). Exact checks: a row of weight 0
 * gets dy = 0 but its nll; keys change nll only, never dy, dW, dV; dW and dV are added to (to
 * float rounding: the threads' sums go in one after the other);
 * repeated runs give the same bits (a static schedule, the thread buffers summed in order). */
static void check_fast(int n, int D, int Hn, uint64_t seed) {
    gb_rng r;
    gb_rng_seed(&r, seed);
    nprob p;
    nprob_new(&p, n, D, Hn, 1.0f, 0.3f, &r);
    /* the fast path keeps one h per run of features between two notes: a row of all notes
     * (D runs) and a row of none (one run) are its extremes */
    for (int k = 0; k < D; k++) {
        p.x[k] = 1.0f;
        if (n > 1) p.x[(size_t)D + k] = 0.0f;
    }
    int Dout = D + Hn;
    size_t dh = (size_t)D * Hn, ny = (size_t)n * Dout;
    float *wrow = falloc(n);
    for (int i = 0; i < n; i++) wrow[i] = i % 4 == 3 ? 0.0f : gb_rng_float(&r);
    uint8_t *keys = calloc(D > 0 ? (size_t)D : 1, 1);
    for (int k = 0; k < D; k++) keys[k] = gb_rng_float(&r) < 0.5f;
    double worst[4] = {0}; /* nll, dy, dW, dV */
    for (int ki = 0; ki < 2; ki++) {
        const uint8_t *kk = ki ? keys : NULL;
        double *nr = malloc(n * sizeof *nr), *nf = malloc(n * sizeof *nf);
        float *dyr = falloc(ny), *dyf = falloc(ny), *dWr = falloc(dh), *dWf = falloc(dh);
        float *dVr = falloc(dh), *dVf = falloc(dh);
        gb_nade_ref(n, D, Hn, p.W, p.V, p.y, p.x, wrow, kk, nr, dyr, dWr, dVr);
        gb_nade_fast(n, D, Hn, p.W, p.V, p.y, p.x, wrow, kk, nf, dyf, dWf, dVf);
        /* nll against the size of the row's terms, the scale of its rounding */
        for (int i = 0; i < n; i++) {
            double scale = 0;
            for (int k = 0; k < D; k++)
                if (!kk || kk[k]) scale += softplus(fabs((double)p.y[(size_t)i * Dout + k])) + 1;
            double e = fabs(nf[i] - nr[i]) / scale;
            if (!(e <= worst[0])) worst[0] = e;
        }
        double e[3] = {rel_max(dyf, dyr, ny), rel_max(dWf, dWr, dh), rel_max(dVf, dVr, dh)};
        for (int j = 0; j < 3; j++)
            if (!(e[j] <= worst[j + 1])) worst[j + 1] = e[j];
        /* rows of weight 0: no gradient, their nll all the same */
        int zero_ok = 1;
        for (int i = 3; i < n; i += 4)
            for (int d = 0; d < Dout; d++)
                zero_ok &= dyr[(size_t)i * Dout + d] == 0 && dyf[(size_t)i * Dout + d] == 0;
        CHECK(zero_ok);
        /* the same run again: the same bits; and nll alone, gradients alone */
        double *nf2 = malloc(n * sizeof *nf2), *nf3 = malloc(n * sizeof *nf3);
        float *dyf2 = falloc(ny), *dWf2 = falloc(dh), *dVf2 = falloc(dh);
        for (size_t i = 0; i < dh; i++) dWf2[i] = 1.0f, dVf2[i] = -1.0f; /* added to */
        gb_nade_fast(n, D, Hn, p.W, p.V, p.y, p.x, wrow, kk, nf2, dyf2, dWf2, dVf2);
        CHECK(memcmp(nf2, nf, n * sizeof *nf) == 0);
        CHECK(memcmp(dyf2, dyf, ny * sizeof *dyf) == 0);
        int added = 1; /* to float rounding: the threads' sums go in one after the other */
        for (size_t i = 0; i < dh; i++)
            added &= fabsf(dWf2[i] - (1.0f + dWf[i])) <= 5e-7f * (1 + fabsf(dWf[i])) &&
                     fabsf(dVf2[i] - (-1.0f + dVf[i])) <= 5e-7f * (1 + fabsf(dVf[i]));
        CHECK(added);
        gb_nade_fast(n, D, Hn, p.W, p.V, p.y, p.x, NULL, kk, nf3, NULL, NULL, NULL);
        CHECK(memcmp(nf3, nf, n * sizeof *nf) == 0); /* weights do not change the nll */
        memset(dyf2, 0, ny * sizeof *dyf2), memset(dWf2, 0, dh * 4), memset(dVf2, 0, dh * 4);
        gb_nade_fast(n, D, Hn, p.W, p.V, p.y, p.x, wrow, kk, NULL, dyf2, dWf2, dVf2);
        CHECK(memcmp(dyf2, dyf, ny * sizeof *dyf) == 0);
        CHECK(memcmp(dWf2, dWf, dh * sizeof *dWf) == 0);
        if (ki == 1) { /* keys leave the gradients (of every feature) alone */
            memset(dyf2, 0, ny * 4), memset(dWf2, 0, dh * 4), memset(dVf2, 0, dh * 4);
            gb_nade_fast(n, D, Hn, p.W, p.V, p.y, p.x, wrow, NULL, NULL, dyf2, dWf2, dVf2);
            CHECK(memcmp(dyf2, dyf, ny * sizeof *dyf) == 0);
            CHECK(memcmp(dWf2, dWf, dh * sizeof *dWf) == 0);
            CHECK(memcmp(dVf2, dVf, dh * sizeof *dVf) == 0);
        }
        free(nr), free(nf), free(nf2), free(nf3), free(dyr), free(dyf), free(dWr), free(dWf);
        free(dVr), free(dVf), free(dyf2), free(dWf2), free(dVf2);
    }
    int threaded = (long)n * D * Hn >= 1L << 18;
    if (verbose() || !(worst[0] <= 5e-6 && worst[1] <= 5e-6 && worst[2] <= 5e-6 &&
                       worst[3] <= 5e-6))
        fprintf(stderr, "  info n %d D %d Hn %d%s: nll %.2g, dy %.2g, dW %.2g, dV %.2g\n", n, D,
                Hn, threaded ? " (threads)" : "", worst[0], worst[1], worst[2], worst[3]);
    for (int j = 0; j < 4; j++) CHECK(worst[j] <= 5e-6);
    free(wrow), free(keys);
    nprob_free(&p);
}

static void test_fast_vs_ref(void) {
    int sizes[][3] = {{1, 1, 1},    {3, 5, 3},    {7, 13, 7},  {24, 128, 16},
                      {5, 4, 260},  {64, 128, 37}, {20, 256, 64}, {17, 64, 260}}; /* n, D, Hn */
    int threaded = 0;
    for (int i = 0; i < 8; i++) {
        check_fast(sizes[i][0], sizes[i][1], sizes[i][2], 100 + i);
        threaded += (long)sizes[i][0] * sizes[i][1] * sizes[i][2] >= 1L << 18;
    }
    CHECK_INT(threaded, 3); /* the last three use the threaded path */
    if (verbose()) fprintf(stderr, "  info omp threads %d\n", omp_get_max_threads());
}

/* ------------------------------------------------------------------------------------------ */
/* the distribution */

/* Row b of the bits of v: x (D). */
static void bits(unsigned v, int D, float *x) {
    for (int k = 0; k < D; k++) x[k] = (float)((v >> k) & 1);
}

/* A normalised distribution: over all 2^D binary steps, sum exp(-nll) = 1, for the reference
 * (double: to 1e-12) and the fast path (float nll with errors ~1e-7 each: to 1e-6). And the keys
 * select the right conditionals: for keys = {k}, exp(-nll) must be p(x_k | x_<k) worked out from
 * the joint, sum over x_>k of p(x) / sum over x_>=k of p(x) (reference to 1e-10; fast 1e-6);
 * for keys = the first m features, the prefix's marginal, summing to 1 over the 2^m prefixes;
 * any subset the sum of its members' conditionals. W, V in [-2, 2]: strongly dependent
 * features, so that a conditional computed with the wrong prefix would be far off. */
static void check_normalised(int D, int Hn, uint64_t seed) {
    gb_rng r;
    gb_rng_seed(&r, seed);
    nprob p;
    int N = 1 << D, Dout = D + Hn;
    nprob_new(&p, N, D, Hn, 2.0f, 0.5f, &r);
    fill(p.y, Dout, &r, -2, 2); /* one step's y, copied to every row */
    for (int i = 1; i < N; i++) memcpy(p.y + (size_t)i * Dout, p.y, Dout * sizeof(float));
    for (int i = 0; i < N; i++) bits((unsigned)i, D, p.x + (size_t)i * D);
    double *nr = malloc(N * sizeof *nr), *nf = malloc(N * sizeof *nf), *pj = malloc(N * 8);
    gb_nade_ref(N, D, Hn, p.W, p.V, p.y, p.x, NULL, NULL, nr, NULL, NULL, NULL);
    gb_nade_fast(N, D, Hn, p.W, p.V, p.y, p.x, NULL, NULL, nf, NULL, NULL, NULL);
    double sr = 0, sf = 0, pmax = 0;
    for (int i = 0; i < N; i++) {
        pj[i] = exp(-nr[i]), sr += pj[i], sf += exp(-nf[i]);
        if (pj[i] > pmax) pmax = pj[i];
    }
    if (verbose())
        fprintf(stderr, "  info D %d Hn %d: sum p ref %.15f fast %.9f, max p %.3f\n", D, Hn, sr,
                sf, pmax);
    CHECK_NEAR(sr, 1.0, 1e-12);
    CHECK_NEAR(sf, 1.0, 1e-6);
    CHECK(pmax < 0.9); /* not a point mass: the sum tests something */
    /* keys = {k}: the conditionals, from the joint */
    uint8_t *keys = calloc(D, 1);
    double worst_r = 0, worst_f = 0;
    for (int k = 0; k < D; k++) {
        memset(keys, 0, D), keys[k] = 1;
        gb_nade_ref(N, D, Hn, p.W, p.V, p.y, p.x, NULL, keys, nr, NULL, NULL, NULL);
        gb_nade_fast(N, D, Hn, p.W, p.V, p.y, p.x, NULL, keys, nf, NULL, NULL, NULL);
        for (int i = 0; i < N; i++) {
            /* P(x_<=k as in i) and P(x_<k as in i): sums over the completions */
            unsigned lo = (unsigned)i & ((1u << k) - 1), le = (unsigned)i & ((2u << k) - 1);
            double num = 0, den = 0;
            for (int j = 0; j < N; j++) {
                if (((unsigned)j & ((2u << k) - 1)) == le) num += pj[j];
                if (((unsigned)j & ((1u << k) - 1)) == lo) den += pj[j];
            }
            double want = num / den, er = fabs(exp(-nr[i]) - want), ef = fabs(exp(-nf[i]) - want);
            if (er > worst_r) worst_r = er;
            if (ef > worst_f) worst_f = ef;
        }
    }
    if (verbose())
        fprintf(stderr, "  info D %d: conditionals from the joint: ref %.2g, fast %.2g\n", D,
                worst_r, worst_f);
    CHECK(worst_r < 1e-10);
    CHECK(worst_f < 1e-6);
    /* keys = the first m: the marginal of the prefix; over the 2^m prefixes (rows i < 2^m, the
     * features above m off) it sums to 1 */
    for (int m = 1; m < D; m++) {
        memset(keys, 0, D), memset(keys, 1, m);
        gb_nade_fast(N, D, Hn, p.W, p.V, p.y, p.x, NULL, keys, nf, NULL, NULL, NULL);
        gb_nade_ref(N, D, Hn, p.W, p.V, p.y, p.x, NULL, keys, nr, NULL, NULL, NULL);
        double s = 0, sr2 = 0;
        for (int i = 0; i < (1 << m); i++) s += exp(-nf[i]), sr2 += exp(-nr[i]);
        CHECK_NEAR(s, 1.0, 1e-6);
        CHECK_NEAR(sr2, 1.0, 1e-12);
    }
    /* a random subset: the sum of its members' nll */
    double *one = malloc(N * sizeof *one), *sum = calloc(N, sizeof *sum);
    uint8_t *sub = calloc(D, 1);
    for (int k = 0; k < D; k++) sub[k] = k % 3 != 1;
    for (int k = 0; k < D; k++) {
        if (!sub[k]) continue;
        memset(keys, 0, D), keys[k] = 1;
        gb_nade_ref(N, D, Hn, p.W, p.V, p.y, p.x, NULL, keys, one, NULL, NULL, NULL);
        for (int i = 0; i < N; i++) sum[i] += one[i];
    }
    gb_nade_ref(N, D, Hn, p.W, p.V, p.y, p.x, NULL, sub, nr, NULL, NULL, NULL);
    gb_nade_fast(N, D, Hn, p.W, p.V, p.y, p.x, NULL, sub, nf, NULL, NULL, NULL);
    for (int i = 0; i < N; i++) {
        CHECK_NEAR(nr[i], sum[i], 1e-12 * (1 + sum[i]));
        CHECK_NEAR(nf[i], sum[i], 1e-5 * (1 + sum[i]));
    }
    free(nr), free(nf), free(pj), free(keys), free(one), free(sum), free(sub);
    nprob_free(&p);
}

static void test_normalised(void) {
    check_normalised(6, 5, 1);
    check_normalised(10, 3, 2);
    check_normalised(8, 17, 3);
}

/* W = V = 0: the features are independent, p(x_k = 1) = sigmoid(b_v[k]), whatever b_h: the nll
 * is the BCE of the logits b_v, d b_v = (sigmoid(b_v) - x) w, d b_h = 0, dW = 0 and
 * dV_k = sum_rows dl_k sigmoid(b_h), written here in double; both paths to float rounding
 * (1e-6 relative). */
static void test_zero_weights(void) {
    enum { n = 5, D = 9, Hn = 6, Dout = D + Hn };
    gb_rng r;
    gb_rng_seed(&r, 8);
    float W[D * Hn] = {0}, V[D * Hn] = {0}, y[n * Dout], x[n * D], wrow[n];
    fill(y, n * Dout, &r, -4, 4);
    for (int i = 0; i < n * D; i++) x[i] = gb_rng_float(&r) < 0.4f;
    fill(wrow, n, &r, 0.5f, 1.5f);
    double nll_want[n], dV_want[D * Hn] = {0};
    for (int i = 0; i < n; i++) {
        nll_want[i] = 0;
        for (int k = 0; k < D; k++) {
            double l = y[i * Dout + k], t = x[i * D + k];
            nll_want[i] += softplus(l) - t * l;
            double dl = (1 / (1 + exp(-l)) - t) * wrow[i];
            for (int j = 0; j < Hn; j++)
                dV_want[k * Hn + j] += dl / (1 + exp(-(double)y[i * Dout + D + j]));
        }
    }
    for (int fast = 0; fast < 2; fast++) {
        double nll[n];
        float dy[n * Dout], dW[D * Hn] = {0}, dV[D * Hn] = {0};
        (fast ? gb_nade_fast : gb_nade_ref)(n, D, Hn, W, V, y, x, wrow, NULL, nll, dy, dW, dV);
        for (int i = 0; i < n; i++) {
            CHECK_NEAR(nll[i], nll_want[i], 1e-6 * nll_want[i]);
            for (int k = 0; k < D; k++) {
                double l = y[i * Dout + k];
                CHECK_NEAR(dy[i * Dout + k], (1 / (1 + exp(-l)) - x[i * D + k]) * wrow[i], 1e-6);
            }
            for (int j = 0; j < Hn; j++) CHECK(dy[i * Dout + D + j] == 0.0f);
        }
        for (int i = 0; i < D * Hn; i++) {
            CHECK(dW[i] == 0.0f);
            CHECK_NEAR(dV[i], dV_want[i], 1e-6 * (1 + fabs(dV_want[i])));
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* sampling */

/* The probability, under the reference, of each of the 2^D steps: p[v] (no temperature). */
static void joint(int D, int Hn, const float *W, const float *V, const float *y, double *p) {
    int N = 1 << D;
    float *ys = falloc((size_t)N * (D + Hn)), *xs = falloc((size_t)N * D);
    double *nll = malloc(N * sizeof *nll);
    for (int i = 0; i < N; i++) {
        memcpy(ys + (size_t)i * (D + Hn), y, (D + Hn) * sizeof(float));
        bits((unsigned)i, D, xs + (size_t)i * D);
    }
    gb_nade_ref(N, D, Hn, W, V, ys, xs, NULL, NULL, nll, NULL, NULL, NULL);
    for (int i = 0; i < N; i++) p[i] = exp(-nll[i]);
    free(ys), free(xs), free(nll);
}

/* p(x_k = 1 | x_<k) under the reference, for the prefix of x. */
static double cond1(int D, int Hn, const float *W, const float *V, const float *y, const float *x,
                    int k) {
    float *xx = falloc(D);
    memcpy(xx, x, k * sizeof(float));
    xx[k] = 1;
    uint8_t *keys = calloc(D, 1);
    keys[k] = 1;
    double nll;
    gb_nade_ref(1, D, Hn, W, V, y, xx, NULL, keys, &nll, NULL, NULL, NULL);
    free(xx), free(keys);
    return exp(-nll);
}

/* Draws N steps at a temperature and compares the frequencies of the 2^D outcomes with want[]:
 * each within 5 standard errors, sqrt(p (1 - p) / N) (16 outcomes: a false alarm has
 * probability ~1e-5 with fresh seeds, and the seed is fixed). Returns the outcomes off. */
static int sample_freqs(int D, int Hn, const float *W, const float *V, const float *y, float temp,
                        int N, const double *want, uint64_t seed) {
    gb_rng r;
    gb_rng_seed(&r, seed);
    int M = 1 << D, off = 0, other = 0;
    long *count = calloc(M, sizeof *count);
    float x[16], scratch[64];
    for (int s = 0; s < N; s++) {
        gb_nade_sample(D, Hn, W, V, y, temp, &r, x, scratch);
        unsigned v = 0;
        for (int k = 0; k < D; k++) {
            other += x[k] != 0.0f && x[k] != 1.0f;
            v |= (x[k] == 1.0f) << k;
        }
        count[v]++;
    }
    CHECK_INT(other, 0);
    for (int v = 0; v < M; v++) {
        double f = (double)count[v] / N, se = sqrt(want[v] * (1 - want[v]) / N);
        int bad = fabs(f - want[v]) > 5 * se + 1e-12;
        off += bad;
        if (bad || verbose())
            fprintf(stderr, "  %s T %.1f outcome %2d: freq %.5f, p %.5f (%.1f se)\n",
                    bad ? "FAIL" : "info", (double)temp, v, f, want[v],
                    se > 0 ? (f - want[v]) / se : 0.0);
    }
    free(count);
    return off;
}

/* gb_nade_sample draws from the distribution the reference defines: D = 4, 200k draws at
 * temperature 1 against exp(-nll) of each outcome; at temperature 0.5, 100k draws against the
 * product of the tempered conditionals sigmoid(+-l_k / T), l_k the reference's logits; each
 * draw takes exactly D numbers of the rng. */
static void test_sample_distribution(void) {
    enum { D = 4, Hn = 3, M = 1 << D };
    gb_rng r;
    gb_rng_seed(&r, 21);
    float W[D * Hn], V[D * Hn], y[D + Hn];
    fill(W, D * Hn, &r, -2, 2), fill(V, D * Hn, &r, -2, 2), fill(y, D + Hn, &r, -1, 1);
    double p[M], pmin = 1, s = 0;
    joint(D, Hn, W, V, y, p);
    for (int v = 0; v < M; v++) s += p[v], pmin = p[v] < pmin ? p[v] : pmin;
    CHECK_NEAR(s, 1.0, 1e-12);
    if (verbose()) fprintf(stderr, "  info smallest p %.4f\n", pmin);
    CHECK(pmin * 200000 > 50); /* every outcome is seen ~50 times or more (measured: p >= 5e-4,
                                  100 draws): the frequencies test all 16 */
    CHECK_INT(sample_freqs(D, Hn, W, V, y, 1.0f, 200000, p, 5), 0);
    /* tempered: p_T(x) = prod_k sigmoid((2 x_k - 1) l_k / T), l_k = logit of p(x_k = 1 | x_<k) */
    double pt[M], st = 0;
    for (int v = 0; v < M; v++) {
        float x[D];
        bits((unsigned)v, D, x);
        pt[v] = 1;
        for (int k = 0; k < D; k++) {
            double c = cond1(D, Hn, W, V, y, x, k), l = log(c / (1 - c));
            pt[v] *= 1 / (1 + exp(-(2 * x[k] - 1) * l / 0.5));
        }
        st += pt[v];
    }
    CHECK_NEAR(st, 1.0, 1e-12);
    CHECK_INT(sample_freqs(D, Hn, W, V, y, 0.5f, 100000, pt, 6), 0);
    /* D numbers of the rng a draw */
    gb_rng a, b;
    gb_rng_seed(&a, 9), gb_rng_seed(&b, 9);
    float x[D], scratch[Hn];
    gb_nade_sample(D, Hn, W, V, y, 1.0f, &a, x, scratch);
    for (int k = 0; k < D; k++) gb_rng_float(&b);
    CHECK(memcmp(a.s, b.s, sizeof a.s) == 0);
}

/* Temperature 0 is the greedy choice, feature by feature: x_k = 1 exactly where
 * p(x_k = 1 | x_<k as drawn) >= 1/2 under the reference, and no rng is used. Many random steps
 * of D = 40, with Hn = 5 and Hn = 300 (sampling computes h in blocks of 256); conditionals
 * within 1e-6 of 1/2 (float rounding could tip them) are skipped (measured: none). */
static void test_sample_greedy(void) {
    int Hns[2] = {5, 300}, D = 40;
    for (int hi = 0; hi < 2; hi++) {
        int Hn = Hns[hi], bad = 0, ties = 0, ones = 0, steps = 30;
        gb_rng r;
        gb_rng_seed(&r, 30 + hi);
        float *W = falloc((size_t)D * Hn), *V = falloc((size_t)D * Hn), *y = falloc(D + Hn);
        float *x = falloc(D), *scratch = falloc(Hn);
        float sc = 3.0f / sqrtf((float)Hn);
        for (int s = 0; s < steps; s++) {
            fill(W, (size_t)D * Hn, &r, -1, 1), fill(V, (size_t)D * Hn, &r, -sc, sc);
            fill(y, D + Hn, &r, -1, 1);
            gb_rng before = r;
            gb_nade_sample(D, Hn, W, V, y, 0.0f, &r, x, scratch);
            CHECK(memcmp(before.s, r.s, sizeof r.s) == 0);
            for (int k = 0; k < D; k++) {
                double c = cond1(D, Hn, W, V, y, x, k);
                if (fabs(c - 0.5) < 1e-6) {
                    ties++;
                    continue;
                }
                bad += x[k] != (c >= 0.5 ? 1.0f : 0.0f);
                ones += x[k] == 1.0f;
            }
        }
        if (bad || verbose())
            fprintf(stderr, "  %s greedy Hn %d: %d wrong, %d ties, %d on of %d\n",
                    bad ? "FAIL" : "info", Hn, bad, ties, ones, steps * D);
        CHECK_INT(bad, 0);
        CHECK(ties <= 2);
        CHECK(ones > steps * D / 10 && ones < steps * D * 9 / 10); /* both choices are made */
        free(W), free(V), free(y), free(x), free(scratch);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* through the model: gb_step_nll and gb_loss */

/* gb_step_nll: a BCE head's per-step nll is the sum of the selected features' BCE (by hand here),
 * a NADE head's the reference's. gb_loss on a NADE head: the mean over the covered steps of the
 * nll over D, with dy and the NADE's gradients those of the reference with row weights
 * 1 / (rows D) (float rounding: 1e-6 relative to the values' scale). */
static void test_model_wrappers(void) {
    enum { T = 4, B = 3, D = 12, Hn = 5, n = T * B };
    gb_rng r;
    gb_rng_seed(&r, 40);
    gb_lstm_config cl = {.D = D, .H = 2, .L = 1}, cn = cl;
    cn.head = GB_HEAD_NADE, cn.Hn = Hn;
    gb_lstm ml, mn;
    CHECK_INT(gb_lstm_init(&ml, &cl, &r, NULL), GB_OK);
    CHECK_INT(gb_lstm_init(&mn, &cn, &r, NULL), GB_OK);
    fill(mn.p.nade_w, D * Hn, &r, -1, 1), fill(mn.p.nade_v, D * Hn, &r, -1, 1);
    float y[n * (D + Hn)], x[n * D];
    fill(y, n * (D + Hn), &r, -3, 3);
    for (int i = 0; i < n * D; i++) x[i] = gb_rng_float(&r) < 0.3f;
    uint8_t keys[D];
    for (int k = 0; k < D; k++) keys[k] = k % 2 == 0 || k == 7;
    double got[n], want[n];
    for (int ki = 0; ki < 2; ki++) {
        const uint8_t *kk = ki ? keys : NULL;
        /* BCE: the linear head's y rows are D wide */
        gb_step_nll(&ml, y, x, n, kk, got);
        for (int i = 0; i < n; i++) {
            want[i] = 0;
            for (int k = 0; k < D; k++)
                if (!kk || kk[k]) {
                    double l = y[i * D + k];
                    want[i] += softplus(l) - x[i * D + k] * l;
                }
            CHECK_NEAR(got[i], want[i], 1e-9 * (1 + want[i]));
        }
        gb_step_nll(&mn, y, x, n, kk, got);
        gb_nade_ref(n, D, Hn, mn.p.nade_w, mn.p.nade_v, y, x, NULL, kk, want, NULL, NULL, NULL);
        for (int i = 0; i < n; i++) CHECK_NEAR(got[i], want[i], 1e-6 * (1 + want[i]));
    }
    /* gb_loss: windows of 4, 2, 1 steps; ON_ALL covers 7 rows, ON_LAST 3 */
    float mask[n];
    int lens[B] = {4, 2, 1};
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) mask[t * B + b] = t < lens[b];
    double nll[n];
    gb_nade_ref(n, D, Hn, mn.p.nade_w, mn.p.nade_v, y, x, NULL, NULL, nll, NULL, NULL, NULL);
    for (int on = 0; on < 2; on++) {
        float wrow[n];
        int rows = 0;
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                int cov = on == GB_LOSS_ON_ALL ? t < lens[b] : t == lens[b] - 1;
                wrow[t * B + b] = (float)cov, rows += cov;
            }
        CHECK_INT(rows, on == GB_LOSS_ON_ALL ? 7 : 3);
        double lw = 0;
        for (int i = 0; i < n; i++) lw += wrow[i] * nll[i];
        lw /= (double)rows * D;
        for (int i = 0; i < n; i++) wrow[i] = (float)(wrow[i] / ((double)rows * D));
        float dyr[n * (D + Hn)], dWr[D * Hn] = {0}, dVr[D * Hn] = {0}, dy[n * (D + Hn)];
        gb_nade_ref(n, D, Hn, mn.p.nade_w, mn.p.nade_v, y, x, wrow, NULL, NULL, dyr, dWr, dVr);
        gb_lstm_zero_grad(&mn);
        float L = gb_loss(&mn, &mn.g, GB_LOSS_BCE, on, y, x, mask, T, B, dy);
        CHECK_NEAR(L, lw, 1e-6 * lw);
        CHECK(rel_max(dy, dyr, n * (D + Hn)) < 1e-6);
        CHECK(rel_max(mn.g.nade_w, dWr, D * Hn) < 1e-6);
        CHECK(rel_max(mn.g.nade_v, dVr, D * Hn) < 1e-6);
    }
    gb_lstm_free(&ml), gb_lstm_free(&mn);
}

int main(void) {
    RUN(test_fast_vs_ref);
    RUN(test_normalised);
    RUN(test_zero_weights);
    RUN(test_sample_distribution);
    RUN(test_sample_greedy);
    RUN(test_model_wrappers);
    TEST_END();
}
