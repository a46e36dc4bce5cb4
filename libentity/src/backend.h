/* The backend seam: named ordered tables of byte keys and values, transactions and cursors.
 *
 * Everything above this line of code (records, indexes, counters, the stored schema, refs, the log,
 * subscriptions) is written once in the store; a backend knows bytes and tables only. A third
 * backend is one more file that fills an ent_backend_ops.
 *
 * Semantics every backend keeps (the contract suite in tests/contract_backend.c proves them):
 * - Keys compare as unsigned bytes (memcmp, then shorter first). In a DUPSORT table a key holds a
 *   sorted set of values (compared the same way); cursors visit (key, value) pairs in that order.
 * - A read transaction sees one snapshot for its whole life, whatever writers commit meanwhile.
 * - One write transaction at a time per store (across threads; across processes for on-disk
 *   backends); txn_begin(write) blocks until the previous writer is done. A write transaction sees
 *   its own writes; an aborted one leaves nothing.
 * - Slices returned by get/cursor_get are borrowed: valid until the next write in the same
 *   transaction or its end, whichever comes first. Do not write through them.
 * - A transaction and its cursors belong to one thread. The backend handle is shared by threads.
 * - Errors come back as ENT_* codes with the message set (ent__err), native text included.
 */
#ifndef ENT_BACKEND_H
#define ENT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#define ENT_BACKEND_VERSION 1

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
    unsigned max_tables; /* upper bound on named tables; 0 = backend default (at least 256) */
} ent_backend_opts;

typedef struct ent_backend_info {
    uint64_t map_size;   /* bytes reserved (LMDB map); 0 when not applicable */
    uint64_t used_bytes; /* bytes in use (LMDB: pages in use * page size; memory: approximate) */
    uint64_t disk_bytes; /* bytes on disk (file sizes); 0 for memory */
    size_t max_key;      /* largest key (and DUPSORT value) accepted, in bytes */
} ent_backend_info;

/* table flags */
enum {
    ENT_TBL_CREATE = 1,  /* create when missing (write transactions only) */
    ENT_TBL_DUPSORT = 2  /* several sorted values per key */
};
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
    const char *name; /* "lmdb", "memory" */

    /* Open (creating when missing and not read-only) the store at path. The memory backend
     * ignores path. Returns ENT_OK, ENT_NOTFOUND (missing and read-only), ENT_IO, ENT_BUSY,
     * ENT_NOMEM. out_be: freed with close(). */
    int (*open)(void **out_be, const char *path, const ent_backend_opts *opts);
    void (*close)(void *be);

    /* Resolve a named table inside txn (ENT_TBL_CREATE needs a write txn). The handle is valid
     * for the life of `be` once the txn that created it commits; if that txn aborts, a created
     * handle is forgotten. Returns ENT_OK, ENT_NOTFOUND (missing, no CREATE), ENT_FULL (too many
     * tables), ENT_READONLY. */
    int (*table)(void *be, void *txn, const char *name, unsigned flags, unsigned *out_tbl);

    int (*txn_begin)(void *be, int write, void **out_txn);
    int (*txn_commit)(void *txn); /* the txn is gone on return, whatever the code */
    void (*txn_abort)(void *txn);

    /* Returns ENT_OK, ENT_NOTFOUND (without a message: the caller names what is missing).
     * DUPSORT: the first value of the key. */
    int (*get)(void *txn, unsigned tbl, const ent_slice *k, ent_slice *out_v);
    /* Returns ENT_OK, ENT_CONFLICT (NOOVERWRITE), ENT_FULL (key too long; disk full after trying
     * to grow), ENT_READONLY, ENT_IO. A full LMDB map grows and the write retries inside. */
    int (*put)(void *txn, unsigned tbl, const ent_slice *k, const ent_slice *v, unsigned flags);
    /* v NULL: the key with all its values; else (DUPSORT) only that pair.
     * Returns ENT_OK, ENT_NOTFOUND, ENT_READONLY. */
    int (*del)(void *txn, unsigned tbl, const ent_slice *k, const ent_slice *v);
    /* Remove every pair of the table (the table stays). */
    int (*clear)(void *txn, unsigned tbl);

    int (*cursor_open)(void *txn, unsigned tbl, void **out_cur);
    /* Move and read. k, v: in for SEEK/SEEK_PAIR, out always (borrowed).
     * Returns ENT_OK, ENT_NOTFOUND (no such pair; the position is then unspecified). */
    int (*cursor_get)(void *cur, int op, ent_slice *k, ent_slice *v);
    void (*cursor_close)(void *cur);

    int (*info)(void *be, ent_backend_info *out);

    /* Consistent copy of the whole store to an empty or missing directory (ENT_INVALID for the
     * memory backend). compact: omit free pages. */
    int (*copy)(void *be, const char *dest_path, int compact);

    /* Change notification, for live followers without busy-waiting. Every committed write
     * transaction bumps a counter visible to every handle on the store (other processes too for
     * on-disk backends). wait blocks until the counter differs from `seen` or timeout_ms passes
     * (-1 waits forever). Returns ENT_OK, ENT_TIMEOUT. */
    uint64_t (*change_counter)(void *be);
    int (*wait_change)(void *be, uint64_t seen, int timeout_ms);

    /* Change the durability of later commits (the store keeps the mode chosen at creation and
     * applies it after reading it back). Returns ENT_OK, ENT_INVALID. */
    int (*set_durability)(void *be, int durability);

    /* Optional (NULL: unknown). An id of the committed state a read txn sees: two read txns of
     * one `be` with the same non-zero id see the same data. Lets the store skip re-reading what
     * it already checked in that state (the schema generation, once per read txn otherwise). */
    uint64_t (*snapshot_id)(void *txn);

    /* Optional (NULL: nothing to do). pin: called by the committing thread before txn_commit;
     * unpin: after the delivery of that commit's events. What the write txn holds and must not
     * be waited for again while the thread waits for its delivery turn and delivers (LMDB: its
     * hold against map resizes, so that the delivery's read txn never queues behind a resizer
     * that waits for a pinned thread) stays held in between. */
    void (*pin)(void *be);
    void (*unpin)(void *be);

    /* Optional, both or neither (NULL: no savepoints; the store then commits concurrent calls
     * one by one instead of in groups). One level of savepoint in a write txn: sp_begin marks
     * the txn's state; sp_end(keep = 1) keeps what was written since, as if there had been no
     * savepoint; sp_end(keep = 0) undoes it and nothing else. No cursor may be open across either
     * call, and no table may be created inside one. A failed sp_end leaves the txn failed (only
     * abort is then allowed). Returns ENT_OK, ENT_INVALID (nesting, no savepoint open), ENT_BUSY,
     * ENT_NOMEM, ENT_FULL. */
    int (*sp_begin)(void *txn);
    int (*sp_end)(void *txn, int keep);

    /* Optional, both or neither (NULL: every commit syncs as its durability says). A commit
     * whose last sync is done later, outside the writer: txn_commit_unsynced commits as
     * txn_commit does, except that on a durable store it leaves the commit durable only once a
     * later sync() returns (the store is never corrupt meanwhile, and the change counter moves
     * then). sync: make every commit so far durable; ENT_OK at once when not durable. Both return
     * what txn_commit returns. */
    int (*txn_commit_unsynced)(void *txn);
    int (*sync)(void *be);
} ent_backend_ops;

extern const ent_backend_ops ent__backend_lmdb;
extern const ent_backend_ops ent__backend_memory;

#endif
