/* cmd_render.c - placeholder until `groovybee render` lands. */
#include "cli/cli.h"

int cmd_render(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "groovybee render: not built yet\n");
    return EXIT_RUNTIME;
}
