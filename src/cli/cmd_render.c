/* cmd_render.c - `groovybee render IN.mid -o OUT.wav`: MIDI -> WAV with FluidSynth. */
#define _GNU_SOURCE
#include <getopt.h>
#include <sys/stat.h>

#include "audio/render.h"
#include "cli/cli.h"

static void help(void) {
    gb_render_opts d;
    gb_render_opts_default(&d);
    const char *sf = gb_render_find_soundfont();
    printf("usage: groovybee render IN.mid -o OUT.wav [--soundfont FILE.sf2] [--rate N]\n"
           "                        [--gain X]\n"
           "\n"
           "Plays the notes of a MIDI file through FluidSynth with a General MIDI soundfont and\n"
           "writes a 16-bit stereo WAV file. Each part plays its GM program, drum parts a drum kit;\n"
           "controllers, pitch bends and pedals are not played. The sound goes on after the last\n"
           "note-off until it falls under -60 dBFS, %g s at most.\n"
           "\n"
           "options:\n"
           "  -o, --output OUT.wav    the WAV file to write, atomically (required)\n"
           "  --soundfont FILE.sf2    SoundFont 2 file [$GROOVYBEE_SOUNDFONT, else the first of\n"
           "                          /usr/share/sounds/sf2/FluidR3_GM.sf2,\n"
           "                          /usr/share/sounds/sf2/default-GM.sf2 and\n"
           "                          /usr/share/soundfonts/default.sf2 (Debian package\n"
           "                          fluid-soundfont-gm); here: %s]\n"
           "  --rate N                sample rate in Hz, 8000-96000 [%d]\n"
           "  --gain X                FluidSynth's master gain (synth.gain), 0-10 [%g]\n"
           "  -h, --help              show this help\n",
           d.max_tail, sf ? sf : "none found", d.rate, d.gain);
}

int cmd_render(int argc, char **argv) {
    enum { O_SF = 256, O_RATE, O_GAIN };
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"soundfont", required_argument, 0, O_SF},
                                         {"rate", required_argument, 0, O_RATE},
                                         {"gain", required_argument, 0, O_GAIN},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    gb_render_opts o;
    gb_render_opts_default(&o);
    const char *out = NULL;
    long rate;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case O_SF: o.soundfont = optarg; break;
        case O_RATE:
            if (!cli_int("render", "--rate", optarg, 8000, 96000, &rate)) return EXIT_USAGE;
            o.rate = (int)rate;
            break;
        case O_GAIN:
            if (!cli_double("render", "--gain", optarg, 0, 10, &o.gain)) return EXIT_USAGE;
            break;
        case 'h': return help(), EXIT_OK;
        default: return cli_usage_error("render", "bad option");
        }
    }
    if (!out) return cli_usage_error("render", "-o OUT.wav is required");
    const char *in;
    gb_song s;
    int status = cli_read_one_song("render", argc, argv, &in, &s);
    if (status != EXIT_OK) return status;
    gb_error e;
    if (gb_render_wav(&s, &o, out, &e) != GB_OK) {
        cli_error(in, &e);
        status = EXIT_RUNTIME;
    } else {
        /* The length from the file: a 44-byte header, then 4 bytes a frame. */
        struct stat st;
        double bytes = stat(out, &st) == 0 ? (double)st.st_size : 44;
        fprintf(stderr, "groovybee: rendered %s to %s: %.2f s at %d Hz, %.1f MB\n", in, out,
                (bytes - 44) / (4.0 * o.rate), o.rate, bytes / 1e6);
    }
    gb_song_free(&s);
    return status;
}
