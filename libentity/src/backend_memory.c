/* The memory backend: ordered tables in RAM with LMDB's isolation, for tests and caches.
 *
 * Each table is a red-black tree (libbsd's intrusive <bsd/sys/tree.h>: ordered, lower-bound search,
 * node stepping) of keys; each key holds a short chain of versions, newest first (multi-version concurrency
 * control). A committed version carries the commit number; the writer's uncommitted one carries
 * its transaction. A reader takes the committed number at begin as its snapshot and sees, per
 * key, the newest version at or below it — so a read transaction keeps one snapshot while a
 * writer works, and an aborted writer just unlinks its versions. Versions no reader can see any
 * more are freed at the next commits.
 *
 * Why not a hand-written persistent tree: the BSD tree is a well-kept library structure with the
 * operations cursors need; versions per key give snapshots without copying tree paths. Why not
 * GLib's GTree (used before): GLib aborts the process when an allocation fails; the intrusive tree
 * allocates nothing, so every allocation is the backend's own and a failed one is ENT_NOMEM with
 * the store as it was before the call (a put reserves everything it needs before it changes
 * anything). One
 * rwlock guards the trees: readers hold it shared for each call, the writer exclusively for each
 * change, so a slow reader never blocks a writer for longer than one call. The lock prefers the
 * writer (m_open): with glibc's default, overlapping readers kept a waiting writer out for good.
 * DUPSORT tables keep one tree node per (key, value) pair.
 *
 * Plain tables also keep a hash of their nodes by key (open addressing, backend_memory_tree.c), so a point look-up or put costs
 * one probe instead of a walk down the tree: at 100k entries the walk (about 17 nodes, each a cache
 * miss) made a get slower than LMDB's (entity bench: 3.3 us vs 1.2 us).
 */
#include "backend_memory_int.h"
#include "fork.h"

/* ---- open / close ------------------------------------------------------------------------ */

static int m_open(ent_bk **out, const char *path, const ent_backend_opts *o)
{
    mstore *s;
    (void)path;
    if (o && o->arg) return ent__err(ENT_INVALID, "the memory backend takes no argument (\"%s\")", o->arg);
    if (!(s = calloc(1, sizeof *s))) return ent__err(ENT_NOMEM, "out of memory");
    /* A memory store stands in for an on-disk one (tests, caches, verify's replay), so it takes
     * exactly the keys every on-disk backend takes: what it holds can be replayed to disk. With
     * no on-disk backend to follow there is no limit. */
    s->max_key = ent__backend_min_key(ENT_BK_CAP_PERSISTENT);
    if (!s->max_key) s->max_key = SIZE_MAX / 2;
    {
        /* Writer-preferring: once the writer waits for the lock, readers that come after it wait
         * too. glibc's default lets them in ahead of it, and readers that overlap (several
         * scanning threads) then keep the writer out indefinitely. A reader holds the lock for
         * one call only, so the writer waits for at most the calls under way. */
        pthread_rwlockattr_t a;
        pthread_rwlockattr_init(&a);
        pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&s->lock, &a);
        pthread_rwlockattr_destroy(&a);
    }
    pthread_mutex_init(&s->wmu, NULL);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->fork_gen = ent__fork_gen();
    *out = (ent_bk *)s;
    return ENT_OK;
}

static void m_close(ent_bk *be)
{
    mstore *s = (mstore *)be;
    if (!s) return;
    for (size_t i = 0; i < s->ntables; i++) ent__mem_table_free(s->tables[i]);
    free(s->tables);
    free(s->gc);
    free(atomic_exchange(&s->spare, NULL));
    /* In a child after fork() a parent's thread that waited (ent_log_wait) is still counted by
     * the copy of `changed`, and glibc's pthread_cond_destroy() waits for it: forever. */
    if (s->fork_gen == ent__fork_gen()) {
        pthread_rwlock_destroy(&s->lock);
        pthread_mutex_destroy(&s->wmu);
        pthread_mutex_destroy(&s->rmu);
        pthread_cond_destroy(&s->changed);
    }
    free(s);
}

/* ---- transactions ------------------------------------------------------------------------ */

static int m_txn_begin(ent_bk *be, int write, ent_btxn **out)
{
    mstore *s = (mstore *)be;
    mtxn *t = atomic_exchange_explicit(&s->spare, NULL, memory_order_acquire); /* zeroed */
    if (!t) t = calloc(1, sizeof *t);
    if (!t) return ent__err(ENT_NOMEM, "out of memory");
    t->s = s;
    t->write = write;
    if (write) pthread_mutex_lock(&s->wmu); /* touched, created: empty arrays, grown by the writes */
    /* Lock order is always lock -> rmu; the snapshot number is published under rmu too, so a
     * reader registers with it without touching the tree lock. */
    pthread_mutex_lock(&s->rmu);
    t->snap = s->committed;
    t->next = s->readers;
    if (s->readers) s->readers->prev = t;
    s->readers = t;
    pthread_mutex_unlock(&s->rmu);
    *out = (ent_btxn *)t;
    return ENT_OK;
}

static void unregister(mtxn *t)
{
    mstore *s = t->s;
    pthread_mutex_lock(&s->rmu);
    if (t->prev) t->prev->next = t->next;
    else s->readers = t->next;
    if (t->next) t->next->prev = t->prev;
    pthread_mutex_unlock(&s->rmu);
}

/* An ended read txn: its struct, zeroed, becomes the spare (no lock: atomic exchanges), else
 * is freed. A get in a read txn of its own then allocates no txn. */
static void read_end(mtxn *t)
{
    mstore *s = t->s;
    mtxn *none = NULL;
    unregister(t);
    memset(t, 0, sizeof *t);
    if (!atomic_compare_exchange_strong_explicit(&s->spare, &none, t, memory_order_release, memory_order_relaxed))
        free(t);
}

static uint64_t oldest_snapshot(mstore *s)
{
    uint64_t min = s->committed;
    pthread_mutex_lock(&s->rmu);
    for (mtxn *r = s->readers; r; r = r->next)
        if (r->snap < min) min = r->snap;
    pthread_mutex_unlock(&s->rmu);
    return min;
}

/* Free versions of n that no snapshot >= min can see; 1 when the node can go entirely. */
static int prune(mnode *n, uint64_t min)
{
    mver *v = n->head;
    /* Keep everything down to the newest committed version at or below min. */
    while (v && (v->owner || v->ver > min)) v = v->older;
    if (!v) return 0;
    while (v->older) {
        mver *o = v->older;
        v->older = o->older;
        free(o);
    }
    return n->head == v && v->dead;
}

/* Collect what the oldest snapshot no longer needs; keep the rest queued. Lock held exclusively. */
static void collect(mstore *s)
{
    uint64_t min = oldest_snapshot(s);
    size_t keep = 0;
    for (size_t i = 0; i < s->ngc; i++) {
        gcitem g = s->gc[i];
        if (prune(g.n, min)) {
            ent__mem_node_remove(g.t, g.n); /* frees n */
        } else if (g.n->head && g.n->head->older) {
            s->gc[keep++] = g; /* an older version is still visible to a reader */
        } else {
            g.n->in_gc = 0;
        }
    }
    s->ngc = keep;
}

static int m_sp_end(ent_btxn *txn, int keep);

static int m_txn_commit(ent_btxn *txn)
{
    mtxn *t = (mtxn *)txn;
    mstore *s = t->s;
    if (!t->write) {
        read_end(t);
        return ENT_OK;
    }
    if (t->in_sp) m_sp_end(txn, 1); /* commit keeps an open savepoint */
    pthread_rwlock_wrlock(&s->lock);
    {
        uint64_t ver = s->committed + 1;
        for (size_t i = 0; i < t->ntouched; i++) {
            gcitem *g = &t->touched[i];
            mver *v = g->n->head;
            v->owner = NULL;
            v->ver = ver;
            /* A node the queue has no room for keeps its old versions (correct, only larger)
             * until a later commit of it queues it: a commit cannot fail once the txn's writes
             * succeeded. */
            if (!g->n->in_gc && (v->older || v->dead) &&
                ent__mem_reserve(&s->gc, &s->capgc, s->ngc + 1, sizeof *s->gc) == 0) {
                g->n->in_gc = 1;
                s->gc[s->ngc++] = *g;
            }
        }
        for (size_t i = 0; i < t->ncreated; i++) {
            mtable *tb = t->created[i];
            tb->owner = NULL;
            tb->created = ver;
        }
        pthread_mutex_lock(&s->rmu);
        s->committed = ver;
        pthread_mutex_unlock(&s->rmu);
    }
    unregister(t);
    collect(s);
    pthread_rwlock_unlock(&s->lock);
    if (t->ntouched) {
        pthread_mutex_lock(&s->rmu);
        s->counter++;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->rmu);
    }
    free(t->touched);
    free(t->created);
    pthread_mutex_unlock(&s->wmu);
    free(t);
    return ENT_OK;
}

static void m_txn_abort(ent_btxn *txn)
{
    mtxn *t = (mtxn *)txn;
    mstore *s;
    if (!t) return;
    s = t->s;
    if (!t->write) {
        read_end(t);
        return;
    }
    pthread_rwlock_wrlock(&s->lock);
    /* Own versions are always the newest: unlink them; drop nodes left without any. */
    for (size_t i = t->ntouched; i-- > 0;) {
        gcitem *g = &t->touched[i];
        mver *v = g->n->head;
        g->n->head = v->older;
        free(v);
        if (!g->n->head) ent__mem_node_remove(g->t, g->n);
    }
    for (size_t i = 0; i < t->ncreated; i++) {
        mtable *tb = t->created[i];
        for (size_t j = 0; j < s->ntables; j++)
            if (s->tables[j] == tb) {
                /* Keep the slot (handles are indexes) but make it a table nobody sees. */
                tb->owner = (mtxn *)(uintptr_t)1;
                free(tb->name);
                tb->name = NULL;
            }
    }
    pthread_rwlock_unlock(&s->lock);
    unregister(t);
    free(t->touched);
    free(t->created);
    pthread_mutex_unlock(&s->wmu);
    free(t);
}

/* ---- savepoints: one level (the group commit runs each caller's work in one, txn_group.c) ---- */

static int m_sp_begin(ent_btxn *txn)
{
    mtxn *t = (mtxn *)txn;
    if (!t->write || t->in_sp) return ent__err(ENT_INVALID, "savepoint: not a write transaction, or one is open already");
    t->in_sp = 1;
    t->sp_touched = t->ntouched;
    t->sp_created = t->ncreated;
    return ENT_OK;
}

static int m_sp_end(ent_btxn *txn, int keep)
{
    mtxn *t = (mtxn *)txn;
    mstore *s = t->s;
    if (!t->in_sp) return ent__err(ENT_INVALID, "savepoint: none is open");
    pthread_rwlock_wrlock(&s->lock);
    if (keep) {
        /* The savepoint's versions become the txn's own; an older own version under one (written
         * before the savepoint) is superseded, and its node keeps its first touched entry. */
        size_t out = t->sp_touched;
        for (size_t i = t->sp_touched; i < t->ntouched; i++) {
            gcitem *g = &t->touched[i];
            mver *v = g->n->head, *o = v->older;
            v->sp = 0;
            if (o && o->owner == t) {
                v->older = o->older;
                free(o);
                continue;
            }
            t->touched[out++] = *g;
        }
        t->ntouched = out;
    } else {
        for (size_t i = t->ntouched; i-- > t->sp_touched;) {
            gcitem *g = &t->touched[i];
            mver *v = g->n->head;
            g->n->head = v->older;
            free(v);
            if (!g->n->head) ent__mem_node_remove(g->t, g->n);
        }
        t->ntouched = t->sp_touched;
        for (size_t i = t->sp_created; i < t->ncreated; i++) {
            mtable *tb = t->created[i];
            tb->owner = (mtxn *)(uintptr_t)1; /* as an abort leaves it: a slot nobody sees */
            free(tb->name);
            tb->name = NULL;
        }
        t->ncreated = t->sp_created;
    }
    t->in_sp = 0;
    pthread_rwlock_unlock(&s->lock);
    return ENT_OK;
}

/* ---- tables ------------------------------------------------------------------------------ */

static int m_table(ent_bk *be, ent_btxn *txn, const char *name, unsigned flags, unsigned *out)
{
    mstore *s = (mstore *)be;
    mtxn *t = (mtxn *)txn;
    mtable *tb;
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < s->ntables; i++) {
        tb = s->tables[i];
        if (tb->name && strcmp(tb->name, name) == 0 && ent__mem_table_visible(tb, t)) {
            pthread_rwlock_unlock(&s->lock);
            *out = (unsigned)i;
            return ENT_OK;
        }
    }
    if (!(flags & ENT_TBL_CREATE)) {
        pthread_rwlock_unlock(&s->lock);
        return ent__err(ENT_NOTFOUND, "no table %s", name);
    }
    if (!t->write) {
        pthread_rwlock_unlock(&s->lock);
        return ent__err(ENT_READONLY, "cannot create table %s in a read transaction", name);
    }
    /* Everything allocated before anything is linked: a failure leaves no trace. */
    if (ent__mem_reserve(&s->tables, &s->captables, s->ntables + 1, sizeof *s->tables) ||
        ent__mem_reserve(&t->created, &t->capcreated, t->ncreated + 1, sizeof *t->created) ||
        !(tb = calloc(1, sizeof *tb))) {
        pthread_rwlock_unlock(&s->lock);
        return ent__err(ENT_NOMEM, "out of memory creating table %s", name);
    }
    if (!(tb->name = strdup(name))) {
        free(tb);
        pthread_rwlock_unlock(&s->lock);
        return ent__err(ENT_NOMEM, "out of memory creating table %s", name);
    }
    tb->flags = flags & ENT_TBL_DUPSORT;
    RB_INIT(&tb->tree);
    tb->hashed = !tb->flags;
    tb->owner = t;
    s->tables[s->ntables] = tb;
    *out = (unsigned)s->ntables++;
    t->created[t->ncreated++] = tb;
    pthread_rwlock_unlock(&s->lock);
    return ENT_OK;
}

/* ---- data -------------------------------------------------------------------------------- */

static int m_get(ent_btxn *txn, unsigned ti, const ent_slice *k, ent_slice *out)
{
    mtxn *t = (mtxn *)txn;
    mtable *tb = tbl(t, ti);
    mnode *n;
    int rc = ENT_NOTFOUND;
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    pthread_rwlock_rdlock(&t->s->lock);
    if (tb->hashed) {
        mver *v;
        n = ent__mem_hash_find(tb, k->data, k->len);
        v = n ? ent__mem_visible(n, t) : NULL;
        if (v) {
            out->data = v->val;
            out->len = v->vlen;
            rc = ENT_OK;
        }
        pthread_rwlock_unlock(&t->s->lock);
        return rc;
    }
    /* DUPSORT: the first value of the key the txn sees */
    for (n = ent__mem_lower(tb, k->data, k->len, NULL, 0); n; n = ent__mem_next(n)) {
        mver *v;
        if (ent__mem_bcmp(n->k, n->klen, k->data, k->len) != 0) break;
        if (!(v = ent__mem_visible(n, t))) continue;
        if (dup_of(tb)) {
            out->data = n->k + n->klen;
            out->len = n->dlen;
        } else {
            out->data = v->val;
            out->len = v->vlen;
        }
        rc = ENT_OK;
        break;
    }
    pthread_rwlock_unlock(&t->s->lock);
    return rc;
}

/* A new version owned by t (uncommitted), not linked yet; NULL when out of memory. */
static mver *new_version(mtxn *t, const void *val, size_t vlen, int dead)
{
    mver *v = malloc(sizeof *v + vlen);
    if (!v) return NULL;
    v->older = NULL;
    v->ver = 0;
    v->owner = t;
    v->dead = dead;
    v->sp = t->in_sp;
    v->vlen = vlen;
    if (vlen) memcpy(v->val, val, vlen);
    return v;
}

/* Put v at the head of node n, replacing t's own version of the same savepoint level. Cannot
 * fail: the caller reserved room for one more touched entry. Lock held exclusively. */
static void link_version(mtxn *t, mtable *tb, mnode *n, mver *v)
{
    if (n->head && n->head->owner == t && n->head->sp == t->in_sp) {
        mver *old = n->head;
        v->older = old->older;
        free(old);
        n->head = v;
        return;
    }
    v->older = n->head;
    n->head = v;
    t->touched[t->ntouched].t = tb;
    t->touched[t->ntouched].n = n;
    t->ntouched++;
}

static int reserve_touched(mtxn *t, size_t more)
{
    return ent__mem_reserve(&t->touched, &t->captouched, t->ntouched + more, sizeof *t->touched);
}

static int m_put(ent_btxn *txn, unsigned ti, const ent_slice *k, const ent_slice *v, unsigned flags)
{
    mtxn *t = (mtxn *)txn;
    mtable *tb = tbl(t, ti);
    int dup = dup_of(tb);
    mnode *n = NULL, *fresh = NULL;
    mver *ver;
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    if (k->len > t->s->max_key)
        return ent__err(ENT_FULL, "key of %zu bytes exceeds the backend limit of %zu", k->len, t->s->max_key);
    if (dup && v->len > t->s->max_key)
        return ent__err(ENT_FULL, "value of %zu bytes exceeds the backend limit of %zu for sorted duplicates", v->len,
                        t->s->max_key);
    pthread_rwlock_wrlock(&t->s->lock);
    if (tb->hashed) {
        n = ent__mem_hash_find(tb, k->data, k->len);
    } else if ((n = ent__mem_lower(tb, k->data, k->len, dup ? v->data : NULL, dup ? v->len : 0)) &&
               ent__mem_pair_cmp(n, k->data, k->len, dup ? v->data : NULL, dup ? v->len : 0) != 0) {
        n = NULL;
    }
    if (n && ent__mem_visible(n, t) && (flags & ENT_PUT_NOOVERWRITE)) {
        pthread_rwlock_unlock(&t->s->lock);
        return ENT_CONFLICT;
    }
    if (n && dup && ent__mem_visible(n, t)) {
        pthread_rwlock_unlock(&t->s->lock); /* the pair exists: nothing to change */
        return ENT_OK;
    }
    /* Allocate all of it first (the hash's room, the node, the version, the touched entry), then
     * link: a failure leaves the table and the txn exactly as they were. */
    if (!n) {
        if (tb->hashed && ent__mem_hash_reserve(tb)) goto nomem;
        /* one allocation for the node and its key (+ dup value) */
        if (!(fresh = malloc(sizeof *fresh + k->len + (dup ? v->len : 0) + 1))) goto nomem;
        memset(fresh, 0, sizeof *fresh);
        fresh->k = (char *)(fresh + 1);
        fresh->klen = k->len;
        memcpy(fresh->k, k->data, k->len);
        if (dup) {
            fresh->dlen = v->len;
            if (v->len) memcpy(fresh->k + k->len, v->data, v->len);
        }
    }
    if (reserve_touched(t, 1) || !(ver = new_version(t, dup ? NULL : v->data, dup ? 0 : v->len, 0))) {
        free(fresh);
        goto nomem;
    }
    if (fresh) ent__mem_node_insert(tb, n = fresh);
    link_version(t, tb, n, ver);
    pthread_rwlock_unlock(&t->s->lock);
    return ENT_OK;
nomem:
    pthread_rwlock_unlock(&t->s->lock);
    return ent__err(ENT_NOMEM, "out of memory writing a key of %zu bytes and a value of %zu", k->len, v->len);
}

/* Mark dead every node from `first` on that the txn sees, while its key is k (k NULL: to the
 * end; one: only `first`). All or nothing: the deletion versions are allocated before any is
 * linked. *found: whether there was one. Lock held exclusively. */
static int kill_nodes(mtxn *t, mtable *tb, mnode *first, const ent_slice *k, int one, int *found)
{
    size_t count = 0;
    mver *pool = NULL, *v;
    mnode *n;
#define KILL_RANGE(n)                                                                                              \
    for (n = first; n && (!k || ent__mem_bcmp(n->k, n->klen, k->data, k->len) == 0); n = one ? NULL : ent__mem_next(n))
    KILL_RANGE(n) if (ent__mem_visible(n, t)) count++;
    *found = count > 0;
    if (!count) return ENT_OK;
    if (reserve_touched(t, count)) return ent__err(ENT_NOMEM, "out of memory deleting %zu keys", count);
    for (size_t i = 0; i < count; i++) {
        if (!(v = new_version(t, NULL, 0, 1))) {
            while (pool) {
                v = pool->older;
                free(pool);
                pool = v;
            }
            return ent__err(ENT_NOMEM, "out of memory deleting %zu keys", count);
        }
        v->older = pool;
        pool = v;
    }
    KILL_RANGE(n) if (ent__mem_visible(n, t)) {
        v = pool;
        pool = v->older;
        link_version(t, tb, n, v);
    }
#undef KILL_RANGE
    return ENT_OK;
}

static int m_del(ent_btxn *txn, unsigned ti, const ent_slice *k, const ent_slice *v)
{
    mtxn *t = (mtxn *)txn;
    mtable *tb = tbl(t, ti);
    int dup = dup_of(tb), found = 0, rc = ENT_OK;
    mnode *n;
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    pthread_rwlock_wrlock(&t->s->lock);
    if (tb->hashed) {
        if ((n = ent__mem_hash_find(tb, k->data, k->len))) rc = kill_nodes(t, tb, n, k, 1, &found);
    } else if (dup && v) {
        n = ent__mem_lower(tb, k->data, k->len, v->data, v->len);
        if (n && ent__mem_pair_cmp(n, k->data, k->len, v->data, v->len) == 0) rc = kill_nodes(t, tb, n, k, 1, &found);
    } else {
        rc = kill_nodes(t, tb, ent__mem_lower(tb, k->data, k->len, NULL, 0), k, 0, &found);
    }
    pthread_rwlock_unlock(&t->s->lock);
    if (rc) return rc;
    return found ? ENT_OK : ENT_NOTFOUND;
}

static int m_clear(ent_btxn *txn, unsigned ti)
{
    mtxn *t = (mtxn *)txn;
    mtable *tb = tbl(t, ti);
    int rc, found;
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    pthread_rwlock_wrlock(&t->s->lock);
    rc = kill_nodes(t, tb, ent__mem_first(tb), NULL, 0, &found);
    pthread_rwlock_unlock(&t->s->lock);
    return rc;
}

/* ---- info, copy, notification ------------------------------------------------------------- */

static int m_info(ent_bk *be, ent_backend_info *out)
{
    mstore *s = (mstore *)be;
    uint64_t nodes = 0;
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->ntables; i++) nodes += s->tables[i]->nnodes;
    pthread_rwlock_unlock(&s->lock);
    out->tables = s->ntables;
    out->used_bytes = nodes * 96; /* rough: node, version and tree overhead */
    return ENT_OK;
}

static uint64_t m_change_counter(ent_bk *be)
{
    mstore *s = (mstore *)be;
    uint64_t c;
    pthread_mutex_lock(&s->rmu);
    c = s->counter;
    pthread_mutex_unlock(&s->rmu);
    return c;
}

static int m_wait_change(ent_bk *be, uint64_t seen, int timeout_ms)
{
    mstore *s = (mstore *)be;
    struct timespec deadline;
    int rc = 0;
    clock_gettime(CLOCK_REALTIME, &deadline);
    if (timeout_ms >= 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
    }
    pthread_mutex_lock(&s->rmu);
    while (s->counter == seen && rc == 0) {
        if (timeout_ms >= 0)
            rc = pthread_cond_timedwait(&s->changed, &s->rmu, &deadline);
        else
            pthread_cond_wait(&s->changed, &s->rmu);
    }
    rc = s->counter != seen ? ENT_OK : ENT_TIMEOUT;
    pthread_mutex_unlock(&s->rmu);
    return rc;
}

static uint64_t m_snapshot_id(ent_btxn *txn)
{
    mtxn *t = (mtxn *)txn;
    return t->snap + 1; /* + 1: the empty store's snapshot 0 is a state too */
}

static void m_limits(ent_bk *be, ent_backend_limits *out)
{
    mstore *s = (mstore *)be;
    out->caps = ent__backend_memory.caps;
    out->max_key = s->max_key;
}

/* No copy (nothing on disk to copy), no durability (nothing to sync: a memory store does not
 * outlive its process anyway), no other process sees it. */
const ent_backend_ops ent__backend_memory = {
    .version = ENT_BACKEND_VERSION,
    .name = "memory",
    .caps = ENT_BK_CAP_VOLATILE | ENT_BK_CAP_SNAPSHOT_ID | ENT_BK_CAP_SAVEPOINT,
    .max_key = 0, /* none of its own: see m_open */
    .open = m_open,
    .close = m_close,
    .limits = m_limits,
    .table = m_table,
    .txn_begin = m_txn_begin,
    .txn_commit = m_txn_commit,
    .txn_abort = m_txn_abort,
    .get = m_get,
    .put = m_put,
    .del = m_del,
    .clear = m_clear,
    .cursor_open = ent__mem_cursor_open,
    .cursor_get = ent__mem_cursor_get,
    .cursor_close = ent__mem_cursor_close,
    .info = m_info,
    .change_counter = m_change_counter,
    .wait_change = m_wait_change,
    .snapshot_id = m_snapshot_id,
    .sp_begin = m_sp_begin,
    .sp_end = m_sp_end,
};
