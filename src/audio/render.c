/* render.c - songs to 16-bit stereo audio with libfluidsynth, and the WAV writer.
 *
 * The notes become note-on/off events in sample frames, sorted, and the synth renders the
 * stretch up to each event, then the release tail. No audio driver and no fluid_player: the
 * result depends only on the song, the options and the soundfont. */
#define _POSIX_C_SOURCE 200809L
#include "audio/render.h"

#include <errno.h>
#include <fluidsynth.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define WAV_HEADER 44
#define MAX_CHANNELS 256 /* fluidsynth's largest synth.midi-channels: one part a channel */
#define SILENT 33        /* a peak under this (-60 dBFS of 32768) ends the tail */
#define BLOCK 4096       /* frames a fluid_synth_write_float call renders */

void gb_render_opts_default(gb_render_opts *o) {
    o->soundfont = NULL;
    o->rate = 44100;
    /* fluidsynth's own default. Only notes are played, every part at full channel volume, so
     * orchestral files are loud: with 0.2 the densest of the bundled corpus
     * (beethoven__Symphony5_2.mid) peaks at -2.4 dBFS and none clips; 0.5 clips the third
     * piano concerto. A piano solo peaks near -13 dBFS. */
    o->gain = 0.2;
    o->max_tail = 5;
    o->length = 0;
}

const char *gb_render_find_soundfont(void) {
    static const char *const paths[] = {"/usr/share/sounds/sf2/FluidR3_GM.sf2",
                                        "/usr/share/sounds/sf2/default-GM.sf2",
                                        "/usr/share/soundfonts/default.sf2"};
    const char *env = getenv("GROOVYBEE_SOUNDFONT");
    if (env && *env) return env;
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (access(paths[i], R_OK) == 0) return paths[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* fluidsynth's log: one hook per level for the whole process. Warnings and chatter are
 * dropped; the first error of a render is kept (per thread) for its gb_error. */

static _Thread_local char fluid_msg[160];

static void keep_first_error(int level, const char *msg, void *data) {
    (void)level;
    (void)data;
    if (!fluid_msg[0]) snprintf(fluid_msg, sizeof fluid_msg, "%s", msg);
}

static void fluid_log_capture(void) {
    fluid_set_log_function(FLUID_PANIC, keep_first_error, NULL);
    fluid_set_log_function(FLUID_ERR, keep_first_error, NULL);
    fluid_set_log_function(FLUID_WARN, NULL, NULL);
    fluid_set_log_function(FLUID_INFO, NULL, NULL);
    fluid_set_log_function(FLUID_DBG, NULL, NULL);
    fluid_msg[0] = 0;
}

static const char *fluid_error(const char *fallback) {
    return fluid_msg[0] ? fluid_msg : fallback;
}

/* ------------------------------------------------------------------------------------------ */
/* events */

typedef struct {
    uint64_t frame;
    uint16_t channel; /* = the part's index */
    uint8_t pitch;
    uint8_t velocity; /* 0: note-off */
} event;

/* By frame alone; the sort is stable, so at one frame events keep the order they were made
 * in: a note's on before its off, even for a note of no length (fluidsynth then holds it for
 * its synth.min-note-length, 10 ms). */
static int event_cmp(const void *a, const void *b) {
    const event *x = a, *y = b;
    return (x->frame > y->frame) - (x->frame < y->frame);
}

/* The song's notes as sorted events; *end is the frame of the last note-off. Every time is
 * checked in seconds before it becomes a frame count, so that none overflows. */
static gb_status song_events(const gb_song *s, int rate, double max_tail, event **out,
                             size_t *n_out, uint64_t *end, gb_error *err) {
    if (s->n_parts > MAX_CHANNELS)
        return gb_fail(err, GB_ERR_LIMIT, -1, "%zu parts: fluidsynth has %d channels at most",
                       s->n_parts, MAX_CHANNELS);
    size_t n = 0;
    for (size_t i = 0; i < s->n_parts; i++) n += s->parts[i].n_notes;
    event *ev = n < SIZE_MAX / (2 * sizeof *ev) ? malloc((2 * n + 1) * sizeof *ev) : NULL;
    if (!ev) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu notes", n);
    /* - 2: the end and the tail are rounded to whole frames */
    double limit = GB_RENDER_MAX_FRAMES - 2 - max_tail * rate;
    gb_status st = GB_OK;
    *end = 0;
    n = 0;
    for (size_t i = 0; st == GB_OK && i < s->n_parts; i++) {
        const gb_part *p = &s->parts[i];
        int track = s->format == 2 ? p->track : -1;
        if (p->program < 0 || p->program > 127)
            st = gb_fail(err, GB_ERR_ARG, -1, "part %zu: program %d is not 0..127", i,
                         p->program);
        for (size_t k = 0; st == GB_OK && k < p->n_notes; k++) {
            const gb_note *nt = &p->notes[k];
            double t0 = gb_song_seconds(s, track, nt->start) * rate;
            double t1 = gb_song_seconds(s, track, nt->end) * rate;
            if (nt->pitch > 127 || nt->velocity < 1 || nt->velocity > 127) {
                st = gb_fail(err, GB_ERR_ARG, -1,
                             "part %zu, note %zu: pitch %d, velocity %d (not 0..127, 1..127)", i,
                             k, nt->pitch, nt->velocity);
            } else if (fmax(t0, t1) > limit) {
                st = gb_fail(err, GB_ERR_LIMIT, -1,
                             "a note ends at %.0f s: longer than a WAV file holds at %d Hz",
                             fmax(t0, t1) / rate, rate);
            } else {
                uint64_t on = (uint64_t)llround(t0), off = (uint64_t)llround(fmax(t0, t1));
                ev[n++] = (event){on, (uint16_t)i, nt->pitch, nt->velocity};
                ev[n++] = (event){off, (uint16_t)i, nt->pitch, 0};
                if (off > *end) *end = off;
            }
        }
    }
    if (st == GB_OK && gb_sort_stable(ev, n, sizeof *ev, event_cmp) != GB_OK)
        st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory sorting %zu events", n);
    if (st != GB_OK) {
        free(ev);
        return st;
    }
    *out = ev;
    *n_out = n;
    return GB_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* the synth */

static gb_status synth_open(const gb_song *s, const gb_render_opts *o, const char *sf,
                            fluid_settings_t **settings, fluid_synth_t **synth, gb_error *err) {
    /* Files that are not SoundFonts are turned away by their header here: fluidsynth's loader
     * would fail on them and hand them to libinstpatch's DLS loader, which prints GLib
     * assertions on stderr. */
    FILE *f = fopen(sf, "rb");
    if (!f) return gb_fail(err, GB_ERR_IO, -1, "soundfont %s: %s", sf, strerror(errno));
    fclose(f);
    if (!fluid_is_soundfont(sf))
        return gb_fail(err, GB_ERR_FORMAT, -1, "soundfont %s: not a SoundFont 2 file", sf);
    fluid_settings_t *set = *settings = new_fluid_settings();
    if (!set) return gb_fail(err, GB_ERR_NOMEM, -1, "%s", fluid_error("fluidsynth: no settings"));
    size_t channels = (s->n_parts + 15) / 16 * 16;
    fluid_settings_setint(set, "synth.midi-channels", channels ? (int)channels : 16);
    fluid_settings_setnum(set, "synth.sample-rate", o->rate);
    fluid_settings_setnum(set, "synth.gain", o->gain);
    /* Pinning the samples in RAM is for live playing and fails (with a warning) under the
     * usual RLIMIT_MEMLOCK; loading only the presets the song uses cuts FluidR3_GM's 0.35 s
     * load to a few milliseconds. */
    fluid_settings_setint(set, "synth.lock-memory", 0);
    fluid_settings_setint(set, "synth.dynamic-sample-loading", 1);
    /* Dense scores hold more than the default 256 voices at once (beethoven__fidelio.mid: 264),
     * and fluidsynth would cut the oldest short. */
    fluid_settings_setint(set, "synth.polyphony", 1024);
    fluid_synth_t *syn = *synth = new_fluid_synth(set);
    if (!syn) return gb_fail(err, GB_ERR_NOMEM, -1, "%s", fluid_error("fluidsynth: no synth"));
    if (fluid_synth_sfload(syn, sf, 1) == FLUID_FAILED)
        return gb_fail(err, GB_ERR_FORMAT, -1, "soundfont %s: %s", sf,
                       fluid_error("cannot load it"));
    for (size_t i = 0; i < s->n_parts; i++) {
        const gb_part *p = &s->parts[i];
        int ch = (int)i;
        /* Every channel is set, not left to fluidsynth's default of drums on channel 10 (and
         * 26, 42, ...): a part's channel is its index here, not its MIDI channel. */
        if (fluid_synth_set_channel_type(syn, ch, p->is_drum ? CHANNEL_TYPE_DRUM
                                                             : CHANNEL_TYPE_MELODIC) != FLUID_OK ||
            fluid_synth_bank_select(syn, ch, p->is_drum ? 128 : 0) != FLUID_OK ||
            fluid_synth_program_change(syn, ch, p->program) != FLUID_OK)
            return gb_fail(err, GB_ERR_FORMAT, -1, "soundfont %s: part %zu, program %d: %s", sf,
                           i, p->program, fluid_error("cannot select it"));
    }
    return GB_OK;
}

/* Renders frames [*done, to) into pcm; returns the peak magnitude of what it wrote. Floats are
 * converted here rather than by fluid_synth_write_s16, whose dither table comes from the
 * process's rand(): the output would depend on whoever called srand() before. */
static int render_to(fluid_synth_t *syn, int16_t *pcm, size_t *done, size_t to) {
    float buf[2 * BLOCK];
    int peak = 0;
    while (*done < to) {
        int n = to - *done < BLOCK ? (int)(to - *done) : BLOCK;
        fluid_synth_write_float(syn, n, buf, 0, 2, buf, 1, 2);
        int16_t *out = pcm + 2 * *done;
        for (int i = 0; i < 2 * n; i++) {
            float v = buf[i] * 32767.0f;
            long x = v >= 32767.0f ? 32767 : v <= -32768.0f ? -32768 : lrintf(v);
            out[i] = (int16_t)x;
            if (labs(x) > peak) peak = (int)labs(x);
        }
        *done += (size_t)n;
    }
    return peak;
}

/* Renders into a malloc'd buffer that starts with `header` free bytes (room for the WAV
 * header, so that the file is written without a copy of the audio). */
static gb_status render(const gb_song *s, const gb_render_opts *o, size_t header,
                        uint8_t **out, size_t *n_frames, gb_error *err) {
    if (o->rate < 8000 || o->rate > 96000)
        return gb_fail(err, GB_ERR_ARG, -1, "sample rate %d Hz is not 8000..96000", o->rate);
    if (!(o->gain >= 0 && o->gain <= 10))
        return gb_fail(err, GB_ERR_ARG, -1, "gain %g is not 0..10", o->gain);
    if (!(o->length >= 0 && o->length <= 3600))
        return gb_fail(err, GB_ERR_ARG, -1, "length %g s is not 0..3600", o->length);
    if (!(o->max_tail >= 0 && o->max_tail <= 60))
        return gb_fail(err, GB_ERR_ARG, -1, "tail %g s is not 0..60", o->max_tail);
    const char *sf = o->soundfont ? o->soundfont : gb_render_find_soundfont();
    if (!sf)
        return gb_fail(err, GB_ERR_IO, -1,
                       "no General MIDI soundfont: looked at $GROOVYBEE_SOUNDFONT, "
                       "/usr/share/sounds/sf2/{FluidR3_GM,default-GM}.sf2, "
                       "/usr/share/soundfonts/default.sf2; install the Debian package "
                       "fluid-soundfont-gm or name a .sf2 file");

    event *ev = NULL;
    size_t n_ev = 0;
    uint64_t end = 0;
    gb_status st = song_events(s, o->rate, o->max_tail, &ev, &n_ev, &end, err);
    if (st != GB_OK) return st;
    size_t tail = (size_t)ceil(o->max_tail * o->rate), cap = (size_t)end + tail;
    uint8_t *buf = malloc(header + 4 * cap + 1); /* + 1: never malloc(0) */
    fluid_settings_t *set = NULL;
    fluid_synth_t *syn = NULL;
    fluid_log_capture();
    if (!buf) st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu frames", cap);
    else st = synth_open(s, o, sf, &set, &syn, err);
    size_t done = 0;
    if (st == GB_OK) {
        int16_t *pcm = (int16_t *)(buf + header);
        unsigned *held = calloc((size_t)MAX_CHANNELS * 128, sizeof *held);
        if (!held) st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
        for (size_t i = 0; held && i < n_ev; i++) {
            const event *e = &ev[i];
            render_to(syn, pcm, &done, e->frame);
            /* Notes of one pitch in one part may overlap; each note-on re-strikes the key, and
             * only the end of the last one releases it. */
            unsigned *h = &held[e->channel * 128 + e->pitch];
            if (e->velocity) {
                ++*h;
                fluid_synth_noteon(syn, e->channel, e->pitch, e->velocity);
            } else if (--*h == 0) {
                fluid_synth_noteoff(syn, e->channel, e->pitch);
            }
        }
        free(held);
        /* The tail, 10 ms at a time, until one is silent. */
        size_t block = (size_t)o->rate / 100;
        while (st == GB_OK && done < cap) {
            size_t to = done + block < cap ? done + block : cap;
            if (render_to(syn, pcm, &done, to) < SILENT) break;
        }
    }
    if (syn) delete_fluid_synth(syn);
    if (set) delete_fluid_settings(set);
    free(ev);
    if (st != GB_OK) {
        free(buf);
        return st;
    }
    if (o->length > 0) { /* exactly that long: cut, or padded with silence */
        size_t want = (size_t)llround(o->length * o->rate);
        uint8_t *grown = want > done ? realloc(buf, header + 4 * want + 1) : buf;
        if (!grown) {
            free(buf);
            return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory for %zu frames", want);
        }
        buf = grown;
        if (want > done) memset(buf + header + 4 * done, 0, 4 * (want - done));
        done = want;
    }
    uint8_t *shrunk = realloc(buf, header + 4 * done + 1);
    *out = shrunk ? shrunk : buf;
    *n_frames = done;
    return GB_OK;
}

gb_status gb_render_song(const gb_song *s, const gb_render_opts *o, int16_t **pcm,
                         size_t *n_frames, gb_error *err) {
    uint8_t *buf;
    *pcm = NULL;
    *n_frames = 0;
    gb_status st = render(s, o, 0, &buf, n_frames, err);
    if (st == GB_OK) *pcm = (int16_t *)buf;
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* WAV: RIFF header, "fmt " chunk (PCM, 2 channels, 16 bits), "data" chunk; little-endian. */

static void put_le(uint8_t *p, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

gb_status gb_render_wav(const gb_song *s, const gb_render_opts *o, const char *path,
                        gb_error *err) {
    uint8_t *buf;
    size_t frames;
    gb_status st = render(s, o, WAV_HEADER, &buf, &frames, err);
    if (st != GB_OK) return st;
    /* render() refuses songs longer than GB_RENDER_MAX_FRAMES, so the sizes fit 32 bits. */
    uint32_t rate = (uint32_t)o->rate, data = (uint32_t)(frames * 4);
    memcpy(buf, "RIFF", 4);
    put_le(buf + 4, 36 + data, 4);
    memcpy(buf + 8, "WAVEfmt ", 8);
    put_le(buf + 16, 16, 4); /* fmt chunk size */
    put_le(buf + 20, 1, 2);  /* PCM */
    put_le(buf + 22, 2, 2);  /* channels */
    put_le(buf + 24, rate, 4);
    put_le(buf + 28, rate * 4, 4); /* bytes a second */
    put_le(buf + 32, 4, 2);        /* bytes a frame */
    put_le(buf + 34, 16, 2);       /* bits a sample */
    memcpy(buf + 36, "data", 4);
    put_le(buf + 40, data, 4);
    /* The samples in host order, rewritten little-endian in place (a no-op on most hosts). */
    for (size_t i = 0; i < 2 * frames; i++) {
        uint8_t *p = buf + WAV_HEADER + 2 * i;
        int16_t v;
        memcpy(&v, p, 2);
        put_le(p, (uint16_t)v, 2);
    }
    st = gb_file_write_atomic(path, buf, WAV_HEADER + 4 * (size_t)frames, err);
    free(buf);
    if (st != GB_OK && err) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        gb_fail(err, st, -1, "%s: %s", path, msg);
    }
    return st;
}
