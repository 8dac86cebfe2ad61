/* plot.h - pictures as PNG files: a song as a piano roll or as the report's "predicted notes"
 * figure (the velocity of each pitch over time), a training log as loss curves, and the
 * features of sets of pieces side by side (compare.c).
 * Error messages begin with the file they concern: the log read or the PNG written. */
#ifndef GB_PLOT_H
#define GB_PLOT_H

#include "groovybee.h"
#include "metrics/metrics.h"

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

/* The features of sets of pieces side by side in a PNG, written atomically: one panel per
 * feature (gb_features order, in a grid), set k in gb_plot_part_colour(k), a legend on top
 * naming each set and its number of pieces, o->title above it. A piece leaves out the features
 * it has undefined (and any value that is not finite).
 * - A number (dim 1): a histogram per set over bins shared by all sets (at most 20 of 1, 2, 2.5
 *   or 5 x 10^k, the narrowest that do; whole numbers each in the middle of its bin for the
 *   counts and the pitch range; one bin around a value that never varies), the sets' bars side
 *   by side in each bin, each the % of its set's pieces that have the feature, and a thin
 *   dashed line of its colour at the set's mean.
 * - A 12-class histogram: the set's mean shares in %, the bars side by side in each class.
 * - The 12 x 12 pitch-class transitions: a heat map of each set's mean matrix (row = from,
 *   column = to), side by side (in rows of maps when one row would leave the cells too small),
 *   from white at 0 to the set's colour at the largest share of any set.
 * A set without pieces, or without a defined value of a feature, has no bars in that panel.
 * o may be NULL; its 0 sides are GB_PLOT_COMPARE_WIDTH x GB_PLOT_COMPARE_HEIGHT, o->lines is
 * ignored. GB_ERR_ARG for 0 or more than GB_PLOT_MAX_SETS sets or a size outside
 * GB_PLOT_MIN_SIDE..GB_PLOT_MAX_SIDE. */
#define GB_PLOT_MAX_SETS 10
#define GB_PLOT_COMPARE_WIDTH 2000
#define GB_PLOT_COMPARE_HEIGHT 1400
gb_status gb_plot_compare_png(const gb_piece_set *const *sets, size_t n_sets,
                              const gb_plot_opts *o, const char *path, gb_error *err);

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
/* Where gb_plot_compare_png draws feature id. */
typedef struct {
    int x0, y0, x1, y1; /* the whole panel in the picture, title and labels included */
    gb_plot_frame f;    /* its data area; v up: % (the transitions panel: unused) */
    int dim;            /* gb_features[id].dim */
    size_t n_sets;
    /* Numbers and 12-class histograms: n_bins bins, bin b spanning u in bin0 + [b, b + 1) *
     * bin_w (a histogram's class c is bin c, around u = c); the last bin of a number also holds
     * its upper edge. n_bins is 0 when no set has a value. */
    int n_bins;
    double bin0, bin_w;
    /* Transitions: set k's map has its top-left corner at (map_x0 + k % map_cols *
     * map_step_x, map_y0 + k / map_cols * map_step_y) and 12 x 12 cells of map_cell_w x
     * map_cell_h pixels, cell (from, to) in row from and column to. */
    int map_x0, map_y0, map_cols, map_step_x, map_step_y, map_cell_w, map_cell_h;
} gb_plot_panel;

gb_status gb_plot_compare_panel(const gb_piece_set *const *sets, size_t n_sets,
                                const gb_plot_opts *o, gb_feature_id id, gb_plot_panel *p,
                                gb_error *err);
/* The pixel columns [x0, x1) of set k's bar in bin b of a panel with bins; the bar rises from
 * p->f.y1 to gb_plot_y(&p->f, its %). */
void gb_plot_compare_bar(const gb_plot_panel *p, size_t k, int b, int *x0, int *x1);

/* 0xRRGGBB of part i: a palette of 10 colours, cycled. A note at velocity 127 has exactly this
 * colour; softer notes blend toward white. */
uint32_t gb_plot_part_colour(size_t i);

#endif
