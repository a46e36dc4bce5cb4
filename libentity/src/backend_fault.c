/* The fault backend: forwards every call to another registered backend and fails the N-th one
 * on request (backend_fault.h), so tests can walk a workload through every failure point.
 *
 * Named "fault" (inner: the default backend) or "fault:<inner>" ("fault:memory"). It reports its
 * inner store's capabilities and limits as its own, so the store treats it exactly as the inner
 * backend; unarmed it passes the whole contract suite. Each handle of the inner backend is
 * wrapped in a small struct that remembers the inner vtable (a transaction or cursor call gets no
 * backend handle to find it from).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "backend_fault.h"
#include "error_int.h"

typedef struct fbe {
    const ent_backend_ops *in;
    ent_bk *be;
} fbe;

typedef struct ftxn {
    const ent_backend_ops *in;
    ent_btxn *t;
} ftxn;

typedef struct fcur {
    const ent_backend_ops *in;
    ent_bcur *c;
} fcur;

/* ---- the counter and the arming ------------------------------------------------------------- */

static atomic_uint_fast64_t calls, fired, arm_at;
static atomic_int arm_rc, arm_sticky;
/* Arming by name (ent__fault_arm_named): the named_at-th call named arm_name, counted apart. */
static _Atomic(const char *) arm_name;
static atomic_uint_fast64_t named_calls, named_at;
static atomic_int named_rc;

/* ent__fault_hook: hook_left counts down the calls (named hook_name, or any) still to come. */
static atomic_uint_fast64_t hook_left;
static _Atomic(const char *) hook_name;
static void (*_Atomic hook_fn)(void *);
static void *_Atomic hook_payload;
static atomic_int hook_busy; /* threads in hook(), counted before they may take the last count */

void ent__fault_hook(const char *call, uint64_t n, void (*fn)(void *payload), void *payload)
{
    atomic_store(&hook_left, 0);
    while (atomic_load(&hook_busy)) { /* a hook that fired meanwhile runs to its end first */
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    if (!n || !fn) return;
    atomic_store(&hook_name, call);
    atomic_store(&hook_fn, fn);
    atomic_store(&hook_payload, payload);
    atomic_store(&hook_left, n);
}

/* Run the hook when this call is the one it waits for (one thread wins the last count). */
static void hook(const char *call)
{
    const char *name;
    uint64_t left;
    if (!atomic_load(&hook_left)) return;
    atomic_fetch_add(&hook_busy, 1);
    name = atomic_load(&hook_name);
    left = atomic_load(&hook_left);
    if (!name || strcmp(name, call) == 0) {
        while (left && !atomic_compare_exchange_weak(&hook_left, &left, left - 1)) {
        }
        if (left == 1) atomic_load(&hook_fn)(atomic_load(&hook_payload));
    }
    atomic_fetch_sub(&hook_busy, 1);
}

void ent__fault_reset(void)
{
    atomic_store(&hook_left, 0);
    atomic_store(&arm_at, 0);
    atomic_store(&arm_name, NULL);
    atomic_store(&calls, 0);
    atomic_store(&fired, 0);
}

uint64_t ent__fault_calls(void) { return atomic_load(&calls); }
uint64_t ent__fault_fired(void) { return atomic_load(&fired); }

static void arm(uint64_t n, int rc, int sticky)
{
    atomic_store(&arm_at, 0); /* a call in between sees the old arming or none, never half of one */
    atomic_store(&arm_rc, rc);
    atomic_store(&arm_sticky, sticky);
    if (rc != ENT_OK) atomic_store(&arm_at, n);
}

void ent__fault_arm(uint64_t n, int rc) { arm(n, rc, 0); }
void ent__fault_arm_sticky(uint64_t n, int rc) { arm(n, rc, 1); }
void ent__fault_disarm(void)
{
    atomic_store(&arm_at, 0);
    atomic_store(&arm_name, NULL);
}

void ent__fault_arm_named(const char *call, uint64_t n, int rc)
{
    atomic_store(&arm_name, NULL);
    atomic_store(&named_calls, 0);
    atomic_store(&named_at, n);
    atomic_store(&named_rc, rc);
    if (rc != ENT_OK && n) atomic_store(&arm_name, call);
}

/* An injected ENT_FULL stands for a full disk (what the fault tests and the mirror's mean by it):
 * the detail a real one carries, so that code telling the causes apart is tested on it too. */
static int injected_detail(int rc) { return rc == ENT_FULL ? ENT_DETAIL_NO_SPACE : ENT_DETAIL_NONE; }

/* Count one call; its failure code when it is the armed one (message set), else ENT_OK. */
static int inject(const char *call)
{
    uint64_t n = atomic_fetch_add(&calls, 1) + 1, at = atomic_load(&arm_at);
    const char *name = atomic_load(&arm_name);
    int rc;
    hook(call);
    if (name && strcmp(name, call) == 0 && atomic_fetch_add(&named_calls, 1) + 1 == atomic_load(&named_at)) {
        rc = atomic_load(&named_rc);
        atomic_fetch_add(&fired, 1);
        return ent__errd(rc, injected_detail(rc), "fault injected: call %" PRIu64 " (%s) fails with %s", n, call, ent_strerror(rc));
    }
    if (!at || n < at || (n > at && !atomic_load(&arm_sticky))) return ENT_OK;
    rc = atomic_load(&arm_rc);
    atomic_fetch_add(&fired, 1);
    return ent__errd(rc, injected_detail(rc), "fault injected: call %" PRIu64 " (%s) fails with %s", n, call, ent_strerror(rc));
}

/* ---- open, close ---------------------------------------------------------------------------- */

static int f_open(ent_bk **out, const char *path, const ent_backend_opts *opts)
{
    ent_backend_opts o = {0};
    const ent_backend_ops *in;
    const char *inner;
    fbe *b;
    int rc;
    if (opts) o = *opts;
    if ((rc = inject("open"))) return rc;
    inner = o.arg;
    in = ent__backend_find(inner, &o.arg);
    if (!in) return ent__err(ENT_INVALID, "fault backend: no inner backend \"%s\"", inner);
    if (in->version != ENT_BACKEND_VERSION)
        return ent__err(ENT_INVALID, "fault backend: inner backend %s has interface version %u, not %u", in->name,
                        in->version, ENT_BACKEND_VERSION);
    if (!(b = calloc(1, sizeof *b))) return ent__err(ENT_NOMEM, "out of memory");
    b->in = in;
    if ((rc = in->open(&b->be, path, &o))) {
        free(b);
        return rc;
    }
    *out = (ent_bk *)b;
    return ENT_OK;
}

static void f_close(ent_bk *be)
{
    fbe *b = (fbe *)be;
    if (!b) return;
    b->in->close(b->be);
    free(b);
}

static void f_limits(ent_bk *be, ent_backend_limits *out)
{
    fbe *b = (fbe *)be;
    b->in->limits(b->be, out);
}

static int f_table(ent_bk *be, ent_btxn *txn, const char *name, unsigned flags, unsigned *out)
{
    fbe *b = (fbe *)be;
    int rc = inject("table");
    return rc ? rc : b->in->table(b->be, ((ftxn *)txn)->t, name, flags, out);
}

/* ---- transactions --------------------------------------------------------------------------- */

static int f_txn_begin(ent_bk *be, int write, ent_btxn **out)
{
    fbe *b = (fbe *)be;
    ftxn *t;
    int rc;
    if ((rc = inject("txn_begin"))) return rc;
    if (!(t = calloc(1, sizeof *t))) return ent__err(ENT_NOMEM, "out of memory");
    t->in = b->in;
    if ((rc = b->in->txn_begin(b->be, write, &t->t))) {
        free(t);
        return rc;
    }
    *out = (ent_btxn *)t;
    return ENT_OK;
}

static int f_txn_commit(ent_btxn *txn)
{
    ftxn *t = (ftxn *)txn;
    int rc = inject("txn_commit");
    if (rc) t->in->txn_abort(t->t); /* a commit ends the txn whatever its code */
    else rc = t->in->txn_commit(t->t);
    free(t);
    return rc;
}

static int f_txn_commit_unsynced(ent_btxn *txn)
{
    ftxn *t = (ftxn *)txn;
    int rc = inject("txn_commit");
    if (rc) t->in->txn_abort(t->t);
    else rc = t->in->txn_commit_unsynced(t->t);
    free(t);
    return rc;
}

static int f_sync(ent_bk *be, int force)
{
    fbe *b = (fbe *)be;
    int rc = inject("sync");
    return rc ? rc : b->in->sync(b->be, force);
}

static int f_sp_begin(ent_btxn *txn)
{
    ftxn *t = (ftxn *)txn;
    int rc = inject("sp_begin");
    return rc ? rc : t->in->sp_begin(t->t);
}

/* An injected failure of a kept savepoint undoes it and fails like a real one: the txn goes on. */
static int f_sp_end(ent_btxn *txn, int keep)
{
    ftxn *t = (ftxn *)txn;
    int rc = inject("sp_end");
    if (!rc) return t->in->sp_end(t->t, keep);
    t->in->sp_end(t->t, 0);
    return rc;
}

static void f_txn_abort(ent_btxn *txn)
{
    ftxn *t = (ftxn *)txn;
    t->in->txn_abort(t->t);
    free(t);
}

static int f_check_pages(ent_btxn *txn, const char *table, void (*cb)(const char *line, void *payload), void *payload,
                         uint64_t *out_problems)
{
    ftxn *t = (ftxn *)txn;
    int rc = inject("check_pages");
    *out_problems = 0;
    if (rc) return rc;
    return t->in->check_pages ? t->in->check_pages(t->t, table, cb, payload, out_problems) : ENT_OK;
}

static int f_at_path(ent_bk *be)
{
    fbe *b = (fbe *)be;
    return b->in->at_path ? b->in->at_path(b->be) : ENT_OK;
}

static uint64_t f_snapshot_id(ent_btxn *txn)
{
    ftxn *t = (ftxn *)txn;
    return t->in->snapshot_id ? t->in->snapshot_id(t->t) : 0;
}

/* ---- data ----------------------------------------------------------------------------------- */

static int f_get(ent_btxn *txn, unsigned tbl, const ent_slice *k, ent_slice *out)
{
    ftxn *t = (ftxn *)txn;
    int rc = inject("get");
    return rc ? rc : t->in->get(t->t, tbl, k, out);
}

static int f_put(ent_btxn *txn, unsigned tbl, const ent_slice *k, const ent_slice *v, unsigned flags)
{
    ftxn *t = (ftxn *)txn;
    int rc = inject("put");
    return rc ? rc : t->in->put(t->t, tbl, k, v, flags);
}

static int f_del(ent_btxn *txn, unsigned tbl, const ent_slice *k, const ent_slice *v)
{
    ftxn *t = (ftxn *)txn;
    int rc = inject("del");
    return rc ? rc : t->in->del(t->t, tbl, k, v);
}

static int f_clear(ent_btxn *txn, unsigned tbl)
{
    ftxn *t = (ftxn *)txn;
    int rc = inject("clear");
    return rc ? rc : t->in->clear(t->t, tbl);
}

static int f_cursor_open(ent_btxn *txn, unsigned tbl, ent_bcur **out)
{
    ftxn *t = (ftxn *)txn;
    fcur *c;
    int rc;
    if ((rc = inject("cursor_open"))) return rc;
    if (!(c = calloc(1, sizeof *c))) return ent__err(ENT_NOMEM, "out of memory");
    c->in = t->in;
    if ((rc = t->in->cursor_open(t->t, tbl, &c->c))) {
        free(c);
        return rc;
    }
    *out = (ent_bcur *)c;
    return ENT_OK;
}

static int f_cursor_get(ent_bcur *cur, int op, ent_slice *k, ent_slice *v)
{
    fcur *c = (fcur *)cur;
    int rc = inject("cursor_get");
    return rc ? rc : c->in->cursor_get(c->c, op, k, v);
}

static void f_cursor_close(ent_bcur *cur)
{
    fcur *c = (fcur *)cur;
    if (!c) return;
    c->in->cursor_close(c->c);
    free(c);
}

/* ---- the store as a whole ------------------------------------------------------------------- */

static int f_info(ent_bk *be, ent_backend_info *out)
{
    fbe *b = (fbe *)be;
    int rc = inject("info");
    return rc ? rc : b->in->info(b->be, out);
}

static uint64_t f_change_counter(ent_bk *be)
{
    fbe *b = (fbe *)be;
    return b->in->change_counter(b->be);
}

static int f_wait_change(ent_bk *be, uint64_t seen, int timeout_ms)
{
    fbe *b = (fbe *)be;
    int rc = inject("wait_change");
    return rc ? rc : b->in->wait_change(b->be, seen, timeout_ms);
}

/* The optional methods below are called only when the inner store declares them (bk.c checks the
 * capabilities this backend reports, which are the inner store's). */
static int f_copy(ent_bk *be, const char *dest, int compact)
{
    fbe *b = (fbe *)be;
    int rc = inject("copy");
    return rc ? rc : b->in->copy(b->be, dest, compact);
}

static int f_set_durability(ent_bk *be, int durability)
{
    fbe *b = (fbe *)be;
    int rc = inject("set_durability");
    return rc ? rc : b->in->set_durability(b->be, durability);
}

static void f_pin(ent_bk *be)
{
    fbe *b = (fbe *)be;
    b->in->pin(b->be);
}

static void f_unpin(ent_bk *be)
{
    fbe *b = (fbe *)be;
    b->in->unpin(b->be);
}

const ent_backend_ops ent__backend_fault = {
    .version = ENT_BACKEND_VERSION,
    .name = "fault",
    .caps = 0,    /* whatever the inner store can do, reported by f_limits */
    .max_key = 0, /* the inner store's */
    .open = f_open,
    .close = f_close,
    .limits = f_limits,
    .table = f_table,
    .txn_begin = f_txn_begin,
    .txn_commit = f_txn_commit,
    .txn_abort = f_txn_abort,
    .get = f_get,
    .put = f_put,
    .del = f_del,
    .clear = f_clear,
    .cursor_open = f_cursor_open,
    .cursor_get = f_cursor_get,
    .cursor_close = f_cursor_close,
    .info = f_info,
    .change_counter = f_change_counter,
    .wait_change = f_wait_change,
    .copy = f_copy,
    .set_durability = f_set_durability,
    .snapshot_id = f_snapshot_id,
    .pin = f_pin,
    .unpin = f_unpin,
    .sp_begin = f_sp_begin,
    .sp_end = f_sp_end,
    .txn_commit_unsynced = f_txn_commit_unsynced,
    .sync = f_sync,
    .check_pages = f_check_pages,
    .at_path = f_at_path,
};
