/* cmd_generate.c - `groovybee generate MODEL... -o OUT.mid`: each model primes itself with a
 * random window of its training corpus (or of --primer), generates its part (src/gen), and the
 * parts are merged into one format-1 file; --wav and --png render and draw it. Every input is
 * checked before anything is written, and a failure after the MIDI file was written removes it:
 * no half-made outputs. */
#define _GNU_SOURCE
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audio/render.h"
#include "cli/cli.h"
#include "gen/generate.h"
#include "io/checkpoint.h"
#include "plot/plot.h"

static const char *HELP =
    "usage: groovybee generate [MODEL.safetensors...] -o OUT.mid [options]\n"
    "\n"
    "Without MODEL: the model groovybee ships (the roll preset trained on data/classical by\n"
    "scripts/ship-model.sh), from models/ beside the build or PREFIX/share/groovybee.\n"
    "The report's procedure: each MODEL takes a random window of the music it was trained on\n"
    "(the corpus paths in its metadata, or where they are not, a primers/ folder beside the\n"
    "model; --primer FILE instead), as long as its training\n"
    "windows, feeds it, then feeds each prediction back as the next input, its states\n"
    "carried, for --steps steps. Velocity (MSE) models feed back their predicted velocities;\n"
    "binary (BCE) models draw each pitch from its probability; event models (the events\n"
    "preset) draw each performance event from the softmax (--temperature, --top-k, --top-p).\n"
    "Each model makes one part (an ensemble event model, one per instrument it plays); the\n"
    "parts are merged into one format-1 MIDI file, each on its own track and channel with\n"
    "its program. The same seed gives the same file.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT.mid    the MIDI file to write (required)\n"
    "  --steps N               steps to generate (event models: events) [roll models: 64\n"
    "                          beats of the first model's grid; event models: 30 s]\n"
    "  --seconds S             the length in seconds instead: event models stop when their\n"
    "                          TIME_SHIFTs reach it, roll models take as many steps at the\n"
    "                          first model's tempo\n"
    "  --primer FILE.mid       prime with a random window of FILE's parts that the model\n"
    "                          takes, instead of its corpus\n"
    "  --keep-primer           put the primer before the generated music [off]\n"
    "  --seed S                seed of the primer's choice and of the sampling [random,\n"
    "                          printed so that the run can be repeated]\n"
    "  --temperature T         binary models: pitches drawn with probability\n"
    "                          sigmoid(logit / T) (NADE: each given those drawn before);\n"
    "                          0: a pitch sounds where p >= 0.5 [0.9: the best of compare's\n"
    "                          figures over 16 pieces, docs/metrics.md]; event models: the\n"
    "                          softmax of logits / T, 0: the most likely event [1]\n"
    "  --top-k K               event models: draw among the K most likely events [0: all]\n"
    "  --top-p P               event models: then among the fewest most likely ones that\n"
    "                          hold P of the probability (nucleus sampling) [0.9: the best\n"
    "                          of compare's figures over 32 pieces, bench/README.md; 1: all]\n"
    "  --threshold X           velocity models: predictions under X (velocity / 127) are\n"
    "                          silence [0.1]\n"
    "  --velocity N            binary models: the velocity of their notes [80]\n"
    "  --bpm X                 tempo [the tempo of the first model's primer]\n"
    "  --program N             GM program (0..127) of the next model's part, one per model\n"
    "                          in order [the program of its primer's part]\n"
    "  --key-fix               detect the primer's key (Krumhansl-Schmuckler) and move every\n"
    "                          off-key note to the nearest pitch of that key (roll models)\n"
    "                          [off]\n"
    "  --wav OUT.wav           also render the result (FluidSynth, as `groovybee render`)\n"
    "  --soundfont FILE.sf2    soundfont for --wav [found automatically]\n"
    "  --png OUT.png           also draw the result (as `groovybee plot`)\n"
    "  --precision P           " CLI_PRECISION_HELP "\n"
    "                          [auto]; bf16 reads the weights in bf16, half the bytes of each\n"
    "                          step (a seed gives other music than in fp32)\n"
    "  -q, --quiet             no summary on stderr\n"
    "  -h, --help              show this help\n"
    "\n"
    "The output's time grid is the model's: a sixteenth note per step for the roll preset; for\n"
    "models trained on raw ticks (the paper preset) a step is that many ticks of the primer's\n"
    "file; event models keep time in seconds (10 ms steps), whatever --bpm. An event model's\n"
    "part starts with the velocity (and instrument) in force at its primer's end.\n"
    "Exit status: 0 written, 1 runtime error (nothing is left behind), 2 usage error.\n";

#define MAX_MODELS 16
#define MAX_PARTS 64     /* parts of the output: an ensemble event model makes several */
#define OUT_DIVISION 960 /* ticks per quarter of the output: exact for 1..6, 8, 10, 12, 16 steps */
#define EVENTS_SECONDS 30.0 /* an event model's default length */

typedef struct {
    const char *path;
    gb_lstm m;
    gb_model_info in;
    gb_dataset ds;
    int loaded, ds_ready;
    /* the primer: its part in ds and first step, and what its source file tells */
    size_t part, start;
    const char *src_path;
    int src_division, src_program, src_drum;
    double src_bpm;
    gb_timesig src_timesig;
    double src_phase; /* event models: quarter notes from the bar's start to where the output
                         starts */
    gb_key key;
    uint64_t step_ticks; /* in OUT_DIVISION ticks */
    int n_rows;
    float *rows; /* (n_rows, D): the primer when kept, then the generated steps */
    int n_tokens;
    uint16_t *tokens; /* event models: the state in force, the primer when kept, then the
                         generated events */
    int first_part, n_parts; /* its parts in the output */
} model;

static void model_free(model *g) {
    if (g->loaded) gb_lstm_free(&g->m), gb_model_info_free(&g->in);
    if (g->ds_ready) gb_ds_free(&g->ds);
    free(g->rows);
    free(g->tokens);
}

/* Loads the corpus named in the model's metadata (or the primer file) with its encoding. */
static int load_primer_source(model *g, const char *primer) {
    gb_error e;
    if (gb_ds_init(&g->ds, &g->in.enc, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s: %s\n", g->path, e.msg);
        return EXIT_RUNTIME;
    }
    g->ds_ready = 1;
    char **paths = NULL;
    int n = 0;
    if (primer) {
        paths = malloc(sizeof *paths);
        if (!paths || !(paths[0] = strdup(primer))) {
            free(paths);
            fprintf(stderr, "groovybee: out of memory\n");
            return EXIT_RUNTIME;
        }
        n = 1;
    } else if (gb_ckpt_paths_parse(g->in.corpus ? g->in.corpus : "[]", &paths, &n, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s: %s\n", g->path, e.msg);
        return EXIT_RUNTIME;
    }
    int rc = EXIT_OK;
    const char *missing = NULL; /* a corpus path that is not here */
    struct stat sb;
    for (int i = 0; !primer && !missing && i < n; i++)
        if (stat(paths[i], &sb) != 0) missing = paths[i];
    if (!primer && (!n || missing)) { /* the primers/ folder shipped beside the model instead */
        char dir[4096];
        const char *slash = strrchr(g->path, '/');
        snprintf(dir, sizeof dir, "%.*sprimers", slash ? (int)(slash - g->path + 1) : 0,
                 g->path);
        if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            for (int i = 0; i < n; i++) free(paths[i]);
            free(paths);
            n = 1, missing = NULL;
            if (!(paths = malloc(sizeof *paths)) || !(paths[0] = strdup(dir))) {
                free(paths);
                fprintf(stderr, "groovybee: out of memory\n");
                return EXIT_RUNTIME;
            }
        }
    }
    if (!n) {
        fprintf(stderr, "groovybee: %s: its metadata names no training corpus; give --primer "
                "FILE.mid\n", g->path);
        rc = EXIT_RUNTIME;
    } else if (missing) {
        fprintf(stderr, "groovybee: %s: its training corpus '%s' is not here (paths are "
                "relative to where it was trained), nor a primers/ folder beside it; give "
                "--primer FILE.mid\n", g->path, missing);
        rc = EXIT_RUNTIME;
    }
    if (rc == EXIT_OK &&
        gb_ds_add_paths(&g->ds, (const char *const *)paths, (size_t)n, 0, cli_warn_skipped, NULL,
                        &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        rc = EXIT_RUNTIME;
    }
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    if (rc == EXIT_OK && primer && g->ds.files_skipped) rc = EXIT_RUNTIME; /* named above */
    if (rc == EXIT_OK && g->ds.n_parts == 0) {
        char progs[512];
        gb_ds_filter_format(&g->in.enc, progs, sizeof progs);
        fprintf(stderr, "groovybee: %s: no part that the model %s takes (GM programs %s%s)\n",
                primer ? primer : "the model's corpus", g->path, progs,
                g->in.enc.drums ? " + drums" : "");
        rc = EXIT_RUNTIME;
    }
    return rc;
}

/* What the primer's source file tells: division, tempo, meter, program, key; for an event
 * model also where the output starts: the primer's end, or its start when it is kept. */
static int read_source(model *g, int keep) {
    const gb_ds_part *p = &g->ds.parts[g->part];
    g->src_path = g->ds.files[p->file].path;
    gb_song s;
    gb_error e;
    if (gb_song_read(g->src_path, &s, &e) != GB_OK) {
        cli_error(g->src_path, &e);
        return EXIT_RUNTIME;
    }
    g->src_division = gb_song_ticks_per_quarter(&s);
    g->src_bpm = s.n_tempos ? 60e6 / s.tempos[0].usec_per_quarter : 120;
    g->src_timesig = s.n_timesigs ? s.timesigs[0] : (gb_timesig){0, 4, 4, 24, 8};
    if (p->tokens) { /* the tempo, meter and place in the bar where the output starts */
        uint64_t steps = 0, tick;
        for (size_t i = 0; i < g->start + (keep ? 0 : (size_t)g->in.seq); i++) {
            int v;
            if (gb_events_class(p->tokens[i], &v) == GB_EVC_TIME_SHIFT) steps += (uint64_t)v;
        }
        tick = gb_song_tick_at(&s, p->track, (double)steps / GB_EV_STEPS_PER_SECOND);
        for (size_t i = 0; i < s.n_tempos && s.tempos[i].tick <= tick; i++)
            g->src_bpm = 60e6 / s.tempos[i].usec_per_quarter;
        for (size_t i = 0; i < s.n_timesigs && s.timesigs[i].tick <= tick; i++)
            g->src_timesig = s.timesigs[i];
        double bar = g->src_timesig.numerator * 4.0 / (g->src_timesig.denominator
                                                           ? g->src_timesig.denominator : 4);
        double q = (double)(tick - (tick > g->src_timesig.tick ? g->src_timesig.tick : tick)) /
                   g->src_division;
        g->src_phase = bar > 0 ? fmod(q, bar) : 0;
    }
    g->src_program = p->program, g->src_drum = p->is_drum;
    if (g->in.enc.merge || g->in.enc.events == GB_DS_ENSEMBLE)
        g->src_program = 0, g->src_drum = 0; /* merged: one texture played on the piano;
                                                 an ensemble: its PROGRAM tokens say */
    double dur[12] = {0};
    const gb_part *sp = &s.parts[p->index];
    for (size_t i = 0; i < sp->n_notes; i++)
        dur[sp->notes[i].pitch % 12] += (double)(sp->notes[i].end - sp->notes[i].start);
    g->key = gb_key_detect(dur);
    gb_song_free(&s);
    const gb_roll_opts *ro = &g->in.enc.roll;
    double st = ro->step_ticks > 0 ? (double)ro->step_ticks * OUT_DIVISION / g->src_division
                                   : (double)OUT_DIVISION / ro->steps_per_beat;
    g->step_ticks = st < 1 ? 1 : (uint64_t)llround(st);
    return EXIT_OK;
}

/* A paper model's beat is its source's division in steps; a roll model's its steps_per_beat. */
static long beat_steps(const model *g) {
    const gb_roll_opts *ro = &g->in.enc.roll;
    return ro->step_ticks > 0 ? (g->src_division + ro->step_ticks - 1) / ro->step_ticks
                              : ro->steps_per_beat;
}

/* An event model's part(s): n events (or, with max_steps, up to that time) after its primer (T
 * tokens of its part from g->start), decoded at bpm and moved onto the output's grid, appended
 * to parts from *n_parts. The tokens
 * decoded are the VELOCITY (and PROGRAM) in force at the primer's end, the primer when kept,
 * then the events drawn. */
static gb_status events_parts(model *g, int T, long n, uint64_t max_steps, int keep,
                              const gb_gen_sampling *smp, gb_rng *rng, gb_precision prec,
                              double bpm, gb_part *parts, int *n_parts, gb_error *err) {
    int state[2] = {-1, -1}; /* the last VELOCITY and PROGRAM before the primer's end */
    const gb_ds_part *p = &g->ds.parts[g->part];
    const uint16_t *pr = p->tokens + g->start;
    for (size_t i = 0; i < g->start + (size_t)T; i++) {
        gb_ev_class c = gb_events_class(p->tokens[i], NULL);
        if (c == GB_EVC_VELOCITY) state[0] = p->tokens[i];
        if (c == GB_EVC_PROGRAM) state[1] = p->tokens[i];
    }
    size_t cap = 2 + (size_t)(keep ? T : 0) + (size_t)n;
    if (!(g->tokens = malloc(cap * sizeof *g->tokens)))
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %ld events", n);
    int k = 0;
    if (state[1] >= 0 && !keep) g->tokens[k++] = (uint16_t)state[1];
    if (state[0] >= 0 && !keep) g->tokens[k++] = (uint16_t)state[0];
    if (keep) memcpy(g->tokens, pr, (size_t)T * sizeof *pr), k = T;
    int drawn;
    gb_status s = gb_generate_tokens(&g->m, pr, T, (int)n, max_steps, smp, rng, prec,
                                     g->tokens + k, &drawn, err);
    if (s != GB_OK) return s;
    g->n_tokens = k + drawn;
    gb_events_opts eo = {.bpm = bpm, .program = g->src_program, .is_drum = g->src_drum,
                         .restrike = g->in.enc.events == GB_DS_EVENTS && g->in.enc.merge};
    gb_song song;
    if ((s = gb_events_decode(g->tokens, (size_t)g->n_tokens, &eo, &song, NULL, err)) != GB_OK)
        return s;
    if (*n_parts + (int)song.n_parts > MAX_PARTS) {
        gb_song_free(&song);
        return gb_fail(err, GB_ERR_LIMIT, -1, "more than %d parts in all", MAX_PARTS);
    }
    g->first_part = *n_parts, g->n_parts = (int)song.n_parts;
    /* at the primer's place in its bar (without --bpm: at the primer's tempo), so that the
     * bars of the output are the music's */
    uint64_t phase = (uint64_t)llround(g->src_phase * OUT_DIVISION);
    for (size_t i = 0; i < song.n_parts; i++) { /* its ticks onto the output's division */
        gb_part *q = &parts[(*n_parts)++];
        *q = song.parts[i];
        for (size_t j = 0; j < q->n_notes; j++) {
            q->notes[j].start = q->notes[j].start * OUT_DIVISION / (uint64_t)song.division + phase;
            q->notes[j].end = q->notes[j].end * OUT_DIVISION / (uint64_t)song.division + phase;
            if (q->notes[j].end <= q->notes[j].start) q->notes[j].end = q->notes[j].start + 1;
        }
        song.parts[i].notes = NULL, song.parts[i].n_notes = 0; /* moved */
    }
    gb_song_free(&song);
    return GB_OK;
}

static uint64_t random_seed(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)getpid() << 20) %
           1000000000u;
}

static int sharps_of(gb_key k) { /* key signature: the major key, or the relative major */
    static const int major_sharps[12] = {0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5};
    return major_sharps[(k.tonic + (k.minor ? 3 : 0)) % 12];
}

int cmd_generate(int argc, char **argv) {
    enum { O_STEPS = 256, O_PRIMER, O_KEEP, O_SEED, O_TEMP, O_THRESH, O_VEL, O_BPM, O_PROGRAM,
           O_KEYFIX, O_WAV, O_SF, O_PNG, O_PRECISION, O_SECONDS, O_TOPK, O_TOPP };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},       {"steps", required_argument, 0, O_STEPS},
        {"primer", required_argument, 0, O_PRIMER},  {"keep-primer", no_argument, 0, O_KEEP},
        {"seed", required_argument, 0, O_SEED},      {"temperature", required_argument, 0, O_TEMP},
        {"threshold", required_argument, 0, O_THRESH}, {"velocity", required_argument, 0, O_VEL},
        {"bpm", required_argument, 0, O_BPM},        {"program", required_argument, 0, O_PROGRAM},
        {"key-fix", no_argument, 0, O_KEYFIX},       {"wav", required_argument, 0, O_WAV},
        {"soundfont", required_argument, 0, O_SF},   {"png", required_argument, 0, O_PNG},
        {"precision", required_argument, 0, O_PRECISION},
        {"seconds", required_argument, 0, O_SECONDS}, {"top-k", required_argument, 0, O_TOPK},
        {"top-p", required_argument, 0, O_TOPP},
        {"quiet", no_argument, 0, 'q'},              {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *C = "generate", *out = NULL, *primer = NULL, *wav = NULL, *sf = NULL, *png = NULL;
    const char *precision = "auto";
    long steps = 0, seed_l = -1, velocity = 80, programs[MAX_MODELS], top_k = 0;
    double temperature = -1, threshold = 0.1, bpm = 0, seconds = 0, top_p = 0.9;
    int n_programs = 0, keep = 0, keyfix = 0, quiet = 0, c;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case O_STEPS:
            if (!cli_int(C, "--steps", optarg, 1, 1L << 24, &steps)) return EXIT_USAGE;
            break;
        case O_PRIMER: primer = optarg; break;
        case O_KEEP: keep = 1; break;
        case O_SEED:
            if (!cli_int(C, "--seed", optarg, 0, 1L << 62, &seed_l)) return EXIT_USAGE;
            break;
        case O_TEMP:
            if (!cli_double(C, "--temperature", optarg, 0, 100, &temperature)) return EXIT_USAGE;
            break;
        case O_THRESH:
            if (!cli_double(C, "--threshold", optarg, 1e-6, 1, &threshold)) return EXIT_USAGE;
            break;
        case O_VEL:
            if (!cli_int(C, "--velocity", optarg, 1, 127, &velocity)) return EXIT_USAGE;
            break;
        case O_BPM:
            if (!cli_double(C, "--bpm", optarg, 1, 1000, &bpm)) return EXIT_USAGE;
            break;
        case O_PROGRAM:
            if (n_programs == MAX_MODELS)
                return cli_usage_error(C, "more than %d --program", MAX_MODELS);
            if (!cli_int(C, "--program", optarg, 0, 127, &programs[n_programs++]))
                return EXIT_USAGE;
            break;
        case O_KEYFIX: keyfix = 1; break;
        case O_WAV: wav = optarg; break;
        case O_SF: sf = optarg; break;
        case O_PNG: png = optarg; break;
        case O_PRECISION: precision = optarg; break;
        case O_SECONDS:
            if (!cli_double(C, "--seconds", optarg, 0.01, 86400, &seconds)) return EXIT_USAGE;
            break;
        case O_TOPK:
            if (!cli_int(C, "--top-k", optarg, 0, 1 << 20, &top_k)) return EXIT_USAGE;
            break;
        case O_TOPP:
            if (!cli_double(C, "--top-p", optarg, 1e-6, 1, &top_p)) return EXIT_USAGE;
            break;
        case 'q': quiet = 1; break;
        case 'h': return fputs(HELP, stdout), EXIT_OK;
        default: return cli_usage_error(C, "bad option");
        }
    }
    gb_precision prec;
    if (!cli_precision(C, precision, &prec)) return EXIT_USAGE;
    int n_models = argc - optind;
    if (!out) return cli_usage_error(C, "no -o OUT.mid");
    char shipped[4200];
    const char *only = NULL; /* the shipped model, when none is given */
    if (n_models < 1) {
        if (!(only = cli_shipped_model(shipped, sizeof shipped)))
            return cli_usage_error(C, "no MODEL.safetensors, and the model groovybee ships "
                                   "(models/default.safetensors) is not found beside the "
                                   "executable nor in $GROOVYBEE_DATA");
        n_models = 1;
        fprintf(stderr, "groovybee generate: the shipped model %s\n", only);
    }
    if (n_models > MAX_MODELS) return cli_usage_error(C, "more than %d models", MAX_MODELS);
    if (steps && seconds) return cli_usage_error(C, "--steps and --seconds exclude each other");
    if (n_programs > n_models)
        return cli_usage_error(C, "%d --program for %d model%s", n_programs, n_models,
                               n_models == 1 ? "" : "s");
    gb_render_opts ro;
    gb_render_opts_default(&ro);
    if (sf) ro.soundfont = sf;
    if (wav && !sf && !(ro.soundfont = gb_render_find_soundfont())) {
        fprintf(stderr, "groovybee: --wav: no General MIDI soundfont found; install the Debian "
                "package fluid-soundfont-gm or give --soundfont FILE.sf2\n");
        return EXIT_RUNTIME;
    }
    uint64_t seed = seed_l >= 0 ? (uint64_t)seed_l : random_seed();

    model g[MAX_MODELS];
    memset(g, 0, sizeof g);
    int rc = EXIT_OK;
    gb_error e;
    gb_part parts[MAX_PARTS];
    memset(parts, 0, sizeof parts);
    int n_parts = 0;
    for (int i = 0; rc == EXIT_OK && i < n_models; i++) {
        model *m = &g[i];
        m->path = only ? only : argv[optind + i];
        if (gb_ckpt_load(m->path, &m->m, &m->in, &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s\n", e.msg);
            rc = EXIT_RUNTIME;
            break;
        }
        m->loaded = 1;
        rc = load_primer_source(m, primer);
        gb_rng rng; /* each model its own stream: adding a model changes no other part */
        gb_rng_seed(&rng, seed + 0x9E3779B97F4A7C15ull * (uint64_t)i);
        int T = m->in.seq, D = m->in.net.D, Din = gb_lstm_din(&m->in.net);
        if (rc == EXIT_OK && gb_gen_pick_primer(&m->ds, T, &rng, &m->part, &m->start, &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s: %s (the window model %s was trained on)\n",
                    primer ? primer : "the model's corpus", e.msg, m->path);
            rc = EXIT_RUNTIME;
        }
        if (rc == EXIT_OK) rc = read_source(m, keep);
        if (rc != EXIT_OK) break;
        int events = m->in.enc.events != GB_DS_ROLL;
        if (events && keyfix) {
            fprintf(stderr, "groovybee: %s: --key-fix is for roll models\n", m->path);
            rc = EXIT_USAGE;
            break;
        }
        double tempo_bpm = bpm > 0 ? bpm : g[0].src_bpm;
        long n = steps;
        uint64_t max_steps = 0; /* event models: their length in 10 ms */
        if (events && !steps) {
            max_steps = (uint64_t)llround((seconds ? seconds : EVENTS_SECONDS) *
                                          GB_EV_STEPS_PER_SECOND);
            n = (long)(max_steps * 4 < (1u << 24) ? max_steps * 4 : 1u << 24);
        } else if (!steps) { /* 64 beats of its grid, or --seconds at the output's tempo */
            double beats = seconds ? seconds * tempo_bpm / 60 : 64;
            n = (long)ceil(beats * (double)beat_steps(m) - 1e-9);
            n = n < 1 ? 1 : n > (1L << 24) ? 1L << 24 : n;
        }
        gb_status s;
        float *pr = NULL;
        if (events) {
            gb_gen_sampling smp = {.temperature = temperature >= 0 ? (float)temperature : 1.0f,
                                   .top_k = (int)top_k, .top_p = (float)top_p};
            s = events_parts(m, T, n, max_steps, keep, &smp, &rng, prec, tempo_bpm, parts,
                             &n_parts, &e);
        } else {
            int kept = keep ? T : 0;
            m->n_rows = kept + (int)n;
            pr = malloc((size_t)T * Din * sizeof *pr);
            m->rows = malloc((size_t)m->n_rows * D * sizeof *m->rows);
            if (!pr || !m->rows) {
                free(pr);
                fprintf(stderr, "groovybee: out of memory for %ld steps\n", n);
                rc = EXIT_RUNTIME;
                break;
            }
            gb_ds_cut(&m->ds, m->part, m->start, (size_t)T, 1, 0, pr);
            for (int t = 0; t < kept; t++) /* the primer's rows without their meter */
                memcpy(m->rows + (size_t)t * D, pr + (size_t)t * Din, (size_t)D * sizeof *pr);
            gb_gen_meter meter = {&m->ds, m->part, m->start + (uint64_t)T};
            s = gb_generate(&m->m, m->in.loss, pr, T, (int)n,
                            temperature >= 0 ? (float)temperature : 0.9f, &meter, &rng, prec,
                            m->rows + (size_t)kept * D, &e);
            if (s == GB_OK && n_parts == MAX_PARTS)
                s = gb_fail(&e, GB_ERR_LIMIT, -1, "more than %d parts in all", MAX_PARTS);
            if (s == GB_OK) {
                m->first_part = n_parts, m->n_parts = 1;
                s = gb_gen_decode(m->rows, m->n_rows, D, m->in.enc.binary, (float)threshold,
                                  (int)velocity, keyfix ? &m->key : NULL, m->step_ticks,
                                  &parts[n_parts++], &e);
            }
        }
        free(pr);
        if (s != GB_OK) {
            fprintf(stderr, "groovybee: %s: %s\n", m->path, e.msg);
            rc = EXIT_RUNTIME;
            break;
        }
        for (int k = m->first_part; k < m->first_part + m->n_parts; k++) {
            gb_part *p = &parts[k];
            p->track = k + 1;
            if (n_programs > i) p->is_drum = 0, p->program = (int)programs[i];
            else if (!events) /* an event model's decoder gave them already */
                p->is_drum = m->src_drum, p->program = m->src_program;
            if (!events || m->n_parts == 1)
                snprintf(p->name, sizeof p->name, "%s", cli_base_name(m->path));
        }
    }
    /* channels 0, 1, ... skipping 9, which General MIDI keeps for drums */
    for (int k = 0, ch = 0; rc == EXIT_OK && k < n_parts; k++) {
        if (parts[k].is_drum) {
            parts[k].channel = 9;
            continue;
        }
        if (ch == 9) ch++;
        if (ch > 15) {
            fprintf(stderr, "groovybee: more than 15 melodic parts: MIDI has no channel for "
                    "part %d\n", k + 1);
            rc = EXIT_RUNTIME;
            break;
        }
        parts[k].channel = ch++;
    }

    if (rc == EXIT_OK) {
        uint64_t end = 0;
        for (int i = 0; i < n_parts; i++)
            for (size_t k = 0; k < parts[i].n_notes; k++)
                if (parts[i].notes[k].end > end) end = parts[i].notes[k].end;
        double tempo_bpm = bpm > 0 ? bpm : g[0].src_bpm;
        gb_tempo tempo = {0, (uint32_t)lrint(60e6 / tempo_bpm), 0, 0};
        gb_timesig ts = g[0].src_timesig;
        ts.tick = 0;
        gb_keysig ks = {0, (int8_t)sharps_of(g[0].key), (uint8_t)g[0].key.minor};
        gb_song song = {.format = 1, .division = OUT_DIVISION, .n_tracks = n_parts + 1,
                        .end_tick = end, .tempos = &tempo, .n_tempos = 1, .timesigs = &ts,
                        .n_timesigs = 1, .keysigs = &ks, .n_keysigs = keyfix ? 1 : 0,
                        .parts = parts, .n_parts = (size_t)n_parts};
        const char *failed = NULL;
        if (gb_song_save(&song, out, &e) != GB_OK) failed = out;
        else if (wav && gb_render_wav(&song, &ro, wav, &e) != GB_OK) failed = wav;
        else if (png) {
            gb_plot_opts po;
            gb_plot_opts_default(&po);
            po.title = cli_base_name(out);
            if (gb_plot_song_png(&song, &po, png, &e) != GB_OK) failed = png;
        }
        if (failed) {
            if (failed == out) cli_error(out, &e);
            else fprintf(stderr, "groovybee: %s\n", e.msg); /* it names the file: sf2 or out */
            if (failed != out) unlink(out);
            if (wav && failed == png) unlink(wav);
            rc = EXIT_RUNTIME;
        } else if (!quiet) {
            char kb[16];
            fprintf(stderr,
                    "groovybee generate: seed %llu, %s products, %.1f s at %.0f bpm -> "
                    "%s%s%s%s%s\n", (unsigned long long)seed, cli_precision_name(prec),
                    gb_song_seconds(&song, -1, end), tempo_bpm, out,
                    wav ? ", " : "", wav ? wav : "", png ? ", " : "", png ? png : "");
            for (int i = 0; i < n_models; i++)
                for (int k = g[i].first_part; k < g[i].first_part + g[i].n_parts; k++)
                    fprintf(stderr, "  part %d: %s, %zu notes, %s, primed with %s %s %zu%s%s\n",
                            k + 1, g[i].path, parts[k].n_notes,
                            gb_gm_name(parts[k].program, parts[k].is_drum), g[i].src_path,
                            g[i].in.enc.events ? "event" : "step", g[i].start,
                            keyfix ? ", key " : "", keyfix ? gb_key_name(g[i].key, kb) : "");
        }
    }
    for (int k = 0; k < n_parts; k++) gb_part_free(&parts[k]);
    for (int i = 0; i < n_models; i++) model_free(&g[i]);
    return rc;
}
