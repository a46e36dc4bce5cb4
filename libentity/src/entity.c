/* The entity object: life cycle (new, free, dup), key, version and the changed bitset. Values,
 * validation, paths, field handles and defaults each have their own file (value.c,
 * entity_validate.c, entity_path.c, entity_field.c, entity_defaults.c); JSON lives in
 * entity_json.c, records in codec.c. */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "value_int.h"

/* ---- life cycle -------------------------------------------------------------------------- */

static size_t changed_words(const ent_type *t) { return (t->n_fields + 63) / 64; }

/* Block layout: the entity, its changed bitset, its slots, then `room` for in_block values. */
static size_t head_size(const ent_type *t)
{
    size_t n = sizeof(ent_entity) + changed_words(t) * sizeof(uint64_t) + t->n_fields * sizeof(ent_val);
    return (n + 15) & ~(size_t)15;
}

int ent__entity_new_room(ent_entity **out, const ent_type *t, size_t room, unsigned char **room_out)
{
    ent_entity *e;
    size_t words, head;
    if (!out) return ent__err(ENT_INVALID, "entity out is NULL");
    *out = NULL;
    if (!t) return ent__err(ENT_INVALID, "entity type is NULL");
    if (!t->schema || !t->schema->sealed)
        return ent__err(ENT_INVALID, "%s: the schema is not sealed (ent_schema_check)", t->name);
    /* One block: the entity, its changed bitset, its slots and the room (left as malloc gave it:
     * the decoder writes every byte it hands out). */
    words = changed_words(t);
    head = head_size(t);
    if (room > SIZE_MAX - head) return ent__err(ENT_NOMEM, "out of memory");
    e = malloc(head + room);
    if (!e) return ent__err(ENT_NOMEM, "out of memory");
    memset(e, 0, head);
    e->type = t;
    e->n_slots = t->n_fields;
    e->changed = (uint64_t *)(e + 1);
    e->slots = (ent_val *)(e->changed + words);
    if (room_out) *room_out = (unsigned char *)e + head;
    *out = e;
    return ENT_OK;
}

/* The arena room of a new entity: a guess of what setting each field once takes (a short string,
 * an array or free-form map of four short items), at most ROOM_MAX so that an entity of a wide
 * type does not start large. Larger needs take chunks (ent__entity_alloc_slow()). */
#define ROOM_MAX 768
static size_t spec_room(const ent_field *f, int depth)
{
    size_t n = 0;
    if (depth > 3) return 0;
    switch (ent__ev_kind(f)) {
    case EV_STR:
    case EV_BIN: return 32;
    case EV_ARR: return 4 * sizeof(ent_val) + (f->items ? 3 * spec_room(f->items, depth + 1) : 0);
    case EV_MAP:
        n = f->n_fields * sizeof(ent_val);
        for (size_t i = 0; i < f->n_fields && n < ROOM_MAX; i++) n += spec_room(f->fields[i], depth + 1);
        return n;
    case EV_OBJ: return 4 * sizeof(ent_kv) + 2 * (16 + 32);
    default: return 0;
    }
}

size_t ent__type_room(const ent_type *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_fields && n < ROOM_MAX; i++) n += spec_room(t->fields[i], 0);
    return n < ROOM_MAX ? (n + 15) & ~(size_t)15 : ROOM_MAX;
}

/* glibc serves blocks up to 1032 bytes from its per-thread cache, several times faster than
 * larger ones (callgrind: ~250 instructions more per malloc and free): a new entity's room stops
 * there unless the entity alone is larger. */
#define FAST_BLOCK 1024

int ent_entity_new(ent_entity **out, const ent_type *t)
{
    unsigned char *room = NULL;
    size_t n = 0;
    int rc;
    if (t && t->schema && t->schema->sealed) {
        size_t head = head_size(t);
        n = t->room;
        if (head < FAST_BLOCK && n > FAST_BLOCK - head) n = FAST_BLOCK - head;
    }
    if ((rc = ent__entity_new_room(out, t, n, &room))) return rc;
    (*out)->arena = room;
    (*out)->arena_left = n;
    return ENT_OK;
}

/* More block memory: a list of chunks hung on the entity, freed with it. The header keeps the
 * data 16-byte aligned. */
typedef union chunk {
    union chunk *next;
    max_align_t align_;
} chunk;

void *ent__entity_chunk(ent_entity *e, size_t n)
{
    chunk *c;
    if (n > SIZE_MAX - sizeof *c) return NULL;
    c = malloc(sizeof *c + n);
    if (!c) return NULL;
    c->next = e->chunks;
    e->chunks = c;
    return c + 1;
}

void *ent__entity_alloc_slow(ent_entity *e, size_t n)
{
    size_t size;
    unsigned char *p;
    if (n > ENT__ARENA_ITEM_MAX || e->arena_taken >= ENT__ARENA_CAP) return NULL;
    /* chunks double (1 KiB, 2 KiB, ...), so an entity that grows takes few of them */
    size = e->arena_taken ? e->arena_taken : 1024;
    if (size > ENT__ARENA_CAP - e->arena_taken) size = ENT__ARENA_CAP - e->arena_taken;
    if (size < n) size = n;
    if (!(p = ent__entity_chunk(e, size))) return NULL;
    e->arena_taken += size;
    e->arena = p + n;
    e->arena_left = size - n;
    return p;
}

void ent_entity_free(ent_entity *e)
{
    size_t i;
    chunk *c;
    if (!e) return;
    for (i = 0; i < e->n_slots; i++)
        if (ent__val_holds_memory(&e->slots[i])) ent__val_clear(&e->slots[i]);
    while ((c = e->chunks)) {
        e->chunks = c->next;
        free(c);
    }
    free(e->key_str);
    free(e);
}

int ent_entity_dup(ent_entity **out, const ent_entity *e)
{
    ent_entity *d;
    size_t i;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_entity_dup: out is NULL");
    *out = NULL;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = ent__entity_new_bare(&d, e->type))) return rc;
    d->version = e->version;
    d->key_kind = e->key_kind;
    d->key_id = e->key_id;
    if (e->key_str) {
        d->key_str = malloc(e->key_len + 1);
        if (!d->key_str) {
            rc = ent__err(ENT_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(d->key_str, e->key_str, e->key_len + 1);
        d->key_len = e->key_len;
    }
    memcpy(d->changed, e->changed, changed_words(e->type) * sizeof(uint64_t));
    for (i = 0; i < e->type->n_fields; i++)
        if ((rc = ent__val_copy(&d->slots[i], &e->slots[i]))) goto fail;
    *out = d;
    return ENT_OK;
fail:
    ent_entity_free(d);
    return rc;
}

const ent_type *ent_entity_type(const ent_entity *e) { return e ? e->type : NULL; }
uint64_t ent_entity_version(const ent_entity *e) { return e ? e->version : 0; }

ent_key ent_key_str(const char *s)
{
    ent_key k = {ENT_KEY_STRING, 0, s, s ? strlen(s) : 0};
    return k;
}

ent_key ent_entity_key(const ent_entity *e)
{
    ent_key k = {ENT_KEY_NONE, 0, NULL, 0};
    if (!e) return k;
    k.kind = e->key_kind;
    k.id = e->key_id;
    k.str = e->key_str;
    k.len = e->key_len;
    return k;
}

int ent_entity_set_key(ent_entity *e, const ent_key *key)
{
    const ent_type *t;
    char *s;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL"); /* as every other setter says */
    t = e->type;
    if (!key) return ent__err(ENT_INVALID, "%s: key is NULL", t->name);
    if (key->kind != t->key)
        return ent__err(ENT_INVALID, "%s: key kind does not match the type's (%s keys)", t->name,
                        t->key == ENT_KEY_AUTO ? "auto" : "string");
    if (key->kind == ENT_KEY_AUTO) {
        if (key->id == 0) return ent__err(ENT_INVALID, "%s: key id 0 is not valid (ids start at 1)", t->name);
        free(e->key_str);
        e->key_str = NULL;
        e->key_len = 0;
        e->key_id = key->id;
        e->key_kind = ENT_KEY_AUTO;
        return ENT_OK;
    }
    if (!key->str) return ent__err(ENT_INVALID, "%s: string key is NULL", t->name);
    if (key->len == 0 || key->len > ENT_KEY_STRING_MAX)
        return ent__err(ENT_INVALID, "%s: string key must be 1 to %d bytes, got %zu", t->name,
                        ENT_KEY_STRING_MAX, key->str ? key->len : 0);
    if (!ent__utf8_ok(key->str, key->len))
        return ent__err(ENT_INVALID, "%s: string key is not valid UTF-8", t->name);
    s = malloc(key->len + 1);
    if (!s) return ent__err(ENT_NOMEM, "out of memory");
    memcpy(s, key->str, key->len);
    s[key->len] = '\0';
    free(e->key_str);
    e->key_str = s;
    e->key_len = key->len;
    e->key_id = 0;
    e->key_kind = ENT_KEY_STRING;
    return ENT_OK;
}

/* ---- changes ----------------------------------------------------------------------------- */

size_t ent_entity_changed_count(const ent_entity *e)
{
    size_t n = 0;
    if (!e) return 0;
    for (size_t i = 0; i < changed_words(e->type); i++)
        for (uint64_t w = e->changed[i]; w; w &= w - 1) n++;
    return n;
}

void ent_entity_clear_changed(ent_entity *e)
{
    if (e) memset(e->changed, 0, changed_words(e->type) * sizeof(uint64_t));
}

int ent_entity_set_version(ent_entity *e, uint64_t version)
{
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if (version == 0) return ent__err(ENT_INVALID, "%s: versions start at 1", e->type->name);
    if (version == UINT64_MAX) /* ENT_VERSION_ANY: a write's expect with it would mean "any version" */
        return ent__err(ENT_INVALID, "%s: version %" PRIu64 " is ENT_VERSION_ANY, not a version", e->type->name, version);
    e->version = version;
    return ENT_OK;
}
