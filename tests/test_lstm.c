/* test_lstm.c - the LSTM of src/model: finite-difference gradient checks (one cell step, each
 * loss and head, the whole model in both kernel paths against a double oracle written here:
 * every parameter block, dropout on each of its three sites, extra inputs (E), short windows,
 * the NADE head, token input and the softmax head), the fast path against the reference at a
 * realistic size, token input against the one-hot input it stands for, the dropout masks,
 * initialisation, clipping, Adam and AdamW by hand, and training smoke tests on a periodic
 * sequence and a periodic token sequence; the vectorised exp, sigmoid and tanh of vmath.h
 * against libm in double and the fast gate kernel against the reference's. (The NADE's own
 * kernels and sampling: tests/test_nade.c; the softmax head's: tests/test_softmax.c.) */
#include "model/kernels.h"
#include "model/vmath.h"
#include "test.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

static void fill(float *v, size_t n, gb_rng *r, float lo, float hi) {
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * gb_rng_float(r);
}

static float *falloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* Five-point central difference: f'(p) = (f(p-2h) - 8 f(p-h) + 8 f(p+h) - f(p+2h)) / 12h, with
 * truncation error O(h^4), so h can be large (1e-2) against float rounding in f. */
#define FD_H 1e-2f
static double fd5(double fm2, double fm1, double fp1, double fp2, float h) {
    return (fm2 - 8 * fm1 + 8 * fp1 - fp2) / (12.0 * h);
}

/* Statistics of an analytic gradient against a numerical one: elements outside
 * atol + rtol * scale (bad), the worst element error, and the relative L2 error of the whole. */
typedef struct {
    double max_err, sum_d2, sum_n2;
    long n, bad;
} gradcmp;

static void gradcmp_add(gradcmp *g, double analytic, double numeric, double atol, double rtol) {
    double d = fabs(analytic - numeric);
    double scale = fabs(numeric) > fabs(analytic) ? fabs(numeric) : fabs(analytic);
    if (d > atol + rtol * scale) g->bad++;
    if (d > g->max_err) g->max_err = d;
    g->sum_d2 += d * d;
    g->sum_n2 += numeric * numeric;
    g->n++;
}

static double gradcmp_rel(const gradcmp *g) {
    return g->sum_n2 > 0 ? sqrt(g->sum_d2 / g->sum_n2) : sqrt(g->sum_d2);
}

/* ------------------------------------------------------------------------------------------ */
/* one cell step */

/* F = sum(rh * h_t) + sum(rc * c_t) over a random step; backward with dh = rh, dc = rc must
 * give dF/d(every weight, bias and input). Tolerance: F sums 12 O(1) float outputs, so its
 * rounding noise is ~2e-7 and the five-point difference at h = 1e-2 carries ~3e-5 of it
 * (measured: max 2e-5); truncation at h^4 is ~1e-8. atol 1e-4 + rtol 1e-3 per element and
 * 3e-4 relative L2 overall sit above that and far below the O(0.1) gradients a wrong formula
 * gives. (The whole model is checked in double below; this is the cell in isolation.) */
typedef struct {
    int B, in, H;
    float *x, *hp, *cp, *wih, *whh, *bih, *bhh, *rh, *rc;
    float *gates, *c, *tc, *h;
} cellp;

static double cell_F(const cellp *p) {
    gb_ref_cell_forward(p->B, p->in, p->H, p->x, p->hp, p->cp, p->wih, p->whh, p->bih, p->bhh,
                        p->gates, p->c, p->tc, p->h);
    double F = 0;
    for (int k = 0; k < p->B * p->H; k++)
        F += (double)p->rh[k] * p->h[k] + (double)p->rc[k] * p->c[k];
    return F;
}

static void test_cell_step_fd(void) {
    gb_rng r;
    gb_rng_seed(&r, 11);
    cellp p = {.B = 2, .in = 3, .H = 3};
    int B = p.B, in = p.in, H = p.H, G = 4 * H;
    float **bufs[] = {&p.x, &p.hp, &p.cp, &p.wih, &p.whh, &p.bih, &p.bhh, &p.rh, &p.rc};
    size_t sizes[] = {B * in, B * H, B * H, G * in, G * H, G, G, B * H, B * H};
    for (int i = 0; i < 9; i++) {
        *bufs[i] = falloc(sizes[i]);
        fill(*bufs[i], sizes[i], &r, -1.0f, 1.0f);
    }
    p.gates = falloc(B * G), p.c = falloc(B * H), p.tc = falloc(B * H), p.h = falloc(B * H);
    float *dw_ih = falloc(G * in), *dw_hh = falloc(G * H), *db_ih = falloc(G), *db_hh = falloc(G);
    float *dx = falloc(B * in), *dhp = falloc(B * H), *dc = falloc(B * H), *dz = falloc(B * G);
    cell_F(&p);
    memcpy(dc, p.rc, B * H * sizeof(float));
    gb_ref_cell_backward(B, in, H, p.x, p.hp, p.cp, p.wih, p.whh, p.gates, p.tc, p.rh, dc, dz,
                         dw_ih, dw_hh, db_ih, db_hh, dx, dhp);
    /* the fast pointwise backward gives the same dz and dc */
    float *dz2 = falloc(B * G), *dc2 = falloc(B * H);
    memcpy(dc2, p.rc, B * H * sizeof(float));
    gb_fast_cell_pointwise_backward(B, H, p.gates, p.cp, p.tc, p.rh, dc2, dz2, 1);
    for (int k = 0; k < B * G; k++) CHECK_NEAR(dz2[k], dz[k], 1e-6);
    for (int k = 0; k < B * H; k++) CHECK_NEAR(dc2[k], dc[k], 1e-6);

    float *wrt[] = {p.x, p.hp, p.cp, p.wih, p.whh, p.bih, p.bhh};
    float *grad[] = {dx, dhp, dc, dw_ih, dw_hh, db_ih, db_hh};
    gradcmp g = {0};
    for (int i = 0; i < 7; i++)
        for (size_t k = 0; k < sizes[i]; k++) {
            float *v = &wrt[i][k], v0 = *v, h = FD_H;
            double f[4];
            float off[4] = {-2 * h, -h, h, 2 * h};
            for (int s = 0; s < 4; s++) *v = v0 + off[s], f[s] = cell_F(&p);
            *v = v0;
            gradcmp_add(&g, grad[i][k], fd5(f[0], f[1], f[2], f[3], h), 1e-4, 1e-3);
        }
    if (getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  info cell: max err %.2g, rel L2 %.2g\n", g.max_err, gradcmp_rel(&g));
    CHECK_INT(g.bad, 0);
    CHECK(gradcmp_rel(&g) < 3e-4);
    CHECK(g.n == 2 * 3 + 2 * 6 + 12 * 6 + 2 * 12);
    for (int i = 0; i < 9; i++) free(*bufs[i]);
    free(p.gates), free(p.c), free(p.tc), free(p.h);
    free(dw_ih), free(dw_hh), free(db_ih), free(db_hh), free(dx), free(dhp), free(dc), free(dz);
    free(dz2), free(dc2);
}

/* The fast step kernels give the same bits on one thread and on several (rows are split, never
 * summed across threads), at a size where the OpenMP threshold lets threads in. */
static void test_step_kernels_threads(void) {
    int B = 64, H = 256, G = 4 * H;
    size_t bg = (size_t)B * G, bh = (size_t)B * H;
    gb_rng r;
    gb_rng_seed(&r, 77);
    float *z = falloc(bg), *bih = falloc(G), *bhh = falloc(G), *cp = falloc(bh), *dh = falloc(bh);
    float *out[2][7];
    fill(z, bg, &r, -3, 3), fill(bih, G, &r, -1, 1), fill(bhh, G, &r, -1, 1);
    fill(cp, bh, &r, -2, 2), fill(dh, bh, &r, -1, 1);
    for (int th = 0; th < 2; th++) {
        float **o = out[th]; /* gates, c, tc, h, dc, dz, (unused) */
        o[0] = falloc(bg), o[1] = falloc(bh), o[2] = falloc(bh), o[3] = falloc(bh);
        o[4] = falloc(bh), o[5] = falloc(bg), o[6] = NULL;
        memcpy(o[0], z, bg * sizeof(float));
        gb_fast_cell_pointwise(B, H, o[0], bih, bhh, cp, o[1], o[2], o[3], th);
        memcpy(o[4], dh, bh * sizeof(float)); /* any dc from step t+1 */
        gb_fast_cell_pointwise_backward(B, H, o[0], cp, o[2], dh, o[4], o[5], th);
    }
    size_t sz[6] = {bg, bh, bh, bh, bh, bg};
    for (int i = 0; i < 6; i++) CHECK(memcmp(out[0][i], out[1][i], sz[i] * sizeof(float)) == 0);
    for (int th = 0; th < 2; th++)
        for (int i = 0; i < 6; i++) free(out[th][i]);
    free(z), free(bih), free(bhh), free(cp), free(dh);
}

/* ------------------------------------------------------------------------------------------ */
/* vmath.h and the gate kernel */

/* Worst absolute and relative error of a function over a set of points. */
typedef struct {
    double abs, rel, at_abs, at_rel;
} errs;

static void errs_add(errs *e, double x, double got, double want, int relative) {
    double d = fabs(got - want);
    if (!(d <= e->abs)) e->abs = d, e->at_abs = x; /* NaN counts as the worst */
    if (relative && want != 0 && !(d / fabs(want) <= e->rel))
        e->rel = d / fabs(want), e->at_rel = x;
}

/* gb_vexpf, gb_vsigmoidf, gb_vtanhf, evaluated in vector loops, against exp, 1 / (1 + exp(-x))
 * and tanh in double, over every 1021st float of magnitude <= 100 (both signs: 2.2M points, a
 * few in every binade down to the smallest subnormal), [-100, 100] in steps of 2^-10, and
 * chosen points (0, -0, the clamps at +-87, the polynomial switch at 0.625, tiny, huge,
 * infinite). Measured: exp relative 8.2e-8 on [-87, 87] (libm's expf, 6.0e-8); sigmoid absolute
 * 8.9e-8 and relative 1.5e-7 for x >= -87 (1 / (1 + expf(-x)): the same); tanh absolute 7.8e-8
 * and relative 1.4e-7 (tanhf: 1.0e-7, 1.6e-7). Bounds: 1.2e-7 (one float ulp of 1) absolute,
 * 1.2e-7 relative for exp and 2e-7 for the others. The functions are plain float arithmetic in
 * a fixed order, so these bits are the same on every machine (gcc). */
static void test_vmath(void) {
    size_t cap = 2 * (0x42C80000u / 1021 + 1) + 204801 + 64, n = 0;
    float *x = falloc(cap), *ye = falloc(cap), *ys = falloc(cap), *yt = falloc(cap);
    for (uint32_t u = 0; u <= 0x42C80000u; u += 1021) /* 0x42C80000: 100.0f */
        for (int neg = 0; neg < 2; neg++) {
            gb_vbits b = {.u = u | (neg ? 0x80000000u : 0)};
            x[n++] = b.f;
        }
    for (int k = -102400; k <= 102400; k++) x[n++] = (float)k / 1024.0f;
    const float special[] = {0.0f, -0.0f, 1e-45f, -1e-45f, 1e-38f, 1e-30f, -1e-20f, 1e-10f,
                             -1e-7f, 3e-4f, 0.625f, -0.625f, nextafterf(0.625f, 0),
                             nextafterf(-0.625f, 0), 9.0f, 20.0f, -43.5f, 86.99f, -86.99f,
                             87.0f, -87.0f, 87.5f, -87.5f, 88.7f, -88.7f, 100.0f, -100.0f};
    int ns = (int)(sizeof special / sizeof *special);
    for (int k = 0; k < ns; k++) x[n++] = special[k];
    CHECK(n <= cap);
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        ye[i] = gb_vexpf(x[i]);
        ys[i] = gb_vsigmoidf(x[i]);
        yt[i] = gb_vtanhf(x[i]);
    }
    errs ee = {0}, es = {0}, et = {0};
    long bad_clamp = 0, bad_tiny = 0, bad_sign = 0;
    float e_lo = gb_vexpf(-87.0f), e_hi = gb_vexpf(87.0f);
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (fabs(v) <= 87)
            errs_add(&ee, v, ye[i], exp(v), 1);
        else
            bad_clamp += ye[i] != (v < 0 ? e_lo : e_hi); /* clamped */
        errs_add(&es, v, ys[i], 1 / (1 + exp(-v)), v >= -87);
        errs_add(&et, v, yt[i], tanh(v), 1);
        if (fabs(v) < 0x1p-13) bad_tiny += yt[i] != x[i]; /* x^3 / 3 below half an ulp of x */
        bad_sign += signbit(yt[i]) != signbit(x[i]); /* odd, -0 included */
    }
    if (getenv("GB_TEST_VERBOSE"))
        fprintf(stderr,
                "  info vmath (%zu points): exp rel %.3g at %.9g; sigmoid abs %.3g at %.9g, rel "
                "%.3g at %.9g; tanh abs %.3g at %.9g, rel %.3g at %.9g\n",
                n, ee.rel, ee.at_rel, es.abs, es.at_abs, es.rel, es.at_rel, et.abs, et.at_abs,
                et.rel, et.at_rel);
    CHECK(ee.rel < 1.2e-7);
    CHECK(es.abs < 1.2e-7);
    CHECK(es.rel < 2e-7);
    CHECK(et.abs < 1.2e-7);
    CHECK(et.rel < 2e-7);
    CHECK_INT(bad_clamp, 0);
    CHECK_INT(bad_tiny, 0);
    CHECK_INT(bad_sign, 0);
    /* exact values and saturation */
    CHECK(gb_vexpf(0.0f) == 1.0f);
    CHECK(gb_vsigmoidf(0.0f) == 0.5f);
    CHECK(gb_vsigmoidf(100.0f) == 1.0f && gb_vsigmoidf(INFINITY) == 1.0f);
    CHECK(gb_vsigmoidf(-100.0f) >= 0 && gb_vsigmoidf(-100.0f) < 2e-38f);
    CHECK(gb_vsigmoidf(-INFINITY) >= 0 && gb_vsigmoidf(-INFINITY) < 2e-38f);
    CHECK(gb_vtanhf(100.0f) == 1.0f && gb_vtanhf(-100.0f) == -1.0f);
    CHECK(gb_vtanhf(INFINITY) == 1.0f && gb_vtanhf(-INFINITY) == -1.0f);
    CHECK(gb_vtanhf(1e-30f) == 1e-30f && gb_vtanhf(-1e-45f) == -1e-45f);
    CHECK(isfinite(gb_vexpf(INFINITY)) && gb_vexpf(-INFINITY) >= 0);
    CHECK(isnan(gb_vexpf(NAN)) && isnan(gb_vsigmoidf(NAN)) && isnan(gb_vtanhf(NAN)));
    free(x), free(ye), free(ys), free(yt);
}

/* gb_fast_cell_pointwise against the pointwise part of gb_ref_cell_forward (libm's expf and
 * tanhf): the reference gets the pre-activations z through an identity W_ih (x = z, W_hh = 0),
 * so both see the same z + b_ih + b_hh up to the order of the additions (an ulp of z at most).
 * z in [-12, 12] (tanh saturates from 9) and [-0.7, 0.7] (tanh's polynomial), c_prev in [-3, 3];
 * H = 37 leaves vector remainders. Measured: gates, c, tanh c 1.2e-7 apart at most, h 6e-8;
 * bound 5e-7 (the two functions' errors and a rounding or two of c), far below what a wrong
 * formula or a swapped gate gives (1e-2 and more). And the kernel's bits are those of
 * vmath.h's functions applied one element at a time here (gcc contracts nothing into FMAs
 * with -std=c11, so every clone computes the same). */
static void test_cell_pointwise_vs_ref(void) {
    int B = 3, H = 37, G = 4 * H, in = G;
    gb_rng r;
    gb_rng_seed(&r, 5);
    float *z = falloc(B * G), *zf = falloc(B * G), *bih = falloc(G), *bhh = falloc(G);
    float *cp = falloc(B * H), *hp = falloc(B * H), *eye = falloc((size_t)G * in);
    float *whh = falloc((size_t)G * H), *gates = falloc(B * G), *c[2], *tc[2], *h[2];
    for (int k = 0; k < 2; k++) c[k] = falloc(B * H), tc[k] = falloc(B * H), h[k] = falloc(B * H);
    for (int rr = 0; rr < G; rr++) eye[(size_t)rr * in + rr] = 1;
    double worst[4] = {0};
    for (int pass = 0; pass < 2; pass++) {
        float zr = pass ? 0.7f : 12.0f;
        fill(z, B * G, &r, -zr, zr), fill(bih, G, &r, -0.1f, 0.1f), fill(bhh, G, &r, -0.1f, 0.1f);
        fill(cp, B * H, &r, -3, 3);
        memcpy(zf, z, B * G * sizeof(float));
        gb_fast_cell_pointwise(B, H, zf, bih, bhh, cp, c[0], tc[0], h[0], 0);
        gb_ref_cell_forward(B, in, H, z, hp, cp, eye, whh, bih, bhh, gates, c[1], tc[1], h[1]);
        const float *pa[4] = {zf, c[0], tc[0], h[0]}, *pb[4] = {gates, c[1], tc[1], h[1]};
        for (int q = 0; q < 4; q++)
            for (int k = 0; k < (q ? B * H : B * G); k++) {
                double d = fabs((double)pa[q][k] - pb[q][k]);
                if (!(d <= worst[q])) worst[q] = d;
            }
#if !defined(__clang__)
        long diff = 0;
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) {
                const float *zb = z + (size_t)b * G;
                float v[4], *gb = zf + (size_t)b * G;
                for (int q = 0; q < 4; q++) {
                    float a = zb[q * H + j] + bih[q * H + j] + bhh[q * H + j];
                    v[q] = q == 2 ? gb_vtanhf(a) : gb_vsigmoidf(a);
                    diff += gb[q * H + j] != v[q];
                }
                int bj = b * H + j;
                float cv = v[1] * cp[bj] + v[0] * v[2], tv = gb_vtanhf(cv);
                diff += c[0][bj] != cv, diff += tc[0][bj] != tv, diff += h[0][bj] != v[3] * tv;
            }
        CHECK_INT(diff, 0);
#endif
    }
    if (getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  info gate kernel vs reference: gates %.2g, c %.2g, tc %.2g, h %.2g\n",
                worst[0], worst[1], worst[2], worst[3]);
    for (int q = 0; q < 4; q++) CHECK(worst[q] < 5e-7);
    free(z), free(zf), free(bih), free(bhh), free(cp), free(hp), free(eye), free(whh), free(gates);
    for (int k = 0; k < 2; k++) free(c[k]), free(tc[k]), free(h[k]);
}

/* ------------------------------------------------------------------------------------------ */
/* the losses alone */

/* A model for gb_loss alone: its head has D (+ Hn) outputs; only its config and (NADE) its W, V
 * matter there. */
static gb_lstm head_model(int D, gb_head_kind head, int Hn) {
    gb_lstm_config c = {.D = D, .H = 2, .L = 1, .head = head, .Hn = Hn};
    gb_lstm m;
    gb_rng r;
    gb_rng_seed(&r, 1);
    CHECK_INT(gb_lstm_init(&m, &c, &r, NULL), GB_OK);
    return m;
}

static void test_loss_values(void) {
    gb_lstm m = head_model(2, GB_HEAD_LINEAR, 0);
    /* T = 2, B = 1, D = 2: hand-computed */
    float y[4] = {0.5f, -1.0f, 0.25f, 2.0f}, t[4] = {1.0f, 0.0f, 0.0f, 1.0f}, dy[4];
    float L = gb_loss(&m, &m.g, GB_LOSS_MSE, GB_LOSS_ON_ALL, y, t, NULL, 2, 1, dy);
    CHECK_NEAR(L, (0.25 + 1.0 + 0.0625 + 1.0) / 4, 1e-7);
    CHECK_NEAR(dy[0], 2 * (0.5 - 1.0) / 4, 1e-7);
    CHECK_NEAR(dy[3], 2 * (2.0 - 1.0) / 4, 1e-7);
    L = gb_loss(&m, &m.g, GB_LOSS_MSE, GB_LOSS_ON_LAST, y, t, NULL, 2, 1, dy);
    CHECK_NEAR(L, (0.0625 + 1.0) / 2, 1e-7);
    CHECK(dy[0] == 0 && dy[1] == 0);
    CHECK_NEAR(dy[2], 2 * 0.25 / 2, 1e-7);
    float z[4] = {0, 0, 0, 0};
    L = gb_loss(&m, &m.g, GB_LOSS_BCE, GB_LOSS_ON_ALL, z, t, NULL, 2, 1, dy);
    CHECK_NEAR(L, log(2.0), 1e-7);
    CHECK_NEAR(dy[0], (0.5 - 1.0) / 4, 1e-7);
    CHECK_NEAR(dy[1], 0.5 / 4, 1e-7);
    /* a short window, mask {1, 0}: step 1 is padding, so both modes cover step 0 alone */
    float half[2] = {1, 0};
    for (int on = 0; on < 2; on++) {
        for (int i = 0; i < 4; i++) dy[i] = 7;
        L = gb_loss(&m, &m.g, GB_LOSS_MSE, on, y, t, half, 2, 1, dy);
        CHECK_NEAR(L, (0.25 + 1.0) / 2, 1e-7);
        CHECK_NEAR(dy[0], 2 * (0.5 - 1.0) / 2, 1e-7);
        CHECK_NEAR(dy[1], 2 * -1.0 / 2, 1e-7);
        CHECK(dy[2] == 0 && dy[3] == 0);
    }
    /* g == NULL: the loss alone, dy untouched */
    for (int i = 0; i < 4; i++) dy[i] = 7;
    L = gb_loss(&m, NULL, GB_LOSS_MSE, GB_LOSS_ON_ALL, y, t, NULL, 2, 1, dy);
    CHECK_NEAR(L, (0.25 + 1.0 + 0.0625 + 1.0) / 4, 1e-7);
    CHECK(dy[0] == 7 && dy[1] == 7 && dy[2] == 7 && dy[3] == 7);
    CHECK_NEAR(gb_loss(&m, NULL, GB_LOSS_MSE, GB_LOSS_ON_ALL, y, t, NULL, 2, 1, NULL), L, 0);
    gb_lstm_free(&m);

    /* D = 1, T = 3, B = 2: window 0 real throughout, window 1 one step long; targets 0, so each
     * covered step costs y^2. y (T, B): {1, 2}, {3, 4}, {5, 6}. ON_ALL covers 1, 2, 3, 5; ON_LAST
     * each window's last real step: 5 (t = 2) and 2 (t = 0), not the padding's 6. */
    m = head_model(1, GB_HEAD_LINEAR, 0);
    float y6[6] = {1, 2, 3, 4, 5, 6}, t6[6] = {0}, dy6[6], mk6[6] = {1, 1, 1, 0, 1, 0};
    L = gb_loss(&m, &m.g, GB_LOSS_MSE, GB_LOSS_ON_ALL, y6, t6, mk6, 3, 2, dy6);
    CHECK_NEAR(L, (1.0 + 4 + 9 + 25) / 4, 1e-6);
    const float want_all[6] = {2 * 1 / 4.0f, 2 * 2 / 4.0f, 2 * 3 / 4.0f, 0, 2 * 5 / 4.0f, 0};
    for (int i = 0; i < 6; i++) CHECK_NEAR(dy6[i], want_all[i], 1e-7);
    L = gb_loss(&m, &m.g, GB_LOSS_MSE, GB_LOSS_ON_LAST, y6, t6, mk6, 3, 2, dy6);
    CHECK_NEAR(L, (25.0 + 4) / 2, 1e-6);
    const float want_last[6] = {0, 2 * 2 / 2.0f, 0, 0, 2 * 5 / 2.0f, 0};
    for (int i = 0; i < 6; i++) CHECK_NEAR(dy6[i], want_last[i], 1e-7);
    /* nothing real: no loss, no gradient */
    float none[6] = {0};
    for (int on = 0; on < 2; on++) {
        for (int i = 0; i < 6; i++) dy6[i] = 7;
        CHECK(gb_loss(&m, &m.g, GB_LOSS_BCE, on, y6, t6, none, 3, 2, dy6) == 0.0f);
        for (int i = 0; i < 6; i++) CHECK(dy6[i] == 0.0f);
    }
    gb_lstm_free(&m);

    /* stable at large logits: no inf, no NaN */
    m = head_model(4, GB_HEAD_LINEAR, 0);
    float big[4] = {100, -100, 100, -100}, tb[4] = {1, 1, 0, 0};
    L = gb_loss(&m, &m.g, GB_LOSS_BCE, GB_LOSS_ON_ALL, big, tb, NULL, 1, 1, dy);
    CHECK_NEAR(L, (0 + 100 + 100 + 0) / 4.0, 1e-4);
    CHECK_NEAR(dy[0], 0, 1e-7);
    CHECK_NEAR(dy[1], -0.25, 1e-7);
    CHECK_NEAR(dy[2], 0.25, 1e-7);
    CHECK_NEAR(dy[3], 0, 1e-7);
    gb_lstm_free(&m);

    /* NADE, D = 2, Hn = 1, by hand: W = {ln 3, 0.7}, V = {2, 4}, y = [b_v | b_h] = {-1, -2 | 0}.
     * x = {1, 1}: h_0 = sigmoid(0) = 1/2, l_0 = -1 + 2/2 = 0; a = 0 + ln 3, h_1 = 3/4,
     * l_1 = -2 + 4 * 3/4 = 1. -log p = softplus(0) - 0 + softplus(1) - 1 = ln 2 + ln(1 + 1/e);
     * the loss is that over D = 2. dl_k = (sigmoid(l_k) - x_k) / 2: dl_0 = -1/4,
     * dl_1 = -1/(2(1 + e)). d b_h = dl_0 V_0 h_0 (1 - h_0) + dl_1 V_1 h_1 (1 - h_1);
     * dV_k = dl_k h_k; dW_0 = x_0 dl_1 V_1 h_1 (1 - h_1); dW_1 = 0 (no feature above it).
     * W_1 never enters: 0.7 is there to show it. The NADE's gradients are added into g. */
    m = head_model(2, GB_HEAD_NADE, 1);
    m.p.nade_w[0] = (float)log(3.0), m.p.nade_w[1] = 0.7f;
    m.p.nade_v[0] = 2, m.p.nade_v[1] = 4;
    float yn[3] = {-1, -2, 0}, xn[2] = {1, 1}, dyn[3];
    gb_lstm_zero_grad(&m);
    m.g.nade_w[0] = 0.25f, m.g.nade_w[1] = 0.5f, m.g.nade_v[0] = -1; /* added to */
    L = gb_loss(&m, &m.g, GB_LOSS_BCE, GB_LOSS_ON_ALL, yn, xn, NULL, 1, 1, dyn);
    double e1 = exp(1.0), dl0 = -0.25, dl1 = -1 / (2 * (1 + e1));
    CHECK_NEAR(L, (log(2.0) + log(1 + 1 / e1)) / 2, 1e-6);
    CHECK_NEAR(dyn[0], dl0, 1e-6);
    CHECK_NEAR(dyn[1], dl1, 1e-6);
    CHECK_NEAR(dyn[2], dl0 * 2 * 0.25 + dl1 * 4 * 0.1875, 1e-6);
    CHECK_NEAR(m.g.nade_v[0], -1 + dl0 * 0.5, 1e-6);
    CHECK_NEAR(m.g.nade_v[1], dl1 * 0.75, 1e-6);
    CHECK_NEAR(m.g.nade_w[0], 0.25 + dl1 * 4 * 0.1875, 1e-6);
    CHECK(m.g.nade_w[1] == 0.5f);
    int others = 1; /* gb_loss touches no other gradient */
    for (float *g = m.grads; g < m.g.nade_w; g++) others &= *g == 0;
    CHECK(others);
    /* x = {0, 1}: W_0 is not added, h_1 = 1/2, l_1 = 0: -log p = 2 ln 2, the loss ln 2 */
    xn[0] = 0;
    CHECK_NEAR(gb_loss(&m, NULL, GB_LOSS_BCE, GB_LOSS_ON_ALL, yn, xn, NULL, 1, 1, NULL), log(2.0),
               1e-6);
    /* the loss kind does not matter to a NADE head */
    CHECK_NEAR(gb_loss(&m, NULL, GB_LOSS_MSE, GB_LOSS_ON_ALL, yn, xn, NULL, 1, 1, NULL), log(2.0),
               1e-6);
    gb_lstm_free(&m);
}

/* dy against five-point differences of the loss in each element of y, and (NADE) the NADE's
 * own gradients against differences in each of its weights, with and without a short window
 * (mask: window 1 of 2 steps of 3). The loss comes back as a float (~0.5, rounding ~3e-8), so
 * the estimate carries ~5e-6 of noise (measured: max 8e-6) against gradients ~1e-2..1e-1;
 * truncation at h^4 ~1e-9. Bounds: atol 5e-5 + rtol 1e-3 per element, 5e-4 relative L2
 * overall. */
static void test_loss_fd(void) {
    enum { T = 3, B = 2, D = 4, Hn = 3, N = T * B * (D + Hn) };
    gb_rng r;
    gb_rng_seed(&r, 5);
    float y[N], t[T * B * D], dy[N], mk[T * B] = {1, 1, 1, 1, 1, 0};
    fill(y, N, &r, -2.0f, 2.0f);
    for (int head = 0; head < 2; head++)
        for (int kind = head; kind < 2; kind++) /* NADE: binary targets (kind unused) */
            for (int on = 0; on < 2; on++)
                for (int masked = 0; masked < 2; masked++) {
                    gb_lstm m = head_model(D, head, head ? Hn : 0);
                    if (head) /* weights of a size that matters */
                        fill(m.params, m.n_params, &r, -1.5f, 1.5f);
                    int ny = T * B * gb_lstm_dout(&m.cfg);
                    const float *mask = masked ? mk : NULL;
                    for (int i = 0; i < T * B * D; i++)
                        t[i] = kind == GB_LOSS_BCE ? gb_rng_float(&r) < 0.5f : gb_rng_float(&r);
                    gb_lstm_zero_grad(&m);
                    gb_loss(&m, &m.g, kind, on, y, t, mask, T, B, dy);
                    /* y, then (NADE) W and V: each against the loss alone */
                    float *wrt[3] = {y, m.p.nade_w, m.p.nade_v};
                    const float *grad[3] = {dy, m.g.nade_w, m.g.nade_v};
                    int n[3] = {ny, head ? D * Hn : 0, head ? D * Hn : 0};
                    gradcmp g = {0};
                    for (int w = 0; w < 3; w++)
                        for (int i = 0; i < n[w]; i++) {
                            float v0 = wrt[w][i], h = FD_H, off[4] = {-2 * h, -h, h, 2 * h};
                            double f[4];
                            for (int s = 0; s < 4; s++) {
                                wrt[w][i] = v0 + off[s];
                                f[s] = gb_loss(&m, NULL, kind, on, y, t, mask, T, B, NULL);
                            }
                            wrt[w][i] = v0;
                            gradcmp_add(&g, grad[w][i], fd5(f[0], f[1], f[2], f[3], h), 5e-5,
                                        1e-3);
                        }
                    /* no gradient where no loss applies: ON_LAST's earlier steps, padding */
                    int Dout = gb_lstm_dout(&m.cfg), zero = 1;
                    for (int row = 0; row < T * B; row++) {
                        int tt = row / B, b = row % B, last = b == 1 && masked ? 1 : T - 1;
                        int covered = on == GB_LOSS_ON_ALL ? tt <= last : tt == last;
                        for (int d = 0; d < Dout && !covered; d++) zero &= dy[row * Dout + d] == 0;
                    }
                    CHECK(zero);
                    if (getenv("GB_TEST_VERBOSE"))
                        fprintf(stderr, "  info loss %s %d %d mask %d: max err %.2g, rel L2 %.2g\n",
                                head ? "nade" : "linear", kind, on, masked, g.max_err,
                                gradcmp_rel(&g));
                    CHECK_INT(g.bad, 0);
                    CHECK(gradcmp_rel(&g) < 5e-4);
                    CHECK(g.n == ny + 2 * n[1]);
                    gb_lstm_free(&m);
                }
}

/* ------------------------------------------------------------------------------------------ */
/* a problem: model, activations, a batch of windows and targets */

typedef struct {
    gb_lstm m;
    gb_lstm_acts *a;
    int T, B;
    float *x, *t, *y, *dy; /* x (T, B, Din), t (T, B, Dt), y and dy (T, B, Dout) */
    float *mask;           /* (T, B): the real steps of short windows; NULL: all real */
    gb_loss_kind kind;
    gb_loss_on on;
} prob;

static void prob_new(prob *p, gb_lstm_config c, int T, int B, uint64_t seed, gb_loss_kind kind,
                     gb_loss_on on) {
    gb_rng r;
    gb_rng_seed(&r, seed);
    CHECK_INT(gb_lstm_init(&p->m, &c, &r, NULL), GB_OK);
    CHECK_INT(gb_lstm_acts_new(&c, T, B, &p->a, NULL), GB_OK);
    int D = c.D, E = c.E, Din = gb_lstm_din(&c), Dout = gb_lstm_dout(&c), Dt = gb_lstm_dt(&c);
    size_t tb = (size_t)T * B;
    p->T = T, p->B = B, p->kind = kind, p->on = on, p->mask = NULL;
    p->x = falloc(tb * Din), p->t = falloc(tb * Dt), p->y = falloc(tb * Dout);
    p->dy = falloc(tb * Dout);
    int nx = c.V ? 1 : D; /* the columns before the extras */
    for (size_t row = 0; row < tb; row++) {
        /* sparse binary rolls as inputs (with token input: a random token), then (E) a one-hot
         * phase like the meter's; targets by loss kind (softmax: a random class) */
        if (c.V) p->x[row * Din] = (float)gb_rng_below(&r, (uint64_t)c.V);
        for (int d = 0; d < D; d++) {
            float on_ = gb_rng_float(&r) < 0.3f;
            if (!c.V)
                p->x[row * Din + d] = on_ ? (kind == GB_LOSS_MSE ? gb_rng_float(&r) : 1.0f) : 0.0f;
            if (Dt == D)
                p->t[row * D + d] = kind == GB_LOSS_BCE ? (gb_rng_float(&r) < 0.3f)
                                                        : gb_rng_float(&r);
        }
        if (Dt == 1) p->t[row] = (float)gb_rng_below(&r, (uint64_t)D);
        if (E) p->x[row * Din + nx + (row / B) % E] = 1;
    }
}

/* Zeroes the inputs and targets of the padded steps, as the dataset pads a short window. */
static void prob_pad(prob *p) {
    const gb_lstm_config *c = &p->m.cfg;
    int Din = gb_lstm_din(c), Dt = gb_lstm_dt(c);
    for (size_t row = 0; p->mask && row < (size_t)p->T * p->B; row++)
        if (p->mask[row] == 0) {
            memset(p->x + row * Din, 0, (size_t)Din * sizeof(float));
            memset(p->t + row * Dt, 0, (size_t)Dt * sizeof(float));
        }
}

/* Window b is lens[b] steps long (1..T): the mask, and zeros after. */
static void prob_set_lens(prob *p, const int *lens) {
    free(p->mask);
    p->mask = falloc((size_t)p->T * p->B);
    for (int t = 0; t < p->T; t++)
        for (int b = 0; b < p->B; b++) p->mask[(size_t)t * p->B + b] = t < lens[b];
    prob_pad(p);
}

static void prob_free(prob *p) {
    gb_lstm_free(&p->m);
    gb_lstm_acts_free(p->a);
    free(p->x), free(p->t), free(p->y), free(p->dy), free(p->mask);
}

/* The loss of one training forward; dropout masks come from a fresh rng seeded with mask_seed,
 * so every evaluation sees the same masks (mask_seed 0: evaluation mode, no dropout). With g,
 * dy is written and the NADE's gradients go into g. */
static double prob_forward(prob *p, uint64_t mask_seed, gb_lstm_views *g) {
    gb_rng r;
    gb_rng_seed(&r, mask_seed);
    gb_lstm_forward(&p->m, p->a, p->x, p->T, p->B, p->y, tst_keys(mask_seed ? &r : NULL, p->B));
    return gb_loss(&p->m, g, p->kind, p->on, p->y, p->t, p->mask, p->T, p->B, p->dy);
}

static double prob_loss(prob *p, uint64_t mask_seed) { return prob_forward(p, mask_seed, NULL); }

static double prob_grad(prob *p, uint64_t mask_seed) {
    gb_lstm_zero_grad(&p->m);
    double L = prob_forward(p, mask_seed, &p->m.g);
    gb_lstm_backward(&p->m, p->a, p->x, p->dy, p->T, p->B);
    return L;
}

/* ------------------------------------------------------------------------------------------ */
/* the whole model by finite differences */

static double sigmoid_d(double v) { return 1 / (1 + exp(-v)); }

/* The model again, in double and written independently of src/model (its own walk of the
 * parameter block, step by step as the report's LSTMCell loop, its own NADE from the paper's
 * equations, its own one-hot vector for a token input and its own log-softmax): the oracle for
 * the gradient check. masks[l], l = 0..L, are the float model's dropout masks on the input of
 * layer l ((T, B, Din) for l = 0, (T, B, H) above; l = L is the head's input, the top layer's
 * h), each NULL where there is none; with token input layer 0's row is [token, extras] and the
 * token's mask entry scales its one-hot entry. wmask (T, B) marks the real steps (NULL: all);
 * the loss covers every real step (ON_ALL) or each window's last real one (ON_LAST), and is the
 * mean over those steps and the D features (softmax: over the steps alone). */
static double dmodel_loss(const gb_lstm_config *c, const double *w, const float *x,
                          const float *target, const float *wmask, int T, int B,
                          gb_loss_kind kind, gb_loss_on on, const float *const *masks) {
    int D = c->D, H = c->H, L = c->L, G = 4 * H, V = c->V;
    int Din = (V ? 1 : D) + c->E, Dw = (V ? V : D) + c->E; /* x's row, layer 0's one-hot input */
    int nade = c->head == GB_HEAD_NADE, Hn = nade ? c->Hn : 0, Dout = D + Hn;
    int sm = c->head == GB_HEAD_SOFTMAX;
    const double *wih[GB_LSTM_MAX_LAYERS], *whh[GB_LSTM_MAX_LAYERS], *bih[GB_LSTM_MAX_LAYERS],
        *bhh[GB_LSTM_MAX_LAYERS];
    for (int l = 0; l < L; l++) {
        int in = l ? H : Dw;
        wih[l] = w, w += G * in;
        whh[l] = w, w += G * H;
        bih[l] = w, w += G;
        bhh[l] = w, w += G;
    }
    const double *fcw = w, *fcb = fcw + (size_t)Dout * H, *nw = fcb + Dout, *nv = nw + D * Hn;
    /* the steps the loss covers */
    char *cover = calloc((size_t)T * B, 1);
    long rows = 0;
    for (int b = 0; b < B; b++) {
        int last = -1;
        for (int t = 0; t < T; t++) {
            int real = !wmask || wmask[(size_t)t * B + b] != 0;
            if (real) last = t;
            cover[(size_t)t * B + b] = real && on == GB_LOSS_ON_ALL;
        }
        if (on == GB_LOSS_ON_LAST && last >= 0) cover[(size_t)last * B + b] = 1;
    }
    for (size_t i = 0; i < (size_t)T * B; i++) rows += cover[i];
    double *h = calloc((size_t)L * B * H, sizeof *h), *cs = calloc((size_t)L * B * H, sizeof *cs);
    double *in_v = calloc(Dw > H ? Dw : H, sizeof *in_v), *z = calloc(G, sizeof *z);
    double *hn = calloc(H, sizeof *hn), *y = calloc(Dout, sizeof *y);
    double *a = calloc(Hn + 1, sizeof *a), sum = 0;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            size_t tb = (size_t)t * B + b;
            for (int l = 0; l <= L; l++) {
                int in = l ? H : Din;
                for (int k = 0; k < in; k++) /* this step's input: x, or h below; masked */
                    in_v[k] = (l == 0 ? x[tb * Din + k] : h[((size_t)(l - 1) * B + b) * H + k]) *
                              (masks[l] ? masks[l][tb * in + k] : 1.0);
                if (l == 0 && V) { /* the one-hot token, its mask, then the extras */
                    int tok = (int)x[tb * Din];
                    for (int e = c->E - 1; e >= 0; e--) in_v[V + e] = in_v[1 + e];
                    for (int k = 0; k < V; k++)
                        in_v[k] = k == tok ? (masks[0] ? masks[0][tb * Din] : 1.0) : 0.0;
                    in = Dw;
                }
                if (l == L) break; /* in_v: the head's input */
                double *hl = h + ((size_t)l * B + b) * H, *cl = cs + ((size_t)l * B + b) * H;
                for (int r = 0; r < G; r++) {
                    z[r] = bih[l][r] + bhh[l][r];
                    for (int k = 0; k < in; k++) z[r] += wih[l][r * in + k] * in_v[k];
                    for (int k = 0; k < H; k++) z[r] += whh[l][r * H + k] * hl[k];
                }
                for (int j = 0; j < H; j++) {
                    double i = sigmoid_d(z[j]), f = sigmoid_d(z[H + j]);
                    double g = tanh(z[2 * H + j]), o = sigmoid_d(z[3 * H + j]);
                    cl[j] = f * cl[j] + i * g;
                    hn[j] = o * tanh(cl[j]);
                }
                memcpy(hl, hn, H * sizeof *hl);
            }
            if (!cover[tb]) continue;
            for (int d = 0; d < Dout; d++) {
                y[d] = fcb[d];
                for (int k = 0; k < H; k++) y[d] += fcw[d * H + k] * in_v[k];
            }
            if (sm) { /* -log softmax(y)[t] = log sum exp y - y_t */
                int k = (int)target[tb];
                double mx = y[0], se = 0;
                for (int d = 1; d < D; d++) mx = y[d] > mx ? y[d] : mx;
                for (int d = 0; d < D; d++) se += exp(y[d] - mx);
                sum += mx + log(se) - y[k];
                continue;
            }
            const float *tr = target + tb * D;
            if (!nade) {
                for (int d = 0; d < D; d++)
                    sum += kind == GB_LOSS_MSE ? (y[d] - tr[d]) * (y[d] - tr[d])
                                               : log1p(exp(y[d])) - tr[d] * y[d];
                continue;
            }
            /* NADE: -log p(t) = sum_k softplus(l_k) - t_k l_k, l_k = b_v[k] + V_k . sigmoid(a),
             * a = b_h + sum_{i<k} t_i W_i */
            for (int j = 0; j < Hn; j++) a[j] = y[D + j];
            for (int k = 0; k < D; k++) {
                double lk = y[k];
                for (int j = 0; j < Hn; j++) lk += nv[k * Hn + j] * sigmoid_d(a[j]);
                sum += log1p(exp(lk)) - tr[k] * lk;
                for (int j = 0; j < Hn; j++) a[j] += tr[k] * nw[k * Hn + j];
            }
        }
    free(cover), free(h), free(cs), free(in_v), free(z), free(hn), free(y), free(a);
    return rows ? sum / ((double)rows * (sm ? 1 : D)) : 0;
}

/* Checks every parameter's gradient of the float model (either path) against central
 * differences of the double oracle, block by block (each layer's W_ih, W_hh, biases; the head's
 * fc_w and fc_b; the NADE's W and V), so that a block with small gradients cannot hide behind a
 * large one.
 * Tolerance: in double, h = 1e-4 leaves truncation ~h^2 f''' ~ 1e-9 and rounding ~1e-16/h =
 * 1e-12, so the comparison measures the float model alone, whose gradients carry float
 * rounding through a few dozen terms (measured: max element error ~1e-7, relative L2 error per
 * block <= ~1e-6; the NADE's vectorised sigmoid, relative error ~2e-7, stays within that).
 * Bounds: atol 5e-7 + rtol 1e-3 per element and relative L2 error 2e-5 per block: an order of
 * magnitude above that, and orders below what any wrong term costs (a block's gradient off by
 * its own size). A block whose gradient is below 1e-7 rms would be a vacuous check and fails,
 * except W_hh at T = 1, which must be exactly zero. The oracle's loss must also match the float
 * forward's within 1e-5 relative (measured ~1e-7).
 * Returns the number of failed blocks. */
static int fd_check(prob *p, uint64_t mseed, const char *label) {
    const gb_lstm_config *c = &p->m.cfg;
    int Din = gb_lstm_din(c), Dout = gb_lstm_dout(c), L = c->L;
    int Dw = (c->V ? c->V : c->D) + c->E; /* layer 0's W_ih columns */
    /* well-conditioned: dense inputs in [-1, 1] (with token input: the extras; the tokens
     * stay), weights in [-2k, 2k], larger activations */
    gb_rng r;
    gb_rng_seed(&r, 321);
    size_t rows = (size_t)p->T * p->B;
    for (size_t row = 0; row < rows; row++) {
        float tok = p->x[row * Din];
        fill(p->x + row * Din, (size_t)Din, &r, -1.0f, 1.0f);
        if (c->V) p->x[row * Din] = tok;
    }
    prob_pad(p);
    for (size_t i = 0; i < p->m.n_params; i++) p->m.params[i] *= 2.0f;
    double Lf = prob_grad(p, mseed);
    const float *masks[GB_LSTM_MAX_LAYERS + 1];
    for (int l = 0; l <= L; l++) masks[l] = gb_lstm_acts_mask(p->a, l);
    size_t n = p->m.n_params, G = 4 * (size_t)c->H;
    double *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++) w[i] = p->m.params[i];
#define ORACLE()                                                                             \
    dmodel_loss(c, w, p->x, p->t, p->mask, p->T, p->B, p->kind, p->on, masks)
    double Ld = ORACLE();
    int failed = !(fabs(Lf - Ld) <= 1e-5 * fabs(Ld));
    if (failed || getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  %s %s: loss %.9g, oracle %.9g\n", failed ? "FAIL" : "info", label, Lf,
                Ld);
    /* block boundaries in the flat vector: per layer w_ih, w_hh, (b_ih, b_hh); fc_w, fc_b;
     * nade_w, nade_v */
    size_t bounds[3 * GB_LSTM_MAX_LAYERS + 5], nb = 0, off = 0;
    char names[3 * GB_LSTM_MAX_LAYERS + 4][16];
    for (int l = 0; l < L; l++) {
        snprintf(names[nb], 16, "w_ih%d", l), bounds[nb++] = off, off += G * (l ? c->H : Dw);
        snprintf(names[nb], 16, "w_hh%d", l), bounds[nb++] = off, off += G * c->H;
        snprintf(names[nb], 16, "b%d", l), bounds[nb++] = off, off += 2 * G;
    }
    snprintf(names[nb], 16, "fc_w"), bounds[nb++] = off, off += (size_t)Dout * c->H;
    snprintf(names[nb], 16, "fc_b"), bounds[nb++] = off, off += Dout;
    if (c->head == GB_HEAD_NADE) {
        snprintf(names[nb], 16, "nade_w"), bounds[nb++] = off, off += (size_t)c->D * c->Hn;
        snprintf(names[nb], 16, "nade_v"), bounds[nb++] = off, off += (size_t)c->D * c->Hn;
    }
    CHECK(off == n); /* the walk above covers the block exactly */
    bounds[nb] = n;
    for (size_t b = 0; b < nb; b++) {
        gradcmp g = {0};
        double an2 = 0;
        for (size_t i = bounds[b]; i < bounds[b + 1]; i++) {
            double w0 = w[i], h = 1e-4, fp, fm;
            w[i] = w0 + h, fp = ORACLE();
            w[i] = w0 - h, fm = ORACLE();
            w[i] = w0;
            gradcmp_add(&g, p->m.grads[i], (fp - fm) / (2 * h), 5e-7, 1e-3);
            an2 += (double)p->m.grads[i] * p->m.grads[i];
        }
        double rms = sqrt(an2 / g.n);
        /* W_hh meets only h_{-1} = 0 when T = 1: its gradient is exactly zero */
        int zero_ok = p->T == 1 && b < 3 * (size_t)L && b % 3 == 1;
        int bad = g.bad || gradcmp_rel(&g) >= 2e-5 || (zero_ok ? rms != 0 : rms < 1e-7);
        if (bad || getenv("GB_TEST_VERBOSE"))
            fprintf(stderr, "  %s %s %s: %ld bad of %ld, max err %.2g, rel L2 %.2g, "
                    "rms grad %.2g\n", bad ? "FAIL" : "info", label, names[b], g.bad, g.n,
                    g.max_err, gradcmp_rel(&g), rms);
        failed += bad;
    }
#undef ORACLE
    free(w);
    return failed;
}

/* One finite-difference case: the loss, the dropout on each of the three sites (layer 0's input,
 * between layers, the head's input), the head, and whether windows are short. */
typedef struct {
    gb_loss_kind kind;
    gb_loss_on on;
    int E;
    float p_in, p, p_out;
    gb_head_kind head;
    int Hn;
    int short_windows; /* lengths 4, 2, 1 of T = 4 */
    int V;             /* token input over V tokens (0: dense) */
} fdcase;

/* Every parameter of a tiny model (D=5, H=4, L=2, T=4, B=3: 361 parameters; 454 with E = 3 and
 * a NADE head of Hn = 3; 377 with token input over V = 6 tokens, 409 with E = 2 more), masks
 * fixed by re-seeding the rng for every evaluation. Layer 0's gradients reach the loss only
 * through layer 1's input (dX) and its dropout mask, so they check the inputs' path through all
 * layers. Then the masks of the last forward: there on the
 * sites with p > 0 (and only there), each element 0 or 1/(1-p), with p of them 0 within 5
 * standard deviations. */
static void fd_model(const fdcase *k, int ref) {
    gb_lstm_config c = {.D = 5, .H = 4, .L = 2, .dropout = k->p, .E = k->E,
                        .dropout_in = k->p_in, .dropout_out = k->p_out, .head = k->head,
                        .Hn = k->Hn, .V = k->V};
    int T = 4, B = 3, lens[3] = {4, 2, 1};
    prob p;
    prob_new(&p, c, T, B, 1234 + k->kind * 2 + k->on + 16 * k->head, k->kind, k->on);
    if (k->short_windows) prob_set_lens(&p, lens);
    int dropping = k->p_in > 0 || k->p > 0 || k->p_out > 0;
    uint64_t mseed = dropping ? 777 : 0;
    gb_lstm_use_reference(ref);
    char label[128];
    snprintf(label, sizeof label, "%s%s on-%s E %d dropout %.1f/%.1f/%.1f%s %s",
             k->V ? "tokens " : "",
             k->head == GB_HEAD_SOFTMAX ? "softmax" : k->head ? "NADE" : k->kind ? "BCE" : "MSE",
             k->on ? "all" : "last", k->E,
             (double)k->p_in, (double)k->p, (double)k->p_out, k->short_windows ? " short" : "",
             ref ? "ref" : "fast");
    CHECK_INT(fd_check(&p, mseed, label), 0);
    for (int l = 0; l <= c.L; l++) {
        float pl = l == 0 ? k->p_in : l == c.L ? k->p_out : k->p;
        const float *mk = gb_lstm_acts_mask(p.a, l);
        CHECK((mk != NULL) == (pl > 0));
        if (!mk || !(pl > 0)) continue;
        int n = T * B * (l ? c.H : gb_lstm_din(&c)), zeros = 0, other = 0;
        for (int i = 0; i < n; i++) {
            zeros += mk[i] == 0.0f;
            other += mk[i] != 0.0f && mk[i] != 1.0f / (1.0f - pl);
        }
        CHECK_INT(other, 0);
        CHECK(fabs(zeros - n * pl) <= 5 * sqrt(n * pl * (1 - pl)));
    }
    gb_lstm_use_reference(0);
    prob_free(&p);
}

static void test_fd_model(void) {
    for (int ref = 1; ref >= 0; ref--)
        for (int kind = 0; kind < 2; kind++)
            for (int on = 0; on < 2; on++) {
                /* the report's model: dropout between the layers only, or none */
                fdcase plain = {.kind = kind, .on = on}, between = {.kind = kind, .on = on,
                                                                    .p = 0.5f};
                fd_model(&plain, ref);
                fd_model(&between, ref);
                /* E = 2 extra inputs, dropout on all three sites, short windows */
                fdcase all = {.kind = kind, .on = on, .E = 2, .p_in = 0.3f, .p = 0.5f,
                              .p_out = 0.4f, .short_windows = 1};
                fd_model(&all, ref);
                if (kind == GB_LOSS_BCE) { /* NADE (binary targets): bare, and with everything */
                    fdcase nade = {.kind = kind, .on = on, .head = GB_HEAD_NADE, .Hn = 3};
                    fdcase nade_all = {.kind = kind, .on = on, .E = 3, .p_in = 0.3f, .p = 0.5f,
                                       .p_out = 0.4f, .head = GB_HEAD_NADE, .Hn = 3,
                                       .short_windows = 1};
                    fd_model(&nade, ref);
                    fd_model(&nade_all, ref);
                    /* token input (V = 6) and the softmax head over D = 5 classes: bare, and
                     * with E = 2 extras, dropout on all three sites (the token's own mask
                     * entry) and short windows; token input under a linear head; the softmax
                     * head on a dense input */
                    fdcase tok = {.kind = GB_LOSS_CE, .on = on, .head = GB_HEAD_SOFTMAX, .V = 6};
                    fdcase tok_all = {.kind = GB_LOSS_CE, .on = on, .E = 2, .p_in = 0.3f,
                                      .p = 0.5f, .p_out = 0.4f, .head = GB_HEAD_SOFTMAX,
                                      .short_windows = 1, .V = 6};
                    fdcase tok_lin = {.kind = kind, .on = on, .E = 1, .p_in = 0.3f, .V = 6};
                    fdcase dense_sm = {.kind = GB_LOSS_CE, .on = on, .head = GB_HEAD_SOFTMAX,
                                       .p = 0.5f};
                    fd_model(&tok, ref);
                    fd_model(&tok_all, ref);
                    fd_model(&tok_lin, ref);
                    fd_model(&dense_sm, ref);
                }
            }
}

/* One layer, one step, one window, four layers: the smallest and largest cases of the loops,
 * with dropout on every site there is (one layer has none between layers), an extra input, and
 * a NADE head on two of them, token input (V = 4) and the softmax head on two others. */
static void test_fd_model_edges(void) {
    /* L, T, B, head: 0 linear (MSE), 1 NADE, 2 tokens and softmax */
    int cfgs[][4] = {{1, 1, 1, 0}, {1, 3, 2, 1}, {3, 1, 1, 1}, {4, 3, 2, 0}, {1, 1, 1, 2},
                     {4, 3, 2, 2}};
    for (int ci = 0; ci < 6; ci++)
        for (int ref = 0; ref < 2; ref++) {
            int nade = cfgs[ci][3] == 1, sm = cfgs[ci][3] == 2;
            gb_lstm_config c = {.D = 3, .H = 2, .L = cfgs[ci][0], .dropout = 0.3f, .E = 1,
                                .dropout_in = 0.3f, .dropout_out = 0.3f,
                                .head = nade ? GB_HEAD_NADE : sm ? GB_HEAD_SOFTMAX : GB_HEAD_LINEAR,
                                .Hn = nade ? 2 : 0, .V = sm ? 4 : 0};
            prob p;
            gb_loss_kind kind = nade ? GB_LOSS_BCE : sm ? GB_LOSS_CE : GB_LOSS_MSE;
            prob_new(&p, c, cfgs[ci][1], cfgs[ci][2], 99 + ci, kind, GB_LOSS_ON_ALL);
            gb_lstm_use_reference(ref);
            char label[64];
            snprintf(label, sizeof label, "L %d T %d B %d %s %s", c.L, cfgs[ci][1], cfgs[ci][2],
                     nade ? "NADE" : sm ? "tokens softmax" : "MSE", ref ? "ref" : "fast");
            CHECK_INT(fd_check(&p, 3, label), 0);
            gb_lstm_use_reference(0);
            prob_free(&p);
        }
}

/* ------------------------------------------------------------------------------------------ */
/* fast path against the reference */

/* D=128, H=64, L=2, T=12, B=16, dropout 0.2 between the layers, each loss and loss-on mode; then
 * the NADE head (Hn = 16) on 20 extra inputs with dropout on all three sites and short windows;
 * then token input over Performance RNN's V = 388 tokens with E = 3 extras and the softmax head
 * over D = 388 classes, dropout on all three sites, short windows, on every step and on the
 * last (the gather and scatter-add against the reference's one-hot product).
 * The paths sum in different orders (sgemm blocks in float vs double dot products), so they
 * differ by float rounding, amplified a little by the recurrence: measured NMSE ~1e-14 for
 * outputs, ~1e-13 for gradients. The bound 1e-10 (relative RMS error 1e-5) leaves room for other
 * BLAS builds and still fails on any real difference: a swapped gate, a missed bias or a
 * different mask gives NMSE ~1e-2..1, one wrong element among the 58k gradients ~1e-5. The masks
 * must be bit-identical. */
static void test_fast_vs_reference(void) {
    int T = 12, B = 16;
    for (int cs = 0; cs < 7; cs++) {
        gb_lstm_config c = {.D = 128, .H = 64, .L = 2, .dropout = 0.2f};
        gb_loss_kind kind = cs < 4 ? cs / 2 : cs == 4 ? GB_LOSS_BCE : GB_LOSS_CE;
        gb_loss_on on = cs < 4 ? cs % 2 : cs == 6 ? GB_LOSS_ON_LAST : GB_LOSS_ON_ALL;
        if (cs == 4)
            c.E = 20, c.dropout_in = 0.1f, c.dropout_out = 0.3f, c.head = GB_HEAD_NADE, c.Hn = 16;
        if (cs >= 5)
            c.D = 388, c.V = 388, c.E = 3, c.dropout_in = 0.1f, c.dropout_out = 0.3f,
            c.head = GB_HEAD_SOFTMAX;
        int Din = gb_lstm_din(&c), Dout = gb_lstm_dout(&c), L = c.L, Dw = gb_lstm_dw(&c);
        prob p;
        prob_new(&p, c, T, B, 42 + cs, kind, on);
        if (cs >= 4) {
            int lens[16];
            for (int b = 0; b < B; b++) lens[b] = b % 3 ? T : 1 + b % T;
            prob_set_lens(&p, lens);
        }
        size_t n = p.m.n_params, ny = (size_t)T * B * Dout;
        float *g_ref = falloc(n), *y_ref = falloc(ny), *mask_ref[GB_LSTM_MAX_LAYERS + 1];
        size_t mask_n[GB_LSTM_MAX_LAYERS + 1];
        gb_lstm_use_reference(1);
        double L_ref = prob_grad(&p, 8);
        memcpy(g_ref, p.m.grads, n * sizeof(float));
        memcpy(y_ref, p.y, ny * sizeof(float));
        for (int l = 0; l <= L; l++) {
            const float *mk = gb_lstm_acts_mask(p.a, l);
            float pl = l == 0 ? c.dropout_in : l == L ? c.dropout_out : c.dropout;
            CHECK((mk != NULL) == (pl > 0));
            mask_n[l] = (size_t)T * B * (l ? c.H : Din);
            mask_ref[l] = mk ? falloc(mask_n[l]) : NULL;
            if (mk) memcpy(mask_ref[l], mk, mask_n[l] * sizeof(float));
        }
        gb_lstm_use_reference(0);
        double L_fast = prob_grad(&p, 8);
        for (int l = 0; l <= L; l++) {
            const float *mk = gb_lstm_acts_mask(p.a, l);
            CHECK((mk == NULL) == (mask_ref[l] == NULL));
            if (mk && mask_ref[l])
                CHECK(memcmp(mask_ref[l], mk, mask_n[l] * sizeof(float)) == 0);
        }
        CHECK(tst_nmse(p.y, y_ref, ny) < 1e-10);
        CHECK_NEAR(L_fast, L_ref, 1e-5 * L_ref);
        gb_lstm_views vr, vf;
        gb_lstm_views_of(&c, g_ref, &vr);
        gb_lstm_views_of(&c, p.m.grads, &vf);
        size_t G = 4 * c.H;
        for (int l = 0; l < L; l++) {
            size_t in = l ? c.H : Dw;
            CHECK(tst_nmse(vf.w_ih[l], vr.w_ih[l], G * in) < 1e-10);
            CHECK(tst_nmse(vf.w_hh[l], vr.w_hh[l], G * c.H) < 1e-10);
            CHECK(tst_nmse(vf.b_ih[l], vr.b_ih[l], G) < 1e-10);
            CHECK(tst_nmse(vf.b_hh[l], vr.b_hh[l], G) < 1e-10);
            CHECK(memcmp(vf.b_ih[l], vf.b_hh[l], G * sizeof(float)) == 0);
        }
        CHECK(tst_nmse(vf.fc_w, vr.fc_w, (size_t)Dout * c.H) < 1e-10);
        CHECK(tst_nmse(vf.fc_b, vr.fc_b, Dout) < 1e-10);
        if (c.head == GB_HEAD_NADE) {
            CHECK(tst_nmse(vf.nade_w, vr.nade_w, (size_t)c.D * c.Hn) < 1e-10);
            CHECK(tst_nmse(vf.nade_v, vr.nade_v, (size_t)c.D * c.Hn) < 1e-10);
        }
        CHECK(tst_nmse(p.m.grads, g_ref, n) < 1e-10);
        if (getenv("GB_TEST_VERBOSE"))
            fprintf(stderr, "  info fast/ref case %d: nmse y %.2g, grads %.2g, loss %.9g %.9g\n",
                    cs, tst_nmse(p.y, y_ref, ny), tst_nmse(p.m.grads, g_ref, n), L_fast, L_ref);
        /* gradients accumulate: a second backward without zeroing doubles them (the NADE's
         * own, which gb_loss adds, stay as they were) */
        float *g_fast = falloc(n);
        memcpy(g_fast, p.m.grads, n * sizeof(float));
        gb_lstm_backward(&p.m, p.a, p.x, p.dy, T, B);
        size_t lstm_n = c.head == GB_HEAD_NADE ? (size_t)(vf.nade_w - p.m.grads) : n;
        for (size_t i = 0; i < lstm_n; i += 97)
            CHECK_NEAR(p.m.grads[i], 2 * g_ref[i], 1e-5 + 1e-3 * fabsf(g_ref[i]));
        CHECK(memcmp(p.m.grads + lstm_n, g_fast + lstm_n, (n - lstm_n) * sizeof(float)) == 0);
        free(g_ref), free(y_ref), free(g_fast);
        for (int l = 0; l <= L; l++) free(mask_ref[l]);
        prob_free(&p);
    }
}

/* Dropout: drawn only in training, the same masks from the same keys in both paths, each
 * window's from its own key whatever batch it is in, about p of the units zeroed; evaluation is deterministic; a
 * batch smaller than the activations' capacity gives what exactly sized activations give. */
static void test_dropout_and_modes(void) {
    gb_lstm_config c = {.D = 16, .H = 32, .L = 3, .dropout = 0.25f};
    int T = 6, B = 8;
    prob p;
    prob_new(&p, c, T, B, 7, GB_LOSS_MSE, GB_LOSS_ON_ALL);
    size_t ny = (size_t)T * B * c.D, nm = (size_t)T * B * c.H;
    float *y1 = falloc(ny);
    gb_rng r1, r2;
    for (int ref = 0; ref < 2; ref++) {
        gb_lstm_use_reference(ref);
        gb_rng *r = ref ? &r2 : &r1;
        gb_rng_seed(r, 2024);
        gb_lstm_forward(&p.m, p.a, p.x, T, B, p.y, tst_keys(r, B));
        for (int l = 1; l < 3; l++) { /* the inputs of layers 1 and 2 */
            const float *mk = gb_lstm_acts_mask(p.a, l);
            size_t zeros = 0;
            CHECK(mk != NULL);
            for (size_t k = 0; mk && k < nm; k++) {
                CHECK(mk[k] == 0.0f || mk[k] == 1.0f / 0.75f);
                zeros += mk[k] == 0.0f;
            }
            CHECK(zeros > nm / 4 - nm / 10 && zeros < nm / 4 + nm / 10); /* 384 +- 154 */
        }
        CHECK(gb_lstm_acts_mask(p.a, 0) == NULL); /* dropout_in 0: the window goes in whole */
        CHECK(gb_lstm_acts_mask(p.a, 3) == NULL); /* dropout_out 0: the head sees h whole */
        CHECK(gb_lstm_acts_mask(p.a, 4) == NULL && gb_lstm_acts_mask(p.a, -1) == NULL);
        if (ref) CHECK(tst_nmse(p.y, y1, ny) < 1e-10);
        memcpy(y1, p.y, ny * sizeof(float));
    }
    gb_lstm_use_reference(0);
    CHECK(memcmp(r1.s, r2.s, sizeof r1.s) == 0);
    { /* a window's masks are its key's alone: windows 2..4 cut out as a batch of their own,
         with their keys, are dropped exactly as they were in the whole batch */
        uint64_t keys[8], sub[3];
        gb_rng rk;
        gb_rng_seed(&rk, 31);
        for (int b = 0; b < B; b++) keys[b] = gb_rng_next(&rk);
        memcpy(sub, keys + 2, sizeof sub);
        gb_lstm_forward(&p.m, p.a, p.x, T, B, p.y, keys);
        float *whole = falloc(nm);
        memcpy(whole, gb_lstm_acts_mask(p.a, 2), nm * sizeof(float));
        float *xs = falloc((size_t)T * 3 * c.D), *ys = falloc((size_t)T * 3 * c.D);
        for (int t = 0; t < T; t++)
            memcpy(xs + (size_t)t * 3 * c.D, p.x + ((size_t)t * B + 2) * c.D,
                   3 * (size_t)c.D * sizeof(float));
        gb_lstm_forward(&p.m, p.a, xs, T, 3, ys, sub);
        const float *part = gb_lstm_acts_mask(p.a, 2);
        size_t differ = 0;
        for (int t = 0; t < T; t++)
            differ += memcmp(part + (size_t)t * 3 * c.H, whole + ((size_t)t * B + 2) * c.H,
                             3 * (size_t)c.H * sizeof(float)) != 0;
        CHECK_INT(differ, 0);
        /* ... and outputs: within a batch, windows do not meet */
        for (int t = 0; t < T; t++)
            CHECK(tst_nmse(ys + (size_t)t * 3 * c.D, p.y + ((size_t)t * B + 2) * c.D,
                           3 * (size_t)c.D) < 1e-10);
        free(whole), free(xs), free(ys);
    }

    gb_lstm_forward(&p.m, p.a, p.x, T, B, y1, NULL); /* evaluation: no masks, no draws */
    for (int l = 0; l <= 3; l++) CHECK(gb_lstm_acts_mask(p.a, l) == NULL);
    gb_lstm_forward(&p.m, p.a, p.x, T, B, p.y, NULL);
    CHECK(memcmp(y1, p.y, ny * sizeof(float)) == 0);
    CHECK(tst_nmse(y1, p.y, ny) == 0);

    /* smaller batch in big activations: the first 3 windows of a (T, 3, D) batch */
    int b3 = 3;
    float *x3 = falloc((size_t)T * b3 * c.D), *y3 = falloc((size_t)T * b3 * c.D);
    float *y3b = falloc((size_t)T * b3 * c.D);
    for (int t = 0; t < T; t++)
        memcpy(x3 + (size_t)t * b3 * c.D, p.x + (size_t)t * B * c.D,
               (size_t)b3 * c.D * sizeof(float));
    gb_lstm_acts *a3;
    CHECK_INT(gb_lstm_acts_new(&c, T, b3, &a3, NULL), GB_OK);
    gb_lstm_forward(&p.m, p.a, x3, T, b3, y3, NULL);
    gb_lstm_forward(&p.m, a3, x3, T, b3, y3b, NULL);
    CHECK(memcmp(y3, y3b, (size_t)T * b3 * c.D * sizeof(float)) == 0);
    /* and the rows agree with the full batch's first 3 windows */
    for (int t = 0; t < T; t++)
        CHECK(tst_nmse(y3 + (size_t)t * b3 * c.D, y1 + (size_t)t * B * c.D, (size_t)b3 * c.D) < 1e-10);
    /* and backward through the bigger activations gives the same gradients */
    float *g3 = falloc(p.m.n_params), *dy3 = falloc((size_t)T * b3 * c.D);
    for (int k = 0; k < 2; k++) {
        gb_lstm_acts *ak = k ? a3 : p.a;
        gb_lstm_zero_grad(&p.m);
        gb_rng rk;
        gb_rng_seed(&rk, 9);
        gb_lstm_forward(&p.m, ak, x3, T, b3, y3, tst_keys(&rk, b3));
        gb_loss(&p.m, &p.m.g, GB_LOSS_MSE, GB_LOSS_ON_ALL, y3, x3, NULL, T, b3, dy3);
        gb_lstm_backward(&p.m, ak, x3, dy3, T, b3);
        if (k == 0) memcpy(g3, p.m.grads, p.m.n_params * sizeof(float));
    }
    CHECK(memcmp(g3, p.m.grads, p.m.n_params * sizeof(float)) == 0);
    free(g3), free(dy3);
    /* a batch larger than the activations: NaN outputs rather than an overrun */
    gb_lstm_forward(&p.m, a3, p.x, T, B, p.y, NULL);
    CHECK(isnan(p.y[0]) && isnan(p.y[ny - 1]));
    gb_lstm_acts_free(a3);
    free(x3), free(y3), free(y3b);
    prob_free(&p);

    /* dropout on all three sites, E = 4: each window's masks are drawn from its key's rng in
     * site order (layer 0's input first, then layers 1, 2, then the head's input), step by step,
     * each with its own p, the same in both paths */
    c = (gb_lstm_config){.D = 16, .H = 32, .L = 3, .dropout = 0.25f, .E = 4, .dropout_in = 0.5f,
                         .dropout_out = 0.125f};
    prob_new(&p, c, T, B, 8, GB_LOSS_MSE, GB_LOSS_ON_ALL);
    int Din = gb_lstm_din(&c);
    float ps[4] = {0.5f, 0.25f, 0.25f, 0.125f};
    float *yr = falloc(ny); /* y1: the fast path's */
    for (int ref = 0; ref < 2; ref++) {
        gb_lstm_use_reference(ref);
        gb_rng *r = ref ? &r2 : &r1;
        gb_rng_seed(r, 77);
        const uint64_t *keys = tst_keys(r, B);
        gb_lstm_forward(&p.m, p.a, p.x, T, B, ref ? yr : y1, keys);
        size_t wrong = 0;
        for (int b = 0; b < B; b++) { /* each element is the next draw of its window's rng */
            gb_rng rr;
            gb_rng_seed(&rr, keys[b]);
            for (int l = 0; l <= 3; l++) {
                const float *mk = gb_lstm_acts_mask(p.a, l);
                size_t nl = (size_t)(l ? c.H : Din);
                CHECK(mk != NULL);
                for (int t = 0; mk && t < T; t++)
                    for (size_t k = 0; k < nl; k++)
                        wrong += mk[((size_t)t * B + b) * nl + k] !=
                                 (gb_rng_float(&rr) < ps[l] ? 0.0f : 1.0f / (1.0f - ps[l]));
            }
        }
        CHECK_INT(wrong, 0);
    }
    gb_lstm_use_reference(0);
    CHECK(tst_nmse(yr, y1, ny) < 1e-10);
    free(y1), free(yr);
    prob_free(&p);
}

/* ------------------------------------------------------------------------------------------ */
/* init, clip, Adam */

static void test_init(void) {
    gb_lstm_config c = {.D = 10, .H = 16, .L = 3, .dropout = 0.1f};
    size_t G = 64, n = G * 10 + G * 16 + 2 * G + 2 * (G * 16 + G * 16 + 2 * G) + 10 * 16 + 10;
    CHECK_INT(gb_lstm_n_params(&c), n);
    gb_lstm m1, m2, m3;
    gb_rng r;
    gb_rng_seed(&r, 1);
    CHECK_INT(gb_lstm_init(&m1, &c, &r, NULL), GB_OK);
    gb_rng_seed(&r, 1);
    CHECK_INT(gb_lstm_init(&m2, &c, &r, NULL), GB_OK);
    gb_rng_seed(&r, 2);
    CHECK_INT(gb_lstm_init(&m3, &c, &r, NULL), GB_OK);
    CHECK_INT(m1.n_params, n);
    CHECK(memcmp(m1.params, m2.params, n * sizeof(float)) == 0);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += m1.params[i] == m3.params[i];
    CHECK(same < 10);
    double k = 0.25, sum = 0, sq = 0; /* 1/sqrt(16) */
    int in_range = 1;
    for (size_t i = 0; i < n; i++) {
        float v = m1.params[i];
        in_range &= v >= -k && v <= k;
        sum += v, sq += (double)v * v;
    }
    CHECK(in_range);
    double mean = sum / n, var = sq / n - mean * mean;
    CHECK(fabs(mean) < 4 * k / sqrt(3.0 * n)); /* 4 standard errors of uniform(-k, k) */
    CHECK_NEAR(var, k * k / 3, 0.1 * k * k / 3);
    /* the first value is the first draw, in block order: w_ih of layer 0 first */
    gb_rng_seed(&r, 1);
    CHECK(m1.params[0] == (float)(-k + 2 * k * gb_rng_float(&r)));
    CHECK(m1.p.w_ih[0] == m1.params);
    CHECK(m1.p.w_hh[0] == m1.params + G * 10);
    CHECK(m1.p.b_hh[2] + G == m1.p.fc_w);
    CHECK(m1.p.fc_b + 10 == m1.params + n);
    CHECK(m1.g.fc_b + 10 == m1.grads + n);
    CHECK(m1.p.nade_w == NULL && m1.p.nade_v == NULL && m1.g.nade_w == NULL);
    int zero = 1;
    for (size_t i = 0; i < n; i++)
        zero &= m1.grads[i] == 0 && m1.adam_m[i] == 0 && m1.adam_v[i] == 0;
    CHECK(zero);
    CHECK_INT(m1.adam_t, 0);
    gb_lstm_free(&m1), gb_lstm_free(&m2), gb_lstm_free(&m3);
    gb_lstm_free(&m3); /* twice is harmless */

    gb_lstm_config bad[] = {
        {.D = 10, .H = 16, .L = 0}, {.D = 10, .H = 16, .L = 5}, {.D = 0, .H = 16, .L = 1},
        {.D = 10, .H = 0, .L = 1}, {.D = 10, .H = 16, .L = 2, .dropout = 1.0f},
        {.D = 10, .H = 16, .L = 2, .dropout = -0.1f}, {.D = 10, .H = 16, .L = 2, .dropout = NAN},
        {.D = 10, .H = 16, .L = 2, .E = -1}, {.D = 10, .H = 16, .L = 2, .dropout_in = 1.0f},
        {.D = 10, .H = 16, .L = 2, .dropout_in = NAN},
        {.D = 10, .H = 16, .L = 2, .dropout_out = -0.5f},
        {.D = 10, .H = 16, .L = 2, .dropout_out = 1.5f}, {.D = 10, .H = 16, .L = 2, .head = 3},
        {.D = 10, .H = 16, .L = 2, .head = GB_HEAD_NADE, .Hn = 0},
        {.D = 10, .H = 16, .L = 2, .head = GB_HEAD_NADE, .Hn = 65537},
        {.D = 10, .H = 16, .L = 2, .head = GB_HEAD_LINEAR, .Hn = 4}};
    int nbad = (int)(sizeof bad / sizeof *bad);
    gb_lstm_acts *good, *a;
    CHECK_INT(gb_lstm_acts_new(&c, 2, 2, &good, NULL), GB_OK);
    for (int i = 0; i < nbad; i++) {
        gb_error e = {0};
        CHECK_INT(gb_lstm_init(&m1, &bad[i], &r, &e), GB_ERR_ARG);
        CHECK(m1.params == NULL && e.status == GB_ERR_ARG && e.msg[0] != 0);
        a = good; /* a failure leaves NULL behind */
        CHECK_INT(gb_lstm_acts_new(&bad[i], 4, 4, &a, NULL), GB_ERR_ARG);
        CHECK(a == NULL);
    }
    CHECK_INT(gb_lstm_init(&m1, &c, NULL, NULL), GB_ERR_ARG); /* no rng */
    CHECK_INT(gb_lstm_acts_new(&c, 0, 4, &a, NULL), GB_ERR_ARG);
    CHECK_INT(gb_lstm_acts_new(&c, 4, -1, &a, NULL), GB_ERR_ARG);
    CHECK_INT(gb_lstm_acts_new(&c, 1 << 30, 1 << 30, &a, NULL), GB_ERR_LIMIT);
    gb_lstm_acts_free(good);
    gb_lstm_acts_free(NULL);
}

/* E inputs and a NADE head: Din = D + E columns in layer 0, Dout = D + Hn head rows, and W, V
 * (D, Hn) after fc_b, drawn last, W uniform in +-1/sqrt(D) and V in +-1/sqrt(Hn) (their fan-ins)
 * while the rest keeps +-1/sqrt(H). H = 16, D = 10, Hn = 25: the three bounds 0.25, 0.316, 0.2
 * differ, and each region's largest |value| must come within 10% of its own bound (of ~5000,
 * 250 and 250 draws: missing that has probability 0.9^250 < 1e-11), so a region drawn with
 * another's bound fails. Activations made for another head are refused (NaN outputs). */
static void test_init_nade(void) {
    gb_lstm_config c = {.D = 10, .H = 16, .L = 2, .E = 3, .head = GB_HEAD_NADE, .Hn = 25};
    size_t G = 64, Din = 13, Dout = 35, DH = 250;
    size_t n = G * Din + G * 16 + 2 * G + (G * 16 + G * 16 + 2 * G) + Dout * 16 + Dout + 2 * DH;
    CHECK_INT(gb_lstm_din(&c), 13);
    CHECK_INT(gb_lstm_dout(&c), 35);
    CHECK_INT(gb_lstm_n_params(&c), n);
    gb_lstm m;
    gb_rng r;
    gb_rng_seed(&r, 3);
    CHECK_INT(gb_lstm_init(&m, &c, &r, NULL), GB_OK);
    CHECK_INT(m.n_params, n);
    CHECK(m.p.w_hh[0] == m.params + G * Din);
    CHECK(m.p.b_hh[1] + G == m.p.fc_w);
    CHECK(m.p.fc_b == m.p.fc_w + Dout * 16);
    CHECK(m.p.nade_w == m.p.fc_b + Dout);
    CHECK(m.p.nade_v == m.p.nade_w + DH);
    CHECK(m.p.nade_v + DH == m.params + n);
    CHECK(m.g.nade_v + DH == m.grads + n && m.g.nade_w == m.grads + (m.p.nade_w - m.params));
    size_t starts[4] = {0, n - 2 * DH, n - DH, n};
    double bound[3] = {0.25, 1 / sqrt(10.0), 0.2};
    for (int reg = 0; reg < 3; reg++) {
        double mx = 0;
        for (size_t i = starts[reg]; i < starts[reg + 1]; i++)
            if (fabs(m.params[i]) > mx) mx = fabs(m.params[i]);
        if (mx > bound[reg] * (1 + 1e-6) || mx < 0.9 * bound[reg] || getenv("GB_TEST_VERBOSE"))
            fprintf(stderr, "  region %d: max |p| %.4f, bound %.4f\n", reg, mx, bound[reg]);
        CHECK(mx <= bound[reg] * (1 + 1e-6));
        CHECK(mx >= 0.9 * bound[reg]);
    }
    /* block order: W's first value is draw number n - 2 D Hn of the rng */
    gb_rng_seed(&r, 3);
    float u = 0;
    for (size_t i = 0; i <= n - 2 * DH; i++) u = gb_rng_float(&r);
    float kw = 1.0f / sqrtf(10.0f); /* as the init computes it, in float */
    CHECK(m.p.nade_w[0] == -kw + 2.0f * kw * u);
    /* activations of a linear head of the same D, H, L: outputs NaN, not an overrun */
    gb_lstm_config lin = c;
    lin.head = GB_HEAD_LINEAR, lin.Hn = 0;
    gb_lstm_acts *a;
    CHECK_INT(gb_lstm_acts_new(&lin, 2, 1, &a, NULL), GB_OK);
    float x[2 * 13] = {0}, y[2 * 35];
    gb_lstm_forward(&m, a, x, 2, 1, y, NULL);
    CHECK(isnan(y[0]) && isnan(y[2 * 35 - 1]));
    gb_lstm_acts_free(a);
    gb_lstm_free(&m);
}

static gb_lstm toy(size_t n) { /* a bare gb_lstm with n parameters, for clip and Adam */
    gb_lstm m;
    memset(&m, 0, sizeof m);
    m.n_params = n;
    m.params = falloc(n), m.grads = falloc(n), m.adam_m = falloc(n), m.adam_v = falloc(n);
    return m;
}

static void test_clip(void) {
    gb_lstm m = toy(4);
    float g[4] = {3, 0, -4, 0};
    memcpy(m.grads, g, sizeof g);
    CHECK_NEAR(gb_lstm_clip(&m, 10.0f), 5.0, 1e-6); /* under the limit: untouched */
    CHECK(memcmp(m.grads, g, sizeof g) == 0);
    CHECK_NEAR(gb_lstm_clip(&m, 0.0f), 5.0, 1e-6); /* 0: no clipping */
    CHECK(memcmp(m.grads, g, sizeof g) == 0);
    CHECK_NEAR(gb_lstm_clip(&m, 1.0f), 5.0, 1e-6);
    CHECK_NEAR(m.grads[0], 0.6, 1e-7);
    CHECK_NEAR(m.grads[2], -0.8, 1e-7);
    CHECK(m.grads[1] == 0);
    CHECK_NEAR(gb_lstm_clip(&m, 2.0f), 1.0, 1e-6);
    gb_lstm_free(&m);
    /* a bigger random vector: the norm is computed in double and the result has norm max */
    m = toy(100000);
    gb_rng r;
    gb_rng_seed(&r, 3);
    double ss = 0;
    for (size_t i = 0; i < m.n_params; i++) {
        m.grads[i] = gb_rng_float(&r) - 0.5f;
        ss += (double)m.grads[i] * m.grads[i];
    }
    /* the same bits with one thread and with three (the sum's order is fixed by n alone), and
     * the scaled gradients are g * (float)(1 / norm) */
    size_t n = m.n_params;
    float *g0 = falloc(n), *g1 = falloc(n), norms[2];
    memcpy(g0, m.grads, n * sizeof(float));
    int threads = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        memcpy(m.grads, g0, n * sizeof(float));
        omp_set_num_threads(t ? 3 : 1);
        norms[t] = gb_lstm_clip(&m, 1.0f);
        if (t == 0) memcpy(g1, m.grads, n * sizeof(float));
    }
    omp_set_num_threads(threads);
    CHECK(norms[0] == norms[1]);
    CHECK(memcmp(g1, m.grads, n * sizeof(float)) == 0);
    long bad = 0;
    float sc = (float)(1.0 / sqrt(ss));
    for (size_t i = 0; i < n; i++) bad += m.grads[i] != g0[i] * sc;
    CHECK_INT(bad, 0);
    CHECK_NEAR(norms[0], sqrt(ss), 1e-5 * sqrt(ss));
    ss = 0;
    for (size_t i = 0; i < m.n_params; i++) ss += (double)m.grads[i] * m.grads[i];
    CHECK_NEAR(sqrt(ss), 1.0, 1e-5);
    free(g0), free(g1);
    gb_lstm_free(&m);
}

static void test_adam(void) {
    gb_lstm m = toy(3);
    double p[3] = {0.5, -1.0, 2.0}, mm[3] = {0}, vv[3] = {0};
    double g[2][3] = {{0.1, -0.2, 0.0}, {-0.3, 0.05, 1.0}};
    /* the formula in double with the float values of the constants the step receives */
    double lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    for (int i = 0; i < 3; i++) m.params[i] = (float)p[i];
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < 3; i++) m.grads[i] = (float)g[s][i];
        gb_adam_step(&m, (float)lr, (float)b1, (float)b2, (float)eps, 0.0f);
        for (int i = 0; i < 3; i++) { /* the formula, in double */
            mm[i] = b1 * mm[i] + (1 - b1) * g[s][i];
            vv[i] = b2 * vv[i] + (1 - b2) * g[s][i] * g[s][i];
            double mh = mm[i] / (1 - pow(b1, s + 1)), vh = vv[i] / (1 - pow(b2, s + 1));
            p[i] -= lr * mh / (sqrt(vh) + eps);
        }
        for (int i = 0; i < 3; i++) {
            CHECK_NEAR(m.params[i], p[i], 1e-6);
            CHECK_NEAR(m.adam_m[i], mm[i], 1e-7);
            CHECK_NEAR(m.adam_v[i], vv[i], 1e-8);
        }
    }
    CHECK_INT(m.adam_t, 2);
    /* by hand: step 1, g = 0.1: m_hat = 0.1, v_hat = 0.01, p = 0.5 - 0.01 * 0.1 / (0.1 + 1e-8) */
    double p1 = 0.5 - 0.01 * 0.1 / (0.1 + 1e-8);
    double m2 = 0.9 * 0.01 + 0.1 * -0.3, v2 = 0.999 * 1e-5 + 0.001 * 0.09;
    double p2 = p1 - 0.01 * (m2 / (1 - 0.81)) / (sqrt(v2 / (1 - 0.998001)) + 1e-8);
    CHECK_NEAR(m.params[0], p2, 1e-6);
    CHECK_NEAR(m.params[2], 2.0 - 0.01 * (0.1 / 0.19) / (sqrt(0.001 / 0.001999) + 1e-8), 1e-6);
    gb_lstm_free(&m);
}

/* AdamW's decoupled decay, PyTorch's AdamW: p *= 1 - lr wd before the Adam update, on the weight
 * matrices (every layer's W_ih and W_hh, fc_w, the NADE's W and V) and never on a bias. The
 * classes come from this test's own walk of the block. At the first step m_hat = g and
 * sqrt(v_hat) = |g|, so the update is lr g / (|g| + eps): by hand, with lr 0.1, wd 0.5,
 * p = 0.5, g = 0.1: a weight goes to 0.5 * 0.95 - 0.1 * 0.1 / (0.1 + 1e-8) = 0.37500001, a bias
 * to 0.40000001; with g = 0 a weight to 0.475 and a bias stays 0.5 exactly. The other elements
 * (p, g of both signs) against the formula in double with the float constants the step gets:
 * float rounding ~1e-7 against 1e-6, and the decay moves a weight by ~0.025. */
static void test_adamw(void) {
    gb_lstm_config c = {.D = 3, .H = 2, .L = 2, .E = 1, .head = GB_HEAD_NADE, .Hn = 2};
    gb_lstm m;
    gb_rng r;
    gb_rng_seed(&r, 4);
    CHECK_INT(gb_lstm_init(&m, &c, &r, NULL), GB_OK);
    size_t n = m.n_params, G = 8, Din = 4, H = 2, Dout = 5, DH = 6;
    char *is_w = calloc(n, 1);
    size_t off = 0, nw = 0;
    for (int l = 0; l < 2; l++) {
        size_t w = G * (l ? H : Din) + G * H; /* W_ih, W_hh; then b_ih, b_hh */
        memset(is_w + off, 1, w), off += w + 2 * G;
    }
    memset(is_w + off, 1, Dout * H), off += Dout * H + Dout; /* fc_w; fc_b */
    memset(is_w + off, 1, 2 * DH), off += 2 * DH;            /* nade_w, nade_v */
    CHECK_INT(off, n);
    for (size_t i = 0; i < n; i++) nw += is_w[i];
    CHECK_INT(nw, 48 + 32 + 10 + 12);
    double *p0 = malloc(n * sizeof *p0), *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        p0[i] = i < 4 ? 0.5 : (float)(gb_rng_float(&r) * 2 - 1);
        g[i] = i == 0 || i == 2 ? 0.1 : i == 1 || i == 3 ? 0.0 : (float)(gb_rng_float(&r) - 0.5);
    }
    /* elements 0, 1 are weights (W_ih of layer 0); put two biases beside them at 2, 3 by
     * swapping in the first bias's place: b_ih of layer 0 starts at G * (Din + H) */
    size_t b0 = G * (Din + H);
    CHECK(is_w[0] && is_w[1] && !is_w[b0] && !is_w[b0 + 1]);
    p0[b0] = 0.5, g[b0] = 0.1, p0[b0 + 1] = 0.5, g[b0 + 1] = 0.0;
    for (size_t i = 0; i < n; i++) m.params[i] = (float)p0[i], m.grads[i] = (float)g[i];
    double lr = 0.1f, wd = 0.5f, eps = 1e-8f;
    gb_adam_step(&m, (float)lr, 0.9f, 0.999f, (float)eps, (float)wd);
    CHECK_INT(m.adam_t, 1);
    CHECK_NEAR(m.params[0], 0.37500001, 1e-6);
    CHECK_NEAR(m.params[1], 0.475, 1e-7);
    CHECK_NEAR(m.params[b0], 0.40000001, 1e-6);
    CHECK(m.params[b0 + 1] == 0.5f);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double want = p0[i] * (is_w[i] ? 1 - lr * wd : 1) - lr * g[i] / (fabs(g[i]) + eps);
        if (!(fabs(m.params[i] - want) <= 1e-6)) {
            if (bad++ < 5)
                fprintf(stderr, "  element %zu (%s): %.9g, want %.9g\n", i,
                        is_w[i] ? "weight" : "bias", m.params[i], want);
        }
        if (!is_w[i] && g[i] == 0) CHECK(m.params[i] == (float)p0[i]);
    }
    CHECK_INT(bad, 0);
    free(is_w), free(p0), free(g);
    gb_lstm_free(&m);
}

/* The optimizer's one pass (AdamW's decay folded into Adam's read of p, threads, vector loops)
 * against the passes it replaces, written out here in float: the decay p *= 1 - lr wd over the
 * weight matrices first, then Adam as adam.c writes it. The same float operations in the same
 * order, so the same bits, at a size where threads run (the NADE head's model: 102k parameters,
 * weight spans with biases between them; a token model's, 255k), three steps with decay and one
 * without. */
static void adam_fused_case(gb_lstm_config c) {
    gb_lstm m;
    gb_rng r;
    gb_rng_seed(&r, 8);
    CHECK_INT(gb_lstm_init(&m, &c, &r, NULL), GB_OK);
    size_t n = m.n_params, G = 4 * (size_t)c.H, H = c.H, Din = (c.V ? c.V : c.D) + c.E;
    size_t Dout = gb_lstm_dout(&c), DH = (size_t)c.D * c.Hn;
    CHECK(n >= 1 << 16);
    char *is_w = calloc(n, 1);
    for (int l = 0; l < c.L; l++) {
        memset(is_w + (m.p.w_ih[l] - m.params), 1, G * (l ? H : Din));
        memset(is_w + (m.p.w_hh[l] - m.params), 1, G * H);
    }
    memset(is_w + (m.p.fc_w - m.params), 1, Dout * H);
    if (m.p.nade_w) {
        memset(is_w + (m.p.nade_w - m.params), 1, DH);
        memset(is_w + (m.p.nade_v - m.params), 1, DH);
    }
    float *p = falloc(n), *mm = falloc(n), *vv = falloc(n);
    memcpy(p, m.params, n * sizeof(float));
    float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    for (int s = 0; s < 4; s++) {
        float wd = s == 2 ? 0.0f : 0.05f;
        fill(m.grads, n, &r, -1, 1);
        for (size_t i = s; i < n; i += 7) m.grads[i] = 0;
        gb_adam_step(&m, lr, b1, b2, eps, wd);
        if (wd > 0)
            for (size_t i = 0; i < n; i++)
                if (is_w[i]) p[i] *= 1.0f - lr * wd;
        double bc1 = 1.0 - pow(b1, s + 1.0), bc2 = 1.0 - pow(b2, s + 1.0);
        float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
        for (size_t i = 0; i < n; i++) {
            float g = m.grads[i];
            mm[i] = b1 * mm[i] + (1.0f - b1) * g;
            vv[i] = b2 * vv[i] + (1.0f - b2) * g * g;
            p[i] -= step * mm[i] / (sqrtf(vv[i]) * rbc2 + eps);
        }
        CHECK(memcmp(m.params, p, n * sizeof(float)) == 0);
        CHECK(memcmp(m.adam_m, mm, n * sizeof(float)) == 0);
        CHECK(memcmp(m.adam_v, vv, n * sizeof(float)) == 0);
    }
    CHECK_INT(m.adam_t, 4);
    free(is_w), free(p), free(mm), free(vv);
    gb_lstm_free(&m);
}

static void test_adam_fused(void) {
    adam_fused_case((gb_lstm_config){.D = 128, .H = 64, .L = 2, .E = 4, .head = GB_HEAD_NADE,
                                     .Hn = 16});
    /* token input: layer 0's W_ih (G, V + E) is one weight span */
    adam_fused_case((gb_lstm_config){.D = 388, .V = 388, .E = 4, .H = 64, .L = 2,
                                     .head = GB_HEAD_SOFTMAX});
}

/* ------------------------------------------------------------------------------------------ */
/* training smoke test */

/* A periodic roll (period 4, two voices) cut into windows at every offset; the model learns to
 * predict the next step. 200 Adam steps must take the evaluation loss below a tenth of the
 * initial one. With a NADE head the step's phase comes in as E = 4 extra inputs (as the meter
 * would), with dropout on every site, and AdamW's decay on. */
static double train(gb_loss_kind kind, int nade, int steps) {
    enum { D = 8, T = 8, B = 8, P = 4 };
    gb_lstm_config c = {.D = D, .H = 16, .L = 2, .dropout = 0.1f};
    if (nade)
        c.E = P, c.dropout_in = 0.1f, c.dropout_out = 0.1f, c.head = GB_HEAD_NADE, c.Hn = 8;
    int Din = gb_lstm_din(&c);
    prob p;
    prob_new(&p, c, T, B, 17, kind, GB_LOSS_ON_LAST);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            /* step k: pitches (k % 4) and 4 + (k * 3 % 4) */
            float *xr = p.x + ((size_t)t * B + b) * Din, *tr = p.t + ((size_t)t * B + b) * D;
            int k = t + b;
            memset(xr, 0, Din * sizeof(float)), memset(tr, 0, D * sizeof(float));
            for (int s = 0; s < 2; s++) {
                float vel = kind == GB_LOSS_MSE ? (s ? 0.5f : 0.8f) : 1.0f;
                xr[s ? 4 + (k * 3) % P : k % P] = vel;
                tr[s ? 4 + ((k + 1) * 3) % P : (k + 1) % P] = vel;
            }
            if (nade) xr[D + k % P] = 1;
        }
    double L0 = prob_loss(&p, 0);
    gb_rng r;
    gb_rng_seed(&r, 5);
    for (int s = 0; s < steps; s++) {
        gb_lstm_zero_grad(&p.m);
        gb_lstm_forward(&p.m, p.a, p.x, T, B, p.y, tst_keys(&r, B));
        gb_loss(&p.m, &p.m.g, kind, GB_LOSS_ON_LAST, p.y, p.t, NULL, T, B, p.dy);
        gb_lstm_backward(&p.m, p.a, p.x, p.dy, T, B);
        gb_lstm_clip(&p.m, 1.0f);
        gb_adam_step(&p.m, 1e-2f, 0.9f, 0.999f, 1e-8f, nade ? 1e-2f : 0.0f);
    }
    double L1 = prob_loss(&p, 0);
    prob_free(&p);
    return L1 / L0;
}

static void test_training_smoke(void) {
    double bce = train(GB_LOSS_BCE, 0, 200), mse = train(GB_LOSS_MSE, 0, 200);
    double nade = train(GB_LOSS_BCE, 1, 200);
    if (bce >= 0.1 || mse >= 0.1 || nade >= 0.1 || getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  loss ratios: BCE %g, MSE %g, NADE %g\n", bce, mse, nade);
    CHECK(bce < 0.1);  /* measured ~0.02 */
    CHECK(mse < 0.1);  /* measured ~5e-4 */
    CHECK(nade < 0.1); /* measured ~0.01 */
}

/* ------------------------------------------------------------------------------------------ */
/* token input and the softmax head */

/* The softmax head's loss by hand. D = 3, y = {0, ln 2, ln 3}: p = {1, 2, 3} / 6, so target 2
 * costs ln 2 and dL/dy = p - onehot(2) = {1/6, 1/3, -1/2} over the rows covered; y = {10, 0, 0}
 * with target 0 costs log(1 + 2 e^-10). The mean is over steps, not over the D classes
 * (CrossEntropyLoss). ON_LAST and a padded step whose target is out of range (never read); a
 * covered one out of range gives NaN. Stable at logits of +-1000. gb_step_nll gives the
 * per-step NLL, 0 for a class filtered out by keys. */
static void test_softmax_loss_values(void) {
    gb_lstm_config c = {.D = 3, .H = 2, .L = 1, .head = GB_HEAD_SOFTMAX};
    gb_lstm m;
    gb_rng r;
    gb_rng_seed(&r, 1);
    CHECK_INT(gb_lstm_init(&m, &c, &r, NULL), GB_OK);
    CHECK_INT(gb_lstm_dout(&c), 3);
    CHECK_INT(gb_lstm_dt(&c), 1);
    float y[6] = {0, logf(2), logf(3), 10, 0, 0}, t[2] = {2, 0}, dy[6];
    double n1 = log(1 + 2 * exp(-10.0));
    for (int kind = 0; kind < 3; kind++) { /* the kind does not matter to this head */
        float L = gb_loss(&m, &m.g, kind, GB_LOSS_ON_ALL, y, t, NULL, 2, 1, dy);
        CHECK_NEAR(L, (log(2.0) + n1) / 2, 1e-7);
        CHECK_NEAR(dy[0], 1.0 / 12, 1e-7);
        CHECK_NEAR(dy[1], 2.0 / 12, 1e-7);
        CHECK_NEAR(dy[2], -3.0 / 12, 1e-7);
        double p0 = 1 / (1 + 2 * exp(-10.0)), p1 = exp(-10.0) * p0;
        CHECK_NEAR(dy[3], (p0 - 1) / 2, 1e-8);
        CHECK_NEAR(dy[4], p1 / 2, 1e-9);
    }
    /* ON_LAST: step 1 alone; step 0's target may be anything, it is not read */
    float tbad[2] = {7, 0};
    float L = gb_loss(&m, &m.g, GB_LOSS_CE, GB_LOSS_ON_LAST, y, tbad, NULL, 2, 1, dy);
    CHECK_NEAR(L, n1, 1e-7);
    CHECK(dy[0] == 0 && dy[1] == 0 && dy[2] == 0);
    float mk[2] = {0, 1}; /* step 0 padding */
    L = gb_loss(&m, &m.g, GB_LOSS_CE, GB_LOSS_ON_ALL, y, tbad, mk, 2, 1, dy);
    CHECK_NEAR(L, n1, 1e-7);
    /* a covered target out of range: NaN, not a read outside the row */
    CHECK(isnan(gb_loss(&m, &m.g, GB_LOSS_CE, GB_LOSS_ON_ALL, y, tbad, NULL, 2, 1, dy)));
    float tneg[2] = {-1, 0};
    CHECK(isnan(gb_loss(&m, NULL, GB_LOSS_CE, GB_LOSS_ON_ALL, y, tneg, NULL, 2, 1, NULL)));
    /* per-step NLL, and a class filter */
    double nll[2];
    gb_step_nll(&m, y, t, 2, NULL, nll);
    CHECK_NEAR(nll[0], log(2.0), 1e-7);
    CHECK_NEAR(nll[1], n1, 1e-9);
    uint8_t keys[3] = {1, 1, 0};
    gb_step_nll(&m, y, t, 2, keys, nll);
    CHECK(nll[0] == 0);
    CHECK_NEAR(nll[1], n1, 1e-9);
    /* large logits */
    float big[3] = {1000, -1000, 0}, t1 = 1;
    L = gb_loss(&m, &m.g, GB_LOSS_CE, GB_LOSS_ON_ALL, big, &t1, NULL, 1, 1, dy);
    CHECK_NEAR(L, 2000, 1e-3);
    CHECK_NEAR(dy[0], 1, 1e-7);
    CHECK_NEAR(dy[1], -1, 1e-7);
    CHECK_NEAR(dy[2], 0, 1e-7);
    gb_lstm_free(&m);
    /* the linear head takes no CE */
    c.head = GB_HEAD_LINEAR;
    CHECK_INT(gb_lstm_init(&m, &c, &r, NULL), GB_OK);
    float t3[6] = {0};
    CHECK(isnan(gb_loss(&m, NULL, GB_LOSS_CE, GB_LOSS_ON_ALL, y, t3, NULL, 2, 1, NULL)));
    gb_lstm_free(&m);
}

/* dy of the softmax head against five-point differences of gb_loss in each element of y
 * (D = 6 classes, T = 3, B = 2, logits in [-3, 3]), on every step and the last, with and
 * without a short window. The loss is ~1.8 as a float (rounding ~1e-7), so the estimate
 * carries ~1e-5 of noise against gradients ~1e-2..1e-1. Bounds as test_loss_fd's: atol 5e-5 +
 * rtol 1e-3 per element, 5e-4 relative L2. */
static void test_softmax_loss_fd(void) {
    enum { T = 3, B = 2, D = 6, N = T * B * D };
    gb_lstm_config c = {.D = D, .H = 2, .L = 1, .head = GB_HEAD_SOFTMAX};
    gb_lstm m;
    gb_rng r;
    gb_rng_seed(&r, 19);
    CHECK_INT(gb_lstm_init(&m, &c, &r, NULL), GB_OK);
    float y[N], t[T * B], dy[N], mk[T * B] = {1, 1, 1, 1, 1, 0};
    fill(y, N, &r, -3.0f, 3.0f);
    for (int i = 0; i < T * B; i++) t[i] = (float)gb_rng_below(&r, D);
    for (int on = 0; on < 2; on++)
        for (int masked = 0; masked < 2; masked++) {
            const float *mask = masked ? mk : NULL;
            gb_loss(&m, &m.g, GB_LOSS_CE, on, y, t, mask, T, B, dy);
            gradcmp g = {0};
            for (int i = 0; i < N; i++) {
                float v0 = y[i], h = FD_H, off[4] = {-2 * h, -h, h, 2 * h};
                double f[4];
                for (int s = 0; s < 4; s++) {
                    y[i] = v0 + off[s];
                    f[s] = gb_loss(&m, NULL, GB_LOSS_CE, on, y, t, mask, T, B, NULL);
                }
                y[i] = v0;
                gradcmp_add(&g, dy[i], fd5(f[0], f[1], f[2], f[3], h), 5e-5, 1e-3);
            }
            if (getenv("GB_TEST_VERBOSE"))
                fprintf(stderr, "  info softmax loss on %d mask %d: max err %.2g, rel L2 %.2g\n",
                        on, masked, g.max_err, gradcmp_rel(&g));
            CHECK_INT(g.bad, 0);
            CHECK(gradcmp_rel(&g) < 5e-4);
            /* each covered row's gradient sums to 0 (softmax minus a one-hot) */
            for (int row = 0; row < T * B; row++) {
                double sum = 0;
                for (int d = 0; d < D; d++) sum += dy[row * D + d];
                CHECK(fabs(sum) < 1e-7);
            }
        }
    gb_lstm_free(&m);
}

/* Token input is the one-hot input: a token model (V = 20, E = 3, softmax over D = 20) and a
 * dense model with the same parameter block (D = 20 features plus the same E = 3: W_ih
 * (G, 23) either way) fed the one-hot rows give the same outputs, loss and gradients, in each
 * path, in evaluation and in training (dropout between the layers and on the head's input:
 * the same masks; input dropout draws masks of other shapes, so it is off here). The reference
 * multiplies the same one-hot rows: the same bits. The fast path gathers where the dense one
 * multiplies by ones and zeros, summing in another order: NMSE < 1e-12 (measured ~1e-15). */
static void test_tokens_are_one_hot(void) {
    enum { V = 20, E = 3, T = 7, B = 5 };
    gb_lstm_config ct = {.D = V, .V = V, .E = E, .H = 16, .L = 2, .dropout = 0.3f,
                         .dropout_out = 0.2f, .head = GB_HEAD_SOFTMAX};
    gb_lstm_config cd = ct;
    cd.V = 0;
    CHECK_INT(gb_lstm_din(&ct), 1 + E);
    CHECK_INT(gb_lstm_dw(&ct), V + E);
    CHECK_INT(gb_lstm_din(&cd), V + E);
    CHECK_INT(gb_lstm_n_params(&ct), gb_lstm_n_params(&cd));
    prob pt, pd;
    prob_new(&pt, ct, T, B, 61, GB_LOSS_CE, GB_LOSS_ON_ALL);
    prob_new(&pd, cd, T, B, 62, GB_LOSS_CE, GB_LOSS_ON_ALL);
    memcpy(pd.m.params, pt.m.params, pt.m.n_params * sizeof(float));
    memcpy(pd.t, pt.t, (size_t)T * B * sizeof(float));
    gb_rng rx;
    gb_rng_seed(&rx, 63);
    for (int row = 0; row < T * B; row++) { /* the one-hot rows of the tokens, dense extras */
        float *xd = pd.x + (size_t)row * (V + E), *xt = pt.x + (size_t)row * (1 + E);
        memset(xd, 0, (V + E) * sizeof(float));
        xd[(int)xt[0]] = 1;
        for (int e = 0; e < E; e++) xd[V + e] = xt[1 + e] = gb_rng_float(&rx) - 0.5f;
    }
    size_t n = pt.m.n_params, ny = (size_t)T * B * V;
    for (int ref = 1; ref >= 0; ref--)
        for (int train = 0; train < 2; train++) {
            gb_lstm_use_reference(ref);
            double Lt = prob_grad(&pt, train ? 5 : 0), Ld = prob_grad(&pd, train ? 5 : 0);
            double ey = tst_nmse(pt.y, pd.y, ny), eg = tst_nmse(pt.m.grads, pd.m.grads, n);
            if (getenv("GB_TEST_VERBOSE"))
                fprintf(stderr, "  info tokens vs one-hot %s %s: nmse y %.2g, grads %.2g, loss "
                        "%.9g %.9g\n", ref ? "ref" : "fast", train ? "train" : "eval", ey, eg, Lt,
                        Ld);
            if (ref) {
                CHECK(memcmp(pt.y, pd.y, ny * sizeof(float)) == 0);
                CHECK(memcmp(pt.m.grads, pd.m.grads, n * sizeof(float)) == 0);
            }
            CHECK(ey < 1e-12);
            CHECK(eg < 1e-12);
            CHECK_NEAR(Lt, Ld, 1e-6 * Ld);
        }
    gb_lstm_use_reference(0);
    prob_free(&pt), prob_free(&pd);
}

/* A token out of range (V, -1, NaN) makes its window's outputs NaN from that step on, in both
 * paths, and leaves the other windows as they were: never a read outside W_ih. */
static void test_tokens_out_of_range(void) {
    enum { T = 4, B = 3 };
    gb_lstm_config c = {.D = 6, .V = 6, .E = 1, .H = 8, .L = 2, .head = GB_HEAD_SOFTMAX};
    prob p;
    prob_new(&p, c, T, B, 71, GB_LOSS_CE, GB_LOSS_ON_ALL);
    float *y0 = falloc((size_t)T * B * 6);
    gb_lstm_forward(&p.m, p.a, p.x, T, B, y0, NULL);
    float bad[3] = {6, -1, NAN};
    for (int k = 0; k < 3; k++)
        for (int ref = 0; ref < 2; ref++) {
            gb_lstm_use_reference(ref);
            float keep = p.x[(size_t)(1 * B + 1) * 2];
            p.x[(size_t)(1 * B + 1) * 2] = bad[k]; /* step 1 of window 1 */
            gb_lstm_forward(&p.m, p.a, p.x, T, B, p.y, NULL);
            p.x[(size_t)(1 * B + 1) * 2] = keep;
            int ok = 1;
            for (int t = 0; t < T; t++)
                for (int b = 0; b < B; b++)
                    for (int d = 0; d < 6; d++) {
                        size_t i = ((size_t)t * B + b) * 6 + d;
                        if (b == 1 && t >= 1) ok &= isnan(p.y[i]);
                        else ok &= fabsf(p.y[i] - y0[i]) < 1e-5f;
                    }
            CHECK(ok);
        }
    gb_lstm_use_reference(0);
    free(y0);
    prob_free(&p);
}

/* Token input and the softmax head: n_params and the block's layout (W_ih of layer 0 is
 * (G, V + E)), and the configurations refused. */
static void test_init_tokens(void) {
    gb_lstm_config c = {.D = 10, .V = 30, .E = 2, .H = 16, .L = 2, .head = GB_HEAD_SOFTMAX};
    size_t G = 64, n = G * 32 + G * 16 + 2 * G + (G * 16 + G * 16 + 2 * G) + 10 * 16 + 10;
    CHECK_INT(gb_lstm_din(&c), 3);
    CHECK_INT(gb_lstm_dw(&c), 32);
    CHECK_INT(gb_lstm_dout(&c), 10);
    CHECK_INT(gb_lstm_dt(&c), 1);
    CHECK_INT(gb_lstm_n_params(&c), n);
    gb_lstm m;
    gb_rng r;
    gb_rng_seed(&r, 3);
    CHECK_INT(gb_lstm_init(&m, &c, &r, NULL), GB_OK);
    CHECK(m.p.w_hh[0] == m.params + G * 32);
    CHECK(m.p.fc_b + 10 == m.params + n);
    CHECK(m.p.nade_w == NULL);
    double mx = 0; /* LSTMCell(V + E, H)'s init: uniform(+-1/sqrt(H)) everywhere */
    for (size_t i = 0; i < n; i++) mx = fabs(m.params[i]) > mx ? fabs(m.params[i]) : mx;
    CHECK(mx <= 0.25 && mx > 0.24);
    gb_lstm_free(&m);
    gb_lstm_config bad[] = {{.D = 10, .V = -1, .H = 16, .L = 1},
                            {.D = 10, .V = (1 << 20) + 1, .H = 16, .L = 1},
                            {.D = 10, .V = 10, .H = 16, .L = 1, .head = GB_HEAD_SOFTMAX, .Hn = 4}};
    for (int i = 0; i < 3; i++) {
        gb_error e = {0};
        CHECK_INT(gb_lstm_init(&m, &bad[i], &r, &e), GB_ERR_ARG);
        CHECK(e.msg[0] != 0);
    }
    /* activations of a dense model of the same D, E, H, L: NaN outputs, not an overrun */
    gb_lstm_config dense = c;
    dense.V = 0;
    CHECK_INT(gb_lstm_init(&m, &c, &r, NULL), GB_OK);
    gb_lstm_acts *a;
    CHECK_INT(gb_lstm_acts_new(&dense, 2, 1, &a, NULL), GB_OK);
    float x[2 * 12] = {0}, y[2 * 10];
    gb_lstm_forward(&m, a, x, 2, 1, y, NULL);
    CHECK(isnan(y[0]) && isnan(y[19]));
    gb_lstm_acts_free(a);
    gb_lstm_free(&m);
}

/* A tiny token sequence: period 5 over V = 8 tokens (3, 1, 4, 1, 5: token 1 is followed by 4 or
 * by 5, so the model must remember the step before), windows at every offset, each step's
 * target the next token, the softmax head over the V tokens, dropout between the layers. 200
 * Adam steps must take the loss from ~ln 8 below a tenth of it, and every prediction (the
 * argmax) must be right. Twice: E = 0, and E = 2 extras (the phase, one-hot in period 2). */
static double train_tokens(int E, int *wrong) {
    enum { V = 8, T = 8, B = 8, P = 5 };
    static const int seq[P] = {3, 1, 4, 1, 5};
    gb_lstm_config c = {.D = V, .V = V, .E = E, .H = 16, .L = 2, .dropout = 0.1f,
                        .head = GB_HEAD_SOFTMAX};
    int Din = gb_lstm_din(&c);
    prob p;
    prob_new(&p, c, T, B, 23, GB_LOSS_CE, GB_LOSS_ON_ALL);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            size_t row = (size_t)t * B + b;
            int k = t + b;
            memset(p.x + row * Din, 0, (size_t)Din * sizeof(float));
            p.x[row * Din] = (float)seq[k % P];
            if (E) p.x[row * Din + 1 + k % 2] = 1;
            p.t[row] = (float)seq[(k + 1) % P];
        }
    double L0 = prob_loss(&p, 0);
    gb_rng r;
    gb_rng_seed(&r, 5);
    for (int s = 0; s < 200; s++) {
        gb_lstm_zero_grad(&p.m);
        gb_lstm_forward(&p.m, p.a, p.x, T, B, p.y, tst_keys(&r, B));
        gb_loss(&p.m, &p.m.g, GB_LOSS_CE, GB_LOSS_ON_ALL, p.y, p.t, NULL, T, B, p.dy);
        gb_lstm_backward(&p.m, p.a, p.x, p.dy, T, B);
        gb_lstm_clip(&p.m, 1.0f);
        gb_adam_step(&p.m, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f);
    }
    double L1 = prob_loss(&p, 0);
    *wrong = 0;
    for (int row = 1 * B; row < T * B; row++) { /* from step 1: step 0 cannot know token 1's */
        int best = 0;
        for (int d = 1; d < V; d++) best = p.y[row * V + d] > p.y[row * V + best] ? d : best;
        *wrong += best != (int)p.t[row];
    }
    if (getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  info tokens E %d: loss %.4g -> %.4g\n", E, L0, L1);
    CHECK(L0 > 0.8 * log(8.0) && L0 < 1.2 * log(8.0));
    prob_free(&p);
    return L1 / L0;
}

static void test_training_tokens(void) {
    for (int E = 0; E <= 2; E += 2) {
        int wrong;
        double ratio = train_tokens(E, &wrong);
        if (ratio >= 0.1 || wrong || getenv("GB_TEST_VERBOSE"))
            fprintf(stderr, "  tokens E %d: loss ratio %g, %d wrong of 56\n", E, ratio, wrong);
        CHECK(ratio < 0.1); /* measured ~0.01 */
        CHECK_INT(wrong, 0);
    }
}


int main(void) {
    RUN(test_cell_step_fd);
    RUN(test_step_kernels_threads);
    RUN(test_vmath);
    RUN(test_cell_pointwise_vs_ref);
    RUN(test_loss_values);
    RUN(test_loss_fd);
    RUN(test_fd_model);
    RUN(test_fd_model_edges);
    RUN(test_fast_vs_reference);
    RUN(test_dropout_and_modes);
    RUN(test_init);
    RUN(test_init_nade);
    RUN(test_clip);
    RUN(test_adam);
    RUN(test_adamw);
    RUN(test_adam_fused);
    RUN(test_training_smoke);
    RUN(test_softmax_loss_values);
    RUN(test_softmax_loss_fd);
    RUN(test_tokens_are_one_hot);
    RUN(test_tokens_out_of_range);
    RUN(test_init_tokens);
    RUN(test_training_tokens);
    TEST_END();
}
