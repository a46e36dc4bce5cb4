/* The event log: appending in the mutation's transaction, reading, waiting, truncating.
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

static int log_load(ent_txn *t)
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
    if ((rc = log_load(t))) return rc;
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
    if ((rc = t->s->ops->put(t->bt, t->s->t_log, &k, &v, ENT_PUT_APPEND))) return rc;
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
        if ((rc = log_load(t))) return rc;
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

static int bounds_in(uint64_t *first, uint64_t *last, ent_txn *t)
{
    void *cur = NULL;
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
    if ((rc = t->s->ops->cursor_open(t->bt, t->s->t_log, &cur))) return rc;
    rc = t->s->ops->cursor_get(cur, ENT_CUR_FIRST, &k, &v);
    if (rc == ENT_OK && k.len == 8)
        *first = ent__dec_u64(k.data);
    else if (rc == ENT_NOTFOUND || rc == ENT_OK)
        *first = *last ? (trunc ? trunc + 1 : 1) : 0;
    t->s->ops->cursor_close(cur);
    return rc == ENT_NOTFOUND ? ENT_OK : rc;
}

int ent_log_bounds(uint64_t *first, uint64_t *last, ent_store *s, ent_txn *txn)
{
    ent_txn *t;
    uint64_t f = 0, l = 0;
    int rc;
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    rc = bounds_in(&f, &l, t);
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
    rc = s->ops->get(t->bt, s->t_log, &k, &v);
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
    void *cur = NULL;
    uint8_t kb[8];
    ent_slice k, v;
    int rc, op = ENT_CUR_SEEK;
    if ((rc = ent_txn_begin(&t, c->s, ENT_TXN_READ))) return rc;
    if ((rc = c->s->ops->cursor_open(t->bt, c->s->t_log, &cur))) goto out;
    ent__enc_u64(kb, c->pos);
    k.data = kb;
    k.len = 8;
    /* Scan up to a bounded number of records per fill so a filter that matches little still
     * returns to the caller (and to the next snapshot) regularly. */
    for (size_t scanned = 0; c->n < LOG_BATCH && scanned < 16 * LOG_BATCH; scanned++, op = ENT_CUR_NEXT) {
        uint64_t seq;
        ent_event *ev = NULL;
        rc = c->s->ops->cursor_get(cur, op, &k, &v);
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
    c->s->ops->cursor_close(cur);
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
        uint64_t seen = s->ops->change_counter(s->be), last = 0;
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
        rc = s->ops->wait_change(s->be, seen, left);
        if (rc && rc != ENT_TIMEOUT) return rc;
    }
}

/* ---- durable subscriptions ------------------------------------------------------------------- */

static int sub_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
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
    int rc = t->s->ops->get(t->bt, t->s->t_subs, &k, &v);
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
    return t->s->ops->put(t->bt, t->s->t_subs, &k, &v, flags);
}

int ent_sub_create(ent_store *s, const char *name, int from_now)
{
    ent_txn *t;
    uint64_t first = 0, last = 0, cp = 0;
    int rc;
    if ((rc = sub_name_ok(name))) return rc;
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_WRITE))) return rc;
    if ((rc = bounds_in(&first, &last, t))) goto fail;
    cp = from_now ? last : 0;
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
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_WRITE))) return rc;
    k.data = name;
    k.len = strlen(name);
    rc = s->ops->del(t->bt, s->t_subs, &k, NULL);
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
    (void)half; /* one put: it is done or not */
    if ((rc = sub_get(&cp, t, name))) goto out;
    if ((rc = log_load(t)) || (rc = bounds_in(&first, &last, t))) goto out;
    if (t->log_last > last) last = t->log_last;
    if (seq > last) {
        rc = ent__err(ENT_INVALID, "subscription \"%s\": cannot acknowledge %" PRIu64
                      " beyond the last event %" PRIu64, name, seq, last);
        goto out;
    }
    if (seq > cp) rc = sub_put(t, name, seq, 0);
out:
    return rc;
}

int ent_sub_ack(ent_store *s, ent_txn *txn, const char *name, uint64_t seq)
{
    ack_arg a = {name, seq};
    int rc;
    if ((rc = sub_name_ok(name))) return rc;
    return ent__txn_write(s, txn, ack_in, &a);
}

int ent_sub_list(ent_sub_info **out, size_t *out_n, ent_store *s)
{
    ent_txn *t;
    void *cur = NULL;
    ent_slice k, v;
    ent_sub_info *list = NULL;
    size_t n = 0, cap = 0;
    int rc, op = ENT_CUR_FIRST;
    if (!out || !out_n) return ent__err(ENT_INVALID, "ent_sub_list: NULL argument");
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_READ))) return rc;
    if ((rc = s->ops->cursor_open(t->bt, s->t_subs, &cur))) goto out;
    for (;; op = ENT_CUR_NEXT) {
        rc = s->ops->cursor_get(cur, op, &k, &v);
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
    s->ops->cursor_close(cur);
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
    int rc = ent_sub_checkpoint(&cp, s, NULL, name);
    if (rc) return rc;
    return ent_log_cursor_open(out, s, cp + 1, NULL, 0);
}

/* ---- truncation ------------------------------------------------------------------------------ */

int ent_log_truncate(ent_store *s, uint64_t below, int force)
{
    ent_txn *t;
    void *cur = NULL;
    ent_slice k, v;
    uint64_t first = 0, last = 0, trunc = 0;
    int rc, op = ENT_CUR_FIRST;
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_WRITE))) return rc;
    if ((rc = bounds_in(&first, &last, t))) goto fail;
    if (below > last + 1) {
        rc = ent__err(ENT_INVALID, "cannot truncate below %" PRIu64 ": the log ends at %" PRIu64,
                      below, last);
        goto fail;
    }
    if (!force) {
        if ((rc = s->ops->cursor_open(t->bt, s->t_subs, &cur))) goto fail;
        for (;; op = ENT_CUR_NEXT) {
            rc = s->ops->cursor_get(cur, op, &k, &v);
            if (rc == ENT_NOTFOUND) {
                rc = ENT_OK;
                break;
            }
            if (rc) break;
            if (v.len == 8 && ent__dec_u64(v.data) + 1 < below) {
                rc = ent__err(ENT_CONFLICT, "subscription \"%.*s\" has acknowledged only up to %" PRIu64
                              "; truncating below %" PRIu64 " would lose its events (force to override)",
                              (int)k.len, (const char *)k.data, ent__dec_u64(v.data), below);
                break;
            }
        }
        s->ops->cursor_close(cur);
        cur = NULL;
        if (rc) goto fail;
    }
    if ((rc = s->ops->cursor_open(t->bt, s->t_log, &cur))) goto fail;
    for (;;) {
        uint64_t seq;
        rc = s->ops->cursor_get(cur, ENT_CUR_FIRST, &k, &v);
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
            if ((rc = s->ops->del(t->bt, s->t_log, &dk, NULL))) break;
        }
        if (seq > trunc) trunc = seq;
    }
    s->ops->cursor_close(cur);
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

/* ---- in-process subscribers ------------------------------------------------------------------ */

struct ent_sub_cb {
    struct ent_sub_cb *next;
    int dead;                         /* unsubscribed during a delivery: freed after it */
    char type_name[ENT_NAME_MAX + 1]; /* "" = all */
    unsigned ops;
    ent_event_cb cb;
    void *payload;
};

/* The store whose events this thread is delivering (a callback of it is running). Deliveries
 * do not nest: a callback cannot commit a write. */
static _Thread_local ent_store *delivering;

int ent__log_in_callback(void) { return delivering != NULL; }

int ent_subscribe(ent_subscriber **out, ent_store *s, const ent_type *type, unsigned ops,
                  ent_event_cb cb, void *payload)
{
    struct ent_sub_cb *c;
    int rc;
    if (!out || !cb) return ent__err(ENT_INVALID, "ent_subscribe: out and cb are required");
    if ((rc = ent__store_check(s))) return rc;
    if (ops & ~(unsigned)(ENT_OP_CREATE | ENT_OP_UPDATE | ENT_OP_DELETE))
        return ent__err(ENT_INVALID, "unknown operation flags 0x%x", ops);
    c = calloc(1, sizeof *c);
    if (!c) return ent__err(ENT_NOMEM, "out of memory");
    if (type) snprintf(c->type_name, sizeof c->type_name, "%s", ent_type_name(type));
    c->ops = ops;
    c->cb = cb;
    c->payload = payload;
    /* The list is guarded by s->mu alone, a lock never held while anything else is taken or a
     * callback runs: so subscribing works from any thread and from callbacks, of this store or
     * another, without a lock-order cycle. A new node goes in front, behind a running walk. */
    pthread_mutex_lock(&s->mu);
    c->next = s->cbs;
    s->cbs = c;
    pthread_mutex_unlock(&s->mu);
    *out = (ent_subscriber *)c;
    return ENT_OK;
}

/* Unlink and free the nodes marked dead. s->mu held, no delivery running. */
static void sweep_dead(ent_store *s)
{
    for (struct ent_sub_cb **pp = &s->cbs; *pp;) {
        struct ent_sub_cb *c = *pp;
        if (c->dead) {
            *pp = c->next;
            free(c);
        } else {
            pp = &c->next;
        }
    }
}

void ent_unsubscribe(ent_store *s, ent_subscriber *sub)
{
    if (!s || !sub) return;
    /* A running delivery may stand on the node (it may be the caller's own, from its callback):
     * mark it; the delivery skips it from now on and frees it when it ends. Outside callbacks,
     * wait for that end, so that no call of it is still running when this returns (the caller
     * may free the payload). A callback does not wait: two callbacks of two stores waiting for
     * each other's delivery would never end. */
    pthread_mutex_lock(&s->mu);
    for (struct ent_sub_cb *c = s->cbs; c; c = c->next)
        if (c == (struct ent_sub_cb *)sub) c->dead = 1;
    /* Only the delivery running now can still call the node; a later one skips it. Deliveries
     * may follow each other without a gap, so wait for this one's end, not for a moment with
     * none running (which a busy store might never have). */
    if (!ent__log_in_callback()) {
        uint64_t gen = s->deliveries;
        while (s->delivering && s->deliveries == gen) pthread_cond_wait(&s->delivered, &s->mu);
    }
    if (!s->delivering) sweep_dead(s);
    pthread_mutex_unlock(&s->mu);
}

void ent__store_free_cbs(ent_store *s);
void ent__store_free_cbs(ent_store *s)
{
    while (s->cbs) {
        struct ent_sub_cb *n = s->cbs->next;
        free(s->cbs);
        s->cbs = n;
    }
}

int ent__log_has_subscribers(ent_store *s)
{
    int has;
    pthread_mutex_lock(&s->mu);
    has = s->cbs != NULL;
    pthread_mutex_unlock(&s->mu);
    return has;
}

/* Delivery turns. A commit with subscribers takes a ticket while it still holds the write
 * transaction, so tickets follow commit order (one writer per store at a time), then commits with
 * no lock of this file held, then waits for its turn to deliver. An earlier design held a delivery
 * mutex across the backend commit; a map growth inside the commit takes the backend's resize lock
 * and LMDB's writer mutex under it, an inversion with every delivery that reads the log. A turn
 * is waited for on a condition variable of a leaf mutex instead: a thread waiting for its turn
 * holds no lock, and the deliverer it waits for holds only its backend pin (a read hold taken
 * before any resizer could queue behind it), so it never waits for this one. */
uint64_t ent__log_ticket(ent_store *s)
{
    uint64_t ticket;
    pthread_mutex_lock(&s->turn_mu);
    ticket = ++s->next_ticket;
    pthread_mutex_unlock(&s->turn_mu);
    return ticket;
}

/* Call the subscribers for the events [first_seq, last_seq], read back from the committed log:
 * callbacks see exactly what was stored. */
static void deliver(ent_store *s, uint64_t first_seq, uint64_t last_seq)
{
    ent_txn *t = NULL;
    if (ent_txn_begin(&t, s, ENT_TXN_READ) != ENT_OK) return;
    delivering = s;
    pthread_mutex_lock(&s->mu);
    s->delivering = 1;
    pthread_mutex_unlock(&s->mu);
    for (uint64_t seq = first_seq; seq <= last_seq; seq++) {
        uint8_t kb[8];
        ent_slice k = {kb, 8}, v;
        ent_event *ev = NULL;
        ent__enc_u64(kb, seq);
        if (s->ops->get(t->bt, s->t_log, &k, &v) != ENT_OK) continue;
        if (ent__event_decode(&ev, t->lay, seq, v.data, v.len) != ENT_OK) continue;
        /* Walk under s->mu step by step, calling out without it: nodes are only marked (not
         * freed) while s->delivering is set, and new ones go in front. */
        pthread_mutex_lock(&s->mu);
        for (struct ent_sub_cb *c = s->cbs; c; c = c->next) {
            ent_event_cb cb;
            void *payload;
            if (c->dead || (c->type_name[0] && strcmp(c->type_name, ev->type->name) != 0) ||
                (c->ops && !(c->ops & (unsigned)ev->op)))
                continue;
            cb = c->cb;
            payload = c->payload;
            pthread_mutex_unlock(&s->mu);
            cb(ev, payload);
            pthread_mutex_lock(&s->mu);
        }
        pthread_mutex_unlock(&s->mu);
        ent_event_free(ev);
    }
    delivering = NULL;
    ent_txn_abort(t);
    /* Free the subscribers unsubscribed during this delivery. */
    pthread_mutex_lock(&s->mu);
    s->delivering = 0;
    s->deliveries++;
    sweep_dead(s);
    pthread_cond_broadcast(&s->delivered);
    pthread_mutex_unlock(&s->mu);
}

void ent__log_deliver(ent_store *s, uint64_t ticket, uint64_t first_seq, uint64_t last_seq, int committed)
{
    pthread_mutex_lock(&s->turn_mu);
    while (s->served_ticket + 1 != ticket) pthread_cond_wait(&s->turn, &s->turn_mu);
    pthread_mutex_unlock(&s->turn_mu);
    if (committed) deliver(s, first_seq, last_seq);
    /* A failed commit still uses up its turn: the commits after it wait for it. */
    pthread_mutex_lock(&s->turn_mu);
    s->served_ticket = ticket;
    pthread_cond_broadcast(&s->turn);
    pthread_mutex_unlock(&s->turn_mu);
}
