/* Schema defaults into entities: filling unset fields, top level and nested in declared maps
 * (and map items of arrays). Separate because both the store (records read and written) and the
 * public ent_entity_apply_defaults() use it, and it needs only value.c. */

#include "error_int.h"
#include "value_int.h"

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
            /* a default that is a map (or holds maps) gets the defaults of its own sub-fields */
            if ((rc = ent__val_copy(sv, sf->def)) || (rc = defaults_in(sf, sv, n))) return rc;
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
            /* a default that is a map (or holds maps) gets the defaults of its own sub-fields */
            if ((rc = ent__val_copy(v, f->def)) || (rc = defaults_in(f, v, &n))) return rc;
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
