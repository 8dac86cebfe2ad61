/* sgemm_peak.c - the ceilings the LSTM benchmark is measured against, on this machine:
 *   clock   the real core clock, from a chain of dependent integer adds (1 cycle each)
 *   fma     the FMA peak: independent FMA chains (AVX2 8-wide and AVX-512 16-wide), on 1 thread
 *           and on every OpenMP thread at once
 *   gemm    groovybee's products (src/model/gemm.c: fp32 by OpenBLAS or oneDNN as GB_GEMM_FP32
 *           and the default say, bf16 by oneDNN with both operands already in bf16) on a large
 *           square product (2048^3: the "peak" of each precision) and on every shape the
 *           LSTM's fast path (src/model/lstm.c) calls for the paper configuration (D=128, H=512,
 *           L=2, T=12) at B=64 and B=16, with its row-major transposition flags
 *   bound   per precision and batch size, the time of one training step's GEMMs alone at those
 *           measured rates (each call's flops / its shape's rate, summed over the calls of one
 *           step), and the GFLOP/s that would give: the ceiling of the design on this machine.
 * Every line is key=value. Each figure is the best of several timed windows (>= 60 ms each), so
 * a burst of other work on the machine lowers it less; `med_` keys give the median window.
 *
 * Build (after make): cc -O2 -std=c11 -fopenmp -Iinclude -Isrc bench/sgemm_peak.c \
 *           build/libgroovybee.a $(pkg-config --libs openblas) -ldnnl -fopenmp \
 *           -o build/bench_sgemm_peak
 * Usage: build/bench_sgemm_peak [-q] [-p fp32|bf16]   (-q: skip the square 2048^3 product;
 *        -p: one precision; bf16 is skipped where the CPU has no bf16 instructions)
 * OPENBLAS_NUM_THREADS and OPENBLAS_CORETYPE (e.g. Haswell, SkylakeX, Cooperlake, Zen) are
 * honoured as OpenBLAS honours them; blas_core= shows the kernel set in use. */
#define _POSIX_C_SOURCE 199309L
#include "model/gemm.h"

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *p, const void *q) {
    double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

enum { WINDOWS = 7 };

/* ---- clock: 16 dependent adds per iteration, 1 cycle each on x86-64 cores of this age ---- */
static double clock_ghz(void) {
    double best = 0;
    for (int w = 0; w < WINDOWS; w++) {
        unsigned long x = 0, n = 20000000;
        double t0 = now();
        for (unsigned long i = 0; i < n; i++)
            __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                             "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                             "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                             "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                             : "+r"(x));
        double r = 16.0 * n / (now() - t0) * 1e-9;
        if (r > best) best = r;
    }
    return best;
}

/* ---- FMA peak: 12 independent accumulators hide the FMA latency on 2 pipes ---- */
#define FMA_BODY(V, FMA, SET1)                                                                   \
    V a0 = SET1(1.0f), a1 = SET1(1.1f), a2 = SET1(1.2f), a3 = SET1(1.3f), a4 = SET1(1.4f),      \
      a5 = SET1(1.5f), a6 = SET1(1.6f), a7 = SET1(1.7f), a8 = SET1(1.8f), a9 = SET1(1.9f),      \
      a10 = SET1(2.0f), a11 = SET1(2.1f);                                                        \
    V m = SET1(0.999999f), c = SET1(1e-7f);                                                      \
    for (long i = 0; i < n; i++) {                                                               \
        a0 = FMA(a0, m, c), a1 = FMA(a1, m, c), a2 = FMA(a2, m, c), a3 = FMA(a3, m, c);          \
        a4 = FMA(a4, m, c), a5 = FMA(a5, m, c), a6 = FMA(a6, m, c), a7 = FMA(a7, m, c);          \
        a8 = FMA(a8, m, c), a9 = FMA(a9, m, c), a10 = FMA(a10, m, c), a11 = FMA(a11, m, c);      \
    }                                                                                            \
    V s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;                           \
    float out[sizeof(V) / 4];                                                                    \
    memcpy(out, &s, sizeof out);                                                                 \
    return out[0];

__attribute__((target("avx2,fma"))) static float fma256(long n) {
    FMA_BODY(__m256, _mm256_fmadd_ps, _mm256_set1_ps)
}
__attribute__((target("avx512f"))) static float fma512(long n) {
    FMA_BODY(__m512, _mm512_fmadd_ps, _mm512_set1_ps)
}

/* GFLOP/s of `threads` threads each running the kernel of `width` floats (best window) */
static double fma_peak(int width, int threads) {
    long n = 4000000;
    double best = 0;
    volatile float sink = 0;
    for (int w = 0; w < WINDOWS; w++) {
        double t0 = now();
#pragma omp parallel num_threads(threads)
        {
            float r = width == 16 ? fma512(n) : fma256(n);
#pragma omp atomic
            sink += r;
        }
        double r = 2.0 * 12 * width * n * threads / (now() - t0) * 1e-9;
        if (r > best) best = r;
    }
    return best;
}

/* ---- sgemm ---- */
typedef struct {
    const char *name;
    int ta, tb, M, N, K, calls; /* calls: how many such products one training step makes */
} shape;

static float *buf_a, *buf_b, *buf_c;
static uint16_t *bf_a, *bf_b;
static gb_gemm_ctx *ctx;

/* best and median GFLOP/s over WINDOWS windows of back-to-back calls */
static void rate(const shape *s, double *best, double *med) {
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N, ldc = s->N;
    double fl = 2.0 * s->M * s->N * s->K, r[WINDOWS];
    int bf = gb_gemm_ctx_precision(ctx) == GB_PREC_BF16;
    gb_mat A = {buf_a, bf ? bf_a : NULL, lda, s->ta}, B = {buf_b, bf ? bf_b : NULL, ldb, s->tb};
    for (int i = 0; i < 3; i++) /* warm-up: threads up, pages touched, primitives made */
        gb_gemm(ctx, s->M, s->N, s->K, A, B, 1.0f, buf_c, ldc);
    for (int w = 0; w < WINDOWS; w++) {
        long reps = 0;
        double t0 = now(), t;
        do {
            gb_gemm(ctx, s->M, s->N, s->K, A, B, 1.0f, buf_c, ldc);
            reps++;
        } while ((t = now() - t0) < 0.06);
        r[w] = fl * reps / t * 1e-9;
    }
    qsort(r, WINDOWS, sizeof r[0], cmp_double);
    *best = r[WINDOWS - 1], *med = r[WINDOWS / 2];
}

int main(int argc, char **argv) {
    int square = 1, only = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-q"))
            square = 0;
        else if (!strcmp(argv[i], "-p") && i + 1 < argc)
            only = !strcmp(argv[++i], "bf16");
        else {
            fprintf(stderr, "usage: bench_sgemm_peak [-q] [-p fp32|bf16]\n");
            return 2;
        }
    }
    size_t cap = (size_t)2048 * 2048;
    buf_a = malloc(cap * sizeof(float)), buf_b = malloc(cap * sizeof(float));
    buf_c = malloc(cap * sizeof(float));
    if (!buf_a || !buf_b || !buf_c) return 1;
    for (size_t i = 0; i < cap; i++)
        buf_a[i] = (float)((i * 7 % 13) - 6) * 0.01f, buf_b[i] = (float)((i * 5 % 11) - 5) * 0.01f,
        buf_c[i] = 0;
    bf_a = malloc(cap * sizeof *bf_a), bf_b = malloc(cap * sizeof *bf_b);
    if (!bf_a || !bf_b) return 1;
    gb_bf16_round(cap, buf_a, bf_a), gb_bf16_round(cap, buf_b, bf_b);
    int par = openblas_get_parallel(), nt = omp_get_max_threads();
    double ghz = clock_ghz();
    printf("what=clock ghz=%.3f\n", ghz);
    for (int width = 8; width <= 16; width *= 2)
        for (int th = 1; th <= nt; th = th < nt ? nt : nt + 1) {
            double g = fma_peak(width, th);
            printf("what=fma width=%d threads=%d gflop_s=%.1f flop_per_cycle_per_core=%.1f\n",
                   width * 32, th, g, g / ghz / th);
        }
    printf("what=blas blas=%s blas_threads=%d blas_core=%s config=\"%s\"\n",
           par == 0 ? "serial" : par == 1 ? "pthread" : "openmp", openblas_get_num_threads(),
           openblas_get_corename(), openblas_get_config());
    printf("what=kernels kernels=\"%s\"\n", gb_kernels_line());
    for (int p = 0; p < 2; p++) {
        if ((only >= 0 && p != only) || (p && !gb_bf16_native())) continue;
        const char *pn = p ? "bf16" : "fp32";
        if (!(ctx = gb_gemm_ctx_new(p ? GB_PREC_BF16 : GB_PREC_FP32))) return 1;
        if (square) {
            shape sq = {"square", 0, 0, 2048, 2048, 2048, 0};
            double b, m;
            rate(&sq, &b, &m);
            printf("what=gemm prec=%s shape=square B=0 ta=N tb=N M=2048 N=2048 K=2048 gflop_s=%.1f "
                   "med_gflop_s=%.1f\n", pn, b, m);
        }
        const int D = 128, H = 512, G = 2048, T = 12;
        for (int bi = 0; bi < 2; bi++) {
            int B = bi ? 16 : 64, TB = T * B, T1B = (T - 1) * B;
            /* the calls of lstm.c's forward_fast + backward_fast for L=2, in order */
            shape sh[] = {
                {"fwd_x0 Z=X W_ih^T (layer 0)", 0, 1, TB, G, D, 1},
                {"fwd_h Z_t+=h W_hh^T (per step)", 0, 1, B, G, H, 2 * (T - 1)},
                {"fwd_x1 Z=X W_ih^T (layer 1)", 0, 1, TB, G, H, 1},
                {"fwd_head Y=H fc_w^T", 0, 1, TB, D, H, 1},
                {"bwd_dfc dfc_w+=dy^T H", 1, 0, D, H, TB, 1},
                {"bwd_dhead dh=dy fc_w", 0, 0, TB, H, D, 1},
                {"bwd_h dh_t-1+=dZ_t W_hh (per step)", 0, 0, B, H, G, 2 * (T - 1)},
                {"bwd_dwih1 dW_ih+=dZ^T X (layer 1)", 1, 0, G, H, TB, 1},
                {"bwd_dwhh dW_hh+=dZ^T h", 1, 0, G, H, T1B, 2},
                {"bwd_dx dX=dZ W_ih (layer 1)", 0, 0, TB, H, G, 1},
                {"bwd_dwih0 dW_ih+=dZ^T X (layer 0)", 1, 0, G, D, TB, 1},
            };
            double tbest = 0, tmed = 0, flops = 0;
            for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++) {
                double b, m, fl = 2.0 * sh[k].M * sh[k].N * sh[k].K * sh[k].calls;
                rate(&sh[k], &b, &m);
                tbest += fl / (b * 1e9), tmed += fl / (m * 1e9), flops += fl;
                char tag[64];
                snprintf(tag, sizeof tag, "%s", sh[k].name);
                *strchr(tag, ' ') = 0;
                printf("what=gemm prec=%s shape=%s B=%d ta=%c tb=%c M=%d N=%d K=%d calls=%d "
                       "gflop_s=%.1f med_gflop_s=%.1f ms_per_step=%.2f  # %s\n",
                       pn, tag, B, sh[k].ta ? 'T' : 'N', sh[k].tb ? 'T' : 'N', sh[k].M, sh[k].N,
                       sh[k].K, sh[k].calls, b, m, fl / (m * 1e9) * 1e3,
                       strchr(sh[k].name, ' ') + 1);
            }
            printf("what=bound prec=%s B=%d gflop_step=%.4f gemm_ms=%.2f gflop_s=%.1f "
                   "windows_s=%.1f med_gemm_ms=%.2f med_gflop_s=%.1f med_windows_s=%.1f\n",
                   pn, B, flops * 1e-9, tbest * 1e3, flops / tbest * 1e-9, B / tbest, tmed * 1e3,
                   flops / tmed * 1e-9, B / tmed);
        }
        gb_gemm_ctx_free(ctx);
    }
    free(buf_a), free(buf_b), free(buf_c), free(bf_a), free(bf_b);
    return 0;
}
