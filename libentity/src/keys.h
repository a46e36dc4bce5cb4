/* Order-preserving key encodings: byte strings that sort (memcmp, then length) as their values.
 *   uint       8 bytes big-endian
 *   int, ts    8 bytes big-endian with the sign bit flipped
 *   float      IEEE bits, all flipped when negative, else the sign bit set (-0.0 is 0.0; every
 *              NaN is one NaN, above +inf)
 *   bool       1 byte, 0 or 1
 *   string,    0x00 then the bytes: the prefix keeps "" a non-empty key (backends refuse empty
 *   bytes      keys) without changing the order
 *   ref        the target's primary key encoding
 * Primary keys: auto ids as uint; string keys as their bytes (never empty).
 */
#ifndef ENT_KEYS_H
#define ENT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "entity/store.h"

void ent__enc_u64(uint8_t out[8], uint64_t v);
uint64_t ent__dec_u64(const uint8_t in[8]);
void ent__enc_i64(uint8_t out[8], int64_t v);
void ent__enc_f64(uint8_t out[8], double v);

/* Append the primary key encoding of key to b. Returns ENT_OK, ENT_INVALID, ENT_NOMEM. */
int ent__pk_encode(ent_buf *b, const ent_key *key);
/* Decode a primary key of a type with key kind kk; str borrows p. Returns ENT_OK, ENT_CORRUPT. */
int ent__pk_decode(ent_key *out, ent_key_kind kk, const void *p, size_t n);

/* Append the index key of a top-level indexed field's value. Returns ENT_OK, ENT_INVALID (kind does
 * not fit the field), ENT_NOMEM. */
int ent__ikey_from_val(ent_buf *b, const struct ent_field *f, const ent_val *v);
/* The same for a value a caller looks up or bounds a range with (ent_value). An integer given for
 * a float field that no double equals (2^53 + 1, 2^64 - 1) is keyed as the least double above it,
 * which bounds a range right ([x, ...) and [..., x) hold the same doubles as with x itself), and
 * *inexact is set: an exact look-up of it finds nothing. Returns as ent__ikey_from_val(). */
int ent__ikey_from_value(ent_buf *b, const struct ent_field *f, const ent_value *v, int *inexact);
/* 1 when ik (n bytes) is the index key ent__ikey_from_val() makes of v for f, else 0 (also when
 * v does not fit f). */
int ent__ikey_matches(const struct ent_field *f, const ent_val *v, const void *ik, size_t n);

/* At most max bytes of p (n bytes) in double quotes for a message, control characters (NUL too,
 * where the text used to end), '"' and '\\' escaped as in JSON, so that "a\u0000b" does not read
 * as "a"; cut short to fit size (at least 8: a smaller buf gets ""). Returns buf. */
const char *ent__quote(char *buf, size_t size, const char *p, size_t n, size_t max);
/* Printable form of a key for messages ("7", "\"sku-1\""), into buf. */
const char *ent__key_str(const ent_key *key, char *buf, size_t size);

#endif
