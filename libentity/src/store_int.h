/* Internal state of stores and transactions, and every function the store's files share (store*.c,
 * txn.c, crud.c, iter.c, log*.c, verify_store.c, value_parse.c). */
#ifndef ENT_STORE_INT_H
#define ENT_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "bk.h"
#include "codec.h"
#include "entity/log.h"
#include "entity/store.h"
#include "entity/mirror.h"
#include "schema_int.h"
#include "value_int.h"

/* The store's format, in its meta table; a library refuses a store of a newer one. 2 (2026-12-05):
 * durable LMDB commits may go through the write-ahead file (backend_lmdb_wal.c), which a library
 * that does not know it would not write (its commits unlogged, a reboot's replay would then put
 * stale pages over them): a writable open marks a store of format 1 with 2, so that such a
 * library refuses it, as SQLite's legacy versions refuse a database in WAL mode. 3 (ninth
 * session): the file's records are checksummed with a seed per generation, which a library of
 * format 2 does not know: its recovery would take every record for damage and drop it, and its
 * unseeded records in a seeded generation would end the chain a reboot follows. 4 (2026-12-07):
 * the log may hold raises of a type's id counter (ENT_OP_LAST_ID), an event a library of format 3
 * cannot decode: its `events`, replay and relay stopped there (ENT_CORRUPT, "unknown operation")
 * and its check called a sound store damaged. Its writes still worked, so nothing told a user who
 * ran it beside a newer one; it refuses the store now instead. Libraries of 2026-12-07 before this
 * wrote raises into stores they left at format 3: their next writable open here marks them. */
#define ENT_FORMAT_VERSION 4

/* The backend tables of one schema generation: one data table per type and one table per index
 * (in type->indexes order). A layout lives as long as the store, so handles of older schemas
 * held by the host stay valid after a reload. */
typedef struct ent_layout {
    ent_schema *schema;
    uint64_t gen;          /* meta "schema_gen" it was loaded at */
    unsigned *data;        /* per type (type->pos) */
    unsigned **idx;        /* per type, per index */
    struct ent_layout *older;
} ent_layout;

struct ent_sub_cb; /* log_deliver.c */

struct ent_store {
    ent_bk_conn bk;            /* the backend, called through bk.c only */
    char *path;                /* as given (messages name it) */
    char *dir;                 /* path made absolute at the open (realpath), for files named beside the store later */
    size_t txns_open;          /* transactions of every thread begun and not ended (__atomic): a close refuses while any is */
    int read_only;
    ent_durability durability;
    unsigned t_meta, t_log, t_subs;
    pthread_mutex_t mu;        /* guards lay (swap on reload) and the callbacks list */
    ent_layout *lay;           /* current; older ones chained for borrowed handles */
    /* The schema object the host opened the store with. The store works on its own copy, but the
     * host's types, fields and entities of that object are accepted as the copy's (same content,
     * so the same positions) while the store stays at that generation. Compared by address only. */
    const ent_schema *alias;
    uint64_t alias_gen;
    struct ent_sub_cb *cbs;    /* in-process subscribers (log.c), guarded by mu */
    atomic_int has_cbs;        /* cbs != NULL, set with it under mu: read by every commit without mu */
    int delivering;            /* a delivery walks cbs: unsubscribed nodes wait (under mu) */
    size_t n_dead;             /* nodes marked dead, waiting for the delivery's end (under mu) */
    pthread_cond_t delivered;  /* signalled (with mu) when a delivery ends */
    uint64_t deliveries;       /* deliveries ended (under mu) */
    uint64_t sub_steps;        /* subscriber nodes ent_unsubscribe() and its sweeps stepped over
                                * (under mu; counted for a test) */
    /* Delivery turns in commit order (log_deliver.c): a leaf lock, never held while anything else
     * is taken. A commit with subscribers takes ticket ++next_ticket while it holds the write
     * transaction and delivers once served_ticket is the one before it. */
    pthread_mutex_t turn_mu;
    pthread_cond_t turn;
    uint64_t next_ticket, served_ticket;
    /* Committed events whose read for delivery failed: delivered first by the next turn (0: none). */
    uint64_t held_first, held_last;
    /* A snapshot in which schema_gen was found equal to gen_lay's generation (under mu). */
    uint64_t gen_snap;
    const ent_layout *gen_lay;
    /* What this handle's last commit left in meta: the log state and the counters of the types it
     * had loaded (wc_tc, wc_lay's types), valid in state wc_state (0: nothing kept), which that
     * commit made. A write txn that begins on exactly that state (no commit by anyone since)
     * takes them instead of reading them back: three meta reads were ~8 % of a single-op create.
     * Under mu. */
    uint64_t wc_state;
    const ent_layout *wc_lay;
    uint64_t wc_log_last, wc_txn_last;
    struct ent_tcount *wc_tc;
    size_t wc_n;
    struct ent_group *group;   /* group commit of calls without a txn (txn_group.c) */
    ent_progress_cb progress;  /* long calls report to it (ent_store_set_progress) */
    void *progress_payload;
    char id[37];               /* the store's UUID (meta "store_id"), "" when a read-only open
                                * finds a store made before ids were kept (store_id.c) */
    char mirror_of[37];        /* a mirror: the primary's id (meta "mirror_of"); else "" */
    int mirror_writer;         /* opened by ent_mirror_open(): the one handle that may write */
    int scratch;               /* a store of the library's own, no host has its handle (verify's
                                * replay): written from an event callback too (txn.c) */
    /* An ended read transaction kept for the next one (txn.c), with its scratch buffers: a get in
     * a read transaction of its own spent a fifth of its time in their calloc and frees. */
    _Atomic(struct ent_txn *) spare_txn;
    /* ent_event_as_written()'s cache (event_written.c): the schema history and the stored schema
     * versions it parsed, kept until close because the events it returns borrow their types.
     * Under wr_mu, a leaf lock never held across a backend call (a read transaction may wait for
     * every transaction of this process, one of them a thread waiting for wr_mu). */
    pthread_mutex_t wr_mu;
    ent_schema_mark *wr_marks;
    size_t wr_n_marks;
    uint32_t wr_top;           /* highest version in wr_marks (0: none loaded) */
    struct ent__wr_schema *wr_scs;
    size_t wr_n_scs;
};

/* Free ent_event_as_written()'s cache (store_free). */
void ent__written_free(ent_store *s);

/* Report progress of a long call every 4096 items. */
static inline void ent__progress(ent_store *s, const char *what, uint64_t done)
{
    if (s->progress && (done & 4095) == 0) s->progress(what, done, s->progress_payload);
}

/* Per-type counters cached in a write transaction and written to meta once, at commit. */
typedef struct ent_tcount {
    uint8_t loaded, dirty;
    uint64_t next_id; /* last assigned auto id */
    uint64_t count;
} ent_tcount;

/* The events a write txn appended, kept for in-process delivery when the store had subscribers at
 * its first event (log_deliver.c): the delivery decodes these bytes, the very ones it stored,
 * instead of reading them back, so it needs no read transaction. A read would have to adopt a map
 * that another process grew, which waits for every transaction of this process, among them one
 * held by a thread that waits for this delivery. */
typedef struct ent_evcap {
    ent_buf buf;            /* the events back to back */
    size_t *end;            /* end[i]: where event seq + i ends in buf */
    size_t n, max;          /* events kept; room in end */
    uint64_t seq;           /* seq of the first kept */
    uint8_t asked, on, off; /* subscribers looked up; keeping; a failure stopped it (read back) */
} ent_evcap;

struct ent_txn {
    ent_store *s;
    ent_btxn *bt;        /* backend txn */
    int write;
    int failed;          /* 1: a write failed half way, only abort is allowed; 2: ent_txn_run()'s fn aborted it */
    int failed_rc;
    int failed_detail;   /* failed_rc's ENT_DETAIL_*, said again with it */
    int refs_unchecked;  /* ent_txn_skip_ref_checks() */
    int refs_deferred;   /* ent_txn_defer_ref_checks(): the checks below wait for the commit */
    /* ... the entities written (their refs to check) and deleted (their referrers to check) since,
     * back to back: type name length (1 byte), the name, pk length (4 bytes), the pk. */
    ent_buf deferred;
    int uniques_deferred; /* ent_txn_defer_unique_checks(): a value taken may wait for its holder */
    /* ... the index entries that wait (crud.c, upend_*): a unique value an entity took while
     * another held it, written once the holder lets it go; one still waiting at the end fails it. */
    ent_buf upend;
    int restore_forward; /* ent_txn_restore_forward() */
    int indexes_deferred; /* ent_store_replay(): indexes left alone, every one rebuilt at its end */
    int restore_always;   /* ent_store_replay(): a restore that changes nothing still writes its event */
    int keep_ts;          /* ent_store_replay(): the next events get event_ts, the source event's */
    int64_t event_ts;     /* ... rather than the wall clock: the replayed log keeps when things happened */
    ent_layout *lay;     /* schema generation seen at begin */
    ent_tcount *tc;      /* per type, write txns (tc_cap entries allocated) */
    size_t tc_cap;
    /* log state, write txns */
    uint8_t log_loaded, log_dirty;
    uint64_t log_last;   /* last seq written */
    uint64_t txn_id;     /* 0 until the first event of this txn */
    uint64_t first_seq;  /* first seq of this txn (0: none) */
    ent_evcap cap;       /* its events for in-process delivery */
    int mirror_apply;    /* ent_mirror_apply(): the one writer a mirror accepts */
    uint64_t base_state; /* write txns: the backend's id of the state it began on (0: unknown) */
    uint8_t meta_other;  /* wrote meta besides the log state and counters of commit (txn.c) */
    /* scratch buffers, reused by every call in the txn */
    ent_buf k1, k2, v1;
    ent_buf ev;        /* the event being appended (v1 may still hold the record it repeats) */
    msgpack_zone *zone;
    struct ent_txn *next_held; /* the next transaction this thread holds (txn.c) */
    struct ent_iter *iters;    /* iterators still open on it: ended with it (iter.c) */
    pthread_t owner;           /* the thread that began it: the only one that may use or end it */
};

/* Every iterator still open on t loses its cursor and ends (ent_iter_next: ENT_INVALID, naming
 * the misuse; ent_iter_free: no cursor to close). Called by bk.c before t's backend txn or
 * savepoint ends, which frees the backend's cursors. */
void ent__iters_end(struct ent_txn *t);

/* Free the read transaction kept for reuse (ent_store_close). */
void ent__txn_spare_free(ent_store *s);

/* Layouts (store_layout.c). Resolve (creating when `create`) every table of schema sc inside txn
 * t. out: a new layout owning sc on ENT_OK. */
int ent__layout_open(ent_layout **out, ent_txn *t, ent_schema *sc, uint64_t gen, int create);
void ent__layout_free(ent_layout *l); /* l and every older one */
/* The backend table name of a type's data (f NULL) or of its index on f; tag 't', 'u' or 'x'. */
void ent__table_name(char *buf, size_t size, char tag, const ent_type *t, const ent_field *f);

/* Schema evolution (store_evolve.c). */
/* Stored schema versions, ascending. */
typedef struct ent__vers {
    uint32_t *v;
    size_t n, cap;
} ent__vers;
void ent__vers_free(ent__vers *l);
/* The stored versions below `below`, ascending: a walk over the meta table's "schema_v/<n>" keys,
 * not a look-up per number (versions may skip numbers, up to 2^32-1). Free with ent__vers_free(). */
int ent__schema_stored_below(ent__vers *out, ent_txn *t, uint64_t below);
/* Refuse `next` unless it is a compatible evolution of `cur` and of every earlier stored version
 * (store_evolve.c; it compares with those that can fail, listed in meta "schema_check").
 * keep: on ENT_OK, the list for `next`, to store with ent__schema_check_put() in the transaction
 * that stores `next`; the caller frees it with ent__vers_free(). */
int ent__schema_check_history(ent_txn *t, const ent_schema *cur, const ent_schema *next, ent__vers *keep);
int ent__schema_check_put(ent_txn *t, uint32_t version, const ent__vers *keep);
/* For verify: *out the first stored version that the list in meta "schema_check" leaves off and
 * that a successor of cur could fail against before any listed one (an evolution would accept
 * what comparing with every version refuses: the list is damaged), 0 when none, or when there
 * is no list the next evolution would use. Returns ENT_OK, ENT_NOMEM. */
int ent__schema_check_verify(uint32_t *out, ent_txn *t, const ent_schema *cur);
/* Stored versions the check loaded on this thread (tests count them: the work of an evolution). */
extern _Thread_local unsigned long ent__history_loads;
/* Apply the evolution prev -> next in write txn t whose layout is next's already: build new
 * indexes over the stored entities, empty dropped ones. */
int ent__store_evolve(ent_txn *t, const ent_schema *prev, const ent_schema *next);
/* Build index j of `type` over the stored entities, into an empty index table. */
#define ENT__INDEX_ALL ((size_t)-1) /* ent__index_build(): every index of the type */
int ent__index_build(ent_txn *t, const ent_type *type, size_t j);
/* A short printable form of a scalar value for conflict messages, into buf (crud.c). */
const char *ent__val_str(const ent_val *v, char *buf, size_t size);
/* A unique float's conflict message names the value as the write gives it (`mine`, from
 * ent__val_str()); the entity at holder_pk that holds it may hold it spelt otherwise (0.0 for
 * -0.0: one value to an index, as == says): then " (as 0.0: -0.0 and 0.0 are one value)" into
 * buf, else "" (crud.c). */
const char *ent__held_as(char *buf, size_t size, ent_txn *t, const ent_type *type, const ent_field *f,
                         const ent_slice *holder_pk, const char *mine);
int ent__schema_copy(ent_schema **out, const ent_schema *sc); /* a sealed copy; caller frees */
int ent__schemas_equal(const ent_schema *a, const ent_schema *b, int *out);

/* ent_store_open(), and ent_mirror_open() when mirror_of is given: the store is (or is created
 * as) a mirror of that primary and the handle may write to it. */
int ent__store_open(ent_store **out, const char *path, const ent_schema *schema,
                    const ent_store_opts *opts, const char *mirror_of);
/* Identity and role (store_id.c). A new random v4 UUID. */
void ent__random_uuid(uint8_t id[16]);
/* s->id from meta (writable: a store without one gets one). */
int ent__store_id_load(ent_store *s, ent_txn *t, int writable);
/* s->mirror_of from meta, or written when `created` and mirror_of is given; opening as a mirror
 * (mirror_of given) of a store that is not that primary's mirror is ENT_CONFLICT. */
int ent__mirror_load(ent_store *s, ent_txn *t, const char *mirror_of, int created);
/* ENT_READONLY naming the primary when s is a mirror and t is not its apply transaction. */
int ent__mirror_guard(ent_txn *t);
/* Record that schema `version` takes effect after the log's current last seq. */
int ent__schema_mark(ent_txn *t, uint32_t version);

/* The check every entry point makes first: s not NULL, not opened before a fork() (bk.c). */
int ent__store_check(ent_store *s);
/* Called with a fresh backend txn whose meta says schema generation `gen` != the layout's: load
 * the stored schema and its tables in that txn, and make it the store's current layout. */
int ent__store_reload(ent_store *s, ent_txn *t, uint64_t gen);
/* Free the in-process subscribers of a store being closed (log_deliver.c). */
void ent__store_free_cbs(ent_store *s);

/* Group commit (txn_group.c). A write call's work, run in transaction t (given by the host, or
 * one of the call's own, or a group's). half: set when a failure left writes half done. */
/* ent_txn_defer_ref_checks(): check what t's calls noted since (crud.c), on t's state now, and
 * forget it: ENT_OK, ENT_INVALID (a ref to a missing entity), ENT_CONFLICT (a deleted entity still
 * referenced), a read's error; the message names the entity. */
int ent__refs_check_deferred(ent_txn *t);
/* ent_txn_defer_unique_checks(): ENT_OK when no unique value t's calls took still waits for
 * another entity to let it go, else ENT_CONFLICT naming both; forgets the waits either way. */
int ent__uniques_check_deferred(ent_txn *t);
typedef int (*ent__write_fn)(ent_txn *t, void *payload, int *half);
/* Run fn in txn when given (ent__txn_use/ent__txn_end rules), else in a transaction of its own,
 * shared with other threads' calls when the backend has savepoints (group commit). */
int ent__txn_write(ent_store *s, ent_txn *txn, ent__write_fn fn, void *payload);
int ent__group_new(ent_store *s);
/* Nonzero while a group of s runs or calls queue for one (0 in a forked child). */
size_t ent__group_busy(ent_store *s);
void ent__group_free(ent_store *s, int in_child); /* in_child: after fork(), free memory only */
/* For tests: groups led so far, and calls waiting for a leader now. */
void ent__group_stats(uint64_t *commits, size_t *waiting, ent_store *s);
/* Commit write txn t for a group (txn_group.c): on a backend that syncs apart the backend's writer
 * is free before this commit's last sync (see backend.h); the call returns once the commit is
 * durable and its events delivered. */
int ent__txn_commit_group(ent_txn *t);
/* The time (ns) the last commit of this thread spent in its backend's sync after the commit
 * (backends that sync apart; 0 for the others): a group's sync time (ent_store_group_stats). */
extern _Thread_local int64_t ent__txn_sync_ns;
/* Tests: 1 runs every call of a group in a savepoint (txn_group.c runs the library's own without). */
extern int ent__group_sp_always;
/* CLOCK_MONOTONIC in ns: the group's phase times (txn_group.c, txn.c). */
int64_t ent__mono_ns(void);
/* 1 when t is lent to ent_txn_run()'s function on this thread (it may not commit or abort it). */
int ent__txn_lent(const ent_txn *t);
/* Transactions this thread has open, of any store. */
unsigned ent__txn_open_count(void);
/* 1 when this thread holds s's write transaction (txn.c): a call that waits for s's writer
 * would wait for itself. */
int ent__txn_holds_write(const ent_store *s);
int ent__txn_holds_any(const ent_store *s); /* a transaction of s, read or write, open on this thread */
int ent__err_holds_write(void); /* ENT_BUSY with the message that says so */
/* The same for a call that takes no transaction (`call` names it): it cannot be passed one. */
int ent__err_holds_write_in(const char *call);

/* Start the transaction a call runs in: `txn` when given (checking its mode), else a new one that
 * the caller ends with ent__txn_end(). */
int ent__txn_use(ent_txn **out, ent_store *s, ent_txn *txn, int write);
/* t->failed's code, with a message: a write that failed half way, or ent_txn_abort() from
 * ent_txn_run()'s fn (failed 2). */
int ent__txn_failed(const ent_txn *t);
/* End a transaction begun by ent__txn_use(): commit on rc == ENT_OK, else abort; returns the
 * final code. A given (non-auto) txn is left alone, but marked failed when rc is an error that
 * left writes half done (half != 0). */
int ent__txn_end(ent_txn *t, ent_txn *given, int rc, int half);

/* The transaction's own type for a type handle of the host: the store's type itself, or the
 * same-position type when `type` is from the schema object the store was opened with.
 * Returns ENT_OK, ENT_SCHEMA (a type of an older or foreign schema), ENT_INVALID (NULL). */
int ent__type_resolve(const ent_type **out, const ent_txn *t, const ent_type *type);
/* Same for a top-level field handle. */
int ent__field_resolve(const ent_field **out, const ent_txn *t, const ent_field *f);

/* The meta table (store_meta.c). get: ENT_NOTFOUND (no message) when absent; the slice is
 * borrowed from the backend (see backend.h). */
int ent__meta_get(ent_slice *out, ent_txn *t, const char *key);
int ent__meta_put(ent_txn *t, const char *key, const void *v, size_t n);
/* ENT_INVALID naming who, unless mode is ENT_DURABLE, ENT_LAZY or ENT_NONE. */
int ent__durability_check(int mode, const char *who);
/* Store mode as the store's durability (meta "durability"), what opens of ENT_DURABILITY_STORED use. */
int ent__durability_put(ent_txn *t, int mode);
/* Remove meta `key`: ENT_NOTFOUND (no message) when absent. */
int ent__meta_del(ent_txn *t, const char *key);
/* Meta key of a store that a replay (ent_store_replay) is building, set in the replay's first
 * transaction and removed in the one that builds its unique indexes at the end: a store that
 * still has it was left by a replay that did not finish. Its value: the source store's id. */
#define ENT__META_REPLAY_OPEN "replay_open"
/* The stored schema under meta `key` ("schema"). out: the caller frees it. ENT_CORRUPT when absent
 * or when it does not load. */
int ent__schema_from_meta(ent_schema **out, ent_txn *t, const char *key);
/* ENT_OK when the stored schema (meta "schema") equals, byte for byte, its copy "schema_v/<version>"
 * (ent__schema_store() writes both in one transaction); ENT_CORRUPT naming both keys when the
 * copy differs or is missing. */
int ent__schema_copy_check(ent_txn *t, uint32_t version);
/* Store sc as the current schema (and as its version's), at generation gen. */
int ent__schema_store(ent_txn *t, const ent_schema *sc, uint64_t gen);
/* meta helpers */
int ent__meta_get_u64(uint64_t *out, ent_txn *t, const char *key); /* ENT_NOTFOUND when absent */
int ent__meta_put_u64(ent_txn *t, const char *key, uint64_t v);
/* Two u64 in one meta value (16 bytes). Absent: both 0 and ENT_OK. */
int ent__meta_get_pair(uint64_t *a, uint64_t *b, ent_txn *t, const char *key);
int ent__meta_put_pair(ent_txn *t, const char *key, uint64_t a, uint64_t b);
int ent__tcount_load(ent_txn *t, const ent_type *type);

/* The stored counters, as any transaction (read or write) sees them; use these rather than the
 * meta keys. Per type: the last assigned auto id and the number of entities (meta "ctr/<type>",
 * one 16-byte value so a commit writes one record per type). The log: the last seq and the last
 * txn number (meta "log"). A write transaction's not yet flushed changes are included. */
int ent__type_counters(uint64_t *next_id, uint64_t *count, ent_txn *t, const ent_type *type);
int ent__log_counters(uint64_t *last_seq, uint64_t *last_txn, ent_txn *t);

/* Log records (log_record.c): append one event in the write transaction. mask: top-level fields in data
 * (NULL: all set fields on create; ignored for deletes). packed (may be NULL): e's fields already
 * packed as a msgpack map (a create repeats its record's), used instead of packing e again. */
int ent__log_append(ent_txn *t, const ent_type *type, const ent_key *key, int op, uint64_t version,
                    const ent_entity *e, const uint64_t *mask, const ent_slice *packed);
int ent__log_flush(ent_txn *t); /* write the log counters before commit */
/* Append the start of an event as the log stores it (log_record.c's layout): the array header and
 * the six items before the data, which the caller appends (a fields map, or nil). A failed write
 * is left in b for ent__buf_ok(). */
void ent__event_head_pack(ent_buf *b, int64_t ts, uint64_t txn, const char *type_name, const ent_key *key,
                          int op, uint64_t version);
/* Load the log counters into write txn t once (t->log_last, t->txn_id). */
int ent__log_load(ent_txn *t);
/* The first and last seq present in the log as t sees it (both 0 when empty; log.c). */
int ent__log_bounds_in(uint64_t *first, uint64_t *last, ent_txn *t);
/* Make cursor c read in t's snapshot instead of one new snapshot per batch (log.c): it then ends
 * where t's log does. t (borrowed) must outlive c's reads. */
void ent__log_cursor_pin(ent_log_cursor *c, ent_txn *t);
/* In-process delivery (log_deliver.c). Deliver the events [first_seq, last_seq] of a transaction
 * just committed to the in-process subscribers, in commit order. ent__log_ticket() is called
 * while the write transaction is held (before the backend commit), so tickets follow commit
 * order; ent__log_deliver() is then called once per ticket, whatever the commit's outcome
 * (committed = 0: the commit's events are not visible, nothing of it delivered; events held back
 * by an earlier failed read still are), and waits for the deliveries of the tickets before it. No
 * lock is held between the two. lay: the committed txn's layout. */
int ent__log_has_subscribers(ent_store *s);
uint64_t ent__log_ticket(ent_store *s);
/* cap: the committed txn's kept events (ent__log_keep; NULL or partial: the rest is read back). */
void ent__log_deliver(ent_store *s, const ent_layout *lay, uint64_t ticket, uint64_t first_seq, uint64_t last_seq,
                      int committed, const ent_evcap *cap);
/* Keep a copy of event seq (p, n), just put into write txn t's log, for its delivery, when the
 * store has subscribers. A put of a seq already kept (a savepoint took it back; a mirror stores
 * the primary's bytes over it) drops it and those after it first. Failures only stop keeping. */
void ent__log_keep(ent_txn *t, uint64_t seq, const void *p, size_t n);
void ent__evcap_free(ent_evcap *c);
/* Decode the event stored under seq with the schema of layout lay (log_record.c).
 * out: the caller frees it with ent_event_free(). Returns ENT_OK, ENT_CORRUPT, ENT_NOMEM. */
int ent__event_decode(ent_event **out, const ent_layout *lay, uint64_t seq, const void *p, size_t n);
int ent__event_decode_in(ent_event **out, const ent_schema *sc, uint64_t seq, const void *p, size_t n);
/* ent_event_to_json() through a jansson tree (event_json.c): the pretty layout, and the reference
 * the compact writer is tested against. Same contract as ent_event_to_json(). */
int ent__event_to_json_tree(char **out, const ent_event *ev, unsigned flags);
/* "create", "update", "delete", "last_id" (ENT_OP_*), "?" for another number: JSON's and messages' */
const char *ent__op_name(int op);
/* 1 while this thread delivers events (a callback must not write; log_deliver.c). */
int ent__log_in_callback(void);
/* 1 when this thread runs an event callback of s (ent_store_close refuses then). */
int ent__log_delivering(const ent_store *s);
/* Wait on the store's change counter until look(arg) returns 1 (ENT_OK) or a code (returned), or
 * timeout_ms (negative: forever) passes: ENT_TIMEOUT with no message. ENT_BUSY (named, with `what`
 * is waited for) from an event callback of s or the thread holding its write transaction, when
 * look() said not yet (log.c; ent_log_wait(), ent_sub_wait()); so too from a thread that claimed
 * to be the one that makes it happen (ent_log_wait_claim(): sub NULL the log, else subscription
 * sub). */
int ent__wait_change_until(ent_store *s, int timeout_ms, int (*look)(void *arg), void *arg, const char *what,
                           const char *sub);
/* ENT_SCHEMA when type (may be NULL: all) names no type of s's schema (log.c). */
int ent__log_type_check(ent_store *s, const ent_type *type);

#endif
