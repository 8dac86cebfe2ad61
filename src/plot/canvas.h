/* canvas.h - an RGB picture in memory: rectangles, lines, discs, bitmap text (font.c) and its
 * PNG file. Every drawing call is clipped to the canvas's clip rectangle, so callers may draw
 * past the edges. */
#ifndef GB_PLOT_CANVAS_H
#define GB_PLOT_CANVAS_H

#include "groovybee.h"

typedef uint32_t gb_rgb; /* 0xRRGGBB */

typedef struct {
    int w, h;
    uint8_t *px;            /* [h][w][3] RGB, top row first */
    int cx0, cy0, cx1, cy1; /* clip rectangle [cx0, cx1) x [cy0, cy1) */
} gb_canvas;

/* A w x h canvas filled with bg, clipped to itself. */
gb_status gb_canvas_init(gb_canvas *c, int w, int h, gb_rgb bg, gb_error *err);
void gb_canvas_free(gb_canvas *c);
/* Sets the clip rectangle [x0, x1) x [y0, y1), cut to the canvas. */
void gb_canvas_clip(gb_canvas *c, int x0, int y0, int x1, int y1);
gb_rgb gb_canvas_get(const gb_canvas *c, int x, int y);
/* Fills [x0, x1) x [y0, y1). */
void gb_canvas_rect(gb_canvas *c, int x0, int y0, int x1, int y1, gb_rgb col);
/* A segment width pixels thick; coordinates are continuous (pixel k spans k..k+1). */
void gb_canvas_line(gb_canvas *c, double x0, double y0, double x1, double y1, int width,
                    gb_rgb col);
void gb_canvas_disc(gb_canvas *c, double x, double y, double r, gb_rgb col);
/* Encodes the canvas as an 8-bit RGB PNG and writes it atomically; messages begin with path. */
gb_status gb_canvas_png(const gb_canvas *c, const char *path, gb_error *err);

/* The font (font.c): 5 x 9 glyphs, 7 rows down to the baseline and 2 below it. A cell is
 * GB_FONT_ADVANCE wide and GB_FONT_LINE tall; everything scales by an integer factor. */
enum { GB_FONT_W = 5, GB_FONT_ROWS = 9, GB_FONT_ADVANCE = 6, GB_FONT_LINE = 11 };

/* The rows of a character's glyph (bit 4 = left column); '?' stands in for non-printables. */
const uint8_t *gb_font_glyph(int ch);
int gb_font_width(const char *s, int scale);
/* Draws s with its top-left corner at (x, y). */
void gb_font_draw(gb_canvas *c, int x, int y, const char *s, int scale, gb_rgb col);

#endif
