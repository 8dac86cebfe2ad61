/* frame.h - plot.c's axes for the figures in other files (compare.c), internal to src/plot:
 * a set of axes (title, axis names, nice ticks, grid, legend) laid out in a w x h picture and
 * drawn around the data, plus the small drawing helpers they share. */
#ifndef GB_PLOT_FRAME_H
#define GB_PLOT_FRAME_H

#include "plot/canvas.h"
#include "plot/plot.h"

#define WHITE 0xFFFFFF
#define INK 0x222222   /* text, axes */
#define FAINT 0x888888 /* "no notes" */
#define GRID 0xE2E2E2  /* gridlines at ticks */

enum {
    MAX_TICKS = 32,
    LEGEND_CHARS = 32, /* longer legend texts are cut */
    LABEL_LEN = 48,
};

/* Legend entry i: its colour and text. */
typedef void (*legend_fn)(const void *ctx, size_t i, gb_rgb *col, char *text, size_t cap);

typedef struct {
    const char *title, *xlabel, *ylabel;
    double u0, u1, v0, v1;
    int u_whole;      /* ticks across on whole numbers only (epochs) */
    int v_pitch;      /* ticks up at each C, named C4 (= 60) ..., instead of numbers */
    int grid_u, grid_v;
    const char *empty; /* when not NULL: there is no data, say this in the middle */
    const char *legend_title;
    legend_fn legend;
    const void *ctx; /* the legend's */
    size_t n_legend;
} axes;

typedef struct {
    double at[MAX_TICKS + 1];
    int n, decimals;
} ticks;

typedef struct {
    int w, s; /* canvas width; text scale */
    int lh, b, tick, gap, pad;
    gb_plot_frame f;
    ticks tu, tv;
    int legend_x, legend_chars; /* legend column; legend_chars 0 when there is none */
} layout;

/* Draws the data inside the frame (the canvas is clipped to it). */
typedef void (*data_fn)(gb_canvas *c, const layout *L, const void *ctx);

/* Where everything of a lands in a w x h picture; the text scale grows with the picture. A
 * caller may drop ticks (L->tu.n = 0) to label the axis itself. */
void gb_plot_axes_layout(const axes *a, int w, int h, layout *L);
/* Grid, data (clipped to the frame), then frame, ticks, names, title and legend on c, whose
 * top-left corner is the layout's (0, 0). */
void gb_plot_axes_draw(gb_canvas *c, const axes *a, const layout *L, data_fn data,
                       const void *ctx);
/* o's size, GB_PLOT_WIDTH x GB_PLOT_HEIGHT where it is 0 (or o is NULL); GB_ERR_ARG outside
 * GB_PLOT_MIN_SIDE..GB_PLOT_MAX_SIDE. */
gb_status gb_plot_picture_size(const gb_plot_opts *o, int *w, int *h, gb_error *err);

/* a from white (0) to c (1) */
gb_rgb gb_plot_tint(gb_rgb c, double a);
/* s cut to at most max characters (and cap - 1), ".." marking the cut. */
void gb_plot_fit_text(const char *s, size_t max, char *out, size_t cap);
void gb_plot_text_centred(gb_canvas *c, double x, int y, const char *s, int scale, gb_rgb col);

#endif
