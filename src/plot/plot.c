/* plot.c - the figures. One set of axes (layout, nice ticks, title, legend) serves the piano
 * roll, the "predicted notes" lines and the loss curves; each figure adds only its data.
 * frame.h lends the axes to the other figures (compare.c). */
#include "plot/plot.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "plot/canvas.h"
#include "plot/frame.h"

#define BAR 0xCCCCCC       /* bar lines */
#define OCTAVE 0xB8B8B8    /* the line under each C */
#define BLACK_KEY 0xF2F2F2 /* rows of C#, D#, F#, G#, A# */

static const gb_rgb PALETTE[] = {0x1F77B4, 0xD62728, 0x2CA02C, 0xFF7F0E, 0x9467BD,
                                 0x8C564B, 0xE377C2, 0x17BECF, 0xBCBD22, 0x7F7F7F};
#define N_PALETTE (sizeof PALETTE / sizeof PALETTE[0])
#define TRAIN_COLOUR PALETTE[0] /* blue */
#define VALID_COLOUR PALETTE[3] /* orange */

uint32_t gb_plot_part_colour(size_t i) { return PALETTE[i % N_PALETTE]; }

void gb_plot_opts_default(gb_plot_opts *o) {
    memset(o, 0, sizeof *o);
    o->width = GB_PLOT_WIDTH;
    o->height = GB_PLOT_HEIGHT;
}

double gb_plot_x(const gb_plot_frame *f, double u) {
    double span = f->u1 > f->u0 ? f->u1 - f->u0 : 1;
    return f->x0 + (u - f->u0) / span * (f->x1 - f->x0);
}

double gb_plot_y(const gb_plot_frame *f, double v) {
    double span = f->v1 > f->v0 ? f->v1 - f->v0 : 1;
    return f->y1 - (v - f->v0) / span * (f->y1 - f->y0);
}

/* a from white (0) to c (1) */
gb_rgb gb_plot_tint(gb_rgb c, double a) {
    gb_rgb out = 0;
    for (int sh = 16; sh >= 0; sh -= 8) {
        double ch = (c >> sh) & 0xFF;
        out |= (gb_rgb)lround(255 + (ch - 255) * a) << sh;
    }
    return out;
}

static gb_rgb shade(gb_rgb c, double k) {
    return (gb_rgb)((c >> 16 & 0xFF) * k) << 16 | (gb_rgb)((c >> 8 & 0xFF) * k) << 8 |
           (gb_rgb)((c & 0xFF) * k);
}

/* h in [0, 360) */
static gb_rgb hsv(double h, double s, double v) {
    double c = v * s, x = c * (1 - fabs(fmod(h / 60, 2) - 1)), m = v - c, r, g, b;
    int sector = (int)(h / 60) % 6;
    r = sector == 0 || sector == 5 ? c : sector == 1 || sector == 4 ? x : 0;
    g = sector == 1 || sector == 2 ? c : sector == 0 || sector == 3 ? x : 0;
    b = sector == 3 || sector == 4 ? c : sector == 2 || sector == 5 ? x : 0;
    return (gb_rgb)lround((r + m) * 255) << 16 | (gb_rgb)lround((g + m) * 255) << 8 |
           (gb_rgb)lround((b + m) * 255);
}

/* s cut to at most max characters (and cap - 1), ".." marking the cut. */
void gb_plot_fit_text(const char *s, size_t max, char *out, size_t cap) {
    if (max > cap - 1) max = cap - 1;
    snprintf(out, cap, "%s", s);
    if (strlen(s) > max && max >= 2) strcpy(out + max - 2, "..");
}

/* ------------------------------------------------------------------------------------------ */
/* axes */

/* Steps of 1, 2 or 5 x 10^k, about want of them over [lo, hi]. */
static void nice_ticks(double lo, double hi, int want, int whole, ticks *t) {
    t->n = t->decimals = 0;
    double raw = (hi - lo) / (want > 1 ? want : 1), mag = pow(10, floor(log10(raw)));
    double norm = raw / mag, step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
    if (whole && step < 1) step = 1;
    if (!isfinite(step) || step <= 0) return;
    if (step < 1) t->decimals = (int)-floor(log10(step) + 1e-9);
    for (double k = ceil(lo / step - 1e-9); t->n <= MAX_TICKS && k * step <= hi + 1e-9 * step;
         k++)
        t->at[t->n++] = fabs(k) < 0.5 ? 0 : k * step; /* no "-0" */
}

/* At each C from v0 to v1, every k-th octave so that labels stay two lines apart. */
static void pitch_ticks(const gb_plot_frame *f, int lh, ticks *t) {
    double octave_px = 12 * (f->y1 - f->y0) / (f->v1 - f->v0);
    int k = (int)ceil(2 * lh / octave_px);
    t->n = t->decimals = 0;
    for (int p = 0; p <= 127 && t->n <= MAX_TICKS; p += 12 * (k > 1 ? k : 1))
        if (p >= f->v0 && p <= f->v1) t->at[t->n++] = p;
}

static void tick_label(const ticks *t, int pitch, double v, char buf[LABEL_LEN]) {
    if (pitch) snprintf(buf, LABEL_LEN, "C%d", (int)lround(v) / 12 - 1);
    else if (t->decimals <= 6 && fabs(v) < 1e7) snprintf(buf, LABEL_LEN, "%.*f", t->decimals, v);
    else snprintf(buf, LABEL_LEN, "%.3g", v);
}

static int widest_label(const ticks *t, int pitch, int s) {
    int w = 0;
    char buf[LABEL_LEN];
    for (int i = 0; i < t->n; i++) {
        tick_label(t, pitch, t->at[i], buf);
        int x = gb_font_width(buf, s);
        if (x > w) w = x;
    }
    return w;
}

void gb_plot_axes_layout(const axes *a, int w, int h, layout *L) {
    memset(L, 0, sizeof *L);
    int s = w / 800 < h / 450 ? w / 800 : h / 450; /* 2 at the default 1600 x 900 */
    L->w = w, L->s = s = s > 1 ? s : 1;
    L->lh = GB_FONT_LINE * s, L->b = (s + 1) / 2, L->tick = 4 * s, L->gap = 3 * s;
    L->pad = GB_FONT_LINE * s;
    int adv = GB_FONT_ADVANCE * s;
    gb_plot_frame *f = &L->f;
    f->u0 = a->u0, f->u1 = a->u1, f->v0 = a->v0, f->v1 = a->v1;

    /* Rows: title, the y axis's name, the data, tick labels, the x axis's name. */
    int title_h = a->title && *a->title ? GB_FONT_LINE * (s + 1) + L->pad / 2 : 0;
    f->y0 = L->pad + title_h + L->lh + L->b;
    f->y1 = h - (L->pad + 2 * L->lh + L->gap + L->tick + L->b);
    if (a->v_pitch) pitch_ticks(f, L->lh, &L->tv);
    else nice_ticks(f->v0, f->v1, (f->y1 - f->y0) / (3 * L->lh), 0, &L->tv);

    /* Columns: tick labels, the data, the legend. */
    f->x0 = L->pad + widest_label(&L->tv, a->v_pitch, s) + L->gap + L->tick + L->b;
    f->x1 = w - 3 * adv - L->b;
    if (a->n_legend) {
        int chars = a->legend_title ? (int)strlen(a->legend_title) : 0;
        char text[LABEL_LEN];
        gb_rgb col;
        for (size_t i = 0; i < a->n_legend; i++) {
            a->legend(a->ctx, i, &col, text, sizeof text);
            if ((int)strlen(text) > chars) chars = (int)strlen(text);
        }
        int max_chars = (w / 4 - 2 * adv) / adv; /* the legend takes a quarter at most */
        if (max_chars > LEGEND_CHARS) max_chars = LEGEND_CHARS;
        L->legend_chars = chars < max_chars ? chars : max_chars;
        L->legend_x = w - L->pad - (L->legend_chars + 2) * adv;
        f->x1 = L->legend_x - 3 * adv - L->b;
    }

    /* As many ticks across as fit with their labels a few characters apart. */
    int most = (f->x1 - f->x0) / (4 * adv);
    for (int want = most < MAX_TICKS ? most : MAX_TICKS; want >= 1; want--) {
        nice_ticks(f->u0, f->u1, want, a->u_whole, &L->tu);
        double spacing = L->tu.n > 1 ? gb_plot_x(f, L->tu.at[1]) - gb_plot_x(f, L->tu.at[0]) : 1e9;
        if (spacing >= widest_label(&L->tu, 0, s) + 3 * adv) break;
    }
}

void gb_plot_text_centred(gb_canvas *c, double x, int y, const char *s, int scale, gb_rgb col) {
    gb_font_draw(c, (int)lround(x) - gb_font_width(s, scale) / 2, y, s, scale, col);
}

static void axes_grid(gb_canvas *c, const axes *a, const layout *L) {
    const gb_plot_frame *f = &L->f;
    for (int i = 0; a->grid_u && i < L->tu.n; i++) {
        int x = (int)gb_plot_x(f, L->tu.at[i]);
        gb_canvas_rect(c, x, f->y0, x + 1, f->y1, GRID);
    }
    for (int i = 0; a->grid_v && i < L->tv.n; i++) {
        int y = (int)gb_plot_y(f, L->tv.at[i]);
        gb_canvas_rect(c, f->x0, y, f->x1, y + 1, GRID);
    }
}

static void legend_draw(gb_canvas *c, const axes *a, const layout *L) {
    int s = L->s, row = L->lh + 2 * s, y = L->f.y0, x = L->legend_x, sw = 7 * s;
    int text_x = x + sw + GB_FONT_ADVANCE * s;
    char text[LABEL_LEN], cut[LABEL_LEN];
    if (a->legend_title) {
        gb_font_draw(c, x, y, a->legend_title, s, INK);
        y += row;
    }
    size_t fit = (size_t)((L->f.y1 - y) / row);
    for (size_t i = 0; i < a->n_legend && fit; i++, y += row) {
        if (i + 1 == fit && i + 1 < a->n_legend) { /* the last row that fits says what is left */
            snprintf(text, sizeof text, "+%zu more", a->n_legend - i);
            gb_font_draw(c, text_x, y, text, s, INK);
            break;
        }
        gb_rgb col;
        a->legend(a->ctx, i, &col, text, sizeof text);
        gb_canvas_rect(c, x, y, x + sw, y + sw, col);
        gb_plot_fit_text(text, (size_t)L->legend_chars, cut, sizeof cut);
        gb_font_draw(c, text_x, y, cut, s, INK);
    }
}

/* Everything around the data: frame, ticks and their labels, axis names, title, legend. */
static void axes_furniture(gb_canvas *c, const axes *a, const layout *L) {
    const gb_plot_frame *f = &L->f;
    int s = L->s, b = L->b, cap = 7 * s;
    char buf[256];
    gb_canvas_rect(c, f->x0 - b, f->y0 - b, f->x1 + b, f->y0, INK);
    gb_canvas_rect(c, f->x0 - b, f->y1, f->x1 + b, f->y1 + b, INK);
    gb_canvas_rect(c, f->x0 - b, f->y0, f->x0, f->y1, INK);
    gb_canvas_rect(c, f->x1, f->y0, f->x1 + b, f->y1, INK);
    int label_y = f->y1 + b + L->tick + L->gap;
    for (int i = 0; i < L->tu.n; i++) {
        double x = gb_plot_x(f, L->tu.at[i]);
        gb_canvas_rect(c, (int)x - s / 2, f->y1 + b, (int)x - s / 2 + s, f->y1 + b + L->tick, INK);
        tick_label(&L->tu, 0, L->tu.at[i], buf);
        gb_plot_text_centred(c, x, label_y, buf, s, INK);
    }
    for (int i = 0; i < L->tv.n; i++) {
        double y = gb_plot_y(f, L->tv.at[i]);
        int x = f->x0 - b - L->tick;
        gb_canvas_rect(c, x, (int)y - s / 2, x + L->tick, (int)y - s / 2 + s, INK);
        tick_label(&L->tv, a->v_pitch, L->tv.at[i], buf);
        gb_font_draw(c, x - L->gap - gb_font_width(buf, s), (int)lround(y) - cap / 2, buf, s,
                     INK);
    }
    gb_plot_text_centred(c, (f->x0 + f->x1) / 2.0, label_y + L->lh, a->xlabel, s, INK);
    gb_font_draw(c, L->pad, f->y0 - b - L->lh, a->ylabel, s, INK);
    if (a->title && *a->title) {
        int ts = s + 1;
        gb_plot_fit_text(a->title, (size_t)((L->w - 2 * L->pad) / (GB_FONT_ADVANCE * ts)), buf,
                         sizeof buf);
        gb_plot_text_centred(c, L->w / 2.0, L->pad, buf, ts, INK);
    }
    if (a->empty)
        gb_plot_text_centred(c, (f->x0 + f->x1) / 2.0, (f->y0 + f->y1) / 2 - cap, a->empty,
                             2 * s, FAINT);
    if (a->n_legend) legend_draw(c, a, L);
}

void gb_plot_axes_draw(gb_canvas *c, const axes *a, const layout *L, data_fn data,
                       const void *ctx) {
    axes_grid(c, a, L);
    gb_canvas_clip(c, L->f.x0, L->f.y0, L->f.x1, L->f.y1);
    if (!a->empty) data(c, L, ctx);
    gb_canvas_clip(c, 0, 0, c->w, c->h);
    axes_furniture(c, a, L);
}

/* The whole picture: axes around, data inside (clipped to the frame), written to path. */
static gb_status figure_png(const axes *a, int w, int h, data_fn data, const void *ctx,
                            const char *path, gb_error *err) {
    layout L;
    gb_plot_axes_layout(a, w, h, &L);
    gb_canvas c;
    gb_error e;
    if (gb_canvas_init(&c, w, h, WHITE, &e) != GB_OK)
        return gb_fail(err, e.status, -1, "%s: %s", path, e.msg);
    gb_plot_axes_draw(&c, a, &L, data, ctx);
    gb_status st = gb_canvas_png(&c, path, err);
    gb_canvas_free(&c);
    return st;
}

gb_status gb_plot_picture_size(const gb_plot_opts *o, int *w, int *h, gb_error *err) {
    *w = o && o->width ? o->width : GB_PLOT_WIDTH;
    *h = o && o->height ? o->height : GB_PLOT_HEIGHT;
    if (*w < GB_PLOT_MIN_SIDE || *w > GB_PLOT_MAX_SIDE || *h < GB_PLOT_MIN_SIDE ||
        *h > GB_PLOT_MAX_SIDE)
        return gb_fail(err, GB_ERR_ARG, -1, "picture size %d x %d is outside %d..%d pixels", *w,
                       *h, GB_PLOT_MIN_SIDE, GB_PLOT_MAX_SIDE);
    return GB_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* songs: the piano roll and the "predicted notes" lines */

/* One change of a pitch's loudness: a note starting or ending. */
typedef struct {
    double t;
    uint8_t pitch, velocity, on;
} edge;

typedef struct {
    const gb_song *s;
    int lines;
    int lo, hi;  /* pitches shown */
    edge *edges; /* the lines figure's, sorted by pitch then time */
    size_t n_edges;
} song_view;

/* Notes are 1..127 loud; softer is lighter, but never so light that a quiet note vanishes. */
static double loudness(int velocity) {
    return 0.35 + 0.65 * (velocity < 127 ? velocity : 127) / 127.0;
}

/* Format 2 tracks are independent sequences, each with its own tempo map. */
static int part_track(const gb_song *s, const gb_part *p) {
    return s->format == 2 ? p->track : -1;
}

static void part_legend(const void *ctx, size_t i, gb_rgb *col, char *text, size_t cap) {
    const gb_part *p = &((const song_view *)ctx)->s->parts[i];
    const char *gm = gb_gm_name(p->program, p->is_drum);
    *col = gb_plot_part_colour(i);
    int n = (int)strlen(p->name); /* names like "one:" lose their colon before "(Flute)" */
    while (n && (p->name[n - 1] == ':' || p->name[n - 1] == ' ')) n--;
    if (n) snprintf(text, cap, "%.*s (%s)", n, p->name, gm);
    else snprintf(text, cap, "%s", gm);
}

/* Blue for the lowest pitch shown through green and orange to red for the highest. */
static gb_rgb pitch_colour(const song_view *v, int pitch) {
    return hsv(240.0 * (v->hi - pitch) / (v->hi - v->lo), 0.9, 0.75);
}

static size_t n_octaves(const song_view *v) { return (size_t)(v->hi / 12 - (v->lo + 11) / 12 + 1); }

static void octave_legend(const void *ctx, size_t i, gb_rgb *col, char *text, size_t cap) {
    const song_view *v = ctx;
    int c = ((v->lo + 11) / 12 + (int)i) * 12;
    *col = pitch_colour(v, c);
    snprintf(text, cap, "C%d (%d)", c / 12 - 1, c);
}

static void song_axes(const gb_song *s, const gb_plot_opts *o, song_view *v, axes *a) {
    double t_end = 0;
    int lo = 127, hi = 0;
    for (size_t i = 0; i < s->n_parts; i++) {
        const gb_part *p = &s->parts[i];
        for (size_t k = 0; k < p->n_notes; k++) {
            const gb_note *n = &p->notes[k]; /* a note ending before its start stays in view */
            double t = gb_song_seconds(s, part_track(s, p), n->end > n->start ? n->end : n->start);
            if (t > t_end) t_end = t;
            if (n->pitch < lo) lo = n->pitch;
            if (n->pitch > hi) hi = n->pitch;
        }
    }
    int empty = lo > hi;
    if (empty) lo = hi = 60, t_end = gb_song_seconds(s, -1, s->end_tick);
    /* A few semitones around the notes, at least an octave so that a C is named. */
    lo = lo > 2 ? lo - 2 : 0, hi = hi < 125 ? hi + 2 : 127;
    while (hi - lo < 12) {
        if (lo > 0) lo--;
        if (hi < 127) hi++;
    }
    memset(v, 0, sizeof *v);
    v->s = s, v->lines = o && o->lines, v->lo = lo, v->hi = hi;

    memset(a, 0, sizeof *a);
    a->title = o ? o->title : NULL;
    a->xlabel = "time (s)";
    a->u0 = 0, a->u1 = t_end > 0 ? t_end * 1.02 : 1;
    a->empty = empty ? "no notes" : NULL;
    a->ctx = v;
    if (v->lines) {
        a->ylabel = "velocity";
        a->v0 = 0, a->v1 = 132, a->grid_v = 1;
        a->legend_title = "pitch", a->legend = octave_legend, a->n_legend = n_octaves(v);
    } else {
        a->ylabel = "pitch";
        a->v0 = lo - 0.5, a->v1 = hi + 0.5, a->v_pitch = 1;
        a->legend_title = "parts", a->legend = part_legend, a->n_legend = s->n_parts;
    }
}

gb_status gb_plot_song_frame(const gb_song *s, const gb_plot_opts *o, gb_plot_frame *f,
                             gb_error *err) {
    int w, h;
    gb_status st = gb_plot_picture_size(o, &w, &h, err);
    if (st != GB_OK) return st;
    song_view v;
    axes a;
    layout L;
    song_axes(s, o, &v, &a);
    gb_plot_axes_layout(&a, w, h, &L);
    *f = L.f;
    return GB_OK;
}

/* A line at each bar of the time signatures (4/4 before the first); where bars are narrower
 * than a few characters, at every 2nd, 4th, 8th ... bar, and never more lines than pixels
 * however many bars a hostile file declares. */
static void draw_bars(gb_canvas *c, const layout *L, const gb_song *s) {
    static const gb_timesig four = {.numerator = 4, .denominator = 4};
    const gb_plot_frame *f = &L->f;
    int track = s->format == 2 && s->n_parts ? s->parts[0].track : -1;
    uint64_t end = gb_song_tick_at(s, track, f->u1);
    double tpq = gb_song_ticks_per_quarter(s), last_x = -1e9, min_gap = 8 * L->s;
    for (size_t i = 0; i <= s->n_timesigs; i++) {
        const gb_timesig *t = i ? &s->timesigs[i - 1] : &four;
        uint64_t from = i ? t->tick : 0, to = i < s->n_timesigs ? s->timesigs[i].tick : end;
        if (to > end) to = end;
        if (to <= from) continue;
        double bar = t->numerator && t->denominator ? t->numerator * 4.0 * tpq / t->denominator
                                                    : 4 * tpq;
        bar = bar >= 1 ? bar : 1;
        double n_bars = (double)(to - from) / bar, stride = 1;
        double bar_px = (gb_plot_x(f, gb_song_seconds(s, track, to)) -
                         gb_plot_x(f, gb_song_seconds(s, track, from))) / n_bars;
        while (stride * bar_px < min_gap && stride < n_bars) stride *= 2;
        for (double k = 0; k < n_bars; k += stride) {
            uint64_t tick = from + (uint64_t)(k * bar);
            double x = gb_plot_x(f, gb_song_seconds(s, track, tick));
            if (x - last_x < min_gap) continue;
            gb_canvas_rect(c, (int)x, f->y0, (int)x + 1, f->y1, BAR);
            last_x = x;
        }
    }
}

static void draw_roll(gb_canvas *c, const layout *L, const song_view *v) {
    const gb_plot_frame *f = &L->f;
    const gb_song *s = v->s;
    for (int p = v->lo; p <= v->hi; p++) {
        int y0 = (int)lround(gb_plot_y(f, p + 0.5)), y1 = (int)lround(gb_plot_y(f, p - 0.5));
        if ((0x54A >> (p % 12)) & 1) gb_canvas_rect(c, f->x0, y0, f->x1, y1, BLACK_KEY);
        if (p % 12 == 0) gb_canvas_rect(c, f->x0, y1 - 1, f->x1, y1, OCTAVE);
    }
    draw_bars(c, L, s);
    for (size_t i = 0; i < s->n_parts; i++) {
        const gb_part *p = &s->parts[i];
        int track = part_track(s, p);
        for (size_t k = 0; k < p->n_notes; k++) {
            const gb_note *n = &p->notes[k];
            int x0 = (int)floor(gb_plot_x(f, gb_song_seconds(s, track, n->start)));
            int x1 = (int)floor(gb_plot_x(f, gb_song_seconds(s, track, n->end)));
            int y0 = (int)lround(gb_plot_y(f, n->pitch + 0.5));
            int y1 = (int)lround(gb_plot_y(f, n->pitch - 0.5));
            x1 = x1 > x0 ? x1 : x0 + 1, y1 = y1 > y0 ? y1 : y0 + 1;
            gb_rgb fill = gb_plot_tint(gb_plot_part_colour(i), loudness(n->velocity));
            if (x1 - x0 >= 4 && y1 - y0 >= 4) { /* an edge tells re-struck notes apart */
                gb_canvas_rect(c, x0, y0, x1, y1, shade(fill, 0.7));
                gb_canvas_rect(c, x0 + 1, y0 + 1, x1 - 1, y1 - 1, fill);
            } else {
                gb_canvas_rect(c, x0, y0, x1, y1, fill);
            }
        }
    }
}

static int edge_cmp(const void *a, const void *b) {
    const edge *x = a, *y = b;
    if (x->pitch != y->pitch) return x->pitch < y->pitch ? -1 : 1;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return (int)x->on - (int)y->on; /* ends first: a re-struck note dips to 0 */
}

/* The report's figure: each pitch's velocity over time as a line (the loudest part wins where
 * parts share a pitch), from its first note to its last. */
static void draw_lines(gb_canvas *c, const layout *L, const song_view *v) {
    const gb_plot_frame *f = &L->f;
    const edge *e = v->edges;
    size_t n = v->n_edges;
    int width = (L->s + 1) / 2;
    for (size_t i = 0; i < n;) {
        int pitch = e[i].pitch, level = 0;
        unsigned active[128] = {0};
        gb_rgb col = pitch_colour(v, pitch);
        double t_prev = e[i].t;
        for (; i < n && e[i].pitch == pitch; i++) {
            if (e[i].on) active[e[i].velocity]++;
            else if (active[e[i].velocity]) active[e[i].velocity]--;
            int now = 127;
            while (now > 0 && !active[now]) now--;
            if (now == level) continue;
            double x0 = gb_plot_x(f, t_prev), x = gb_plot_x(f, e[i].t);
            double y = gb_plot_y(f, level), y_now = gb_plot_y(f, now);
            gb_canvas_line(c, x0, y, x, y, width, col);
            gb_canvas_line(c, x, y, x, y_now, width, col);
            t_prev = e[i].t, level = now;
        }
    }
}

static void draw_song(gb_canvas *c, const layout *L, const void *ctx) {
    const song_view *v = ctx;
    if (v->lines) {
        draw_bars(c, L, v->s);
        draw_lines(c, L, v);
    } else {
        draw_roll(c, L, v);
    }
}

static gb_status song_edges(const gb_song *s, song_view *v, const char *path, gb_error *err) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_parts; i++) n += s->parts[i].n_notes;
    edge *e = malloc((2 * n + 1) * sizeof *e);
    if (!e) return gb_fail(err, GB_ERR_NOMEM, -1, "%s: out of memory for %zu notes", path, n);
    n = 0;
    for (size_t i = 0; i < s->n_parts; i++) {
        const gb_part *p = &s->parts[i];
        for (size_t k = 0; k < p->n_notes; k++) {
            const gb_note *nt = &p->notes[k];
            uint8_t vel = nt->velocity < 127 ? nt->velocity : 127;
            e[n++] = (edge){gb_song_seconds(s, part_track(s, p), nt->start), nt->pitch, vel, 1};
            e[n++] = (edge){gb_song_seconds(s, part_track(s, p), nt->end), nt->pitch, vel, 0};
        }
    }
    qsort(e, n, sizeof *e, edge_cmp);
    v->edges = e, v->n_edges = n;
    return GB_OK;
}

gb_status gb_plot_song_png(const gb_song *s, const gb_plot_opts *o, const char *path,
                           gb_error *err) {
    int w, h;
    gb_status st = gb_plot_picture_size(o, &w, &h, err);
    if (st != GB_OK) return st;
    song_view v;
    axes a;
    song_axes(s, o, &v, &a);
    if (v.lines && (st = song_edges(s, &v, path, err)) != GB_OK) return st;
    st = figure_png(&a, w, h, draw_song, &v, path, err);
    free(v.edges);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* training logs */

typedef struct {
    double epoch, train, valid; /* NAN where null or absent */
} loss_point;

typedef struct {
    loss_point *p;
    size_t n, cap;
    int has_valid;
} loss_log;

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    return p;
}

/* p at a string's opening quote; returns the character after its closing quote, or NULL. */
static const char *skip_string(const char *p) {
    for (p++; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20) return NULL; /* also the end of the line */
        if (*p == '\\' && !*++p) return NULL;
    }
    return p + 1;
}

/* Skips a value we do not read: strings exactly, arrays and objects by their brackets. */
static const char *skip_value(const char *p) {
    if (*p == '"') return skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        do {
            if (*p == '"') {
                if (!(p = skip_string(p))) return NULL;
                continue;
            }
            if (!*p) return NULL;
            depth += *p == '{' || *p == '[' ? 1 : *p == '}' || *p == ']' ? -1 : 0;
            p++;
        } while (depth > 0);
        return p;
    }
    const char *q = p; /* a number, true, false or null */
    while (*q && strchr("+-.0123456789Eaeflnrstu", *q)) q++;
    return q > p ? q : NULL;
}

static const char *number_or_null(const char *p, double *out) {
    if (!strncmp(p, "null", 4)) {
        *out = NAN;
        return p + 4;
    }
    if (*p != '-' && !isdigit((unsigned char)*p)) return NULL; /* strtod would take "inf" */
    char *end;
    double v = strtod(p, &end);
    if (!isfinite(v)) return NULL;
    *out = v;
    return end;
}

/* One line of the log: a JSON object whose "epoch" is a number and "train_loss" and
 * "valid_loss" are numbers or null. */
static gb_status parse_line(const char *line, const char *path, size_t no, loss_point *pt,
                            gb_error *err) {
    static const char *const keys[3] = {"epoch", "train_loss", "valid_loss"};
    double *slot[3] = {&pt->epoch, &pt->train, &pt->valid};
    int seen[3] = {0, 0, 0};
    pt->epoch = pt->train = pt->valid = NAN;
    const char *p = skip_ws(line);
    if (*p != '{') goto not_object;
    p = skip_ws(p + 1);
    while (*p != '}') {
        const char *key = p + 1, *q = *p == '"' ? skip_string(p) : NULL;
        if (!q) goto not_object;
        size_t klen = (size_t)(q - 1 - key);
        if (*(p = skip_ws(q)) != ':') goto not_object;
        p = skip_ws(p + 1);
        int k = 0;
        while (k < 3 && !(strlen(keys[k]) == klen && !memcmp(keys[k], key, klen))) k++;
        if (k < 3) {
            if (!(p = number_or_null(p, slot[k])) || (k == 0 && isnan(pt->epoch)))
                return gb_fail(err, GB_ERR_FORMAT, -1, "%s: line %zu: \"%s\" is not a number%s",
                               path, no, keys[k], k ? " or null" : "");
            seen[k] = 1;
        } else if (!(p = skip_value(p))) {
            goto not_object;
        }
        p = skip_ws(p);
        if (*p == '}') break;
        if (*p != ',') goto not_object;
        if (*(p = skip_ws(p + 1)) != '"') goto not_object; /* no trailing comma */
    }
    if (*skip_ws(p + 1)) goto not_object;
    for (int k = 0; k < 2; k++)
        if (!seen[k]) return gb_fail(err, GB_ERR_FORMAT, -1, "%s: line %zu: no \"%s\"", path, no,
                                     keys[k]);
    return GB_OK;
not_object:
    return gb_fail(err, GB_ERR_FORMAT, -1, "%s: line %zu: not a JSON object", path, no);
}

static gb_status read_log(const char *path, loss_log *log, gb_error *err) {
    memset(log, 0, sizeof *log);
    gb_buf b;
    gb_error e;
    if (gb_file_read(path, 1u << 28, &b, &e) != GB_OK)
        return gb_fail(err, e.status, -1, "%s: %s", path, e.msg);
    gb_status st = gb_buf_append(&b, "", 1); /* lines end in NUL for the scanners above */
    if (st != GB_OK) {
        gb_buf_free(&b);
        return gb_fail(err, st, -1, "%s: out of memory", path);
    }
    char *line = (char *)b.data;
    for (size_t no = 1; st == GB_OK && line; no++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if (*skip_ws(line)) {
            loss_point pt;
            st = parse_line(line, path, no, &pt, err);
            if (st == GB_OK &&
                gb_grow((void **)&log->p, &log->cap, log->n + 1, sizeof *log->p) != GB_OK)
                st = gb_fail(err, GB_ERR_NOMEM, -1, "%s: out of memory", path);
            if (st == GB_OK) log->p[log->n++] = pt, log->has_valid |= isfinite(pt.valid);
        }
        line = nl ? nl + 1 : NULL;
    }
    gb_buf_free(&b);
    if (st != GB_OK) free(log->p);
    return st;
}

static void loss_legend(const void *ctx, size_t i, gb_rgb *col, char *text, size_t cap) {
    (void)ctx;
    *col = i ? VALID_COLOUR : TRAIN_COLOUR;
    snprintf(text, cap, "%s", i ? "validation" : "training");
}

static double loss_of(const loss_point *p, int valid) { return valid ? p->valid : p->train; }

/* Segments between neighbouring epochs that both have the value; a disc (training) or a
 * square (validation) at each. */
static void draw_curve(gb_canvas *c, const layout *L, const loss_log *log, int valid) {
    const gb_plot_frame *f = &L->f;
    gb_rgb col = valid ? VALID_COLOUR : TRAIN_COLOUR;
    int r = 2 * L->s;
    for (size_t i = 0; i < log->n; i++) {
        double x = gb_plot_x(f, log->p[i].epoch), y = gb_plot_y(f, loss_of(&log->p[i], valid));
        if (!isfinite(x) || !isfinite(y)) continue; /* null, or a range beyond doubles */
        if (i) /* the line skips a null at its other end */
            gb_canvas_line(c, gb_plot_x(f, log->p[i - 1].epoch),
                           gb_plot_y(f, loss_of(&log->p[i - 1], valid)), x, y, L->s, col);
        if (valid) {
            int mx = (int)floor(x), my = (int)floor(y);
            gb_canvas_rect(c, mx - r, my - r, mx + r + 1, my + r + 1, col);
        } else {
            gb_canvas_disc(c, x, y, r + 0.5, col);
        }
    }
}

static void draw_loss(gb_canvas *c, const layout *L, const void *ctx) {
    draw_curve(c, L, ctx, 0);
    draw_curve(c, L, ctx, 1);
}

gb_status gb_plot_loss_png(const char *jsonl_path, const gb_plot_opts *o, const char *path,
                           gb_error *err) {
    int w, h;
    gb_status st = gb_plot_picture_size(o, &w, &h, err);
    if (st != GB_OK) return st;
    loss_log log;
    if ((st = read_log(jsonl_path, &log, err)) != GB_OK) return st;
    double e0 = INFINITY, e1 = -INFINITY, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < log.n; i++) {
        const loss_point *p = &log.p[i];
        e0 = fmin(e0, p->epoch), e1 = fmax(e1, p->epoch);
        if (isfinite(p->train)) lo = fmin(lo, p->train), hi = fmax(hi, p->train);
        if (isfinite(p->valid)) lo = fmin(lo, p->valid), hi = fmax(hi, p->valid);
    }
    if (!(e0 <= e1)) e0 = e1 = 1;
    if (!(lo <= hi)) lo = hi = 0;
    /* Some room around the points; a flat curve gets a tenth of its value (or 1) each side. */
    double pad_e = fmax(0.5, 0.03 * (e1 - e0));
    double pad_l = hi > lo ? 0.06 * (hi - lo) : fabs(lo) > 0 ? 0.1 * fabs(lo) : 1;
    axes a = {.title = o ? o->title : NULL,
              .xlabel = "epoch",
              .ylabel = "loss",
              .u0 = e0 - pad_e,
              .u1 = e1 + pad_e,
              .v0 = lo - pad_l,
              .v1 = hi + pad_l,
              .u_whole = 1,
              .grid_u = 1,
              .grid_v = 1,
              .empty = log.n ? NULL : "no epochs",
              .legend = loss_legend,
              .n_legend = log.has_valid ? 2 : 1};
    st = figure_png(&a, w, h, draw_loss, &log, path, err);
    free(log.p);
    return st;
}
