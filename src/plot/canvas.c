/* canvas.c - pixels of an RGB picture, the shapes the plots need, and the one place that
 * encodes PNG (libpng's simplified API, into memory, then an atomic file write). */
#include "plot/canvas.h"

#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

gb_status gb_canvas_init(gb_canvas *c, int w, int h, gb_rgb bg, gb_error *err) {
    memset(c, 0, sizeof *c);
    if (w <= 0 || h <= 0) return gb_fail(err, GB_ERR_ARG, -1, "bad canvas size %d x %d", w, h);
    c->px = malloc((size_t)w * (size_t)h * 3);
    if (!c->px) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %d x %d pixels", w, h);
    c->w = w, c->h = h;
    gb_canvas_clip(c, 0, 0, w, h);
    gb_canvas_rect(c, 0, 0, w, h, bg);
    return GB_OK;
}

void gb_canvas_free(gb_canvas *c) {
    free(c->px);
    memset(c, 0, sizeof *c);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void gb_canvas_clip(gb_canvas *c, int x0, int y0, int x1, int y1) {
    c->cx0 = clampi(x0, 0, c->w), c->cx1 = clampi(x1, 0, c->w);
    c->cy0 = clampi(y0, 0, c->h), c->cy1 = clampi(y1, 0, c->h);
}

gb_rgb gb_canvas_get(const gb_canvas *c, int x, int y) {
    const uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    return (gb_rgb)p[0] << 16 | (gb_rgb)p[1] << 8 | p[2];
}

void gb_canvas_rect(gb_canvas *c, int x0, int y0, int x1, int y1, gb_rgb col) {
    x0 = clampi(x0, c->cx0, c->cx1), x1 = clampi(x1, c->cx0, c->cx1);
    y0 = clampi(y0, c->cy0, c->cy1), y1 = clampi(y1, c->cy0, c->cy1);
    for (int y = y0; y < y1; y++) {
        uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x0) * 3;
        for (int x = x0; x < x1; x++, p += 3)
            p[0] = (uint8_t)(col >> 16), p[1] = (uint8_t)(col >> 8), p[2] = (uint8_t)col;
    }
}

/* Liang-Barsky: cuts the segment to the box; 0 when nothing of it is inside. Also what keeps a
 * segment with absurd coordinates from costing more steps than the box has pixels. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double bx0, double by0,
                        double bx1, double by1) {
    double dx = *x1 - *x0, dy = *y1 - *y0, t0 = 0, t1 = 1;
    const double p[4] = {-dx, dx, -dy, dy};
    const double q[4] = {*x0 - bx0, bx1 - *x0, *y0 - by0, by1 - *y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
            continue;
        }
        double t = q[i] / p[i];
        if (p[i] < 0 && t > t0) t0 = t;
        if (p[i] > 0 && t < t1) t1 = t;
    }
    if (t0 > t1) return 0;
    *x1 = *x0 + t1 * dx, *y1 = *y0 + t1 * dy;
    *x0 += t0 * dx, *y0 += t0 * dy;
    return 1;
}

void gb_canvas_line(gb_canvas *c, double x0, double y0, double x1, double y1, int width,
                    gb_rgb col) {
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) return;
    if (!clip_segment(&x0, &y0, &x1, &y1, c->cx0 - width, c->cy0 - width, c->cx1 + width,
                      c->cy1 + width))
        return;
    /* Stamp a width x width square centred on every pixel step along the longer axis. */
    double n = ceil(fmax(fabs(x1 - x0), fabs(y1 - y0))), h = (width - 1) / 2.0;
    for (int i = 0; i <= (int)n; i++) {
        double t = n > 0 ? i / n : 0;
        int x = (int)floor(x0 + t * (x1 - x0) - h), y = (int)floor(y0 + t * (y1 - y0) - h);
        gb_canvas_rect(c, x, y, x + width, y + width, col);
    }
}

void gb_canvas_disc(gb_canvas *c, double x, double y, double r, gb_rgb col) {
    if (!isfinite(x) || !isfinite(y) || x < c->cx0 - r || x > c->cx1 + r || y < c->cy0 - r ||
        y > c->cy1 + r)
        return;
    for (int dy = -(int)r; dy <= (int)r; dy++) {
        int half = (int)lround(sqrt(r * r - (double)dy * dy));
        int cx = (int)floor(x), cy = (int)floor(y) + dy;
        gb_canvas_rect(c, cx - half, cy, cx + half + 1, cy + 1, col);
    }
}

gb_status gb_canvas_png(const gb_canvas *c, const char *path, gb_error *err) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)c->w;
    img.height = (png_uint_32)c->h;
    img.format = PNG_FORMAT_RGB;
    /* The bound on the encoded size lets the PNG be written in one pass. */
    png_alloc_size_t n = PNG_IMAGE_PNG_SIZE_MAX(img);
    void *mem = malloc(n);
    if (!mem) return gb_fail(err, GB_ERR_NOMEM, -1, "%s: out of memory for the PNG", path);
    if (!png_image_write_to_memory(&img, mem, &n, 0, c->px, 0, NULL)) {
        gb_status st = gb_fail(err, GB_ERR_NOMEM, -1, "%s: cannot encode the PNG: %s", path,
                               img.message);
        png_image_free(&img);
        free(mem);
        return st;
    }
    gb_error e;
    gb_status st = gb_file_write_atomic(path, mem, n, &e);
    free(mem);
    if (st != GB_OK) return gb_fail(err, st, -1, "%s: %s", path, e.msg);
    return GB_OK;
}
