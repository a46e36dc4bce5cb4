/* Schema evolution at open: a new schema is checked against every version the store has had,
 * then new indexes are built over the stored entities and dropped ones emptied. Uses the layout
 * (store_layout.c) and the meta table (store_meta.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "keys.h"
#include "store_int.h"

/* Build index j of type `type` over its existing entities (a new index after an evolution), or
 * every index of the type when j is ENT__INDEX_ALL (the end of a replay): one pass over the
 * records, each decoded once for all the indexes it feeds. */
int ent__index_build(ent_txn *t, const ent_type *type, size_t j)
{
    ent_store *s = t->s;
    unsigned dt = t->lay->data[type->pos];
    size_t lo = j == ENT__INDEX_ALL ? 0 : j, hi = j == ENT__INDEX_ALL ? type->n_indexes : j + 1;
    ent_bcur *cur = NULL;
    ent_buf pkb = {0};
    ent_slice k, v;
    int rc, op = ENT_CUR_FIRST;
    if (lo >= hi) return ENT_OK;
    if ((rc = ent__bk_cursor_open(t, dt, &cur))) return rc;
    for (;; op = ENT_CUR_NEXT) {
        ent_entity *e = NULL;
        ent_slice pk;
        rc = ent__bk_cursor_get(s, cur, op, &k, &v);
        if (rc == ENT_NOTFOUND) {
            rc = ENT_OK;
            break;
        }
        if (rc) break;
        if ((rc = ent__record_read(&e, type, v.data, v.len))) break;
        /* The key copied: a growth of the map in a put leaves the slice the cursor gave dangling,
         * and the next index of the record needs it still. */
        pkb.n = 0;
        if ((rc = ent__buf_append(&pkb, k.data, k.len))) {
            ent_entity_free(e);
            break;
        }
        pk.data = pkb.p;
        pk.len = pkb.n;
        for (size_t x = lo; !rc && x < hi; x++) {
            const ent_field *f = type->indexes[x];
            const ent_val *val = &e->slots[f->pos];
            ent_slice ik;
            if (val->k == EV_UNSET) continue;
            t->k2.n = 0;
            rc = ent__ikey_from_val(&t->k2, f, val);
            if (!rc) rc = ent__bk_ikey_check(&s->bk, f, t->k2.n);
            if (rc) break;
            ik.data = t->k2.p;
            ik.len = t->k2.n;
            rc = ent__bk_put(t, t->lay->idx[type->pos][x], &ik, &pk, f->unique ? ENT_PUT_NOOVERWRITE : 0);
            if (rc == ENT_CONFLICT) {
                /* Name the value and both entities: the one that holds it is what to fix. */
                ent_key key, other;
                ent_slice held;
                char kb[300], ob[300], vb[160];
                if (ent__pk_decode(&key, type->key, pk.data, pk.len)) key = ent_key_str("?");
                if (ent__bk_get(t, t->lay->idx[type->pos][x], &ik, &held) ||
                    ent__pk_decode(&other, type->key, held.data, held.len))
                    other = ent_key_str("?");
                rc = ent__err(ENT_CONFLICT, "cannot build unique index %s.%s: value %s of %s %s is taken by %s %s",
                              type->name, f->name, ent__val_str(val, vb, sizeof vb), type->name,
                              ent__key_str(&key, kb, sizeof kb), type->name, ent__key_str(&other, ob, sizeof ob));
            }
        }
        ent_entity_free(e);
        if (rc) break;
    }
    ent__bk_cursor_close(s, cur);
    free(pkb.p);
    return rc;
}

static int same_default(const ent_field *a, const ent_field *b)
{
    if (!a->def || !b->def) return !a->def && !b->def;
    return ent__val_equal(a->def, b->def);
}

/* Apply a compatible evolution from `prev` to `next` (both sealed) in write txn t whose layout
 * already points at `next`: build indexes that are new, clear indexes that were dropped. */
int ent__store_evolve(ent_txn *t, const ent_schema *prev, const ent_schema *next)
{
    int rc;
    for (size_t i = 0; i < next->n_types; i++) {
        const ent_type *nt = next->types[i];
        const ent_type *pt = ent_schema_type(prev, nt->name);
        for (size_t j = 0; j < nt->n_indexes; j++) {
            const ent_field *nf = nt->indexes[j];
            const ent_field *pf = pt ? ent_type_field(pt, nf->name) : NULL;
            /* An index is rebuilt when its field's default changes: entities stored without the
             * field read with the default, and the index must hold what they read as. */
            int had = pf && pf->index_no >= 0 && pf->unique == nf->unique && same_default(pf, nf);
            if (had || !pt) continue;
            /* The table may hold entries of an index that was dropped and comes back. */
            if ((rc = ent__bk_clear(t, t->lay->idx[i][j]))) return rc;
            if ((rc = ent__index_build(t, nt, j))) return rc;
        }
        if (pt) {
            /* Dropped indexes: empty their tables so a later re-creation starts clean. */
            for (size_t j = 0; j < pt->n_indexes; j++) {
                const ent_field *pf = pt->indexes[j];
                const ent_field *nf = ent_type_field(nt, pf->name);
                char name[160];
                unsigned tbl;
                if (nf && nf->index_no >= 0 && nf->unique == pf->unique) continue;
                ent__table_name(name, sizeof name, pf->unique ? 'u' : 'x', pt, pf);
                rc = ent__bk_table(t, name, pf->unique ? 0 : ENT_TBL_DUPSORT, &tbl);
                if (rc == ENT_NOTFOUND) continue;
                if (rc || (rc = ent__bk_clear(t, tbl))) return rc;
            }
        }
    }
    return ENT_OK;
}

/* Refuse `next` unless it is a compatible evolution of every schema version the store has had:
 * comparing with each stored version catches an id reused after its field was removed, with
 * another name or the same one. */
int ent__schema_check_history(ent_txn *t, const ent_schema *cur, const ent_schema *next)
{
    int rc = ent_schema_compare(cur, next);
    if (rc) return rc;
    for (uint32_t ver = 1; ver < cur->version; ver++) {
        char key[64];
        ent_schema *old = NULL;
        ent_slice v;
        snprintf(key, sizeof key, "schema_v/%" PRIu32, ver);
        if (ent__meta_get(&v, t, key) != ENT_OK) continue;
        if ((rc = ent_schema_load_json(&old, v.data, v.len, "<store>")) == ENT_NOMEM) return rc;
        if (rc) continue;
        rc = ent_schema_compare(old, next);
        if (!rc) rc = ent__schema_check_readded(old, cur, next);
        ent_schema_free(old);
        if (rc) return ent__err_prefix(rc, "against stored version %" PRIu32 ": ", ver);
    }
    return ENT_OK;
}

int ent__schema_copy(ent_schema **out, const ent_schema *sc)
{
    char *json = NULL;
    int rc = ent_schema_to_json(&json, sc, 0);
    if (rc) return rc;
    rc = ent_schema_load_json(out, json, strlen(json), "<schema>");
    free(json);
    if (!rc) (*out)->from_store = sc->from_store;
    return rc;
}

int ent__schemas_equal(const ent_schema *a, const ent_schema *b, int *out)
{
    char *ja = NULL, *jb = NULL;
    int rc = ent_schema_to_json(&ja, a, 0);
    if (!rc) rc = ent_schema_to_json(&jb, b, 0);
    if (!rc) *out = strcmp(ja, jb) == 0;
    free(ja);
    free(jb);
    return rc;
}
