/* Verify finds each kind of damage: the store is corrupted on purpose through the backend seam
 * (as a bug, a bad tool or a bit flip would), and verify must report it by type and key or seq.
 * Run once per backend (its name in argv[1], from the table of src/backends.c). */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "mp_write.h"
#include "store_int.h"
#include "test_util.h"

static const char *backend;
static char dir[ENT_TEST_PATH_MAX];
static ent_store *S;
static ent_schema *SC;

static const char schema_json[] =
    "{\"schema\":\"v\",\"version\":1,\"types\":{"
    "\"owner\":{\"key\":\"auto\",\"fields\":{\"name\":{\"id\":1,\"type\":\"string\",\"unique\":true}}},"
    "\"thing\":{\"key\":\"string\",\"fields\":{"
    "  \"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"owner\"},"
    "  \"size\":{\"id\":2,\"type\":\"int\",\"indexed\":true}}}}}";

typedef struct lines {
    char text[4096];
    int n;
} lines;

static void collect(const char *line, void *p)
{
    lines *l = p;
    size_t used = strlen(l->text);
    l->n++;
    snprintf(l->text + used, sizeof l->text - used, "%s\n", line);
}

/* A problem that no test expects: shown, so that a failure says what verify found. */
static void collect_stderr(const char *line, void *p)
{
    (void)p;
    fprintf(stderr, "\n  verify: %s", line);
}

static void setup(void)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = backend;
    o.durability = ENT_NONE;
    ENT_TEST_MKDTEMP(dir, "contract-verify");
    ENT_OK_(ent_schema_load_json(&SC, schema_json, strlen(schema_json), "v"));
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

/* Raw access below the store: a write txn on the backend and the layout's tables. */
static ent_txn *raw(void)
{
    ent_txn *t = NULL;
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    return t;
}

static unsigned data_tbl(ent_txn *t, const char *type) { return t->lay->data[ent_store_type(S, type)->pos]; }
static unsigned idx_tbl(ent_txn *t, const char *type, int j) { return t->lay->idx[ent_store_type(S, type)->pos][j]; }

static void expect_problem(const char *needle)
{
    lines l;
    uint64_t n = 0;
    memset(&l, 0, sizeof l);
    ENT_CHECK_RC(ent_store_verify(&n, S, collect, &l), ENT_CORRUPT);
    CU_ASSERT(n >= 1);
    CU_ASSERT_EQUAL((uint64_t)l.n, n);
    if (!strstr(l.text, needle)) fprintf(stderr, "\n  verify said:\n%s  (wanted \"%s\")\n", l.text, needle);
    CU_ASSERT_PTR_NOT_NULL(strstr(l.text, needle));
}

static void t_clean(void)
{
    uint64_t n = 9;
    setup();
    ENT_OK_(ent_store_verify(&n, S, NULL, NULL));
    CU_ASSERT_EQUAL(n, 0);
    teardown();
}

static void t_record_garbage(void)
{
    ent_txn *t;
    ent_slice k = {"t2", 2}, v = {"\xc1\xc1 not msgpack", 14};
    setup();
    t = raw();
    ENT_OK_(ent__bk_put(t, data_tbl(t, "thing"), &k, &v, 0));
    ENT_OK_(ent_txn_commit(t));
    expect_problem("thing \"t2\": record does not decode");
    teardown();
}

/* A record under a key no write makes (a string key of 256 bytes, past ENT_KEY_STRING_MAX) is
 * named as a bad key, not printed as one that could be looked up. */
static void t_record_key_too_long(void)
{
    ent_txn *t;
    ent_slice k = {"t2", 2}, v, big;
    char kb[256];
    setup();
    t = raw();
    memset(kb, 'k', sizeof kb);
    big = (ent_slice){kb, sizeof kb};
    ENT_OK_(ent__bk_get(t, data_tbl(t, "thing"), &k, &v));
    ENT_OK_(ent__bk_put(t, data_tbl(t, "thing"), &big, &v, 0));
    ENT_OK_(ent_txn_commit(t));
    expect_problem("thing (bad key of 256 bytes)");
    teardown();
}

static void t_index_entry_missing(void)
{
    ent_txn *t;
    uint8_t ik[8];
    ent_slice k = {ik, 8}, pk = {"t3", 2};
    setup();
    t = raw();
    ent__enc_i64(ik, 30);
    ENT_OK_(ent__bk_del(t, idx_tbl(t, "thing", 1), &k, &pk)); /* size index */
    ENT_OK_(ent_txn_commit(t));
    expect_problem("thing \"t3\": no index entry for field size");
    teardown();
}

static void t_index_entry_stray(void)
{
    ent_txn *t;
    uint8_t ik[8];
    ent_slice k = {ik, 8}, pk = {"t9", 2};
    setup();
    t = raw();
    ent__enc_i64(ik, 99);
    ENT_OK_(ent__bk_put(t, idx_tbl(t, "thing", 1), &k, &pk, 0));
    ENT_OK_(ent_txn_commit(t));
    expect_problem("thing \"t9\": index size has an entry for a missing entity");
    teardown();
}

static void t_ref_target_missing(void)
{
    ent_txn *t;
    uint8_t pk[8];
    ent_slice k = {pk, 8};
    setup();
    t = raw();
    ent__enc_u64(pk, 2);
    ENT_OK_(ent__bk_del(t, data_tbl(t, "owner"), &k, NULL)); /* behind the store's back */
    ENT_OK_(ent_txn_commit(t));
    expect_problem("thing \"t2\": field owner refers to missing owner 2");
    teardown();
}

/* A unique index entry whose entity is gone (its record removed behind the store's back): a write
 * of that value is refused as damage naming the index, not as a value "taken by owner 2", an
 * entity that does not exist and that no delete could ever make let it go. */
static void t_unique_entry_dangling(void)
{
    ent_txn *t;
    ent_entity *e = NULL;
    uint8_t pk[8];
    ent_slice k = {pk, 8};
    setup();
    t = raw();
    ent__enc_u64(pk, 2);
    ENT_OK_(ent__bk_del(t, data_tbl(t, "owner"), &k, NULL));
    ENT_OK_(ent_txn_commit(t));
    ENT_OK_(ent_entity_new(&e, ent_store_type(S, "owner")));
    ENT_OK_(ent_entity_set_string(e, "name", "o2"));
    ENT_CHECK_RC(ent_create(S, NULL, e), ENT_CORRUPT);
    ENT_ASSERT_MSG("owner.name: value \"o2\": the unique index names owner 2, which does not exist");
    ENT_OK_(ent_entity_set_string(e, "name", "o1")); /* a live holder is still a conflict */
    ENT_CHECK_RC(ent_create(S, NULL, e), ENT_CONFLICT);
    ENT_ASSERT_MSG("is taken by owner 1");
    ent_entity_free(e);
    teardown();
}

static void t_count_wrong(void)
{
    ent_txn *t;
    setup();
    t = raw();
    ENT_OK_(ent__meta_put_pair(t, "ctr/owner", 3, 7));
    ENT_OK_(ent_txn_commit(t));
    expect_problem("owner: the stored count is 7 but there are 3 entities");
    teardown();
}

/* A type's id counter record damaged (a wrong length): verify stopped at it with ENT_CORRUPT
 * and its message, so `entity check` listed nothing after it, other damage (here a record of
 * another type) and the rest of the store unchecked. It is one problem, named, and the check goes
 * on. */
static void t_counter_damaged_listed(void)
{
    ent_txn *t;
    lines l;
    uint64_t n = 0;
    ent_slice k = {"t2", 2}, v = {"\xc1\xc1 not msgpack", 14};
    setup();
    t = raw();
    ENT_OK_(ent__meta_put(t, "ctr/owner", "\xc1", 1));
    ENT_OK_(ent__bk_put(t, data_tbl(t, "thing"), &k, &v, 0));
    ENT_OK_(ent_txn_commit(t));
    memset(&l, 0, sizeof l);
    ENT_CHECK_RC(ent_store_verify(&n, S, collect, &l), ENT_CORRUPT);
    CU_ASSERT(n >= 2);
    CU_ASSERT_EQUAL((uint64_t)l.n, n);
    if (!strstr(l.text, "ctr/owner") || !strstr(l.text, "thing \"t2\": record does not decode"))
        fprintf(stderr, "\n  verify said:\n%s  (%s)\n", l.text, ent_errmsg());
    CU_ASSERT_PTR_NOT_NULL(strstr(l.text, "owner: its id counter and count: store meta \"ctr/owner\": 1 bytes, expected 16"));
    CU_ASSERT_PTR_NOT_NULL(strstr(l.text, "thing \"t2\": record does not decode"));
    teardown();
}

/* A byte of the stored schema flipped so that it still loads (here "unique" lost; a min or a
 * max_length changed is the same): the store opened and verify said ok, while writes were checked
 * against a schema the store never had. The history's copy of the version tells; so does the
 * copy damaged instead. */
static void t_schema_damaged(void)
{
    static const char *const keys[] = {"schema", "schema_v/1"};
    for (int i = 0; i < 2; i++) {
        char *json = NULL, *u;
        ent_txn *t;
        setup();
        ENT_OK_(ent_store_schema_json(&json, S, 1));
        CU_ASSERT_PTR_NOT_NULL_FATAL(json);
        u = strstr(json, ",\"unique\":true");
        CU_ASSERT_PTR_NOT_NULL_FATAL(u);
        memmove(u, u + strlen(",\"unique\":true"), strlen(u + strlen(",\"unique\":true")) + 1);
        t = raw();
        ENT_OK_(ent__meta_put(t, keys[i], json, strlen(json)));
        ENT_OK_(ent_txn_commit(t));
        free(json);
        expect_problem("schema: the store's schema differs from its copy \"schema_v/1\"");
        teardown();
    }
}

/* A counter behind the records (damage): a create refuses the id it assigns with ENT_CONFLICT
 * before it writes anything (found by the record's own put, crud.c), and its transaction goes on. */
static void t_counter_behind(void)
{
    ent_txn *t;
    ent_entity *e = NULL;
    uint64_t seq = 0, seq2 = 0, count = 0;
    setup();
    t = raw();
    ENT_OK_(ent__meta_put_pair(t, "ctr/owner", 2, 3)); /* next id 3 is taken */
    ENT_OK_(ent_txn_commit(t));
    ENT_OK_(ent_log_bounds(NULL, &seq, S, NULL));
    ENT_OK_(ent_entity_new(&e, ent_store_type(S, "owner")));
    ENT_OK_(ent_entity_set_string(e, "name", "o4"));
    t = raw();
    ENT_CHECK_RC(ent_create(S, t, e), ENT_CONFLICT);
    ENT_ASSERT_MSG("owner 3 exists already");
    CU_ASSERT_EQUAL(ent_entity_key(e).kind, ENT_KEY_NONE);
    ENT_OK_(ent_txn_commit(t)); /* nothing half done: the txn commits */
    ENT_OK_(ent_log_bounds(NULL, &seq2, S, NULL));
    CU_ASSERT_EQUAL(seq2, seq);
    ENT_OK_(ent_count(&count, S, NULL, ent_store_type(S, "owner")));
    CU_ASSERT_EQUAL(count, 3);
    ent_entity_free(e);
    teardown();
}

/* The id counter against the log: its creates and its raises (ENT_OP_LAST_ID, logged by
 * ent_last_id_raise()) count every id the store handed out, and a replay of it counts them too.
 * A counter below the log's (damage: here above every stored id, so the record check had nothing
 * to say) would hand out again an id the log gave: named. One above the log's (a raise of a
 * version that logged none) stays legal. A raise in the log that does not go above what the
 * events before it counted is a log that does not add up. */
static void t_counter_below_log(void)
{
    ent_txn *t;
    const ent_type *ot;
    uint64_t n = 9;
    setup();
    ot = ent_store_type(S, "owner");
    ENT_OK_(ent_last_id_raise(S, NULL, ot, 50));
    ENT_OK_(ent_store_verify(&n, S, NULL, NULL));
    CU_ASSERT_EQUAL(n, 0);
    t = raw();
    ENT_OK_(ent__meta_put_pair(t, "ctr/owner", 10, 3)); /* above ids 1..3, below the raise's 50 */
    ENT_OK_(ent_txn_commit(t));
    expect_problem("owner: the id counter (10) is below the log's 50 (its creates and raises): ids could be handed out again");
    t = raw();
    ENT_OK_(ent__meta_put_pair(t, "ctr/owner", 70, 3)); /* above the log's: an unlogged raise of old */
    ENT_OK_(ent_txn_commit(t));
    ENT_OK_(ent_store_verify(&n, S, NULL, NULL));
    CU_ASSERT_EQUAL(n, 0);
    teardown();
    /* the raise's event rewritten to a counter the creates before it reached already: below it
     * (2) and at it (3) */
    for (uint64_t id = 2; id <= 3; id++) {
        char want[96];
        setup();
        ot = ent_store_type(S, "owner");
        ENT_OK_(ent_last_id_raise(S, NULL, ot, 50));
        {
            ent_buf b = {NULL, 0, 0};
            uint8_t sk[8];
            uint64_t last = 0;
            ent_slice k = {sk, 8}, v;
            ent_key kid = ent_key_id(id);
            ENT_OK_(ent_log_bounds(NULL, &last, S, NULL));
            ent__event_head_pack(&b, 1, 7, "owner", &kid, ENT_OP_LAST_ID, 0); /* txn 7: the raise's own */
            ent__mpw_nil(&b);
            ENT_OK_(ent__buf_ok(&b));
            ent__enc_u64(sk, last);
            v.data = b.p;
            v.len = b.n;
            t = raw();
            ENT_OK_(ent__bk_put(t, S->t_log, &k, &v, 0));
            ENT_OK_(ent_txn_commit(t));
            ent__buf_free(&b);
        }
        snprintf(want, sizeof want, "a raise of owner's id counter to %d, which the events before it put at 3 already", (int)id);
        expect_problem(want);
        teardown();
    }
}

static void t_log_gap(void)
{
    ent_txn *t;
    uint8_t sk[8];
    ent_slice k = {sk, 8};
    setup();
    t = raw();
    ent__enc_u64(sk, 4);
    ENT_OK_(ent__bk_del(t, S->t_log, &k, NULL));
    ENT_OK_(ent_txn_commit(t));
    expect_problem("log: seq 4 to 4 missing (gap)");
    /* A cursor hands out seq 1 to 3 and then says so (it went on at seq 5 as if nothing were
     * missing), from any position before the gap; one after it reads on. */
    for (uint64_t from = 1; from <= 5; from++) {
        ent_log_cursor *c = NULL;
        ent_event *ev;
        uint64_t n = 0;
        int rc;
        ENT_OK_(ent_log_cursor_open(&c, S, from, NULL, 0));
        while ((rc = ent_log_next(&ev, c)) == ENT_OK) {
            CU_ASSERT(ev->seq < 4 || from == 5);
            n++;
            ent_event_free(ev);
        }
        CU_ASSERT_EQUAL(rc, from <= 4 ? ENT_CORRUPT : ENT_NOTFOUND);
        if (from <= 4) ENT_ASSERT_MSG("log: seq 4 to 4 missing (a damaged log)");
        CU_ASSERT_EQUAL(n, from <= 4 ? 4 - from : 2);
        ent_log_cursor_free(c);
    }
    teardown();
}

static void t_event_garbage(void)
{
    ent_txn *t;
    uint8_t sk[8];
    ent_slice k = {sk, 8}, v = {"\x93\x01\x02\x03", 4};
    setup();
    t = raw();
    ent__enc_u64(sk, 5);
    ENT_OK_(ent__bk_put(t, S->t_log, &k, &v, 0));
    ENT_OK_(ent_txn_commit(t));
    expect_problem("seq 5: event does not decode");
    teardown();
}

/* A record changed without its event: the log no longer replays to the store. */
static void t_replay_differs(void)
{
    ent_txn *t;
    ent_entity *e = NULL;
    ent_buf b = {0};
    ent_slice k = {"t1", 2}, v;
    ent_key key = ent_key_str("t1");
    setup();
    ENT_OK_(ent_get(&e, S, NULL, ent_store_type(S, "thing"), &key));
    e->version = 7; /* a version the log never reached; the index stays right */
    ENT_OK_(ent__record_encode(&b, e, NULL));
    v.data = b.p;
    v.len = b.n;
    t = raw();
    ENT_OK_(ent__bk_put(t, data_tbl(t, "thing"), &k, &v, 0));
    ENT_OK_(ent_txn_commit(t));
    expect_problem("thing \"t1\": replaying the log gives version 1");
    ent__buf_free(&b);
    ent_entity_free(e);
    teardown();
}

typedef struct seen_progress {
    int calls_verify, calls_replay, out_of_order;
    uint64_t last;
} seen_progress;

static void on_progress(const char *what, uint64_t done, void *p)
{
    seen_progress *sp = p;
    if (!strcmp(what, "verify")) sp->calls_verify++;
    else if (!strcmp(what, "replay")) sp->calls_replay++;
    if (done <= sp->last) sp->out_of_order++;
    sp->last = done;
}

/* The file at path read whole into a buffer the caller hands to file_write_whole() or frees;
 * *size its length. For the tests that damage data.mdb in place. */
static unsigned char *file_read_whole(const char *path, long *size)
{
    unsigned char *buf;
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    rewind(f);
    buf = malloc((size_t)*size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    CU_ASSERT_EQUAL_FATAL(fread(buf, 1, (size_t)*size, f), (size_t)*size);
    fclose(f);
    return buf;
}

/* buf (size bytes) written over the file at path from its start, and freed. */
static void file_write_whole(const char *path, unsigned char *buf, long size)
{
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    free(buf);
}

/* LMDB only: close the store, edit its data.mdb in place with edit (which returns how many
 * places it changed, at least one wanted), and open it again (read_only: for reading). The damaged-page
 * tests below. */
static void damage_data_file(long (*edit)(unsigned char *buf, long size), int read_only)
{
    char path[ENT_TEST_PATH_MAX];
    long size;
    unsigned char *buf;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store_close(S);
    S = NULL;
    ENT_TEST_PATH(path, "%s/data.mdb", dir);
    buf = file_read_whole(path, &size);
    CU_ASSERT_FATAL(edit(buf, size) > 0);
    file_write_whole(path, buf, size);
    o.backend = backend;
    /* read_only as `entity check` opens it: a writable open refuses damage in the pages every
     * write reads (the log's ends, subs, meta: t_page_write_open_refused) */
    o.read_only = read_only;
    ENT_OK_(ent_store_open(&S, dir, NULL, &o));
}

/* A leaf node's key size (8, little-endian), then the key 5; in every copy of the page (the live
 * one and those older commits left): its key made 2. */
static long key_5_to_2(unsigned char *buf, long size)
{
    static const unsigned char pat[10] = {8, 0, 0, 0, 0, 0, 0, 0, 0, 5};
    long hits = 0;
    for (long i = 0; i + 10 <= size; i++)
        if (!memcmp(buf + i, pat, sizeof pat)) buf[i + 9] = 2, hits++;
    return hits;
}

/* A damaged page of the log can hold a key out of order (an event's seq read as an earlier one).
 * A cursor went back to that seq + 1 and read the same events again without end (entity events
 * printed forever); it hands out the events before it, then fails with ENT_CORRUPT. LMDB only:
 * the file is changed below LMDB (the key of seq 5 becomes 2 in its leaf node). */
static void t_log_key_out_of_order(void)
{
    ent_log_cursor *c = NULL;
    ent_event *ev;
    int n = 0, rc;
    setup();
    if (strcmp(ent_store_backend(S), "lmdb") != 0) {
        teardown();
        return;
    }
    damage_data_file(key_5_to_2, 1);
    ENT_OK_(ent_log_cursor_open(&c, S, 1, NULL, 0));
    while (n < 100 && (rc = ent_log_next(&ev, c)) == ENT_OK) {
        n++;
        ent_event_free(ev);
    }
    CU_ASSERT_EQUAL(n, 4); /* seq 1 to 4 */
    CU_ASSERT_EQUAL(rc, ENT_CORRUPT);
    ENT_ASSERT_MSG("log: seq 2 follows seq 4 (a damaged log)");
    CU_ASSERT_EQUAL(ent_log_next(&ev, c), ENT_CORRUPT); /* and stays so */
    ent_log_cursor_free(c);
    expect_problem("log: seq 2 out of order");
    teardown();
}

/* The node of seq 1: data size (4 bytes), flags (2), key size (2, little-endian), key; its data
 * size and key size made 0. */
static long pair_1_empty(unsigned char *buf, long size)
{
    static const unsigned char pat[10] = {8, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    long hits = 0;
    for (long i = 6; i + 10 <= size; i++)
        if (!memcmp(buf + i, pat, sizeof pat)) memset(buf + i - 6, 0, 4), buf[i] = 0, hits++;
    return hits;
}

/* A damaged leaf node of the log with a key and a value of 0 bytes (LMDB stores no empty key):
 * a write transaction's cursor copied the empty pair from a NULL buffer (undefined behaviour,
 * UBSan stops there). Reads and writes answer with codes. LMDB only, as above. */
static void t_log_pair_empty(void)
{
    ent_txn *t = NULL;
    uint64_t first = 0, last = 0;
    int rc;
    setup();
    if (strcmp(ent_store_backend(S), "lmdb") != 0) {
        teardown();
        return;
    }
    damage_data_file(pair_1_empty, 0);
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    rc = ent_log_bounds(&first, &last, S, t); /* the first key, read in a write txn */
    CU_ASSERT(rc == ENT_OK || rc == ENT_CORRUPT);
    ent_txn_abort(t);
    rc = ent_sub_ack(S, NULL, "nobody", 1);
    CU_ASSERT(rc != ENT_OK);
    teardown();
}

/* The first leaf node of the log (seq 1, as in pair_1_empty): its page's flags made those of a
 * branch page, in every copy of the page. */
static long log_leaf_as_branch(unsigned char *buf, long size)
{
    static const unsigned char pat[10] = {8, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const long psize = sysconf(_SC_PAGESIZE); /* LMDB's page size: the system's */
    long hits = 0;
    for (long i = 6; i + 10 <= size; i++)
        if (!memcmp(buf + i, pat, sizeof pat)) buf[i - i % psize + 10] = 0x01, buf[i - i % psize + 11] = 0, hits++;
    return hits;
}

/* A flipped bit in a page header (or a node's bounds, a child's page number): LMDB trusts its
 * pages and its cursors read outside them, so `entity check`, the tool meant to name the damage,
 * died of it (SIGSEGV, or an assertion inside liblmdb). Verify checks the pages first, without
 * the map, names the page and its table, and reads nothing through them. LMDB only. */
static void t_page_damaged(void)
{
    setup();
    if (strcmp(ent_store_backend(S), "lmdb") != 0) {
        teardown();
        return;
    }
    damage_data_file(log_leaf_as_branch, 1);
    expect_problem("(table log): has flags 0x1, not those of a leaf page");
    expect_problem("the store's pages are damaged: nothing else was checked");
    teardown();
}

/* A compacting copy of a store with a damaged page walks its B-trees through LMDB, which trusts
 * them: on random flips it died inside liblmdb (ASan: a memcpy of ~4 GiB, `entity copy
 * --compact`), and on this damage it said "MDB_PAGE_NOTFOUND" naming no page. It checks the
 * pages first now and refuses naming the page and its table; a plain copy, which takes the file
 * as it is, still works. LMDB only. */
static void t_copy_compact_page_damaged(void)
{
    char out[ENT_TEST_PATH_MAX], c1[ENT_TEST_PATH_MAX + 8], c2[ENT_TEST_PATH_MAX + 8];
    setup();
    if (strcmp(ent_store_backend(S), "lmdb") != 0) {
        teardown();
        return;
    }
    damage_data_file(log_leaf_as_branch, 1);
    ENT_TEST_MKDTEMP(out, "contract-verify-copy");
    ENT_TEST_PATH(c1, "%s/compact", out);
    ENT_TEST_PATH(c2, "%s/plain", out);
    ENT_CHECK_RC(ent_store_copy(S, c1, 1), ENT_CORRUPT);
    ENT_ASSERT_MSG("(table log): has flags 0x1, not those of a leaf page");
    ENT_ASSERT_MSG("a plain copy takes the file as it is");
    ENT_OK_(ent_store_copy(S, c2, 0));
    ent_test_rm_rf(out);
    teardown();
}

/* LMDB's layout, for the pages made below: a page header (pgno 8, pad 2, flags 2, lower 2,
 * upper 2), a meta page's last page at 16 + 120, the main table's root at 16 + 24 + 48 + 40. */
static void put16(unsigned char *p, uint16_t v) { memcpy(p, &v, 2); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* A leaf page pg of one node "xx" holding a DUPSORT key's tree record (flags F_SUBDATA|F_DUPDATA)
 * whose root is `child`; child 0: a leaf with no node. */
static void chain_page(unsigned char *p, long psize, uint64_t pg, uint64_t child)
{
    unsigned char *node;
    memset(p, 0, (size_t)psize);
    put64(p, pg);
    put16(p + 10, 0x02);
    put16(p + 12, child ? 18 : 16);
    put16(p + 14, (uint16_t)(child ? psize - 58 : psize));
    if (!child) return;
    put16(p + 16, (uint16_t)(psize - 58));
    node = p + psize - 58;
    put16(node, 48);
    put16(node + 4, 0x06);
    put16(node + 6, 2);
    memcpy(node + 8, "xx", 2);
    put16(node + 10 + 4, 0x04); /* MDB_DUPSORT */
    put16(node + 10 + 6, 1);    /* depth */
    put64(node + 10 + 40, child);
}

/* The "subs" table's record in the main table (every copy): its root made page `root`, depth 1. */
static long subs_record_to(unsigned char *buf, long size, uint64_t root)
{
    static const unsigned char pat[12] = {48, 0, 0, 0, 2, 0, 4, 0, 's', 'u', 'b', 's'};
    long hits = 0;
    for (long i = 0; i + 12 + 48 <= size; i++)
        if (!memcmp(buf + i, pat, sizeof pat)) {
            put16(buf + i + 12 + 6, 1);
            put64(buf + i + 12 + 40, root);
            hits++;
        }
    return hits;
}

/* Every branch page (its flags 0x01, at least 2 keys) made one of a single key. */
static long branches_to_one_key(unsigned char *buf, long size)
{
    const long psize = sysconf(_SC_PAGESIZE);
    long hits = 0;
    for (long o = 2 * psize; o + psize <= size; o += psize) {
        uint16_t flags, lower;
        memcpy(&flags, buf + o + 10, 2);
        memcpy(&lower, buf + o + 12, 2);
        if ((uint64_t)(o / psize) == get64(buf + o) && flags == 0x01 && lower >= 20) {
            put16(buf + o + 12, 18);
            hits++;
        }
    }
    return hits;
}

/* A branch page of one key (a bound flipped): LMDB asserts that every branch page holds two or
 * more when it searches one, so verify passed the walk and then aborted in liblmdb ("Assertion
 * 'NUMKEYS(mp) > 1' failed in mdb_page_search_root()"). LMDB only. */
static void t_page_branch_one_key(void)
{
    ent_txn *t;
    char k[16], v[200];
    setup();
    if (strcmp(ent_store_backend(S), "lmdb") != 0) {
        teardown();
        return;
    }
    memset(v, 'v', sizeof v);
    t = raw();
    for (int i = 0; i < 400; i++) { /* a table of branch pages: the subscriptions' */
        ent_slice ks = {k, (size_t)snprintf(k, sizeof k, "sub%05d", i)}, vs = {v, sizeof v};
        ENT_OK_(ent__bk_put(t, S->t_subs, &ks, &vs, 0));
    }
    ENT_OK_(ent_txn_commit(t));
    damage_data_file(branches_to_one_key, 1);
    expect_problem("(table subs): is a branch page of 1 keys");
    teardown();
}

/* In the first sub-page of a DUPSORT key's values (a leaf node of flags F_DUPDATA, not a
 * fixed-size page) of every page: its first value's node given the flags F_DUPDATA. */
static long subpage_value_as_dups(unsigned char *buf, long size)
{
    const long psize = sysconf(_SC_PAGESIZE);
    long hits = 0;
    for (long o = 2 * psize; o + psize <= size; o += psize) {
        unsigned char *p = buf + o;
        uint16_t flags, lower;
        memcpy(&flags, p + 10, 2);
        memcpy(&lower, p + 12, 2);
        if ((uint64_t)(o / psize) != get64(p) || (flags & 0x23) != 0x02 || lower < 16 || lower > psize) continue;
        for (unsigned i = 0; i < (lower - 16u) / 2; i++) {
            uint16_t off, nflags, ks, slower, soff;
            unsigned char *sp;
            memcpy(&off, p + 16 + 2 * i, 2);
            if (off + 8 > psize) continue;
            memcpy(&nflags, p + off + 4, 2);
            memcpy(&ks, p + off + 6, 2);
            sp = p + off + 8 + ks;
            if (nflags != 0x04 || sp + 18 > p + psize) continue;
            memcpy(&slower, sp + 12, 2);
            memcpy(&soff, sp + 16, 2);
            if (slower < 18 || sp + soff + 8 > p + psize) continue;
            put16(sp + soff + 4, 0x04);
            hits++;
            break;
        }
    }
    return hits;
}

/* A value of a DUPSORT key's sub-page (an index value several entities share) whose node says it
 * holds values of its own (F_DUPDATA): the page walk checked the sub-page's bounds but not its
 * nodes' flags, and verify then died inside liblmdb (SIGSEGV: a cursor of the values, which has
 * no cursor of values under it, went to one). Such a flag in a value is damage. LMDB only. */
static void t_page_subpage_value_flags(void)
{
    setup();
    if (strcmp(ent_store_backend(S), "lmdb") != 0) {
        teardown();
        return;
    }
    for (int i = 4; i <= 6; i++) { /* four things of size 10: index values on a sub-page */
        ent_entity *e = NULL;
        char k[16];
        ent_key key;
        snprintf(k, sizeof k, "t%d", i);
        key = ent_key_str(k);
        ENT_OK_(ent_entity_new(&e, ent_store_type(S, "thing")));
        ENT_OK_(ent_entity_set_key(e, &key));
        ENT_OK_(ent_entity_set_int(e, "size", 10));
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
    }
    damage_data_file(subpage_value_as_dups, 1);
    expect_problem("(table x:thing.size): a sub-page's value 0 has flags 0x4, which no value has");
    teardown();
}

/* The "subs" table's record in the main table (every copy) given the flags F_DUPDATA, which no
 * record of the main table (not a DUPSORT table) has. */
static long subs_record_as_dups(unsigned char *buf, long size)
{
    static const unsigned char pat[12] = {48, 0, 0, 0, 2, 0, 4, 0, 's', 'u', 'b', 's'};
    long hits = 0;
    for (long i = 0; i + 12 + 48 <= size; i++)
        if (!memcmp(buf + i, pat, sizeof pat)) {
            put16(buf + i + 4, 0x04);
            hits++;
        }
    return hits;
}

/* A damaged page of the main table (the list of tables, which every open reads through LMDB):
 * a record flagged as a DUPSORT key's values made the open die inside liblmdb (SIGSEGV), so
 * every command died, `entity check` too, before it could name anything. The open walks the main
 * table's pages first now, as check does every table's, and refuses naming the page. LMDB only. */
static void t_page_main_damaged_open(void)
{
    char path[ENT_TEST_PATH_MAX];
    long size;
    unsigned char *buf;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    setup();
    if (strcmp(ent_store_backend(S), "lmdb") != 0) {
        teardown();
        return;
    }
    ent_store_close(S);
    S = NULL;
    ENT_TEST_PATH(path, "%s/data.mdb", dir);
    buf = file_read_whole(path, &size);
    CU_ASSERT_FATAL(subs_record_as_dups(buf, size) > 0);
    file_write_whole(path, buf, size);
    o.backend = backend;
    for (int ro = 0; ro <= 1; ro++) {
        o.read_only = ro;
        ENT_CHECK_RC(ent_store_open(&S, dir, NULL, &o), ENT_CORRUPT);
        CU_ASSERT_PTR_NULL(S);
        ENT_ASSERT_MSG("(table (main)): node 2 has flags 0x4");
    }
    teardown();
}

/* The root page of named table `name` in buf (a data.mdb): the main table's root named by the
 * last meta page is a leaf here (a store of few tables), its node of that name holds the table's
 * record. 0 when not found. */
static uint64_t table_root_of(const unsigned char *buf, long size, const char *name)
{
    const long psize = sysconf(_SC_PAGESIZE);
    const unsigned char *m0 = buf + 16, *m1 = buf + psize + 16, *m, *p;
    size_t nl = strlen(name);
    uint64_t root;
    uint16_t flags, lower;
    m = get64(m1 + 128) > get64(m0 + 128) ? m1 : m0;
    root = get64(m + 24 + 48 + 40);
    if ((long)((root + 1) * (uint64_t)psize) > size) return 0;
    p = buf + root * psize;
    memcpy(&flags, p + 10, 2);
    memcpy(&lower, p + 12, 2);
    if (!(flags & 0x02) || lower < 16) return 0;
    for (unsigned i = 0; i < (lower - 16u) / 2; i++) {
        uint16_t off, ks;
        memcpy(&off, p + 16 + 2 * i, 2);
        if (off + 8 > psize) return 0;
        memcpy(&ks, p + off + 6, 2);
        if (ks == nl && off + 8 + ks + 48 <= psize && !memcmp(p + off + 8, name, nl)) return get64(p + off + 8 + ks + 40);
    }
    return 0;
}

/* A damaged page of a table every write, or every open, reads through LMDB: the log's end, where
 * a write appends (its last leaf made a branch page), or "meta" (the schema, the log's last seq;
 * its root's upper bound made 0xffff, or its first node given the flags F_DUPDATA of a DUPSORT
 * key's values, which no node of a table without MDB_DUPSORT has). The store opened, then every
 * write died inside liblmdb (SIGSEGV; an assertion's abort), `entity put` and `rm` as much as a
 * host's create; the node flags made every open die, read-only ones and `entity check` too (the
 * page walk, which took F_DUPDATA for a sub-page in any named table, found nothing). A writable
 * open walks those pages (meta and subs whole, the paths to the log's two ends: a few pages) and
 * refuses, naming the page; a read-only open walks meta (which it reads) and still reads the rest
 * (what `entity dump` needs to get out what is sound), and check names the page. LMDB only. */
static void t_page_write_open_refused(void)
{
    static const struct {
        const char *table, *needle;
        int field; /* offset in the page header; -1: node 0's flags */
        uint16_t value;
        int ro_refused; /* a read-only open refuses it too */
    } cases[] = {
        {"log", "(table log): has flags 0x1, not those of a leaf page", 10, 0x01, 0},
        {"meta", "(table meta): has bounds", 14, 0xffff, 1},
        {"meta", "(table meta): node 0 has flags 0x4: the values of a DUPSORT key", -1, 0x04, 1},
    };
    const long psize = sysconf(_SC_PAGESIZE);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[ENT_TEST_PATH_MAX];
        long size;
        unsigned char *buf, *pg;
        uint64_t root, n = 0;
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        setup();
        if (strcmp(ent_store_backend(S), "lmdb") != 0) {
            teardown();
            return;
        }
        ent_store_close(S);
        S = NULL;
        ENT_TEST_PATH(path, "%s/data.mdb", dir);
        buf = file_read_whole(path, &size);
        root = table_root_of(buf, size, cases[c].table);
        CU_ASSERT_FATAL(root >= 2 && (long)((root + 1) * (uint64_t)psize) <= size);
        pg = buf + root * psize;
        if (cases[c].field >= 0) {
            put16(pg + cases[c].field, cases[c].value);
        } else {
            uint16_t off;
            memcpy(&off, pg + 16, 2);
            CU_ASSERT_FATAL(off + 8 <= psize);
            put16(pg + off + 4, cases[c].value);
        }
        file_write_whole(path, buf, size);
        o.backend = backend;
        ENT_CHECK_RC(ent_store_open(&S, dir, NULL, &o), ENT_CORRUPT);
        CU_ASSERT_PTR_NULL(S);
        ENT_ASSERT_MSG(cases[c].needle);
        ENT_ASSERT_MSG(cases[c].ro_refused ? "its meta (the schema, the log's end) is damaged, nothing of it was read"
                                           : "no write is taken; reads still work");
        o.read_only = 1;
        if (cases[c].ro_refused) {
            ENT_CHECK_RC(ent_store_open(&S, dir, NULL, &o), ENT_CORRUPT);
            ENT_ASSERT_MSG(cases[c].needle);
            teardown();
            continue;
        }
        ENT_OK_(ent_store_open(&S, dir, NULL, &o));
        ENT_OK_(ent_count(&n, S, NULL, ent_store_type(S, "thing")));
        CU_ASSERT_EQUAL(n, 3);
        expect_problem(cases[c].needle);
        teardown();
    }
}

/* Every copy of the root page of `table` (its current root, as table_root_of finds it) made a
 * branch page: its flags 0x01. 1 when done. */
static const char *damage_table;
static long table_root_as_branch(unsigned char *buf, long size)
{
    const long psize = sysconf(_SC_PAGESIZE);
    uint64_t root = table_root_of(buf, size, damage_table);
    if (root < 2 || (long)((root + 1) * (uint64_t)psize) > size) return 0;
    put16(buf + root * psize + 10, 0x01);
    return 1;
}

/* A damaged page of a type's records or of the log, met by a full scan (`entity dump`) or a
 * replay: they read through LMDB, which follows the page as it is, and died inside liblmdb part
 * way (SIGSEGV, SIGBUS, an assertion's abort), `dump` never reaching the types after it.
 * ent_type_check_pages() walks one type's pages first and names the damage, the other types
 * sound; ent_store_replay() walks the log's pages before writing anything and refuses naming
 * them. LMDB only (the memory backend has no pages: ENT_OK). */
static void t_page_scan_and_replay_checked(void)
{
    static const char *const tables[] = {"t:thing", "log"};
    for (size_t c = 0; c < 2; c++) {
        ent_store *dst = NULL;
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        uint64_t n = 9;
        setup();
        if (strcmp(ent_store_backend(S), "lmdb") != 0) {
            ENT_OK_(ent_type_check_pages(&n, S, NULL, ent_store_type(S, "thing")));
            CU_ASSERT_EQUAL(n, 0);
            teardown();
            return;
        }
        damage_table = tables[c];
        damage_data_file(table_root_as_branch, 1);
        ENT_OK_(ent_type_check_pages(&n, S, NULL, ent_store_type(S, "owner")));
        CU_ASSERT_EQUAL(n, 0);
        o.backend = ent__backend_with(ENT_BK_CAP_VOLATILE)->name;
        ENT_OK_(ent_store_open(&dst, NULL, SC, &o));
        if (c == 0) {
            ENT_CHECK_RC(ent_type_check_pages(&n, S, NULL, ent_store_type(S, "thing")), ENT_CORRUPT);
            CU_ASSERT_EQUAL(n, 1);
            ENT_ASSERT_MSG("thing: its records' pages are damaged (data.mdb page");
            ENT_ASSERT_MSG("(table t:thing): has flags 0x1, not those of a leaf page");
            ENT_OK_(ent_store_replay(dst, S, 0)); /* the log is sound */
        } else {
            ENT_OK_(ent_type_check_pages(&n, S, NULL, ent_store_type(S, "thing")));
            ENT_CHECK_RC(ent_store_replay(dst, S, 0), ENT_CORRUPT);
            ENT_ASSERT_MSG("the source's log is damaged (data.mdb page");
            ENT_ASSERT_MSG("(table log): has flags 0x1, not those of a leaf page");
            ENT_OK_(ent_count(&n, dst, NULL, ent_store_type(dst, "thing")));
            CU_ASSERT_EQUAL(n, 0); /* nothing replayed */
        }
        ent_store_close(dst);
        teardown();
    }
}

static void *verify_thread(void *arg)
{
    lines *l = arg;
    uint64_t n = 0;
    int rc = ent_store_verify(&n, S, collect, l);
    l->n = rc == ENT_CORRUPT ? (int)n : -1;
    return NULL;
}

/* A damaged file whose pages each hold a table record naming the next page as its root: the
 * page walk recursed once per page (nothing bounded trees within trees), so verify, meant to
 * name damage, overflowed its stack on a chain long enough (here 4096 pages in a thread of
 * 256 KiB). LMDB nests tables two deep at most; deeper is reported. LMDB only. */
static void t_page_table_chain(void)
{
    enum { N = 4096 };
    const long psize = sysconf(_SC_PAGESIZE);
    char path[ENT_TEST_PATH_MAX];
    unsigned char *buf, *pg;
    uint64_t last = 0, first;
    long size;
    int fd;
    FILE *f;
    pthread_t th;
    pthread_attr_t at;
    lines l;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    setup();
    if (strcmp(ent_store_backend(S), "lmdb") != 0) {
        teardown();
        return;
    }
    ent_store_close(S);
    S = NULL;
    ENT_TEST_PATH(path, "%s/data.mdb", dir);
    f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    buf = malloc((size_t)size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    CU_ASSERT_EQUAL_FATAL(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    for (int m = 0; m < 2; m++)
        if (get64(buf + m * psize + 136) > last) last = get64(buf + m * psize + 136);
    first = last + 1;
    CU_ASSERT_FATAL(subs_record_to(buf, size, first) > 0);
    for (int m = 0; m < 2; m++) put64(buf + m * psize + 136, last + N);
    fd = open(path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pwrite(fd, buf, (size_t)size, 0), (ssize_t)size);
    pg = malloc((size_t)psize);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
    for (uint64_t i = 0; i < N; i++) {
        chain_page(pg, psize, first + i, i + 1 < N ? first + i + 1 : 0);
        CU_ASSERT_EQUAL(pwrite(fd, pg, (size_t)psize, (off_t)((first + i) * (uint64_t)psize)), (ssize_t)psize);
    }
    close(fd);
    free(pg);
    free(buf);
    o.backend = backend;
    o.read_only = 1;
    ENT_OK_(ent_store_open(&S, dir, NULL, &o));
    memset(&l, 0, sizeof l);
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 256 * 1024);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, &at, verify_thread, &l), 0);
    pthread_join(th, NULL);
    pthread_attr_destroy(&at);
    CU_ASSERT(l.n >= 1);
    if (!strstr(l.text, "which this table cannot hold")) fprintf(stderr, "\n  verify said:\n%s\n", l.text);
    CU_ASSERT_PTR_NOT_NULL(strstr(l.text, "(table subs): node 0 holds the record of a DUPSORT key's values"));
    teardown();
}

/* Write seq 7 (the delete of thing t3, version 2, made here) anew with another txn number and
 * version: msgpack [ts, txn, type, key, op, version, nil]. */
static void delete_event_as(uint8_t txn, uint8_t version)
{
    ent_txn *t;
    uint8_t sk[8];
    ent_slice k = {sk, 8};
    ent_key tk = ent_key_str("t3");
    unsigned char ev[] = {0x97, 0xd3, 0, 0, 0, 0, 0, 0, 0, 1, txn, 0xa5, 't', 'h', 'i', 'n', 'g',
                          0xa2, 't', '3', ENT_OP_DELETE, version, 0xc0};
    ent_slice val = {ev, sizeof ev};
    ENT_OK_(ent_delete(S, NULL, ent_store_type(S, "thing"), &tk, ENT_VERSION_ANY));
    t = raw();
    ent__enc_u64(sk, 7);
    ENT_OK_(ent__bk_put(t, S->t_log, &k, &val, 0));
    ENT_OK_(ent_txn_commit(t));
}

/* Damage in an event that leaves it decodable and the replayed store equal to the stored one:
 * a transaction number out of commit order, a delete's version. Verify called both clean. */
static void t_event_txn_damaged(void)
{
    setup();
    delete_event_as(99, 2);
    expect_problem("seq 7: transaction 99 after transaction 6 (the last is 7)");
    teardown();
    setup();
    delete_event_as(3, 2);
    expect_problem("seq 7: transaction 3 after transaction 6");
    teardown();
}

static void t_delete_version_damaged(void)
{
    setup();
    delete_event_as(7, 5);
    expect_problem("log: replay fails: seq 7: thing \"t3\" is at version 1, expected 4");
    teardown();
}

/* Each check at its edge, the damage one step past what is sound (a mutation run found each of
 * these edges unchecked: the check could be off by one, or gone, and every suite passed). The
 * store of setup(): owners 1..3, things t1..t3, seqs 1..6 in transactions 1..6. */
static void raw_put(unsigned tbl, const void *k, size_t kn, const void *v, size_t vn)
{
    ent_txn *t = raw();
    ent_slice ks = {k, kn}, vs = {v, vn};
    ENT_OK_(ent__bk_put(t, tbl, &ks, &vs, 0));
    ENT_OK_(ent_txn_commit(t));
}

static void t_checks_at_their_edges(void)
{
    ent_txn *t;
    uint8_t u8[8];
    /* a delete's version of 1: the version after the entity's is at least 2 */
    setup();
    delete_event_as(7, 1);
    expect_problem("seq 7: a delete of version 1");
    teardown();
    /* the last event gone: one seq missing at the end */
    setup();
    t = raw();
    {
        ent_slice k = {u8, 8};
        ent__enc_u64(u8, 6);
        ENT_OK_(ent__bk_del(t, S->t_log, &k, NULL));
    }
    ENT_OK_(ent_txn_commit(t));
    expect_problem("log: seq 6 to 6 missing at the end");
    teardown();
    /* the recorded last seq one below the log's last event */
    setup();
    t = raw();
    ENT_OK_(ent__meta_put_pair(t, "log", 5, 6));
    ENT_OK_(ent_txn_commit(t));
    expect_problem("log: events beyond the recorded last seq 5");
    teardown();
    /* the id counter one below the highest id; then one below the log's raise */
    setup();
    t = raw();
    ENT_OK_(ent__meta_put_pair(t, "ctr/owner", 2, 3));
    ENT_OK_(ent_txn_commit(t));
    expect_problem("owner: the id counter (2) is below the highest id 3: ids could be reused");
    teardown();
    setup();
    ENT_OK_(ent_last_id_raise(S, NULL, ent_store_type(S, "owner"), 50));
    t = raw();
    ENT_OK_(ent__meta_put_pair(t, "ctr/owner", 49, 3));
    ENT_OK_(ent_txn_commit(t));
    expect_problem("owner: the id counter (49) is below the log's 50");
    teardown();
    /* a subscription's name of 201 bytes; a checkpoint one past the last seq */
    setup();
    {
        char name[201];
        memset(name, 's', sizeof name);
        ent__enc_u64(u8, 1);
        raw_put(S->t_subs, name, sizeof name, u8, 8);
    }
    expect_problem("damaged record (name of 201 bytes, checkpoint of 8 bytes)");
    teardown();
    setup();
    ent__enc_u64(u8, 7);
    raw_put(S->t_subs, "ahead", 5, u8, 8);
    expect_problem("subscription \"ahead\": checkpoint 7 is beyond the last seq 6");
    teardown();
    /* a durability byte one past the last mode */
    setup();
    u8[0] = ENT_NONE + 1;
    raw_put(S->t_meta, "durability", 10, u8, 1);
    expect_problem("meta \"durability\": 3 is no durability");
    teardown();
    /* a record gone with its index entries: only the count of the replayed store tells */
    setup();
    t = raw();
    {
        ent_slice k = {"t3", 2}, ik = {u8, 8};
        ENT_OK_(ent__bk_del(t, data_tbl(t, "thing"), &k, NULL));
        ent__enc_i64(u8, 30);
        ENT_OK_(ent__bk_del(t, idx_tbl(t, "thing", ent_type_field(ent_store_type(S, "thing"), "size")->index_no), &ik, &k));
        ent__enc_u64(u8, 3);
        ENT_OK_(ent__bk_del(t, idx_tbl(t, "thing", ent_type_field(ent_store_type(S, "thing"), "owner")->index_no), &ik, &k));
        ENT_OK_(ent__meta_put_pair(t, "ctr/thing", 0, 2));
    }
    ENT_OK_(ent_txn_commit(t));
    expect_problem("thing: replaying the log gives 3 entities, the store holds 2");
    teardown();
    /* a source log truncated below 2 (seq 1 gone) cannot be replayed from seq 1 */
    setup();
    {
        ent_store *dst = NULL;
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        o.backend = "memory";
        ENT_OK_(ent_log_truncate(S, 2, 1));
        ENT_OK_(ent_store_open(&dst, NULL, SC, &o));
        ENT_CHECK_RC(ent_store_replay(dst, S, 0), ENT_INVALID);
        ENT_ASSERT_MSG("the source log was truncated below 2; it cannot be replayed from seq 1");
        ent_store_close(dst);
    }
    teardown();
}

/* The highest version an entity can hold (ENT_VERSION_LAST, restored there) and then deleted:
 * the delete's event carries the version after it, which replay takes (it took ENT_VERSION_ANY's
 * number, which a delete at 2^64-2 logged before the limit, for damage). */
static void t_delete_at_last_version(void)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str("t9");
    uint64_t n = 9;
    setup();
    ENT_OK_(ent_entity_new(&e, ent_store_type(S, "thing")));
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_set_int(e, "size", 90));
    ENT_OK_(ent_entity_set_version(e, ENT_VERSION_LAST));
    ENT_OK_(ent_restore(S, NULL, e));
    ent_entity_free(e);
    ENT_OK_(ent_delete(S, NULL, ent_store_type(S, "thing"), &k, ENT_VERSION_LAST));
    ENT_OK_(ent_store_verify(&n, S, NULL, NULL));
    CU_ASSERT_EQUAL(n, 0);
    teardown();
}

/* The meta's last seq lost (damage): the next write would append at seq 1 over the first event.
 * It is refused with ENT_CORRUPT and the event stays; verify names the damage. */
static void t_log_position_lost(void)
{
    ent_txn *t;
    ent_slice k = {"log", 3};
    ent_entity *e = NULL;
    ent_event *ev = NULL;
    uint64_t last = 0;
    setup();
    t = raw();
    ENT_OK_(ent__bk_del(t, S->t_meta, &k, NULL));
    ENT_OK_(ent_txn_commit(t));
    ENT_OK_(ent_entity_new(&e, ent_store_type(S, "owner")));
    ENT_OK_(ent_entity_set_string(e, "name", "o9"));
    ENT_CHECK_RC(ent_create(S, NULL, e), ENT_CORRUPT);
    ENT_ASSERT_MSG("seq 1 holds an event already");
    ent_entity_free(e);
    ENT_OK_(ent_log_get(&ev, S, NULL, 1));
    CU_ASSERT_EQUAL(ev->op, ENT_OP_CREATE);
    CU_ASSERT_STRING_EQUAL(ent_type_name(ev->type), "owner");
    CU_ASSERT_EQUAL(ev->key.id, 1);
    ent_event_free(ev);
    ENT_OK_(ent_log_bounds(NULL, &last, S, NULL));
    CU_ASSERT_EQUAL(last, 0);
    expect_problem("log: events beyond the recorded last seq");
    teardown();
}

/* A store whose meta lost its "format" (damage) is not a new store: an open with a schema made one
 * over it (new id, the schema back to the one given, check clean), an open without one called it
 * "no libentity store". Both are ENT_CORRUPT naming the damage. A store only a reopen sees. */
static void t_meta_format_lost(void)
{
    ent_txn *t;
    ent_slice k = {"format", 6};
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    setup();
    if (strcmp(ent_store_backend(S), "lmdb") != 0) { /* a memory store is new at every open */
        teardown();
        return;
    }
    t = raw();
    ENT_OK_(ent__bk_del(t, S->t_meta, &k, NULL));
    ENT_OK_(ent_txn_commit(t));
    ent_store_close(S);
    S = NULL;
    o.backend = backend;
    ENT_CHECK_RC(ent_store_open(&S, dir, SC, &o), ENT_CORRUPT);
    ENT_ASSERT_MSG("store meta lacks \"format\"");
    CU_ASSERT_PTR_NULL(S);
    ENT_CHECK_RC(ent_store_open(&S, dir, NULL, &o), ENT_CORRUPT);
    ENT_ASSERT_MSG("a damaged store, not a new one");
    teardown();
}

/* 10000 things in one transaction after setup's: 10006 events, so that verify and replay call the
 * progress callback a few times. */
static void add_bulk(void)
{
    ent_txn *w = NULL;
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    for (int i = 0; i < 10000; i++) {
        ent_entity *e = NULL;
        char k[24];
        ent_key key;
        snprintf(k, sizeof k, "bulk%05d", i);
        key = ent_key_str(k);
        ENT_OK_(ent_entity_new(&e, ent_store_type(S, "thing")));
        ENT_OK_(ent_entity_set_key(e, &key));
        ENT_OK_(ent_entity_set_int(e, "size", i));
        ENT_OK_(ent_create(S, w, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(w));
}

/* A long verify and a long replay report progress through the store's callback, with growing
 * counts; without a callback nothing is reported (and nothing breaks). */
static void t_progress(void)
{
    seen_progress sp;
    ent_store *dst = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t n = 9;
    setup();
    add_bulk();
    memset(&sp, 0, sizeof sp);
    ent_store_set_progress(S, on_progress, &sp);
    ENT_OK_(ent_store_verify(&n, S, NULL, NULL));
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT(sp.calls_verify >= 2); /* 10k records, 20k index entries, 10k events: every 4096 */
    CU_ASSERT_EQUAL(sp.calls_replay, 0);
    CU_ASSERT_EQUAL(sp.out_of_order, 0);
    memset(&sp, 0, sizeof sp);
    o.backend = ent__backend_with(ENT_BK_CAP_VOLATILE)->name; /* a scratch store */
    ENT_OK_(ent_store_open(&dst, NULL, SC, &o));
    ENT_OK_(ent_store_replay(dst, S, 0));
    CU_ASSERT(sp.calls_replay >= 2);
    CU_ASSERT_EQUAL(sp.out_of_order, 0);
    ent_store_close(dst);
    ent_store_set_progress(S, NULL, NULL);
    memset(&sp, 0, sizeof sp);
    ENT_OK_(ent_store_verify(&n, S, NULL, NULL));
    CU_ASSERT_EQUAL(sp.calls_verify, 0);
    teardown();
}

/* What another writer (thread or process) does while verify or replay runs, on their first
 * progress report: a create and an update, or a truncation of the log. */
typedef struct meddle {
    int done, truncate, rc;
} meddle;

static void on_progress_meddle(const char *what, uint64_t done, void *p)
{
    meddle *m = p;
    (void)what;
    (void)done;
    if (m->done++) return;
    if (m->truncate) {
        m->rc = ent_log_truncate(S, 9000, 1);
    } else {
        ent_entity *e = NULL;
        ent_key key = ent_key_str("late");
        m->rc = ent_entity_new(&e, ent_store_type(S, "thing"));
        if (!m->rc) m->rc = ent_entity_set_key(e, &key);
        if (!m->rc) m->rc = ent_create(S, NULL, e);
        if (!m->rc) m->rc = ent_entity_set_int(e, "size", -1);
        if (!m->rc) m->rc = ent_update(S, NULL, e, ENT_VERSION_ANY);
        ent_entity_free(e);
    }
}

/* Verify checks one snapshot: commits made meanwhile (`entity check` beside a writer process)
 * are not in it, and its replay of the log must stop where the snapshot's log does; it reported
 * "replaying the log gives N entities, the store holds M" for a sound store. */
static void t_verify_while_writing(void)
{
    meddle m = {0, 0, 0};
    uint64_t n = 9;
    setup();
    add_bulk();
    ent_store_set_progress(S, on_progress_meddle, &m);
    ENT_OK_(ent_store_verify(&n, S, collect_stderr, NULL));
    ENT_OK_(m.rc);
    CU_ASSERT(m.done >= 1);
    CU_ASSERT_EQUAL(n, 0);
    ent_store_set_progress(S, NULL, NULL);
    ENT_OK_(ent_store_verify(&n, S, collect_stderr, NULL)); /* the late writes verify too */
    CU_ASSERT_EQUAL(n, 0);
    teardown();
}

/* Nor does a truncation by another writer meanwhile take the log from under verify's replay. */
static void t_verify_while_truncated(void)
{
    meddle m = {0, 1, 0};
    uint64_t n = 9, first = 0, last = 0;
    setup();
    add_bulk();
    ent_store_set_progress(S, on_progress_meddle, &m);
    ENT_OK_(ent_store_verify(&n, S, collect_stderr, NULL));
    ENT_OK_(m.rc);
    CU_ASSERT_EQUAL(n, 0);
    ent_store_set_progress(S, NULL, NULL);
    ENT_OK_(ent_log_bounds(&first, &last, S, NULL));
    CU_ASSERT_EQUAL(first, 9000);
    teardown();
}

/* A replay whose source log is truncated under it (`entity trim` by another process) fails: it
 * went on at the first event kept, and built a store of the events before and after the hole
 * with its seqs renumbered, returning ENT_OK. */
static void t_replay_while_truncated(void)
{
    meddle m = {0, 1, 0};
    ent_store *dst = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    setup();
    add_bulk();
    o.backend = ent__backend_with(ENT_BK_CAP_VOLATILE)->name;
    ENT_OK_(ent_store_open(&dst, NULL, SC, &o));
    ent_store_set_progress(S, on_progress_meddle, &m);
    ENT_CHECK_RC(ent_store_replay(dst, S, 0), ENT_INVALID);
    ENT_ASSERT_MSG("truncated");
    ENT_OK_(m.rc);
    ent_store_set_progress(S, NULL, NULL);
    ent_store_close(dst);
    teardown();
}

/* An entry for an entity that holds another value; and the same beside a missing entry, so that
 * the index holds as many entries as there are entities (verify must not take the count alone). */
static void t_index_entry_wrong_value(void)
{
    ent_txn *t;
    uint8_t ik[8];
    ent_slice k = {ik, 8}, pk = {"t2", 2};
    setup();
    t = raw();
    ent__enc_i64(ik, 99);
    ENT_OK_(ent__bk_put(t, idx_tbl(t, "thing", 1), &k, &pk, 0)); /* t2 holds 20 */
    ENT_OK_(ent_txn_commit(t));
    expect_problem("thing \"t2\": index size has an entry for a value the entity does not hold");
    t = raw();
    ent__enc_i64(ik, 30);
    pk = (ent_slice){"t3", 2};
    ENT_OK_(ent__bk_del(t, idx_tbl(t, "thing", 1), &k, &pk));
    ENT_OK_(ent_txn_commit(t));
    {
        lines l;
        uint64_t n = 0;
        memset(&l, 0, sizeof l);
        ENT_CHECK_RC(ent_store_verify(&n, S, collect, &l), ENT_CORRUPT);
        CU_ASSERT_EQUAL(n, 2);
        CU_ASSERT_PTR_NOT_NULL(strstr(l.text, "thing \"t3\": no index entry for field size"));
        CU_ASSERT_PTR_NOT_NULL(strstr(l.text, "thing \"t2\": index size has an entry for a value the entity does not hold"));
    }
    teardown();
}

/* Verify decodes each record a bounded number of times, whatever the number of indexes: it read
 * and decoded the entity of every index entry, so a type of many indexed fields cost entities x
 * indexes x fields (100 entities of 400 indexed int fields: 4.0 G instructions on memory,
 * callgrind). Counted, not timed: with 40 indexes it decoded 40 times per entity. */
static void t_wide_type_decoded_once(void)
{
    enum { FIELDS = 40, ENTITIES = 50 };
    char json[4096], *p = json;
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_txn *t = NULL;
    const ent_type *ty;
    uint64_t n = 9, before;
    o.backend = backend;
    o.durability = ENT_NONE;
    p += sprintf(p, "{\"schema\":\"w\",\"version\":1,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{");
    for (int i = 0; i < FIELDS; i++)
        p += sprintf(p, "%s\"f%d\":{\"id\":%d,\"type\":\"int\",\"%s\":true}", i ? "," : "", i, i + 1, i % 4 ? "indexed" : "unique");
    sprintf(p, "}}}}");
    ENT_TEST_MKDTEMP(dir, "contract-verify");
    ENT_OK_(ent_schema_load_json(&sc, json, strlen(json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    ty = ent_store_type(s, "t");
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
    for (int k = 0; k < ENTITIES; k++) {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, ty));
        for (int i = 0; i < FIELDS; i++) ENT_OK_(ent_entity_field_set_int(e, ent_type_field_at(ty, (size_t)i), k * 1000 + i));
        ENT_OK_(ent_create(s, t, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(t));
    before = ent__records_decoded;
    ENT_OK_(ent_store_verify(&n, s, collect_stderr, NULL));
    CU_ASSERT_EQUAL(n, 0);
    if (ent__records_decoded - before >= 4 * ENTITIES)
        fprintf(stderr, "\n  verify decoded %llu records\n", (unsigned long long)(ent__records_decoded - before));
    CU_ASSERT(ent__records_decoded - before < 4 * ENTITIES);
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_clean),
        ENT_TEST(t_record_garbage),
        ENT_TEST(t_record_key_too_long),
        ENT_TEST(t_index_entry_missing),
        ENT_TEST(t_index_entry_stray),
        ENT_TEST(t_index_entry_wrong_value),
        ENT_TEST(t_wide_type_decoded_once),
        ENT_TEST(t_ref_target_missing), ENT_TEST(t_unique_entry_dangling),
        ENT_TEST(t_count_wrong),
        ENT_TEST(t_counter_damaged_listed),
        ENT_TEST(t_schema_damaged),
        ENT_TEST(t_counter_behind),
        ENT_TEST(t_counter_below_log),
        ENT_TEST(t_log_gap),
        ENT_TEST(t_event_garbage),
        ENT_TEST(t_replay_differs),
        ENT_TEST(t_progress),
        ENT_TEST(t_verify_while_writing),
        ENT_TEST(t_verify_while_truncated),
        ENT_TEST(t_replay_while_truncated),
        ENT_TEST(t_meta_format_lost),
        ENT_TEST(t_log_position_lost),
        ENT_TEST(t_log_key_out_of_order),
        ENT_TEST(t_log_pair_empty),
        ENT_TEST(t_page_damaged),
        ENT_TEST(t_copy_compact_page_damaged),
        ENT_TEST(t_page_table_chain),
        ENT_TEST(t_page_branch_one_key),
        ENT_TEST(t_page_subpage_value_flags),
        ENT_TEST(t_page_main_damaged_open),
        ENT_TEST(t_page_write_open_refused),
        ENT_TEST(t_page_scan_and_replay_checked),
        ENT_TEST(t_event_txn_damaged),
        ENT_TEST(t_delete_version_damaged),
        ENT_TEST(t_checks_at_their_edges),
        ENT_TEST(t_delete_at_last_version),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_verify_%s", backend);
    return ent_test_run(suite, cases);
}
