/* msgpack records: round trips of every kind and extreme values, schema evolution, corrupt input,
 * field maps of events, and a fuzz test of the decoder. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>

#include "codec.h"
#include "test_entity_schemas.h"
#include "test_rand.h"

static int entities_equal(const ent_entity *a, const ent_entity *b)
{
    if (a->type != b->type || a->version != b->version) return 0;
    for (size_t i = 0; i < a->type->n_fields; i++)
        if (!ent__val_equal(&a->slots[i], &b->slots[i])) return 0;
    return 1;
}

/* Encode e, decode the record, check the result equals e; returns the decoded entity. */
static ent_entity *round_trip(const ent_entity *e)
{
    void *rec = NULL;
    size_t len = 0;
    ent_entity *d = NULL;
    ENT_OK_(ent_entity_encode(&rec, &len, e));
    ENT_OK_(ent_entity_decode(&d, ent_entity_type(e), rec, len));
    free(rec);
    CU_ASSERT_TRUE(entities_equal(e, d));
    CU_ASSERT_EQUAL(ent_entity_changed_count(d), 0);
    CU_ASSERT_EQUAL(ent_entity_key(d).kind, ENT_KEY_NONE);
    return d;
}

static void test_round_trip_every_kind(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    ent_entity *e = test_new(s, "thing"), *d;
    int64_t i;
    ENT_OK_(ent_entity_set_bool(e, "b", 0));
    ENT_OK_(ent_entity_set_int(e, "i", -5));
    ENT_OK_(ent_entity_set_uint(e, "u", 3));
    ENT_OK_(ent_entity_set_float(e, "f", 0.1));
    ENT_OK_(ent_entity_set_string(e, "s", "héllo"));
    ENT_OK_(ent_entity_set_bytes(e, "by", "\0\xff", 2));
    ENT_OK_(ent_entity_set_timestamp(e, "ts", 1764064800000000001));
    ENT_OK_(ent_entity_set_json(e, "arr", "[[1,2],[],[-3]]"));
    ENT_OK_(ent_entity_set_json(e, "maps", "[{\"x\":1,\"y\":\"a\"},{\"x\":-2}]"));
    ENT_OK_(ent_entity_set_json(e, "nest", "{\"inner\":{\"deep\":4},\"free\":{\"q\":[null,true,1.5,\"s\",{}]},\"req\":\"r\"}"));
    ENT_OK_(ent_entity_set_json(e, "any", "{\"n\":null,\"neg\":-1,\"pos\":1,\"big\":9223372036854775807,\"f\":2.5,\"l\":[[],{}],\"o\":{\"p\":{\"q\":\"r\"}}}"));
    ENT_OK_(ent_entity_set_bytes(e, "any.bin", "\1\2", 2));
    ENT_OK_(ent_entity_set_uint(e, "owner", 7));
    ENT_OK_(ent_entity_set_string(e, "other", "sku"));
    e->version = 12345;
    d = round_trip(e);
    ENT_OK_(ent_entity_get_int(&i, d, "nest.inner.deep"));
    CU_ASSERT_EQUAL(i, 4);
    CU_ASSERT_EQUAL(ent_entity_version(d), 12345);
    ent_entity_free(d);
    ent_entity_free(e);
    ent_schema_free(s);
}

/* A decoded entity keeps its values in its own allocation (codec_read.c); a record larger than
 * that room spills into more chunks. Either way the entity must behave as one built by setters:
 * every change below is made to both and they must stay equal (under ASan: no free of block
 * memory, no leak of what the changes allocate). */
static void apply_changes(ent_entity *e)
{
    ENT_OK_(ent_entity_array_insert(e, "arr", 0));            /* grows a vector in the block */
    ENT_OK_(ent_entity_set_json(e, "arr[0]", "[7,8]"));
    ENT_OK_(ent_entity_array_remove(e, "arr", 2));
    ENT_OK_(ent_entity_set_json(e, "arr[3]", "[-1]"));         /* replaces an item in the block */
    ENT_OK_(ent_entity_patch_json(e, "{\"any\":{\"k1\":null}}", 19)); /* drops a key of the block */
    ENT_OK_(ent_entity_set_string(e, "any.added", "new"));      /* grows the pairs: keys copied out */
    ENT_OK_(ent_entity_patch_json(e, "{\"any\":{\"k2\":null}}", 19)); /* a copied-out key */
    ENT_OK_(ent_entity_set_string(e, "s", "changed"));
    ENT_OK_(ent_entity_unset(e, "nest.free"));
    ENT_OK_(ent_entity_set_int(e, "maps[0].x", 99));
    ENT_OK_(ent_entity_set_string(e, "nest.free.z", "zz"));
}

static void test_decoded_values_in_block(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    for (int big = 0; big <= 1; big++) {
        ent_entity *e = test_new(s, "thing"), *d, *c;
        size_t n = big ? 3000 : 3, cap = 64 + n * 16, off = 0;
        char *arr = malloc(cap), *any = malloc(cap * 2);
        const char *str = NULL;
        CU_ASSERT_PTR_NOT_NULL_FATAL(arr);
        CU_ASSERT_PTR_NOT_NULL_FATAL(any);
        /* many one-byte items: the values need ~30x the record's bytes, far beyond the room */
        off += (size_t)snprintf(arr + off, cap - off, "[");
        for (size_t i = 0; i < n; i++) off += (size_t)snprintf(arr + off, cap - off, "%s[%zu]", i ? "," : "", i % 100);
        snprintf(arr + off, cap - off, "]");
        off = (size_t)snprintf(any, cap * 2, "{");
        for (size_t i = 0; i < n; i++) off += (size_t)snprintf(any + off, cap * 2 - off, "%s\"k%zu\":{\"v\":[%zu,\"s\"]}", i ? "," : "", i, i);
        snprintf(any + off, cap * 2 - off, "}");
        ENT_OK_(ent_entity_set_string(e, "s", "héllo"));
        ENT_OK_(ent_entity_set_bytes(e, "by", "\0\xff", 2));
        ENT_OK_(ent_entity_set_json(e, "arr", arr));
        ENT_OK_(ent_entity_set_json(e, "any", any));
        ENT_OK_(ent_entity_set_json(e, "maps", "[{\"x\":1,\"y\":\"a\"},{\"x\":-2}]"));
        ENT_OK_(ent_entity_set_json(e, "nest", "{\"inner\":{\"deep\":4},\"free\":{\"q\":[null,true]},\"req\":\"r\"}"));
        d = round_trip(e);
        ENT_OK_(ent_entity_dup(&c, d)); /* a copy owns its values */
        CU_ASSERT_TRUE(entities_equal(c, d));
        apply_changes(e);
        apply_changes(d);
        CU_ASSERT_TRUE(entities_equal(e, d));
        ENT_OK_(ent_entity_get_string(&str, NULL, d, "any.added"));
        CU_ASSERT_STRING_EQUAL(str, "new");
        ent_entity_free(d); /* the copy outlives what it was copied from */
        CU_ASSERT_TRUE(ent_entity_has(c, "any.k1"));
        ENT_OK_(ent_entity_get_string(&str, NULL, c, "s"));
        CU_ASSERT_STRING_EQUAL(str, "héllo");
        ent_entity_free(c);
        ent_entity_free(e);
        free(arr);
        free(any);
    }
    ent_schema_free(s);
}

static void test_round_trip_empty_and_extreme(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    ent_entity *e = test_new(s, "thing"), *d;
    size_t big = 1 << 20;
    char *str = malloc(big + 1), s255[256];
    static const double floats[] = {DBL_MAX, -DBL_MAX, -0.0, 0.0, DBL_MIN, 4.9406564584124654e-324,
                                    -4.9406564584124654e-324, INFINITY, -INFINITY, 1e-310};
    CU_ASSERT_PTR_NOT_NULL_FATAL(str);
    /* nothing set at all */
    d = round_trip(e);
    ent_entity_free(d);
    /* empty values */
    ENT_OK_(ent_entity_set_string(e, "s", ""));
    ENT_OK_(ent_entity_set_bytes(e, "by", "", 0));
    ENT_OK_(ent_entity_set_json(e, "arr", "[]"));
    ENT_OK_(ent_entity_set_json(e, "maps", "[{}]"));
    ENT_OK_(ent_entity_set_json(e, "nest", "{}"));
    ENT_OK_(ent_entity_set_json(e, "any", "{}"));
    ENT_OK_(ent_entity_set_string(e, "other", ""));
    d = round_trip(e);
    ent_entity_free(d);
    /* maximal values */
    ENT_OK_(ent_entity_set_int(e, "in", INT64_MIN));
    ENT_OK_(ent_entity_set_int(e, "i", INT64_MAX));
    ENT_OK_(ent_entity_set_uint(e, "un", UINT64_MAX));
    ENT_OK_(ent_entity_set_uint(e, "u", 0));
    ENT_OK_(ent_entity_set_timestamp(e, "ts", INT64_MIN));
    ENT_OK_(ent_entity_set_uint(e, "owner", UINT64_MAX));
    memset(str, 'z', big);
    str[big] = '\0';
    ENT_OK_(ent_entity_set_string(e, "big", str));
    ENT_OK_(ent_entity_set_bytes(e, "raw", str, big));
    memset(s255, 'k', 255);
    s255[255] = '\0';
    ENT_OK_(ent_entity_set_string(e, "other", s255));
    ENT_OK_(ent_entity_set_string(e, "s", s255));
    e->version = UINT64_MAX;
    for (size_t k = 0; k < sizeof floats / sizeof floats[0]; k++) {
        ENT_OK_(ent_entity_set_float(e, "fl", floats[k]));
        d = round_trip(e);
        ent_entity_free(d);
    }
    ENT_OK_(ent_entity_set_float(e, "fl", NAN)); /* bit-exact */
    d = round_trip(e);
    ent_entity_free(d);
    ENT_OK_(ent_entity_set_timestamp(e, "ts", INT64_MAX));
    ENT_OK_(ent_entity_set_int(e, "in", 0));
    d = round_trip(e);
    ent_entity_free(d);
    free(str);
    ent_entity_free(e);
    ent_schema_free(s);
}

static const char V1[] =
    "{\"schema\":\"evo\",\"version\":1,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{"
    "\"a\":{\"id\":1,\"type\":\"int\"},\"b\":{\"id\":2,\"type\":\"string\"},"
    "\"m\":{\"id\":3,\"type\":\"map\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\"},\"old\":{\"id\":2,\"type\":\"string\"}}}}}}}";
static const char V2[] =
    "{\"schema\":\"evo\",\"version\":2,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{"
    "\"a\":{\"id\":1,\"type\":\"int\"},"
    "\"m\":{\"id\":3,\"type\":\"map\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\"},\"y\":{\"id\":3,\"type\":\"int\"}}},"
    "\"c\":{\"id\":4,\"type\":\"string\",\"default\":\"dflt\"},"
    "\"d\":{\"id\":5,\"type\":\"array\",\"items\":{\"type\":\"int\"}}}}}}";

static void test_schema_evolution(void)
{
    ent_schema *s1 = test_schema(V1), *s2 = test_schema(V2);
    ent_entity *e = test_new(s1, "t"), *d = NULL;
    void *rec;
    size_t len;
    int64_t i;
    const char *str;
    ENT_OK_(ent_entity_set_int(e, "a", 1));
    ENT_OK_(ent_entity_set_string(e, "b", "gone"));
    ENT_OK_(ent_entity_set_int(e, "m.x", 2));
    ENT_OK_(ent_entity_set_string(e, "m.old", "gone too"));
    e->version = 3;
    ENT_OK_(ent_entity_encode(&rec, &len, e));
    ENT_OK_(ent_entity_decode(&d, ent_schema_type(s2, "t"), rec, len));
    ENT_OK_(ent_entity_get_int(&i, d, "a"));
    CU_ASSERT_EQUAL(i, 1);
    ENT_OK_(ent_entity_get_int(&i, d, "m.x"));
    CU_ASSERT_EQUAL(i, 2);
    CU_ASSERT_FALSE(ent_entity_has(d, "m.y"));
    CU_ASSERT_FALSE(ent_entity_has(d, "c"));
    CU_ASSERT_FALSE(ent_entity_has(d, "d"));
    CU_ASSERT_EQUAL(ent_entity_version(d), 3);
    ENT_OK_(ent_entity_apply_defaults(d)); /* new fields defaulted */
    ENT_OK_(ent_entity_get_string(&str, NULL, d, "c"));
    CU_ASSERT_STRING_EQUAL(str, "dflt");
    free(rec);
    ent_entity_free(d);
    ent_entity_free(e);
    ent_schema_free(s1);
    ent_schema_free(s2);
}

/* Pack with msgpack-c directly, for hand-made records. */
typedef struct mp {
    ent_buf b;
    msgpack_packer pk;
} mp;

static void mp_init(mp *m)
{
    memset(m, 0, sizeof *m);
    ent__packer_init(&m->pk, &m->b);
}

static void expect_corrupt(const ent_type *t, const void *p, size_t n, const char *what)
{
    ent_entity *d = (ent_entity *)1;
    int rc = ent_entity_decode(&d, t, p, n);
    if (rc != ENT_CORRUPT) fprintf(stderr, "\n  %s: rc %d (%s)\n", what, rc, ent_errmsg());
    CU_ASSERT_EQUAL(rc, ENT_CORRUPT);
    CU_ASSERT_PTR_NULL(d);
    ent_entity_free(rc == ENT_OK ? d : NULL);
}

static void test_corrupt_records(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    const ent_type *t = ent_schema_type(s, "thing");
    mp m;
    static const unsigned char huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x00};
    static const unsigned char huge_map[] = {0x92, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char huge_str[] = {0x92, 0x01, 0x81, 0x05, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    static const unsigned char c1[] = {0x92, 0x01, 0x80, 0xc1};
    unsigned char deep[80];
    expect_corrupt(t, "", 0, "empty");
    expect_corrupt(t, NULL, 0, "NULL");
    expect_corrupt(t, "\xc0", 1, "nil");
    expect_corrupt(t, "\x93\x01\x80\x01", 4, "array of 3");
    ENT_ASSERT_MSG("not a [version, fields] record");
    expect_corrupt(t, "\x92\xff\x80", 3, "negative version");
    expect_corrupt(t, "\x92\x01\x90", 3, "fields not a map");
    expect_corrupt(t, "\x92\x01\x81\xa1x\x01", 6, "string field id");
    expect_corrupt(t, "\x92\x01\x81\x01\x01", 5, "int for a bool field");
    expect_corrupt(t, "\x92\x01\x81\x02\xa1x", 6, "string for an int field");
    expect_corrupt(t, "\x92\x01\x81\x03\xff", 5, "negative for a uint field");
    expect_corrupt(t, "\x92\x01\x81\x04\x01", 5, "int for a float field");
    expect_corrupt(t, "\x92\x01\x81\x05\xc4\x01x", 7, "bin for a string field");
    expect_corrupt(t, "\x92\x01\x81\x02\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 13, "int field above INT64_MAX");
    expect_corrupt(t, "\x92\x01\x82\x01\xc3\x01\xc2", 7, "repeated field");
    expect_corrupt(t, "\x92\x01\x81\x01\xc0", 5, "nil field");
    ENT_ASSERT_MSG("thing.b: nil field");
    expect_corrupt(t, "\x92\x01\x80\x00", 4, "trailing byte");
    expect_corrupt(t, "\x92\x01\x81\x0b\x82\xa1k\x01\xa1k\x02", 11, "repeated free-form key");
    expect_corrupt(t, "\x92\x01\x81\x0b\x81\x01\x01", 7, "free-form key not a string");
    expect_corrupt(t, "\x92\x01\x81\x0b\x81\xa1k\xd4\x01\x01", 10, "ext in a free-form value");
    expect_corrupt(t, "\x92\x01\x81\x0a\x81\xa1k\x01", 8, "string id in a declared map");
    expect_corrupt(t, "\x92\x01\x81\x0a\x82\x03\xa1r\x03\xa1s", 11, "repeated sub-field");
    ENT_ASSERT_MSG("field repeated");
    expect_corrupt(t, huge_array, sizeof huge_array, "array of 4G items");
    expect_corrupt(t, huge_map, sizeof huge_map, "map of 4G items");
    expect_corrupt(t, huge_str, sizeof huge_str, "string of 4 GB");
    expect_corrupt(t, c1, sizeof c1, "reserved byte 0xc1");
    /* nesting deeper than msgpack-c's stack, inside a free-form value (a map: an array there
     * was refused as the wrong kind before its depth was looked at) */
    deep[0] = 0x92;
    deep[1] = 0x01;
    deep[2] = 0x81;
    deep[3] = 0x0b;
    deep[4] = 0x81;
    deep[5] = 0xa1;
    deep[6] = 'k';
    for (size_t i = 7; i < sizeof deep - 1; i++) deep[i] = 0x91;
    deep[sizeof deep - 1] = 0x01;
    expect_corrupt(t, deep, sizeof deep, "deep nesting");
    ENT_ASSERT_MSG("not a well-formed msgpack value");
    /* and inside a removed field's value, which is skipped */
    deep[3] = 0x63;
    expect_corrupt(t, deep, sizeof deep, "deep nesting in a removed field");
    ENT_ASSERT_MSG("not a well-formed msgpack value");
    /* a well-formed record that is a string */
    mp_init(&m);
    msgpack_pack_str_with_body(&m.pk, "hello", 5);
    expect_corrupt(t, m.b.p, m.b.n, "a string");
    ent__buf_free(&m.b);
    ent_schema_free(s);
}

/* The record reader (codec_read.c) takes every msgpack width another encoder may choose, as
 * msgpack-c did: signed formats holding values >= 0 read as unsigned, float32, str16, array16,
 * map16, and skips a removed field's nested value. */
static void test_record_wide_formats(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    const ent_type *t = ent_schema_type(s, "thing");
    ent_entity *d = NULL;
    int64_t i;
    uint64_t u;
    double f;
    const char *str;
    size_t len;
    /* [1, {u: int8 5, i: int16 -3, f: float32 0.5, s: str16 "ab",
     *      arr: array16 [[int32 7]], 99: {nested removed field}}] */
    static const unsigned char rec[] = {0x92, 0x01, 0xde, 0x00, 0x06,
                                        0x03, 0xd0, 0x05,
                                        0x02, 0xd1, 0xff, 0xfd,
                                        0x04, 0xca, 0x3f, 0x00, 0x00, 0x00,
                                        0x05, 0xda, 0x00, 0x02, 'a', 'b',
                                        0x08, 0xdc, 0x00, 0x01, 0x91, 0xd2, 0x00, 0x00, 0x00, 0x07,
                                        0x63, 0x82, 0xa1, 'k', 0x91, 0x01, 0xa1, 'l', 0xc0};
    ENT_OK_(ent_entity_decode(&d, t, rec, sizeof rec));
    ENT_OK_(ent_entity_get_uint(&u, d, "u"));
    CU_ASSERT_EQUAL(u, 5);
    ENT_OK_(ent_entity_get_int(&i, d, "i"));
    CU_ASSERT_EQUAL(i, -3);
    ENT_OK_(ent_entity_get_float(&f, d, "f"));
    CU_ASSERT_EQUAL(f, 0.5);
    ENT_OK_(ent_entity_get_string(&str, &len, d, "s"));
    CU_ASSERT_EQUAL(len, 2);
    CU_ASSERT_STRING_EQUAL(str, "ab");
    ENT_OK_(ent_entity_get_int(&i, d, "arr[0][0]"));
    CU_ASSERT_EQUAL(i, 7);
    ent_entity_free(d);
    {
        /* the edge: a signed format holding 0 reads as the unsigned 0 too: [1, {u: int8 0}] */
        static const unsigned char zero[] = {0x92, 0x01, 0x81, 0x03, 0xd0, 0x00};
        d = NULL;
        ENT_OK_(ent_entity_decode(&d, t, zero, sizeof zero));
        ENT_OK_(ent_entity_get_uint(&u, d, "u"));
        CU_ASSERT_EQUAL(u, 0);
        ent_entity_free(d);
    }
    {
        /* a nil item of an array is one not set: [1, {arr: [nil, [1]]}] */
        static const unsigned char nil_item[] = {0x92, 0x01, 0x81, 0x08, 0x92, 0xc0, 0x91, 0x01};
        d = NULL;
        ENT_OK_(ent_entity_decode(&d, t, nil_item, sizeof nil_item));
        ENT_OK_(ent_entity_get_int(&i, d, "arr[1][0]"));
        CU_ASSERT_EQUAL(i, 1);
        ent_entity_free(d);
    }
    {
        /* a nil sub-field of a declared map is one not set: [1, {nest: {req: nil}}] */
        static const unsigned char nil_sub[] = {0x92, 0x01, 0x81, 0x0a, 0x81, 0x03, 0xc0};
        d = NULL;
        ENT_OK_(ent_entity_decode(&d, t, nil_sub, sizeof nil_sub));
        CU_ASSERT_EQUAL(ent_entity_get_string(&str, &len, d, "nest.req"), ENT_NOTFOUND);
        ent_entity_free(d);
    }
    /* the same record cut short anywhere is corrupt, never a crash or a partial entity */
    for (size_t n = 0; n < sizeof rec; n++) {
        d = NULL;
        CU_ASSERT_EQUAL(ent_entity_decode(&d, t, rec, n), ENT_CORRUPT);
        CU_ASSERT_PTR_NULL(d);
    }
    ent_schema_free(s);
}

static void test_record_version(void)
{
    ent_schema *s = test_schema(SHOP_JSON);
    ent_entity *e = test_new(s, "product");
    static const uint64_t versions[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295u,
                                        4294967296u, UINT64_MAX};
    uint64_t v;
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        ent_buf b = {NULL, 0, 0};
        e->version = versions[i];
        ENT_OK_(ent__record_encode(&b, e, NULL));
        ENT_OK_(ent__record_version(&v, b.p, b.n));
        CU_ASSERT_EQUAL(v, versions[i]);
        if (versions[i] > 127) CU_ASSERT_EQUAL(ent__record_version(&v, b.p, 2), ENT_CORRUPT);
        ent__buf_free(&b);
    }
    CU_ASSERT_EQUAL(ent__record_version(&v, "\x91\x01", 2), ENT_CORRUPT);
    CU_ASSERT_EQUAL(ent__record_version(&v, "\x92\xa1", 2), ENT_CORRUPT);
    CU_ASSERT_EQUAL(ent__record_version(&v, "", 0), ENT_CORRUPT);
    ent_entity_free(e);
    ent_schema_free(s);
}

static void test_fields_pack_apply(void)
{
    ent_schema *s = test_schema(SHOP_JSON);
    const ent_type *t = ent_schema_type(s, "product");
    ent_entity *e = test_new(s, "product"), *target = test_new(s, "product");
    mp m;
    msgpack_zone z;
    msgpack_object o;
    size_t off = 0;
    double d;
    int64_t i;
    ENT_OK_(ent_entity_set_float(e, "price", 9.5));
    ENT_OK_(ent_entity_set_int(e, "stock", 3));
    ENT_OK_(ent_entity_set_float(e, "dims.w", 1));
    ENT_OK_(ent_entity_set_string(target, "attrs.x", "old"));
    ENT_OK_(ent_entity_set_int(target, "stock", 1));
    ent_entity_clear_changed(e);
    ent_entity_clear_changed(target);
    /* the changes: price set, attrs unset (was never set in e: a removal) */
    ENT_OK_(ent_entity_set_float(e, "price", 10.5));
    ENT_OK_(ent_entity_unset(e, "attrs"));
    mp_init(&m);
    ENT_OK_(ent__fields_pack(&m.b, e, e->changed));
    ENT_OK_(ent__buf_ok(&m.b));
    CU_ASSERT_EQUAL(ent__mp_check(m.b.p, m.b.n), 0);
    msgpack_zone_init(&z, 256);
    CU_ASSERT_EQUAL_FATAL(msgpack_unpack(m.b.p, m.b.n, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
    CU_ASSERT_EQUAL(o.type, MSGPACK_OBJECT_MAP);
    CU_ASSERT_EQUAL(o.via.map.size, 2);
    ENT_OK_(ent__fields_apply(target, &o));
    ENT_OK_(ent_entity_get_float(&d, target, "price"));
    CU_ASSERT_EQUAL(d, 10.5);
    CU_ASSERT_FALSE(ent_entity_has(target, "attrs"));
    ENT_OK_(ent_entity_get_int(&i, target, "stock")); /* untouched */
    CU_ASSERT_EQUAL(i, 1);
    CU_ASSERT_TRUE(ent_entity_changed(target, ent_type_field(t, "price")));
    CU_ASSERT_TRUE(ent_entity_changed(target, ent_type_field(t, "attrs")));
    CU_ASSERT_EQUAL(ent_entity_changed_count(target), 2);
    msgpack_zone_destroy(&z);
    ent__buf_free(&m.b);
    /* every set field (mask NULL); unknown ids are skipped, non-maps are corrupt */
    mp_init(&m);
    ENT_OK_(ent__fields_pack(&m.b, e, NULL));
    msgpack_zone_init(&z, 256);
    off = 0;
    CU_ASSERT_EQUAL_FATAL(msgpack_unpack(m.b.p, m.b.n, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
    CU_ASSERT_EQUAL(o.via.map.size, 3);
    msgpack_zone_destroy(&z);
    ent__buf_free(&m.b);
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    msgpack_pack_uint32(&m.pk, 999);
    msgpack_pack_str_with_body(&m.pk, "x", 1);
    msgpack_pack_uint32(&m.pk, 2);
    msgpack_pack_int64(&m.pk, -4);
    msgpack_zone_init(&z, 256);
    off = 0;
    CU_ASSERT_EQUAL_FATAL(msgpack_unpack(m.b.p, m.b.n, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
    ENT_OK_(ent__fields_apply(target, &o));
    ENT_OK_(ent_entity_get_int(&i, target, "stock"));
    CU_ASSERT_EQUAL(i, -4);
    CU_ASSERT_EQUAL(ent__fields_apply(target, &o.via.map.ptr[0].val), ENT_CORRUPT);
    msgpack_zone_destroy(&z);
    ent__buf_free(&m.b);
    ent_entity_free(e);
    ent_entity_free(target);
    ent_schema_free(s);
}

/* ---- fuzz -------------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    return test_rand_next(s);
}

static void random_value(msgpack_packer *pk, uint64_t *r, int depth)
{
    switch (rng_next(r) % (depth > 3 ? 9 : 11)) {
    case 0: msgpack_pack_nil(pk); break;
    case 1: rng_next(r) & 1 ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
    case 2: msgpack_pack_int64(pk, (int64_t)rng_next(r) >> (rng_next(r) % 64)); break;
    case 3: msgpack_pack_uint64(pk, rng_next(r) >> (rng_next(r) % 64)); break;
    case 4: msgpack_pack_double(pk, (double)(int64_t)rng_next(r) / 1000.0); break;
    case 5: msgpack_pack_str_with_body(pk, "abcdefgh", rng_next(r) % 9); break;
    case 6: msgpack_pack_bin_with_body(pk, "\0\1\2\3", rng_next(r) % 5); break;
    case 7: msgpack_pack_float(pk, 1.5f); break;
    case 8: msgpack_pack_str_with_body(pk, "k", 1); break;
    case 9: {
        unsigned n = rng_next(r) % 4;
        msgpack_pack_array(pk, n);
        while (n--) random_value(pk, r, depth + 1);
        break;
    }
    default: {
        unsigned n = rng_next(r) % 4;
        msgpack_pack_map(pk, n);
        while (n--) {
            if (rng_next(r) % 3) msgpack_pack_uint32(pk, (uint32_t)(rng_next(r) % 4));
            else msgpack_pack_str_with_body(pk, "abc", 1 + rng_next(r) % 3);
            random_value(pk, r, depth + 1);
        }
    }
    }
}

/* A record of random values under random ids (1..20): often the right kind for the field. */
static void random_record(ent_buf *b, uint64_t *r)
{
    msgpack_packer pk;
    unsigned n = rng_next(r) % 6;
    ent__packer_init(&pk, b);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, rng_next(r) % 100);
    msgpack_pack_map(&pk, n);
    while (n--) {
        msgpack_pack_uint32(&pk, (uint32_t)(1 + rng_next(r) % 20));
        random_value(&pk, r, 0);
    }
}

typedef struct fuzz_stats {
    unsigned ok, corrupt;
} fuzz_stats;

static void fuzz_one(const ent_type *t, const unsigned char *p, size_t n, fuzz_stats *st)
{
    ent_entity *d = NULL, *d2 = NULL;
    void *rec = NULL;
    size_t len;
    int rc = ent_entity_decode(&d, t, p, n);
    if (rc != ENT_OK && rc != ENT_CORRUPT) {
        fprintf(stderr, "\n  fuzz: rc %d (%s)\n", rc, ent_errmsg());
        CU_FAIL("decode returned neither OK nor CORRUPT");
        return;
    }
    if (rc == ENT_CORRUPT) {
        st->corrupt++;
        return;
    }
    st->ok++;
    ENT_OK_(ent_entity_encode(&rec, &len, d));
    ENT_OK_(ent_entity_decode(&d2, t, rec, len));
    if (!entities_equal(d, d2)) CU_FAIL("re-encoded record decodes differently");
    free(rec);
    ent_entity_free(d);
    ent_entity_free(d2);
}

static void fuzz_run(uint64_t seed, const ent_schema *s)
{
    const ent_type *types[] = {ent_schema_type(s, "thing"), ent_schema_type(s, "person")};
    ent_entity *e = test_new(s, "thing");
    uint64_t r = seed ? seed : 1;
    fuzz_stats st = {0, 0};
    unsigned char buf[4096], *mut;
    void *valid;
    size_t vlen;
    unsigned iter;
    fprintf(stderr, "\n  fuzz seed %" PRIu64 " ", seed);
    /* a realistic valid record to mutate */
    ENT_OK_(ent_entity_set_json(e, "arr", "[[1,2],[],[-3]]"));
    ENT_OK_(ent_entity_set_json(e, "maps", "[{\"x\":1,\"y\":\"a\"},{\"x\":-2}]"));
    ENT_OK_(ent_entity_set_json(e, "nest", "{\"inner\":{\"deep\":4},\"free\":{\"q\":[null,true,1.5,\"s\",{}]},\"req\":\"r\"}"));
    ENT_OK_(ent_entity_set_json(e, "any", "{\"n\":null,\"neg\":-1,\"f\":2.5,\"l\":[[],{}],\"o\":{\"p\":{\"q\":\"r\"}}}"));
    ENT_OK_(ent_entity_set_string(e, "s", "str"));
    ENT_OK_(ent_entity_set_uint(e, "u", 300));
    ENT_OK_(ent_entity_set_timestamp(e, "ts", -5));
    ENT_OK_(ent_entity_set_bytes(e, "by", "ab", 2));
    ENT_OK_(ent_entity_set_string(e, "other", "o"));
    e->version = 70000;
    ENT_OK_(ent_entity_encode(&valid, &vlen, e));
    CU_ASSERT_FATAL(vlen < sizeof buf - 16);
    mut = malloc(vlen + 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mut);
    /* truncation at every length; exact-size heap copies so ASan sees any over-read */
    for (size_t n = 0; n <= vlen; n++) {
        memcpy(mut, valid, n);
        fuzz_one(types[0], mut, n, &st);
    }
    for (iter = 0; iter < 20000; iter++) {
        size_t n = vlen, pos;
        unsigned char *p;
        switch (iter % 6) {
        case 0: /* bit flips */
            memcpy(buf, valid, n);
            for (unsigned k = 1 + rng_next(&r) % 3; k; k--) {
                pos = rng_next(&r) % n;
                buf[pos] ^= (unsigned char)(1u << (rng_next(&r) % 8));
            }
            break;
        case 1: /* byte insertion */
            pos = rng_next(&r) % (n + 1);
            memcpy(buf, valid, pos);
            buf[pos] = (unsigned char)rng_next(&r);
            memcpy(buf + pos + 1, (const char *)valid + pos, n - pos);
            n++;
            break;
        case 2: /* byte deletion */
            pos = rng_next(&r) % n;
            memcpy(buf, valid, pos);
            memcpy(buf + pos, (const char *)valid + pos + 1, n - pos - 1);
            n--;
            break;
        case 3: { /* type byte swaps: replace a byte with a msgpack type marker */
            static const unsigned char markers[] = {0xc0, 0xc2, 0xc3, 0xc4, 0xc7, 0xca, 0xcb, 0xcc,
                                                    0xcf, 0xd0, 0xd3, 0xd4, 0xd9, 0xdb, 0xdc, 0xdd,
                                                    0xde, 0xdf, 0x80, 0x90, 0xa0, 0xff, 0x7f, 0x8f, 0x9f};
            memcpy(buf, valid, n);
            pos = rng_next(&r) % n;
            buf[pos] = markers[rng_next(&r) % sizeof markers];
            break;
        }
        case 4: /* random bytes */
            n = rng_next(&r) % 64;
            for (size_t k = 0; k < n; k++) buf[k] = (unsigned char)rng_next(&r);
            if (n && rng_next(&r) % 2) buf[0] = 0x92;
            break;
        default: { /* structurally valid random records */
            ent_buf b = {NULL, 0, 0};
            random_record(&b, &r);
            n = b.n < sizeof buf ? b.n : sizeof buf;
            memcpy(buf, b.p, n);
            ent__buf_free(&b);
        }
        }
        p = malloc(n ? n : 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        memcpy(p, buf, n);
        fuzz_one(types[rng_next(&r) % 2], p, n, &st);
        free(p);
    }
    fprintf(stderr, "(%u decoded, %u corrupt) ", st.ok, st.corrupt);
    CU_ASSERT(st.ok > 100);
    CU_ASSERT(st.corrupt > 100);
    free(mut);
    free(valid);
    ent_entity_free(e);
}

static void test_fuzz_decode(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    const char *env = getenv("ENT_FUZZ_SEED");
    fuzz_run(0x5eed2026u, s);
    if (env && *env) fuzz_run(strtoull(env, NULL, 0), s);
    ent_schema_free(s);
}

static void test_buf(void)
{
    ent_buf b = {NULL, 0, 0};
    ENT_OK_(ent__buf_append(&b, "abc", 3));
    ENT_OK_(ent__buf_reserve(&b, 10000));
    CU_ASSERT(b.cap >= 10003);
    ENT_OK_(ent__buf_append(&b, "", 0));
    CU_ASSERT_EQUAL(b.n, 3);
    CU_ASSERT_EQUAL(ent__buf_reserve(&b, SIZE_MAX - 2), ENT_NOMEM);
    ENT_OK_(ent__buf_ok(&b));
    ent__buf_free(&b);
    CU_ASSERT_PTR_NULL(b.p);
    ENT_OK_(ent__buf_append(&b, "x", 1)); /* reusable after free */
    ent__buf_free(&b);
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(test_round_trip_every_kind), ENT_TEST(test_round_trip_empty_and_extreme),
        ENT_TEST(test_schema_evolution),      ENT_TEST(test_corrupt_records), ENT_TEST(test_record_wide_formats),
        ENT_TEST(test_record_version),        ENT_TEST(test_fields_pack_apply),
        ENT_TEST(test_buf),                   ENT_TEST(test_fuzz_decode), ENT_TEST(test_decoded_values_in_block),
        {NULL, NULL}};
    return ent_test_run("codec", cases);
}
