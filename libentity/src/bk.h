/* The wrapper layer between the store and its backend (as SQLite's os.c wraps sqlite3_vfs).
 *
 * Every call from the store into a backend goes through these small functions; nothing else in
 * libentity/src calls a backend's vtable. That gives one place for what every call needs:
 * - the fork guard: a handle opened before fork() is refused in the child (ENT_BUSY);
 * - the key limit, read once at open from the backend: one check serves every write and look-up
 *   and the index build at open;
 * - the capability checks: an optional method is called only when the open store declares it;
 * - the version check of the vtable, at open.
 * Fault injection is a backend of its own (backend_fault.c) under this layer.
 */
#ifndef ENT_BK_H
#define ENT_BK_H

#include "backend.h"
#include "entity/schema.h"
#include "entity/store.h"

/* The open backend of a store. */
typedef struct ent_bk_conn {
    const ent_backend_ops *ops;
    ent_bk *be;
    ent_backend_limits lim; /* read once at open */
    unsigned fork_gen;      /* ent__fork_gen() at open */
} ent_bk_conn;

/* Open backend `name` (a name of backends.c's table, optionally "name:arg"; NULL: the default)
 * at path. Checks the vtable's version and that every declared capability has its method.
 * Returns ENT_OK, ENT_INVALID (unknown backend, wrong version), or what the backend's open
 * returns. On failure c is left closed (c->be NULL). */
int ent__bk_open(ent_bk_conn *c, const char *name, const char *path, const ent_backend_opts *o);
/* The same with a vtable given directly (tests of the seam itself). */
int ent__bk_open_ops(ent_bk_conn *c, const ent_backend_ops *ops, const char *path, const ent_backend_opts *o);
void ent__bk_close(ent_bk_conn *c);

/* ENT_BUSY with a message when c was opened before a fork() in another process (this one is the
 * child); ENT_OK otherwise. `what` names the store in the message. */
int ent__bk_fork_check(const ent_bk_conn *c, const char *what);
static inline unsigned ent__bk_caps(const ent_bk_conn *c) { return c->lim.caps; }
const char *ent__bk_name(const ent_bk_conn *c); /* the backend's name in the table */

/* The key limit: ENT_FULL naming field f when an index key of n bytes (a tag byte and the value)
 * does not fit the backend, ENT_OK when it does. Used before every index write and look-up. */
int ent__bk_ikey_check(const ent_bk_conn *c, const ent_field *f, size_t n);

/* Transactions. t->s names the store; begin sets t->bt, commit and abort clear it. */
int ent__bk_begin(ent_txn *t, int write);
int ent__bk_commit(ent_txn *t);
void ent__bk_abort(ent_txn *t); /* nothing in a forked child: the parent owns the txn */
/* ENT_BK_CAP_SYNC_APART (else a plain commit, and sync does nothing): a commit whose last sync
 * ent__bk_sync() does later, outside the writer (see backend.h). */
int ent__bk_commit_unsynced(ent_txn *t);
/* force: every commit this handle can see made durable, whatever the store's durability
 * (ent_store_sync). */
int ent__bk_sync(ent_store *s, int force);
/* ENT_BK_CAP_SAVEPOINT (else ENT_INVALID): one level of savepoint in write txn t. */
int ent__bk_sp_begin(ent_txn *t);
int ent__bk_sp_end(ent_txn *t, int keep);
/* ENT_BK_CAP_SNAPSHOT_ID: the snapshot id of a read txn; 0 when unknown. */
uint64_t ent__bk_snapshot_id(ent_txn *t);
/* ENT_BK_CAP_CHECK_PAGES (else nothing is checked: ENT_OK, 0 problems): the backend's own check
 * of its structures in t's snapshot (see backend.h). */
int ent__bk_check_pages(ent_txn *t, const char *table, void (*cb)(const char *line, void *payload), void *payload,
                        uint64_t *out_problems);
/* ENT_BK_CAP_AT_PATH (else ENT_OK: no files to lose): see backend.h. */
int ent__bk_at_path(ent_store *s);
/* ENT_BK_CAP_PIN, nothing otherwise: see backend.h. */
void ent__bk_pin(ent_store *s);
void ent__bk_unpin(ent_store *s);

/* Tables and data, in transaction t (see backend.h for the codes). Keys longer than the limit are
 * refused by put (ENT_FULL) and not found by get, without a call into the backend. */
int ent__bk_table(ent_txn *t, const char *name, unsigned flags, unsigned *out_tbl);
int ent__bk_get(ent_txn *t, unsigned tbl, const ent_slice *k, ent_slice *out_v);
int ent__bk_put(ent_txn *t, unsigned tbl, const ent_slice *k, const ent_slice *v, unsigned flags);
int ent__bk_del(ent_txn *t, unsigned tbl, const ent_slice *k, const ent_slice *v);
int ent__bk_clear(ent_txn *t, unsigned tbl);
int ent__bk_cursor_open(ent_txn *t, unsigned tbl, ent_bcur **out_cur);
/* A cursor is used and closed through its store (an iterator may outlive its own txn handle). */
int ent__bk_cursor_get(ent_store *s, ent_bcur *cur, int op, ent_slice *k, ent_slice *v);
void ent__bk_cursor_close(ent_store *s, ent_bcur *cur); /* NULL: nothing */

/* The store as a whole. */
int ent__bk_info(ent_store *s, ent_backend_info *out);
uint64_t ent__bk_change_counter(ent_store *s);
int ent__bk_wait_change(ent_store *s, uint64_t seen, int timeout_ms);
/* ENT_INVALID naming the backend when it cannot copy (no ENT_BK_CAP_COPY). */
int ent__bk_copy(ent_store *s, const char *dest, int compact);
/* Nothing to do (ENT_OK) without ENT_BK_CAP_DURABILITY. */
int ent__bk_set_durability(ent_store *s, int durability);

#endif
