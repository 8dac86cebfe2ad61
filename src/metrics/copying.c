/* copying.c - how much of a generated piece stands verbatim in the reference (docs/metrics.md):
 * the longest stretch of one of its parts found in one reference part, and its 4-bar windows
 * found there.
 *
 * Every non-drum part becomes a sequence of frames: the set of pitches sounding at each step of
 * its piano roll, 128 bits (velocities dropped). The reference keeps all its frames in one array,
 * part after part (16 bytes a step), and, built by the first search, an index of its sounding
 * steps sorted by (frame hash, step): 12 bytes a sounding step.
 *
 * A search looks up, for each sounding step i of a generated part, every reference step holding
 * the same frame and extends the match forward, stopping at the end of either part. Two
 * shortcuts keep that from growing with the square of a copied part:
 * - a pair (i, r) whose match also extends backward (frame i - 1 sounding and equal to frame
 *   r - 1 of the same reference part) is skipped: (i - 1, r - 1) reaches the same last sounding
 *   step from one step earlier, so its stretch is one longer and (i, r) is never the longest;
 * - a candidate that cannot reach the longest stretch found so far in the part (its frame that
 *   many steps on differs) is not extended, and neither are steps too near the part's end.
 * A copied file is thus extended once, from its first step, and every other step is dismissed
 * by a bound or one look per candidate.
 *
 * A window is checked through its rarest sounding frame: the reference steps holding it, moved
 * back by its offset in the window, are the only places the window can start. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "metrics/metrics.h"

typedef struct {
    uint64_t lo, hi; /* pitches 0..63, 64..127 */
} frame;

typedef struct {
    uint64_t start, steps; /* its frames: ix->frames[start .. start + steps) */
    size_t piece;
    int part;
} ref_part;

struct gb_copy_index {
    int spb;
    frame *frames;
    size_t n_frames, frames_cap;
    ref_part *parts;
    size_t n_parts, parts_cap;
    /* the sounding reference steps sorted by (hash of their frame, step), once built */
    uint64_t *hash;
    uint32_t *pos;
    size_t n_index;
    /* An add after a search is allowed: the next search rebuilds. Calls on one index are made
     * one at a time (each search is parallel inside). */
    int built;
};

static int same(frame a, frame b) { return a.lo == b.lo && a.hi == b.hi; }
static int sounding(frame f) { return (f.lo | f.hi) != 0; }

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
    x ^= x >> 30, x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27, x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static uint64_t frame_hash(frame f) { return mix(f.lo ^ mix(f.hi + 0x9e3779b97f4a7c15ull)); }

/* The frames of part p: its roll as gb_roll_encode quantises it, each row reduced to its pitch
 * set. *out is NULL when the part has no steps. */
static gb_status part_frames(const gb_song *s, const gb_part *p, int spb, frame **out,
                             size_t *n, gb_error *err) {
    *out = NULL, *n = 0;
    gb_roll_opts o = {.steps_per_beat = spb};
    gb_roll r;
    gb_status st = gb_roll_encode(s, p, &o, &r, err);
    if (st != GB_OK || r.steps == 0) return st;
    frame *f = malloc(r.steps * sizeof *f);
    if (!f) {
        gb_roll_free(&r);
        return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu steps", r.steps);
    }
    for (size_t k = 0; k < r.steps; k++) {
        const uint8_t *row = r.v + k * 128;
        f[k] = (frame){0, 0};
        for (int q = 0; q < 64; q++) f[k].lo |= (uint64_t)(row[q] != 0) << q;
        for (int q = 0; q < 64; q++) f[k].hi |= (uint64_t)(row[64 + q] != 0) << q;
    }
    *out = f, *n = r.steps;
    gb_roll_free(&r);
    return GB_OK;
}

gb_status gb_copy_new(int steps_per_beat, gb_copy_index **out, gb_error *err) {
    if (!out) return gb_fail(err, GB_ERR_ARG, -1, "gb_copy_new: missing argument");
    *out = NULL;
    if (steps_per_beat < 1 || steps_per_beat > 960)
        return gb_fail(err, GB_ERR_ARG, -1, "steps_per_beat %d is not in 1..960", steps_per_beat);
    gb_copy_index *ix = calloc(1, sizeof *ix);
    if (!ix) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    ix->spb = steps_per_beat;
    *out = ix;
    return GB_OK;
}

gb_status gb_copy_add(gb_copy_index *ix, const gb_song *s, size_t piece, gb_error *err) {
    if (!ix || !s) return gb_fail(err, GB_ERR_ARG, -1, "gb_copy_add: missing argument");
    size_t frames0 = ix->n_frames, parts0 = ix->n_parts; /* a failure leaves the index as it was */
    gb_status st = GB_OK;
    for (size_t i = 0; i < s->n_parts && st == GB_OK; i++) {
        if (s->parts[i].is_drum) continue;
        frame *f;
        size_t n;
        st = part_frames(s, &s->parts[i], ix->spb, &f, &n, err);
        if (st != GB_OK || n == 0) continue;
        /* the index keeps steps as 32-bit numbers: 64 GiB of frames */
        if (n > UINT32_MAX - ix->n_frames)
            st = gb_fail(err, GB_ERR_LIMIT, -1, "the reference exceeds %u steps", UINT32_MAX);
        else if (gb_grow((void **)&ix->frames, &ix->frames_cap, ix->n_frames + n, sizeof *f) ||
                 gb_grow((void **)&ix->parts, &ix->parts_cap, ix->n_parts + 1, sizeof *ix->parts))
            st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu reference steps",
                         ix->n_frames + n);
        else {
            memcpy(ix->frames + ix->n_frames, f, n * sizeof *f);
            ix->parts[ix->n_parts++] = (ref_part){ix->n_frames, n, piece, (int)i};
            ix->n_frames += n;
        }
        free(f);
    }
    if (st != GB_OK) ix->n_frames = frames0, ix->n_parts = parts0;
    ix->built = 0;
    return st;
}

void gb_copy_free(gb_copy_index *ix) {
    if (!ix) return;
    free(ix->frames);
    free(ix->parts);
    free(ix->hash);
    free(ix->pos);
    free(ix);
}

/* ------------------------------------------------------------------------------------------ */
/* the index */

typedef struct {
    uint64_t h;
    uint32_t pos;
} hashed;

/* LSD radix sort by h, 16 bits a pass: stable, so equal hashes keep their steps in order. */
static gb_status sort_hashed(hashed *a, size_t n) {
    hashed *tmp = malloc(n * sizeof *tmp);
    size_t *count = malloc(65536 * sizeof *count);
    if (!tmp || !count) {
        free(tmp), free(count);
        return GB_ERR_NOMEM;
    }
    for (int shift = 0; shift < 64; shift += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++) count[(a[i].h >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = sum, sum += c;
        }
        for (size_t i = 0; i < n; i++) tmp[count[(a[i].h >> shift) & 0xffff]++] = a[i];
        memcpy(a, tmp, n * sizeof *a);
    }
    free(tmp), free(count);
    return GB_OK;
}

static gb_status build_index(gb_copy_index *ix, gb_error *err) {
    if (ix->n_frames && ix->n_frames < ix->frames_cap) { /* the room to grow is not needed now */
        frame *f = realloc(ix->frames, ix->n_frames * sizeof *f);
        if (f) ix->frames = f, ix->frames_cap = ix->n_frames;
    }
    free(ix->hash), free(ix->pos);
    ix->hash = NULL, ix->pos = NULL, ix->n_index = 0;
    size_t n = 0;
    for (size_t k = 0; k < ix->n_frames; k++) n += sounding(ix->frames[k]);
    if (n == 0) return GB_OK;
    hashed *a = malloc(n * sizeof *a);
    ix->hash = malloc(n * sizeof *ix->hash);
    ix->pos = malloc(n * sizeof *ix->pos);
    if (!a || !ix->hash || !ix->pos) goto nomem;
    size_t m = 0;
    for (size_t k = 0; k < ix->n_frames; k++)
        if (sounding(ix->frames[k])) a[m++] = (hashed){frame_hash(ix->frames[k]), (uint32_t)k};
    if (sort_hashed(a, n) != GB_OK) goto nomem;
    for (size_t k = 0; k < n; k++) ix->hash[k] = a[k].h, ix->pos[k] = a[k].pos;
    free(a);
    ix->n_index = n;
    return GB_OK;
nomem:
    free(a), free(ix->hash), free(ix->pos);
    ix->hash = NULL, ix->pos = NULL;
    return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory indexing %zu reference steps", n);
}

static gb_status ensure_index(gb_copy_index *ix, gb_error *err) {
    if (ix->built) return GB_OK;
    gb_status st = build_index(ix, err);
    ix->built = st == GB_OK;
    return st;
}

/* The index entries [*lo, *hi) whose hash is h. */
static void lookup(const gb_copy_index *ix, uint64_t h, size_t *lo, size_t *hi) {
    size_t a = 0, b = ix->n_index;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (ix->hash[m] < h) a = m + 1;
        else b = m;
    }
    *lo = a;
    for (b = ix->n_index; a < b;) {
        size_t m = a + (b - a) / 2;
        if (ix->hash[m] <= h) a = m + 1;
        else b = m;
    }
    *hi = a;
}

/* The reference part holding step r. */
static const ref_part *part_of(const gb_copy_index *ix, uint64_t r) {
    size_t a = 0, b = ix->n_parts; /* the last part starting at or before r */
    while (b - a > 1) {
        size_t m = a + (b - a) / 2;
        if (ix->parts[m].start <= r) a = m;
        else b = m;
    }
    return &ix->parts[a];
}

/* ------------------------------------------------------------------------------------------ */
/* a search */

/* One generated part: its frames, the last sounding step at or before each step, and the index
 * entries of each sounding step's frame hash. */
typedef struct {
    const frame *g;
    size_t n;
    size_t *prev, *lo, *hi;
} gen_part;

/* The longest stretch from sounding step i, as far as the part's result needs it: *len and the
 * reference step it is at. The shortcuts may leave *len short of i's own longest, never at the
 * part's first longest stretch (i*, r*): the bound, the longest found so far in the part by any
 * thread, only takes stretches that exist, so it never exceeds that one, which still reaches it;
 * and nothing before i* is as long. The lowest i with the largest *len is i* whatever order the
 * threads take the steps in. */
static void stretch_at(const gb_copy_index *ix, const gen_part *gp, size_t i,
                       _Atomic uint64_t *bound, uint64_t *len, uint64_t *at) {
    const frame *g = gp->g, *f = ix->frames;
    uint64_t B = atomic_load_explicit(bound, memory_order_relaxed);
    *len = 0, *at = 0;
    if (gp->prev[gp->n - 1] - i + 1 < B) return; /* too near the end to reach it */
    for (size_t c = gp->lo[i]; c < gp->hi[i]; c++) {
        uint64_t r = ix->pos[c];
        if (!same(f[r], g[i])) continue; /* another frame of the same hash */
        /* reaching B needs the frames B - 1 steps on to match: one look rules most out */
        if (B > 1 && (i + B - 1 >= gp->n || r + B - 1 >= ix->n_frames ||
                      !same(f[r + B - 1], g[i + B - 1])))
            continue;
        const ref_part *rp = part_of(ix, r);
        if (i > 0 && sounding(g[i - 1]) && r > rp->start && same(f[r - 1], g[i - 1]))
            continue; /* (i - 1, r - 1) is longer */
        uint64_t end = rp->start + rp->steps, L = 1;
        while (i + L < gp->n && r + L < end && same(f[r + L], g[i + L])) L++;
        uint64_t s = gp->prev[i + L - 1] - i + 1; /* to the last sounding step of the match */
        if (s > *len) *len = s, *at = r; /* candidates come in step order: the first wins */
    }
    for (uint64_t b = B; *len > b;) /* raise the bound */
        if (atomic_compare_exchange_weak(bound, &b, *len)) break;
}

/* Whether the W frames of g from step s0 stand in one reference part. */
static int window_found(const gb_copy_index *ix, const gen_part *gp, size_t s0, size_t W) {
    size_t best = SIZE_MAX, off = 0; /* the sounding frame with the fewest candidates */
    for (size_t k = s0; k < s0 + W; k++)
        if (sounding(gp->g[k]) && gp->hi[k] - gp->lo[k] < best)
            best = gp->hi[k] - gp->lo[k], off = k;
    if (best == SIZE_MAX || best == 0) return 0;
    for (size_t c = gp->lo[off]; c < gp->hi[off]; c++) {
        uint64_t r = ix->pos[c];
        const ref_part *rp = part_of(ix, r);
        if (r - rp->start < off - s0) continue;
        r -= off - s0;
        if (r + W > rp->start + rp->steps) continue;
        if (memcmp(ix->frames + r, gp->g + s0, W * sizeof *gp->g) == 0) return 1;
    }
    return 0;
}

gb_status gb_copy_find(gb_copy_index *ix, const gb_song *s, gb_copy_result *out,
                       gb_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!ix || !s || !out) return gb_fail(err, GB_ERR_ARG, -1, "gb_copy_find: missing argument");
    gb_status st = ensure_index(ix, err);
    if (st != GB_OK) return st;

    /* 4-bar windows, one bar apart, from the first time signature (4/4 without one) */
    double bar = 4;
    if (s->n_timesigs && s->timesigs[0].numerator && s->timesigs[0].denominator)
        bar = s->timesigs[0].numerator * 4.0 / s->timesigs[0].denominator;
    size_t W = (size_t)(4 * bar * ix->spb + 0.5), hop = (size_t)(bar * ix->spb + 0.5);
    if (W < 1) W = 1;
    if (hop < 1) hop = 1;

    int any = 0, all_whole = 1;
    for (size_t pi = 0; pi < s->n_parts; pi++) {
        if (s->parts[pi].is_drum) continue;
        frame *g;
        gen_part gp = {0};
        if ((st = part_frames(s, &s->parts[pi], ix->spb, &g, &gp.n, err)) != GB_OK) {
            memset(out, 0, sizeof *out); /* a failure leaves nothing half done */
            return st;
        }
        if (gp.n == 0) continue;
        gp.g = g;
        gp.prev = malloc(gp.n * sizeof *gp.prev);
        gp.lo = calloc(gp.n, sizeof *gp.lo);
        gp.hi = calloc(gp.n, sizeof *gp.hi);
        uint64_t *len = malloc(gp.n * sizeof *len), *at = malloc(gp.n * sizeof *at);
        if (!gp.prev || !gp.lo || !gp.hi || !len || !at) {
            free(g), free(gp.prev), free(gp.lo), free(gp.hi), free(len), free(at);
            memset(out, 0, sizeof *out);
            return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu steps", gp.n);
        }
        size_t first = SIZE_MAX, last = SIZE_MAX;
        for (size_t k = 0; k < gp.n; k++) {
            if (sounding(g[k])) {
                if (first == SIZE_MAX) first = k;
                last = k;
                if (ix->n_index) lookup(ix, frame_hash(g[k]), &gp.lo[k], &gp.hi[k]);
            }
            gp.prev[k] = last;
        }
        if (first != SIZE_MAX) {
            any = 1;
            uint64_t span = last - first + 1, best = 0, best_at = 0;
            size_t best_i = 0;
            _Atomic uint64_t bound = 1;
            if (span > out->span) out->span = span;
            /* the first sounding step alone (a copied part's bound at once, whatever the
             * threads' timing), the others in any order (stretch_at), then the first longest */
            memset(len, 0, gp.n * sizeof *len);
            stretch_at(ix, &gp, first, &bound, &len[first], &at[first]);
#pragma omp parallel for schedule(dynamic, 16) if (gp.n >= 256)
            for (size_t i = first + 1; i < gp.n; i++)
                if (sounding(g[i])) stretch_at(ix, &gp, i, &bound, &len[i], &at[i]);
            for (size_t i = 0; i < gp.n; i++)
                if (len[i] > best) best = len[i], best_at = at[i], best_i = i;
            if (best != span) all_whole = 0;
            if (best > out->longest) {
                const ref_part *rp = part_of(ix, best_at);
                out->longest = best;
                out->gen_part = (int)pi, out->gen_step = best_i;
                out->ref_piece = rp->piece, out->ref_part = rp->part;
                out->ref_step = best_at - rp->start;
            }
            uint64_t counted = 0, found = 0;
            size_t n_win = gp.n >= W ? (gp.n - W) / hop + 1 : 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : counted, found) if (n_win >= 64)
            for (size_t w = 0; w < n_win; w++) {
                size_t s0 = w * hop;
                if (gp.prev[s0 + W - 1] == SIZE_MAX || gp.prev[s0 + W - 1] < s0) continue;
                counted++;
                found += (uint64_t)window_found(ix, &gp, s0, W);
            }
            out->windows += counted, out->windows_found += found;
        }
        free(g), free(gp.prev), free(gp.lo), free(gp.hi), free(len), free(at);
    }
    out->whole = any && all_whole;
    return GB_OK;
}
