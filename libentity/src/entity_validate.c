/* Validation: a value against its field spec (kinds, min/max, max_length, enums, refs, required
 * sub-fields, nesting depth, UTF-8) and ent_entity_validate(). Separate because it is one job with
 * its own helpers (exact int/float limit comparison, the lazily formatted path) that nothing else
 * needs; the store and the schema builder (defaults) call it, it calls only value.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error_int.h"
#include "json_write.h"
#include "keys.h"
#include "rfc3339.h"
#include "value_int.h"

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

static const char *limit_str(const ent_field *spec, const ent_limit *l, char *buf, size_t size)
{
    /* a timestamp's bound as the schema gives it, not as its ns since the epoch */
    if (spec->kind == ENT_KIND_TIMESTAMP && l->set == ENT_LIM_INT && size >= 48) ent__ts_format(buf, l->v.i);
    else if (l->set == ENT_LIM_INT) snprintf(buf, size, "%lld", (long long)l->v.i);
    else if (l->set == ENT_LIM_UINT) snprintf(buf, size, "%llu", (unsigned long long)l->v.u);
    else if (size >= 32) ent__json_real(buf, l->v.f); /* as JSON writes it: 0.99, not 0.98999999999999999 */
    else snprintf(buf, size, "%.17g", l->v.f);
    return buf;
}

/* ---- validation -------------------------------------------------------------------------- */

/* Path being validated, grown in place as the walk descends. */
#define VP_NAME_MAX 64   /* bytes of a name below the first in a message; declared names fit whole */
#define VP_FIRST_MAX 256 /* the first: a type's name, or a field's path (ent__field_path: 200) */
typedef struct vpath {
    /* The path is kept as a stack of segments and formatted only when an error names it:
     * formatting it on every field cost a fifth of a create (perf, entity bench). */
    struct {
        const char *sep, *name; /* name NULL: an array index */
        size_t idx;
    } seg[ENT__MAX_DEPTH + 8];
    size_t n;
    /* Room for every segment whole (a name is at most 64 bytes; a longer free-form key is cut
     * and marked): cut at 512 bytes, a deep path named a field that does not exist, the levels
     * below it left out. error.c elides the middle of a message too long for its buffer, and
     * keeps its end: the innermost names and what is wrong. */
    char buf[VP_FIRST_MAX + (ENT__MAX_DEPTH + 8) * (1 + VP_NAME_MAX + 3) + 1];
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
    p->buf[0] = '\0';
    for (i = 0; i < p->n && i < max; i++) {
        if (p->seg[i].name) {
            size_t sl = strlen(p->seg[i].sep), nl = strlen(p->seg[i].name), cut = nl;
            size_t room = i ? VP_NAME_MAX : VP_FIRST_MAX;
            if (cut > room) {
                cut = room; /* on a character: the message stays UTF-8 */
                while (cut > 0 && ((unsigned char)p->seg[i].name[cut] & 0xC0) == 0x80) cut--;
            }
            if (len + sl + cut + 3 >= sizeof p->buf) break;
            memcpy(p->buf + len, p->seg[i].sep, sl);
            memcpy(p->buf + len + sl, p->seg[i].name, cut);
            len += sl + cut;
            if (cut < nl) {
                memcpy(p->buf + len, "...", 3);
                len += 3;
            }
        } else {
            int w = snprintf(p->buf + len, sizeof p->buf - len, "[%zu]", p->seg[i].idx);
            if (w < 0 || (size_t)w >= sizeof p->buf - len) break;
            len += (size_t)w;
        }
        p->buf[len] = '\0';
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

/* The value is named beside the limit ("doc.n: 1000 is greater than max 100"), written as the
 * limit is (a timestamp as RFC 3339): "greater than max 100" alone left a body of many fields, or
 * a load of many lines, to guess which value of it was. */
static int check_range(const ent_field *spec, const ent_limit *val, vpath *p)
{
    char lb[64], vb[64];
    if (spec->min.set && cmp_num(val, &spec->min) < 0)
        return ent__err(ENT_INVALID, "%s: %s is less than min %s", vp_str(p), limit_str(spec, val, vb, sizeof vb),
                        limit_str(spec, &spec->min, lb, sizeof lb));
    if (spec->max.set && cmp_num(val, &spec->max) > 0)
        return ent__err(ENT_INVALID, "%s: %s is greater than max %s", vp_str(p), limit_str(spec, val, vb, sizeof vb),
                        limit_str(spec, &spec->max, lb, sizeof lb));
    return ENT_OK;
}

static int validate_val(const ent_field *spec, const ent_val *v, vpath *p, int depth)
{
    ent_limit num;
    size_t i, old;
    int rc;
    uint8_t want = spec->ev;
    if (v->k != want)
        return ent__err(ENT_INVALID, "%s: expected %s, holds %s", vp_str(p), ent__spec_expects(spec),
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
        if (isnan(v->u.f) && (spec->min.set || spec->max.set)) {
            char lb[64], mb[64];
            return ent__err(ENT_INVALID, "%s: NaN is outside %s%s%s%s%s (it compares with no number)", vp_str(p),
                            spec->min.set ? "min " : "", spec->min.set ? limit_str(spec, &spec->min, lb, sizeof lb) : "",
                            spec->min.set && spec->max.set ? " and " : "", spec->max.set ? "max " : "",
                            spec->max.set ? limit_str(spec, &spec->max, mb, sizeof mb) : "");
        }
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
            char qb[400]; /* "a\0b" whole: "a" would read as a value of the enum */
            /* a table: a scan per value cost an array of n values of an enum of m n*m */
            if (ent__enums_has(&spec->enum_ix, spec->enums, v->u.s.p, v->u.s.n)) return ENT_OK;
            return ent__err(ENT_INVALID, "%s: %s is not in enum", vp_str(p),
                            ent__quote(qb, sizeof qb, v->u.s.p, v->u.s.n, 64));
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

int ent__field_validate(const ent_entity *e, size_t i)
{
    const ent_type *t = e->type;
    const ent_field *f = t->fields[i];
    const ent_val *v = &e->slots[i];
    vpath p;
    if (v->k == EV_UNSET && !f->required) return ENT_OK;
    p.n = 0;
    vp_name(&p, "", t->name);
    vp_name(&p, ".", f->name);
    if (v->k == EV_UNSET) return ent__err(ENT_INVALID, "%s: missing required field", vp_str(&p));
    return validate_val(f, v, &p, 0);
}

int ent_entity_validate(const ent_entity *e)
{
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    for (size_t i = 0; i < e->type->n_fields; i++)
        if ((rc = ent__field_validate(e, i))) return rc;
    return ENT_OK;
}
