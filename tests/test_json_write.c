/* The JSON writer (json_write.c): reals as the shortest text that reads back exactly, everything
 * else laid out byte for byte as jansson's json_dumps() lays it out. */
#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>

#include "json_write.h"
#include "test_entity_schemas.h"
#include "test_rand.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void)
{
    return test_rand_next(&rng);
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Significant digits of a decimal text ("0.0012" -> 2, "1.5e20" -> 2, "100.0" -> 1). */
static int sig_digits(const char *t)
{
    int n = 0, started = 0, trailing = 0;
    for (const char *p = t; *p && *p != 'e'; p++) {
        if (*p < '0' || *p > '9') continue;
        if (*p == '0' && !started) continue;
        started = 1;
        n++;
        trailing = *p == '0' ? trailing + 1 : 0;
    }
    n -= trailing; /* "100.0": the zeros are placeholders, not digits of the value */
    return n ? n : 1;
}

/* text reads back to exactly d, and no text with one significant digit fewer does. */
static void check_shortest(const char *text, double d)
{
    double back = strtod(text, NULL);
    int p = sig_digits(text);
    int exact = memcmp(&back, &d, sizeof d) == 0;
    if (!exact) fprintf(stderr, "\n  %s reads back as %.17g, not %.17g\n", text, back, d);
    CU_ASSERT(exact);
    CU_ASSERT(strchr(text, '.') || strchr(text, 'e')); /* still a real when read back */
    if (p > 1) {
        char shorter[40];
        snprintf(shorter, sizeof shorter, "%.*e", p - 2, d);
        back = strtod(shorter, NULL);
        if (memcmp(&back, &d, sizeof d) == 0) fprintf(stderr, "\n  %s is not the shortest: %s\n", text, shorter);
        CU_ASSERT(memcmp(&back, &d, sizeof d) != 0);
    }
}

static void test_reals_known(void)
{
    static const struct {
        double d;
        const char *text;
    } cases[] = {
        {0.99, "0.99"}, {0.1 + 0.2, "0.30000000000000004"}, {1.0, "1.0"}, {-0.0, "-0.0"}, {0.0, "0.0"},
        {100.0, "100.0"}, {7.5, "7.5"}, {0.0001, "0.0001"}, {1e-5, "1e-5"}, {1e15, "1000000000000000.0"},
        {1e16, "1e16"}, {1e20, "1e20"}, {123456789012345680.0, "1.2345678901234568e17"},
        {DBL_MAX, "1.7976931348623157e308"}, {-DBL_MAX, "-1.7976931348623157e308"},
        {DBL_MIN, "2.2250738585072014e-308"}, {4.9406564584124654e-324, "5e-324"},
        {2.2250738585072009e-308, "2.225073858507201e-308"}, /* the largest subnormal */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[40];
        size_t n = ent__json_real(buf, cases[i].d);
        CU_ASSERT_EQUAL(n, strlen(buf));
        if (strcmp(buf, cases[i].text) != 0) fprintf(stderr, "\n  %.17g -> %s, want %s\n", cases[i].d, buf, cases[i].text);
        CU_ASSERT_STRING_EQUAL(buf, cases[i].text);
        check_shortest(buf, cases[i].d);
    }
}

/* Random bit patterns (every exponent, subnormals included) and random short decimals, through
 * ent__json_real() and through entity JSON, both ways. */
static void test_reals_random(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    ent_entity *e = test_new(s, "thing");
    for (int i = 0; i < 20000; i++) {
        double d;
        char buf[40], *json = NULL;
        if (i % 3 == 0) d = (double)(int64_t)(next_rand() % 2000000 - 1000000) / 100.0; /* prices */
        else if (i % 3 == 1) d = bits_double(next_rand() & 0x800fffffffffffffu);         /* subnormals */
        else d = bits_double(next_rand());
        if (!isfinite(d)) continue;
        ent__json_real(buf, d);
        check_shortest(buf, d);
        /* entity JSON: the same text, and it reads back to the same double */
        ENT_OK_(ent_entity_set_float(e, "fl", d));
        ENT_OK_(ent_entity_to_json(&json, e, 0));
        {
            char want[64];
            ent_entity *back = NULL;
            double got = 0;
            snprintf(want, sizeof want, "{\"fl\":%s}", buf);
            CU_ASSERT_STRING_EQUAL(json, want);
            ENT_OK_(ent_entity_from_json(&back, ent_schema_type(s, "thing"), json, strlen(json)));
            ENT_OK_(ent_entity_get_float(&got, back, "fl"));
            CU_ASSERT(memcmp(&got, &d, sizeof d) == 0);
            ent_entity_free(back);
        }
        free(json);
    }
    ent_entity_free(e);
    ent_schema_free(s);
}

/* Reals inside free-form maps and arrays, and the pretty layout. */
static void test_reals_nested(void)
{
    ent_schema *s = test_schema(KITCHEN_JSON);
    ent_entity *e = test_new(s, "thing");
    char *json = NULL;
    ENT_OK_(ent_entity_set_json(e, "any", "{\"a\":0.99,\"b\":[0.1,1e300,-0.0],\"c\":{\"d\":5e-324}}"));
    ENT_OK_(ent_entity_to_json(&json, e, 0));
    CU_ASSERT_STRING_EQUAL(json, "{\"any\":{\"a\":0.99,\"b\":[0.1,1e300,-0.0],\"c\":{\"d\":5e-324}}}");
    free(json);
    ENT_OK_(ent_entity_get_json(&json, e, "any.b"));
    CU_ASSERT_STRING_EQUAL(json, "[0.1,1e300,-0.0]");
    free(json);
    ENT_OK_(ent_entity_to_json(&json, e, ENT_JSON_PRETTY));
    CU_ASSERT_STRING_EQUAL(json, "{\n  \"any\": {\n    \"a\": 0.99,\n    \"b\": [\n      0.1,\n      1e300,\n"
                                 "      -0.0\n    ],\n    \"c\": {\n      \"d\": 5e-324\n    }\n  }\n}");
    free(json);
    ent_entity_free(e);
    ent_schema_free(s);
}

/* ---- layout: the same bytes as json_dumps() ------------------------------------------------------ */

static json_t *random_tree(int depth)
{
    static const char *const strs[] = {"", "a", "quote\"back\\slash", "ctl\x01\x1f\b\f\n\r\t", "caf\xc3\xa9 \xe2\x82\xac",
                                       "slash/ok", "\xf0\x9f\x98\x80 emoji", "del\x7f"};
    unsigned r = (unsigned)(next_rand() % (depth > 3 ? 6 : 8));
    switch (r) {
    case 0: return json_null();
    case 1: return json_boolean(next_rand() & 1);
    case 2: {
        static const json_int_t ints[] = {0, -1, 1, INT64_MAX, INT64_MIN, 1234567890123};
        return json_integer(ints[next_rand() % 6]);
    }
    case 3: return json_string(strs[next_rand() % (sizeof strs / sizeof strs[0])]);
    case 4: return json_stringn("nul\0inside", 10);
    case 5: return json_integer((json_int_t)(next_rand() % 1000) - 500);
    case 6: {
        json_t *a = json_array();
        unsigned n = (unsigned)(next_rand() % 4);
        for (unsigned i = 0; i < n; i++) json_array_append_new(a, random_tree(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        unsigned n = (unsigned)(next_rand() % 4);
        for (unsigned i = 0; i < n; i++) {
            char k[32];
            snprintf(k, sizeof k, i % 2 ? "k\"%u\n" : "key%u", (unsigned)(next_rand() % 100));
            json_object_set_new(o, k, random_tree(depth + 1));
        }
        if (next_rand() % 4 == 0) json_object_setn_new(o, "n\0k", 3, json_true());
        return o;
    }
    }
}

/* ent__json_real() before its short cuts: one "%.*e" and strtod() per precision from 1 up, the
 * first that reads back, laid out with "%.*f" (plain) or jansson's exponent style. */
static void real_by_loop(char *buf, double d)
{
    char sci[40], *e;
    int prec, x;
    for (prec = 1; prec <= 17; prec++) {
        double back;
        snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
        back = strtod(sci, NULL);
        if (memcmp(&back, &d, sizeof d) == 0) break;
    }
    if (prec > 17) prec = 17;
    e = strchr(sci, 'e');
    x = e ? atoi(e + 1) : 0;
    if (x >= -4 && x < 16) {
        int decimals = prec - 1 - x;
        snprintf(buf, 32, "%.*f", decimals > 0 ? decimals : 0, d);
    } else {
        char *m = sci, *o = buf;
        while (*m && *m != 'e') *o++ = *m++;
        *o++ = 'e';
        if (x < 0) *o++ = '-';
        snprintf(o, 16, "%d", x < 0 ? -x : x);
    }
    if (!strchr(buf, '.') && !strchr(buf, 'e')) strcat(buf, ".0");
}

/* The short cuts (m / 10^k, the stripped 15-digit text) give the loop's text, byte for byte, on
 * every kind of double: random bits, subnormals, decimals of 0 to 12 places and of 1 to 17
 * digits, whole numbers around 2^53 and 10^15..10^16, and the neighbours of each. */
static void test_reals_match_loop(void)
{
    long mismatches = 0;
    for (long i = 0; i < 300000; i++) {
        double d, p10 = 1;
        char fast[40], slow[64];
        uint64_t r = next_rand();
        int places = (int)(r % 13);
        for (int k = 0; k < places; k++) p10 *= 10;
        switch (i % 8) {
        case 0: d = bits_double(r); break;
        case 1: d = bits_double(r & 0x800fffffffffffffu); break; /* subnormals */
        case 2: d = (double)(int64_t)(next_rand() % 2000000 - 1000000) / 100.0; break;
        case 3: d = (double)(int64_t)(next_rand() % 100000000000000000u) / p10; break;
        case 4: d = (double)(int64_t)(next_rand() % 1000000) / p10; break;
        case 5: d = (double)(next_rand() % 20000000000000000u); break; /* ~1e15..2e16, 2^53 */
        case 6: d = nextafter((double)(int64_t)(next_rand() % 2000000) / p10, (r & 1) ? 1e300 : -1e300); break;
        default: d = ldexp((double)(next_rand() >> 11), (int)(r % 200) - 100); break;
        }
        if (!isfinite(d)) continue;
        ent__json_real(fast, d);
        real_by_loop(slow, d);
        if (strcmp(fast, slow) != 0 && mismatches++ < 10) fprintf(stderr, "\n  %.17g: %s, the loop: %s\n", d, fast, slow);
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

static void test_layout_matches_jansson(void)
{
    static const size_t flags[] = {JSON_COMPACT, JSON_INDENT(2), JSON_INDENT(4) | JSON_COMPACT, 0};
    for (int i = 0; i < 3000; i++) {
        json_t *t = random_tree(0);
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
            char *mine = ent__json_dumps(t, flags[f]);
            char *theirs = json_dumps(t, flags[f] | JSON_ENCODE_ANY);
            CU_ASSERT_PTR_NOT_NULL_FATAL(mine);
            CU_ASSERT_PTR_NOT_NULL_FATAL(theirs);
            if (strcmp(mine, theirs) != 0) fprintf(stderr, "\n  mine:   %s\n  jansson: %s\n", mine, theirs);
            CU_ASSERT_STRING_EQUAL(mine, theirs);
            free(mine);
            free(theirs);
        }
        json_decref(t);
    }
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(test_reals_known), ENT_TEST(test_reals_random), ENT_TEST(test_reals_nested), ENT_TEST(test_reals_match_loop),
        ENT_TEST(test_layout_matches_jansson), {NULL, NULL}};
    return ent_test_run("json_write", cases);
}
