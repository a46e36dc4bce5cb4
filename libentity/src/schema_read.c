/* Reading a schema: the accessors on schemas, types and fields, field paths and kind names for
 * messages. Separate from schema.c (the builder) because the value layer (value.c, entity_*.c)
 * only reads schemas, while the builder validates defaults with the value layer: with both in one
 * file, schema and values called each other. Nothing here calls back up. */
#include <stdio.h>
#include <string.h>

#include "error_int.h"
#include "schema_int.h"

_Thread_local unsigned long ent__schema_compares;

const char *ent__field_path(const struct ent_field *f, char *buf, size_t size)
{
    /* Walk up to the type, then print downwards: "order.lines[].qty". */
    const struct ent_field *chain[64];
    size_t n = 0, len;
    for (const struct ent_field *p = f; p && n < 64; p = p->parent) chain[n++] = p;
    len = (size_t)snprintf(buf, size, "%s", f->type ? f->type->name : "?");
    while (n-- > 0 && len < size) {
        const struct ent_field *c = chain[n];
        if (c->parent && c->parent->kind == ENT_KIND_ARRAY && c == c->parent->items)
            len += (size_t)snprintf(buf + len, size - len, "[]");
        else
            len += (size_t)snprintf(buf + len, size - len, ".%s", c->name);
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
