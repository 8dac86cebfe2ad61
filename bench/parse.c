/* parse.c - MIDI parse throughput of libgroovybee, for bench/parse.sh.
 *
 * Usage: bench_parse [-t SECONDS] [-l events|notes] PATH...
 * Each PATH is a MIDI file or a directory, walked for *.mid / *.midi (case-insensitive); the
 * files are sorted by path and read into memory before any timing, so I/O is excluded. Then, for
 * each level, one untimed warm-up pass and timed passes over the whole set until at least
 * SECONDS (default 2) have passed (CLOCK_MONOTONIC):
 *   events  gb_midi_parse + gb_midi_free   (bytes -> tracks of events)
 *   notes   gb_song_parse + gb_song_free   (bytes -> events -> paired notes, tempo map)
 * One line per level, key=value, MB = 1e6 bytes:
 *   level=events bytes=N files=N passes=N seconds=S mb_s=X files_s=Y errors=E items=I
 * errors counts the files the level rejects (per pass); items is events or notes per pass.
 * -l runs one level only (for profiling). */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "groovybee.h"

typedef struct {
    char *path;
    uint8_t *data;
    size_t len;
} input;

typedef struct {
    input *v;
    size_t n, cap;
} input_list;

static void die(const char *fmt, const char *arg) {
    fprintf(stderr, "bench_parse: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) die("%s", "out of memory");
    return q;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static void add_path(input_list *l, const char *path) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (input){xstrdup(path), NULL, 0};
}

static int is_midi_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".mid") || !strcasecmp(dot, ".midi"));
}

/* Adds path if it is a file, else the MIDI files under it (recursively). */
static void collect(input_list *l, const char *path, int explicit) {
    struct stat st;
    if (stat(path, &st) != 0) die("cannot stat %s", path);
    if (S_ISREG(st.st_mode)) {
        if (explicit || is_midi_name(path)) add_path(l, path);
        return;
    }
    if (!S_ISDIR(st.st_mode)) return;
    DIR *d = opendir(path);
    if (!d) die("cannot open directory %s", path);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        size_t n = strlen(path) + strlen(de->d_name) + 2;
        char *sub = xrealloc(NULL, n);
        snprintf(sub, n, "%s/%s", path, de->d_name);
        collect(l, sub, 0);
        free(sub);
    }
    closedir(d);
}

static int cmp_input(const void *a, const void *b) {
    return strcmp(((const input *)a)->path, ((const input *)b)->path);
}

static void load(input *in) {
    FILE *f = fopen(in->path, "rb");
    if (!f) die("cannot open %s", in->path);
    size_t cap = 1 << 16;
    in->data = xrealloc(NULL, cap);
    size_t k;
    while ((k = fread(in->data + in->len, 1, cap - in->len, f)) > 0) {
        in->len += k;
        if (in->len == cap) in->data = xrealloc(in->data, cap *= 2);
    }
    if (ferror(f)) die("cannot read %s", in->path);
    fclose(f);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One pass over every file; returns the files rejected and adds the events or notes to *items. */
static size_t pass_events(const input_list *l, size_t *items) {
    size_t errors = 0;
    for (size_t i = 0; i < l->n; i++) {
        gb_midi m;
        if (gb_midi_parse(l->v[i].data, l->v[i].len, &m, NULL) != GB_OK) {
            errors++;
            continue;
        }
        for (size_t t = 0; t < m.n_tracks; t++) *items += m.tracks[t].n_events;
        gb_midi_free(&m);
    }
    return errors;
}

static size_t pass_notes(const input_list *l, size_t *items) {
    size_t errors = 0;
    for (size_t i = 0; i < l->n; i++) {
        gb_song s;
        if (gb_song_parse(l->v[i].data, l->v[i].len, &s, NULL) != GB_OK) {
            errors++;
            continue;
        }
        for (size_t p = 0; p < s.n_parts; p++) *items += s.parts[p].n_notes;
        gb_song_free(&s);
    }
    return errors;
}

static void run_level(const char *name, size_t (*pass)(const input_list *, size_t *),
                      const input_list *l, size_t bytes, double min_seconds) {
    size_t items = 0, errors = pass(l, &items); /* warm-up, and the per-pass counts */
    size_t passes = 0, sink = 0;
    double t0 = now(), dt;
    do {
        pass(l, &sink);
        passes++;
        dt = now() - t0;
    } while (dt < min_seconds);
    if (sink != items * passes) die("%s", "passes disagree (nondeterministic parse?)");
    printf("level=%s bytes=%zu files=%zu passes=%zu seconds=%.4f mb_s=%.2f files_s=%.1f "
           "errors=%zu items=%zu\n",
           name, bytes, l->n, passes, dt, (double)bytes * passes / dt / 1e6,
           (double)l->n * passes / dt, errors, items);
    fflush(stdout);
}

int main(int argc, char **argv) {
    double min_seconds = 2.0;
    const char *only = NULL;
    input_list l = {0};
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-t")) {
            char *end;
            errno = 0;
            min_seconds = strtod(argv[i + 1], &end);
            if (errno || *end || min_seconds < 0) die("bad -t value '%s'", argv[i + 1]);
        } else if (!strcmp(argv[i], "-l")) {
            only = argv[i + 1];
            if (strcmp(only, "events") && strcmp(only, "notes")) die("unknown level '%s'", only);
        } else {
            die("unknown option '%s'", argv[i]);
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: bench_parse [-t SECONDS] [-l events|notes] PATH...\n");
        return 2;
    }
    for (; i < argc; i++) collect(&l, argv[i], 1);
    if (!l.n) die("%s", "no MIDI files found");
    qsort(l.v, l.n, sizeof *l.v, cmp_input);
    size_t bytes = 0;
    for (size_t k = 0; k < l.n; k++) {
        load(&l.v[k]);
        bytes += l.v[k].len;
    }
    if (!only || !strcmp(only, "events")) run_level("events", pass_events, &l, bytes, min_seconds);
    if (!only || !strcmp(only, "notes")) run_level("notes", pass_notes, &l, bytes, min_seconds);
    for (size_t k = 0; k < l.n; k++) {
        free(l.v[k].path);
        free(l.v[k].data);
    }
    free(l.v);
    return 0;
}
