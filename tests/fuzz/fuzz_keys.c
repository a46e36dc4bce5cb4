/* Fuzz index look-up values and resume tokens (both come from outside: a command line, a page
 * token a client sends back) against two small stores in memory: the shop (schemas/shop.json) and
 * one of this harness's own whose indexes are of the kinds shop has none of (bool, uint, bytes,
 * unique uint and bytes, a ref to string keys), so that their look-ups and ranges are fuzzed too.
 * Input: one byte choosing the mode (its bit 2: the second store), then per mode:
 *   0  resume token for a type scan (type, flags, limit, token text)
 *   1  resume token for an index range (field, flags, limit, from text, to text, token text)
 *   2  a value as text for ent_value_parse() on any top-level field, then ent_find() with it
 *   3  a raw value of any kind and length for ent_find() on an indexed field
 * Properties: a refusal has a known code and a message; an accepted token resumes inside the
 * full scan: what it returns is a contiguous run of the full scan's keys in the same direction,
 * running to the end unless the limit stops it; a found entity holds the value looked up. */
#include "fuzz_util.h"
#include "fuzz_shop.h"

static ent_store *st, *shop_st, *kinds_st;

/* The index kinds shop lacks, each on a top-level field: "tag" has string keys and "item" refs it. */
static const char kinds_schema[] =
    "{\"schema\":\"keykinds\",\"version\":1,\"types\":{"
    "\"tag\":{\"key\":\"string\",\"fields\":{\"label\":{\"id\":1,\"type\":\"string\"}}},"
    "\"item\":{\"key\":\"auto\",\"fields\":{"
    "\"on\":{\"id\":1,\"type\":\"bool\",\"indexed\":true},"
    "\"n\":{\"id\":2,\"type\":\"uint\",\"indexed\":true},"
    "\"blob\":{\"id\":3,\"type\":\"bytes\",\"indexed\":true},"
    "\"tag\":{\"id\":4,\"type\":\"ref\",\"to\":\"tag\"},"
    "\"code\":{\"id\":5,\"type\":\"uint\",\"unique\":true},"
    "\"sig\":{\"id\":6,\"type\":\"bytes\",\"unique\":true}}}}}";

/* Tags (keys with a NUL, UTF-8, the longest a key may be) and items over the edges of each kind:
 * uints 0, 1, 2^63 and 2^64-1, bytes empty, with NULs and 0xff, fields left unset. */
static void fill_kinds(ent_store *s)
{
    const ent_type *tg = ent_store_type(s, "tag"), *it = ent_store_type(s, "item");
    static const uint64_t ns[] = {0, 1, 5, 1ull << 63, UINT64_MAX, 5, 1};
    static const char *const blobs[] = {"", "\0", "\0\0", "a\xff", "\xff\xff\xff", "ab", NULL};
    static const size_t blob_len[] = {0, 1, 2, 2, 3, 2, 0};
    char big[ENT_KEY_STRING_MAX];
    const char *tags[5] = {"alpha", "beta", "\xc3\xa9t\xc3\xa9", NULL, "a\0b"};
    size_t tag_len[5] = {5, 4, 5, sizeof big, 3};
    ent_entity *e;
    memset(big, 'z', sizeof big);
    tags[3] = big;
    for (int i = 0; i < 5; i++) {
        ent_key k = {0};
        k.kind = ENT_KEY_STRING;
        k.str = tags[i];
        k.len = tag_len[i];
        must(ent_entity_new(&e, tg), "new tag");
        must(ent_entity_set_key(e, &k), "tag key");
        must(ent_entity_set_string(e, "label", "x"), "set");
        must(ent_create(s, NULL, e), "create tag");
        ent_entity_free(e);
    }
    for (int i = 0; i < 7; i++) {
        const ent_field *tagf = ent_type_field(it, "tag"), *sigf = ent_type_field(it, "sig");
        uint8_t sig[3] = {(uint8_t)i, 0, 0xff};
        must(ent_entity_new(&e, it), "new item");
        if (i != 6) must(ent_entity_set_bool(e, "on", i % 2), "set");
        must(ent_entity_set_uint(e, "n", ns[i]), "set");
        if (blobs[i]) must(ent_entity_set_bytes(e, "blob", blobs[i], blob_len[i]), "set");
        if (i != 5) must(ent_entity_field_set_string(e, tagf, tags[i % 5], tag_len[i % 5]), "set ref");
        if (i != 4) must(ent_entity_set_uint(e, "code", i == 3 ? UINT64_MAX : (uint64_t)i * 7), "set");
        if (i != 2) must(ent_entity_field_set_bytes(e, sigf, sig, (size_t)(i % 3) + 1), "set");
        must(ent_create(s, NULL, e), "create item");
        ent_entity_free(e);
    }
}

#define MAXK 64
typedef struct keylist {
    char k[MAXK][300];
    size_t n;
} keylist;

static void key_text(char *buf, size_t size, const ent_entity *e)
{
    ent_key k = ent_entity_key(e);
    if (k.kind == ENT_KEY_AUTO) snprintf(buf, size, "#%llu", (unsigned long long)k.id);
    else snprintf(buf, size, "s%.*s", (int)k.len, k.str);
}

/* Drain it into out (NULL: just drain). Returns the code that ended it. */
static int collect(keylist *out, ent_iter *it)
{
    ent_entity *e;
    int rc;
    if (out) out->n = 0;
    while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
        if (out && out->n < MAXK) key_text(out->k[out->n++], sizeof out->k[0], e);
        ent_entity_free(e);
    }
    FUZZ_CHECK(rc == ENT_NOTFOUND, "iteration ended with %d", rc);
    return rc;
}

/* e's value of top-level field f equals v (a neighbouring kind as ent_find() takes it, store.h). */
static int holds(const ent_entity *e, const ent_field *f, const ent_value *v)
{
    const char *str;
    const void *bytes;
    size_t len;
    int64_t i;
    uint64_t u;
    double d;
    int b;
    switch (ent_field_kind(f)) {
    case ENT_KIND_BOOL:
        FUZZ_CHECK(ent_entity_field_get_bool(&b, e, f) == ENT_OK, "found entity lacks the field: %s", ent_errmsg());
        return v->kind == ENT_KIND_BOOL && !b == !v->v.b;
    case ENT_KIND_UINT:
        FUZZ_CHECK(ent_entity_field_get_uint(&u, e, f) == ENT_OK, "found entity lacks the field: %s", ent_errmsg());
        if (v->kind == ENT_KIND_UINT) return u == v->v.u;
        if (v->kind == ENT_KIND_INT) return v->v.i >= 0 && u == (uint64_t)v->v.i;
        return 0;
    case ENT_KIND_BYTES:
        FUZZ_CHECK(ent_entity_field_get_bytes(&bytes, &len, e, f) == ENT_OK, "found entity lacks the field: %s", ent_errmsg());
        return (v->kind == ENT_KIND_STRING || v->kind == ENT_KIND_BYTES) && len == v->v.s.len && (!len || !memcmp(bytes, v->v.s.ptr, len));
    case ENT_KIND_REF:
        if (ent_type_key(ent_field_ref_type(f)) == ENT_KEY_AUTO) {
            FUZZ_CHECK(ent_entity_field_get_uint(&u, e, f) == ENT_OK, "found entity lacks the ref: %s", ent_errmsg());
            if (v->kind == ENT_KIND_UINT) return u == v->v.u;
            if (v->kind == ENT_KIND_INT) return v->v.i >= 0 && u == (uint64_t)v->v.i;
            return 0;
        }
        FUZZ_CHECK(ent_entity_field_get_string(&str, &len, e, f) == ENT_OK, "found entity lacks the ref: %s", ent_errmsg());
        return (v->kind == ENT_KIND_STRING || v->kind == ENT_KIND_BYTES) && len == v->v.s.len && (!len || !memcmp(str, v->v.s.ptr, len));
    case ENT_KIND_STRING:
        FUZZ_CHECK(ent_entity_field_get_string(&str, &len, e, f) == ENT_OK, "found entity lacks the field: %s", ent_errmsg());
        return (v->kind == ENT_KIND_STRING || v->kind == ENT_KIND_BYTES) && len == v->v.s.len && (!len || !memcmp(str, v->v.s.ptr, len));
    case ENT_KIND_INT:
    case ENT_KIND_TIMESTAMP:
        FUZZ_CHECK((ent_field_kind(f) == ENT_KIND_INT ? ent_entity_field_get_int(&i, e, f)
                                                      : ent_entity_field_get_timestamp(&i, e, f)) == ENT_OK,
                   "found entity lacks the field: %s", ent_errmsg());
        if (v->kind == ENT_KIND_INT || v->kind == ENT_KIND_TIMESTAMP) return i == v->v.i;
        if (v->kind == ENT_KIND_UINT) return i >= 0 && (uint64_t)i == v->v.u;
        return 0;
    case ENT_KIND_FLOAT:
        FUZZ_CHECK(ent_entity_field_get_float(&d, e, f) == ENT_OK, "found entity lacks the field: %s", ent_errmsg());
        if (v->kind == ENT_KIND_FLOAT) return d == v->v.f; /* -0.0 finds 0.0 */
        if (v->kind == ENT_KIND_INT) return d == (double)v->v.i;
        if (v->kind == ENT_KIND_UINT) return d == (double)v->v.u;
        return 0;
    default:
        return 1;
    }
}

/* Drain a look-up's iterator: every entity it gives holds the value looked up. */
static void collect_found(ent_iter *it, const ent_field *f, const ent_value *v)
{
    ent_entity *e;
    int rc;
    while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
        char k[300];
        key_text(k, sizeof k, e);
        FUZZ_CHECK(holds(e, f, v), "look-up found %s, which does not hold the value (kind %d)", k, (int)v->kind);
        ent_entity_free(e);
    }
    FUZZ_CHECK(rc == ENT_NOTFOUND, "iteration ended with %d", rc);
}

static void setup(void)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_schema *shop, *kinds = NULL;
    if (shop_st) return;
    shop = fuzz_schema("shop");
    o.backend = "memory";
    must(ent_store_open(&shop_st, NULL, shop, &o), "open");
    ent_schema_free(shop);
    fill(shop_st);
    must(ent_schema_load_json(&kinds, kinds_schema, sizeof kinds_schema - 1, "keykinds"), "schema");
    must(ent_store_open(&kinds_st, NULL, kinds, &o), "open kinds");
    ent_schema_free(kinds);
    fill_kinds(kinds_st);
}

/* res is a contiguous run of full, reaching its end unless limit stopped it. */
static void check_run(const keylist *full, const keylist *res, uint64_t limit)
{
    size_t j;
    if (res->n == 0) return;
    for (j = 0; j < full->n && strcmp(full->k[j], res->k[0]); j++) {
    }
    FUZZ_CHECK(j < full->n, "resumed scan returned %s, not in the full scan", res->k[0]);
    for (size_t i = 0; i < res->n; i++)
        FUZZ_CHECK(j + i < full->n && !strcmp(full->k[j + i], res->k[i]), "resumed scan is not a run of the full scan at %zu", i);
    if (!limit || limit > full->n - j) FUZZ_CHECK(j + res->n == full->n, "resumed scan stopped early");
    else FUZZ_CHECK(res->n == limit, "limit %llu not honoured", (unsigned long long)limit);
}

static const ent_field *indexed_field(unsigned b)
{
    const ent_field *all[32];
    size_t n = 0;
    const ent_schema *sc = ent_store_schema(st);
    for (size_t i = 0; i < ent_schema_type_count(sc); i++) {
        const ent_type *t = ent_schema_type_at(sc, i);
        for (size_t j = 0; j < ent_type_field_count(t) && n < 32; j++) {
            const ent_field *f = ent_type_field_at(t, j);
            if (ent_field_is_indexed(f) || ent_field_is_unique(f)) all[n++] = f;
        }
    }
    return all[b % n];
}

static const ent_field *any_field(unsigned b)
{
    const ent_field *all[64];
    size_t n = 0;
    const ent_schema *sc = ent_store_schema(st);
    for (size_t i = 0; i < ent_schema_type_count(sc); i++) {
        const ent_type *t = ent_schema_type_at(sc, i);
        for (size_t j = 0; j < ent_type_field_count(t) && n < 64; j++) all[n++] = ent_type_field_at(t, j);
    }
    return all[b % n];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    unsigned sel = fuzz_u8(&in), mode = sel % 4;
    static keylist full, res;
    ent_range_opts ro = ENT_RANGE_OPTS_INIT, all = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    const uint8_t *c;
    size_t cn;
    int rc;
    setup();
    st = sel & 4 ? kinds_st : shop_st;
    if (mode == 0) {
        const ent_schema *sc = ent_store_schema(st);
        const ent_type *t = ent_schema_type_at(sc, fuzz_u8(&in) % ent_schema_type_count(sc));
        char *tok;
        ro.flags = all.flags = fuzz_u8(&in) & ENT_ITER_REVERSE;
        ro.limit = fuzz_u8(&in) % 5;
        cn = fuzz_chunk(&in, &c);
        ro.resume = tok = fuzz_strndup(c, cn);
        must(ent_scan(&it, st, NULL, t, NULL, &all), "scan");
        collect(&full, it);
        ent_iter_free(it);
        rc = ent_scan(&it, st, NULL, t, NULL, &ro);
        FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
        if (rc == ENT_OK) {
            collect(&res, it);
            check_run(&full, &res, ro.limit);
            ent_iter_free(it);
        }
        free(tok);
    } else if (mode == 1) {
        const ent_field *f = indexed_field(fuzz_u8(&in));
        char *from_s, *to_s, *tok;
        ent_value from, to;
        uint8_t fb[ENT_VALUE_PARSE_BUF_SIZE], tb[ENT_VALUE_PARSE_BUF_SIZE];
        ro.flags = all.flags = fuzz_u8(&in) & ENT_ITER_REVERSE;
        ro.limit = fuzz_u8(&in) % 5;
        cn = fuzz_chunk(&in, &c);
        from_s = fuzz_strndup(c, cn);
        cn = fuzz_chunk(&in, &c);
        to_s = fuzz_strndup(c, cn);
        cn = fuzz_chunk(&in, &c);
        ro.resume = tok = fuzz_strndup(c, cn);
        if (*from_s && ent_value_parse(&from, fb, sizeof fb, f, from_s) == ENT_OK) ro.from = all.from = &from;
        if (*to_s && ent_value_parse(&to, tb, sizeof tb, f, to_s) == ENT_OK) ro.to = all.to = &to;
        rc = ent_range(&it, st, NULL, f, &all);
        FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
        if (rc == ENT_OK) {
            collect(&full, it);
            ent_iter_free(it);
            rc = ent_range(&it, st, NULL, f, &ro);
            FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
            if (rc == ENT_OK) {
                collect(&res, it);
                check_run(&full, &res, ro.limit);
                ent_iter_free(it);
            }
        }
        free(from_s);
        free(to_s);
        free(tok);
    } else if (mode == 2) {
        const ent_field *f = any_field(fuzz_u8(&in));
        uint8_t buf[ENT_VALUE_PARSE_BUF_SIZE];
        ent_value v;
        char *text;
        cn = fuzz_chunk(&in, &c);
        text = fuzz_strndup(c, cn);
        rc = ent_value_parse(&v, ent_field_kind(f) == ENT_KIND_BYTES ? buf : NULL,
                             ent_field_kind(f) == ENT_KIND_BYTES ? sizeof buf : 0, f, text);
        FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
        if (rc == ENT_OK && (ent_field_is_indexed(f) || ent_field_is_unique(f))) {
            rc = ent_find(&it, st, NULL, f, &v);
            FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
            if (rc == ENT_OK) {
                collect_found(it, f, &v);
                ent_iter_free(it);
            }
        }
        free(text);
    } else {
        const ent_field *f = indexed_field(fuzz_u8(&in));
        ent_value v;
        memset(&v, 0, sizeof v);
        v.kind = (ent_kind)(fuzz_u8(&in) % 12);
        switch (v.kind) {
        case ENT_KIND_STRING:
        case ENT_KIND_BYTES:
            v.v.s.len = fuzz_chunk(&in, &c);
            v.v.s.ptr = c;
            break;
        case ENT_KIND_FLOAT: {
            uint64_t u = fuzz_u64(&in);
            memcpy(&v.v.f, &u, sizeof u);
            break;
        }
        default:
            v.v.u = fuzz_u64(&in);
            if (v.kind == ENT_KIND_BOOL) v.v.b = (int)(v.v.u & 0xff);
            break;
        }
        rc = ent_find(&it, st, NULL, f, &v);
        FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
        if (rc == ENT_OK) {
            collect_found(it, f, &v);
            ent_iter_free(it);
        }
        ro.from = &v;
        rc = ent_range(&it, st, NULL, f, &ro);
        FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
        if (rc == ENT_OK) {
            collect(NULL, it);
            ent_iter_free(it);
        }
    }
    return 0;
}
