/* The "kinds" annotation of entity and event JSON: which free-form values hold a kind their JSON
 * text does not say.
 *
 * Inside a free-form map JSON has no type to read a value back by: bytes print as their base64
 * string, a uint above 2^63-1 as its decimal string, NaN and the infinities as the words "NaN",
 * "Infinity", "-Infinity". Read back, each is a string: a mirror (which gets events as JSON) and a
 * store loaded from a dump held strings where the primary held bytes, uints and floats (other
 * msgpack records, another ent_entity_kind()). So the entity-shaped line (type, key, version,
 * data) and the event line carry, beside "data", an object from RFC 6901 JSON Pointers into "data"
 * to the kind of each such value: {"/attrs/blob":"bytes","/attrs/n/2":"uint"}. It is absent when
 * no value needs it (almost always), so the lines other readers know keep their shape, and a line
 * without it reads as before (streams and dumps written before it). Every other free-form kind
 * already reads back as itself: nil, bool, ints (non-negative ones are uints, as setters store
 * them), finite floats (written with a '.' or an exponent, -0.0 included), strings, arrays, maps
 * in their order. Declared fields never need it: the schema says their kind.
 *
 * Why pointers and not a tree shaped like data: a reader in another language has JSON Pointer in
 * its library, and one flat object is easy to read in a log line. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "error_int.h"
#include "json_io.h"
#include "json_write.h"
#include "keys.h"
#include "schema_int.h"
#include "value_int.h"

#define PUT_LIT(b, lit) ent__jb_put((b), (lit), sizeof(lit) - 1)

/* ---- writing ----------------------------------------------------------------------------- */

typedef struct kw {
    ent__jbuf *out; /* the entries, "ptr":"kind" separated by commas */
    ent__jbuf ptr;  /* the pointer of the value visited (not NUL-terminated while in use) */
    int n;          /* entries written */
} kw;

/* "/" and seg escaped as RFC 6901 says: '~' as "~0", '/' as "~1". */
static void ptr_push(ent__jbuf *p, const char *seg, size_t n)
{
    PUT_LIT(p, "/");
    for (size_t i = 0; i < n; i++) {
        if (seg[i] == '~') PUT_LIT(p, "~0");
        else if (seg[i] == '/') PUT_LIT(p, "~1");
        else ent__jb_put(p, seg + i, 1);
    }
}

static void emit(kw *w, const char *kind)
{
    /* A key that is not UTF-8 or holds NUL (only a damaged record has one) prints repaired in
     * "data" (entity_json.c), so no pointer could name it: the value reads back as a string. */
    if (w->ptr.oom || !ent__utf8_ok(w->ptr.p, w->ptr.n) || memchr(w->ptr.p, 0, w->ptr.n)) return;
    if (w->n++) PUT_LIT(w->out, ",");
    ent__jb_string(w->out, w->ptr.p, w->ptr.n);
    PUT_LIT(w->out, ":\"");
    ent__jb_put(w->out, kind, strlen(kind));
    PUT_LIT(w->out, "\"");
}

/* spec: the value's declared spec, NULL inside a free-form map (where kinds need saying). */
static void walk(kw *w, const ent_field *spec, const ent_val *v)
{
    size_t mark = w->ptr.n;
    char idx[24];
    switch (v->k) {
    case EV_BIN:
        if (!spec) emit(w, "bytes");
        return;
    case EV_UINT:
        if (!spec && v->u.u > INT64_MAX) emit(w, "uint");
        return;
    case EV_FLOAT:
        if (!spec && !isfinite(v->u.f)) emit(w, "float");
        return;
    case EV_ARR:
        for (size_t i = 0; i < v->u.a.n; i++) {
            int len = snprintf(idx, sizeof idx, "%zu", i);
            ptr_push(&w->ptr, idx, (size_t)len);
            walk(w, spec ? spec->items : NULL, &v->u.a.v[i]);
            w->ptr.n = mark;
        }
        return;
    case EV_MAP:
        for (size_t i = 0; spec && i < v->u.m.n && i < spec->n_fields; i++) {
            if (v->u.m.v[i].k < EV_ARR) continue; /* a declared scalar: the schema says its kind */
            ptr_push(&w->ptr, spec->fields[i]->name, strlen(spec->fields[i]->name));
            walk(w, spec->fields[i], &v->u.m.v[i]);
            w->ptr.n = mark;
        }
        return;
    case EV_OBJ:
        for (size_t i = 0; i < v->u.o.n; i++) {
            ptr_push(&w->ptr, v->u.o.kv[i].k, v->u.o.kv[i].klen);
            walk(w, NULL, &v->u.o.kv[i].v);
            w->ptr.n = mark;
        }
        return;
    default: return;
    }
}

/* Whether v (of spec) holds a value that needs a kind said. The relay prints every event, almost
 * none of which needs one: this look, which builds no pointer, is all they pay (walking with the
 * pointers made a typical event's JSON ~50 % dearer, callgrind). */
static int needs(const ent_field *spec, const ent_val *v)
{
    switch (v->k) {
    case EV_BIN: return !spec;
    case EV_UINT: return !spec && v->u.u > INT64_MAX;
    case EV_FLOAT: return !spec && !isfinite(v->u.f);
    case EV_ARR: {
        const ent_field *is = spec ? spec->items : NULL;
        if (is && is->kind != ENT_KIND_ARRAY && is->kind != ENT_KIND_MAP) return 0; /* declared scalars */
        for (size_t i = 0; i < v->u.a.n; i++)
            if (v->u.a.v[i].k >= EV_UINT && needs(is, &v->u.a.v[i])) return 1;
        return 0;
    }
    case EV_MAP:
        for (size_t i = 0; spec && i < v->u.m.n && i < spec->n_fields; i++)
            if (v->u.m.v[i].k >= EV_ARR && needs(spec->fields[i], &v->u.m.v[i])) return 1;
        return 0;
    case EV_OBJ:
        for (size_t i = 0; i < v->u.o.n; i++)
            if (v->u.o.kv[i].v.k >= EV_UINT && needs(NULL, &v->u.o.kv[i].v)) return 1;
        return 0;
    default: return 0;
    }
}

/* The entries for e into out (no braces); returns how many. A failed allocation sets out->oom. */
static int kinds_entries(ent__jbuf *out, const ent_entity *e)
{
    const ent_type *t = e->type;
    kw w = {out, ENT__JBUF_INIT, 0};
    for (size_t i = 0; i < t->n_fields; i++) {
        /* Top-level fields are declared: only containers can hold free-form values. */
        if (e->slots[i].k < EV_ARR || !needs(t->fields[i], &e->slots[i])) continue;
        w.ptr.n = 0;
        ptr_push(&w.ptr, t->fields[i]->name, strlen(t->fields[i]->name));
        walk(&w, t->fields[i], &e->slots[i]);
    }
    if (w.ptr.oom) out->oom = 1;
    free(w.ptr.p);
    return w.n;
}

static int any_needed(const ent_entity *e)
{
    for (size_t i = 0; i < e->type->n_fields; i++)
        if (e->slots[i].k >= EV_ARR && needs(e->type->fields[i], &e->slots[i])) return 1;
    return 0;
}

void ent__kinds_write(ent__jbuf *b, const ent_entity *e)
{
    ent__jbuf entries = ENT__JBUF_INIT;
    if (!any_needed(e)) return;
    if (kinds_entries(&entries, e)) {
        PUT_LIT(b, ",\"kinds\":{");
        ent__jb_put(b, entries.p, entries.n);
        PUT_LIT(b, "}");
    }
    if (entries.oom) b->oom = 1;
    free(entries.p);
}

int ent__kinds_json(json_t **out, const ent_entity *e)
{
    ent__jbuf b = ENT__JBUF_INIT;
    int n;
    *out = NULL;
    if (!any_needed(e)) return ENT_OK;
    PUT_LIT(&b, "{");
    n = kinds_entries(&b, e);
    PUT_LIT(&b, "}");
    if (!b.oom && n) *out = json_loadb(b.p, b.n, 0, NULL);
    free(b.p);
    return b.oom || (n && !*out) ? ENT_NOMEM : ENT_OK;
}

/* ---- reading ----------------------------------------------------------------------------- */

long ent__ptr_seg(char *seg, const char *ptr, size_t n, size_t *at)
{
    size_t i = *at + 1, len = 0; /* past the '/' */
    for (; i < n && ptr[i] != '/'; i++) {
        if (ptr[i] != '~') {
            seg[len++] = ptr[i];
            continue;
        }
        if (i + 1 >= n || (ptr[i + 1] != '0' && ptr[i + 1] != '1')) return -1;
        seg[len++] = ptr[i + 1] == '0' ? '~' : '/';
        i++;
    }
    seg[len] = '\0';
    *at = i;
    return (long)len;
}

int ent__ptr_index(size_t *out, const char *s, size_t n)
{
    size_t v = 0;
    if (n == 0 || (n > 1 && s[0] == '0')) return -1; /* RFC 6901: no leading zeros */
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (SIZE_MAX - 9) / 10) return -1;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int perr(const char *ptr, const char *what)
{
    return ent__err(ENT_INVALID, "\"kinds\": \"%.200s\": %s", ptr, what);
}

/* The value ptr names in e and its declared spec (NULL: free-form). */
static int resolve(ent_val **out, const ent_field **out_spec, ent_entity *e, const char *ptr, size_t n)
{
    const ent_field *spec = NULL;
    ent_val *v = NULL;
    char *seg;
    size_t at = 0;
    int rc = ENT_OK;
    if (n == 0 || ptr[0] != '/') return perr(ptr, "not a JSON Pointer into \"data\" (it starts with '/')");
    if (!(seg = malloc(n + 1))) return ent__err(ENT_NOMEM, "out of memory");
    while (at < n) {
        long len = ent__ptr_seg(seg, ptr, n, &at);
        if (len < 0) {
            rc = perr(ptr, "a '~' not followed by 0 or 1");
            break;
        }
        if (!v) {
            const ent_field *f = ent_type_field(e->type, seg);
            if (!f || e->slots[f->pos].k == EV_UNSET) {
                rc = perr(ptr, "names no value of the data");
                break;
            }
            v = &e->slots[f->pos];
            spec = f;
        } else if (v->k == EV_MAP) {
            const ent_field *sf = ent_field_field(spec, seg);
            if (!sf || sf->pos >= v->u.m.n || v->u.m.v[sf->pos].k == EV_UNSET) {
                rc = perr(ptr, "names no value of the data");
                break;
            }
            v = &v->u.m.v[sf->pos];
            spec = sf;
        } else if (v->k == EV_ARR) {
            size_t i;
            if (ent__ptr_index(&i, seg, (size_t)len) || i >= v->u.a.n) {
                rc = perr(ptr, "names no value of the data");
                break;
            }
            v = &v->u.a.v[i];
            spec = spec ? spec->items : NULL;
        } else if (v->k == EV_OBJ) {
            ent_val *c;
            /* By the map's table of keys (value.c), which a run of look-ups gives it: a scan per
             * pointer made n pointers into a map of n keys cost n^2/2 (40 000 keys: 1.4 s to load
             * or mirror one entity). e is a copy (ent__kinds_apply()'s, a JSON Patch's), which may get the table. */
            ent__obj_will_set(v);
            if (!(c = ent__obj_find(v, seg, (size_t)len))) {
                rc = perr(ptr, "names no value of the data");
                break;
            }
            v = c;
            spec = NULL;
        } else {
            rc = perr(ptr, "names no value of the data");
            break;
        }
    }
    free(seg);
    if (rc) return rc;
    if (!v) return perr(ptr, "names no value of the data");
    *out = v;
    *out_spec = spec;
    return ENT_OK;
}

static int parse_dec(uint64_t *out, const char *s, size_t n)
{
    uint64_t v = 0;
    if (n == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int str_is(const ent_val *v, const char *lit)
{
    return v->u.s.n == strlen(lit) && !memcmp(v->u.s.p, lit, v->u.s.n);
}

/* Turn the string at ptr into the kind named. */
static int apply_one(ent_entity *e, const char *ptr, size_t n, const char *kind)
{
    const ent_field *spec = NULL;
    ent_val *v = NULL;
    int rc;
    if ((rc = resolve(&v, &spec, e, ptr, n))) return rc;
    /* A declared value's kind is the schema's: an annotation there is not one this library writes. */
    if (spec) return perr(ptr, "names a declared field (its kind is the schema's)");
    if (v->k != EV_STR) return perr(ptr, "names no string (kinds turn the strings JSON prints back into their values)");
    if (!strcmp(kind, "bytes")) {
        size_t len;
        char *bin = malloc(v->u.s.n / 4 * 3 + 1);
        if (!bin) return ent__err(ENT_NOMEM, "out of memory");
        if (ent__b64_decode(bin, &len, v->u.s.p, v->u.s.n)) {
            char what[300], q[80], why[160];
            snprintf(what, sizeof what, "bytes: %s is not base64: %s", ent__quote(q, sizeof q, v->u.s.p, v->u.s.n, 40),
                     ent__b64_why(why, sizeof why, v->u.s.p, v->u.s.n));
            free(bin);
            return perr(ptr, what);
        }
        ent__val_clear(v);
        rc = ent__val_set_str(v, EV_BIN, bin, len);
        free(bin);
        return rc;
    }
    if (!strcmp(kind, "uint")) {
        uint64_t u;
        if (parse_dec(&u, v->u.s.p, v->u.s.n)) return perr(ptr, "uint: not decimal digits up to 18446744073709551615");
        ent__val_clear(v);
        v->k = EV_UINT;
        v->u.u = u;
        return ENT_OK;
    }
    if (!strcmp(kind, "float")) {
        double f;
        /* by length too: a string may hold NUL ("NaN\u0000x" is no NaN) */
        if (str_is(v, "NaN")) f = NAN;
        else if (str_is(v, "Infinity")) f = INFINITY;
        else if (str_is(v, "-Infinity")) f = -INFINITY;
        else return perr(ptr, "float: not \"NaN\", \"Infinity\" or \"-Infinity\"");
        ent__val_clear(v);
        v->k = EV_FLOAT;
        v->u.f = f;
        return ENT_OK;
    }
    return perr(ptr, "not a kind (\"bytes\", \"uint\" or \"float\")");
}

int ent__kinds_apply_in(ent_entity *e, const json_t *kinds)
{
    const char *k;
    json_t *m;
    int rc;
    if (!json_is_object(kinds)) return ent__err(ENT_INVALID, "\"kinds\" is not an object");
    json_object_foreach((json_t *)kinds, k, m) {
        size_t klen = json_object_iter_key_len(json_object_key_to_iter(k));
        if (!json_is_string(m)) return perr(k, "not a kind (\"bytes\", \"uint\" or \"float\")");
        if ((rc = apply_one(e, k, klen, json_string_value(m)))) return rc;
    }
    return ENT_OK;
}

int ent__kinds_apply(ent_entity *e, const json_t *kinds)
{
    ent_entity *c = NULL;
    int rc;
    if (!json_is_object(kinds)) return ent__err(ENT_INVALID, "\"kinds\" is not an object");
    if (!json_object_size(kinds)) return ENT_OK;
    /* On a copy: a failure half way leaves e as it was (as ent_entity_patch_json does). */
    if ((rc = ent_entity_dup(&c, e))) return rc;
    if (!(rc = ent__kinds_apply_in(c, kinds)))
        for (size_t i = 0; i < e->type->n_fields; i++) {
            if (ent__val_equal(&e->slots[i], &c->slots[i])) continue;
            ent__val_adopt(&e->slots[i], &c->slots[i]);
            /* A value of another kind is a change, as a setter's: unmarked, an ent_update() of an
             * entity read from the store wrote nothing and handed the stored strings back. */
            ent__mark_changed(e, i);
        }
    ent_entity_free(c);
    return rc;
}

int ent_entity_apply_kinds(ent_entity *e, const char *json, size_t len)
{
    json_error_t err;
    json_t *j;
    int nomem, rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if (!json) return ent__err(ENT_INVALID, "%s: kinds JSON is NULL", e->type->name);
    /* any JSON value: one that is no object is named as such, not as "'[' or '{' expected" */
    if (!(j = ent__json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err, &nomem))) {
        if (nomem) return ent__err(ENT_NOMEM, "out of memory parsing JSON");
        return ent__err(ENT_INVALID, "%s: \"kinds\": invalid JSON at line %d, column %d: %s", e->type->name, err.line,
                        err.column, err.text);
    }
    rc = ent__kinds_apply(e, j);
    json_decref(j);
    return rc ? ent__err_prefix(rc, "%s: ", e->type->name) : ENT_OK;
}
