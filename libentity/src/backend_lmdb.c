/* The LMDB backend: one MDB_env per store directory, named databases as tables.
 *
 * LMDB's pitfalls are handled here, not by the caller:
 * - A full map grows and the write retries. LMDB can only resize with no transaction active in the
 *   process and leaves a write txn that hit MDB_MAP_FULL unusable, so every write txn records its
 *   changes in an op log; on MDB_MAP_FULL the txn is aborted, the map doubled while no other txn of
 *   this process runs (a process-wide rwlock held shared by every txn, exclusively by the resizer),
 *   and the log replayed in a new txn on the same snapshot. The snapshot is the same because the
 *   writer holds an flock on "<dir>/writer.lock" for the whole life of its txn, aborted or not, so
 *   no other libentity process can commit in between. Table and cursor handles are ours and are
 *   re-bound after the replay, so the caller never notices.
 * - A map grown by another process (MDB_MAP_RESIZED at txn begin) is adopted the same way.
 * - Stale reader slots of dead processes are cleared on open (mdb_reader_check).
 * - LMDB forbids opening one environment twice in a process: handles on the same directory share
 *   one environment through a process-global registry.
 * - fork(): an environment must not be used in a child. Every call made in a child on a handle
 *   opened before fork() returns ENT_BUSY; close() in the child frees this library's memory only
 *   (mdb_env_close would release reader slots that belong to the parent).
 * Commits bump a counter in "<dir>/notify" (a shared mapping) and wake futex waiters in every
 * process, for followers that must see a commit within milliseconds without polling.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "error_int.h"
#include "fork.h"

/* Address space, not disk: the file grows only as pages are used. Large on 64-bit, because the
 * map cannot grow while the writing thread also holds a read transaction (an open iterator):
 * that write fails with ENT_BUSY, so growth should be rare. */
#define DEFAULT_MAP_SIZE (sizeof(size_t) >= 8 ? (size_t)1 << 36 : (size_t)1 << 29)
#define DEFAULT_TABLES 256
#define RCACHE_MAX 4 /* reset read txns kept per environment (each keeps a reader slot) */
#define MAX_READERS 510
#define GROW_WAIT_S 10 /* how long a resize waits for the other transactions of the process */
#define DBI_WAIT_S 10
#define HOLD_SLOTS 16

typedef struct lnotify {
    _Atomic uint32_t word;    /* futex word: changes on every commit */
    _Atomic uint32_t waiters; /* processes/threads inside wait_change (to skip needless wakes) */
    _Atomic uint64_t counter; /* commits */
} lnotify;

enum { TAB_FREE = 0, TAB_COMMITTED, TAB_PENDING };
typedef struct ltab {
    char *name;
    MDB_dbi dbi;
    unsigned flags; /* ENT_TBL_DUPSORT */
    unsigned open_flags; /* MDB flags it was opened with in its pending txn (for replay) */
    int state;
} ltab;

enum { OP_PUT, OP_DEL, OP_DELKEY, OP_CLEAR, OP_TABLE };
typedef struct lop {
    int op;
    unsigned tbl;
    unsigned mflags;
    size_t klen, vlen;
    unsigned char *k, *v;
} lop;

typedef struct lchunk {
    struct lchunk *next;
    size_t used, cap;
    unsigned char data[];
} lchunk;

typedef struct loplog {
    lop *ops;
    size_t n, cap;
    lchunk *chunks;
} loplog;

typedef struct lenv {
    struct lenv *next;
    dev_t dev;
    ino_t ino;
    unsigned gen; /* fork generation at open */
    unsigned refs; /* under reg_mu */
    char *path;
    MDB_env *env;
    int read_only;
    size_t maxkey;
    MDB_dbi main_dbi;
    pthread_rwlock_t rs; /* shared by every txn, exclusive while the map is resized */
    pthread_mutex_t wmu; /* one write txn per process (the flock is per open file, not per thread) */
    /* A thread that holds a txn already does not block on wmu (l_txn_begin): it waits on gcv
     * under gmu, a leaf lock, for wmu to be released or a resize to become pending. */
    pthread_mutex_t gmu;
    pthread_cond_t gcv;
    unsigned resizing; /* resizers waiting for or holding rs exclusively (under gmu) */
    int lockfd;
    lnotify *nt;
    int nt_writable;
    /* Table registry. LMDB's rule: a txn that opened a DBI must end before another txn opens one;
     * dbi_owner is that txn. Committed entries are immutable; pending ones belong to dbi_owner. */
    pthread_mutex_t tmu;
    pthread_cond_t tcond;
    void *dbi_owner;
    unsigned maxtab;
    MDB_dbi max_dbi; /* largest committed DBI, 0 when none */
    ltab *tab;
    loplog log;  /* the op log of the current write txn (under wmu) */
    int env_dur; /* durability the env flags are set to (under wmu) */
    /* Ended read txns kept reset for mdb_txn_renew(): mdb_txn_begin() callocs a txn sized by
     * maxdbs (~13 KiB here), a fifth of a single get in perf. Under rcmu; never used in a child. */
    pthread_mutex_t rcmu;
    MDB_txn *rcache[RCACHE_MAX];
    int nrcache;
} lenv;

typedef struct lbe {
    lenv *e;
    int dur;
    int read_only;
} lbe;

struct ltxn;
typedef struct lcur {
    struct ltxn *t;
    unsigned tbl;
    MDB_cursor *c;
    unsigned char *sbuf; /* saved position across a map growth */
    size_t scap, skl, svl;
    int saved;
    struct lcur *next, *prev;
} lcur;

typedef struct ltxn {
    lbe *be;
    lenv *e;
    MDB_txn *m;
    int write;
    int failed; /* the ENT_* code that broke this write txn, 0 if fine */
    int owns_dbi;
    lcur *curs;
    /* A savepoint (l_sp_begin) is a nested LMDB txn: m is then the child and pm its parent; the
     * op log's entries from sp_mark on are the child's, so a growth can rebuild both. */
    int in_sp;
    MDB_txn *pm;
    size_t sp_mark;
} ltxn;

/* ---- process-global state -------------------------------------------------------------------
 * The registry of open environments is the library's one piece of global mutable state, forced by
 * LMDB: an environment may be opened only once per process, so two handles on one directory must
 * find each other. The fork generation lets every call detect that it runs in a child. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static lenv *reg_head;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* The fork generation itself is fork.c's; this handler only resets the registry's lock. */
static void on_fork_child(void)
{
    /* Another thread of the parent may have held it at fork(); the child has only this thread. */
    pthread_mutex_init(&reg_mu, NULL);
}
static void fork_init(void) { pthread_atfork(NULL, NULL, on_fork_child); }

/* Per thread: how many txns this thread holds on each environment. A thread holds the resize lock
 * shared once, however many txns it has open, so that a second txn of the same thread never waits
 * behind a pending resizer (which would wait for the first txn: a deadlock). */
static _Thread_local struct {
    lenv *e;
    unsigned n;
} hold[HOLD_SLOTS];

/* ---- errors --------------------------------------------------------------------------------- */

static int code_of(int mrc)
{
    switch (mrc) {
    case MDB_NOTFOUND: return ENT_NOTFOUND;
    case MDB_KEYEXIST: return ENT_CONFLICT;
    case MDB_BAD_VALSIZE:
    case MDB_MAP_FULL:
    case MDB_DBS_FULL:
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
    case ENOSPC: return ENT_FULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID: return ENT_CORRUPT;
    case MDB_VERSION_MISMATCH: return ENT_FORMAT;
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:
    case EAGAIN:
    case EBUSY: return ENT_BUSY;
    case MDB_INCOMPATIBLE:
    case MDB_BAD_DBI:
    case MDB_BAD_TXN:
    case EINVAL: return ENT_INVALID;
    case ENOENT: return ENT_NOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS: return ENT_READONLY;
    case ENOMEM: return ENT_NOMEM;
    default: return ENT_IO;
    }
}

static int lerr(int mrc, const char *fmt, ...) ENT__PRINTF(2, 3);
static int lerr(int mrc, const char *fmt, ...)
{
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    return ent__err(code_of(mrc), "%s: %s", ctx, mdb_strerror(mrc));
}

static int forked(const lenv *e)
{
    if (e->gen == ent__fork_gen()) return 0;
    ent__err(ENT_BUSY, "store %s was opened before fork(); a child process must open it again", e->path);
    return 1;
}

static const char *tname(const lenv *e, unsigned tbl)
{
    return tbl < e->maxtab && e->tab[tbl].name ? e->tab[tbl].name : "?";
}

/* ---- the resize lock ------------------------------------------------------------------------ */

static int hold_find(const lenv *e)
{
    for (int i = 0; i < HOLD_SLOTS; i++)
        if (hold[i].e == e && hold[i].n) return i;
    return -1;
}

static _Thread_local lenv *pin_want, *pin_held; /* l_pin(), l_unpin() */

/* The transactions this thread has open on e: its holds, less a pin (l_pin()), which keeps a
 * hold without a transaction, so a resize may go on under it. */
static unsigned hold_depth(const lenv *e)
{
    int i = hold_find(e);
    return i < 0 ? 0 : hold[i].n - (pin_held == e ? 1 : 0);
}

static int hold_acquire(lenv *e)
{
    int i = hold_find(e);
    if (i >= 0) {
        hold[i].n++;
        return ENT_OK;
    }
    for (i = 0; i < HOLD_SLOTS && hold[i].n; i++) {}
    if (i == HOLD_SLOTS)
        return ent__err(ENT_BUSY, "store %s: this thread holds transactions on %d stores already", e->path, HOLD_SLOTS);
    pthread_rwlock_rdlock(&e->rs);
    hold[i].e = e;
    hold[i].n = 1;
    return ENT_OK;
}

static void hold_release(lenv *e)
{
    int i = hold_find(e);
    if (i < 0) return;
    if (--hold[i].n == 0) {
        hold[i].e = NULL;
        pthread_rwlock_unlock(&e->rs);
    }
}

/* Set the map size (0: adopt the size another process set) while no txn of this process runs.
 * The calling thread holds exactly one hold (its own txn, already ended) and keeps it. */
/* Abort the cached read txns (before a resize or a close). */
static void rcache_drain(lenv *e)
{
    pthread_mutex_lock(&e->rcmu);
    while (e->nrcache > 0) mdb_txn_abort(e->rcache[--e->nrcache]);
    pthread_mutex_unlock(&e->rcmu);
}

static int resize_exclusive(lenv *e, size_t size)
{
    struct timespec dl;
    int rc, mrc, i = hold_find(e);
    unsigned n = i < 0 ? 0 : hold[i].n; /* the txn's hold, and a pin's */
    /* Threads that hold a txn and wait for the writer give up now (see writer_lock): this
     * resize waits for their holds. */
    pthread_mutex_lock(&e->gmu);
    e->resizing++;
    pthread_cond_broadcast(&e->gcv);
    pthread_mutex_unlock(&e->gmu);
    if (n > 1) hold[i].n = 1;
    hold_release(e);
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += GROW_WAIT_S;
    rc = pthread_rwlock_timedwrlock(&e->rs, &dl);
    if (rc == 0) {
        rcache_drain(e); /* no txn of this process, not even a reset one, across the remap */
        mrc = mdb_env_set_mapsize(e->env, size);
        pthread_rwlock_unlock(&e->rs);
    }
    pthread_mutex_lock(&e->gmu);
    e->resizing--;
    pthread_mutex_unlock(&e->gmu);
    hold_acquire(e); /* cannot fail: the slot was just freed */
    if (n > 1) hold[hold_find(e)].n = n;
    if (rc)
        return ent__err(ENT_BUSY, "store %s: the map must grow, but other transactions of this process stayed open for %d s",
                        e->path, GROW_WAIT_S);
    if (mrc) return lerr(mrc, "store %s: resizing the map to %zu bytes", e->path, size);
    return ENT_OK;
}

/* ---- op log --------------------------------------------------------------------------------- */

static void *arena_alloc(loplog *l, size_t n)
{
    lchunk *c = l->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = l->chunks;
        l->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += (n + 15) & ~(size_t)15;
    if (c->used > c->cap) c->used = c->cap;
    return p;
}

static void log_reset(loplog *l, int keep)
{
    lchunk *c = l->chunks, *keepc = NULL;
    while (c) {
        lchunk *next = c->next;
        if (keep && !next && c->cap == 65536) {
            c->used = 0;
            keepc = c;
        } else {
            free(c);
        }
        c = next;
    }
    l->chunks = keepc;
    l->n = 0;
    if (!keep) {
        free(l->ops);
        l->ops = NULL;
        l->cap = 0;
    }
}

static int log_add(ltxn *t, int op, unsigned tbl, unsigned mflags, const MDB_val *k, const MDB_val *v)
{
    loplog *l = &t->e->log;
    lop *o;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        lop *ops = realloc(l->ops, cap * sizeof *ops);
        if (!ops) goto nomem;
        l->ops = ops;
        l->cap = cap;
    }
    o = &l->ops[l->n];
    o->op = op;
    o->tbl = tbl;
    o->mflags = mflags;
    o->klen = k ? k->mv_size : 0;
    o->vlen = v ? v->mv_size : 0;
    o->k = o->v = NULL;
    if (o->klen && !(o->k = arena_alloc(l, o->klen))) goto nomem;
    if (o->vlen && !(o->v = arena_alloc(l, o->vlen))) goto nomem;
    if (o->klen) memcpy(o->k, k->mv_data, o->klen);
    if (o->vlen) memcpy(o->v, v->mv_data, o->vlen);
    l->n++;
    return ENT_OK;
nomem:
    /* The write happened but could not be recorded: the txn could not survive a map growth. */
    t->failed = ENT_NOMEM;
    return ent__err(ENT_NOMEM, "store %s: out of memory recording a write", t->e->path);
}

/* ---- environments --------------------------------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* LMDB sizes its lock file with ftruncate() and writes to it through a shared mapping: on a full
 * disk the first write is a SIGBUS. A new lock file is allocated here first, so a full disk is an
 * error. 64 KiB holds LMDB's header and more than MAX_READERS reader slots (LMDB keeps a larger
 * file's size and uses the extra slots). */
static int prealloc_lock(const char *path)
{
    char *p = path_join(path, "lock.mdb");
    int fd, frc = 0, rc = ENT_OK;
    if (!p) return ent__err(ENT_NOMEM, "out of memory");
    fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0664);
    if (fd >= 0) {
        frc = posix_fallocate(fd, 0, 64 * 1024);
        close(fd);
        if (frc) {
            unlink(p);
            rc = ent__err(frc == ENOSPC ? ENT_FULL : ENT_IO, "store %s: cannot allocate %s: %s", path, p, strerror(frc));
        }
    } else if (errno != EEXIST) {
        rc = ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "store %s: cannot create %s: %s", path,
                      p, strerror(errno));
    }
    free(p);
    return rc;
}

/* DEFAULT_MAP_SIZE, or a quarter of the address space the process may use when that is limited
 * (ulimit -v): the map is address space, and the store must open under the limit. */
static size_t default_map_size(void)
{
    struct rlimit rl;
    size_t size = DEFAULT_MAP_SIZE;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < size) {
        size = (size_t)(rl.rlim_cur / 4) & ~(size_t)0xfffff; /* whole MiB */
        if (size < ((size_t)1 << 24)) size = (size_t)1 << 24;
    }
    return size;
}

static int open_notify(lenv *e)
{
    char *p = path_join(e->path, "notify");
    int fd = -1, rc = ENT_OK;
    struct stat st;
    if (!p) return ent__err(ENT_NOMEM, "out of memory");
    /* A read-only handle still wants to register as a waiter, so it tries read-write first. */
    fd = open(p, O_RDWR | O_CLOEXEC | (e->read_only ? 0 : O_CREAT), 0664);
    e->nt_writable = fd >= 0;
    if (fd < 0 && e->read_only) fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (e->read_only && errno == ENOENT) goto done; /* store from elsewhere: no notifications */
        rc = ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "cannot open %s: %s", p, strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) < 0) {
        rc = ent__err(ENT_IO, "cannot size %s: %s", p, strerror(errno));
        goto done;
    }
    if (st.st_size < (off_t)sizeof(lnotify)) {
        /* Allocate, not just size: a mapped page with no room behind it on a full disk is a
         * SIGBUS at first touch instead of an error here. */
        int frc = e->nt_writable ? posix_fallocate(fd, 0, 4096) : EROFS;
        if (frc) {
            rc = ent__err(frc == ENOSPC ? ENT_FULL : ENT_IO, "cannot size %s: %s", p, strerror(frc));
            goto done;
        }
    }
    void *m = mmap(NULL, 4096, PROT_READ | (e->nt_writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        rc = ent__err(ENT_IO, "cannot map %s: %s", p, strerror(errno));
        goto done;
    }
    e->nt = m;
done:
    if (fd >= 0) close(fd);
    free(p);
    return rc;
}

/* Open every named database that exists, so that handles are known before any txn needs them. */
static int load_tables(lenv *e)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    char name[512];
    int mrc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
    if (mrc) return lerr(mrc, "store %s: reading the table list", e->path);
    mdb_dbi_open(txn, NULL, 0, &e->main_dbi);
    mrc = mdb_cursor_open(txn, e->main_dbi, &c);
    if (mrc) {
        mdb_txn_abort(txn);
        return lerr(mrc, "store %s: reading the table list", e->path);
    }
    unsigned n = 0;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        MDB_dbi dbi;
        unsigned f = 0;
        if (k.mv_size >= sizeof name || n >= e->maxtab) continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        if (memchr(name, 0, k.mv_size) || mdb_dbi_open(txn, name, 0, &dbi)) continue;
        mdb_dbi_flags(txn, dbi, &f);
        e->tab[n].name = strdup(name);
        if (!e->tab[n].name) break;
        e->tab[n].dbi = dbi;
        e->tab[n].flags = (f & MDB_DUPSORT) ? ENT_TBL_DUPSORT : 0;
        e->tab[n].state = TAB_COMMITTED;
        if (dbi > e->max_dbi) e->max_dbi = dbi;
        n++;
    }
    mdb_cursor_close(c);
    mrc = mdb_txn_commit(txn); /* a read txn's commit keeps the DBIs it opened */
    if (mrc) return lerr(mrc, "store %s: reading the table list", e->path);
    return ENT_OK;
}

static unsigned env_flags_for(int dur)
{
    return dur == ENT__DUR_NONE ? MDB_NOSYNC : dur == ENT__DUR_LAZY ? MDB_NOMETASYNC : 0;
}

static void env_free(lenv *e, int in_child)
{
    if (!e) return;
    if (e->env && !in_child) {
        rcache_drain(e);
        mdb_env_close(e->env);
    }
    /* in a child the MDB_env is left as is (see the top of the file) */
    if (e->lockfd >= 0) close(e->lockfd);
    if (e->nt) munmap(e->nt, 4096);
    if (e->tab)
        for (unsigned i = 0; i < e->maxtab; i++) free(e->tab[i].name);
    free(e->tab);
    log_reset(&e->log, 0);
    if (!in_child) {
        pthread_rwlock_destroy(&e->rs);
        pthread_mutex_destroy(&e->wmu);
        pthread_mutex_destroy(&e->gmu);
        pthread_cond_destroy(&e->gcv);
        pthread_mutex_destroy(&e->tmu);
        pthread_mutex_destroy(&e->rcmu);
        pthread_cond_destroy(&e->tcond);
    }
    free(e->path);
    free(e);
}

static int env_create(lenv **out, const char *path, const struct stat *dst, const ent_backend_opts *o)
{
    lenv *e = calloc(1, sizeof *e);
    pthread_rwlockattr_t ra;
    pthread_condattr_t ca;
    struct stat st;
    char *data = NULL;
    int mrc, rc = ENT_OK;
    if (!e) return ent__err(ENT_NOMEM, "out of memory");
    e->lockfd = -1;
    e->dev = dst->st_dev;
    e->ino = dst->st_ino;
    e->gen = ent__fork_gen();
    e->refs = 1;
    e->read_only = o->read_only;
    e->env_dur = o->durability;
    e->maxtab = o->max_tables ? o->max_tables : DEFAULT_TABLES;
    e->path = strdup(path);
    e->tab = calloc(e->maxtab, sizeof *e->tab);
    data = path_join(path, "data.mdb");
    if (!e->path || !e->tab || !data) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        goto fail;
    }
    pthread_rwlockattr_init(&ra);
    /* A resizer waits for running txns only; new ones queue behind it instead of starving it. */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&e->rs, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&e->wmu, NULL);
    pthread_mutex_init(&e->gmu, NULL);
    pthread_cond_init(&e->gcv, NULL);
    pthread_mutex_init(&e->tmu, NULL);
    pthread_mutex_init(&e->rcmu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->tcond, &ca);
    pthread_condattr_destroy(&ca);

    if ((mrc = mdb_env_create(&e->env))) {
        rc = lerr(mrc, "store %s: creating the environment", path);
        goto fail;
    }
    mdb_env_set_maxdbs(e->env, e->maxtab);
    mdb_env_set_maxreaders(e->env, MAX_READERS);
    /* An explicit size is a floor; without one an existing store keeps the size in its meta page. */
    if (o->map_size) mdb_env_set_mapsize(e->env, o->map_size);
    else if (stat(data, &st) < 0) mdb_env_set_mapsize(e->env, default_map_size());
    if (o->read_only || o->must_exist) {
        /* No data.mdb, or an empty one (a creation cut short: LMDB would take it for a new
         * environment, or fail with EBADF read-only): no store, and no file made here. */
        if (stat(data, &st) < 0 && errno != ENOENT) {
            rc = ent__err(errno == EACCES ? ENT_READONLY : ENT_IO, "store %s: %s: %s", path, data, strerror(errno));
            goto fail;
        }
        if (stat(data, &st) < 0 || st.st_size == 0) {
            rc = ent__err(ENT_NOTFOUND, "no libentity store at %s (%s)", path,
                          stat(data, &st) < 0 ? "no data.mdb" : "its data.mdb is empty");
            goto fail;
        }
    }
    if (!o->read_only && (rc = prealloc_lock(path)) != ENT_OK) goto fail;
    mrc = mdb_env_open(e->env, path, MDB_NOTLS | (o->read_only ? MDB_RDONLY : 0) | env_flags_for(o->durability), 0664);
    if (mrc) {
        rc = lerr(mrc, "store %s: opening", path);
        goto fail;
    }
    {
        /* A file shorter than the pages its meta page counts (cut by a copy, a full disk, a
         * careless tool) makes the first read past its end a SIGBUS: refuse it here. Pages
         * are written before the meta page that counts them, so a live writer never trips it. */
        MDB_envinfo ei;
        MDB_stat ms;
        if (mdb_env_info(e->env, &ei) == 0 && mdb_env_stat(e->env, &ms) == 0 && stat(data, &st) == 0 &&
            ((uint64_t)ei.me_last_pgno + 1) * ms.ms_psize > (uint64_t)st.st_size) {
            rc = ent__err(ENT_CORRUPT, "store %s: data.mdb is truncated: %lld bytes, its pages need %llu", path,
                          (long long)st.st_size, (unsigned long long)(((uint64_t)ei.me_last_pgno + 1) * ms.ms_psize));
            goto fail;
        }
    }
    int dead = 0;
    mdb_reader_check(e->env, &dead);
    e->maxkey = (size_t)mdb_env_get_maxkeysize(e->env);
    if (!o->read_only) {
        char *lp = path_join(path, "writer.lock");
        if (!lp) {
            rc = ent__err(ENT_NOMEM, "out of memory");
            goto fail;
        }
        e->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
        if (e->lockfd < 0) rc = ent__err(ENT_IO, "cannot open %s: %s", lp, strerror(errno));
        free(lp);
        if (rc) goto fail;
    }
    if ((rc = open_notify(e)) || (rc = load_tables(e))) goto fail;
    free(data);
    *out = e;
    return ENT_OK;
fail:
    free(data);
    env_free(e, 0);
    return rc;
}

static int l_open(void **out_be, const char *path, const ent_backend_opts *opts)
{
    ent_backend_opts o = {0};
    struct stat st;
    lbe *be;
    lenv *e;
    int rc = ENT_OK;
    if (opts) o = *opts;
    if (o.durability < ENT__DUR_DURABLE || o.durability > ENT__DUR_NONE)
        return ent__err(ENT_INVALID, "durability %d is not one of durable (0), lazy (1), none (2)", o.durability);
    if (!path || !*path) return ent__err(ENT_INVALID, "the lmdb backend needs a directory path");
    pthread_once(&fork_once, fork_init);
    if (stat(path, &st) < 0) {
        if (errno != ENOENT) return ent__err(ENT_IO, "store %s: %s", path, strerror(errno));
        if (o.read_only || o.must_exist) return ent__err(ENT_NOTFOUND, "no store at %s", path);
        if (mkdir(path, 0775) < 0 && errno != EEXIST)
            return ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "cannot create store directory %s: %s",
                            path, strerror(errno));
        if (stat(path, &st) < 0) return ent__err(ENT_IO, "store %s: %s", path, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) return ent__err(ENT_INVALID, "store %s is not a directory", path);
    be = calloc(1, sizeof *be);
    if (!be) return ent__err(ENT_NOMEM, "out of memory");
    be->dur = o.durability;
    be->read_only = o.read_only;

    pthread_mutex_lock(&reg_mu);
    unsigned gen = ent__fork_gen();
    for (e = reg_head; e; e = e->next)
        if (e->dev == st.st_dev && e->ino == st.st_ino && e->gen == gen) break;
    if (e) {
        if (e->read_only && !o.read_only) {
            rc = ent__err(ENT_BUSY, "store %s is already open read-only in this process; close it before opening it for writing",
                          path);
        } else {
            e->refs++;
        }
    } else {
        rc = env_create(&e, path, &st, &o);
        if (rc == ENT_OK) {
            e->next = reg_head;
            reg_head = e;
        }
    }
    pthread_mutex_unlock(&reg_mu);
    if (rc) {
        free(be);
        return rc;
    }
    be->e = e;
    *out_be = be;
    return ENT_OK;
}

static void l_close(void *vbe)
{
    lbe *be = vbe;
    lenv *e, **pp;
    int in_child;
    if (!be) return;
    e = be->e;
    free(be);
    in_child = e->gen != ent__fork_gen();
    pthread_mutex_lock(&reg_mu);
    if (--e->refs > 0) {
        pthread_mutex_unlock(&reg_mu);
        return;
    }
    for (pp = &reg_head; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    env_free(e, in_child);
}

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

static int l_table(void *vbe, void *vtxn, const char *name, unsigned flags, unsigned *out_tbl)
{
    lbe *be = vbe;
    lenv *e = be->e;
    ltxn *t = vtxn;
    int rc = ENT_OK, mrc;
    unsigned i, f = 0;
    MDB_dbi dbi;
    struct timespec dl;
    if (forked(e)) return ENT_BUSY;
    if (t->failed) return ent__err(t->failed, "table %s: the transaction failed earlier", name);
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
        rc = ent__err(ENT_FULL, "table %s: the store holds its maximum of %u tables", name, e->maxtab);
        goto done;
    }
    unsigned of = create ? MDB_CREATE | ((flags & ENT_TBL_DUPSORT) ? MDB_DUPSORT : 0) : 0;
    mrc = mdb_dbi_open(t->m, name, of, &dbi);
    if (mrc) {
        if (mrc == MDB_DBS_FULL)
            rc = ent__err(ENT_FULL, "table %s: the store holds its maximum of %u tables", name, e->maxtab);
        else rc = lerr(mrc, "table %s", name);
        if (t->write && mrc != MDB_NOTFOUND) t->failed = rc;
        goto done;
    }
    mdb_dbi_flags(t->m, dbi, &f);
    e->tab[i].name = strdup(name);
    if (!e->tab[i].name) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        if (t->write) t->failed = rc;
        goto done;
    }
    e->tab[i].dbi = dbi;
    e->tab[i].flags = (f & MDB_DUPSORT) ? ENT_TBL_DUPSORT : 0;
    e->tab[i].open_flags = of;
    e->tab[i].state = TAB_PENDING;
    e->dbi_owner = t;
    t->owns_dbi = 1;
    if (t->write && (rc = log_add(t, OP_TABLE, i, of, NULL, NULL))) goto done;
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

static int txn_begin_mdb(ltxn *t)
{
    lenv *e = t->e;
    if (!t->write) {
        MDB_txn *m = NULL;
        pthread_mutex_lock(&e->rcmu);
        if (e->nrcache > 0) m = e->rcache[--e->nrcache];
        pthread_mutex_unlock(&e->rcmu);
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
        if (mrc != MDB_MAP_RESIZED) return lerr(mrc, "store %s: beginning a transaction", e->path);
        if (hold_depth(e) != 1)
            return ent__err(ENT_BUSY, "store %s: the map was grown by another process; end this thread's other "
                                      "transactions to pick it up", e->path);
        int rc = resize_exclusive(e, 0);
        if (rc) return rc;
    }
}

/* Take the process's writer mutex. A thread that holds no txn on e waits for it. One that does
 * (an open read txn or iterator) must not: the writer may need rs exclusively to grow the map and
 * would wait for this thread's hold while this thread waits for the writer. It takes wmu only
 * when free (a trylock, which orders no locks), waiting on gcv between tries, and answers
 * ENT_BUSY once a resize is pending, which only the end of its own hold lets go on. */
static int writer_lock(lenv *e)
{
    int rc = ENT_OK;
    if (hold_find(e) < 0) { /* no hold at all, not even a pin */
        pthread_mutex_lock(&e->wmu);
        return ENT_OK;
    }
    pthread_mutex_lock(&e->gmu);
    while (pthread_mutex_trylock(&e->wmu) != 0) {
        if (e->resizing) {
            rc = ent__err(ENT_BUSY, "store %s: this thread holds a read transaction while a writer must grow the "
                                    "map; end it and retry the write", e->path);
            break;
        }
        pthread_cond_wait(&e->gcv, &e->gmu);
    }
    pthread_mutex_unlock(&e->gmu);
    return rc;
}

/* Release wmu under gmu, so that a thread between its trylock and its wait cannot miss it. */
static void writer_unlock(lenv *e)
{
    pthread_mutex_lock(&e->gmu);
    pthread_mutex_unlock(&e->wmu);
    pthread_cond_broadcast(&e->gcv);
    pthread_mutex_unlock(&e->gmu);
}

static int l_txn_begin(void *vbe, int write, void **out_txn)
{
    lbe *be = vbe;
    lenv *e = be->e;
    ltxn *t;
    int rc;
    if (forked(e)) return ENT_BUSY;
    if (write && be->read_only) return ent__err(ENT_READONLY, "store %s is open read-only", e->path);
    t = calloc(1, sizeof *t);
    if (!t) return ent__err(ENT_NOMEM, "out of memory for a transaction");
    t->be = be;
    t->e = e;
    t->write = write;
    if (write) {
        if ((rc = writer_lock(e))) {
            free(t);
            return rc;
        }
        while (flock(e->lockfd, LOCK_EX) < 0) {
            if (errno != EINTR) {
                rc = ent__err(ENT_IO, "store %s: locking writer.lock: %s", e->path, strerror(errno));
                writer_unlock(e);
                free(t);
                return rc;
            }
        }
    }
    rc = hold_acquire(e);
    if (rc == ENT_OK) {
        rc = txn_begin_mdb(t);
        if (rc) hold_release(e);
    }
    if (rc) {
        if (write) {
            flock(e->lockfd, LOCK_UN);
            writer_unlock(e);
        }
        free(t);
        return rc;
    }
    if (write) log_reset(&e->log, 1);
    *out_txn = t;
    return ENT_OK;
}

static void cur_free(lcur *c)
{
    free(c->sbuf);
    free(c);
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
    hold_release(e);
    if (t->write) {
        log_reset(&e->log, 1);
        flock(e->lockfd, LOCK_UN);
        writer_unlock(e);
    }
    free(t);
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

static void l_txn_abort(void *vtxn)
{
    ltxn *t = vtxn;
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
            pthread_mutex_lock(&e->rcmu);
            if (e->nrcache < RCACHE_MAX) {
                mdb_txn_reset(t->m);
                e->rcache[e->nrcache++] = t->m;
            } else {
                mdb_txn_abort(t->m);
            }
            pthread_mutex_unlock(&e->rcmu);
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

static void notify_bump(lenv *e)
{
    if (!e->nt || !e->nt_writable) return;
    atomic_fetch_add(&e->nt->counter, 1);
    atomic_fetch_add(&e->nt->word, 1);
    if (atomic_load(&e->nt->waiters))
        syscall(SYS_futex, &e->nt->word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void save_cursors(ltxn *t)
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
            return lerr(mrc, "table %s: reopening a cursor after growing the map", tname(t->e, c->tbl));
        }
        if (c->saved) {
            MDB_val k = {c->skl, c->sbuf}, v = {c->svl, c->sbuf + c->skl};
            if (t->e->tab[c->tbl].flags & ENT_TBL_DUPSORT) mdb_cursor_get(c->c, &k, &v, MDB_GET_BOTH_RANGE);
            else mdb_cursor_get(c->c, &k, &v, MDB_SET_RANGE);
        }
    }
    return ENT_OK;
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

/* The write txn hit MDB_MAP_FULL (t->m is broken, or already freed by a failed commit when NULL):
 * grow the map and rebuild the txn from the op log. On failure the txn is dead (t->failed). */
static int grow(ltxn *t)
{
    lenv *e = t->e;
    MDB_envinfo info;
    int rc = ENT_OK, mrc;
    if (hold_depth(e) != 1) {
        rc = ent__err(ENT_BUSY, "store %s: the map is full and cannot grow while this thread holds another transaction",
                      e->path);
        goto fail;
    }
    save_cursors(t);
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
            rc = ent__err(ENT_FULL, "store %s: the map cannot grow beyond %zu bytes", e->path, size);
            goto fail;
        }
        size *= 2;
        if ((rc = resize_exclusive(e, size))) goto fail;
        if ((rc = txn_begin_mdb(t))) goto fail;
        if (!t->in_sp) {
            mrc = replay(t, 0, e->log.n);
        } else if (!(mrc = replay(t, 0, t->sp_mark))) {
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
            rc = lerr(mrc, "store %s: replaying a transaction after growing the map", e->path);
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
    t->in_sp = 0;
    t->pm = NULL;
    t->failed = rc;
    return rc;
}

/* ---- savepoints: nested LMDB txns ------------------------------------------------------------ */

static int l_sp_begin(void *vtxn)
{
    ltxn *t = vtxn;
    lenv *e = t->e;
    MDB_txn *child;
    int mrc;
    if (forked(e)) return ENT_BUSY;
    if (!t->write || t->in_sp) return ent__err(ENT_INVALID, "store %s: savepoint: not a write transaction, or one is open already", e->path);
    if (t->failed) return ent__err(t->failed, "store %s: the transaction failed earlier", e->path);
    if (t->curs) return ent__err(ENT_INVALID, "store %s: savepoint: a cursor is open", e->path);
    if ((mrc = mdb_txn_begin(e->env, t->m, 0, &child))) return lerr(mrc, "store %s: beginning a savepoint", e->path);
    t->pm = t->m;
    t->m = child;
    t->sp_mark = e->log.n;
    t->in_sp = 1;
    return ENT_OK;
}

static int l_sp_end(void *vtxn, int keep)
{
    ltxn *t = vtxn;
    lenv *e = t->e;
    int rc = ENT_OK, mrc;
    if (forked(e)) return ENT_BUSY;
    if (!t->in_sp) {
        if (t->failed) return ent__err(t->failed, "store %s: the transaction failed earlier", e->path);
        return ent__err(ENT_INVALID, "store %s: savepoint: none is open", e->path);
    }
    for (lcur *c = t->curs; c; c = c->next) c->c = NULL; /* LMDB frees a child's cursors with it */
    t->in_sp = 0;
    if (keep && !t->failed) {
        mrc = mdb_txn_commit(t->m); /* into the parent: nothing reaches the disk yet */
        t->m = t->pm;
        t->pm = NULL;
        if (mrc) {
            rc = lerr(mrc, "store %s: keeping a savepoint", e->path);
            t->failed = rc;
        }
        return rc;
    }
    /* A failure inside the savepoint broke the child only (a growth that failed ended both, see
     * grow()): undo the child and what the op log holds of it, and the parent goes on. */
    rc = t->failed;
    mdb_txn_abort(t->m);
    t->m = t->pm;
    t->pm = NULL;
    e->log.n = t->sp_mark;
    t->failed = 0;
    if (keep) return ent__err(rc, "store %s: the savepoint failed; it was undone", e->path);
    return ENT_OK;
}

/* dur: the durability of this commit (t->be->dur, or lazy for a durable store's commit whose last
 * sync l_sync() does later). notify: bump the change counter now (else l_sync() does). */
static int commit_as(ltxn *t, int dur, int notify)
{
    lenv *e = t->e;
    int rc = ENT_OK, mrc;
    if (forked(e)) {
        l_txn_abort(t);
        return ENT_BUSY;
    }
    if (!t->write) {
        l_txn_abort(t);
        return ENT_OK;
    }
    if (t->in_sp && !t->failed) l_sp_end(t, 1);
    if (t->failed) {
        rc = t->failed;
        l_txn_abort(t);
        return ent__err(rc, "store %s: the transaction failed earlier; nothing was committed", e->path);
    }
    if (e->env_dur != dur) {
        /* Flags are per environment; handles sharing it may differ, and only the writer reads them. */
        mdb_env_set_flags(e->env, MDB_NOSYNC | MDB_NOMETASYNC, 0);
        if (env_flags_for(dur)) mdb_env_set_flags(e->env, env_flags_for(dur), 1);
        e->env_dur = dur;
    }
    for (;;) {
        save_cursors(t); /* commit frees them; keeps positions in case of a replay */
        mrc = mdb_txn_commit(t->m);
        t->m = NULL;
        if (mrc != MDB_MAP_FULL) break;
        if ((rc = grow(t))) break;
    }
    if (!rc && mrc) rc = lerr(mrc, "store %s: commit", e->path);
    if (!rc && notify) notify_bump(e);
    if (pin_want == e && !pin_held && hold_acquire(e) == ENT_OK) pin_held = e; /* cannot wait: held */
    pin_want = NULL;
    dbi_settle(t, rc == ENT_OK);
    txn_finish(t);
    return rc;
}

static int l_txn_commit(void *vtxn)
{
    ltxn *t = vtxn;
    return commit_as(t, t->be->dur, 1);
}

/* A durable commit costs two syncs: the data pages, then the meta page that makes them the
 * committed state. This commit does the first (lazy: the store is never corrupt after a crash of
 * the system, it may lose this commit) and leaves the second to l_sync(), which the committing
 * thread calls after it let the next writer in: the meta sync of one group commit then runs while
 * the next group works and syncs its pages. The change counter moves when the commit is durable. */
static int l_txn_commit_unsynced(void *vtxn)
{
    ltxn *t = vtxn;
    int durable = t->be->dur == ENT__DUR_DURABLE;
    return commit_as(t, durable ? ENT__DUR_LAZY : t->be->dur, !durable);
}

static int l_sync(void *vbe)
{
    lbe *be = vbe;
    lenv *e = be->e;
    int mrc;
    if (forked(e)) return ENT_BUSY;
    if (be->dur != ENT__DUR_DURABLE) return ENT_OK;
    if ((mrc = mdb_env_sync(e->env, 1))) return lerr(mrc, "store %s: syncing a commit", e->path);
    notify_bump(e);
    return ENT_OK;
}

/* ---- reads and writes ----------------------------------------------------------------------- */

static int key_ok(ltxn *t, unsigned tbl, const ent_slice *k)
{
    return k->len > 0 && k->len <= t->e->maxkey && tbl < t->e->maxtab;
}

static int l_get(void *vtxn, unsigned tbl, const ent_slice *k, ent_slice *out_v)
{
    ltxn *t = vtxn;
    lenv *e = t->e;
    MDB_val mk = {k->len, (void *)k->data}, mv;
    if (forked(e)) return ENT_BUSY;
    if (t->failed) return ent__err(t->failed, "store %s: the transaction failed earlier", e->path);
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key (table %s)", tname(e, tbl));
    if (!key_ok(t, tbl, k)) return ENT_NOTFOUND; /* longer than any stored key */
    int mrc = mdb_get(t->m, e->tab[tbl].dbi, &mk, &mv);
    /* Not found is an answer, not a failure, on the hot path of every create: no message. */
    if (mrc == MDB_NOTFOUND) return ENT_NOTFOUND;
    if (mrc) return lerr(mrc, "table %s: get", tname(e, tbl));
    out_v->data = mv.mv_data;
    out_v->len = mv.mv_size;
    return ENT_OK;
}

static int write_check(ltxn *t, unsigned tbl)
{
    if (forked(t->e)) return ENT_BUSY;
    if (!t->write) return ent__err(ENT_READONLY, "table %s: write in a read transaction", tname(t->e, tbl));
    if (t->failed) return ent__err(t->failed, "store %s: the transaction failed earlier", t->e->path);
    if (tbl >= t->e->maxtab) return ent__err(ENT_INVALID, "table handle %u is out of range", tbl);
    return ENT_OK;
}

static int l_put(void *vtxn, unsigned tbl, const ent_slice *k, const ent_slice *v, unsigned flags)
{
    ltxn *t = vtxn;
    lenv *e = t->e;
    int rc = write_check(t, tbl), mrc;
    if (rc) return rc;
    ltab *tb = &e->tab[tbl];
    int dup = (tb->flags & ENT_TBL_DUPSORT) != 0;
    if (k->len == 0) return ent__err(ENT_INVALID, "table %s: empty keys are not allowed", tb->name);
    if (k->len > e->maxkey)
        return ent__err(ENT_FULL, "table %s: key of %zu bytes exceeds the backend limit of %zu", tb->name, k->len, e->maxkey);
    if (dup && v->len > e->maxkey)
        return ent__err(ENT_FULL, "table %s: value of %zu bytes in a DUPSORT table exceeds the backend limit of %zu",
                        tb->name, v->len, e->maxkey);
    MDB_val mk = {k->len, (void *)k->data}, mv = {v->len, (void *)v->data};
    unsigned mf = (flags & ENT_PUT_NOOVERWRITE) ? (dup ? MDB_NODUPDATA : MDB_NOOVERWRITE) : 0;
    unsigned hint = (flags & ENT_PUT_APPEND) ? (dup ? MDB_APPENDDUP : MDB_APPEND) : 0;
    for (;;) {
        mrc = mdb_put(t->m, tb->dbi, &mk, &mv, mf | hint);
        if (mrc == MDB_KEYEXIST && hint) {
            hint = 0; /* the hint was wrong: an ordinary put decides */
            continue;
        }
        if (mrc != MDB_MAP_FULL) break;
        if ((rc = grow(t))) return rc;
    }
    if (mrc == MDB_KEYEXIST)
        return ent__err(ENT_CONFLICT, "table %s: %s of %zu bytes exists already", tb->name, dup ? "pair with key" : "key", k->len);
    if (mrc) {
        rc = lerr(mrc, "table %s: put of a %zu-byte value", tb->name, v->len);
        t->failed = rc; /* LMDB refuses further use of the txn after such errors */
        return rc;
    }
    return log_add(t, OP_PUT, tbl, mf, &mk, &mv);
}

static int l_del(void *vtxn, unsigned tbl, const ent_slice *k, const ent_slice *v)
{
    ltxn *t = vtxn;
    lenv *e = t->e;
    int rc = write_check(t, tbl), mrc;
    if (rc) return rc;
    ltab *tb = &e->tab[tbl];
    int pair = v && (tb->flags & ENT_TBL_DUPSORT);
    if (k->len == 0) return ent__err(ENT_INVALID, "empty key (table %s)", tb->name);
    if (!key_ok(t, tbl, k)) return ent__err(ENT_NOTFOUND, "key of %zu bytes not found in table %s", k->len, tb->name);
    MDB_val mk = {k->len, (void *)k->data}, mv = {pair ? v->len : 0, pair ? (void *)v->data : NULL};
    for (;;) {
        mrc = mdb_del(t->m, tb->dbi, &mk, pair ? &mv : NULL);
        if (mrc != MDB_MAP_FULL) break;
        if ((rc = grow(t))) return rc;
    }
    if (mrc == MDB_NOTFOUND) return ent__err(ENT_NOTFOUND, "key not found in table %s", tb->name);
    if (mrc) {
        rc = lerr(mrc, "table %s: delete", tb->name);
        t->failed = rc;
        return rc;
    }
    return log_add(t, pair ? OP_DEL : OP_DELKEY, tbl, 0, &mk, pair ? &mv : NULL);
}

static int l_clear(void *vtxn, unsigned tbl)
{
    ltxn *t = vtxn;
    int rc = write_check(t, tbl), mrc;
    if (rc) return rc;
    for (;;) {
        mrc = mdb_drop(t->m, t->e->tab[tbl].dbi, 0);
        if (mrc != MDB_MAP_FULL) break;
        if ((rc = grow(t))) return rc;
    }
    if (mrc) {
        rc = lerr(mrc, "table %s: clear", tname(t->e, tbl));
        t->failed = rc;
        return rc;
    }
    return log_add(t, OP_CLEAR, tbl, 0, NULL, NULL);
}

/* ---- cursors -------------------------------------------------------------------------------- */

static int l_cursor_open(void *vtxn, unsigned tbl, void **out_cur)
{
    ltxn *t = vtxn;
    lcur *c;
    int mrc;
    if (forked(t->e)) return ENT_BUSY;
    if (t->failed) return ent__err(t->failed, "store %s: the transaction failed earlier", t->e->path);
    if (tbl >= t->e->maxtab) return ent__err(ENT_INVALID, "table handle %u is out of range", tbl);
    c = calloc(1, sizeof *c);
    if (!c) return ent__err(ENT_NOMEM, "out of memory for a cursor");
    mrc = mdb_cursor_open(t->m, t->e->tab[tbl].dbi, &c->c);
    if (mrc) {
        free(c);
        return lerr(mrc, "table %s: opening a cursor", tname(t->e, tbl));
    }
    c->t = t;
    c->tbl = tbl;
    c->next = t->curs;
    if (t->curs) t->curs->prev = c;
    t->curs = c;
    *out_cur = c;
    return ENT_OK;
}

static void l_cursor_close(void *vcur)
{
    lcur *c = vcur;
    if (!c) return;
    if (c->prev) c->prev->next = c->next;
    else c->t->curs = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->c && c->t->e->gen == ent__fork_gen()) mdb_cursor_close(c->c);
    cur_free(c);
}

static int l_cursor_get(void *vcur, int op, ent_slice *k, ent_slice *v)
{
    lcur *c = vcur;
    ltxn *t = c->t;
    lenv *e = t->e;
    MDB_val mk = {0, NULL}, mv = {0, NULL};
    int mrc, dup = (e->tab[c->tbl].flags & ENT_TBL_DUPSORT) != 0;
    if (forked(e)) return ENT_BUSY;
    if (t->failed || !c->c) return ent__err(t->failed ? t->failed : ENT_INVALID, "store %s: the transaction failed earlier", e->path);
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
        if (!dup) return ent__err(ENT_INVALID, "table %s: SEEK_PAIR needs a DUPSORT table", tname(e, c->tbl));
        if (k->len == 0) {
            mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_FIRST);
            break;
        }
        mk.mv_size = k->len;
        mk.mv_data = (void *)k->data;
        mv.mv_size = v->len;
        mv.mv_data = (void *)v->data;
        /* GET_BOTH_RANGE stays within the key; past its last value the answer is the next key. */
        mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_GET_BOTH_RANGE);
        if (mrc == MDB_NOTFOUND) {
            MDB_val want = {k->len, (void *)k->data};
            mk = want;
            mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_SET_RANGE);
            if (mrc == 0 && mk.mv_size == want.mv_size && memcmp(mk.mv_data, want.mv_data, want.mv_size) == 0)
                mrc = mdb_cursor_get(c->c, &mk, &mv, MDB_NEXT_NODUP);
        }
        break;
    default: return ent__err(ENT_INVALID, "unknown cursor operation %d", op);
    }
    if (mrc == MDB_NOTFOUND || (mrc == EINVAL && op == ENT_CUR_CURRENT))
        return ent__err(ENT_NOTFOUND, "no such pair in table %s", tname(e, c->tbl));
    if (mrc) return lerr(mrc, "table %s: cursor", tname(e, c->tbl));
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
        memcpy(c->sbuf, mk.mv_data, mk.mv_size);
        if (mv.mv_size) memcpy(c->sbuf + mk.mv_size, mv.mv_data, mv.mv_size);
        c->skl = mk.mv_size;
        c->svl = mv.mv_size;
        c->saved = 1;
    }
    k->data = mk.mv_data;
    k->len = mk.mv_size;
    v->data = mv.mv_data;
    v->len = mv.mv_size;
    return ENT_OK;
}

/* ---- the rest ------------------------------------------------------------------------------- */

static int l_info(void *vbe, ent_backend_info *out)
{
    lbe *be = vbe;
    lenv *e = be->e;
    MDB_envinfo ei;
    MDB_stat st;
    struct stat fs;
    char *data;
    if (forked(e)) return ENT_BUSY;
    mdb_env_info(e->env, &ei);
    mdb_env_stat(e->env, &st);
    memset(out, 0, sizeof *out);
    out->map_size = ei.me_mapsize;
    out->used_bytes = (uint64_t)(ei.me_last_pgno + 1) * st.ms_psize;
    out->max_key = e->maxkey;
    data = path_join(e->path, "data.mdb");
    if (!data) return ent__err(ENT_NOMEM, "out of memory");
    if (stat(data, &fs) == 0) out->disk_bytes = (uint64_t)fs.st_size;
    free(data);
    return ENT_OK;
}

static int l_copy(void *vbe, const char *dest, int compact)
{
    lbe *be = vbe;
    lenv *e = be->e;
    char *data;
    int rc = ENT_OK, mrc, fd;
    if (forked(e)) return ENT_BUSY;
    if (mkdir(dest, 0775) < 0 && errno != EEXIST)
        return ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "cannot create %s: %s", dest, strerror(errno));
    data = path_join(dest, "data.mdb");
    if (!data) return ent__err(ENT_NOMEM, "out of memory");
    /* The file is made here, exclusively: a second copy to the same place is refused, and a copy
     * cut short (a full disk) removes only the file it made itself. */
    fd = open(data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0664);
    if (fd < 0) {
        rc = errno == EEXIST ? ent__err(ENT_CONFLICT, "copy destination %s holds a data.mdb already", dest)
                             : ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "cannot create %s: %s",
                                        data, strerror(errno));
        free(data);
        return rc;
    }
    if ((rc = hold_acquire(e))) { /* no resize while LMDB reads the map */
        close(fd);
        unlink(data);
        free(data);
        return rc;
    }
    mrc = mdb_env_copyfd2(e->env, fd, compact ? MDB_CP_COMPACT : 0);
    hold_release(e);
    if (!mrc && fsync(fd) < 0) mrc = errno;
    if (close(fd) < 0 && !mrc) mrc = errno;
    if (mrc) {
        rc = lerr(mrc, "copying store %s to %s", e->path, dest);
        unlink(data);
    }
    free(data);
    return rc;
}

static uint64_t l_change_counter(void *vbe)
{
    lbe *be = vbe;
    return be->e->nt ? atomic_load(&be->e->nt->counter) : 0;
}

static int l_wait_change(void *vbe, uint64_t seen, int timeout_ms)
{
    lbe *be = vbe;
    lenv *e = be->e;
    lnotify *nt = e->nt;
    struct timespec now, dl;
    int rc = ENT_OK;
    if (forked(e)) return ENT_BUSY;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms > 0) {
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    if (nt && e->nt_writable) atomic_fetch_add(&nt->waiters, 1);
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
        if (nt) syscall(SYS_futex, &nt->word, FUTEX_WAIT, w, tp, NULL, 0);
        else nanosleep(tp, NULL);
    }
    if (nt && e->nt_writable) atomic_fetch_sub(&nt->waiters, 1);
    return rc;
}

static int l_set_durability(void *vbe, int durability)
{
    lbe *be = vbe;
    if (durability < ENT__DUR_DURABLE || durability > ENT__DUR_NONE)
        return ent__err(ENT_INVALID, "durability %d is not one of durable (0), lazy (1), none (2)", durability);
    be->dur = durability; /* applied to the environment by the next commit */
    return ENT_OK;
}

static uint64_t l_snapshot_id(void *vtxn)
{
    ltxn *t = vtxn;
    return t->m && !t->write ? (uint64_t)mdb_txn_id(t->m) : 0;
}

/* pin asks the next commit of this thread to keep its hold past the commit (taken after any
 * map growth, which needs the thread's only hold); unpin lets it go. */
static void l_pin(void *vbe) { pin_want = ((lbe *)vbe)->e; }
static void l_unpin(void *vbe)
{
    lenv *e = ((lbe *)vbe)->e;
    if (pin_held == e) {
        pin_held = NULL;
        hold_release(e);
    }
    pin_want = NULL;
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
    .snapshot_id = l_snapshot_id,
    .pin = l_pin,
    .unpin = l_unpin,
    .sp_begin = l_sp_begin,
    .sp_end = l_sp_end,
    .txn_commit_unsynced = l_txn_commit_unsynced,
    .sync = l_sync,
};
