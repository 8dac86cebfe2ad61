/* cmd_plot.c - `groovybee plot`: a MIDI file as a piano roll (or the report's "predicted notes"
 * lines), or a training log as loss curves, in a PNG. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "plot/plot.h"

static const char *HELP =
    "usage: groovybee plot FILE.mid -o OUT.png [--lines] [--width W] [--height H] [--title TEXT]\n"
    "       groovybee plot --loss LOG.jsonl -o OUT.png [--width W] [--height H] [--title TEXT]\n"
    "\n"
    "Draws a MIDI file as a piano roll: time across in seconds with a line at each bar, pitch\n"
    "up with each C named (C4 = 60), one colour per part, louder notes darker, and a legend of\n"
    "the parts with their General MIDI instruments. --lines draws the report's \"predicted\n"
    "notes\" figure instead: the velocity of each sounding pitch over time, one colour per\n"
    "pitch. --loss draws a training log (`train --log`) as training and validation loss per\n"
    "epoch.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT.png   the picture to write (required)\n"
    "  --lines                velocity lines per pitch instead of the piano roll [off]\n"
    "  --loss LOG.jsonl       plot this training log instead of a MIDI file\n"
    "  --width W              width in pixels, %d to %d [%d]\n"
    "  --height H             height in pixels, %d to %d [%d]\n"
    "  --title TEXT           title at the top, '' for none [the input's file name]\n"
    "  -h, --help             show this help\n";

int cmd_plot(int argc, char **argv) {
    enum { O_LINES = 256, O_LOSS, O_WIDTH, O_HEIGHT, O_TITLE };
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"lines", no_argument, 0, O_LINES},
                                         {"loss", required_argument, 0, O_LOSS},
                                         {"width", required_argument, 0, O_WIDTH},
                                         {"height", required_argument, 0, O_HEIGHT},
                                         {"title", required_argument, 0, O_TITLE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    gb_plot_opts o;
    gb_plot_opts_default(&o);
    const char *out = NULL, *loss = NULL;
    int c, has_title = 0;
    long v;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case O_LINES: o.lines = 1; break;
        case O_LOSS: loss = optarg; break;
        case O_WIDTH:
        case O_HEIGHT:
            if (!cli_int("plot", c == O_WIDTH ? "--width" : "--height", optarg, GB_PLOT_MIN_SIDE,
                         GB_PLOT_MAX_SIDE, &v))
                return EXIT_USAGE;
            *(c == O_WIDTH ? &o.width : &o.height) = (int)v;
            break;
        case O_TITLE: o.title = optarg, has_title = 1; break;
        case 'h':
            printf(HELP, GB_PLOT_MIN_SIDE, GB_PLOT_MAX_SIDE, GB_PLOT_WIDTH, GB_PLOT_MIN_SIDE,
                   GB_PLOT_MAX_SIDE, GB_PLOT_HEIGHT);
            return EXIT_OK;
        default: return cli_usage_error("plot", "bad option");
        }
    }
    if (!out) return cli_usage_error("plot", "-o OUT.png is required");
    gb_error e;
    gb_status st;
    if (loss) {
        if (optind != argc) return cli_usage_error("plot", "--loss takes no FILE.mid");
        if (o.lines) return cli_usage_error("plot", "--lines is for MIDI files, not --loss");
        if (!has_title) o.title = cli_base_name(loss);
        st = gb_plot_loss_png(loss, &o, out, &e);
    } else {
        const char *path;
        gb_song s;
        int status = cli_read_one_song("plot", argc, argv, &path, &s);
        if (status != EXIT_OK) return status;
        if (!has_title) o.title = cli_base_name(path);
        st = gb_plot_song_png(&s, &o, out, &e);
        gb_song_free(&s);
    }
    if (st != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg); /* the message names the file */
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}
