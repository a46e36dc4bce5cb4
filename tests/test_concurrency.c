/* Concurrency: readers and a writer on one store handle (threads, both backends), and two
 * processes writing one LMDB store. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_rand.h"
#include "test_util.h"

static const char schema_json[] =
    "{\"schema\":\"bank\",\"version\":1,\"types\":{"
    "\"account\":{\"key\":\"auto\",\"fields\":{\"balance\":{\"id\":1,\"type\":\"int\",\"required\":true,\"indexed\":true}}},"
    "\"counter\":{\"key\":\"string\",\"fields\":{\"n\":{\"id\":1,\"type\":\"uint\",\"required\":true}}},"
    "\"mark\":{\"key\":\"auto\",\"fields\":{\"by\":{\"id\":1,\"type\":\"int\",\"indexed\":true}}}}}";

enum { ACCOUNTS = 16, START = 1000, READERS = 3 };

typedef struct shared {
    ent_store *s;
    atomic_int stop;
    atomic_long snapshots;
    atomic_int bad;
} shared;

static int open_store(ent_store **s, ent_schema **sc, const char *backend, const char *dir)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc = ent_schema_load_json(sc, schema_json, strlen(schema_json), "bank");
    o.backend = backend;
    o.durability = ENT_NONE;
    if (rc || (rc = ent_store_open(s, dir, *sc, &o))) return rc;
    /* the writers meet in groups, as on a store whose commits sync (AUTO groups only those) */
    return ent_store_set_group_commit(*s, ent_test_group_mode());
}

static void *reader(void *arg)
{
    shared *sh = arg;
    const ent_type *acc = ent_store_type(sh->s, "account");
    while (!atomic_load(&sh->stop)) {
        ent_txn *r = NULL;
        ent_iter *it = NULL;
        ent_entity *e;
        int64_t sum = 0, b;
        int n = 0;
        if (ent_txn_begin(&r, sh->s, ENT_TXN_READ) || ent_scan(&it, sh->s, r, acc, NULL, NULL)) {
            atomic_store(&sh->bad, 1);
            break;
        }
        while (ent_iter_next(&e, it) == ENT_OK) {
            if (ent_entity_get_int(&b, e, "balance") == ENT_OK) sum += b;
            n++;
            ent_entity_free(e);
        }
        ent_iter_free(it);
        ent_txn_abort(r);
        /* every snapshot holds the invariant every transaction keeps */
        if (n != ACCOUNTS || sum != (int64_t)ACCOUNTS * START) atomic_store(&sh->bad, 1);
        atomic_fetch_add(&sh->snapshots, 1);
    }
    return NULL;
}

static void threads_on(const char *backend)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_schema *sc = NULL;
    shared sh;
    pthread_t th[READERS];
    const ent_type *acc;
    ent_txn *w;
    ENT_TEST_MKDTEMP(dir, "concurrency");
    memset(&sh, 0, sizeof sh);
    ENT_OK_(open_store(&sh.s, &sc, backend, dir));
    acc = ent_store_type(sh.s, "account");
    ENT_OK_(ent_txn_begin(&w, sh.s, ENT_TXN_WRITE));
    for (int i = 0; i < ACCOUNTS; i++) {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, acc));
        ENT_OK_(ent_entity_set_int(e, "balance", START));
        ENT_OK_(ent_create(sh.s, w, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(w));
    for (int i = 0; i < READERS; i++) CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, reader, &sh), 0);
    srand(3);
    for (int i = 0; i < 1500; i++) {
        /* move an amount between two accounts: the sum never changes between commits */
        ent_key a = ent_key_id(1 + (uint64_t)(rand() % ACCOUNTS)), b = ent_key_id(1 + (uint64_t)(rand() % ACCOUNTS));
        ent_entity *ea = NULL, *eb = NULL;
        int64_t va, vb, amount = rand() % 50;
        if (i == 750) {
            /* Half way, let the readers finish a scan before the writer goes on: the check below
             * that they read snapshots must not depend on how the scheduler shares the cores. */
            while (atomic_load(&sh.snapshots) == 0 && !atomic_load(&sh.bad)) sched_yield();
        }
        if (a.id == b.id) continue;
        ENT_OK_(ent_txn_begin(&w, sh.s, ENT_TXN_WRITE));
        ENT_OK_(ent_get(&ea, sh.s, w, acc, &a));
        ENT_OK_(ent_get(&eb, sh.s, w, acc, &b));
        ENT_OK_(ent_entity_get_int(&va, ea, "balance"));
        ENT_OK_(ent_entity_get_int(&vb, eb, "balance"));
        ENT_OK_(ent_entity_set_int(ea, "balance", va - amount));
        ENT_OK_(ent_entity_set_int(eb, "balance", vb + amount));
        ENT_OK_(ent_update(sh.s, w, ea, ENT_VERSION_ANY));
        ENT_OK_(ent_update(sh.s, w, eb, ENT_VERSION_ANY));
        if (i % 10 == 0) ent_txn_abort(w); /* aborted moves leave nothing */
        else ENT_OK_(ent_txn_commit(w));
        ent_entity_free(ea);
        ent_entity_free(eb);
    }
    atomic_store(&sh.stop, 1);
    for (int i = 0; i < READERS; i++) pthread_join(th[i], NULL);
    printf("\n  %s: %ld consistent snapshots read during 1500 transfers\n", backend, (long)atomic_load(&sh.snapshots));
    CU_ASSERT_EQUAL(atomic_load(&sh.bad), 0);
    CU_ASSERT(atomic_load(&sh.snapshots) > 0);
    ent_store_close(sh.s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

static void t_threads_lmdb(void) { threads_on("lmdb"); }
static void t_threads_memory(void) { threads_on("memory"); }

/* Two writer threads creating on one handle: auto ids stay unique. */
static void *creator(void *arg)
{
    ent_store *s = arg;
    for (int i = 0; i < 300; i++) {
        ent_entity *e = NULL;
        if (ent_entity_new(&e, ent_store_type(s, "mark")) || ent_entity_set_int(e, "by", 1) || ent_create(s, NULL, e))
            return (void *)1;
        ent_entity_free(e);
    }
    return NULL;
}

static void t_two_writer_threads(void)
{
    const char *backends[] = {"lmdb", "memory"};
    for (int b = 0; b < 2; b++) {
        char dir[ENT_TEST_PATH_MAX];
        ent_schema *sc = NULL;
        ent_store *s = NULL;
        pthread_t t1, t2;
        void *r1, *r2;
        uint64_t n = 0;
        ENT_TEST_MKDTEMP(dir, "concurrency");
        ENT_OK_(open_store(&s, &sc, backends[b], dir));
        pthread_create(&t1, NULL, creator, s);
        pthread_create(&t2, NULL, creator, s);
        pthread_join(t1, &r1);
        pthread_join(t2, &r2);
        CU_ASSERT_PTR_NULL(r1);
        CU_ASSERT_PTR_NULL(r2);
        ENT_OK_(ent_count(&n, s, NULL, ent_store_type(s, "mark")));
        CU_ASSERT_EQUAL(n, 600);
        {
            ent_key last = ent_key_id(600);
            CU_ASSERT_EQUAL(ent_exists(s, NULL, ent_store_type(s, "mark"), &last), ENT_OK);
        }
        ent_store_close(s);
        ent_schema_free(sc);
        ent_test_rm_rf(dir);
    }
}

/* Two handles on one LMDB directory in one process take turns writing: each one's write txn must
 * see the other's commits (auto ids, counts, log seqs and txn numbers), whatever the handle
 * remembers of its own last commit (txn.c keeps its counters and log state for the next write txn
 * that begins on the state it made). Creates alone and in twos, aborted and empty write txns,
 * deletes; then every id, the count, the log and verify are checked. */
static void t_two_handles_take_turns(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_schema *sc[2] = {NULL, NULL};
    ent_store *h[2] = {NULL, NULL};
    uint64_t rnd = 0x9e3779b97f4a7c15ULL, next_id = 1, live = 0, events = 0, txns = 0, problems = 1;
    uint8_t alive[400] = {0};
    ENT_TEST_MKDTEMP(dir, "concurrency");
    ENT_OK_(open_store(&h[0], &sc[0], "lmdb", dir));
    ENT_OK_(open_store(&h[1], &sc[1], "lmdb", dir));
    for (int step = 0; step < 300 && next_id < 390; step++) {
        ent_store *s = h[test_rand_next(&rnd) % 2];
        const ent_type *mt = ent_store_type(s, "mark");
        unsigned op = (unsigned)(test_rand_next(&rnd) % 5);
        ent_txn *w = NULL;
        ent_entity *e = NULL;
        if (op == 0 || op == 1) { /* one create alone, or two in one txn */
            int n = op == 0 ? 1 : 2;
            if (n == 2) ENT_OK_(ent_txn_begin(&w, s, ENT_TXN_WRITE));
            for (int i = 0; i < n; i++) {
                ENT_OK_(ent_entity_new(&e, mt));
                ENT_OK_(ent_entity_set_int(e, "by", step));
                ENT_OK_(ent_create(s, w, e));
                CU_ASSERT_EQUAL(ent_entity_key(e).id, next_id);
                alive[next_id++] = 1;
                ent_entity_free(e);
            }
            if (w) ENT_OK_(ent_txn_commit(w));
            live += (uint64_t)n;
            events += (uint64_t)n;
            txns++;
        } else if (op == 2) { /* a create that is rolled back: its id is not taken */
            ENT_OK_(ent_txn_begin(&w, s, ENT_TXN_WRITE));
            ENT_OK_(ent_entity_new(&e, mt));
            ENT_OK_(ent_create(s, w, e));
            CU_ASSERT_EQUAL(ent_entity_key(e).id, next_id);
            ent_entity_free(e);
            ent_txn_abort(w);
        } else if (op == 3) { /* a write txn that writes nothing */
            ENT_OK_(ent_txn_begin(&w, s, ENT_TXN_WRITE));
            ENT_OK_(ent_txn_commit(w));
        } else { /* delete the oldest live mark */
            for (uint64_t id = 1; id < next_id; id++) {
                if (!alive[id]) continue;
                ent_key k = ent_key_id(id);
                ENT_OK_(ent_delete(s, NULL, mt, &k, ENT_VERSION_ANY));
                alive[id] = 0;
                live--;
                events++;
                txns++;
                break;
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        uint64_t n = 0, first = 0, last = 0;
        ENT_OK_(ent_count(&n, h[i], NULL, ent_store_type(h[i], "mark")));
        CU_ASSERT_EQUAL(n, live);
        ENT_OK_(ent_log_bounds(&first, &last, h[i], NULL));
        CU_ASSERT_EQUAL(last, events);
    }
    {
        /* every seq once, in order; txn numbers 1, 2, ... one per committed write txn */
        uint64_t prev_txn = 0, seen_txns = 0;
        for (uint64_t seq = 1; seq <= events; seq++) {
            ent_event *ev = NULL;
            ENT_OK_(ent_log_get(&ev, h[seq % 2], NULL, seq));
            if (!ev) break;
            CU_ASSERT(ev->txn == prev_txn || ev->txn == prev_txn + 1);
            if (ev->txn != prev_txn) seen_txns++;
            prev_txn = ev->txn;
            ent_event_free(ev);
        }
        CU_ASSERT_EQUAL(seen_txns, txns);
        CU_ASSERT_EQUAL(prev_txn, txns);
    }
    ENT_OK_(ent_store_verify(&problems, h[0], NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    for (int i = 0; i < 2; i++) {
        ent_store_close(h[i]);
        ent_schema_free(sc[i]);
    }
    ent_test_rm_rf(dir);
}

/* Threads on two handles of one LMDB directory: four write through one handle (grouped with each
 * other, every fourth call an ent_txn_run() that creates and then undoes itself inside its group),
 * two through the other. Every kept create has a fresh id, no undone one left anything, and the
 * log holds exactly the kept creates, in txn order: what a handle keeps of its own last commit
 * never outlives a commit of the other handle, nor survives an undone call's counters. */
enum { TH_CALLS = 120 };

typedef struct turn_arg {
    ent_store *s;
    int who;
    uint64_t kept;
    uint64_t ids[TH_CALLS];
    int bad;
} turn_arg;

static int create_and_undo(ent_txn *txn, void *payload)
{
    turn_arg *a = payload;
    ent_entity *e = NULL;
    int rc = ent_entity_new(&e, ent_store_type(a->s, "mark"));
    if (!rc) rc = ent_entity_set_int(e, "by", -1);
    if (!rc) rc = ent_create(a->s, txn, e);
    ent_entity_free(e);
    return rc ? rc : ENT_CONFLICT; /* undo it: nothing of it may stay */
}

static void *turn_writer(void *p)
{
    turn_arg *a = p;
    for (int i = 0; i < TH_CALLS; i++) {
        ent_entity *e = NULL;
        if (i % 4 == 3) {
            if (ent_txn_run(a->s, create_and_undo, a) != ENT_CONFLICT) a->bad++;
            continue;
        }
        if (ent_entity_new(&e, ent_store_type(a->s, "mark")) || ent_entity_set_int(e, "by", a->who) ||
            ent_create(a->s, NULL, e)) {
            a->bad++;
            ent_entity_free(e);
            continue;
        }
        a->ids[a->kept++] = ent_entity_key(e).id;
        ent_entity_free(e);
    }
    return NULL;
}

static void count_event(const ent_event *ev, void *payload)
{
    (void)ev;
    (*(int *)payload)++;
}

/* In-process subscribers are the handle's (log.h, ent_subscribe): a commit through another handle
 * of the store in this process reaches them not, and ent_log_wait() on their handle sees it (as a
 * commit of another process). Pinned, as a host that opens the store twice meets it. */
static void t_subscribers_are_the_handles(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_schema *sc[2] = {NULL, NULL};
    ent_store *h[2] = {NULL, NULL};
    ent_subscriber *sub = NULL;
    ent_entity *e = NULL;
    int seen = 0;
    uint64_t last = 0;
    ENT_TEST_MKDTEMP(dir, "concurrency");
    ENT_OK_(open_store(&h[0], &sc[0], "lmdb", dir));
    ENT_OK_(open_store(&h[1], &sc[1], "lmdb", dir));
    ENT_OK_(ent_subscribe(&sub, h[0], NULL, 0, count_event, &seen));
    for (int i = 0; i < 2; i++) {
        ENT_OK_(ent_entity_new(&e, ent_store_type(h[1 - i], "mark")));
        ENT_OK_(ent_create(h[1 - i], NULL, e));
        ent_entity_free(e);
        ENT_OK_(ent_log_wait(&last, h[0], (uint64_t)i, 5000));
        CU_ASSERT_EQUAL(last, (uint64_t)i + 1);
        CU_ASSERT_EQUAL(seen, i); /* the other handle's create: none; its own: one */
    }
    ent_unsubscribe(h[0], sub);
    for (int i = 0; i < 2; i++) {
        ent_store_close(h[i]);
        ent_schema_free(sc[i]);
    }
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* Two stores X and Y, each on both backends. X's subscriber reads Y from its callback (the
 * delivering thread keeps X's commit pin meanwhile), while another thread, inside a write
 * transaction of Y, writes X (taking X's resize lock under Y's): the order of the two stores' locks
 * is opposite in the two threads. Both LMDB maps start at the minimum, so that both grow (a
 * resizer waits for the threads holding the lock). Every call succeeds, every event is delivered,
 * each store holds what was written; under ThreadSanitizer it reported a lock-order inversion of
 * the stores' resize locks (a pthread rwlock, behind whose waiting resizer both threads queued). */
/* Two new stores X and Y of the bank schema (durability none, maps at the minimum, so that they
 * grow), in directories of their own; two_stores_close() closes them and removes the directories. */
typedef struct two_stores {
    char dx[ENT_TEST_PATH_MAX], dy[ENT_TEST_PATH_MAX];
    ent_schema *sx, *sy;
    ent_store *x, *y;
} two_stores;

static void two_stores_open(two_stores *ts, const char *backend)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    memset(ts, 0, sizeof *ts);
    ENT_TEST_MKDTEMP(ts->dx, "concurrency");
    ENT_TEST_MKDTEMP(ts->dy, "concurrency");
    ENT_OK_(ent_schema_load_json(&ts->sx, schema_json, strlen(schema_json), "bank"));
    ENT_OK_(ent_schema_load_json(&ts->sy, schema_json, strlen(schema_json), "bank"));
    o.backend = backend;
    o.durability = ENT_NONE;
    o.map_size = ENT_MAP_SIZE_MIN;
    ENT_OK_(ent_store_open(&ts->x, ts->dx, ts->sx, &o));
    ENT_OK_(ent_store_open(&ts->y, ts->dy, ts->sy, &o));
}

static void two_stores_close(two_stores *ts)
{
    ent_store_close(ts->x);
    ent_store_close(ts->y);
    ent_schema_free(ts->sx);
    ent_schema_free(ts->sy);
    CU_ASSERT_EQUAL(ent_test_rm_rf(ts->dx), 0);
    CU_ASSERT_EQUAL(ent_test_rm_rf(ts->dy), 0);
}

typedef struct xy_share {
    ent_store *x, *y;
    atomic_int delivered, cb_bad, bad;
} xy_share;

static void xy_read_y(const ent_event *ev, void *payload)
{
    xy_share *sh = payload;
    ent_entity *o = NULL;
    uint64_t n = 0;
    ent_key k = ent_key_id(1);
    int rc = ent_get(&o, sh->y, NULL, ent_store_type(sh->y, "mark"), &k);
    if ((rc != ENT_OK && rc != ENT_NOTFOUND) || ent_count(&n, sh->y, NULL, ent_store_type(sh->y, "mark")))
        atomic_store(&sh->cb_bad, 1);
    ent_entity_free(o);
    (void)ev;
    atomic_fetch_add(&sh->delivered, 1);
}

static int xy_mark(ent_store *s, ent_txn *t, int by)
{
    ent_entity *e = NULL;
    int rc = ent_entity_new(&e, ent_store_type(s, "mark"));
    if (!rc) rc = ent_entity_set_int(e, "by", by);
    if (!rc) rc = ent_create(s, t, e);
    ent_entity_free(e);
    return rc;
}

enum { XY_ROUNDS = 150 };

static void *xy_y_then_x(void *arg) /* inside a write txn of Y, a write of X */
{
    xy_share *sh = arg;
    for (int i = 0; i < XY_ROUNDS; i++) {
        ent_txn *t = NULL;
        if (ent_txn_begin(&t, sh->y, ENT_TXN_WRITE) || xy_mark(sh->y, t, 1) || xy_mark(sh->x, NULL, 1) ||
            ent_txn_commit(t)) {
            fprintf(stderr, "xy_y_then_x: %s\n", ent_errmsg());
            atomic_store(&sh->bad, 1);
            if (t) ent_txn_abort(t);
            break;
        }
    }
    return NULL;
}

static void *xy_x_alone(void *arg) /* writes of X whose delivery reads Y */
{
    xy_share *sh = arg;
    for (int i = 0; i < XY_ROUNDS; i++)
        if (xy_mark(sh->x, NULL, 2)) {
            fprintf(stderr, "xy_x_alone: %s\n", ent_errmsg());
            atomic_store(&sh->bad, 1);
            break;
        }
    return NULL;
}

static void callback_reads_other_store_on(const char *backend)
{
    two_stores ts;
    ent_subscriber *sub = NULL;
    xy_share sh;
    pthread_t th[2];
    uint64_t nx = 0, ny = 0;
    memset(&sh, 0, sizeof sh);
    two_stores_open(&ts, backend);
    sh.x = ts.x;
    sh.y = ts.y;
    ENT_OK_(ent_subscribe(&sub, sh.x, NULL, 0, xy_read_y, &sh));
    pthread_create(&th[0], NULL, xy_y_then_x, &sh);
    pthread_create(&th[1], NULL, xy_x_alone, &sh);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(atomic_load(&sh.bad), 0);
    CU_ASSERT_EQUAL(atomic_load(&sh.cb_bad), 0);
    CU_ASSERT_EQUAL(atomic_load(&sh.delivered), 2 * XY_ROUNDS);
    ENT_OK_(ent_count(&nx, sh.x, NULL, ent_store_type(sh.x, "mark")));
    ENT_OK_(ent_count(&ny, sh.y, NULL, ent_store_type(sh.y, "mark")));
    CU_ASSERT_EQUAL(nx, 2 * XY_ROUNDS);
    CU_ASSERT_EQUAL(ny, XY_ROUNDS);
    ent_unsubscribe(sh.x, sub);
    two_stores_close(&ts);
}

static void t_callback_reads_other_store_lmdb(void) { callback_reads_other_store_on("lmdb"); }
static void t_callback_reads_other_store_memory(void) { callback_reads_other_store_on("memory"); }

/* A thread that holds a read transaction of store X and reads store Y once per step (a join of
 * two stores) passes a resizer of Y that waits (see above); when its read of Y ends the resize
 * must still get its turn: Y's writer, growing Y's map from the minimum three times over, makes
 * every create (a resize starved for its 10 s is ENT_BUSY). It passed before the lock handed
 * itself to a waiting resizer (hold_grant()) too: that hand-over closes a window this loop did
 * not hit here. */
typedef struct join_share {
    ent_store *x, *y;
    atomic_int stop, bad;
    atomic_long reads;
} join_share;

static void *join_reader(void *arg)
{
    join_share *sh = arg;
    ent_txn *t = NULL;
    if (ent_txn_begin(&t, sh->x, ENT_TXN_READ)) {
        atomic_store(&sh->bad, 1);
        return NULL;
    }
    while (!atomic_load(&sh->stop)) {
        uint64_t n = 0;
        if (ent_count(&n, sh->y, NULL, ent_store_type(sh->y, "mark"))) {
            fprintf(stderr, "join_reader: %s\n", ent_errmsg());
            atomic_store(&sh->bad, 1);
            break;
        }
        atomic_fetch_add(&sh->reads, 1);
    }
    ent_txn_abort(t);
    return NULL;
}

static void t_join_loop_beside_growth(void)
{
    two_stores ts;
    join_share sh;
    pthread_t th;
    uint64_t ny = 0;
    int made = 0;
    memset(&sh, 0, sizeof sh);
    two_stores_open(&ts, "lmdb");
    sh.x = ts.x;
    sh.y = ts.y;
    pthread_create(&th, NULL, join_reader, &sh);
    for (int i = 0; i < 3000; i++, made++)
        if (xy_mark(sh.y, NULL, i)) {
            fprintf(stderr, "t_join_loop_beside_growth: create %d: %s\n", i, ent_errmsg());
            break;
        }
    atomic_store(&sh.stop, 1);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(made, 3000);
    CU_ASSERT_EQUAL(atomic_load(&sh.bad), 0);
    CU_ASSERT(atomic_load(&sh.reads) > 0);
    ENT_OK_(ent_count(&ny, sh.y, NULL, ent_store_type(sh.y, "mark")));
    CU_ASSERT_EQUAL(ny, (uint64_t)made);
    two_stores_close(&ts);
}

static void t_two_handles_threads(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_schema *sc[2] = {NULL, NULL};
    ent_store *h[2] = {NULL, NULL};
    turn_arg *args = calloc(6, sizeof *args);
    pthread_t th[6];
    uint64_t total = 0, count = 0, first = 0, last = 0, problems = 1, prev_txn = 0;
    uint8_t *seen;
    CU_ASSERT_PTR_NOT_NULL_FATAL(args);
    ENT_TEST_MKDTEMP(dir, "concurrency");
    ENT_OK_(open_store(&h[0], &sc[0], "lmdb", dir));
    ENT_OK_(open_store(&h[1], &sc[1], "lmdb", dir));
    for (int i = 0; i < 6; i++) {
        args[i].s = h[i < 4 ? 0 : 1];
        args[i].who = i;
        pthread_create(&th[i], NULL, turn_writer, &args[i]);
    }
    for (int i = 0; i < 6; i++) pthread_join(th[i], NULL);
    seen = calloc(6 * TH_CALLS + 1, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
    for (int i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(args[i].bad, 0);
        total += args[i].kept;
        for (uint64_t j = 0; j < args[i].kept; j++) {
            uint64_t id = args[i].ids[j];
            CU_ASSERT_FATAL(id >= 1 && id <= 6 * TH_CALLS);
            CU_ASSERT_EQUAL(seen[id], 0); /* no id handed out twice */
            seen[id] = 1;
        }
    }
    ENT_OK_(ent_count(&count, h[1], NULL, ent_store_type(h[1], "mark")));
    CU_ASSERT_EQUAL(count, total);
    ENT_OK_(ent_log_bounds(&first, &last, h[0], NULL));
    CU_ASSERT_EQUAL(last, total); /* one event per kept create, none for an undone one */
    for (uint64_t seq = 1; seq <= last; seq++) {
        ent_event *ev = NULL;
        int64_t by = 0;
        ENT_OK_(ent_log_get(&ev, h[seq % 2], NULL, seq));
        if (!ev) break;
        CU_ASSERT(ev->txn >= prev_txn);
        prev_txn = ev->txn;
        CU_ASSERT(ev->key.id >= 1 && ev->key.id <= 6 * TH_CALLS && seen[ev->key.id]);
        ENT_OK_(ent_entity_get_int(&by, ev->data, "by"));
        CU_ASSERT(by >= 0);
        ent_event_free(ev);
    }
    ENT_OK_(ent_store_verify(&problems, h[0], NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    for (int i = 0; i < 2; i++) {
        ent_store_close(h[i]);
        ent_schema_free(sc[i]);
    }
    free(seen);
    free(args);
    ent_test_rm_rf(dir);
}

/* ---- processes ---------------------------------------------------------------------------- */

enum { INCREMENTS = 150, MARKS = 100 };

static int process_writer(const char *dir, int who)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_key ck = ent_key_str("c");
    if (open_store(&s, &sc, "lmdb", dir)) return 3;
    for (int i = 0; i < INCREMENTS; i++) {
        ent_txn *w = NULL;
        ent_entity *c = NULL;
        uint64_t n = 0;
        /* read-modify-write inside one write txn: no increment may be lost */
        if (ent_txn_begin(&w, s, ENT_TXN_WRITE)) return 4;
        if (ent_get(&c, s, w, ent_store_type(s, "counter"), &ck) || ent_entity_get_uint(&n, c, "n") ||
            ent_entity_set_uint(c, "n", n + 1) || ent_update(s, w, c, ENT_VERSION_ANY))
            return 5;
        ent_entity_free(c);
        if (i < MARKS) {
            ent_entity *m = NULL;
            if (ent_entity_new(&m, ent_store_type(s, "mark")) || ent_entity_set_int(m, "by", who) || ent_create(s, w, m))
                return 6;
            ent_entity_free(m);
        }
        if (ent_txn_commit(w)) return 7;
    }
    ent_store_close(s);
    ent_schema_free(sc);
    return 0;
}

static void t_two_processes(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_entity *c = NULL;
    ent_key ck = ent_key_str("c");
    pid_t pids[2];
    uint64_t n = 0, marks = 0;
    ENT_TEST_MKDTEMP(dir, "concurrency");
    ENT_OK_(open_store(&s, &sc, "lmdb", dir));
    ENT_OK_(ent_entity_new(&c, ent_store_type(s, "counter")));
    ENT_OK_(ent_entity_set_key(c, &ck));
    ENT_OK_(ent_entity_set_uint(c, "n", 0));
    ENT_OK_(ent_create(s, NULL, c));
    ent_entity_free(c);
    c = NULL;
    fflush(stdout);
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            /* the parent's handle must not be used here: the fork guard says so */
            ent_txn *t = NULL;
            if (ent_txn_begin(&t, s, ENT_TXN_READ) != ENT_BUSY) _exit(20);
            _exit(process_writer(dir, i));
        }
    }
    for (int i = 0; i < 2; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "\n  writer %d ended with %d\n", i, st);
    }
    ENT_OK_(ent_get(&c, s, NULL, ent_store_type(s, "counter"), &ck));
    ENT_OK_(ent_entity_get_uint(&n, c, "n"));
    CU_ASSERT_EQUAL(n, 2 * INCREMENTS);
    CU_ASSERT_EQUAL(ent_entity_version(c), 1 + 2 * INCREMENTS);
    ent_entity_free(c);
    ENT_OK_(ent_count(&marks, s, NULL, ent_store_type(s, "mark")));
    CU_ASSERT_EQUAL(marks, 2 * MARKS);
    {
        /* ids 1..2*MARKS, each once */
        ent_iter *it = NULL;
        ent_entity *e;
        uint64_t expect = 1;
        ENT_OK_(ent_scan(&it, s, NULL, ent_store_type(s, "mark"), NULL, NULL));
        while (ent_iter_next(&e, it) == ENT_OK) {
            CU_ASSERT_EQUAL(ent_entity_key(e).id, expect);
            expect++;
            ent_entity_free(e);
        }
        ent_iter_free(it);
    }
    /* a read-only opener sees the same */
    {
        ent_store *ro = NULL;
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        uint64_t m2 = 0;
        o.read_only = 1;
        ent_store_close(s);
        s = NULL;
        ENT_OK_(ent_store_open(&ro, dir, NULL, &o));
        ENT_OK_(ent_count(&m2, ro, NULL, ent_store_type(ro, "mark")));
        CU_ASSERT_EQUAL(m2, 2 * MARKS);
        {
            ent_entity *e = NULL;
            ENT_OK_(ent_entity_new(&e, ent_store_type(ro, "mark")));
            ENT_CHECK_RC(ent_create(ro, NULL, e), ENT_READONLY);
            ent_entity_free(e);
        }
        ent_store_close(ro);
    }
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

/* ---- delivery beside another process's map growth ---------------------------------------- */

/* A thread that holds a read transaction and waits for its delivery turn must not stall the
 * delivery ahead of it. The delivery of writer B, behind C's blocked callback, meets a map that
 * another process grew; A holds an iterator and waits for its turn behind B. B used to read its
 * events back from the log: the read needed this process to adopt the larger map, which waited
 * for A's iterator, which waited for B's turn, until the resize gave up after 10 s and B's and
 * A's events were held back to some later commit. Each writer's events must be delivered before
 * its call returns. */
typedef struct grow_share {
    ent_store *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in_cb, release, seen;
    uint64_t ids[8]; /* the keys of the events delivered, in order */
} grow_share;

typedef struct grow_writer {
    grow_share *g;
    int iterate;    /* hold an iterator (a read txn) across the write */
    int own_txn;    /* an explicit write txn (not grouped: a group's next leader waits for its
                     * previous one's delivery) */
    int rc, own_seen; /* the create's code; whether its event was delivered when it returned */
} grow_writer;

static void grow_cb(const ent_event *ev, void *payload)
{
    grow_share *g = payload;
    pthread_mutex_lock(&g->mu);
    if (g->seen < 8) g->ids[g->seen] = ev->key.id;
    g->seen++;
    if (g->seen == 1) {
        g->in_cb = 1;
        pthread_cond_broadcast(&g->cv);
        while (!g->release) pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

static void *grow_write(void *arg)
{
    grow_writer *w = arg;
    ent_store *s = w->g->s;
    ent_txn *r = NULL;
    ent_iter *it = NULL;
    ent_entity *e = NULL;
    w->rc = ENT_IO;
    if (w->iterate) {
        if (ent_txn_begin(&r, s, ENT_TXN_READ) || ent_scan(&it, s, r, ent_store_type(s, "mark"), NULL, NULL)) return NULL;
    }
    if (ent_entity_new(&e, ent_store_type(s, "mark")) == ENT_OK && ent_entity_set_int(e, "by", 1) == ENT_OK) {
        ent_txn *t = NULL;
        if (!w->own_txn) {
            w->rc = ent_create(s, NULL, e);
        } else if ((w->rc = ent_txn_begin(&t, s, ENT_TXN_WRITE)) == ENT_OK) {
            if ((w->rc = ent_create(s, t, e)) == ENT_OK) w->rc = ent_txn_commit(t);
            else ent_txn_abort(t);
        }
    }
    pthread_mutex_lock(&w->g->mu);
    for (int i = 0; w->rc == ENT_OK && i < w->g->seen && i < 8; i++)
        if (w->g->ids[i] == ent_entity_key(e).id) w->own_seen = 1;
    pthread_mutex_unlock(&w->g->mu);
    ent_entity_free(e);
    ent_iter_free(it);
    ent_txn_abort(r);
    return NULL;
}

static void t_delivery_beside_growth(void)
{
    char dir[ENT_TEST_PATH_MAX], go = 'g';
    ent_schema *sc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_subscriber *sub = NULL;
    grow_share g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    grow_writer w[3] = {{.g = &g, .own_txn = 1}, {.g = &g, .own_txn = 1}, {.g = &g, .iterate = 1}}; /* C, B, A */
    pthread_t th[3];
    int pfd[2], st = 0;
    uint64_t last = 0;
    pid_t pid;
    ENT_TEST_MKDTEMP(dir, "concurrency");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "bank"));
    o.backend = "lmdb";
    o.durability = ENT_NONE;
    o.map_size = (size_t)1 << 20;
    ENT_OK_(ent_store_open(&g.s, dir, sc, &o));
    ENT_OK_(ent_store_set_group_commit(g.s, ent_test_group_mode()));
    CU_ASSERT_FATAL(pipe(pfd) == 0);
    fflush(NULL);
    /* forked before any thread: the child opens the store itself once told, and grows its map */
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        ent_store *cs = NULL;
        ent_schema *csc = NULL;
        char b;
        int rc;
        close(pfd[1]);
        if (read(pfd[0], &b, 1) != 1) _exit(2);
        if ((rc = open_store(&cs, &csc, "lmdb", dir))) _exit(3);
        for (int i = 0; rc == ENT_OK && i < 40; i++) {
            ent_txn *t = NULL;
            if ((rc = ent_txn_begin(&t, cs, ENT_TXN_WRITE))) break;
            for (int j = 0; rc == ENT_OK && j < 500; j++) {
                ent_entity *e = NULL;
                if (!(rc = ent_entity_new(&e, ent_store_type(cs, "account"))) &&
                    !(rc = ent_entity_set_int(e, "balance", i * 1000 + j)))
                    rc = ent_create(cs, t, e);
                ent_entity_free(e);
            }
            rc = rc ? rc : ent_txn_commit(t);
            if (rc) ent_txn_abort(t);
        }
        if (rc) fprintf(stderr, "\n  grower: %s: %s\n", ent_strerror(rc), ent_errmsg());
        ent_store_close(cs);
        ent_schema_free(csc);
        _exit(rc ? 1 : 0);
    }
    close(pfd[0]);
    ENT_OK_(ent_subscribe(&sub, g.s, NULL, 0, grow_cb, &g));
    /* C commits and blocks in the callback of its first event */
    pthread_create(&th[0], NULL, grow_write, &w[0]);
    pthread_mutex_lock(&g.mu);
    while (!g.in_cb) pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    /* B, then A with its iterator, commit and wait for their turns */
    pthread_create(&th[1], NULL, grow_write, &w[1]);
    pthread_create(&th[2], NULL, grow_write, &w[2]);
    while (last < 3) {
        ENT_OK_(ent_log_bounds(NULL, &last, g.s, NULL));
        if (last < 3) sched_yield();
    }
    /* another process grows the map, then C's callback returns */
    CU_ASSERT_EQUAL(write(pfd[1], &go, 1), 1);
    close(pfd[1]);
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    pthread_mutex_lock(&g.mu);
    g.release = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(w[i].rc, ENT_OK);
        CU_ASSERT(w[i].own_seen); /* and, in commit order, the ones before it */
        if (!w[i].own_seen) fprintf(stderr, "\n  writer %d returned before its event was delivered\n", i);
    }
    CU_ASSERT_EQUAL(g.seen, 3);
    ent_unsubscribe(g.s, sub);
    ent_store_close(g.s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(t_threads_lmdb),
        ENT_TEST(t_threads_memory),
        ENT_TEST(t_two_writer_threads),
        ENT_TEST(t_two_handles_take_turns),
        ENT_TEST(t_subscribers_are_the_handles),
        ENT_TEST(t_two_handles_threads),
        ENT_TEST(t_two_processes),
        ENT_TEST(t_delivery_beside_growth),
        ENT_TEST(t_callback_reads_other_store_lmdb),
        ENT_TEST(t_callback_reads_other_store_memory),
        ENT_TEST(t_join_loop_beside_growth),
        {NULL, NULL},
    };
    return ent_test_run("concurrency", cases);
}
