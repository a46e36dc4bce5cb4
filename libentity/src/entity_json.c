/* Entity values as JSON (jansson), both ways: data objects keyed by field name, timestamps as
 * RFC 3339 UTC strings with nanoseconds, bytes as base64, uint above 2^63-1 as decimal strings. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "error_int.h"
#include "json_write.h"
#include "json_io.h"
#include "keys.h"
#include "rfc3339.h"
#include "value_int.h"

/* ---- values to JSON ---------------------------------------------------------------------- */

/* jansson refuses invalid UTF-8; an unvalidated entity may hold some. Print U+FFFD instead of
 * failing: output is for people and tools, and validation is what keeps stores clean. */
static json_t *jstr(const char *s, size_t n)
{
    json_t *j;
    char *fix, *o;
    size_t i;
    if (ent__utf8_ok(s, n)) return json_stringn(s, n);
    fix = malloc(n * 3 + 1);
    if (!fix) return NULL;
    for (i = 0, o = fix; i < n; i++) {
        if ((unsigned char)s[i] < 0x80) *o++ = s[i];
        else memcpy(o, "\xef\xbf\xbd", 3), o += 3;
    }
    j = json_stringn(fix, (size_t)(o - fix));
    free(fix);
    return j;
}

static int obj_setn(json_t *o, const char *k, size_t klen, json_t *v)
{
    char *fix, *p;
    size_t i;
    int rc;
    if (!v) return -1;
    /* A NUL in a key (only a damaged record holds one: JSON input and paths cannot) would give
     * JSON that jansson, and the event rendering that parses it back, refuse: U+FFFD too. */
    if (ent__utf8_ok(k, klen) && !memchr(k, 0, klen)) return json_object_setn_new(o, k, klen, v);
    fix = malloc(klen * 3 + 1);
    if (!fix) {
        json_decref(v);
        return -1;
    }
    for (i = 0, p = fix; i < klen; i++) {
        if ((unsigned char)k[i] < 0x80 && k[i]) *p++ = k[i];
        else memcpy(p, "\xef\xbf\xbd", 3), p += 3;
    }
    rc = json_object_setn_new(o, fix, (size_t)(p - fix), v);
    free(fix);
    return rc;
}

static json_t *juint(uint64_t u)
{
    char buf[24];
    if (u <= INT64_MAX) return json_integer((json_int_t)u);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
    return json_string(buf);
}

static json_t *val_to_json(const ent_field *spec, const ent_val *v)
{
    json_t *j;
    size_t i;
    char buf[48];
    switch (v->k) {
    case EV_UNSET:
    case EV_NIL: return json_null();
    case EV_BOOL: return json_boolean(v->u.b);
    case EV_INT: return json_integer((json_int_t)v->u.i);
    case EV_UINT: return juint(v->u.u);
    case EV_FLOAT:
        if (isnan(v->u.f)) return json_string("NaN");
        if (isinf(v->u.f)) return json_string(v->u.f > 0 ? "Infinity" : "-Infinity");
        return json_real(v->u.f);
    case EV_STR: return jstr(v->u.s.p, v->u.s.n);
    case EV_BIN: {
        char *b = malloc(ent__b64_enc_len(v->u.s.n) + 1);
        if (!b) return NULL;
        ent__b64_encode(b, v->u.s.p, v->u.s.n);
        j = json_string(b);
        free(b);
        return j;
    }
    case EV_TS: ent__ts_format(buf, v->u.i); return json_string(buf);
    case EV_ARR:
        if (!(j = json_array())) return NULL;
        for (i = 0; i < v->u.a.n; i++)
            if (json_array_append_new(j, val_to_json(spec ? spec->items : NULL, &v->u.a.v[i]))) goto fail;
        return j;
    case EV_MAP:
        if (!(j = json_object())) return NULL;
        for (i = 0; spec && i < v->u.m.n && i < spec->n_fields; i++) {
            const ent_field *sf = spec->fields[i];
            if (v->u.m.v[i].k == EV_UNSET) continue;
            if (json_object_set_new(j, sf->name, val_to_json(sf, &v->u.m.v[i]))) goto fail;
        }
        return j;
    case EV_OBJ:
        if (!(j = json_object())) return NULL;
        for (i = 0; i < v->u.o.n; i++) {
            const ent_kv *kv = &v->u.o.kv[i];
            if (obj_setn(j, kv->k, kv->klen, val_to_json(NULL, &kv->v))) goto fail;
        }
        return j;
    default: return json_null();
    }
fail:
    json_decref(j);
    return NULL;
}

static size_t dump_flags(unsigned flags)
{
    return flags & ENT_JSON_PRETTY ? JSON_INDENT(2) : JSON_COMPACT;
}

int ent__val_to_json_text(char **out, const ent_field *spec, const ent_val *v, unsigned flags)
{
    json_t *j = val_to_json(spec, v);
    *out = j ? ent__json_dumps(j, dump_flags(flags)) : NULL;
    json_decref(j);
    return *out ? ENT_OK : ent__err(ENT_NOMEM, "out of memory");
}

static json_t *data_to_json(const ent_entity *e)
{
    const ent_type *t = e->type;
    json_t *o = json_object();
    if (!o) return NULL;
    for (size_t i = 0; i < t->n_fields; i++) {
        if (e->slots[i].k == EV_UNSET) continue;
        if (json_object_set_new(o, t->fields[i]->name, val_to_json(t->fields[i], &e->slots[i]))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

struct json_t *ent__entity_data_json(const ent_entity *e) { return data_to_json(e); }

struct json_t *ent__val_json(const ent_field *spec, const ent_val *v) { return val_to_json(spec, v); }

/* ---- values straight to compact text ------------------------------------------------------ */

/* The same text as val_to_json() then ent__json_dumps(JSON_COMPACT), without the tree: events are
 * printed one per message by the relay, and building and freeing a jansson object per field was
 * most of the cost of an event's JSON. tests/test_entity_json.c compares the two on every kind of
 * value. Free-form maps still go through the tree (their keys may repeat or need repair, which
 * jansson's object resolves). */
/* a string literal's bytes, its length counted by the compiler */
#define PUT_LIT(b, lit) ent__jb_put((b), (lit), sizeof(lit) - 1)

static void write_str(ent__jbuf *b, const char *s, size_t n)
{
    char *fix, *o;
    if (ent__utf8_ok(s, n)) {
        ent__jb_string(b, s, n);
        return;
    }
    if (!(fix = malloc(n * 3 + 1))) { /* as jstr(): U+FFFD for each byte outside ASCII */
        b->oom = 1;
        return;
    }
    o = fix;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x80) *o++ = s[i];
        else memcpy(o, "\xef\xbf\xbd", 3), o += 3;
    }
    ent__jb_string(b, fix, (size_t)(o - fix));
    free(fix);
}

static void write_name(ent__jbuf *b, const char *name)
{
    ent__jb_string(b, name, strlen(name));
    PUT_LIT(b, ":");
}

static void write_val(ent__jbuf *b, const ent_field *spec, const ent_val *v)
{
    char buf[48];
    switch (v->k) {
    case EV_BOOL:
        if (v->u.b) PUT_LIT(b, "true");
        else PUT_LIT(b, "false");
        return;
    case EV_INT: ent__jb_i64(b, v->u.i); return;
    case EV_UINT:
        if (v->u.u <= INT64_MAX) {
            ent__jb_u64(b, v->u.u);
        } else {
            PUT_LIT(b, "\"");
            ent__jb_u64(b, v->u.u);
            PUT_LIT(b, "\"");
        }
        return;
    case EV_FLOAT:
        if (isnan(v->u.f)) PUT_LIT(b, "\"NaN\"");
        else if (isinf(v->u.f) && v->u.f > 0) PUT_LIT(b, "\"Infinity\"");
        else if (isinf(v->u.f)) PUT_LIT(b, "\"-Infinity\"");
        else ent__jb_real(b, v->u.f);
        return;
    case EV_STR: write_str(b, v->u.s.p, v->u.s.n); return;
    case EV_BIN: {
        char *t = malloc(ent__b64_enc_len(v->u.s.n) + 1);
        if (!t) {
            b->oom = 1;
            return;
        }
        ent__b64_encode(t, v->u.s.p, v->u.s.n);
        ent__jb_string(b, t, strlen(t));
        free(t);
        return;
    }
    case EV_TS:
        ent__ts_format(buf, v->u.i);
        ent__jb_string(b, buf, strlen(buf));
        return;
    case EV_ARR:
        PUT_LIT(b, "[");
        for (size_t i = 0; i < v->u.a.n; i++) {
            if (i) PUT_LIT(b, ",");
            write_val(b, spec ? spec->items : NULL, &v->u.a.v[i]);
        }
        PUT_LIT(b, "]");
        return;
    case EV_MAP: {
        int first = 1;
        PUT_LIT(b, "{");
        for (size_t i = 0; spec && i < v->u.m.n && i < spec->n_fields; i++) {
            if (v->u.m.v[i].k == EV_UNSET) continue;
            if (!first) PUT_LIT(b, ",");
            first = 0;
            write_name(b, spec->fields[i]->name);
            write_val(b, spec->fields[i], &v->u.m.v[i]);
        }
        PUT_LIT(b, "}");
        return;
    }
    case EV_OBJ: {
        json_t *j = val_to_json(NULL, v);
        ent__jb_json(b, j, JSON_COMPACT);
        json_decref(j);
        return;
    }
    default: PUT_LIT(b, "null"); return; /* EV_UNSET, EV_NIL */
    }
}

void ent__entity_data_write(ent__jbuf *b, const ent_entity *e, int removed_as_null)
{
    const ent_type *t = e->type;
    int first = 1;
    PUT_LIT(b, "{");
    for (size_t i = 0; i < t->n_fields; i++) {
        if (e->slots[i].k == EV_UNSET) continue;
        if (!first) PUT_LIT(b, ",");
        first = 0;
        write_name(b, t->fields[i]->name);
        write_val(b, t->fields[i], &e->slots[i]);
    }
    for (size_t i = 0; removed_as_null && i < t->n_fields; i++) {
        if (!ent__is_changed(e, i) || e->slots[i].k != EV_UNSET) continue;
        if (!first) PUT_LIT(b, ",");
        first = 0;
        write_name(b, t->fields[i]->name);
        PUT_LIT(b, "null");
    }
    PUT_LIT(b, "}");
}

int ent_entity_to_json(char **out, const ent_entity *e, unsigned flags)
{
    json_t *j = NULL, *data;
    if (!out) return ent__err(ENT_INVALID, "ent_entity_to_json: out is NULL");
    *out = NULL;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if (flags & ~(unsigned)(ENT_JSON_PRETTY | ENT_JSON_ENTITY)) /* a later flag's shape is not this one */
        return ent__err(ENT_INVALID, "ent_entity_to_json: unknown flags 0x%x", flags & ~(unsigned)(ENT_JSON_PRETTY | ENT_JSON_ENTITY));
    if (!(data = data_to_json(e))) goto nomem;
    if (flags & ENT_JSON_ENTITY) {
        json_t *key = e->key_kind == ENT_KEY_AUTO     ? juint(e->key_id)
                      : e->key_kind == ENT_KEY_STRING ? jstr(e->key_str, e->key_len)
                                                      : json_null();
        /* "o" steals the references, also when json_pack fails */
        json_t *kinds = NULL;
        if (ent__kinds_json(&kinds, e)) {
            json_decref(key);
            json_decref(data);
            goto nomem;
        }
        j = json_pack("{s:s,s:o,s:o,s:o}", "type", e->type->name, "key", key, "version",
                      juint(e->version), "data", data);
        /* beside "data", only when a free-form value needs it (entity_kinds.c) */
        if (!j || (kinds && json_object_set_new(j, "kinds", kinds))) {
            if (!j) json_decref(kinds);
            goto nomem;
        }
    } else {
        j = data;
    }
    *out = ent__json_dumps(j, dump_flags(flags));
    json_decref(j);
    return *out ? ENT_OK : ent__err(ENT_NOMEM, "out of memory");
nomem:
    json_decref(j);
    return ent__err(ENT_NOMEM, "out of memory");
}

/* ---- JSON to values ---------------------------------------------------------------------- */

/* JSON path of the element being read, for messages ("product.tags[1]"). */
typedef struct jpath {
    char buf[512];
    size_t n;
} jpath;

static size_t jp_name(jpath *p, const char *name, size_t len)
{
    size_t old = p->n;
    int w = snprintf(p->buf + p->n, sizeof p->buf - p->n, "%s%.*s", p->n ? "." : "", (int)len, name);
    if (w > 0) p->n += (size_t)w;
    if (p->n >= sizeof p->buf) p->n = sizeof p->buf - 1;
    return old;
}

static size_t jp_index(jpath *p, size_t i)
{
    size_t old = p->n;
    int w = snprintf(p->buf + p->n, sizeof p->buf - p->n, "[%zu]", i);
    if (w > 0) p->n += (size_t)w;
    if (p->n >= sizeof p->buf) p->n = sizeof p->buf - 1;
    return old;
}

static void jp_pop(jpath *p, size_t old)
{
    p->n = old;
    p->buf[old] = '\0';
}

static int jerr(const jpath *p, const char *what)
{
    if (p->n) return ent__err(ENT_INVALID, "%s: %s", p->buf, what);
    return ent__err(ENT_INVALID, "%s", what);
}

/* "expected uint, not -1": the value given named beside the kind (a body of many fields said
 * "expected uint" of -1, "x" and digits past 2^64-1 alike), its JSON cut at 48 bytes on a
 * character's boundary; a hint where the value nearly fits (digits past 2^64-1, a float's
 * spellings). */
static int expected(const jpath *p, const ent_field *spec, json_t *j)
{
    char what[192], got[64];
    const char *hint = "";
    char *text = NULL;
    const char *kind = !spec ? "value"
                       : spec->kind == ENT_KIND_REF ? (ent__ev_kind(spec) == EV_STR ? "string key" : "integer key")
                                                    : ent_kind_name(spec->kind);
    if (json_is_array(j) || json_is_object(j)) {
        snprintf(got, sizeof got, "%s", json_is_array(j) ? "an array" : "an object");
    } else if (!(text = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT))) {
        snprintf(got, sizeof got, "a JSON %s", json_is_string(j) ? "string" : "value");
    } else {
        size_t n = strlen(text);
        if (n > 48) { /* cut before a UTF-8 continuation byte, and say so */
            n = 48;
            while (n && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
            snprintf(got, sizeof got, "%.*s...%s", (int)n, text, json_is_string(j) ? "\"" : "");
        } else {
            snprintf(got, sizeof got, "%s", text);
        }
    }
    free(text);
    if (spec && spec->kind == ENT_KIND_BYTES) hint = " (bytes are a base64 string)";
    if (spec && json_is_string(j)) {
        const char *v = json_string_value(j);
        size_t n = json_string_length(j), digits = 0;
        while (digits < n && v[digits] >= '0' && v[digits] <= '9') digits++;
        if (spec->kind == ENT_KIND_UINT || (spec->kind == ENT_KIND_REF && ent__ev_kind(spec) != EV_STR))
            hint = n && digits == n ? " (past 2^64-1)" : " (decimal digits only)";
        else if (spec->kind == ENT_KIND_FLOAT)
            hint = " (NaN, Infinity and -Infinity are its strings)";
    }
    snprintf(what, sizeof what, "expected %s, not %s%s", kind, got, hint);
    return jerr(p, what);
}

/* Decimal digits only, no sign or spaces, at most UINT64_MAX. */
static int parse_u64(uint64_t *out, const char *s, size_t n)
{
    uint64_t v = 0;
    if (n == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
            return -1;
    }
    *out = v;
    return 0;
}

static int json_uint(uint64_t *out, json_t *j)
{
    if (json_is_integer(j)) {
        if (json_integer_value(j) < 0) return -1;
        *out = (uint64_t)json_integer_value(j);
        return 0;
    }
    if (json_is_string(j)) return parse_u64(out, json_string_value(j), json_string_length(j));
    return -1;
}

static int val_from_json(ent_val *out, const ent_field *spec, json_t *j, jpath *p);

static int free_from_json(ent_val *out, json_t *j, jpath *p)
{
    size_t i, old;
    int rc;
    memset(out, 0, sizeof *out);
    switch (json_typeof(j)) {
    case JSON_NULL: out->k = EV_NIL; return ENT_OK;
    case JSON_TRUE:
    case JSON_FALSE:
        out->k = EV_BOOL;
        out->u.b = json_is_true(j);
        return ENT_OK;
    case JSON_INTEGER:
        /* one form per number, as set and decode make it (see normalize_free in entity.c) */
        if (json_integer_value(j) >= 0) {
            out->k = EV_UINT;
            out->u.u = (uint64_t)json_integer_value(j);
        } else {
            out->k = EV_INT;
            out->u.i = json_integer_value(j);
        }
        return ENT_OK;
    case JSON_REAL:
        out->k = EV_FLOAT;
        out->u.f = json_real_value(j);
        return ENT_OK;
    case JSON_STRING: return ent__val_set_str(out, EV_STR, json_string_value(j), json_string_length(j));
    case JSON_ARRAY:
        out->k = EV_ARR;
        for (i = 0; i < json_array_size(j); i++) {
            if ((rc = ent__arr_insert(out, i))) goto fail;
            old = jp_index(p, i);
            rc = free_from_json(&out->u.a.v[i], json_array_get(j, i), p);
            jp_pop(p, old);
            if (rc) goto fail;
        }
        return ENT_OK;
    case JSON_OBJECT: {
        const char *k;
        json_t *m;
        out->k = EV_OBJ;
        json_object_foreach(j, k, m) {
            ent_val *slot;
            size_t klen = json_object_iter_key_len(json_object_key_to_iter(k));
            if ((rc = ent__obj_add(out, k, klen, &slot))) goto fail;
            old = jp_name(p, k, klen);
            rc = free_from_json(slot, m, p);
            jp_pop(p, old);
            if (rc) goto fail;
        }
        return ENT_OK;
    }
    default: return jerr(p, "unsupported JSON value");
    }
fail:
    ent__val_clear(out);
    return rc;
}

/* Declared names never hold NUL; a JSON key with one ("a\u0000b") names no field. */
static int plain_key(const char *k) { return strlen(k) == json_object_iter_key_len(json_object_key_to_iter(k)); }

static const ent_field *sub_field(const ent_field *map, const char *name)
{
    /* by the map's name table: a scan made reading a map of thousands of sub-fields quadratic */
    return plain_key(name) ? ent_field_field(map, name) : NULL;
}

static int map_from_json(ent_val *out, const ent_field *spec, json_t *j, jpath *p)
{
    const char *k;
    json_t *m;
    size_t old;
    int rc;
    if ((rc = ent__map_init(out, spec))) return rc;
    json_object_foreach(j, k, m) {
        const ent_field *sf = sub_field(spec, k);
        old = jp_name(p, k, strlen(k));
        if (!sf) rc = jerr(p, "unknown field");
        else if (json_is_null(m)) rc = ENT_OK;
        else rc = val_from_json(&out->u.m.v[sf->pos], sf, m, p);
        jp_pop(p, old);
        if (rc) goto fail;
    }
    return ENT_OK;
fail:
    ent__val_clear(out);
    return rc;
}

/* Build a value of spec (NULL: free-form) from j. JSON null on a declared spec gives EV_UNSET. */
static int val_from_json(ent_val *out, const ent_field *spec, json_t *j, jpath *p)
{
    size_t i, old, n;
    int rc;
    if (!spec) return free_from_json(out, j, p);
    memset(out, 0, sizeof *out);
    if (json_is_null(j)) return ENT_OK;
    switch (spec->kind) {
    case ENT_KIND_BOOL:
        if (!json_is_boolean(j)) return expected(p, spec, j);
        out->k = EV_BOOL;
        out->u.b = json_is_true(j);
        return ENT_OK;
    case ENT_KIND_INT:
        if (!json_is_integer(j)) return expected(p, spec, j);
        out->k = EV_INT;
        out->u.i = json_integer_value(j);
        return ENT_OK;
    case ENT_KIND_UINT:
        if (json_uint(&out->u.u, j)) return expected(p, spec, j);
        out->k = EV_UINT;
        return ENT_OK;
    case ENT_KIND_FLOAT:
        out->k = EV_FLOAT;
        if (json_is_real(j)) out->u.f = json_real_value(j);
        else if (json_is_integer(j)) out->u.f = (double)json_integer_value(j);
        else if (json_is_string(j) && strcmp(json_string_value(j), "NaN") == 0) out->u.f = NAN;
        else if (json_is_string(j) && strcmp(json_string_value(j), "Infinity") == 0) out->u.f = INFINITY;
        else if (json_is_string(j) && strcmp(json_string_value(j), "-Infinity") == 0) out->u.f = -INFINITY;
        else {
            out->k = EV_UNSET;
            return expected(p, spec, j);
        }
        return ENT_OK;
    case ENT_KIND_STRING:
        if (!json_is_string(j)) return expected(p, spec, j);
        return ent__val_set_str(out, EV_STR, json_string_value(j), json_string_length(j));
    case ENT_KIND_BYTES: {
        const char *s = json_string_value(j);
        if (!json_is_string(j)) return expected(p, spec, j);
        n = json_string_length(j);
        if ((rc = ent__val_set_str(out, EV_BIN, "", 0))) return rc;
        free(out->u.s.p);
        out->u.s.p = malloc(n / 4 * 3 + 1);
        if (!out->u.s.p) {
            out->k = EV_UNSET;
            return ent__err(ENT_NOMEM, "out of memory");
        }
        if (ent__b64_decode(out->u.s.p, &out->u.s.n, s, n)) {
            /* the value and why: "invalid base64" of a body of many bytes fields named no value */
            char what[300], q[80], why[160];
            ent__val_clear(out);
            snprintf(what, sizeof what, "%s is not base64: %s", ent__quote(q, sizeof q, s, n, 40), ent__b64_why(why, sizeof why, s, n));
            return jerr(p, what);
        }
        out->u.s.p[out->u.s.n] = '\0';
        return ENT_OK;
    }
    case ENT_KIND_TIMESTAMP:
        if (json_is_integer(j)) {
            out->u.i = json_integer_value(j);
        } else if (json_is_string(j)) {
            int r = ent__ts_parse(&out->u.i, json_string_value(j), json_string_length(j));
            if (r == -2) return jerr(p, "timestamp out of range (" ENT__TS_RANGE ")");
            if (r) {
                char what[200];
                snprintf(what, sizeof what, "invalid timestamp: %s (RFC 3339, e.g. 2026-11-25T10:00:00.5Z, or integer ns)",
                         ent__ts_why(json_string_value(j), json_string_length(j)));
                return jerr(p, what);
            }
        } else {
            return expected(p, spec, j);
        }
        out->k = EV_TS;
        return ENT_OK;
    case ENT_KIND_REF:
        if (ent__ev_kind(spec) == EV_STR) {
            if (!json_is_string(j)) return expected(p, spec, j);
            return ent__val_set_str(out, EV_STR, json_string_value(j), json_string_length(j));
        }
        if (json_uint(&out->u.u, j)) return expected(p, spec, j);
        out->k = EV_UINT;
        return ENT_OK;
    case ENT_KIND_ARRAY:
        if (!json_is_array(j)) return expected(p, spec, j);
        out->k = EV_ARR;
        for (i = 0; i < json_array_size(j); i++) {
            if ((rc = ent__arr_insert(out, i))) goto fail;
            old = jp_index(p, i);
            rc = val_from_json(&out->u.a.v[i], spec->items, json_array_get(j, i), p);
            jp_pop(p, old);
            if (rc) goto fail;
        }
        return ENT_OK;
    case ENT_KIND_MAP:
        if (!json_is_object(j)) return expected(p, spec, j);
        if (spec->fields) return map_from_json(out, spec, j, p);
        return free_from_json(out, j, p);
    default: return expected(p, spec, j);
    }
fail:
    ent__val_clear(out);
    return rc;
}

/* ---- JSON's -0 at float places ------------------------------------------------------------
 *
 * jansson reads -0 as the integer 0 (json_io.c says why and how the integers written -0 are
 * found). Where a float field takes one, the tree gets the real -0.0 in its place, before any
 * reader: val_from_json() and every caller that prints the tree to parse it again (the entity's
 * JSON's "data", an event's, a JSON Patch's whole data, a schema's default) then see -0.0, which
 * prints as itself. An int or uint field takes it as 0, as before, and a free-form value (kind
 * "any", a map without fields) keeps JSON's integer reading: the integer 0, stored as uint 0. */

static int negz_walk(json_t *j, const ent_field *spec, const ent__negz *nz, json_t **repl);

/* The members of the object o that are fields of map (or, map NULL, of t). */
static int negz_members(json_t *o, const ent_field *map, const ent_type *t, const ent__negz *nz)
{
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        const char *k = json_object_iter_key(it);
        const ent_field *f = strlen(k) != json_object_iter_key_len(it) ? NULL
                             : map                                      ? ent_field_field(map, k)
                                                                        : ent_type_field(t, k);
        json_t *r;
        int rc;
        if (!f) continue; /* its reader names it */
        if ((rc = negz_walk(json_object_iter_value(it), f, nz, &r))) return rc;
        if (r && json_object_iter_set_new(o, it, r)) return ent__err(ENT_NOMEM, "out of memory");
    }
    return ENT_OK;
}

/* *repl: the real -0.0 to put in j's place when j is an integer written -0 at a float place of
 * spec (a new reference), else NULL; the places below j are mended in place. */
static int negz_walk(json_t *j, const ent_field *spec, const ent__negz *nz, json_t **repl)
{
    int rc;
    *repl = NULL;
    if (!spec) return ENT_OK; /* free-form: JSON's integer 0 */
    switch (spec->kind) {
    case ENT_KIND_FLOAT:
        if (!json_is_integer(j) || json_integer_value(j) != 0 || !ent__negz_has(nz, j)) return ENT_OK;
        return (*repl = json_real(-0.0)) ? ENT_OK : ent__err(ENT_NOMEM, "out of memory");
    case ENT_KIND_ARRAY:
        for (size_t i = 0; json_is_array(j) && i < json_array_size(j); i++) {
            json_t *r;
            if ((rc = negz_walk(json_array_get(j, i), spec->items, nz, &r))) return rc;
            if (r && json_array_set_new(j, i, r)) return ent__err(ENT_NOMEM, "out of memory");
        }
        return ENT_OK;
    case ENT_KIND_MAP: return json_is_object(j) && spec->fields ? negz_members(j, spec, NULL, nz) : ENT_OK;
    default: return ENT_OK;
    }
}

int ent__json_negzero_fix(json_t **j, const ent_field *spec, const ent_type *t, const ent__negz *nz)
{
    json_t *r = NULL;
    int rc;
    if (!nz || !nz->n || !*j) return ENT_OK;
    if (!spec && t) return json_is_object(*j) ? negz_members(*j, NULL, t, nz) : ENT_OK;
    if ((rc = negz_walk(*j, spec, nz, &r)) || !r) return rc;
    json_decref(*j);
    *j = r;
    return ENT_OK;
}

int ent__json_negzero(json_t **j, const ent_field *spec, const ent_type *t, const char *text, size_t len, size_t flags)
{
    ent__negz nz;
    int rc;
    if (!spec && !t) return ENT_OK; /* free-form: nothing to mend */
    if (ent__negz_find(&nz, *j, text, len, flags)) return ent__err(ENT_NOMEM, "out of memory parsing JSON");
    rc = ent__json_negzero_fix(j, spec, t, &nz);
    ent__negz_free(&nz);
    return rc;
}

/* Parse as the value of spec (or, spec NULL, t's data object; both NULL: free-form); on failure
 * *rc is ENT_INVALID (bad text) or ENT_NOMEM, with the message set. */
static json_t *load(const char *text, size_t len, size_t flags, const ent_field *spec, const ent_type *t, int *rc)
{
    json_error_t err;
    int nomem;
    json_t *j;
    flags |= JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
    j = ent__json_loadb(text, len, flags, &err, &nomem);
    if (!j && nomem) *rc = ent__err(ENT_NOMEM, "out of memory parsing JSON");
    else if (!j) *rc = ent__err(ENT_INVALID, "invalid JSON at line %d, column %d: %s", err.line, err.column, err.text);
    else if ((*rc = ent__json_negzero(&j, spec, t, text, len, flags))) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

int ent__val_from_json_text(ent_val *out, const ent_field *spec, const char *json)
{
    jpath p = {{0}, 0};
    json_t *j;
    int rc;
    memset(out, 0, sizeof *out);
    if (!json) return ent__err(ENT_INVALID, "JSON is NULL");
    if (!(j = load(json, strlen(json), JSON_DECODE_ANY, spec, NULL, &rc))) return rc;
    rc = val_from_json(out, spec, j, &p);
    json_decref(j);
    return rc;
}

int ent__val_from_jsonv(ent_val *out, const ent_field *spec, json_t *j)
{
    jpath p = {{0}, 0};
    return val_from_json(out, spec, j, &p);
}

int ent_entity_from_json(ent_entity **out, const ent_type *t, const char *json, size_t len)
{
    ent_entity *e = NULL;
    json_t *j = NULL, *m;
    const char *k;
    jpath p;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_entity_from_json: out is NULL");
    *out = NULL;
    if ((rc = ent__entity_new_bare(&e, t))) return rc;
    if (!json) {
        rc = ent__err(ENT_INVALID, "%s: JSON is NULL", t->name);
        goto fail;
    }
    if (!(j = load(json, len, 0, NULL, t, &rc))) {
        rc = ent__err_prefix(rc, "%s: ", t->name);
        goto fail;
    }
    if (!json_is_object(j)) {
        rc = ent__err(ENT_INVALID, "%s: expected a JSON object of fields", t->name);
        goto fail;
    }
    json_object_foreach(j, k, m) {
        const ent_field *f = plain_key(k) ? ent_type_field(t, k) : NULL;
        p.n = 0;
        jp_name(&p, t->name, strlen(t->name));
        jp_name(&p, k, strlen(k));
        if (!f) {
            rc = jerr(&p, "unknown field");
            goto fail;
        }
        if (json_is_null(m)) continue;
        if ((rc = val_from_json(&e->slots[f->pos], f, m, &p))) goto fail;
        ent__mark_changed(e, f->pos);
    }
    json_decref(j);
    *out = e;
    return ENT_OK;
fail:
    json_decref(j);
    ent_entity_free(e);
    return rc;
}

/* RFC 7396 on one value: an object merges into a map (a non-map target becomes an empty one
 * first, so nulls inside only remove), anything else replaces. */
static int merge_into(ent_val *target, const ent_field *spec, json_t *patch, jpath *p)
{
    const char *k;
    json_t *m;
    size_t old;
    int rc;
    ent_val nv;
    if (json_is_object(patch) && (!spec || spec->kind == ENT_KIND_MAP)) {
        if (spec && spec->fields) {
            if (target->k != EV_MAP) {
                ent__val_clear(target);
                if ((rc = ent__map_init(target, spec))) return rc;
            }
            json_object_foreach(patch, k, m) {
                const ent_field *sf = sub_field(spec, k);
                old = jp_name(p, k, strlen(k));
                if (!sf) rc = jerr(p, "unknown field");
                else if (json_is_null(m)) ent__val_clear(&target->u.m.v[sf->pos]), rc = ENT_OK;
                else rc = merge_into(&target->u.m.v[sf->pos], sf, m, p);
                jp_pop(p, old);
                if (rc) return rc;
            }
            return ENT_OK;
        }
        if (target->k != EV_OBJ) {
            ent__val_clear(target);
            target->k = EV_OBJ;
        }
        json_object_foreach(patch, k, m) {
            size_t klen = json_object_iter_key_len(json_object_key_to_iter(k));
            ent_val *slot;
            ent__obj_will_set(target);
            slot = ent__obj_find(target, k, klen);
            if (json_is_null(m)) {
                if (slot) ent__obj_remove(target, slot);
                continue;
            }
            if (!slot && (rc = ent__obj_add(target, k, klen, &slot))) return rc;
            old = jp_name(p, k, klen);
            rc = merge_into(slot, NULL, m, p);
            jp_pop(p, old);
            if (rc) return rc;
        }
        return ENT_OK;
    }
    if ((rc = val_from_json(&nv, spec, patch, p))) return rc;
    ent__val_clear(target);
    *target = nv;
    return ENT_OK;
}

int ent_entity_patch_json(ent_entity *e, const char *json, size_t len)
{
    ent_entity *c = NULL;
    json_t *j = NULL, *m;
    const char *k;
    jpath p;
    size_t i;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if (!json) return ent__err(ENT_INVALID, "%s: JSON is NULL", e->type->name);
    if (!(j = load(json, len, 0, NULL, e->type, &rc))) return ent__err_prefix(rc, "%s: ", e->type->name);
    if (!json_is_object(j)) {
        rc = ent__err(ENT_INVALID, "%s: a merge patch must be a JSON object of fields", e->type->name);
        goto fail;
    }
    /* Work on a copy: a failure half way leaves e as it was. */
    if ((rc = ent_entity_dup(&c, e))) goto fail;
    json_object_foreach(j, k, m) {
        const ent_field *f = plain_key(k) ? ent_type_field(e->type, k) : NULL;
        p.n = 0;
        jp_name(&p, e->type->name, strlen(e->type->name));
        jp_name(&p, k, strlen(k));
        if (!f) {
            rc = jerr(&p, "unknown field");
            goto fail;
        }
        if (json_is_null(m)) ent__val_clear(&c->slots[f->pos]);
        else if ((rc = merge_into(&c->slots[f->pos], f, m, &p))) goto fail;
        ent__mark_changed(c, f->pos);
    }
    /* Only what the patch changed moves over: values it left equal stay in place, so strings the
     * caller borrowed from them stay valid (value.h), as the write calls keep them (crud.c). */
    for (i = 0; i < e->type->n_fields; i++) ent__val_adopt(&e->slots[i], &c->slots[i]);
    memcpy(e->changed, c->changed, (e->type->n_fields + 63) / 64 * sizeof(uint64_t));
    rc = ENT_OK;
fail:
    ent_entity_free(c);
    json_decref(j);
    return rc;
}
