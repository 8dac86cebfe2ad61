/* cmd_decode.c - `groovybee decode ROLL.npy... -o OUT.mid`: rolls -> one format 1 file. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: groovybee decode ROLL.npy... -o OUT.mid [--program N]... [--bpm X]\n"
    "                        [--steps-per-beat N] [--threshold N]\n"
    "\n"
    "Decodes piano rolls (uint8 .npy, shape (steps, 128)) to notes and merges them into one\n"
    "format 1 MIDI file, each roll on its own track and channel. Consecutive steps of a pitch\n"
    "holding the same velocity form one note; a change of velocity starts a new note.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT.mid    the MIDI file to write, atomically (required)\n"
    "  --program N             GM program (0-127) of the next roll in order; may repeat\n"
    "                          [from the roll's name as `encode` writes it (progNNN), else 0]\n"
    "  --bpm X                 tempo in quarter notes per minute [120]\n"
    "  --steps-per-beat N      time steps per quarter note [4]\n"
    "  --threshold N           velocities under N are silence [1]\n"
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

int cmd_decode(int argc, char **argv) {
    enum { O_PROG = 256, O_BPM, O_SPB, O_THR };
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"program", required_argument, 0, O_PROG},
                                         {"bpm", required_argument, 0, O_BPM},
                                         {"steps-per-beat", required_argument, 0, O_SPB},
                                         {"threshold", required_argument, 0, O_THR},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    int programs[MAX_ROLLS], n_programs = 0, c;
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
            break;
        case O_THR:
            if (!cli_int("decode", "--threshold", optarg, 1, 255, &threshold)) return EXIT_USAGE;
            break;
        case 'h': return fputs(HELP, stdout), EXIT_OK;
        default: return cli_usage_error("decode", "bad option");
        }
    }
    if (!out) return cli_usage_error("decode", "-o OUT.mid is required");
    int n = argc - optind;
    if (n < 1) return cli_usage_error("decode", "no input ROLL.npy");
    if (n > MAX_ROLLS) return cli_usage_error("decode", "at most %d rolls", MAX_ROLLS);
    if (n_programs > n)
        return cli_usage_error("decode", "%d --program options for %d rolls", n_programs, n);

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
