/* The hash of in-memory tables whose keys come from outside (the key table of a free-form map:
 * keys of a JSON body, of a record, of a host's paths; the memory backend's tables of records and
 * unique index entries: keys and values a server's clients choose), keyed by a random key drawn once per
 * process. Unkeyed, a client that knows the hash sends a map whose keys all land in one slot, and
 * every look-up then walks them all: n keys cost n^2/2 comparisons, as before these maps had a
 * table. The key is never shown: the tables are never stored, printed or ordered by (a map's pairs
 * keep their insertion order), and a forked child keeps its parent's (its tables came along).
 *
 * SipHash-1-3 (Aumasson and Bernstein; the hash of Python's and Rust's tables), not a seed mixed
 * into a multiply-xorshift hash: such a hash (this file's first version) was keyed only in its
 * first state, and its last step carried a difference in the high bits of the final bytes to
 * bits no table looks at, so 7-byte keys differing in their last two bytes shared a slot in every
 * process whatever the seed (test_free_form_seed_independent_keys). Seeded MurmurHash and CityHash
 * fell to such differences the same way; SipHash is built so that finding keys that collide
 * without the key costs guessing its 128 bits. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "hash_seed.h"
#include "store_int.h"

static uint64_t key0, key1;
static int key_ready; /* atomic: 1 once key0 and key1 are drawn (a look-up skips pthread_once's call) */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* (pthread_once: a table built with one key must be searched with the same, by every thread) */
static void draw_key(void)
{
    uint8_t b[16];
    ent__random_uuid(b); /* 122 random bits: 6 of its bits are the UUID's version and variant */
    memcpy(&key0, b, 8);
    memcpy(&key1, b + 8, 8);
    __atomic_store_n(&key_ready, 1, __ATOMIC_RELEASE);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                     \
    do {                                                                                             \
        v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32);                                    \
        v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                                                       \
        v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                                                       \
        v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32);                                    \
    } while (0)

uint64_t ent__key_hash(const void *data, size_t n)
{
    const unsigned char *k = data;
    uint64_t v0, v1, v2, v3, m, b = (uint64_t)n << 56;
    if (!__atomic_load_n(&key_ready, __ATOMIC_ACQUIRE)) pthread_once(&key_once, draw_key);
    v0 = key0 ^ 0x736f6d6570736575u;
    v1 = key1 ^ 0x646f72616e646f6du;
    v2 = key0 ^ 0x6c7967656e657261u;
    v3 = key1 ^ 0x7465646279746573u;
    for (; n >= 8; k += 8, n -= 8) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(&m, k, 8); /* one load where the words are little-endian already */
#else
        m = (uint64_t)k[0] | (uint64_t)k[1] << 8 | (uint64_t)k[2] << 16 | (uint64_t)k[3] << 24 | (uint64_t)k[4] << 32 |
            (uint64_t)k[5] << 40 | (uint64_t)k[6] << 48 | (uint64_t)k[7] << 56;
#endif
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    while (n--) b |= (uint64_t)k[n] << (8 * n);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}
