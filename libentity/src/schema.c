/* Schemas: the builder and ent_schema_check() (resolve, index, seal). The read-only accessors
 * live in schema_read.c. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "json_io.h"
#include "json_write.h"
#include "rfc3339.h"
#include "schema_int.h"
#include "value_int.h"

int ent__name_ok(const char *name)
{
    size_t n;
    if (!name || !name[0]) return 0;
    n = strlen(name);
    if (n > ENT_NAME_MAX) return 0;
    if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_')) return 0;
    for (size_t i = 1; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

static int kind_ok(ent_kind k) { return k >= ENT_KIND_BOOL && k <= ENT_KIND_REF; }

/* ---- freeing ----------------------------------------------------------------------------- */

static void field_free(struct ent_field *f)
{
    if (!f) return;
    free(f->name);
    for (size_t i = 0; i < f->n_enums; i++) free(f->enums[i]);
    free(f->enums);
    ent__itab_free(&f->enum_ix);
    free(f->default_json);
    if (f->def) {
        ent__val_clear(f->def);
        free(f->def);
    }
    field_free(f->items);
    for (size_t i = 0; i < f->n_fields; i++) field_free(f->fields[i]);
    free(f->fields);
    free(f->names.slot);
    ent__itab_free(&f->ids);
    free(f->ref_name);
    free(f);
}

static void type_free(struct ent_type *t)
{
    if (!t) return;
    free(t->name);
    for (size_t i = 0; i < t->n_fields; i++) field_free(t->fields[i]);
    free(t->fields);
    free(t->indexes);
    free(t->names.slot);
    ent__itab_free(&t->ids);
    free(t);
}

void ent_schema_free(ent_schema *s)
{
    if (!s) return;
    free(s->name);
    for (size_t i = 0; i < s->n_types; i++) type_free(s->types[i]);
    free(s->types);
    ent__itab_free(&s->type_ix);
    free(s);
}

/* ---- building ---------------------------------------------------------------------------- */

static int grow(void *pp, size_t *cap, size_t n, size_t elem)
{
    void **p = pp;
    size_t nc;
    void *np;
    if (n < *cap) return ENT_OK;
    nc = *cap ? *cap * 2 : 8;
    np = realloc(*p, nc * elem);
    if (!np) return ent__err(ENT_NOMEM, "out of memory");
    *p = np;
    *cap = nc;
    return ENT_OK;
}

static int sealed_err(void) { return ent__err(ENT_SCHEMA, "the schema is sealed; it cannot change"); }

int ent_schema_new(ent_schema **out, const char *name, uint32_t version)
{
    ent_schema *s;
    if (!out) return ent__err(ENT_INVALID, "ent_schema_new: out is NULL");
    *out = NULL;
    if (!ent__name_ok(name))
        return ent__err(ENT_SCHEMA, "bad schema name \"%s\": use [a-z_][a-z0-9_]*, at most 64 bytes",
                        name ? name : "(null)");
    if (version < 1) return ent__err(ENT_SCHEMA, "schema %s: version must be >= 1", name);
    s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        free(s);
        return ent__err(ENT_NOMEM, "out of memory");
    }
    s->version = version;
    *out = s;
    return ENT_OK;
}

int ent_schema_add_type(ent_type **out, ent_schema *s, const char *name, ent_key_kind key)
{
    struct ent_type *t;
    int rc;
    if (out) *out = NULL;
    if (!s) return ent__err(ENT_INVALID, "schema is NULL");
    if (s->sealed) return sealed_err();
    if (!ent__name_ok(name))
        return ent__err(ENT_SCHEMA, "bad type name \"%s\": use [a-z_][a-z0-9_]*, at most 64 bytes",
                        name ? name : "(null)");
    if (ent__types_find(&s->type_ix, s->types, name)) return ent__err(ENT_SCHEMA, "duplicate type \"%s\"", name);
    if (key != ENT_KEY_AUTO && key != ENT_KEY_STRING)
        return ent__err(ENT_SCHEMA, "type %s: key must be \"auto\" or \"string\"", name);
    if ((rc = grow(&s->types, &s->cap_types, s->n_types, sizeof *s->types))) return rc;
    t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        return ent__err(ENT_NOMEM, "out of memory");
    }
    t->key = key;
    t->schema = s;
    t->pos = s->n_types;
    s->types[s->n_types] = t;
    if ((rc = ent__types_add(&s->type_ix, s->types, s->n_types + 1))) {
        type_free(t);
        return rc;
    }
    s->n_types++;
    if (out) *out = t;
    return ENT_OK;
}

static struct ent_field *field_new(const char *name, unsigned id, ent_kind kind, struct ent_type *t,
                                   struct ent_field *parent, size_t pos)
{
    struct ent_field *f = calloc(1, sizeof *f);
    if (!f || !(f->name = strdup(name))) {
        free(f);
        return NULL;
    }
    f->id = id;
    f->kind = kind;
    f->type = t;
    f->parent = parent;
    f->pos = pos;
    f->index_no = -1;
    return f;
}

/* Whether a spec below f (an item or a sub-field) would nest deeper than ENT__SCHEMA_MAX_DEPTH. */
static int too_deep(const struct ent_field *f)
{
    unsigned d = 1; /* the spec to add */
    for (; f; f = f->parent)
        if (++d > ENT__SCHEMA_MAX_DEPTH) return 1;
    return 0;
}

static int too_deep_err(const char *where)
{
    return ent__err(ENT_SCHEMA, "%s: maps and arrays nested deeper than %d levels in a schema", where,
                    ENT__SCHEMA_MAX_DEPTH);
}

/* Shared by top-level fields and declared map sub-fields: `list` is where the field goes, nt and
 * ids its tables (of the type or the map). */
static int add_to(ent_field **out, struct ent_field ***list, size_t *n, size_t *cap, ent__names *nt,
                  ent__itab *ids, struct ent_type *t, struct ent_field *parent, const char *name, unsigned id,
                  ent_kind kind)
{
    char where[200];
    struct ent_field *f, *dup;
    size_t len;
    uint64_t key;
    int rc;
    if (out) *out = NULL;
    if (parent)
        ent__field_path(parent, where, sizeof where);
    else
        snprintf(where, sizeof where, "%s", t->name);
    if (t->schema->sealed) return sealed_err();
    if (!ent__name_ok(name))
        return ent__err(ENT_SCHEMA, "%s: bad field name \"%s\": use [a-z_][a-z0-9_]*, at most 64 bytes",
                        where, name ? name : "(null)");
    if (id < 1 || id > ENT_FIELD_ID_MAX)
        return ent__err(ENT_SCHEMA, "%s.%s: id %u is outside 1..65535", where, name, id);
    if (!kind_ok(kind)) return ent__err(ENT_SCHEMA, "%s.%s: unknown field type (kind %d)", where, name, (int)kind);
    if (too_deep(parent)) return too_deep_err(where);
    if (kind == ENT_KIND_REF && parent)
        return ent__err(ENT_SCHEMA, "%s.%s: refs are allowed only on top-level fields", where, name);
    /* by the tables, not a scan of the list: a scan per field made loading a type quadratic in its
     * field count (2 000 fields: 114 M instructions, 4 000: 376 M) */
    key = ent__step_key(name, &len);
    if (ent__names_find(nt, *list, name, len, key)) {
        ent__schema_compares++;
        return ent__err(ENT_SCHEMA, "%s: duplicate field name \"%s\"", where, name);
    }
    if ((dup = ent__ids_find(ids, *list, id)))
        return ent__err(ENT_SCHEMA, "%s.%s: duplicate field id %u (also %s)", where, name, id, dup->name);
    if ((rc = grow(list, cap, *n, sizeof **list))) return rc;
    f = field_new(name, id, kind, t, parent, *n);
    if (!f) return ent__err(ENT_NOMEM, "out of memory");
    (*list)[*n] = f;
    /* room in both tables first: a field in one only would be half added, and the next field
     * added would take its index */
    if ((rc = ent__names_reserve(nt, *list, *n + 1)) || (rc = ent__ids_reserve(ids, *list, *n + 1))) {
        field_free(f);
        return rc;
    }
    ent__names_put(nt, *list, *n + 1);
    ent__ids_put(ids, *list, *n + 1);
    (*n)++;
    if (out) *out = f;
    return ENT_OK;
}

int ent_type_add_field(ent_field **out, ent_type *t, const char *name, unsigned id, ent_kind kind)
{
    if (!t) return ent__err(ENT_INVALID, "type is NULL");
    return add_to(out, &t->fields, &t->n_fields, &t->cap_fields, &t->names, &t->ids, t, NULL, name, id, kind);
}

int ent_field_add_field(ent_field **out, ent_field *map, const char *name, unsigned id, ent_kind kind)
{
    char path[200];
    if (!map) return ent__err(ENT_INVALID, "field is NULL");
    if (map->kind != ENT_KIND_MAP)
        return ent__err(ENT_SCHEMA, "%s: sub-fields need a map, not %s %s",
                        ent__field_path(map, path, sizeof path), ent__a(ent_kind_name(map->kind)), ent_kind_name(map->kind));
    return add_to(out, &map->fields, &map->n_fields, &map->cap_fields, &map->names, &map->ids, map->type, map,
                  name, id, kind);
}

int ent_field_set_items(ent_field **out, ent_field *array, ent_kind kind)
{
    char path[200];
    struct ent_field *f;
    if (out) *out = NULL;
    if (!array) return ent__err(ENT_INVALID, "field is NULL");
    if (array->type->schema->sealed) return sealed_err();
    ent__field_path(array, path, sizeof path);
    if (array->kind != ENT_KIND_ARRAY)
        return ent__err(ENT_SCHEMA, "%s: items need an array, not %s %s", path, ent__a(ent_kind_name(array->kind)), ent_kind_name(array->kind));
    if (array->items) return ent__err(ENT_SCHEMA, "%s: items are set already", path);
    if (!kind_ok(kind)) return ent__err(ENT_SCHEMA, "%s[]: unknown item type (kind %d)", path, (int)kind);
    if (kind == ENT_KIND_REF) return ent__err(ENT_SCHEMA, "%s[]: refs are allowed only on top-level fields", path);
    if (too_deep(array)) return too_deep_err(path);
    f = field_new("", 0, kind, array->type, array, 0);
    if (!f) return ent__err(ENT_NOMEM, "out of memory");
    array->items = f;
    if (out) *out = f;
    return ENT_OK;
}

/* Common guard of the option setters: field given, schema open. */
static int opt_guard(ent_field *f, char *path, size_t size)
{
    if (!f) return ent__err(ENT_INVALID, "field is NULL");
    if (f->type->schema->sealed) return sealed_err();
    ent__field_path(f, path, size);
    return ENT_OK;
}

static int is_top(const struct ent_field *f) { return f->parent == NULL; }

int ent_field_set_required(ent_field *f, int on)
{
    char path[200];
    int rc = opt_guard(f, path, sizeof path);
    if (rc) return rc;
    if (f->parent && f->parent->kind == ENT_KIND_ARRAY)
        return ent__err(ENT_SCHEMA, "%s: \"required\" does not apply to array items", path);
    f->required = on != 0;
    return ENT_OK;
}

static int index_ok(ent_field *f, const char *path, const char *what)
{
    if (!is_top(f))
        return ent__err(ENT_SCHEMA, "%s: \"%s\" applies only to top-level fields", path, what);
    if (f->kind == ENT_KIND_ARRAY || f->kind == ENT_KIND_MAP)
        return ent__err(ENT_SCHEMA, "%s: %s %s cannot be %s (scalars and refs only)", path,
                        ent__a(ent_kind_name(f->kind)), ent_kind_name(f->kind), what);
    return ENT_OK;
}

int ent_field_set_unique(ent_field *f, int on)
{
    char path[200];
    int rc = opt_guard(f, path, sizeof path);
    if (rc) return rc;
    if (on && (rc = index_ok(f, path, "unique"))) return rc;
    f->unique = on != 0;
    return ENT_OK;
}

int ent_field_set_indexed(ent_field *f, int on)
{
    char path[200];
    int rc = opt_guard(f, path, sizeof path);
    if (rc) return rc;
    /* A ref's index is its own (it finds the refs to an entity that would be deleted), whatever
     * this flag says: false was taken and dropped, the ref indexed all the same. */
    if (!on && f->kind == ENT_KIND_REF)
        return ent__err(ENT_SCHEMA, "%s: a ref is always indexed (the index guards its target against deletion): it cannot be "
                                    "\"indexed\": false",
                        path);
    if (on && (rc = index_ok(f, path, "indexed"))) return rc;
    f->indexed = on != 0;
    return ENT_OK;
}

static int numeric(const struct ent_field *f)
{
    return f->kind == ENT_KIND_INT || f->kind == ENT_KIND_UINT || f->kind == ENT_KIND_FLOAT ||
           f->kind == ENT_KIND_TIMESTAMP;
}

static int set_limit(ent_field *f, int is_max, int lk, int64_t i, uint64_t u, double d)
{
    char path[200];
    ent_limit *l;
    int rc = opt_guard(f, path, sizeof path);
    if (rc) return rc;
    if (!numeric(f))
        return ent__err(ENT_SCHEMA, "%s: \"%s\" applies to numbers and timestamps, not to %s %s", path,
                        is_max ? "max" : "min", ent__a(ent_kind_name(f->kind)), ent_kind_name(f->kind));
    if (lk == ENT_LIM_FLOAT && isnan(d)) return ent__err(ENT_SCHEMA, "%s: limit is NaN", path);
    /* Schema JSON has no number for it (the stored schema could not be written: it failed as
     * "out of memory"), and an infinite bound is no bound: leave it out. */
    if (lk == ENT_LIM_FLOAT && isinf(d)) return ent__err(ENT_SCHEMA, "%s: limit is infinite; leave the bound out", path);
    /* Held as schema JSON's reader holds it (schema_json.c), so that the stored copy of a built
     * schema renders to the same text and the store opens again with that schema (it said the
     * schema "differs from the stored version"): an integer bound of a float field is a float;
     * one above 2^63-1 is written as a decimal string, which only a uint field reads. */
    if (f->kind == ENT_KIND_FLOAT && lk != ENT_LIM_FLOAT) {
        d = lk == ENT_LIM_INT ? (double)i : (double)u;
        lk = ENT_LIM_FLOAT;
    } else if (lk == ENT_LIM_UINT && u > INT64_MAX && f->kind != ENT_KIND_UINT) {
        return ent__err(ENT_SCHEMA, "%s: bound %" PRIu64 " is above 2^63-1, which only a uint field takes", path, u);
    }
    l = is_max ? &f->max : &f->min;
    if (!is_max) f->min_below_zero = 0; /* a min set again after a check dropped one */
    l->set = (uint8_t)lk;
    if (lk == ENT_LIM_INT) l->v.i = i;
    else if (lk == ENT_LIM_UINT) l->v.u = u;
    else l->v.f = d;
    return ENT_OK;
}

int ent_field_set_min_int(ent_field *f, int64_t v) { return set_limit(f, 0, ENT_LIM_INT, v, 0, 0); }
int ent_field_set_max_int(ent_field *f, int64_t v) { return set_limit(f, 1, ENT_LIM_INT, v, 0, 0); }
int ent_field_set_min_uint(ent_field *f, uint64_t v) { return set_limit(f, 0, ENT_LIM_UINT, 0, v, 0); }
int ent_field_set_max_uint(ent_field *f, uint64_t v) { return set_limit(f, 1, ENT_LIM_UINT, 0, v, 0); }
int ent_field_set_min_float(ent_field *f, double v) { return set_limit(f, 0, ENT_LIM_FLOAT, 0, 0, v); }
int ent_field_set_max_float(ent_field *f, double v) { return set_limit(f, 1, ENT_LIM_FLOAT, 0, 0, v); }

int ent_field_set_max_length(ent_field *f, uint64_t n)
{
    char path[200];
    int rc = opt_guard(f, path, sizeof path);
    if (rc) return rc;
    if (f->kind != ENT_KIND_STRING && f->kind != ENT_KIND_BYTES && f->kind != ENT_KIND_ARRAY)
        return ent__err(ENT_SCHEMA, "%s: \"max_length\" applies to strings, bytes and arrays, not to %s %s",
                        path, ent__a(ent_kind_name(f->kind)), ent_kind_name(f->kind));
    /* schema JSON holds integers up to 2^63-1: a larger one was written as a negative number and
     * the stored schema did not load again */
    if (n > INT64_MAX)
        return ent__err(ENT_SCHEMA, "%s: max_length %" PRIu64 " is above 2^63-1 (schema JSON holds no more)", path, n);
    f->has_max_length = 1;
    f->max_length = n;
    return ENT_OK;
}

int ent_field_add_enum(ent_field *f, const char *value)
{
    char path[200];
    int rc = opt_guard(f, path, sizeof path);
    if (rc) return rc;
    if (f->kind != ENT_KIND_STRING)
        return ent__err(ENT_SCHEMA, "%s: \"enum\" applies to strings, not to %s %s", path, ent__a(ent_kind_name(f->kind)), ent_kind_name(f->kind));
    if (!value) return ent__err(ENT_SCHEMA, "%s: enum value is NULL", path);
    if (!ent__utf8_ok(value, strlen(value)))
        return ent__err(ENT_SCHEMA, "%s: enum value is not valid UTF-8", path);
    /* a table, not a scan per value: 4 000 values cost 274 M instructions to load (callgrind) */
    if (ent__enums_has(&f->enum_ix, f->enums, value, strlen(value)))
        return ent__err(ENT_SCHEMA, "%s: duplicate enum value \"%s\"", path, value);
    if ((rc = grow(&f->enums, &f->cap_enums, f->n_enums, sizeof *f->enums))) return rc;
    if (!(f->enums[f->n_enums] = strdup(value))) return ent__err(ENT_NOMEM, "out of memory");
    if ((rc = ent__enums_add(&f->enum_ix, f->enums, f->n_enums + 1))) {
        free(f->enums[f->n_enums]);
        return rc;
    }
    f->n_enums++;
    return ENT_OK;
}

int ent_field_set_ref(ent_field *f, const char *type_name)
{
    char path[200];
    char *n;
    int rc = opt_guard(f, path, sizeof path);
    if (rc) return rc;
    if (f->kind != ENT_KIND_REF)
        return ent__err(ENT_SCHEMA, "%s: \"to\" applies to refs, not to %s %s", path, ent__a(ent_kind_name(f->kind)), ent_kind_name(f->kind));
    if (!type_name) return ent__err(ENT_SCHEMA, "%s: ref target type name is NULL", path);
    if (!ent__name_ok(type_name)) return ent__err(ENT_SCHEMA, "%s: bad ref target \"%s\"", path, type_name);
    if (!(n = strdup(type_name))) return ent__err(ENT_NOMEM, "out of memory");
    free(f->ref_name);
    f->ref_name = n;
    return ENT_OK;
}

int ent_field_set_default_json(ent_field *f, const char *json)
{
    char path[200];
    char *d;
    int rc = opt_guard(f, path, sizeof path);
    if (rc) return rc;
    if (!json) return ent__err(ENT_SCHEMA, "%s: default is NULL", path);
    if (f->kind == ENT_KIND_REF) return ent__err(ENT_SCHEMA, "%s: a ref cannot have a default", path);
    if (f->parent && f->parent->kind == ENT_KIND_ARRAY)
        return ent__err(ENT_SCHEMA, "%s: \"default\" does not apply to array items", path);
    /* Schema JSON (the stored schema) is read without NULs in strings: a default holding one
     * could not be rendered, and a store could not be made with it ("out of memory rendering
     * the schema"). Other bad text is named at ent_schema_check(). */
    {
        json_error_t err;
        int nomem = 0;
        json_t *j = ent__json_loadb(json, strlen(json), JSON_DECODE_ANY, &err, &nomem);
        if (j) {
            json_decref(j);
        } else if (nomem) {
            return ent__err(ENT_NOMEM, "out of memory");
        } else if ((j = ent__json_loadb(json, strlen(json), JSON_DECODE_ANY | JSON_ALLOW_NUL, &err, &nomem))) {
            json_decref(j);
            return ent__err(ENT_SCHEMA, "%s: a default cannot hold \\u0000 (schema JSON does not carry it)", path);
        } else if (nomem) {
            return ent__err(ENT_NOMEM, "out of memory");
        }
    }
    if (!(d = strdup(json))) return ent__err(ENT_NOMEM, "out of memory");
    free(f->default_json);
    f->default_json = d;
    return ENT_OK;
}

/* ---- checking ---------------------------------------------------------------------------- */

/* Compare two limits as numbers: <0, 0, >0. */
static int limit_cmp(const ent_limit *a, const ent_limit *b)
{
    if (a->set == ENT_LIM_FLOAT || b->set == ENT_LIM_FLOAT) {
        double x = a->set == ENT_LIM_FLOAT ? a->v.f : a->set == ENT_LIM_INT ? (double)a->v.i : (double)a->v.u;
        double y = b->set == ENT_LIM_FLOAT ? b->v.f : b->set == ENT_LIM_INT ? (double)b->v.i : (double)b->v.u;
        return x < y ? -1 : x > y;
    }
    if (a->set == ENT_LIM_INT && b->set == ENT_LIM_INT) return a->v.i < b->v.i ? -1 : a->v.i > b->v.i;
    if (a->set == ENT_LIM_UINT && b->set == ENT_LIM_UINT) return a->v.u < b->v.u ? -1 : a->v.u > b->v.u;
    if (a->set == ENT_LIM_INT) return a->v.i < 0 ? -1 : ((uint64_t)a->v.i < b->v.u ? -1 : (uint64_t)a->v.i > b->v.u);
    return b->v.i < 0 ? 1 : (a->v.u < (uint64_t)b->v.i ? -1 : a->v.u > (uint64_t)b->v.i);
}

static int mark_defaults(struct ent_field *f);

static const char *limit_text(char *buf, size_t size, const struct ent_field *f, const ent_limit *l)
{
    if (f->kind == ENT_KIND_TIMESTAMP && l->set == ENT_LIM_INT && size >= 48) ent__ts_format(buf, l->v.i);
    else if (l->set == ENT_LIM_INT) snprintf(buf, size, "%" PRId64, l->v.i);
    else if (l->set == ENT_LIM_UINT) snprintf(buf, size, "%" PRIu64, l->v.u);
    else if (size >= 32) ent__json_real(buf, l->v.f);
    else snprintf(buf, size, "%.17g", l->v.f);
    return buf;
}

/* Whether a numeric field's min and max admit a value of its kind. The candidate is the lowest
 * value of the kind at or above min, and the validator itself judges it against both limits, so
 * this agrees with what a write meets. limit_cmp() (above) compares through doubles and passes
 * min 9007199254740993 with max 9007199254740992.0; and a min above the kind's range (an int's
 * min 1e30), a max below it, or limits between two integers (an int's min 1.2, max 1.7) are no
 * min > max at all, yet each refused every value. */
static int limits_admit_a_value(const struct ent_field *f)
{
    char path[200];
    ent_val v;
    const ent_limit *lo = &f->min;
    memset(&v, 0, sizeof v);
    switch (f->kind) {
    case ENT_KIND_INT:
    case ENT_KIND_TIMESTAMP:
        v.k = f->kind == ENT_KIND_INT ? EV_INT : EV_TS;
        v.u.i = INT64_MIN;
        if (lo->set == ENT_LIM_INT) v.u.i = lo->v.i;
        else if (lo->set == ENT_LIM_UINT && lo->v.u > (uint64_t)INT64_MAX) return 0;
        else if (lo->set == ENT_LIM_UINT) v.u.i = (int64_t)lo->v.u;
        else if (lo->set == ENT_LIM_FLOAT && lo->v.f >= 9223372036854775808.0) return 0;
        else if (lo->set == ENT_LIM_FLOAT && lo->v.f > -9223372036854775808.0) v.u.i = (int64_t)ceil(lo->v.f);
        break;
    case ENT_KIND_UINT:
        v.k = EV_UINT;
        v.u.u = 0;
        if (lo->set == ENT_LIM_INT && lo->v.i > 0) v.u.u = (uint64_t)lo->v.i;
        else if (lo->set == ENT_LIM_UINT) v.u.u = lo->v.u;
        else if (lo->set == ENT_LIM_FLOAT && lo->v.f >= 18446744073709551616.0) return 0;
        else if (lo->set == ENT_LIM_FLOAT && lo->v.f > 0) v.u.u = (uint64_t)ceil(lo->v.f);
        break;
    case ENT_KIND_FLOAT:
        v.k = EV_FLOAT;
        v.u.f = -INFINITY;
        if (lo->set == ENT_LIM_FLOAT) v.u.f = lo->v.f;
        else if (lo->set == ENT_LIM_INT) v.u.f = (double)lo->v.i;
        else if (lo->set == ENT_LIM_UINT) v.u.f = (double)lo->v.u;
        /* an integer min rounded down to the double below it: the next double up is the lowest */
        if (lo->set && lo->set != ENT_LIM_FLOAT && ent__val_validate(f, &v, "") != ENT_OK) v.u.f = nextafter(v.u.f, INFINITY);
        break;
    default: return 1;
    }
    ent__field_path(f, path, sizeof path);
    return ent__val_validate(f, &v, path) == ENT_OK;
}

/* Whether limit l (min, or max when is_max) of an integer field lies outside its kind's range
 * on the side where it bounds nothing: a uint's min below 0 (-1 was taken, and restricted
 * nothing, as if the writer had meant something by it), an int's or a timestamp's min below
 * -2^63 or max at or above 2^63, a uint's max at or above 2^64 (floats: no integer is there). A
 * bound beyond the other side (a uint's max below 0) admits no value: limits_admit_a_value(). */
static int limit_restricts_nothing(const struct ent_field *f, const ent_limit *l, int is_max)
{
    if (!is_max && f->min_below_zero) return 1; /* dropped by ent_schema_check() */
    if (!l->set) return 0;
    switch (f->kind) {
    case ENT_KIND_UINT:
        if (is_max) return l->set == ENT_LIM_FLOAT && l->v.f >= 18446744073709551616.0;
        return (l->set == ENT_LIM_INT && l->v.i < 0) || (l->set == ENT_LIM_FLOAT && l->v.f < 0);
    case ENT_KIND_INT:
    case ENT_KIND_TIMESTAMP:
        /* an integer limit above 2^63-1 is refused when set (set_limit()) */
        if (is_max) return l->set == ENT_LIM_FLOAT && l->v.f >= 9223372036854775808.0;
        return l->set == ENT_LIM_FLOAT && l->v.f < -9223372036854775808.0;
    default: return 0;
    }
}

static int check_new_field(const struct ent_field *f, int depth)
{
    char path[200];
    int rc;
    if (f->kind == ENT_KIND_MAP || f->kind == ENT_KIND_ARRAY) {
        /* counted as ent_entity_validate() counts a value's levels */
        if (++depth > ENT__MAX_DEPTH)
            return ent__err(ENT_SCHEMA, "%s: maps and arrays nested deeper than %d levels (an entity holds no value there)",
                            ent__field_path(f, path, sizeof path), ENT__MAX_DEPTH);
        if (f->items && (rc = check_new_field(f->items, depth))) return rc;
        for (size_t i = 0; i < f->n_fields; i++)
            if ((rc = check_new_field(f->fields[i], depth))) return rc;
    }
    if (f->kind == ENT_KIND_UINT && f->max.set &&
        ((f->max.set == ENT_LIM_INT && f->max.v.i < 0) || (f->max.set == ENT_LIM_FLOAT && f->max.v.f < 0)))
        return ent__err(ENT_SCHEMA, "%s: a uint with a max below 0 refuses every value", ent__field_path(f, path, sizeof path));
    for (int is_max = 0; is_max < 2; is_max++) {
        const ent_limit *l = is_max ? &f->max : &f->min;
        char lb[64];
        if (!limit_restricts_nothing(f, l, is_max)) continue;
        ent__field_path(f, path, sizeof path);
        if (!l->set) /* the uint's min below 0 that ent_schema_check() dropped: its value is gone */
            return ent__err(ENT_SCHEMA, "%s: min %" PRId64 " is below every uint value (0 to 18446744073709551615): it "
                                        "restricts nothing; leave it out", path, l->v.i);
        return ent__err(ENT_SCHEMA, "%s: %s %s is %s every %s value (%s): it restricts nothing; leave it out", path,
                        is_max ? "max" : "min", limit_text(lb, sizeof lb, f, l), is_max ? "above" : "below",
                        ent_kind_name(f->kind),
                        f->kind == ENT_KIND_UINT ? "0 to 18446744073709551615"
                        : f->kind == ENT_KIND_INT ? "-9223372036854775808 to 9223372036854775807"
                                                  : "-9223372036854775808 to 9223372036854775807 ns from the epoch");
    }
    if ((f->min.set || f->max.set) && !limits_admit_a_value(f)) {
        char lb[64], hb[64];
        ent__field_path(f, path, sizeof path);
        if (f->min.set && f->max.set)
            return ent__err(ENT_SCHEMA, "%s: no %s value is within min %s and max %s (every value would be refused)",
                            path, ent_kind_name(f->kind), limit_text(lb, sizeof lb, f, &f->min),
                            limit_text(hb, sizeof hb, f, &f->max));
        return ent__err(ENT_SCHEMA, "%s: no %s value is within %s %s (every value would be refused)", path,
                        ent_kind_name(f->kind), f->min.set ? "min" : "max",
                        limit_text(lb, sizeof lb, f, f->min.set ? &f->min : &f->max));
    }
    if (f->n_enums && f->has_max_length) {
        size_t i;
        for (i = 0; i < f->n_enums && strlen(f->enums[i]) > f->max_length; i++) {}
        if (i == f->n_enums)
            return ent__err(ENT_SCHEMA, "%s: no enum value fits max_length %" PRIu64 " (every value would be refused)",
                            ent__field_path(f, path, sizeof path), (uint64_t)f->max_length);
    }
    return ENT_OK;
}

int ent__schema_check_new(const ent_schema *s)
{
    int rc;
    if (s->from_store) return ENT_OK;
    for (size_t i = 0; i < s->n_types; i++)
        for (size_t j = 0; j < s->types[i]->n_fields; j++)
            if ((rc = check_new_field(s->types[i]->fields[j], 0))) return rc;
    return ENT_OK;
}

/* rc, with f noted as the field at fault: its path in the message may be cut (a path buffer of
 * 200 bytes), and schema JSON names the file's element from the field itself. */
static int at(const struct ent_field **bad, const struct ent_field *f, int rc)
{
    *bad = f;
    return rc;
}

static int check_field(ent_schema *s, struct ent_field *f, const struct ent_field **bad)
{
    char path[200];
    int rc;
    ent__field_path(f, path, sizeof path);
    if (f->kind == ENT_KIND_ARRAY) {
        if (!f->items) return at(bad, f, ent__err(ENT_SCHEMA, "%s: an array needs \"items\"", path));
        if ((rc = check_field(s, f->items, bad))) return rc;
    }
    if (f->kind == ENT_KIND_MAP) {
        for (size_t i = 0; i < f->n_fields; i++)
            if ((rc = check_field(s, f->fields[i], bad))) return rc;
    }
    if (f->kind == ENT_KIND_REF) {
        if (!f->ref_name) return at(bad, f, ent__err(ENT_SCHEMA, "%s: a ref needs \"to\" (the target type)", path));
        f->ref_type = ent_schema_type(s, f->ref_name);
        if (!f->ref_type) return at(bad, f, ent__err(ENT_SCHEMA, "%s: ref to unknown type \"%s\"", path, f->ref_name));
        f->indexed = 1; /* refs are always indexed: look-ups by target and delete guards need it */
    }
    f->ev = ent__ev_kind(f); /* once here, not per value decoded */
    if (f->min.set && f->max.set && limit_cmp(&f->min, &f->max) > 0)
        return at(bad, f, ent__err(ENT_SCHEMA, "%s: min is greater than max", path));
    if (f->kind == ENT_KIND_UINT && f->min.set == ENT_LIM_INT && f->min.v.i < 0) {
        /* dropped, as a store made before ent__schema_check_new()'s rule has it; noted (and its
         * value kept in v.i, for the message) for that rule */
        f->min.set = 0;
        f->min_below_zero = 1;
    }
    f->plain = !f->min.set && !f->max.set && !f->has_max_length && !f->n_enums && f->kind != ENT_KIND_REF;
    /* Parse the default again at every check: an earlier check that failed elsewhere may have
     * parsed one that has been replaced since, or checked it against other limits. */
    if (f->def) {
        ent__val_clear(f->def);
        free(f->def);
        f->def = NULL;
    }
    if (f->default_json) {
        ent_val *v = calloc(1, sizeof *v);
        if (!v) return ent__err(ENT_NOMEM, "out of memory");
        rc = ent__val_from_json_text(v, f, f->default_json);
        if (rc == ENT_OK && v->k == EV_UNSET) {
            free(v);
            return at(bad, f, ent__err(ENT_SCHEMA, "%s: default is null", path));
        }
        /* with its sub-fields' defaults, as it goes into entities: {} for a map whose required
         * q defaults to 3 holds q (it was refused as "missing required field") */
        if (rc == ENT_OK) {
            size_t filled = 0;
            mark_defaults(f);
            rc = ent__val_fill_defaults(f, v, &filled);
        }
        if (rc == ENT_OK) rc = ent__val_validate(f, v, path);
        if (rc) {
            ent__val_clear(v);
            free(v);
            if (rc == ENT_NOMEM) return rc;
            return at(bad, f, ent__err_prefix(ENT_SCHEMA, "%s: bad default: ", path));
        }
        f->def = v;
    }
    return ENT_OK;
}

/* Set defaults_below on f and the specs under it; returns whether f or anything under it has a
 * default. Reading a record fills defaults on every get: the flags let it skip what has none. */
static int mark_defaults(struct ent_field *f)
{
    int below = 0;
    if (f->kind == ENT_KIND_ARRAY && f->items) below = mark_defaults(f->items);
    for (size_t i = 0; i < f->n_fields; i++) below |= mark_defaults(f->fields[i]);
    f->defaults_below = below != 0;
    return below || f->def != NULL;
}

int ent_schema_check(ent_schema *s)
{
    const struct ent_field *bad;
    return ent__schema_check_at(s, &bad);
}

int ent__schema_check_at(ent_schema *s, const struct ent_field **bad)
{
    int rc;
    *bad = NULL;
    if (!s) return ent__err(ENT_INVALID, "schema is NULL");
    if (s->sealed) return ENT_OK;
    for (size_t i = 0; i < s->n_types; i++) {
        struct ent_type *t = s->types[i];
        size_t n = 0;
        for (size_t j = 0; j < t->n_fields; j++)
            if ((rc = check_field(s, t->fields[j], bad))) return rc;
        t->has_defaults = 0;
        for (size_t j = 0; j < t->n_fields; j++) t->has_defaults |= mark_defaults(t->fields[j]);
        t->room = ent__type_room(t);
        for (size_t j = 0; j < t->n_fields; j++)
            if (t->fields[j]->unique || t->fields[j]->indexed) n++;
        free(t->indexes);
        t->indexes = NULL;
        t->n_indexes = 0;
        if (n) {
            t->indexes = calloc(n, sizeof *t->indexes);
            if (!t->indexes) return ent__err(ENT_NOMEM, "out of memory");
            for (size_t j = 0; j < t->n_fields; j++) {
                struct ent_field *f = t->fields[j];
                if (!f->unique && !f->indexed) continue;
                f->index_no = (int)t->n_indexes;
                t->indexes[t->n_indexes++] = f;
            }
        }
    }
    s->sealed = 1;
    return ENT_OK;
}
