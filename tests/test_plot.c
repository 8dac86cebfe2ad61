/* test_plot.c - the pictures, read back with libpng: a crafted song's notes land where the
 * frame says in their part's colour, softer notes lighter, bar lines follow the time
 * signature, the lines figure and the loss curves draw their data, sets of pieces compared
 * feature by feature draw bars as tall as their shares, the font's glyphs, and every error
 * (bad logs, sizes, outputs) leaves no file behind. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <unistd.h>

#include "plot/canvas.h"
#include "plot/plot.h"
#include "test.h"
#include "tmpdir.h"

typedef struct {
    uint8_t *px; /* RGB */
    int w, h;
} picture;

static int read_png(const char *path, picture *p) {
    png_image img;
    memset(&img, 0, sizeof img);
    memset(p, 0, sizeof *p);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return 0;
    img.format = PNG_FORMAT_RGB;
    p->px = malloc(PNG_IMAGE_SIZE(img));
    if (!p->px || !png_image_finish_read(&img, NULL, p->px, 0, NULL)) {
        png_image_free(&img);
        free(p->px);
        p->px = NULL;
        return 0;
    }
    p->w = (int)img.width, p->h = (int)img.height;
    return 1;
}

static uint32_t pixel(const picture *p, int x, int y) {
    if (x < 0 || y < 0 || x >= p->w || y >= p->h) return 0xFF000000; /* no colour at all */
    const uint8_t *q = p->px + ((size_t)y * p->w + x) * 3;
    return (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2];
}

/* The pixel where (u, v) lands in frame f. */
static uint32_t at(const picture *p, const gb_plot_frame *f, double u, double v) {
    return pixel(p, (int)floor(gb_plot_x(f, u)), (int)floor(gb_plot_y(f, v)));
}

static int brightness(uint32_t c) { return (c >> 16 & 0xFF) + (c >> 8 & 0xFF) + (c & 0xFF); }

/* Strongly coloured, not a grey of the axes or the grid. */
static int saturated(uint32_t c) {
    int r = c >> 16 & 0xFF, g = c >> 8 & 0xFF, b = c & 0xFF;
    int hi = r > g ? (r > b ? r : b) : (g > b ? g : b);
    int lo = r < g ? (r < b ? r : b) : (g < b ? g : b);
    return hi - lo > 60;
}

static size_t count_colour(const picture *p, uint32_t c) {
    size_t n = 0;
    for (int y = 0; y < p->h; y++)
        for (int x = 0; x < p->w; x++) n += pixel(p, x, y) == c;
    return n;
}

/* A hand-made song at 120 bpm (a quarter note = 480 ticks = 0.5 s) in 3/4, so a bar is 1.5 s.
 * Part 0: C4 from 1 s to 2 s at full velocity; E4 (loud) and G4 (soft) from 3 s to 4 s.
 * Part 1: C5 from 0.5 s to 1.5 s at full velocity. */
static gb_note notes0[] = {{960, 1920, 60, 127}, {2880, 3840, 64, 127}, {2880, 3840, 67, 20}};
static gb_note notes1[] = {{480, 1440, 72, 127}};
static gb_part parts[2];
static gb_timesig three_four = {0, 3, 4, 24, 8};

static gb_song crafted(void) {
    gb_song s;
    memset(&s, 0, sizeof s);
    memset(parts, 0, sizeof parts);
    s.format = 1, s.division = 480, s.n_tracks = 2, s.end_tick = 3840;
    s.timesigs = &three_four, s.n_timesigs = 1;
    parts[0] = (gb_part){.track = 0, .channel = 0, .program = 0, .name = "lead",
                         .notes = notes0, .n_notes = 3};
    parts[1] = (gb_part){.track = 1, .channel = 1, .program = 40, .notes = notes1, .n_notes = 1};
    s.parts = parts, s.n_parts = 2;
    return s;
}

static void test_piano_roll(void) {
    gb_song s = crafted();
    gb_plot_opts o;
    gb_plot_opts_default(&o);
    o.width = 1000, o.height = 600, o.title = "crafted";
    gb_plot_frame f;
    gb_error e;
    CHECK_INT(gb_plot_song_frame(&s, &o, &f, &e), GB_OK);
    CHECK(f.x0 > 0 && f.x1 < o.width && f.y0 > 0 && f.y1 < o.height && f.x0 < f.x1);
    CHECK_NEAR(gb_plot_x(&f, f.u0), f.x0, 1e-9);
    CHECK_NEAR(gb_plot_y(&f, f.v0), f.y1, 1e-9);
    CHECK(f.u0 <= 0 && f.u1 >= 4 && f.v0 < 60 && f.v1 > 72);

    const char *path = tmp_path("roll.png");
    CHECK_INT(gb_plot_song_png(&s, &o, path, &e), GB_OK);
    picture p;
    CHECK(read_png(path, &p));
    CHECK_INT(p.w, 1000);
    CHECK_INT(p.h, 600);
    uint32_t c0 = gb_plot_part_colour(0), c1 = gb_plot_part_colour(1);
    CHECK(c0 != c1);
    CHECK_INT(at(&p, &f, 1.5, 60), c0); /* the middle of each full-velocity note */
    CHECK_INT(at(&p, &f, 1.0, 72), c1);
    CHECK_INT(at(&p, &f, 3.5, 64), c0);
    /* Velocity as intensity: the soft note is lighter than the loud one, yet still there. */
    uint32_t soft = at(&p, &f, 3.5, 67);
    CHECK(brightness(soft) > brightness(c0));
    CHECK(soft != 0xFFFFFF && saturated(soft));
    /* Away from the notes (A4, a white key, mid-bar) is background; 3/4 puts bar lines at 1.5
     * and 3 s, none at 2 s as 4/4 would. */
    CHECK_INT(at(&p, &f, 2.25, 69), 0xFFFFFF);
    CHECK_INT(at(&p, &f, 2.0, 69), 0xFFFFFF);
    CHECK(brightness(at(&p, &f, 3.0, 69)) < 3 * 0xFF);
    CHECK(brightness(at(&p, &f, 1.5, 69)) < 3 * 0xFF);
    /* A black key's row is shaded, lightly. */
    uint32_t shaded = at(&p, &f, 2.25, 70);
    CHECK(shaded != 0xFFFFFF && brightness(shaded) > 3 * 0xE0);
    /* The title and the legend put ink outside the frame. */
    size_t ink = 0;
    for (int y = 0; y < f.y0 - 4; y++)
        for (int x = 0; x < p.w; x++) ink += pixel(&p, x, y) != 0xFFFFFF;
    CHECK(ink > 100);
    /* The legend right of the frame has a swatch of each part's colour. */
    size_t swatch[2] = {0, 0};
    for (int y = 0; y < p.h; y++)
        for (int x = f.x1 + 4; x < p.w; x++) {
            swatch[0] += pixel(&p, x, y) == c0;
            swatch[1] += pixel(&p, x, y) == c1;
        }
    CHECK(swatch[0] >= 16 && swatch[1] >= 16);
    free(p.px);

    /* Without a time signature bars are 4/4: a line at 2 s. */
    s.n_timesigs = 0;
    CHECK_INT(gb_plot_song_png(&s, &o, path, &e), GB_OK);
    CHECK(read_png(path, &p));
    CHECK(brightness(at(&p, &f, 2.0, 69)) < 3 * 0xFF);
    CHECK_INT(at(&p, &f, 3.0, 69), 0xFFFFFF);
    free(p.px);
}

/* Format 2: each track keeps its own tempo, and a part's notes are timed by its track's. */
static void test_format2(void) {
    static gb_tempo tempos[] = {{0, 500000, 0, 0}, {0, 1000000, 1, 0}}; /* 120 and 60 bpm */
    gb_song s = crafted();
    s.format = 2, s.n_timesigs = 0, s.tempos = tempos, s.n_tempos = 2;
    gb_plot_frame f;
    gb_error e;
    CHECK_INT(gb_plot_song_frame(&s, NULL, &f, &e), GB_OK);
    const char *path = tmp_path("format2.png");
    CHECK_INT(gb_plot_song_png(&s, NULL, path, &e), GB_OK);
    picture p;
    CHECK(read_png(path, &p));
    /* Part 1 (track 1, 60 bpm): C5 at ticks 480..1440 sounds from 1 s to 3 s. */
    CHECK_INT(at(&p, &f, 2.5, 72), gb_plot_part_colour(1));
    CHECK_INT(at(&p, &f, 1.5, 60), gb_plot_part_colour(0));
    CHECK(f.u1 >= 3);
    free(p.px);
}

static void test_lines(void) {
    gb_song s = crafted();
    gb_plot_opts o;
    gb_plot_opts_default(&o);
    o.lines = 1;
    gb_plot_frame f;
    gb_error e;
    CHECK_INT(gb_plot_song_frame(&s, &o, &f, &e), GB_OK);
    CHECK(f.v0 <= 0 && f.v1 >= 127);
    const char *path = tmp_path("lines.png");
    CHECK_INT(gb_plot_song_png(&s, &o, path, &e), GB_OK);
    picture p;
    CHECK(read_png(path, &p));
    CHECK_INT(p.w, GB_PLOT_WIDTH);
    CHECK_INT(p.h, GB_PLOT_HEIGHT);
    /* C4 holds velocity 127 from 1 s to 2 s, G4 velocity 20 from 3 s to 4 s; nothing sounds
     * at velocity 50. */
    CHECK(saturated(at(&p, &f, 1.5, 127)));
    CHECK(saturated(at(&p, &f, 3.5, 20)));
    CHECK(!saturated(at(&p, &f, 2.5, 50)));
    free(p.px);
}

static void test_empty_song(void) {
    gb_song s;
    memset(&s, 0, sizeof s);
    s.division = 96;
    gb_error e;
    const char *path = tmp_path("empty.png");
    gb_plot_opts o = {.width = 400, .height = 300};
    CHECK_INT(gb_plot_song_png(&s, &o, path, &e), GB_OK);
    picture p;
    CHECK(read_png(path, &p));
    CHECK_INT(p.w, 400);
    CHECK_INT(p.h, 300);
    CHECK(count_colour(&p, 0x888888) > 20); /* "no notes" */
    free(p.px);
    o.lines = 1;
    CHECK_INT(gb_plot_song_png(&s, &o, path, &e), GB_OK);
    CHECK(read_png(path, &p));
    CHECK(count_colour(&p, 0x888888) > 20);
    free(p.px);
    CHECK_INT(gb_plot_song_png(&s, NULL, path, &e), GB_OK); /* NULL options: the defaults */
    CHECK(read_png(path, &p));
    CHECK_INT(p.w, GB_PLOT_WIDTH);
    CHECK_INT(p.h, GB_PLOT_HEIGHT);
    free(p.px);
}

/* A tiny bar in a huge span: the bar lines stay bounded by the pixels, not the bars. */
static void test_hostile_song(void) {
    static gb_note far[] = {{0, 1ull << 40, 0, 1}, {1ull << 39, 1ull << 40, 127, 127}};
    static gb_timesig tiny = {0, 1, 128, 24, 8};
    gb_part part = {.notes = far, .n_notes = 2, .channel = 9, .is_drum = 1};
    gb_song s;
    memset(&s, 0, sizeof s);
    s.division = 1, s.parts = &part, s.n_parts = 1, s.timesigs = &tiny, s.n_timesigs = 1;
    s.end_tick = 1ull << 40;
    gb_error e;
    CHECK_INT(gb_plot_song_png(&s, NULL, tmp_path("hostile.png"), &e), GB_OK);
    gb_plot_opts o = {.lines = 1};
    CHECK_INT(gb_plot_song_png(&s, &o, tmp_path("hostile.png"), &e), GB_OK);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_loss(void) {
    const char *log = tmp_path("log.jsonl"), *path = tmp_path("loss.png");
    write_text(log, "{\"epoch\":1,\"train_loss\":0.69,\"valid_loss\":0.70,\"windows\":12}\n"
                    "\n"
                    "  { \"epoch\" : 2 , \"train_loss\" : 5.5e-1 , \"valid_loss\" : null ,"
                    " \"note\": \"a } and a \\\" inside\", \"list\": [1, {\"x\": [2]}]}\r\n"
                    "{\"epoch\":3,\"train_loss\":0.41,\"valid_loss\":0.52,\"ok\":true}");
    gb_plot_opts o = {.width = 800, .height = 450, .title = "loss"};
    gb_error e;
    CHECK_INT(gb_plot_loss_png(log, &o, path, &e), GB_OK);
    picture p;
    CHECK(read_png(path, &p));
    CHECK_INT(p.w, 800);
    CHECK_INT(p.h, 450);
    size_t train = count_colour(&p, gb_plot_part_colour(0));
    size_t valid = count_colour(&p, gb_plot_part_colour(3));
    CHECK(train > 100);
    CHECK(valid > 50);
    free(p.px);

    /* No validation anywhere: no validation curve and no legend entry for it. */
    write_text(log, "{\"epoch\":1,\"train_loss\":0.69,\"valid_loss\":null}\n"
                    "{\"epoch\":2,\"train_loss\":0.5}\n");
    CHECK_INT(gb_plot_loss_png(log, &o, path, &e), GB_OK);
    CHECK(read_png(path, &p));
    CHECK(count_colour(&p, gb_plot_part_colour(0)) > 50);
    CHECK_INT(count_colour(&p, gb_plot_part_colour(3)), 0);
    free(p.px);

    /* Values at the ends of the doubles still make a picture (the ranges overflow). */
    write_text(log, "{\"epoch\":-1e308,\"train_loss\":-1.7e308,\"valid_loss\":1e-320}\n"
                    "{\"epoch\":1e308,\"train_loss\":1.7e308,\"valid_loss\":1.7e308}\n");
    CHECK_INT(gb_plot_loss_png(log, &o, path, &e), GB_OK);
    CHECK(read_png(path, &p));
    CHECK_INT(p.w, 800);
    free(p.px);

    /* An empty log is a picture that says so. */
    write_text(log, "");
    CHECK_INT(gb_plot_loss_png(log, NULL, path, &e), GB_OK);
    CHECK(read_png(path, &p));
    CHECK(count_colour(&p, 0x888888) > 20);
    free(p.px);
}

static void test_bad_logs(void) {
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"{\"epoch\":1,\"train_loss\":0.5}\n{\"epoch\":2}\n", "line 2: no \"train_loss\""},
        {"{\"train_loss\":0.5}", "line 1: no \"epoch\""},
        {"not json\n", "line 1: not a JSON object"},
        {"[1, 2]\n", "line 1: not a JSON object"},
        {"{\"epoch\":1,\"train_loss\":0.5} extra\n", "line 1: not a JSON object"},
        {"{\"epoch\":1,\"train_loss\":0.5\n", "line 1: not a JSON object"},
        {"{\"epoch\":1,\"train_loss\":0.5,}\n", "line 1: not a JSON object"},
        {"{\"epoch\":1,,\"train_loss\":0.5}\n", "line 1: not a JSON object"},
        {"{\"epoch\" 1,\"train_loss\":0.5}\n", "line 1: not a JSON object"},
        {"{\"epoch\":1,\"name\":\"open,\"train_loss\":0.5}\n", "line 1: not a JSON object"},
        {"\n\n{\"epoch\":1,\"train_loss\":\"low\"}\n",
         "line 3: \"train_loss\" is not a number or null"},
        {"{\"epoch\":null,\"train_loss\":1}\n", "line 1: \"epoch\" is not a number"},
        {"{\"epoch\":1,\"train_loss\":inf}\n", "line 1: \"train_loss\" is not a number or null"},
        {"{\"epoch\":1,\"train_loss\":1e999}\n", "line 1: \"train_loss\" is not a number or null"},
        /* keys inside strings and nested objects are not the line's keys */
        {"{\"epoch\":1,\"s\":\"\\\"train_loss\\\": 1\",\"o\":{\"train_loss\":2}}\n",
         "line 1: no \"train_loss\""},
    };
    const char *log = tmp_path("bad.jsonl"), *path = tmp_path("bad.png");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unlink(path);
        write_text(log, cases[i].text);
        gb_error e;
        memset(&e, 0, sizeof e);
        CHECK_INT(gb_plot_loss_png(log, NULL, path, &e), GB_ERR_FORMAT);
        CHECK_STR_HAS(e.msg, cases[i].msg);
        CHECK_STR_HAS(e.msg, log);
        CHECK(access(path, F_OK) != 0);
    }
    gb_error e;
    CHECK_INT(gb_plot_loss_png(tmp_path("none.jsonl"), NULL, path, &e), GB_ERR_IO);
    CHECK_STR_HAS(e.msg, "none.jsonl: cannot open");
    CHECK(access(path, F_OK) != 0);
}

static void test_bad_args(void) {
    gb_song s = crafted();
    gb_error e;
    const char *path = tmp_path("args.png");
    gb_plot_opts o = {.width = GB_PLOT_MIN_SIDE - 1, .height = 600};
    CHECK_INT(gb_plot_song_png(&s, &o, path, &e), GB_ERR_ARG);
    o.width = 600, o.height = GB_PLOT_MAX_SIDE + 1;
    CHECK_INT(gb_plot_song_png(&s, &o, path, &e), GB_ERR_ARG);
    gb_plot_frame f;
    CHECK_INT(gb_plot_song_frame(&s, &o, &f, &e), GB_ERR_ARG);
    CHECK(access(path, F_OK) != 0);
    /* The smallest picture still lays out. */
    o.width = o.height = GB_PLOT_MIN_SIDE;
    CHECK_INT(gb_plot_song_frame(&s, &o, &f, &e), GB_OK);
    CHECK(f.x1 - f.x0 > 50 && f.y1 - f.y0 > 50);
    CHECK_INT(gb_plot_song_png(&s, &o, path, &e), GB_OK);
    /* A directory is not a place for a PNG; the message names it. */
    CHECK_INT(gb_plot_song_png(&s, NULL, tmpdir, &e), GB_ERR_IO);
    CHECK_STR_HAS(e.msg, tmpdir);
}

/* ------------------------------------------------------------------------------------------ */
/* sets of pieces compared */

/* A piece with every feature defined: pitch_count distinct pitches, every other number 1, 3/4
 * of its notes on C and 1/4 on G, all of them quarter notes, every transition C -> C. */
static gb_piece_features test_piece(double pitch_count) {
    gb_piece_features f;
    memset(&f, 0, sizeof f);
    for (int i = 0; i < GB_F_COUNT; i++)
        if (gb_features[i].dim == 1) f.v[gb_features[i].offset] = 1;
    f.v[gb_features[GB_F_PITCH_COUNT].offset] = pitch_count;
    f.v[gb_features[GB_F_PC_HIST].offset + 0] = 0.75;
    f.v[gb_features[GB_F_PC_HIST].offset + 7] = 0.25;
    f.v[gb_features[GB_F_LENGTH_HIST].offset + 2] = 1;
    f.v[gb_features[GB_F_PC_TRANS].offset + 0] = 1;
    return f;
}

static void add_piece(gb_piece_set *set, const gb_piece_features *f) {
    gb_error e;
    CHECK_INT(gb_piece_set_add(set, "piece.mid", NULL, f, &e), GB_OK);
}

/* Set A: pitch count 3 in two pieces, 5 in one, undefined in one and NaN in another; set B:
 * 5 in three pieces, its inter-onset interval undefined in all; set C: no pieces. */
static void test_sets(gb_piece_set sets[3]) {
    memset(sets, 0, 3 * sizeof *sets);
    strcpy(sets[0].label, "A");
    strcpy(sets[1].label, "B");
    gb_piece_features f = test_piece(3);
    add_piece(&sets[0], &f);
    add_piece(&sets[0], &f);
    f = test_piece(5);
    add_piece(&sets[0], &f);
    f.undef[GB_F_PITCH_COUNT] = GB_UNDEF_NO_NOTES;
    add_piece(&sets[0], &f);
    f = test_piece(NAN);
    add_piece(&sets[0], &f);
    f = test_piece(5);
    f.undef[GB_F_IOI] = GB_UNDEF_ONE_ONSET;
    f.v[gb_features[GB_F_IOI].offset] = 0;
    for (int i = 0; i < 3; i++) add_piece(&sets[1], &f);
}

static size_t count_in(const picture *p, int x0, int y0, int x1, int y1, uint32_t c) {
    size_t n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) n += pixel(p, x, y) == c;
    return n;
}

/* The run of colour c up from the frame's bottom in the second column of set k's bar in bin b
 * (the middle one may hold the set's mean line). */
static int bar_height(const picture *pic, const gb_plot_panel *p, size_t k, int b, uint32_t c) {
    int x0, x1, h = 0;
    gb_plot_compare_bar(p, k, b, &x0, &x1);
    while (h < pic->h && pixel(pic, x0 + 1, p->f.y1 - 1 - h) == c) h++;
    return h;
}

static void test_compare(void) {
    gb_piece_set sets[3];
    test_sets(sets);
    const gb_piece_set *ptr[3] = {&sets[0], &sets[1], &sets[2]};
    uint32_t col[3] = {gb_plot_part_colour(0), gb_plot_part_colour(1), gb_plot_part_colour(2)};
    gb_plot_opts o = {.width = 1500, .height = 1000, .title = "compare"};
    const char *path = tmp_path("compare.png");
    gb_error e;
    CHECK_INT(gb_plot_compare_png(ptr, 3, &o, path, &e), GB_OK);
    picture pic;
    CHECK(read_png(path, &pic));
    CHECK_INT(pic.w, 1500);
    CHECK_INT(pic.h, 1000);

    /* Pitch count: integer bins 3, 4, 5; shares of the defined pieces. */
    gb_plot_panel p;
    CHECK_INT(gb_plot_compare_panel(ptr, 3, &o, GB_F_PITCH_COUNT, &p, &e), GB_OK);
    CHECK_INT(p.dim, 1);
    CHECK_INT(p.n_bins, 3);
    CHECK_NEAR(p.bin0, 2.5, 1e-9);
    CHECK_NEAR(p.bin_w, 1, 1e-9);
    CHECK(p.x0 >= 0 && p.x1 <= pic.w && p.y0 > 0 && p.y1 <= pic.h);
    CHECK(p.f.x0 > p.x0 && p.f.x1 < p.x1 && p.f.y0 > p.y0 && p.f.y1 < p.y1);
    CHECK(p.f.x1 - p.f.x0 > 100 && p.f.y1 - p.f.y0 > 100);
    int a3 = bar_height(&pic, &p, 0, 0, col[0]), a5 = bar_height(&pic, &p, 0, 2, col[0]);
    int b5 = bar_height(&pic, &p, 1, 2, col[1]);
    CHECK(a5 > 20);
    CHECK(abs(a3 - 2 * a5) <= 2);                                /* 2/3 against 1/3 */
    CHECK_NEAR(a3, p.f.y1 - gb_plot_y(&p.f, 200.0 / 3), 1.5);    /* of 3 pieces, not 5 */
    CHECK_NEAR(b5, p.f.y1 - gb_plot_y(&p.f, 100), 1.5);          /* all of B */
    CHECK_INT(bar_height(&pic, &p, 0, 1, col[0]), 0);            /* no 4 */
    CHECK_INT(bar_height(&pic, &p, 1, 0, col[1]), 0);
    CHECK(count_in(&pic, p.x0, p.y0, p.x1, p.y1, col[2]) == 0); /* C has no pieces */
    /* The means as lines at the top of the frame: A at 11/3, B at 5. */
    CHECK_INT(pixel(&pic, (int)floor(gb_plot_x(&p.f, 11.0 / 3)), p.f.y0), col[0]);
    CHECK_INT(pixel(&pic, (int)floor(gb_plot_x(&p.f, 5)), p.f.y0), col[1]);
    CHECK(pixel(&pic, (int)floor(gb_plot_x(&p.f, 4.25)), p.f.y0) != col[0]);

    /* The legend above the panels has a swatch of every set, C's too. */
    for (int k = 0; k < 3; k++) CHECK(count_in(&pic, 0, 0, pic.w, p.y0, col[k]) >= 16);

    /* B's inter-onset interval is undefined throughout: A alone in that panel. */
    CHECK_INT(gb_plot_compare_panel(ptr, 3, &o, GB_F_IOI, &p, &e), GB_OK);
    CHECK(count_in(&pic, p.x0, p.y0, p.x1, p.y1, col[0]) > 100);
    CHECK_INT(count_in(&pic, p.x0, p.y0, p.x1, p.y1, col[1]), 0);
    CHECK_INT(p.n_bins, 1); /* every value 1: one bin around it */
    CHECK_NEAR(bar_height(&pic, &p, 0, 0, col[0]), p.f.y1 - gb_plot_y(&p.f, 100), 1.5);

    /* The pitch-class histogram: mean shares, C three times G. */
    CHECK_INT(gb_plot_compare_panel(ptr, 3, &o, GB_F_PC_HIST, &p, &e), GB_OK);
    CHECK_INT(p.n_bins, 12);
    for (int k = 0; k < 2; k++) {
        int c = bar_height(&pic, &p, (size_t)k, 0, col[k]);
        int g = bar_height(&pic, &p, (size_t)k, 7, col[k]);
        CHECK(g > 20 && abs(c - 3 * g) <= 3);
        CHECK_INT(bar_height(&pic, &p, (size_t)k, 1, col[k]), 0);
    }

    /* The transitions: every one C -> C, full colour there and white beside it. */
    CHECK_INT(gb_plot_compare_panel(ptr, 3, &o, GB_F_PC_TRANS, &p, &e), GB_OK);
    CHECK(p.map_cell_w >= 2 && p.map_cell_h >= 2 && p.map_cols >= 1);
    for (int k = 0; k < 2; k++) {
        int x = p.map_x0 + k % p.map_cols * p.map_step_x + p.map_cell_w / 2;
        int y = p.map_y0 + k / p.map_cols * p.map_step_y + p.map_cell_h / 2;
        CHECK_INT(pixel(&pic, x, y), col[k]);
        CHECK_INT(pixel(&pic, x + p.map_cell_w, y), 0xFFFFFF);
        CHECK_INT(pixel(&pic, x, y + p.map_cell_h), 0xFFFFFF);
    }
    /* Set C, without pieces, leaves no trace below the legend. */
    CHECK_INT(gb_plot_compare_panel(ptr, 3, &o, GB_F_PITCH_COUNT, &p, &e), GB_OK);
    CHECK_INT(count_in(&pic, 0, p.y0, pic.w, pic.h, col[2]), 0);
    free(pic.px);

    /* No options: the default size, B alone. */
    CHECK_INT(gb_plot_compare_png(ptr + 1, 1, NULL, path, &e), GB_OK);
    CHECK(read_png(path, &pic));
    CHECK_INT(pic.w, GB_PLOT_COMPARE_WIDTH);
    CHECK_INT(pic.h, GB_PLOT_COMPARE_HEIGHT);
    CHECK(count_colour(&pic, col[0]) > 1000); /* the first colour is the first set's */
    CHECK_INT(count_colour(&pic, col[1]), 0);
    free(pic.px);
    for (int k = 0; k < 3; k++) gb_piece_set_free(&sets[k]);
}

/* Ten sets at the smallest size, values at the ends of the doubles: still a picture. */
static void test_compare_extremes(void) {
    gb_piece_set sets[GB_PLOT_MAX_SETS];
    const gb_piece_set *ptr[GB_PLOT_MAX_SETS];
    memset(sets, 0, sizeof sets);
    for (int k = 0; k < GB_PLOT_MAX_SETS; k++) {
        gb_piece_features f = test_piece(k % 2 ? 1e308 : -1e308);
        f.v[gb_features[GB_F_PITCH_INTERVAL].offset] = k * 1e-300;
        f.v[gb_features[GB_F_POLYPHONY].offset] = INFINITY;
        snprintf(sets[k].label, sizeof sets[k].label, "a label longer than the legend has room "
                                                       "for, set %d", k);
        add_piece(&sets[k], &f);
        ptr[k] = &sets[k];
    }
    gb_plot_opts o = {.width = GB_PLOT_MIN_SIDE, .height = GB_PLOT_MIN_SIDE};
    gb_error e;
    const char *path = tmp_path("extremes.png");
    CHECK_INT(gb_plot_compare_png(ptr, GB_PLOT_MAX_SETS, &o, path, &e), GB_OK);
    picture pic;
    CHECK(read_png(path, &pic));
    CHECK_INT(pic.w, GB_PLOT_MIN_SIDE);
    free(pic.px);
    o.width = 1200, o.height = 900;
    CHECK_INT(gb_plot_compare_png(ptr, GB_PLOT_MAX_SETS, &o, path, &e), GB_OK);
    gb_plot_panel p;
    CHECK_INT(gb_plot_compare_panel(ptr, GB_PLOT_MAX_SETS, &o, GB_F_PITCH_COUNT, &p, &e), GB_OK);
    CHECK(p.n_bins >= 1 && p.n_bins <= 20 && isfinite(p.bin0) && isfinite(p.bin_w));
    CHECK_INT(gb_plot_compare_panel(ptr, GB_PLOT_MAX_SETS, &o, GB_F_POLYPHONY, &p, &e), GB_OK);
    CHECK_INT(p.n_bins, 0); /* no finite value */
    for (int k = 0; k < GB_PLOT_MAX_SETS; k++) gb_piece_set_free(&sets[k]);
}

static size_t dir_entries(const char *dir) {
    size_t n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *ent; d && (ent = readdir(d));) n++;
    if (d) closedir(d);
    return n;
}

static void test_compare_errors(void) {
    gb_piece_set sets[3];
    test_sets(sets);
    const gb_piece_set *ptr[GB_PLOT_MAX_SETS + 1];
    for (int k = 0; k <= GB_PLOT_MAX_SETS; k++) ptr[k] = &sets[k % 3];
    const char *path = tmp_path("compare_bad.png");
    gb_error e;
    gb_plot_panel p;
    static const int sizes[][2] = {{GB_PLOT_MIN_SIDE - 1, 600}, {600, GB_PLOT_MAX_SIDE + 1},
                                   {-5, 600}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        gb_plot_opts o = {.width = sizes[i][0], .height = sizes[i][1]};
        memset(&e, 0, sizeof e);
        CHECK_INT(gb_plot_compare_png(ptr, 2, &o, path, &e), GB_ERR_ARG);
        CHECK(!strncmp(e.msg, path, strlen(path)));
        CHECK_INT(gb_plot_compare_panel(ptr, 2, &o, GB_F_PITCH_COUNT, &p, &e), GB_ERR_ARG);
    }
    memset(&e, 0, sizeof e);
    CHECK_INT(gb_plot_compare_png(ptr, 0, NULL, path, &e), GB_ERR_ARG);
    CHECK(!strncmp(e.msg, path, strlen(path)));
    CHECK_INT(gb_plot_compare_png(ptr, GB_PLOT_MAX_SETS + 1, NULL, path, &e), GB_ERR_ARG);
    CHECK_STR_HAS(e.msg, "11 sets");
    CHECK_INT(gb_plot_compare_png(NULL, 2, NULL, path, &e), GB_ERR_ARG);
    CHECK_INT(gb_plot_compare_panel(ptr, 0, NULL, GB_F_PITCH_COUNT, &p, &e), GB_ERR_ARG);
    CHECK_INT(gb_plot_compare_panel(ptr, 2, NULL, GB_F_COUNT, &p, &e), GB_ERR_ARG);
    CHECK(access(path, F_OK) != 0);

    /* Places that cannot take the PNG: an error naming them, and nothing left behind. */
    size_t before = dir_entries(tmpdir);
    const char *missing = tmp_path("missing/compare.png");
    CHECK(gb_plot_compare_png(ptr, 2, NULL, missing, &e) != GB_OK);
    CHECK(!strncmp(e.msg, missing, strlen(missing)));
    CHECK(access(missing, F_OK) != 0);
    const char *dir = tmp_path("a_directory");
    CHECK_INT(mkdir(dir, 0755), 0);
    CHECK(gb_plot_compare_png(ptr, 2, NULL, dir, &e) != GB_OK);
    CHECK(!strncmp(e.msg, dir, strlen(dir)));
    CHECK_INT(dir_entries(tmpdir), before + 1);
    CHECK_INT(dir_entries(dir), 2); /* . and .. */
    for (int k = 0; k < 3; k++) gb_piece_set_free(&sets[k]);
}

static void test_font(void) {
    gb_canvas c;
    gb_error e;
    CHECK_INT(gb_canvas_init(&c, 64, 32, 0xFFFFFF, &e), GB_OK);
    gb_font_draw(&c, 2, 2, " ", 2, 0x000000);
    size_t inked = 0, outside = 0;
    for (int y = 0; y < c.h; y++)
        for (int x = 0; x < c.w; x++) inked += gb_canvas_get(&c, x, y) != 0xFFFFFF;
    CHECK_INT(inked, 0);
    gb_font_draw(&c, 2, 2, "A", 2, 0x000000);
    for (int y = 0; y < c.h; y++)
        for (int x = 0; x < c.w; x++) {
            int in = x >= 2 && x < 2 + GB_FONT_W * 2 && y >= 2 && y < 2 + GB_FONT_ROWS * 2;
            int set = gb_canvas_get(&c, x, y) != 0xFFFFFF;
            inked += set, outside += set && !in;
        }
    CHECK(inked >= 4 * 10); /* a dozen or more dots, each 2 x 2 */
    CHECK_INT(outside, 0);
    CHECK_INT(gb_font_width("A", 2), 2 * GB_FONT_W);
    CHECK_INT(gb_font_width("AB", 1), GB_FONT_ADVANCE + GB_FONT_W);
    gb_canvas_free(&c);

    /* Every printable character but space has a glyph of its own; others draw as '?'. */
    for (int a = 33; a < 127; a++) {
        const uint8_t *g = gb_font_glyph(a);
        int any = 0;
        for (int r = 0; r < GB_FONT_ROWS; r++) any |= g[r];
        CHECK(any);
        CHECK(!(any & ~0x1F));
        for (int b = a + 1; b < 127; b++)
            if (!memcmp(g, gb_font_glyph(b), GB_FONT_ROWS)) {
                fprintf(stderr, "  glyphs '%c' and '%c' are the same\n", a, b);
                CHECK(0);
            }
    }
    CHECK(gb_font_glyph(200) == gb_font_glyph('?'));
    CHECK(gb_font_glyph('\n') == gb_font_glyph('?'));
}

static void test_canvas_clip(void) {
    gb_canvas c;
    gb_error e;
    CHECK_INT(gb_canvas_init(&c, 20, 10, 0xFFFFFF, &e), GB_OK);
    gb_canvas_clip(&c, 5, 2, 15, 8);
    gb_canvas_rect(&c, -100, -100, 100, 100, 0x000000);
    gb_canvas_line(&c, -1e12, 5, 1e12, 5, 3, 0xFF0000); /* cut to the clip, not walked */
    gb_canvas_line(&c, NAN, 0, 3, 3, 1, 0xFF0000);
    gb_canvas_disc(&c, 1e300, 1e300, 5, 0xFF0000);
    size_t black = 0, red = 0, outside = 0;
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 20; x++) {
            uint32_t v = gb_canvas_get(&c, x, y);
            int in = x >= 5 && x < 15 && y >= 2 && y < 8;
            black += v == 0, red += v == 0xFF0000, outside += v != 0xFFFFFF && !in;
        }
    CHECK_INT(outside, 0);
    CHECK_INT(red, 3 * 10);
    CHECK_INT(black + red, 6 * 10);
    gb_canvas_free(&c);
}

int main(void) {
    if (!tmpdir_make("plot_test")) return 1;
    RUN(test_piano_roll);
    RUN(test_format2);
    RUN(test_lines);
    RUN(test_empty_song);
    RUN(test_hostile_song);
    RUN(test_loss);
    RUN(test_bad_logs);
    RUN(test_bad_args);
    RUN(test_compare);
    RUN(test_compare_extremes);
    RUN(test_compare_errors);
    RUN(test_font);
    RUN(test_canvas_clip);
    rm_tree(tmpdir);
    TEST_END();
}
