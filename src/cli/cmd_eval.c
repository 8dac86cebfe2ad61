/* cmd_eval.c - `groovybee eval MODEL FILE... [--keys LO-HI] [--json]`: the options, then
 * gb_model_eval's figures (src/api/eval.c) as a table or JSON. Under mpirun the ranks share out
 * the parts there; this file joins the job, ends it when one rank fails alone, and prints on
 * rank 0. */
#define _GNU_SOURCE
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli.h"

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

static void print_json(const char *mpath, const gb_model_summary *ms, const gb_eval_opts *o,
                       const gb_eval_result *r) {
    printf("{\"model\":");
    cli_json_str(stdout, mpath);
    printf(",\"loss_kind\":\"%s\",\"head\":\"%s\",\"D\":%d,\"H\":%d,\"L\":%d,\"keys\":[%d,%d],"
           "\"precision\":\"%s\",\"files\":[", r->loss_kind, r->head, ms->features, ms->hidden,
           ms->layers, o->keys_lo, o->keys_hi, cli_precision_name(o->precision));
    for (size_t i = 0; i < r->n_parts; i++) {
        const gb_eval_part *p = &r->parts[i];
        int first = i == 0 || r->parts[i - 1].file != p->file; /* of its file */
        if (first) {
            printf("%s{\"path\":", i ? "]}," : "");
            cli_json_str(stdout, r->files[p->file]);
            printf(",\"parts\":[");
        }
        printf("%s{\"part\":%d,\"track\":%d,\"channel\":%d,\"program\":%d,\"steps\":%llu,"
               "\"loss\":%.9g,\"nll\":", first ? "" : ",", p->part, p->track, p->channel,
               p->program, (unsigned long long)p->steps, p->loss);
        if (r->has_nll) printf("%.9g}", p->nll);
        else printf("null}");
    }
    printf("]}],\"parts\":%zu,\"steps\":%llu,\"loss\":%.9g,\"nll\":", r->n_parts,
           (unsigned long long)r->steps, r->loss);
    if (r->has_nll) printf("%.9g", r->nll);
    else printf("null");
    if (r->events) {
        printf(",\"perplexity\":%.9g,\"classes\":{", r->perplexity);
        for (int k = 0; k < GB_EVC_COUNT; k++) {
            printf("%s\"%s\":{\"events\":%llu,\"share\":%.9g,\"nll\":", k ? "," : "",
                   gb_events_class_name((gb_ev_class)k),
                   (unsigned long long)r->class_events[k], r->class_share[k]);
            if (r->class_events[k]) printf("%.9g}", r->class_nll[k]);
            else printf("null}");
        }
        printf("}");
    }
    printf(",\"skipped\":%zu}\n", r->files_skipped);
}

static void print_table(const char *mpath, const gb_model_summary *ms, const gb_eval_opts *o,
                        const gb_eval_result *r) {
    int ev = r->events;
    printf("model: %s (%s preset, %s%s, D %d, H %d, L %d, %d epoch%s), %s products\n", mpath,
           ms->preset[0] ? ms->preset : "no", ev ? "events, CE" : r->has_nll ? "BCE" : "MSE",
           strcmp(r->head, "nade") ? "" : " NADE", ms->features, ms->hidden, ms->layers,
           ms->epochs, ms->epochs == 1 ? "" : "s", cli_precision_name(o->precision));
    printf("%-40s %4s %8s %10s%s\n", "file", "part", ev ? "events" : "steps", "loss",
           r->has_nll ? "    nll" : "");
    for (size_t i = 0; i < r->n_parts; i++) {
        const gb_eval_part *p = &r->parts[i];
        printf("%-40s %4d %8llu %10.6f", r->files[p->file], p->part,
               (unsigned long long)p->steps, p->loss);
        if (r->has_nll) printf(" %7.3f", p->nll);
        printf("\n");
    }
    printf("all: %zu file%s, %zu part%s, %llu %s: loss %.6f per %s", r->n_files,
           r->n_files == 1 ? "" : "s", r->n_parts, r->n_parts == 1 ? "" : "s",
           (unsigned long long)r->steps, ev ? "events" : "steps", r->loss, ev ? "event" : "step");
    if (ev) printf(", NLL %.4f nats per event, perplexity %.2f", r->nll, r->perplexity);
    else if (r->has_nll)
        printf(", frame NLL %.4f nats per step over keys %d-%d", r->nll, o->keys_lo, o->keys_hi);
    printf("\n");
    if (!ev) return;
    printf("%-12s %10s %7s %10s\n", "class", "events", "share", "nll/event");
    for (int k = 0; k < GB_EVC_COUNT; k++) {
        if (!r->class_events[k] && k == GB_EVC_PROGRAM) continue;
        printf("%-12s %10llu %6.1f%% ", gb_events_class_name((gb_ev_class)k),
               (unsigned long long)r->class_events[k],
               r->steps ? 100.0 * (double)r->class_events[k] / (double)r->steps : 0.0);
        if (r->class_events[k]) printf("%10.4f\n", r->class_nll[k]);
        else printf("%10s\n", "-");
    }
}

int cmd_eval(int argc, char **argv) {
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"keys", required_argument, 0, 'k'},
                                         {"precision", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c, json = 0;
    gb_eval_opts eo;
    gb_eval_opts_default(&eo);
    const char *precision = "fp32";
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'k': {
            int used = 0, lo, hi;
            if (sscanf(optarg, "%d-%d%n", &lo, &hi, &used) != 2 || optarg[used] || lo < 0 ||
                hi > 127 || lo > hi)
                return cli_usage_error("eval", "--keys wants LO-HI with 0 <= LO <= HI <= 127 "
                                       "(21-108: the 88 piano keys), not '%s'", optarg);
            eo.keys_lo = lo, eo.keys_hi = hi;
            break;
        }
        case 'p': precision = optarg; break;
        case 'h': return fputs(HELP, stdout), EXIT_OK;
        default: return cli_usage_error("eval", "bad option");
        }
    }
    if (!cli_precision("eval", precision, &eo.precision)) return EXIT_USAGE;
    if (optind >= argc) return cli_usage_error("eval", "no MODEL.safetensors");
    if (optind + 1 >= argc) return cli_usage_error("eval", "no FILE to evaluate on");
    const char *mpath = argv[optind];
    gb_error e;
    gb_dist dist; /* a job of several ranks (mpirun), or of this process alone */
    if (gb_dist_init(&dist, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        return EXIT_RUNTIME;
    }
    gb_model *m;
    if (gb_model_load(mpath, &m, &e) != GB_OK) {
        fprintf(stderr, "groovybee: %s\n", e.msg);
        if (dist.size > 1) gb_dist_abort(&dist, EXIT_RUNTIME);
        return EXIT_RUNTIME;
    }
    int lead = dist.rank == 0, together, rc = EXIT_RUNTIME;
    eo.skip = lead ? cli_warn_skipped : NULL; /* one warning a file, not one a rank */
    gb_eval_result r;
    if (gb_model_eval_dist(m, (const char *const *)argv + optind + 1,
                           (size_t)(argc - optind - 1), &eo, &dist, &r, &together, &e) != GB_OK) {
        if (lead || !together) fprintf(stderr, "groovybee: %s\n", e.msg);
        if (!together && dist.size > 1) gb_dist_abort(&dist, EXIT_RUNTIME); /* others wait */
    } else {
        gb_model_summary ms;
        gb_model_summarize(m, &ms);
        if (lead && json) print_json(mpath, &ms, &eo, &r);
        else if (lead) print_table(mpath, &ms, &eo, &r);
        rc = r.files_skipped ? EXIT_RUNTIME : EXIT_OK;
    }
    gb_eval_result_free(&r);
    gb_model_free(m);
    gb_dist_finalize(&dist);
    return rc;
}
