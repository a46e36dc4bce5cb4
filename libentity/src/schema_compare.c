/* Schema evolution: is `next` a compatible successor of `prev`?
 *
 * Compatible: new types; new optional fields or required ones with a default; new or dropped
 * indexes; removed fields; relaxed limits. Incompatible, each named with type, field and change:
 * a type removed, a key kind changed, a field's kind (or item kind, sub-field kinds, ref target)
 * changed, a field id reused with another name (or a name moved to another id), a new required
 * field without default, an optional field made required without default, a required field's
 * default removed, a declared map made free-form or a free-form one given fields, and any
 * tightened limit (min raised, max lowered, max_length lowered or added, enum value removed or enum
 * added). */
#include <stdio.h>
#include <string.h>

#include "error_int.h"
#include "schema_int.h"

static int incompatible(const struct ent_field *f, const char *change)
{
    char path[200];
    return ent__err(ENT_SCHEMA, "%s: incompatible change: %s", ent__field_path(f, path, sizeof path), change);
}

/* Numeric comparison of limits of possibly different representations. */
static int lcmp(const ent_limit *a, const ent_limit *b)
{
    long double x = a->set == ENT_LIM_FLOAT ? (long double)a->v.f
                    : a->set == ENT_LIM_INT ? (long double)a->v.i : (long double)a->v.u;
    long double y = b->set == ENT_LIM_FLOAT ? (long double)b->v.f
                    : b->set == ENT_LIM_INT ? (long double)b->v.i : (long double)b->v.u;
    return x < y ? -1 : x > y;
}

/* A type's fields or a declared map's sub-fields, with their tables: fields are matched by
 * those, not by a scan of the other list per field (quadratic in a wide type's field count). */
typedef struct flist {
    struct ent_field **f;
    size_t n;
    const ent__names *names;
    const ent__itab *ids;
} flist;
static flist type_list(const struct ent_type *t)
{
    flist l = {t->fields, t->n_fields, &t->names, &t->ids};
    return l;
}
static flist map_list(const struct ent_field *m)
{
    flist l = {m->fields, m->n_fields, &m->names, &m->ids};
    return l;
}
static const struct ent_field *by_name(flist l, const char *name)
{
    size_t len;
    uint64_t k = ent__step_key(name, &len);
    ent__schema_compares++;
    return ent__names_find(l.names, l.f, name, len, k);
}
static const struct ent_field *by_id(flist l, unsigned id) { return ent__ids_find(l.ids, l.f, id); }

static int compare_fields(flist p, flist n);

static int compare_spec(const struct ent_field *p, const struct ent_field *n)
{
    char buf[256];
    if (p->kind != n->kind) {
        snprintf(buf, sizeof buf, "type changed from %s to %s", ent_kind_name(p->kind), ent_kind_name(n->kind));
        return incompatible(n, buf);
    }
    if (p->kind == ENT_KIND_REF && p->ref_name && n->ref_name && strcmp(p->ref_name, n->ref_name) != 0) {
        snprintf(buf, sizeof buf, "ref target changed from %s to %s", p->ref_name, n->ref_name);
        return incompatible(n, buf);
    }
    if (n->required && !p->required && !n->default_json)
        return incompatible(n, "made required without a default (existing entities may lack it)");
    if (n->required && p->default_json && !n->default_json)
        return incompatible(n, "default removed from a required field (existing entities may lack it)");
    if (n->min.set && (!p->min.set || lcmp(&n->min, &p->min) > 0))
        return incompatible(n, "limit tightened: min raised or added");
    if (n->max.set && (!p->max.set || lcmp(&n->max, &p->max) < 0))
        return incompatible(n, "limit tightened: max lowered or added");
    if (n->has_max_length && (!p->has_max_length || n->max_length < p->max_length))
        return incompatible(n, "limit tightened: max_length lowered or added");
    if (n->n_enums) {
        if (!p->n_enums) return incompatible(n, "limit tightened: enum added");
        for (size_t i = 0; i < p->n_enums; i++) {
            if (!ent__enums_has(&n->enum_ix, n->enums, p->enums[i], strlen(p->enums[i]))) {
                snprintf(buf, sizeof buf, "limit tightened: enum value \"%s\" removed", p->enums[i]);
                return incompatible(n, buf);
            }
        }
    }
    if (p->kind == ENT_KIND_ARRAY && p->items && n->items) {
        int rc = compare_spec(p->items, n->items);
        if (rc) return rc;
    }
    if (p->kind == ENT_KIND_MAP) {
        /* Records key a declared map's values by sub-field id and a free-form one's by name: the
         * stored values would not read as a free-form map (every such record was "corrupt"). */
        if (p->n_fields && !n->n_fields)
            return incompatible(n, "declared map made free-form (existing values are keyed by field id)");
        if (!p->n_fields && n->n_fields)
            return incompatible(n, "free-form map given declared fields (existing values may not fit)");
        return compare_fields(map_list(p), map_list(n));
    }
    return ENT_OK;
}

static int compare_fields(flist pl, flist nl)
{
    char buf[256];
    int rc;
    for (size_t j = 0; j < nl.n; j++) {
        const struct ent_field *n = nl.f[j], *pi = by_id(pl, n->id), *pn = by_name(pl, n->name);
        if (pi && strcmp(pi->name, n->name) != 0) {
            snprintf(buf, sizeof buf, "id %u was field \"%s\"; an id cannot be reused with another name",
                     n->id, pi->name);
            return incompatible(n, buf);
        }
        if (pn && pn->id != n->id) {
            snprintf(buf, sizeof buf, "id changed from %u to %u", pn->id, n->id);
            return incompatible(n, buf);
        }
        if (!pi) {
            if (n->required && !n->default_json)
                return incompatible(n, "new required field without a default");
            continue;
        }
        if ((rc = compare_spec(pi, n))) return rc;
    }
    return ENT_OK;
}

int ent_schema_compare(const ent_schema *prev, const ent_schema *next)
{
    int rc;
    if (!prev || !next) return ent__err(ENT_INVALID, "ent_schema_compare: %s is NULL", !prev ? "prev" : "next");
    if (!prev->sealed || !next->sealed)
        return ent__err(ENT_INVALID, "ent_schema_compare: both schemas must be sealed");
    if (strcmp(prev->name, next->name) != 0)
        return ent__err(ENT_SCHEMA, "schema name changed from %s to %s", prev->name, next->name);
    for (size_t i = 0; i < prev->n_types; i++) {
        const struct ent_type *p = prev->types[i];
        const struct ent_type *n = ent_schema_type(next, p->name);
        if (!n) return ent__err(ENT_SCHEMA, "%s: incompatible change: type removed", p->name);
        if (n->key != p->key)
            return ent__err(ENT_SCHEMA, "%s: incompatible change: key kind changed from %s to %s", p->name,
                            p->key == ENT_KEY_AUTO ? "auto" : "string", n->key == ENT_KEY_AUTO ? "auto" : "string");
        if ((rc = compare_fields(type_list(p), type_list(n)))) return rc;
    }
    return ENT_OK;
}

/* A field of `next` that `old` had and `cur` does not: removed in between, now added back. */
static int readded(flist ol, flist cl, flist nl, uint32_t old_version)
{
    char buf[256];
    int rc;
    for (size_t j = 0; j < nl.n; j++) {
        const struct ent_field *n = nl.f[j], *o = by_id(ol, n->id), *c = by_id(cl, n->id);
        if (!o) continue;
        if (!c) {
            snprintf(buf, sizeof buf, "id %u was field \"%s\" in version %u and was removed since; "
                     "a removed field's id is never reused (records keep its old values, updates drop them)",
                     n->id, o->name, (unsigned)old_version);
            return incompatible(n, buf);
        }
        if (o->kind == ENT_KIND_ARRAY && c->kind == ENT_KIND_ARRAY && n->kind == ENT_KIND_ARRAY &&
            o->items && c->items && n->items) { /* maps as items */
            o = o->items;
            c = c->items;
            n = n->items;
        }
        if (o->kind == ENT_KIND_MAP && c->kind == ENT_KIND_MAP && n->kind == ENT_KIND_MAP &&
            (rc = readded(map_list(o), map_list(c), map_list(n), old_version)))
            return rc;
    }
    return ENT_OK;
}

int ent__schema_check_readded(const ent_schema *old, const ent_schema *cur, const ent_schema *next)
{
    int rc;
    for (size_t i = 0; i < next->n_types; i++) {
        const struct ent_type *n = next->types[i];
        const struct ent_type *o = ent_schema_type(old, n->name), *c = ent_schema_type(cur, n->name);
        if (!o || !c) continue;
        if ((rc = readded(type_list(o), type_list(c), type_list(n), old->version)))
            return rc;
    }
    return ENT_OK;
}

/* Every field of ol (by id, at every depth) is in cl under the same id and name. */
static int fields_subset(flist ol, flist cl)
{
    for (size_t j = 0; j < ol.n; j++) {
        const struct ent_field *o = ol.f[j], *c = by_id(cl, o->id);
        if (!c || strcmp(o->name, c->name) != 0 || o->kind != c->kind) return 0;
        while (o->kind == ENT_KIND_ARRAY && c->kind == ENT_KIND_ARRAY && o->items && c->items) {
            o = o->items;
            c = c->items;
        }
        if (o->kind != c->kind) return 0;
        if (o->kind == ENT_KIND_MAP && !fields_subset(map_list(o), map_list(c))) return 0;
    }
    return 1;
}

int ent__schema_subset(const ent_schema *old, const ent_schema *cur)
{
    for (size_t i = 0; i < old->n_types; i++) {
        const struct ent_type *o = old->types[i], *c = ent_schema_type(cur, o->name);
        if (!c || !fields_subset(type_list(o), type_list(c))) return 0;
    }
    return 1;
}

/* a and b make compare_spec() answer alike against any field: what it reads is equal. */
static int lim_same(const ent_limit *a, const ent_limit *b)
{
    return !a->set == !b->set && (!a->set || lcmp(a, b) == 0);
}
static int spec_same(const struct ent_field *a, const struct ent_field *b)
{
    if (a->kind != b->kind || a->required != b->required || !a->default_json != !b->default_json ||
        !a->ref_name != !b->ref_name || (a->ref_name && strcmp(a->ref_name, b->ref_name) != 0) ||
        !lim_same(&a->min, &b->min) || !lim_same(&a->max, &b->max) || a->has_max_length != b->has_max_length ||
        (a->has_max_length && a->max_length != b->max_length) || a->n_enums != b->n_enums ||
        !a->items != !b->items || a->n_fields != b->n_fields)
        return 0;
    for (size_t i = 0; i < a->n_enums; i++)
        if (!ent__enums_has(&b->enum_ix, b->enums, a->enums[i], strlen(a->enums[i]))) return 0;
    if (a->items && !spec_same(a->items, b->items)) return 0;
    for (size_t i = 0; i < a->n_fields; i++) {
        const struct ent_field *x = a->fields[i], *y = by_id(map_list(b), x->id);
        if (!y || strcmp(x->name, y->name) != 0 || !spec_same(x, y)) return 0;
    }
    return 1;
}

static int retired_within(flist vl, flist ul, flist tl);

/* v (in the later version), u (in the earlier one, or NULL) and t (in the target) are one field
 * that t kept: what v holds below it that t lacks, u holds alike. */
static int kept_within(const struct ent_field *v, const struct ent_field *u, const struct ent_field *t)
{
    while (v->kind == ENT_KIND_ARRAY && t->kind == ENT_KIND_ARRAY && v->items && t->items) {
        v = v->items;
        t = t->items;
        u = u && u->kind == ENT_KIND_ARRAY ? u->items : NULL;
    }
    if (v->kind != ENT_KIND_MAP || !v->n_fields) return 1;
    if (t->kind != ENT_KIND_MAP) return 0;
    if (!u || u->kind != ENT_KIND_MAP) return fields_subset(map_list(v), map_list(t));
    return retired_within(map_list(v), map_list(u), map_list(t));
}

static int retired_within(flist vl, flist ul, flist tl)
{
    for (size_t j = 0; j < vl.n; j++) {
        const struct ent_field *v = vl.f[j], *u = by_id(ul, v->id), *t = by_id(tl, v->id);
        if (!t) {
            if (!u || strcmp(u->name, v->name) != 0 || !spec_same(u, v)) return 0;
        } else if (!kept_within(v, u, t)) {
            return 0;
        }
    }
    return 1;
}

int ent__schema_retired_within(const ent_schema *v, const ent_schema *u, const ent_schema *target)
{
    for (size_t i = 0; i < v->n_types; i++) {
        const struct ent_type *vt = v->types[i], *ut = ent_schema_type(u, vt->name);
        const struct ent_type *tt = ent_schema_type(target, vt->name);
        if (!tt) return 0;
        if (!ut) {
            if (!fields_subset(type_list(vt), type_list(tt))) return 0;
        } else if (!retired_within(type_list(vt), type_list(ut), type_list(tt))) {
            return 0;
        }
    }
    return 1;
}
