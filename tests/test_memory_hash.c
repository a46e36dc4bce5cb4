/* The memory backend's hash of a plain table is keyed: keys crafted against a hash anyone can read
 * cost no more than any others.
 *
 * A plain table (records by primary key, unique index entries) finds a key through an
 * open-addressing hash of it, and a store behind `entity serve` takes string keys its clients
 * choose. Until 2026-12-05 the hash was FNV-1a, unkeyed: its low bits depend only on the keys'
 * low bits, and a search finds keys sharing any slot in a second. Keys that all start in one slot
 * make one run of linear probing, and every get or put of one walks the run before it: n keys
 * cost n^2/2 slot visits to read each once.
 *
 * The count is the table's own: the slots a get of each stored key visits, read off the table
 * (a node sits at distance d from its home slot: its get visits d + 1 slots), so it counts exactly
 * what a probe does without a counter in the backend's hottest path. Counted, not timed. */
#include "backend_memory_int.h"
#include "keys.h"
#include "store_int.h"
#include "test_util.h"

#define N 2000 /* keys; the table then has 4 096 slots: keys agreeing in 12 low bits share one */

static const char SCHEMA[] =
    "{\"schema\":\"h\",\"version\":1,\"types\":{\"thing\":{\"key\":\"string\","
    "\"fields\":{\"n\":{\"id\":1,\"type\":\"int\"}}},"
    "\"user\":{\"key\":\"auto\",\"fields\":{\"email\":{\"id\":1,\"type\":\"string\",\"unique\":true}}}}}";

/* The hash the backend used until 2026-12-05. */
static uint32_t fnv1a(const char *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h;
}

/* The next key after *i (a counter) whose old hash has its 12 low bits clear, into key. */
static void next_crafted(char key[16], uint32_t *i)
{
    for (;; (*i)++) {
        snprintf(key, 16, "k%08x", *i);
        if (!(fnv1a(key, 9) & 0xfff)) break;
    }
    (*i)++;
}

/* Slot visits of a get of every key of tb, and how many keys it holds. */
static size_t slot_visits(const mtable *tb, size_t *keys)
{
    size_t mask = tb->hash.cap - 1, visits = 0;
    *keys = 0;
    for (size_t i = 0; i < tb->hash.cap; i++) {
        const mnode *n = tb->hash.slot[i];
        if (!n) continue;
        visits += ((i - (n->hash & mask)) & mask) + 1;
        (*keys)++;
    }
    return visits;
}

static void t_crafted_keys(void)
{
    char dir[ENT_TEST_PATH_MAX], key[16];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_txn *t = NULL;
    const ent_type *ty;
    const mtable *tb;
    size_t visits, keys;
    uint32_t at = 0;
    ent_test_store_open(&s, &sc, dir, "memory", SCHEMA, "memhash");
    ty = ent_store_type(s, "thing");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ty);
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
    for (int j = 0; j < N; j++) {
        ent_entity *e = NULL;
        ent_key k;
        next_crafted(key, &at);
        k = ent_key_str(key);
        ENT_OK_(ent_entity_new(&e, ty));
        ENT_OK_(ent_entity_set_key(e, &k));
        ENT_OK_(ent_entity_set_int(e, "n", j));
        ENT_OK_(ent_create(s, t, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(t));

    tb = ((mstore *)s->bk.be)->tables[s->lay->data[ty->pos]];
    visits = slot_visits(tb, &keys);
    CU_ASSERT_EQUAL(keys, N);
    CU_ASSERT_EQUAL(tb->hash.cap, 4096);
    /* ~1.4 per key at this load for keys like any others; ~N/2 each when they share a slot */
    if (visits >= 4 * N) fprintf(stderr, "\n  %zu slot visits to get %d crafted keys\n", visits, N);
    CU_ASSERT(visits < 4 * N);

    /* and they are found as any keys are: each with its value, nothing between them */
    at = 0;
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_READ));
    for (int j = 0; j < N; j++) {
        ent_entity *e = NULL;
        ent_key k;
        int64_t v = -1;
        next_crafted(key, &at);
        k = ent_key_str(key);
        ENT_OK_(ent_get(&e, s, t, ty, &k));
        ENT_OK_(ent_entity_get_int(&v, e, "n"));
        CU_ASSERT_EQUAL(v, j);
        ent_entity_free(e);
        snprintf(key, sizeof key, "k%08x", at - 2); /* between two crafted keys: none */
        k = ent_key_str(key);
        if (at >= 2 && fnv1a(key, 9) & 0xfff) CU_ASSERT_EQUAL(ent_exists(s, t, ty, &k), ENT_NOTFOUND);
    }
    ent_txn_abort(t);
    ent_test_store_close(&s, &sc, dir);
}

/* The next value after *i whose unique index key (as the store makes it for f) has the old
 * hash's 12 low bits clear, into v. */
static void next_crafted_value(char v[24], uint32_t *i, const ent_field *f)
{
    ent_buf b = {0};
    for (;; (*i)++) {
        ent_value val;
        int inexact = 0;
        snprintf(v, 24, "u%08x@x.org", *i);
        val = ent_value_string(v);
        b.n = 0;
        if (ent__ikey_from_value(&b, f, &val, &inexact)) { /* (an assert per try: millions) */
            CU_FAIL("index key of a crafted value");
            break;
        }
        if (!(fnv1a(b.p, b.n) & 0xfff)) break;
    }
    (*i)++;
    ent__buf_free(&b);
}

/* The same for a unique index: its entries are a plain table keyed by the values, which a
 * server's clients choose as they do keys (an email, a user name). */
static void t_crafted_unique_values(void)
{
    char dir[ENT_TEST_PATH_MAX], v[24];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_txn *t = NULL;
    const ent_type *ty;
    const ent_field *f;
    const mtable *tb;
    size_t visits, keys;
    uint32_t at = 0;
    ent_test_store_open(&s, &sc, dir, "memory", SCHEMA, "memhash");
    ty = ent_store_type(s, "user");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ty);
    f = ent_type_field(ty, "email");
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
    for (int j = 0; j < N; j++) {
        ent_entity *e = NULL;
        next_crafted_value(v, &at, f);
        ENT_OK_(ent_entity_new(&e, ty));
        ENT_OK_(ent_entity_set_string(e, "email", v));
        ENT_OK_(ent_create(s, t, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(t));
    tb = ((mstore *)s->bk.be)->tables[s->lay->idx[ty->pos][0]];
    CU_ASSERT_FATAL(tb->hashed); /* unique: a plain table */
    visits = slot_visits(tb, &keys);
    CU_ASSERT_EQUAL(keys, N);
    if (visits >= 4 * N) fprintf(stderr, "\n  %zu slot visits to get %d crafted unique values\n", visits, N);
    CU_ASSERT(visits < 4 * N);
    /* each found by its value */
    at = 0;
    for (int j = 0; j < N; j++) {
        ent_entity *e = NULL;
        ent_value val;
        next_crafted_value(v, &at, f);
        val = ent_value_string(v);
        ENT_OK_(ent_find_unique(&e, s, NULL, f, &val));
        CU_ASSERT_PTR_NOT_NULL(e);
        ent_entity_free(e);
    }
    ent_test_store_close(&s, &sc, dir);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(t_crafted_keys), ENT_TEST(t_crafted_unique_values), {NULL, NULL}};
    return ent_test_run("memory_hash", cases);
}
