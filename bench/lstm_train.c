/* lstm_train.c - training step throughput of the LSTM's fast path at B=64 and B=16, on the
 * report's configuration (`-c paper`, the default: D=128, H=512, L=2, T=12, MSE on the last step,
 * dropout 0.2) or the roll preset's (`-c roll`: D=128 + 20 meter inputs, H=256, L=1, T=64
 * (16 beats of 4 steps), the NADE head with Hn=128 on every step, dropout 0.2 on the input and
 * 0.5 on the head's) or the events preset's (`-c events`: token input over V=388 event tokens,
 * H=512, L=1, T=128, the softmax head over the 388 tokens with
 * its cross-entropy on every step, clip 3): one step is zero_grad + forward + loss + backward +
 * clip (global norm 1.0; 3.0 for events) + Adam, its products in fp32 or (`-p bf16`) bf16.
 * Prints windows/s and the GFLOP/s of the GEMMs (the LSTM's and the head's; the NADE's own work
 * and the token input's gather are not counted), at the median and the fastest step.
 * With the softmax head it also times the head alone, as the step runs it, at the median of as
 * many repetitions: its three products (Y = H fc_w^T; dfc_w += dY^T H; dH = dY fc_w, on the
 * same shapes, operands and product context: `head_ms=`), within which the loss and its
 * gradient (gb_loss: `loss_ms=`), and the share of the step they take (`head_share=`), so
 * that the head's cost stands beside the LSTM's (the step less the head); and the fastest
 * repetition against the fastest step (`best_head_ms=`, `best_head_share=`), the figures a
 * shared machine's bursts of other work disturb least.
 *
 * Build (after `make`):
 *   cc -O2 -std=c11 -fopenmp -Iinclude -Isrc $(pkg-config --cflags openblas) bench/lstm_train.c \
 *      build/libgroovybee.a $(pkg-config --libs openblas) -fopenmp -lm -o build/bench_lstm_train
 * Usage: build/bench_lstm_train [-c paper|roll|events] [-p fp32|bf16] [-t SECONDS] [-B BATCH]...
 *        [-v]
 *   -t (or a bare number): least timed seconds per batch size, default 3; -B: a batch size,
 *   repeatable, default 64 then 16; -v: every step's time, in order, to stderr.
 * Output: one line per batch size, key=value pairs, the keys of bench/lstm_torch.py:
 *   side=groovybee form=fast B= T= D= H= L= omp_threads= blas_threads= blas= (pthread, openmp or
 *   serial: openblas_get_parallel) blas_core= wait_policy= step_threads= (1: the gate kernels
 *   use OpenMP) steps= ms_step= windows_s= gflop_s= (median step) best_ms= best_windows_s=
 *   best_gflop_s= (fastest step) gflop_step= loss= config= precision= [head_ms= loss_ms=
 *   head_share= lstm_ms= best_head_ms= best_head_share= (the softmax head, above)]
 *   kernels="..." */
#define _POSIX_C_SOURCE 199309L
#include "model/kernels.h"
#include "model/lstm.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    double Dout = gb_lstm_dout(c), Din = c->V ? c->E : gb_lstm_din(c); /* tokens: a gather */
    *fwd = 2 * TB * H * Dout; /* head */
    *bwd = 2 * 2 * TB * H * Dout;
    for (int l = 0; l < c->L; l++) {
        double in = l ? H : Din;
        *fwd += 2 * TB * G * in + 2 * T1B * G * H;           /* X W_ih^T, h W_hh^T per step */
        *bwd += 2 * T1B * G * H                              /* dh_{t-1} = dZ_t W_hh */
                + 2 * TB * G * in + 2 * T1B * G * H          /* dW_ih, dW_hh */
                + (l ? 2 * TB * G * in : 0);                 /* dX */
    }
}

static int verbose; /* -v: every step's milliseconds, in order, to stderr */
static int roll;    /* -c roll */
static int events;  /* -c events */
static gb_precision prec;

static int cmp_double(const void *p, const void *q);
static double now(void);

/* The softmax head's work in a training step, timed alone (median of reps): its three products
 * on the step's shapes (T*B rows of H in, Dout out) through a product context of the same
 * precision, with the model's weights and the last forward's top states as operands (fp32
 * here: in bf16 the step reads weight and state copies already rounded, so this conversion
 * makes the figure an upper bound), and the loss with its gradient. */
static void head_cost(gb_lstm *m, const float *t, float *y, float *dy, int T, int B, int reps,
                      double *head_ms, double *loss_ms, double *head_best) {
    int TB = T * B, H = m->cfg.H, Dout = gb_lstm_dout(&m->cfg);
    gb_gemm_ctx *gx = gb_gemm_ctx_new(prec);
    float *htop = malloc((size_t)TB * H * sizeof *htop), *dh = malloc((size_t)TB * H * sizeof *dh);
    float *dw = calloc((size_t)Dout * H, sizeof *dw);
    double *sh = malloc((size_t)reps * sizeof *sh), *sl = malloc((size_t)reps * sizeof *sl);
    gb_rng r;
    gb_rng_seed(&r, 2);
    for (size_t i = 0; i < (size_t)TB * H; i++) htop[i] = 2 * gb_rng_float(&r) - 1; /* ~ h */
    for (int k = -2; k < reps; k++) {
        double t0 = now();
        for (int rr = 0; rr < TB; rr++) memcpy(y + (size_t)rr * Dout, m->p.fc_b, Dout * 4);
        gb_gemm(gx, TB, Dout, H, (gb_mat){htop, NULL, H, 0}, (gb_mat){m->p.fc_w, NULL, H, 1},
                1.0f, y, Dout);
        double t1 = now();
        gb_loss(m, &m->g, GB_LOSS_CE, GB_LOSS_ON_ALL, y, t, NULL, T, B, dy);
        double t2 = now();
        gb_gemm(gx, Dout, H, TB, (gb_mat){dy, NULL, Dout, 1}, (gb_mat){htop, NULL, H, 0}, 1.0f,
                dw, H);
        gb_gemm(gx, TB, H, Dout, (gb_mat){dy, NULL, Dout, 0}, (gb_mat){m->p.fc_w, NULL, H, 0},
                0.0f, dh, H);
        double t3 = now();
        if (k >= 0) sh[k] = t3 - t0, sl[k] = t2 - t1;
    }
    qsort(sh, reps, sizeof *sh, cmp_double);
    qsort(sl, reps, sizeof *sl, cmp_double);
    *head_ms = 1e3 * sh[reps / 2], *loss_ms = 1e3 * sl[reps / 2], *head_best = 1e3 * sh[0];
    free(htop), free(dh), free(dw), free(sh), free(sl);
    gb_gemm_ctx_free(gx);
}

static int bench(int B, double seconds) {
    gb_lstm_config c = {.D = 128, .H = 512, .L = 2, .dropout = 0.2f};
    int T = 12;
    if (roll) {
        c = (gb_lstm_config){.D = 128, .E = 20, .H = 256, .L = 1, .dropout_in = 0.2f,
                             .dropout_out = 0.5f, .head = GB_HEAD_NADE, .Hn = 128};
        T = 64;
    }
    if (events) {
        c = (gb_lstm_config){.D = 388, .V = 388, .H = 512, .L = 1, .dropout = 0.2f,
                             .head = GB_HEAD_SOFTMAX}; /* --preset events (cmd_train.c) */
        T = 128;
    }
    gb_loss_kind kind = events ? GB_LOSS_CE : roll ? GB_LOSS_BCE : GB_LOSS_MSE;
    gb_loss_on on = roll || events ? GB_LOSS_ON_ALL : GB_LOSS_ON_LAST;
    gb_rng rng;
    gb_rng_seed(&rng, 1);
    gb_lstm m;
    gb_lstm_acts *a;
    gb_error err;
    if (gb_lstm_init(&m, &c, &rng, &err) != GB_OK ||
        gb_lstm_acts_new(&c, T, B, &a, &err) != GB_OK ||
        gb_lstm_acts_set_precision(a, prec, &err) != GB_OK) {
        fprintf(stderr, "bench_lstm_train: %s\n", err.msg);
        return 1;
    }
    size_t nx = (size_t)T * B * gb_lstm_din(&c), n = (size_t)T * B * gb_lstm_dt(&c);
    size_t ny = (size_t)T * B * gb_lstm_dout(&c);
    float *x = malloc(nx * sizeof *x), *t = malloc(n * sizeof *t), *y = malloc(ny * sizeof *y);
    float *dy = malloc(ny * sizeof *dy);
    if (!x || !t || !y || !dy) return 1;
    /* roll-like: sparse velocities / 127 (notes of 1 with a NADE: binary targets) */
    for (size_t i = 0; i < nx; i++)
        x[i] = gb_rng_float(&rng) < 0.05f ? (roll ? 1.0f : gb_rng_float(&rng)) : 0.0f;
    for (size_t i = 0; i < n; i++)
        t[i] = gb_rng_float(&rng) < 0.05f ? (roll ? 1.0f : gb_rng_float(&rng)) : 0.0f;
    if (events) /* tokens: uniform ids in and out */
        for (size_t i = 0; i < nx; i++)
            x[i] = (float)gb_rng_below(&rng, (uint64_t)c.V), t[i] = (float)gb_rng_below(&rng, c.D);
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
        loss = gb_loss(&m, &m.g, kind, on, y, t, NULL, T, B, dy);
        gb_lstm_backward(&m, a, x, dy, T, B);
        gb_lstm_clip(&m, events ? 3.0f : 1.0f);
        gb_adam_step(&m, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f);
        if (warm > 0) continue;
        st[iters++] = now() - t0;
        total += st[iters - 1];
        if (total >= seconds && iters >= 5) break;
    }
    if (verbose) {
        fprintf(stderr, "B=%d step_ms:", B);
        for (int i = 0; i < iters; i++) fprintf(stderr, " %.1f", 1e3 * st[i]);
        fprintf(stderr, "\n");
    }
    qsort(st, iters, sizeof st[0], cmp_double);
    double med = st[iters / 2], best = st[0];
    double head_ms = 0, loss_ms = 0, head_best = 0;
    if (c.head == GB_HEAD_SOFTMAX)
        head_cost(&m, t, y, dy, T, B, iters, &head_ms, &loss_ms, &head_best);
    double f, b;
    gemm_flops(&c, T, B, &f, &b);
    const char *wp = getenv("OMP_WAIT_POLICY");
    int par = openblas_get_parallel();
    printf("side=groovybee form=fast B=%d T=%d D=%d H=%d L=%d omp_threads=%d blas_threads=%d "
           "blas=%s blas_core=%s wait_policy=%s step_threads=%d steps=%d ms_step=%.2f "
           "windows_s=%.1f gflop_s=%.2f best_ms=%.2f best_windows_s=%.1f best_gflop_s=%.2f "
           "gflop_step=%.4f loss=%.4f config=%s precision=%s",
           B, T, c.D, c.H, c.L, omp_get_max_threads(), openblas_get_num_threads(),
           par == 0 ? "serial" : par == 1 ? "pthread" : "openmp", openblas_get_corename(),
           wp ? wp : "unset", gb_lstm_acts_step_threads(a), iters, 1e3 * med, B / med,
           (f + b) / med * 1e-9, 1e3 * best, B / best, (f + b) / best * 1e-9, (f + b) * 1e-9,
           (double)loss, events ? "events" : roll ? "roll" : "paper",
           prec == GB_PREC_BF16 ? "bf16" : "fp32");
    if (head_ms > 0)
        printf(" head_ms=%.2f loss_ms=%.2f head_share=%.3f lstm_ms=%.2f best_head_ms=%.2f "
               "best_head_share=%.3f", head_ms, loss_ms, head_ms / (1e3 * med), 1e3 * med - head_ms,
               head_best, head_best / (1e3 * best));
    printf(" kernels=\"%s\"\n", gb_kernels_line());
    fflush(stdout);
    free(x), free(t), free(y), free(dy);
    gb_lstm_acts_free(a);
    gb_lstm_free(&m);
    return 0;
}

int main(int argc, char **argv) {
    double seconds = 3.0;
    int bs[16], nb = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "-c") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "paper") || !strcmp(argv[i + 1], "roll") ||
                  !strcmp(argv[i + 1], "events")))
            roll = !strcmp(argv[++i], "roll"), events = !strcmp(argv[i], "events");
        else if (!strcmp(argv[i], "-p") && i + 1 < argc && (!strcmp(argv[i + 1], "fp32") ||
                                                             !strcmp(argv[i + 1], "bf16")))
            prec = !strcmp(argv[++i], "bf16") ? GB_PREC_BF16 : GB_PREC_FP32;
        else if (!strcmp(argv[i], "-v"))
            verbose = 1;
        else if (!strcmp(argv[i], "-B") && i + 1 < argc && nb < 16)
            bs[nb++] = atoi(argv[++i]);
        else if (argv[i][0] != '-' && atof(argv[i]) > 0)
            seconds = atof(argv[i]);
        else {
            fprintf(stderr, "usage: bench_lstm_train [-c paper|roll|events] [-p fp32|bf16] "
                            "[-t SECONDS] [-B BATCH]... [-v] [SECONDS]\n");
            return 2;
        }
    }
    if (!nb) bs[nb++] = 64, bs[nb++] = 16;
    for (int i = 0; i < nb; i++) {
        if (bs[i] < 1) {
            fprintf(stderr, "bench_lstm_train: batch %d\n", bs[i]);
            return 2;
        }
        if (bench(bs[i], seconds)) return 1;
    }
    return 0;
}
