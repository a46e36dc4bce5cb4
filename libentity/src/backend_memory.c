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
 * anything).
 *
 * One rwlock guards the trees' shape: readers hold it shared for each call; the writer takes it
 * exclusively once per commit, not per change. Each exclusive section waits for the reader calls
 * under way, and on a shared machine a reader preempted inside its call makes that a scheduler
 * time slice: with it taken for every put and delete (six times per single-call update) a
 * writer beside three scanning readers on two cores made under 1 k updates/s against LMDB's
 * 50 k (README, "A writer beside scanning readers"). So the writer changes, without the lock,
 * only what readers can meet safely: it links its own versions onto existing nodes with atomic
 * stores (a reader skips a version it does not own and not yet committed), keeps the versions it
 * replaces until its next exclusive section instead of freeing them, and keeps its new nodes out
 * of the trees (mstore.pend, found by its own look-ups) until then. The commit's section inserts
 * them, stamps the versions with the commit number and collects old versions. The writer reads
 * without the lock at all: it is the only thread that changes anything. The lock prefers the
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
    if (!(s->pend = malloc(PEND_MAX * sizeof *s->pend))) {
        free(s);
        return ent__err(ENT_NOMEM, "out of memory");
    }
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
    {
        /* Waits measure the monotonic clock: on the wall clock a step back (NTP, an operator's
         * date) made a 50 ms ent_log_wait() sleep as long as the step. */
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->changed, &ca);
        pthread_condattr_destroy(&ca);
    }
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
    free(s->by_name);
    free(s->gc);
    for (size_t i = 0; i < s->nretired; i++) free(s->retired[i]);
    free(s->retired);
    free(s->pend);
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

/* Collect what the oldest snapshot no longer needs; keep the rest queued. Lock held exclusively.
 *
 * The queue's first gc_checked entries were checked against the same oldest snapshot by an
 * earlier collection and kept: a commit adds only versions newer than that snapshot, so they have
 * nothing more to free until it moves, and are not walked again. Walking the whole queue at every
 * commit cost a single-call update ~900 k instructions (50 times its own work, inside the commit's
 * exclusive section) while one old snapshot kept 20 000 deleted entities' versions. (An abort can
 * leave a queued dead node's version at its head again; it is then removed once the snapshot
 * moves, not at once.) */
static void collect(mstore *s)
{
    uint64_t min = oldest_snapshot(s);
    size_t keep = min == s->gc_min ? s->gc_checked : 0;
    s->gc_walked += s->ngc - keep;
    for (size_t i = keep; i < s->ngc; i++) {
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
    s->gc_min = min;
    s->gc_checked = keep;
}

/* ---- the writer's exclusive sections ---------------------------------------------------- */

/* A DUPSORT node's hash: of its key and dup value, compared before the bytes when the writer
 * searches its new nodes (a plain table's nodes carry their key's keyed hash, which its hash
 * table uses). Unkeyed FNV-1a: it only filters the writer's at most PEND_MAX new nodes, so keys
 * crafted to share it cost at most that many comparisons, and the keyed hash cost every index
 * entry's put more (callgrind). */
static uint32_t pair_hash(const void *k, size_t klen, const void *d, size_t dlen)
{
    const uint8_t *p = k;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < klen; i++) h = (h ^ p[i]) * 16777619u;
    for (p = d; dlen--; p++) h = (h ^ *p) * 16777619u;
    return h;
}

/* Lock held exclusively: insert the txn's new nodes (their hash room was reserved when each was
 * made) and free the versions it replaced (no reader is inside a call, and none can reach them
 * any more). */
static void x_settle(mtxn *t)
{
    mstore *s = t->s;
    for (size_t i = 0; i < s->npend; i++) {
        s->pend[i].t->npend = 0;
        ent__mem_node_insert(s->pend[i].t, s->pend[i].n);
    }
    s->npend = 0;
    for (size_t i = 0; i < s->nretired; i++) free(s->retired[i]);
    s->nretired = 0;
}

/* An exclusive section of its own, for a look-up that needs every node of the txn in the trees
 * (a range, a cursor). */
void ent__mem_flush(mtxn *t)
{
    pthread_rwlock_wrlock(&t->s->lock);
    x_settle(t);
    pthread_rwlock_unlock(&t->s->lock);
}

/* The new node of the writer with this key (and dup value, whose pair_hash is h) in table tb,
 * or NULL. */
static mnode *pend_find(mtxn *t, const mtable *tb, const void *k, size_t klen, const void *d, size_t dlen, uint32_t h)
{
    for (size_t i = t->s->npend; i-- > 0;) {
        const gcitem *p = &t->s->pend[i];
        if (p->t == tb && p->n->hash == h && ent__mem_pair_cmp(p->n, k, klen, d, dlen) == 0) return p->n;
    }
    return NULL;
}

/* The node of (k, d) in tb as the writer sees it, among its new nodes too, or NULL. In a plain
 * table *hv is set to the key's hash (a put that makes a node hashes its key once), when hv is
 * not NULL. */
static mnode *w_find_h(mtxn *t, mtable *tb, const void *k, size_t klen, const void *d, size_t dlen, uint32_t *hv)
{
    mnode *n;
    if (tb->hashed) {
        uint32_t h = ent__mem_key_hash(k, klen);
        if (hv) *hv = h;
        if ((n = ent__mem_hash_find_h(tb, k, klen, h)) || !tb->npend) return n;
        return pend_find(t, tb, k, klen, NULL, 0, h);
    }
    if ((n = ent__mem_lower(tb, k, klen, d, dlen)) && ent__mem_pair_cmp(n, k, klen, d, dlen) == 0) return n;
    return tb->npend ? pend_find(t, tb, k, klen, d, dlen, pair_hash(k, klen, d, dlen)) : NULL;
}

static mnode *w_find(mtxn *t, mtable *tb, const void *k, size_t klen, const void *d, size_t dlen)
{
    return w_find_h(t, tb, k, klen, d, dlen, NULL);
}

/* A version the writer unlinked: a reader inside a call may still be on it. */
static void retire(mstore *s, mver *v)
{
    s->retired[s->nretired++] = v; /* room reserved by the caller */
}

static int reserve_retired(mstore *s, size_t more)
{
    return ent__mem_reserve(&s->retired, &s->capretired, s->nretired + more, sizeof *s->retired);
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
    if (!t->ntouched && !t->ncreated) { /* nothing to publish (t made no node nor version) */
        unregister(t);
        goto done;
    }
    pthread_rwlock_wrlock(&s->lock);
    x_settle(t);
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
done:
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
    x_settle(t); /* its new nodes in the trees, to be dropped with the rest */
    /* Own versions are always the newest: unlink them; drop nodes left without any. */
    for (size_t i = t->ntouched; i-- > 0;) {
        gcitem *g = &t->touched[i];
        mver *v = g->n->head;
        g->n->head = v->older;
        free(v);
        if (!g->n->head) ent__mem_node_remove(g->t, g->n);
    }
    for (size_t i = 0; i < t->ncreated; i++) {
        /* Keep the slot (handles are indexes) but make it a table nobody sees. Every created table
         * is in the list (linked when made): no search for it (a scan of the list per table made
         * aborting an open of thousands of types quadratic). */
        mtable *tb = t->created[i];
        tb->owner = (mtxn *)(uintptr_t)1;
        free(tb->name);
        tb->name = NULL;
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
    if (keep) {
        /* The savepoint's versions become the txn's own; an older own version under one (written
         * before the savepoint) is superseded, and its node keeps its first touched entry. This
         * changes no tree, so it runs beside readers: a superseded version is unlinked with an
         * atomic store and retired, or, with no room to retire it, freed under the lock. */
        size_t out = t->sp_touched;
        int locked = reserve_retired(s, t->ntouched - t->sp_touched) != 0;
        if (locked) pthread_rwlock_wrlock(&s->lock);
        for (size_t i = t->sp_touched; i < t->ntouched; i++) {
            gcitem *g = &t->touched[i];
            mver *v = atomic_load_explicit(&g->n->head, memory_order_relaxed);
            mver *o = atomic_load_explicit(&v->older, memory_order_relaxed);
            v->sp = 0;
            if (o && o->owner == t) {
                atomic_store_explicit(&v->older, atomic_load_explicit(&o->older, memory_order_relaxed),
                                      memory_order_release);
                if (locked) free(o);
                else retire(s, o);
                continue;
            }
            t->touched[out++] = *g;
        }
        t->ntouched = out;
        if (locked) pthread_rwlock_unlock(&s->lock);
    } else {
        pthread_rwlock_wrlock(&s->lock);
        x_settle(t); /* its new nodes in the trees, to be dropped with the rest */
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
        pthread_rwlock_unlock(&s->lock);
    }
    t->in_sp = 0;
    return ENT_OK;
}

/* ---- tables ------------------------------------------------------------------------------ */

static size_t name_start(const char *name, unsigned bits)
{
    uint64_t h = ent__mem_key_hash(name, strlen(name));
    return (size_t)((h * 0x9E3779B97F4A7C15u) >> (64 - bits));
}

/* Place tables[i] in tab (2^bits slots). */
static void name_put(uint32_t *tab, unsigned bits, const char *name, size_t i)
{
    size_t mask = ((size_t)1 << bits) - 1, at = name_start(name, bits);
    while (tab[at]) at = (at + 1) & mask;
    tab[at] = (uint32_t)i + 1;
}

/* Room in s->by_name for one more table (called under the write lock, before anything is linked):
 * a new table, at most half full, over the tables that have a name, in index order. */
static int names_reserve(mstore *s)
{
    unsigned bits = 3;
    uint32_t *tab;
    if (s->by_name && 2 * (s->ntables + 1) <= ((size_t)1 << s->by_name_bits)) return ENT_OK;
    while (((size_t)1 << bits) < 4 * (s->ntables + 1)) bits++;
    if (!(tab = calloc((size_t)1 << bits, sizeof *tab))) return ENT_NOMEM;
    for (size_t i = 0; i < s->ntables; i++)
        if (s->tables[i]->name) name_put(tab, bits, s->tables[i]->name, i);
    free(s->by_name);
    s->by_name = tab;
    s->by_name_bits = bits;
    return ENT_OK;
}

static int m_table(ent_bk *be, ent_btxn *txn, const char *name, unsigned flags, unsigned *out)
{
    mstore *s = (mstore *)be;
    mtxn *t = (mtxn *)txn;
    mtable *tb;
    /* The writer looks without the lock (it alone changes the list), readers under it. */
    if (!t->write) pthread_rwlock_rdlock(&s->lock);
    if (s->by_name) {
        size_t mask = ((size_t)1 << s->by_name_bits) - 1;
        for (size_t at = name_start(name, s->by_name_bits); s->by_name[at]; at = (at + 1) & mask) {
            size_t i = s->by_name[at] - 1;
            tb = s->tables[i];
            if (t->write) s->name_probes++; /* readers share the store: they leave it alone */
            if (tb->name && strcmp(tb->name, name) == 0 && ent__mem_table_visible(tb, t)) {
                if (!t->write) pthread_rwlock_unlock(&s->lock);
                *out = (unsigned)i;
                return ENT_OK;
            }
        }
    }
    if (!t->write) pthread_rwlock_unlock(&s->lock);
    if (!(flags & ENT_TBL_CREATE)) return ent__err(ENT_NOTFOUND, "no table %s", name);
    if (!t->write) return ent__err(ENT_READONLY, "cannot create table %s in a read transaction", name);
    /* Everything allocated before anything is linked: a failure leaves no trace. The table list
     * may move (realloc): readers index it under the lock. */
    pthread_rwlock_wrlock(&s->lock);
    if (ent__mem_reserve(&s->tables, &s->captables, s->ntables + 1, sizeof *s->tables) ||
        ent__mem_reserve(&t->created, &t->capcreated, t->ncreated + 1, sizeof *t->created) ||
        names_reserve(s) ||
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
    name_put(s->by_name, s->by_name_bits, tb->name, s->ntables);
    *out = (unsigned)s->ntables++;
    t->created[t->ncreated++] = tb;
    pthread_rwlock_unlock(&s->lock);
    return ENT_OK;
}

/* ---- data -------------------------------------------------------------------------------- */

static int m_get(ent_btxn *txn, unsigned ti, const ent_slice *k, ent_slice *out)
{
    mtxn *t = (mtxn *)txn;
    mtable *tb;
    mnode *n;
    int rc = ENT_NOTFOUND;
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    if (!t->write) pthread_rwlock_rdlock(&t->s->lock); /* the writer is the only one changing trees */
    tb = tbl(t, ti);
    if (tb->hashed) {
        mver *v;
        n = t->write ? w_find(t, tb, k->data, k->len, NULL, 0) : ent__mem_hash_find(tb, k->data, k->len);
        v = n ? ent__mem_visible(n, t) : NULL;
        if (v) {
            out->data = v->val;
            out->len = v->vlen;
            rc = ENT_OK;
        }
        goto out;
    }
    if (t->write && tb->npend) ent__mem_flush(t); /* the first pair of the key may be a new node */
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
out:
    if (!t->write) pthread_rwlock_unlock(&t->s->lock);
    return rc;
}

/* A new version owned by t (uncommitted), not linked yet; NULL when out of memory. */
static mver *new_version(mtxn *t, const void *val, size_t vlen, int dead)
{
    mver *v = malloc(sizeof *v + vlen);
    if (!v) return NULL;
    atomic_init(&v->older, NULL);
    v->ver = 0;
    v->owner = t;
    v->dead = dead;
    v->sp = t->in_sp;
    v->vlen = vlen;
    if (vlen) memcpy(v->val, val, vlen);
    return v;
}

/* Put v at the head of node n, replacing t's own version of the same savepoint level. Cannot
 * fail: the caller reserved room for one more touched and one more retired entry. Runs beside
 * readers: v is complete before the release store makes it reachable, and the version it
 * replaces is retired, not freed. */
static void link_version(mtxn *t, mtable *tb, mnode *n, mver *v)
{
    mver *head = atomic_load_explicit(&n->head, memory_order_relaxed);
    if (head && head->owner == t && head->sp == t->in_sp) {
        atomic_store_explicit(&v->older, atomic_load_explicit(&head->older, memory_order_relaxed),
                              memory_order_relaxed);
        atomic_store_explicit(&n->head, v, memory_order_release);
        retire(t->s, head);
        return;
    }
    atomic_store_explicit(&v->older, head, memory_order_relaxed);
    atomic_store_explicit(&n->head, v, memory_order_release);
    t->touched[t->ntouched].t = tb;
    t->touched[t->ntouched].n = n;
    t->ntouched++;
}

static int reserve_touched(mtxn *t, size_t more)
{
    mstore *s = t->s;
    if (t->ntouched + more <= t->captouched && s->nretired + more <= s->capretired) return 0;
    return ent__mem_reserve(&t->touched, &t->captouched, t->ntouched + more, sizeof *t->touched) ||
           reserve_retired(s, more);
}

/* Room for one more new node of the writer in tb: its place in s->pend, and in tb's hash for
 * when it is inserted (growing the hash moves its slots: an exclusive section, which inserts
 * the new nodes made so far too). -1 when out of memory. */
static int reserve_pend(mtxn *t, mtable *tb)
{
    mstore *s = t->s;
    if (t->s->npend >= PEND_MAX) ent__mem_flush(t);
    if (tb->hashed && (tb->hash.n + tb->npend + 1) * 2 > tb->hash.cap) {
        int rc;
        pthread_rwlock_wrlock(&s->lock);
        rc = ent__mem_hash_reserve(tb, tb->npend + 1);
        if (!rc) x_settle(t);
        pthread_rwlock_unlock(&s->lock);
        if (rc) return -1;
    }
    return 0;
}

static int m_put(ent_btxn *txn, unsigned ti, const ent_slice *k, const ent_slice *v, unsigned flags)
{
    mtxn *t = (mtxn *)txn;
    mtable *tb;
    int dup;
    mnode *n = NULL, *fresh = NULL;
    mver *ver;
    uint32_t h = 0;
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    tb = tbl(t, ti); /* (the writer's: a reader indexes the list under the lock) */
    dup = dup_of(tb);
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    if (k->len > t->s->max_key)
        return ent__errd(ENT_FULL, ENT_DETAIL_TOO_LARGE, "key of %zu bytes exceeds the backend limit of %zu", k->len,
                         t->s->max_key);
    if (dup && v->len > t->s->max_key)
        return ent__errd(ENT_FULL, ENT_DETAIL_TOO_LARGE, "value of %zu bytes exceeds the backend limit of %zu for sorted duplicates", v->len,
                        t->s->max_key);
    /* No lock: the writer alone changes trees, and what it changes here readers meet safely. */
    n = w_find_h(t, tb, k->data, k->len, dup ? v->data : NULL, dup ? v->len : 0, &h);
    if (n && ent__mem_visible(n, t) && (flags & ENT_PUT_NOOVERWRITE)) return ENT_CONFLICT;
    if (n && dup && ent__mem_visible(n, t)) return ENT_OK; /* the pair exists: nothing to change */
    /* Allocate all of it first (the hash's room, the node, the version, the touched entry), then
     * link: a failure leaves the table and the txn exactly as they were. */
    if (!n) {
        if (reserve_pend(t, tb)) goto nomem;
        /* one allocation for the node and its key (+ dup value) */
        if (!(fresh = malloc(sizeof *fresh + k->len + (dup ? v->len : 0) + 1))) goto nomem;
        memset(fresh, 0, sizeof *fresh);
        atomic_init(&fresh->head, NULL);
        fresh->k = (char *)(fresh + 1);
        fresh->klen = k->len;
        memcpy(fresh->k, k->data, k->len);
        if (dup) {
            fresh->dlen = v->len;
            if (v->len) memcpy(fresh->k + k->len, v->data, v->len);
        }
        fresh->hash = tb->hashed ? h : pair_hash(k->data, k->len, v->data, v->len);
    }
    if (reserve_touched(t, 1) || !(ver = new_version(t, dup ? NULL : v->data, dup ? 0 : v->len, 0))) {
        free(fresh);
        goto nomem;
    }
    if (fresh) { /* in no tree until the txn's next exclusive section: no reader can reach it */
        t->s->pend[t->s->npend].t = tb;
        t->s->pend[t->s->npend++].n = n = fresh;
        tb->npend++;
    }
    link_version(t, tb, n, ver);
    return ENT_OK;
nomem:
    return ent__err(ENT_NOMEM, "out of memory writing a key of %zu bytes and a value of %zu", k->len, v->len);
}

/* Mark dead every node from `first` on that the txn sees, while its key is k (k NULL: to the
 * end; one: only `first`, which may be a new node of the txn). All or nothing: the deletion
 * versions are allocated before any is linked. *found: whether there was one. No lock: it only
 * links versions (a range walks the tree, where the caller put the txn's new nodes first). */
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
                v = atomic_load_explicit(&pool->older, memory_order_relaxed);
                free(pool);
                pool = v;
            }
            return ent__err(ENT_NOMEM, "out of memory deleting %zu keys", count);
        }
        atomic_store_explicit(&v->older, pool, memory_order_relaxed);
        pool = v;
    }
    KILL_RANGE(n) if (ent__mem_visible(n, t)) {
        v = pool;
        pool = atomic_load_explicit(&v->older, memory_order_relaxed);
        link_version(t, tb, n, v);
    }
#undef KILL_RANGE
    return ENT_OK;
}

static int m_del(ent_btxn *txn, unsigned ti, const ent_slice *k, const ent_slice *v)
{
    mtxn *t = (mtxn *)txn;
    mtable *tb;
    int dup, found = 0, rc = ENT_OK;
    mnode *n;
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    tb = tbl(t, ti);
    dup = dup_of(tb);
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    if (tb->hashed) {
        if ((n = w_find(t, tb, k->data, k->len, NULL, 0))) rc = kill_nodes(t, tb, n, k, 1, &found);
    } else if (dup && v) {
        if ((n = w_find(t, tb, k->data, k->len, v->data, v->len))) rc = kill_nodes(t, tb, n, k, 1, &found);
    } else {
        if (tb->npend) ent__mem_flush(t); /* every pair of the key in the tree */
        rc = kill_nodes(t, tb, ent__mem_lower(tb, k->data, k->len, NULL, 0), k, 0, &found);
    }
    if (rc) return rc;
    return found ? ENT_OK : ENT_NOTFOUND;
}

static int m_clear(ent_btxn *txn, unsigned ti)
{
    mtxn *t = (mtxn *)txn;
    mtable *tb;
    int found;
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    tb = tbl(t, ti);
    if (tb->npend) ent__mem_flush(t);
    return kill_nodes(t, tb, ent__mem_first(tb), NULL, 0, &found);
}

/* ---- info, copy, notification ------------------------------------------------------------- */

static int m_info(ent_bk *be, ent_backend_info *out)
{
    mstore *s = (mstore *)be;
    uint64_t nodes = 0, tables = 0;
    memset(out, 0, sizeof *out);
    /* The list and its count change under the lock (m_table): read both inside it. Tables
     * committed only, as the seam says: not one a writer is making, nor the slot an abort left. */
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->ntables; i++) {
        nodes += s->tables[i]->nnodes;
        tables += s->tables[i]->name && !s->tables[i]->owner;
    }
    pthread_rwlock_unlock(&s->lock);
    out->tables = tables;
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
    clock_gettime(CLOCK_MONOTONIC, &deadline); /* the clock of s->changed */
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
