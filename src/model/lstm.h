/* lstm.h - the report's network: L stacked LSTM cells (PyTorch LSTMCell semantics) with dropout
 * between layers and a linear head, forward and backward (BPTT) over a window, the two losses,
 * and Adam. Parameters, gradients and Adam moments are flat blocks of n_params floats, so the
 * optimizer, clipping and checkpoints are single loops.
 *
 * Legend of dimension letters, used in the shape comments:
 *   T  time steps of a window      B  windows in a batch
 *   D  features per step (128 pitches, 256 with onsets)      H  hidden units
 *   L  LSTM layers (1..4)          G = 4H gate rows, PyTorch's order: i, f, g, o
 *
 * The cell, per layer l with input x_t (layer 0: the window's step; layer l > 0: the dropped-out
 * hidden state of layer l-1 at the same step):
 *   z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh            (G)
 *   i = sigmoid(z_i)  f = sigmoid(z_f)  g = tanh(z_g)  o = sigmoid(z_o)
 *   c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)
 * and the head y_t = W_fc h^{L-1}_t + b_fc (D), logits for BCE, velocities/127 for MSE.
 * States start at zero for each window. Each step runs through every layer, as in the report's
 * LSTMCell loop; since layer l at step t needs only layer l-1 at step t and itself at t-1, the
 * code may run a layer over all steps before the next (the same numbers, larger GEMMs). */
#ifndef GB_LSTM_H
#define GB_LSTM_H

#include "core/core.h"
#include "core/rng.h"

#define GB_LSTM_MAX_LAYERS 4

typedef enum { GB_LOSS_MSE = 0, GB_LOSS_BCE = 1 } gb_loss_kind;

typedef struct {
    int D, H, L;
    float dropout; /* probability of zeroing a unit between layers during training */
} gb_lstm_config;

/* Named views into one flat block of floats (parameters, or gradients, laid out alike).
 * Order in the block, per layer: w_ih, w_hh, b_ih, b_hh; then fc_w, fc_b. */
typedef struct {
    float *w_ih[GB_LSTM_MAX_LAYERS]; /* (G, D) for layer 0, (G, H) above */
    float *w_hh[GB_LSTM_MAX_LAYERS]; /* (G, H) */
    float *b_ih[GB_LSTM_MAX_LAYERS]; /* (G) */
    float *b_hh[GB_LSTM_MAX_LAYERS]; /* (G) */
    float *fc_w;                     /* (D, H) */
    float *fc_b;                     /* (D) */
} gb_lstm_views;

size_t gb_lstm_n_params(const gb_lstm_config *c);
void gb_lstm_views_of(const gb_lstm_config *c, float *block, gb_lstm_views *v);

typedef struct {
    gb_lstm_config cfg;
    size_t n_params;
    float *params, *grads, *adam_m, *adam_v; /* (n_params) each */
    gb_lstm_views p, g;
    long adam_t; /* Adam steps taken */
} gb_lstm;

/* Allocates and initialises as PyTorch does: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)]
 * (LSTMCell and, since its fan-in is H, Linear too: weight and bias alike), drawn from rng in
 * block order. Gradients and moments start at zero. */
gb_status gb_lstm_init(gb_lstm *m, const gb_lstm_config *c, gb_rng *rng, gb_error *err);
void gb_lstm_free(gb_lstm *m);

/* Activations of one batch, sized once for (T, B) and reused: no malloc in the time loop. */
typedef struct gb_lstm_acts gb_lstm_acts;
gb_status gb_lstm_acts_new(const gb_lstm_config *c, int T, int B, gb_lstm_acts **out,
                           gb_error *err);
void gb_lstm_acts_free(gb_lstm_acts *a);

typedef enum { GB_LOSS_ON_LAST = 0, GB_LOSS_ON_ALL = 1 } gb_loss_on;

/* Forward over a batch of windows x (T, B, D); y (T, B, D) receives the head's outputs.
 * Training mode (rng != NULL) draws dropout masks from rng (inverted dropout: kept units scaled
 * by 1/(1-p)); rng == NULL is evaluation, no dropout. */
void gb_lstm_forward(const gb_lstm *m, gb_lstm_acts *a, const float *x, int T, int B,
                     float *y, gb_rng *rng);

/* Loss of y against targets (T, B, D), averaged as PyTorch's mean reduction over the elements
 * it covers (the last step's B*D, or all T*B*D); writes dL/dy into dy (T, B, D), zero where no
 * loss applies. MSE: mean (y - t)^2. BCE: mean of softplus(y) - t*y (sigmoid cross-entropy on
 * logits, computed stably). */
float gb_loss(gb_loss_kind k, gb_loss_on on, const float *y, const float *target, int T, int B,
              int D, float *dy);

/* Backward through the head and all layers and steps (BPTT) of the last forward; adds the
 * gradients into m->grads (zeroing is gb_lstm_zero_grad's job). */
void gb_lstm_backward(gb_lstm *m, gb_lstm_acts *a, const float *x, const float *dy, int T,
                      int B);
void gb_lstm_zero_grad(gb_lstm *m);

/* Clips the gradients to a global L2 norm of at most max_norm (<= 0: no clipping); returns the
 * norm before clipping. */
float gb_lstm_clip(gb_lstm *m, float max_norm);

/* One Adam step with PyTorch's semantics (bias-corrected, eps added to sqrt(v_hat)). */
void gb_adam_step(gb_lstm *m, float lr, float beta1, float beta2, float eps);

/* Kernels: a naive reference, kept as the oracle, and the fast path (OpenBLAS + OpenMP).
 * gb_lstm_use_reference(1) makes forward/backward use the reference; tests compare the two. */
void gb_lstm_use_reference(int on);

#endif
