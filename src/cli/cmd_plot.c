/* cmd_plot.c - placeholder until `groovybee plot` lands. */
#include "cli/cli.h"

int cmd_plot(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "groovybee plot: not built yet\n");
    return EXIT_RUNTIME;
}
