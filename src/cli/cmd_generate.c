/* cmd_generate.c - placeholder until `groovybee generate` lands. */
#include "cli/cli.h"

int cmd_generate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "groovybee generate: not built yet\n");
    return EXIT_RUNTIME;
}
