/* Schema descriptors in JSON (the format of schemas/README.md): load through the builder, so a
 * file and C code give the same model, and render back. Every refusal names the origin (file), the
 * JSON path of the offending element and what is wrong. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "json_write.h"
#include "json_io.h"
#include "schema_int.h"
#include "value_int.h"

typedef struct ctx {
    const char *origin;
    ent__negz nz; /* the text's integers written -0 (a float default's -0.0) */
    char path[512];
} ctx;

/* Fail with ENT_SCHEMA: "<origin>: <path>: <what>". */
static int fail_at(ctx *c, const char *fmt, ...) ENT__PRINTF(2, 3);
static int fail_at(ctx *c, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->path[0]) return ent__err(ENT_SCHEMA, "%s: %s: %s", c->origin, c->path, what);
    return ent__err(ENT_SCHEMA, "%s: %s", c->origin, what);
}

/* A builder call failed: keep its code, put origin and path in front of its message. */
static int wrap(ctx *c, int rc)
{
    if (rc == ENT_NOMEM) return rc;
    if (c->path[0]) return ent__err_prefix(rc, "%s: %s: ", c->origin, c->path);
    return ent__err_prefix(rc, "%s: ", c->origin);
}

static size_t push(ctx *c, const char *seg)
{
    size_t n = strlen(c->path);
    snprintf(c->path + n, sizeof c->path - n, "%s%s", n ? "." : "", seg);
    return n;
}
static void pop(ctx *c, size_t n) { c->path[n] = '\0'; }

static const char *type_word(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int kind_from_name(ent_kind *out, const char *s)
{
    static const struct {
        const char *n;
        ent_kind k;
    } kinds[] = {{"bool", ENT_KIND_BOOL},     {"int", ENT_KIND_INT},       {"uint", ENT_KIND_UINT},
                 {"float", ENT_KIND_FLOAT},   {"string", ENT_KIND_STRING}, {"bytes", ENT_KIND_BYTES},
                 {"timestamp", ENT_KIND_TIMESTAMP}, {"array", ENT_KIND_ARRAY}, {"map", ENT_KIND_MAP},
                 {"ref", ENT_KIND_REF}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].n, s) == 0) {
            *out = kinds[i].k;
            return 1;
        }
    return 0;
}

static int get_bool(ctx *c, json_t *spec, const char *key, int *out)
{
    json_t *j = json_object_get(spec, key);
    size_t n;
    if (!j) return ENT_OK;
    n = push(c, key);
    if (!json_is_boolean(j)) {
        int rc = fail_at(c, "must be true or false, not %s", type_word(j));
        pop(c, n);
        return rc;
    }
    pop(c, n);
    *out = json_is_true(j);
    return 1;
}

static int load_spec(ctx *c, ent_field *f, json_t *spec, int is_items);

/* One limit (min or max) read by the field's kind. */
static int load_limit(ctx *c, ent_field *f, json_t *j, int is_max)
{
    int rc;
    if (f->kind == ENT_KIND_TIMESTAMP && json_is_string(j)) {
        ent_val v;
        memset(&v, 0, sizeof v);
        char *text = json_dumps(j, JSON_ENCODE_ANY);
        if (!text) return ent__err(ENT_NOMEM, "out of memory");
        rc = ent__val_from_json_text(&v, f, text);
        free(text);
        if (rc) return wrap(c, ENT_SCHEMA);
        rc = is_max ? ent_field_set_max_int(f, v.u.i) : ent_field_set_min_int(f, v.u.i);
        ent__val_clear(&v);
        return rc ? wrap(c, rc) : ENT_OK;
    }
    if (json_is_integer(j)) {
        json_int_t i = json_integer_value(j);
        if (f->kind == ENT_KIND_FLOAT)
            rc = is_max ? ent_field_set_max_float(f, (double)i) : ent_field_set_min_float(f, (double)i);
        else if (f->kind == ENT_KIND_UINT && i >= 0)
            rc = is_max ? ent_field_set_max_uint(f, (uint64_t)i) : ent_field_set_min_uint(f, (uint64_t)i);
        else
            rc = is_max ? ent_field_set_max_int(f, i) : ent_field_set_min_int(f, i);
        return rc ? wrap(c, rc) : ENT_OK;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);
        rc = is_max ? ent_field_set_max_float(f, d) : ent_field_set_min_float(f, d);
        return rc ? wrap(c, rc) : ENT_OK;
    }
    if (json_is_string(j) && f->kind == ENT_KIND_UINT) {
        /* uint limits above 2^63-1 are written as decimal strings, as uint values are: digits
         * only, as the values' own reader takes them. strtoull() also skips blanks and takes a
         * sign, so " -5" was a min of 2^64-5 and " 5" or "+5" limits that no value could spell. */
        const char *s = json_string_value(j);
        char *end;
        unsigned long long u;
        errno = 0;
        u = strtoull(s, &end, 10);
        if (*s >= '0' && *s <= '9' && !*end && errno == 0) {
            rc = is_max ? ent_field_set_max_uint(f, u) : ent_field_set_min_uint(f, u);
            return rc ? wrap(c, rc) : ENT_OK;
        }
        return fail_at(c, "\"%s\" is no uint: as a string, decimal digits from 0 to 18446744073709551615", s);
    }
    return fail_at(c, "must be a number, not %s", type_word(j));
}

static int load_fields(ctx *c, ent_type *t, ent_field *map, json_t *fields)
{
    const char *name;
    json_t *spec;
    int rc;
    if (!json_is_object(fields)) return fail_at(c, "must be an object of fields, not %s", type_word(fields));
    json_object_foreach(fields, name, spec) {
        size_t n = push(c, name);
        json_t *id = json_object_get(spec, "id"), *ty = json_object_get(spec, "type");
        ent_kind kind;
        ent_field *f = NULL;
        if (!json_is_object(spec)) {
            rc = fail_at(c, "a field must be an object, not %s", type_word(spec));
            goto out;
        }
        if (!ent__name_ok(name)) {
            rc = fail_at(c, "bad field name \"%s\": use [a-z_][a-z0-9_]*, at most 64 bytes", name);
            goto out;
        }
        if (!id) {
            rc = fail_at(c, "missing \"id\"");
            goto out;
        }
        if (!json_is_integer(id) || json_integer_value(id) < 1 || json_integer_value(id) > ENT_FIELD_ID_MAX) {
            size_t m = push(c, "id");
            rc = fail_at(c, "must be an integer from 1 to 65535");
            pop(c, m);
            goto out;
        }
        if (!ty) {
            rc = fail_at(c, "missing \"type\"");
            goto out;
        }
        if (!json_is_string(ty) || !kind_from_name(&kind, json_string_value(ty))) {
            size_t m = push(c, "type");
            rc = json_is_string(ty) ? fail_at(c, "unknown type \"%s\" (bool, int, uint, float, string, "
                                                 "bytes, timestamp, array, map, ref)", json_string_value(ty))
                                    : fail_at(c, "must be a string, not %s", type_word(ty));
            pop(c, m);
            goto out;
        }
        if (map)
            rc = ent_field_add_field(&f, map, name, (unsigned)json_integer_value(id), kind);
        else
            rc = ent_type_add_field(&f, t, name, (unsigned)json_integer_value(id), kind);
        if (rc) {
            /* The builder's message already names the type and field; point at the element. */
            rc = wrap(c, rc);
            goto out;
        }
        rc = load_spec(c, f, spec, 0);
    out:
        pop(c, n);
        if (rc) return rc;
    }
    return ENT_OK;
}

static int load_spec(ctx *c, ent_field *f, json_t *spec, int is_items)
{
    static const char *const known[] = {"id", "type", "required", "default", "min", "max", "max_length",
                                        "enum", "unique", "indexed", "items", "fields", "to", NULL};
    const char *key;
    json_t *v;
    int rc, on;
    json_object_foreach(spec, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k; k++) ok |= strcmp(*k, key) == 0;
        if (!ok) {
            size_t n = push(c, key);
            rc = fail_at(c, "unknown key");
            pop(c, n);
            return rc;
        }
        if (is_items && (!strcmp(key, "id") || !strcmp(key, "required") || !strcmp(key, "unique") ||
                         !strcmp(key, "indexed") || !strcmp(key, "default"))) {
            size_t n = push(c, key);
            rc = fail_at(c, "not allowed in \"items\" (an item spec has no id, and items are neither "
                            "required, defaulted nor indexed)");
            pop(c, n);
            return rc;
        }
    }
#define OPT_BOOL(name, setter)                                                                     \
    if ((rc = get_bool(c, spec, name, &on)) < 0) return rc;                                        \
    if (rc == 1) {                                                                                 \
        size_t n_ = push(c, name);                                                                 \
        rc = setter(f, on);                                                                        \
        if (rc) rc = wrap(c, rc);                                                                  \
        pop(c, n_);                                                                                \
        if (rc) return rc;                                                                         \
    }
    OPT_BOOL("required", ent_field_set_required)
    OPT_BOOL("unique", ent_field_set_unique)
    OPT_BOOL("indexed", ent_field_set_indexed)
#undef OPT_BOOL
    if ((v = json_object_get(spec, "min")) || (v = json_object_get(spec, "max"))) {
        for (int is_max = 0; is_max < 2; is_max++) {
            json_t *lim = json_object_get(spec, is_max ? "max" : "min");
            size_t n;
            if (!lim) continue;
            n = push(c, is_max ? "max" : "min");
            rc = load_limit(c, f, lim, is_max);
            pop(c, n);
            if (rc) return rc;
        }
    }
    if ((v = json_object_get(spec, "max_length"))) {
        size_t n = push(c, "max_length");
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            rc = fail_at(c, "must be a non-negative integer");
        else if ((rc = ent_field_set_max_length(f, (uint64_t)json_integer_value(v))))
            rc = wrap(c, rc);
        pop(c, n);
        if (rc) return rc;
    }
    if ((v = json_object_get(spec, "enum"))) {
        size_t n = push(c, "enum"), i;
        json_t *e;
        rc = ENT_OK;
        if (!json_is_array(v) || json_array_size(v) == 0)
            rc = fail_at(c, "must be a non-empty array of strings");
        json_array_foreach(v, i, e) {
            if (rc) break;
            if (!json_is_string(e)) {
                char idx[32];
                snprintf(idx, sizeof idx, "[%zu]", i);
                strncat(c->path, idx, sizeof c->path - strlen(c->path) - 1);
                rc = fail_at(c, "must be a string, not %s", type_word(e));
            } else if ((rc = ent_field_add_enum(f, json_string_value(e)))) {
                rc = wrap(c, rc);
            }
        }
        pop(c, n);
        if (rc) return rc;
    }
    if ((v = json_object_get(spec, "to"))) {
        size_t n = push(c, "to");
        if (!json_is_string(v))
            rc = fail_at(c, "must be a type name, not %s", type_word(v));
        else if ((rc = ent_field_set_ref(f, json_string_value(v))))
            rc = wrap(c, rc);
        pop(c, n);
        if (rc) return rc;
    }
    if ((v = json_object_get(spec, "items"))) {
        size_t n = push(c, "items");
        json_t *ty = json_object_get(v, "type");
        ent_kind kind;
        ent_field *it = NULL;
        if (f->kind != ENT_KIND_ARRAY)
            rc = fail_at(c, "\"items\" applies to arrays, not to %s %s", ent__a(ent_kind_name(f->kind)), ent_kind_name(f->kind));
        else if (!json_is_object(v))
            rc = fail_at(c, "must be an object (a field spec without id), not %s", type_word(v));
        else if (!ty)
            rc = fail_at(c, "missing \"type\"");
        else if (!json_is_string(ty) || !kind_from_name(&kind, json_string_value(ty)))
            rc = fail_at(c, "type: unknown type %s", json_is_string(ty) ? json_string_value(ty) : "(not a string)");
        else if ((rc = ent_field_set_items(&it, f, kind)))
            rc = wrap(c, rc);
        else
            rc = load_spec(c, it, v, 1);
        pop(c, n);
        if (rc) return rc;
    } else if (f->kind == ENT_KIND_ARRAY) {
        return fail_at(c, "an array needs \"items\"");
    }
    if ((v = json_object_get(spec, "fields"))) {
        size_t n = push(c, "fields");
        if (f->kind != ENT_KIND_MAP)
            rc = fail_at(c, "\"fields\" applies to maps, not to %s %s", ent__a(ent_kind_name(f->kind)), ent_kind_name(f->kind));
        else if (json_is_object(v) && json_object_size(v) == 0)
            /* The model has no empty declared map: a map without sub-fields is free-form. Taken
             * so, {} let any value in, was stored without "fields", and a later version that
             * declared its first sub-field was refused ("free-form map given declared fields"). */
            rc = fail_at(c, "a map declares at least one field; leave \"fields\" out for a free-form map");
        else
            rc = load_fields(c, f->type, f, v);
        pop(c, n);
        if (rc) return rc;
    }
    if (f->kind == ENT_KIND_REF && !json_object_get(spec, "to"))
        return fail_at(c, "a ref needs \"to\" (the target type)");
    if ((v = json_object_get(spec, "default"))) {
        size_t n = push(c, "default");
        char *text;
        /* jansson reads -0 as the integer 0, and the default was its text printed: a float's
         * default of -0 (also in an array or a declared map) gave its entities +0.0 */
        json_incref(v);
        if ((rc = ent__json_negzero_fix(&v, f, NULL, &c->nz))) {
            json_decref(v);
            return rc;
        }
        text = ent__json_dumps(v, JSON_COMPACT);
        json_decref(v);
        if (!text) return ent__err(ENT_NOMEM, "out of memory");
        rc = ent_field_set_default_json(f, text);
        free(text);
        if (rc) rc = wrap(c, rc);
        pop(c, n);
        if (rc) return rc;
    }
    return ENT_OK;
}

/* The JSON path of field f in the file: types.T.fields.F, then .items for an array's item spec
 * and .fields.S for a map's sub-field. out: a new string the caller frees, or NULL (no memory). */
static char *json_path_of(const struct ent_field *f)
{
    size_t len = strlen("types.") + strlen(f->type->name), depth = 0, i;
    const struct ent_field **chain;
    char *out, *o;
    for (const struct ent_field *p = f; p; p = p->parent) {
        depth++;
        len += p->parent && p->parent->kind == ENT_KIND_ARRAY ? strlen(".items") : strlen(".fields.") + strlen(p->name);
    }
    if (!(chain = malloc(depth * sizeof *chain)) || !(out = malloc(len + 1))) {
        free(chain);
        return NULL;
    }
    for (i = depth; f; f = f->parent) chain[--i] = f;
    o = out + sprintf(out, "types.%s", chain[0]->type->name);
    for (i = 0; i < depth; i++) {
        if (chain[i]->parent && chain[i]->parent->kind == ENT_KIND_ARRAY) o += sprintf(o, ".items");
        else o += sprintf(o, ".fields.%s", chain[i]->name);
    }
    free(chain);
    return out;
}

/* Defaults and refs are checked by ent_schema_check(); its refusal is reported here at the JSON
 * path of the field at fault. That path is made from the field itself: the check's message names
 * it in a buffer of 200 bytes, and turned into a JSON path, a cut one named a field the file does
 * not have ("...fields.dddd" for a sub-field named with 60 d's), and "[][]" (an array of arrays)
 * was one ".items". */
static int check_with_paths(ctx *c, ent_schema *s)
{
    const struct ent_field *bad = NULL;
    int rc = ent__schema_check_at(s, &bad);
    const char *colon;
    char *msg, *jpath;
    if (rc == ENT_OK || rc == ENT_NOMEM) return rc;
    /* the check's message is "<type.field.sub>: <what>"; names hold no ": " */
    if (!bad || !bad->type || !(colon = strstr(ent_errmsg(), ": "))) return ent__err_prefix(rc, "%s: ", c->origin);
    msg = strdup(colon + 2);
    jpath = json_path_of(bad);
    if (!msg || !jpath) {
        free(msg);
        free(jpath);
        return ent__err(ENT_NOMEM, "out of memory");
    }
    rc = ent__err(ENT_SCHEMA, "%s: %s: %s", c->origin, jpath, msg);
    free(msg);
    free(jpath);
    return rc;
}

int ent_schema_load_json(ent_schema **out, const char *json, size_t len, const char *origin)
{
    ctx c;
    json_error_t jerr;
    json_t *root = NULL, *name, *ver, *types, *v;
    ent_schema *s = NULL;
    const char *key;
    int rc, nomem;

    if (!out) return ent__err(ENT_INVALID, "ent_schema_load_json: out is NULL");
    *out = NULL;
    memset(&c, 0, sizeof c);
    c.origin = origin ? origin : "<schema>";
    if (!json) return ent__err(ENT_INVALID, "%s: no JSON text", c.origin);
    root = ent__json_loadb_depth(json, len, JSON_REJECT_DUPLICATES, ENT__SCHEMA_JSON_MAX_DEPTH, &jerr, &nomem);
    if (!root && nomem) return ent__err(ENT_NOMEM, "%s: out of memory parsing JSON", c.origin);
    if (!root && strstr(jerr.text, "JSON_ALLOW_NUL")) /* jansson names its flag; say what it means */
        return ent__err(ENT_SCHEMA, "%s: line %d, column %d: a schema's strings cannot hold \\u0000", c.origin,
                        jerr.line, jerr.column);
    if (!root)
        return ent__err(ENT_SCHEMA, "%s: invalid JSON at line %d, column %d: %s", c.origin, jerr.line,
                        jerr.column, jerr.text);
    if (!json_is_object(root)) {
        rc = fail_at(&c, "a schema must be a JSON object, not %s", type_word(root));
        goto fail;
    }
    if (ent__negz_find(&c.nz, root, json, len, JSON_REJECT_DUPLICATES)) {
        rc = ent__err(ENT_NOMEM, "%s: out of memory parsing JSON", c.origin);
        goto fail;
    }
    json_object_foreach(root, key, v) {
        if (strcmp(key, "schema") && strcmp(key, "version") && strcmp(key, "types")) {
            size_t n = push(&c, key);
            rc = fail_at(&c, "unknown key (expected schema, version, types)");
            pop(&c, n);
            goto fail;
        }
    }
    name = json_object_get(root, "schema");
    ver = json_object_get(root, "version");
    types = json_object_get(root, "types");
    if (!name || !json_is_string(name)) {
        push(&c, "schema");
        rc = fail_at(&c, name ? "must be a string" : "missing (the schema's name)");
        goto fail;
    }
    if (!ver || !json_is_integer(ver) || json_integer_value(ver) < 1 || json_integer_value(ver) > UINT32_MAX) {
        push(&c, "version");
        /* the bound named: a version past 32 bits was told it "must be an integer >= 1" */
        rc = fail_at(&c, ver ? "must be an integer from 1 to 4294967295" : "missing (an integer from 1 to 4294967295)");
        goto fail;
    }
    if ((rc = ent_schema_new(&s, json_string_value(name), (uint32_t)json_integer_value(ver)))) {
        push(&c, "schema");
        rc = wrap(&c, rc);
        goto fail;
    }
    push(&c, "types");
    if (!types) {
        rc = fail_at(&c, "missing (an object of entity types)");
        goto fail;
    }
    if (!json_is_object(types) || json_object_size(types) == 0) {
        rc = fail_at(&c, "must be a non-empty object of entity types");
        goto fail;
    }
    json_object_foreach(types, key, v) {
        size_t n = push(&c, key);
        json_t *kk, *fields;
        ent_type *t = NULL;
        const char *k2;
        json_t *v2;
        ent_key_kind kind;
        if (!json_is_object(v)) {
            rc = fail_at(&c, "a type must be an object, not %s", type_word(v));
            goto fail;
        }
        json_object_foreach(v, k2, v2) {
            if (strcmp(k2, "key") && strcmp(k2, "fields")) {
                push(&c, k2);
                rc = fail_at(&c, "unknown key (expected key, fields)");
                goto fail;
            }
        }
        kk = json_object_get(v, "key");
        if (!kk) {
            rc = fail_at(&c, "missing \"key\" (\"auto\" or \"string\")");
            goto fail;
        }
        if (json_is_string(kk) && strcmp(json_string_value(kk), "auto") == 0)
            kind = ENT_KEY_AUTO;
        else if (json_is_string(kk) && strcmp(json_string_value(kk), "string") == 0)
            kind = ENT_KEY_STRING;
        else {
            push(&c, "key");
            rc = fail_at(&c, "must be \"auto\" or \"string\"");
            goto fail;
        }
        if ((rc = ent_schema_add_type(&t, s, key, kind))) {
            rc = wrap(&c, rc);
            goto fail;
        }
        fields = json_object_get(v, "fields");
        if (!fields) {
            rc = fail_at(&c, "missing \"fields\"");
            goto fail;
        }
        {
            size_t m = push(&c, "fields");
            rc = load_fields(&c, t, NULL, fields);
            pop(&c, m);
        }
        if (rc) goto fail;
        pop(&c, n);
    }
    c.path[0] = '\0';
    if ((rc = check_with_paths(&c, s))) goto fail;
    json_decref(root);
    ent__negz_free(&c.nz);
    *out = s;
    return ENT_OK;
fail:
    json_decref(root);
    ent__negz_free(&c.nz);
    ent_schema_free(s);
    return rc;
}

int ent_schema_load_file(ent_schema **out, const char *path)
{
    FILE *f;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_schema_load_file: out is NULL");
    *out = NULL;
    if (!path) return ent__err(ENT_INVALID, "schema path is NULL");
    /* fopen's message for "", ": No such file or directory", named nothing */
    if (!path[0]) return ent__err(ENT_INVALID, "schema path is empty");
    f = fopen(path, "rb");
    if (!f) return ent__err(errno == ENOENT ? ENT_NOTFOUND : ENT_IO, "%s: %s", path, strerror(errno));
    for (;;) {
        size_t got;
        if (n > ENT_SCHEMA_FILE_MAX) {
            /* read as it comes: a size from stat says nothing of a pipe or a device */
            free(buf);
            fclose(f);
            return ent__err(ENT_INVALID, "%s: over %zu MiB, the most a schema file may hold: not a schema descriptor",
                            path, ENT_SCHEMA_FILE_MAX >> 20);
        }
        if (n == cap) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (!nb) {
                free(buf);
                fclose(f);
                return ent__err(ENT_NOMEM, "out of memory");
            }
            buf = nb;
        }
        errno = 0;
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        int err = errno; /* fread's: a directory opens, then reads fail with EISDIR */
        free(buf);
        fclose(f);
        return ent__err(ENT_IO, "%s: %s", path, err ? strerror(err) : "read error");
    }
    fclose(f);
    rc = ent_schema_load_json(out, buf, n, path);
    free(buf);
    return rc;
}

/* ---- rendering --------------------------------------------------------------------------- */

static json_t *limit_json(const ent_limit *l)
{
    if (l->set == ENT_LIM_INT) return json_integer(l->v.i);
    if (l->set == ENT_LIM_UINT) {
        if (l->v.u <= INT64_MAX) return json_integer((json_int_t)l->v.u);
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, l->v.u);
        return json_string(buf);
    }
    return json_real(l->v.f);
}

static json_t *spec_json(const struct ent_field *f, int with_id);

static json_t *fields_json(struct ent_field **fields, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        json_t *s = spec_json(fields[i], 1);
        if (!s || json_object_set_new(o, fields[i]->name, s)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *spec_json(const struct ent_field *f, int with_id)
{
    json_t *o = json_object();
    int bad = 0;
    if (!o) return NULL;
    if (with_id) bad |= json_object_set_new(o, "id", json_integer(f->id));
    bad |= json_object_set_new(o, "type", json_string(ent_kind_name(f->kind)));
    if (f->kind == ENT_KIND_REF && f->ref_name) bad |= json_object_set_new(o, "to", json_string(f->ref_name));
    if (f->required) bad |= json_object_set_new(o, "required", json_true());
    if (f->unique) bad |= json_object_set_new(o, "unique", json_true());
    if (f->indexed && f->kind != ENT_KIND_REF) bad |= json_object_set_new(o, "indexed", json_true());
    if (f->min.set) bad |= json_object_set_new(o, "min", limit_json(&f->min));
    if (f->max.set) bad |= json_object_set_new(o, "max", limit_json(&f->max));
    if (f->has_max_length) bad |= json_object_set_new(o, "max_length", json_integer((json_int_t)f->max_length));
    if (f->n_enums) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < f->n_enums; i++) bad |= json_array_append_new(a, json_string(f->enums[i]));
        bad |= json_object_set_new(o, "enum", a);
    }
    if (f->default_json) {
        /* a builder's "-0" for a float is -0.0 (as its entities get it), not the integer 0 that
         * the stored schema, and every entity of the store reopened, then took */
        json_t *d = json_loads(f->default_json, JSON_DECODE_ANY, NULL);
        if (d && ent__json_negzero(&d, f, NULL, f->default_json, strlen(f->default_json), JSON_DECODE_ANY)) {
            json_decref(d);
            d = NULL;
        }
        bad |= d ? json_object_set_new(o, "default", d) : -1;
    }
    if (f->items) bad |= json_object_set_new(o, "items", spec_json(f->items, 0));
    if (f->kind == ENT_KIND_MAP && f->n_fields) bad |= json_object_set_new(o, "fields", fields_json(f->fields, f->n_fields));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int ent_schema_to_json(char **out, const ent_schema *s, int pretty)
{
    json_t *root, *types;
    int bad = 0;
    if (!out) return ent__err(ENT_INVALID, "ent_schema_to_json: out is NULL");
    *out = NULL;
    if (!s) return ent__err(ENT_INVALID, "ent_schema_to_json: schema is NULL");
    if (!s->sealed) return ent__err(ENT_INVALID, "schema is not sealed (ent_schema_check)");
    root = json_object();
    types = json_object();
    if (!root || !types) {
        json_decref(root);
        json_decref(types);
        return ent__err(ENT_NOMEM, "out of memory");
    }
    bad |= json_object_set_new(root, "schema", json_string(s->name));
    bad |= json_object_set_new(root, "version", json_integer(s->version));
    for (size_t i = 0; i < s->n_types; i++) {
        const struct ent_type *t = s->types[i];
        json_t *tj = json_object();
        if (!tj) {
            bad = 1;
            break;
        }
        bad |= json_object_set_new(tj, "key", json_string(t->key == ENT_KEY_AUTO ? "auto" : "string"));
        bad |= json_object_set_new(tj, "fields", fields_json(t->fields, t->n_fields));
        bad |= json_object_set_new(types, t->name, tj);
    }
    bad |= json_object_set_new(root, "types", types);
    if (!bad) *out = ent__json_dumps(root, pretty ? JSON_INDENT(2) : JSON_COMPACT);
    json_decref(root);
    if (bad || !*out) return ent__err(ENT_NOMEM, "out of memory rendering the schema");
    return ENT_OK;
}
