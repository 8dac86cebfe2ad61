/* key.h - the key of a passage by the Krumhansl-Schmuckler algorithm, and moving off-key notes
 * into it (generate --key-fix, the post-processing the report's conclusion asks for).
 *
 * The key is the one of the 24 (12 tonics, major or minor) whose Krumhansl-Kessler tone profile
 * correlates best (Pearson) with the passage's pitch-class durations (Krumhansl 1990, "Cognitive
 * Foundations of Musical Pitch", ch. 4). Its pitch classes: the major scale; for minor keys the
 * natural minor scale plus the raised seventh (harmonic minor's leading tone), which tonal
 * minor-key music uses at every cadence. */
#ifndef GB_GEN_KEY_H
#define GB_GEN_KEY_H

typedef struct {
    int tonic; /* pitch class 0..11, 0 = C */
    int minor; /* 0 major, 1 minor */
    double r;  /* its correlation with the durations, -1..1 (0 for a silent passage) */
} gb_key;

/* The best key for durations per pitch class (any non-negative weights). A silent passage
 * (all zero) gives C major with r = 0. */
gb_key gb_key_detect(const double dur[12]);
/* 1 when pitch (0..127) belongs to the key. */
int gb_key_has(gb_key k, int pitch);
/* The pitch itself when in key, else the nearest pitch of the key; between two at the same
 * distance, the one the key's profile weighs more (C# in C major goes to C, the tonic). */
int gb_key_fix(gb_key k, int pitch);
/* "C major", "F# minor". */
const char *gb_key_name(gb_key k, char buf[16]);

#endif
