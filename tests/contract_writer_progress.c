/* A writer makes progress beside scanning readers, on every backend ("lmdb" or "memory" in
 * argv[1]). Both backends keep snapshots (LMDB's pages, the memory backend's versions), so a
 * reader never needs to keep the writer out: neither long-open scans nor many readers calling in
 * a loop may stall it. No timing decides a result: the tests count what happened. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static const char *backend;
static char dir[ENT_TEST_PATH_MAX];
static ent_store *S;
static ent_schema *SC;

static const char schema_json[] =
    "{\"schema\":\"wp\",\"version\":1,\"types\":{"
    "\"tick\":{\"key\":\"auto\",\"fields\":{\"n\":{\"id\":1,\"type\":\"int\",\"indexed\":true},"
    "\"label\":{\"id\":2,\"type\":\"string\"}}},"
    "\"gone\":{\"key\":\"auto\",\"fields\":{\"n\":{\"id\":1,\"type\":\"int\"}}}}}";

enum { ENTITIES = 2000 };

static void open_store(void)
{
    ent_txn *w;
    ent_test_store_open(&S, &SC, dir, backend, schema_json, "contract_writer_progress");
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    for (int i = 0; i < ENTITIES; i++) {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, ent_store_type(S, "tick")));
        ENT_OK_(ent_entity_set_int(e, "n", i));
        ENT_OK_(ent_entity_set_string(e, "label", "a label of some length, like a product name"));
        ENT_OK_(ent_create(S, w, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(w));
}

static void close_store(void) { ent_test_store_close(&S, &SC, dir); }

/* One single-call update of tick `id`. */
static int update_tick(uint64_t id, int64_t n)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_id(id);
    int rc = ent_entity_new(&e, ent_store_type(S, "tick"));
    if (!rc) rc = ent_entity_set_key(e, &k);
    if (!rc) rc = ent_entity_set_int(e, "n", n);
    if (!rc) rc = ent_update(S, NULL, e, ENT_VERSION_ANY);
    ent_entity_free(e);
    return rc;
}

/* ---- scans held open ------------------------------------------------------------------------- */

typedef struct holder {
    pthread_barrier_t *mid;  /* every holder is mid-scan */
    pthread_barrier_t *done; /* the writer finished */
    int rc, before, after;   /* entities read before and after the writer's work */
    int64_t first_n_after;   /* n of the first entity read after: the snapshot's, not the writer's */
} holder;

static void *hold_scan(void *p)
{
    holder *h = p;
    ent_txn *t = NULL;
    ent_iter *it = NULL;
    ent_entity *e;
    if ((h->rc = ent_txn_begin(&t, S, ENT_TXN_READ)) || (h->rc = ent_scan(&it, S, t, ent_store_type(S, "tick"), NULL, NULL))) {
        pthread_barrier_wait(h->mid);
        pthread_barrier_wait(h->done);
        ent_txn_abort(t);
        return NULL;
    }
    while (h->before < ENTITIES / 2 && ent_iter_next(&e, it) == ENT_OK) {
        h->before++;
        ent_entity_free(e);
    }
    pthread_barrier_wait(h->mid);
    pthread_barrier_wait(h->done);
    h->first_n_after = -1;
    while (ent_iter_next(&e, it) == ENT_OK) {
        if (h->after++ == 0 && ent_entity_get_int(&h->first_n_after, e, "n")) h->first_n_after = -2;
        ent_entity_free(e);
    }
    ent_iter_free(it);
    ent_txn_abort(t);
    return NULL;
}

/* Three readers stop in the middle of a scan, holding their transactions and iterators open; the
 * writer then updates every entity, each in a transaction of its own, and the readers finish
 * their scans in their old snapshots. A backend whose readers kept the writer out would hang here
 * (the suite's alarm turns that into a failure). */
static void t_writer_passes_scans_held_open(void)
{
    enum { R = 3 };
    pthread_t th[R];
    holder h[R];
    pthread_barrier_t mid, done;
    open_store();
    pthread_barrier_init(&mid, NULL, R + 1);
    pthread_barrier_init(&done, NULL, R + 1);
    for (int i = 0; i < R; i++) {
        memset(&h[i], 0, sizeof h[i]);
        h[i].mid = &mid;
        h[i].done = &done;
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, hold_scan, &h[i]) == 0);
    }
    pthread_barrier_wait(&mid);
    alarm(120);
    for (uint64_t id = 1; id <= ENTITIES; id++) ENT_OK_(update_tick(id, 100000 + (int64_t)id));
    alarm(0);
    pthread_barrier_wait(&done);
    for (int i = 0; i < R; i++) {
        pthread_join(th[i], NULL);
        ENT_OK_(h[i].rc);
        CU_ASSERT_EQUAL(h[i].before, ENTITIES / 2);
        CU_ASSERT_EQUAL(h[i].after, ENTITIES / 2); /* the whole snapshot, no more, no less */
        CU_ASSERT_EQUAL(h[i].first_n_after, ENTITIES / 2); /* tick 1001 as it was: n = 1000 */
    }
    pthread_barrier_destroy(&mid);
    pthread_barrier_destroy(&done);
    close_store();
}

/* ---- many readers calling in a loop ---------------------------------------------------------- */

typedef struct scanner {
    atomic_int *stop;
    atomic_ullong *scans; /* scans finished by every scanner together */
    atomic_ullong *limit; /* the scanners stop by themselves at this many: a starved writer then
                           * finishes, and the count fails the test rather than a hang */
    int rc;
} scanner;

/* Scan types "gone" and "tick" over and over, each pair of scans in a read transaction of its
 * own: a few thousand entities read, on every backend. */
static void *scan_loop(void *p)
{
    scanner *sc = p;
    static const char *const types[] = {"gone", "tick"};
    while (!atomic_load(sc->stop) && !sc->rc) {
        ent_txn *t = NULL;
        if ((sc->rc = ent_txn_begin(&t, S, ENT_TXN_READ))) break;
        for (int k = 0; k < 2 && !sc->rc; k++) {
            ent_iter *it = NULL;
            ent_entity *e;
            if ((sc->rc = ent_scan(&it, S, t, ent_store_type(S, types[k]), NULL, NULL))) break;
            while (ent_iter_next(&e, it) == ENT_OK) ent_entity_free(e);
            ent_iter_free(it);
        }
        ent_txn_abort(t);
        if (atomic_fetch_add(sc->scans, 1) + 1 >= atomic_load(sc->limit)) break;
    }
    return NULL;
}

/* A read transaction held open by a thread of its own (a writer's own read beside its write is a
 * case of its own, see contract_host), from the first barrier wait to the second. */
typedef struct snapshot_holder {
    pthread_barrier_t *taken, *release;
    int rc;
} snapshot_holder;

static void *hold_snapshot(void *p)
{
    snapshot_holder *h = p;
    ent_txn *t = NULL;
    h->rc = ent_txn_begin(&t, S, ENT_TXN_READ);
    pthread_barrier_wait(h->taken);
    pthread_barrier_wait(h->release);
    ent_txn_abort(t);
    return NULL;
}

/* READERS threads scan in a loop while the writer does UPDATES single-call updates; counted: the
 * scans they finish while the writer works, per update. Each reads the 2000 ticks and first the
 * GONE entities deleted while an older snapshot (held open by another thread) still sees them:
 * the memory backend keeps their versions, so that scan steps over all of them in one long call,
 * the case where readers overlap most. A backend that never keeps the writer out for longer than the calls under way lets each
 * reader finish about one scan per update (the bound allows eight); one that lets readers in ahead
 * of a waiting writer let them finish hundreds (the memory backend's did, and the writer starved:
 * the readers stop at the bound, so the test then fails instead of waiting). */
static void t_writer_keeps_up_with_scanning_readers(void)
{
    enum { READERS = 8, UPDATES = 200, GONE = 20000 };
    pthread_t th[READERS];
    scanner sc[READERS];
    atomic_int stop;
    atomic_ullong scans, limit;
    unsigned long long before, during, bound = (unsigned long long)UPDATES * READERS * 8;
    ent_txn *w = NULL;
    pthread_t holder_th;
    pthread_barrier_t taken, release;
    snapshot_holder snap = {&taken, &release, 0};
    open_store();
    pthread_barrier_init(&taken, NULL, 2);
    pthread_barrier_init(&release, NULL, 2);
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    for (int i = 0; i < GONE; i++) {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, ent_store_type(S, "gone")));
        ENT_OK_(ent_create(S, w, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(w));
    /* an older snapshot keeps the versions of what goes next */
    CU_ASSERT_FATAL(pthread_create(&holder_th, NULL, hold_snapshot, &snap) == 0);
    pthread_barrier_wait(&taken);
    ENT_OK_(snap.rc);
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    for (uint64_t id = 1; id <= GONE; id++) {
        ent_key k = ent_key_id(id);
        ENT_OK_(ent_delete(S, w, ent_store_type(S, "gone"), &k, ENT_VERSION_ANY));
    }
    ENT_OK_(ent_txn_commit(w));
    atomic_init(&stop, 0);
    atomic_init(&scans, 0);
    atomic_init(&limit, ~0ULL);
    for (int i = 0; i < READERS; i++) {
        sc[i] = (scanner){&stop, &scans, &limit, 0};
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, scan_loop, &sc[i]) == 0);
    }
    while (atomic_load(&scans) < (unsigned long long)READERS * 4) sched_yield(); /* all are scanning */
    before = atomic_load(&scans);
    atomic_store(&limit, before + bound);
    for (int i = 0; i < UPDATES; i++) ENT_OK_(update_tick((uint64_t)(i % ENTITIES) + 1, i));
    during = atomic_load(&scans) - before;
    atomic_store(&stop, 1);
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        ENT_OK_(sc[i].rc);
    }
    pthread_barrier_wait(&release);
    pthread_join(holder_th, NULL);
    pthread_barrier_destroy(&taken);
    pthread_barrier_destroy(&release);
    fprintf(stderr, "\n  %s: readers finished %.2f scans per update (%d readers)\n", backend,
            (double)during / UPDATES, READERS);
    CU_ASSERT(during < bound);
    close_store();
}

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_writer_passes_scans_held_open),
        ENT_TEST(t_writer_keeps_up_with_scanning_readers),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_writer_progress_%s", backend);
    return ent_test_run(suite, cases);
}
