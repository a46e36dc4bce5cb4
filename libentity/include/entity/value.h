/* libentity — entity values.
 *
 * An ent_entity holds the fields of one entity of a type, its key and its version. Fields are set
 * and read by name path or, on the fast path, by a field handle resolved once with
 * ent_type_field(). Paths: "name", "dims.w" (declared map sub-field), "attrs.color" (free-form map
 * key, created on set), "tags[2]", "lines[0].qty". Setting "tags[N]" with N equal to the array's
 * length appends. A setter's path goes at most 24 maps and arrays deep (no record holds more):
 * a deeper one is ENT_INVALID ("nested deeper than 24 levels") and changes nothing.
 *
 * Setters check the value's kind against the field (ENT_INVALID on a mismatch, message naming
 * type and path) but not its limits: ent_entity_validate() checks required fields, ranges,
 * lengths, enums and UTF-8 as a whole, so an entity may pass through invalid states while built.
 * A REF field takes ent_entity_set_uint() when its target type has auto keys and
 * ent_entity_set_string() when it has string keys.
 *
 * The entity records which top-level fields were set or unset since it was created, decoded or
 * last cleared (ent_entity_changed()).
 *
 * An entity is not thread-safe; it belongs to one thread at a time. It borrows its type, which must
 * outlive it.
 */
#ifndef ENTITY_VALUE_H
#define ENTITY_VALUE_H

#include "common.h"

#include <stddef.h>
#include <stdint.h>

#include "schema.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ent_entity ent_entity;

/* A primary key: an auto id or a string (not NUL-terminated; borrowed by whoever holds it). */
typedef struct ent_key {
    ent_key_kind kind; /* ENT_KEY_NONE when absent */
    uint64_t id;       /* ENT_KEY_AUTO */
    const char *str;   /* ENT_KEY_STRING */
    size_t len;
} ent_key;

/* Inline, so compiled with the host's compiler and flags: nullptr in C++11 and later, where
 * clang++'s -Wzero-as-null-pointer-constant (-Weverything) calls NULL (__null) a zero. */
static inline ent_key ent_key_id(uint64_t id)
{
#if defined(__cplusplus) && __cplusplus >= 201103L
    ent_key k = {ENT_KEY_AUTO, id, nullptr, 0};
#else
    ent_key k = {ENT_KEY_AUTO, id, NULL, 0};
#endif
    return k;
}
ENT_EXTERN(ent_key) ent_key_str(const char *s); /* borrows s (NUL-terminated) */

/* ---- life cycle -------------------------------------------------------------------------- */

/* A new, empty entity of type t (version 0, no key, no field set, nothing changed).
 * out: the caller frees it with ent_entity_free(). Returns ENT_OK, ENT_INVALID (t NULL or schema not
 * sealed), ENT_NOMEM. */
ENT_EXTERN(int) ent_entity_new(ent_entity **out, const ent_type *t);

/* A deep copy (fields, key, version, changed set). out: the caller frees it with ent_entity_free().
 * Returns ENT_OK, ENT_INVALID, ENT_NOMEM. */
ENT_EXTERN(int) ent_entity_dup(ent_entity **out, const ent_entity *e);

/* NULL does nothing. It reads nothing of e's type, so it may come after the type's schema was
 * freed or its store closed (no other call on e may). */
ENT_EXTERN(void) ent_entity_free(ent_entity *e);

/* e's type, borrowed as e borrows it (e NULL: NULL). */
ENT_EXTERN(const ent_type *) ent_entity_type(const ent_entity *e);
ENT_EXTERN(uint64_t) ent_entity_version(const ent_entity *e); /* 0 until stored (and for NULL) */

/* The key; kind ENT_KEY_NONE when not set (or e NULL). str is borrowed, valid until the key changes or the
 * entity is freed. */
ENT_EXTERN(ent_key) ent_entity_key(const ent_entity *e);

/* Set the version an entity carries, for ent_restore() (dump/load, replay); the store sets it on
 * every other write. Returns ENT_OK, ENT_INVALID (0, or ENT_VERSION_ANY: UINT64_MAX is no version). */
ENT_EXTERN(int) ent_entity_set_version(ent_entity *e, uint64_t version);

/* Set the key (copied). Returns ENT_OK, ENT_INVALID (kind differs from the type's key kind, string
 * empty, longer than 255 bytes or not UTF-8, id 0), ENT_NOMEM. */
ENT_EXTERN(int) ent_entity_set_key(ent_entity *e, const ent_key *key);

/* ---- fields by path ---------------------------------------------------------------------- */

/* Setters copy the value. Returns ENT_OK, ENT_NOTFOUND (no such field, array index out of range),
 * ENT_INVALID (bad path, kind mismatch, a NULL value: v of set_string is never NULL, that of
 * set_stringn and set_bytes only with len 0, the empty value), ENT_NOMEM. */
ENT_EXTERN(int) ent_entity_set_bool(ent_entity *e, const char *path, int v);
ENT_EXTERN(int) ent_entity_set_int(ent_entity *e, const char *path, int64_t v);
ENT_EXTERN(int) ent_entity_set_uint(ent_entity *e, const char *path, uint64_t v);
ENT_EXTERN(int) ent_entity_set_float(ent_entity *e, const char *path, double v);
ENT_EXTERN(int) ent_entity_set_string(ent_entity *e, const char *path, const char *v); /* NUL-terminated */
ENT_EXTERN(int) ent_entity_set_stringn(ent_entity *e, const char *path, const char *v, size_t len);
ENT_EXTERN(int) ent_entity_set_bytes(ent_entity *e, const char *path, const void *v, size_t len);
ENT_EXTERN(int) ent_entity_set_timestamp(ent_entity *e, const char *path, int64_t ns);
/* Any value, maps and arrays included, given as entity JSON (see ent_entity_from_json()). */
ENT_EXTERN(int) ent_entity_set_json(ent_entity *e, const char *path, const char *json);

/* Remove a field, or a key of a free-form map with its value. An array item stays, unset, and must
 * be set again before the entity is stored: ent_entity_array_remove() removes one. Unsetting what
 * is not set is OK. */
ENT_EXTERN(int) ent_entity_unset(ent_entity *e, const char *path);

/* Getters. Returns ENT_OK, ENT_NOTFOUND (field unset or no such field/index), ENT_INVALID (bad path
 * or kind mismatch; out NULL, checked first; out_len may be NULL). A ref reads with get_uint or
 * get_string as it was set.
 * Strings and bytes are borrowed: valid until the field is next changed or the entity freed; a
 * string is NUL-terminated (len excludes the NUL). The write calls that take the entity
 * (ent_create(), ent_replace(), ent_update(), ent_upsert(), ent_restore()) change a value only
 * when they give it another one (a default filled in, another writer's change merged by an
 * update), whether they succeed or are refused: pointers borrowed from every value they leave
 * equal (a whole field, a map sub-field, an array item) stay valid. */
ENT_EXTERN(int) ent_entity_get_bool(int *out, const ent_entity *e, const char *path);
ENT_EXTERN(int) ent_entity_get_int(int64_t *out, const ent_entity *e, const char *path);
ENT_EXTERN(int) ent_entity_get_uint(uint64_t *out, const ent_entity *e, const char *path);
ENT_EXTERN(int) ent_entity_get_float(double *out, const ent_entity *e, const char *path);
ENT_EXTERN(int) ent_entity_get_string(const char **out, size_t *out_len, const ent_entity *e, const char *path);
ENT_EXTERN(int) ent_entity_get_bytes(const void **out, size_t *out_len, const ent_entity *e, const char *path);
ENT_EXTERN(int) ent_entity_get_timestamp(int64_t *out, const ent_entity *e, const char *path);
/* The value at path as JSON. out: the caller frees it with free(). */
ENT_EXTERN(int) ent_entity_get_json(char **out, const ent_entity *e, const char *path);

/* 1 if the field at path is set, 0 if not or if the path does not resolve. */
ENT_EXTERN(int) ent_entity_has(const ent_entity *e, const char *path);

/* Kind of the value at path (for free-form maps, the kind of what is stored).
 * Returns ENT_OK, ENT_NOTFOUND (unset, or no such field, as the getters), ENT_INVALID (bad path). */
ENT_EXTERN(int) ent_entity_kind(ent_kind *out, const ent_entity *e, const char *path);

/* ---- fields by handle (fast path) --------------------------------------------------------- */

/* f: a top-level field of e's type, or a sub-field of a declared map reached from one without
 * crossing an array. Same semantics and codes as the path calls; ENT_INVALID when f is not a field
 * of e's type. */
ENT_EXTERN(int) ent_entity_field_set_bool(ent_entity *e, const ent_field *f, int v);
ENT_EXTERN(int) ent_entity_field_set_int(ent_entity *e, const ent_field *f, int64_t v);
ENT_EXTERN(int) ent_entity_field_set_uint(ent_entity *e, const ent_field *f, uint64_t v);
ENT_EXTERN(int) ent_entity_field_set_float(ent_entity *e, const ent_field *f, double v);
ENT_EXTERN(int) ent_entity_field_set_string(ent_entity *e, const ent_field *f, const char *v, size_t len);
ENT_EXTERN(int) ent_entity_field_set_bytes(ent_entity *e, const ent_field *f, const void *v, size_t len);
ENT_EXTERN(int) ent_entity_field_set_timestamp(ent_entity *e, const ent_field *f, int64_t ns);
ENT_EXTERN(int) ent_entity_field_unset(ent_entity *e, const ent_field *f);
ENT_EXTERN(int) ent_entity_field_get_bool(int *out, const ent_entity *e, const ent_field *f);
ENT_EXTERN(int) ent_entity_field_get_int(int64_t *out, const ent_entity *e, const ent_field *f);
ENT_EXTERN(int) ent_entity_field_get_uint(uint64_t *out, const ent_entity *e, const ent_field *f);
ENT_EXTERN(int) ent_entity_field_get_float(double *out, const ent_entity *e, const ent_field *f);
ENT_EXTERN(int) ent_entity_field_get_string(const char **out, size_t *out_len, const ent_entity *e,
                                            const ent_field *f);
ENT_EXTERN(int) ent_entity_field_get_bytes(const void **out, size_t *out_len, const ent_entity *e,
                                           const ent_field *f);
ENT_EXTERN(int) ent_entity_field_get_timestamp(int64_t *out, const ent_entity *e, const ent_field *f);
ENT_EXTERN(int) ent_entity_field_has(const ent_entity *e, const ent_field *f);

/* ---- arrays ------------------------------------------------------------------------------ */

/* Number of items of the array at path (0 when unset). Returns ENT_OK, ENT_INVALID (not an array). */
ENT_EXTERN(int) ent_entity_array_len(size_t *out, const ent_entity *e, const char *path);
/* Insert an unset item at index `at` (0..len; len appends), to be set through "path[at]...".
 * An unset array becomes an empty one first. Returns ENT_OK, ENT_NOTFOUND (at > len), ENT_INVALID. */
ENT_EXTERN(int) ent_entity_array_insert(ent_entity *e, const char *path, size_t at);
/* Remove the item at index `at`. Returns ENT_OK, ENT_NOTFOUND (at >= len), ENT_INVALID. */
ENT_EXTERN(int) ent_entity_array_remove(ent_entity *e, const char *path, size_t at);

/* ---- changes, defaults, validation -------------------------------------------------------- */

/* 1 if top-level field f was set or unset since creation, decoding or ent_entity_clear_changed(). */
ENT_EXTERN(int) ent_entity_changed(const ent_entity *e, const ent_field *f);
/* Number of changed top-level fields. */
ENT_EXTERN(size_t) ent_entity_changed_count(const ent_entity *e);
ENT_EXTERN(void) ent_entity_clear_changed(ent_entity *e);

/* Set every unset field that has a default (top level and inside set declared maps) to it. */
ENT_EXTERN(int) ent_entity_apply_defaults(ent_entity *e);

/* Check the entity against its type. Returns ENT_OK or ENT_INVALID with one message naming the
 * type, the field path and the rule ("product.tags[3]: longer than max_length 32"): missing
 * required field, out of range, too long, not in enum, invalid UTF-8, unset array item. */
ENT_EXTERN(int) ent_entity_validate(const ent_entity *e);

/* ---- records ------------------------------------------------------------------------------ */

/* Encode fields and version as a msgpack record keyed by field id (the key is not included).
 * out: the caller frees it with free(). Returns ENT_OK, ENT_INVALID, ENT_NOMEM. */
ENT_EXTERN(int) ent_entity_encode(void **out, size_t *out_len, const ent_entity *e);

/* Decode a record of type t. Unknown field ids are skipped (fields removed from the schema).
 * out: the caller frees it with ent_entity_free(); nothing is marked changed.
 * Returns ENT_OK, ENT_CORRUPT (truncated, malformed, or a field of the wrong kind), ENT_INVALID
 * (t NULL; rec NULL with len > 0), ENT_NOMEM. */
ENT_EXTERN(int) ent_entity_decode(ent_entity **out, const ent_type *t, const void *rec, size_t len);

/* ---- JSON -------------------------------------------------------------------------------- */

/* JSON shapes. Data objects are keyed by field name. Timestamps are RFC 3339 UTC strings with
 * nanoseconds ("2026-11-25T10:00:00.000000001Z"; integers of ns are accepted on input), bytes are
 * base64, uint values above 2^63-1 are decimal strings (and read from decimal strings: JSON parsers,
 * jansson included, do not hold integers above 2^63-1). Floats are written as the shortest decimal
 * text that reads back to the same double (0.99, 0.30000000000000004, 100.0, 1e300, 5e-324, -0.0;
 * NaN and infinities as the strings "NaN", "Infinity", "-Infinity"), so JSON out and back in is
 * exact; the same holds for event JSON (log.h), schema JSON and the entity tool's output. Inside
 * a free-form map nothing in the data says a string was a number: such a uint, NaN or infinity is
 * written as that string, and bytes (set through the C API) as their base64. ENT_JSON_ENTITY (and
 * event JSON) then adds "kinds" beside "data": an object from RFC 6901 JSON Pointers into "data"
 * to "bytes", "uint" or "float", e.g. {"/attrs/blob":"bytes"}, absent when no value needs it;
 * ent_entity_apply_kinds() turns those strings back, so such a line reads back exactly. A
 * timestamp set in a free-form map is stored as its integer of ns (free-form values keep one form
 * per number), a non-negative int as a uint. JSON's -0 (negative zero) is read as a float field's
 * -0.0 wherever the field is (declared maps, arrays, merge and JSON Patches); for an int or uint
 * field it is 0, and in a free-form place (and a schema's "default") JSON's integer 0 (a uint 0):
 * write -0.0 there for the float. */
enum {
    ENT_JSON_PRETTY = 1, /* indent */
    ENT_JSON_ENTITY = 2  /* {"type":T,"key":K,"version":V,"data":{...}} instead of the data alone */
};

/* out: NUL-terminated JSON; the caller frees it with free(). flags: ENT_JSON_PRETTY and
 * ENT_JSON_ENTITY (another bit: ENT_INVALID). Returns ENT_OK, ENT_INVALID, ENT_NOMEM. */
ENT_EXTERN(int) ent_entity_to_json(char **out, const ent_entity *e, unsigned flags);

/* A new entity of type t from a JSON data object (unknown field names are refused).
 * out: the caller frees it with ent_entity_free(); every field present is marked changed.
 * Returns ENT_OK, ENT_INVALID (malformed JSON with line and column, unknown field, wrong kind:
 * the message names the path), ENT_NOMEM. */
ENT_EXTERN(int) ent_entity_from_json(ent_entity **out, const ent_type *t, const char *json, size_t len);

/* Turn the free-form values that the "kinds" object of an entity-shaped or event line names (JSON
 * text: {"/field/key":"bytes"|"uint"|"float",...}, see ENT_JSON_ENTITY) from the strings JSON
 * printed for them back into those kinds: read the line's "data" with ent_entity_from_json(), then
 * pass its "kinds" here. A field whose value it turns is marked changed (ent_entity_changed()), as
 * by a setter, so an update of an entity read from the store stores the kinds.
 * Returns ENT_OK, ENT_INVALID (malformed JSON; a pointer that names no value,
 * a declared field or no string; a string that is not of the kind; an unknown kind: the message
 * names the pointer), ENT_NOMEM; on failure e is unchanged. */
ENT_EXTERN(int) ent_entity_apply_kinds(ent_entity *e, const char *json, size_t len);

/* Apply an RFC 7396 merge patch to the data: null removes a field, objects merge recursively into
 * maps, anything else replaces. Returns as ent_entity_from_json(); on failure e is unchanged. */
ENT_EXTERN(int) ent_entity_patch_json(ent_entity *e, const char *json, size_t len);

/* Apply an RFC 6902 JSON Patch to the data: an array of operations ({"op":"add"|"remove"|
 * "replace"|"move"|"copy"|"test", "path": a JSON Pointer into the data, "value" or "from"}), in
 * order, all or nothing. What a merge patch cannot say: a null into a free-form map, an insert
 * at an array index ("/tags/1", "/tags/-" to append), the removal of one item. Values are read as
 * the place they go to expects (a declared field's null leaves it unset; a free-form null is a
 * null); an add or replace may carry "kinds", pointers relative to its value with the kinds of
 * ENT_JSON_ENTITY ({"": "bytes"}; each starts with '/' or is ""); move and copy keep a free-form
 * value as it is and take a declared one through its JSON, the copies of a patch copying at most
 * 16 times the size of the data and the patch together (a value copied into itself doubles each
 * time); test compares the JSON the data prints as, numbers by value.
 * Returns ENT_OK, ENT_INVALID (malformed JSON or operation, a pointer naming no field, a value of
 * the wrong kind), ENT_CONFLICT (a test that failed, a pointer through or to a value the data
 * does not hold), ENT_NOMEM; the message names the operation's index and pointer. On failure e is
 * unchanged. The result is validated by the write that stores it, as for every entity. */
ENT_EXTERN(int) ent_entity_json_patch(ent_entity *e, const char *json, size_t len);

/* The body of a write, as a front end (`entity put`/`patch`, entity-http's PUT/POST/PATCH) takes
 * it: either t's data alone ({"email":...}), or the entity's JSON as ENT_JSON_ENTITY writes it
 * ({"type","key","version","data","kinds"}, as `entity get` prints it and GET answers it), so that
 * an entity read, edited and written back keeps the kinds "kinds" names (a data-only body turned
 * them into strings) and the version it was read at. Which one a body is: the data when every
 * member names a declared field (a type with fields called "data" or "kinds" reads as it always
 * did), else the entity's JSON when it has "data" and its members are all of the five names;
 * anything else is read as data and fails with the data's own error. In the entity's JSON,
 * "type" (when present) must be t's name, "data" an object, "key" (when present) a key of t (an
 * id from 1 as a JSON integer, or a string of 1 to ENT_KEY_STRING_MAX bytes of UTF-8), and
 * "version" (when present) an integer from 1 or the decimal string that JSON holds above 2^63-1
 * (not ENT_VERSION_ANY). Messages start with t's name and name the member at fault; a front end
 * prefixes its own context (`entity put` prints "put: " before them). One body is refused as
 * ambiguous: the entity's whole JSON (type, key, version, data, maybe kinds) for a type whose
 * fields include type, key, version and data, which reads as data by the rule above but was
 * meant as the entity (neither reading is safe). These two calls are that one rule; keep front
 * ends on them rather than on copies of it. */

/* A new entity of type t from body (len bytes; see above), for a write that stores it whole (a
 * put, a create). The entity's JSON's "kinds" are applied (ent_entity_apply_kinds()), and its
 * "key" set on the entity (ent_entity_key(): kind ENT_KEY_NONE when the body gave none; a string
 * key is the entity's copy, valid until it is freed or its key set again); whether
 * that key is the one the write may take (a path's, --key's; none for a create) is the caller's
 * rule. out: on ENT_OK, the caller frees it with ent_entity_free(); NULL otherwise.
 * out_version (may be NULL): the body's "version", the version it was read at and so the write's
 * expected version, or 0 when it gave none (always 0 for data alone; 0 on failure).
 * Returns ENT_OK, ENT_INVALID (malformed JSON, the data's own errors, a "type" that is not t's, a
 * "data" that is no object, a "key" or "version" of the wrong type, a bad "kinds", the ambiguous
 * body: the message starts with t's name and names the member at fault; out or t NULL, body NULL),
 * ENT_NOMEM. body is only read during the call (it need not be NUL-terminated). */
ENT_EXTERN(int) ent_entity_from_body(ent_entity **out, uint64_t *out_version, const ent_type *t, const char *body, size_t len);

/* body (len bytes) applied to e as a patch: an array (by its first non-blank byte) as an RFC 6902
 * JSON Patch (ent_entity_json_patch()); an object as an RFC 7396 merge patch of the data
 * (ent_entity_patch_json()), or the entity's JSON (see above), whose "data" is then the merge
 * patch and whose "kinds" name values that patch sets. Two bodies of the entity's JSON are refused
 * besides those ent_entity_from_body() refuses: one whose "data" holds a null in a map (a value in
 * the entity's JSON, a removal in a merge patch; the message gives its JSON Pointer), and one
 * whose "kinds" names a value the patch does not set (it would turn a stored string into a kind
 * nobody wrote). A "key" must be e's own (ent_entity_key(e)): a patch names the entity it was
 * read from, and e is the one written. out_version (may be NULL): as for ent_entity_from_body().
 * Returns ENT_OK, ENT_INVALID (as ent_entity_from_body(), and the refusals above),
 * ENT_CONFLICT (a JSON Patch "test" that failed, or a pointer through a value e does not hold),
 * ENT_NOMEM. On failure e is unchanged (ENT_INVALID too for e or body NULL). body is only read
 * during the call. */
ENT_EXTERN(int) ent_entity_patch_body(uint64_t *out_version, ent_entity *e, const char *body, size_t len);

#ifdef __cplusplus
}
#endif
#endif
