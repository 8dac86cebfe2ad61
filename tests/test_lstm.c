/* test_lstm.c - the LSTM of src/model: finite-difference gradient checks (one cell step, each
 * loss, the whole model in both kernel paths, with and without dropout), the fast path against
 * the reference at a realistic size, initialisation, clipping, Adam by hand, and a training
 * smoke test on a periodic sequence. */
#include "model/kernels.h"
#include "test.h"

#include <math.h>
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
/* the losses alone */

static void test_loss_values(void) {
    /* T = 2, B = 1, D = 2: hand-computed */
    float y[4] = {0.5f, -1.0f, 0.25f, 2.0f}, t[4] = {1.0f, 0.0f, 0.0f, 1.0f}, dy[4];
    float L = gb_loss(GB_LOSS_MSE, GB_LOSS_ON_ALL, y, t, 2, 1, 2, dy);
    CHECK_NEAR(L, (0.25 + 1.0 + 0.0625 + 1.0) / 4, 1e-7);
    CHECK_NEAR(dy[0], 2 * (0.5 - 1.0) / 4, 1e-7);
    CHECK_NEAR(dy[3], 2 * (2.0 - 1.0) / 4, 1e-7);
    L = gb_loss(GB_LOSS_MSE, GB_LOSS_ON_LAST, y, t, 2, 1, 2, dy);
    CHECK_NEAR(L, (0.0625 + 1.0) / 2, 1e-7);
    CHECK(dy[0] == 0 && dy[1] == 0);
    CHECK_NEAR(dy[2], 2 * 0.25 / 2, 1e-7);
    float z[4] = {0, 0, 0, 0};
    L = gb_loss(GB_LOSS_BCE, GB_LOSS_ON_ALL, z, t, 2, 1, 2, dy);
    CHECK_NEAR(L, log(2.0), 1e-7);
    CHECK_NEAR(dy[0], (0.5 - 1.0) / 4, 1e-7);
    CHECK_NEAR(dy[1], 0.5 / 4, 1e-7);
    /* stable at large logits: no inf, no NaN */
    float big[4] = {100, -100, 100, -100}, tb[4] = {1, 1, 0, 0};
    L = gb_loss(GB_LOSS_BCE, GB_LOSS_ON_ALL, big, tb, 1, 1, 4, dy);
    CHECK_NEAR(L, (0 + 100 + 100 + 0) / 4.0, 1e-4);
    CHECK_NEAR(dy[0], 0, 1e-7);
    CHECK_NEAR(dy[1], -0.25, 1e-7);
    CHECK_NEAR(dy[2], 0.25, 1e-7);
    CHECK_NEAR(dy[3], 0, 1e-7);
}

/* dy against five-point differences of the loss in each element of y. The loss comes back as
 * a float (~0.5, rounding ~3e-8), so the estimate carries ~5e-6 of noise (measured: max 8e-6)
 * against dy ~1e-2..1e-1; truncation at h^4 ~1e-9. Bounds: atol 5e-5 + rtol 1e-3 per element,
 * 5e-4 relative L2 overall. */
static void test_loss_fd(void) {
    enum { T = 3, B = 2, D = 4, N = T * B * D };
    gb_rng r;
    gb_rng_seed(&r, 5);
    float y[N], t[N], dy[N], dy2[N];
    fill(y, N, &r, -2.0f, 2.0f);
    for (int kind = 0; kind < 2; kind++)
        for (int on = 0; on < 2; on++) {
            for (int i = 0; i < N; i++)
                t[i] = kind == GB_LOSS_BCE ? gb_rng_float(&r) < 0.5f : gb_rng_float(&r);
            gb_loss(kind, on, y, t, T, B, D, dy);
            gradcmp g = {0};
            for (int i = 0; i < N; i++) {
                float y0 = y[i], h = FD_H, off[4] = {-2 * h, -h, h, 2 * h};
                double f[4];
                for (int s = 0; s < 4; s++)
                    y[i] = y0 + off[s], f[s] = gb_loss(kind, on, y, t, T, B, D, dy2);
                y[i] = y0;
                gradcmp_add(&g, dy[i], fd5(f[0], f[1], f[2], f[3], h), 5e-5, 1e-3);
                if (on == GB_LOSS_ON_LAST && i < (T - 1) * B * D) CHECK(dy[i] == 0.0f);
            }
            if (getenv("GB_TEST_VERBOSE"))
                fprintf(stderr, "  info loss %d %d: max err %.2g, rel L2 %.2g\n", kind, on,
                        g.max_err, gradcmp_rel(&g));
            CHECK_INT(g.bad, 0);
            CHECK(gradcmp_rel(&g) < 5e-4);
        }
}

/* ------------------------------------------------------------------------------------------ */
/* a problem: model, activations, a batch of windows and targets */

typedef struct {
    gb_lstm m;
    gb_lstm_acts *a;
    int T, B;
    float *x, *t, *y, *dy;
    gb_loss_kind kind;
    gb_loss_on on;
} prob;

static void prob_new(prob *p, gb_lstm_config c, int T, int B, uint64_t seed, gb_loss_kind kind,
                     gb_loss_on on) {
    gb_rng r;
    gb_rng_seed(&r, seed);
    CHECK_INT(gb_lstm_init(&p->m, &c, &r, NULL), GB_OK);
    CHECK_INT(gb_lstm_acts_new(&c, T, B, &p->a, NULL), GB_OK);
    size_t n = (size_t)T * B * c.D;
    p->T = T, p->B = B, p->kind = kind, p->on = on;
    p->x = falloc(n), p->t = falloc(n), p->y = falloc(n), p->dy = falloc(n);
    for (size_t i = 0; i < n; i++) { /* sparse binary rolls as inputs; targets by loss kind */
        p->x[i] = gb_rng_float(&r) < 0.3f ? (kind == GB_LOSS_MSE ? gb_rng_float(&r) : 1.0f) : 0.0f;
        p->t[i] = kind == GB_LOSS_BCE ? (gb_rng_float(&r) < 0.3f) : gb_rng_float(&r);
    }
}

static void prob_free(prob *p) {
    gb_lstm_free(&p->m);
    gb_lstm_acts_free(p->a);
    free(p->x), free(p->t), free(p->y), free(p->dy);
}

/* The loss of one training forward; dropout masks come from a fresh rng seeded with mask_seed,
 * so every evaluation sees the same masks (mask_seed 0: evaluation mode, no dropout). */
static double prob_loss(prob *p, uint64_t mask_seed) {
    gb_rng r;
    gb_rng_seed(&r, mask_seed);
    gb_lstm_forward(&p->m, p->a, p->x, p->T, p->B, p->y, mask_seed ? &r : NULL);
    return gb_loss(p->kind, p->on, p->y, p->t, p->T, p->B, p->m.cfg.D, p->dy);
}

static double prob_grad(prob *p, uint64_t mask_seed) {
    gb_lstm_zero_grad(&p->m);
    double L = prob_loss(p, mask_seed);
    gb_lstm_backward(&p->m, p->a, p->x, p->dy, p->T, p->B);
    return L;
}

/* ------------------------------------------------------------------------------------------ */
/* the whole model by finite differences */

/* The model again, in double and written independently of src/model (its own walk of the
 * parameter block, step by step as the report's LSTMCell loop): the oracle for the gradient
 * check. masks[l] (T, B, H) are the float model's dropout masks (NULL: none). */
static double dmodel_loss(const gb_lstm_config *c, const double *w, const float *x,
                          const float *target, int T, int B, gb_loss_kind kind, gb_loss_on on,
                          const float *const *masks) {
    int D = c->D, H = c->H, L = c->L, G = 4 * H;
    const double *wih[GB_LSTM_MAX_LAYERS], *whh[GB_LSTM_MAX_LAYERS], *bih[GB_LSTM_MAX_LAYERS],
        *bhh[GB_LSTM_MAX_LAYERS];
    for (int l = 0; l < L; l++) {
        int in = l ? H : D;
        wih[l] = w, w += G * in;
        whh[l] = w, w += G * H;
        bih[l] = w, w += G;
        bhh[l] = w, w += G;
    }
    const double *fcw = w, *fcb = w + D * H;
    double *h = calloc((size_t)L * B * H, sizeof *h), *cs = calloc((size_t)L * B * H, sizeof *cs);
    double *in_v = calloc(D > H ? D : H, sizeof *in_v), *z = calloc(G, sizeof *z);
    double *hn = calloc(H, sizeof *hn), sum = 0;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            for (int l = 0; l < L; l++) {
                int in = l ? H : D;
                size_t tb = (size_t)t * B + b;
                for (int k = 0; k < in; k++) /* this step's input: x, or h below (masked) */
                    in_v[k] = l == 0 ? x[tb * D + k]
                                     : h[((size_t)(l - 1) * B + b) * H + k] *
                                           (masks ? masks[l - 1][tb * H + k] : 1.0);
                double *hl = h + ((size_t)l * B + b) * H, *cl = cs + ((size_t)l * B + b) * H;
                for (int r = 0; r < G; r++) {
                    z[r] = bih[l][r] + bhh[l][r];
                    for (int k = 0; k < in; k++) z[r] += wih[l][r * in + k] * in_v[k];
                    for (int k = 0; k < H; k++) z[r] += whh[l][r * H + k] * hl[k];
                }
                for (int j = 0; j < H; j++) {
                    double i = 1 / (1 + exp(-z[j])), f = 1 / (1 + exp(-z[H + j]));
                    double g = tanh(z[2 * H + j]), o = 1 / (1 + exp(-z[3 * H + j]));
                    cl[j] = f * cl[j] + i * g;
                    hn[j] = o * tanh(cl[j]);
                }
                memcpy(hl, hn, H * sizeof *hl);
            }
            if (on == GB_LOSS_ON_LAST && t < T - 1) continue;
            const double *top = h + ((size_t)(L - 1) * B + b) * H;
            for (int d = 0; d < D; d++) {
                double y = fcb[d], tg = target[((size_t)t * B + b) * D + d];
                for (int k = 0; k < H; k++) y += fcw[d * H + k] * top[k];
                sum += kind == GB_LOSS_MSE ? (y - tg) * (y - tg) : log1p(exp(y)) - tg * y;
            }
        }
    free(h), free(cs), free(in_v), free(z), free(hn);
    return sum / ((on == GB_LOSS_ON_LAST ? 1.0 : T) * B * D);
}

/* Checks every parameter's gradient of the float model (either path) against central
 * differences of the double oracle, block by block (each layer's W_ih, W_hh, biases; the head),
 * so that a block with small gradients cannot hide behind a large one.
 * Tolerance: in double, h = 1e-4 leaves truncation ~h^2 f''' ~ 1e-9 and rounding ~1e-16/h =
 * 1e-12, so the comparison measures the float model alone, whose gradients carry float
 * rounding through a few dozen terms (measured: max element error ~1e-7, relative L2 error per
 * block <= ~1e-6). Bounds: atol 5e-7 + rtol 1e-3 per element and relative L2 error 2e-5 per
 * block: an order of magnitude above that, and orders below what any wrong term costs (a
 * block's gradient off by its own size). A block whose gradient is below 1e-7 rms would be a
 * vacuous check and fails, except W_hh at T = 1, which must be exactly zero. The oracle's loss
 * must also match the float forward's within 1e-5 relative (measured ~1e-7).
 * Returns the number of failed blocks. */
static int fd_check(prob *p, uint64_t mseed, const char *label) {
    const gb_lstm_config *c = &p->m.cfg;
    /* well-conditioned: dense inputs in [-1, 1], weights in [-2k, 2k], larger activations */
    gb_rng r;
    gb_rng_seed(&r, 321);
    fill(p->x, (size_t)p->T * p->B * c->D, &r, -1.0f, 1.0f);
    for (size_t i = 0; i < p->m.n_params; i++) p->m.params[i] *= 2.0f;
    double L = prob_grad(p, mseed);
    const float *masks[GB_LSTM_MAX_LAYERS];
    int masked = gb_lstm_acts_mask(p->a, 0) != NULL;
    for (int l = 0; l < c->L - 1; l++) masks[l] = gb_lstm_acts_mask(p->a, l);
    size_t n = p->m.n_params, G = 4 * (size_t)c->H;
    double *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++) w[i] = p->m.params[i];
#define ORACLE() dmodel_loss(c, w, p->x, p->t, p->T, p->B, p->kind, p->on, masked ? masks : NULL)
    double Ld = ORACLE();
    int failed = !(fabs(L - Ld) <= 1e-5 * fabs(Ld));
    if (failed || getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  %s %s: loss %.9g, oracle %.9g\n", failed ? "FAIL" : "info", label, L,
                Ld);
    /* block boundaries in the flat vector: per layer w_ih, w_hh, (b_ih, b_hh); fc_w, fc_b */
    size_t bounds[3 * GB_LSTM_MAX_LAYERS + 3], nb = 0, off = 0;
    for (int l = 0; l < c->L; l++) {
        bounds[nb++] = off, off += G * (l ? c->H : c->D);
        bounds[nb++] = off, off += G * c->H;
        bounds[nb++] = off, off += 2 * G;
    }
    bounds[nb++] = off, off += (size_t)c->D * c->H;
    bounds[nb++] = off;
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
        int zero_ok = p->T == 1 && b < 3 * (size_t)c->L && b % 3 == 1;
        int bad = g.bad || gradcmp_rel(&g) >= 2e-5 || (zero_ok ? rms != 0 : rms < 1e-7);
        if (bad || getenv("GB_TEST_VERBOSE"))
            fprintf(stderr, "  %s %s block %zu: %ld bad of %ld, max err %.2g, rel L2 %.2g, "
                    "rms grad %.2g\n", bad ? "FAIL" : "info", label, b, g.bad, g.n, g.max_err,
                    gradcmp_rel(&g), rms);
        failed += bad;
    }
#undef ORACLE
    free(w);
    return failed;
}

/* Every parameter of a tiny model (D=5, H=4, L=2, T=4, B=3: 361 of them), both losses, both
 * loss-on modes, dropout 0 and 0.5 (masks fixed by re-seeding the rng for every evaluation),
 * both kernel paths. Layer 0's gradients reach the loss only through layer 1's input (dX) and
 * the dropout mask, so they check the inputs' path through all layers. */
static void fd_model(gb_loss_kind kind, gb_loss_on on, float dropout, int ref) {
    gb_lstm_config c = {.D = 5, .H = 4, .L = 2, .dropout = dropout};
    prob p;
    prob_new(&p, c, 4, 3, 1234 + kind * 2 + on, kind, on);
    uint64_t mseed = dropout > 0 ? 777 : 0;
    gb_lstm_use_reference(ref);
    char label[64];
    snprintf(label, sizeof label, "%s on-%s dropout %.1f %s", kind ? "BCE" : "MSE",
             on ? "all" : "last", (double)dropout, ref ? "ref" : "fast");
    CHECK_INT(fd_check(&p, mseed, label), 0);
    if (dropout > 0) { /* the masks are there, and are 0 or 1/(1-p) */
        const float *mk = gb_lstm_acts_mask(p.a, 0);
        CHECK(mk != NULL);
        int zeros = 0;
        for (int k = 0; mk && k < 4 * 3 * 4; k++) {
            CHECK(mk[k] == 0.0f || mk[k] == 2.0f);
            zeros += mk[k] == 0.0f;
        }
        CHECK(zeros > 8 && zeros < 40);
    }
    gb_lstm_use_reference(0);
    prob_free(&p);
}

static void test_fd_model(void) {
    for (int ref = 1; ref >= 0; ref--)
        for (int kind = 0; kind < 2; kind++)
            for (int on = 0; on < 2; on++) {
                fd_model(kind, on, 0.0f, ref);
                fd_model(kind, on, 0.5f, ref);
            }
}

/* One layer, one step, one window, four layers: the smallest and largest cases of the loops. */
static void test_fd_model_edges(void) {
    int cfgs[][3] = {{1, 1, 1}, {1, 3, 2}, {3, 1, 1}, {4, 3, 2}}; /* L, T, B */
    for (int ci = 0; ci < 4; ci++)
        for (int ref = 0; ref < 2; ref++) {
            gb_lstm_config c = {.D = 3, .H = 2, .L = cfgs[ci][0], .dropout = 0.3f};
            prob p;
            prob_new(&p, c, cfgs[ci][1], cfgs[ci][2], 99 + ci, GB_LOSS_MSE, GB_LOSS_ON_ALL);
            gb_lstm_use_reference(ref);
            char label[64];
            snprintf(label, sizeof label, "L %d T %d B %d %s", c.L, cfgs[ci][1], cfgs[ci][2],
                     ref ? "ref" : "fast");
            CHECK_INT(fd_check(&p, 3, label), 0);
            gb_lstm_use_reference(0);
            prob_free(&p);
        }
}

/* ------------------------------------------------------------------------------------------ */
/* fast path against the reference */

/* Normalised mean squared error sum (a-b)^2 / sum b^2, as ggml's test-backend-ops. */
static double nmse(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        d += e * e, s += (double)b[i] * b[i];
    }
    return s > 0 ? d / s : d;
}

/* D=128, H=64, L=2, T=12, B=16, dropout 0.2: the paths sum in different orders (sgemm blocks in
 * float vs double dot products), so they differ by float rounding, amplified a little by the
 * recurrence: measured NMSE ~1e-14 for outputs, ~1e-13 for gradients. The bound 1e-10 (relative
 * RMS error 1e-5) leaves room for other BLAS builds and still fails on any real difference: a
 * swapped gate, a missed bias or a different mask gives NMSE ~1e-2..1, one wrong element among
 * the 58k gradients ~1e-5. The masks must be bit-identical. */
static void test_fast_vs_reference(void) {
    gb_lstm_config c = {.D = 128, .H = 64, .L = 2, .dropout = 0.2f};
    int T = 12, B = 16;
    for (int kind = 0; kind < 2; kind++)
        for (int on = 0; on < 2; on++) {
            prob p;
            prob_new(&p, c, T, B, 42 + kind, kind, on);
            size_t n = p.m.n_params, ny = (size_t)T * B * c.D;
            float *g_ref = falloc(n), *y_ref = falloc(ny);
            gb_lstm_use_reference(1);
            double L_ref = prob_grad(&p, 8);
            memcpy(g_ref, p.m.grads, n * sizeof(float));
            memcpy(y_ref, p.y, ny * sizeof(float));
            float *mask_ref = falloc((size_t)T * B * c.H);
            memcpy(mask_ref, gb_lstm_acts_mask(p.a, 0), (size_t)T * B * c.H * sizeof(float));
            gb_lstm_use_reference(0);
            double L_fast = prob_grad(&p, 8);
            CHECK(memcmp(mask_ref, gb_lstm_acts_mask(p.a, 0), (size_t)T * B * c.H * 4) == 0);
            CHECK(nmse(p.y, y_ref, ny) < 1e-10);
            CHECK_NEAR(L_fast, L_ref, 1e-5 * L_ref);
            gb_lstm_views vr, vf;
            gb_lstm_views_of(&c, g_ref, &vr);
            gb_lstm_views_of(&c, p.m.grads, &vf);
            size_t G = 4 * c.H;
            for (int l = 0; l < c.L; l++) {
                size_t in = l ? c.H : c.D;
                CHECK(nmse(vf.w_ih[l], vr.w_ih[l], G * in) < 1e-10);
                CHECK(nmse(vf.w_hh[l], vr.w_hh[l], G * c.H) < 1e-10);
                CHECK(nmse(vf.b_ih[l], vr.b_ih[l], G) < 1e-10);
                CHECK(nmse(vf.b_hh[l], vr.b_hh[l], G) < 1e-10);
                CHECK(memcmp(vf.b_ih[l], vf.b_hh[l], G * sizeof(float)) == 0);
            }
            CHECK(nmse(vf.fc_w, vr.fc_w, (size_t)c.D * c.H) < 1e-10);
            CHECK(nmse(vf.fc_b, vr.fc_b, c.D) < 1e-10);
            CHECK(nmse(p.m.grads, g_ref, n) < 1e-10);
            if (getenv("GB_TEST_VERBOSE"))
                fprintf(stderr, "  info fast/ref %d %d: nmse y %.2g, grads %.2g, loss %.9g %.9g\n",
                        kind, on, nmse(p.y, y_ref, ny), nmse(p.m.grads, g_ref, n), L_fast, L_ref);
            /* gradients accumulate: a second backward without zeroing doubles them */
            gb_lstm_backward(&p.m, p.a, p.x, p.dy, T, B);
            for (size_t i = 0; i < n; i += 97)
                CHECK_NEAR(p.m.grads[i], 2 * g_ref[i], 1e-5 + 1e-3 * fabsf(g_ref[i]));
            free(g_ref), free(y_ref), free(mask_ref);
            prob_free(&p);
        }
}

/* Dropout: drawn only in training, the same masks from the same rng state in both paths (the
 * rng ends in the same state), about p of the units zeroed; evaluation is deterministic; a
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
        gb_lstm_forward(&p.m, p.a, p.x, T, B, p.y, r);
        for (int l = 0; l < 2; l++) {
            const float *mk = gb_lstm_acts_mask(p.a, l);
            size_t zeros = 0;
            for (size_t k = 0; k < nm; k++) {
                CHECK(mk[k] == 0.0f || mk[k] == 1.0f / 0.75f);
                zeros += mk[k] == 0.0f;
            }
            CHECK(zeros > nm / 4 - nm / 10 && zeros < nm / 4 + nm / 10); /* 384 +- 154 */
        }
        CHECK(gb_lstm_acts_mask(p.a, 2) == NULL); /* the top layer feeds the head undropped */
        if (ref) CHECK(nmse(p.y, y1, ny) < 1e-10);
        memcpy(y1, p.y, ny * sizeof(float));
    }
    gb_lstm_use_reference(0);
    CHECK(memcmp(r1.s, r2.s, sizeof r1.s) == 0);
    gb_rng r3;
    gb_rng_seed(&r3, 2024);
    for (size_t k = 0; k < 2 * nm; k++) gb_rng_float(&r3); /* two masks' worth of draws */
    CHECK(memcmp(r1.s, r3.s, sizeof r1.s) == 0);

    gb_lstm_forward(&p.m, p.a, p.x, T, B, y1, NULL); /* evaluation: no masks, no draws */
    CHECK(gb_lstm_acts_mask(p.a, 0) == NULL);
    gb_lstm_forward(&p.m, p.a, p.x, T, B, p.y, NULL);
    CHECK(memcmp(y1, p.y, ny * sizeof(float)) == 0);
    CHECK(nmse(y1, p.y, ny) == 0);

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
        CHECK(nmse(y3 + (size_t)t * b3 * c.D, y1 + (size_t)t * B * c.D, (size_t)b3 * c.D) < 1e-10);
    /* and backward through the bigger activations gives the same gradients */
    float *g3 = falloc(p.m.n_params), *dy3 = falloc((size_t)T * b3 * c.D);
    for (int k = 0; k < 2; k++) {
        gb_lstm_acts *ak = k ? a3 : p.a;
        gb_lstm_zero_grad(&p.m);
        gb_rng rk;
        gb_rng_seed(&rk, 9);
        gb_lstm_forward(&p.m, ak, x3, T, b3, y3, &rk);
        gb_loss(GB_LOSS_MSE, GB_LOSS_ON_ALL, y3, x3, T, b3, c.D, dy3);
        gb_lstm_backward(&p.m, ak, x3, dy3, T, b3);
        if (k == 0) memcpy(g3, p.m.grads, p.m.n_params * sizeof(float));
    }
    CHECK(memcmp(g3, p.m.grads, p.m.n_params * sizeof(float)) == 0);
    free(g3), free(dy3);
    /* a batch larger than the activations: NaN outputs rather than an overrun */
    gb_lstm_forward(&p.m, a3, p.x, T, B, p.y, NULL);
    CHECK(isnan(p.y[0]) && isnan(p.y[ny - 1]));
    gb_lstm_acts_free(a3);
    free(x3), free(y3), free(y3b), free(y1);
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
    int zero = 1;
    for (size_t i = 0; i < n; i++)
        zero &= m1.grads[i] == 0 && m1.adam_m[i] == 0 && m1.adam_v[i] == 0;
    CHECK(zero);
    CHECK_INT(m1.adam_t, 0);
    gb_lstm_free(&m1), gb_lstm_free(&m2), gb_lstm_free(&m3);
    gb_lstm_free(&m3); /* twice is harmless */

    gb_lstm_config bad[] = {{10, 16, 0, 0}, {10, 16, 5, 0}, {0, 16, 1, 0}, {10, 0, 1, 0},
                            {10, 16, 2, 1.0f}, {10, 16, 2, -0.1f}, {10, 16, 2, NAN}};
    gb_lstm_acts *good, *a;
    CHECK_INT(gb_lstm_acts_new(&c, 2, 2, &good, NULL), GB_OK);
    for (int i = 0; i < 7; i++) {
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
    CHECK_NEAR(gb_lstm_clip(&m, 1.0f), sqrt(ss), 1e-5 * sqrt(ss));
    ss = 0;
    for (size_t i = 0; i < m.n_params; i++) ss += (double)m.grads[i] * m.grads[i];
    CHECK_NEAR(sqrt(ss), 1.0, 1e-5);
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
        gb_adam_step(&m, (float)lr, (float)b1, (float)b2, (float)eps);
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

/* ------------------------------------------------------------------------------------------ */
/* training smoke test */

/* A periodic roll (period 4, two voices) cut into windows at every offset; the model learns to
 * predict the next step. 200 Adam steps must take the evaluation loss below a tenth of the
 * initial one. */
static double train(gb_loss_kind kind, int steps) {
    enum { D = 8, T = 8, B = 8, P = 4 };
    gb_lstm_config c = {.D = D, .H = 16, .L = 2, .dropout = 0.1f};
    prob p;
    prob_new(&p, c, T, B, 17, kind, GB_LOSS_ON_LAST);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int s = 0; s < 2; s++) { /* step k: pitches (k % 4) and 4 + (k * 3 % 4) */
                float *xr = p.x + ((size_t)t * B + b) * D, *tr = p.t + ((size_t)t * B + b) * D;
                int k = t + b;
                if (s == 0) memset(xr, 0, D * sizeof(float)), memset(tr, 0, D * sizeof(float));
                float vel = kind == GB_LOSS_MSE ? (s ? 0.5f : 0.8f) : 1.0f;
                xr[s ? 4 + (k * 3) % P : k % P] = vel;
                tr[s ? 4 + ((k + 1) * 3) % P : (k + 1) % P] = vel;
            }
    double L0 = prob_loss(&p, 0);
    gb_rng r;
    gb_rng_seed(&r, 5);
    for (int s = 0; s < steps; s++) {
        gb_lstm_zero_grad(&p.m);
        gb_lstm_forward(&p.m, p.a, p.x, T, B, p.y, &r);
        gb_loss(kind, GB_LOSS_ON_LAST, p.y, p.t, T, B, D, p.dy);
        gb_lstm_backward(&p.m, p.a, p.x, p.dy, T, B);
        gb_lstm_clip(&p.m, 1.0f);
        gb_adam_step(&p.m, 1e-2f, 0.9f, 0.999f, 1e-8f);
    }
    double L1 = prob_loss(&p, 0);
    prob_free(&p);
    return L1 / L0;
}

static void test_training_smoke(void) {
    double bce = train(GB_LOSS_BCE, 200), mse = train(GB_LOSS_MSE, 200);
    if (bce >= 0.1 || mse >= 0.1 || getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  loss ratios: BCE %g, MSE %g\n", bce, mse);
    CHECK(bce < 0.1); /* measured ~0.02 */
    CHECK(mse < 0.1); /* measured ~5e-4 */
}

int main(void) {
    RUN(test_cell_step_fd);
    RUN(test_step_kernels_threads);
    RUN(test_loss_values);
    RUN(test_loss_fd);
    RUN(test_fd_model);
    RUN(test_fd_model_edges);
    RUN(test_fast_vs_reference);
    RUN(test_dropout_and_modes);
    RUN(test_init);
    RUN(test_clip);
    RUN(test_adam);
    RUN(test_training_smoke);
    TEST_END();
}
