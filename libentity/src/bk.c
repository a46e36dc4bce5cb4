/* The wrapper layer: every call from the store into its backend (see bk.h for what lives here). */
#include <string.h>

#include "bk.h"
#include "error_int.h"
#include "fork.h"
#include "keys.h"
#include "store_int.h"

#define OPS(s) ((s)->bk.ops)

/* ---- open, close ---------------------------------------------------------------------------- */

/* Each optional method with the capability that promises it. */
static int methods_match(const ent_backend_ops *ops, unsigned caps)
{
    const char *missing = NULL;
    if ((caps & ENT_BK_CAP_COPY) && !ops->copy) missing = "copy";
    else if ((caps & ENT_BK_CAP_DURABILITY) && !ops->set_durability) missing = "set_durability";
    else if ((caps & ENT_BK_CAP_SNAPSHOT_ID) && !ops->snapshot_id) missing = "snapshot_id";
    else if ((caps & ENT_BK_CAP_PIN) && (!ops->pin || !ops->unpin)) missing = "pin/unpin";
    else if ((caps & ENT_BK_CAP_SAVEPOINT) && (!ops->sp_begin || !ops->sp_end)) missing = "sp_begin/sp_end";
    else if ((caps & ENT_BK_CAP_SYNC_APART) && (!ops->txn_commit_unsynced || !ops->sync))
        missing = "txn_commit_unsynced/sync";
    else if ((caps & ENT_BK_CAP_CHECK_PAGES) && !ops->check_pages)
        missing = "check_pages";
    else if ((caps & ENT_BK_CAP_AT_PATH) && !ops->at_path)
        missing = "at_path";
    if (missing)
        return ent__err(ENT_INVALID, "backend %s declares a capability without its method %s", ops->name, missing);
    return ENT_OK;
}

int ent__bk_open_ops(ent_bk_conn *c, const ent_backend_ops *ops, const char *path, const ent_backend_opts *o)
{
    int rc;
    memset(c, 0, sizeof *c);
    if (ops->version != ENT_BACKEND_VERSION)
        return ent__err(ENT_INVALID, "backend %s has interface version %u; this library needs %u", ops->name,
                        ops->version, ENT_BACKEND_VERSION);
    if (!ops->open || !ops->close || !ops->limits || !ops->table || !ops->txn_begin || !ops->txn_commit ||
        !ops->txn_abort || !ops->get || !ops->put || !ops->del || !ops->clear || !ops->cursor_open ||
        !ops->cursor_get || !ops->cursor_close || !ops->info || !ops->change_counter || !ops->wait_change)
        return ent__err(ENT_INVALID, "backend %s lacks a required method", ops->name);
    if ((rc = methods_match(ops, ops->caps))) return rc;
    c->fork_gen = ent__fork_gen();
    if ((rc = ops->open(&c->be, path, o))) {
        c->be = NULL;
        return rc;
    }
    ops->limits(c->be, &c->lim);
    c->ops = ops;
    if ((rc = methods_match(ops, c->lim.caps)) == ENT_OK && c->lim.max_key == 0)
        rc = ent__err(ENT_INVALID, "backend %s reports no key limit", ops->name);
    if (rc) ent__bk_close(c);
    return rc;
}

int ent__bk_open(ent_bk_conn *c, const char *name, const char *path, const ent_backend_opts *o)
{
    ent_backend_opts bo = *o;
    const ent_backend_ops *ops = ent__backend_find(name, &bo.arg);
    memset(c, 0, sizeof *c);
    if (!ops) {
        char names[200];
        ent__backend_names(names, sizeof names);
        return ent__err(ENT_INVALID, "unknown backend \"%s\" (%s)", name, names);
    }
    return ent__bk_open_ops(c, ops, path, &bo);
}

void ent__bk_close(ent_bk_conn *c)
{
    if (c->be) c->ops->close(c->be);
    c->be = NULL;
}

const char *ent__bk_name(const ent_bk_conn *c) { return c->ops->name; }

int ent__bk_fork_check(const ent_bk_conn *c, const char *what)
{
    if (ent__fork_gen() != c->fork_gen) {
        if (!what || !*what) /* a memory store has no path: "store  was opened" named none */
            return ent__err(ENT_BUSY, "the %s store was opened before fork(); open it again in this process",
                            c->ops->name);
        return ent__err(ENT_BUSY, "store %s was opened before fork(); open it again in this process", what);
    }
    return ENT_OK;
}

int ent__store_check(ent_store *s)
{
    if (!s) return ent__err(ENT_INVALID, "store is NULL");
    return ent__bk_fork_check(&s->bk, s->path);
}

int ent__bk_ikey_check(const ent_bk_conn *c, const ent_field *f, size_t n)
{
    char path[160];
    size_t max = c->lim.max_key;
    if (n <= max) return ENT_OK;
    /* The tag byte is the library's, not the host's: the message counts value bytes. */
    return ent__errd(ENT_FULL, ENT_DETAIL_TOO_LARGE, "%s: index value of %zu bytes exceeds the backend's key limit of %zu bytes",
                    ent__field_path(f, path, sizeof path), n - 1, max - 1);
}

/* ---- transactions --------------------------------------------------------------------------- */

int ent__bk_begin(ent_txn *t, int write)
{
    ent_store *s = t->s;
    int rc = ent__bk_fork_check(&s->bk, s->path);
    if (rc) return rc;
    rc = OPS(s)->txn_begin(s->bk.be, write, &t->bt);
    if (rc) t->bt = NULL;
    return rc;
}

int ent__bk_commit(ent_txn *t)
{
    ent_store *s = t->s;
    ent_btxn *bt = t->bt;
    int rc = ent__bk_fork_check(&s->bk, s->path);
    if (t->iters) ent__iters_end(t);
    t->bt = NULL;
    if (rc) return rc;
    return OPS(s)->txn_commit(bt);
}

int ent__bk_commit_unsynced(ent_txn *t)
{
    ent_store *s = t->s;
    ent_btxn *bt = t->bt;
    int rc = ent__bk_fork_check(&s->bk, s->path);
    if (t->iters) ent__iters_end(t);
    t->bt = NULL;
    if (rc) return rc;
    if (!(s->bk.lim.caps & ENT_BK_CAP_SYNC_APART)) return OPS(s)->txn_commit(bt);
    return OPS(s)->txn_commit_unsynced(bt);
}

int ent__bk_sync(ent_store *s, int force)
{
    int rc = ent__bk_fork_check(&s->bk, s->path);
    if (rc) return rc;
    return (s->bk.lim.caps & ENT_BK_CAP_SYNC_APART) ? OPS(s)->sync(s->bk.be, force) : ENT_OK;
}

int ent__bk_sp_begin(ent_txn *t)
{
    ent_store *s = t->s;
    if (!(s->bk.lim.caps & ENT_BK_CAP_SAVEPOINT))
        return ent__err(ENT_INVALID, "a %s store has no savepoints", OPS(s)->name);
    return OPS(s)->sp_begin(t->bt);
}

int ent__bk_sp_end(ent_txn *t, int keep)
{
    ent_store *s = t->s;
    if (t->iters) ent__iters_end(t); /* opened inside the savepoint (ent_txn_run's fn left them) */
    if (!(s->bk.lim.caps & ENT_BK_CAP_SAVEPOINT))
        return ent__err(ENT_INVALID, "a %s store has no savepoints", OPS(s)->name);
    return OPS(s)->sp_end(t->bt, keep);
}

void ent__bk_abort(ent_txn *t)
{
    ent_store *s = t->s;
    ent_btxn *bt = t->bt;
    if (t->iters) ent__iters_end(t);
    t->bt = NULL;
    if (bt && ent__fork_gen() == s->bk.fork_gen) OPS(s)->txn_abort(bt);
}

uint64_t ent__bk_snapshot_id(ent_txn *t)
{
    ent_store *s = t->s;
    return (s->bk.lim.caps & ENT_BK_CAP_SNAPSHOT_ID) ? OPS(s)->snapshot_id(t->bt) : 0;
}

void ent__bk_pin(ent_store *s)
{
    if (s->bk.lim.caps & ENT_BK_CAP_PIN) OPS(s)->pin(s->bk.be);
}

void ent__bk_unpin(ent_store *s)
{
    if (s->bk.lim.caps & ENT_BK_CAP_PIN) OPS(s)->unpin(s->bk.be);
}

/* ---- tables and data ------------------------------------------------------------------------ */

int ent__bk_table(ent_txn *t, const char *name, unsigned flags, unsigned *out_tbl)
{
    ent_store *s = t->s;
    return OPS(s)->table(s->bk.be, t->bt, name, flags, out_tbl);
}

/* A table of the store's schema that this process could not open (ENT__TBL_ABSENT): another
 * process's evolution made more tables than the room this process opened the store with. The
 * layout keeps the tables it could open usable; a call on one it could not says so here. */
static int absent(const ent_txn *t)
{
    return ent__errd(ENT_FULL, ENT_DETAIL_NO_SPACE,
                     "store %s: a table of its schema is not open in this process: another process evolved the store past "
                     "the tables this process made room for when it opened it; close every handle of the store in this "
                     "process and open it again", t->s->path && t->s->path[0] ? t->s->path : "(memory)");
}

int ent__bk_get(ent_txn *t, unsigned tbl, const ent_slice *k, ent_slice *out_v)
{
    ent_store *s = t->s;
    if (tbl == ENT__TBL_ABSENT) return absent(t);
    if (k->len > s->bk.lim.max_key) return ENT_NOTFOUND; /* longer than any stored key */
    return OPS(s)->get(t->bt, tbl, k, out_v);
}

int ent__bk_put(ent_txn *t, unsigned tbl, const ent_slice *k, const ent_slice *v, unsigned flags)
{
    ent_store *s = t->s;
    if (tbl == ENT__TBL_ABSENT) return absent(t);
    if (k->len > s->bk.lim.max_key)
        return ent__errd(ENT_FULL, ENT_DETAIL_TOO_LARGE, "key of %zu bytes exceeds the backend limit of %zu", k->len,
                         s->bk.lim.max_key);
    return OPS(s)->put(t->bt, tbl, k, v, flags);
}

int ent__bk_del(ent_txn *t, unsigned tbl, const ent_slice *k, const ent_slice *v)
{
    ent_store *s = t->s;
    if (tbl == ENT__TBL_ABSENT) return absent(t);
    return OPS(s)->del(t->bt, tbl, k, v);
}

int ent__bk_clear(ent_txn *t, unsigned tbl)
{
    ent_store *s = t->s;
    if (tbl == ENT__TBL_ABSENT) return absent(t);
    return OPS(s)->clear(t->bt, tbl);
}

int ent__bk_cursor_open(ent_txn *t, unsigned tbl, ent_bcur **out_cur)
{
    ent_store *s = t->s;
    int rc = tbl == ENT__TBL_ABSENT ? absent(t) : OPS(s)->cursor_open(t->bt, tbl, out_cur);
    if (rc) *out_cur = NULL;
    return rc;
}

int ent__bk_cursor_get(ent_store *s, ent_bcur *cur, int op, ent_slice *k, ent_slice *v)
{
    return OPS(s)->cursor_get(cur, op, k, v);
}

void ent__bk_cursor_close(ent_store *s, ent_bcur *cur)
{
    if (cur) OPS(s)->cursor_close(cur);
}

int ent__bk_check_pages(ent_txn *t, const char *table, void (*cb)(const char *line, void *payload), void *payload,
                        uint64_t *out_problems)
{
    ent_store *s = t->s;
    *out_problems = 0;
    if (!(s->bk.lim.caps & ENT_BK_CAP_CHECK_PAGES)) return ENT_OK;
    return OPS(s)->check_pages(t->bt, table, cb, payload, out_problems);
}

/* ---- the store as a whole ------------------------------------------------------------------- */

int ent__bk_at_path(ent_store *s)
{
    if (!(s->bk.lim.caps & ENT_BK_CAP_AT_PATH)) return ENT_OK; /* no files: a memory store */
    return OPS(s)->at_path(s->bk.be);
}

int ent__bk_info(ent_store *s, ent_backend_info *out)
{
    int rc = ent__bk_fork_check(&s->bk, s->path);
    if (rc) return rc;
    return OPS(s)->info(s->bk.be, out);
}

uint64_t ent__bk_change_counter(ent_store *s) { return OPS(s)->change_counter(s->bk.be); }

int ent__bk_wait_change(ent_store *s, uint64_t seen, int timeout_ms)
{
    return OPS(s)->wait_change(s->bk.be, seen, timeout_ms);
}

int ent__bk_copy(ent_store *s, const char *dest, int compact)
{
    int rc = ent__bk_fork_check(&s->bk, s->path);
    if (rc) return rc;
    if (!(s->bk.lim.caps & ENT_BK_CAP_COPY))
        return ent__err(ENT_INVALID, "a %s store cannot be copied to a directory", OPS(s)->name);
    return OPS(s)->copy(s->bk.be, dest, compact);
}

int ent__bk_set_durability(ent_store *s, int durability)
{
    if (!(s->bk.lim.caps & ENT_BK_CAP_DURABILITY)) return ENT_OK;
    return OPS(s)->set_durability(s->bk.be, durability);
}
