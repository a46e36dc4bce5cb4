/* libentity — the event log.
 *
 * Every create, update and delete appends one event to the store's log in the same write
 * transaction as the change, and so does every raise of a type's id counter (ENT_OP_LAST_ID): an aborted transaction leaves no event, a committed one never lacks
 * one. Sequence numbers are gap-free from 1; the events of one transaction share a `txn` number.
 */
#ifndef ENTITY_LOG_H
#define ENTITY_LOG_H

#include "common.h"

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Operations; also bit flags for filters.
 * ENT_OP_LAST_ID: a type's id counter (ent_last_id()) raised by ent_last_id_raise() (`entity
 * load` of a dump's counter line): key = the new counter (an auto id: creates without a key take
 * the ones above it), version 0, data NULL; no entity is created or changed. It is written only
 * when the counter went up, so that a mirror, a replay and a consumer of the log count the ids
 * the store counts and never hand out again one it gave out and deleted. Stores written before
 * it existed never log one (their raises were not logged).
 * A filter of 0 keeps create, update and delete only, as it did before this operation existed:
 * a subscriber or cursor written for those three never meets a fourth. A filter that wants the
 * raises names ENT_OP_LAST_ID, or ENT_OP_ALL for every operation (what a copy of the log needs:
 * the relay, ent_store_replay(), `entity events`, serve's event pages and stream all take every
 * operation, and their JSON says "op":"last_id"). Code that switches on op should skip an op it
 * does not know: a later version may add another. */
enum { ENT_OP_CREATE = 1, ENT_OP_UPDATE = 2, ENT_OP_DELETE = 4, ENT_OP_LAST_ID = 8 };
/* every operation: the filter of a copy of the log */
#define ENT_OP_ALL (ENT_OP_CREATE | ENT_OP_UPDATE | ENT_OP_DELETE | ENT_OP_LAST_ID)
/* what a filter of 0 keeps: the changes of entities */
#define ENT_OP_ENTITY (ENT_OP_CREATE | ENT_OP_UPDATE | ENT_OP_DELETE)

typedef struct ent_event {
    uint64_t seq;
    int64_t ts;        /* wall clock at append, ns since the epoch; a mirror's events and a
                        * replay's (ent_store_replay()) keep their source event's */
    uint64_t txn;
    /* Borrowed from the store's schema, valid until ent_store_close(). It is the store's own type
     * object, so it equals ent_store_type(s, name) by pointer while the store's schema stays the
     * same; after the schema changes (an evolution, also by another process: ent_store_schema()
     * then returns a new schema) events carry the new schema's types, and a type looked up
     * before compares unequal: compare ent_type_name() then, or look the type up again. It never
     * equals a type of the ent_schema object the host passed to ent_store_open() (the store keeps
     * its own copy). */
    const ent_type *type;
    ent_key key;       /* str borrowed from the event */
    int op;            /* ENT_OP_* */
    uint64_t version;  /* the entity's version after the change; 0 for ENT_OP_LAST_ID */
    /* create: every field; update: the changed top-level fields, each marked changed
     * (ent_entity_changed), a removed one unset; delete: NULL. Owned by the event. */
    ent_entity *data;
} ent_event;

/* NULL does nothing; it may come after ent_store_close() (as ent_entity_free()). */
ENT_EXTERN(void) ent_event_free(ent_event *ev);

/* {"seq":N,"ts":"RFC 3339","txn":N,"type":T,"key":K,"op":"create|update|delete|last_id","version":V,
 *  "data":{...}} with removed fields as null (a delete's and a last_id's data: {}); seq, txn, an auto key and version above 2^63-1 as
 * decimal strings, as entity JSON writes uints. out: the caller frees it with free(). flags:
 * ENT_JSON_PRETTY (ENT_JSON_ENTITY is taken and changes nothing; another bit: ENT_INVALID).
 * Returns ENT_OK, ENT_INVALID, ENT_NOMEM. */
ENT_EXTERN(int) ent_event_to_json(char **out, const ent_event *ev, unsigned flags /* ENT_JSON_PRETTY */);

/* First and last seq in the log: 0, 0 before the first event; first > 1 after a truncation, and
 * first = last + 1 once every event was dropped (the next event's seq). first and last may be NULL. txn: NULL for a snapshot of its own. Returns ENT_OK, and the codes of
 * ent_txn_begin() when txn is NULL. */
ENT_EXTERN(int) ent_log_bounds(uint64_t *first, uint64_t *last, ent_store *s, ent_txn *txn);

/* The event with `seq`. out: the caller frees it with ent_event_free().
 * Returns ENT_OK, ENT_NOTFOUND (never written, or truncated), ENT_CORRUPT. */
ENT_EXTERN(int) ent_log_get(ent_event **out, ent_store *s, ent_txn *txn, uint64_t seq);

typedef struct ent_log_cursor ent_log_cursor;

/* A cursor over the log from `from_seq` (inclusive; 0: from the first event the log keeps when
 * the cursor first reads, which is 1 unless the log was truncated) in order, keeping events of
 * `type` (NULL: all) and of the operations in `ops` (0: create, update and delete; ENT_OP_ALL:
 * every one, with ENT_OP_LAST_ID: see above). It reads in batches, each in a
 * snapshot of its own, so it sees what commits later: ent_log_next() returning ENT_NOTFOUND means
 * "nothing more yet"; ENT_TRUNCATED, that events it had not read were truncated (below).
 * Types are matched by name: a type of an older schema of the store still filters.
 * out: the caller frees it with ent_log_cursor_free(). Returns ENT_OK, ENT_INVALID (ops holds a
 * bit other than ENT_OP_*), ENT_SCHEMA (type names no type of the store's schema: it would match
 * nothing), ENT_NOMEM. */
ENT_EXTERN(int) ent_log_cursor_open(ent_log_cursor **out, ent_store *s, uint64_t from_seq,
                                    const ent_type *type, unsigned ops);
/* Next event. out: the caller frees it with ent_event_free().
 * Returns ENT_OK, ENT_NOTFOUND (none yet), ENT_TRUNCATED, ENT_CORRUPT (also a damaged log: a seq
 * out of order or missing, after the events before it), ENT_SCHEMA.
 * ENT_TRUNCATED (*out NULL): the events from the cursor's position on were truncated before it
 * read them (ent_log_truncate() forced, or with no durable subscription holding them; also a
 * cursor opened at a from_seq other than 0 below the log's first event). Whether any of them
 * matched its filter cannot be known any more. The message names the seqs; they are
 * ent_log_cursor_pos() before the call up to ent_log_cursor_pos() - 1 after it. It is said once:
 * the cursor is then at the first event kept, and the next call goes on from there. Events read
 * into the cursor before the truncation are handed out first. */
ENT_EXTERN(int) ent_log_next(ent_event **out, ent_log_cursor *c);
/* The seq the next ent_log_next() starts from (c NULL: 0); for a filtered cursor the next seq it
 * looks at, which may be past the last event it returned. */
ENT_EXTERN(uint64_t) ent_log_cursor_pos(const ent_log_cursor *c);
/* NULL does nothing. It may come after ent_store_close() of c's store (no other call on c may):
 * the events read ahead are freed without the store. */
ENT_EXTERN(void) ent_log_cursor_free(ent_log_cursor *c);

/* Wait until the log holds an event with seq > after_seq, or timeout_ms passes (any negative
 * value: forever, as with poll()).
 * Wakes within milliseconds of a commit by another process (LMDB) or thread, without polling;
 * a commit whose wake never came (its writer process was killed between its commit and the wake)
 * ends the wait within half a second, as the log is looked at again that often.
 * out_last (may be NULL): the last seq then. Returns ENT_OK, ENT_TIMEOUT, ENT_BUSY (from an event
 * callback of s when no such event is there yet: it does not wait, as this process's next commits
 * wait for the delivery that runs the callback; from the thread that holds the store's write
 * transaction, also in ent_txn_run()'s fn, when no such event is there yet: no commit can come
 * before it ends; from the thread that claimed to write s's log, ent_log_wait_claim(), such as a
 * mirror's log callback). */
ENT_EXTERN(int) ent_log_wait(uint64_t *out_last, ent_store *s, uint64_t after_seq, int timeout_ms);

/* Drop the events with seq < below. Refused with ENT_CONFLICT, naming the subscription, when a
 * durable subscription has not acknowledged them, unless force. Afterwards replay from seq 1 is
 * impossible, and the store records it (ent_log_bounds first > 1).
 * Returns ENT_OK, ENT_CONFLICT, ENT_INVALID, ENT_READONLY. */
ENT_EXTERN(int) ent_log_truncate(ent_store *s, uint64_t below, int force);

/* ---- in-process subscribers ------------------------------------------------------------- */

/* Called after a commit, once per matching event, in commit order, on the thread that committed
 * (after ent_txn_commit() has made the data visible, before it returns). A callback cannot begin
 * a write transaction on any store (ENT_BUSY: the committing thread still holds the delivery
 * order, and a write could close a cycle of waits with another thread), nor wait for a store's
 * writer otherwise: a writable ent_store_open() (but of a new in-memory store, whose writer nobody
 * can hold yet) and a plain ent_store_copy() are ENT_BUSY, and ent_store_sync() is ENT_BUSY where
 * it needs a writer another thread holds; it may read (ent_store_verify() too), subscribe and
 * unsubscribe (itself too: the subscriber then gets nothing more), and hand events to other
 * threads that write. Its return value is ignored: a failing callback cannot undo the commit nor
 * stop delivery to the others.
 * Events are delivered as the commit stored them, from a copy it kept (a transaction whose first
 * event came before the store had any subscriber reads them back from the log instead; so does a
 * commit that ran short of memory for the copy). A read that fails (I/O, out of memory, a map
 * another process grew while this thread delivers) is tried
 * once more, and if it fails again that event and the ones after it are held back and delivered,
 * in order and once each, first thing in the store's next delivery (the next commit of this
 * process) — the commit itself still returns ENT_OK, as it is durable. A subscriber that joined
 * meanwhile also gets them; the store closed meanwhile, they are in the log (a durable
 * subscription or a cursor replays them). A commit whose changes never became visible delivers
 * nothing of its own.
 * ev and everything in it are borrowed for the duration of the call. */
typedef void (*ent_event_cb)(const ent_event *ev, void *payload);

typedef struct ent_subscriber ent_subscriber;

/* Register cb (not NULL) for events of `type` (NULL: all; matched by name) and ops (0: create,
 * update and delete; ENT_OP_LAST_ID or ENT_OP_ALL for the id counter's raises: see above).
 * cb sees the commits made through s, from any thread: the subscribers are the handle's. Commits
 * through another handle of the same store, in this process or another, do not reach it; follow
 * those with ent_log_wait() and a log cursor (or a durable subscription), as another process does.
 * out: the handle for ent_unsubscribe(); freed by it or by ent_store_close().
 * Returns ENT_OK, ENT_INVALID, ENT_SCHEMA, ENT_NOMEM as ent_log_cursor_open(). */
ENT_EXTERN(int) ent_subscribe(ent_subscriber **out, ent_store *s, const ent_type *type, unsigned ops,
                              ent_event_cb cb, void *payload);
/* Stop delivery to sub. Outside callbacks it returns once no call of sub runs any more (its
 * payload may then be freed); from a callback it does not wait (sub gets no further event from
 * the delivery running on this thread, and is freed when that delivery ends). sub NULL does
 * nothing. */
ENT_EXTERN(void) ent_unsubscribe(ent_store *s, ent_subscriber *sub);

/* ---- durable subscriptions -------------------------------------------------------------- */

/* Create a named subscription (name: 1..200 bytes), positioned before the first event the log
 * keeps (seq 1 unless the log was truncated) or, when from_now, after the last event. Returns ENT_OK, ENT_CONFLICT (exists), ENT_INVALID, ENT_READONLY,
 * ENT_BUSY (as ent_txn_begin() for a write: this thread holds the store's write transaction). */
ENT_EXTERN(int) ent_sub_create(ent_store *s, const char *name, int from_now);
/* Returns ENT_OK, ENT_NOTFOUND. */
ENT_EXTERN(int) ent_sub_delete(ent_store *s, const char *name);
/* The last acknowledged seq of a subscription. Returns ENT_OK, ENT_NOTFOUND. */
ENT_EXTERN(int) ent_sub_checkpoint(uint64_t *out, ent_store *s, ent_txn *txn, const char *name);
/* Acknowledge every event up to `seq` (never moves back). txn: a write transaction to
 * acknowledge together with the consumer's own writes (exactly once inside one store), or NULL.
 * Returns ENT_OK, ENT_NOTFOUND, ENT_INVALID (seq beyond the log; txn of another store),
 * ENT_READONLY (txn is a read transaction, or the store is open read-only), ENT_BUSY (txn NULL: as
 * ent_txn_begin(), e.g. from an event callback or beside this thread's write transaction). */
ENT_EXTERN(int) ent_sub_ack(ent_store *s, ent_txn *txn, const char *name, uint64_t seq);

/* Wait until subscription `name` has acknowledged every event up to `seq` (its checkpoint >=
 * seq), by ent_sub_ack() on any thread or in any process, or until timeout_ms passes (any negative
 * value: forever, as with poll()). What a writer calls after its commit to learn that a consumer
 * (the relay of libentity-nats, `entity relay`: its subscription "relay") has the event before it
 * answers its own client: semi-synchronous replication (README, "Failing over"). A seq beyond the
 * log's last is waited for too (the events may come); seq 0 answers at once.
 * Wakes as ent_log_wait() does (an acknowledgement is a commit): within milliseconds of an ack by
 * another process (LMDB) or thread, without polling; a wake lost to a killed acker ends the wait
 * within half a second. Each look reads the checkpoint in a read transaction of its own.
 * out_checkpoint (may be NULL): the checkpoint seen last (also on ENT_TIMEOUT and ENT_BUSY; 0
 * otherwise). Returns ENT_OK, ENT_TIMEOUT (the message names the checkpoint reached and seq),
 * ENT_NOTFOUND (no such subscription; also one deleted during the wait, named so), ENT_INVALID (a
 * bad name), ENT_BUSY (as ent_log_wait(): from an event callback of s, or from the thread that
 * holds the store's write transaction, when seq is not acknowledged yet; from the thread that
 * claimed to acknowledge `name`, ent_log_wait_claim(), such as a relay's log callback), ENT_CORRUPT. */
ENT_EXTERN(int) ent_sub_wait(uint64_t *out_checkpoint, ent_store *s, const char *name, uint64_t seq, int timeout_ms);

/* For a component that runs a loop of its own on a thread and calls the host back there (a relay,
 * a mirror: libentity-nats): declare that the calling thread is the one that makes what a wait
 * on s awaits happen, so that such a wait on this thread returns ENT_BUSY at once instead of
 * waiting out its timeout (forever with -1, the loop stopped for good). sub NULL: this thread
 * alone writes s's log (a mirror's applier): ent_log_wait() for an event not yet there; sub a
 * name: this thread alone acknowledges durable subscription `sub` of s (a relay's checkpoint):
 * ent_sub_wait() on it for a seq not yet acknowledged. Other waits on this thread (other
 * subscriptions, other stores, events the log has) go on as before. It holds for s and for any
 * other handle of the same store in this process (a persistent store: the same directory) until
 * ent_log_wait_unclaim(), which the thread calls before it closes s or leaves the loop.
 * who: how the ENT_BUSY message names the thread ("the relay's thread"), copied.
 * A thread holds up to 8 claims; claiming one held again only renames it.
 * Returns ENT_OK, ENT_INVALID (s NULL, a name of 0 or more than 200 bytes), ENT_FULL, ENT_NOMEM. */
ENT_EXTERN(int) ent_log_wait_claim(ent_store *s, const char *sub, const char *who);
/* Drop this thread's claim of (s, sub) made by ent_log_wait_claim(); none, or s NULL: nothing. */
ENT_EXTERN(void) ent_log_wait_unclaim(ent_store *s, const char *sub);

typedef struct ent_sub_info {
    char name[201];
    uint64_t checkpoint;
} ent_sub_info;
/* Every durable subscription. out: array of *out_n; the caller frees it with free(). */
ENT_EXTERN(int) ent_sub_list(ent_sub_info **out, size_t *out_n, ent_store *s);
/* A log cursor from the subscription's checkpoint + 1 (history first, then live with
 * ent_log_wait()), of create, update and delete (ops 0: a consumer that also keeps the id
 * counters opens ent_log_cursor_open(checkpoint + 1, NULL, ENT_OP_ALL) instead); its first ent_log_next() is ENT_TRUNCATED when a forced truncation dropped
 * events the subscription had not acknowledged. out: the caller frees it with
 * ent_log_cursor_free(). Returns as ent_log_cursor_open(), plus ENT_NOTFOUND. */
ENT_EXTERN(int) ent_sub_cursor(ent_log_cursor **out, ent_store *s, const char *name);

#ifdef __cplusplus
}
#endif
#endif
