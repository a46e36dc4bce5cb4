/* Internal representation of entity values, shared by the value layer (value.c, entity*.c),
 * codec.c and the store. Declarations are grouped by the file that defines them. */
#ifndef ENT_VALUE_INT_H
#define ENT_VALUE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "entity/error.h"
#include "entity/value.h"
#include "hash_seed.h"
#include "schema_int.h"

/* Runtime kinds of a value. A REF holds EV_UINT or EV_STR after its target's key kind. */
enum {
    EV_UNSET = 0, /* no value (unset field, unset array item) */
    EV_NIL,       /* JSON null inside free-form maps */
    EV_BOOL,
    EV_INT,
    EV_UINT,
    EV_FLOAT,
    EV_STR,       /* NUL-terminated copy; n excludes the NUL */
    EV_BIN,
    EV_TS,        /* int64 ns */
    EV_ARR,       /* items */
    EV_MAP,       /* declared map: one slot per sub-field, by ent_field.pos */
    EV_OBJ        /* free-form map: key/value pairs in insertion order */
};

typedef struct ent_val ent_val;
typedef struct ent_kv ent_kv;

struct ent_val {
    uint8_t k; /* EV_* */
    /* 1: what the value points to (string bytes; the items of an array or declared map; a free-form
     * map's pairs and their keys) lies in its entity's block, where a decoded record puts it
     * (codec_read.c: one allocation per entity instead of one per value). Clearing the value then
     * frees none of it (its items still clear their own), and growing a container copies it out
     * first (ent__arr_insert, ent__obj_add). Such parts live until their entity is freed, so they
     * may move between the values of one entity (ent__val_adopt) but never into another
     * entity's: ent__val_copy() makes values that own what they point to. */
    uint8_t in_block;
    /* EV_OBJ only. ix: 0, or log2 of the size of the table of its keys that the pairs' vector
     * holds after its cap pairs (never in_block; value.c: ent__obj_find_ix). scans: setters' look-ups
     * in it while it had no table (ent__obj_will_set). Both fit in the padding before the union:
     * an ent_val stays 32 bytes. */
    uint8_t ix;
    uint8_t scans;
    union {
        int b;
        int64_t i; /* EV_INT, EV_TS */
        uint64_t u;
        double f;
        struct {
            char *p;
            size_t n;
        } s; /* EV_STR, EV_BIN */
        struct {
            ent_val *v;
            size_t n, cap;
        } a; /* EV_ARR */
        struct {
            ent_val *v;
            size_t n;
        } m; /* EV_MAP */
        struct {
            ent_kv *kv;
            size_t n, cap;
        } o; /* EV_OBJ */
    } u;
};

struct ent_kv {
    char *k; /* NUL-terminated */
    size_t klen;
    ent_val v;
};

struct ent_entity {
    const struct ent_type *type;
    uint64_t version;
    ent_key_kind key_kind; /* ENT_KEY_NONE until set */
    uint64_t key_id;
    char *key_str;         /* NUL-terminated copy */
    size_t key_len;
    uint64_t *changed;     /* bitset over top-level field positions */
    ent_val *slots;        /* one per top-level field, by ent_field.pos */
    void *chunks;          /* more block memory for in_block values (entity.c), freed with e */
    /* The setters' arena: block memory not handed out yet (the rest of the entity's own room or
     * of its last chunk). Setters put strings, array items, map slots and free-form pairs here
     * (in_block values) instead of one malloc each, so building an entity and freeing it cost one
     * allocation each way (callgrind, issue 14). arena_taken counts the chunks taken for it, which
     * bounds what values replaced many times can leave behind (ent__entity_alloc()). */
    unsigned char *arena;
    size_t arena_left;
    size_t arena_taken;
    /* type->n_fields, kept so that ent_entity_free() reads nothing of the type: an entity (an
     * event's data, one held in a log cursor's batch) freed after its store closed read the
     * freed schema. */
    size_t n_slots;
};

/* Copy n bytes, short ones without a call: most strings of an entity are under 32 bytes, and a
 * call to memcpy() for each cost more than the copy (callgrind, plain bench: ~20 copies per
 * create). Overlapping word moves cover every length from 4 to 32. */
static inline void ent__copy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (n > 32) {
        memcpy(d, s, n);
    } else if (n >= 16) {
        uint64_t a, b, c, x;
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        memcpy(&c, s + n - 16, 8);
        memcpy(&x, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + 8, &b, 8);
        memcpy(d + n - 16, &c, 8);
        memcpy(d + n - 8, &x, 8);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else {
        for (size_t i = 0; i < n; i++) d[i] = s[i];
    }
}

/* ---- value.c: the value tree ---------------------------------------------------------------- */

/* Whether clearing v frees anything: not for scalars, nor for a string in its entity's block
 * (then the caller can skip the call, as an entity's free does for most of a decoded one). */
static inline int ent__val_holds_memory(const ent_val *v)
{
    return v->k == EV_STR || v->k == EV_BIN ? !v->in_block : v->k >= EV_ARR;
}
/* Free what v owns and reset it to EV_UNSET. */
void ent__val_clear(ent_val *v);
/* Deep copy. Returns ENT_OK, ENT_NOMEM (dst left EV_UNSET). */
int ent__val_copy(ent_val *dst, const ent_val *src);
/* Deep equality (same kind and contents; floats compare bitwise except 0.0 == -0.0 is false;
 * free-form maps whatever the order of their keys, as JSON objects). */
int ent__val_equal(const ent_val *a, const ent_val *b);
/* Make dst equal to src, keeping in place every part of dst (a whole value, a map slot, an array
 * item) that already equals src's: pointers a caller borrowed into those parts stay valid. The
 * parts that differ are exchanged: src ends up holding dst's replaced parts; clear it after. */
void ent__val_adopt(ent_val *dst, ent_val *src);
/* Runtime kind a field spec holds (EV_*; refs after their target's key kind). */
uint8_t ent__ev_kind(const struct ent_field *f);
const char *ent__ev_name(uint8_t k);   /* "int", "string", ... for messages */
ent_kind ent__ev_to_kind(uint8_t k);   /* public kind of a runtime kind (EV_OBJ -> MAP) */
/* 1 if s[0..n) is strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
int ent__utf8_ok(const char *s, size_t n);
/* ent__utf8_ok() with the answer for short ASCII strings (most of an entity's) inline, without the
 * call: overlapping words cover 4 to 32 bytes. */
static inline int ent__utf8_ok_short(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    uint64_t acc = 0, a, b;
    if (n >= 8 && n <= 32) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        acc = a | b;
        if (n > 16) {
            memcpy(&a, s + 8, 8);
            memcpy(&b, s + n - 16, 8);
            acc |= a | b;
        }
    } else if (n >= 4 && n < 8) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        acc = x | y;
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++) acc |= s[i];
    } else {
        return ent__utf8_ok(str, n);
    }
    return !(acc & 0x8080808080808080ull) || ent__utf8_ok(str, n);
}
/* Make v a string or bytes value (kind EV_STR/EV_BIN) holding a NUL-terminated copy of p[0..n).
 * Returns ENT_OK, ENT_NOMEM (v untouched). */
int ent__val_set_str(ent_val *v, uint8_t kind, const void *p, size_t n);
/* Free-form map: append key k with an unset value; *out points at it (valid until the next add). */
int ent__obj_add(ent_val *o, const char *k, size_t klen, ent_val **out);
/* Pairs and table slots ent__obj_find() looked at on this thread in maps of ENT__OBJ_INDEX_MIN
 * pairs or more: what tests count to bound the work of many look-ups (a scan per set made setting
 * n keys one path at a time n^2/2). Smaller maps are not counted: a thread-local add per look-up
 * cost the setters' fast path more than the scan (callgrind). */
extern _Thread_local unsigned long ent__obj_compares;
/* A map of fewer pairs is scanned: a scan of a few short keys costs less than hashing one. */
#define ENT__OBJ_INDEX_MIN 32
ent_val *ent__obj_find_ix(const ent_val *o, const char *k, size_t klen);
/* Free-form map o: the value of key k[0..klen), or NULL. By o's table of keys when it has one
 * (ent__obj_will_set), else by a scan of its pairs, inline: most maps are a few pairs, and a
 * call per look-up costs more than their scan (the setters' fast path, issue 14). */
static inline __attribute__((always_inline)) ent_val *ent__obj_find(const ent_val *o, const char *k, size_t klen)
{
    size_t i, n = o->u.o.n;
    if (o->ix) return ent__obj_find_ix(o, k, klen);
    /* the first byte before memcmp(): most keys of a map differ there, and the call costs more */
    for (i = 0; i < n; i++)
        if (o->u.o.kv[i].klen == klen && (!klen || o->u.o.kv[i].k[0] == k[0]) && memcmp(o->u.o.kv[i].k, k, klen) == 0)
            break;
    if (n >= ENT__OBJ_INDEX_MIN) ent__obj_compares += i < n ? i + 1 : n;
    return i < n ? &o->u.o.kv[i].v : NULL;
}
/* Setters' look-ups that scan a larger map before it gets a table: one set in a large map (a
 * decoded one, or one made from JSON) keeps the cost of a scan, and a run of sets pays for the
 * table once (it copies an in_block map's keys out). */
#define ENT__OBJ_SCANS 4
void ent__obj_index(ent_val *o);
/* Call before a setter looks a key up in free-form map o (a call that goes on to change o, never a
 * read of a const entity): may give o its table of keys. Out of memory it stays without one. */
static inline void ent__obj_will_set(ent_val *o)
{
    if (!o->ix && o->u.o.n >= ENT__OBJ_INDEX_MIN && ++o->scans >= ENT__OBJ_SCANS) ent__obj_index(o);
}
/* Array: insert an unset item at `at` (<= n). */
int ent__arr_insert(ent_val *a, size_t at);
/* Make v an empty declared map of spec (one unset slot per sub-field). */
int ent__map_init(ent_val *v, const struct ent_field *spec);
/* The same (ent__val_set_str_in() is inline below), with what they allocate in e's arena
 * (in_block) when it has room, else as the calls above; v must be a value of e (never another
 * entity's: in_block memory lives as long as its entity). ent__val_set_str_in and
 * ent__map_init_in leave in_block set accordingly; the container calls keep a container's memory
 * all in the block or all its own (in_block says which), copying it out as ent__arr_insert() does
 * when the arena has no room. */
int ent__obj_add_in(ent_entity *e, ent_val *o, const char *k, size_t klen, ent_val **out);
/* Free-form map o: remove the pair whose value is pv (a value of o), freeing what o owns of it;
 * the pairs after it move down one. */
void ent__obj_remove(ent_val *o, ent_val *pv);
int ent__arr_insert_in(ent_entity *e, ent_val *a, size_t at);
int ent__map_init_in(ent_entity *e, ent_val *v, const struct ent_field *spec);
/* Name of what a spec expects, for "expected X" messages (spec NULL: "value"). */
const char *ent__spec_expects(const struct ent_field *f);

/* ---- the entity object (entity.c) and inline helpers on it ---------------------------------- */

/* A new empty entity of t (as ent_entity_new()) whose allocation holds `room` bytes more for
 * in_block values: *room_out points at them (16-byte aligned). */
int ent__entity_new_room(ent_entity **out, const struct ent_type *t, size_t room, unsigned char **room_out);
/* A new empty entity of t without arena room: for entities whose values come whole from
 * elsewhere (a copy, JSON, an event), which the setters' room would only make larger. */
static inline int ent__entity_new_bare(ent_entity **out, const struct ent_type *t)
{
    return ent__entity_new_room(out, t, 0, NULL);
}
/* n bytes (16-byte aligned, not zeroed) of block memory that lives as long as e: for the
 * in_block values of a decoder whose room ran out. NULL when out of memory. */
void *ent__entity_chunk(ent_entity *e, size_t n);

/* Values longer than this get their own allocation rather than arena memory: a replaced value's
 * arena bytes stay taken until the entity is freed, so they are kept small. */
#define ENT__ARENA_ITEM_MAX 1024
/* Chunks taken for the arena per entity; past this the setters allocate each value again. It
 * bounds the memory that values replaced many times (a field set in a loop) leave behind. */
#define ENT__ARENA_CAP ((size_t)16384)
void *ent__entity_alloc_slow(ent_entity *e, size_t n);
/* n bytes (8-byte aligned, not zeroed) of e's arena for an in_block value, NULL when n is larger
 * than ENT__ARENA_ITEM_MAX, the arena has reached ENT__ARENA_CAP or memory is out: the caller
 * then allocates the value on its own (in_block 0). */
static inline void *ent__entity_alloc(ent_entity *e, size_t n)
{
    unsigned char *p;
    n = (n + 7) & ~(size_t)7;
    if (e->arena_left < n) return ent__entity_alloc_slow(e, n);
    p = e->arena;
    e->arena += n;
    e->arena_left -= n;
    return p;
}
/* ent__val_set_str() in e's arena (inline: every string setter calls it). */
static inline int ent__val_set_str_in(ent_entity *e, ent_val *v, uint8_t kind, const void *p, size_t n)
{
    char *c = n < ENT__ARENA_ITEM_MAX ? (char *)ent__entity_alloc(e, n + 1) : NULL;
    if (!c) return ent__val_set_str(v, kind, p, n);
    ent__copy(c, p, n);
    c[n] = '\0';
    v->k = kind;
    v->in_block = 1;
    v->u.s.p = c;
    v->u.s.n = n;
    return ENT_OK;
}
/* ent__arr_insert_in() at the end of an array with room in its arena vector, inline; the rest
 * (a first vector, growth, owned vectors, inserts before the end) out of line. */
static inline int ent__arr_append_in(ent_entity *e, ent_val *a)
{
    if (a->in_block && a->u.a.n < a->u.a.cap) {
        a->u.a.v[a->u.a.n++] = (ent_val){0};
        return ENT_OK;
    }
    return ent__arr_insert_in(e, a, a->u.a.n);
}
/* ent__obj_add_in() with room in the map's arena vector and in the arena for the key, inline. */
static inline int ent__obj_add_in_quick(ent_entity *e, ent_val *o, const char *k, size_t klen, ent_val **out)
{
    char *key;
    if (o->in_block && o->u.o.n < o->u.o.cap && klen < ENT__ARENA_ITEM_MAX &&
        (key = (char *)ent__entity_alloc(e, klen + 1)) != NULL) {
        ent_kv *kv = &o->u.o.kv[o->u.o.n];
        ent__copy(key, k, klen);
        key[klen] = '\0';
        kv->k = key;
        kv->klen = klen;
        kv->v = (ent_val){0};
        o->u.o.n++;
        *out = &kv->v;
        return ENT_OK;
    }
    return ent__obj_add_in(e, o, k, klen, out);
}
/* Size of the arena room ent_entity_new() gives an entity of t (ent_schema_check() stores it in
 * t->room): about what setting each field once takes. */
size_t ent__type_room(const struct ent_type *t);

/* The slot of a top-level field of e's type. */
static inline ent_val *ent__slot(const ent_entity *e, const struct ent_field *f)
{
    return &e->slots[f->pos];
}
static inline void ent__mark_changed(ent_entity *e, size_t pos)
{
    e->changed[pos / 64] |= (uint64_t)1 << (pos % 64);
}
static inline int ent__is_changed(const ent_entity *e, size_t pos)
{
    return (int)((e->changed[pos / 64] >> (pos % 64)) & 1);
}

/* ---- entity_validate.c --------------------------------------------------------------------- */

/* Deepest nesting of maps and arrays inside one field value that ent_entity_validate() accepts.
 * msgpack-c's unpacker stops at 32 levels; a record and an event add a few around the value. */
#define ENT__MAX_DEPTH 24

/* Validate one value against its spec; on failure the message names `path`. */
int ent__val_validate(const struct ent_field *spec, const ent_val *v, const char *path);
/* Validate top-level field i of e as ent_entity_validate() does (which is this for each field). */
int ent__field_validate(const ent_entity *e, size_t i);

/* ---- entity_path.c ------------------------------------------------------------------------- */

/* Store *v (taken over, cleared on failure too) at path, marking its top-level field changed. */
int ent__path_put(ent_entity *e, const char *path, ent_val *v);
/* Spec of the value at path (NULL inside free-form values), as a setter would resolve it. */
int ent__path_spec(const struct ent_field **out, const ent_entity *e, const char *path);

/* ---- entity_defaults.c --------------------------------------------------------------------- */

/* Fill the unset sub-fields with a default inside the declared maps of v (and the map items of
 * arrays); *n counts the values filled. */
int ent__val_fill_defaults(const struct ent_field *spec, ent_val *v, size_t *n);
/* Defaults into every unset field of e, top level and nested. A field with a default is never
 * absent: records written before an evolution added it read with it. mark: flag the filled
 * top-level fields changed. */
int ent__entity_fill_defaults(ent_entity *e, int mark);

/* ---- entity_json.c ------------------------------------------------------------------------- */

/* Build a value of `spec` from JSON text (used for schema defaults; spec NULL: a free-form value).
 * JSON null gives EV_UNSET for a declared spec. On failure the message names what is wrong; the
 * caller prefixes the path. */
int ent__val_from_json_text(ent_val *out, const struct ent_field *spec, const char *json);
struct json_t;
/* Build a value of spec from the jansson value j, as ent__val_from_json_text() does (messages
 * name the place inside j, without a prefix). */
int ent__val_from_jsonv(ent_val *out, const struct ent_field *spec, struct json_t *j);
/* JSON's -0 where a float field takes it (jansson reads it as the integer 0; json_io.c): the
 * real -0.0 put in its place in *j, the value of spec (spec NULL: t's data object, or with t NULL
 * too a free-form value, left alone). *j may be replaced (the old reference released). nz: the
 * integers written -0 (ent__negz_find()); ent__json_negzero() finds them in text, the text *j was
 * parsed from with flags (a scan, and no more for a text without a bare -0). ENT_OK or ENT_NOMEM. */
struct ent__negz;
int ent__json_negzero_fix(struct json_t **j, const struct ent_field *spec, const struct ent_type *t, const struct ent__negz *nz);
int ent__json_negzero(struct json_t **j, const struct ent_field *spec, const struct ent_type *t, const char *text, size_t len,
                      size_t flags);
/* One value as a jansson value (spec NULL: free-form), as entity JSON prints it: a new
 * reference, NULL when out of memory. */
struct json_t *ent__val_json(const struct ent_field *spec, const ent_val *v);
/* One value as JSON text (spec NULL: free-form). out: the caller frees it with free(). */
int ent__val_to_json_text(char **out, const struct ent_field *spec, const ent_val *v, unsigned flags);

/* An entity's fields as a JSON object (entity_json.c), for event_json.c to print events without
 * printing and parsing the data again. A new reference; NULL when out of memory. */
struct json_t *ent__entity_data_json(const ent_entity *e);
/* The same object as compact text, written into b (json_write.h); removed_as_null: a field marked
 * changed and unset follows the others as null (an update's removed field, as events print it). */
struct ent__jbuf;
void ent__entity_data_write(struct ent__jbuf *b, const ent_entity *e, int removed_as_null);

/* The "kinds" annotation of e's free-form values whose kind their JSON does not say (bytes, uints
 * above 2^63-1, NaN and infinities; entity_kinds.c). ent__kinds_write: `,"kinds":{...}` into b,
 * nothing when no value needs it. ent__kinds_json: *out a new object, or NULL when none is needed;
 * returns ENT_OK, ENT_NOMEM (no message set). ent__kinds_apply: turn the strings the pointers of
 * kinds name back into those kinds; on failure (ENT_INVALID naming the pointer, ENT_NOMEM) e is
 * unchanged. */
void ent__kinds_write(struct ent__jbuf *b, const ent_entity *e);
int ent__kinds_json(struct json_t **out, const ent_entity *e);
int ent__kinds_apply(ent_entity *e, const struct json_t *kinds);
/* ent__kinds_apply() on e itself, for a caller that works on a copy of its own (a JSON Patch): a
 * copy per call made a patch of n operations with "kinds" cost n times the entity. On failure e
 * may be half changed. */
int ent__kinds_apply_in(ent_entity *e, const struct json_t *kinds);
/* RFC 6901 JSON Pointers (entity_kinds.c). ent__ptr_seg: the segment of ptr[0..n) that starts
 * at the '/' at *at, unescaped into seg (room for n + 1 bytes, NUL-terminated; it may hold NUL
 * itself), *at moved to the next '/' or n; its length, or -1 for a '~' not followed by 0 or 1.
 * ent__ptr_index: s[0..n) as an array index (digits, no leading zero); 0, or -1. */
long ent__ptr_seg(char *seg, const char *ptr, size_t n, size_t *at);
int ent__ptr_index(size_t *out, const char *s, size_t n);

#endif
