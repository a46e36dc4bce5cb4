/* Gets as a contract, on every backend (its name in argv[1]): every get of one stored version gives
 * an equal entity that the caller owns alone, whatever the backend keeps between gets (decoded
 * records live in the entity's own allocation: codec_read.c). An entity outlives its transaction
 * and the version it was read from; changing or freeing one never shows in another; snapshots
 * still see their own version. Run under ASan, a get that handed out memory of the store or of
 * another entity would show as a use after free. A fresh store per test. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static const char *backend;
static char dir[ENT_TEST_PATH_MAX];
static ent_store *S;
static ent_schema *SC;

static const char schema_json[] =
    "{\"schema\":\"getc\",\"version\":1,\"types\":{"
    "\"doc\":{\"key\":\"string\",\"fields\":{"
    "  \"name\":{\"id\":1,\"type\":\"string\"},"
    "  \"n\":{\"id\":2,\"type\":\"int\"},"
    "  \"blob\":{\"id\":3,\"type\":\"bytes\"},"
    "  \"tags\":{\"id\":4,\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "  \"dims\":{\"id\":5,\"type\":\"map\",\"fields\":{"
    "     \"w\":{\"id\":1,\"type\":\"string\"},"
    "     \"h\":{\"id\":2,\"type\":\"string\",\"default\":\"tall\"}}},"
    "  \"attrs\":{\"id\":6,\"type\":\"map\"},"
    "  \"rows\":{\"id\":7,\"type\":\"array\",\"items\":{\"type\":\"map\",\"fields\":{"
    "     \"q\":{\"id\":1,\"type\":\"int\"},\"s\":{\"id\":2,\"type\":\"string\"}}}},"
    "  \"price\":{\"id\":8,\"type\":\"float\"}}}}}";

static const char full_doc[] =
    "{\"name\":\"first\",\"n\":-7,\"blob\":\"AAEC\",\"tags\":[\"a\",\"bb\",\"\"],\"dims\":{\"w\":\"wide\"},"
    "\"attrs\":{\"x\":1,\"y\":\"why\",\"z\":{\"deep\":[1,\"two\",null,{\"k\":true}]},\"e\":{},\"f\":[]},"
    "\"rows\":[{\"q\":1,\"s\":\"one\"},{\"q\":2}],\"price\":0.5}";

static void open_store(void)
{
    ent_test_store_open(&S, &SC, dir, backend, schema_json, "contract_get");
}

static void close_store(void) { ent_test_store_close(&S, &SC, dir); }

static const ent_type *doc(void) { return ent_store_type(S, "doc"); }

static void create_json(const char *key, const char *json)
{
    ent_entity *e = NULL;
    ENT_OK_(ent_entity_from_json(&e, doc(), json, strlen(json)));
    ent_key k = ent_key_str(key);
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_create(S, NULL, e));
    ent_entity_free(e);
}

/* The entity's data as JSON (the caller frees it). */
static char *json_of(const ent_entity *e)
{
    char *j = NULL;
    ENT_OK_(ent_entity_to_json(&j, e, 0));
    return j;
}

static ent_entity *get(ent_txn *txn, const char *key)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str(key);
    ENT_OK_(ent_get(&e, S, txn, doc(), &k));
    return e;
}

/* Three gets of one version are equal; changing and freeing one leaves the others and later gets
 * as they were; the entities outlive the txn. */
static void t_gets_are_equal_and_independent(void)
{
    ent_txn *r = NULL;
    ent_entity *e1, *e2, *e3, *e4;
    char *j1, *j;
    open_store();
    create_json("k", full_doc);
    ENT_OK_(ent_txn_begin(&r, S, ENT_TXN_READ));
    e1 = get(r, "k");
    e2 = get(r, "k");
    e3 = get(r, "k");
    j1 = json_of(e1);
    CU_ASSERT_PTR_NOT_NULL(strstr(j1, "\"h\":\"tall\"")); /* the default, filled on read */
    j = json_of(e2);
    CU_ASSERT_STRING_EQUAL(j, j1);
    free(j);
    /* change every kind of part of e2: strings, arrays (growing past their block), maps */
    ENT_OK_(ent_entity_set_string(e2, "name", "second, and longer than the first name was"));
    ENT_OK_(ent_entity_set_string(e2, "tags[3]", "grown"));
    ENT_OK_(ent_entity_set_string(e2, "tags[0]", "changed"));
    ENT_OK_(ent_entity_set_string(e2, "dims.w", "narrow"));
    ENT_OK_(ent_entity_set_string(e2, "attrs.y", "changed"));
    ENT_OK_(ent_entity_set_string(e2, "attrs.new", "added"));
    ENT_OK_(ent_entity_set_int(e2, "rows[0].q", 10));
    ENT_OK_(ent_entity_set_json(e2, "attrs.z", "{\"other\":1}"));
    j = json_of(e2);
    CU_ASSERT_STRING_NOT_EQUAL(j, j1);
    free(j);
    ent_entity_free(e2);
    j = json_of(e3);
    CU_ASSERT_STRING_EQUAL(j, j1);
    free(j);
    ent_entity_free(e3);
    e4 = get(r, "k");
    j = json_of(e4);
    CU_ASSERT_STRING_EQUAL(j, j1);
    free(j);
    ent_txn_abort(r);
    /* after the txn: e1 and e4 are the caller's */
    ENT_OK_(ent_entity_set_string(e4, "tags[1]", "after the txn"));
    j = json_of(e1);
    CU_ASSERT_STRING_EQUAL(j, j1);
    free(j);
    ent_entity_free(e4);
    ent_entity_free(e1);
    free(j1);
    close_store();
}

/* An entity read before an update stays whole after the version it came from is gone (the store
 * frees old versions once no snapshot needs them); a snapshot opened before the update keeps
 * reading the old version, a later one the new. */
static void t_entity_outlives_its_version(void)
{
    ent_txn *old = NULL, *r = NULL;
    ent_entity *before, *e, *snap;
    char *jb, *j;
    open_store();
    create_json("k", full_doc);
    before = get(NULL, "k");
    e = get(NULL, "k");
    jb = json_of(before);
    ENT_OK_(ent_txn_begin(&old, S, ENT_TXN_READ));
    snap = get(old, "k");
    ent_entity_free(snap);
    ENT_OK_(ent_entity_set_string(e, "name", "updated"));
    ENT_OK_(ent_entity_set_string(e, "attrs.y", "updated too"));
    ENT_OK_(ent_update(S, NULL, e, ENT_VERSION_ANY));
    ent_entity_free(e);
    snap = get(old, "k"); /* the old snapshot: the old version, twice */
    j = json_of(snap);
    CU_ASSERT_STRING_EQUAL(j, jb);
    free(j);
    ent_entity_free(snap);
    snap = get(old, "k");
    ent_txn_abort(old);
    e = get(NULL, "k");
    j = json_of(e);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"name\":\"updated\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"y\":\"updated too\""));
    free(j);
    ent_entity_free(e);
    /* more commits: the old version has no reader left and goes */
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "o%d", i);
        create_json(key, "{\"name\":\"other\"}");
    }
    ENT_OK_(ent_txn_begin(&r, S, ENT_TXN_READ));
    e = get(r, "k");
    j = json_of(e);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"name\":\"updated\""));
    free(j);
    ent_entity_free(e);
    ent_txn_abort(r);
    /* read before the update, used after its version was freed */
    j = json_of(before);
    CU_ASSERT_STRING_EQUAL(j, jb);
    free(j);
    j = json_of(snap);
    CU_ASSERT_STRING_EQUAL(j, jb);
    free(j);
    ent_entity_free(snap);
    ent_entity_free(before);
    free(jb);
    close_store();
}

/* A write txn reads its own uncommitted versions (which may still change) as they are now, and
 * committed ones like any reader; deleted entities are not found again. */
static void t_gets_in_a_write_txn(void)
{
    ent_txn *w = NULL;
    ent_entity *e, *f;
    ent_key k = ent_key_str("k");
    char *j;
    open_store();
    create_json("k", full_doc);
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    e = get(w, "k");
    ENT_OK_(ent_entity_set_string(e, "name", "own 1"));
    ENT_OK_(ent_update(S, w, e, ENT_VERSION_ANY));
    f = get(w, "k");
    j = json_of(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"name\":\"own 1\""));
    free(j);
    ent_entity_free(f);
    ENT_OK_(ent_entity_set_string(e, "name", "own 2, a longer name than the one before it"));
    ENT_OK_(ent_update(S, w, e, ENT_VERSION_ANY));
    ent_entity_free(e);
    f = get(w, "k");
    j = json_of(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"name\":\"own 2, a longer"));
    free(j);
    ent_entity_free(f);
    ENT_OK_(ent_txn_commit(w));
    f = get(NULL, "k");
    j = json_of(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"name\":\"own 2, a longer"));
    free(j);
    ent_entity_free(f);
    ENT_OK_(ent_delete(S, NULL, doc(), &k, ENT_VERSION_ANY));
    e = NULL;
    ENT_CHECK_RC(ent_get(&e, S, NULL, doc(), &k), ENT_NOTFOUND);
    CU_ASSERT_PTR_NULL(e);
    close_store();
}

/* Many entities of varied shapes, each read three times in separate txns, the same each time. */
static void t_many_shapes(void)
{
    char json[600], key[16];
    open_store();
    for (int i = 0; i < 60; i++) {
        snprintf(json, sizeof json,
                 "{\"name\":\"%.*s\",\"tags\":[%s],\"attrs\":{%s},\"rows\":[%s]%s}", i % 40,
                 "0123456789012345678901234567890123456789", i % 3 == 0 ? "" : i % 3 == 1 ? "\"x\"" : "\"x\",\"yy\",\"zzz\"",
                 i % 4 == 0 ? "" : "\"a\":[[[]]],\"b\":{\"c\":{\"d\":\"e\"}}",
                 i % 5 == 0 ? "" : "{\"q\":1},{\"s\":\"s\"},{}", i % 2 ? ",\"dims\":{\"w\":\"w\",\"h\":\"h\"}" : "");
        snprintf(key, sizeof key, "k%02d", i);
        create_json(key, json);
    }
    for (int i = 0; i < 60; i++) {
        char *j0 = NULL;
        snprintf(key, sizeof key, "k%02d", i);
        for (int round = 0; round < 3; round++) {
            ent_entity *e = get(NULL, key);
            char *j = json_of(e);
            if (!j0) j0 = j;
            else {
                CU_ASSERT_STRING_EQUAL(j, j0);
                free(j);
            }
            ENT_OK_(ent_entity_set_string(e, "tags[0]", "scribble"));
            ent_entity_free(e);
        }
        free(j0);
    }
    close_store();
}

/* Readers in threads get the same entities while a writer updates them: each entity read is
 * whole and of one version (name and n are written together), whenever the old versions go.
 * ThreadSanitizer watches the rest. */
enum { TK = 8, TREADERS = 3, TROUNDS = 150 };

static void *reader_thread(void *arg)
{
    int bad = 0;
    (void)arg;
    for (int round = 0; round < TROUNDS && !bad; round++) {
        ent_txn *r = NULL;
        if (ent_txn_begin(&r, S, ENT_TXN_READ)) return (void *)1;
        for (int i = 0; i < TK && !bad; i++) {
            char key[8], want[32];
            ent_key k;
            ent_entity *e = NULL;
            const char *name = NULL;
            size_t len = 0;
            int64_t n = -1;
            snprintf(key, sizeof key, "t%d", (i + round) % TK);
            k = ent_key_str(key);
            if (ent_get(&e, S, r, doc(), &k) || ent_entity_get_string(&name, &len, e, "name") ||
                ent_entity_get_int(&n, e, "n"))
                bad = 1;
            else {
                snprintf(want, sizeof want, "v%lld", (long long)n);
                bad = strcmp(name, want) != 0;
            }
            ent_entity_free(e);
        }
        ent_txn_abort(r);
    }
    return bad ? (void *)1 : NULL;
}

static void t_threads_read_while_writing(void)
{
    pthread_t th[TREADERS];
    open_store();
    for (int i = 0; i < TK; i++) {
        char key[8];
        snprintf(key, sizeof key, "t%d", i);
        create_json(key, "{\"name\":\"v0\",\"n\":0,\"tags\":[\"a\",\"b\"],\"attrs\":{\"x\":\"y\"}}");
    }
    for (int t = 0; t < TREADERS; t++) CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, reader_thread, NULL), 0);
    for (int v = 1; v <= 60; v++) {
        char key[8], name[32];
        ent_key k;
        ent_entity *e = NULL;
        snprintf(key, sizeof key, "t%d", v % TK);
        k = ent_key_str(key);
        ENT_OK_(ent_get(&e, S, NULL, doc(), &k));
        snprintf(name, sizeof name, "v%d", v);
        ENT_OK_(ent_entity_set_string(e, "name", name));
        ENT_OK_(ent_entity_set_int(e, "n", v));
        ENT_OK_(ent_update(S, NULL, e, ENT_VERSION_ANY));
        ent_entity_free(e);
    }
    for (int t = 0; t < TREADERS; t++) {
        void *res = NULL;
        pthread_join(th[t], &res);
        CU_ASSERT_PTR_NULL(res);
    }
    close_store();
}

/* Strict UTF-8 (what jansson and a JSON reader take), for messages. */
static int utf8_valid(const unsigned char *s)
{
    while (*s) {
        size_t l = *s < 0x80 ? 1 : *s < 0xc2 ? 0 : *s < 0xe0 ? 2 : *s < 0xf0 ? 3 : *s < 0xf5 ? 4 : 0;
        if (!l) return 0;
        for (size_t i = 1; i < l; i++)
            if ((s[i] & 0xc0) != 0x80) return 0;
        s += l;
    }
    return 1;
}

/* A message that names a long key cuts it on a character boundary and says so: a key of 250
 * bytes with a two-byte character across byte 200 gave a message ending in half a character
 * (invalid UTF-8, which serve puts in JSON) that named another key without a mark. */
static void t_long_key_in_a_message(void)
{
    char key[251];
    ent_entity *e = NULL;
    open_store();
    memset(key, 'a', 250);
    memcpy(key + 199, "\xc3\xa9", 2);
    key[250] = '\0';
    ent_key k = ent_key_str(key);
    CU_ASSERT_EQUAL(ent_get(&e, S, NULL, doc(), &k), ENT_NOTFOUND);
    CU_ASSERT(utf8_valid((const unsigned char *)ent_errmsg()));
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "a...\" not found"));
    CU_ASSERT_PTR_NULL(strstr(ent_errmsg(), "\xc3\xa9")); /* cut before the character, not in it */
    close_store();
}

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_gets_are_equal_and_independent),
        ENT_TEST(t_entity_outlives_its_version),
        ENT_TEST(t_gets_in_a_write_txn),
        ENT_TEST(t_many_shapes),
        ENT_TEST(t_threads_read_while_writing),
        ENT_TEST(t_long_key_in_a_message),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_get_%s", backend);
    return ent_test_run(suite, cases);
}
