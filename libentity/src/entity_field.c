/* The field-handle API: typed get/set/unset/has through an ent_field handle (top-level fields
 * and declared-map sub-fields), without parsing a path. Separate from entity_path.c because it
 * shares none of the path walker; ent_entity_changed() is here because it takes a handle and
 * resolves it to its top-level field the same way. */
#include <stdio.h>

#include "error_int.h"
#include "value_int.h"

/* ---- field handles ----------------------------------------------------------------------- */

static int field_err(const ent_entity *e, const ent_field *f, const char *what)
{
    char buf[256];
    if (!f) return ent__err(ENT_INVALID, "%s: field handle is NULL", e->type->name);
    return ent__err(ENT_INVALID, "%s: %s", ent__field_path(f, buf, sizeof buf), what);
}

/* The value of f (a top-level field or a declared map's sub-field reached without crossing an
 * array). create: build missing parent maps (in e's arena: e changes then, though const for the
 * readers); else *out is NULL when a parent is unset. */
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
        if ((rc = ent__map_init_in((ent_entity *)e, pv, f->parent))) return rc;
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
    if (f->type != e->type) {
        /* The same type of another schema object (the host's own, the store's copy that entities
         * read from a store carry, another handle's): the names match, so say which handles do. */
        if (f->type && !strcmp(f->type->name, e->type->name))
            return field_err(e, f, "is a field of a type of this name in another schema object, not of this "
                                   "entity's type (an entity read from a store has the store's types: resolve "
                                   "fields with ent_type_field(ent_entity_type(e), name))");
        return field_err(e, f, "is not a field of this entity's type");
    }
    return ENT_OK;
}

/* field_put() when the quick test below does not hold: the checks, and their messages. */
static int field_put_checked(ent_entity *e, const ent_field *f, ent_val *nv)
{
    ent_val *v = NULL;
    int rc;
    char what[96];
    if ((rc = field_check(e, f))) goto fail;
    if (f->ev != nv->k) {
        snprintf(what, sizeof what, "expected %s, got %s", ent__spec_expects(f), ent__ev_name(nv->k));
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

/* Store *nv (taken over; cleared on failure) in f's value. */
static inline int field_put(ent_entity *e, const ent_field *f, ent_val *nv)
{
    /* a top-level field of the right kind, the common case, inline */
    if (e && f && f->type == e->type && !f->parent && f->ev == nv->k) {
        ent_val *v = &e->slots[f->pos];
        if (ent__val_holds_memory(v)) ent__val_clear(v);
        *v = *nv;
        ent__mark_changed(e, f->pos);
        return ENT_OK;
    }
    return field_put_checked(e, f, nv);
}

int ent_entity_field_set_bool(ent_entity *e, const ent_field *f, int b)
{
    ent_val v = {.k = EV_BOOL, .u = {.b = !!b}};
    return field_put(e, f, &v);
}

int ent_entity_field_set_int(ent_entity *e, const ent_field *f, int64_t i)
{
    ent_val v = {.k = EV_INT, .u = {.i = i}};
    return field_put(e, f, &v);
}

int ent_entity_field_set_uint(ent_entity *e, const ent_field *f, uint64_t u)
{
    ent_val v = {.k = EV_UINT, .u = {.u = u}};
    return field_put(e, f, &v);
}

int ent_entity_field_set_float(ent_entity *e, const ent_field *f, double d)
{
    ent_val v = {.k = EV_FLOAT, .u = {.f = d}};
    return field_put(e, f, &v);
}

int ent_entity_field_set_timestamp(ent_entity *e, const ent_field *f, int64_t ns)
{
    ent_val v = {.k = EV_TS, .u = {.i = ns}};
    return field_put(e, f, &v);
}

/* field_set_blob() when its quick test does not hold: the checks and their messages. */
static int field_set_blob_checked(ent_entity *e, const ent_field *f, uint8_t kind, const void *p, size_t n)
{
    ent_val v;
    int rc;
    char what[96];
    if ((rc = field_check(e, f))) return rc;
    if (!p && n) return field_err(e, f, "value is NULL");
    if (f->ev != kind) {
        snprintf(what, sizeof what, "expected %s, got %s", ent__spec_expects(f), ent__ev_name(kind));
        return field_err(e, f, what);
    }
    if ((rc = ent__val_set_str_in(e, &v, kind, p, n))) return rc;
    return field_put(e, f, &v);
}

static inline int field_set_blob(ent_entity *e, const ent_field *f, uint8_t kind, const void *p, size_t n)
{
    ent_val v;
    int rc;
    if (e && f && f->type == e->type && f->ev == kind && (p || !n)) { /* the checks would pass */
        if ((rc = ent__val_set_str_in(e, &v, kind, p, n))) return rc;
        return field_put(e, f, &v);
    }
    return field_set_blob_checked(e, f, kind, p, n);
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

/* dst: the caller's out, checked first (a NULL one would be written through on success). */
static int field_get(const ent_val **out, const void *dst, const char *fn, const ent_entity *e, const ent_field *f,
                     uint8_t want)
{
    ent_val *v = NULL;
    int rc;
    char what[96];
    if (!dst) return ent__err(ENT_INVALID, "%s: out is NULL", fn);
    if ((rc = field_check(e, f))) return rc;
    if ((rc = field_loc(&v, e, f, 0))) return rc;
    if (f->ev != want) {
        snprintf(what, sizeof what, "is %s %s, not %s", ent__a(ent__spec_expects(f)), ent__spec_expects(f), ent__ev_name(want));
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
    int rc = field_get(&v, out, "ent_entity_field_get_bool", e, f, EV_BOOL);
    if (!rc) *out = v->u.b;
    return rc;
}

int ent_entity_field_get_int(int64_t *out, const ent_entity *e, const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, out, "ent_entity_field_get_int", e, f, EV_INT);
    if (!rc) *out = v->u.i;
    return rc;
}

int ent_entity_field_get_uint(uint64_t *out, const ent_entity *e, const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, out, "ent_entity_field_get_uint", e, f, EV_UINT);
    if (!rc) *out = v->u.u;
    return rc;
}

int ent_entity_field_get_float(double *out, const ent_entity *e, const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, out, "ent_entity_field_get_float", e, f, EV_FLOAT);
    if (!rc) *out = v->u.f;
    return rc;
}

int ent_entity_field_get_timestamp(int64_t *out, const ent_entity *e, const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, out, "ent_entity_field_get_timestamp", e, f, EV_TS);
    if (!rc) *out = v->u.i;
    return rc;
}

int ent_entity_field_get_string(const char **out, size_t *out_len, const ent_entity *e,
                                const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, out, "ent_entity_field_get_string", e, f, EV_STR);
    if (rc) return rc;
    *out = v->u.s.p;
    if (out_len) *out_len = v->u.s.n;
    return ENT_OK;
}

int ent_entity_field_get_bytes(const void **out, size_t *out_len, const ent_entity *e,
                               const ent_field *f)
{
    const ent_val *v = NULL;
    int rc = field_get(&v, out, "ent_entity_field_get_bytes", e, f, EV_BIN);
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

int ent_entity_changed(const ent_entity *e, const ent_field *f)
{
    if (!e || !f || f->type != e->type) return 0;
    return ent__is_changed(e, field_top(f)->pos);
}
