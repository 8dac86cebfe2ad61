/* cmd_report.c - `groovybee report GENERATED... --reference CORPUS... -o DIR`: one static page,
 * DIR/index.html, for a set of generated pieces: each piece's piano roll, an audio player and
 * its notes and length; the comparison with the corpus and its histograms; with --model (and
 * --log) the model's configuration and its loss curve. The pictures, sounds and figures come
 * from the plot, render and compare commands, run in this process on the same files; every
 * file the page refers to lies beside it, so it works from file:// with no network. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "io/checkpoint.h"

static const char *HELP =
    "usage: groovybee report GENERATED... --reference CORPUS... -o DIR [options]\n"
    "\n"
    "Writes DIR/index.html, a page for a set of generated pieces that opens offline in any\n"
    "browser (phones too): each piece's piano roll (as `plot` draws it), an audio player (a\n"
    "WAV rendered as `render` renders it), its MIDI file, notes and length; the comparison\n"
    "with the corpus (`compare`'s table, and its histograms); with --model its configuration,\n"
    "and with --log its loss curve. Everything it shows is written beside it in DIR\n"
    "(pieces/, compare.*, loss.png). GENERATED and CORPUS may be files or folders.\n"
    "\n"
    "options:\n"
    "  -r, --reference PATH...  the corpus (the paths after it; required)\n"
    "  -o, --output DIR         the folder of the page (created; required)\n"
    "  --model MODEL            show the model's configuration and training figures\n"
    "  --log LOG.jsonl          show its loss curve (train --log)\n"
    "  --segment BEATS          compare in segments of BEATS quarter notes [64; 0: whole]\n"
    "  --soundfont FILE.sf2     for the audio [Debian's General MIDI soundfont]\n"
    "  -h, --help               show this help\n"
    "\n"
    "Opened as index.html#selftest, the page writes what loaded (each sound's duration, each\n"
    "picture's size) at its end: what tests/cli_report.sh checks in a headless browser.\n";

#define MAX_PIECES 256

/* Runs another command of this program in this process, as `groovybee ARGV...` would. */
static int run(int (*cmd)(int, char **), char **argv) {
    int argc = 0;
    while (argv[argc]) argc++;
    optind = 0; /* glibc: start the next getopt afresh */
    return cmd(argc, argv);
}

static void html_text(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static const char *STYLE =
    "body{font-family:system-ui,sans-serif;margin:0 auto;padding:1em;max-width:60em;"
    "line-height:1.4}img{max-width:100%;height:auto;display:block}audio{width:100%}"
    "pre{overflow-x:auto;font-size:0.8em;background:#f4f4f4;padding:0.5em}"
    "section.piece{border-top:1px solid #ccc;margin-top:1em;padding-top:0.5em}"
    "table{border-collapse:collapse}td,th{padding:0.1em 0.6em;text-align:left}";

/* The self-test: at index.html#selftest the page appends what loaded. */
static const char *SELFTEST =
    "<script>\n"
    "if (location.hash === '#selftest') {\n"
    "  const wait = (el, ok, ev) => ok(el) ? Promise.resolve() : new Promise(r => {\n"
    "    el.addEventListener(ev, r); el.addEventListener('error', r); });\n"
    "  const audio = [...document.querySelectorAll('audio')];\n"
    "  const img = [...document.querySelectorAll('img')];\n"
    "  Promise.all(audio.map(a => wait(a, x => x.readyState >= 1, 'loadedmetadata'))\n"
    "      .concat(img.map(i => wait(i, x => x.complete, 'load')))).then(() => {\n"
    "    const out = document.createElement('pre');\n"
    "    out.id = 'selftest';\n"
    "    out.textContent = audio.map(a => 'audio ' + a.getAttribute('src') + ' ' + a.duration)\n"
    "      .concat(img.map(i => 'img ' + i.getAttribute('src') + ' ' + i.naturalWidth + 'x' +\n"
    "                      i.naturalHeight)).join('\\n') + '\\nend';\n"
    "    document.body.appendChild(out);\n"
    "  });\n"
    "}\n"
    "</script>\n";

static void model_section(FILE *f, const char *mpath, const gb_model_info *in, int has_loss) {
    static const char *const HEAD[] = {"linear", "NADE", "softmax"};
    static const char *const LOSS[] = {"MSE", "BCE", "cross-entropy"};
    fputs("<h2>The model</h2>\n<table>\n", f);
    fputs("<tr><th>file</th><td>", f);
    html_text(f, cli_base_name(mpath));
    fprintf(f, "</td></tr>\n<tr><th>preset</th><td>%s</td></tr>\n",
            in->preset[0] ? in->preset : "(none)");
    fprintf(f, "<tr><th>network</th><td>LSTM %d x %d, %s head, %s loss</td></tr>\n", in->net.L,
            in->net.H, HEAD[in->net.head], LOSS[in->loss]);
    fprintf(f, "<tr><th>representation</th><td>%s</td></tr>\n",
            in->enc.events ? "performance events" : "piano roll");
    fprintf(f, "<tr><th>training</th><td>windows of %d every %d, batch %d, lr %g, %d "
            "epoch%s</td></tr>\n", in->seq, in->stride, in->batch, (double)in->lr, in->epochs,
            in->epochs == 1 ? "" : "s");
    if (isfinite(in->train_loss))
        fprintf(f, "<tr><th>training loss</th><td>%.5f</td></tr>\n", in->train_loss);
    if (isfinite(in->best_valid_loss))
        fprintf(f, "<tr><th>validation loss</th><td>%.5f</td></tr>\n", in->best_valid_loss);
    fputs("<tr><th>corpus</th><td>", f);
    html_text(f, in->corpus ? in->corpus : "[]");
    fputs("</td></tr>\n</table>\n", f);
    if (has_loss) fputs("<img src=\"loss.png\" alt=\"training and validation loss\">\n", f);
}

int cmd_report(int argc, char **argv) {
    enum { O_MODEL = 256, O_LOG, O_SEGMENT, O_SF };
    static const struct option opts[] = {
        {"reference", no_argument, 0, 'r'},   {"output", required_argument, 0, 'o'},
        {"model", required_argument, 0, O_MODEL}, {"log", required_argument, 0, O_LOG},
        {"segment", required_argument, 0, O_SEGMENT}, {"soundfont", required_argument, 0, O_SF},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *C = "report", *dir = NULL, *mpath = NULL, *log = NULL, *sf = NULL;
    const char *segment = "64";
    const char *gen[MAX_PIECES], *ref[MAX_PIECES];
    int n_gen = 0, n_ref = 0, into_ref = 0, c;
    double seg;
    while ((c = getopt_long(argc, argv, "-ro:h", opts, NULL)) != -1) {
        switch (c) {
        case 1:
            if ((into_ref ? n_ref : n_gen) == MAX_PIECES)
                return cli_usage_error(C, "more than %d paths", MAX_PIECES);
            if (into_ref) ref[n_ref++] = optarg;
            else gen[n_gen++] = optarg;
            break;
        case 'r': into_ref = 1; break;
        case 'o': dir = optarg; break;
        case O_MODEL: mpath = optarg; break;
        case O_LOG: log = optarg; break;
        case O_SEGMENT:
            if (!cli_double(C, "--segment", optarg, 0, 1e6, &seg)) return EXIT_USAGE;
            segment = optarg;
            break;
        case O_SF: sf = optarg; break;
        case 'h': return fputs(HELP, stdout), EXIT_OK;
        default: return cli_usage_error(C, "bad option");
        }
    }
    if (!dir) return cli_usage_error(C, "-o DIR is required");
    if (!n_gen) return cli_usage_error(C, "no GENERATED pieces");
    if (!n_ref) return cli_usage_error(C, "no --reference CORPUS");

    gb_error e;
    gb_model_info info;
    int has_model = 0, rc = EXIT_RUNTIME;
    if (mpath) {
        if (gb_ckpt_read_info(mpath, &info, &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s\n", e.msg);
            return EXIT_RUNTIME;
        }
        has_model = 1;
    }
    gb_strs pieces = {0};
    char path[4096], out[4096];
    if (gb_walk_midi_list(gen, (size_t)n_gen, NULL, NULL, &pieces, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        goto done;
    }
    if (!pieces.n || pieces.n > MAX_PIECES) {
        fprintf(stderr, "groovybee: %zu MIDI files among the GENERATED paths: 1..%d wanted\n",
                pieces.n, MAX_PIECES);
        goto done;
    }
    snprintf(path, sizeof path, "%s/pieces", dir);
    if ((mkdir(dir, 0777) != 0 && errno != EEXIST) ||
        (mkdir(path, 0777) != 0 && errno != EEXIST)) {
        fprintf(stderr, "groovybee: %s: cannot create: %s\n", path, strerror(errno));
        goto done;
    }

    char *html = NULL;
    size_t html_len = 0;
    FILE *f = open_memstream(&html, &html_len);
    if (!f) {
        fprintf(stderr, "groovybee: out of memory\n");
        goto done;
    }
    fprintf(f, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>groovybee report</title>\n<style>%s</style></head><body>\n"
            "<h1>groovybee: %zu generated piece%s</h1>\n", STYLE, pieces.n,
            pieces.n == 1 ? "" : "s");
    /* the pieces */
    int failed = 0;
    for (int i = 0; i < (int)pieces.n && !failed; i++) {
        const char *p = pieces.v[i];
        gb_song s;
        if (gb_song_read(p, &s, &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s: %s\n", p, e.msg);
            failed = 1;
            break;
        }
        size_t notes = 0;
        uint64_t end = 0;
        for (size_t k = 0; k < s.n_parts; k++) {
            notes += s.parts[k].n_notes;
            for (size_t j = 0; j < s.parts[k].n_notes; j++)
                if (s.parts[k].notes[j].end > end) end = s.parts[k].notes[j].end;
        }
        double secs = gb_song_seconds(&s, -1, end);
        char name[32];
        snprintf(name, sizeof name, "pieces/%03d", i + 1);
        gb_buf mid = {0};
        snprintf(out, sizeof out, "%s/%s.mid", dir, name);
        int bad = gb_song_write(&s, &mid, &e) != GB_OK ||
                  gb_file_write_atomic(out, mid.data, mid.len, &e) != GB_OK;
        gb_buf_free(&mid);
        gb_song_free(&s);
        if (bad) {
            fprintf(stderr, "groovybee: %s\n", e.msg);
            failed = 1;
            break;
        }
        char png[4200], wav[4200];
        snprintf(png, sizeof png, "%s/%s.png", dir, name);
        snprintf(wav, sizeof wav, "%s/%s.wav", dir, name);
        char *pa[] = {"plot", (char *)p, "-o", png, NULL};
        char *ra[] = {"render", (char *)p, "-o", wav, sf ? "--soundfont" : NULL, (char *)sf, NULL};
        if (run(cmd_plot, pa) != EXIT_OK || run(cmd_render, ra) != EXIT_OK) {
            failed = 1;
            break;
        }
        fprintf(f, "<section class=\"piece\"><h2>%d. ", i + 1);
        html_text(f, cli_base_name(p));
        fprintf(f, "</h2>\n<p>%zu notes, %.1f s &middot; <a href=\"%s.mid\">MIDI</a></p>\n"
                "<audio controls preload=\"metadata\" src=\"%s.wav\"></audio>\n"
                "<img src=\"%s.png\" alt=\"piano roll of piece %d\" loading=\"lazy\">\n"
                "</section>\n", notes, secs, name, name, name, i + 1);
    }
    /* the comparison with the corpus */
    if (!failed) {
        char js[4200], cp[4200], tb[4200];
        snprintf(js, sizeof js, "%s/compare.json", dir);
        snprintf(cp, sizeof cp, "%s/compare.png", dir);
        snprintf(tb, sizeof tb, "%s/compare.txt", dir);
        char *ca[2 * MAX_PIECES + 16];
        int k = 0;
        ca[k++] = "compare";
        for (int i = 0; i < n_gen; i++) ca[k++] = (char *)gen[i];
        ca[k++] = "--reference";
        for (int i = 0; i < n_ref; i++) ca[k++] = (char *)ref[i];
        ca[k++] = "--segment", ca[k++] = (char *)segment;
        ca[k++] = "--json", ca[k++] = js, ca[k++] = "--png", ca[k++] = cp;
        ca[k++] = "--table", ca[k++] = tb, ca[k] = NULL;
        gb_buf t = {0};
        if (run(cmd_compare, ca) != EXIT_OK || gb_file_read(tb, 1 << 24, &t, &e) != GB_OK) {
            failed = 1;
        } else {
            fputs("<h2>Against the corpus</h2>\n<p>Features of Yang &amp; Lerch and MusPy; KL: "
                  "how far the set's distances to the corpus lie from the corpus' own (0: "
                  "alike), OA: the area their densities share (1: alike); "
                  "<a href=\"compare.json\">every figure</a>.</p>\n<pre>", f);
            char *text = malloc(t.len + 1);
            if (text) {
                memcpy(text, t.data, t.len);
                text[t.len] = 0;
                html_text(f, text);
                free(text);
            }
            fputs("</pre>\n<img src=\"compare.png\" alt=\"feature histograms\">\n", f);
        }
        gb_buf_free(&t);
    }
    /* the model */
    if (!failed && has_model) {
        int has_loss = 0;
        if (log) {
            snprintf(out, sizeof out, "%s/loss.png", dir);
            char *la[] = {"plot", "--loss", (char *)log, "-o", out, NULL};
            if (run(cmd_plot, la) != EXIT_OK) failed = 1;
            has_loss = !failed && exists(out);
        }
        if (!failed) model_section(f, mpath, &info, has_loss);
    }
    fprintf(f, "<p><small>groovybee %s</small></p>\n%s</body></html>\n", GB_VERSION, SELFTEST);
    if (fclose(f) != 0) failed = 1;
    if (!failed) {
        snprintf(out, sizeof out, "%s/index.html", dir);
        if (gb_file_write_atomic(out, html, html_len, &e) != GB_OK) {
            fprintf(stderr, "groovybee: %s\n", e.msg);
        } else {
            fprintf(stderr, "groovybee: report of %zu piece%s: %s\n", pieces.n,
                    pieces.n == 1 ? "" : "s", out);
            rc = EXIT_OK;
        }
    }
    free(html);
done:
    gb_strs_free(&pieces);
    if (has_model) gb_model_info_free(&info);
    return rc;
}
