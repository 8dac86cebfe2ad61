/* kernels.h - internal: the LSTM's kernels, shared by lstm.c and the tests (not public API).
 *
 * Two families. The reference ones are plain loops over one step of one layer, accumulating in
 * double: slow and obviously correct, the oracle the fast path is tested against. The fast ones
 * are the pointwise halves of a step (gate nonlinearities and their derivatives, fused, OpenMP
 * over the batch rows); the matrix products around them are single sgemm calls in lstm.c.
 *
 * Shapes use lstm.h's legend; `in` is a layer's input width (D for layer 0, H above). Gate rows
 * are PyTorch's i, f, g, o, so gates (B, G) hold, per row, i[0..H) f[H..2H) g[2H..3H) o[3H..4H). */
#ifndef GB_MODEL_KERNELS_H
#define GB_MODEL_KERNELS_H

#include "model/lstm.h"

/* ---- reference: one step of one layer, plain loops ---- */

/* z = W_ih x + b_ih + W_hh h_prev + b_hh, activated into gates; c = f c_prev + i g; h = o tanh c.
 * x (B, in), h_prev c_prev (B, H), w_ih (G, in), w_hh (G, H), b_ih b_hh (G)
 * -> gates (B, G), c tc h (B, H), tc = tanh(c). */
void gb_ref_cell_forward(int B, int in, int H, const float *x, const float *h_prev,
                         const float *c_prev, const float *w_ih, const float *w_hh,
                         const float *b_ih, const float *b_hh, float *gates, float *c, float *tc,
                         float *h);

/* Backward of gb_ref_cell_forward. dh (B, H) is the whole gradient reaching h_t (from above and
 * from step t+1); dc (B, H) enters as the gradient reaching c_t from step t+1 and leaves as the
 * one reaching c_{t-1}. Adds into dw_ih (G, in), dw_hh (G, H), db_ih db_hh (G); writes
 * dz (B, G) (gradient of the pre-activations), dx (B, in) unless NULL, dh_prev (B, H). */
void gb_ref_cell_backward(int B, int in, int H, const float *x, const float *h_prev,
                          const float *c_prev, const float *w_ih, const float *w_hh,
                          const float *gates, const float *tc, const float *dh, float *dc,
                          float *dz, float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                          float *dx, float *dh_prev);

/* The head at one step: y (B, D) = h (B, H) W_fc^T + b_fc, and its backward: adds into
 * dfc_w (D, H), dfc_b (D); writes dh (B, H). */
void gb_ref_head_forward(int B, int H, int D, const float *h, const float *fc_w,
                         const float *fc_b, float *y);
void gb_ref_head_backward(int B, int H, int D, const float *h, const float *fc_w,
                          const float *dy, float *dfc_w, float *dfc_b, float *dh);

/* ---- fast: the pointwise halves of a step, fused, OpenMP over rows ---- */
/* (Each row is one vector loop over restrict pointers: no two of a kernel's arrays overlap.) */

/* Whether OpenMP threads should run the per-step kernels (threads argument below) between the
 * products of `products` (NULL: OpenBLAS's): only when idle OpenMP workers will not spin
 * against OpenBLAS's own threads between steps. */
int gb_fast_step_threads(const gb_gemm_ctx *products);

/* z (B, G) holds W_ih x + W_hh h_prev (no biases yet); adds the biases and activates it in
 * place into the gates, then c, tc, h (B, H) from c_prev (B, H). threads: 0 runs on the
 * calling thread alone. Sigmoid and tanh are vmath.h's vectorised ones (within 1.2e-7 of the
 * exact values, as libm's expf and tanhf, which the reference uses), and the same bits on
 * every x86-64 level. */
void gb_fast_cell_pointwise(int B, int H, float *z, const float *b_ih, const float *b_hh,
                            const float *c_prev, float *c, float *tc, float *h, int threads);

/* gb_fast_cell_pointwise for units [j0, j0 + n) of one row, on the calling thread: every
 * pointer is the row's plus j0, so z's gate blocks still lie H apart (z[k H + j], b[k H + j]).
 * For the one-step path, where each thread finishes its own block of units. */
void gb_fast_cell_units(int n, int H, float *z, const float *b_ih, const float *b_hh,
                        const float *c_prev, float *c, float *tc, float *h);

/* From the gates (B, G), c_prev tc (B, H) and dh (B, H) (the whole gradient reaching h_t):
 * writes dz (B, G); dc (B, H) goes in as dL/dc_t from step t+1, out as dL/dc_{t-1}. */
void gb_fast_cell_pointwise_backward(int B, int H, const float *gates, const float *c_prev,
                                     const float *tc, const float *dh, float *dc, float *dz,
                                     int threads);

/* For tests: the dropout mask on the input of layer l (l = 0..L; L: the head's input) of the
 * last training forward, (T, B, Din) for l = 0 and (T, B, H) above, or NULL when that forward
 * dropped nothing there. */
const float *gb_lstm_acts_mask(const gb_lstm_acts *a, int l);
/* For benchmarks: whether the activations' step kernels use OpenMP threads. */
int gb_lstm_acts_step_threads(const gb_lstm_acts *a);

#endif
