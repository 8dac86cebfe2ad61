/* cmd_train.c - `groovybee train CORPUS... -o MODEL.safetensors`: resolves a preset and the
 * options over it, loads the corpus, reports what it has, and runs src/train with a progress
 * bar on a terminal (plain lines otherwise). */
#define _GNU_SOURCE
#include <cblas.h>
#include <getopt.h>
#include <glob.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "train/train.h"

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

#define MAXLIST 256

typedef struct {
    int set;
    long v;
} opt_l;

typedef struct {
    int set;
    double v;
} opt_d;

typedef struct {
    const char *preset, *loss, *loss_on, *values, *out, *log, *head, *seq, *stride, *precision;
    opt_l hidden, layers, spb, ticks, batch, epochs, patience, max_windows, threads, seed,
        nade_hidden, transpose, lr_patience;
    opt_d dropout, dropout_in, dropout_out, lr, clip, vfrac, target, weight_decay, lr_decay, ema,
        stretch;
    int strip, onsets, ensemble, meter, merge, resume, quiet, shard; /* strip, meter, merge: -1
                                                                         unset */
    gb_precision prec; /* --precision, resolved */
    const char *programs[MAXLIST], *instruments[MAXLIST], *valid[MAXLIST];
    int n_programs, n_instruments, n_valid;
} args;

/* ---- reporting ---- */

static const char *human_bytes(double b, char *buf, size_t cap) {
    const char *u[] = {"B", "KB", "MB", "GB", "TB"};
    int k = 0;
    while (b >= 1024 && k < 4) b /= 1024, k++;
    snprintf(buf, cap, k ? "%.1f %s" : "%.0f %s", b, u[k]);
    return buf;
}

static void print_config(const gb_model_info *in, const args *a, int epochs, int patience,
                         int resume) {
    const gb_ds_encoding *e = &in->enc;
    char steps[64], progs[512];
    if (e->roll.step_ticks)
        snprintf(steps, sizeof steps, "%d tick%s a step", e->roll.step_ticks,
                 e->roll.step_ticks == 1 ? "" : "s");
    else
        snprintf(steps, sizeof steps, "%d step%s a beat", e->roll.steps_per_beat,
                 e->roll.steps_per_beat == 1 ? "" : "s");
    gb_ds_filter_format(e, progs, sizeof progs);
    fprintf(stderr, "groovybee train%s: preset %s\n", resume ? " (resuming)" : "",
            in->preset[0] ? in->preset : "(none)");
    const char *but = e->drums ? " + drums" : (strcmp(progs, "all") == 0 ? " but drums" : "");
    if (e->events)
        fprintf(stderr, "  encoding: performance events%s, %d tokens; parts: programs %s%s%s\n",
                e->events == GB_DS_ENSEMBLE ? " of an ensemble (PROGRAM tokens)" : "", in->net.D,
                progs, but, e->events == GB_DS_ENSEMBLE || e->merge ? ", one stream a file" : "");
    else
        fprintf(stderr, "  encoding: %s, %s, %s rolls%s, %d features%s; parts: programs %s%s%s\n",
                steps, e->roll.strip_silence ? "silent steps stripped" : "rests kept",
                e->binary ? "binary" : "velocity", e->onsets ? " + onsets" : "", in->net.D,
                e->meter ? " + meter" : "", progs, but,
                e->merge ? ", merged: one part a file" : "");
    char head[48] = "sigmoid head"; /* BCE on the linear head's logits; MSE: velocities */
    if (in->loss == GB_LOSS_MSE) snprintf(head, sizeof head, "linear head");
    if (in->net.head == GB_HEAD_NADE) snprintf(head, sizeof head, "NADE head of %d", in->net.Hn);
    if (in->net.head == GB_HEAD_SOFTMAX) snprintf(head, sizeof head, "softmax head");
    fprintf(stderr, "  model: LSTM %d x %d, %s, dropout %g (in %g, out %g), %s loss on %s\n",
            in->net.L, in->net.H, head, (double)in->net.dropout, (double)in->net.dropout_in,
            (double)in->net.dropout_out,
            in->loss == GB_LOSS_MSE ? "MSE" : in->loss == GB_LOSS_CE ? "cross-entropy" : "BCE",
            in->loss_on == GB_LOSS_ON_ALL ? "every step" : "the last step");
    char clip[32] = "no clipping";
    if (in->clip > 0) snprintf(clip, sizeof clip, "clip %g", (double)in->clip);
    char opt[160] = "";
    if (in->transpose) snprintf(opt, sizeof opt, ", transposed by up to %d", in->transpose);
    if (in->stretch > 0)
        snprintf(opt + strlen(opt), sizeof opt - strlen(opt), ", time stretched by up to %g%%",
                 100.0 * in->stretch);
    if (in->weight_decay > 0)
        snprintf(opt + strlen(opt), sizeof opt - strlen(opt), ", weight decay %g",
                 (double)in->weight_decay);
    if (in->lr_patience > 0 && in->lr_decay < 1)
        snprintf(opt + strlen(opt), sizeof opt - strlen(opt), ", lr x %g after %d flat epochs",
                 (double)in->lr_decay, in->lr_patience);
    if (in->ema > 0)
        snprintf(opt + strlen(opt), sizeof opt - strlen(opt), ", averaged weights (%g)",
                 (double)in->ema);
    fprintf(stderr, "  training: windows of %d %s every %d, batch %d, Adam lr %g%s, %s, "
            "seed %llu, threads %d%s\n", in->seq, e->events ? "events" : "steps", in->stride,
            in->batch, (double)in->lr, opt,
            clip, (unsigned long long)in->seed, in->threads, in->threads ? "" : " (default)");
    char tl[48] = "", mw[48] = "";
    if (a->target.set) snprintf(tl, sizeof tl, ", target loss %g", a->target.v);
    if (a->max_windows.set) snprintf(mw, sizeof mw, ", at most %ld windows", a->max_windows.v);
    char vf[64];
    if (in->valid_corpus && strcmp(in->valid_corpus, "[]") != 0)
        snprintf(vf, sizeof vf, "validation files given apart");
    else
        snprintf(vf, sizeof vf, "validation %g of the files", in->valid_fraction);
    fprintf(stderr, "  run: epochs %d, patience %d%s%s%s, %s\n", epochs, patience,
            patience ? "" : " (off)", tl, mw, vf);
    fprintf(stderr, "  kernels: %s products; %s\n", cli_precision_name(a->prec),
            gb_kernels_line());
}

/* What print_corpus reports: the dataset's and windows' counts, all uint64_t so that a job of
 * shards can sum them over its ranks in one call. */
typedef struct {
    uint64_t seen, skipped, skipped_by[GB_DS_N_STATUS], no_parts, filtered, parts, files, valid,
        steps, runs, bytes, train, validw, short_parts, uncovered;
} corpus_figs;

static void corpus_figures(const gb_dataset *ds, const gb_ds_windows *wt,
                           const gb_ds_windows *wv, const gb_dist *d, int shard,
                           corpus_figs *f) {
    *f = (corpus_figs){.seen = ds->files_seen, .skipped = ds->files_skipped,
                       .no_parts = ds->files_no_parts, .filtered = ds->parts_filtered,
                       .parts = ds->n_parts, .files = ds->n_files, .steps = ds->steps,
                       .runs = ds->runs, .bytes = ds->bytes, .train = wt->n, .validw = wv->n,
                       .short_parts = wt->short_parts + wv->short_parts,
                       .uncovered = wt->uncovered + wv->uncovered};
    for (int k = 0; k < GB_DS_N_STATUS; k++) f->skipped_by[k] = ds->skipped_by[k];
    for (size_t i = 0; i < ds->n_files; i++) f->valid += ds->files[i].valid != 0;
    if (shard) gb_dist_sum_u64(d, (uint64_t *)f, sizeof *f / sizeof(uint64_t));
}

static void print_corpus(const corpus_figs *f, int events, int T, int shards) {
    char b[32];
    fprintf(stderr, "corpus: %llu file%s found, %llu read, %llu skipped",
            (unsigned long long)f->seen, f->seen == 1 ? "" : "s",
            (unsigned long long)(f->seen - f->skipped), (unsigned long long)f->skipped);
    if (f->skipped) {
        const char *sep = " (";
        for (int k = 1; k < GB_DS_N_STATUS; k++)
            if (f->skipped_by[k]) {
                fprintf(stderr, "%s%llu %s", sep, (unsigned long long)f->skipped_by[k],
                        gb_status_str((gb_status)k));
                sep = ", ";
            }
        fprintf(stderr, ")");
    }
    if (f->no_parts)
        fprintf(stderr, ", %llu without a matching part", (unsigned long long)f->no_parts);
    char runs[48] = "";
    if (!events) snprintf(runs, sizeof runs, " in %llu runs", (unsigned long long)f->runs);
    char where[48] = "in memory";
    if (shards > 1) snprintf(where, sizeof where, "in the memory of %d ranks", shards);
    fprintf(stderr, "\n  %llu part%s (%llu left out by the filter) in %llu training and %llu "
            "validation files; %llu %s%s, %s %s\n", (unsigned long long)f->parts,
            f->parts == 1 ? "" : "s", (unsigned long long)f->filtered,
            (unsigned long long)(f->files - f->valid), (unsigned long long)f->valid,
            (unsigned long long)f->steps, events ? "events" : "steps", runs,
            human_bytes((double)f->bytes, b, sizeof b), where);
    fprintf(stderr, "windows: %llu training, %llu validation", (unsigned long long)f->train,
            (unsigned long long)f->validw);
    if (f->short_parts)
        fprintf(stderr, "; %llu part%s shorter than %d steps: one shorter window each (none for "
                "a part of one step)", (unsigned long long)f->short_parts,
                f->short_parts == 1 ? "" : "s", T + 1);
    fprintf(stderr, "; %llu of %llu target steps predicted by no window%s\n",
            (unsigned long long)f->uncovered, (unsigned long long)(f->steps - f->parts),
            f->uncovered ? " (a smaller --stride covers more)" : "");
}

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

/* ---- options ---- */

static int parse_args(int argc, char **argv, args *a) {
    enum {
        O_PRESET = 256, O_HIDDEN, O_LAYERS, O_DROPOUT, O_LOSS, O_LOSS_ON, O_SPB, O_TICKS, O_STRIP,
        O_KEEP, O_VALUES, O_ONSETS, O_PROGRAM, O_INSTRUMENT, O_SEQ, O_STRIDE, O_BATCH, O_LR,
        O_CLIP, O_EPOCHS, O_VFRAC, O_VALID, O_PATIENCE, O_TARGET, O_MAXW, O_THREADS, O_SEED,
        O_RESUME, O_LOG, O_HEAD, O_NADE_HIDDEN, O_METER, O_NO_METER, O_TRANSPOSE, O_DROPOUT_IN,
        O_DROPOUT_OUT, O_WD, O_LR_DECAY, O_LR_PATIENCE, O_EMA, O_MERGE, O_SPLIT, O_PRECISION,
        O_ENSEMBLE, O_STRETCH, O_SHARD
    };
    static const struct option opts[] = {
        {"preset", required_argument, 0, O_PRESET}, {"hidden", required_argument, 0, O_HIDDEN},
        {"layers", required_argument, 0, O_LAYERS}, {"dropout", required_argument, 0, O_DROPOUT},
        {"loss", required_argument, 0, O_LOSS}, {"loss-on", required_argument, 0, O_LOSS_ON},
        {"steps-per-beat", required_argument, 0, O_SPB},
        {"step-ticks", required_argument, 0, O_TICKS},
        {"strip-silence", no_argument, 0, O_STRIP}, {"keep-silence", no_argument, 0, O_KEEP},
        {"values", required_argument, 0, O_VALUES}, {"onsets", no_argument, 0, O_ONSETS},
        {"ensemble", no_argument, 0, O_ENSEMBLE}, {"stretch", required_argument, 0, O_STRETCH},
        {"program", required_argument, 0, O_PROGRAM},
        {"instrument", required_argument, 0, O_INSTRUMENT},
        {"seq", required_argument, 0, O_SEQ}, {"stride", required_argument, 0, O_STRIDE},
        {"batch", required_argument, 0, O_BATCH}, {"lr", required_argument, 0, O_LR},
        {"clip", required_argument, 0, O_CLIP}, {"epochs", required_argument, 0, O_EPOCHS},
        {"valid-fraction", required_argument, 0, O_VFRAC},
        {"valid", required_argument, 0, O_VALID},
        {"patience", required_argument, 0, O_PATIENCE},
        {"target-loss", required_argument, 0, O_TARGET},
        {"max-windows", required_argument, 0, O_MAXW},
        {"threads", required_argument, 0, O_THREADS}, {"seed", required_argument, 0, O_SEED},
        {"precision", required_argument, 0, O_PRECISION},
        {"resume", no_argument, 0, O_RESUME}, {"log", required_argument, 0, O_LOG},
        {"shard-files", no_argument, 0, O_SHARD},
        {"head", required_argument, 0, O_HEAD},
        {"nade-hidden", required_argument, 0, O_NADE_HIDDEN},
        {"meter", no_argument, 0, O_METER}, {"no-meter", no_argument, 0, O_NO_METER},
        {"transpose", required_argument, 0, O_TRANSPOSE},
        {"dropout-in", required_argument, 0, O_DROPOUT_IN},
        {"dropout-out", required_argument, 0, O_DROPOUT_OUT},
        {"weight-decay", required_argument, 0, O_WD},
        {"lr-decay", required_argument, 0, O_LR_DECAY},
        {"lr-patience", required_argument, 0, O_LR_PATIENCE},
        {"ema", required_argument, 0, O_EMA},
        {"merge-parts", no_argument, 0, O_MERGE}, {"split-parts", no_argument, 0, O_SPLIT},
        {"output", required_argument, 0, 'o'}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *C = "train";
    int c;
    a->strip = a->meter = a->merge = -1;
#define INTOPT(field, name, lo, hi)                                                          \
    do {                                                                                     \
        if (!cli_int(C, name, optarg, lo, hi, &a->field.v)) return EXIT_USAGE;               \
        a->field.set = 1;                                                                    \
    } while (0)
#define DBLOPT(field, name, lo, hi)                                                          \
    do {                                                                                     \
        if (!cli_double(C, name, optarg, lo, hi, &a->field.v)) return EXIT_USAGE;            \
        a->field.set = 1;                                                                    \
    } while (0)
#define LISTOPT(list, n, name)                                                               \
    do {                                                                                     \
        if (a->n >= MAXLIST) return cli_usage_error(C, "too many %s options", name);         \
        a->list[a->n++] = optarg;                                                            \
    } while (0)
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case O_PRESET: a->preset = optarg; break;
        case O_HIDDEN: INTOPT(hidden, "--hidden", 1, 1 << 16); break;
        case O_LAYERS: INTOPT(layers, "--layers", 1, GB_LSTM_MAX_LAYERS); break;
        case O_DROPOUT: DBLOPT(dropout, "--dropout", 0, 0.99); break;
        case O_LOSS: a->loss = optarg; break;
        case O_LOSS_ON: a->loss_on = optarg; break;
        case O_SPB: INTOPT(spb, "--steps-per-beat", 1, 960); break;
        case O_TICKS: INTOPT(ticks, "--step-ticks", 1, 1L << 30); break;
        case O_STRIP: a->strip = 1; break;
        case O_KEEP: a->strip = 0; break;
        case O_VALUES: a->values = optarg; break;
        case O_ONSETS: a->onsets = 1; break;
        case O_ENSEMBLE: a->ensemble = 1; break;
        case O_STRETCH: DBLOPT(stretch, "--stretch", 0, 0.5); break;
        case O_PROGRAM: LISTOPT(programs, n_programs, "--program"); break;
        case O_INSTRUMENT: LISTOPT(instruments, n_instruments, "--instrument"); break;
        case O_SEQ: a->seq = optarg; break;
        case O_STRIDE: a->stride = optarg; break;
        case O_HEAD: a->head = optarg; break;
        case O_NADE_HIDDEN: INTOPT(nade_hidden, "--nade-hidden", 1, 1 << 16); break;
        case O_METER: a->meter = 1; break;
        case O_NO_METER: a->meter = 0; break;
        case O_TRANSPOSE: INTOPT(transpose, "--transpose", 0, 127); break;
        case O_DROPOUT_IN: DBLOPT(dropout_in, "--dropout-in", 0, 0.99); break;
        case O_DROPOUT_OUT: DBLOPT(dropout_out, "--dropout-out", 0, 0.99); break;
        case O_WD: DBLOPT(weight_decay, "--weight-decay", 0, 1e6); break;
        case O_LR_DECAY: DBLOPT(lr_decay, "--lr-decay", 1e-6, 1); break;
        case O_LR_PATIENCE: INTOPT(lr_patience, "--lr-patience", 0, 1 << 30); break;
        case O_EMA: DBLOPT(ema, "--ema", 0, 0.999999); break;
        case O_MERGE: a->merge = 1; break;
        case O_SPLIT: a->merge = 0; break;
        case O_BATCH: INTOPT(batch, "--batch", 1, 1 << 16); break;
        case O_LR: DBLOPT(lr, "--lr", 1e-12, 1e30); break;
        case O_CLIP: DBLOPT(clip, "--clip", 0, 1e30); break;
        case O_EPOCHS: INTOPT(epochs, "--epochs", 1, 1 << 30); break;
        case O_VFRAC: DBLOPT(vfrac, "--valid-fraction", 0, 0.9); break;
        case O_VALID: LISTOPT(valid, n_valid, "--valid"); break;
        case O_PATIENCE: INTOPT(patience, "--patience", 0, 1 << 30); break;
        case O_TARGET: DBLOPT(target, "--target-loss", 0, 1e30); break;
        case O_MAXW: INTOPT(max_windows, "--max-windows", 1, 0xFFFFFFFFL); break;
        case O_THREADS: INTOPT(threads, "--threads", 0, 1024); break;
        case O_PRECISION: a->precision = optarg; break;
        case O_SEED: INTOPT(seed, "--seed", 0, 0x7FFFFFFFFFFFFFFFL); break;
        case O_RESUME: a->resume = 1; break;
        case O_SHARD: a->shard = 1; break;
        case O_LOG: a->log = optarg; break;
        case 'o': a->out = optarg; break;
        case 'q': a->quiet = 1; break;
        case 'h': return fputs(HELP, stdout), -1;
        default: return cli_usage_error(C, "bad option");
        }
    }
#undef INTOPT
#undef DBLOPT
#undef LISTOPT
    if (!a->out) return cli_usage_error(C, "-o MODEL.safetensors is required");
    if (optind >= argc) return cli_usage_error(C, "no CORPUS (MIDI files or folders)");
    if (a->spb.set && a->ticks.set)
        return cli_usage_error(C, "--steps-per-beat and --step-ticks exclude each other");
    if (a->n_valid && a->vfrac.set)
        return cli_usage_error(C, "--valid and --valid-fraction exclude each other");
    if (!cli_precision(C, a->precision ? a->precision : "auto", &a->prec)) return EXIT_USAGE;
    return EXIT_OK;
}

/* The roll preset's choices beyond gb_model_info_default (chosen on validation splits; the
 * figures are in bench/README.md) */
#define ROLL_NADE_HIDDEN 128
#define ROLL_TRANSPOSE 6
#define ROLL_DROPOUT_IN 0.2f
#define ROLL_DROPOUT_OUT 0.5f
#define ROLL_WEIGHT_DECAY 0.0f
#define ROLL_LR_DECAY 0.5f
#define ROLL_LR_PATIENCE 2
#define ROLL_EMA 0.999f
#define ROLL_MERGE 1
#define ROLL_SEQ_BEATS 16
#define ROLL_STRIDE_BEATS 2
#define ROLL_BATCH 16
#define ROLL_EPOCHS 100
#define ROLL_PATIENCE 10

/* The events preset: Performance RNN's recipe (clip 3, batch 64, transposition by 3, time stretch
 * by 5%) at the size and rate measured on data/classical's validation files within the demo's
 * budget (bench/README.md, issue 12): one layer at lr 0.005 left 3 x 512 and 2 x 512 at 0.001
 * (and 2 x 512 at 0.005) far behind. */
#define EV_SEQ 128
#define EV_STRIDE 64
#define EV_HIDDEN 512
#define EV_LAYERS 1
#define EV_LR 5e-3f
#define EV_CLIP 3.0f
#define EV_TRANSPOSE 3
#define EV_STRETCH 0.05f

/* The preset, then every option given over it. */
static int resolve(const args *a, gb_model_info *in) {
    const char *C = "train";
    gb_model_info_default(in); /* the roll preset */
    const char *preset = a->preset ? a->preset : "roll";
    int seq_stride_beats[2] = {0, 0}; /* the preset's windows in beats (0: in steps) */
    if (strcmp(preset, "roll") == 0) { /* the measured best: bench/README.md, issue 10 */
        in->enc.meter = 1, in->enc.merge = ROLL_MERGE;
        in->net.head = GB_HEAD_NADE, in->net.Hn = ROLL_NADE_HIDDEN;
        in->transpose = ROLL_TRANSPOSE;
        in->net.dropout_in = ROLL_DROPOUT_IN, in->net.dropout_out = ROLL_DROPOUT_OUT;
        in->weight_decay = ROLL_WEIGHT_DECAY;
        in->lr_decay = ROLL_LR_DECAY, in->lr_patience = ROLL_LR_PATIENCE;
        in->ema = ROLL_EMA;
        seq_stride_beats[0] = ROLL_SEQ_BEATS, seq_stride_beats[1] = ROLL_STRIDE_BEATS;
        in->batch = ROLL_BATCH;
    } else if (strcmp(preset, "events") == 0) {
        in->enc.events = GB_DS_EVENTS, in->enc.merge = 1;
        in->net = (gb_lstm_config){.H = EV_HIDDEN, .L = EV_LAYERS, .dropout = 0.2f,
                                   .head = GB_HEAD_SOFTMAX};
        in->loss = GB_LOSS_CE, in->loss_on = GB_LOSS_ON_ALL;
        in->seq = EV_SEQ, in->stride = EV_STRIDE, in->batch = 64;
        in->lr = EV_LR, in->clip = EV_CLIP;
        in->transpose = EV_TRANSPOSE, in->stretch = EV_STRETCH;
    } else if (strcmp(preset, "paper") == 0) {
        in->enc.roll = (gb_roll_opts){.step_ticks = 1, .strip_silence = 1};
        in->enc.binary = 0;
        in->loss = GB_LOSS_MSE;
        in->loss_on = GB_LOSS_ON_LAST;
        in->seq = 12, in->stride = 6;
        in->net.H = 512, in->net.L = 2, in->lr = 1e-3f;
    } else if (strcmp(preset, "roll") != 0) {
        return cli_usage_error(C, "--preset wants 'roll', 'events' or 'paper', not '%s'", preset);
    }
    snprintf(in->preset, sizeof in->preset, "%s", preset);
    if (a->hidden.set) in->net.H = (int)a->hidden.v;
    if (a->layers.set) in->net.L = (int)a->layers.v;
    if (a->dropout.set) in->net.dropout = (float)a->dropout.v;
    if (a->loss) {
        if (strcmp(a->loss, "mse") && strcmp(a->loss, "bce"))
            return cli_usage_error(C, "--loss wants 'mse' or 'bce', not '%s'", a->loss);
        in->loss = a->loss[0] == 'm' ? GB_LOSS_MSE : GB_LOSS_BCE;
    }
    if (a->loss_on) {
        if (strcmp(a->loss_on, "last") && strcmp(a->loss_on, "all"))
            return cli_usage_error(C, "--loss-on wants 'last' or 'all', not '%s'", a->loss_on);
        in->loss_on = a->loss_on[0] == 'l' ? GB_LOSS_ON_LAST : GB_LOSS_ON_ALL;
    }
    if (a->spb.set) in->enc.roll.steps_per_beat = (int)a->spb.v, in->enc.roll.step_ticks = 0;
    if (a->ticks.set) in->enc.roll.step_ticks = (int)a->ticks.v, in->enc.roll.steps_per_beat = 0;
    if (a->strip >= 0) in->enc.roll.strip_silence = a->strip;
    if (a->values) {
        if (strcmp(a->values, "binary") && strcmp(a->values, "velocity"))
            return cli_usage_error(C, "--values wants 'binary' or 'velocity', not '%s'",
                                   a->values);
        in->enc.binary = a->values[0] == 'b';
    }
    if (a->onsets) in->enc.onsets = 1;
    int events = in->enc.events != GB_DS_ROLL;
    if ((a->ensemble || a->stretch.set) && !events)
        return cli_usage_error(C, "%s is for performance events: add --preset events",
                               a->ensemble ? "--ensemble" : "--stretch");
    if (events && (a->spb.set || a->ticks.set || a->strip >= 0 || a->values || a->onsets ||
                   a->meter == 1 || a->head || a->loss))
        return cli_usage_error(C, "performance events keep time in 10 ms TIME_SHIFTs and "
                               "velocity in VELOCITY tokens, with a softmax head: the roll's "
                               "--steps-per-beat, --step-ticks, --strip-silence, --values, "
                               "--onsets, --meter, --head and --loss do not apply");
    if (a->ensemble) in->enc.events = GB_DS_ENSEMBLE;
    if (a->stretch.set) in->stretch = (float)a->stretch.v;
    in->net.D = gb_ds_features(&in->enc);
    if (events) in->net.V = in->net.D;
    if (a->n_programs || a->n_instruments) gb_ds_filter_clear(&in->enc);
    for (int i = 0; i < a->n_programs; i++) {
        long p;
        if (!cli_int(C, "--program", a->programs[i], 0, 127, &p)) return EXIT_USAGE;
        in->enc.programs[p] = 1;
    }
    for (int i = 0; i < a->n_instruments; i++) {
        gb_error e;
        if (gb_ds_filter_add_instrument(&in->enc, a->instruments[i], &e) != GB_OK)
            return cli_usage_error(C, "--instrument: %s", e.msg);
    }
    if (a->meter >= 0) in->enc.meter = a->meter;
    if (a->merge >= 0) in->enc.merge = a->merge;
    if (in->enc.meter && in->enc.roll.strip_silence)
        return cli_usage_error(C, "the meter inputs need the rests kept: add --no-meter, or "
                               "--keep-silence");
    in->net.E = in->enc.meter ? GB_DS_METER_FEATURES : 0;
    if (a->head) {
        if (strcmp(a->head, "sigmoid") && strcmp(a->head, "nade"))
            return cli_usage_error(C, "--head wants 'sigmoid' or 'nade', not '%s'", a->head);
        in->net.head = a->head[0] == 'n' ? GB_HEAD_NADE : GB_HEAD_LINEAR;
    }
    in->net.Hn = in->net.head == GB_HEAD_NADE
                     ? (a->nade_hidden.set ? (int)a->nade_hidden.v : in->net.Hn ? in->net.Hn : 128)
                     : 0;
    if (a->nade_hidden.set && in->net.head != GB_HEAD_NADE)
        return cli_usage_error(C, "--nade-hidden needs --head nade");
    /* windows: the preset's in beats become steps at the grid chosen; given ones are steps, or
     * beats with a 'b' suffix */
    int spb = in->enc.roll.step_ticks ? 0 : in->enc.roll.steps_per_beat;
    const char *win[2] = {a->seq, a->stride}, *wname[2] = {"--seq", "--stride"};
    int *wval[2] = {&in->seq, &in->stride};
    for (int i = 0; i < 2; i++) {
        if (!win[i]) {
            int beats = i ? seq_stride_beats[1] : seq_stride_beats[0];
            if (beats && spb) *wval[i] = beats * spb;
            continue;
        }
        char *end;
        long v = strtol(win[i], &end, 10);
        int in_beats = *end == 'b' && end[1] == 0;
        if (end == win[i] || (*end && !in_beats) || v < 1 || v > (1 << 16))
            return cli_usage_error(C, "%s wants a count of steps (64) or of beats (16b) in "
                                   "1..65536, not '%s'", wname[i], win[i]);
        if (in_beats && !spb)
            return cli_usage_error(C, "%s %s: beats need --steps-per-beat (not --step-ticks)",
                                   wname[i], win[i]);
        *wval[i] = (int)(in_beats ? v * spb : v);
    }
    if (a->batch.set) in->batch = (int)a->batch.v;
    if (a->lr.set) in->lr = (float)a->lr.v;
    if (a->clip.set) in->clip = (float)a->clip.v;
    if (a->vfrac.set) in->valid_fraction = a->vfrac.v;
    if (a->n_valid) in->valid_fraction = 0;
    if (a->seed.set) in->seed = (uint64_t)a->seed.v;
    if (a->threads.set) in->threads = (int)a->threads.v;
    if (a->transpose.set) in->transpose = (int)a->transpose.v;
    if (a->dropout_in.set) in->net.dropout_in = (float)a->dropout_in.v;
    if (a->dropout_out.set) in->net.dropout_out = (float)a->dropout_out.v;
    if (a->weight_decay.set) in->weight_decay = (float)a->weight_decay.v;
    if (a->lr_decay.set) in->lr_decay = (float)a->lr_decay.v;
    if (a->lr_patience.set) in->lr_patience = (int)a->lr_patience.v;
    if (a->ema.set) in->ema = (float)a->ema.v;
    return EXIT_OK;
}

/* --resume: the options given again must say what the run already is. Each is resolved over the
 * run's own preset as a fresh run would resolve it, and compared, as text, with the
 * checkpoint's value; the first that differs is refused, naming both. */
static int resume_check(const args *a, const gb_model_info *ck) {
    static const char *const LOSS[] = {"mse", "bce", "ce"}, *const ON[] = {"last", "all"};
    static const char *const HEAD[] = {"sigmoid", "nade", "softmax"};
    static const char *const REPR[] = {"off", "performance events", "ensemble"};
    static const char *const OFFON[] = {"off", "on"}, *const VALUES[] = {"velocity", "binary"};
    args b = *a;
    if (!b.preset) b.preset = ck->preset[0] ? ck->preset : "roll";
    gb_model_info fr;
    int rc = resolve(&b, &fr);
    if (rc != EXIT_OK) return rc;
    const char *name = NULL;
    char fv[512], cv[512], x[512], y[512]; /* what is given, what the run has */
#define TXT(given, opt, xs, ys)                                                              \
    do {                                                                                     \
        if (!name && (given) && strcmp(xs, ys) != 0) {                                      \
            name = opt;                                                                      \
            snprintf(fv, sizeof fv, "%s", xs);                                               \
            snprintf(cv, sizeof cv, "%s", ys);                                               \
        }                                                                                    \
    } while (0)
#define NUM(given, opt, field)                                                               \
    do {                                                                                     \
        if (!name && (given) && (double)fr.field != (double)ck->field) {                     \
            name = opt;                                                                      \
            snprintf(fv, sizeof fv, "%.7g", (double)fr.field);                               \
            snprintf(cv, sizeof cv, "%.7g", (double)ck->field);                              \
        }                                                                                    \
    } while (0)
#define NAMED(given, opt, names, field) TXT(given, opt, names[fr.field], names[ck->field])
    TXT(a->preset != NULL, "--preset", fr.preset, ck->preset);
    NUM(a->hidden.set, "--hidden", net.H);
    NUM(a->layers.set, "--layers", net.L);
    NUM(a->dropout.set, "--dropout", net.dropout);
    NUM(a->dropout_in.set, "--dropout-in", net.dropout_in);
    NUM(a->dropout_out.set, "--dropout-out", net.dropout_out);
    NAMED(a->loss != NULL, "--loss", LOSS, loss);
    NAMED(a->loss_on != NULL, "--loss-on", ON, loss_on);
    NUM(a->spb.set, "--steps-per-beat", enc.roll.steps_per_beat);
    NUM(a->ticks.set, "--step-ticks", enc.roll.step_ticks);
    NAMED(a->strip >= 0, "--strip-silence/--keep-silence", OFFON, enc.roll.strip_silence);
    NAMED(a->values != NULL, "--values", VALUES, enc.binary);
    NAMED(a->onsets, "--onsets", OFFON, enc.onsets);
    NAMED(a->ensemble, "--ensemble", REPR, enc.events);
    NUM(a->stretch.set, "--stretch", stretch);
    gb_ds_filter_format(&fr.enc, x, sizeof x);
    gb_ds_filter_format(&ck->enc, y, sizeof y);
    TXT(a->n_programs || a->n_instruments, "--program/--instrument", x, y);
    NUM(a->seq != NULL, "--seq", seq);
    NUM(a->stride != NULL, "--stride", stride);
    NAMED(a->head != NULL, "--head", HEAD, net.head);
    NUM(a->nade_hidden.set, "--nade-hidden", net.Hn);
    NAMED(a->meter >= 0, "--meter/--no-meter", OFFON, enc.meter);
    NUM(a->transpose.set, "--transpose", transpose);
    NUM(a->weight_decay.set, "--weight-decay", weight_decay);
    NUM(a->lr_decay.set, "--lr-decay", lr_decay);
    NUM(a->lr_patience.set, "--lr-patience", lr_patience);
    NUM(a->ema.set, "--ema", ema);
    NAMED(a->merge >= 0, "--merge-parts/--split-parts", OFFON, enc.merge);
    NUM(a->batch.set, "--batch", batch);
    NUM(a->lr.set, "--lr", lr);
    NUM(a->clip.set, "--clip", clip);
    NUM(a->vfrac.set, "--valid-fraction", valid_fraction);
    NUM(a->seed.set, "--seed", seed);
    char *given_valid = gb_ckpt_paths_json(a->valid, a->n_valid);
    TXT(a->n_valid, "--valid", given_valid ? given_valid : "",
        ck->valid_corpus ? ck->valid_corpus : "[]");
    free(given_valid);
#undef TXT
#undef NUM
#undef NAMED
    gb_model_info_free(&fr);
    if (name)
        return cli_usage_error("train", "%s: %s here, %s in the run being resumed: a resumed run "
                               "keeps its configuration (give the same value, or none)", name,
                               fv, cv);
    return EXIT_OK;
}

int cmd_train(int argc, char **argv) {
    args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) return EXIT_OK; /* --help */
    if (rc != EXIT_OK) return rc;
    gb_model_info info;
    gb_error e;
    gb_ckpt_progress pr = {0}; /* a resumed run's: its own budget */
    if (a.resume) {
        char *op = gb_ckpt_optim_path(a.out);
        if (!op) {
            fprintf(stderr, "groovybee: out of memory\n");
            return EXIT_RUNTIME;
        }
        gb_status st = GB_OK;
        if (access(a.out, F_OK) != 0 && access(op, F_OK) != 0) {
            /* nothing written yet (stopped before its first epoch): start it */
            fprintf(stderr, "groovybee train: no run at %s yet: starting it\n", a.out);
            a.resume = 0;
        } else if ((st = gb_ckpt_read_info(a.out, &info, &e)) == GB_OK &&
                   (st = gb_ckpt_read_progress(op, &pr, &e)) != GB_OK) {
            gb_model_info_free(&info);
        }
        free(op);
        if (st != GB_OK) {
            fprintf(stderr, "groovybee: cannot resume: %s\n", e.msg);
            return EXIT_RUNTIME;
        }
    }
    if (a.resume) {
        if ((rc = resume_check(&a, &info)) != EXIT_OK) {
            gb_model_info_free(&info);
            return rc;
        }
        if (a.threads.set) info.threads = (int)a.threads.v;
        /* the run's budget unless given again */
        if (!a.target.set && pr.run_target_loss > 0) a.target = (opt_d){1, pr.run_target_loss};
        if (!a.max_windows.set && pr.run_max_windows && pr.run_max_windows != UINT64_MAX)
            a.max_windows = (opt_l){1, (long)pr.run_max_windows};
    } else {
        if ((rc = resolve(&a, &info)) != EXIT_OK) return rc;
        if (gb_model_info_check(&info, &e) != GB_OK) {
            gb_model_info_free(&info);
            return cli_usage_error("train", "%s", e.msg);
        }
        info.corpus = gb_ckpt_paths_json((const char *const *)argv + optind, argc - optind);
        info.valid_corpus = gb_ckpt_paths_json(a.valid, a.n_valid);
        if (!info.corpus || !info.valid_corpus) {
            gb_model_info_free(&info);
            fprintf(stderr, "groovybee: out of memory\n");
            return EXIT_RUNTIME;
        }
    }
    /* the roll preset trains until the validation loss has stopped improving: with
     * transposition and dropout that takes tens of epochs (bench/README.md) */
    int roll = strcmp(info.preset, "roll") == 0;
    int epochs = a.epochs.set ? (int)a.epochs.v : pr.run_epochs ? pr.run_epochs
                                                : roll ? ROLL_EPOCHS : 20;
    int patience = a.patience.set ? (int)a.patience.v
                   : pr.run_patience ? (pr.run_patience > 0 ? pr.run_patience : 0)
                   : roll ? ROLL_PATIENCE : 5;
    /* a job of several ranks (mpirun), or of this process alone */
    gb_dist dist;
    if (gb_dist_init(&dist, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        gb_model_info_free(&info);
        return EXIT_RUNTIME;
    }
    int lead = dist.rank == 0, shard = a.shard && dist.size > 1;
    int threads = info.threads;
    if (!threads && dist.local_size > 1) { /* the machine's cores shared by its ranks */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > dist.local_size ? (int)(cores / dist.local_size) : 1;
    }
    if (threads > 0) { /* before any BLAS call; resumption bit for bit needs the same */
        openblas_set_num_threads(threads);
        omp_set_num_threads(threads);
    }
    if (lead) {
        print_config(&info, &a, epochs, patience, a.resume);
        if (dist.size > 1)
            fprintf(stderr, "  job: %d ranks (MPI) on %d machine%s, each %d thread%s and about "
                    "%d windows of each batch of %d%s\n", dist.size,
                    (dist.size + dist.local_size - 1) / dist.local_size,
                    dist.local_size < dist.size ? "s" : "", threads ? threads : omp_get_max_threads(),
                    threads == 1 ? "" : "s", (info.batch + dist.size - 1) / dist.size,
                    info.batch, shard ? "; each reads its shard of the files" : "");
    }

    /* --valid patterns expanded here, so that a quoted glob works (a path without wildcards, or
     * a pattern that matches nothing, stays as it is and gets its error from the loader) */
    glob_t gl = {0};
    gb_dataset ds = {0};
    gb_ds_windows wt = {0}, wv = {0};
    rc = EXIT_RUNTIME;
    for (int i = 0; i < a.n_valid; i++)
        if (glob(a.valid[i], GLOB_NOCHECK | (i ? GLOB_APPEND : 0), NULL, &gl) != 0) {
            gb_fail(&e, GB_ERR_IO, -1, "--valid %s: cannot expand", a.valid[i]);
            goto fail;
        }
    if (gb_ds_init(&ds, &info.enc, &e) != GB_OK) goto fail;
    /* files that cannot be read are reported once: by rank 0, or by the rank whose shard holds
     * them */
    gb_ds_warn_fn warn = lead || shard ? cli_warn_skipped : NULL;
    int k = shard ? dist.rank : 0, shards = shard ? dist.size : 1;
    if (gb_ds_add_paths_shard(&ds, (const char *const *)argv + optind, (size_t)(argc - optind), 0,
                              k, shards, warn, NULL, &e) != GB_OK ||
        (a.n_valid && gb_ds_add_paths_shard(&ds, (const char *const *)gl.gl_pathv, gl.gl_pathc,
                                            1, k, shards, warn, NULL, &e) != GB_OK))
        goto fail;
    if (!a.n_valid && !(info.valid_corpus && strcmp(info.valid_corpus, "[]") != 0)) {
        uint64_t first = 0, all = ds.n_files;
        if (shard) { /* the files before this shard's, and the corpus' */
            uint64_t *n = malloc((size_t)dist.size * sizeof *n);
            if (!n) {
                gb_fail(&e, GB_ERR_NOMEM, -1, "out of memory");
                goto fail;
            }
            gb_dist_gather_u64(&dist, ds.n_files, n);
            all = 0;
            for (int r = 0; r < dist.size; r++) {
                if (r == dist.rank) first = all;
                all += n[r];
            }
            free(n);
        }
        if (gb_ds_split_range(&ds, info.valid_fraction, info.seed, (size_t)all, (size_t)first,
                              &e) != GB_OK)
            goto fail;
    }
    if (gb_ds_windows_make(&ds, 0, info.seq, info.stride, &wt, &e) != GB_OK ||
        gb_ds_windows_make(&ds, 1, info.seq, info.stride, &wv, &e) != GB_OK)
        goto fail;
    corpus_figs cf;
    corpus_figures(&ds, &wt, &wv, &dist, shard, &cf);
    if (cf.parts == 0) {
        if (lead)
            fprintf(stderr, "groovybee: no parts to train on: %llu MIDI file%s found, %llu "
                    "skipped, %llu without a matching part\n", (unsigned long long)cf.seen,
                    cf.seen == 1 ? "" : "s", (unsigned long long)cf.skipped,
                    (unsigned long long)cf.no_parts);
        goto out; /* every rank knows: no abort needed */
    }
    if (lead) print_corpus(&cf, info.enc.events != GB_DS_ROLL, info.seq, shards);

    progress_ctx pc = {.tty = isatty(2), .quiet = a.quiet};
    gb_train_opts o = {.model_path = a.out, .epochs = epochs, .patience = patience,
                       .target_loss = a.target.set ? a.target.v : 0,
                       .max_windows = a.max_windows.set ? (uint64_t)a.max_windows.v : 0,
                       .resume = a.resume, .precision = a.prec, .log_path = a.log,
                       .progress = on_progress, .ctx = &pc, .dist = &dist, .shard = shard};
    gb_train_result r;
    if (gb_train(&ds, &info, &o, &r, &e) != GB_OK) {
        if (lead && pc.tty && !pc.quiet) fprintf(stderr, "\r\033[K");
        goto fail;
    }
    if (!lead) {
        rc = r.stop == GB_STOP_NONFINITE ? EXIT_RUNTIME : EXIT_OK;
        goto out;
    }
    char best[96] = "no model written";
    if (r.best_epoch)
        snprintf(best, sizeof best, "best: epoch %d, %s loss %.5f", r.best_epoch,
                 cf.validw ? "validation" : "training", r.best_loss);
    switch (r.stop) {
    case GB_STOP_NONFINITE: {
        char kept[200] = "no model was written";
        if (r.best_epoch)
            snprintf(kept, sizeof kept, "%s keeps the model of epoch %d (%s loss %.5f)", a.out,
                     r.best_epoch, cf.validw ? "validation" : "training", r.best_loss);
        if (pc.tty && !pc.quiet) fprintf(stderr, "\r\033[K");
        fprintf(stderr, "groovybee: training stopped: the %s became NaN or infinite in epoch "
                "%d; %s. Try a lower --lr, or --clip 1.\n",
                r.bad_in_valid ? "validation loss" : "training loss or its gradient",
                r.bad_epoch, kept);
        goto out;
    }
    case GB_STOP_EPOCHS:
        if (r.epochs_run == 0)
            fprintf(stderr, "groovybee: already trained %d epochs (raise --epochs to go on)\n",
                    r.epochs_done);
        else
            fprintf(stderr, "done: %d epoch%s; %s, in %s\n", r.epochs_done,
                    r.epochs_done == 1 ? "" : "s", best, a.out);
        break;
    case GB_STOP_TARGET:
        fprintf(stderr, "done: training loss below %g after %d epoch%s; %s, in %s\n",
                a.target.v, r.epochs_done, r.epochs_done == 1 ? "" : "s", best, a.out);
        break;
    case GB_STOP_PATIENCE:
        fprintf(stderr, "done: no better %s loss for %d epochs, stopped after %d; %s, in %s\n",
                cf.validw ? "validation" : "training", patience, r.epochs_done, best, a.out);
        break;
    }
    rc = EXIT_OK;
    goto out;
fail:
    /* one rank's error ends the job: the others would wait for it in the next collective */
    if (dist.size > 1) {
        fprintf(stderr, "groovybee: rank %d of %d: %s; ending the job\n", dist.rank, dist.size,
                e.msg);
        gb_dist_abort(&dist, EXIT_RUNTIME);
    }
    fprintf(stderr, "groovybee: %s\n", e.msg);
out:
    gb_ds_windows_free(&wt);
    gb_ds_windows_free(&wv);
    gb_ds_free(&ds);
    gb_model_info_free(&info);
    globfree(&gl);
    gb_dist_finalize(&dist);
    return rc;
}
