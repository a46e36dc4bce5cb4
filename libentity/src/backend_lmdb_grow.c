/* The LMDB backend's map growth: a write that finds the map full aborts, doubles the map while no
 * other txn of the process runs, and replays the txn's op log (see backend_lmdb.c's overview); a
 * map grown by another process is adopted at txn begin. Also the change notification: a counter
 * and a futex word in "<dir>/notify" that every commit bumps and followers wait on. Uses
 * backend_lmdb_env.c; used by backend_lmdb.c. */
#include "backend_lmdb_int.h"

/* ---- growing the map ---------------------------------------------------------------------- */

void ent__lmdb_notify_bump(lenv *e)
{
    if (!e->nt || !e->nt_writable) return;
    atomic_fetch_add(&e->nt->counter, 1);
    atomic_fetch_add(&e->nt->word, 1);
    if (atomic_load(&e->nt->waiters))
        syscall(SYS_futex, &e->nt->word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void ent__lmdb_save_cursors(ltxn *t)
{
    /* Positions were recorded at every move (l_cursor_get): a txn that hit a full map answers no
     * cursor read any more. */
    for (lcur *c = t->curs; c; c = c->next) c->c = NULL; /* freed with the aborted txn */
}

static int restore_cursors(ltxn *t)
{
    for (lcur *c = t->curs; c; c = c->next) {
        int mrc = mdb_cursor_open(t->m, t->e->tab[c->tbl].dbi, &c->c);
        if (mrc) {
            c->c = NULL;
            return ent__lmdb_lerr(mrc, "table %s: reopening a cursor after growing the map", ent__lmdb_tname(t->e, c->tbl));
        }
        if (c->saved) {
            MDB_val k = {c->skl, c->sbuf}, v = {c->svl, c->sbuf + c->skl};
            if (t->e->tab[c->tbl].flags & ENT_TBL_DUPSORT) mdb_cursor_get(c->c, &k, &v, MDB_GET_BOTH_RANGE);
            else mdb_cursor_get(c->c, &k, &v, MDB_SET_RANGE);
        }
    }
    return ENT_OK;
}

/* ---- keeping other processes out of a growth ------------------------------------------------- */

/* The flag is only ever set by a process that holds writer.lock exclusively, and cleared before
 * it lets go; a process that holds the lock shared and still sees it set knows its setter died. */
int ent__lmdb_grow_announce(lenv *e, int holds_writer)
{
    if (e->grow_lock) return ENT_OK;
    /* Holding LMDB's writer mutex, never wait for the lock without end: its holder may be a
     * process whose commit hit the full map past the bound of ent__lmdb_commit_may_fill() (so
     * it announced only after LMDB let its mutex go) and now waits for this one's mutex. Shared
     * holders (ent__lmdb_grow_wait) keep it for microseconds; after ~100 ms this txn gives way. */
    for (int tries = 0; flock(e->lockfd, holds_writer ? LOCK_EX | LOCK_NB : LOCK_EX) < 0;) {
        if (errno == EWOULDBLOCK && holds_writer && ++tries < 100) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        } else if (errno == EWOULDBLOCK && holds_writer) {
            return ent__err(ENT_BUSY, "store %s: another process is growing the map and waits for this "
                                      "transaction; nothing was written, retry it", e->path);
        } else if (errno != EINTR) {
            return ent__err(ENT_IO, "store %s: locking writer.lock: %s", e->path, strerror(errno));
        }
    }
    if (e->nt) atomic_store(&e->nt->growing, 1);
    e->grow_lock = 1;
    return ENT_OK;
}

void ent__lmdb_grow_end(lenv *e)
{
    if (!e->grow_lock) return;
    if (e->nt) atomic_store(&e->nt->growing, 0);
    flock(e->lockfd, LOCK_UN);
    e->grow_lock = 0;
}

int ent__lmdb_grow_wait(lenv *e)
{
    while (flock(e->lockfd, LOCK_SH) < 0)
        if (errno != EINTR) return ent__err(ENT_IO, "store %s: locking writer.lock: %s", e->path, strerror(errno));
    /* Still set: its setter died. Any value, not just 1: a damaged notify file would otherwise
     * keep every writer stepping back forever. Nobody can set it while this lock is held. */
    if (atomic_load(&e->nt->growing)) atomic_store(&e->nt->growing, 0);
    flock(e->lockfd, LOCK_UN);
    return ENT_OK;
}

int ent__lmdb_commit_may_fill(const ltxn *t)
{
    lenv *e = t->e;
    MDB_envinfo info;
    MDB_stat st;
    /* An upper bound on the pages the commit can add at the end of the file: every op dirties
     * at most a root-to-leaf path and a split per level (LMDB's trees are at most 32 deep) and
     * its own bytes in overflow pages; the free list the commit saves holds at most one 8-byte
     * id per page of the map. Used by the last committed state: me_last_pgno. */
    if (mdb_env_info(e->env, &info) || mdb_env_stat(e->env, &st) || st.ms_psize == 0) return 1;
    uint64_t pages = info.me_mapsize / st.ms_psize;
    uint64_t need = 64 + pages / (st.ms_psize / 8) + (uint64_t)e->log.n * 65 + e->log.bytes / st.ms_psize;
    return (uint64_t)info.me_last_pgno + need >= pages;
}

/* Redo the op log's entries [from, to) in t->m. */
static int replay(ltxn *t, size_t from, size_t to)
{
    lenv *e = t->e;
    loplog *l = &e->log;
    for (size_t i = from; i < to; i++) {
        lop *o = &l->ops[i];
        MDB_val k = {o->klen, o->k}, v = {o->vlen, o->v};
        MDB_dbi dbi = e->tab[o->tbl].dbi;
        int mrc = 0;
        switch (o->op) {
        case OP_TABLE:
            pthread_mutex_lock(&e->tmu);
            mrc = mdb_dbi_open(t->m, e->tab[o->tbl].name, o->mflags, &e->tab[o->tbl].dbi);
            pthread_mutex_unlock(&e->tmu);
            break;
        case OP_PUT: mrc = mdb_put(t->m, dbi, &k, &v, o->mflags); break;
        case OP_DEL: mrc = mdb_del(t->m, dbi, &k, &v); break;
        case OP_DELKEY: mrc = mdb_del(t->m, dbi, &k, NULL); break;
        case OP_CLEAR: mrc = mdb_drop(t->m, dbi, 0); break;
        }
        if (mrc) return mrc;
    }
    return 0;
}

/* Begin t's MDB txn (a cached reset one for a read), adopting a map grown by another process. */
int ent__lmdb_txn_begin_mdb(ltxn *t)
{
    lenv *e = t->e;
    int urc = ent__lmdb_unmapped(e);
    if (urc) return urc;
    if (!t->write) {
        MDB_txn *m = atomic_exchange_explicit(&e->rslot, NULL, memory_order_acquire);
        if (!m) {
            pthread_mutex_lock(&e->rcmu);
            if (e->nrcache > 0) m = e->rcache[--e->nrcache];
            pthread_mutex_unlock(&e->rcmu);
        }
        if (m) {
            if (mdb_txn_renew(m) == 0) {
                t->m = m;
                return ENT_OK;
            }
            mdb_txn_abort(m); /* e.g. MDB_MAP_RESIZED: the ordinary path below handles it */
        }
    }
    for (;;) {
        int mrc = mdb_txn_begin(e->env, NULL, t->write ? 0 : MDB_RDONLY, &t->m);
        if (mrc == 0) return ENT_OK;
        t->m = NULL;
        if (mrc != MDB_MAP_RESIZED) return ent__lmdb_lerr(mrc, "store %s: beginning a transaction", e->path);
        if (ent__lmdb_hold_depth(e) != 1)
            return ent__err(ENT_BUSY, "store %s: the map was grown by another process; end this thread's other "
                                      "transactions to pick it up", e->path);
        int rc = ent__lmdb_resize_exclusive(e, 0);
        if (rc) return rc;
    }
}

/* The write txn hit MDB_MAP_FULL (t->m is broken, or already freed by a failed commit when NULL):
 * grow the map and rebuild the txn from the op log. On failure the txn is dead (t->failed). */
int ent__lmdb_grow(ltxn *t)
{
    lenv *e = t->e;
    MDB_envinfo info;
    int rc = ENT_OK, mrc;
    if (ent__lmdb_hold_depth(e) != 1) {
        rc = ent__err(ENT_BUSY, "store %s: the map is full and cannot grow while this thread holds another transaction",
                      e->path);
        goto fail;
    }
    /* Before the LMDB txn ends and lets its writer mutex go (a commit that hit the full map let
     * it go already, and announced before it began if it could, ent__lmdb_commit_may_fill()). */
    if ((rc = ent__lmdb_grow_announce(e, t->m != NULL || t->pm != NULL))) goto fail;
    ent__lmdb_save_cursors(t);
    if (t->in_sp) {
        mdb_txn_abort(t->pm); /* and its child: no txn of the process may stay across the resize */
        t->pm = NULL;
    } else if (t->m) {
        mdb_txn_abort(t->m);
    }
    t->m = NULL;
    mdb_env_info(e->env, &info);
    size_t size = info.me_mapsize;
    for (;;) {
        if (size > SIZE_MAX / 2) {
            rc = ent__errd(ENT_FULL, ENT_DETAIL_NO_SPACE, "store %s: the map cannot grow beyond %zu bytes", e->path, size);
            goto fail;
        }
        size *= 2;
        if ((rc = ent__lmdb_resize_exclusive(e, size))) goto fail;
        if ((rc = ent__lmdb_txn_begin_mdb(t))) goto fail;
        if (mdb_txn_id(t->m) != t->wid) {
            /* Another commit came in between (a commit past the bound, or a process of a library
             * that locked otherwise): the op log no longer fits the snapshot. */
            rc = ent__err(ENT_BUSY, "store %s: another process committed while this transaction grew the map; "
                                    "nothing was written, retry it", e->path);
            goto fail;
        }
        if (!t->in_sp) {
            mrc = replay(t, 0, e->log.n);
        } else if (!(mrc = replay(t, 0, t->sp_mark))) {
            /* the savepoint again: a child of the rebuilt parent, with its own part of the log */
            MDB_txn *child;
            if ((mrc = mdb_txn_begin(e->env, t->m, 0, &child)) == 0) {
                t->pm = t->m;
                t->m = child;
                mrc = replay(t, t->sp_mark, e->log.n);
                if (mrc) {
                    mdb_txn_abort(t->pm);
                    t->pm = NULL;
                    t->m = NULL;
                    if (mrc == MDB_MAP_FULL) continue;
                }
            }
        }
        if (mrc == MDB_MAP_FULL) {
            mdb_txn_abort(t->m);
            t->m = NULL;
            continue;
        }
        if (mrc) {
            rc = ent__lmdb_lerr(mrc, "store %s: replaying a transaction after growing the map", e->path);
            goto fail;
        }
        break;
    }
    if ((rc = restore_cursors(t))) goto fail;
    return ENT_OK;
fail:
    /* The whole txn is dead, savepoint and all: only abort is left, and LMDB's is done here. */
    if (t->in_sp && t->pm) mdb_txn_abort(t->pm);
    else if (t->m) mdb_txn_abort(t->m);
    t->m = NULL;
    t->pm = NULL;
    t->in_sp = 0;
    ent__lmdb_failed(t, rc);
    return rc;
}

/* ---- change notification ------------------------------------------------------------------ */

/* Waiters across processes. A commit wakes the futex only when nt->waiters says someone waits (a
 * wake per commit otherwise is a needless syscall). A count alone could not tell a waiter killed
 * with SIGKILL from a live one: its +1 stayed in the file for good, one needless wake per commit
 * of every process until the store was made again. So a process counts itself in a slot: it
 * holds an open-file-description lock on the slot's byte (the kernel drops it with the process
 * however that ends; a pid and kill(pid, 0) would take a reused pid, or a process of another PID
 * namespace, for the waiter) and sets the slot's flag while it counts. A flag set with its byte
 * free is a dead waiter's: whoever takes the byte (a waiter claiming the slot, a sweep) finds it
 * so, and while it holds the byte no live process can be changing that flag. Ordering leans to
 * an extra count, never a missing one: a claim counts before it flags, a release unflags before
 * it uncounts (a kill between the two leaves one needless wake, as before, never a waiter that
 * writers skip).
 * One slot per process (its threads share it: OFD locks of one description do not exclude each
 * other). A process that forked while it waited shares the description with its child: the slot
 * stays held until both have closed it (at worst the old needless wake). No free slot, or no OFD
 * locks: counted without a slot, as before. */

static int slot_lock(int fd, int i, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = WAIT_LOCK_BASE + i;
    fl.l_len = 1;
    return fcntl(fd, F_OFD_SETLK, &fl);
}

/* One count less, never below 0 (a damaged file's counts cannot wrap to "always wake" here). */
static void uncount(lnotify *nt)
{
    uint32_t w = atomic_load(&nt->waiters);
    while (w && !atomic_compare_exchange_weak(&nt->waiters, &w, w - 1)) {
    }
}

void ent__lmdb_waiters_sweep(lenv *e, int except)
{
    lnotify *nt = e->nt;
    if (!nt || e->ntfd < 0) return;
    for (int i = 0; i < WAIT_SLOTS; i++) {
        if (i == except || !atomic_load(&nt->slot[i]) || slot_lock(e->ntfd, i, F_WRLCK) < 0) continue;
        if (atomic_load(&nt->slot[i])) { /* flagged, its byte free: its holder died */
            atomic_store(&nt->slot[i], 0);
            uncount(nt);
        }
        slot_lock(e->ntfd, i, F_UNLCK);
    }
}

static void waiter_in(lenv *e)
{
    lnotify *nt = e->nt;
    pthread_mutex_lock(&e->ntmu);
    if (e->nt_local++ == 0) {
        e->nt_slot = -1;
        for (int i = 0; e->ntfd >= 0 && i < WAIT_SLOTS; i++) {
            if (slot_lock(e->ntfd, i, F_WRLCK) == 0) {
                e->nt_slot = i;
                break;
            }
            if (errno != EAGAIN && errno != EACCES) break; /* no OFD locks here: no slots */
        }
        if (e->nt_slot < 0) {
            atomic_fetch_add(&nt->waiters, 1);
        } else {
            /* a dead waiter's slot: its count stands for this process now */
            if (!atomic_load(&nt->slot[e->nt_slot])) {
                atomic_fetch_add(&nt->waiters, 1);
                atomic_store(&nt->slot[e->nt_slot], 1);
            }
            ent__lmdb_waiters_sweep(e, e->nt_slot);
        }
    }
    pthread_mutex_unlock(&e->ntmu);
}

static void waiter_out(lenv *e)
{
    lnotify *nt = e->nt;
    pthread_mutex_lock(&e->ntmu);
    if (--e->nt_local == 0) {
        if (e->nt_slot >= 0) {
            atomic_store(&nt->slot[e->nt_slot], 0);
            uncount(nt);
            slot_lock(e->ntfd, e->nt_slot, F_UNLCK);
            e->nt_slot = -1;
        } else {
            uncount(nt);
        }
    }
    pthread_mutex_unlock(&e->ntmu);
}

uint64_t ent__lmdb_change_counter(ent_bk *vbe)
{
    lbe *be = (lbe *)vbe;
    return be->e->nt ? atomic_load(&be->e->nt->counter) : 0;
}

int ent__lmdb_wait_change(ent_bk *vbe, uint64_t seen, int timeout_ms)
{
    lbe *be = (lbe *)vbe;
    lenv *e = be->e;
    lnotify *nt = e->nt;
    struct timespec now, dl;
    int rc = ENT_OK;
    if (ent__lmdb_forked(e)) return ENT_BUSY;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms > 0) {
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    if (nt && e->nt_writable) waiter_in(e);
    for (;;) {
        uint32_t w = nt ? atomic_load(&nt->word) : 0;
        if (nt && atomic_load(&nt->counter) != seen) break;
        struct timespec rel = {0, 0}, *tp = NULL;
        if (timeout_ms >= 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long long ns = (long long)(dl.tv_sec - now.tv_sec) * 1000000000LL + (dl.tv_nsec - now.tv_nsec);
            if (ns <= 0) {
                rc = ent__err(ENT_TIMEOUT, "store %s: no commit within %d ms", e->path, timeout_ms);
                break;
            }
            rel.tv_sec = ns / 1000000000LL;
            rel.tv_nsec = ns % 1000000000LL;
            tp = &rel;
        }
        /* A handle that cannot register as a waiter (read-only notify file) may miss wakes: it
         * looks again at least every 100 ms. */
        if (!e->nt_writable && (!tp || rel.tv_sec > 0 || rel.tv_nsec > 100000000L)) {
            rel.tv_sec = 0;
            rel.tv_nsec = 100000000L;
            tp = &rel;
        }
        if (nt) {
            syscall(SYS_futex, &nt->word, FUTEX_WAIT, w, tp, NULL, 0);
        } else {
            /* No notify file (read-only, opened before any writer made it): no counter to see
             * move, so the caller looks at the store itself after each step. It slept to its
             * timeout, forever with -1, whatever was committed. */
            nanosleep(tp, NULL);
            break;
        }
    }
    if (nt && e->nt_writable) waiter_out(e);
    return rc;
}
