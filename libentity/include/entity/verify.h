/* libentity — verification and replay of a store. */
#ifndef ENTITY_VERIFY_H
#define ENTITY_VERIFY_H

#include "common.h"

#include <stdint.h>

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called once per problem found, with one line naming the type, key or seq at fault
 * ("product \"sku-1\": record does not decode: ..."). line is borrowed for the call. */
typedef void (*ent_problem_cb)(const char *line, void *payload);

/* Check the whole store in one read snapshot: every record decodes; every index entry points at an
 * entity holding that value and every indexed value has its entry; refs point at existing
 * entities; stored counts equal the entities; the log has no gaps and every event decodes; and
 * replaying the log from seq 1 (when it was never truncated) gives exactly the current entities
 * and versions, and auto-id counters no higher than the store's (a counter below the log's
 * creates and raises is a problem: it would hand out an id again; one above is a raise of a
 * version that logged none). cb may be NULL.
 * out_problems (may be NULL): the number of problems found.
 * Returns ENT_OK when there are none, ENT_CORRUPT when there are, or another code when the check
 * itself could not run (ENT_NOMEM, ENT_IO). */
ENT_EXTERN(int) ent_store_verify(uint64_t *out_problems, ent_store *s, ent_problem_cb cb, void *payload);

/* Check the pages a scan of `type` reads (the table of its records) in txn's snapshot without
 * reading through them: LMDB follows its pages as they are, and a scan over a damaged one (a
 * flipped byte in a page header or a node) died inside liblmdb (SIGSEGV, SIGBUS, an assertion's
 * abort); each page is read with pread and its header and nodes checked before anything follows
 * them, as ent_store_verify() checks every page first. `entity dump` calls it before each type's
 * scan and leaves a damaged type out, naming it, dumping the others. It reads the table's pages
 * once (a whole store's walk is 2-4 % of a dump's time). The memory backend has no pages: ENT_OK.
 * txn: NULL for a read transaction of its own; a write transaction checks nothing (its pages are
 * not on disk yet). out_problems (may be NULL): how many problems (0 with ENT_OK).
 * Returns ENT_OK, ENT_CORRUPT (the message names the first damaged page), ENT_SCHEMA (a type of
 * another schema), ENT_INVALID, ENT_IO, ENT_NOMEM, and the codes of ent_txn_begin(). */
ENT_EXTERN(int) ent_type_check_pages(uint64_t *out_problems, ent_store *s, ent_txn *txn, const ent_type *type);

/* Apply the log of src from seq 1 up to and including to_seq (0: all) to dst, an empty store with
 * a schema equal to or a compatible evolution of src's: dst then holds the same entities with the
 * same keys (auto ids too) and versions, and a log of the same events (seq, ts, txn, data),
 * transaction by transaction (a transaction that to_seq falls inside is left out whole: replay
 * ends before it). The log's raises of id counters (ENT_OP_LAST_ID, written by
 * ent_last_id_raise(): `entity load` of a dump) are replayed as raises, each with its seq, so dst
 * counts the ids src counted. A type's counter still below src's at the end (a to_seq: an id src
 * handed out after it may be held by a host all the same; or a raise of a version that logged
 * none) is raised to src's then, with an event of dst's own after the replayed ones.
 * No index is written nor checked on the way (an index that an evolution added once the values
 * fitted it meets earlier, legal values in the log: repeats under a unique index, values longer
 * than an index key): dst's indexes are built over its entities at the end, also after a failure,
 * for what was committed; ENT_CONFLICT or ENT_FULL then when the entities at to_seq do not fit
 * them (the store's own entities always do), dst keeping its entities without indexes. Until the
 * end dst is marked unfinished (from its first replayed transaction): when the process dies before
 * the end, or the final build fails, dst opens read-only only (ent_store_open() for writing is
 * ENT_CORRUPT) and verify reports it.
 * It reads src's log as it grows (commits made meanwhile are replayed too); a truncation of it
 * meanwhile (by another writer) stops the replay with ENT_INVALID, dst keeping what was replayed.
 * An event written with a schema version of src later than dst's (src evolved before or during the
 * replay) stops it with ENT_SCHEMA before its transaction, as its new values have no place in dst;
 * refused before any write when src's log already holds such events.
 * Returns ENT_OK, ENT_INVALID (dst not empty, src log truncated, dst and src the same store),
 * ENT_CORRUPT (also src's log pages damaged: they are walked as ent_type_check_pages() walks a
 * type's before anything is written, and named), ENT_SCHEMA, and the codes of the writes. */
ENT_EXTERN(int) ent_store_replay(ent_store *dst, ent_store *src, uint64_t to_seq);

#ifdef __cplusplus
}
#endif
#endif
