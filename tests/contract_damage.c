/* Reads and writes over damaged records: the store is corrupted on purpose through the backend
 * seam (as a bug, a bad tool or a bit flip would), and each call that meets the damage must fail
 * with ENT_CORRUPT naming the entity, never return a wrong answer, nor let a write carry the
 * damage on where verify no longer sees it. (contract_verify: that verify names each damage.)
 * Run once per backend (its name in argv[1], from the table of src/backends.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "store_int.h"
#include "test_util.h"

static const char *backend;
static char dir[ENT_TEST_PATH_MAX];
static ent_store *S;
static ent_schema *SC;

static const char schema_json[] =
    "{\"schema\":\"d\",\"version\":1,\"types\":{"
    "\"owner\":{\"key\":\"auto\",\"fields\":{\"name\":{\"id\":1,\"type\":\"string\",\"unique\":true}}},"
    "\"thing\":{\"key\":\"string\",\"fields\":{"
    "  \"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"owner\"},"
    "  \"size\":{\"id\":2,\"type\":\"int\",\"indexed\":true}}},"
    "\"job\":{\"key\":\"auto\",\"fields\":{"
    "  \"state\":{\"id\":1,\"type\":\"string\",\"enum\":[\"new\",\"done\"],\"required\":true},"
    "  \"tries\":{\"id\":2,\"type\":\"int\",\"min\":0}}}}}";

/* owners 1..3 named o1..o3, things t1..t3 of sizes 10, 20, 30 owned by owner i */
static void setup(void)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = backend;
    o.durability = ENT_NONE;
    ENT_TEST_MKDTEMP(dir, "contract-damage");
    ENT_OK_(ent_schema_load_json(&SC, schema_json, strlen(schema_json), "d"));
    ENT_OK_(ent_store_open(&S, dir, SC, &o));
    for (int i = 1; i <= 3; i++) {
        ent_entity *e = NULL;
        char nm[16], k[16];
        ent_key key;
        snprintf(nm, sizeof nm, "o%d", i);
        ENT_OK_(ent_entity_new(&e, ent_store_type(S, "owner")));
        ENT_OK_(ent_entity_set_string(e, "name", nm));
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
        snprintf(k, sizeof k, "t%d", i);
        key = ent_key_str(k);
        ENT_OK_(ent_entity_new(&e, ent_store_type(S, "thing")));
        ENT_OK_(ent_entity_set_key(e, &key));
        ENT_OK_(ent_entity_set_uint(e, "owner", (uint64_t)i));
        ENT_OK_(ent_entity_set_int(e, "size", i * 10));
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
    }
}

static void teardown(void)
{
    ent_store_close(S);
    ent_schema_free(SC);
    ent_test_rm_rf(dir);
}

/* One pair written below the store, in a transaction of its own: into the table of type's
 * records (field NULL) or of its index on field. */
static void raw_put(const char *type, const char *field, const void *k, size_t kn, const void *v, size_t vn)
{
    ent_txn *t = NULL;
    ent_slice ks = {k, kn}, vs = {v, vn};
    const ent_type *ty = ent_store_type(S, type);
    const ent_field *f = field ? ent_type_field(ty, field) : NULL;
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent__bk_put(t, f ? t->lay->idx[ty->pos][f->index_no] : t->lay->data[ty->pos], &ks, &vs, 0));
    ENT_OK_(ent_txn_commit(t));
}

static void collect(const char *line, void *p)
{
    size_t used = strlen(p);
    snprintf((char *)p + used, 1024 - used, "%s\n", line);
}

/* The things of an iterator, until it fails: *n how many came, the status of its end. */
static int drain(ent_iter *it, int *n)
{
    ent_entity *e = NULL;
    int rc;
    *n = 0;
    while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
        ent_entity_free(e);
        ++*n;
    }
    return rc;
}

static uint64_t last_seq(void)
{
    uint64_t last = 0;
    uint64_t first = 0;
    ENT_OK_(ent_log_bounds(&first, &last, S, NULL));
    return last;
}

/* A record that does not decode, met by a scan and a look-up: the error names the entity (a scan
 * said only "corrupt record: not a well-formed msgpack value", not which of the many). */
static void t_scan_names_the_entity(void)
{
    const ent_type *thing;
    ent_iter *it = NULL;
    ent_value v = ent_value_int(20);
    int n;
    setup();
    thing = ent_store_type(S, "thing");
    raw_put("thing", NULL, "t2", 2, "\x92\x01\x82\x01", 4); /* cut short */
    ENT_OK_(ent_scan(&it, S, NULL, thing, NULL, NULL));
    ENT_CHECK_RC(drain(it, &n), ENT_CORRUPT);
    CU_ASSERT_EQUAL(n, 1);
    ENT_ASSERT_MSG("thing \"t2\": corrupt record");
    ent_iter_free(it);
    ENT_OK_(ent_find(&it, S, NULL, ent_type_field(thing, "size"), &v));
    ENT_CHECK_RC(drain(it, &n), ENT_CORRUPT);
    CU_ASSERT_EQUAL(n, 0);
    ENT_ASSERT_MSG("thing \"t2\": corrupt record");
    ent_iter_free(it);
    teardown();
}

/* A key of the wrong size in an auto-id type's table: the scan names the type. */
static void t_scan_bad_key_names_the_type(void)
{
    ent_iter *it = NULL;
    int n;
    setup();
    raw_put("owner", NULL, "\x00\x00\x01", 3, "\x92\x01\x81\x01\xa2o9", 7);
    ENT_OK_(ent_scan(&it, S, NULL, ent_store_type(S, "owner"), NULL, NULL));
    ENT_CHECK_RC(drain(it, &n), ENT_CORRUPT);
    ENT_ASSERT_MSG("owner: primary key of 3 bytes");
    ent_iter_free(it);
    teardown();
}

/* An index entry for an entity that is not there: named by the entity's key and the index. */
static void t_index_entry_for_missing_entity(void)
{
    const ent_type *thing;
    ent_iter *it = NULL;
    ent_value v = ent_value_int(99);
    uint8_t ik[8];
    int n;
    setup();
    thing = ent_store_type(S, "thing");
    ent__enc_i64(ik, 99);
    raw_put("thing", "size", ik, 8, "t9", 2);
    ENT_OK_(ent_find(&it, S, NULL, ent_type_field(thing, "size"), &v));
    ENT_CHECK_RC(drain(it, &n), ENT_CORRUPT);
    ENT_ASSERT_MSG("thing \"t9\": index size has an entry for a missing entity");
    ent_iter_free(it);
    teardown();
}

/* An index entry its entity holds, removed under the store: a write that would take it out (a
 * delete, an update of the value) names the damage as ENT_CORRUPT and writes nothing; it is not
 * "not found", which the entity it was given is not. */
static void t_write_over_missing_index_entry(void)
{
    const ent_type *thing;
    ent_txn *t = NULL;
    ent_entity *e = NULL;
    ent_key k = ent_key_str("t2");
    uint8_t ik[8];
    ent_slice ks = {ik, 8}, vs = {"t2", 2};
    uint64_t before = 0, after = 0;
    setup();
    thing = ent_store_type(S, "thing");
    ent__enc_i64(ik, 20);
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent__bk_del(t, t->lay->idx[thing->pos][ent_type_field(thing, "size")->index_no], &ks, &vs));
    ENT_OK_(ent_txn_commit(t));
    ENT_OK_(ent_log_bounds(NULL, &before, S, NULL));
    ENT_CHECK_RC(ent_delete(S, NULL, thing, &k, ENT_VERSION_ANY), ENT_CORRUPT);
    ENT_ASSERT_MSG("thing.size: index entry missing");
    ENT_OK_(ent_get(&e, S, NULL, thing, &k));
    ENT_OK_(ent_entity_set_int(e, "size", 21));
    ENT_CHECK_RC(ent_update(S, NULL, e, ENT_VERSION_ANY), ENT_CORRUPT);
    ENT_ASSERT_MSG("thing.size: index entry missing");
    ent_entity_free(e);
    ENT_OK_(ent_exists(S, NULL, thing, &k));
    ENT_OK_(ent_log_bounds(NULL, &after, S, NULL));
    CU_ASSERT_EQUAL(after, before);
    teardown();
}

/* An index entry under a value its entity does not hold: a look-up of that value returned the
 * entity as a match, silently (owner 1, named o1, found by the name "zz"; thing t1, of size 10,
 * among the things of size 99 and in a range from 50). */
static void t_index_entry_for_another_value(void)
{
    const ent_type *owner, *thing;
    ent_entity *e = NULL;
    ent_iter *it = NULL;
    ent_value zz = ent_value_string("zz"), v99 = ent_value_int(99), v50 = ent_value_int(50);
    ent_range_opts ro = ENT_RANGE_OPTS_INIT;
    ent_buf ik = {0};
    uint8_t pk[8], sk[8];
    int n, inexact = 0;
    setup();
    owner = ent_store_type(S, "owner");
    thing = ent_store_type(S, "thing");
    ENT_OK_(ent__ikey_from_value(&ik, ent_type_field(owner, "name"), &zz, &inexact));
    ent__enc_u64(pk, 1);
    raw_put("owner", "name", ik.p, ik.n, pk, 8);
    ent__enc_i64(sk, 99);
    raw_put("thing", "size", sk, 8, "t1", 2);

    ENT_CHECK_RC(ent_find_unique(&e, S, NULL, ent_type_field(owner, "name"), &zz), ENT_CORRUPT);
    CU_ASSERT_PTR_NULL(e);
    ENT_ASSERT_MSG("owner 1: index name has an entry for a value the entity does not hold");
    {
        /* under a longer value that starts with the one it holds ("o1x", owner 1 named o1) */
        ent_value o1x = ent_value_string("o1x");
        ik.n = 0;
        ENT_OK_(ent__ikey_from_value(&ik, ent_type_field(owner, "name"), &o1x, &inexact));
        raw_put("owner", "name", ik.p, ik.n, pk, 8);
        ENT_CHECK_RC(ent_find_unique(&e, S, NULL, ent_type_field(owner, "name"), &o1x), ENT_CORRUPT);
        CU_ASSERT_PTR_NULL(e);
        ENT_ASSERT_MSG("owner 1: index name has an entry for a value the entity does not hold");
    }
    ENT_OK_(ent_find(&it, S, NULL, ent_type_field(owner, "name"), &zz));
    ENT_CHECK_RC(drain(it, &n), ENT_CORRUPT);
    CU_ASSERT_EQUAL(n, 0);
    ent_iter_free(it);

    ENT_OK_(ent_find(&it, S, NULL, ent_type_field(thing, "size"), &v99));
    ENT_CHECK_RC(drain(it, &n), ENT_CORRUPT);
    CU_ASSERT_EQUAL(n, 0);
    ENT_ASSERT_MSG("thing \"t1\": index size has an entry for a value the entity does not hold");
    ent_iter_free(it);
    ro.from = &v50;
    ENT_OK_(ent_range(&it, S, NULL, ent_type_field(thing, "size"), &ro));
    ENT_CHECK_RC(drain(it, &n), ENT_CORRUPT);
    CU_ASSERT_EQUAL(n, 0);
    ent_iter_free(it);
    /* the entries that agree still work */
    {
        ent_value o2 = ent_value_string("o2");
        ENT_OK_(ent_find_unique(&e, S, NULL, ent_type_field(owner, "name"), &o2));
        CU_ASSERT_EQUAL(ent_entity_key(e).id, 2);
        ent_entity_free(e);
    }
    ent__buf_free(&ik);
    teardown();
}

/* A record at version 0 (or ENT_VERSION_ANY), which no stored entity has: it read as version 0,
 * and an update stored and logged version 1 after the log's version 1 of the create, so that the
 * damage left the record and verify called the store sound. */
static void t_record_version_out_of_range(void)
{
    static const char *recs[] = {"\x92\x00\x82\x01\x01\x02\x0a",
                                 "\x92\xcf\xff\xff\xff\xff\xff\xff\xff\xff\x82\x01\x01\x02\x0a"};
    static const size_t lens[] = {7, 15};
    for (int i = 0; i < 2; i++) {
        const ent_type *thing;
        ent_entity *e = NULL;
        ent_key k1 = ent_key_str("t1");
        uint64_t seq, problems = 0;
        setup();
        thing = ent_store_type(S, "thing");
        raw_put("thing", NULL, "t1", 2, recs[i], lens[i]);
        seq = last_seq();
        ENT_CHECK_RC(ent_get(&e, S, NULL, thing, &k1), ENT_CORRUPT);
        ENT_ASSERT_MSG("thing \"t1\": corrupt record: version");
        ENT_OK_(ent_entity_new(&e, thing));
        ENT_OK_(ent_entity_set_key(e, &k1));
        ENT_OK_(ent_entity_set_int(e, "size", 11));
        ENT_CHECK_RC(ent_update(S, NULL, e, ENT_VERSION_ANY), ENT_CORRUPT);
        ent_entity_free(e);
        CU_ASSERT_EQUAL(last_seq(), seq); /* nothing logged */
        ENT_CHECK_RC(ent_store_verify(&problems, S, NULL, NULL), ENT_CORRUPT);
        CU_ASSERT(problems >= 1);
        teardown();
    }
}

/* A damaged event in the middle of a batch: the events before it are handed out, then the damage
 * is ENT_CORRUPT naming its seq, and stays so. The whole batch was lost with it (`entity events`
 * printed nothing of a log whose 5th event was damaged, `--limit 1` from seq 4 neither). Also a
 * cursor that starts right at it, and one filtered to a type. */
static void t_log_damage_after_good_events(void)
{
    uint8_t kb[8];
    ent_log_cursor *c = NULL;
    ent_event *ev = NULL;
    ent_txn *t = NULL;
    ent_slice k = {kb, 8}, v = {"\xc1\xc1", 2};
    uint64_t want = 1;
    int rc;
    setup(); /* events 1..6 */
    ent__enc_u64(kb, 5);
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent__bk_put(t, S->t_log, &k, &v, 0));
    ENT_OK_(ent_txn_commit(t));
    ENT_OK_(ent_log_cursor_open(&c, S, 1, NULL, 0));
    while ((rc = ent_log_next(&ev, c)) == ENT_OK) {
        CU_ASSERT_EQUAL(ev->seq, want);
        want++;
        ent_event_free(ev);
    }
    CU_ASSERT_EQUAL(want, 5);
    CU_ASSERT_EQUAL(rc, ENT_CORRUPT);
    ENT_ASSERT_MSG("event 5");
    ENT_CHECK_RC(ent_log_next(&ev, c), ENT_CORRUPT);
    ent_log_cursor_free(c);
    ENT_OK_(ent_log_cursor_open(&c, S, 4, ent_store_type(S, "thing"), 0));
    ENT_OK_(ent_log_next(&ev, c));
    CU_ASSERT_EQUAL(ev->seq, 4);
    ent_event_free(ev);
    ENT_CHECK_RC(ent_log_next(&ev, c), ENT_CORRUPT);
    ent_log_cursor_free(c);
    ENT_OK_(ent_log_cursor_open(&c, S, 5, NULL, 0));
    ENT_CHECK_RC(ent_log_next(&ev, c), ENT_CORRUPT);
    ENT_ASSERT_MSG("event 5");
    ent_log_cursor_free(c);
    teardown();
}

/* A record that decodes but breaks the schema (a value outside its enum or range, a required
 * field missing), in fields no index holds, after a trim (no replay to compare with): reads
 * print it as it is, and verify said ok. */
static void t_verify_record_breaks_schema(void)
{
#define REC(lit) {lit, sizeof lit - 1}
    static const struct {
        const char *p;
        size_t n;
    } recs[] = {REC("\x92\x01\x82\x01\xa5" "bogus" "\x02\x05"), REC("\x92\x01\x82\x01\xa3" "new" "\x02\xff"),
                REC("\x92\x01\x81\x02\x05")};
#undef REC
    static const char *const said[] = {"job 1: the record breaks the schema: job.state: \"bogus\" is not in enum",
                                       "job 1: the record breaks the schema: job.tries", "job 1: the record breaks the schema: job.state"};
    for (int i = 0; i < 3; i++) {
        ent_entity *e = NULL;
        uint64_t n = 0, first = 0, last = 0;
        char lines[1024] = "";
        uint8_t pk[8];
        setup();
        ENT_OK_(ent_entity_new(&e, ent_store_type(S, "job")));
        ENT_OK_(ent_entity_set_string(e, "state", "new"));
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
        ENT_OK_(ent_log_bounds(&first, &last, S, NULL));
        ENT_OK_(ent_log_truncate(S, last + 1, 1));
        ENT_OK_(ent_store_verify(&n, S, NULL, NULL)); /* sound */
        ent__enc_u64(pk, 1);
        raw_put("job", NULL, pk, 8, recs[i].p, recs[i].n);
        ENT_CHECK_RC(ent_store_verify(&n, S, collect, lines), ENT_CORRUPT);
        CU_ASSERT_EQUAL(n, 1);
        if (!strstr(lines, said[i])) fprintf(stderr, "\n  verify said:\n%s  (wanted \"%s\")\n", lines, said[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(lines, said[i]));
        teardown();
    }
}

/* A record holding a field id that no version of its schema declared (a flipped id byte, a tool
 * writing behind the store): reads skip it, and verify said ok. The id of a field removed by an
 * evolution is not damage (records keep it; LMDB only: an evolution is a reopen). */
static void t_verify_unknown_field_id(void)
{
    static const char rec[] = "\x92\x01\x83\x01\x01\x02\x0a\x07\xa1x"; /* owner 1, size 10, id 7 */
    uint64_t n = 0;
    char lines[1024] = "";
    setup();
    raw_put("thing", NULL, "t1", 2, rec, sizeof rec - 1);
    ENT_CHECK_RC(ent_store_verify(&n, S, collect, lines), ENT_CORRUPT);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(lines, "thing \"t1\": the record holds field id 7, which no version of the schema declared"));
    teardown();
    {
        /* the same in an event: seq 2, the create of thing t1, with an id 7 added to its data */
        static const char ev[] = "\x97\x01\x02\xa5thing\xa2t1\x01\x01\x83\x01\x01\x02\x0a\x07\xa1x";
        uint8_t kb[8];
        ent_slice k = {kb, 8}, val = {ev, sizeof ev - 1};
        ent_txn *t = NULL;
        lines[0] = '\0';
        setup();
        ent__enc_u64(kb, 2);
        ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
        ENT_OK_(ent__bk_put(t, S->t_log, &k, &val, 0));
        ENT_OK_(ent_txn_commit(t));
        ENT_CHECK_RC(ent_store_verify(&n, S, collect, lines), ENT_CORRUPT);
        CU_ASSERT_EQUAL(n, 1);
        if (!strstr(lines, "seq 2: the event holds field id 7")) fprintf(stderr, "\n  verify said:\n%s", lines);
        CU_ASSERT_PTR_NOT_NULL(strstr(lines, "seq 2: the event holds field id 7, which no version of the schema declared"));
        teardown();
    }
    if (strcmp(backend, "lmdb") == 0) {
        static const char v2[] =
            "{\"schema\":\"d\",\"version\":2,\"types\":{"
            "\"owner\":{\"key\":\"auto\",\"fields\":{\"name\":{\"id\":1,\"type\":\"string\",\"unique\":true}}},"
            "\"thing\":{\"key\":\"string\",\"fields\":{\"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"owner\"}}},"
            "\"job\":{\"key\":\"auto\",\"fields\":{"
            "  \"state\":{\"id\":1,\"type\":\"string\",\"enum\":[\"new\",\"done\"],\"required\":true},"
            "  \"tries\":{\"id\":2,\"type\":\"int\",\"min\":0}}}}}";
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        ent_schema *sc2 = NULL;
        ent_key t1 = ent_key_str("t1");
        ent_entity *e = NULL;
        o.durability = ENT_NONE;
        setup();
        ent_store_close(S);
        ENT_OK_(ent_schema_load_json(&sc2, v2, strlen(v2), "d2")); /* thing.size removed */
        ENT_OK_(ent_store_open(&S, dir, sc2, &o));
        ENT_OK_(ent_store_verify(&n, S, collect, lines));
        CU_ASSERT_EQUAL(n, 0);
        ENT_OK_(ent_get(&e, S, NULL, ent_store_type(S, "thing"), &t1));
        ent_entity_free(e);
        ent_schema_free(sc2);
        teardown();
    }
}

/* An evolution that builds an index meets a record that does not decode: it said only "corrupt
 * record: ...", not which of the type's entities. LMDB only (an evolution is a reopen). */
static void t_evolution_names_the_entity(void)
{
    static const char v2[] =
        "{\"schema\":\"d\",\"version\":2,\"types\":{"
        "\"owner\":{\"key\":\"auto\",\"fields\":{\"name\":{\"id\":1,\"type\":\"string\",\"unique\":true}}},"
        "\"thing\":{\"key\":\"string\",\"fields\":{"
        "  \"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"owner\"},"
        "  \"size\":{\"id\":2,\"type\":\"int\",\"unique\":true}}},"
        "\"job\":{\"key\":\"auto\",\"fields\":{"
        "  \"state\":{\"id\":1,\"type\":\"string\",\"enum\":[\"new\",\"done\"],\"required\":true},"
        "  \"tries\":{\"id\":2,\"type\":\"int\",\"min\":0}}}}}";
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_schema *sc2 = NULL;
    if (strcmp(backend, "lmdb") != 0) return;
    setup();
    raw_put("thing", NULL, "t2", 2, "\x92\x01\x82\x01", 4);
    ent_store_close(S);
    ENT_OK_(ent_schema_load_json(&sc2, v2, strlen(v2), "d2"));
    o.durability = ENT_NONE;
    ENT_CHECK_RC(ent_store_open(&S, dir, sc2, &o), ENT_CORRUPT);
    ENT_ASSERT_MSG("building the index of thing.size: thing \"t2\": corrupt record");
    ent_schema_free(sc2);
    ENT_OK_(ent_store_open(&S, dir, NULL, &o)); /* at version 1 still */
    CU_ASSERT_EQUAL(ent_store_schema(S)->version, 1);
    teardown();
}

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_scan_names_the_entity),
        ENT_TEST(t_scan_bad_key_names_the_type),
        ENT_TEST(t_index_entry_for_missing_entity),
        ENT_TEST(t_index_entry_for_another_value),
        ENT_TEST(t_write_over_missing_index_entry),
        ENT_TEST(t_record_version_out_of_range),
        ENT_TEST(t_evolution_names_the_entity),
        ENT_TEST(t_log_damage_after_good_events),
        ENT_TEST(t_verify_record_breaks_schema),
        ENT_TEST(t_verify_unknown_field_id),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_damage_%s", backend);
    return ent_test_run(suite, cases);
}
