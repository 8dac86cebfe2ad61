/* generate.c - the generation loop, the decoding of its rows, the primer's choice (generate.h). */
#include "gen/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/nade.h"
#include "model/softmax.h"
#include "model/stream.h"

/* Binary models: the row to feed back, drawn from the head's outputs y: each feature on its
 * own from its logit (linear head), or jointly, feature by feature (NADE head). prev is the row
 * fed back before (for onset consistency), NULL at the first generated step. scratch: Hn. */
static void draw_row(const gb_lstm *m, const float *y, float temperature, gb_rng *rng,
                     const float *prev, float *x, float *scratch) {
    int D = m->cfg.D;
    if (m->cfg.head == GB_HEAD_NADE)
        gb_nade_sample(D, m->cfg.Hn, m->p.nade_w, m->p.nade_v, y, temperature, rng, x, scratch);
    else
        for (int d = 0; d < D; d++) {
            if (temperature <= 0) {
                x[d] = y[d] >= 0 ? 1.0f : 0.0f;
            } else {
                float p = 1.0f / (1.0f + expf(-y[d] / temperature));
                x[d] = gb_rng_float(rng) < p ? 1.0f : 0.0f;
            }
        }
    if (D == 256)
        for (int p = 0; p < 128; p++) {
            int starts = x[p] > 0 && !(prev && prev[p] > 0);
            x[128 + p] = x[p] > 0 && (starts || x[128 + p] > 0) ? 1.0f : 0.0f;
        }
}

gb_status gb_generate(const gb_lstm *m, gb_loss_kind loss, const float *primer, int T, int n,
                      float temperature, const gb_gen_meter *meter, gb_rng *rng,
                      gb_precision prec, float *out, gb_error *err) {
    int D = m->cfg.D, Din = gb_lstm_din(&m->cfg), Dout = gb_lstm_dout(&m->cfg);
    if (T < 1 || n < 0) return gb_fail(err, GB_ERR_ARG, -1, "generate: primer %d, steps %d", T, n);
    if (m->cfg.E && (!meter || m->cfg.E != GB_DS_METER_FEATURES))
        return gb_fail(err, GB_ERR_ARG, -1, "generate: the model takes %d meter inputs: it needs "
                       "the primer's meter", m->cfg.E);
    gb_lstm_stream *st;
    float *y = malloc(((size_t)T * Dout + Din + m->cfg.Hn) * sizeof *y);
    gb_status s = y ? gb_lstm_stream_new(&m->cfg, 1, T, &st, err)
                    : gb_fail(err, GB_ERR_NOMEM, -1, "generate: out of memory");
    if (s == GB_OK && prec != GB_PREC_FP32) {
        s = gb_lstm_stream_set_precision(st, m, prec, err);
        if (s != GB_OK) gb_lstm_stream_free(st);
    }
    if (s != GB_OK) {
        free(y);
        return s;
    }
    float *xin = y + (size_t)T * Dout, *scratch = xin + Din; /* the row fed back: (Din) */
    gb_lstm_stream_run(m, st, primer, T, y);
    const float *pred = y + (size_t)(T - 1) * Dout; /* the prediction of the next step */
    for (int k = 0; k < n; k++) {
        float *x = out + (size_t)k * D;
        if (loss == GB_LOSS_MSE)
            memcpy(x, pred, (size_t)D * sizeof *x);
        else
            draw_row(m, pred, temperature, rng, k ? x - D : primer + (size_t)(T - 1) * Din, x,
                     scratch);
        if (k + 1 < n) {
            memcpy(xin, x, (size_t)D * sizeof *x);
            if (m->cfg.E) /* the count goes on from the primer's: bars stay aligned */
                gb_ds_meter_row(meter->ds, meter->part, meter->step + (uint64_t)k, xin + D);
            gb_lstm_stream_run(m, st, xin, 1, y);
            pred = y;
        }
    }
    gb_lstm_stream_free(st);
    free(y);
    return GB_OK;
}

/* Counts token's melodic program into seen (128 flags) and *n, once each. */
static void count_program(unsigned token, uint8_t *seen, int *n) {
    int v;
    if (gb_events_class(token, &v) == GB_EVC_PROGRAM && v < 128 && !seen[v]) seen[v] = 1, ++*n;
}

gb_status gb_generate_tokens(const gb_lstm *m, const uint16_t *primer, int T, int max_events,
                             uint64_t max_steps, const gb_gen_sampling *smp, gb_rng *rng,
                             gb_precision prec, uint16_t *out, int *n_out, gb_error *err) {
    int V = m->cfg.V, D = m->cfg.D;
    *n_out = 0;
    if (V < 1 || m->cfg.head != GB_HEAD_SOFTMAX || m->cfg.E)
        return gb_fail(err, GB_ERR_ARG, -1, "generate: not a token model with a softmax head");
    if (T < 1 || max_events < 0)
        return gb_fail(err, GB_ERR_ARG, -1, "generate: primer %d, events %d", T, max_events);
    for (int t = 0; t < T; t++)
        if (primer[t] >= V)
            return gb_fail(err, GB_ERR_ARG, -1, "generate: primer token %d at %d is not in "
                           "0..%d", primer[t], t, V - 1);
    gb_lstm_stream *st = NULL;
    float *x = malloc((size_t)T * sizeof *x), *y = malloc((size_t)T * D * sizeof *y);
    gb_softmax_item *work = malloc((size_t)D * sizeof *work);
    gb_status s = x && y && work ? gb_lstm_stream_new(&m->cfg, 1, T, &st, err)
                                 : gb_fail(err, GB_ERR_NOMEM, -1, "generate: out of memory");
    if (s == GB_OK && prec != GB_PREC_FP32) s = gb_lstm_stream_set_precision(st, m, prec, err);
    if (s == GB_OK) {
        /* an ensemble's melodic programs, primer and drawn: MIDI has channels for 15 */
        uint8_t seen[128] = {0};
        int n_seen = 0;
        for (int t = 0; t < T; t++) {
            x[t] = (float)primer[t];
            count_program(primer[t], seen, &n_seen);
        }
        gb_lstm_stream_run(m, st, x, T, y);
        float *logits = y + (size_t)(T - 1) * D;
        uint64_t steps = 0;
        int n = 0;
        while (n < max_events) {
            if (n_seen >= GB_GEN_MAX_PROGRAMS && D > GB_EV_PROGRAM) /* no 16th instrument */
                for (int p = 0; p < 128 && GB_EV_PROGRAM + p < D; p++)
                    if (!seen[p]) logits[GB_EV_PROGRAM + p] = -INFINITY;
            int k = gb_softmax_sample(D, logits, smp->temperature, smp->top_k, smp->top_p, rng,
                                      work);
            if (k < 0) {
                s = gb_fail(err, GB_ERR_FORMAT, -1, "generate: the model's outputs are NaN at "
                            "event %d", n);
                break;
            }
            int shift;
            if (max_steps && gb_events_class((unsigned)k, &shift) == GB_EVC_TIME_SHIFT) {
                if (steps + (uint64_t)shift >= max_steps) { /* the last: cut to end there */
                    out[n++] = (uint16_t)(GB_EV_TIME_SHIFT + (max_steps - steps) - 1);
                    break;
                }
                steps += (uint64_t)shift;
            }
            count_program((unsigned)k, seen, &n_seen);
            out[n++] = (uint16_t)k;
            if (n == max_events) break;
            x[0] = (float)k;
            gb_lstm_stream_run(m, st, x, 1, y);
            logits = y;
        }
        *n_out = n;
    }
    gb_lstm_stream_free(st);
    free(x), free(y), free(work);
    return s;
}

gb_status gb_gen_decode(const float *rows, int n, int D, int binary, float threshold,
                        int velocity, const gb_key *key, uint64_t step_ticks, gb_part *out,
                        gb_error *err) {
    memset(out, 0, sizeof *out);
    gb_roll r = {calloc((size_t)n * 128 + 1, 1), (size_t)n};
    uint8_t *on = D == 256 ? calloc((size_t)n * 128 + 1, 1) : NULL;
    if (!r.v || (D == 256 && !on)) {
        free(r.v), free(on);
        return gb_fail(err, GB_ERR_NOMEM, -1, "decode: out of memory for %d steps", n);
    }
    for (int k = 0; k < n; k++) {
        const float *x = rows + (size_t)k * D;
        for (int p = 0; p < 128; p++) {
            if (x[p] < (binary ? 0.5f : threshold)) continue;
            int v = binary ? velocity : (int)lrintf(127 * x[p]);
            v = v < 1 ? 1 : v > 127 ? 127 : v;
            int q = key ? gb_key_fix(*key, p) : p;
            uint8_t *cell = &r.v[(size_t)k * 128 + q];
            if (v > *cell) *cell = (uint8_t)v;
            if (on && x[128 + p] >= 0.5f) on[(size_t)k * 128 + q] = 1;
        }
    }
    gb_status s = gb_roll_decode_onsets(&r, on, 1, step_ticks, out, err);
    free(r.v), free(on);
    return s;
}

static int window_sounds(const gb_dataset *ds, size_t part, size_t start, int T) {
    const gb_ds_part *p = &ds->parts[part];
    if (p->tokens) {
        for (size_t i = start; i < start + (size_t)T; i++)
            if (p->tokens[i] < GB_EV_NOTE_OFF) return 1;
        return 0;
    }
    /* runs overlapping [start, start + T) with a cell */
    for (uint32_t i = 0; i < p->n_runs; i++) {
        uint64_t a = p->run_start[i], b = i + 1 < p->n_runs ? p->run_start[i + 1] : p->steps;
        if (b > start && a < start + (uint64_t)T && p->run_cell[i + 1] > p->run_cell[i]) return 1;
    }
    return 0;
}

gb_status gb_gen_pick_primer(const gb_dataset *ds, int T, gb_rng *rng, size_t *part,
                             size_t *start, gb_error *err) {
    uint64_t total = 0; /* windows of T steps at every step: steps - T + 1 per part */
    for (size_t i = 0; i < ds->n_parts; i++)
        if (ds->parts[i].steps >= (uint32_t)T) total += ds->parts[i].steps - (uint32_t)T + 1;
    if (!total)
        return gb_fail(err, GB_ERR_ARG, -1, "no part has the %d steps a primer needs", T);
    for (int tries = 0;; tries++) {
        uint64_t w = gb_rng_below(rng, total);
        size_t i = 0;
        for (;; i++) {
            uint64_t k = ds->parts[i].steps >= (uint32_t)T ? ds->parts[i].steps - (uint32_t)T + 1 : 0;
            if (w < k) break;
            w -= k;
        }
        *part = i, *start = (size_t)w;
        /* a silent window (a rest at the start of a piece) primes nothing; draw again, but
         * not forever: a corpus of rests still gives a primer */
        if (tries == 63 || window_sounds(ds, i, (size_t)w, T)) return GB_OK;
    }
}
