/* plot.h - pictures as PNG files: a song as a piano roll or as the report's "predicted notes"
 * figure (the velocity of each pitch over time), and a training log as loss curves.
 * Error messages begin with the file they concern: the log read or the PNG written. */
#ifndef GB_PLOT_H
#define GB_PLOT_H

#include "groovybee.h"

#define GB_PLOT_WIDTH 1600 /* default picture size in pixels */
#define GB_PLOT_HEIGHT 900
#define GB_PLOT_MIN_SIDE 256 /* accepted widths and heights */
#define GB_PLOT_MAX_SIDE 8192

typedef struct {
    int width, height; /* pixels, GB_PLOT_MIN_SIDE..GB_PLOT_MAX_SIDE; 0 = the default */
    int lines;         /* 1: the report's "predicted notes" figure instead of the piano roll */
    const char *title; /* NULL or "": none */
} gb_plot_opts;

void gb_plot_opts_default(gb_plot_opts *o);

/* The song as a piano roll (or, with o->lines, velocity lines) PNG, written atomically.
 * o may be NULL for the defaults. */
gb_status gb_plot_song_png(const gb_song *s, const gb_plot_opts *o, const char *path,
                           gb_error *err);
/* A training log (JSON Lines, one object per epoch with "epoch", "train_loss" and optionally
 * "valid_loss", each a number or null) as loss curves in a PNG: training in
 * gb_plot_part_colour(0), validation (left out when it is null throughout) in
 * gb_plot_part_colour(3). A malformed line is an error that names its number, and then nothing
 * is written. o->lines is ignored. */
gb_status gb_plot_loss_png(const char *jsonl_path, const gb_plot_opts *o, const char *path,
                           gb_error *err);

/* Where things land, for callers that look at the pixels (the tests). */
typedef struct {
    int x0, y0, x1, y1; /* the data area in pixels: [x0, x1) x [y0, y1) */
    double u0, u1;      /* data range across: seconds or epochs */
    double v0, v1;      /* data range up: pitch, velocity or loss */
} gb_plot_frame;

/* Pixel coordinates of data values (continuous: pixel k spans k..k+1). */
double gb_plot_x(const gb_plot_frame *f, double u);
double gb_plot_y(const gb_plot_frame *f, double v);
/* The frame gb_plot_song_png draws s in. In the piano roll pitch p fills v in p +- 0.5 and
 * its notes span the seconds of their start and end ticks. */
gb_status gb_plot_song_frame(const gb_song *s, const gb_plot_opts *o, gb_plot_frame *f,
                             gb_error *err);
/* 0xRRGGBB of part i: a palette of 10 colours, cycled. A note at velocity 127 has exactly this
 * colour; softer notes blend toward white. */
uint32_t gb_plot_part_colour(size_t i);

#endif
