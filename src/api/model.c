/* model.c - the public model: a checkpoint loaded whole, and the products' precision. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

gb_precision gb_precision_auto(void) { return gb_bf16_faster() ? GB_PREC_BF16 : GB_PREC_FP32; }

gb_precision gb_precision_supported(gb_precision p) {
    return p == GB_PREC_BF16 && !gb_bf16_native() ? GB_PREC_FP32 : p;
}

gb_status gb_model_load(const char *path, gb_model **out, gb_error *err) {
    *out = NULL;
    gb_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    }
    gb_status s = gb_ckpt_load(path, &m->net, &m->info, err);
    if (s != GB_OK) {
        free(m->path);
        free(m);
        return s;
    }
    *out = m;
    return GB_OK;
}

void gb_model_free(gb_model *m) {
    if (!m) return;
    gb_lstm_free(&m->net);
    gb_model_info_free(&m->info);
    free(m->path);
    free(m);
}

void gb_model_summarize(const gb_model *m, gb_model_summary *out) {
    const gb_model_info *in = &m->info;
    static const char *const REPR[] = {"roll", "events", "ensemble"};
    *out = (gb_model_summary){.path = m->path, .preset = in->preset,
                              .representation = REPR[in->enc.events],
                              .features = in->net.D, .hidden = in->net.H, .layers = in->net.L,
                              .params = m->net.n_params, .window = in->seq,
                              .epochs = in->epochs, .train_loss = in->train_loss,
                              .valid_loss = in->best_valid_loss};
}
