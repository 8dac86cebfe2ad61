/* api.h - internal: what the public API's opaque types hold (include/groovybee.h, "Models").
 * src/api/ is the library's top layer, the one the CLI's generate, train, eval and compare
 * call: model.c (loading, precision), generate.c, train.c (configuration and runs), and the
 * evaluation and comparison of music. */
#ifndef GB_API_H
#define GB_API_H

#include "io/checkpoint.h"

struct gb_model {
    char *path;
    gb_lstm net;
    gb_model_info info;
};

#endif
