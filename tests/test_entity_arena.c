/* Values the setters put in an entity's arena (value_int.h: in_block values), the setters' fast
 * path (field, field[i], field.key), and create's one walk that validates and packs the record:
 * arena growth and its bound, a path set many times, long strings and keys, arrays and free-form
 * maps grown past a block, decoded entities set again, owned containers mixed with arena ones,
 * refused creates that leave the entity as it was, and the packed record byte for byte. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "test_util.h"
#include "value_int.h"

static const char NOTE_JSON[] =
    "{\"schema\":\"arena\",\"version\":1,\"types\":{\"note\":{\"key\":\"auto\",\"fields\":{"
    "\"title\":{\"id\":1,\"type\":\"string\"},"
    "\"tags\":{\"id\":2,\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"attrs\":{\"id\":3,\"type\":\"map\"},"
    "\"dims\":{\"id\":4,\"type\":\"map\",\"fields\":{\"w\":{\"id\":1,\"type\":\"string\"},\"h\":{\"id\":2,\"type\":\"int\"}}},"
    "\"code\":{\"id\":5,\"type\":\"string\",\"unique\":true},"
    "\"n\":{\"id\":6,\"type\":\"int\",\"min\":0},"
    "\"i\":{\"id\":7,\"type\":\"int\"},\"u\":{\"id\":8,\"type\":\"uint\"},\"f\":{\"id\":9,\"type\":\"float\"},"
    "\"by\":{\"id\":10,\"type\":\"bytes\"},\"ts\":{\"id\":11,\"type\":\"timestamp\"},\"b\":{\"id\":12,\"type\":\"bool\"},"
    "\"nums\":{\"id\":13,\"type\":\"array\",\"items\":{\"type\":\"int\"}}}}}}";

static ent_schema *schema(void)
{
    ent_schema *s = NULL;
    ENT_OK_(ent_schema_load_json(&s, NOTE_JSON, strlen(NOTE_JSON), "arena"));
    return s;
}

static ent_entity *new_note(const ent_schema *s)
{
    ent_entity *e = NULL;
    ENT_OK_(ent_entity_new(&e, ent_schema_type(s, "note")));
    return e;
}

static void expect_str(const ent_entity *e, const char *path, const char *want, size_t len)
{
    const char *got = NULL;
    size_t n = 0;
    ENT_OK_(ent_entity_get_string(&got, &n, e, path));
    CU_ASSERT_EQUAL(n, len);
    CU_ASSERT(got && memcmp(got, want, len) == 0 && got[len] == '\0');
}

/* A store in a fresh directory on `backend`; dir: ENT_TEST_PATH_MAX bytes, written. */
static ent_store *open_store(const ent_schema *sc, const char *backend, char *dir)
{
    ent_store *st = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    CU_ASSERT_FATAL(ent_test_mkdtemp(dir, ENT_TEST_PATH_MAX, "entity-arena") == 0);
    o.backend = backend;
    o.durability = ENT_NONE;
    ENT_OK_(ent_store_open(&st, dir, sc, &o));
    return st;
}

static void close_store(ent_store *st, const char *dir)
{
    ent_store_close(st);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* The entity stored under e's key reads back equal to e, field by field. */
static void expect_stored_equal(ent_store *st, const ent_entity *e)
{
    ent_entity *got = NULL;
    ent_key k = ent_entity_key(e);
    ENT_OK_(ent_get(&got, st, NULL, ent_entity_type(e), &k));
    for (size_t i = 0; i < e->type->n_fields; i++) CU_ASSERT(ent__val_equal(&got->slots[i], &e->slots[i]));
    ent_entity_free(got);
}

/* ---- the arena ------------------------------------------------------------------------------- */

/* A field set over and over: each value is right, and the arena stops at its bound (setters then
 * allocate each value, and a replaced one is freed), so memory does not grow with the sets. */
static void test_same_path_many_times(void)
{
    ent_schema *s = schema();
    ent_entity *e = new_note(s);
    const ent_field *title = ent_type_field(ent_schema_type(s, "note"), "title");
    char buf[64];
    size_t n = 0;
    for (int i = 0; i < 100000; i++) {
        int len = snprintf(buf, sizeof buf, "value number %d", i);
        ENT_OK_(ent_entity_set_string(e, "tags[0]", buf));
        ENT_OK_(ent_entity_set_string(e, "attrs.k", buf));
        ENT_OK_(ent_entity_set_string(e, "dims.w", buf));
        ENT_OK_(ent_entity_field_set_string(e, title, buf, (size_t)len));
        ENT_OK_(ent_entity_set_int(e, "attrs.count", i));
        if (i % 9973 == 0 || i == 99999) {
            expect_str(e, "tags[0]", buf, (size_t)len);
            expect_str(e, "attrs.k", buf, (size_t)len);
            expect_str(e, "dims.w", buf, (size_t)len);
            expect_str(e, "title", buf, (size_t)len);
        }
    }
    CU_ASSERT(e->arena_taken <= ENT__ARENA_CAP);
    ENT_OK_(ent_entity_array_len(&n, e, "tags"));
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(e->slots[2].u.o.n, 2); /* attrs: k and count, once each */
    ent_entity_free(e);
    ent_schema_free(s);
}

/* Strings and keys around and far past the arena's item limit, by path, handle and free-form key. */
static void test_long_strings(void)
{
    static const size_t lens[] = {0, 7, 8, 31, 32, 33, ENT__ARENA_ITEM_MAX - 1, ENT__ARENA_ITEM_MAX,
                                  ENT__ARENA_ITEM_MAX + 1, 5000, 300000};
    ent_schema *s = schema();
    const ent_field *title = ent_type_field(ent_schema_type(s, "note"), "title");
    char dir[ENT_TEST_PATH_MAX];
    ent_store *st = open_store(s, "memory", dir);
    char *big = malloc(300001), *path = malloc(5100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    for (size_t i = 0; i < 300000; i++) big[i] = (char)('a' + i % 26);
    big[300000] = '\0';
    for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
        ent_entity *e = new_note(s);
        size_t n = lens[j], kl = n < 5000 ? n : 5000;
        ENT_OK_(ent_entity_field_set_string(e, title, big, n));
        ENT_OK_(ent_entity_set_stringn(e, "tags[0]", big, n));
        ENT_OK_(ent_entity_set_stringn(e, "tags[1]", big + 1, n));
        ENT_OK_(ent_entity_set_bytes(e, "by", big, n));
        ENT_OK_(ent_entity_set_stringn(e, "dims.w", big, n));
        /* a short key first: the long one then joins a map whose pairs are in the arena */
        ENT_OK_(ent_entity_set_string(e, "attrs.short", "s"));
        if (kl) { /* a free-form key of that length (an empty key is no path step) */
            memcpy(path, "attrs.", 6);
            memcpy(path + 6, big, kl);
            path[6 + kl] = '\0';
            ENT_OK_(ent_entity_set_stringn(e, path, big, n));
            expect_str(e, path, big, n);
        }
        expect_str(e, "attrs.short", "s", 1);
        expect_str(e, "title", big, n);
        expect_str(e, "tags[0]", big, n);
        expect_str(e, "tags[1]", big + 1, n);
        expect_str(e, "dims.w", big, n);
        ENT_OK_(ent_create(st, NULL, e));
        expect_stored_equal(st, e);
        ent_entity_free(e);
    }
    free(big);
    free(path);
    close_store(st, dir);
    ent_schema_free(s);
}

/* An array appended to far past its first vector and the arena (then owned by the array), items
 * inserted in front and removed; a free-form map with thousands of keys. Round trip through a store. */
static void test_grown_containers(void)
{
    ent_schema *s = schema();
    char dir[ENT_TEST_PATH_MAX], path[64], val[64];
    ent_store *st = open_store(s, "lmdb", dir);
    ent_entity *e = new_note(s);
    size_t n = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(path, sizeof path, "tags[%d]", i);
        snprintf(val, sizeof val, "tag-%d", i);
        ENT_OK_(ent_entity_set_string(e, path, val));
        snprintf(path, sizeof path, "attrs.key-%d", i);
        ENT_OK_(ent_entity_set_string(e, path, val));
        snprintf(path, sizeof path, "nums[%d]", i);
        ENT_OK_(ent_entity_set_int(e, path, -i));
    }
    ENT_CHECK_RC(ent_entity_set_string(e, "tags[5001]", "gap"), ENT_NOTFOUND); /* no gaps */
    ENT_OK_(ent_entity_array_insert(e, "tags", 0));
    ENT_OK_(ent_entity_set_string(e, "tags[0]", "first"));
    ENT_OK_(ent_entity_array_remove(e, "tags", 100));
    ENT_OK_(ent_entity_array_len(&n, e, "tags"));
    CU_ASSERT_EQUAL(n, 5000);
    expect_str(e, "tags[0]", "first", 5);
    expect_str(e, "tags[1]", "tag-0", 5);
    expect_str(e, "tags[100]", "tag-100", 7); /* tag-99 was removed */
    expect_str(e, "tags[4999]", "tag-4999", 8);
    for (int i = 0; i < 5000; i += 499) {
        int64_t v = 1;
        snprintf(path, sizeof path, "attrs.key-%d", i);
        snprintf(val, sizeof val, "tag-%d", i);
        expect_str(e, path, val, strlen(val));
        snprintf(path, sizeof path, "nums[%d]", i);
        ENT_OK_(ent_entity_get_int(&v, e, path));
        CU_ASSERT_EQUAL(v, -i);
    }
    ENT_OK_(ent_create(st, NULL, e));
    expect_stored_equal(st, e);
    ent_entity_free(e);
    close_store(st, dir);
    ent_schema_free(s);
}

/* A decoded entity (its values in its block, its room's rest the arena) set again by every kind
 * of setter: appends past the decoded arrays, new keys, replaced values; updated and read back. */
static void test_decoded_then_set(void)
{
    ent_schema *s = schema();
    char dir[ENT_TEST_PATH_MAX], path[64];
    ent_store *st = open_store(s, "lmdb", dir);
    ent_entity *e = new_note(s), *got = NULL;
    ent_key k;
    ENT_OK_(ent_entity_set_string(e, "tags[0]", "a"));
    ENT_OK_(ent_entity_set_string(e, "tags[1]", "b"));
    ENT_OK_(ent_entity_set_string(e, "attrs.x", "1"));
    ENT_OK_(ent_entity_set_string(e, "dims.w", "wide"));
    ENT_OK_(ent_create(st, NULL, e));
    k = ent_entity_key(e);
    ENT_OK_(ent_get(&got, st, NULL, ent_entity_type(e), &k));
    for (int i = 2; i < 200; i++) {
        snprintf(path, sizeof path, "tags[%d]", i);
        ENT_OK_(ent_entity_set_string(got, path, path));
        ENT_OK_(ent_entity_set_string(e, path, path));
        snprintf(path, sizeof path, "attrs.y%d", i);
        ENT_OK_(ent_entity_set_string(got, path, path));
        ENT_OK_(ent_entity_set_string(e, path, path));
    }
    ENT_OK_(ent_entity_set_string(got, "tags[0]", "A"));
    ENT_OK_(ent_entity_set_string(e, "tags[0]", "A"));
    ENT_OK_(ent_entity_set_string(got, "attrs.x", "2"));
    ENT_OK_(ent_entity_set_string(e, "attrs.x", "2"));
    ENT_OK_(ent_entity_set_int(got, "dims.h", 3));
    ENT_OK_(ent_entity_set_int(e, "dims.h", 3));
    ENT_OK_(ent_update(st, NULL, got, ENT_VERSION_ANY));
    expect_str(got, "tags[0]", "A", 1);
    expect_str(got, "tags[199]", "tags[199]", 9);
    expect_stored_equal(st, e);
    ent_entity_free(got);
    ent_entity_free(e);
    close_store(st, dir);
    ent_schema_free(s);
}

/* Containers set whole (owned by the value, in_block 0) and then grown by path, and arena
 * containers replaced whole; a dup outlives its original. */
static void test_owned_and_arena_mixed(void)
{
    ent_schema *s = schema();
    ent_entity *e = new_note(s), *d = NULL;
    size_t n = 0;
    ENT_OK_(ent_entity_set_json(e, "attrs", "{\"a\":1,\"b\":\"x\"}"));
    ENT_OK_(ent_entity_set_string(e, "attrs.c", "y"));
    ENT_OK_(ent_entity_set_string(e, "attrs.a", "z"));
    expect_str(e, "attrs.a", "z", 1);
    expect_str(e, "attrs.c", "y", 1);
    ENT_OK_(ent_entity_set_json(e, "tags", "[\"p\",\"q\"]"));
    ENT_OK_(ent_entity_set_string(e, "tags[2]", "r"));
    ENT_OK_(ent_entity_array_len(&n, e, "tags"));
    CU_ASSERT_EQUAL(n, 3);
    ENT_OK_(ent_entity_set_string(e, "tags[0]", "P"));
    expect_str(e, "tags[0]", "P", 1);
    ENT_OK_(ent_entity_unset(e, "tags"));
    ENT_OK_(ent_entity_set_string(e, "tags[0]", "again"));
    expect_str(e, "tags[0]", "again", 5);
    ENT_OK_(ent_entity_set_json(e, "dims", "{\"w\":\"v\",\"h\":1}"));
    ENT_OK_(ent_entity_set_string(e, "dims.w", "w2"));
    ENT_OK_(ent_entity_dup(&d, e));
    ent_entity_free(e);
    expect_str(d, "attrs.c", "y", 1);
    expect_str(d, "tags[0]", "again", 5);
    expect_str(d, "dims.w", "w2", 2);
    ent_entity_free(d);
    ent_schema_free(s);
}

/* ---- create: one walk that validates and packs --------------------------------------------- */

typedef struct borrowed {
    const char *path;
    const char *p;
    char want[32];
} borrowed;

static const char *const PATHS[] = {"title", "tags[0]", "tags[1]", "attrs.who", "dims.w", "code"};
enum { NP = sizeof PATHS / sizeof PATHS[0] };

static void borrow(borrowed *b, const ent_entity *e)
{
    for (int i = 0; i < NP; i++) {
        size_t n = 0;
        b[i].path = PATHS[i];
        ENT_OK_(ent_entity_get_string(&b[i].p, &n, e, PATHS[i]));
        CU_ASSERT_FATAL(n < sizeof b[i].want);
        memcpy(b[i].want, b[i].p, n + 1);
    }
}

static void check(const borrowed *b, const ent_entity *e)
{
    for (int i = 0; i < NP; i++) {
        const char *now = NULL;
        CU_ASSERT_STRING_EQUAL(b[i].p, b[i].want); /* the read ASan watches */
        ENT_OK_(ent_entity_get_string(&now, NULL, e, PATHS[i]));
        CU_ASSERT_PTR_EQUAL(now, b[i].p);
    }
}

static ent_entity *filled(const ent_schema *s, const char *code)
{
    ent_entity *e = new_note(s);
    ENT_OK_(ent_entity_set_string(e, "title", "a title"));
    ENT_OK_(ent_entity_set_string(e, "tags[0]", "red"));
    ENT_OK_(ent_entity_set_string(e, "tags[1]", "green"));
    ENT_OK_(ent_entity_set_string(e, "attrs.who", "kim"));
    ENT_OK_(ent_entity_set_string(e, "dims.w", "wide"));
    ENT_OK_(ent_entity_set_string(e, "code", code));
    ENT_OK_(ent_entity_set_int(e, "n", 1));
    return e;
}

/* A refused create (a value the validator refuses, late in the record or inside a container; a
 * taken unique value) leaves the entity as it came: values, borrowed pointers, no key, changed
 * flags. Its message is the validator's. Then the same entity is created. */
static void test_refused_create_keeps_entity(void)
{
    static const char *const backends[] = {"memory", "lmdb"};
    for (size_t bi = 0; bi < 2; bi++) {
        ent_schema *s = schema();
        char dir[ENT_TEST_PATH_MAX], want[256];
        ent_store *st = open_store(s, backends[bi], dir);
        ent_entity *first = filled(s, "c1"), *e = filled(s, "c1");
        borrowed b[NP];
        ENT_OK_(ent_create(st, NULL, first));
        borrow(b, e);
        /* taken unique value */
        ENT_CHECK_RC(ent_create(st, NULL, e), ENT_CONFLICT);
        check(b, e);
        CU_ASSERT_EQUAL(ent_entity_key(e).kind, ENT_KEY_NONE);
        CU_ASSERT_EQUAL(ent_entity_version(e), 0);
        CU_ASSERT(ent_entity_changed_count(e) > 0);
        /* the last checked field out of its min */
        ENT_OK_(ent_entity_set_string(e, "code", "c2"));
        borrow(b, e);
        ENT_OK_(ent_entity_set_int(e, "n", -1));
        CU_ASSERT_EQUAL(ent_entity_validate(e), ENT_INVALID);
        snprintf(want, sizeof want, "%s", ent_errmsg());
        ENT_CHECK_RC(ent_create(st, NULL, e), ENT_INVALID);
        CU_ASSERT_STRING_EQUAL(ent_errmsg(), want);
        ENT_ASSERT_MSG("note.n");
        check(b, e);
        ENT_OK_(ent_entity_set_int(e, "n", 2));
        /* invalid UTF-8 in an array item, in a free-form value and in a free-form key */
        ENT_OK_(ent_entity_set_string(e, "tags[2]", "bad \xff"));
        ENT_CHECK_RC(ent_create(st, NULL, e), ENT_INVALID);
        ENT_ASSERT_MSG("note.tags[2]");
        check(b, e);
        ENT_OK_(ent_entity_array_remove(e, "tags", 2));
        ENT_OK_(ent_entity_set_string(e, "attrs.other", "\xc0\x80"));
        ENT_CHECK_RC(ent_create(st, NULL, e), ENT_INVALID);
        ENT_ASSERT_MSG("note.attrs.other");
        check(b, e);
        ENT_OK_(ent_entity_unset(e, "attrs")); /* (unsetting attrs.other would leave its key) */
        ENT_OK_(ent_entity_set_string(e, "attrs.who", "kim"));
        borrow(b, e);
        ENT_OK_(ent_entity_set_string(e, "attrs.k\xff", "v"));
        ENT_CHECK_RC(ent_create(st, NULL, e), ENT_INVALID);
        ENT_ASSERT_MSG("note.attrs");
        check(b, e);
        ENT_OK_(ent_entity_unset(e, "attrs"));
        ENT_OK_(ent_entity_set_string(e, "attrs.who", "kim"));
        borrow(b, e);
        /* an unset array item (inserted, never set) */
        ENT_OK_(ent_entity_array_insert(e, "nums", 0));
        ENT_CHECK_RC(ent_create(st, NULL, e), ENT_INVALID);
        ENT_ASSERT_MSG("note.nums[0]");
        check(b, e);
        ENT_OK_(ent_entity_set_int(e, "nums[0]", 5));
        /* now it goes in */
        ENT_OK_(ent_create(st, NULL, e));
        check(b, e);
        CU_ASSERT_EQUAL(ent_entity_key(e).kind, ENT_KEY_AUTO);
        CU_ASSERT_EQUAL(ent_entity_version(e), 1);
        expect_stored_equal(st, e);
        ent_entity_free(first);
        ent_entity_free(e);
        close_store(st, dir);
        ent_schema_free(s);
    }
}

/* The record create packs (validating as it goes, without a room check per item) is the record
 * ent__record_encode() packs with msgpack-c's writers, byte for byte, at every size boundary of
 * msgpack's integer, string, bytes, array and map forms. */
static void test_packed_record_matches(void)
{
    static const int64_t ints[] = {0, 1, 31, 127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL,
                                   INT64_MAX, -1, -31, -32, -33, -127, -128, -129, -32768, -32769,
                                   -2147483648LL, -2147483649LL, INT64_MIN};
    static const uint64_t uints[] = {0, 127, 128, 255, 256, 65535, 65536, 4294967295ULL, 4294967296ULL, UINT64_MAX};
    static const size_t lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
    ent_schema *s = schema();
    char *big = malloc(65537), path[32];
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 'x', 65536);
    big[65536] = '\0';
    for (size_t j = 0; j < 24; j++) {
        ent_entity *e = new_note(s);
        ent_buf a = {NULL, 0, 0}, b = {NULL, 0, 0};
        size_t fa = 0, fb = 0, sl = lens[j % 8], items = j < 8 ? lens[j] : j;
        ENT_OK_(ent_entity_set_int(e, "i", ints[j]));
        ENT_OK_(ent_entity_set_int(e, "n", ints[j] < 0 ? -(ints[j] + 1) : ints[j]));
        ENT_OK_(ent_entity_set_uint(e, "u", uints[j % 10]));
        ENT_OK_(ent_entity_set_float(e, "f", (double)ints[j] / 3.0));
        ENT_OK_(ent_entity_set_timestamp(e, "ts", ints[(j + 5) % 24]));
        ENT_OK_(ent_entity_set_bool(e, "b", (int)(j & 1)));
        ENT_OK_(ent_entity_set_stringn(e, "title", big, sl));
        ENT_OK_(ent_entity_set_bytes(e, "by", big, lens[(j + 3) % 8]));
        ENT_OK_(ent_entity_set_stringn(e, "dims.w", big, sl));
        ENT_OK_(ent_entity_set_int(e, "dims.h", ints[(j + 7) % 24]));
        for (size_t i = 0; i < items && i < 70000; i++) {
            snprintf(path, sizeof path, "nums[%zu]", i);
            ENT_OK_(ent_entity_set_int(e, path, ints[i % 24]));
            if (i < 300) {
                snprintf(path, sizeof path, "tags[%zu]", i);
                ENT_OK_(ent_entity_set_stringn(e, path, big, i));
                snprintf(path, sizeof path, "attrs.k%zu", i);
                if (i % 3 == 0) ENT_OK_(ent_entity_set_int(e, path, ints[i % 24]));
                else if (i % 3 == 1) ENT_OK_(ent_entity_set_json(e, path, "null"));
                else ENT_OK_(ent_entity_set_stringn(e, path, big, i));
            }
        }
        ENT_OK_(ent__record_encode(&a, e, &fa));
        ENT_OK_(ent__record_encode_valid(&b, e, 0, &fb));
        CU_ASSERT_EQUAL(a.n, b.n);
        CU_ASSERT_EQUAL(fa, fb);
        CU_ASSERT(a.n == b.n && memcmp(a.p, b.p, a.n) == 0);
        ent__buf_free(&a);
        ent__buf_free(&b);
        ent_entity_free(e);
    }
    free(big);
    ent_schema_free(s);
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(test_same_path_many_times),   ENT_TEST(test_long_strings),
        ENT_TEST(test_grown_containers),       ENT_TEST(test_decoded_then_set),
        ENT_TEST(test_owned_and_arena_mixed),  ENT_TEST(test_refused_create_keeps_entity),
        ENT_TEST(test_packed_record_matches),  {NULL, NULL}};
    return ent_test_run("entity_arena", cases);
}
