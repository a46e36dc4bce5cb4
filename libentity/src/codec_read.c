/* Records decoded straight from their bytes into an entity, without msgpack-c's object tree.
 *
 * Why: a get used to walk the record three times (ent__mp_check, msgpack_unpack into a zone, then
 * the object tree into values); perf put those walks at about half of a get on the plain bench
 * (issue 14). Here one pass reads each item and builds its value. The bounds that ent__mp_check
 * gives msgpack-c hold here too: every length is checked against the bytes left, and an array or
 * map is only allocated for a count that the remaining bytes can back (one byte per item at
 * least), so a short record cannot ask for a large allocation. Nesting is bounded like msgpack-c's
 * unpacker (MAX_NEST), and the record must fill its bytes exactly. Errors are those of the
 * msgpack-c path (codec.c): ENT_CORRUPT with the same messages, ENT_NOMEM.
 *
 * Every string, array, declared map and free-form map the record holds goes into the entity's own
 * allocation (in_block values, value_int.h): the entity is allocated with room for about twice
 * the record's bytes, and a record that needs more hangs further chunks on the entity. A get then
 * makes one allocation and its free one free(), where it made one per value (callgrind put
 * malloc and free at about 40 % of a get on the plain bench, issue 14). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "error_int.h"
#include "value_int.h"

/* msgpack-c's unpacker refuses containers nested deeper than its stack (MSGPACK_EMBED_STACK_SIZE);
 * records that it refused stay refused. */
#define MAX_NEST 32

enum { I_NIL, I_BOOL, I_UINT, I_INT, I_FLOAT, I_STR, I_BIN, I_ARR, I_MAP, I_EXT };

typedef struct rd {
    const unsigned char *p;
    size_t n, pos;
    ent_entity *e;             /* the entity being read: its block holds the values */
    unsigned char *room, *end; /* what is left of its room (or of its last chunk) */
} rd;

typedef struct item {
    int t;
    uint64_t u;   /* I_UINT, I_BOOL; count for I_ARR / I_MAP (pairs) */
    int64_t i;    /* I_INT (negative) */
    double f;     /* I_FLOAT */
    const char *s; /* I_STR, I_BIN */
    size_t len;
} item;

static uint64_t be(const unsigned char *p, size_t w)
{
    switch (w) {
    case 1: return p[0];
    case 2: return (uint64_t)p[0] << 8 | p[1];
    case 4: return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
    default: {
        uint64_t v = 0;
        for (size_t i = 0; i < w; i++) v = v << 8 | p[i];
        return v;
    }
    }
}

/* Read one item header (and a scalar's value). Returns 0, or -1 when malformed or truncated. */
static int rd_item_any(rd *r, item *it)
{
    unsigned b;
    size_t w = 0, left;
    if (r->pos >= r->n) return -1;
    b = r->p[r->pos++];
    left = r->n - r->pos;
    /* no memset of *it: each reader reads only the members its type sets (a get reads ~30 items) */
    if (b <= 0x7f) {
        it->t = I_UINT;
        it->u = b;
        return 0;
    }
    if (b >= 0xe0) {
        it->t = I_INT;
        it->i = (int8_t)b;
        return 0;
    }
    if (b <= 0x8f || (b >= 0x90 && b <= 0x9f)) {
        it->t = b <= 0x8f ? I_MAP : I_ARR;
        it->u = b & 0x0f;
        goto count;
    }
    if (b <= 0xbf) {
        it->t = I_STR;
        it->len = b & 0x1f;
        goto body;
    }
    switch (b) {
    case 0xc0: it->t = I_NIL; return 0;
    case 0xc2: case 0xc3: it->t = I_BOOL; it->u = b == 0xc3; return 0;
    case 0xc4: case 0xc5: case 0xc6:
    case 0xd9: case 0xda: case 0xdb:
        w = b == 0xc4 || b == 0xd9 ? 1 : b == 0xc5 || b == 0xda ? 2 : 4;
        if (left < w) return -1;
        it->t = b <= 0xc6 ? I_BIN : I_STR;
        it->len = (size_t)be(r->p + r->pos, w);
        r->pos += w;
        goto body;
    case 0xc7: case 0xc8: case 0xc9: /* ext: length, type byte, data */
        w = b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4;
        if (left < w) return -1;
        it->t = I_EXT;
        it->len = (size_t)be(r->p + r->pos, w) + 1;
        r->pos += w;
        goto body;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        it->t = I_EXT;
        it->len = (size_t)1 + ((size_t)1 << (b - 0xd4));
        goto body;
    case 0xca: {
        uint32_t u32;
        float fl;
        if (left < 4) return -1;
        u32 = (uint32_t)be(r->p + r->pos, 4);
        memcpy(&fl, &u32, sizeof fl);
        it->t = I_FLOAT;
        it->f = fl;
        r->pos += 4;
        return 0;
    }
    case 0xcb: {
        uint64_t u64;
        if (left < 8) return -1;
        u64 = be(r->p + r->pos, 8);
        memcpy(&it->f, &u64, sizeof it->f);
        it->t = I_FLOAT;
        r->pos += 8;
        return 0;
    }
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        w = (size_t)1 << (b - 0xcc);
        if (left < w) return -1;
        it->t = I_UINT;
        it->u = be(r->p + r->pos, w);
        r->pos += w;
        return 0;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        uint64_t u;
        int64_t v;
        w = (size_t)1 << (b - 0xd0);
        if (left < w) return -1;
        u = be(r->p + r->pos, w);
        r->pos += w;
        /* sign-extend from w bytes */
        if (w < 8 && (u >> (w * 8 - 1)) & 1) u |= ~(uint64_t)0 << (w * 8);
        memcpy(&v, &u, sizeof v);
        /* msgpack-c: a signed format holding a value >= 0 is a positive integer */
        if (v >= 0) {
            it->t = I_UINT;
            it->u = (uint64_t)v;
        } else {
            it->t = I_INT;
            it->i = v;
        }
        return 0;
    }
    case 0xdc: case 0xdd: case 0xde: case 0xdf:
        w = b == 0xdc || b == 0xde ? 2 : 4;
        if (left < w) return -1;
        it->t = b <= 0xdd ? I_ARR : I_MAP;
        it->u = be(r->p + r->pos, w);
        r->pos += w;
        goto count;
    default: return -1; /* 0xc1 */
    }
count:
    /* every announced item takes at least one byte: bounds what a container may allocate */
    if (it->u > (uint64_t)(r->n - r->pos) / (it->t == I_MAP ? 2 : 1)) return -1;
    return 0;
body:
    if (it->len > r->n - r->pos) return -1;
    it->s = (const char *)r->p + r->pos;
    r->pos += it->len;
    return 0;
}

/* rd_item_any() with the two formats most items of a record have (small unsigned ints: field
 * ids; short strings) read inline: the call was about a third of a decode (callgrind). */
static inline int rd_item(rd *r, item *it)
{
    if (r->pos < r->n) {
        unsigned b = r->p[r->pos];
        if (b <= 0x7f) {
            r->pos++;
            it->t = I_UINT;
            it->u = b;
            return 0;
        }
        if ((b & 0xe0) == 0xa0 && (size_t)(b & 0x1f) < r->n - r->pos) {
            it->t = I_STR;
            it->len = b & 0x1f;
            it->s = (const char *)r->p + r->pos + 1;
            r->pos += 1 + it->len;
            return 0;
        }
    }
    return rd_item_any(r, it);
}

static int malformed(void) { return ent__err(ENT_CORRUPT, "corrupt record: not a well-formed msgpack value"); }

/* n bytes of the entity's block, at an 8-byte boundary when `align`. NULL when out of memory. */
static inline void *take(rd *r, size_t n, int align)
{
    unsigned char *q = r->room;
    if (align) q += (size_t)(-(uintptr_t)q & 7);
    if (q > r->end || (size_t)(r->end - q) < n) {
        /* a record needing more than the room: another chunk, as large as the rest may need */
        size_t c = n > 1024 ? n : 1024;
        if (!(q = ent__entity_chunk(r->e, c))) return NULL;
        r->end = q + c;
    }
    r->room = q + n;
    return q;
}

static int nomem(void) { return ent__err(ENT_NOMEM, "out of memory"); }

static inline int str_val(rd *r, ent_val *out, uint8_t kind, const item *it)
{
    char *c = take(r, it->len + 1, 0);
    if (!c) return nomem();
    memcpy(c, it->s, it->len);
    c[it->len] = '\0';
    out->k = kind;
    out->in_block = 1;
    out->u.s.p = c;
    out->u.s.n = it->len;
    return ENT_OK;
}

/* An array value of n unset items (the count the header declared; rd_item already checked that
 * the input can hold that many). All n count from the start: a failure half way leaves unset
 * items, which the entity's free walks over. */
static int arr_alloc(rd *r, ent_val *out, uint64_t n)
{
    out->k = EV_ARR;
    out->in_block = 1;
    if (n) {
        if (!(out->u.a.v = take(r, (size_t)n * sizeof(ent_val), 1))) return nomem();
        memset(out->u.a.v, 0, (size_t)n * sizeof(ent_val));
        out->u.a.n = out->u.a.cap = (size_t)n;
    }
    return ENT_OK;
}

/* Skip the contents of an item already read (a container's items). */
static int rd_skip(rd *r, const item *it, int depth)
{
    uint64_t n;
    if (it->t != I_ARR && it->t != I_MAP) return 0;
    if (depth >= MAX_NEST) return -1;
    n = it->t == I_MAP ? it->u * 2 : it->u;
    for (uint64_t i = 0; i < n; i++) {
        item c;
        if (rd_item(r, &c) || rd_skip(r, &c, depth + 1)) return -1;
    }
    return 0;
}

static int corrupt_at(const ent_field *spec, const char *what)
{
    char buf[256];
    if (spec && spec->name && spec->type)
        return ent__err(ENT_CORRUPT, "corrupt record: %s: %s", ent__field_path(spec, buf, sizeof buf), what);
    return ent__err(ENT_CORRUPT, "corrupt record: %s", what);
}

static const ent_field *by_id(ent_field *const *fields, size_t n, uint64_t id, size_t *guess)
{
    if (*guess < n && fields[*guess]->id == id) return fields[(*guess)++];
    for (size_t i = 0; i < n; i++)
        if (fields[i]->id == id) {
            *guess = i + 1;
            return fields[i];
        }
    return NULL;
}

static int read_val(ent_val *out, const ent_field *spec, rd *r, const item *it, int depth);

/* Values are built in place in memory that is zeroed already (a slot, an item), and are never
 * cleared on failure: the caller frees the whole entity, whose free walks what was built. */
static int read_free(ent_val *out, rd *r, const item *it, int depth)
{
    int rc;
    switch (it->t) {
    case I_NIL: out->k = EV_NIL; return ENT_OK;
    case I_BOOL: out->k = EV_BOOL; out->u.b = (int)it->u; return ENT_OK;
    case I_UINT: out->k = EV_UINT; out->u.u = it->u; return ENT_OK;
    case I_INT: out->k = EV_INT; out->u.i = it->i; return ENT_OK;
    case I_FLOAT: out->k = EV_FLOAT; out->u.f = it->f; return ENT_OK;
    case I_STR: return str_val(r, out, EV_STR, it);
    case I_BIN: return str_val(r, out, EV_BIN, it);
    case I_ARR:
        if (depth >= MAX_NEST) return malformed();
        if ((rc = arr_alloc(r, out, it->u))) return rc;
        for (uint64_t i = 0; i < it->u; i++) {
            item c;
            if (rd_item(r, &c)) return malformed();
            if ((rc = read_free(&out->u.a.v[i], r, &c, depth + 1))) return rc;
        }
        return ENT_OK;
    case I_MAP:
        if (depth >= MAX_NEST) return malformed();
        out->k = EV_OBJ;
        out->in_block = 1;
        if (it->u) {
            if (!(out->u.o.kv = take(r, (size_t)it->u * sizeof(ent_kv), 1))) return nomem();
            memset(out->u.o.kv, 0, (size_t)it->u * sizeof(ent_kv));
            out->u.o.n = out->u.o.cap = (size_t)it->u;
        }
        for (uint64_t i = 0; i < it->u; i++) {
            ent_kv *d = &out->u.o.kv[i];
            item k, v;
            if (rd_item(r, &k)) return malformed();
            if (k.t != I_STR) return corrupt_at(NULL, "free-form map key is not a string");
            if (!(d->k = take(r, k.len + 1, 0))) return nomem();
            memcpy(d->k, k.s, k.len);
            d->k[k.len] = '\0';
            d->klen = k.len;
            if (rd_item(r, &v)) return malformed();
            if ((rc = read_free(&d->v, r, &v, depth + 1))) return rc;
        }
        if ((rc = ent__obj_dup_keys(out)))
            return rc < 0 ? nomem() : corrupt_at(NULL, "free-form map repeats a key");
        return ENT_OK;
    default: return corrupt_at(NULL, "unsupported msgpack type in a free-form value");
    }
}

static int read_map(ent_val *out, const ent_field *spec, rd *r, const item *it, int depth)
{
    size_t guess = 0, n = spec->n_fields ? spec->n_fields : 1;
    int rc;
    if (depth >= MAX_NEST) return malformed();
    if (!(out->u.m.v = take(r, n * sizeof(ent_val), 1))) return nomem();
    memset(out->u.m.v, 0, n * sizeof(ent_val));
    out->k = EV_MAP;
    out->in_block = 1;
    out->u.m.n = spec->n_fields;
    for (uint64_t i = 0; i < it->u; i++) {
        item k, v;
        const ent_field *sf;
        ent_val *slot;
        if (rd_item(r, &k)) return malformed();
        if (k.t != I_UINT) return corrupt_at(spec, "sub-field id is not an unsigned integer");
        if (rd_item(r, &v)) return malformed();
        sf = by_id(spec->fields, spec->n_fields, k.u, &guess);
        if (!sf || v.t == I_NIL) { /* removed from the schema */
            if (rd_skip(r, &v, depth + 1)) return malformed();
            continue;
        }
        slot = &out->u.m.v[sf->pos];
        if (slot->k != EV_UNSET) return corrupt_at(sf, "field repeated");
        if ((rc = read_val(slot, sf, r, &v, depth + 1))) return rc;
    }
    return ENT_OK;
}

static int read_val(ent_val *out, const ent_field *spec, rd *r, const item *it, int depth)
{
    int rc;
    uint8_t want;
    if (!spec) return read_free(out, r, it, depth);
    want = spec->ev;
    switch (want) {
    case EV_BOOL:
        if (it->t != I_BOOL) break;
        out->k = EV_BOOL;
        out->u.b = (int)it->u;
        return ENT_OK;
    case EV_INT:
    case EV_TS:
        if (it->t == I_INT) out->u.i = it->i;
        else if (it->t == I_UINT && it->u <= INT64_MAX) out->u.i = (int64_t)it->u;
        else break;
        out->k = want;
        return ENT_OK;
    case EV_UINT:
        if (it->t != I_UINT) break;
        out->k = EV_UINT;
        out->u.u = it->u;
        return ENT_OK;
    case EV_FLOAT:
        if (it->t != I_FLOAT) break;
        out->k = EV_FLOAT;
        out->u.f = it->f;
        return ENT_OK;
    case EV_STR:
        if (it->t != I_STR) break;
        return str_val(r, out, EV_STR, it);
    case EV_BIN:
        if (it->t != I_BIN) break;
        return str_val(r, out, EV_BIN, it);
    case EV_ARR:
        if (it->t != I_ARR) break;
        if (depth >= MAX_NEST) return malformed();
        if ((rc = arr_alloc(r, out, it->u))) return rc;
        for (uint64_t i = 0; i < it->u; i++) {
            item c;
            if (rd_item(r, &c)) return malformed();
            if (c.t == I_NIL) continue; /* an unset item */
            if ((rc = read_val(&out->u.a.v[i], spec->items, r, &c, depth + 1))) return rc;
        }
        return ENT_OK;
    case EV_MAP:
        if (it->t != I_MAP) break;
        return read_map(out, spec, r, it, depth);
    case EV_OBJ:
        if (it->t != I_MAP) break;
        return read_free(out, r, it, depth);
    default: break;
    }
    return corrupt_at(spec, "value of the wrong kind");
}

_Thread_local uint64_t ent__records_decoded;
_Thread_local uint64_t ent__record_skipped[ENT__RECORD_SKIPPED_MAX];
_Thread_local size_t ent__record_nskipped;

int ent__record_decode(ent_entity **out, const ent_type *t, const void *p, size_t n)
{
    rd r;
    item a, ver, m;
    ent_entity *e = NULL;
    size_t guess = 0, room;
    int rc;
    *out = NULL;
    ent__records_decoded++;
    ent__record_nskipped = 0;
    if (!p) return malformed();
    r.p = p;
    r.n = n;
    r.pos = 0;
    if (rd_item(&r, &a)) return malformed();
    if (a.t != I_ARR || a.u != 2) {
        /* as codec.c: any well-formed value that is not [uint, ...] is "not a record" */
        if (rd_skip(&r, &a, 0) || r.pos != n) return malformed();
        return corrupt_at(NULL, "not a [version, fields] record");
    }
    if (rd_item(&r, &ver)) return malformed();
    if (ver.t != I_UINT) {
        if (rd_skip(&r, &ver, 1) || rd_item(&r, &m) || rd_skip(&r, &m, 1) || r.pos != n) return malformed();
        return corrupt_at(NULL, "not a [version, fields] record");
    }
    if (rd_item(&r, &m)) return malformed();
    if (m.t != I_MAP) {
        if (rd_skip(&r, &m, 1) || r.pos != n) return malformed();
        return corrupt_at(NULL, "fields are not a map");
    }
    /* Room for the values: each string's bytes and NUL fit in its encoded size, and containers
     * usually need about as much again; a record that needs more gets a chunk (take()). */
    room = n < SIZE_MAX / 4 ? 2 * n + 64 : 0;
    if ((rc = ent__entity_new_room(&e, t, room, &r.room))) return rc;
    r.end = r.room + room;
    r.e = e;
    e->version = ver.u;
    for (uint64_t i = 0; i < m.u; i++) {
        item k, v;
        const ent_field *f;
        if (rd_item(&r, &k)) goto bad;
        if (k.t != I_UINT) {
            rc = corrupt_at(NULL, "field id is not an unsigned integer");
            goto fail;
        }
        if (rd_item(&r, &v)) goto bad;
        f = by_id(t->fields, t->n_fields, k.u, &guess);
        if (!f) { /* a field removed from the schema (or damage: verify tells them apart) */
            if (ent__record_nskipped < ENT__RECORD_SKIPPED_MAX) ent__record_skipped[ent__record_nskipped] = k.u;
            ent__record_nskipped++;
            if (rd_skip(&r, &v, 2)) goto bad;
            continue;
        }
        if (e->slots[f->pos].k != EV_UNSET) {
            rc = corrupt_at(f, "field repeated");
            goto fail;
        }
        if (v.t == I_NIL) {
            rc = corrupt_at(f, "nil field");
            goto fail;
        }
        if (f->ev == EV_STR && v.t == I_STR) { /* the commonest field, without the call */
            if ((rc = str_val(&r, &e->slots[f->pos], EV_STR, &v))) goto fail;
            continue;
        }
        if ((rc = read_val(&e->slots[f->pos], f, &r, &v, 2))) goto fail;
    }
    if (r.pos != n) goto bad;
    *out = e;
    return ENT_OK;
bad:
    rc = malformed();
fail:
    ent_entity_free(e);
    return rc;
}
