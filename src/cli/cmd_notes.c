/* cmd_notes.c - `groovybee notes FILE.mid`: every note as a CSV line. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: groovybee notes FILE.mid\n"
    "\n"
    "Prints the file's notes as CSV on stdout, one note per line, sorted by start tick, then\n"
    "part, then pitch. Parts are numbered as `groovybee info` numbers them. Header:\n"
    "  part,track,channel,program,pitch,velocity,start_tick,end_tick,start_s,end_s\n"
    "channel is 0-based (9 = drums). Note pairing: docs/midi.md.\n"
    "\n"
    "options:\n"
    "  -h, --help    show this help\n";

typedef struct {
    const gb_note *n;
    uint32_t part;
} row;

static int cmp_row(const void *a, const void *b) {
    const row *x = a, *y = b;
    if (x->n->start != y->n->start) return x->n->start < y->n->start ? -1 : 1;
    if (x->part != y->part) return x->part < y->part ? -1 : 1;
    if (x->n->pitch != y->n->pitch) return x->n->pitch < y->n->pitch ? -1 : 1;
    return (x->n > y->n) - (x->n < y->n); /* within a part: the part's own order */
}

int cmd_notes(int argc, char **argv) {
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') return fputs(HELP, stdout), EXIT_OK;
        return cli_usage_error("notes", "bad option");
    }
    const char *path;
    gb_song s;
    int status = cli_read_one_song("notes", argc, argv, &path, &s);
    if (status != EXIT_OK) return status;
    size_t n = 0;
    for (size_t i = 0; i < s.n_parts; i++) n += s.parts[i].n_notes;
    row *rows = malloc((n ? n : 1) * sizeof *rows);
    if (!rows) {
        fprintf(stderr, "groovybee: %s: out of memory\n", path);
        gb_song_free(&s);
        return EXIT_RUNTIME;
    }
    n = 0;
    for (size_t i = 0; i < s.n_parts; i++)
        for (size_t k = 0; k < s.parts[i].n_notes; k++)
            rows[n++] = (row){&s.parts[i].notes[k], (uint32_t)i};
    qsort(rows, n, sizeof *rows, cmp_row);
    printf("part,track,channel,program,pitch,velocity,start_tick,end_tick,start_s,end_s\n");
    for (size_t i = 0; i < n; i++) {
        const gb_part *p = &s.parts[rows[i].part];
        const gb_note *x = rows[i].n;
        printf("%u,%d,%d,%d,%d,%d,%llu,%llu,%.6f,%.6f\n", rows[i].part, p->track, p->channel,
               p->program, x->pitch, x->velocity, (unsigned long long)x->start,
               (unsigned long long)x->end, gb_song_seconds(&s, p->track, x->start),
               gb_song_seconds(&s, p->track, x->end));
    }
    free(rows);
    gb_song_free(&s);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "groovybee: notes: error writing to stdout\n");
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}
