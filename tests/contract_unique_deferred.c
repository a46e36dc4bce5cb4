/* ent_txn_defer_unique_checks(), run once per backend (argv[1]): entities swap and rotate unique
 * values in one transaction; a value taken while another entity holds it waits for the holder and
 * is found under the holder meanwhile; a value two entities still hold at the commit fails it
 * whole, naming both; in ent_txn_run() a closure that leaves one fails alone beside closures of
 * other threads in the same groups, checked against a model; a mirror applies a primary's swap. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static const char *backend;
static char dir[ENT_TEST_PATH_MAX];
static ent_store *S;
static ent_schema *SC;

/* u: a unique string and a unique int; the non-unique tag is indexed too */
static const char schema_json[] =
    "{\"schema\":\"uniq\",\"version\":1,\"types\":{"
    "\"u\":{\"key\":\"string\",\"fields\":{"
    "\"code\":{\"id\":1,\"type\":\"string\",\"unique\":true},"
    "\"rank\":{\"id\":2,\"type\":\"int\",\"unique\":true},"
    "\"tag\":{\"id\":3,\"type\":\"string\",\"indexed\":true}}}}}";

static void open_store(void) { ent_test_store_open(&S, &SC, dir, backend, schema_json, "unique-deferred"); }
static void close_store(void) { ent_test_store_close(&S, &SC, dir); }

static const ent_type *U(void) { return ent_store_type(S, "u"); }

/* Upsert u k with code (NULL: none) and rank (< 0: none). */
static int put(ent_txn *t, const char *k, const char *code, long rank)
{
    ent_entity *e = NULL;
    ent_key key = ent_key_str(k);
    int rc;
    ENT_OK_(ent_entity_new(&e, U()));
    ENT_OK_(ent_entity_set_key(e, &key));
    if (code) ENT_OK_(ent_entity_set_string(e, "code", code));
    if (rank >= 0) ENT_OK_(ent_entity_set_int(e, "rank", rank));
    ENT_OK_(ent_entity_set_string(e, "tag", "t"));
    rc = ent_upsert(S, t, e, ENT_VERSION_ANY);
    ent_entity_free(e);
    return rc;
}

static int del(ent_txn *t, const char *k)
{
    ent_key key = ent_key_str(k);
    return ent_delete(S, t, U(), &key, ENT_VERSION_ANY);
}

/* The key of the u whose code is `code` in t ("" when none), into out. */
static const char *holder(char *out, size_t cap, ent_txn *t, const char *code)
{
    ent_entity *e = NULL;
    ent_value v = ent_value_string(code);
    int rc = ent_find_unique(&e, S, t, ent_type_field(U(), "code"), &v);
    out[0] = '\0';
    CU_ASSERT_TRUE(rc == ENT_OK || rc == ENT_NOTFOUND);
    if (rc == ENT_OK) {
        ent_key k = ent_entity_key(e);
        snprintf(out, cap, "%.*s", (int)k.len, k.str);
    }
    ent_entity_free(e);
    return out;
}

#define HOLDS(t, code, k)                                                                          \
    do {                                                                                           \
        char hb_[64];                                                                              \
        CU_ASSERT_STRING_EQUAL(holder(hb_, sizeof hb_, (t), (code)), (k));                         \
    } while (0)

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

/* Two entities swap both unique values; three rotate theirs. Without the deferral the first
 * write of a swap is refused at once, as before. */
static void t_swap_and_rotate(void)
{
    ent_txn *t = NULL;
    open_store();
    ENT_OK_(put(NULL, "a", "x", 1));
    ENT_OK_(put(NULL, "b", "y", 2));
    ENT_OK_(put(NULL, "c", "z", 3));
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_CHECK_RC(put(t, "a", "y", 1), ENT_CONFLICT);
    ENT_ASSERT_MSG("taken by u \"b\"");
    ent_txn_abort(t);

    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_unique_checks(t));
    ENT_OK_(put(t, "a", "y", 2));
    HOLDS(t, "y", "b"); /* b holds it still: a waits */
    HOLDS(t, "x", "");  /* a let x go */
    ENT_OK_(put(t, "b", "x", 1));
    HOLDS(t, "y", "a");
    HOLDS(t, "x", "b");
    ENT_OK_(ent_txn_commit(t));
    HOLDS(NULL, "y", "a");
    HOLDS(NULL, "x", "b");
    verify_clean();

    /* a -> z, b -> y, c -> x: each takes a value still held */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_unique_checks(t));
    ENT_OK_(put(t, "a", "z", 3));
    ENT_OK_(put(t, "b", "y", 1));
    ENT_OK_(put(t, "c", "x", 2));
    ENT_OK_(ent_txn_commit(t));
    HOLDS(NULL, "z", "a");
    HOLDS(NULL, "y", "b");
    HOLDS(NULL, "x", "c");
    verify_clean();
    close_store();
}

/* A value still held by two at the commit fails it whole, naming both; nothing logged. */
static void t_commit_refused_whole(void)
{
    ent_txn *t = NULL;
    uint64_t seq;
    open_store();
    ENT_OK_(put(NULL, "a", "x", 1));
    ENT_OK_(put(NULL, "b", "y", 2));
    seq = last_seq();
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_unique_checks(t));
    ENT_OK_(put(t, "a", "y", 1));
    ENT_OK_(put(t, "n", "q", 9));
    ENT_CHECK_RC(ent_txn_commit(t), ENT_CONFLICT);
    ENT_ASSERT_MSG("u.code: value \"y\" is taken by u \"b\", and u \"a\" took it too");
    CU_ASSERT_EQUAL(last_seq(), seq);
    HOLDS(NULL, "x", "a");
    HOLDS(NULL, "y", "b");
    HOLDS(NULL, "q", "");
    verify_clean();

    /* two wait for one value: the first takes it when the holder lets it go, the second fails the
     * commit (an int this time) */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_unique_checks(t));
    ENT_OK_(put(t, "a", "x", 2));
    ENT_OK_(put(t, "c", "w", 2));
    ENT_OK_(put(t, "b", "y", 5));
    ENT_CHECK_RC(ent_txn_commit(t), ENT_CONFLICT);
    ENT_ASSERT_MSG("u.rank: value 2 is taken by u \"a\", and u \"c\" took it too");
    CU_ASSERT_EQUAL(last_seq(), seq);
    verify_clean();
    close_store();
}

/* A wait ends when its entity lets the value go (another value, a delete), and a value freed by
 * a delete goes to the one waiting for it; an aborted transaction leaves no wait to the next. */
static void t_waits_that_end(void)
{
    ent_txn *t = NULL;
    open_store();
    ENT_OK_(put(NULL, "a", "x", 1));
    ENT_OK_(put(NULL, "b", "y", 2));
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_unique_checks(t));
    ENT_OK_(put(t, "a", "y", 1)); /* waits for b */
    ENT_OK_(put(t, "a", "v", 1)); /* no longer */
    ENT_OK_(put(t, "c", "y", 3)); /* waits for b */
    ENT_OK_(del(t, "c"));         /* no longer */
    ENT_OK_(put(t, "d", "y", 4)); /* waits for b, */
    ENT_OK_(del(t, "b"));         /* which goes: d holds y */
    HOLDS(t, "y", "d");
    ENT_OK_(ent_txn_commit(t));
    HOLDS(NULL, "y", "d");
    HOLDS(NULL, "v", "a");
    HOLDS(NULL, "x", "");
    verify_clean();

    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_unique_checks(t));
    ENT_OK_(put(t, "a", "y", 1));
    ent_txn_abort(t);
    /* the same handle's next transaction checks at the call again */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_CHECK_RC(put(t, "a", "y", 1), ENT_CONFLICT);
    ent_txn_abort(t);
    ENT_CHECK_RC(ent_txn_defer_unique_checks(NULL), ENT_INVALID);
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_READ));
    ENT_CHECK_RC(ent_txn_defer_unique_checks(t), ENT_INVALID);
    ent_txn_abort(t);
    verify_clean();
    close_store();
}

/* Closures from several threads in shared groups: each swaps the codes of its own pair, or
 * leaves two entities with one code (refused alone). */
#define THREADS 6
#define ROUNDS 30

typedef struct worker {
    int id;
    int swapped[ROUNDS]; /* acknowledged swaps, by round */
    int wrong;           /* closures whose code was not the model's */
    int round;
} worker;

static int swap_fn(ent_txn *t, void *payload)
{
    worker *w = payload;
    char ka[32], kb[32], ca[32], cb[32];
    int rc, n = 0;
    for (int r = 0; r < w->round; r++) n += w->swapped[r];
    snprintf(ka, sizeof ka, "a%d", w->id);
    snprintf(kb, sizeof kb, "b%d", w->id);
    /* after n swaps, a holds "A<id>" when n is even */
    snprintf(ca, sizeof ca, "%c%d", n % 2 ? 'B' : 'A', w->id);
    snprintf(cb, sizeof cb, "%c%d", n % 2 ? 'A' : 'B', w->id);
    if ((rc = ent_txn_defer_unique_checks(t))) return rc;
    if ((rc = put(t, ka, cb, -1))) return rc;
    if (w->round % 3 == 2) return ENT_OK; /* b keeps its code: two hold it */
    return put(t, kb, ca, -1);
}

static void *work(void *p)
{
    worker *w = p;
    for (w->round = 0; w->round < ROUNDS; w->round++) {
        int rc = ent_txn_run(S, swap_fn, w);
        int want = w->round % 3 == 2 ? ENT_CONFLICT : ENT_OK;
        if (rc != want) w->wrong++;
        w->swapped[w->round] = rc == ENT_OK;
    }
    return NULL;
}

static void t_closures_in_groups(void)
{
    pthread_t th[THREADS];
    worker w[THREADS];
    open_store();
    for (int i = 0; i < THREADS; i++) {
        char ka[32], kb[32], ca[32], cb[32];
        snprintf(ka, sizeof ka, "a%d", i);
        snprintf(kb, sizeof kb, "b%d", i);
        snprintf(ca, sizeof ca, "A%d", i);
        snprintf(cb, sizeof cb, "B%d", i);
        ENT_OK_(put(NULL, ka, ca, -1));
        ENT_OK_(put(NULL, kb, cb, -1));
    }
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        char ka[32], kb[32], ca[32], cb[32];
        int n = 0;
        CU_ASSERT_EQUAL(w[i].wrong, 0);
        for (int r = 0; r < ROUNDS; r++) n += w[i].swapped[r];
        CU_ASSERT_EQUAL(n, ROUNDS - ROUNDS / 3);
        snprintf(ka, sizeof ka, "a%d", i);
        snprintf(kb, sizeof kb, "b%d", i);
        snprintf(ca, sizeof ca, "%c%d", n % 2 ? 'B' : 'A', i);
        snprintf(cb, sizeof cb, "%c%d", n % 2 ? 'A' : 'B', i);
        HOLDS(NULL, ca, ka);
        HOLDS(NULL, cb, kb);
    }
    verify_clean();
    close_store();
}

/* The events of a swap, applied to a mirror as one transaction: the mirror takes what the
 * primary's commit checked (it refused the swap's first event as a conflict). */
static void t_mirror_applies_a_swap(void)
{
    char mdir[ENT_TEST_PATH_MAX];
    ent_store *m = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_txn *t = NULL;
    ent_log_cursor *c = NULL;
    ent_event *ev, *v[8];
    size_t n = 0;
    uint64_t problems = 1;
    open_store();
    ENT_OK_(put(NULL, "a", "x", 1));
    ENT_OK_(put(NULL, "b", "y", 2));
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_unique_checks(t));
    ENT_OK_(put(t, "a", "y", 2));
    ENT_OK_(put(t, "b", "x", 1));
    ENT_OK_(ent_txn_commit(t));
    o.backend = backend;
    o.durability = ENT_NONE;
    ENT_TEST_MKDTEMP(mdir, "unique-deferred-mirror");
    ENT_OK_(ent_mirror_open(&m, mdir, ent_store_id(S), SC, &o));
    ENT_OK_(ent_log_cursor_open(&c, S, 1, NULL, 0));
    while (n < 8 && ent_log_next(&ev, c) == ENT_OK) { /* as the transport carries them: JSON */
        char *j = NULL;
        ENT_OK_(ent_event_to_json(&j, ev, 0));
        ENT_OK_(ent_event_from_json(&v[n++], ent_store_schema(m), j, strlen(j)));
        free(j);
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    ENT_OK_(ent_mirror_apply(m, v, 1, 1));
    ENT_OK_(ent_mirror_apply(m, v + 1, 1, 2));
    ENT_OK_(ent_mirror_apply(m, v + 2, 2, 3)); /* the swap */
    for (size_t i = 0; i < n; i++) ent_event_free(v[i]);
    {
        ent_entity *e = NULL;
        ent_value val = ent_value_string("y");
        ENT_OK_(ent_find_unique(&e, m, NULL, ent_type_field(ent_store_type(m, "u"), "code"), &val));
        ent_key k = ent_entity_key(e);
        CU_ASSERT_TRUE(k.len == 1 && k.str[0] == 'a');
        ent_entity_free(e);
    }
    ENT_OK_(ent_store_verify(&problems, m, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    ent_store_close(m);
    ent_test_rm_rf(mdir);
    close_store();
}

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_swap_and_rotate),
        ENT_TEST(t_commit_refused_whole),
        ENT_TEST(t_waits_that_end),
        ENT_TEST(t_closures_in_groups),
        ENT_TEST(t_mirror_applies_a_swap),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_unique_deferred_%s", backend);
    return ent_test_run(suite, cases);
}
