/* Schema descriptors: loading (every refusal names file, JSON path and rule), the C builder,
 * rendering round trips, and evolution checks. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_int.h"
#include "test_util.h"

/* A valid base document with one substitution point, so each bad case changes one thing. */
static char *doc(const char *types)
{
    size_t n = strlen(types) + 128;
    char *d = malloc(n);
    snprintf(d, n, "{\"schema\":\"t\",\"version\":1,\"types\":%s}", types);
    return d;
}

typedef struct bad_case {
    const char *types;   /* the "types" object (or a whole document when starting with '!') */
    const char *path;    /* expected JSON path in the message */
    const char *what;    /* expected words of the rule */
} bad_case;

static const bad_case bad_cases[] = {
    {"!{\"schema\":\"t\",\"version\":1,\"types\":{", "line 1", "invalid JSON"},
    {"!{\"schema\":\"t\",\"version\":1,\n\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{}}},}", "line 2", "invalid JSON"},
    {"![1,2]", "schema", "must be a JSON object"},
    {"!{\"version\":1,\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{}}}}", "schema", "missing"},
    {"!{\"schema\":\"T!\",\"version\":1,\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{}}}}", "schema", "bad schema name"},
    {"!{\"schema\":\"t\",\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{}}}}", "version", "missing"},
    {"!{\"schema\":\"t\",\"version\":0,\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{}}}}", "version", "from 1 to 4294967295"},
    /* versions are 32 bits: past them the message said "must be an integer >= 1" */
    {"!{\"schema\":\"t\",\"version\":4294967296,\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{}}}}", "version", "must be an integer from 1 to 4294967295"},
    {"!{\"schema\":\"t\",\"version\":9223372036854775807,\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{}}}}", "version", "must be an integer from 1 to 4294967295"},
    {"!{\"schema\":\"t\",\"version\":\"1\",\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{}}}}", "version", "integer"},
    {"!{\"schema\":\"t\",\"version\":1}", "types", "missing"},
    {"!{\"schema\":\"t\",\"version\":1,\"types\":{}}", "types", "non-empty"},
    {"!{\"schema\":\"t\",\"version\":1,\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{}}},\"x\":1}", "x", "unknown key"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{},\"extra\":1}}", "types.a.extra", "unknown key"},
    {"{\"Bad\":{\"key\":\"auto\",\"fields\":{}}}", "types.Bad", "bad type name"},
    {"{\"a\":{\"fields\":{}}}", "types.a", "missing \"key\""},
    {"{\"a\":{\"key\":\"uuid\",\"fields\":{}}}", "types.a.key", "\"auto\" or \"string\""},
    {"{\"a\":{\"key\":\"auto\"}}", "types.a", "missing \"fields\""},
    {"{\"a\":{\"key\":\"auto\",\"fields\":[]}}", "types.a.fields", "object of fields"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"type\":\"int\"}}}}", "types.a.fields.x", "missing \"id\""},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":0,\"type\":\"int\"}}}}", "types.a.fields.x.id", "1 to 65535"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":65536,\"type\":\"int\"}}}}", "types.a.fields.x.id", "1 to 65535"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1.5,\"type\":\"int\"}}}}", "types.a.fields.x.id", "integer"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1}}}}", "types.a.fields.x", "missing \"type\""},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"decimal\"}}}}", "types.a.fields.x.type", "unknown type \"decimal\""},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\",\"colour\":1}}}}", "types.a.fields.x.colour", "unknown key"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\"},\"y\":{\"id\":1,\"type\":\"int\"}}}}", "types.a.fields.y", "duplicate field id 1"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"Xx\":{\"id\":1,\"type\":\"int\"}}}}", "types.a.fields.Xx", "bad field name"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\",\"default\":\"no\"}}}}", "types.a.fields.x", "bad default"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\",\"min\":0,\"default\":-1}}}}", "types.a.fields.x", "bad default"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"string\",\"enum\":[\"a\"],\"default\":\"b\"}}}}", "types.a.fields.x", "bad default"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"string\",\"max_length\":2,\"default\":\"abc\"}}}}", "types.a.fields.x", "bad default"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\",\"min\":5,\"max\":1}}}}", "types.a.fields.x", "min is greater than max"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"string\",\"min\":1}}}}", "types.a.fields.x.min", "numbers and timestamps"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\",\"min\":\"low\"}}}}", "types.a.fields.x.min", "must be a number"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\",\"max_length\":3}}}}", "types.a.fields.x.max_length", "strings, bytes and arrays"},
    /* a uint limit as a string is digits only, as a uint value: strtoull() made " -5" a min of
     * 2^64-5 and took " 5" and "+5", which no value may be written as; past 2^64-1 (or any other
     * text) it said "must be a number, not a string", where strings are how such limits go */
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"uint\",\"min\":\" -5\"}}}}", "types.a.fields.x.min", "\" -5\" is no uint"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"uint\",\"max\":\"+5\"}}}}", "types.a.fields.x.max", "\"+5\" is no uint"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"uint\",\"max\":\" 5\"}}}}", "types.a.fields.x.max", "\" 5\" is no uint"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"uint\",\"max\":\"18446744073709551616\"}}}}", "types.a.fields.x.max", "decimal digits from 0 to 18446744073709551615"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"string\",\"max_length\":-1}}}}", "types.a.fields.x.max_length", "non-negative"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\",\"enum\":[\"a\"]}}}}", "types.a.fields.x.enum", "applies to strings"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"string\",\"enum\":[]}}}}", "types.a.fields.x.enum", "non-empty"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"string\",\"enum\":[\"a\",\"a\"]}}}}", "types.a.fields.x.enum", "duplicate enum value"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"string\",\"enum\":[1]}}}}", "types.a.fields.x.enum[0]", "must be a string"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"map\",\"indexed\":true}}}}", "types.a.fields.x.indexed", "cannot be indexed"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"array\",\"items\":{\"type\":\"int\"},\"unique\":true}}}}", "types.a.fields.x.unique", "cannot be unique"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\",\"unique\":\"yes\"}}}}", "types.a.fields.x.unique", "true or false"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"m\":{\"id\":1,\"type\":\"map\",\"fields\":{\"s\":{\"id\":1,\"type\":\"int\",\"indexed\":true}}}}}}", "types.a.fields.m.fields.s.indexed", "top-level"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"r\":{\"id\":1,\"type\":\"ref\",\"to\":\"nope\"}}}}", "types.a.fields.r", "unknown type \"nope\""},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"r\":{\"id\":1,\"type\":\"ref\"}}}}", "types.a.fields.r", "needs \"to\""},
    /* a ref's index is always there: "indexed": false was taken and dropped */
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"r\":{\"id\":1,\"type\":\"ref\",\"to\":\"a\",\"indexed\":false}}}}", "types.a.fields.r.indexed", "a ref is always indexed"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"r\":{\"id\":1,\"type\":\"int\",\"to\":\"a\"}}}}", "types.a.fields.r.to", "applies to refs"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"m\":{\"id\":1,\"type\":\"map\",\"fields\":{\"r\":{\"id\":1,\"type\":\"ref\",\"to\":\"a\"}}}}}}", "types.a.fields.m.fields.r", "top-level"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"l\":{\"id\":1,\"type\":\"array\"}}}}", "types.a.fields.l", "needs \"items\""},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"l\":{\"id\":1,\"type\":\"int\",\"items\":{\"type\":\"int\"}}}}}", "types.a.fields.l.items", "applies to arrays"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"l\":{\"id\":1,\"type\":\"array\",\"items\":{\"id\":3,\"type\":\"int\"}}}}}", "types.a.fields.l.items.id", "not allowed in \"items\""},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"l\":{\"id\":1,\"type\":\"array\",\"items\":{\"type\":\"ref\",\"to\":\"a\"}}}}}", "types.a.fields.l.items", "top-level"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"int\",\"fields\":{}}}}}", "types.a.fields.x.fields", "applies to maps"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"m\":{\"id\":1,\"type\":\"map\",\"fields\":{\"p\":{\"id\":1,\"type\":\"int\"},\"q\":{\"id\":1,\"type\":\"int\"}}}}}}", "types.a.fields.m.fields.q", "duplicate field id 1"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"l\":{\"id\":1,\"type\":\"array\",\"items\":{\"type\":\"map\",\"fields\":{\"q\":{\"id\":2,\"type\":\"uint\",\"min\":1,\"default\":0}}}}}}}", "types.a.fields.l.items.fields.q", "bad default"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"l\":{\"id\":1,\"type\":\"array\",\"items\":{\"type\":\"map\",\"fields\":{\"q\":{\"id\":2,\"type\":\"uint\",\"min\":5,\"max\":1}}}}}}}", "types.a.fields.l.items.fields.q", "min is greater than max"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"timestamp\",\"default\":\"yesterday\"}}}}", "types.a.fields.x", "bad default"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"bytes\",\"default\":\"***\"}}}}", "types.a.fields.x", "bad default"},
    {"{\"a\":[]}", "types.a", "must be an object"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":7}}}", "types.a.fields.x", "must be an object"},
    {"!{\"schema\":\"t\",\"version\":1,\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{}},\"a\":{\"key\":\"auto\",\"fields\":{}}}}", "line 1", "duplicate"},
    /* an empty "fields" was taken for a free-form map: any value went in, and a later version's
     * first declared sub-field was refused as "free-form map given declared fields" */
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"m\":{\"id\":1,\"type\":\"map\",\"fields\":{}}}}}", "types.a.fields.m.fields", "a map declares at least one field"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"l\":{\"id\":1,\"type\":\"array\",\"items\":{\"type\":\"map\",\"fields\":{}}}}}}", "types.a.fields.l.items.fields", "leave \"fields\" out for a free-form map"},
    /* arrays of arrays: one "items" per level (the path named the outer item spec, types.a.fields.g.items) */
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"g\":{\"id\":1,\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{\"type\":\"int\",\"min\":5,\"max\":1}}}}}}", "types.a.fields.g.items.items: ", "min is greater than max"},
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"m\":{\"id\":1,\"type\":\"map\",\"fields\":{\"g\":{\"id\":1,\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{\"type\":\"map\",\"fields\":{\"q\":{\"id\":1,\"type\":\"int\",\"default\":\"x\"}}}}}}}}}}", "types.a.fields.m.fields.g.items.items.fields.q: ", "bad default"},
    /* a path past 200 bytes (five sub-fields of 60 letters): it was cut, and named a field
     * "dddddddddddddd" that the file does not have, one level short */
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":{\"id\":1,\"type\":\"map\",\"fields\":{\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\":{\"id\":1,\"type\":\"map\",\"fields\":{\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\":{\"id\":1,\"type\":\"map\",\"fields\":{\"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\":{\"id\":1,\"type\":\"map\",\"fields\":{\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\":{\"id\":1,\"type\":\"int\",\"min\":5,\"max\":1}}}}}}}}}}}}",
     "types.a.fields.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.fields.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.fields.cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.fields.dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd.fields.eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee: ", "min is greater than max"},
    /* a file saved with a UTF-8 byte order mark (Notepad, PowerShell 5) was "'[' or '{' expected
     * near '\xef\xbb\xbf'": the mark itself does not show */
    {"!\xef\xbb\xbf{\"schema\":\"t\",\"version\":1,\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{}}}}", "line 1", "a UTF-8 byte order mark (EF BB BF) at the start"},
    /* said "\u0000 is not allowed without JSON_ALLOW_NUL", jansson's flag, not a rule of the file */
    {"{\"a\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"string\",\"default\":\"a\\u0000\"}}}}", "line 1", "a schema's strings cannot hold \\u0000"},
};

static void test_bad_documents(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        char *d = c->types[0] == '!' ? strdup(c->types + 1) : doc(c->types);
        ent_schema *s = (ent_schema *)1;
        int rc = ent_schema_load_json(&s, d, strlen(d), "case.json");
        const char *m = ent_errmsg();
        int ok = rc == ENT_SCHEMA && s == NULL && strncmp(m, "case.json: ", 11) == 0 && strstr(m, c->path) &&
                 strstr(m, c->what);
        if (!ok) fprintf(stderr, "\n  case %zu: rc %d, message \"%s\" (want path \"%s\", rule \"%s\")\n", i, rc, m, c->path, c->what);
        CU_ASSERT(ok);
        free(d);
    }
}

static void test_shipped_files_load_and_round_trip(void)
{
    const char *files[] = {ENT_SOURCE_DIR "/schemas/shop.json", ENT_SOURCE_DIR "/schemas/fleet.json"};
    for (size_t i = 0; i < 2; i++) {
        ent_schema *s = NULL, *s2 = NULL;
        char *j1 = NULL, *j2 = NULL;
        ENT_OK_(ent_schema_load_file(&s, files[i]));
        ENT_OK_(ent_schema_to_json(&j1, s, 1));
        ENT_OK_(ent_schema_load_json(&s2, j1, strlen(j1), "round"));
        ENT_OK_(ent_schema_to_json(&j2, s2, 1));
        CU_ASSERT_STRING_EQUAL(j1, j2);
        ENT_OK_(ent_schema_compare(s, s2));
        free(j1);
        free(j2);
        ent_schema_free(s);
        ent_schema_free(s2);
    }
}

static void test_shop_model(void)
{
    ent_schema *s = NULL;
    const ent_type *c, *o, *p;
    const ent_field *f;
    ENT_OK_(ent_schema_load_file(&s, ENT_SOURCE_DIR "/schemas/shop.json"));
    CU_ASSERT_STRING_EQUAL(ent_schema_name(s), "shop");
    CU_ASSERT_EQUAL(ent_schema_version(s), 1);
    CU_ASSERT_EQUAL(ent_schema_type_count(s), 3);
    c = ent_schema_type(s, "customer");
    o = ent_schema_type(s, "order");
    p = ent_schema_type(s, "product");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_NULL(ent_schema_type(s, "nope"));
    CU_ASSERT_EQUAL(ent_type_key(c), ENT_KEY_AUTO);
    CU_ASSERT_EQUAL(ent_type_key(p), ENT_KEY_STRING);
    /* declaration order is kept */
    CU_ASSERT_STRING_EQUAL(ent_field_name(ent_type_field_at(c, 0)), "email");
    CU_ASSERT_STRING_EQUAL(ent_field_name(ent_type_field_at(c, 3)), "vip");
    f = ent_type_field(c, "email");
    CU_ASSERT(ent_field_is_unique(f) && ent_field_is_required(f));
    CU_ASSERT_EQUAL(ent_field_kind(f), ENT_KIND_STRING);
    CU_ASSERT_PTR_EQUAL(ent_type_field_by_id(c, 1), f);
    f = ent_type_field(o, "customer");
    CU_ASSERT_EQUAL(ent_field_kind(f), ENT_KIND_REF);
    CU_ASSERT_PTR_EQUAL(ent_field_ref_type(f), c);
    CU_ASSERT(ent_field_is_indexed(f)); /* refs are indexed */
    f = ent_type_field(o, "lines");
    CU_ASSERT_EQUAL(ent_field_kind(ent_field_items(f)), ENT_KIND_MAP);
    CU_ASSERT_EQUAL(ent_field_field_count(ent_field_items(f)), 2);
    CU_ASSERT_EQUAL(ent_field_kind(ent_field_field(ent_field_items(f), "qty")), ENT_KIND_UINT);
    CU_ASSERT_PTR_EQUAL(ent_field_parent(ent_field_field(ent_field_items(f), "qty")), ent_field_items(f));
    CU_ASSERT_EQUAL(ent_field_field_count(ent_type_field(p, "attrs")), 0); /* free-form */
    CU_ASSERT(ent_field_has_default(ent_type_field(p, "stock")));
    /* an enum's values in the schema's order (the tool read them out of the schema's JSON) */
    f = ent_type_field(o, "status");
    CU_ASSERT_EQUAL(ent_field_enum_count(f), 3);
    CU_ASSERT_STRING_EQUAL(ent_field_enum_at(f, 0), "new");
    CU_ASSERT_STRING_EQUAL(ent_field_enum_at(f, 2), "shipped");
    CU_ASSERT_PTR_NULL(ent_field_enum_at(f, 3));
    CU_ASSERT_EQUAL(ent_field_enum_count(ent_type_field(c, "email")), 0);
    CU_ASSERT_PTR_NULL(ent_field_enum_at(ent_type_field(c, "email"), 0));
    CU_ASSERT_EQUAL(ent_field_enum_count(NULL), 0);
    CU_ASSERT_PTR_NULL(ent_field_enum_at(NULL, 0));
    CU_ASSERT_EQUAL(ent_field_enum_check(f, "shipped"), ENT_OK);
    CU_ASSERT_EQUAL(ent_field_enum_check(ent_type_field(c, "email"), "anything"), ENT_OK);
    CU_ASSERT_EQUAL(ent_field_enum_check(f, "Shipped"), ENT_INVALID);
    ENT_ASSERT_MSG("\"Shipped\" is not one of the field's values (new, ");
    CU_ASSERT_EQUAL(ent_field_enum_check(NULL, "new"), ENT_INVALID);
    CU_ASSERT_EQUAL(ent_field_enum_check(f, NULL), ENT_INVALID);
    CU_ASSERT_STRING_EQUAL(ent_kind_name(ENT_KIND_TIMESTAMP), "timestamp");
    CU_ASSERT_PTR_NULL(ent_kind_name((ent_kind)99));
    ent_schema_free(s);
}

/* ent_type_field() on a type of many fields, sealed (its name table) and open (a scan): every
 * name found, with the field of that name; names that are none, paths and prefixes not. */
static void test_field_lookup_many(void)
{
    ent_schema *s = NULL;
    ent_type *t = NULL;
    ent_field *f = NULL;
    char name[32];
    ENT_OK_(ent_schema_new(&s, "wide", 1));
    ENT_OK_(ent_schema_add_type(&t, s, "t", ENT_KEY_AUTO));
    for (unsigned i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "%c%c_%u", (char)('a' + i % 26), (char)('a' + i / 26 % 26), i);
        if (i % 2) snprintf(name, sizeof name, "sensor_%u", i);
        ENT_OK_(ent_type_add_field(&f, t, name, i + 1, ENT_KIND_INT));
        if (i == 1000) { /* open: found by a scan */
            CU_ASSERT_PTR_EQUAL(ent_type_field(t, name), f);
            CU_ASSERT_PTR_NULL(ent_type_field(t, "sensor_1001"));
        }
    }
    ENT_OK_(ent_schema_check(s));
    for (unsigned i = 0; i < 2000; i++) {
        const ent_field *got;
        snprintf(name, sizeof name, "%c%c_%u", 'a' + i % 26, 'a' + i / 26 % 26, i);
        if (i % 2) snprintf(name, sizeof name, "sensor_%u", i);
        got = ent_type_field(t, name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        CU_ASSERT_EQUAL(ent_field_id(got), i + 1);
    }
    CU_ASSERT_PTR_NULL(ent_type_field(t, "sensor_2001"));
    CU_ASSERT_PTR_NULL(ent_type_field(t, "sensor_"));
    CU_ASSERT_PTR_NULL(ent_type_field(t, "sensor_1.x"));
    CU_ASSERT_PTR_NULL(ent_type_field(t, ""));
    ent_schema_free(s);
}

/* Names of a wide type that collide in its name table, looked up through every door: ent_type_field(),
 * ent_field_field(), paths (top level and in a declared map) and entity JSON. Pairs "a<mid>b<z>"
 * and "c<mid>c<z>" (9 bytes) have the same table key (asserted below, so that this keeps testing
 * what it says): only comparing the bytes tells them apart. Of some pairs only one name exists, so
 * the other must be no field at all. With them, 1 000 names sharing a 23-byte prefix and short
 * names sharing their first two characters (one bucket of the walker's former table). */
#define WIDE_PAIRS 300
static void wide_name(char *out, size_t cap, unsigned i)
{
    if (i < 2 * WIDE_PAIRS) /* pair i/2: 'a'/'c' first, 'b'/'c' eighth (9 bits apart in the key) */
        snprintf(out, cap, "%c%c%c%c%c%c%c%cz", i % 2 ? 'c' : 'a', 'a' + i / 2 % 26, 'a' + i / 52 % 26, 'q', 'r',
                 's', 't', i % 2 ? 'c' : 'b');
    else if (i < 2 * WIDE_PAIRS + 1000)
        snprintf(out, cap, "sensor_reading_channel_%04u", i - 2 * WIDE_PAIRS);
    else
        snprintf(out, cap, "ab%u", i);
}
static void test_wide_type_colliding_names(void)
{
    enum { N = 2 * WIDE_PAIRS + 1000 + 400 };
    ent_schema *s = NULL;
    ent_type *t = NULL;
    ent_field *f = NULL, *m = NULL;
    ent_entity *e = NULL, *back = NULL;
    char name[64], path[80], *json = NULL;
    size_t len;
    ENT_OK_(ent_schema_new(&s, "wide", 1));
    ENT_OK_(ent_schema_add_type(&t, s, "t", ENT_KEY_AUTO));
    ENT_OK_(ent_type_add_field(&m, t, "m", 60000, ENT_KIND_MAP));
    for (unsigned i = 0; i < N; i++) {
        wide_name(name, sizeof name, i);
        if (i < 2 * WIDE_PAIRS && i % 6 == 5) continue; /* the partner of a pair left out */
        ENT_OK_(ent_type_add_field(&f, t, name, i + 1, ENT_KIND_INT));
        ENT_OK_(ent_field_add_field(&f, m, name, i + 1, ENT_KIND_INT));
    }
    ENT_OK_(ent_schema_check(s));
    for (unsigned i = 0; i < 2 * WIDE_PAIRS; i += 2) {
        char other[64];
        wide_name(name, sizeof name, i);
        wide_name(other, sizeof other, i + 1);
        CU_ASSERT_STRING_NOT_EQUAL(name, other);
        CU_ASSERT_EQUAL(ent__step_key(name, &len), ent__step_key(other, &len));
        CU_ASSERT_EQUAL(len, 9);
    }
    ENT_OK_(ent_entity_new(&e, t));
    for (unsigned i = 0; i < N; i++) {
        const ent_field *got, *sub;
        int64_t v = 0;
        int absent = i < 2 * WIDE_PAIRS && i % 6 == 5;
        wide_name(name, sizeof name, i);
        snprintf(path, sizeof path, "m.%s", name);
        got = ent_type_field(t, name);
        sub = ent_field_field(m, name);
        if (absent) {
            CU_ASSERT_PTR_NULL(got);
            CU_ASSERT_PTR_NULL(sub);
            ENT_CHECK_RC(ent_entity_set_int(e, name, 1), ENT_NOTFOUND);
            ENT_CHECK_RC(ent_entity_get_int(&v, e, name), ENT_NOTFOUND);
            ENT_CHECK_RC(ent_entity_set_int(e, path, 1), ENT_NOTFOUND);
            continue;
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        CU_ASSERT_PTR_NOT_NULL_FATAL(sub);
        CU_ASSERT_EQUAL(ent_field_id(got), i + 1);
        CU_ASSERT_EQUAL(ent_field_id(sub), i + 1);
        CU_ASSERT_STRING_EQUAL(ent_field_name(got), name);
        ENT_OK_(ent_entity_set_int(e, name, (int64_t)i));
        ENT_OK_(ent_entity_set_int(e, path, -(int64_t)i));
    }
    /* every value where its own name put it, read by path and after a JSON round trip */
    ENT_OK_(ent_entity_to_json(&json, e, 0));
    ENT_OK_(ent_entity_from_json(&back, t, json, strlen(json)));
    for (unsigned i = 0; i < N; i++) {
        int64_t v = -1, w = 1;
        if (i < 2 * WIDE_PAIRS && i % 6 == 5) continue;
        wide_name(name, sizeof name, i);
        snprintf(path, sizeof path, "m.%s", name);
        ENT_OK_(ent_entity_get_int(&v, e, name));
        ENT_OK_(ent_entity_get_int(&w, e, path));
        CU_ASSERT_EQUAL(v, (int64_t)i);
        CU_ASSERT_EQUAL(w, -(int64_t)i);
        ENT_OK_(ent_entity_get_int(&v, back, name));
        ENT_OK_(ent_entity_get_int(&w, back, path));
        CU_ASSERT_EQUAL(v, (int64_t)i);
        CU_ASSERT_EQUAL(w, -(int64_t)i);
    }
    /* a step of a longer path is looked up alone: the name is what ends at '.' or '[' */
    wide_name(name, sizeof name, 0);
    snprintf(path, sizeof path, "%s.x", name);
    ENT_CHECK_RC(ent_entity_set_int(e, path, 1), ENT_INVALID);
    snprintf(path, sizeof path, "m.%s[0]", name);
    ENT_CHECK_RC(ent_entity_set_int(e, path, 1), ENT_INVALID);
    CU_ASSERT_PTR_NULL(ent_type_field(t, "sensor_reading_channel_"));
    CU_ASSERT_PTR_NULL(ent_type_field(t, "sensor_reading_channel_10000"));
    CU_ASSERT_PTR_NULL(ent_field_field(m, "sensor_reading_channel_0001.x"));
    free(json);
    ent_entity_free(back);
    ent_entity_free(e);
    ent_schema_free(s);
}

/* A wide schema loads with work linear in its size: WIDE_N fields in a type and in a declared
 * map, WIDE_N enum values, WIDE_N types that ref one another; then an entity of WIDE_N enum values
 * validated, and the schema compared with itself (what opening a store with it does). The work is
 * ent__schema_compares, the names and ids compared by the look-ups and duplicate checks: a scan of
 * the list per addition made it WIDE_N^2/2 (8 M here; 2 000 fields cost 114 M instructions to load,
 * callgrind), the tables make it a few per name. A bound on a count, not a clock. */
#define WIDE_N 4000
static void test_wide_schema_linear_work(void)
{
    ent_test_buf b = {0};
    ent_schema *s = NULL, *t2 = NULL;
    ent_type *t = NULL;
    ent_field *f = NULL;
    ent_entity *e = NULL;
    char name[64];
    ent_test_buf_add(&b, "{\"schema\":\"w\",\"version\":1,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{");
    for (unsigned i = 0; i < WIDE_N; i++) ent_test_buf_add(&b, "\"field_%u\":{\"id\":%u,\"type\":\"int\"},", i, i + 1);
    ent_test_buf_add(&b, "\"m\":{\"id\":%u,\"type\":\"map\",\"fields\":{", WIDE_N + 1);
    for (unsigned i = 0; i < WIDE_N; i++) ent_test_buf_add(&b, "%s\"sub_%u\":{\"id\":%u,\"type\":\"int\"}", i ? "," : "", i, i + 1);
    ent_test_buf_add(&b, "}},\"a\":{\"id\":%u,\"type\":\"array\",\"items\":{\"type\":\"string\",\"enum\":[", WIDE_N + 2);
    for (unsigned i = 0; i < WIDE_N; i++) ent_test_buf_add(&b, "%s\"value_%u\"", i ? "," : "", i);
    ent_test_buf_add(&b, "]}}}}");
    for (unsigned i = 0; i < WIDE_N; i++)
        ent_test_buf_add(&b, ",\"type_%u\":{\"key\":\"auto\",\"fields\":{\"r\":{\"id\":1,\"type\":\"ref\",\"to\":\"type_%u\"}}}", i,
             (i * 7919) % WIDE_N);
    ent_test_buf_add(&b, "}}");

    ent__schema_compares = 0;
    ENT_OK_(ent_schema_load_json(&s, b.p, b.n, "wide"));
    CU_ASSERT(ent__schema_compares < 8 * 4 * WIDE_N);
    if (ent__schema_compares >= 8 * 4 * WIDE_N)
        fprintf(stderr, "\n  loading: %lu comparisons\n", ent__schema_compares);
    CU_ASSERT_EQUAL(ent_schema_type_count(s), WIDE_N + 1);
    CU_ASSERT_EQUAL(ent_field_id(ent_type_field(ent_schema_type(s, "t"), "field_3999")), 4000);
    CU_ASSERT_EQUAL(ent_field_id(ent_type_field_by_id(ent_schema_type(s, "t"), 17)), 17);
    CU_ASSERT_STRING_EQUAL(ent_field_name(ent_type_field_by_id(ent_schema_type(s, "t"), 17)), "field_16");
    CU_ASSERT_PTR_EQUAL(ent_field_ref_type(ent_type_field(ent_schema_type(s, "type_1"), "r")),
                        ent_schema_type(s, "type_3919"));

    /* every item checked against the enum */
    ENT_OK_(ent_entity_new(&e, ent_schema_type(s, "t")));
    for (unsigned i = 0; i < WIDE_N; i++) {
        char path[32];
        snprintf(path, sizeof path, "a[%u]", i);
        snprintf(name, sizeof name, "value_%u", (i * 7) % WIDE_N);
        ENT_OK_(ent_entity_set_string(e, path, name));
    }
    ent__schema_compares = 0;
    ENT_OK_(ent_entity_validate(e));
    CU_ASSERT(ent__schema_compares < 8 * WIDE_N);
    ENT_OK_(ent_entity_set_stringn(e, "a[17]", "value_1\0x", 9)); /* "value_1" and more */
    ENT_CHECK_RC(ent_entity_validate(e), ENT_INVALID);
    ENT_ASSERT_MSG("t.a[17]: \"value_1\\u0000x\" is not in enum");
    ent_entity_free(e);

    ENT_OK_(ent_schema_load_json(&t2, b.p, b.n, "wide"));
    ent__schema_compares = 0;
    ENT_OK_(ent_schema_compare(s, t2));
    CU_ASSERT(ent__schema_compares < 8 * 4 * WIDE_N);
    ent_schema_free(t2);
    ent_schema_free(s);
    free(b.p);

    /* the C builder: the same work, and duplicates still named, however late they come */
    ent__schema_compares = 0;
    ENT_OK_(ent_schema_new(&s, "w", 1));
    ENT_OK_(ent_schema_add_type(&t, s, "t", ENT_KEY_AUTO));
    ENT_OK_(ent_type_add_field(&f, t, "e", WIDE_N + 1, ENT_KIND_STRING));
    for (unsigned i = 0; i < WIDE_N; i++) {
        snprintf(name, sizeof name, "field_%u", i);
        ENT_OK_(ent_type_add_field(NULL, t, name, i + 1, ENT_KIND_INT));
        snprintf(name, sizeof name, "value_%u", i);
        ENT_OK_(ent_field_add_enum(f, name));
    }
    CU_ASSERT(ent__schema_compares < 8 * 2 * WIDE_N);
    ENT_CHECK_RC(ent_type_add_field(NULL, t, "field_3999", WIDE_N + 2, ENT_KIND_INT), ENT_SCHEMA);
    ENT_ASSERT_MSG("t: duplicate field name \"field_3999\"");
    ENT_CHECK_RC(ent_type_add_field(NULL, t, "other", 17, ENT_KIND_INT), ENT_SCHEMA);
    ENT_ASSERT_MSG("t.other: duplicate field id 17 (also field_16)");
    ENT_CHECK_RC(ent_field_add_enum(f, "value_3999"), ENT_SCHEMA);
    ENT_ASSERT_MSG("t.e: duplicate enum value \"value_3999\"");
    ENT_CHECK_RC(ent_field_add_enum(f, "value_0"), ENT_SCHEMA);
    ENT_CHECK_RC(ent_schema_add_type(NULL, s, "t", ENT_KEY_AUTO), ENT_SCHEMA);
    ENT_ASSERT_MSG("duplicate type \"t\"");
    /* nothing of the refused ones was added; a field after them takes the next slot */
    CU_ASSERT_EQUAL(ent_type_field_count(t), WIDE_N + 1);
    ENT_OK_(ent_type_add_field(NULL, t, "other", WIDE_N + 2, ENT_KIND_INT));
    ENT_OK_(ent_schema_check(s));
    CU_ASSERT_EQUAL(ent_field_id(ent_type_field(t, "other")), WIDE_N + 2);
    CU_ASSERT_PTR_EQUAL(ent_type_field_by_id(t, WIDE_N + 2), ent_type_field(t, "other"));
    CU_ASSERT_PTR_NULL(ent_type_field_by_id(t, WIDE_N + 3));
    ent_schema_free(s);
}

static void test_missing_file(void)
{
    ent_schema *s = NULL;
    ENT_CHECK_RC(ent_schema_load_file(&s, "/nonexistent/x.json"), ENT_NOTFOUND);
    ENT_ASSERT_MSG("/nonexistent/x.json");
    ENT_CHECK_RC(ent_schema_load_file(&s, "/"), ENT_IO);
}

/* The builder gives the same model as the file, and refuses what the file refuses. */
static void test_builder(void)
{
    ent_schema *s = NULL, *f = NULL;
    ent_type *c = NULL, *o = NULL, *x = NULL;
    ent_field *fl = NULL, *it = NULL, *sub = NULL, *tmp = NULL;
    char *j1 = NULL, *j2 = NULL;
    const char *json =
        "{\"schema\":\"b\",\"version\":3,\"types\":{\"customer\":{\"key\":\"auto\",\"fields\":{"
        "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true,\"max_length\":254},"
        "\"score\":{\"id\":2,\"type\":\"int\",\"min\":-5,\"max\":5,\"default\":0,\"indexed\":true}}},"
        "\"order\":{\"key\":\"string\",\"fields\":{\"customer\":{\"id\":1,\"type\":\"ref\",\"to\":\"customer\"},"
        "\"lines\":{\"id\":2,\"type\":\"array\",\"max_length\":10,\"items\":{\"type\":\"map\",\"fields\":{"
        "\"qty\":{\"id\":1,\"type\":\"uint\",\"min\":1,\"required\":true}}}},"
        "\"state\":{\"id\":3,\"type\":\"string\",\"enum\":[\"a\",\"b\"],\"default\":\"a\"}}}}}";
    ENT_OK_(ent_schema_new(&s, "b", 3));
    ENT_OK_(ent_schema_add_type(&c, s, "customer", ENT_KEY_AUTO));
    ENT_OK_(ent_type_add_field(&tmp, c, "email", 1, ENT_KIND_STRING));
    ENT_OK_(ent_field_set_required(tmp, 1));
    ENT_OK_(ent_field_set_unique(tmp, 1));
    ENT_OK_(ent_field_set_max_length(tmp, 254));
    ENT_OK_(ent_type_add_field(&tmp, c, "score", 2, ENT_KIND_INT));
    ENT_OK_(ent_field_set_min_int(tmp, -5));
    ENT_OK_(ent_field_set_max_int(tmp, 5));
    ENT_OK_(ent_field_set_default_json(tmp, "0"));
    ENT_OK_(ent_field_set_indexed(tmp, 1));
    ENT_OK_(ent_schema_add_type(&o, s, "order", ENT_KEY_STRING));
    ENT_OK_(ent_type_add_field(&tmp, o, "customer", 1, ENT_KIND_REF));
    ENT_OK_(ent_field_set_ref(tmp, "customer"));
    ENT_OK_(ent_type_add_field(&fl, o, "lines", 2, ENT_KIND_ARRAY));
    ENT_OK_(ent_field_set_max_length(fl, 10));
    ENT_OK_(ent_field_set_items(&it, fl, ENT_KIND_MAP));
    ENT_OK_(ent_field_add_field(&sub, it, "qty", 1, ENT_KIND_UINT));
    ENT_OK_(ent_field_set_min_uint(sub, 1));
    ENT_OK_(ent_field_set_required(sub, 1));
    ENT_OK_(ent_type_add_field(&tmp, o, "state", 3, ENT_KIND_STRING));
    ENT_OK_(ent_field_add_enum(tmp, "a"));
    ENT_OK_(ent_field_add_enum(tmp, "b"));
    ENT_OK_(ent_field_set_default_json(tmp, "\"a\""));

    /* refusals, each naming the type and field */
    ENT_CHECK_RC(ent_schema_add_type(&x, s, "customer", ENT_KEY_AUTO), ENT_SCHEMA);
    ENT_ASSERT_MSG("duplicate type");
    ENT_CHECK_RC(ent_schema_add_type(&x, s, "9x", ENT_KEY_AUTO), ENT_SCHEMA);
    ENT_CHECK_RC(ent_schema_add_type(&x, s, "y", (ent_key_kind)7), ENT_SCHEMA);
    ENT_CHECK_RC(ent_type_add_field(&tmp, c, "email", 9, ENT_KIND_INT), ENT_SCHEMA);
    ENT_ASSERT_MSG("duplicate field name");
    ENT_CHECK_RC(ent_type_add_field(&tmp, c, "other", 1, ENT_KIND_INT), ENT_SCHEMA);
    ENT_ASSERT_MSG("customer.other: duplicate field id 1");
    ENT_CHECK_RC(ent_type_add_field(&tmp, c, "zero", 0, ENT_KIND_INT), ENT_SCHEMA);
    ENT_CHECK_RC(ent_type_add_field(&tmp, c, "nil", 9, ENT_KIND_NIL), ENT_SCHEMA);
    ENT_CHECK_RC(ent_field_add_field(&tmp, sub, "deep", 1, ENT_KIND_INT), ENT_SCHEMA);
    ENT_ASSERT_MSG("order.lines[].qty: sub-fields need a map");
    ENT_CHECK_RC(ent_field_add_field(&tmp, it, "r", 2, ENT_KIND_REF), ENT_SCHEMA);
    ENT_CHECK_RC(ent_field_set_items(&tmp, fl, ENT_KIND_INT), ENT_SCHEMA);
    ENT_ASSERT_MSG("items are set already");
    ENT_CHECK_RC(ent_field_set_unique(sub, 1), ENT_SCHEMA);
    ENT_ASSERT_MSG("order.lines[].qty");
    ENT_CHECK_RC(ent_field_set_max_length(sub, 3), ENT_SCHEMA);
    ENT_CHECK_RC(ent_field_set_max_length((ent_field *)ent_type_field(o, "state"), UINT64_MAX), ENT_SCHEMA);
    ENT_ASSERT_MSG("order.state: max_length 18446744073709551615 is above 2^63-1");
    ENT_CHECK_RC(ent_field_add_enum(sub, "x"), ENT_SCHEMA);
    ENT_CHECK_RC(ent_field_set_ref(sub, "customer"), ENT_SCHEMA);
    ENT_CHECK_RC(ent_field_set_min_int(fl, 1), ENT_SCHEMA);
    ENT_CHECK_RC(ent_field_set_min_float(sub, NAN), ENT_SCHEMA);
    ENT_CHECK_RC(ent_field_set_max_float(sub, INFINITY), ENT_SCHEMA); /* JSON cannot hold it */
    ENT_ASSERT_MSG("order.lines[].qty: limit is infinite");
    ENT_CHECK_RC(ent_field_set_min_float(sub, -INFINITY), ENT_SCHEMA);
    ENT_CHECK_RC(ent_field_set_default_json(it, "{}"), ENT_SCHEMA);
    ENT_ASSERT_MSG("does not apply to array items");
    /* schema JSON reads no NUL: the schema could not be stored ("out of memory rendering") */
    ENT_CHECK_RC(ent_field_set_default_json((ent_field *)ent_type_field(o, "state"), "\"a\\u0000b\""), ENT_SCHEMA);
    ENT_ASSERT_MSG("order.state: a default cannot hold \\u0000");

    ENT_OK_(ent_schema_check(s));
    ENT_OK_(ent_schema_load_json(&f, json, strlen(json), "builder"));
    ENT_OK_(ent_schema_to_json(&j1, s, 0));
    ENT_OK_(ent_schema_to_json(&j2, f, 0));
    CU_ASSERT_STRING_EQUAL(j1, j2);
    /* sealed: no more changes */
    ENT_CHECK_RC(ent_schema_add_type(&x, s, "late", ENT_KEY_AUTO), ENT_SCHEMA);
    ENT_ASSERT_MSG("sealed");
    ENT_CHECK_RC(ent_field_set_required(sub, 0), ENT_SCHEMA);
    free(j1);
    free(j2);
    ent_schema_free(s);
    ent_schema_free(f);

    /* a check failure through the builder names the field */
    ENT_OK_(ent_schema_new(&s, "c", 1));
    ENT_OK_(ent_schema_add_type(&c, s, "a", ENT_KEY_AUTO));
    ENT_OK_(ent_type_add_field(&tmp, c, "r", 1, ENT_KIND_REF));
    ENT_CHECK_RC(ent_schema_check(s), ENT_SCHEMA);
    ENT_ASSERT_MSG("a.r: a ref needs \"to\"");
    ent_schema_free(s);
    ENT_CHECK_RC(ent_schema_to_json(&j1, NULL, 0), ENT_INVALID);
}

/* ---- evolution -------------------------------------------------------------------------------- */

static ent_schema *load(const char *types, int version)
{
    char *d;
    size_t n = strlen(types) + 128;
    ent_schema *s = NULL;
    d = malloc(n);
    snprintf(d, n, "{\"schema\":\"e\",\"version\":%d,\"types\":%s}", version, types);
    if (ent_schema_load_json(&s, d, strlen(d), "evo") != ENT_OK) fprintf(stderr, "\n  load: %s\n", ent_errmsg());
    free(d);
    return s;
}

#define BASE                                                                                       \
    "\"p\":{\"key\":\"string\",\"fields\":{"                                                       \
    "\"a\":{\"id\":1,\"type\":\"int\",\"min\":0,\"max\":10},"                                      \
    "\"b\":{\"id\":2,\"type\":\"string\",\"enum\":[\"x\",\"y\"],\"max_length\":5},"               \
    "\"c\":{\"id\":3,\"type\":\"array\",\"items\":{\"type\":\"map\",\"fields\":{\"q\":{\"id\":1,\"type\":\"uint\"}}}},"     \
    "\"d\":{\"id\":4,\"type\":\"float\",\"indexed\":true},"                                        \
    "\"r\":{\"id\":5,\"type\":\"ref\",\"to\":\"u\"}}},"                                            \
    "\"u\":{\"key\":\"auto\",\"fields\":{\"n\":{\"id\":1,\"type\":\"string\"}}}"

/* Each case edits the base once (find -> replace) and says whether the result is compatible. */
typedef struct evo_case {
    const char *find, *replace;
    int ok;
    const char *what; /* for refusals: words of the message (type, field, change) */
} evo_case;

static const evo_case evo_cases[] = {
    /* compatible */
    {"", "", 1, NULL},
    {"\"u\":{", "\"w\":{\"key\":\"auto\",\"fields\":{}},\"u\":{", 1, NULL},                 /* new type */
    {"\"min\":0,\"max\":10}", "\"min\":-1,\"max\":20,\"unique\":true}", 1, NULL},            /* relaxed + index */
    {"[\"x\",\"y\"],\"max_length\":5", "[\"x\",\"y\",\"z\"],\"max_length\":9", 1, NULL},
    {"{\"id\":4,\"type\":\"float\",\"indexed\":true},", "{\"id\":4,\"type\":\"float\"},", 1, NULL}, /* dropped index */
    {"\"d\":{\"id\":4,\"type\":\"float\",\"indexed\":true},", "", 1, NULL},                   /* removed field */
    {"\"q\":{\"id\":1,\"type\":\"uint\"}", "\"q\":{\"id\":1,\"type\":\"uint\"},\"z\":{\"id\":2,\"type\":\"int\"}", 1, NULL},
    {"\"r\":{\"id\":5", "\"e\":{\"id\":6,\"type\":\"bool\"},\"f\":{\"id\":7,\"type\":\"int\",\"required\":true,\"default\":3},\"r\":{\"id\":5", 1, NULL},
    {"\"min\":0,\"max\":10}", "\"min\":0}", 1, NULL},                                        /* max dropped */
    /* incompatible */
    {"\"p\":{\"key\":\"string\"", "\"p2\":{\"key\":\"string\"", 0, "p: incompatible change: type removed"},
    {"\"p\":{\"key\":\"string\"", "\"p\":{\"key\":\"auto\"", 0, "p: incompatible change: key kind changed"},
    {"\"a\":{\"id\":1,\"type\":\"int\"", "\"a\":{\"id\":1,\"type\":\"float\"", 0, "p.a: incompatible change: type changed from int to float"},
    {"\"q\":{\"id\":1,\"type\":\"uint\"}", "\"q\":{\"id\":1,\"type\":\"int\"}", 0, "p.c[].q: incompatible change: type changed"},
    {"{\"type\":\"map\",\"fields\":{\"q\":{\"id\":1,\"type\":\"uint\"}}}", "{\"type\":\"string\"}", 0, "p.c[]: incompatible change: type changed from map to string"},
    {"{\"type\":\"map\",\"fields\":{\"q\":{\"id\":1,\"type\":\"uint\"}}}", "{\"type\":\"map\"}", 0, "p.c[]: incompatible change: declared map made free-form"},
    {"\"to\":\"u\"", "\"to\":\"p\"", 0, "p.r: incompatible change: ref target changed"},
    {"\"r\":{\"id\":5", "\"e\":{\"id\":6,\"type\":\"bool\",\"required\":true},\"r\":{\"id\":5", 0, "p.e: incompatible change: new required field without a default"},
    {"\"a\":{\"id\":1,", "\"aa\":{\"id\":1,", 0, "p.aa: incompatible change: id 1 was field \"a\""},
    {"\"b\":{\"id\":2,", "\"b\":{\"id\":9,", 0, "p.b: incompatible change: id changed from 2 to 9"},
    {"\"min\":0,\"max\":10}", "\"min\":1,\"max\":10}", 0, "p.a: incompatible change: limit tightened: min"},
    {"\"min\":0,\"max\":10}", "\"min\":0,\"max\":9}", 0, "p.a: incompatible change: limit tightened: max"},
    {"\"max_length\":5", "\"max_length\":4", 0, "p.b: incompatible change: limit tightened: max_length"},
    {"[\"x\",\"y\"]", "[\"x\"]", 0, "p.b: incompatible change: limit tightened: enum value \"y\" removed"},
    {"{\"id\":4,\"type\":\"float\",\"indexed\":true}", "{\"id\":4,\"type\":\"float\",\"max\":3}", 0, "p.d: incompatible change: limit tightened: max"},
    {"\"n\":{\"id\":1,\"type\":\"string\"}", "\"n\":{\"id\":1,\"type\":\"string\",\"required\":true}", 0, "u.n: incompatible change: made required"},
    {"\"n\":{\"id\":1,\"type\":\"string\"}", "\"n\":{\"id\":1,\"type\":\"string\",\"enum\":[\"k\"]}", 0, "u.n: incompatible change: limit tightened: enum added"},
};

static char *subst(const char *base, const char *find, const char *rep)
{
    const char *at = find[0] ? strstr(base, find) : base;
    size_t n = strlen(base) + strlen(rep) + 1;
    char *out = malloc(n);
    if (!at) {
        fprintf(stderr, "\n  test bug: \"%s\" not in base\n", find);
        snprintf(out, n, "%s", base);
        return out;
    }
    snprintf(out, n, "%.*s%s%s", (int)(at - base), base, rep, at + strlen(find));
    return out;
}

static void test_evolution_rules(void)
{
    const char *base = "{" BASE "}";
    for (size_t i = 0; i < sizeof evo_cases / sizeof evo_cases[0]; i++) {
        const evo_case *c = &evo_cases[i];
        char *next_types = subst(base, c->find, c->replace);
        ent_schema *prev = load(base, 1), *next = load(next_types, 2);
        int rc;
        CU_ASSERT_PTR_NOT_NULL_FATAL(prev);
        CU_ASSERT_PTR_NOT_NULL_FATAL(next);
        rc = ent_schema_compare(prev, next);
        if ((rc == ENT_OK) != c->ok || (!c->ok && (rc != ENT_SCHEMA || !strstr(ent_errmsg(), c->what))))
            fprintf(stderr, "\n  evolution case %zu: rc %d \"%s\" (want %s \"%s\")\n", i, rc, ent_errmsg(),
                    c->ok ? "ok" : "refusal", c->what ? c->what : "");
        CU_ASSERT_EQUAL(rc == ENT_OK, c->ok);
        if (!c->ok) {
            CU_ASSERT_EQUAL(rc, ENT_SCHEMA);
            CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), c->what));
        }
        ent_schema_free(prev);
        ent_schema_free(next);
        free(next_types);
    }
    /* shrinking in one direction is growing in the other: the refusal is not symmetric */
    {
        ent_schema *a = load("{\"t\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"string\",\"max_length\":5}}}}", 1);
        ent_schema *b = load("{\"t\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,\"type\":\"string\",\"max_length\":9}}}}", 2);
        ENT_OK_(ent_schema_compare(a, b));
        ENT_CHECK_RC(ent_schema_compare(b, a), ENT_SCHEMA);
        ENT_ASSERT_MSG("t.x");
        ent_schema_free(a);
        ent_schema_free(b);
    }
}

/* A message names a deep field whole at its innermost steps: a limit added four maps down under
 * names of 60 letters. The path was cut at 200 bytes, naming a field "ddd...d" (14 letters) that
 * the type does not have, the field at fault left out; now the middle gives way to "...". */
static void test_deep_field_named_in_messages(void)
{
    char types[2][2048], names[5][61], want[256];
    for (int i = 0; i < 5; i++) {
        memset(names[i], 'a' + i, 60);
        names[i][60] = '\0';
    }
    for (int v = 0; v < 2; v++) {
        char *p = types[v] + sprintf(types[v], "{\"t\":{\"key\":\"auto\",\"fields\":{");
        for (int i = 0; i < 4; i++) p += sprintf(p, "\"%s\":{\"id\":1,\"type\":\"map\",\"fields\":{", names[i]);
        p += sprintf(p, "\"%s\":{\"id\":1,\"type\":\"int\"%s}", names[4], v ? ",\"max\":5" : "");
        for (int i = 0; i < 4; i++) p += sprintf(p, "}}");
        sprintf(p, "}}}");
    }
    {
        ent_schema *a = load(types[0], 1), *b = load(types[1], 2);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        ENT_CHECK_RC(ent_schema_compare(a, b), ENT_SCHEMA);
        snprintf(want, sizeof want, "%s.%s: incompatible change: limit tightened", names[3], names[4]);
        ENT_ASSERT_MSG(want);
        CU_ASSERT_EQUAL(strncmp(ent_errmsg(), "t...", 4), 0);
        ent_schema_free(a);
        ent_schema_free(b);
    }
}

/* A map's default gets its sub-fields' defaults before it is checked: {} for a map whose required
 * q defaults to 3 (in an array's map items too) was refused as "missing required field", though
 * every entity gets q = 3. Without q's default it is still refused. */
static void test_default_fills_required_sub_field(void)
{
    static const char ok[] =
        "{\"schema\":\"a\",\"version\":1,\"types\":{\"x\":{\"key\":\"auto\",\"fields\":{"
        "\"m\":{\"id\":1,\"type\":\"map\",\"default\":{},\"fields\":{\"q\":{\"id\":1,\"type\":\"int\",\"required\":true,\"default\":3}}},"
        "\"l\":{\"id\":2,\"type\":\"array\",\"default\":[{}],\"items\":{\"type\":\"map\",\"fields\":{"
        "  \"z\":{\"id\":1,\"type\":\"bool\",\"required\":true,\"default\":true}}}}}}}}";
    static const char bad[] =
        "{\"schema\":\"a\",\"version\":1,\"types\":{\"x\":{\"key\":\"auto\",\"fields\":{"
        "\"m\":{\"id\":1,\"type\":\"map\",\"default\":{},\"fields\":{\"q\":{\"id\":1,\"type\":\"int\",\"required\":true}}}}}}}";
    ent_schema *s = NULL;
    ent_entity *e = NULL;
    char *j = NULL;
    ENT_OK_(ent_schema_load_json(&s, ok, strlen(ok), "ok"));
    ENT_OK_(ent_entity_new(&e, ent_schema_type(s, "x")));
    ENT_OK_(ent_entity_apply_defaults(e));
    ENT_OK_(ent_entity_validate(e));
    ENT_OK_(ent_entity_to_json(&j, e, 0));
    CU_ASSERT_STRING_EQUAL(j, "{\"m\":{\"q\":3},\"l\":[{\"z\":true}]}");
    free(j);
    ent_entity_free(e);
    ent_schema_free(s);
    s = NULL;
    ENT_CHECK_RC(ent_schema_load_json(&s, bad, strlen(bad), "bad"), ENT_SCHEMA);
    ENT_ASSERT_MSG("x.m.q: missing required field");
}

/* A float's default written -0 is -0.0 (jansson reads the text -0 as the integer 0, and the
 * default was that integer printed: its entities got +0.0, the schema rendered "default":0), at
 * the top, in an array's items and in a declared map, from a file and from the builder; the
 * rendered schema loads back to itself. An int's -0 is 0. */
static void test_negative_zero_default(void)
{
    static const char text[] =
        "{\"schema\":\"z\",\"version\":1,\"types\":{\"x\":{\"key\":\"auto\",\"fields\":{"
        "\"g\":{\"id\":1,\"type\":\"float\",\"default\":-0},"
        "\"a\":{\"id\":2,\"type\":\"array\",\"items\":{\"type\":\"float\"},\"default\":[-0,0,-0.0]},"
        "\"m\":{\"id\":3,\"type\":\"map\",\"fields\":{\"y\":{\"id\":1,\"type\":\"float\"},\"n\":{\"id\":2,\"type\":\"int\"}},"
        "  \"default\":{\"y\":-0,\"n\":-0}},"
        "\"i\":{\"id\":4,\"type\":\"int\",\"default\":-0}}}}}";
    ent_schema *s = NULL, *back = NULL, *b = NULL;
    ent_type *t = NULL;
    ent_field *f = NULL;
    ent_entity *e = NULL;
    char *j = NULL, *j2 = NULL;
    ENT_OK_(ent_schema_load_json(&s, text, strlen(text), "z"));
    ENT_OK_(ent_entity_new(&e, ent_schema_type(s, "x")));
    ENT_OK_(ent_entity_apply_defaults(e));
    ent_test_zero_sign(e, "g", 1);
    ent_test_zero_sign(e, "a[0]", 1);
    ent_test_zero_sign(e, "a[1]", 0);
    ent_test_zero_sign(e, "a[2]", 1);
    ent_test_zero_sign(e, "m.y", 1);
    ent_entity_free(e);
    ENT_OK_(ent_schema_to_json(&j, s, 0));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"g\":{\"id\":1,\"type\":\"float\",\"default\":-0.0}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"default\":[-0.0,0,-0.0]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"default\":{\"y\":-0.0,\"n\":0}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"i\":{\"id\":4,\"type\":\"int\",\"default\":0}"));
    ENT_OK_(ent_schema_load_json(&back, j, strlen(j), "back"));
    ENT_OK_(ent_schema_to_json(&j2, back, 0));
    CU_ASSERT_STRING_EQUAL(j, j2);
    free(j2);
    free(j);
    /* the builder's "-0" renders as its entities read it */
    ENT_OK_(ent_schema_new(&b, "zb", 1));
    ENT_OK_(ent_schema_add_type(&t, b, "x", ENT_KEY_AUTO));
    ENT_OK_(ent_type_add_field(&f, t, "g", 1, ENT_KIND_FLOAT));
    ENT_OK_(ent_field_set_default_json(f, "-0"));
    ENT_OK_(ent_schema_check(b));
    ENT_OK_(ent_entity_new(&e, ent_schema_type(b, "x")));
    ENT_OK_(ent_entity_apply_defaults(e));
    ent_test_zero_sign(e, "g", 1);
    ent_entity_free(e);
    ENT_OK_(ent_schema_to_json(&j, b, 0));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"default\":-0.0"));
    free(j);
    ent_schema_free(b);
    ent_schema_free(back);
    ent_schema_free(s);
}

/* A built schema renders to JSON that loads back to the same text, bounds of every kind on every
 * numeric field included: a store compares the two texts when it is opened again with the schema
 * it was made with (a float field with ent_field_set_min_int(-5) rendered "min":-5, its stored
 * copy "min":-5.0, and the reopen was refused as a differing schema). A bound above 2^63-1 is
 * written as a decimal string, which only a uint field reads: elsewhere it is refused when set. */
static void test_builder_bounds_round_trip(void)
{
    static const ent_kind kinds[] = {ENT_KIND_INT, ENT_KIND_UINT, ENT_KIND_FLOAT, ENT_KIND_TIMESTAMP};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (int b = 0; b < 5; b++) {
            ent_schema *s = NULL, *back = NULL;
            ent_type *t = NULL;
            ent_field *f = NULL;
            char *j1 = NULL, *j2 = NULL;
            int rc;
            ENT_OK_(ent_schema_new(&s, "b", 1));
            ENT_OK_(ent_schema_add_type(&t, s, "x", ENT_KEY_AUTO));
            ENT_OK_(ent_type_add_field(&f, t, "e", 1, kinds[k]));
            switch (b) {
            case 0: rc = ent_field_set_min_int(f, -5); break;
            case 1: rc = ent_field_set_max_uint(f, 7); break;
            case 2: rc = ent_field_set_max_float(f, 1e300); break;
            case 3: rc = ent_field_set_min_float(f, 2.5); break;
            default: rc = ent_field_set_max_uint(f, UINT64_MAX); break;
            }
            if (b == 4 && kinds[k] != ENT_KIND_UINT && kinds[k] != ENT_KIND_FLOAT) {
                CU_ASSERT_EQUAL(rc, ENT_SCHEMA);
                ENT_ASSERT_MSG("x.e: bound 18446744073709551615 is above 2^63-1");
                ent_schema_free(s);
                continue;
            }
            ENT_OK_(rc);
            ENT_OK_(ent_schema_check(s));
            ENT_OK_(ent_schema_to_json(&j1, s, 0));
            ENT_OK_(ent_schema_load_json(&back, j1, strlen(j1), "rt"));
            ENT_OK_(ent_schema_to_json(&j2, back, 0));
            if (strcmp(j1, j2)) fprintf(stderr, "\n  %s: %s\n  reloads as %s\n", ent_kind_name(kinds[k]), j1, j2);
            CU_ASSERT_STRING_EQUAL(j1, j2);
            free(j1);
            free(j2);
            ent_schema_free(back);
            ent_schema_free(s);
        }
    }
}

/* A check that fails leaves nothing behind: the defaults set after it are the ones applied. */
static void test_builder_check_again(void)
{
    ent_schema *q = NULL;
    ent_type *t = NULL;
    ent_field *a = NULL, *b = NULL;
    ent_entity *e = NULL;
    const char *str = NULL;
    size_t len = 0;
    ENT_OK_(ent_schema_new(&q, "q", 1));
    ENT_OK_(ent_schema_add_type(&t, q, "t", ENT_KEY_AUTO));
    ENT_OK_(ent_type_add_field(&a, t, "a", 1, ENT_KIND_STRING));
    ENT_OK_(ent_field_set_default_json(a, "\"old\""));
    ENT_OK_(ent_type_add_field(&b, t, "b", 2, ENT_KIND_INT));
    ENT_OK_(ent_field_set_default_json(b, "\"not an int\""));
    ENT_CHECK_RC(ent_schema_check(q), ENT_SCHEMA);
    ENT_ASSERT_MSG("t.b");
    ENT_OK_(ent_field_set_default_json(a, "\"new\""));
    ENT_OK_(ent_field_set_default_json(b, "1"));
    ENT_OK_(ent_schema_check(q));
    ENT_OK_(ent_entity_new(&e, t));
    ENT_OK_(ent_entity_apply_defaults(e));
    ENT_OK_(ent_entity_get_string(&str, &len, e, "a"));
    CU_ASSERT_STRING_EQUAL(str, "new");
    ent_entity_free(e);
    ent_schema_free(q);
}

/* A schema nests at most ENT__SCHEMA_MAX_DEPTH (256) levels of maps and arrays, in the builder
 * and so in files: a host that built 100 000 levels of arrays crashed in ent_schema_check() (the
 * checks, copies and frees recurse per level; a stack overflow), and a file of 2 000 levels (as
 * deep as JSON is read) did so on a 512 KiB stack. The deepest schema allowed checks, writes
 * itself as JSON and loads back. */
/* A schema "deep" whose field x nests containers (maps "m" or arrays) down to level `levels`
 * (x is level 1), the last holding an int (a level deeper); *level: the level of the call that
 * failed, or 0. */
static int build_deep(ent_schema **out, int maps, int levels, int *level)
{
    ent_type *t = NULL;
    ent_field *f = NULL, *next = NULL;
    int rc;
    *level = 0;
    ENT_OK_(ent_schema_new(out, "deep", 1));
    ENT_OK_(ent_schema_add_type(&t, *out, "t", ENT_KEY_AUTO));
    ENT_OK_(ent_type_add_field(&f, t, "x", 1, maps ? ENT_KIND_MAP : ENT_KIND_ARRAY));
    for (int l = 2; l <= levels + 1; l++, f = next) {
        ent_kind k = l == levels + 1 ? ENT_KIND_INT : maps ? ENT_KIND_MAP : ENT_KIND_ARRAY;
        rc = maps ? ent_field_add_field(&next, f, "m", 1, k) : ent_field_set_items(&next, f, k);
        if (rc) {
            *level = l;
            return rc;
        }
    }
    return ENT_OK;
}

static void test_nesting_bounded(void)
{
    ent_schema *s = NULL, *back = NULL;
    char *json = NULL;
    int level, rc;
    for (int maps = 0; maps < 2; maps++) {
        rc = build_deep(&s, maps, 100000, &level);
        CU_ASSERT_EQUAL_FATAL(rc, ENT_SCHEMA); /* before: every level taken, then a crash */
        CU_ASSERT_EQUAL(level, ENT__SCHEMA_MAX_DEPTH + 1);
        ENT_ASSERT_MSG("nested deeper than 256 levels");
        ent_schema_free(s);
        /* 255 levels of containers and an int at 256: checks, writes itself and reads back */
        ENT_OK_(build_deep(&s, maps, ENT__SCHEMA_MAX_DEPTH - 1, &level));
        CU_ASSERT_EQUAL(rc = ent_schema_check(s), ENT_OK);
        if (rc == ENT_OK) {
            ENT_OK_(ent_schema_to_json(&json, s, 0));
            ENT_OK_(ent_schema_load_json(&back, json, strlen(json), "deep"));
            CU_ASSERT_EQUAL(ent_schema_compare(s, back), ENT_OK);
            ent_schema_free(back);
            back = NULL;
            free(json);
            json = NULL;
        }
        ent_schema_free(s);
        s = NULL;
    }
    { /* a file of 300 levels: refused, naming the limit */
        size_t cap = 64 + 300 * 40, at = 0;
        char *doc = malloc(cap);
        CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
        at += (size_t)snprintf(doc + at, cap - at, "{\"schema\":\"d\",\"version\":1,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{\"x\":{\"id\":1,");
        for (int i = 0; i < 300; i++) at += (size_t)snprintf(doc + at, cap - at, "\"type\":\"array\",\"items\":{");
        at += (size_t)snprintf(doc + at, cap - at, "\"type\":\"int\"");
        for (int i = 0; i < 300; i++) at += (size_t)snprintf(doc + at, cap - at, "}");
        snprintf(doc + at, cap - at, "}}}}}");
        ENT_CHECK_RC(ent_schema_load_json(&s, doc, strlen(doc), "deep.json"), ENT_SCHEMA);
        ENT_ASSERT_MSG("deep.json: types.t.fields.x.items.items");
        ENT_ASSERT_MSG("nested deeper than 256 levels");
        free(doc);
    }
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(test_bad_documents),
        ENT_TEST(test_shipped_files_load_and_round_trip),
        ENT_TEST(test_shop_model),
        ENT_TEST(test_field_lookup_many),
        ENT_TEST(test_wide_type_colliding_names),
        ENT_TEST(test_wide_schema_linear_work),
        ENT_TEST(test_missing_file),
        ENT_TEST(test_builder),
        ENT_TEST(test_builder_check_again),
        ENT_TEST(test_nesting_bounded),
        ENT_TEST(test_evolution_rules), ENT_TEST(test_deep_field_named_in_messages), ENT_TEST(test_builder_bounds_round_trip), ENT_TEST(test_default_fills_required_sub_field), ENT_TEST(test_negative_zero_default),
        {NULL, NULL},
    };
    return ent_test_run("schema", cases);
}
