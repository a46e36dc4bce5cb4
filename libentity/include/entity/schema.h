/* libentity — schema descriptors.
 *
 * A schema has a name, a version and entity types. A type has a key kind (auto ids or caller-given
 * strings) and fields. Every field has a stable numeric id; records are keyed by id, not name.
 *
 * A schema is built either from JSON (the format in schemas/README.md) or through the builder calls
 * below, then sealed with ent_schema_check(). A sealed schema is immutable and may be shared by any
 * number of threads; builder calls on it fail with ENT_INVALID.
 *
 * Handles returned by accessors (ent_type, ent_field), and the names they return, are borrowed from
 * their schema and valid until ent_schema_free() of that schema.
 */
#ifndef ENTITY_SCHEMA_H
#define ENTITY_SCHEMA_H

#include "common.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ent_schema ent_schema;
typedef struct ent_type ent_type;
typedef struct ent_field ent_field;

/* Value kinds of fields (and of values inside free-form maps). */
typedef enum ent_kind {
    ENT_KIND_NIL = 0, /* only inside free-form maps and arrays of them (JSON null) */
    ENT_KIND_BOOL = 1,
    ENT_KIND_INT,       /* int64 */
    ENT_KIND_UINT,      /* uint64 */
    ENT_KIND_FLOAT,     /* double */
    ENT_KIND_STRING,    /* UTF-8, validated */
    ENT_KIND_BYTES,
    ENT_KIND_TIMESTAMP, /* int64 ns since the epoch, UTC */
    ENT_KIND_ARRAY,     /* items of one spec */
    ENT_KIND_MAP,       /* declared sub-fields, or free-form when none are declared */
    ENT_KIND_REF        /* key of an entity of another type; top-level fields only */
} ent_kind;

typedef enum ent_key_kind {
    ENT_KEY_NONE = 0,
    ENT_KEY_AUTO = 1, /* uint64 ids assigned in increasing order, never reused */
    ENT_KEY_STRING = 2 /* given by the caller, 1 to 255 bytes of UTF-8 */
} ent_key_kind;

#define ENT_NAME_MAX 64      /* bytes in a type or field name */
#define ENT_FIELD_ID_MAX 65535
#define ENT_KEY_STRING_MAX 255

/* ---- loading and dumping ---------------------------------------------------------------- */

/* The largest schema file ent_schema_load_file() reads: a descriptor of thousands of types is a
 * few MiB, and a path to something else (/dev/zero, a log) is refused before it fills memory. */
#define ENT_SCHEMA_FILE_MAX ((size_t)64 << 20)

/* Load and check a schema from a JSON file.
 * out: on ENT_OK, a sealed schema; the caller frees it with ent_schema_free().
 * Returns ENT_OK, ENT_NOTFOUND (no such file), ENT_IO (file unreadable), ENT_SCHEMA (invalid JSON
 * with line and column, or an invalid descriptor: the message names the file, the JSON path and
 * what is wrong), ENT_INVALID (path NULL or empty; a file over ENT_SCHEMA_FILE_MAX bytes),
 * ENT_NOMEM. */
ENT_EXTERN(int) ent_schema_load_file(ent_schema **out, const char *path);

/* Same as ent_schema_load_file() on `len` bytes of JSON text; `origin` names the source in
 * messages (a file name, "<stdin>", "<store>"); may be NULL. json is only read during the call.
 * out: on ENT_OK, a sealed schema; the caller frees it with ent_schema_free(). */
ENT_EXTERN(int) ent_schema_load_json(ent_schema **out, const char *json, size_t len, const char *origin);

/* Render a sealed schema as JSON in the descriptor format (loading it gives an equal schema).
 * out: a NUL-terminated string; the caller frees it with free(). pretty: indent when non-zero.
 * Returns ENT_OK, ENT_INVALID (schema not sealed), ENT_NOMEM. */
ENT_EXTERN(int) ent_schema_to_json(char **out, const ent_schema *s, int pretty);

/* Compare a stored schema with a newer one.
 * Returns ENT_OK when `next` is a compatible evolution of `prev` (new types, new optional fields or
 * required fields with a default, new or dropped indexes, removed fields, relaxed limits), else
 * ENT_SCHEMA with a message naming the type, the field and the change (type changed, new required
 * field without default, id reused with another name or type, key kind changed, limit tightened,
 * type removed). Both schemas must be sealed (else ENT_INVALID, as for a NULL one). */
ENT_EXTERN(int) ent_schema_compare(const ent_schema *prev, const ent_schema *next);

/* ---- building --------------------------------------------------------------------------- */

/* A new, empty, unsealed schema. name: [a-z_][a-z0-9_]*, at most 64 bytes; version >= 1.
 * out: the caller frees it with ent_schema_free(). Returns ENT_OK, ENT_SCHEMA, ENT_NOMEM. */
ENT_EXTERN(int) ent_schema_new(ent_schema **out, const char *name, uint32_t version);

/* Free a schema and every handle borrowed from it. NULL does nothing. */
ENT_EXTERN(void) ent_schema_free(ent_schema *s);

/* Add an entity type. out (may be NULL): borrowed, valid until ent_schema_free().
 * Returns ENT_OK, ENT_SCHEMA (bad or duplicate name, bad key kind, schema sealed), ENT_NOMEM. */
ENT_EXTERN(int) ent_schema_add_type(ent_type **out, ent_schema *s, const char *name, ent_key_kind key);

/* Add a top-level field to a type. id: 1..65535, unique within the type.
 * out (may be NULL): borrowed. Returns ENT_OK, ENT_SCHEMA (bad or duplicate name or id, NIL kind),
 * ENT_NOMEM. */
ENT_EXTERN(int) ent_type_add_field(ent_field **out, ent_type *t, const char *name, unsigned id, ent_kind kind);

/* Declare a sub-field of a map field (which then is no longer free-form). Same rules as
 * ent_type_add_field(); a REF sub-field is refused (refs are top-level only). */
ENT_EXTERN(int) ent_field_add_field(ent_field **out, ent_field *map, const char *name, unsigned id,
                                    ent_kind kind);

/* Set the item spec of an array field (a field spec without name or id).
 * out (may be NULL): borrowed, the item spec, to which limits and sub-fields may be added.
 * Returns ENT_OK, ENT_SCHEMA (not an array, items already set, REF or NIL items). */
ENT_EXTERN(int) ent_field_set_items(ent_field **out, ent_field *array, ent_kind kind);

/* Options. Each returns ENT_OK or ENT_SCHEMA naming the field when the option does not apply to
 * the field's kind (e.g. an index on a map, max_length on an int) or the schema is sealed
 * (f NULL: ENT_INVALID). */
ENT_EXTERN(int) ent_field_set_required(ent_field *f, int on);
ENT_EXTERN(int) ent_field_set_unique(ent_field *f, int on);  /* top-level scalar fields and refs only */
ENT_EXTERN(int) ent_field_set_indexed(ent_field *f, int on); /* top-level scalar fields and refs only; a ref is always indexed (on 0: ENT_SCHEMA) */
ENT_EXTERN(int) ent_field_set_min_int(ent_field *f, int64_t v); /* int, uint, float, timestamp */
ENT_EXTERN(int) ent_field_set_max_int(ent_field *f, int64_t v);
ENT_EXTERN(int) ent_field_set_min_uint(ent_field *f, uint64_t v);
ENT_EXTERN(int) ent_field_set_max_uint(ent_field *f, uint64_t v);
ENT_EXTERN(int) ent_field_set_min_float(ent_field *f, double v);
ENT_EXTERN(int) ent_field_set_max_float(ent_field *f, double v); /* float bounds: finite (not NaN, not inf) */
ENT_EXTERN(int) ent_field_set_max_length(ent_field *f, uint64_t n); /* string/bytes bytes, array items; <= 2^63-1 */
ENT_EXTERN(int) ent_field_add_enum(ent_field *f, const char *value); /* string fields */
ENT_EXTERN(int) ent_field_set_ref(ent_field *f, const char *type_name); /* REF fields: the target type */
/* Default value as JSON text, read by the field's kind (as entity JSON: timestamps RFC 3339 or
 * integers, bytes base64). Checked against the field's limits by ent_schema_check(). */
ENT_EXTERN(int) ent_field_set_default_json(ent_field *f, const char *json);

/* Check the whole schema and seal it: refs resolve to types, defaults fit their fields (type,
 * min/max, enum, length), min <= max, arrays have items, every type has a key kind. Rules added
 * later for a schema that makes or evolves a store (maps and arrays nested at most 24 levels,
 * limits that admit a value, a uint max not below 0, no integer field's limit outside its kind's range,
 * as a uint's min -1, which restricts nothing) are checked by ent_store_open() instead:
 * a store made before them still opens with the schema it was made with.
 * Returns ENT_OK, ENT_SCHEMA (message names type, field path and rule), ENT_NOMEM. */
ENT_EXTERN(int) ent_schema_check(ent_schema *s);

/* ---- reading ---------------------------------------------------------------------------- */

/* A NULL schema, type or field gives NULL, 0 (counts, versions, ids, the is_/has_ flags),
 * ENT_KEY_NONE or ENT_KIND_NIL (no field has that kind); the calls that take nothing but the
 * handle (ent_type_name(), ent_field_kind(), ...) also set ent_errmsg(). */

ENT_EXTERN(const char *) ent_schema_name(const ent_schema *s);
ENT_EXTERN(uint32_t) ent_schema_version(const ent_schema *s);
ENT_EXTERN(size_t) ent_schema_type_count(const ent_schema *s);
ENT_EXTERN(const ent_type *) ent_schema_type_at(const ent_schema *s, size_t i); /* NULL if out of range */
ENT_EXTERN(const ent_type *) ent_schema_type(const ent_schema *s, const char *name); /* NULL if none */

ENT_EXTERN(const char *) ent_type_name(const ent_type *t);
ENT_EXTERN(ent_key_kind) ent_type_key(const ent_type *t);
ENT_EXTERN(const ent_schema *) ent_type_schema(const ent_type *t);
ENT_EXTERN(size_t) ent_type_field_count(const ent_type *t);
ENT_EXTERN(const ent_field *) ent_type_field_at(const ent_type *t, size_t i); /* declaration order */
ENT_EXTERN(const ent_field *) ent_type_field(const ent_type *t, const char *name); /* top level; NULL if none */
ENT_EXTERN(const ent_field *) ent_type_field_by_id(const ent_type *t, unsigned id);

ENT_EXTERN(const char *) ent_field_name(const ent_field *f); /* "" for an array's item spec */
ENT_EXTERN(unsigned) ent_field_id(const ent_field *f);       /* 0 for an array's item spec */
ENT_EXTERN(ent_kind) ent_field_kind(const ent_field *f);
ENT_EXTERN(int) ent_field_is_required(const ent_field *f);
ENT_EXTERN(int) ent_field_is_unique(const ent_field *f);
ENT_EXTERN(int) ent_field_is_indexed(const ent_field *f); /* non-unique index (refs are always indexed) */
ENT_EXTERN(int) ent_field_has_default(const ent_field *f);
ENT_EXTERN(const ent_field *) ent_field_items(const ent_field *array); /* NULL unless an array */
ENT_EXTERN(size_t) ent_field_field_count(const ent_field *map);       /* 0 for a free-form map */
ENT_EXTERN(const ent_field *) ent_field_field_at(const ent_field *map, size_t i);
ENT_EXTERN(const ent_field *) ent_field_field(const ent_field *map, const char *name);
ENT_EXTERN(const ent_type *) ent_field_ref_type(const ent_field *ref); /* sealed schemas; NULL otherwise */
ENT_EXTERN(const ent_field *) ent_field_parent(const ent_field *f);    /* NULL for a top-level field */
ENT_EXTERN(const ent_type *) ent_field_type(const ent_field *f);       /* the entity type it belongs to */
/* A string field's enum: its values in the schema's order (0 and NULL: any string, or i out of
 * range). A look-up of another value can find nothing: `entity find` and entity-http's ?value=
 * refuse one, naming these. */
ENT_EXTERN(size_t) ent_field_enum_count(const ent_field *f);
ENT_EXTERN(const char *) ent_field_enum_at(const ent_field *f, size_t i);
/* ENT_OK when value is one of f's enum values, or f has no enum; else ENT_INVALID, the message
 * naming the values ("order.status: \"Paid\" is not one of the field's values (new, paid)"), and
 * ENT_INVALID for f or value NULL. For look-ups: a range's bounds may lie between the values. */
ENT_EXTERN(int) ent_field_enum_check(const ent_field *f, const char *value);

/* "bool", "int", ..., "ref"; "nil" for ENT_KIND_NIL; NULL for an unknown kind. Static strings. */
ENT_EXTERN(const char *) ent_kind_name(ent_kind k);

#ifdef __cplusplus
}
#endif
#endif
