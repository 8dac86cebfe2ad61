/* test_api_eval.c - the public evaluation and comparison (include/groovybee.h, src/api/eval.c,
 * src/api/compare.c). Evaluation: models with random weights (a BCE roll model and an event
 * model) over JSB chorales, each part's mean NLL against one worked out here step by step (the
 * stream fed one step at a time, the NLL from the head's outputs in double), the totals against
 * the rows, the keys, the classes, and the errors. Comparison: a set against itself (KL 0, OA 1,
 * every piece a copy), chorales against random notes (the chorales closer), the counts, and the
 * errors. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdlib.h>

#include "groovybee.h"
#include "io/checkpoint.h"
#include "model/stream.h"
#include "test.h"
#include "tmpdir.h"

#define J "data/jsb/"

/* A model with random weights saved to tmpdir/name: roll BCE (linear head) or events (CE). */
static const char *make_model(const char *name, int events, uint64_t seed) {
    gb_model_info in;
    gb_model_info_default(&in);
    in.net.H = 16;
    if (events) {
        in.enc.events = GB_DS_EVENTS;
        in.net.D = in.net.V = GB_EV_VOCAB;
        in.net.head = GB_HEAD_SOFTMAX;
        in.loss = GB_LOSS_CE;
    }
    gb_lstm m;
    gb_rng r;
    gb_rng_seed(&r, seed);
    gb_error e;
    const char *path = tmp_path(name);
    CHECK_INT(gb_lstm_init(&m, &in.net, &r, &e), GB_OK);
    CHECK_INT(gb_ckpt_save(path, &m, NULL, &in, &e), GB_OK);
    gb_lstm_free(&m);
    gb_model_info_free(&in);
    return path;
}

static double softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }

/* Part 0 of path as the model's file encodes it, run one step at a time: the sum over its
 * predicted steps of the NLL over features lo..hi (BCE) or of the next token (events), and the
 * steps. class_n counts the predicted tokens per class (events). */
static double nll_by_hand(const char *model, const char *path, int lo, int hi, double *steps,
                          double class_n[GB_EVC_COUNT]) {
    gb_lstm m;
    gb_model_info in;
    gb_dataset ds;
    gb_lstm_stream *st;
    gb_error e;
    double sum = 0;
    *steps = 0;
    if (gb_ckpt_load(model, &m, &in, &e) != GB_OK) return NAN;
    CHECK_INT(gb_ds_init(&ds, &in.enc, &e), GB_OK);
    CHECK_INT(gb_ds_add_paths(&ds, &path, 1, 0, NULL, NULL, &e), GB_OK);
    CHECK_INT(gb_lstm_stream_new(&in.net, 1, 1, &st, &e), GB_OK);
    int D = in.net.D, Din = gb_lstm_din(&in.net), ev = in.enc.events != GB_DS_ROLL;
    float *prev = calloc((size_t)Din, sizeof *prev), *cur = calloc((size_t)Din, sizeof *cur);
    float *y = calloc((size_t)gb_lstm_dout(&in.net), sizeof *y);
    size_t S = ds.parts[0].steps;
    for (size_t k = ev ? 1 : 0; k < S; k++) { /* predict step k from those before it */
        gb_ds_cut(&ds, 0, k, 1, 1, 0, cur);
        if (ev) gb_ds_cut(&ds, 0, k - 1, 1, 1, 0, prev);
        gb_lstm_stream_run(&m, st, prev, 1, y);
        if (ev) {
            double mx = y[0], z = 0;
            for (int d = 1; d < D; d++) mx = y[d] > mx ? y[d] : mx;
            for (int d = 0; d < D; d++) z += exp(y[d] - mx);
            sum += mx + log(z) - y[(int)cur[0]];
            class_n[gb_events_class((unsigned)cur[0], NULL)]++;
        } else {
            for (int d = lo; d <= hi; d++) sum += cur[d] > 0.5f ? softplus(-y[d]) : softplus(y[d]);
            memcpy(prev, cur, (size_t)Din * sizeof *cur);
        }
        (*steps)++;
    }
    free(prev), free(cur), free(y);
    gb_lstm_stream_free(st);
    gb_ds_free(&ds);
    gb_lstm_free(&m);
    gb_model_info_free(&in);
    return sum;
}

/* The totals are the rows' step-weighted means; a file's rows are consecutive. */
static void check_totals(const gb_eval_result *r) {
    double steps = 0, loss = 0, nll = 0;
    for (size_t i = 0; i < r->n_parts; i++) {
        const gb_eval_part *p = &r->parts[i];
        CHECK(p->file < r->n_files);
        if (i) CHECK(p->file == r->parts[i - 1].file || p->file == r->parts[i - 1].file + 1);
        steps += (double)p->steps, loss += p->loss * (double)p->steps;
        nll += p->nll * (double)p->steps;
    }
    CHECK_INT(r->steps, (uint64_t)steps);
    CHECK_NEAR(r->loss, loss / steps, 1e-9 * fabs(r->loss));
    CHECK_NEAR(r->nll, nll / steps, 1e-9 * fabs(r->nll));
}

static void test_eval_roll(void) {
    const char *model = make_model("bce.safetensors", 0, 7);
    gb_model *m;
    gb_error e;
    CHECK_INT(gb_model_load(model, &m, &e), GB_OK);
    const char *paths[] = {J "jsb_valid_000.mid", J "jsb_valid_001.mid"};
    gb_eval_opts o;
    gb_eval_opts_default(&o);
    gb_eval_result r, k60;
    CHECK_INT(gb_model_eval(m, paths, 2, &o, &r, &e), GB_OK);
    CHECK(!strcmp(r.loss_kind, "bce") && !strcmp(r.head, "linear"));
    CHECK(r.has_nll && !r.events && isnan(r.perplexity));
    CHECK_INT(r.n_files, 2);
    CHECK(!strcmp(r.files[0], paths[0]) && !strcmp(r.files[1], paths[1]));
    CHECK_INT(r.files_seen, 2);
    CHECK_INT(r.files_skipped, 0);
    CHECK(r.n_parts >= 2 && r.parts[r.n_parts - 1].file == 1);
    check_totals(&r);
    /* part 0 against the sum worked out here: every pitch, and the loss its mean */
    double steps, cls[GB_EVC_COUNT] = {0};
    double want = nll_by_hand(model, paths[0], 0, 127, &steps, cls);
    CHECK_INT(r.parts[0].steps, (uint64_t)steps);
    CHECK_NEAR(r.parts[0].nll, want / steps, 1e-5 * want / steps);
    CHECK_NEAR(r.parts[0].loss, want / steps / 128, 1e-5 * want / steps / 128);
    CHECK(want / steps > 80 && want / steps < 100); /* about 128 log 2: random weights */
    /* one key: its NLL alone, the loss still over every feature */
    o.keys_lo = o.keys_hi = 60;
    CHECK_INT(gb_model_eval(m, paths, 2, &o, &k60, &e), GB_OK);
    want = nll_by_hand(model, paths[0], 60, 60, &steps, cls);
    CHECK_NEAR(k60.parts[0].nll, want / steps, 1e-5 * want / steps);
    CHECK_NEAR(k60.loss, r.loss, 1e-12 * r.loss);
    CHECK(k60.nll < r.nll / 50);
    check_totals(&k60);
    gb_eval_result_free(&k60);
    gb_eval_result_free(&r);
    gb_model_free(m);
}

static void test_eval_events(void) {
    const char *model = make_model("ev.safetensors", 1, 8);
    gb_model *m;
    gb_error e;
    CHECK_INT(gb_model_load(model, &m, &e), GB_OK);
    const char *paths[] = {J "jsb_valid_002.mid"};
    gb_eval_result r;
    CHECK_INT(gb_model_eval(m, paths, 1, NULL, &r, &e), GB_OK);
    CHECK(!strcmp(r.loss_kind, "ce") && !strcmp(r.head, "softmax") && r.events && r.has_nll);
    check_totals(&r);
    CHECK_NEAR(r.perplexity, exp(r.nll), 1e-12 * r.perplexity);
    /* the part's stream is its notes' events: one more token than events predicted */
    gb_song s;
    gb_tokens t = {0};
    CHECK_INT(gb_song_read(paths[0], &s, &e), GB_OK);
    CHECK_INT(gb_events_encode(&s, &s.parts[r.parts[0].part], 1, NULL, &t, &e), GB_OK);
    CHECK_INT(r.parts[0].steps + 1, t.n);
    gb_tokens_free(&t);
    gb_song_free(&s);
    double steps, cls[GB_EVC_COUNT] = {0};
    double want = nll_by_hand(model, paths[0], 0, 0, &steps, cls);
    CHECK_NEAR(r.parts[0].nll, want / steps, 1e-5 * want / steps);
    CHECK_NEAR(r.parts[0].loss, r.parts[0].nll, 0);
    /* the classes: every event in one, their NLLs adding up to the whole */
    double n = 0, share = 0, nll = 0;
    for (int k = 0; k < GB_EVC_COUNT; k++) {
        n += (double)r.class_events[k], share += r.class_share[k];
        if (r.class_events[k]) nll += r.class_nll[k] * (double)r.class_events[k];
    }
    CHECK_INT((uint64_t)n, r.steps);
    CHECK_NEAR(share, 1, 1e-12);
    CHECK_NEAR(nll / n, r.nll, 1e-9 * r.nll);
    CHECK(r.class_events[GB_EVC_NOTE_ON] > 0 && r.class_events[GB_EVC_TIME_SHIFT] > 0);
    CHECK(r.class_events[GB_EVC_PROGRAM] == 0 && isnan(r.class_nll[GB_EVC_PROGRAM]));
    if (r.n_parts == 1) /* one part: the counts are part 0's, counted here */
        for (int k = 0; k < GB_EVC_COUNT; k++) CHECK_INT(r.class_events[k], (uint64_t)cls[k]);
    gb_eval_result_free(&r);
    gb_model_free(m);
}

/* What a skip callback heard. */
typedef struct {
    int n;
    char last[256];
} heard;

static void on_skip(void *ctx, const char *path, const gb_error *e) {
    heard *h = ctx;
    h->n++;
    snprintf(h->last, sizeof h->last, "%s", path);
    CHECK(e && e->status != GB_OK);
}

static const char *broken_file(void) {
    const char *p = tmp_path("broken.mid");
    FILE *f = fopen(p, "wb");
    if (f) fputs("MThd garbage", f), fclose(f);
    return p;
}

static void test_eval_errors(void) {
    const char *model = make_model("bce2.safetensors", 0, 9);
    gb_model *m;
    gb_error e;
    CHECK_INT(gb_model_load(model, &m, &e), GB_OK);
    heard h = {0};
    gb_eval_opts o;
    gb_eval_opts_default(&o);
    o.skip = on_skip, o.ctx = &h;
    const char *paths[] = {broken_file(), J "jsb_valid_003.mid"};
    gb_eval_result r;
    CHECK_INT(gb_model_eval(m, paths, 2, &o, &r, &e), GB_OK);
    CHECK_INT(h.n, 1);
    CHECK_STR_HAS(h.last, "broken.mid");
    CHECK_INT(r.files_seen, 2);
    CHECK_INT(r.files_skipped, 1);
    CHECK_INT(r.n_files, 1);
    gb_eval_result_free(&r);
    gb_eval_result_free(&r); /* a freed result is zeroed: freeing it again is harmless */
    gb_eval_result_free(NULL);
    CHECK_INT(gb_model_eval(m, paths, 1, &o, &r, &e), GB_ERR_ARG);
    CHECK_STR_HAS(e.msg, "no parts to evaluate: 1 MIDI file found, 1 skipped");
    CHECK(r.parts == NULL && r.files == NULL && r.n_parts == 0);
    const char *missing[] = {tmp_path("nowhere")};
    CHECK_INT(gb_model_eval(m, missing, 1, &o, &r, &e), GB_ERR_IO);
    CHECK_STR_HAS(e.msg, "nowhere");
    o.keys_lo = 100, o.keys_hi = 99;
    CHECK_INT(gb_model_eval(m, paths + 1, 1, &o, &r, &e), GB_ERR_ARG);
    o.keys_lo = 0, o.keys_hi = 128;
    CHECK_INT(gb_model_eval(m, paths + 1, 1, &o, &r, &e), GB_ERR_ARG);
    gb_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */

static const char *const REF[] = {J "jsb_train_000.mid", J "jsb_train_001.mid",
                                  J "jsb_train_002.mid", J "jsb_train_003.mid",
                                  J "jsb_train_004.mid", J "jsb_train_005.mid"};
#define N_REF 6

static void test_compare_self(void) {
    gb_comparison *c;
    gb_error e;
    CHECK_INT(gb_compare_paths(REF, N_REF, REF, N_REF, NULL, &c, &e), GB_OK);
    if (!c) return;
    CHECK_INT(gb_comparison_sets(c), 1);
    CHECK_INT(gb_compare_features(), 15);
    CHECK(!strcmp(gb_compare_feature_key(0), "pitch_count"));
    CHECK(!strcmp(gb_compare_feature_name(0), "pitch count"));
    CHECK(gb_compare_feature_key(-1) == NULL && gb_compare_feature_name(15) == NULL);
    double sum = 0;
    for (int k = 0; k < gb_compare_features(); k++) {
        gb_compare_feature f;
        CHECK_INT(gb_comparison_feature(c, 0, k, &f, &e), GB_OK);
        CHECK(f.defined && f.why == NULL);
        CHECK_NEAR(f.kl, 0, 0);
        CHECK_NEAR(f.oa, 1, 1e-4);
        sum += f.oa;
    }
    gb_compare_set s, ref;
    CHECK_INT(gb_comparison_set(c, 0, &s, &e), GB_OK);
    gb_comparison_reference(c, &ref);
    CHECK(!strcmp(s.label, "generated") && !strcmp(ref.label, "reference"));
    CHECK_NEAR(s.mean_oa, sum / 15, 1e-12);
    CHECK(isnan(ref.mean_oa) && !ref.copy_searched);
    CHECK(s.files == N_REF && s.skipped == 0 && s.pieces == N_REF && ref.pieces == N_REF);
    CHECK(s.copy_searched && s.copies == N_REF);
    CHECK(s.windows > 0 && s.windows_found == s.windows && s.longest > 100);
    gb_compare_feature f;
    CHECK_INT(gb_comparison_feature(c, 1, 0, &f, &e), GB_ERR_ARG);
    CHECK(!f.defined && isnan(f.oa));
    CHECK_INT(gb_comparison_set(c, 1, &s, &e), GB_ERR_ARG);
    gb_comparison_free(c);
    gb_comparison_free(NULL);
}

/* n files of random notes: pitches uniform over 30..90, onsets and lengths on a 16th grid. */
static void random_files(const char **paths, int n) {
    static char names[4][256];
    gb_rng r;
    gb_rng_seed(&r, 11);
    for (int f = 0; f < n; f++) {
        gb_note notes[200];
        uint64_t t = 0;
        for (int i = 0; i < 200; i++) {
            uint64_t len = 120 * (1 + gb_rng_next(&r) % 8);
            notes[i] = (gb_note){t, t + len, (uint8_t)(30 + gb_rng_next(&r) % 61), 80};
            t += 120 * (gb_rng_next(&r) % 4);
        }
        for (int i = 1; i < 200; i++) /* sorted by start, then pitch */
            for (int k = i; k > 0 && notes[k].start == notes[k - 1].start &&
                            notes[k].pitch < notes[k - 1].pitch; k--) {
                gb_note x = notes[k];
                notes[k] = notes[k - 1], notes[k - 1] = x;
            }
        gb_part part = {.notes = notes, .n_notes = 200};
        gb_song s = {.division = 480, .parts = &part, .n_parts = 1};
        snprintf(names[f], sizeof names[f], "%s/random%d.mid", tmpdir, f);
        paths[f] = names[f];
        gb_error e;
        CHECK_INT(gb_song_save(&s, paths[f], &e), GB_OK);
    }
}

static void test_compare_random(void) {
    const char *rnd[5];
    random_files(rnd, 4);
    rnd[4] = broken_file();
    const char *valid[] = {J "jsb_valid_000.mid", J "jsb_valid_001.mid", J "jsb_valid_002.mid",
                           J "jsb_valid_003.mid"};
    heard h = {0};
    gb_compare_opts o;
    gb_compare_opts_default(&o);
    o.skip = on_skip, o.ctx = &h;
    gb_comparison *c;
    gb_error e;
    CHECK_INT(gb_compare_paths(rnd, 5, REF, N_REF, &o, &c, &e), GB_OK);
    if (!c) return;
    CHECK_INT(h.n, 1);
    CHECK_INT(gb_comparison_add(c, "valid", valid, 4, &e), GB_OK);
    CHECK_INT(gb_comparison_sets(c), 2);
    gb_compare_set r, v;
    CHECK_INT(gb_comparison_set(c, 0, &r, &e), GB_OK);
    CHECK_INT(gb_comparison_set(c, 1, &v, &e), GB_OK);
    CHECK(r.files == 5 && r.skipped == 1 && r.pieces == 4);
    CHECK(v.files == 4 && v.skipped == 0 && v.pieces == 4 && !strcmp(v.label, "valid"));
    CHECK(r.copies == 0 && v.copies == 0 && r.windows_found == 0);
    CHECK(v.mean_oa > r.mean_oa + 0.1);
    /* chorales are closer than random notes in range and scale */
    const int keys[] = {3, 10, 12}; /* pitch range, scale consistency, pitch-class entropy */
    for (int i = 0; i < 3; i++) {
        gb_compare_feature fr, fv;
        CHECK_INT(gb_comparison_feature(c, 0, keys[i], &fr, &e), GB_OK);
        CHECK_INT(gb_comparison_feature(c, 1, keys[i], &fv, &e), GB_OK);
        CHECK(fv.defined && fr.defined && fv.oa > fr.oa);
    }
    CHECK(!strcmp(gb_compare_feature_key(10), "scale_consistency"));
    /* a set without a readable file fails and leaves c as it was */
    CHECK_INT(gb_comparison_add(c, NULL, rnd + 4, 1, &e), GB_ERR_ARG);
    CHECK_STR_HAS(e.msg, "generated 3: no readable MIDI file (1 found, 1 skipped)");
    CHECK_INT(gb_comparison_sets(c), 2);
    gb_comparison_free(c);
    /* segments: more pieces than files; no copy search: no copy figures */
    o.segment = 8, o.copy_search = 0;
    CHECK_INT(gb_compare_paths(valid, 4, REF, N_REF, &o, &c, &e), GB_OK);
    if (!c) return;
    CHECK_INT(gb_comparison_set(c, 0, &v, &e), GB_OK);
    CHECK(v.pieces > 8 && !v.copy_searched);
    gb_comparison_free(c);
}

static void test_compare_errors(void) {
    gb_comparison *c = (gb_comparison *)1;
    gb_error e;
    gb_compare_opts o;
    gb_compare_opts_default(&o);
    o.steps_per_beat = 0;
    CHECK_INT(gb_compare_paths(REF, 1, REF, 2, &o, &c, &e), GB_ERR_ARG);
    CHECK(c == NULL);
    gb_compare_opts_default(&o);
    o.segment = 0.5;
    CHECK_INT(gb_compare_paths(REF, 1, REF, 2, &o, &c, &e), GB_ERR_ARG);
    const char *missing[] = {tmp_path("nowhere")};
    CHECK_INT(gb_compare_paths(REF, 1, missing, 1, NULL, &c, &e), GB_ERR_IO);
    CHECK_STR_HAS(e.msg, "nowhere");
    CHECK(c == NULL);
    const char *broken[] = {broken_file()};
    CHECK_INT(gb_compare_paths(REF, 1, broken, 1, NULL, &c, &e), GB_ERR_ARG);
    CHECK_STR_HAS(e.msg, "the reference: no readable MIDI file");
}

int main(void) {
    if (!tmpdir_make("api_eval")) return 1;
    RUN(test_eval_roll);
    RUN(test_eval_events);
    RUN(test_eval_errors);
    RUN(test_compare_self);
    RUN(test_compare_random);
    RUN(test_compare_errors);
    rm_tree(tmpdir);
    TEST_END();
}
