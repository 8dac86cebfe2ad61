/* cmd_decode.c - `groovybee decode ROLL.npy... -o OUT.mid`: rolls -> one format 1 file; with
 * --events, token streams of performance events -> one format 1 file. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: groovybee decode ROLL.npy... -o OUT.mid [--program N]... [--bpm X]\n"
    "                        [--steps-per-beat N] [--threshold N]\n"
    "       groovybee decode --events TOKENS.npy... -o OUT.mid [--program N]... [--bpm X]\n"
    "                        [--restrike]\n"
    "\n"
    "Decodes piano rolls (uint8 .npy, shape (steps, 128)) to notes and merges them into one\n"
    "format 1 MIDI file, each roll on its own track and channel. Consecutive steps of a pitch\n"
    "holding the same velocity form one note; a change of velocity starts a new note.\n"
    "\n"
    "With --events, the files are streams of performance-event tokens (uint16 .npy, shape (n,),\n"
    "as `encode --events` writes them): a stream without PROGRAM tokens makes one part, a stream\n"
    "with them (--ensemble) a part per instrument, and one more where two of its notes of one\n"
    "pitch sound at once (a unison). Performance RNN's rules: a NOTE_OFF with no sounding\n"
    "note is ignored; a note never turned off ends after 5 s or at the end of the stream;\n"
    "notes before any VELOCITY token have velocity 100. Times in seconds become ticks at the\n"
    "--bpm tempo. At most 16 files, 15 melodic parts in all; a bad file writes nothing.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT.mid    the MIDI file to write, atomically (required)\n"
    "  --program N             GM program (0-127) of the next roll (or stream, for its notes\n"
    "                          before any PROGRAM token) in order; may repeat [from the file's\n"
    "                          name as `encode` writes it (progNNN, c09 = drums), else 0]\n"
    "  --bpm X                 tempo in quarter notes per minute [120]\n"
    "  --steps-per-beat N      time steps per quarter note [4] (rolls only)\n"
    "  --threshold N           velocities under N are silence [1] (rolls only)\n"
    "  --events                the files are performance-event tokens [off: rolls]\n"
    "  --restrike              (events) a NOTE_ON of a pitch that sounds ends that note: one\n"
    "                          key a pitch, as `generate` decodes a model of merged parts\n"
    "                          (docs/formats.md) [off: unisons stack, as note_seq's]\n"
    "  -h, --help              show this help\n";

#define MAX_ROLLS 16

/* What `encode` put in a roll's name: ".progNNN." and ".c09." for drums. */
static void name_hints(const char *path, int *program, int *drum) {
    const char *b = cli_base_name(path), *p = strstr(b, ".prog");
    if (p && p[5] >= '0' && p[5] <= '9') {
        int v = atoi(p + 5);
        if (v >= 0 && v <= 127) *program = v;
    }
    *drum = strstr(b, ".c09.") != NULL;
}

/* Token streams -> one song: each file's parts, channels given again across all of them. */
static int decode_events(char **paths, int n, const int *programs, int n_programs, double bpm,
                         int restrike, const char *out) {
    gb_song all = {0};
    gb_error e;
    int status = EXIT_OK, channel = 0;
    for (int i = 0; i < n && status == EXIT_OK; i++) {
        const char *path = paths[i];
        gb_tokens t;
        gb_song s;
        gb_events_stats stats;
        int program = 0, drum = 0;
        name_hints(path, &program, &drum);
        gb_events_opts o = {.bpm = bpm, .program = i < n_programs ? programs[i] : program,
                            .is_drum = drum, .restrike = restrike};
        if (gb_npy_read_tokens(path, &t, &e) != GB_OK ||
            gb_events_decode(t.v, t.n, &o, &s, &stats, &e) != GB_OK) {
            cli_error(path, &e);
            gb_tokens_free(&t);
            status = EXIT_RUNTIME;
            break;
        }
        gb_tokens_free(&t);
        if (stats.stray_offs || stats.open_notes || stats.empty)
            fprintf(stderr,
                    "groovybee: %s: %zu notes; %zu NOTE_OFF without a sounding note ignored, "
                    "%zu notes never turned off ended after 5 s or at the end, %zu notes of no "
                    "duration dropped\n",
                    path, stats.notes, stats.stray_offs, stats.open_notes, stats.empty);
        if (!stats.notes) fprintf(stderr, "groovybee: %s: no notes in the stream\n", path);
        if (!all.tempos) { /* the first file's tempo, division and meter: the same for all */
            all = s;
            all.parts = NULL;
            all.n_parts = 0;
        } else {
            free(s.tempos);
            free(s.timesigs);
            free(s.keysigs);
            if (s.end_tick > all.end_tick) all.end_tick = s.end_tick;
        }
        gb_part *grown = realloc(all.parts, (all.n_parts + s.n_parts + 1) * sizeof *grown);
        if (grown) all.parts = grown;
        if (!grown) {
            fprintf(stderr, "groovybee: decode: out of memory\n");
            for (size_t k = 0; k < s.n_parts; k++) free(s.parts[k].notes);
            free(s.parts);
            status = EXIT_RUNTIME;
            break;
        }
        int one = 1; /* a stream of one instrument: its parts are named after the file */
        for (size_t k = 1; k < s.n_parts; k++)
            one &= s.parts[k].program == s.parts[0].program &&
                   s.parts[k].is_drum == s.parts[0].is_drum;
        for (size_t k = 0; k < s.n_parts; k++) {
            gb_part *p = &all.parts[all.n_parts++];
            *p = s.parts[k];
            p->track = (int)all.n_parts;
            if (!p->is_drum) {
                if (channel == 9) channel++;
                if (channel > 15) {
                    fprintf(stderr, "groovybee: decode: more than 15 melodic parts (%s): MIDI "
                                    "has 15 melodic channels\n", path);
                    status = EXIT_RUNTIME;
                }
                p->channel = channel++ & 15;
            }
            if (one) { /* as a roll is; the parts of its unisons numbered */
                char stem[sizeof p->name];
                cli_stem(path, stem, sizeof stem);
                if (k) snprintf(p->name, sizeof p->name, "%.48s %d", stem, (int)k + 1);
                else snprintf(p->name, sizeof p->name, "%s", stem);
            }
        }
        free(s.parts);
    }
    all.n_tracks = (int)all.n_parts + 1;
    if (status == EXIT_OK && gb_song_save(&all, out, &e) != GB_OK) {
        cli_error(out, &e);
        status = EXIT_RUNTIME;
    }
    gb_song_free(&all);
    return status;
}

int cmd_decode(int argc, char **argv) {
    enum { O_PROG = 256, O_BPM, O_SPB, O_THR, O_EVENTS, O_RESTRIKE };
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"program", required_argument, 0, O_PROG},
                                         {"bpm", required_argument, 0, O_BPM},
                                         {"steps-per-beat", required_argument, 0, O_SPB},
                                         {"threshold", required_argument, 0, O_THR},
                                         {"events", no_argument, 0, O_EVENTS},
                                         {"restrike", no_argument, 0, O_RESTRIKE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    int programs[MAX_ROLLS], n_programs = 0, c, events = 0, roll_opts = 0, restrike = 0;
    long spb = 4, threshold = 1, v;
    double bpm = 120;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case O_PROG:
            if (n_programs == MAX_ROLLS)
                return cli_usage_error("decode", "more than %d --program options", MAX_ROLLS);
            if (!cli_int("decode", "--program", optarg, 0, 127, &v)) return EXIT_USAGE;
            programs[n_programs++] = (int)v;
            break;
        case O_BPM:
            if (!cli_double("decode", "--bpm", optarg, 1, 1000, &bpm)) return EXIT_USAGE;
            break;
        case O_SPB:
            if (!cli_int("decode", "--steps-per-beat", optarg, 1, 960, &spb)) return EXIT_USAGE;
            roll_opts = 1;
            break;
        case O_THR:
            if (!cli_int("decode", "--threshold", optarg, 1, 255, &threshold)) return EXIT_USAGE;
            roll_opts = 1;
            break;
        case O_EVENTS: events = 1; break;
        case O_RESTRIKE: restrike = 1; break;
        case 'h': return fputs(HELP, stdout), EXIT_OK;
        default: return cli_usage_error("decode", "bad option");
        }
    }
    if (!out) return cli_usage_error("decode", "-o OUT.mid is required");
    int n = argc - optind;
    if (n < 1)
        return cli_usage_error("decode", events ? "no input TOKENS.npy" : "no input ROLL.npy");
    if (n > MAX_ROLLS)
        return cli_usage_error("decode", "at most %d %s", MAX_ROLLS,
                               events ? "token files" : "rolls");
    if (n_programs > n)
        return cli_usage_error("decode", "%d --program options for %d rolls", n_programs, n);
    if (events && roll_opts)
        return cli_usage_error("decode", "--events takes no roll options (--steps-per-beat, "
                                         "--threshold)");
    if (events && bpm < 4)
        return cli_usage_error("decode", "--bpm wants a number from 4 to 1000 with --events "
                                         "(a slower tempo does not fit MIDI's 24 bits)");
    if (restrike && !events) return cli_usage_error("decode", "--restrike needs --events");
    if (events) return decode_events(argv + optind, n, programs, n_programs, bpm, restrike, out);

    /* A quarter of 960 ticks divides evenly into the common step counts; other step counts
     * get a division that is a multiple of them. */
    int division = 960 % spb == 0 ? 960 : (int)(spb * (960 / spb + 1));
    if (division > 32767) return cli_usage_error("decode", "--steps-per-beat %ld too fine", spb);
    gb_tempo tempo = {0, (uint32_t)(60e6 / bpm + 0.5), 0, 0};
    gb_timesig meter = {0, 4, 4, 24, 8};
    gb_part parts[MAX_ROLLS];
    memset(parts, 0, sizeof parts);
    gb_song s = {.format = 1, .division = division, .tempos = &tempo, .n_tempos = 1,
                 .timesigs = &meter, .n_timesigs = 1, .parts = parts, .n_parts = (size_t)n};
    int status = EXIT_OK, channel = 0;
    gb_error e;
    for (int i = 0; i < n && status == EXIT_OK; i++) {
        const char *path = argv[optind + i];
        gb_roll r;
        if (gb_npy_read(path, &r, &e) != GB_OK ||
            gb_roll_decode(&r, (int)threshold, (uint64_t)(division / spb), &parts[i], &e)) {
            cli_error(path, &e);
            status = EXIT_RUNTIME;
        }
        gb_roll_free(&r);
        int program = 0, drum;
        name_hints(path, &program, &drum);
        parts[i].program = i < n_programs ? programs[i] : program;
        parts[i].is_drum = drum;
        if (drum) {
            parts[i].channel = 9;
        } else {
            if (channel == 9) channel++;
            if (channel > 15) {
                fprintf(stderr, "groovybee: decode: more than 15 melodic rolls\n");
                status = EXIT_RUNTIME;
            }
            parts[i].channel = channel++;
        }
        parts[i].track = i + 1;
        cli_stem(path, parts[i].name, sizeof parts[i].name); /* the roll's stem */
    }
    if (status == EXIT_OK && gb_song_save(&s, out, &e) != GB_OK) {
        cli_error(out, &e);
        status = EXIT_RUNTIME;
    }
    for (int i = 0; i < n; i++) gb_part_free(&parts[i]);
    return status;
}
