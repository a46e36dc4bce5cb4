/* Durable subscriptions: named checkpoints in the log kept in the store ("subs" table: name ->
 * the last seq acknowledged, 8 bytes big-endian), read through log cursors, and the truncation of
 * the log, which they hold back. Uses the log (log.c); nothing in log.c uses this file. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "keys.h"
#include "store_int.h"

/* ---- durable subscriptions ------------------------------------------------------------------- */

static int sub_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (!name) return ent__err(ENT_INVALID, "subscription name is NULL");
    if (n < 1 || n > 200) return ent__err(ENT_INVALID, "subscription names are 1 to 200 bytes");
    /* Names are printed (JSON, one line per problem): UTF-8 text without control characters. */
    if (!ent__utf8_ok(name, n)) return ent__err(ENT_INVALID, "subscription name is not valid UTF-8");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return ent__err(ENT_INVALID, "subscription name has a control character");
    return ENT_OK;
}

static int sub_get(uint64_t *out, ent_txn *t, const char *name)
{
    ent_slice k = {name, strlen(name)}, v;
    int rc = ent__bk_get(t, t->s->t_subs, &k, &v);
    if (rc == ENT_NOTFOUND) return ent__err(rc, "no subscription \"%s\"", name);
    if (rc) return rc;
    if (v.len != 8) return ent__err(ENT_CORRUPT, "subscription \"%s\": damaged checkpoint", name);
    *out = ent__dec_u64(v.data);
    return ENT_OK;
}

static int sub_put(ent_txn *t, const char *name, uint64_t cp, unsigned flags)
{
    uint8_t b[8];
    ent_slice k = {name, strlen(name)}, v = {b, 8};
    ent__enc_u64(b, cp);
    return ent__bk_put(t, t->s->t_subs, &k, &v, flags);
}

int ent_sub_create(ent_store *s, const char *name, int from_now)
{
    ent_txn *t;
    uint64_t first = 0, last = 0, cp = 0;
    int rc;
    if ((rc = sub_name_ok(name))) return rc;
    if (s && ent__txn_holds_write(s)) return ent__err_holds_write_in("ent_sub_create");
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_WRITE))) return rc;
    if ((rc = ent__log_bounds_in(&first, &last, t))) goto fail;
    /* Before the first event the log keeps: on a trimmed log a checkpoint of 0 named events the
     * subscription never could have read, which `subs read` took for ones a forced trim took from
     * it (refused, asking for an ack) and its lag counted. */
    cp = from_now ? last : first ? first - 1 : 0;
    rc = sub_put(t, name, cp, ENT_PUT_NOOVERWRITE);
    if (rc == ENT_CONFLICT) rc = ent__err(rc, "subscription \"%s\" exists already", name);
    if (rc) goto fail;
    return ent_txn_commit(t);
fail:
    ent_txn_abort(t);
    return rc;
}

int ent_sub_delete(ent_store *s, const char *name)
{
    ent_txn *t;
    ent_slice k;
    int rc;
    if ((rc = sub_name_ok(name))) return rc;
    if (s && ent__txn_holds_write(s)) return ent__err_holds_write_in("ent_sub_delete");
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_WRITE))) return rc;
    k.data = name;
    k.len = strlen(name);
    rc = ent__bk_del(t, s->t_subs, &k, NULL);
    if (rc == ENT_NOTFOUND) rc = ent__err(rc, "no subscription \"%s\"", name);
    if (rc) {
        ent_txn_abort(t);
        return rc;
    }
    return ent_txn_commit(t);
}

int ent_sub_checkpoint(uint64_t *out, ent_store *s, ent_txn *txn, const char *name)
{
    ent_txn *t;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_sub_checkpoint: out is NULL");
    if ((rc = sub_name_ok(name))) return rc;
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    rc = sub_get(out, t, name);
    return ent__txn_end(t, txn, rc, 0);
}

typedef struct ack_arg {
    const char *name;
    uint64_t seq;
} ack_arg;

static int ack_in(ent_txn *t, void *p, int *half)
{
    ack_arg *a = p;
    const char *name = a->name;
    uint64_t seq = a->seq, cp = 0, first = 0, last = 0;
    int rc;
    if ((rc = sub_get(&cp, t, name))) return rc;
    if ((rc = ent__log_load(t)) || (rc = ent__log_bounds_in(&first, &last, t))) return rc;
    if (t->log_last > last) last = t->log_last;
    if (seq > last)
        return ent__err(ENT_INVALID, "subscription \"%s\": cannot acknowledge %" PRIu64
                        " beyond the last event %" PRIu64, name, seq, last);
    /* its one write: a failure there may leave the transaction unusable (a map that could not
     * grow), which a group commit's calls without a savepoint must hear of */
    if (seq > cp) {
        *half = 1;
        rc = sub_put(t, name, seq, 0);
    }
    return rc;
}

int ent_sub_ack(ent_store *s, ent_txn *txn, const char *name, uint64_t seq)
{
    ack_arg a = {name, seq};
    int rc;
    if ((rc = sub_name_ok(name))) return rc;
    return ent__txn_write(s, txn, ack_in, &a);
}

typedef struct sub_look {
    ent_store *s;
    const char *name;
    uint64_t seq, cp;
    int found; /* a look found the subscription: a later ENT_NOTFOUND is its deletion */
} sub_look;

/* Each look is a read transaction of its own: the checkpoint as the last commit left it. */
static int sub_reached(void *p)
{
    sub_look *l = p;
    int rc = ent_sub_checkpoint(&l->cp, l->s, NULL, l->name);
    if (!rc) l->found = 1;
    return rc ? rc : l->cp >= l->seq;
}

int ent_sub_wait(uint64_t *out_checkpoint, ent_store *s, const char *name, uint64_t seq, int timeout_ms)
{
    sub_look l = {s, name, seq, 0, 0};
    int rc;
    if (out_checkpoint) *out_checkpoint = 0;
    if ((rc = sub_name_ok(name))) return rc;
    rc = ent__wait_change_until(s, timeout_ms, sub_reached, &l, "an acknowledgement", name);
    if (rc == ENT_TIMEOUT)
        rc = ent__err(ENT_TIMEOUT, "subscription \"%s\" has acknowledged up to %" PRIu64 ", not yet %" PRIu64
                      " (waited %d ms)", name, l.cp, seq, timeout_ms);
    else if (rc == ENT_NOTFOUND && l.found)
        rc = ent__err(ENT_NOTFOUND, "subscription \"%s\" was deleted while waiting for its acknowledgement of %" PRIu64
                      " (it had acknowledged up to %" PRIu64 ")", name, seq, l.cp);
    else if (rc == ENT_NOTFOUND)
        rc = ent__err(ENT_NOTFOUND, "no subscription \"%s\" to wait for (its acknowledgement of %" PRIu64 ")", name, seq);
    if (out_checkpoint && (rc == ENT_OK || rc == ENT_TIMEOUT || rc == ENT_BUSY)) *out_checkpoint = l.cp;
    return rc;
}

int ent_sub_list(ent_sub_info **out, size_t *out_n, ent_store *s)
{
    ent_txn *t;
    ent_bcur *cur = NULL;
    ent_slice k, v;
    ent_sub_info *list = NULL;
    size_t n = 0, cap = 0;
    int rc, op = ENT_CUR_FIRST;
    if (!out || !out_n) return ent__err(ENT_INVALID, "ent_sub_list: %s is NULL", !out ? "out" : "out_n");
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_READ))) return rc;
    if ((rc = ent__bk_cursor_open(t, s->t_subs, &cur))) goto out;
    for (;; op = ENT_CUR_NEXT) {
        rc = ent__bk_cursor_get(s, cur, op, &k, &v);
        if (rc == ENT_NOTFOUND) {
            rc = ENT_OK;
            break;
        }
        if (rc) break;
        if (k.len > 200 || v.len != 8) {
            rc = ent__err(ENT_CORRUPT, "damaged subscription record");
            break;
        }
        if (n == cap) {
            ent_sub_info *nl = realloc(list, (cap = cap ? cap * 2 : 8) * sizeof *nl);
            if (!nl) {
                rc = ent__err(ENT_NOMEM, "out of memory");
                break;
            }
            list = nl;
        }
        memcpy(list[n].name, k.data, k.len);
        list[n].name[k.len] = '\0';
        list[n].checkpoint = ent__dec_u64(v.data);
        n++;
    }
    ent__bk_cursor_close(s, cur);
out:
    ent_txn_abort(t);
    if (rc) {
        free(list);
        return rc;
    }
    *out = list;
    *out_n = n;
    return ENT_OK;
}

int ent_sub_cursor(ent_log_cursor **out, ent_store *s, const char *name)
{
    uint64_t cp = 0;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_sub_cursor: out is NULL");
    if ((rc = ent_sub_checkpoint(&cp, s, NULL, name))) return rc;
    return ent_log_cursor_open(out, s, cp + 1, NULL, 0);
}

/* ---- truncation ------------------------------------------------------------------------------ */

int ent_log_truncate(ent_store *s, uint64_t below, int force)
{
    ent_txn *t;
    ent_bcur *cur = NULL;
    ent_slice k, v;
    uint64_t first = 0, last = 0, trunc = 0;
    int rc, op = ENT_CUR_FIRST;
    if (s && ent__txn_holds_write(s)) return ent__err_holds_write_in("ent_log_truncate");
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_WRITE))) return rc;
    /* A mirror trims its own log too: its events, entities and position are the primary's, but
     * how much of its past it keeps is its own, held by its own subscriptions as here (refused
     * before, a mirror's log grew for as long as it ran). Applying goes on from "mirror_seq" and
     * the log's counters, which a trim leaves as they are. */
    if ((rc = ent__log_bounds_in(&first, &last, t))) goto fail;
    if (below > last + 1) {
        rc = ent__err(ENT_INVALID, "cannot truncate below %" PRIu64 ": the log ends at %" PRIu64,
                      below, last);
        goto fail;
    }
    if (!force) {
        if ((rc = ent__bk_cursor_open(t, s->t_subs, &cur))) goto fail;
        for (;; op = ENT_CUR_NEXT) {
            rc = ent__bk_cursor_get(s, cur, op, &k, &v);
            if (rc == ENT_NOTFOUND) {
                rc = ENT_OK;
                break;
            }
            if (rc) break;
            /* What it lacks from the log as it is: a subscription made after a truncation (at 0)
             * or left behind by a forced one lacks nothing below `first`. */
            if (v.len == 8 && (ent__dec_u64(v.data) + 1 > first ? ent__dec_u64(v.data) + 1 : first) < below) {
                rc = ent__err(ENT_CONFLICT, "subscription \"%.*s\" has acknowledged only up to %" PRIu64
                              "; truncating below %" PRIu64 " would lose its events",
                              (int)k.len, (const char *)k.data, ent__dec_u64(v.data), below);
                break;
            }
        }
        ent__bk_cursor_close(s, cur);
        cur = NULL;
        if (rc) goto fail;
    }
    if ((rc = ent__bk_cursor_open(t, s->t_log, &cur))) goto fail;
    for (;;) {
        uint64_t seq;
        rc = ent__bk_cursor_get(s, cur, ENT_CUR_FIRST, &k, &v);
        if (rc == ENT_NOTFOUND) {
            rc = ENT_OK;
            break;
        }
        if (rc) break;
        seq = k.len == 8 ? ent__dec_u64(k.data) : 0;
        if (seq >= below) break;
        {
            uint8_t kb[8];
            ent_slice dk = {kb, 8};
            ent__enc_u64(kb, seq);
            if ((rc = ent__bk_del(t, s->t_log, &dk, NULL))) break;
        }
        if (seq > trunc) trunc = seq;
    }
    ent__bk_cursor_close(s, cur);
    if (rc) goto fail;
    if (trunc) {
        uint64_t old = 0;
        rc = ent__meta_get_u64(&old, t, "log_trunc");
        if (rc && rc != ENT_NOTFOUND) goto fail;
        if (trunc > old && (rc = ent__meta_put_u64(t, "log_trunc", trunc))) goto fail;
    }
    return ent_txn_commit(t);
fail:
    ent_txn_abort(t);
    return rc;
}
