/* test_api_gen.c - gb_generate_song on the public API alone, with the shipped model (primed
 * from data/classical, the corpus its metadata names): a seed gives the same song every time,
 * other seeds other songs; threads sharing one model get, each, the song that the same seed
 * gives alone (the header's promise that a model is only read); bad arguments are named and
 * leave the song zeroed. */
#include <groovybee.h>
#include <pthread.h>
#include <stdlib.h>

#include "test.h"

#define MODEL "models/default.safetensors"
#define N 4 /* songs, and threads */

typedef struct {
    const gb_model *m;
    gb_precision prec;
    uint64_t seed;
    gb_buf midi; /* the song as a MIDI file */
    gb_status s;
} job;

static void *make(void *arg) {
    job *j = arg;
    gb_generate_opts o;
    gb_generate_opts_default(&o);
    o.seed = j->seed, o.seconds = 4, o.precision = j->prec;
    gb_song song;
    gb_error e;
    j->s = gb_generate_song(&j->m, 1, &o, &song, NULL, &e);
    if (j->s == GB_OK) j->s = gb_song_write(&song, &j->midi, &e);
    gb_song_free(&song);
    return NULL;
}

static int same(const gb_buf *a, const gb_buf *b) {
    return a->len == b->len && a->len && memcmp(a->data, b->data, a->len) == 0;
}

static void threads_share_a_model(gb_precision prec) {
    gb_model *m;
    gb_error e;
    CHECK_INT(gb_model_load(MODEL, &m, &e), GB_OK);
    if (!m) return;
    job alone[N], again[N], together[N];
    for (int i = 0; i < N; i++) {
        alone[i] = again[i] = together[i] = (job){.m = m, .prec = prec, .seed = 100 + i};
        make(&alone[i]);
        make(&again[i]);
        CHECK_INT(alone[i].s, GB_OK);
        CHECK(same(&alone[i].midi, &again[i].midi)); /* a seed, a song */
        if (i) CHECK(!same(&alone[i].midi, &alone[0].midi));
    }
    pthread_t t[N];
    for (int i = 0; i < N; i++) CHECK_INT(pthread_create(&t[i], NULL, make, &together[i]), 0);
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        CHECK_INT(together[i].s, GB_OK);
        CHECK(same(&together[i].midi, &alone[i].midi));
    }
    for (int i = 0; i < N; i++)
        gb_buf_free(&alone[i].midi), gb_buf_free(&again[i].midi), gb_buf_free(&together[i].midi);
    gb_model_free(m);
}

static void test_threads_fp32(void) { threads_share_a_model(GB_PREC_FP32); }
static void test_threads_auto(void) { threads_share_a_model(gb_precision_auto()); }

static void test_errors(void) {
    gb_model *m;
    gb_error e;
    CHECK_INT(gb_model_load(MODEL, &m, &e), GB_OK);
    if (!m) return;
    gb_generate_opts o;
    gb_generate_opts_default(&o);
    gb_song song;
    const gb_model *one[1] = {m};
    CHECK_INT(gb_generate_song(one, 0, &o, &song, NULL, &e), GB_ERR_ARG);
    CHECK(song.n_parts == 0 && song.parts == NULL);
    o.primer = "tests/no-such-primer.mid";
    CHECK(gb_generate_song(one, 1, &o, &song, NULL, &e) != GB_OK);
    CHECK_STR_HAS(e.msg, "tests/no-such-primer.mid");
    CHECK(song.n_parts == 0 && song.parts == NULL);
    o.primer = NULL, o.n_programs = 2;
    CHECK_INT(gb_generate_song(one, 1, &o, &song, NULL, &e), GB_ERR_ARG);
    CHECK_STR_HAS(e.msg, "2 programs for 1 model");
    gb_song_free(&song); /* zeroed: free to call */
    gb_model_free(m);
    gb_model_free(NULL);
    CHECK(gb_model_load("README.md", &m, &e) != GB_OK);
    CHECK(m == NULL);
    CHECK_STR_HAS(e.msg, "README.md");
}

int main(void) {
    RUN(test_threads_fp32);
    RUN(test_threads_auto);
    RUN(test_errors);
    TEST_END();
}
