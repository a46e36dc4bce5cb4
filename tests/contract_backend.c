/* The backend contract: one list of tests, run once per registered backend (its name in argv[1];
 * tests/CMakeLists.txt takes the list from the table in src/backends.c). Every semantic listed at
 * the top of src/backend.h is proven here for every implementation. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "test_util.h"

static const ent_backend_ops *B;
static const char *B_arg; /* "fault:memory": "memory" */
static char dir[ENT_TEST_PATH_MAX];
static ent_bk *be;

static ent_slice S(const char *s) { return (ent_slice){s, strlen(s)}; }
static ent_slice SN(const void *p, size_t n) { return (ent_slice){p, n}; }

/* A fresh store per test. */
static void open_store(void)
{
    ent_backend_opts o = {0};
    o.durability = ENT__DUR_NONE;
    o.arg = B_arg;
    ENT_TEST_MKDTEMP(dir, "contract-backend");
    ENT_OK_(B->open(&be, dir, &o));
}

static void close_store(void)
{
    B->close(be);
    be = NULL;
    ent_test_rm_rf(dir);
}

static unsigned mktable(const char *name, unsigned flags)
{
    ent_btxn *w;
    unsigned t;
    ENT_OK_(B->txn_begin(be, 1, &w));
    ENT_OK_(B->table(be, w, name, ENT_TBL_CREATE | flags, &t));
    ENT_OK_(B->txn_commit(w));
    return t;
}

static int slice_eq(ent_slice a, const char *s) { return a.len == strlen(s) && memcmp(a.data, s, a.len) == 0; }

static void put_s(void *w, unsigned t, const char *k, const char *v)
{
    ent_slice ks = S(k), vs = S(v);
    ENT_OK_(B->put(w, t, &ks, &vs, 0));
}

/* ---- basic operations ----------------------------------------------------------------------- */

static void t_get_put_del(void)
{
    ent_btxn *w, *r;
    ent_slice k = S("alpha"), v = S("one"), v2 = S("two"), out;
    open_store();
    unsigned t = mktable("main", 0);
    ENT_OK_(B->txn_begin(be, 1, &w));
    ENT_CHECK_RC(B->get(w, t, &k, &out), ENT_NOTFOUND);
    ENT_OK_(B->put(w, t, &k, &v, 0));
    ENT_OK_(B->get(w, t, &k, &out)); /* a write txn sees its own writes */
    CU_ASSERT(slice_eq(out, "one"));
    ENT_CHECK_RC(B->put(w, t, &k, &v2, ENT_PUT_NOOVERWRITE), ENT_CONFLICT);
    ENT_OK_(B->get(w, t, &k, &out));
    CU_ASSERT(slice_eq(out, "one"));
    ENT_OK_(B->put(w, t, &k, &v2, 0)); /* overwrite */
    ENT_OK_(B->txn_commit(w));

    ENT_OK_(B->txn_begin(be, 0, &r));
    ENT_OK_(B->get(r, t, &k, &out));
    CU_ASSERT(slice_eq(out, "two"));
    ENT_CHECK_RC(B->put(r, t, &k, &v, 0), ENT_READONLY);
    ENT_CHECK_RC(B->del(r, t, &k, NULL), ENT_READONLY);
    ENT_CHECK_RC(B->clear(r, t), ENT_READONLY);
    B->txn_abort(r);

    ENT_OK_(B->txn_begin(be, 1, &w));
    ENT_OK_(B->del(w, t, &k, NULL));
    ENT_CHECK_RC(B->del(w, t, &k, NULL), ENT_NOTFOUND);
    ENT_CHECK_RC(B->get(w, t, &k, &out), ENT_NOTFOUND);
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 0, &r));
    ENT_CHECK_RC(B->get(r, t, &k, &out), ENT_NOTFOUND);
    ENT_OK_(B->txn_commit(r)); /* committing a read txn just ends it */
    close_store();
}

static void t_tables(void)
{
    ent_btxn *w, *r;
    unsigned t1, t2, t3;
    ent_slice k = S("k"), out;
    open_store();
    ENT_OK_(B->txn_begin(be, 0, &r));
    ENT_CHECK_RC(B->table(be, r, "nope", 0, &t1), ENT_NOTFOUND);
    ENT_CHECK_RC(B->table(be, r, "nope", ENT_TBL_CREATE, &t1), ENT_READONLY);
    B->txn_abort(r);
    ENT_OK_(B->txn_begin(be, 1, &w));
    ENT_OK_(B->table(be, w, "a", ENT_TBL_CREATE, &t1));
    ENT_OK_(B->table(be, w, "b", ENT_TBL_CREATE, &t2));
    CU_ASSERT(t1 != t2);
    ENT_OK_(B->table(be, w, "a", 0, &t3));
    CU_ASSERT_EQUAL(t1, t3);
    put_s(w, t1, "k", "in a");
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 0, &r));
    ENT_OK_(B->table(be, r, "a", 0, &t3));
    CU_ASSERT_EQUAL(t1, t3);
    ENT_OK_(B->get(r, t1, &k, &out));
    CU_ASSERT(slice_eq(out, "in a"));
    ENT_CHECK_RC(B->get(r, t2, &k, &out), ENT_NOTFOUND); /* tables are separate */
    B->txn_abort(r);
    close_store();
}

static void t_empty_and_binary_keys(void)
{
    ent_btxn *w;
    ent_slice e = SN("", 0), v = S("v"), out;
    const char a[] = {'a', 0, 'b'}, b[] = {'a', 0, 'c'}, c[] = {'a'}, d[] = {'a', 0};
    open_store();
    unsigned t = mktable("bin", 0);
    ENT_OK_(B->txn_begin(be, 1, &w));
    ENT_CHECK_RC(B->put(w, t, &e, &v, 0), ENT_INVALID);
    ENT_ASSERT_MSG("empty");
    ENT_CHECK_RC(B->get(w, t, &e, &out), ENT_INVALID);
    ENT_CHECK_RC(B->del(w, t, &e, NULL), ENT_INVALID);
    const char *keys[] = {a, b, c, d};
    size_t lens[] = {3, 3, 1, 2};
    for (int i = 0; i < 4; i++) {
        ent_slice k = SN(keys[i], lens[i]), vv = SN(&i, sizeof i);
        ENT_OK_(B->put(w, t, &k, &vv, 0));
    }
    for (int i = 0; i < 4; i++) {
        ent_slice k = SN(keys[i], lens[i]);
        ENT_OK_(B->get(w, t, &k, &out));
        CU_ASSERT_EQUAL(out.len, sizeof(int));
        CU_ASSERT(memcmp(out.data, &i, sizeof i) == 0);
    }
    /* order: "a" < "a\0" < "a\0b" < "a\0c" */
    ent_bcur *cur;
    ent_slice ck, cv;
    int want[] = {2, 3, 0, 1};
    ENT_OK_(B->cursor_open(w, t, &cur));
    for (int i = 0; i < 4; i++) {
        ENT_OK_(B->cursor_get(cur, i ? ENT_CUR_NEXT : ENT_CUR_FIRST, &ck, &cv));
        CU_ASSERT(ck.len == lens[want[i]] && memcmp(ck.data, keys[want[i]], ck.len) == 0);
    }
    B->cursor_close(cur);
    ENT_OK_(B->txn_commit(w));
    close_store();
}

static void t_key_limits(void)
{
    ent_btxn *w;
    ent_backend_limits lim;
    char *big, msg[128];
    ent_slice v = S("v"), out;
    size_t max;
    open_store();
    B->limits(be, &lim);
    max = lim.max_key;
    CU_ASSERT_FATAL(max >= 1 && max < (1u << 20));
    if (B->max_key) CU_ASSERT(max >= B->max_key); /* the limit the vtable promises is kept */
    /* A scratch store takes exactly the keys the on-disk backends take: what it holds replays to disk. */
    if (lim.caps & ENT_BK_CAP_VOLATILE) CU_ASSERT_EQUAL(max, ent__backend_min_key(ENT_BK_CAP_PERSISTENT));
    unsigned t = mktable("keys", 0), d = mktable("dups", ENT_TBL_DUPSORT);
    big = malloc(max + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 'x', max + 1);
    ENT_OK_(B->txn_begin(be, 1, &w));
    ent_slice kmax = SN(big, max), kover = SN(big, max + 1);
    ENT_OK_(B->put(w, t, &kmax, &v, 0));
    ENT_OK_(B->get(w, t, &kmax, &out));
    ENT_CHECK_RC(B->put(w, t, &kover, &v, 0), ENT_FULL);
    snprintf(msg, sizeof msg, "key of %zu bytes exceeds the backend limit of %zu", max + 1, max);
    ENT_ASSERT_MSG(msg);
    ENT_ASSERT_DETAIL(ENT_DETAIL_TOO_LARGE); /* the input's fault: no room or retry helps */
    /* a key longer than the limit is never found (nothing that long can be stored) */
    ENT_CHECK_RC(B->get(w, t, &kover, &out), ENT_NOTFOUND);
    /* DUPSORT values are keys of a sub-tree: the same limit */
    ent_slice dk = S("k");
    ENT_OK_(B->put(w, d, &dk, &kmax, 0));
    ENT_CHECK_RC(B->put(w, d, &dk, &kover, 0), ENT_FULL);
    snprintf(msg, sizeof msg, "%zu", max + 1);
    ENT_ASSERT_MSG(msg);
    ENT_ASSERT_DETAIL(ENT_DETAIL_TOO_LARGE);
    /* the txn is still usable after a refused key */
    ent_slice k2 = S("after");
    ENT_OK_(B->put(w, t, &k2, &v, 0));
    ENT_OK_(B->txn_commit(w));
    free(big);
    close_store();
}

static void t_large_values(void)
{
    ent_btxn *w, *r;
    size_t n = 1 << 20;
    unsigned char *big = malloc(n);
    ent_slice out;
    for (size_t i = 0; i < n; i++) big[i] = (unsigned char)(i * 2654435761u >> 13);
    open_store();
    unsigned t = mktable("blobs", 0);
    ENT_OK_(B->txn_begin(be, 1, &w));
    for (int i = 0; i < 4; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "b%d", i);
        ent_slice k = S(kb), v = SN(big, n - (size_t)i);
        ENT_OK_(B->put(w, t, &k, &v, 0));
    }
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 0, &r));
    for (int i = 0; i < 4; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "b%d", i);
        ent_slice k = S(kb);
        ENT_OK_(B->get(r, t, &k, &out));
        CU_ASSERT_EQUAL(out.len, n - (size_t)i);
        CU_ASSERT(memcmp(out.data, big, out.len) == 0);
    }
    B->txn_abort(r);
    free(big);
    close_store();
}

/* ---- ordering and cursors ------------------------------------------------------------------- */

typedef struct bkey {
    unsigned char b[12];
    size_t n;
} bkey;

static int bkey_cmp(const void *pa, const void *pb)
{
    const bkey *a = pa, *b = pb;
    int c = memcmp(a->b, b->b, a->n < b->n ? a->n : b->n);
    if (c) return c;
    return a->n < b->n ? -1 : a->n > b->n;
}

static void t_order_random(void)
{
    enum { N = 4000 };
    bkey *keys = calloc(N, sizeof *keys);
    const unsigned char alpha[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 'a'};
    ent_btxn *w, *r;
    ent_bcur *cur;
    ent_slice k, v;
    size_t n = 0;
    srand(1234);
    open_store();
    unsigned t = mktable("ord", 0);
    ENT_OK_(B->txn_begin(be, 1, &w));
    while (n < N) {
        bkey *x = &keys[n];
        ent_slice ks, out;
        x->n = 1 + (size_t)rand() % 6;
        for (size_t i = 0; i < x->n; i++) x->b[i] = alpha[rand() % (int)sizeof alpha];
        ks = SN(x->b, x->n);
        if (B->get(w, t, &ks, &out) == ENT_OK) continue; /* duplicate key */
        ent_slice vs = SN(&n, sizeof n);
        ENT_OK_(B->put(w, t, &ks, &vs, 0));
        n++;
    }
    ENT_OK_(B->txn_commit(w));
    qsort(keys, N, sizeof *keys, bkey_cmp);
    ENT_OK_(B->txn_begin(be, 0, &r));
    ENT_OK_(B->cursor_open(r, t, &cur));
    size_t i = 0, bad = 0;
    for (int rc = B->cursor_get(cur, ENT_CUR_FIRST, &k, &v); rc == ENT_OK; rc = B->cursor_get(cur, ENT_CUR_NEXT, &k, &v), i++)
        if (i >= N || k.len != keys[i].n || memcmp(k.data, keys[i].b, k.len) != 0) bad++;
    CU_ASSERT_EQUAL(i, N);
    CU_ASSERT_EQUAL(bad, 0);
    i = N;
    for (int rc = B->cursor_get(cur, ENT_CUR_LAST, &k, &v); rc == ENT_OK; rc = B->cursor_get(cur, ENT_CUR_PREV, &k, &v)) {
        i--;
        if (k.len != keys[i].n || memcmp(k.data, keys[i].b, k.len) != 0) bad++;
    }
    CU_ASSERT_EQUAL(i, 0);
    CU_ASSERT_EQUAL(bad, 0);
    /* SEEK lands on the lower bound of random probes */
    for (int j = 0; j < 500; j++) {
        bkey p = {{0}, 1 + (size_t)rand() % 6};
        for (size_t q = 0; q < p.n; q++) p.b[q] = alpha[rand() % (int)sizeof alpha];
        size_t lo = 0, hi = N;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (bkey_cmp(&keys[mid], &p) < 0) lo = mid + 1;
            else hi = mid;
        }
        k = SN(p.b, p.n);
        int rc = B->cursor_get(cur, ENT_CUR_SEEK, &k, &v);
        if (lo == N) {
            CU_ASSERT_EQUAL(rc, ENT_NOTFOUND);
        } else {
            CU_ASSERT_EQUAL_FATAL(rc, ENT_OK);
            CU_ASSERT(k.len == keys[lo].n && memcmp(k.data, keys[lo].b, k.len) == 0);
        }
    }
    B->cursor_close(cur);
    B->txn_abort(r);
    free(keys);
    close_store();
}

static void t_cursor_moves(void)
{
    ent_btxn *w, *r;
    ent_bcur *cur;
    ent_slice k, v;
    open_store();
    unsigned t = mktable("c", 0), empty = mktable("empty", 0);
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, t, "b", "B");
    put_s(w, t, "d", "D");
    put_s(w, t, "f", "F");
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 0, &r));

    ENT_OK_(B->cursor_open(r, empty, &cur));
    ENT_CHECK_RC(B->cursor_get(cur, ENT_CUR_FIRST, &k, &v), ENT_NOTFOUND);
    ENT_CHECK_RC(B->cursor_get(cur, ENT_CUR_LAST, &k, &v), ENT_NOTFOUND);
    k = S("a");
    ENT_CHECK_RC(B->cursor_get(cur, ENT_CUR_SEEK, &k, &v), ENT_NOTFOUND);
    B->cursor_close(cur);

    ENT_OK_(B->cursor_open(r, t, &cur));
    ENT_OK_(B->cursor_get(cur, ENT_CUR_NEXT, &k, &v)); /* unpositioned NEXT = FIRST */
    CU_ASSERT(slice_eq(k, "b") && slice_eq(v, "B"));
    B->cursor_close(cur);
    ENT_OK_(B->cursor_open(r, t, &cur));
    ENT_OK_(B->cursor_get(cur, ENT_CUR_PREV, &k, &v)); /* unpositioned PREV = LAST */
    CU_ASSERT(slice_eq(k, "f"));
    ENT_OK_(B->cursor_get(cur, ENT_CUR_CURRENT, &k, &v));
    CU_ASSERT(slice_eq(k, "f") && slice_eq(v, "F"));
    ENT_CHECK_RC(B->cursor_get(cur, ENT_CUR_NEXT, &k, &v), ENT_NOTFOUND); /* past the end */
    ENT_OK_(B->cursor_get(cur, ENT_CUR_FIRST, &k, &v));
    CU_ASSERT(slice_eq(k, "b"));
    ENT_CHECK_RC(B->cursor_get(cur, ENT_CUR_PREV, &k, &v), ENT_NOTFOUND); /* before the start */

    const char *probe[] = {"a", "b", "c", "d", "e", "f", "g", "bb", "f\x01"};
    const char *want[] = {"b", "b", "d", "d", "f", "f", NULL, "d", NULL};
    for (int i = 0; i < 9; i++) {
        k = S(probe[i]);
        int rc = B->cursor_get(cur, ENT_CUR_SEEK, &k, &v);
        if (!want[i]) {
            CU_ASSERT_EQUAL(rc, ENT_NOTFOUND);
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(rc, ENT_OK);
        CU_ASSERT(slice_eq(k, want[i]));
    }
    k = S("c");
    ENT_OK_(B->cursor_get(cur, ENT_CUR_SEEK, &k, &v));
    ENT_OK_(B->cursor_get(cur, ENT_CUR_PREV, &k, &v)); /* both directions from a seek */
    CU_ASSERT(slice_eq(k, "b"));
    ENT_OK_(B->cursor_get(cur, ENT_CUR_NEXT, &k, &v));
    CU_ASSERT(slice_eq(k, "d"));
    ENT_OK_(B->cursor_get(cur, ENT_CUR_NEXT, &k, &v));
    CU_ASSERT(slice_eq(k, "f"));
    ENT_CHECK_RC(B->cursor_get(cur, ENT_CUR_SEEK_PAIR, &k, &v), ENT_INVALID); /* not DUPSORT */
    ENT_CHECK_RC(B->cursor_get(cur, 99, &k, &v), ENT_INVALID);
    B->cursor_close(cur);
    B->txn_abort(r);
    close_store();
}

/* Deleting the pair under a cursor inside a write txn, then NEXT: the iteration goes on. */
static void t_cursor_delete_while_iterating(void)
{
    ent_btxn *w;
    ent_bcur *cur;
    ent_slice k, v;
    char kb[16];
    int seen = 0;
    open_store();
    unsigned t = mktable("it", 0);
    ENT_OK_(B->txn_begin(be, 1, &w));
    for (int i = 0; i < 300; i++) {
        snprintf(kb, sizeof kb, "k%03d", i);
        put_s(w, t, kb, "x");
    }
    ENT_OK_(B->cursor_open(w, t, &cur));
    k = S("k100");
    ENT_OK_(B->cursor_get(cur, ENT_CUR_SEEK, &k, &v));
    for (int rc = ENT_OK; rc == ENT_OK; rc = B->cursor_get(cur, ENT_CUR_NEXT, &k, &v)) {
        char want[16];
        snprintf(want, sizeof want, "k%03d", 100 + seen);
        CU_ASSERT(slice_eq(k, want));
        if (!slice_eq(k, want)) break;
        ent_slice dk = SN(want, 4);
        ENT_OK_(B->del(w, t, &dk, NULL));
        seen++;
    }
    CU_ASSERT_EQUAL(seen, 200);
    B->cursor_close(cur);
    ENT_OK_(B->txn_commit(w));
    close_store();
}

/* ---- DUPSORT -------------------------------------------------------------------------------- */

static void t_dupsort(void)
{
    ent_btxn *w, *r;
    ent_bcur *cur;
    ent_slice k, v, out;
    open_store();
    unsigned d = mktable("idx", ENT_TBL_DUPSORT);
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, d, "k1", "v3");
    put_s(w, d, "k1", "v1");
    put_s(w, d, "k1", "v2");
    put_s(w, d, "k2", "v0");
    put_s(w, d, "k0", "v9");
    put_s(w, d, "k1", "v2"); /* the pair exists: no change */
    k = S("k1");
    ENT_OK_(B->get(w, d, &k, &out));
    CU_ASSERT(slice_eq(out, "v1")); /* the first value */
    v = S("v2");
    ENT_CHECK_RC(B->put(w, d, &k, &v, ENT_PUT_NOOVERWRITE), ENT_CONFLICT);
    v = S("v4");
    ENT_OK_(B->put(w, d, &k, &v, ENT_PUT_NOOVERWRITE)); /* another value of an existing key */
    ENT_OK_(B->txn_commit(w));

    ENT_OK_(B->txn_begin(be, 0, &r));
    ENT_OK_(B->cursor_open(r, d, &cur));
    const char *pairs[][2] = {{"k0", "v9"}, {"k1", "v1"}, {"k1", "v2"}, {"k1", "v3"}, {"k1", "v4"}, {"k2", "v0"}};
    int i = 0;
    for (int rc = B->cursor_get(cur, ENT_CUR_FIRST, &k, &v); rc == ENT_OK; rc = B->cursor_get(cur, ENT_CUR_NEXT, &k, &v), i++)
        CU_ASSERT(i < 6 && slice_eq(k, pairs[i][0]) && slice_eq(v, pairs[i][1]));
    CU_ASSERT_EQUAL(i, 6);
    for (int rc = B->cursor_get(cur, ENT_CUR_LAST, &k, &v); rc == ENT_OK; rc = B->cursor_get(cur, ENT_CUR_PREV, &k, &v)) {
        i--;
        CU_ASSERT(i >= 0 && slice_eq(k, pairs[i][0]) && slice_eq(v, pairs[i][1]));
    }
    CU_ASSERT_EQUAL(i, 0);
    /* SEEK: the first value of the first key >= k */
    k = S("k1");
    ENT_OK_(B->cursor_get(cur, ENT_CUR_SEEK, &k, &v));
    CU_ASSERT(slice_eq(k, "k1") && slice_eq(v, "v1"));
    ENT_OK_(B->cursor_get(cur, ENT_CUR_PREV, &k, &v));
    CU_ASSERT(slice_eq(k, "k0") && slice_eq(v, "v9"));
    /* SEEK_PAIR in (key, value) order, crossing to the next key past the last value */
    const char *sp[][4] = {{"k1", "v2", "k1", "v2"}, {"k1", "v25", "k1", "v3"}, {"k1", "v0", "k1", "v1"},
                           {"k1", "v5", "k2", "v0"}, {"k0", "a", "k0", "v9"}, {"k05", "a", "k1", "v1"},
                           {"k2", "v1", NULL, NULL}};
    for (int j = 0; j < 7; j++) {
        k = S(sp[j][0]);
        v = S(sp[j][1]);
        int rc = B->cursor_get(cur, ENT_CUR_SEEK_PAIR, &k, &v);
        if (!sp[j][2]) {
            CU_ASSERT_EQUAL(rc, ENT_NOTFOUND);
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(rc, ENT_OK);
        if (!(slice_eq(k, sp[j][2]) && slice_eq(v, sp[j][3])))
            fprintf(stderr, "\n  SEEK_PAIR(%s,%s) gave (%.*s,%.*s)\n", sp[j][0], sp[j][1], (int)k.len, (const char *)k.data,
                    (int)v.len, (const char *)v.data);
        CU_ASSERT(slice_eq(k, sp[j][2]) && slice_eq(v, sp[j][3]));
    }
    B->cursor_close(cur);
    B->txn_abort(r);

    ENT_OK_(B->txn_begin(be, 1, &w));
    k = S("k1");
    v = S("v2");
    ENT_OK_(B->del(w, d, &k, &v)); /* one pair */
    ENT_CHECK_RC(B->del(w, d, &k, &v), ENT_NOTFOUND);
    v = S("v1");
    ENT_OK_(B->get(w, d, &k, &out));
    CU_ASSERT(slice_eq(out, "v1"));
    ENT_OK_(B->del(w, d, &k, &v));
    ENT_OK_(B->get(w, d, &k, &out));
    CU_ASSERT(slice_eq(out, "v3"));
    ENT_OK_(B->del(w, d, &k, NULL)); /* the key with all its values */
    ENT_CHECK_RC(B->get(w, d, &k, &out), ENT_NOTFOUND);
    ENT_CHECK_RC(B->del(w, d, &k, NULL), ENT_NOTFOUND);
    k = S("k2");
    ENT_OK_(B->get(w, d, &k, &out));
    CU_ASSERT(slice_eq(out, "v0"));
    ENT_OK_(B->txn_commit(w));
    close_store();
}

static void t_clear(void)
{
    ent_btxn *w, *r;
    ent_bcur *cur;
    ent_slice k, v;
    open_store();
    unsigned a = mktable("a", 0), d = mktable("d", ENT_TBL_DUPSORT);
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, a, "x", "1");
    put_s(w, a, "y", "2");
    put_s(w, d, "x", "1");
    put_s(w, d, "x", "2");
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 1, &w));
    ENT_OK_(B->clear(w, d));
    put_s(w, d, "z", "9"); /* the table stays usable */
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 0, &r));
    ENT_OK_(B->cursor_open(r, d, &cur));
    ENT_OK_(B->cursor_get(cur, ENT_CUR_FIRST, &k, &v));
    CU_ASSERT(slice_eq(k, "z"));
    ENT_CHECK_RC(B->cursor_get(cur, ENT_CUR_NEXT, &k, &v), ENT_NOTFOUND);
    B->cursor_close(cur);
    k = S("y");
    ENT_OK_(B->get(r, a, &k, &v)); /* other tables untouched */
    B->txn_abort(r);
    close_store();
}

/* ---- transactions --------------------------------------------------------------------------- */

static void t_abort_leaves_nothing(void)
{
    ent_btxn *w, *r;
    unsigned t, nt;
    ent_slice k = S("k"), out;
    open_store();
    t = mktable("t", 0);
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, t, "k", "committed");
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, t, "k", "aborted");
    put_s(w, t, "k2", "aborted");
    ENT_OK_(B->table(be, w, "new", ENT_TBL_CREATE, &nt));
    put_s(w, nt, "n", "aborted");
    B->txn_abort(w);
    ENT_OK_(B->txn_begin(be, 0, &r));
    ENT_OK_(B->get(r, t, &k, &out));
    CU_ASSERT(slice_eq(out, "committed"));
    k = S("k2");
    ENT_CHECK_RC(B->get(r, t, &k, &out), ENT_NOTFOUND);
    ENT_CHECK_RC(B->table(be, r, "new", 0, &nt), ENT_NOTFOUND); /* a created table is gone too */
    B->txn_abort(r);
    /* and can be created again */
    ENT_OK_(B->txn_begin(be, 1, &w));
    ENT_OK_(B->table(be, w, "new", ENT_TBL_CREATE, &nt));
    put_s(w, nt, "n", "second");
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 0, &r));
    ENT_OK_(B->table(be, r, "new", 0, &nt));
    k = S("n");
    ENT_OK_(B->get(r, nt, &k, &out));
    CU_ASSERT(slice_eq(out, "second"));
    B->txn_abort(r);
    close_store();
}

static void t_snapshot_isolation(void)
{
    ent_btxn *w, *r, *r2;
    ent_bcur *cur;
    ent_slice k = S("k"), out, ck, cv;
    open_store();
    unsigned t = mktable("t", 0);
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, t, "k", "old");
    put_s(w, t, "a", "1");
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 0, &r));
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, t, "k", "new");
    put_s(w, t, "b", "2");
    ent_slice a = S("a");
    ENT_OK_(B->del(w, t, &a, NULL));
    ENT_OK_(B->get(r, t, &k, &out)); /* the writer's uncommitted work is invisible */
    CU_ASSERT(slice_eq(out, "old"));
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->get(r, t, &k, &out)); /* and its commit too */
    CU_ASSERT(slice_eq(out, "old"));
    ENT_OK_(B->cursor_open(r, t, &cur));
    ENT_OK_(B->cursor_get(cur, ENT_CUR_FIRST, &ck, &cv));
    CU_ASSERT(slice_eq(ck, "a"));
    ENT_OK_(B->cursor_get(cur, ENT_CUR_NEXT, &ck, &cv));
    CU_ASSERT(slice_eq(ck, "k") && slice_eq(cv, "old"));
    ENT_CHECK_RC(B->cursor_get(cur, ENT_CUR_NEXT, &ck, &cv), ENT_NOTFOUND);
    B->cursor_close(cur);
    ENT_OK_(B->txn_begin(be, 0, &r2));
    ENT_OK_(B->get(r2, t, &k, &out));
    CU_ASSERT(slice_eq(out, "new"));
    B->txn_abort(r2);
    B->txn_abort(r);
    close_store();
}

typedef struct writer_arg {
    unsigned tbl;
    volatile int began; /* read by the main thread after join only, or as a hint */
    int rc;
    char seen[16];
} writer_arg;

static void *second_writer(void *p)
{
    writer_arg *a = p;
    ent_btxn *w;
    ent_slice k = S("first"), out;
    a->rc = B->txn_begin(be, 1, &w);
    if (a->rc) return NULL;
    __atomic_store_n(&a->began, 1, __ATOMIC_SEQ_CST);
    /* The first writer committed before we could begin: its write is visible. */
    if (B->get(w, a->tbl, &k, &out) == ENT_OK && out.len < sizeof a->seen) memcpy(a->seen, out.data, out.len);
    put_s(w, a->tbl, "second", "2");
    a->rc = B->txn_commit(w);
    return NULL;
}

static void t_one_writer_at_a_time(void)
{
    ent_btxn *w;
    pthread_t th;
    writer_arg a = {0};
    open_store();
    a.tbl = mktable("t", 0);
    ENT_OK_(B->txn_begin(be, 1, &w));
    pthread_create(&th, NULL, second_writer, &a);
    usleep(100 * 1000); /* give the second writer every chance to (wrongly) get in */
    CU_ASSERT_EQUAL(__atomic_load_n(&a.began, __ATOMIC_SEQ_CST), 0);
    put_s(w, a.tbl, "first", "1");
    ENT_OK_(B->txn_commit(w));
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(a.rc, ENT_OK);
    CU_ASSERT_STRING_EQUAL(a.seen, "1");
    close_store();
}

/* Readers in several threads while a writer moves amounts between accounts: every snapshot sums
 * to the same total. */
enum { ACCOUNTS = 16, TOTAL = 16000 };
static unsigned acc_tbl;
static int writer_done;

static void *transfer_writer(void *p)
{
    unsigned seed = 42;
    intptr_t bad = 0;
    for (int i = 0; i < 1500 && !bad; i++) {
        ent_btxn *w;
        ent_slice out;
        if (B->txn_begin(be, 1, &w)) {
            bad = 1;
            break;
        }
        int from = rand_r(&seed) % ACCOUNTS, to = rand_r(&seed) % ACCOUNTS;
        int64_t vf, vt;
        char kf[16], kt[16];
        snprintf(kf, sizeof kf, "a%02d", from);
        snprintf(kt, sizeof kt, "a%02d", to);
        ent_slice skf = S(kf), skt = S(kt);
        /* A failed get leaves `out` unset: read neither value then (the txn is aborted below). */
        if (B->get(w, acc_tbl, &skf, &out)) {
            bad = 1;
            B->txn_abort(w);
            break;
        }
        memcpy(&vf, out.data, sizeof vf);
        if (B->get(w, acc_tbl, &skt, &out)) {
            bad = 1;
            B->txn_abort(w);
            break;
        }
        memcpy(&vt, out.data, sizeof vt);
        int64_t amt = rand_r(&seed) % 50;
        if (from == to) amt = 0;
        vf -= amt;
        vt += amt;
        ent_slice svf = SN(&vf, sizeof vf), svt = SN(&vt, sizeof vt);
        if (!bad && (B->put(w, acc_tbl, &skf, &svf, 0) || B->put(w, acc_tbl, &skt, &svt, 0))) bad = 1;
        if (bad) B->txn_abort(w);
        else if (B->txn_commit(w)) bad = 1;
    }
    __atomic_store_n(&writer_done, 1, __ATOMIC_SEQ_CST);
    return (void *)bad;
}

static void *sum_reader(void *p)
{
    intptr_t bad = 0;
    long rounds = 0;
    while (!__atomic_load_n(&writer_done, __ATOMIC_SEQ_CST) || rounds < 10) {
        ent_btxn *r;
        ent_bcur *cur;
        ent_slice k, v;
        int64_t sum = 0, x;
        int n = 0;
        if (B->txn_begin(be, 0, &r)) return (void *)1;
        if (B->cursor_open(r, acc_tbl, &cur)) return (void *)1;
        for (int rc = B->cursor_get(cur, ENT_CUR_FIRST, &k, &v); rc == ENT_OK; rc = B->cursor_get(cur, ENT_CUR_NEXT, &k, &v)) {
            memcpy(&x, v.data, sizeof x);
            sum += x;
            n++;
        }
        B->cursor_close(cur);
        B->txn_abort(r);
        if (sum != TOTAL || n != ACCOUNTS) bad++;
        rounds++;
    }
    return (void *)bad;
}

static void t_threads_invariant(void)
{
    ent_btxn *w;
    pthread_t wt, rt[3];
    void *res;
    open_store();
    acc_tbl = mktable("acc", 0);
    writer_done = 0;
    ENT_OK_(B->txn_begin(be, 1, &w));
    for (int i = 0; i < ACCOUNTS; i++) {
        char kb[16];
        int64_t v = TOTAL / ACCOUNTS;
        snprintf(kb, sizeof kb, "a%02d", i);
        ent_slice k = S(kb), vs = SN(&v, sizeof v);
        ENT_OK_(B->put(w, acc_tbl, &k, &vs, 0));
    }
    ENT_OK_(B->txn_commit(w));
    for (int i = 0; i < 3; i++) pthread_create(&rt[i], NULL, sum_reader, NULL);
    pthread_create(&wt, NULL, transfer_writer, NULL);
    pthread_join(wt, &res);
    CU_ASSERT_PTR_NULL(res);
    for (int i = 0; i < 3; i++) {
        pthread_join(rt[i], &res);
        CU_ASSERT_PTR_NULL(res);
    }
    close_store();
}

/* ---- randomized model test ------------------------------------------------------------------ */

enum { MKEYS = 200 };
typedef struct model {
    int present[MKEYS];
    int val[MKEYS];
} model;

static void mkey(char *buf, size_t n, int i) { snprintf(buf, n, "key%05d", i * 7919 % 100000); }

static void check_model(void *txn, unsigned t, const model *m)
{
    ent_bcur *cur;
    ent_slice k, v;
    /* expected keys in byte order */
    char (*ks)[16] = malloc(MKEYS * sizeof *ks);
    int *vals = malloc(MKEYS * sizeof *vals), n = 0, i = 0, bad = 0;
    for (int j = 0; j < MKEYS; j++)
        if (m->present[j]) {
            mkey(ks[n], sizeof ks[n], j);
            vals[n++] = m->val[j];
        }
    /* insertion sort is enough for 200 */
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && strcmp(ks[b - 1], ks[b]) > 0; b--) {
            char tk[16];
            int tv;
            memcpy(tk, ks[b], 16);
            memcpy(ks[b], ks[b - 1], 16);
            memcpy(ks[b - 1], tk, 16);
            tv = vals[b];
            vals[b] = vals[b - 1];
            vals[b - 1] = tv;
        }
    ENT_OK_(B->cursor_open(txn, t, &cur));
    for (int rc = B->cursor_get(cur, ENT_CUR_FIRST, &k, &v); rc == ENT_OK; rc = B->cursor_get(cur, ENT_CUR_NEXT, &k, &v), i++) {
        int x;
        if (i >= n || !slice_eq(k, ks[i]) || v.len != sizeof x) {
            bad++;
            continue;
        }
        memcpy(&x, v.data, sizeof x);
        if (x != vals[i]) bad++;
    }
    B->cursor_close(cur);
    CU_ASSERT_EQUAL(i, n);
    CU_ASSERT_EQUAL(bad, 0);
    free(ks);
    free(vals);
}

static void t_model_random(void)
{
    model committed = {{0}, {0}}, work;
    ent_btxn *w = NULL;
    unsigned seed = 7;
    char kb[16];
    open_store();
    unsigned t = mktable("model", 0);
    for (int step = 0; step < 6000; step++) {
        int op = rand_r(&seed) % 100, i = rand_r(&seed) % MKEYS;
        if (!w) {
            ENT_OK_(B->txn_begin(be, 1, &w));
            work = committed;
        }
        mkey(kb, sizeof kb, i);
        ent_slice k = S(kb), out;
        if (op < 45) {
            int val = rand_r(&seed), nooverwrite = rand_r(&seed) % 4 == 0;
            ent_slice v = SN(&val, sizeof val);
            int rc = B->put(w, t, &k, &v, nooverwrite ? ENT_PUT_NOOVERWRITE : 0);
            if (nooverwrite && work.present[i]) {
                CU_ASSERT_EQUAL(rc, ENT_CONFLICT);
            } else {
                CU_ASSERT_EQUAL(rc, ENT_OK);
                work.present[i] = 1;
                work.val[i] = val;
            }
        } else if (op < 70) {
            int rc = B->del(w, t, &k, NULL);
            CU_ASSERT_EQUAL(rc, work.present[i] ? ENT_OK : ENT_NOTFOUND);
            work.present[i] = 0;
        } else if (op < 90) {
            int rc = B->get(w, t, &k, &out);
            CU_ASSERT_EQUAL(rc, work.present[i] ? ENT_OK : ENT_NOTFOUND);
            if (rc == ENT_OK) CU_ASSERT(out.len == sizeof(int) && memcmp(out.data, &work.val[i], sizeof(int)) == 0);
        } else if (op < 96) {
            check_model(w, t, &work);
            ENT_OK_(B->txn_commit(w));
            committed = work;
            w = NULL;
        } else {
            B->txn_abort(w);
            w = NULL;
            ent_btxn *r;
            ENT_OK_(B->txn_begin(be, 0, &r));
            check_model(r, t, &committed);
            B->txn_abort(r);
        }
    }
    if (w) B->txn_abort(w);
    close_store();
}

/* ---- notification, info, the rest ---------------------------------------------------------- */

typedef struct wait_arg {
    uint64_t seen;
    int rc;
} wait_arg;

static void *waiter(void *p)
{
    wait_arg *a = p;
    a->rc = B->wait_change(be, a->seen, 20000);
    return NULL;
}

static void t_change_notification(void)
{
    ent_btxn *w;
    pthread_t th;
    open_store();
    unsigned t = mktable("t", 0);
    uint64_t c0 = B->change_counter(be);
    ENT_CHECK_RC(B->wait_change(be, c0, 30), ENT_TIMEOUT);
    ENT_CHECK_RC(B->wait_change(be, c0, 0), ENT_TIMEOUT);
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, t, "k", "v");
    ENT_OK_(B->txn_commit(w));
    uint64_t c1 = B->change_counter(be);
    CU_ASSERT(c1 != c0);
    ENT_OK_(B->wait_change(be, c0, 0)); /* already changed: returns at once */
    ENT_OK_(B->wait_change(be, c0, -1));
    /* an aborted txn is not a change */
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, t, "k", "v2");
    B->txn_abort(w);
    CU_ASSERT_EQUAL(B->change_counter(be), c1);
    /* a waiter in another thread wakes on commit */
    wait_arg a = {c1, 1};
    pthread_create(&th, NULL, waiter, &a);
    usleep(20 * 1000);
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, t, "k", "v3");
    ENT_OK_(B->txn_commit(w));
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(a.rc, ENT_OK);
    close_store();
}

static void t_info_and_rest(void)
{
    ent_backend_info info;
    ent_backend_limits lim;
    ent_btxn *w;
    char dest[ENT_TEST_PATH_MAX];
    open_store();
    unsigned t = mktable("t", 0);
    ENT_OK_(B->txn_begin(be, 1, &w));
    for (int i = 0; i < 1000; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "k%d", i);
        put_s(w, t, kb, "some value bytes");
    }
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->info(be, &info));
    B->limits(be, &lim);
    CU_ASSERT(info.used_bytes > 1000);
    if (lim.caps & ENT_BK_CAP_DURABILITY) {
        ENT_OK_(B->set_durability(be, ENT__DUR_LAZY));
        ENT_OK_(B->set_durability(be, ENT__DUR_DURABLE));
        ENT_CHECK_RC(B->set_durability(be, 7), ENT_INVALID);
    }
    /* a commit after a durability change */
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, t, "k0", "durable");
    ENT_OK_(B->txn_commit(w));
    ENT_TEST_PATH(dest, "%s/copy", dir);
    if (lim.caps & ENT_BK_CAP_VOLATILE) {
        CU_ASSERT_EQUAL(info.map_size, 0);
        CU_ASSERT_EQUAL(info.disk_bytes, 0);
        CU_ASSERT_FALSE(lim.caps & (ENT_BK_CAP_COPY | ENT_BK_CAP_PERSISTENT | ENT_BK_CAP_SHARED));
    }
    if (lim.caps & ENT_BK_CAP_COPY) {
        ent_bk *be2;
        ent_btxn *r;
        unsigned t2;
        ent_slice k = S("k0"), out;
        ent_backend_opts o = {0};
        CU_ASSERT(info.map_size >= info.used_bytes);
        CU_ASSERT(info.disk_bytes > 0);
        ENT_OK_(B->copy(be, dest, 1));
        ENT_CHECK_RC(B->copy(be, dest, 0), ENT_CONFLICT); /* a store is there: left alone */
        o.read_only = 1;
        o.arg = B_arg;
        ENT_OK_(B->open(&be2, dest, &o));
        ENT_OK_(B->txn_begin(be2, 0, &r));
        ENT_OK_(B->table(be2, r, "t", 0, &t2));
        ENT_OK_(B->get(r, t2, &k, &out));
        CU_ASSERT(slice_eq(out, "durable"));
        B->txn_abort(r);
        B->close(be2);
    }
    close_store();
}

/* What the open store declares: a backend without savepoints is never asked for one. */
static int has_savepoints(void)
{
    ent_backend_limits lim;
    B->limits(be, &lim);
    return (lim.caps & ENT_BK_CAP_SAVEPOINT) != 0;
}

/* Savepoints (optional: a backend without them is never asked for one). */
static int get_is(ent_btxn *txn, unsigned t, const char *k, const char *want)
{
    ent_slice ks = S(k), v;
    int rc = B->get(txn, t, &ks, &v);
    if (!want) return rc == ENT_NOTFOUND;
    return rc == ENT_OK && slice_eq(v, want);
}

static void t_savepoints(void)
{
    ent_btxn *w, *r;
    unsigned t, d;
    ent_slice k;
    open_store();
    if (!has_savepoints()) {
        close_store();
        return;
    }
    t = mktable("t", 0);
    d = mktable("d", ENT_TBL_DUPSORT);
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, t, "a", "1");
    put_s(w, t, "b", "1");
    put_s(w, d, "x", "0");
    ENT_CHECK_RC(B->sp_end(w, 1), ENT_INVALID); /* none open */
    /* undone: an overwrite of a key written before it, a new key, a delete, dupsort pairs */
    ENT_OK_(B->sp_begin(w));
    ENT_CHECK_RC(B->sp_begin(w), ENT_INVALID); /* one level */
    put_s(w, t, "a", "2");
    put_s(w, t, "a", "2b"); /* twice inside it */
    put_s(w, t, "c", "1");
    k = S("b");
    ENT_OK_(B->del(w, t, &k, NULL));
    put_s(w, d, "x", "1");
    put_s(w, d, "x", "2");
    CU_ASSERT(get_is(w, t, "a", "2b") && get_is(w, t, "c", "1") && get_is(w, t, "b", NULL));
    ENT_OK_(B->sp_end(w, 0));
    CU_ASSERT(get_is(w, t, "a", "1") && get_is(w, t, "b", "1") && get_is(w, t, "c", NULL));
    {
        ent_bcur *cur;
        ent_slice ck, cv;
        int n = 0;
        ENT_OK_(B->cursor_open(w, d, &cur));
        for (int rc = B->cursor_get(cur, ENT_CUR_FIRST, &ck, &cv); rc == ENT_OK; rc = B->cursor_get(cur, ENT_CUR_NEXT, &ck, &cv))
            n++;
        B->cursor_close(cur);
        CU_ASSERT_EQUAL(n, 1); /* only the pair written before the savepoint */
    }
    /* kept: as if written without it; then one more undone on top of the kept one */
    ENT_OK_(B->sp_begin(w));
    put_s(w, t, "a", "3");
    put_s(w, t, "c", "3");
    k = S("b");
    ENT_OK_(B->del(w, t, &k, NULL));
    ENT_OK_(B->sp_end(w, 1));
    ENT_OK_(B->sp_begin(w));
    put_s(w, t, "a", "4");
    ENT_OK_(B->sp_end(w, 0));
    CU_ASSERT(get_is(w, t, "a", "3") && get_is(w, t, "c", "3") && get_is(w, t, "b", NULL));
    ENT_OK_(B->txn_begin(be, 0, &r)); /* nothing is visible outside before the commit */
    CU_ASSERT(get_is(r, t, "a", NULL) && get_is(r, t, "c", NULL));
    B->txn_abort(r);
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 0, &r));
    CU_ASSERT(get_is(r, t, "a", "3") && get_is(r, t, "c", "3") && get_is(r, t, "b", NULL));
    B->txn_abort(r);
    /* an abort takes an open savepoint with it; a commit keeps one */
    ENT_OK_(B->txn_begin(be, 1, &w));
    put_s(w, t, "e", "1");
    ENT_OK_(B->sp_begin(w));
    put_s(w, t, "f", "1");
    B->txn_abort(w);
    ENT_OK_(B->txn_begin(be, 1, &w));
    CU_ASSERT(get_is(w, t, "e", NULL) && get_is(w, t, "f", NULL));
    ENT_OK_(B->sp_begin(w));
    put_s(w, t, "g", "1");
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 0, &r));
    CU_ASSERT(get_is(r, t, "g", "1"));
    B->txn_abort(r);
    close_store();
}

/* Savepoints kept or undone at random against a model of the table. */
static void t_savepoints_random(void)
{
    enum { KEYS = 24, ROUNDS = 400 };
    char want_[KEYS][16], scratch[KEYS][16];
    ent_btxn *w, *r;
    unsigned t;
    unsigned seed = 12345;
    memset(want_, 0, sizeof want_);
    open_store();
    if (!has_savepoints()) {
        close_store();
        return;
    }
    t = mktable("t", 0);
    ENT_OK_(B->txn_begin(be, 1, &w));
    for (int round = 0; round < ROUNDS; round++) {
        int ops = 1 + rand_r(&seed) % 6, keep = rand_r(&seed) % 2;
        memcpy(scratch, want_, sizeof want_);
        ENT_OK_(B->sp_begin(w));
        for (int o = 0; o < ops; o++) {
            int k = rand_r(&seed) % KEYS;
            char kb[8];
            ent_slice ks;
            snprintf(kb, sizeof kb, "k%02d", k);
            ks = S(kb);
            if (rand_r(&seed) % 3 == 0) {
                int rc = B->del(w, t, &ks, NULL);
                CU_ASSERT_EQUAL(rc, scratch[k][0] ? ENT_OK : ENT_NOTFOUND);
                scratch[k][0] = '\0';
            } else {
                snprintf(scratch[k], sizeof scratch[k], "v%d", round * 10 + o);
                put_s(w, t, kb, scratch[k]);
            }
        }
        ENT_OK_(B->sp_end(w, keep));
        if (keep) memcpy(want_, scratch, sizeof want_);
        if (round % 50 == 49) { /* commit now and then: savepoints across many txns */
            ENT_OK_(B->txn_commit(w));
            ENT_OK_(B->txn_begin(be, 1, &w));
        }
    }
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->txn_begin(be, 0, &r));
    for (int k = 0; k < KEYS; k++) {
        char kb[8];
        snprintf(kb, sizeof kb, "k%02d", k);
        CU_ASSERT(get_is(r, t, kb, want_[k][0] ? want_[k] : NULL));
    }
    B->txn_abort(r);
    close_store();
}

static const ent_test_case cases[] = {
    ENT_TEST(t_get_put_del),
    ENT_TEST(t_tables),
    ENT_TEST(t_empty_and_binary_keys),
    ENT_TEST(t_key_limits),
    ENT_TEST(t_large_values),
    ENT_TEST(t_order_random),
    ENT_TEST(t_cursor_moves),
    ENT_TEST(t_cursor_delete_while_iterating),
    ENT_TEST(t_dupsort),
    ENT_TEST(t_clear),
    ENT_TEST(t_abort_leaves_nothing),
    ENT_TEST(t_snapshot_isolation),
    ENT_TEST(t_one_writer_at_a_time),
    ENT_TEST(t_threads_invariant),
    ENT_TEST(t_model_random),
    ENT_TEST(t_change_notification),
    ENT_TEST(t_info_and_rest),
    ENT_TEST(t_savepoints),
    ENT_TEST(t_savepoints_random),
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    char suite[64];
    if (argc < 2) {
        fprintf(stderr, "usage: %s BACKEND (a name of the table in src/backends.c)\n", argv[0]);
        return 2;
    }
    if (!(B = ent__backend_find(argv[1], &B_arg))) {
        fprintf(stderr, "unknown backend %s\n", argv[1]);
        return 2;
    }
    snprintf(suite, sizeof suite, "contract_backend_%s", argv[1]);
    return ent_test_run(suite, cases);
}
