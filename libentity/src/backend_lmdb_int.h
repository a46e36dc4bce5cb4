/* Internals of the LMDB backend shared by its files: backend_lmdb.c (tables, transactions,
 * reads and writes, cursors, the vtable), backend_lmdb_env.c (environments, the process registry,
 * errors, the resize lock) and backend_lmdb_grow.c (the op log, map growth, change notification).
 * Nothing outside these files includes it. */
#ifndef ENT_BACKEND_LMDB_INT_H
#define ENT_BACKEND_LMDB_INT_H
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

/* 1 in a ThreadSanitizer build (GCC defines __SANITIZE_THREAD__, clang has the feature test). */
#if defined(__SANITIZE_THREAD__)
#define ENT__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ENT__TSAN 1
#endif
#endif
#ifndef ENT__TSAN
#define ENT__TSAN 0
#endif

/* Address space, not disk: the file grows only as pages are used. Large on 64-bit, because the
 * map cannot grow while the writing thread also holds a read transaction (an open iterator):
 * that write fails with ENT_BUSY, so growth should be rare. */
#define DEFAULT_MAP_SIZE (sizeof(size_t) >= 8 ? (size_t)1 << 36 : (size_t)1 << 29)
/* LMDB's maxdbs is fixed for an environment's life, and every savepoint (a nested txn: one per
 * caller of a group commit) callocs and clears a slot per table it could hold: 57 bytes each, 14.6
 * KiB at 256 (callgrind: 4096 for every store made the creates of 8 threads 4.2x the
 * instructions). So the bound is sized per store, never below DEFAULT_TABLES: twice what the
 * store holds or the opening schema needs, so that evolutions made while it is open have room
 * (ent__lmdb_tables_for), up to MAX_TABLES. */
#define DEFAULT_TABLES 256
#define MAX_TABLES 32768
#define RCACHE_MAX 4 /* reset read txns kept per environment (each keeps a reader slot) */
#define MAX_READERS 510
#define GROW_WAIT_S 10 /* how long a resize waits for the other transactions of the process */
#define DBI_WAIT_S 10
#define HOLD_SLOTS 16

/* Waiting processes that can be told dead from alive (backend_lmdb_grow.c): a process waiting
 * for a commit holds an open-file-description lock on byte WAIT_LOCK_BASE + i of the notify file
 * (released by the kernel however it ends) while slot[i] says it counts in `waiters`. */
#define WAIT_SLOTS 64
#define WAIT_LOCK_BASE 4096 /* past the mapped page: the bytes are only locked, never written */

typedef struct lnotify {
    _Atomic uint32_t word;    /* futex word: changes on every commit */
    _Atomic uint32_t waiters; /* processes inside wait_change (to skip needless wakes); one per
                               * process since 2026-12-05 (threads per process before) */
    _Atomic uint64_t counter; /* commits */
    /* 1 while a writer grows the map (backend_lmdb_grow.c): it holds writer.lock exclusively for
     * as long, and a writer of another process that begins meanwhile steps back until it ends. */
    _Atomic uint32_t growing;
    /* 1 while the holder of slot i's lock counts in `waiters` (0 in files of older libraries,
     * whose waiters count without a slot) */
    _Atomic uint32_t slot[WAIT_SLOTS];
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
    size_t bytes; /* keys and values recorded (bounds the pages the txn can dirty) */
} loplog;

typedef struct lenv {
    struct lenv *next;
    dev_t dev;
    ino_t ino;
    unsigned gen; /* fork generation at open */
    unsigned refs; /* under reg_mu */
    char *path;
    char *dir; /* path made absolute at the open (realpath), for the files named after it */
    MDB_env *env;
    int read_only;
    size_t maxkey;
    MDB_dbi main_dbi;
    /* The resize lock: shared by every txn, exclusive while the map is resized (backend_lmdb_env.c,
     * "the resize lock"). Not a pthread rwlock: see hold_lock_shared(). Under rsmu. */
    pthread_mutex_t rsmu;
    pthread_cond_t rscv;
    unsigned rs_readers; /* threads holding it shared */
    unsigned rs_waiting; /* resizers waiting for it */
    int rs_resizing;     /* a resizer holds it (or it is granted to one) */
    int rs_granted;      /* handed to a waiting resizer that has yet to take it */
    pthread_mutex_t wmu; /* one write txn per process (the flock is per open file, not per thread) */
    /* The thread that holds wmu (the address of its writer_mark, backend_lmdb.c), NULL when none:
     * only that thread stores its own mark, so it alone can find it there. */
    _Atomic(const void *) wowner;
    /* A thread that holds a txn already does not block on wmu (l_txn_begin): it waits on gcv
     * under gmu, a leaf lock, for wmu to be released or a resize to become pending. */
    pthread_mutex_t gmu;
    pthread_cond_t gcv;
    unsigned resizing; /* resizers waiting for or holding rs exclusively (under gmu) */
    int lockfd;     /* writer.lock, held exclusively only by a writer that grows the map */
    int nolockfd;   /* data.mdb, read-only, holding NOLOCK_BYTE shared: this env reads without lock.mdb (-1: not) */
    int grow_lock;  /* this process's writer holds it (and nt->growing is set): under wmu */
    lnotify *nt;
    int nt_writable;
    int ntfd;          /* the notify file, read-write (-1: none): its slot locks */
    pthread_mutex_t ntmu; /* nt_local and nt_slot */
    unsigned nt_local; /* this process's threads inside wait_change */
    int nt_slot;       /* the slot they hold (-1: counted without one) */
    /* A resize failed after LMDB let the old map go (mdb_env_set_mapsize() unmaps before it maps
     * the new size, and does not map again on a later call): the environment has no map, and
     * every use of it would fault. Set under the exclusive rs; read by ent__lmdb_unmapped(). */
    _Atomic int unmapped;
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
    unsigned sweep_in; /* write txns until the next check for dead readers (under wmu) */
    /* Ended read txns kept reset for mdb_txn_renew(): mdb_txn_begin() callocs a txn sized by
     * maxdbs (~13 KiB here), a fifth of a single get in perf. Under rcmu; never used in a child. */
    pthread_mutex_t rcmu;
    MDB_txn *rcache[RCACHE_MAX];
    int nrcache;
    /* One more, before those: taken and put back with atomic exchanges instead of rcmu (a get in a
     * read txn of its own locked rcmu twice). Like rcache, used only under a hold, drained under
     * the exclusive rs. */
    _Atomic(MDB_txn *) rslot;
    /* An ended txn's struct kept for the next begin (atomic exchanges, no lock): with the reset
     * read txns above, a read txn of its own costs a get no allocation. */
    _Atomic(struct ltxn *) spare;
    /* The write-ahead file of durable commits (backend_lmdb_wal.c); NULL when the store has none
     * (read-only, or a directory this process may not write). Used under wmu. */
    struct lwal *wal;
} lenv;

typedef struct lbe {
    lenv *e;
    int dur;
    int read_only;
    /* The data.mdb this handle was opened by, as an absolute path (NULL: the current directory
     * could not be read at open, and at_path cannot tell): see ent__lmdb_at_path(). */
    char *data_at;
    char *shown; /* the directory as given, made absolute (messages name it); NULL: data_at's */
} lbe;

struct ltxn;
typedef struct lcur {
    struct ltxn *t;
    unsigned tbl;
    MDB_cursor *c;
    unsigned char *sbuf; /* saved position across a map growth */
    size_t scap, skl, svl;
    int saved;
    uint64_t seen_writes; /* the txn's `writes` at the last move */
    struct lcur *next, *prev;
} lcur;

typedef struct ltxn {
    lbe *be;
    lenv *e;
    MDB_txn *m;
    int write;
    int failed; /* the ENT_* code that broke this write txn, 0 if fine */
    int failed_detail; /* its ENT_DETAIL_*: said again by every later call that meets `failed` */
    int owns_dbi;
    lcur *curs;
    /* A savepoint (l_sp_begin) is a nested LMDB txn: m is then the child and pm its parent; the
     * op log's entries from sp_mark on are the child's, so a growth can rebuild both. */
    int in_sp;
    MDB_txn *pm;
    size_t sp_mark;
    /* Puts, deletes and clears so far: a cursor that last moved before the latest re-finds its
     * position by the saved pair instead of trusting LMDB's fix-up of cursors beside a write,
     * which skips pairs (l_cursor_get). */
    uint64_t writes;
    size_t wid; /* write: the LMDB txn id it began as (a growth must rebuild it on the same one) */
} ltxn;

/* backend_lmdb_env.c */
unsigned ent__lmdb_env_flags_for(int dur);
/* The table bound of an environment for a store that holds or needs n tables (DEFAULT_TABLES
 * at least, room for n more, at most MAX_TABLES). */
unsigned ent__lmdb_tables_for(uint64_t n);
int ent__lmdb_forked(const lenv *e);
int ent__lmdb_hold_acquire(lenv *e);
unsigned ent__lmdb_hold_depth(const lenv *e);
/* 1 when this thread holds e's resize lock at all (a txn or a pin). */
int ent__lmdb_hold_any(const lenv *e);
void ent__lmdb_hold_release(lenv *e);
void ent__lmdb_close(ent_bk *vbe);
int ent__lmdb_open(ent_bk **out_be, const char *path, const ent_backend_opts *opts);
/* ENT_* code of an LMDB (or errno) code, with the message "<context>: <LMDB text>". */
int ent__lmdb_lerr(int mrc, const char *fmt, ...) ENT__PRINTF(2, 3);
/* The error of a write to the disk (a commit, a sync) that failed with mrc: ENT_FULL naming a full
 * disk or the file size limit where that is why, else as ent__lmdb_lerr(). committed: the write
 * failed after the commit became the store's state (a durable commit's last sync), and the
 * message says so; else it says that nothing was committed. */
/* backend_lmdb_pages.c: the check_pages method (backend.h). */
int ent__lmdb_check_pages(ent_btxn *txn, const char *table, void (*cb)(const char *line, void *payload), void *payload,
                          uint64_t *out_problems);
/* The main table's own pages (the list of tables) of read txn m's snapshot, walked as check_pages
 * walks every tree, before the open reads them through LMDB, which trusts them. Returns ENT_OK,
 * ENT_CORRUPT naming the first damage, ENT_IO, ENT_NOMEM. */
int ent__lmdb_check_main(lenv *e, MDB_txn *m);
int ent__lmdb_werr(const lenv *e, int mrc, const char *what, int committed);
char *ent__lmdb_path_join(const char *dir, const char *name);
/* at_path (backend.h): whether the environment's open data.mdb is still the one at be->data_at. */
int ent__lmdb_at_path(ent_bk *be);
/* fsync of the directory dir (parent: of the directory that holds path), so that the names of
 * files just made in it outlast a power cut. 0 or the errno; a file system that cannot sync a
 * directory (EINVAL), or one this process may not read, counts as done. */
int ent__lmdb_sync_dir(const char *dir);
int ent__lmdb_sync_parent(const char *path);
int ent__lmdb_resize_exclusive(lenv *e, size_t size);
/* ENT_OK, or the error of an environment left without its map by a failed resize. */
int ent__lmdb_unmapped(const lenv *e);
/* Growth announcements (backend_lmdb_grow.c). announce: take writer.lock exclusively and set
 * nt->growing, once per write txn (kept until the txn ends, ent__lmdb_grow_end); holds_writer (the
 * caller's LMDB txn is live, so it holds LMDB's writer mutex): waits ~100 ms at most, then
 * ENT_BUSY (another process may hold the lock and wait for that mutex). wait: a writer
 * that began while another process grows steps back here until that growth is over. */
int ent__lmdb_grow_announce(lenv *e, int holds_writer);
void ent__lmdb_grow_end(lenv *e);
int ent__lmdb_grow_wait(lenv *e);
/* 1 when a commit of t could run out of map (see commit_as in backend_lmdb.c). */
int ent__lmdb_commit_may_fill(const ltxn *t);
const char *ent__lmdb_tname(const lenv *e, unsigned tbl);

/* Record a write of t in the op log (replayed after a growth); reset the log (keep: its memory). */
int ent__lmdb_log_add(ltxn *t, int op, unsigned tbl, unsigned mflags, const MDB_val *k, const MDB_val *v);
void ent__lmdb_log_reset(loplog *l, int keep);
void ent__lmdb_pin(lenv *e);
void ent__lmdb_unpin(lenv *e);
void ent__lmdb_pin_commit(lenv *e);

/* backend_lmdb_grow.c */
int ent__lmdb_txn_begin_mdb(ltxn *t);
/* t is broken by the failure rc that this thread's message names: later calls say it again. */
static inline void ent__lmdb_failed(ltxn *t, int rc)
{
    t->failed = rc;
    t->failed_detail = ent_errdetail();
}

/* t hit MDB_MAP_FULL: grow the map and rebuild t from its op log (t->failed on failure). */
int ent__lmdb_grow(ltxn *t);
uint64_t ent__lmdb_change_counter(ent_bk *vbe);
int ent__lmdb_wait_change(ent_bk *vbe, uint64_t seen, int timeout_ms);
void ent__lmdb_notify_bump(lenv *e);
/* Clear the slots of waiters that died (kill -9) and take their count out of nt->waiters: each
 * left every later commit of every process one needless wake. At open and by every wait. */
void ent__lmdb_waiters_sweep(lenv *e, int except);
void ent__lmdb_save_cursors(ltxn *t);

/* backend_lmdb_wal.c: the write-ahead file (see its top). open: before mdb_env_open(), puts back
 * what a reboot left in it; lock: under wmu before LMDB's txn begins (durable: it will log);
 * begin: once LMDB's writer is held (*relock: begin again after lock(e, 1); it waits for the
 * records through x-2 before txn x writes a page); append: the record of the commit just made
 * (*out_txn), an LMDB or errno code;
 * fallback: make that commit durable without its record; sync: records through txn durable. */
int ent__lmdb_wal_open(lenv *e, const char *dir, int read_only);
/* 1 when this open found the file without a header (made now, or by an open cut short before
 * its first checkpoint): its name may not be on the disk yet (ent__lmdb_sync_dir). */
int ent__lmdb_wal_fresh(const lenv *e);
void ent__lmdb_wal_attach(lenv *e);
void ent__lmdb_wal_close(lenv *e, int in_child);
void ent__lmdb_wal_quiesce(lenv *e);
int ent__lmdb_wal_lock(lenv *e, int durable);
void ent__lmdb_wal_unlock(lenv *e);
int ent__lmdb_wal_begin(ltxn *t, int durable, int *relock);
int ent__lmdb_wal_logging(const lenv *e);
/* 1 when durable commits of e can go to the file (it is open, with its shared state). */
int ent__lmdb_wal_usable(const lenv *e);
int ent__lmdb_wal_append(lenv *e, uint64_t *out_txn);
int ent__lmdb_wal_fallback(lenv *e);
/* A logging commit the full disk refused (data.mdb could not grow): end the file's generation and
 * give its records' blocks back to the disk. Under the file's lock; best effort. */
void ent__lmdb_wal_give_back(lenv *e);
/* Under wmu, the file's lock and a hold: every commit visible now durable (the records through
 * it synced, or data.mdb synced and a new generation based there). */
int ent__lmdb_wal_sync_visible(lenv *e);
/* 1 when every commit visible now is durable already, known without any lock (LMDB's last txn is
 * the last record's, and the file is synced through it; a checkpoint, which makes every commit
 * durable, only moves them on): nothing for a forced sync to do. 0: not known, sync. */
int ent__lmdb_wal_synced_all(lenv *e);
int ent__lmdb_wal_sync(lenv *e, uint64_t gen, uint64_t txn);
uint64_t ent__lmdb_wal_gen(const lenv *e);
void ent__lmdb_wal_drop_reader(lenv *e);
void ent__lmdb_wal_forget_fd(lenv *e); /* a child just forked: its copy of the file's descriptor closed */
int ent__lmdb_wal_page_free(const lenv *e, uint64_t pg);
uint64_t ent__lmdb_wal_synced(const lenv *e);
extern int ent__lmdb_wal_no_map; /* tests: records read their pages with pread (see lmdb_map) */
extern _Atomic uint64_t ent__lmdb_wal_from_map; /* tests: records whose pages came from the map */
extern _Atomic uint64_t ent__lmdb_wal_sorted; /* tests: page numbers sorted to find commits' pages */
extern _Atomic uint64_t ent__lmdb_wal_free_touched; /* tests: free pages of changed free-list records read */
extern int ent__lmdb_wal_no_direct; /* tests: opens after this write records buffered (see dio.c) */
extern int ent__lmdb_wal_ro_cannot_write; /* tests: a read-only open may not open the wal for writing (EACCES) */
extern void (*ent__lmdb_lock_made_hook)(const char *dir); /* tests: a new lock.mdb made, not yet linked into place */
extern void (*ent__lmdb_checkpoint_read_hook)(void); /* tests: a checkpoint's snapshot begun, its meta page not yet read */
extern void (*ent__lmdb_copy_written_hook)(const char *file, int fd); /* tests: a copy written, not yet synced nor named data.mdb */
extern int ent__lmdb_wal_boot_unknown; /* tests: opens after this read no boot id (as without /proc) */
extern _Atomic uint64_t ent__lmdb_wal_direct; /* tests: records written with O_DIRECT */

#endif

