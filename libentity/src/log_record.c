/* Log records: the events of the log table and the log's counters. Appending in the mutation's
 * transaction, loading and flushing the counters a write transaction caches, decoding a stored
 * event. Below txn.c (which flushes at commit) and used by every file that reads the log.
 *
 * Log table: key = seq as 8 bytes big-endian (so the table is in seq order and appends go at the
 * end), value = msgpack [ts, txn, type name, key (uint|str), op, version, data (map|nil)] where
 * data is a fields map by field id (codec.h); an id counter's raise (op 8) holds the new counter as
 * its key, version 0 and nil. Types are stored by name: names are stable across
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
#include "mp_write.h"
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

/* Bytes the head packs into at most: the array, ts, txn, op, version (9 each at most), the type
 * name and the key. */
static size_t head_bound(size_t name_len, const ent_key *key)
{
    return 1 + 9 + 9 + 5 + name_len + (key->kind == ENT_KEY_AUTO ? 9 : 5 + key->len) + 9 + 9;
}

/* The head at *w (room reserved): the template's writers without a room check each (mp_write.h). */
static void head_write(unsigned char **w, int64_t ts, uint64_t txn, const char *type_name, size_t name_len,
                       const ent_key *key, int op, uint64_t version)
{
    ent__mpr_array(w, 7);
    ent__mpr_int64(w, ts);
    ent__mpr_uint64(w, txn);
    ent__mpr_str(w, name_len);
    ent__mpr_str_body(w, type_name, name_len);
    if (key->kind == ENT_KEY_AUTO) ent__mpr_uint64(w, key->id);
    else {
        ent__mpr_str(w, key->len);
        ent__mpr_str_body(w, key->str, key->len);
    }
    ent__mpr_uint8(w, (uint8_t)op);
    ent__mpr_uint64(w, version);
}

void ent__event_head_pack(ent_buf *b, int64_t ts, uint64_t txn, const char *type_name, const ent_key *key,
                         int op, uint64_t version)
{
    size_t nl = strlen(type_name);
    unsigned char *w;
    if (ent__buf_ok(b) || ent__buf_reserve(b, head_bound(nl, key))) {
        b->cap = SIZE_MAX; /* failed: reported by ent__buf_ok(), as the writers do (mp_write.h) */
        return;
    }
    w = (unsigned char *)b->p + b->n;
    head_write(&w, ts, txn, type_name, nl, key, op, version);
    b->n = (size_t)((char *)w - b->p);
}

int ent__log_append(ent_txn *t, const ent_type *type, const ent_key *key, int op, uint64_t version,
                    const ent_entity *e, const uint64_t *mask, const ent_slice *packed)
{
    uint8_t kb[8];
    ent_slice k, v;
    int64_t ts;
    int rc;
    /* Every change of an entity appends an event, so this one check keeps a mirror's data the
     * primary's; its subscriptions (the subs table) stay writable for its own consumers. */
    if ((rc = ent__mirror_guard(t))) return rc;
    if ((rc = ent__log_load(t))) return rc;
    ts = t->keep_ts ? t->event_ts : now_ns();
    t->ev.n = 0;
    if (packed && op != ENT_OP_DELETE && e) {
        /* a create: the head and the record's fields map, in one reservation */
        size_t nl = strlen(type->name);
        unsigned char *w;
        if ((rc = ent__buf_ok(&t->ev)) || (rc = ent__buf_reserve(&t->ev, head_bound(nl, key) + packed->len)))
            return rc;
        w = (unsigned char *)t->ev.p;
        head_write(&w, ts, t->txn_id, type->name, nl, key, op, version);
        memcpy(w, packed->data, packed->len);
        t->ev.n = (size_t)((char *)w - t->ev.p) + packed->len;
    } else {
        ent__event_head_pack(&t->ev, ts, t->txn_id, type->name, key, op, version);
        if (op == ENT_OP_DELETE || !e) ent__mpw_nil(&t->ev);
        else if ((rc = ent__fields_pack(&t->ev, e, mask))) return rc;
        if ((rc = ent__buf_ok(&t->ev))) return rc;
    }
    ent__enc_u64(kb, t->log_last + 1);
    k.data = kb;
    k.len = 8;
    v.data = t->ev.p;
    v.len = t->ev.n;
    /* Never over an event: a recorded last seq behind the log (its meta damaged or lost) made
     * this put replace event log_last + 1 and the write succeed. */
    if ((rc = ent__bk_put(t, t->s->t_log, &k, &v, ENT_PUT_APPEND | ENT_PUT_NOOVERWRITE))) {
        if (rc == ENT_CONFLICT)
            rc = ent__err(ENT_CORRUPT, "log: seq %" PRIu64 " holds an event already, but the recorded last seq is %" PRIu64
                          " (store meta \"log\" damaged); the write is refused", t->log_last + 1, t->log_last);
        return rc;
    }
    t->log_last++;
    if (t->cap.on || !t->cap.asked) ent__log_keep(t, t->log_last, v.data, v.len);
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
    return ent__event_decode_in(out, lay->schema, seq, p, n);
}

/* The same with schema sc (sealed): its types are the event's. */
int ent__event_decode_in(ent_event **out, const ent_schema *sc, uint64_t seq, const void *p, size_t n)
{
    msgpack_zone *z;
    msgpack_object u;
    size_t off = 0;
    ent_event *ev = NULL;
    const msgpack_object *a;
    int rc;
    char name[ENT_NAME_MAX + 1];

    ent__record_nskipped = 0;
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
    if (a[2].via.str.size) memcpy(name, a[2].via.str.ptr, a[2].via.str.size); /* "" may be NULL */
    name[a[2].via.str.size] = '\0';
    ev->type = ent_schema_type(sc, name);
    if (!ev->type) {
        rc = ent__err(ENT_CORRUPT, "event %" PRIu64 ": unknown type \"%s\"", seq, name);
        goto fail;
    }
    ev->op = (int)a[4].via.u64;
    if (ev->op != ENT_OP_CREATE && ev->op != ENT_OP_UPDATE && ev->op != ENT_OP_DELETE && ev->op != ENT_OP_LAST_ID) {
        rc = corrupt(seq, "unknown operation");
        goto fail;
    }
    ev->version = a[5].via.u64;
    /* A raise of an id counter names no entity: a type of auto ids, the counter as its key, no
     * version, no data (ent_last_id_raise()). */
    if (ev->op == ENT_OP_LAST_ID && (ev->type->key != ENT_KEY_AUTO || ev->version || a[6].type != MSGPACK_OBJECT_NIL)) {
        rc = corrupt(seq, ev->type->key != ENT_KEY_AUTO ? "an id counter's raise on a type of string keys"
                          : ev->version ? "an id counter's raise with a version" : "data on an id counter's raise");
        goto fail;
    }
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
    if (ev->op == ENT_OP_LAST_ID) {
        /* checked above */
    } else if (ev->op == ENT_OP_DELETE) {
        if (a[6].type != MSGPACK_OBJECT_NIL) {
            rc = corrupt(seq, "data on a delete");
            goto fail;
        }
    } else {
        if (a[6].type != MSGPACK_OBJECT_MAP) {
            rc = corrupt(seq, "missing data");
            goto fail;
        }
        if ((rc = ent__entity_new_bare(&ev->data, ev->type))) goto fail;
        if ((rc = ent__fields_apply(ev->data, &a[6]))) {
            if (rc == ENT_CORRUPT) ent__err_prefix(rc, "event %" PRIu64 ": ", seq);
            goto fail;
        }
        /* A create carries values only: a nil (a removal) in one is damage, and its JSON would be
         * refused by ent_event_from_json() (found by fuzz_record). */
        for (size_t i = 0; ev->op == ENT_OP_CREATE && i < ev->type->n_fields; i++)
            if (ent__is_changed(ev->data, i) && ev->data->slots[i].k == EV_UNSET) {
                rc = ent__err(ENT_CORRUPT, "event %" PRIu64 ": a create that removes field %s", seq,
                              ev->type->fields[i]->name);
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
