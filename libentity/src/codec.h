/* Internal msgpack codec of records and field maps, and the growable byte buffer they write into.
 *
 * Record layout (the value stored under an entity's key):
 *     [version: uint, fields: {field_id: value, ...}]
 * Values by kind: bool -> bool; int, timestamp -> int; uint -> uint; float -> float64;
 * string -> str; bytes -> bin; array -> array of item values; declared map -> {sub_id: value};
 * free-form map -> {str: any} (nil, bool, int, uint, float, str, bin, array, map);
 * ref -> uint (auto-key target) or str (string-key target). Unset fields are absent.
 * Unknown ids are skipped on decode, so records outlive removed fields.
 */
#ifndef ENT_CODEC_H
#define ENT_CODEC_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "value_int.h"

typedef struct ent_buf {
    char *p;
    size_t n, cap;
} ent_buf;

/* Make room for `more` bytes after n. Returns ENT_OK, ENT_NOMEM. */
int ent__buf_reserve(ent_buf *b, size_t more);
int ent__buf_append(ent_buf *b, const void *p, size_t n);
void ent__buf_free(ent_buf *b); /* frees p; b reusable after */

/* A msgpack packer that appends to b (allocation failure is remembered in *b as cap == SIZE_MAX
 * and reported by ent__buf_ok()). */
void ent__packer_init(msgpack_packer *pk, ent_buf *b);
int ent__buf_ok(const ent_buf *b); /* ENT_OK or ENT_NOMEM */

/* A msgpack zone for one decode, and its return (cleared and kept for the thread's next decode).
 * ent__zone_take() returns NULL when out of memory. */
msgpack_zone *ent__zone_take(void);
void ent__zone_give(msgpack_zone *z);

/* Append the record of e (version and every set field) to b. fields_at (may be NULL): where in b
 * the map of fields starts, so a create event can repeat those bytes instead of packing them
 * again. Returns ENT_OK, ENT_NOMEM. */
int ent__record_encode(ent_buf *b, const ent_entity *e, size_t *fields_at);
/* ent_entity_validate(e), then the record of e at `version` appended to b as ent__record_encode()
 * writes it, in one walk over the values: the common values (scalars and strings without limits,
 * arrays of them, free-form maps of them) are checked as they are packed, the others by the
 * validator first. On ENT_INVALID (the validator's message) b holds part of a record.
 * Returns ENT_OK, ENT_INVALID, ENT_NOMEM. */
int ent__record_encode_valid(ent_buf *b, const ent_entity *e, uint64_t version, size_t *fields_at);
/* Decode a record of type t into a new entity (nothing changed, no key).
 * Returns ENT_OK, ENT_CORRUPT, ENT_NOMEM. */
int ent__record_decode(ent_entity **out, const struct ent_type *t, const void *p, size_t n);
/* Records ent__record_decode() was called for on this thread: a count of work that tests bound
 * without a clock (verify must decode each record a bounded number of times, not once per index
 * entry). Thread-local: no race between threads that decode. */
extern _Thread_local uint64_t ent__records_decoded;
/* The top-level field ids the last ent__record_decode() (or event decode, ent__event_decode())
 * on this thread skipped, as of no field of its type (the first ENT__RECORD_SKIPPED_MAX of them;
 * the count is of all): a removed field's, or damage, which verify tells apart by the schema's
 * history. */
#define ENT__RECORD_SKIPPED_MAX 4
extern _Thread_local uint64_t ent__record_skipped[ENT__RECORD_SKIPPED_MAX];
extern _Thread_local size_t ent__record_nskipped;
/* ent__record_decode() of a record read from the store: also ENT_CORRUPT for a version no stored
 * entity has (0, ENT_VERSION_ANY). */
int ent__record_stored(ent_entity **out, const struct ent_type *t, const void *p, size_t n);
/* ent__record_stored(), then the defaults of fields the record lacks: how the store reads a
 * record (a field with a default is never absent, also in records older than the field). */
int ent__record_read(ent_entity **out, const struct ent_type *t, const void *p, size_t n);
/* Read only the version of a record. Returns ENT_OK, ENT_CORRUPT. */
int ent__record_version(uint64_t *out, const void *p, size_t n);

/* Append a fields map {field_id: value} of e's top-level fields whose position bit is set in `mask`
 * (a bitset like ent_entity.changed; NULL = every set field) to b. An unset field in the mask is
 * packed as nil (a removal, as events record it). Returns ENT_OK, ENT_NOMEM (also when b failed
 * earlier, see mp_write.h), ENT_INVALID (a value the entity API cannot build). */
int ent__fields_pack(ent_buf *b, const ent_entity *e, const uint64_t *mask);
/* Apply a fields map (as packed above, given as a decoded msgpack object) to e: values set their
 * field, nil unsets it, unknown ids are skipped; each field touched is marked changed.
 * Returns ENT_OK, ENT_CORRUPT, ENT_NOMEM. */
int ent__fields_apply(ent_entity *e, const msgpack_object *map);

/* Pack / unpack one value of spec. Packing appends to b and reports only a bad value (ENT_INVALID):
 * out of memory is left in b for ent__buf_ok() (mp_write.h). */
int ent__val_pack(ent_buf *b, const struct ent_field *spec, const ent_val *v);
int ent__val_unpack(ent_val *out, const struct ent_field *spec, const msgpack_object *o);
/* 1 if the free-form map o repeats a key, 0 if not, -1 when out of memory. */
int ent__obj_dup_keys(const ent_val *o);

/* Structural check of msgpack bytes before msgpack_unpack(): exactly one well-formed object filling
 * [p, p+n), every length in bounds, every announced array/map item backed by at least one byte
 * (msgpack-c allocates announced items up front, so unchecked input can request ~100 GB).
 * Returns 0 or -1. */
int ent__mp_check(const void *p, size_t n);

#endif
