/* ent_entity_json_patch(): RFC 6902 over an entity's data. The RFC's own examples (Appendix A)
 * inside a free-form map, declared fields (kinds, nulls, arrays, nested maps), all-or-nothing,
 * and random patches on random free-form documents against a reference written here on jansson. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "test_entity_schemas.h"
#include "test_rand.h"
#include "value_int.h"

static ent_schema *shop;
static const ent_type *product;

/* The schema, loaded by the first test that runs (its checks need a running suite). */
static void load_shop(void)
{
    if (shop) return;
    shop = test_schema(SHOP_JSON);
    product = ent_schema_type(shop, "product");
}

static int jp(ent_entity *e, const char *patch) { return ent_entity_json_patch(e, patch, strlen(patch)); }

/* A product whose free-form "attrs" is doc (JSON object text). */
static ent_entity *with_attrs(const char *doc)
{
    ent_entity *e = NULL;
    char *j = malloc(strlen(doc) + 16);
    load_shop();
    sprintf(j, "{\"attrs\":%s}", doc);
    ENT_OK_(ent_entity_from_json(&e, product, j, strlen(j)));
    free(j);
    return e;
}

static json_t *attrs_json(const ent_entity *e)
{
    char *j = NULL;
    json_t *v;
    ENT_OK_(ent_entity_get_json(&j, e, "attrs"));
    v = json_loads(j, JSON_DECODE_ANY, NULL);
    free(j);
    return v;
}

static char *data_text(const ent_entity *e)
{
    char *j = NULL;
    ENT_OK_(ent_entity_to_json(&j, e, ENT_JSON_ENTITY));
    return j;
}

/* Appendix A of RFC 6902, with each path under /attrs: doc, patch, the result (NULL: an error). */
static void test_rfc_examples(void)
{
    static const struct {
        const char *doc, *patch, *want;
    } ex[] = {
        /* A.1 adding an object member */
        {"{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/attrs/baz\",\"value\":\"qux\"}]", "{\"baz\":\"qux\",\"foo\":\"bar\"}"},
        /* A.2 adding an array element */
        {"{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/attrs/foo/1\",\"value\":\"qux\"}]",
         "{\"foo\":[\"bar\",\"qux\",\"baz\"]}"},
        /* A.3 removing an object member */
        {"{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/attrs/baz\"}]", "{\"foo\":\"bar\"}"},
        /* A.4 removing an array element */
        {"{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/attrs/foo/1\"}]", "{\"foo\":[\"bar\",\"baz\"]}"},
        /* A.5 replacing a value */
        {"{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"replace\",\"path\":\"/attrs/baz\",\"value\":\"boo\"}]",
         "{\"baz\":\"boo\",\"foo\":\"bar\"}"},
        /* A.6 moving a value */
        {"{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
         "[{\"op\":\"move\",\"from\":\"/attrs/foo/waldo\",\"path\":\"/attrs/qux/thud\"}]",
         "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}"},
        /* A.7 moving an array element */
        {"{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}", "[{\"op\":\"move\",\"from\":\"/attrs/foo/1\",\"path\":\"/attrs/foo/3\"}]",
         "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}"},
        /* A.8 testing a value: success */
        {"{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
         "[{\"op\":\"test\",\"path\":\"/attrs/baz\",\"value\":\"qux\"},{\"op\":\"test\",\"path\":\"/attrs/foo/1\",\"value\":2}]",
         "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}"},
        /* A.9 testing a value: error */
        {"{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/attrs/baz\",\"value\":\"bar\"}]", NULL},
        /* A.10 adding a nested member object */
        {"{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/attrs/child\",\"value\":{\"grandchild\":{}}}]",
         "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}"},
        /* A.11 ignoring unrecognized elements */
        {"{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/attrs/baz\",\"value\":\"qux\",\"xyz\":123}]",
         "{\"foo\":\"bar\",\"baz\":\"qux\"}"},
        /* A.12 adding to a nonexistent target */
        {"{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/attrs/baz/bat\",\"value\":\"qux\"}]", NULL},
        /* A.14 ~ escape ordering */
        {"{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/attrs/~01\",\"value\":10}]", "{\"/\":9,\"~1\":10}"},
        /* A.15 comparing strings and numbers */
        {"{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/attrs/~01\",\"value\":\"10\"}]", NULL},
        /* A.16 adding an array value */
        {"{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/attrs/foo/-\",\"value\":[\"abc\",\"def\"]}]",
         "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}"},
        /* beyond the appendix: a null written (a merge patch cannot), numbers equal by value,
         * copy, the empty key, an index past the end, move into itself */
        {"{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/attrs/n\",\"value\":null}]", "{\"a\":1,\"n\":null}"},
        {"{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/attrs/a\",\"value\":1.0}]", "{\"a\":1}"},
        {"{\"a\":1.5}", "[{\"op\":\"test\",\"path\":\"/attrs/a\",\"value\":1}]", NULL},
        {"{\"a\":{\"b\":[1]}}", "[{\"op\":\"copy\",\"from\":\"/attrs/a\",\"path\":\"/attrs/a/b/0\"}]",
         "{\"a\":{\"b\":[{\"b\":[1]},1]}}"},
        {"{\"\":1}", "[{\"op\":\"replace\",\"path\":\"/attrs/\",\"value\":2}]", "{\"\":2}"},
        {"{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/attrs/a/2\",\"value\":2}]", NULL},
        {"{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/attrs/a/01\",\"value\":2}]", NULL},
        {"{\"a\":[1]}", "[{\"op\":\"remove\",\"path\":\"/attrs/a/-\"}]", NULL},
        {"{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/attrs/a\",\"path\":\"/attrs/a/b\"}]", NULL},
        {"{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/attrs/a\",\"path\":\"/attrs/ab\"}]", "{\"ab\":{\"b\":1}}"},
        {"{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/attrs/b\"}]", NULL},
        {"{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/attrs/b\",\"value\":1}]", NULL},
        {"{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/attrs/a/x\",\"value\":1}]", NULL},
        {"{\"a\":1}", "[{\"op\":\"add\",\"path\":\"attrs/a\",\"value\":1}]", NULL},
        {"{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/attrs/a~2\",\"value\":1}]", NULL},
        {"{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/attrs/b\"}]", NULL},
        {"{\"a\":1}", "[{\"op\":\"jump\",\"path\":\"/attrs/b\"}]", NULL},
        {"{\"a\":1}", "[{\"path\":\"/attrs/b\",\"value\":1}]", NULL},
        {"{\"a\":1}", "[{\"op\":\"move\",\"path\":\"/attrs/b\"}]", NULL},
        {"{\"a\":1}", "[1]", NULL},
        {"{\"a\":1}", "{\"op\":\"remove\",\"path\":\"/attrs/a\"}", NULL},
        {"{\"a\":1}", "[]", "{\"a\":1}"},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        ent_entity *e = with_attrs(ex[i].doc);
        char *before = data_text(e);
        int rc = jp(e, ex[i].patch);
        if ((rc == ENT_OK) != (ex[i].want != NULL)) fprintf(stderr, "\n  example %zu: %s (%s)\n", i, ent_strerror(rc), ent_errmsg());
        CU_ASSERT_EQUAL(rc == ENT_OK, ex[i].want != NULL);
        if (ex[i].want && rc == ENT_OK) {
            json_t *got = attrs_json(e), *want = json_loads(ex[i].want, 0, NULL);
            if (!json_equal(got, want)) fprintf(stderr, "\n  example %zu differs\n", i);
            CU_ASSERT_TRUE(json_equal(got, want));
            json_decref(got);
            json_decref(want);
        } else if (rc != ENT_OK) {
            char *after = data_text(e);
            CU_ASSERT_STRING_EQUAL(before, after); /* all or nothing */
            CU_ASSERT_TRUE(rc == ENT_INVALID || rc == ENT_CONFLICT);
            CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "JSON Patch") ? strstr(ent_errmsg(), "JSON Patch") : strstr(ent_errmsg(), "product"));
            free(after);
        }
        free(before);
        ent_entity_free(e);
    }
}

static void test_declared_fields(void)
{
    ent_entity *e = NULL;
    const char *doc = (load_shop(), "{\"price\":2.5,\"stock\":3,\"tags\":[\"a\",\"b\"],\"dims\":{\"w\":1}}");
    char *j;
    ENT_OK_(ent_entity_from_json(&e, product, doc, strlen(doc)));
    ent_entity_clear_changed(e);
    /* values read as the field expects: an integer for a float field, an array item's kind */
    ENT_OK_(jp(e, "[{\"op\":\"add\",\"path\":\"/dims/h\",\"value\":4},"
                  "{\"op\":\"add\",\"path\":\"/tags/1\",\"value\":\"x\"},"
                  "{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":\"z\"},"
                  "{\"op\":\"remove\",\"path\":\"/tags/0\"},"
                  "{\"op\":\"test\",\"path\":\"/dims/h\",\"value\":4},"
                  "{\"op\":\"replace\",\"path\":\"/stock\",\"value\":7}]"));
    ENT_OK_(ent_entity_to_json(&j, e, 0));
    CU_ASSERT_STRING_EQUAL(j, "{\"price\":2.5,\"stock\":7,\"tags\":[\"x\",\"b\",\"z\"],\"dims\":{\"w\":1.0,\"h\":4.0}}");
    free(j);
    CU_ASSERT_FALSE(ent_entity_changed(e, ent_type_field(product, "price")));
    CU_ASSERT_TRUE(ent_entity_changed(e, ent_type_field(product, "stock")));
    CU_ASSERT_TRUE(ent_entity_changed(e, ent_type_field(product, "tags")));
    CU_ASSERT_TRUE(ent_entity_changed(e, ent_type_field(product, "dims")));
    CU_ASSERT_EQUAL(ent_entity_changed_count(e), 3);
    /* a declared field's null leaves it unset (as everywhere for declared fields); remove too */
    ENT_OK_(jp(e, "[{\"op\":\"replace\",\"path\":\"/stock\",\"value\":null},{\"op\":\"remove\",\"path\":\"/dims/w\"}]"));
    ENT_OK_(ent_entity_to_json(&j, e, 0));
    CU_ASSERT_STRING_EQUAL(j, "{\"price\":2.5,\"tags\":[\"x\",\"b\",\"z\"],\"dims\":{\"h\":4.0}}");
    free(j);
    /* the whole data: test and replace of "" */
    ENT_OK_(jp(e, "[{\"op\":\"test\",\"path\":\"\",\"value\":{\"price\":2.5,\"tags\":[\"x\",\"b\",\"z\"],\"dims\":{\"h\":4}}},"
                  "{\"op\":\"replace\",\"path\":\"\",\"value\":{\"price\":1}}]"));
    ENT_OK_(ent_entity_to_json(&j, e, 0));
    CU_ASSERT_STRING_EQUAL(j, "{\"price\":1.0}");
    free(j);
    /* refusals name the operation and its pointer, and change nothing */
    j = data_text(e);
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"add\",\"path\":\"/stock\",\"value\":1},{\"op\":\"add\",\"path\":\"/price\",\"value\":\"x\"}]"),
                    ENT_INVALID);
    ENT_ASSERT_MSG("product: JSON Patch op 1 (add \"/price\"): expected float");
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"add\",\"path\":\"/nope\",\"value\":1}]"), ENT_INVALID);
    ENT_ASSERT_MSG("op 0 (add \"/nope\"): names no field of the type");
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"add\",\"path\":\"/dims/d\",\"value\":1}]"), ENT_CONFLICT); /* dims is unset */
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"add\",\"path\":\"/price/x\",\"value\":1}]"), ENT_INVALID);
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"add\",\"path\":\"/stock\",\"value\":1},{\"op\":\"test\",\"path\":\"/price\",\"value\":2}]"),
                    ENT_CONFLICT);
    ENT_ASSERT_MSG("op 1 (test \"/price\"): test: the value there differs");
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"remove\",\"path\":\"\"}]"), ENT_INVALID);
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]}]"), ENT_INVALID);
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"nope\":1}}]"), ENT_INVALID);
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"copy\",\"from\":\"\",\"path\":\"/attrs\"}]"), ENT_INVALID);
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"add\",\"path\":\"/price\",\"value\":1"), ENT_INVALID);
    ENT_ASSERT_MSG("invalid JSON");
    CU_ASSERT_EQUAL(ent_entity_json_patch(e, NULL, 0), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_entity_json_patch(NULL, "[]", 2), ENT_INVALID);
    {
        char *after = data_text(e);
        CU_ASSERT_STRING_EQUAL(j, after);
        free(after);
    }
    free(j);
    ent_entity_free(e);
}

static ent_kind kind_at(const ent_entity *e, const char *path)
{
    ent_kind k = ENT_KIND_BOOL;
    ENT_OK_(ent_entity_kind(&k, e, path));
    return k;
}

/* move and copy between declared and free-form places, and kinds. */
static void test_move_copy_kinds(void)
{
    ent_entity *e = NULL;
    const char *doc = (load_shop(), "{\"price\":2.5,\"tags\":[\"a\"],\"attrs\":{\"t\":\"b\",\"n\":4}}");
    char *j;
    ENT_OK_(ent_entity_from_json(&e, product, doc, strlen(doc)));
    /* a free-form string into a declared array of strings; a declared float into free-form */
    ENT_OK_(jp(e, "[{\"op\":\"move\",\"from\":\"/attrs/t\",\"path\":\"/tags/0\"},"
                  "{\"op\":\"copy\",\"from\":\"/price\",\"path\":\"/attrs/p\"}]"));
    ENT_OK_(ent_entity_to_json(&j, e, 0));
    CU_ASSERT_STRING_EQUAL(j, "{\"price\":2.5,\"tags\":[\"b\",\"a\"],\"attrs\":{\"n\":4,\"p\":2.5}}");
    free(j);
    /* a value that does not fit where it goes: refused whole */
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"move\",\"from\":\"/attrs/n\",\"path\":\"/tags/-\"}]"), ENT_INVALID);
    ENT_ASSERT_MSG("expected string");
    /* kinds: bytes, a uint above 2^63-1 and NaN written into free-form places exactly */
    ENT_OK_(jp(e, "[{\"op\":\"add\",\"path\":\"/attrs/blob\",\"value\":\"AAEC\",\"kinds\":{\"\":\"bytes\"}},"
                  "{\"op\":\"add\",\"path\":\"/attrs/l\",\"value\":[1,\"18446744073709551615\"],\"kinds\":{\"/1\":\"uint\"}},"
                  "{\"op\":\"add\",\"path\":\"/attrs/l/0\",\"value\":\"NaN\",\"kinds\":{\"\":\"float\"}},"
                  "{\"op\":\"add\",\"path\":\"/attrs/l/-\",\"value\":\"AA==\",\"kinds\":{\"\":\"bytes\"}}]"));
    CU_ASSERT_EQUAL(kind_at(e, "attrs.blob"), ENT_KIND_BYTES);
    CU_ASSERT_EQUAL(kind_at(e, "attrs.l[0]"), ENT_KIND_FLOAT);
    CU_ASSERT_EQUAL(kind_at(e, "attrs.l[2]"), ENT_KIND_UINT);
    CU_ASSERT_EQUAL(kind_at(e, "attrs.l[3]"), ENT_KIND_BYTES);
    {
        uint64_t u = 0;
        ENT_OK_(ent_entity_get_uint(&u, e, "attrs.l[2]"));
        CU_ASSERT_EQUAL(u, UINT64_MAX);
    }
    /* a free-form value moves as itself (its kind kept), and test sees the JSON it prints as */
    ENT_OK_(jp(e, "[{\"op\":\"move\",\"from\":\"/attrs/blob\",\"path\":\"/attrs/l/1\"},"
                  "{\"op\":\"test\",\"path\":\"/attrs/l/1\",\"value\":\"AAEC\"}]"));
    CU_ASSERT_EQUAL(kind_at(e, "attrs.l[1]"), ENT_KIND_BYTES);
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"add\",\"path\":\"/attrs/x\",\"value\":\"zz\",\"kinds\":{\"\":\"bytes\"}}]"), ENT_INVALID);
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"remove\",\"path\":\"/attrs/n\",\"kinds\":{}}]"), ENT_INVALID);
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"add\",\"path\":\"/price\",\"value\":1,\"kinds\":{\"\":\"uint\"}}]"), ENT_INVALID);
    ent_entity_free(e);
}


/* A pointer in "kinds" is relative to the value: "x" would name a sibling of the value added. A
 * key cannot hold NUL. A value copied into itself doubles with each copy: a patch of a few dozen
 * would take 2^n memory. */
static void test_kinds_pointer_and_copy_budget(void)
{
    ent_entity *e = with_attrs("{\"x\":{\"a\":[1,2,3,4,5,6,7,8]},\"qx\":\"AA==\"}");
    char patch[4096], *before, *after;
    size_t n = 0;
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"add\",\"path\":\"/attrs/q\",\"value\":{},\"kinds\":{\"x\":\"bytes\"}}]"), ENT_INVALID);
    ENT_ASSERT_MSG("op 0 (add \"/attrs/q\"): \"kinds\": a pointer inside the value starts with '/'");
    CU_ASSERT_EQUAL(kind_at(e, "attrs.qx"), ENT_KIND_STRING);
    ENT_OK_(jp(e, "[{\"op\":\"add\",\"path\":\"/attrs/q\",\"value\":{\"x\":\"AA==\"},\"kinds\":{\"/x\":\"bytes\"}}]"));
    CU_ASSERT_EQUAL(kind_at(e, "attrs.q.x"), ENT_KIND_BYTES);
    /* a NUL in a key: JSON keys cannot hold one, so the map would print another key */
    before = data_text(e);
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"add\",\"path\":\"/attrs/c\\u0000d\",\"value\":2}]"), ENT_INVALID);
    ENT_ASSERT_MSG("a segment holds a NUL byte");
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"copy\",\"from\":\"/attrs/x\",\"path\":\"/attrs/\\u0000\"}]"), ENT_INVALID);
    after = data_text(e);
    CU_ASSERT_STRING_EQUAL(before, after);
    free(before);
    free(after);
    /* copies of a value beside it: fine */
    ENT_OK_(jp(e, "[{\"op\":\"copy\",\"from\":\"/attrs/x\",\"path\":\"/attrs/y1\"},{\"op\":\"copy\",\"from\":\"/attrs/x\",\"path\":\"/attrs/y2\"},"
                  "{\"op\":\"copy\",\"from\":\"/attrs/x\",\"path\":\"/attrs/x/a/-\"}]"));
    /* 16 copies of x into itself would make 2^16 copies of it: refused, nothing changed */
    before = data_text(e);
    n += (size_t)snprintf(patch + n, sizeof patch - n, "[");
    for (int i = 0; i < 16; i++)
        n += (size_t)snprintf(patch + n, sizeof patch - n, "%s{\"op\":\"copy\",\"from\":\"/attrs/x\",\"path\":\"/attrs/x/k%d\"}",
                              i ? "," : "", i);
    snprintf(patch + n, sizeof patch - n, "]");
    CU_ASSERT_EQUAL(jp(e, patch), ENT_INVALID);
    ENT_ASSERT_MSG("(copy \"/attrs/x/k");
    ENT_ASSERT_MSG("copies would copy more than 16 times the size of the data and the patch");
    after = data_text(e);
    CU_ASSERT_STRING_EQUAL(before, after);
    free(before);
    free(after);
    ent_entity_free(e);
}

/* "[[...[0]...]]" with n arrays, into buf. */
static const char *nested(char *buf, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) buf[k++] = '[';
    buf[k++] = '0';
    for (int i = 0; i < n; i++) buf[k++] = ']';
    buf[k] = '\0';
    return buf;
}

/* No patch builds a value nested deeper than a write takes (ENT__MAX_DEPTH levels of maps and
 * arrays, counted from the field's own): each such op is refused naming its path and the limit,
 * and leaves the entity as it was. They were taken, and the write refused the entity later. */
static void test_depth_limit(void)
{
    ent_entity *e = with_attrs("{\"a\":{\"b\":1}}");
    char patch[4096], deep[128], *before, *after;
    size_t n = 0;
    /* /attrs/a/x is inside attrs and a: 2 levels, and the value's arrays on top of them */
    snprintf(patch, sizeof patch, "[{\"op\":\"add\",\"path\":\"/attrs/a/x\",\"value\":%s}]", nested(deep, ENT__MAX_DEPTH - 2));
    ENT_OK_(jp(e, patch));
    ENT_OK_(ent_entity_validate(e)); /* the deepest a write takes */
    before = data_text(e);
    snprintf(patch, sizeof patch, "[{\"op\":\"add\",\"path\":\"/attrs/a/y\",\"value\":%s}]", nested(deep, ENT__MAX_DEPTH - 1));
    CU_ASSERT_EQUAL(jp(e, patch), ENT_INVALID);
    ENT_ASSERT_MSG("product: JSON Patch op 0 (add \"/attrs/a/y\"): the value would be nested deeper than 24 levels");
    snprintf(patch, sizeof patch, "[{\"op\":\"replace\",\"path\":\"/attrs/a/b\",\"value\":%s}]", nested(deep, ENT__MAX_DEPTH - 1));
    CU_ASSERT_EQUAL(jp(e, patch), ENT_INVALID);
    ENT_ASSERT_MSG("(replace \"/attrs/a/b\"): the value would be nested deeper than 24 levels");
    /* a move or a copy of the deepest value one level down */
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"move\",\"from\":\"/attrs/a/x\",\"path\":\"/attrs/a/b\"},"
                          "{\"op\":\"move\",\"from\":\"/attrs/a/b\",\"path\":\"/attrs/a/c\"},"
                          "{\"op\":\"add\",\"path\":\"/attrs/a/d\",\"value\":{}},"
                          "{\"op\":\"move\",\"from\":\"/attrs/a/c\",\"path\":\"/attrs/a/d/e\"}]"),
                    ENT_INVALID);
    ENT_ASSERT_MSG("op 3 (move \"/attrs/a/d/e\"): the value would be nested deeper than 24 levels");
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"copy\",\"from\":\"/attrs/a/x\",\"path\":\"/attrs/a/x/0\"}]"), ENT_INVALID);
    ENT_ASSERT_MSG("op 0 (copy \"/attrs/a/x/0\"): the value would be nested deeper than 24 levels");
    /* a value copied into itself a level deeper each time: refused at the op that passes 24,
     * long before the copy budget (the value is small) */
    n += (size_t)snprintf(patch + n, sizeof patch - n, "[{\"op\":\"add\",\"path\":\"/attrs/z\",\"value\":{}}");
    for (int i = 0; i < 30; i++)
        n += (size_t)snprintf(patch + n, sizeof patch - n, ",{\"op\":\"copy\",\"from\":\"/attrs/z\",\"path\":\"/attrs/z/k\"}");
    snprintf(patch + n, sizeof patch - n, "]");
    CU_ASSERT_EQUAL(jp(e, patch), ENT_INVALID);
    /* op 22 leaves z 23 levels deep inside attrs: 24; op 23 would make it 25 */
    ENT_ASSERT_MSG("op 23 (copy \"/attrs/z/k\"): the value would be nested deeper than 24 levels");
    /* the whole data replaced */
    snprintf(patch, sizeof patch, "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"attrs\":{\"q\":%s}}}]", nested(deep, ENT__MAX_DEPTH));
    CU_ASSERT_EQUAL(jp(e, patch), ENT_INVALID);
    ENT_ASSERT_MSG("op 0 (replace \"\"): field attrs would be nested deeper than 24 levels");
    after = data_text(e);
    CU_ASSERT_STRING_EQUAL(before, after);
    free(before);
    free(after);
    ent_entity_free(e);
}

/* ---- random patches against a reference ------------------------------------------------- */

static uint64_t rng;
static unsigned rnd(unsigned n) { return (unsigned)(test_rand_next(&rng) % n); }

static const char *const keys[] = {"a", "b", "", "a/b", "m~n", "~1", "x y", "0", "-"};

static json_t *rand_value(int depth)
{
    unsigned k = rnd(depth > 2 ? 6 : 8);
    json_t *v;
    switch (k) {
    case 0: return json_null();
    case 1: return json_boolean(rnd(2));
    case 2: return json_integer((json_int_t)rnd(200) - 100);
    case 3: return json_real((double)rnd(100) + 0.25);
    case 4: {
        char s[8];
        snprintf(s, sizeof s, "s%u", rnd(5));
        return json_string(s);
    }
    case 5: return json_string("");
    case 6:
        v = json_array();
        for (unsigned i = rnd(4); i; i--) json_array_append_new(v, rand_value(depth + 1));
        return v;
    default:
        v = json_object();
        for (unsigned i = rnd(4); i; i--) json_object_set_new(v, keys[rnd(sizeof keys / sizeof keys[0])], rand_value(depth + 1));
        return v;
    }
}

static void ptr_append(char *p, const char *seg)
{
    p += strlen(p);
    *p++ = '/';
    for (; *seg; seg++) {
        if (*seg == '~') *p++ = '~', *p++ = '0';
        else if (*seg == '/') *p++ = '~', *p++ = '1';
        else *p++ = *seg;
    }
    *p = '\0';
}

/* A pointer into doc's "attrs" (often to a value it holds, sometimes not). */
static void rand_ptr(char *p, json_t *doc)
{
    json_t *v = json_object_get(doc, "attrs");
    strcpy(p, "/attrs");
    for (;;) {
        if (json_is_object(v) && json_object_size(v) && rnd(4)) {
            const char *k;
            json_t *m;
            unsigned pick = rnd((unsigned)json_object_size(v)), i = 0;
            json_object_foreach(v, k, m) {
                if (i++ == pick) break;
            }
            ptr_append(p, k);
            v = m;
        } else if (json_is_array(v) && json_array_size(v) && rnd(4)) {
            char idx[16];
            unsigned i = rnd((unsigned)json_array_size(v));
            snprintf(idx, sizeof idx, "%u", i);
            ptr_append(p, idx);
            v = json_array_get(v, i);
        } else {
            break;
        }
        if (!rnd(3)) break;
    }
    /* always below "/attrs" (the field itself is a declared map: test_declared_fields) */
    if (!strcmp(p, "/attrs") || !rnd(3)) {
        /* the end of an array, a new key, or an index past the end */
        static const char *const tails[] = {"-", "new", "9", "a"};
        ptr_append(p, tails[rnd(4)]);
    }
}

/* The reference: RFC 6902 on jansson values, written from the RFC alone. */
static int ref_split(json_t *doc, const char *ptr, json_t **parent, char *last)
{
    json_t *v = doc;
    const char *p = ptr;
    *parent = NULL;
    if (!*p) return -1;
    while (*p) {
        char seg[256];
        size_t n = 0;
        json_t *next;
        p++;
        while (*p && *p != '/') {
            if (*p == '~') {
                seg[n++] = p[1] == '0' ? '~' : '/';
                p += 2;
            } else {
                seg[n++] = *p++;
            }
        }
        seg[n] = '\0';
        if (!*p) {
            *parent = v;
            strcpy(last, seg);
            return 0;
        }
        if (json_is_object(v)) next = json_object_get(v, seg);
        else if (json_is_array(v)) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            next = *end || !*seg || (seg[0] == '0' && seg[1]) ? NULL : json_array_get(v, i);
        } else
            next = NULL;
        if (!next) return -1;
        v = next;
    }
    return -1;
}

static int ref_index(const char *s, size_t n, size_t *out, int dash_ok)
{
    char *end;
    if (dash_ok && !strcmp(s, "-")) {
        *out = n;
        return 0;
    }
    if (!*s || (s[0] == '0' && s[1]) || s[0] < '0' || s[0] > '9') return -1;
    *out = strtoul(s, &end, 10);
    return *end ? -1 : 0;
}

static json_t *ref_get(json_t *doc, const char *ptr)
{
    json_t *parent;
    char last[256];
    size_t i;
    if (ref_split(doc, ptr, &parent, last)) return NULL;
    if (json_is_object(parent)) return json_object_get(parent, last);
    if (json_is_array(parent) && !ref_index(last, json_array_size(parent), &i, 0)) return json_array_get(parent, i);
    return NULL;
}

static int ref_remove(json_t *doc, const char *ptr)
{
    json_t *parent;
    char last[256];
    size_t i;
    if (ref_split(doc, ptr, &parent, last)) return -1;
    if (json_is_object(parent)) return json_object_del(parent, last);
    if (json_is_array(parent) && !ref_index(last, json_array_size(parent), &i, 0) && i < json_array_size(parent))
        return json_array_remove(parent, i);
    return -1;
}

static int ref_add(json_t *doc, const char *ptr, json_t *v)
{
    json_t *parent;
    char last[256];
    size_t i;
    if (ref_split(doc, ptr, &parent, last)) return -1;
    if (json_is_object(parent)) return json_object_set(parent, last, v);
    if (json_is_array(parent) && !ref_index(last, json_array_size(parent), &i, 1) && i <= json_array_size(parent))
        return json_array_insert(parent, i, v);
    return -1;
}

static int ref_apply(json_t *doc, json_t *op)
{
    const char *o = json_string_value(json_object_get(op, "op")), *path = json_string_value(json_object_get(op, "path"));
    json_t *value = json_object_get(op, "value"), *got;
    int rc;
    /* the values of the patch go in as copies: the patch itself must not change */
    if (!strcmp(o, "add")) return (got = json_deep_copy(value)), rc = ref_add(doc, path, got), json_decref(got), rc;
    if (!strcmp(o, "remove")) return ref_remove(doc, path);
    if (!strcmp(o, "replace")) {
        if (!ref_get(doc, path) || ref_remove(doc, path)) return -1;
        got = json_deep_copy(value);
        rc = ref_add(doc, path, got);
        json_decref(got);
        return rc;
    }
    if (!strcmp(o, "test")) return (got = ref_get(doc, path)) && json_equal(got, value) ? 0 : -1;
    {
        const char *from = json_string_value(json_object_get(op, "from"));
        size_t fn = strlen(from);
        if (!(got = ref_get(doc, from))) return -1;
        if (!strcmp(o, "move") && strlen(path) > fn && !strncmp(path, from, fn) && path[fn] == '/') return -1;
        got = json_deep_copy(got);
        if (!strcmp(o, "move") && ref_remove(doc, from)) rc = -1;
        else rc = ref_add(doc, path, got);
        json_decref(got);
        return rc;
    }
}

static void test_random_against_reference(void)
{
    static const char *const ops[] = {"add", "remove", "replace", "move", "copy", "test"};
    unsigned agreed_ok = 0, agreed_err = 0;
    for (unsigned seed = 1; seed <= 3000; seed++) {
        json_t *doc, *patch = json_array(), *ref, *got;
        ent_entity *e;
        char *text, *before, *ptext;
        int ref_ok = 1, rc;
        rng = 0x9e3779b97f4a7c15ull * seed;
        do {
            doc = rand_value(0);
            if (!json_is_object(doc)) json_decref(doc), doc = NULL;
        } while (!doc);
        ref = json_deep_copy(doc);
        for (unsigned n = 1 + rnd(4); n; n--) {
            char p[512], f[512];
            json_t *wrap = json_pack("{s:O}", "attrs", ref), *op;
            const char *name = ops[rnd(6)];
            rand_ptr(p, wrap);
            op = json_pack("{s:s,s:s}", "op", name, "path", p);
            if (!strcmp(name, "add") || !strcmp(name, "replace")) json_object_set_new(op, "value", rand_value(1));
            if (!strcmp(name, "test")) {
                json_t *here = ref_get(wrap, p);
                json_object_set_new(op, "value", here && rnd(3) ? json_deep_copy(here) : rand_value(1));
            }
            if (!strcmp(name, "move") || !strcmp(name, "copy")) {
                rand_ptr(f, wrap);
                json_object_set_new(op, "from", json_string(f));
            }
            json_array_append_new(patch, op);
            if (ref_ok && ref_apply(wrap, op)) ref_ok = 0;
            json_decref(ref);
            ref = json_incref(json_object_get(wrap, "attrs"));
            json_decref(wrap);
        }
        text = json_dumps(doc, JSON_COMPACT);
        e = with_attrs(text);
        before = data_text(e);
        ptext = json_dumps(patch, JSON_COMPACT);
        rc = jp(e, ptext);
        if ((rc == ENT_OK) != ref_ok) fprintf(stderr, "\n  seed %u: doc %s patch %s: %s (%s)\n", seed, text, ptext, ent_strerror(rc), ent_errmsg());
        CU_ASSERT_EQUAL(rc == ENT_OK, ref_ok);
        if (rc == ENT_OK && ref_ok) {
            /* the reference ran on a copy that held the whole attrs; compare what the entity holds */
            got = attrs_json(e);
            if (!json_equal(got, ref)) {
                char *g = json_dumps(got, JSON_COMPACT), *r = json_dumps(ref, JSON_COMPACT);
                fprintf(stderr, "\n  seed %u: doc %s patch %s\n  got %s\n  want %s\n", seed, text, ptext, g, r);
                free(g);
                free(r);
            }
            CU_ASSERT_TRUE(json_equal(got, ref));
            json_decref(got);
            agreed_ok++;
        } else if (rc != ENT_OK) {
            char *after = data_text(e);
            CU_ASSERT_STRING_EQUAL(before, after);
            free(after);
            agreed_err++;
        }
        free(text);
        free(before);
        free(ptext);
        ent_entity_free(e);
        json_decref(doc);
        json_decref(ref);
        json_decref(patch);
    }
    /* both outcomes are exercised, not one */
    CU_ASSERT_TRUE(agreed_ok > 300);
    CU_ASSERT_TRUE(agreed_err > 300);
}

/* JSON's -0 (negative zero; jansson reads it as the integer 0) as a value for a float field is
 * -0.0, at the top, in a declared map, as the whole data; an int's is 0, a free-form one JSON's
 * integer 0, a string's "-0" as written. */
static void test_negative_zero(void)
{
    ent_entity *e = with_attrs("{}");
    const char *str;
    int64_t i = 1;
    uint64_t u = 1;
    char *j;
    ENT_OK_(jp(e, "[{\"op\":\"add\",\"path\":\"/price\",\"value\":-0},{\"op\":\"add\",\"path\":\"/dims\",\"value\":{\"w\":-0,"
                  "\"h\":0}},{\"op\":\"add\",\"path\":\"/stock\",\"value\":-0},{\"op\":\"add\",\"path\":\"/attrs/z\",\"value\":-0},"
                  "{\"op\":\"add\",\"path\":\"/tags\",\"value\":[\"-0\"]}]"));
    ent_test_zero_sign(e, "price", 1);
    ent_test_zero_sign(e, "dims.w", 1);
    ent_test_zero_sign(e, "dims.h", 0);
    ENT_OK_(ent_entity_get_int(&i, e, "stock"));
    CU_ASSERT_EQUAL(i, 0);
    ENT_OK_(ent_entity_get_uint(&u, e, "attrs.z"));
    CU_ASSERT_EQUAL(u, 0);
    ENT_OK_(ent_entity_get_string(&str, NULL, e, "tags[0]"));
    CU_ASSERT_STRING_EQUAL(str, "-0");
    j = data_text(e);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"price\":-0.0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"dims\":{\"w\":-0.0,\"h\":0.0}"));
    free(j);
    ENT_OK_(jp(e, "[{\"op\":\"replace\",\"path\":\"/dims/h\",\"value\":-0},{\"op\":\"replace\",\"path\":\"/price\",\"value\":0},"
                  "{\"op\":\"test\",\"path\":\"/dims/h\",\"value\":-0}]"));
    ent_test_zero_sign(e, "dims.h", 1);
    ent_test_zero_sign(e, "price", 0);
    /* the whole data, printed to be read again */
    ENT_OK_(jp(e, "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"price\":-0,\"dims\":{\"w\":-0,\"h\":0},\"stock\":-0}}]"));
    ent_test_zero_sign(e, "price", 1);
    ent_test_zero_sign(e, "dims.w", 1);
    ent_test_zero_sign(e, "dims.h", 0);
    ent_entity_free(e);
}

/* test reads its value as the place it names expects, as add and replace do: a timestamp given
 * with an offset, as ns or with fewer fraction digits is the instant stored (it was compared as
 * the text printed, "...000000Z", and a test of the value just written failed: 409 over HTTP); a
 * value no field of that kind holds is named as such; free-form values are compared as JSON. */
static void test_test_reads_as_the_field(void)
{
    ent_schema *k = test_schema(KITCHEN_JSON);
    const ent_type *thing = ent_schema_type(k, "thing");
    const char *doc = "{\"ts\":\"2000-01-01T01:00:00.5Z\",\"un\":\"18446744073709551615\",\"raw\":\"AP8=\","
                      "\"maps\":[{\"x\":1}],\"any\":{\"t\":\"2000-01-01T01:00:00.5Z\"},\"in\":1}";
    ent_entity *e = NULL;
    char *before, *after;
    ENT_OK_(ent_entity_from_json(&e, thing, doc, strlen(doc)));
    before = data_text(e);
    ENT_OK_(jp(e, "[{\"op\":\"test\",\"path\":\"/ts\",\"value\":\"2000-01-01T00:00:00.5-01:00\"},"
                  "{\"op\":\"test\",\"path\":\"/ts\",\"value\":946688400500000000},"
                  "{\"op\":\"test\",\"path\":\"/ts\",\"value\":\"2000-01-01t01:00:00.50z\"},"
                  "{\"op\":\"test\",\"path\":\"/un\",\"value\":\"18446744073709551615\"},"
                  "{\"op\":\"test\",\"path\":\"/raw\",\"value\":\"AP8=\"},"
                  "{\"op\":\"test\",\"path\":\"/maps/0\",\"value\":{\"x\":1}},"
                  "{\"op\":\"test\",\"path\":\"/maps\",\"value\":[{\"x\":1.0}]},"
                  "{\"op\":\"test\",\"path\":\"\",\"value\":{\"ts\":\"2000-01-01T02:00:00.5+01:00\",\"un\":\"18446744073709551615\","
                  "\"raw\":\"AP8=\",\"maps\":[{\"x\":1}],\"any\":{\"t\":\"2000-01-01T01:00:00.5Z\"},\"in\":1.0}},"
                  "{\"op\":\"test\",\"path\":\"/in\",\"value\":1.0}]")); /* 1.0 equals an int's 1 (RFC 6902 4.6) */
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"test\",\"path\":\"/ts\",\"value\":\"2000-01-01T01:00:00.6Z\"}]"), ENT_CONFLICT);
    ENT_ASSERT_MSG("thing: JSON Patch op 0 (test \"/ts\"): test: the value there differs");
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"test\",\"path\":\"/ts\",\"value\":\"noon\"}]"), ENT_CONFLICT);
    ENT_ASSERT_MSG("thing: JSON Patch op 0 (test \"/ts\"): test: the value there differs: the value given is none the field "
                   "holds, thing.ts: invalid timestamp");
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"test\",\"path\":\"/un\",\"value\":-1}]"), ENT_CONFLICT);
    ENT_ASSERT_MSG("none the field holds, thing.un: expected uint");
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"test\",\"path\":\"/maps\",\"value\":[{\"x\":\"1\"}]}]"), ENT_CONFLICT);
    ENT_ASSERT_MSG("none the field holds, thing.maps[].x: expected int");
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"test\",\"path\":\"/ts\",\"value\":null}]"), ENT_CONFLICT);
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"test\",\"path\":\"\",\"value\":{\"ts\":1}}]"), ENT_CONFLICT);
    /* free-form: a string is a string, whatever it looks like */
    CU_ASSERT_EQUAL(jp(e, "[{\"op\":\"test\",\"path\":\"/any/t\",\"value\":\"2000-01-01T00:00:00.5-01:00\"}]"), ENT_CONFLICT);
    after = data_text(e);
    CU_ASSERT_STRING_EQUAL(after, before);
    free(before);
    free(after);
    ent_entity_free(e);
    ent_schema_free(k);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_rfc_examples), ENT_TEST(test_declared_fields),
                                          ENT_TEST(test_move_copy_kinds),
                                          ENT_TEST(test_kinds_pointer_and_copy_budget), ENT_TEST(test_depth_limit), ENT_TEST(test_random_against_reference),
                                          ENT_TEST(test_negative_zero), ENT_TEST(test_test_reads_as_the_field),
                                          {NULL, NULL}};
    int rc = ent_test_run("json_patch", cases);
    ent_schema_free(shop);
    return rc;
}
