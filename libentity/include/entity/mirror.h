/* libentity — mirrors: stores that copy another store (the primary) event by event.
 *
 * A mirror is an ordinary store (every read call, the log, in-process and durable subscriptions
 * work on it) that takes changes from one writer only: the handle ent_mirror_open() returns,
 * through ent_mirror_apply(). Its log holds the primary's events with the primary's seq, ts, txn,
 * type, key, op, version and data; its entities, versions, indexes and id counters (ent_last_id(),
 * raised by the primary's logged raises, log.h's ENT_OP_LAST_ID) are the primary's as of the
 * last applied transaction. Any other write (ent_create, a schema evolution through
 * ent_store_open, ...) fails with ENT_READONLY naming the primary's id; durable subscriptions
 * (ent_sub_create, ent_sub_ack) stay allowed, for the mirror's own consumers, and so does
 * ent_log_truncate(): a mirror's log then starts later than the primary's (held by the mirror's
 * own subscriptions, as on any store), and applying goes on as before.
 *
 * The transport is not here: the NATS component (entity/nats.h) feeds a mirror from a JetStream
 * stream; these calls are what it, or any other transport, needs from the store.
 *
 * Schema history: a store records at which log position each schema version took effect, so that
 * a relay can ship each version before the first event written under it.
 */
#ifndef ENTITY_MIRROR_H
#define ENTITY_MIRROR_H

#include "common.h"

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Open the mirror of primary `primary_id` at path, creating it with `schema` when missing.
 * schema: NULL opens an existing mirror with its stored schema; a newer compatible version
 * evolves it (as ent_store_open() does; allowed here because this is the mirror's writer).
 * opts: as for ent_store_open() (read_only is refused: this handle writes).
 * out: the caller closes it with ent_store_close().
 * Returns as ent_store_open(), plus ENT_CONFLICT (the store at path is not a mirror, or a mirror
 * of another primary: the message names both ids), ENT_INVALID (no primary id, read_only). */
ENT_EXTERN(int) ent_mirror_open(ent_store **out, const char *path, const char *primary_id,
                                const ent_schema *schema, const ent_store_opts *opts);

/* Apply one transaction of the primary: evs[0..n) are its events, in seq order, all with the same
 * txn. They become visible together, in one transaction of the mirror that also stores `pos` (an
 * opaque position of the transport, such as a stream sequence, read back by ent_mirror_position()).
 * evs are not changed; their types must be the mirror's (ent_event_from_json with
 * ent_store_schema(s)).
 * Returns ENT_OK; ENT_CONFLICT when every event was applied already (a
 * duplicate: nothing is written, the caller skips it); ENT_NOTFOUND when evs[0].seq is past the
 * next seq the mirror expects (a gap: the message names the missing seq); ENT_CORRUPT when the
 * events do not fit the mirror's state (it did not copy this primary from seq 1);
 * ENT_READONLY (s was not opened by ent_mirror_open), ENT_INVALID (bad arguments, mixed txns),
 * and the codes of the writes (ENT_FULL, ENT_IO, ENT_BUSY). */
ENT_EXTERN(int) ent_mirror_apply(ent_store *s, ent_event *const *evs, size_t n, uint64_t pos);

/* The last applied seq (0: none yet) and the transport position stored with it. Either out may be
 * NULL. Returns ENT_OK, ENT_INVALID (not a mirror; also a handle opened before the store was
 * promoted through another handle or process). */
ENT_EXTERN(int) ent_mirror_position(uint64_t *out_seq, uint64_t *out_pos, ent_store *s);

/* Make the mirror s a primary (failover: the primary's machine is lost), in one write
 * transaction: killed anywhere, the store is still the mirror or fully promoted. Afterwards it is
 * an ordinary store: every write works; its log goes on at the last applied seq + 1, its txn
 * numbers above the last applied transaction's; each type's id counter stays at least what it
 * was and is raised to the highest auto id stored or created in the log it keeps, so a create
 * never takes an id the primary's entities had (deleted ones too; ids the primary handed out in
 * transactions the mirror never applied are not known here). The store takes the PRIMARY's id
 * (ent_store_id()): relayed to the primary's stream, it publishes under the same subjects after
 * the stream's last seq, and the primary's other mirrors follow it unchanged. The relay refuses
 * (naming both seqs) when the stream holds seqs the mirror never applied: promote the mirror
 * that applied everything the stream holds (`entity mirror --once` catches one up first).
 * ent_mirror_open() on it then fails (ENT_CONFLICT: not a mirror), ent_store_mirror_of() is NULL.
 * s: a writable handle of the mirror (ent_mirror_open()'s or ent_store_open()'s) that no other
 * thread uses during the call; it is the primary's handle afterwards. Other handles of the store
 * (other processes) keep seeing a mirror, and their writes are refused (ENT_READONLY, saying it
 * was promoted) until they are opened again. On a store with files it holds <dir>/mirror.lock
 * for the call, so a mirror (ent_follow_run(), `entity mirror`) that runs on it refuses it, and
 * none starts meanwhile; a mirror that started later is refused by ent_mirror_open(); the lock
 * file is removed after. durability: ENT_DURABILITY_STORED keeps the mirror's stored mode (often
 * ENT_LAZY: a read copy), ENT_DURABLE, ENT_LAZY or ENT_NONE stores that one in the promotion's
 * transaction, the mode of every later open that does not choose (this handle keeps its own; as
 * ent_store_set_stored_durability()). out_seq: NULL, or the last seq of the log (the new writes
 * follow it).
 * Returns ENT_OK; ENT_INVALID (s is not a mirror, also one promoted already; no such durability; its primary's id
 * is not a UUID); ENT_BUSY (a mirror process holds the lock: the message names its pid);
 * ENT_READONLY (s read-only); ENT_CORRUPT (the mirror's meta or log damaged), and the codes of
 * ent_txn_begin()/ent_txn_commit(). */
ENT_EXTERN(int) ent_mirror_promote(ent_store *s, int durability, uint64_t *out_seq);

/* Parse an event as ent_event_to_json() prints it (the inverse; ts in RFC 3339 with ns), its type
 * and fields resolved in schema `sc`. Create: data holds every field given; update: every field
 * given is marked changed (ent_entity_changed), a null one unset; delete and last_id (an id
 * counter's raise, log.h): data is NULL.
 * out: the caller frees it with ent_event_free(). Returns ENT_OK, ENT_INVALID (names what is
 * wrong: malformed JSON, a missing member, an unknown type or field, an "op" this version does
 * not know: an event of a later libentity is refused by name, never skipped), ENT_NOMEM. */
ENT_EXTERN(int) ent_event_from_json(ent_event **out, const ent_schema *sc, const char *json, size_t len);

/* One schema version the store has had and where it took effect: the events with seq > after_seq
 * (up to the next version's after_seq) were written under it. Version 1 starts at 0, and so does
 * a version evolved before stores kept this record. */
typedef struct ent_schema_mark {
    uint32_t version;
    uint64_t after_seq;
} ent_schema_mark;

/* Every schema version stored, ascending. out: array of *out_n; the caller frees it with free().
 * Returns ENT_OK, ENT_NOMEM, ENT_IO. */
ENT_EXTERN(int) ent_store_schema_history(ent_schema_mark **out, size_t *out_n, ent_store *s);
/* The stored schema JSON of `version` (as ent_schema_to_json() writes it, compact).
 * out: the caller frees it with free(). Returns ENT_OK, ENT_NOTFOUND (no such version). */
ENT_EXTERN(int) ent_store_schema_json(char **out, ent_store *s, uint32_t version);

/* Event seq as it was written: its type and data read with sc, the schema version it was written
 * under (the version of ent_store_schema_history() whose events it is among; its JSON from
 * ent_store_schema_json(), loaded with ent_schema_load_json()). ent_log_get() reads it with the
 * store's current schema, which no longer reads the fields a later version removed: a relay that
 * printed it so published another event than the one written, which a mirror at that version may
 * refuse (a required field missing). The event borrows sc's types: free it before sc.
 * Returns as ent_log_get(), plus ENT_INVALID (sc NULL or not sealed), ENT_CORRUPT (its type is
 * not in sc). */
ENT_EXTERN(int) ent_log_get_as(ent_event **out, ent_store *s, uint64_t seq, const ent_schema *sc);

/* ev as it was written, for anything that prints events (as JSON) rather than act on them: ev,
 * read from s's log with the schema s had then (its type's; ent_log_get(), ent_log_next(), a
 * subscriber's callback), lacks the values of fields that a later schema version removed, which
 * the log still holds. When the schema version ev was written under (ent_store_schema_history())
 * differs from the one it was read with, *out is ev read again with that version (ent_log_get_as());
 * otherwise *out is NULL and ev is as written (also for a delete, whose data is empty, and for a
 * store without a schema history). A field added later, with a default, is never in either.
 * The stored versions are parsed once and kept in s, with its schema history, which is read
 * again when ev was read with a version newer than it holds (an evolution, also by another
 * process); one call costs a lock and a look at that history when *out is NULL. Any thread may
 * call it; not from a thread that holds s's write transaction when *out would be set (it reads
 * in a transaction of its own). ev must be an event of s's log: its seq is read again.
 * out: NULL, or a new event the caller frees with ent_event_free() before ent_store_close(s):
 * its type is borrowed from the older schema version, which s keeps until then (a type of no
 * schema that ent_store_schema() returns: compare types by ent_type_name()). ev stays the
 * caller's.
 * Returns ENT_OK; ENT_INVALID (out, s or ev NULL, or ev without a type); ENT_NOTFOUND (the
 * event is no longer in the log: truncated since ev was read; or its schema version is not
 * stored); ENT_CORRUPT (the event or the stored version does not decode); ENT_NOMEM; and
 * ent_txn_begin()'s codes for a read (ENT_IO, ENT_BUSY). */
ENT_EXTERN(int) ent_event_as_written(ent_event **out, ent_store *s, const ent_event *ev);

#ifdef __cplusplus
}
#endif
#endif
