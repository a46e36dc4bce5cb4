/* The schema versions a store has had, and where in its log each took effect (meta "schema_v/N"
 * holds version N's JSON, "schema_seq/N" the last seq written before it; store.c writes both when
 * a schema evolves). A relay reads them to ship each version ahead of its first event. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "store_int.h"

int ent_store_schema_history(ent_schema_mark **out, size_t *out_n, ent_store *s)
{
    ent_txn *t = NULL;
    ent_schema_mark *marks = NULL;
    ent__vers all = {0};
    size_t n = 0;
    uint32_t cur;
    int rc;
    if (!out || !out_n)
        return ent__err(ENT_INVALID, "ent_store_schema_history: %s is NULL", !out ? "out" : "out_n");
    *out = NULL;
    *out_n = 0;
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_READ))) return rc;
    cur = t->lay->schema->version;
    /* The stored versions, not every number up to cur: versions may skip numbers (a store at
     * version 4 000 000 000 asked for an entry per number, 64 GB). */
    if ((rc = ent__schema_stored_below(&all, t, (uint64_t)cur + 1))) goto out;
    if (!(marks = calloc(all.n ? all.n : 1, sizeof *marks))) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < all.n; i++) {
        char key[64];
        uint32_t ver = all.v[i];
        uint64_t after = 0;
        snprintf(key, sizeof key, "schema_seq/%" PRIu32, ver);
        rc = ent__meta_get_u64(&after, t, key);
        if (rc && rc != ENT_NOTFOUND) goto out;
        /* Later versions never start before earlier ones (an unrecorded one counts as 0). */
        if (n && after < marks[n - 1].after_seq) after = marks[n - 1].after_seq;
        marks[n].version = ver;
        marks[n].after_seq = after;
        n++;
    }
    rc = ENT_OK;
    *out = marks;
    *out_n = n;
    marks = NULL;
out:
    free(marks);
    ent__vers_free(&all);
    ent_txn_abort(t);
    return rc;
}

int ent_store_schema_json(char **out, ent_store *s, uint32_t version)
{
    ent_txn *t = NULL;
    ent_slice v;
    char key[64];
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_store_schema_json: out is NULL");
    *out = NULL;
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_READ))) return rc;
    snprintf(key, sizeof key, "schema_v/%" PRIu32, version);
    rc = ent__meta_get(&v, t, key);
    if (rc == ENT_NOTFOUND) rc = ent__err(ENT_NOTFOUND, "the store has no schema version %" PRIu32, version);
    if (!rc) {
        if (!(*out = malloc(v.len + 1))) rc = ent__err(ENT_NOMEM, "out of memory");
        else {
            memcpy(*out, v.data, v.len);
            (*out)[v.len] = '\0';
        }
    }
    ent_txn_abort(t);
    return rc;
}
