/* Entity values as JSON: shapes, timestamps, bytes, big uints, errors, merge patches, paths. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "test_entity_schemas.h"
#include "value_int.h"

static char *to_json(const ent_entity *e, unsigned flags)
{
    char *s = NULL;
    ENT_OK_(ent_entity_to_json(&s, e, flags));
    return s;
}

static ent_entity *from_json(const ent_schema *s, const char *type, const char *json)
{
    ent_entity *e = NULL;
    ENT_OK_(ent_entity_from_json(&e, ent_schema_type(s, type), json, strlen(json)));
    return e;
}

static int from_json_rc(const ent_schema *s, const char *type, const char *json)
{
    ent_entity *e = (ent_entity *)1;
    int rc = ent_entity_from_json(&e, ent_schema_type(s, type), json, strlen(json));
    if (rc == ENT_OK) ent_entity_free(e);
    else CU_ASSERT_PTR_NULL(e);
    return rc;
}

static void test_to_json_shapes(void)
{
    ent_schema *s = test_schema(SHOP_JSON);
    ent_entity *p = test_new(s, "product"), *c = test_new(s, "customer");
    ent_key k = ent_key_str("sku-1");
    char *j;
    j = to_json(p, 0);
    CU_ASSERT_STRING_EQUAL(j, "{}");
    free(j);
    j = to_json(p, ENT_JSON_ENTITY);
    CU_ASSERT_STRING_EQUAL(j, "{\"type\":\"product\",\"key\":null,\"version\":0,\"data\":{}}");
    free(j);
    ENT_OK_(ent_entity_set_float(p, "price", 9.5));
    ENT_OK_(ent_entity_set_string(p, "tags[0]", "a"));
    ENT_OK_(ent_entity_set_string(p, "attrs.color", "red"));
    ENT_OK_(ent_entity_set_int(p, "attrs.n", -2));
    ENT_OK_(ent_entity_set_float(p, "dims.w", 1));
    ENT_OK_(ent_entity_set_key(p, &k));
    p->version = 3;
    j = to_json(p, 0);
    CU_ASSERT_STRING_EQUAL(j, "{\"price\":9.5,\"tags\":[\"a\"],\"attrs\":{\"color\":\"red\",\"n\":-2},\"dims\":{\"w\":1.0}}");
    free(j);
    j = to_json(p, ENT_JSON_ENTITY);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "{\"type\":\"product\",\"key\":\"sku-1\",\"version\":3,\"data\":{\"price\":9.5"));
    free(j);
    j = to_json(p, ENT_JSON_PRETTY);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\n  \"price\": 9.5"));
    free(j);
    k = ent_key_id(7);
    ENT_OK_(ent_entity_set_key(c, &k));
    ENT_OK_(ent_entity_set_bool(c, "vip", 1));
    ENT_OK_(ent_entity_set_timestamp(c, "joined", 1764064800000000001));
    j = to_json(c, ENT_JSON_ENTITY);
    CU_ASSERT_STRING_EQUAL(j, "{\"type\":\"customer\",\"key\":7,\"version\":0,\"data\":{\"joined\":"
                              "\"2025-11-25T10:00:00.000000001Z\",\"vip\":true}}");
    free(j);
    ent_entity_free(p);
    ent_entity_free(c);
    ent_schema_free(s);
}

static void check_ts(ent_entity *e, int64_t ns, const char *text)
{
    char *j = NULL, want[80];
    int64_t back;
    ENT_OK_(ent_entity_set_timestamp(e, "ts", ns));
    ENT_OK_(ent_entity_get_json(&j, e, "ts"));
    snprintf(want, sizeof want, "\"%s\"", text);
    if (strcmp(j, want)) fprintf(stderr, "\n  %lld: %s != %s\n", (long long)ns, j, want);
    CU_ASSERT_STRING_EQUAL(j, want);
    ENT_OK_(ent_entity_set_json(e, "ts", j));
    ENT_OK_(ent_entity_get_timestamp(&back, e, "ts"));
    CU_ASSERT_EQUAL(back, ns);
    free(j);
}

static void test_timestamps(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    ent_entity *e = test_new(s, "thing");
    int64_t ns;
    static const struct {
        const char *in;
        int64_t ns;
    } ok[] = {{"\"2025-11-25T10:00:00Z\"", 1764064800000000000},
              {"\"2025-11-25T10:00:00.5Z\"", 1764064800500000000},
              {"\"2025-11-25T10:00:00.000000001z\"", 1764064800000000001},
              {"\"2025-11-25T12:30:00+02:30\"", 1764064800000000000},
              {"\"2025-11-25T07:00:00.25-03:00\"", 1764064800250000000},
              {"\"2024-02-29T00:00:00Z\"", 1709164800000000000},
              {"\"1969-12-31T23:59:59.999999999Z\"", -1},
              {"1764064800000000001", 1764064800000000001},
              {"-5", -5}};
    static const char *bad[] = {"\"2025-13-01T00:00:00Z\"", "\"2025-02-29T00:00:00Z\"",
                                "\"2025-11-25T10:00:00.1234567890Z\"", "\"2025-11-25T10:00:00\"",
                                "\"2025-11-25 10:00:00Z\"", "\"2025-11-25T24:00:00Z\"",
                                "\"2025-11-25T10:00:60Z\"", "\"2025-11-25T10:00:00.Z\"",
                                "\"9999-01-01T00:00:00Z\"", "\"2025-11-25T10:00:00+0200\"",
                                "\"2025-11-25T10:00:00Zx\"", "\"\"", "1.5", "true", NULL};
    check_ts(e, 0, "1970-01-01T00:00:00.000000000Z");
    check_ts(e, -1, "1969-12-31T23:59:59.999999999Z");
    check_ts(e, 1764064800000000001, "2025-11-25T10:00:00.000000001Z");
    check_ts(e, INT64_MIN, "1677-09-21T00:12:43.145224192Z");
    check_ts(e, INT64_MAX, "2262-04-11T23:47:16.854775807Z");
    check_ts(e, 951782400000000000, "2000-02-29T00:00:00.000000000Z");
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ENT_OK_(ent_entity_set_json(e, "ts", ok[i].in));
        ENT_OK_(ent_entity_get_timestamp(&ns, e, "ts"));
        if (ns != ok[i].ns) fprintf(stderr, "\n  %s -> %lld\n", ok[i].in, (long long)ns);
        CU_ASSERT_EQUAL(ns, ok[i].ns);
    }
    for (const char **b = bad; *b; b++) {
        int rc = ent_entity_set_json(e, "ts", *b);
        if (rc != ENT_INVALID) fprintf(stderr, "\n  accepted %s\n", *b);
        CU_ASSERT_EQUAL(rc, ENT_INVALID);
        ENT_ASSERT_MSG("thing.ts");
    }
    /* a well-formed time outside int64 ns says so, and names the range; the extremes parse */
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "ts", "\"9999-01-01T00:00:00Z\""), ENT_INVALID);
    ENT_ASSERT_MSG("out of range");
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "ts", "\"2262-04-11T23:47:16.854775808Z\""), ENT_INVALID);
    ENT_ASSERT_MSG("2262-04-11T23:47:16.854775807Z");
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "ts", "\"2025-02-29T00:00:00Z\""), ENT_INVALID);
    ENT_ASSERT_MSG("invalid timestamp: no such day in that month");
    /* the usual slips are named (the message said only "invalid timestamp") */
    {
        static const struct {
            const char *in, *why;
        } slips[] = {
            {"\"2026-12-05 10:00:00Z\"", "a space between date and time"},
            {"\"2016-12-31T23:59:60Z\"", "a leap second"},
            {"\"2026-12-05T10:00:00.1234567891Z\"", "more than 9 fraction digits"},
            {"\"2026-12-05T10:00:00\"", "no time zone at its end"},
            {"\"2026-12-05\"", "a date without a time"},
            {"\"2026-13-05T10:00:00Z\"", "no such month"},
            {"\"2026-12-05T10:00Z\"", "no time in the form hh:mm:ss"},
            {"\"2026-12-05T10:00:00+0200\"", "an offset not in the form +hh:mm"},
            {"\"2026-12-05T10:00:00.Z\"", "a '.' without fraction digits"},
            {"\"2026-12-05T24:00:00Z\"", "an hour, minute or second out of range"},
            {"\"2026-12-05T10:00:00Z+\"", "something after the time zone"},
        };
        for (size_t i = 0; i < sizeof slips / sizeof *slips; i++) {
            CU_ASSERT_EQUAL(ent_entity_set_json(e, "ts", slips[i].in), ENT_INVALID);
            ENT_ASSERT_MSG(slips[i].why);
        }
    }
    ENT_OK_(ent_entity_set_json(e, "ts", "\"2262-04-11T23:47:16.854775807Z\""));
    ENT_OK_(ent_entity_get_timestamp(&ns, e, "ts"));
    CU_ASSERT_EQUAL(ns, INT64_MAX);
    ENT_OK_(ent_entity_set_json(e, "ts", "\"1677-09-21T00:12:43.145224192Z\""));
    ENT_OK_(ent_entity_get_timestamp(&ns, e, "ts"));
    CU_ASSERT_EQUAL(ns, INT64_MIN);
    ent_entity_free(e);
    ent_schema_free(s);
}

static void test_bytes_and_numbers(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    ent_entity *e = test_new(s, "thing");
    char *j = NULL;
    const void *b;
    size_t n;
    uint64_t u;
    double d;
    static const char *bad_b64[] = {"\"A\"", "\"AP8\"", "\"AP9=\"", "\"A===\"", "\"AP8=AP8=\"",
                                    "\"AP 8=\"", "\"AP8=\\n\"", "\"****\"", "5", NULL};
    ENT_OK_(ent_entity_set_bytes(e, "raw", "\0\xff", 2));
    ENT_OK_(ent_entity_get_json(&j, e, "raw"));
    CU_ASSERT_STRING_EQUAL(j, "\"AP8=\"");
    free(j);
    ENT_OK_(ent_entity_set_json(e, "raw", "\"aGVsbG8=\""));
    ENT_OK_(ent_entity_get_bytes(&b, &n, e, "raw"));
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(memcmp(b, "hello", 5), 0);
    ENT_OK_(ent_entity_set_json(e, "raw", "\"\""));
    ENT_OK_(ent_entity_get_bytes(&b, &n, e, "raw"));
    CU_ASSERT_EQUAL(n, 0);
    ENT_OK_(ent_entity_set_json(e, "raw", "\"YWI=\""));
    ENT_OK_(ent_entity_set_json(e, "raw", "\"YWJj\""));
    for (const char **x = bad_b64; *x; x++) {
        CU_ASSERT_EQUAL(ent_entity_set_json(e, "raw", *x), ENT_INVALID);
        ENT_ASSERT_MSG("thing.raw");
    }
    /* uint: a number up to INT64_MAX, a decimal string above */
    ENT_OK_(ent_entity_set_uint(e, "un", UINT64_MAX));
    ENT_OK_(ent_entity_get_json(&j, e, "un"));
    CU_ASSERT_STRING_EQUAL(j, "\"18446744073709551615\"");
    ENT_OK_(ent_entity_set_json(e, "un", "0"));
    ENT_OK_(ent_entity_set_json(e, "un", j));
    ENT_OK_(ent_entity_get_uint(&u, e, "un"));
    CU_ASSERT_EQUAL(u, UINT64_MAX);
    free(j);
    ENT_OK_(ent_entity_set_uint(e, "un", INT64_MAX));
    ENT_OK_(ent_entity_get_json(&j, e, "un"));
    CU_ASSERT_STRING_EQUAL(j, "9223372036854775807");
    free(j);
    ENT_OK_(ent_entity_set_json(e, "un", "\"9223372036854775808\""));
    ENT_OK_(ent_entity_get_uint(&u, e, "un"));
    CU_ASSERT_EQUAL(u, (uint64_t)INT64_MAX + 1);
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "un", "-1"), ENT_INVALID);
    ENT_ASSERT_MSG("thing.un: expected uint");
    /* past int64 as a JSON number: jansson's "too big integer", with how to write it */
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "un", "18446744073709551615"), ENT_INVALID);
    ENT_ASSERT_MSG("too big integer");
    ENT_ASSERT_MSG("a uint above 2^63-1 goes as a decimal string");
    {
        ent_entity *big = NULL;
        static const char doc[] = "{\"un\":18446744073709551615}";
        CU_ASSERT_EQUAL(ent_entity_from_json(&big, ent_entity_type(e), doc, strlen(doc)), ENT_INVALID);
        ENT_ASSERT_MSG("a uint above 2^63-1 goes as a decimal string");
        CU_ASSERT_PTR_NULL(big);
        static const char merge[] = "{\"un\":18446744073709551615}";
        CU_ASSERT_EQUAL(ent_entity_patch_json(e, merge, strlen(merge)), ENT_INVALID);
        ENT_ASSERT_MSG("a uint above 2^63-1 goes as a decimal string");
        static const char patch[] = "[{\"op\":\"add\",\"path\":\"/un\",\"value\":18446744073709551615}]";
        CU_ASSERT_EQUAL(ent_entity_json_patch(e, patch, strlen(patch)), ENT_INVALID);
        ENT_ASSERT_MSG("a uint above 2^63-1 goes as a decimal string");
        /* a raw NUL byte (an HTTP body, a host's buffer) is named with its place: jansson said
         * "end of file expected near end of file" for one after the value */
        static const char nul_in[] = "{\"un\":\"1\0\"}", nul_after[] = "{\"un\":\"1\"}\0{}";
        CU_ASSERT_EQUAL(ent_entity_from_json(&big, ent_entity_type(e), nul_in, sizeof nul_in - 1), ENT_INVALID);
        ENT_ASSERT_MSG("a NUL byte at byte 9 (JSON holds none");
        CU_ASSERT_EQUAL(ent_entity_from_json(&big, ent_entity_type(e), nul_after, sizeof nul_after - 1), ENT_INVALID);
        ENT_ASSERT_MSG("a NUL byte at byte 11 (JSON holds none");
        CU_ASSERT_EQUAL(ent_entity_json_patch(e, nul_after, sizeof nul_after - 1), ENT_INVALID);
        ENT_ASSERT_MSG("a NUL byte at byte 11");
        CU_ASSERT_PTR_NULL(big);
        /* a double's overflow is another matter: no such advice */
        CU_ASSERT_EQUAL(ent_entity_set_json(e, "un", "1e400"), ENT_INVALID);
        CU_ASSERT(strstr(ent_errmsg(), "decimal string") == NULL);
    }
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "un", "\"18446744073709551616\""), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "un", "\"-1\""), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "un", "\"\""), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "un", "\" 1\""), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "un", "1.0"), ENT_INVALID);
    /* float from integers and reals, exact round trips */
    ENT_OK_(ent_entity_set_json(e, "fl", "3"));
    ENT_OK_(ent_entity_get_float(&d, e, "fl"));
    CU_ASSERT_EQUAL(d, 3.0);
    {
        static const double vals[] = {0.1, -0.0, DBL_MAX, 4.9406564584124654e-324, 1e-310, 123456.789};
        for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
            ENT_OK_(ent_entity_set_float(e, "fl", vals[i]));
            ENT_OK_(ent_entity_get_json(&j, e, "fl"));
            ENT_OK_(ent_entity_set_json(e, "fl", j));
            ENT_OK_(ent_entity_get_float(&d, e, "fl"));
            CU_ASSERT_EQUAL(memcmp(&d, &vals[i], sizeof d), 0);
            free(j);
        }
    }
    ENT_OK_(ent_entity_set_float(e, "fl", NAN));
    ENT_OK_(ent_entity_get_json(&j, e, "fl"));
    CU_ASSERT_STRING_EQUAL(j, "\"NaN\"");
    free(j);
    ENT_OK_(ent_entity_set_json(e, "fl", "\"-Infinity\""));
    ENT_OK_(ent_entity_get_float(&d, e, "fl"));
    CU_ASSERT(isinf(d) && d < 0);
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "fl", "\"1.5\""), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "in", "1.5"), ENT_INVALID);
    ENT_ASSERT_MSG("thing.in: expected int");
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "b", "1"), ENT_INVALID);
    /* refs */
    ENT_OK_(ent_entity_set_json(e, "owner", "12"));
    ENT_OK_(ent_entity_get_uint(&u, e, "owner"));
    CU_ASSERT_EQUAL(u, 12);
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "owner", "\"x\""), ENT_INVALID);
    ENT_OK_(ent_entity_set_json(e, "other", "\"k1\""));
    CU_ASSERT_EQUAL(ent_entity_set_json(e, "other", "1"), ENT_INVALID);
    ENT_ASSERT_MSG("thing.other");
    ent_entity_free(e);
    ent_schema_free(s);
}

static void test_from_json(void)
{
    ent_schema *s = test_schema(SHOP_JSON);
    const ent_type *t = ent_schema_type(s, "order");
    ent_entity *o;
    uint64_t u;
    const char *str;
    o = from_json(s, "order", "{\"customer\":7,\"status\":\"paid\",\"lines\":[{\"sku\":\"a\",\"qty\":2},"
                              "{\"sku\":\"b\",\"qty\":\"3\"}]}");
    ENT_OK_(ent_entity_get_uint(&u, o, "customer"));
    CU_ASSERT_EQUAL(u, 7);
    ENT_OK_(ent_entity_get_uint(&u, o, "lines[1].qty"));
    CU_ASSERT_EQUAL(u, 3);
    ENT_OK_(ent_entity_get_string(&str, NULL, o, "lines[0].sku"));
    CU_ASSERT_STRING_EQUAL(str, "a");
    CU_ASSERT_EQUAL(ent_entity_changed_count(o), 3);
    ENT_OK_(ent_entity_validate(o));
    ent_entity_free(o);
    /* null fields are absent */
    o = from_json(s, "order", "{\"customer\":7,\"status\":null}");
    CU_ASSERT_FALSE(ent_entity_has(o, "status"));
    CU_ASSERT_FALSE(ent_entity_changed(o, ent_type_field(t, "status")));
    ent_entity_free(o);
    /* errors name the path */
    CU_ASSERT_EQUAL(from_json_rc(s, "product", "{\"tags\":[\"a\",2]}"), ENT_INVALID);
    ENT_ASSERT_MSG("product.tags[1]: expected string");
    CU_ASSERT_EQUAL(from_json_rc(s, "order", "{\"lines\":[{\"sku\":\"a\",\"qty\":-1}]}"), ENT_INVALID);
    ENT_ASSERT_MSG("order.lines[0].qty: expected uint");
    CU_ASSERT_EQUAL(from_json_rc(s, "product", "{\"nosuch\":1}"), ENT_INVALID);
    ENT_ASSERT_MSG("product.nosuch: unknown field");
    CU_ASSERT_EQUAL(from_json_rc(s, "product", "{\"dims\":{\"w\":1,\"depth\":2}}"), ENT_INVALID);
    ENT_ASSERT_MSG("product.dims.depth: unknown field");
    CU_ASSERT_EQUAL(from_json_rc(s, "product", "{\"dims\":[1]}"), ENT_INVALID);
    ENT_ASSERT_MSG("product.dims: expected map");
    CU_ASSERT_EQUAL(from_json_rc(s, "product", "{\"price\":\"1\"}"), ENT_INVALID);
    ENT_ASSERT_MSG("product.price: expected float");
    CU_ASSERT_EQUAL(from_json_rc(s, "product", "{\"price\":1,\n  \"stock\": }"), ENT_INVALID);
    ENT_ASSERT_MSG("line 2");
    ENT_ASSERT_MSG("column");
    CU_ASSERT_EQUAL(from_json_rc(s, "product", "[1]"), ENT_INVALID);
    ENT_ASSERT_MSG("product");
    CU_ASSERT_EQUAL(from_json_rc(s, "product", "{\"price\":1,\"price\":2}"), ENT_INVALID);
    CU_ASSERT_EQUAL(from_json_rc(s, "product", ""), ENT_INVALID);
    ent_schema_free(s);
}

static void test_json_round_trip(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    ent_entity *e = test_new(s, "thing"), *d;
    char *j, *j2;
    ENT_OK_(ent_entity_set_bool(e, "b", 0));
    ENT_OK_(ent_entity_set_int(e, "in", INT64_MIN));
    ENT_OK_(ent_entity_set_uint(e, "un", UINT64_MAX));
    ENT_OK_(ent_entity_set_float(e, "fl", -0.0));
    ENT_OK_(ent_entity_set_stringn(e, "s", "a\0\"\\\n\xc3\xa9", 7));
    ENT_OK_(ent_entity_set_bytes(e, "raw", "\0\1\2\3\4", 5));
    ENT_OK_(ent_entity_set_timestamp(e, "ts", 1));
    ENT_OK_(ent_entity_set_json(e, "arr", "[[1,-2],[]]"));
    ENT_OK_(ent_entity_set_json(e, "maps", "[{\"x\":1},{\"x\":2,\"y\":\"\"}]"));
    ENT_OK_(ent_entity_set_json(e, "nest", "{\"inner\":{},\"free\":{\"a\":[null,{\"b\":1.5}]},\"req\":\"r\"}"));
    ENT_OK_(ent_entity_set_json(e, "any", "{\"\":0,\"neg\":-1,\"o\":{\"p\":[true,false,null]}}"));
    ENT_OK_(ent_entity_set_uint(e, "owner", 9));
    ENT_OK_(ent_entity_set_string(e, "other", "k"));
    j = to_json(e, 0);
    d = from_json(s, "thing", j);
    for (size_t i = 0; i < ent_type_field_count(ent_entity_type(e)); i++) {
        if (!ent__val_equal(&e->slots[i], &d->slots[i]))
            fprintf(stderr, "\n  field %s differs after JSON round trip\n", ent_type_field_at(ent_entity_type(e), i)->name);
        CU_ASSERT_TRUE(ent__val_equal(&e->slots[i], &d->slots[i]));
    }
    j2 = to_json(d, ENT_JSON_PRETTY);
    ent_entity_free(d);
    d = from_json(s, "thing", j2);
    free(j2);
    j2 = to_json(d, 0);
    CU_ASSERT_STRING_EQUAL(j, j2);
    free(j);
    free(j2);
    ent_entity_free(d);
    ent_entity_free(e);
    ent_schema_free(s);
}

#define PATCH(e, lit) ent_entity_patch_json(e, lit, strlen(lit))

static void test_patch(void)
{
    ent_schema *s = test_schema(SHOP_JSON);
    const ent_type *t = ent_schema_type(s, "product");
    ent_entity *p = from_json(s, "product", "{\"price\":1,\"stock\":2,\"tags\":[\"a\",\"b\"],"
                                            "\"attrs\":{\"color\":\"red\",\"size\":{\"w\":1,\"h\":2}},\"dims\":{\"w\":1,\"h\":2}}");
    char *j;
    static const char patch[] = "{\"stock\":null,\"tags\":[\"c\"],\"attrs\":{\"color\":null,\"size\":{\"h\":3,\"d\":4},"
                                "\"new\":{\"x\":null,\"y\":1}},\"dims\":{\"h\":5}}";
    ent_entity_clear_changed(p);
    ENT_OK_(ent_entity_patch_json(p, patch, strlen(patch)));
    j = to_json(p, 0);
    CU_ASSERT_STRING_EQUAL(j, "{\"price\":1.0,\"tags\":[\"c\"],\"attrs\":{\"size\":{\"w\":1,\"h\":3,\"d\":4},"
                              "\"new\":{\"y\":1}},\"dims\":{\"w\":1.0,\"h\":5.0}}");
    free(j);
    CU_ASSERT_FALSE(ent_entity_changed(p, ent_type_field(t, "price")));
    CU_ASSERT_TRUE(ent_entity_changed(p, ent_type_field(t, "stock")));
    CU_ASSERT_EQUAL(ent_entity_changed_count(p), 4);
    /* a failing patch leaves p unchanged, also when an earlier member applied */
    j = to_json(p, 0);
    ent_entity_clear_changed(p);
    CU_ASSERT_EQUAL(PATCH(p, "{\"price\":2,\"tags\":[1]}"), ENT_INVALID);
    ENT_ASSERT_MSG("product.tags[0]: expected string");
    CU_ASSERT_EQUAL(PATCH(p, "{\"price\":2,\"dims\":{\"z\":1}}"), ENT_INVALID);
    ENT_ASSERT_MSG("product.dims.z: unknown field");
    CU_ASSERT_EQUAL(PATCH(p, "{\"price\":2,\"nope\":1}"), ENT_INVALID);
    ENT_ASSERT_MSG("product.nope");
    CU_ASSERT_EQUAL(PATCH(p, "{\"price\":"), ENT_INVALID);
    ENT_ASSERT_MSG("line 1");
    CU_ASSERT_EQUAL(PATCH(p, "[]"), ENT_INVALID);
    {
        char *after = to_json(p, 0);
        CU_ASSERT_STRING_EQUAL(j, after);
        free(after);
    }
    CU_ASSERT_EQUAL(ent_entity_changed_count(p), 0);
    free(j);
    /* an object replacing a non-map free-form value; a map replaced by a scalar */
    ENT_OK_(PATCH(p, "{\"attrs\":{\"size\":7}}"));
    ENT_OK_(PATCH(p, "{\"attrs\":{\"size\":{\"a\":null,\"b\":[null]}}}"));
    ENT_OK_(ent_entity_get_json(&j, p, "attrs.size"));
    CU_ASSERT_STRING_EQUAL(j, "{\"b\":[null]}");
    free(j);
    ENT_OK_(PATCH(p, "{}"));
    ent_entity_free(p);
    ent_schema_free(s);
}

/* value.h: a string borrowed from a field stays valid until that field is next changed. A patch
 * that leaves a field alone leaves the string where it was (the patch works on a copy). */
static void test_patch_keeps_borrowed(void)
{
    ent_schema *s = test_schema(SHOP_JSON);
    ent_entity *p = from_json(s, "product", "{\"price\":1,\"tags\":[\"a\",\"b\"],\"attrs\":{\"color\":\"red\"}}");
    const char *tag = NULL, *color = NULL, *again = NULL;
    size_t n = 0;
    ENT_OK_(ent_entity_get_string(&tag, &n, p, "tags[1]"));
    ENT_OK_(ent_entity_get_string(&color, &n, p, "attrs.color"));
    ENT_OK_(PATCH(p, "{\"price\":2,\"stock\":3}"));
    ENT_OK_(ent_entity_get_string(&again, &n, p, "tags[1]"));
    CU_ASSERT_PTR_EQUAL(again, tag);
    ENT_OK_(ent_entity_get_string(&again, &n, p, "attrs.color"));
    CU_ASSERT_PTR_EQUAL(again, color);
    CU_ASSERT_STRING_EQUAL(tag, "b");
    CU_ASSERT_STRING_EQUAL(color, "red");
    ent_entity_free(p);
    ent_schema_free(s);
}

static void test_get_set_json(void)
{
    ent_schema *s = test_schema(SHOP_JSON);
    ent_entity *p = test_new(s, "product");
    char *j;
    double d;
    CU_ASSERT_EQUAL(ent_entity_get_json(&j, p, "dims"), ENT_NOTFOUND);
    CU_ASSERT_PTR_NULL(j);
    ENT_OK_(ent_entity_set_json(p, "dims", "{\"w\":2}"));
    ENT_OK_(ent_entity_get_json(&j, p, "dims"));
    CU_ASSERT_STRING_EQUAL(j, "{\"w\":2.0}");
    free(j);
    ENT_OK_(ent_entity_set_json(p, "dims.h", "3.5"));
    ENT_OK_(ent_entity_get_float(&d, p, "dims.h"));
    CU_ASSERT_EQUAL(d, 3.5);
    ENT_OK_(ent_entity_set_json(p, "dims.h", "null")); /* null unsets a declared field */
    CU_ASSERT_FALSE(ent_entity_has(p, "dims.h"));
    ENT_OK_(ent_entity_set_json(p, "attrs.k", "null")); /* and is a value in free-form maps */
    CU_ASSERT_TRUE(ent_entity_has(p, "attrs.k"));
    ENT_OK_(ent_entity_get_json(&j, p, "attrs"));
    CU_ASSERT_STRING_EQUAL(j, "{\"k\":null}");
    free(j);
    ENT_OK_(ent_entity_set_json(p, "tags", "[\"x\",\"y\"]"));
    ENT_OK_(ent_entity_get_json(&j, p, "tags[1]"));
    CU_ASSERT_STRING_EQUAL(j, "\"y\"");
    free(j);
    CU_ASSERT_EQUAL(ent_entity_set_json(p, "tags", "[\"x\",1]"), ENT_INVALID);
    ENT_ASSERT_MSG("product.tags");
    ENT_ASSERT_MSG("[1]: expected string");
    CU_ASSERT_EQUAL(ent_entity_set_json(p, "tags", "[\"x\""), ENT_INVALID);
    ENT_ASSERT_MSG("column");
    CU_ASSERT_EQUAL(ent_entity_set_json(p, "nosuch", "1"), ENT_NOTFOUND);
    CU_ASSERT_EQUAL(ent_entity_set_json(p, "tags[", "1"), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_entity_get_json(&j, p, "tags[5]"), ENT_NOTFOUND);
    ent_entity_free(p);
    ent_schema_free(s);
}

static void test_val_from_json_text(void)
{
    ent_schema *s = test_schema(SHOP_JSON);
    const ent_field *tags = ent_type_field(ent_schema_type(s, "product"), "tags");
    ent_val v;
    ENT_OK_(ent__val_from_json_text(&v, tags, "[\"a\"]"));
    CU_ASSERT_EQUAL(v.k, EV_ARR);
    ent__val_clear(&v);
    CU_ASSERT_EQUAL(ent__val_from_json_text(&v, tags, "[\"a\",1]"), ENT_INVALID);
    ENT_ASSERT_MSG("[1]: expected string");
    CU_ASSERT_EQUAL(v.k, EV_UNSET);
    CU_ASSERT_EQUAL(ent__val_from_json_text(&v, tags, "{"), ENT_INVALID);
    ENT_OK_(ent__val_from_json_text(&v, NULL, "{\"a\":[1,null]}"));
    CU_ASSERT_EQUAL(v.k, EV_OBJ);
    ENT_OK_(ent__val_validate(NULL, &v, "default"));
    ent__val_clear(&v);
    ENT_OK_(ent__val_from_json_text(&v, ent_field_items(tags), "\"0123456789012345678901234567890123\""));
    CU_ASSERT_EQUAL(ent__val_validate(ent_field_items(tags), &v, "types.product.fields.tags.default"), ENT_INVALID);
    ENT_ASSERT_MSG("types.product.fields.tags.default: longer than max_length 32");
    ent__val_clear(&v);
    ent_schema_free(s);
}

/* JSON's -0 is negative zero (RFC 8259; JSON.parse gives -0), and jansson reads it as the integer
 * 0: a float field given -0 stored +0.0 (and printed 0.0) where -0.0 stored -0.0. */
static const char NEGZ_JSON[] =
    "{\"schema\":\"nz\",\"version\":1,\"types\":{\"z\":{\"key\":\"string\",\"fields\":{"
    "\"f\":{\"id\":1,\"type\":\"float\"},\"i\":{\"id\":2,\"type\":\"int\"},\"u\":{\"id\":3,\"type\":\"uint\"},"
    "\"fa\":{\"id\":4,\"type\":\"array\",\"items\":{\"type\":\"float\"}},"
    "\"faa\":{\"id\":5,\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{\"type\":\"float\"}}},"
    "\"m\":{\"id\":6,\"type\":\"map\",\"fields\":{\"x\":{\"id\":1,\"type\":\"float\"},\"n\":{\"id\":2,\"type\":\"int\"},"
    "\"deep\":{\"id\":3,\"type\":\"map\",\"fields\":{\"y\":{\"id\":1,\"type\":\"float\"}}}}},"
    "\"ml\":{\"id\":7,\"type\":\"array\",\"items\":{\"type\":\"map\",\"fields\":{\"x\":{\"id\":1,\"type\":\"float\"}}}},"
    "\"ff\":{\"id\":8,\"type\":\"map\"},\"s\":{\"id\":9,\"type\":\"string\"}}}}}";

/* path's float, asserting its sign bit is neg */
static void json_at(const ent_entity *e, const char *path, const char *want)
{
    char *j = NULL;
    ENT_OK_(ent_entity_get_json(&j, e, path));
    if (j && strcmp(j, want)) fprintf(stderr, "\n  %s: %s != %s\n", path, j, want);
    CU_ASSERT_STRING_EQUAL(j, want);
    free(j);
}

static void test_negative_zero(void)
{
    ent_schema *s = test_schema(NEGZ_JSON);
    const ent_type *t = ent_schema_type(s, "z");
    ent_entity *e;
    int64_t i = 1;
    uint64_t u = 1;
    const char *str;
    ent_kind k = ENT_KIND_FLOAT;
    ent_val v;
    e = from_json(s, "z", "{\"f\":-0,\"i\":-0,\"u\":-0,\"fa\":[0,-0,-0.0,-0e0,1e-0,-0],\"faa\":[[-0,0]],"
                          "\"m\":{\"x\":-0,\"n\":-0,\"deep\":{\"y\":-0}},\"ml\":[{\"x\":0},{\"x\":-0}],"
                          "\"ff\":{\"a\":-0,\"-0\":\"-0\",\"b\":[-0]},\"s\":\"\\\"-0\"}");
    ent_test_zero_sign(e, "f", 1);
    ent_test_zero_sign(e, "fa[0]", 0);
    ent_test_zero_sign(e, "fa[1]", 1);
    ent_test_zero_sign(e, "fa[2]", 1);
    ent_test_zero_sign(e, "fa[3]", 1);
    ent_test_zero_sign(e, "fa[5]", 1);
    ent_test_zero_sign(e, "faa[0][0]", 1);
    ent_test_zero_sign(e, "faa[0][1]", 0);
    ent_test_zero_sign(e, "m.x", 1);
    ent_test_zero_sign(e, "m.deep.y", 1);
    ent_test_zero_sign(e, "ml[0].x", 0);
    ent_test_zero_sign(e, "ml[1].x", 1);
    json_at(e, "f", "-0.0");
    json_at(e, "fa", "[0.0,-0.0,-0.0,-0.0,1.0,-0.0]");
    json_at(e, "m", "{\"x\":-0.0,\"n\":0,\"deep\":{\"y\":-0.0}}");
    /* ints and uints: 0; free-form values keep JSON's integer 0 (a uint); strings and keys as
     * written */
    ENT_OK_(ent_entity_get_int(&i, e, "i"));
    CU_ASSERT_EQUAL(i, 0);
    ENT_OK_(ent_entity_get_int(&i, e, "m.n"));
    CU_ASSERT_EQUAL(i, 0);
    ENT_OK_(ent_entity_get_uint(&u, e, "u"));
    CU_ASSERT_EQUAL(u, 0);
    json_at(e, "ff", "{\"a\":0,\"-0\":\"-0\",\"b\":[0]}");
    ENT_OK_(ent_entity_kind(&k, e, "ff.a"));
    CU_ASSERT_EQUAL(k, ENT_KIND_UINT);
    ENT_OK_(ent_entity_get_string(&str, NULL, e, "s"));
    CU_ASSERT_STRING_EQUAL(str, "\"-0");
    ent_entity_free(e);
    /* 0 stays +0.0; the ints beside a -0 keep every digit (not read as doubles) */
    e = from_json(s, "z", "{\"f\":0,\"i\":9223372036854775807,\"u\":\"18446744073709551615\",\"m\":{\"n\":-9223372036854775808,"
                          "\"x\":-0}}");
    ent_test_zero_sign(e, "f", 0);
    ent_test_zero_sign(e, "m.x", 1);
    ENT_OK_(ent_entity_get_int(&i, e, "i"));
    CU_ASSERT_EQUAL(i, INT64_MAX);
    ENT_OK_(ent_entity_get_int(&i, e, "m.n"));
    CU_ASSERT_EQUAL(i, INT64_MIN);
    ENT_OK_(ent_entity_get_uint(&u, e, "u"));
    CU_ASSERT_EQUAL(u, UINT64_MAX);
    /* a merge patch */
    ENT_OK_(PATCH(e, "{\"f\":-0,\"fa\":[-0],\"m\":{\"deep\":{\"y\":-0}},\"ml\":[{\"x\":-0}]}"));
    ent_test_zero_sign(e, "f", 1);
    ent_test_zero_sign(e, "fa[0]", 1);
    ent_test_zero_sign(e, "m.deep.y", 1);
    ent_test_zero_sign(e, "ml[0].x", 1);
    ENT_OK_(PATCH(e, "{\"f\":0}"));
    ent_test_zero_sign(e, "f", 0);
    /* a value by path, and a value of a spec */
    ENT_OK_(ent_entity_set_json(e, "f", "-0"));
    ent_test_zero_sign(e, "f", 1);
    ENT_OK_(ent_entity_set_json(e, "faa", "[[-0]]"));
    ent_test_zero_sign(e, "faa[0][0]", 1);
    ENT_OK_(ent__val_from_json_text(&v, ent_type_field(t, "f"), " -0 "));
    CU_ASSERT_EQUAL(v.k, EV_FLOAT);
    CU_ASSERT_TRUE(signbit(v.u.f));
    ENT_OK_(ent__val_from_json_text(&v, NULL, "-0"));
    CU_ASSERT_EQUAL(v.k, EV_UINT); /* free-form: JSON's integer 0 */
    ent_entity_free(e);
    ent_schema_free(s);
}

/* A value of the wrong kind is named beside the kind expected (the message said "thing.un:
 * expected uint" of a uint past 2^64-1 written as digits, of -1 and of "x" alike; in a body of
 * many fields the user had to guess which value was meant and what was wrong with it). */
static void test_wrong_kind_names_value(void)
{
    ent_schema *k = test_schema(KITCHEN_JSON);
    ent_entity *e = test_new(k, "thing");
    static const struct {
        const char *path, *json, *msg;
    } cases[] = {
        {"un", "\"18446744073709551616\"", "thing.un: expected uint, not \"18446744073709551616\" (past 2^64-1)"},
        {"un", "-1", "thing.un: expected uint, not -1"},
        {"un", "\" 5\"", "thing.un: expected uint, not \" 5\" (decimal digits only)"},
        {"in", "1.5", "thing.in: expected int, not 1.5"},
        {"in", "\"5\"", "thing.in: expected int, not \"5\""},
        {"fl", "\"nan\"", "thing.fl: expected float, not \"nan\" (NaN, Infinity and -Infinity are its strings)"},
        {"b", "1", "thing.b: expected bool, not 1"},
        {"s", "[\"a\"]", "thing.s: expected string, not an array"},
        {"arr", "{}", "thing.arr: expected array, not an object"},
        {"nest", "true", "thing.nest: expected map, not true"},
        {"raw", "5", "thing.raw: expected bytes, not 5 (bytes are a base64 string)"},
        /* a string that is no base64: the value and why (it said "thing.raw: invalid base64") */
        {"raw", "\"AP8\"", "thing.raw: \"AP8\" is not base64: its length 3 is not a multiple of 4 (padded with '=' to one)"},
        {"raw", "\"AP 8\"", "thing.raw: \"AP 8\" is not base64: byte 3 (0x20) is not of its alphabet (A-Z, a-z, 0-9, '+', '/'; no blanks or line breaks)"},
        {"raw", "\"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXpBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWg=!\"",
         "thing.raw: \"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXpBQkNE...\" is not base64: '!' at byte 72 is not of its alphabet (A-Z, a-z, 0-9, '+', '/')"},
        {"other", "7", "thing.other: expected string key, not 7"},
        {"maps", "[{\"x\":\"éééééééééééééééééééééééééééééééééééééééé\"}]",
         "thing.maps: [0].x: expected int, not \"ééééééééééééééééééééééé...\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CU_ASSERT_EQUAL(ent_entity_set_json(e, cases[i].path, cases[i].json), ENT_INVALID);
        if (strcmp(ent_errmsg(), cases[i].msg)) fprintf(stderr, "\n  %s = %s: got '%s'\n", cases[i].path, cases[i].json, ent_errmsg());
        CU_ASSERT_STRING_EQUAL(ent_errmsg(), cases[i].msg);
    }
    ent_entity_free(e);
    ent_schema_free(k);
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(test_to_json_shapes), ENT_TEST(test_timestamps),     ENT_TEST(test_bytes_and_numbers),
        ENT_TEST(test_from_json),      ENT_TEST(test_json_round_trip), ENT_TEST(test_patch),
        ENT_TEST(test_patch_keeps_borrowed),
        ENT_TEST(test_get_set_json),   ENT_TEST(test_val_from_json_text), ENT_TEST(test_negative_zero),
        ENT_TEST(test_wrong_kind_names_value), {NULL, NULL}};
    return ent_test_run("entity_json", cases);
}
