/* Group commit, run once per backend ("lmdb" or "memory" in argv[1]): calls without a transaction
 * from many threads, some refused, checked against a model of each thread's own keys (every
 * acknowledged call there with its events, nothing of a refused one, versions and unique values
 * consistent, each call's events contiguous with a txn number of its own); groups that do form
 * (calls queued behind a leader commit together); ent_txn_run() closures. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "backend_fault.h"
#include "error_int.h"
#include "store_int.h"
#include "test_util.h"

static const char *backend;
/* model_on(): host threads beside the model's (see hosts_main) */
static int hosts_on;
static atomic_int schema_retried; /* calls run again after an evolution (hosts_on) */
/* What open_on() sets: the suite's groups must form on every backend (ENT_GROUP_AUTO would group
 * only stores whose commits sync); t_group_commit_modes and the _auto model run change it. */
static int group_mode = ENT_GROUP_ALWAYS;

static const char schema_json[] =
    "{\"schema\":\"grp\",\"version\":1,\"types\":{"
    "\"user\":{\"key\":\"auto\",\"fields\":{"
    "  \"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true}}},"
    "\"acct\":{\"key\":\"string\",\"fields\":{"
    "  \"n\":{\"id\":1,\"type\":\"int\",\"required\":true,\"min\":0},"
    "  \"tag\":{\"id\":2,\"type\":\"string\",\"unique\":true},"
    "  \"owner\":{\"id\":3,\"type\":\"ref\",\"to\":\"user\"}}}}}";

typedef struct store_dir {
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s;
    ent_schema *sc;
} store_dir;

static void open_on(store_dir *d, ent_durability dur)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = backend;
    o.durability = dur;
    o.map_size = (size_t)1 << 20; /* small: the LMDB map grows inside groups */
    ENT_TEST_MKDTEMP(d->dir, "contract-group");
    ENT_OK_(ent_schema_load_json(&d->sc, schema_json, strlen(schema_json), "grp"));
    ENT_OK_(ent_store_open(&d->s, d->dir, d->sc, &o));
    ENT_OK_(ent_store_set_group_commit(d->s, group_mode));
}

/* A store on the fault backend over this run's own backend (lmdb for "fault"), every call grouped:
 * the tests that fail a group's calls, savepoints or commit one by one. */
static void open_fault_store(store_dir *d, ent_durability dur)
{
    char be_name[32];
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    snprintf(be_name, sizeof be_name, "fault:%s", strcmp(backend, "fault") ? backend : "lmdb");
    o.backend = be_name;
    o.durability = dur;
    ENT_TEST_MKDTEMP(d->dir, "contract-group");
    ENT_OK_(ent_schema_load_json(&d->sc, schema_json, strlen(schema_json), "grp"));
    ENT_OK_(ent_store_open(&d->s, d->dir, d->sc, &o));
    ENT_OK_(ent_store_set_group_commit(d->s, ENT_GROUP_ALWAYS));
}

static void close_on(store_dir *d)
{
    ent_store_close(d->s);
    ent_schema_free(d->sc);
    ent_test_rm_rf(d->dir);
}

/* ---- the model test ---------------------------------------------------------------------------- */

enum { THREADS = 8, OPS = 120, KEYS = 6, TAGS = 10 };

/* One acknowledged call: the events it must have left, in order. */
typedef struct call {
    int nev;
    char key[2][24];
    int op[2];
    uint64_t version[2];
} call;

typedef struct model_key {
    int present;
    uint64_t version;
    int64_t n;
    char tag[16]; /* "" none */
} model_key;

typedef struct wthread {
    ent_store *s;
    int id;
    unsigned seed;
    model_key keys[KEYS];
    call calls[OPS];
    int ncalls;
    int refused, wrong; /* refused calls; calls whose code the model did not expect */
    char why[256];
} wthread;

static const char *kname(char *buf, int tid, int k)
{
    snprintf(buf, 24, "k%d-%d", tid, k);
    return buf;
}

static ent_entity *mk_acct(ent_store *s, const char *key, int64_t n, const char *tag)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str(key);
    if (ent_entity_new(&e, ent_store_type(s, "acct"))) return NULL;
    ent_entity_set_key(e, &k);
    ent_entity_set_int(e, "n", n);
    if (tag && *tag) ent_entity_set_string(e, "tag", tag);
    return e;
}

static void wrong(wthread *w, int op, int rc, int want)
{
    if (!w->wrong)
        snprintf(w->why, sizeof w->why, "thread %d op %d: got %s, expected %s (%s)", w->id, op, ent_strerror(rc),
                 ent_strerror(want), ent_errmsg());
    w->wrong++;
}

typedef struct pair_arg {
    ent_store *s;
    const char *k1, *k2;
    int fail_after; /* return ENT_CONFLICT after both writes (2: without a message) */
} pair_arg;

/* Two creates that stand or fall together. */
static int create_pair(ent_txn *txn, void *p)
{
    pair_arg *a = p;
    ent_entity *x = mk_acct(a->s, a->k1, 1, NULL), *y = mk_acct(a->s, a->k2, 1, NULL);
    int rc = ent_create(a->s, txn, x);
    if (!rc) rc = ent_create(a->s, txn, y);
    ent_entity_free(x);
    ent_entity_free(y);
    if (!rc && a->fail_after == 2) rc = ENT_CONFLICT; /* a bare code, no message of its own */
    else if (!rc && a->fail_after) rc = ent__err(ENT_CONFLICT, "changed my mind");
    return rc;
}

static void record(wthread *w, int nev, const char *k1, int op1, uint64_t v1, const char *k2, int op2, uint64_t v2)
{
    call *c = &w->calls[w->ncalls++];
    c->nev = nev;
    if (nev > 0) {
        snprintf(c->key[0], sizeof c->key[0], "%s", k1);
        c->op[0] = op1;
        c->version[0] = v1;
    }
    if (nev > 1) {
        snprintf(c->key[1], sizeof c->key[1], "%s", k2);
        c->op[1] = op2;
        c->version[1] = v2;
    }
}

static void *model_thread(void *p)
{
    wthread *w = p;
    ent_store *s = w->s;
    const ent_type *at = ent_store_type(s, "acct");
    unsigned seed = w->seed;
    for (int i = 0; i < OPS; i++) {
        int k = rand_r(&seed) % KEYS, what = rand_r(&seed) % 8, rc, want, schema_retries = 0;
        model_key *m = &w->keys[k];
        char key[24], key2[24], tag[16] = "";
        ent_entity *e = NULL;
        unsigned seed_op;
        kname(key, w->id, k);
        if (rand_r(&seed) % 3 == 0) snprintf(tag, sizeof tag, "tag%d", rand_r(&seed) % TAGS); /* shared by threads */
        seed_op = seed;
    again:
        /* Beside a host that evolves the schema through another handle (hosts_on), a call made with
         * the types of the version before is refused (ENT_SCHEMA, nothing written): resolved again,
         * as store.h tells a host, it runs again, the same call. */
        seed = seed_op;
        if (hosts_on) at = ent_store_type(s, "acct");
        switch (what) {
        case 0:
        case 1: /* create: the model knows whether the key exists; a shared tag may be taken */
            e = mk_acct(s, key, i, tag);
            rc = ent_create(s, NULL, e);
            want = m->present ? ENT_CONFLICT : ENT_OK;
            if (rc == ENT_CONFLICT && !m->present && tag[0] && strstr(ent_errmsg(), tag)) want = ENT_CONFLICT;
            if (rc != want) wrong(w, i, rc, want);
            if (rc == ENT_OK) {
                CU_ASSERT_EQUAL(ent_entity_version(e), 1);
                *m = (model_key){1, 1, i, ""};
                snprintf(m->tag, sizeof m->tag, "%s", tag);
                record(w, 1, key, ENT_OP_CREATE, 1, NULL, 0, 0);
            }
            break;
        case 2:
        case 3: { /* update with the right version, or a stale one */
            int stale = rand_r(&seed) % 4 == 0;
            uint64_t expect = m->version - (stale ? 1 : 0);
            e = mk_acct(s, key, 1000 + i, tag);
            rc = ent_update(s, NULL, e, m->present ? expect : 1);
            want = !m->present ? ENT_NOTFOUND : stale ? ENT_CONFLICT : ENT_OK;
            if (rc == ENT_CONFLICT && want == ENT_OK && tag[0] && strstr(ent_errmsg(), tag)) want = ENT_CONFLICT;
            if (rc != want) wrong(w, i, rc, want);
            if (rc == ENT_OK) {
                m->version++;
                m->n = 1000 + i;
                if (tag[0]) snprintf(m->tag, sizeof m->tag, "%s", tag);
                CU_ASSERT_EQUAL(ent_entity_version(e), m->version);
                record(w, 1, key, ENT_OP_UPDATE, m->version, NULL, 0, 0);
            }
            break;
        }
        case 4: /* invalid: n below its minimum; nothing written */
            e = mk_acct(s, key, -1, NULL);
            rc = m->present ? ent_replace(s, NULL, e, ENT_VERSION_ANY) : ent_create(s, NULL, e);
            if (rc != ENT_INVALID) wrong(w, i, rc, ENT_INVALID);
            break;
        case 5: { /* a ref to a user that does not exist */
            e = mk_acct(s, key, 5, NULL);
            ent_entity_set_uint(e, "owner", 999999);
            rc = ent_upsert(s, NULL, e, ENT_VERSION_ANY);
            if (rc != ENT_INVALID) wrong(w, i, rc, ENT_INVALID);
            break;
        }
        case 6: { /* delete */
            ent_key kk = ent_key_str(key);
            rc = ent_delete(s, NULL, at, &kk, m->present ? m->version : ENT_VERSION_ANY);
            want = m->present ? ENT_OK : ENT_NOTFOUND;
            if (rc != want) wrong(w, i, rc, want);
            if (rc == ENT_OK) {
                record(w, 1, key, ENT_OP_DELETE, m->version + 1, NULL, 0, 0);
                memset(m, 0, sizeof *m);
            }
            break;
        }
        default: { /* a closure: two creates, all or nothing */
            int k2 = (k + 1) % KEYS;
            model_key *m2 = &w->keys[k2];
            pair_arg a = {s, key, kname(key2, w->id, k2), rand_r(&seed) % 3 == 0};
            rc = ent_txn_run(s, create_pair, &a);
            want = m->present || m2->present || a.fail_after ? ENT_CONFLICT : ENT_OK;
            if (rc != want) wrong(w, i, rc, want);
            if (rc == ENT_OK) {
                *m = (model_key){1, 1, 1, ""};
                *m2 = (model_key){1, 1, 1, ""};
                record(w, 2, key, ENT_OP_CREATE, 1, key2, ENT_OP_CREATE, 1);
            }
            break;
        }
        }
        if (rc == ENT_SCHEMA && hosts_on && schema_retries++ < 3) {
            w->wrong--; /* counted by wrong() above */
            atomic_fetch_add(&schema_retried, 1);
            ent_entity_free(e);
            e = NULL;
            goto again;
        }
        if (rc != ENT_OK) w->refused++;
        ent_entity_free(e);
    }
    return NULL;
}

typedef struct seen {
    uint64_t got, last, out_of_order;
} seen;

static void on_event(const ent_event *ev, void *p)
{
    seen *q = p; /* deliveries never overlap (TSan reports a race here if they did) */
    if (ev->seq != q->last + 1) q->out_of_order++;
    q->last = ev->seq;
    q->got++;
}

/* ---- host threads beside the model's (hosts_on) ------------------------------------------------ */

/* What a host does beside the grouped calls: its own write transactions (a refused call inside
 * one, the rest committed or aborted), a read transaction with an iterator held across many
 * groups, ent_store_sync(), a subscriber that reads the store from its callback (and whose write
 * is refused), and on LMDB an evolution of the schema through a second handle of the store. Its
 * writes are to keys "h...", which the model's log check passes over. */
typedef struct hosts {
    ent_store *s;
    const char *dir;
    ent_durability dur;
    atomic_int stop;
    atomic_int bad;
    char why[256];
    _Atomic uint64_t events; /* events the host's threads committed */
    int read_writes, read_busy; /* writes beside the reader's own read: done, ENT_BUSY */
    int commits, aborts, scans, syncs, evolved;
    pthread_mutex_t mu;
    uint64_t cb_reads, cb_busy;
} hosts;

static void host_bad(hosts *h, const char *what, int rc)
{
    pthread_mutex_lock(&h->mu);
    if (!atomic_load(&h->bad))
        snprintf(h->why, sizeof h->why, "%s: %s (%s)", what, ent_strerror(rc), ent_errmsg());
    atomic_fetch_add(&h->bad, 1);
    pthread_mutex_unlock(&h->mu);
}

static void *host_txn_main(void *p)
{
    hosts *h = p;
    for (int i = 0; (!atomic_load(&h->stop) || i < 3) && i < 400; i++) { /* 3 at least, stop or not */
        ent_txn *t = NULL;
        char key[24];
        ent_entity *e, *again;
        int rc;
        snprintf(key, sizeof key, "h-txn-%d", i);
        if ((rc = ent_txn_begin(&t, h->s, ENT_TXN_WRITE))) {
            host_bad(h, "ent_txn_begin", rc);
            break;
        }
        e = mk_acct(h->s, key, 1, NULL);
        again = mk_acct(h->s, key, 2, NULL);
        rc = ent_create(h->s, t, e);
        if (rc == ENT_SCHEMA) { /* the types of before an evolution: again with the new ones */
            ent_txn_abort(t);
            ent_entity_free(e);
            ent_entity_free(again);
            continue;
        }
        if (rc) host_bad(h, "create in a host transaction", rc);
        /* refused inside the host's transaction, which goes on */
        else if ((rc = ent_create(h->s, t, again)) != ENT_CONFLICT) host_bad(h, "a second create, not refused", rc);
        else if ((rc = ent_update(h->s, t, again, 1))) host_bad(h, "an update after a refusal", rc);
        if (i % 3 == 2) {
            ent_txn_abort(t);
            h->aborts++;
        } else if ((rc = ent_txn_commit(t))) {
            host_bad(h, "commit of a host transaction", rc);
        } else {
            h->commits++;
            atomic_fetch_add(&h->events, 2);
        }
        ent_entity_free(e);
        ent_entity_free(again);
    }
    return NULL;
}

/* A read transaction and an iterator held while many groups commit: its snapshot stays whole. */
static void *host_reader_main(void *p)
{
    hosts *h = p;
    while (!atomic_load(&h->stop) || h->scans < 2) {
        ent_txn *t = NULL;
        ent_iter *it = NULL;
        ent_entity *e = NULL;
        uint64_t count = 0, seen_n = 0, last = 0, last2 = 0;
        int rc;
        if ((rc = ent_txn_begin(&t, h->s, ENT_TXN_READ))) {
            host_bad(h, "a read transaction", rc);
            break;
        }
        if ((rc = ent_count(&count, h->s, t, ent_txn_type(t, "acct"))) ||
            (rc = ent_log_bounds(NULL, &last, h->s, t)) ||
            (rc = ent_scan(&it, h->s, t, ent_txn_type(t, "acct"), NULL, NULL))) {
            host_bad(h, "reads in a read transaction", rc);
            ent_txn_abort(t);
            break;
        }
        while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
            seen_n++;
            ent_entity_free(e);
            sched_yield(); /* let groups commit meanwhile */
            if (seen_n == 3) {
                /* a write beside the thread's own read: alone (not grouped), and ENT_BUSY at worst
                 * (store.h: LMDB's map cannot grow meanwhile), never a wait for a group's leader
                 * whose growth of the map waits for this very read */
                char key[24];
                ent_entity *x;
                int wrc;
                snprintf(key, sizeof key, "h-read-%d", h->scans);
                x = mk_acct(h->s, key, 1, NULL);
                wrc = ent_create(h->s, NULL, x);
                ent_entity_free(x);
                if (wrc == ENT_OK) atomic_fetch_add(&h->events, 1), h->read_writes++;
                else if (wrc == ENT_BUSY) h->read_busy++;
                else if (wrc != ENT_SCHEMA) host_bad(h, "a write beside the thread's own read", wrc);
            }
        }
        if (rc != ENT_NOTFOUND) host_bad(h, "ent_iter_next", rc);
        if (seen_n != count) host_bad(h, "a scan of a snapshot gave another count than ent_count", ENT_OK);
        if ((rc = ent_log_bounds(NULL, &last2, h->s, t)) || last2 != last)
            host_bad(h, "the snapshot's log moved", rc);
        ent_iter_free(it);
        ent_txn_abort(t);
        h->scans++;
    }
    return NULL;
}

static void *host_sync_main(void *p)
{
    hosts *h = p;
    while (!atomic_load(&h->stop)) {
        int rc = ent_store_sync(h->s);
        if (rc) {
            host_bad(h, "ent_store_sync", rc);
            break;
        }
        h->syncs++;
        sched_yield();
    }
    return NULL;
}

/* The group commit mode switched back and forth on the open handle while calls run: a call
 * queued in a group gets its result, a call after a switch runs alone or queues. */
static void *host_modes_main(void *p)
{
    hosts *h = p;
    static const int modes[] = {ENT_GROUP_NEVER, ENT_GROUP_ALWAYS, ENT_GROUP_AUTO, ENT_GROUP_ALWAYS};
    for (int i = 0; !atomic_load(&h->stop); i++) {
        int rc = ent_store_set_group_commit(h->s, modes[i % 4]);
        if (rc) {
            host_bad(h, "ent_store_set_group_commit", rc);
            break;
        }
        sched_yield();
    }
    ent_store_set_group_commit(h->s, group_mode);
    return NULL;
}

static const char schema_v2_json[] =
    "{\"schema\":\"grp\",\"version\":2,\"types\":{"
    "\"user\":{\"key\":\"auto\",\"fields\":{"
    "  \"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true}}},"
    "\"acct\":{\"key\":\"string\",\"fields\":{"
    "  \"n\":{\"id\":1,\"type\":\"int\",\"required\":true,\"min\":0,\"indexed\":true},"
    "  \"tag\":{\"id\":2,\"type\":\"string\",\"unique\":true},"
    "  \"owner\":{\"id\":3,\"type\":\"ref\",\"to\":\"user\"},"
    "  \"note\":{\"id\":4,\"type\":\"string\"}}}}}";

/* Another handle of the store opened with version 2 while the groups go on (its open evolves the
 * store: an index built over what the groups wrote). */
static void *host_evolve_main(void *p)
{
    hosts *h = p;
    ent_schema *sc = NULL;
    ent_store *s2 = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    struct timespec nap = {0, 20000000};
    int rc;
    nanosleep(&nap, NULL); /* some groups first (no outcome depends on it) */
    o.backend = backend;
    o.durability = h->dur;
    o.map_size = (size_t)1 << 20;
    if ((rc = ent_schema_load_json(&sc, schema_v2_json, strlen(schema_v2_json), "grp2"))) {
        host_bad(h, "schema v2", rc);
        return NULL;
    }
    if ((rc = ent_store_open(&s2, h->dir, sc, &o))) host_bad(h, "an open that evolves the store", rc);
    else {
        h->evolved = 1;
        ent_store_close(s2);
    }
    ent_schema_free(sc);
    return NULL;
}

/* Reads the entity of each event from the callback (a reader there is allowed); a write from it
 * is refused, not a wait for the writer its own delivery holds. */
static void host_cb(const ent_event *ev, void *p)
{
    hosts *h = p;
    ent_entity *e = NULL;
    int rc;
    rc = ent_get(&e, h->s, NULL, ent_store_type(h->s, ent_type_name(ev->type)), &ev->key);
    if (rc == ENT_OK && ev->op != ENT_OP_DELETE && ent_entity_version(e) < ev->version)
        host_bad(h, "a callback read an entity older than its event", rc);
    else if (rc != ENT_OK && rc != ENT_NOTFOUND && rc != ENT_SCHEMA)
        host_bad(h, "ent_get from a callback", rc);
    ent_entity_free(e);
    if (ev->seq % 16 == 0) {
        ent_entity *x = mk_acct(h->s, "h-from-cb", 1, NULL);
        ent_txn *t = NULL;
        rc = ent_create(h->s, NULL, x);
        if (rc != ENT_BUSY) host_bad(h, "a write from a callback, not refused", rc);
        ent_entity_free(x);
        if ((rc = ent_txn_begin(&t, h->s, ENT_TXN_WRITE)) != ENT_BUSY) {
            host_bad(h, "a write transaction from a callback, not refused", rc);
            if (!rc) ent_txn_abort(t);
        }
        /* a sync from the callback: done, or ENT_BUSY when it needs a writer (store.h) */
        if ((rc = ent_store_sync(h->s)) && rc != ENT_BUSY) host_bad(h, "ent_store_sync from a callback", rc);
        h->cb_busy++;
    }
    h->cb_reads++; /* deliveries never overlap */
}

static void model_on(ent_durability dur)
{
    store_dir d;
    pthread_t th[THREADS];
    wthread *w = calloc(THREADS, sizeof *w);
    ent_subscriber *sub = NULL;
    seen q = {0, 0, 0};
    uint64_t first = 0, last = 0, total_events = 0, problems = 0, groups = 0;
    ent_event **log;
    int *pos = calloc(THREADS, sizeof *pos);
    hosts *h = calloc(1, sizeof *h);
    ent_subscriber *hsub = NULL;
    pthread_t hth[5];
    int nh = 0;
    open_on(&d, dur);
    ENT_OK_(ent_subscribe(&sub, d.s, NULL, 0, on_event, &q));
    if (hosts_on) {
        h->s = d.s;
        h->dir = d.dir;
        h->dur = dur;
        pthread_mutex_init(&h->mu, NULL);
        ENT_OK_(ent_subscribe(&hsub, d.s, NULL, 0, host_cb, h));
        CU_ASSERT_EQUAL_FATAL(pthread_create(&hth[nh++], NULL, host_txn_main, h), 0);
        CU_ASSERT_EQUAL_FATAL(pthread_create(&hth[nh++], NULL, host_reader_main, h), 0);
        CU_ASSERT_EQUAL_FATAL(pthread_create(&hth[nh++], NULL, host_sync_main, h), 0);
        CU_ASSERT_EQUAL_FATAL(pthread_create(&hth[nh++], NULL, host_modes_main, h), 0);
        if (!strcmp(backend, "lmdb")) CU_ASSERT_EQUAL_FATAL(pthread_create(&hth[nh++], NULL, host_evolve_main, h), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        w[i].s = d.s;
        w[i].id = i;
        w[i].seed = (unsigned)time(NULL) * 31u + (unsigned)i;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, model_thread, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    atomic_store(&h->stop, 1);
    for (int i = 0; i < nh; i++) pthread_join(hth[i], NULL);
    if (hosts_on) {
        /* a transaction first: the handle notices the evolution the other handle made (the
         * types ent_store_type() gives until then are of version 1, refused with ENT_SCHEMA) */
        uint64_t ignore = 0;
        ENT_OK_(ent_log_bounds(NULL, &ignore, d.s, NULL));
        if (h->bad) fprintf(stderr, "\n  host: %s\n", h->why);
        CU_ASSERT_EQUAL(h->bad, 0);
        CU_ASSERT(h->commits > 0 && h->scans > 0);
        if (!strcmp(backend, "lmdb")) CU_ASSERT(h->evolved);
        printf(" [host: %d commits, %d aborts, %d scans, %d syncs, %llu events read in callbacks, %d calls again "
               "after the evolution, %d/%d writes beside a read done/busy]", h->commits, h->aborts, h->scans, h->syncs,
               (unsigned long long)h->cb_reads,
               atomic_exchange(&schema_retried, 0), h->read_writes, h->read_busy);
        ent_unsubscribe(d.s, hsub);
    }
    ent__group_stats(&groups, NULL, d.s);
    printf(" [%s: %llu groups]", dur == ENT_DURABLE ? "durable" : dur == ENT_LAZY ? "lazy" : "none", (unsigned long long)groups);
    /* AUTO on a store whose commits do not sync: every call committed on its own */
    if (group_mode == ENT_GROUP_AUTO && dur == ENT_NONE) CU_ASSERT_EQUAL(groups, 0);

    /* Every call's code was the model's, and the store holds the model. */
    for (int i = 0; i < THREADS; i++) {
        if (w[i].wrong) fprintf(stderr, "\n  %s\n", w[i].why);
        CU_ASSERT_EQUAL(w[i].wrong, 0);
        CU_ASSERT(w[i].refused > 0);
        for (int k = 0; k < KEYS; k++) {
            char key[24];
            ent_key kk = ent_key_str(kname(key, i, k));
            ent_entity *e = NULL;
            int rc = ent_get(&e, d.s, NULL, ent_store_type(d.s, "acct"), &kk);
            if (rc != (w[i].keys[k].present ? ENT_OK : ENT_NOTFOUND))
                fprintf(stderr, "\n  %s: %s (%s), the model says %s\n", key, ent_strerror(rc), ent_errmsg(),
                        w[i].keys[k].present ? "present" : "absent");
            CU_ASSERT_EQUAL(rc, w[i].keys[k].present ? ENT_OK : ENT_NOTFOUND);
            if (rc == ENT_OK) {
                int64_t n = -1;
                const char *tag = NULL;
                size_t tl = 0;
                CU_ASSERT_EQUAL(ent_entity_version(e), w[i].keys[k].version);
                ENT_OK_(ent_entity_get_int(&n, e, "n"));
                CU_ASSERT_EQUAL(n, w[i].keys[k].n);
                if (ent_entity_get_string(&tag, &tl, e, "tag") == ENT_OK) {
                    CU_ASSERT(strlen(w[i].keys[k].tag) == tl && memcmp(tag, w[i].keys[k].tag, tl) == 0);
                } else {
                    CU_ASSERT_EQUAL(w[i].keys[k].tag[0], '\0');
                }
            }
            ent_entity_free(e);
        }
    }
    /* Unique values: each stored tag belongs to one entity, and the index finds it. */
    for (int t = 0; t < TAGS; t++) {
        char tag[16];
        int owners = 0;
        for (int i = 0; i < THREADS; i++)
            for (int k = 0; k < KEYS; k++) owners += w[i].keys[k].present && !strcmp(w[i].keys[k].tag, (snprintf(tag, sizeof tag, "tag%d", t), tag));
        CU_ASSERT(owners <= 1);
    }
    /* The log: exactly the acknowledged calls' events; each thread's in its call order; each call's
     * events contiguous with one txn number, and no two calls sharing one. */
    ENT_OK_(ent_log_bounds(&first, &last, d.s, NULL));
    for (int i = 0; i < THREADS; i++)
        for (int c = 0; c < w[i].ncalls; c++) total_events += (uint64_t)w[i].calls[c].nev;
    CU_ASSERT_EQUAL(last, total_events + h->events);
    log = calloc(last + 2, sizeof *log);
    for (uint64_t seq = 1; seq <= last; seq++) ENT_OK_(ent_log_get(&log[seq], d.s, NULL, seq));
    {
        uint64_t seq = 1, prev_txn = 0;
        int matched = 1;
        while (seq <= last && matched) {
            const ent_event *ev = log[seq];
            int tid = -1, k = -1;
            call *c;
            matched = 0;
            if (hosts_on && ev->key.kind == ENT_KEY_STRING && ev->key.str[0] == 'h') { /* a host's */
                seq++;
                matched = 1;
                continue;
            }
            if (ev->key.kind == ENT_KEY_STRING && sscanf(ev->key.str, "k%d-%d", &tid, &k) == 2 && tid >= 0 &&
                tid < THREADS && pos[tid] < w[tid].ncalls) {
                c = &w[tid].calls[pos[tid]];
                matched = 1;
                for (int j = 0; j < c->nev; j++) {
                    const ent_event *e2 = seq + (uint64_t)j <= last ? log[seq + (uint64_t)j] : NULL;
                    if (!e2 || e2->txn != ev->txn || e2->op != c->op[j] || e2->version != c->version[j] ||
                        e2->key.len != strlen(c->key[j]) || memcmp(e2->key.str, c->key[j], e2->key.len) != 0)
                        matched = 0;
                }
                CU_ASSERT(ev->txn > prev_txn); /* a number of its own, increasing with commit order */
                prev_txn = ev->txn;
                seq += (uint64_t)c->nev;
                pos[tid]++;
            }
            if (!matched) fprintf(stderr, "\n  seq %llu does not match its thread's next acknowledged call\n",
                                  (unsigned long long)seq);
            CU_ASSERT(matched);
        }
        for (int i = 0; i < THREADS; i++) CU_ASSERT_EQUAL(pos[i], w[i].ncalls);
    }
    for (uint64_t seq = 1; seq <= last; seq++) ent_event_free(log[seq]);
    free(log);
    /* In-process subscribers saw every event once, in order. */
    CU_ASSERT_EQUAL(q.got, last);
    CU_ASSERT_EQUAL(q.out_of_order, 0);
    ent_unsubscribe(d.s, sub);
    ENT_OK_(ent_store_verify(&problems, d.s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    free(pos);
    free(w);
    if (hosts_on) pthread_mutex_destroy(&h->mu);
    free(h);
    close_on(&d);
}

static void t_mixed_calls_against_a_model(void) { model_on(ENT_NONE); }
/* The same beside a host's own transactions, a reader, syncs, a subscriber that reads, an evolution. */
static void t_mixed_calls_beside_a_host(void)
{
    hosts_on = 1;
    model_on(ENT_NONE);
    model_on(ENT_DURABLE);
    model_on(ENT_LAZY);
    hosts_on = 0;
}
/* The same calls not grouped: ENT_GROUP_AUTO on a `none` store (and on memory) commits each alone. */
static void t_mixed_calls_against_a_model_auto(void)
{
    group_mode = ENT_GROUP_AUTO;
    model_on(ENT_NONE);
    group_mode = ENT_GROUP_ALWAYS;
}
static void t_mixed_calls_against_a_model_durable(void) { model_on(ENT_DURABLE); }

/* ---- groups that must form --------------------------------------------------------------------- */

typedef struct one_call {
    ent_store *s;
    int kind;
    int rc;
} one_call;

static void *one_call_main(void *p)
{
    one_call *c = p;
    ent_entity *e = NULL;
    char key[24];
    snprintf(key, sizeof key, "g%d", c->kind);
    switch (c->kind) {
    case 0:
    case 1:
    case 2: /* plain creates */
        e = mk_acct(c->s, key, c->kind, NULL);
        c->rc = ent_create(c->s, NULL, e);
        break;
    case 3:
    case 4: /* the same unique tag: one of the two wins, whichever the group runs first */
        e = mk_acct(c->s, key, c->kind, "same");
        c->rc = ent_create(c->s, NULL, e);
        break;
    case 5: { /* a stale version */
        ent_key k = ent_key_str("first");
        e = mk_acct(c->s, "first", 9, NULL);
        c->rc = ent_update(c->s, NULL, e, 7);
        (void)k;
        break;
    }
    default: { /* a closure that undoes itself */
        pair_arg a = {c->s, "pair-a", "pair-b", 1};
        c->rc = ent_txn_run(c->s, create_pair, &a);
        break;
    }
    }
    ent_entity_free(e);
    return NULL;
}

enum { QUEUED = 7 };

typedef struct hold_cb {
    ent_store *s;
    pthread_t th[QUEUED];
    one_call c[QUEUED];
    int first_done, started, timed_out;
    uint64_t groups0; /* groups led before the held one is counted */
    uint64_t changes0; /* the change counter cross-process waiters sleep on, before it too */
} hold_cb;

/* A closure that creates "first", starts the other calls' threads and holds its group's
 * leadership (it runs inside the group, before its commit) until they all wait behind it. */
static int hold_first(ent_txn *txn, void *p)
{
    hold_cb *h = p;
    struct timespec nap = {0, 1000000};
    ent_entity *e = mk_acct(h->s, "first", 1, NULL);
    int rc = ent_create(h->s, txn, e);
    ent_entity_free(e);
    if (rc) return rc;
    h->first_done = 1;
    ent__group_stats(&h->groups0, NULL, h->s);
    h->changes0 = ent__bk_change_counter(h->s);
    for (int i = 0; i < QUEUED; i++) {
        h->c[i] = (one_call){h->s, i, -100};
        if (pthread_create(&h->th[i], NULL, one_call_main, &h->c[i]) != 0) return ENT_OK;
        h->started++;
    }
    for (int i = 0; i < 20000; i++) { /* 20 s at most: a guard against hanging, not a timing */
        size_t waiting = 0;
        ent__group_stats(NULL, &waiting, h->s);
        if (waiting >= QUEUED) return ENT_OK;
        nanosleep(&nap, NULL);
    }
    h->timed_out = 1;
    return ENT_OK;
}

static void t_calls_queued_behind_a_leader_commit_together(void)
{
    enum { N = QUEUED };
    store_dir d;
    ent_subscriber *sub = NULL;
    hold_cb *h = calloc(1, sizeof *h);
    one_call *c = h->c;
    seen q = {0, 0, 0};
    uint64_t groups0 = 0, groups1 = 0, last = 0;
    int ok = 0, won = 0;
    open_on(&d, ENT_NONE);
    h->s = d.s;
    ENT_OK_(ent_subscribe(&sub, d.s, NULL, 0, on_event, &q));
    /* This call starts N calls in other threads and holds its leadership until all of them wait
     * behind it. */
    ENT_OK_(ent_txn_run(d.s, hold_first, h));
    groups0 = h->groups0;
    for (int i = 0; i < h->started; i++) pthread_join(h->th[i], NULL);
    ent__group_stats(&groups1, NULL, d.s);
    CU_ASSERT_EQUAL_FATAL(h->started, N);
    CU_ASSERT_FALSE(h->timed_out);
    CU_ASSERT_EQUAL(groups1 - groups0, 2); /* the held one, then the N calls: one group, one commit */
    /* and waiters in other processes (ent_log_wait, --follow) are woken once per group */
    CU_ASSERT_EQUAL(ent__bk_change_counter(d.s) - h->changes0, 2);
    for (int i = 0; i < N; i++) {
        if (c[i].rc == ENT_OK) ok++;
        if (i == 3 || i == 4) won += c[i].rc == ENT_OK;
    }
    for (int i = 0; i < 3; i++) CU_ASSERT_EQUAL(c[i].rc, ENT_OK);
    CU_ASSERT_EQUAL(won, 1);
    CU_ASSERT_EQUAL(c[3].rc == ENT_OK ? c[4].rc : c[3].rc, ENT_CONFLICT);
    CU_ASSERT_EQUAL(c[5].rc, ENT_CONFLICT);
    CU_ASSERT_EQUAL(c[6].rc, ENT_CONFLICT);
    CU_ASSERT_EQUAL(ok, 4);
    /* 1 + 4 events, each call with a txn number of its own; nothing of the refused ones */
    ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
    CU_ASSERT_EQUAL(last, 5);
    {
        uint64_t txns[6] = {0};
        for (uint64_t seq = 1; seq <= last && seq <= 5; seq++) {
            ent_event *ev = NULL;
            ENT_OK_(ent_log_get(&ev, d.s, NULL, seq));
            if (!ev) continue;
            txns[seq] = ev->txn;
            CU_ASSERT(strncmp(ev->key.str, "pair", 4) != 0);
            ent_event_free(ev);
        }
        for (int i = 2; i <= 5; i++) CU_ASSERT_EQUAL(txns[i], txns[i - 1] + 1);
    }
    CU_ASSERT_EQUAL(q.got, 5); /* in-process subscribers got both commits' events, in order */
    CU_ASSERT_EQUAL(q.out_of_order, 0);
    {
        ent_key pa = ent_key_str("pair-a");
        CU_ASSERT_EQUAL(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &pa), ENT_NOTFOUND);
    }
    ent_unsubscribe(d.s, sub);
    free(h);
    close_on(&d);
}

/* ---- the detail of a failure travels with its message ------------------------------------------ */

typedef struct detail_call {
    ent_store *s;
    const char *key, *tag;
    int rc, detail;
    char msg[256];
} detail_call;

static void *detail_call_main(void *p)
{
    detail_call *c = p;
    ent_entity *e = mk_acct(c->s, c->key, 1, c->tag);
    c->rc = ent_create(c->s, NULL, e);
    c->detail = ent_errdetail(); /* read on the caller's thread, as a host does */
    snprintf(c->msg, sizeof c->msg, "%s", ent_errmsg());
    ent_entity_free(e);
    return NULL;
}

typedef struct detail_hold {
    ent_store *s;
    pthread_t th[2];
    detail_call c[2];
    int started, timed_out;
} detail_hold;

/* Wait (bounded: a guard against hanging, not a timing) until n calls queue behind this leader. */
static int wait_queued(ent_store *s, size_t n)
{
    struct timespec nap = {0, 1000000};
    for (int i = 0; i < 20000; i++) {
        size_t waiting = 0;
        ent__group_stats(NULL, &waiting, s);
        if (waiting >= n) return 1;
        nanosleep(&nap, NULL);
    }
    return 0;
}

/* Holds its group's leadership while c[0] (a plain create) and then c[1] (a tag too long for an
 * index key) queue: the next group is c[0]'s, which runs c[1]'s create on c[0]'s thread. */
static int hold_two(ent_txn *txn, void *p)
{
    detail_hold *h = p;
    (void)txn;
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&h->th[i], NULL, detail_call_main, &h->c[i]) != 0) return ENT_OK;
        h->started++;
        if (!wait_queued(h->s, (size_t)i + 1)) {
            h->timed_out = 1;
            return ENT_OK;
        }
    }
    return ENT_OK;
}

/* The group commit runs a caller's work on the leader's thread and copies the failure's message to
 * the caller's thread: ent_errdetail() must come with it (ENT_DETAIL_TOO_LARGE, not NONE), or a
 * server there cannot tell a value too long for a key (413) from a full disk (507). */
static void t_failure_detail_reaches_the_caller(void)
{
    store_dir d;
    detail_hold *h = calloc(1, sizeof *h);
    uint64_t groups0 = 0, groups1 = 0;
    char *tag;
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    open_on(&d, ENT_NONE);
    tag = malloc(d.s->bk.lim.max_key + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tag);
    memset(tag, 't', d.s->bk.lim.max_key); /* with the index key's tag byte: one over */
    tag[d.s->bk.lim.max_key] = '\0';
    h->s = d.s;
    h->c[0] = (detail_call){d.s, "lead", NULL, -100, -1, ""};
    h->c[1] = (detail_call){d.s, "long", tag, -100, -1, ""};
    ent__group_stats(&groups0, NULL, d.s);
    ENT_OK_(ent_txn_run(d.s, hold_two, h));
    for (int i = 0; i < h->started; i++) pthread_join(h->th[i], NULL);
    ent__group_stats(&groups1, NULL, d.s);
    CU_ASSERT_EQUAL_FATAL(h->started, 2);
    CU_ASSERT_FALSE(h->timed_out);
    CU_ASSERT_EQUAL(groups1 - groups0, 2); /* the held one, then both calls in one group */
    CU_ASSERT_EQUAL(h->c[0].rc, ENT_OK);
    CU_ASSERT_EQUAL(h->c[1].rc, ENT_FULL);
    CU_ASSERT_EQUAL(h->c[1].detail, ENT_DETAIL_TOO_LARGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(h->c[1].msg, "exceeds the backend's key limit"));
    free(tag);
    free(h);
    close_on(&d);
}

/* ---- a failed commit ---------------------------------------------------------------------------- */

typedef struct plain_create {
    ent_store *s;
    char key[16];
    int rc;
} plain_create;

static void *plain_create_main(void *p)
{
    plain_create *c = p;
    ent_entity *e = mk_acct(c->s, c->key, 1, NULL);
    c->rc = ent_create(c->s, NULL, e);
    ent_entity_free(e);
    return NULL;
}

/* The N calls queue while an explicit write txn holds the writer (their leader waits for it in
 * its begin); the fault backend then fails the group's one commit, or its sync: every call of the
 * group fails with it, and nothing of any is there. Also the call refused because an earlier one
 * of the group took its key: that refusal came from a state the failed commit never made (it kept
 * ENT_CONFLICT, though the key is free). */
static void t_failed_commit_fails_the_group(void)
{
    enum { N = 5 };
    static const char *what[] = {"txn_commit", "sync"};
    store_dir d;
    open_fault_store(&d, ENT_DURABLE);
    for (int round = 0; round < 2; round++) {
        pthread_t th[N];
        plain_create c[N];
        ent_txn *w = NULL;
        size_t waiting = 0;
        int has_sync = (ent__bk_caps(&d.s->bk) & ENT_BK_CAP_SYNC_APART) != 0;
        struct timespec nap = {0, 1000000};
        if (round == 1 && !has_sync) break; /* no separate sync to fail */
        ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
        for (int i = 0; i < N; i++) {
            c[i].s = d.s;
            snprintf(c[i].key, sizeof c[i].key, "f%d-%d", round, i == N - 1 ? N - 2 : i); /* the last two: one key */
            c[i].rc = -100;
            CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, plain_create_main, &c[i]), 0);
        }
        for (int i = 0; i < 20000 && waiting < N; i++) { /* a guard against hanging, not a timing */
            ent__group_stats(NULL, &waiting, d.s);
            if (waiting < N) nanosleep(&nap, NULL);
        }
        CU_ASSERT_EQUAL(waiting, N);
        ent__fault_reset();
        ent__fault_arm_named(what[round], 1, ENT_IO);
        ent_txn_abort(w); /* not a commit: the group's is the first */
        for (int i = 0; i < N; i++) {
            ent_key k = ent_key_str(c[i].key);
            pthread_join(th[i], NULL);
            CU_ASSERT_EQUAL(c[i].rc, ENT_IO);
            if (round == 0) { /* a failed commit leaves nothing; a failed sync leaves it undecided */
                CU_ASSERT_EQUAL(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &k), ENT_NOTFOUND);
            }
        }
        CU_ASSERT_EQUAL(ent__fault_fired(), 1);
        ent__fault_reset();
    }
    {
        uint64_t problems = 0;
        ENT_OK_(ent_store_verify(&problems, d.s, NULL, NULL));
        CU_ASSERT_EQUAL(problems, 0);
    }
    close_on(&d);
}

/* A call without a transaction whose commit fails leaves its entity as it was (store.h: "on
 * failure e is left as it was"), alone or in a group: an update's changed fields stay marked and
 * its version stays, so that retrying the call writes. It was merged and cleared before the
 * commit, and the retry then found nothing to change and returned ENT_OK without writing. */
typedef struct upd_call {
    ent_store *s;
    ent_entity *e;
    uint64_t expect;
    int rc;
} upd_call;

static void *upd_main(void *p)
{
    upd_call *c = p;
    c->rc = ent_update(c->s, NULL, c->e, c->expect);
    return NULL;
}

static ent_entity *changed_acct(ent_store *s, const char *key, int64_t n)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str(key);
    if (ent_get(&e, s, NULL, ent_store_type(s, "acct"), &k) != ENT_OK) return NULL;
    ent_entity_set_int(e, "n", n);
    return e;
}

static void check_stored_n(ent_store *s, const char *key, int64_t n, uint64_t version)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str(key);
    int64_t got = -1;
    ENT_OK_(ent_get(&e, s, NULL, ent_store_type(s, "acct"), &k));
    if (!e) return;
    ent_entity_get_int(&got, e, "n");
    CU_ASSERT_EQUAL(got, n);
    CU_ASSERT_EQUAL(ent_entity_version(e), version);
    ent_entity_free(e);
}

static void t_failed_commit_leaves_the_entity(void)
{
    enum { N = 3 };
    store_dir d;
    const ent_field *fn;
    ent_entity *e, *u = NULL;
    open_fault_store(&d, ENT_NONE);
    fn = ent_type_field(ent_store_type(d.s, "acct"), "n");
    for (int i = 0; i < N; i++) {
        char key[8];
        snprintf(key, sizeof key, "u%d", i);
        e = mk_acct(d.s, key, 1, NULL);
        ENT_OK_(ent_create(d.s, NULL, e));
        ent_entity_free(e);
    }
    /* alone: update, replace, an auto-key create */
    e = changed_acct(d.s, "u0", 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    ent__fault_reset();
    ent__fault_arm_named("txn_commit", 1, ENT_IO);
    ENT_CHECK_RC(ent_update(d.s, NULL, e, 1), ENT_IO);
    ent__fault_reset();
    CU_ASSERT_EQUAL(ent_entity_version(e), 1);
    CU_ASSERT_EQUAL(ent_entity_changed(e, fn), 1);
    ENT_OK_(ent_update(d.s, NULL, e, 1)); /* the retry writes */
    CU_ASSERT_EQUAL(ent_entity_version(e), 2);
    CU_ASSERT_EQUAL(ent_entity_changed_count(e), 0);
    check_stored_n(d.s, "u0", 5, 2);
    ent_entity_set_int(e, "n", 6);
    ent__fault_arm_named("txn_commit", 1, ENT_IO);
    ENT_CHECK_RC(ent_replace(d.s, NULL, e, 2), ENT_IO);
    ent__fault_reset();
    CU_ASSERT_EQUAL(ent_entity_version(e), 2);
    ENT_OK_(ent_replace(d.s, NULL, e, ent_entity_version(e)));
    check_stored_n(d.s, "u0", 6, 3);
    ent_entity_free(e);
    ENT_OK_(ent_entity_new(&u, ent_store_type(d.s, "user")));
    ent_entity_set_string(u, "email", "a@b");
    ent__fault_arm_named("txn_commit", 1, ENT_IO);
    ENT_CHECK_RC(ent_create(d.s, NULL, u), ENT_IO);
    ent__fault_reset();
    CU_ASSERT_EQUAL(ent_entity_key(u).kind, ENT_KEY_NONE);
    CU_ASSERT_EQUAL(ent_entity_version(u), 0);
    ENT_OK_(ent_create(d.s, NULL, u));
    CU_ASSERT_EQUAL(ent_entity_version(u), 1);
    ent_entity_free(u);
    /* in a group: N updates queue behind an explicit writer; their one commit fails */
    {
        pthread_t th[N];
        upd_call c[N];
        ent_txn *w = NULL;
        size_t waiting = 0;
        struct timespec nap = {0, 1000000};
        ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
        for (int i = 0; i < N; i++) {
            char key[8];
            snprintf(key, sizeof key, "u%d", i);
            c[i] = (upd_call){d.s, changed_acct(d.s, key, 100 + i), i == 0 ? 3 : 1, -100};
            CU_ASSERT_PTR_NOT_NULL_FATAL(c[i].e);
            CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, upd_main, &c[i]), 0);
        }
        for (int i = 0; i < 20000 && waiting < N; i++) { /* a guard against hanging, not a timing */
            ent__group_stats(NULL, &waiting, d.s);
            if (waiting < N) nanosleep(&nap, NULL);
        }
        CU_ASSERT_EQUAL(waiting, N);
        ent__fault_reset();
        ent__fault_arm_named("txn_commit", 1, ENT_IO);
        ent_txn_abort(w);
        for (int i = 0; i < N; i++) {
            char key[8];
            snprintf(key, sizeof key, "u%d", i);
            pthread_join(th[i], NULL);
            CU_ASSERT_EQUAL(c[i].rc, ENT_IO);
            CU_ASSERT_EQUAL(ent_entity_version(c[i].e), c[i].expect);
            CU_ASSERT_EQUAL(ent_entity_changed(c[i].e, fn), 1);
        }
        ent__fault_reset();
        for (int i = 0; i < N; i++) {
            char key[8];
            snprintf(key, sizeof key, "u%d", i);
            ENT_OK_(ent_update(d.s, NULL, c[i].e, c[i].expect));
            check_stored_n(d.s, key, 100 + i, c[i].expect + 1);
            ent_entity_free(c[i].e);
        }
    }
    close_on(&d);
}

/* One caller's savepoint that can be neither kept nor undone breaks the group's transaction (LMDB:
 * a map growth that fails inside it, e.g. ENT_BUSY while that caller's fn holds a read txn, or
 * another process committed meanwhile). That caller gets its own error; the others run again in a
 * new transaction, as each would have alone. Every caller got ENT_IO ("the group's transaction
 * failed (busy)"), a code that says the disk failed and is not retried. */
typedef struct ent_call {
    ent_store *s;
    ent_entity *e;
    int rc;
    char msg[256];
} ent_call;

static void *create_main(void *p)
{
    ent_call *c = p;
    c->rc = ent_create(c->s, NULL, c->e);
    snprintf(c->msg, sizeof c->msg, "%s", ent_errmsg());
    return NULL;
}

static void t_broken_savepoint_fails_its_caller_only(void)
{
    enum { N = 3 };
    store_dir d;
    pthread_t th[N];
    ent_call c[N];
    ent_txn *w = NULL;
    uint64_t last = 0, problems = 0;
    ent__group_sp_always = 1; /* the library's own calls too: the savepoint is what is tested */
    open_fault_store(&d, ENT_NONE);
    ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
    for (int i = 0; i < N; i++) { /* queued in this order: the group runs them so */
        char key[8];
        size_t want = (size_t)i + 1;
        snprintf(key, sizeof key, "b%d", i);
        c[i] = (ent_call){d.s, mk_acct(d.s, key, 1, NULL), -100, ""};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, create_main, &c[i]), 0);
        CU_ASSERT_FATAL(wait_queued(d.s, want)); /* queued behind the held writer */
    }
    ent__fault_reset();
    ent__fault_arm_named("sp_end", 2, ENT_BUSY); /* the second caller's */
    ent_txn_abort(w);
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    ent__fault_reset();
    CU_ASSERT_EQUAL(c[0].rc, ENT_OK);
    CU_ASSERT_EQUAL(c[1].rc, ENT_BUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(c[1].msg, "fault injected"));
    CU_ASSERT_EQUAL(c[2].rc, ENT_OK);
    for (int i = 0; i < N; i++) {
        ent_key k = ent_entity_key(c[i].e);
        CU_ASSERT_EQUAL(ent_entity_version(c[i].e), c[i].rc == ENT_OK ? 1u : 0u);
        CU_ASSERT_EQUAL(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &k), c[i].rc == ENT_OK ? ENT_OK : ENT_NOTFOUND);
    }
    ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
    CU_ASSERT_EQUAL(last, 2);
    if (last == 2) {
        ent_event *e1 = NULL, *e2 = NULL;
        ENT_OK_(ent_log_get(&e1, d.s, NULL, 1));
        ENT_OK_(ent_log_get(&e2, d.s, NULL, 2));
        if (e1 && e2) {
            CU_ASSERT_STRING_EQUAL(e1->key.str, "b0");
            CU_ASSERT_STRING_EQUAL(e2->key.str, "b2");
            CU_ASSERT_EQUAL(e2->txn, e1->txn + 1);
        }
        ent_event_free(e1);
        ent_event_free(e2);
    }
    ENT_OK_(ent_store_verify(&problems, d.s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    for (int i = 0; i < N; i++) ent_entity_free(c[i].e);
    close_on(&d);
    ent__group_sp_always = 0;
}

/* A call the library makes runs in a group without a savepoint of its own (txn_group.c): a
 * create whose put fails once it wrote (ENT_IO from the fault backend, at each put of the group
 * in turn) breaks the group's transaction as a savepoint that cannot be undone does. It fails
 * alone, and the others run again in a new transaction; a put of the commit itself fails the
 * whole group. Either way the store holds exactly the calls that returned ENT_OK, each with its
 * own event in admission order and a txn number of its own, and verify is clean. */
static void t_failed_write_fails_its_caller_only(void)
{
    enum { N = 3 };
    store_dir d;
    uint64_t last = 0, problems = 0;
    int fired = 1, rounds = 0, alone = 0, whole = 0;
    open_fault_store(&d, ENT_NONE);
    for (int k = 1; fired && k < 200; k++, rounds++) {
        pthread_t th[N];
        ent_call c[N];
        ent_txn *w = NULL;
        uint64_t before = last, prev_txn = 0;
        int ok = 0, io = 0;
        ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
        for (int i = 0; i < N; i++) { /* queued in this order: the group runs them so */
            char key[24], tag[24];
            size_t want = (size_t)i + 1;
            snprintf(key, sizeof key, "f%d-%d", k, i);
            snprintf(tag, sizeof tag, "t%d-%d", k, i); /* a unique index: one more put each */
            c[i] = (ent_call){d.s, mk_acct(d.s, key, 1, tag), -100, ""};
            CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, create_main, &c[i]), 0);
            CU_ASSERT_FATAL(wait_queued(d.s, want)); /* queued behind the held writer */
        }
        ent__fault_reset();
        ent__fault_arm_named("put", (uint64_t)k, ENT_IO);
        ent_txn_abort(w);
        for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
        fired = ent__fault_fired() > 0;
        ent__fault_reset();
        for (int i = 0; i < N; i++) {
            ent_key key = ent_entity_key(c[i].e);
            if (c[i].rc == ENT_OK) ok++;
            else if (c[i].rc == ENT_IO) io++;
            else CU_FAIL("a call failed with another code than the fault's");
            CU_ASSERT_EQUAL(ent_entity_version(c[i].e), c[i].rc == ENT_OK ? 1u : 0u);
            CU_ASSERT_EQUAL(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &key), c[i].rc == ENT_OK ? ENT_OK : ENT_NOTFOUND);
        }
        CU_ASSERT_EQUAL(ok + io, N);
        if (!fired) CU_ASSERT_EQUAL(ok, N);
        if (fired) CU_ASSERT(io == 1 || io == N); /* its caller alone, or the whole group at its commit */
        alone += fired && io == 1;
        whole += fired && io == N;
        ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
        CU_ASSERT_EQUAL(last - before, (uint64_t)ok);
        for (int i = 0, seq = 0; i < N && last - before == (uint64_t)ok; i++) {
            ent_event *ev = NULL;
            if (c[i].rc != ENT_OK) continue;
            ENT_OK_(ent_log_get(&ev, d.s, NULL, before + (uint64_t)++seq));
            if (!ev) continue;
            CU_ASSERT_EQUAL(ev->key.len, strlen(ent_entity_key(c[i].e).str));
            CU_ASSERT(ev->key.len == strlen(ent_entity_key(c[i].e).str) &&
                      memcmp(ev->key.str, ent_entity_key(c[i].e).str, ev->key.len) == 0);
            CU_ASSERT(ev->txn > prev_txn);
            prev_txn = ev->txn;
            ent_event_free(ev);
        }
        ENT_OK_(ent_store_verify(&problems, d.s, NULL, NULL));
        CU_ASSERT_EQUAL(problems, 0);
        for (int i = 0; i < N; i++) ent_entity_free(c[i].e);
    }
    CU_ASSERT(!fired); /* the sweep got past the group's last put */
    CU_ASSERT(alone > 0 && whole > 0); /* both cases met */
    (void)rounds;
    close_on(&d);
}

/* The same with a failure whose code is one of a refusal (ENT_INVALID, ENT_NOTFOUND,
 * ENT_CONFLICT) but that came after its call wrote (the fault backend fails the first caller's
 * index put, after its record's): its caller must not be taken for one refused clean, whose
 * transaction runs on (txn_group.c refused_clean: half). Had it been, its record was committed
 * without its index entry or its event, though the call failed. */
static void t_refusal_code_after_a_write_fails_its_caller_only(void)
{
    enum { N = 3 };
    static const int codes[] = {ENT_INVALID, ENT_NOTFOUND, ENT_CONFLICT};
    store_dir d;
    uint64_t last = 0, before, problems = 0;
    open_fault_store(&d, ENT_NONE);
    for (size_t r = 0; r < sizeof codes / sizeof *codes; r++) {
        pthread_t th[N];
        ent_call c[N];
        ent_txn *w = NULL;
        ENT_OK_(ent_log_bounds(NULL, &before, d.s, NULL));
        ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
        for (int i = 0; i < N; i++) { /* queued in this order: the group runs them so */
            char key[24], tag[24];
            size_t want = (size_t)i + 1;
            snprintf(key, sizeof key, "r%zu-%d", r, i);
            snprintf(tag, sizeof tag, "t%zu-%d", r, i);
            c[i] = (ent_call){d.s, mk_acct(d.s, key, 1, tag), -100, ""};
            CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, create_main, &c[i]), 0);
            CU_ASSERT_FATAL(wait_queued(d.s, want)); /* queued behind the held writer */
        }
        ent__fault_reset();
        ent__fault_arm_named("put", 2, codes[r]); /* the first caller's index put, after its record's */
        ent_txn_abort(w);
        for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(ent__fault_fired(), 1);
        ent__fault_reset();
        CU_ASSERT_EQUAL(c[0].rc, codes[r]);
        CU_ASSERT_EQUAL(c[1].rc, ENT_OK);
        CU_ASSERT_EQUAL(c[2].rc, ENT_OK);
        for (int i = 0; i < N; i++) {
            ent_key k = ent_entity_key(c[i].e);
            CU_ASSERT_EQUAL(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &k), c[i].rc == ENT_OK ? ENT_OK : ENT_NOTFOUND);
            ent_entity_free(c[i].e);
        }
        ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
        CU_ASSERT_EQUAL(last - before, 2);
        ENT_OK_(ent_store_verify(&problems, d.s, NULL, NULL));
        CU_ASSERT_EQUAL(problems, 0);
    }
    close_on(&d);
}

/* What one caller's ent_txn_run() function asks of the group's transaction is its own: a
 * caller after it in the group still has its refs checked (ent_txn_skip_ref_checks) and may
 * restore an entity to an older version (ent_txn_restore_forward). */
typedef struct flag_call {
    ent_store *s;
    int which; /* 0: the flags and a create; 1: a create with a missing ref; 2: a restore back */
    int rc;
} flag_call;

static int set_flags_fn(ent_txn *txn, void *p)
{
    ent_store *s = p;
    ent_entity *e = mk_acct(s, "fl0", 1, NULL);
    int rc;
    if ((rc = ent_txn_skip_ref_checks(txn)) || (rc = ent_txn_restore_forward(txn))) {
        ent_entity_free(e);
        return rc;
    }
    rc = ent_create(s, txn, e);
    ent_entity_free(e);
    return rc;
}

static void *flag_main(void *p)
{
    flag_call *c = p;
    ent_entity *e = NULL;
    if (c->which == 0) {
        c->rc = ent_txn_run(c->s, set_flags_fn, c->s);
        return NULL;
    }
    e = mk_acct(c->s, c->which == 1 ? "fl1" : "fr", 1, NULL);
    if (c->which == 1) {
        ent_entity_set_uint(e, "owner", 999999);
        c->rc = ent_create(c->s, NULL, e);
    } else {
        ent_entity_set_version(e, 1);
        c->rc = ent_restore(c->s, NULL, e);
    }
    ent_entity_free(e);
    return NULL;
}

static void t_txn_run_flags_stay_with_their_caller(void)
{
    enum { N = 3 };
    store_dir d;
    pthread_t th[N];
    flag_call c[N];
    ent_txn *w = NULL;
    ent_entity *e = NULL;
    ent_key k = ent_key_str("fr");
    open_on(&d, ENT_NONE);
    ENT_OK_(ent_store_set_group_commit(d.s, ENT_GROUP_ALWAYS));
    e = mk_acct(d.s, "fr", 2, NULL); /* at version 2: the third caller restores version 1 */
    ent_entity_set_version(e, 2);
    ENT_OK_(ent_restore(d.s, NULL, e));
    ent_entity_free(e);
    e = NULL;
    ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
    for (int i = 0; i < N; i++) { /* queued in this order: the group runs them so */
        size_t want = (size_t)i + 1;
        c[i] = (flag_call){d.s, i, -100};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, flag_main, &c[i]), 0);
        CU_ASSERT_FATAL(wait_queued(d.s, want)); /* queued behind the held writer */
    }
    ent_txn_abort(w);
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(c[0].rc, ENT_OK);
    CU_ASSERT_EQUAL(c[1].rc, ENT_INVALID);
    CU_ASSERT_EQUAL(c[2].rc, ENT_OK);
    k = ent_key_str("fl1");
    CU_ASSERT_EQUAL(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &k), ENT_NOTFOUND);
    k = ent_key_str("fr");
    ENT_OK_(ent_get(&e, d.s, NULL, ent_store_type(d.s, "acct"), &k));
    CU_ASSERT_EQUAL(e ? ent_entity_version(e) : 0, 1);
    ent_entity_free(e);
    close_on(&d);
}

/* The same broken savepoint, behind an ent_txn_run() caller whose fn updates an entity: that fn
 * runs again (store.h), and a call given a txn hands its entity the result at once (changes
 * cleared, version set). An fn that passed the caller's own entity to ent_update() (as README's
 * example did) found nothing changed on its second run and wrote nothing, and ent_txn_run()
 * returned ENT_OK: the update was lost. An fn that works on a copy made inside it writes again. */
typedef struct rr_call {
    ent_store *s;
    ent_entity *e; /* the caller's, with "n" set and marked changed */
    int copy;      /* 1: fn updates a copy made inside it (store.h); 0: e itself */
    int runs, rc;
} rr_call;

static int rr_fn(ent_txn *txn, void *p)
{
    rr_call *c = p;
    ent_entity *e = c->e;
    int rc;
    c->runs++;
    if (c->copy && (rc = ent_entity_dup(&e, c->e))) return rc;
    rc = ent_update(c->s, txn, e, ENT_VERSION_ANY);
    if (c->copy) ent_entity_free(e);
    return rc;
}

static void *rr_main(void *p)
{
    rr_call *c = p;
    c->rc = ent_txn_run(c->s, rr_fn, c);
    return NULL;
}

static void t_txn_run_again_updates_from_a_copy(void)
{
    for (int copy = 0; copy < 2; copy++) {
        store_dir d;
        pthread_t th[3];
        rr_call u;
        ent_call c[2];
        ent_txn *w = NULL;
        ent_entity *e;
        ent__group_sp_always = 1; /* the creates after it too: "sp_end" 2 is theirs */
        open_fault_store(&d, ENT_NONE);
        e = mk_acct(d.s, "u", 1, NULL);
        ENT_OK_(ent_create(d.s, NULL, e));
        ENT_OK_(ent_entity_set_int(e, "n", 2));
        u = (rr_call){d.s, e, copy, 0, -100};
        c[0] = (ent_call){d.s, mk_acct(d.s, "b1", 1, NULL), -100, ""};
        c[1] = (ent_call){d.s, mk_acct(d.s, "b2", 1, NULL), -100, ""};
        ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
        for (int i = 0; i < 3; i++) { /* queued in this order: the group runs them so */
            size_t want = (size_t)i + 1;
            int made = i == 0 ? pthread_create(&th[i], NULL, rr_main, &u)
                              : pthread_create(&th[i], NULL, create_main, &c[i - 1]);
            CU_ASSERT_EQUAL_FATAL(made, 0);
            CU_ASSERT_FATAL(wait_queued(d.s, want)); /* queued behind the held writer */
        }
        ent__fault_reset();
        ent__fault_arm_named("sp_end", 2, ENT_BUSY); /* the second caller's: the group runs again */
        ent_txn_abort(w);
        for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
        ent__fault_reset();
        CU_ASSERT_EQUAL(u.rc, ENT_OK);
        CU_ASSERT_EQUAL(u.runs, 2);
        CU_ASSERT_EQUAL(c[0].rc, ENT_BUSY);
        CU_ASSERT_EQUAL(c[1].rc, ENT_OK);
        check_stored_n(d.s, "u", copy ? 2 : 1, copy ? 2 : 1); /* e itself: the update was lost */
        ent_entity_free(e);
        for (int i = 0; i < 2; i++) ent_entity_free(c[i].e);
        close_on(&d);
        ent__group_sp_always = 0;
    }
}

/* ---- closures ---------------------------------------------------------------------------------- */

typedef struct misuse {
    ent_store *s;
    int how, rc_inside;
} misuse;

static int misbehave(ent_txn *txn, void *p)
{
    misuse *m = p;
    ent_entity *e = mk_acct(m->s, "inside", 1, NULL);
    int rc = ent_create(m->s, txn, e);
    ent_entity_free(e);
    if (rc) return rc;
    switch (m->how) {
    case 0: m->rc_inside = ent_txn_commit(txn); return ENT_OK;
    case 1: ent_txn_abort(txn); return ENT_OK;
    case 2:
        e = mk_acct(m->s, "outside", 1, NULL);
        m->rc_inside = ent_create(m->s, NULL, e);
        /* said so, with what to do instead (not only that the thread holds the writer) */
        if (m->rc_inside == ENT_BUSY && !strstr(ent_errmsg(), "use the transaction it gives")) m->rc_inside = ENT_INVALID;
        ent_entity_free(e);
        return ENT_OK;
    case 4: { /* wait for an event after the last commit: only this thread's writer could make it */
        uint64_t last = 0, got = 0;
        ent_log_bounds(NULL, &last, m->s, NULL);
        m->rc_inside = ent_log_wait(&got, m->s, last, 300);
        if (m->rc_inside == ENT_BUSY && !strstr(ent_errmsg(), "write transaction")) m->rc_inside = ENT_INVALID;
        if (last > 0 && ent_log_wait(&got, m->s, last - 1, 300) != ENT_OK) m->rc_inside = ENT_INVALID; /* there: no wait */
        return ENT_OK;
    }
    default: return 1; /* not an ENT_* code */
    }
}

/* ent_store_close() from fn (or beside the thread's own write txn) is refused, the store stays
 * open: the group committed fn's work on the freed store afterwards (use after free, ASan). */
static int close_inside(ent_txn *txn, void *p)
{
    misuse *m = p;
    ent_entity *e = mk_acct(m->s, "closer", 1, NULL);
    int rc = ent_create(m->s, txn, e);
    ent_entity_free(e);
    ent_store_close(m->s);
    m->rc_inside = strstr(ent_errmsg(), "holds the store's write transaction") ? ENT_BUSY : ENT_OK;
    return rc;
}

static void t_close_inside_txn_run_is_refused(void)
{
    store_dir d;
    misuse m;
    ent_txn *w = NULL;
    ent_key k = ent_key_str("closer");
    open_on(&d, ENT_NONE);
    m = (misuse){d.s, 0, 0};
    ENT_OK_(ent_txn_run(d.s, close_inside, &m));
    CU_ASSERT_EQUAL(m.rc_inside, ENT_BUSY);
    ENT_OK_(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &k));
    ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
    ent_store_close(d.s);
    ENT_ASSERT_MSG("holds the store's write transaction");
    ENT_OK_(ent_delete(d.s, w, ent_store_type(d.s, "acct"), &k, ENT_VERSION_ANY));
    ENT_OK_(ent_txn_commit(w));
    CU_ASSERT_EQUAL(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &k), ENT_NOTFOUND);
    close_on(&d);
}

static void t_txn_run(void)
{
    store_dir d;
    pair_arg a;
    misuse m;
    ent_key pa = ent_key_str("pa"), pb = ent_key_str("pb"), in = ent_key_str("inside");
    const ent_type *at;
    ent_event *e1 = NULL, *e2 = NULL;
    open_on(&d, ENT_NONE);
    at = ent_store_type(d.s, "acct");
    a = (pair_arg){d.s, "pa", "pb", 0};
    ENT_OK_(ent_txn_run(d.s, create_pair, &a));
    ENT_OK_(ent_exists(d.s, NULL, at, &pa));
    ENT_OK_(ent_exists(d.s, NULL, at, &pb));
    ENT_OK_(ent_log_get(&e1, d.s, NULL, 1));
    ENT_OK_(ent_log_get(&e2, d.s, NULL, 2));
    if (e1 && e2) {
        CU_ASSERT_EQUAL(e1->txn, e2->txn);
    }
    ent_event_free(e1);
    ent_event_free(e2);
    /* the second create fails: the first is undone with it, and the code and message are fn's */
    a = (pair_arg){d.s, "pc", "pa", 0};
    ENT_CHECK_RC(ent_txn_run(d.s, create_pair, &a), ENT_CONFLICT);
    ENT_ASSERT_MSG("exists already");
    a = (pair_arg){d.s, "pc", "pd", 1};
    ENT_CHECK_RC(ent_txn_run(d.s, create_pair, &a), ENT_CONFLICT);
    ENT_ASSERT_MSG("changed my mind");
    {
        ent_key pc = ent_key_str("pc"), pd = ent_key_str("pd");
        CU_ASSERT_EQUAL(ent_exists(d.s, NULL, at, &pc), ENT_NOTFOUND);
        CU_ASSERT_EQUAL(ent_exists(d.s, NULL, at, &pd), ENT_NOTFOUND);
        /* a bare code from fn: the message says so, not the last failure of an unrelated call */
        a = (pair_arg){d.s, "pc", "pd", 2};
        ENT_CHECK_RC(ent_txn_run(d.s, create_pair, &a), ENT_CONFLICT);
        CU_ASSERT_PTR_NULL(strstr(ent_errmsg(), "not found"));
        ENT_ASSERT_MSG("ent_txn_run");
        CU_ASSERT_EQUAL(ent_exists(d.s, NULL, at, &pc), ENT_NOTFOUND);
    }
    /* misuse: commit inside is refused (the work stays); abort inside undoes the work; a write to
     * the same store without the txn is ENT_BUSY; a positive code is not a code */
    m = (misuse){d.s, 0, 0};
    ENT_OK_(ent_txn_run(d.s, misbehave, &m));
    CU_ASSERT_EQUAL(m.rc_inside, ENT_INVALID);
    ENT_OK_(ent_exists(d.s, NULL, at, &in));
    {
        ent_key k = ent_key_str("inside");
        ENT_OK_(ent_delete(d.s, NULL, at, &k, ENT_VERSION_ANY));
    }
    m = (misuse){d.s, 1, 0};
    ENT_CHECK_RC(ent_txn_run(d.s, misbehave, &m), ENT_INVALID);
    /* said as the abort said it: "the transaction failed half way (invalid input)" named no cause */
    ENT_ASSERT_MSG("the function of ent_txn_run() aborted its transaction");
    CU_ASSERT_EQUAL(ent_exists(d.s, NULL, at, &in), ENT_NOTFOUND);
    m = (misuse){d.s, 2, 0};
    ENT_OK_(ent_txn_run(d.s, misbehave, &m));
    CU_ASSERT_EQUAL(m.rc_inside, ENT_BUSY);
    ENT_OK_(ent_delete(d.s, NULL, at, &in, ENT_VERSION_ANY));
    /* ent_log_wait() for a later event from fn would wait out its timeout (forever with -1): the
     * thread holds the only writer. ENT_BUSY, as from an event callback; so beside an explicit
     * write txn. The timeout of 300 ms only bounds the old behaviour (ENT_TIMEOUT). */
    m = (misuse){d.s, 4, 0};
    ENT_OK_(ent_txn_run(d.s, misbehave, &m));
    CU_ASSERT_EQUAL(m.rc_inside, ENT_BUSY);
    ENT_OK_(ent_delete(d.s, NULL, at, &in, ENT_VERSION_ANY));
    {
        ent_txn *w = NULL;
        uint64_t last = 0;
        ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
        ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
        ENT_CHECK_RC(ent_log_wait(NULL, d.s, last, 300), ENT_BUSY);
        ENT_ASSERT_MSG("write transaction");
        ent_txn_abort(w);
    }
    m = (misuse){d.s, 3, 0};
    ENT_CHECK_RC(ent_txn_run(d.s, misbehave, &m), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_exists(d.s, NULL, at, &in), ENT_NOTFOUND);
    ENT_CHECK_RC(ent_txn_run(NULL, misbehave, &m), ENT_INVALID);
    ENT_CHECK_RC(ent_txn_run(d.s, NULL, &m), ENT_INVALID);
    close_on(&d);
}

/* A thread that holds a read transaction still writes without one (it runs alone, ungrouped);
 * one that holds a write transaction is refused a second one (it would wait for itself). */
static void t_writer_holding_a_reader(void)
{
    store_dir d;
    ent_txn *r = NULL;
    ent_entity *e;
    ent_key k = ent_key_str("r1");
    open_on(&d, ENT_NONE);
    ENT_OK_(ent_txn_begin(&r, d.s, ENT_TXN_READ));
    e = mk_acct(d.s, "r1", 1, NULL);
    ENT_OK_(ent_create(d.s, NULL, e));
    ent_entity_free(e);
    CU_ASSERT_EQUAL(ent_exists(d.s, r, ent_store_type(d.s, "acct"), &k), ENT_NOTFOUND); /* its snapshot */
    ent_txn_abort(r);
    ENT_OK_(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &k));
    /* A thread that holds a write txn cannot wait for a second one of its own: refused, not hung. */
    {
        ent_txn *w = NULL, *w2 = NULL;
        pair_arg a = {d.s, "w1", "w2", 0};
        ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
        e = mk_acct(d.s, "w0", 1, NULL);
        ENT_CHECK_RC(ent_create(d.s, NULL, e), ENT_BUSY);
        ENT_ASSERT_MSG("holds the store's write transaction");
        ENT_OK_(ent_create(d.s, w, e));
        ent_entity_free(e);
        ENT_CHECK_RC(ent_txn_begin(&w2, d.s, ENT_TXN_WRITE), ENT_BUSY);
        ENT_CHECK_RC(ent_txn_run(d.s, create_pair, &a), ENT_BUSY);
        ENT_OK_(ent_txn_commit(w));
        ENT_OK_(ent_txn_run(d.s, create_pair, &a)); /* and once it ended, all is well */
    }
    close_on(&d);
}

/* ---- fork() with a group in flight ------------------------------------------------------------- */

/* ent_store_close() in a child after fork() only frees memory (store.h). A thread of the parent
 * that waited on one of the store's condition variables at the fork (here: a commit waiting for
 * its delivery turn behind a callback) left the child's copy counting a waiter that will never
 * leave, and glibc's pthread_cond_destroy() waits for it: the child's close hung for good. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_in, gate_open;

static void gate_cb(const ent_event *ev, void *p)
{
    (void)ev;
    (void)p;
    pthread_mutex_lock(&gate_mu);
    gate_in++;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open) pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

typedef struct fork_writer {
    ent_store *s;
    const char *key;
    int rc;
} fork_writer;

/* Waits for the event after f1 and f2 (the memory backend: on a condition variable). */
static void *log_waiter_main(void *p)
{
    fork_writer *w = p;
    uint64_t got = 0;
    w->rc = ent_log_wait(&got, w->s, 2, -1);
    return NULL;
}

static void *fork_writer_main(void *p)
{
    fork_writer *w = p;
    ent_entity *e = mk_acct(w->s, w->key, 1, NULL);
    ent_txn *t = NULL;
    /* f2 in a transaction of its own: not grouped behind f1's leader, its commit waits for the
     * delivery turn */
    if (strcmp(w->key, "f2") == 0) {
        if ((w->rc = ent_txn_begin(&t, w->s, ENT_TXN_WRITE)) == ENT_OK && (w->rc = ent_create(w->s, t, e)) == ENT_OK)
            w->rc = ent_txn_commit(t);
        else
            ent_txn_abort(t);
    } else {
        w->rc = ent_create(w->s, NULL, e);
    }
    ent_entity_free(e);
    return NULL;
}

static void t_close_in_forked_child(void)
{
    store_dir d;
    ent_subscriber *sub = NULL;
    fork_writer w1, w2, w3, wl;
    pthread_t t1, t2, tl;
    pid_t pid;
    int st = -1;
    ent_store *mem = NULL;
    ent_store_opts mo = ENT_STORE_OPTS_INIT;
    ent_txn *t = NULL;
    open_on(&d, ENT_NONE);
    mo.backend = "memory";
    ENT_OK_(ent_store_open(&mem, NULL, ent_store_schema(d.s), &mo));
    gate_in = gate_open = 0;
    ENT_OK_(ent_subscribe(&sub, d.s, NULL, 0, gate_cb, NULL));
    w1 = (fork_writer){d.s, "f1", -100};
    w2 = (fork_writer){d.s, "f2", -100};
    w3 = (fork_writer){d.s, "f3", -100};
    wl = (fork_writer){d.s, "", -100};
    pthread_create(&tl, NULL, log_waiter_main, &wl);
    pthread_create(&t1, NULL, fork_writer_main, &w1);
    pthread_mutex_lock(&gate_mu);
    while (!gate_in) pthread_cond_wait(&gate_cv, &gate_mu); /* f1's delivery is in the callback */
    pthread_mutex_unlock(&gate_mu);
    pthread_create(&t2, NULL, fork_writer_main, &w2);
    usleep(100000); /* f2's commit waits for its turn to deliver, a log wait waits (only makes the case likely) */
    pid = fork();
    if (pid == 0) {
        ent_entity *e = mk_acct(d.s, "child", 1, NULL);
        alarm(20); /* a hang shows as SIGALRM */
        if (ent_create(d.s, NULL, e) != ENT_BUSY) _exit(2);
        /* the message names the store; a memory store opened without a path by its backend (it
         * said "store  was opened before fork()", naming nothing) */
        if (!strstr(ent_errmsg(), "fork()")) _exit(3);
        if (ent_txn_begin(&t, mem, ENT_TXN_READ) != ENT_BUSY ||
            !strstr(ent_errmsg(), "the memory store was opened before fork()")) {
            fprintf(stderr, "child: %s\n", ent_errmsg());
            _exit(4);
        }
        ent_store_close(mem);
        ent_store_close(d.s);
        _exit(0);
    }
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (WIFSIGNALED(st)) fprintf(stderr, "child ended by signal %d\n", WTERMSIG(st));
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    ENT_OK_(w1.rc);
    ENT_OK_(w2.rc);
    fork_writer_main(&w3); /* wakes the log wait */
    ENT_OK_(w3.rc);
    pthread_join(tl, NULL);
    ENT_OK_(wl.rc);
    ent_store_close(mem);
    close_on(&d);
}

/* ---- closing under a group ---------------------------------------------------------------------- */

/* ent_store_close() from another thread while calls wait in a group (a host shutting down with
 * writers still running) freed the store under the leader and the queued callers (use after
 * free, ASan; a crash or hang without it). Refused with ENT_BUSY, the store stays open, as from
 * a callback or the writer's own thread; store.h still asks that no thread be in a call. */
static pthread_mutex_t blk_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t blk_cv = PTHREAD_COND_INITIALIZER;
static int blk_in, blk_open;

static int block_in_group(ent_txn *txn, void *p)
{
    ent_store *s = p;
    ent_entity *e = mk_acct(s, "blocker", 1, NULL);
    int rc = ent_create(s, txn, e);
    ent_entity_free(e);
    pthread_mutex_lock(&blk_mu);
    blk_in = 1;
    pthread_cond_broadcast(&blk_cv);
    while (!blk_open) pthread_cond_wait(&blk_cv, &blk_mu);
    pthread_mutex_unlock(&blk_mu);
    return rc;
}

typedef struct blk_call {
    ent_store *s;
    int rc;
} blk_call;

static void *blocker_main(void *p)
{
    blk_call *c = p;
    c->rc = ent_txn_run(c->s, block_in_group, c->s);
    return NULL;
}

static void *queued_main(void *p)
{
    blk_call *c = p;
    ent_entity *e = mk_acct(c->s, "queued", 1, NULL);
    c->rc = ent_create(c->s, NULL, e);
    ent_entity_free(e);
    return NULL;
}

static void close_under_callers(int mode)
{
    store_dir d;
    blk_call b, q;
    pthread_t tb, tq;
    struct timespec nap = {0, 1000000};
    size_t waiting = 0, busy = 0;
    ent_key k = ent_key_str("queued");
    group_mode = mode;
    open_on(&d, ENT_NONE);
    group_mode = ENT_GROUP_ALWAYS;
    blk_in = blk_open = 0;
    b = (blk_call){d.s, -100};
    q = (blk_call){d.s, -100};
    pthread_create(&tb, NULL, blocker_main, &b);
    pthread_mutex_lock(&blk_mu);
    while (!blk_in) pthread_cond_wait(&blk_cv, &blk_mu); /* the leader is inside its group */
    pthread_mutex_unlock(&blk_mu);
    ent_store_close(d.s);
    ENT_ASSERT_MSG("other threads");
    pthread_create(&tq, NULL, queued_main, &q);
    /* the second call waits: queued behind the leader (grouped), or for the writer (alone) */
    for (int i = 0; i < 20000 && busy < 2; i++) { /* 20 s at most: a guard, not a timing */
        busy = ent__group_busy(d.s);
        nanosleep(&nap, NULL);
    }
    CU_ASSERT_EQUAL(busy, 2);
    ent__group_stats(NULL, &waiting, d.s);
    CU_ASSERT_EQUAL(waiting, mode == ENT_GROUP_ALWAYS ? 1 : 0);
    ent_store_close(d.s);
    ENT_ASSERT_MSG("other threads");
    pthread_mutex_lock(&blk_mu);
    blk_open = 1;
    pthread_cond_broadcast(&blk_cv);
    pthread_mutex_unlock(&blk_mu);
    pthread_join(tb, NULL);
    pthread_join(tq, NULL);
    ENT_OK_(b.rc);
    ENT_OK_(q.rc);
    ENT_OK_(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &k));
    close_on(&d);
}

static void t_close_with_callers_in_a_group_is_refused(void) { close_under_callers(ENT_GROUP_ALWAYS); }
/* The same where calls are not grouped (ENT_GROUP_AUTO on a `none` store, memory): each call alone
 * was not counted, and the close freed the store under the two (ASan: use after free). */
static void t_close_with_callers_alone_is_refused(void) { close_under_callers(ENT_GROUP_AUTO); }

/* From the thread's own read transaction, or an iterator's begun without one: the close freed the
 * snapshot, the reader slot and the handles they still use (a crash at their next use or their
 * end, ASan: use after free). Refused with ENT_BUSY as for the writer's own thread; once they end,
 * the close goes through. */
static void t_close_with_own_read_txn_is_refused(void)
{
    store_dir d;
    ent_txn *r = NULL;
    ent_iter *it = NULL;
    ent_entity *e = NULL;
    ent_key k = ent_key_str("kept");
    open_on(&d, ENT_NONE);
    e = mk_acct(d.s, "kept", 1, NULL);
    ENT_OK_(ent_create(d.s, NULL, e));
    ent_entity_free(e);
    e = NULL;
    ENT_OK_(ent_txn_begin(&r, d.s, ENT_TXN_READ));
    ent_store_close(d.s);
    ENT_ASSERT_MSG("has a transaction of the store open");
    ENT_OK_(ent_get(&e, d.s, r, ent_store_type(d.s, "acct"), &k)); /* still whole */
    ent_entity_free(e);
    e = NULL;
    ent_txn_abort(r);
    ENT_OK_(ent_scan(&it, d.s, NULL, ent_store_type(d.s, "acct"), NULL, NULL));
    ent_store_close(d.s);
    ENT_ASSERT_MSG("an iterator's");
    ENT_OK_(ent_iter_next(&e, it));
    ent_entity_free(e);
    ent_iter_free(it);
    ENT_OK_(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &k));
    close_on(&d);
}

/* ---- the txn of ent_txn_run() after it returned ---------------------------------------------- */

static int keep_txn(ent_txn *txn, void *p)
{
    ent_txn **out = p;
    *out = txn;
    return ENT_OK;
}

/* A host that kept fn's txn and used it after ent_txn_run() returned was told "transaction belongs
 * to another store" (a call) or "belongs to the thread that began it" (commit, on the same
 * thread): the handle was parked for the next begin, zeroed. It says the transaction has ended. A
 * handle freed rather than parked is the host's use after free, as for any ended transaction. */
static void t_txn_used_after_txn_run(void)
{
    store_dir d;
    ent_txn *kept = NULL;
    ent_entity *e;
    ent_key k = ent_key_str("late");
    open_on(&d, ENT_NONE);
    ENT_OK_(ent_txn_run(d.s, keep_txn, &kept));
    CU_ASSERT_PTR_NOT_NULL_FATAL(kept);
    e = mk_acct(d.s, "late", 1, NULL);
    ENT_CHECK_RC(ent_create(d.s, kept, e), ENT_INVALID);
    ENT_ASSERT_MSG("has ended");
    ent_entity_free(e);
    ENT_CHECK_RC(ent_txn_commit(kept), ENT_INVALID);
    ENT_ASSERT_MSG("has ended");
    ent_txn_abort(kept); /* nothing */
    CU_ASSERT_EQUAL(ent_exists(d.s, NULL, ent_store_type(d.s, "acct"), &k), ENT_NOTFOUND);
    close_on(&d);
}

/* ---- leadership changing hands --------------------------------------------------------------- */

enum { CHURN_THREADS = 24, CHURN_CALLS = 250 };

typedef struct churn {
    ent_store *s;
    int id, ok, bad;
    char why[256];
} churn;

static void *churn_main(void *p)
{
    churn *c = p;
    unsigned seed = (unsigned)c->id * 2654435761u;
    for (int i = 0; i < CHURN_CALLS; i++) {
        char key[24], tag[24];
        snprintf(key, sizeof key, "c%d-%d", c->id, i);
        snprintf(tag, sizeof tag, "t%d-%d", c->id, i);
        ent_entity *e = mk_acct(c->s, key, i, tag);
        int rc = e ? ent_create(c->s, NULL, e) : ENT_NOMEM;
        ent_entity_free(e);
        if (rc == ENT_OK) {
            c->ok++;
        } else if (!c->bad++) {
            snprintf(c->why, sizeof c->why, "thread %d call %d: %s (%s)", c->id, i, ent_strerror(rc), ent_errmsg());
        }
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 4 == 0) sched_yield(); /* arrivals in bursts and alone, in turn */
    }
    return NULL;
}

/* Short calls from many threads: the leadership changes hands thousands of times, and results go
 * back while the next leader runs. Every call gets its own result and the store holds each create
 * once: a lost wake-up (a result, or the lead, not posted) hangs the test, which ctest's timeout
 * ends; a result given to another caller shows as a wrong count or a failed call. */
static void t_leadership_changes_hands_often(void)
{
    store_dir d;
    pthread_t th[CHURN_THREADS];
    churn *c = calloc(CHURN_THREADS, sizeof *c);
    uint64_t n = 0, groups = 0;
    CU_ASSERT_FATAL(c != NULL);
    open_on(&d, ENT_NONE);
    for (int i = 0; i < CHURN_THREADS; i++) {
        c[i] = (churn){d.s, i, 0, 0, ""};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, churn_main, &c[i]), 0);
    }
    for (int i = 0; i < CHURN_THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < CHURN_THREADS; i++) {
        CU_ASSERT_EQUAL(c[i].ok, CHURN_CALLS);
        if (c[i].bad) fprintf(stderr, "\n  %s\n", c[i].why);
    }
    ENT_OK_(ent_count(&n, d.s, NULL, ent_store_type(d.s, "acct")));
    CU_ASSERT_EQUAL(n, (uint64_t)CHURN_THREADS * CHURN_CALLS);
    ent__group_stats(&groups, NULL, d.s);
    CU_ASSERT(groups > 0 && groups <= (uint64_t)CHURN_THREADS * CHURN_CALLS);
    close_on(&d);
    free(c);
}

/* ---- when calls are grouped: ent_store_set_group_commit() ------------------------------------- */

enum { MODE_THREADS = 4, MODE_CALLS = 40 };

typedef struct mode_writer {
    ent_store *s;
    int round, id, failed;
} mode_writer;

static void *mode_writer_main(void *p)
{
    mode_writer *w = p;
    for (int i = 0; i < MODE_CALLS; i++) {
        char key[32];
        snprintf(key, sizeof key, "m%d-%d-%d", w->round, w->id, i);
        ent_entity *e = mk_acct(w->s, key, i, NULL);
        if (ent_create(w->s, NULL, e) != ENT_OK) w->failed++;
        ent_entity_free(e);
    }
    return NULL;
}

/* MODE_THREADS threads of MODE_CALLS creates each on d; returns the groups led meanwhile, and in
 * *commits what the backend's change counter moved (LMDB: one a commit; memory: 0). */
static uint64_t writers_on(store_dir *d, uint64_t *commits)
{
    pthread_t th[MODE_THREADS];
    mode_writer w[MODE_THREADS];
    static int round;
    uint64_t g0 = 0, g1 = 0, c0 = ent__bk_change_counter(d->s), n0 = 0, n1 = 0;
    const ent_type *acct = ent_store_type(d->s, "acct");
    ENT_OK_(ent_count(&n0, d->s, NULL, acct));
    ent__group_stats(&g0, NULL, d->s);
    round++;
    for (int i = 0; i < MODE_THREADS; i++) {
        w[i] = (mode_writer){d->s, round, i, 0};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, mode_writer_main, &w[i]), 0);
    }
    for (int i = 0; i < MODE_THREADS; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(w[i].failed, 0);
    }
    ent__group_stats(&g1, NULL, d->s);
    *commits = ent__bk_change_counter(d->s) - c0;
    ENT_OK_(ent_count(&n1, d->s, NULL, acct));
    CU_ASSERT_EQUAL(n1 - n0, MODE_THREADS * MODE_CALLS); /* every call's create there */
    return g1 - g0;
}

/* Calls started while a held leader runs (hold_first) commit as one group after it: two groups,
 * and, where the change counter counts commits (counted), two commits. */
static void queued_behind_held_leader(store_dir *d, int counted)
{
    uint64_t groups = 0;
    hold_cb *h = calloc(1, sizeof *h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    h->s = d->s;
    ENT_OK_(ent_txn_run(d->s, hold_first, h));
    for (int i = 0; i < h->started; i++) pthread_join(h->th[i], NULL);
    CU_ASSERT_EQUAL(h->started, QUEUED);
    CU_ASSERT_FALSE(h->timed_out);
    ent__group_stats(&groups, NULL, d->s);
    CU_ASSERT_EQUAL(groups - h->groups0, 2); /* the held one, then the queued calls together */
    if (counted) CU_ASSERT_EQUAL(ent__bk_change_counter(d->s) - h->changes0, 2);
    free(h);
}

static void t_group_commit_modes(void)
{
    store_dir d;
    uint64_t groups, commits;
    int lmdb; /* commits that can sync, counted by the change counter (lmdb, fault over it) */
    CU_ASSERT_EQUAL(ent_store_set_group_commit(NULL, ENT_GROUP_AUTO), ENT_INVALID);

    /* AUTO where commits do not sync (none; memory whatever the mode): one commit per call */
    group_mode = ENT_GROUP_AUTO;
    open_on(&d, ENT_NONE);
    lmdb = (ent__bk_caps(&d.s->bk) & ENT_BK_CAP_DURABILITY) != 0;
    CU_ASSERT_EQUAL(ent_store_set_group_commit(d.s, 3), ENT_INVALID);
    ENT_ASSERT_MSG("unknown mode 3");
    CU_ASSERT_EQUAL(ent_store_set_group_commit(d.s, -1), ENT_INVALID);
    groups = writers_on(&d, &commits);
    CU_ASSERT_EQUAL(groups, 0);
    if (lmdb) CU_ASSERT_EQUAL(commits, MODE_THREADS * MODE_CALLS);
    /* switched on an open handle: the same calls grouped (a held leader makes sure they meet) */
    ENT_OK_(ent_store_set_group_commit(d.s, ENT_GROUP_ALWAYS));
    queued_behind_held_leader(&d, lmdb);
    close_on(&d);

    /* AUTO where commits sync (LMDB durable): grouped, as ALWAYS; memory never syncs: alone */
    open_on(&d, ENT_DURABLE);
    if (lmdb) {
        queued_behind_held_leader(&d, 1);
    } else {
        CU_ASSERT_EQUAL(writers_on(&d, &commits), 0);
    }
    /* NEVER: alone even where commits sync */
    ENT_OK_(ent_store_set_group_commit(d.s, ENT_GROUP_NEVER));
    groups = writers_on(&d, &commits);
    CU_ASSERT_EQUAL(groups, 0);
    if (lmdb) CU_ASSERT_EQUAL(commits, MODE_THREADS * MODE_CALLS);
    close_on(&d);
    group_mode = ENT_GROUP_ALWAYS;
}

/* ent_store_group_stats(): groups and calls as led, the times of each phase measured. */
static void t_group_stats(void)
{
    store_dir d;
    ent_group_stats a, b, c;
    uint64_t groups, commits;
    int lmdb;
    CU_ASSERT_EQUAL(ent_store_group_stats(NULL, &a), ENT_INVALID);
    open_on(&d, ENT_DURABLE); /* grouped on every backend (ENT_GROUP_ALWAYS: the suite's mode) */
    lmdb = (ent__bk_caps(&d.s->bk) & ENT_BK_CAP_DURABILITY) != 0;
    CU_ASSERT_EQUAL(ent_store_group_stats(d.s, NULL), ENT_INVALID);
    ENT_OK_(ent_store_group_stats(d.s, &a));
    CU_ASSERT_EQUAL(a.groups, 0);
    CU_ASSERT_EQUAL(a.calls, 0);
    /* a held leader (one call), then the QUEUED calls behind it, refusals among them: one group */
    queued_behind_held_leader(&d, lmdb);
    ENT_OK_(ent_store_group_stats(d.s, &b));
    CU_ASSERT_EQUAL(b.groups - a.groups, 2);
    CU_ASSERT_EQUAL(b.calls - a.calls, 1 + QUEUED);
    CU_ASSERT(b.run_ns > a.run_ns); /* the held call ran for as long as the others took to queue */
    CU_ASSERT(b.commit_ns > a.commit_ns);
    if (lmdb) {
        CU_ASSERT(b.sync_ns > a.sync_ns); /* durable LMDB syncs apart from its commit */
    } else {
        CU_ASSERT_EQUAL(b.sync_ns, a.sync_ns);
    }
    /* threads of creates: every call counted once, in the groups led */
    groups = writers_on(&d, &commits);
    ENT_OK_(ent_store_group_stats(d.s, &c));
    CU_ASSERT_EQUAL(c.groups - b.groups, groups);
    CU_ASSERT_EQUAL(c.calls - b.calls, MODE_THREADS * MODE_CALLS);
    CU_ASSERT(c.wake_ns >= b.wake_ns);
    CU_ASSERT(c.begin_ns >= b.begin_ns && c.wait_ns >= b.wait_ns);
    /* calls each committed alone (NEVER) are no group's */
    ENT_OK_(ent_store_set_group_commit(d.s, ENT_GROUP_NEVER));
    writers_on(&d, &commits);
    ENT_OK_(ent_store_group_stats(d.s, &b));
    CU_ASSERT_EQUAL(b.groups, c.groups);
    CU_ASSERT_EQUAL(b.calls, c.calls);
    CU_ASSERT_EQUAL(b.run_ns, c.run_ns);
    { /* a forked child's copy of the handle answers ENT_BUSY, as every call there does */
        pid_t pid = fork();
        int st = 0;
        if (pid == 0) _exit(ent_store_group_stats(d.s, &a) == ENT_BUSY ? 0 : 1);
        CU_ASSERT_FATAL(pid > 0);
        CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    close_on(&d);
}

/* ---- refusals inside one group: the store as if each call had run alone ---------------------- */

/* A script of calls that runs twice: each call alone (ENT_GROUP_NEVER) on one store, and all of
 * them in one group on another; every call must get the same answer and both stores must end the
 * same (entities, versions, counts, next auto ids, every index in order, the log with its txn
 * numbers, subscription positions). Most refusals come after the call read or loaded cached state
 * of the transaction (a type's counters, the log's seq and txn number) and run without a
 * savepoint: whatever they touched must not reach the calls after them. */
static const char refusal_schema_json[] =
    "{\"schema\":\"grpref\",\"version\":1,\"types\":{"
    "\"user\":{\"key\":\"auto\",\"fields\":{"
    "  \"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "  \"age\":{\"id\":2,\"type\":\"int\",\"indexed\":true,\"max\":150}}},"
    "\"acct\":{\"key\":\"string\",\"fields\":{"
    "  \"n\":{\"id\":1,\"type\":\"int\",\"required\":true,\"min\":0,\"indexed\":true},"
    "  \"tag\":{\"id\":2,\"type\":\"string\",\"unique\":true,\"max_length\":16},"
    "  \"owner\":{\"id\":3,\"type\":\"ref\",\"to\":\"user\"},"
    "  \"plan\":{\"id\":4,\"type\":\"string\",\"default\":\"free\"}}}}}";

enum { RO_UCREATE, RO_URESTORE, RO_UUPDATE, RO_UDELETE, RO_ACREATE, RO_AUPDATE, RO_AUPSERT, RO_ARESTORE,
       RO_ADELETE, RO_ACK, RO_RUN_PAIR, RO_RUN_INNER, RO_FOREIGN };
#define NO_N INT64_MIN /* acct without its required n */

typedef struct rop {
    int kind;
    uint64_t id;          /* user id (0: none, an auto id); RO_ACK: the seq */
    const char *key;      /* acct key; RO_ACK: the subscription */
    int64_t n;            /* acct n / user age (-1: unset for a user) */
    const char *tag;      /* acct tag / user email */
    uint64_t owner;       /* acct owner (0: none) */
    uint64_t expect;      /* expected version; restores: the version */
} rop;

static int ro_user(ent_entity **out, ent_store *s, const rop *o)
{
    ent_entity *e = NULL;
    int rc = ent_entity_new(&e, ent_store_type(s, "user"));
    if (rc) return rc;
    if (o->id) {
        ent_key k = ent_key_id(o->id);
        ent_entity_set_key(e, &k);
    }
    if (o->tag) ent_entity_set_string(e, "email", o->tag);
    if (o->n >= 0) ent_entity_set_int(e, "age", o->n);
    *out = e;
    return ENT_OK;
}

static int ro_acct(ent_entity **out, ent_store *s, const rop *o)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str(o->key);
    int rc = ent_entity_new(&e, ent_store_type(s, "acct"));
    if (rc) return rc;
    ent_entity_set_key(e, &k);
    if (o->n != NO_N) ent_entity_set_int(e, "n", o->n);
    if (o->tag) ent_entity_set_string(e, "tag", o->tag);
    if (o->owner) ent_entity_set_uint(e, "owner", o->owner);
    *out = e;
    return ENT_OK;
}

typedef struct ro_inner {
    ent_store *s;
    const rop *o;
} ro_inner;

/* A closure whose first create is refused (its tag taken) and which goes on: a host's transaction
 * keeps the rest of its work. */
static int ro_inner_fn(ent_txn *txn, void *p)
{
    ro_inner *a = p;
    ent_entity *x = NULL, *y = NULL;
    rop ox = *a->o, oy = *a->o;
    int rc;
    ox.key = "inner-x";
    oy.key = "inner-y";
    oy.tag = NULL;
    if ((rc = ro_acct(&x, a->s, &ox))) return rc;
    if ((rc = ro_acct(&y, a->s, &oy))) {
        ent_entity_free(x);
        return rc;
    }
    rc = ent_create(a->s, txn, x);
    if (rc == ENT_CONFLICT) rc = ent_create(a->s, txn, y);
    else if (rc == ENT_OK) rc = ent__err(ENT_INVALID, "inner-x was to be refused");
    ent_entity_free(x);
    ent_entity_free(y);
    return rc;
}

/* The host's entity after its call (ejs NULL: not kept): its key, version and values, as a call
 * that took it left it (a refused one: as it was given, no default of the type filled in). */
static void ro_keep(char *ejs, size_t size, const ent_entity *e)
{
    char *js = NULL;
    if (!ejs) return;
    if (ent_entity_to_json(&js, e, ENT_JSON_ENTITY)) snprintf(ejs, size, "? %s", ent_errmsg());
    else snprintf(ejs, size, "%s", js);
    free(js);
}

static int ro_run(ent_store *s, const rop *o, char *ejs, size_t size)
{
    ent_entity *e = NULL;
    int rc = ENT_OK;
    switch (o->kind) {
    case RO_UCREATE:
    case RO_URESTORE:
    case RO_UUPDATE:
        if ((rc = ro_user(&e, s, o))) return rc;
        if (o->kind == RO_UCREATE) rc = ent_create(s, NULL, e);
        else if (o->kind == RO_UUPDATE) rc = ent_update(s, NULL, e, o->expect);
        else if (!(rc = ent_entity_set_version(e, o->expect))) rc = ent_restore(s, NULL, e);
        ro_keep(ejs, size, e);
        break;
    case RO_UDELETE: {
        ent_key k = ent_key_id(o->id);
        return ent_delete(s, NULL, ent_store_type(s, "user"), &k, o->expect);
    }
    case RO_ADELETE: {
        ent_key k = ent_key_str(o->key);
        return ent_delete(s, NULL, ent_store_type(s, "acct"), &k, o->expect);
    }
    case RO_ACK:
        return ent_sub_ack(s, NULL, o->key, o->id);
    case RO_RUN_PAIR: {
        pair_arg a = {s, o->key, o->tag, (int)o->n};
        return ent_txn_run(s, create_pair, &a);
    }
    case RO_RUN_INNER: {
        ro_inner a = {s, o};
        return ent_txn_run(s, ro_inner_fn, &a);
    }
    case RO_FOREIGN: { /* a type of another schema object than the store's: ENT_SCHEMA */
        ent_schema *sc = NULL;
        ent_key k = ent_key_str(o->key);
        if ((rc = ent_schema_load_json(&sc, refusal_schema_json, strlen(refusal_schema_json), "other"))) return rc;
        if (!(rc = ent_entity_new(&e, ent_schema_type(sc, "acct")))) {
            ent_entity_set_key(e, &k);
            ent_entity_set_int(e, "n", o->n);
            rc = ent_create(s, NULL, e);
            ent_entity_free(e);
        }
        ent_schema_free(sc);
        return rc;
    }
    default:
        if ((rc = ro_acct(&e, s, o))) return rc;
        if (o->kind == RO_ACREATE) rc = ent_create(s, NULL, e);
        else if (o->kind == RO_AUPDATE) rc = ent_update(s, NULL, e, o->expect);
        else if (o->kind == RO_AUPSERT) rc = ent_upsert(s, NULL, e, o->expect);
        else if (!(rc = ent_entity_set_version(e, o->expect))) rc = ent_restore(s, NULL, e);
        ro_keep(ejs, size, e);
        break;
    }
    ent_entity_free(e);
    return rc;
}

#define ANYV ENT_VERSION_ANY
/* Before the script: users 1 (a@) and 2 (b@), accts x (n 1, tag t1, owner 1) and y (n 2, tag t2),
 * a subscription at 2. */
static const rop ro_setup[] = {
    {RO_UCREATE, 0, NULL, 30, "a@", 0, 0},
    {RO_UCREATE, 0, NULL, 40, "b@", 0, 0},
    {RO_ACREATE, 0, "x", 1, "t1", 1, 0},
    {RO_ACREATE, 0, "y", 2, "t2", 0, 0},
};

static const rop ro_script[] = {
    {RO_UCREATE, 0, NULL, 50, "c@", 0, 0},            /* user 3 */
    {RO_UCREATE, 0, NULL, 51, "c@", 0, 0},            /* its email, taken by the call before */
    {RO_UCREATE, 0, NULL, 151, "d@", 0, 0},           /* age past max */
    {RO_UCREATE, 0, NULL, -1, NULL, 0, 0},            /* email missing */
    {RO_UCREATE, 3, NULL, 20, "e@", 0, 0},            /* id 3 exists (made in this group) */
    {RO_UCREATE, 0, NULL, 52, "f@", 0, 0},            /* user 4: the auto id after 3, not 5 or 6 */
    {RO_ACREATE, 0, "z", 3, "t3", 3, 0},              /* a ref to user 3, made in this group */
    {RO_UDELETE, 2, NULL, 0, NULL, 0, ANYV},          /* user 2 */
    {RO_ACREATE, 0, "w", 4, "t4", 2, 0},              /* a ref to user 2, deleted in this group */
    {RO_UDELETE, 3, NULL, 0, NULL, 0, ANYV},          /* still referenced by z, made in this group */
    {RO_UDELETE, 2, NULL, 0, NULL, 0, ANYV},          /* gone in this group */
    {RO_AUPDATE, 0, "x", 5, NULL, 0, 1},              /* x to version 2 */
    {RO_AUPDATE, 0, "x", 6, NULL, 0, 1},              /* the version the call before moved */
    {RO_AUPSERT, 0, "z", 7, "t3", 3, 0},              /* "must be new": made in this group */
    {RO_AUPSERT, 0, "q", 8, "tq", 0, ANYV},           /* q, new */
    {RO_ACREATE, 0, "q", 9, NULL, 0, 0},              /* the create that lost to the upsert */
    {RO_AUPSERT, 0, "q", 10, "tq", 0, 7},             /* q is at 1, not 7 */
    {RO_AUPSERT, 0, "r", 10, NULL, 0, 3},             /* r does not exist (expected 3) */
    {RO_ACREATE, 0, "s", 11, "t1", 0, 0},             /* x's tag */
    {RO_ADELETE, 0, "y", 0, NULL, 0, ANYV},           /* y, letting t2 go */
    {RO_ACREATE, 0, "s", 12, "t2", 0, 0},             /* t2, freed in this group */
    {RO_ACREATE, 0, "u", 13, "t5", 99, 0},            /* a ref to no user */
    {RO_ACREATE, 0, "u", -3, "t5", 0, 0},             /* n below min */
    {RO_ACREATE, 0, "u", NO_N, "t5", 0, 0},           /* n missing */
    {RO_ACREATE, 0, "u", 13, "a-tag-past-16-bytes", 0, 0}, /* past max_length */
    {RO_ARESTORE, 0, "x", 1, "t1", 1, 1},             /* x back to version 1's values, at 1 */
    {RO_ARESTORE, 0, "v", 14, "t1", 0, 3},            /* a new v with x's tag */
    {RO_ARESTORE, 0, "v", 14, "tv", 0, ENT_VERSION_LAST}, /* v at the last version */
    {RO_AUPDATE, 0, "v", 15, NULL, 0, ANYV},          /* versions exhausted */
    {RO_ADELETE, 0, "nope", 0, NULL, 0, ANYV},        /* not found */
    {RO_ACK, 99, "sub", 0, NULL, 0, 0},               /* past the last event */
    {RO_ACK, 1, "sub", 0, NULL, 0, 0},                /* behind its position: nothing to do */
    {RO_ACK, 3, "nosub", 0, NULL, 0, 0},              /* no such subscription */
    {RO_ACK, 7, "sub", 0, NULL, 0, 0},                /* forward */
    {RO_URESTORE, UINT64_MAX, NULL, 60, "max@", 0, 1}, /* the last auto id */
    {RO_UCREATE, 0, NULL, 61, "g@", 0, 0},            /* ids exhausted */
    {RO_URESTORE, 0, NULL, 62, "h@", 0, 1},           /* a restore without a key */
    {RO_RUN_PAIR, 0, "p1", 1, "p2", 0, 0},            /* a closure that undoes itself */
    {RO_RUN_PAIR, 0, "p3", 0, "z", 0, 0},             /* a closure refused on its second create */
    {RO_RUN_INNER, 0, NULL, 16, "t3", 0, 0},          /* a closure that goes on after a refusal */
    {RO_AUPDATE, 0, "q", 8, NULL, 0, 1},              /* q as it is: no event, the version stays */
    {RO_ARESTORE, 0, "y", 2, "t7", 0, 5},             /* y, deleted in this group, back at 5 */
    {RO_RUN_PAIR, 0, "p4", 1, "p5", 0, 0},            /* a closure that undoes itself, its events last */
    {RO_ACREATE, 0, "last", 17, "t9", 4, 0},          /* and a plain create */
    {RO_RUN_PAIR, 0, "p6", 1, "p7", 0, 0},            /* the last events undone */
    /* Last, a refusal that is none of the call's own (ENT_SCHEMA): the transaction counts as
     * broken, and every call before runs again in a new one, each in a savepoint: the same
     * answers and the same store once more. */
    {RO_FOREIGN, 0, "foreign", 18, NULL, 0, 0},
};
enum { RO_N = sizeof ro_script / sizeof ro_script[0] };

typedef struct ro_res {
    int rc, detail;
    char msg[256];
    char ejs[512]; /* the entity after the call */
} ro_res;

typedef struct ro_call {
    ent_store *s;
    const rop *o;
    ro_res *res;
} ro_call;

static void *ro_call_main(void *p)
{
    ro_call *c = p;
    c->res->rc = ro_run(c->s, c->o, c->res->ejs, sizeof c->res->ejs);
    c->res->detail = ent_errdetail();
    snprintf(c->res->msg, sizeof c->res->msg, "%s", c->res->rc ? ent_errmsg() : "");
    return NULL;
}

typedef struct ro_hold {
    ent_store *s;
    int n; /* calls of the script run: RO_N, or all but the last */
    pthread_t th[RO_N];
    ro_call c[RO_N];
    ro_res res[RO_N];
    int started, timed_out;
} ro_hold;

/* Holds its group's leadership while the script's calls queue one by one (each started once the
 * one before waits), so the next group takes them all, in the script's order. Writes nothing. */
static int ro_hold_fn(ent_txn *txn, void *p)
{
    ro_hold *h = p;
    (void)txn;
    for (int i = 0; i < h->n; i++) {
        h->c[i] = (ro_call){h->s, &ro_script[i], &h->res[i]};
        if (pthread_create(&h->th[i], NULL, ro_call_main, &h->c[i]) != 0) return ENT_OK;
        h->started++;
        if (!wait_queued(h->s, (size_t)i + 1)) {
            h->timed_out = 1;
            return ENT_OK;
        }
    }
    return ENT_OK;
}

static void sb_iter(ent_test_buf *b, ent_iter *it)
{
    ent_entity *e = NULL;
    int rc;
    while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
        ent_key k = ent_entity_key(e);
        if (k.kind == ENT_KEY_AUTO) ent_test_buf_add(b, " %" PRIu64, k.id);
        else ent_test_buf_add(b, " %.*s", (int)k.len, k.str);
        ent_entity_free(e);
    }
    CU_ASSERT_EQUAL(rc, ENT_NOTFOUND);
    ent_iter_free(it);
}

/* Everything a host can read of s, as text. */
static void ro_dump(ent_test_buf *b, ent_store *s)
{
    static const char *const types[] = {"user", "acct"};
    static const char *const idx[] = {"user.email", "user.age", "acct.n", "acct.tag", "acct.owner"};
    ent_txn *t = NULL;
    uint64_t first = 0, last = 0, cp = 0, problems = 99;
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_READ));
    for (size_t i = 0; i < 2; i++) {
        const ent_type *ty = ent_store_type(s, types[i]);
        ent_range_opts ro = ENT_RANGE_OPTS_INIT;
        uint64_t count = 0, next_id = 0, cnt2 = 0;
        ent_iter *it = NULL;
        ent_entity *e = NULL;
        int rc;
        ENT_OK_(ent_count(&count, s, t, ty));
        ENT_OK_(ent__type_counters(&next_id, &cnt2, t, ty));
        ent_test_buf_add(b, "%s count %" PRIu64 " (%" PRIu64 ") last id %" PRIu64 "\n", types[i], count, cnt2, next_id);
        ENT_OK_(ent_scan(&it, s, t, ty, NULL, &ro));
        while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
            char *js = NULL;
            ENT_OK_(ent_entity_to_json(&js, e, ENT_JSON_ENTITY));
            ent_test_buf_add(b, "  %s\n", js ? js : "?");
            free(js);
            ent_entity_free(e);
        }
        CU_ASSERT_EQUAL(rc, ENT_NOTFOUND);
        ent_iter_free(it);
    }
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        char tn[8];
        const char *dot = strchr(idx[i], '.');
        ent_range_opts ro = ENT_RANGE_OPTS_INIT;
        const ent_type *ty;
        const ent_field *f;
        ent_iter *it = NULL;
        snprintf(tn, sizeof tn, "%.*s", (int)(dot - idx[i]), idx[i]);
        ty = ent_store_type(s, tn);
        f = ent_type_field(ty, dot + 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        ent_test_buf_add(b, "%s:", idx[i]);
        ENT_OK_(ent_range(&it, s, t, f, &ro));
        sb_iter(b, it);
        ro.flags = ENT_ITER_REVERSE;
        ent_test_buf_add(b, " | reversed:");
        ENT_OK_(ent_range(&it, s, t, f, &ro));
        sb_iter(b, it);
        ent_test_buf_add(b, "\n");
    }
    ENT_OK_(ent_log_bounds(&first, &last, s, t));
    ent_test_buf_add(b, "log %" PRIu64 "..%" PRIu64 "\n", first, last);
    for (uint64_t seq = first; seq && seq <= last; seq++) {
        ent_event *ev = NULL;
        char *js = NULL;
        int rc = ent_log_get(&ev, s, t, seq);
        CU_ASSERT_EQUAL(rc, ENT_OK); /* no gap */
        if (rc) continue;
        ev->ts = 0;
        ENT_OK_(ent_event_to_json(&js, ev, 0));
        ent_test_buf_add(b, "  %s\n", js ? js : "?");
        free(js);
        ent_event_free(ev);
    }
    ENT_OK_(ent_sub_checkpoint(&cp, s, t, "sub"));
    ent_test_buf_add(b, "sub at %" PRIu64 "\n", cp);
    ent_txn_abort(t);
    ENT_OK_(ent_store_verify(&problems, s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
}

/* What an in-process subscriber was handed, as text (ts left out): the commit's kept copy of its
 * events, from which a savepoint took some back. */
static void ro_on_event(const ent_event *ev, void *p)
{
    ent_test_buf *b = p;
    char *js = NULL;
    if (ev->data && ent_entity_to_json(&js, ev->data, 0)) js = NULL;
    if (ev->key.kind == ENT_KEY_AUTO)
        ent_test_buf_add(b, "%" PRIu64 " txn %" PRIu64 " op %d %s %" PRIu64 " v%" PRIu64 " %s\n", ev->seq, ev->txn, ev->op,
               ent_type_name(ev->type), ev->key.id, ev->version, js ? js : "-");
    else
        ent_test_buf_add(b, "%" PRIu64 " txn %" PRIu64 " op %d %s %.*s v%" PRIu64 " %s\n", ev->seq, ev->txn, ev->op,
               ent_type_name(ev->type), (int)ev->key.len, ev->key.str, ev->version, js ? js : "-");
    free(js);
}

static void ro_open(store_dir *d, ent_durability dur, int mode)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = backend;
    o.durability = dur;
    o.map_size = (size_t)1 << 20;
    ENT_TEST_MKDTEMP(d->dir, "contract-group");
    ENT_OK_(ent_schema_load_json(&d->sc, refusal_schema_json, strlen(refusal_schema_json), "grpref"));
    ENT_OK_(ent_store_open(&d->s, d->dir, d->sc, &o));
    ENT_OK_(ent_store_set_group_commit(d->s, mode));
    for (size_t i = 0; i < sizeof ro_setup / sizeof ro_setup[0]; i++) ENT_OK_(ro_run(d->s, &ro_setup[i], NULL, 0));
    ENT_OK_(ent_sub_create(d->s, "sub", 2));
}

/* n: the script's calls to run, all (RO_N: the last breaks the group's transaction) or all but
 * the last (every call run once, those refused without a savepoint). */
static void refusals_on(ent_durability dur, int n)
{
    store_dir alone, grouped;
    ro_hold *h = calloc(1, sizeof *h);
    ro_res solo[RO_N] = {{0}};
    ent_test_buf a = {0}, g = {0}, ea = {0}, eg = {0};
    ent_subscriber *suba = NULL, *subg = NULL;
    uint64_t groups0 = 0, groups1 = 0;
    int ok = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    /* each call alone */
    ro_open(&alone, dur, ENT_GROUP_NEVER);
    ENT_OK_(ent_subscribe(&suba, alone.s, NULL, 0, ro_on_event, &ea));
    for (int i = 0; i < n; i++) {
        solo[i].rc = ro_run(alone.s, &ro_script[i], solo[i].ejs, sizeof solo[i].ejs);
        solo[i].detail = ent_errdetail();
        snprintf(solo[i].msg, sizeof solo[i].msg, "%s", solo[i].rc ? ent_errmsg() : "");
        ok += solo[i].rc == ENT_OK;
    }
    CU_ASSERT(ok > 10 && ok < n - 10); /* the script refuses many calls, and accepts many */
    if (n == RO_N) CU_ASSERT_EQUAL(solo[n - 1].rc, ENT_SCHEMA); /* not a refusal of the call's own */
    ro_dump(&a, alone.s);
    /* all in one group */
    ro_open(&grouped, dur, ENT_GROUP_ALWAYS);
    ENT_OK_(ent_subscribe(&subg, grouped.s, NULL, 0, ro_on_event, &eg));
    h->s = grouped.s;
    h->n = n;
    ent__group_stats(&groups0, NULL, grouped.s);
    ENT_OK_(ent_txn_run(grouped.s, ro_hold_fn, h));
    for (int i = 0; i < h->started; i++) pthread_join(h->th[i], NULL);
    ent__group_stats(&groups1, NULL, grouped.s);
    CU_ASSERT_EQUAL_FATAL(h->started, n);
    CU_ASSERT_FALSE(h->timed_out);
    CU_ASSERT_EQUAL(groups1 - groups0, 2); /* the held one, then the script's calls: one group */
    for (int i = 0; i < n; i++) {
        if (h->res[i].rc != solo[i].rc || h->res[i].detail != solo[i].detail || strcmp(h->res[i].msg, solo[i].msg))
            fprintf(stderr, "call %d: alone %s \"%s\", in a group %s \"%s\"\n", i, ent_strerror(solo[i].rc), solo[i].msg,
                    ent_strerror(h->res[i].rc), h->res[i].msg);
        CU_ASSERT_EQUAL(h->res[i].rc, solo[i].rc);
        CU_ASSERT_EQUAL(h->res[i].detail, solo[i].detail);
        CU_ASSERT_STRING_EQUAL(h->res[i].msg, solo[i].msg);
        if (strcmp(h->res[i].ejs, solo[i].ejs))
            fprintf(stderr, "call %d's entity: alone %s, in a group %s\n", i, solo[i].ejs, h->res[i].ejs);
        CU_ASSERT_STRING_EQUAL(h->res[i].ejs, solo[i].ejs);
    }
    ro_dump(&g, grouped.s);
    /* in-process subscribers were handed the same events (the group's from the copy its commit
     * kept, some of which savepoints took back) */
    ent_unsubscribe(alone.s, suba);
    ent_unsubscribe(grouped.s, subg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ea.p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(eg.p);
    if (strcmp(ea.p, eg.p)) fprintf(stderr, "delivered alone:\n%s\nin a group:\n%s\n", ea.p, eg.p);
    CU_ASSERT_STRING_EQUAL(ea.p, eg.p);
    free(ea.p);
    free(eg.p);
    if (strcmp(a.p, g.p)) fprintf(stderr, "alone:\n%s\nin a group:\n%s\n", a.p, g.p);
    CU_ASSERT_STRING_EQUAL(a.p, g.p);
    /* and as the next group finds it: the counters the refusals touched were put back */
    {
        rop more[] = {{RO_UCREATE, 0, NULL, 1, "z@", 0, 0}, {RO_ACREATE, 0, "after", 1, "ta", 4, 0}};
        for (size_t i = 0; i < 2; i++) CU_ASSERT_EQUAL(ro_run(grouped.s, &more[i], NULL, 0), ro_run(alone.s, &more[i], NULL, 0));
        a.n = g.n = 0;
        ro_dump(&a, alone.s);
        ro_dump(&g, grouped.s);
        CU_ASSERT_STRING_EQUAL(a.p, g.p);
    }
    free(a.p);
    free(g.p);
    free(h);
    ent_store_close(alone.s);
    ent_schema_free(alone.sc);
    ent_test_rm_rf(alone.dir);
    close_on(&grouped);
}

static void refusals_both(ent_durability dur)
{
    refusals_on(dur, RO_N - 1);
    refusals_on(dur, RO_N);
}
static void t_refusals_in_a_group_as_alone(void) { refusals_both(ENT_NONE); }
static void t_refusals_in_a_group_as_alone_durable(void) { refusals_both(ENT_DURABLE); }
static void t_refusals_in_a_group_as_alone_lazy(void) { refusals_both(ENT_LAZY); }

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_mixed_calls_against_a_model),
        ENT_TEST(t_mixed_calls_against_a_model_durable),
        ENT_TEST(t_mixed_calls_against_a_model_auto),
        ENT_TEST(t_mixed_calls_beside_a_host),
        ENT_TEST(t_group_commit_modes),
        ENT_TEST(t_group_stats),
        ENT_TEST(t_calls_queued_behind_a_leader_commit_together),
        ENT_TEST(t_failure_detail_reaches_the_caller),
        ENT_TEST(t_failed_commit_fails_the_group),
        ENT_TEST(t_failed_commit_leaves_the_entity),
        ENT_TEST(t_broken_savepoint_fails_its_caller_only),
        ENT_TEST(t_failed_write_fails_its_caller_only),
        ENT_TEST(t_refusal_code_after_a_write_fails_its_caller_only),
        ENT_TEST(t_txn_run_flags_stay_with_their_caller),
        ENT_TEST(t_txn_run_again_updates_from_a_copy),
        ENT_TEST(t_txn_run),
        ENT_TEST(t_close_inside_txn_run_is_refused),
        ENT_TEST(t_writer_holding_a_reader),
        ENT_TEST(t_close_in_forked_child),
        ENT_TEST(t_close_with_callers_in_a_group_is_refused),
        ENT_TEST(t_close_with_callers_alone_is_refused),
        ENT_TEST(t_close_with_own_read_txn_is_refused),
        ENT_TEST(t_txn_used_after_txn_run),
        ENT_TEST(t_leadership_changes_hands_often),
        ENT_TEST(t_refusals_in_a_group_as_alone),
        ENT_TEST(t_refusals_in_a_group_as_alone_durable),
        ENT_TEST(t_refusals_in_a_group_as_alone_lazy),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_group_%s", backend);
    return ent_test_run(suite, cases);
}
