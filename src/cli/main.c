/* main.c - the groovybee command: a table of subcommands. */
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"info", cmd_info, "describe a MIDI file: format, tempo map, parts"},
    {"notes", cmd_notes, "list a MIDI file's notes as CSV"},
    {"encode", cmd_encode, "MIDI parts -> piano rolls (.npy)"},
    {"decode", cmd_decode, "piano rolls (.npy) -> one MIDI file"},
    {"train", cmd_train, "train the LSTM on a MIDI corpus -> MODEL.safetensors"},
    {"eval", cmd_eval, "a model's loss and frame NLL on MIDI files"},
    {"generate", cmd_generate, "new music from one or more models -> MIDI (and WAV, PNG)"},
    {"render", cmd_render, "MIDI -> WAV with FluidSynth and a General MIDI soundfont"},
    {"plot", cmd_plot, "MIDI -> piano-roll PNG; training log -> loss curve PNG"},
    {"compare", cmd_compare, "generated MIDI against a corpus: features, KL, overlap, copying"},
    {"report", cmd_report, "a page for generated pieces: rolls, audio, the comparison"},
    {"listen", cmd_listen, "a blind listening test: make a kit of pairs, score the answers"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "groovybee %s - learn a MIDI collection with an LSTM and write new music\n\n"
               "usage: groovybee COMMAND [OPTIONS] ...\n\ncommands:\n",
            GB_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'groovybee COMMAND --help' shows a command's options and their defaults.\n"
               "Exit status: 0 ok, 1 runtime error, 2 usage error.\n");
}

int main(int argc, char **argv) {
    gb_openblas_coretype_fix(argv); /* may re-execute the program, before any product */
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("groovybee %s\nkernels: %s\nprecision: %s by default for train and generate "
               "(--precision auto), fp32 for eval\n",
               GB_VERSION, gb_kernels_line(), gb_bf16_faster() ? "bf16" : "fp32");
        return EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "groovybee: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
