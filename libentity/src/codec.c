/* msgpack records of entities: [version, {field_id: value}] (layout in codec.h). */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "error_int.h"
#include "mp_write.h"

/* ---- byte buffer ------------------------------------------------------------------------- */

int ent__buf_reserve(ent_buf *b, size_t more)
{
    size_t cap;
    char *p;
    if (b->cap == SIZE_MAX) return ent__err(ENT_NOMEM, "out of memory");
    if (b->cap - b->n >= more) return ENT_OK;
    if (more > SIZE_MAX / 2 - b->n) return ent__err(ENT_NOMEM, "out of memory (%zu bytes)", more);
    cap = b->cap ? b->cap * 2 : 256;
    if (cap < b->n + more) cap = b->n + more;
    p = realloc(b->p, cap);
    if (!p) return ent__err(ENT_NOMEM, "out of memory");
    b->p = p;
    b->cap = cap;
    return ENT_OK;
}

int ent__buf_append(ent_buf *b, const void *p, size_t n)
{
    int rc = ent__buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
    return ENT_OK;
}

void ent__buf_free(ent_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

int ent__buf_put_slow(ent_buf *b, const void *p, size_t n)
{
    if (ent__buf_append(b, p, n)) {
        b->cap = SIZE_MAX; /* remembered until ent__buf_free(); p stays owned by b */
        return -1;
    }
    return 0;
}

static int buf_write(void *data, const char *p, size_t n) { return ent__buf_put(data, p, n); }

void ent__packer_init(msgpack_packer *pk, ent_buf *b) { msgpack_packer_init(pk, b, buf_write); }

int ent__buf_ok(const ent_buf *b)
{
    return b->cap == SIZE_MAX ? ent__err(ENT_NOMEM, "out of memory") : ENT_OK;
}

/* ---- packing ----------------------------------------------------------------------------- */

/* Writes go on after a failed one (they fail too, ent__buf_put): callers check the buffer once at
 * the end instead of after every item. */
int ent__val_pack(ent_buf *b, const ent_field *spec, const ent_val *v)
{
    size_t i, n;
    int rc;
    switch (v->k) {
    case EV_UNSET: /* an unset array item */
    case EV_NIL: ent__mpw_nil(b); break;
    case EV_BOOL: v->u.b ? ent__mpw_true(b) : ent__mpw_false(b); break;
    case EV_INT:
    case EV_TS: ent__mpw_int64(b, v->u.i); break;
    case EV_UINT: ent__mpw_uint64(b, v->u.u); break;
    case EV_FLOAT: ent__mpw_double(b, v->u.f); break;
    case EV_STR: ent__mpw_str_with_body(b, v->u.s.p, v->u.s.n); break;
    case EV_BIN: ent__mpw_bin_with_body(b, v->u.s.p, v->u.s.n); break;
    case EV_ARR:
        ent__mpw_array(b, v->u.a.n);
        for (i = 0; i < v->u.a.n; i++)
            if ((rc = ent__val_pack(b, spec ? spec->items : NULL, &v->u.a.v[i]))) return rc;
        break;
    case EV_MAP:
        if (!spec || !spec->fields) return ent__err(ENT_INVALID, "declared map value without its spec");
        for (i = n = 0; i < v->u.m.n; i++) n += v->u.m.v[i].k != EV_UNSET;
        ent__mpw_map(b, n);
        for (i = 0; i < v->u.m.n && i < spec->n_fields; i++) {
            if (v->u.m.v[i].k == EV_UNSET) continue;
            ent__mpw_uint32(b, spec->fields[i]->id);
            if ((rc = ent__val_pack(b, spec->fields[i], &v->u.m.v[i]))) return rc;
        }
        break;
    case EV_OBJ:
        ent__mpw_map(b, v->u.o.n);
        for (i = 0; i < v->u.o.n; i++) {
            ent__mpw_str_with_body(b, v->u.o.kv[i].k, v->u.o.kv[i].klen);
            if ((rc = ent__val_pack(b, NULL, &v->u.o.kv[i].v))) return rc;
        }
        break;
    default: return ent__err(ENT_INVALID, "value of unknown kind %d", v->k);
    }
    return ENT_OK;
}

static int mask_has(const uint64_t *mask, size_t pos) { return (int)((mask[pos / 64] >> (pos % 64)) & 1); }

int ent__fields_pack(ent_buf *b, const ent_entity *e, const uint64_t *mask)
{
    const ent_type *t = e->type;
    size_t i, n = 0;
    int rc;
    for (i = 0; i < t->n_fields; i++)
        n += mask ? mask_has(mask, i) : e->slots[i].k != EV_UNSET;
    ent__mpw_map(b, n);
    for (i = 0; i < t->n_fields; i++) {
        if (mask ? !mask_has(mask, i) : e->slots[i].k == EV_UNSET) continue;
        ent__mpw_uint32(b, t->fields[i]->id);
        if ((rc = ent__val_pack(b, t->fields[i], &e->slots[i]))) return rc;
    }
    return ent__buf_ok(b);
}

int ent__record_encode(ent_buf *b, const ent_entity *e, size_t *fields_at)
{
    ent__mpw_array(b, 2);
    ent__mpw_uint64(b, e->version);
    if (fields_at) *fields_at = b->n;
    return ent__fields_pack(b, e, NULL);
}

/* ---- validating while packing ------------------------------------------------------------- */


/* Bytes a scalar or string packs into at most. */
static inline size_t scalar_bound(const ent_val *v)
{
    return v->k == EV_STR || v->k == EV_BIN ? 5 + v->u.s.n : 9;
}

/* Bytes field f's value v packs into at most when the quick checks below can handle it (kinds,
 * UTF-8, unset items: what ent_entity_validate() checks of such values), else 0. */
static size_t plain_bound(const ent_field *f, const ent_val *v)
{
    size_t i, n = 5;
    if (v->k != f->ev || !f->plain) return 0;
    switch (v->k) {
    case EV_ARR:
        if (!f->items || !f->items->plain || f->items->ev >= EV_ARR) return 0;
        for (i = 0; i < v->u.a.n; i++) n += scalar_bound(&v->u.a.v[i]);
        return n;
    case EV_OBJ:
        for (i = 0; i < v->u.o.n; i++) n += 5 + v->u.o.kv[i].klen + scalar_bound(&v->u.o.kv[i].v);
        return n;
    case EV_MAP: return 0;
    default: return scalar_bound(v);
    }
}

/* A string's or bytes' body at *w (the template's body writers call memcpy() for each). */
static inline void raw_body(unsigned char **w, const void *p, size_t n)
{
    ent__copy(*w, p, n);
    *w += n;
}

/* Pack a scalar or string v at *w if it is valid as such: 1 packed, 0 invalid or not a kind this
 * handles (the caller asks the validator). */
/* (always inlined: called per item, and gcc keeps it out of line otherwise) */
static inline __attribute__((always_inline)) int raw_scalar(unsigned char **w, const ent_val *v)
{
    switch (v->k) {
    case EV_BOOL: v->u.b ? ent__mpr_true(w) : ent__mpr_false(w); return 1;
    case EV_INT:
    case EV_TS: ent__mpr_int64(w, v->u.i); return 1;
    case EV_UINT: ent__mpr_uint64(w, v->u.u); return 1;
    case EV_FLOAT: ent__mpr_double(w, v->u.f); return 1;
    case EV_STR:
        if (!ent__utf8_ok_short(v->u.s.p, v->u.s.n)) return 0;
        ent__mpr_str(w, v->u.s.n);
        raw_body(w, v->u.s.p, v->u.s.n);
        return 1;
    case EV_BIN:
        ent__mpr_bin(w, v->u.s.n);
        raw_body(w, v->u.s.p, v->u.s.n);
        return 1;
    default: return 0;
    }
}

/* Pack field f's value v (plain_bound() != 0, room reserved) at *w when the quick checks can tell
 * it valid: 1 packed, 0 not (the caller validates it fully and packs it the usual way). */
static int raw_checked(unsigned char **w, const ent_field *f, const ent_val *v)
{
    size_t i;
    switch (v->k) {
    case EV_ARR:
        ent__mpr_array(w, v->u.a.n);
        for (i = 0; i < v->u.a.n; i++)
            if (v->u.a.v[i].k != f->items->ev || !raw_scalar(w, &v->u.a.v[i])) return 0;
        return 1;
    case EV_OBJ:
        ent__mpr_map(w, v->u.o.n);
        for (i = 0; i < v->u.o.n; i++) {
            const ent_kv *kv = &v->u.o.kv[i];
            if (!ent__utf8_ok_short(kv->k, kv->klen)) return 0;
            ent__mpr_str(w, kv->klen);
            raw_body(w, kv->k, kv->klen);
            if (kv->v.k == EV_NIL) ent__mpr_nil(w);
            else if (kv->v.k == EV_TS || !raw_scalar(w, &kv->v)) return 0;
        }
        return 1;
    default: return raw_scalar(w, v);
    }
}

int ent__record_encode_valid(ent_buf *b, const ent_entity *e, uint64_t version, size_t *fields_at)
{
    const ent_type *t = e->type;
    size_t i, n = 0;
    unsigned char *w;
    int rc;
    if ((rc = ent__buf_ok(b))) return rc; /* a failed buffer stays failed (mp_write.h) */
    for (i = 0; i < t->n_fields; i++) n += e->slots[i].k != EV_UNSET;
    if ((rc = ent__buf_reserve(b, 1 + 9 + 5))) return rc;
    w = (unsigned char *)b->p + b->n;
    ent__mpr_array(&w, 2);
    ent__mpr_uint64(&w, version);
    if (fields_at) *fields_at = (size_t)((char *)w - b->p);
    ent__mpr_map(&w, n);
    b->n = (size_t)((char *)w - b->p);
    for (i = 0; i < t->n_fields; i++) {
        const ent_field *f = t->fields[i];
        const ent_val *v = &e->slots[i];
        size_t bound;
        if (v->k == EV_UNSET) {
            if (f->required && (rc = ent__field_validate(e, i))) return rc;
            continue;
        }
        if ((bound = plain_bound(f, v)) != 0) {
            /* room for the id and the value, then writes without a check each */
            if (b->cap - b->n < 5 + bound && (rc = ent__buf_reserve(b, 5 + bound))) return rc;
            w = (unsigned char *)b->p + b->n;
            ent__mpr_uint32(&w, f->id);
            if (raw_checked(&w, f, v)) {
                b->n = (size_t)((char *)w - b->p);
                continue;
            }
        }
        /* the validator says what is wrong; a value it accepts is packed the usual way */
        if ((rc = ent__field_validate(e, i))) return rc;
        ent__mpw_uint32(b, f->id);
        if ((rc = ent__val_pack(b, f, v)) || (rc = ent__buf_ok(b))) return rc;
    }
    return ENT_OK;
}

int ent_entity_encode(void **out, size_t *out_len, const ent_entity *e)
{
    ent_buf b = {NULL, 0, 0};
    int rc;
    if (!out || !out_len) return ent__err(ENT_INVALID, "ent_entity_encode: %s is NULL", out ? "out_len" : "out");
    *out = NULL;
    *out_len = 0;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = ent__record_encode(&b, e, NULL))) {
        ent__buf_free(&b);
        return rc;
    }
    *out = b.p;
    *out_len = b.n;
    return ENT_OK;
}

/* ---- structural check -------------------------------------------------------------------- */

/* Walk the msgpack bytes without building anything: every length within bounds, exactly one
 * object, nothing after it. msgpack-c allocates an array's items before reading them, so a
 * 5-byte "array of 4 billion items" would ask for ~100 GB; here every pending item must still
 * have a byte left, which bounds what the unpacker allocates by the input size. */
int ent__mp_check(const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t pos = 0;
    uint64_t need = 1, cnt, len;
    while (need) {
        unsigned b;
        if (pos >= n) return -1;
        b = p[pos++];
        need--;
        cnt = len = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b <= 0x8f) {
            cnt = (uint64_t)(b & 0x0f) * 2;
        } else if (b <= 0x9f) {
            cnt = b & 0x0f;
        } else if (b <= 0xbf) {
            len = b & 0x1f;
        } else {
            size_t w;
            uint64_t v = 0;
            switch (b) {
            case 0xc4: case 0xd9: w = 1; break; /* bin8, str8 */
            case 0xc5: case 0xda: w = 2; break;
            case 0xc6: case 0xdb: w = 4; break;
            case 0xc7: w = 1; break; /* ext8: length, then a type byte */
            case 0xc8: w = 2; break;
            case 0xc9: w = 4; break;
            case 0xca: len = 4; w = 0; break;
            case 0xcb: len = 8; w = 0; break;
            case 0xcc: case 0xd0: len = 1; w = 0; break;
            case 0xcd: case 0xd1: len = 2; w = 0; break;
            case 0xce: case 0xd2: len = 4; w = 0; break;
            case 0xcf: case 0xd3: len = 8; w = 0; break;
            case 0xd4: len = 2; w = 0; break; /* fixext: type byte + data */
            case 0xd5: len = 3; w = 0; break;
            case 0xd6: len = 5; w = 0; break;
            case 0xd7: len = 9; w = 0; break;
            case 0xd8: len = 17; w = 0; break;
            case 0xdc: case 0xde: w = 2; break;
            case 0xdd: case 0xdf: w = 4; break;
            default: return -1; /* 0xc1 is never used */
            }
            if (w) {
                if (n - pos < w) return -1;
                for (size_t i = 0; i < w; i++) v = v << 8 | p[pos + i];
                pos += w;
                if (b == 0xdc || b == 0xdd) cnt = v;
                else if (b == 0xde || b == 0xdf) cnt = v * 2;
                else if (b >= 0xc7 && b <= 0xc9) len = v + 1;
                else len = v;
            }
        }
        if (len > n - pos) return -1;
        pos += len;
        need += cnt;
        if (need > n - pos) return -1; /* every pending item takes at least one byte */
    }
    return pos == n ? 0 : -1;
}

/* ---- unpacking --------------------------------------------------------------------------- */

static int corrupt(const ent_field *spec, const char *what)
{
    char buf[256];
    if (spec && spec->name && spec->type)
        return ent__err(ENT_CORRUPT, "corrupt record: %s: %s", ent__field_path(spec, buf, sizeof buf), what);
    return ent__err(ENT_CORRUPT, "corrupt record: %s", what);
}

/* Field of `fields` with id; `guess` first, since records list fields in declaration order. */
static const ent_field *by_id(ent_field *const *fields, size_t n, uint64_t id, size_t *guess)
{
    size_t i;
    if (*guess < n && fields[*guess]->id == id) return fields[(*guess)++];
    for (i = 0; i < n; i++)
        if (fields[i]->id == id) {
            *guess = i + 1;
            return fields[i];
        }
    return NULL;
}

static int kv_cmp(const void *a, const void *b)
{
    const ent_kv *x = *(const ent_kv *const *)a, *y = *(const ent_kv *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->k, y->k, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* 1 if a free-form map repeats a key (never written by us; would make paths and JSON ambiguous). */
int ent__obj_dup_keys(const ent_val *o)
{
    size_t i, j, n = o->u.o.n;
    const ent_kv **s;
    int dup = 0;
    if (n <= 32) {
        for (i = 0; i < n; i++)
            for (j = i + 1; j < n; j++)
                if (o->u.o.kv[i].klen == o->u.o.kv[j].klen &&
                    memcmp(o->u.o.kv[i].k, o->u.o.kv[j].k, o->u.o.kv[i].klen) == 0)
                    return 1;
        return 0;
    }
    s = malloc(n * sizeof *s);
    if (!s) return -1;
    for (i = 0; i < n; i++) s[i] = &o->u.o.kv[i];
    qsort(s, n, sizeof *s, kv_cmp);
    for (i = 1; i < n && !dup; i++) dup = kv_cmp(&s[i - 1], &s[i]) == 0;
    free(s);
    return dup;
}

static int unpack_free(ent_val *out, const msgpack_object *o)
{
    size_t i;
    int rc;
    memset(out, 0, sizeof *out);
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: out->k = EV_NIL; return ENT_OK;
    case MSGPACK_OBJECT_BOOLEAN:
        out->k = EV_BOOL;
        out->u.b = o->via.boolean;
        return ENT_OK;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        out->k = EV_UINT;
        out->u.u = o->via.u64;
        return ENT_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        out->k = EV_INT;
        out->u.i = o->via.i64;
        return ENT_OK;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        out->k = EV_FLOAT;
        out->u.f = o->via.f64;
        return ENT_OK;
    case MSGPACK_OBJECT_STR: return ent__val_set_str(out, EV_STR, o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: return ent__val_set_str(out, EV_BIN, o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY:
        out->k = EV_ARR;
        if (o->via.array.size) {
            out->u.a.v = calloc(o->via.array.size, sizeof(ent_val));
            if (!out->u.a.v) return ent__err(ENT_NOMEM, "out of memory");
            out->u.a.cap = o->via.array.size;
        }
        for (i = 0; i < o->via.array.size; i++, out->u.a.n++)
            if ((rc = unpack_free(&out->u.a.v[i], &o->via.array.ptr[i]))) goto fail;
        return ENT_OK;
    case MSGPACK_OBJECT_MAP:
        out->k = EV_OBJ;
        if (o->via.map.size) {
            out->u.o.kv = calloc(o->via.map.size, sizeof(ent_kv));
            if (!out->u.o.kv) return ent__err(ENT_NOMEM, "out of memory");
            out->u.o.cap = o->via.map.size;
        }
        for (i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            ent_kv *d = &out->u.o.kv[i];
            if (kv->key.type != MSGPACK_OBJECT_STR) {
                rc = corrupt(NULL, "free-form map key is not a string");
                goto fail;
            }
            d->k = malloc(kv->key.via.str.size + 1);
            if (!d->k) {
                rc = ent__err(ENT_NOMEM, "out of memory");
                goto fail;
            }
            /* msgpack-c gives an empty string a NULL pointer: memcpy() must not see it */
            if (kv->key.via.str.size) memcpy(d->k, kv->key.via.str.ptr, kv->key.via.str.size);
            d->k[kv->key.via.str.size] = '\0';
            d->klen = kv->key.via.str.size;
            out->u.o.n++;
            if ((rc = unpack_free(&d->v, &kv->val))) goto fail;
        }
        if ((rc = ent__obj_dup_keys(out))) {
            rc = rc < 0 ? ent__err(ENT_NOMEM, "out of memory") : corrupt(NULL, "free-form map repeats a key");
            goto fail;
        }
        return ENT_OK;
    default: return corrupt(NULL, "unsupported msgpack type in a free-form value");
    }
fail:
    ent__val_clear(out);
    return rc;
}

static int unpack_map(ent_val *out, const ent_field *spec, const msgpack_object *o)
{
    size_t i, guess = 0;
    int rc;
    if ((rc = ent__map_init(out, spec))) return rc;
    for (i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        const ent_field *sf;
        ent_val *slot;
        if (kv->key.type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            rc = corrupt(spec, "sub-field id is not an unsigned integer");
            goto fail;
        }
        sf = by_id(spec->fields, spec->n_fields, kv->key.via.u64, &guess);
        if (!sf || kv->val.type == MSGPACK_OBJECT_NIL) continue; /* removed from the schema */
        slot = &out->u.m.v[sf->pos];
        if (slot->k != EV_UNSET) {
            rc = corrupt(sf, "field repeated");
            goto fail;
        }
        if ((rc = ent__val_unpack(slot, sf, &kv->val))) goto fail;
    }
    return ENT_OK;
fail:
    ent__val_clear(out);
    return rc;
}

int ent__val_unpack(ent_val *out, const ent_field *spec, const msgpack_object *o)
{
    size_t i;
    int rc;
    uint8_t want;
    memset(out, 0, sizeof *out);
    if (!spec) return unpack_free(out, o);
    want = spec->ev;
    switch (want) {
    case EV_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN) break;
        out->k = EV_BOOL;
        out->u.b = o->via.boolean;
        return ENT_OK;
    case EV_INT:
    case EV_TS:
        if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) out->u.i = o->via.i64;
        else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
            out->u.i = (int64_t)o->via.u64;
        else break;
        out->k = want;
        return ENT_OK;
    case EV_UINT:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) break;
        out->k = EV_UINT;
        out->u.u = o->via.u64;
        return ENT_OK;
    case EV_FLOAT:
        if (o->type != MSGPACK_OBJECT_FLOAT64 && o->type != MSGPACK_OBJECT_FLOAT32) break;
        out->k = EV_FLOAT;
        out->u.f = o->via.f64;
        return ENT_OK;
    case EV_STR:
        if (o->type != MSGPACK_OBJECT_STR) break;
        return ent__val_set_str(out, EV_STR, o->via.str.ptr, o->via.str.size);
    case EV_BIN:
        if (o->type != MSGPACK_OBJECT_BIN) break;
        return ent__val_set_str(out, EV_BIN, o->via.bin.ptr, o->via.bin.size);
    case EV_ARR:
        if (o->type != MSGPACK_OBJECT_ARRAY) break;
        out->k = EV_ARR;
        if (o->via.array.size) {
            out->u.a.v = calloc(o->via.array.size, sizeof(ent_val));
            if (!out->u.a.v) return ent__err(ENT_NOMEM, "out of memory");
            out->u.a.cap = o->via.array.size;
        }
        for (i = 0; i < o->via.array.size; i++, out->u.a.n++) {
            const msgpack_object *it = &o->via.array.ptr[i];
            if (it->type == MSGPACK_OBJECT_NIL) continue; /* an unset item */
            if ((rc = ent__val_unpack(&out->u.a.v[i], spec->items, it))) {
                out->u.a.n++;
                ent__val_clear(out);
                return rc;
            }
        }
        return ENT_OK;
    case EV_MAP:
        if (o->type != MSGPACK_OBJECT_MAP) break;
        return unpack_map(out, spec, o);
    case EV_OBJ:
        if (o->type != MSGPACK_OBJECT_MAP) break;
        return unpack_free(out, o);
    default: break;
    }
    return corrupt(spec, "value of the wrong kind");
}

/* Set the top-level fields of e from a {id: value} map; mark: mark each touched field changed;
 * strict: a record (a repeated id or a nil is corrupt), else a fields map of an event. */
static int apply_fields(ent_entity *e, const msgpack_object *map, int mark, int strict)
{
    const ent_type *t = e->type;
    size_t i, guess = 0;
    int rc;
    if (map->type != MSGPACK_OBJECT_MAP) return corrupt(NULL, "fields are not a map");
    for (i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        const ent_field *f;
        ent_val nv;
        if (kv->key.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return corrupt(NULL, "field id is not an unsigned integer");
        f = by_id(t->fields, t->n_fields, kv->key.via.u64, &guess);
        if (!f) { /* a field removed from the schema (or damage: verify tells them apart) */
            if (ent__record_nskipped < ENT__RECORD_SKIPPED_MAX) ent__record_skipped[ent__record_nskipped] = kv->key.via.u64;
            ent__record_nskipped++;
            continue;
        }
        if (strict && e->slots[f->pos].k != EV_UNSET) return corrupt(f, "field repeated");
        if (kv->val.type == MSGPACK_OBJECT_NIL) {
            if (strict) return corrupt(f, "nil field");
            ent__val_clear(&e->slots[f->pos]);
        } else {
            if ((rc = ent__val_unpack(&nv, f, &kv->val))) return rc;
            ent__val_clear(&e->slots[f->pos]);
            e->slots[f->pos] = nv;
        }
        if (mark) ent__mark_changed(e, f->pos);
    }
    return ENT_OK;
}

int ent__fields_apply(ent_entity *e, const msgpack_object *map) { return apply_fields(e, map, 1, 0); }

/* ---- a zone per thread for decoding ------------------------------------------------------------
 * msgpack-c unpacks into a zone. A zone made per decode mallocs a chunk of 1 KiB or more, which
 * glibc serves from its large bins after consolidating the small ones: perf put a fifth of a log
 * read there. Each thread keeps one zone, cleared after each decode (msgpack_zone_clear keeps its
 * first chunk); a nested decode on the same thread gets a zone of its own. */
static pthread_key_t zone_key;
static pthread_once_t zone_once = PTHREAD_ONCE_INIT;
static int zone_key_ok;

static void zone_key_free(void *z) { msgpack_zone_free(z); }
static void zone_key_make(void) { zone_key_ok = pthread_key_create(&zone_key, zone_key_free) == 0; }

/* Set while the thread's zone is lent out, so a nested decode makes its own. */
static _Thread_local int zone_busy;

msgpack_zone *ent__zone_take(void)
{
    msgpack_zone *z = NULL;
    pthread_once(&zone_once, zone_key_make);
    if (!zone_busy && zone_key_ok) {
        z = pthread_getspecific(zone_key);
        if (!z && (z = msgpack_zone_new(4096)) && pthread_setspecific(zone_key, z) != 0) {
            msgpack_zone_free(z);
            z = NULL;
        }
        if (z) {
            zone_busy = 1;
            return z;
        }
    }
    return msgpack_zone_new(1024); /* nested, or no thread key: a zone of its own */
}

void ent__zone_give(msgpack_zone *z)
{
    if (!z) return;
    if (zone_key_ok && zone_busy && z == pthread_getspecific(zone_key)) {
        msgpack_zone_clear(z);
        zone_busy = 0;
        return;
    }
    msgpack_zone_free(z);
}

/* ent__record_decode(): codec_read.c, straight from the bytes. */

int ent__record_stored(ent_entity **out, const ent_type *t, const void *p, size_t n)
{
    int rc = ent__record_decode(out, t, p, n);
    /* A stored entity is at a version from 1 to ENT_VERSION_ANY - 1: 0 means "not stored" and
     * UINT64_MAX "any version" to the calls that take one. A damaged version 0 read as such, and
     * the next update stored and logged version 1 after the log's version 2: the damage was gone
     * from the record, the log went back, and check found nothing. */
    if (rc == ENT_OK && ((*out)->version == 0 || (*out)->version == UINT64_MAX /* ENT_VERSION_ANY */)) {
        rc = ent__err(ENT_CORRUPT, "corrupt record: version %" PRIu64 " (a stored entity is at 1 to 2^64-2)",
                      (*out)->version);
        ent_entity_free(*out);
        *out = NULL;
    }
    return rc;
}

int ent__record_read(ent_entity **out, const ent_type *t, const void *p, size_t n)
{
    /* A record written before an evolution added a field with a default reads with it. */
    int rc = ent__record_stored(out, t, p, n);
    if (rc == ENT_OK && (rc = ent__entity_fill_defaults(*out, 0))) {
        ent_entity_free(*out);
        *out = NULL;
    }
    return rc;
}

int ent_entity_decode(ent_entity **out, const ent_type *t, const void *rec, size_t len)
{
    if (!out) return ent__err(ENT_INVALID, "ent_entity_decode: out is NULL");
    *out = NULL;
    if (!t) return ent__err(ENT_INVALID, "entity type is NULL");
    /* A NULL record is the caller's slip, not stored bytes gone bad: not ENT_CORRUPT. */
    if (!rec && len) return ent__err(ENT_INVALID, "ent_entity_decode: record is NULL");
    return ent__record_decode(out, t, rec, len);
}

int ent__record_version(uint64_t *out, const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t w, i;
    uint64_t v = 0;
    if (!p || n < 2 || p[0] != 0x92) return corrupt(NULL, "not a [version, fields] record");
    if (p[1] <= 0x7f) {
        *out = p[1];
        return ENT_OK;
    }
    /* Signed encodings of non-negative numbers too: msgpack-c decodes them as positive integers,
     * so a record that ent__record_decode() accepts must have a version here as well. */
    switch (p[1]) {
    case 0xcc: case 0xd0: w = 1; break;
    case 0xcd: case 0xd1: w = 2; break;
    case 0xce: case 0xd2: w = 4; break;
    case 0xcf: case 0xd3: w = 8; break;
    default: return corrupt(NULL, "record version is not an unsigned integer");
    }
    if (n - 2 < w) return corrupt(NULL, "record truncated");
    if (p[1] >= 0xd0 && (p[2] & 0x80)) return corrupt(NULL, "record version is negative");
    for (i = 0; i < w; i++) v = v << 8 | p[2 + i];
    *out = v;
    return ENT_OK;
}
