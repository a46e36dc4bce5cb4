/* The backend seam: named ordered tables of byte keys and values, transactions and cursors.
 *
 * Everything above this line of code (records, indexes, counters, the stored schema, refs, the log,
 * subscriptions) is written once in the store; a backend knows bytes and tables only. A new
 * backend is one file that fills an ent_backend_ops plus one line in the table of backends.c. The
 * store never calls these functions itself: every call goes through bk.c (the wrapper layer).
 *
 * Semantics every backend keeps (the contract suite in tests/contract_backend.c proves them):
 * - Keys compare as unsigned bytes (memcmp, then shorter first). In a DUPSORT table a key holds a
 *   sorted set of values (compared the same way); cursors visit (key, value) pairs in that order.
 * - A read transaction sees one snapshot for its whole life, whatever writers commit meanwhile.
 * - One write transaction at a time per store (across threads; across processes too when the
 *   backend declares ENT_BK_CAP_SHARED); txn_begin(write) blocks until the previous writer is
 *   done. A write transaction sees its own writes; an aborted one leaves nothing.
 * - A cursor keeps its position across writes of its own transaction: NEXT and PREV go on from
 *   the pair it stood on, in the table as it is now (from a pair that went: the pair after it,
 *   the pair before it), so pairs put after the position are visited.
 * - Slices returned by get/cursor_get are borrowed: valid until the next write in the same
 *   transaction or its end, whichever comes first. Do not write through them.
 * - A transaction and its cursors belong to one thread. The backend handle is shared by threads.
 * - Errors come back as ENT_* codes with the message set (ent__err), native text included.
 * - Keys (and DUPSORT values) up to the backend's max_key bytes are accepted; longer ones are
 *   refused with ENT_FULL by put and are never found by get.
 */
#ifndef ENT_BACKEND_H
#define ENT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

/* Version 2: typed handles, capabilities and limits; 3: check_pages; 4: at_path, and
 * check_pages of one table. A store refuses a backend of another version. */
#define ENT_BACKEND_VERSION 4

/* Handles of a backend: each backend defines these structs privately. Distinct types, so passing
 * a transaction where a cursor is expected does not compile. */
typedef struct ent_bk ent_bk;     /* an open store */
typedef struct ent_btxn ent_btxn; /* a transaction */
typedef struct ent_bcur ent_bcur; /* a cursor in one table of a transaction */


typedef struct ent_slice {
    const void *data;
    size_t len;
} ent_slice;

/* Durability of commits (ENT_DURABLE etc. in store.h have the same values). */
enum { ENT__DUR_DURABLE = 0, ENT__DUR_LAZY = 1, ENT__DUR_NONE = 2 };

typedef struct ent_backend_opts {
    int read_only;
    int must_exist;   /* open an existing store only: create no file (ENT_NOTFOUND when none) */
    int durability;   /* ENT__DUR_* */
    size_t map_size;  /* initial map size in bytes; 0 = backend default */
    unsigned max_tables; /* named tables the caller expects to need (the schema it creates or
                          * evolves to); 0: none known. A backend with a bound sizes it from this
                          * and from what the store holds (LMDB: ent__lmdb_tables_for()) */
    /* What followed ':' in the backend's name ("fault:memory" gives "memory"); NULL when nothing
     * did. A backend that takes no argument refuses one (ENT_INVALID). */
    const char *arg;
} ent_backend_opts;

typedef struct ent_backend_info {
    uint64_t map_size;   /* bytes reserved (LMDB map); 0 when not applicable */
    uint64_t used_bytes; /* bytes in use (LMDB: pages in use * page size; memory: approximate) */
    uint64_t disk_bytes; /* bytes on disk (file sizes); 0 for memory */
    uint64_t tables;     /* tables committed (LMDB: entries of the main database, named databases
                          * or not): what is there before a store creates its own */
    uint64_t readers;    /* read transactions holding a snapshot now, of every process (LMDB) */
    uint64_t oldest_behind; /* commits since the oldest of those snapshots (0: none older than the last) */
    int64_t oldest_pid;  /* the process that holds it (0: none) */
} ent_backend_info;

/* Capabilities: what not every engine can do. The store checks them instead of assuming them
 * (as sqlite3_vfs.iVersion gates methods); each optional method below names the one it needs, and
 * a backend that declares a capability without its method is refused at open. */
enum {
    ENT_BK_CAP_PERSISTENT = 1u << 0, /* data lives at `path` and outlives the handle */
    ENT_BK_CAP_VOLATILE = 1u << 1,   /* data lives in the handle only (path ignored): a scratch store */
    ENT_BK_CAP_COPY = 1u << 2,       /* copy(): a consistent copy to a directory */
    ENT_BK_CAP_SHARED = 1u << 3,     /* other processes may open the same store at once: the writer
                                      * lock and the change counter reach across processes */
    ENT_BK_CAP_DURABILITY = 1u << 4, /* set_durability(): commits can be synced or not */
    ENT_BK_CAP_SNAPSHOT_ID = 1u << 5,/* snapshot_id() */
    ENT_BK_CAP_PIN = 1u << 6,        /* pin()/unpin(): the commit holds something (LMDB: the hold
                                      * against map resizes) the delivery must not wait for */
    ENT_BK_CAP_GROWS = 1u << 7,      /* a fixed map that grows when full (info().map_size moves) */
    ENT_BK_CAP_SAVEPOINT = 1u << 8,  /* sp_begin()/sp_end(): part of a write txn undone alone (the
                                      * store's group commit needs it, and groups nothing without) */
    ENT_BK_CAP_SYNC_APART = 1u << 9, /* txn_commit_unsynced()/sync(): a commit's last sync done
                                      * later, outside the writer */
    ENT_BK_CAP_CHECK_PAGES = 1u << 10, /* check_pages(): the engine's own structure can be checked
                                        * without trusting it (verify runs it first) */
    ENT_BK_CAP_AT_PATH = 1u << 11      /* at_path(): whether the files open are still at the path */
};

/* What one open store of a backend can do and hold, read once by the store at open. */
typedef struct ent_backend_limits {
    unsigned caps;  /* ENT_BK_CAP_* */
    size_t max_key; /* largest key (and DUPSORT value) accepted, in bytes */
} ent_backend_limits;

/* table flags */
enum {
    ENT_TBL_CREATE = 1,  /* create when missing (write transactions only) */
    ENT_TBL_DUPSORT = 2  /* several sorted values per key */
};
/* The handle of a table that exists but that this open of the store has no room for (table()'s
 * ENT_FULL): a layout holds it so that the other tables stay usable; bk.c refuses every call on it. */
#define ENT__TBL_ABSENT 0xffffffffu
/* put flags */
enum {
    ENT_PUT_NOOVERWRITE = 1, /* fail with ENT_CONFLICT if the key exists (DUPSORT: the pair) */
    ENT_PUT_APPEND = 2       /* hint: the key sorts after every key in the table */
};
/* cursor operations */
enum {
    ENT_CUR_FIRST = 1, /* first pair */
    ENT_CUR_LAST,      /* last pair */
    ENT_CUR_NEXT,      /* next pair (after FIRST/SEEK..., or FIRST when unpositioned) */
    ENT_CUR_PREV,      /* previous pair (or LAST when unpositioned) */
    ENT_CUR_SEEK,      /* first pair whose key >= *k (DUPSORT: its first value) */
    ENT_CUR_SEEK_PAIR, /* DUPSORT: first pair >= (*k, *v) in (key, value) order */
    ENT_CUR_CURRENT    /* the pair at the position */
};

typedef struct ent_backend_ops {
    unsigned version; /* ENT_BACKEND_VERSION */
    const char *name; /* "lmdb", "memory", "fault": its name in the table of backends.c */
    /* Capabilities every open store of this backend has; an open one may report more in its
     * limits (a wrapping backend reports its inner backend's). Used to pick a backend by what it
     * can do before opening one (verify's scratch store: ENT_BK_CAP_VOLATILE). */
    unsigned caps;
    /* The key limit every open store of this backend keeps at least (0: none of its own). */
    size_t max_key;

    /* Open (creating when missing and not read-only) the store at path. A VOLATILE backend
     * ignores path. Returns ENT_OK, ENT_NOTFOUND (missing and read-only), ENT_IO, ENT_BUSY,
     * ENT_NOMEM, ENT_INVALID. out_be: freed with close(). */
    int (*open)(ent_bk **out_be, const char *path, const ent_backend_opts *opts);
    void (*close)(ent_bk *be);
    /* The capabilities and limits of this open store. */
    void (*limits)(ent_bk *be, ent_backend_limits *out);

    /* Resolve a named table inside txn (ENT_TBL_CREATE needs a write txn). The handle is valid
     * for the life of `be` once the txn that created it commits; if that txn aborts, a created
     * handle is forgotten. Returns ENT_OK, ENT_NOTFOUND (missing, no CREATE), ENT_FULL (too many
     * tables), ENT_READONLY. An ENT_FULL because this open of the store has no room for another
     * table (the table exists, another process made it: LMDB's maxdbs) sets *out_tbl to
     * ENT__TBL_ABSENT and leaves txn usable. */
    int (*table)(ent_bk *be, ent_btxn *txn, const char *name, unsigned flags, unsigned *out_tbl);

    int (*txn_begin)(ent_bk *be, int write, ent_btxn **out_txn);
    int (*txn_commit)(ent_btxn *txn); /* the txn is gone on return, whatever the code */
    void (*txn_abort)(ent_btxn *txn);

    /* Returns ENT_OK, ENT_NOTFOUND (without a message: the caller names what is missing).
     * DUPSORT: the first value of the key. */
    int (*get)(ent_btxn *txn, unsigned tbl, const ent_slice *k, ent_slice *out_v);
    /* Returns ENT_OK, ENT_CONFLICT (NOOVERWRITE), ENT_FULL (key too long; disk full after trying
     * to grow), ENT_READONLY, ENT_IO. A full LMDB map grows and the write retries inside. */
    int (*put)(ent_btxn *txn, unsigned tbl, const ent_slice *k, const ent_slice *v, unsigned flags);
    /* v NULL: the key with all its values; else (DUPSORT) only that pair.
     * Returns ENT_OK, ENT_NOTFOUND, ENT_READONLY. */
    int (*del)(ent_btxn *txn, unsigned tbl, const ent_slice *k, const ent_slice *v);
    /* Remove every pair of the table (the table stays). */
    int (*clear)(ent_btxn *txn, unsigned tbl);

    int (*cursor_open)(ent_btxn *txn, unsigned tbl, ent_bcur **out_cur);
    /* Move and read. k, v: in for SEEK/SEEK_PAIR, out always (borrowed).
     * Returns ENT_OK, ENT_NOTFOUND (no such pair; the position is then unspecified). */
    int (*cursor_get)(ent_bcur *cur, int op, ent_slice *k, ent_slice *v);
    void (*cursor_close)(ent_bcur *cur);

    int (*info)(ent_bk *be, ent_backend_info *out);

    /* Change notification, for live followers without busy-waiting. Every committed write
     * transaction bumps a counter visible to every handle on the store (other processes too with
     * ENT_BK_CAP_SHARED). wait blocks until the counter differs from `seen` or timeout_ms passes
     * (-1 waits forever). A backend that cannot see the counter at the moment (LMDB opened
     * read-only without its notify file) returns ENT_OK every ~100 ms: the caller looks itself.
     * Returns ENT_OK, ENT_TIMEOUT. */
    uint64_t (*change_counter)(ent_bk *be);
    int (*wait_change)(ent_bk *be, uint64_t seen, int timeout_ms);

    /* ENT_BK_CAP_COPY. Consistent copy of the whole store to an empty or missing directory.
     * compact: omit free pages. */
    int (*copy)(ent_bk *be, const char *dest_path, int compact);

    /* ENT_BK_CAP_DURABILITY. Change the durability of later commits (the store keeps the mode
     * chosen at creation and applies it after reading it back). Returns ENT_OK, ENT_INVALID. */
    int (*set_durability)(ent_bk *be, int durability);

    /* ENT_BK_CAP_SNAPSHOT_ID. An id of the committed state a txn sees (a write txn: the state it
     * began on): two txns of one `be` with the same non-zero id see the same data, and a write
     * txn that began on id X and committed changes made the state X + 1 (every such commit, by
     * any handle or process, moves the id; a commit without changes may or may not). Lets the store skip re-reading what it
     * already checked in that state (the schema generation, once per txn otherwise) or wrote
     * itself (the log state and counters of its own last commit). */
    uint64_t (*snapshot_id)(ent_btxn *txn);

    /* ENT_BK_CAP_PIN. pin: called by the committing thread before txn_commit; unpin: after the
     * delivery of that commit's events. What the write txn holds and must not be waited for
     * again while the thread waits for its delivery turn and delivers (LMDB: its hold against
     * map resizes, so that the delivery's read txn never queues behind a resizer that waits for
     * a pinned thread) stays held in between. */
    void (*pin)(ent_bk *be);
    void (*unpin)(ent_bk *be);

    /* ENT_BK_CAP_SAVEPOINT. One level of savepoint in a write txn: sp_begin marks the txn's
     * state; sp_end(keep = 1) keeps what was written since, as if there had been no savepoint;
     * sp_end(keep = 0) undoes it and nothing else. No cursor may be open across either call, and
     * no table may be opened for the first time inside one. A commit keeps an open savepoint, an
     * abort takes it with it. A failed sp_end leaves the txn failed (only abort is then allowed).
     * Returns ENT_OK, ENT_INVALID (nesting, none open, a cursor open), ENT_BUSY, ENT_NOMEM,
     * ENT_FULL. */
    int (*sp_begin)(ent_btxn *txn);
    int (*sp_end)(ent_btxn *txn, int keep);

    /* ENT_BK_CAP_SYNC_APART. txn_commit_unsynced commits as txn_commit does, except that on a
     * durable store the commit is durable only once a later sync() returns (the store is never
     * corrupt meanwhile, and the change counter moves then). sync: make every commit so far
     * durable; ENT_OK at once when not durable, unless force (ent_store_sync(): every commit
     * this handle can see made durable, whatever the mode). force 2: as 1, but where it would
     * wait for this process's writer it returns ENT_BUSY instead (ent_store_sync() from an event
     * callback, whose delivery a thread holding the writer may wait for). Both return what
     * txn_commit returns. */
    int (*txn_commit_unsynced)(ent_btxn *txn);
    int (*sync)(ent_bk *be, int force);

    /* ENT_BK_CAP_CHECK_PAGES (version 3). Check the engine's own structures (LMDB: every page of
     * the read txn's snapshot) without following anything before it is checked, so that damage
     * the engine would crash on is reported instead. Each problem is one line to cb (the
     * first few dozen; *out_problems counts them all). A backend that cannot find the txn's
     * structures any more (rewritten meanwhile) checks nothing and reports 0. table: NULL for
     * every table, else that table's structures only (what a scan of it reads).
     * Returns ENT_OK (problems or not), ENT_IO, ENT_NOMEM, ENT_BUSY. */
    int (*check_pages)(ent_btxn *txn, const char *table, void (*cb)(const char *line, void *payload), void *payload,
                       uint64_t *out_problems);

    /* ENT_BK_CAP_AT_PATH (version 4). Whether the files this handle reads and writes are still
     * the ones at the path it was opened by (made absolute at open: the host may change its
     * directory later), compared by what the open files are, not by what the path named at some
     * moment after the open. Returns ENT_OK (they are, or it cannot tell: a stat refused for
     * another reason than a missing file), ENT_NOTFOUND (removed, or moved away), ENT_CONFLICT
     * (another file there now), each with a message naming the path. */
    int (*at_path)(ent_bk *be);
} ent_backend_ops;

/* The table of backends (backends.c). */

/* The backend registered as `name`, or as the part of `name` before ':' (NULL: the default, the
 * first in the table). NULL when none is. arg (may be NULL): set to what followed ':' or NULL. */
const ent_backend_ops *ent__backend_find(const char *name, const char **arg);
/* The i-th registered backend (0-based), NULL past the last: tests run every one of them. */
const ent_backend_ops *ent__backend_at(size_t i);
/* The first registered backend whose caps include all of `caps` (NULL when none). */
const ent_backend_ops *ent__backend_with(unsigned caps);
/* The smallest max_key among registered backends whose caps include all of `caps` and that have a
 * limit of their own; 0 when none has. */
size_t ent__backend_min_key(unsigned caps);
/* The registered names as a message lists them ("lmdb, memory, fault") into buf. */
void ent__backend_names(char *buf, size_t size);

/* Each backend's vtable, defined in its own file; only backends.c and wrapping backends use them. */
extern const ent_backend_ops ent__backend_lmdb;
extern const ent_backend_ops ent__backend_memory;
extern const ent_backend_ops ent__backend_fault;

#endif
