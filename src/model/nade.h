/* nade.h - internal: the NADE head (Boulanger-Lewandowski et al. 2012, "Modeling temporal
 * dependencies in high-dimensional sequences", section 4), shared by loss.c, generation and the
 * tests (not public API).
 *
 * At each step the LSTM's head gives y = [b_v (D) | b_h (Hn)], the time-varying biases of a NADE
 * (Larochelle & Murray 2011) over the D binary features of the next step, which it models
 * exactly as a product of conditionals in feature (pitch) order:
 *     a_0 = b_h,    a_{k+1} = a_k + x_k W_k          (W, V: (D, Hn), row k for feature k)
 *     h_k = sigmoid(a_k),    p(x_k = 1 | x_<k) = sigmoid(b_v[k] + V_k . h_k)
 * so -log p(x) = sum_k softplus(l_k) - x_k l_k with l_k = b_v[k] + V_k . h_k: one pass of
 * O(D Hn) per step, an order below the LSTM's own cost at the sizes we use. Training is the
 * exact likelihood under teacher forcing (the targets' x_<k); sampling draws x_k one by one.
 *
 * Gradients of one step, for dl_k = dL/dl_k = sigmoid(l_k) - x_k (times the row's weight):
 *     d b_v[k] = dl_k,   dV_k += dl_k h_k,   da_k = dl_k V_k * h_k (1 - h_k),
 *     d b_h = sum_k da_k,   dW_j += x_j sum_{k > j} da_k     (a reverse running sum). */
#ifndef GB_MODEL_NADE_H
#define GB_MODEL_NADE_H

#include <math.h>

#include "model/lstm.h"

/* -log p(x) of a binary x under p = sigmoid(l): softplus(l) - x l, computed stably. The loss of
 * one feature, for both heads. */
static inline double gb_bce(double l, double x) {
    return (l > 0 ? l : 0) + log1p(exp(-fabs(l))) - x * l;
}

/* For n rows: y (n, D + Hn) the head's outputs, x (n, D) the binary targets. Writes, unless
 * NULL, nll (n): the row's -log p summed over the features whose keys[k] is set (NULL: all).
 * With dy != NULL, the gradient of sum_r wrow[r] * (-log p(x_r)) (every feature): dy (n, D + Hn)
 * is written (rows with wrow[r] == 0 get zeros), dW, dV (D, Hn) are added to.
 * The reference walks the definition in double, one row at a time: the oracle. The fast path
 * runs in float with a vectorised sigmoid, rows split over OpenMP threads. */
void gb_nade_ref(int n, int D, int Hn, const float *W, const float *V, const float *y,
                 const float *x, const float *wrow, const uint8_t *keys, double *nll, float *dy,
                 float *dW, float *dV);
void gb_nade_fast(int n, int D, int Hn, const float *W, const float *V, const float *y,
                  const float *x, const float *wrow, const uint8_t *keys, double *nll, float *dy,
                  float *dW, float *dV);

/* Draws one step x (D) from the NADE that y (D + Hn) sets, feature by feature, each from
 * sigmoid(l_k / temperature) (1: the model's own distribution; 0: on where l_k >= 0, greedy).
 * Uses D numbers of rng (none at 0). scratch: Hn floats. */
void gb_nade_sample(int D, int Hn, const float *W, const float *V, const float *y,
                    float temperature, gb_rng *rng, float *x, float *scratch);

#endif
