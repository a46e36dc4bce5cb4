/* The event log's storage: appending in the mutation's transaction, decoding, reading (bounds,
 * cursors), waiting for commits. Durable subscriptions and truncation are in log_subs.c,
 * in-process delivery in log_deliver.c; both use this file, not the other way round.
 *
 * Log table: key = seq as 8 bytes big-endian (so the table is in seq order and appends go at the
 * end), value = msgpack [ts, txn, type name, key (uint|str), op, version, data (map|nil)] where
 * data is a fields map by field id (codec.h). Types are stored by name: names are stable across
 * evolutions (a type cannot be removed) and ids of fields are, so old events decode by the
 * current schema.
 * Meta: "log" (last seq written and last txn number, 16 bytes: one write per commit), "log_trunc"
 * (highest seq dropped by truncation; absent when the log is whole).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error_int.h"
#include "keys.h"
#include "store_int.h"
#include "value_int.h"

/* ---- append ---------------------------------------------------------------------------------- */

int ent__log_load(ent_txn *t)
{
    int rc;
    uint64_t txn_last = 0;
    if (t->log_loaded) return ENT_OK;
    if ((rc = ent__meta_get_pair(&t->log_last, &txn_last, t, "log"))) return rc;
    t->txn_id = txn_last + 1;
    t->log_loaded = 1;
    return ENT_OK;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int ent__log_append(ent_txn *t, const ent_type *type, const ent_key *key, int op, uint64_t version,
                    const ent_entity *e, const uint64_t *mask, const ent_slice *packed)
{
    msgpack_packer pk;
    uint8_t kb[8];
    ent_slice k, v;
    int rc;
    if ((rc = ent__log_load(t))) return rc;
    t->ev.n = 0;
    ent__packer_init(&pk, &t->ev);
    msgpack_pack_array(&pk, 7);
    msgpack_pack_int64(&pk, now_ns());
    msgpack_pack_uint64(&pk, t->txn_id);
    msgpack_pack_str(&pk, strlen(type->name));
    msgpack_pack_str_body(&pk, type->name, strlen(type->name));
    if (key->kind == ENT_KEY_AUTO) {
        msgpack_pack_uint64(&pk, key->id);
    } else {
        msgpack_pack_str(&pk, key->len);
        msgpack_pack_str_body(&pk, key->str, key->len);
    }
    msgpack_pack_uint8(&pk, (uint8_t)op);
    msgpack_pack_uint64(&pk, version);
    if (op == ENT_OP_DELETE || !e) {
        msgpack_pack_nil(&pk);
    } else if (packed) {
        ent__buf_append(&t->ev, packed->data, packed->len);
    } else if ((rc = ent__fields_pack(&pk, e, mask))) {
        return rc;
    }
    if ((rc = ent__buf_ok(&t->ev))) return rc;
    ent__enc_u64(kb, t->log_last + 1);
    k.data = kb;
    k.len = 8;
    v.data = t->ev.p;
    v.len = t->ev.n;
    if ((rc = ent__bk_put(t, t->s->t_log, &k, &v, ENT_PUT_APPEND))) return rc;
    t->log_last++;
    if (!t->first_seq) t->first_seq = t->log_last;
    t->log_dirty = 1;
    return ENT_OK;
}

int ent__log_flush(ent_txn *t)
{
    if (!t->log_dirty) return ENT_OK;
    return ent__meta_put_pair(t, "log", t->log_last, t->txn_id);
}

int ent__log_counters(uint64_t *last_seq, uint64_t *last_txn, ent_txn *t)
{
    uint64_t a, b;
    int rc;
    if (t->write) {
        if ((rc = ent__log_load(t))) return rc;
        a = t->log_last;
        b = t->log_dirty ? t->txn_id : t->txn_id - 1;
    } else if ((rc = ent__meta_get_pair(&a, &b, t, "log"))) {
        return rc;
    }
    if (last_seq) *last_seq = a;
    if (last_txn) *last_txn = b;
    return ENT_OK;
}

/* ---- decoding -------------------------------------------------------------------------------- */

void ent_event_free(ent_event *ev)
{
    if (!ev) return;
    ent_entity_free(ev->data);
    free((char *)ev->key.str);
    free(ev);
}

static int corrupt(uint64_t seq, const char *what)
{
    return ent__err(ENT_CORRUPT, "event %" PRIu64 ": %s", seq, what);
}

/* Decode the event stored under seq with the schema of layout lay. */
int ent__event_decode(ent_event **out, const ent_layout *lay, uint64_t seq, const void *p, size_t n)
{
    msgpack_zone *z;
    msgpack_object u;
    size_t off = 0;
    ent_event *ev = NULL;
    const msgpack_object *a;
    int rc;
    char name[ENT_NAME_MAX + 1];

    if (!(z = ent__zone_take())) return ent__err(ENT_NOMEM, "out of memory");
    /* The structural check first: msgpack-c allocates an array's items before reading them, so a
     * damaged length byte could otherwise ask for gigabytes. */
    if (ent__mp_check(p, n) != ENT_OK || msgpack_unpack(p, n, &off, z, &u) != MSGPACK_UNPACK_SUCCESS || off != n ||
        u.type != MSGPACK_OBJECT_ARRAY || u.via.array.size != 7) {
        rc = corrupt(seq, "not an event record");
        goto fail;
    }
    a = u.via.array.ptr;
    ev = calloc(1, sizeof *ev);
    if (!ev) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        goto fail;
    }
    ev->seq = seq;
    if (a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[0].via.u64 <= INT64_MAX)
        ev->ts = (int64_t)a[0].via.u64;
    else if (a[0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        ev->ts = a[0].via.i64;
    else {
        rc = corrupt(seq, "bad timestamp");
        goto fail;
    }
    if (a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[2].type != MSGPACK_OBJECT_STR ||
        a[2].via.str.size > ENT_NAME_MAX || a[4].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        a[5].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        rc = corrupt(seq, "malformed fields");
        goto fail;
    }
    ev->txn = a[1].via.u64;
    memcpy(name, a[2].via.str.ptr, a[2].via.str.size);
    name[a[2].via.str.size] = '\0';
    ev->type = ent_schema_type(lay->schema, name);
    if (!ev->type) {
        rc = ent__err(ENT_CORRUPT, "event %" PRIu64 ": unknown type \"%s\"", seq, name);
        goto fail;
    }
    ev->op = (int)a[4].via.u64;
    if (ev->op != ENT_OP_CREATE && ev->op != ENT_OP_UPDATE && ev->op != ENT_OP_DELETE) {
        rc = corrupt(seq, "unknown operation");
        goto fail;
    }
    ev->version = a[5].via.u64;
    if (ev->type->key == ENT_KEY_AUTO && a[3].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[3].via.u64) {
        ev->key = ent_key_id(a[3].via.u64);
    } else if (ev->type->key == ENT_KEY_STRING && a[3].type == MSGPACK_OBJECT_STR &&
               a[3].via.str.size >= 1 && a[3].via.str.size <= ENT_KEY_STRING_MAX) {
        char *k = malloc(a[3].via.str.size + 1);
        if (!k) {
            rc = ent__err(ENT_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(k, a[3].via.str.ptr, a[3].via.str.size);
        k[a[3].via.str.size] = '\0';
        ev->key.kind = ENT_KEY_STRING;
        ev->key.str = k;
        ev->key.len = a[3].via.str.size;
    } else {
        rc = corrupt(seq, "bad key");
        goto fail;
    }
    if (ev->op == ENT_OP_DELETE) {
        if (a[6].type != MSGPACK_OBJECT_NIL) {
            rc = corrupt(seq, "data on a delete");
            goto fail;
        }
    } else {
        if (a[6].type != MSGPACK_OBJECT_MAP) {
            rc = corrupt(seq, "missing data");
            goto fail;
        }
        if ((rc = ent_entity_new(&ev->data, ev->type))) goto fail;
        if ((rc = ent__fields_apply(ev->data, &a[6]))) {
            if (rc == ENT_CORRUPT) ent__err_prefix(rc, "event %" PRIu64 ": ", seq);
            goto fail;
        }
        if ((rc = ent_entity_set_key(ev->data, &ev->key))) goto fail;
        ev->data->version = ev->version;
    }
    ent__zone_give(z);
    *out = ev;
    return ENT_OK;
fail:
    ent__zone_give(z);
    ent_event_free(ev);
    return rc;
}

/* ---- reading --------------------------------------------------------------------------------- */

int ent__log_bounds_in(uint64_t *first, uint64_t *last, ent_txn *t)
{
    ent_bcur *cur = NULL;
    ent_slice k, v;
    uint64_t trunc = 0;
    int rc = ent__log_counters(last, NULL, t);
    if (rc) return rc;
    if (*last == 0) {
        *first = 0;
        return ENT_OK;
    }
    rc = ent__meta_get_u64(&trunc, t, "log_trunc");
    if (rc && rc != ENT_NOTFOUND) return rc;
    if ((rc = ent__bk_cursor_open(t, t->s->t_log, &cur))) return rc;
    rc = ent__bk_cursor_get(t->s, cur, ENT_CUR_FIRST, &k, &v);
    if (rc == ENT_OK && k.len == 8)
        *first = ent__dec_u64(k.data);
    else if (rc == ENT_NOTFOUND || rc == ENT_OK)
        *first = *last ? (trunc ? trunc + 1 : 1) : 0;
    ent__bk_cursor_close(t->s, cur);
    return rc == ENT_NOTFOUND ? ENT_OK : rc;
}

int ent_log_bounds(uint64_t *first, uint64_t *last, ent_store *s, ent_txn *txn)
{
    ent_txn *t;
    uint64_t f = 0, l = 0;
    int rc;
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    rc = ent__log_bounds_in(&f, &l, t);
    if (first) *first = f;
    if (last) *last = l;
    return ent__txn_end(t, txn, rc, 0);
}

int ent_log_get(ent_event **out, ent_store *s, ent_txn *txn, uint64_t seq)
{
    ent_txn *t;
    uint8_t kb[8];
    ent_slice k = {kb, 8}, v;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_log_get: out is NULL");
    *out = NULL;
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    ent__enc_u64(kb, seq);
    rc = ent__bk_get(t, s->t_log, &k, &v);
    if (rc == ENT_NOTFOUND) rc = ent__err(rc, "no event %" PRIu64 " in the log", seq);
    else if (!rc) rc = ent__event_decode(out, t->lay, seq, v.data, v.len);
    return ent__txn_end(t, txn, rc, 0);
}

#define LOG_BATCH 256

struct ent_log_cursor {
    ent_store *s;
    uint64_t pos;          /* next seq to look at */
    const ent_type *type;  /* filter (the store's type), NULL = all */
    char type_name[ENT_NAME_MAX + 1];
    unsigned ops;
    ent_event *batch[LOG_BATCH];
    size_t n, i;
};

int ent_log_cursor_open(ent_log_cursor **out, ent_store *s, uint64_t from_seq,
                        const ent_type *type, unsigned ops)
{
    ent_log_cursor *c;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_log_cursor_open: out is NULL");
    *out = NULL;
    if ((rc = ent__store_check(s))) return rc;
    if (ops & ~(unsigned)(ENT_OP_CREATE | ENT_OP_UPDATE | ENT_OP_DELETE))
        return ent__err(ENT_INVALID, "unknown operation flags 0x%x", ops);
    c = calloc(1, sizeof *c);
    if (!c) return ent__err(ENT_NOMEM, "out of memory");
    c->s = s;
    c->pos = from_seq ? from_seq : 1;
    c->ops = ops;
    if (type) snprintf(c->type_name, sizeof c->type_name, "%s", ent_type_name(type));
    c->type = type;
    *out = c;
    return ENT_OK;
}

static int cursor_fill(ent_log_cursor *c)
{
    ent_txn *t;
    ent_bcur *cur = NULL;
    uint8_t kb[8];
    ent_slice k, v;
    int rc, op = ENT_CUR_SEEK;
    if ((rc = ent_txn_begin(&t, c->s, ENT_TXN_READ))) return rc;
    if ((rc = ent__bk_cursor_open(t, c->s->t_log, &cur))) goto out;
    ent__enc_u64(kb, c->pos);
    k.data = kb;
    k.len = 8;
    /* Scan up to a bounded number of records per fill so a filter that matches little still
     * returns to the caller (and to the next snapshot) regularly. */
    for (size_t scanned = 0; c->n < LOG_BATCH && scanned < 16 * LOG_BATCH; scanned++, op = ENT_CUR_NEXT) {
        uint64_t seq;
        ent_event *ev = NULL;
        rc = ent__bk_cursor_get(c->s, cur, op, &k, &v);
        if (rc == ENT_NOTFOUND) {
            rc = ENT_OK;
            break;
        }
        if (rc) break;
        if (k.len != 8) {
            rc = ent__err(ENT_CORRUPT, "log key of %zu bytes", k.len);
            break;
        }
        seq = ent__dec_u64(k.data);
        if ((rc = ent__event_decode(&ev, t->lay, seq, v.data, v.len))) break;
        c->pos = seq + 1;
        if ((c->type && strcmp(ev->type->name, c->type_name) != 0) || (c->ops && !(c->ops & (unsigned)ev->op))) {
            ent_event_free(ev);
            continue;
        }
        c->batch[c->n++] = ev;
    }
    ent__bk_cursor_close(c->s, cur);
out:
    ent_txn_abort(t);
    return rc;
}

int ent_log_next(ent_event **out, ent_log_cursor *c)
{
    int rc;
    if (!out || !c) return ent__err(ENT_INVALID, "ent_log_next: NULL argument");
    *out = NULL;
    if (c->i == c->n) {
        uint64_t before;
        c->i = c->n = 0;
        do {
            before = c->pos;
            if ((rc = cursor_fill(c))) return rc;
        } while (c->n == 0 && c->pos != before);
        if (c->n == 0) return ent__err(ENT_NOTFOUND, "no event at or after %" PRIu64 " yet", c->pos);
    }
    *out = c->batch[c->i];
    c->batch[c->i++] = NULL;
    return ENT_OK;
}

uint64_t ent_log_cursor_pos(const ent_log_cursor *c)
{
    /* Events buffered but not yet handed out come before pos. */
    return c->i < c->n ? c->batch[c->i]->seq : c->pos;
}

void ent_log_cursor_free(ent_log_cursor *c)
{
    if (!c) return;
    for (size_t i = c->i; i < c->n; i++) ent_event_free(c->batch[i]);
    free(c);
}

static int last_seq(uint64_t *out, ent_store *s)
{
    return ent_log_bounds(NULL, out, s, NULL);
}

int ent_log_wait(uint64_t *out_last, ent_store *s, uint64_t after_seq, int timeout_ms)
{
    struct timespec start, now;
    int rc;
    if ((rc = ent__store_check(s))) return rc;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        /* Read the change counter before the log: a commit after the check bumps it, so the wait
         * below returns at once instead of missing that commit. */
        uint64_t seen = ent__bk_change_counter(s), last = 0;
        int left = -1;
        if ((rc = last_seq(&last, s))) return rc;
        if (last > after_seq) {
            if (out_last) *out_last = last;
            return ENT_OK;
        }
        if (timeout_ms >= 0) {
            int64_t elapsed;
            clock_gettime(CLOCK_MONOTONIC, &now);
            elapsed = (int64_t)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            if (elapsed >= timeout_ms) {
                if (out_last) *out_last = last;
                return ent__err(ENT_TIMEOUT, "no event after %" PRIu64 " within %d ms", after_seq, timeout_ms);
            }
            left = (int)(timeout_ms - elapsed);
        }
        rc = ent__bk_wait_change(s, seen, left);
        if (rc && rc != ENT_TIMEOUT) return rc;
    }
}
