/* The LMDB backend: one MDB_env per store directory, named databases as tables.
 *
 * LMDB's pitfalls are handled here, not by the caller:
 * - A full map grows and the write retries. LMDB can only resize with no transaction active in the
 *   process and leaves a write txn that hit MDB_MAP_FULL unusable, so every write txn records its
 *   changes in an op log; on MDB_MAP_FULL the txn is aborted, the map doubled while no other txn of
 *   this process runs (a process-wide rwlock held shared by every txn, exclusively by the resizer),
 *   and the log replayed in a new txn on the same snapshot. The snapshot is the same because the
 *   growing writer announces itself before its LMDB txn ends (an flock on "<dir>/writer.lock",
 *   exclusive, and a flag in the notify page): a writer of another process that gets LMDB's writer
 *   mutex meanwhile sees the flag, steps back and waits on the flock (backend_lmdb_grow.c). A
 *   commit can hit a full map too, after LMDB let its mutex go: a commit that could (a bound on the
 *   pages its op log can dirty against the room left) announces first. So writers take no flock
 *   per transaction (two system calls, ~9 % of a single-op create) unless the map is nearly full;
 *   a growth that still finds another commit in between fails the txn with ENT_BUSY, never replays
 *   it on another snapshot. Table and cursor handles are ours and are re-bound after the replay, so
 *   the caller never notices.
 * - A map grown by another process (MDB_MAP_RESIZED at txn begin) is adopted the same way.
 * - Stale reader slots of dead processes are cleared on open (mdb_reader_check), and by a writer
 *   every SWEEP_EVERY write txns: a slot's snapshot keeps every page freed since from reuse, so
 *   a process that keeps the store open would otherwise grow the file with each rewrite until
 *   some process opens the store.
 * - LMDB forbids opening one environment twice in a process: handles on the same directory share
 *   one environment through a process-global registry.
 * - fork(): an environment must not be used in a child. Every call made in a child on a handle
 *   opened before fork() returns ENT_BUSY; close() in the child frees this library's memory only
 *   (mdb_env_close would release reader slots that belong to the parent).
 * Commits bump a counter in "<dir>/notify" (a shared mapping) and wake futex waiters in every
 * process, for followers that must see a commit within milliseconds without polling.
 */
#include "backend_lmdb_int.h"

#include <dirent.h>

/* ---- tables --------------------------------------------------------------------------------- */

static void dbi_settle(ltxn *t, int keep)
{
    lenv *e = t->e;
    if (!t->owns_dbi) return;
    pthread_mutex_lock(&e->tmu);
    for (unsigned i = 0; i < e->maxtab; i++) {
        if (e->tab[i].state != TAB_PENDING) continue;
        if (keep) {
            e->tab[i].state = TAB_COMMITTED;
            if (e->tab[i].dbi > e->max_dbi) e->max_dbi = e->tab[i].dbi;
        } else {
            free(e->tab[i].name);
            e->tab[i].name = NULL;
            e->tab[i].state = TAB_FREE;
        }
    }
    e->dbi_owner = NULL;
    t->owns_dbi = 0;
    pthread_cond_broadcast(&e->tcond);
    pthread_mutex_unlock(&e->tmu);
}

/* Whether the table exists in txn's snapshot (it may be unknown to this process yet). */
static int in_snapshot(ltxn *t, const char *name)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    return mdb_get(t->m, t->e->main_dbi, &k, &v) == 0;
}

/* No room for table `name` in e (maxdbs is fixed for an environment's life). Below MAX_TABLES a
 * new environment makes room: it is sized when the store is first opened in the process. */
static int tables_full(const lenv *e, const char *name)
{
    if (e->maxtab >= MAX_TABLES)
        return ent__errd(ENT_FULL, ENT_DETAIL_NO_SPACE, "table %s: the store holds its maximum of %u tables", name, e->maxtab);
    return ent__errd(ENT_FULL, ENT_DETAIL_NO_SPACE,
                     "table %s: this process opened store %s with room for %u tables, and it needs more; close every "
                     "handle of it in this process and open it again (an open makes room for twice the tables the "
                     "store holds or its schema needs)", name, e->path, e->maxtab);
}

static int l_table(ent_bk *vbe, ent_btxn *vtxn, const char *name, unsigned flags, unsigned *out_tbl)
{
    lbe *be = (lbe *)vbe;
    lenv *e = be->e;
    ltxn *t = (ltxn *)vtxn;
    int rc = ENT_OK, mrc;
    unsigned i, f = 0;
    MDB_dbi dbi;
    struct timespec dl;
    if (ent__lmdb_forked(e)) return ENT_BUSY;
    if (t->failed) return ent__errd(t->failed, t->failed_detail, "table %s: the transaction failed earlier", name);
    int create = (flags & ENT_TBL_CREATE) && t->write;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += DBI_WAIT_S;
    pthread_mutex_lock(&e->tmu);
again:
    for (i = 0; i < e->maxtab; i++) {
        ltab *tb = &e->tab[i];
        if (!tb->name || strcmp(tb->name, name) != 0) continue;
        if (tb->state == TAB_PENDING && e->dbi_owner != t) continue;
        if (mdb_dbi_flags(t->m, tb->dbi, &f) != 0) {
            /* Known to the process, but registered after this txn began. */
            if (!in_snapshot(t, name)) {
                rc = ent__err(create ? ENT_BUSY : (flags & ENT_TBL_CREATE) ? ENT_READONLY : ENT_NOTFOUND,
                              "table %s does not exist in this transaction's snapshot", name);
            } else {
                rc = ent__err(ENT_BUSY, "table %s became known to this process after the transaction began; retry in a new one", name);
            }
            goto done;
        }
        if ((flags & ENT_TBL_CREATE) && (flags & ENT_TBL_DUPSORT) != tb->flags) {
            rc = ent__err(ENT_INVALID, "table %s exists %s DUPSORT", name, tb->flags ? "with" : "without");
            goto done;
        }
        *out_tbl = i;
        goto done;
    }
    if (!create && !in_snapshot(t, name)) {
        rc = (flags & ENT_TBL_CREATE) ? ent__err(ENT_READONLY, "table %s cannot be created in a read transaction", name)
                                      : ent__err(ENT_NOTFOUND, "table %s does not exist", name);
        goto done;
    }
    if (t->in_sp) {
        rc = ent__err(ENT_BUSY, "table %s: no table can be opened for the first time inside a savepoint", name);
        goto done;
    }
    if (e->dbi_owner && e->dbi_owner != t) {
        if (pthread_cond_timedwait(&e->tcond, &e->tmu, &dl) == ETIMEDOUT) {
            rc = ent__err(ENT_BUSY, "table %s: another transaction of this process opening tables stayed open for %d s",
                          name, DBI_WAIT_S);
            goto done;
        }
        goto again;
    }
    /* LMDB gives a txn's new DBI the next slot after those the txn knows: safe only if it knows
     * every slot the process uses. */
    if (e->max_dbi && mdb_dbi_flags(t->m, e->max_dbi, &f) != 0) {
        rc = ent__err(ENT_BUSY, "table %s: tables were opened after this transaction began; retry in a new one", name);
        goto done;
    }
    for (i = 0; i < e->maxtab && e->tab[i].state != TAB_FREE; i++) {}
    if (i == e->maxtab) {
        rc = tables_full(e, name);
        if (!create) *out_tbl = ENT__TBL_ABSENT; /* it exists: the other tables stay usable */
        goto done;
    }
    unsigned of = create ? MDB_CREATE | ((flags & ENT_TBL_DUPSORT) ? MDB_DUPSORT : 0) : 0;
    mrc = mdb_dbi_open(t->m, name, of, &dbi);
    if (mrc) {
        if (mrc == MDB_DBS_FULL)
            rc = tables_full(e, name);
        /* The name is taken by a plain record of the main database, not a table: LMDB's own
         * words ("Operation and DB incompatible, or DB flags changed") do not say that the
         * directory holds something else (another program's LMDB data), or a damaged store. */
        else if (mrc == MDB_INCOMPATIBLE)
            rc = ent__err(ENT_CORRUPT, "table %s: %s/data.mdb holds a record named %s that is not a table: not a "
                                       "libentity store (another program's LMDB data), or a damaged one", name, e->path, name);
        else rc = ent__lmdb_lerr(mrc, "table %s", name);
        if (t->write && mrc != MDB_NOTFOUND) ent__lmdb_failed(t, rc);
        goto done;
    }
    mdb_dbi_flags(t->m, dbi, &f);
    e->tab[i].name = strdup(name);
    if (!e->tab[i].name) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        if (t->write) ent__lmdb_failed(t, rc);
        goto done;
    }
    e->tab[i].dbi = dbi;
    e->tab[i].flags = (f & MDB_DUPSORT) ? ENT_TBL_DUPSORT : 0;
    e->tab[i].open_flags = of;
    e->tab[i].state = TAB_PENDING;
    e->dbi_owner = t;
    t->owns_dbi = 1;
    if (t->write && (rc = ent__lmdb_log_add(t, OP_TABLE, i, of, NULL, NULL))) goto done;
    if ((flags & ENT_TBL_CREATE) && (flags & ENT_TBL_DUPSORT) != e->tab[i].flags) {
        rc = ent__err(ENT_INVALID, "table %s exists %s DUPSORT", name, e->tab[i].flags ? "with" : "without");
        goto done;
    }
    *out_tbl = i;
done:
    pthread_mutex_unlock(&e->tmu);
    return rc;
}

/* ---- transactions --------------------------------------------------------------------------- */


/* Take the process's writer mutex. A thread that holds no txn on e waits for it. One that does
 * (an open read txn or iterator) must not: the writer may need rs exclusively to grow the map and
 * would wait for this thread's hold while this thread waits for the writer (a lock-order
 * inversion TSan reports). It takes wmu only when free (a trylock, which orders no locks),
 * waiting on gcv between tries, and answers ENT_BUSY once a resize is pending, which only the end
 * of its own hold lets go on. */
static _Thread_local char writer_mark; /* its address tells this thread apart (e->wowner) */

static int writer_lock(lenv *e, const char *what)
{
    int rc = ENT_OK;
    if (!ent__lmdb_hold_any(e)) {
        pthread_mutex_lock(&e->wmu);
        atomic_store_explicit(&e->wowner, &writer_mark, memory_order_relaxed);
        return ENT_OK;
    }
    /* This thread is the writer already, through another handle of the same store (one
     * environment per store and process): the store's own check (txn.c) knows its handle only.
     * It would wait on gcv for itself, forever. */
    if (atomic_load_explicit(&e->wowner, memory_order_relaxed) == &writer_mark)
        return ent__err(ENT_BUSY, "store %s: this thread holds its write transaction already, through another "
                                  "handle of the same store: pass that transaction, or end it first", e->path);
    pthread_mutex_lock(&e->gmu);
    while (pthread_mutex_trylock(&e->wmu) != 0) {
        if (e->resizing) {
            rc = ent__err(ENT_BUSY, "store %s: this thread holds a read transaction of it (an iterator, a log cursor, "
                                    "an event callback's delivery) while a writer must grow the map; end it and retry "
                                    "the %s", e->path, what);
            break;
        }
        pthread_cond_wait(&e->gcv, &e->gmu);
    }
    if (rc == ENT_OK) atomic_store_explicit(&e->wowner, &writer_mark, memory_order_relaxed);
    pthread_mutex_unlock(&e->gmu);
    return rc;
}

/* As writer_lock(), but ENT_BUSY rather than a wait when another thread holds the writer: for a
 * sync from an event callback (force 2), whose delivery that thread may be waiting for. */
static int writer_trylock(lenv *e)
{
    int rc = ENT_OK;
    pthread_mutex_lock(&e->gmu);
    if (atomic_load_explicit(&e->wowner, memory_order_relaxed) == &writer_mark || pthread_mutex_trylock(&e->wmu) != 0)
        rc = ent__err(ENT_BUSY, "store %s: its writer is held (by another thread, or by this one through another "
                                "handle), and a sync from an event callback does not wait for it: sync from another "
                                "thread, or once the callback has returned", e->path);
    else
        atomic_store_explicit(&e->wowner, &writer_mark, memory_order_relaxed);
    pthread_mutex_unlock(&e->gmu);
    return rc;
}

/* Release wmu under gmu, so that a thread between its trylock and its wait cannot miss it. */
static void writer_unlock(lenv *e)
{
    pthread_mutex_lock(&e->gmu);
    atomic_store_explicit(&e->wowner, NULL, memory_order_relaxed);
    pthread_mutex_unlock(&e->wmu);
    pthread_cond_broadcast(&e->gcv);
    pthread_mutex_unlock(&e->gmu);
}

/* A count, not a clock: it bounds the pages a dead reader can pin to those of SWEEP_EVERY write
 * txns whatever the write rate, and costs a writer one scan of the reader table (a lock, and a
 * fcntl() per other process reading) per SWEEP_EVERY txns. */
enum { SWEEP_EVERY = 256 };

/* Under wmu, before the LMDB txn begins (its page allocations then see the cleared slots). */
static void sweep_dead_readers(lenv *e)
{
    int dead = 0;
    if (e->sweep_in-- > 0) return;
    e->sweep_in = SWEEP_EVERY - 1;
    mdb_reader_check(e->env, &dead); /* a failure leaves the slots for the next sweep or open */
}

static int l_txn_begin(ent_bk *vbe, int write, ent_btxn **out_txn)
{
    lbe *be = (lbe *)vbe;
    lenv *e = be->e;
    ltxn *t;
    int rc;
    if (ent__lmdb_forked(e)) return ENT_BUSY;
    if (write && be->read_only) return ent__err(ENT_READONLY, "store %s is open read-only", e->path);
    t = atomic_exchange_explicit(&e->spare, NULL, memory_order_acquire); /* zeroed (txn_finish) */
    if (!t) t = calloc(1, sizeof *t);
    if (!t) return ent__err(ENT_NOMEM, "out of memory for a transaction");
    t->be = be;
    t->e = e;
    t->write = write;
    int durable = be->dur == ENT__DUR_DURABLE;
    rc = ENT_OK;
    if (write) {
        if ((rc = writer_lock(e, "write"))) {
            free(t);
            return rc;
        }
        sweep_dead_readers(e);
        rc = ent__lmdb_wal_lock(e, durable);
    }
    while (rc == ENT_OK) {
        int relock = 0;
        rc = ent__lmdb_hold_acquire(e);
        if (rc == ENT_OK) {
            rc = ent__lmdb_txn_begin_mdb(t);
            if (rc) ent__lmdb_hold_release(e);
        }
        /* Another process grows the map and will redo its txn on this snapshot: step back. */
        if (rc || !write) break;
        if (!e->nt || !atomic_load(&e->nt->growing)) {
            /* LMDB's writer is held: the write-ahead file's state cannot change under it now,
             * except by a writer that would wait for this one */
            if ((rc = ent__lmdb_wal_begin(t, durable, &relock)) || !relock) {
                if (rc) {
                    mdb_txn_abort(t->m);
                    t->m = NULL;
                    ent__lmdb_hold_release(e);
                }
                break;
            }
        }
        mdb_txn_abort(t->m);
        t->m = NULL;
        ent__lmdb_hold_release(e);
        /* the file's lock comes before LMDB's writer: begin again with it */
        if (relock) rc = ent__lmdb_wal_lock(e, 1);
        else rc = ent__lmdb_grow_wait(e);
    }
    if (rc) {
        if (write) {
            ent__lmdb_wal_unlock(e);
            writer_unlock(e);
        }
        free(t);
        return rc;
    }
    if (write) {
        ent__lmdb_log_reset(&e->log, 1);
        t->wid = mdb_txn_id(t->m);
    }
    *out_txn = (ent_btxn *)t;
    return ENT_OK;
}

static void cur_free(lcur *c)
{
    free(c->sbuf);
    free(c);
}

/* Keep t, zeroed, as the environment's spare for the next l_txn_begin(), or free it. */
static void txn_park(lenv *e, ltxn *t)
{
    ltxn *none = NULL;
    memset(t, 0, sizeof *t);
    if (!atomic_compare_exchange_strong_explicit(&e->spare, &none, t, memory_order_release, memory_order_relaxed))
        free(t);
}

/* End the txn's bookkeeping once the LMDB txn is gone (write) or about to go (read). */
static void txn_finish(ltxn *t)
{
    lenv *e = t->e;
    while (t->curs) {
        lcur *c = t->curs;
        t->curs = c->next;
        cur_free(c);
    }
    ent__lmdb_hold_release(e);
    if (t->write) {
        ent__lmdb_log_reset(&e->log, 1);
        ent__lmdb_grow_end(e);
        ent__lmdb_wal_unlock(e);
        writer_unlock(e);
    }
    txn_park(e, t);
}

static void close_read_cursors(ltxn *t)
{
    if (t->write) return; /* LMDB frees a write txn's cursors with the txn */
    for (lcur *c = t->curs; c; c = c->next)
        if (c->c) {
            mdb_cursor_close(c->c);
            c->c = NULL;
        }
}

static void l_txn_abort(ent_btxn *vtxn)
{
    ltxn *t = (ltxn *)vtxn;
    if (!t) return;
    if (t->e->gen != ent__fork_gen()) {
        /* child: the txn belongs to the parent's environment; forget it without touching LMDB */
        while (t->curs) {
            lcur *c = t->curs;
            t->curs = c->next;
            cur_free(c);
        }
        free(t);
        return;
    }
    close_read_cursors(t);
    if (t->m) {
        if (!t->write && t->owns_dbi) {
            mdb_txn_commit(t->m); /* keeps the DBIs it opened */
        } else if (!t->write) {
            lenv *e = t->e;
            MDB_txn *none = NULL;
            mdb_txn_reset(t->m);
            if (!atomic_compare_exchange_strong_explicit(&e->rslot, &none, t->m, memory_order_release,
                                                         memory_order_relaxed)) {
                pthread_mutex_lock(&e->rcmu);
                if (e->nrcache < RCACHE_MAX) e->rcache[e->nrcache++] = t->m;
                else mdb_txn_abort(t->m);
                pthread_mutex_unlock(&e->rcmu);
            }
        } else {
            mdb_txn_abort(t->in_sp ? t->pm : t->m); /* a parent takes its child with it */
        }
    }
    t->m = NULL;
    t->pm = NULL;
    t->in_sp = 0;
    dbi_settle(t, !t->write);
    txn_finish(t);
}






/* ---- savepoints: nested LMDB txns ------------------------------------------------------------ */

static int l_sp_begin(ent_btxn *vtxn)
{
    ltxn *t = (ltxn *)vtxn;
    lenv *e = t->e;
    MDB_txn *child;
    int mrc;
    if (ent__lmdb_forked(e)) return ENT_BUSY;
    if (!t->write || t->in_sp)
        return ent__err(ENT_INVALID, "store %s: savepoint: not a write transaction, or one is open already", e->path);
    if (t->failed) return ent__errd(t->failed, t->failed_detail, "store %s: the transaction failed earlier", e->path);
    if (t->curs) return ent__err(ENT_INVALID, "store %s: savepoint: a cursor is open", e->path);
    if ((mrc = mdb_txn_begin(e->env, t->m, 0, &child))) return ent__lmdb_lerr(mrc, "store %s: beginning a savepoint", e->path);
    t->pm = t->m;
    t->m = child;
    t->sp_mark = e->log.n;
    t->in_sp = 1;
    return ENT_OK;
}

static int l_sp_end(ent_btxn *vtxn, int keep)
{
    ltxn *t = (ltxn *)vtxn;
    lenv *e = t->e;
    int rc = ENT_OK, mrc;
    if (ent__lmdb_forked(e)) return ENT_BUSY;
    if (!t->in_sp) {
        if (t->failed) return ent__errd(t->failed, t->failed_detail, "store %s: the transaction failed earlier", e->path);
        return ent__err(ENT_INVALID, "store %s: savepoint: none is open", e->path);
    }
    for (lcur *c = t->curs; c; c = c->next) c->c = NULL; /* LMDB frees a child's cursors with it */
    t->in_sp = 0;
    if (keep && !t->failed) {
        mrc = mdb_txn_commit(t->m); /* into the parent: nothing reaches the disk yet */
        t->m = t->pm;
        t->pm = NULL;
        if (mrc) {
            rc = ent__lmdb_lerr(mrc, "store %s: keeping a savepoint", e->path);
            ent__lmdb_failed(t, rc);
        }
        return rc;
    }
    /* A failure inside the savepoint broke the child only (a growth that failed ended both, see
     * ent__lmdb_grow()): undo the child and its part of the op log, and the parent goes on. */
    rc = t->failed;
    int detail = t->failed_detail;
    mdb_txn_abort(t->m);
    t->m = t->pm;
    t->pm = NULL;
    e->log.n = t->sp_mark;
    t->failed = 0;
    t->failed_detail = ENT_DETAIL_NONE;
    if (keep) return ent__errd(rc, detail, "store %s: the savepoint failed; it was undone", e->path);
    return ENT_OK;
}

/* The commit just made by this thread, logged in the write-ahead file and not yet known durable
 * (l_sync() syncs it): its environment, the file's generation and the txn. */
static _Thread_local lenv *wal_pending_e;
static _Thread_local uint64_t wal_pending_gen, wal_pending_txn;

/* Append the record of the commit just made; sync: make it durable now (else l_sync() does). A
 * commit that cannot be logged is made durable by a checkpoint instead. */
static int log_commit(lenv *e, int sync)
{
    uint64_t txn = 0;
    int err = ent__lmdb_wal_append(e, &txn);
    if (err) {
        int rc = ent__lmdb_wal_fallback(e);
        if (rc) return ent__lmdb_werr(e, err, "logging a commit in the write-ahead file", 1);
        return ENT_OK; /* durable by the checkpoint's sync of data.mdb */
    }
    uint64_t gen = ent__lmdb_wal_gen(e);
    if (!sync) {
        wal_pending_e = e;
        wal_pending_gen = gen;
        wal_pending_txn = txn;
        return ENT_OK;
    }
    if ((err = ent__lmdb_wal_sync(e, gen, txn)) < 0 && ent__lmdb_wal_fallback(e) == ENT_OK) return ENT_OK;
    if (err) return ent__lmdb_werr(e, err < 0 ? EIO : err, "syncing the write-ahead file", 1);
    return ENT_OK;
}

/* dur: the durability of this commit (t->be->dur, or lazy for a durable store's commit whose last
 * sync l_sync() does later). notify: bump the change counter now (else l_sync() does). */
static int commit_as(ltxn *t, int dur, int notify)
{
    lenv *e = t->e;
    int rc = ENT_OK, mrc;
    if (ent__lmdb_forked(e)) {
        l_txn_abort((ent_btxn *)t);
        return ENT_BUSY;
    }
    if (!t->write) {
        l_txn_abort((ent_btxn *)t);
        return ENT_OK;
    }
    if (t->in_sp && !t->failed) l_sp_end((ent_btxn *)t, 1);
    if (t->failed) {
        rc = t->failed;
        int detail = t->failed_detail;
        l_txn_abort((ent_btxn *)t);
        return ent__errd(rc, detail, "store %s: the transaction failed earlier; nothing was committed", e->path);
    }
    /* A commit logged in the write-ahead file syncs that file instead of data.mdb. */
    int logged = ent__lmdb_wal_logging(e), edur = logged ? ENT__DUR_NONE : dur;
    if (e->env_dur != edur) {
        /* Flags are per environment; handles sharing it may differ, and only the writer reads them. */
        mdb_env_set_flags(e->env, MDB_NOSYNC | MDB_NOMETASYNC, 0);
        if (ent__lmdb_env_flags_for(edur)) mdb_env_set_flags(e->env, ent__lmdb_env_flags_for(edur), 1);
        e->env_dur = edur;
    }
    /* A commit that hits a full map has let LMDB's writer mutex go before the growth could
     * announce itself: one that might announces now (see the overview). */
    if (ent__lmdb_commit_may_fill(t) && (rc = ent__lmdb_grow_announce(e, 1))) {
        l_txn_abort((ent_btxn *)t);
        return rc;
    }
    for (;;) {
        ent__lmdb_save_cursors(t); /* commit frees them; keeps positions in case of a replay */
        mrc = mdb_txn_commit(t->m);
        t->m = NULL;
        if (mrc != MDB_MAP_FULL) break;
        if ((rc = ent__lmdb_grow(t))) break;
    }
    if (!rc && mrc) {
        rc = ent__lmdb_werr(e, mrc, "commit", 0);
        /* the write-ahead file's records may hold the room data.mdb needs (see there) */
        if (rc == ENT_FULL && logged) ent__lmdb_wal_give_back(e);
    }
    if (!rc && logged) rc = log_commit(e, notify);
    if (!rc && notify) ent__lmdb_notify_bump(e);
    ent__lmdb_pin_commit(e);
    dbi_settle(t, rc == ENT_OK);
    txn_finish(t);
    return rc;
}

static int l_txn_commit(ent_btxn *vtxn)
{
    ltxn *t = (ltxn *)vtxn;
    return commit_as(t, t->be->dur, 1);
}

/* A durable commit costs two syncs: the data pages, then the meta page that makes them the
 * committed state. This commit does the first (as lazy does: the store is never corrupt after a
 * crash of the system, it may lose this commit) and leaves the second to l_sync(), which the
 * committing thread calls after it let the next writer in: the meta sync of a group commit then
 * runs while a writer that is not in the group (another process's, or a thread's own transaction)
 * works. The change counter moves once the commit is durable. */
static int l_txn_commit_unsynced(ent_btxn *vtxn)
{
    ltxn *t = (ltxn *)vtxn;
    int durable = t->be->dur == ENT__DUR_DURABLE;
    return commit_as(t, durable ? ENT__DUR_LAZY : t->be->dur, !durable);
}

static int l_sync(ent_bk *vbe, int force)
{
    lbe *be = (lbe *)vbe;
    lenv *e = be->e;
    int mrc;
    if (ent__lmdb_forked(e)) return ENT_BUSY;
    if (be->dur != ENT__DUR_DURABLE && !force) return ENT_OK;
    if (be->read_only)
        return ent__err(ENT_READONLY, "store %s: opened read-only, it cannot sync its file", e->path);
    int unknown = 0;
    if (!force && wal_pending_e == e) {
        /* this thread's last commit went to the write-ahead file: sync that */
        wal_pending_e = NULL;
        int err = ent__lmdb_wal_sync(e, wal_pending_gen, wal_pending_txn);
        if (err > 0) return ent__lmdb_werr(e, err, "syncing the write-ahead file", 1);
        if (err == 0) {
            ent__lmdb_notify_bump(e);
            return ENT_OK;
        }
        unknown = 1; /* made durable as a forced sync does */
    }
    if ((force || unknown) && ent__lmdb_wal_usable(e)) {
        /* Every commit visible now made durable: the records through it synced, or, when one is
         * not logged (its record failed), data.mdb synced and a new generation of the write-ahead
         * file based there; else a reboot would put back records that end before a commit a
         * reader saw (the relay publishes what ent_store_sync() covered). Between a durable
         * commit and its record the committing thread holds the process's writer, which this
         * takes, and the file's lock keeps other processes' writers out. Unless nothing is left
         * to make durable (the usual case: the relay's sync after group commits, each durable on
         * return): known without the writer, so that a thread holding another store's writer is
         * not held up by this one's (two threads each in a transaction of one store, syncing the
         * other's, waited for each other for ever). */
        if (!unknown && ent__lmdb_wal_synced_all(e)) return ENT_OK;
        int rc = force == 2 ? writer_trylock(e) : writer_lock(e, "sync");
        if (rc) return rc;
        if (!(rc = ent__lmdb_wal_lock(e, 1)) && !(rc = ent__lmdb_hold_acquire(e))) {
            rc = ent__lmdb_wal_sync_visible(e);
            ent__lmdb_hold_release(e);
        }
        ent__lmdb_wal_unlock(e);
        writer_unlock(e);
        if (!rc && unknown) ent__lmdb_notify_bump(e);
        return rc;
    }
    if ((mrc = mdb_env_sync(e->env, 1))) {
        if (force) return ent__lmdb_lerr(mrc, "store %s: syncing its file: the commits so far are not known to be on disk", e->path);
        return ent__lmdb_werr(e, mrc, "syncing a commit", 1);
    }
    /* A group commit's own sync: its commit is durable now (the change counter moves then). A
     * forced one has made nothing new visible. */
    if (!force) ent__lmdb_notify_bump(e);
    return ENT_OK;
}

/* ---- reads and writes ----------------------------------------------------------------------- */

static int key_ok(ltxn *t, unsigned tbl, const ent_slice *k)
{
    return k->len > 0 && k->len <= t->e->maxkey && tbl < t->e->maxtab;
}

static int l_get(ent_btxn *vtxn, unsigned tbl, const ent_slice *k, ent_slice *out_v)
{
    ltxn *t = (ltxn *)vtxn;
    lenv *e = t->e;
    MDB_val mk = {k->len, (void *)k->data}, mv;
    if (ent__lmdb_forked(e)) return ENT_BUSY;
    if (t->failed) return ent__errd(t->failed, t->failed_detail, "store %s: the transaction failed earlier", e->path);
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key (table %s)", ent__lmdb_tname(e, tbl));
    if (!key_ok(t, tbl, k)) return ENT_NOTFOUND; /* longer than any stored key */
    int mrc = mdb_get(t->m, e->tab[tbl].dbi, &mk, &mv);
    /* Not found is an answer, not a failure, on the hot path of every create: no message. */
    if (mrc == MDB_NOTFOUND) return ENT_NOTFOUND;
    if (mrc) return ent__lmdb_lerr(mrc, "table %s: get", ent__lmdb_tname(e, tbl));
    out_v->data = mv.mv_data;
    out_v->len = mv.mv_size;
    return ENT_OK;
}

static int write_check(ltxn *t, unsigned tbl)
{
    if (ent__lmdb_forked(t->e)) return ENT_BUSY;
    if (!t->write) return ent__err(ENT_READONLY, "table %s: write in a read transaction", ent__lmdb_tname(t->e, tbl));
    if (t->failed) return ent__errd(t->failed, t->failed_detail, "store %s: the transaction failed earlier", t->e->path);
    if (tbl >= t->e->maxtab) return ent__err(ENT_INVALID, "table handle %u is out of range", tbl);
    return ENT_OK;
}

/* Before a growth retries a put or delete: k and v may point into the map (a record or key the
 * caller just read, as an index build puts the data cursor's keys) or into a dirty page of this
 * txn; the growth aborts the txn and remaps, which leaves such pointers dangling. Copies them once
 * into *own (the caller frees it). */
static int own_args(MDB_val *k, MDB_val *v, char **own)
{
    size_t n = k->mv_size + (v ? v->mv_size : 0);
    char *p;
    if (*own) return ENT_OK;
    if (!(p = malloc(n ? n : 1))) return ent__err(ENT_NOMEM, "out of memory");
    memcpy(p, k->mv_data, k->mv_size);
    k->mv_data = p;
    if (v && v->mv_size) {
        memcpy(p + k->mv_size, v->mv_data, v->mv_size);
        v->mv_data = p + k->mv_size;
    }
    *own = p;
    return ENT_OK;
}

static int l_put(ent_btxn *vtxn, unsigned tbl, const ent_slice *k, const ent_slice *v, unsigned flags)
{
    ltxn *t = (ltxn *)vtxn;
    lenv *e = t->e;
    int rc = write_check(t, tbl), mrc;
    if (rc) return rc;
    ltab *tb = &e->tab[tbl];
    int dup = (tb->flags & ENT_TBL_DUPSORT) != 0;
    if (k->len == 0) return ent__err(ENT_INVALID, "table %s: empty keys are not allowed", tb->name);
    if (k->len > e->maxkey)
        return ent__errd(ENT_FULL, ENT_DETAIL_TOO_LARGE, "table %s: key of %zu bytes exceeds the backend limit of %zu",
                         tb->name, k->len, e->maxkey);
    if (dup && v->len > e->maxkey)
        return ent__errd(ENT_FULL, ENT_DETAIL_TOO_LARGE, "table %s: value of %zu bytes in a DUPSORT table exceeds the backend limit of %zu",
                        tb->name, v->len, e->maxkey);
    MDB_val mk = {k->len, (void *)k->data}, mv = {v->len, (void *)v->data};
    unsigned mf = (flags & ENT_PUT_NOOVERWRITE) ? (dup ? MDB_NODUPDATA : MDB_NOOVERWRITE) : 0;
    unsigned hint = (flags & ENT_PUT_APPEND) ? (dup ? MDB_APPENDDUP : MDB_APPEND) : 0;
    char *own = NULL;
    t->writes++;
    for (;;) {
        mrc = mdb_put(t->m, tb->dbi, &mk, &mv, mf | hint);
        if (mrc == MDB_KEYEXIST && hint) {
            hint = 0; /* the hint was wrong: an ordinary put decides */
            continue;
        }
        if (mrc != MDB_MAP_FULL) break;
        if ((rc = own_args(&mk, &mv, &own)) || (rc = ent__lmdb_grow(t))) {
            ent__lmdb_failed(t, rc); /* as the growth does: LMDB refuses the txn after MDB_MAP_FULL */
            free(own);
            return rc;
        }
    }
    if (mrc == MDB_KEYEXIST) {
        if (own) free(own);
        return ent__err(ENT_CONFLICT, "table %s: %s of %zu bytes exists already", tb->name, dup ? "pair with key" : "key", k->len);
    }
    if (mrc) {
        rc = ent__lmdb_lerr(mrc, "table %s: put of a %zu-byte value", tb->name, v->len);
        ent__lmdb_failed(t, rc); /* LMDB refuses further use of the txn after such errors */
    } else {
        rc = ent__lmdb_log_add(t, OP_PUT, tbl, mf, &mk, &mv);
    }
    if (own) free(own); /* a call saved on every put: own is set only by a growth */
    return rc;
}

static int l_del(ent_btxn *vtxn, unsigned tbl, const ent_slice *k, const ent_slice *v)
{
    ltxn *t = (ltxn *)vtxn;
    lenv *e = t->e;
    int rc = write_check(t, tbl), mrc;
    if (rc) return rc;
    ltab *tb = &e->tab[tbl];
    int pair = v && (tb->flags & ENT_TBL_DUPSORT);
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key (table %s)", tb->name);
    if (!key_ok(t, tbl, k)) return ent__err(ENT_NOTFOUND, "key of %zu bytes not found in table %s", k->len, tb->name);
    MDB_val mk = {k->len, (void *)k->data}, mv = {pair ? v->len : 0, pair ? (void *)v->data : NULL};
    char *own = NULL;
    t->writes++;
    for (;;) {
        mrc = mdb_del(t->m, tb->dbi, &mk, pair ? &mv : NULL);
        if (mrc != MDB_MAP_FULL) break;
        if ((rc = own_args(&mk, pair ? &mv : NULL, &own)) || (rc = ent__lmdb_grow(t))) {
            ent__lmdb_failed(t, rc);
            free(own);
            return rc;
        }
    }
    if (mrc == MDB_NOTFOUND) {
        if (own) free(own);
        return ent__err(ENT_NOTFOUND, "key not found in table %s", tb->name);
    }
    if (mrc) {
        rc = ent__lmdb_lerr(mrc, "table %s: delete", tb->name);
        ent__lmdb_failed(t, rc);
    } else {
        rc = ent__lmdb_log_add(t, pair ? OP_DEL : OP_DELKEY, tbl, 0, &mk, pair ? &mv : NULL);
    }
    if (own) free(own);
    return rc;
}

static int l_clear(ent_btxn *vtxn, unsigned tbl)
{
    ltxn *t = (ltxn *)vtxn;
    int rc = write_check(t, tbl), mrc;
    if (rc) return rc;
    t->writes++;
    for (;;) {
        mrc = mdb_drop(t->m, t->e->tab[tbl].dbi, 0);
        if (mrc != MDB_MAP_FULL) break;
        if ((rc = ent__lmdb_grow(t))) return rc;
    }
    if (mrc) {
        rc = ent__lmdb_lerr(mrc, "table %s: clear", ent__lmdb_tname(t->e, tbl));
        ent__lmdb_failed(t, rc);
        return rc;
    }
    return ent__lmdb_log_add(t, OP_CLEAR, tbl, 0, NULL, NULL);
}

/* ---- cursors -------------------------------------------------------------------------------- */

static int l_cursor_open(ent_btxn *vtxn, unsigned tbl, ent_bcur **out_cur)
{
    ltxn *t = (ltxn *)vtxn;
    lcur *c;
    int mrc;
    if (ent__lmdb_forked(t->e)) return ENT_BUSY;
    if (t->failed) return ent__errd(t->failed, t->failed_detail, "store %s: the transaction failed earlier", t->e->path);
    if (tbl >= t->e->maxtab) return ent__err(ENT_INVALID, "table handle %u is out of range", tbl);
    c = calloc(1, sizeof *c);
    if (!c) return ent__err(ENT_NOMEM, "out of memory for a cursor");
    mrc = mdb_cursor_open(t->m, t->e->tab[tbl].dbi, &c->c);
    if (mrc) {
        free(c);
        return ent__lmdb_lerr(mrc, "table %s: opening a cursor", ent__lmdb_tname(t->e, tbl));
    }
    c->t = t;
    c->tbl = tbl;
    c->next = t->curs;
    if (t->curs) t->curs->prev = c;
    t->curs = c;
    *out_cur = (ent_bcur *)c;
    return ENT_OK;
}

static void l_cursor_close(ent_bcur *vcur)
{
    lcur *c = (lcur *)vcur;
    if (!c) return;
    if (c->prev) c->prev->next = c->next;
    else c->t->curs = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->c && c->t->e->gen == ent__fork_gen()) mdb_cursor_close(c->c);
    cur_free(c);
}

/* Put mc on the first pair >= (key, val) of a DUPSORT table (*mk, *mv: where it landed).
 * GET_BOTH_RANGE stays within the key; past its last value the answer is the next key. */
static int seek_pair(MDB_cursor *mc, MDB_val *mk, MDB_val *mv, const MDB_val *key, const MDB_val *val)
{
    int mrc;
    *mk = *key;
    *mv = *val;
    mrc = mdb_cursor_get(mc, mk, mv, MDB_GET_BOTH_RANGE);
    if (mrc == MDB_NOTFOUND) {
        *mk = *key;
        mrc = mdb_cursor_get(mc, mk, mv, MDB_SET_RANGE);
        if (mrc == 0 && mk->mv_size == key->mv_size && memcmp(mk->mv_data, key->mv_data, key->mv_size) == 0)
            mrc = mdb_cursor_get(mc, mk, mv, MDB_NEXT_NODUP);
    }
    return mrc;
}

static int l_cursor_get(ent_bcur *vcur, int op, ent_slice *k, ent_slice *v)
{
    lcur *c = (lcur *)vcur;
    ltxn *t = c->t;
    lenv *e = t->e;
    MDB_val mk = {0, NULL}, mv = {0, NULL};
    int mrc, dup = (e->tab[c->tbl].flags & ENT_TBL_DUPSORT) != 0;
    if (ent__lmdb_forked(e)) return ENT_BUSY;
    if (t->failed || !c->c)
        return ent__errd(t->failed ? t->failed : ENT_INVALID, t->failed ? t->failed_detail : ENT_DETAIL_NONE,
                         "store %s: the transaction failed earlier", e->path);
    if ((op == ENT_CUR_NEXT || op == ENT_CUR_PREV) && t->write && c->saved && c->seen_writes != t->writes) {
        /* The txn wrote since this cursor last moved: go on from the saved pair as the table is
         * now, as the memory backend does (NEXT from a pair that went lands on its successor).
         * LMDB's own fix-up of the cursor skipped pairs put after the position when the key
         * under it had gone. */
        MDB_val want = {c->skl, c->sbuf}, wv = {c->svl, c->sbuf + c->skl};
        int same;
        mk = want;
        mv = wv;
        if (dup) mrc = seek_pair(c->c, &mk, &mv, &want, &wv);
        else mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_SET_RANGE);
        if (mrc == MDB_NOTFOUND) {
            if (op == ENT_CUR_PREV) mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_LAST);
        } else if (mrc == 0) {
            same = mk.mv_size == want.mv_size && memcmp(mk.mv_data, want.mv_data, want.mv_size) == 0 &&
                   (!dup || (mv.mv_size == wv.mv_size && memcmp(mv.mv_data, wv.mv_data, wv.mv_size) == 0));
            if (same || op == ENT_CUR_PREV)
                mrc = mdb_cursor_get(c->c, &mk, &mv, op == ENT_CUR_NEXT ? MDB_NEXT : MDB_PREV);
        }
        goto moved;
    }
    switch (op) {
    case ENT_CUR_FIRST: mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_FIRST); break;
    case ENT_CUR_LAST: mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_LAST); break;
    case ENT_CUR_NEXT: mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_NEXT); break;
    case ENT_CUR_PREV: mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_PREV); break;
    case ENT_CUR_CURRENT: mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_GET_CURRENT); break;
    case ENT_CUR_SEEK:
        if (k->len == 0) { /* LMDB refuses empty keys; every key is >= the empty one */
            mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_FIRST);
            break;
        }
        mk.mv_size = k->len;
        mk.mv_data = (void *)k->data;
        mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_SET_RANGE);
        break;
    case ENT_CUR_SEEK_PAIR:
        if (!dup) return ent__err(ENT_INVALID, "table %s: SEEK_PAIR needs a DUPSORT table", ent__lmdb_tname(e, c->tbl));
        if (k->len == 0) {
            mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_FIRST);
            break;
        }
        mrc = seek_pair(c->c, &mk, &mv, &(MDB_val){k->len, (void *)k->data}, &(MDB_val){v->len, (void *)v->data});
        break;
    default: return ent__err(ENT_INVALID, "unknown cursor operation %d", op);
    }
moved:
    if (mrc == MDB_NOTFOUND || (mrc == EINVAL && op == ENT_CUR_CURRENT))
        return ent__err(ENT_NOTFOUND, "no such pair in table %s", ent__lmdb_tname(e, c->tbl));
    if (mrc) return ent__lmdb_lerr(mrc, "table %s: cursor", ent__lmdb_tname(e, c->tbl));
    if (t->write) {
        /* Remember the position now: once the map is full LMDB answers no cursor read, and a
         * growth redoes the txn with new cursors that must go on from here. */
        size_t need = mk.mv_size + mv.mv_size;
        if (need > c->scap) {
            unsigned char *b = realloc(c->sbuf, need ? need : 1);
            if (!b) return ent__err(ENT_NOMEM, "out of memory");
            c->sbuf = b;
            c->scap = need;
        }
        /* Both may be empty (a damaged page: LMDB stores no empty key), sbuf then still NULL. */
        if (mk.mv_size) memcpy(c->sbuf, mk.mv_data, mk.mv_size);
        if (mv.mv_size) memcpy(c->sbuf + mk.mv_size, mv.mv_data, mv.mv_size);
        c->skl = mk.mv_size;
        c->svl = mv.mv_size;
        c->saved = 1;
        c->seen_writes = t->writes;
    }
    k->data = mk.mv_data;
    k->len = mk.mv_size;
    v->data = mv.mv_data;
    v->len = mv.mv_size;
    return ENT_OK;
}

/* ---- the rest ------------------------------------------------------------------------------- */

struct reader_scan {
    uint64_t n, oldest_txn;
    int64_t oldest_pid;
};

/* One line of mdb_reader_list(): "pid thread txnid", txnid "-" for a slot without a snapshot
 * (a reset transaction, kept for reuse), and a header line first. */
static int reader_line(const char *line, void *ctx)
{
    struct reader_scan *r = ctx;
    int pid;
    unsigned long long txn;
    if (sscanf(line, "%d %*x %llu", &pid, &txn) == 2) {
        if (!r->n || txn < r->oldest_txn) {
            r->oldest_txn = txn;
            r->oldest_pid = pid;
        }
        r->n++;
    }
    return 0;
}

static int l_info(ent_bk *vbe, ent_backend_info *out)
{
    lbe *be = (lbe *)vbe;
    lenv *e = be->e;
    MDB_envinfo ei;
    MDB_stat st;
    struct stat fs;
    int fd;
    if (ent__lmdb_forked(e)) return ENT_BUSY;
    /* both read the map, which a resize replaces: under a hold, as a txn's reads are */
    int rc = ent__lmdb_hold_acquire(e);
    if (rc) return rc;
    if ((rc = ent__lmdb_unmapped(e))) {
        ent__lmdb_hold_release(e);
        return rc;
    }
    mdb_env_info(e->env, &ei);
    mdb_env_stat(e->env, &st);
    ent__lmdb_hold_release(e);
    memset(out, 0, sizeof *out);
    out->map_size = ei.me_mapsize;
    out->used_bytes = (uint64_t)(ei.me_last_pgno + 1) * st.ms_psize;
    out->tables = st.ms_entries; /* mdb_env_stat() describes the main database */
    /* Who holds old snapshots: while one lasts, LMDB reuses no page freed since it began, and
     * every rewrite takes new pages at the end of data.mdb (a reader left open for minutes under
     * steady writes grew the soak's store by ~90 MB). The reader table is in lock.mdb, not the
     * map: no hold needed. */
    struct reader_scan rs = {0, 0, 0};
    if (mdb_reader_list(e->env, reader_line, &rs) == 0 && rs.n) {
        out->readers = rs.n;
        out->oldest_behind = (uint64_t)ei.me_last_txnid > rs.oldest_txn ? (uint64_t)ei.me_last_txnid - rs.oldest_txn : 0;
        out->oldest_pid = rs.oldest_pid;
    }
    /* The file open, not the one at the path: a host that chdir()ed, or a store moved (mv) while
     * open, read 0 (or another store's size) by the path. */
    if (mdb_env_get_fd(e->env, &fd) == 0 && fstat(fd, &fs) == 0) out->disk_bytes = (uint64_t)fs.st_size;
    return ENT_OK;
}

/* tests: called with the copy's file once LMDB has written it, before it is synced and named
 * data.mdb (a test kills the process there, with the file cut as a kill mid-write leaves it). */
void (*ent__lmdb_copy_written_hook)(const char *file, int fd);

/* The file a copy is written to, locked (flock) by the process that writes it. The copy is named
 * data.mdb only once it is whole and synced: a copy killed with SIGKILL left a data.mdb that was a
 * prefix of the store, which every command refused as "truncated", and a second copy to the same
 * place was refused because it "holds a data.mdb already" (nothing said that a copy had died
 * there, nor what to do). A file of this name whose lock nobody holds is what a killed copy left:
 * the next copy takes it over. *out: the descriptor. */
static int copy_file_take(const char *dest, const char *part, int *out)
{
    for (int tries = 0; tries < 100; tries++) {
        struct stat fs, ps;
        int fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC, 0664);
        if (fd < 0)
            return ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "cannot create %s: %s", part,
                            strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int en = errno;
            close(fd);
            if (en == EWOULDBLOCK) return ent__err(ENT_BUSY, "another copy to %s is under way (it writes %s)", dest, part);
            return ent__err(ENT_IO, "cannot lock %s: %s", part, strerror(en));
        }
        /* The copy that held it may have named it data.mdb (and unlinked this name) between
         * our open and our lock: the file at the name must be the one locked. */
        if (fstat(fd, &fs) == 0 && stat(part, &ps) == 0 && fs.st_dev == ps.st_dev && fs.st_ino == ps.st_ino) {
            if (ftruncate(fd, 0) < 0) { /* a killed copy's bytes: the new copy is written from 0 */
                int en = errno;
                close(fd);
                return ent__err(ENT_IO, "cannot empty %s: %s", part, strerror(en));
            }
            *out = fd;
            return ENT_OK;
        }
        close(fd);
    }
    return ent__err(ENT_BUSY, "copies to %s keep replacing %s: try again", dest, part);
}

/* A copy fills an empty directory: one holding other files (a home directory, another program's
 * data, a store's wal or lock.mdb without its data.mdb) would get a store among them, and a later
 * removal of "the copy" would take them too. Taken: a dead copy's data.mdb.copying (taken over
 * below), and data.mdb, which the caller names as a store already there. */
static int dest_empty(const char *dest)
{
    DIR *d = opendir(dest);
    struct dirent *de;
    int rc = ENT_OK;
    if (!d) return ent__err(errno == EACCES ? ENT_READONLY : ENT_IO, "cannot read copy destination %s: %s", dest, strerror(errno));
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "data.mdb") || !strcmp(n, "data.mdb.copying")) continue;
        rc = ent__err(ENT_CONFLICT, "copy destination %s is not empty: it holds %s (a copy makes a directory, or fills an empty one)",
                      dest, n);
        break;
    }
    closedir(d);
    return rc;
}

static int l_copy(ent_bk *vbe, const char *dest, int compact)
{
    lbe *be = (lbe *)vbe;
    lenv *e = be->e;
    char *data, *part;
    int rc = ENT_OK, mrc, fd = -1, made = 0;
    if (ent__lmdb_forked(e)) return ENT_BUSY;
    if (mkdir(dest, 0775) == 0) made = 1;
    else if (errno != EEXIST)
        return ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "cannot create %s: %s", dest, strerror(errno));
    {
        /* a file there: named as such ("cannot look at DEST/data.mdb: Not a directory" was all) */
        struct stat ds;
        if (stat(dest, &ds) == 0 && !S_ISDIR(ds.st_mode))
            return ent__err(ENT_CONFLICT, "copy destination %s is not a directory (a copy makes one, or fills an empty one)", dest);
    }
    if ((mrc = ent__lmdb_sync_parent(dest))) /* dest's name, as data.mdb's below */
        return ent__err(ENT_IO, "copy to %s: syncing the directory that holds it: %s", dest, strerror(mrc));
    data = ent__lmdb_path_join(dest, "data.mdb");
    part = ent__lmdb_path_join(dest, "data.mdb.copying");
    if (!data || !part) {
        free(data);
        free(part);
        return ent__err(ENT_NOMEM, "out of memory");
    }
    /* A second copy to a store's place is refused (it is linked into place below without
     * replacing one either, should a store appear there meanwhile). */
    if (access(data, F_OK) == 0) rc = ent__err(ENT_CONFLICT, "copy destination %s holds a data.mdb already", dest);
    else if (errno != ENOENT) rc = ent__err(ENT_IO, "cannot look at %s: %s", data, strerror(errno));
    if (rc || (rc = dest_empty(dest)) || (rc = copy_file_take(dest, part, &fd))) {
        if (made) rmdir(dest);
        free(data);
        free(part);
        return rc;
    }
    /* no resize while LMDB reads the map, and a map to read */
    if ((rc = ent__lmdb_hold_acquire(e)) == ENT_OK && (rc = ent__lmdb_unmapped(e))) ent__lmdb_hold_release(e);
    if (rc) goto out;
    /* The copy begins an LMDB txn of its own, which meets a map grown by another process as any
     * txn does: adopt it (as ent__lmdb_txn_begin_mdb() does) and copy again. The failed attempt
     * wrote nothing: LMDB begins its txn before the first write. */
    for (int tries = 0;; tries++) {
        mrc = mdb_env_copyfd2(e->env, fd, compact ? MDB_CP_COMPACT : 0);
        if (mrc != MDB_MAP_RESIZED || tries >= 100) break;
        if (ent__lmdb_hold_depth(e) != 1) {
            rc = ent__err(ENT_BUSY, "store %s: the map was grown by another process; end this thread's other "
                                    "transactions to pick it up", e->path);
            break;
        }
        if ((rc = ent__lmdb_resize_exclusive(e, 0))) break;
        if (lseek(fd, 0, SEEK_SET) < 0 || ftruncate(fd, 0) < 0) {
            mrc = errno;
            break;
        }
    }
    ent__lmdb_hold_release(e);
    if (rc) goto out;
    if (!mrc && ent__lmdb_copy_written_hook) ent__lmdb_copy_written_hook(part, fd);
    if (!mrc && fsync(fd) < 0) mrc = errno;
    /* Named data.mdb only now, whole and synced; link() does not replace a data.mdb made meanwhile. */
    if (!mrc && link(part, data) < 0) {
        if (errno == EEXIST) rc = ent__err(ENT_CONFLICT, "copy destination %s holds a data.mdb already", dest);
        else mrc = errno;
    }
    if (!mrc && !rc) {
        unlink(part); /* before the lock goes with the close: no other copy takes this file over */
        mrc = ent__lmdb_sync_dir(dest); /* data.mdb's name: a copy that returned is there */
        if (mrc) unlink(data);
    }
    if (mrc && !rc) rc = ent__lmdb_lerr(mrc, "copying store %s to %s", e->path, dest);
out:
    if (rc) unlink(part); /* ours while we hold its lock */
    close(fd);
    /* A failed copy leaves DEST as it found it: a directory it made goes again (empty now, else
     * rmdir leaves it), so no `test -d DEST` takes it for the backup made (a full disk left it). */
    if (rc && made) rmdir(dest);
    free(data);
    free(part);
    return rc;
}



static int l_set_durability(ent_bk *vbe, int durability)
{
    lbe *be = (lbe *)vbe;
    if (durability < ENT__DUR_DURABLE || durability > ENT__DUR_NONE)
        return ent__err(ENT_INVALID, "durability %d is not one of durable (0), lazy (1), none (2)", durability);
    be->dur = durability; /* applied to the environment by the next commit */
    return ENT_OK;
}

static uint64_t l_snapshot_id(ent_btxn *vtxn)
{
    ltxn *t = (ltxn *)vtxn;
    if (!t->m) return 0;
    /* LMDB numbers every commit: a reader sees the last one's id, a writer works on the next. */
    return t->write ? (uint64_t)mdb_txn_id(t->m) - 1 : (uint64_t)mdb_txn_id(t->m);
}


static void l_limits(ent_bk *vbe, ent_backend_limits *out)
{
    lbe *be = (lbe *)vbe;
    out->caps = ent__backend_lmdb.caps;
    out->max_key = be->e->maxkey; /* the environment's own, as liblmdb was built */
}

static void l_pin(ent_bk *vbe) { ent__lmdb_pin(((lbe *)vbe)->e); }
static void l_unpin(ent_bk *vbe) { ent__lmdb_unpin(((lbe *)vbe)->e); }

const ent_backend_ops ent__backend_lmdb = {
    .version = ENT_BACKEND_VERSION,
    .name = "lmdb",
    .caps = ENT_BK_CAP_PERSISTENT | ENT_BK_CAP_COPY | ENT_BK_CAP_SHARED | ENT_BK_CAP_DURABILITY |
            ENT_BK_CAP_SNAPSHOT_ID | ENT_BK_CAP_PIN | ENT_BK_CAP_GROWS | ENT_BK_CAP_SAVEPOINT |
            ENT_BK_CAP_SYNC_APART | ENT_BK_CAP_CHECK_PAGES | ENT_BK_CAP_AT_PATH,
    /* MDB_MAXKEYSIZE of liblmdb's default build (Debian's): what every environment takes. An
     * environment reports its own limit (mdb_env_get_maxkeysize), which a store then keeps. */
    .max_key = 511,
    .open = ent__lmdb_open,
    .close = ent__lmdb_close,
    .limits = l_limits,
    .table = l_table,
    .txn_begin = l_txn_begin,
    .txn_commit = l_txn_commit,
    .txn_abort = l_txn_abort,
    .get = l_get,
    .put = l_put,
    .del = l_del,
    .clear = l_clear,
    .cursor_open = l_cursor_open,
    .cursor_get = l_cursor_get,
    .cursor_close = l_cursor_close,
    .info = l_info,
    .copy = l_copy,
    .change_counter = ent__lmdb_change_counter,
    .wait_change = ent__lmdb_wait_change,
    .set_durability = l_set_durability,
    .snapshot_id = l_snapshot_id,
    .pin = l_pin,
    .unpin = l_unpin,
    .sp_begin = l_sp_begin,
    .sp_end = l_sp_end,
    .txn_commit_unsynced = l_txn_commit_unsynced,
    .sync = l_sync,
    .check_pages = ent__lmdb_check_pages,
    .at_path = ent__lmdb_at_path,
};
