/* The value tree: runtime values (ent_val) and the operations every other layer builds on --
 * clear, copy, equality, kinds and their names, strict UTF-8, and growing free-form maps, arrays
 * and declared maps. Its own file because codec, JSON, validation, paths, field handles, defaults
 * and the store all use it; it calls nothing above it (only errors and schema_read.c). */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "value_int.h"

void ent__val_clear(ent_val *v)
{
    size_t i;
    int own = !v->in_block; /* in the entity's block: freed with the entity */
    /* Items are tested before the call: a decoded entity's are mostly scalars and strings in its
     * block, whose clearing is a no-op (an entity's free walks them all). */
    switch (v->k) {
    case EV_STR:
    case EV_BIN:
        if (own) free(v->u.s.p);
        break;
    case EV_ARR:
        for (i = 0; i < v->u.a.n; i++)
            if (ent__val_holds_memory(&v->u.a.v[i])) ent__val_clear(&v->u.a.v[i]);
        if (own) free(v->u.a.v);
        break;
    case EV_MAP:
        for (i = 0; i < v->u.m.n; i++)
            if (ent__val_holds_memory(&v->u.m.v[i])) ent__val_clear(&v->u.m.v[i]);
        if (own) free(v->u.m.v);
        break;
    case EV_OBJ:
        for (i = 0; i < v->u.o.n; i++) {
            if (own) free(v->u.o.kv[i].k);
            if (ent__val_holds_memory(&v->u.o.kv[i].v)) ent__val_clear(&v->u.o.kv[i].v);
        }
        if (own) free(v->u.o.kv);
        break;
    default: break;
    }
    memset(v, 0, sizeof *v);
}

int ent__val_set_str(ent_val *v, uint8_t kind, const void *p, size_t n)
{
    char *c;
    /* msgpack's str32/bin32 header holds a 32-bit length: a longer value would be written with
     * its length cut (the memory backend kept it, then called the record corrupt) */
    if (n > UINT32_MAX)
        return ent__err(ENT_INVALID, "a %s of %zu bytes: a value holds at most 4294967295 (4 GiB - 1)",
                        kind == EV_BIN ? "bytes value" : "string", n);
    /* One byte more than needed: strings stay NUL-terminated and an empty value is never NULL. */
    c = malloc(n + 1);
    if (!c) return ent__err(ENT_NOMEM, "out of memory");
    if (n) memcpy(c, p, n);
    c[n] = '\0';
    v->k = kind;
    v->in_block = 0;
    v->u.s.p = c;
    v->u.s.n = n;
    return ENT_OK;
}

int ent__val_copy(ent_val *dst, const ent_val *src)
{
    size_t i, n;
    memset(dst, 0, sizeof *dst);
    switch (src->k) {
    case EV_STR:
    case EV_BIN: return ent__val_set_str(dst, src->k, src->u.s.p, src->u.s.n);
    case EV_ARR:
        n = src->u.a.n;
        dst->k = EV_ARR;
        if (n) {
            dst->u.a.v = calloc(n, sizeof(ent_val));
            if (!dst->u.a.v) goto nomem;
            dst->u.a.cap = n;
            for (i = 0; i < n; i++, dst->u.a.n++)
                if (ent__val_copy(&dst->u.a.v[i], &src->u.a.v[i])) goto nomem;
        }
        return ENT_OK;
    case EV_MAP:
        n = src->u.m.n;
        dst->k = EV_MAP;
        dst->u.m.v = calloc(n ? n : 1, sizeof(ent_val));
        if (!dst->u.m.v) goto nomem;
        dst->u.m.n = n;
        for (i = 0; i < n; i++)
            if (ent__val_copy(&dst->u.m.v[i], &src->u.m.v[i])) goto nomem;
        return ENT_OK;
    case EV_OBJ:
        n = src->u.o.n;
        dst->k = EV_OBJ;
        if (n) {
            dst->u.o.kv = calloc(n, sizeof(ent_kv));
            if (!dst->u.o.kv) goto nomem;
            dst->u.o.cap = n;
            for (i = 0; i < n; i++) {
                ent_kv *d = &dst->u.o.kv[i];
                const ent_kv *s = &src->u.o.kv[i];
                d->k = malloc(s->klen + 1);
                if (!d->k) goto nomem;
                memcpy(d->k, s->k, s->klen + 1);
                d->klen = s->klen;
                dst->u.o.n++;
                if (ent__val_copy(&d->v, &s->v)) goto nomem;
            }
        }
        return ENT_OK;
    default:
        *dst = *src;
        dst->in_block = 0;
        return ENT_OK;
    }
nomem:
    ent__val_clear(dst);
    return ent__err(ENT_NOMEM, "out of memory");
}

static int kv_cmp(const void *x, const void *y)
{
    const ent_kv *a = *(const ent_kv *const *)x, *b = *(const ent_kv *const *)y;
    int c = memcmp(a->k, b->k, a->klen < b->klen ? a->klen : b->klen);
    return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

/* Free-form maps are JSON objects: equal whatever the order of their keys. Called when the
 * pairs from `from` on are not in the same order; sorts pointers to them (same count). */
static int obj_equal_unordered(const ent_val *a, const ent_val *b, size_t from)
{
    size_t n = a->u.o.n - from, i;
    const ent_kv **pa = malloc(2 * n * sizeof *pa), **pb;
    int eq = 1;
    if (!pa) return 0; /* out of memory: "different" only costs a write */
    pb = pa + n;
    for (i = 0; i < n; i++) {
        pa[i] = &a->u.o.kv[from + i];
        pb[i] = &b->u.o.kv[from + i];
    }
    qsort(pa, n, sizeof *pa, kv_cmp);
    qsort(pb, n, sizeof *pb, kv_cmp);
    for (i = 0; i < n && eq; i++)
        eq = kv_cmp(&pa[i], &pb[i]) == 0 && ent__val_equal(&pa[i]->v, &pb[i]->v);
    free(pa);
    return eq;
}

int ent__val_equal(const ent_val *a, const ent_val *b)
{
    size_t i;
    if (a->k != b->k) return 0;
    switch (a->k) {
    case EV_UNSET:
    case EV_NIL: return 1;
    case EV_BOOL: return !a->u.b == !b->u.b;
    case EV_INT:
    case EV_TS: return a->u.i == b->u.i;
    case EV_UINT: return a->u.u == b->u.u;
    case EV_FLOAT: return memcmp(&a->u.f, &b->u.f, sizeof(double)) == 0;
    case EV_STR:
    case EV_BIN: return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
    case EV_ARR:
        if (a->u.a.n != b->u.a.n) return 0;
        for (i = 0; i < a->u.a.n; i++)
            if (!ent__val_equal(&a->u.a.v[i], &b->u.a.v[i])) return 0;
        return 1;
    case EV_MAP:
        if (a->u.m.n != b->u.m.n) return 0;
        for (i = 0; i < a->u.m.n; i++)
            if (!ent__val_equal(&a->u.m.v[i], &b->u.m.v[i])) return 0;
        return 1;
    case EV_OBJ:
        if (a->u.o.n != b->u.o.n) return 0;
        for (i = 0; i < a->u.o.n; i++) {
            const ent_kv *x = &a->u.o.kv[i], *y = &b->u.o.kv[i];
            if (x->klen != y->klen || memcmp(x->k, y->k, x->klen) != 0) return obj_equal_unordered(a, b, i);
            if (!ent__val_equal(&x->v, &y->v)) return 0;
        }
        return 1;
    default: return 0;
    }
}

void ent__val_adopt(ent_val *dst, ent_val *src)
{
    size_t i;
    ent_val tmp;
    if (ent__val_equal(dst, src)) return;
    if (dst->k == src->k) {
        switch (dst->k) {
        case EV_ARR:
            if (dst->u.a.n != src->u.a.n) break;
            for (i = 0; i < dst->u.a.n; i++) ent__val_adopt(&dst->u.a.v[i], &src->u.a.v[i]);
            return;
        case EV_MAP:
            if (dst->u.m.n != src->u.m.n) break;
            for (i = 0; i < dst->u.m.n; i++) ent__val_adopt(&dst->u.m.v[i], &src->u.m.v[i]);
            return;
        case EV_OBJ:
            if (dst->u.o.n != src->u.o.n) break;
            for (i = 0; i < dst->u.o.n; i++)
                if (dst->u.o.kv[i].klen != src->u.o.kv[i].klen ||
                    memcmp(dst->u.o.kv[i].k, src->u.o.kv[i].k, dst->u.o.kv[i].klen) != 0)
                    break;
            if (i < dst->u.o.n) break;
            for (i = 0; i < dst->u.o.n; i++) ent__val_adopt(&dst->u.o.kv[i].v, &src->u.o.kv[i].v);
            return;
        default: break;
        }
    }
    tmp = *dst;
    *dst = *src;
    *src = tmp;
}

uint8_t ent__ev_kind(const ent_field *f)
{
    switch (f->kind) {
    case ENT_KIND_BOOL: return EV_BOOL;
    case ENT_KIND_INT: return EV_INT;
    case ENT_KIND_UINT: return EV_UINT;
    case ENT_KIND_FLOAT: return EV_FLOAT;
    case ENT_KIND_STRING: return EV_STR;
    case ENT_KIND_BYTES: return EV_BIN;
    case ENT_KIND_TIMESTAMP: return EV_TS;
    case ENT_KIND_ARRAY: return EV_ARR;
    case ENT_KIND_MAP: return f->fields ? EV_MAP : EV_OBJ;
    case ENT_KIND_REF:
        return f->ref_type && f->ref_type->key == ENT_KEY_STRING ? EV_STR : EV_UINT;
    default: return EV_UNSET;
    }
}

const char *ent__ev_name(uint8_t k)
{
    static const char *const names[] = {"unset", "null", "bool", "int", "uint", "float",
                                        "string", "bytes", "timestamp", "array", "map", "map"};
    return k < sizeof names / sizeof names[0] ? names[k] : "?";
}

/* Name of what a spec expects, for "expected X" messages. */
const char *ent__spec_expects(const ent_field *f)
{
    if (!f) return "value";
    if (f->kind == ENT_KIND_REF) return ent__ev_kind(f) == EV_STR ? "string (ref)" : "uint (ref)";
    return ent_kind_name(f->kind);
}

ent_kind ent__ev_to_kind(uint8_t k)
{
    switch (k) {
    case EV_BOOL: return ENT_KIND_BOOL;
    case EV_INT: return ENT_KIND_INT;
    case EV_UINT: return ENT_KIND_UINT;
    case EV_FLOAT: return ENT_KIND_FLOAT;
    case EV_STR: return ENT_KIND_STRING;
    case EV_BIN: return ENT_KIND_BYTES;
    case EV_TS: return ENT_KIND_TIMESTAMP;
    case EV_ARR: return ENT_KIND_ARRAY;
    case EV_MAP:
    case EV_OBJ: return ENT_KIND_MAP;
    default: return ENT_KIND_NIL;
    }
}

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF. */
int ent__utf8_ok(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + n;
    /* All ASCII, the common case, first and without branching per byte: the string by 8-byte
     * words, its tail by one word that overlaps the last (perf: create checks every string;
     * callgrind put ~60 instructions on each short string of the plain bench before). */
    if (n >= 8) {
        uint64_t acc = 0, w;
        size_t i;
        for (i = 0; i + 8 <= n; i += 8) {
            memcpy(&w, s + i, sizeof w);
            acc |= w;
        }
        memcpy(&w, end - 8, sizeof w);
        if (!((acc | w) & 0x8080808080808080ull)) return 1;
    } else {
        unsigned acc = 0;
        for (size_t i = 0; i < n; i++) acc |= s[i];
        if (!(acc & 0x80)) return 1;
    }
    while (s < end) {
        unsigned c;
        size_t len;
        uint32_t cp;
        /* ASCII 8 bytes at a time: most strings are, and create validates every one (perf) */
        while ((size_t)(end - s) >= 8) {
            uint64_t w;
            memcpy(&w, s, sizeof w);
            if (w & 0x8080808080808080ull) break;
            s += 8;
        }
        if (s == end) break;
        c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
        else return 0;
        if ((size_t)(end - s) < len) return 0;
        for (size_t i = 1; i < len; i++) {
            if ((s[i] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += len;
    }
    return 1;
}

/* ---- free-form maps: pairs in insertion order, and a table of their keys ------------------- */

_Thread_local unsigned long ent__obj_compares;

/* A slot of a map's key table: the pair's index + 1 (0: empty) and its key's hash. Open
 * addressing with linear probing, at most half full; it lives in the pairs' own allocation after
 * their cap pairs, so it grows, moves and is freed with them and a value copied by assignment
 * (ent__val_adopt, a setter's store) takes it along. */
typedef struct obj_slot {
    uint32_t at;
    uint32_t h;
} obj_slot;

/* Keyed per process (hash_seed.c): keys crafted to collide here would collide nowhere else. */
static uint32_t key_hash(const char *k, size_t n) { return (uint32_t)ent__key_hash(k, n); }

static obj_slot *obj_tab(const ent_val *o) { return (obj_slot *)(void *)(o->u.o.kv + o->u.o.cap); }

/* log2 of the table size for cap pairs: at most half full. */
static uint8_t tab_bits(size_t cap)
{
    uint8_t b = 6;
    while (((size_t)1 << b) < 2 * cap) b++;
    return b;
}

static void tab_put(obj_slot *t, size_t mask, uint32_t h, uint32_t at)
{
    size_t i = h & mask;
    while (t[i].at) i = (i + 1) & mask;
    t[i].at = at;
    t[i].h = h;
}

/* Give map o a vector of its own with room for cap pairs (>= n) and, when ix, after them for its
 * key table, which is then filled. An in_block map's keys are copied out. Returns 0, or -1 out of
 * memory with o as it was (no message: ent__obj_index() goes on without a table). */
static int obj_move(ent_val *o, size_t cap, int ix)
{
    size_t n = o->u.o.n, i, bytes;
    uint8_t bits = ix && cap <= UINT32_MAX / 4 ? tab_bits(cap) : 0;
    ent_kv *p;
    if (cap > SIZE_MAX / 2 / sizeof *p) return -1;
    bytes = cap * sizeof *p + (bits ? ((size_t)1 << bits) * sizeof(obj_slot) : 0);
    if (o->in_block) {
        if (!(p = malloc(bytes))) return -1;
        for (i = 0; i < n; i++) {
            const ent_kv *s = &o->u.o.kv[i];
            p[i] = *s;
            if (!(p[i].k = malloc(s->klen + 1))) {
                while (i--) free(p[i].k);
                free(p);
                return -1;
            }
            memcpy(p[i].k, s->k, s->klen + 1);
        }
    } else if (!(p = realloc(o->u.o.kv, bytes))) {
        return -1;
    }
    o->u.o.kv = p;
    o->u.o.cap = cap;
    o->in_block = 0;
    o->ix = bits;
    if (bits) {
        obj_slot *t = obj_tab(o);
        memset(t, 0, ((size_t)1 << bits) * sizeof *t);
        for (i = 0; i < n; i++) tab_put(t, ((size_t)1 << bits) - 1, key_hash(p[i].k, p[i].klen), (uint32_t)i + 1);
    }
    return 0;
}

void ent__obj_index(ent_val *o)
{
    size_t n = o->u.o.n;
    if (o->k != EV_OBJ || o->ix || n > UINT32_MAX / 4) return;
    (void)obj_move(o, o->in_block || o->u.o.cap < n ? n * 2 : o->u.o.cap, 1);
}

ent_val *ent__obj_find_ix(const ent_val *o, const char *k, size_t klen)
{
    size_t i, mask = ((size_t)1 << o->ix) - 1;
    uint32_t h = key_hash(k, klen);
    const obj_slot *t = obj_tab(o);
    for (i = h & mask; t[i].at; i = (i + 1) & mask) {
        const ent_kv *kv = &o->u.o.kv[t[i].at - 1];
        ent__obj_compares++;
        if (t[i].h == h && kv->klen == klen && memcmp(kv->k, k, klen) == 0) return (ent_val *)&kv->v;
    }
    return NULL;
}

/* Give an in_block container parts of its own before it grows: a new vector with room for
 * cap items (>= n), and for a free-form map copies of its keys. */
static int own_parts(ent_val *v, size_t cap)
{
    if (v->k == EV_ARR) {
        ent_val *p = malloc(cap * sizeof *p);
        if (!p) return ent__err(ENT_NOMEM, "out of memory");
        if (v->u.a.n) memcpy(p, v->u.a.v, v->u.a.n * sizeof *p);
        v->u.a.v = p;
        v->u.a.cap = cap;
        v->in_block = 0;
        return ENT_OK;
    }
    if (obj_move(v, cap, 0)) return ent__err(ENT_NOMEM, "out of memory");
    return ENT_OK;
}

int ent__obj_add(ent_val *o, const char *k, size_t klen, ent_val **out)
{
    ent_kv *kv;
    int rc;
    if (o->in_block && (rc = own_parts(o, o->u.o.n ? o->u.o.n * 2 : 4))) return rc;
    /* a map with a table grows with it (filled again for the new size) */
    if (o->u.o.n == o->u.o.cap && obj_move(o, o->u.o.cap ? o->u.o.cap * 2 : 4, o->ix != 0))
        return ent__err(ENT_NOMEM, "out of memory");
    kv = &o->u.o.kv[o->u.o.n];
    kv->k = malloc(klen + 1);
    if (!kv->k) return ent__err(ENT_NOMEM, "out of memory");
    memcpy(kv->k, k, klen);
    kv->k[klen] = '\0';
    kv->klen = klen;
    memset(&kv->v, 0, sizeof kv->v);
    o->u.o.n++;
    if (o->ix) tab_put(obj_tab(o), ((size_t)1 << o->ix) - 1, key_hash(k, klen), (uint32_t)o->u.o.n);
    *out = &kv->v;
    return ENT_OK;
}

int ent__arr_insert(ent_val *a, size_t at)
{
    int rc;
    if (a->in_block && (rc = own_parts(a, a->u.a.n ? a->u.a.n * 2 : 4))) return rc;
    if (a->u.a.n == a->u.a.cap) {
        size_t cap = a->u.a.cap ? a->u.a.cap * 2 : 4;
        ent_val *p = realloc(a->u.a.v, cap * sizeof *p);
        if (!p) return ent__err(ENT_NOMEM, "out of memory");
        a->u.a.v = p;
        a->u.a.cap = cap;
    }
    memmove(&a->u.a.v[at + 1], &a->u.a.v[at], (a->u.a.n - at) * sizeof(ent_val));
    memset(&a->u.a.v[at], 0, sizeof(ent_val));
    a->u.a.n++;
    return ENT_OK;
}

int ent__map_init(ent_val *v, const ent_field *spec)
{
    v->u.m.v = calloc(spec->n_fields ? spec->n_fields : 1, sizeof(ent_val));
    if (!v->u.m.v) return ent__err(ENT_NOMEM, "out of memory");
    v->k = EV_MAP;
    v->in_block = 0;
    v->u.m.n = spec->n_fields;
    return ENT_OK;
}

/* ---- the same in an entity's arena (value_int.h) --------------------------------------------- */

/* A new vector of cap items of size `item` in e's arena holding the n of old; NULL when the arena
 * cannot serve it. */
static void *arena_vec(ent_entity *e, const void *old, size_t n, size_t cap, size_t item)
{
    void *p;
    if (cap > ENT__ARENA_ITEM_MAX / item) return NULL;
    if (!(p = ent__entity_alloc(e, cap * item))) return NULL;
    if (n) memcpy(p, old, n * item);
    return p;
}

int ent__arr_insert_in(ent_entity *e, ent_val *a, size_t at)
{
    size_t n = a->u.a.n;
    /* a vector of its own grows with realloc; one in the block or none yet grows in the arena */
    if (!a->in_block && a->u.a.cap) return ent__arr_insert(a, at);
    if (n == a->u.a.cap) {
        size_t cap = n ? n * 2 : 4;
        ent_val *p = arena_vec(e, a->u.a.v, n, cap, sizeof *p);
        if (!p) return ent__arr_insert(a, at); /* copies an in_block vector out first */
        a->u.a.v = p;
        a->u.a.cap = cap;
        a->in_block = 1;
    }
    if (at < n) memmove(&a->u.a.v[at + 1], &a->u.a.v[at], (n - at) * sizeof(ent_val));
    a->u.a.v[at] = (ent_val){0};
    a->u.a.n++;
    return ENT_OK;
}

int ent__obj_add_in(ent_entity *e, ent_val *o, const char *k, size_t klen, ent_val **out)
{
    size_t n = o->u.o.n;
    ent_kv *kv;
    char *key;
    if (!o->in_block && o->u.o.cap) return ent__obj_add(o, k, klen, out);
    /* in the block (or empty): the pairs and the key go into the arena, all or none of them */
    key = klen < ENT__ARENA_ITEM_MAX ? ent__entity_alloc(e, klen + 1) : NULL;
    if (!key) return ent__obj_add(o, k, klen, out);
    if (n == o->u.o.cap) {
        size_t cap = n ? n * 2 : 4;
        ent_kv *p = arena_vec(e, o->u.o.kv, n, cap, sizeof *p);
        if (!p) return ent__obj_add(o, k, klen, out); /* the key's arena bytes stay unused */
        o->u.o.kv = p;
        o->u.o.cap = cap;
        o->in_block = 1;
    }
    ent__copy(key, k, klen);
    key[klen] = '\0';
    kv = &o->u.o.kv[n];
    kv->k = key;
    kv->klen = klen;
    kv->v = (ent_val){0};
    o->u.o.n++;
    *out = &kv->v;
    return ENT_OK;
}

void ent__obj_remove(ent_val *o, ent_val *pv)
{
    ent_kv *kv = (ent_kv *)(void *)((char *)pv - offsetof(ent_kv, v));
    size_t i = (size_t)(kv - o->u.o.kv);
    if (o->ix) {
        /* Out of the table (moving up the slots after it that its place made probe past it),
         * then the pairs after it move down one: as the memmove below, a pass over the table. */
        obj_slot *t = obj_tab(o);
        size_t mask = ((size_t)1 << o->ix) - 1, j = key_hash(kv->k, kv->klen) & mask, x;
        while (t[j].at != i + 1) j = (j + 1) & mask;
        t[j].at = 0;
        for (x = (j + 1) & mask; t[x].at; x = (x + 1) & mask) {
            size_t home = t[x].h & mask;
            if (((x - home) & mask) >= ((x - j) & mask)) {
                t[j] = t[x];
                t[x].at = 0;
                j = x;
            }
        }
        for (x = 0; x <= mask; x++)
            if (t[x].at > i + 1) t[x].at--;
    }
    if (!o->in_block) free(kv->k); /* keys are the map's own, or all in the entity's block */
    if (ent__val_holds_memory(&kv->v)) ent__val_clear(&kv->v);
    memmove(kv, kv + 1, (o->u.o.n - i - 1) * sizeof *kv);
    o->u.o.n--;
}

int ent__map_init_in(ent_entity *e, ent_val *v, const ent_field *spec)
{
    size_t n = spec->n_fields ? spec->n_fields : 1;
    ent_val *p = n <= ENT__ARENA_ITEM_MAX / sizeof *p ? ent__entity_alloc(e, n * sizeof *p) : NULL;
    if (!p) return ent__map_init(v, spec);
    memset(p, 0, n * sizeof *p);
    v->k = EV_MAP;
    v->in_block = 1;
    v->u.m.v = p;
    v->u.m.n = spec->n_fields;
    return ENT_OK;
}
