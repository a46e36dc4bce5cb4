/* The event log contract, run once per registered backend (its name in argv[1]): replay gives the
 * same store, subscribers see each committed event once and in order, durable subscriptions
 * keep their checkpoints, truncation respects them, waiting wakes on commits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_int.h"
#include "test_util.h"

static const char *backend;

static const char schema_json[] =
    "{\"schema\":\"ev\",\"version\":1,\"types\":{"
    "\"user\":{\"key\":\"auto\",\"fields\":{"
    "  \"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "  \"score\":{\"id\":2,\"type\":\"int\",\"indexed\":true},"
    "  \"tags\":{\"id\":3,\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "  \"prefs\":{\"id\":4,\"type\":\"map\"}}},"
    "\"post\":{\"key\":\"string\",\"fields\":{"
    "  \"author\":{\"id\":1,\"type\":\"ref\",\"to\":\"user\"},"
    "  \"body\":{\"id\":2,\"type\":\"string\",\"default\":\"\"},"
    "  \"at\":{\"id\":3,\"type\":\"timestamp\",\"indexed\":true}}}}}";

typedef struct store_dir {
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s;
    ent_schema *sc;
} store_dir;

static void open_on(store_dir *d, const char *be)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = be;
    o.durability = ENT_NONE;
    ENT_TEST_MKDTEMP(d->dir, "contract-events");
    ENT_OK_(ent_schema_load_json(&d->sc, schema_json, strlen(schema_json), "ev"));
    ENT_OK_(ent_store_open(&d->s, d->dir, d->sc, &o));
    ENT_OK_(ent_store_set_group_commit(d->s, ent_test_group_mode())); /* threads meet in groups on every backend */
}

static void close_on(store_dir *d)
{
    ent_store_close(d->s);
    ent_schema_free(d->sc);
    ent_test_rm_rf(d->dir);
}

static ent_entity *user(ent_store *s, int i)
{
    ent_entity *e = NULL;
    char em[32];
    snprintf(em, sizeof em, "u%d@x", i);
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "user")));
    ENT_OK_(ent_entity_set_string(e, "email", em));
    ENT_OK_(ent_entity_set_int(e, "score", i));
    return e;
}

/* Every entity of every type as entity JSON, in key order: two stores are equal when these are. */
static char *dump(ent_store *s)
{
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    const ent_schema *sc = ent_store_schema(s);
    out[0] = '\0';
    for (size_t i = 0; i < ent_schema_type_count(sc); i++) {
        ent_iter *it = NULL;
        ent_entity *e;
        ENT_OK_(ent_scan(&it, s, NULL, ent_schema_type_at(sc, i), NULL, NULL));
        while (ent_iter_next(&e, it) == ENT_OK) {
            char *j = NULL;
            size_t l;
            ENT_OK_(ent_entity_to_json(&j, e, ENT_JSON_ENTITY));
            l = strlen(j);
            while (n + l + 2 > cap) out = realloc(out, cap *= 2);
            memcpy(out + n, j, l);
            n += l;
            out[n++] = '\n';
            out[n] = '\0';
            free(j);
            ent_entity_free(e);
        }
        ent_iter_free(it);
    }
    return out;
}

/* A randomized workload: creates, partial updates, replaces, deletes, multi-mutation
 * transactions, aborted transactions. */
static void workload(ent_store *s, int steps, unsigned seed)
{
    const ent_type *ut = ent_store_type(s, "user"), *pt = ent_store_type(s, "post");
    int users = 0;
    srand(seed);
    for (int step = 0; step < steps; step++) {
        ent_txn *w = NULL;
        int n = 1 + rand() % 4, abort_it = rand() % 8 == 0;
        ENT_OK_(ent_txn_begin(&w, s, ENT_TXN_WRITE));
        for (int m = 0; m < n; m++) {
            int r = rand() % 10;
            if (r < 3 || users == 0) {
                ent_entity *u = user(s, step * 10 + m);
                if (rand() % 2) ENT_OK_(ent_entity_set_json(u, "tags", "[\"a\",\"b\"]"));
                if (rand() % 3 == 0) ENT_OK_(ent_entity_set_json(u, "prefs", "{\"theme\":\"dark\",\"n\":[1,2,{\"x\":null}]}"));
                ENT_OK_(ent_create(s, w, u));
                if (!abort_it) users++;
                ent_entity_free(u);
            } else if (r < 5) {
                ent_entity *p = NULL;
                char k[32];
                ent_key key;
                snprintf(k, sizeof k, "p%d", rand() % 60);
                key = ent_key_str(k);
                ENT_OK_(ent_entity_new(&p, pt));
                ENT_OK_(ent_entity_set_key(p, &key));
                ENT_OK_(ent_entity_set_timestamp(p, "at", (int64_t)rand() * 1000));
                if (rand() % 2) ENT_OK_(ent_entity_set_string(p, "body", "hello"));
                ENT_OK_(ent_upsert(s, w, p, ENT_VERSION_ANY)); /* create or replace */
                ent_entity_free(p);
            } else {
                ent_entity *u = NULL;
                ent_key k = ent_key_id(1 + (uint64_t)(rand() % (users ? users : 1)));
                int rc = ent_get(&u, s, w, ut, &k);
                if (rc == ENT_NOTFOUND) continue;
                ENT_OK_(rc);
                if (r < 8) {
                    ENT_OK_(ent_entity_set_int(u, "score", rand() % 100));
                    if (rand() % 2) ENT_OK_(ent_entity_unset(u, "tags"));
                    ENT_OK_(ent_update(s, w, u, ent_entity_version(u)));
                } else {
                    rc = ent_delete(s, w, ut, &k, ENT_VERSION_ANY);
                    CU_ASSERT(rc == ENT_OK || rc == ENT_CONFLICT); /* a post may refer to it */
                }
                ent_entity_free(u);
            }
        }
        if (abort_it) ent_txn_abort(w);
        else ENT_OK_(ent_txn_commit(w));
    }
}

/* The first backend of the table other than this run's: a replay crosses backends. */
static const char *other_backend(void)
{
    const ent_backend_ops *b, *mine = ent__backend_find(backend, NULL);
    for (size_t i = 0; (b = ent__backend_at(i)); i++)
        if (b != mine) return b->name;
    return backend;
}

/* The last seq of s's log before the id counters' raises a replay writes at its end (of its own:
 * ent_store_replay() raises each counter to the source's when what it replayed left it lower). */
static uint64_t replayed_last(ent_store *s)
{
    uint64_t last = 0;
    ENT_OK_(ent_log_bounds(NULL, &last, s, NULL));
    for (; last; last--) {
        ent_event *ev = NULL;
        int op;
        ENT_OK_(ent_log_get(&ev, s, NULL, last));
        op = ev ? ev->op : 0;
        ent_event_free(ev);
        if (op != ENT_OP_LAST_ID) break;
    }
    return last;
}

static void t_replay_equality(void)
{
    store_dir src, same, other;
    const char *other_be = other_backend();
    char *a, *b, *c;
    uint64_t f1, l1, f2, l2, problems = 0;
    open_on(&src, backend);
    workload(src.s, 1500, 42); /* ~3700 mutations */
    open_on(&same, backend);
    open_on(&other, other_be);
    ENT_OK_(ent_store_replay(same.s, src.s, 0));
    ENT_OK_(ent_store_replay(other.s, src.s, 0));
    a = dump(src.s);
    b = dump(same.s);
    c = dump(other.s);
    CU_ASSERT(strlen(a) > 1000);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_STRING_EQUAL(a, c);
    ENT_OK_(ent_log_bounds(&f1, &l1, src.s, NULL));
    ENT_OK_(ent_log_bounds(&f2, &l2, other.s, NULL));
    CU_ASSERT_EQUAL(l1, l2); /* the same events, seq for seq */
    /* ... whole: ts too (a replayed log said every change happened at the replay's time) */
    for (uint64_t seq = f1, differ = 0; seq <= l1 && !differ; seq++) {
        ent_event *e1 = NULL, *e2 = NULL;
        char *j1 = NULL, *j2 = NULL;
        ENT_OK_(ent_log_get(&e1, src.s, NULL, seq));
        ENT_OK_(ent_log_get(&e2, other.s, NULL, seq));
        ENT_OK_(ent_event_to_json(&j1, e1, 0));
        ENT_OK_(ent_event_to_json(&j2, e2, 0));
        if (j1 && j2 && strcmp(j1, j2)) {
            differ = 1;
            CU_FAIL("a replayed event differs from its source's");
            fprintf(stderr, "\nsource:   %s\nreplayed: %s\n", j1, j2);
        }
        free(j1);
        free(j2);
        ent_event_free(e1);
        ent_event_free(e2);
    }
    ENT_OK_(ent_store_verify(&problems, src.s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    ENT_OK_(ent_store_verify(&problems, other.s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    /* replay into a store that is not empty is refused */
    ENT_CHECK_RC(ent_store_replay(same.s, src.s, 0), ENT_INVALID);
    /* replay up to a seq gives the state as of then: counts match the log prefix */
    {
        store_dir part;
        uint64_t half = l1 / 2, pl = 0, pf = 0;
        open_on(&part, backend);
        ENT_OK_(ent_store_replay(part.s, src.s, half));
        pl = replayed_last(part.s);
        CU_ASSERT(pl <= half && pl + 4 >= half); /* stops at a transaction boundary */
        (void)pf;
        close_on(&part);
    }
    free(a);
    free(b);
    free(c);
    close_on(&src);
    close_on(&same);
    close_on(&other);
}

/* A replay carries each type's id counter (ent_last_id()): a store loaded from a dump holds the
 * ids handed out and deleted before the dump in its counter, and a replay of it gave them out
 * again. The raise is an event of the log (ENT_OP_LAST_ID), replayed with its seq: the rebuilt
 * store's log is the source's, event for event, and nothing is committed there that its log
 * does not hold (the counter was set at the replay's end, in no event: a replay of the replayed
 * store, or a mirror of it, counted lower again). Also a replay up to a seq: ids handed out after
 * it were handed out all the same, raised at the end with an event of its own. */
static void t_replay_keeps_id_counter(void)
{
    store_dir src, dst, again, part;
    const ent_type *ut;
    ent_entity *u;
    ent_event *ev = NULL;
    uint64_t id = 0, l1 = 0, l2 = 0, problems = 9;
    open_on(&src, backend);
    ut = ent_store_type(src.s, "user");
    for (int i = 0; i < 3; i++) {
        u = user(src.s, i);
        ENT_OK_(ent_create(src.s, NULL, u));
        ent_entity_free(u);
    }
    ENT_OK_(ent_last_id_raise(src.s, NULL, ut, 10)); /* as `entity load` of a dump's counter line */
    ENT_OK_(ent_log_bounds(NULL, &l1, src.s, NULL));
    CU_ASSERT_EQUAL(l1, 4); /* the raise is event 4 */
    ENT_OK_(ent_store_verify(&problems, src.s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    open_on(&dst, backend);
    ENT_OK_(ent_store_replay(dst.s, src.s, 0));
    ENT_OK_(ent_last_id(&id, dst.s, NULL, ent_store_type(dst.s, "user")));
    CU_ASSERT_EQUAL(id, 10);
    ENT_OK_(ent_log_bounds(NULL, &l2, dst.s, NULL));
    CU_ASSERT_EQUAL(l2, l1); /* the raise replayed as event 4, none added at the end */
    ENT_OK_(ent_log_get(&ev, dst.s, NULL, 4));
    CU_ASSERT(ev && ev->op == ENT_OP_LAST_ID && ev->key.id == 10 && ev->version == 0 && !ev->data);
    ent_event_free(ev);
    ENT_OK_(ent_store_verify(&problems, dst.s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    /* a replay of the replayed store (its log alone) counts the same ids */
    open_on(&again, backend);
    ENT_OK_(ent_store_replay(again.s, dst.s, 0));
    ENT_OK_(ent_last_id(&id, again.s, NULL, ent_store_type(again.s, "user")));
    CU_ASSERT_EQUAL(id, 10);
    u = user(again.s, 100);
    ENT_OK_(ent_create(again.s, NULL, u));
    CU_ASSERT_EQUAL(ent_entity_key(u).id, 11);
    ent_entity_free(u);
    close_on(&again);
    u = user(dst.s, 100);
    ENT_OK_(ent_create(dst.s, NULL, u));
    CU_ASSERT_EQUAL(ent_entity_key(u).id, 11);
    ent_entity_free(u);
    open_on(&part, backend);
    ENT_OK_(ent_store_replay(part.s, src.s, 1));
    ENT_OK_(ent_last_id(&id, part.s, NULL, ent_store_type(part.s, "user")));
    CU_ASSERT_EQUAL(id, 10);
    /* event 1 replayed, then the raise to src's counter, logged as the replay's own */
    CU_ASSERT_EQUAL(replayed_last(part.s), 1);
    ENT_OK_(ent_log_bounds(NULL, &l2, part.s, NULL));
    CU_ASSERT_EQUAL(l2, 2);
    ENT_OK_(ent_log_get(&ev, part.s, NULL, 2));
    CU_ASSERT(ev && ev->op == ENT_OP_LAST_ID && ev->key.id == 10);
    ent_event_free(ev);
    ENT_OK_(ent_store_verify(&problems, part.s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    close_on(&part);
    close_on(&dst);
    close_on(&src);
}

typedef struct ops_seen {
    int ops[16];
    uint64_t keys[16];
    int n;
} ops_seen;

static void on_op(const ent_event *ev, void *p)
{
    ops_seen *x = p;
    if (x->n < 16) {
        x->keys[x->n] = ev->key.id;
        x->ops[x->n++] = ev->op;
    }
}

/* Who is handed a raise of an id counter (ENT_OP_LAST_ID): a subscriber or cursor of filter 0
 * keeps create, update and delete only, as it did before the raise was an event (a host's
 * callback written for those three took it for a delete); one that names ENT_OP_LAST_ID, or
 * ENT_OP_ALL, gets it. A raise at or below the counter writes nothing; one inside a transaction
 * is its event, gone with its abort. A type of string keys has no counter to raise. */
static void t_last_id_events(void)
{
    store_dir d;
    ops_seen all = {{0}, {0}, 0}, plain = {{0}, {0}, 0}, raises = {{0}, {0}, 0};
    ent_subscriber *s1 = NULL, *s2 = NULL, *s3 = NULL, *bad = NULL;
    ent_log_cursor *c = NULL;
    ent_event *ev = NULL;
    ent_txn *w = NULL;
    const ent_type *ut;
    ent_entity *u;
    uint64_t last = 0, n = 0;
    open_on(&d, backend);
    ut = ent_store_type(d.s, "user");
    ENT_OK_(ent_subscribe(&s1, d.s, NULL, ENT_OP_ALL, on_op, &all));
    ENT_OK_(ent_subscribe(&s2, d.s, NULL, 0, on_op, &plain));
    ENT_OK_(ent_subscribe(&s3, d.s, ut, ENT_OP_LAST_ID, on_op, &raises));
    ENT_CHECK_RC(ent_subscribe(&bad, d.s, NULL, 16, on_op, &all), ENT_INVALID); /* still a bit of no op */
    u = user(d.s, 1);
    ENT_OK_(ent_create(d.s, NULL, u)); /* seq 1, id 1 */
    ent_entity_free(u);
    ENT_OK_(ent_last_id_raise(d.s, NULL, ut, 7)); /* seq 2 */
    ENT_OK_(ent_last_id_raise(d.s, NULL, ut, 7)); /* at the counter: nothing */
    ENT_OK_(ent_last_id_raise(d.s, NULL, ut, 3)); /* below: nothing */
    ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
    CU_ASSERT_EQUAL(last, 2);
    ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
    ENT_OK_(ent_last_id_raise(d.s, w, ut, 50));
    ent_txn_abort(w);
    ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
    CU_ASSERT_EQUAL(last, 2);
    ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE)); /* a raise and a create in one transaction */
    ENT_OK_(ent_last_id_raise(d.s, w, ut, 20)); /* seq 3 */
    u = user(d.s, 2);
    ENT_OK_(ent_create(d.s, w, u)); /* seq 4, id 21 */
    CU_ASSERT_EQUAL(ent_entity_key(u).id, 21);
    ent_entity_free(u);
    ENT_OK_(ent_txn_commit(w));
    CU_ASSERT_EQUAL(all.n, 4);
    CU_ASSERT(all.ops[0] == ENT_OP_CREATE && all.ops[1] == ENT_OP_LAST_ID && all.keys[1] == 7 &&
              all.ops[2] == ENT_OP_LAST_ID && all.keys[2] == 20 && all.ops[3] == ENT_OP_CREATE);
    CU_ASSERT_EQUAL(plain.n, 2);
    CU_ASSERT(plain.ops[0] == ENT_OP_CREATE && plain.ops[1] == ENT_OP_CREATE);
    CU_ASSERT_EQUAL(raises.n, 2);
    CU_ASSERT(raises.ops[0] == ENT_OP_LAST_ID && raises.ops[1] == ENT_OP_LAST_ID);
    /* cursors: the same rule */
    ENT_OK_(ent_log_cursor_open(&c, d.s, 1, NULL, 0));
    while (ent_log_next(&ev, c) == ENT_OK) {
        CU_ASSERT(ev->op != ENT_OP_LAST_ID);
        n++;
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    CU_ASSERT_EQUAL(n, 2);
    n = 0;
    ENT_OK_(ent_log_cursor_open(&c, d.s, 1, ut, ENT_OP_ALL));
    while (ent_log_next(&ev, c) == ENT_OK) {
        CU_ASSERT_EQUAL(ev->seq, n + 1); /* gap-free */
        n++;
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    CU_ASSERT_EQUAL(n, 4);
    /* a durable subscription's cursor: create, update and delete, as filter 0 */
    ENT_OK_(ent_sub_create(d.s, "host", 0));
    ENT_OK_(ent_sub_cursor(&c, d.s, "host"));
    n = 0;
    while (ent_log_next(&ev, c) == ENT_OK) {
        CU_ASSERT(ev->op != ENT_OP_LAST_ID);
        n++;
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    CU_ASSERT_EQUAL(n, 2);
    /* a type of string keys: no counter, no event */
    ENT_CHECK_RC(ent_last_id_raise(d.s, NULL, ent_store_type(d.s, "post"), 5), ENT_INVALID);
    ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
    CU_ASSERT_EQUAL(last, 4);
    {
        uint64_t problems = 9;
        ENT_OK_(ent_store_verify(&problems, d.s, NULL, NULL));
        CU_ASSERT_EQUAL(problems, 0);
    }
    ent_unsubscribe(d.s, s1);
    ent_unsubscribe(d.s, s2);
    ent_unsubscribe(d.s, s3);
    close_on(&d);
}

/* ---- in-process subscribers ---------------------------------------------------------------- */

typedef struct seen {
    uint64_t seqs[256];
    int n;
    ent_store *s;
    int write_rc;
} seen;

static void on_ev(const ent_event *ev, void *p)
{
    seen *x = p;
    if (x->n < 256) x->seqs[x->n++] = ev->seq;
}

static void on_ev_write(const ent_event *ev, void *p)
{
    seen *x = p;
    ent_entity *u = user(x->s, 9999);
    (void)ev;
    x->write_rc = ent_create(x->s, NULL, u);
    ent_entity_free(u);
}

/* A replay up to a seq inside a transaction stops before that transaction: the destination never
 * holds a state the source did not have (half of one transaction's writes). */
static void t_replay_to_inside_a_txn(void)
{
    store_dir src, part;
    ent_txn *w = NULL;
    uint64_t f = 0, l = 0, n = 0;
    open_on(&src, backend);
    for (int t = 0; t < 2; t++) { /* txn 1: seqs 1..2, txn 2: seqs 3..4 */
        ENT_OK_(ent_txn_begin(&w, src.s, ENT_TXN_WRITE));
        for (int i = 0; i < 2; i++) {
            ent_entity *u = user(src.s, t * 2 + i);
            ENT_OK_(ent_create(src.s, w, u));
            ent_entity_free(u);
        }
        ENT_OK_(ent_txn_commit(w));
    }
    open_on(&part, backend);
    ENT_OK_(ent_store_replay(part.s, src.s, 3));
    ENT_OK_(ent_log_bounds(&f, &l, part.s, NULL));
    CU_ASSERT_EQUAL(replayed_last(part.s), 2);
    CU_ASSERT_EQUAL(l, 3); /* and the raise of the counter to src's 4, of its own */
    ENT_OK_(ent_count(&n, part.s, NULL, ent_store_type(part.s, "user")));
    CU_ASSERT_EQUAL(n, 2);
    close_on(&part);
    open_on(&part, backend);
    ENT_OK_(ent_store_replay(part.s, src.s, 1)); /* inside the first: nothing but the counter */
    ENT_OK_(ent_log_bounds(&f, &l, part.s, NULL));
    CU_ASSERT_EQUAL(replayed_last(part.s), 0);
    CU_ASSERT_EQUAL(l, 1);
    ENT_OK_(ent_count(&n, part.s, NULL, ent_store_type(part.s, "user")));
    CU_ASSERT_EQUAL(n, 0);
    close_on(&part);
    open_on(&part, backend);
    ENT_OK_(ent_store_replay(part.s, src.s, 4));
    ENT_OK_(ent_count(&n, part.s, NULL, ent_store_type(part.s, "user")));
    CU_ASSERT_EQUAL(n, 4);
    close_on(&part);
    close_on(&src);
}

static void t_subscribers(void)
{
    store_dir d;
    seen all, creates_of_posts, writer;
    ent_subscriber *s1, *s2, *s3;
    ent_txn *w;
    memset(&all, 0, sizeof all);
    memset(&creates_of_posts, 0, sizeof creates_of_posts);
    memset(&writer, 0, sizeof writer);
    open_on(&d, backend);
    writer.s = d.s;
    ENT_OK_(ent_subscribe(&s1, d.s, NULL, 0, on_ev, &all));
    ENT_OK_(ent_subscribe(&s2, d.s, ent_store_type(d.s, "post"), ENT_OP_CREATE, on_ev, &creates_of_posts));
    workload(d.s, 40, 7);
    /* once per committed event, in commit order, none for aborted txns */
    {
        uint64_t first, last;
        ENT_OK_(ent_log_bounds(&first, &last, d.s, NULL));
        CU_ASSERT_EQUAL((uint64_t)all.n, last);
        for (int i = 0; i < all.n; i++) CU_ASSERT_EQUAL(all.seqs[i], (uint64_t)i + 1);
    }
    for (int i = 0; i < creates_of_posts.n; i++) {
        ent_event *ev = NULL;
        ENT_OK_(ent_log_get(&ev, d.s, NULL, creates_of_posts.seqs[i]));
        CU_ASSERT_STRING_EQUAL(ent_type_name(ev->type), "post");
        CU_ASSERT_EQUAL(ev->op, ENT_OP_CREATE);
        ent_event_free(ev);
    }
    /* a callback cannot write to the store it is called from; the commit stands */
    ENT_OK_(ent_subscribe(&s3, d.s, NULL, 0, on_ev_write, &writer));
    ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
    {
        ent_entity *u = user(d.s, 123456);
        ENT_OK_(ent_create(d.s, w, u));
        ent_entity_free(u);
    }
    ENT_OK_(ent_txn_commit(w));
    CU_ASSERT_EQUAL(writer.write_rc, ENT_BUSY);
    ent_unsubscribe(d.s, s3);
    {
        int before = all.n;
        ent_unsubscribe(d.s, s1);
        workload(d.s, 3, 8);
        CU_ASSERT_EQUAL(all.n, before);
    }
    ent_unsubscribe(d.s, s2);
    close_on(&d);
}

static void on_ev_count(const ent_event *ev, void *p)
{
    (void)ev;
    (*(int *)p)++;
}

/* Many subscribers, unsubscribed in the order they came (the far end of the list: new ones go in
 * front): each unsubscribe unlinks its own node. It walked the list to find it, so ending n
 * subscribers was quadratic (30 000: 5.4 G instructions); counted, not timed. The ones left still
 * get every event, the ones gone none; a subscriber handed to another store's unsubscribe is not
 * that store's and keeps getting its events. */
static void t_many_subscribers_unsubscribed(void)
{
    enum { N = 3000 };
    store_dir d, o;
    ent_subscriber **subs = calloc(N, sizeof *subs), *theirs = NULL;
    int *got = calloc(N, sizeof *got), their_got = 0;
    uint64_t steps;
    ent_entity *u;
    CU_ASSERT_PTR_NOT_NULL_FATAL(subs);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    open_on(&d, backend);
    open_on(&o, backend);
    for (int i = 0; i < N; i++) ENT_OK_(ent_subscribe(&subs[i], d.s, NULL, 0, on_ev_count, &got[i]));
    ENT_OK_(ent_subscribe(&theirs, o.s, NULL, 0, on_ev_count, &their_got));
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 1))));
    ent_entity_free(u);
    steps = d.s->sub_steps;
    for (int i = 0; i < N; i += 2) ent_unsubscribe(d.s, subs[i]);
    ent_unsubscribe(d.s, theirs); /* not d's */
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 2))));
    ent_entity_free(u);
    ENT_OK_(ent_create(o.s, NULL, (u = user(o.s, 3))));
    ent_entity_free(u);
    for (int i = 1; i < N; i += 2) ent_unsubscribe(d.s, subs[i]);
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 4))));
    ent_entity_free(u);
    if (d.s->sub_steps - steps >= 4 * N)
        fprintf(stderr, "\n  %llu subscriber nodes stepped over\n", (unsigned long long)(d.s->sub_steps - steps));
    CU_ASSERT(d.s->sub_steps - steps < 4 * N);
    for (int i = 0; i < N; i++) CU_ASSERT_EQUAL(got[i], i % 2 ? 2 : 1);
    CU_ASSERT_EQUAL(their_got, 1);
    CU_ASSERT_FALSE(ent__log_has_subscribers(d.s));
    ent_unsubscribe(o.s, theirs);
    close_on(&o);
    close_on(&d);
    free(subs);
    free(got);
}

/* A callback that changes the subscriptions of its store and tries to write. */
typedef struct juggler {
    ent_store *s, *other;
    ent_subscriber *self, *victim, *added;
    seen added_seen;
    int calls, other_rc, same_rc;
} juggler;

static void on_ev_juggle(const ent_event *ev, void *p)
{
    juggler *j = p;
    ent_entity *u;
    (void)ev;
    if (j->calls++) return;
    j->same_rc = ent_create(j->s, NULL, (u = user(j->s, 7777)));
    ent_entity_free(u);
    j->other_rc = ent_create(j->other, NULL, (u = user(j->other, 8888)));
    ent_entity_free(u);
    ent_unsubscribe(j->s, j->victim);
    CU_ASSERT_EQUAL(ent_subscribe(&j->added, j->s, NULL, 0, on_ev, &j->added_seen), ENT_OK);
    ent_unsubscribe(j->s, j->self);
}

static void t_callbacks_change_subscriptions(void)
{
    store_dir d, o;
    juggler j;
    seen victim;
    uint64_t n = 0;
    memset(&j, 0, sizeof j);
    memset(&victim, 0, sizeof victim);
    open_on(&d, backend);
    open_on(&o, backend);
    j.s = d.s;
    j.other = o.s;
    ENT_OK_(ent_subscribe(&j.victim, d.s, NULL, 0, on_ev, &victim));
    ENT_OK_(ent_subscribe(&j.self, d.s, NULL, 0, on_ev_juggle, &j));
    workload(d.s, 10, 3);
    /* it ran once and unsubscribed itself; it could write to no store (a write from a callback
     * could close a cycle of waits with another thread) */
    CU_ASSERT_EQUAL(j.calls, 1);
    CU_ASSERT_EQUAL(j.same_rc, ENT_BUSY);
    CU_ASSERT_EQUAL(j.other_rc, ENT_BUSY);
    ENT_OK_(ent_count(&n, o.s, NULL, ent_store_type(o.s, "user")));
    CU_ASSERT_EQUAL(n, 0);
    /* the victim got at most the events before its removal; the added one everything after */
    CU_ASSERT(victim.n <= 1);
    {
        uint64_t last = 0;
        ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
        CU_ASSERT(j.added_seen.n > 0);
        CU_ASSERT_EQUAL(j.added_seen.seqs[j.added_seen.n - 1], last);
        for (int i = 1; i < j.added_seen.n; i++)
            CU_ASSERT_EQUAL(j.added_seen.seqs[i], j.added_seen.seqs[i - 1] + 1);
    }
    ent_unsubscribe(d.s, j.added);
    close_on(&o);
    close_on(&d);
}

/* What a subscriber saw. Not locked: deliveries of one store never overlap, and each happens
 * after the one before it (ThreadSanitizer reports a race here if they did not). */
typedef struct seen_seqs {
    uint64_t got, last, out_of_order;
} seen_seqs;

static void on_seq(const ent_event *ev, void *p)
{
    seen_seqs *q = p;
    if (ev->seq != q->last + 1) q->out_of_order++;
    q->last = ev->seq;
    q->got++;
}

typedef struct grow_writer {
    ent_store *s;
    int from, n, rc;
} grow_writer;

static void *grow_writer_main(void *p)
{
    grow_writer *g = p;
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = g->from; i < g->from + g->n && g->rc == ENT_OK; i++) {
        ent_entity *u = user(g->s, i);
        g->rc = ent_entity_set_string(u, "prefs.blob", big);
        if (g->rc == ENT_OK) g->rc = ent_create(g->s, NULL, u);
        ent_entity_free(u);
    }
    return NULL;
}

/* Subscribers while the map must grow (LMDB: at puts and at commits), with writers in several
 * threads: every commit is delivered once, in commit order, one delivery after the other. */
static void t_subscribers_while_the_map_grows(void)
{
    enum { THREADS = 4, PER = 500 };
    store_dir d;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_subscriber *sub = NULL;
    seen_seqs q = {0, 0, 0};
    uint64_t last = 0;
    pthread_t th[THREADS];
    grow_writer g[THREADS];
    o.backend = backend;
    o.durability = ENT_NONE;
    o.map_size = (size_t)1 << 20;
    ENT_TEST_MKDTEMP(d.dir, "contract-events");
    ENT_OK_(ent_schema_load_json(&d.sc, schema_json, strlen(schema_json), "ev"));
    ENT_OK_(ent_store_open(&d.s, d.dir, d.sc, &o));
    ENT_OK_(ent_store_set_group_commit(d.s, ent_test_group_mode()));
    ENT_OK_(ent_subscribe(&sub, d.s, NULL, 0, on_seq, &q));
    for (int i = 0; i < THREADS; i++) {
        g[i] = (grow_writer){d.s, i * PER, PER, ENT_OK};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, grow_writer_main, &g[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(g[i].rc, ENT_OK);
    }
    ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
    CU_ASSERT_EQUAL(last, THREADS * PER);
    CU_ASSERT_EQUAL(q.got, THREADS * PER);
    CU_ASSERT_EQUAL(q.last, THREADS * PER);
    CU_ASSERT_EQUAL(q.out_of_order, 0);
    if (ent__bk_caps(&d.s->bk) & ENT_BK_CAP_GROWS) {
        ent_store_info info;
        ENT_OK_(ent_store_get_info(&info, d.s));
        CU_ASSERT(info.map_size > ((uint64_t)1 << 20)); /* it grew, with a subscriber attached */
    }
    ent_unsubscribe(d.s, sub);
    close_on(&d);
}

/* store.h: ent_store_close() from a callback of the store is refused (the store stays open, the
 * message says why): the delivery and the commit under it used the freed store (ASan). */
typedef struct closer {
    ent_store *s;
    int calls;
    char msg[256];
} closer;

static void on_ev_close(const ent_event *ev, void *p)
{
    closer *c = p;
    (void)ev;
    c->calls++;
    ent_store_close(c->s);
    snprintf(c->msg, sizeof c->msg, "%s", ent_errmsg());
}

/* ent_log_wait() from a callback of the store: an event that is there answers at once; one still
 * to come is ENT_BUSY instead of a wait that this process's next commit (which waits for the
 * delivery) could never end: forever with -1, the whole timeout otherwise. */
typedef struct waiter {
    ent_store *s;
    int rc_have, rc_next;
    uint64_t last;
} waiter;

static void on_ev_wait(const ent_event *ev, void *p)
{
    waiter *w = p;
    w->rc_have = ent_log_wait(&w->last, w->s, ev->seq - 1, -1);
    w->rc_next = ent_log_wait(NULL, w->s, ev->seq, -1);
}

static void t_wait_from_a_callback_does_not_block(void)
{
    store_dir d;
    waiter w = {0};
    ent_subscriber *sub = NULL;
    ent_entity *u;
    open_on(&d, backend);
    w.s = d.s;
    ENT_OK_(ent_subscribe(&sub, d.s, NULL, 0, on_ev_wait, &w));
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 1))));
    ent_entity_free(u);
    ent_unsubscribe(d.s, sub);
    CU_ASSERT_EQUAL(w.rc_have, ENT_OK);
    CU_ASSERT_EQUAL(w.last, 1);
    CU_ASSERT_EQUAL(w.rc_next, ENT_BUSY);
    close_on(&d);
}

/* ent_store_verify() from a callback only reads the store, yet it failed there: its replay of the
 * log into a scratch store in memory is an open for writing and writes, which a callback may not
 * make (ENT_BUSY "an event callback cannot open a store for writing"). A new in-memory store's
 * writer is nobody's, so that open is allowed to a callback (writes to it stay refused), and the
 * scratch store, which no host has, takes the replay. */
typedef struct verifier {
    ent_store *s;
    int calls, rc_verify, rc_open, rc_write;
    uint64_t problems;
    char msg[256];
} verifier;

static void on_ev_verify(const ent_event *ev, void *p)
{
    verifier *v = p;
    ent_store *m = NULL;
    ent_store_opts mem = ENT_STORE_OPTS_INIT;
    ent_entity *e = NULL;
    (void)ev;
    v->calls++;
    v->rc_verify = ent_store_verify(&v->problems, v->s, NULL, NULL);
    snprintf(v->msg, sizeof v->msg, "%s", ent_errmsg());
    mem.backend = "memory";
    v->rc_open = ent_store_open(&m, NULL, v->s->lay->schema, &mem);
    if (v->rc_open == ENT_OK) {
        e = user(m, 9);
        v->rc_write = ent_create(m, NULL, e);
        ent_entity_free(e);
        ent_store_close(m);
    }
}

static void t_verify_from_a_callback(void)
{
    store_dir d;
    verifier v;
    ent_subscriber *sub = NULL;
    ent_entity *u;
    open_on(&d, backend);
    memset(&v, 0, sizeof v);
    v.s = d.s;
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 1))));
    ent_entity_free(u);
    ENT_OK_(ent_subscribe(&sub, d.s, NULL, 0, on_ev_verify, &v));
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 2))));
    ent_entity_free(u);
    ent_unsubscribe(d.s, sub);
    CU_ASSERT_EQUAL(v.calls, 1);
    if (v.rc_verify) fprintf(stderr, "\n  verify from a callback: %s\n", v.msg);
    CU_ASSERT_EQUAL(v.rc_verify, ENT_OK);
    CU_ASSERT_EQUAL(v.problems, 0);
    CU_ASSERT_EQUAL(v.rc_open, ENT_OK);
    CU_ASSERT_EQUAL(v.rc_write, ENT_BUSY); /* the callback's own writes stay refused */
    close_on(&d);
}

static void t_close_from_a_callback_is_refused(void)
{
    store_dir d;
    closer c;
    ent_subscriber *sub = NULL;
    ent_entity *u;
    uint64_t n = 0;
    open_on(&d, backend);
    memset(&c, 0, sizeof c);
    c.s = d.s;
    ENT_OK_(ent_subscribe(&sub, d.s, NULL, 0, on_ev_close, &c));
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 1))));
    ent_entity_free(u);
    CU_ASSERT_EQUAL(c.calls, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.msg, "from an event callback of the store"));
    ent_unsubscribe(d.s, sub);
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 2)))); /* still open */
    ent_entity_free(u);
    ENT_OK_(ent_count(&n, d.s, NULL, ent_store_type(d.s, "user")));
    CU_ASSERT_EQUAL(n, 2);
    close_on(&d);
}

/* A callback waits for no store's writer: a thread that holds one (here Y's, in a transaction)
 * may be committing to the callback's store X, which waits for this delivery. A writable open, a
 * plain copy and a sync that needs the writer did wait for it, from a callback, and the two
 * threads waited for each other for ever (LMDB); they are ENT_BUSY now, on every backend. (A
 * compacting copy only reads; it is left out here, as a read of Y from X's delivery while the
 * holder begins on X is a lock order TSan reports for the backend's read holds.) */
typedef struct no_writer {
    store_dir *y;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int b_holds, in_cb, calls;
    int rc_open, rc_copy, rc_sync;
    char copy_dir[ENT_TEST_PATH_MAX + 16];
} no_writer;

static void on_ev_no_writer(const ent_event *ev, void *payload)
{
    no_writer *nw = payload;
    ent_store *z = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    char dest[ENT_TEST_PATH_MAX + 32];
    (void)ev;
    pthread_mutex_lock(&nw->mu);
    nw->in_cb = 1; /* the holder commits to this store after this, so its event comes second */
    pthread_cond_broadcast(&nw->cv);
    while (!nw->b_holds) pthread_cond_wait(&nw->cv, &nw->mu);
    pthread_mutex_unlock(&nw->mu);
    if (nw->calls++) return; /* the first event's, on the thread that commits while the holder waits */
    o.backend = backend;
    nw->rc_open = ent_store_open(&z, nw->y->dir, NULL, &o);
    if (!nw->rc_open) ent_store_close(z);
    snprintf(dest, sizeof dest, "%s-plain", nw->copy_dir);
    nw->rc_copy = ent_store_copy(nw->y->s, dest, 0);
    nw->rc_sync = ent_store_sync(nw->y->s);
}

/* The callback's writable open of Y: ENT_BUSY, but on a volatile backend (memory), whose open
 * makes a new store that no thread can hold the writer of (the path is ignored): that one opens,
 * and fails only for having no schema to make the store with. */
static void open_refused(int rc)
{
    const ent_backend_ops *b = ent__backend_find(backend, NULL);
    if (b && (b->caps & ENT_BK_CAP_VOLATILE)) {
        CU_ASSERT_NOT_EQUAL(rc, ENT_BUSY);
    } else {
        CU_ASSERT_EQUAL(rc, ENT_BUSY);
    }
}

typedef struct holder {
    no_writer *nw;
    ent_store *x;
    int rc_begin, rc_create;
} holder;

static void *holder_thread(void *arg)
{
    holder *h = arg;
    ent_txn *w = NULL;
    ent_entity *u = user(h->x, 2);
    h->rc_begin = ent_txn_begin(&w, h->nw->y->s, ENT_TXN_WRITE);
    pthread_mutex_lock(&h->nw->mu);
    h->nw->b_holds = 1;
    pthread_cond_broadcast(&h->nw->cv);
    while (!h->nw->in_cb) pthread_cond_wait(&h->nw->cv, &h->nw->mu);
    pthread_mutex_unlock(&h->nw->mu);
    h->rc_create = ent_create(h->x, NULL, u); /* its delivery comes after the callback's */
    if (!h->rc_begin) ent_txn_abort(w);
    ent_entity_free(u);
    return NULL;
}

static void t_callback_waits_for_no_writer(void)
{
    store_dir x, y;
    no_writer nw;
    holder h;
    pthread_t b;
    ent_subscriber *sub = NULL;
    ent_entity *u;
    int lmdb = strcmp(backend, "memory") != 0; /* lmdb, and fault over it */
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    open_on(&x, backend);
    open_on(&y, backend);
    ent_store_close(y.s); /* lazy: a commit leaves the sync work that takes the writer */
    o.backend = backend;
    o.durability = ENT_LAZY;
    ENT_OK_(ent_store_open(&y.s, y.dir, y.sc, &o));
    memset(&nw, 0, sizeof nw);
    nw.y = &y;
    pthread_mutex_init(&nw.mu, NULL);
    pthread_cond_init(&nw.cv, NULL);
    snprintf(nw.copy_dir, sizeof nw.copy_dir, "%s", y.dir);
    ENT_OK_(ent_create(y.s, NULL, (u = user(y.s, 1))));
    ent_entity_free(u);
    ENT_OK_(ent_subscribe(&sub, x.s, NULL, 0, on_ev_no_writer, &nw));
    h.nw = &nw;
    h.x = x.s;
    alarm(120); /* the cycle of waits shows as SIGALRM */
    CU_ASSERT_EQUAL_FATAL(pthread_create(&b, NULL, holder_thread, &h), 0);
    ENT_OK_(ent_create(x.s, NULL, (u = user(x.s, 1))));
    ent_entity_free(u);
    pthread_join(b, NULL);
    alarm(0);
    CU_ASSERT_EQUAL(h.rc_begin, ENT_OK);
    CU_ASSERT_EQUAL(h.rc_create, ENT_OK);
    CU_ASSERT_EQUAL(nw.calls, 2); /* the holder's event too */
    open_refused(nw.rc_open);
    CU_ASSERT_EQUAL(nw.rc_copy, ENT_BUSY);
    CU_ASSERT_EQUAL(nw.rc_sync, lmdb ? ENT_BUSY : ENT_OK);       /* the memory backend has nothing to sync */
    ent_unsubscribe(x.s, sub);
    pthread_cond_destroy(&nw.cv);
    pthread_mutex_destroy(&nw.mu);
    close_on(&y);
    close_on(&x);
}

/* With no thread holding the writer, a callback's sync syncs (it does not wait: it takes a free
 * writer); a writable open is refused all the same, as it may have to wait. Stores of its own:
 * the holder above began on X while holding Y, and this reads Y from X's delivery. */
static void t_callback_syncs_when_the_writer_is_free(void)
{
    store_dir x, y;
    no_writer nw;
    ent_subscriber *sub = NULL;
    ent_entity *u;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    open_on(&x, backend);
    open_on(&y, backend);
    ent_store_close(y.s);
    o.backend = backend;
    o.durability = ENT_LAZY;
    ENT_OK_(ent_store_open(&y.s, y.dir, y.sc, &o));
    memset(&nw, 0, sizeof nw);
    nw.y = &y;
    nw.b_holds = 1;
    pthread_mutex_init(&nw.mu, NULL);
    pthread_cond_init(&nw.cv, NULL);
    snprintf(nw.copy_dir, sizeof nw.copy_dir, "%s", y.dir);
    ENT_OK_(ent_create(y.s, NULL, (u = user(y.s, 1)))); /* lazy: left for a sync */
    ent_entity_free(u);
    ENT_OK_(ent_subscribe(&sub, x.s, NULL, 0, on_ev_no_writer, &nw));
    ENT_OK_(ent_create(x.s, NULL, (u = user(x.s, 1))));
    ent_entity_free(u);
    CU_ASSERT_EQUAL(nw.calls, 1);
    CU_ASSERT_EQUAL(nw.rc_sync, ENT_OK);
    open_refused(nw.rc_open);
    CU_ASSERT_EQUAL(nw.rc_copy, ENT_BUSY);
    ent_unsubscribe(x.s, sub);
    pthread_cond_destroy(&nw.cv);
    pthread_mutex_destroy(&nw.mu);
    close_on(&y);
    close_on(&x);
}

/* A free-form map is a JSON object: the same pairs in another order are no change. */
static void t_map_order_is_no_change(void)
{
    store_dir d;
    ent_entity *u, *v = NULL;
    ent_key k;
    uint64_t last = 0, again = 0;
    open_on(&d, backend);
    u = user(d.s, 1);
    ENT_OK_(ent_entity_set_int(u, "prefs.a", 1));
    ENT_OK_(ent_entity_set_int(u, "prefs.b", 2));
    ENT_OK_(ent_create(d.s, NULL, u));
    k = ent_entity_key(u);
    ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
    ENT_OK_(ent_entity_new(&v, ent_store_type(d.s, "user")));
    ENT_OK_(ent_entity_set_key(v, &k));
    ENT_OK_(ent_entity_set_int(v, "prefs.b", 2));
    ENT_OK_(ent_entity_set_int(v, "prefs.a", 1));
    ENT_OK_(ent_update(d.s, NULL, v, 1));
    CU_ASSERT_EQUAL(ent_entity_version(v), 1);
    ENT_OK_(ent_log_bounds(NULL, &again, d.s, NULL));
    CU_ASSERT_EQUAL(again, last);
    /* a different value is a change */
    ENT_OK_(ent_entity_set_int(v, "prefs.a", 3));
    ENT_OK_(ent_update(d.s, NULL, v, 1));
    CU_ASSERT_EQUAL(ent_entity_version(v), 2);
    ent_entity_free(v);
    ent_entity_free(u);
    close_on(&d);
}

/* ---- durable subscriptions and truncation --------------------------------------------------- */

static void t_durable_subscriptions(void)
{
    store_dir d;
    uint64_t cp = 99, first, last;
    ent_sub_info *list = NULL;
    size_t n = 0;
    open_on(&d, backend);
    workload(d.s, 30, 5);
    ENT_OK_(ent_log_bounds(&first, &last, d.s, NULL));
    ENT_OK_(ent_sub_create(d.s, "from-start", 0));
    ENT_OK_(ent_sub_create(d.s, "from-now", 1));
    ENT_CHECK_RC(ent_sub_create(d.s, "from-now", 0), ENT_CONFLICT);
    ENT_CHECK_RC(ent_sub_create(d.s, "", 0), ENT_INVALID);
    ENT_OK_(ent_sub_checkpoint(&cp, d.s, NULL, "from-start"));
    CU_ASSERT_EQUAL(cp, 0);
    ENT_OK_(ent_sub_checkpoint(&cp, d.s, NULL, "from-now"));
    CU_ASSERT_EQUAL(cp, last);
    ENT_OK_(ent_sub_list(&list, &n, d.s));
    CU_ASSERT_EQUAL(n, 2);
    free(list);
    /* history first: the cursor starts after the checkpoint */
    {
        ent_log_cursor *c = NULL;
        ent_event *ev = NULL;
        ENT_OK_(ent_sub_cursor(&c, d.s, "from-start"));
        ENT_OK_(ent_log_next(&ev, c));
        CU_ASSERT_EQUAL(ev->seq, 1);
        ent_event_free(ev);
        ent_log_cursor_free(c);
        ENT_OK_(ent_sub_cursor(&c, d.s, "from-now"));
        ENT_CHECK_RC(ent_log_next(&ev, c), ENT_NOTFOUND);
        ent_log_cursor_free(c);
    }
    /* acks never move back; beyond the log is refused */
    ENT_OK_(ent_sub_ack(d.s, NULL, "from-start", 5));
    ENT_OK_(ent_sub_ack(d.s, NULL, "from-start", 3));
    ENT_OK_(ent_sub_checkpoint(&cp, d.s, NULL, "from-start"));
    CU_ASSERT_EQUAL(cp, 5);
    ENT_CHECK_RC(ent_sub_ack(d.s, NULL, "from-start", last + 1), ENT_INVALID);
    ENT_CHECK_RC(ent_sub_ack(d.s, NULL, "nope", 1), ENT_NOTFOUND);
    /* ack in the same txn as the consumer's own writes: both or neither */
    {
        ent_txn *w = NULL;
        ent_entity *u = user(d.s, 777);
        uint64_t users_before = 0, users_after = 0;
        ENT_OK_(ent_count(&users_before, d.s, NULL, ent_store_type(d.s, "user")));
        ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
        ENT_OK_(ent_create(d.s, w, u));
        ENT_OK_(ent_sub_ack(d.s, w, "from-start", 8));
        ent_txn_abort(w);
        ENT_OK_(ent_sub_checkpoint(&cp, d.s, NULL, "from-start"));
        CU_ASSERT_EQUAL(cp, 5);
        ENT_OK_(ent_count(&users_after, d.s, NULL, ent_store_type(d.s, "user")));
        CU_ASSERT_EQUAL(users_after, users_before);
        ent_entity_free(u);
        u = user(d.s, 778);
        ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
        ENT_OK_(ent_create(d.s, w, u));
        ENT_OK_(ent_sub_ack(d.s, w, "from-start", 8));
        ENT_OK_(ent_txn_commit(w));
        ENT_OK_(ent_sub_checkpoint(&cp, d.s, NULL, "from-start"));
        CU_ASSERT_EQUAL(cp, 8);
        ENT_OK_(ent_count(&users_after, d.s, NULL, ent_store_type(d.s, "user")));
        CU_ASSERT_EQUAL(users_after, users_before + 1);
        ent_entity_free(u);
    }
    /* truncation: not past the slowest subscription unless forced */
    ENT_CHECK_RC(ent_log_truncate(d.s, 20, 0), ENT_CONFLICT);
    ENT_ASSERT_MSG("from-start");
    ENT_OK_(ent_log_truncate(d.s, 9, 0));
    ENT_OK_(ent_log_bounds(&first, &last, d.s, NULL));
    CU_ASSERT_EQUAL(first, 9);
    ENT_OK_(ent_log_truncate(d.s, 20, 1));
    ENT_OK_(ent_log_bounds(&first, &last, d.s, NULL));
    CU_ASSERT_EQUAL(first, 20);
    {
        ent_event *ev = NULL;
        ENT_CHECK_RC(ent_log_get(&ev, d.s, NULL, 10), ENT_NOTFOUND);
    }
    ENT_CHECK_RC(ent_log_truncate(d.s, last + 5, 1), ENT_INVALID);
    {
        /* last + 1 drops every event (below, further down); one past it is refused, naming both */
        char want[96];
        snprintf(want, sizeof want, "cannot truncate below %llu: the log ends at %llu", (unsigned long long)(last + 2),
                 (unsigned long long)last);
        ENT_CHECK_RC(ent_log_truncate(d.s, last + 2, 1), ENT_INVALID);
        ENT_ASSERT_MSG(want);
    }
    /* Only events still in the log count against a subscription: "from-start" (at 8) and a new
     * one lack nothing below 20, where the log now starts, so truncating there again or below it
     * loses nothing; the first event past that does. The new one starts before the first event
     * kept (at 19): made at 0, it named seqs 1-19 as events it had not acknowledged, which
     * `entity subs read` took for ones a forced trim took from it, and its lag counted them. */
    ENT_OK_(ent_sub_create(d.s, "after-trim", 0));
    {
        uint64_t at = 0;
        ent_log_cursor *c = NULL;
        ENT_OK_(ent_sub_checkpoint(&at, d.s, NULL, "after-trim"));
        CU_ASSERT_EQUAL(at, 19);
        ENT_OK_(ent_sub_cursor(&c, d.s, "after-trim"));
        CU_ASSERT_EQUAL(ent_log_cursor_pos(c), 20);
        ent_log_cursor_free(c);
    }
    ENT_OK_(ent_log_truncate(d.s, 20, 0));
    ENT_OK_(ent_log_truncate(d.s, 12, 0));
    ENT_CHECK_RC(ent_log_truncate(d.s, 21, 0), ENT_CONFLICT);
    ENT_OK_(ent_log_bounds(&first, NULL, d.s, NULL));
    CU_ASSERT_EQUAL(first, 20);
    ENT_OK_(ent_sub_delete(d.s, "after-trim"));
    /* A cursor whose position was truncated, with nothing after it: it moves past the dropped
     * seqs, so a follower waiting for what comes after its position waits (it was woken at once,
     * every time: a spin), and still gets the next event. */
    ENT_OK_(ent_log_truncate(d.s, last + 1, 1));
    {
        uint64_t lo = 0, hi = 0; /* every event dropped: first = last + 1, the next seq (log.h) */
        ENT_OK_(ent_log_bounds(&lo, &hi, d.s, NULL));
        CU_ASSERT_EQUAL(lo, last + 1);
        CU_ASSERT_EQUAL(hi, last);
    }
    {
        ent_log_cursor *c = NULL;
        ent_event *ev = NULL;
        ent_entity *u = user(d.s, 900);
        ENT_OK_(ent_log_cursor_open(&c, d.s, 3, NULL, 0));
        ENT_CHECK_RC(ent_log_next(&ev, c), ENT_TRUNCATED); /* said once (t_cursor_says_what_was_truncated) */
        ENT_CHECK_RC(ent_log_next(&ev, c), ENT_NOTFOUND);
        CU_ASSERT_EQUAL(ent_log_cursor_pos(c), last + 1);
        ENT_CHECK_RC(ent_log_wait(NULL, d.s, ent_log_cursor_pos(c) - 1, 0), ENT_TIMEOUT);
        ENT_OK_(ent_create(d.s, NULL, u));
        ENT_OK_(ent_log_next(&ev, c));
        CU_ASSERT_EQUAL(ev->seq, last + 1);
        ent_event_free(ev);
        ent_entity_free(u);
        ent_log_cursor_free(c);
    }
    {
        store_dir r;
        open_on(&r, backend);
        ENT_CHECK_RC(ent_store_replay(r.s, d.s, 0), ENT_INVALID); /* replay from 1 is impossible now */
        ENT_ASSERT_MSG("truncated");
        close_on(&r);
    }
    {
        uint64_t problems = 0;
        ENT_OK_(ent_store_verify(&problems, d.s, NULL, NULL)); /* a truncated log is not a gap */
        CU_ASSERT_EQUAL(problems, 0);
    }
    ENT_OK_(ent_sub_delete(d.s, "from-now"));
    ENT_CHECK_RC(ent_sub_delete(d.s, "from-now"), ENT_NOTFOUND);
    close_on(&d);
}

/* ---- cursors and waiting ----------------------------------------------------------------------- */

/* What a host still holds when it closes a store (a C++ wrapper's destructors run in any order):
 * a log cursor with events read ahead, an event and an entity it read are freed after
 * ent_store_close() without reading the closed store's schema (their frees read the type's
 * field count: a use after free under ASan). */
static void t_freed_after_close(void)
{
    store_dir d;
    ent_log_cursor *c = NULL;
    ent_event *ev = NULL;
    ent_entity *u, *got = NULL;
    ent_key k = ent_key_id(1);
    open_on(&d, backend);
    for (int i = 1; i <= 3; i++) {
        u = user(d.s, i);
        ENT_OK_(ent_entity_set_json(u, "tags", "[\"a\",\"b\"]"));
        ENT_OK_(ent_create(d.s, NULL, u));
        ent_entity_free(u);
    }
    ENT_OK_(ent_log_cursor_open(&c, d.s, 0, NULL, 0));
    ENT_OK_(ent_log_next(&ev, c)); /* 2 and 3 wait in the cursor */
    ENT_OK_(ent_get(&got, d.s, NULL, ent_store_type(d.s, "user"), &k));
    ENT_OK_(ent_entity_set_json(got, "tags", "[\"x\",\"y\"]")); /* memory of its own */
    ent_store_close(d.s);
    d.s = NULL;
    ent_log_cursor_free(c);
    ent_event_free(ev);
    ent_entity_free(got);
    ent_schema_free(d.sc);
    ent_test_rm_rf(d.dir);
}

/* A forced truncation that drops events a cursor has not read yet is its ENT_TRUNCATED, once,
 * naming the seqs; it then goes on at the first event kept. A filtered cursor skips seqs of its
 * own, so without it a host could not tell that it missed events (it went on in silence); an
 * unfiltered one says it too, and so does a durable subscription's cursor. A cursor opened at 0
 * starts at the first event kept without a word. */
static void t_cursor_says_what_was_truncated(void)
{
    store_dir d;
    ent_log_cursor *c = NULL, *all = NULL, *sub = NULL, *zero = NULL, *one = NULL;
    ent_event *ev = NULL;
    const ent_type *ut;
    uint64_t first = 0, last = 0;
    open_on(&d, backend);
    ut = ent_store_type(d.s, "user");
    ENT_OK_(ent_sub_create(d.s, "slow", 0)); /* holds every event: only a forced trim drops them */
    for (int i = 1; i <= 5; i++) { /* seq 1..5 */
        ent_entity *u = user(d.s, i);
        ENT_OK_(ent_create(d.s, NULL, u));
        ent_entity_free(u);
    }
    /* the deletes of users: none yet, so it looks at seqs 1..5 and stops at 6 */
    ENT_OK_(ent_log_cursor_open(&c, d.s, 1, ut, ENT_OP_DELETE));
    CU_ASSERT_EQUAL(ent_log_next(&ev, c), ENT_NOTFOUND);
    CU_ASSERT_EQUAL(ent_log_cursor_pos(c), 6);
    ENT_OK_(ent_log_cursor_open(&all, d.s, 1, NULL, 0));
    ENT_OK_(ent_log_next(&ev, all)); /* 1, and 2..5 read into the cursor */
    CU_ASSERT_EQUAL(ev->seq, 1);
    ent_event_free(ev);
    for (uint64_t id = 1; id <= 3; id++) { /* seq 6..8 */
        ent_key k = ent_key_id(id);
        ENT_OK_(ent_delete(d.s, NULL, ut, &k, ENT_VERSION_ANY));
    }
    ENT_CHECK_RC(ent_log_truncate(d.s, 8, 0), ENT_CONFLICT);
    ENT_OK_(ent_log_truncate(d.s, 8, 1));
    ENT_OK_(ent_log_bounds(&first, &last, d.s, NULL));
    CU_ASSERT_EQUAL(first, 8);
    CU_ASSERT_EQUAL(last, 8);

    /* the filtered cursor: seqs 6 and 7 (two deletes it wanted) are gone */
    ev = (ent_event *)&ev;
    CU_ASSERT_EQUAL(ent_log_next(&ev, c), ENT_TRUNCATED);
    CU_ASSERT_PTR_NULL(ev);
    ENT_ASSERT_MSG("events 6 to 7 were truncated");
    CU_ASSERT_EQUAL(ent_log_cursor_pos(c), 8);
    ENT_OK_(ent_log_next(&ev, c));
    CU_ASSERT(ev && ev->seq == 8 && ev->op == ENT_OP_DELETE);
    ent_event_free(ev);
    CU_ASSERT_EQUAL(ent_log_next(&ev, c), ENT_NOTFOUND);

    /* unfiltered: what it read before the trim first, then the same report */
    for (uint64_t seq = 2; seq <= 5; seq++) {
        ENT_OK_(ent_log_next(&ev, all));
        CU_ASSERT(ev && ev->seq == seq);
        ent_event_free(ev);
    }
    CU_ASSERT_EQUAL(ent_log_cursor_pos(all), 6);
    CU_ASSERT_EQUAL(ent_log_next(&ev, all), ENT_TRUNCATED);
    ENT_ASSERT_MSG("events 6 to 7 were truncated");
    CU_ASSERT_EQUAL(ent_log_cursor_pos(all), 8);
    ENT_OK_(ent_log_next(&ev, all));
    CU_ASSERT(ev && ev->seq == 8);
    ent_event_free(ev);

    /* a subscription whose unacknowledged events a forced trim took */
    ENT_OK_(ent_sub_cursor(&sub, d.s, "slow"));
    CU_ASSERT_EQUAL(ent_log_next(&ev, sub), ENT_TRUNCATED);
    ENT_ASSERT_MSG("events 1 to 7 were truncated");
    ENT_OK_(ent_log_next(&ev, sub));
    CU_ASSERT(ev && ev->seq == 8);
    ent_event_free(ev);

    /* 0: from the first event kept, nothing missed; a seq below it: those are missed */
    ENT_OK_(ent_log_cursor_open(&zero, d.s, 0, ut, 0));
    ENT_OK_(ent_log_next(&ev, zero));
    CU_ASSERT(ev && ev->seq == 8);
    ent_event_free(ev);
    ENT_OK_(ent_log_cursor_open(&one, d.s, 7, ut, ENT_OP_DELETE));
    CU_ASSERT_EQUAL(ent_log_next(&ev, one), ENT_TRUNCATED);
    ENT_ASSERT_MSG("event 7 was truncated");
    ENT_OK_(ent_log_next(&ev, one));
    CU_ASSERT(ev && ev->seq == 8);
    ent_event_free(ev);

    /* a cursor opened at 0 before a trim, which reads after it: it starts at the first event kept */
    ent_log_cursor_free(zero);
    ENT_OK_(ent_log_cursor_open(&zero, d.s, 0, NULL, 0));
    {
        ent_entity *u = user(d.s, 6); /* seq 9 */
        ENT_OK_(ent_create(d.s, NULL, u));
        ent_entity_free(u);
    }
    ENT_OK_(ent_log_truncate(d.s, 9, 1));
    ENT_OK_(ent_log_next(&ev, zero));
    CU_ASSERT(ev && ev->seq == 9);
    ent_event_free(ev);
    /* ...and then misses what a later trim takes before it reads it */
    for (int i = 7; i <= 8; i++) { /* seq 10, 11 */
        ent_entity *u = user(d.s, i);
        ENT_OK_(ent_create(d.s, NULL, u));
        ent_entity_free(u);
    }
    ENT_OK_(ent_log_truncate(d.s, 11, 1));
    CU_ASSERT_EQUAL(ent_log_next(&ev, zero), ENT_TRUNCATED);
    ENT_ASSERT_MSG("event 10 was truncated");
    ENT_OK_(ent_log_next(&ev, zero));
    CU_ASSERT(ev && ev->seq == 11);
    ent_event_free(ev);
    CU_ASSERT_EQUAL(ent_log_next(&ev, zero), ENT_NOTFOUND);
    CU_ASSERT_STRING_EQUAL(ent_strerror(ENT_TRUNCATED), "events truncated from the log before they were read");

    ent_log_cursor_free(c);
    ent_log_cursor_free(all);
    ent_log_cursor_free(sub);
    ent_log_cursor_free(zero);
    ent_log_cursor_free(one);
    close_on(&d);
}

static void t_cursor_filters_and_batches(void)
{
    store_dir d;
    ent_txn *w;
    ent_log_cursor *c = NULL;
    ent_event *ev;
    uint64_t n = 0, prev = 0;
    open_on(&d, backend);
    ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
    for (int i = 0; i < 700; i++) { /* more than one cursor batch */
        ent_entity *u = user(d.s, i);
        ENT_OK_(ent_create(d.s, w, u));
        ent_entity_free(u);
    }
    ENT_OK_(ent_txn_commit(w));
    for (uint64_t id = 1; id <= 700; id += 7) {
        ent_key k = ent_key_id(id);
        ENT_OK_(ent_delete(d.s, NULL, ent_store_type(d.s, "user"), &k, ENT_VERSION_ANY));
    }
    ENT_OK_(ent_log_cursor_open(&c, d.s, 1, NULL, 0));
    while (ent_log_next(&ev, c) == ENT_OK) {
        CU_ASSERT_EQUAL(ev->seq, prev + 1);
        prev = ev->seq;
        n++;
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    CU_ASSERT_EQUAL(n, 800);
    n = 0;
    ENT_OK_(ent_log_cursor_open(&c, d.s, 300, ent_store_type(d.s, "user"), ENT_OP_DELETE));
    while (ent_log_next(&ev, c) == ENT_OK) {
        CU_ASSERT_EQUAL(ev->op, ENT_OP_DELETE);
        CU_ASSERT(ev->seq >= 300);
        n++;
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    CU_ASSERT_EQUAL(n, 100);
    /* a reader never sees events of an uncommitted txn */
    ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
    {
        ent_entity *u = user(d.s, 5000);
        ENT_OK_(ent_create(d.s, w, u));
        ent_entity_free(u);
    }
    ENT_OK_(ent_log_cursor_open(&c, d.s, 801, NULL, 0));
    ENT_CHECK_RC(ent_log_next(&ev, c), ENT_NOTFOUND);
    ENT_OK_(ent_txn_commit(w));
    ENT_OK_(ent_log_next(&ev, c)); /* the same cursor sees it once committed: live follow */
    CU_ASSERT_EQUAL(ev->seq, 801);
    ent_event_free(ev);
    ent_log_cursor_free(c);
    close_on(&d);
}

static void *late_commit(void *arg)
{
    ent_store *s = arg;
    struct timespec ts = {0, 50 * 1000000};
    ent_entity *u;
    nanosleep(&ts, NULL);
    u = user(s, 4242);
    if (ent_create(s, NULL, u)) fprintf(stderr, "late commit failed: %s\n", ent_errmsg());
    ent_entity_free(u);
    return NULL;
}

static void t_wait(void)
{
    store_dir d;
    pthread_t th;
    uint64_t last = 0;
    open_on(&d, backend);
    ENT_CHECK_RC(ent_log_wait(&last, d.s, 0, 30), ENT_TIMEOUT);
    CU_ASSERT_EQUAL(last, 0);
    pthread_create(&th, NULL, late_commit, d.s);
    ENT_OK_(ent_log_wait(&last, d.s, 0, 10000));
    CU_ASSERT_EQUAL(last, 1);
    pthread_join(th, NULL);
    ENT_OK_(ent_log_wait(&last, d.s, 0, 0)); /* already there: no wait */
    close_on(&d);
}

/* ---- waiting for a subscription's acknowledgement (ent_sub_wait) ------------------------------ */

typedef struct acker {
    ent_store *s;
    const char *name;
    uint64_t seq;   /* ack this after the nap (0: none) */
    int creates;    /* creates before the ack (a seq beyond the log when the wait began) */
    int del;        /* delete the subscription instead */
    int rc;
} acker;

static void *late_ack(void *p)
{
    acker *a = p;
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL); /* the waiter is (most likely) asleep by then; either way the answer is the same */
    for (int i = 0; i < a->creates && !a->rc; i++) {
        ent_entity *u = user(a->s, 5000 + i);
        a->rc = ent_create(a->s, NULL, u);
        ent_entity_free(u);
    }
    if (!a->rc) a->rc = a->del ? ent_sub_delete(a->s, a->name) : ent_sub_ack(a->s, NULL, a->name, a->seq);
    return NULL;
}

static void t_sub_wait(void)
{
    store_dir d;
    pthread_t th;
    acker a;
    uint64_t cp = 99;
    ent_entity *u;
    open_on(&d, backend);
    ENT_OK_(ent_sub_create(d.s, "w", 0));
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 1))));
    ent_entity_free(u);
    /* not there, bad names, no such one */
    ENT_CHECK_RC(ent_sub_wait(&cp, d.s, "w", 1, 30), ENT_TIMEOUT);
    CU_ASSERT_EQUAL(cp, 0);
    ENT_ASSERT_MSG("\"w\" has acknowledged up to 0, not yet 1");
    ENT_CHECK_RC(ent_sub_wait(&cp, d.s, "nope", 1, 30), ENT_NOTFOUND);
    ENT_ASSERT_MSG("no subscription \"nope\"");
    ENT_CHECK_RC(ent_sub_wait(NULL, d.s, "", 1, 30), ENT_INVALID);
    ENT_CHECK_RC(ent_sub_wait(NULL, d.s, NULL, 1, 30), ENT_INVALID);
    ENT_CHECK_RC(ent_sub_wait(NULL, NULL, "w", 1, 30), ENT_INVALID);
    /* seq 0, and what is acknowledged already: at once, forever or not */
    ENT_OK_(ent_sub_wait(&cp, d.s, "w", 0, -1));
    CU_ASSERT_EQUAL(cp, 0);
    ENT_OK_(ent_sub_ack(d.s, NULL, "w", 1));
    ENT_OK_(ent_sub_wait(&cp, d.s, "w", 1, 0));
    CU_ASSERT_EQUAL(cp, 1);
    /* woken by another thread's ack (-1: forever; the ack comes) */
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 2))));
    ent_entity_free(u);
    a = (acker){.s = d.s, .name = "w", .seq = 2};
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, late_ack, &a), 0);
    ENT_OK_(ent_sub_wait(&cp, d.s, "w", 2, -1));
    pthread_join(th, NULL);
    ENT_OK_(a.rc);
    CU_ASSERT_EQUAL(cp, 2);
    /* a seq beyond the log's end when the wait begins: its events come, then the ack */
    a = (acker){.s = d.s, .name = "w", .seq = 5, .creates = 3};
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, late_ack, &a), 0);
    ENT_OK_(ent_sub_wait(&cp, d.s, "w", 5, 60000));
    pthread_join(th, NULL);
    ENT_OK_(a.rc);
    CU_ASSERT_EQUAL(cp, 5);
    /* an ack past seq answers too (the checkpoint reached, not equal) */
    ENT_OK_(ent_sub_wait(&cp, d.s, "w", 4, 0));
    CU_ASSERT_EQUAL(cp, 5);
    /* a writer learns its own commit's seq in its write transaction (the log's last as the
     * transaction sees it counts its own events): what it waits for, exact also when others write */
    {
        ent_txn *w = NULL;
        ent_event *ev = NULL;
        uint64_t mine = 0, last = 0;
        ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
        ENT_OK_(ent_create(d.s, w, (u = user(d.s, 77))));
        ent_entity_free(u);
        ENT_OK_(ent_log_bounds(NULL, &mine, d.s, w));
        ENT_OK_(ent_txn_commit(w));
        ENT_OK_(ent_log_bounds(NULL, &last, d.s, NULL));
        CU_ASSERT_EQUAL(mine, last);
        ENT_OK_(ent_log_get(&ev, d.s, NULL, mine));
        CU_ASSERT_EQUAL(ev->op, ENT_OP_CREATE);
        CU_ASSERT_EQUAL(ev->key.id, 6);
        ent_event_free(ev);
        ENT_CHECK_RC(ent_sub_wait(&cp, d.s, "w", mine, 0), ENT_TIMEOUT);
        ENT_OK_(ent_sub_ack(d.s, NULL, "w", mine));
        ENT_OK_(ent_sub_wait(&cp, d.s, "w", mine, 0));
    }
    /* deleted while waiting: ENT_NOTFOUND naming the deletion, not a wait for ever */
    a = (acker){.s = d.s, .name = "w", .del = 1};
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, late_ack, &a), 0);
    ENT_CHECK_RC(ent_sub_wait(&cp, d.s, "w", 7, -1), ENT_NOTFOUND);
    ENT_ASSERT_MSG("was deleted while waiting");
    pthread_join(th, NULL);
    ENT_OK_(a.rc);
    close_on(&d);
}

/* ENT_BUSY where no ack could come while it waits: in an event callback of the store (this
 * process's next commits wait for its delivery) and on the thread that holds the store's write
 * transaction, also in ent_txn_run()'s fn. What is acknowledged already answers ENT_OK there. */
typedef struct sub_waiter {
    ent_store *s;
    int rc_have, rc_next;
    int held; /* ent_txn_holds_writer() there */
    uint64_t cp;
} sub_waiter;

static void on_ev_sub_wait(const ent_event *ev, void *p)
{
    sub_waiter *w = p;
    (void)ev;
    w->rc_have = ent_sub_wait(&w->cp, w->s, "b", 1, -1);
    w->rc_next = ent_sub_wait(NULL, w->s, "b", 2, -1);
    w->held = ent_txn_holds_writer(w->s);
}

static int run_sub_wait(ent_txn *t, void *p)
{
    sub_waiter *w = p;
    (void)t;
    w->rc_have = ent_sub_wait(NULL, w->s, "b", 1, -1);
    w->rc_next = ent_sub_wait(NULL, w->s, "b", 2, -1);
    w->held = ent_txn_holds_writer(w->s);
    return ENT_OK;
}

static void t_sub_wait_busy(void)
{
    store_dir d;
    sub_waiter w = {0};
    ent_subscriber *sub = NULL;
    ent_entity *u;
    ent_txn *t = NULL;
    uint64_t cp = 0;
    open_on(&d, backend);
    ENT_OK_(ent_sub_create(d.s, "b", 0));
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 1))));
    ent_entity_free(u);
    ENT_OK_(ent_sub_ack(d.s, NULL, "b", 1));
    w.s = d.s;
    ENT_OK_(ent_subscribe(&sub, d.s, NULL, 0, on_ev_sub_wait, &w));
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 2))));
    ent_entity_free(u);
    ent_unsubscribe(d.s, sub);
    CU_ASSERT_EQUAL(w.rc_have, ENT_OK);
    CU_ASSERT_EQUAL(w.cp, 1);
    CU_ASSERT_EQUAL(w.rc_next, ENT_BUSY);
    /* ent_txn_holds_writer(), which libentity-nats's ent_relay_wait() asks: not in a callback (a
     * commit without events does not wait for the delivery), nor outside a transaction */
    CU_ASSERT_EQUAL(w.held, 0);
    CU_ASSERT_EQUAL(ent_txn_holds_writer(d.s), 0);
    CU_ASSERT_EQUAL(ent_txn_holds_writer(NULL), 0);
    /* the thread's own write transaction */
    ENT_OK_(ent_txn_begin(&t, d.s, ENT_TXN_WRITE));
    CU_ASSERT_EQUAL(ent_txn_holds_writer(d.s), 1);
    ENT_OK_(ent_sub_wait(NULL, d.s, "b", 1, -1));
    ENT_CHECK_RC(ent_sub_wait(&cp, d.s, "b", 2, -1), ENT_BUSY);
    ENT_ASSERT_MSG("write transaction");
    CU_ASSERT_EQUAL(cp, 1);
    ent_txn_abort(t);
    w.rc_have = w.rc_next = 99;
    CU_ASSERT_EQUAL(ent_txn_holds_writer(d.s), 0);
    ENT_OK_(ent_txn_run(d.s, run_sub_wait, &w));
    CU_ASSERT_EQUAL(w.rc_have, ENT_OK);
    CU_ASSERT_EQUAL(w.rc_next, ENT_BUSY);
    CU_ASSERT_EQUAL(w.held, 1);
    close_on(&d);
}

/* ent_log_wait_claim(): a thread that declared itself the one that writes the log, or that
 * acknowledges a subscription (a relay's or a mirror's thread, where their log callbacks run),
 * gets ENT_BUSY from its own waits for them, on this handle and on another of the same store;
 * its other waits, and every other thread's, wait as before. */
typedef struct elsewhere {
    ent_store *s;
    int rc;
} elsewhere;

static void *wait_log_elsewhere(void *p)
{
    elsewhere *e = p;
    e->rc = ent_log_wait(NULL, e->s, 1, 30); /* unclaimed on this thread: waits */
    return NULL;
}

static void t_wait_claimed(void)
{
    store_dir d;
    const ent_backend_ops *b = ent__backend_find(backend, NULL);
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store *other = NULL;
    ent_entity *u;
    uint64_t last = 0;
    pthread_t th;
    elsewhere el = {NULL, 99};
    char name[16];
    open_on(&d, backend);
    ENT_OK_(ent_sub_create(d.s, "mine", 0));
    ENT_OK_(ent_sub_create(d.s, "theirs", 0));
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 1))));
    ent_entity_free(u);
    ENT_OK_(ent_sub_ack(d.s, NULL, "theirs", 1));
    ENT_OK_(ent_log_wait_claim(d.s, "mine", "the test's relay"));
    ENT_CHECK_RC(ent_sub_wait(NULL, d.s, "mine", 1, -1), ENT_BUSY);
    ENT_ASSERT_MSG("this thread is the test's relay, the one that acknowledges subscription \"mine\"");
    ENT_OK_(ent_sub_wait(NULL, d.s, "mine", 0, -1));   /* nothing to wait for */
    ENT_OK_(ent_sub_wait(NULL, d.s, "theirs", 1, -1)); /* another subscription */
    ENT_CHECK_RC(ent_sub_wait(NULL, d.s, "theirs", 2, 30), ENT_TIMEOUT);
    ENT_CHECK_RC(ent_log_wait(NULL, d.s, 1, 30), ENT_TIMEOUT); /* the log is not claimed */
    ENT_OK_(ent_log_wait_claim(d.s, NULL, "the test's mirror"));
    ENT_OK_(ent_log_wait(&last, d.s, 0, -1)); /* an event it has: at once */
    ENT_CHECK_RC(ent_log_wait(&last, d.s, 1, -1), ENT_BUSY);
    ENT_ASSERT_MSG("this thread is the test's mirror, the one that writes the store's log");
    CU_ASSERT_EQUAL(last, 1);
    el.s = d.s;
    CU_ASSERT_FATAL(pthread_create(&th, NULL, wait_log_elsewhere, &el) == 0);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(el.rc, ENT_TIMEOUT);
    if (b && (b->caps & ENT_BK_CAP_PERSISTENT)) { /* another handle of the store (a host's, of a mirror) */
        o.backend = backend;
        o.durability = ENT_NONE;
        ENT_OK_(ent_store_open(&other, d.dir, d.sc, &o));
        ENT_CHECK_RC(ent_log_wait(NULL, other, 1, -1), ENT_BUSY);
        ENT_CHECK_RC(ent_sub_wait(NULL, other, "mine", 1, -1), ENT_BUSY);
        ent_store_close(other);
    }
    ent_log_wait_unclaim(d.s, NULL);
    ENT_CHECK_RC(ent_log_wait(NULL, d.s, 1, 30), ENT_TIMEOUT);
    ENT_CHECK_RC(ent_sub_wait(NULL, d.s, "mine", 1, 30), ENT_BUSY); /* still claimed */
    ent_log_wait_unclaim(d.s, "mine");
    ENT_CHECK_RC(ent_sub_wait(NULL, d.s, "mine", 1, 30), ENT_TIMEOUT);
    /* bad arguments, and the limit of 8 claims a thread */
    ENT_CHECK_RC(ent_log_wait_claim(NULL, NULL, "x"), ENT_INVALID);
    ENT_CHECK_RC(ent_log_wait_claim(d.s, "", "x"), ENT_INVALID);
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "s%d", i);
        ENT_OK_(ent_log_wait_claim(d.s, name, NULL));
    }
    ENT_CHECK_RC(ent_log_wait_claim(d.s, "s8", NULL), ENT_FULL);
    ENT_OK_(ent_log_wait_claim(d.s, "s3", "renamed")); /* held already: renamed */
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "s%d", i);
        ent_log_wait_unclaim(d.s, name);
    }
    ent_log_wait_unclaim(d.s, "s3"); /* none left: nothing */
    ent_log_wait_unclaim(NULL, NULL);
    close_on(&d);
}

/* An ack by another process wakes the wait (the child opens the store and acknowledges; backends
 * that other processes can open). The parent's handle is closed across the fork: the child opens
 * a store of its own, as a consumer process does. */
static void t_sub_wait_other_process(void)
{
    store_dir d;
    const ent_backend_ops *b = ent__backend_find(backend, NULL);
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_entity *u;
    int go[2], status = 0;
    uint64_t cp = 0;
    pid_t pid;
    if (!b || !(b->caps & ENT_BK_CAP_SHARED)) return; /* one process's store (memory): the thread tests cover it */
    open_on(&d, backend);
    ENT_OK_(ent_sub_create(d.s, "x", 0));
    ENT_OK_(ent_create(d.s, NULL, (u = user(d.s, 1))));
    ent_entity_free(u);
    ent_store_close(d.s);
    d.s = NULL;
    CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        ent_store *cs = NULL;
        char c;
        struct timespec ts = {0, 100 * 1000000};
        close(go[1]);
        if (read(go[0], &c, 1) != 1) _exit(2);
        nanosleep(&ts, NULL); /* the parent is (most likely) waiting by then */
        o.backend = backend;
        o.durability = ENT_NONE;
        if (ent_store_open(&cs, d.dir, d.sc, &o)) _exit(3);
        if (ent_sub_ack(cs, NULL, "x", 1)) _exit(4);
        _exit(0); /* (no close: the child is done; the kernel ends the handle) */
    }
    close(go[0]);
    o.backend = backend;
    o.durability = ENT_NONE;
    ENT_OK_(ent_store_open(&d.s, d.dir, d.sc, &o));
    CU_ASSERT_EQUAL(write(go[1], "g", 1), 1);
    close(go[1]);
    /* forever, bounded only by the child's exit: a wait that missed the other process's ack
     * would end on the lost-wake slice, so this cannot tell a late wake from a prompt one; the
     * wake itself is what ent_log_wait()'s cross-process test (and the relay's) exercise */
    ENT_OK_(ent_sub_wait(&cp, d.s, "x", 1, 60000));
    CU_ASSERT_EQUAL(cp, 1);
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close_on(&d);
}

/* ---- delivered as stored ------------------------------------------------------------------- */

/* A delivery decodes the copy of its events the commit kept, or reads them back from the log (a
 * txn too big to keep, one whose first event came before any subscriber). Whichever way, each
 * subscriber gets every committed event once, in order, equal to the log's; a savepoint's
 * undone events (a refused call in a group) are not what it gets under their seq. */
typedef struct as_stored {
    pthread_mutex_t mu;
    char **json; /* by seq - 1 */
    uint64_t n, cap, dup, out_of_order, last;
} as_stored;

static void on_ev_json(const ent_event *ev, void *p)
{
    as_stored *a = p;
    char *j = NULL;
    pthread_mutex_lock(&a->mu);
    if (ev->seq != a->last + 1) a->out_of_order++;
    a->last = ev->seq;
    if (ev->seq > a->cap) {
        uint64_t cap = ev->seq * 2;
        char **nj = realloc(a->json, cap * sizeof *nj);
        CU_ASSERT_PTR_NOT_NULL_FATAL(nj);
        memset(nj + a->cap, 0, (cap - a->cap) * sizeof *nj);
        a->json = nj;
        a->cap = cap;
    }
    if (a->json[ev->seq - 1]) a->dup++;
    else if (ent_event_to_json(&j, ev, 0) == ENT_OK) a->json[ev->seq - 1] = j;
    a->n++;
    pthread_mutex_unlock(&a->mu);
}

typedef struct clash_arg {
    ent_store *s;
    int who, ok, refused;
} clash_arg;

typedef struct clash_call {
    clash_arg *c;
    int i;
} clash_call;

/* A create of the thread's own, then one whose email the other threads try too: when that one is
 * refused, fn returns its code and the first create, events and all, is undone with it. */
static int clash_fn(ent_txn *t, void *p)
{
    clash_call *k = p;
    ent_store *s = k->c->s;
    ent_entity *own = user(s, 1000 * (k->c->who + 1) + k->i), *shared = user(s, 100000 + k->i * 2 + (k->c->who & 1));
    int rc = ent_create(s, t, own);
    /* the others queue meanwhile, so groups form on a fast backend too (no outcome depends on it) */
    if (k->i % 10 == 0) usleep(20000);
    if (rc == ENT_OK) rc = ent_create(s, t, shared);
    ent_entity_free(own);
    ent_entity_free(shared);
    return rc;
}

static void *clash_writer(void *p)
{
    clash_arg *c = p;
    for (int i = 0; i < 60; i++) {
        clash_call k = {c, i};
        int rc = ent_txn_run(c->s, clash_fn, &k);
        if (rc == ENT_OK) c->ok++;
        else if (rc == ENT_CONFLICT) c->refused++;
        else CU_FAIL("a closure neither committed nor refused");
    }
    return NULL;
}

static void t_delivered_as_stored(void)
{
    store_dir d;
    as_stored a;
    ent_subscriber *sub = NULL;
    ent_txn *w = NULL;
    pthread_t th[4];
    clash_arg ca[4];
    uint64_t first = 0, last = 0;
    char *big;
    memset(&a, 0, sizeof a);
    pthread_mutex_init(&a.mu, NULL);
    open_on(&d, backend);
    ENT_OK_(ent_subscribe(&sub, d.s, NULL, 0, on_ev_json, &a));
    /* kept: creates, an update and a delete in one txn */
    ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
    for (int i = 0; i < 3; i++) {
        ent_entity *u = user(d.s, i);
        ENT_OK_(ent_create(d.s, w, u));
        if (i == 1) {
            ENT_OK_(ent_entity_set_int(u, "score", 77));
            ENT_OK_(ent_update(d.s, w, u, ENT_VERSION_ANY));
        }
        if (i == 2) {
            ent_key k = ent_entity_key(u);
            ENT_OK_(ent_delete(d.s, w, ent_store_type(d.s, "user"), &k, ENT_VERSION_ANY));
        }
        ent_entity_free(u);
    }
    ENT_OK_(ent_txn_commit(w));
    /* grouped, with refused calls undone inside the group */
    for (int i = 0; i < 4; i++) {
        ca[i] = (clash_arg){.s = d.s, .who = i};
        pthread_create(&th[i], NULL, clash_writer, &ca[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(ca[0].ok + ca[1].ok + ca[2].ok + ca[3].ok, 120);
    /* too big to keep (over 16 MiB of events in one txn): read back */
    big = malloc(64 << 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 'b', (64 << 10) - 1);
    big[(64 << 10) - 1] = '\0';
    ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
    for (int i = 0; i < 300; i++) {
        ent_entity *u = user(d.s, 200000 + i);
        char json[80];
        snprintf(json, sizeof json, "{\"big\":\"%d\"}", i);
        ENT_OK_(ent_entity_set_json(u, "prefs", json));
        ENT_OK_(ent_entity_set_string(u, "tags[0]", big));
        ENT_OK_(ent_create(d.s, w, u));
        ent_entity_free(u);
    }
    ENT_OK_(ent_txn_commit(w));
    free(big);
    /* a txn whose first event came before the subscriber */
    ent_unsubscribe(d.s, sub);
    ENT_OK_(ent_txn_begin(&w, d.s, ENT_TXN_WRITE));
    {
        ent_entity *u = user(d.s, 300000);
        ENT_OK_(ent_create(d.s, w, u));
        ent_entity_free(u);
        ENT_OK_(ent_subscribe(&sub, d.s, NULL, 0, on_ev_json, &a));
        u = user(d.s, 300001);
        ENT_OK_(ent_create(d.s, w, u));
        ent_entity_free(u);
    }
    ENT_OK_(ent_txn_commit(w));
    ENT_OK_(ent_log_bounds(&first, &last, d.s, NULL));
    CU_ASSERT_EQUAL(first, 1);
    CU_ASSERT_EQUAL(a.n, last);
    CU_ASSERT_EQUAL(a.dup, 0);
    CU_ASSERT_EQUAL(a.out_of_order, 0);
    for (uint64_t seq = 1; seq <= last && seq <= a.cap; seq++) {
        ent_event *ev = NULL;
        char *j = NULL;
        ENT_OK_(ent_log_get(&ev, d.s, NULL, seq));
        ENT_OK_(ent_event_to_json(&j, ev, 0));
        CU_ASSERT_PTR_NOT_NULL(a.json[seq - 1]);
        if (a.json[seq - 1] && j && strcmp(a.json[seq - 1], j) != 0) {
            CU_FAIL("a delivered event is not the stored one");
            fprintf(stderr, "\n  seq %llu delivered %.200s\n  stored %.200s\n", (unsigned long long)seq, a.json[seq - 1], j);
        }
        free(j);
        ent_event_free(ev);
    }
    ent_unsubscribe(d.s, sub);
    for (uint64_t i = 0; i < a.cap; i++) free(a.json[i]);
    free(a.json);
    pthread_mutex_destroy(&a.mu);
    close_on(&d);
}

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_replay_equality),
        ENT_TEST(t_replay_to_inside_a_txn),
        ENT_TEST(t_replay_keeps_id_counter),
        ENT_TEST(t_last_id_events),
        ENT_TEST(t_subscribers),
        ENT_TEST(t_many_subscribers_unsubscribed),
        ENT_TEST(t_callbacks_change_subscriptions),
        ENT_TEST(t_close_from_a_callback_is_refused),
        ENT_TEST(t_verify_from_a_callback),
        ENT_TEST(t_callback_waits_for_no_writer),
        ENT_TEST(t_callback_syncs_when_the_writer_is_free),
        ENT_TEST(t_wait_from_a_callback_does_not_block),
        ENT_TEST(t_map_order_is_no_change),
        ENT_TEST(t_subscribers_while_the_map_grows),
        ENT_TEST(t_durable_subscriptions),
        ENT_TEST(t_cursor_filters_and_batches),
        ENT_TEST(t_cursor_says_what_was_truncated),
        ENT_TEST(t_freed_after_close),
        ENT_TEST(t_wait),
        ENT_TEST(t_sub_wait),
        ENT_TEST(t_sub_wait_busy),
        ENT_TEST(t_wait_claimed),
        ENT_TEST(t_sub_wait_other_process),
        ENT_TEST(t_delivered_as_stored),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_events_%s", backend);
    return ent_test_run(suite, cases);
}
