/* lstm.h - the report's network: L stacked LSTM cells (PyTorch LSTMCell semantics) with dropout
 * between layers and a head (linear, NADE or softmax), on a dense or a token input, forward and
 * backward (BPTT) over a window, the heads' losses, and Adam. Parameters, gradients and Adam
 * moments are flat blocks of n_params floats, so the optimizer, clipping and checkpoints are
 * single loops.
 *
 * Legend of dimension letters, used in the shape comments:
 *   T  time steps of a window      B  windows in a batch
 *   D  features predicted per step (128 pitches, 256 with onsets), or with the softmax head the
 *      classes (tokens) it chooses among          H  hidden units
 *   E  extra input features per step, never predicted (the meter, 20 with --meter; else 0)
 *   V  the token vocabulary with token input (V > 0; see below), else 0
 *   Din = the width of a step's input row x: D + E, or 1 + E with token input (the token id,
 *      then the E extra features)
 *   Dw = layer 0's input width, the columns of its W_ih: D + E, or V + E with token input (the
 *      width of the one-hot vector a token stands for)
 *   Dout = the head's output width: D (linear and softmax heads), or D + Hn for NADE
 *   Dt = the width of a target row: D, or 1 for the softmax head (the next token's id)
 *   L  LSTM layers (1..4)          G = 4H gate rows, PyTorch's order: i, f, g, o
 *   Hn hidden units of the NADE head
 *
 * The cell, per layer l with input x_t (layer 0: the window's step, dropped out with p_in;
 * layer l > 0: the hidden state of layer l-1 at the same step, dropped out with p):
 *   z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh            (G)
 *   i = sigmoid(z_i)  f = sigmoid(z_f)  g = tanh(z_g)  o = sigmoid(z_o)
 *   c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)
 * and the head y_t = W_fc h^{L-1}_t + b_fc (Dout) on the top state (dropped out with p_out):
 *   linear head: logits for BCE, velocities/127 for MSE, one per feature;
 *   NADE head (nade.h): y_t = [b_v (D) | b_h (Hn)], the biases of a NADE over the D features of
 *   step t+1, whose own weights W, V (D, Hn) sit after the head in the parameter block;
 *   softmax head (softmax.h): y_t = the logits of a categorical distribution over D classes,
 *   p(k) = exp(y_k) / sum_j exp(y_j), the next token's.
 * Token input (V > 0): x_t of layer 0 is the one-hot vector of the step's token k (V entries)
 * followed by the E extra features, so W_ih x_t is column k of W_ih (the token's embedding)
 * plus W_ih's last E columns times the extras. The reference path computes that product as
 * written, on the one-hot vector; the fast path gathers column k (and in backward adds dz_t
 * into column k alone), with no (T*B, V) product; in bf16 the gathered columns are the
 * bf16-rounded weights and the added dz_t is rounded as dz is for the products, so the numbers
 * are the one-hot product's in either precision up to fp32 summation order. A row of x is
 * [k, e_0 .. e_{E-1}] as floats (k exact: any V <= 2^20 is); a k that is not in 0..V-1 makes
 * that step's outputs NaN. Input dropout (p_in) drops the token as a whole (its column times 0
 * or 1/(1-p)), with its own mask entry first in the row, then each extra feature: as the
 * one-hot input's dropout, whose mask entries off the token multiply zeros.
 * States start at zero for each window. Each step runs through every layer, as in the report's
 * LSTMCell loop; since layer l at step t needs only layer l-1 at step t and itself at t-1, the
 * code may run a layer over all steps before the next (the same numbers, larger GEMMs). */
#ifndef GB_LSTM_H
#define GB_LSTM_H

#include "core/core.h"
#include "core/rng.h"
#include "model/gemm.h"

#define GB_LSTM_MAX_LAYERS 4

/* CE: cross-entropy over classes, the softmax head's loss (recorded in checkpoints; gb_loss
 * computes a head's own loss whatever the kind for the NADE and softmax heads) */
typedef enum { GB_LOSS_MSE = 0, GB_LOSS_BCE = 1, GB_LOSS_CE = 2 } gb_loss_kind;

typedef enum { GB_HEAD_LINEAR = 0, GB_HEAD_NADE = 1, GB_HEAD_SOFTMAX = 2 } gb_head_kind;

typedef struct {
    int D, H, L;
    float dropout;     /* probability of zeroing a unit between layers during training */
    int E;             /* extra input features (0: none) */
    float dropout_in;  /* ... of zeroing an input feature of layer 0 */
    float dropout_out; /* ... of zeroing a unit of the top state before the head */
    gb_head_kind head;
    int Hn;            /* NADE hidden units (head NADE); 0 otherwise */
    int V;             /* token input over a vocabulary of V tokens (legend); 0: dense input */
} gb_lstm_config;

/* Din, Dw, Dout and Dt of the legend above. */
static inline int gb_lstm_din(const gb_lstm_config *c) { return (c->V > 0 ? 1 : c->D) + c->E; }
static inline int gb_lstm_dw(const gb_lstm_config *c) { return (c->V > 0 ? c->V : c->D) + c->E; }
static inline int gb_lstm_dout(const gb_lstm_config *c) {
    return c->D + (c->head == GB_HEAD_NADE ? c->Hn : 0);
}
static inline int gb_lstm_dt(const gb_lstm_config *c) {
    return c->head == GB_HEAD_SOFTMAX ? 1 : c->D;
}

/* Named views into one flat block of floats (parameters, or gradients, laid out alike).
 * Order in the block, per layer: w_ih, w_hh, b_ih, b_hh; then fc_w, fc_b; then, for a NADE
 * head, nade_w, nade_v. */
typedef struct {
    float *w_ih[GB_LSTM_MAX_LAYERS]; /* (G, Dw) for layer 0, (G, H) above */
    float *w_hh[GB_LSTM_MAX_LAYERS]; /* (G, H) */
    float *b_ih[GB_LSTM_MAX_LAYERS]; /* (G) */
    float *b_hh[GB_LSTM_MAX_LAYERS]; /* (G) */
    float *fc_w;                     /* (Dout, H) */
    float *fc_b;                     /* (Dout) */
    float *nade_w;                   /* (D, Hn) row k: feature k's weights into the NADE's hidden
                                        units; NULL without a NADE head */
    float *nade_v;                   /* (D, Hn) row k: the hidden units' weights to feature k */
} gb_lstm_views;

size_t gb_lstm_n_params(const gb_lstm_config *c);
void gb_lstm_views_of(const gb_lstm_config *c, float *block, gb_lstm_views *v);

typedef struct {
    gb_lstm_config cfg;
    size_t n_params;
    float *params, *grads, *adam_m, *adam_v; /* (n_params) each */
    float *ema; /* (n_params) an exponential moving average of params (gb_ema_step), or NULL */
    gb_lstm_views p, g;
    long adam_t; /* Adam steps taken */
} gb_lstm;

/* Allocates and initialises as PyTorch does: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)]
 * (LSTMCell and, since its fan-in is H, Linear too: weight and bias alike), drawn from rng in
 * block order; the NADE's W in [-1/sqrt(D), 1/sqrt(D)] and V in [-1/sqrt(Hn), 1/sqrt(Hn)] (their
 * fan-ins). With token input layer 0's W_ih (G, V + E) is drawn alike, as LSTMCell(V + E, H) on
 * one-hot inputs has it (an nn.Embedding would start from N(0, 1)). Gradients and moments start
 * at zero. */
gb_status gb_lstm_init(gb_lstm *m, const gb_lstm_config *c, gb_rng *rng, gb_error *err);
void gb_lstm_free(gb_lstm *m);

/* Activations of one batch, sized once for (T, B) and reused: no malloc in the time loop. */
typedef struct gb_lstm_acts gb_lstm_acts;
gb_status gb_lstm_acts_new(const gb_lstm_config *c, int T, int B, gb_lstm_acts **out,
                           gb_error *err);
void gb_lstm_acts_free(gb_lstm_acts *a);
/* The precision of the fast path's products from now on (gemm.h; fp32 when never set): bf16
 * rounds both operands of every product to bfloat16 and sums in fp32; parameters, gradients,
 * cell states and everything between the products stay fp32. The reference path is always
 * fp32. Fails only for memory. */
gb_status gb_lstm_acts_set_precision(gb_lstm_acts *a, gb_precision p, gb_error *err);

typedef enum { GB_LOSS_ON_LAST = 0, GB_LOSS_ON_ALL = 1 } gb_loss_on;

/* Forward over a batch of windows x (T, B, Din) (with token input each row is [token id,
 * extras], the legend); y (T, B, Dout) receives the head's outputs.
 * Training mode (drop_keys != NULL, B of them) draws dropout masks (inverted dropout: kept units
 * scaled by 1/(1-p)): window b's, of every site, from a gb_rng seeded with drop_keys[b], site by
 * site (layer 0's input, ..., the head's), step by step, unit by unit. A window's masks depend on
 * its key alone, not on the batch it is cut into, so a batch split over several processes drops
 * what it would drop whole. drop_keys == NULL is evaluation, no dropout. */
void gb_lstm_forward(const gb_lstm *m, gb_lstm_acts *a, const float *x, int T, int B,
                     float *y, const uint64_t *drop_keys);

/* The loss of the head's outputs y (T, B, Dout) against targets (T, B, Dt), loss.c: the mean
 * over the features and the steps it covers: every step, or (ON_LAST) each window's last real
 * step; mask (T, B) marks the real steps of windows shorter than T (1 real, 0 padding; NULL: all
 * real). Linear head: MSE, mean (y - t)^2, or BCE, mean of softplus(y) - t y (sigmoid
 * cross-entropy on logits, computed stably): PyTorch's mean reductions (kind CE: NaN, it is the
 * softmax head's). NADE head: the mean of -log p(t_k | t_<k, y) over steps and features, so that
 * D times it is the step's exact negative log-likelihood, in the BCE head's units. Softmax head
 * (whatever the kind): targets are class ids (T, B) in 0..D-1 as floats, and the loss is the
 * mean over the covered steps of -log softmax(y)[t] (PyTorch's CrossEntropyLoss, mean; no
 * division by D), by log-sum-exp; a target id out of range makes it NaN. With g != NULL, writes
 * dL/dy into dy (T, B, Dout), zero where no loss applies, and adds the NADE's own gradients into
 * g; g == NULL: loss only (dy unused, may be NULL). Padded steps' targets are never read. */
float gb_loss(const gb_lstm *m, gb_lstm_views *g, gb_loss_kind k, gb_loss_on on, const float *y,
              const float *target, const float *mask, int T, int B, float *dy);

/* The rows (steps of windows) gb_loss averages over, for that mask and mode: the loss of a batch
 * cut in pieces is the sum of the pieces' losses, each times its rows, over their sum. */
size_t gb_loss_rows(gb_loss_on on, const float *mask, int T, int B);

/* Negative log-likelihood in nats of each of n steps' targets (n, Dt) under a model's outputs
 * y (n, Dout), into nll (n). BCE or NADE: binary targets, the sum over the features whose
 * keys[k] is set (NULL: all) of -log p(t_k | y) (BCE: the features are independent) or
 * -log p(t_k | t_<k, y) (NADE: each conditioned on the features below it as the targets have
 * them; docs/metrics.md). Softmax: -log softmax(y)[t] of the target id t (nats per event), or 0
 * where keys[t] is unset (a class filter: per-class sums); NaN for an id out of range. */
void gb_step_nll(const gb_lstm *m, const float *y, const float *target, int n,
                 const uint8_t *keys, double *nll);

/* Backward through the head (dy (T, B, Dout)) and all layers and steps (BPTT) of the last
 * forward; adds the gradients into m->grads (zeroing is gb_lstm_zero_grad's job). */
void gb_lstm_backward(gb_lstm *m, gb_lstm_acts *a, const float *x, const float *dy, int T,
                      int B);
void gb_lstm_zero_grad(gb_lstm *m);

/* Clips the gradients to a global L2 norm of at most max_norm (<= 0: no clipping); returns the
 * norm before clipping. */
float gb_lstm_clip(gb_lstm *m, float max_norm);

/* One Adam step with PyTorch's semantics (bias-corrected, eps added to sqrt(v_hat)); with
 * weight_decay > 0, AdamW's decoupled decay (PyTorch's AdamW: p -= lr * wd * p first) on the
 * weight matrices only, never on biases. */
void gb_adam_step(gb_lstm *m, float lr, float beta1, float beta2, float eps, float weight_decay);

/* The averaged weights (Polyak averaging, as TensorFlow's ExponentialMovingAverage with
 * num_updates): allocates m->ema as a copy of params, then each gb_ema_step after an Adam step
 * does ema += (1 - d) (params - ema) with d = min(decay, (1 + t) / (10 + t)), t = m->adam_t, so
 * that early steps are not averaged with the initial weights for long. */
gb_status gb_ema_init(gb_lstm *m, gb_error *err);
void gb_ema_step(gb_lstm *m, float decay);

/* Kernels: a naive reference, kept as the oracle, and the fast path (OpenBLAS + OpenMP).
 * gb_lstm_use_reference(1) makes forward/backward use the reference; tests compare the two. */
void gb_lstm_use_reference(int on);

#endif
