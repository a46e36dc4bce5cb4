/* Internal layout of schemas, types and fields, shared by schema*.c, entity*.c, codec.c and the
 * store. Public code sees only the opaque handles of entity/schema.h. */
#ifndef ENT_SCHEMA_INT_H
#define ENT_SCHEMA_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "entity/schema.h"

struct ent_val;

/* A numeric limit as written (min/max); compared against values by the validator. */
typedef struct ent_limit {
    uint8_t set;  /* 0 none, else one of ENT_LIM_* */
    union {
        int64_t i;
        uint64_t u;
        double f;
    } v;
} ent_limit;
enum { ENT_LIM_INT = 1, ENT_LIM_UINT = 2, ENT_LIM_FLOAT = 3 };

/* Fields by name: one open-addressing table per type (its top-level fields) and per declared
 * map (its sub-fields), built by ent__names_build() when the schema is checked; empty (slot NULL)
 * before. A look-up takes a path step, (pointer, length), so the path walker looks names up in
 * place, and ent_type_field() whole names. The key covers the whole name: a hash of the first two
 * characters (the walker's table until 2026-12-04) gave a few hundred values, and a type of
 * thousands of fields with a common prefix probed most of them per look-up. */
typedef struct ent__name_slot {
    uint64_t key;  /* ent__step_key() of the name */
    uint32_t len;  /* its length */
    uint32_t at;   /* index in the field list + 1; 0 empty */
} ent__name_slot;
typedef struct ent__names {
    ent__name_slot *slot; /* 2^bits slots, at most half of them used */
    unsigned shift;       /* 64 - bits */
} ent__names;

/* A list's entries by a key (a type's name, a field's id, an enum value): open addressing over
 * indexes into the list, kept up to date as the builder adds (schema_index.c). */
typedef struct ent__itab {
    uint32_t *slot; /* 2^bits slots of index + 1 (0 empty), at most half used; NULL: list empty */
    unsigned bits;
} ent__itab;
typedef uint64_t (*ent__itab_hash)(const void *list, size_t i);
typedef int (*ent__itab_eq)(const void *list, size_t i, const void *key, size_t len);
/* Add list[n-1] (list[0..n-1) are in t). Returns ENT_OK, ENT_NOMEM (t unchanged). In two steps
 * where one addition goes into two tables: reserve (may fail, t still right for list[0..n-1)),
 * then put (cannot fail). */
int ent__itab_add(ent__itab *t, const void *list, size_t n, ent__itab_hash hash);
int ent__itab_reserve(ent__itab *t, const void *list, size_t n, ent__itab_hash hash);
void ent__itab_put(ent__itab *t, const void *list, size_t n, ent__itab_hash hash);
/* Index of the entry eq() to key whose hash is h; (size_t)-1 when none. */
size_t ent__itab_find(const ent__itab *t, uint64_t h, const void *list, const void *key, size_t len,
                      ent__itab_eq eq);
void ent__itab_free(ent__itab *t);
uint64_t ent__str_hash(const void *p, size_t len);

struct ent_field {
    char *name;           /* "" for an array's item spec */
    unsigned id;          /* 0 for an array's item spec */
    ent_kind kind;
    unsigned required : 1;
    unsigned unique : 1;
    unsigned indexed : 1; /* non-unique index; set on refs by ent_schema_check() */
    unsigned has_max_length : 1;
    unsigned defaults_below : 1; /* a sub-field or array item spec (at any depth) has a default */
    unsigned plain : 1;   /* no limits, enum or ref rules: a value needs only its kind checked
                           * (and UTF-8, for strings); set by ent_schema_check() */
    unsigned min_below_zero : 1; /* a uint's integer min below 0, which ent_schema_check() drops
                                  * (it bounds nothing): refused for a new store or an evolution */
    ent_limit min, max;
    uint64_t max_length;
    char **enums;         /* string enum values */
    size_t n_enums, cap_enums;
    ent__itab enum_ix;    /* the enum values (ent__enums_add()) */
    char *default_json;   /* as given (JSON text), NULL when none */
    struct ent_val *def;  /* parsed and checked by ent_schema_check() */
    struct ent_field *items;   /* ARRAY: item spec (parent = this array) */
    struct ent_field **fields; /* MAP: declared sub-fields in declaration order; NULL = free-form */
    size_t n_fields, cap_fields;
    ent__names names;          /* MAP: the sub-fields by name (ent__names_add(), as added) */
    ent__itab ids;             /* MAP: the sub-fields by id (ent__ids_add(), as added) */
    char *ref_name;            /* REF: target type name */
    const struct ent_type *ref_type; /* REF: resolved by ent_schema_check() */
    struct ent_field *parent;  /* enclosing map/array field; NULL at top level */
    struct ent_type *type;     /* entity type this field belongs to */
    size_t pos;                /* index in parent->fields / type->fields (slot number) */
    int index_no;              /* top level: index in type->indexes, or -1 */
    uint8_t ev;                /* runtime kind it holds, ent__ev_kind() (ent_schema_check()) */
};

struct ent_type {
    char *name;
    ent_key_kind key;
    struct ent_schema *schema;
    size_t pos;                 /* index in schema->types */
    struct ent_field **fields;  /* declaration order; an entity has one slot per field */
    size_t n_fields, cap_fields;
    /* Filled by ent_schema_check(): the fields that have an index (unique, indexed, refs), in
     * field order. */
    struct ent_field **indexes;
    size_t n_indexes;
    int has_defaults;           /* a field has a default, at any depth (ent_schema_check()) */
    size_t room;                /* arena bytes of a new entity (ent__type_room(), at check) */
    ent__names names;           /* top-level fields by name (ent__names_add(), as added) */
    ent__itab ids;              /* top-level fields by id (ent__ids_add(), as added) */
};

/* Key of the path step at s, which ends at '.', '[' or NUL; *len: its length. One pass measures
 * and keys: the walker needs both. Field names never hold '.' or '[' (ent__name_ok), so a whole
 * name keys the same way. Each byte is xored in after a rotation by 9 bits: up to
 * ENT__KEY_EXACT bytes (9 bits apart in 64) the key is the bytes themselves, so two steps of
 * that length with equal keys are equal and a look-up compares no characters (most field names
 * are that short: the walker's cost per path set stays where the two-character hash had it,
 * callgrind); longer, each byte lands 9 bits on from the one before, so bytes a lane apart do not
 * cancel as with 8. */
#define ENT__KEY_EXACT 7
static inline uint64_t ent__step_key(const char *s, size_t *len)
{
    uint64_t k = 0;
    size_t n = 0;
    for (;; n++) {
        unsigned char c = (unsigned char)s[n];
        /* lower-case letters and '_' (most of a name) sort after '[': one test for them */
        if (c <= '[' && (c == '\0' || c == '.' || c == '[')) break;
        k = ((k << 9) | (k >> 55)) ^ c;
    }
    *len = n;
    return k;
}

/* The field among `fields` (the list nt was built over) named by s[0..len), whose
 * ent__step_key() is k; NULL when none is (or nt is empty). */
static inline struct ent_field *ent__names_find(const ent__names *nt, struct ent_field *const *fields,
                                                const char *s, size_t len, uint64_t k)
{
    /* Fibonacci hashing: the multiply spreads every byte of the key over the top bits */
    size_t at = (size_t)((k * 0x9E3779B97F4A7C15u) >> nt->shift), mask;
    const ent__name_slot *sl;
    if (!nt->slot) return NULL;
    mask = ((size_t)1 << (64 - nt->shift)) - 1;
    for (; (sl = &nt->slot[at])->at != 0; at = (at + 1) & mask) {
        if (sl->key != k || sl->len != len) continue;
        if (len <= ENT__KEY_EXACT || memcmp(fields[sl->at - 1]->name, s, len) == 0) return fields[sl->at - 1];
    }
    return NULL;
}

/* Fill nt over fields[0..n) (freeing what it held). Returns ENT_OK, ENT_NOMEM. */
int ent__names_build(ent__names *nt, struct ent_field *const *fields, size_t n);
/* Add fields[n-1] to nt, which holds fields[0..n-1), as ent__itab_reserve() and _put(). */
int ent__names_reserve(ent__names *nt, struct ent_field *const *fields, size_t n);
void ent__names_put(ent__names *nt, struct ent_field *const *fields, size_t n);

/* The tables of schema_index.c over their lists; adds as ent__itab_add() (_reserve(), _put()). */
int ent__ids_reserve(ent__itab *t, struct ent_field *const *fields, size_t n);
void ent__ids_put(ent__itab *t, struct ent_field *const *fields, size_t n);
struct ent_field *ent__ids_find(const ent__itab *t, struct ent_field *const *fields, unsigned id);
int ent__types_add(ent__itab *t, struct ent_type *const *types, size_t n);
struct ent_type *ent__types_find(const ent__itab *t, struct ent_type *const *types, const char *name);
int ent__enums_add(ent__itab *t, char *const *values, size_t n);
/* 1 if v[0..len) (which may hold NUL) is one of values[] */
int ent__enums_has(const ent__itab *t, char *const *values, const char *v, size_t len);

struct ent_schema {
    char *name;
    uint32_t version;
    int sealed;
    int from_store;   /* read from a store's meta (or a copy of one): see ent__schema_check_new() */
    struct ent_type **types;
    size_t n_types, cap_types;
    ent__itab type_ix;  /* the types by name (ent__types_add(), as added) */
};

/* Dotted path of a field for messages: "product.dims.w", "order.lines[].qty". Writes into buf
 * (always NUL-terminated) and returns buf. */
const char *ent__field_path(const struct ent_field *f, char *buf, size_t size);

/* ENT_SCHEMA when `next` has a field (at any depth of declared maps) that `old`, an earlier
 * version than `cur`, had and `cur` lacks: a removed field added back. Its id is retired, not
 * free: records written before the removal still hold its old values and updates since dropped
 * them, so neither the store nor a replay of its log could give one answer. */
int ent__schema_check_readded(const ent_schema *old, const ent_schema *cur, const ent_schema *next);
/* 1 when every type and field of `old` (map sub-fields and array items too) is in `cur` under the
 * same name, id and kind: then, once ent_schema_compare(old, cur) passed, no schema that passes
 * ent_schema_compare(cur, next) fails ent_schema_compare(old, next) or ent__schema_check_readded(old,
 * cur, next) (each rule is transitive, and those two only fail on what old has and cur lacks). */
int ent__schema_subset(const ent_schema *old, const ent_schema *cur);
/* 1 when every field that `v` has and `target` lacks (the first such on each path), an earlier
 * version `u` has too, under the same id and name, and alike for every rule ent_schema_compare()
 * reads. Then, when both passed ent_schema_compare(x, target), a schema that passes
 * ent_schema_compare(target, next) and fails a history check against v (ent_schema_compare(v,
 * next), ent__schema_check_readded(v, target, next): both only fail on such fields) fails it
 * against u, which comes first. */
int ent__schema_retired_within(const ent_schema *v, const ent_schema *u, const ent_schema *target);

/* Most levels of maps and arrays a schema's specs nest (a top-level field is level 1), in the
 * builder, so in every schema, also one read from a store: the checks, comparisons, copies and
 * frees of a schema recurse once per level, and a host that built 100 000 levels crashed in
 * ent_schema_check() (a stack overflow; 2 000 levels, as much as JSON reaches, at 512 KiB of
 * stack). Far above what a store takes (ENT__MAX_DEPTH) and below a few hundred KiB of stack. */
#define ENT__SCHEMA_MAX_DEPTH 256
/* Deepest JSON a schema's text may nest (json_io.h): a field at level k sits 2k + 3 levels deep
 * ({"types":{T:{"fields":{F:...), with a default's value below it. Above every schema the levels
 * admit, and it bounds jansson's recursion (about 250 bytes of stack a level) before it starts. */
#define ENT__SCHEMA_JSON_MAX_DEPTH (2 * ENT__SCHEMA_MAX_DEPTH + 32)

/* Rules a schema meets before it makes or evolves a store, added after stores may have been made
 * without them, so a schema read from a store (from_store) is not held to them and such stores
 * still open: no map or array nested deeper than an entity can hold (ENT__MAX_DEPTH: a value
 * there was refused on every write, and a default there failed every create), no uint max below
 * 0 (it refused every value). Returns ENT_OK, ENT_SCHEMA naming the field. */
int ent__schema_check_new(const ent_schema *s);
/* ent_schema_check(); on ENT_SCHEMA, *bad is the field at fault (NULL when none is). */
int ent__schema_check_at(ent_schema *s, const struct ent_field **bad);

/* Names and ids compared by the schema's look-ups and duplicate checks (the builder's field, type
 * and enum checks, ent_schema_type(), enum validation, ent_schema_compare()), on this thread: a
 * count of work that tests read to bound it without a clock (a wide schema must load in time
 * linear in its size). Thread-local so that threads loading schemas do not race on it. */
extern _Thread_local unsigned long ent__schema_compares;

/* Name rule shared by types and fields: [a-z_][a-z0-9_]*, 1..64 bytes. */
int ent__name_ok(const char *name);

#endif
