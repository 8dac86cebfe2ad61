/* cli.h - what the subcommands share: error reporting, option parsing, text helpers.
 * Exit codes: 0 ok, 1 runtime error, 2 usage error. Logs and errors go to stderr, data to
 * stdout. */
#ifndef GB_CLI_H
#define GB_CLI_H

#include <stdio.h>

#include "groovybee.h"
#include "model/gemm.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

int cmd_info(int argc, char **argv);
int cmd_notes(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_listen(int argc, char **argv);

/* "groovybee: FILE: at byte N: message" on stderr. */
void cli_error(const char *file, const gb_error *e);
/* A corpus file that is skipped: the cli_error line with " (skipped)"; a gb_ds_warn_fn. */
void cli_warn_skipped(void *ctx, const char *file, const gb_error *e);
/* Prints "groovybee CMD: message" and a hint to --help on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...);
/* Parses an integer option in [lo, hi]; on failure reports a usage error and returns 0. */
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi,
               double *out);

/* The one FILE.mid left after options (argv[optind]), read into s; on failure reports it and
 * returns the exit status, else EXIT_OK. */
int cli_read_one_song(const char *cmd, int argc, char **argv, const char **path, gb_song *s);

/* The file name of a path ("dir/a.mid" -> "a.mid"), and its stem without the last extension
 * ("a.mid" -> "a"; a name that is all extension, ".x", kept whole), cut to cap - 1 bytes. */
const char *cli_base_name(const char *path);
void cli_stem(const char *path, char *out, size_t cap);

/* --precision ARG of cmd: "fp32", "bf16" or "auto" (bf16 where it is the faster, gb_bf16_faster,
 * else fp32). bf16 asked on a CPU without bf16 instructions says so on stderr and gives fp32.
 * Returns 0 and reports a usage error for anything else. */
int cli_precision(const char *cmd, const char *arg, gb_precision *out);
#define CLI_PRECISION_HELP "fp32, bf16 or auto (bf16 where faster: AMX, or AMD's AVX512-BF16)"
const char *cli_precision_name(gb_precision p);

/* Scientific pitch name: 60 -> "C4", 61 -> "C#4". */
const char *cli_pitch_name(int pitch, char buf[8]);
/* Writes s as a JSON string literal. */
void cli_json_str(FILE *f, const char *s);

/* The model groovybee ships (models/default.safetensors, and its primers/ beside it), for
 * `generate` without a model: $GROOVYBEE_DATA/default.safetensors when that is set, else found
 * from the executable's own place: PREFIX/bin -> PREFIX/share/groovybee (installed), build/ ->
 * models/ (the source tree). Into buf; NULL when none is there. */
const char *cli_shipped_model(char *buf, size_t cap);

#endif
