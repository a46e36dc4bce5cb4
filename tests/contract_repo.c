/* The repository contract: the same calls give the same answers on every backend (its name in argv[1], from
 * the table of src/backends.c). A fresh store per test. Results are checked against simple models where
 * order or membership matters (ranges, scans, counts, the log). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"
#include "test_util.h"

static const char *backend;
static char dir[ENT_TEST_PATH_MAX];
static ent_store *S;
static ent_schema *SC;

static const char schema_json[] =
    "{\"schema\":\"c\",\"version\":1,\"types\":{"
    "\"customer\":{\"key\":\"auto\",\"fields\":{"
    "  \"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "  \"name\":{\"id\":2,\"type\":\"string\",\"required\":true},"
    "  \"vip\":{\"id\":3,\"type\":\"bool\",\"default\":false,\"indexed\":true},"
    "  \"score\":{\"id\":4,\"type\":\"int\",\"indexed\":true},"
    "  \"best\":{\"id\":5,\"type\":\"ref\",\"to\":\"customer\"}}},"
    "\"item\":{\"key\":\"string\",\"fields\":{"
    "  \"price\":{\"id\":1,\"type\":\"float\",\"indexed\":true},"
    "  \"qty\":{\"id\":2,\"type\":\"uint\",\"indexed\":true},"
    "  \"label\":{\"id\":3,\"type\":\"string\",\"indexed\":true},"
    "  \"at\":{\"id\":4,\"type\":\"timestamp\",\"indexed\":true},"
    "  \"blob\":{\"id\":5,\"type\":\"bytes\",\"unique\":true},"
    "  \"owner\":{\"id\":6,\"type\":\"ref\",\"to\":\"customer\"},"
    "  \"tags\":{\"id\":7,\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "  \"attrs\":{\"id\":8,\"type\":\"map\"},"
    "  \"dims\":{\"id\":9,\"type\":\"map\",\"fields\":{\"w\":{\"id\":1,\"type\":\"int\"},\"unit\":{\"id\":2,\"type\":\"string\"}}}}},"
    "\"note\":{\"key\":\"auto\",\"fields\":{\"item\":{\"id\":1,\"type\":\"ref\",\"to\":\"item\",\"required\":true}}}}}";

static void open_store(void)
{
    ent_test_store_open(&S, &SC, dir, backend, schema_json, "contract");
}

static void close_store(void) { ent_test_store_close(&S, &SC, dir); }

static const ent_type *T(const char *n) { return ent_store_type(S, n); }
static const ent_field *F(const char *t, const char *f) { return ent_type_field(T(t), f); }

static ent_entity *customer(const char *email, int64_t score)
{
    ent_entity *e = NULL;
    ENT_OK_(ent_entity_new(&e, T("customer")));
    ENT_OK_(ent_entity_set_string(e, "email", email));
    ENT_OK_(ent_entity_set_string(e, "name", email));
    ENT_OK_(ent_entity_set_int(e, "score", score));
    return e;
}

static ent_entity *item(const char *key, double price)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str(key);
    ENT_OK_(ent_entity_new(&e, T("item")));
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_set_float(e, "price", price));
    return e;
}

static uint64_t last_seq(void)
{
    uint64_t f = 0, l = 0;
    ENT_OK_(ent_log_bounds(&f, &l, S, NULL));
    return l;
}

/* ---- CRUD and versions --------------------------------------------------------------------- */

static void t_create_get_versions(void)
{
    ent_entity *a, *b, *got = NULL;
    ent_key k;
    int vip = -1;
    open_store();
    a = customer("a@x", 5);
    b = customer("b@x", 6);
    ENT_OK_(ent_create(S, NULL, a));
    ENT_OK_(ent_create(S, NULL, b));
    CU_ASSERT_EQUAL(ent_entity_key(a).id, 1);
    CU_ASSERT_EQUAL(ent_entity_key(b).id, 2);
    CU_ASSERT_EQUAL(ent_entity_version(a), 1);
    k = ent_key_id(1);
    ENT_OK_(ent_get(&got, S, NULL, T("customer"), &k));
    ENT_OK_(ent_entity_get_bool(&vip, got, "vip")); /* default applied */
    CU_ASSERT_EQUAL(vip, 0);
    CU_ASSERT_EQUAL(ent_entity_version(got), 1);
    ENT_OK_(ent_exists(S, NULL, T("customer"), &k));
    ent_entity_free(got);
    /* ids are never reused, even after the highest is deleted */
    k = ent_key_id(2);
    ENT_OK_(ent_delete(S, NULL, T("customer"), &k, 1));
    ENT_CHECK_RC(ent_get(&got, S, NULL, T("customer"), &k), ENT_NOTFOUND);
    ENT_ASSERT_MSG("customer 2 not found");
    ENT_CHECK_RC(ent_exists(S, NULL, T("customer"), &k), ENT_NOTFOUND);
    ent_entity_free(b);
    b = customer("c@x", 7);
    ENT_OK_(ent_create(S, NULL, b));
    CU_ASSERT_EQUAL(ent_entity_key(b).id, 3);
    /* creating an existing key is a conflict */
    {
        ent_entity *dup = customer("d@x", 1);
        ent_key one = ent_key_id(1);
        ENT_OK_(ent_entity_set_key(dup, &one));
        ENT_CHECK_RC(ent_create(S, NULL, dup), ENT_CONFLICT);
        ENT_ASSERT_MSG("customer 1 exists already");
        ent_entity_free(dup);
    }
    ent_entity_free(a);
    ent_entity_free(b);
    close_store();
}

static void t_update_replace_upsert(void)
{
    ent_entity *a, *got = NULL;
    ent_key k;
    int64_t score = 0;
    uint64_t seq;
    open_store();
    a = customer("a@x", 5);
    ENT_OK_(ent_create(S, NULL, a));
    k = ent_entity_key(a);
    /* partial update: only the changed field; version +1 */
    {
        ent_entity *p = NULL;
        ENT_OK_(ent_entity_new(&p, T("customer")));
        ENT_OK_(ent_entity_set_key(p, &k));
        ENT_OK_(ent_entity_set_int(p, "score", 9));
        ENT_OK_(ent_update(S, NULL, p, 1));
        CU_ASSERT_EQUAL(ent_entity_version(p), 2);
        CU_ASSERT(ent_entity_has(p, "email")); /* merged back into the caller's entity */
        ent_entity_free(p);
    }
    ENT_OK_(ent_get(&got, S, NULL, T("customer"), &k));
    ENT_OK_(ent_entity_get_int(&score, got, "score"));
    CU_ASSERT_EQUAL(score, 9);
    CU_ASSERT(ent_entity_has(got, "name"));
    CU_ASSERT_EQUAL(ent_entity_version(got), 2);
    /* an update that changes nothing writes nothing: same version, no event */
    seq = last_seq();
    ENT_OK_(ent_entity_set_int(got, "score", 9));
    ENT_OK_(ent_update(S, NULL, got, ENT_VERSION_ANY));
    CU_ASSERT_EQUAL(ent_entity_version(got), 2);
    CU_ASSERT_EQUAL(last_seq(), seq);
    /* expected version mismatch: conflict, nothing written */
    ENT_OK_(ent_entity_set_int(got, "score", 10));
    ENT_CHECK_RC(ent_update(S, NULL, got, 1), ENT_CONFLICT);
    ENT_ASSERT_MSG("is at version 2, expected 1");
    CU_ASSERT_EQUAL(last_seq(), seq);
    ENT_CHECK_RC(ent_delete(S, NULL, T("customer"), &k, 7), ENT_CONFLICT);
    ENT_CHECK_RC(ent_delete(S, NULL, T("customer"), &k, 1), ENT_CONFLICT); /* a stale version too */
    ENT_ASSERT_MSG("is at version 2, expected 1");
    ENT_OK_(ent_exists(S, NULL, T("customer"), &k));
    CU_ASSERT_EQUAL(last_seq(), seq);
    /* replace: fields not set are removed */
    {
        ent_entity *r = NULL;
        ENT_OK_(ent_entity_new(&r, T("customer")));
        ENT_OK_(ent_entity_set_key(r, &k));
        ENT_OK_(ent_entity_set_string(r, "email", "a@x"));
        ENT_OK_(ent_entity_set_string(r, "name", "renamed"));
        ENT_OK_(ent_replace(S, NULL, r, 2));
        CU_ASSERT_EQUAL(ent_entity_version(r), 3);
        ent_entity_free(r);
    }
    ent_entity_free(got);
    ENT_OK_(ent_get(&got, S, NULL, T("customer"), &k));
    CU_ASSERT_FALSE(ent_entity_has(got, "score"));
    /* replace of a missing entity */
    {
        ent_key nine = ent_key_id(9);
        ENT_OK_(ent_entity_set_key(got, &nine));
        ENT_CHECK_RC(ent_replace(S, NULL, got, ENT_VERSION_ANY), ENT_NOTFOUND);
    }
    /* upsert: create when missing, 0 = must not exist */
    {
        ent_entity *i1 = item("k1", 1.0);
        ENT_OK_(ent_upsert(S, NULL, i1, 0));
        CU_ASSERT_EQUAL(ent_entity_version(i1), 1);
        ENT_CHECK_RC(ent_upsert(S, NULL, i1, 0), ENT_CONFLICT);
        ENT_ASSERT_MSG("item \"k1\" exists already");
        ENT_OK_(ent_entity_set_float(i1, "price", 2.0));
        ENT_OK_(ent_upsert(S, NULL, i1, 1));
        CU_ASSERT_EQUAL(ent_entity_version(i1), 2);
        ent_entity_free(i1);
        /* an auto-id entity without its key: a create, for 0 ("must not exist") as for any */
        i1 = customer("u0@x", 1);
        ENT_OK_(ent_upsert(S, NULL, i1, 0));
        CU_ASSERT_EQUAL(ent_entity_version(i1), 1);
        CU_ASSERT_EQUAL(ent_entity_key(i1).id, 2);
        ent_entity_free(i1);
        i1 = customer("u1@x", 1);
        ENT_CHECK_RC(ent_upsert(S, NULL, i1, 1), ENT_CONFLICT);
        ENT_ASSERT_MSG("customer: a new entity cannot be at version 1");
        ent_entity_free(i1);
    }
    ent_entity_free(got);
    ent_entity_free(a);
    close_store();
}

static void t_validation_and_keys(void)
{
    ent_entity *e = NULL;
    uint64_t seq;
    open_store();
    seq = last_seq();
    ENT_OK_(ent_entity_new(&e, T("customer")));
    ENT_OK_(ent_entity_set_string(e, "email", "x@x"));
    ENT_CHECK_RC(ent_create(S, NULL, e), ENT_INVALID); /* name is required */
    ENT_ASSERT_MSG("customer.name");
    CU_ASSERT_FALSE(ent_entity_has(e, "vip")); /* the default applied for the attempt is undone */
    ent_entity_free(e);
    ENT_OK_(ent_entity_new(&e, T("item")));
    ENT_CHECK_RC(ent_create(S, NULL, e), ENT_INVALID); /* string key missing */
    ENT_ASSERT_MSG("item");
    ent_entity_free(e);
    {
        /* a key no entity can have: refused by name, not "not found" */
        ent_key k0 = ent_key_id(0), ks = ent_key_str("x");
        ent_entity *g = NULL;
        ENT_CHECK_RC(ent_get(&g, S, NULL, T("customer"), &k0), ENT_INVALID);
        ENT_ASSERT_MSG("customer: auto ids start at 1");
        ENT_CHECK_RC(ent_exists(S, NULL, T("customer"), &k0), ENT_INVALID);
        ENT_ASSERT_MSG("customer: auto ids start at 1");
        ENT_CHECK_RC(ent_delete(S, NULL, T("customer"), &k0, ENT_VERSION_ANY), ENT_INVALID);
        ENT_ASSERT_MSG("customer: auto ids start at 1");
        ENT_CHECK_RC(ent_get(&g, S, NULL, T("customer"), &ks), ENT_INVALID);
        ENT_ASSERT_MSG("is not of the type's key kind");
        CU_ASSERT_PTR_NULL(g);
    }
    CU_ASSERT_EQUAL(last_seq(), seq);
    close_store();
}

/* ---- transactions --------------------------------------------------------------------------- */

static void t_transactions(void)
{
    ent_txn *w = NULL, *r = NULL;
    ent_entity *e;
    uint64_t n = 0, seq;
    open_store();
    seq = last_seq();
    /* all or nothing: abort leaves nothing, not even events or counters */
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    for (int i = 0; i < 20; i++) {
        char em[32];
        snprintf(em, sizeof em, "u%d@x", i);
        e = customer(em, i);
        ENT_OK_(ent_create(S, w, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_count(&n, S, w, T("customer")));
    CU_ASSERT_EQUAL(n, 20);
    ent_txn_abort(w);
    ENT_OK_(ent_count(&n, S, NULL, T("customer")));
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(last_seq(), seq);
    /* a refused call inside a txn writes nothing and leaves the txn usable */
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    e = customer("same@x", 1);
    ENT_OK_(ent_create(S, w, e));
    ent_entity_free(e);
    e = customer("same@x", 2);
    ENT_CHECK_RC(ent_create(S, w, e), ENT_CONFLICT);
    ENT_ASSERT_MSG("customer.email");
    ENT_OK_(ent_entity_set_string(e, "email", "other@x"));
    ENT_OK_(ent_create(S, w, e));
    ent_entity_free(e);
    /* a read txn begun before the commit keeps its snapshot */
    ENT_OK_(ent_txn_begin(&r, S, ENT_TXN_READ));
    ENT_OK_(ent_txn_commit(w));
    ENT_OK_(ent_count(&n, S, r, T("customer")));
    CU_ASSERT_EQUAL(n, 0);
    e = customer("late@x", 3);
    ENT_CHECK_RC(ent_create(S, r, e), ENT_READONLY);
    ent_entity_free(e);
    ENT_OK_(ent_txn_commit(r));
    ENT_OK_(ent_count(&n, S, NULL, T("customer")));
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(last_seq(), seq + 2);
    close_store();
}

/* ---- indexes ---------------------------------------------------------------------------------- */

static void t_unique(void)
{
    ent_entity *a, *b, *got = NULL;
    ent_value v = ent_value_string("a@x");
    open_store();
    a = customer("a@x", 1);
    b = customer("a@x", 2);
    ENT_OK_(ent_create(S, NULL, a));
    ENT_CHECK_RC(ent_create(S, NULL, b), ENT_CONFLICT);
    ENT_ASSERT_MSG("customer.email: value \"a@x\" is taken by customer 1");
    ENT_OK_(ent_find_unique(&got, S, NULL, F("customer", "email"), &v));
    CU_ASSERT_EQUAL(ent_entity_key(got).id, 1);
    ent_entity_free(got);
    /* the value is freed by an update of the holder */
    ENT_OK_(ent_entity_set_string(a, "email", "a2@x"));
    ENT_OK_(ent_update(S, NULL, a, ENT_VERSION_ANY));
    ENT_CHECK_RC(ent_find_unique(&got, S, NULL, F("customer", "email"), &v), ENT_NOTFOUND);
    ENT_OK_(ent_create(S, NULL, b));
    /* and by a delete */
    {
        ent_key k = ent_entity_key(b);
        ent_entity *c = customer("a@x", 3);
        ENT_OK_(ent_delete(S, NULL, T("customer"), &k, ENT_VERSION_ANY));
        ENT_OK_(ent_create(S, NULL, c));
        ent_entity_free(c);
    }
    /* non-unique fields cannot be used with find_unique */
    {
        ent_value sv = ent_value_int(1);
        ENT_CHECK_RC(ent_find_unique(&got, S, NULL, F("customer", "score"), &sv), ENT_INVALID);
        ENT_CHECK_RC(ent_find_unique(&got, S, NULL, F("customer", "name"), &v), ENT_INVALID); /* not indexed */
        ENT_ASSERT_MSG("not indexed");
    }
    ent_entity_free(a);
    ent_entity_free(b);
    close_store();
}

/* Keys of a range over item.blob (unique) resumed from tok, limit 0; "" when none. */
static void blob_keys(char *out, size_t n, const char *tok, int reverse)
{
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    ent_entity *e = NULL;
    size_t at = 0;
    o.resume = tok;
    o.flags = reverse ? ENT_ITER_REVERSE : 0;
    out[0] = '\0';
    ENT_OK_(ent_range(&it, S, NULL, F("item", "blob"), &o));
    while (ent_iter_next(&e, it) == ENT_OK) {
        ent_key k = ent_entity_key(e);
        at += (size_t)snprintf(out + at, n - at, "%s%.*s", at ? "," : "", (int)k.len, k.str);
        ent_entity_free(e);
    }
    ent_iter_free(it);
}

static void set_blob(const char *key, const char *blob)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str(key);
    if (ent_get(&e, S, NULL, T("item"), &k) == ENT_OK) {
        ENT_OK_(ent_entity_set_bytes(e, "blob", blob, strlen(blob)));
        ENT_OK_(ent_update(S, NULL, e, ENT_VERSION_ANY));
    } else {
        e = item(key, 1);
        ENT_OK_(ent_entity_set_bytes(e, "blob", blob, strlen(blob)));
        ENT_OK_(ent_create(S, NULL, e));
    }
    ent_entity_free(e);
}

/* A unique index holds one key per value, yet its order is (value, key) as for any index: a range
 * resumed after (v, k) leaves out an entity that took value v with a key below k since the token
 * was made (forward), and gives it when going down; one with a key above k the other way round. */
static void t_unique_resume_position(void)
{
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    ent_entity *e = NULL;
    char tok[256], keys[64];
    for (int run = 0; run < 4; run++) {
        /* the value's new holder has a key below the token's (k1) or above it (k4, k7) */
        int reverse = run % 2, higher = run / 2;
        const char *taker = higher ? (reverse ? "k7" : "k4") : "k1";
        const char *want = higher ? (reverse ? "k3" : "k4,k5,k3") : (reverse ? "k1,k3" : "k5,k3");
        open_store();
        set_blob("k5", "m");
        set_blob("k3", "b");
        o.limit = 1;
        o.flags = reverse ? ENT_ITER_REVERSE : 0;
        ENT_OK_(ent_range(&it, S, NULL, F("item", "blob"), &o));
        ENT_OK_(ent_iter_next(&e, it)); /* forward: k3 at "b"; reverse: k5 at "m" */
        ent_entity_free(e);
        snprintf(tok, sizeof tok, "%s", ent_iter_resume(it));
        ent_iter_free(it);
        /* the holder moves up out of the way, and another key takes its value */
        set_blob(reverse ? "k5" : "k3", "z");
        set_blob(taker, reverse ? "m" : "b");
        blob_keys(keys, sizeof keys, tok, reverse);
        CU_ASSERT_STRING_EQUAL(keys, want);
        close_store();
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Range scans against a sorted model, both directions, limits and resume tokens. */
static void t_range_model(void)
{
    enum { N = 300 };
    double prices[N], sorted[N];
    ent_txn *w;
    open_store();
    srand(7);
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    for (int i = 0; i < N; i++) {
        char k[32];
        ent_entity *e;
        /* negatives, zero, -0.0, duplicates and large magnitudes */
        double p = (double)(rand() % 2001 - 1000) / 8.0;
        if (i % 50 == 0) p = -0.0;
        if (i % 77 == 0) p = 1e15 * (i % 2 ? 1 : -1);
        prices[i] = p;
        snprintf(k, sizeof k, "item-%04d", i);
        e = item(k, p);
        ENT_OK_(ent_create(S, w, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(w));
    memcpy(sorted, prices, sizeof sorted);
    qsort(sorted, N, sizeof sorted[0], cmp_double);
    for (int trial = 0; trial < 40; trial++) {
        double lo = (double)(rand() % 2401 - 1200) / 8.0, hi = lo + (double)(rand() % 800) / 8.0;
        ent_value vlo = ent_value_float(lo), vhi = ent_value_float(hi);
        int reverse = trial % 2, want = 0, got = 0;
        uint64_t page = 1 + (uint64_t)(rand() % 9);
        double expect[N], prev = reverse ? INFINITY : -INFINITY;
        char token[512] = "";
        for (int i = 0; i < N; i++)
            if (sorted[i] >= lo && sorted[i] < hi) expect[want++] = sorted[i];
        /* read the range page by page, resuming from the last token */
        for (;;) {
            ent_range_opts o = ENT_RANGE_OPTS_INIT;
            ent_iter *it = NULL;
            ent_entity *e;
            int in_page = 0;
            o.from = &vlo;
            o.to = &vhi;
            o.flags = reverse ? ENT_ITER_REVERSE : 0;
            o.limit = page;
            o.resume = token[0] ? token : NULL;
            ENT_OK_(ent_range(&it, S, NULL, F("item", "price"), &o));
            while (ent_iter_next(&e, it) == ENT_OK) {
                double p;
                ENT_OK_(ent_entity_get_float(&p, e, "price"));
                CU_ASSERT(reverse ? p <= prev : p >= prev);
                CU_ASSERT(got < want && p == (reverse ? expect[want - 1 - got] : expect[got]));
                prev = p;
                got++;
                in_page++;
                ent_entity_free(e);
            }
            if (in_page) snprintf(token, sizeof token, "%s", ent_iter_resume(it));
            ent_iter_free(it);
            if ((uint64_t)in_page < page) break;
        }
        CU_ASSERT_EQUAL(got, want);
    }
    close_store();
}

/* Prices of the items of a range over item.price, resumed from tok; "" when none. */
static void price_keys(char *out, size_t n, const ent_range_opts *o)
{
    ent_iter *it = NULL;
    ent_entity *e = NULL;
    size_t at = 0;
    out[0] = '\0';
    ENT_OK_(ent_range(&it, S, NULL, F("item", "price"), o));
    while (ent_iter_next(&e, it) == ENT_OK) {
        ent_key k = ent_entity_key(e);
        at += (size_t)snprintf(out + at, n - at, "%s%.*s", at ? "," : "", (int)k.len, k.str);
        ent_entity_free(e);
    }
    ent_iter_free(it);
}

/* A range resumed by a token of a position outside its bounds (a token of another range of the
 * field) keeps its bounds: `to` stays exclusive going down from above it, `from` inclusive going
 * up from below it. */
static void t_range_resume_outside_bounds(void)
{
    ent_value v5 = ent_value_float(5);
    char tok[256], keys[64];
    open_store();
    for (int i = 4; i <= 6; i++) {
        char k[8];
        ent_entity *e;
        snprintf(k, sizeof k, "p%d", i);
        e = item(k, i);
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
    }
    for (int reverse = 0; reverse < 2; reverse++) {
        ent_range_opts o = ENT_RANGE_OPTS_INIT;
        ent_iter *it = NULL;
        ent_entity *e = NULL;
        o.flags = reverse ? ENT_ITER_REVERSE : 0;
        o.limit = 1;
        ENT_OK_(ent_range(&it, S, NULL, F("item", "price"), &o)); /* open: p4 up, p6 down */
        ENT_OK_(ent_iter_next(&e, it));
        ent_entity_free(e);
        snprintf(tok, sizeof tok, "%s", ent_iter_resume(it));
        ent_iter_free(it);
        o.limit = 0;
        o.resume = tok;
        if (reverse) o.to = &v5;
        else o.from = &v5;
        price_keys(keys, sizeof keys, &o);
        CU_ASSERT_STRING_EQUAL(keys, reverse ? "p4" : "p5,p6");
    }
    close_store();
}

/* Floats at their edges (infinities, the largest and the subnormal magnitudes, both zeros, NaN),
 * two entities each: every range between two of them or open, in both directions, read whole and
 * in pages of one resumed by token, gives the model's entries in the model's order (value, then
 * key; -0.0 is 0.0; NaN above +inf, and only in a range that starts at NaN or ends above it).
 * Probed at the limits of the backends: no answer was wrong, and this keeps it so. */
static int edge_cmp(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
    return a < b ? -1 : a > b;
}

static void t_range_float_edges(void)
{
    static const double v[] = {-INFINITY, -1.7976931348623157e308, -1.0, -2.2250738585072014e-308, -4.9e-324,
                               -0.0, 0.0, 4.9e-324, 2.2250738585072014e-308, 1.0, 1.7976931348623157e308,
                               INFINITY, NAN};
    enum { NV = sizeof v / sizeof v[0] };
    int order[2 * NV], n = 0;
    open_store();
    for (int i = 0; i < 2 * NV; i++) { /* keys k00..k25 in key order, values in a shuffled order */
        char k[8];
        ent_entity *e;
        snprintf(k, sizeof k, "k%02d", i);
        e = item(k, v[(i * 5) % NV]);
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
        order[n++] = i;
    }
    for (int i = 1; i < n; i++) /* the model: by value, then key (insertion sort, stable) */
        for (int j = i; j > 0 && edge_cmp(v[(order[j - 1] * 5) % NV], v[(order[j] * 5) % NV]) > 0; j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    for (int a = -1; a < NV; a++)
        for (int b = -1; b < NV; b++)
            for (int rev = 0; rev < 2; rev++)
                for (int paged = 0; paged < 2; paged++) {
                    ent_value from = ent_value_float(a < 0 ? 0 : v[a]), to = ent_value_float(b < 0 ? 0 : v[b]);
                    int want[2 * NV], nw = 0, got[2 * NV], ng = 0, more = 1;
                    char resume[256] = "";
                    for (int i = 0; i < n; i++) {
                        double x = v[(order[i] * 5) % NV];
                        if (a >= 0 && edge_cmp(x, v[a]) < 0) continue;
                        if (b >= 0 && edge_cmp(x, v[b]) >= 0) continue;
                        if (b < 0 && isnan(x) && !(a >= 0 && isnan(v[a]))) continue;
                        want[nw++] = order[i];
                    }
                    if (rev)
                        for (int i = 0; i < nw / 2; i++) {
                            int x = want[i];
                            want[i] = want[nw - 1 - i];
                            want[nw - 1 - i] = x;
                        }
                    while (more == 1 && ng <= nw) {
                        ent_range_opts o = ENT_RANGE_OPTS_INIT;
                        ent_iter *it = NULL;
                        ent_entity *e;
                        o.from = a < 0 ? NULL : &from;
                        o.to = b < 0 ? NULL : &to;
                        o.flags = rev ? ENT_ITER_REVERSE : 0;
                        o.limit = (uint64_t)paged;
                        o.resume = resume[0] ? resume : NULL;
                        ENT_OK_(ent_range(&it, S, NULL, F("item", "price"), &o));
                        while (ent_iter_next(&e, it) == ENT_OK) {
                            if (ng < 2 * NV) got[ng] = atoi(ent_entity_key(e).str + 1);
                            ng++;
                            ent_entity_free(e);
                        }
                        more = paged ? ent_iter_more(it) : 0;
                        if (ent_iter_resume(it)) snprintf(resume, sizeof resume, "%s", ent_iter_resume(it));
                        ent_iter_free(it);
                    }
                    CU_ASSERT_EQUAL(ng, nw);
                    for (int i = 0; i < nw && i < ng; i++) CU_ASSERT_EQUAL(got[i], want[i]);
                    if (ng != nw) fprintf(stderr, "  from %d to %d reverse %d paged %d: %d of %d\n", a, b, rev, paged, ng, nw);
                }
    close_store();
}

/* Every indexable kind sorts as its values. */
static void t_index_orders(void)
{
    static const char *labels[] = {"", "a", "a\x01", "ab", "b", "zz", "\xc3\xa9t\xc3\xa9"}; /* bytewise */
    static const uint64_t qtys[] = {0, 1, 255, 256, 65536, (uint64_t)1 << 40, UINT64_MAX};
    static const int64_t ats[] = {INT64_MIN, -1000000000, -1, 0, 1, 1700000000000000000LL, INT64_MAX};
    ent_txn *w;
    open_store();
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    for (int i = 6; i >= 0; i--) { /* inserted in reverse */
        char k[16];
        ent_entity *e;
        snprintf(k, sizeof k, "k%d", i);
        e = item(k, i);
        ENT_OK_(ent_entity_set_string(e, "label", labels[i]));
        ENT_OK_(ent_entity_set_uint(e, "qty", qtys[i]));
        ENT_OK_(ent_entity_set_timestamp(e, "at", ats[i]));
        ENT_OK_(ent_create(S, w, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(w));
    {
        const char *fields[] = {"label", "qty", "at"};
        for (int f = 0; f < 3; f++) {
            ent_iter *it = NULL;
            ent_entity *e;
            int i = 0;
            ENT_OK_(ent_range(&it, S, NULL, F("item", fields[f]), NULL));
            while (ent_iter_next(&e, it) == ENT_OK) {
                char want[16];
                snprintf(want, sizeof want, "k%d", i++);
                CU_ASSERT_STRING_EQUAL(ent_entity_key(e).str, want);
                ent_entity_free(e);
            }
            CU_ASSERT_EQUAL(i, 7);
            ent_iter_free(it);
        }
    }
    /* exact look-up on a non-unique index */
    {
        ent_value q = ent_value_uint(256);
        ent_iter *it = NULL;
        ent_entity *e;
        ENT_OK_(ent_find(&it, S, NULL, F("item", "qty"), &q));
        ENT_OK_(ent_iter_next(&e, it));
        CU_ASSERT_STRING_EQUAL(ent_entity_key(e).str, "k3");
        ent_entity_free(e);
        ENT_CHECK_RC(ent_iter_next(&e, it), ENT_NOTFOUND);
        ent_iter_free(it);
    }
    /* an index value too long for a backend key is refused, not truncated */
    {
        size_t max = S->bk.lim.max_key; /* the backend's limit, as the store read it at open */
        char *big = malloc(max + 1);
        ent_entity *e = item("big", 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(big);
        memset(big, 'x', max); /* with the index key's tag byte: one over */
        big[max] = '\0';
        ENT_OK_(ent_entity_set_string(e, "label", big));
        free(big);
        ENT_CHECK_RC(ent_create(S, NULL, e), ENT_FULL);
        ENT_ASSERT_MSG("item.label");
        ENT_ASSERT_DETAIL(ENT_DETAIL_TOO_LARGE);
        ENT_CHECK_RC(ent_exists(S, NULL, T("item"), &(ent_key){ENT_KEY_STRING, 0, "big", 3}), ENT_NOTFOUND);
        ent_entity_free(e);
    }
    close_store();
}

static void t_scan_and_count(void)
{
    ent_txn *w;
    uint64_t n = 0;
    open_store();
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    for (int i = 0; i < 50; i++) {
        char em[32];
        ent_entity *e;
        snprintf(em, sizeof em, "s%d@x", i);
        e = customer(em, i);
        ENT_OK_(ent_create(S, w, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(w));
    for (uint64_t id = 2; id <= 50; id += 3) {
        ent_key k = ent_key_id(id);
        ENT_OK_(ent_delete(S, NULL, T("customer"), &k, ENT_VERSION_ANY));
    }
    ENT_OK_(ent_count(&n, S, NULL, T("customer")));
    CU_ASSERT_EQUAL(n, 50 - 17);
    /* from a start key, forward and reverse, with a limit and a resume */
    {
        ent_key start = ent_key_id(10);
        ent_range_opts o = ENT_RANGE_OPTS_INIT;
        ent_iter *it = NULL;
        ent_entity *e;
        uint64_t prev = 0, seen = 0;
        char tok[128];
        ENT_OK_(ent_scan(&it, S, NULL, T("customer"), &start, &o));
        while (ent_iter_next(&e, it) == ENT_OK) {
            uint64_t id = ent_entity_key(e).id;
            CU_ASSERT(id >= 10 && id > prev && (id - 2) % 3 != 0);
            prev = id;
            seen++;
            ent_entity_free(e);
        }
        ent_iter_free(it);
        CU_ASSERT_EQUAL(seen, 27); /* 10..50 minus the 14 deleted there */
        o.flags = ENT_ITER_REVERSE;
        o.limit = 4;
        ENT_OK_(ent_scan(&it, S, NULL, T("customer"), &start, &o));
        prev = 1000;
        seen = 0;
        while (ent_iter_next(&e, it) == ENT_OK) {
            uint64_t id = ent_entity_key(e).id;
            CU_ASSERT(id <= 10 && id < prev);
            prev = id;
            seen++;
            ent_entity_free(e);
        }
        CU_ASSERT_EQUAL(seen, 4); /* 10 9 7 6 */
        CU_ASSERT_EQUAL(prev, 6);
        snprintf(tok, sizeof tok, "%s", ent_iter_resume(it));
        ent_iter_free(it);
        o.resume = tok;
        ENT_OK_(ent_scan(&it, S, NULL, T("customer"), NULL, &o));
        ENT_OK_(ent_iter_next(&e, it));
        CU_ASSERT_EQUAL(ent_entity_key(e).id, 4);
        ent_entity_free(e);
        ent_iter_free(it);
        /* tokens this library did not make are refused at open */
        {
            static const char *bad[] = {"k", "kx1", "k123", "i.", "i00.", "z00"};
            for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
                o.resume = bad[b];
                ENT_CHECK_RC(ent_scan(&it, S, NULL, T("customer"), NULL, &o), ENT_INVALID);
            }
        }
    }
    close_store();
}

/* Keys (as "id" or the string) of a scan of `type` from start (NULL: none) resumed from tok,
 * direction rev, into out; the code of ent_scan(). */
static int scan_keys(char *out, size_t size, const char *type, const ent_key *start, const char *tok, int rev)
{
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    ent_entity *e;
    size_t at = 0;
    int rc;
    o.flags = rev ? ENT_ITER_REVERSE : 0;
    o.resume = tok;
    out[0] = '\0';
    if ((rc = ent_scan(&it, S, NULL, T(type), start, &o))) return rc;
    while (ent_iter_next(&e, it) == ENT_OK) {
        ent_key k = ent_entity_key(e);
        if (k.kind == ENT_KEY_AUTO)
            at += (size_t)snprintf(out + at, size - at, "%llu ", (unsigned long long)k.id);
        else
            at += (size_t)snprintf(out + at, size - at, "%.*s ", (int)k.len, k.str);
        ent_entity_free(e);
    }
    ent_iter_free(it);
    return ENT_OK;
}

/* A type scan from a start key is bounded by it also when resumed: with a token of any position
 * of the type (from another scan, another start), it gives the entities from the start on (down
 * from it, reversed) that come after the token's position, as ent_range() keeps `from` and `to`.
 * A token before the start gave the entities between it and the start (from 5, resumed at 2:
 * 3 4 5 6 ...). Both key kinds, both directions, every start and every token, against the model. */
static void t_scan_start_bounds_resume(void)
{
    static const char *const skeys[] = {"b", "d", "f", "h", "j"};
    char want[256], got[256], tok[160];
    open_store();
    for (int i = 0; i < 5; i++) {
        char em[32];
        ent_entity *e;
        snprintf(em, sizeof em, "sb%d@x", i);
        e = customer(em, i); /* ids 1..5 */
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
        e = item(skeys[i], i);
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
    }
    for (int kind = 0; kind < 2; kind++) {
        const char *type = kind ? "item" : "customer";
        for (int rev = 0; rev < 2; rev++) {
            /* tokens: after each entity of a full scan in this direction */
            for (int ti = 0; ti < 5; ti++) {
                ent_range_opts o = ENT_RANGE_OPTS_INIT;
                ent_iter *it = NULL;
                ent_entity *e;
                o.flags = rev ? ENT_ITER_REVERSE : 0;
                o.limit = (uint64_t)ti + 1;
                ENT_OK_(ent_scan(&it, S, NULL, T(type), NULL, &o));
                while (ent_iter_next(&e, it) == ENT_OK) ent_entity_free(e);
                snprintf(tok, sizeof tok, "%s", ent_iter_resume(it));
                ent_iter_free(it);
                /* the token's entity: position ti of the scan, index tpos in key order */
                int tpos = rev ? 4 - ti : ti;
                /* starts: each entity's key, and a key between two (absent) */
                for (int si = 0; si < 10; si++) {
                    int spos = si / 2; /* the start is entity spos (si even) or just above it (odd) */
                    char sbuf[8];
                    ent_key start;
                    if (kind) {
                        snprintf(sbuf, sizeof sbuf, "%c", skeys[spos][0] + (si % 2));
                        start = ent_key_str(sbuf);
                    } else {
                        /* ids are 1..5; an odd si takes an id past the last, absent */
                        start = ent_key_id(si % 2 ? (uint64_t)spos + 100 : (uint64_t)spos + 1);
                    }
                    size_t at = 0;
                    want[0] = '\0';
                    for (int k = 0; k < 5; k++) {
                        int pos = rev ? 4 - k : k;
                        int from_start;
                        if (kind)
                            from_start = rev ? strcmp(skeys[pos], sbuf) <= 0 : strcmp(skeys[pos], sbuf) >= 0;
                        else
                            from_start = rev ? (uint64_t)pos + 1 <= start.id : (uint64_t)pos + 1 >= start.id;
                        int after_tok = rev ? pos < tpos : pos > tpos;
                        if (!from_start || !after_tok) continue;
                        if (kind)
                            at += (size_t)snprintf(want + at, sizeof want - at, "%s ", skeys[pos]);
                        else
                            at += (size_t)snprintf(want + at, sizeof want - at, "%d ", pos + 1);
                    }
                    ENT_OK_(scan_keys(got, sizeof got, type, &start, tok, rev));
                    if (strcmp(got, want) != 0)
                    {
                        char sdesc[24];
                        if (kind) snprintf(sdesc, sizeof sdesc, "\"%s\"", sbuf);
                        else snprintf(sdesc, sizeof sdesc, "%llu", (unsigned long long)start.id);
                        fprintf(stderr, "\n  %s scan %s from %s resumed after entity %d: got \"%s\", want \"%s\"\n",
                                type, rev ? "reversed" : "forward", sdesc, tpos + 1, got, want);
                    }
                    CU_ASSERT_STRING_EQUAL(got, want);
                }
            }
        }
    }
    close_store();
}

/* The entities an iterator yields, counted; the iterator is freed. */
static int drain_count(ent_iter *it)
{
    ent_entity *e;
    int n = 0;
    while (ent_iter_next(&e, it) == ENT_OK) {
        n++;
        ent_entity_free(e);
    }
    ent_iter_free(it);
    return n;
}

/* A look-up value of a neighbouring kind (store.h: an int for a uint, a uint for an int or a
 * timestamp) is taken or refused by its value, and a refusal says so: an int below 0 for a uint
 * field (a ref to auto keys too), a uint over 2^63-1 for an int or timestamp field. They said
 * "an int value cannot be compared with this uint field", which the int 3 can. */
static void t_neighbour_kind_refused_by_value(void)
{
    ent_iter *it = NULL;
    ent_entity *e;
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_value v;
    open_store();
    e = item("nk", 1.0);
    ENT_OK_(ent_entity_set_uint(e, "qty", 3));
    ENT_OK_(ent_create(S, NULL, e));
    ent_entity_free(e);
    v = ent_value_int(3); /* taken: finds the item */
    ENT_OK_(ent_find(&it, S, NULL, F("item", "qty"), &v));
    CU_ASSERT_EQUAL(drain_count(it), 1);
    v = ent_value_int(-1);
    ENT_CHECK_RC(ent_find(&it, S, NULL, F("item", "qty"), &v), ENT_INVALID);
    ENT_ASSERT_MSG("item.qty: int value -1 is negative: this uint field takes an int from 0 up");
    o.from = &v;
    ENT_CHECK_RC(ent_range(&it, S, NULL, F("item", "qty"), &o), ENT_INVALID);
    ENT_ASSERT_MSG("int value -1 is negative");
    ENT_CHECK_RC(ent_find(&it, S, NULL, F("item", "owner"), &v), ENT_INVALID);
    ENT_ASSERT_MSG("item.owner: int value -1 is negative: this ref field");
    v = ent_value_uint((uint64_t)INT64_MAX); /* taken: finds nothing */
    ENT_OK_(ent_find(&it, S, NULL, F("customer", "score"), &v));
    ent_iter_free(it);
    v = ent_value_uint((uint64_t)INT64_MAX + 1);
    ENT_CHECK_RC(ent_find(&it, S, NULL, F("customer", "score"), &v), ENT_INVALID);
    ENT_ASSERT_MSG("customer.score: uint value 9223372036854775808 is over 2^63-1: this int field");
    o.from = NULL;
    o.to = &v;
    ENT_CHECK_RC(ent_range(&it, S, NULL, F("item", "at"), &o), ENT_INVALID);
    ENT_ASSERT_MSG("item.at: uint value 9223372036854775808 is over 2^63-1: this timestamp field");
    v = ent_value_float(1.0); /* a kind no uint field takes, whatever the value */
    ENT_CHECK_RC(ent_find(&it, S, NULL, F("item", "qty"), &v), ENT_INVALID);
    ENT_ASSERT_MSG("item.qty: a float value cannot be compared with this uint field");
    close_store();
}

/* ---- refs ------------------------------------------------------------------------------------- */

static void t_refs(void)
{
    ent_entity *c, *i1, *i2, *n = NULL;
    ent_key ck;
    open_store();
    c = customer("r@x", 1);
    i1 = item("i1", 1);
    i2 = item("i2", 2);
    ENT_OK_(ent_create(S, NULL, c));
    ck = ent_entity_key(c);
    ENT_OK_(ent_entity_set_uint(i1, "owner", 42));
    ENT_CHECK_RC(ent_create(S, NULL, i1), ENT_INVALID);
    ENT_ASSERT_MSG("item.owner: customer 42 does not exist");
    ENT_OK_(ent_entity_set_uint(i1, "owner", ck.id));
    ENT_OK_(ent_create(S, NULL, i1));
    ENT_OK_(ent_entity_set_uint(i2, "owner", ck.id));
    ENT_OK_(ent_create(S, NULL, i2));
    /* "items of customer 1" is a look-up */
    {
        ent_value v = ent_value_uint(ck.id);
        ent_iter *it = NULL;
        ENT_OK_(ent_find(&it, S, NULL, F("item", "owner"), &v));
        CU_ASSERT_EQUAL(drain_count(it), 2);
    }
    /* refs to string keys */
    ENT_OK_(ent_entity_new(&n, T("note")));
    ENT_OK_(ent_entity_set_string(n, "item", "i9"));
    ENT_CHECK_RC(ent_create(S, NULL, n), ENT_INVALID);
    ENT_ASSERT_MSG("note.item");
    ENT_OK_(ent_entity_set_string(n, "item", "i2"));
    ENT_OK_(ent_create(S, NULL, n));
    /* deleting a referenced entity is a conflict naming a referrer */
    ENT_CHECK_RC(ent_delete(S, NULL, T("customer"), &ck, ENT_VERSION_ANY), ENT_CONFLICT);
    ENT_ASSERT_MSG("still referenced by item");
    {
        ent_key k2 = ent_key_str("i2");
        ENT_CHECK_RC(ent_delete(S, NULL, T("item"), &k2, ENT_VERSION_ANY), ENT_CONFLICT);
        ENT_ASSERT_MSG("note 1");
    }
    /* an entity may name itself when it is created (a root whose parent is itself): the write
     * makes the target exist, as a self-reference is let go on delete. It was refused as
     * "customer N does not exist", so a type with a required ref to itself could get no first
     * entity but through ent_txn_defer_ref_checks() (the tool and the server have none). */
    {
        ent_entity *self = customer("self@x", 7), *other = customer("other@x", 8);
        ent_key sk = ent_key_id(ck.id + 100), ok = ent_key_id(ck.id + 101);
        ENT_OK_(ent_entity_set_key(self, &sk));
        ENT_OK_(ent_entity_set_uint(self, "best", sk.id));
        ENT_OK_(ent_create(S, NULL, self));
        ENT_OK_(ent_entity_set_key(other, &ok));
        ENT_OK_(ent_entity_set_uint(other, "best", ok.id + 1)); /* another entity still must exist */
        ENT_CHECK_RC(ent_create(S, NULL, other), ENT_INVALID);
        ENT_ASSERT_MSG("customer.best: customer");
        ENT_OK_(ent_delete(S, NULL, T("customer"), &sk, ENT_VERSION_ANY));
        ent_entity_free(self);
        ent_entity_free(other);
    }
    /* a self-reference does not keep an entity alive */
    ENT_OK_(ent_entity_set_uint(c, "best", ck.id));
    ENT_OK_(ent_update(S, NULL, c, ENT_VERSION_ANY));
    {
        ent_key k1 = ent_key_str("i1"), k2 = ent_key_str("i2"), nk = ent_entity_key(n);
        ENT_OK_(ent_delete(S, NULL, T("note"), &nk, ENT_VERSION_ANY));
        ENT_OK_(ent_delete(S, NULL, T("item"), &k1, ENT_VERSION_ANY));
        ENT_OK_(ent_delete(S, NULL, T("item"), &k2, ENT_VERSION_ANY));
    }
    ENT_OK_(ent_delete(S, NULL, T("customer"), &ck, ENT_VERSION_ANY));
    ent_entity_free(c);
    ent_entity_free(i1);
    ent_entity_free(i2);
    ent_entity_free(n);
    close_store();
}

/* ---- the log of each mutation ---------------------------------------------------------------- */

static void t_events_follow_mutations(void)
{
    ent_entity *c;
    ent_event *ev = NULL;
    ent_key k;
    ent_txn *w;
    uint64_t first, last;
    open_store();
    c = customer("e@x", 1);
    ENT_OK_(ent_create(S, NULL, c));
    k = ent_entity_key(c);
    ENT_OK_(ent_entity_set_bool(c, "vip", 1));
    ENT_OK_(ent_entity_unset(c, "score"));
    ENT_OK_(ent_update(S, NULL, c, ENT_VERSION_ANY));
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    {
        ent_entity *d = customer("f@x", 3);
        ENT_OK_(ent_create(S, w, d));
        ent_entity_free(d);
    }
    ENT_OK_(ent_delete(S, w, T("customer"), &k, ENT_VERSION_ANY));
    ENT_OK_(ent_txn_commit(w));
    ENT_OK_(ent_log_bounds(&first, &last, S, NULL));
    CU_ASSERT_EQUAL(first, 1);
    CU_ASSERT_EQUAL(last, 4);
    ENT_OK_(ent_log_get(&ev, S, NULL, 1));
    CU_ASSERT_EQUAL(ev->op, ENT_OP_CREATE);
    CU_ASSERT_EQUAL(ev->version, 1);
    CU_ASSERT_EQUAL(ev->key.id, k.id);
    CU_ASSERT(ent_entity_has(ev->data, "email") && ent_entity_has(ev->data, "vip"));
    ent_event_free(ev);
    ENT_OK_(ent_log_get(&ev, S, NULL, 2));
    CU_ASSERT_EQUAL(ev->op, ENT_OP_UPDATE);
    CU_ASSERT_EQUAL(ev->version, 2);
    /* a removed field is in the update's data as removed */
    CU_ASSERT(ent_entity_changed(ev->data, F("customer", "score")) && !ent_entity_has(ev->data, "score"));
    CU_ASSERT(ent_entity_changed(ev->data, F("customer", "vip")) && ent_entity_has(ev->data, "vip"));
    CU_ASSERT_FALSE(ent_entity_changed(ev->data, F("customer", "email")));
    {
        uint64_t t2 = ev->txn;
        ent_event_free(ev);
        ENT_OK_(ent_log_get(&ev, S, NULL, 3));
        CU_ASSERT(ev->txn > t2);
        {
            uint64_t t3 = ev->txn;
            ent_event_free(ev);
            ENT_OK_(ent_log_get(&ev, S, NULL, 4));
            CU_ASSERT_EQUAL(ev->txn, t3); /* one txn, one txn number */
        }
    }
    CU_ASSERT_EQUAL(ev->op, ENT_OP_DELETE);
    CU_ASSERT_PTR_NULL(ev->data);
    ent_event_free(ev);
    ENT_CHECK_RC(ent_log_get(&ev, S, NULL, 5), ENT_NOTFOUND);
    ent_entity_free(c);
    close_store();
}

/* A randomized workload: the store's contents, counts and the unique index always agree with a
 * simple model (an array by id). */
static int range_count(const ent_field *f, const ent_value *from, unsigned flags)
{
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    o.from = from;
    o.flags = flags;
    if (ent_range(&it, S, NULL, f, &o) != ENT_OK) return -1;
    return drain_count(it);
}

/* NaN is stored and found, but an open range of numbers does not end with it. */
static void t_nan_outside_open_ranges(void)
{
    static const double prices[] = {NAN, 5.0, INFINITY, -1.0};
    ent_value v4 = ent_value_float(4.0), vn = ent_value_float(NAN);
    open_store();
    for (int i = 0; i < 4; i++) {
        char k[16];
        ent_entity *e;
        snprintf(k, sizeof k, "n%d", i);
        e = item(k, prices[i]);
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
    }
    CU_ASSERT_EQUAL(range_count(F("item", "price"), &v4, 0), 2);                 /* 5, inf */
    CU_ASSERT_EQUAL(range_count(F("item", "price"), &v4, ENT_ITER_REVERSE), 2);
    CU_ASSERT_EQUAL(range_count(F("item", "price"), NULL, 0), 3);                /* -1, 5, inf */
    CU_ASSERT_EQUAL(range_count(F("item", "price"), &vn, 0), 1);                 /* NaN itself */
    {
        ent_iter *it = NULL;
        ENT_OK_(ent_find(&it, S, NULL, F("item", "price"), &vn));
        CU_ASSERT_EQUAL(drain_count(it), 1);
    }
    close_store();
}

/* A field with a default is never absent: an update that removes it puts the default back (and
 * the log says so), so replaying the log gives the same state. */
/* What ent_get() returns owns its values: they stay valid after its transaction ends, after the
 * record is changed, deleted and its old versions collected (the memory backend frees versions no
 * reader sees at later commits; LMDB reuses pages), and the entity can be changed and written
 * back like one built by setters. Under ASan a value left pointing into the snapshot would be a
 * use after free here. */
static void t_get_values_outlive_txn(void)
{
    ent_entity *e, *got = NULL, *got2 = NULL;
    ent_txn *r;
    ent_key k1 = ent_key_str("k1"), k2 = ent_key_str("k2");
    const char *str;
    const void *bytes;
    size_t len;
    char *json = NULL;
    open_store();
    for (int i = 0; i < 2; i++) {
        e = item(i ? "k2" : "k1", 1.5);
        ENT_OK_(ent_entity_set_string(e, "label", i ? "second" : "first label, long enough to matter"));
        ENT_OK_(ent_entity_set_bytes(e, "blob", i ? "\x01\x02" : "\x00\xff\x00", i ? 2 : 3));
        ENT_OK_(ent_entity_set_json(e, "tags", "[\"red\",\"green\",\"blue\"]"));
        ENT_OK_(ent_entity_set_json(e, "attrs", "{\"size\":\"xl\",\"fit\":{\"cut\":\"slim\"}}"));
        ENT_OK_(ent_entity_set_json(e, "dims", "{\"w\":3,\"unit\":\"cm\"}"));
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_begin(&r, S, ENT_TXN_READ));
    ENT_OK_(ent_get(&got, S, r, T("item"), &k1));
    ENT_OK_(ent_get(&got2, S, r, T("item"), &k2));
    ent_txn_abort(r);
    /* change, delete and outgrow what the snapshot held */
    ENT_OK_(ent_entity_dup(&e, got));
    ENT_OK_(ent_entity_set_string(e, "label", "replaced"));
    ENT_OK_(ent_entity_set_json(e, "tags", "[\"x\"]"));
    ENT_OK_(ent_replace(S, NULL, e, 1));
    ent_entity_free(e);
    ENT_OK_(ent_delete(S, NULL, T("item"), &k2, 1));
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof k, "fill%02d", i);
        e = item(k, i);
        ENT_OK_(ent_entity_set_string(e, "label", k));
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_entity_get_string(&str, &len, got, "label"));
    CU_ASSERT_STRING_EQUAL(str, "first label, long enough to matter");
    ENT_OK_(ent_entity_get_bytes(&bytes, &len, got, "blob"));
    CU_ASSERT(len == 3 && memcmp(bytes, "\x00\xff\x00", 3) == 0);
    ENT_OK_(ent_entity_get_string(&str, NULL, got2, "tags[2]"));
    CU_ASSERT_STRING_EQUAL(str, "blue");
    ENT_OK_(ent_entity_get_string(&str, NULL, got2, "attrs.fit.cut"));
    CU_ASSERT_STRING_EQUAL(str, "slim");
    ENT_OK_(ent_entity_get_string(&str, NULL, got2, "dims.unit"));
    CU_ASSERT_STRING_EQUAL(str, "cm");
    /* a got entity changes like any other, and writes back (ent_update merges into it) */
    ENT_OK_(ent_entity_array_insert(got, "tags", 1));
    ENT_OK_(ent_entity_set_string(got, "tags[1]", "amber"));
    ENT_OK_(ent_entity_set_string(got, "attrs.color", "teal"));
    ENT_OK_(ent_entity_patch_json(got, "{\"attrs\":{\"size\":null},\"dims\":{\"unit\":null}}", 44));
    ENT_OK_(ent_entity_set_int(got, "dims.w", 4));
    ENT_OK_(ent_update(S, NULL, got, 2));
    ent_entity_free(got);
    got = NULL;
    ENT_OK_(ent_get(&got, S, NULL, T("item"), &k1));
    ENT_OK_(ent_entity_get_json(&json, got, "tags"));
    CU_ASSERT_STRING_EQUAL(json, "[\"red\",\"amber\",\"green\",\"blue\"]");
    free(json);
    ENT_OK_(ent_entity_get_json(&json, got, "attrs"));
    CU_ASSERT_STRING_EQUAL(json, "{\"fit\":{\"cut\":\"slim\"},\"color\":\"teal\"}");
    free(json);
    ENT_OK_(ent_entity_get_json(&json, got, "dims"));
    CU_ASSERT_STRING_EQUAL(json, "{\"w\":4}");
    free(json);
    ENT_OK_(ent_entity_get_string(&str, NULL, got, "label")); /* not in the update: the replace's */
    CU_ASSERT_STRING_EQUAL(str, "replaced");
    CU_ASSERT_EQUAL(ent_entity_version(got), 3);
    ent_entity_free(got);
    ent_entity_free(got2);
    close_store();
}

static void t_update_removes_defaulted_field(void)
{
    ent_entity *c, *got = NULL;
    ent_event *ev = NULL;
    ent_key k;
    uint64_t last = 0, problems = 1;
    int b = -1;
    open_store();
    c = customer("d@x", 1);
    ENT_OK_(ent_create(S, NULL, c));
    k = ent_entity_key(c);
    ENT_OK_(ent_entity_set_bool(c, "vip", 1));
    ENT_OK_(ent_update(S, NULL, c, ENT_VERSION_ANY));
    CU_ASSERT_EQUAL(ent_entity_version(c), 2);
    ENT_OK_(ent_entity_unset(c, "vip"));
    ENT_OK_(ent_update(S, NULL, c, 2));
    CU_ASSERT_EQUAL(ent_entity_version(c), 3);
    ENT_OK_(ent_entity_get_bool(&b, c, "vip"));
    CU_ASSERT_EQUAL(b, 0);
    ENT_OK_(ent_get(&got, S, NULL, T("customer"), &k));
    b = -1;
    ENT_OK_(ent_entity_get_bool(&b, got, "vip"));
    CU_ASSERT_EQUAL(b, 0);
    ent_entity_free(got);
    ENT_OK_(ent_log_bounds(NULL, &last, S, NULL));
    ENT_OK_(ent_log_get(&ev, S, NULL, last));
    CU_ASSERT(ent_entity_changed(ev->data, F("customer", "vip")));
    b = -1;
    ENT_OK_(ent_entity_get_bool(&b, ev->data, "vip"));
    CU_ASSERT_EQUAL(b, 0);
    ent_event_free(ev);
    /* removing it again changes nothing: no version, no event */
    ENT_OK_(ent_entity_unset(c, "vip"));
    ENT_OK_(ent_update(S, NULL, c, 3));
    CU_ASSERT_EQUAL(ent_entity_version(c), 3);
    {
        uint64_t again = 0;
        ENT_OK_(ent_log_bounds(NULL, &again, S, NULL));
        CU_ASSERT_EQUAL(again, last);
    }
    /* the log replays to the same state */
    ENT_OK_(ent_store_verify(&problems, S, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    ent_entity_free(c);
    close_store();
}

/* A conflict names the value that conflicts: NaN and infinities as such (they printed as 0.0),
 * a string with a NUL, and a key with one, whole ("a\0b" printed as "a", the value of another),
 * a timestamp in RFC 3339. */
static void t_conflict_message_values(void)
{
    static const char json[] =
        "{\"schema\":\"m\",\"version\":1,\"types\":{\"x\":{\"key\":\"string\",\"fields\":{"
        "\"f\":{\"id\":1,\"type\":\"float\",\"unique\":true},"
        "\"s\":{\"id\":2,\"type\":\"string\",\"unique\":true},"
        "\"t\":{\"id\":3,\"type\":\"timestamp\",\"unique\":true}}}}}";
    static const struct {
        double f;
        const char *msg;
    } fv[] = {{NAN, "x.f: value NaN is taken by x \"a\\u0000b\""},
              {INFINITY, "x.f: value Infinity is taken by x \"a\\u0000b\""},
              {-INFINITY, "x.f: value -Infinity is taken by x \"a\\u0000b\""}};
    char d[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_entity *e = NULL;
    ent_key nul = {ENT_KEY_STRING, 0, "a\0b", 3}, other = ent_key_str("other");
    ent_test_store_open(&s, &sc, d, backend, json, "msg");
    for (size_t i = 0; i < sizeof fv / sizeof fv[0]; i++) {
        ENT_OK_(ent_entity_new(&e, ent_store_type(s, "x")));
        ENT_OK_(ent_entity_set_key(e, &nul));
        ENT_OK_(ent_entity_set_float(e, "f", fv[i].f));
        ENT_OK_(ent_upsert(s, NULL, e, ENT_VERSION_ANY));
        ent_entity_free(e);
        ENT_OK_(ent_entity_new(&e, ent_store_type(s, "x")));
        ENT_OK_(ent_entity_set_key(e, &other));
        ENT_OK_(ent_entity_set_float(e, "f", fv[i].f));
        ENT_CHECK_RC(ent_create(s, NULL, e), ENT_CONFLICT);
        ENT_ASSERT_MSG(fv[i].msg);
        ent_entity_free(e);
    }
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "x")));
    ENT_OK_(ent_entity_set_key(e, &other));
    ENT_OK_(ent_entity_set_string(e, "s", "a"));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "x")));
    ENT_OK_(ent_entity_set_key(e, &nul));
    ENT_OK_(ent_entity_set_stringn(e, "s", "a\0b", 3));
    ENT_OK_(ent_update(s, NULL, e, ENT_VERSION_ANY));
    ent_entity_free(e);
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "x")));
    ENT_OK_(ent_entity_set_key(e, &(ent_key){ENT_KEY_STRING, 0, "new", 3}));
    ENT_OK_(ent_entity_set_stringn(e, "s", "a\0b", 3));
    ENT_CHECK_RC(ent_create(s, NULL, e), ENT_CONFLICT);
    ENT_ASSERT_MSG("x.s: value \"a\\u0000b\" is taken by x \"a\\u0000b\"");
    ent_entity_free(e);
    /* a timestamp as entity JSON writes it, not as ns since the epoch ("value 0 is taken") */
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "x")));
    ENT_OK_(ent_entity_set_key(e, &other));
    ENT_OK_(ent_entity_set_timestamp(e, "t", 0));
    ENT_OK_(ent_update(s, NULL, e, ENT_VERSION_ANY));
    ent_entity_free(e);
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "x")));
    ENT_OK_(ent_entity_set_key(e, &nul));
    ENT_OK_(ent_entity_set_timestamp(e, "t", 0));
    ENT_CHECK_RC(ent_update(s, NULL, e, ENT_VERSION_ANY), ENT_CONFLICT);
    ENT_ASSERT_MSG("x.t: value 1970-01-01T00:00:00.000000000Z is taken by x \"other\"");
    ent_entity_free(e);
    ent_test_store_close(&s, &sc, d);
}

/* An iterator over a non-unique index, stepped while its own write transaction changes the
 * index, goes on from the pair it stands on: the next pair in the index as it is now. On LMDB the
 * cursor followed the library's bookkeeping instead: after the whole index key under it went (its
 * one entity moved elsewhere) and pairs came in after it, it skipped them (found by the
 * differential test of the backends, tests/fuzz/diff_backends.c). */
static void iter_put(ent_store *s, ent_txn *w, uint64_t id, int64_t v)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_id(id);
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "x")));
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_set_int(e, "v", v));
    ENT_OK_(ent_upsert(s, w, e, ENT_VERSION_ANY));
    ent_entity_free(e);
}

static void t_iter_beside_own_writes(void)
{
    static const char json[] = "{\"schema\":\"it\",\"version\":1,\"types\":{\"x\":{\"key\":\"auto\",\"fields\":{"
                               "\"v\":{\"id\":1,\"type\":\"int\",\"indexed\":true}}}}}";
    char d[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_txn *w = NULL;
    ent_iter *it = NULL;
    ent_entity *e = NULL;
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    uint64_t want[] = {1, 3, 5, 8, 12}, got[8];
    size_t n = 0;
    ent_test_store_open(&s, &sc, d, backend, json, "iterw");
    ENT_OK_(ent_txn_begin(&w, s, ENT_TXN_WRITE));
    iter_put(s, w, 1, 10);
    iter_put(s, w, 8, 30);
    ENT_OK_(ent_range(&it, s, w, ent_type_field(ent_store_type(s, "x"), "v"), &o));
    ENT_OK_(ent_iter_next(&e, it));
    got[n++] = ent_entity_key(e).id;
    ent_entity_free(e);
    iter_put(s, w, 1, 0); /* the pair under the cursor, and its whole index key, go */
    iter_put(s, w, 3, 10);
    iter_put(s, w, 5, 30);
    iter_put(s, w, 12, 30);
    while (n < 8 && ent_iter_next(&e, it) == ENT_OK) {
        got[n++] = ent_entity_key(e).id;
        ent_entity_free(e);
    }
    CU_ASSERT_EQUAL(n, 5);
    for (size_t i = 0; i < n && i < 5; i++) {
        if (got[i] != want[i]) fprintf(stderr, "\n  item %zu: key %llu, wanted %llu\n", i, (unsigned long long)got[i], (unsigned long long)want[i]);
        CU_ASSERT_EQUAL(got[i], want[i]);
    }
    ent_iter_free(it);
    ent_txn_abort(w);
    ent_test_store_close(&s, &sc, d);
}

/* Versions end below ENT_VERSION_ANY: an entity restored at 2^64-2 refuses an update (it wrapped
 * to version 0, "not stored", and the log then failed to replay), 2^64-1 is no version, and a
 * delete there logs 2^64-1 rather than 0. */
static void t_versions_exhausted(void)
{
    ent_entity *e = NULL;
    ent_event *ev = NULL;
    ent_key k = ent_key_id(5);
    uint64_t last = 0;
    open_store();
    e = customer("v@x", 1);
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_CHECK_RC(ent_entity_set_version(e, ENT_VERSION_ANY), ENT_INVALID);
    /* 2^64-2 is no version to keep: its delete would log 2^64-1, ENT_VERSION_ANY's number (it
     * did: a consumer passing an event's version on as an expected one meant "any") */
    ENT_OK_(ent_entity_set_version(e, ENT_VERSION_ANY - 1));
    ENT_CHECK_RC(ent_restore(S, NULL, e), ENT_INVALID);
    ENT_ASSERT_MSG("version 18446744073709551614 is above the last one an entity can hold (18446744073709551613");
    ENT_CHECK_RC(ent_exists(S, NULL, T("customer"), &k), ENT_NOTFOUND);
    ENT_OK_(ent_entity_set_version(e, ENT_VERSION_LAST));
    ENT_OK_(ent_restore(S, NULL, e));
    ENT_OK_(ent_entity_set_int(e, "score", 2));
    ENT_CHECK_RC(ent_update(S, NULL, e, ENT_VERSION_ANY), ENT_FULL);
    ENT_ASSERT_MSG("versions exhausted");
    ENT_ASSERT_DETAIL(ENT_DETAIL_EXHAUSTED);
    ENT_CHECK_RC(ent_replace(S, NULL, e, ENT_VERSION_LAST), ENT_FULL);
    ENT_ASSERT_DETAIL(ENT_DETAIL_EXHAUSTED);
    /* a failure of another kind says nothing of the earlier one's cause */
    ENT_CHECK_RC(ent_update(S, NULL, e, 1), ENT_CONFLICT);
    ENT_ASSERT_DETAIL(ENT_DETAIL_NONE);
    ENT_OK_(ent_delete(S, NULL, T("customer"), &k, ENT_VERSION_LAST));
    ENT_OK_(ent_log_bounds(NULL, &last, S, NULL));
    ENT_OK_(ent_log_get(&ev, S, NULL, last));
    CU_ASSERT_EQUAL(ev->version, ENT_VERSION_LAST + 1); /* the version after the last: never "any" */
    CU_ASSERT_NOT_EQUAL(ev->version, ENT_VERSION_ANY);
    ent_event_free(ev);
    {
        /* the log's copies take it (and a log of before the limit: verify's own replay) */
        uint64_t problems = 9;
        ENT_OK_(ent_store_verify(&problems, S, NULL, NULL));
        CU_ASSERT_EQUAL(problems, 0);
    }
    ent_entity_free(e);
    close_store();
}

/* The last auto id taken (a restore at 2^64-1): the next create is ENT_FULL with the detail
 * ENT_DETAIL_EXHAUSTED, which tells it from a full disk and from a value too long for a key. */
static void t_auto_ids_exhausted(void)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_id(UINT64_MAX);
    open_store();
    e = customer("last@x", 1);
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_set_version(e, 1));
    ENT_OK_(ent_restore(S, NULL, e));
    ent_entity_free(e);
    e = customer("next@x", 1);
    ENT_CHECK_RC(ent_create(S, NULL, e), ENT_FULL);
    ENT_ASSERT_MSG("auto ids exhausted");
    ENT_ASSERT_DETAIL(ENT_DETAIL_EXHAUSTED);
    ent_entity_free(e);
    close_store();
}

/* ent_last_id() and ent_last_id_raise(): the counter counts deleted ids, is raised but never
 * lowered, commits or aborts with its transaction, and is refused for a type of string keys and
 * in a read transaction. `entity dump`/`load` carry it: a copy loaded from a dump gave id 9 again
 * when the original had handed out 9 and 10 and deleted them. */
static void t_last_id(void)
{
    ent_entity *e = NULL;
    ent_txn *w = NULL, *r = NULL;
    uint64_t id = 99, seq = 0, seq2 = 0;
    open_store();
    ENT_OK_(ent_last_id(&id, S, NULL, T("customer")));
    CU_ASSERT_EQUAL(id, 0);
    for (int i = 1; i <= 3; i++) {
        char em[32];
        snprintf(em, sizeof em, "l%d@x", i);
        e = customer(em, i);
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
    }
    ent_key k3 = ent_key_id(3);
    ENT_OK_(ent_delete(S, NULL, T("customer"), &k3, ENT_VERSION_ANY));
    ENT_OK_(ent_last_id(&id, S, NULL, T("customer")));
    CU_ASSERT_EQUAL(id, 3); /* the deleted id stays counted */
    ENT_OK_(ent_log_bounds(NULL, &seq, S, NULL));
    ENT_OK_(ent_last_id_raise(S, NULL, T("customer"), 10));
    ENT_OK_(ent_last_id_raise(S, NULL, T("customer"), 5)); /* never lowered */
    ENT_OK_(ent_last_id(&id, S, NULL, T("customer")));
    CU_ASSERT_EQUAL(id, 10);
    ENT_OK_(ent_log_bounds(NULL, &seq2, S, NULL));
    CU_ASSERT_EQUAL(seq2, seq + 1); /* one event, for the raise to 10; none for 5 */
    {
        ent_event *ev = NULL;
        ENT_OK_(ent_log_get(&ev, S, NULL, seq2));
        CU_ASSERT(ev && ev->op == ENT_OP_LAST_ID && ev->key.kind == ENT_KEY_AUTO && ev->key.id == 10 &&
                  ev->version == 0 && ev->data == NULL && !strcmp(ent_type_name(ev->type), "customer"));
        ent_event_free(ev);
    }
    e = customer("next@x", 1);
    ENT_OK_(ent_create(S, NULL, e));
    CU_ASSERT_EQUAL(ent_entity_key(e).id, 11);
    ent_entity_free(e);
    /* inside a transaction: seen by its own reads, gone with its abort */
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_OK_(ent_last_id_raise(S, w, T("customer"), 100));
    ENT_OK_(ent_last_id(&id, S, w, T("customer")));
    CU_ASSERT_EQUAL(id, 100);
    ent_txn_abort(w);
    ENT_OK_(ent_last_id(&id, S, NULL, T("customer")));
    CU_ASSERT_EQUAL(id, 11);
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_OK_(ent_last_id_raise(S, w, T("note"), 40));
    ENT_OK_(ent_txn_commit(w));
    ENT_OK_(ent_last_id(&id, S, NULL, T("note")));
    CU_ASSERT_EQUAL(id, 40);
    /* refusals */
    ENT_CHECK_RC(ent_last_id(&id, S, NULL, T("item")), ENT_INVALID);
    ENT_ASSERT_MSG("item has string keys");
    ENT_CHECK_RC(ent_last_id_raise(S, NULL, T("item"), 1), ENT_INVALID);
    ENT_ASSERT_MSG("item has string keys");
    ENT_CHECK_RC(ent_last_id(NULL, S, NULL, T("customer")), ENT_INVALID);
    ENT_OK_(ent_txn_begin(&r, S, ENT_TXN_READ));
    ENT_CHECK_RC(ent_last_id_raise(S, r, T("customer"), 50), ENT_READONLY);
    ENT_OK_(ent_last_id(&id, S, r, T("customer")));
    CU_ASSERT_EQUAL(id, 11);
    ent_txn_abort(r);
    close_store();
}

/* ent_txn_restore_forward() (entity load): a restore never moves a stored entity back. A lower
 * version, or the same one with other values, is ENT_CONFLICT naming both versions, with nothing
 * written and no event (a load of an old dump set version 3 back to 1 and logged an "update" to
 * version 1); the same entity at its version writes nothing; a higher version is stored. Without
 * the option (replay, mirrors) a restore stores what it is given. */
static void t_restore_forward(void)
{
    ent_entity *e = NULL, *got = NULL;
    ent_txn *w = NULL;
    ent_key k = ent_key_id(7);
    uint64_t last = 0, after = 0;
    int64_t score = 0;
    open_store();
    e = customer("f@x", 1);
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_set_version(e, 3));
    ENT_OK_(ent_restore(S, NULL, e));
    ENT_OK_(ent_log_bounds(NULL, &last, S, NULL));
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_restore_forward(w));
    ENT_OK_(ent_entity_set_version(e, 3)); /* the same entity at its version: nothing */
    ENT_OK_(ent_restore(S, w, e));
    ENT_OK_(ent_entity_set_version(e, 2)); /* the same values at an older version (an older dump): refused too */
    ENT_CHECK_RC(ent_restore(S, w, e), ENT_CONFLICT);
    ENT_ASSERT_MSG("customer 7 is at version 3 in the store, the restored one at 2: versions never go back");
    ENT_OK_(ent_entity_set_int(e, "score", 2));
    ENT_OK_(ent_entity_set_version(e, 1));
    ENT_CHECK_RC(ent_restore(S, w, e), ENT_CONFLICT);
    ENT_ASSERT_MSG("customer 7 is at version 3 in the store, the restored one at 1");
    ENT_OK_(ent_entity_set_version(e, 3));
    ENT_CHECK_RC(ent_restore(S, w, e), ENT_CONFLICT);
    ENT_ASSERT_MSG("at 3 with other values");
    ENT_OK_(ent_txn_commit(w)); /* the refusals left the transaction usable, and wrote nothing */
    w = NULL;
    ENT_OK_(ent_log_bounds(NULL, &after, S, NULL));
    CU_ASSERT_EQUAL(after, last);
    ENT_OK_(ent_get(&got, S, NULL, T("customer"), &k));
    CU_ASSERT_EQUAL(ent_entity_version(got), 3);
    ENT_OK_(ent_entity_get_int(&score, got, "score"));
    CU_ASSERT_EQUAL(score, 1);
    ent_entity_free(got);
    got = NULL;
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_restore_forward(w));
    ENT_OK_(ent_entity_set_version(e, 5));
    ENT_OK_(ent_restore(S, w, e));
    ENT_OK_(ent_txn_commit(w));
    w = NULL;
    ENT_OK_(ent_get(&got, S, NULL, T("customer"), &k));
    CU_ASSERT_EQUAL(ent_entity_version(got), 5);
    ent_entity_free(got);
    got = NULL;
    ENT_CHECK_RC(ent_txn_restore_forward(NULL), ENT_INVALID);
    ENT_OK_(ent_entity_set_version(e, 2)); /* replay and mirrors keep what they are given */
    ENT_OK_(ent_restore(S, NULL, e));
    ENT_OK_(ent_get(&got, S, NULL, T("customer"), &k));
    CU_ASSERT_EQUAL(ent_entity_version(got), 2);
    ent_entity_free(got);
    ent_entity_free(e);
    close_store();
}

/* A default that is a map, or an array of maps, gets the defaults of its own sub-fields when it
 * goes in: the created entity, its event and a later get are the same (the event and the record
 * held {} and [{}] while every read filled them in). */
static void t_default_map_gets_sub_defaults(void)
{
    static const char json[] =
        "{\"schema\":\"d\",\"version\":1,\"types\":{\"x\":{\"key\":\"auto\",\"fields\":{"
        "\"dm\":{\"id\":1,\"type\":\"map\",\"default\":{},\"fields\":{"
        "  \"q\":{\"id\":1,\"type\":\"int\",\"default\":3}}},"
        "\"am\":{\"id\":2,\"type\":\"array\",\"default\":[{}],\"items\":{\"type\":\"map\",\"fields\":{"
        "  \"v\":{\"id\":1,\"type\":\"string\",\"default\":\"vv\"}}}}}}}}";
    static const char want[] = "{\"dm\":{\"q\":3},\"am\":[{\"v\":\"vv\"}]}";
    char d[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_entity *e = NULL, *got = NULL, *pub = NULL;
    ent_event *ev = NULL;
    ent_key k;
    char *text = NULL;
    uint64_t last = 0;
    ent_test_store_open(&s, &sc, d, backend, json, "dflt");
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "x")));
    ENT_OK_(ent_create(s, NULL, e));
    ENT_OK_(ent_entity_to_json(&text, e, 0));
    CU_ASSERT_STRING_EQUAL(text, want);
    free(text);
    k = ent_entity_key(e);
    ENT_OK_(ent_get(&got, s, NULL, ent_store_type(s, "x"), &k));
    ENT_OK_(ent_entity_to_json(&text, got, 0));
    CU_ASSERT_STRING_EQUAL(text, want);
    free(text);
    ENT_OK_(ent_log_bounds(NULL, &last, s, NULL));
    ENT_OK_(ent_log_get(&ev, s, NULL, last));
    ENT_OK_(ent_entity_to_json(&text, ev->data, 0));
    CU_ASSERT_STRING_EQUAL(text, want);
    free(text);
    /* the public call fills them the same way */
    ENT_OK_(ent_entity_new(&pub, ent_store_type(s, "x")));
    ENT_OK_(ent_entity_apply_defaults(pub));
    ENT_OK_(ent_entity_to_json(&text, pub, 0));
    CU_ASSERT_STRING_EQUAL(text, want);
    free(text);
    ent_entity_free(pub);
    ent_event_free(ev);
    ent_entity_free(got);
    ent_entity_free(e);
    ent_test_store_close(&s, &sc, d);
}

static void t_random_model(void)
{
    enum { IDS = 120, OPS = 1500 };
    int64_t model[IDS + 1];
    int present[IDS + 1];
    uint64_t created = 0;
    open_store();
    memset(present, 0, sizeof present);
    srand(11);
    for (int op = 0; op < OPS; op++) {
        int r = rand() % 10;
        if (r < 4 || created == 0) {
            char em[32];
            ent_entity *e;
            if (created == IDS) continue;
            snprintf(em, sizeof em, "m%llu@x", (unsigned long long)created + 1);
            e = customer(em, op);
            ENT_OK_(ent_create(S, NULL, e));
            created++;
            CU_ASSERT_EQUAL(ent_entity_key(e).id, created);
            model[created] = op;
            present[created] = 1;
            ent_entity_free(e);
        } else {
            uint64_t id = 1 + (uint64_t)rand() % created;
            ent_key k = ent_key_id(id);
            if (r < 8) {
                ent_entity *e = NULL;
                int rc = ent_get(&e, S, NULL, T("customer"), &k);
                CU_ASSERT_EQUAL(rc, present[id] ? ENT_OK : ENT_NOTFOUND);
                if (rc == ENT_OK) {
                    int64_t sc;
                    ENT_OK_(ent_entity_get_int(&sc, e, "score"));
                    CU_ASSERT_EQUAL(sc, model[id]);
                    ENT_OK_(ent_entity_set_int(e, "score", op));
                    ENT_OK_(ent_update(S, NULL, e, ent_entity_version(e)));
                    model[id] = op;
                }
                ent_entity_free(e);
            } else {
                int rc = ent_delete(S, NULL, T("customer"), &k, ENT_VERSION_ANY);
                CU_ASSERT_EQUAL(rc, present[id] ? ENT_OK : ENT_NOTFOUND);
                present[id] = 0;
            }
        }
    }
    {
        uint64_t n = 0, want = 0;
        for (int i = 1; i <= IDS; i++) want += (uint64_t)present[i];
        ENT_OK_(ent_count(&n, S, NULL, T("customer")));
        CU_ASSERT_EQUAL(n, want);
    }
    for (uint64_t id = 1; id <= created; id++) {
        char em[32];
        ent_value v;
        ent_entity *e = NULL;
        snprintf(em, sizeof em, "m%llu@x", (unsigned long long)id);
        v = ent_value_string(em);
        CU_ASSERT_EQUAL(ent_find_unique(&e, S, NULL, F("customer", "email"), &v), present[id] ? ENT_OK : ENT_NOTFOUND);
        ent_entity_free(e);
    }
    close_store();
}

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_create_get_versions),
        ENT_TEST(t_update_replace_upsert),
        ENT_TEST(t_validation_and_keys),
        ENT_TEST(t_transactions),
        ENT_TEST(t_unique),
        ENT_TEST(t_range_model),
        ENT_TEST(t_unique_resume_position),
        ENT_TEST(t_index_orders),
        ENT_TEST(t_range_float_edges),
        ENT_TEST(t_range_resume_outside_bounds),
        ENT_TEST(t_scan_and_count),
        ENT_TEST(t_scan_start_bounds_resume),
        ENT_TEST(t_neighbour_kind_refused_by_value),
        ENT_TEST(t_refs),
        ENT_TEST(t_events_follow_mutations),
        ENT_TEST(t_update_removes_defaulted_field),
        ENT_TEST(t_default_map_gets_sub_defaults),
        ENT_TEST(t_conflict_message_values),
        ENT_TEST(t_versions_exhausted),
        ENT_TEST(t_auto_ids_exhausted),
        ENT_TEST(t_last_id),
        ENT_TEST(t_restore_forward),
        ENT_TEST(t_iter_beside_own_writes),
        ENT_TEST(t_get_values_outlive_txn),
        ENT_TEST(t_nan_outside_open_ranges),
        ENT_TEST(t_random_model),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_repo_%s", backend);
    return ent_test_run(suite, cases);
}
