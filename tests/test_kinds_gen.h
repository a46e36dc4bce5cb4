/* Random free-form values of every kind the C API can put in a free-form map (nil, bool, negative
 * int, uint up to 2^64-1, floats with -0.0, NaN, infinities, subnormals, strings that look like
 * numbers or base64, bytes, timestamps, nested arrays and maps, keys with '/' and '~'), for the
 * tests that carry them through JSON and back (test_kinds, http's test_http_kinds). Include it
 * after test_util.h; one sequence per test program, from a fixed seed. */
#ifndef ENT_TEST_KINDS_GEN_H
#define ENT_TEST_KINDS_GEN_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "test_rand.h"

static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static unsigned rnd(unsigned n) { return (unsigned)(test_rand_next(&rs) % n); }

static double rand_float(void)
{
    static const double pool[] = {1.0, -0.0, 0.0, 0.5, -2.0, 1e300, 5e-324, -1.7976931348623157e308, 0.1};
    uint64_t bits;
    double d;
    switch (rnd(6)) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3:
        do { /* any finite double */
            bits = test_rand_next(&rs);
            memcpy(&d, &bits, sizeof d);
        } while (!isfinite(d));
        return d;
    default: return pool[rnd(sizeof pool / sizeof pool[0])];
    }
}

static uint64_t rand_uint(void)
{
    static const uint64_t pool[] = {0, 1, INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX, 1ULL << 53};
    return rnd(2) ? pool[rnd(6)] : test_rand_next(&rs);
}

/* A random free-form value at path (in a free-form map or array item), nested up to depth. */
static void gen(ent_entity *e, const char *path, int depth)
{
    static const char *strs[] = {"", "NaN", "Infinity", "AP8=", "18446744073709551615", "1", "x y", "\xc3\xa9t\xc3\xa9", "-Infinity"};
    static const char *keys[] = {"a", "b", "k/1", "t~0", "~", "x~1/y", "\xc3\xa9", "10", "NaN"};
    char sub[256], bytes[9];
    unsigned n;
    switch (rnd(depth > 0 ? 12 : 10)) {
    case 0: ENT_OK_(ent_entity_set_json(e, path, "null")); break;
    case 1: ENT_OK_(ent_entity_set_bool(e, path, (int)rnd(2))); break;
    case 2: ENT_OK_(ent_entity_set_int(e, path, (int64_t)test_rand_next(&rs))); break;
    case 3: ENT_OK_(ent_entity_set_uint(e, path, rand_uint())); break;
    case 4:
    case 5: ENT_OK_(ent_entity_set_float(e, path, rand_float())); break;
    case 6: ENT_OK_(ent_entity_set_string(e, path, strs[rnd(sizeof strs / sizeof strs[0])])); break;
    case 7:
    case 8:
        n = rnd(9);
        for (unsigned i = 0; i < n; i++) bytes[i] = (char)rnd(256);
        ENT_OK_(ent_entity_set_bytes(e, path, bytes, n));
        break;
    case 9: ENT_OK_(ent_entity_set_timestamp(e, path, (int64_t)test_rand_next(&rs))); break;
    case 10:
        n = rnd(4);
        ENT_OK_(ent_entity_set_json(e, path, n == 0 ? "[]" : n == 1 ? "[null]" : n == 2 ? "[null,null]" : "[null,null,null]"));
        for (unsigned i = 0; i < n; i++) {
            ENT_TEST_PATH(sub, "%s[%u]", path, i);
            gen(e, sub, depth - 1);
        }
        break;
    default:
        ENT_OK_(ent_entity_set_json(e, path, "{}"));
        n = rnd(4);
        for (unsigned i = 0; i < n; i++) {
            ENT_TEST_PATH(sub, "%s.%s", path, keys[rnd(sizeof keys / sizeof keys[0])]);
            gen(e, sub, depth - 1);
        }
        break;
    }
}

/* A free-form map at path with a few random members. */
static void gen_map(ent_entity *e, const char *path)
{
    char sub[256];
    unsigned n = 1 + rnd(5);
    ENT_OK_(ent_entity_set_json(e, path, "{}"));
    for (unsigned i = 0; i < n; i++) {
        ENT_TEST_PATH(sub, "%s.k%u", path, rnd(8));
        gen(e, sub, 3);
    }
}

/* An entity of the schemas' "doc" type (m: free-form map, am: array of maps, dm: declared map
 * with a free-form map ff and bytes b, fb bytes, fu uint, ff float; ts a timestamp when with_ts):
 * free-form values of every kind in maps, arrays of them and declared maps, declared fields of
 * the kinds in question beside them. */
static void gen_doc(ent_entity *e, int with_ts)
{
    char b[5] = {0, 1, 2, (char)0xff, 0};
    gen_map(e, "m");
    if (rnd(2)) {
        ENT_OK_(ent_entity_set_json(e, "am", "[{},{}]"));
        gen_map(e, "am[0]");
        gen_map(e, "am[1]");
    }
    if (rnd(2)) {
        gen_map(e, "dm.ff");
        ENT_OK_(ent_entity_set_bytes(e, "dm.b", b, rnd(5)));
    }
    /* declared fields of the kinds in question: the schema says theirs */
    if (rnd(2)) ENT_OK_(ent_entity_set_bytes(e, "fb", b, rnd(5)));
    if (rnd(2)) ENT_OK_(ent_entity_set_uint(e, "fu", rand_uint()));
    if (rnd(2)) ENT_OK_(ent_entity_set_float(e, "ff", rand_float()));
    if (with_ts && rnd(2)) ENT_OK_(ent_entity_set_timestamp(e, "ts", (int64_t)test_rand_next(&rs)));
}

#endif
