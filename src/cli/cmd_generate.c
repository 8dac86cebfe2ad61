/* cmd_generate.c - `groovybee generate MODEL... -o OUT.mid`: each model primes itself with a
 * random window of its training corpus (or of --primer), generates its part (src/gen), and the
 * parts are merged into one format-1 file; --wav and --png render and draw it. Every input is
 * checked before anything is written, and a failure after the MIDI file was written removes it:
 * no half-made outputs. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audio/render.h"
#include "cli/cli.h"
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

#define MAX_MODELS GB_GEN_MAX_MODELS

static uint64_t random_seed(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)getpid() << 20) %
           1000000000u;
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

    gb_model *models[MAX_MODELS] = {0};
    int rc = EXIT_OK;
    gb_error e;
    for (int i = 0; rc == EXIT_OK && i < n_models; i++) {
        const char *path = only ? only : argv[optind + i];
        if (gb_model_load(path, &models[i], &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s\n", e.msg);
            rc = EXIT_RUNTIME;
            break;
        }
        gb_model_summary ms;
        gb_model_summarize(models[i], &ms);
        if (keyfix && strcmp(ms.representation, "roll") != 0) {
            fprintf(stderr, "groovybee: %s: --key-fix is for roll models\n", path);
            rc = EXIT_USAGE;
        }
    }
    gb_generate_opts go;
    gb_generate_opts_default(&go);
    go.seed = seed, go.steps = steps, go.seconds = seconds, go.primer = primer;
    go.keep_primer = keep, go.temperature = temperature, go.top_k = (int)top_k;
    go.top_p = top_p, go.threshold = threshold, go.velocity = (int)velocity, go.bpm = bpm;
    for (int i = 0; i < n_programs; i++) go.programs[i] = (int)programs[i];
    go.n_programs = n_programs, go.key_fix = keyfix, go.precision = prec;
    go.skip = cli_warn_skipped;
    gb_song song = {0};
    gb_generate_report rep;
    if (rc == EXIT_OK &&
        gb_generate_song((const gb_model *const *)models, n_models, &go, &song, &rep, &e) !=
            GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        rc = EXIT_RUNTIME;
    }
    if (rc == EXIT_OK) {
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
            fprintf(stderr,
                    "groovybee generate: seed %llu, %s products, %.1f s at %.0f bpm -> "
                    "%s%s%s%s%s\n", (unsigned long long)seed, cli_precision_name(prec),
                    rep.seconds, rep.bpm, out, wav ? ", " : "", wav ? wav : "",
                    png ? ", " : "", png ? png : "");
            for (size_t k = 0; k < rep.n_parts; k++) {
                const gb_generated_part *gp = &rep.parts[k];
                gb_model_summary ms;
                gb_model_summarize(models[gp->model], &ms);
                fprintf(stderr, "  part %zu: %s, %zu notes, %s, primed with %s %s %llu%s%s\n",
                        k + 1, ms.path, song.parts[k].n_notes,
                        gb_gm_name(song.parts[k].program, song.parts[k].is_drum), gp->primer,
                        strcmp(ms.representation, "roll") ? "event" : "step",
                        (unsigned long long)gp->primer_at, keyfix ? ", key " : "",
                        keyfix ? gp->key : "");
            }
        }
    }
    gb_song_free(&song);
    for (int i = 0; i < n_models; i++) gb_model_free(models[i]);
    return rc;
}
