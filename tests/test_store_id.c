/* Store identity: init gives a random v4 UUID, kept in the store and by ent_store_copy(), new for
 * a replay; a store without one (made before ids were shown) gets one at its first writable open,
 * while a read-only open shows "". */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static const char schema_json[] =
    "{\"schema\":\"id\",\"version\":1,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{"
    "\"n\":{\"id\":1,\"type\":\"int\"}}}}}";

static void rm_rf(const char *d)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", d);
}

static int uuid_v4(const char *s)
{
    if (strlen(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' || s[14] != '4') return 0;
    if (!strchr("89ab", s[19])) return 0;
    for (int i = 0; i < 36; i++)
        if (i != 8 && i != 13 && i != 18 && i != 23 && !strchr("0123456789abcdef", s[i])) return 0;
    return 1;
}

static void test_ids(void)
{
    char dir[64], copy[80], rep[80], id[37];
    ent_schema *sc = NULL;
    ent_store *s = NULL, *c = NULL, *r = NULL, *s2 = NULL;
    ent_store_opts ro = ENT_STORE_OPTS_INIT;
    ent_entity *e;
    ro.read_only = 1;
    snprintf(dir, sizeof dir, "/tmp/ent_id_XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(copy, sizeof copy, "%s/copy", dir);
    snprintf(rep, sizeof rep, "%s/replay", dir);
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

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_ids), {NULL, NULL}};
    return ent_test_run("store_id", cases);
}
