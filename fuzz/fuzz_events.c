/* fuzz_events.c - libFuzzer target for performance events: the token file reader and the
 * decoder. Input that starts like a .npy file goes through the token reader (gb_npy_parse_tokens)
 * and, when it parses, the decoder; any other input is read as little-endian uint16 tokens after
 * one byte of options (the tempo, the 5 s rule), raw values (so that the decoder's own range
 * check is reached) when the option byte is odd, else folded into the vocabulary (so that most
 * streams decode). Whatever decodes must:
 * - be written as MIDI that the reader reads back;
 * - encode again (as one ensemble stream), and that stream decode to as many notes, with no
 *   stray NOTE_OFF, open note or note of no duration: decoded notes sit on the 10 ms grid, so
 *   encoding them loses none.
 * build-fuzz/fuzz_events -max_total_time=N after `make fuzz`. */
#include <stdlib.h>
#include <string.h>

#include "groovybee.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint16_t *tokens, size_t n, const gb_events_opts *o) {
    gb_song s;
    gb_events_stats st;
    gb_error e;
    if (gb_events_decode(tokens, n, o, &s, &st, &e) != GB_OK) return;
    size_t notes = 0;
    for (size_t k = 0; k < s.n_parts; k++) notes += s.parts[k].n_notes;
    if (notes != st.notes) abort();

    gb_buf out = {0};
    gb_status ws = gb_song_write(&s, &out, &e);
    if (ws == GB_OK) {
        gb_song back;
        if (gb_song_parse(out.data, out.len, &back, &e) != GB_OK) abort();
        gb_song_free(&back);
    } else if (ws != GB_ERR_LIMIT) {
        abort(); /* the decoder made a song the writer calls invalid */
    }
    gb_buf_free(&out);

    gb_events_opts again = *o;
    again.ensemble = 1;
    gb_tokens t;
    if (gb_events_encode(&s, s.parts, s.n_parts, &again, &t, &e) != GB_OK) abort();
    if (!st.notes != !t.n) abort(); /* notes, and only notes, make tokens */
    if (t.n) {
        gb_song s2;
        gb_events_stats st2;
        if (gb_events_decode(t.v, t.n, &again, &s2, &st2, &e) != GB_OK) abort();
        if (st2.notes != st.notes || st2.stray_offs || st2.open_notes || st2.empty) abort();
        gb_song_free(&s2);
    }
    gb_tokens_free(&t);
    gb_song_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gb_events_opts o = {0};
    if (size >= 6 && !memcmp(data, "\x93NUMPY", 6)) {
        gb_tokens t;
        gb_error e;
        if (gb_npy_parse_tokens(data, size, &t, &e) == GB_OK) {
            check(t.v, t.n, &o);
            gb_tokens_free(&t);
        }
        return 0;
    }
    if (!size) return 0;
    uint8_t opt = data[0];
    o.bpm = 4 + (opt >> 2) * 16;                 /* 4 .. 1012 */
    o.open_note_s = (opt & 2) ? 0.01 : 0;        /* one step, or the default 5 s */
    o.restrike = size & 1;                       /* one key a pitch, or note_seq's stacking */
    size_t n = (size - 1) / 2;
    uint16_t *tokens = malloc((n ? n : 1) * sizeof *tokens);
    if (!tokens) return 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t v = (uint16_t)(data[1 + 2 * i] | data[2 + 2 * i] << 8);
        tokens[i] = (opt & 1) ? v : (uint16_t)(v % GB_EV_VOCAB_ENSEMBLE);
    }
    check(tokens, n, &o);
    free(tokens);
    return 0;
}
