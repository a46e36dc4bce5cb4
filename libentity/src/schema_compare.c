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

static int compare_fields(struct ent_field **pf, size_t pn, struct ent_field **nf, size_t nn);

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
            int found = 0;
            for (size_t j = 0; j < n->n_enums && !found; j++, ent__schema_compares++) found = strcmp(p->enums[i], n->enums[j]) == 0;
            if (!found) {
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
        return compare_fields(p->fields, p->n_fields, n->fields, n->n_fields);
    }
    return ENT_OK;
}

static int compare_fields(struct ent_field **pf, size_t pn, struct ent_field **nf, size_t nn)
{
    char buf[256];
    int rc;
    for (size_t j = 0; j < nn; j++) {
        const struct ent_field *n = nf[j], *by_id = NULL, *by_name = NULL;
        for (size_t i = 0; i < pn; i++) {
            ent__schema_compares++;
            if (pf[i]->id == n->id) by_id = pf[i];
            if (strcmp(pf[i]->name, n->name) == 0) by_name = pf[i];
        }
        if (by_id && strcmp(by_id->name, n->name) != 0) {
            snprintf(buf, sizeof buf, "id %u was field \"%s\"; an id cannot be reused with another name",
                     n->id, by_id->name);
            return incompatible(n, buf);
        }
        if (by_name && by_name->id != n->id) {
            snprintf(buf, sizeof buf, "id changed from %u to %u", by_name->id, n->id);
            return incompatible(n, buf);
        }
        if (!by_id) {
            if (n->required && !n->default_json)
                return incompatible(n, "new required field without a default");
            continue;
        }
        if ((rc = compare_spec(by_id, n))) return rc;
    }
    return ENT_OK;
}

int ent_schema_compare(const ent_schema *prev, const ent_schema *next)
{
    int rc;
    if (!prev || !next || !prev->sealed || !next->sealed)
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
        if ((rc = compare_fields(p->fields, p->n_fields, n->fields, n->n_fields))) return rc;
    }
    return ENT_OK;
}

static const struct ent_field *by_id(struct ent_field **f, size_t n, unsigned id)
{
    for (size_t i = 0; i < n; i++) {
        ent__schema_compares++;
        if (f[i]->id == id) return f[i];
    }
    return NULL;
}

/* A field of `next` that `old` had and `cur` does not: removed in between, now added back. */
static int readded(struct ent_field **of, size_t on, struct ent_field **cf, size_t cn,
                   struct ent_field **nf, size_t nn, uint32_t old_version)
{
    char buf[256];
    int rc;
    for (size_t j = 0; j < nn; j++) {
        const struct ent_field *n = nf[j], *o = by_id(of, on, n->id), *c = by_id(cf, cn, n->id);
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
            (rc = readded(o->fields, o->n_fields, c->fields, c->n_fields, n->fields, n->n_fields, old_version)))
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
        if ((rc = readded(o->fields, o->n_fields, c->fields, c->n_fields, n->fields, n->n_fields, old->version)))
            return rc;
    }
    return ENT_OK;
}
