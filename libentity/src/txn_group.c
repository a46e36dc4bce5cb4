/* Group commit: write calls made without a transaction (txn NULL) from several threads of one
 * process share one backend transaction and one commit, so a durable store pays one sync per group
 * rather than per call (PostgreSQL's commit_delay, RocksDB's write groups).
 *
 * A call queues a request and waits. When no thread leads, the first waiting one leads: it begins a
 * write transaction (waiting for the backend's writer as any writer does), takes every request
 * queued by then, runs each in admission order, commits once and hands each caller its result. A
 * lone caller finds no leader and nobody queued, so it runs at once: grouping adds no wait. Calls
 * that arrive meanwhile queue up and are the next group, led by the first of them once this one
 * is durable. On a backend that syncs apart (LMDB durable: the meta page's sync) the commit lets
 * the backend's writer go before that last sync (another process's writer, or a thread that is not
 * grouped, may go on meanwhile), but the group's leadership is kept until the sync is done.
 *
 * Why the next group does not start during that sync (measured, README "What limits the curve"):
 * its callers would be the few that were not in this group, while this group's callers still
 * wait for the sync; with threads that write again as soon as they return, groups then alternate
 * between most of the threads and the rest, and each small group pays a whole data sync whose cost
 * is its dirty pages, most of which every group writes (branch pages, the main and free-list
 * pages, the log and counter leaves). Likewise a new leader waits a little for company: the
 * callers of the group before it return one by one (each needs a wake-up, on a busy CPU), and the
 * first of them would otherwise lead a group of one. It waits only when that group had more than
 * one caller, until as many are queued as it had, and at most half the time that group's commit
 * took (capped at COMPANY_MAX_NS): a caller that has had company lately pays at most that; a lone
 * caller (a group of one before it) never waits. Nor does a leader whose wait would be shorter than
 * COMPANY_MIN_NS, Linux's default timer slack: a timed sleep that short lasts up to that much
 * longer than asked, several times the commit it was to share (measured: with cheap commits the
 * wait made two threads 3-6x slower than one).
 *
 * Only where a commit syncs (ENT_GROUP_AUTO, the default: LMDB durable or lazy). Where it does
 * not (durability none, the memory backend) a grouped caller pays a sleep and a wake-up of its
 * thread for a commit that costs less than they do, where a caller that waits for the backend's
 * writer itself often gets it without sleeping: measured (README "Group commit where nothing
 * syncs"), grouped calls from 4-16 threads made 1.2-1.4x (LMDB none) and 1.7-2.1x (memory) fewer
 * calls a second than each alone; from 2 threads on LMDB none grouping was ~12 % ahead, which one
 * rule for both backends gives up. ent_store_set_group_commit() forces
 * either way (the contract suites group on every backend with it).
 *
 * Each caller's work is all-or-nothing on its own. An ent_txn_run() function, which may write
 * and then fail, runs inside a backend savepoint (LMDB: a nested transaction), undone alone when
 * it fails, together with the transaction's cached counters (ids, counts, the log's seq and txn
 * numbers). The library's own calls (create, update, delete, ack...) run without one: each says
 * whether its failure came after a write (half), as it does in a host's transaction, and one
 * refused before any write, for a reason of its own (a conflict, an invalid value, something
 * missing), left the transaction as it was but for those counters, which are put back. A
 * savepoint cost LMDB a copy of every page the call touched and a merge of its dirty list into the
 * group's: ~4 of a create's ~9 us in a group of 8, 27-38 us of the group's serial path. A group
 * of one needs none either: its failure aborts the whole transaction, as before grouping. A
 * failed commit fails every caller of the group, also one refused after the group's first success
 * (its refusal may come from that work: a key or unique value the store then never had). A call
 * that failed after it wrote, or a savepoint that can be neither kept nor undone (LMDB: a map
 * growth that failed inside it), breaks the transaction: that caller gets its own error and the
 * others run again in a new transaction, each in a savepoint, so each gets what it would have got
 * alone. Each caller whose call wrote events gets a txn number of its own, and its events are
 * contiguous, in admission order.
 *
 * Each leader times its group's phases (the wait for company, the begin, the calls, the commit,
 * the sync, the wake-ups) and adds them to the store's counters: ent_store_group_stats(), and the
 * table of entity bench --threads that says what limits the curve.
 *
 * The work runs on the leader's thread: the backend's transaction and its locks (LMDB's resize
 * hold) belong to one thread. What a caller sees of it is its result and its error message, which
 * is copied to the caller's thread.
 *
 * Not grouped (the call runs in a transaction of its own, as before): a store whose backend has
 * no savepoints, and a thread that holds a transaction of its own already (a read transaction or
 * an iterator). Such a thread must not wait for a leader: the leader may have to grow the LMDB map,
 * which waits for every transaction of the process, that thread's too.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error_int.h"
#include "fork.h"
#include "store_int.h"

/* A caller's request, on its stack. Its caller sleeps on sem, posted when the request is done and
 * when the caller is to lead. A leader hands results back with the group's mu let go (the callers
 * woken then return without taking it: on a busy CPU they would queue on it behind each other),
 * so a request must outlive every post made to it: its caller returns only once it has taken as
 * many as were made or promised (posted, counted under mu before the post). */
typedef struct greq {
    struct greq *next;
    ent__write_fn fn;
    void *payload;
    int rc;
    int taken;            /* in a leader's batch (under the group's mu) */
    atomic_int done;      /* set last by the leader (release): rc, msg and detail are final */
    atomic_uint posted;   /* posts to sem made or under way */
    sem_t sem;
    char msg[1024];    /* the failure's message, for the caller's thread (ent_errmsg's size) */
    int detail;        /* and its ENT_DETAIL_*, which goes with it */
} greq;

/* The longest a leader waits for company (see the top of the file). */
#define COMPANY_MAX_NS 1000000
/* The shortest wait for company worth a sleep: Linux's default timer slack (prctl PR_SET_TIMERSLACK). */
#define COMPANY_MIN_NS 50000

struct ent_group {
    pthread_mutex_t mu; /* leaf: the queue, the leader flag and what the next leader expects */
    pthread_cond_t company; /* signalled when a request queues while a leader waits for company */
    greq *head, *tail;
    size_t queued;      /* requests in the queue */
    atomic_size_t callers; /* calls between their queueing and their last touch of g (close refuses while > 0) */
    int leading;
    int awaiting;       /* a leader waits for company */
    size_t last_size;   /* callers of the last group */
    int64_t last_ns;    /* the time the last group took, from its leader's begin to durable */
    uint64_t commits;   /* groups led, committed or not (tests: ent__group_stats) */
    atomic_int mode;    /* ENT_GROUP_*, read by each call without mu */
    ent_group_stats st; /* ent_store_group_stats(); wake_ns apart (it is added after mu is let go) */
    _Atomic uint64_t wake_ns;
};

int ent__group_new(ent_store *s)
{
    struct ent_group *g = calloc(1, sizeof *g);
    if (!g) return ent__err(ENT_NOMEM, "out of memory");
    pthread_condattr_t ca;
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->company, &ca);
    pthread_condattr_destroy(&ca);
    s->group = g;
    return ENT_OK;
}

void ent__group_free(ent_store *s, int in_child)
{
    if (!s->group) return;
    if (!in_child) { /* see store_free() */
        pthread_mutex_destroy(&s->group->mu);
        pthread_cond_destroy(&s->group->company);
    }
    free(s->group);
    s->group = NULL;
}

size_t ent__group_busy(ent_store *s)
{
    struct ent_group *g = s->group;
    size_t n;
    if (!g || s->bk.fork_gen != ent__fork_gen()) return 0; /* a child's copy: nobody runs there */
    n = atomic_load_explicit(&g->callers, memory_order_acquire);
    return n;
}

void ent__group_stats(uint64_t *commits, size_t *waiting, ent_store *s)
{
    struct ent_group *g = s->group;
    pthread_mutex_lock(&g->mu);
    if (commits) *commits = g->commits;
    if (waiting) *waiting = g->queued;
    pthread_mutex_unlock(&g->mu);
}

int64_t ent__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The state of the transaction a savepoint must restore besides the backend's: the caches that
 * the store keeps in ent_txn and writes at commit. */
typedef struct txn_mark {
    ent_tcount *tc;
    uint8_t log_loaded, log_dirty;
    uint64_t log_last, txn_id, first_seq;
} txn_mark;

static void mark_take(txn_mark *m, const ent_txn *t, size_t n)
{
    memcpy(m->tc, t->tc, n * sizeof *t->tc);
    m->log_loaded = t->log_loaded;
    m->log_dirty = t->log_dirty;
    m->log_last = t->log_last;
    m->txn_id = t->txn_id;
    m->first_seq = t->first_seq;
}

static void mark_restore(ent_txn *t, const txn_mark *m, size_t n)
{
    memcpy(t->tc, m->tc, n * sizeof *t->tc);
    t->log_loaded = m->log_loaded;
    t->log_dirty = m->log_dirty;
    t->log_last = m->log_last;
    t->txn_id = m->txn_id;
    t->first_seq = m->first_seq;
    t->failed = 0;
    t->failed_rc = 0;
    t->failed_detail = ENT_DETAIL_NONE;
}

/* The transaction this thread lends to a caller's work right now (NULL: none). The work must not
 * commit or abort it (ent_txn_commit/abort check), and a write of the same store without a
 * transaction from inside it would wait for this very thread. */
static _Thread_local ent_txn *lent;

int ent__txn_lent(const ent_txn *t) { return t && t == lent; }

static int call_fn(ent__write_fn fn, ent_txn *t, void *payload, int *half)
{
    ent_txn *outer = lent;
    int rc;
    lent = t;
    rc = fn(t, payload, half);
    lent = outer;
    return rc;
}

/* Run one request in t; its code, with a failed transaction counted as a failure. */
static int run_one(ent_txn *t, greq *r, int *half)
{
    int rc;
    *half = 0;
    t->refs_unchecked = 0; /* ent_txn_skip_ref_checks() of one caller is not the next one's */
    t->refs_deferred = 0;
    t->deferred.n = 0;
    t->uniques_deferred = 0;
    t->upend.n = 0;
    t->restore_forward = 0;
    rc = call_fn(r->fn, t, r->payload, half);
    if (rc == ENT_OK && t->failed) rc = ent__txn_failed(t);
    return rc;
}

static int run_closure(ent_txn *t, void *p, int *half);

int ent__group_sp_always;

/* A call refused before it wrote anything, for a reason of its own (a key or value taken, a
 * version, a ref or a value the schema refuses, something missing, ids or versions used up): the
 * transaction is as it was, so the calls after it run on in it. Any other failure (I/O, memory,
 * a map that could not grow, a busy store) may have left the backend's transaction unusable. */
static int refused_clean(int rc, int half)
{
    if (half) return 0;
    if (rc == ENT_CONFLICT || rc == ENT_INVALID || rc == ENT_NOTFOUND) return 1;
    return rc == ENT_FULL && (ent_errdetail() == ENT_DETAIL_EXHAUSTED || ent_errdetail() == ENT_DETAIL_TOO_LARGE);
}

static void fail_req(greq *r, int rc)
{
    r->rc = rc;
    snprintf(r->msg, sizeof r->msg, "%s", ent_errmsg());
    r->detail = ent_errdetail();
}

/* Every request of v[0..n) fails with rc (the message is this thread's). */
static void fail_all(greq **v, size_t n, int rc)
{
    for (size_t i = 0; i < n; i++) fail_req(v[i], rc);
}

/* Every request of the list batch fails with rc (the message is this thread's). */
static void fail_list(greq *batch, int rc)
{
    for (greq *r = batch; r; r = r->next) fail_req(r, rc);
}

/* Run v[0..n) in t, each in a savepoint, and commit once; t is gone on return. A savepoint that
 * can be neither kept nor undone breaks t (LMDB: a map growth that failed inside it, e.g. while
 * that caller's fn holds a read txn, or because another process committed meanwhile): that caller
 * keeps its own error, and the others, whose work went with t, are to run again in a new
 * transaction, as each would have run alone (store.h lets fn run more than once). Returns how many
 * that is, moved to the front of v; 0 when every request has its result. */
static size_t run_batch(ent_txn *t, greq **v, size_t n, int64_t *commit_at, int *sp_all)
{
    size_t ntypes = t->lay->schema->n_types, again = 0, first_ok = n;
    txn_mark m = {0};
    int rc, bumped = 0, half;
    m.tc = malloc((ntypes ? ntypes : 1) * sizeof *m.tc);
    if (!m.tc) {
        fail_all(v, n, ent__err(ENT_NOMEM, "out of memory"));
        ent_txn_abort(t);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        greq *r = v[i];
        uint64_t seq_before = t->log_last;
        mark_take(&m, t, ntypes);
        /* A savepoint for each call costs LMDB a nested transaction (a copy of every page it
         * touches, its dirty list merged into the group's): ~4 us of a create's ~9 in a group.
         * The library's own calls say whether a refusal wrote anything (half), as they do for a
         * host's transaction, so they run without one; a failure after a write breaks the
         * transaction as a savepoint that cannot be undone does, and the rest run again, each in
         * a savepoint. ent_txn_run()'s functions may write and then fail: always in one. */
        int sp = ent__group_sp_always || *sp_all || r->fn == run_closure;
        if (sp && (rc = ent__bk_sp_begin(t))) {
            fail_req(r, rc);
            continue;
        }
        rc = run_one(t, r, &half);
        if (rc == ENT_OK && sp) rc = ent__bk_sp_end(t, 1);
        if (rc == ENT_OK) {
            r->rc = ENT_OK;
            if (first_ok == n) first_ok = i;
            if (t->log_last != seq_before) { /* the next caller's events get a txn number of their own */
                t->txn_id++;
                bumped = 1;
            }
            continue;
        }
        fail_req(r, rc);
        if (sp ? ent__bk_sp_end(t, 0) == ENT_OK : refused_clean(rc, half)) {
            mark_restore(t, &m, ntypes);
            continue;
        }
        /* Neither kept nor undone: t is broken; r keeps its error, every other runs again, each
         * in a savepoint. */
        *sp_all = 1;
        free(m.tc);
        ent_txn_abort(t);
        for (size_t j = 0; j < n; j++)
            if (j != i) v[again++] = v[j];
        return again;
    }
    free(m.tc);
    if (first_ok == n) { /* none succeeded */
        ent_txn_abort(t);
        return 0;
    }
    if (bumped) t->txn_id--; /* the last number used: the log's counter stores it */
    /* A failed commit fails its callers, from the first that succeeded on: the refusals after it
     * saw its work (a key or unique value it took), a state the store never had. */
    *commit_at = ent__mono_ns();
    if ((rc = ent__txn_commit_group(t)))
        for (size_t i = first_ok; i < n; i++) fail_req(v[i], rc);
    return 0;
}

/* Before a leader begins: when the last group had company, wait until as many requests are
 * queued as it had callers, at most half the time it took (see the top of the file). */
static void await_company(struct ent_group *g)
{
    struct timespec dl;
    int64_t wait_ns, end;
    pthread_mutex_lock(&g->mu);
    if (g->last_size > 1 && g->queued < g->last_size) {
        wait_ns = g->last_ns / 2 < COMPANY_MAX_NS ? g->last_ns / 2 : COMPANY_MAX_NS;
        if (wait_ns < COMPANY_MIN_NS) {
            pthread_mutex_unlock(&g->mu);
            return;
        }
        end = ent__mono_ns() + wait_ns;
        dl.tv_sec = (time_t)(end / 1000000000);
        dl.tv_nsec = (long)(end % 1000000000);
        g->awaiting = 1;
        while (g->queued < g->last_size)
            if (pthread_cond_timedwait(&g->company, &g->mu, &dl)) break;
        g->awaiting = 0;
    }
    pthread_mutex_unlock(&g->mu);
}

/* Lead one group: every request queued by the time this thread holds the writer. Returns the
 * batch, each with its result, for the caller to hand back; *took: the time from the begin to the
 * end of the commit (durable), not counting the wait for company. ph: the group's times (its
 * groups and calls, and wake_ns, are the caller's to fill). */
static greq *lead(ent_store *s, int64_t *took, ent_group_stats *ph)
{
    struct ent_group *g = s->group;
    greq *batch;
    ent_txn *t = NULL;
    int64_t t0, w0 = ent__mono_ns(), tb, tc = 0, te;
    int rc;
    await_company(g);
    t0 = ent__mono_ns();
    rc = ent_txn_begin(&t, s, ENT_TXN_WRITE);
    tb = ent__mono_ns();
    ent__txn_sync_ns = 0;
    pthread_mutex_lock(&g->mu);
    batch = g->head;
    g->head = g->tail = NULL;
    g->last_size = g->queued;
    g->queued = 0;
    for (greq *q = batch; q; q = q->next) q->taken = 1;
    pthread_mutex_unlock(&g->mu);
    if (rc) {
        fail_list(batch, rc);
    } else if (batch->next) {
        size_t n = 0;
        greq **v;
        for (greq *r = batch; r; r = r->next) n++;
        if (!(v = malloc(n * sizeof *v))) {
            fail_list(batch, ent__err(ENT_NOMEM, "out of memory"));
            ent_txn_abort(t);
        } else {
            n = 0;
            for (greq *r = batch; r; r = r->next) v[n++] = r;
            /* Each round drops the request that broke its transaction: at most n rounds. */
            int sp_all = 0;
            while ((n = run_batch(t, v, n, &tc, &sp_all)) > 0) {
                if ((rc = ent_txn_begin(&t, s, ENT_TXN_WRITE))) {
                    fail_all(v, n, rc);
                    break;
                }
            }
            free(v);
        }
    } else {
        /* Alone: no savepoint; a failure aborts the transaction, which holds nothing else. */
        int half;
        rc = run_one(t, batch, &half);
        if (rc) {
            fail_req(batch, rc);
            ent_txn_abort(t);
        } else if ((tc = ent__mono_ns()), (rc = ent__txn_commit_group(t))) {
            fail_req(batch, rc);
        }
    }
    te = ent__mono_ns();
    if (!tc) tc = te; /* nothing committed */
    ph->wait_ns = (uint64_t)(t0 - w0);
    ph->begin_ns = (uint64_t)(tb - t0);
    ph->run_ns = (uint64_t)(tc - tb);
    ph->sync_ns = (uint64_t)(ent__txn_sync_ns < te - tc ? ent__txn_sync_ns : te - tc);
    ph->commit_ns = (uint64_t)(te - tc) - ph->sync_ns;
    *took = te - t0;
    return batch;
}

/* 1 when calls of s are grouped from this thread: the mode allows it (see the top of the file), the
 * backend has savepoints, and the thread holds no transaction. */
static int groupable(ent_store *s)
{
    int mode = atomic_load_explicit(&s->group->mode, memory_order_relaxed);
    if (mode == ENT_GROUP_NEVER) return 0;
    if (mode == ENT_GROUP_AUTO &&
        (!(ent__bk_caps(&s->bk) & ENT_BK_CAP_DURABILITY) || s->durability == ENT_NONE))
        return 0;
    return (ent__bk_caps(&s->bk) & ENT_BK_CAP_SAVEPOINT) && ent__txn_open_count() == 0;
}

int ent_store_group_stats(ent_store *s, ent_group_stats *out)
{
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_store_group_stats: out is NULL");
    if ((rc = ent__store_check(s))) return rc; /* a forked child's copy: its mutex may be held */
    struct ent_group *g = s->group;
    pthread_mutex_lock(&g->mu);
    *out = g->st;
    out->groups = g->commits;
    pthread_mutex_unlock(&g->mu);
    out->wake_ns = atomic_load_explicit(&g->wake_ns, memory_order_relaxed);
    return ENT_OK;
}

int ent_store_set_group_commit(ent_store *s, int mode)
{
    if (!s || !s->group) return ent__err(ENT_INVALID, "ent_store_set_group_commit: no store");
    if (mode != ENT_GROUP_AUTO && mode != ENT_GROUP_ALWAYS && mode != ENT_GROUP_NEVER)
        return ent__err(ENT_INVALID, "ent_store_set_group_commit: unknown mode %d (ENT_GROUP_AUTO, _ALWAYS or _NEVER)",
                        mode);
    atomic_store_explicit(&s->group->mode, mode, memory_order_relaxed);
    return ENT_OK;
}

int ent__txn_write(ent_store *s, ent_txn *txn, ent__write_fn fn, void *payload)
{
    struct ent_group *g = s ? s->group : NULL;
    ent_txn *t;
    greq r;
    int rc, half = 0;
    if (!txn && lent && lent->s == s)
        return ent__err(ENT_BUSY, "a write without a transaction from inside ent_txn_run() on the same store; "
                                  "use the transaction it gives");
    if (txn || !g || !groupable(s)) {
        /* A call without a transaction counts as a group's callers do, so that ent_store_close()
         * from another thread refuses while it runs (ent__group_busy): with ENT_GROUP_AUTO on a
         * `none` or memory store every such call comes here, and a close freed the store under it. */
        int counted = !txn && g;
        if (counted) atomic_fetch_add_explicit(&g->callers, 1, memory_order_relaxed);
        if ((rc = ent__txn_use(&t, s, txn, 1)) == ENT_OK) {
            size_t noted = t->deferred.n;
            rc = txn ? fn(t, payload, &half) : call_fn(fn, t, payload, &half);
            /* A call refused before it wrote leaves the caller's transaction as it was: also no
             * entity noted for ent_txn_defer_ref_checks() (a create refused for a taken unique
             * value, noted before that check, made the commit say the entity that never existed
             * was "still referenced" by the ones that refer to it, ENT_CONFLICT for a missing
             * entity, ENT_INVALID). */
            if (rc && !half && txn) t->deferred.n = noted;
            if (rc == ENT_OK && !txn && t->failed) rc = ent__txn_failed(t);
            rc = ent__txn_end(t, txn, rc, half);
        }
        if (counted) atomic_fetch_sub_explicit(&g->callers, 1, memory_order_release); /* the last touch of s */
        return rc;
    }
    /* What ent_txn_begin() would refuse is refused on the caller's thread, with its message. */
    if ((rc = ent__store_check(s))) return rc;
    if (s->read_only) return ent__err(ENT_READONLY, "store %s is open read-only", s->path);
    if (ent__log_in_callback())
        return ent__err(ENT_BUSY, "an event callback cannot write to a store (hand the work to another thread)");
    memset(&r, 0, sizeof r);
    r.fn = fn;
    r.payload = payload;
    if (sem_init(&r.sem, 0, 0)) return ent__err(ENT_IO, "a group commit's wait: sem_init: %s", strerror(errno));
    unsigned consumed = 0; /* posts taken */
    pthread_mutex_lock(&g->mu);
    if (g->tail) g->tail->next = &r;
    else g->head = &r;
    g->tail = &r;
    g->queued++;
    atomic_fetch_add_explicit(&g->callers, 1, memory_order_relaxed);
    /* only the arrival that ends its wait: a wake-up for each made the leader run (and the CPU
     * switch) once per caller, while they are the ones that need the CPU then */
    if (g->awaiting && g->queued >= g->last_size) pthread_cond_signal(&g->company);
    for (;;) {
        if (atomic_load_explicit(&r.done, memory_order_acquire)) {
            pthread_mutex_unlock(&g->mu);
            break;
        }
        /* A request taken into a batch waits for its result, not for the leadership. */
        if (g->leading || r.taken) {
            pthread_mutex_unlock(&g->mu);
            while (sem_wait(&r.sem) && errno == EINTR) {
            }
            consumed++;
            if (atomic_load_explicit(&r.done, memory_order_acquire)) break;
            pthread_mutex_lock(&g->mu);
            continue;
        }
        g->leading = 1;
        pthread_mutex_unlock(&g->mu);
        int64_t took;
        ent_group_stats ph = {0};
        greq *batch = lead(s, &took, &ph), *q; /* r is in it: the queue is taken whole */
        pthread_mutex_lock(&g->mu);
        for (q = batch; q; q = q->next) {
            if (q != &r) atomic_fetch_add_explicit(&q->posted, 1, memory_order_relaxed);
            atomic_store_explicit(&q->done, 1, memory_order_release);
            g->st.calls++;
        }
        g->st.wait_ns += ph.wait_ns;
        g->st.begin_ns += ph.begin_ns;
        g->st.run_ns += ph.run_ns;
        g->st.commit_ns += ph.commit_ns;
        g->st.sync_ns += ph.sync_ns;
        g->last_ns = took;
        g->leading = 0;
        g->commits++;
        if (g->head) { /* the first of the next group leads it */
            atomic_fetch_add_explicit(&g->head->posted, 1, memory_order_relaxed);
            sem_post(&g->head->sem);
        }
        pthread_mutex_unlock(&g->mu);
        /* Hand the results back. A request lives until its caller has taken the post promised. */
        int64_t h0 = ent__mono_ns();
        while (batch) {
            greq *next = batch->next;
            if (batch != &r) sem_post(&batch->sem);
            batch = next;
        }
        atomic_fetch_add_explicit(&g->wake_ns, (uint64_t)(ent__mono_ns() - h0), memory_order_relaxed);
        break;
    }
    while (consumed < atomic_load_explicit(&r.posted, memory_order_relaxed)) {
        while (sem_wait(&r.sem) && errno == EINTR) {
        }
        consumed++;
    }
    sem_destroy(&r.sem);
    atomic_fetch_sub_explicit(&g->callers, 1, memory_order_release); /* the last touch of g (close may free it) */
    if (r.rc) return ent__errd(r.rc, r.detail, "%s", r.msg);
    return ENT_OK;
}

/* ---- closure transactions ----------------------------------------------------------------- */

typedef struct run_arg {
    ent_txn_fn fn;
    void *payload;
} run_arg;

static int run_closure(ent_txn *t, void *p, int *half)
{
    run_arg *a = p;
    int rc;
    *half = 1; /* whatever fn wrote before failing must go */
    /* A code that fn returns without a failed call of its own would carry the message of an
     * unrelated earlier failure (of this thread, or of the leader's when fn runs there). */
    ent__err_clear();
    rc = a->fn(t, a->payload);
    if (rc > 0) rc = ent__err(ENT_INVALID, "ent_txn_run: the function returned %d, not an ENT_* code", rc);
    else if (rc < 0 && !ent_errmsg()[0])
        rc = ent__err(rc, "ent_txn_run: the function returned %s without a message", ent_strerror(rc));
    /* ent_txn_defer_ref_checks() from fn: its checks when its work is whole, so that a failure
     * undoes that work alone (its savepoint), not the group's; the flag is fn's, not the group's */
    if (rc == ENT_OK && t->refs_deferred && !t->failed) {
        if ((rc = ent__refs_check_deferred(t))) rc = ent__err_prefix(rc, "ent_txn_run: ");
    }
    t->refs_deferred = 0;
    t->deferred.n = 0;
    /* ent_txn_defer_unique_checks() likewise: a value two entities hold fails fn alone */
    if (rc == ENT_OK && t->uniques_deferred && !t->failed) {
        if ((rc = ent__uniques_check_deferred(t))) rc = ent__err_prefix(rc, "ent_txn_run: ");
    }
    t->uniques_deferred = 0;
    t->upend.n = 0;
    return rc;
}

int ent_txn_run(ent_store *s, ent_txn_fn fn, void *payload)
{
    run_arg a;
    if (!s || !fn) return ent__err(ENT_INVALID, "ent_txn_run: %s is NULL", !s ? "store" : "fn");
    a.fn = fn;
    a.payload = payload;
    return ent__txn_write(s, NULL, run_closure, &a);
}
