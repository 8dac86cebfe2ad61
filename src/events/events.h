/* events.h - the performance-event codec's small rules, shared by its encoder and decoder and
 * by code that edits token streams (transposition, time stretch). The public API (token layout,
 * gb_events_encode / gb_events_decode, the token files) is in groovybee.h; the format, with
 * note_seq's rules it follows, in docs/formats.md ("Performance events"). */
#ifndef GB_EVENTS_H
#define GB_EVENTS_H

#include "core/core.h"

/* Seconds at which quantising stops: a note beyond about 317 years is GB_ERR_LIMIT (a hostile
 * file's ticks can reach 2^64, which no double of steps holds exactly). */
#define GB_EV_MAX_SECONDS 1e10

/* The step of a time in seconds, as note_seq's quantize_to_step: int(seconds * 100 + 0.5), halves
 * up. The caller keeps seconds in [0, GB_EV_MAX_SECONDS]. */
static inline uint64_t gb_ev_step(double seconds) {
    return (uint64_t)(seconds * GB_EV_STEPS_PER_SECOND + 0.5);
}

/* Velocity 1..127 -> bin 1..32 (note_seq's velocity_to_bin with 32 bins: bins of
 * ceil(127 / 32) = 4 velocities, the last holding 125..127), and a bin -> the lowest velocity in
 * it (velocity_bin_to_velocity), so a decoded velocity is at most 3 below the encoded one. */
static inline int gb_ev_velocity_bin(int velocity) {
    return (velocity - 1) / GB_EV_BIN_SIZE + 1;
}
static inline int gb_ev_bin_velocity(int bin) {
    return 1 + (bin - 1) * GB_EV_BIN_SIZE;
}

/* Tokens from their values: pitch 0..127, steps 1..100, bin 1..32, program 0..127 (128: drums). */
static inline uint16_t gb_ev_note_on(int pitch) { return (uint16_t)(GB_EV_NOTE_ON + pitch); }
static inline uint16_t gb_ev_note_off(int pitch) { return (uint16_t)(GB_EV_NOTE_OFF + pitch); }
static inline uint16_t gb_ev_shift(int steps) { return (uint16_t)(GB_EV_TIME_SHIFT + steps - 1); }
static inline uint16_t gb_ev_velocity(int bin) { return (uint16_t)(GB_EV_VELOCITY + bin - 1); }
static inline uint16_t gb_ev_program(int program) { return (uint16_t)(GB_EV_PROGRAM + program); }

#endif
