/* Store identity: init gives a random v4 UUID, kept in the store and by ent_store_copy(), new for
 * a replay; a store without one (made before ids were shown) gets one at its first writable open,
 * while a read-only open shows "". Damaged meta that a writer would carry on (the id, the schema)
 * refuses writable opens. */
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend_fault.h"
#include "test_util.h"


static const char schema_json[] =
    "{\"schema\":\"id\",\"version\":1,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{"
    "\"n\":{\"id\":1,\"type\":\"int\"}}}}}";

static void rm_rf(const char *d)
{
    ent_test_rm_rf(d);
}

static int uuid_v4(const char *s)
{
    if (strlen(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' || s[14] != '4') return 0;
    if (!strchr("89ab", s[19])) return 0;
    for (int i = 0; i < 36; i++)
        if (i != 8 && i != 13 && i != 18 && i != 23 && !strchr("0123456789abcdef", s[i])) return 0;
    return 1;
}

/* The stored durability: what opens that do not choose use. Set on an open store (a promoted
 * mirror's `lazy` made `durable`), it holds from the next open on; this handle keeps its mode;
 * no event; refused for a mode that is none, and on a read-only handle. */
static void test_stored_durability(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_schema *sc = NULL;
    ent_store *s = NULL, *r = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT, ro = ENT_STORE_OPTS_INIT;
    uint64_t last = 1;
    o.durability = ENT_LAZY;
    ro.read_only = 1;
    ENT_TEST_MKDTEMP(dir, "store-dur");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "id"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    CU_ASSERT_EQUAL(ent_store_durability(s), ENT_LAZY);
    ENT_OK_(ent_store_set_stored_durability(s, ENT_DURABLE));
    CU_ASSERT_EQUAL(ent_store_durability(s), ENT_LAZY); /* this handle keeps the mode of its open */
    ENT_OK_(ent_log_bounds(NULL, &last, s, NULL));
    CU_ASSERT_EQUAL(last, 0); /* a setting, not a change of data: no event */
    ENT_CHECK_RC(ent_store_set_stored_durability(s, ENT_DURABILITY_STORED), ENT_INVALID);
    ENT_ASSERT_MSG("is no durability");
    ENT_CHECK_RC(ent_store_set_stored_durability(s, (ent_durability)7), ENT_INVALID);
    ENT_CHECK_RC(ent_store_set_stored_durability(NULL, ENT_DURABLE), ENT_INVALID);
    ent_store_close(s);
    s = NULL;
    ENT_OK_(ent_store_open(&s, dir, NULL, NULL));
    CU_ASSERT_EQUAL(ent_store_durability(s), ENT_DURABLE); /* the next open takes it */
    ENT_OK_(ent_store_set_stored_durability(s, ENT_NONE));
    ent_store_close(s);
    s = NULL;
    ENT_OK_(ent_store_open(&r, dir, NULL, &ro));
    CU_ASSERT_EQUAL(ent_store_durability(r), ENT_NONE);
    ENT_CHECK_RC(ent_store_set_stored_durability(r, ENT_DURABLE), ENT_READONLY);
    ent_store_close(r);
    ENT_OK_(ent_store_open(&s, dir, NULL, NULL));
    CU_ASSERT_EQUAL(ent_store_durability(s), ENT_NONE); /* the refusal changed nothing */
    ent_store_close(s);
    ent_schema_free(sc);
    rm_rf(dir);
}

static void test_ids(void)
{
    char dir[ENT_TEST_PATH_MAX], copy[ENT_TEST_PATH_MAX], rep[ENT_TEST_PATH_MAX], id[37];
    ent_schema *sc = NULL;
    ent_store *s = NULL, *c = NULL, *r = NULL, *s2 = NULL;
    ent_store_opts ro = ENT_STORE_OPTS_INIT;
    ent_entity *e;
    ro.read_only = 1;
    ENT_TEST_MKDTEMP(dir, "store-id");
    ENT_TEST_PATH(copy, "%s/copy", dir);
    ENT_TEST_PATH(rep, "%s/replay", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "id"));
    ENT_OK_(ent_store_open(&s, dir, sc, NULL));
    CU_ASSERT_TRUE(uuid_v4(ent_store_id(s)));
    CU_ASSERT_PTR_NULL(ent_store_mirror_of(s));
    snprintf(id, sizeof id, "%s", ent_store_id(s));
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "t")));
    ENT_OK_(ent_entity_set_int(e, "n", 1));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
    ENT_OK_(ent_store_copy(s, copy, 0));
    ENT_OK_(ent_store_open(&c, copy, NULL, &ro));
    CU_ASSERT_STRING_EQUAL(ent_store_id(c), id); /* a copy is the same store */
    ENT_OK_(ent_store_open(&r, rep, sc, NULL));
    ENT_OK_(ent_store_replay(r, s, 0));
    CU_ASSERT_TRUE(uuid_v4(ent_store_id(r)));
    CU_ASSERT_STRING_NOT_EQUAL(ent_store_id(r), id); /* a replay is a new one */
    ent_store_close(c);
    ent_store_close(r);
    ent_store_close(s);
    /* the same id on every open */
    ENT_OK_(ent_store_open(&s, dir, NULL, &ro));
    CU_ASSERT_STRING_EQUAL(ent_store_id(s), id);
    ent_store_close(s);
    {
        /* a store from before ids: its meta lacks "store_id" */
        MDB_env *env;
        MDB_txn *t;
        MDB_dbi dbi;
        MDB_val k = {8, (void *)"store_id"};
        CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
        mdb_env_set_maxdbs(env, 64);
        CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, 0, 0644), 0);
        CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &t), 0);
        CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(t, "meta", 0, &dbi), 0);
        CU_ASSERT_EQUAL(mdb_del(t, dbi, &k, NULL), 0);
        CU_ASSERT_EQUAL(mdb_txn_commit(t), 0);
        mdb_env_close(env);
    }
    ENT_OK_(ent_store_open(&s, dir, NULL, &ro));
    CU_ASSERT_STRING_EQUAL(ent_store_id(s), ""); /* read-only: nothing is written */
    ent_store_close(s);
    ENT_OK_(ent_store_open(&s2, dir, NULL, NULL));
    CU_ASSERT_TRUE(uuid_v4(ent_store_id(s2)));
    CU_ASSERT_STRING_NOT_EQUAL(ent_store_id(s2), id);
    snprintf(id, sizeof id, "%s", ent_store_id(s2));
    ent_store_close(s2);
    ENT_OK_(ent_store_open(&s, dir, NULL, &ro));
    CU_ASSERT_STRING_EQUAL(ent_store_id(s), id); /* given once, kept */
    ent_store_close(s);
    ent_schema_free(sc);
    rm_rf(dir);
}

/* Put one record into dir's LMDB environment: in the main database (table NULL) or a named one. */
static void raw_put(const char *dir, const char *table, const char *key)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *)key}, v = {5, (void *)"value"};
    CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 64);
    CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, 0, 0644), 0);
    CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &t), 0);
    CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(t, table, table ? MDB_CREATE : 0, &dbi), 0);
    CU_ASSERT_EQUAL(mdb_put(t, dbi, &k, &v, 0), 0);
    CU_ASSERT_EQUAL(mdb_txn_commit(t), 0);
    mdb_env_close(env);
}

/* A store is created only where the backend holds nothing: not beside another program's LMDB
 * databases or records (init into the wrong directory mixed the two and called it clean), nor
 * over a store whose meta table is gone (its records and log would have stayed under a new
 * schema). The other program's data is left as it was. */
static void test_not_over_foreign(void)
{
    static const char *const tables[] = {NULL, "theirs"};
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "id"));
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char dir[ENT_TEST_PATH_MAX];
        MDB_env *env;
        MDB_txn *t;
        MDB_dbi dbi;
        MDB_stat st;
        ENT_TEST_MKDTEMP(dir, "store-id");
        raw_put(dir, tables[i], "hello");
        CU_ASSERT_EQUAL(ent_store_open(&s, dir, sc, NULL), ENT_FORMAT);
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "is not a libentity store, and not empty"));
        CU_ASSERT_PTR_NULL(s);
        CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
        mdb_env_set_maxdbs(env, 64);
        CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, 0, 0644), 0);
        CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, MDB_RDONLY, &t), 0);
        CU_ASSERT_EQUAL(mdb_stat(t, 1 /* MAIN_DBI */, &st), 0);
        CU_ASSERT_EQUAL(st.ms_entries, 1); /* nothing of a store was added */
        if (tables[i]) {
            CU_ASSERT_EQUAL(mdb_dbi_open(t, tables[i], 0, &dbi), 0);
            CU_ASSERT_EQUAL(mdb_stat(t, dbi, &st), 0);
            CU_ASSERT_EQUAL(st.ms_entries, 1);
        }
        mdb_txn_abort(t);
        mdb_env_close(env);
        rm_rf(dir);
    }
    {
        /* a store whose meta table was dropped */
        char dir[ENT_TEST_PATH_MAX];
        MDB_env *env;
        MDB_txn *t;
        MDB_dbi dbi;
        ent_entity *e;
        ENT_TEST_MKDTEMP(dir, "store-id");
        ENT_OK_(ent_store_open(&s, dir, sc, NULL));
        ENT_OK_(ent_entity_new(&e, ent_store_type(s, "t")));
        ENT_OK_(ent_entity_set_int(e, "n", 1));
        ENT_OK_(ent_create(s, NULL, e));
        ent_entity_free(e);
        ent_store_close(s);
        s = NULL;
        CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
        mdb_env_set_maxdbs(env, 64);
        CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, 0, 0644), 0);
        CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &t), 0);
        CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(t, "meta", 0, &dbi), 0);
        CU_ASSERT_EQUAL(mdb_drop(t, dbi, 1), 0);
        CU_ASSERT_EQUAL(mdb_txn_commit(t), 0);
        mdb_env_close(env);
        CU_ASSERT_EQUAL(ent_store_open(&s, dir, sc, NULL), ENT_FORMAT);
        CU_ASSERT_PTR_NULL(s);
        /* nor is it a missing store to an open of the store as it is (entity check, dump, stat):
         * "no libentity store at" a directory of a damaged one sent its user looking elsewhere */
        for (int ro = 0; ro < 2; ro++) {
            ent_store_opts o = ENT_STORE_OPTS_INIT;
            o.read_only = ro;
            CU_ASSERT_EQUAL(ent_store_open(&s, dir, NULL, &o), ENT_FORMAT);
            CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "is not a libentity store: its LMDB data holds"));
            CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "a damaged store that lost its meta"));
            CU_ASSERT_PTR_NULL(s);
        }
        rm_rf(dir);
    }
    ent_schema_free(sc);
}

/* Another program's LMDB data with a plain record named "meta" (the name of the store's first
 * table): LMDB's "MDB_INCOMPATIBLE: Operation and DB incompatible, or DB flags changed" was all
 * the message said. It names the record and what the directory holds. */
static void test_foreign_record_named_meta(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "id"));
    ENT_TEST_MKDTEMP(dir, "store-id");
    raw_put(dir, NULL, "meta");
    CU_ASSERT_EQUAL(ent_store_open(&s, dir, sc, NULL), ENT_CORRUPT);
    ENT_ASSERT_MSG("holds a record named meta that is not a table: not a libentity store");
    CU_ASSERT_EQUAL(ent_store_open(&s, dir, NULL, NULL), ENT_CORRUPT);
    ENT_ASSERT_MSG("not a libentity store");
    CU_ASSERT_PTR_NULL(s);
    ent_schema_free(sc);
    rm_rf(dir);
}

/* A store file that is not a file: LMDB's "Is a directory" or "No such file or directory" named
 * none of the store's files. data.mdb a directory, lock.mdb a directory, lock.mdb a symbolic link
 * to nowhere. */
static void test_store_file_not_a_file(void)
{
    static const char *const what[] = {"data.mdb", "lock.mdb", "lock.mdb"};
    static const char *const said[] = {"data.mdb is a directory, not a file", "lock.mdb is a directory, not a file",
                                       "lock.mdb is a symbolic link to a missing file"};
    ent_schema *sc = NULL;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "id"));
    for (int i = 0; i < 3; i++) {
        char dir[ENT_TEST_PATH_MAX], path[ENT_TEST_PATH_MAX];
        ent_store *s = NULL;
        ENT_TEST_MKDTEMP(dir, "store-id");
        ENT_OK_(ent_store_open(&s, dir, sc, NULL));
        ent_store_close(s);
        s = NULL;
        ENT_TEST_PATH(path, "%s/%s", dir, what[i]);
        CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
        if (i < 2) {
            CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
        } else {
            CU_ASSERT_EQUAL_FATAL(symlink("/nonexistent/lock.mdb", path), 0);
        }
        CU_ASSERT_NOT_EQUAL(ent_store_open(&s, dir, NULL, NULL), ENT_OK);
        ENT_ASSERT_MSG(said[i]);
        CU_ASSERT_PTR_NULL(s);
        rm_rf(dir);
    }
    ent_schema_free(sc);
}

/* Put (key, value of n bytes) into dir's meta table, below the store. */
static void meta_put(const char *dir, const char *key, const void *val, size_t n)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *)key}, v = {n, (void *)val};
    CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 64);
    CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, 0, 0644), 0);
    CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &t), 0);
    CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(t, "meta", 0, &dbi), 0);
    CU_ASSERT_EQUAL(mdb_put(t, dbi, &k, &v, 0), 0);
    CU_ASSERT_EQUAL(mdb_txn_commit(t), 0);
    mdb_env_close(env);
}

static void collect(const char *line, void *p)
{
    size_t used = strlen(p);
    snprintf((char *)p + used, 1024 - used, "%s\n", line);
}

/* A damaged store id (a value of another size than 16 bytes) is damage, not a store from before
 * ids: a writable open gave the store a new id, silently (to its relay's stream and its mirrors,
 * another store), and verify said ok. Now a writable open refuses, naming it, and writes
 * nothing; a read-only one goes on without an id, and verify names the damage; so it does for a
 * durability byte that is none (the store opens as durable). */
static void test_id_damaged(void)
{
    char dir[ENT_TEST_PATH_MAX], lines[1024] = "";
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts ro = ENT_STORE_OPTS_INIT;
    uint64_t n = 0;
    ro.read_only = 1;
    ENT_TEST_MKDTEMP(dir, "store-id");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "id"));
    ENT_OK_(ent_store_open(&s, dir, sc, NULL));
    ent_store_close(s);
    meta_put(dir, "store_id", "abc", 3);
    meta_put(dir, "durability", "\x07", 1);
    ENT_CHECK_RC(ent_store_open(&s, dir, NULL, NULL), ENT_CORRUPT);
    ENT_ASSERT_MSG("store meta \"store_id\": 3 bytes, expected 16");
    ENT_OK_(ent_store_open(&s, dir, NULL, &ro));
    CU_ASSERT_STRING_EQUAL(ent_store_id(s), "");
    ENT_CHECK_RC(ent_store_verify(&n, s, collect, lines), ENT_CORRUPT);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(lines, "meta \"store_id\": 3 bytes, expected 16"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines, "meta \"durability\": 7 is no durability"));
    ent_store_close(s);
    /* one byte too many is damage too (its first 16 bytes were taken for the id) */
    meta_put(dir, "store_id", "0123456789abcdefX", 17);
    ENT_CHECK_RC(ent_store_open(&s, dir, NULL, NULL), ENT_CORRUPT);
    ENT_ASSERT_MSG("store meta \"store_id\": 17 bytes, expected 16");
    /* a mirror's primary id longer than an id is damage, not copied over what follows it */
    meta_put(dir, "store_id", "0123456789abcdef", 16);
    meta_put(dir, "mirror_of", "0123456789abcdef0123456789abcdef01234", 37);
    ENT_CHECK_RC(ent_store_open(&s, dir, NULL, NULL), ENT_CORRUPT);
    ENT_ASSERT_MSG("store meta \"mirror_of\" is damaged");
    ent_schema_free(sc);
    rm_rf(dir);
}

/* A stored schema damaged so that it still loads ("indexed" turned "unique": one flipped word of
 * valid JSON) opened writable without complaint: the open made an empty unique table, after which
 * a look-up of a stored value found nothing with ENT_OK, and a write of that value was accepted
 * beside it. Its history copy "schema_v/1" tells: a writable open refuses now, naming both, and so
 * does a read-only one that cannot open the tables the damaged schema names (it said "table
 * u:t.n does not exist"); a damaged copy is refused to writers, readers go on. Nothing is lost:
 * with the bytes put back, every entity is found by its index. */
static void test_schema_damaged(void)
{
    static const char ok_json[] = "{\"schema\":\"sd\",\"version\":1,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{"
                                  "\"n\":{\"id\":1,\"type\":\"int\",\"indexed\":true}}}}}";
    char dir[ENT_TEST_PATH_MAX], *stored = NULL, *bad;
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts ro = ENT_STORE_OPTS_INIT;
    ent_iter *it = NULL;
    ent_entity *e = NULL;
    ent_value one = ent_value_int(1);
    int n = 0;
    ro.read_only = 1;
    ENT_TEST_MKDTEMP(dir, "schema-damaged");
    ENT_OK_(ent_schema_load_json(&sc, ok_json, strlen(ok_json), "sd"));
    ENT_OK_(ent_store_open(&s, dir, sc, NULL));
    for (int i = 1; i <= 3; i++) {
        ENT_OK_(ent_entity_new(&e, ent_store_type(s, "t")));
        ENT_OK_(ent_entity_set_int(e, "n", i));
        ENT_OK_(ent_create(s, NULL, e));
        ent_entity_free(e);
        e = NULL;
    }
    ENT_OK_(ent_store_schema_json(&stored, s, 1));
    ent_store_close(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(stored);
    bad = strdup(stored);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
    char *w = strstr(bad, "\"indexed\":true");
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    memcpy(w, "\"unique\" :true", strlen("\"indexed\":true")); /* same length: a flipped word */

    meta_put(dir, "schema", bad, strlen(bad));
    ENT_CHECK_RC(ent_store_open(&s, dir, NULL, NULL), ENT_CORRUPT);
    ENT_ASSERT_MSG("the store's schema differs from its copy \"schema_v/1\"");
    ENT_CHECK_RC(ent_store_open(&s, dir, NULL, &ro), ENT_CORRUPT);
    ENT_ASSERT_MSG("the store's schema differs from its copy \"schema_v/1\"");

    /* the copy damaged instead: readers read by the stored schema, writers are refused */
    meta_put(dir, "schema", stored, strlen(stored));
    meta_put(dir, "schema_v/1", bad, strlen(bad));
    ENT_CHECK_RC(ent_store_open(&s, dir, NULL, NULL), ENT_CORRUPT);
    ENT_ASSERT_MSG("the store's schema differs from its copy \"schema_v/1\"");
    ENT_OK_(ent_store_open(&s, dir, NULL, &ro));
    ent_store_close(s);

    meta_put(dir, "schema_v/1", stored, strlen(stored));
    ENT_OK_(ent_store_open(&s, dir, NULL, NULL));
    ENT_OK_(ent_find(&it, s, NULL, ent_type_field(ent_store_type(s, "t"), "n"), &one));
    while (ent_iter_next(&e, it) == ENT_OK) {
        n++;
        ent_entity_free(e);
        e = NULL;
    }
    ent_iter_free(it);
    CU_ASSERT_EQUAL(n, 1);
    ent_store_close(s);
    free(bad);
    free(stored);
    ent_schema_free(sc);
    rm_rf(dir);
}

/* A damaged meta page of data.mdb: LMDB's "MDB_INVALID: File is not an LMDB file" named neither
 * the file nor the page. Either meta page zeroed, or the first's page size flipped: the open
 * names data.mdb and the page, with ENT_CORRUPT, read-only and writable. */
static void test_meta_page_damaged(void)
{
    static const struct { off_t off; int zero; const char *said; } cases[] = {
        {0, 1, "data.mdb: meta page 0 is damaged"},
        {-1, 1, "data.mdb: meta page 1 is damaged"}, /* -1: at the page size */
        {40, 0, "data.mdb: meta page 0 is damaged: its page size"},
    };
    ent_schema *sc = NULL;
    ent_store_opts ro = ENT_STORE_OPTS_INIT;
    ro.read_only = 1;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "id"));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[ENT_TEST_PATH_MAX], path[ENT_TEST_PATH_MAX];
        unsigned char page[4096];
        ent_store *s = NULL;
        uint32_t psize = 0;
        off_t off = cases[i].off;
        int fd;
        ENT_TEST_MKDTEMP(dir, "store-meta");
        ENT_OK_(ent_store_open(&s, dir, sc, NULL));
        ent_store_close(s);
        s = NULL;
        ENT_TEST_PATH(path, "%s/data.mdb", dir);
        fd = open(path, O_RDWR);
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(pread(fd, &psize, 4, 40) == 4); /* LMDB 0.9: the first meta's page size */
        if (off < 0) off = (off_t)psize;
        if (cases[i].zero) {
            memset(page, 0, sizeof page); /* a meta page's header and meta fit in 512 bytes */
            CU_ASSERT_FATAL(pwrite(fd, page, 512, off) == 512);
        } else {
            CU_ASSERT_FATAL(pread(fd, page, 1, off) == 1);
            page[0] ^= 0xff;
            CU_ASSERT_FATAL(pwrite(fd, page, 1, off) == 1);
        }
        close(fd);
        ENT_CHECK_RC(ent_store_open(&s, dir, NULL, &ro), ENT_CORRUPT);
        ENT_ASSERT_MSG(cases[i].said);
        ENT_CHECK_RC(ent_store_open(&s, dir, NULL, NULL), ENT_CORRUPT);
        ENT_ASSERT_MSG(cases[i].said);
        CU_ASSERT_PTR_NULL(s);
        rm_rf(dir);
    }
    ent_schema_free(sc);
}

/* The hook: another process makes the store at dir (an init that commits) and ends. */
static void init_elsewhere(void *dir)
{
    int st = -1;
    pid_t pid;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        /* a process of its own (exec), this very test binary whatever its argv[0] */
        execl("/proc/self/exe", "test_store_id", "--init", (const char *)dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) waitpid(pid, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* An open that looks at a store while another process's init commits: the init came after the
 * open's snapshot (no meta there) and before its count of the backend's tables (some now). It
 * said ENT_FORMAT, "a damaged store that lost its meta", of a store being made; now it looks
 * again and opens it. The fault backend's hook puts the init at that point. */
static void test_open_racing_init(void)
{
    char dir[ENT_TEST_PATH_MAX];
    MDB_env *env;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ENT_TEST_MKDTEMP(dir, "store-id");
    /* LMDB's files, no table yet: where an init that has opened its environment is */
    CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
    CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, 0, 0644), 0);
    mdb_env_close(env);
    /* Read-only (entity check, dump, stat): a writable open holds the writer as it looks, so no
     * init commits meanwhile. */
    o.backend = "fault";
    o.read_only = 1;
    ent__fault_reset();
    ent__fault_hook("info", 1, init_elsewhere, dir);
    CU_ASSERT_EQUAL(ent_store_open(&s, dir, NULL, &o), ENT_OK);
    if (!s) fprintf(stderr, "\n  open: %s\n", ent_errmsg());
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s) CU_ASSERT_PTR_NOT_NULL(ent_store_type(s, "t"));
    ent_store_close(s);
    ent__fault_hook(NULL, 0, NULL, NULL);
    ent__fault_reset();
    rm_rf(dir);
}

/* ent_store_check_path(): whether the store a handle has open is still the one at its path, for a
 * process that keeps it open for days. The open files are compared with what the path names now,
 * the path taken absolute at the open: a store opened by a relative path is still at it after the
 * host changed its directory (a stat of the relative path would say it was removed), and a
 * data.mdb replaced before the first check is seen (a stat taken a moment after the open, as the
 * relay, the server and the tool each did, took the new file for the store). */
static void test_check_path(void)
{
    char dir[ENT_TEST_PATH_MAX], a[ENT_TEST_PATH_MAX], b[ENT_TEST_PATH_MAX], from[ENT_TEST_PATH_MAX + 16],
        to[ENT_TEST_PATH_MAX + 16], cwd[4096];
    ent_schema *sc = NULL;
    ent_store *s = NULL, *f = NULL, *m = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ENT_TEST_MKDTEMP(dir, "store-path");
    ENT_TEST_PATH(a, "%s/a", dir);
    ENT_TEST_PATH(b, "%s/b", dir);
    ENT_TEST_PATH(from, "%s/data.mdb", b);
    ENT_TEST_PATH(to, "%s/data.mdb", a);
    CU_ASSERT_EQUAL(ent_store_check_path(NULL), ENT_INVALID);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "id"));
    o.backend = "memory";
    ENT_OK_(ent_store_open(&m, NULL, sc, &o));
    CU_ASSERT_EQUAL(ent_store_check_path(m), ENT_OK); /* no files to lose */
    ent_store_close(m);

    CU_ASSERT_FATAL(getcwd(cwd, sizeof cwd) != NULL);
    CU_ASSERT_FATAL(chdir(dir) == 0);
    ENT_OK_(ent_store_open(&s, "a", sc, NULL));
    CU_ASSERT_FATAL(chdir("/") == 0); /* "a" under "/" is no store */
    CU_ASSERT_EQUAL(ent_store_check_path(s), ENT_OK);
    o.backend = "fault"; /* a wrapping backend asks the one it wraps */
    ENT_OK_(ent_store_open(&f, a, NULL, &o));
    CU_ASSERT_EQUAL(ent_store_check_path(f), ENT_OK);

    /* a copy moved into its place, as a restored backup is */
    ENT_OK_(ent_store_copy(s, b, 1));
    CU_ASSERT_FATAL(rename(from, to) == 0);
    CU_ASSERT_EQUAL(ent_store_check_path(s), ENT_CONFLICT);
    ENT_ASSERT_MSG(a);
    ENT_ASSERT_MSG("is another file now");
    CU_ASSERT_EQUAL(ent_store_check_path(f), ENT_CONFLICT);
    ENT_ASSERT_MSG(a);

    /* removed (rm -rf), also the directory */
    rm_rf(a);
    CU_ASSERT_EQUAL(ent_store_check_path(s), ENT_NOTFOUND);
    ENT_ASSERT_MSG(a);
    ENT_ASSERT_MSG("was removed");
    CU_ASSERT_EQUAL(ent_store_check_path(f), ENT_NOTFOUND);
    ent_store_close(f);
    ent_store_close(s);
    CU_ASSERT(chdir(cwd) == 0);
    ent_schema_free(sc);
    rm_rf(dir);
}

/* A path with ".." names the store through the directories before it, as the kernel resolved
 * them at the open: "b/../a" (or a server started with `-s ../store` in a release directory
 * removed later). The store at a is still the one open when b is moved away, but the path as
 * given no longer resolves: check_path said ENT_NOTFOUND ("removed"), and the server answered
 * 503 for ever, the relay and the mirror stopped. What comes after the last ".." is still taken
 * as given: a symlink there switched to another store is ENT_CONFLICT. */
static void test_check_path_dotdot(void)
{
    char dir[ENT_TEST_PATH_MAX], a[ENT_TEST_PATH_MAX], b[ENT_TEST_PATH_MAX], moved[ENT_TEST_PATH_MAX],
        via[ENT_TEST_PATH_MAX + 16], ln[ENT_TEST_PATH_MAX], lnvia[ENT_TEST_PATH_MAX + 16], tmp[ENT_TEST_PATH_MAX];
    ent_schema *sc = NULL;
    ent_store *s = NULL, *o = NULL, *l = NULL;
    ENT_TEST_MKDTEMP(dir, "store-path-dotdot");
    ENT_TEST_PATH(a, "%s/a", dir);
    ENT_TEST_PATH(b, "%s/b", dir);
    ENT_TEST_PATH(moved, "%s/b.moved", dir);
    ENT_TEST_PATH(via, "%s/b/../a", dir);
    ENT_TEST_PATH(ln, "%s/b/ln", dir);
    ENT_TEST_PATH(lnvia, "%s/b/../b/ln", dir);
    ENT_TEST_PATH(tmp, "%s/b/ln.new", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "id"));
    ENT_OK_(ent_store_open(&o, a, sc, NULL)); /* the store at a */
    CU_ASSERT_FATAL(mkdir(b, 0775) == 0);
    ENT_OK_(ent_store_open(&l, b, sc, NULL)); /* another store, at b itself */
    CU_ASSERT_FATAL(symlink("../a", ln) == 0);
    ENT_OK_(ent_store_open(&s, via, NULL, NULL));
    CU_ASSERT_EQUAL(ent_store_check_path(s), ENT_OK);
    /* the symlink after the last "..", switched to the store at b: another store there now */
    ent_store_close(o);
    ENT_OK_(ent_store_open(&o, lnvia, NULL, NULL));
    CU_ASSERT_EQUAL(ent_store_check_path(o), ENT_OK);
    CU_ASSERT_FATAL(symlink(".", tmp) == 0 && rename(tmp, ln) == 0);
    CU_ASSERT_EQUAL(ent_store_check_path(o), ENT_CONFLICT);
    ENT_ASSERT_MSG(lnvia);
    /* b, only passed through on the way to a, moved away: a is still the store open */
    ent_store_close(l);
    CU_ASSERT_FATAL(rename(b, moved) == 0);
    if (ent_store_check_path(s) != ENT_OK) fprintf(stderr, "\n  check_path: %s\n", ent_errmsg());
    CU_ASSERT_EQUAL(ent_store_check_path(s), ENT_OK);
    ent_store_close(o);
    ent_store_close(s);
    ent_schema_free(sc);
    rm_rf(dir);
}

/* A second open, in the same process, of a store whose data.mdb was replaced while a first handle
 * still has it open: the open found the first handle's environment by the directory (LMDB allows
 * one per process) and handed out the files no longer at the path, the replaced store's, with
 * ENT_OK; ent_store_check_path() on the new handle said ENT_CONFLICT at once. A host that, told
 * ENT_CONFLICT, opens the store again before closing the old handle (to serve on without a gap)
 * went on with the old files. Refused now, naming the path; once the old handle is closed, the
 * open gets the store now there. */
static void test_open_after_replaced(void)
{
    char dir[ENT_TEST_PATH_MAX], a[ENT_TEST_PATH_MAX], b[ENT_TEST_PATH_MAX], from[ENT_TEST_PATH_MAX + 16],
        to[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL, *s2 = NULL;
    ent_store_opts ro = ENT_STORE_OPTS_INIT;
    uint64_t n = 0;
    ENT_TEST_MKDTEMP(dir, "store-reopen");
    ENT_TEST_PATH(a, "%s/a", dir);
    ENT_TEST_PATH(b, "%s/b", dir);
    ENT_TEST_PATH(from, "%s/data.mdb", b);
    ENT_TEST_PATH(to, "%s/data.mdb", a);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "id"));
    ENT_OK_(ent_store_open(&s, a, sc, NULL));
    ENT_OK_(ent_store_copy(s, b, 1)); /* the copy: empty */
    {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, ent_store_type(s, "t")));
        ENT_OK_(ent_create(s, NULL, e)); /* the old files: one entity */
        ent_entity_free(e);
    }
    CU_ASSERT_FATAL(rename(from, to) == 0);
    CU_ASSERT_EQUAL(ent_store_check_path(s), ENT_CONFLICT);
    ENT_CHECK_RC(ent_store_open(&s2, a, NULL, NULL), ENT_BUSY);
    CU_ASSERT_PTR_NULL(s2);
    ENT_ASSERT_MSG(a);
    ENT_ASSERT_MSG("replaced");
    ro.read_only = 1;
    ENT_CHECK_RC(ent_store_open(&s2, a, NULL, &ro), ENT_BUSY);
    if (s2) ent_store_close(s2);
    s2 = NULL;
    ent_store_close(s);
    ENT_OK_(ent_store_open(&s2, a, NULL, NULL)); /* the store now there */
    CU_ASSERT_EQUAL(ent_store_check_path(s2), ENT_OK);
    ENT_OK_(ent_count(&n, s2, NULL, ent_store_type(s2, "t")));
    CU_ASSERT_EQUAL(n, 0);
    ent_store_close(s2);
    ent_schema_free(sc);
    rm_rf(dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--init")) { /* test_open_racing_init's other process */
        ent_schema *sc = NULL;
        ent_store *s = NULL;
        int rc = ent_schema_load_json(&sc, schema_json, strlen(schema_json), "id");
        if (!rc) rc = ent_store_open(&s, argv[2], sc, NULL);
        ent_store_close(s);
        ent_schema_free(sc);
        return rc ? 1 : 0;
    }
    static const ent_test_case cases[] = {ENT_TEST(test_ids), ENT_TEST(test_not_over_foreign),
                                          ENT_TEST(test_foreign_record_named_meta),
                                          ENT_TEST(test_store_file_not_a_file), ENT_TEST(test_id_damaged),
                                          ENT_TEST(test_schema_damaged),
                                          ENT_TEST(test_meta_page_damaged),
                                          ENT_TEST(test_open_racing_init), ENT_TEST(test_check_path),
                                          ENT_TEST(test_stored_durability),
                                          ENT_TEST(test_check_path_dotdot), ENT_TEST(test_open_after_replaced),
                                          {NULL, NULL}};
    return ent_test_run("store_id", cases);
}
