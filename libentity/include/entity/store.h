/* libentity — stores, transactions, CRUD, index look-ups and scans.
 *
 * A store keeps the entities of one schema in a backend: "lmdb" (a directory on disk) or "memory"
 * (nothing on disk; gone at close). Both give the same answers to the same calls.
 *
 * Transactions: ent_txn_begin() opens a read or a write transaction; every data call takes one, or
 * NULL to run in a transaction of its own that commits before the call returns. One write
 * transaction at a time per store (across threads, and across processes for LMDB); any number of
 * read transactions, each seeing one snapshot. A store handle is shared by threads; a transaction
 * (and its iterators) belongs to the thread that began it: another thread's call with it, commit
 * or abort is refused with ENT_INVALID (an abort just sets the message) and leaves it to its owner.
 *
 * One thread, two transactions on the same store: while a thread holds the write transaction,
 * a second ent_txn_begin(ENT_TXN_WRITE) and every write call with txn NULL on that thread fail
 * with ENT_BUSY (they would wait forever for the writer the thread itself is): pass the
 * transaction to the call instead. Reads with txn NULL and read transactions work meanwhile and
 * see the last commit, not the uncommitted writes. A thread that holds a read transaction may
 * begin a write transaction: the write sees the last commit (not the read's older snapshot), and
 * the read keeps its snapshot until it ends, also after the write commits (LMDB: the map cannot
 * grow meanwhile; a write that needs it to fails with ENT_BUSY, see map_size).
 *
 * Versions: every entity has a version, 1 on create and +1 on each update that changes something.
 * Calls that take `expect` refuse with ENT_CONFLICT, writing nothing, when the stored version
 * differs; pass ENT_VERSION_ANY to skip the check. expect = 0 means "must not exist".
 *
 * fork(): a store handle must not be used in a child process after fork(); every call from a child
 * fails with ENT_BUSY. Open the store again in the child (ent_store_close() in the child only frees
 * memory). Open stores before threads and after forks.
 *
 * Schema changes by another process are noticed at the next transaction: the store reloads the
 * stored schema, ent_store_schema() returns the new one, and calls given type or field handles or
 * entities of the older schema fail with ENT_SCHEMA (those handles stay valid until close).
 */
#ifndef ENTITY_STORE_H
#define ENTITY_STORE_H

#include "common.h"

#include <stddef.h>
#include <stdint.h>

#include "schema.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ent_store ent_store;
typedef struct ent_txn ent_txn;
typedef struct ent_iter ent_iter;

/* Durability of commits; chosen when the store is created and stored in it. */
typedef enum ent_durability {
    ENT_DURABILITY_STORED = -1, /* open: the mode stored at creation (create: durable) */
    ENT_DURABLE = 0, /* every commit is on disk when the call returns */
    ENT_LAZY = 1,    /* an OS crash may lose the last commits, never corrupts */
    ENT_NONE = 2     /* survives a crash of the process, not of the machine */
} ent_durability;

#define ENT_STORE_OPTS_VERSION 1
#define ENT_MAP_SIZE_MIN ((size_t)64 << 10) /* a new store's tables need a few pages to start */
typedef struct ent_store_opts {
    unsigned version;       /* ENT_STORE_OPTS_VERSION */
    const char *backend;    /* "lmdb" (default when NULL) or "memory" */
    int durability;         /* ent_durability: stored when this open creates the store; on an
                             * existing store a mode other than ENT_DURABILITY_STORED holds for
                             * this handle only (the stored one stays) */
    size_t map_size;        /* LMDB initial map size in bytes; 0 = default (64 GiB of address
                             * space on 64-bit, not of disk), else at least ENT_MAP_SIZE_MIN.
                             * The map grows when full, except while the writing thread also
                             * holds a read transaction or an open iterator: that write fails
                             * with ENT_BUSY. */
    int read_only;          /* open without writing; works while another process writes.
                             * LMDB: a process keeps one environment per store, read-only when
                             * its first open was: a writable open while a read-only handle of
                             * the store is open in this process is ENT_BUSY (open the writable
                             * handle first; read-only opens beside it share it) */
    int no_create;          /* fail with ENT_NOTFOUND instead of creating a missing store */
} ent_store_opts;
#define ENT_STORE_OPTS_INIT {ENT_STORE_OPTS_VERSION, NULL, ENT_DURABILITY_STORED, 0, 0, 0}

#define ENT_VERSION_ANY UINT64_MAX
/* The highest version a write gives an entity (2^64-3): a delete's event carries the version
 * after the entity's last, which must never be ENT_VERSION_ANY's number (a delete at 2^64-2 logged
 * 2^64-1). An update of an entity at it is ENT_FULL, a restore above it ENT_INVALID. A store
 * written before this limit may hold an entity at 2^64-2: it reads, and its delete logs 2^64-1, as
 * it did, and mirrors and replays take such logs. */
#define ENT_VERSION_LAST (UINT64_MAX - 2)

/* Open the store at path, creating it when missing. LMDB: path is a directory (NULL or "" is
 * ENT_INVALID). Memory: path is ignored and may be NULL; every open makes a new, empty store, so
 * schema must be given (NULL: ENT_NOTFOUND), and two opens never share data.
 * schema: NULL opens with the schema stored in the store (the store must exist). Otherwise a
 * missing store is created with it; an existing one keeps its schema when `schema` is equal, and
 * evolves to it when it is a compatible newer version (new indexes are built over the existing
 * entities) — an incompatible or older schema is refused with ENT_SCHEMA (the reason from
 * ent_schema_compare()) and the store is left untouched. The store keeps its own copy of the schema.
 * opts: NULL for defaults. out: the caller closes it with ent_store_close().
 * Returns ENT_OK, ENT_NOTFOUND (missing store and no schema, or no_create/read_only), ENT_SCHEMA,
 * ENT_FORMAT (store of a newer format; LMDB data that holds tables but no store: another program's,
 * or a store that lost its meta), ENT_CORRUPT (not a libentity store, damaged meta, or, unless
 * read_only, a store that an ent_store_replay() killed before its end left unfinished), ENT_IO,
 * ENT_BUSY (LMDB: a writable open beside this process's read-only handle, see read_only; a
 * writable open from a thread that holds the store's writer through another handle: its write
 * transaction, or inside ent_txn_run()'s fn; a writable open from an event callback, on every
 * backend: the open takes the store's writer, see ent_event_cb; LMDB: this process still has open,
 * through another handle, the data.mdb that was at the path before it was replaced, see
 * ent_store_check_path()),
 * ENT_CONFLICT (a new unique index finds duplicates), ENT_FULL (disk full, the table limit; a new
 * index meets a stored value over the backend's key limit: the message names the entity),
 * ENT_INVALID (bad options), ENT_NOMEM, ENT_READONLY (read_only, and the store needs an evolution
 * to `schema`). */
ENT_EXTERN(int) ent_store_open(ent_store **out, const char *path, const ent_schema *schema,
                               const ent_store_opts *opts);

/* Progress of long calls on this store (ent_store_verify(), and ent_store_replay() on its source):
 * cb is called every few thousand items with what runs ("verify", "replay") and a count of items
 * done so far (records, index entries, events: not a percentage), on the calling thread, so a tool
 * can show a progress line. cb NULL turns it off (s NULL: nothing). Not for use while another
 * thread runs those calls. */
typedef void (*ent_progress_cb)(const char *what, uint64_t done, void *payload);
ENT_EXTERN(void) ent_store_set_progress(ent_store *s, ent_progress_cb cb, void *payload);

/* Close. Transactions and iterators of the store must be finished first, and no other thread may
 * be in a call on it. NULL does nothing. From an event callback of this store, from the thread
 * that holds its write transaction (also in ent_txn_run()'s fn) or a read transaction of it (its
 * own, or an iterator's begun without one), while other threads are in
 * write calls without a transaction (in a group commit, led or queued, or each alone), and while
 * another thread has a transaction of it open (its own, an iterator's, a read call's without one:
 * a host's atexit() handler closing the store under its threads), it does
 * nothing but set the message (ENT_BUSY): the delivery, the commit, the group, the transaction
 * still use the store. A call another thread has not begun yet is the host's to keep out. */
ENT_EXTERN(void) ent_store_close(ent_store *s);

/* The store's current schema. Borrowed: valid until ent_store_close(). s NULL: NULL. */
ENT_EXTERN(const ent_schema *) ent_store_schema(ent_store *s);
/* Shortcut: the type named `name` in the current schema, or NULL (also for s or name NULL).
 * Borrowed like the schema. */
ENT_EXTERN(const ent_type *) ent_store_type(ent_store *s, const char *name);
/* Backend name ("lmdb", "memory"; static) and the durability in force (s NULL: "" and
 * ENT_DURABILITY_STORED). */
ENT_EXTERN(const char *) ent_store_backend(const ent_store *s);
ENT_EXTERN(ent_durability) ent_store_durability(const ent_store *s);
/* Store `mode` (ENT_DURABLE, ENT_LAZY, ENT_NONE) as the store's durability: the one every later
 * open with ENT_DURABILITY_STORED uses (`entity` commands, relays, hosts that do not choose).
 * This handle keeps the mode in force since its open (ent_store_durability()), and so do other
 * handles open now; the store's data is not touched. The setting is synced to the disk before the
 * call returns, whatever this handle's mode (a `none` handle syncs nothing else). No event is written: like subscriptions it
 * is the store's own setting, and a mirror keeps its own (`entity promote --durability durable`
 * makes a `lazy` read copy a durable primary). Returns ENT_OK, ENT_INVALID (no such mode,
 * ENT_DURABILITY_STORED included), ENT_READONLY (a read-only handle), and the codes of
 * ent_txn_begin()/ent_txn_commit() (ENT_BUSY: this thread holds the store's write transaction). */
ENT_EXTERN(int) ent_store_set_stored_durability(ent_store *s, ent_durability mode);
/* Make every commit this handle can see durable now, whatever the durability in force: on a
 * `lazy` or `none` store, what a host wants safe before it tells the world (LMDB: one fdatasync
 * of data.mdb); on a `durable` one, also the commits of other processes that are visible while
 * their own sync is still under way (LMDB shows readers a commit before its last sync returns).
 * The NATS relay calls it before it publishes events it has not seen synced. A memory store has
 * nothing to make durable: ENT_OK. When every commit is durable already it returns at once; else
 * (LMDB) it takes the store's writer for a moment, as a write does: a thread that holds another
 * store's writer meanwhile (its write transaction, ent_txn_run()'s fn) takes stores in one order,
 * as for writes, or two such threads, each syncing the other's store, wait for each other.
 * Returns ENT_OK, ENT_READONLY (a read-only handle), ENT_IO, ENT_BUSY (in a forked child; this
 * thread holds the store's write transaction, also in ent_txn_run()'s fn: sync once it ends; from
 * an event callback, when the sync needs the writer and another thread holds it: a callback does
 * not wait for a writer, see ent_event_cb; LMDB:
 * this thread holds a read transaction of the store (an iterator, a log cursor, an event
 * callback's delivery) while a writer must grow the map: end it and sync again). */
ENT_EXTERN(int) ent_store_sync(ent_store *s);
/* The directory of the store, made absolute at the open (a relative path taken under the
 * directory current then, symlinks resolved; as given for a memory store, "" for one opened with
 * none): for files a component keeps beside the store (the NATS relay's lock), which a relative
 * path would put elsewhere once the host has changed its directory. Borrowed: valid until
 * ent_store_close(). s NULL: "". */
ENT_EXTERN(const char *) ent_store_path(const ent_store *s);
/* Whether the store s has open is still the store at the path it was opened by. A process that
 * keeps a store open for long (a server, a follower, a relay) asks now and then: removed (rm -rf)
 * or replaced under it (a `copy --compact` or a backup moved into its place), the files it has
 * open are no one else's any more, and its writes reach no other process. The files open are
 * compared with those the path names now; a relative path is taken under the directory current
 * at the open, and the path up to its last ".." as the open resolved it ("b/../a" names the store
 * at a, also once b is moved away; a symlink after it is followed now). After ENT_CONFLICT,
 * close s before opening the store now there: an open while s holds the old files is ENT_BUSY
 * (one LMDB environment per directory in a process). Returns ENT_OK (it is; also a store with no files, memory; and when it cannot be
 * told, a stat refused for another reason than a missing file), ENT_NOTFOUND (removed, or moved
 * away), ENT_CONFLICT (another store's files there now), ENT_INVALID (s NULL); the message names
 * the path. Safe from any thread; a stat or two. */
ENT_EXTERN(int) ent_store_check_path(ent_store *s);
/* The store's id: a random UUID given by the open that created it ("xxxxxxxx-xxxx-4xxx-..."),
 * kept by ent_store_copy(), new in a store built by ent_store_replay(). A store made before ids
 * were kept gets one at its first writable open; until then a read-only open shows "".
 * Borrowed: valid until ent_store_close(). s NULL: "". */
ENT_EXTERN(const char *) ent_store_id(const ent_store *s);
/* A mirror (entity/mirror.h): the id of the primary it copies; NULL for any other store.
 * Borrowed: valid until ent_store_close(). */
ENT_EXTERN(const char *) ent_store_mirror_of(const ent_store *s);

/* ---- transactions ------------------------------------------------------------------------ */

enum { ENT_TXN_READ = 0, ENT_TXN_WRITE = 1 };

/* Begin a transaction. A write transaction waits for the current writer (of another thread or
 * process) to finish.
 * out: finished with ent_txn_commit() or ent_txn_abort().
 * Returns ENT_OK, ENT_READONLY (write on a read-only store), ENT_BUSY (write: this thread holds the
 * store's write transaction already, or runs an event callback; after fork()), ENT_SCHEMA (see
 * top), ENT_IO, ENT_INVALID (mode neither ENT_TXN_READ nor ENT_TXN_WRITE). */
ENT_EXTERN(int) ent_txn_begin(ent_txn **out, ent_store *s, int mode);
/* Commit (a read transaction just ends). The transaction is gone on return, whatever the code;
 * on failure nothing of it is stored. Returns ENT_OK, ENT_FULL, ENT_IO, ENT_BUSY (LMDB: the map
 * had to grow while this thread holds a read transaction; see map_size), ENT_INVALID (t NULL;
 * another thread's transaction, which stays its owner's). */
ENT_EXTERN(int) ent_txn_commit(ent_txn *t);
/* Abort: nothing of the transaction is stored. NULL does nothing. */
ENT_EXTERN(void) ent_txn_abort(ent_txn *t);

/* Group commit. Write calls without a transaction (txn NULL: create, replace, update, upsert,
 * delete, restore, ent_sub_ack) made at the same time by several threads of one process share one
 * write transaction and one commit, and so one sync on a durable store (grouped where a commit
 * syncs unless ent_store_set_group_commit() below says otherwise); each call still returns
 * only once its work is committed (on disk when durable), and is all or nothing on its own: a
 * refused call returns its error and leaves nothing, whatever the others in its group do. A
 * failed commit fails every call of its group, also a call refused after the group's first
 * successful one (the refusal may come from that call's work, which the store then never had: a
 * key or unique value taken). A call without a transaction hands its entity its
 * result (key, version, merged fields, changes cleared) only once its commit is in: after any
 * failure the entity is as it was, so retrying the call as is writes. A call given a transaction
 * hands its entity the result at once: when that transaction is aborted or its commit fails, the
 * entity keeps the key and version of the dropped work (a create retried with it reuses that id,
 * ENT_CONFLICT once another create took it), so retry with a copy made before the call
 * (ent_entity_dup()). Calls see the effects of the calls admitted before
 * them (versions, unique values, refs); each call's events are contiguous, in admission order, with
 * a txn number of its own. A lone call commits at once, without waiting for company. A thread that
 * holds a transaction (an iterator) is not grouped. An explicit write transaction
 * (ent_txn_begin) is never grouped: it holds the writer until it ends.
 *
 * ent_txn_run() runs fn(txn, payload) as one such call: several calls in fn (through txn) are one
 * unit, all or nothing, grouped with other threads' calls (where calls are grouped). fn returns ENT_OK to keep its work or
 * an error code (negative) to undo it, which ent_txn_run() returns, with the message of the call
 * that failed. fn must not commit or abort txn (a commit is refused; an abort undoes fn's work and
 * ent_txn_run() returns ENT_INVALID saying so), nor write to the same store without it (ENT_BUSY),
 * and it may run on another thread of the process (the group's leader) and more than once, so it
 * must have no effect outside txn (it runs again when another call of its group broke the group's
 * transaction); ent_txn_run() returns once fn's work is committed. Entities count: a call in fn
 * hands the entity given it its result at once (changes cleared, version set), so an fn that
 * writes the caller's entity finds nothing to write when run again and loses the update (and
 * ent_txn_run() returns ENT_OK): write entities fn makes, or copies with ent_entity_dup(), itself. fn holds its store's writer:
 * a write from fn to another store waits for that store's writer, so two threads whose fns write
 * each other's store wait for each other forever (as with explicit write transactions: take
 * stores in one order).
 * Returns fn's code, ENT_INVALID (store or fn NULL), or what ent_txn_commit() returns. */
typedef int (*ent_txn_fn)(ent_txn *txn, void *payload);
ENT_EXTERN(int) ent_txn_run(ent_store *s, ent_txn_fn fn, void *payload);

/* When calls are grouped (see "Group commit" above). ENT_GROUP_AUTO, every handle's mode when
 * opened: grouped where a commit syncs (LMDB `durable` and `lazy`), so that calls share the sync;
 * with durability `none` and on the memory backend each call commits on its own, waiting for the
 * writer as an explicit transaction does: there a grouped caller pays a sleep and a wake-up of its
 * thread, which from a few threads on cost more than the commit it shares (README "Performance",
 * "Group commit where nothing syncs"). ENT_GROUP_ALWAYS
 * groups on every backend with savepoints (both built in), ENT_GROUP_NEVER on none. Either way a
 * call's result, its events and what other calls see of it are the same; what differs is how many
 * commits (and cross-process wake-ups) they take. Takes effect for the calls made after it, from
 * any thread; calls already queued finish in their group.
 * Returns ENT_OK, ENT_INVALID (s NULL, another mode). */
typedef enum ent_group_mode { ENT_GROUP_AUTO = 0, ENT_GROUP_ALWAYS = 1, ENT_GROUP_NEVER = 2 } ent_group_mode;
ENT_EXTERN(int) ent_store_set_group_commit(ent_store *s, int mode);

/* What the groups of s have done since it was opened (see "Group commit" above): for a host's
 * metrics, and to see where a group's time goes (entity bench --threads prints it). Each group's
 * leader adds its times, in nanoseconds on a monotonic clock; divided by groups, each is the time
 * of one group. A group's callers wait for all of it: its cycle is wait + begin + run + commit +
 * sync, then the wake-ups. Only grouped calls count (with ENT_GROUP_AUTO on durability `none` or
 * the memory backend, none: each call commits alone). */
typedef struct ent_group_stats {
    uint64_t groups;    /* groups led, committed or not (a lone call is a group of one) */
    uint64_t calls;     /* calls run in them */
    uint64_t wait_ns;   /* leaders waiting for company before they began */
    uint64_t begin_ns;  /* beginning the write transaction (waiting for the backend's writer; a
                         * transaction begun again after a broken savepoint counts in run_ns) */
    uint64_t run_ns;    /* running the calls, each in its savepoint */
    uint64_t commit_ns; /* the commit up to durability (LMDB: its commit and the write-ahead record's write;
                         * in-process event callbacks, which run in the committing thread) */
    uint64_t sync_ns;   /* making the commit durable (LMDB durable: the sync of the write-ahead file) */
    uint64_t wake_ns;   /* the leader handing the results back (waking its callers) */
} ent_group_stats;

/* Fill *out with s's group statistics (above). Returns ENT_OK, ENT_INVALID (s or out NULL),
 * ENT_BUSY (in a child process forked after the open). */
ENT_EXTERN(int) ent_store_group_stats(ent_store *s, ent_group_stats *out);

/* For loading a dump whose refs may point at entities that come later in it (a type's refs to
 * itself, to a type dumped after it, cycles): writes in write transaction t no longer check that
 * ref targets exist (the ref indexes are written as usual). The caller checks the targets once
 * everything is loaded; ent_store_verify() reports every ref to a missing entity.
 * Returns ENT_OK, ENT_INVALID (not a write transaction). */
ENT_EXTERN(int) ent_txn_skip_ref_checks(ent_txn *t);

/* For entities that refer to each other (required refs in a cycle: an employee's manager, a
 * manager's deputy): the writes in write transaction t from now on do not check their refs when
 * called; t's commit checks them on its final state instead, as SQL's deferred foreign keys do.
 * Every entity they wrote that still exists must refer to existing entities, and every entity
 * they deleted must be referred to by none, or the commit fails with ENT_INVALID (a ref to a
 * missing entity) or ENT_CONFLICT (a deleted entity still referred to), naming them, and nothing
 * of t is committed. In ent_txn_run() the checks run when fn returns ENT_OK, and a failure is
 * fn's alone (the other calls of its group are not affected). Checks cost what they cost at the
 * calls, and a noted entity per write. Returns ENT_OK, ENT_INVALID (not a write transaction). */
ENT_EXTERN(int) ent_txn_defer_ref_checks(ent_txn *t);

/* For writes that move unique values between entities (two entities swap their codes, a load of a
 * newer dump over an older copy): the writes in write transaction t from now on do not refuse a
 * unique value that another entity holds when they are called; t's commit checks that no value is
 * held by two entities in its final state instead, as SQL's deferrable unique constraints do. The
 * index names a value's first holder until it lets the value go, then the one that took it: a
 * look-up by the value in t finds that one. A value still held by two entities fails the commit
 * with ENT_CONFLICT naming both, and nothing of t is committed. In ent_txn_run() the check runs
 * when fn returns ENT_OK, and a failure is fn's alone (the other calls of its group are not
 * affected). Costs a look-up per unique value a write lets go. Returns ENT_OK, ENT_INVALID (t
 * NULL, or not a write transaction). */
ENT_EXTERN(int) ent_txn_defer_unique_checks(ent_txn *t);

/* The type named `name` in the schema transaction t sees, or NULL (also for t NULL). The handle to
 * use with t: ent_store_type() gives the store's current schema, which another thread's
 * transaction may have moved past t's (an evolution by another process, noticed there), and a
 * type of another schema than t's fails with ENT_SCHEMA. Borrowed: valid until ent_store_close(). */
ENT_EXTERN(const ent_type *) ent_txn_type(const ent_txn *t, const char *name);

/* 1 when the calling thread holds s's write transaction (one it began, or ent_txn_run()'s fn runs
 * on it), else 0 (also s NULL). For code that waits for something a commit of s brings, which no
 * thread can make while this one holds the writer: libentity-nats's ent_relay_wait() answers
 * ENT_BUSY there, as ent_log_wait() and ent_sub_wait() do, rather than wait out its timeout. */
ENT_EXTERN(int) ent_txn_holds_writer(const ent_store *s);

/* For loading into a store that may already hold some of the entities: ent_restore() in write
 * transaction t never moves an entity back. It is ENT_CONFLICT, naming the entity and both
 * versions, when the store holds the entity at a higher version than e carries, or at the same
 * version with other values (another history: a version names one state, If-Match and consumers
 * rely on it). The same entity at the same version writes nothing, as before.
 * Returns ENT_OK, ENT_INVALID (not a write transaction). */
ENT_EXTERN(int) ent_txn_restore_forward(ent_txn *t);

/* ---- CRUD (txn NULL: the call commits on its own) ------------------------------------------ */

/* Create e. Auto-key types: e's key is assigned (the next id) unless e carries one, which must
 * not exist yet. String-key types: e must carry its key. Defaults are applied, e is validated,
 * refs must point at existing entities, unique values must be free. On ENT_OK e holds its key,
 * version 1 and the applied defaults, and nothing is marked changed.
 * Returns ENT_OK, ENT_CONFLICT (key exists; unique value taken: names field and value),
 * ENT_INVALID (validation, missing key; ref target missing: names field and key), ENT_FULL (index
 * value too long for the backend), ENT_READONLY, ENT_SCHEMA, ENT_IO, ENT_BUSY (txn NULL: as
 * ent_txn_begin(), e.g. this thread holds the store's write transaction; as ent_txn_commit()). */
ENT_EXTERN(int) ent_create(ent_store *s, ent_txn *txn, ent_entity *e);

/* Read the entity of `type` with `key`.
 * out: on ENT_OK, a new entity; the caller frees it with ent_entity_free().
 * Returns ENT_OK, ENT_NOTFOUND, ENT_CORRUPT, ENT_SCHEMA, ENT_INVALID (a key not of the type's key
 * kind, a string key NULL or not 1 to 255 bytes). */
ENT_EXTERN(int) ent_get(ent_entity **out, ent_store *s, ent_txn *txn, const ent_type *type, const ent_key *key);

/* ENT_OK when the entity exists, ENT_NOTFOUND when not (or another error). */
ENT_EXTERN(int) ent_exists(ent_store *s, ent_txn *txn, const ent_type *type, const ent_key *key);

/* Replace the stored entity with e's fields (fields unset in e are removed). If nothing differs,
 * nothing is written and the version stays. On ENT_OK e holds the stored version, nothing changed.
 * Returns as ent_create(), plus ENT_NOTFOUND (no such entity), ENT_CONFLICT (version) and
 * ENT_FULL (the entity is at ENT_VERSION_LAST, 2^64-3, restored there: there is no next). */
ENT_EXTERN(int) ent_replace(ent_store *s, ent_txn *txn, ent_entity *e, uint64_t expect);

/* Partial update: apply only e's changed top-level fields (set or unset) to the stored entity.
 * A field with a default that the update unsets goes back to its default (a field with a default
 * is never absent). On ENT_OK e holds the whole stored entity (merged) and its version, nothing
 * changed. The merge moves into e only the values that differ from what e held (fields another
 * writer changed, defaults): the others stay in place, and so do strings and bytes borrowed from
 * them (value.h). On failure e is left as it was.
 * Returns as ent_replace(). */
ENT_EXTERN(int) ent_update(ent_store *s, ent_txn *txn, ent_entity *e, uint64_t expect);

/* Create e when its key does not exist, else replace. expect as in ent_replace(); 0 = must not
 * exist. Auto-key types need e to carry a key for the replace case; without one it creates. */
ENT_EXTERN(int) ent_upsert(ent_store *s, ent_txn *txn, ent_entity *e, uint64_t expect);

/* Delete. Returns ENT_OK, ENT_NOTFOUND, ENT_CONFLICT (version; still referenced: names one
 * referring type and key), ENT_READONLY, ENT_SCHEMA, ENT_IO, ENT_BUSY (as ent_create()). */
ENT_EXTERN(int) ent_delete(ent_store *s, ent_txn *txn, const ent_type *type, const ent_key *key,
                           uint64_t expect);

/* Store e exactly as given: its key and version (1 to ENT_VERSION_LAST) are kept, whether or not
 * it exists (the auto-id counter moves past the key). For dump/load and replay. Validated like a
 * create; refs are checked. Returns as ent_create() (ENT_INVALID also for a version 0 or above
 * ENT_VERSION_LAST). */
ENT_EXTERN(int) ent_restore(ent_store *s, ent_txn *txn, ent_entity *e);

/* A consistent copy of the whole store (a snapshot, taken while others keep writing) into an
 * empty or missing directory. compact: leave out free pages. LMDB stores only. The copy is
 * written to dest/data.mdb.copying and named data.mdb once whole and synced: a copy killed
 * (SIGKILL) leaves no store at dest, and the next copy there takes its file over. LMDB's plain
 * copy takes the store's writer for a moment to start its snapshot, as a write does: from a thread
 * that holds another store's writer, take stores in one order (see ent_store_sync()).
 * Returns ENT_OK, ENT_CONFLICT (a store exists at dest; dest is not a directory, or holds other
 * files: the message names one), ENT_INVALID (memory store), ENT_IO,
 * ENT_BUSY (another copy to dest is under way; this thread holds the store's write transaction,
 * also in ent_txn_run()'s fn; a plain
 * copy from an event callback, on every backend, as it takes the writer: see ent_event_cb). */
ENT_EXTERN(int) ent_store_copy(ent_store *s, const char *dest, int compact);

/* Space a store takes: LMDB's map (address space reserved; it grows when full), the bytes its
 * pages in use hold, and its data file's size on disk. The memory backend: 0, an estimate, 0. */
typedef struct ent_store_info {
    uint64_t map_size;
    uint64_t used_bytes;
    uint64_t disk_bytes;
} ent_store_info;

/* Fill out for store s. Returns ENT_OK, ENT_INVALID, ENT_BUSY (after fork()). */
ENT_EXTERN(int) ent_store_get_info(ent_store_info *out, ent_store *s);

/* Read transactions holding a snapshot of store s now, in every process (LMDB's reader table; an
 * iterator or log cursor begun without a transaction holds one too). While a snapshot is held, no
 * page freed after it began is reused: under steady writes data.mdb grows for as long as the
 * oldest lasts (the space is reused once it ends; the file does not shrink, `copy --compact`
 * makes a smaller one). A process killed while it held one leaves its slot until a writer's sweep
 * (every 256 write transactions) or the next open clears it. oldest_behind: commits since the
 * oldest snapshot began; oldest_pid: the process holding it. The memory backend: all 0. */
typedef struct ent_store_readers {
    uint64_t readers;
    uint64_t oldest_behind;
    int64_t oldest_pid;
} ent_store_readers;

/* Fill out for store s. Returns ENT_OK, ENT_INVALID, ENT_BUSY (after fork()). */
ENT_EXTERN(int) ent_store_get_readers(ent_store_readers *out, ent_store *s);

/* Number of entities of `type`, in O(1). Returns ENT_OK, ENT_SCHEMA (a type of another schema),
 * and the codes of ent_txn_begin() when txn is NULL. */
ENT_EXTERN(int) ent_count(uint64_t *out, ent_store *s, ent_txn *txn, const ent_type *type);

/* The id counter of `type` (auto ids): the highest id the store has handed out or stored for it,
 * 0 before the first; a create without a key takes the one above it. Deleted entities' ids stay
 * counted, so that an id a host kept never names another entity. `entity dump` writes it and
 * `entity load` raises a new store's with ent_last_id_raise(): a copy loaded from a dump hands
 * out no id the original did. Returns ENT_OK, ENT_INVALID (a type of string keys), ENT_SCHEMA,
 * and the codes of ent_txn_begin() when txn is NULL. */
ENT_EXTERN(int) ent_last_id(uint64_t *out, ent_store *s, ent_txn *txn, const ent_type *type);

/* Raise the id counter of `type` (auto ids) to id, when it is below: creates without a key then
 * take ids above id. It is never lowered (an id below the counter may have been handed out);
 * an id at or below it changes nothing and writes nothing. A raise appends an event in the same
 * transaction (op ENT_OP_LAST_ID, the new counter as its key, log.h), so that a mirror, a replay
 * (ent_store_replay()) and a consumer of the stream count the same ids: a copy that takes writes
 * later never hands out again an id this store gave out and deleted.
 * txn: a write transaction, or NULL for one of its own.
 * Returns ENT_OK, ENT_INVALID (a type of string keys), ENT_READONLY (a read transaction, a
 * read-only store, a mirror), ENT_SCHEMA, the codes of a write (ENT_FULL, ENT_IO), and the codes
 * of ent_txn_begin()/ent_txn_commit() when txn is NULL. */
ENT_EXTERN(int) ent_last_id_raise(ent_store *s, ent_txn *txn, const ent_type *type, uint64_t id);

/* ---- index look-ups and scans -------------------------------------------------------------- */

/* A value to look up or bound a range with, of the field's kind (refs: UINT or STRING), or a
 * neighbouring one: an INT for a TIMESTAMP and back, a non-negative INT for a UINT, a UINT up to
 * 2^63-1 for an INT or a TIMESTAMP, an INT or UINT for a FLOAT, compared exactly (no double equals
 * 2^53 + 1: a look-up of it finds nothing, and it bounds a range between 2^53 and 2^53 + 2). A
 * neighbouring value outside those (an INT below 0 for a UINT) is ENT_INVALID, saying so. */
typedef struct ent_value {
    ent_kind kind;
    union {
        int b;
        int64_t i; /* INT, TIMESTAMP */
        uint64_t u;
        double f;
        struct {
            const void *ptr; /* STRING (UTF-8), BYTES; borrowed */
            size_t len;
        } s;
    } v;
} ent_value;

ENT_EXTERN(ent_value) ent_value_bool(int b);
ENT_EXTERN(ent_value) ent_value_int(int64_t i);
ENT_EXTERN(ent_value) ent_value_uint(uint64_t u);
ENT_EXTERN(ent_value) ent_value_float(double f);
ENT_EXTERN(ent_value) ent_value_timestamp(int64_t ns);
ENT_EXTERN(ent_value) ent_value_string(const char *s); /* borrows s; NULL: a look-up or a range bound with it is ENT_INVALID */
ENT_EXTERN(ent_value) ent_value_bytes(const void *p, size_t len);

/* Room for any bytes value ent_value_parse() can decode for a look-up (index values are at most
 * 510 bytes long). */
#define ENT_VALUE_PARSE_BUF_SIZE 512

/* Parse `text` as a value of field f's kind, as a command line gives it: numbers in decimal,
 * bool as true/false, timestamps as RFC 3339 or ns, bytes as base64, refs as the target's key.
 * A float's decimal point is '.' whatever the host's locale (LC_NUMERIC). Bytes are decoded into the caller's buf[0..buf_size) (ENT_VALUE_PARSE_BUF_SIZE holds any
 * look-up value); buf may be NULL with buf_size 0 when f is not a bytes field.
 * out: nothing to free; out->v.s.ptr is borrowed from `text` (strings, string refs) or from `buf`
 * (bytes), valid while they are and until buf is reused. Each value kept alive needs its own buf.
 * Returns ENT_OK, ENT_INVALID (names the field; also bytes that do not fit in buf), ENT_NOMEM (a
 * float field, when the "C" locale a number is read in could not be made). */
ENT_EXTERN(int) ent_value_parse(ent_value *out, void *buf, size_t buf_size, const ent_field *f,
                                const char *text);

enum { ENT_ITER_REVERSE = 1 };

#define ENT_RANGE_OPTS_VERSION 1
typedef struct ent_range_opts {
    unsigned version;       /* ENT_RANGE_OPTS_VERSION */
    const ent_value *from;  /* inclusive lower bound; NULL: from the lowest */
    const ent_value *to;    /* exclusive upper bound; NULL: to the highest */
    unsigned flags;         /* ENT_ITER_REVERSE: from the highest down; another bit: ENT_INVALID */
    uint64_t limit;         /* at most this many entities; 0: no limit */
    const char *resume;     /* continue after the position of ent_iter_resume(); NULL: start */
} ent_range_opts;
#define ENT_RANGE_OPTS_INIT {ENT_RANGE_OPTS_VERSION, NULL, NULL, 0, 0, NULL}

/* Index values compare as numbers, strings and bytes do, for unique checks, look-ups, range bounds
 * and verify alike: a float's -0.0 and 0.0 are one value (as == says, and SQL), so a unique index
 * lets one entity hold it, a look-up of either finds both, and a refusal names how the holder holds
 * it ("value -0.0 is taken by t 1 (as 0.0: ...)"); every NaN (any sign or payload) is one value too,
 * above +inf, held by one entity under a unique index (as in PostgreSQL). A record
 * keeps the value as written (-0.0 stays -0.0). An integer given for a float field compares exactly.
 *
 * Entities whose unique or indexed field (or ref) f equals v, in key order. A string no key can
 * be, for a ref to string keys ("" or over ENT_KEY_STRING_MAX bytes), finds nothing (as for
 * ent_find_unique(), which answers ENT_NOTFOUND), as ranges take it for a bound.
 * out: the caller frees it with ent_iter_free() (before the txn ends).
 * Returns ENT_OK, ENT_INVALID (f not indexed, value of the wrong kind), ENT_FULL (value too long
 * for an index key), ENT_SCHEMA. */
ENT_EXTERN(int) ent_find(ent_iter **out, ent_store *s, ent_txn *txn, const ent_field *f, const ent_value *v);

/* The one entity whose unique field f equals v. out: the caller frees it with ent_entity_free().
 * Returns ENT_OK, ENT_NOTFOUND, ENT_INVALID (f not unique, value of the wrong kind), ENT_FULL (value
 * too long for an index key, as for ent_find()), ENT_CORRUPT (as ent_iter_next()), ENT_SCHEMA. */
ENT_EXTERN(int) ent_find_unique(ent_entity **out, ent_store *s, ent_txn *txn, const ent_field *f,
                                const ent_value *v);

/* Entities whose indexed field f is in [from, to), in index order (value, then key). Floats: NaN
 * sorts above +inf, and a range without `to` stops below it unless `from` is NaN. opts: NULL for
 * defaults. out: the caller frees it with ent_iter_free() (before the txn ends).
 * Returns as ent_find(), plus ENT_INVALID (opts of another version, unknown flags, a resume token
 * of another index, a bound made from NULL: ent_value_string(NULL), bytes of a length at NULL). */
ENT_EXTERN(int) ent_range(ent_iter **out, ent_store *s, ent_txn *txn, const ent_field *f,
                          const ent_range_opts *opts);

/* Every entity of `type` in key order from `start` (inclusive; NULL: the first, or the last when
 * reversed), with flags and limit as in ent_range_opts (from/to ignored; resume honoured: the
 * entities after the token's position, still from `start` on, as a range keeps its bounds).
 * out: the caller frees it with ent_iter_free() (before the txn ends). Returns ENT_OK,
 * ENT_INVALID (start not of the type's key kind, opts as for ent_range()), ENT_SCHEMA. */
ENT_EXTERN(int) ent_scan(ent_iter **out, ent_store *s, ent_txn *txn, const ent_type *type, const ent_key *start,
                         const ent_range_opts *opts);

/* Next entity. out: a new entity; the caller frees it with ent_entity_free().
 * Returns ENT_OK, ENT_NOTFOUND (no more), ENT_CORRUPT (naming the entity: its record does not
 * decode, or an index entry is for a missing entity or for a value the entity does not hold; a
 * look-up never returns an entity its index entry got wrong).
 * In a write txn an iterator sees the txn's own writes made while it is open, on both backends:
 * an entity created, or moved by an update of the iterated field, past the iterator's position is
 * returned when reached, so one moved ahead is met again (a loop that raises each price it visits
 * in an open price range never ends): collect the keys first, or bound the range. */
ENT_EXTERN(int) ent_iter_next(ent_entity **out, ent_iter *it);
/* The position after the last entity returned, as a NUL-terminated token for
 * ent_range_opts.resume. Borrowed: valid until the next call on it. NULL before the first.
 * The token names the index (or type) that made it: ent_range() over another index and ent_scan()
 * of another type refuse it with ENT_INVALID. */
ENT_EXTERN(const char *) ent_iter_resume(ent_iter *it);
/* Whether ent_iter_next() has another entity to give, whatever the limit: 1 yes, 0 no, or a
 * negative code (ENT_INVALID for NULL, ENT_CORRUPT, ...). After a page read with a limit, 0 means
 * the range or scan is exhausted, so no further page needs reading; 1 means resuming from
 * ent_iter_resume() gives at least one more entity (in the same snapshot). It looks one entry
 * ahead and keeps it for the next ent_iter_next(), so it may be called any number of times. In a
 * write txn it changes nothing of what ent_iter_next() returns: the txn's own writes after it are
 * met as without it (an entry kept that a write then moved or removed is not returned, nor taken
 * for damage; an entity created before it is returned; an entity a type scan kept and a write
 * updated is returned as it is then). */
ENT_EXTERN(int) ent_iter_more(ent_iter *it);
/* Free it before its txn ends. One still open when the txn ends stops there: ent_iter_next() and
 * ent_iter_more() give ENT_INVALID, ent_iter_resume() still gives its token; free it all the same.
 * NULL does nothing. Like a txn, it belongs to the thread that began its txn: another thread's
 * free is refused (ent_errmsg() says so) and leaves it to that thread. */
ENT_EXTERN(void) ent_iter_free(ent_iter *it);

#ifdef __cplusplus
}
#endif
#endif
