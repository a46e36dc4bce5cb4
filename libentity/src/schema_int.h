/* Internal layout of schemas, types and fields, shared by schema*.c, entity*.c, codec.c and the
 * store. Public code sees only the opaque handles of entity/schema.h. */
#ifndef ENT_SCHEMA_INT_H
#define ENT_SCHEMA_INT_H

#include <stddef.h>
#include <stdint.h>

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
    ent_limit min, max;
    uint64_t max_length;
    char **enums;         /* string enum values */
    size_t n_enums;
    char *default_json;   /* as given (JSON text), NULL when none */
    struct ent_val *def;  /* parsed and checked by ent_schema_check() */
    struct ent_field *items;   /* ARRAY: item spec (parent = this array) */
    struct ent_field **fields; /* MAP: declared sub-fields in declaration order; NULL = free-form */
    size_t n_fields, cap_fields;
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
    /* Top-level fields by name for paths (ent__type_index_names(), at check): open addressing
     * over ent__name_hash(), slot = field index + 1, 0 empty; NULL until checked. */
    uint32_t *by_name;
    size_t by_name_mask;
    /* The same slots over ent__name_hash_full() (in by_name's allocation, same mask), for
     * ent_type_field(): two characters have a few hundred values, and a type with more fields
     * than that probed most of them per look-up (reading entity JSON of 3 000 fields: 25 ms). */
    uint32_t *by_full;
};

/* Hash of the name at s, which ends at '.', '[' or NUL (a path step): its first two characters,
 * which tell most field names of a type apart, so a look-up need not measure the step first. */
static inline uint32_t ent__name_hash(const char *s)
{
    unsigned c1 = s[0] && s[1] != '.' && s[1] != '[' ? (unsigned char)s[1] : 0;
    return (unsigned char)s[0] * 31u + c1;
}
/* Hash of a whole NUL-terminated name (FNV-1a). */
static inline uint32_t ent__name_hash_full(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}
/* Build t->by_name and t->by_full. Returns ENT_OK, ENT_NOMEM. */
int ent__type_index_names(struct ent_type *t);

struct ent_schema {
    char *name;
    uint32_t version;
    int sealed;
    struct ent_type **types;
    size_t n_types, cap_types;
};

/* Dotted path of a field for messages: "product.dims.w", "order.lines[].qty". Writes into buf
 * (always NUL-terminated) and returns buf. */
const char *ent__field_path(const struct ent_field *f, char *buf, size_t size);

/* ENT_SCHEMA when `next` has a field (at any depth of declared maps) that `old`, an earlier
 * version than `cur`, had and `cur` lacks: a removed field added back. Its id is retired, not
 * free: records written before the removal still hold its old values and updates since dropped
 * them, so neither the store nor a replay of its log could give one answer. */
int ent__schema_check_readded(const ent_schema *old, const ent_schema *cur, const ent_schema *next);

/* Name rule shared by types and fields: [a-z_][a-z0-9_]*, 1..64 bytes. */
int ent__name_ok(const char *name);

#endif
