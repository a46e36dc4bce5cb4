/* ent_txn_defer_unique_checks(), run once per backend (argv[1]): entities swap and rotate unique
 * values in one transaction; a value taken while another entity holds it waits for the holder and
 * is found under the holder meanwhile; a value two entities still hold at the commit fails it
 * whole, naming both; in ent_txn_run() a closure that leaves one fails alone beside closures of
 * other threads in the same groups, checked against a model; a mirror applies a primary's swap.
 * t_model and t_model_threads: random transactions of such writes against a model of each value's
 * holders, with a mirror that applies them at the end. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_rand.h"
#include "test_util.h"

static const char *backend;
static char dir[ENT_TEST_PATH_MAX];
static ent_store *S;
static ent_schema *SC;

/* u: a unique string and a unique int; the non-unique tag is indexed too; alt, a second unique
 * string, for the model (t_model); peer, a ref to another u, and z, a unique float, for
 * t_with_ref_checks */
static const char schema_json[] =
    "{\"schema\":\"uniq\",\"version\":1,\"types\":{"
    "\"u\":{\"key\":\"string\",\"fields\":{"
    "\"code\":{\"id\":1,\"type\":\"string\",\"unique\":true},"
    "\"rank\":{\"id\":2,\"type\":\"int\",\"unique\":true},"
    "\"tag\":{\"id\":3,\"type\":\"string\",\"indexed\":true},"
    "\"alt\":{\"id\":4,\"type\":\"string\",\"unique\":true},"
    "\"peer\":{\"id\":5,\"type\":\"ref\",\"to\":\"u\"},"
    "\"z\":{\"id\":6,\"type\":\"float\",\"unique\":true}}}}}";

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

/* The key of the u whose unique field `field` holds v in t ("" when none), into out. */
static const char *holder(char *out, size_t cap, ent_txn *t, const char *field, ent_value v)
{
    ent_entity *e = NULL;
    int rc = ent_find_unique(&e, S, t, ent_type_field(U(), field), &v);
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
        CU_ASSERT_STRING_EQUAL(holder(hb_, sizeof hb_, (t), "code", ent_value_string(code)), (k)); \
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

/* A write that waits for a held value succeeds and leaves no message: a closure that then returns
 * a code of its own without a message is told so (on LMDB it got "table u:u.code: key of 2 bytes
 * exists already", the backend's refusal of the entry that waits; diff_backends seed 4). */
static int wait_then_fail(ent_txn *t, void *payload)
{
    int rc;
    (void)payload;
    if ((rc = ent_txn_defer_unique_checks(t)) || (rc = put(t, "a", "y", 1))) return rc;
    return ENT_INVALID;
}

static void t_wait_leaves_no_message(void)
{
    open_store();
    ENT_OK_(put(NULL, "a", "x", 1));
    ENT_OK_(put(NULL, "b", "y", 2));
    ENT_CHECK_RC(ent_txn_run(S, wait_then_fail, NULL), ENT_INVALID);
    ENT_ASSERT_MSG("the function returned invalid input without a message");
    HOLDS(NULL, "x", "a");
    HOLDS(NULL, "y", "b");
    verify_clean();
    close_store();
}

/* Create or replace u k with unique float z and a ref to peer (NULL: none). */
static int putz(ent_txn *t, const char *k, double z, const char *peer)
{
    ent_entity *e = NULL;
    ent_key key = ent_key_str(k);
    int rc;
    ENT_OK_(ent_entity_new(&e, U()));
    ENT_OK_(ent_entity_set_key(e, &key));
    ENT_OK_(ent_entity_set_float(e, "z", z));
    if (peer) ENT_OK_(ent_entity_set_string(e, "peer", peer));
    rc = ent_upsert(S, t, e, ENT_VERSION_ANY);
    ent_entity_free(e);
    return rc;
}

/* HOLDS for the unique float z */
#define ZHOLDS(t, z, k)                                                                            \
    do {                                                                                           \
        char hb_[64];                                                                              \
        CU_ASSERT_STRING_EQUAL(holder(hb_, sizeof hb_, (t), "z", ent_value_float(z)), (k));        \
    } while (0)

/* A create refused at the call (its float taken), then one that refers to it, as a load goes on */
static int refused_then_referred_fn(ent_txn *t, void *payload)
{
    int rc;
    (void)payload;
    if ((rc = ent_txn_defer_ref_checks(t))) return rc;
    if ((rc = putz(t, "x", -0.0, NULL)) != ENT_CONFLICT) return rc ? rc : ENT_INVALID;
    return putz(t, "y", 1.0, "x");
}

/* a and b (which refer to each other) swap their floats back and forth, with both deferrals;
 * dup 0: p and q made, referring to each other; 1: r takes 0.0, which b holds then as -0.0
 * (refused whole); 2: r refers to nothing (refused whole) */
static int cycle_swap_fn(ent_txn *t, void *payload)
{
    int rc, dup = *(int *)payload;
    if ((rc = ent_txn_defer_ref_checks(t)) || (rc = ent_txn_defer_unique_checks(t))) return rc;
    if (dup == 0) {
        if ((rc = putz(t, "a", 0.0, "b")) || (rc = putz(t, "b", NAN, "a"))) return rc;
        if ((rc = putz(t, "p", 2.0, "q")) || (rc = putz(t, "q", 3.0, "p"))) return rc;
        return ENT_OK;
    }
    if ((rc = putz(t, "a", -NAN, "b")) || (rc = putz(t, "b", -0.0, "a"))) return rc;
    return dup == 1 ? putz(t, "r", 0.0, "p") : putz(t, "r", 5.0, "gone");
}

/* Deferred unique checks beside deferred ref checks, in a transaction and in ent_txn_run(); a
 * float's -0.0 and 0.0 are one value, and so are all NaNs. A create refused at the call (a unique
 * value taken) leaves nothing for the commit's ref checks: a later entity that refers to it is the
 * one named, ENT_INVALID (the commit said the refused entity was "still referenced", ENT_CONFLICT,
 * as for a deleted one). */
static void t_with_ref_checks(void)
{
    ent_txn *t = NULL;
    uint64_t seq;
    int dup;
    open_store();
    ENT_OK_(putz(NULL, "a", 0.0, NULL));
    ENT_OK_(putz(NULL, "b", NAN, NULL));
    ENT_CHECK_RC(putz(NULL, "c", -0.0, NULL), ENT_CONFLICT);
    ENT_ASSERT_MSG("u.z: value -0.0 is taken by u \"a\" (as 0.0: -0.0 and 0.0 are one value)");
    ENT_CHECK_RC(putz(NULL, "c", -NAN, NULL), ENT_CONFLICT);
    ENT_ASSERT_MSG("u.z: value NaN is taken by u \"b\"");
    seq = last_seq();

    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_CHECK_RC(putz(t, "x", -0.0, NULL), ENT_CONFLICT); /* refused at the call: x never exists */
    ENT_OK_(putz(t, "y", 1.0, "x"));
    ENT_CHECK_RC(ent_txn_commit(t), ENT_INVALID);
    ENT_ASSERT_MSG("u.peer: u \"x\" does not exist");
    CU_ASSERT_EQUAL(last_seq(), seq);

    /* the same in a closure */
    ENT_CHECK_RC(ent_txn_run(S, refused_then_referred_fn, NULL), ENT_INVALID);
    ENT_ASSERT_MSG("u.peer: u \"x\" does not exist");
    CU_ASSERT_EQUAL(last_seq(), seq);

    /* both deferred: a and b swap their floats (as -NaN and -0.0) and refer to each other */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(ent_txn_defer_unique_checks(t));
    ENT_OK_(putz(t, "a", -NAN, "b"));
    ZHOLDS(t, NAN, "b"); /* a waits for b */
    ENT_OK_(putz(t, "b", -0.0, "a"));
    ZHOLDS(t, NAN, "a");
    ZHOLDS(t, 0.0, "b");
    ENT_OK_(ent_txn_commit(t));
    ZHOLDS(NULL, NAN, "a");
    ZHOLDS(NULL, -0.0, "b");
    verify_clean();

    /* one value two ways at the end: refused whole, naming both */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(ent_txn_defer_unique_checks(t));
    ENT_OK_(putz(t, "c", 0.0, "a"));
    ENT_CHECK_RC(ent_txn_commit(t), ENT_CONFLICT);
    ENT_ASSERT_MSG("u.z: value 0.0 is taken by u \"b\" (as -0.0: -0.0 and 0.0 are one value), and u \"c\" took it too");
    ZHOLDS(NULL, 0.0, "b");

    /* closures: the swap with the cycle kept, then a duplicate and a dangling ref, each alone */
    seq = last_seq();
    for (dup = 0; dup < 3; dup++) {
        ENT_CHECK_RC(ent_txn_run(S, cycle_swap_fn, &dup), dup == 0 ? ENT_OK : dup == 1 ? ENT_CONFLICT : ENT_INVALID);
        if (dup == 1)
            ENT_ASSERT_MSG("u.z: value 0.0 is taken by u \"b\" (as -0.0: -0.0 and 0.0 are one value), and u \"r\" took it too");
        if (dup == 2) ENT_ASSERT_MSG("u.peer: u \"gone\" does not exist");
    }
    CU_ASSERT_EQUAL(last_seq(), seq + 4);
    ZHOLDS(NULL, -0.0, "a");
    ZHOLDS(NULL, NAN, "b");
    ZHOLDS(NULL, 2.0, "p");
    CU_ASSERT_EQUAL(ent_exists(S, NULL, U(), &(ent_key){.kind = ENT_KEY_STRING, .str = "r", .len = 1}), ENT_NOTFOUND);
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

/* ---- the model (t_model) ---------------------------------------------------------------------
 * NK entities k0.. move values of three unique fields (code and alt: strings, rank: an int) drawn
 * from small pools, so that values are taken twice, swapped, rotated, freed by deletes and taken
 * by re-created entities. For each field and value the model keeps the entities that hold it in
 * the order they took it: the first is the one the index names, the others wait (each with the
 * time it began to wait: the commit's message names the earliest waiter still waiting). */
#define NK 7
#define NF 3
#define NV 5

static const char *const mfield[NF] = {"code", "rank", "alt"};

typedef struct mstate {
    int exists[NK];
    int v[NK][NF];         /* value index, -1: unset */
    int q[NF][NV][NK];     /* holders in taking order */
    uint64_t qt[NF][NV][NK]; /* when each took it */
    int qn[NF][NV];
} mstate;

typedef struct mrun {
    uint64_t rng;
    unsigned long seed;
    int step;
    mstate cur, com; /* in the transaction; committed */
    uint64_t clock;
    int deferred; /* ent_txn_defer_unique_checks() called in the current transaction */
    int bad;      /* mismatches (printed) */
    long ops, looks, commits, conflicts, aborts, runs;
    int tid;      /* names its keys and values: threads share the store, not them */
    int threaded; /* others write beside it: the log moves under it */
} mrun;

/* Each thread's model (t_model_threads runs several on one store). */
static _Thread_local mrun *MP;
#define M (*MP)

#define MCHECK(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (M.bad++ < 8) {                                                                     \
                fprintf(stderr, "\n  model seed %lu step %d: ", M.seed, M.step);                   \
                fprintf(stderr, __VA_ARGS__);                                                      \
                fprintf(stderr, " (last message: %s)\n", ent_errmsg());                            \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static unsigned mr(unsigned n) { return (unsigned)(test_rand_next(&M.rng) % n); }

static void mkey(char *out, size_t cap, int k) { snprintf(out, cap, "k%d_%d", M.tid, k); }

static int64_t mrank(int v) { return M.tid * 100 + v * 10; }

static void mval(char *out, size_t cap, int f, int v)
{
    if (f == 1) snprintf(out, cap, "%lld", (long long)mrank(v));
    else snprintf(out, cap, "%c%d_%d", f == 0 ? 'c' : 'a', M.tid, v);
}

static int mset_field(ent_entity *e, int f, int v)
{
    char b[24];
    if (v < 0) return ent_entity_unset(e, mfield[f]);
    if (f == 1) return ent_entity_set_int(e, mfield[f], mrank(v));
    mval(b, sizeof b, f, v);
    return ent_entity_set_string(e, mfield[f], b);
}

static ent_value mvalue(int f, int v, char *buf, size_t cap)
{
    if (f == 1) return ent_value_int(mrank(v));
    mval(buf, cap, f, v);
    return ent_value_string(buf);
}

/* Entity k moves field f to value v in the model. */
static void m_move(mstate *s, int k, int f, int v)
{
    int old = s->v[k][f];
    if (old == v) return;
    if (old >= 0) {
        int n = s->qn[f][old], i = 0;
        while (i < n && s->q[f][old][i] != k) i++;
        for (; i + 1 < n; i++) {
            s->q[f][old][i] = s->q[f][old][i + 1];
            s->qt[f][old][i] = s->qt[f][old][i + 1];
        }
        s->qn[f][old] = n - 1;
    }
    if (v >= 0) {
        s->q[f][v][s->qn[f][v]] = k;
        s->qt[f][v][s->qn[f][v]++] = ++M.clock;
    }
    s->v[k][f] = v;
}

/* Whether k taking vals would take a value another entity holds (the check without deferral). */
static int m_taken(const mstate *s, int k, const int *vals)
{
    for (int f = 0; f < NF; f++)
        if (vals[f] >= 0 && vals[f] != s->v[k][f] && s->qn[f][vals[f]] > 0) return 1;
    return 0;
}

static void m_write(mstate *s, int k, const int *vals)
{
    for (int f = 0; f < NF; f++) m_move(s, k, f, vals[f]);
    s->exists[k] = 1;
}

static void m_delete(mstate *s, int k)
{
    for (int f = 0; f < NF; f++) m_move(s, k, f, -1);
    s->exists[k] = 0;
}

/* A value two hold: the earliest waiter's field and value, or 0. */
static int m_dup(const mstate *s, int *of, int *ov)
{
    uint64_t best = UINT64_MAX;
    for (int f = 0; f < NF; f++)
        for (int v = 0; v < NV; v++)
            for (int i = 1; i < s->qn[f][v]; i++)
                if (s->qt[f][v][i] < best) {
                    best = s->qt[f][v][i];
                    *of = f;
                    *ov = v;
                }
    return best != UINT64_MAX;
}

static ent_entity *mentity(int k, const int *vals, int partial_mask)
{
    ent_entity *e = NULL;
    char kb[24];
    ent_key key;
    mkey(kb, sizeof kb, k);
    key = ent_key_str(kb);
    if (ent_entity_new(&e, U()) || ent_entity_set_key(e, &key)) return NULL;
    for (int f = 0; f < NF; f++) {
        if (partial_mask && !(partial_mask & (1 << f))) continue;
        if ((vals[f] >= 0 || partial_mask) && mset_field(e, f, vals[f])) return NULL;
    }
    if (!partial_mask && ent_entity_set_string(e, "tag", "t")) return NULL;
    return e;
}

/* The store's entity k against model s, in t (NULL: committed). */
static void m_check_entity(ent_store *st, ent_txn *t, const mstate *s, int k)
{
    char kb[24];
    ent_key key;
    ent_entity *e = NULL;
    int rc;
    mkey(kb, sizeof kb, k);
    key = ent_key_str(kb);
    rc = ent_get(&e, st, t, ent_store_type(st, "u"), &key);
    MCHECK(rc == (s->exists[k] ? ENT_OK : ENT_NOTFOUND), "get %s: %d, model %s", kb, rc,
           s->exists[k] ? "exists" : "absent");
    if (rc == ENT_OK && s->exists[k]) {
        for (int f = 0; f < NF; f++) {
            char want[24], got[32] = "";
            const char *str;
            size_t len;
            int64_t iv;
            int grc;
            if (f == 1) {
                grc = ent_entity_get_int(&iv, e, mfield[f]);
                if (grc == ENT_OK) snprintf(got, sizeof got, "%lld", (long long)iv);
            } else {
                grc = ent_entity_get_string(&str, &len, e, mfield[f]);
                if (grc == ENT_OK) snprintf(got, sizeof got, "%.*s", (int)len, str);
            }
            if (s->v[k][f] < 0) {
                MCHECK(grc != ENT_OK, "%s.%s is %s, model unset", kb, mfield[f], got);
            } else {
                mval(want, sizeof want, f, s->v[k][f]);
                MCHECK(grc == ENT_OK && !strcmp(got, want), "%s.%s is %s (rc %d), model %s", kb, mfield[f], got,
                       grc, want);
            }
        }
    }
    ent_entity_free(e);
}

/* Look-ups of value v of field f in t: the model's first holder, by ent_find_unique and ent_find. */
static void m_check_value(ent_store *st, ent_txn *t, const mstate *s, int f, int v)
{
    char vb[24], want[24] = "", got[32] = "";
    ent_value val = mvalue(f, v, vb, sizeof vb);
    const ent_field *fd = ent_type_field(ent_store_type(st, "u"), mfield[f]);
    ent_entity *e = NULL;
    ent_iter *it = NULL;
    int rc, n = 0;
    if (s->qn[f][v]) mkey(want, sizeof want, s->q[f][v][0]);
    rc = ent_find_unique(&e, st, t, fd, &val);
    MCHECK(rc == (want[0] ? ENT_OK : ENT_NOTFOUND), "find_unique %s=%s: %d, model holder \"%s\"", mfield[f], vb, rc,
           want);
    if (rc == ENT_OK) {
        ent_key k = ent_entity_key(e);
        snprintf(got, sizeof got, "%.*s", (int)k.len, k.str);
        MCHECK(!strcmp(got, want), "find_unique %s=%s: %s, model holder \"%s\"", mfield[f], vb, got, want);
    }
    ent_entity_free(e);
    e = NULL;
    rc = ent_find(&it, st, t, fd, &val);
    MCHECK(rc == ENT_OK, "find %s=%s: %d", mfield[f], vb, rc);
    while (rc == ENT_OK && (rc = ent_iter_next(&e, it)) == ENT_OK) {
        ent_key k = ent_entity_key(e);
        snprintf(got, sizeof got, "%.*s", (int)k.len, k.str);
        MCHECK(n == 0 && !strcmp(got, want), "find %s=%s: %s (#%d), model holder \"%s\"", mfield[f], vb, got, n,
               want);
        n++;
        ent_entity_free(e);
        e = NULL;
    }
    MCHECK(rc == ENT_OK || rc == ENT_NOTFOUND, "find %s=%s: next %d", mfield[f], vb, rc);
    MCHECK(n == (want[0] != 0), "find %s=%s: %d entities, model holder \"%s\"", mfield[f], vb, n, want);
    ent_iter_free(it);
}

/* The whole store (committed) against the model: entities, every value of every unique index,
 * verify clean (it replays the log and compares). */
static void m_check_store(ent_store *st, const mstate *s)
{
    uint64_t problems = 1;
    for (int k = 0; k < NK; k++) m_check_entity(st, NULL, s, k);
    for (int f = 0; f < NF; f++)
        for (int v = 0; v < NV; v++) m_check_value(st, NULL, s, f, v);
    MCHECK(ent_store_verify(&problems, st, NULL, NULL) == ENT_OK && problems == 0, "verify: %llu problems",
           (unsigned long long)problems);
}

static void m_random_vals(int *vals, int k)
{
    for (int f = 0; f < NF; f++) {
        unsigned r = mr(8);
        if (r < 2) vals[f] = -1;
        else if (r < 3) vals[f] = M.cur.v[k][f]; /* keeps it */
        else vals[f] = (int)mr(NV);
    }
}

/* One random operation or look-up in t (deferred or not, as M.deferred says). */
static void m_op(ent_txn *t)
{
    int k = (int)mr(NK), vals[NF], rc, want;
    unsigned what = mr(16);
    char kb[24];
    ent_key key;
    ent_entity *e;
    mstate *s = &M.cur;
    mkey(kb, sizeof kb, k);
    key = ent_key_str(kb);
    M.step++;
    M.ops++;
    if (what < 3) { /* look-ups */
        M.looks++;
        m_check_value(S, t, s, (int)mr(NF), (int)mr(NV));
        m_check_entity(S, t, s, k);
        return;
    }
    if (what < 5) { /* swap a field's values between two entities, or rotate three */
        int f = (int)mr(NF), n = 2 + (int)mr(2), ks[3], nv[3];
        for (int i = 0; i < n; i++) ks[i] = (int)mr(NK);
        for (int i = 0; i < n; i++) nv[i] = s->v[ks[(i + 1) % n]][f];
        for (int i = 0; i < n; i++) {
            int one[NF];
            memcpy(one, s->v[ks[i]], sizeof one);
            one[f] = nv[i];
            e = mentity(ks[i], one, 1 << f);
            MCHECK(e != NULL, "entity");
            if (!e) return;
            mkey(kb, sizeof kb, ks[i]);
            rc = ent_update(S, t, e, ENT_VERSION_ANY);
            ent_entity_free(e);
            want = !s->exists[ks[i]] ? ENT_NOTFOUND : !M.deferred && m_taken(s, ks[i], one) ? ENT_CONFLICT : ENT_OK;
            MCHECK(rc == want, "swap update %s.%s: %d, model %d", kb, mfield[f], rc, want);
            if (rc == ENT_OK && want == ENT_OK) m_write(s, ks[i], one);
        }
        return;
    }
    if (what < 7) { /* delete */
        rc = ent_delete(S, t, U(), &key, ENT_VERSION_ANY);
        want = s->exists[k] ? ENT_OK : ENT_NOTFOUND;
        MCHECK(rc == want, "delete %s: %d, model %d", kb, rc, want);
        if (rc == ENT_OK && want == ENT_OK) m_delete(s, k);
        return;
    }
    m_random_vals(vals, k);
    if (what < 9) { /* partial update of some fields */
        int mask = 1 + (int)mr((1 << NF) - 1), full[NF];
        memcpy(full, s->v[k], sizeof full);
        for (int f = 0; f < NF; f++)
            if (mask & (1 << f)) full[f] = vals[f];
        e = mentity(k, full, mask);
        MCHECK(e != NULL, "entity");
        if (!e) return;
        rc = ent_update(S, t, e, ENT_VERSION_ANY);
        want = !s->exists[k] ? ENT_NOTFOUND : !M.deferred && m_taken(s, k, full) ? ENT_CONFLICT : ENT_OK;
        MCHECK(rc == want, "update %s: %d, model %d", kb, rc, want);
        if (rc == ENT_OK && want == ENT_OK) m_write(s, k, full);
        ent_entity_free(e);
        return;
    }
    e = mentity(k, vals, 0);
    MCHECK(e != NULL, "entity");
    if (!e) return;
    if (what < 11) {
        rc = ent_create(S, t, e);
        want = s->exists[k] ? ENT_CONFLICT : !M.deferred && m_taken(s, k, vals) ? ENT_CONFLICT : ENT_OK;
        MCHECK(rc == want, "create %s: %d, model %d", kb, rc, want);
    } else if (what < 12) {
        rc = ent_replace(S, t, e, ENT_VERSION_ANY);
        want = !s->exists[k] ? ENT_NOTFOUND : !M.deferred && m_taken(s, k, vals) ? ENT_CONFLICT : ENT_OK;
        MCHECK(rc == want, "replace %s: %d, model %d", kb, rc, want);
    } else if (what < 13) {
        rc = ent_entity_set_version(e, 1 + mr(40));
        if (rc == ENT_OK) rc = ent_restore(S, t, e);
        want = !M.deferred && m_taken(s, k, vals) ? ENT_CONFLICT : ENT_OK;
        MCHECK(rc == want, "restore %s: %d, model %d", kb, rc, want);
    } else {
        rc = ent_upsert(S, t, e, ENT_VERSION_ANY);
        want = !M.deferred && m_taken(s, k, vals) ? ENT_CONFLICT : ENT_OK;
        MCHECK(rc == want, "upsert %s: %d, model %d", kb, rc, want);
    }
    if (rc == ENT_OK && want == ENT_OK) m_write(s, k, vals);
    ent_entity_free(e);
}

/* The message a commit refused by a value two hold carries. */
static void m_dup_msg(char *out, size_t cap, const mstate *s, int f, int v)
{
    char vb[24], hb[24], wb[24];
    uint64_t best = UINT64_MAX;
    int w = -1;
    mval(vb, sizeof vb, f, v);
    mkey(hb, sizeof hb, s->q[f][v][0]);
    for (int i = 1; i < s->qn[f][v]; i++)
        if (s->qt[f][v][i] < best) best = s->qt[f][v][i], w = s->q[f][v][i];
    mkey(wb, sizeof wb, w);
    snprintf(out, cap, "u.%s: value %s%s%s is taken by u \"%s\", and u \"%s\" took it too", mfield[f],
             f == 1 ? "" : "\"", vb, f == 1 ? "" : "\"", hb, wb);
}

/* The transaction's operations: a few checked at the call, then deferred. */
static int m_body(ent_txn *t)
{
    int pre = mr(4) == 0 ? (int)mr(4) : 0, n = 1 + (int)mr(mr(2) ? 8 : 24);
    M.deferred = 0;
    for (int i = 0; i < pre; i++) m_op(t);
    if (ent_txn_defer_unique_checks(t)) return ENT_INVALID;
    M.deferred = 1;
    for (int i = 0; i < n; i++) m_op(t);
    return ENT_OK;
}

typedef struct mclosure {
    mrun *run;
    int undo;
} mclosure;

/* It may run on another thread (a group's leader): the model is the caller's. */
static int m_closure(ent_txn *t, void *payload)
{
    mclosure *c = payload;
    mrun *outer = MP;
    int rc;
    MP = c->run;
    rc = m_body(t);
    if (rc == ENT_OK && c->undo) rc = ENT_INVALID;
    MP = outer;
    return rc;
}

static uint64_t m_last_seq(void)
{
    uint64_t f = 0, l = 0;
    ent_log_bounds(&f, &l, S, NULL);
    return l;
}

/* One transaction: explicit (committed or aborted) or an ent_txn_run() closure (kept or undone). */
static void m_txn(void)
{
    uint64_t seq = m_last_seq();
    int f = 0, v = 0, dup, rc, want;
    char msg[160];
    unsigned how = mr(8);
    M.cur = M.com;
    if (how < 5) {
        ent_txn *t = NULL;
        rc = ent_txn_begin(&t, S, ENT_TXN_WRITE);
        MCHECK(rc == ENT_OK, "begin: %d", rc);
        if (rc) return;
        rc = m_body(t);
        MCHECK(rc == ENT_OK, "defer: %d", rc);
        dup = m_dup(&M.cur, &f, &v);
        if (how == 0) {
            ent_txn_abort(t);
            M.aborts++;
            rc = want = ENT_OK;
            dup = -1;
        } else {
            rc = ent_txn_commit(t);
            want = dup ? ENT_CONFLICT : ENT_OK;
        }
    } else {
        mclosure c = {MP, how == 7};
        M.runs++;
        rc = ent_txn_run(S, m_closure, &c);
        dup = m_dup(&M.cur, &f, &v);
        want = c.undo ? ENT_INVALID : dup ? ENT_CONFLICT : ENT_OK;
        if (c.undo) dup = -1;
    }
    M.step++;
    MCHECK(rc == want, "commit: %d, model %d", rc, want);
    if (rc == ENT_CONFLICT && dup == 1) {
        m_dup_msg(msg, sizeof msg, &M.cur, f, v);
        MCHECK(strstr(ent_errmsg(), msg) != NULL, "commit message lacks '%s'", msg);
    }
    if (rc == ENT_OK && dup == 0) {
        M.com = M.cur;
        M.commits++;
    } else {
        M.conflicts += dup == 1;
        MCHECK(M.threaded || m_last_seq() == seq, "log moved from %llu to %llu", (unsigned long long)seq,
               (unsigned long long)m_last_seq());
    }
    m_check_store(S, &M.com);
}

/* A mirror that applies the primary's transactions (through JSON, as a transport carries them)
 * ends as each model (runs[0..n)). */
static void m_check_mirror(mrun *runs, int nruns)
{
    char mdir[ENT_TEST_PATH_MAX];
    ent_store *m = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_log_cursor *c = NULL;
    ent_event *ev, **v = NULL;
    size_t n = 0, cap = 0, txns = 0;
    uint64_t problems = 1;
    o.backend = backend;
    o.durability = ENT_NONE;
    ENT_TEST_MKDTEMP(mdir, "unique-model-mirror");
    ENT_OK_(ent_mirror_open(&m, mdir, ent_store_id(S), SC, &o));
    ENT_OK_(ent_log_cursor_open(&c, S, 1, NULL, 0));
    MP = &runs[0];
    for (;;) {
        int rc = ent_log_next(&ev, c);
        char *j = NULL;
        if (n && (rc != ENT_OK || ev->txn != v[0]->txn)) { /* a transaction ends before ev */
            int arc = ent_mirror_apply(m, v, n, ++txns);
            MCHECK(arc == ENT_OK, "mirror_apply of txn %llu: %d", (unsigned long long)v[0]->txn, arc);
            for (size_t i = 0; i < n; i++) ent_event_free(v[i]);
            n = 0;
        }
        if (rc != ENT_OK) break;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = realloc(v, cap * sizeof *v);
            CU_ASSERT_FATAL(v != NULL);
        }
        ENT_OK_(ent_event_to_json(&j, ev, 0));
        ENT_OK_(ent_event_from_json(&v[n++], ent_store_schema(m), j, strlen(j)));
        free(j);
        ent_event_free(ev);
    }
    free(v);
    ent_log_cursor_free(c);
    for (int r = 0; r < nruns; r++) {
        MP = &runs[r];
        for (int k = 0; k < NK; k++) m_check_entity(m, NULL, &M.com, k);
        for (int f = 0; f < NF; f++)
            for (int val = 0; val < NV; val++) m_check_value(m, NULL, &M.com, f, val);
    }
    MCHECK(ent_store_verify(&problems, m, NULL, NULL) == ENT_OK && problems == 0, "mirror verify: %llu problems",
           (unsigned long long)problems);
    ent_store_close(m);
    ent_test_rm_rf(mdir);
}

static void m_start(mrun *r, unsigned long seed, int tid, int threaded)
{
    memset(r, 0, sizeof *r);
    for (int k = 0; k < NK; k++)
        for (int f = 0; f < NF; f++) r->cur.v[k][f] = -1;
    r->com = r->cur;
    r->seed = seed;
    r->rng = seed * 0x9E3779B97F4A7C15ULL + 1 + (uint64_t)tid;
    r->tid = tid;
    r->threaded = threaded;
}

static void m_report(const char *what, unsigned long first, unsigned long seeds, const mrun *r, int nr)
{
    long ops = 0, looks = 0, commits = 0, conflicts = 0, aborts = 0, runs = 0;
    for (int i = 0; i < nr; i++) {
        ops += r[i].ops, looks += r[i].looks, commits += r[i].commits;
        conflicts += r[i].conflicts, aborts += r[i].aborts, runs += r[i].runs;
    }
    printf("\n  %s: seeds %lu..%lu, %ld operations (%ld look-ups), %ld commits, %ld refused by a value held "
           "twice, %ld aborts, %ld closures\n",
           what, first, first + seeds - 1, ops, looks, commits, conflicts, aborts, runs);
}

/* Reopen an LMDB store: what the commits left is on disk. */
static void m_reopen(void)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    if (strcmp(backend, "lmdb")) return;
    o.backend = backend;
    o.durability = ENT_NONE;
    ent_store_close(S);
    ENT_OK_(ent_store_open(&S, dir, SC, &o));
    ENT_OK_(ent_store_set_group_commit(S, ent_test_group_mode()));
}

/* UM_SEEDS=FIRST,N for more than ctest's 12 (one thread, 40 transactions each). */
static void t_model(void)
{
    unsigned long first = 1, seeds = 12;
    const char *env = getenv("UM_SEEDS");
    mrun *r = calloc(1, sizeof *r), sum;
    CU_ASSERT_FATAL(r != NULL);
    memset(&sum, 0, sizeof sum);
    if (env) sscanf(env, "%lu,%lu", &first, &seeds);
    for (unsigned long sd = first; sd < first + seeds && sum.bad == 0; sd++) {
        m_start(r, sd, 0, 0);
        MP = r;
        open_store();
        for (int i = 0; i < 40 && M.bad == 0; i++) m_txn();
        if (M.bad == 0) {
            m_reopen();
            m_check_store(S, &M.com);
        }
        if (M.bad == 0) m_check_mirror(r, 1);
        close_store();
        sum.ops += r->ops, sum.looks += r->looks, sum.commits += r->commits;
        sum.conflicts += r->conflicts, sum.aborts += r->aborts, sum.runs += r->runs, sum.bad += r->bad;
    }
    m_report("model", first, seeds, &sum, 1);
    CU_ASSERT_EQUAL(sum.bad, 0);
    free(r);
}

/* The model in MT threads at once on one store, each with its own entities and values: explicit
 * transactions and ent_txn_run() closures that share groups, some refused alone.
 * UMT_SEEDS=FIRST,N for more than ctest's 3. */
#define MT 4

static void *m_thread(void *p)
{
    MP = p;
    for (int i = 0; i < 30 && M.bad == 0; i++) m_txn();
    return NULL;
}

/* A progress callback on the store (verify reports little on a store this small): each thread's
 * verify once swapped it in the shared handle for its own replay's. */
static void m_progress(const char *what, uint64_t done, void *payload)
{
    (void)what;
    (void)done;
    (void)payload;
}

static void t_model_threads(void)
{
    unsigned long first = 1, seeds = 3;
    const char *env = getenv("UMT_SEEDS");
    mrun *r = calloc(MT, sizeof *r), tot;
    int bad = 0;
    CU_ASSERT_FATAL(r != NULL);
    memset(&tot, 0, sizeof tot);
    if (env) sscanf(env, "%lu,%lu", &first, &seeds);
    for (unsigned long sd = first; sd < first + seeds && bad == 0; sd++) {
        pthread_t th[MT];
        open_store();
        ent_store_set_progress(S, m_progress, NULL);
        for (int i = 0; i < MT; i++) {
            m_start(&r[i], sd, i + 1, 1);
            CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, m_thread, &r[i]), 0);
        }
        for (int i = 0; i < MT; i++) pthread_join(th[i], NULL);
        for (int i = 0; i < MT; i++) bad += r[i].bad;
        if (bad == 0) {
            m_reopen();
            for (int i = 0; i < MT; i++) {
                MP = &r[i];
                m_check_store(S, &M.com);
            }
            m_check_mirror(r, MT);
        }
        for (int i = 0; i < MT; i++) {
            bad += r[i].bad;
            tot.ops += r[i].ops, tot.looks += r[i].looks, tot.commits += r[i].commits;
            tot.conflicts += r[i].conflicts, tot.aborts += r[i].aborts, tot.runs += r[i].runs;
        }
        close_store();
    }
    m_report("model threads", first, seeds, &tot, 1);
    CU_ASSERT_EQUAL(bad, 0);
    free(r);
}

/* ---- floats, refs and a default under both deferrals (t_model_floats) --------------------------
 * FK entities f0.. of their own schema hold a unique float drawn from spellings of a few values
 * (0.0 and -0.0 one value, two NaNs one value, infinities, a subnormal, -DBL_MAX), the same float in
 * a non-unique index, a unique int with a default (7) and a ref to another of them. Random
 * transactions with both deferrals create, replace, upsert and delete; each commit is predicted:
 * ENT_INVALID or ENT_CONFLICT when a ref is left dangling or a referred entity deleted, else
 * ENT_CONFLICT exactly when two entities hold one value; then every value is looked up (either
 * spelling: ent_find_unique names the model's holder, ent_find on the non-unique index returns
 * every holder) and verify is clean. */
#define FK 6
#define FV 9

static const char fschema_json[] =
    "{\"schema\":\"ufloat\",\"version\":1,\"types\":{\"f\":{\"key\":\"string\",\"fields\":{"
    "\"z\":{\"id\":1,\"type\":\"float\",\"unique\":true},"
    "\"r\":{\"id\":2,\"type\":\"ref\",\"to\":\"f\"},"
    "\"d\":{\"id\":3,\"type\":\"int\",\"unique\":true,\"default\":7},"
    "\"x\":{\"id\":4,\"type\":\"float\",\"indexed\":true}}}}}";

typedef struct fent {
    int ex, z, d, r; /* z: spelling index or -1; d: 0..2 (7, 8, 9); r: a key index or -1 */
} fent;

static double fval(int v)
{
    switch (v) {
    case 0: return 0.0;
    case 1: return -0.0;
    case 2: return NAN;
    case 3: return -NAN;
    case 4: return 1.0;
    case 5: return INFINITY;
    case 6: return -INFINITY;
    case 7: return 4.9e-324;
    default: return -DBL_MAX;
    }
}

/* the value a spelling is: 0.0 and -0.0 one, the NaNs one */
static int fclass(int v) { return v == 1 ? 0 : v == 3 ? 2 : v; }

static int f_predict(const fent *m)
{
    for (int i = 0; i < FK; i++)
        if (m[i].ex && m[i].r >= 0 && !m[m[i].r].ex) return ENT_INVALID; /* or ENT_CONFLICT */
    for (int i = 0; i < FK; i++)
        for (int j = i + 1; j < FK; j++)
            if (m[i].ex && m[j].ex &&
                ((m[i].z >= 0 && m[j].z >= 0 && fclass(m[i].z) == fclass(m[j].z)) || m[i].d == m[j].d))
                return ENT_CONFLICT;
    return ENT_OK;
}

static void f_check(const fent *m, unsigned long seed, int step, int *bad)
{
    const ent_type *ty = ent_store_type(S, "f");
    uint64_t problems = 1;
    for (int v = 0; v < FV; v++) {
        ent_value val = ent_value_float(fval(v));
        ent_entity *e = NULL;
        ent_iter *it = NULL;
        int holder = -1, n = 0, want_n = 0, got = -1, rc;
        for (int i = 0; i < FK; i++)
            if (m[i].ex && m[i].z >= 0 && fclass(m[i].z) == fclass(v)) holder = i, want_n++;
        rc = ent_find_unique(&e, S, NULL, ent_type_field(ty, "z"), &val);
        if (rc == ENT_OK) got = ent_entity_key(e).str[1] - '0';
        ent_entity_free(e);
        if ((rc != ENT_OK && rc != ENT_NOTFOUND) || got != holder) {
            fprintf(stderr, "\n  floats seed %lu step %d: z=%g held by %d, model %d (rc %d)", seed, step, fval(v), got, holder, rc);
            (*bad)++;
        }
        ENT_OK_(ent_find(&it, S, NULL, ent_type_field(ty, "x"), &val));
        while (ent_iter_next(&e, it) == ENT_OK) {
            n++;
            ent_entity_free(e);
        }
        ent_iter_free(it);
        if (n != want_n) {
            fprintf(stderr, "\n  floats seed %lu step %d: x=%g: %d found, model %d", seed, step, fval(v), n, want_n);
            (*bad)++;
        }
    }
    ENT_OK_(ent_store_verify(&problems, S, NULL, NULL));
    if (problems) (*bad)++;
}

static void t_model_floats(void)
{
    unsigned long first = 1, seeds = 6;
    const char *env = getenv("UMF_SEEDS");
    int bad = 0;
    long commits = 0, refused = 0;
    if (env) sscanf(env, "%lu,%lu", &first, &seeds);
    for (unsigned long sd = first; sd < first + seeds && !bad; sd++) {
        uint64_t rng = sd * 0x9e3779b97f4a7c15ULL + 1;
        fent com[FK], cur[FK];
        const ent_type *ty;
        memset(com, 0, sizeof com);
        ent_test_store_open(&S, &SC, dir, backend, fschema_json, "unique-floats");
        ty = ent_store_type(S, "f");
        for (int step = 0; step < 120 && !bad; step++) {
            ent_txn *t = NULL;
            int nops = 1 + (int)(test_rand_next(&rng) % 5), failed = 0, rc, want;
            memcpy(cur, com, sizeof cur);
            ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
            ENT_OK_(ent_txn_defer_unique_checks(t));
            ENT_OK_(ent_txn_defer_ref_checks(t));
            for (int k = 0; k < nops; k++) {
                int i = (int)(test_rand_next(&rng) % FK), mode = (int)(test_rand_next(&rng) % 3);
                char kb[4] = {'f', (char)('0' + i), 0};
                ent_key key = ent_key_str(kb);
                ent_entity *e = NULL;
                fent nm = cur[i].ex ? cur[i] : (fent){1, -1, 0, -1};
                if (test_rand_next(&rng) % 4 == 0) {
                    if (!cur[i].ex) continue;
                    ENT_OK_(ent_delete(S, t, ty, &key, ENT_VERSION_ANY));
                    cur[i].ex = 0;
                    continue;
                }
                nm.ex = 1;
                if (test_rand_next(&rng) % 3) nm.z = (int)(test_rand_next(&rng) % FV);
                else if (test_rand_next(&rng) % 2) nm.z = -1;
                if (test_rand_next(&rng) % 3 == 0) nm.d = (int)(test_rand_next(&rng) % 3);
                if (test_rand_next(&rng) % 3 == 0) nm.r = test_rand_next(&rng) % 2 ? -1 : (int)(test_rand_next(&rng) % FK);
                ENT_OK_(ent_entity_new(&e, ty));
                ENT_OK_(ent_entity_set_key(e, &key));
                if (nm.z >= 0) {
                    ENT_OK_(ent_entity_set_float(e, "z", fval(nm.z)));
                    ENT_OK_(ent_entity_set_float(e, "x", fval(nm.z)));
                }
                if (nm.d != 0 || mode == 1) ENT_OK_(ent_entity_set_int(e, "d", 7 + nm.d)); /* else its default */
                if (nm.r >= 0) {
                    char rb[4] = {'f', (char)('0' + nm.r), 0};
                    ENT_OK_(ent_entity_set_string(e, "r", rb));
                }
                if (mode == 0) rc = ent_upsert(S, t, e, ENT_VERSION_ANY);
                else rc = cur[i].ex ? ent_replace(S, t, e, ENT_VERSION_ANY) : ent_create(S, t, e);
                ent_entity_free(e);
                if (rc != ENT_OK) {
                    fprintf(stderr, "\n  floats seed %lu step %d: write %d: %s", sd, step, rc, ent_errmsg());
                    failed = bad = 1;
                    break;
                }
                cur[i] = nm;
            }
            if (failed || test_rand_next(&rng) % 8 == 0) {
                ent_txn_abort(t);
                continue;
            }
            want = f_predict(cur);
            rc = ent_txn_commit(t);
            if (rc != want && !(want == ENT_INVALID && rc == ENT_CONFLICT && strstr(ent_errmsg(), "still referenced"))) {
                fprintf(stderr, "\n  floats seed %lu step %d: commit %d (%s), model %d", sd, step, rc, ent_errmsg(), want);
                bad++;
            }
            if (rc == ENT_OK) memcpy(com, cur, sizeof com), commits++;
            else refused++;
            f_check(com, sd, step, &bad);
        }
        ent_test_store_close(&S, &SC, dir);
    }
    printf("\n  floats model: seeds %lu..%lu, %ld commits, %ld refused ", first, first + seeds - 1, commits, refused);
    CU_ASSERT_EQUAL(bad, 0);
}

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_swap_and_rotate),
        ENT_TEST(t_commit_refused_whole),
        ENT_TEST(t_waits_that_end),
        ENT_TEST(t_closures_in_groups),
        ENT_TEST(t_wait_leaves_no_message),
        ENT_TEST(t_mirror_applies_a_swap),
        ENT_TEST(t_with_ref_checks),
        ENT_TEST(t_model_floats),
        ENT_TEST(t_model),
        ENT_TEST(t_model_threads),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_unique_deferred_%s", backend);
    return ent_test_run(suite, cases);
}
