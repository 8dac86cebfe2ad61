/* gen_steps.c - generation speed: steps/s of the report's model (D 128, H 512, L 2) fed its own
 * predictions one step at a time with batch 1, as `groovybee generate` runs a velocity (MSE)
 * model, through the library's stream (src/model/stream.h); or (-c events) events/s of the
 * events preset's token model (V 388 tokens in, H 512, L 1, a softmax over the 388 out), each
 * event drawn from the softmax at temperature 1 and fed back: one call of gb_generate_tokens
 * (src/gen/generate.h) for STEPS events after a primer of 12, timed whole (its stream's setup
 * and the primer are a few ms of it). Weights are PyTorch-style random: the speed does not
 * depend on them.
 *
 *     build/bench_gen_steps [-c paper|events] [-n STEPS] [-H 512] [-L 2] [-p fp32|bf16]
 *
 * -p: the stream's precision (gb_lstm_stream_set_precision): bf16 reads a bf16 copy of the
 * weights. Prints one key=value line: config, prec, steps_s (events), us_step, and gb_s, the
 * weight bytes streamed per second (every step reads every parameter once, but for the token
 * model's W_ih of layer 0, of which it gathers one column: 4 bytes each in fp32, 2 in bf16;
 * mb_step says how many). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen/generate.h"
#include "model/stream.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    int n = 4000, H = 512, L = 2, D = 128, T = 12, events = 0;
    gb_precision prec = GB_PREC_FP32;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-c") && !strcmp(argv[i + 1], "paper")) events = 0;
        else if (!strcmp(argv[i], "-c") && !strcmp(argv[i + 1], "events")) events = 1;
        else if (!strcmp(argv[i], "-H")) H = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-L")) L = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-p") && !strcmp(argv[i + 1], "fp32")) prec = GB_PREC_FP32;
        else if (!strcmp(argv[i], "-p") && !strcmp(argv[i + 1], "bf16")) prec = GB_PREC_BF16;
        else
            return fprintf(stderr, "usage: %s [-c paper|events] [-n STEPS] [-H 512] [-L 2] "
                           "[-p fp32|bf16]\n", argv[0]), 2;
    }
    gb_lstm_config c = {.D = D, .H = H, .L = L, .dropout = 0.2f};
    if (events) /* --preset events (cmd_train.c): one layer */
        c = (gb_lstm_config){.D = 388, .V = 388, .H = H, .L = 1, .dropout = 0.2f,
                             .head = GB_HEAD_SOFTMAX};
    gb_rng r;
    gb_rng_seed(&r, 1);
    gb_lstm m;
    gb_lstm_stream *s;
    gb_error e;
    if (gb_lstm_init(&m, &c, &r, &e) != GB_OK || gb_lstm_stream_new(&c, 1, T, &s, &e) != GB_OK ||
        gb_lstm_stream_set_precision(s, &m, prec, &e) != GB_OK)
        return fprintf(stderr, "gen_steps: %s\n", e.msg), 1;
    if (prec == GB_PREC_BF16 && !gb_bf16_native())
        fprintf(stderr, "gen_steps: note: no bf16 instructions here (%s): the one-step path "
                "needs none, but oneDNN emulates the primer's bf16 products\n", gb_kernels_line());
    D = c.D;
    float *x = malloc((size_t)T * D * sizeof *x), *y = malloc((size_t)T * D * sizeof *y);
    uint16_t *tok = malloc(((size_t)T + (n > 50 ? n : 50)) * sizeof *tok); /* primer, drawn */
    double t0, dt;
    if (events) {
        gb_gen_sampling smp = {.temperature = 1.0f};
        int got;
        for (int i = 0; i < T; i++) tok[i] = (uint16_t)gb_rng_below(&r, (uint64_t)c.V);
        /* warm up, then the timed call: primer, n draws, n - 1 steps fed back */
        if (gb_generate_tokens(&m, tok, T, 50, 0, &smp, &r, prec, tok + T, &got, &e) != GB_OK)
            return fprintf(stderr, "gen_steps: %s\n", e.msg), 1;
        t0 = now();
        if (gb_generate_tokens(&m, tok, T, n, 0, &smp, &r, prec, tok + T, &got, &e) != GB_OK)
            return fprintf(stderr, "gen_steps: %s\n", e.msg), 1;
        dt = now() - t0;
        x[0] = tok[T + got - 1];
    } else {
        for (int i = 0; i < T * D; i++) x[i] = gb_rng_float(&r) < 0.05f ? 0.6f : 0.0f;
        gb_lstm_stream_run(&m, s, x, T, y); /* the primer */
        memcpy(x, y + (size_t)(T - 1) * D, (size_t)D * sizeof *x);
        for (int k = 0; k < 50; k++) gb_lstm_stream_run(&m, s, x, 1, x); /* warm up */
        t0 = now();
        for (int k = 0; k < n; k++) gb_lstm_stream_run(&m, s, x, 1, x); /* y is the next x */
        dt = now() - t0;
    }
    /* the parameters a step reads: all but the token model's W_ih columns it does not gather */
    double read = (double)m.n_params - (events ? (double)(c.V - 1) * 4 * H : 0);
    double bytes = (prec == GB_PREC_BF16 ? 2.0 : 4.0) * read;
    printf("config=%s prec=%s steps_s=%.1f us_step=%.2f gb_s=%.2f mb_step=%.2f check=%g\n",
           events ? "events" : "paper", prec == GB_PREC_BF16 ? "bf16" : "fp32", n / dt,
           1e6 * dt / n, bytes * n / dt / 1e9, bytes / 1e6, (double)x[0]);
    gb_lstm_stream_free(s);
    gb_lstm_free(&m);
    free(x), free(y), free(tok);
    return 0;
}
