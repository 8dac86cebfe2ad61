/* test_stream.c - the state-carrying evaluation forward (src/model/stream.c): over a window
 * from zero states it gives gb_lstm_forward's evaluation outputs; split into chunks it gives
 * the same as in one go (the states carried); outside its sizes it gives NaN. Also with token
 * input and the softmax head (a token out of range: NaN from its step on).
 *
 * In bf16 (gb_lstm_stream_set_precision; skipped, with the reason, on a CPU without bf16
 * instructions), as normalised mean squared errors sum (a-b)^2 / sum b^2 against the fp32
 * stream's outputs (bf16 keeps 8 significant bits; a wrong operand or layout gives NMSE near 1):
 *   chunk path (both operands of each product rounded):  < 2.5e-5 (measured 7.5e-7..2.4e-6)
 *   one-step path (the same, its own kernel):            < 2.5e-5 (measured 9.7e-7..2.4e-6)
 * the bounds leave 10x over the worst of the cases below. Tighter, against what each path
 * should equal up to fp32 rounding: the chunk path against gb_lstm_forward in bf16 (the same
 * products), and the one-step path against the chunk path (the same rounded operands, other
 * summation orders): < 1e-10 both (measured 0, the same bits, and at most 4.7e-15). Back in
 * fp32 the outputs are the same bits as before. */
#include <math.h>
#include <stdlib.h>

#include "model/stream.h"
#include "test.h"

/* inputs for rows of x: sparse binary rows, or with token input a random token and sparse
 * binary extras */
static void fill_x(const gb_lstm_config *c, size_t rows, float *x, gb_rng *r) {
    int Din = gb_lstm_din(c);
    for (size_t i = 0; i < rows * Din; i++) x[i] = gb_rng_float(r) < 0.1f ? 1.0f : 0.0f;
    for (size_t row = 0; c->V && row < rows; row++)
        x[row * Din] = (float)gb_rng_below(r, (uint64_t)c->V);
}

static void run_config(gb_lstm_config c, int T, int B) {
    gb_rng r;
    gb_rng_seed(&r, (uint64_t)(c.D * 7 + c.H * 5 + c.L * 3 + T + B));
    gb_lstm m;
    gb_error e;
    CHECK_INT(gb_lstm_init(&m, &c, &r, &e), GB_OK);
    int Din = gb_lstm_din(&c), Dout = gb_lstm_dout(&c);
    size_t nx = (size_t)T * B * Din, n = (size_t)T * B * Dout;
    float *x = malloc(nx * sizeof *x), *y1 = malloc(n * sizeof *y1);
    float *y2 = malloc(n * sizeof *y2), *y3 = malloc(n * sizeof *y3);
    fill_x(&c, (size_t)T * B, x, &r);
    gb_lstm_acts *a;
    CHECK_INT(gb_lstm_acts_new(&c, T, B, &a, &e), GB_OK);
    gb_lstm_forward(&m, a, x, T, B, y1, NULL);
    gb_lstm_stream *s;
    CHECK_INT(gb_lstm_stream_new(&c, B, T, &s, &e), GB_OK);
    gb_lstm_stream_run(&m, s, x, T, y2);
    /* the same sgemm calls on the same shapes: the same bits */
    CHECK(!memcmp(y1, y2, n * sizeof *y1));
    /* chunks of 1, 3, then the rest, states carried between them */
    gb_lstm_stream_reset(s);
    int t0 = 0, sizes[3] = {1, 3, T - 4};
    for (int k = 0; k < 3; k++) {
        gb_lstm_stream_run(&m, s, x + (size_t)t0 * B * Din, sizes[k], y3 + (size_t)t0 * B * Dout);
        t0 += sizes[k];
    }
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)y3[i] - y2[i]));
    CHECK(worst < 1e-5); /* sgemm over fewer rows may round its sums differently */
    /* one step at a time: for B = 1 the matrix-vector path of generation */
    gb_lstm_stream_reset(s);
    for (int t = 0; t < T; t++)
        gb_lstm_stream_run(&m, s, x + (size_t)t * B * Din, 1, y3 + (size_t)t * B * Dout);
    worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)y3[i] - y2[i]));
    CHECK(worst < 1e-5);
    /* without the reset the states go on from where they were: other outputs */
    gb_lstm_stream_run(&m, s, x, T, y3);
    CHECK(memcmp(y3, y2, n * sizeof *y2) != 0);
    /* more steps than it was made for */
    gb_lstm_stream *small;
    CHECK_INT(gb_lstm_stream_new(&c, B, T - 1, &small, &e), GB_OK);
    gb_lstm_stream_run(&m, small, x, T, y3);
    CHECK(isnan(y3[0]) && isnan(y3[n - 1]));
    gb_lstm_stream_free(small);
    if (c.V) { /* a token out of range: NaN outputs from its step on, in both paths */
        for (int one = 0; one < 2; one++) {
            float keep = x[Din];
            x[Din] = (float)c.V; /* step 0 of sequence 1, or (B = 1) step 1 */
            gb_lstm_stream_reset(s);
            if (one)
                for (int t = 0; t < T; t++)
                    gb_lstm_stream_run(&m, s, x + (size_t)t * B * Din, 1,
                                       y3 + (size_t)t * B * Dout);
            else
                gb_lstm_stream_run(&m, s, x, T, y3);
            x[Din] = keep;
            size_t last = ((size_t)(T - 1) * B + (B > 1)) * Dout; /* that sequence's last */
            CHECK(isnan(y3[Dout]) && isnan(y3[last]));
            CHECK(!isnan(y3[0]));
        }
    }
    gb_lstm_stream_free(s);
    gb_lstm_acts_free(a);
    gb_lstm_free(&m);
    free(x), free(y1), free(y2), free(y3);
}

static void run_case(int D, int H, int L, int T, int B) {
    run_config((gb_lstm_config){.D = D, .H = H, .L = L, .dropout = 0.3f}, T, B);
}

static void test_matches_forward(void) {
    run_case(128, 8, 2, 9, 3);
    run_case(256, 5, 1, 6, 1);
    run_case(130, 40, 2, 7, 1); /* B = 1: chunks of one step take the matrix-vector path, */
    run_case(128, 200, 2, 5, 1); /* threaded from this size on */
    run_case(128, 16, 3, 12, 2);
    /* token input (layer 0 gathers its token's column of W_ih) and the softmax head; with E
     * extras; threaded one-step path */
    run_config((gb_lstm_config){.D = 30, .V = 30, .H = 24, .L = 2, .head = GB_HEAD_SOFTMAX}, 8, 3);
    run_config((gb_lstm_config){.D = 30, .V = 30, .E = 3, .H = 24, .L = 2,
                                .head = GB_HEAD_SOFTMAX}, 8, 1);
    run_config((gb_lstm_config){.D = 388, .V = 388, .E = 2, .H = 200, .L = 2,
                                .head = GB_HEAD_SOFTMAX}, 6, 1);
}

static double worst_chunk, worst_step; /* over the cases, for GB_TEST_VERBOSE */

/* One model in bf16 against fp32: T steps of B sequences in one chunk and, for B = 1, one
 * step at a time. */
static void bf16_case(gb_lstm_config c, int T, int B) {
    gb_rng r;
    gb_rng_seed(&r, (uint64_t)(c.D * 7 + c.H * 5 + c.L * 3 + T + B));
    gb_lstm m, mr;
    gb_error e;
    CHECK_INT(gb_lstm_init(&m, &c, &r, &e), GB_OK);
    CHECK_INT(gb_lstm_init(&mr, &c, &r, &e), GB_OK);
    int Din = gb_lstm_din(&c), Dout = gb_lstm_dout(&c);
    size_t nx = (size_t)T * B * Din, ny = (size_t)T * B * Dout;
    float *x = malloc(nx * sizeof *x), *y32 = malloc(ny * sizeof *y32);
    float *yb = malloc(ny * sizeof *yb), *yr = malloc(ny * sizeof *yr);
    fill_x(&c, (size_t)T * B, x, &r);
    gb_lstm_stream *s, *s32;
    CHECK_INT(gb_lstm_stream_new(&c, B, T, &s, &e), GB_OK);
    CHECK_INT(gb_lstm_stream_new(&c, B, T, &s32, &e), GB_OK);
    CHECK_INT(gb_lstm_stream_precision(s), GB_PREC_FP32);
    gb_lstm_stream_run(&m, s32, x, T, y32);

    /* chunk path: against fp32, and against gb_lstm_forward in bf16 */
    CHECK_INT(gb_lstm_stream_set_precision(s, &m, GB_PREC_BF16, &e), GB_OK);
    CHECK_INT(gb_lstm_stream_precision(s), GB_PREC_BF16);
    gb_lstm_stream_run(&m, s, x, T, yb);
    double ec = tst_nmse(yb, y32, ny);
    worst_chunk = ec > worst_chunk ? ec : worst_chunk;
    CHECK(ec < 2.5e-5);
    CHECK(ec > 1e-12); /* it did run in bf16 */
    gb_lstm_acts *a;
    CHECK_INT(gb_lstm_acts_new(&c, T, B, &a, &e), GB_OK);
    CHECK_INT(gb_lstm_acts_set_precision(a, GB_PREC_BF16, &e), GB_OK);
    gb_lstm_forward(&m, a, x, T, B, yr, NULL);
    double ecf = tst_nmse(yb, yr, ny), es = 0, esr = 0;
    CHECK(ecf < 1e-10);
    if (B == 1) {
        /* one-step path: against fp32, and against the chunk path in bf16 (the same operands
         * rounded to bf16, weights and inputs; other summation orders) */
        memcpy(yr, yb, ny * sizeof *yb);
        gb_lstm_stream_reset(s);
        for (int t = 0; t < T; t++)
            gb_lstm_stream_run(&m, s, x + (size_t)t * Din, 1, yb + (size_t)t * Dout);
        es = tst_nmse(yb, y32, ny);
        worst_step = es > worst_step ? es : worst_step;
        CHECK(es < 2.5e-5);
        CHECK(es > 1e-12);
        esr = tst_nmse(yb, yr, ny);
        CHECK(esr < 1e-10);
    }
    if (getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  D %d E %d H %d L %d Dout %d T %d B %d: nmse chunk %.2g (against "
                "forward in bf16 %.2g), step %.2g (against the chunk path %.2g)\n", c.D, c.E,
                c.H, c.L, Dout, T, B, ec, ecf, es, esr);
    /* the copy is of m's weights: another model (mr) gives NaN, a model of other shapes an
     * error */
    gb_lstm_stream_run(&mr, s, x, 1, yb);
    CHECK(isnan(yb[0]));
    gb_lstm_config other = c;
    other.H++;
    gb_lstm mo;
    CHECK_INT(gb_lstm_init(&mo, &other, &r, &e), GB_OK);
    CHECK_INT(gb_lstm_stream_set_precision(s, &mo, GB_PREC_BF16, &e), GB_ERR_ARG);
    CHECK_INT(gb_lstm_stream_precision(s), GB_PREC_BF16); /* unchanged */
    gb_lstm_free(&mo);
    /* back to fp32: the same bits as a stream never set, in both paths */
    CHECK_INT(gb_lstm_stream_set_precision(s, &m, GB_PREC_FP32, &e), GB_OK);
    CHECK_INT(gb_lstm_stream_precision(s), GB_PREC_FP32);
    gb_lstm_stream_reset(s);
    gb_lstm_stream_run(&m, s, x, T, yb);
    CHECK(!memcmp(yb, y32, ny * sizeof *yb));
    if (B == 1) {
        gb_lstm_stream_reset(s);
        gb_lstm_stream_reset(s32);
        for (int t = 0; t < T; t++) {
            gb_lstm_stream_run(&m, s, x + (size_t)t * Din, 1, yb + (size_t)t * Dout);
            gb_lstm_stream_run(&m, s32, x + (size_t)t * Din, 1, yr + (size_t)t * Dout);
        }
        CHECK(!memcmp(yb, yr, ny * sizeof *yb));
    }
    gb_lstm_acts_free(a);
    gb_lstm_stream_free(s);
    gb_lstm_stream_free(s32);
    gb_lstm_free(&m);
    gb_lstm_free(&mr);
    free(x), free(y32), free(yb), free(yr);
}

static void test_bf16(void) {
    if (!gb_bf16_native()) {
        printf("skip test_bf16: no bf16 instructions here (%s)\n", gb_kernels_line());
        return;
    }
    bf16_case((gb_lstm_config){.D = 128, .H = 64, .L = 2}, 12, 4); /* chunks of 4 sequences */
    /* the paper model's shape, smaller T; threaded one-step path */
    bf16_case((gb_lstm_config){.D = 128, .H = 512, .L = 2}, 8, 1);
    bf16_case((gb_lstm_config){.D = 128, .H = 200, .L = 2}, 10, 1);
    /* meter inputs, a NADE head (Dout 146: the head's rows past a multiple of 4), odd H */
    bf16_case((gb_lstm_config){.D = 128, .E = 20, .H = 37, .L = 1, .head = GB_HEAD_NADE,
                               .Hn = 18},
              10, 1);
    /* odd input width: the one-step kernel's last odd element */
    bf16_case((gb_lstm_config){.D = 129, .H = 33, .L = 3}, 9, 1);
    /* token input and the softmax head: chunks, and one step (threaded) */
    bf16_case((gb_lstm_config){.D = 388, .V = 388, .E = 3, .H = 64, .L = 2,
                               .head = GB_HEAD_SOFTMAX}, 8, 4);
    bf16_case((gb_lstm_config){.D = 388, .V = 388, .H = 200, .L = 3, .head = GB_HEAD_SOFTMAX},
              8, 1);
    if (getenv("GB_TEST_VERBOSE"))
        fprintf(stderr, "  worst nmse: chunk %.2g, step %.2g\n", worst_chunk, worst_step);
}

static void test_bad_sizes(void) {
    gb_lstm_config c = {.D = 128, .H = 8, .L = 2};
    gb_lstm_stream *s;
    gb_error e;
    CHECK_INT(gb_lstm_stream_new(&c, 0, 4, &s, &e), GB_ERR_ARG);
    CHECK_INT(gb_lstm_stream_new(&c, 1, 0, &s, &e), GB_ERR_ARG);
    c.L = 5;
    CHECK_INT(gb_lstm_stream_new(&c, 1, 4, &s, &e), GB_ERR_ARG);
}

int main(void) {
    RUN(test_matches_forward);
    RUN(test_bad_sizes);
    RUN(test_bf16);
    TEST_END();
}
