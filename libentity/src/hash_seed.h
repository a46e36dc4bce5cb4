/* The keyed hash of in-memory tables whose keys come from outside (hash_seed.c). */
#ifndef ENT_HASH_SEED_H
#define ENT_HASH_SEED_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-1-3 of n bytes at k under a 128-bit key drawn once per process and never shown: the
 * same bytes hash alike in every thread of the process (and in a forked child), differently in
 * another process. For look-ups only; never store, print or order by it. */
uint64_t ent__key_hash(const void *k, size_t n);

#endif
