/* fuzz_midi.c - libFuzzer target for the MIDI reader: any bytes must parse or fail cleanly,
 * whatever parses must survive the time queries the CLI makes, and writing it back out must
 * give a file the reader reads. `make fuzz-run`. */
#include <stdlib.h>

#include "groovybee.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gb_song s;
    gb_error e;
    if (gb_song_parse(data, size, &s, &e) != GB_OK) return 0;
    double t = gb_song_seconds(&s, 0, s.end_tick);
    (void)gb_song_tick_at(&s, 0, t);
    gb_buf out = {0};
    if (gb_song_write(&s, &out, &e) == GB_OK) {
        gb_song back; /* what the writer writes, the reader must read */
        if (gb_song_parse(out.data, out.len, &back, &e) != GB_OK) abort();
        gb_song_free(&back);
    }
    gb_buf_free(&out);
    gb_song_free(&s);
    return 0;
}
