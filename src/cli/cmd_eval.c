/* cmd_eval.c - `groovybee eval MODEL FILE... [--keys LO-HI] [--json]`: the model's loss on whole parts, each
 * run from its first step to its last with the LSTM's states carried (src/model/stream.h),
 * every step predicted from the steps before it (the first from a zero input); for BCE models
 * also the frame-level negative log-likelihood of the literature on polyphonic music
 * (Boulanger-Lewandowski et al. 2012): nats per step, summed over the pitches of --keys; for
 * event models the NLL per event (Performance RNN's figure), its perplexity, and each token
 * class's share of the events and of the NLL. */
#define _GNU_SOURCE
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "dist/dist.h"
#include "io/checkpoint.h"
#include "model/stream.h"

static const char *HELP =
    "usage: groovybee eval MODEL.safetensors FILE... [--keys LO-HI] [--json] [--precision P]\n"
    "\n"
    "Runs the model over each part of each FILE (MIDI files, or folders walked for .mid/.midi)\n"
    "whole, with the model's own encoding and part filter, its states carried from step to\n"
    "step, predicting every step from the steps before it (the first from a zero input). Per\n"
    "part and over all of them (weighted by steps) it reports the mean loss per step (the\n"
    "model's loss, averaged over its features) and, for BCE models, the frame-level negative\n"
    "log-likelihood: nats per step summed over the pitches of --keys (onset features not\n"
    "counted), the figure published for polyphonic music benchmarks such as the JSB chorales\n"
    "(over the 88 piano keys: --keys 21-108; docs/metrics.md says what it means for a NADE).\n"
    "Event models (the events preset): every event but a stream's first is predicted from\n"
    "those before it; the loss is the NLL in nats per event, reported with its perplexity\n"
    "exp(NLL) and, per token class (NOTE_ON, NOTE_OFF, TIME_SHIFT, VELOCITY, PROGRAM), its\n"
    "share of the events and its mean NLL (--keys does not apply).\n"
    "A file that cannot be read is skipped with a warning; the exit status is then 1.\n"
    "Under mpirun (mpirun -np N groovybee eval ...) the ranks share out the parts, and rank 0\n"
    "prints the same figures, bit for bit, as one process.\n"
    "\n"
    "options:\n"
    "  --keys LO-HI            the pitches the NLL sums over [0-127]\n"
    "  --json                  one JSON object on stdout instead of the table\n"
    "  --precision P           " CLI_PRECISION_HELP "\n"
    "                          [fp32: eval is the yardstick, its figures should not depend on\n"
    "                          the machine]\n"
    "  -h, --help              show this help\n";

#define CHUNK 256 /* steps run at a time: memory stays bounded for any part length */

/* A part's sums, all doubles (counts exact below 2^53) so that ranks can add them up in one
 * allreduce. */
typedef struct {
    double loss, nll; /* sums over steps */
    double steps;
    double class_nll[GB_EVC_COUNT]; /* event models: sums per class of the predicted token */
    double class_n[GB_EVC_COUNT];
} sums;

/* An event model's part: events 1 .. S-1, each predicted from those before it. */
static void eval_tokens(const gb_lstm *m, const gb_dataset *ds, size_t pi, gb_lstm_stream *st,
                        float *x, float *y, double *nll, sums *out) {
    size_t S = ds->parts[pi].steps;
    gb_lstm_stream_reset(st);
    for (size_t k0 = 0; k0 + 1 < S; k0 += CHUNK) {
        size_t n = S - 1 - k0 < CHUNK ? S - 1 - k0 : CHUNK;
        gb_ds_cut(ds, pi, k0, n + 1, 1, 0, x); /* inputs k0 .. k0+n-1, then their targets */
        gb_lstm_stream_run(m, st, x, (int)n, y);
        gb_step_nll(m, y, x + 1, (int)n, NULL, nll);
        for (size_t t = 0; t < n; t++) {
            gb_ev_class c = gb_events_class((unsigned)x[t + 1], NULL);
            out->loss += nll[t], out->nll += nll[t];
            out->class_nll[c] += nll[t], out->class_n[c]++;
        }
        out->steps += n;
    }
}

/* Buffers for a chunk: inputs x (CHUNK + 1, Din), targets (CHUNK, D), outputs y (CHUNK, Dout),
 * per-step NLLs (CHUNK): the model's loss (all features) and the reported one (keys). */
typedef struct {
    float *x, *target, *y;
    double *nll_all, *nll_keys;
} bufs;

/* One part, whole: inputs are steps -1 (zeros) .. S-2, targets steps 0 .. S-1. */
static void eval_part(const gb_lstm *m, const gb_model_info *in, const gb_dataset *ds, size_t pi,
                      const uint8_t *keys, gb_lstm_stream *st, bufs *b, sums *out) {
    int D = in->net.D, Din = gb_lstm_din(&in->net), Dout = gb_lstm_dout(&in->net);
    size_t S = ds->parts[pi].steps;
    gb_lstm_stream_reset(st);
    memset(out, 0, sizeof *out);
    if (in->enc.events) {
        eval_tokens(m, ds, pi, st, b->x, b->y, b->nll_all, out);
        return;
    }
    for (size_t k0 = 0; k0 < S; k0 += CHUNK) {
        size_t n = S - k0 < CHUNK ? S - k0 : CHUNK;
        /* x rows: step k0-1 .. k0+n-1; row 0 is zeros at the start of the part */
        if (k0 == 0) {
            memset(b->x, 0, (size_t)Din * sizeof *b->x);
            gb_ds_cut(ds, pi, 0, n, 1, 0, b->x + Din);
        } else {
            gb_ds_cut(ds, pi, k0 - 1, n + 1, 1, 0, b->x);
        }
        gb_lstm_stream_run(m, st, b->x, (int)n, b->y);
        for (size_t t = 0; t < n; t++)
            memcpy(b->target + t * D, b->x + (t + 1) * Din, (size_t)D * sizeof *b->target);
        if (in->loss == GB_LOSS_MSE) {
            for (size_t t = 0; t < n; t++) {
                double l = 0;
                for (int d = 0; d < D; d++) {
                    double e = b->y[t * Dout + d] - b->target[t * D + d];
                    l += e * e;
                }
                out->loss += l / D;
            }
        } else {
            /* the keys' NLL, and the loss (every feature) from a second pass only when the keys
             * leave some feature out: for a NADE each pass is the whole head again */
            int all = 1;
            for (int d = 0; d < D; d++) all &= keys[d];
            gb_step_nll(m, b->y, b->target, (int)n, keys, b->nll_keys);
            if (!all) gb_step_nll(m, b->y, b->target, (int)n, NULL, b->nll_all);
            const double *nll_all = all ? b->nll_keys : b->nll_all;
            for (size_t t = 0; t < n; t++)
                out->loss += nll_all[t] / D, out->nll += b->nll_keys[t];
        }
        out->steps += n;
    }
}

int cmd_eval(int argc, char **argv) {
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"keys", required_argument, 0, 'k'},
                                         {"precision", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c, json = 0, klo = 0, khi = 127;
    const char *precision = "fp32";
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'k': {
            int used = 0;
            if (sscanf(optarg, "%d-%d%n", &klo, &khi, &used) != 2 || optarg[used] || klo < 0 ||
                khi > 127 || klo > khi)
                return cli_usage_error("eval", "--keys wants LO-HI with 0 <= LO <= HI <= 127 "
                                       "(21-108: the 88 piano keys), not '%s'", optarg);
            break;
        }
        case 'p': precision = optarg; break;
        case 'h': return fputs(HELP, stdout), EXIT_OK;
        default: return cli_usage_error("eval", "bad option");
        }
    }
    gb_precision prec;
    if (!cli_precision("eval", precision, &prec)) return EXIT_USAGE;
    if (optind >= argc) return cli_usage_error("eval", "no MODEL.safetensors");
    if (optind + 1 >= argc) return cli_usage_error("eval", "no FILE to evaluate on");
    const char *mpath = argv[optind];
    gb_lstm m;
    gb_model_info in;
    gb_error e;
    gb_dist dist; /* a job of several ranks (mpirun), or of this process alone */
    if (gb_dist_init(&dist, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        return EXIT_RUNTIME;
    }
    if (gb_ckpt_load(mpath, &m, &in, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        if (dist.size > 1) gb_dist_abort(&dist, EXIT_RUNTIME);
        return EXIT_RUNTIME;
    }
    int lead = dist.rank == 0;
    int rc = EXIT_RUNTIME, D = in.net.D, ev = in.enc.events != GB_DS_ROLL;
    int bce = in.loss == GB_LOSS_BCE || ev; /* an NLL to report */
    const char *kind = ev ? "ce" : in.loss == GB_LOSS_BCE ? "bce" : "mse";
    const char *head = in.net.head == GB_HEAD_NADE      ? "nade"
                       : in.net.head == GB_HEAD_SOFTMAX ? "softmax"
                                                        : "linear";
    uint8_t keys[256] = {0}; /* the pitches the NLL counts; onset features never */
    for (int k = klo; k <= khi; k++) keys[k] = 1;
    gb_dataset ds;
    gb_lstm_stream *st = NULL;
    sums *per = NULL;
    int together = 0; /* every rank reaches the end with the same outcome */
    bufs b = {malloc((size_t)(CHUNK + 1) * gb_lstm_din(&in.net) * sizeof(float)),
              malloc((size_t)CHUNK * D * sizeof(float)),
              malloc((size_t)CHUNK * gb_lstm_dout(&in.net) * sizeof(float)),
              malloc(CHUNK * sizeof(double)), malloc(CHUNK * sizeof(double))};
    if (gb_ds_init(&ds, &in.enc, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s: %s\n", mpath, e.msg);
        free(b.x), free(b.target), free(b.y), free(b.nll_all), free(b.nll_keys);
        gb_lstm_free(&m);
        gb_model_info_free(&in);
        if (dist.size > 1) gb_dist_abort(&dist, EXIT_RUNTIME);
        return EXIT_RUNTIME;
    }
    if (!b.x || !b.target || !b.y || !b.nll_all || !b.nll_keys ||
        gb_lstm_stream_new(&in.net, 1, CHUNK, &st, &e) != GB_OK ||
        gb_lstm_stream_set_precision(st, &m, prec, &e) != GB_OK) {
        fprintf(stderr, "groovybee: out of memory\n");
        goto out;
    }
    if (gb_ds_add_paths(&ds, (const char *const *)argv + optind + 1, (size_t)(argc - optind - 1),
                        0, lead ? cli_warn_skipped : NULL, NULL, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        goto out;
    }
    uint64_t *hashes = NULL; /* every rank must have read the same parts */
    if (dist.size > 1 && (hashes = malloc((size_t)dist.size * sizeof *hashes))) {
        gb_dist_gather_u64(&dist, gb_ds_hash(&ds), hashes);
        for (int r = 1; r < dist.size; r++)
            if (hashes[r] != hashes[0]) {
                fprintf(stderr, "groovybee: rank %d read other files than rank 0 (a file missing, "
                        "unreadable or different on its host)\n", r);
                free(hashes);
                goto out;
            }
    }
    free(hashes);
    if (ds.n_parts == 0) { /* every rank knows: no need to end the job from here */
        together = 1;
        if (lead) fprintf(stderr, "groovybee: no parts to evaluate: %zu MIDI file%s found, %zu skipped, "
                "%zu without a part the model's filter takes\n", ds.files_seen,
                ds.files_seen == 1 ? "" : "s", ds.files_skipped, ds.files_no_parts);
        goto out;
    }
    /* each rank its share of the parts, then their sums on every rank */
    if (!(per = calloc(ds.n_parts, sizeof *per))) {
        fprintf(stderr, "groovybee: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < ds.n_parts; i++)
        if ((int)(i % (size_t)dist.size) == dist.rank)
            eval_part(&m, &in, &ds, i, keys, st, &b, &per[i]);
    gb_dist_sum_double(&dist, (double *)per, ds.n_parts * (sizeof *per / sizeof(double)));
    together = 1;
    if (!lead) {
        rc = ds.files_skipped ? EXIT_RUNTIME : EXIT_OK;
        goto out;
    }
    sums all = {0};
    if (json) {
        printf("{\"model\":");
        cli_json_str(stdout, mpath);
        printf(",\"loss_kind\":\"%s\",\"head\":\"%s\",\"D\":%d,\"H\":%d,\"L\":%d,\"keys\":[%d,%d],"
               "\"precision\":\"%s\",\"files\":[", kind, head, D, in.net.H, in.net.L, klo, khi,
               cli_precision_name(prec));
    } else {
        printf("model: %s (%s preset, %s%s, D %d, H %d, L %d, %d epoch%s), %s products\n",
               mpath, in.preset[0] ? in.preset : "no", ev ? "events, CE" : bce ? "BCE" : "MSE",
               in.net.head == GB_HEAD_NADE ? " NADE" : "", D, in.net.H, in.net.L, in.epochs,
               in.epochs == 1 ? "" : "s", cli_precision_name(prec));
        printf("%-40s %4s %8s %10s%s\n", "file", "part", ev ? "events" : "steps", "loss",
               bce ? "    nll" : "");
    }
    for (size_t f = 0; f < ds.n_files; f++) {
        const gb_ds_file *fi = &ds.files[f];
        if (json) {
            printf("%s{\"path\":", f ? "," : "");
            cli_json_str(stdout, fi->path);
            printf(",\"parts\":[");
        }
        for (size_t i = fi->first_part; i < fi->first_part + fi->n_parts; i++) {
            sums s = per[i];
            all.loss += s.loss, all.nll += s.nll, all.steps += s.steps;
            for (int k = 0; k < GB_EVC_COUNT; k++)
                all.class_nll[k] += s.class_nll[k], all.class_n[k] += s.class_n[k];
            const gb_ds_part *p = &ds.parts[i];
            double l = s.loss / (double)s.steps, nll = s.nll / (double)s.steps;
            if (json) {
                printf("%s{\"part\":%d,\"track\":%d,\"channel\":%d,\"program\":%d,\"steps\":%llu,"
                       "\"loss\":%.9g,\"nll\":", i > fi->first_part ? "," : "", p->index,
                       p->track, p->channel, p->program, (unsigned long long)s.steps, l);
                if (bce) printf("%.9g}", nll);
                else printf("null}");
            } else {
                printf("%-40s %4d %8llu %10.6f", fi->path, p->index, (unsigned long long)s.steps,
                       l);
                if (bce) printf(" %7.3f", nll);
                printf("\n");
            }
        }
        if (json) printf("]}");
    }
    double l = all.loss / (double)all.steps, nll = all.nll / (double)all.steps;
    if (json) {
        printf("],\"parts\":%zu,\"steps\":%llu,\"loss\":%.9g,\"nll\":", ds.n_parts,
               (unsigned long long)all.steps, l);
        if (bce) printf("%.9g", nll);
        else printf("null");
        if (ev) {
            printf(",\"perplexity\":%.9g,\"classes\":{", exp(nll));
            for (int k = 0; k < GB_EVC_COUNT; k++) {
                printf("%s\"%s\":{\"events\":%llu,\"share\":%.9g,\"nll\":", k ? "," : "",
                       gb_events_class_name((gb_ev_class)k), (unsigned long long)all.class_n[k],
                       all.steps ? (double)all.class_n[k] / (double)all.steps : 0.0);
                if (all.class_n[k]) printf("%.9g}", all.class_nll[k] / (double)all.class_n[k]);
                else printf("null}");
            }
            printf("}");
        }
        printf(",\"skipped\":%zu}\n", ds.files_skipped);
    } else {
        printf("all: %zu file%s, %zu part%s, %llu %s: loss %.6f per %s", ds.n_files,
               ds.n_files == 1 ? "" : "s", ds.n_parts, ds.n_parts == 1 ? "" : "s",
               (unsigned long long)all.steps, ev ? "events" : "steps", l, ev ? "event" : "step");
        if (ev) printf(", NLL %.4f nats per event, perplexity %.2f", nll, exp(nll));
        else if (bce) printf(", frame NLL %.4f nats per step over keys %d-%d", nll, klo, khi);
        printf("\n");
        if (ev) {
            printf("%-12s %10s %7s %10s\n", "class", "events", "share", "nll/event");
            for (int k = 0; k < GB_EVC_COUNT; k++) {
                if (!all.class_n[k] && k == GB_EVC_PROGRAM) continue;
                printf("%-12s %10llu %6.1f%% ", gb_events_class_name((gb_ev_class)k),
                       (unsigned long long)all.class_n[k],
                       all.steps ? 100.0 * (double)all.class_n[k] / (double)all.steps : 0.0);
                if (all.class_n[k]) printf("%10.4f\n", all.class_nll[k] / (double)all.class_n[k]);
                else printf("%10s\n", "-");
            }
        }
    }
    rc = ds.files_skipped ? EXIT_RUNTIME : EXIT_OK;
out:
    if (rc != EXIT_OK && !together && dist.size > 1) /* others may wait for this rank */
        gb_dist_abort(&dist, rc);
    free(per);
    gb_lstm_stream_free(st);
    free(b.x), free(b.target), free(b.y), free(b.nll_all), free(b.nll_keys);
    gb_ds_free(&ds);
    gb_lstm_free(&m);
    gb_model_info_free(&in);
    gb_dist_finalize(&dist);
    return rc;
}
