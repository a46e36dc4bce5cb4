/* Transactions: begin (noticing schema changes made by other processes), commit with the cached
 * counters and the log, abort. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error_int.h"
#include "keys.h"
#include "store_int.h"

/* Transactions this thread has open, of any store (txn_group.c: such a thread is not grouped). */
static _Thread_local unsigned open_txns;

unsigned ent__txn_open_count(void) { return open_txns; }

/* The transactions this thread holds, newest first (one write transaction per store at most).
 * Both backends let one writer in at a time: a second write on a store whose writer is this very
 * thread would wait for itself forever, so it is refused with ENT_BUSY instead; and a close of a
 * store with a transaction (or an iterator's) of this thread open freed what it still uses. A
 * transaction belongs to the thread that began it, so it ends on this thread too and a
 * thread-local list is enough. */
static _Thread_local ent_txn *held;

static int holds_write(const ent_store *s)
{
    for (const ent_txn *h = held; h; h = h->next_held)
        if (h->s == s && h->write) return 1;
    return 0;
}

int ent__txn_holds_any(const ent_store *s)
{
    for (const ent_txn *h = held; h; h = h->next_held)
        if (h->s == s) return 1;
    return 0;
}

int ent__err_holds_write(void)
{
    return ent__err(ENT_BUSY, "this thread holds the store's write transaction already: pass it to "
                    "the call, or end it first (a second writer would wait for itself)");
}

/* "Pass it to the call" is no advice for a call without a txn parameter (ent_sub_create(),
 * ent_log_truncate(), ent_store_copy(), ...): it can only come after the transaction. */
int ent__err_holds_write_in(const char *call)
{
    return ent__err(ENT_BUSY, "%s: this thread holds the store's write transaction (its own, or ent_txn_run()'s), and "
                    "this call takes none: call it once the transaction has ended (a second writer would wait "
                    "for itself)", call);
}

int ent__txn_holds_write(const ent_store *s) { return holds_write(s); }
int ent_txn_holds_writer(const ent_store *s) { return s && holds_write(s); }

static void release_held(ent_txn *t)
{
    for (ent_txn **p = &held; *p; p = &(*p)->next_held)
        if (*p == t) {
            *p = t->next_held;
            return;
        }
}

static void txn_release(ent_txn *t)
{
    ent__evcap_free(&t->cap);
    ent__buf_free(&t->deferred);
    ent__buf_free(&t->upend);
    ent__buf_free(&t->k1);
    ent__buf_free(&t->k2);
    ent__buf_free(&t->v1);
    ent__buf_free(&t->ev);
    if (t->zone) msgpack_zone_free(t->zone);
    free(t->tc);
    free(t);
}

/* Scratch buffers larger than this go with the txn rather than wait in the spare. */
#define SPARE_BUF_MAX 4096

/* Keep an ended txn as the store's spare, else free it. The spare is zeroed but for its scratch
 * buffers (emptied) and a write txn's counters array (tc, tc_cap entries, zeroed when taken), so
 * the next ent_txn_begin() allocates neither the txn nor the key buffer of its first get, nor a
 * writer's counters. One spare per store, taken and put back with atomic exchanges: no lock,
 * and a thread that finds the slot taken allocates as before. */
static void txn_park(ent_txn *t)
{
    ent_store *s = t->s;
    ent_txn *none = NULL;
    ent_buf k1 = t->k1, k2 = t->k2, v1 = t->v1, ev = t->ev;
    ent_tcount *tc = t->tc;
    size_t tc_cap = t->tc_cap;
    if (t->zone || k1.cap > SPARE_BUF_MAX || k2.cap > SPARE_BUF_MAX || v1.cap > SPARE_BUF_MAX ||
        ev.cap > SPARE_BUF_MAX) {
        txn_release(t);
        return;
    }
    ent__evcap_free(&t->cap);
    ent__buf_free(&t->deferred);
    ent__buf_free(&t->upend);
    memset(t, 0, sizeof *t);
    k1.n = k2.n = v1.n = ev.n = 0;
    t->k1 = k1;
    t->k2 = k2;
    t->v1 = v1;
    t->ev = ev;
    t->tc = tc;
    t->tc_cap = tc_cap;
    if (!atomic_compare_exchange_strong_explicit(&s->spare_txn, &none, t, memory_order_release,
                                                 memory_order_relaxed))
        txn_release(t);
}

static ent_txn *txn_alloc(ent_store *s)
{
    ent_txn *t = atomic_exchange_explicit(&s->spare_txn, NULL, memory_order_acquire);
    return t ? t : calloc(1, sizeof *t);
}

void ent__txn_spare_free(ent_store *s)
{
    ent_txn *t = atomic_exchange_explicit(&s->spare_txn, NULL, memory_order_acquire);
    if (t) txn_release(t);
}

/* A transaction used or ended by a thread other than the one that began it: refused, as the
 * backends tie a txn to its thread (LMDB's writer mutex is the beginning thread's, its reader slot
 * too) and this thread's list of held writers would keep a txn that another thread freed. */
static int not_owner(const ent_txn *t, const char *what)
{
    /* An ended txn parked as the spare is zeroed: its owner and store are gone. */
    if (!t->s) {
        ent__err(ENT_INVALID, "%s: the transaction has ended (committed or aborted)", what);
        return 1;
    }
    if (pthread_equal(t->owner, pthread_self())) return 0;
    ent__err(ENT_INVALID, "%s: the transaction belongs to the thread that began it", what);
    return 1;
}

static void txn_free(ent_txn *t)
{
    if (t->iters) ent__iters_end(t); /* a path that ended t without bk.c: none may keep t */
    open_txns--;
    __atomic_fetch_sub(&t->s->txns_open, 1, __ATOMIC_RELEASE);
    release_held(t);
    txn_park(t);
}

/* A write txn t that begins on the state this handle's last commit made takes the log state and
 * counters that commit wrote instead of reading them from meta (store_int.h, wc_state). */
static void take_own_commit(ent_txn *t)
{
    ent_store *s = t->s;
    if (!t->base_state) return;
    pthread_mutex_lock(&s->mu);
    if (s->wc_state == t->base_state && s->wc_lay == t->lay && s->wc_n) {
        t->log_last = s->wc_log_last;
        t->txn_id = s->wc_txn_last + 1;
        t->log_loaded = 1;
        memcpy(t->tc, s->wc_tc, s->wc_n * sizeof *t->tc);
    }
    pthread_mutex_unlock(&s->mu);
}

/* After t committed (its changes visible): keep what it left in meta for the handle's next write txn. Only a commit
 * that appended events is known to have made state base_state + 1 (a backend may not count a
 * commit that changed nothing), and only one that wrote no other meta (a schema change, a mirror
 * position) leaves the schema generation and the counters as t saw them. */
static void keep_own_commit(ent_txn *t)
{
    ent_store *s = t->s;
    size_t n = t->lay->schema->n_types;
    int same_lay;
    if (!t->base_state || !t->log_dirty || t->meta_other) return;
    pthread_mutex_lock(&s->mu);
    same_lay = s->wc_lay == t->lay && s->wc_state == t->base_state;
    if (s->wc_n < n) {
        ent_tcount *tc = realloc(s->wc_tc, n * sizeof *tc);
        if (!tc) {
            s->wc_state = 0; /* nothing kept: the next txn reads meta */
            pthread_mutex_unlock(&s->mu);
            return;
        }
        s->wc_tc = tc;
        s->wc_n = n;
    }
    /* t->tc holds every type t loaded; a type it did not load kept the value t began with, which
     * the cache holds when t began on its state (same_lay) and is unknown otherwise. */
    for (size_t i = 0; i < n; i++) {
        if (t->tc[i].loaded) {
            s->wc_tc[i] = t->tc[i];
            s->wc_tc[i].dirty = 0;
        } else if (!same_lay) {
            memset(&s->wc_tc[i], 0, sizeof s->wc_tc[i]);
        }
    }
    s->wc_n = n;
    s->wc_lay = t->lay;
    s->wc_log_last = t->log_last;
    s->wc_txn_last = t->txn_id;
    s->wc_state = t->base_state + 1;
    s->gen_snap = t->base_state + 1; /* the schema generation is the one t checked at begin */
    s->gen_lay = t->lay;
    pthread_mutex_unlock(&s->mu);
}

int ent_txn_begin(ent_txn **out, ent_store *s, int mode)
{
    ent_txn *t;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_txn_begin: out is NULL");
    *out = NULL;
    if ((rc = ent__store_check(s))) return rc;
    if (mode != ENT_TXN_READ && mode != ENT_TXN_WRITE)
        return ent__err(ENT_INVALID, "ent_txn_begin: unknown mode %d", mode);
    if (mode == ENT_TXN_WRITE && s->read_only)
        return ent__err(ENT_READONLY, "store %s is open read-only", s->path);
    /* A write from a callback, to this store or another, could close a cycle of waits: its
     * commit would wait for the delivery turns before its own, which include this thread's
     * running delivery (this store) or one whose callback waits for this store's writer. */
    if (mode == ENT_TXN_WRITE && ent__log_in_callback() && !s->scratch)
        return ent__err(ENT_BUSY, "an event callback cannot write to a store (hand the work to another thread)");
    if (mode == ENT_TXN_WRITE && holds_write(s)) return ent__err_holds_write();
    t = txn_alloc(s);
    if (!t) return ent__err(ENT_NOMEM, "out of memory");
    open_txns++;
    __atomic_fetch_add(&s->txns_open, 1, __ATOMIC_RELAXED);
    t->s = s;
    t->owner = pthread_self();
    t->write = mode == ENT_TXN_WRITE;
    /* The schema generation is read in the transaction's own snapshot, so a schema evolved by
     * another process is seen exactly when its data is. The reload opens the new tables in a
     * transaction of its own that commits, which keeps the table handles for every later one. */
    for (int attempt = 0;; attempt++) {
        uint64_t gen = 0, snap = 0;
        ent_layout *lay;
        int known;
        if ((rc = ent__bk_begin(t, t->write))) goto fail;
        snap = ent__bk_snapshot_id(t);
        pthread_mutex_lock(&s->mu);
        lay = s->lay;
        known = snap != 0 && snap == s->gen_snap && lay == s->gen_lay;
        pthread_mutex_unlock(&s->mu);
        t->lay = lay;
        t->base_state = snap;
        if (known) break; /* this very state was checked already: a read-mostly load skips a get */
        rc = ent__meta_get_u64(&gen, t, "schema_gen");
        if (rc) {
            ent__bk_abort(t);
            if (rc == ENT_NOTFOUND) rc = ent__err(ENT_CORRUPT, "store meta lacks schema_gen");
            goto fail;
        }
        if (gen == lay->gen) {
            if (snap) {
                pthread_mutex_lock(&s->mu);
                s->gen_snap = snap;
                s->gen_lay = lay;
                pthread_mutex_unlock(&s->mu);
            }
            break;
        }
        if (attempt >= 3) {
            ent__bk_abort(t);
            rc = ent__err(ENT_BUSY, "store schema keeps changing; try again");
            goto fail;
        }
        if (t->write) {
            rc = ent__store_reload(s, t, gen);
            if (rc == ENT_OK) rc = ent__bk_commit(t);
            else ent__bk_abort(t);
        } else {
            ent__bk_abort(t);
            if ((rc = ent__bk_begin(t, 0))) goto fail;
            rc = ent__store_reload(s, t, gen);
            if (rc == ENT_OK) rc = ent__bk_commit(t);
            else ent__bk_abort(t);
        }
        if (rc) goto fail;
    }
    t->next_held = held;
    held = t;
    if (t->write) {
        size_t n = t->lay->schema->n_types;
        if (!n) n = 1;
        if (t->tc_cap < n) { /* else the parked txn's array, zeroed here */
            free(t->tc);
            t->tc_cap = 0;
            if (!(t->tc = malloc(n * sizeof *t->tc))) {
                ent__bk_abort(t);
                rc = ent__err(ENT_NOMEM, "out of memory");
                goto fail;
            }
            t->tc_cap = n;
        }
        memset(t->tc, 0, n * sizeof *t->tc);
        take_own_commit(t);
    }
    *out = t;
    return ENT_OK;
fail:
    txn_free(t);
    return rc;
}

/* The meta key of a type's counters, "ctr/<type>" (a type name is at most ENT_NAME_MAX bytes):
 * snprintf here was ~3 % of a single-op create. */
static const char *ctr_key(char *out, const ent_type *type)
{
    size_t n = strlen(type->name);
    memcpy(out, "ctr/", 4);
    memcpy(out + 4, type->name, n + 1);
    return out;
}

static int flush_counters(ent_txn *t)
{
    const ent_schema *sc = t->lay->schema;
    char key[ENT_NAME_MAX + 8];
    int rc;
    for (size_t i = 0; i < sc->n_types; i++) {
        if (!t->tc[i].dirty) continue;
        if ((rc = ent__meta_put_pair(t, ctr_key(key, sc->types[i]), t->tc[i].next_id, t->tc[i].count))) return rc;
    }
    return ENT_OK;
}

_Thread_local int64_t ent__txn_sync_ns;

/* The backend commit of write txn t. apart (a group commit): on a backend that syncs apart, the
 * commit leaves its last sync, which runs once the backend's writer is free for others (another
 * process, or a transaction that is not grouped); the commit is durable when this returns.
 * *visible: the commit's changes are in the store, which a failed last sync leaves them (its error
 * is returned: the commit is not known to be durable; readers and subscribers see it all the same). */
static int backend_commit(ent_txn *t, int apart, int *visible)
{
    ent_store *s = t->s;
    int rc;
    if (!apart || !(ent__bk_caps(&s->bk) & ENT_BK_CAP_SYNC_APART)) {
        rc = ent__bk_commit(t);
        *visible = rc == ENT_OK;
        if (*visible) keep_own_commit(t);
        return rc;
    }
    rc = ent__bk_commit_unsynced(t);
    *visible = rc == ENT_OK;
    if (rc) return rc;
    /* Kept before the sync: the writer is free for others during it, and the state exists (a
     * failed sync leaves it visible too). */
    keep_own_commit(t);
    int64_t a = ent__mono_ns();
    rc = ent__bk_sync(s, 0);
    ent__txn_sync_ns = ent__mono_ns() - a;
    return rc;
}

static int commit_write(ent_txn *t, int apart)
{
    ent_store *s = t->s;
    int rc, visible = 0;
    uint8_t other;
    uint64_t first, last;
    const ent_layout *lay;
    if (t->failed) {
        rc = t->failed_rc;
        int detail = t->failed_detail;
        ent__bk_abort(t);
        txn_free(t);
        return ent__errd(rc, detail, "transaction not committed: an earlier write in it failed half way (%s)",
                         ent_strerror(rc));
    }
    /* ent_txn_defer_ref_checks(): what its calls did not check, checked on the final state */
    if (t->refs_deferred && (rc = ent__refs_check_deferred(t))) {
        int detail = ent_errdetail();
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ent_errmsg());
        ent__bk_abort(t);
        txn_free(t);
        return ent__errd(rc, detail, "transaction not committed: %s", msg);
    }
    /* ent_txn_defer_unique_checks(): no value two entities hold */
    if (t->uniques_deferred && (rc = ent__uniques_check_deferred(t))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ent_errmsg());
        ent__bk_abort(t);
        txn_free(t);
        return ent__err(rc, "transaction not committed: %s", msg);
    }
    other = t->meta_other; /* the two flushes below are what keep_own_commit() keeps */
    if ((rc = flush_counters(t)) || (rc = ent__log_flush(t))) {
        ent__bk_abort(t);
        txn_free(t);
        return rc;
    }
    t->meta_other = other;
    first = t->first_seq;
    last = t->log_last;
    lay = t->lay;
    if (first && ent__log_has_subscribers(s)) {
        /* Deliveries follow commit order through tickets taken while this txn still holds the
         * writer (log_deliver.c); no lock is held across the backend commit, whose map growth
         * takes the backend's own locks. The pin keeps the commit's backend hold until the
         * delivery has read the log, so neither the wait for the turn nor the delivery's read
         * transaction queues behind a resizer that waits for this thread. */
        uint64_t ticket = ent__log_ticket(s);
        ent_evcap cap = t->cap; /* the events it stored, delivered from here */
        memset(&t->cap, 0, sizeof t->cap);
        ent__bk_pin(s);
        char msg[512];
        int detail = ENT_DETAIL_NONE;
        rc = backend_commit(t, apart, &visible);
        txn_free(t);
        if (rc) { /* callbacks and reads set messages */
            snprintf(msg, sizeof msg, "%s", ent_errmsg());
            detail = ent_errdetail();
        }
        ent__log_deliver(s, lay, ticket, first, last, visible, &cap);
        ent__evcap_free(&cap);
        if (rc) ent__errd(rc, detail, "%s", msg);
        ent__bk_unpin(s);
        return rc;
    }
    rc = backend_commit(t, apart, &visible);
    txn_free(t);
    return rc;
}

int ent__txn_commit_group(ent_txn *t)
{
    int rc;
    if ((rc = ent__store_check(t->s))) {
        ent__bk_abort(t);
        txn_free(t);
        return rc;
    }
    return commit_write(t, 1);
}

int ent_txn_commit(ent_txn *t)
{
    ent_store *s;
    int rc;
    if (!t) return ent__err(ENT_INVALID, "ent_txn_commit: txn is NULL");
    if (ent__txn_lent(t))
        return ent__err(ENT_INVALID, "ent_txn_commit: the transaction belongs to ent_txn_run(); return ENT_OK from the function instead");
    if (not_owner(t, "ent_txn_commit")) return ENT_INVALID; /* left to its thread to end */
    s = t->s;
    if ((rc = ent__store_check(s))) {
        txn_free(t);
        return rc;
    }
    if (!t->write) {
        rc = ent__bk_commit(t);
        txn_free(t);
        return rc;
    }
    return commit_write(t, 0);
}

void ent_txn_abort(ent_txn *t)
{
    if (!t) return;
    if (ent__txn_lent(t)) {
        /* Inside ent_txn_run(): the function's work is undone when it returns, not the txn freed. */
        t->failed = 2; /* said so again when fn returns (ent__txn_failed()) */
        t->failed_rc = ent__err(ENT_INVALID, "the function of ent_txn_run() aborted its transaction");
        t->failed_detail = ENT_DETAIL_NONE;
        return;
    }
    if (not_owner(t, "ent_txn_abort")) return; /* left to its thread, which may still use it */
    ent__bk_abort(t); /* not in a forked child: the parent owns the txn */
    txn_free(t);
}

int ent__txn_failed(const ent_txn *t)
{
    if (t->failed == 2)
        return ent__err(t->failed_rc, "the function of ent_txn_run() aborted its transaction: its work is undone (return "
                                      "an error code from it to undo its work, not ent_txn_abort())");
    return ent__errd(t->failed_rc, t->failed_detail, "the transaction failed half way (%s)", ent_strerror(t->failed_rc));
}

int ent__txn_use(ent_txn **out, ent_store *s, ent_txn *txn, int write)
{
    int rc;
    if ((rc = ent__store_check(s))) return rc;
    if (txn) {
        if (txn->s && txn->s != s) return ent__err(ENT_INVALID, "transaction belongs to another store");
        if (not_owner(txn, "a call given a transaction")) return ENT_INVALID;
        if (write && !txn->write)
            return ent__err(ENT_READONLY, "write in a read transaction");
        if (txn->failed == 2)
            return ent__err(txn->failed_rc, "the function of ent_txn_run() aborted this transaction earlier: return from it");
        if (txn->failed)
            return ent__errd(txn->failed_rc, txn->failed_detail, "transaction failed earlier (%s); abort it",
                             ent_strerror(txn->failed_rc));
        *out = txn;
        return ENT_OK;
    }
    return ent_txn_begin(out, s, write ? ENT_TXN_WRITE : ENT_TXN_READ);
}

int ent__txn_end(ent_txn *t, ent_txn *given, int rc, int half)
{
    if (t == given) {
        if (rc && half && t->write) {
            t->failed = 1;
            t->failed_rc = rc;
            t->failed_detail = ent_errdetail(); /* rc's, set by the call that just failed */
        }
        return rc;
    }
    if (rc) {
        ent_txn_abort(t);
        return rc;
    }
    return ent_txn_commit(t);
}

int ent__type_resolve(const ent_type **out, const ent_txn *t, const ent_type *type)
{
    const ent_schema *cur = t->lay->schema;
    if (!type) return ent__err(ENT_INVALID, "type is NULL");
    if (type->schema == cur) {
        *out = type;
        return ENT_OK;
    }
    if (type->schema == t->s->alias && t->s->alias_gen == t->lay->gen && type->pos < cur->n_types &&
        strcmp(cur->types[type->pos]->name, type->name) == 0) {
        *out = cur->types[type->pos];
        return ENT_OK;
    }
    if (strcmp(type->schema->name, cur->name) != 0) /* "from version 1; the store is at version 1" said nothing */
        return ent__err(ENT_SCHEMA, "type %s is of schema \"%s\", not of the store's schema \"%s\"", type->name,
                        type->schema->name, cur->name);
    if (type->schema->version == cur->version)
        return ent__err(ENT_SCHEMA, "type %s is from a schema object the store was not opened "
                        "with; use ent_store_type()", type->name);
    return ent__err(ENT_SCHEMA, "type %s is from schema version %u; the store is at version %u "
                    "(resolve types again with ent_store_type())", type->name,
                    (unsigned)type->schema->version, (unsigned)cur->version);
}

int ent__field_resolve(const ent_field **out, const ent_txn *t, const ent_field *f)
{
    const ent_type *type = NULL;
    int rc;
    char path[160];
    if (!f) return ent__err(ENT_INVALID, "field is NULL");
    if (f->parent)
        return ent__err(ENT_INVALID, "%s is not a top-level field", ent__field_path(f, path, sizeof path));
    if ((rc = ent__type_resolve(&type, t, f->type))) return rc;
    *out = type->fields[f->pos];
    return ENT_OK;
}

int ent__tcount_load(ent_txn *t, const ent_type *type)
{
    ent_tcount *c = &t->tc[type->pos];
    char key[ENT_NAME_MAX + 8];
    int rc;
    if (c->loaded) return ENT_OK;
    if ((rc = ent__meta_get_pair(&c->next_id, &c->count, t, ctr_key(key, type)))) return rc;
    c->loaded = 1;
    return ENT_OK;
}

int ent__type_counters(uint64_t *next_id, uint64_t *count, ent_txn *t, const ent_type *type)
{
    char key[ENT_NAME_MAX + 8];
    int rc;
    uint64_t a, b;
    if (t->write) {
        if ((rc = ent__tcount_load(t, type))) return rc;
        a = t->tc[type->pos].next_id;
        b = t->tc[type->pos].count;
    } else if ((rc = ent__meta_get_pair(&a, &b, t, ctr_key(key, type)))) {
        return rc;
    }
    if (next_id) *next_id = a;
    if (count) *count = b;
    return ENT_OK;
}

const ent_type *ent_txn_type(const ent_txn *t, const char *name)
{
    return t ? ent_schema_type(t->lay->schema, name) : NULL;
}

int ent_txn_skip_ref_checks(ent_txn *t)
{
    if (!t) return ent__err(ENT_INVALID, "ent_txn_skip_ref_checks: txn is NULL");
    if (!t->write) return ent__err(ENT_INVALID, "ent_txn_skip_ref_checks: not a write transaction");
    t->refs_unchecked = 1;
    return ENT_OK;
}

int ent_txn_defer_ref_checks(ent_txn *t)
{
    if (!t) return ent__err(ENT_INVALID, "ent_txn_defer_ref_checks: txn is NULL");
    if (!t->write) return ent__err(ENT_INVALID, "ent_txn_defer_ref_checks: not a write transaction");
    t->refs_deferred = 1;
    return ENT_OK;
}

int ent_txn_defer_unique_checks(ent_txn *t)
{
    if (!t) return ent__err(ENT_INVALID, "ent_txn_defer_unique_checks: txn is NULL");
    if (!t->write) return ent__err(ENT_INVALID, "ent_txn_defer_unique_checks: not a write transaction");
    t->uniques_deferred = 1;
    return ENT_OK;
}

int ent_txn_restore_forward(ent_txn *t)
{
    if (!t) return ent__err(ENT_INVALID, "ent_txn_restore_forward: txn is NULL");
    if (!t->write) return ent__err(ENT_INVALID, "ent_txn_restore_forward: not a write transaction");
    t->restore_forward = 1;
    return ENT_OK;
}
