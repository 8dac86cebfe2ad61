/* test_stream.c - the state-carrying evaluation forward (src/model/stream.c): over a window
 * from zero states it gives gb_lstm_forward's evaluation outputs; split into chunks it gives
 * the same as in one go (the states carried); outside its sizes it gives NaN. */
#include <math.h>
#include <stdlib.h>

#include "model/stream.h"
#include "test.h"

static void run_case(int D, int H, int L, int T, int B) {
    gb_lstm_config c = {.D = D, .H = H, .L = L, .dropout = 0.3f};
    gb_rng r;
    gb_rng_seed(&r, (uint64_t)(D * 7 + H * 5 + L * 3 + T + B));
    gb_lstm m;
    gb_error e;
    CHECK_INT(gb_lstm_init(&m, &c, &r, &e), GB_OK);
    size_t n = (size_t)T * B * D;
    float *x = malloc(n * sizeof *x), *y1 = malloc(n * sizeof *y1);
    float *y2 = malloc(n * sizeof *y2), *y3 = malloc(n * sizeof *y3);
    for (size_t i = 0; i < n; i++) x[i] = gb_rng_float(&r) < 0.1f ? 1.0f : 0.0f;
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
        gb_lstm_stream_run(&m, s, x + (size_t)t0 * B * D, sizes[k], y3 + (size_t)t0 * B * D);
        t0 += sizes[k];
    }
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)y3[i] - y2[i]));
    CHECK(worst < 1e-5); /* sgemm over fewer rows may round its sums differently */
    /* one step at a time: for B = 1 the matrix-vector path of generation */
    gb_lstm_stream_reset(s);
    for (int t = 0; t < T; t++)
        gb_lstm_stream_run(&m, s, x + (size_t)t * B * D, 1, y3 + (size_t)t * B * D);
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
    gb_lstm_stream_free(s);
    gb_lstm_acts_free(a);
    gb_lstm_free(&m);
    free(x), free(y1), free(y2), free(y3);
}

static void test_matches_forward(void) {
    run_case(128, 8, 2, 9, 3);
    run_case(256, 5, 1, 6, 1);
    run_case(130, 40, 2, 7, 1); /* B = 1: chunks of one step take the matrix-vector path, */
    run_case(128, 200, 2, 5, 1); /* threaded from this size on */
    run_case(128, 16, 3, 12, 2);
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
    TEST_END();
}
