/* lstm_train.c - training step throughput of the LSTM's fast path on the report's configuration
 * (D=128, H=512, L=2, T=12, MSE on the last step, dropout 0.2) at B=64 and B=16: one step is
 * forward + loss + backward + clip + Adam. Prints windows/s and the GFLOP/s of the GEMMs, at
 * the median and the fastest step.
 *
 * Build (after `make`):
 *   cc -O2 -std=c11 -fopenmp -Iinclude -Isrc $(pkg-config --cflags openblas) bench/lstm_train.c \
 *      build/libgroovybee.a $(pkg-config --libs openblas) -fopenmp -lm -o build/bench_lstm_train
 * Usage: build/bench_lstm_train [SECONDS per configuration, default 3] */
#define _POSIX_C_SOURCE 199309L
#include "model/lstm.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int cmp_double(const void *p, const void *q) {
    double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The GEMM flops of one forward and one backward, as the fast path runs them. */
static void gemm_flops(const gb_lstm_config *c, int T, int B, double *fwd, double *bwd) {
    double G = 4.0 * c->H, H = c->H, D = c->D, TB = (double)T * B, T1B = (double)(T - 1) * B;
    *fwd = 2 * TB * H * D; /* head */
    *bwd = 2 * 2 * TB * H * D;
    for (int l = 0; l < c->L; l++) {
        double in = l ? H : D;
        *fwd += 2 * TB * G * in + 2 * T1B * G * H;           /* X W_ih^T, h W_hh^T per step */
        *bwd += 2 * T1B * G * H                              /* dh_{t-1} = dZ_t W_hh */
                + 2 * TB * G * in + 2 * T1B * G * H          /* dW_ih, dW_hh */
                + (l ? 2 * TB * G * in : 0);                 /* dX */
    }
}

static int bench(int B, double seconds) {
    gb_lstm_config c = {.D = 128, .H = 512, .L = 2, .dropout = 0.2f};
    int T = 12;
    gb_rng rng;
    gb_rng_seed(&rng, 1);
    gb_lstm m;
    gb_lstm_acts *a;
    gb_error err;
    if (gb_lstm_init(&m, &c, &rng, &err) != GB_OK ||
        gb_lstm_acts_new(&c, T, B, &a, &err) != GB_OK) {
        fprintf(stderr, "bench_lstm_train: %s\n", err.msg);
        return 1;
    }
    size_t n = (size_t)T * B * c.D;
    float *x = malloc(n * sizeof *x), *t = malloc(n * sizeof *t), *y = malloc(n * sizeof *y);
    float *dy = malloc(n * sizeof *dy);
    if (!x || !t || !y || !dy) return 1;
    for (size_t i = 0; i < n; i++) { /* roll-like: sparse velocities / 127 */
        x[i] = gb_rng_float(&rng) < 0.05f ? gb_rng_float(&rng) : 0.0f;
        t[i] = gb_rng_float(&rng) < 0.05f ? gb_rng_float(&rng) : 0.0f;
    }
    /* every step timed on its own; the median is robust to the bursts of other work a shared
     * machine brings, the minimum shows what the code does when left alone */
    enum { MAX_STEPS = 4096 };
    static double st[MAX_STEPS];
    float loss = 0;
    int iters = 0;
    double total = 0;
    for (int warm = 3; iters < MAX_STEPS; warm--) {
        double t0 = now();
        gb_lstm_zero_grad(&m);
        gb_lstm_forward(&m, a, x, T, B, y, &rng);
        loss = gb_loss(GB_LOSS_MSE, GB_LOSS_ON_LAST, y, t, T, B, c.D, dy);
        gb_lstm_backward(&m, a, x, dy, T, B);
        gb_lstm_clip(&m, 1.0f);
        gb_adam_step(&m, 1e-3f, 0.9f, 0.999f, 1e-8f);
        if (warm > 0) continue;
        st[iters++] = now() - t0;
        total += st[iters - 1];
        if (total >= seconds && iters >= 5) break;
    }
    qsort(st, iters, sizeof st[0], cmp_double);
    double med = st[iters / 2], best = st[0];
    double f, b;
    gemm_flops(&c, T, B, &f, &b);
    printf("D=%d H=%d L=%d T=%d B=%-3d median %6.1f ms/step %7.1f windows/s %6.1f GFLOP/s | "
           "best %6.1f ms %7.1f windows/s %6.1f GFLOP/s  (%.2f GFLOP/step, %d steps, loss %.4f)\n",
           c.D, c.H, c.L, T, B, 1e3 * med, B / med, (f + b) / med * 1e-9, 1e3 * best, B / best,
           (f + b) / best * 1e-9, (f + b) * 1e-9, iters, (double)loss);
    free(x), free(t), free(y), free(dy);
    gb_lstm_acts_free(a);
    gb_lstm_free(&m);
    return 0;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    const char *wp = getenv("OMP_WAIT_POLICY");
    printf("fast path, %d OpenMP threads, %d OpenBLAS threads (%s), OMP_WAIT_POLICY=%s\n",
           omp_get_max_threads(), openblas_get_num_threads(), openblas_get_config(),
           wp ? wp : "(unset)");
    return bench(64, seconds) || bench(16, seconds);
}
