/* The path API: resolving "a.b[2].c" on an entity (walk_path) and the typed setters, getters and
 * array calls built on it. Arrays stay here because they are path calls that share the walker's
 * modes (READ/CHECK/CREATE); moving them out would only export the walker. Separate from
 * entity_field.c, which reaches values through field handles without parsing paths. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error_int.h"
#include "value_int.h"

/* ---- paths ------------------------------------------------------------------------------- */

/* Walk modes. READ never changes the entity and reports unset steps as absent. CHECK walks the
 * same way but accepts an index equal to an array's length (an append) and reports the spec of the
 * final value: a setter runs CHECK first, so that a path that cannot be set changes nothing, then
 * CREATE, which builds the missing maps, arrays and free-form keys on the way. */
enum { W_READ, W_CHECK, W_CREATE };

typedef struct walk {
    ent_val *v;            /* NULL when absent (READ, CHECK) */
    const ent_field *spec; /* NULL inside free-form values */
    const ent_field *top;  /* the top-level field */
    ent_val *obj;          /* the free-form map holding v when the last step was its key, else NULL */
    /* CHECK: where a CREATE walk of the same path can pick up (walk_path's `resume`): the last
     * value on the path that exists, the rest of the path after it and its spec. A setter walks
     * twice; starting the second walk there saves parsing the first steps again (perf). */
    ent_val *rv;
    const char *rs;
    const ent_field *rspec;
} walk;

static int path_err(int code, const ent_entity *e, const char *path, const char *what)
{
    /* A long path is cut: whole, it filled the message and the reason never showed. */
    size_t n = strlen(path);
    if (n > 200) return ent__err(code, "%s.%.200s...: %s", e->type->name, path, what);
    return ent__err(code, "%s.%s: %s", e->type->name, path, what);
}

/* Length of the path step at s: up to '.', '[' or the end. */
static size_t step_len(const char *s)
{
    size_t n = 0;
    for (;; n++) {
        unsigned char c = (unsigned char)s[n];
        /* lower-case letters and '_' (most of a name or key) sort after '[': one test for them */
        if (c <= '[' && (c == '\0' || c == '.' || c == '[')) return n;
    }
}

/* Length of the path step at s when it is `name` (a step ends at '.', '[' or the end), else 0.
 * Field names never hold '.' or '[' (ent__name_ok), so the name is compared in place: measuring
 * the step first and then comparing each candidate with strncmp cost a third of a path set
 * (callgrind, entity bench --plain). */
static inline size_t step_is(const char *name, const char *s)
{
    size_t i = 0;
    while (name[i] && name[i] == s[i]) i++;
    return !name[i] && (s[i] == '\0' || s[i] == '.' || s[i] == '[') ? i : 0;
}

/* The field among fields[0..n) named by the step at s, by their name table nt (a whole-name key
 * and a probe or two; a scan, or a hash of the step's first two characters, was quadratic on
 * types of thousands of fields); a scan when nt is empty (a schema not checked yet). *len: the
 * step's length. NULL when none is. */
static inline __attribute__((always_inline)) const ent_field *field_at(const ent__names *nt, ent_field *const *fields,
                                                                      size_t n, const char *s, size_t *len)
{
    uint64_t h = ent__step_key(s, len);
    if (nt->slot) return ent__names_find(nt, fields, s, *len, h);
    for (size_t i = 0; i < n; i++)
        if (fields[i]->name[0] == s[0] && step_is(fields[i]->name, s)) return fields[i];
    return NULL;
}

/* Resolve `path` on e (CREATE changes e, in its arena too: e is const for the modes that do not).
 * resume (CREATE only): go on from where a CHECK walk of this path in w stopped finding values,
 * instead of from the start. Returns ENT_OK (w->v NULL when absent),
 * ENT_INVALID (bad path, step into a value that is not a map or array), ENT_NOTFOUND (no such
 * field; READ: index out of range; CHECK: index past the end), ENT_NOMEM (CREATE). */
static int walk_path(walk *w, const ent_entity *e, const char *path, int mode, int resume)
{
    const char *s = path, *name;
    size_t len;
    ent_val *v = NULL;
    const ent_field *spec;
    char what[160];
    int rc, depth = 0;

    if (!path) return ent__err(ENT_INVALID, "%s: path is NULL", e->type->name);
    if (resume) {
        s = w->rs;
        v = w->rv;
        spec = w->rspec;
    } else {
        spec = field_at(&e->type->names, e->type->fields, e->type->n_fields, s, &len);
        if (len == 0) return path_err(ENT_INVALID, e, path, "bad path: empty field name");
        if (!spec) {
            snprintf(what, sizeof what, "no such field '%.*s'", (int)(len > 64 ? 64 : len), s);
            return path_err(ENT_NOTFOUND, e, path, what);
        }
        w->top = spec;
        v = &e->slots[spec->pos];
        s += len;
    }
    w->obj = NULL;
    while (*s) {
        w->obj = NULL;
        /* Each step goes one map or array deeper. A setter that built more levels than a record
         * holds made an entity that no call could store, and one a path of 100 000 steps deep
         * overflowed the stack of every recursive walk of it (JSON, encode, dup). */
        if (mode != W_READ && ++depth > ENT__MAX_DEPTH) {
            snprintf(what, sizeof what, "nested deeper than %d levels", ENT__MAX_DEPTH);
            return path_err(ENT_INVALID, e, path, what);
        }
        if (mode == W_CHECK && v) {
            w->rv = v;
            w->rs = s;
            w->rspec = spec;
        }
        if (v && v->k == EV_UNSET && mode != W_CREATE) v = NULL;
        if (*s == '.') {
            const ent_field *sub = NULL;
            name = ++s;
            if (spec && spec->fields) sub = field_at(&spec->names, spec->fields, spec->n_fields, s, &len);
            else len = step_len(s);
            if (len == 0) return path_err(ENT_INVALID, e, path, "bad path: empty field name");
            s += len;
            if (spec && spec->kind != ENT_KIND_MAP) {
                snprintf(what, sizeof what, "bad path: %s %s has no fields", ent__a(ent_kind_name(spec->kind)), ent_kind_name(spec->kind));
                return path_err(ENT_INVALID, e, path, what);
            }
            if (spec && spec->fields) {
                if (!sub) {
                    snprintf(what, sizeof what, "no such field '%.*s'", (int)(len > 64 ? 64 : len), name);
                    return path_err(ENT_NOTFOUND, e, path, what);
                }
                if (v && v->k == EV_UNSET && (rc = ent__map_init_in((ent_entity *)e, v, spec))) return rc;
                spec = sub;
                if (v) v = &v->u.m.v[sub->pos];
                continue;
            }
            /* free-form */
            spec = NULL;
            if (!v) continue;
            if (v->k == EV_UNSET) {
                v->k = EV_OBJ; /* CREATE: a new intermediate free-form map */
            } else if (v->k != EV_OBJ) {
                snprintf(what, sizeof what, "bad path: %s %s has no fields", ent__a(ent__ev_name(v->k)), ent__ev_name(v->k));
                return path_err(ENT_INVALID, e, path, what);
            }
            {
                ent_val *c;
                if (mode == W_CREATE) ent__obj_will_set(v);
                c = ent__obj_find(v, name, len);
                if (!c && mode == W_CREATE && (rc = ent__obj_add_in((ent_entity *)e, v, name, len, &c))) return rc;
                w->obj = c ? v : NULL;
                v = c;
            }
        } else if (*s == '[') {
            size_t idx = 0, n;
            const char *d = ++s;
            while (*s >= '0' && *s <= '9') {
                if (idx > (SIZE_MAX >> 4)) return path_err(ENT_NOTFOUND, e, path, "index out of range");
                idx = idx * 10 + (size_t)(*s - '0');
                s++;
            }
            if (*s == '\0') return path_err(ENT_INVALID, e, path, "bad path: unterminated '['");
            if (s == d || *s != ']') return path_err(ENT_INVALID, e, path, "bad path: index is not a number");
            s++;
            if (*s && *s != '.' && *s != '[')
                return path_err(ENT_INVALID, e, path, "bad path: expected '.' or '[' after ']'");
            if (spec && spec->kind != ENT_KIND_ARRAY) {
                snprintf(what, sizeof what, "bad path: %s %s cannot be indexed", ent__a(ent_kind_name(spec->kind)), ent_kind_name(spec->kind));
                return path_err(ENT_INVALID, e, path, what);
            }
            if (spec) spec = spec->items;
            if (v && v->k != EV_ARR && v->k != EV_UNSET) {
                snprintf(what, sizeof what, "bad path: %s %s cannot be indexed", ent__a(ent__ev_name(v->k)), ent__ev_name(v->k));
                return path_err(ENT_INVALID, e, path, what);
            }
            n = v && v->k == EV_ARR ? v->u.a.n : 0;
            if (mode == W_READ) {
                if (!v) continue;
                if (idx >= n) return path_err(ENT_NOTFOUND, e, path, "index out of range");
                v = &v->u.a.v[idx];
                continue;
            }
            if (idx > n) return path_err(ENT_NOTFOUND, e, path, "index out of range");
            if (mode == W_CHECK) {
                v = v && idx < n ? &v->u.a.v[idx] : NULL;
                continue;
            }
            if (v->k == EV_UNSET) v->k = EV_ARR;
            if (idx == n && (rc = ent__arr_insert_in((ent_entity *)e, v, idx))) return rc;
            v = &v->u.a.v[idx];
        } else {
            return path_err(ENT_INVALID, e, path, "bad path");
        }
    }
    if (mode == W_CHECK && v) {
        w->rv = v;
        w->rs = s;
        w->rspec = spec;
    }
    if (v && v->k == EV_UNSET && mode != W_CREATE) v = NULL;
    w->v = v;
    w->spec = spec;
    return ENT_OK;
}

/* ---- setters ----------------------------------------------------------------------------- */

/* Can a value of runtime kind k be stored where spec says? spec NULL: free-form. */
static int kind_fits(const ent_field *spec, uint8_t k)
{
    if (!spec) return k != EV_TS && k != EV_MAP && k != EV_UNSET;
    return spec->ev == k;
}

/* Free-form values keep one form per number so that a value read back from a record (msgpack has
 * no separate int for non-negative numbers) equals what was set. */
static void normalize_free(ent_val *v)
{
    if (v->k == EV_TS) v->k = EV_INT;
    if (v->k == EV_INT && v->u.i >= 0) {
        uint64_t u = (uint64_t)v->u.i;
        v->k = EV_UINT;
        v->u.u = u;
    }
}

static int kind_err(const ent_entity *e, const char *path, const ent_field *spec, uint8_t k)
{
    char what[96];
    snprintf(what, sizeof what, "expected %s, got %s", ent__spec_expects(spec), ent__ev_name(k));
    return path_err(ENT_INVALID, e, path, what);
}

/* ---- the setters' fast path -------------------------------------------------------------- */

/* Most paths a host sets are a top-level field, an item of a top-level array ("tags[2]") or a key
 * of a top-level free-form map ("attrs.assignee"). For those the setters skip the two walks
 * (CHECK, then CREATE) of the general path: fast_plan() resolves the path without changing e,
 * fast_loc() then makes the item or pair. The general walk cost ~300 instructions per set of the
 * plain bench (callgrind, issue 14). Anything else, and every error, goes the general way, which
 * reports it. */
typedef struct fast {
    ent_val *v;             /* the top-level slot */
    const ent_field *top;
    const ent_field *spec;  /* of the value to set; NULL: free-form */
    int step;               /* 0: the field itself, 1: an array item, 2: a free-form key */
    size_t idx;             /* step 1 */
    const char *key;        /* step 2 */
    size_t klen;
    ent_val *found;         /* step 2: the key's value when it exists */
} fast;

/* 1 when path takes the fast path (f filled), 0 when it needs the general walk. */
static inline __attribute__((always_inline)) int fast_plan(fast *f, const ent_entity *e, const char *path)
{
    size_t len, idx = 0, n;
    const char *s, *d;
    ent_val *v;
    const ent_field *top = field_at(&e->type->names, e->type->fields, e->type->n_fields, path, &len);
    if (!top) return 0;
    s = path + len;
    v = &e->slots[top->pos];
    f->v = v;
    f->top = top;
    f->idx = f->klen = 0; /* (all set, for the compiler's sake once this is inlined) */
    f->key = NULL;
    f->found = NULL;
    if (!*s) {
        f->step = 0;
        f->spec = top;
        return 1;
    }
    if (*s == '[') {
        if (top->kind != ENT_KIND_ARRAY || (v->k != EV_UNSET && v->k != EV_ARR)) return 0;
        for (d = ++s; *s >= '0' && *s <= '9'; s++) {
            if (idx > (SIZE_MAX >> 4)) return 0;
            idx = idx * 10 + (size_t)(*s - '0');
        }
        n = v->k == EV_ARR ? v->u.a.n : 0;
        if (s == d || s[0] != ']' || s[1] != '\0' || idx > n) return 0;
        f->step = 1;
        f->idx = idx;
        f->spec = top->items;
        return 1;
    }
    if (*s == '.') {
        if (top->kind != ENT_KIND_MAP || top->fields || (v->k != EV_UNSET && v->k != EV_OBJ)) return 0;
        f->key = ++s;
        f->klen = step_len(s);
        if (!f->klen || s[f->klen]) return 0;
        f->step = 2;
        f->spec = NULL;
        if (v->k == EV_OBJ) {
            ent__obj_will_set(v); /* only setters plan: the map may get its table of keys */
            f->found = ent__obj_find(v, f->key, f->klen);
        }
        return 1;
    }
    return 0;
}

/* The value a fast_plan() resolved, making the array item or free-form pair it names. On failure
 * (out of memory) e is as it was. */
static int fast_loc(ent_val **out, ent_entity *e, const fast *f)
{
    ent_val *v = f->v;
    int rc, was_unset = v->k == EV_UNSET;
    if (f->step == 0) {
        *out = v;
        return ENT_OK;
    }
    if (f->step == 1) {
        if (was_unset) v->k = EV_ARR;
        if (f->idx == v->u.a.n && (rc = ent__arr_append_in(e, v))) goto fail;
        *out = &v->u.a.v[f->idx];
        return ENT_OK;
    }
    if (f->found) {
        *out = f->found;
        return ENT_OK;
    }
    if (was_unset) v->k = EV_OBJ;
    if ((rc = ent__obj_add_in_quick(e, v, f->key, f->klen, out))) goto fail;
    return ENT_OK;
fail:
    if (was_unset) ent__val_clear(v);
    return rc;
}

/* Store *nv (taken over) at what fast_plan() resolved; on failure nv is cleared. */
static inline int fast_put(ent_entity *e, const fast *f, ent_val *nv)
{
    ent_val *loc;
    int rc = fast_loc(&loc, e, f);
    if (rc) {
        ent__val_clear(nv);
        return rc;
    }
    if (ent__val_holds_memory(loc)) ent__val_clear(loc);
    *loc = *nv;
    memset(nv, 0, sizeof *nv);
    ent__mark_changed(e, f->top->pos);
    return ENT_OK;
}

/* Store *nv (taken over) at path; on failure nv is cleared. checked: the caller's CHECK walk of
 * this path, which already accepted it for nv's kind (set_blob), or NULL to walk it here. The
 * CREATE walk goes on from where the CHECK walk stopped finding values. */
static int path_put(ent_entity *e, const char *path, ent_val *nv, walk *checked)
{
    walk w;
    int rc;
    if (!e) {
        ent__val_clear(nv);
        return ent__err(ENT_INVALID, "entity is NULL");
    }
    if (checked) {
        w = *checked;
    } else {
        fast f;
        if (path && fast_plan(&f, e, path)) {
            if (!f.spec) normalize_free(nv);
            if (kind_fits(f.spec, nv->k)) return fast_put(e, &f, nv);
        }
        if ((rc = walk_path(&w, e, path, W_CHECK, 0))) goto fail;
        if (!w.spec) normalize_free(nv);
        if (!kind_fits(w.spec, nv->k)) {
            rc = kind_err(e, path, w.spec, nv->k);
            goto fail;
        }
    }
    if ((rc = walk_path(&w, e, path, W_CREATE, 1))) goto fail;
    ent__val_clear(w.v);
    *w.v = *nv;
    memset(nv, 0, sizeof *nv);
    ent__mark_changed(e, w.top->pos);
    return ENT_OK;
fail:
    ent__val_clear(nv);
    return rc;
}

int ent__path_put(ent_entity *e, const char *path, ent_val *nv) { return path_put(e, path, nv, NULL); }

int ent__path_spec(const ent_field **out, const ent_entity *e, const char *path)
{
    walk w;
    int rc = walk_path(&w, e, path, W_CHECK, 0);
    *out = rc ? NULL : w.spec;
    return rc;
}

int ent_entity_set_bool(ent_entity *e, const char *path, int b)
{
    ent_val v = {.k = EV_BOOL, .u = {.b = !!b}};
    return ent__path_put(e, path, &v);
}

int ent_entity_set_int(ent_entity *e, const char *path, int64_t i)
{
    ent_val v = {.k = EV_INT, .u = {.i = i}};
    return ent__path_put(e, path, &v);
}

int ent_entity_set_uint(ent_entity *e, const char *path, uint64_t u)
{
    ent_val v = {.k = EV_UINT, .u = {.u = u}};
    return ent__path_put(e, path, &v);
}

int ent_entity_set_float(ent_entity *e, const char *path, double f)
{
    ent_val v = {.k = EV_FLOAT, .u = {.f = f}};
    return ent__path_put(e, path, &v);
}

int ent_entity_set_timestamp(ent_entity *e, const char *path, int64_t ns)
{
    ent_val v = {.k = EV_TS, .u = {.i = ns}};
    return ent__path_put(e, path, &v);
}

/* set_blob() by the general walk: paths the fast path does not take, and every error. */
static int set_blob_walk(ent_entity *e, const char *path, uint8_t kind, const void *p, size_t n)
{
    walk w;
    ent_val v;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if (!p && n) return path_err(ENT_INVALID, e, path ? path : "", "value is NULL");
    /* Check before copying: a kind mismatch on a large value should cost nothing. */
    if ((rc = walk_path(&w, e, path, W_CHECK, 0))) return rc;
    if (!kind_fits(w.spec, kind)) return kind_err(e, path, w.spec, kind);
    if ((rc = ent__val_set_str_in(e, &v, kind, p, n))) return rc;
    return path_put(e, path, &v, &w); /* normalize_free() leaves strings and bytes alone */
}

static inline __attribute__((always_inline)) int set_blob(ent_entity *e, const char *path, uint8_t kind, const void *p, size_t n)
{
    fast f;
    ent_val v;
    int rc;
    if (e && path && (p || !n) && fast_plan(&f, e, path) && kind_fits(f.spec, kind)) {
        if ((rc = ent__val_set_str_in(e, &v, kind, p, n))) return rc;
        return fast_put(e, &f, &v);
    }
    return set_blob_walk(e, path, kind, p, n);
}

int ent_entity_set_string(ent_entity *e, const char *path, const char *s)
{
    /* NULL is no C string: stored as "" it would be a silent wrong value (unset the field with
     * ent_entity_unset()). set_stringn(NULL, 0) stays "", as a pointer and length may say. */
    if (e && !s) return path_err(ENT_INVALID, e, path ? path : "", "value is NULL");
    return set_blob(e, path, EV_STR, s, s ? strlen(s) : 0);
}

int ent_entity_set_stringn(ent_entity *e, const char *path, const char *s, size_t len)
{
    return set_blob(e, path, EV_STR, s, len);
}

int ent_entity_set_bytes(ent_entity *e, const char *path, const void *p, size_t len)
{
    return set_blob(e, path, EV_BIN, p, len);
}

int ent_entity_set_json(ent_entity *e, const char *path, const char *json)
{
    const ent_field *spec;
    ent_val v;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = ent__path_spec(&spec, e, path))) return rc;
    if (!json) return path_err(ENT_INVALID, e, path, "JSON is NULL");
    if ((rc = ent__val_from_json_text(&v, spec, json)))
        return ent__err_prefix(rc, "%s.%s: ", e->type->name, path);
    if (v.k == EV_UNSET) return ent_entity_unset(e, path); /* null on a declared field */
    return ent__path_put(e, path, &v);
}

int ent_entity_unset(ent_entity *e, const char *path)
{
    walk w;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ, 0))) return rc;
    if (w.v && w.obj) {
        /* a free-form key goes with its value: an unset pair would print as null, which is a
         * value there, and no record can hold it (create refused the entity) */
        ent__obj_remove(w.obj, w.v);
        ent__mark_changed(e, w.top->pos);
    } else if (w.v) {
        ent__val_clear(w.v);
        ent__mark_changed(e, w.top->pos);
    }
    if (w.top && !w.v) ent__mark_changed(e, w.top->pos);
    return ENT_OK;
}

/* ---- getters ----------------------------------------------------------------------------- */

/* Checked before anything else: a getter that found an unset field or a kind mismatch first
 * would answer NOTFOUND or a kind error for what is a NULL out, and write through it on success. */
static int out_null(const char *fn)
{
    return ent__err(ENT_INVALID, "%s: out is NULL", fn);
}

static int get_val(const ent_val **out, const ent_entity *e, const char *path)
{
    walk w;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ, 0))) return rc;
    if (!w.v) return path_err(ENT_NOTFOUND, e, path, "not set");
    *out = w.v;
    return ENT_OK;
}

static int get_kind_err(const ent_entity *e, const char *path, const char *want, uint8_t k)
{
    char what[96];
    snprintf(what, sizeof what, "holds %s, not %s", ent__ev_name(k), want);
    return path_err(ENT_INVALID, e, path, what);
}

static int read_bool(int *out, const ent_val *v)
{
    if (v->k != EV_BOOL) return -1;
    *out = v->u.b;
    return 0;
}

/* int and timestamp reads accept a non-negative free-form number (stored as uint, see
 * normalize_free); a declared uint field never holds EV_INT, so this cannot blur declared kinds. */
static int read_int(int64_t *out, const ent_val *v, uint8_t want, int free_form)
{
    if (v->k == want) {
        *out = v->u.i;
        return 0;
    }
    if (free_form && v->k == EV_UINT && v->u.u <= INT64_MAX) {
        *out = (int64_t)v->u.u;
        return 0;
    }
    if (free_form && v->k == EV_INT) {
        *out = v->u.i;
        return 0;
    }
    return -1;
}

int ent_entity_get_bool(int *out, const ent_entity *e, const char *path)
{
    const ent_val *v = NULL;
    int rc;
    if (!out) return out_null("ent_entity_get_bool");
    rc = get_val(&v, e, path);
    if (rc) return rc;
    if (read_bool(out, v)) return get_kind_err(e, path, "bool", v->k);
    return ENT_OK;
}

static int get_intlike(int64_t *out, const ent_entity *e, const char *path, uint8_t want)
{
    walk w;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ, 0))) return rc;
    if (!w.v) return path_err(ENT_NOTFOUND, e, path, "not set");
    if (read_int(out, w.v, want, !w.spec)) return get_kind_err(e, path, ent__ev_name(want), w.v->k);
    return ENT_OK;
}

int ent_entity_get_int(int64_t *out, const ent_entity *e, const char *path)
{
    if (!out) return out_null("ent_entity_get_int");
    return get_intlike(out, e, path, EV_INT);
}

int ent_entity_get_timestamp(int64_t *out, const ent_entity *e, const char *path)
{
    if (!out) return out_null("ent_entity_get_timestamp");
    return get_intlike(out, e, path, EV_TS);
}

int ent_entity_get_uint(uint64_t *out, const ent_entity *e, const char *path)
{
    const ent_val *v = NULL;
    int rc;
    if (!out) return out_null("ent_entity_get_uint");
    rc = get_val(&v, e, path);
    if (rc) return rc;
    if (v->k != EV_UINT) return get_kind_err(e, path, "uint", v->k);
    *out = v->u.u;
    return ENT_OK;
}

int ent_entity_get_float(double *out, const ent_entity *e, const char *path)
{
    walk w;
    int rc;
    if (!out) return out_null("ent_entity_get_float");
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ, 0))) return rc;
    if (!w.v) return path_err(ENT_NOTFOUND, e, path, "not set");
    if (w.v->k == EV_FLOAT) *out = w.v->u.f;
    else if (!w.spec && w.v->k == EV_INT) *out = (double)w.v->u.i;
    else if (!w.spec && w.v->k == EV_UINT) *out = (double)w.v->u.u;
    else return get_kind_err(e, path, "float", w.v->k);
    return ENT_OK;
}

int ent_entity_get_string(const char **out, size_t *out_len, const ent_entity *e, const char *path)
{
    const ent_val *v = NULL;
    int rc;
    if (!out) return out_null("ent_entity_get_string");
    rc = get_val(&v, e, path);
    if (rc) return rc;
    if (v->k != EV_STR) return get_kind_err(e, path, "string", v->k);
    *out = v->u.s.p;
    if (out_len) *out_len = v->u.s.n;
    return ENT_OK;
}

int ent_entity_get_bytes(const void **out, size_t *out_len, const ent_entity *e, const char *path)
{
    const ent_val *v = NULL;
    int rc;
    if (!out) return out_null("ent_entity_get_bytes");
    rc = get_val(&v, e, path);
    if (rc) return rc;
    if (v->k != EV_BIN) return get_kind_err(e, path, "bytes", v->k);
    *out = v->u.s.p;
    if (out_len) *out_len = v->u.s.n;
    return ENT_OK;
}

int ent_entity_get_json(char **out, const ent_entity *e, const char *path)
{
    walk w;
    int rc;
    if (!out) return out_null("ent_entity_get_json");
    *out = NULL;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ, 0))) return rc;
    if (!w.v) return path_err(ENT_NOTFOUND, e, path, "not set");
    return ent__val_to_json_text(out, w.spec, w.v, 0);
}

int ent_entity_has(const ent_entity *e, const char *path)
{
    walk w;
    if (!e || walk_path(&w, e, path, W_READ, 0)) return 0;
    return w.v != NULL;
}

int ent_entity_kind(ent_kind *out, const ent_entity *e, const char *path)
{
    walk w;
    int rc;
    if (!out) return out_null("ent_entity_kind");
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = walk_path(&w, e, path, W_READ, 0))) return rc;
    if (!w.v) return path_err(ENT_NOTFOUND, e, path, "not set");
    *out = w.spec ? w.spec->kind : ent__ev_to_kind(w.v->k);
    return ENT_OK;
}

/* ---- arrays ------------------------------------------------------------------------------ */

static int array_at(walk *w, const ent_entity *e, const char *path, int mode)
{
    int rc = walk_path(w, e, path, mode, 0);
    if (rc) return rc;
    if (w->spec ? w->spec->kind != ENT_KIND_ARRAY : (w->v && w->v->k != EV_ARR && w->v->k != EV_UNSET))
        return path_err(ENT_INVALID, e, path, "not an array");
    return ENT_OK;
}

int ent_entity_array_len(size_t *out, const ent_entity *e, const char *path)
{
    walk w;
    int rc;
    if (!out) return out_null("ent_entity_array_len");
    *out = 0;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = array_at(&w, e, path, W_READ))) return rc;
    *out = w.v ? w.v->u.a.n : 0;
    return ENT_OK;
}

int ent_entity_array_insert(ent_entity *e, const char *path, size_t at)
{
    walk w;
    size_t n;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = array_at(&w, e, path, W_CHECK))) return rc;
    n = w.v && w.v->k == EV_ARR ? w.v->u.a.n : 0;
    if (at > n) {
        char what[96];
        snprintf(what, sizeof what, "insert at %zu past the end (length %zu)", at, n);
        return path_err(ENT_NOTFOUND, e, path, what);
    }
    if ((rc = walk_path(&w, e, path, W_CREATE, 1))) return rc;
    if (w.v->k == EV_UNSET) w.v->k = EV_ARR;
    if ((rc = ent__arr_insert_in(e, w.v, at))) return rc;
    ent__mark_changed(e, w.top->pos);
    return ENT_OK;
}

int ent_entity_array_remove(ent_entity *e, const char *path, size_t at)
{
    walk w;
    size_t n;
    int rc;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if ((rc = array_at(&w, e, path, W_READ))) return rc;
    n = w.v ? w.v->u.a.n : 0;
    if (at >= n) {
        char what[96];
        snprintf(what, sizeof what, "remove at %zu past the end (length %zu)", at, n);
        return path_err(ENT_NOTFOUND, e, path, what);
    }
    ent__val_clear(&w.v->u.a.v[at]);
    memmove(&w.v->u.a.v[at], &w.v->u.a.v[at + 1], (n - at - 1) * sizeof(ent_val));
    w.v->u.a.n--;
    ent__mark_changed(e, w.top->pos);
    return ENT_OK;
}
