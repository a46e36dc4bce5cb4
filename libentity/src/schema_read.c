/* Reading a schema: the accessors on schemas, types and fields, field paths and kind names for
 * messages. Separate from schema.c (the builder) because the value layer (value.c, entity_*.c)
 * only reads schemas, while the builder validates defaults with the value layer: with both in one
 * file, schema and values called each other. Nothing here calls back up. */
#include <stdio.h>
#include <string.h>

#include "error_int.h"
#include "schema_int.h"

_Thread_local unsigned long ent__schema_compares;

/* One step of a field's path: "[]" for an array's item spec, else ".name". */
static int is_item(const struct ent_field *c) { return c->parent && c->parent->kind == ENT_KIND_ARRAY && c == c->parent->items; }
static size_t step_len(const struct ent_field *c) { return is_item(c) ? 2 : 1 + strlen(c->name); }
static const struct ent_field *up(const struct ent_field *f, size_t k)
{
    while (k-- > 0) f = f->parent;
    return f;
}

const char *ent__field_path(const struct ent_field *f, char *buf, size_t size)
{
    /* "order.lines[].qty". One that does not fit keeps the type and the innermost steps whole,
     * with "..." for those left out: cut at the end, it named a field the type does not have
     * ("t.aaa.bbb.cc" for a sub-field of 60 c's), and the innermost step is the one at fault. */
    const char *tn = f->type ? f->type->name : "?";
    size_t len = strlen(tn), steps = 0, o;
    int cut;
    if (!size) return buf;
    for (const struct ent_field *c = f; c; c = c->parent, steps++) len += step_len(c);
    if ((cut = len >= size)) {
        /* the innermost steps that fit after the type and "..." */
        size_t room = strlen(tn) + 2, n = 0; /* "...", less the first step's "." */
        for (const struct ent_field *c = f; c && room + step_len(c) < size; c = c->parent, n++) room += step_len(c);
        steps = n;
    }
    o = (size_t)snprintf(buf, size, "%s%s", tn, cut ? "..." : "");
    /* downwards: the outermost step printed first (quadratic in a depth the builder bounds, and
     * only for a message) */
    for (size_t k = steps; k-- > 0 && o < size;) {
        const struct ent_field *c = up(f, k);
        if (is_item(c)) o += (size_t)snprintf(buf + o, size - o, "[]");
        else o += (size_t)snprintf(buf + o, size - o, cut && k + 1 == steps ? "%s" : ".%s", c->name); /* t...ccc */
    }
    return buf;
}

const char *ent_kind_name(ent_kind k)
{
    switch (k) {
    case ENT_KIND_NIL: return "nil";
    case ENT_KIND_BOOL: return "bool";
    case ENT_KIND_INT: return "int";
    case ENT_KIND_UINT: return "uint";
    case ENT_KIND_FLOAT: return "float";
    case ENT_KIND_STRING: return "string";
    case ENT_KIND_BYTES: return "bytes";
    case ENT_KIND_TIMESTAMP: return "timestamp";
    case ENT_KIND_ARRAY: return "array";
    case ENT_KIND_MAP: return "map";
    case ENT_KIND_REF: return "ref";
    }
    return NULL;
}

/* The accessors below answer a NULL handle with their neutral value (NULL, 0, ENT_KEY_NONE,
 * ENT_KIND_NIL, as schema.h says) rather than crash, and leave a message naming the call, as a
 * host that reads ent_errmsg() after a surprising answer then learns why. */
static int null_arg(const char *fn, const char *what)
{
    ent__err(ENT_INVALID, "%s: %s is NULL", fn, what);
    return 0;
}

const char *ent_schema_name(const ent_schema *s)
{
    return s ? s->name : (null_arg("ent_schema_name", "schema"), NULL);
}
uint32_t ent_schema_version(const ent_schema *s)
{
    return s ? s->version : (uint32_t)null_arg("ent_schema_version", "schema");
}
size_t ent_schema_type_count(const ent_schema *s)
{
    return s ? s->n_types : (size_t)null_arg("ent_schema_type_count", "schema");
}
const ent_type *ent_schema_type_at(const ent_schema *s, size_t i)
{
    return s && i < s->n_types ? s->types[i] : NULL;
}
const ent_type *ent_schema_type(const ent_schema *s, const char *name)
{
    if (!s || !name) return NULL;
    /* a table: event JSON and log records look their type up per event, a schema's refs per ref */
    return ent__types_find(&s->type_ix, s->types, name);
}

const char *ent_type_name(const ent_type *t)
{
    return t ? t->name : (null_arg("ent_type_name", "type"), NULL);
}
ent_key_kind ent_type_key(const ent_type *t)
{
    return t ? t->key : (null_arg("ent_type_key", "type"), ENT_KEY_NONE);
}
const ent_schema *ent_type_schema(const ent_type *t)
{
    return t ? t->schema : (null_arg("ent_type_schema", "type"), NULL);
}
size_t ent_type_field_count(const ent_type *t)
{
    return t ? t->n_fields : (size_t)null_arg("ent_type_field_count", "type");
}
const ent_field *ent_type_field_at(const ent_type *t, size_t i)
{
    return t && i < t->n_fields ? t->fields[i] : NULL;
}
const ent_field *ent_type_field(const ent_type *t, const char *name)
{
    if (!t || !name) return NULL;
    /* A type has a table of its names (kept as fields are added): entity JSON looks up each of
     * its keys here, and a scan with strcmp per key made reading an entity quadratic in its field
     * count (300 int fields: 3.3 M instructions per entity, most in strcmp). */
    {
        size_t len;
        uint64_t h = ent__step_key(name, &len);
        return name[len] ? NULL : ent__names_find(&t->names, t->fields, name, len, h);
    }
}
const ent_field *ent_type_field_by_id(const ent_type *t, unsigned id)
{
    if (!t) return NULL;
    return ent__ids_find(&t->ids, t->fields, id);
}

const char *ent_field_name(const ent_field *f)
{
    return f ? f->name : (null_arg("ent_field_name", "field"), NULL);
}
unsigned ent_field_id(const ent_field *f) { return f ? f->id : (unsigned)null_arg("ent_field_id", "field"); }
ent_kind ent_field_kind(const ent_field *f)
{
    return f ? f->kind : (null_arg("ent_field_kind", "field"), ENT_KIND_NIL);
}
int ent_field_is_required(const ent_field *f)
{
    return f ? f->required : null_arg("ent_field_is_required", "field");
}
int ent_field_is_unique(const ent_field *f)
{
    return f ? f->unique : null_arg("ent_field_is_unique", "field");
}
int ent_field_is_indexed(const ent_field *f)
{
    return f ? f->indexed || f->kind == ENT_KIND_REF : null_arg("ent_field_is_indexed", "field");
}
int ent_field_has_default(const ent_field *f)
{
    return f ? f->default_json != NULL : null_arg("ent_field_has_default", "field");
}
size_t ent_field_enum_count(const ent_field *f) { return f ? f->n_enums : (size_t)null_arg("ent_field_enum_count", "field"); }
const char *ent_field_enum_at(const ent_field *f, size_t i) { return f && i < f->n_enums ? f->enums[i] : NULL; }
int ent_field_enum_check(const ent_field *f, const char *value)
{
    size_t i, at = 0;
    char list[1024];
    if (!f || !value) return ent__err(ENT_INVALID, "ent_field_enum_check: %s is NULL", f ? "value" : "field");
    for (i = 0; i < f->n_enums && strcmp(f->enums[i], value); i++) {}
    if (!f->n_enums || i < f->n_enums) return ENT_OK;
    for (i = 0; i < f->n_enums && at < sizeof list - 80; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%.60s", i ? ", " : "", f->enums[i]);
    if (i < f->n_enums) snprintf(list + at, sizeof list - at, " and %zu more", f->n_enums - i);
    const ent_type *t = ent_field_type(f); /* NULL in a schema not sealed yet */
    return ent__err(ENT_INVALID, "%s%s%s: \"%.200s\" is not one of the field's values (%s)", t ? ent_type_name(t) : "",
                    t ? "." : "", f->name, value, list);
}
const ent_field *ent_field_items(const ent_field *a) { return a && a->kind == ENT_KIND_ARRAY ? a->items : NULL; }
size_t ent_field_field_count(const ent_field *m) { return m && m->kind == ENT_KIND_MAP ? m->n_fields : 0; }
const ent_field *ent_field_field_at(const ent_field *m, size_t i)
{
    return m && m->kind == ENT_KIND_MAP && i < m->n_fields ? m->fields[i] : NULL;
}
const ent_field *ent_field_field(const ent_field *m, const char *name)
{
    if (!m || m->kind != ENT_KIND_MAP || !name) return NULL;
    /* as ent_type_field(): entity JSON looks each key of a declared map up here */
    {
        size_t len;
        uint64_t h = ent__step_key(name, &len);
        return name[len] ? NULL : ent__names_find(&m->names, m->fields, name, len, h);
    }
}
const ent_type *ent_field_ref_type(const ent_field *f) { return f ? f->ref_type : NULL; }
const ent_field *ent_field_parent(const ent_field *f) { return f ? f->parent : NULL; }
const ent_type *ent_field_type(const ent_field *f) { return f ? f->type : NULL; }
