/* cmd_train.c - `groovybee train CORPUS... -o MODEL.safetensors`: resolves a preset and the
 * options over it (the library's gb_train_config: one table of options for both), and runs
 * gb_train_corpus with a progress bar on a terminal (plain lines otherwise). */
#define _GNU_SOURCE
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static const char *HELP =
    "usage: groovybee train CORPUS... -o MODEL.safetensors [options]\n"
    "\n"
    "Trains the report's LSTM on the parts of the MIDI files in CORPUS (files, and folders\n"
    "walked recursively for .mid/.midi). Files that cannot be read are skipped with a warning.\n"
    "MODEL always holds the best model so far (lowest validation loss), rewritten after each\n"
    "epoch that improves on it; MODEL.optim.safetensors beside it holds the last state, for\n"
    "--resume. Both are safetensors files (PyTorch names; docs/formats.md).\n"
    "\n"
    "presets (every option below overrides its preset's value):\n"
    "  --preset NAME          roll, events or paper [roll]\n"
    "                         roll: sixteenth-note steps with rests and the meter as input,\n"
    "                           a file's parts merged into one, binary rolls, a NADE head\n"
    "                           (chords drawn jointly), windows of 16 beats every 2, loss\n"
    "                           on every step, one layer of 256, dropout on its input and\n"
    "                           output, transposition, averaged weights, batch 16, lr\n"
    "                           0.003 halved on plateaus, until the validation loss stops\n"
    "                           improving\n"
    "                         events: Performance RNN's performance events (NOTE_ON,\n"
    "                           NOTE_OFF, TIME_SHIFT of 10 ms, VELOCITY; 388 tokens), a\n"
    "                           file's parts one stream, a softmax head, cross-entropy on\n"
    "                           every event, windows of 128 events every 64, one\n"
    "                           layer of 512, clip 3, transposition by up to 3 and time\n"
    "                           stretch by up to 5%, batch 64, lr 0.005\n"
    "                         paper: the report: one step per MIDI tick, silent steps removed,\n"
    "                           velocity rolls, MSE, windows of 12 every 6, loss on the last,\n"
    "                           two layers of 512, lr 0.001\n"
    "model:\n"
    "  --hidden H             hidden units [roll: 256, events: 512, paper: 512]\n"
    "  --layers L             LSTM layers, 1..4 [roll: 1, events: 1, paper: 2]\n"
    "  --dropout P            dropout between layers [0.2]\n"
    "  --dropout-in P         dropout on the inputs [roll: 0.2, paper: 0]\n"
    "  --dropout-out P        dropout on the top layer's output, before the head\n"
    "                         [roll: 0.5, paper: 0]\n"
    "  --head sigmoid|nade    sigmoid: each pitch on its own (the report's linear head);\n"
    "                         nade: the pitches of a step jointly, each given those below\n"
    "                         it (RNN-NADE), exact likelihood [roll: nade, paper: sigmoid]\n"
    "  --nade-hidden N        hidden units of the NADE head [128]\n"
    "  --loss mse|bce         [roll: bce, paper: mse]\n"
    "  --loss-on last|all     the prediction after the last step only, or every step\n"
    "                         [roll: all, paper: last]\n"
    "encoding:\n"
    "  --steps-per-beat N     time steps per quarter note [roll: 4]\n"
    "  --step-ticks N         a step is N raw ticks of the file [paper: 1]\n"
    "  --strip-silence        drop steps where nothing sounds [paper: on]\n"
    "  --keep-silence         keep them [roll: on]\n"
    "  --values binary|velocity  0/1 rolls, or velocity/127 [roll: binary, paper: velocity]\n"
    "  --onsets               128 more features marking each note's first step [off]\n"
    "  --ensemble             (events) a file's parts in one stream with a PROGRAM token\n"
    "                         before each change of instrument: each note keeps its\n"
    "                         instrument (517 tokens) [off: one instrument, 388 tokens]\n"
    "  --meter, --no-meter    20 more inputs placing each step in its beat and bar, from the\n"
    "                         time signatures (needs rests kept) [roll: on, paper: off]\n"
    "  --merge-parts          the parts of a file that the filter takes become one part:\n"
    "                         the ensemble learnt as one texture, generated for piano\n"
    "  --split-parts          a part each, as the report [roll: merge, paper: split]\n"
    "  --program N            only parts playing GM program N (0..127); repeatable\n"
    "  --instrument NAME      only parts of this instrument: a GM family (piano, strings,\n"
    "                         brass, ...), part of a GM name (cello, sax) or drums; repeatable\n"
    "                         [every part but drums]\n"
    "training:\n"
    "  --seq T                steps a window feeds the network, or beats with a b suffix\n"
    "                         (16b); a part shorter than a window trains as one shorter\n"
    "                         window [roll: 16b, events: 128, paper: 12]\n"
    "  --stride S             steps (or beats: 8b) between window starts [roll: 2b, events:\n"
    "                         64, paper: 6]\n"
    "  --transpose N          shift each training window by a random -N..N semitones\n"
    "                         (kept inside 0..127) [roll: 6, events: 3, paper: 0]\n"
    "  --stretch F            (events) scale each training window's times by a random\n"
    "                         factor in 1-F..1+F, 0..0.5 [events: 0.05]\n"
    "  --weight-decay X       AdamW's decoupled weight decay on the weight matrices [0]\n"
    "  --lr-decay F           multiply the lr by F after --lr-patience epochs without a\n"
    "                         better validation loss [roll: 0.5, paper: 1: off]\n"
    "  --lr-patience N        [roll: 2, paper: 0: off]\n"
    "  --ema D                validate and save an average of the weights, each step\n"
    "                         weighing the old average by D [roll: 0.999, paper: 0: off]\n"
    "  --batch B              windows a batch [roll: 16, events: 64, paper: 64]\n"
    "  --lr X                 Adam learning rate [roll: 0.003, events: 0.005, paper: 0.001]\n"
    "  --clip X               clip gradients to this global L2 norm [events: 3, others: 0:\n"
    "                         off]\n"
    "  --epochs N             epochs to train (counting those before a resume)\n"
    "                         [roll: 100, paper: 20]\n"
    "  --valid-fraction F     fraction of the files kept apart for validation [0.1]\n"
    "  --valid PATH           validation files or folders instead of a random split;\n"
    "                         repeatable; a quoted pattern is expanded ('data/jsb/*valid*')\n"
    "  --patience N           stop after N epochs without a better validation loss\n"
    "                         [roll: 10, paper: 5; 0: off]\n"
    "  --target-loss X        stop once an epoch's training loss is below X [off]\n"
    "  --max-windows N        at most N training (and validation) windows an epoch [all]\n"
    "  --threads N            threads for OpenBLAS and OpenMP [0: their default, every core]\n"
    "  --precision P          " CLI_PRECISION_HELP "\n"
    "                         [auto]; bf16 rounds the products' operands to bfloat16 and sums\n"
    "                         in fp32; weights, gradients, Adam and cell states stay fp32\n"
    "  --seed N               seed of the weights, split, shuffles and dropout [1]\n"
    "  --resume               continue the run whose files are at -o MODEL (or start it, when\n"
    "                         it has written nothing yet): the same command plus --resume. Its\n"
    "                         configuration is kept: an option given again must have the run's\n"
    "                         value; its --epochs, --patience, --target-loss and --max-windows\n"
    "                         are kept unless given; the same CORPUS is needed\n"
    "  --log FILE.jsonl       one JSON object per epoch: epoch, train_loss, valid_loss,\n"
    "                         windows, seconds, windows_per_s, and with several ranks ranks\n"
    "                         and allreduce_seconds (appended to on --resume)\n"
    "  --shard-files          with several ranks: each reads only its share of the files\n"
    "                         (a corpus larger than one machine's memory) [off: every rank\n"
    "                         reads them all]\n"
    "  -o, --output MODEL     the model file (required)\n"
    "  -q, --quiet            no progress bar or per-epoch lines\n"
    "  -h, --help             show this help\n"
    "\n"
    "On several machines (docs/scaling.md): mpirun -np N groovybee train ... trains one model\n"
    "with N ranks, the same options and the same losses as one process: --batch is the global\n"
    "batch, split over the ranks; rank 0 alone prints and writes MODEL; every rank reads the\n"
    "corpus (and, on --resume, MODEL's files) at the same paths. Threads default to the cores\n"
    "of a machine shared by its ranks. A rank that fails ends the job.\n"
    "\n"
    "Exit status: 0 trained, 1 runtime error (unreadable corpus, no windows, a NaN loss),\n"
    "2 usage error.\n";

typedef struct {
    int tty, quiet;
    double last_draw, epoch_s_sum; /* for the ETA */
    int epochs_timed;
} progress_ctx;

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fmt_time(double s, char *buf, size_t cap) {
    if (!isfinite(s) || s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void on_progress(void *vctx, const gb_train_progress *p) {
    progress_ctx *c = vctx;
    if (c->quiet) return;
    if (!p->end) {
        double t = wall();
        if (!c->tty || (t - c->last_draw < 0.2 && p->done < p->total)) return;
        c->last_draw = t;
        double rate = p->seconds > 0 ? (double)p->done / p->seconds : 0;
        double left = rate > 0 ? (double)(p->total - p->done) / rate : 0;
        double per_epoch = c->epochs_timed ? c->epoch_s_sum / c->epochs_timed
                                           : (rate > 0 ? (double)p->total / rate : 0);
        left += per_epoch * (p->epochs - p->epoch);
        char eta[32];
        fmt_time(left, eta, sizeof eta);
        int w = 24, fill = p->total ? (int)((double)w * p->done / p->total) : 0;
        char bar[32];
        for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
        bar[w] = 0;
        fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %3.0f%%  loss %.5f  %.0f windows/s  ETA %s",
                p->epoch, p->epochs, bar, p->total ? 100.0 * p->done / p->total : 0, p->loss,
                rate, eta);
        return;
    }
    c->epoch_s_sum += p->seconds;
    c->epochs_timed++;
    char vl[32] = "-";
    if (isfinite(p->valid_loss)) snprintf(vl, sizeof vl, "%.5f", p->valid_loss);
    fprintf(stderr, "%sepoch %d/%d  train %.5f  valid %s%s  %llu windows  %.1f s  %.0f "
            "windows/s\n", c->tty ? "\r\033[K" : "", p->epoch, p->epochs, p->train_loss, vl,
            p->improved ? " (best, saved)" : "", (unsigned long long)p->total, p->seconds,
            p->windows_per_s);
}

static void on_message(void *ctx, const char *text) {
    (void)ctx;
    fprintf(stderr, "groovybee train: %s", text);
}

/* The options: the library's (gb_train_option), then -o, -q, -h. */
static struct option *options(void) {
    int n = 0, v;
    while (gb_train_option(n, &v)) n++;
    struct option *o = calloc((size_t)n + 4, sizeof *o);
    if (!o) return NULL;
    for (int i = 0; i < n; i++) {
        o[i].name = gb_train_option(i, &v);
        o[i].has_arg = v ? required_argument : no_argument;
        o[i].val = 256 + i;
    }
    o[n] = (struct option){"output", required_argument, 0, 'o'};
    o[n + 1] = (struct option){"quiet", no_argument, 0, 'q'};
    o[n + 2] = (struct option){"help", no_argument, 0, 'h'};
    return o;
}

/* The run's end, as rank 0 says it. */
static void report(const gb_train_result *r, const char *out, int erase) {
    const char *crit = r->valid_windows ? "validation" : "training";
    char best[96] = "no model written";
    if (r->best_epoch)
        snprintf(best, sizeof best, "best: epoch %d, %s loss %.5f", r->best_epoch, crit,
                 r->best_loss);
    switch (r->stop) {
    case GB_STOP_NONFINITE: {
        char kept[200] = "no model was written";
        if (r->best_epoch)
            snprintf(kept, sizeof kept, "%s keeps the model of epoch %d (%s loss %.5f)", out,
                     r->best_epoch, crit, r->best_loss);
        if (erase) fprintf(stderr, "\r\033[K");
        fprintf(stderr, "groovybee: training stopped: the %s became NaN or infinite in epoch "
                "%d; %s. Try a lower --lr, or --clip 1.\n",
                r->bad_in_valid ? "validation loss" : "training loss or its gradient",
                r->bad_epoch, kept);
        break;
    }
    case GB_STOP_EPOCHS:
        if (r->epochs_run == 0)
            fprintf(stderr, "groovybee: already trained %d epochs (raise --epochs to go on)\n",
                    r->epochs_done);
        else
            fprintf(stderr, "done: %d epoch%s; %s, in %s\n", r->epochs_done,
                    r->epochs_done == 1 ? "" : "s", best, out);
        break;
    case GB_STOP_TARGET:
        fprintf(stderr, "done: training loss below %g after %d epoch%s; %s, in %s\n",
                r->target_loss, r->epochs_done, r->epochs_done == 1 ? "" : "s", best, out);
        break;
    case GB_STOP_PATIENCE:
        fprintf(stderr, "done: no better %s loss for %d epochs, stopped after %d; %s, in %s\n",
                crit, r->patience, r->epochs_done, best, out);
        break;
    }
}

int cmd_train(int argc, char **argv) {
    const char *C = "train", *out = NULL;
    int quiet = 0, c, rc = EXIT_OK;
    gb_error e;
    gb_train_config *cfg = NULL;
    struct option *opts = options();
    if (!opts || gb_train_config_new(&cfg, &e) != GB_OK) {
        free(opts);
        fprintf(stderr, "groovybee: out of memory\n");
        return EXIT_RUNTIME;
    }
    while (rc == EXIT_OK && (c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        if (c == 'o') out = optarg;
        else if (c == 'q') quiet = 1;
        else if (c == 'h') fputs(HELP, stdout), rc = -1;
        else if (c < 256) rc = cli_usage_error(C, "bad option");
        else if (gb_train_config_set(cfg, opts[c - 256].name, opts[c - 256].has_arg ? optarg
                                                                                     : NULL,
                                     &e) != GB_OK)
            rc = cli_usage_error(C, "%s", e.msg);
    }
    free(opts);
    if (rc == EXIT_OK && !out) rc = cli_usage_error(C, "-o MODEL.safetensors is required");
    if (rc == EXIT_OK && optind >= argc) rc = cli_usage_error(C, "no CORPUS (MIDI files or folders)");
    gb_status s = GB_OK;
    if (rc == EXIT_OK && (s = gb_train_config_check(cfg, out, &e)) != GB_OK) {
        if (s == GB_ERR_ARG) rc = cli_usage_error(C, "%s", e.msg);
        else fprintf(stderr, "groovybee: %s\n", e.msg), rc = EXIT_RUNTIME;
    }
    if (rc != EXIT_OK) {
        gb_train_config_free(cfg);
        return rc < 0 ? EXIT_OK : rc;
    }
    progress_ctx pc = {.tty = isatty(2), .quiet = quiet};
    gb_train_hooks h = {.progress = on_progress, .message = on_message,
                        .skip = cli_warn_skipped, .ctx = &pc};
    gb_train_result r;
    s = gb_train_corpus(cfg, (const char *const *)argv + optind, (size_t)(argc - optind), out,
                        &h, &r, &e);
    gb_train_config_free(cfg);
    int erase = pc.tty && !pc.quiet;
    if (s != GB_OK) {
        if (r.rank == 0) {
            if (erase) fprintf(stderr, "\r\033[K");
            fprintf(stderr, "groovybee: %s\n", e.msg);
        }
        return EXIT_RUNTIME;
    }
    if (r.rank == 0) report(&r, out, erase);
    return r.stop == GB_STOP_NONFINITE ? EXIT_RUNTIME : EXIT_OK;
}
