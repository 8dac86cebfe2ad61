/* cmd_encode.c - `groovybee encode FILE.mid... -o DIR`: one piano roll (.npy) per part, or with
 * --events one stream of performance-event tokens per part (--ensemble: per file). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: groovybee encode FILE.mid... -o DIR [--steps-per-beat N | --step-ticks N]\n"
    "                        [--strip-silence]\n"
    "       groovybee encode --events FILE.mid... -o DIR [--ensemble]\n"
    "\n"
    "Writes one piano roll per part (the notes of one track, channel and program) as a NumPy\n"
    ".npy file: uint8, shape (steps, 128), velocities, 0 = silent (docs/formats.md). Files are\n"
    "named STEM.pNN.tNN.cNN.progNNN.INSTRUMENT.npy: part index, track, channel (0-based, 09 =\n"
    "drums), GM program and its name. A file that cannot be read is skipped with a warning;\n"
    "the exit status is then 1.\n"
    "\n"
    "With --events, each part is instead a stream of performance events (Performance RNN's\n"
    "tokens, note_seq's order, vocabulary 388: NOTE_ON 0-127, NOTE_OFF 128-255, TIME_SHIFT of\n"
    "1-100 steps of 10 ms 256-355, VELOCITY bin 1-32 356-387), times in seconds from the file's\n"
    "tempo map: uint16, shape (n,), named STEM.pNN.tNN.cNN.progNNN.INSTRUMENT.events.npy.\n"
    "--ensemble makes one stream of every part of a file, STEM.ensemble.events.npy, with a\n"
    "PROGRAM token (388 + GM program, 516 drums: vocabulary 517) before each change of\n"
    "instrument.\n"
    "\n"
    "options:\n"
    "  -o, --output DIR        directory for the rolls (or streams), created if missing\n"
    "                          (required)\n"
    "  --steps-per-beat N      time steps per quarter note [4: sixteenth notes]\n"
    "  --step-ticks N          a step is N raw ticks of the file instead (1 = the report's\n"
    "                          per-tick encoding)\n"
    "  --strip-silence         drop steps where nothing sounds (the report's encoding) [off]\n"
    "  --events                performance-event tokens instead of rolls [off: rolls]\n"
    "  --ensemble              with --events: one stream per file, PROGRAM tokens [off: one\n"
    "                          stream per part]\n"
    "  -h, --help              show this help\n";

/* "Acoustic Grand Piano" -> "acoustic-grand-piano" */
static void slug(const char *name, char *out, size_t cap) {
    size_t k = 0;
    for (; *name && k + 1 < cap; name++) {
        unsigned char c = (unsigned char)*name;
        if (isalnum(c)) out[k++] = (char)tolower(c);
        else if (k && out[k - 1] != '-') out[k++] = '-';
    }
    while (k && out[k - 1] == '-') k--;
    out[k] = 0;
}

enum { MODE_ROLL, MODE_EVENTS, MODE_ENSEMBLE };

/* Writes the token stream of parts [i, i + n) of s to out. */
static int write_events(const char *path, const gb_song *s, size_t i, size_t n, int ensemble,
                        const char *out) {
    gb_events_opts eo = {.ensemble = ensemble};
    gb_tokens t;
    gb_error e;
    if (gb_events_encode(s, s->parts + i, n, &eo, &t, &e) != GB_OK) {
        if (ensemble) fprintf(stderr, "groovybee: %s: %s\n", path, e.msg);
        else fprintf(stderr, "groovybee: %s: part %zu: %s\n", path, i, e.msg);
        return 0;
    }
    int ok = gb_npy_write_tokens(out, &t, &e) == GB_OK;
    if (!ok) cli_error(out, &e);
    gb_tokens_free(&t);
    return ok;
}

/* Encodes every part of one file (with --ensemble, the file as one stream); on failure removes
 * the files it wrote. */
static int encode_file(const char *path, const char *dir, const gb_roll_opts *o, int mode,
                       size_t *n_parts) {
    gb_song s;
    gb_error e;
    if (gb_song_read(path, &s, &e) != GB_OK) {
        cli_error(path, &e);
        return 0;
    }
    char st[200], sl[64], *out = NULL;
    cli_stem(path, st, sizeof st);
    size_t cap = strlen(dir) + sizeof st + sizeof sl + 64, written = 0;
    char **names = calloc(s.n_parts + 1, sizeof *names);
    int ok = names != NULL;
    if (ok && mode == MODE_ENSEMBLE) {
        ok = (out = names[0] = malloc(cap)) != NULL;
        if (ok) snprintf(out, cap, "%s/%s.ensemble.events.npy", dir, st);
        ok = ok && write_events(path, &s, 0, s.n_parts, 1, out);
        written = ok;
    }
    for (size_t i = 0; ok && mode != MODE_ENSEMBLE && i < s.n_parts; i++) {
        const gb_part *p = &s.parts[i];
        slug(gb_gm_name(p->program, p->is_drum), sl, sizeof sl);
        out = names[i] = malloc(cap);
        if (!out) {
            ok = 0;
            break;
        }
        snprintf(out, cap, "%s/%s.p%02zu.t%02d.c%02d.prog%03d.%s%s.npy", dir, st, i, p->track,
                 p->channel, p->program, sl, mode == MODE_EVENTS ? ".events" : "");
        if (mode == MODE_EVENTS) {
            ok = write_events(path, &s, i, 1, 0, out);
        } else {
            gb_roll r;
            if (gb_roll_encode(&s, p, o, &r, &e) != GB_OK) {
                fprintf(stderr, "groovybee: %s: part %zu: %s\n", path, i, e.msg);
                ok = 0;
                break;
            }
            ok = gb_npy_write(out, &r, &e) == GB_OK;
            if (!ok) cli_error(out, &e);
            gb_roll_free(&r);
        }
        if (ok) written++;
    }
    for (size_t i = 0; names && i <= s.n_parts; i++) {
        if (!ok && i < written) unlink(names[i]);
        free(names[i]);
    }
    free(names);
    if (ok) *n_parts += s.n_parts;
    gb_song_free(&s);
    return ok;
}

int cmd_encode(int argc, char **argv) {
    enum { O_SPB = 256, O_TICKS, O_STRIP, O_EVENTS, O_ENSEMBLE };
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"steps-per-beat", required_argument, 0, O_SPB},
                                         {"step-ticks", required_argument, 0, O_TICKS},
                                         {"strip-silence", no_argument, 0, O_STRIP},
                                         {"events", no_argument, 0, O_EVENTS},
                                         {"ensemble", no_argument, 0, O_ENSEMBLE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    gb_roll_opts o = {.steps_per_beat = 4};
    const char *dir = NULL;
    long v;
    int c, spb_given = 0, events = 0, ensemble = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': dir = optarg; break;
        case O_SPB:
            if (!cli_int("encode", "--steps-per-beat", optarg, 1, 960, &v)) return EXIT_USAGE;
            o.steps_per_beat = (int)v;
            spb_given = 1;
            break;
        case O_TICKS:
            if (!cli_int("encode", "--step-ticks", optarg, 1, 1L << 30, &v)) return EXIT_USAGE;
            o.step_ticks = (int)v;
            break;
        case O_STRIP: o.strip_silence = 1; break;
        case O_EVENTS: events = 1; break;
        case O_ENSEMBLE: ensemble = 1; break;
        case 'h': return fputs(HELP, stdout), EXIT_OK;
        default: return cli_usage_error("encode", "bad option");
        }
    }
    if (spb_given && o.step_ticks)
        return cli_usage_error("encode", "--steps-per-beat and --step-ticks exclude each other");
    if (ensemble && !events) return cli_usage_error("encode", "--ensemble needs --events");
    if (events && (spb_given || o.step_ticks || o.strip_silence))
        return cli_usage_error("encode", "--events takes no roll options (--steps-per-beat, "
                                         "--step-ticks, --strip-silence)");
    int mode = !events ? MODE_ROLL : ensemble ? MODE_ENSEMBLE : MODE_EVENTS;
    if (!dir) return cli_usage_error("encode", "-o DIR is required");
    if (optind >= argc) return cli_usage_error("encode", "no input FILE.mid");
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "groovybee: %s: cannot create directory: %s\n", dir, strerror(errno));
        return EXIT_RUNTIME;
    }
    size_t done = 0, skipped = 0, parts = 0;
    for (int i = optind; i < argc; i++) {
        if (encode_file(argv[i], dir, &o, mode, &parts)) done++;
        else skipped++;
    }
    fprintf(stderr, "groovybee: encoded %zu file%s (%zu part%s) into %s%s", done,
            done == 1 ? "" : "s", parts, parts == 1 ? "" : "s", dir,
            mode == MODE_ENSEMBLE ? " as ensemble streams" : mode == MODE_EVENTS
                                                                 ? " as event streams" : "");
    if (skipped) fprintf(stderr, "; skipped %zu file%s", skipped, skipped == 1 ? "" : "s");
    fprintf(stderr, "\n");
    return skipped ? EXIT_RUNTIME : EXIT_OK;
}
