/* Mirrors without a transport, run once per backend ("lmdb" or "memory" in argv[1]): the
 * primary's events, printed as JSON and parsed back (as the NATS component does), applied one
 * transaction at a time, give a store whose entities and log equal the primary's; duplicates,
 * gaps and diverged state are refused with their codes; a mirror takes no other writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

static const char *backend;

static const char schema_json[] =
    "{\"schema\":\"mi\",\"version\":1,\"types\":{"
    "\"user\":{\"key\":\"auto\",\"fields\":{"
    "  \"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "  \"score\":{\"id\":2,\"type\":\"int\",\"indexed\":true},"
    "  \"tags\":{\"id\":3,\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "  \"prefs\":{\"id\":4,\"type\":\"map\"},"
    "  \"blob\":{\"id\":5,\"type\":\"bytes\"},"
    "  \"seen\":{\"id\":6,\"type\":\"timestamp\"}}},"
    "\"post\":{\"key\":\"string\",\"fields\":{"
    "  \"author\":{\"id\":1,\"type\":\"ref\",\"to\":\"user\"},"
    "  \"body\":{\"id\":2,\"type\":\"string\",\"default\":\"\"},"
    "  \"price\":{\"id\":3,\"type\":\"float\",\"indexed\":true}}}}}";

typedef struct st {
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s;
} st;

static ent_schema *sc;

static ent_store_opts opts(void)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = backend;
    o.durability = ENT_NONE;
    return o;
}

static void mkdir_tmp(st *d)
{
    ENT_TEST_MKDTEMP(d->dir, "contract-mirror");
}

static void open_primary(st *d)
{
    ent_store_opts o = opts();
    mkdir_tmp(d);
    ENT_OK_(ent_store_open(&d->s, d->dir, sc, &o));
}

static void open_mirror(st *d, const char *primary_id)
{
    ent_store_opts o = opts();
    mkdir_tmp(d);
    ENT_OK_(ent_mirror_open(&d->s, d->dir, primary_id, sc, &o));
}

static void close_st(st *d)
{
    ent_store_close(d->s);
    d->s = NULL;
    ent_test_rm_rf(d->dir);
}

/* Everything a store shows: every entity (entity JSON, key order), then every event line. */
static char *show(ent_store *s)
{
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    const ent_schema *x = ent_store_schema(s);
    ent_log_cursor *c = NULL;
    ent_event *ev;
    out[0] = '\0';
#define ADD(j)                                                                                     \
    do {                                                                                           \
        size_t l_ = strlen(j);                                                                     \
        while (n + l_ + 2 > cap) out = realloc(out, cap *= 2);                                     \
        memcpy(out + n, j, l_);                                                                    \
        n += l_;                                                                                   \
        out[n++] = '\n';                                                                           \
        out[n] = '\0';                                                                             \
    } while (0)
    for (size_t i = 0; i < ent_schema_type_count(x); i++) {
        ent_iter *it = NULL;
        ent_entity *e;
        ENT_OK_(ent_scan(&it, s, NULL, ent_schema_type_at(x, i), NULL, NULL));
        while (ent_iter_next(&e, it) == ENT_OK) {
            char *j = NULL;
            ENT_OK_(ent_entity_to_json(&j, e, ENT_JSON_ENTITY));
            ADD(j);
            free(j);
            ent_entity_free(e);
        }
        ent_iter_free(it);
    }
    /* each type's id counter: a copy that takes writes one day must not hand out an id again */
    for (size_t i = 0; i < ent_schema_type_count(x); i++) {
        uint64_t last = 0;
        char line[128];
        if (ent_type_key(ent_schema_type_at(x, i)) != ENT_KEY_AUTO) continue;
        ENT_OK_(ent_last_id(&last, s, NULL, ent_schema_type_at(x, i)));
        snprintf(line, sizeof line, "last_id %s %llu", ent_type_name(ent_schema_type_at(x, i)), (unsigned long long)last);
        ADD(line);
    }
    /* 0: from the first event kept (trimmed logs too); every op, the id counters' raises too */
    ENT_OK_(ent_log_cursor_open(&c, s, 0, NULL, ENT_OP_ALL));
    while (ent_log_next(&ev, c) == ENT_OK) {
        char *j = NULL;
        ENT_OK_(ent_event_to_json(&j, ev, 0));
        ADD(j);
        free(j);
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    return out;
}

/* Events from_seq.. of the primary as the transport carries them (JSON), parsed for the mirror. */
static size_t events_as_sent(ent_event ***out, ent_store *p, ent_store *m, uint64_t from_seq)
{
    ent_log_cursor *c = NULL;
    ent_event *ev, **v = NULL;
    size_t n = 0;
    ENT_OK_(ent_log_cursor_open(&c, p, from_seq, NULL, ENT_OP_ALL)); /* every event, as the relay sends */
    while (ent_log_next(&ev, c) == ENT_OK) {
        char *j = NULL;
        ENT_OK_(ent_event_to_json(&j, ev, 0));
        v = realloc(v, (n + 1) * sizeof *v);
        ENT_OK_(ent_event_from_json(&v[n], ent_store_schema(m), j, strlen(j)));
        n++;
        free(j);
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    *out = v;
    return n;
}

static void free_events(ent_event **v, size_t n)
{
    for (size_t i = 0; i < n; i++) ent_event_free(v[i]);
    free(v);
}

/* Apply evs[0..n) one primary transaction at a time. */
static void apply_all(ent_store *m, ent_event **v, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && v[j]->txn == v[i]->txn) j++;
        ENT_OK_(ent_mirror_apply(m, v + i, j - i, 100 + v[j - 1]->seq));
        i = j;
    }
}

static uint64_t seen_events;
static void count_cb(const ent_event *ev, void *p)
{
    (void)ev;
    (void)p;
    seen_events++;
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

/* A bit of everything: creates in one txn, refs, updates that set and remove fields, free-form
 * maps with nulls and nesting, bytes, timestamps, floats, a restore with a given version, deletes. */
static void write_history(ent_store *s)
{
    ent_txn *t;
    ent_entity *e;
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
    for (int i = 1; i <= 5; i++) {
        e = user(s, i);
        ENT_OK_(ent_entity_set_json(e, "tags", "[\"a\",\"b\"]"));
        ENT_OK_(ent_entity_set_json(e, "prefs", "{\"k\":null,\"n\":[1,2.5,\"x\",{\"d\":true}]}"));
        ENT_OK_(ent_entity_set_bytes(e, "blob", "\x00\x01\xff", 3));
        ENT_OK_(ent_entity_set_timestamp(e, "seen", 1234567890123456789LL));
        ENT_OK_(ent_create(s, t, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(t));
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "post")));
    ENT_OK_(ent_entity_set_key(e, &(ent_key){ENT_KEY_STRING, 0, "p1", 2}));
    ENT_OK_(ent_entity_set_uint(e, "author", 1));
    ENT_OK_(ent_entity_set_float(e, "price", 0.1));
    ENT_OK_(ent_create(s, NULL, e));
    ENT_OK_(ent_entity_patch_json(e, "{\"body\":\"hello\",\"price\":null}", 29));
    ENT_OK_(ent_update(s, NULL, e, ENT_VERSION_ANY));
    ent_entity_free(e);
    e = user(s, 9);
    ENT_OK_(ent_entity_set_key(e, &(ent_key){ENT_KEY_AUTO, 3, NULL, 0}));
    ENT_OK_(ent_entity_set_version(e, 7));
    ENT_OK_(ent_restore(s, NULL, e)); /* an update event with version 7 */
    ent_entity_free(e);
    ENT_OK_(ent_delete(s, NULL, ent_store_type(s, "user"), &(ent_key){ENT_KEY_AUTO, 5, NULL, 0}, ENT_VERSION_ANY));
}

static void test_copy_through_json(void)
{
    st p, m;
    ent_event **v;
    ent_subscriber *sub = NULL;
    size_t n;
    uint64_t seq = 0, pos = 0;
    char *a, *b;
    open_primary(&p);
    write_history(p.s);
    open_mirror(&m, ent_store_id(p.s));
    CU_ASSERT_STRING_EQUAL(ent_store_mirror_of(m.s), ent_store_id(p.s));
    CU_ASSERT_STRING_NOT_EQUAL(ent_store_id(m.s), ent_store_id(p.s)); /* a store of its own */
    ENT_OK_(ent_subscribe(&sub, m.s, NULL, 0, count_cb, NULL));
    seen_events = 0;
    n = events_as_sent(&v, p.s, m.s, 1);
    CU_ASSERT_EQUAL(n, 9);
    apply_all(m.s, v, n);
    CU_ASSERT_EQUAL(seen_events, n); /* the mirror's own subscribers see the changes */
    a = show(p.s);
    b = show(m.s);
    CU_ASSERT_STRING_EQUAL(a, b);
    ENT_OK_(ent_mirror_position(&seq, &pos, m.s));
    CU_ASSERT_EQUAL(seq, 9);
    CU_ASSERT_EQUAL(pos, 109);
    {
        uint64_t problems = 1;
        ENT_OK_(ent_store_verify(&problems, m.s, NULL, NULL));
        CU_ASSERT_EQUAL(problems, 0);
    }
    free(a);
    free(b);
    free_events(v, n);
    close_st(&m);
    close_st(&p);
}

static void test_duplicate_gap_diverged(void)
{
    st p, m;
    ent_event **v;
    size_t n;
    uint64_t seq = 0;
    open_primary(&p);
    write_history(p.s);
    open_mirror(&m, ent_store_id(p.s));
    n = events_as_sent(&v, p.s, m.s, 1);
    /* the first transaction holds seq 1..5 */
    ENT_OK_(ent_mirror_apply(m.s, v, 5, 1));
    ENT_CHECK_RC(ent_mirror_apply(m.s, v, 5, 1), ENT_CONFLICT); /* a duplicate */
    ENT_ASSERT_MSG("applied already");
    ENT_CHECK_RC(ent_mirror_apply(m.s, v + 6, 1, 2), ENT_NOTFOUND); /* seq 6 skipped */
    ENT_ASSERT_MSG("seq 6 is missing");
    ENT_CHECK_RC(ent_mirror_apply(m.s, v + 3, 3, 2), ENT_INVALID); /* two transactions in one */
    ENT_OK_(ent_mirror_position(&seq, NULL, m.s));
    CU_ASSERT_EQUAL(seq, 5);
    /* An update of an entity the mirror lacks: the copies would drift apart, so it is refused. */
    ENT_OK_(ent_mirror_apply(m.s, v + 5, 1, 3)); /* seq 6: create p1 */
    {
        /* seq 7 (an update of p1, at version 1 now) as a delete of version 1 or 0: no primary logs
         * one (a delete logs the version after the entity's), and 0 - 1 would be "any version" */
        int op = v[6]->op;
        uint64_t ver = v[6]->version;
        v[6]->op = ENT_OP_DELETE;
        for (uint64_t bad = 0; bad < 2; bad++) {
            v[6]->version = bad;
            ENT_CHECK_RC(ent_mirror_apply(m.s, v + 6, 1, 3), ENT_CORRUPT);
            ENT_ASSERT_MSG("does not match the primary at seq 7");
            ENT_ASSERT_MSG("a delete of a version below 2");
        }
        v[6]->op = op;
        v[6]->version = ver;
        ENT_OK_(ent_mirror_position(&seq, NULL, m.s));
        CU_ASSERT_EQUAL(seq, 6);
    }
    ENT_OK_(ent_delete(p.s, NULL, ent_store_type(p.s, "post"), &(ent_key){ENT_KEY_STRING, 0, "p1", 2}, ENT_VERSION_ANY));
    {
        /* seq 7 (update p1) presented as seq 6 to a mirror that never saw p1's create */
        st m2;
        ent_event **v2;
        size_t n2;
        open_mirror(&m2, ent_store_id(p.s));
        n2 = events_as_sent(&v2, p.s, m2.s, 1);
        ENT_OK_(ent_mirror_apply(m2.s, v2, 5, 1));
        {
            /* seq 6 with the number of the transaction applied before it: not the primary's next */
            uint64_t keep = v2[5]->txn;
            v2[5]->txn = v2[0]->txn;
            ENT_CHECK_RC(ent_mirror_apply(m2.s, &v2[5], 1, 2), ENT_CORRUPT);
            ENT_ASSERT_MSG("after transaction");
            v2[5]->txn = keep;
        }
        v2[6]->seq = 6;
        ENT_CHECK_RC(ent_mirror_apply(m2.s, &v2[6], 1, 2), ENT_CORRUPT);
        ENT_ASSERT_MSG("does not match the primary at seq 6");
        /* A create of a unique value the mirror holds already: refused by its state, which is no
         * duplicate (ENT_CONFLICT would make a follower skip the transaction as applied). */
        v2[0]->seq = 6;
        v2[0]->txn = v2[5]->txn; /* numbered as the next transaction, so that its state decides */
        v2[0]->key.id = 42;
        ENT_CHECK_RC(ent_mirror_apply(m2.s, &v2[0], 1, 2), ENT_CORRUPT);
        ENT_ASSERT_MSG("does not match the primary at seq 6");
        /* A value the mirror's schema refuses: the message names the event it stopped at (it
         * said "user.email: missing required field" alone) */
        ENT_OK_(ent_entity_unset(v2[0]->data, "email"));
        ENT_CHECK_RC(ent_mirror_apply(m2.s, &v2[0], 1, 2), ENT_INVALID);
        ENT_ASSERT_MSG("seq 6 (user create): ");
        ENT_ASSERT_MSG("email");
        ENT_OK_(ent_mirror_position(&seq, NULL, m2.s));
        CU_ASSERT_EQUAL(seq, 5); /* nothing of it stayed */
        free_events(v2, n2);
        close_st(&m2);
    }
    free_events(v, n);
    close_st(&m);
    close_st(&p);
}

static void test_mirror_takes_no_other_writer(void)
{
    st p, m;
    ent_entity *e;
    ent_store *other = NULL;
    ent_store_opts o = opts();
    char want[80];
    open_primary(&p);
    open_mirror(&m, ent_store_id(p.s));
    snprintf(want, sizeof want, "mirror of store %s", ent_store_id(p.s));
    e = user(m.s, 1);
    ENT_CHECK_RC(ent_create(m.s, NULL, e), ENT_READONLY); /* not even through the mirror's handle */
    ENT_ASSERT_MSG(want);
    ent_entity_free(e);
    /* nor a raise of an id counter (a mirror takes its ids from its primary's log) */
    ENT_CHECK_RC(ent_last_id_raise(m.s, NULL, ent_store_type(m.s, "user"), 50), ENT_READONLY);
    ENT_ASSERT_MSG(want);
    ENT_OK_(ent_log_truncate(m.s, 1, 1)); /* its own log is its own to trim (below) */
    ENT_OK_(ent_sub_create(m.s, "mine", 0)); /* its own consumers keep their checkpoints */
    ENT_CHECK_RC(ent_mirror_apply(p.s, (ent_event *[]){NULL}, 1, 0), ENT_INVALID);
    if (!strcmp(backend, "lmdb")) {
        ent_event **v;
        /* another handle (as another process opens it) */
        ENT_OK_(ent_store_open(&other, m.dir, NULL, &o));
        CU_ASSERT_STRING_EQUAL(ent_store_mirror_of(other), ent_store_id(p.s));
        e = user(other, 2);
        ENT_CHECK_RC(ent_create(other, NULL, e), ENT_READONLY);
        ent_entity_free(e);
        write_history(p.s);
        CU_ASSERT_EQUAL(events_as_sent(&v, p.s, other, 1), 9);
        ENT_CHECK_RC(ent_mirror_apply(other, v, 5, 1), ENT_READONLY);
        ENT_ASSERT_MSG("not opened as a mirror");
        free_events(v, 9);
        ent_store_close(other);
        /* the mirror of one primary is not the mirror of another, nor is a primary a mirror */
        ent_store_close(m.s);
        ENT_CHECK_RC(ent_mirror_open(&m.s, m.dir, "00000000-0000-4000-8000-000000000000", NULL, &o), ENT_CONFLICT);
        ENT_ASSERT_MSG("not of 00000000");
        ENT_CHECK_RC(ent_mirror_open(&other, p.dir, ent_store_id(p.s), NULL, &o), ENT_CONFLICT);
        ENT_ASSERT_MSG("not a mirror");
        ENT_OK_(ent_mirror_open(&m.s, m.dir, ent_store_id(p.s), NULL, &o));
    }
    close_st(&m);
    close_st(&p);
}

/* A mirror trims its own log, as any store does: held by its own subscriptions, and applying goes
 * on after it, also when the whole log was dropped and from another handle (it was refused with
 * ENT_READONLY, so a mirror's log grew for as long as it ran). */
static void test_mirror_trims_its_own_log(void)
{
    st p, m;
    ent_event **v;
    ent_store *other = NULL;
    ent_store_opts o = opts();
    size_t n;
    uint64_t first = 0, last = 0, seq = 0, problems = 1;
    char *a, *b;
    open_primary(&p);
    write_history(p.s);
    open_mirror(&m, ent_store_id(p.s));
    n = events_as_sent(&v, p.s, m.s, 1);
    CU_ASSERT_EQUAL_FATAL(n, 9); /* txns: seqs 1-5, then 6, 7, 8, 9 one each */
    apply_all(m.s, v, 6);
    ENT_OK_(ent_sub_create(m.s, "mine", 0));
    ENT_CHECK_RC(ent_log_truncate(m.s, 4, 0), ENT_CONFLICT); /* its consumer has not read them */
    ENT_ASSERT_MSG("\"mine\" has acknowledged only up to 0");
    ENT_OK_(ent_sub_ack(m.s, NULL, "mine", 3));
    ENT_OK_(ent_log_truncate(m.s, 4, 0));
    ENT_OK_(ent_log_bounds(&first, &last, m.s, NULL));
    CU_ASSERT_EQUAL(first, 4);
    CU_ASSERT_EQUAL(last, 6);
    apply_all(m.s, v + 6, 1); /* seq 7 */
    /* the whole log, then the next transaction */
    ENT_OK_(ent_log_truncate(m.s, 8, 1));
    ENT_OK_(ent_log_bounds(&first, &last, m.s, NULL));
    CU_ASSERT_EQUAL(first, 8);
    CU_ASSERT_EQUAL(last, 7);
    ENT_CHECK_RC(ent_mirror_apply(m.s, v + 6, 1, 0), ENT_CONFLICT); /* still known as applied */
    apply_all(m.s, v + 7, 1); /* seq 8 */
    if (!strcmp(backend, "lmdb")) {
        /* from another handle, as `entity trim` in another process does beside a running mirror */
        ENT_OK_(ent_store_open(&other, m.dir, NULL, &o));
        ENT_OK_(ent_log_truncate(other, 9, 1));
        ent_store_close(other);
    } else {
        ENT_OK_(ent_log_truncate(m.s, 9, 1));
    }
    apply_all(m.s, v + 8, 1); /* seq 9 */
    ENT_OK_(ent_mirror_position(&seq, NULL, m.s));
    CU_ASSERT_EQUAL(seq, 9);
    /* the primary trimmed alike shows the same entities and events */
    ENT_OK_(ent_log_truncate(p.s, 9, 1));
    a = show(p.s);
    b = show(m.s);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"seq\":9"));
    ENT_OK_(ent_store_verify(&problems, m.s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    free(a);
    free(b);
    free_events(v, n);
    close_st(&m);
    close_st(&p);
}

/* A primary whose id counter was raised (`entity load` of a dump's {"type":T,"last_id":N} line,
 * ent_last_id_raise()) logs the raise, and its mirror counts the same ids: the raise was written
 * in no event, so a mirror (and a store rebuilt from the mirror's log, as a promoted mirror will
 * be) counted only the ids creates took, and gave out again ids the primary had handed out and
 * deleted. The mirror applies the raise in the transaction of its seq; a raise to a counter the
 * mirror holds already does not fit its state. */
static void test_mirror_counts_raised_ids(void)
{
    st p, m, r;
    ent_event **v, *ev = NULL;
    ent_txn *w = NULL;
    ent_entity *e;
    const ent_type *pu;
    size_t n;
    uint64_t id = 0, problems = 9, seq = 0;
    char *a, *b, bad[256];
    open_primary(&p);
    pu = ent_store_type(p.s, "user");
    /* a load: entities with their ids, then the counter line, in one transaction */
    ENT_OK_(ent_txn_begin(&w, p.s, ENT_TXN_WRITE));
    for (int i = 1; i <= 2; i++) {
        e = user(p.s, i);
        ENT_OK_(ent_entity_set_key(e, &(ent_key){ENT_KEY_AUTO, (uint64_t)i * 3, NULL, 0}));
        ENT_OK_(ent_entity_set_version(e, 4));
        ENT_OK_(ent_restore(p.s, w, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_last_id_raise(p.s, w, pu, 40));
    ENT_OK_(ent_txn_commit(w));
    ENT_OK_(ent_delete(p.s, NULL, pu, &(ent_key){ENT_KEY_AUTO, 6, NULL, 0}, ENT_VERSION_ANY));
    open_mirror(&m, ent_store_id(p.s));
    n = events_as_sent(&v, p.s, m.s, 1);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT(n == 4 && v[2]->op == ENT_OP_LAST_ID && v[2]->key.id == 40 && v[2]->txn == v[0]->txn);
    apply_all(m.s, v, n);
    free_events(v, n);
    ENT_OK_(ent_last_id(&id, m.s, NULL, ent_store_type(m.s, "user")));
    CU_ASSERT_EQUAL(id, 40);
    a = show(p.s);
    b = show(m.s);
    CU_ASSERT_STRING_EQUAL(a, b); /* the counters and the raise's event too */
    free(a);
    free(b);
    ENT_OK_(ent_store_verify(&problems, m.s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    /* a store rebuilt from the mirror's log alone takes ids above the primary's counter */
    open_primary(&r);
    ENT_OK_(ent_store_replay(r.s, m.s, 0));
    ENT_OK_(ent_last_id(&id, r.s, NULL, ent_store_type(r.s, "user")));
    CU_ASSERT_EQUAL(id, 40);
    e = user(r.s, 77);
    ENT_OK_(ent_create(r.s, NULL, e));
    CU_ASSERT_EQUAL(ent_entity_key(e).id, 41);
    ent_entity_free(e);
    close_st(&r);
    /* a raise to where the mirror's counter is already: not the primary's next state */
    ENT_OK_(ent_mirror_position(&seq, NULL, m.s));
    snprintf(bad, sizeof bad, "{\"seq\":%llu,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":99,\"type\":\"user\",\"key\":40,"
             "\"op\":\"last_id\",\"version\":0,\"data\":{}}", (unsigned long long)seq + 1);
    ENT_OK_(ent_event_from_json(&ev, ent_store_schema(m.s), bad, strlen(bad)));
    ENT_CHECK_RC(ent_mirror_apply(m.s, &ev, 1, 500), ENT_CORRUPT);
    ENT_ASSERT_MSG("id counter is at 40 already");
    ent_event_free(ev);
    ENT_OK_(ent_last_id(&id, m.s, NULL, ent_store_type(m.s, "user")));
    CU_ASSERT_EQUAL(id, 40);
    close_st(&m);
    close_st(&p);
}

/* A primary of before the version limit (ENT_VERSION_LAST) restored an entity at 2^64-2 and
 * deleted it, logging 2^64-1: a mirror and a replay still take that log as it is, though a write
 * of this version refuses the restore. */
static void test_mirror_takes_the_old_last_version(void)
{
    static const char *lines[] = {
        "{\"seq\":1,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"user\",\"key\":4,\"op\":\"update\","
        "\"version\":\"18446744073709551614\",\"data\":{\"email\":\"old@x\"}}",
        "{\"seq\":2,\"ts\":\"2020-01-01T00:00:01Z\",\"txn\":2,\"type\":\"user\",\"key\":4,\"op\":\"delete\","
        "\"version\":\"18446744073709551615\",\"data\":{}}"};
    st m, r;
    ent_event *ev = NULL;
    uint64_t problems = 9, last = 0;
    open_mirror(&m, "6c1f1f0a-0000-4000-8000-000000000001");
    /* a restore is logged as a create or an update: the update of an entity the log never made
     * is not this primary's; a create at that version is */
    for (int i = 0; i < 2; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", lines[i]);
        if (i == 0) memcpy(strstr(buf, "update"), "create", 6);
        ENT_OK_(ent_event_from_json(&ev, ent_store_schema(m.s), buf, strlen(buf)));
        ENT_OK_(ent_mirror_apply(m.s, &ev, 1, (uint64_t)i + 1));
        ent_event_free(ev);
        ev = NULL;
    }
    ENT_CHECK_RC(ent_exists(m.s, NULL, ent_store_type(m.s, "user"), &(ent_key){ENT_KEY_AUTO, 4, NULL, 0}), ENT_NOTFOUND);
    ENT_OK_(ent_store_verify(&problems, m.s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    open_primary(&r);
    ENT_OK_(ent_store_replay(r.s, m.s, 0));
    ENT_OK_(ent_log_bounds(NULL, &last, r.s, NULL));
    CU_ASSERT_EQUAL(last, 2);
    ENT_OK_(ent_log_get(&ev, r.s, NULL, 2));
    CU_ASSERT(ev && ev->op == ENT_OP_DELETE && ev->version == ENT_VERSION_ANY);
    ent_event_free(ev);
    close_st(&r);
    close_st(&m);
}

static void test_event_json_errors(void)
{
    ent_event *ev = NULL;
    static const char *bad[] = {
        "{",
        "[]",
        "{\"seq\":1,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"nope\",\"key\":1,\"op\":\"create\",\"version\":1,\"data\":{}}",
        "{\"seq\":1,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"user\",\"key\":1,\"op\":\"upsert\",\"version\":1,\"data\":{}}",
        "{\"seq\":1,\"ts\":\"yesterday\",\"txn\":1,\"type\":\"user\",\"key\":1,\"op\":\"create\",\"version\":1,\"data\":{}}",
        "{\"seq\":1,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"user\",\"key\":\"k\",\"op\":\"create\",\"version\":1,\"data\":{}}",
        "{\"seq\":1,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"user\",\"key\":1,\"op\":\"create\",\"version\":1,\"data\":{\"zzz\":1}}",
        "{\"seq\":1,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"user\",\"key\":1,\"op\":\"delete\",\"version\":1,\"data\":{\"score\":1}}",
        "{\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"user\",\"key\":1,\"op\":\"create\",\"version\":1,\"data\":{}}",
        /* an id counter's raise: a type of auto ids, a key from 1, version 0, nothing else */
        "{\"seq\":1,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"post\",\"key\":\"p\",\"op\":\"last_id\",\"version\":0,\"data\":{}}",
        "{\"seq\":1,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"user\",\"key\":0,\"op\":\"last_id\",\"version\":0,\"data\":{}}",
        "{\"seq\":1,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"user\",\"key\":5,\"op\":\"last_id\",\"version\":1,\"data\":{}}",
        "{\"seq\":1,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"user\",\"key\":5,\"op\":\"last_id\",\"version\":0,\"data\":{\"score\":1}}",
        "{\"seq\":1,\"ts\":\"2020-01-01T00:00:00Z\",\"txn\":1,\"type\":\"user\",\"key\":5,\"op\":\"last_id\",\"version\":0,\"data\":{},\"kinds\":{}}",
        NULL};
    for (int i = 0; bad[i]; i++) {
        ENT_CHECK_RC(ent_event_from_json(&ev, sc, bad[i], strlen(bad[i])), ENT_INVALID);
        CU_ASSERT_PTR_NULL(ev);
    }
    /* an op of a later version is named: an older mirror meeting it stops, saying what it met */
    ENT_CHECK_RC(ent_event_from_json(&ev, sc, bad[3], strlen(bad[3])), ENT_INVALID);
    ENT_ASSERT_MSG("\"op\" \"upsert\" is not create, update, delete or last_id");
    {
        static const char raise[] = "{\"seq\":7,\"ts\":\"2020-01-01T00:00:00.000000001Z\",\"txn\":3,\"type\":\"user\","
                                    "\"key\":\"18446744073709551615\",\"op\":\"last_id\",\"version\":0,\"data\":{}}";
        char *back = NULL;
        ENT_OK_(ent_event_from_json(&ev, sc, raise, strlen(raise)));
        CU_ASSERT(ev->op == ENT_OP_LAST_ID && ev->key.id == UINT64_MAX && ev->version == 0 && !ev->data);
        ENT_OK_(ent_event_to_json(&back, ev, 0));
        CU_ASSERT_STRING_EQUAL(back, raise); /* the round trip */
        free(back);
        ENT_OK_(ent_event_to_json(&back, ev, ENT_JSON_PRETTY));
        ent_event_free(ev);
        ev = NULL;
        ENT_OK_(ent_event_from_json(&ev, sc, back, strlen(back)));
        CU_ASSERT(ev && ev->op == ENT_OP_LAST_ID && ev->key.id == UINT64_MAX);
        free(back);
        ent_event_free(ev);
        ev = NULL;
    }
    {
        static const char ok[] = "{\"seq\":3,\"ts\":\"2020-01-01T00:00:00.5Z\",\"txn\":2,\"type\":\"user\",\"key\":4,"
                                 "\"op\":\"update\",\"version\":2,\"data\":{\"score\":5,\"tags\":null}}";
        ENT_OK_(ent_event_from_json(&ev, sc, ok, strlen(ok)));
    }
    CU_ASSERT_EQUAL(ev->seq, 3);
    CU_ASSERT_EQUAL(ev->ts, 1577836800500000000LL);
    CU_ASSERT_EQUAL(ev->key.id, 4);
    CU_ASSERT_EQUAL(ev->op, ENT_OP_UPDATE);
    CU_ASSERT_TRUE(ent_entity_changed(ev->data, ent_type_field(ev->type, "tags")));
    CU_ASSERT_FALSE(ent_entity_has(ev->data, "tags"));
    CU_ASSERT_FALSE(ent_entity_changed(ev->data, ent_type_field(ev->type, "email")));
    ent_event_free(ev);
}

/* Which schema version each event was written under (what a relay ships ahead of it). */
static void test_schema_history(void)
{
    st p;
    ent_schema_mark *marks = NULL;
    size_t n = 0;
    ent_schema *v2 = NULL;
    ent_store_opts o = opts();
    char *json = NULL, *j2;
    ent_entity *e;
    if (strcmp(backend, "lmdb")) return; /* an evolution reopens the store */
    open_primary(&p);
    e = user(p.s, 1);
    ENT_OK_(ent_create(p.s, NULL, e));
    ent_entity_free(e);
    ent_store_close(p.s);
    j2 = strdup(schema_json);
    memcpy(strstr(j2, "\"version\":1"), "\"version\":2", 11);
    ENT_OK_(ent_schema_load_json(&v2, j2, strlen(j2), "v2"));
    ENT_OK_(ent_store_open(&p.s, p.dir, v2, &o));
    ENT_OK_(ent_store_schema_history(&marks, &n, p.s));
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(marks[0].version, 1);
    CU_ASSERT_EQUAL(marks[0].after_seq, 0);
    CU_ASSERT_EQUAL(marks[1].version, 2);
    CU_ASSERT_EQUAL(marks[1].after_seq, 1);
    ENT_OK_(ent_store_schema_json(&json, p.s, 1));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"version\":1"));
    free(json);
    ENT_CHECK_RC(ent_store_schema_json(&json, p.s, 3), ENT_NOTFOUND);
    ENT_ASSERT_MSG("the store has no schema version 3"); /* not a backend's bare miss */
    CU_ASSERT_PTR_NULL(json);
    free(marks);
    free(j2);
    ent_schema_free(v2);
    close_st(&p);
}

/* The last event of s's log. */
static ent_event *last_event(ent_store *s)
{
    uint64_t last = 0;
    ent_event *ev = NULL;
    ENT_OK_(ent_log_bounds(NULL, &last, s, NULL));
    ENT_OK_(ent_log_get(&ev, s, NULL, last));
    return ev;
}

/* Failover: a mirror made the primary. Writes refused before and taken after; its log goes on at
 * the last applied seq + 1 and its txns above the last applied one; its id counter above every id
 * the primary gave (a deleted one too); it takes the primary's id and is a mirror no more. */
static void test_promote(void)
{
    st p, m;
    ent_event **v, *ev;
    ent_entity *e;
    size_t n;
    uint64_t seq = 0, last = 0, id = 0, problems = 1, txn;
    ent_store_opts o = opts();
    char pid[37];
    open_primary(&p);
    write_history(p.s);
    /* user 6 created and deleted: its id must never be handed out again */
    e = user(p.s, 6);
    ENT_OK_(ent_create(p.s, NULL, e));
    CU_ASSERT_EQUAL(ent_entity_key(e).id, 6);
    {
        ent_key k6 = ent_entity_key(e);
        ENT_OK_(ent_delete(p.s, NULL, ent_store_type(p.s, "user"), &k6, ENT_VERSION_ANY));
    }
    ent_entity_free(e);
    snprintf(pid, sizeof pid, "%s", ent_store_id(p.s));
    open_mirror(&m, pid);
    n = events_as_sent(&v, p.s, m.s, 1);
    CU_ASSERT_EQUAL_FATAL(n, 11);
    apply_all(m.s, v, n);
    ev = last_event(m.s);
    txn = ev->txn;
    ent_event_free(ev);
    /* before: a mirror takes no write */
    e = user(m.s, 7);
    ENT_CHECK_RC(ent_create(m.s, NULL, e), ENT_READONLY);
    /* a store that is no mirror has nothing to promote */
    ENT_CHECK_RC(ent_mirror_promote(p.s, ENT_DURABILITY_STORED, &seq), ENT_INVALID);
    ENT_ASSERT_MSG("is not a mirror");
    ENT_OK_(ent_mirror_promote(m.s, ENT_DURABILITY_STORED, &seq));
    CU_ASSERT_EQUAL(seq, 11);
    CU_ASSERT_STRING_EQUAL(ent_store_id(m.s), pid); /* the primary's id: its relay publishes where the primary's did */
    CU_ASSERT_PTR_NULL(ent_store_mirror_of(m.s));
    ENT_CHECK_RC(ent_mirror_position(&seq, NULL, m.s), ENT_INVALID);
    ENT_OK_(ent_last_id(&id, m.s, NULL, ent_store_type(m.s, "user")));
    CU_ASSERT(id >= 6);
    /* after: an ordinary primary */
    ENT_OK_(ent_create(m.s, NULL, e));
    CU_ASSERT_EQUAL(ent_entity_key(e).id, 7);
    ent_entity_free(e);
    ev = last_event(m.s);
    CU_ASSERT_EQUAL(ev->seq, 12);
    CU_ASSERT_EQUAL(ev->txn, txn + 1);
    ent_event_free(ev);
    /* a raise is a logged change of the promoted store's own, as on any primary */
    ENT_OK_(ent_last_id_raise(m.s, NULL, ent_store_type(m.s, "user"), 20));
    ev = last_event(m.s);
    CU_ASSERT_EQUAL(ev->seq, 13);
    CU_ASSERT_EQUAL(ev->txn, txn + 2);
    CU_ASSERT_EQUAL(ev->op, ENT_OP_LAST_ID);
    CU_ASSERT_EQUAL(ev->key.id, 20);
    ent_event_free(ev);
    ENT_OK_(ent_store_verify(&problems, m.s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    /* a second promotion is a mistake, said so */
    ENT_CHECK_RC(ent_mirror_promote(m.s, ENT_DURABILITY_STORED, NULL), ENT_INVALID);
    ENT_ASSERT_MSG("is not a mirror");
    /* the mirror apply goes no further on it: it is a primary */
    ENT_CHECK_RC(ent_mirror_apply(m.s, v + n - 1, 1, 0), ENT_READONLY);
    if (strcmp(backend, "memory")) {
        /* the promotion is in the store, not the handle */
        ent_store_close(m.s);
        ENT_CHECK_RC(ent_mirror_open(&m.s, m.dir, pid, NULL, &o), ENT_CONFLICT);
        ENT_ASSERT_MSG("not a mirror");
        ENT_OK_(ent_store_open(&m.s, m.dir, NULL, &o));
        CU_ASSERT_STRING_EQUAL(ent_store_id(m.s), pid);
        CU_ASSERT_PTR_NULL(ent_store_mirror_of(m.s));
        e = user(m.s, 8);
        ENT_OK_(ent_create(m.s, NULL, e));
        CU_ASSERT_EQUAL(ent_entity_key(e).id, 21);
        ent_entity_free(e);
        ENT_OK_(ent_log_bounds(NULL, &last, m.s, NULL));
        CU_ASSERT_EQUAL(last, 14); /* 12 the create, 13 the raise */
        ENT_OK_(ent_store_verify(&problems, m.s, NULL, NULL));
        CU_ASSERT_EQUAL(problems, 0);
    }
    free_events(v, n);
    close_st(&m);
    close_st(&p);
}

/* A mirror with nothing applied yet, and one whose primary id is no store id (a host's transport
 * may name it so): the first is promoted (an empty primary), the second refused, unchanged. */
static void test_promote_edges(void)
{
    st m;
    ent_entity *e;
    uint64_t seq = 9;
    open_mirror(&m, "00000000-0000-4000-8000-0000000000ab");
    /* a mode that is none is refused up front: still the mirror */
    ENT_CHECK_RC(ent_mirror_promote(m.s, 7, &seq), ENT_INVALID);
    ENT_ASSERT_MSG("is no durability");
    CU_ASSERT_STRING_EQUAL(ent_store_mirror_of(m.s), "00000000-0000-4000-8000-0000000000ab");
    /* the mirror is `none` (opts()); promoted `durable`, in the same transaction */
    ENT_OK_(ent_mirror_promote(m.s, ENT_DURABLE, &seq));
    CU_ASSERT_EQUAL(seq, 0);
    CU_ASSERT_STRING_EQUAL(ent_store_id(m.s), "00000000-0000-4000-8000-0000000000ab");
    CU_ASSERT_EQUAL(ent_store_durability(m.s), ENT_NONE); /* this handle keeps its mode */
    e = user(m.s, 1);
    ENT_OK_(ent_create(m.s, NULL, e));
    CU_ASSERT_EQUAL(ent_entity_key(e).id, 1);
    ent_entity_free(e);
    if (strcmp(backend, "memory")) {
        ent_store_opts so = ENT_STORE_OPTS_INIT; /* the stored mode */
        so.backend = backend;
        ent_store_close(m.s);
        ENT_OK_(ent_store_open(&m.s, m.dir, NULL, &so));
        CU_ASSERT_EQUAL(ent_store_durability(m.s), ENT_DURABLE);
    }
    close_st(&m);
    open_mirror(&m, "00000000-0000-4000-8000-0000000000AB"); /* ids are lower case: its subjects would differ */
    ENT_CHECK_RC(ent_mirror_promote(m.s, ENT_DURABILITY_STORED, NULL), ENT_INVALID);
    ENT_ASSERT_MSG("no store id");
    close_st(&m);
    open_mirror(&m, "primary-7");
    ENT_CHECK_RC(ent_mirror_promote(m.s, ENT_DURABILITY_STORED, NULL), ENT_INVALID);
    ENT_ASSERT_MSG("no store id");
    CU_ASSERT_STRING_EQUAL(ent_store_mirror_of(m.s), "primary-7");
    close_st(&m);
}

/* A promotion refused while a mirror process holds <mirror>/mirror.lock (as ent_follow_run()
 * holds it for its whole run), naming its pid; and through a handle opened before another
 * handle promoted the store, writes are refused saying so. */
static void test_promote_lock_and_stale_handles(void)
{
    st p, m;
    ent_store *other = NULL;
    ent_store_opts o = opts();
    ent_event **v;
    ent_entity *e;
    size_t n;
    char lock[ENT_TEST_PATH_MAX + 16];
    struct stat sb;
    int fd;
    if (!strcmp(backend, "memory")) return; /* no directory: no follower reaches a host's handle */
    open_primary(&p);
    write_history(p.s);
    open_mirror(&m, ent_store_id(p.s));
    n = events_as_sent(&v, p.s, m.s, 1);
    apply_all(m.s, v, 5);
    ENT_TEST_PATH(lock, "%s/mirror.lock", m.dir);
    fd = open(lock, O_RDWR | O_CREAT, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL_FATAL(write(fd, "4242\n", 5), 5);
    CU_ASSERT_EQUAL_FATAL(flock(fd, LOCK_EX | LOCK_NB), 0);
    ENT_CHECK_RC(ent_mirror_promote(m.s, ENT_DURABILITY_STORED, NULL), ENT_BUSY);
    ENT_ASSERT_MSG("a mirror is running on it (pid 4242)");
    CU_ASSERT_STRING_EQUAL(ent_store_mirror_of(m.s), ent_store_id(p.s)); /* unchanged */
    close(fd);
    /* another handle (another process) promotes it: the mirror's handle applies no more, and
     * its writes are refused saying to open it again */
    ENT_OK_(ent_store_open(&other, m.dir, NULL, &o));
    ENT_OK_(ent_mirror_promote(other, ENT_DURABILITY_STORED, NULL));
    CU_ASSERT_NOT_EQUAL(stat(lock, &sb), 0); /* no mirror: its lock file goes */
    ENT_CHECK_RC(ent_mirror_apply(m.s, v + 5, 1, 0), ENT_READONLY);
    ENT_ASSERT_MSG("was promoted to a primary");
    e = user(m.s, 7);
    ENT_CHECK_RC(ent_create(m.s, NULL, e), ENT_READONLY);
    ENT_ASSERT_MSG("open it again");
    ENT_CHECK_RC(ent_mirror_promote(m.s, ENT_DURABILITY_STORED, NULL), ENT_INVALID);
    ENT_ASSERT_MSG("promoted since");
    /* nor has it a mirror position: it said ENT_OK and seq 0 (the promotion drops the position),
     * which `entity serve`'s stat printed as a mirror that had applied nothing */
    {
        uint64_t seq = 99, pos = 99;
        ENT_CHECK_RC(ent_mirror_position(&seq, &pos, m.s), ENT_INVALID);
        ENT_ASSERT_MSG("was promoted to a primary");
    }
    ent_entity_free(e);
    e = user(other, 7);
    ENT_OK_(ent_create(other, NULL, e));
    CU_ASSERT_EQUAL(ent_entity_key(e).id, 6);
    ent_entity_free(e);
    ent_store_close(other);
    /* a store that is no mirror leaves no lock file behind a refused promotion */
    ENT_CHECK_RC(ent_mirror_promote(p.s, ENT_DURABILITY_STORED, NULL), ENT_INVALID);
    ENT_TEST_PATH(lock, "%s/mirror.lock", p.dir);
    CU_ASSERT_NOT_EQUAL(stat(lock, &sb), 0);
    free_events(v, n);
    close_st(&m);
    close_st(&p);
}

int main(int argc, char **argv)
{
    static const ent_test_case cases[] = {ENT_TEST(test_copy_through_json), ENT_TEST(test_duplicate_gap_diverged),
                                          ENT_TEST(test_mirror_takes_no_other_writer), ENT_TEST(test_mirror_trims_its_own_log),
                                          ENT_TEST(test_event_json_errors), ENT_TEST(test_mirror_counts_raised_ids),
                                          ENT_TEST(test_mirror_takes_the_old_last_version),
                                          ENT_TEST(test_schema_history), ENT_TEST(test_promote),
                                          ENT_TEST(test_promote_edges), ENT_TEST(test_promote_lock_and_stale_handles),
                                          {NULL, NULL}};
    char suite[64];
    int rc;
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_mirror_%s", backend);
    if (ent_schema_load_json(&sc, schema_json, strlen(schema_json), "mi") != ENT_OK) return 2;
    rc = ent_test_run(suite, cases);
    ent_schema_free(sc);
    return rc;
}
