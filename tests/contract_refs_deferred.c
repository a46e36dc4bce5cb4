/* ent_txn_defer_ref_checks(), run once per backend (argv[1]): entities whose required refs form a
 * cycle are created and deleted in one transaction; a commit whose final state holds a ref to a
 * missing entity, or a deleted entity still referred to, fails whole; in ent_txn_run() a closure
 * whose final state is wrong fails alone, beside closures of other threads in the same groups,
 * checked against a model of what each acknowledged closure left. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "test_util.h"

static const char *backend;
static char dir[ENT_TEST_PATH_MAX];
static ent_store *S;
static ent_schema *SC;

/* a and b each require a ref to the other; c refers to itself, optionally */
static const char schema_json[] =
    "{\"schema\":\"cyc\",\"version\":1,\"types\":{"
    "\"a\":{\"key\":\"string\",\"fields\":{\"b\":{\"id\":1,\"type\":\"ref\",\"to\":\"b\",\"required\":true}}},"
    "\"b\":{\"key\":\"string\",\"fields\":{\"a\":{\"id\":1,\"type\":\"ref\",\"to\":\"a\",\"required\":true}}},"
    "\"c\":{\"key\":\"auto\",\"fields\":{\"peer\":{\"id\":1,\"type\":\"ref\",\"to\":\"c\"}}}}}";

static void open_store(void) { ent_test_store_open(&S, &SC, dir, backend, schema_json, "refs-deferred"); }
static void close_store(void) { ent_test_store_close(&S, &SC, dir); }

static const ent_type *T(const char *n) { return ent_store_type(S, n); }

/* An a or b keyed k referring to the other type's key to. */
static ent_entity *node(const char *type, const char *k, const char *to)
{
    ent_entity *e = NULL;
    ent_key key = ent_key_str(k);
    ENT_OK_(ent_entity_new(&e, T(type)));
    ENT_OK_(ent_entity_set_key(e, &key));
    ENT_OK_(ent_entity_set_string(e, type[0] == 'a' ? "b" : "a", to));
    return e;
}

static int put(ent_txn *t, const char *type, const char *k, const char *to)
{
    ent_entity *e = node(type, k, to);
    int rc = ent_upsert(S, t, e, ENT_VERSION_ANY);
    ent_entity_free(e);
    return rc;
}

static int del(ent_txn *t, const char *type, const char *k)
{
    ent_key key = ent_key_str(k);
    return ent_delete(S, t, T(type), &key, ENT_VERSION_ANY);
}

static int exists(const char *type, const char *k)
{
    ent_entity *e = NULL;
    ent_key key = ent_key_str(k);
    int rc = ent_get(&e, S, NULL, T(type), &key);
    ent_entity_free(e);
    CU_ASSERT_TRUE(rc == ENT_OK || rc == ENT_NOTFOUND);
    return rc == ENT_OK;
}

/* ent_store_verify() finds no problem (a ref to a missing entity among them) */
static void verify_clean(void)
{
    uint64_t problems = 1;
    ENT_OK_(ent_store_verify(&problems, S, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
}

static uint64_t last_seq(void)
{
    uint64_t f = 0, l = 0;
    ENT_OK_(ent_log_bounds(&f, &l, S, NULL));
    return l;
}

static void t_cycle_created_and_deleted(void)
{
    ent_txn *t = NULL;
    uint64_t seq;
    open_store();
    /* checked at each call, a cycle cannot begin */
    ENT_CHECK_RC(put(NULL, "a", "a1", "b1"), ENT_INVALID);
    ENT_ASSERT_MSG("a.b: b \"b1\" does not exist");
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_CHECK_RC(put(t, "a", "a1", "b1"), ENT_INVALID); /* not deferred yet */
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(put(t, "a", "a1", "b1"));
    ENT_OK_(put(t, "b", "b1", "a1"));
    ENT_OK_(ent_txn_commit(t));
    CU_ASSERT_TRUE(exists("a", "a1") && exists("b", "b1"));
    CU_ASSERT_EQUAL(last_seq(), 2);
    verify_clean();
    /* the references are indexed as usual: neither can be deleted alone */
    ENT_CHECK_RC(del(NULL, "a", "a1"), ENT_CONFLICT);
    ENT_ASSERT_MSG("still referenced by b \"b1\"");
    /* a deferred delete of one of them alone fails at commit, naming the referrer */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(del(t, "a", "a1"));
    ENT_CHECK_RC(ent_txn_commit(t), ENT_CONFLICT);
    ENT_ASSERT_MSG("transaction not committed: a \"a1\" is still referenced by b \"b1\" (field a)");
    CU_ASSERT_TRUE(exists("a", "a1"));
    CU_ASSERT_EQUAL(last_seq(), 2);
    /* both in one transaction: the final state refers to nothing missing */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(del(t, "a", "a1"));
    ENT_OK_(del(t, "b", "b1"));
    ENT_OK_(ent_txn_commit(t));
    CU_ASSERT_FALSE(exists("a", "a1") || exists("b", "b1"));
    verify_clean();
    /* only the final state counts: a ref broken and mended inside the transaction */
    seq = last_seq();
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(put(t, "a", "a2", "b2"));
    ENT_OK_(put(t, "b", "b2", "a2"));
    ENT_OK_(put(t, "b", "b2", "nowhere"));
    ENT_OK_(put(t, "b", "b2", "a2"));
    ENT_OK_(ent_txn_commit(t));
    CU_ASSERT_EQUAL(last_seq(), seq + 4);
    verify_clean();
    close_store();
}

static void t_commit_refused_whole(void)
{
    ent_txn *t = NULL;
    open_store();
    ENT_CHECK_RC(ent_txn_defer_ref_checks(NULL), ENT_INVALID);
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_READ));
    ENT_CHECK_RC(ent_txn_defer_ref_checks(t), ENT_INVALID);
    ENT_ASSERT_MSG("not a write transaction");
    ENT_OK_(ent_txn_commit(t));
    /* a ref left dangling: the commit names it, and nothing of the transaction is there */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(put(t, "a", "a3", "b3"));
    ENT_OK_(put(t, "b", "b4", "a3"));
    ENT_CHECK_RC(ent_txn_commit(t), ENT_INVALID);
    ENT_ASSERT_MSG("transaction not committed: a.b: b \"b3\" does not exist");
    CU_ASSERT_FALSE(exists("a", "a3") || exists("b", "b4"));
    CU_ASSERT_EQUAL(last_seq(), 0);
    /* an entity created and deleted again, with a ref to it made and removed: fine */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(put(t, "a", "a5", "b5"));
    ENT_OK_(put(t, "b", "b5", "a5"));
    ENT_OK_(del(t, "b", "b5"));
    ENT_OK_(put(t, "a", "a6", "b6"));
    ENT_OK_(put(t, "b", "b6", "a6"));
    ENT_OK_(put(t, "a", "a5", "b6"));
    ENT_OK_(ent_txn_commit(t));
    CU_ASSERT_TRUE(exists("a", "a5") && exists("a", "a6") && exists("b", "b6") && !exists("b", "b5"));
    verify_clean();
    /* an aborted deferred transaction leaves nothing for the next one (a spare txn is reused) */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(put(t, "a", "a7", "b7"));
    ent_txn_abort(t);
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_CHECK_RC(put(t, "a", "a7", "b7"), ENT_INVALID); /* checked at the call again */
    ENT_OK_(put(t, "a", "a8", "b6"));
    ENT_OK_(ent_txn_commit(t));
    CU_ASSERT_TRUE(exists("a", "a8") && !exists("a", "a7"));
    close_store();
}

/* ---- ent_txn_run() from many threads ------------------------------------------------------------ */

enum { THREADS = 6, ROUNDS = 40 };

typedef struct job {
    int thread, round;
    int bad; /* 1: leave a dangling ref; 2: delete one of a pair; 0: make a pair */
} job;

static int pair_fn(ent_txn *t, void *p)
{
    job *j = p;
    char ka[32], kb[32], ko[32];
    int rc;
    snprintf(ka, sizeof ka, "a-%d-%d", j->thread, j->round);
    snprintf(kb, sizeof kb, "b-%d-%d", j->thread, j->round);
    snprintf(ko, sizeof ko, "a-%d-%d", j->thread, j->round - 1);
    if ((rc = ent_txn_defer_ref_checks(t))) return rc;
    if (j->bad == 2) return del(t, "a", ko); /* its b still refers to it */
    if ((rc = put(t, "a", ka, kb))) return rc;
    return put(t, "b", kb, j->bad ? "missing" : ka);
}

typedef struct worker {
    int id;
    int made[ROUNDS]; /* 1: the pair of this round was acknowledged */
    int wrong;        /* results other than the model's */
} worker;

static void *work(void *p)
{
    worker *w = p;
    for (int r = 0; r < ROUNDS; r++) {
        job j = {w->id, r, (r * 7 + w->id) % 5 == 0 ? 1 : (r > 0 && w->made[r - 1] && (r + w->id) % 6 == 0) ? 2 : 0};
        int rc = ent_txn_run(S, pair_fn, &j);
        int want = j.bad == 1 ? ENT_INVALID : j.bad == 2 ? ENT_CONFLICT : ENT_OK;
        if (rc != want) w->wrong++;
        w->made[r] = j.bad == 0 && rc == ENT_OK;
    }
    return NULL;
}

static void t_closures_in_groups(void)
{
    pthread_t th[THREADS];
    worker w[THREADS];
    open_store();
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        CU_ASSERT_EQUAL(w[i].wrong, 0);
        for (int r = 0; r < ROUNDS; r++) {
            char ka[32], kb[32];
            snprintf(ka, sizeof ka, "a-%d-%d", i, r);
            snprintf(kb, sizeof kb, "b-%d-%d", i, r);
            /* every acknowledged pair whole; nothing of a refused closure */
            CU_ASSERT_EQUAL(exists("a", ka), w[i].made[r]);
            CU_ASSERT_EQUAL(exists("b", kb), w[i].made[r]);
        }
    }
    verify_clean();
    close_store();
}


static void count_event(const ent_event *ev, void *payload)
{
    (void)ev;
    (*(int *)payload)++;
}

/* A c referring to peer (0: none), created (id 0: the next auto id) or restored at version v. */
static ent_entity *cnode(uint64_t id, uint64_t peer, uint64_t v)
{
    ent_entity *e = NULL;
    ENT_OK_(ent_entity_new(&e, T("c")));
    if (id) {
        ent_key k = ent_key_id(id);
        ENT_OK_(ent_entity_set_key(e, &k));
    }
    if (peer) ENT_OK_(ent_entity_set_uint(e, "peer", peer));
    if (v) ENT_OK_(ent_entity_set_version(e, v));
    return e;
}

/* Auto keys, self refs, replace/update/restore, skip with defer; a refused commit delivers
 * nothing to subscribers and logs nothing. */
static void t_every_write(void)
{
    ent_txn *t = NULL;
    ent_subscriber *sub = NULL;
    ent_entity *e;
    ent_key k1 = ent_key_id(1), k2 = ent_key_id(2);
    int events = 0;
    uint64_t seq;
    open_store();
    ENT_OK_(ent_subscribe(&sub, S, NULL, 0, count_event, &events));
    /* c1 refers to itself and c2 to c1, both auto ids */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    e = cnode(0, 1, 0);
    ENT_OK_(ent_create(S, t, e));
    ent_entity_free(e);
    e = cnode(0, 1, 0);
    ENT_OK_(ent_create(S, t, e));
    ent_entity_free(e);
    ENT_OK_(ent_txn_commit(t));
    CU_ASSERT_EQUAL(events, 2);
    seq = last_seq();
    /* replace: c2 to a missing c9; update: c1 to c9; restore: c9 itself refers to c8 */
    {
        static const int how[] = {0, 1, 2};
        for (size_t i = 0; i < sizeof how / sizeof *how; i++) {
            ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
            ENT_OK_(ent_txn_defer_ref_checks(t));
            if (how[i] == 0) {
                e = cnode(2, 9, 0);
                ENT_OK_(ent_replace(S, t, e, ENT_VERSION_ANY));
            } else if (how[i] == 1) {
                e = cnode(1, 9, 0);
                ENT_OK_(ent_update(S, t, e, ENT_VERSION_ANY));
            } else {
                e = cnode(9, 8, 3);
                ENT_OK_(ent_restore(S, t, e));
            }
            ent_entity_free(e);
            ENT_CHECK_RC(ent_txn_commit(t), ENT_INVALID);
            ENT_ASSERT_MSG("does not exist");
            CU_ASSERT_EQUAL(events, 2);
            CU_ASSERT_EQUAL(last_seq(), seq);
        }
    }
    /* a self-referring c deleted: its own ref does not keep it; c1 still referred to by c2 */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(ent_delete(S, t, T("c"), &k1, ENT_VERSION_ANY));
    ENT_CHECK_RC(ent_txn_commit(t), ENT_CONFLICT);
    ENT_ASSERT_MSG("c 1 is still referenced by c 2");
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(ent_delete(S, t, T("c"), &k1, ENT_VERSION_ANY));
    ENT_OK_(ent_delete(S, t, T("c"), &k2, ENT_VERSION_ANY));
    ENT_OK_(ent_txn_commit(t));
    CU_ASSERT_EQUAL(events, 4);
    /* skip wins over defer for the writes after it: nothing noted, nothing checked */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(ent_txn_skip_ref_checks(t));
    e = cnode(0, 9, 0);
    ENT_OK_(ent_create(S, t, e));
    ent_entity_free(e);
    ENT_OK_(ent_txn_commit(t));
    {
        uint64_t problems = 0;
        ENT_CHECK_RC(ent_store_verify(&problems, S, NULL, NULL), ENT_CORRUPT); /* the ref to c 9 nothing checked */
        CU_ASSERT_EQUAL(problems, 1);
    }
    ent_unsubscribe(S, sub);
    close_store();
}

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_cycle_created_and_deleted),
        ENT_TEST(t_commit_refused_whole),
        ENT_TEST(t_closures_in_groups),
        ENT_TEST(t_every_write),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_refs_deferred_%s", backend);
    return ent_test_run(suite, cases);
}
