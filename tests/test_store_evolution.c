/* Stores on disk across opens: the stored schema, compatible evolutions (new indexes built over
 * existing entities), refused ones (store untouched), a schema changed by another process, the
 * stored durability, read-only opens and missing stores. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keys.h"
#include "store_int.h"
#include "test_util.h"

#define V1 "{\"schema\":\"evo\",\"version\":1,\"types\":{\"person\":{\"key\":\"auto\",\"fields\":{" \
           "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true}," \
           "\"name\":{\"id\":2,\"type\":\"string\"},\"age\":{\"id\":3,\"type\":\"int\"}}}}}"
/* v2: name and age become indexed, a new optional field and a new type */
#define V2 "{\"schema\":\"evo\",\"version\":2,\"types\":{\"person\":{\"key\":\"auto\",\"fields\":{" \
           "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true}," \
           "\"name\":{\"id\":2,\"type\":\"string\",\"indexed\":true},\"age\":{\"id\":3,\"type\":\"int\",\"indexed\":true}," \
           "\"city\":{\"id\":4,\"type\":\"string\",\"default\":\"paris\"}}}," \
           "\"pet\":{\"key\":\"string\",\"fields\":{\"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"person\"}}}}}"
/* v3 bad: a field's type changed */
#define V3_BAD "{\"schema\":\"evo\",\"version\":3,\"types\":{\"person\":{\"key\":\"auto\",\"fields\":{" \
           "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true}," \
           "\"name\":{\"id\":2,\"type\":\"int\"},\"age\":{\"id\":3,\"type\":\"int\"}}}," \
           "\"pet\":{\"key\":\"string\",\"fields\":{\"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"person\"}}}}}"
/* v3 dup: a unique index over values that repeat */
#define V3_DUP "{\"schema\":\"evo\",\"version\":3,\"types\":{\"person\":{\"key\":\"auto\",\"fields\":{" \
           "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true}," \
           "\"name\":{\"id\":2,\"type\":\"string\",\"indexed\":true},\"age\":{\"id\":3,\"type\":\"int\",\"unique\":true}," \
           "\"city\":{\"id\":4,\"type\":\"string\",\"default\":\"paris\"}}}," \
           "\"pet\":{\"key\":\"string\",\"fields\":{\"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"person\"}}}}}"
/* v3 reuse: field 4 removed, then its id reused with another name (v4) */
#define V3_DROP "{\"schema\":\"evo\",\"version\":3,\"types\":{\"person\":{\"key\":\"auto\",\"fields\":{" \
           "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true}," \
           "\"name\":{\"id\":2,\"type\":\"string\",\"indexed\":true},\"age\":{\"id\":3,\"type\":\"int\",\"indexed\":true}}}," \
           "\"pet\":{\"key\":\"string\",\"fields\":{\"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"person\"}}}}}"
#define V4_REUSE "{\"schema\":\"evo\",\"version\":4,\"types\":{\"person\":{\"key\":\"auto\",\"fields\":{" \
           "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true}," \
           "\"name\":{\"id\":2,\"type\":\"string\",\"indexed\":true},\"age\":{\"id\":3,\"type\":\"int\",\"indexed\":true}," \
           "\"zip\":{\"id\":4,\"type\":\"string\"}}}," \
           "\"pet\":{\"key\":\"string\",\"fields\":{\"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"person\"}}}}}"

/* v4 back: field 4 added back as it was before v3 removed it; entities updated under v3 lost its
 * values while the others and the log kept them, so it is refused like any other reuse */
#define V4_BACK "{\"schema\":\"evo\",\"version\":4,\"types\":{\"person\":{\"key\":\"auto\",\"fields\":{" \
           "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true}," \
           "\"name\":{\"id\":2,\"type\":\"string\",\"indexed\":true},\"age\":{\"id\":3,\"type\":\"int\",\"indexed\":true}," \
           "\"city\":{\"id\":4,\"type\":\"string\",\"default\":\"paris\"}}}," \
           "\"pet\":{\"key\":\"string\",\"fields\":{\"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"person\"}}}}}"

static ent_schema *load(const char *json)
{
    ent_schema *s = NULL;
    if (ent_schema_load_json(&s, json, strlen(json), "evo") != ENT_OK) fprintf(stderr, "\n  %s\n", ent_errmsg());
    return s;
}

static int open_with(ent_store **out, const char *dir, const char *json, int read_only)
{
    ent_schema *s = json ? load(json) : NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc;
    o.read_only = read_only;
    rc = ent_store_open(out, dir, s, &o);
    ent_schema_free(s); /* the store keeps its own copy */
    return rc;
}

static void fill(ent_store *s)
{
    const char *names[] = {"ann", "bob", "ann", "cy"};
    for (int i = 0; i < 4; i++) {
        ent_entity *e = NULL;
        char em[32];
        snprintf(em, sizeof em, "p%d@x", i);
        ENT_OK_(ent_entity_new(&e, ent_store_type(s, "person")));
        ENT_OK_(ent_entity_set_string(e, "email", em));
        ENT_OK_(ent_entity_set_string(e, "name", names[i]));
        ENT_OK_(ent_entity_set_int(e, "age", 30 + i % 2));
        ENT_OK_(ent_create(s, NULL, e));
        ent_entity_free(e);
    }
}

static int count_find_of(ent_store *s, const char *type, const char *field, ent_value v)
{
    ent_iter *it = NULL;
    ent_entity *e;
    int n = 0;
    if (ent_find(&it, s, NULL, ent_type_field(ent_store_type(s, type), field), &v) != ENT_OK) return -1;
    while (ent_iter_next(&e, it) == ENT_OK) {
        n++;
        ent_entity_free(e);
    }
    ent_iter_free(it);
    return n;
}

static int count_find(ent_store *s, const char *field, ent_value v) { return count_find_of(s, "person", field, v); }

static void t_evolution(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    uint64_t n = 0;
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    /* a missing store cannot be opened without a schema, and is not created by trying */
    {
        char missing[ENT_TEST_PATH_MAX];
        ENT_TEST_PATH(missing, "%s/none", dir);
        ENT_CHECK_RC(open_with(&s, missing, NULL, 0), ENT_NOTFOUND);
        ENT_ASSERT_MSG("no store at");
        CU_ASSERT_NOT_EQUAL(access(missing, F_OK), 0);
        ENT_CHECK_RC(open_with(&s, missing, NULL, 1), ENT_NOTFOUND);
    }
    ENT_OK_(open_with(&s, dir, V1, 0));
    fill(s);
    ent_store_close(s);

    /* reopen with the stored schema only */
    ENT_OK_(open_with(&s, dir, NULL, 0));
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(s)), 1);
    ENT_OK_(ent_count(&n, s, NULL, ent_store_type(s, "person")));
    CU_ASSERT_EQUAL(n, 4);
    ENT_CHECK_RC(count_find(s, "name", ent_value_string("ann")) < 0 ? ENT_INVALID : ENT_OK, ENT_INVALID); /* not indexed in v1 */
    ent_store_close(s);

    /* compatible v2: the new indexes hold the existing entities at once */
    ENT_OK_(open_with(&s, dir, V2, 0));
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(s)), 2);
    CU_ASSERT_EQUAL(count_find(s, "name", ent_value_string("ann")), 2);
    CU_ASSERT_EQUAL(count_find(s, "age", ent_value_int(31)), 2);
    {
        /* events written under v1 decode by name through v2 */
        ent_event *ev = NULL;
        const char *em = NULL;
        size_t len = 0;
        ENT_OK_(ent_log_get(&ev, s, NULL, 1));
        CU_ASSERT_EQUAL(ev->op, ENT_OP_CREATE);
        ENT_OK_(ent_entity_get_string(&em, &len, ev->data, "email"));
        CU_ASSERT_STRING_EQUAL(em, "p0@x");
        CU_ASSERT_FALSE(ent_entity_has(ev->data, "city"));
        ent_event_free(ev);
    }
    ent_store_close(s);

    /* incompatible v3: refused with the reason, store untouched */
    ENT_CHECK_RC(open_with(&s, dir, V3_BAD, 0), ENT_SCHEMA);
    ENT_ASSERT_MSG("person.name");
    ENT_ASSERT_MSG("type changed");
    /* a unique index over duplicates: refused, untouched */
    ENT_CHECK_RC(open_with(&s, dir, V3_DUP, 0), ENT_CONFLICT);
    ENT_ASSERT_MSG("person.age");
    ENT_ASSERT_MSG("value 30 of person 3 is taken by person 1"); /* both holders and the value */
    /* an older schema (an old program after a newer one evolved the store): refused, saying
     * what to open it with (it said "an evolution needs a higher version") */
    ENT_CHECK_RC(open_with(&s, dir, V1, 0), ENT_SCHEMA);
    ENT_ASSERT_MSG("version 1 is older than the store's version 2");
    ENT_ASSERT_MSG("with no schema (NULL) to use the stored one");
    ENT_OK_(open_with(&s, dir, NULL, 0));
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(s)), 2);
    CU_ASSERT_EQUAL(count_find(s, "name", ent_value_string("ann")), 2);
    ent_store_close(s);

    /* an id stays retired after its field is removed */
    ENT_OK_(open_with(&s, dir, V3_DROP, 0));
    ent_store_close(s);
    ENT_CHECK_RC(open_with(&s, dir, V4_REUSE, 0), ENT_SCHEMA);
    ENT_ASSERT_MSG("id 4 was field \"city\"");
    ENT_CHECK_RC(open_with(&s, dir, V4_BACK, 0), ENT_SCHEMA);
    ENT_ASSERT_MSG("person.city");
    ENT_ASSERT_MSG("was removed since");
    ENT_OK_(open_with(&s, dir, NULL, 0));
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(s)), 3);
    ent_store_close(s);

    /* read-only: reads work, writes and evolutions are refused */
    ENT_OK_(open_with(&s, dir, NULL, 1));
    ENT_OK_(ent_count(&n, s, NULL, ent_store_type(s, "person")));
    CU_ASSERT_EQUAL(n, 4);
    {
        ent_txn *t = NULL;
        ENT_CHECK_RC(ent_txn_begin(&t, s, ENT_TXN_WRITE), ENT_READONLY);
    }
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

#define D1 "{\"schema\":\"dft\",\"version\":1,\"types\":{\"t\":{\"key\":\"string\",\"fields\":{" \
           "\"a\":{\"id\":1,\"type\":\"string\",\"required\":true}," \
           "\"m\":{\"id\":2,\"type\":\"map\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\"}}}}}}}"
/* d2: a required field with a default (indexed), a required map sub-field with a default, an
 * optional indexed field with a default */
#define D2_FIELDS(tagdef, rdef) \
           "\"a\":{\"id\":1,\"type\":\"string\",\"required\":true}," \
           "\"m\":{\"id\":2,\"type\":\"map\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\"}," \
           "  \"y\":{\"id\":2,\"type\":\"int\",\"required\":true,\"default\":9}}}," \
           "\"r\":{\"id\":3,\"type\":\"int\",\"required\":true" rdef ",\"indexed\":true}," \
           "\"tag\":{\"id\":4,\"type\":\"string\",\"indexed\":true,\"default\":\"" tagdef "\"}"
#define D2 "{\"schema\":\"dft\",\"version\":2,\"types\":{\"t\":{\"key\":\"string\",\"fields\":{" \
           D2_FIELDS("old", ",\"default\":5") "}}}}"
/* d3: the indexed field's default changes */
#define D3 "{\"schema\":\"dft\",\"version\":3,\"types\":{\"t\":{\"key\":\"string\",\"fields\":{" \
           D2_FIELDS("new", ",\"default\":5") "}}}}"
/* d4 bad: the required field loses its default */
#define D4_BAD "{\"schema\":\"dft\",\"version\":4,\"types\":{\"t\":{\"key\":\"string\",\"fields\":{" \
           D2_FIELDS("new", "") "}}}}"

static uint64_t problems_of(ent_store *s)
{
    uint64_t n = 99;
    if (ent_store_verify(&n, s, NULL, NULL) != ENT_OK) {
        /* a verify that cannot finish is no clean store, whatever it counted before it stopped */
        fprintf(stderr, "\n  verify: %s\n", ent_errmsg());
        return UINT64_MAX;
    }
    return n;
}

/* An evolution that adds fields with defaults: entities stored before read with them, can be
 * updated (a required field with a default no longer fails validation), are found by the
 * default through the indexes, and the log still replays to the same state. */
static void t_evolution_defaults(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_entity *e = NULL;
    ent_key k1 = ent_key_str("k1"), k2 = ent_key_str("k2");
    int64_t i = 0;
    const char *str = NULL;
    size_t len = 0;
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    ENT_OK_(open_with(&s, dir, D1, 0));
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "t")));
    ENT_OK_(ent_entity_set_key(e, &k1));
    ENT_OK_(ent_entity_set_string(e, "a", "one"));
    ENT_OK_(ent_entity_set_int(e, "m.x", 1));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "t")));
    ENT_OK_(ent_entity_set_key(e, &k2));
    ENT_OK_(ent_entity_set_string(e, "a", "two"));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
    ent_store_close(s);

    ENT_OK_(open_with(&s, dir, D2, 0));
    ENT_OK_(ent_get(&e, s, NULL, ent_store_type(s, "t"), &k1));
    ENT_OK_(ent_entity_get_int(&i, e, "r"));
    CU_ASSERT_EQUAL(i, 5);
    ENT_OK_(ent_entity_get_int(&i, e, "m.y"));
    CU_ASSERT_EQUAL(i, 9);
    ENT_OK_(ent_entity_get_string(&str, &len, e, "tag"));
    CU_ASSERT_STRING_EQUAL(str, "old");
    CU_ASSERT_EQUAL(ent_entity_version(e), 1);
    /* an update of an entity stored before the evolution */
    ENT_OK_(ent_entity_set_string(e, "a", "one b"));
    ENT_OK_(ent_update(s, NULL, e, 1));
    CU_ASSERT_EQUAL(ent_entity_version(e), 2);
    ent_entity_free(e);
    CU_ASSERT_EQUAL(count_find_of(s, "t", "r", ent_value_int(5)), 2);
    CU_ASSERT_EQUAL(count_find_of(s, "t", "tag", ent_value_string("old")), 2);
    CU_ASSERT_EQUAL(problems_of(s), 0);
    ent_store_close(s);

    /* the default of an indexed field changes: k1 was stored with "old", k2 reads "new" */
    ENT_OK_(open_with(&s, dir, D3, 0));
    CU_ASSERT_EQUAL(count_find_of(s, "t", "tag", ent_value_string("old")), 1);
    CU_ASSERT_EQUAL(count_find_of(s, "t", "tag", ent_value_string("new")), 1);
    CU_ASSERT_EQUAL(problems_of(s), 0);
    /* k2 lacks tag and reads "new"; a replace that gives "new" stores it (a new version): a later
     * change of the default must not change what the caller wrote */
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "t")));
    ENT_OK_(ent_entity_set_key(e, &k2));
    ENT_OK_(ent_entity_set_string(e, "a", "two"));
    ENT_OK_(ent_entity_set_string(e, "tag", "new"));
    ENT_OK_(ent_replace(s, NULL, e, 1));
    CU_ASSERT_EQUAL(ent_entity_version(e), 2);
    ent_entity_free(e);
    CU_ASSERT_EQUAL(problems_of(s), 0);
    ent_store_close(s);

    ENT_CHECK_RC(open_with(&s, dir, D4_BAD, 0), ENT_SCHEMA);
    ENT_ASSERT_MSG("t.r");
    ENT_ASSERT_MSG("default removed");
    ent_test_rm_rf(dir);
}

/* A handle open before another process evolves the schema notices at its next transaction. */
static void t_schema_changed_elsewhere(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    const ent_type *old_person;
    pid_t pid;
    int st = 0;
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    ENT_OK_(open_with(&s, dir, V1, 0));
    fill(s);
    old_person = ent_store_type(s, "person");
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        ent_store *c = NULL;
        ent_entity *p = NULL;
        ent_key k = ent_key_str("rex");
        int rc = open_with(&c, dir, V2, 0);
        if (!rc) rc = ent_entity_new(&p, ent_store_type(c, "pet"));
        if (!rc) rc = ent_entity_set_key(p, &k);
        if (!rc) rc = ent_entity_set_uint(p, "owner", 1);
        if (!rc) rc = ent_create(c, NULL, p);
        ent_entity_free(p);
        ent_store_close(c);
        _exit(rc ? 1 : 0);
    }
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    {
        ent_entity *e = NULL;
        ent_key k = ent_key_id(1);
        /* the old type handle is refused with a clear reason; the new schema is in force */
        ENT_CHECK_RC(ent_get(&e, s, NULL, old_person, &k), ENT_SCHEMA);
        ENT_ASSERT_MSG("version 1");
        CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(s)), 2);
        ENT_OK_(ent_get(&e, s, NULL, ent_store_type(s, "person"), &k));
        ent_entity_free(e);
        CU_ASSERT_PTR_NOT_NULL(ent_store_type(s, "pet"));
        CU_ASSERT_EQUAL(count_find(s, "name", ent_value_string("ann")), 2);
        /* the old handle stays readable memory: its name is still there */
        CU_ASSERT_STRING_EQUAL(ent_type_name(old_person), "person");
    }
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

/* ent_txn_type(): a read transaction begun before another process's evolution, on a handle that
 * another transaction has since seen it through, reads with the type of its own snapshot; the
 * store's current type is refused there (what `entity serve` hit: a request's snapshot and a type
 * looked up after another request noticed the evolution gave 409). */
static void t_txn_type_of_its_snapshot(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_txn *old = NULL, *now = NULL;
    ent_entity *e = NULL;
    ent_key k = ent_key_id(1);
    pid_t pid;
    int st = 0;
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    ENT_OK_(open_with(&s, dir, V1, 0));
    fill(s);
    ENT_OK_(ent_txn_begin(&old, s, ENT_TXN_READ));
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        ent_store *c = NULL;
        int rc = open_with(&c, dir, V2, 0);
        ent_store_close(c);
        _exit(rc ? 1 : 0);
    }
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ENT_OK_(ent_txn_begin(&now, s, ENT_TXN_READ)); /* notices the evolution */
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(s)), 2);
    CU_ASSERT_PTR_NULL(ent_txn_type(old, "pet"));
    CU_ASSERT_PTR_NOT_NULL(ent_txn_type(now, "pet"));
    CU_ASSERT_PTR_NULL(ent_txn_type(NULL, "person"));
    ENT_CHECK_RC(ent_get(&e, s, old, ent_store_type(s, "person"), &k), ENT_SCHEMA);
    ENT_OK_(ent_get(&e, s, old, ent_txn_type(old, "person"), &k));
    ent_entity_free(e);
    e = NULL;
    ENT_OK_(ent_get(&e, s, now, ent_txn_type(now, "person"), &k));
    ent_entity_free(e);
    ent_txn_abort(old);
    ent_txn_abort(now);
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

/* An index built at open over a map that is nearly full grows the map in the middle of the build.
 * The build puts each record's key as the cursor gave it, a pointer into the map; the growth
 * unmaps the old map and the put was retried with it: a SIGSEGV (or SIGBUS) inside LMDB. */
static void t_index_build_grows_the_map(void)
{
    char dir[ENT_TEST_PATH_MAX], name[240];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store_info info;
    int n = 0;
    uint64_t count = 0, problems = 1;
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    o.durability = ENT_NONE;
    o.map_size = 64 << 10;
    sc = load(V1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    ent_schema_free(sc);
    /* Fill until the map is nearly full (each growth doubles it): the index on name, ~220 bytes
     * an entity, cannot fit in what is left. */
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    do {
        ent_txn *t = NULL;
        ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
        for (int i = 0; i < 10; i++, n++) {
            ent_entity *e = NULL;
            char em[32];
            snprintf(em, sizeof em, "p%d@x", n);
            snprintf(name, sizeof name, "%06d", n);
            name[6] = 'n';
            ENT_OK_(ent_entity_new(&e, ent_store_type(s, "person")));
            ENT_OK_(ent_entity_set_string(e, "email", em));
            ENT_OK_(ent_entity_set_string(e, "name", name));
            ENT_OK_(ent_create(s, t, e));
            ent_entity_free(e);
        }
        ENT_OK_(ent_txn_commit(t));
        ENT_OK_(ent_store_get_info(&info, s));
    } while (n < 500 || info.used_bytes < info.map_size / 10 * 9);
    ent_store_close(s);
    sc = load(V2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    ENT_OK_(ent_store_open(&s, dir, sc, &o)); /* builds the name and age indexes */
    ent_schema_free(sc);
    ENT_OK_(ent_store_get_info(&info, s));
    CU_ASSERT(info.used_bytes > 0);
    ENT_OK_(ent_count(&count, s, NULL, ent_store_type(s, "person")));
    CU_ASSERT_EQUAL(count, (uint64_t)n);
    snprintf(name, sizeof name, "%06d", n - 1);
    name[6] = 'n';
    CU_ASSERT_EQUAL(count_find(s, "name", ent_value_string(name)), 1);
    ENT_OK_(ent_store_verify(&problems, s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

static void t_durability_is_stored(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_schema *sc = load(V1);
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    o.durability = ENT_LAZY;
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    CU_ASSERT_EQUAL(ent_store_durability(s), ENT_LAZY);
    ent_store_close(s);
    ENT_OK_(open_with(&s, dir, NULL, 0));
    CU_ASSERT_EQUAL(ent_store_durability(s), ENT_LAZY);
    CU_ASSERT_STRING_EQUAL(ent_store_backend(s), "lmdb");
    ent_store_close(s);
    o.durability = 9;
    ENT_CHECK_RC(ent_store_open(&s, dir, sc, &o), ENT_INVALID);
    o.durability = ENT_NONE;
    o.backend = "paper";
    ENT_CHECK_RC(ent_store_open(&s, dir, sc, &o), ENT_INVALID);
    ENT_ASSERT_MSG("paper");
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

/* u2: age becomes unique once its values are distinct; history had them repeat (both 30) */
#define U2 "{\"schema\":\"evo\",\"version\":2,\"types\":{\"person\":{\"key\":\"auto\",\"fields\":{" \
           "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true}," \
           "\"name\":{\"id\":2,\"type\":\"string\"},\"age\":{\"id\":3,\"type\":\"int\",\"unique\":true}}}}}"

/* A unique index added once the values are distinct is a compatible evolution, and the log holds
 * the earlier, legal repeats: verify's replay of that log must not call the store damaged. */
static void t_unique_added_verifies(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_entity *e = NULL;
    ent_key k = ent_key_id(1);
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    ENT_OK_(open_with(&s, dir, V1, 0));
    for (int i = 0; i < 2; i++) {
        char em[32];
        snprintf(em, sizeof em, "u%d@x", i);
        ENT_OK_(ent_entity_new(&e, ent_store_type(s, "person")));
        ENT_OK_(ent_entity_set_string(e, "email", em));
        ENT_OK_(ent_entity_set_int(e, "age", 30));
        ENT_OK_(ent_create(s, NULL, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_get(&e, s, NULL, ent_store_type(s, "person"), &k));
    ENT_OK_(ent_entity_set_int(e, "age", 31));
    ENT_OK_(ent_update(s, NULL, e, ENT_VERSION_ANY));
    ent_entity_free(e);
    ent_store_close(s);
    ENT_OK_(open_with(&s, dir, U2, 0));
    CU_ASSERT_EQUAL(problems_of(s), 0);
    /* Replay into an empty store with the new schema, on each backend: the repeats in the log
     * were legal when written (replay refused the first one, "value 30 is taken"); the unique
     * index is built at the end over the final values and then holds. */
    for (int b = 0; b < 2; b++) {
        char ddir[ENT_TEST_PATH_MAX];
        ent_store *d = NULL;
        ent_schema *u2 = load(U2);
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        ent_value v = ent_value_int(30);
        ent_entity *got = NULL, *n = NULL;
        ENT_TEST_MKDTEMP(ddir, "store-evolution");
        o.backend = b ? "memory" : "lmdb";
        ENT_OK_(ent_store_open(&d, ddir, u2, &o));
        ENT_OK_(ent_store_replay(d, s, 0));
        CU_ASSERT_EQUAL(problems_of(d), 0);
        ENT_OK_(ent_find_unique(&got, d, NULL, ent_type_field(ent_store_type(d, "person"), "age"), &v));
        CU_ASSERT_EQUAL(ent_entity_key(got).id, 2);
        ent_entity_free(got);
        ENT_OK_(ent_entity_new(&n, ent_store_type(d, "person")));
        ENT_OK_(ent_entity_set_string(n, "email", "new@x"));
        ENT_OK_(ent_entity_set_int(n, "age", 31)); /* person 1's */
        ENT_CHECK_RC(ent_create(d, NULL, n), ENT_CONFLICT);
        ent_entity_free(n);
        ent_store_close(d);
        ent_schema_free(u2);
        ent_test_rm_rf(ddir);
    }
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

/* A replay's destination has the source's schema or a later one. When the source's is later (it
 * evolved before the replay, or during it: `entity replay --into` takes the schema the source had
 * at its start), its events' new fields had nowhere to go: the replay dropped them and answered
 * ENT_OK, and the rebuilt store passed its check. Refused with ENT_SCHEMA instead. */
static const char *evolve_dir;
static int evolved;

static void evolve_source(const char *what, uint64_t done, void *payload)
{
    ent_store *s2 = NULL;
    ent_entity *e = NULL;
    (void)what;
    (void)done;
    (void)payload;
    if (evolved++) return;
    /* another handle (as another process would) evolves the source and writes a new field */
    ENT_OK_(open_with(&s2, evolve_dir, V2, 0));
    ENT_OK_(ent_entity_new(&e, ent_store_type(s2, "person")));
    ENT_OK_(ent_entity_set_string(e, "email", "late@x"));
    ENT_OK_(ent_entity_set_string(e, "city", "lyon"));
    ENT_OK_(ent_create(s2, NULL, e));
    ent_entity_free(e);
    ent_store_close(s2);
}

static void t_replay_source_newer(void)
{
    char dir[ENT_TEST_PATH_MAX];
    for (int during = 0; during < 2; during++) {
        char ddir[ENT_TEST_PATH_MAX];
        ent_store *s = NULL, *d = NULL;
        ent_txn *w = NULL;
        uint64_t last = 0;
        ENT_TEST_MKDTEMP(dir, "store-evolution");
        ENT_TEST_MKDTEMP(ddir, "store-evolution");
        ENT_OK_(open_with(&s, dir, V1, 0));
        ENT_OK_(ent_txn_begin(&w, s, ENT_TXN_WRITE));
        for (int i = 0; i < 5000; i++) { /* the replay's progress comes every 4 096 events */
            ent_entity *e = NULL;
            char em[32];
            snprintf(em, sizeof em, "p%d@x", i);
            ENT_OK_(ent_entity_new(&e, ent_store_type(s, "person")));
            ENT_OK_(ent_entity_set_string(e, "email", em));
            ENT_OK_(ent_create(s, w, e));
            ent_entity_free(e);
        }
        ENT_OK_(ent_txn_commit(w));
        ENT_OK_(open_with(&d, ddir, V1, 0));
        evolve_dir = dir;
        evolved = 0;
        if (!during) evolve_source(NULL, 0, NULL); /* before: the source at v2 already */
        ent_store_set_progress(s, evolve_source, NULL);
        ENT_CHECK_RC(ent_store_replay(d, s, 0), ENT_SCHEMA);
        ENT_ASSERT_MSG("version 2");
        ENT_OK_(ent_log_bounds(NULL, &last, d, NULL));
        /* the id counter raised to the source's at the end, after what was replayed, in an event
         * of its own (the source's creates after the evolution took ids above 5000) */
        if (during && last == 5001) {
            ent_event *ev = NULL;
            ENT_OK_(ent_log_get(&ev, d, NULL, last));
            CU_ASSERT(ev && ev->op == ENT_OP_LAST_ID);
            if (ev && ev->op == ENT_OP_LAST_ID) last--;
            ent_event_free(ev);
        }
        if (last != (during ? 5000u : 0u)) fprintf(stderr, "\n  during %d: %s; the destination holds %llu events\n", during, ent_errmsg(), (unsigned long long)last);
        CU_ASSERT_EQUAL(last, during ? 5000 : 0); /* what came before the evolution; before a write */
        ent_store_close(d);
        ent_store_close(s);
        ent_test_rm_rf(dir);
        ent_test_rm_rf(ddir);
    }
}

/* An index added once every value fits the backend's key limit is a compatible evolution, and the
 * log still holds a value written before, too long for an index key but legal then (no index):
 * verify's replay must not call the store damaged, and a replay must rebuild the store. */
static void t_index_added_over_long_history(void)
{
    char dir[ENT_TEST_PATH_MAX], longname[601];
    ent_store *s = NULL;
    ent_entity *e = NULL;
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    memset(longname, 'x', 600);
    longname[600] = '\0';
    ENT_OK_(open_with(&s, dir, V1, 0));
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "person")));
    ENT_OK_(ent_entity_set_string(e, "email", "a@x"));
    ENT_OK_(ent_entity_set_string(e, "name", longname));
    ENT_OK_(ent_create(s, NULL, e));
    ENT_OK_(ent_entity_set_string(e, "name", "ann"));
    ENT_OK_(ent_update(s, NULL, e, ENT_VERSION_ANY));
    ent_entity_free(e);
    ent_store_close(s);
    ENT_OK_(open_with(&s, dir, V2, 0)); /* name indexed: "ann" fits */
    CU_ASSERT_EQUAL(problems_of(s), 0);
    for (int b = 0; b < 2; b++) {
        char ddir[ENT_TEST_PATH_MAX];
        ent_store *d = NULL;
        ent_schema *v2 = load(V2);
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        ent_value v = ent_value_string("ann");
        ent_iter *it = NULL;
        ent_entity *got = NULL;
        ENT_TEST_MKDTEMP(ddir, "store-evolution");
        o.backend = b ? "memory" : "lmdb";
        ENT_OK_(ent_store_open(&d, ddir, v2, &o));
        ENT_OK_(ent_store_replay(d, s, 0));
        CU_ASSERT_EQUAL(problems_of(d), 0);
        ENT_OK_(ent_find(&it, d, NULL, ent_type_field(ent_store_type(d, "person"), "name"), &v));
        ENT_OK_(ent_iter_next(&got, it));
        CU_ASSERT_EQUAL(ent_entity_key(got).id, 1);
        ent_entity_free(got);
        ENT_CHECK_RC(ent_iter_next(&got, it), ENT_NOTFOUND);
        ent_iter_free(it);
        /* The state at seq 1 holds the long name, which the new index cannot take: said so. */
        ent_store_close(d);
        ent_test_rm_rf(ddir);
        ENT_TEST_MKDTEMP(ddir, "store-evolution");
        ENT_OK_(ent_store_open(&d, ddir, v2, &o));
        ENT_CHECK_RC(ent_store_replay(d, s, 1), ENT_FULL);
        ENT_ASSERT_MSG("person.name");
        ent_store_close(d);
        ent_schema_free(v2);
        ent_test_rm_rf(ddir);
    }
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

/* Version ver of a schema whose every version adds a field x<ver>: b (min 5, then 0 from version
 * 20) lives until version 40, the map m's sub-field q until version 50; `mextra` goes at the end
 * of m's fields, `extra` at the end of t's. */
static void hist_schema(char *buf, size_t cap, unsigned ver, const char *mextra, const char *extra)
{
    size_t n = (size_t)snprintf(buf, cap, "{\"schema\":\"hist\",\"version\":%u,\"types\":{\"t\":{\"key\":\"auto\","
                                "\"fields\":{\"a\":{\"id\":1,\"type\":\"string\"},\"m\":{\"id\":3,\"type\":\"map\","
                                "\"fields\":{\"p\":{\"id\":1,\"type\":\"int\"}%s%s}}", ver,
                                ver <= 50 ? ",\"q\":{\"id\":2,\"type\":\"string\"}" : "", mextra);
    if (ver <= 40) n += (size_t)snprintf(buf + n, cap - n, ",\"b\":{\"id\":2,\"type\":\"int\",\"min\":%d}", ver < 20 ? 5 : 0);
    for (unsigned k = 2; k <= ver; k++) n += (size_t)snprintf(buf + n, cap - n, ",\"x%u\":{\"id\":%u,\"type\":\"int\"}", k, 100 + k);
    snprintf(buf + n, cap - n, "%s}}}}", extra);
}

static int open_hist(ent_store **out, const char *dir, unsigned ver, const char *mextra, const char *extra)
{
    static char buf[16384];
    hist_schema(buf, sizeof buf, ver, mextra, extra);
    return open_with(out, dir, buf, 0);
}

/* The refusals that need the history: ids of removed fields (top level and in a map) reused, as
 * they were or under another name, and a removed name under another id; each names the first
 * stored version that fails, as a comparison with every stored version does. Then a compatible
 * evolution still goes through. */
static void hist_refusals(const char *dir, unsigned next)
{
    ent_store *s = NULL;
    ENT_CHECK_RC(open_hist(&s, dir, next, "", ",\"b\":{\"id\":2,\"type\":\"int\",\"min\":0}"), ENT_SCHEMA);
    ENT_ASSERT_MSG("against stored version 1: t.b: incompatible change: id 2 was field \"b\" in version 1 and was "
                   "removed since");
    ENT_CHECK_RC(open_hist(&s, dir, next, "", ",\"b\":{\"id\":2,\"type\":\"int\",\"min\":7}"), ENT_SCHEMA);
    ENT_ASSERT_MSG("against stored version 1: t.b: incompatible change: limit tightened: min raised or added");
    ENT_CHECK_RC(open_hist(&s, dir, next, "", ",\"bee\":{\"id\":2,\"type\":\"int\"}"), ENT_SCHEMA);
    ENT_ASSERT_MSG("against stored version 1: t.bee: incompatible change: id 2 was field \"b\"; an id cannot be reused");
    ENT_CHECK_RC(open_hist(&s, dir, next, "", ",\"b\":{\"id\":99,\"type\":\"int\"}"), ENT_SCHEMA);
    ENT_ASSERT_MSG("against stored version 1: t.b: incompatible change: id changed from 2 to 99");
    ENT_CHECK_RC(open_hist(&s, dir, next, ",\"q\":{\"id\":2,\"type\":\"string\"}", ""), ENT_SCHEMA);
    ENT_ASSERT_MSG("against stored version 1: t.m.q: incompatible change: id 2 was field \"q\" in version 1 and was "
                   "removed since");
    ENT_CHECK_RC(open_hist(&s, dir, next, ",\"qq\":{\"id\":2,\"type\":\"string\"}", ""), ENT_SCHEMA);
    ENT_ASSERT_MSG("against stored version 1: t.m.qq: incompatible change: id 2 was field \"q\"; an id cannot be reused");
    ENT_OK_(open_with(&s, dir, NULL, 0));
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(s)), next - 1);
    ent_store_close(s);
    ENT_OK_(open_hist(&s, dir, next, "", ""));
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(s)), next);
    ent_store_close(s);
}

/* An evolution compared the new schema with every version the store had held, loading each:
 * the n-th evolution loaded n-1 versions (100 of them: 6.2 G instructions, 87 % in those loads,
 * callgrind). Now it compares with the versions that can fail (ent__history_loads counts the
 * loads): none while fields are only added, each version once at an evolution that removes a
 * field, and since then the first version holding each removed field alike. The refusals that
 * need the history stay, with the same messages, also once the list is made again (a library
 * without it evolved the store). */
static void t_long_history_work(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    unsigned long loads;
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    ENT_OK_(open_hist(&s, dir, 1, "", ""));
    ent_store_close(s);
    ent__history_loads = 0;
    for (unsigned v = 2; v <= 60; v++) {
        unsigned long before = ent__history_loads;
        ENT_OK_(open_hist(&s, dir, v, "", ""));
        ent_store_close(s);
        if (v == 41 || v == 51) {
            CU_ASSERT(ent__history_loads - before <= (v - 1) + 2); /* each stored one, and the listed */
        } else {
            CU_ASSERT(ent__history_loads - before <= 2); /* versions 1 and 20: b differs */
        }
    }
    loads = ent__history_loads;
    CU_ASSERT(loads < 3 * 60);
    if (loads >= 3 * 60) fprintf(stderr, "\n  59 evolutions loaded %lu stored versions\n", loads);
    hist_refusals(dir, 61);
    /* the list as a library without it leaves it: made again from every version, once */
    {
        ent_txn *t = NULL;
        ent__history_loads = 0;
        ENT_OK_(open_with(&s, dir, NULL, 0));
        ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
        ENT_OK_(ent__meta_put(t, "schema_check", "\0\0\0\0\0\0\0\0", 8));
        ENT_OK_(ent_txn_commit(t));
        ent_store_close(s);
        ENT_OK_(open_hist(&s, dir, 62, "", ""));
        ent_store_close(s);
        CU_ASSERT(ent__history_loads <= 60 + 2);
        ent__history_loads = 0;
        hist_refusals(dir, 63);
        CU_ASSERT(ent__history_loads <= 7 * 2);
    }
    ent_test_rm_rf(dir);
    /* versions that skip numbers: a store made at version 3, evolved to 7, 41 (b removed), 42 */
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    ENT_OK_(open_hist(&s, dir, 3, "", ""));
    ent_store_close(s);
    ENT_OK_(open_hist(&s, dir, 7, "", ""));
    ent_store_close(s);
    ENT_OK_(open_hist(&s, dir, 41, "", ""));
    ent_store_close(s);
    ENT_OK_(open_hist(&s, dir, 42, "", ""));
    ent_store_close(s);
    ENT_CHECK_RC(open_hist(&s, dir, 43, "", ",\"b\":{\"id\":2,\"type\":\"int\",\"min\":5}"), ENT_SCHEMA);
    ENT_ASSERT_MSG("against stored version 3: t.b: incompatible change: id 2 was field \"b\" in version 3 and was "
                   "removed since");
    ent_test_rm_rf(dir);
}

/* meta "schema_check" says which stored versions an evolution compares with. Damaged so that it
 * leaves off one that can fail (well-formed, for the current version), the next evolution would
 * skip it: a removed field's id reused, unrefused. Verify looked at "schema" and its copy only and
 * called such a store clean. A list for another version (left by a library without it) is made
 * again at the next evolution: no damage. */
static void put_check_list(ent_store *s, const uint64_t *v, size_t n)
{
    uint8_t buf[8 * 8];
    ent_txn *t = NULL;
    for (size_t i = 0; i < n; i++) ent__enc_u64(buf + 8 * i, v[i]);
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
    ENT_OK_(ent__meta_put(t, "schema_check", buf, 8 * n));
    ENT_OK_(ent_txn_commit(t));
}

static void last_problem(const char *line, void *payload) { snprintf(payload, 512, "%s", line); }

static void t_check_list_verified(void)
{
    static const struct {
        uint64_t v[4];
        size_t n;
        unsigned skipped; /* the version verify names, 0: clean */
    } cases[] = {
        {{55, 1, 20}, 3, 0},  /* as the evolutions left it */
        {{55, 1, 7, 20}, 4, 0}, /* one more listed: more work, no harm */
        {{55, 20}, 2, 1},     /* version 1 (b with min 5) left off */
        {{55, 1}, 2, 20},     /* version 20 (b with min 0) left off */
        {{55}, 1, 1},         /* every one left off */
        {{54}, 1, 0},         /* for another version: made again, not used */
        {{55, 20, 1}, 3, 0},  /* out of order: made again, not used */
    };
    char dir[ENT_TEST_PATH_MAX], want[128], line[512];
    ent_store *s = NULL;
    uint64_t problems = 0;
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    for (unsigned v = 1; v <= 55; v++) { /* b removed at 41, m.q at 51; each list an evolution leaves is sound */
        ENT_OK_(open_hist(&s, dir, v, "", ""));
        ENT_OK_(ent_store_verify(&problems, s, NULL, NULL));
        ent_store_close(s);
    }
    ENT_OK_(open_with(&s, dir, NULL, 0));
    {
        ent_txn *t = NULL;
        ent_slice sl;
        ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_READ));
        ENT_OK_(ent__meta_get(&sl, t, "schema_check"));
        CU_ASSERT_EQUAL(sl.len, 24); /* for 55: versions 1 and 20, the first with each b */
        if (sl.len == 24) {
            CU_ASSERT_EQUAL(ent__dec_u64(sl.data), 55);
            CU_ASSERT_EQUAL(ent__dec_u64((const uint8_t *)sl.data + 8), 1);
            CU_ASSERT_EQUAL(ent__dec_u64((const uint8_t *)sl.data + 16), 20);
        }
        ent_txn_abort(t);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_check_list(s, cases[i].v, cases[i].n);
        if (!cases[i].skipped) {
            ENT_OK_(ent_store_verify(&problems, s, NULL, NULL));
            CU_ASSERT_EQUAL(problems, 0);
            continue;
        }
        line[0] = '\0';
        ENT_CHECK_RC(ent_store_verify(&problems, s, last_problem, line), ENT_CORRUPT);
        CU_ASSERT_EQUAL(problems, 1);
        snprintf(want, sizeof want, "leaves off version %u, which a later schema can fail against", cases[i].skipped);
        CU_ASSERT_PTR_NOT_NULL(strstr(line, want));
    }
    ent_store_close(s);
    ent_test_rm_rf(dir);
    /* versions far apart: an evolution that removes a field (the list made again) and verify walk
     * the stored ones, not every number below the current (4 000 000 000 look-ups) */
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    ENT_OK_(open_with(&s, dir, "{\"schema\":\"far\",\"version\":1,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{"
                               "\"a\":{\"id\":1,\"type\":\"int\"},\"b\":{\"id\":2,\"type\":\"int\"}}}}}", 0));
    ent_store_close(s);
    ENT_OK_(open_with(&s, dir, "{\"schema\":\"far\",\"version\":4000000000,\"types\":{\"t\":{\"key\":\"auto\","
                               "\"fields\":{\"a\":{\"id\":1,\"type\":\"int\"}}}}}", 0));
    ent_store_close(s);
    ENT_OK_(open_with(&s, dir, "{\"schema\":\"far\",\"version\":4000000001,\"types\":{\"t\":{\"key\":\"auto\","
                               "\"fields\":{\"c\":{\"id\":3,\"type\":\"int\"}}}}}", 0));
    ent_store_close(s);
    ENT_CHECK_RC(open_with(&s, dir, "{\"schema\":\"far\",\"version\":4000000002,\"types\":{\"t\":{\"key\":\"auto\","
                                    "\"fields\":{\"c\":{\"id\":3,\"type\":\"int\"},\"b\":{\"id\":2,\"type\":\"int\"}}}}}", 0),
                 ENT_SCHEMA);
    ENT_ASSERT_MSG("against stored version 1: t.b: incompatible change: id 2 was field \"b\" in version 1");
    ENT_OK_(open_with(&s, dir, NULL, 0));
    ENT_OK_(ent_store_verify(&problems, s, NULL, NULL));
    {
        /* the history a relay ships: the stored versions (it asked for an entry per number) */
        ent_schema_mark *marks = NULL;
        size_t nm = 0;
        ENT_OK_(ent_store_schema_history(&marks, &nm, s));
        CU_ASSERT_EQUAL_FATAL(nm, 3);
        CU_ASSERT(marks[0].version == 1 && marks[1].version == 4000000000u && marks[2].version == 4000000001u);
        free(marks);
    }
    {
        static const uint64_t damaged[] = {4000000001u};
        put_check_list(s, damaged, 1);
    }
    line[0] = '\0';
    ENT_CHECK_RC(ent_store_verify(&problems, s, last_problem, line), ENT_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "leaves off version 1,"));
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

#define R1 "{\"schema\":\"rp\",\"version\":1,\"types\":{\"t\":{\"key\":\"string\",\"fields\":{" \
           "\"a\":{\"id\":1,\"type\":\"int\"},\"b\":{\"id\":2,\"type\":\"int\"}}}}}"
/* r2: a gets a default, the value a restore below removed */
#define R2 "{\"schema\":\"rp\",\"version\":2,\"types\":{\"t\":{\"key\":\"string\",\"fields\":{" \
           "\"a\":{\"id\":1,\"type\":\"int\",\"default\":7},\"b\":{\"id\":2,\"type\":\"int\"}}}}}"

/* A replay gives a log of the same events, transaction by transaction, also when an event changes
 * nothing under the newest schema: a restore at the entity's own version that removed a field an
 * evolution later gave that very value as its default. Dropping it shifted every later seq. */
static void t_replay_keeps_every_event(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_entity *e = NULL;
    ent_key k = ent_key_str("k");
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    ENT_OK_(open_with(&s, dir, R1, 0));
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "t")));
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_set_int(e, "a", 7));
    ENT_OK_(ent_entity_set_int(e, "b", 1));
    ENT_OK_(ent_create(s, NULL, e)); /* seq 1 */
    ent_entity_free(e);
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "t")));
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_set_int(e, "b", 1));
    ENT_OK_(ent_entity_set_version(e, 1));
    ENT_OK_(ent_restore(s, NULL, e)); /* seq 2: a removed, still version 1 */
    ent_entity_free(e);
    ENT_OK_(ent_get(&e, s, NULL, ent_store_type(s, "t"), &k));
    ENT_OK_(ent_entity_set_int(e, "b", 2));
    ENT_OK_(ent_update(s, NULL, e, ENT_VERSION_ANY)); /* seq 3: version 2 */
    ent_entity_free(e);
    ent_store_close(s);
    ENT_OK_(open_with(&s, dir, R2, 0));
    CU_ASSERT_EQUAL(problems_of(s), 0);
    for (int b = 0; b < 2; b++) {
        char ddir[ENT_TEST_PATH_MAX];
        ent_store *d = NULL;
        ent_schema *r2 = load(R2);
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        uint64_t first = 0, last = 0;
        ENT_TEST_MKDTEMP(ddir, "store-evolution");
        o.backend = b ? "memory" : "lmdb";
        ENT_OK_(ent_store_open(&d, ddir, r2, &o));
        ENT_OK_(ent_store_replay(d, s, 0));
        ENT_OK_(ent_log_bounds(&first, &last, d, NULL));
        CU_ASSERT_EQUAL(last, 3);
        for (uint64_t seq = 1; seq <= 3; seq++) {
            ent_event *x = NULL, *y = NULL;
            ENT_OK_(ent_log_get(&x, s, NULL, seq));
            ENT_OK_(ent_log_get(&y, d, NULL, seq));
            if (x && y) {
                CU_ASSERT_EQUAL(x->txn, y->txn);
                CU_ASSERT_EQUAL(x->op, y->op);
                CU_ASSERT_EQUAL(x->version, y->version);
            }
            ent_event_free(x);
            ent_event_free(y);
        }
        CU_ASSERT_EQUAL(problems_of(d), 0);
        ent_store_close(d);
        ent_schema_free(r2);
        ent_test_rm_rf(ddir);
    }
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

/* Write the store's format into its meta table by hand, as another library would have. */
static void put_format(ent_store *s, uint8_t f)
{
    ent_txn *t = NULL;
    uint8_t b[4] = {0, 0, 0, f};
    ent_slice k = {"format", 6}, v = {b, 4};
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
    ENT_OK_(ent__bk_put(t, s->t_meta, &k, &v, 0));
    ENT_OK_(ent_txn_commit(t));
}

/* A store written by a newer format is refused with ENT_FORMAT, not misread. */
static void t_newer_format(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    ENT_OK_(open_with(&s, dir, V1, 0));
    put_format(s, 9);
    ent_store_close(s);
    ENT_CHECK_RC(open_with(&s, dir, NULL, 0), ENT_FORMAT);
    ENT_ASSERT_MSG("newer");
    ENT_CHECK_RC(open_with(&s, dir, NULL, 1), ENT_FORMAT);
    ent_test_rm_rf(dir);
}

/* The store's format in its meta table, as a number (0: none). */
static unsigned format_of(ent_store *s)
{
    ent_txn *t = NULL;
    ent_slice k = {"format", 6}, v = {NULL, 0};
    unsigned f = 0;
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_READ));
    if (ent__bk_get(t, s->t_meta, &k, &v) == ENT_OK && v.len == 4) f = ((const uint8_t *)v.data)[3];
    ent_txn_abort(t);
    return f;
}

/* Format 4 (the LMDB write-ahead file, 2; its records' seeded checksums, 3; the log's id counter
 * raises, ENT_OP_LAST_ID, 4): a new store has it, and a writable open marks a store of format 1, 2
 * or 3 with it (a library of format 1 commits without logging, one of format 2 cannot read the
 * seeded records, one of format 3 takes a raise in the log for an event that does not decode, so
 * that its check called a sound store damaged: each must refuse the store); a read-only open
 * leaves the store as it is. */
static void t_format_marked_on_writable_open(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ENT_TEST_MKDTEMP(dir, "store-format");
    ENT_OK_(open_with(&s, dir, V1, 0));
    CU_ASSERT_EQUAL(format_of(s), 4);
    for (uint8_t old = 1; old <= 3; old++) {
        put_format(s, old);
        ent_store_close(s);
        ENT_OK_(open_with(&s, dir, NULL, 1));
        CU_ASSERT_EQUAL(format_of(s), old);
        ent_store_close(s);
        ENT_OK_(open_with(&s, dir, NULL, 0));
        CU_ASSERT_EQUAL(format_of(s), 4);
    }
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

/* A schema of `levels` nested maps "m" (the innermost holding int "x"), or with `uint_max` a uint
 * field "u" whose max is that JSON number. */
static char *rules_schema(int version, int levels, const char *uint_max)
{
    static char buf[4096];
    size_t o = 0;
    o += (size_t)snprintf(buf + o, sizeof buf - o, "{\"schema\":\"rules\",\"version\":%d,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{", version);
    if (uint_max) o += (size_t)snprintf(buf + o, sizeof buf - o, "\"u\":{\"id\":2,\"type\":\"uint\",\"max\":%s},", uint_max);
    for (int i = 0; i < levels; i++) o += (size_t)snprintf(buf + o, sizeof buf - o, "\"m\":{\"id\":1,\"type\":\"map\",\"fields\":{");
    o += (size_t)snprintf(buf + o, sizeof buf - o, "\"x\":{\"id\":1,\"type\":\"int\"}");
    for (int i = 0; i < levels; i++) o += (size_t)snprintf(buf + o, sizeof buf - o, "}}");
    snprintf(buf + o, sizeof buf - o, "}}}}");
    return buf;
}

/* A new store, or an evolution, is refused a schema whose maps nest deeper than an entity holds
 * (every value there was refused on write) or a uint max below 0 (every value refused): both
 * were accepted. A store that holds such a schema (made before the rule: simulated by marking the
 * schema as read from a store) still opens, and evolves once the new version drops the fault. */
static void t_schema_rules_for_new_stores(void)
{
    char dir[ENT_TEST_PATH_MAX], path[200] = "m";
    ent_store *st = NULL;
    ent_schema *sc = NULL;
    ent_entity *e = NULL;
    ent_store_opts mem = ENT_STORE_OPTS_INIT;
    mem.backend = "memory";
    /* 24 levels: the deepest field takes a value and the entity is stored */
    sc = load(rules_schema(1, 24, NULL));
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    ENT_OK_(ent_store_open(&st, NULL, sc, &mem));
    ENT_OK_(ent_entity_new(&e, ent_store_type(st, "t")));
    for (int i = 1; i < 24; i++) strcat(path, ".m");
    strcat(path, ".x");
    ENT_OK_(ent_entity_set_int(e, path, 7));
    ENT_OK_(ent_create(st, NULL, e));
    ent_entity_free(e);
    ent_store_close(st);
    ent_schema_free(sc);
    /* 25 levels, and a uint max of -1 or -0.5: refused, naming the field */
    sc = load(rules_schema(1, 25, NULL));
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    ENT_CHECK_RC(ent_store_open(&st, NULL, sc, &mem), ENT_SCHEMA);
    ENT_ASSERT_MSG("nested deeper than 24 levels");
    ENT_ASSERT_MSG("t.m.m.m");
    ent_schema_free(sc);
    sc = load(rules_schema(1, 1, "-1"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    ENT_CHECK_RC(ent_store_open(&st, NULL, sc, &mem), ENT_SCHEMA);
    ENT_ASSERT_MSG("t.u: a uint with a max below 0");
    ent_schema_free(sc);
    sc = load(rules_schema(1, 1, "-0.5"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    ENT_CHECK_RC(ent_store_open(&st, NULL, sc, &mem), ENT_SCHEMA);
    ent_schema_free(sc);
    /* max 0 is a real limit (the value 0 only) */
    sc = load(rules_schema(1, 1, "0"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    ENT_OK_(ent_store_open(&st, NULL, sc, &mem));
    ent_store_close(st);
    ent_schema_free(sc);

    /* stores made before the rules: they open, with and without their schema given, and a
     * uint max below 0 is dropped by an evolution (raising a max loosens it) */
    for (int k = 0; k < 2; k++) {
        ENT_TEST_MKDTEMP(dir, "store-evolution");
        sc = load(k ? rules_schema(1, 1, "-1") : rules_schema(1, 25, NULL));
        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        sc->from_store = 1;
        ENT_OK_(ent_store_open(&st, dir, sc, NULL));
        ent_store_close(st);
        ENT_OK_(ent_store_open(&st, dir, NULL, NULL));
        ent_store_close(st);
        sc->from_store = 0; /* the same schema, given as a host gives it: equal, no evolution */
        ENT_OK_(ent_store_open(&st, dir, sc, NULL));
        ent_store_close(st);
        ent_schema_free(sc);
        /* an evolution that keeps the fault is refused */
        ENT_CHECK_RC(open_with(&st, dir, k ? rules_schema(2, 1, "-1") : rules_schema(2, 25, NULL), 0), ENT_SCHEMA);
        ENT_ASSERT_MSG(k ? "max below 0" : "nested deeper");
        if (k) {
            ENT_OK_(open_with(&st, dir, rules_schema(2, 1, "5"), 0));
            ent_store_close(st);
        }
        ent_test_rm_rf(dir);
        memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
    }
}

/* A schema of one field "x" with the given spec (JSON members after the id). */
static char *field_schema(int version, const char *spec)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"schema\":\"lim\",\"version\":%d,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{"
             "\"n\":{\"id\":1,\"type\":\"int\"},\"x\":{\"id\":2,%s}}}}}",
             version, spec);
    return buf;
}

/* A new store in dir (made here) with field x of spec, as one made before the rules of new stores
 * (the schema taken as read from a store, as t_schema_rules_for_new_stores simulates it). */
static void made_before_the_rules(char dir[ENT_TEST_PATH_MAX], const char *spec)
{
    ent_store *st = NULL;
    ent_schema *sc = load(field_schema(1, spec));
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    sc->from_store = 1;
    CU_ASSERT_FATAL(ent_test_mkdtemp(dir, ENT_TEST_PATH_MAX, "store-evolution") == 0);
    ENT_OK_(ent_store_open(&st, dir, sc, NULL));
    ent_store_close(st);
    ent_schema_free(sc);
}

/* A store made (in memory) with field x of spec is refused: ENT_SCHEMA, its message holding msg
 * and rule. */
static void refused_by_open(const char *spec, const char *msg, const char *rule)
{
    ent_store *st = NULL;
    ent_store_opts mem = ENT_STORE_OPTS_INIT;
    ent_schema *sc = load(field_schema(1, spec));
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    mem.backend = "memory";
    int rc = ent_store_open(&st, NULL, sc, &mem);
    if (rc == ENT_OK) {
        fprintf(stderr, "\n  accepted: %s\n", spec);
        CU_FAIL("a schema refused by the rules of new stores made a store");
        ent_store_close(st);
    } else {
        CU_ASSERT_EQUAL(rc, ENT_SCHEMA);
        ENT_ASSERT_MSG(msg);
        ENT_ASSERT_MSG(rule);
    }
    ent_schema_free(sc);
}

/* Limits that admit no value of the field's kind are refused when a store is made or evolved, as a
 * uint max below 0 is: an int's min above 2^63-1 (1e30) or max below -2^63, limits with no integer
 * between them (1.2 and 1.7), a min above max that only the doubles' rounding hid (9007199254740993
 * and 9007199254740992.0), an enum whose every value is longer than max_length. Each made a store
 * whose every write of a value there failed ("less than min 1e30"). Limits at the edges that admit
 * one value stay allowed, and that value is written. */
static void t_limits_admit_a_value(void)
{
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"\"type\":\"int\",\"min\":1e30", "t.x: no int value is within min 1e30"},
        {"\"type\":\"int\",\"max\":-1e30", "t.x: no int value is within max -1e30"},
        {"\"type\":\"int\",\"min\":1.2,\"max\":1.7", "t.x: no int value is within min 1.2 and max 1.7"},
        {"\"type\":\"int\",\"min\":9007199254740993,\"max\":9007199254740992.0", "no int value is within min 9007199254740993"},
        {"\"type\":\"uint\",\"min\":1e30", "t.x: no uint value is within min 1e30"},
        {"\"type\":\"uint\",\"min\":1.5,\"max\":1.9", "no uint value"},
        {"\"type\":\"timestamp\",\"min\":1e19", "no timestamp value"},
        {"\"type\":\"array\",\"items\":{\"type\":\"int\",\"min\":3.5,\"max\":3.6}", "t.x[]: no int value"},
        {"\"type\":\"map\",\"fields\":{\"y\":{\"id\":1,\"type\":\"uint\",\"max\":0.5,\"min\":0.25}}", "t.x.y: no uint value"},
        {"\"type\":\"string\",\"enum\":[\"ab\",\"cd\"],\"max_length\":1", "t.x: no enum value fits max_length 1"},
    };
    static const struct {
        const char *spec, *value;
    } good[] = {
        {"\"type\":\"int\",\"min\":1.2,\"max\":2", "2"},
        {"\"type\":\"int\",\"min\":-9223372036854775808.0,\"max\":-9223372036854775808", "-9223372036854775808"},
        {"\"type\":\"int\",\"min\":9223372036854775807,\"max\":9223372036854775807", "9223372036854775807"},
        {"\"type\":\"uint\",\"min\":\"18446744073709551615\",\"max\":\"18446744073709551615\"", "\"18446744073709551615\""},
        {"\"type\":\"uint\",\"min\":0,\"max\":0", "0"},
        {"\"type\":\"float\",\"min\":9007199254740993,\"max\":9007199254740992.0", "9007199254740992"},
        {"\"type\":\"timestamp\",\"min\":\"2020-01-01T00:00:00Z\",\"max\":\"2020-01-01T00:00:00Z\"", "\"2020-01-01T00:00:00Z\""},
        {"\"type\":\"string\",\"enum\":[\"ab\",\"c\"],\"max_length\":1", "\"c\""},
    };
    char dir[ENT_TEST_PATH_MAX];
    ent_store *st = NULL;
    ent_store_opts mem = ENT_STORE_OPTS_INIT;
    mem.backend = "memory";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused_by_open(bad[i].spec, bad[i].msg, "every value would be refused");
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ent_schema *sc = load(field_schema(1, good[i].spec));
        ent_entity *e = NULL;
        char json[128];
        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        ENT_OK_(ent_store_open(&st, NULL, sc, &mem));
        snprintf(json, sizeof json, "{\"x\":%s}", good[i].value);
        ENT_OK_(ent_entity_from_json(&e, ent_store_type(st, "t"), json, strlen(json)));
        ENT_OK_(ent_create(st, NULL, e));
        ent_entity_free(e);
        ent_store_close(st);
        ent_schema_free(sc);
    }
    /* a store made before the rule (simulated as in t_schema_rules_for_new_stores) opens; an
     * evolution that keeps the fault is refused and leaves it as it was; one that drops it works */
    made_before_the_rules(dir, "\"type\":\"int\",\"max\":-1e30");
    ENT_OK_(open_with(&st, dir, NULL, 0));
    ent_store_close(st);
    ENT_CHECK_RC(open_with(&st, dir, field_schema(2, "\"type\":\"int\",\"max\":-1e30,\"indexed\":true"), 0), ENT_SCHEMA);
    ENT_ASSERT_MSG("t.x: no int value is within max -1e30");
    ENT_OK_(open_with(&st, dir, NULL, 0));
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(st)), 1);
    ent_store_close(st);
    ENT_OK_(open_with(&st, dir, field_schema(2, "\"type\":\"int\",\"max\":-1"), 0));
    ent_store_close(st);
    ent_test_rm_rf(dir);
}

/* A limit outside its integer field's range, on the side where it bounds nothing, is refused when a
 * store is made or evolved, naming the field: a uint's min -1 was taken (and dropped: it restricts
 * nothing), as were a uint's min -0.5 or max 1e30 and an int's or a timestamp's min -1e30 or max
 * 1e19, where the writer meant some bound. The kinds' own edges stay allowed. A store made before
 * the rule opens, and an evolution that keeps such a limit is refused. */
static void t_limits_outside_the_range(void)
{
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"\"type\":\"uint\",\"min\":-1", "t.x: min -1 is below every uint value (0 to 18446744073709551615)"},
        {"\"type\":\"uint\",\"min\":-1,\"max\":5", "t.x: min -1 is below every uint value"},
        {"\"type\":\"uint\",\"min\":-0.5", "t.x: min -0.5 is below every uint value"},
        {"\"type\":\"uint\",\"max\":1e30", "t.x: max 1e30 is above every uint value"},
        {"\"type\":\"uint\",\"max\":1.8446744073709552e19", "t.x: max 1.8446744073709552e19 is above every uint value"},
        {"\"type\":\"int\",\"min\":-1e30", "t.x: min -1e30 is below every int value (-9223372036854775808 to 9223372036854775807)"},
        {"\"type\":\"int\",\"max\":1e19", "t.x: max 1e19 is above every int value"},
        {"\"type\":\"int\",\"max\":9223372036854775808.0", "t.x: max 9.223372036854776e18 is above every int value"},
        {"\"type\":\"timestamp\",\"min\":-1e19", "t.x: min -1e19 is below every timestamp value"},
        {"\"type\":\"array\",\"items\":{\"type\":\"uint\",\"min\":-3}", "t.x[]: min -3 is below every uint value"},
        {"\"type\":\"map\",\"fields\":{\"y\":{\"id\":1,\"type\":\"int\",\"max\":1e20}}", "t.x.y: max 1e20 is above every int value"},
    };
    static const char *const good[] = {
        "\"type\":\"uint\",\"min\":0,\"max\":\"18446744073709551615\"",
        "\"type\":\"uint\",\"min\":-0.0",
        "\"type\":\"int\",\"min\":-9223372036854775808,\"max\":9223372036854775807",
        "\"type\":\"int\",\"min\":-9223372036854775808.0",
        "\"type\":\"timestamp\",\"min\":\"1970-01-01T00:00:00Z\"",
        "\"type\":\"float\",\"min\":-1e300,\"max\":1e300",
    };
    char dir[ENT_TEST_PATH_MAX];
    ent_store *st = NULL;
    ent_store_opts mem = ENT_STORE_OPTS_INIT;
    mem.backend = "memory";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused_by_open(bad[i].spec, bad[i].msg, "it restricts nothing; leave it out");
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ent_schema *sc = load(field_schema(1, good[i]));
        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        ENT_OK_(ent_store_open(&st, NULL, sc, &mem));
        ent_store_close(st);
        ent_schema_free(sc);
    }
    /* made before the rule (as t_schema_rules_for_new_stores simulates it): it opens; an
     * evolution that keeps the min is refused, one that drops it works */
    made_before_the_rules(dir, "\"type\":\"uint\",\"min\":-1");
    ENT_OK_(open_with(&st, dir, NULL, 0));
    ent_store_close(st);
    ENT_CHECK_RC(open_with(&st, dir, field_schema(2, "\"type\":\"uint\",\"min\":-1,\"indexed\":true"), 0), ENT_SCHEMA);
    ENT_ASSERT_MSG("t.x: min -1 is below every uint value");
    ENT_OK_(open_with(&st, dir, field_schema(2, "\"type\":\"uint\",\"indexed\":true"), 0));
    ent_store_close(st);
    ent_test_rm_rf(dir);
}

/* A default of an indexed or unique field goes into the index of every entity without the field:
 * one longer than the backend's key limit (510 bytes of value) made a new store, or an evolution
 * of an empty one (no index build met it), where every such create then failed on an index value
 * the caller never gave. Refused now when the store is made or evolved, on both backends; at the
 * limit it is taken, and written. */
static void t_default_fits_index_key(void)
{
    static const char *const kinds[] = {"\"indexed\":true", "\"unique\":true"};
    char spec[700], at[520], over[520], dir[ENT_TEST_PATH_MAX];
    ent_store *st = NULL;
    memset(at, 'd', 510);
    at[510] = '\0';
    memcpy(over, at, 511);
    strcat(over, "d");
    for (size_t k = 0; k < 2; k++) {
        for (int mem = 0; mem < 2; mem++) {
            ent_store_opts o = ENT_STORE_OPTS_INIT;
            ent_schema *sc;
            ent_entity *e = NULL;
            o.backend = mem ? "memory" : "lmdb";
            ENT_TEST_MKDTEMP(dir, "store-evolution");
            snprintf(spec, sizeof spec, "\"type\":\"string\",\"default\":\"%s\",%s", over, kinds[k]);
            sc = load(field_schema(1, spec));
            CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
            int rc = ent_store_open(&st, mem ? NULL : dir, sc, &o);
            if (rc == ENT_OK) {
                CU_FAIL("a default longer than an index key made a store");
                ent_store_close(st);
            } else {
                CU_ASSERT_EQUAL(rc, ENT_SCHEMA);
                ENT_ASSERT_MSG("t.x: the default is an index value of 511 bytes, over the backend's key limit of 510 bytes");
            }
            ent_schema_free(sc);
            snprintf(spec, sizeof spec, "\"type\":\"string\",\"default\":\"%s\",%s", at, kinds[k]);
            sc = load(field_schema(1, spec));
            CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
            ENT_OK_(ent_store_open(&st, mem ? NULL : dir, sc, &o));
            ENT_OK_(ent_entity_new(&e, ent_store_type(st, "t")));
            ENT_OK_(ent_create(st, NULL, e));
            ent_entity_free(e);
            ent_store_close(st);
            ent_schema_free(sc);
            ent_test_rm_rf(dir);
        }
        /* an empty store evolved: refused, left at its version */
        ENT_TEST_MKDTEMP(dir, "store-evolution");
        ENT_OK_(open_with(&st, dir, field_schema(1, "\"type\":\"string\""), 0));
        ent_store_close(st);
        snprintf(spec, sizeof spec, "\"type\":\"string\",\"default\":\"%s\",%s", over, kinds[k]);
        ENT_CHECK_RC(open_with(&st, dir, field_schema(2, spec), 0), ENT_SCHEMA);
        ENT_ASSERT_MSG("the default is an index value of 511 bytes");
        ENT_OK_(open_with(&st, dir, NULL, 0));
        CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(st)), 1);
        ent_store_close(st);
        ent_test_rm_rf(dir);
    }
}

/* An evolution that indexes a field whose stored value is over the backend's key limit is refused
 * with ENT_FULL (TOO_LARGE), the store left at its version. The message named the field only:
 * which of the entities holds the value, the one to fix, was for the host to hunt down. It names
 * the index and the entity now, as a unique index's duplicates are named. */
static void t_index_over_a_long_value_names_the_entity(void)
{
    static const char *const kinds[] = {"\"indexed\":true", "\"unique\":true"};
    char dir[ENT_TEST_PATH_MAX], spec[64], big[600];
    ent_store *st = NULL;
    ent_entity *e = NULL;
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (size_t k = 0; k < 2; k++) {
        ENT_TEST_MKDTEMP(dir, "store-evolution");
        ENT_OK_(open_with(&st, dir, field_schema(1, "\"type\":\"string\""), 0));
        for (int i = 0; i < 3; i++) {
            ENT_OK_(ent_entity_new(&e, ent_store_type(st, "t")));
            ENT_OK_(ent_entity_set_string(e, "x", i == 1 ? big : "short"));
            ENT_OK_(ent_create(st, NULL, e));
            ent_entity_free(e);
        }
        ent_store_close(st);
        snprintf(spec, sizeof spec, "\"type\":\"string\",%s", kinds[k]);
        ENT_CHECK_RC(open_with(&st, dir, field_schema(2, spec), 0), ENT_FULL);
        CU_ASSERT_EQUAL(ent_errdetail(), ENT_DETAIL_TOO_LARGE);
        ENT_ASSERT_MSG("building the index of t.x: t 2: t.x: index value of 599 bytes exceeds the backend's key limit");
        ENT_OK_(open_with(&st, dir, NULL, 0));
        CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(st)), 1);
        ent_store_close(st);
        ent_test_rm_rf(dir);
    }
}

/* A unique index added over a float: -0.0 and 0.0 are one value, and so are all NaNs, as for the
 * writes: repeats refused naming both entities (and how the holder holds -0.0/0.0: the message
 * said "value -0.0 of t 2 is taken by t 1" of an entity holding 0.0); once they are gone every
 * entity is indexed, found by either zero, and the index enforced. */
static void t_unique_float_added(void)
{
    static const double vals[] = {0.0, -0.0, NAN, -NAN, -INFINITY, 5e-324, -1.0, DBL_MAX};
    char dir[ENT_TEST_PATH_MAX];
    ent_store *st = NULL;
    ent_entity *e = NULL;
    uint64_t problems = 1;
    ENT_TEST_MKDTEMP(dir, "store-evolution");
    ENT_OK_(open_with(&st, dir, field_schema(1, "\"type\":\"float\""), 0));
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        ENT_OK_(ent_entity_new(&e, ent_store_type(st, "t")));
        ENT_OK_(ent_entity_set_float(e, "x", vals[i]));
        ENT_OK_(ent_create(st, NULL, e));
        ent_entity_free(e);
    }
    ent_store_close(st);
    ENT_CHECK_RC(open_with(&st, dir, field_schema(2, "\"type\":\"float\",\"unique\":true"), 0), ENT_CONFLICT);
    ENT_ASSERT_MSG("cannot build unique index t.x: value -0.0 of t 2 is taken by t 1 (as 0.0: -0.0 and 0.0 are one value)");
    ENT_OK_(open_with(&st, dir, NULL, 0));
    {
        ent_key k2 = ent_key_id(2), k3 = ent_key_id(3);
        ENT_OK_(ent_delete(st, NULL, ent_store_type(st, "t"), &k2, ENT_VERSION_ANY));
        ent_store_close(st);
        ENT_CHECK_RC(open_with(&st, dir, field_schema(2, "\"type\":\"float\",\"unique\":true"), 0), ENT_CONFLICT);
        ENT_ASSERT_MSG("cannot build unique index t.x: value NaN of t 4 is taken by t 3");
        ENT_OK_(open_with(&st, dir, NULL, 0));
        ENT_OK_(ent_delete(st, NULL, ent_store_type(st, "t"), &k3, ENT_VERSION_ANY));
        ent_store_close(st);
    }
    ENT_OK_(open_with(&st, dir, field_schema(2, "\"type\":\"float\",\"unique\":true"), 0));
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) { /* each found, under either spelling */
        ent_value v = ent_value_float(vals[i]);
        uint64_t want = i == 0 || i == 1 ? 1 : i == 2 || i == 3 ? 4 : i + 1;
        ENT_OK_(ent_find_unique(&e, st, NULL, ent_type_field(ent_store_type(st, "t"), "x"), &v));
        CU_ASSERT_EQUAL(ent_entity_key(e).id, want);
        ent_entity_free(e);
    }
    ENT_OK_(ent_entity_new(&e, ent_store_type(st, "t")));
    ENT_OK_(ent_entity_set_float(e, "x", -0.0));
    ENT_CHECK_RC(ent_create(st, NULL, e), ENT_CONFLICT);
    ENT_ASSERT_MSG("t.x: value -0.0 is taken by t 1 (as 0.0: -0.0 and 0.0 are one value)");
    ENT_OK_(ent_entity_set_float(e, "x", NAN));
    ENT_CHECK_RC(ent_create(st, NULL, e), ENT_CONFLICT);
    ENT_ASSERT_MSG("t.x: value NaN is taken by t 4");
    ent_entity_free(e);
    ENT_OK_(ent_store_verify(&problems, st, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    ent_store_close(st);
    ent_test_rm_rf(dir);
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(t_evolution),
        ENT_TEST(t_limits_admit_a_value),
        ENT_TEST(t_default_fits_index_key),
        ENT_TEST(t_index_over_a_long_value_names_the_entity),
        ENT_TEST(t_unique_float_added),
        ENT_TEST(t_evolution_defaults),
        ENT_TEST(t_schema_changed_elsewhere),
        ENT_TEST(t_txn_type_of_its_snapshot),
        ENT_TEST(t_durability_is_stored),
        ENT_TEST(t_index_build_grows_the_map),
        ENT_TEST(t_newer_format),
        ENT_TEST(t_format_marked_on_writable_open),
        ENT_TEST(t_unique_added_verifies),
        ENT_TEST(t_replay_source_newer),
        ENT_TEST(t_index_added_over_long_history),
        ENT_TEST(t_long_history_work),
        ENT_TEST(t_check_list_verified),
        ENT_TEST(t_replay_keeps_every_event),
        ENT_TEST(t_schema_rules_for_new_stores),
        ENT_TEST(t_limits_outside_the_range),
        {NULL, NULL},
    };
    return ent_test_run("store_evolution", cases);
}
