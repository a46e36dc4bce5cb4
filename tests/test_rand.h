/* xorshift64* for the randomised tests: a fixed sequence from a fixed seed, so a failure repeats.
 * The state is the caller's (one per test file or per loop); it must not be 0. */
#ifndef ENT_TEST_RAND_H
#define ENT_TEST_RAND_H

#include <stdint.h>

static inline uint64_t test_rand_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

#endif
