/* Raw access to a store's backend tables for the harnesses that damage a store on purpose: the
 * only place in tests/fuzz that knows how the store calls its backend. */
#ifndef ENT_FUZZ_RAW_H
#define ENT_FUZZ_RAW_H

#include "bk.h"
#include "store_int.h"

/* Every table of the store's current layout: meta, log, subs, then per type its data table and
 * its index tables. Returns how many were written to out (at most max). */
static inline size_t fuzz_tables(unsigned *out, size_t max, ent_store *s)
{
    size_t n = 0;
    const ent_layout *l = s->lay;
    if (n < max) out[n++] = s->t_meta;
    if (n < max) out[n++] = s->t_log;
    if (n < max) out[n++] = s->t_subs;
    for (size_t i = 0; i < ent_schema_type_count(l->schema); i++) {
        const ent_type *t = ent_schema_type_at(l->schema, i);
        if (n < max) out[n++] = l->data[i];
        for (size_t j = 0; j < t->n_indexes && n < max; j++) out[n++] = l->idx[i][j];
    }
    return n;
}

static inline int fuzz_raw_put(ent_txn *t, unsigned tbl, const void *k, size_t kn, const void *v, size_t vn)
{
    ent_slice ks = {k, kn}, vs = {v, vn};
    return ent__bk_put(t, tbl, &ks, &vs, 0);
}

static inline int fuzz_raw_del(ent_txn *t, unsigned tbl, const void *k, size_t kn, const void *v, size_t vn)
{
    ent_slice ks = {k, kn}, vs = {v, vn};
    return ent__bk_del(t, tbl, &ks, v ? &vs : NULL);
}

/* The i-th pair of the table (i modulo the number of pairs), copied into k and v (caller frees).
 * Returns ENT_OK, ENT_NOTFOUND (empty table). */
static inline int fuzz_raw_nth(ent_txn *t, unsigned tbl, unsigned i, ent_buf *k, ent_buf *v)
{
    ent_bcur *cur = NULL;
    ent_slice ks, vs;
    unsigned n = 0;
    int rc;
    if ((rc = ent__bk_cursor_open(t, tbl, &cur))) return rc;
    for (rc = ent__bk_cursor_get(t->s, cur, ENT_CUR_FIRST, &ks, &vs); rc == ENT_OK;
         rc = ent__bk_cursor_get(t->s, cur, ENT_CUR_NEXT, &ks, &vs))
        n++;
    if (n == 0) {
        ent__bk_cursor_close(t->s, cur);
        return ENT_NOTFOUND;
    }
    i %= n;
    rc = ent__bk_cursor_get(t->s, cur, ENT_CUR_FIRST, &ks, &vs);
    while (rc == ENT_OK && i--) rc = ent__bk_cursor_get(t->s, cur, ENT_CUR_NEXT, &ks, &vs);
    if (rc == ENT_OK) {
        k->n = v->n = 0;
        if (ent__buf_append(k, ks.data, ks.len) || ent__buf_append(v, vs.data, vs.len)) rc = ENT_NOMEM;
    }
    ent__bk_cursor_close(t->s, cur);
    return rc;
}

#endif
