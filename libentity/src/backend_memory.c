/* The memory backend: ordered tables in RAM with LMDB's isolation, for tests and caches.
 *
 * Each table is a GLib balanced tree (GTree: ordered, with lower-bound search and node stepping)
 * of keys; each key holds a short chain of versions, newest first (multi-version concurrency
 * control). A committed version carries the commit number; the writer's uncommitted one carries
 * its transaction. A reader takes the committed number at begin as its snapshot and sees, per
 * key, the newest version at or below it — so a read transaction keeps one snapshot while a
 * writer works, and an aborted writer just unlinks its versions. Versions no reader can see any
 * more are freed at the next commits.
 *
 * Why not a hand-written persistent tree: GTree is a well-kept library structure with the
 * operations cursors need; versions per key give snapshots without copying tree paths. One
 * rwlock guards the trees: readers hold it shared for each call, the writer exclusively for each
 * change, so a slow reader never blocks a writer for longer than one call. The lock prefers the
 * writer (m_open): with glibc's default, overlapping readers kept a waiting writer out for good.
 * DUPSORT tables keep one tree node per (key, value) pair.
 *
 * Plain tables also keep a hash of their nodes by key (GHashTable), so a point look-up or put costs
 * one probe instead of a walk down the tree: at 100k entries the walk (about 17 nodes, each a cache
 * miss) made a get slower than LMDB's (entity bench: 3.3 us vs 1.2 us).
 */
#include "backend_memory_int.h"

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
    s->gc = g_ptr_array_new_with_free_func(free);
    *out = (ent_bk *)s;
    return ENT_OK;
}

static void m_close(ent_bk *be)
{
    mstore *s = (mstore *)be;
    if (!s) return;
    for (size_t i = 0; i < s->ntables; i++) {
        if (s->tables[i]->hash) g_hash_table_destroy(s->tables[i]->hash);
        g_tree_destroy(s->tables[i]->tree);
        free(s->tables[i]->name);
        free(s->tables[i]);
    }
    free(s->tables);
    g_ptr_array_free(s->gc, TRUE);
    free(atomic_exchange(&s->spare, NULL));
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->wmu);
    pthread_mutex_destroy(&s->rmu);
    pthread_cond_destroy(&s->changed);
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
    if (write) {
        pthread_mutex_lock(&s->wmu);
        t->touched = g_array_new(FALSE, FALSE, sizeof(gcitem));
        t->created = g_ptr_array_new();
    }
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
    guint keep = 0;
    for (guint i = 0; i < s->gc->len; i++) {
        gcitem *g = g_ptr_array_index(s->gc, i);
        mnode *n = g->n;
        if (prune(n, min)) {
            ent__mem_node_remove(g->t, n); /* frees n */
            free(g);
        } else if (n->head && n->head->older) {
            s->gc->pdata[keep++] = g; /* an older version is still visible to a reader */
        } else {
            n->in_gc = 0;
            free(g);
        }
    }
    s->gc->len = keep;
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
        for (guint i = 0; i < t->touched->len; i++) {
            gcitem *g = &g_array_index(t->touched, gcitem, i);
            mver *v = g->n->head;
            v->owner = NULL;
            v->ver = ver;
            if (!g->n->in_gc && (v->older || v->dead)) {
                gcitem *q = malloc(sizeof *q);
                if (q) {
                    *q = *g;
                    g->n->in_gc = 1;
                    g_ptr_array_add(s->gc, q);
                }
            }
        }
        for (guint i = 0; i < t->created->len; i++) {
            mtable *tb = g_ptr_array_index(t->created, i);
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
    if (t->touched->len) {
        pthread_mutex_lock(&s->rmu);
        s->counter++;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->rmu);
    }
    g_array_free(t->touched, TRUE);
    g_ptr_array_free(t->created, TRUE);
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
    for (guint i = t->touched->len; i-- > 0;) {
        gcitem *g = &g_array_index(t->touched, gcitem, i);
        mver *v = g->n->head;
        g->n->head = v->older;
        free(v);
        if (!g->n->head) ent__mem_node_remove(g->t, g->n);
    }
    for (guint i = 0; i < t->created->len; i++) {
        mtable *tb = g_ptr_array_index(t->created, i);
        for (size_t j = 0; j < s->ntables; j++)
            if (s->tables[j] == tb) {
                /* Keep the slot (handles are indexes) but make it a table nobody sees. */
                tb->owner = (mtxn *)(uintptr_t)1;
                g_free(tb->name);
                tb->name = NULL;
            }
    }
    pthread_rwlock_unlock(&s->lock);
    unregister(t);
    g_array_free(t->touched, TRUE);
    g_ptr_array_free(t->created, TRUE);
    pthread_mutex_unlock(&s->wmu);
    free(t);
}

/* ---- savepoints: one level (the group commit runs each caller's work in one, txn_group.c) ---- */

static int m_sp_begin(ent_btxn *txn)
{
    mtxn *t = (mtxn *)txn;
    if (!t->write || t->in_sp) return ent__err(ENT_INVALID, "savepoint: not a write transaction, or one is open already");
    t->in_sp = 1;
    t->sp_touched = t->touched->len;
    t->sp_created = t->created->len;
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
        guint out = t->sp_touched;
        for (guint i = t->sp_touched; i < t->touched->len; i++) {
            gcitem *g = &g_array_index(t->touched, gcitem, i);
            mver *v = g->n->head, *o = v->older;
            v->sp = 0;
            if (o && o->owner == t) {
                v->older = o->older;
                free(o);
                continue;
            }
            g_array_index(t->touched, gcitem, out++) = *g;
        }
        g_array_set_size(t->touched, out);
    } else {
        for (guint i = t->touched->len; i-- > t->sp_touched;) {
            gcitem *g = &g_array_index(t->touched, gcitem, i);
            mver *v = g->n->head;
            g->n->head = v->older;
            free(v);
            if (!g->n->head) ent__mem_node_remove(g->t, g->n);
        }
        g_array_set_size(t->touched, t->sp_touched);
        for (guint i = t->sp_created; i < t->created->len; i++) {
            mtable *tb = g_ptr_array_index(t->created, i);
            tb->owner = (mtxn *)(uintptr_t)1; /* as an abort leaves it: a slot nobody sees */
            g_free(tb->name);
            tb->name = NULL;
        }
        g_ptr_array_set_size(t->created, t->sp_created);
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
    if (s->ntables == s->captables) {
        size_t nc = s->captables ? s->captables * 2 : 16;
        mtable **n = realloc(s->tables, nc * sizeof *n);
        if (!n) {
            pthread_rwlock_unlock(&s->lock);
            return ent__err(ENT_NOMEM, "out of memory");
        }
        s->tables = n;
        s->captables = nc;
    }
    tb = calloc(1, sizeof *tb);
    if (!tb || !(tb->name = g_strdup(name))) {
        free(tb);
        pthread_rwlock_unlock(&s->lock);
        return ent__err(ENT_NOMEM, "out of memory");
    }
    tb->flags = flags & ENT_TBL_DUPSORT;
    tb->tree = g_tree_new_full(ent__mem_node_cmp, NULL, ent__mem_node_free, NULL);
    if (!tb->flags) tb->hash = g_hash_table_new(ent__mem_node_hash, ent__mem_node_eq);
    tb->owner = t;
    s->tables[s->ntables] = tb;
    *out = (unsigned)s->ntables++;
    g_ptr_array_add(t->created, tb);
    pthread_rwlock_unlock(&s->lock);
    return ENT_OK;
}

/* ---- data -------------------------------------------------------------------------------- */




static int m_get(ent_btxn *txn, unsigned ti, const ent_slice *k, ent_slice *out)
{
    mtxn *t = (mtxn *)txn;
    mtable *tb = tbl(t, ti);
    GTreeNode *gn;
    int rc = ENT_NOTFOUND;
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    pthread_rwlock_rdlock(&t->s->lock);
    if (tb->hash) {
        mnode *n = ent__mem_hash_find(tb, k->data, k->len);
        mver *v = n ? ent__mem_visible(n, t) : NULL;
        if (v) {
            out->data = v->val;
            out->len = v->vlen;
            rc = ENT_OK;
        }
        pthread_rwlock_unlock(&t->s->lock);
        return rc;
    }
    for (gn = ent__mem_lower(tb, k->data, k->len, NULL, 0); gn; gn = g_tree_node_next(gn)) {
        mnode *n = g_tree_node_key(gn);
        mver *v;
        if (ent__mem_bcmp(n->k, n->klen, k->data, k->len) != 0) break;
        if (!(v = ent__mem_visible(n, t))) {
            if (!dup_of(tb)) break;
            continue;
        }
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

/* Add a version owned by t at the head of node n (replacing t's own one). Lock held. */
static int add_version(mtxn *t, mtable *tb, mnode *n, const void *val, size_t vlen, int dead)
{
    mver *v = malloc(sizeof *v + vlen);
    if (!v) return ent__err(ENT_NOMEM, "out of memory");
    v->ver = 0;
    v->owner = t;
    v->dead = dead;
    v->sp = t->in_sp;
    v->vlen = vlen;
    if (vlen) memcpy(v->val, val, vlen);
    if (n->head && n->head->owner == t && n->head->sp == t->in_sp) {
        mver *old = n->head;
        v->older = old->older;
        free(old);
        n->head = v;
        return ENT_OK;
    }
    v->older = n->head;
    n->head = v;
    {
        gcitem g;
        g.t = tb;
        g.n = n;
        g_array_append_val(t->touched, g); /* GLib aborts on out of memory, as for GTree nodes */
    }
    return ENT_OK;
}

static int m_put(ent_btxn *txn, unsigned ti, const ent_slice *k, const ent_slice *v, unsigned flags)
{
    mtxn *t = (mtxn *)txn;
    mtable *tb = tbl(t, ti);
    int dup = dup_of(tb), rc;
    GTreeNode *gn;
    mnode *n = NULL;
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    if (k->len > t->s->max_key)
        return ent__err(ENT_FULL, "key of %zu bytes exceeds the backend limit of %zu", k->len, t->s->max_key);
    if (dup && v->len > t->s->max_key)
        return ent__err(ENT_FULL, "value of %zu bytes exceeds the backend limit of %zu for sorted duplicates", v->len,
                        t->s->max_key);
    pthread_rwlock_wrlock(&t->s->lock);
    if (tb->hash) {
        n = ent__mem_hash_find(tb, k->data, k->len);
    } else if ((gn = ent__mem_lower(tb, k->data, k->len, dup ? v->data : NULL, dup ? v->len : 0))) {
        mnode *c = g_tree_node_key(gn);
        if (ent__mem_bcmp(c->k, c->klen, k->data, k->len) == 0 &&
            (!dup || ent__mem_bcmp(c->k + c->klen, c->dlen, v->data, v->len) == 0))
            n = c;
    }
    if (n && ent__mem_visible(n, t) && (flags & ENT_PUT_NOOVERWRITE)) {
        pthread_rwlock_unlock(&t->s->lock);
        return ENT_CONFLICT;
    }
    if (n && dup && ent__mem_visible(n, t)) {
        pthread_rwlock_unlock(&t->s->lock); /* the pair exists: nothing to change */
        return ENT_OK;
    }
    if (!n) {
        /* one allocation for the node and its key (+ dup value) */
        n = malloc(sizeof *n + k->len + (dup ? v->len : 0) + 1);
        if (!n) {
            pthread_rwlock_unlock(&t->s->lock);
            return ent__err(ENT_NOMEM, "out of memory");
        }
        memset(n, 0, sizeof *n);
        n->k = (char *)(n + 1);
        n->klen = k->len;
        memcpy(n->k, k->data, k->len);
        if (dup) {
            n->dlen = v->len;
            if (v->len) memcpy(n->k + k->len, v->data, v->len);
        }
        g_tree_insert(tb->tree, n, n);
        if (tb->hash) g_hash_table_add(tb->hash, n);
        tb->mods++;
    }
    rc = add_version(t, tb, n, dup ? NULL : v->data, dup ? 0 : v->len, 0);
    if (rc && !n->head) ent__mem_node_remove(tb, n);
    pthread_rwlock_unlock(&t->s->lock);
    return rc;
}

static int m_del(ent_btxn *txn, unsigned ti, const ent_slice *k, const ent_slice *v)
{
    mtxn *t = (mtxn *)txn;
    mtable *tb = tbl(t, ti);
    int dup = dup_of(tb), found = 0, rc = ENT_OK;
    GTreeNode *gn;
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    pthread_rwlock_wrlock(&t->s->lock);
    if (tb->hash) {
        mnode *n = ent__mem_hash_find(tb, k->data, k->len);
        if (n && ent__mem_visible(n, t)) {
            rc = add_version(t, tb, n, NULL, 0, 1);
            found = 1;
        }
        gn = NULL;
    } else {
        gn = ent__mem_lower(tb, k->data, k->len, dup && v ? v->data : NULL, dup && v ? v->len : 0);
    }
    for (; gn && rc == ENT_OK; gn = g_tree_node_next(gn)) {
        mnode *n = g_tree_node_key(gn);
        if (ent__mem_bcmp(n->k, n->klen, k->data, k->len) != 0) break;
        if (dup && v && ent__mem_bcmp(n->k + n->klen, n->dlen, v->data, v->len) != 0) break;
        if (ent__mem_visible(n, t)) {
            rc = add_version(t, tb, n, NULL, 0, 1);
            found = 1;
        }
        if (!dup || v) break;
    }
    pthread_rwlock_unlock(&t->s->lock);
    if (rc) return rc;
    return found ? ENT_OK : ENT_NOTFOUND;
}

typedef struct clear_ctx {
    mtxn *t;
    mtable *tb;
    int rc;
} clear_ctx;

static gboolean clear_one(gpointer key, gpointer value, gpointer data)
{
    clear_ctx *c = data;
    mnode *n = key;
    (void)value;
    if (ent__mem_visible(n, c->t)) c->rc = add_version(c->t, c->tb, n, NULL, 0, 1);
    return c->rc != ENT_OK;
}

static int m_clear(ent_btxn *txn, unsigned ti)
{
    mtxn *t = (mtxn *)txn;
    clear_ctx c = {t, tbl(t, ti), ENT_OK};
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    pthread_rwlock_wrlock(&t->s->lock);
    g_tree_foreach(c.tb->tree, clear_one, &c);
    pthread_rwlock_unlock(&t->s->lock);
    return c.rc;
}

/* ---- info, copy, notification ------------------------------------------------------------- */

static int m_info(ent_bk *be, ent_backend_info *out)
{
    mstore *s = (mstore *)be;
    uint64_t nodes = 0;
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->ntables; i++) nodes += (uint64_t)g_tree_nnodes(s->tables[i]->tree);
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
