/* cli.c - helpers shared by the subcommands. */
#define _DEFAULT_SOURCE /* readlink */
#include "cli/cli.h"
#include "core/core.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void report(const char *file, const gb_error *e, const char *tail) {
    if (e->offset >= 0)
        fprintf(stderr, "groovybee: %s: at byte %lld: %s%s\n", file, (long long)e->offset, e->msg,
                tail);
    else
        fprintf(stderr, "groovybee: %s: %s%s\n", file, e->msg, tail);
}

void cli_error(const char *file, const gb_error *e) { report(file, e, ""); }

void cli_warn_skipped(void *ctx, const char *file, const gb_error *e) {
    (void)ctx;
    report(file, e, " (skipped)");
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    fprintf(stderr, "groovybee %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'groovybee %s --help'.\n", cmd);
    return EXIT_USAGE;
}

int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_usage_error(cmd, "%s wants an integer from %ld to %ld, not '%s'", opt, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi,
               double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        cli_usage_error(cmd, "%s wants a number from %g to %g, not '%s'", opt, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_read_one_song(const char *cmd, int argc, char **argv, const char **path, gb_song *s) {
    if (optind != argc - 1) return cli_usage_error(cmd, "wants exactly one FILE.mid");
    *path = argv[optind];
    gb_error e;
    if (gb_song_read(*path, s, &e) != GB_OK) {
        cli_error(*path, &e);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

const char *cli_base_name(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

void cli_stem(const char *path, char *out, size_t cap) {
    const char *b = cli_base_name(path), *dot = strrchr(b, '.');
    size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    if (n >= cap) n = cap - 1;
    memcpy(out, b, n);
    out[n] = 0;
}

const char *cli_pitch_name(int pitch, char buf[8]) {
    static const char *const names[12] = {"C", "C#", "D", "D#", "E", "F",
                                    "F#", "G", "G#", "A", "A#", "B"};
    snprintf(buf, 8, "%s%d", names[pitch % 12], (pitch & 127) / 12 - 1);
    return buf;
}

void cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

int cli_precision(const char *cmd, const char *arg, gb_precision *out) {
    if (strcmp(arg, "fp32") && strcmp(arg, "bf16") && strcmp(arg, "auto"))
        return cli_usage_error(cmd, "--precision wants fp32, bf16 or auto, not '%s'", arg), 0;
    *out = !strcmp(arg, "bf16") ? (gb_bf16_native() ? GB_PREC_BF16 : GB_PREC_FP32)
           : !strcmp(arg, "auto") && gb_bf16_faster() ? GB_PREC_BF16 : GB_PREC_FP32;
    if (!strcmp(arg, "bf16") && *out != GB_PREC_BF16)
        fprintf(stderr, "groovybee %s: --precision bf16: this CPU has no bf16 instructions "
                "(AVX512-BF16 or AMX; %s): fp32 instead\n", cmd, gb_kernels_line());
    return 1;
}

const char *cli_precision_name(gb_precision p) { return p == GB_PREC_BF16 ? "bf16" : "fp32"; }

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

const char *cli_shipped_model(char *buf, size_t cap) {
    const char *env = getenv("GROOVYBEE_DATA");
    if (env && *env) {
        snprintf(buf, cap, "%s/default.safetensors", env);
        return is_file(buf) ? buf : NULL;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    *slash = 0; /* the executable's folder */
    static const char *const rel[] = {"../share/groovybee", "../models"};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        char path[8192], *real;
        snprintf(path, sizeof path, "%s/%s/default.safetensors", exe, rel[i]);
        if (is_file(path) && (real = realpath(path, NULL))) {
            snprintf(buf, cap, "%s", real);
            free(real);
            return buf;
        }
    }
    return NULL;
}
