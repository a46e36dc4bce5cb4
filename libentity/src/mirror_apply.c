/* Mirrors: opening one, applying a primary's transaction with the primary's seq, ts, txn and
 * version, and the position stored with it.
 *
 * The state changes go through the ordinary write paths (ent_restore, ent_delete,
 * ent_last_id_raise), so indexes,
 * counters, refs and defaults are maintained by the one code that maintains them on the primary.
 * Those paths append events of their own (with this machine's clock and txn number); each is then
 * overwritten, in the same transaction, by the primary's event under the same seq. A write path
 * that appends no event, or another seq, means the mirror's state is not the primary's: the
 * transaction is refused (ENT_CORRUPT) rather than let the copies drift apart.
 * Meta "mirror_seq": the last applied seq and the transport position, one 16-byte value written in
 * the transaction it describes, so a mirror killed anywhere resumes exactly.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "keys.h"
#include "mp_write.h"
#include "store_int.h"

int ent_mirror_open(ent_store **out, const char *path, const char *primary_id,
                    const ent_schema *schema, const ent_store_opts *opts)
{
    if (!out) return ent__err(ENT_INVALID, "ent_mirror_open: out is NULL");
    *out = NULL;
    if (!primary_id || !*primary_id || strlen(primary_id) > 36)
        return ent__err(ENT_INVALID, "ent_mirror_open: bad primary id");
    if (opts && opts->read_only) return ent__err(ENT_INVALID, "ent_mirror_open: a mirror's writer cannot be read-only");
    return ent__store_open(out, path, schema, opts, primary_id);
}

int ent_mirror_position(uint64_t *out_seq, uint64_t *out_pos, ent_store *s)
{
    ent_txn *t;
    uint64_t seq = 0, pos = 0;
    int rc;
    if ((rc = ent__store_check(s))) return rc;
    if (!s->mirror_of[0]) return ent__err(ENT_INVALID, "store %s is not a mirror", s->path);
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_READ))) return rc;
    rc = ent__meta_get_pair(&seq, &pos, t, "mirror_seq");
    ent_txn_abort(t);
    if (rc) return rc;
    if (out_seq) *out_seq = seq;
    if (out_pos) *out_pos = pos;
    return ENT_OK;
}

/* The primary's event as the log stores it (log.c's record layout). */
static int event_pack(ent_buf *b, const ent_event *ev)
{
    int rc;
    b->n = 0;
    ent__event_head_pack(b, ev->ts, ev->txn, ev->type->name, &ev->key, ev->op, ev->version);
    if (ev->op == ENT_OP_DELETE || ev->op == ENT_OP_LAST_ID || !ev->data) ent__mpw_nil(b);
    /* create: every field it carries; update: the fields it names (a removed one as nil) */
    else if ((rc = ent__fields_pack(b, ev->data, ev->op == ENT_OP_CREATE ? NULL : ev->data->changed)))
        return rc;
    return ent__buf_ok(b);
}

static int diverged(const ent_event *ev, const char *why)
{
    return ent__err(ENT_CORRUPT, "mirror does not match the primary at seq %" PRIu64 " (%s %s): %s",
                    ev->seq, ev->type->name, ent__op_name(ev->op), why);
}

/* Change the entity of ev in t the way the primary did. */
static int apply_one(ent_txn *t, const ent_event *ev)
{
    ent_store *s = t->s;
    ent_entity *e = NULL;
    int rc;
    switch (ev->op) {
    case ENT_OP_CREATE:
        rc = ent_exists(s, t, ev->type, &ev->key);
        if (rc == ENT_OK) return diverged(ev, "the entity exists already");
        if (rc != ENT_NOTFOUND) return rc;
        if (!ev->data) return diverged(ev, "a create without data");
        if ((rc = ent_entity_dup(&e, ev->data))) return rc;
        break;
    case ENT_OP_UPDATE:
        /* The stored entity with the fields the event names replaced (a null one removed): what
         * the primary stored, since its state before the event is this mirror's. */
        rc = ent_get(&e, s, t, ev->type, &ev->key);
        if (rc == ENT_NOTFOUND) return diverged(ev, "the entity does not exist");
        if (rc) return rc;
        if (!ev->data) {
            ent_entity_free(e);
            return diverged(ev, "an update without data");
        }
        for (size_t i = 0; i < ev->type->n_fields; i++) {
            if (!ent__is_changed(ev->data, i)) continue;
            ent__val_clear(&e->slots[i]);
            if (ev->data->slots[i].k != EV_UNSET && (rc = ent__val_copy(&e->slots[i], &ev->data->slots[i]))) {
                ent_entity_free(e);
                return rc;
            }
        }
        break;
    case ENT_OP_DELETE:
        /* A delete's event carries the version after the entity's last, as verify's replay
         * checks: the mirror holds the primary's versions, so any other is not the primary's. */
        if (ev->version < 2) return diverged(ev, "a delete of a version below 2");
        rc = ent_delete(s, t, ev->type, &ev->key, ev->version - 1);
        if (rc == ENT_NOTFOUND) return diverged(ev, "the entity does not exist");
        if (rc == ENT_CONFLICT) return diverged(ev, "the entity is at another version");
        return rc;
    case ENT_OP_LAST_ID: {
        /* The primary logs a raise only when its counter went up; the mirror counts the same
         * ids (every create and raise of the primary's log), so its counter is below too. */
        uint64_t last = 0;
        if (ev->type->key != ENT_KEY_AUTO || ev->data || ev->version)
            return ent__err(ENT_INVALID, "event %" PRIu64 ": a last_id takes a type of auto ids, no version and no data", ev->seq);
        if ((rc = ent_last_id(&last, s, t, ev->type))) return rc;
        if (last >= ev->key.id) {
            char why[96];
            snprintf(why, sizeof why, "the id counter is at %" PRIu64 " already, the primary raised it from below", last);
            return diverged(ev, why);
        }
        return ent_last_id_raise(s, t, ev->type, ev->key.id);
    }
    default:
        return ent__err(ENT_INVALID, "event %" PRIu64 ": unknown operation %d", ev->seq, ev->op);
    }
    if ((rc = ent_entity_set_key(e, &ev->key)) || (rc = ent_entity_set_version(e, ev->version))) {
        ent_entity_free(e);
        return rc;
    }
    rc = ent_restore(s, t, e);
    ent_entity_free(e);
    return rc;
}

int ent_mirror_apply(ent_store *s, ent_event *const *evs, size_t n, uint64_t pos)
{
    ent_txn *t = NULL;
    ent_buf b = {NULL, 0, 0};
    uint64_t last = 0, last_txn = 0;
    int rc;
    if ((rc = ent__store_check(s))) return rc;
    if (!evs || !n) return ent__err(ENT_INVALID, "ent_mirror_apply: no events");
    for (size_t i = 0; i < n; i++) {
        if (!evs[i] || !evs[i]->type) return ent__err(ENT_INVALID, "ent_mirror_apply: event %zu is NULL", i);
        if (evs[i]->txn != evs[0]->txn || (i && evs[i]->seq != evs[i - 1]->seq + 1))
            return ent__err(ENT_INVALID, "ent_mirror_apply: events %" PRIu64 "..%" PRIu64
                            " are not one transaction in seq order", evs[0]->seq, evs[i]->seq);
    }
    if (!s->mirror_writer)
        return ent__err(ENT_READONLY, "store %s was not opened as a mirror (ent_mirror_open)", s->path);
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_WRITE))) return rc;
    t->mirror_apply = 1;
    /* The primary checked its refs when it wrote; a load there may have skipped them, and the
     * mirror must take what the primary took. */
    t->refs_unchecked = 1;
    /* Its unique values were checked at the primary's commit; inside the transaction two of them
     * may have moved between entities (ent_txn_defer_unique_checks). */
    t->uniques_deferred = 1;
    if ((rc = ent__log_counters(&last, &last_txn, t))) goto out;
    if (evs[n - 1]->seq <= last) {
        rc = ent__err(ENT_CONFLICT, "events %" PRIu64 "..%" PRIu64 " are applied already (mirror at seq %" PRIu64 ")",
                      evs[0]->seq, evs[n - 1]->seq, last);
        goto out;
    }
    if (evs[0]->seq != last + 1) {
        if (evs[0]->seq > last + 1)
            rc = ent__err(ENT_NOTFOUND, "seq %" PRIu64 " is missing: the mirror is at seq %" PRIu64
                          " and the next event is %" PRIu64, last + 1, last, evs[0]->seq);
        else
            rc = ent__err(ENT_CORRUPT, "transaction %" PRIu64 " starts at seq %" PRIu64 " inside what the mirror "
                          "applied (up to %" PRIu64 ")", evs[0]->txn, evs[0]->seq, last);
        goto out;
    }
    /* The primary numbers its transactions in commit order, and verify holds a log to that: a
     * number that goes back is not the primary's next transaction. */
    if (last_txn && evs[0]->txn <= last_txn) {
        rc = ent__err(ENT_CORRUPT, "seq %" PRIu64 ": transaction %" PRIu64 " after transaction %" PRIu64
                      ": the primary numbers its transactions in commit order", evs[0]->seq, evs[0]->txn, last_txn);
        goto out;
    }
    /* The primary's txn number: log_counters loaded the log state, the flush at commit writes it. */
    t->txn_id = evs[0]->txn;
    for (size_t i = 0; i < n; i++) {
        const ent_event *ev = evs[i];
        uint8_t kb[8];
        ent_slice k = {kb, 8}, v;
        if ((rc = apply_one(t, ev))) {
            /* ENT_CONFLICT means "applied already" to the caller; here it is a change this state
             * refuses (a unique value taken, found by fuzz_mirror: the follower then skipped the
             * transaction as a duplicate), so the events do not fit the mirror. */
            if (rc == ENT_CONFLICT) rc = diverged(ev, ent_errmsg());
            /* the others (a value this mirror's schema refuses, a full disk) name the event too:
             * "customer.badge: missing required field" alone did not say which one stopped it */
            else if (rc != ENT_CORRUPT)
                rc = ent__err_prefix(rc, "seq %" PRIu64 " (%s %s): ", ev->seq, ev->type->name, ent__op_name(ev->op));
            goto out;
        }
        if (t->failed) {
            rc = t->failed_rc;
            goto out;
        }
        if (t->log_last != ev->seq) {
            rc = diverged(ev, "the change is not one event here");
            goto out;
        }
        if ((rc = event_pack(&b, ev))) goto out;
        ent__enc_u64(kb, ev->seq);
        v.data = b.p;
        v.len = b.n;
        if ((rc = ent__bk_put(t, s->t_log, &k, &v, 0))) goto out;
        ent__log_keep(t, ev->seq, v.data, v.len); /* the primary's bytes, over the ones the apply kept */
    }
    if ((rc = ent__meta_put_pair(t, "mirror_seq", evs[n - 1]->seq, pos))) goto out;
    /* Here, not in the commit: its ENT_CONFLICT would say "applied already" to the caller. */
    if ((rc = ent__uniques_check_deferred(t))) {
        char why[512];
        snprintf(why, sizeof why, "%s", ent_errmsg());
        if (rc == ENT_CONFLICT && n == 1)
            rc = diverged(evs[0], why);
        else if (rc == ENT_CONFLICT)
            rc = ent__err(ENT_CORRUPT, "mirror does not match the primary at seq %" PRIu64 "..%" PRIu64
                          " (transaction %" PRIu64 "): %s", evs[0]->seq, evs[n - 1]->seq, evs[0]->txn, why);
        goto out;
    }
    rc = ent_txn_commit(t);
    t = NULL;
out:
    ent_txn_abort(t);
    ent__buf_free(&b);
    return rc;
}
