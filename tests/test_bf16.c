/* test_bf16.c - the model in bf16 precision (gb_lstm_acts_set_precision) against the fp32
 * reference path, and a small training run in both precisions. Skipped, with the reason, on a
 * CPU without bf16 instructions (the fp32 path is all that runs there).
 *
 * Bounds (docs/testing.md), as normalised mean squared errors sum (a-b)^2 / sum b^2 against the
 * fp32 reference: outputs < 1e-5 and every gradient block < 1e-4 (bf16 keeps 8 significant
 * bits, a relative error up to 2^-8 per rounding, which sums over K products into NMSE of the
 * order of 1e-6; measured here 6e-7..8e-7 on outputs and up to 6.5e-6 on a gradient block:
 * the bounds leave 10x). A wrong operand or layout gives NMSE near 1. Training: the same 300
 * steps from the same start reach the fp32 run's final loss within 1% (measured 0.01%). */
#include "model/lstm.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>

/* forward + loss + backward of one batch, gradients into m->grads; returns the loss */
static float step(gb_lstm *m, gb_lstm_acts *a, const float *x, const float *t, int T, int B,
                  float *y, float *dy, gb_loss_kind k, gb_rng *r) {
    gb_lstm_zero_grad(m);
    gb_lstm_forward(m, a, x, T, B, y, tst_keys(r, B));
    float L = gb_loss(m, &m->g, k, GB_LOSS_ON_ALL, y, t, NULL, T, B, dy);
    gb_lstm_backward(m, a, x, dy, T, B);
    return L;
}

/* A roll-like batch: about 5% of the inputs on, targets the inputs one step on. */
static void batch(int T, int B, int Din, int D, float *x, float *t, unsigned seed) {
    gb_rng r;
    gb_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)T * B * Din; i++) x[i] = gb_rng_float(&r) < 0.05f ? 1.0f : 0.0f;
    for (int s = 0; s < T; s++)
        for (int b = 0; b < B; b++)
            for (int d = 0; d < D; d++)
                t[((size_t)s * B + b) * D + d] =
                    s + 1 < T ? x[((size_t)(s + 1) * B + b) * Din + d] : x[(size_t)b * Din + d];
}

static void test_vs_reference(void) {
    if (!gb_bf16_native()) {
        printf("skip test_vs_reference: no bf16 instructions here (%s)\n", gb_kernels_line());
        return;
    }
    for (int cs = 0; cs < 2; cs++) {
        int T = 12, B = 16;
        gb_lstm_config c = {.D = 128, .H = 64, .L = 2};
        if (cs) /* and dropout on every site: the masked inputs have bf16 copies of their own */
            c.E = 20, c.head = GB_HEAD_NADE, c.Hn = 16, c.dropout_in = 0.1f, c.dropout = 0.2f,
            c.dropout_out = 0.3f;
        gb_loss_kind k = cs ? GB_LOSS_BCE : GB_LOSS_MSE;
        int Din = gb_lstm_din(&c), Dout = gb_lstm_dout(&c);
        gb_lstm m;
        gb_rng r;
        gb_rng_seed(&r, 3);
        gb_error err;
        CHECK(gb_lstm_init(&m, &c, &r, &err) == GB_OK);
        gb_lstm_acts *a;
        CHECK(gb_lstm_acts_new(&c, T, B, &a, &err) == GB_OK);
        size_t nx = (size_t)T * B * Din, ny = (size_t)T * B * Dout, n = m.n_params;
        float *x = malloc(nx * 4), *t = malloc((size_t)T * B * c.D * 4);
        float *y = malloc(ny * 4), *dy = malloc(ny * 4), *yr = malloc(ny * 4), *gr = malloc(n * 4);
        batch(T, B, Din, c.D, x, t, 9);
        gb_rng dr; /* the same masks in both runs */
        gb_rng_seed(&dr, 11);
        gb_lstm_use_reference(1);
        float Lr = step(&m, a, x, t, T, B, yr, dy, k, &dr);
        memcpy(gr, m.grads, n * 4);
        gb_lstm_use_reference(0);
        CHECK(gb_lstm_acts_set_precision(a, GB_PREC_BF16, &err) == GB_OK);
        gb_rng_seed(&dr, 11);
        float Lb = step(&m, a, x, t, T, B, y, dy, k, &dr);
        double ey = tst_nmse(y, yr, ny), eg = tst_nmse(m.grads, gr, n);
        gb_lstm_views vb, vr;
        gb_lstm_views_of(&c, m.grads, &vb);
        gb_lstm_views_of(&c, gr, &vr);
        double worst = 0;
        for (int l = 0; l < c.L; l++) {
            size_t in = l ? c.H : Din, G = 4 * (size_t)c.H;
            double e[3] = {tst_nmse(vb.w_ih[l], vr.w_ih[l], G * in), tst_nmse(vb.w_hh[l], vr.w_hh[l], G * c.H),
                           tst_nmse(vb.b_ih[l], vr.b_ih[l], G)};
            for (int i = 0; i < 3; i++) worst = e[i] > worst ? e[i] : worst;
        }
        double efc = tst_nmse(vb.fc_w, vr.fc_w, (size_t)Dout * c.H);
        worst = efc > worst ? efc : worst;
        if (getenv("GB_TEST_VERBOSE") || ey >= 1e-5 || worst >= 1e-4)
            fprintf(stderr, "  case %d: nmse y %.2g, grads %.2g (worst block %.2g), loss %.7g %.7g\n",
                    cs, ey, eg, worst, (double)Lb, (double)Lr);
        CHECK(ey < 1e-5);
        CHECK(worst < 1e-4);
        CHECK(ey > 1e-9); /* the products did run in bf16 */
        CHECK(fabs(Lb - Lr) < 1e-2 * Lr);
        /* back to fp32: the fast path agrees with the reference to fp32 rounding again */
        CHECK(gb_lstm_acts_set_precision(a, GB_PREC_FP32, &err) == GB_OK);
        gb_rng_seed(&dr, 11);
        step(&m, a, x, t, T, B, y, dy, k, &dr);
        CHECK(tst_nmse(y, yr, ny) < 1e-10);
        free(x), free(t), free(y), free(dy), free(yr), free(gr);
        gb_lstm_acts_free(a);
        gb_lstm_free(&m);
    }
}

/* 300 Adam steps on one roll-like batch from the same start, with dropout: the final
 * evaluation loss in bf16 within 1% of fp32's. */
static double train(gb_precision p) {
    int T = 16, B = 16;
    gb_lstm_config c = {.D = 32, .H = 64, .L = 2, .dropout = 0.1f};
    gb_lstm m;
    gb_rng r;
    gb_rng_seed(&r, 4);
    gb_error err;
    gb_lstm_init(&m, &c, &r, &err);
    gb_lstm_acts *a;
    gb_lstm_acts_new(&c, T, B, &a, &err);
    gb_lstm_acts_set_precision(a, p, &err);
    size_t nx = (size_t)T * B * c.D;
    float *x = malloc(nx * 4), *t = malloc(nx * 4), *y = malloc(nx * 4), *dy = malloc(nx * 4);
    batch(T, B, c.D, c.D, x, t, 21);
    gb_rng_seed(&r, 8);
    for (int s = 0; s < 300; s++) {
        step(&m, a, x, t, T, B, y, dy, GB_LOSS_BCE, &r);
        gb_lstm_clip(&m, 1.0f);
        gb_adam_step(&m, 3e-3f, 0.9f, 0.999f, 1e-8f, 0.0f);
    }
    gb_lstm_forward(&m, a, x, T, B, y, NULL);
    double L = gb_loss(&m, NULL, GB_LOSS_BCE, GB_LOSS_ON_ALL, y, t, NULL, T, B, NULL);
    free(x), free(t), free(y), free(dy);
    gb_lstm_acts_free(a);
    gb_lstm_free(&m);
    return L;
}

static void test_training(void) {
    if (!gb_bf16_native()) {
        printf("skip test_training: no bf16 instructions here\n");
        return;
    }
    double f = train(GB_PREC_FP32), b = train(GB_PREC_BF16);
    if (getenv("GB_TEST_VERBOSE") || !(fabs(b - f) <= 0.01 * f))
        fprintf(stderr, "  final loss: fp32 %.6g, bf16 %.6g\n", f, b);
    CHECK(fabs(b - f) <= 0.01 * f);
    CHECK(f < 0.5 * 0.693); /* it did learn (BCE starts near log 2) */
}

/* Token input and the softmax head in bf16. (a) Against the fp32 reference, as above: V = D =
 * 388 (Performance RNN's vocabulary), E = 3, H = 64, L = 2, dropout on all three sites, short
 * windows: outputs < 1e-5, each gradient block < 1e-4 (the token columns of W_ih included),
 * loss within 1%. (b) Against the dense model on the one-hot rows, both in bf16 (no input
 * dropout: its masks have other shapes): the gathered columns are the bf16 weights the dense
 * product multiplies by one, and the scatter-add adds the rounded dz the dense product would,
 * so the two agree to fp32 summation order: < 1e-10 (measured ~1e-15). */
static void test_tokens(void) {
    if (!gb_bf16_native()) {
        printf("skip test_tokens: no bf16 instructions here (%s)\n", gb_kernels_line());
        return;
    }
    enum { V = 388, E = 3, T = 12, B = 16 };
    gb_lstm_config c = {.D = V, .V = V, .E = E, .H = 64, .L = 2, .dropout_in = 0.1f,
                        .dropout = 0.2f, .dropout_out = 0.3f, .head = GB_HEAD_SOFTMAX};
    gb_lstm m;
    gb_rng r;
    gb_rng_seed(&r, 5);
    gb_error err;
    CHECK(gb_lstm_init(&m, &c, &r, &err) == GB_OK);
    size_t tb = (size_t)T * B, ny = tb * V, n = m.n_params;
    float *x = malloc(tb * (1 + E) * 4), *xd = calloc(tb * (V + E), 4), *t = malloc(tb * 4);
    float *mk = malloc(tb * 4), *y = malloc(ny * 4), *yr = malloc(ny * 4), *dy = malloc(ny * 4);
    float *gr = malloc(n * 4);
    for (size_t row = 0; row < tb; row++) {
        x[row * (1 + E)] = (float)gb_rng_below(&r, V);
        xd[row * (V + E) + (size_t)x[row * (1 + E)]] = 1;
        for (int e = 0; e < E; e++)
            xd[row * (V + E) + V + e] = x[row * (1 + E) + 1 + e] = gb_rng_float(&r) - 0.5f;
        t[row] = (float)gb_rng_below(&r, V);
        mk[row] = row / B < (size_t)(row % B % 3 ? T : 1 + row % B); /* short windows */
    }
    gb_lstm_acts *a;
    CHECK(gb_lstm_acts_new(&c, T, B, &a, &err) == GB_OK);
    gb_rng dr;
    float Ls[2];
    for (int bf = 0; bf < 2; bf++) { /* (a) */
        gb_lstm_use_reference(!bf);
        if (bf) CHECK(gb_lstm_acts_set_precision(a, GB_PREC_BF16, &err) == GB_OK);
        gb_rng_seed(&dr, 11);
        gb_lstm_zero_grad(&m);
        gb_lstm_forward(&m, a, x, T, B, bf ? y : yr, tst_keys(&dr, B));
        Ls[bf] = gb_loss(&m, &m.g, GB_LOSS_CE, GB_LOSS_ON_ALL, bf ? y : yr, t, mk, T, B, dy);
        gb_lstm_backward(&m, a, x, dy, T, B);
        if (!bf) {
            memcpy(gr, m.grads, n * 4);
            continue;
        }
        gb_lstm_views vb, vr;
        gb_lstm_views_of(&c, m.grads, &vb);
        gb_lstm_views_of(&c, gr, &vr);
        size_t G = 4 * 64;
        double e[7] = {tst_nmse(vb.w_ih[0], vr.w_ih[0], G * (V + E)),
                       tst_nmse(vb.w_hh[0], vr.w_hh[0], G * 64),
                       tst_nmse(vb.b_ih[0], vr.b_ih[0], G),
                       tst_nmse(vb.w_ih[1], vr.w_ih[1], G * 64),
                       tst_nmse(vb.w_hh[1], vr.w_hh[1], G * 64),
                       tst_nmse(vb.fc_w, vr.fc_w, (size_t)V * 64), tst_nmse(vb.fc_b, vr.fc_b, V)};
        double worst = 0, ey = tst_nmse(y, yr, ny);
        for (int i = 0; i < 7; i++) worst = e[i] > worst ? e[i] : worst;
        if (getenv("GB_TEST_VERBOSE") || ey >= 1e-5 || worst >= 1e-4)
            fprintf(stderr, "  tokens bf16 vs fp32 ref: nmse y %.2g, worst block %.2g (token "
                    "columns %.2g)\n", ey, worst, e[0]);
        CHECK(ey < 1e-5);
        CHECK(worst < 1e-4);
        CHECK(ey > 1e-9);
        CHECK(fabs(Ls[1] - Ls[0]) < 1e-2 * Ls[0]);
    }
    gb_lstm_use_reference(0);
    gb_lstm_acts_free(a);
    /* (b): no input dropout, the same parameters, one-hot rows into the dense model */
    c.dropout_in = 0;
    gb_lstm_config cd = c;
    cd.V = 0;
    float *g1 = malloc(n * 4), *y1 = malloc(ny * 4);
    for (int dense = 0; dense < 2; dense++) {
        gb_lstm md;
        gb_rng_seed(&r, 5);
        CHECK(gb_lstm_init(&md, dense ? &cd : &c, &r, &err) == GB_OK);
        memcpy(md.params, m.params, n * 4);
        CHECK(gb_lstm_acts_new(dense ? &cd : &c, T, B, &a, &err) == GB_OK);
        CHECK(gb_lstm_acts_set_precision(a, GB_PREC_BF16, &err) == GB_OK);
        gb_rng_seed(&dr, 12);
        gb_lstm_zero_grad(&md);
        gb_lstm_forward(&md, a, dense ? xd : x, T, B, y, tst_keys(&dr, B));
        gb_loss(&md, &md.g, GB_LOSS_CE, GB_LOSS_ON_ALL, y, t, mk, T, B, dy);
        gb_lstm_backward(&md, a, dense ? xd : x, dy, T, B);
        if (!dense) {
            memcpy(g1, md.grads, n * 4), memcpy(y1, y, ny * 4);
        } else {
            double ey = tst_nmse(y1, y, ny), eg = tst_nmse(g1, md.grads, n);
            if (getenv("GB_TEST_VERBOSE") || ey >= 1e-10 || eg >= 1e-10)
                fprintf(stderr, "  tokens vs one-hot in bf16: nmse y %.2g, grads %.2g\n", ey, eg);
            CHECK(ey < 1e-10);
            CHECK(eg < 1e-10);
        }
        gb_lstm_acts_free(a);
        gb_lstm_free(&md);
    }
    free(x), free(xd), free(t), free(mk), free(y), free(yr), free(dy), free(gr), free(g1), free(y1);
    gb_lstm_free(&m);
}

int main(void) {
    RUN(test_vs_reference);
    RUN(test_training);
    RUN(test_tokens);
    TEST_END();
}
