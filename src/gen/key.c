/* key.c - Krumhansl-Schmuckler key finding and off-key correction (key.h). */
#include "gen/key.h"

#include <math.h>
#include <stdio.h>

/* Krumhansl & Kessler (1982) probe-tone ratings, from the tonic up. */
static const double PROFILE[2][12] = {
    {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88},
    {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17}};

/* Scale degrees of each mode as bit sets over semitones above the tonic. */
static const unsigned SCALE[2] = {
    1u << 0 | 1u << 2 | 1u << 4 | 1u << 5 | 1u << 7 | 1u << 9 | 1u << 11,          /* major */
    1u << 0 | 1u << 2 | 1u << 3 | 1u << 5 | 1u << 7 | 1u << 8 | 1u << 10 | 1u << 11}; /* minor */

static double pearson(const double *a, const double *b) {
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < 12; i++) ma += a[i], mb += b[i];
    ma /= 12, mb /= 12;
    for (int i = 0; i < 12; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

gb_key gb_key_detect(const double dur[12]) {
    gb_key best = {0, 0, 0};
    double bestr = -2;
    for (int mode = 0; mode < 2; mode++)
        for (int tonic = 0; tonic < 12; tonic++) {
            double rot[12]; /* the durations seen from this tonic */
            for (int i = 0; i < 12; i++) rot[i] = dur[(tonic + i) % 12];
            double r = pearson(rot, PROFILE[mode]);
            if (r > bestr) bestr = r, best = (gb_key){tonic, mode, r};
        }
    return best;
}

static int degree(gb_key k, int pitch) { return ((pitch - k.tonic) % 12 + 12) % 12; }

int gb_key_has(gb_key k, int pitch) { return (SCALE[k.minor] >> degree(k, pitch)) & 1; }

int gb_key_fix(gb_key k, int pitch) {
    if (gb_key_has(k, pitch)) return pitch;
    for (int d = 1; d < 12; d++) {
        int lo = pitch - d, hi = pitch + d;
        int lo_ok = lo >= 0 && gb_key_has(k, lo), hi_ok = hi <= 127 && gb_key_has(k, hi);
        if (lo_ok && hi_ok)
            return PROFILE[k.minor][degree(k, lo)] >= PROFILE[k.minor][degree(k, hi)] ? lo : hi;
        if (lo_ok) return lo;
        if (hi_ok) return hi;
    }
    return pitch; /* unreachable: every octave holds the scale */
}

const char *gb_key_name(gb_key k, char buf[16]) {
    static const char *names[12] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
    snprintf(buf, 16, "%s %s", names[k.tonic], k.minor ? "minor" : "major");
    return buf;
}
