/* The mirror's side of one stream message (mirror_msg.h): schema messages create or evolve the
 * mirror store, events are gathered per transaction and applied as one (entity/mirror.h does the
 * applying). Everything here is input from outside the process: each header and body is checked
 * before use, and a message that is not what the relay sends stops the mirror with ENT_CORRUPT. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror_msg.h"

void ent_nats__mirror_close(ent_nats__mirror *f)
{
    ent_log_wait_unclaim(f->m, NULL);
    ent_store_close(f->m); /* frees f->cb too */
    f->m = NULL;
    f->cb = NULL;
}

void ent_nats__mirror_fini(ent_nats__mirror *f)
{
    ent_nats__mirror_txn_clear(f);
    ent_nats__mirror_close(f);
    free(f->txn);
    f->txn = NULL;
    f->cap = 0;
}

void ent_nats__mirror_txn_clear(ent_nats__mirror *f)
{
    for (size_t i = 0; i < f->n; i++) ent_event_free(f->txn[i]);
    f->n = 0;
}

int ent_nats__mirror_open(ent_nats__mirror *f, const ent_schema *schema)
{
    int rc;
    ent_nats__mirror_close(f);
    if ((rc = ent_mirror_open(&f->m, f->path, f->primary, schema, f->o->store_opts))) return rc;
    /* This thread alone writes the mirror's log, and the log callback runs on it: an
     * ent_log_wait() there for an event it has not applied waited out its timeout (with -1 the
     * mirror stopped for good). The core refuses it now (ENT_BUSY); unclaimed at the close. */
    if ((rc = ent_log_wait_claim(f->m, NULL, "the mirror's thread (its log callback runs there)"))) {
        ent_nats__mirror_close(f);
        return rc;
    }
    if (f->o->on_event && (rc = ent_subscribe(&f->cb, f->m, NULL, 0, f->o->on_event, f->o->event_payload))) {
        ent_nats__mirror_close(f);
        return rc;
    }
    return ent_mirror_position(&f->applied, &f->pos, f->m);
}

static int on_schema(ent_nats__mirror *f, natsMsg *msg)
{
    ent_schema *sc = NULL;
    uint64_t ver = 0;
    int rc;
    if (ent_nats__header_u64(&ver, msg, "Entity-Schema-Version") != ENT_OK)
        return ent_error_set(ENT_CORRUPT, "stream %s: a schema message without Entity-Schema-Version", f->o->stream);
    if (f->m && ver <= ent_schema_version(ent_store_schema(f->m))) return ENT_OK; /* applied already */
    /* Events gathered so far borrow the open store's types, which the reopen below frees; and a
     * transaction is written under one schema, so the relay never sends a new one inside it. */
    if (f->n)
        return ent_error_set(ENT_CORRUPT, "stream %s: schema version %" PRIu64 " inside the transaction of seq %" PRIu64,
                             f->o->stream, ver, f->txn[0]->seq);
    /* An evolution reopens the store with the new schema; a store in memory would reopen empty
     * (found by fuzz_mirror: the mirror then silently restarted from nothing). */
    if (f->m && !strcmp(ent_store_backend(f->m), "memory"))
        return ent_error_set(ENT_INVALID, "stream %s: schema version %" PRIu64 " arrives, and a mirror in memory cannot "
                             "evolve (reopening would empty it): mirror into an LMDB store", f->o->stream, ver);
    if ((rc = ent_schema_load_json(&sc, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), "<stream>")))
        return ent_error_set_detail(rc, ent_errdetail(), "stream %s: schema version %" PRIu64 " does not load: %s", f->o->stream,
                                    ver, ent_errmsg());
    rc = ent_nats__mirror_open(f, sc);
    ent_schema_free(sc);
    if (rc) return rc;
    ent_nats__log(f->o->log, f->o->log_payload, "mirror: %s at schema %s version %" PRIu64 " (primary %s)", f->path,
              ent_schema_name(ent_store_schema(f->m)), ver, f->primary);
    return ENT_OK;
}

int ent_nats__mirror_same(ent_nats__mirror *f, natsMsg *m, uint64_t seq)
{
    int rc, same;
    if (!f->m) return ENT_OK;
    rc = ent_nats__same_event(&same, m, f->m, seq);
    if (rc == ENT_NOTFOUND) return ENT_OK; /* nothing to compare with */
    if (rc) return rc;
    if (!same)
        return ent_error_set(ENT_CONFLICT, "stream %s holds another seq %" PRIu64 " of store %s than this mirror applied "
                             "(the primary restored from a backup, or a copy of it, relayed since): the mirror stops at seq "
                             "%" PRIu64 " rather than mix two histories; build a new mirror", f->o->stream, seq, f->primary,
                             f->applied);
    f->checked = 1;
    return ENT_OK;
}

static int on_event(ent_nats__mirror *f, natsMsg *msg, uint64_t spos)
{
    uint64_t seq = 0, expect, dummy = 0, under = 0;
    ent_event *ev = NULL;
    int rc;
    if (ent_nats__header_u64(&seq, msg, "Entity-Seq") != ENT_OK)
        return ent_error_set(ENT_CORRUPT, "stream %s: message %" PRIu64 " on %s has no Entity-Seq", f->o->stream, spos,
                             natsMsg_GetSubject(msg));
    expect = f->n ? f->txn[f->n - 1]->seq + 1 : f->applied + 1;
    /* A duplicate: applied (or received) already. The last applied one, met first on a stream
     * read from its start, tells whether what follows continues the mirror's history. */
    if (seq < expect) return seq == f->applied && !f->checked ? ent_nats__mirror_same(f, msg, seq) : ENT_OK;
    if (seq > expect) {
        f->gap = expect;
        return ent_error_set(ENT_NOTFOUND, "stream %s lacks seq %" PRIu64 " of store %s (the next there is %" PRIu64
                             "); the mirror stops at seq %" PRIu64, f->o->stream, expect, f->primary, seq, f->applied);
    }
    /* The version it was written under (relays since 2026-12-06 say it): a mirror below it lacks
     * that version's schema message, which the stream's limits dropped (or someone deleted)
     * before the mirror read it. Applied under the version before, the events went in without a
     * word (the old schema, defaults and indexes kept for good), or stopped it on "unknown field"
     * with no word of why. */
    if (ent_nats__header_u64(&under, msg, "Entity-Schema-Version") == ENT_OK &&
        under > (f->m ? ent_schema_version(ent_store_schema(f->m)) : 0)) {
        f->gap = seq;
        return ent_error_set(ENT_NOTFOUND, "stream %s lacks schema version %" PRIu64 " of store %s, under which seq %" PRIu64
                             " was written (its message was dropped by the stream's limits, or deleted, before the "
                             "mirror read it); the mirror stops at seq %" PRIu64 " (build a new mirror from a stream "
                             "that holds it)", f->o->stream, under, f->primary, seq, f->applied);
    }
    if (!f->m)
        return ent_error_set(ENT_CORRUPT, "stream %s: event seq %" PRIu64 " comes before any schema message", f->o->stream, seq);
    if ((rc = ent_event_from_json(&ev, ent_store_schema(f->m), natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg))))
        return ent_error_set(ENT_CORRUPT, "stream %s, seq %" PRIu64 ": %s", f->o->stream, seq, ent_errmsg());
    if (ev->seq != seq) {
        uint64_t body_seq = ev->seq; /* read before the free (fuzz_mirror: a use after free here) */
        ent_event_free(ev);
        return ent_error_set(ENT_CORRUPT, "stream %s: Entity-Seq %" PRIu64 " on an event of seq %" PRIu64, f->o->stream,
                             seq, body_seq);
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        ent_event **p = realloc(f->txn, cap * sizeof *p);
        if (!p) {
            ent_event_free(ev);
            return ent_error_set(ENT_NOMEM, "out of memory");
        }
        f->txn = p;
        f->cap = cap;
    }
    f->txn[f->n++] = ev;
    if (ent_nats__header_u64(&dummy, msg, "Entity-Txn-End") != ENT_OK) return ENT_OK;
    rc = ent_mirror_apply(f->m, f->txn, f->n, spos);
    if (rc == ENT_OK || rc == ENT_CONFLICT) {
        f->applied = f->txn[f->n - 1]->seq;
        f->pos = spos;
        rc = ENT_OK;
    }
    ent_nats__mirror_txn_clear(f);
    return rc;
}


int ent_nats__mirror_msg(ent_nats__mirror *f, natsMsg *msg, uint64_t spos)
{
    const char *subj = natsMsg_GetSubject(msg);
    size_t sl = strlen(subj);
    f->gap = 0;
    if (sl > 7 && !strcmp(subj + sl - 7, ".schema")) return on_schema(f, msg);
    return on_event(f, msg, spos);
}
