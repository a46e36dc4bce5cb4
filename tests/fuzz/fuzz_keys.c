/* Fuzz index look-up values and resume tokens (both come from outside: a command line, a page
 * token a client sends back) against a small shop store in memory.
 * Input: one byte choosing the mode, then per mode:
 *   0  resume token for a type scan (type, flags, limit, token text)
 *   1  resume token for an index range (field, flags, limit, from text, to text, token text)
 *   2  a value as text for ent_value_parse() on any top-level field, then ent_find() with it
 *   3  a raw value of any kind and length for ent_find() on an indexed field
 * Properties: a refusal has a known code and a message; an accepted token resumes inside the
 * full scan: what it returns is a contiguous run of the full scan's keys in the same direction,
 * running to the end unless the limit stops it; a found entity holds the value looked up. */
#include "fuzz_util.h"
#include "fuzz_shop.h"

static ent_store *st;

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

/* e's value of top-level field f equals v (a neighbouring kind as ent_find() takes it, store.h);
 * 1 for what it does not compare (bool, bytes, refs: shop indexes none of them). */
static int holds(const ent_entity *e, const ent_field *f, const ent_value *v)
{
    const char *str;
    size_t len;
    int64_t i;
    double d;
    switch (ent_field_kind(f)) {
    case ENT_KIND_STRING:
        FUZZ_CHECK(ent_entity_field_get_string(&str, &len, e, f) == ENT_OK, "found entity lacks the field: %s", ent_errmsg());
        return (v->kind == ENT_KIND_STRING || v->kind == ENT_KIND_BYTES) && len == v->v.s.len && !memcmp(str, v->v.s.ptr, len);
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
    ent_schema *shop;
    if (st) return;
    shop = fuzz_schema("shop");
    o.backend = "memory";
    must(ent_store_open(&st, NULL, shop, &o), "open");
    ent_schema_free(shop);
    fill(st);
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
    unsigned mode = fuzz_u8(&in) % 4;
    static keylist full, res;
    ent_range_opts ro = ENT_RANGE_OPTS_INIT, all = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    const uint8_t *c;
    size_t cn;
    int rc;
    setup();
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
