/* ent_entity_json_patch() counted and failed allocation by allocation (fault_alloc_wrap.h; this
 * binary is linked with -Wl,--wrap=malloc,... as test_fault_alloc is).
 *
 * Cost: a move takes its value out of its place and an operation's "kinds" apply to the patch's
 * own copy, so a patch's allocations grow with its operations, not operations times the size of
 * the data (a copy per move, or an entity per "kinds", made a long patch over a large entity cost
 * that product). Failures: every allocation of a patch failing in turn gives ENT_NOMEM with a
 * message and the entity as it was, or the patch's full result. */
#include <jansson.h>

#include "fault_alloc_wrap.h"
#include "test_entity_schemas.h"

static void *json_malloc(size_t n) { return __wrap_malloc(n); }
static void json_free(void *p) { free(p); }

static ent_schema *shop;

/* A product whose free-form "attrs" holds "v", a map of n keys, and "l", an empty array. */
static ent_entity *big_product(int n)
{
    ent_entity *e = NULL;
    if (!shop) shop = test_schema(SHOP_JSON); /* in a running suite: its checks need one */
    char *doc = malloc((size_t)n * 32 + 64);
    size_t at = (size_t)sprintf(doc, "{\"attrs\":{\"v\":{");
    for (int i = 0; i < n; i++) at += (size_t)sprintf(doc + at, "%s\"k%d\":[%d,\"s\"]", i ? "," : "", i, i);
    sprintf(doc + at, "},\"l\":[]}}");
    ENT_OK_(ent_entity_from_json(&e, ent_schema_type(shop, "product"), doc, strlen(doc)));
    free(doc);
    return e;
}

/* A patch of n operations, each fmt with its index. */
static char *patch_of(const char *fmt, int n)
{
    char *p = malloc((size_t)n * (strlen(fmt) + 24) + 4);
    size_t at = (size_t)sprintf(p, "[");
    for (int i = 0; i < n; i++) at += (size_t)sprintf(p + at, i ? ",%s" : "%s", fmt);
    sprintf(p + at, "]");
    return p;
}

/* The allocations of patch on e. */
static long allocs_of(ent_entity *e, const char *patch)
{
    long n;
    count = 0;
    armed = 1;
    ENT_OK_(ent_entity_json_patch(e, patch, strlen(patch)));
    armed = 0;
    n = count;
    return n;
}

static void test_cost_grows_with_operations(void)
{
    ent_entity *e = big_product(2000);
    char *one = patch_of("{\"op\":\"move\",\"from\":\"/attrs/v\",\"path\":\"/attrs/w\"},"
                         "{\"op\":\"move\",\"from\":\"/attrs/w\",\"path\":\"/attrs/v\"}", 1);
    char *many = patch_of("{\"op\":\"move\",\"from\":\"/attrs/v\",\"path\":\"/attrs/w\"},"
                          "{\"op\":\"move\",\"from\":\"/attrs/w\",\"path\":\"/attrs/v\"}", 50);
    long base = allocs_of(e, one), a = allocs_of(e, many);
    /* the patch's copy of the data is most of `base`; each move or "kinds" adds a few (a copy of the
     * data is 6 000) */
    if (a > base + 100 * 20) fprintf(stderr, "\n  100 moves: %ld allocations, one: %ld\n", a, base);
    CU_ASSERT_TRUE(a <= base + 100 * 20);
    free(one);
    free(many);
    one = patch_of("{\"op\":\"add\",\"path\":\"/attrs/l/-\",\"value\":\"AA==\",\"kinds\":{\"\":\"bytes\"}}", 1);
    many = patch_of("{\"op\":\"add\",\"path\":\"/attrs/l/-\",\"value\":\"AA==\",\"kinds\":{\"\":\"bytes\"}}", 100);
    base = allocs_of(e, one);
    a = allocs_of(e, many);
    if (a > base + 100 * 50) fprintf(stderr, "\n  100 kinds: %ld allocations, one: %ld\n", a, base);
    CU_ASSERT_TRUE(a <= base + 100 * 50);
    free(one);
    free(many);
    ent_entity_free(e);
}

static char *data_text(const ent_entity *e)
{
    char *j = NULL;
    ENT_OK_(ent_entity_to_json(&j, e, ENT_JSON_ENTITY));
    return j;
}

static void test_each_allocation_failing(void)
{
    static const char patch[] =
        "[{\"op\":\"add\",\"path\":\"/attrs/n\",\"value\":{\"a\":[1,\"x\",null]}},"
        "{\"op\":\"copy\",\"from\":\"/attrs/n\",\"path\":\"/attrs/v/k1/-\"},"
        "{\"op\":\"move\",\"from\":\"/attrs/v/k2\",\"path\":\"/tags\"},"
        "{\"op\":\"move\",\"from\":\"/tags/1\",\"path\":\"/attrs/l/-\"},"
        "{\"op\":\"add\",\"path\":\"/attrs/b\",\"value\":{\"x\":\"AAEC\"},\"kinds\":{\"/x\":\"bytes\"}},"
        "{\"op\":\"add\",\"path\":\"/price\",\"value\":3},"
        "{\"op\":\"remove\",\"path\":\"/attrs/v/k3\"},"
        "{\"op\":\"test\",\"path\":\"/attrs/n/a/1\",\"value\":\"x\"}]";
    ent_entity *e = big_product(8);
    char *before, *want = NULL, *got;
    long total, nomem = 0;
    ent_entity *w = NULL;
    /* k2 as an array of strings, for the move into the declared "tags" */
    {
        static const char k2[] = "[{\"op\":\"replace\",\"path\":\"/attrs/v/k2\",\"value\":[\"p\",\"q\"]}]";
        ENT_OK_(ent_entity_json_patch(e, k2, sizeof k2 - 1));
    }
    before = data_text(e);
    ENT_OK_(ent_entity_dup(&w, e));
    total = allocs_of(w, patch);
    want = data_text(w);
    ent_entity_free(w);
    for (long n = 1; n <= total; n++) {
        int rc;
        w = NULL;
        ENT_OK_(ent_entity_dup(&w, e));
        count = 0;
        fail_at = n;
        armed = 1;
        rc = ent_entity_json_patch(w, patch, sizeof patch - 1);
        armed = 0;
        fail_at = -1;
        got = data_text(w);
        if (rc == ENT_NOMEM) {
            nomem++;
            CU_ASSERT_TRUE(ent_errmsg()[0] != '\0');
            CU_ASSERT_STRING_EQUAL(got, before);
        } else {
            if (rc != ENT_OK) fprintf(stderr, "\n  allocation %ld failing: %d %s\n", n, rc, ent_errmsg());
            CU_ASSERT_EQUAL(rc, ENT_OK);
            CU_ASSERT_STRING_EQUAL(got, want);
        }
        free(got);
        ent_entity_free(w);
    }
    /* most of the JSON parser's failures are absorbed: ent__json_loadb() parses again to tell them
     * from bad JSON */
    CU_ASSERT_TRUE(nomem > 0);
    free(before);
    free(want);
    ent_entity_free(e);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_cost_grows_with_operations), ENT_TEST(test_each_allocation_failing),
                                          {NULL, NULL}};
    int rc;
    json_set_alloc_funcs(json_malloc, json_free);
    rc = ent_test_run("json_patch_alloc", cases);
    ent_schema_free(shop);
    return rc;
}
