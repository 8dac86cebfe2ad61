/* kernels.c - the LSTM's kernels: the reference (plain loops, double accumulators) and the fast
 * path's fused pointwise steps (OpenMP over batch rows, each row one vector loop: vmath.h).
 * Declarations and shapes in kernels.h. */
#define _POSIX_C_SOURCE 200809L /* strcasecmp */
#include "model/kernels.h"
#include "model/vmath.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* ---- reference ---- */

void gb_ref_cell_forward(int B, int in, int H, const float *x, const float *h_prev,
                         const float *c_prev, const float *w_ih, const float *w_hh,
                         const float *b_ih, const float *b_hh, float *gates, float *c, float *tc,
                         float *h) {
    int G = 4 * H;
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * in, *hb = h_prev + (size_t)b * H;
        float *zb = gates + (size_t)b * G;
        for (int r = 0; r < G; r++) { /* z = W_ih x + b_ih + W_hh h + b_hh */
            double s = (double)b_ih[r] + b_hh[r];
            for (int k = 0; k < in; k++) s += (double)w_ih[(size_t)r * in + k] * xb[k];
            for (int k = 0; k < H; k++) s += (double)w_hh[(size_t)r * H + k] * hb[k];
            zb[r] = (float)s;
        }
        for (int j = 0; j < H; j++) {
            float i = sigmoidf(zb[j]), f = sigmoidf(zb[H + j]);
            float g = tanhf(zb[2 * H + j]), o = sigmoidf(zb[3 * H + j]);
            zb[j] = i, zb[H + j] = f, zb[2 * H + j] = g, zb[3 * H + j] = o;
            size_t bj = (size_t)b * H + j;
            c[bj] = f * c_prev[bj] + i * g;
            tc[bj] = tanhf(c[bj]);
            h[bj] = o * tc[bj];
        }
    }
}

void gb_ref_cell_backward(int B, int in, int H, const float *x, const float *h_prev,
                          const float *c_prev, const float *w_ih, const float *w_hh,
                          const float *gates, const float *tc, const float *dh, float *dc,
                          float *dz, float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                          float *dx, float *dh_prev) {
    int G = 4 * H;
    for (int b = 0; b < B; b++) {
        const float *gb = gates + (size_t)b * G;
        float *dzb = dz + (size_t)b * G;
        for (int j = 0; j < H; j++) {
            size_t bj = (size_t)b * H + j;
            float i = gb[j], f = gb[H + j], g = gb[2 * H + j], o = gb[3 * H + j];
            float dct = dc[bj] + dh[bj] * o * (1.0f - tc[bj] * tc[bj]); /* dL/dc_t, all paths */
            dzb[j] = dct * g * i * (1.0f - i);                          /* di * sigmoid' */
            dzb[H + j] = dct * c_prev[bj] * f * (1.0f - f);             /* df * sigmoid' */
            dzb[2 * H + j] = dct * i * (1.0f - g * g);                  /* dg * tanh' */
            dzb[3 * H + j] = dh[bj] * tc[bj] * o * (1.0f - o);          /* do * sigmoid' */
            dc[bj] = dct * f;                                           /* dL/dc_{t-1} */
        }
        const float *xb = x + (size_t)b * in, *hb = h_prev + (size_t)b * H;
        for (int r = 0; r < G; r++) {
            for (int k = 0; k < in; k++) dw_ih[(size_t)r * in + k] += dzb[r] * xb[k];
            for (int k = 0; k < H; k++) dw_hh[(size_t)r * H + k] += dzb[r] * hb[k];
            db_ih[r] += dzb[r];
            db_hh[r] += dzb[r];
        }
        if (dx)
            for (int k = 0; k < in; k++) {
                double s = 0;
                for (int r = 0; r < G; r++) s += (double)dzb[r] * w_ih[(size_t)r * in + k];
                dx[(size_t)b * in + k] = (float)s;
            }
        for (int k = 0; k < H; k++) {
            double s = 0;
            for (int r = 0; r < G; r++) s += (double)dzb[r] * w_hh[(size_t)r * H + k];
            dh_prev[(size_t)b * H + k] = (float)s;
        }
    }
}

void gb_ref_head_forward(int B, int H, int D, const float *h, const float *fc_w,
                         const float *fc_b, float *y) {
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            double s = fc_b[d];
            for (int k = 0; k < H; k++) s += (double)fc_w[(size_t)d * H + k] * h[(size_t)b * H + k];
            y[(size_t)b * D + d] = (float)s;
        }
}

void gb_ref_head_backward(int B, int H, int D, const float *h, const float *fc_w,
                          const float *dy, float *dfc_w, float *dfc_b, float *dh) {
    for (int b = 0; b < B; b++) {
        const float *dyb = dy + (size_t)b * D;
        for (int d = 0; d < D; d++) {
            for (int k = 0; k < H; k++) dfc_w[(size_t)d * H + k] += dyb[d] * h[(size_t)b * H + k];
            dfc_b[d] += dyb[d];
        }
        for (int k = 0; k < H; k++) {
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)dyb[d] * fc_w[(size_t)d * H + k];
            dh[(size_t)b * H + k] = (float)s;
        }
    }
}

/* ---- fast: fused pointwise steps; a thread per block of rows once a step is big enough ---- */

#define GB_OMP_MIN 8192 /* B * H below which threads cost more than they save */

/* The step kernels run between two products, 2T times per layer and pass. With the products by
 * a pthreads OpenBLAS and libgomp's default wait policy, the idle OpenMP workers spin for about
 * a millisecond after each region while the next sgemm wants the cores for OpenBLAS's threads:
 * measured on 2 cores, a training step of the report's model took 1.5-2x as long as with these
 * kernels on one thread, 2-3x as long as with sleeping workers. So they use threads only when
 * the products share the OpenMP pool (oneDNN's matmul, or OpenBLAS's OpenMP build) or idle
 * workers sleep (OMP_WAIT_POLICY=passive). */
int gb_fast_step_threads(const gb_gemm_ctx *products) {
    if (gb_gemm_ctx_onednn(products)) return 1;
    if (openblas_get_parallel() != 1) return 1; /* 0 sequential, 2 OpenMP: no rival pool */
    const char *w = getenv("OMP_WAIT_POLICY");
    return w && strcasecmp(w, "passive") == 0;
}

/* n units of one row of gb_fast_cell_pointwise, the gate blocks H apart: the four gates in one
 * vector loop (vmath.h's exp, sigmoid and tanh; libm's are scalar calls). */
GB_VCLONES static void cell_row(int n, int H, float *restrict z, const float *restrict b_ih,
                                const float *restrict b_hh, const float *restrict cp,
                                float *restrict c, float *restrict tc, float *restrict h) {
#pragma omp simd
    for (int j = 0; j < n; j++) {
        float i = gb_vsigmoidf(z[j] + b_ih[j] + b_hh[j]);
        float f = gb_vsigmoidf(z[H + j] + b_ih[H + j] + b_hh[H + j]);
        float g = gb_vtanhf(z[2 * H + j] + b_ih[2 * H + j] + b_hh[2 * H + j]);
        float o = gb_vsigmoidf(z[3 * H + j] + b_ih[3 * H + j] + b_hh[3 * H + j]);
        z[j] = i, z[H + j] = f, z[2 * H + j] = g, z[3 * H + j] = o;
        float cv = f * cp[j] + i * g, tv = gb_vtanhf(cv);
        c[j] = cv, tc[j] = tv, h[j] = o * tv;
    }
}

void gb_fast_cell_pointwise(int B, int H, float *z, const float *b_ih, const float *b_hh,
                            const float *c_prev, float *c, float *tc, float *h, int threads) {
    size_t G = (size_t)4 * H;
#pragma omp parallel for schedule(static) if (threads && (long)B * H >= GB_OMP_MIN)
    for (int b = 0; b < B; b++) {
        size_t bh = (size_t)b * H;
        cell_row(H, H, z + b * G, b_ih, b_hh, c_prev + bh, c + bh, tc + bh, h + bh);
    }
}

void gb_fast_cell_units(int n, int H, float *z, const float *b_ih, const float *b_hh,
                        const float *c_prev, float *c, float *tc, float *h) {
    cell_row(n, H, z, b_ih, b_hh, c_prev, c, tc, h);
}

/* One row of gb_fast_cell_pointwise_backward, one vector loop. */
GB_VCLONES static void cell_row_backward(int H, const float *restrict gt,
                                         const float *restrict cp, const float *restrict tc,
                                         const float *restrict dh, float *restrict dc,
                                         float *restrict dz) {
#pragma omp simd
    for (int j = 0; j < H; j++) {
        float i = gt[j], f = gt[H + j], g = gt[2 * H + j], o = gt[3 * H + j];
        float t = tc[j], d = dh[j];
        float dct = dc[j] + d * o * (1.0f - t * t);
        dz[j] = dct * g * i * (1.0f - i);
        dz[H + j] = dct * cp[j] * f * (1.0f - f);
        dz[2 * H + j] = dct * i * (1.0f - g * g);
        dz[3 * H + j] = d * t * o * (1.0f - o);
        dc[j] = dct * f;
    }
}

void gb_fast_cell_pointwise_backward(int B, int H, const float *gates, const float *c_prev,
                                     const float *tc, const float *dh, float *dc, float *dz,
                                     int threads) {
    size_t G = (size_t)4 * H;
#pragma omp parallel for schedule(static) if (threads && (long)B * H >= GB_OMP_MIN)
    for (int b = 0; b < B; b++) {
        size_t bh = (size_t)b * H;
        cell_row_backward(H, gates + b * G, c_prev + bh, tc + bh, dh + bh, dc + bh, dz + b * G);
    }
}
