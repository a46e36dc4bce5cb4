/* Entity values: the value tree, paths, typed get/set, arrays, changed tracking, defaults and
 * validation. JSON lives in entity_json.c, records in codec.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "value_int.h"

/* ---- values ------------------------------------------------------------------------------ */

void ent__val_clear(ent_val *v)
{
    size_t i;
    switch (v->k) {
    case EV_STR:
    case EV_BIN: free(v->u.s.p); break;
    case EV_ARR:
        for (i = 0; i < v->u.a.n; i++) ent__val_clear(&v->u.a.v[i]);
        free(v->u.a.v);
        break;
    case EV_MAP:
        for (i = 0; i < v->u.m.n; i++) ent__val_clear(&v->u.m.v[i]);
        free(v->u.m.v);
        break;
    case EV_OBJ:
        for (i = 0; i < v->u.o.n; i++) {
            free(v->u.o.kv[i].k);
            ent__val_clear(&v->u.o.kv[i].v);
        }
        free(v->u.o.kv);
        break;
    default: break;
    }
    memset(v, 0, sizeof *v);
}

int ent__val_set_str(ent_val *v, uint8_t kind, const void *p, size_t n)
{
    /* One byte more than needed: strings stay NUL-terminated and an empty value is never NULL. */
    char *c = malloc(n + 1);
    if (!c) return ent__err(ENT_NOMEM, "out of memory");
    if (n) memcpy(c, p, n);
    c[n] = '\0';
    v->k = kind;
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
    default: *dst = *src; return ENT_OK;
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
static const char *spec_expects(const ent_field *f)
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
    while (s < end) {
        unsigned c = *s;
        size_t len;
        uint32_t cp;
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

/* ---- numeric limits ------------------------------------------------------------------------ */

/* Sign of (i - d) for a non-NaN double, exact for every pair (no rounding of i to double). */
static int cmp_i_f(int64_t i, double d)
{
    int64_t t;
    double frac;
    if (d >= 9223372036854775808.0) return -1;
    if (d < -9223372036854775808.0) return 1;
    t = (int64_t)d; /* truncates toward zero, in range */
    if (i != t) return i < t ? -1 : 1;
    frac = d - (double)t; /* exact: t is d without its fraction */
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cmp_u_f(uint64_t u, double d)
{
    uint64_t t;
    double frac;
    if (d < 0) return 1;
    if (d >= 18446744073709551616.0) return -1;
    t = (uint64_t)d;
    if (u != t) return u < t ? -1 : 1;
    frac = d - (double)t;
    return frac > 0 ? -1 : 0;
}

/* Sign of (value - limit); value given as a limit-shaped number. Neither side is NaN. */
static int cmp_num(const ent_limit *a, const ent_limit *b)
{
    switch (a->set * 4 + b->set) {
    case ENT_LIM_INT * 4 + ENT_LIM_INT: return (a->v.i > b->v.i) - (a->v.i < b->v.i);
    case ENT_LIM_UINT * 4 + ENT_LIM_UINT: return (a->v.u > b->v.u) - (a->v.u < b->v.u);
    case ENT_LIM_FLOAT * 4 + ENT_LIM_FLOAT: return (a->v.f > b->v.f) - (a->v.f < b->v.f);
    case ENT_LIM_INT * 4 + ENT_LIM_UINT:
        if (a->v.i < 0) return -1;
        return ((uint64_t)a->v.i > b->v.u) - ((uint64_t)a->v.i < b->v.u);
    case ENT_LIM_UINT * 4 + ENT_LIM_INT:
        if (b->v.i < 0) return 1;
        return (a->v.u > (uint64_t)b->v.i) - (a->v.u < (uint64_t)b->v.i);
    case ENT_LIM_INT * 4 + ENT_LIM_FLOAT: return cmp_i_f(a->v.i, b->v.f);
    case ENT_LIM_UINT * 4 + ENT_LIM_FLOAT: return cmp_u_f(a->v.u, b->v.f);
    case ENT_LIM_FLOAT * 4 + ENT_LIM_INT: return -cmp_i_f(b->v.i, a->v.f);
    case ENT_LIM_FLOAT * 4 + ENT_LIM_UINT: return -cmp_u_f(b->v.u, a->v.f);
    default: return 0;
    }
}

static const char *limit_str(const ent_limit *l, char *buf, size_t size)
{
    if (l->set == ENT_LIM_INT) snprintf(buf, size, "%lld", (long long)l->v.i);
    else if (l->set == ENT_LIM_UINT) snprintf(buf, size, "%llu", (unsigned long long)l->v.u);
    else snprintf(buf, size, "%.17g", l->v.f);
    return buf;
}

/* ---- validation -------------------------------------------------------------------------- */

/* Path being validated, grown in place as the walk descends. */
typedef struct vpath {
    /* The path is kept as a stack of segments and formatted only when an error names it:
     * formatting it on every field cost a fifth of a create (perf, entity bench). */
    struct {
        const char *sep, *name; /* name NULL: an array index */
        size_t idx;
    } seg[ENT__MAX_DEPTH + 8];
    size_t n;
    char buf[512];
} vpath;

/* Push a name after sep (may be ""); returns the old depth for vp_pop(). */
static size_t vp_name(vpath *p, const char *sep, const char *name)
{
    size_t old = p->n;
    if (p->n < sizeof p->seg / sizeof p->seg[0]) {
        p->seg[p->n].sep = sep;
        p->seg[p->n].name = name;
    }
    p->n++;
    return old;
}

static size_t vp_index(vpath *p, size_t idx)
{
    size_t old = p->n;
    if (p->n < sizeof p->seg / sizeof p->seg[0]) {
        p->seg[p->n].name = NULL;
        p->seg[p->n].idx = idx;
    }
    p->n++;
    return old;
}

static void vp_pop(vpath *p, size_t old) { p->n = old; }

/* The path as text, for an error message. */
static const char *vp_str(vpath *p)
{
    size_t i, len = 0, max = sizeof p->seg / sizeof p->seg[0];
    int w;
    p->buf[0] = '\0';
    for (i = 0; i < p->n && i < max && len < sizeof p->buf - 1; i++) {
        if (p->seg[i].name) w = snprintf(p->buf + len, sizeof p->buf - len, "%s%s", p->seg[i].sep, p->seg[i].name);
        else w = snprintf(p->buf + len, sizeof p->buf - len, "[%zu]", p->seg[i].idx);
        if (w > 0) len += (size_t)w;
    }
    return p->buf;
}

static int validate_free(const ent_val *v, vpath *p, int depth);
static int validate_val(const ent_field *spec, const ent_val *v, vpath *p, int depth);

static int check_depth(vpath *p, int depth)
{
    if (depth > ENT__MAX_DEPTH)
        return ent__err(ENT_INVALID, "%s: nested deeper than %d levels", vp_str(p), ENT__MAX_DEPTH);
    return ENT_OK;
}

static int validate_free(const ent_val *v, vpath *p, int depth)
{
    size_t i, old;
    int rc;
    switch (v->k) {
    case EV_STR:
        if (!ent__utf8_ok(v->u.s.p, v->u.s.n))
            return ent__err(ENT_INVALID, "%s: invalid UTF-8", vp_str(p));
        return ENT_OK;
    case EV_ARR:
        if ((rc = check_depth(p, depth + 1))) return rc;
        for (i = 0; i < v->u.a.n; i++) {
            old = vp_index(p, i);
            if (v->u.a.v[i].k == EV_UNSET)
                rc = ent__err(ENT_INVALID, "%s: unset array item", vp_str(p));
            else
                rc = validate_free(&v->u.a.v[i], p, depth + 1);
            vp_pop(p, old);
            if (rc) return rc;
        }
        return ENT_OK;
    case EV_OBJ:
        if ((rc = check_depth(p, depth + 1))) return rc;
        for (i = 0; i < v->u.o.n; i++) {
            const ent_kv *kv = &v->u.o.kv[i];
            if (!ent__utf8_ok(kv->k, kv->klen))
                return ent__err(ENT_INVALID, "%s: key %zu is invalid UTF-8", vp_str(p), i);
            old = vp_name(p, ".", kv->k);
            rc = validate_free(&kv->v, p, depth + 1);
            vp_pop(p, old);
            if (rc) return rc;
        }
        return ENT_OK;
    case EV_NIL:
    case EV_BOOL:
    case EV_INT:
    case EV_UINT:
    case EV_FLOAT:
    case EV_BIN: return ENT_OK;
    default: return ent__err(ENT_INVALID, "%s: %s is not a free-form value", vp_str(p), ent__ev_name(v->k));
    }
}

static int check_range(const ent_field *spec, const ent_limit *val, vpath *p)
{
    char lb[64];
    if (spec->min.set && cmp_num(val, &spec->min) < 0)
        return ent__err(ENT_INVALID, "%s: less than min %s", vp_str(p), limit_str(&spec->min, lb, sizeof lb));
    if (spec->max.set && cmp_num(val, &spec->max) > 0)
        return ent__err(ENT_INVALID, "%s: greater than max %s", vp_str(p),
                        limit_str(&spec->max, lb, sizeof lb));
    return ENT_OK;
}

static int validate_val(const ent_field *spec, const ent_val *v, vpath *p, int depth)
{
    ent_limit num;
    size_t i, old;
    int rc;
    uint8_t want = ent__ev_kind(spec);
    if (v->k != want)
        return ent__err(ENT_INVALID, "%s: expected %s, holds %s", vp_str(p), spec_expects(spec),
                        ent__ev_name(v->k));
    switch (spec->kind) {
    case ENT_KIND_INT:
    case ENT_KIND_TIMESTAMP:
        num.set = ENT_LIM_INT;
        num.v.i = v->u.i;
        return check_range(spec, &num, p);
    case ENT_KIND_UINT:
        num.set = ENT_LIM_UINT;
        num.v.u = v->u.u;
        return check_range(spec, &num, p);
    case ENT_KIND_FLOAT:
        if (isnan(v->u.f) && (spec->min.set || spec->max.set))
            return ent__err(ENT_INVALID, "%s: NaN is outside min/max", vp_str(p));
        if (isnan(v->u.f)) return ENT_OK;
        num.set = ENT_LIM_FLOAT;
        num.v.f = v->u.f;
        return check_range(spec, &num, p);
    case ENT_KIND_STRING:
        if (!ent__utf8_ok(v->u.s.p, v->u.s.n))
            return ent__err(ENT_INVALID, "%s: invalid UTF-8", vp_str(p));
        if (spec->has_max_length && v->u.s.n > spec->max_length)
            return ent__err(ENT_INVALID, "%s: longer than max_length %llu (%zu bytes)", vp_str(p),
                            (unsigned long long)spec->max_length, v->u.s.n);
        if (spec->n_enums) {
            for (i = 0; i < spec->n_enums; i++)
                if (strlen(spec->enums[i]) == v->u.s.n && memcmp(spec->enums[i], v->u.s.p, v->u.s.n) == 0)
                    return ENT_OK;
            return ent__err(ENT_INVALID, "%s: \"%.64s\" is not in enum", vp_str(p), v->u.s.p);
        }
        return ENT_OK;
    case ENT_KIND_BYTES:
        if (spec->has_max_length && v->u.s.n > spec->max_length)
            return ent__err(ENT_INVALID, "%s: longer than max_length %llu (%zu bytes)", vp_str(p),
                            (unsigned long long)spec->max_length, v->u.s.n);
        return ENT_OK;
    case ENT_KIND_REF:
        if (v->k == EV_STR) {
            if (v->u.s.n == 0 || v->u.s.n > ENT_KEY_STRING_MAX || !ent__utf8_ok(v->u.s.p, v->u.s.n))
                return ent__err(ENT_INVALID, "%s: not a valid string key (1 to %d bytes of UTF-8)",
                                vp_str(p), ENT_KEY_STRING_MAX);
        } else if (v->u.u == 0) {
            return ent__err(ENT_INVALID, "%s: id 0 is not a valid key", vp_str(p));
        }
        return ENT_OK;
    case ENT_KIND_ARRAY:
        if ((rc = check_depth(p, depth + 1))) return rc;
        if (spec->has_max_length && v->u.a.n > spec->max_length)
            return ent__err(ENT_INVALID, "%s: longer than max_length %llu (%zu items)", vp_str(p),
                            (unsigned long long)spec->max_length, v->u.a.n);
        for (i = 0; i < v->u.a.n; i++) {
            old = vp_index(p, i);
            if (v->u.a.v[i].k == EV_UNSET)
                rc = ent__err(ENT_INVALID, "%s: unset array item", vp_str(p));
            else
                rc = validate_val(spec->items, &v->u.a.v[i], p, depth + 1);
            vp_pop(p, old);
            if (rc) return rc;
        }
        return ENT_OK;
    case ENT_KIND_MAP:
        if (!spec->fields) return validate_free(v, p, depth);
        if ((rc = check_depth(p, depth + 1))) return rc;
        for (i = 0; i < spec->n_fields; i++) {
            const ent_field *sf = spec->fields[i];
            const ent_val *sv = i < v->u.m.n ? &v->u.m.v[i] : NULL;
            old = vp_name(p, ".", sf->name);
            if (!sv || sv->k == EV_UNSET)
                rc = sf->required ? ent__err(ENT_INVALID, "%s: missing required field", vp_str(p)) : ENT_OK;
            else
                rc = validate_val(sf, sv, p, depth + 1);
            vp_pop(p, old);
            if (rc) return rc;
        }
        return ENT_OK;
    default: return ENT_OK;
    }
}

int ent__val_validate(const ent_field *spec, const ent_val *v, const char *path)
{
    vpath p;
    p.n = 0;
    vp_name(&p, "", path ? path : "");
    if (v->k == EV_UNSET) return ent__err(ENT_INVALID, "%s: no value", vp_str(&p));
    return spec ? validate_val(spec, v, &p, 0) : validate_free(v, &p, 0);
}

int ent_entity_validate(const ent_entity *e)
{
    const ent_type *t;
    vpath p;
    size_t i;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    t = e->type;
    for (i = 0; i < t->n_fields; i++) {
        const ent_field *f = t->fields[i];
        const ent_val *v = &e->slots[i];
        p.n = 0;
        vp_name(&p, "", t->name);
        vp_name(&p, ".", f->name);
        if (v->k == EV_UNSET) {
            if (f->required) return ent__err(ENT_INVALID, "%s: missing required field", vp_str(&p));
            continue;
        }
        if ((rc = validate_val(f, v, &p, 0))) return rc;
    }
    return ENT_OK;
}

/* ---- life cycle -------------------------------------------------------------------------- */

static size_t changed_words(const ent_type *t) { return (t->n_fields + 63) / 64; }

int ent_entity_new(ent_entity **out, const ent_type *t)
{
    ent_entity *e;
    size_t words;
    *out = NULL;
    if (!t) return ent__err(ENT_INVALID, "entity type is NULL");
    if (!t->schema || !t->schema->sealed)
        return ent__err(ENT_INVALID, "%s: the schema is not sealed (ent_schema_check)", t->name);
    /* One block: the entity, its changed bitset and its slots. */
    words = changed_words(t);
    e = calloc(1, sizeof *e + words * sizeof(uint64_t) + t->n_fields * sizeof(ent_val));
    if (!e) return ent__err(ENT_NOMEM, "out of memory");
    e->type = t;
    e->changed = (uint64_t *)(e + 1);
    e->slots = (ent_val *)(e->changed + words);
    *out = e;
    return ENT_OK;
}

void ent_entity_free(ent_entity *e)
{
    size_t i;
    if (!e) return;
    for (i = 0; i < e->type->n_fields; i++) ent__val_clear(&e->slots[i]);
    free(e->key_str);
    free(e);
}

int ent_entity_dup(ent_entity **out, const ent_entity *e)
{
    ent_entity *d;
    size_t i;
    int rc;
    *out = NULL;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = ent_entity_new(&d, e->type))) return rc;
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
    const ent_type *t = e->type;
    char *s;
    if (!key || key->kind != t->key)
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
    if (!key->str || key->len == 0 || key->len > ENT_KEY_STRING_MAX)
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

/* ---- paths ------------------------------------------------------------------------------- */

/* Walk modes. READ never changes the entity and reports unset steps as absent. CHECK walks the
 * same way but accepts an index equal to an array's length (an append) and reports the spec of the
 * final value: a setter runs CHECK first, so that a path that cannot be set changes nothing, then
 * CREATE, which builds the missing maps, arrays and free-form keys on the way. */
enum { W_READ, W_CHECK, W_CREATE };

typedef struct walk {
    ent_val *v;            /* NULL when absent (READ, CHECK) */
    const ent_field *spec; /* NULL inside free-form values */
    const ent_field *top;  /* the top-level field */
} walk;

static int path_err(int code, const ent_entity *e, const char *path, const char *what)
{
    return ent__err(code, "%s.%s: %s", e->type->name, path, what);
}

static ent_val *obj_find(const ent_val *o, const char *k, size_t klen)
{
    for (size_t i = 0; i < o->u.o.n; i++)
        if (o->u.o.kv[i].klen == klen && memcmp(o->u.o.kv[i].k, k, klen) == 0) return &o->u.o.kv[i].v;
    return NULL;
}

int ent__obj_add(ent_val *o, const char *k, size_t klen, ent_val **out)
{
    ent_kv *kv;
    if (o->u.o.n == o->u.o.cap) {
        size_t cap = o->u.o.cap ? o->u.o.cap * 2 : 4;
        ent_kv *p = realloc(o->u.o.kv, cap * sizeof *p);
        if (!p) return ent__err(ENT_NOMEM, "out of memory");
        o->u.o.kv = p;
        o->u.o.cap = cap;
    }
    kv = &o->u.o.kv[o->u.o.n];
    kv->k = malloc(klen + 1);
    if (!kv->k) return ent__err(ENT_NOMEM, "out of memory");
    memcpy(kv->k, k, klen);
    kv->k[klen] = '\0';
    kv->klen = klen;
    memset(&kv->v, 0, sizeof kv->v);
    o->u.o.n++;
    *out = &kv->v;
    return ENT_OK;
}

int ent__arr_insert(ent_val *a, size_t at)
{
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
    v->u.m.n = spec->n_fields;
    return ENT_OK;
}

static const ent_field *map_field(const ent_field *map, const char *name, size_t len)
{
    for (size_t i = 0; i < map->n_fields; i++)
        if (strlen(map->fields[i]->name) == len && memcmp(map->fields[i]->name, name, len) == 0)
            return map->fields[i];
    return NULL;
}

static const ent_field *type_field(const ent_type *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->n_fields; i++)
        if (strlen(t->fields[i]->name) == len && memcmp(t->fields[i]->name, name, len) == 0)
            return t->fields[i];
    return NULL;
}

/* Resolve `path` on e. Returns ENT_OK (w->v NULL when absent), ENT_INVALID (bad path, step into
 * a value that is not a map or array), ENT_NOTFOUND (no such field; READ: index out of range;
 * CHECK: index past the end), ENT_NOMEM (CREATE). */
static int walk_path(walk *w, const ent_entity *e, const char *path, int mode)
{
    const char *s = path, *name;
    size_t len;
    ent_val *v = NULL;
    const ent_field *spec;
    char what[160];
    int rc;

    if (!path) return ent__err(ENT_INVALID, "%s: path is NULL", e->type->name);
    len = strcspn(s, ".[");
    if (len == 0) return path_err(ENT_INVALID, e, path, "bad path: empty field name");
    spec = type_field(e->type, s, len);
    if (!spec) {
        snprintf(what, sizeof what, "no such field '%.*s'", (int)(len > 64 ? 64 : len), s);
        return path_err(ENT_NOTFOUND, e, path, what);
    }
    w->top = spec;
    v = &e->slots[spec->pos];
    s += len;
    while (*s) {
        if (v && v->k == EV_UNSET && mode != W_CREATE) v = NULL;
        if (*s == '.') {
            name = ++s;
            len = strcspn(s, ".[");
            if (len == 0) return path_err(ENT_INVALID, e, path, "bad path: empty field name");
            s += len;
            if (spec && spec->kind != ENT_KIND_MAP) {
                snprintf(what, sizeof what, "bad path: a %s has no fields", ent_kind_name(spec->kind));
                return path_err(ENT_INVALID, e, path, what);
            }
            if (spec && spec->fields) {
                const ent_field *sub = map_field(spec, name, len);
                if (!sub) {
                    snprintf(what, sizeof what, "no such field '%.*s'", (int)(len > 64 ? 64 : len), name);
                    return path_err(ENT_NOTFOUND, e, path, what);
                }
                if (v && v->k == EV_UNSET && (rc = ent__map_init(v, spec))) return rc;
                spec = sub;
                if (v) v = &v->u.m.v[sub->pos];
                continue;
            }
            /* free-form */
            spec = NULL;
            if (!v) continue;
            if (v->k == EV_UNSET) {
                v->k = EV_OBJ; /* CREATE: a new intermediate free-form map */
            } else if (v->k != EV_OBJ) {
                snprintf(what, sizeof what, "bad path: a %s has no fields", ent__ev_name(v->k));
                return path_err(ENT_INVALID, e, path, what);
            }
            {
                ent_val *c = obj_find(v, name, len);
                if (!c && mode == W_CREATE && (rc = ent__obj_add(v, name, len, &c))) return rc;
                v = c;
            }
        } else if (*s == '[') {
            size_t idx = 0, n;
            const char *d = ++s;
            while (*s >= '0' && *s <= '9') {
                if (idx > (SIZE_MAX >> 4)) return path_err(ENT_NOTFOUND, e, path, "index out of range");
                idx = idx * 10 + (size_t)(*s - '0');
                s++;
            }
            if (*s == '\0') return path_err(ENT_INVALID, e, path, "bad path: unterminated '['");
            if (s == d || *s != ']') return path_err(ENT_INVALID, e, path, "bad path: index is not a number");
            s++;
            if (*s && *s != '.' && *s != '[')
                return path_err(ENT_INVALID, e, path, "bad path: expected '.' or '[' after ']'");
            if (spec && spec->kind != ENT_KIND_ARRAY) {
                snprintf(what, sizeof what, "bad path: a %s cannot be indexed", ent_kind_name(spec->kind));
                return path_err(ENT_INVALID, e, path, what);
            }
            if (spec) spec = spec->items;
            if (v && v->k != EV_ARR && v->k != EV_UNSET) {
                snprintf(what, sizeof what, "bad path: a %s cannot be indexed", ent__ev_name(v->k));
                return path_err(ENT_INVALID, e, path, what);
            }
            n = v && v->k == EV_ARR ? v->u.a.n : 0;
            if (mode == W_READ) {
                if (!v) continue;
                if (idx >= n) return path_err(ENT_NOTFOUND, e, path, "index out of range");
                v = &v->u.a.v[idx];
                continue;
            }
            if (idx > n) return path_err(ENT_NOTFOUND, e, path, "index out of range");
            if (mode == W_CHECK) {
                v = v && idx < n ? &v->u.a.v[idx] : NULL;
                continue;
            }
            if (v->k == EV_UNSET) v->k = EV_ARR;
            if (idx == n && (rc = ent__arr_insert(v, idx))) return rc;
            v = &v->u.a.v[idx];
        } else {
            return path_err(ENT_INVALID, e, path, "bad path");
        }
    }
    if (v && v->k == EV_UNSET && mode != W_CREATE) v = NULL;
    w->v = v;
    w->spec = spec;
    return ENT_OK;
}

/* ---- setters ----------------------------------------------------------------------------- */

/* Can a value of runtime kind k be stored where spec says? spec NULL: free-form. */
static int kind_fits(const ent_field *spec, uint8_t k)
{
    if (!spec) return k != EV_TS && k != EV_MAP && k != EV_UNSET;
    return ent__ev_kind(spec) == k;
}

/* Free-form values keep one form per number so that a value read back from a record (msgpack has
 * no separate int for non-negative numbers) equals what was set. */
static void normalize_free(ent_val *v)
{
    if (v->k == EV_TS) v->k = EV_INT;
    if (v->k == EV_INT && v->u.i >= 0) {
        uint64_t u = (uint64_t)v->u.i;
        v->k = EV_UINT;
        v->u.u = u;
    }
}

static int kind_err(const ent_entity *e, const char *path, const ent_field *spec, uint8_t k)
{
    char what[96];
    snprintf(what, sizeof what, "expected %s, got %s", spec_expects(spec), ent__ev_name(k));
    return path_err(ENT_INVALID, e, path, what);
}

/* Store *nv (taken over) at path; on failure nv is cleared. */
int ent__path_put(ent_entity *e, const char *path, ent_val *nv)
{
    walk w;
    int rc;
    if (!e) {
        ent__val_clear(nv);
        return ent__err(ENT_INVALID, "entity is NULL");
    }
    if ((rc = walk_path(&w, e, path, W_CHECK))) goto fail;
    if (!w.spec) normalize_free(nv);
    if (!kind_fits(w.spec, nv->k)) {
        rc = kind_err(e, path, w.spec, nv->k);
        goto fail;
    }
    if ((rc = walk_path(&w, e, path, W_CREATE))) goto fail;
    ent__val_clear(w.v);
    *w.v = *nv;
    memset(nv, 0, sizeof *nv);
    ent__mark_changed(e, w.top->pos);
    return ENT_OK;
fail:
    ent__val_clear(nv);
    return rc;
}

int ent__path_spec(const ent_field **out, const ent_entity *e, const char *path)
{
    walk w;
    int rc = walk_path(&w, e, path, W_CHECK);
    *out = rc ? NULL : w.spec;
    return rc;
}

int ent_entity_set_bool(ent_entity *e, const char *path, int b)
{
    ent_val v = {EV_BOOL, {.b = !!b}};
    return ent__path_put(e, path, &v);
}

int ent_entity_set_int(ent_entity *e, const char *path, int64_t i)
{
    ent_val v = {EV_INT, {.i = i}};
    return ent__path_put(e, path, &v);
}

int ent_entity_set_uint(ent_entity *e, const char *path, uint64_t u)
{
    ent_val v = {EV_UINT, {.u = u}};
    return ent__path_put(e, path, &v);
}

int ent_entity_set_float(ent_entity *e, const char *path, double f)
{
    ent_val v = {EV_FLOAT, {.f = f}};
    return ent__path_put(e, path, &v);
}

int ent_entity_set_timestamp(ent_entity *e, const char *path, int64_t ns)
{
    ent_val v = {EV_TS, {.i = ns}};
    return ent__path_put(e, path, &v);
}

static int set_blob(ent_entity *e, const char *path, uint8_t kind, const void *p, size_t n)
{
    walk w;
    ent_val v;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if (!p && n) return path_err(ENT_INVALID, e, path ? path : "", "value is NULL");
    /* Check before copying: a kind mismatch on a large value should cost nothing. */
    if ((rc = walk_path(&w, e, path, W_CHECK))) return rc;
    if (!kind_fits(w.spec, kind)) return kind_err(e, path, w.spec, kind);
    if ((rc = ent__val_set_str(&v, kind, p, n))) return rc;
    return ent__path_put(e, path, &v);
}

int ent_entity_set_string(ent_entity *e, const char *path, const char *s)
{
    return set_blob(e, path, EV_STR, s, s ? strlen(s) : 0);
}

int ent_entity_set_stringn(ent_entity *e, const char *path, const char *s, size_t len)
{
    return set_blob(e, path, EV_STR, s, len);
}

int ent_entity_set_bytes(ent_entity *e, const char *path, const void *p, size_t len)
{
    return set_blob(e, path, EV_BIN, p, len);
}

int ent_entity_set_json(ent_entity *e, const char *path, const char *json)
{
    const ent_field *spec;
    ent_val v;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = ent__path_spec(&spec, e, path))) return rc;
    if (!json) return path_err(ENT_INVALID, e, path, "JSON is NULL");
    if ((rc = ent__val_from_json_text(&v, spec, json)))
        return ent__err_prefix(rc, "%s.%s: ", e->type->name, path);
    if (v.k == EV_UNSET) return ent_entity_unset(e, path); /* null on a declared field */
    return ent__path_put(e, path, &v);
}

int ent_entity_unset(ent_entity *e, const char *path)
{
    walk w;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ))) return rc;
    if (w.v) {
        ent__val_clear(w.v);
        ent__mark_changed(e, w.top->pos);
    }
    if (w.top && !w.v) ent__mark_changed(e, w.top->pos);
    return ENT_OK;
}

/* ---- getters ----------------------------------------------------------------------------- */

static int get_val(const ent_val **out, const ent_entity *e, const char *path)
{
    walk w;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ))) return rc;
    if (!w.v) return path_err(ENT_NOTFOUND, e, path, "not set");
    *out = w.v;
    return ENT_OK;
}

static int get_kind_err(const ent_entity *e, const char *path, const char *want, uint8_t k)
{
    char what[96];
    snprintf(what, sizeof what, "holds %s, not %s", ent__ev_name(k), want);
    return path_err(ENT_INVALID, e, path, what);
}

static int read_bool(int *out, const ent_val *v)
{
    if (v->k != EV_BOOL) return -1;
    *out = v->u.b;
    return 0;
}

/* int and timestamp reads accept a non-negative free-form number (stored as uint, see
 * normalize_free); a declared uint field never holds EV_INT, so this cannot blur declared kinds. */
static int read_int(int64_t *out, const ent_val *v, uint8_t want, int free_form)
{
    if (v->k == want) {
        *out = v->u.i;
        return 0;
    }
    if (free_form && v->k == EV_UINT && v->u.u <= INT64_MAX) {
        *out = (int64_t)v->u.u;
        return 0;
    }
    if (free_form && v->k == EV_INT) {
        *out = v->u.i;
        return 0;
    }
    return -1;
}

int ent_entity_get_bool(int *out, const ent_entity *e, const char *path)
{
    const ent_val *v = NULL;
    int rc = get_val(&v, e, path);
    if (rc) return rc;
    if (read_bool(out, v)) return get_kind_err(e, path, "bool", v->k);
    return ENT_OK;
}

static int get_intlike(int64_t *out, const ent_entity *e, const char *path, uint8_t want)
{
    walk w;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ))) return rc;
    if (!w.v) return path_err(ENT_NOTFOUND, e, path, "not set");
    if (read_int(out, w.v, want, !w.spec)) return get_kind_err(e, path, ent__ev_name(want), w.v->k);
    return ENT_OK;
}

int ent_entity_get_int(int64_t *out, const ent_entity *e, const char *path)
{
    return get_intlike(out, e, path, EV_INT);
}

int ent_entity_get_timestamp(int64_t *out, const ent_entity *e, const char *path)
{
    return get_intlike(out, e, path, EV_TS);
}

int ent_entity_get_uint(uint64_t *out, const ent_entity *e, const char *path)
{
    const ent_val *v = NULL;
    int rc = get_val(&v, e, path);
    if (rc) return rc;
    if (v->k != EV_UINT) return get_kind_err(e, path, "uint", v->k);
    *out = v->u.u;
    return ENT_OK;
}

int ent_entity_get_float(double *out, const ent_entity *e, const char *path)
{
    walk w;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ))) return rc;
    if (!w.v) return path_err(ENT_NOTFOUND, e, path, "not set");
    if (w.v->k == EV_FLOAT) *out = w.v->u.f;
    else if (!w.spec && w.v->k == EV_INT) *out = (double)w.v->u.i;
    else if (!w.spec && w.v->k == EV_UINT) *out = (double)w.v->u.u;
    else return get_kind_err(e, path, "float", w.v->k);
    return ENT_OK;
}

int ent_entity_get_string(const char **out, size_t *out_len, const ent_entity *e, const char *path)
{
    const ent_val *v = NULL;
    int rc = get_val(&v, e, path);
    if (rc) return rc;
    if (v->k != EV_STR) return get_kind_err(e, path, "string", v->k);
    *out = v->u.s.p;
    if (out_len) *out_len = v->u.s.n;
    return ENT_OK;
}

int ent_entity_get_bytes(const void **out, size_t *out_len, const ent_entity *e, const char *path)
{
    const ent_val *v = NULL;
    int rc = get_val(&v, e, path);
    if (rc) return rc;
    if (v->k != EV_BIN) return get_kind_err(e, path, "bytes", v->k);
    *out = v->u.s.p;
    if (out_len) *out_len = v->u.s.n;
    return ENT_OK;
}

int ent_entity_get_json(char **out, const ent_entity *e, const char *path)
{
    walk w;
    int rc;
    *out = NULL;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ))) return rc;
    if (!w.v) return path_err(ENT_NOTFOUND, e, path, "not set");
    return ent__val_to_json_text(out, w.spec, w.v, 0);
}

int ent_entity_has(const ent_entity *e, const char *path)
{
    walk w;
    if (!e || walk_path(&w, e, path, W_READ)) return 0;
    return w.v != NULL;
}

int ent_entity_kind(ent_kind *out, const ent_entity *e, const char *path)
{
    walk w;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ))) return rc;
    if (!w.v) return path_err(ENT_NOTFOUND, e, path, "not set");
    *out = w.spec ? w.spec->kind : ent__ev_to_kind(w.v->k);
    return ENT_OK;
}

/* ---- field handles ----------------------------------------------------------------------- */

static int field_err(const ent_entity *e, const ent_field *f, const char *what)
{
    char buf[256];
    if (!f) return ent__err(ENT_INVALID, "%s: field handle is NULL", e->type->name);
    return ent__err(ENT_INVALID, "%s: %s", ent__field_path(f, buf, sizeof buf), what);
}

/* The value of f (a top-level field or a declared map's sub-field reached without crossing an
 * array). create: build missing parent maps; else *out is NULL when a parent is unset. */
static int field_loc(ent_val **out, const ent_entity *e, const ent_field *f, int create)
{
    ent_val *pv = NULL;
    int rc;
    if (!f->parent) {
        *out = &e->slots[f->pos];
        return ENT_OK;
    }
    if (f->parent->kind != ENT_KIND_MAP || !f->parent->fields)
        return field_err(e, f, "is inside an array: use a path");
    if ((rc = field_loc(&pv, e, f->parent, create))) return rc;
    if (!pv) {
        *out = NULL;
        return ENT_OK;
    }
    if (pv->k == EV_UNSET) {
        if (!create) {
            *out = NULL;
            return ENT_OK;
        }
        if ((rc = ent__map_init(pv, f->parent))) return rc;
    }
    *out = &pv->u.m.v[f->pos];
    return ENT_OK;
}

static const ent_field *field_top(const ent_field *f)
{
    while (f->parent) f = f->parent;
    return f;
}

static int field_check(const ent_entity *e, const ent_field *f)
{
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if (!f) return ent__err(ENT_INVALID, "%s: field handle is NULL", e->type->name);
    if (f->type != e->type) return field_err(e, f, "is not a field of this entity's type");
    return ENT_OK;
}

static int field_put(ent_entity *e, const ent_field *f, ent_val *nv)
{
    ent_val *v = NULL;
    int rc;
    char what[96];
    if ((rc = field_check(e, f))) goto fail;
    if (ent__ev_kind(f) != nv->k) {
        snprintf(what, sizeof what, "expected %s, got %s", spec_expects(f), ent__ev_name(nv->k));
        rc = field_err(e, f, what);
        goto fail;
    }
    if ((rc = field_loc(&v, e, f, 1))) goto fail;
    ent__val_clear(v);
    *v = *nv;
    ent__mark_changed(e, field_top(f)->pos);
    return ENT_OK;
fail:
    ent__val_clear(nv);
    return rc;
}

int ent_entity_field_set_bool(ent_entity *e, const ent_field *f, int b)
{
    ent_val v = {EV_BOOL, {.b = !!b}};
    return field_put(e, f, &v);
}

int ent_entity_field_set_int(ent_entity *e, const ent_field *f, int64_t i)
{
    ent_val v = {EV_INT, {.i = i}};
    return field_put(e, f, &v);
}

int ent_entity_field_set_uint(ent_entity *e, const ent_field *f, uint64_t u)
{
    ent_val v = {EV_UINT, {.u = u}};
    return field_put(e, f, &v);
}

int ent_entity_field_set_float(ent_entity *e, const ent_field *f, double d)
{
    ent_val v = {EV_FLOAT, {.f = d}};
    return field_put(e, f, &v);
}

int ent_entity_field_set_timestamp(ent_entity *e, const ent_field *f, int64_t ns)
{
    ent_val v = {EV_TS, {.i = ns}};
    return field_put(e, f, &v);
}

static int field_set_blob(ent_entity *e, const ent_field *f, uint8_t kind, const void *p, size_t n)
{
    ent_val v;
    int rc;
    char what[96];
    if ((rc = field_check(e, f))) return rc;
    if (!p && n) return field_err(e, f, "value is NULL");
    if (ent__ev_kind(f) != kind) {
        snprintf(what, sizeof what, "expected %s, got %s", spec_expects(f), ent__ev_name(kind));
        return field_err(e, f, what);
    }
    if ((rc = ent__val_set_str(&v, kind, p, n))) return rc;
    return field_put(e, f, &v);
}

int ent_entity_field_set_string(ent_entity *e, const ent_field *f, const char *s, size_t len)
{
    return field_set_blob(e, f, EV_STR, s, len);
}

int ent_entity_field_set_bytes(ent_entity *e, const ent_field *f, const void *p, size_t len)
{
    return field_set_blob(e, f, EV_BIN, p, len);
}

int ent_entity_field_unset(ent_entity *e, const ent_field *f)
{
    ent_val *v = NULL;
    int rc;
    if ((rc = field_check(e, f))) return rc;
    if ((rc = field_loc(&v, e, f, 0))) return rc;
    if (v) ent__val_clear(v);
    ent__mark_changed(e, field_top(f)->pos);
    return ENT_OK;
}

static int field_get(const ent_val **out, const ent_entity *e, const ent_field *f, uint8_t want)
{
    ent_val *v = NULL;
    int rc;
    char what[96];
    if ((rc = field_check(e, f))) return rc;
    if ((rc = field_loc(&v, e, f, 0))) return rc;
    if (ent__ev_kind(f) != want) {
        snprintf(what, sizeof what, "is a %s, not %s", spec_expects(f), ent__ev_name(want));
        return field_err(e, f, what);
    }
    if (!v || v->k == EV_UNSET) {
        char buf[256];
        return ent__err(ENT_NOTFOUND, "%s: not set", ent__field_path(f, buf, sizeof buf));
    }
    *out = v;
    return ENT_OK;
}

int ent_entity_field_get_bool(int *out, const ent_entity *e, const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, e, f, EV_BOOL);
    if (!rc) *out = v->u.b;
    return rc;
}

int ent_entity_field_get_int(int64_t *out, const ent_entity *e, const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, e, f, EV_INT);
    if (!rc) *out = v->u.i;
    return rc;
}

int ent_entity_field_get_uint(uint64_t *out, const ent_entity *e, const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, e, f, EV_UINT);
    if (!rc) *out = v->u.u;
    return rc;
}

int ent_entity_field_get_float(double *out, const ent_entity *e, const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, e, f, EV_FLOAT);
    if (!rc) *out = v->u.f;
    return rc;
}

int ent_entity_field_get_timestamp(int64_t *out, const ent_entity *e, const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, e, f, EV_TS);
    if (!rc) *out = v->u.i;
    return rc;
}

int ent_entity_field_get_string(const char **out, size_t *out_len, const ent_entity *e,
                                const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, e, f, EV_STR);
    if (rc) return rc;
    *out = v->u.s.p;
    if (out_len) *out_len = v->u.s.n;
    return ENT_OK;
}

int ent_entity_field_get_bytes(const void **out, size_t *out_len, const ent_entity *e,
                               const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, e, f, EV_BIN);
    if (rc) return rc;
    *out = v->u.s.p;
    if (out_len) *out_len = v->u.s.n;
    return ENT_OK;
}

int ent_entity_field_has(const ent_entity *e, const ent_field *f)
{
    ent_val *v = NULL;
    if (!e || !f || f->type != e->type || field_loc(&v, e, f, 0)) return 0;
    return v && v->k != EV_UNSET;
}

/* ---- arrays ------------------------------------------------------------------------------ */

static int array_at(walk *w, const ent_entity *e, const char *path, int mode)
{
    int rc = walk_path(w, e, path, mode);
    if (rc) return rc;
    if (w->spec ? w->spec->kind != ENT_KIND_ARRAY : (w->v && w->v->k != EV_ARR && w->v->k != EV_UNSET))
        return path_err(ENT_INVALID, e, path, "not an array");
    return ENT_OK;
}

int ent_entity_array_len(size_t *out, const ent_entity *e, const char *path)
{
    walk w;
    int rc;
    *out = 0;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = array_at(&w, e, path, W_READ))) return rc;
    *out = w.v ? w.v->u.a.n : 0;
    return ENT_OK;
}

int ent_entity_array_insert(ent_entity *e, const char *path, size_t at)
{
    walk w;
    size_t n;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = array_at(&w, e, path, W_CHECK))) return rc;
    n = w.v && w.v->k == EV_ARR ? w.v->u.a.n : 0;
    if (at > n) {
        char what[96];
        snprintf(what, sizeof what, "insert at %zu past the end (length %zu)", at, n);
        return path_err(ENT_NOTFOUND, e, path, what);
    }
    if ((rc = walk_path(&w, e, path, W_CREATE))) return rc;
    if (w.v->k == EV_UNSET) w.v->k = EV_ARR;
    if ((rc = ent__arr_insert(w.v, at))) return rc;
    ent__mark_changed(e, w.top->pos);
    return ENT_OK;
}

int ent_entity_array_remove(ent_entity *e, const char *path, size_t at)
{
    walk w;
    size_t n;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = array_at(&w, e, path, W_READ))) return rc;
    n = w.v ? w.v->u.a.n : 0;
    if (at >= n) {
        char what[96];
        snprintf(what, sizeof what, "remove at %zu past the end (length %zu)", at, n);
        return path_err(ENT_NOTFOUND, e, path, what);
    }
    ent__val_clear(&w.v->u.a.v[at]);
    memmove(&w.v->u.a.v[at], &w.v->u.a.v[at + 1], (n - at - 1) * sizeof(ent_val));
    w.v->u.a.n--;
    ent__mark_changed(e, w.top->pos);
    return ENT_OK;
}

/* ---- changes and defaults ----------------------------------------------------------------- */

int ent_entity_changed(const ent_entity *e, const ent_field *f)
{
    if (!e || !f || f->type != e->type) return 0;
    return ent__is_changed(e, field_top(f)->pos);
}

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

/* Fill unset sub-fields of the declared maps inside v (also map items of arrays); *n counts them.
 * Only specs with defaults_below are walked. */
static int defaults_in(const ent_field *spec, ent_val *v, size_t *n)
{
    size_t i;
    int rc;
    if (!spec->defaults_below) return ENT_OK;
    if (spec->kind == ENT_KIND_ARRAY && v->k == EV_ARR) {
        for (i = 0; i < v->u.a.n; i++)
            if (v->u.a.v[i].k != EV_UNSET && (rc = defaults_in(spec->items, &v->u.a.v[i], n))) return rc;
        return ENT_OK;
    }
    if (spec->kind != ENT_KIND_MAP || !spec->fields || v->k != EV_MAP) return ENT_OK;
    for (i = 0; i < spec->n_fields && i < v->u.m.n; i++) {
        const ent_field *sf = spec->fields[i];
        ent_val *sv = &v->u.m.v[i];
        if (sv->k == EV_UNSET && sf->def && sf->def->k != EV_UNSET) {
            if ((rc = ent__val_copy(sv, sf->def))) return rc;
            (*n)++;
        } else if (sv->k != EV_UNSET && (rc = defaults_in(sf, sv, n))) {
            return rc;
        }
    }
    return ENT_OK;
}

int ent__val_fill_defaults(const ent_field *spec, ent_val *v, size_t *n)
{
    return defaults_in(spec, v, n);
}

/* Defaults into every unset field, top level and nested; mark: flag the filled top-level fields
 * changed (the public call) or not (a record just read). */
int ent__entity_fill_defaults(ent_entity *e, int mark)
{
    const ent_type *t = e->type;
    size_t i, n;
    int rc;
    if (!t->has_defaults) return ENT_OK;
    for (i = 0; i < t->n_fields; i++) {
        const ent_field *f = t->fields[i];
        ent_val *v = &e->slots[i];
        n = 0;
        if (v->k == EV_UNSET && f->def && f->def->k != EV_UNSET) {
            if ((rc = ent__val_copy(v, f->def))) return rc;
            n = 1;
        } else if (v->k != EV_UNSET && (rc = defaults_in(f, v, &n))) {
            return rc;
        }
        if (n && mark) ent__mark_changed(e, i);
    }
    return ENT_OK;
}

int ent_entity_apply_defaults(ent_entity *e)
{
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    return ent__entity_fill_defaults(e, 1);
}

int ent_entity_set_version(ent_entity *e, uint64_t version)
{
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if (version == 0) return ent__err(ENT_INVALID, "%s: versions start at 1", e->type->name);
    e->version = version;
    return ENT_OK;
}
