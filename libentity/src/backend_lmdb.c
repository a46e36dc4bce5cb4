/* The LMDB backend: one environment per directory, named databases as tables.
 *
 * LMDB's pitfalls are handled here, invisibly to the store:
 * - A full map (MDB_MAP_FULL) grows and the write transaction is redone. Every write of a write
 *   transaction is kept in an op log; on MAP_FULL the transaction is aborted, the map doubled and
 *   the op log replayed in a new transaction. The store-wide writer lock (flock on "writer.lock",
 *   held from begin to end of every write transaction) keeps other processes from writing between
 *   the abort and the replay, so the redone transaction sees the same data as the first.
 *   mdb_env_set_mapsize() needs no transaction of this process active: every transaction holds a
 *   process-wide rwlock in read mode, the grower takes it in write mode.
 * - A map grown by another process (MDB_MAP_RESIZED at begin) is adopted the same way.
 * - Stale reader slots of dead processes are cleared on open (mdb_reader_check).
 * - LMDB forbids opening one environment twice in a process: handles on the same directory share
 *   one refcounted environment through a process-wide registry.
 * - After fork() a child must not touch the parent's environment: calls fail with ENT_BUSY, and
 *   close in the child frees memory only.
 * Change notification across processes: a futex word in a small shared file "notify".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "error_int.h"
#include "fork.h"

#define DEFAULT_MAP_SIZE ((size_t)64 << 20)
#define MAX_TABLES 1024

/* One environment per directory per process, shared by every handle on it. */
typedef struct lenv {
    struct lenv *next;
    dev_t dev;
    ino_t ino;
    int refs;
    MDB_env *env;
    int read_only;
    int lock_fd;          /* writer.lock, -1 read-only */
    int notify_fd;
    _Atomic uint32_t *notify; /* futex word in the shared "notify" file */
    pthread_rwlock_t resize;  /* read: any txn active; write: changing the map size */
    pthread_mutex_t wmu;      /* one write txn at a time in this process (flock is per fd) */
    pid_t pid;
    unsigned fork_gen;
    char *path;
    /* Table names -> dbi, learned as tables are opened; dbis are per-env in LMDB. */
    pthread_mutex_t tmu;
    char *tname[MAX_TABLES];
    unsigned tflags[MAX_TABLES];
    MDB_dbi tdbi[MAX_TABLES];
    unsigned ntables;
} lenv;

/* The only process-wide mutable state of the library: LMDB allows one MDB_env per file per
 * process, so every handle on a directory must find the one already open. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static lenv *registry;

typedef struct lbe {
    lenv *e;
} lbe;

/* A recorded write, for replay after the map grew. */
typedef struct op {
    int kind; /* 1 put, 2 del, 3 clear */
    unsigned tbl, flags;
    size_t klen, vlen;
    int has_v;
    char *data; /* key then value */
} wop;

typedef struct ltxn {
    lenv *e;
    MDB_txn *txn;
    int write;
    wop *ops;
    size_t nops, capops;
    struct lcur **curs; /* open cursors, re-opened after a replay */
    size_t ncurs, capcurs;
} ltxn;

typedef struct lcur {
    ltxn *t;
    unsigned tbl;
    MDB_cursor *c;
    /* Write txns: the last position, to put the cursor back after a replay. */
    char *pos;
    size_t pklen, pvlen, pcap;
    int positioned;
} lcur;

static int map_err(int rc, const char *what)
{
    switch (rc) {
    case 0: return ENT_OK;
    case MDB_NOTFOUND: return ENT_NOTFOUND;
    case MDB_KEYEXIST: return ent__err(ENT_CONFLICT, "%s: exists", what);
    case MDB_MAP_FULL: return ent__err(ENT_FULL, "%s: %s", what, mdb_strerror(rc));
    case MDB_BAD_VALSIZE: return ent__err(ENT_FULL, "%s: key or value size not accepted by LMDB (%s)", what, mdb_strerror(rc));
    case MDB_DBS_FULL: return ent__err(ENT_FULL, "%s: too many tables (%s)", what, mdb_strerror(rc));
    case MDB_READERS_FULL: return ent__err(ENT_BUSY, "%s: %s", what, mdb_strerror(rc));
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_BAD_TXN: return ent__err(ENT_CORRUPT, "%s: %s", what, mdb_strerror(rc));
    case MDB_VERSION_MISMATCH: return ent__err(ENT_FORMAT, "%s: %s", what, mdb_strerror(rc));
    case EACCES:
    case EROFS: return ent__err(ENT_READONLY, "%s: %s", what, strerror(rc));
    case ENOSPC: return ent__err(ENT_FULL, "%s: disk full (%s)", what, strerror(rc));
    case ENOMEM: return ent__err(ENT_NOMEM, "%s: out of memory", what);
    case ENOENT: return ent__err(ENT_NOTFOUND, "%s: %s", what, strerror(rc));
    default: return ent__err(ENT_IO, "%s: %s", what, mdb_strerror(rc));
    }
}

static int forked(const lenv *e)
{
    if (ent__fork_gen() == e->fork_gen) return 0;
    ent__err(ENT_BUSY, "store %s was opened before fork(); open it again in this process", e->path);
    return 1;
}

/* ---- open / close ------------------------------------------------------------------------ */

static unsigned env_flags(int durability, int read_only)
{
    unsigned f = MDB_NOTLS;
    if (read_only) f |= MDB_RDONLY;
    if (durability == ENT__DUR_LAZY) f |= MDB_NOMETASYNC;
    if (durability == ENT__DUR_NONE) f |= MDB_NOSYNC;
    return f;
}

static int notify_open(lenv *e, const char *dir, int read_only)
{
    char p[PATH_MAX];
    void *m;
    snprintf(p, sizeof p, "%s/notify", dir);
    e->notify_fd = open(p, (read_only ? O_RDWR : O_RDWR | O_CREAT) | O_CLOEXEC, 0644);
    if (e->notify_fd < 0 && read_only) e->notify_fd = open(p, O_RDONLY | O_CLOEXEC);
    if (e->notify_fd < 0) return ent__err(ENT_IO, "%s: %s", p, strerror(errno));
    if (!read_only && ftruncate(e->notify_fd, 4096) != 0) return ent__err(ENT_IO, "%s: %s", p, strerror(errno));
    {
        struct stat st;
        if (fstat(e->notify_fd, &st) != 0 || st.st_size < 4096) {
            /* A read-only opener of a store made by an older writer: follow without wake-ups. */
            e->notify = NULL;
            return ENT_OK;
        }
    }
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, e->notify_fd, 0);
    if (m == MAP_FAILED) m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, e->notify_fd, 0);
    if (m == MAP_FAILED) return ent__err(ENT_IO, "%s: mmap: %s", p, strerror(errno));
    e->notify = m;
    return ENT_OK;
}

static void lenv_destroy(lenv *e)
{
    if (!e) return;
    if (e->env && ent__fork_gen() == e->fork_gen) mdb_env_close(e->env);
    if (e->notify) munmap((void *)e->notify, 4096);
    if (e->notify_fd >= 0) close(e->notify_fd);
    if (e->lock_fd >= 0) close(e->lock_fd);
    for (unsigned i = 0; i < e->ntables; i++) free(e->tname[i]);
    pthread_rwlock_destroy(&e->resize);
    pthread_mutex_destroy(&e->wmu);
    pthread_mutex_destroy(&e->tmu);
    free(e->path);
    free(e);
}

static int lenv_create(lenv **out, const char *path, struct stat *st, const ent_backend_opts *o)
{
    lenv *e = calloc(1, sizeof *e);
    char p[PATH_MAX];
    pthread_rwlockattr_t ra;
    int rc, dead = 0;
    if (!e) return ent__err(ENT_NOMEM, "out of memory");
    e->lock_fd = e->notify_fd = -1;
    e->pid = getpid();
    e->fork_gen = ent__fork_gen();
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->read_only = o->read_only;
    pthread_rwlockattr_init(&ra);
    /* Writer preference: a grower must not starve behind a stream of new readers. */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&e->resize, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&e->wmu, NULL);
    pthread_mutex_init(&e->tmu, NULL);
    if (!(e->path = strdup(path))) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        goto fail;
    }
    if ((rc = mdb_env_create(&e->env))) {
        rc = map_err(rc, path);
        goto fail;
    }
    mdb_env_set_maxdbs(e->env, o->max_tables ? o->max_tables : 256);
    mdb_env_set_maxreaders(e->env, 510);
    if (!o->read_only) mdb_env_set_mapsize(e->env, o->map_size ? o->map_size : DEFAULT_MAP_SIZE);
    rc = mdb_env_open(e->env, path, env_flags(o->durability, o->read_only), 0644);
    if (rc) {
        if (rc == ENOENT) rc = ent__err(ENT_NOTFOUND, "no store at %s", path);
        else rc = map_err(rc, path);
        goto fail;
    }
    mdb_reader_check(e->env, &dead);
    if (!o->read_only) {
        snprintf(p, sizeof p, "%s/writer.lock", path);
        e->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (e->lock_fd < 0) {
            rc = ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "%s: %s", p, strerror(errno));
            goto fail;
        }
    }
    if ((rc = notify_open(e, path, o->read_only))) goto fail;
    *out = e;
    return ENT_OK;
fail:
    lenv_destroy(e);
    return rc;
}

static int l_open(void **out_be, const char *path, const ent_backend_opts *o)
{
    struct stat st;
    lenv *e;
    lbe *b;
    int rc;
    if (!path || !path[0]) return ent__err(ENT_INVALID, "the lmdb backend needs a directory");
    if (stat(path, &st) != 0) {
        if (errno != ENOENT || o->read_only) return ent__err(ENT_NOTFOUND, "no store at %s", path);
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "%s: %s", path, strerror(errno));
        if (stat(path, &st) != 0) return ent__err(ENT_IO, "%s: %s", path, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) return ent__err(ENT_INVALID, "%s is not a directory", path);
    b = calloc(1, sizeof *b);
    if (!b) return ent__err(ENT_NOMEM, "out of memory");
    pthread_mutex_lock(&registry_mu);
    for (e = registry; e; e = e->next)
        if (e->dev == st.st_dev && e->ino == st.st_ino && e->fork_gen == ent__fork_gen()) break;
    if (e) {
        if (e->read_only && !o->read_only) {
            pthread_mutex_unlock(&registry_mu);
            free(b);
            return ent__err(ENT_BUSY, "%s is open read-only in this process; close it before opening it for writing", path);
        }
        e->refs++;
    } else {
        if ((rc = lenv_create(&e, path, &st, o))) {
            pthread_mutex_unlock(&registry_mu);
            free(b);
            return rc;
        }
        e->refs = 1;
        e->next = registry;
        registry = e;
    }
    pthread_mutex_unlock(&registry_mu);
    b->e = e;
    *out_be = b;
    return ENT_OK;
}

static void l_close(void *be)
{
    lbe *b = be;
    lenv **pp;
    if (!b) return;
    pthread_mutex_lock(&registry_mu);
    if (--b->e->refs == 0) {
        for (pp = &registry; *pp; pp = &(*pp)->next)
            if (*pp == b->e) {
                *pp = b->e->next;
                break;
            }
        lenv_destroy(b->e);
    }
    pthread_mutex_unlock(&registry_mu);
    free(b);
}

/* ---- tables ------------------------------------------------------------------------------ */

static int l_table(void *be, void *txn, const char *name, unsigned flags, unsigned *out)
{
    lenv *e = ((lbe *)be)->e;
    ltxn *t = txn;
    MDB_dbi dbi;
    unsigned f = 0;
    int rc;
    if (forked(e)) return ENT_BUSY;
    pthread_mutex_lock(&e->tmu);
    for (unsigned i = 0; i < e->ntables; i++)
        if (strcmp(e->tname[i], name) == 0) {
            *out = i;
            pthread_mutex_unlock(&e->tmu);
            return ENT_OK;
        }
    if (e->ntables == MAX_TABLES) {
        pthread_mutex_unlock(&e->tmu);
        return ent__err(ENT_FULL, "too many tables");
    }
    if (flags & ENT_TBL_DUPSORT) f |= MDB_DUPSORT;
    if ((flags & ENT_TBL_CREATE) && t->write) f |= MDB_CREATE;
    rc = mdb_dbi_open(t->txn, name, f, &dbi);
    if (rc) {
        pthread_mutex_unlock(&e->tmu);
        if (rc == MDB_NOTFOUND) return ent__err(ENT_NOTFOUND, "no table %s", name);
        return map_err(rc, name);
    }
    if (!(e->tname[e->ntables] = strdup(name))) {
        pthread_mutex_unlock(&e->tmu);
        return ent__err(ENT_NOMEM, "out of memory");
    }
    e->tflags[e->ntables] = flags;
    e->tdbi[e->ntables] = dbi;
    *out = e->ntables++;
    pthread_mutex_unlock(&e->tmu);
    return ENT_OK;
}

static MDB_dbi dbi_of(lenv *e, unsigned tbl) { return e->tdbi[tbl]; }

/* ---- transactions ------------------------------------------------------------------------- */

static void ops_free(ltxn *t)
{
    for (size_t i = 0; i < t->nops; i++) free(t->ops[i].data);
    free(t->ops);
    t->ops = NULL;
    t->nops = t->capops = 0;
}

/* Adopt a map size changed by another process, or grow ours: no txn of this process may run. */
static int resize_map(lenv *e, size_t new_size)
{
    int rc;
    pthread_rwlock_wrlock(&e->resize);
    rc = mdb_env_set_mapsize(e->env, new_size);
    pthread_rwlock_unlock(&e->resize);
    return rc;
}

static int begin_raw(lenv *e, int write, MDB_txn **out)
{
    for (int attempt = 0;; attempt++) {
        int rc;
        pthread_rwlock_rdlock(&e->resize);
        rc = mdb_txn_begin(e->env, NULL, write ? 0 : MDB_RDONLY, out);
        if (rc == 0) return 0; /* the rdlock is held for the life of the txn */
        pthread_rwlock_unlock(&e->resize);
        if (rc != MDB_MAP_RESIZED || attempt > 3) return rc;
        if ((rc = resize_map(e, 0))) return rc;
    }
}

static void end_raw(lenv *e) { pthread_rwlock_unlock(&e->resize); }

static int l_txn_begin(void *be, int write, void **out)
{
    lenv *e = ((lbe *)be)->e;
    ltxn *t;
    int rc;
    if (forked(e)) return ENT_BUSY;
    if (write && e->read_only) return ent__err(ENT_READONLY, "store %s is open read-only", e->path);
    t = calloc(1, sizeof *t);
    if (!t) return ent__err(ENT_NOMEM, "out of memory");
    t->e = e;
    t->write = write;
    if (write) {
        pthread_mutex_lock(&e->wmu);
        while (flock(e->lock_fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                rc = ent__err(ENT_IO, "%s/writer.lock: %s", e->path, strerror(errno));
                pthread_mutex_unlock(&e->wmu);
                free(t);
                return rc;
            }
        }
    }
    rc = begin_raw(e, write, &t->txn);
    if (rc) {
        if (write) {
            flock(e->lock_fd, LOCK_UN);
            pthread_mutex_unlock(&e->wmu);
        }
        free(t);
        return map_err(rc, e->path);
    }
    *out = t;
    return ENT_OK;
}

static void txn_release(ltxn *t)
{
    if (t->write) {
        flock(t->e->lock_fd, LOCK_UN);
        pthread_mutex_unlock(&t->e->wmu);
    }
    ops_free(t);
    free(t->curs);
    free(t);
}

static void l_txn_abort(void *txn)
{
    ltxn *t = txn;
    if (!t) return;
    if (ent__fork_gen() == t->e->fork_gen) {
        mdb_txn_abort(t->txn);
        end_raw(t->e);
    }
    txn_release(t);
}

static int replay(ltxn *t);

/* The map is full: abort, double the map, redo every write of the transaction. */
static int grow_and_replay(ltxn *t)
{
    MDB_envinfo info;
    int rc;
    mdb_env_info(t->e->env, &info);
    for (size_t i = 0; i < t->ncurs; i++) {
        mdb_cursor_close(t->curs[i]->c);
        t->curs[i]->c = NULL;
    }
    mdb_txn_abort(t->txn);
    t->txn = NULL;
    end_raw(t->e);
    if ((rc = resize_map(t->e, info.me_mapsize * 2))) return map_err(rc, "growing the map");
    if ((rc = begin_raw(t->e, 1, &t->txn))) {
        t->txn = NULL;
        return map_err(rc, t->e->path);
    }
    return replay(t);
}

static int apply_op(ltxn *t, const wop *o)
{
    MDB_val k = {o->klen, o->data}, v = {o->vlen, o->data + o->klen};
    MDB_dbi dbi = dbi_of(t->e, o->tbl);
    unsigned f = 0;
    int rc;
    switch (o->kind) {
    case 1:
        if (o->flags & ENT_PUT_NOOVERWRITE) f |= (t->e->tflags[o->tbl] & ENT_TBL_DUPSORT) ? MDB_NODUPDATA : MDB_NOOVERWRITE;
        return mdb_put(t->txn, dbi, &k, &v, f);
    case 2:
        rc = mdb_del(t->txn, dbi, &k, o->has_v ? &v : NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    default:
        return mdb_drop(t->txn, dbi, 0);
    }
}

static int replay(ltxn *t)
{
    for (size_t i = 0; i < t->nops; i++) {
        int rc = apply_op(t, &t->ops[i]);
        if (rc == MDB_MAP_FULL) return grow_and_replay(t);
        if (rc) return map_err(rc, "replaying a transaction after growing the map");
    }
    for (size_t i = 0; i < t->ncurs; i++) {
        lcur *c = t->curs[i];
        int rc = mdb_cursor_open(t->txn, dbi_of(t->e, c->tbl), &c->c);
        if (rc) return map_err(rc, "reopening a cursor");
        if (c->positioned) {
            /* Put the cursor back where the caller left it, so an iteration goes on. */
            MDB_val k = {c->pklen, c->pos}, v = {c->pvlen, c->pos + c->pklen};
            int dup = (t->e->tflags[c->tbl] & ENT_TBL_DUPSORT) != 0;
            rc = mdb_cursor_get(c->c, &k, &v, dup ? MDB_GET_BOTH : MDB_SET);
            if (rc && rc != MDB_NOTFOUND) return map_err(rc, "repositioning a cursor");
        }
    }
    return ENT_OK;
}

static int record(ltxn *t, int kind, unsigned tbl, const ent_slice *k, const ent_slice *v, unsigned flags)
{
    wop *o;
    if (t->nops == t->capops) {
        size_t nc = t->capops ? t->capops * 2 : 64;
        wop *no = realloc(t->ops, nc * sizeof *no);
        if (!no) return ent__err(ENT_NOMEM, "out of memory");
        t->ops = no;
        t->capops = nc;
    }
    o = &t->ops[t->nops];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->tbl = tbl;
    o->flags = flags;
    o->klen = k ? k->len : 0;
    o->vlen = v ? v->len : 0;
    o->has_v = v != NULL;
    if (o->klen + o->vlen) {
        o->data = malloc(o->klen + o->vlen);
        if (!o->data) return ent__err(ENT_NOMEM, "out of memory");
        if (o->klen) memcpy(o->data, k->data, o->klen);
        if (o->vlen) memcpy(o->data + o->klen, v->data, o->vlen);
    }
    t->nops++;
    return ENT_OK;
}

static void notify_bump(lenv *e)
{
    if (!e->notify) return;
    atomic_fetch_add(e->notify, 1);
    syscall(SYS_futex, (uint32_t *)e->notify, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static int l_txn_commit(void *txn)
{
    ltxn *t = txn;
    int rc;
    if (forked(t->e)) {
        txn_release(t);
        return ENT_BUSY;
    }
    for (size_t i = 0; i < t->ncurs; i++) {
        mdb_cursor_close(t->curs[i]->c);
        t->curs[i]->c = NULL;
    }
    t->ncurs = 0;
    for (;;) {
        rc = mdb_txn_commit(t->txn);
        if (rc != MDB_MAP_FULL || !t->write) break;
        /* The commit itself ran out of room (free list pages): LMDB has freed the txn. */
        {
            MDB_envinfo info;
            int r2;
            mdb_env_info(t->e->env, &info);
            end_raw(t->e);
            if ((r2 = resize_map(t->e, info.me_mapsize * 2)) || (r2 = begin_raw(t->e, 1, &t->txn))) {
                txn_release(t);
                return map_err(r2, "growing the map");
            }
            if ((r2 = replay(t))) {
                mdb_txn_abort(t->txn);
                end_raw(t->e);
                txn_release(t);
                return r2;
            }
        }
    }
    end_raw(t->e);
    if (rc == 0 && t->write && t->nops) notify_bump(t->e);
    txn_release(t);
    return rc ? map_err(rc, "commit") : ENT_OK;
}

/* ---- data -------------------------------------------------------------------------------- */

static int l_get(void *txn, unsigned tbl, const ent_slice *k, ent_slice *out)
{
    ltxn *t = txn;
    MDB_val mk = {k->len, (void *)(uintptr_t)k->data}, mv;
    int rc;
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    rc = mdb_get(t->txn, dbi_of(t->e, tbl), &mk, &mv);
    if (rc == MDB_NOTFOUND) return ENT_NOTFOUND;
    if (rc) return map_err(rc, "get");
    out->data = mv.mv_data;
    out->len = mv.mv_size;
    return ENT_OK;
}

static int key_check(lenv *e, const ent_slice *k, const ent_slice *v, unsigned tbl)
{
    size_t max = (size_t)mdb_env_get_maxkeysize(e->env);
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    if (k->len > max) return ent__err(ENT_FULL, "key of %zu bytes exceeds the backend limit of %zu", k->len, max);
    if (v && (e->tflags[tbl] & ENT_TBL_DUPSORT) && v->len > max)
        return ent__err(ENT_FULL, "value of %zu bytes exceeds the backend limit of %zu for sorted duplicates", v->len, max);
    return ENT_OK;
}

static int l_put(void *txn, unsigned tbl, const ent_slice *k, const ent_slice *v, unsigned flags)
{
    ltxn *t = txn;
    int rc;
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    if ((rc = key_check(t->e, k, v, tbl))) return rc;
    {
        MDB_val mk = {k->len, (void *)(uintptr_t)k->data}, mv = {v->len, (void *)(uintptr_t)v->data};
        unsigned f = 0;
        if (flags & ENT_PUT_NOOVERWRITE) f |= (t->e->tflags[tbl] & ENT_TBL_DUPSORT) ? MDB_NODUPDATA : MDB_NOOVERWRITE;
        for (;;) {
            rc = mdb_put(t->txn, dbi_of(t->e, tbl), &mk, &mv, f);
            if (rc != MDB_MAP_FULL) break;
            if ((rc = grow_and_replay(t))) return rc;
        }
    }
    if (rc == MDB_KEYEXIST) return ENT_CONFLICT;
    if (rc) return map_err(rc, "put");
    return record(t, 1, tbl, k, v, flags);
}

static int l_del(void *txn, unsigned tbl, const ent_slice *k, const ent_slice *v)
{
    ltxn *t = txn;
    MDB_val mk = {k->len, (void *)(uintptr_t)k->data}, mv = {v ? v->len : 0, v ? (void *)(uintptr_t)v->data : NULL};
    int rc;
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key");
    for (;;) {
        rc = mdb_del(t->txn, dbi_of(t->e, tbl), &mk, v ? &mv : NULL);
        if (rc != MDB_MAP_FULL) break;
        if ((rc = grow_and_replay(t))) return rc;
    }
    if (rc == MDB_NOTFOUND) return ENT_NOTFOUND;
    if (rc) return map_err(rc, "del");
    return record(t, 2, tbl, k, v, 0);
}

static int l_clear(void *txn, unsigned tbl)
{
    ltxn *t = txn;
    int rc;
    if (!t->write) return ent__err(ENT_READONLY, "write in a read transaction");
    for (;;) {
        rc = mdb_drop(t->txn, dbi_of(t->e, tbl), 0);
        if (rc != MDB_MAP_FULL) break;
        if ((rc = grow_and_replay(t))) return rc;
    }
    if (rc) return map_err(rc, "clear");
    return record(t, 3, tbl, NULL, NULL, 0);
}

/* ---- cursors ----------------------------------------------------------------------------- */

static int l_cursor_open(void *txn, unsigned tbl, void **out)
{
    ltxn *t = txn;
    lcur *c = calloc(1, sizeof *c);
    int rc;
    if (!c) return ent__err(ENT_NOMEM, "out of memory");
    c->t = t;
    c->tbl = tbl;
    if ((rc = mdb_cursor_open(t->txn, dbi_of(t->e, tbl), &c->c))) {
        free(c);
        return map_err(rc, "cursor");
    }
    if (t->write) {
        /* Write txns may be redone after the map grew: remember the cursor to reopen it. */
        if (t->ncurs == t->capcurs) {
            size_t nc = t->capcurs ? t->capcurs * 2 : 8;
            lcur **n = realloc(t->curs, nc * sizeof *n);
            if (!n) {
                mdb_cursor_close(c->c);
                free(c);
                return ent__err(ENT_NOMEM, "out of memory");
            }
            t->curs = n;
            t->capcurs = nc;
        }
        t->curs[t->ncurs++] = c;
    }
    *out = c;
    return ENT_OK;
}

static int l_cursor_get(void *cur, int op, ent_slice *k, ent_slice *v)
{
    lcur *c = cur;
    MDB_val mk = {0, NULL}, mv = {0, NULL};
    MDB_cursor_op mop;
    int rc, dup = (c->t->e->tflags[c->tbl] & ENT_TBL_DUPSORT) != 0;
    switch (op) {
    case ENT_CUR_FIRST: mop = MDB_FIRST; break;
    case ENT_CUR_LAST: mop = dup ? MDB_LAST : MDB_LAST; break;
    case ENT_CUR_NEXT: mop = MDB_NEXT; break;
    case ENT_CUR_PREV: mop = MDB_PREV; break;
    case ENT_CUR_SEEK:
        mop = MDB_SET_RANGE;
        mk.mv_size = k->len;
        mk.mv_data = (void *)(uintptr_t)k->data;
        if (k->len == 0) mop = MDB_FIRST;
        break;
    case ENT_CUR_SEEK_PAIR:
        if (!dup) return ent__err(ENT_INVALID, "SEEK_PAIR needs a DUPSORT table");
        mk.mv_size = k->len;
        mk.mv_data = (void *)(uintptr_t)k->data;
        mv.mv_size = v->len;
        mv.mv_data = (void *)(uintptr_t)v->data;
        rc = mdb_cursor_get(c->c, &mk, &mv, MDB_GET_BOTH_RANGE);
        if (rc == MDB_NOTFOUND) {
            /* No value >= v under k: the first pair of the next key. */
            MDB_val k2 = {k->len, (void *)(uintptr_t)k->data}, v2;
            rc = mdb_cursor_get(c->c, &k2, &v2, MDB_SET_RANGE);
            if (rc == 0 && k2.mv_size == k->len && memcmp(k2.mv_data, k->data, k->len) == 0)
                rc = mdb_cursor_get(c->c, &k2, &v2, MDB_NEXT_NODUP);
            mk = k2;
            mv = v2;
        }
        goto done;
    case ENT_CUR_CURRENT: mop = MDB_GET_CURRENT; break;
    default: return ent__err(ENT_INVALID, "unknown cursor operation %d", op);
    }
    rc = mdb_cursor_get(c->c, &mk, &mv, mop);
    if (op == ENT_CUR_LAST && rc == 0 && dup) rc = mdb_cursor_get(c->c, &mk, &mv, MDB_LAST_DUP);
done:
    if (rc == MDB_NOTFOUND || rc == EINVAL) return ENT_NOTFOUND;
    if (rc) return map_err(rc, "cursor");
    if (c->t->write) {
        size_t need = mk.mv_size + mv.mv_size;
        if (need > c->pcap) {
            char *np = realloc(c->pos, need);
            if (!np) return ent__err(ENT_NOMEM, "out of memory");
            c->pos = np;
            c->pcap = need;
        }
        memcpy(c->pos, mk.mv_data, mk.mv_size);
        if (mv.mv_size) memcpy(c->pos + mk.mv_size, mv.mv_data, mv.mv_size);
        c->pklen = mk.mv_size;
        c->pvlen = mv.mv_size;
        c->positioned = 1;
    }
    k->data = mk.mv_data;
    k->len = mk.mv_size;
    v->data = mv.mv_data;
    v->len = mv.mv_size;
    return ENT_OK;
}

static void l_cursor_close(void *cur)
{
    lcur *c = cur;
    if (!c) return;
    if (c->t->write) {
        for (size_t i = 0; i < c->t->ncurs; i++)
            if (c->t->curs[i] == c) {
                c->t->curs[i] = c->t->curs[--c->t->ncurs];
                break;
            }
    }
    if (c->c && ent__fork_gen() == c->t->e->fork_gen) mdb_cursor_close(c->c);
    free(c->pos);
    free(c);
}

/* ---- info, copy, notification ------------------------------------------------------------- */

static int l_info(void *be, ent_backend_info *out)
{
    lenv *e = ((lbe *)be)->e;
    MDB_envinfo info;
    MDB_stat st;
    struct stat fs;
    char p[PATH_MAX];
    if (forked(e)) return ENT_BUSY;
    mdb_env_info(e->env, &info);
    mdb_env_stat(e->env, &st);
    memset(out, 0, sizeof *out);
    out->map_size = info.me_mapsize;
    out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    snprintf(p, sizeof p, "%s/data.mdb", e->path);
    if (stat(p, &fs) == 0) out->disk_bytes = (uint64_t)fs.st_blocks * 512;
    out->max_key = (size_t)mdb_env_get_maxkeysize(e->env);
    return ENT_OK;
}

static int l_copy(void *be, const char *dest, int compact)
{
    lenv *e = ((lbe *)be)->e;
    struct stat st;
    int rc;
    if (forked(e)) return ENT_BUSY;
    if (stat(dest, &st) != 0) {
        if (mkdir(dest, 0755) != 0) return ent__err(ENT_IO, "%s: %s", dest, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return ent__err(ENT_INVALID, "%s is not a directory", dest);
    }
    {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/data.mdb", dest);
        if (access(p, F_OK) == 0) return ent__err(ENT_CONFLICT, "%s holds a store already", dest);
    }
    rc = mdb_env_copy2(e->env, dest, compact ? MDB_CP_COMPACT : 0);
    return rc ? map_err(rc, dest) : ENT_OK;
}

static uint64_t l_change_counter(void *be)
{
    lenv *e = ((lbe *)be)->e;
    return e->notify ? atomic_load(e->notify) : 0;
}

static int l_wait_change(void *be, uint64_t seen, int timeout_ms)
{
    lenv *e = ((lbe *)be)->e;
    struct timespec deadline, now, rel;
    if (!e->notify) {
        /* No shared word to sleep on (a read-only opener of a store without one): a short sleep
         * keeps followers working rather than failing. */
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
        return ENT_OK;
    }
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms >= 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
    }
    for (;;) {
        uint32_t cur = atomic_load(e->notify);
        if (cur != (uint32_t)seen) return ENT_OK;
        if (timeout_ms >= 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            rel.tv_sec = deadline.tv_sec - now.tv_sec;
            rel.tv_nsec = deadline.tv_nsec - now.tv_nsec;
            if (rel.tv_nsec < 0) {
                rel.tv_sec--;
                rel.tv_nsec += 1000000000;
            }
            if (rel.tv_sec < 0) return ENT_TIMEOUT;
        }
        /* Sleeps in the kernel until a committer's FUTEX_WAKE (or the timeout): no polling. */
        syscall(SYS_futex, (uint32_t *)e->notify, FUTEX_WAIT, cur, timeout_ms >= 0 ? &rel : NULL, NULL, 0);
    }
}

static int l_set_durability(void *be, int durability)
{
    lenv *e = ((lbe *)be)->e;
    int rc;
    if (forked(e)) return ENT_BUSY;
    if (e->read_only) return ENT_OK;
    rc = mdb_env_set_flags(e->env, MDB_NOSYNC | MDB_NOMETASYNC, 0);
    if (!rc && durability == ENT__DUR_LAZY) rc = mdb_env_set_flags(e->env, MDB_NOMETASYNC, 1);
    if (!rc && durability == ENT__DUR_NONE) rc = mdb_env_set_flags(e->env, MDB_NOSYNC, 1);
    return rc ? map_err(rc, "durability") : ENT_OK;
}

const ent_backend_ops ent__backend_lmdb = {
    .version = ENT_BACKEND_VERSION,
    .name = "lmdb",
    .open = l_open,
    .close = l_close,
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
    .change_counter = l_change_counter,
    .wait_change = l_wait_change,
    .set_durability = l_set_durability,
};
