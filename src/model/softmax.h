/* softmax.h - internal: the softmax head (lstm.h: GB_HEAD_SOFTMAX), shared by loss.c,
 * generation and the tests (not public API).
 *
 * At each step the head's D outputs y are the logits of a categorical distribution over D
 * classes (the next token): p(k) = exp(y_k) / sum_j exp(y_j). The loss of a target k is
 *     -log p(k) = (m - y_k) + log sum_j exp(y_j - m),    m = max_j y_j
 * (log-sum-exp: no exp overflows, and when k is the most likely class the small NLL is not the
 * difference of two large numbers), and its gradient dL/dy_j = p(j) - [j == k].
 *
 * Sampling for generation (Holtzman et al. 2020 for top-p): the logits divided by a temperature,
 * then the k most likely classes kept (top-k), then of those the smallest set, most likely
 * first, whose probability (renormalised over the kept ones) sums to at least p (top-p, the
 * nucleus); one class drawn from what is left, renormalised. Ties are broken by the lower class
 * id, so the candidate set and the draw are functions of (logits, options, rng state) alone. */
#ifndef GB_MODEL_SOFTMAX_H
#define GB_MODEL_SOFTMAX_H

#include "model/lstm.h"

/* For n rows: y (n, D) the logits, t (n) the target ids as floats. Writes, unless NULL,
 * nll (n): -log p(t_r) of the row, 0 when keys[t_r] is unset (keys NULL: every class counts),
 * NaN when t_r is not an id in 0..D-1. With dy != NULL, the gradient of sum_r wrow[r] *
 * (-log p(t_r)) (wrow NULL: weights 1): dy (n, D) is written, rows with wrow[r] == 0 get zeros
 * (and are not read: their targets may be anything), a row with a bad id NaN.
 * The reference computes in double with libm, one row at a time: the oracle. The fast path runs
 * in float with vmath.h's vectorised exp (the max and the log in double), rows over OpenMP
 * threads. */
void gb_softmax_ref(int n, int D, const float *y, const float *t, const float *wrow,
                    const uint8_t *keys, double *nll, float *dy);
void gb_softmax_fast(int n, int D, const float *y, const float *t, const float *wrow,
                     const uint8_t *keys, double *nll, float *dy);

/* A candidate class and its probability. */
typedef struct {
    double p;
    int id;
} gb_softmax_item;

/* The distribution gb_softmax_sample draws from: into work (D items of scratch), the kept
 * classes of positive probability in the order the draw walks them, with their probabilities
 * (summing to 1); returns how many were kept (>= 1), or 0 when every logit is -inf or NaN.
 * (Logits of +inf share all the mass.)
 *   temperature > 0: the logits divided by it; <= 0: greedy, the most likely class alone.
 *   top_k: keep the k most likely (<= 0 or >= D: all).
 *   top_p: then keep the smallest most-likely-first set with mass >= top_p (>= 1 or <= 0: all;
 *          at least one class is always kept).
 * Without top-k and top-p the classes stay in id order (no sort: generation's common case);
 * with either, most likely first (ties: lower id first). NaN logits count as -inf. */
int gb_softmax_filter(int D, const float *logits, float temperature, int top_k, float top_p,
                      gb_softmax_item *work);

/* One class drawn from gb_softmax_filter's distribution with one number of rng (53 bits; none
 * when greedy); -1 when that has nothing (every logit -inf or NaN). work: D items of scratch.
 * The same logits, options and rng state give the same class. */
int gb_softmax_sample(int D, const float *logits, float temperature, int top_k, float top_p,
                      gb_rng *rng, gb_softmax_item *work);

#endif
