/* midi_read.c - the Standard MIDI File reader: bytes in memory -> gb_midi (tracks of events).
 *
 * Every read goes through a bounds check against the end of its chunk, VLQs stop at 4 bytes,
 * and memory grows with the events actually found (never with a count the file declares), so
 * hostile input gets an error with the byte offset and nothing worse. Tolerances, as in mido and
 * FluidSynth: running status survives meta and sysex events, unknown chunks are skipped, bytes
 * after a track's End of Track are ignored, a RIFF RMID wrapper is unwrapped. */
#include "midi/midi.h"

#include <stdlib.h>
#include <string.h>

gb_status gb_vlq_read(const uint8_t *p, size_t len, size_t *pos, uint32_t *value) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (*pos >= len) return GB_ERR_FORMAT;
        uint8_t b = p[(*pos)++];
        v = (v << 7) | (b & 0x7Fu);
        if (!(b & 0x80)) {
            *value = v;
            return GB_OK;
        }
    }
    return GB_ERR_FORMAT; /* a fifth byte would be needed */
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* A chunk id fit to print: non-printable bytes become '?'. */
static const char *chunk_id(const uint8_t *p, char out[5]) {
    for (int i = 0; i < 4; i++) out[i] = p[i] >= 0x20 && p[i] < 0x7F ? (char)p[i] : '?';
    out[4] = 0;
    return out;
}

/* Events of all tracks go into one array while reading (one allocation that grows), and each
 * track's pointer is fixed up at the end. */
typedef struct {
    gb_midi_event *ev;
    size_t n, cap;
} event_vec;

static gb_status read_track(const uint8_t *p, size_t start, size_t end, event_vec *v,
                            gb_error *err) {
    size_t pos = start;
    uint64_t tick = 0;
    uint8_t running = 0;
    while (pos < end) {
        uint32_t delta;
        size_t at = pos;
        if (gb_vlq_read(p, end, &pos, &delta) != GB_OK)
            return gb_fail(err, GB_ERR_FORMAT, (int64_t)at,
                           pos >= end ? "truncated delta time at the end of the track"
                                      : "delta time longer than 4 bytes");
        tick += delta;
        if (pos >= end)
            return gb_fail(err, GB_ERR_FORMAT, (int64_t)pos, "track ends after a delta time");
        if (gb_grow((void **)&v->ev, &v->cap, v->n + 1, sizeof *v->ev) != GB_OK)
            return gb_fail(err, GB_ERR_NOMEM, (int64_t)pos, "out of memory");
        gb_midi_event *e = &v->ev[v->n];
        memset(e, 0, sizeof *e);
        e->tick = tick;
        e->offset = (uint32_t)pos;
        uint8_t b = p[pos];
        if (b == 0xFF || b == 0xF0 || b == 0xF7) {
            pos++;
            e->status = b;
            if (b == 0xFF) {
                if (pos >= end)
                    return gb_fail(err, GB_ERR_FORMAT, (int64_t)pos, "truncated meta event");
                e->meta = p[pos++];
            }
            uint32_t n;
            size_t lat = pos;
            if (gb_vlq_read(p, end, &pos, &n) != GB_OK)
                return gb_fail(err, GB_ERR_FORMAT, (int64_t)lat, "bad %s length",
                               b == 0xFF ? "meta event" : "sysex");
            if (n > end - pos)
                return gb_fail(err, GB_ERR_FORMAT, (int64_t)lat,
                               "%s length %u runs past the end of the track (%zu bytes left)",
                               b == 0xFF ? "meta event" : "sysex", n, end - pos);
            e->len = n;
            e->data = p + pos;
            pos += n;
            v->n++;
            if (b == 0xFF && e->meta == GB_META_END_OF_TRACK) return GB_OK;
            continue;
        }
        if (b >= 0xF0)
            return gb_fail(err, GB_ERR_FORMAT, (int64_t)pos,
                           "status byte 0x%02X is not allowed in a MIDI file", b);
        if (b & 0x80) {
            running = b;
            pos++;
        } else if (!running) {
            return gb_fail(err, GB_ERR_FORMAT, (int64_t)pos,
                           "data byte 0x%02X where a status byte is needed", b);
        }
        e->status = running;
        int nd = (running & 0xF0) == 0xC0 || (running & 0xF0) == 0xD0 ? 1 : 2;
        if ((size_t)nd > end - pos)
            return gb_fail(err, GB_ERR_FORMAT, (int64_t)pos, "truncated channel message");
        for (int i = 0; i < nd; i++)
            if (p[pos + i] & 0x80)
                return gb_fail(err, GB_ERR_FORMAT, (int64_t)(pos + i),
                               "status byte 0x%02X where a data byte is needed", p[pos + i]);
        e->d1 = p[pos];
        e->d2 = nd == 2 ? p[pos + 1] : 0;
        pos += (size_t)nd;
        v->n++;
    }
    return GB_OK; /* no End of Track: tolerated, the track ends at its last event */
}

/* A RIFF RMID file wraps an SMF in its "data" chunk; returns the SMF's start or 0. */
static size_t rmid_offset(const uint8_t *p, size_t len, size_t *smf_len) {
    if (len < 12 || memcmp(p, "RIFF", 4) || memcmp(p + 8, "RMID", 4)) return 0;
    size_t pos = 12;
    while (len - pos >= 8) {
        uint32_t n = (uint32_t)p[pos + 4] | (uint32_t)p[pos + 5] << 8 |
                     (uint32_t)p[pos + 6] << 16 | (uint32_t)p[pos + 7] << 24;
        if (!memcmp(p + pos, "data", 4)) {
            *smf_len = n < len - pos - 8 ? n : len - pos - 8;
            return pos + 8;
        }
        if ((uint64_t)n + (n & 1) > len - pos - 8) break; /* chunks are padded to even size */
        pos += 8 + (size_t)n + (n & 1);
    }
    return 0;
}

static gb_status parse(gb_midi *m, gb_error *err) {
    const uint8_t *p = m->bytes;
    size_t len = m->n_bytes, pos = 0, smf_len;
    size_t r = rmid_offset(p, len, &smf_len);
    if (r) {
        pos = r;
        len = r + smf_len;
    }
    if (len == 0) return gb_fail(err, GB_ERR_FORMAT, 0, "empty file");
    if (len - pos < 14 || memcmp(p + pos, "MThd", 4))
        return gb_fail(err, GB_ERR_FORMAT, (int64_t)pos,
                       "not a MIDI file (no MThd header chunk at the start)");
    uint32_t hlen = be32(p + pos + 4);
    if (hlen < 6 || hlen > len - pos - 8)
        return gb_fail(err, GB_ERR_FORMAT, (int64_t)pos + 4, "bad header chunk length %u",
                       hlen);
    m->format = be16(p + pos + 8);
    m->declared_tracks = be16(p + pos + 10);
    uint16_t div = be16(p + pos + 12);
    if (m->format > 2)
        return gb_fail(err, GB_ERR_FORMAT, (int64_t)pos + 8, "unknown MIDI file format %d",
                       m->format);
    if (div & 0x8000) {
        int fps = -(int)(int8_t)(div >> 8);
        if (fps != 24 && fps != 25 && fps != 29 && fps != 30)
            return gb_fail(err, GB_ERR_FORMAT, (int64_t)pos + 12,
                           "SMPTE time division with %d frames per second", fps);
        m->smpte_fps = fps;
        m->smpte_tpf = div & 0xFF;
        if (!m->smpte_tpf)
            return gb_fail(err, GB_ERR_FORMAT, (int64_t)pos + 13, "SMPTE division of 0 ticks");
    } else {
        m->division = div;
        if (!div) return gb_fail(err, GB_ERR_FORMAT, (int64_t)pos + 12, "time division of 0");
    }
    pos += 8 + hlen;

    event_vec v = {0};
    size_t *starts = NULL, cap = 0; /* per track: first event index, then offset */
    gb_status st = GB_OK;
    while (len - pos >= 8) {
        uint32_t n = be32(p + pos + 4);
        if (n > len - pos - 8) {
            char id[5];
            st = gb_fail(err, GB_ERR_FORMAT, (int64_t)pos + 4,
                         "chunk '%s' declares %u bytes but only %zu remain (truncated file?)",
                         chunk_id(p + pos, id), n, len - pos - 8);
            goto fail;
        }
        if (!memcmp(p + pos, "MTrk", 4)) {
            if (m->n_tracks >= GB_MIDI_MAX_TRACKS) {
                st = gb_fail(err, GB_ERR_LIMIT, (int64_t)pos, "more than %u tracks",
                             GB_MIDI_MAX_TRACKS);
                goto fail;
            }
            if (gb_grow((void **)&starts, &cap, 2 * (m->n_tracks + 1), sizeof *starts)) {
                st = gb_fail(err, GB_ERR_NOMEM, (int64_t)pos, "out of memory");
                goto fail;
            }
            starts[2 * m->n_tracks] = v.n;
            starts[2 * m->n_tracks + 1] = pos;
            if ((st = read_track(p, pos + 8, pos + 8 + n, &v, err)) != GB_OK) goto fail;
            m->n_tracks++;
        }
        pos += 8 + (size_t)n;
    }
    if (m->n_tracks < (size_t)m->declared_tracks) {
        st = gb_fail(err, GB_ERR_FORMAT, (int64_t)pos,
                     "the header declares %d tracks but the file holds %zu (truncated file?)",
                     m->declared_tracks, m->n_tracks);
        goto fail;
    }
    m->tracks = calloc(m->n_tracks ? m->n_tracks : 1, sizeof *m->tracks);
    if (!m->tracks) {
        st = gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
        goto fail;
    }
    for (size_t t = 0; t < m->n_tracks; t++) {
        size_t a = starts[2 * t], b = t + 1 < m->n_tracks ? starts[2 * t + 2] : v.n;
        m->tracks[t].events = v.ev ? v.ev + a : NULL;
        m->tracks[t].n_events = b - a;
        m->tracks[t].offset = (uint32_t)starts[2 * t + 1];
    }
    free(starts);
    return GB_OK; /* track 0's events pointer owns v.ev */
fail:
    free(starts);
    free(v.ev);
    return st;
}

gb_status gb_midi_parse(const uint8_t *bytes, size_t len, gb_midi *out, gb_error *err) {
    memset(out, 0, sizeof *out);
    if (len > GB_MIDI_MAX_BYTES)
        return gb_fail(err, GB_ERR_LIMIT, -1, "%zu bytes is larger than the limit of %u", len,
                       GB_MIDI_MAX_BYTES);
    out->bytes = malloc(len ? len : 1);
    if (!out->bytes) return gb_fail(err, GB_ERR_NOMEM, -1, "out of memory");
    if (len) memcpy(out->bytes, bytes, len);
    out->n_bytes = len;
    gb_status st = parse(out, err);
    if (st != GB_OK) {
        free(out->bytes);
        free(out->tracks);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void gb_midi_free(gb_midi *m) {
    if (m->n_tracks) free(m->tracks[0].events);
    free(m->tracks);
    free(m->bytes);
    memset(m, 0, sizeof *m);
}
