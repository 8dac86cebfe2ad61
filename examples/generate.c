/* generate.c - a program on libgroovybee's public API: new music from a trained model, as
 * `groovybee generate MODEL -o OUT.mid --seconds 20 --seed SEED` makes it.
 *   cc generate.c $(pkg-config --cflags --libs groovybee) -o generate
 *   ./generate MODEL.safetensors OUT.mid [SEED]
 * The model primes itself with a window of the corpus it was trained on (the paths in its
 * metadata), or of the primers/ folder beside it. */
#include <groovybee.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: generate MODEL.safetensors OUT.mid [SEED]\n");
        return 2;
    }
    gb_error e;
    gb_model *m;
    if (gb_model_load(argv[1], &m, &e) != GB_OK) { /* e.msg names the file and the fault */
        fprintf(stderr, "generate: %s\n", e.msg);
        return 1;
    }
    gb_model_summary ms;
    gb_model_summarize(m, &ms);
    printf("%s: preset %s, %s, LSTM %d x %d, %zu parameters, %d epochs\n", ms.path, ms.preset,
           ms.representation, ms.layers, ms.hidden, ms.params, ms.epochs);

    gb_generate_opts o;
    gb_generate_opts_default(&o);
    o.seed = argc == 4 ? strtoull(argv[3], NULL, 10) : 1;
    o.seconds = 20;
    o.precision = gb_precision_auto(); /* as the CLI's --precision auto */
    const gb_model *models[1] = {m};
    gb_song song; /* ours: released by gb_song_free */
    gb_generate_report rep;
    int rc = 1;
    if (gb_generate_song(models, 1, &o, &song, &rep, &e) != GB_OK) {
        fprintf(stderr, "generate: %s\n", e.msg);
    } else if (gb_song_save(&song, argv[2], &e) != GB_OK) { /* atomic: all or nothing */
        fprintf(stderr, "generate: %s: %s\n", argv[2], e.msg);
    } else {
        printf("%s: %.1f s at %.0f bpm\n", argv[2], rep.seconds, rep.bpm);
        for (size_t i = 0; i < song.n_parts; i++)
            printf("  part %zu: %s, %zu notes, primed with %s at %llu\n", i + 1,
                   gb_gm_name(song.parts[i].program, song.parts[i].is_drum),
                   song.parts[i].n_notes, rep.parts[i].primer,
                   (unsigned long long)rep.parts[i].primer_at);
        rc = 0;
    }
    gb_song_free(&song); /* zeroed on failure: nothing to free, and free to call */
    gb_model_free(m);
    return rc;
}
