/* plot_compare.c - the features of sets of pieces side by side (gb_plot_compare_png): the title and
 * a legend of the sets on top, then one panel per feature in a grid. Each panel is a set of
 * plot.c's axes (frame.h) drawn on a canvas of its own, then copied into the picture. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "plot/canvas.h"
#include "plot/frame.h"
#include "plot/plot.h"

enum {
    MAX_BINS = 20,    /* bins of a number's histogram, at most */
    CLASSES = 12,     /* of the 12-class histograms and each side of the transitions */
    CELLS = 144,      /* the largest feature */
    LEGEND_TEXT = 64, /* a set's legend entry: label and count */
};

static const char *const PITCH_CLASS[CLASSES] = {"C",  "C#", "D",  "D#", "E",  "F",
                                                 "F#", "G",  "G#", "A",  "A#", "B"};
/* The note-length classes (gb_length_class_names) in short: the fraction of a whole note, then
 * "." for dotted or "t" for triplet (the panel's axis name says so). */
static const char *const LENGTH_SHORT[CLASSES] = {"1",    "1/2",  "1/4",  "1/8",
                                                  "1/16", "1/2.", "1/4.", "1/8.",
                                                  "1/16.", "1/2t", "1/4t", "1/8t"};

/* A pixel coordinate of x, within reach of any canvas (and 0 for a NaN). */
static int pix(double x) {
    if (!(x > -1e6)) return x == x ? -1000000 : 0;
    return x < 1e6 ? (int)floor(x) : 1000000;
}

/* ------------------------------------------------------------------------------------------ */
/* the sheet: title, legend, grid of panels */

typedef struct {
    const gb_piece_set *const *sets;
    size_t n;
    const char *title;
    int w, h, s;      /* picture; text scale of the title and the legend */
    int pad, row_h;   /* margin; a legend row */
    int legend_y;     /* the legend's first row */
    int top;          /* the panels fill [0, w) x [top, h) */
    int cols, rows;
} sheet;

static void legend_text(const sheet *S, size_t k, char out[LEGEND_TEXT]) {
    const gb_piece_set *set = S->sets[k];
    char label[LEGEND_CHARS + 1], unnamed[16];
    snprintf(unnamed, sizeof unnamed, "set %zu", k + 1);
    gb_plot_fit_text(set->label[0] ? set->label : unnamed, LEGEND_CHARS, label, sizeof label);
    snprintf(out, LEGEND_TEXT, "%s (%zu piece%s)", label, set->n, set->n == 1 ? "" : "s");
}

static int legend_entry_w(const sheet *S, size_t k) {
    char text[LEGEND_TEXT];
    legend_text(S, k, text);
    return 7 * S->s + GB_FONT_ADVANCE * S->s + gb_font_width(text, S->s);
}

/* The sets' swatches and texts in rows as wide as the picture, each row centred; returns the
 * number of rows (and draws them when c is not NULL). */
static int legend_rows(const sheet *S, gb_canvas *c) {
    int s = S->s, sep = 4 * GB_FONT_ADVANCE * s, avail = S->w - 2 * S->pad, rows = 0;
    for (size_t first = 0; first < S->n; rows++) {
        size_t last = first;
        int width = legend_entry_w(S, first);
        while (last + 1 < S->n && width + sep + legend_entry_w(S, last + 1) <= avail)
            width += sep + legend_entry_w(S, ++last);
        if (c) {
            int x = (S->w - width) / 2, y = S->legend_y + rows * S->row_h;
            for (size_t k = first; k <= last; k++) {
                char text[LEGEND_TEXT];
                legend_text(S, k, text);
                gb_canvas_rect(c, x, y, x + 7 * s, y + 7 * s, gb_plot_part_colour(k));
                gb_font_draw(c, x + 7 * s + GB_FONT_ADVANCE * s, y, text, s, INK);
                x += legend_entry_w(S, k) + sep;
            }
        }
        first = last + 1;
    }
    return rows;
}

static gb_status sheet_plan(const gb_piece_set *const *sets, size_t n_sets,
                            const gb_plot_opts *o, sheet *S, gb_error *err) {
    memset(S, 0, sizeof *S);
    if (n_sets == 0 || n_sets > GB_PLOT_MAX_SETS || !sets)
        return gb_fail(err, GB_ERR_ARG, -1, "%zu sets of pieces: 1..%d can be drawn", n_sets,
                       GB_PLOT_MAX_SETS);
    for (size_t k = 0; k < n_sets; k++)
        if (!sets[k] || (sets[k]->n && !sets[k]->pieces))
            return gb_fail(err, GB_ERR_ARG, -1, "set %zu of %zu has no pieces array", k + 1,
                           n_sets);
    gb_plot_opts size = {.width = o && o->width ? o->width : GB_PLOT_COMPARE_WIDTH,
                         .height = o && o->height ? o->height : GB_PLOT_COMPARE_HEIGHT};
    gb_status st = gb_plot_picture_size(&size, &S->w, &S->h, err);
    if (st != GB_OK) return st;
    S->sets = sets, S->n = n_sets, S->title = o && o->title && *o->title ? o->title : NULL;
    int s = S->w / 800 < S->h / 450 ? S->w / 800 : S->h / 450; /* 2 at the default size */
    S->s = s = s > 1 ? s : 1;
    S->pad = GB_FONT_LINE * s, S->row_h = GB_FONT_LINE * s + 2 * s;
    S->legend_y = S->pad + (S->title ? GB_FONT_LINE * (s + 1) + S->pad / 2 : 0);
    S->top = S->legend_y + legend_rows(S, NULL) * S->row_h + S->pad / 2;
    if (S->top > S->h / 2) S->top = S->h / 2; /* a tiny picture: the legend is cut */
    /* The grid whose panels are closest to a little wider than tall. */
    double best = INFINITY;
    for (int cols = 1; cols <= GB_F_COUNT; cols++) {
        int rows = (GB_F_COUNT + cols - 1) / cols;
        double aspect = ((double)S->w / cols) / ((double)(S->h - S->top) / rows);
        double off = fabs(log(aspect / 1.15));
        if (off < best) best = off, S->cols = cols, S->rows = rows;
    }
    return GB_OK;
}

static void panel_rect(const sheet *S, int i, int *x0, int *y0, int *x1, int *y1) {
    int col = i % S->cols, row = i / S->cols, hp = S->h - S->top;
    *x0 = col * S->w / S->cols, *x1 = (col + 1) * S->w / S->cols;
    *y0 = S->top + row * hp / S->rows, *y1 = S->top + (row + 1) * hp / S->rows;
}

/* ------------------------------------------------------------------------------------------ */
/* one panel, in its own pixels */

typedef struct {
    const sheet *S;
    gb_feature_id id;
    int dim;
    int n_bins;
    double bin0, bin_w;
    int has[GB_PLOT_MAX_SETS];             /* the set has a value of the feature */
    double mean[GB_PLOT_MAX_SETS];         /* a number's mean over the set */
    double val[GB_PLOT_MAX_SETS][CELLS];   /* % of the set's pieces in bin b (numbers), mean
                                              share in % (histograms), mean share (transitions) */
    double top;                            /* the largest val */
    const char *const *names;              /* a histogram's class names */
    int label_rows, label_stride;          /* how its class names fit under the bars */
    char xlabel[LABEL_LEN];
    axes a;
    layout L;
    int map_x0, map_y0, map_cols, map_step_x, map_step_y, map_cell_w, map_cell_h; /* maps */
} panel;

/* The piece's values of the feature, or NULL when it has none (undefined or not finite). */
static const double *values(const gb_piece *p, gb_feature_id id) {
    const gb_feature_info *fi = &gb_features[id];
    if (p->f.undef[id]) return NULL;
    for (int i = 0; i < fi->dim; i++)
        if (!isfinite(p->f.v[fi->offset + i])) return NULL;
    return p->f.v + fi->offset;
}

/* The narrowest bins over [lo, hi] that need no more than MAX_BINS: 1, 2 or 5 x 10^k whole
 * numbers wide, each number in the middle of its bin, for whole-numbered features; else
 * 1, 2, 2.5 or 5 x 10^k wide from a multiple of that. */
static void make_bins(double lo, double hi, int whole, panel *P) {
    static const double STEPS[4] = {1, 2, 2.5, 5};
    if (!(hi > lo)) { /* one bin around the value */
        P->bin_w = whole ? 1 : 0.1 * fmax(fabs(lo), 1);
        P->bin0 = lo - P->bin_w / 2, P->n_bins = 1;
        return;
    }
    double range = hi - lo;
    if (!isfinite(range)) range = 1.7e308;
    double mag = pow(10, floor(log10(range / MAX_BINS)) - 1);
    if (whole && mag < 1) mag = 1;
    for (;; mag *= 10)
        for (int i = 0; i < 4; i++) {
            if (whole && STEPS[i] == 2.5) continue;
            double w = STEPS[i] * mag, start = floor(lo / w) * w;
            double n = whole ? floor(hi / w) - floor(lo / w) + 1 : ceil(hi / w - start / w);
            if (n <= MAX_BINS) {
                P->bin_w = w, P->bin0 = whole ? start - 0.5 : start;
                P->n_bins = n >= 1 ? (int)n : 1;
                return;
            }
        }
}

static int is_whole(gb_feature_id id) {
    return id == GB_F_PITCH_COUNT || id == GB_F_PITCH_RANGE || id == GB_F_NOTE_COUNT;
}

static void number_stats(panel *P) {
    const sheet *S = P->S;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < S->n; k++)
        for (size_t i = 0; i < S->sets[k]->n; i++) {
            const double *v = values(&S->sets[k]->pieces[i], P->id);
            if (v) lo = fmin(lo, *v), hi = fmax(hi, *v);
        }
    if (!(lo <= hi)) return; /* no values at all */
    make_bins(lo, hi, is_whole(P->id), P);
    for (size_t k = 0; k < S->n; k++) {
        size_t n = 0;
        double sum = 0;
        for (size_t i = 0; i < S->sets[k]->n; i++) {
            const double *v = values(&S->sets[k]->pieces[i], P->id);
            if (!v) continue;
            double b = floor(*v / P->bin_w - P->bin0 / P->bin_w);
            int bin = b < 0 ? 0 : b >= P->n_bins ? P->n_bins - 1 : (int)b;
            P->val[k][bin]++, n++, sum += *v;
        }
        if (!n) continue;
        P->has[k] = 1, P->mean[k] = sum / (double)n;
        for (int b = 0; b < P->n_bins; b++) P->val[k][b] *= 100.0 / (double)n;
    }
}

/* Histograms and transitions: the set's mean vector (histograms in %). */
static void mean_stats(panel *P) {
    const sheet *S = P->S;
    double scale = P->dim == CELLS ? 1 : 100;
    for (size_t k = 0; k < S->n; k++) {
        size_t n = 0;
        for (size_t i = 0; i < S->sets[k]->n; i++) {
            const double *v = values(&S->sets[k]->pieces[i], P->id);
            if (!v) continue;
            for (int c = 0; c < P->dim; c++) P->val[k][c] += v[c];
            n++;
        }
        if (!n) continue;
        P->has[k] = 1;
        for (int c = 0; c < P->dim; c++) P->val[k][c] *= scale / (double)n;
    }
    if (P->dim == CLASSES) P->n_bins = CLASSES, P->bin0 = -0.5, P->bin_w = 1;
}

static int widest(const char *const *names, int s) {
    int w = 0;
    for (int i = 0; i < CLASSES; i++) {
        int x = gb_font_width(names[i], s);
        w = x > w ? x : w;
    }
    return w;
}

/* How 12 names fit spacing pixels apart: on one row, else alternating between two rows, else
 * every stride-th on one row. */
static void label_fit(const char *const *names, double spacing, int s, int *rows,
                      int *stride) {
    double need = widest(names, s) + GB_FONT_ADVANCE * s;
    *rows = 1, *stride = 1;
    if (spacing >= need) return;
    if (2 * spacing >= need) {
        *rows = 2;
        return;
    }
    *stride = spacing > 0 ? (int)ceil(need / spacing) : CLASSES;
}

static void class_labels(gb_canvas *c, const char *const *names, double x_first, double spacing,
                         int y, int rows, int stride, int s) {
    for (int i = 0; i < CLASSES; i += stride) {
        int row = rows == 2 ? i % 2 : 0;
        gb_plot_text_centred(c, x_first + i * spacing, y + row * GB_FONT_LINE * s, names[i], s,
                             INK);
    }
}

static void bar_px(const gb_plot_frame *f, size_t n_sets, double bin0, double bin_w, size_t k,
                   int b, int *x0, int *x1) {
    double left = bin0 + bin_w * (b + 0.1), width = 0.8 * bin_w / (double)n_sets;
    *x0 = pix(gb_plot_x(f, left + (double)k * width));
    *x1 = pix(gb_plot_x(f, left + (double)(k + 1) * width));
    if (*x1 <= *x0) *x1 = *x0 + 1;
}

/* The heat maps side by side, centred, in as many rows as make their cells half as large
 * again as one row would, the cells up to twice as tall as wide or wide as tall; the frame is
 * drawn close around them. */
static void map_layout(panel *P) {
    gb_plot_frame *f = &P->L.f;
    int n = (int)P->S->n, g = 4 * P->L.s, wide = f->x1 - f->x0, high = f->y1 - f->y0;
    double best = 0;
    for (int rows = 1, prev_cols = 0; rows <= n; rows++) {
        int cols = (n + rows - 1) / rows;
        if (cols == prev_cols) continue;
        prev_cols = cols;
        int cw = (wide - (cols + 1) * g) / (CLASSES * cols);
        int ch = (high - (rows + 1) * g) / (CLASSES * rows);
        cw = cw > 1 ? cw : 1, ch = ch > 1 ? ch : 1;
        cw = cw < 2 * ch ? cw : 2 * ch, ch = ch < 2 * cw ? ch : 2 * cw;
        if (rows > 1 && cw * ch <= 1.5 * best) continue;
        best = cw * ch;
        P->map_cols = cols, P->map_cell_w = cw, P->map_cell_h = ch;
    }
    int cols = P->map_cols, rows = (n + cols - 1) / cols;
    P->map_step_x = CLASSES * P->map_cell_w + g, P->map_step_y = CLASSES * P->map_cell_h + g;
    int block_w = cols * P->map_step_x - g, block_h = rows * P->map_step_y - g;
    P->map_x0 = f->x0 + (wide - block_w) / 2;
    P->map_y0 = f->y0 + (high - block_h) / 2;
    if (high > block_h + 2 * g) f->y0 = P->map_y0 - g, f->y1 = P->map_y0 + block_h + g;
}

/* Everything about panel id of the sheet but its pixels, laid out in a pw x ph picture. */
static void panel_plan(const sheet *S, gb_feature_id id, int pw, int ph, panel *P) {
    memset(P, 0, sizeof *P);
    const gb_feature_info *fi = &gb_features[id];
    P->S = S, P->id = id, P->dim = fi->dim;
    if (P->dim == 1) number_stats(P);
    else mean_stats(P);
    int any = 0;
    for (size_t k = 0; k < S->n; k++) {
        any |= P->has[k];
        for (int i = 0; P->has[k] && i < (P->dim == 1 ? P->n_bins : P->dim); i++)
            P->top = fmax(P->top, P->val[k][i]);
    }
    axes *a = &P->a;
    a->title = fi->name;
    a->xlabel = P->xlabel;
    a->empty = any ? NULL : "no values";
    a->v0 = 0, a->v1 = P->top > 0 ? P->top * 1.1 : 1;
    a->grid_v = 1;
    if (P->dim == 1) {
        double span = P->n_bins ? P->n_bins * P->bin_w : 1, margin = 0.04 * span;
        a->u0 = P->bin0 - margin, a->u1 = P->bin0 + span + margin;
        a->u_whole = is_whole(id);
        a->ylabel = "% of pieces";
        snprintf(P->xlabel, sizeof P->xlabel, "%s", fi->unit);
        gb_plot_axes_layout(a, pw, ph, &P->L);
        return;
    }
    if (P->dim == CLASSES) {
        a->u0 = -0.6, a->u1 = CLASSES - 0.4;
        a->ylabel = "mean share (%)";
        a->xlabel = ""; /* drawn below the class names */
        P->names = id == GB_F_LENGTH_HIST ? LENGTH_SHORT : PITCH_CLASS;
        snprintf(P->xlabel, sizeof P->xlabel, "%s",
                 id == GB_F_LENGTH_HIST ? "whole note = 1, . dotted, t triplet"
                                        : "pitch class");
        gb_plot_axes_layout(a, pw, ph, &P->L);
        P->L.tu.n = 0;
        gb_plot_frame *f = &P->L.f;
        label_fit(P->names, (f->x1 - f->x0) / (a->u1 - a->u0), P->L.s, &P->label_rows,
                  &P->label_stride);
        if (P->label_rows == 2) f->y1 -= P->L.lh; /* room for the second row */
        return;
    }
    a->grid_v = 0, a->v1 = 1;
    a->ylabel = "rows: from, columns: to";
    a->xlabel = ""; /* drawn below the class names */
    snprintf(P->xlabel, sizeof P->xlabel, "white 0%% .. full colour %.3g%%", 100 * P->top);
    gb_plot_axes_layout(a, pw, ph, &P->L);
    P->L.tu.n = P->L.tv.n = 0;
    map_layout(P);
    P->names = PITCH_CLASS;
    label_fit(P->names, P->map_cell_w, P->L.s, &P->label_rows, &P->label_stride);
}

static void draw_bars(gb_canvas *c, const layout *L, const panel *P) {
    const gb_plot_frame *f = &L->f;
    for (size_t k = 0; k < P->S->n; k++)
        for (int b = 0; P->has[k] && b < P->n_bins; b++) {
            if (!(P->val[k][b] > 0)) continue;
            int x0, x1, y = pix(gb_plot_y(f, P->val[k][b]));
            bar_px(f, P->S->n, P->bin0, P->bin_w, k, b, &x0, &x1);
            gb_canvas_rect(c, x0, y < f->y1 ? y : f->y1 - 1, x1, f->y1, gb_plot_part_colour(k));
        }
    for (size_t k = 0; P->dim == 1 && k < P->S->n; k++) { /* the means, dashed */
        if (!P->has[k]) continue;
        int x = pix(gb_plot_x(f, P->mean[k])), dash = 4 * L->s;
        for (int y = f->y0; y < f->y1; y += 2 * dash)
            gb_canvas_rect(c, x, y, x + L->s, y + dash, gb_plot_part_colour(k));
    }
}

static void draw_maps(gb_canvas *c, const panel *P) {
    int cw = P->map_cell_w, ch = P->map_cell_h, s = P->L.s;
    for (size_t k = 0; k < P->S->n; k++) {
        int x0 = P->map_x0 + (int)k % P->map_cols * P->map_step_x;
        int y0 = P->map_y0 + (int)k / P->map_cols * P->map_step_y;
        int x1 = x0 + CLASSES * cw, y1 = y0 + CLASSES * ch;
        gb_canvas_rect(c, x0 - 1, y0 - 1, x1 + 1, y1 + 1, GRID);
        gb_canvas_rect(c, x0, y0, x1, y1, WHITE);
        if (!P->has[k]) {
            gb_plot_text_centred(c, (x0 + x1) / 2.0, (y0 + y1) / 2 - 4 * s, "none", s, FAINT);
            continue;
        }
        for (int from = 0; from < CLASSES; from++)
            for (int to = 0; to < CLASSES; to++) {
                double a = P->top > 0 ? P->val[k][from * CLASSES + to] / P->top : 0;
                int x = x0 + to * cw, y = y0 + from * ch;
                gb_canvas_rect(c, x, y, x + cw, y + ch, gb_plot_tint(gb_plot_part_colour(k), a));
            }
    }
}

static void draw_panel_data(gb_canvas *c, const layout *L, const void *ctx) {
    const panel *P = ctx;
    if (P->dim == CELLS) draw_maps(c, P);
    else draw_bars(c, L, P);
}

/* The class names and the axis name under a histogram or the heat maps. */
static void draw_class_labels(gb_canvas *c, const panel *P) {
    const layout *L = &P->L;
    const gb_plot_frame *f = &L->f;
    int s = L->s, y = f->y1 + L->b + L->tick + L->gap;
    if (P->dim == CLASSES) {
        double spacing = gb_plot_x(f, 1) - gb_plot_x(f, 0);
        for (int i = 0; i < CLASSES; i += P->label_stride) {
            int x = pix(gb_plot_x(f, i));
            gb_canvas_rect(c, x - s / 2, f->y1 + L->b, x - s / 2 + s, f->y1 + L->b + L->tick, INK);
        }
        class_labels(c, P->names, gb_plot_x(f, 0), spacing, y, P->label_rows, P->label_stride, s);
    } else if (P->dim == CELLS) {
        /* the columns' names under the bottom row of maps (when a few fit), the rows' names
         * left of the frame, where the ticks up would be */
        int n = (int)P->S->n, cols = P->map_cols, last_row = (n - 1) / cols;
        for (int k = last_row * cols; P->label_stride <= 3 && k < n; k++)
            class_labels(c, P->names, P->map_x0 + k % cols * P->map_step_x + P->map_cell_w / 2.0,
                         P->map_cell_w, y, P->label_rows, P->label_stride, s);
        int stride = (int)ceil((double)(GB_FONT_ROWS * s + s) / P->map_cell_h), cap = 7 * s;
        for (int r = 0; r <= last_row; r++)
            for (int i = 0; i < CLASSES; i += stride) {
                int yc = P->map_y0 + r * P->map_step_y + (int)((i + 0.5) * P->map_cell_h);
                gb_font_draw(c, f->x0 - L->b - L->gap - gb_font_width(PITCH_CLASS[i], s),
                             yc - cap / 2, PITCH_CLASS[i], s, INK);
            }
    } else {
        return;
    }
    int rows = P->dim == CELLS && P->label_stride > 3 ? 0 : P->label_rows;
    gb_plot_text_centred(c, (f->x0 + f->x1) / 2.0, y + rows * L->lh, P->xlabel, s, INK);
}

static void to_picture(const gb_plot_frame *in, int dx, int dy, gb_plot_frame *out) {
    *out = *in;
    out->x0 += dx, out->x1 += dx, out->y0 += dy, out->y1 += dy;
}

gb_status gb_plot_compare_panel(const gb_piece_set *const *sets, size_t n_sets,
                                const gb_plot_opts *o, gb_feature_id id, gb_plot_panel *p,
                                gb_error *err) {
    memset(p, 0, sizeof *p);
    if ((int)id < 0 || id >= GB_F_COUNT)
        return gb_fail(err, GB_ERR_ARG, -1, "no feature %d", (int)id);
    sheet S;
    gb_status st = sheet_plan(sets, n_sets, o, &S, err);
    if (st != GB_OK) return st;
    panel *P = malloc(sizeof *P);
    if (!P) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    panel_rect(&S, (int)id, &p->x0, &p->y0, &p->x1, &p->y1);
    panel_plan(&S, id, p->x1 - p->x0, p->y1 - p->y0, P);
    to_picture(&P->L.f, p->x0, p->y0, &p->f);
    p->dim = P->dim, p->n_sets = n_sets;
    p->n_bins = P->n_bins, p->bin0 = P->bin0, p->bin_w = P->bin_w;
    if (P->dim == CELLS) {
        p->map_x0 = P->map_x0 + p->x0, p->map_y0 = P->map_y0 + p->y0;
        p->map_cols = P->map_cols, p->map_step_x = P->map_step_x, p->map_step_y = P->map_step_y;
        p->map_cell_w = P->map_cell_w, p->map_cell_h = P->map_cell_h;
    }
    free(P);
    return GB_OK;
}

void gb_plot_compare_bar(const gb_plot_panel *p, size_t k, int b, int *x0, int *x1) {
    bar_px(&p->f, p->n_sets ? p->n_sets : 1, p->bin0, p->bin_w, k, b, x0, x1);
}

/* ------------------------------------------------------------------------------------------ */
/* the picture */

gb_status gb_plot_compare_png(const gb_piece_set *const *sets, size_t n_sets,
                              const gb_plot_opts *o, const char *path, gb_error *err) {
    sheet S;
    gb_error e;
    if (sheet_plan(sets, n_sets, o, &S, &e) != GB_OK)
        return gb_fail(err, e.status, -1, "%s: %s", path, e.msg);
    gb_canvas c, sub = {0};
    if (gb_canvas_init(&c, S.w, S.h, WHITE, &e) != GB_OK)
        return gb_fail(err, e.status, -1, "%s: %s", path, e.msg);
    panel *P = malloc(sizeof *P);
    gb_status st = P ? GB_OK : gb_fail(err, GB_ERR_NOMEM, -1, "%s: out of memory", path);
    if (S.title) {
        char buf[256];
        int ts = S.s + 1;
        gb_plot_fit_text(S.title, (size_t)((S.w - 2 * S.pad) / (GB_FONT_ADVANCE * ts)), buf,
                         sizeof buf);
        gb_plot_text_centred(&c, S.w / 2.0, S.pad, buf, ts, INK);
    }
    gb_canvas_clip(&c, 0, 0, S.w, S.top);
    legend_rows(&S, &c);
    gb_canvas_clip(&c, 0, 0, S.w, S.h);
    for (int id = 0; st == GB_OK && id < GB_F_COUNT; id++) {
        int x0, y0, x1, y1;
        panel_rect(&S, id, &x0, &y0, &x1, &y1);
        panel_plan(&S, (gb_feature_id)id, x1 - x0, y1 - y0, P);
        if (gb_canvas_init(&sub, x1 - x0, y1 - y0, WHITE, &e) != GB_OK) {
            st = gb_fail(err, e.status, -1, "%s: %s", path, e.msg);
            break;
        }
        gb_plot_axes_draw(&sub, &P->a, &P->L, draw_panel_data, P);
        if (!P->a.empty) draw_class_labels(&sub, P);
        for (int y = 0; y < sub.h; y++)
            memcpy(c.px + ((size_t)(y0 + y) * (size_t)c.w + (size_t)x0) * 3,
                   sub.px + (size_t)y * (size_t)sub.w * 3, (size_t)sub.w * 3);
        gb_canvas_free(&sub);
    }
    free(P);
    if (st == GB_OK) st = gb_canvas_png(&c, path, err);
    gb_canvas_free(&c);
    return st;
}
