/* train.c - a program on libgroovybee's public API: a model trained on a folder of MIDI files,
 * with a line per epoch, as `groovybee train FOLDER -o MODEL --KEY VALUE...` trains it.
 *   cc train.c $(pkg-config --cflags --libs groovybee) -o train
 *   ./train FOLDER MODEL.safetensors [KEY=VALUE | FLAG]...     e.g. epochs=4 hidden=128
 * The keys are `groovybee train`'s options without their dashes (`groovybee train --help`). */
#include <groovybee.h>
#include <stdio.h>
#include <string.h>

static void on_progress(void *ctx, const gb_train_progress *p) {
    (void)ctx;
    if (p->end) /* once an epoch; p->done / p->total after every batch */
        printf("epoch %d/%d: train %.5f, valid %.5f, %.0f windows/s%s\n", p->epoch, p->epochs,
               p->train_loss, p->valid_loss, p->windows_per_s, p->improved ? " (saved)" : "");
}

static void on_message(void *ctx, const char *text) { /* the configuration, the corpus */
    (void)ctx;
    fputs(text, stderr);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: train FOLDER MODEL.safetensors [KEY=VALUE | FLAG]...\n");
        return 2;
    }
    gb_error e;
    gb_train_config *c;
    if (gb_train_config_new(&c, &e) != GB_OK) return fprintf(stderr, "train: %s\n", e.msg), 1;
    for (int i = 3; i < argc; i++) { /* "hidden=64" -> ("hidden", "64"); "onsets" -> a flag */
        char key[64];
        const char *eq = strchr(argv[i], '=');
        snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - argv[i]) : (int)strlen(argv[i]),
                 argv[i]);
        if (gb_train_config_set(c, key, eq ? eq + 1 : NULL, &e) != GB_OK) {
            fprintf(stderr, "train: %s\n", e.msg);
            gb_train_config_free(c);
            return 2;
        }
    }
    gb_train_hooks h = {.progress = on_progress, .message = on_message};
    gb_train_result r;
    const char *corpus[1] = {argv[1]};
    gb_status s = gb_train_corpus(c, corpus, 1, argv[2], &h, &r, &e);
    gb_train_config_free(c);
    if (s != GB_OK) {
        fprintf(stderr, "train: %s\n", e.msg);
        return 1;
    }
    if (r.stop == GB_STOP_NONFINITE) {
        fprintf(stderr, "train: the loss became NaN in epoch %d\n", r.bad_epoch);
        return 1;
    }
    if (r.rank == 0) /* under mpirun every rank returns here; rank 0 wrote the files */
        printf("%s: epoch %d of %d, loss %.5f\n", argv[2], r.best_epoch, r.epochs_done,
               r.best_loss);
    return 0;
}
