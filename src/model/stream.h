/* stream.h - running a trained gb_lstm over a sequence of any length in evaluation mode, with
 * hidden and cell states carried from one call to the next (gb_lstm_forward restarts them at
 * zero for each window). Used by `groovybee eval` to run a part whole in chunks of bounded
 * memory, and by generation, which feeds one step at a time.
 *
 * Same arithmetic as the fast path of gb_lstm_forward (one sgemm for a chunk's input
 * projections, one per step for the recurrence, the fused pointwise cell, one sgemm for the
 * head): run over a window from reset states, it gives gb_lstm_forward's outputs in evaluation
 * mode. Shapes use lstm.h's legend.
 *
 * Precision (gb_lstm_stream_set_precision, gemm.h): fp32 unless set (the chunk path's products
 * by gemm.h's fp32 library, as gb_lstm_forward's; the one-step path's by dot4). In bf16 the weight
 * matrices are read from a bf16 copy of the model's parameters (biases, states and the cell's
 * arithmetic stay fp32): the chunk path's products run as gb_gemm's bf16 products (activations
 * rounded to bf16 too, sums in fp32); the one-step path (T = B = 1) widens each bf16 weight to
 * fp32 and multiplies it by the fp32 input, summing in fp32 (half the bytes of fp32 weights to
 * stream, which is what bounds its speed). */
#ifndef GB_MODEL_STREAM_H
#define GB_MODEL_STREAM_H

#include "model/lstm.h"

typedef struct gb_lstm_stream gb_lstm_stream;

/* States for B sequences, and scratch for chunks of up to T_max steps. States start at zero. */
gb_status gb_lstm_stream_new(const gb_lstm_config *c, int B, int T_max, gb_lstm_stream **out,
                             gb_error *err);
void gb_lstm_stream_free(gb_lstm_stream *s);
/* Back to zero states: the start of new sequences. */
void gb_lstm_stream_reset(gb_lstm_stream *s);
/* x (T, B, Din) -> y (T, B, Dout) (the head's outputs, lstm.h's legend; with token input each
 * row of x is [token id, extras] and layer 0 gathers the token's column of W_ih), T <= T_max,
 * continuing from the carried states and leaving them after the chunk's last step. A T or a
 * model outside what s was made for fills y with NaN. */
void gb_lstm_stream_run(const gb_lstm *m, gb_lstm_stream *s, const float *x, int T, float *y);
/* The precision of the runs from now on, for model m (the one later runs are given). bf16
 * rounds m's parameter block to bf16 here, once: call it again whenever m's weights change (a
 * run in bf16 with another model than m fills y with NaN, as for a model of other shapes).
 * fp32 drops the copy. GB_ERR_ARG when m has other shapes than s was made for; otherwise fails
 * only for memory, s unchanged. */
gb_status gb_lstm_stream_set_precision(gb_lstm_stream *s, const gb_lstm *m, gb_precision p,
                                       gb_error *err);
gb_precision gb_lstm_stream_precision(const gb_lstm_stream *s);
/* Layer l's carried hidden state h (B, H), for inspection. */
const float *gb_lstm_stream_h(const gb_lstm_stream *s, int l);

#endif
