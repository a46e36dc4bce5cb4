/* ent_value_parse (values from a command line) and ent_event_to_json (the event shape). */
#include <locale.h>
#include <math.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

static const char schema_json[] =
    "{\"schema\":\"p\",\"version\":1,\"types\":{"
    "\"a\":{\"key\":\"auto\",\"fields\":{\"b\":{\"id\":1,\"type\":\"bool\"},\"i\":{\"id\":2,\"type\":\"int\"},"
    "\"u\":{\"id\":3,\"type\":\"uint\"},\"f\":{\"id\":4,\"type\":\"float\"},\"t\":{\"id\":5,\"type\":\"timestamp\"},"
    "\"s\":{\"id\":6,\"type\":\"string\"},\"y\":{\"id\":7,\"type\":\"bytes\"},\"m\":{\"id\":8,\"type\":\"map\"},"
    "\"r\":{\"id\":9,\"type\":\"ref\",\"to\":\"k\"}}},"
    "\"k\":{\"key\":\"string\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\"}}}}}";

static void t_parse(void)
{
    ent_schema *s = NULL;
    const ent_type *a;
    ent_value v;
    unsigned char buf[ENT_VALUE_PARSE_BUF_SIZE];
    ENT_OK_(ent_schema_load_json(&s, schema_json, strlen(schema_json), "p"));
    a = ent_schema_type(s, "a");
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "b"), "true"));
    CU_ASSERT(v.kind == ENT_KIND_BOOL && v.v.b == 1);
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "b"), "yes"), ENT_INVALID);
    ENT_ASSERT_MSG("a.b");
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "i"), "-9223372036854775808"));
    CU_ASSERT(v.kind == ENT_KIND_INT && v.v.i == INT64_MIN);
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "i"), "9223372036854775808"), ENT_INVALID);
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "i"), "12x"), ENT_INVALID);
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "u"), "18446744073709551615"));
    CU_ASSERT(v.kind == ENT_KIND_UINT && v.v.u == UINT64_MAX);
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "u"), "-1"), ENT_INVALID);
    /* only digits (and one '-' for signed kinds): strtoull() would make " -5" 2^64 - 5 */
    {
        static const char *bad[] = {" -5", "+5", " 5", "", "-", "--1", "5 "};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "u"), bad[i]), ENT_INVALID);
            ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "i"), bad[i]), ENT_INVALID);
        }
        ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "t"), " 5"), ENT_INVALID);
        ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), " 5"), ENT_INVALID);
        /* floats too are decimal, without '+': strtod() also takes these */
        ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "+5"), ENT_INVALID);
        ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "0x10"), ENT_INVALID);
        ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "-0x1.8p1"), ENT_INVALID);
    }
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "-2.5e3"));
    CU_ASSERT(v.kind == ENT_KIND_FLOAT && v.v.f == -2500.0);
    /* -0 as JSON writes negative zero (one value with 0 to an index), and -0 for an int is 0 */
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "-0"));
    CU_ASSERT(v.kind == ENT_KIND_FLOAT && v.v.f == 0 && signbit(v.v.f));
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "i"), "-0"));
    CU_ASSERT(v.kind == ENT_KIND_INT && v.v.i == 0);
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "nan"), ENT_INVALID);
    /* infinities as entity JSON writes them, not as strtod() also reads them (it took "inf",
     * "INF" and "infinity", where "nan" was refused and the README names digits and Infinity) */
    {
        static const char *bad[] = {"inf", "-inf", "INF", "infinity", "-INFINITY", "Inf"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), bad[i]), ENT_INVALID);
            ENT_ASSERT_MSG("Infinity and -Infinity");
        }
    }
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "Infinity"));
    CU_ASSERT(v.kind == ENT_KIND_FLOAT && isinf(v.v.f) && v.v.f > 0);
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "-Infinity"));
    CU_ASSERT(v.kind == ENT_KIND_FLOAT && isinf(v.v.f) && v.v.f < 0);
    /* NaN as entity JSON writes it: a stored NaN can be looked up from the tool and HTTP */
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "NaN"));
    CU_ASSERT(v.kind == ENT_KIND_FLOAT && isnan(v.v.f));
    /* subnormals as JSON writes them, and underflow to zero, as the JSON reader takes them; not
     * overflow */
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "5e-324"));
    CU_ASSERT(v.kind == ENT_KIND_FLOAT && v.v.f == 4.9406564584124654e-324);
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "-1e-400"));
    CU_ASSERT(v.kind == ENT_KIND_FLOAT && v.v.f == 0.0);
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "1e309"), ENT_INVALID);
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "f"), "-1e309"), ENT_INVALID);
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "t"), "1970-01-01T00:00:01.5Z"));
    CU_ASSERT(v.kind == ENT_KIND_TIMESTAMP && v.v.i == 1500000000);
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "t"), "42"));
    CU_ASSERT_EQUAL(v.v.i, 42);
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "t"), "tuesday"), ENT_INVALID);
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "s"), "héllo"));
    CU_ASSERT(v.kind == ENT_KIND_STRING && v.v.s.len == 6);
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "y"), "AAEC"));
    CU_ASSERT(v.kind == ENT_KIND_BYTES && v.v.s.len == 3 && ((const unsigned char *)v.v.s.ptr)[2] == 2);
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "y"), "A=B"), ENT_INVALID);
    /* the value quoted (a control byte escaped) and why it is no base64 (it said only "is not base64") */
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "y"), "AP8"), ENT_INVALID);
    ENT_ASSERT_MSG("a.y: \"AP8\" is not base64: its length 3 is not a multiple of 4 (padded with '=' to one)");
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "y"), "AP-_"), ENT_INVALID);
    ENT_ASSERT_MSG("a.y: \"AP-_\" is not base64: '-' at byte 3 is not of its alphabet (A-Z, a-z, 0-9, '+', '/'; base64url's");
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "y"), "AP8=\n"), ENT_INVALID);
    ENT_ASSERT_MSG("a.y: \"AP8=\\u000a\" is not base64: byte 5 (0x0a) is not of its alphabet");
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "y"), "AP8=AP8="), ENT_INVALID);
    ENT_ASSERT_MSG("\"AP8=AP8=\" is not base64: '=' at byte 4: padding goes only at its end");
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "y"), "AP9="), ENT_INVALID);
    ENT_ASSERT_MSG("\"AP9=\" is not base64: the bits after its last byte are not zero");
    {
        /* longer than any index value: the message says so, not only that a buffer is small */
        char b64[1001];
        memset(b64, 'A', 1000);
        b64[1000] = '\0';
        ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "y"), b64), ENT_INVALID);
        ENT_ASSERT_MSG("decodes to 750 bytes");
        ENT_ASSERT_MSG("an index value holds at most 510");
    }
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "m"), "x"), ENT_INVALID);
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(a, "r"), "key-1")); /* ref to a string-key type */
    CU_ASSERT(v.kind == ENT_KIND_STRING);
    ent_schema_free(s);
}

/* Two parsed bytes values alive at once (a range's bounds): each lives in its caller's buffer, so
 * the second parse leaves the first intact. A bytes value that does not fit its buffer, or no
 * buffer, is refused. */
static void t_parse_bytes_owned(void)
{
    ent_schema *s = NULL;
    const ent_field *y;
    ent_value v1, v2;
    unsigned char b1[ENT_VALUE_PARSE_BUF_SIZE], b2[ENT_VALUE_PARSE_BUF_SIZE], small[3];
    static const unsigned char want1[] = {0x00, 0x01, 0x02}, want2[] = {0xff, 0xfe, 0xfd, 0xfc};
    ENT_OK_(ent_schema_load_json(&s, schema_json, strlen(schema_json), "p"));
    y = ent_type_field(ent_schema_type(s, "a"), "y");
    ENT_OK_(ent_value_parse(&v1, b1, sizeof b1, y, "AAEC"));
    ENT_OK_(ent_value_parse(&v2, b2, sizeof b2, y, "//79/A=="));
    CU_ASSERT(v1.kind == ENT_KIND_BYTES && v1.v.s.len == 3 && v1.v.s.ptr == b1);
    CU_ASSERT(v2.kind == ENT_KIND_BYTES && v2.v.s.len == 4 && v2.v.s.ptr == b2);
    CU_ASSERT(v1.v.s.len == 3 && memcmp(v1.v.s.ptr, want1, 3) == 0);
    CU_ASSERT(v2.v.s.len == 4 && memcmp(v2.v.s.ptr, want2, 4) == 0);
    ENT_OK_(ent_value_parse(&v1, small, sizeof small, y, "AAEC")); /* exactly fits */
    CU_ASSERT(v1.v.s.len == 3 && memcmp(v1.v.s.ptr, want1, 3) == 0);
    ENT_CHECK_RC(ent_value_parse(&v1, small, sizeof small, y, "//79/A=="), ENT_INVALID);
    ENT_ASSERT_MSG("a.y");
    ENT_CHECK_RC(ent_value_parse(&v1, NULL, 0, y, "AAEC"), ENT_INVALID);
    /* Padded values fit a buffer of their decoded length, and a refusal names that length: the
     * check took every 4 characters for 3 bytes, refusing "//79/A==" (4 bytes) a buffer of 4 as
     * "decodes to 6 bytes (at most)". A buffer one byte short is still refused, writing nothing
     * past it (ASan). */
    {
        static const char *const texts[] = {"AA==", "AAE=", "AAEC", "//79/A==", "//79/Ps=", "//79/Pv6"};
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            size_t n = strlen(texts[i]), exact = n / 4 * 3 - (texts[i][n - 1] == '=') - (texts[i][n - 2] == '=');
            unsigned char *b = malloc(exact), *shortb = malloc(exact - 1 ? exact - 1 : 1);
            char want[64];
            CU_ASSERT_PTR_NOT_NULL_FATAL(b);
            CU_ASSERT_PTR_NOT_NULL_FATAL(shortb);
            ENT_OK_(ent_value_parse(&v1, b, exact, y, texts[i]));
            CU_ASSERT_EQUAL(v1.v.s.len, exact);
            ENT_CHECK_RC(ent_value_parse(&v1, shortb, exact - 1, y, texts[i]), ENT_INVALID);
            snprintf(want, sizeof want, "decodes to %zu bytes, more than a buffer of %zu", exact, exact - 1);
            ENT_ASSERT_MSG(want);
            free(b);
            free(shortb);
        }
    }
    /* strings borrow text and need no buffer */
    ENT_OK_(ent_value_parse(&v1, NULL, 0, ent_type_field(ent_schema_type(s, "a"), "s"), "x"));
    CU_ASSERT(v1.kind == ENT_KIND_STRING && v1.v.s.len == 1);
    ent_schema_free(s);
}

static void t_event_json(void)
{
    ent_schema *s = NULL;
    ent_store *st = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_entity *e = NULL;
    ent_key k;
    const char *want_ops[] = {"create", "update", "delete"};
    o.backend = "memory";
    ENT_OK_(ent_schema_load_json(&s, schema_json, strlen(schema_json), "p"));
    ENT_OK_(ent_store_open(&st, NULL, s, &o));
    ENT_OK_(ent_entity_new(&e, ent_store_type(st, "a")));
    ENT_OK_(ent_entity_set_int(e, "i", 5));
    ENT_OK_(ent_entity_set_string(e, "s", "x"));
    ENT_OK_(ent_create(st, NULL, e));
    k = ent_entity_key(e);
    ENT_OK_(ent_entity_unset(e, "s"));
    ENT_OK_(ent_update(st, NULL, e, 1));
    ENT_OK_(ent_delete(st, NULL, ent_store_type(st, "a"), &k, 2));
    for (uint64_t seq = 1; seq <= 3; seq++) {
        ent_event *ev = NULL;
        char *text = NULL;
        json_t *j;
        ENT_OK_(ent_log_get(&ev, st, NULL, seq));
        ENT_OK_(ent_event_to_json(&text, ev, 0));
        j = json_loads(text, 0, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(j);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "seq")), (json_int_t)seq);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "key")), 1);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "type")), "a");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "op")), want_ops[seq - 1]);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "version")), (json_int_t)seq);
        CU_ASSERT(json_is_integer(json_object_get(j, "txn")));
        CU_ASSERT(json_string_length(json_object_get(j, "ts")) == 30); /* RFC 3339 with ns */
        CU_ASSERT(json_is_object(json_object_get(j, "data")));
        if (seq == 1) CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j, "data"), "i")), 5);
        if (seq == 2) {
            CU_ASSERT(json_is_null(json_object_get(json_object_get(j, "data"), "s"))); /* removed */
            CU_ASSERT_PTR_NULL(json_object_get(json_object_get(j, "data"), "i"));    /* unchanged */
        }
        if (seq == 3) CU_ASSERT_EQUAL(json_object_size(json_object_get(j, "data")), 0);
        json_decref(j);
        free(text);
        ent_event_free(ev);
    }
    ent_entity_free(e);
    ent_store_close(st);
    ent_schema_free(s);
}

/* A locale whose decimal point is a comma, built here with localedef (libc-bin; its definition
 * holds LC_NUMERIC only, so it needs no locale sources and takes milliseconds) into dir/comma,
 * for LOCPATH. Returns 0, or -1 with the reason on stderr: then the test fails, it does not skip. */
static int make_comma_locale(const char *dir)
{
    static const char def[] = "LC_NUMERIC\ndecimal_point \",\"\nthousands_sep \".\"\ngrouping 3;3\nEND LC_NUMERIC\n";
    char src[ENT_TEST_PATH_MAX], out[ENT_TEST_PATH_MAX];
    FILE *f;
    pid_t pid;
    int st = 0;
    if (ent_test_fmt(src, sizeof src, "%s/comma.def", dir) || ent_test_fmt(out, sizeof out, "%s/comma", dir)) return -1;
    if (!(f = fopen(src, "w")) || fputs(def, f) == EOF || fclose(f) != 0) return -1;
    if ((pid = fork()) == 0) {
        /* -c: a definition with one category is fine (localedef warns about the others, exit 1) */
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 2);
        execlp("localedef", "localedef", "-c", "-i", src, out, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) > 1) {
        fprintf(stderr, "localedef of %s failed (status %d)\n", out, st);
        return -1;
    }
    return 0;
}

/* A host that calls setlocale(LC_ALL, "") under a locale whose decimal point is a comma (de_DE):
 * the library reads and writes numbers as it does under "C". ent_value_parse() read floats with
 * strtod(), which follows LC_NUMERIC: "1.5" was refused as not a number and "1,5" read as 1.5.
 * The JSON written and read (entity, event, schema limits, messages) held: pinned here too. */
static void t_comma_locale(void)
{
    static const char sj[] =
        "{\"schema\":\"c\",\"version\":1,\"types\":{\"d\":{\"key\":\"string\",\"fields\":{"
        "\"p\":{\"id\":1,\"type\":\"float\",\"indexed\":true,\"min\":0.5},"
        "\"q\":{\"id\":2,\"type\":\"float\",\"default\":2.25},\"m\":{\"id\":3,\"type\":\"map\"}}}}}";
    static const char ej[] = "{\"p\":0.99,\"m\":{\"x\":1.5,\"y\":0.30000000000000004,\"z\":5e-324,\"w\":1e300}}";
    static const char *const parsed[] = {"1.5", "-2.5e-3", "0.30000000000000004", "1e300"};
    static const double want[] = {1.5, -2.5e-3, 0.30000000000000004, 1e300};
    char dir[ENT_TEST_PATH_MAX], *schema_out = NULL, *text = NULL, *ev_text = NULL;
    const char *old_locpath = getenv("LOCPATH");
    char *saved_locpath = old_locpath ? strdup(old_locpath) : NULL;
    ent_schema *s = NULL;
    ent_store *st = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_entity *e = NULL;
    ent_event *ev = NULL;
    ent_key k = ent_key_str("a");
    unsigned char buf[ENT_VALUE_PARSE_BUF_SIZE];
    ent_value v;
    ENT_TEST_MKDTEMP(dir, "comma-locale");
    CU_ASSERT_FATAL(make_comma_locale(dir) == 0);
    CU_ASSERT_FATAL(setenv("LOCPATH", dir, 1) == 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(setlocale(LC_ALL, "comma"));
    CU_ASSERT_STRING_EQUAL_FATAL(localeconv()->decimal_point, ",");
    ENT_OK_(ent_schema_load_json(&s, sj, strlen(sj), "c"));
    ENT_OK_(ent_schema_to_json(&schema_out, s, 0));
    CU_ASSERT_PTR_NOT_NULL(strstr(schema_out, "\"min\":0.5"));
    CU_ASSERT_PTR_NOT_NULL(strstr(schema_out, "\"default\":2.25"));
    for (size_t i = 0; i < sizeof parsed / sizeof parsed[0]; i++) {
        ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(ent_schema_type(s, "d"), "p"), parsed[i]));
        CU_ASSERT(v.kind == ENT_KIND_FLOAT && v.v.f == want[i]);
    }
    ENT_CHECK_RC(ent_value_parse(&v, buf, sizeof buf, ent_type_field(ent_schema_type(s, "d"), "p"), "1,5"), ENT_INVALID);
    o.backend = "memory";
    ENT_OK_(ent_store_open(&st, NULL, s, &o));
    ENT_OK_(ent_entity_from_json(&e, ent_store_type(st, "d"), ej, strlen(ej)));
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_apply_defaults(e));
    ENT_OK_(ent_create(st, NULL, e));
    ENT_OK_(ent_entity_to_json(&text, e, 0));
    CU_ASSERT_STRING_EQUAL(text, "{\"p\":0.99,\"q\":2.25,\"m\":{\"x\":1.5,\"y\":0.30000000000000004,\"z\":5e-324,\"w\":1e300}}");
    ENT_OK_(ent_log_get(&ev, st, NULL, 1));
    ENT_OK_(ent_event_to_json(&ev_text, ev, 0));
    CU_ASSERT_PTR_NOT_NULL(strstr(ev_text, "\"data\":{\"p\":0.99,\"q\":2.25,\"m\":{\"x\":1.5,"));
    /* the look-up by a value the parse read */
    ENT_OK_(ent_value_parse(&v, buf, sizeof buf, ent_type_field(ent_store_type(st, "d"), "p"), "0.99"));
    {
        ent_iter *it = NULL;
        ent_entity *got = NULL;
        ENT_OK_(ent_find(&it, st, NULL, ent_type_field(ent_store_type(st, "d"), "p"), &v));
        ENT_OK_(ent_iter_next(&got, it));
        ent_entity_free(got);
        ent_iter_free(it);
    }
    /* a message prints numbers with a '.' */
    ENT_OK_(ent_entity_set_float(e, "p", 0.25));
    ENT_CHECK_RC(ent_update(st, NULL, e, 1), ENT_INVALID);
    ENT_ASSERT_MSG("0.25 is less than min 0.5");
    CU_ASSERT_PTR_NOT_NULL(setlocale(LC_ALL, "C"));
    if (saved_locpath) setenv("LOCPATH", saved_locpath, 1);
    else unsetenv("LOCPATH");
    free(saved_locpath);
    free(schema_out);
    free(text);
    free(ev_text);
    ent_event_free(ev);
    ent_entity_free(e);
    ent_store_close(st);
    ent_schema_free(s);
    ent_test_rm_rf(dir);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(t_parse), ENT_TEST(t_parse_bytes_owned), ENT_TEST(t_event_json),
                                          ENT_TEST(t_comma_locale), {NULL, NULL}};
    return ent_test_run("value_parse", cases);
}
