/* The process's seed for the hashes of in-memory tables whose keys come from outside (the key
 * table of a free-form map: keys of a JSON body, of a record, of a host's paths). Unseeded, a
 * client that knows the hash can send a map whose keys all land in one slot and every look-up
 * then walks them all: n keys cost n^2/2 comparisons, as before these maps had a table. With a
 * random seed per process such keys must be found against this process, which it never shows:
 * the tables are never stored, printed or ordered by (a map's pairs keep their insertion order).
 * Not a keyed hash in the cryptographic sense (SipHash): it raises the cost of a crafted set from
 * a lookup in a table of known collisions to guessing the seed's bits. */
#include <stdint.h>

#include "store_int.h"
#include "value_int.h"

static uint64_t seed; /* atomic; 0: not drawn yet (a drawn 0 is made 1) */

uint64_t ent__hash_seed(void)
{
    uint64_t s = __atomic_load_n(&seed, __ATOMIC_ACQUIRE), mine = 0, expected = 0;
    uint8_t b[16];
    if (s) return s;
    ent__random_uuid(b);
    for (int i = 0; i < 8; i++) mine = mine << 8 | (uint64_t)(b[i] ^ b[i + 8]);
    if (!mine) mine = 1;
    /* Two threads may draw at once: one value wins and both use it, since a table built with one
     * seed must be searched with the same. */
    if (__atomic_compare_exchange_n(&seed, &expected, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return mine;
    return expected;
}
