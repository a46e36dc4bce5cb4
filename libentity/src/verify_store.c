/* Verification and replay of a store.
 *
 * Verify reads the whole store in one read snapshot and checks it from both sides: every record
 * against its index entries, refs and counters, and every index entry against its record; then
 * the log (gap-free, decodable), and finally that replaying the log into a fresh memory store
 * gives exactly the stored entities and versions. Each problem is one line naming type and key
 * or seq, reported through the callback; the count is the result. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "keys.h"
#include "entity/verify.h"
#include "store_int.h"

typedef struct vctx {
    ent_txn *t;
    ent_problem_cb cb;
    void *payload;
    uint64_t problems;
    uint64_t items; /* records, index entries and events looked at, for progress */
    ent_progress_cb outer_cb; /* the store's progress callback while verify replays */
    void *outer_payload;
    ent_buf k;
    /* Per index of the type being checked: the records whose entry check_records() found. */
    uint64_t *found;
    int pages_bad; /* the backend found its own structures damaged: nothing else is read */
    /* Per type of the current schema (by position): the top-level field ids any stored version
     * declared, sorted; made the first time a record holds an id its type lacks (hist_made). */
    uint64_t **hist_ids;
    size_t *hist_n;
    int hist_made;
} vctx;

static void problem(vctx *v, const char *fmt, ...) ENT__PRINTF(2, 3);
static void problem(vctx *v, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    v->problems++;
    if (v->cb) v->cb(line, v->payload);
}

static const char *pk_str(const ent_type *type, const ent_slice *pk, char *buf, size_t size)
{
    ent_key k;
    if (ent__pk_decode(&k, type->key, pk->data, pk->len) != ENT_OK) {
        snprintf(buf, size, "(bad key of %zu bytes)", pk->len);
        return buf;
    }
    return ent__key_str(&k, buf, size);
}

/* A code from decoding or replaying that stops the check itself (the store may be fine): the
 * result of verify, with its message, not a problem counted as damage. Found by failing each
 * allocation and each backend call during verify (tests/test_fault_alloc.c, test_fault_backend.c). */
static int cannot_run(int rc)
{
    return rc == ENT_NOMEM || rc == ENT_IO || rc == ENT_BUSY || rc == ENT_FULL || rc == ENT_READONLY ||
           rc == ENT_TIMEOUT || rc == ENT_FORMAT;
}

/* A backend read that fails (other than "no such key") stops the check with the backend's code and
 * message: ENT_CORRUPT from the backend is its own verdict, better named by it than by a guess. */
static int bk_failed(int rc)
{
    return rc != ENT_OK && rc != ENT_NOTFOUND;
}

/* 1 when the index holds (ik, pk), 0 when not, or a code that stops the check. */
static int index_has(vctx *v, unsigned tbl, int unique, const ent_slice *ik, const ent_slice *pk)
{
    ent_slice out, k = *ik, val = *pk;
    ent_bcur *cur = NULL;
    int rc;
    if (unique) {
        rc = ent__bk_get(v->t, tbl, ik, &out);
        if (bk_failed(rc)) return rc;
        return rc == ENT_OK && out.len == pk->len && memcmp(out.data, pk->data, pk->len) == 0;
    }
    if ((rc = ent__bk_cursor_open(v->t, tbl, &cur))) return rc;
    rc = ent__bk_cursor_get(v->t->s, cur, ENT_CUR_SEEK_PAIR, &k, &val);
    if (bk_failed(rc)) {
        ent__bk_cursor_close(v->t->s, cur);
        return rc;
    }
    rc = rc == ENT_OK && k.len == ik->len && memcmp(k.data, ik->data, k.len) == 0 && val.len == pk->len &&
         memcmp(val.data, pk->data, pk->len) == 0;
    ent__bk_cursor_close(v->t->s, cur);
    return rc;
}

/* Records of one type: decode, index entries present, refs resolve, counters agree. */
static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void hist_free(vctx *v)
{
    if (v->hist_ids)
        for (size_t i = 0; i < v->t->lay->schema->n_types; i++) free(v->hist_ids[i]);
    free(v->hist_ids);
    free(v->hist_n);
    v->hist_ids = NULL;
    v->hist_n = NULL;
}

/* v->hist_ids from every stored schema version (meta "schema_v/<n>"). A version that does not
 * load (damage that check_schema() names) adds nothing. */
static int hist_make(vctx *v)
{
    const ent_schema *cur = v->t->lay->schema;
    ent__vers all = {0};
    int rc;
    v->hist_made = 1;
    v->hist_ids = calloc(cur->n_types ? cur->n_types : 1, sizeof *v->hist_ids);
    v->hist_n = calloc(cur->n_types ? cur->n_types : 1, sizeof *v->hist_n);
    if (!v->hist_ids || !v->hist_n) return ent__err(ENT_NOMEM, "out of memory");
    if ((rc = ent__schema_stored_below(&all, v->t, (uint64_t)cur->version + 1))) return rc;
    for (size_t i = 0; i < all.n; i++) {
        char key[64];
        ent_slice js;
        ent_schema *sc = NULL;
        snprintf(key, sizeof key, "schema_v/%" PRIu32, all.v[i]);
        if (ent__meta_get(&js, v->t, key) != ENT_OK) continue;
        rc = ent_schema_load_json(&sc, js.data, js.len, "<store>");
        if (rc == ENT_NOMEM) break;
        rc = ENT_OK;
        if (!sc) continue;
        for (size_t ti = 0; ti < cur->n_types && !rc; ti++) {
            const ent_type *ht = ent_schema_type(sc, cur->types[ti]->name);
            size_t nf = ht ? ent_type_field_count(ht) : 0;
            uint64_t *ids = nf ? realloc(v->hist_ids[ti], (v->hist_n[ti] + nf) * sizeof *ids) : v->hist_ids[ti];
            if (nf && !ids) {
                rc = ent__err(ENT_NOMEM, "out of memory");
                break;
            }
            v->hist_ids[ti] = ids;
            for (size_t f = 0; f < nf; f++) ids[v->hist_n[ti]++] = ent_field_id(ent_type_field_at(ht, f));
        }
        ent_schema_free(sc);
        if (rc) break;
    }
    ent__vers_free(&all);
    for (size_t ti = 0; !rc && ti < cur->n_types; ti++)
        if (v->hist_n[ti]) qsort(v->hist_ids[ti], v->hist_n[ti], sizeof *v->hist_ids[ti], u64_cmp);
    return rc;
}

/* The ids the record (seq 0; kb names it) or the event seq just decoded skipped
 * (ent__record_skipped): each must be a removed field's, one that some stored version declared
 * for the type. Any other is damage that reads skip without a word (a flipped id byte turns a
 * field into one that is not there). */
static int check_skipped_ids(vctx *v, const ent_type *type, const char *kb, uint64_t seq)
{
    size_t n = ent__record_nskipped < ENT__RECORD_SKIPPED_MAX ? ent__record_nskipped : ENT__RECORD_SKIPPED_MAX;
    uint64_t ids[ENT__RECORD_SKIPPED_MAX];
    int rc;
    if (!n) return ENT_OK;
    memcpy(ids, ent__record_skipped, n * sizeof *ids); /* hist_make() may decode nothing, but keep them */
    if (!v->hist_made && (rc = hist_make(v))) return rc;
    for (size_t i = 0; i < n; i++) {
        /* an empty list (the copies of the schema damaged) is no array for bsearch */
        if (v->hist_n[type->pos] && bsearch(&ids[i], v->hist_ids[type->pos], v->hist_n[type->pos], sizeof *ids, u64_cmp))
            continue;
        if (seq)
            problem(v, "seq %" PRIu64 ": the event holds field id %" PRIu64 ", which no version of the schema "
                       "declared for %s (reads skip it)", seq, ids[i], type->name);
        else
            problem(v, "%s %s: the record holds field id %" PRIu64 ", which no version of the schema declared for %s "
                       "(reads skip it)", type->name, kb, ids[i], type->name);
    }
    return ENT_OK;
}

static int check_records(vctx *v, const ent_type *type)
{
    ent_bcur *cur = NULL;
    ent_slice k, val;
    uint64_t n = 0, max_id = 0, next_id = 0, count = 0;
    int rc, op = ENT_CUR_FIRST;
    char kb[300];
    if ((rc = ent__bk_cursor_open(v->t, v->t->lay->data[type->pos], &cur))) return rc;
    for (;; op = ENT_CUR_NEXT) {
        ent_entity *e = NULL;
        rc = ent__bk_cursor_get(v->t->s, cur, op, &k, &val);
        if (rc == ENT_NOTFOUND) break;
        if (rc) goto out;
        ent__progress(v->t->s, "verify", ++v->items);
        n++;
        pk_str(type, &k, kb, sizeof kb);
        if (type->key == ENT_KEY_AUTO && k.len == 8 && ent__dec_u64(k.data) > max_id) max_id = ent__dec_u64(k.data);
        if ((rc = ent__record_read(&e, type, val.data, val.len)) != ENT_OK) {
            if (cannot_run(rc)) goto out;
            problem(v, "%s %s: record does not decode: %s", type->name, kb, ent_errmsg());
            continue;
        }
        if ((rc = check_skipped_ids(v, type, kb, 0))) {
            ent_entity_free(e);
            goto out;
        }
        /* A record that decodes may still hold what no write stores (a value outside its enum,
         * range or length, a required field missing): reads print it as it is, and unless an
         * index or the log's replay disagreed (not for an unindexed field after a trim) check
         * said ok. Evolutions only relax limits, so every stored record meets the current ones. */
        if ((rc = ent_entity_validate(e)) != ENT_OK) {
            if (cannot_run(rc)) {
                ent_entity_free(e);
                goto out;
            }
            problem(v, "%s %s: the record breaks the schema: %s", type->name, kb, ent_errmsg());
            rc = ENT_OK;
        }
        for (size_t j = 0; j < type->n_indexes; j++) {
            const ent_field *f = type->indexes[j];
            const ent_val *fv = &e->slots[f->pos];
            ent_slice ik;
            if (fv->k == EV_UNSET) continue;
            v->k.n = 0;
            if ((rc = ent__ikey_from_val(&v->k, f, fv)) != ENT_OK) {
                if (cannot_run(rc)) break;
                rc = ENT_OK;
                problem(v, "%s %s: field %s holds a value that cannot be indexed", type->name, kb, f->name);
                continue;
            }
            ik.data = v->k.p;
            ik.len = v->k.n;
            if ((rc = index_has(v, v->t->lay->idx[type->pos][j], f->unique, &ik, &k)) < 0) break;
            v->found[j] += rc == 1;
            if (!rc)
                problem(v, "%s %s: no %sindex entry for field %s", type->name, kb, f->unique ? "unique " : "", f->name);
            rc = ENT_OK;
            if (f->kind == ENT_KIND_REF) {
                ent_slice out;
                rc = ent__bk_get(v->t, v->t->lay->data[f->ref_type->pos], &ik, &out);
                if (bk_failed(rc)) break;
                if (rc == ENT_NOTFOUND) {
                    char tb[300];
                    problem(v, "%s %s: field %s refers to missing %s %s", type->name, kb, f->name, f->ref_type->name,
                            pk_str(f->ref_type, &ik, tb, sizeof tb));
                }
                rc = ENT_OK;
            }
        }
        ent_entity_free(e);
        if (rc) goto out;
    }
    rc = ent__type_counters(&next_id, &count, v->t, type);
    if (rc == ENT_CORRUPT) {
        /* A damaged counter record is one problem of this type, not the end of the check: it
         * stopped here, and the types, indexes and log after it went unchecked and unnamed. */
        problem(v, "%s: its id counter and count: %s", type->name, ent_errmsg());
        rc = ENT_OK;
        goto out;
    }
    if (rc) goto out;
    if (count != n)
        problem(v, "%s: the stored count is %" PRIu64 " but there are %" PRIu64 " entities", type->name, count, n);
    if (type->key == ENT_KEY_AUTO && next_id < max_id)
        problem(v, "%s: the id counter (%" PRIu64 ") is below the highest id %" PRIu64 ": ids could be reused",
                type->name, next_id, max_id);
    rc = ENT_OK;
out:
    ent__bk_cursor_close(v->t->s, cur);
    return rc;
}

/* Index entries of one type: each points at an entity holding that value.
 *
 * check_records() found v->found[j] distinct entries of this index (one per record, each for its
 * own key): when the index holds that many, it holds nothing else and every entry is right.
 * Only then is it not walked entry by entry, reading and decoding the entity of each: that cost a
 * whole decode per entry, so a type of many indexed fields took entities x indexes x fields
 * (100 entities of 400 indexed int fields: 4.0 G instructions to verify on the memory backend,
 * callgrind). An index that holds more (an entry for a missing entity, a wrong value, a record
 * that does not decode) is walked to name each. */
static int check_index(vctx *v, const ent_type *type, size_t j)
{
    const ent_field *f = type->indexes[j];
    ent_bcur *cur = NULL;
    ent_slice k, pk;
    uint64_t entries = 0;
    int rc, op = ENT_CUR_FIRST;
    char kb[300];
    if ((rc = ent__bk_cursor_open(v->t, v->t->lay->idx[type->pos][j], &cur))) return rc;
    for (;; op = ENT_CUR_NEXT) {
        rc = ent__bk_cursor_get(v->t->s, cur, op, &k, &pk);
        if (rc == ENT_NOTFOUND) break;
        if (rc) goto out;
        ent__progress(v->t->s, "verify", ++v->items);
        entries++;
    }
    if (entries == v->found[j]) {
        rc = ENT_OK;
        goto out;
    }
    for (op = ENT_CUR_FIRST;; op = ENT_CUR_NEXT) {
        ent_slice rec;
        ent_entity *e = NULL;
        rc = ent__bk_cursor_get(v->t->s, cur, op, &k, &pk);
        if (rc == ENT_NOTFOUND) break;
        if (rc) goto out;
        pk_str(type, &pk, kb, sizeof kb);
        if ((rc = ent__bk_get(v->t, v->t->lay->data[type->pos], &pk, &rec)) != ENT_OK) {
            if (bk_failed(rc)) goto out;
            problem(v, "%s %s: index %s has an entry for a missing entity", type->name, kb, f->name);
            continue;
        }
        if ((rc = ent__record_read(&e, type, rec.data, rec.len)) != ENT_OK) {
            if (cannot_run(rc)) goto out;
            continue; /* reported above */
        }
        v->k.n = 0;
        rc = e->slots[f->pos].k == EV_UNSET ? ENT_INVALID : ent__ikey_from_val(&v->k, f, &e->slots[f->pos]);
        ent_entity_free(e);
        if (cannot_run(rc)) goto out;
        if (rc != ENT_OK || v->k.n != k.len || memcmp(v->k.p, k.data, k.len) != 0)
            problem(v, "%s %s: index %s has an entry for a value the entity does not hold", type->name, kb, f->name);
    }
    rc = ENT_OK;
out:
    ent__bk_cursor_close(v->t->s, cur);
    return rc;
}

/* The log: gap-free from its first seq to the last, every event decodes. */
static int check_log(vctx *v, uint64_t *out_first, uint64_t *out_trunc)
{
    ent_bcur *cur = NULL;
    ent_slice k, val;
    uint64_t last = 0, expect = 0, trunc = 0, last_txn = 0, prev_txn = 0;
    int rc = ent__log_counters(&last, &last_txn, v->t), op = ENT_CUR_FIRST;
    if (rc) return rc;
    rc = ent__meta_get_u64(&trunc, v->t, "log_trunc");
    if (rc && rc != ENT_NOTFOUND) return rc;
    *out_trunc = rc == ENT_OK ? trunc : 0;
    expect = *out_trunc + 1;
    *out_first = expect;
    if ((rc = ent__bk_cursor_open(v->t, v->t->s->t_log, &cur))) return rc;
    for (;; op = ENT_CUR_NEXT) {
        uint64_t seq;
        ent_event *ev = NULL;
        rc = ent__bk_cursor_get(v->t->s, cur, op, &k, &val);
        if (rc == ENT_NOTFOUND) break;
        if (rc) goto out;
        ent__progress(v->t->s, "verify", ++v->items);
        if (k.len != 8) {
            problem(v, "log: a key of %zu bytes is not a seq", k.len);
            continue;
        }
        seq = ent__dec_u64(k.data);
        if (seq != expect) {
            if (seq > expect)
                problem(v, "log: seq %" PRIu64 " to %" PRIu64 " missing (gap)", expect, seq - 1);
            else
                problem(v, "log: seq %" PRIu64 " out of order", seq);
        }
        expect = seq + 1;
        if ((rc = ent__event_decode(&ev, v->t->lay, seq, val.data, val.len)) != ENT_OK) {
            if (cannot_run(rc)) goto out;
            problem(v, "seq %" PRIu64 ": event does not decode: %s", seq, ent_errmsg());
        } else {
            if ((rc = check_skipped_ids(v, ev->type, NULL, seq))) {
                ent_event_free(ev);
                goto out;
            }
            /* Transactions are numbered in commit order: never back, never past the last. */
            if (ev->txn < prev_txn || ev->txn > last_txn)
                problem(v, "seq %" PRIu64 ": transaction %" PRIu64 " after transaction %" PRIu64 " (the last is %" PRIu64 ")",
                        seq, ev->txn, prev_txn, last_txn);
            else
                prev_txn = ev->txn;
        }
        ent_event_free(ev);
    }
    if (expect <= last) problem(v, "log: seq %" PRIu64 " to %" PRIu64 " missing at the end", expect, last);
    if (expect > last + 1) problem(v, "log: events beyond the recorded last seq %" PRIu64, last);
    rc = ENT_OK;
out:
    ent__bk_cursor_close(v->t->s, cur);
    return rc;
}

/* Replay the log into a scratch (in-memory) store and compare it with the snapshot. */
static void replay_progress(const char *what, uint64_t done, void *payload)
{
    vctx *v = payload;
    (void)what;
    v->outer_cb("verify", v->items + done, v->outer_payload);
}

static int replay_log(ent_store *dst, ent_store *src, ent_txn *src_txn, uint64_t to_seq, int scratch,
                      ent_progress_cb progress, void *progress_payload);

static int check_replay(vctx *v, ent_store *s)
{
    ent_store *m = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    const ent_schema *sc = v->t->lay->schema;
    int rc;
    /* Any scratch store will do: the first backend that keeps its data in the handle. */
    const ent_backend_ops *scratch = ent__backend_with(ENT_BK_CAP_VOLATILE);
    if (!scratch) return ent__err(ENT_INVALID, "verify: no in-memory backend to replay the log into");
    o.backend = scratch->name;
    /* The replay writes no index of the scratch store, nor checks one, nor builds them at its end
     * (replay_log's scratch): only its records are compared. The index checks above catch a
     * repeat of a unique value in the current state. */
    rc = ent_store_open(&m, NULL, sc, &o);
    if (rc == ENT_NOMEM) ent__err_prefix(rc, "replaying the log into a scratch store in memory: ");
    if (rc) return rc;
    m->scratch = 1; /* nobody else has it: its writes from an event callback wait for no one */
    /* The replay inside a verify reports as more of the verify, counting on from its items: its
     * callback is given to replay_log(), not put in s, where another thread's verify (of the same
     * handle) read it as the store's own and put it back after this one had returned, a callback
     * to a vctx gone (contract_unique_deferred's t_model_threads under ThreadSanitizer). */
    v->outer_cb = s->progress;
    v->outer_payload = s->progress_payload;
    /* In verify's snapshot: the log as far as the records checked above, not the commits of
     * other writers since, nor without the events a truncation dropped meanwhile. */
    rc = replay_log(m, s, v->t, 0, 1, v->outer_cb ? replay_progress : NULL, v);
    if (cannot_run(rc)) {
        /* The scratch store holds all the data again: say which part of verify ran out. */
        if (rc == ENT_NOMEM) ent__err_prefix(rc, "replaying the log into a scratch store in memory: ");
        ent_store_close(m);
        return rc;
    }
    if (rc) {
        problem(v, "log: replay fails: %s", ent_errmsg());
        ent_store_close(m);
        return ENT_OK;
    }
    for (size_t i = 0; i < sc->n_types; i++) {
        const ent_type *type = sc->types[i];
        const ent_type *mtype = ent_store_type(m, type->name);
        ent_bcur *cur = NULL;
        ent_slice k, val;
        uint64_t n = 0, mn = 0;
        int op = ENT_CUR_FIRST;
        char kb[300];
        if ((rc = ent__bk_cursor_open(v->t, v->t->lay->data[type->pos], &cur))) break;
        for (;; op = ENT_CUR_NEXT) {
            ent_entity *e = NULL, *r = NULL;
            ent_key key;
            if ((rc = ent__bk_cursor_get(v->t->s, cur, op, &k, &val))) break;
            n++;
            if (ent__pk_decode(&key, type->key, k.data, k.len)) continue; /* reported by the record check */
            if ((rc = ent__record_read(&e, type, val.data, val.len))) {
                if (cannot_run(rc)) break;
                rc = ENT_OK;
                continue; /* reported by the record check */
            }
            ent__key_str(&key, kb, sizeof kb);
            if ((rc = ent_get(&r, m, NULL, mtype, &key)) != ENT_OK) {
                if (cannot_run(rc)) {
                    ent_entity_free(e);
                    break;
                }
                rc = ENT_OK;
                problem(v, "%s %s: replaying the log does not create it", type->name, kb);
            } else {
                int same = e->version == r->version;
                for (size_t f = 0; same && f < type->n_fields; f++) same = ent__val_equal(&e->slots[f], &r->slots[f]);
                if (!same)
                    problem(v, "%s %s: replaying the log gives version %" PRIu64 " and other fields than the stored "
                            "version %" PRIu64, type->name, kb, r->version, e->version);
            }
            ent_entity_free(e);
            ent_entity_free(r);
        }
        ent__bk_cursor_close(v->t->s, cur);
        if (rc != ENT_NOTFOUND) break;
        rc = ent_count(&mn, m, NULL, mtype);
        if (cannot_run(rc)) break;
        if (rc == ENT_OK && mn != n)
            problem(v, "%s: replaying the log gives %" PRIu64 " entities, the store holds %" PRIu64, type->name, mn, n);
        rc = ENT_OK;
        if (type->key == ENT_KEY_AUTO) {
            /* The id counter: the log's creates and raises (ENT_OP_LAST_ID) count every id the
             * store handed out, so a counter below the log's would give one out again. One above
             * it is a raise of a version that logged none, and stays legal. A damaged counter
             * record was named by the record check. */
            uint64_t mine = 0, logs = 0;
            if (ent__type_counters(&mine, NULL, v->t, type) != ENT_OK) continue;
            rc = ent_last_id(&logs, m, NULL, mtype);
            if (cannot_run(rc)) break;
            if (rc == ENT_OK && mine < logs)
                problem(v, "%s: the id counter (%" PRIu64 ") is below the log's %" PRIu64 " (its creates and raises): "
                        "ids could be handed out again", type->name, mine, logs);
            rc = ENT_OK;
        }
    }
    ent_store_close(m);
    return rc;
}

/* Durable subscriptions: a name of 1..200 bytes, an 8-byte checkpoint within the log (the
 * readers of subscriptions refuse anything else as damaged). */
static int check_subs(vctx *v)
{
    ent_bcur *cur = NULL;
    ent_slice k, val;
    uint64_t last = 0;
    int rc = ent__log_counters(&last, NULL, v->t), op = ENT_CUR_FIRST;
    if (rc) return rc;
    if ((rc = ent__bk_cursor_open(v->t, v->t->s->t_subs, &cur))) return rc;
    for (;; op = ENT_CUR_NEXT) {
        rc = ent__bk_cursor_get(v->t->s, cur, op, &k, &val);
        if (rc == ENT_NOTFOUND) break;
        if (rc) goto out;
        if (k.len == 0 || k.len > 200 || val.len != 8)
            problem(v, "subscription \"%.*s\": damaged record (name of %zu bytes, checkpoint of %zu bytes)",
                    (int)(k.len > 200 ? 200 : k.len), (const char *)k.data, k.len, val.len);
        else if (ent__dec_u64(val.data) > last)
            problem(v, "subscription \"%.*s\": checkpoint %" PRIu64 " is beyond the last seq %" PRIu64, (int)k.len,
                    (const char *)k.data, ent__dec_u64(val.data), last);
    }
    rc = ENT_OK;
out:
    ent__bk_cursor_close(v->t->s, cur);
    return rc;
}

static void page_problem(const char *line, void *payload) { problem(payload, "%s", line); }

static void first_page_line(const char *line, void *payload)
{
    char *first = payload;
    if (!first[0]) snprintf(first, 512, "%s", line);
}

int ent_type_check_pages(uint64_t *out_problems, ent_store *s, ent_txn *txn, const ent_type *type)
{
    ent_txn *t;
    const ent_type *rt;
    char name[ENT_NAME_MAX + 8], first[512] = "";
    uint64_t n = 0;
    int rc;
    if (out_problems) *out_problems = 0;
    if (!type) return ent__err(ENT_INVALID, "ent_type_check_pages: type is NULL");
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    rc = ent__type_resolve(&rt, t, type);
    if (!rc) {
        ent__table_name(name, sizeof name, 't', rt, NULL);
        rc = ent__bk_check_pages(t, name, first_page_line, first, &n);
    }
    if (!rc && n)
        rc = ent__err(ENT_CORRUPT, "%s: its records' pages are damaged (%s%s): reading through them could crash "
                      "(entity check names every damaged page)", rt->name, first, n > 1 ? ", and more" : "");
    if (out_problems) *out_problems = n;
    return ent__txn_end(t, txn, rc, 0);
}

/* The backend's own structures first (ENT_BK_CAP_CHECK_PAGES): reads through the engine follow
 * them unchecked. When they are damaged the rest is not read: the problems found name the pages. */
static int check_pages(vctx *v)
{
    uint64_t n = 0;
    int rc = ent__bk_check_pages(v->t, NULL, page_problem, v, &n);
    if (rc) return rc;
    if (n) {
        v->pages_bad = 1;
        problem(v, "the store's pages are damaged: nothing else was checked, reading through them could crash "
                   "(restore a backup or a copy of a mirror)");
    }
    return ENT_OK;
}

/* The stored schema against its copy in the history: ent__schema_store() writes "schema" and
 * "schema_v/<its version>" with the same bytes in one transaction, so any difference is damage. A
 * flipped byte that leaves valid JSON (a min, a max_length, an enum value, "unique" or "indexed")
 * opens without complaint and changes what is refused and what is indexed, and nothing else in
 * the store shows it: the records, indexes and log all still agree with each other. */
static int check_schema(vctx *v)
{
    ent_slice cur, copy;
    char key[64];
    int rc = ent__meta_get(&cur, v->t, "schema");
    if (rc) return rc; /* the open read it: even ENT_NOTFOUND is not damage found here */
    snprintf(key, sizeof key, "schema_v/%" PRIu32, v->t->lay->schema->version);
    rc = ent__meta_get(&copy, v->t, key);
    if (rc == ENT_NOTFOUND) {
        problem(v, "schema: the store's meta lacks \"%s\", the copy of its schema (version %" PRIu32
                   "): the meta is damaged", key, v->t->lay->schema->version);
        return ENT_OK;
    }
    if (rc) return rc;
    if (copy.len != cur.len || memcmp(copy.data, cur.data, cur.len) != 0)
        problem(v, "schema: the store's schema differs from its copy \"%s\" (%zu and %zu bytes): one of them is "
                   "damaged", key, cur.len, copy.len);
    /* The versions an evolution compares with: one left off that can fail would let the next
     * evolution reuse a removed field's id, and nothing else in the store would show it. */
    {
        uint32_t skipped = 0;
        if ((rc = ent__schema_check_verify(&skipped, v->t, v->t->lay->schema))) return rc;
        if (skipped)
            problem(v, "schema: meta \"schema_check\" (the stored versions an evolution compares with) leaves off "
                       "version %" PRIu32 ", which a later schema can fail against: it is damaged, and the next evolution "
                       "would not compare with that version", skipped);
    }
    return ENT_OK;
}

/* The meta's small values that an open reads without refusing them: a damaged store id leaves a
 * read-only open without an id, a damaged durability byte reads as durable. */
static int check_meta(vctx *v)
{
    ent_slice val;
    int rc = ent__meta_get(&val, v->t, "store_id");
    if (rc == ENT_OK && val.len != 16)
        problem(v, "meta \"store_id\": %zu bytes, expected 16: the store's id is damaged", val.len);
    else if (rc && rc != ENT_NOTFOUND)
        return rc;
    rc = ent__meta_get(&val, v->t, "durability");
    if (rc == ENT_OK && val.len != 1)
        problem(v, "meta \"durability\": %zu bytes, expected 1: damaged (the store opens as durable)", val.len);
    else if (rc == ENT_OK && *(const uint8_t *)val.data > ENT_NONE)
        problem(v, "meta \"durability\": %u is no durability: damaged (the store opens as durable)",
                *(const uint8_t *)val.data);
    else if (rc && rc != ENT_NOTFOUND)
        return rc;
    return ENT_OK;
}

int ent_store_verify(uint64_t *out_problems, ent_store *s, ent_problem_cb cb, void *payload)
{
    vctx v;
    uint64_t first = 0, trunc = 0;
    int rc;
    memset(&v, 0, sizeof v);
    v.cb = cb;
    v.payload = payload;
    if (out_problems) *out_problems = 0;
    if ((rc = ent_txn_begin(&v.t, s, ENT_TXN_READ))) return rc;
    {
        ent_slice mark;
        rc = ent__meta_get(&mark, v.t, ENT__META_REPLAY_OPEN);
        if (rc == ENT_OK)
            problem(&v, "the store holds a replay that did not finish (of store %.*s): its unique indexes are not built "
                    "and the log may go on; remove it and replay again", (int)mark.len, (const char *)mark.data);
        if (rc == ENT_NOTFOUND) rc = ENT_OK;
    }
    if (!rc) rc = check_pages(&v);
    if (!rc && v.problems == 0) rc = check_schema(&v);
    if (!rc && !v.pages_bad) rc = check_meta(&v);
    /* Damaged pages: nothing reads further, the engine would follow them (LMDB: SIGSEGV). */
    for (size_t i = 0; !rc && !v.pages_bad && i < v.t->lay->schema->n_types; i++) {
        const ent_type *type = v.t->lay->schema->types[i];
        free(v.found);
        if (!(v.found = calloc(type->n_indexes + 1, sizeof *v.found))) {
            rc = ent__err(ENT_NOMEM, "out of memory");
            break;
        }
        rc = check_records(&v, type);
        for (size_t j = 0; !rc && j < type->n_indexes; j++) rc = check_index(&v, type, j);
    }
    free(v.found);
    if (!rc && !v.pages_bad) rc = check_log(&v, &first, &trunc);
    if (!rc && !v.pages_bad) rc = check_subs(&v);
    /* Replay needs the whole log; after a truncation it can only be taken from a copy. */
    if (!rc && !trunc && v.problems == 0) rc = check_replay(&v, s);
    hist_free(&v);
    ent_txn_abort(v.t);
    ent__buf_free(&v.k);
    if (rc) return rc;
    if (out_problems) *out_problems = v.problems;
    if (v.problems)
        return ent__err(ENT_CORRUPT, "%" PRIu64 " problem%s found", v.problems, v.problems == 1 ? "" : "s");
    return ENT_OK;
}

/* ---- replay ----------------------------------------------------------------------------------- */

/* Copy the fields of an event's data (those marked changed; unset ones removed) into dst. */
static int apply_fields(ent_entity *dst, const ent_entity *data)
{
    const ent_type *st = data->type, *dt = dst->type;
    for (size_t i = 0; i < st->n_fields; i++) {
        const ent_field *f = st->fields[i], *df;
        int rc;
        if (!ent__is_changed(data, i)) continue;
        df = ent_type_field_by_id(dt, f->id);
        if (!df || df->kind != f->kind) continue; /* a field the destination no longer has */
        ent__val_clear(&dst->slots[df->pos]);
        if (data->slots[i].k != EV_UNSET && (rc = ent__val_copy(&dst->slots[df->pos], &data->slots[i]))) return rc;
        ent__mark_changed(dst, df->pos);
    }
    return ENT_OK;
}

static int replay_event(ent_store *dst, ent_txn *w, const ent_event *ev)
{
    const ent_type *dt = ent_store_type(dst, ev->type->name);
    ent_entity *e = NULL;
    int rc;
    if (!dt) return ent__err(ENT_SCHEMA, "seq %" PRIu64 ": the destination has no type %s", ev->seq, ev->type->name);
    if (ev->op == ENT_OP_LAST_ID) {
        /* The source logged it because its counter went up; the events before it put dst's
         * where the source's was (or below, by a raise of a version that logged none): a counter
         * at it already is a log that does not add up, and the raise would write no event,
         * shifting every seq after it. */
        uint64_t last = 0;
        if (ent_type_key(dt) != ENT_KEY_AUTO)
            return ent__err(ENT_SCHEMA, "seq %" PRIu64 ": the destination's %s has string keys, no id counter to raise",
                            ev->seq, dt->name);
        if ((rc = ent_last_id(&last, dst, w, dt))) return rc;
        if (last >= ev->key.id)
            return ent__err(ENT_CORRUPT, "seq %" PRIu64 ": a raise of %s's id counter to %" PRIu64 ", which the events "
                            "before it put at %" PRIu64 " already", ev->seq, dt->name, ev->key.id, last);
        rc = ent_last_id_raise(dst, w, dt, ev->key.id);
        if (rc && rc != ENT_NOMEM) ent__err_prefix(rc, "seq %" PRIu64 ": ", ev->seq);
        return rc;
    }
    if (ev->op == ENT_OP_DELETE) {
        /* A delete's event carries the version after the last one: checked, so a damaged one
         * shows (a create's version alone would leave the replayed store equal). That may be
         * ENT_VERSION_ANY's number: the delete of an entity at the last version it can reach. */
        if (ev->version < 2)
            return ent__err(ENT_CORRUPT, "seq %" PRIu64 ": a delete of version %" PRIu64, ev->seq, ev->version);
        rc = ent_delete(dst, w, dt, &ev->key, ev->version - 1);
        if (rc == ENT_CONFLICT || rc == ENT_NOTFOUND) ent__err_prefix(rc, "seq %" PRIu64 ": ", ev->seq);
        return rc;
    }
    if (ev->op == ENT_OP_UPDATE) {
        rc = ent_get(&e, dst, w, dt, &ev->key);
        if (rc == ENT_NOTFOUND)
            return ent__err(ENT_CORRUPT, "seq %" PRIu64 ": update of %s that the log never created", ev->seq, dt->name);
        if (rc) return rc;
    } else {
        if ((rc = ent_entity_new(&e, dt)) || (rc = ent_entity_set_key(e, &ev->key))) goto out;
    }
    if ((rc = apply_fields(e, ev->data))) goto out;
    e->version = ev->version;
    rc = ent_restore(dst, w, e);
out:
    ent_entity_free(e);
    if (rc && rc != ENT_NOMEM) ent__err_prefix(rc, "seq %" PRIu64 ": ", ev->seq);
    return rc;
}

/* The indexes of dst built anew over its entities, after a replay that left them alone, and the
 * replay's mark taken off in the same transaction: until then the store is unfinished. Each
 * type's id counter is raised to src's, with an event of dst's own (ent_last_id_raise()): a
 * replay to a to_seq misses the ids src gave out after it, which a host may hold, and a store
 * whose counter was raised before raises were logged carries ids handed out and deleted in its
 * counter alone (a replay of it gave them out again). A whole replay of a log that holds every
 * raise gives src's counters already, and writes nothing here. */
static int rebuild_indexes(ent_store *dst, ent_store *src)
{
    ent_txn *w = NULL;
    const ent_schema *sc;
    int rc = ent_txn_begin(&w, dst, ENT_TXN_WRITE), any = 0;
    if (rc) return rc;
    sc = w->lay->schema;
    for (size_t i = 0; !rc && i < sc->n_types; i++) {
        const ent_type *type = sc->types[i], *from = type->key == ENT_KEY_AUTO ? ent_store_type(src, type->name) : NULL;
        uint64_t last = 0;
        if (from && ent_type_key(from) == ENT_KEY_AUTO && !(rc = ent_last_id(&last, src, NULL, from)) &&
            !(rc = ent__tcount_load(w, type)) && last > w->tc[type->pos].next_id) {
            rc = ent_last_id_raise(dst, w, type, last);
            any = 1;
        }
        if (rc) break;
        for (size_t j = 0; !rc && j < type->n_indexes; j++) {
            any = 1;
            rc = ent__bk_clear(w, w->lay->idx[type->pos][j]);
        }
        if (!rc) rc = ent__index_build(w, type, ENT__INDEX_ALL);
    }
    if (!rc) {
        rc = ent__meta_del(w, ENT__META_REPLAY_OPEN);
        if (rc == ENT_OK) any = 1;
        else if (rc == ENT_NOTFOUND) rc = ENT_OK; /* nothing was replayed */
    }
    if (rc || !any) {
        ent_txn_abort(w);
        return rc;
    }
    return ent_txn_commit(w);
}

/* out: the last seq of src written before its first schema version above `version` took effect
 * (0 when that is not recorded: a store from before the marks). */
static int newer_after(uint64_t *out, ent_store *src, uint32_t version)
{
    ent_schema_mark *marks = NULL;
    size_t n = 0;
    int rc = ent_store_schema_history(&marks, &n, src);
    if (rc) return rc;
    *out = 0;
    for (size_t i = 0; i < n; i++)
        if (marks[i].version > version) {
            *out = marks[i].after_seq;
            break;
        }
    free(marks);
    return ENT_OK;
}

/* src_txn: a read txn of src to replay in its snapshot, or NULL for the live log (each batch of
 * events in a snapshot of its own: commits made meanwhile are replayed too). scratch: dst is
 * verify's, thrown away once its records are compared: neither marked unfinished nor given its
 * indexes at the end, which nothing would read. */
static int replay_log(ent_store *dst, ent_store *src, ent_txn *src_txn, uint64_t to_seq, int scratch,
                      ent_progress_cb progress, void *progress_payload)
{
    ent_log_cursor *c = NULL;
    ent_event *ev = NULL;
    ent_txn *w = NULL;
    uint64_t first = 0, last = 0, cur_txn = 0, next_seq = 1, newer_from = UINT64_MAX;
    uint32_t dst_version;
    int rc, marked = 0;
    if (!dst || !src) return ent__err(ENT_INVALID, "ent_store_replay: %s store is NULL", !dst ? "dst" : "src");
    if (dst == src) return ent__err(ENT_INVALID, "replay needs two different stores");
    dst_version = ent_store_schema(dst)->version; /* once: the call takes the store's lock */
    if ((rc = ent_log_bounds(&first, &last, src, src_txn))) return rc;
    if (first > 1) return ent__err(ENT_INVALID, "the source log was truncated below %" PRIu64 "; it cannot be replayed from seq 1", first);
    {
        uint64_t df = 0, dl = 0;
        const ent_schema *ds = ent_store_schema(dst);
        if ((rc = ent_log_bounds(&df, &dl, dst, NULL))) return rc;
        for (size_t i = 0; !rc && i < ds->n_types; i++) {
            uint64_t n = 0;
            rc = ent_count(&n, dst, NULL, ds->types[i]);
            if (!rc && n) dl = 1;
        }
        if (rc) return rc;
        if (dl) return ent__err(ENT_INVALID, "the destination store is not empty");
    }
    if (!src_txn && ent_store_schema(src)->version > dst_version) {
        /* refused before a write when the log already holds events dst's schema cannot take */
        if ((rc = newer_after(&newer_from, src, dst_version))) return rc;
        if (last > newer_from)
            return ent__err(ENT_SCHEMA, "the source's schema is at version %" PRIu32 ", the destination's at version %" PRIu32
                            ", and events from seq %" PRIu64 " on were written with the later one: replay into a new "
                            "store of the source's schema", ent_store_schema(src)->version, dst_version,
                            newer_from + 1);
    }
    if ((rc = ent_log_cursor_open(&c, src, 1, NULL, ENT_OP_ALL))) return rc; /* the raises too: a log's copy */
    if (src_txn) ent__log_cursor_pin(c, src_txn);
    for (;;) {
        rc = ent_log_next(&ev, c);
        if (rc == ENT_NOTFOUND) {
            rc = ENT_OK;
            break;
        }
        /* The log truncated under the replay (by another writer, between two of the cursor's
         * snapshots): the events in between would be missing from dst, and the ones after
         * renumbered. */
        if (rc == ENT_TRUNCATED) {
            rc = ent__err(ENT_INVALID, "the source log was truncated below %" PRIu64 " while it was replayed (after seq %" PRIu64 ")",
                          ent_log_cursor_pos(c), next_seq - 1);
            break;
        }
        if (rc) break;
        if (ev->seq != next_seq) { /* a defence: the cursor says ENT_TRUNCATED first */
            rc = ent__err(ENT_INVALID, "the source log was truncated below %" PRIu64 " while it was replayed (after seq %" PRIu64 ")",
                          ev->seq, next_seq - 1);
            ent_event_free(ev);
            break;
        }
        next_seq = ev->seq + 1;
        if (to_seq && ev->seq > to_seq) {
            /* to_seq cuts this transaction: leave it out whole rather than commit half of it, a
             * state the source never had. */
            if (w && ev->txn == cur_txn) {
                ent_txn_abort(w);
                w = NULL;
            }
            ent_event_free(ev);
            break;
        }
        /* One destination transaction per source transaction: the same grouping, the same seqs. */
        if (w && ev->txn != cur_txn) {
            if ((rc = ent_txn_commit(w))) {
                w = NULL;
                ent_event_free(ev);
                break;
            }
            w = NULL;
        }
        /* dst's schema must be src's or a later one. An earlier one has no place for what src's
         * evolutions added: those values were dropped without a word. src may also have evolved
         * since the replay began (its events are read in snapshots of their own, and decoded with
         * its schema of then): what was written before the first version dst lacks still fits. Checked
         * once the transactions before this event's are committed: they are whole. */
        if (ev->type->schema->version > dst_version) {
            if (newer_from == UINT64_MAX && (rc = newer_after(&newer_from, src, dst_version))) {
                ent_event_free(ev);
                break;
            }
            if (ev->seq > newer_from) {
                rc = ent__err(ENT_SCHEMA, "seq %" PRIu64 ": written with the source's schema version %" PRIu32
                              ", and the destination's is version %" PRIu32 ": it would lose what the later versions "
                              "added (the source evolved before or during the replay); replay into a new store of the "
                              "source's schema", ev->seq, ev->type->schema->version, dst_version);
                ent_event_free(ev);
                break;
            }
        }
        if (!w) {
            if ((rc = ent_txn_begin(&w, dst, ENT_TXN_WRITE))) {
                ent_event_free(ev);
                break;
            }
            /* The log may hold refs written before their targets (a load of a dump whose refs
             * point forward): verify checks the refs of the result, not the order of history. */
            w->refs_unchecked = 1;
            /* Nor indexes: the log replays under the newest schema, whose indexes an evolution
             * may have added once the values fitted them, and earlier values were legal without
             * them (a unique index over repeats, an index over a value longer than an index key
             * can be). Every index is built at the end, over the final values. */
            w->indexes_deferred = 1;
            w->restore_always = 1;
            /* Until then dst is no store to write to (its indexes are empty) and, killed before
             * the end, no whole copy: marked with the first events, unmarked at the end
             * (rebuild_indexes()), so that an open for writing refuses what a kill left. */
            if (!marked && !scratch) {
                const char *id = ent_store_id(src)[0] ? ent_store_id(src) : "?"; /* a store made before ids */
                if ((rc = ent__meta_put(w, ENT__META_REPLAY_OPEN, id, strlen(id)))) {
                    ent_event_free(ev);
                    break;
                }
                marked = 1;
            }
        }
        cur_txn = ev->txn;
        if (progress && (ev->seq & 4095) == 0) progress("replay", ev->seq, progress_payload);
        /* the event keeps its time: a rebuilt log says when each change happened, not when the
         * replay ran (a mirror keeps ts the same way) */
        w->keep_ts = 1;
        w->event_ts = ev->ts;
        rc = replay_event(dst, w, ev);
        ent_event_free(ev);
        if (rc) break;
    }
    if (w) {
        if (rc) ent_txn_abort(w);
        else rc = ent_txn_commit(w);
    }
    ent_log_cursor_free(c);
    if (scratch) return rc;
    if (!rc) return rebuild_indexes(dst, src);
    {
        /* What was committed keeps its indexes whole; the failure's message stays. */
        char msg[1024];
        int detail = ent_errdetail();
        snprintf(msg, sizeof msg, "%s", ent_errmsg());
        (void)rebuild_indexes(dst, src);
        return ent__errd(rc, detail, "%s", msg);
    }
}

int ent_store_replay(ent_store *dst, ent_store *src, uint64_t to_seq)
{
    ent_txn *t = NULL;
    char first[512] = "";
    uint64_t n = 0;
    int rc;
    if (!src || !dst || dst == src) return replay_log(dst, src, NULL, to_seq, 0, NULL, NULL); /* refused there */
    /* The log's pages walked with pread first, before anything is written: LMDB follows them as
     * they are, and a damaged one (a flipped byte in a header or a node) made the replay die
     * inside liblmdb part way (SIGSEGV, an assertion's abort), naming nothing. The walk reads the
     * log's pages once more, which the replay reads anyway. Commits made after this snapshot
     * are pages LMDB wrote from memory, not the damage of a file at rest. */
    if ((rc = ent_txn_begin(&t, src, ENT_TXN_READ))) return rc;
    rc = ent__bk_check_pages(t, "log", first_page_line, first, &n);
    ent_txn_abort(t);
    if (rc) return rc;
    if (n)
        return ent__err(ENT_CORRUPT, "the source's log is damaged (%s%s): replay reads through it, nothing was "
                        "replayed (entity check names every damaged page)", first, n > 1 ? ", and more" : "");
    return replay_log(dst, src, NULL, to_seq, 0, src->progress, src->progress_payload);
}
