/* The backend seam itself: the table of backends, the version and capability checks at open, the
 * key limit the store reads from its backend (the index build at open included), and the fault
 * backend's test API (count calls, fail the N-th one, from several threads). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_fault.h"
#include "store_int.h"
#include "test_util.h"

#define SC1 "{\"schema\":\"seam\",\"version\":1,\"types\":{\"item\":{\"key\":\"string\",\"fields\":{" \
            "\"label\":{\"id\":1,\"type\":\"string\"},\"n\":{\"id\":2,\"type\":\"int\",\"indexed\":true}}}}}"
/* v2: label becomes indexed, so opening builds its index over the stored items */
#define SC2 "{\"schema\":\"seam\",\"version\":2,\"types\":{\"item\":{\"key\":\"string\",\"fields\":{" \
            "\"label\":{\"id\":1,\"type\":\"string\",\"indexed\":true},\"n\":{\"id\":2,\"type\":\"int\",\"indexed\":true}}}}}"

static ent_schema *load(const char *json)
{
    ent_schema *s = NULL;
    if (ent_schema_load_json(&s, json, strlen(json), "seam") != ENT_OK) fprintf(stderr, "\n  %s\n", ent_errmsg());
    return s;
}

static int open_on(ent_store **out, const char *backend, const char *dir, const char *json)
{
    ent_schema *sc = json ? load(json) : NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc;
    o.backend = backend;
    o.durability = ENT_NONE;
    rc = ent_store_open(out, dir, sc, &o);
    ent_schema_free(sc);
    return rc;
}

static int put_item(ent_store *s, const char *key, const char *label, int n)
{
    ent_entity *e = NULL;
    int rc = ent_entity_new(&e, ent_store_type(s, "item"));
    if (!rc) rc = ent_entity_set_key(e, &(ent_key){ENT_KEY_STRING, 0, key, strlen(key)});
    if (!rc) rc = ent_entity_set_string(e, "label", label);
    if (!rc) rc = ent_entity_set_int(e, "n", n);
    if (!rc) rc = ent_create(s, NULL, e);
    ent_entity_free(e);
    return rc;
}

static void t_table(void)
{
    const ent_backend_ops *b, *lmdb = NULL, *mem = NULL, *fault = NULL;
    const char *arg = "x";
    char names[200];
    size_t n = 0;
    for (size_t i = 0; (b = ent__backend_at(i)); i++, n++) {
        CU_ASSERT_EQUAL(b->version, ENT_BACKEND_VERSION);
        CU_ASSERT_PTR_EQUAL(ent__backend_find(b->name, NULL), b); /* names are unique */
        if (!strcmp(b->name, "lmdb")) lmdb = b;
        if (!strcmp(b->name, "memory")) mem = b;
        if (!strcmp(b->name, "fault")) fault = b;
    }
    CU_ASSERT(n >= 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lmdb);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fault);
    CU_ASSERT_PTR_EQUAL(ent__backend_find(NULL, &arg), ent__backend_at(0));
    CU_ASSERT_PTR_NULL(arg);
    CU_ASSERT_PTR_EQUAL(ent__backend_find("fault:memory", &arg), fault);
    CU_ASSERT_STRING_EQUAL(arg, "memory");
    CU_ASSERT_PTR_NULL(ent__backend_find("nope", NULL));
    CU_ASSERT_PTR_NULL(ent__backend_find("lmd", NULL));
    /* picked by what they can do */
    CU_ASSERT_PTR_EQUAL(ent__backend_with(ENT_BK_CAP_VOLATILE), mem);
    CU_ASSERT_PTR_EQUAL(ent__backend_with(ENT_BK_CAP_PERSISTENT | ENT_BK_CAP_COPY), lmdb);
    CU_ASSERT_EQUAL(ent__backend_min_key(ENT_BK_CAP_PERSISTENT), lmdb->max_key);
    ent__backend_names(names, sizeof names);
    CU_ASSERT_PTR_NOT_NULL(strstr(names, "lmdb, memory"));
    CU_ASSERT_PTR_NOT_NULL(strstr(names, "fault"));
}

static void t_unknown_backend(void)
{
    ent_store *s = NULL;
    ENT_CHECK_RC(open_on(&s, "nope", NULL, SC1), ENT_INVALID);
    ENT_ASSERT_MSG("unknown backend \"nope\" (lmdb, memory");
    CU_ASSERT_PTR_NULL(s);
    ENT_CHECK_RC(open_on(&s, "memory:extra", NULL, SC1), ENT_INVALID);
    ENT_ASSERT_MSG("takes no argument");
    ENT_CHECK_RC(open_on(&s, "fault:nope", NULL, SC1), ENT_INVALID);
    ENT_ASSERT_MSG("no inner backend \"nope\"");
}

/* A vtable of another interface version, or one that declares a capability without its method,
 * is refused before it is called. */
static void t_version_and_caps_checked(void)
{
    ent_backend_ops ops = ent__backend_memory;
    ent_bk_conn c;
    ent_backend_opts o = {0};
    ops.version = ENT_BACKEND_VERSION - 1;
    ENT_CHECK_RC(ent__bk_open_ops(&c, &ops, NULL, &o), ENT_INVALID);
    ENT_ASSERT_MSG("interface version");
    CU_ASSERT_PTR_NULL(c.be);
    ops = ent__backend_memory;
    ops.caps |= ENT_BK_CAP_COPY; /* memory has no copy() */
    ENT_CHECK_RC(ent__bk_open_ops(&c, &ops, NULL, &o), ENT_INVALID);
    ENT_ASSERT_MSG("copy");
    ops = ent__backend_memory;
    ENT_OK_(ent__bk_open_ops(&c, &ops, NULL, &o));
    CU_ASSERT(c.lim.max_key > 0);
    CU_ASSERT(ent__bk_caps(&c) & ENT_BK_CAP_VOLATILE);
    ent__bk_close(&c);
}

static void t_capabilities_checked(void)
{
    ent_store *s = NULL;
    char dir[ENT_TEST_PATH_MAX];
    ENT_TEST_MKDTEMP(dir, "backend-seam");
    ENT_OK_(open_on(&s, "memory", NULL, SC1));
    CU_ASSERT_FALSE(ent__bk_caps(&s->bk) & ENT_BK_CAP_COPY);
    ENT_CHECK_RC(ent_store_copy(s, dir, 0), ENT_INVALID);
    ENT_ASSERT_MSG("a memory store cannot be copied");
    ent_store_close(s);
    /* the fault backend can do what its inner store can */
    ENT_OK_(open_on(&s, "fault:memory", NULL, SC1));
    CU_ASSERT_EQUAL(ent__bk_caps(&s->bk), ent__backend_memory.caps);
    CU_ASSERT_STRING_EQUAL(ent_store_backend(s), "fault");
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

/* The store's key limit is the backend's: an index value one byte over it is refused, on writes,
 * look-ups and the index built at open (which did not check before). */
static void t_key_limit_from_backend(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_iter *it = NULL;
    ent_value q;
    char *big;
    size_t max;
    ENT_TEST_MKDTEMP(dir, "backend-seam");
    ENT_OK_(open_on(&s, "lmdb", dir, SC1));
    max = s->bk.lim.max_key;
    CU_ASSERT_FATAL(max > 2);
    big = malloc(max + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    /* an index key is a tag byte and the value: max - 1 value bytes fit, max do not */
    memset(big, 'x', max);
    big[max] = '\0';
    ENT_OK_(put_item(s, "long", big, 1)); /* label is not indexed in v1: no limit */
    ent_store_close(s);
    ENT_CHECK_RC(open_on(&s, "lmdb", dir, SC2), ENT_FULL);
    ENT_ASSERT_MSG("item.label: index value of");
    ENT_ASSERT_MSG("exceeds the backend's key limit");
    /* refused whole: the store is still at v1 */
    ENT_OK_(open_on(&s, "lmdb", dir, NULL));
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(s)), 1);
    ent_store_close(s);
    ent_test_rm_rf(dir);
    /* writes and look-ups of an indexed field, on every backend */
    for (size_t i = 0; ent__backend_at(i); i++) {
        const char *be = ent__backend_at(i)->name;
        const ent_field *label;
        ENT_OK_(open_on(&s, be, dir, SC2));
        CU_ASSERT_EQUAL(s->bk.lim.max_key, max); /* every backend takes the same keys */
        label = ent_type_field(ent_store_type(s, "item"), "label");
        ENT_CHECK_RC(put_item(s, "over", big, 2), ENT_FULL);
        ENT_ASSERT_MSG("item.label: index value of");
        q = ent_value_string(big);
        ENT_CHECK_RC(ent_find(&it, s, NULL, label, &q), ENT_FULL);
        ENT_ASSERT_MSG("exceeds the backend's key limit");
        big[max - 1] = '\0'; /* max - 1 value bytes: the largest that fits */
        ENT_OK_(put_item(s, "fits", big, 3));
        q = ent_value_string(big);
        ENT_OK_(ent_find(&it, s, NULL, label, &q));
        ent_entity *e = NULL;
        ENT_OK_(ent_iter_next(&e, it));
        CU_ASSERT_STRING_EQUAL(ent_entity_key(e).str, "fits");
        ent_entity_free(e);
        ent_iter_free(it);
        big[max - 1] = 'x';
        ent_store_close(s);
        ent_test_rm_rf(dir);
    }
    free(big);
}

/* Count the calls of a workload, then fail each of them in turn: every injected failure reaches
 * the caller with its code and a message naming it. */
static int workload(ent_store **out)
{
    ent_store *s = NULL;
    int rc = open_on(&s, "fault:memory", NULL, SC1);
    *out = s;
    if (rc) return rc;
    if ((rc = put_item(s, "a", "one", 1)) || (rc = put_item(s, "b", "two", 2))) return rc;
    return ent_exists(s, NULL, ent_store_type(s, "item"), &(ent_key){ENT_KEY_STRING, 0, "a", 1});
}

static void t_fault_every_call(void)
{
    ent_store *s = NULL;
    uint64_t n, surfaced = 0;
    ent__fault_reset();
    ENT_OK_(workload(&s));
    ent_store_close(s);
    n = ent__fault_calls();
    CU_ASSERT(n > 10);
    CU_ASSERT_EQUAL(ent__fault_fired(), 0);
    for (uint64_t i = 1; i <= n; i++) {
        int rc;
        ent__fault_reset();
        ent__fault_arm(i, i % 2 ? ENT_IO : ENT_CORRUPT);
        rc = workload(&s);
        CU_ASSERT_EQUAL(ent__fault_fired(), 1);
        if (rc != ENT_OK) {
            CU_ASSERT_EQUAL(rc, i % 2 ? ENT_IO : ENT_CORRUPT);
            CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "fault injected"));
            surfaced++;
        }
        ent_store_close(s);
    }
    /* every call of this workload matters except none: each failure surfaces */
    CU_ASSERT_EQUAL(surfaced, n);
    ent__fault_reset();
}

static void t_fault_sticky_and_disarm(void)
{
    ent_store *s = NULL;
    ENT_OK_(open_on(&s, "fault:memory", NULL, SC1));
    ent__fault_reset();
    ent__fault_arm_sticky(2, ENT_FULL);
    CU_ASSERT_EQUAL(put_item(s, "a", "one", 1), ENT_FULL);
    ENT_ASSERT_MSG("fault injected: call 2");
    CU_ASSERT_EQUAL(put_item(s, "b", "two", 2), ENT_FULL);
    CU_ASSERT(ent__fault_fired() >= 2);
    ent__fault_disarm();
    ENT_OK_(put_item(s, "c", "three", 3));
    ent__fault_arm(ent__fault_calls() + 1, ENT_NOMEM);
    CU_ASSERT_EQUAL(put_item(s, "d", "four", 4), ENT_NOMEM);
    ENT_OK_(put_item(s, "d", "four", 4));
    ent_store_close(s);
    ent__fault_reset();
}

/* The counter is shared by threads without losing a call: each thread makes its look-ups in a
 * transaction of its own, begun before and ended after the counted stretch. */
typedef struct reader {
    ent_store *s;
    pthread_barrier_t *bar;
    int rounds;
    int bad;
} reader;

static void *read_loop(void *p)
{
    reader *r = p;
    const ent_type *ty = ent_store_type(r->s, "item");
    ent_txn *t = NULL;
    if (ent_txn_begin(&t, r->s, ENT_TXN_READ) != ENT_OK) r->bad++;
    pthread_barrier_wait(r->bar); /* in the txn */
    pthread_barrier_wait(r->bar); /* the counting starts */
    for (int i = 0; t && i < r->rounds; i++)
        if (ent_exists(r->s, t, ty, &(ent_key){ENT_KEY_STRING, 0, "a", 1}) != ENT_OK) r->bad++;
    pthread_barrier_wait(r->bar);
    ent_txn_abort(t);
    return NULL;
}

static void t_fault_counter_threads(void)
{
    ent_store *s = NULL;
    reader r[4];
    pthread_t th[4];
    pthread_barrier_t bar;
    ent_txn *t = NULL;
    uint64_t per, before;
    ENT_OK_(open_on(&s, "fault:memory", NULL, SC1));
    ENT_OK_(put_item(s, "a", "one", 1));
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_READ));
    before = ent__fault_calls();
    ENT_OK_(ent_exists(s, t, ent_store_type(s, "item"), &(ent_key){ENT_KEY_STRING, 0, "a", 1}));
    per = ent__fault_calls() - before;
    ent_txn_abort(t);
    CU_ASSERT(per > 0);
    pthread_barrier_init(&bar, NULL, 5);
    for (int i = 0; i < 4; i++) {
        r[i] = (reader){s, &bar, 500, 0};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, read_loop, &r[i]), 0);
    }
    pthread_barrier_wait(&bar); /* every thread is in its txn */
    before = ent__fault_calls();
    pthread_barrier_wait(&bar); /* go */
    pthread_barrier_wait(&bar); /* every thread is done looking up */
    CU_ASSERT_EQUAL(ent__fault_calls() - before, per * 4 * 500);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(r[i].bad, 0);
    }
    pthread_barrier_destroy(&bar);
    ent_store_close(s);
    ent__fault_reset();
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(t_table),
        ENT_TEST(t_unknown_backend),
        ENT_TEST(t_version_and_caps_checked),
        ENT_TEST(t_capabilities_checked),
        ENT_TEST(t_key_limit_from_backend),
        ENT_TEST(t_fault_every_call),
        ENT_TEST(t_fault_sticky_and_disarm),
        ENT_TEST(t_fault_counter_threads),
        {NULL, NULL},
    };
    return ent_test_run("test_backend_seam", cases);
}
