/* cmd_listen.c - the blind listening test the report wanted and could not run.
 * `listen make` builds a kit: pairs of excerpts of equal length, one generated and one from the
 * corpus, matched in instrument and loudness, rendered to WAV, in a seeded random order within
 * each pair; a page that plays them and saves a listener's answers as JSON; the key apart, its
 * SHA-256 on the page. `listen score` scores answers against the key: accuracy per listener
 * and over all, a 95% interval (Wilson) and an exact binomial test against chance. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/render.h"
#include "cli/cli.h"
#include "core/core.h"
#include "core/rng.h"

static const char *HELP =
    "usage: groovybee listen make GENERATED... --reference CORPUS... -o KIT [options]\n"
    "       groovybee listen score KEY.json ANSWERS.json... [--json]\n"
    "\n"
    "make: a blind listening test. Each of N pairs holds an excerpt of a generated piece and\n"
    "one of a corpus piece, both --seconds long (from a random place with notes), played by\n"
    "the same instrument (the generated part's) at the same mean loudness (velocity 80), each\n"
    "rendered to a WAV of exactly --seconds + 1 s; which of the two is A is drawn with --seed.\n"
    "KIT/index.html plays the pairs, asks which was played by a person, and saves the answers\n"
    "as JSON (a download: no server). The key, KIT/key.json, says which was: keep it from the\n"
    "listeners; its SHA-256, shown on the page, proves it was not changed afterwards.\n"
    "  -r, --reference PATH...  the corpus (required)\n"
    "  -o, --output KIT         the kit's folder (required)\n"
    "  --pairs N                [10]\n"
    "  --seconds S              each excerpt's length [10]\n"
    "  --seed N                 the excerpts and the order [1]\n"
    "  --soundfont FILE.sf2     [Debian's General MIDI soundfont]\n"
    "\n"
    "score: each listener's accuracy (answers naming the person's excerpt, over answers\n"
    "given), then all listeners together, each with a 95% Wilson interval and the two-sided\n"
    "exact binomial p-value against guessing (0.5); when the overall interval holds 0.5:\n"
    "\"listeners could not tell\". --json: one object with the overall accuracy and a list of\n"
    "listeners. Answers are {\"listener\": NAME, \"answers\": [{\"pair\": 1, \"human\": \"A\"}]}.\n";

/* ---- make ---- */

/* An excerpt of S seconds from t0 of a song: its non-drum notes there, clipped, in one part at
 * 120 bpm (960 ticks a second). */
static int excerpt(const gb_song *s, double t0, double S, gb_song *out, int *program) {
    memset(out, 0, sizeof *out);
    size_t n = 0, most = 0;
    for (size_t i = 0; i < s->n_parts; i++) n += s->parts[i].is_drum ? 0 : s->parts[i].n_notes;
    gb_part *p = calloc(1, sizeof *p);
    gb_tempo *t = calloc(1, sizeof *t);
    if (!p || !t || !(p->notes = malloc((n ? n : 1) * sizeof *p->notes))) {
        if (p) free(p->notes);
        free(p), free(t);
        return -1;
    }
    for (size_t i = 0; i < s->n_parts; i++) {
        const gb_part *q = &s->parts[i];
        if (q->is_drum) continue;
        if (q->n_notes > most) most = q->n_notes, *program = q->program;
        for (size_t k = 0; k < q->n_notes; k++) {
            double a = gb_song_seconds(s, q->track, q->notes[k].start);
            double b = gb_song_seconds(s, q->track, q->notes[k].end);
            if (a < t0 || a >= t0 + S) continue;
            if (b > t0 + S) b = t0 + S;
            gb_note *o = &p->notes[p->n_notes++];
            o->start = (uint64_t)llround((a - t0) * 960), o->end = (uint64_t)llround((b - t0) * 960);
            if (o->end <= o->start) o->end = o->start + 1;
            o->pitch = q->notes[k].pitch, o->velocity = q->notes[k].velocity;
        }
    }
    *t = (gb_tempo){.tick = 0, .usec_per_quarter = 500000};
    out->format = 1, out->division = 480, out->n_tracks = 2, out->end_tick = (uint64_t)(S * 960);
    out->tempos = t, out->n_tempos = 1, out->parts = p, out->n_parts = 1;
    return (int)p->n_notes;
}

static int by_start(const void *a, const void *b) {
    const gb_note *x = a, *y = b;
    return x->start != y->start ? (x->start > y->start) - (x->start < y->start)
                                : (x->pitch > y->pitch) - (x->pitch < y->pitch);
}

/* The same instrument and mean loudness for both excerpts of a pair. */
static void match(gb_song *s, int program) {
    gb_part *p = &s->parts[0];
    double sum = 0;
    for (size_t k = 0; k < p->n_notes; k++) sum += p->notes[k].velocity;
    double f = p->n_notes ? 80.0 * (double)p->n_notes / sum : 1;
    for (size_t k = 0; k < p->n_notes; k++) {
        long v = lround(p->notes[k].velocity * f);
        p->notes[k].velocity = (uint8_t)(v < 1 ? 1 : v > 127 ? 127 : v);
    }
    p->program = program;
    qsort(p->notes, p->n_notes, sizeof *p->notes, by_start);
}

/* A random excerpt of a random file of the list with at least 4 notes, into out; its file and
 * start. */
static int pick(const gb_strs *l, double S, gb_rng *rng, gb_song *out, int *program,
                const char **file, double *t0) {
    for (int attempt = 0; attempt < 64; attempt++) {
        const char *f = l->v[gb_rng_below(rng, l->n)];
        gb_song s;
        gb_error e;
        if (gb_song_read(f, &s, &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s: %s\n", f, e.msg);
            return -1;
        }
        double len = gb_song_seconds(&s, -1, s.end_tick);
        double start = len > S ? gb_rng_float(rng) * (len - S) : 0;
        int n = excerpt(&s, start, S, out, program);
        gb_song_free(&s);
        if (n < 0) return -1;
        if (n >= 4) {
            *file = f, *t0 = start;
            return 0;
        }
        gb_song_free(out);
    }
    fprintf(stderr, "groovybee: no excerpt with 4 notes or more in 64 tries\n");
    return -1;
}

static int sha256_hex(const void *data, size_t len, char hex[65]) {
    unsigned char md[32];
    unsigned n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32) return -1;
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", md[i]);
    return 0;
}

static const char *PAGE_SCRIPT =
    "<script>\n"
    "function answers() {\n"
    "  const out = {listener: document.getElementById('listener').value || 'anonymous',\n"
    "               answers: []};\n"
    "  for (let k = 1; k <= PAIRS; k++) {\n"
    "    const c = document.querySelector('input[name=p' + k + ']:checked');\n"
    "    if (c) out.answers.push({pair: k, human: c.value});\n"
    "  }\n"
    "  return JSON.stringify(out);\n"
    "}\n"
    "document.getElementById('save').onclick = () => {\n"
    "  const a = document.createElement('a');\n"
    "  a.href = URL.createObjectURL(new Blob([answers()], {type: 'application/json'}));\n"
    "  a.download = 'answers.json';\n"
    "  document.body.appendChild(a); a.click(); a.remove();\n"
    "};\n"
    "// index.html#selftest=NAME:ABBA... answers as given, then shows what Save downloads\n"
    "const m = location.hash.match(/^#selftest=([^:]*):([AB]*)$/);\n"
    "if (m) {\n"
    "  document.getElementById('listener').value = decodeURIComponent(m[1]);\n"
    "  [...m[2]].forEach((v, i) =>\n"
    "    document.querySelector('input[name=p' + (i + 1) + '][value=' + v + ']').click());\n"
    "  const pre = document.createElement('pre');\n"
    "  pre.id = 'answers'; pre.textContent = answers();\n"
    "  document.body.appendChild(pre);\n"
    "}\n"
    "</script>\n";

static int listen_make(int argc, char **argv) {
    enum { O_PAIRS = 256, O_SECONDS, O_SEED, O_SF };
    static const struct option opts[] = {
        {"reference", no_argument, 0, 'r'},       {"output", required_argument, 0, 'o'},
        {"pairs", required_argument, 0, O_PAIRS}, {"seconds", required_argument, 0, O_SECONDS},
        {"seed", required_argument, 0, O_SEED},   {"soundfont", required_argument, 0, O_SF},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    const char *C = "listen make", *kit = NULL, *sf = NULL;
    const char **gen = calloc((size_t)argc, sizeof *gen), **ref = calloc((size_t)argc, sizeof *ref);
    size_t n_gen = 0, n_ref = 0;
    long pairs = 10, seed = 1;
    double S = 10;
    int into_ref = 0, c, rc = EXIT_USAGE;
    if (!gen || !ref) {
        free(gen), free(ref);
        return EXIT_RUNTIME;
    }
    while ((c = getopt_long(argc, argv, "-ro:h", opts, NULL)) != -1) {
        switch (c) {
        case 1:
            if (into_ref) ref[n_ref++] = optarg;
            else gen[n_gen++] = optarg;
            break;
        case 'r': into_ref = 1; break;
        case 'o': kit = optarg; break;
        case O_PAIRS:
            if (!cli_int(C, "--pairs", optarg, 1, 1000, &pairs)) goto usage;
            break;
        case O_SECONDS:
            if (!cli_double(C, "--seconds", optarg, 1, 600, &S)) goto usage;
            break;
        case O_SEED:
            if (!cli_int(C, "--seed", optarg, 0, LONG_MAX, &seed)) goto usage;
            break;
        case O_SF: sf = optarg; break;
        case 'h':
            fputs(HELP, stdout);
            rc = EXIT_OK;
            goto usage;
        default: cli_usage_error(C, "bad option"); goto usage;
        }
    }
    if (!kit || !n_gen || !n_ref) {
        cli_usage_error(C, "needs GENERATED..., --reference CORPUS... and -o KIT");
        goto usage;
    }
    rc = EXIT_RUNTIME;
    gb_strs lg = {0}, lr = {0};
    gb_error e;
    char *html = NULL, *keytxt = NULL;
    size_t html_len = 0;
    json_t *key = json_object(), *kp = json_array();
    if (gb_walk_midi_list(gen, n_gen, NULL, NULL, &lg, &e) != GB_OK || gb_walk_midi_list(ref, n_ref, NULL, NULL, &lr, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        goto done;
    }
    if (!lg.n || !lr.n) {
        fprintf(stderr, "groovybee: no MIDI files among the %s paths\n",
                lg.n ? "reference" : "generated");
        goto done;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/pairs", kit);
    if ((mkdir(kit, 0777) != 0 && errno != EEXIST) ||
        (mkdir(path, 0777) != 0 && errno != EEXIST)) {
        fprintf(stderr, "groovybee: %s: cannot create: %s\n", path, strerror(errno));
        goto done;
    }
    gb_rng rng;
    gb_rng_seed(&rng, (uint64_t)seed ^ 0x4C495354454E21ull); /* "LISTEN!" */
    gb_render_opts ro;
    gb_render_opts_default(&ro);
    ro.soundfont = sf, ro.max_tail = 1, ro.length = S + 1;
    FILE *f = open_memstream(&html, &html_len);
    if (!f || !key || !kp) goto done;
    fprintf(f, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>Which was played by a person?</title>\n<style>body{font-family:system-ui,"
            "sans-serif;margin:0 auto;padding:1em;max-width:40em}audio{width:100%%}fieldset{"
            "margin:1em 0}</style></head><body>\n<h1>Which was played by a person?</h1>\n"
            "<p>Each pair holds two excerpts of %g s: one written by a person, one by a "
            "program. Listen to both, choose, then save your answers and send the file.</p>\n"
            "<p><label>Your name <input id=\"listener\"></label></p>\n", S);
    int bad = 0;
    for (long k = 1; k <= pairs && !bad; k++) {
        gb_song g, r;
        int prog = 0, ignore;
        const char *gf, *rf;
        double gt, rt;
        if (pick(&lg, S, &rng, &g, &prog, &gf, &gt) != 0) {
            bad = 1;
            break;
        }
        if (pick(&lr, S, &rng, &r, &ignore, &rf, &rt) != 0) {
            gb_song_free(&g);
            bad = 1;
            break;
        }
        match(&g, prog), match(&r, prog);
        int human_a = (gb_rng_next(&rng) >> 63) != 0;
        char wa[4200], wb[4200];
        snprintf(wa, sizeof wa, "%s/pairs/%03ld-A.wav", kit, k);
        snprintf(wb, sizeof wb, "%s/pairs/%03ld-B.wav", kit, k);
        if (gb_render_wav(human_a ? &r : &g, &ro, wa, &e) != GB_OK ||
            gb_render_wav(human_a ? &g : &r, &ro, wb, &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s\n", e.msg);
            bad = 1;
        }
        gb_song_free(&g), gb_song_free(&r);
        json_array_append_new(kp, json_pack("{s:i,s:s,s:s,s:f,s:s,s:f}", "pair", (int)k, "human",
                                            human_a ? "A" : "B", "generated", gf,
                                            "generated_start", gt, "reference", rf,
                                            "reference_start", rt));
        fprintf(f, "<fieldset><legend>Pair %ld</legend>\n", k);
        for (int side = 0; side < 2; side++)
            fprintf(f, "<p>%c <audio controls preload=\"metadata\" "
                    "src=\"pairs/%03ld-%c.wav\"></audio></p>\n", "AB"[side], k, "AB"[side]);
        for (int side = 0; side < 2; side++)
            fprintf(f, "<label><input type=\"radio\" name=\"p%ld\" value=\"%c\"> %c was played "
                    "by a person</label><br>\n", k, "AB"[side], "AB"[side]);
        fputs("</fieldset>\n", f);
    }
    json_object_set_new(key, "pairs", kp);
    kp = NULL;
    json_object_set_new(key, "seconds", json_real(S));
    json_object_set_new(key, "seed", json_integer(seed));
    char hex[65] = "";
    if (!bad && (!(keytxt = json_dumps(key, JSON_INDENT(1))) ||
                 sha256_hex(keytxt, strlen(keytxt), hex) != 0)) {
        fprintf(stderr, "groovybee: out of memory\n");
        bad = 1;
    }
    fprintf(f, "<p><button type=\"button\" id=\"save\">Save my answers</button></p>\n"
            "<p><small>The key (key.json, kept by whoever runs the test) has SHA-256 "
            "<code id=\"sha256\">%s</code>.</small></p>\n", hex);
    fputs("<script>const PAIRS = ", f);
    fprintf(f, "%ld;</script>\n%s</body></html>\n", pairs, PAGE_SCRIPT);
    if (fclose(f) != 0) bad = 1;
    f = NULL;
    if (!bad) {
        char kpath[4200], ipath[4200];
        snprintf(kpath, sizeof kpath, "%s/key.json", kit);
        snprintf(ipath, sizeof ipath, "%s/index.html", kit);
        if (gb_file_write_atomic(kpath, keytxt, strlen(keytxt), &e) != GB_OK ||
            gb_file_write_atomic(ipath, html, html_len, &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s\n", e.msg);
        } else {
            fprintf(stderr, "groovybee: a kit of %ld pair%s of %g s: %s (key %s, SHA-256 %s)\n",
                    pairs, pairs == 1 ? "" : "s", S, ipath, kpath, hex);
            rc = EXIT_OK;
        }
    }
done:
    free(html), free(keytxt);
    json_decref(key), json_decref(kp);
    gb_strs_free(&lg), gb_strs_free(&lr);
usage:
    free(gen), free(ref);
    return rc;
}

/* ---- score ---- */

/* Wilson's 95% interval for k of n. */
static void wilson(long k, long n, double *lo, double *hi) {
    double z = 1.959963984540054, p = (double)k / n, z2 = z * z;
    double c = (p + z2 / (2.0 * n)) / (1 + z2 / n);
    double h = z * sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
    *lo = c - h < 0 ? 0 : c - h, *hi = c + h > 1 ? 1 : c + h;
}

/* Two-sided exact binomial test of k of n against 0.5: the probability of a count at least as
 * far from n / 2. */
static double binom_p(long k, long n) {
    long d = labs(2 * k - n), lo = (n - d) / 2; /* counts <= lo or >= n - lo */
    double sum = 0;
    for (long i = 0; i <= n; i++) {
        if (i > lo && i < n - lo) continue;
        sum += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - n * log(2.0));
    }
    return sum > 1 ? 1 : sum;
}

typedef struct {
    char name[128];
    long right, n;
} tally;

static int listen_score(int argc, char **argv) {
    int json = 0, rc = EXIT_RUNTIME;
    const char *files[1024];
    int nf = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return fputs(HELP, stdout), EXIT_OK;
        else if (argv[i][0] == '-') return cli_usage_error("listen score", "bad option %s", argv[i]);
        else if (nf < 1024) files[nf++] = argv[i];
    }
    if (nf < 2) return cli_usage_error("listen score", "wants KEY.json and ANSWERS.json...");
    json_error_t je;
    json_t *key = json_load_file(files[0], 0, &je), *pairs;
    if (!key || !json_is_array(pairs = json_object_get(key, "pairs"))) {
        fprintf(stderr, "groovybee: %s: not a listening kit's key (%s)\n", files[0],
                key ? "no \"pairs\" list" : je.text);
        json_decref(key);
        return EXIT_RUNTIME;
    }
    size_t np = json_array_size(pairs);
    char *truth = calloc(np + 1, 1);
    tally *t = calloc((size_t)nf, sizeof *t);
    if (!truth || !t) goto out;
    for (size_t i = 0; i < np; i++) {
        json_t *p = json_array_get(pairs, i);
        json_int_t k = json_integer_value(json_object_get(p, "pair"));
        const char *h = json_string_value(json_object_get(p, "human"));
        if (k < 1 || (size_t)k > np || !h || (strcmp(h, "A") && strcmp(h, "B"))) {
            fprintf(stderr, "groovybee: %s: pair %zu: want \"pair\" 1..%zu and \"human\" A or B\n",
                    files[0], i + 1, np);
            goto out;
        }
        truth[k - 1] = h[0];
    }
    long right = 0, total = 0;
    for (int i = 1; i < nf; i++) {
        json_t *a = json_load_file(files[i], 0, &je), *list;
        const char *who = a ? json_string_value(json_object_get(a, "listener")) : NULL;
        if (!a || !who || !json_is_array(list = json_object_get(a, "answers"))) {
            fprintf(stderr, "groovybee: %s: not a listener's answers (%s)\n", files[i],
                    a ? "want \"listener\" and an \"answers\" list" : je.text);
            json_decref(a);
            goto out;
        }
        snprintf(t[i].name, sizeof t[i].name, "%s", who);
        for (size_t j = 0; j < json_array_size(list); j++) {
            json_t *x = json_array_get(list, j);
            json_int_t k = json_integer_value(json_object_get(x, "pair"));
            const char *h = json_string_value(json_object_get(x, "human"));
            if (k < 1 || (size_t)k > np || !h) {
                fprintf(stderr, "groovybee: %s: answer %zu: want \"pair\" 1..%zu and \"human\"\n",
                        files[i], j + 1, np);
                json_decref(a);
                goto out;
            }
            t[i].n++, t[i].right += h[0] == truth[k - 1] && h[1] == 0;
        }
        json_decref(a);
        right += t[i].right, total += t[i].n;
    }
    if (!total) {
        fprintf(stderr, "groovybee: no answers\n");
        goto out;
    }
    double lo, hi;
    wilson(right, total, &lo, &hi);
    int could_not = lo <= 0.5 && hi >= 0.5;
    if (json) {
        json_t *o = json_pack("{s:f,s:i,s:i,s:[f,f],s:f,s:b,s:[]}", "accuracy",
                              (double)right / total, "right", (int)right, "answers", (int)total,
                              "interval95", lo, hi, "p_value", binom_p(right, total),
                              "could_not_tell", could_not, "listeners");
        json_t *ls = json_object_get(o, "listeners");
        for (int i = 1; i < nf; i++) {
            double a = 0, b = 0;
            if (t[i].n) wilson(t[i].right, t[i].n, &a, &b);
            json_array_append_new(
                ls, json_pack("{s:s,s:f,s:i,s:i,s:[f,f],s:f}", "listener", t[i].name, "accuracy",
                              t[i].n ? (double)t[i].right / t[i].n : 0.0, "right",
                              (int)t[i].right, "answers", (int)t[i].n, "interval95", a, b,
                              "p_value", t[i].n ? binom_p(t[i].right, t[i].n) : 1.0));
        }
        char *s = json_dumps(o, JSON_INDENT(1));
        if (s) puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("%-24s %8s %9s %17s %9s\n", "listener", "answers", "accuracy", "95% interval",
               "p (0.5)");
        for (int i = 1; i < nf; i++) {
            double a = 0, b = 0;
            if (t[i].n) wilson(t[i].right, t[i].n, &a, &b);
            printf("%-24s %8ld %9.3f    [%.3f, %.3f] %9.3g\n", t[i].name, t[i].n,
                   t[i].n ? (double)t[i].right / t[i].n : 0, a, b,
                   t[i].n ? binom_p(t[i].right, t[i].n) : 1.0);
        }
        printf("%-24s %8ld %9.3f    [%.3f, %.3f] %9.3g\n", "all", total,
               (double)right / total, lo, hi, binom_p(right, total));
        printf("%s\n", could_not ? "listeners could not tell (the interval holds 0.5)"
                                 : "listeners could tell (the interval leaves out 0.5)");
    }
    rc = EXIT_OK;
out:
    free(truth), free(t);
    json_decref(key);
    return rc;
}

int cmd_listen(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "make")) return listen_make(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "score")) return listen_score(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
        return fputs(HELP, stdout), EXIT_OK;
    return cli_usage_error("listen", "wants 'make' or 'score'");
}
