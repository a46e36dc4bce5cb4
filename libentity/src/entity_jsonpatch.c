/* RFC 6902 JSON Patch over an entity's data (the object entity JSON shows as "data").
 *
 * Why beside the merge patch (entity_json.c): RFC 7396 has null mean "remove", so a merge patch
 * cannot write a null into a free-form map, nor insert into or remove from the middle of an array
 * without sending it whole. A JSON Patch names each change by a JSON Pointer: add, remove,
 * replace, move, copy and test, applied in order, all or nothing.
 *
 * Values are read as the place they go to expects: a declared field's value as ent_entity_from_json()
 * reads it (null there leaves the field unset, as it does everywhere for declared fields), a
 * free-form one as JSON (null a null). An operation may carry "kinds", pointers relative to its
 * value with the kinds entity JSON names ({"": "bytes"}, {"/n": "uint"}; value.h), so a patch can
 * write the free-form values JSON has no form for; RFC 6902 has other members ignored, and a
 * client that knows nothing of them sends none. move and copy take the value itself between
 * free-form places and go through its JSON otherwise (what a client reading it and adding it would
 * do). test compares the JSON the data prints as, numbers by value (RFC 6902 4.6), its value read
 * as add would read it there first (a timestamp with an offset is the instant stored). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "json_io.h"
#include "schema_int.h"
#include "value_int.h"

enum { OP_ADD, OP_REMOVE, OP_REPLACE, OP_MOVE, OP_COPY, OP_TEST };
static const char *const op_names[] = {"add", "remove", "replace", "move", "copy", "test"};

/* Where a pointer leads in the working copy. */
typedef struct loc {
    int root;               /* the pointer is "": the whole data */
    ent_val *parent;        /* the container of the last segment; NULL: the entity's fields */
    const ent_field *spec;  /* the spec of the value named (NULL: free-form) */
    ent_val *slot;          /* a field's or declared sub-field's slot; a free-form map's value, or NULL */
    ent_val *v;             /* the value named, NULL when there is none */
    size_t index;           /* parent an array: the index ("-": its length) */
    char *seg;              /* the last segment (a free-form map's key) */
    size_t seglen;
    size_t top;             /* the top-level field the pointer is under */
    size_t depth;           /* the maps and arrays the value named is inside (0: a field's value) */
} loc;

/* The message of a failed operation: "TYPE: JSON Patch op N (OP "PTR"): what". */
typedef struct op_ctx {
    const char *type;
    size_t n;
    const char *op;
    const char *ptr;
    size_t copy_left; /* what copies may still copy (val_cost) */
    const ent__negz *nz; /* the patch's integers written -0, a float field's -0.0 (json_io.c) */
} op_ctx;

/* What the patch's copies may copy together, as a multiple of the data's and the patch's size:
 * room for a value copied several times, while a value copied into itself, which doubles with each
 * copy, is refused after a few copies instead of taking 2^n memory. */
#define COPY_FACTOR 16 /* the 16 of the message */

/* A value's size for the copy budget: a unit per value and per byte of its strings and keys. */
static size_t val_cost(const ent_val *v)
{
    size_t c = 1, i;
    switch (v->k) {
    case EV_STR:
    case EV_BIN: return c + v->u.s.n;
    case EV_ARR:
        for (i = 0; i < v->u.a.n; i++) c += val_cost(&v->u.a.v[i]);
        return c;
    case EV_MAP:
        for (i = 0; i < v->u.m.n; i++) c += val_cost(&v->u.m.v[i]);
        return c;
    case EV_OBJ:
        for (i = 0; i < v->u.o.n; i++) c += v->u.o.kv[i].klen + val_cost(&v->u.o.kv[i].v);
        return c;
    default: return c;
    }
}

static int op_err(const op_ctx *o, int code, const char *what)
{
    return ent__err(code, "%s: JSON Patch op %zu (%s \"%.200s\"): %s", o->type, o->n, o->op, o->ptr, what);
}

/* The same prefix before a message already set (a value's own error). */
static int op_prefix(const op_ctx *o, int rc)
{
    return ent__err_prefix(rc, "%s: JSON Patch op %zu (%s \"%.200s\"): ", o->type, o->n, o->op, o->ptr);
}

/* Resolve ptr in e. Every segment but the last must name a value; the last may name none (add's
 * new key or array end; the caller decides). */
static int resolve(loc *l, ent_entity *e, const char *ptr, size_t n, const op_ctx *o)
{
    ent_val *cur = NULL;
    const ent_field *spec = NULL;
    size_t at = 0;
    memset(l, 0, sizeof *l);
    if (n == 0) {
        l->root = 1;
        return ENT_OK;
    }
    if (ptr[0] != '/') return op_err(o, ENT_INVALID, "not a JSON Pointer (it starts with '/', or is \"\" for the whole data)");
    if (!(l->seg = malloc(n + 1))) return ent__err(ENT_NOMEM, "out of memory");
    while (at < n) {
        long len = ent__ptr_seg(l->seg, ptr, n, &at);
        int last = at >= n;
        ent_val *child = NULL;
        const ent_field *cs = NULL;
        if (len < 0) return op_err(o, ENT_INVALID, "a '~' not followed by 0 or 1");
        /* a JSON key cannot hold one (jansson refuses it), so a map written here would print a
         * key that names another (U+FFFD for the NUL) and would not load back */
        if (memchr(l->seg, 0, (size_t)len)) return op_err(o, ENT_INVALID, "a segment holds a NUL byte (\\u0000), which no key can");
        l->seglen = (size_t)len;
        l->index = 0;
        l->slot = NULL;
        if (!cur) {
            const ent_field *f = strlen(l->seg) == (size_t)len ? ent_type_field(e->type, l->seg) : NULL;
            if (!f) return op_err(o, ENT_INVALID, "names no field of the type");
            child = l->slot = &e->slots[f->pos];
            cs = f;
            l->top = f->pos;
        } else if (cur->k == EV_MAP) {
            const ent_field *sf = strlen(l->seg) == (size_t)len ? ent_field_field(spec, l->seg) : NULL;
            if (!sf || sf->pos >= cur->u.m.n) return op_err(o, ENT_INVALID, "names no field of the map");
            child = l->slot = &cur->u.m.v[sf->pos];
            cs = sf;
        } else if (cur->k == EV_OBJ) {
            ent__obj_will_set(cur); /* a run of pointers into a large map gives it its table */
            child = l->slot = ent__obj_find(cur, l->seg, (size_t)len);
        } else if (cur->k == EV_ARR) {
            cs = spec ? spec->items : NULL;
            if (len == 1 && l->seg[0] == '-') {
                l->index = cur->u.a.n;
            } else if (ent__ptr_index(&l->index, l->seg, (size_t)len)) {
                return op_err(o, ENT_INVALID, "an array index is digits without a leading zero, or \"-\"");
            }
            if (l->index < cur->u.a.n) child = &cur->u.a.v[l->index];
        } else {
            return op_err(o, ENT_INVALID, "goes inside a value that is no map or array");
        }
        if (child && child->k == EV_UNSET) child = NULL;
        if (last) {
            l->depth = cur ? l->depth + 1 : 0;
            l->parent = cur;
            l->spec = cs;
            l->v = child;
            return ENT_OK;
        }
        if (!child) return op_err(o, ENT_CONFLICT, "goes through a value the data does not hold");
        if (cur) l->depth++;
        cur = child;
        spec = cs;
    }
    return ENT_OK;
}

/* Whether v holds more than room levels of maps and arrays (v itself one when it is one). The
 * walk goes no deeper than room + 1, whatever v holds. */
static int too_deep(const ent_val *v, size_t room)
{
    size_t i;
    switch (v->k) {
    case EV_ARR:
        if (!room) return 1;
        for (i = 0; i < v->u.a.n; i++)
            if (too_deep(&v->u.a.v[i], room - 1)) return 1;
        return 0;
    case EV_MAP:
        if (!room) return 1;
        for (i = 0; i < v->u.m.n; i++)
            if (too_deep(&v->u.m.v[i], room - 1)) return 1;
        return 0;
    case EV_OBJ:
        if (!room) return 1;
        for (i = 0; i < v->u.o.n; i++)
            if (too_deep(&v->u.o.kv[i].v, room - 1)) return 1;
        return 0;
    default: return 0;
    }
}

/* ENT_INVALID when v put at l would be nested deeper than a stored value may be (ENT__MAX_DEPTH,
 * which the setters and every write enforce): refused here, the patch built an entity no write
 * took, and one deep enough (a value copied into itself, each copy a level deeper) for the
 * recursive walks of every later call. */
static int depth_check(const loc *l, const ent_val *v, const op_ctx *o)
{
    char what[96];
    if (l->depth < ENT__MAX_DEPTH && !too_deep(v, ENT__MAX_DEPTH - l->depth)) return ENT_OK;
    snprintf(what, sizeof what, "the value would be nested deeper than %d levels", ENT__MAX_DEPTH);
    return op_err(o, ENT_INVALID, what);
}

/* The value named by l as JSON (a new reference). */
static json_t *loc_json(const loc *l, const ent_entity *e)
{
    return l->root ? ent__entity_data_json(e) : ent__val_json(l->spec, l->v);
}

/* Put *nv (taken: cleared in any case) at l, inserting into an array, adding to a free-form map,
 * replacing a field's value. */
static int put(ent_entity *e, loc *l, ent_val *nv, int insert)
{
    int rc;
    if (!l->parent || l->parent->k == EV_MAP) {
        ent__val_clear(l->slot);
        *l->slot = *nv;
    } else if (l->parent->k == EV_OBJ) {
        ent_val *slot = l->slot;
        if (!slot && (rc = ent__obj_add(l->parent, l->seg, l->seglen, &slot))) {
            ent__val_clear(nv);
            return rc;
        }
        ent__val_clear(slot);
        *slot = *nv;
    } else if (insert) {
        if ((rc = ent__arr_insert(l->parent, l->index))) {
            ent__val_clear(nv);
            return rc;
        }
        l->parent->u.a.v[l->index] = *nv;
    } else {
        ent__val_clear(&l->parent->u.a.v[l->index]);
        l->parent->u.a.v[l->index] = *nv;
    }
    memset(nv, 0, sizeof *nv);
    ent__mark_changed(e, l->top);
    return ENT_OK;
}

static void take_out(ent_entity *e, loc *l)
{
    if (!l->parent || l->parent->k == EV_MAP) {
        ent__val_clear(l->slot);
    } else if (l->parent->k == EV_OBJ) {
        ent__obj_remove(l->parent, l->v);
    } else {
        ent_val *a = l->parent;
        ent__val_clear(&a->u.a.v[l->index]);
        memmove(&a->u.a.v[l->index], &a->u.a.v[l->index + 1], (a->u.a.n - l->index - 1) * sizeof(ent_val));
        a->u.a.n--;
    }
    ent__mark_changed(e, l->top);
}

/* The whole data replaced by the object j (add or replace of ""). */
static int put_root(ent_entity *e, json_t *j, const op_ctx *o)
{
    ent_entity *n = NULL;
    char *text;
    int rc;
    if (!json_is_object(j)) return op_err(o, ENT_INVALID, "the whole data is a JSON object of fields");
    /* a float field's -0 would print as 0 */
    if ((rc = ent__json_negzero_fix(&j, NULL, e->type, o->nz))) return rc;
    if (!(text = json_dumps(j, JSON_COMPACT))) return ent__err(ENT_NOMEM, "out of memory");
    rc = ent_entity_from_json(&n, e->type, text, strlen(text));
    free(text);
    if (rc) return op_prefix(o, rc);
    for (size_t i = 0; i < e->type->n_fields; i++)
        if (too_deep(&n->slots[i], ENT__MAX_DEPTH)) {
            char what[ENT_NAME_MAX + 96];
            snprintf(what, sizeof what, "field %s would be nested deeper than %d levels", e->type->fields[i]->name, ENT__MAX_DEPTH);
            ent_entity_free(n);
            return op_err(o, ENT_INVALID, what);
        }
    for (size_t i = 0; i < e->type->n_fields; i++) {
        ent__val_clear(&e->slots[i]);
        if ((rc = ent__val_copy(&e->slots[i], &n->slots[i]))) break;
        ent__mark_changed(e, i);
    }
    ent_entity_free(n);
    return rc;
}

/* The op's "kinds" (pointers relative to its value) applied where the value went: ptr, with an
 * array's "-" or index as the index the value took. */
static int put_kinds(ent_entity *e, json_t *kinds, const char *ptr, size_t n, const loc *l, const op_ctx *o)
{
    char *at = NULL;
    json_t *abs;
    const char *k;
    json_t *m;
    int rc = 0;
    if (!kinds) return ENT_OK;
    if (!json_is_object(kinds)) return op_err(o, ENT_INVALID, "\"kinds\" is not an object");
    if (l->parent && l->parent->k == EV_ARR) {
        size_t cut = n;
        while (cut && ptr[cut - 1] != '/') cut--;
        if (!(at = malloc(cut + 24))) return ent__err(ENT_NOMEM, "out of memory");
        memcpy(at, ptr, cut);
        n = cut + (size_t)snprintf(at + cut, 24, "%zu", l->index);
        ptr = at;
    }
    if (!(abs = json_object())) {
        free(at);
        return ent__err(ENT_NOMEM, "out of memory");
    }
    json_object_foreach(kinds, k, m) {
        size_t kn = json_object_iter_key_len(json_object_key_to_iter(k));
        char *p;
        /* "x" joined to "/attrs/q" would name "/attrs/qx", another value than the one added */
        if (kn && k[0] != '/') {
            free(at);
            json_decref(abs);
            return op_err(o, ENT_INVALID, "\"kinds\": a pointer inside the value starts with '/' (or is \"\" for the value)");
        }
        if (!(p = malloc(n + kn + 1))) {
            rc = -1;
            break;
        }
        memcpy(p, ptr, n);
        memcpy(p + n, k, kn);
        rc = json_object_setn(abs, p, n + kn, m);
        free(p);
        if (rc) break;
    }
    free(at);
    if (rc == -1) {
        json_decref(abs);
        return ent__err(ENT_NOMEM, "out of memory");
    }
    rc = ent__kinds_apply_in(e, abs); /* e is the patch's copy */
    json_decref(abs);
    return rc ? op_prefix(o, rc) : ENT_OK;
}

/* RFC 6902 4.6: equal JSON, numbers by their value (1 equals 1.0). */
static int json_same(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        json_t *i = json_is_integer(a) ? a : json_is_integer(b) ? b : NULL, *r = i == a ? b : a;
        double d;
        if (!i) return json_real_value(a) == json_real_value(b);
        if (json_is_integer(r)) return json_integer_value(a) == json_integer_value(b);
        /* an integer against a real: equal only when the real is that integer exactly */
        d = json_real_value(r);
        if (d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0) return 0;
        return (json_int_t)d == json_integer_value(i);
    }
    if (json_typeof(a) != json_typeof(b)) return 0;
    if (json_is_string(a))
        return json_string_length(a) == json_string_length(b) && !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_same(json_array_get(a, i), json_array_get(b, i))) return 0;
        return 1;
    }
    if (json_is_object(a)) {
        const char *k;
        json_t *m;
        if (json_object_size(a) != json_object_size(b)) return 0;
        json_object_foreach(a, k, m) {
            json_t *o = json_object_getn(b, k, json_object_iter_key_len(json_object_key_to_iter(k)));
            if (!o || !json_same(m, o)) return 0;
        }
        return 1;
    }
    return 1; /* true, false, null */
}

/* test's value as a place of spec would print it (spec NULL: free-form, taken as it is): each
 * declared value read as add and replace read it there, so a timestamp given with an offset, as
 * ns or with fewer fraction digits is the instant it names (compared as given, a test of the value
 * just written failed). A value its field does not read (an int's 1.0, RFC 6902's equal of 1) is
 * compared as given, and the first such one's reason is kept in *why for the message when the
 * values differ. NULL when out of memory. */
static json_t *test_norm(const ent_field *spec, json_t *j, char **why)
{
    json_t *out;
    ent_val tv = {0};
    if (!spec || json_is_null(j)) return json_incref(j);
    if (spec->kind == ENT_KIND_ARRAY && json_is_array(j)) {
        if (!(out = json_array())) return NULL;
        for (size_t i = 0; i < json_array_size(j); i++)
            if (json_array_append_new(out, test_norm(spec->items, json_array_get(j, i), why))) {
                json_decref(out);
                return NULL;
            }
        return out;
    }
    if (spec->kind == ENT_KIND_MAP && spec->fields && json_is_object(j)) {
        const char *k;
        json_t *m;
        if (!(out = json_object())) return NULL;
        json_object_foreach(j, k, m) {
            const ent_field *sub = NULL;
            for (size_t i = 0; i < spec->n_fields && !sub; i++)
                if (!strcmp(spec->fields[i]->name, k)) sub = spec->fields[i];
            /* an unknown sub-field is compared as given: no value held there equals it */
            if (json_object_set_new(out, k, sub ? test_norm(sub, m, why) : json_incref(m))) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    if (ent__val_from_jsonv(&tv, spec, j)) {
        ent__val_clear(&tv);
        if (!*why) {
            char path[512];
            size_t n = strlen(ent_errmsg()) + sizeof path + 8;
            ent__field_path(spec, path, sizeof path);
            if ((*why = malloc(n))) snprintf(*why, n, "%s: %s", path, ent_errmsg());
        }
        return json_incref(j);
    }
    out = ent__val_json(spec, &tv);
    ent__val_clear(&tv);
    return out;
}

/* test's value at l, as the place would print it (test_norm()); the whole data field by field. */
static json_t *test_want(const loc *l, const ent_entity *e, json_t *value, char **why)
{
    const char *k;
    json_t *out, *m;
    if (!l->root) return test_norm(l->spec, value, why);
    if (!json_is_object(value)) return json_incref(value);
    if (!(out = json_object())) return NULL;
    json_object_foreach(value, k, m) {
        const ent_field *f = NULL;
        for (size_t i = 0; i < e->type->n_fields && !f; i++)
            if (!strcmp(e->type->fields[i]->name, k)) f = e->type->fields[i];
        if (json_object_set_new(out, k, f ? test_norm(f, m, why) : json_incref(m))) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* Whether pointer a is b or names a value inside b's ("/a/b" is inside "/a", "/ab" is not). */
static int ptr_within(const char *a, size_t an, const char *b, size_t bn)
{
    return an >= bn && !memcmp(a, b, bn) && (an == bn || a[bn] == '/');
}

static int string_member(const char **out, size_t *n, json_t *op, const char *name, const op_ctx *o)
{
    json_t *m = json_object_get(op, name);
    char what[64];
    if (!json_is_string(m)) {
        snprintf(what, sizeof what, "\"%s\" %s", name, m ? "is not a string" : "is missing");
        return op_err(o, ENT_INVALID, what);
    }
    *out = json_string_value(m);
    *n = json_string_length(m);
    return ENT_OK;
}

static int apply_op(ent_entity *e, json_t *op, op_ctx *o)
{
    const char *name = NULL, *ptr = NULL, *from = NULL;
    size_t nn = 0, pn = 0, fn = 0;
    json_t *value = NULL, *kinds;
    ent_val nv = {0};
    loc l = {0}, f = {0};
    int kind, rc;
    o->op = "?";
    o->ptr = "";
    if (!json_is_object(op)) return op_err(o, ENT_INVALID, "an operation is a JSON object ({\"op\":..., \"path\":...})");
    if ((rc = string_member(&name, &nn, op, "op", o))) return rc;
    for (kind = 0; kind <= OP_TEST; kind++)
        if (nn == strlen(op_names[kind]) && !memcmp(name, op_names[kind], nn)) break;
    if (kind > OP_TEST) return op_err(o, ENT_INVALID, "\"op\" is none of add, remove, replace, move, copy, test");
    o->op = op_names[kind];
    if ((rc = string_member(&ptr, &pn, op, "path", o))) return rc;
    o->ptr = ptr;
    if (kind == OP_ADD || kind == OP_REPLACE || kind == OP_TEST) {
        if (!(value = json_object_get(op, "value"))) return op_err(o, ENT_INVALID, "\"value\" is missing");
    }
    if (kind == OP_MOVE || kind == OP_COPY) {
        if ((rc = string_member(&from, &fn, op, "from", o))) return rc;
        if (kind == OP_MOVE && fn != pn && ptr_within(ptr, pn, from, fn))
            return op_err(o, ENT_INVALID, "moves a value into itself");
        if (!fn) return op_err(o, ENT_INVALID, "\"from\" \"\" is the whole data, which cannot be moved or copied");
    }
    kinds = json_object_get(op, "kinds");
    if (kinds && kind != OP_ADD && kind != OP_REPLACE) return op_err(o, ENT_INVALID, "\"kinds\" goes with add and replace");

    if (from) {
        /* the value from "from": itself between free-form places, else through its JSON */
        const ent_field *fspec;
        ent_val held = {0};
        json_t *fj = NULL;
        if ((rc = resolve(&f, e, from, fn, o))) goto out;
        if (!f.v) {
            rc = op_err(o, ENT_CONFLICT, "\"from\" names no value of the data");
            goto out;
        }
        fspec = f.spec;
        if (kind == OP_COPY) {
            size_t cost = val_cost(f.v);
            if (cost > o->copy_left) {
                rc = op_err(o, ENT_INVALID, "the patch's copies would copy more than 16 times the size of the "
                                            "data and the patch (a value copied into itself doubles each time)");
                goto out;
            }
            o->copy_left -= cost;
        }
        if (kind == OP_MOVE) {
            /* the value itself, taken out of its place (every value of the patch's copy owns its
             * memory): a copy per move made a patch moving a large value cost its size each time */
            held = *f.v;
            memset(f.v, 0, sizeof *f.v);
            take_out(e, &f);
        } else if ((rc = ent__val_copy(&held, f.v))) {
            goto out;
        }
        if ((rc = resolve(&l, e, ptr, pn, o))) {
            ent__val_clear(&held);
            goto out;
        }
        if (l.root) {
            ent__val_clear(&held);
            rc = op_err(o, ENT_INVALID, "a value moved or copied to \"\" would be the whole data: use replace");
            goto out;
        }
        if (fspec || l.spec) {
            if (!(fj = ent__val_json(fspec, &held))) rc = ent__err(ENT_NOMEM, "out of memory");
            ent__val_clear(&held);
            if (!rc && (rc = ent__val_from_jsonv(&held, l.spec, fj))) rc = op_prefix(o, rc);
            json_decref(fj);
            if (rc) goto out;
        }
        if (l.parent && l.parent->k == EV_ARR && l.index > l.parent->u.a.n) {
            ent__val_clear(&held);
            rc = op_err(o, ENT_CONFLICT, "an index past the end of the array");
            goto out;
        }
        /* a value moved no deeper than it was needs no walk (a move costs no more than its
         * pointers); a copy walked it already */
        if ((kind == OP_COPY || l.depth > f.depth) && (rc = depth_check(&l, &held, o))) {
            ent__val_clear(&held);
            goto out;
        }
        rc = put(e, &l, &held, 1);
        goto out;
    }

    if ((rc = resolve(&l, e, ptr, pn, o))) goto out;
    if (kind == OP_TEST) {
        json_t *have = NULL, *want = NULL;
        char *why = NULL;
        if (!l.root && !l.v) {
            rc = op_err(o, ENT_CONFLICT, "test: the data holds no value there");
            goto out;
        }
        if (!(have = loc_json(&l, e))) {
            rc = ent__err(ENT_NOMEM, "out of memory");
            goto out;
        }
        if (!(want = test_want(&l, e, value, &why))) {
            rc = ent__err(ENT_NOMEM, "out of memory");
        } else if (!json_same(have, want)) {
            char what[1024];
            snprintf(what, sizeof what, "test: the value there differs%s%.900s", why ? ": the value given is none the field holds, " : "",
                     why ? why : "");
            rc = op_err(o, ENT_CONFLICT, what);
        }
        free(why);
        json_decref(have);
        json_decref(want);
        goto out;
    }
    if (l.root) {
        if (kind == OP_REMOVE) rc = op_err(o, ENT_INVALID, "the whole data cannot be removed");
        else if (!(rc = put_root(e, value, o))) rc = put_kinds(e, kinds, ptr, pn, &l, o);
        goto out;
    }
    /* add makes its place (a new key, an index up to the array's end); remove and replace need a
     * value there, and "-" names none */
    if (kind != OP_ADD && !l.v) {
        rc = op_err(o, ENT_CONFLICT, "the data holds no value there");
        goto out;
    }
    if (kind == OP_ADD && l.parent && l.parent->k == EV_ARR && l.index > l.parent->u.a.n) {
        rc = op_err(o, ENT_CONFLICT, "an index past the end of the array");
        goto out;
    }
    if (kind == OP_REMOVE) {
        take_out(e, &l);
        goto out;
    }
    /* a float's -0 as -0.0 (JSON's integer 0 elsewhere); on its own reference, value may change */
    json_incref(value);
    if ((rc = ent__json_negzero_fix(&value, l.spec, NULL, o->nz)) == ENT_OK && (rc = ent__val_from_jsonv(&nv, l.spec, value)))
        rc = op_prefix(o, rc);
    json_decref(value);
    if (rc) goto out;
    if ((rc = depth_check(&l, &nv, o))) {
        ent__val_clear(&nv);
        goto out;
    }
    if ((rc = put(e, &l, &nv, kind == OP_ADD))) goto out;
    rc = put_kinds(e, kinds, ptr, pn, &l, o);
out:
    free(l.seg);
    free(f.seg);
    return rc;
}

int ent_entity_json_patch(ent_entity *e, const char *json, size_t len)
{
    ent_entity *c = NULL;
    const size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
    ent__negz nz = {NULL, 0};
    json_error_t err;
    json_t *j;
    op_ctx o;
    int nomem, rc = ENT_OK;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if (!json) return ent__err(ENT_INVALID, "%s: JSON is NULL", e->type->name);
    if (!(j = ent__json_loadb(json, len, flags, &err, &nomem))) {
        if (nomem) return ent__err(ENT_NOMEM, "out of memory parsing JSON");
        return ent__err(ENT_INVALID, "%s: invalid JSON at line %d, column %d: %s", e->type->name, err.line, err.column, err.text);
    }
    /* the places of the patch's values are known op by op: the -0s are looked up there */
    if (ent__negz_find(&nz, j, json, len, flags)) {
        rc = ent__err(ENT_NOMEM, "out of memory parsing JSON");
        goto out;
    }
    o.nz = &nz;
    if (!json_is_array(j)) {
        rc = ent__err(ENT_INVALID, "%s: a JSON Patch is an array of operations", e->type->name);
        goto out;
    }
    /* on a copy: a failed operation leaves e as it was, whatever the ones before it did */
    if ((rc = ent_entity_dup(&c, e))) goto out;
    o.type = e->type->name;
    o.copy_left = len;
    for (size_t i = 0; i < e->type->n_fields; i++) o.copy_left += val_cost(&e->slots[i]);
    o.copy_left = o.copy_left > SIZE_MAX / COPY_FACTOR ? SIZE_MAX : o.copy_left * COPY_FACTOR;
    for (size_t i = 0; i < json_array_size(j); i++) {
        o.n = i;
        if ((rc = apply_op(c, json_array_get(j, i), &o))) goto out;
    }
    /* what the patch left equal stays in place (borrowed strings stay valid; value.h) */
    for (size_t i = 0; i < e->type->n_fields; i++) ent__val_adopt(&e->slots[i], &c->slots[i]);
    memcpy(e->changed, c->changed, (e->type->n_fields + 63) / 64 * sizeof(uint64_t));
out:
    ent_entity_free(c);
    ent__negz_free(&nz);
    json_decref(j);
    return rc;
}
