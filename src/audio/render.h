/* render.h - songs to audio: libfluidsynth plays the song's notes offline (no audio device, no
 * fluid_player: the notes are scheduled here, so the output is deterministic) and the result is
 * 16-bit stereo PCM or a WAV file. */
#ifndef GB_AUDIO_RENDER_H
#define GB_AUDIO_RENDER_H

#include "groovybee.h"

typedef struct {
    const char *soundfont; /* .sf2 file; NULL: gb_render_find_soundfont() */
    int rate;              /* frames per second, 8000..96000 [44100] */
    double gain;           /* fluidsynth's synth.gain, 0..10 [0.2] */
    double max_tail;       /* seconds rendered at most after the last note-off while the
                              release and reverb die away, 0..60 [5] */
    double length;         /* > 0: the audio lasts exactly this many seconds (0..3600), cut
                              there or padded with silence: a listening test's pairs [0] */
} gb_render_opts;

/* Longest result: what a WAV file's 32-bit sizes can hold (6.7 hours at 44100 Hz); a longer
 * song is GB_ERR_LIMIT. */
#define GB_RENDER_MAX_FRAMES ((UINT32_MAX - 36u) / 4u)

void gb_render_opts_default(gb_render_opts *o);

/* The General MIDI soundfont of this machine: $GROOVYBEE_SOUNDFONT when set and not empty (even
 * if it does not exist: the render then says so), else the first readable of
 * /usr/share/sounds/sf2/FluidR3_GM.sf2, /usr/share/sounds/sf2/default-GM.sf2,
 * /usr/share/soundfonts/default.sf2 (Debian package fluid-soundfont-gm); NULL when none. */
const char *gb_render_find_soundfont(void);

/* Renders the song: every part on its own synth channel with its GM program (drum parts on a
 * drum channel, bank 128), notes at the times of the tempo map, then the release tail until the
 * audio falls under -60 dBFS or o->max_tail runs out. *pcm (malloc'd, the caller frees it)
 * holds *n_frames interleaved left/right frames at o->rate.
 * Errors name the soundfont when it is the problem. Uses fluidsynth's process-wide log hook:
 * its messages are kept for the error, never printed. */
gb_status gb_render_song(const gb_song *s, const gb_render_opts *o, int16_t **pcm,
                         size_t *n_frames, gb_error *err);

/* gb_render_song, then a canonical 44-byte-header RIFF/WAVE PCM file, written atomically
 * (nothing is written when anything fails; errors in writing name the path). */
gb_status gb_render_wav(const gb_song *s, const gb_render_opts *o, const char *path,
                        gb_error *err);

#endif
