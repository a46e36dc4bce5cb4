/* Events as JSON: the compact line ent_event_to_json() writes straight into a buffer (the relay
 * prints one per event) is byte for byte the line of the jansson tree it replaced
 * (ent__event_to_json_tree), on random events holding every kind of value, odd strings and keys,
 * counters above INT64_MAX, removed fields and deletes. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>

#include "store_int.h"
#include "test_entity_schemas.h"
#include "test_rand.h"

static uint64_t rng = 0x2545f4914f6cdd1du;
static uint64_t next_rand(void)
{
    return test_rand_next(&rng);
}

/* Bytes that exercise the string writer: ASCII, quotes, backslashes, control characters, NUL,
 * valid multi-byte UTF-8, and (one time in four) bytes that are not UTF-8 at all. */
static size_t odd_string(char *buf, size_t cap)
{
    static const char *pieces[] = {"a", "Zz", "\"", "\\", "\n", "\t", "\x01", "\x1f", "/", "\xc3\xa9",
                                   "\xe2\x82\xac", "\xf0\x9f\x98\x80", " ", "0", "\x7f"};
    static const char *bad[] = {"\xff", "\xc3", "\xed\xa0\x80", "\xc0\xaf", "\x80"};
    size_t n = 0, parts = next_rand() % 6;
    int broken = next_rand() % 4 == 0;
    for (size_t i = 0; i < parts; i++) {
        const char *p = pieces[next_rand() % (sizeof pieces / sizeof pieces[0])];
        if (next_rand() % 9 == 0) p = "\0"; /* a NUL inside */
        size_t len = *p ? strlen(p) : 1;
        if (n + len + 4 >= cap) break;
        memcpy(buf + n, p, len);
        n += len;
    }
    if (broken) {
        const char *p = bad[next_rand() % (sizeof bad / sizeof bad[0])];
        memcpy(buf + n, p, strlen(p));
        n += strlen(p);
    }
    buf[n] = '\0';
    return n;
}

static double odd_double(void)
{
    uint64_t r = next_rand();
    double d;
    switch (r % 6) {
    case 0: return (double)(int64_t)(next_rand() % 200000 - 100000) / 100.0;
    case 1: return r & 8 ? NAN : (r & 16 ? INFINITY : -INFINITY);
    case 2: return r & 8 ? -0.0 : DBL_MIN / 4; /* a subnormal */
    case 3: return 1e20 * (double)(r % 1000);
    default: memcpy(&d, &r, sizeof d); return isfinite(d) ? d : 1.5;
    }
}

static const char *free_forms[] = {
    "{}", "{\"k\":null}", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"\\u00e9\\n\"}}", "{\"x\":0.1,\"y\":-2e-7}",
    "{\"\\\"q\\\"\":\"\\\\\",\"n\":9223372036854775807}", "{\"deep\":{\"deeper\":{\"deepest\":[[],[{}]]}}}"};

/* A thing with a random selection of fields set: every kind, nested arrays, declared and free-form
 * maps, and values no schema check has seen (this is an event's data, printed as it is). */
static ent_entity *random_thing(ent_schema *s)
{
    ent_entity *e = test_new(s, "thing");
    char str[64];
    size_t n;
    uint64_t pick = next_rand();
    if (pick & 1) ENT_OK_(ent_entity_set_bool(e, "b", (int)(next_rand() & 1)));
    if (pick & 2) ENT_OK_(ent_entity_set_int(e, "in", (int64_t)next_rand()));
    if (pick & 4) ENT_OK_(ent_entity_set_uint(e, "un", next_rand() >> (next_rand() % 2)));
    if (pick & 8) ENT_OK_(ent_entity_set_float(e, "fl", odd_double()));
    if (pick & 16) {
        n = odd_string(str, sizeof str);
        ENT_OK_(ent_entity_set_stringn(e, "big", str, n));
    }
    if (pick & 32) {
        n = odd_string(str, sizeof str);
        ENT_OK_(ent_entity_set_bytes(e, "raw", str, n));
    }
    if (pick & 64) ENT_OK_(ent_entity_set_timestamp(e, "ts", (int64_t)next_rand()));
    if (pick & 128) ENT_OK_(ent_entity_set_json(e, "arr", next_rand() & 1 ? "[[1,-2],[],[9223372036854775807]]" : "[]"));
    if (pick & 256) ENT_OK_(ent_entity_set_json(e, "maps", "[{\"x\":1},{\"x\":2,\"y\":\"z\"}]"));
    if (pick & 512) ENT_OK_(ent_entity_set_json(e, "nest", "{\"inner\":{\"deep\":3},\"free\":{\"f\":[1.25]},\"req\":\"r\"}"));
    if (pick & 1024)
        ENT_OK_(ent_entity_set_json(e, "any", free_forms[next_rand() % (sizeof free_forms / sizeof free_forms[0])]));
    if (pick & 2048) ENT_OK_(ent_entity_set_string(e, "s", "short"));
    if (pick & 4096) ENT_OK_(ent_entity_set_float(e, "f", odd_double()));
    return e;
}

static void check_same(const ent_event *ev, long *mismatches)
{
    char *fast = NULL, *tree = NULL;
    int rc_fast = ent_event_to_json(&fast, ev, 0);
    int rc_tree = ent__event_to_json_tree(&tree, ev, 0);
    CU_ASSERT_EQUAL(rc_fast, rc_tree);
    if (rc_fast == ENT_OK && rc_tree == ENT_OK && strcmp(fast, tree) != 0 && (*mismatches)++ < 5)
        fprintf(stderr, "\n  writer: %s\n  tree:   %s\n", fast, tree);
    free(fast);
    free(tree);
}

static void test_compact_matches_tree(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    const ent_type *thing = ent_schema_type(s, "thing"), *person = ent_schema_type(s, "person");
    long mismatches = 0;
    for (int i = 0; i < 20000; i++) {
        ent_event ev;
        char key[64];
        memset(&ev, 0, sizeof ev);
        ev.seq = next_rand() >> (next_rand() % 64); /* above INT64_MAX at times */
        ev.ts = (int64_t)next_rand();
        ev.txn = next_rand() >> (next_rand() % 64);
        ev.version = next_rand() >> (next_rand() % 64);
        ev.op = (int)(next_rand() % 6); /* 0, 3 and 5 are no op: printed "?" */
        if (i % 5 == 0) {
            ev.type = person;
            ev.key = ent_key_id(next_rand() >> (next_rand() % 64));
        } else {
            size_t n = odd_string(key, sizeof key); /* not UTF-8 at times: the tree's error */
            ev.type = thing;
            ev.key.kind = ENT_KEY_STRING;
            ev.key.str = key;
            ev.key.len = n;
        }
        if (ev.op != ENT_OP_DELETE && ev.type == thing) {
            ev.data = random_thing(s);
            /* an update's removed fields: changed and unset, printed as null after the others */
            if (ev.op == ENT_OP_UPDATE && next_rand() % 2) ENT_OK_(ent_entity_unset(ev.data, "s"));
            if (ev.op == ENT_OP_UPDATE && next_rand() % 2) ENT_OK_(ent_entity_unset(ev.data, "in"));
        }
        check_same(&ev, &mismatches);
        ent_entity_free(ev.data);
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    ent_schema_free(s);
}

/* Counters and auto keys above INT64_MAX print as decimal strings, as entity JSON prints uints
 * (value.h): a version restored at 2^64-2 printed -2 and its key 2^64-1 printed -1 (found by the
 * differential test of the backends). Both forms read back, the wrapped one of older lines too. */
static void test_big_counters(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    ent_event ev, *back = NULL;
    char *j = NULL;
    memset(&ev, 0, sizeof ev);
    ev.seq = 9;
    ev.ts = 0;
    ev.txn = (uint64_t)1 << 63;
    ev.version = UINT64_MAX - 1;
    ev.op = ENT_OP_DELETE;
    ev.type = ent_schema_type(s, "person");
    ev.key = ent_key_id(UINT64_MAX);
    ENT_OK_(ent_event_to_json(&j, &ev, 0));
    CU_ASSERT_STRING_EQUAL(j, "{\"seq\":9,\"ts\":\"1970-01-01T00:00:00.000000000Z\",\"txn\":\"9223372036854775808\","
                              "\"type\":\"person\",\"key\":\"18446744073709551615\",\"op\":\"delete\","
                              "\"version\":\"18446744073709551614\",\"data\":{}}");
    ENT_OK_(ent_event_from_json(&back, s, j, strlen(j)));
    if (back) {
        CU_ASSERT_EQUAL(back->txn, ev.txn);
        CU_ASSERT_EQUAL(back->version, ev.version);
        CU_ASSERT_EQUAL(back->key.id, UINT64_MAX);
    }
    ent_event_free(back);
    free(j);
    back = NULL;
    static const char old[] = "{\"seq\":9,\"ts\":\"1970-01-01T00:00:00Z\",\"txn\":1,\"type\":\"person\",\"key\":-1,"
                              "\"op\":\"delete\",\"version\":-2,\"data\":{}}";
    ENT_OK_(ent_event_from_json(&back, s, old, strlen(old)));
    if (back) CU_ASSERT_EQUAL(back->version, UINT64_MAX - 1);
    ent_event_free(back);
    back = NULL;
    static const char bad[] = "{\"seq\":\"18446744073709551616\",\"ts\":\"1970-01-01T00:00:00Z\",\"txn\":1,"
                              "\"type\":\"person\",\"key\":1,\"op\":\"delete\",\"version\":2,\"data\":{}}";
    ENT_CHECK_RC(ent_event_from_json(&back, s, bad, strlen(bad)), ENT_INVALID);
    ent_schema_free(s);
}

/* The known shape, field by field, so that both writers cannot drift together. */
static void test_known_line(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    ent_event ev;
    char *j = NULL;
    memset(&ev, 0, sizeof ev);
    ev.seq = 7;
    ev.ts = 1700000000123456789;
    ev.txn = 3;
    ev.version = 2;
    ev.op = ENT_OP_UPDATE;
    ev.type = ent_schema_type(s, "thing");
    ev.key.kind = ENT_KEY_STRING;
    ev.key.str = "k\"1";
    ev.key.len = 3;
    ev.data = test_new(s, "thing");
    ENT_OK_(ent_entity_set_float(ev.data, "fl", 0.99));
    ENT_OK_(ent_entity_set_string(ev.data, "big", "a\nb"));
    ENT_OK_(ent_entity_unset(ev.data, "in"));
    ENT_OK_(ent_event_to_json(&j, &ev, 0));
    CU_ASSERT_STRING_EQUAL(j, "{\"seq\":7,\"ts\":\"2023-11-14T22:13:20.123456789Z\",\"txn\":3,\"type\":\"thing\","
                              "\"key\":\"k\\\"1\",\"op\":\"update\",\"version\":2,"
                              "\"data\":{\"big\":\"a\\nb\",\"fl\":0.99,\"in\":null}}");
    free(j);
    ent_entity_free(ev.data);
    ev.data = NULL;
    ev.op = ENT_OP_DELETE;
    ENT_OK_(ent_event_to_json(&j, &ev, 0));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"op\":\"delete\",\"version\":2,\"data\":{}}"));
    free(j);
    /* a key that is not UTF-8 (a damaged record): refused as such, not printed with U+FFFD
     * (a mirror would apply the line to another entity) nor reported as a lack of memory */
    ev.key.str = "k\xff";
    ev.key.len = 2;
    j = NULL;
    ENT_CHECK_RC(ent_event_to_json(&j, &ev, 0), ENT_CORRUPT);
    CU_ASSERT_PTR_NULL(j);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "event 7: its key is not valid UTF-8"));
    ENT_CHECK_RC(ent_event_to_json(&j, &ev, ENT_JSON_PRETTY), ENT_CORRUPT);
    ent_schema_free(s);
}

/* An event line's -0 (JSON's negative zero, which jansson reads as the integer 0; this library
 * prints -0.0, another writer may not) for a float field is -0.0: "data" is printed and read
 * again, and said 0. An int's -0 is 0. */
static void test_negative_zero(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    ent_event *back = NULL;
    double d = 1;
    int64_t i = 1;
    static const char line[] = "{\"seq\":1,\"ts\":\"1970-01-01T00:00:00Z\",\"txn\":1,\"type\":\"thing\",\"key\":\"k\","
                               "\"op\":\"create\",\"version\":1,\"data\":{\"f\":-0,\"fl\":0,\"i\":-0}}";
    ENT_OK_(ent_event_from_json(&back, s, line, strlen(line)));
    if (back) {
        ENT_OK_(ent_entity_get_float(&d, back->data, "f"));
        CU_ASSERT_TRUE(d == 0 && signbit(d));
        ENT_OK_(ent_entity_get_float(&d, back->data, "fl"));
        CU_ASSERT_TRUE(d == 0 && !signbit(d));
        ENT_OK_(ent_entity_get_int(&i, back->data, "i"));
        CU_ASSERT_EQUAL(i, 0);
    }
    ent_event_free(back);
    ent_schema_free(s);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_compact_matches_tree), ENT_TEST(test_known_line), ENT_TEST(test_big_counters),
                                          ENT_TEST(test_negative_zero), {NULL, NULL}};
    return ent_test_run("event_json", cases);
}
