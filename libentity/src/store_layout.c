/* Table layouts: the backend tables of one schema generation (a data table per type, one per
 * index), opened at open and again when another process evolved the schema (reload). Uses the
 * meta table (store_meta.c). */
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "keys.h"
#include "store_int.h"

void ent__layout_free(ent_layout *l)
{
    while (l) {
        ent_layout *older = l->older;
        if (l->schema) {
            for (size_t i = 0; i < l->schema->n_types; i++) free(l->idx ? l->idx[i] : NULL);
        }
        free(l->idx);
        free(l->data);
        ent_schema_free(l->schema);
        free(l);
        l = older;
    }
}

void ent__table_name(char *buf, size_t size, char tag, const ent_type *t, const ent_field *f)
{
    if (f)
        snprintf(buf, size, "%c:%s.%s", tag, t->name, f->name);
    else
        snprintf(buf, size, "%c:%s", tag, t->name);
}

/* Table `name` of a layout in t. Without create (a reload: another process evolved the schema), a
 * table this process has no room for (LMDB's maxdbs, fixed when it opened the store) is held as
 * ENT__TBL_ABSENT, which bk.c refuses with the way out: the process keeps working on the tables
 * it has (those of the types it knew), where failing the reload stopped every read and write of
 * the store, the log's and checkpoints' too, until it reopened it. */
static int layout_table(ent_txn *t, const char *name, unsigned flags, int create, unsigned *out)
{
    unsigned tbl = 0;
    int rc = ent__bk_table(t, name, flags, &tbl);
    if (rc == ENT_FULL && !create && tbl == ENT__TBL_ABSENT) rc = ENT_OK;
    if (rc == ENT_OK) *out = tbl;
    return rc;
}

/* Resolve (creating when `create`) every table of schema `sc` inside txn t.
 * out: a new layout owning sc on ENT_OK. */
int ent__layout_open(ent_layout **out, ent_txn *t, ent_schema *sc, uint64_t gen, int create)
{
    ent_layout *l = calloc(1, sizeof *l);
    char name[160];
    int rc = ENT_NOMEM;
    unsigned flags = create ? ENT_TBL_CREATE : 0;
    if (!l) goto fail;
    l->gen = gen;
    l->data = calloc(sc->n_types ? sc->n_types : 1, sizeof *l->data);
    l->idx = calloc(sc->n_types ? sc->n_types : 1, sizeof *l->idx);
    if (!l->data || !l->idx) goto fail;
    for (size_t i = 0; i < sc->n_types; i++) {
        const ent_type *ty = sc->types[i];
        ent__table_name(name, sizeof name, 't', ty, NULL);
        if ((rc = layout_table(t, name, flags, create, &l->data[i]))) goto fail;
        l->idx[i] = calloc(ty->n_indexes ? ty->n_indexes : 1, sizeof **l->idx);
        if (!l->idx[i]) {
            rc = ENT_NOMEM;
            goto fail;
        }
        for (size_t j = 0; j < ty->n_indexes; j++) {
            const ent_field *f = ty->indexes[j];
            int uniq = f->unique;
            ent__table_name(name, sizeof name, uniq ? 'u' : 'x', ty, f);
            rc = layout_table(t, name, flags | (uniq ? 0 : ENT_TBL_DUPSORT), create, &l->idx[i][j]);
            if (rc) goto fail;
        }
    }
    l->schema = sc;
    *out = l;
    return ENT_OK;
fail:
    if (rc) ent__err_prefix(rc, "opening tables: "); /* keeps the backend's own words */
    if (l) {
        l->schema = NULL;
        if (l->idx)
            for (size_t i = 0; i < sc->n_types; i++) free(l->idx[i]);
        free(l->idx);
        free(l->data);
        free(l);
    }
    return rc;
}

int ent__store_reload(ent_store *s, ent_txn *t, uint64_t gen)
{
    ent_schema *sc = NULL;
    ent_layout *l = NULL;
    int rc = ent__schema_from_meta(&sc, t, "schema");
    if (rc) return rc;
    if ((rc = ent__layout_open(&l, t, sc, gen, 0))) {
        ent_schema_free(sc);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    if (s->lay->gen == gen) {
        /* Another thread reloaded first; keep its layout. */
        pthread_mutex_unlock(&s->mu);
        l->older = NULL;
        ent__layout_free(l);
        return ENT_OK;
    }
    l->older = s->lay;
    s->lay = l;
    pthread_mutex_unlock(&s->mu);
    return ENT_OK;
}
