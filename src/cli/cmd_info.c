/* cmd_info.c - `groovybee info FILE.mid [--json]`: format, tempo map, parts. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: groovybee info FILE.mid [--json]\n"
    "\n"
    "Describes a MIDI file: format, time division, tracks, duration, tempo and time-signature\n"
    "changes, and per part (the notes of one track, channel and program): its track, channel,\n"
    "program with its General MIDI name, note count, pitch range and time span. Text counts\n"
    "channels 1-16 as musicians do (10 = drums); --json and `notes` count them 0-15.\n"
    "\n"
    "options:\n"
    "  --json        print one JSON object instead of text [off]\n"
    "  -h, --help    show this help\n";

/* Time span of a part in seconds: first note-on to last note-off. */
static void part_span(const gb_song *s, const gb_part *p, double *t0, double *t1, int *lo,
                      int *hi) {
    uint64_t end = 0;
    *lo = 127;
    *hi = 0;
    for (size_t i = 0; i < p->n_notes; i++) {
        if (p->notes[i].end > end) end = p->notes[i].end;
        if (p->notes[i].pitch < *lo) *lo = p->notes[i].pitch;
        if (p->notes[i].pitch > *hi) *hi = p->notes[i].pitch;
    }
    *t0 = p->n_notes ? gb_song_seconds(s, p->track, p->notes[0].start) : 0;
    *t1 = gb_song_seconds(s, p->track, end);
}

static double song_duration(const gb_song *s) {
    double d = gb_song_seconds(s, -1, s->end_tick);
    for (int t = 0; s->format == 2 && t < s->n_tracks; t++) {
        double x = gb_song_seconds(s, t, s->end_tick);
        if (x > d) d = x;
    }
    return d;
}

static const char *key_name(const gb_keysig *k) {
    static const char *major[15] = {"Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C",
                                    "G",  "D",  "A",  "E",  "B",  "F#", "C#"};
    static const char *minor[15] = {"Ab", "Eb", "Bb", "F", "C",  "G",  "D", "A",
                                    "E",  "B",  "F#", "C#", "G#", "D#", "A#"};
    return (k->minor ? minor : major)[k->sharps + 7];
}

static void print_text(const char *path, const gb_song *s) {
    printf("file:      %s\n", path);
    if (s->division > 0)
        printf("format:    %d, %d tracks, %d ticks per quarter note\n", s->format, s->n_tracks,
               s->division);
    else
        printf("format:    %d, %d tracks, SMPTE %d fps x %d ticks per frame\n", s->format,
               s->n_tracks, s->smpte_fps, s->smpte_tpf);
    printf("duration:  %.3f s (%llu ticks)\n", song_duration(s), (unsigned long long)s->end_tick);
    printf("tempo:     %zu change%s\n", s->n_tempos, s->n_tempos == 1 ? "" : "s");
    for (size_t i = 0; i < s->n_tempos && i < 10; i++)
        printf("  tick %-8llu %9.3f s  %7.2f bpm\n", (unsigned long long)s->tempos[i].tick,
               s->tempos[i].seconds, 60e6 / s->tempos[i].usec_per_quarter);
    if (s->n_tempos > 10) printf("  ... %zu more (--json lists all)\n", s->n_tempos - 10);
    printf("meter:     %zu time signature%s\n", s->n_timesigs, s->n_timesigs == 1 ? "" : "s");
    for (size_t i = 0; i < s->n_timesigs && i < 10; i++)
        printf("  tick %-8llu %9.3f s  %d/%d\n", (unsigned long long)s->timesigs[i].tick,
               gb_song_seconds(s, -1, s->timesigs[i].tick), s->timesigs[i].numerator,
               s->timesigs[i].denominator);
    if (s->n_timesigs > 10) printf("  ... %zu more (--json lists all)\n", s->n_timesigs - 10);
    printf("key:       %zu key signature%s\n", s->n_keysigs, s->n_keysigs == 1 ? "" : "s");
    for (size_t i = 0; i < s->n_keysigs && i < 10; i++)
        printf("  tick %-8llu %9.3f s  %s %s\n", (unsigned long long)s->keysigs[i].tick,
               gb_song_seconds(s, -1, s->keysigs[i].tick), key_name(&s->keysigs[i]),
               s->keysigs[i].minor ? "minor" : "major");
    if (s->n_keysigs > 10) printf("  ... %zu more (--json lists all)\n", s->n_keysigs - 10);
    printf("parts:     %zu\n", s->n_parts);
    printf("  %4s %5s %3s %-30s %6s %-9s %9s %9s  %s\n", "part", "track", "ch", "program",
           "notes", "pitches", "start_s", "end_s", "name");
    for (size_t i = 0; i < s->n_parts; i++) {
        const gb_part *p = &s->parts[i];
        double t0, t1;
        int lo, hi;
        char a[8], b[8], prog[40], range[20];
        part_span(s, p, &t0, &t1, &lo, &hi);
        snprintf(prog, sizeof prog, "%3d %s", p->program, gb_gm_name(p->program, p->is_drum));
        snprintf(range, sizeof range, "%s-%s", cli_pitch_name(lo, a), cli_pitch_name(hi, b));
        printf("  %4zu %5d %3d %-30s %6zu %-9s %9.3f %9.3f  %s\n", i, p->track, p->channel + 1,
               prog, p->n_notes, range, t0, t1, p->name);
    }
}

static void print_json(const char *path, const gb_song *s) {
    printf("{\"file\": ");
    cli_json_str(stdout, path);
    printf(", \"format\": %d, \"tracks\": %d, \"division\": %d, \"smpte_fps\": %d, "
           "\"smpte_ticks_per_frame\": %d, \"end_tick\": %llu, \"duration_s\": %.6f,\n",
           s->format, s->n_tracks, s->division, s->smpte_fps, s->smpte_tpf,
           (unsigned long long)s->end_tick, song_duration(s));
    printf(" \"tempos\": [");
    for (size_t i = 0; i < s->n_tempos; i++)
        printf("%s{\"tick\": %llu, \"seconds\": %.6f, \"usec_per_quarter\": %u, \"bpm\": %.4f, "
               "\"track\": %d}",
               i ? ", " : "", (unsigned long long)s->tempos[i].tick, s->tempos[i].seconds,
               s->tempos[i].usec_per_quarter, 60e6 / s->tempos[i].usec_per_quarter,
               s->tempos[i].track);
    printf("],\n \"time_signatures\": [");
    for (size_t i = 0; i < s->n_timesigs; i++)
        printf("%s{\"tick\": %llu, \"numerator\": %d, \"denominator\": %d}", i ? ", " : "",
               (unsigned long long)s->timesigs[i].tick, s->timesigs[i].numerator,
               s->timesigs[i].denominator);
    printf("],\n \"key_signatures\": [");
    for (size_t i = 0; i < s->n_keysigs; i++)
        printf("%s{\"tick\": %llu, \"key\": \"%s %s\", \"sharps\": %d}", i ? ", " : "",
               (unsigned long long)s->keysigs[i].tick, key_name(&s->keysigs[i]),
               s->keysigs[i].minor ? "minor" : "major", s->keysigs[i].sharps);
    printf("],\n \"parts\": [");
    for (size_t i = 0; i < s->n_parts; i++) {
        const gb_part *p = &s->parts[i];
        double t0, t1;
        int lo, hi;
        part_span(s, p, &t0, &t1, &lo, &hi);
        printf("%s\n  {\"part\": %zu, \"track\": %d, \"channel\": %d, \"program\": %d, "
               "\"instrument\": ",
               i ? "," : "", i, p->track, p->channel, p->program);
        cli_json_str(stdout, gb_gm_name(p->program, p->is_drum));
        printf(", \"drums\": %s, \"name\": ", p->is_drum ? "true" : "false");
        cli_json_str(stdout, p->name);
        printf(", \"notes\": %zu, \"pitch_min\": %d, \"pitch_max\": %d, \"start_s\": %.6f, "
               "\"end_s\": %.6f}",
               p->n_notes, lo, hi, t0, t1);
    }
    printf("]}\n");
}

int cmd_info(int argc, char **argv) {
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') json = 1;
        else if (c == 'h') return fputs(HELP, stdout), EXIT_OK;
        else return cli_usage_error("info", "bad option");
    }
    const char *path;
    gb_song s;
    int status = cli_read_one_song("info", argc, argv, &path, &s);
    if (status != EXIT_OK) return status;
    if (json) print_json(path, &s);
    else print_text(path, &s);
    gb_song_free(&s);
    return EXIT_OK;
}
