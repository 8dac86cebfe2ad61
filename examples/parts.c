/* parts.c - a program on libgroovybee's public API: the parts of a MIDI file, each with its
 * instrument, notes and length in seconds, as the library reads them.
 *   cc parts.c $(pkg-config --cflags --libs groovybee) -o parts && ./parts song.mid */
#include <groovybee.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: parts FILE.mid\n");
        return 2;
    }
    gb_song s;
    gb_error e;
    if (gb_song_read(argv[1], &s, &e) != GB_OK) { /* e.msg says what is wrong (and where) */
        fprintf(stderr, "parts: %s: %s\n", argv[1], e.msg);
        return 1;
    }
    printf("%s: format %d, %zu parts, %.1f s\n", argv[1], s.format, s.n_parts,
           gb_song_seconds(&s, -1, s.end_tick));
    for (size_t i = 0; i < s.n_parts; i++) {
        const gb_part *p = &s.parts[i];
        uint64_t end = 0;
        for (size_t k = 0; k < p->n_notes; k++)
            if (p->notes[k].end > end) end = p->notes[k].end;
        printf("  part %zu: track %d, channel %d, %s, %zu notes, until %.1f s\n", i, p->track,
               p->channel + 1, gb_gm_name(p->program, p->is_drum), p->n_notes,
               gb_song_seconds(&s, p->track, end));
    }
    gb_song_free(&s); /* the song owns its parts and notes */
    return 0;
}
