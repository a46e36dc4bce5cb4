/* Events as they were written (ent_event_as_written()): the one place that knows which schema
 * version wrote an event and reads it again with that version, for every reader that prints the
 * log (the relay, the CLI, entity-http). Events are decoded with the store's current schema, which
 * no longer reads the fields a later version removed; the log still holds their values.
 *
 * The store keeps the schema history and the older versions it parsed (store_int.h, wr_*). They
 * are never freed before the store is closed: the events handed out borrow their types, and a
 * version's schema never changes once stored, so nothing would be gained by dropping one. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "store_int.h"

struct ent__wr_schema {
    uint32_t version;
    ent_schema *sc;
};

void ent__written_free(ent_store *s)
{
    for (size_t i = 0; i < s->wr_n_scs; i++) ent_schema_free(s->wr_scs[i].sc);
    free(s->wr_scs);
    free(s->wr_marks);
    s->wr_scs = NULL;
    s->wr_marks = NULL;
    s->wr_n_scs = s->wr_n_marks = 0;
    s->wr_top = 0;
}

/* The version that wrote event seq by the marks held (0: none held). Under wr_mu. */
static uint32_t written_version(const ent_store *s, uint64_t seq)
{
    /* Versions ascend and so do their after_seqs: the last one that starts before seq. The live
     * tail, the common case, is the last mark. */
    for (size_t i = s->wr_n_marks; i-- > 0;)
        if (s->wr_marks[i].after_seq < seq) return s->wr_marks[i].version;
    return 0;
}

static const ent_schema *cached(const ent_store *s, uint32_t version)
{
    for (size_t i = 0; i < s->wr_n_scs; i++)
        if (s->wr_scs[i].version == version) return s->wr_scs[i].sc;
    return NULL;
}

/* Read the history again; kept unless another thread kept a newer one meanwhile. */
static int refresh_marks(ent_store *s)
{
    ent_schema_mark *m = NULL;
    size_t n = 0;
    uint32_t top;
    int rc = ent_store_schema_history(&m, &n, s); /* a read transaction: wr_mu is not held */
    if (rc) return rc;
    top = n ? m[n - 1].version : 0;
    pthread_mutex_lock(&s->wr_mu);
    if (top >= s->wr_top) {
        ent_schema_mark *old = s->wr_marks;
        s->wr_marks = m;
        s->wr_n_marks = n;
        s->wr_top = top;
        m = old;
    }
    pthread_mutex_unlock(&s->wr_mu);
    free(m);
    return ENT_OK;
}

/* The parsed stored schema of `version`, loaded and kept on first need. *out is borrowed, valid
 * until the store is closed. */
static int old_schema(const ent_schema **out, ent_store *s, uint32_t version)
{
    struct ent__wr_schema *grown;
    ent_schema *sc = NULL;
    char *json = NULL;
    int rc;
    pthread_mutex_lock(&s->wr_mu);
    *out = cached(s, version);
    pthread_mutex_unlock(&s->wr_mu);
    if (*out) return ENT_OK;
    /* Parsed without the lock: two threads may both parse it; the second one's copy is dropped. */
    if ((rc = ent_store_schema_json(&json, s, version))) return rc;
    rc = ent_schema_load_json(&sc, json, strlen(json), "<stored schema>");
    free(json);
    if (rc == ENT_NOMEM) return rc;
    if (rc)
        return ent__err(ENT_CORRUPT, "the store's schema version %" PRIu32 " does not load: %s", version, ent_errmsg());
    pthread_mutex_lock(&s->wr_mu);
    if ((*out = cached(s, version))) {
        pthread_mutex_unlock(&s->wr_mu);
        ent_schema_free(sc);
        return ENT_OK;
    }
    if (!(grown = realloc(s->wr_scs, (s->wr_n_scs + 1) * sizeof *grown))) {
        pthread_mutex_unlock(&s->wr_mu);
        ent_schema_free(sc);
        return ent__err(ENT_NOMEM, "out of memory");
    }
    s->wr_scs = grown;
    grown[s->wr_n_scs].version = version;
    grown[s->wr_n_scs].sc = sc;
    s->wr_n_scs++;
    *out = sc;
    pthread_mutex_unlock(&s->wr_mu);
    return ENT_OK;
}

int ent_event_as_written(ent_event **out, ent_store *s, const ent_event *ev)
{
    const ent_schema *sc;
    uint32_t read_v, v = 0;
    int rc, have = 0;
    if (!out) return ent__err(ENT_INVALID, "ent_event_as_written: out is NULL");
    *out = NULL;
    if ((rc = ent__store_check(s))) return rc;
    if (!ev || !ev->type)
        return ent__err(ENT_INVALID, "ent_event_as_written: %s", !ev ? "ev is NULL" : "the event has no type");
    /* A delete carries a type and a key only, which no evolution changes (types are never
     * removed, key kinds never change). */
    if (!ev->data) return ENT_OK;
    read_v = ev->type->schema->version;
    /* Marks that know read_v know every version an event read with it can have been written
     * under: it was in a snapshot whose schema was read_v, so its seq is at or before the mark
     * of any later version. Fewer (the store evolved since they were read, also by another
     * process) are read again, once. */
    pthread_mutex_lock(&s->wr_mu);
    if (s->wr_top >= read_v) {
        v = written_version(s, ev->seq);
        have = 1;
    }
    pthread_mutex_unlock(&s->wr_mu);
    if (!have) {
        if ((rc = refresh_marks(s))) return rc;
        pthread_mutex_lock(&s->wr_mu);
        v = written_version(s, ev->seq);
        pthread_mutex_unlock(&s->wr_mu);
    }
    if (!v || v == read_v) return ENT_OK;
    if ((rc = old_schema(&sc, s, v))) return rc;
    return ent_log_get_as(out, s, ev->seq, sc);
}
