/* Free-form values keep their kind through JSON: random entities holding every kind the C API can
 * put in a free-form map (nil, bool, negative int, uint up to 2^64-1, floats with -0.0, 1.0, NaN,
 * infinities, subnormals, strings that look like numbers or base64, bytes, timestamps, nested
 * arrays and maps, keys with '/' and '~'), written, updated and deleted on a primary, reach a
 * mirror through event JSON (ent_event_to_json -> ent_event_from_json -> ent_mirror_apply) and a
 * new store through `entity dump | entity load` with the same msgpack records, byte for byte, and
 * the same event data. Before the "kinds" annotation bytes, big uints, NaN and infinities came back
 * as strings. Also: the compact and the tree event writers agree; lines without "kinds" still
 * read (as strings); bad annotations are refused naming the pointer, leaving the entity as it was. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "test_util.h"
#include "test_kinds_gen.h"

static const char schema_json[] =
    "{\"schema\":\"kinds\",\"version\":1,\"types\":{"
    "\"doc\":{\"key\":\"auto\",\"fields\":{"
    "  \"m\":{\"id\":1,\"type\":\"map\"},"
    "  \"am\":{\"id\":2,\"type\":\"array\",\"items\":{\"type\":\"map\"}},"
    "  \"dm\":{\"id\":3,\"type\":\"map\",\"fields\":{\"ff\":{\"id\":1,\"type\":\"map\"},\"b\":{\"id\":2,\"type\":\"bytes\"}}},"
    "  \"fb\":{\"id\":4,\"type\":\"bytes\"},"
    "  \"fu\":{\"id\":5,\"type\":\"uint\"},"
    "  \"ff\":{\"id\":6,\"type\":\"float\"},"
    "  \"ts\":{\"id\":7,\"type\":\"timestamp\"}}},"
    "\"note\":{\"key\":\"string\",\"fields\":{\"m\":{\"id\":1,\"type\":\"map\"}}}}}";

static ent_store_opts opts(const char *backend)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = backend;
    o.durability = ENT_NONE;
    return o;
}

/* Random creates (transactions of 1-3), updates (a new subtree, a new map, a removed field) and
 * deletes of docs and notes. */
static void write_random(ent_store *s, int n)
{
    const ent_type *doc = ent_store_type(s, "doc"), *note = ent_store_type(s, "note");
    uint64_t ndocs = 0;
    for (int i = 0; i < n; i++) {
        ent_txn *t = NULL;
        int k = 1 + (int)rnd(3);
        ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
        for (int j = 0; j < k; j++) {
            ent_entity *e = NULL;
            if (rnd(5) == 0) {
                char key[32];
                snprintf(key, sizeof key, "n%d.%d", i, j);
                ENT_OK_(ent_entity_new(&e, note));
                ENT_OK_(ent_entity_set_key(e, &(ent_key){ENT_KEY_STRING, 0, key, strlen(key)}));
                gen_map(e, "m");
                ENT_OK_(ent_create(s, t, e));
            } else if (ndocs && rnd(3) == 0) {
                ent_key key = ent_key_id(1 + rnd((unsigned)ndocs));
                int r = ent_get(&e, s, t, doc, &key);
                if (r == ENT_NOTFOUND) {
                    ent_entity_free(e);
                    continue;
                }
                ENT_OK_(r);
                switch (rnd(5)) {
                case 0: ENT_OK_(ent_delete(s, t, doc, &key, ENT_VERSION_ANY)); break;
                case 1: ENT_OK_(ent_entity_unset(e, "m")); ENT_OK_(ent_update(s, t, e, ENT_VERSION_ANY)); break;
                case 2: gen_map(e, "dm.ff"); ENT_OK_(ent_update(s, t, e, ENT_VERSION_ANY)); break;
                default: {
                    char path[32];
                    snprintf(path, sizeof path, "m.u%u", rnd(4));
                    gen(e, path, 2);
                    ENT_OK_(ent_update(s, t, e, ENT_VERSION_ANY));
                }
                }
            } else {
                ENT_OK_(ent_entity_new(&e, doc));
                gen_doc(e, 1);
                ENT_OK_(ent_create(s, t, e));
                ndocs++;
            }
            ent_entity_free(e);
        }
        ENT_OK_(ent_txn_commit(t));
    }
}

static int same_record(const ent_entity *a, const ent_entity *b)
{
    void *pa = NULL, *pb = NULL;
    size_t na = 0, nb = 0;
    int same;
    ENT_OK_(ent_entity_encode(&pa, &na, a));
    ENT_OK_(ent_entity_encode(&pb, &nb, b));
    same = na == nb && !memcmp(pa, pb, na);
    if (!same) {
        char *ja = NULL, *jb = NULL;
        ent_entity_to_json(&ja, a, ENT_JSON_ENTITY);
        ent_entity_to_json(&jb, b, ENT_JSON_ENTITY);
        fprintf(stderr, "\n  records differ:\n    %s\n    %s\n", ja, jb);
        free(ja);
        free(jb);
    }
    free(pa);
    free(pb);
    return same;
}

/* Every entity of a equals b's by its msgpack record (and version, key); counts compared. */
static void compare_stores(ent_store *a, ent_store *b)
{
    const ent_schema *sc = ent_store_schema(a);
    for (size_t i = 0; i < ent_schema_type_count(sc); i++) {
        const ent_type *t = ent_schema_type_at(sc, i), *tb = ent_store_type(b, ent_type_name(t));
        ent_iter *ia = NULL, *ib = NULL;
        ent_entity *ea, *eb;
        size_t n = 0, differ = 0;
        int ra, rb;
        ENT_OK_(ent_scan(&ia, a, NULL, t, NULL, NULL));
        ENT_OK_(ent_scan(&ib, b, NULL, tb, NULL, NULL));
        for (;;) {
            ra = ent_iter_next(&ea, ia);
            rb = ent_iter_next(&eb, ib);
            CU_ASSERT_EQUAL(ra, rb);
            if (ra != ENT_OK || rb != ENT_OK) {
                if (ra == ENT_OK) ent_entity_free(ea);
                if (rb == ENT_OK) ent_entity_free(eb);
                break;
            }
            n++;
            CU_ASSERT_EQUAL(ent_entity_version(ea), ent_entity_version(eb));
            if (!same_record(ea, eb) && ++differ > 3) {
                ent_entity_free(ea);
                ent_entity_free(eb);
                break;
            }
            ent_entity_free(ea);
            ent_entity_free(eb);
        }
        CU_ASSERT_EQUAL(differ, 0);
        CU_ASSERT(n > 0);
        ent_iter_free(ia);
        ent_iter_free(ib);
    }
}

/* ---- through event JSON to a mirror ------------------------------------------------------- */

static void test_mirror_keeps_kinds(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL, *m = NULL;
    ent_store_opts o = opts("memory");
    ent_log_cursor *c = NULL;
    ent_event *ev, **v = NULL;
    char pdir[ENT_TEST_PATH_MAX], mdir[ENT_TEST_PATH_MAX];
    size_t n = 0, kinds_lines = 0;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "kinds"));
    ENT_TEST_MKDTEMP(pdir, "kinds-p");
    ENT_TEST_MKDTEMP(mdir, "kinds-m");
    ENT_OK_(ent_store_open(&p, pdir, sc, &o));
    ENT_OK_(ent_mirror_open(&m, mdir, ent_store_id(p), sc, &o));
    write_random(p, 300);
    ENT_OK_(ent_log_cursor_open(&c, p, 1, NULL, 0));
    while (ent_log_next(&ev, c) == ENT_OK) {
        char *j = NULL, *tree = NULL;
        ent_event *back = NULL;
        ENT_OK_(ent_event_to_json(&j, ev, 0));
        ENT_OK_(ent__event_to_json_tree(&tree, ev, 0)); /* the two writers print the same line */
        CU_ASSERT_STRING_EQUAL(j, tree);
        kinds_lines += strstr(j, "\"kinds\":{") != NULL;
        ENT_OK_(ent_event_from_json(&back, ent_store_schema(m), j, strlen(j)));
        /* the event's data as the log holds it, record for record */
        CU_ASSERT_EQUAL((ev->data == NULL), (back->data == NULL));
        if (ev->data && back->data) {
            ent_key key = ent_entity_key(ev->data);
            ENT_OK_(ent_entity_set_key(back->data, &key)); /* the event's, not its data's */
            ENT_OK_(ent_entity_set_version(back->data, ent_entity_version(ev->data)));
            if (!same_record(ev->data, back->data)) {
                fprintf(stderr, "  event line: %s\n", j);
                CU_FAIL("event data differs");
            }
        }
        v = realloc(v, (n + 1) * sizeof *v);
        v[n++] = back;
        free(j);
        free(tree);
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    CU_ASSERT(kinds_lines > 50); /* the random values did need the annotation */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && v[j]->txn == v[i]->txn) j++;
        ENT_OK_(ent_mirror_apply(m, v + i, j - i, v[j - 1]->seq));
        i = j;
    }
    compare_stores(p, m);
    {
        uint64_t problems = 1;
        ENT_OK_(ent_store_verify(&problems, m, NULL, NULL));
        CU_ASSERT_EQUAL(problems, 0);
    }
    for (size_t i = 0; i < n; i++) ent_event_free(v[i]);
    free(v);
    ent_store_close(m);
    ent_store_close(p);
    ent_schema_free(sc);
    ent_test_rm_rf(pdir);
    ent_test_rm_rf(mdir);
}

/* ---- through `entity dump | entity load` ---------------------------------------------------- */

static void test_dump_load_keeps_kinds(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL, *q = NULL;
    ent_store_opts o = opts("lmdb");
    char dir[ENT_TEST_PATH_MAX], pdir[ENT_TEST_PATH_MAX], qdir[ENT_TEST_PATH_MAX], sfile[ENT_TEST_PATH_MAX],
        cmd[12 * ENT_TEST_PATH_MAX];
    FILE *f;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "kinds"));
    ENT_TEST_MKDTEMP(dir, "kinds-dump");
    ENT_TEST_PATH(pdir, "%s/p", dir);
    ENT_TEST_PATH(qdir, "%s/q", dir);
    ENT_TEST_PATH(sfile, "%s/schema.json", dir);
    ENT_OK_(ent_store_open(&p, pdir, sc, &o));
    write_random(p, 200);
    ent_store_close(p);
    CU_ASSERT_FATAL((f = fopen(sfile, "w")) != NULL);
    fputs(schema_json, f);
    fclose(f);
    {
        /* paths as sh words: the build tree or TMPDIR may hold spaces and quotes */
        static char tool[4 * ENT_TEST_PATH_MAX + 3], qq[4 * ENT_TEST_PATH_MAX + 3], qs[4 * ENT_TEST_PATH_MAX + 3],
            qp[4 * ENT_TEST_PATH_MAX + 3], qd[4 * ENT_TEST_PATH_MAX + 3], dfile[ENT_TEST_PATH_MAX];
        ENT_TEST_PATH(dfile, "%s/d.ndjson", dir);
        ent_test_sh_word(tool, sizeof tool, ENT_BINARY_DIR "/entity");
        ent_test_sh_word(qq, sizeof qq, qdir);
        ent_test_sh_word(qs, sizeof qs, sfile);
        ent_test_sh_word(qp, sizeof qp, pdir);
        ent_test_sh_word(qd, sizeof qd, dfile);
        ENT_TEST_PATH(cmd, "%s -s %s init --schema %s >/dev/null 2>&1 && %s -s %s dump > %s && %s -s %s load < %s 2>/dev/null",
                      tool, qq, qs, tool, qp, qd, tool, qq, qd);
    }
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    ENT_OK_(ent_store_open(&p, pdir, NULL, &o));
    ENT_OK_(ent_store_open(&q, qdir, NULL, &o));
    compare_stores(p, q);
    ent_store_close(q);
    ent_store_close(p);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

/* ---- the annotation itself ------------------------------------------------------------------ */

static void test_kinds_shape_and_errors(void)
{
    ent_schema *sc = NULL;
    ent_entity *e = NULL, *back = NULL;
    char *j = NULL;
    ent_kind k;
    static const char *bad[][2] = {
        {"{\"/m/zz\":\"bytes\"}", "names no value"},
        {"{\"m/b\":\"bytes\"}", "starts with '/'"},
        {"{\"/m/b~2\":\"bytes\"}", "'~' not followed"},
        {"{\"/fb\":\"bytes\"}", "declared field"},
        {"{\"/m/n\":\"uint\"}", "names no string"},
        {"{\"/m/s\":\"bytes\"}", "not base64"},
        {"{\"/m/s\":\"uint\"}", "not decimal"},
        {"{\"/m/s\":\"float\"}", "not \"NaN\""},
        {"{\"/m/s\":\"text\"}", "not a kind"},
        {"{\"/m/s\":1}", "not a kind"},
        {"[]", "not an object"},
        {"null", "not an object"}, /* a line's "kinds":null, as load passes it on */
        {"\"bytes\"", "not an object"},
        {"{", "invalid JSON"},
    };
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "kinds"));
    ENT_OK_(ent_entity_new(&e, ent_schema_type(sc, "doc")));
    ENT_OK_(ent_entity_set_bytes(e, "m.b", "\x00\xff", 2));
    ENT_OK_(ent_entity_set_uint(e, "m.a/b~c", UINT64_MAX));
    ENT_OK_(ent_entity_set_json(e, "m.l", "[1,[true]]"));
    ENT_OK_(ent_entity_set_float(e, "m.l[1][0]", -INFINITY));
    ENT_OK_(ent_entity_set_string(e, "m.s", "NaN?"));
    ENT_OK_(ent_entity_set_uint(e, "m.n", 5));
    ENT_OK_(ent_entity_set_bytes(e, "fb", "x", 1));
    ENT_OK_(ent_entity_to_json(&j, e, ENT_JSON_ENTITY));
    /* "data" as before; "kinds" beside it, JSON Pointers with '/' and '~' escaped */
    CU_ASSERT_STRING_EQUAL(j, "{\"type\":\"doc\",\"key\":null,\"version\":0,\"data\":{\"m\":{\"b\":\"AP8=\","
                              "\"a/b~c\":\"18446744073709551615\",\"l\":[1,[\"-Infinity\"]],\"s\":\"NaN?\",\"n\":5},"
                              "\"fb\":\"eA==\"},\"kinds\":{\"/m/b\":\"bytes\",\"/m/a~1b~0c\":\"uint\",\"/m/l/1/0\":\"float\"}}");
    free(j);
    /* data alone: no annotation, the shape hosts know */
    ENT_OK_(ent_entity_to_json(&j, e, 0));
    CU_ASSERT_PTR_NULL(strstr(j, "kinds"));
    ENT_OK_(ent_entity_from_json(&back, ent_schema_type(sc, "doc"), j, strlen(j)));
    free(j);
    ENT_OK_(ent_entity_kind(&k, back, "m.b"));
    CU_ASSERT_EQUAL(k, ENT_KIND_STRING); /* without kinds: the string JSON printed, as before */
    {
        static const char kinds[] = "{\"/m/b\":\"bytes\",\"/m/a~1b~0c\":\"uint\",\"/m/l/1/0\":\"float\"}";
        ENT_OK_(ent_entity_apply_kinds(back, kinds, strlen(kinds)));
    }
    ENT_OK_(ent_entity_kind(&k, back, "m.b"));
    CU_ASSERT_EQUAL(k, ENT_KIND_BYTES);
    ENT_OK_(ent_entity_kind(&k, back, "m.l[1][0]"));
    CU_ASSERT_EQUAL(k, ENT_KIND_FLOAT);
    CU_ASSERT(same_record(e, back));
    ent_entity_free(back);
    {
        /* an empty key is the pointer's empty segment, both ways */
        static const char data[] = "{\"m\":{\"\":[\"AP8=\"]}}", kinds[] = "{\"/m//0\":\"bytes\"}";
        ENT_OK_(ent_entity_from_json(&back, ent_schema_type(sc, "doc"), data, strlen(data)));
        ENT_OK_(ent_entity_apply_kinds(back, kinds, strlen(kinds)));
        ENT_OK_(ent_entity_to_json(&j, back, ENT_JSON_ENTITY));
        CU_ASSERT_PTR_NOT_NULL(strstr(j, ",\"kinds\":{\"/m//0\":\"bytes\"}}"));
        free(j);
        ent_entity_free(back);
    }
    /* refusals name the pointer and leave the entity as it was */
    ENT_OK_(ent_entity_to_json(&j, e, 0));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ENT_OK_(ent_entity_from_json(&back, ent_schema_type(sc, "doc"), j, strlen(j)));
        ENT_CHECK_RC(ent_entity_apply_kinds(back, "{\"/m/b\":\"bytes\"}", 16), ENT_OK);
        ENT_CHECK_RC(ent_entity_apply_kinds(back, bad[i][0], strlen(bad[i][0])), ENT_INVALID);
        ENT_ASSERT_MSG(bad[i][1]);
        ENT_OK_(ent_entity_kind(&k, back, "m.b"));
        CU_ASSERT_EQUAL(k, ENT_KIND_BYTES);
        ENT_OK_(ent_entity_kind(&k, back, "m.a/b~c"));
        CU_ASSERT_EQUAL(k, ENT_KIND_STRING);
        ent_entity_free(back);
    }
    free(j);
    ent_entity_free(e);
    ent_schema_free(sc);
}

/* An event line of a relay before "kinds" (or one a consumer rewrote without it) still applies. */
static void test_event_without_kinds(void)
{
    ent_schema *sc = NULL;
    ent_event *ev = NULL;
    ent_kind k;
    static const char line[] = "{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"txn\":1,\"type\":\"doc\",\"key\":1,"
                               "\"op\":\"create\",\"version\":1,\"data\":{\"m\":{\"b\":\"AP8=\"}}}";
    static const char del[] = "{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"txn\":1,\"type\":\"doc\",\"key\":1,"
                              "\"op\":\"delete\",\"version\":1,\"data\":{},\"kinds\":{\"/m/b\":\"bytes\"}}";
    static const char badk[] = "{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"txn\":1,\"type\":\"doc\",\"key\":1,"
                               "\"op\":\"create\",\"version\":1,\"data\":{\"m\":{\"b\":\"AP8\"}},\"kinds\":{\"/m/b\":\"bytes\"}}";
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "kinds"));
    ENT_OK_(ent_event_from_json(&ev, sc, line, strlen(line)));
    ENT_OK_(ent_entity_kind(&k, ev->data, "m.b"));
    CU_ASSERT_EQUAL(k, ENT_KIND_STRING);
    ent_event_free(ev);
    ENT_CHECK_RC(ent_event_from_json(&ev, sc, del, strlen(del)), ENT_INVALID);
    ENT_ASSERT_MSG("a delete with kinds");
    ENT_CHECK_RC(ent_event_from_json(&ev, sc, badk, strlen(badk)), ENT_INVALID);
    ENT_ASSERT_MSG("event JSON: \"kinds\": \"/m/b\": bytes: \"AP8\" is not base64: its length 3 is not a multiple of 4");
    CU_ASSERT_PTR_NULL(ev);
    ent_schema_free(sc);
}

/* Many pointers into one large free-form map (a dump or a mirror of an entity whose map holds
 * thousands of bytes values): each pointer's key was found by a scan of the pairs, so n pointers
 * cost n^2/2 key comparisons (40 000 keys: 1.4 s for one entity). The work counted is
 * ent__obj_compares (value_int.h): every look-up counted, a few per pointer. */
#define MANY_KINDS 4000
static void test_kinds_many_keys(void)
{
    ent_schema *sc = NULL;
    ent_entity *e = NULL;
    ent_kind k;
    size_t cap = 64 * MANY_KINDS, nd = 0, nk = 0;
    char *data = malloc(cap), *kinds = malloc(cap), *j = NULL;
    CU_ASSERT_FATAL(data && kinds);
    nd += (size_t)snprintf(data + nd, cap - nd, "{\"m\":{");
    nk += (size_t)snprintf(kinds + nk, cap - nk, "{");
    for (unsigned i = 0; i < MANY_KINDS; i++) {
        nd += (size_t)snprintf(data + nd, cap - nd, "%s\"k%u\":\"AP8=\"", i ? "," : "", i);
        /* in another order than the map's: a scan from the front would not find them at once */
        nk += (size_t)snprintf(kinds + nk, cap - nk, "%s\"/m/k%u\":\"bytes\"", i ? "," : "", MANY_KINDS - 1 - i);
    }
    snprintf(data + nd, cap - nd, "}}");
    snprintf(kinds + nk, cap - nk, "}");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "kinds"));
    ENT_OK_(ent_entity_from_json(&e, ent_schema_type(sc, "doc"), data, strlen(data)));
    ent__obj_compares = 0;
    ENT_OK_(ent_entity_apply_kinds(e, kinds, strlen(kinds)));
    /* each pointer's look-up is counted (a map this large is), and costs a few */
    CU_ASSERT(ent__obj_compares >= MANY_KINDS);
    CU_ASSERT(ent__obj_compares < 16 * MANY_KINDS);
    if (ent__obj_compares >= 16 * MANY_KINDS || ent__obj_compares < MANY_KINDS)
        fprintf(stderr, "\n  %lu comparisons for %d pointers\n", ent__obj_compares, MANY_KINDS);
    ENT_OK_(ent_entity_kind(&k, e, "m.k0"));
    CU_ASSERT_EQUAL(k, ENT_KIND_BYTES);
    ENT_OK_(ent_entity_kind(&k, e, "m.k3999"));
    CU_ASSERT_EQUAL(k, ENT_KIND_BYTES);
    /* the same line back: the data in its order, a pointer for every key */
    ENT_OK_(ent_entity_to_json(&j, e, 0));
    CU_ASSERT_STRING_EQUAL(j, data);
    free(j);
    ent_entity_free(e);
    ent_schema_free(sc);
    free(data);
    free(kinds);
}

/* "float" takes the three words JSON prints and nothing else: a string that holds NUL after one
 * ("NaN\u0000x", which data may hold) was read as the word and became NaN. */
static void test_kinds_float_word_exact(void)
{
    static const char data[] = "{\"m\":{\"a\":\"NaN\\u0000x\",\"b\":\"-Infinity\\u0000\",\"c\":\"Infinity\"}}";
    static const char *bad[] = {"{\"/m/a\":\"float\"}", "{\"/m/b\":\"float\"}", "{\"/m/c\":\"float\",\"/m/b\":\"float\"}"};
    ent_schema *sc = NULL;
    ent_entity *e = NULL;
    ent_kind k;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "kinds"));
    ENT_OK_(ent_entity_from_json(&e, ent_schema_type(sc, "doc"), data, strlen(data)));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ENT_CHECK_RC(ent_entity_apply_kinds(e, bad[i], strlen(bad[i])), ENT_INVALID);
        ENT_ASSERT_MSG("float: not \"NaN\"");
        ENT_OK_(ent_entity_kind(&k, e, "m.c"));
        CU_ASSERT_EQUAL(k, ENT_KIND_STRING); /* nothing applied */
    }
    ENT_OK_(ent_entity_apply_kinds(e, "{\"/m/c\":\"float\"}", 16));
    ENT_OK_(ent_entity_kind(&k, e, "m.c"));
    CU_ASSERT_EQUAL(k, ENT_KIND_FLOAT);
    ent_entity_free(e);
    ent_schema_free(sc);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_kinds_shape_and_errors), ENT_TEST(test_event_without_kinds),
                                          ENT_TEST(test_mirror_keeps_kinds), ENT_TEST(test_dump_load_keeps_kinds),
                                          ENT_TEST(test_kinds_many_keys), ENT_TEST(test_kinds_float_word_exact),
                                          {NULL, NULL}};
    return ent_test_run("test_kinds", cases);
}
