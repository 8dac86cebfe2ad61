/* midi.h - internals shared by the MIDI reader and writer. */
#ifndef GB_MIDI_H
#define GB_MIDI_H

#include "core/core.h"

#define GB_VLQ_MAX 0x0FFFFFFFu /* the largest value a 4-byte variable-length quantity holds */

/* Reads a variable-length quantity at p[*pos], p[len) bounding it. At most 4 bytes: a fifth
 * continuation byte is GB_ERR_FORMAT. Advances *pos past it. */
gb_status gb_vlq_read(const uint8_t *p, size_t len, size_t *pos, uint32_t *value);
/* Writes v (<= GB_VLQ_MAX) as 1 to 4 bytes into out; returns the byte count. */
int gb_vlq_write(uint32_t v, uint8_t out[4]);

#endif
