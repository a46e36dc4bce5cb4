/* The body of a write (ent_entity_from_body(), ent_entity_patch_body()): the data alone or the
 * entity's JSON as ENT_JSON_ENTITY writes it, "kinds" applied to free-form values, the key and
 * the version handed back, and the bodies refused (the ambiguous one, a null in a patch's
 * "data", kinds naming nothing the patch sets, members of the wrong type, no object, nothing),
 * each with its code and a message naming the problem; a failed patch leaves the entity as it
 * was. `entity put`/`patch` and entity-http take their bodies through these two calls alone. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* a body and its length */
#define BODY(text) (text), strlen(text)

/* doc: free-form map m, declared bytes fb; note: string keys; rec: fields named as the entity
 * JSON's members, so that the entity's whole JSON also reads as its data; srec: those fields, its
 * "data" a string, which the entity's "data" object is not; pt: floats, at the top,
 * in an array and in a declared map. */
static const char schema_json[] =
    "{\"schema\":\"body\",\"version\":1,\"types\":{"
    "\"doc\":{\"key\":\"auto\",\"fields\":{\"m\":{\"id\":1,\"type\":\"map\"},\"fb\":{\"id\":2,\"type\":\"bytes\"},"
    "  \"n\":{\"id\":3,\"type\":\"int\"}}},"
    "\"note\":{\"key\":\"string\",\"fields\":{\"m\":{\"id\":1,\"type\":\"map\"}}},"
    "\"rec\":{\"key\":\"auto\",\"fields\":{\"type\":{\"id\":1,\"type\":\"string\"},\"key\":{\"id\":2,\"type\":\"int\"},"
    "  \"version\":{\"id\":3,\"type\":\"int\"},\"data\":{\"id\":4,\"type\":\"map\"},\"n\":{\"id\":5,\"type\":\"int\"}}},"
    "\"srec\":{\"key\":\"string\",\"fields\":{\"type\":{\"id\":1,\"type\":\"string\"},\"key\":{\"id\":2,\"type\":\"string\"},"
    "  \"version\":{\"id\":3,\"type\":\"int\"},\"data\":{\"id\":4,\"type\":\"string\"}}},"
    "\"pt\":{\"key\":\"auto\",\"fields\":{\"f\":{\"id\":1,\"type\":\"float\"},\"n\":{\"id\":2,\"type\":\"int\"},"
    "  \"fa\":{\"id\":3,\"type\":\"array\",\"items\":{\"type\":\"float\"}},"
    "  \"d\":{\"id\":4,\"type\":\"map\",\"fields\":{\"x\":{\"id\":1,\"type\":\"float\"}}}}}}}";

static ent_schema *schema(void)
{
    ent_schema *sc = NULL;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "body"));
    return sc;
}

static const ent_type *type_of(const ent_schema *sc, const char *name)
{
    const ent_type *t = ent_schema_type(sc, name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    return t;
}

/* ent_entity_from_body() of text; out must be NULL on failure, the version 0. */
static int put_rc(ent_entity **out, uint64_t *version, const ent_type *t, const char *text)
{
    int rc;
    *out = (ent_entity *)1;
    *version = 7;
    rc = ent_entity_from_body(out, version, t, text, strlen(text));
    if (rc) {
        CU_ASSERT_PTR_NULL(*out);
        CU_ASSERT_EQUAL(*version, 0);
    }
    return rc;
}

static char *data_json(const ent_entity *e)
{
    char *j = NULL;
    ENT_OK_(ent_entity_to_json(&j, e, 0));
    return j;
}

/* A stored-looking doc 1 with m {"a":"AP8="} (bytes) and n 1. */
static ent_entity *doc1(const ent_schema *sc)
{
    ent_entity *e = NULL;
    ENT_OK_(ent_entity_new(&e, type_of(sc, "doc")));
    ENT_OK_(ent_entity_set_key(e, &(ent_key){ENT_KEY_AUTO, 1, NULL, 0}));
    ENT_OK_(ent_entity_set_bytes(e, "m.a", "\x00\xff", 2));
    ENT_OK_(ent_entity_set_int(e, "n", 1));
    return e;
}

/* A patch refused: its code and message, and e as it was (data and changed set). */
static void patch_refused(ent_entity *e, const char *text, int want, const char *says)
{
    char *before = data_json(e), *after;
    size_t changed = ent_entity_changed_count(e);
    uint64_t v = 7;
    int rc = ent_entity_patch_body(&v, e, text, strlen(text));
    if (rc != want) fprintf(stderr, "\n  patch %s: %d (%s), want %d\n", text, rc, ent_errmsg(), want);
    CU_ASSERT_EQUAL(rc, want);
    ENT_ASSERT_MSG(says);
    CU_ASSERT_EQUAL(v, 0);
    after = data_json(e);
    CU_ASSERT_STRING_EQUAL(after, before);
    CU_ASSERT_EQUAL(ent_entity_changed_count(e), changed);
    free(before);
    free(after);
}

static void put_refused(const ent_type *t, const char *text, int want, const char *says)
{
    ent_entity *e;
    uint64_t v;
    int rc = put_rc(&e, &v, t, text);
    if (rc != want) fprintf(stderr, "\n  put %s: %d (%s), want %d\n", text, rc, ent_errmsg(), want);
    CU_ASSERT_EQUAL(rc, want);
    ENT_ASSERT_MSG(says);
    if (!rc) ent_entity_free(e);
}

/* The data alone reads as ent_entity_from_json() reads it: no key, no version. */
static void test_data_alone(void)
{
    ent_schema *sc = schema();
    ent_entity *e = NULL;
    uint64_t v;
    char *j;
    int64_t n;
    ENT_OK_(put_rc(&e, &v, type_of(sc, "doc"), "{\"n\":3,\"m\":{\"x\":\"AP8=\"}}"));
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(ent_entity_key(e).kind, ENT_KEY_NONE);
    j = data_json(e);
    CU_ASSERT_STRING_EQUAL(j, "{\"m\":{\"x\":\"AP8=\"},\"n\":3}");
    free(j);
    /* a merge patch of the data: null removes */
    ENT_OK_(ent_entity_patch_body(&v, e, BODY("{\"n\":4,\"m\":{\"x\":null}}")));
    CU_ASSERT_EQUAL(v, 0);
    ENT_OK_(ent_entity_get_int(&n, e, "n"));
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT_FALSE(ent_entity_has(e, "m.x"));
    /* out_version may be NULL */
    ENT_OK_(ent_entity_patch_body(NULL, e, BODY("{\"n\":5}")));
    ent_entity_free(e);
    ENT_OK_(ent_entity_from_body(&e, NULL, type_of(sc, "doc"), BODY("{\"n\":1}")));
    /* len bytes only: the body need not end in NUL */
    ENT_OK_(ent_entity_patch_body(NULL, e, "{\"n\":2}[]", 7));
    ENT_OK_(ent_entity_get_int(&n, e, "n"));
    CU_ASSERT_EQUAL(n, 2);
    ent_entity_free(e);
    ENT_OK_(ent_entity_from_body(&e, NULL, type_of(sc, "doc"), "{\"data\":{\"n\":3}}junk", 16));
    ENT_OK_(ent_entity_get_int(&n, e, "n"));
    CU_ASSERT_EQUAL(n, 3);
    ent_entity_free(e);
    ent_schema_free(sc);
}

/* The entity's JSON: its key set on the entity, its version handed back, its "kinds" applied to
 * free-form values (bytes, a uint above 2^63-1, NaN), as ent_entity_to_json() writes them. */
static void test_entity_json_put(void)
{
    ent_schema *sc = schema();
    const ent_type *doc = type_of(sc, "doc"), *note = type_of(sc, "note");
    ent_entity *e = NULL, *back = NULL;
    const void *b;
    size_t blen;
    uint64_t v, u;
    double f;
    ent_kind k;
    char *whole = NULL;
    const char *s;
    ENT_OK_(put_rc(&e, &v, doc,
                   "{\"type\":\"doc\",\"key\":5,\"version\":3,\"data\":{\"m\":{\"b\":\"AP8=\",\"u\":\"18446744073709551615\","
                   "\"f\":\"NaN\",\"s\":\"AP8=\"}},\"kinds\":{\"/m/b\":\"bytes\",\"/m/u\":\"uint\",\"/m/f\":\"float\"}}"));
    CU_ASSERT_EQUAL(v, 3);
    CU_ASSERT_EQUAL(ent_entity_key(e).kind, ENT_KEY_AUTO);
    CU_ASSERT_EQUAL(ent_entity_key(e).id, 5);
    ENT_OK_(ent_entity_get_bytes(&b, &blen, e, "m.b"));
    CU_ASSERT(blen == 2 && !memcmp(b, "\x00\xff", 2));
    ENT_OK_(ent_entity_get_uint(&u, e, "m.u"));
    CU_ASSERT_EQUAL(u, UINT64_MAX);
    ENT_OK_(ent_entity_get_float(&f, e, "m.f"));
    CU_ASSERT(isnan(f));
    ENT_OK_(ent_entity_kind(&k, e, "m.s")); /* not named: a string still */
    CU_ASSERT_EQUAL(k, ENT_KIND_STRING);
    /* out and back: ENT_JSON_ENTITY's text reads to the same entity (as read at version 3) */
    ENT_OK_(ent_entity_set_version(e, 3));
    ENT_OK_(ent_entity_to_json(&whole, e, ENT_JSON_ENTITY));
    CU_ASSERT_PTR_NOT_NULL(strstr(whole, "\"kinds\""));
    ENT_OK_(put_rc(&back, &v, doc, whole));
    CU_ASSERT_EQUAL(v, 3);
    CU_ASSERT_EQUAL(ent_entity_key(back).id, 5);
    {
        char *a = data_json(e), *c = data_json(back);
        CU_ASSERT_STRING_EQUAL(a, c);
        free(a);
        free(c);
    }
    ent_entity_free(back);
    free(whole);
    ent_entity_free(e);
    /* an id above 2^63-1 as ENT_JSON_ENTITY writes it, a decimal string, reads back (get's output
     * of such an entity was refused by put and PUT: "key" is not a key) */
    {
        ent_key big = ent_key_id(((uint64_t)1 << 63) + 7), max = ent_key_id(UINT64_MAX);
        ENT_OK_(ent_entity_new(&e, doc));
        ENT_OK_(ent_entity_set_key(e, &big));
        ENT_OK_(ent_entity_set_version(e, 2));
        ENT_OK_(ent_entity_to_json(&whole, e, ENT_JSON_ENTITY));
        CU_ASSERT_PTR_NOT_NULL(strstr(whole, "\"key\":\"9223372036854775815\""));
        ENT_OK_(put_rc(&back, &v, doc, whole));
        CU_ASSERT_EQUAL(ent_entity_key(back).kind, ENT_KEY_AUTO);
        CU_ASSERT_EQUAL(ent_entity_key(back).id, big.id);
        CU_ASSERT_EQUAL(v, 2);
        ent_entity_free(back);
        free(whole);
        ENT_OK_(ent_entity_set_key(e, &max));
        ENT_OK_(ent_entity_to_json(&whole, e, ENT_JSON_ENTITY));
        ENT_OK_(put_rc(&back, &v, doc, whole));
        CU_ASSERT_EQUAL(ent_entity_key(back).id, UINT64_MAX);
        ent_entity_free(back);
        free(whole);
        ent_entity_free(e);
    }
    /* a version above 2^63-1 as JSON holds it, a decimal string; a string key; no "type" */
    ENT_OK_(put_rc(&e, &v, note, "{\"key\":\"k1\",\"version\":\"18446744073709551614\",\"data\":{\"m\":{}}}"));
    CU_ASSERT_EQUAL(v, UINT64_MAX - 1);
    CU_ASSERT_EQUAL(ent_entity_key(e).kind, ENT_KEY_STRING);
    s = ent_entity_key(e).str;
    CU_ASSERT(ent_entity_key(e).len == 2 && !memcmp(s, "k1", 2));
    ent_entity_free(e);
    /* "data" alone with "kinds" */
    ENT_OK_(put_rc(&e, &v, doc, "{\"data\":{\"m\":{\"b\":\"AP8=\"}},\"kinds\":{\"/m/b\":\"bytes\"}}"));
    ENT_OK_(ent_entity_kind(&k, e, "m.b"));
    CU_ASSERT_EQUAL(k, ENT_KIND_BYTES);
    CU_ASSERT_EQUAL(ent_entity_key(e).kind, ENT_KEY_NONE);
    ent_entity_free(e);
    ent_schema_free(sc);
}

/* The entity's JSON as a patch: its "data" the merge patch, its "kinds" applied to what it sets,
 * its version handed back, its key e's own. */
static void test_entity_json_patch(void)
{
    ent_schema *sc = schema();
    ent_entity *e = doc1(sc);
    const char *body = "{\"type\":\"doc\",\"key\":1,\"version\":\"9223372036854775808\",\"data\":{\"n\":2,\"m\":{\"u\":"
                       "\"18446744073709551615\",\"f\":\"NaN\"}},\"kinds\":{\"/m/u\":\"uint\",\"/m/f\":\"float\"}}";
    uint64_t v = 0, u;
    double f;
    int64_t n;
    ent_kind k;
    ENT_OK_(ent_entity_patch_body(&v, e, body, strlen(body)));
    CU_ASSERT_EQUAL(v, (uint64_t)1 << 63);
    ENT_OK_(ent_entity_get_int(&n, e, "n"));
    CU_ASSERT_EQUAL(n, 2);
    ENT_OK_(ent_entity_get_uint(&u, e, "m.u"));
    CU_ASSERT_EQUAL(u, UINT64_MAX);
    ENT_OK_(ent_entity_get_float(&f, e, "m.f"));
    CU_ASSERT(isnan(f));
    ENT_OK_(ent_entity_kind(&k, e, "m.a")); /* left as it was: bytes */
    CU_ASSERT_EQUAL(k, ENT_KIND_BYTES);
    /* a null inside an array is a value: the merge patch replaces the array whole */
    ENT_OK_(ent_entity_patch_body(&v, e, BODY("{\"data\":{\"m\":{\"l\":[null]}}}")));
    CU_ASSERT_EQUAL(v, 0);
    /* an array is an RFC 6902 JSON Patch, by its first non-blank byte */
    ENT_OK_(ent_entity_patch_body(&v, e, BODY(" \n[{\"op\":\"add\",\"path\":\"/m/z\",\"value\":null}]")));
    CU_ASSERT_TRUE(ent_entity_has(e, "m.z"));
    ent_entity_free(e);
    ent_schema_free(sc);
}

/* The entity's whole JSON for a type with fields named type, key, version and data: refused by
 * both calls (it reads as data, and was meant as the entity); those fields alone still write. */
static void test_ambiguous_refused(void)
{
    ent_schema *sc = schema();
    const ent_type *rec = type_of(sc, "rec");
    const char *whole = "{\"type\":\"rec\",\"key\":1,\"version\":1,\"data\":{\"n\":5}}";
    ent_entity *e = NULL;
    uint64_t v;
    put_refused(rec, whole, ENT_INVALID, "rec: the input is the entity's JSON as `entity get` prints it and GET answers it, and its members are also "
                     "fields of rec (neither reading is safe)");
    ENT_ASSERT_MSG("give its \"data\" alone, with its key and version apart");
    ENT_OK_(ent_entity_new(&e, rec));
    ENT_OK_(ent_entity_set_key(e, &(ent_key){ENT_KEY_AUTO, 1, NULL, 0}));
    patch_refused(e, whole, ENT_INVALID, "its members are also fields of rec");
    ENT_ASSERT_MSG("or the fields to change, or a JSON Patch array");
    /* with "kinds", which is no field of rec: the entity's JSON, not ambiguous */
    ENT_OK_(ent_entity_patch_body(&v, e, BODY("{\"type\":\"rec\",\"key\":1,\"version\":1,\"data\":{\"n\":3},\"kinds\":{}}")));
    CU_ASSERT_EQUAL(v, 1);
    CU_ASSERT_TRUE(ent_entity_has(e, "n"));
    /* not the whole of it: the fields of those names */
    ENT_OK_(ent_entity_patch_body(&v, e, BODY("{\"type\":\"t\",\"version\":4,\"data\":{\"x\":1}}")));
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_TRUE(ent_entity_has(e, "data.x"));
    ent_entity_free(e);
    ENT_OK_(put_rc(&e, &v, rec, "{\"type\":\"rec\",\"key\":1,\"data\":{\"n\":5}}"));
    CU_ASSERT_TRUE(ent_entity_has(e, "key"));
    ent_entity_free(e);
    /* the same shape where "data" is a string field: read as data it fails ("srec.data: expected
     * string", all a put said), and it is no entity's JSON either; told as a patch tells it */
    {
        const ent_type *srec = type_of(sc, "srec");
        const char *got = "{\"type\":\"srec\",\"key\":\"a\",\"version\":1,\"data\":{\"type\":\"t\",\"key\":\"k\","
                          "\"version\":7,\"data\":\"d\"}}";
        put_refused(srec, got, ENT_INVALID, "srec: the input is the entity's JSON as `entity get` prints it and GET answers it, and "
                                            "its members are also fields of srec (neither reading is safe)");
        ENT_ASSERT_MSG("give its \"data\" alone, with its key and version apart");
        /* its data alone writes, and data that fails for another reason says that reason */
        ENT_OK_(put_rc(&e, &v, srec, "{\"type\":\"t\",\"key\":\"k\",\"version\":7,\"data\":\"d\"}"));
        ent_entity_free(e);
        put_refused(srec, "{\"type\":\"srec\",\"key\":\"a\",\"version\":\"x\",\"data\":\"d\"}", ENT_INVALID,
                    "srec.version");
    }
    ent_schema_free(sc);
}

/* A null in a map of a patch's "data": a value in the entity's JSON, a removal in a merge patch. */
static void test_null_in_patch_refused(void)
{
    ent_schema *sc = schema();
    ent_entity *e = doc1(sc), *p = NULL;
    uint64_t v;
    patch_refused(e, "{\"type\":\"doc\",\"key\":1,\"version\":1,\"data\":{\"m\":{\"a\":\"AP8=\",\"n\":null}}}", ENT_INVALID,
                  "doc: \"data\" holds a null at /m/n, a value in the entity's JSON and a removal in a merge patch");
    patch_refused(e, "{\"data\":{\"n\":null}}", ENT_INVALID, "\"data\" holds a null at /n");
    patch_refused(e, "{\"data\":{\"m\":{\"x~/\":{\"y\":null}}}}", ENT_INVALID, "\"data\" holds a null at /m/x~0~1/y");
    /* the same as a put: a free-form null is a value */
    ENT_OK_(put_rc(&p, &v, type_of(sc, "doc"), "{\"data\":{\"m\":{\"n\":null}}}"));
    CU_ASSERT_TRUE(ent_entity_has(p, "m.n"));
    ent_entity_free(p);
    ent_entity_free(e);
    ent_schema_free(sc);
}

/* A patch's "kinds" name values it sets: one naming a stored value, or a removed one, is refused
 * (it would turn a stored string into a kind nobody wrote); a bad kind fails after the merge,
 * and e is still as it was. */
static void test_patch_kinds(void)
{
    ent_schema *sc = schema();
    ent_entity *e = doc1(sc);
    ENT_OK_(ent_entity_set_string(e, "m.s", "AP8="));
    patch_refused(e, "{\"data\":{\"m\":{\"b\":\"AP8=\"}},\"kinds\":{\"/m/s\":\"bytes\"}}", ENT_INVALID,
                  "doc: \"kinds\": \"/m/s\": names no value of the data that the patch sets");
    patch_refused(e, "{\"data\":{\"n\":2},\"kinds\":{\"/m/a\":\"bytes\"}}", ENT_INVALID, "\"/m/a\": names no value");
    patch_refused(e, "{\"data\":{\"n\":2,\"m\":{\"b\":\"AP8=\"}},\"kinds\":{\"/m/b\":\"uint\"}}", ENT_INVALID,
                  "\"/m/b\": uint: not decimal digits");
    patch_refused(e, "{\"data\":{\"n\":2,\"m\":{\"b\":\"AP8=\"}},\"kinds\":{\"m/b\":\"bytes\"}}", ENT_INVALID, "\"m/b\": not a JSON Pointer");
    ent_entity_free(e);
    ent_schema_free(sc);
}

/* An auto id in "key" as a string of decimal digits reads as the id they spell, leading zeros
 * too: the id in the data (a uint or ref field's "07"), in a URL path (/api/doc/01), on the
 * command line (`entity get doc 01`) and in a load line was read so, and only this "key" refused
 * "01" and any string below 2^63 ("1"): get's output edited by hand into "key":"01" was refused
 * by put and PUT while GET /api/doc/01 found the entity. Accepting them refuses nothing that was
 * accepted before; refusing them elsewhere would have. */
static void test_key_strings(void)
{
    ent_schema *sc = schema();
    const ent_type *doc = type_of(sc, "doc");
    static const struct {
        const char *body;
        uint64_t id;
    } cases[] = {
        {"{\"key\":\"01\",\"data\":{}}", 1},
        {"{\"key\":\"1\",\"data\":{}}", 1},
        {"{\"key\":\"0007\",\"data\":{}}", 7},
        {"{\"key\":\"9223372036854775807\",\"data\":{}}", 9223372036854775807ull},
        {"{\"key\":\"09223372036854775808\",\"data\":{}}", 9223372036854775808ull},
        {"{\"key\":\"0018446744073709551615\",\"data\":{}}", UINT64_MAX},
        {"{\"type\":\"doc\",\"key\":\"05\",\"version\":\"03\",\"data\":{\"n\":1}}", 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ent_entity *e = NULL;
        uint64_t v;
        int rc = put_rc(&e, &v, doc, cases[i].body);
        if (rc) fprintf(stderr, "\n  put %s: %s\n", cases[i].body, ent_errmsg());
        CU_ASSERT_EQUAL(rc, ENT_OK);
        if (rc) continue;
        CU_ASSERT_EQUAL(ent_entity_key(e).kind, ENT_KEY_AUTO);
        CU_ASSERT_EQUAL(ent_entity_key(e).id, cases[i].id);
        ent_entity_free(e);
    }
    /* a patch's "key" read the same, and compared as the id */
    {
        ent_entity *e = doc1(sc);
        uint64_t v = 0;
        ENT_OK_(ent_entity_patch_body(&v, e, BODY("{\"key\":\"001\",\"version\":2,\"data\":{\"n\":2}}")));
        CU_ASSERT_EQUAL(v, 2);
        patch_refused(e, "{\"key\":\"02\",\"data\":{\"n\":3}}", ENT_INVALID, "doc: \"key\" 2 is not the key of the entity patched (1)");
        ent_entity_free(e);
    }
    ent_schema_free(sc);
}

/* "type", "key", "version" and "data" of the wrong type or value, each named. */
static void test_members_refused(void)
{
    ent_schema *sc = schema();
    const ent_type *doc = type_of(sc, "doc"), *note = type_of(sc, "note");
    ent_entity *e = doc1(sc);
    put_refused(doc, "{\"type\":\"note\",\"data\":{}}", ENT_INVALID, "doc: \"type\" \"note\" is not the type written to (doc)");
    put_refused(doc, "{\"type\":5,\"data\":{}}", ENT_INVALID, "doc: \"type\" is not a string");
    put_refused(doc, "{\"type\":\"doc\\u0000x\",\"data\":{}}", ENT_INVALID, "doc: \"type\" \"doc\" is not the type written to");
    put_refused(doc, "{\"data\":[]}", ENT_INVALID, "doc: \"data\" is not an object");
    put_refused(doc, "{\"type\":\"doc\",\"data\":null}", ENT_INVALID, "doc: \"data\" is not an object");
    put_refused(doc, "{\"key\":\"x1\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc (an id from 1; above 2^63-1 a decimal string)");
    put_refused(doc, "{\"key\":0,\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    /* an id as a string: decimal digits only, from 1 to 2^64-1 (test_key_strings) */
    put_refused(doc, "{\"key\":\"0\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(doc, "{\"key\":\"000\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(doc, "{\"key\":\"\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(doc, "{\"key\":\"+1\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(doc, "{\"key\":\"-1\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(doc, "{\"key\":\" 1\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(doc, "{\"key\":\"1 \",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(doc, "{\"key\":\"1\\u00002\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(doc, "{\"key\":\"18446744073709551616\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(doc, "{\"key\":\"018446744073709551616\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(doc, "{\"key\":\"9223372036854775808x\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(doc, "{\"key\":1.5,\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    put_refused(note, "{\"key\":5,\"data\":{}}", ENT_INVALID, "note: \"key\" is not a key of note (a string of 1 to 255 bytes");
    put_refused(note, "{\"key\":\"\",\"data\":{}}", ENT_INVALID, "note: \"key\" is not a key of note");
    put_refused(doc, "{\"version\":0,\"data\":{}}", ENT_INVALID, "doc: \"version\" is not a version (an integer from 1)");
    put_refused(doc, "{\"version\":-3,\"data\":{}}", ENT_INVALID, "doc: \"version\" is not a version");
    put_refused(doc, "{\"version\":\"1e3\",\"data\":{}}", ENT_INVALID, "doc: \"version\" is not a version");
    put_refused(doc, "{\"version\":\"18446744073709551616\",\"data\":{}}", ENT_INVALID, "doc: \"version\" is not a version");
    /* UINT64_MAX is ENT_VERSION_ANY: no entity has that version */
    put_refused(doc, "{\"version\":\"18446744073709551615\",\"data\":{}}", ENT_INVALID, "doc: \"version\" is not a version");
    put_refused(doc, "{\"version\":true,\"data\":{}}", ENT_INVALID, "doc: \"version\" is not a version");
    /* the same members in a patch; and a key that is not e's */
    patch_refused(e, "{\"type\":\"note\",\"data\":{}}", ENT_INVALID, "doc: \"type\" \"note\" is not the type written to (doc)");
    patch_refused(e, "{\"key\":\"x\",\"data\":{}}", ENT_INVALID, "doc: \"key\" is not a key of doc");
    patch_refused(e, "{\"version\":0,\"data\":{}}", ENT_INVALID, "doc: \"version\" is not a version");
    patch_refused(e, "{\"type\":\"doc\",\"data\":5}", ENT_INVALID, "doc: \"data\" is not an object");
    patch_refused(e, "{\"key\":2,\"version\":1,\"data\":{\"n\":2}}", ENT_INVALID, "doc: \"key\" 2 is not the key of the entity patched (1)");
    /* a member of another name: read as data, with the data's own error */
    put_refused(doc, "{\"data\":{},\"other\":1}", ENT_INVALID, "doc.data: unknown field");
    patch_refused(e, "{\"data\":{},\"other\":1}", ENT_INVALID, "doc.data: unknown field");
    ent_entity_free(e);
    ent_schema_free(sc);
}

/* Not an object, not JSON, nothing at all, NULLs. */
static void test_not_an_object(void)
{
    ent_schema *sc = schema();
    const ent_type *doc = type_of(sc, "doc");
    ent_entity *e = doc1(sc), *out = (ent_entity *)1;
    put_refused(doc, "[1]", ENT_INVALID, "doc: expected a JSON object of fields");
    put_refused(doc, "5", ENT_INVALID, "doc: invalid JSON");
    put_refused(doc, "{\"version\":0,\"data\":{}} x", ENT_INVALID, "doc: invalid JSON");
    put_refused(doc, "", ENT_INVALID, "doc: invalid JSON");
    put_refused(doc, "{\"n\":", ENT_INVALID, "doc: invalid JSON");
    patch_refused(e, "5", ENT_INVALID, "doc: invalid JSON");
    patch_refused(e, "", ENT_INVALID, "doc: invalid JSON");
    patch_refused(e, "  ", ENT_INVALID, "doc: invalid JSON");
    patch_refused(e, "[{\"op\":\"nope\"}]", ENT_INVALID, "JSON Patch");
    CU_ASSERT_EQUAL(ent_entity_from_body(&out, NULL, doc, NULL, 0), ENT_INVALID);
    CU_ASSERT_PTR_NULL(out);
    CU_ASSERT_EQUAL(ent_entity_from_body(&out, NULL, NULL, "{}", 2), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_entity_from_body(NULL, NULL, doc, "{}", 2), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_entity_patch_body(NULL, NULL, "{}", 2), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_entity_patch_body(NULL, e, NULL, 0), ENT_INVALID);
    ent_entity_free(e);
    ent_schema_free(sc);
}

/* JSON's -0 (negative zero; jansson reads it as the integer 0) for a float field is -0.0, in the
 * data alone and in the entity's JSON (whose "data" is printed and read again), put and patch. */
static void test_negative_zero(void)
{
    ent_schema *sc = schema();
    const ent_type *t = type_of(sc, "pt");
    ent_entity *e = NULL;
    uint64_t v;
    int64_t n = 1;
    char *j;
    ENT_OK_(put_rc(&e, &v, t, "{\"f\":-0,\"n\":-0,\"fa\":[-0,0],\"d\":{\"x\":-0}}"));
    ent_test_zero_sign(e, "f", 1);
    ent_test_zero_sign(e, "fa[0]", 1);
    ent_test_zero_sign(e, "fa[1]", 0);
    ent_test_zero_sign(e, "d.x", 1);
    ENT_OK_(ent_entity_get_int(&n, e, "n"));
    CU_ASSERT_EQUAL(n, 0);
    ent_entity_free(e);
    ENT_OK_(put_rc(&e, &v, t, "{\"type\":\"pt\",\"key\":3,\"version\":2,\"data\":{\"f\":-0,\"n\":-0,\"fa\":[0,-0],\"d\":{\"x\":-0}}}"));
    CU_ASSERT_EQUAL(v, 2);
    ent_test_zero_sign(e, "f", 1);
    ent_test_zero_sign(e, "fa[0]", 0);
    ent_test_zero_sign(e, "fa[1]", 1);
    ent_test_zero_sign(e, "d.x", 1);
    j = data_json(e);
    CU_ASSERT_STRING_EQUAL(j, "{\"f\":-0.0,\"n\":0,\"fa\":[0.0,-0.0],\"d\":{\"x\":-0.0}}");
    free(j);
    /* patches: a merge patch, the entity's JSON, a JSON Patch */
    ENT_OK_(ent_entity_patch_body(NULL, e, BODY("{\"f\":1,\"fa\":[1],\"d\":{\"x\":1}}")));
    ENT_OK_(ent_entity_patch_body(NULL, e, BODY("{\"f\":-0,\"d\":{\"x\":0}}")));
    ent_test_zero_sign(e, "f", 1);
    ent_test_zero_sign(e, "d.x", 0);
    ENT_OK_(ent_entity_patch_body(NULL, e, BODY("{\"type\":\"pt\",\"key\":3,\"data\":{\"f\":0,\"fa\":[-0],\"d\":{\"x\":-0}}}")));
    ent_test_zero_sign(e, "f", 0);
    ent_test_zero_sign(e, "fa[0]", 1);
    ent_test_zero_sign(e, "d.x", 1);
    ENT_OK_(ent_entity_patch_body(NULL, e, BODY("[{\"op\":\"replace\",\"path\":\"/f\",\"value\":-0}]")));
    ent_test_zero_sign(e, "f", 1);
    ent_entity_free(e);
    ent_schema_free(sc);
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(test_data_alone),
        ENT_TEST(test_entity_json_put),
        ENT_TEST(test_entity_json_patch),
        ENT_TEST(test_ambiguous_refused),
        ENT_TEST(test_null_in_patch_refused),
        ENT_TEST(test_patch_kinds),
        ENT_TEST(test_key_strings),
        ENT_TEST(test_members_refused),
        ENT_TEST(test_not_an_object),
        ENT_TEST(test_negative_zero),
        {NULL, NULL},
    };
    return ent_test_run("entity_body", cases);
}
