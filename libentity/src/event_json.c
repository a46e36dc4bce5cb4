/* Events as JSON, in the shape the entity tool prints:
 * {"seq":N,"ts":"RFC 3339","txn":N,"type":T,"key":K,"op":"create|update|delete|last_id","version":V,
 *  "data":{...}} with a removed field as null and {} for a delete and for an id counter's raise
 * ("last_id": key is the new counter, version 0). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "json_io.h"
#include "json_write.h"
#include "rfc3339.h"
#include "store_int.h"

/* a string literal's bytes, its length counted by the compiler */
#define PUT_LIT(b, lit) ent__jb_put((b), (lit), sizeof(lit) - 1)

const char *ent__op_name(int op)
{
    static const char *ops[] = {"", "create", "update", "", "delete", "", "", "", "last_id"};
    return op >= 1 && op <= 8 && ops[op][0] ? ops[op] : "?";
}

/* The compact line written straight into a buffer: what the tree below prints, at a fraction of
 * the cost (the relay prints one per event; tests/test_event_json.c compares the two). Returns
 * 1 for an event only the tree path renders as it should: a key that is not UTF-8, for the tree's
 * error. */
/* Counters and auto keys above INT64_MAX as decimal strings, as entity JSON writes uints (value.h):
 * an integer there would wrap to a negative number (a restored version 2^64-2 printed -2). */
static void put_u64(ent__jbuf *b, uint64_t u)
{
    if (u <= INT64_MAX) {
        ent__jb_i64(b, (int64_t)u);
        return;
    }
    PUT_LIT(b, "\"");
    ent__jb_u64(b, u);
    PUT_LIT(b, "\"");
}

static int event_write(ent__jbuf *b, const ent_event *ev)
{
    char ts[48];
    const char *op = ent__op_name(ev->op);
    if (ev->key.kind != ENT_KEY_AUTO && (!ev->key.str || !ent__utf8_ok(ev->key.str, ev->key.len))) return 1;
    ent__ts_format(ts, ev->ts);
    PUT_LIT(b, "{\"seq\":");
    put_u64(b, ev->seq);
    PUT_LIT(b, ",\"ts\":\"");
    ent__jb_put(b, ts, strlen(ts));
    PUT_LIT(b, "\",\"txn\":");
    put_u64(b, ev->txn);
    PUT_LIT(b, ",\"type\":");
    ent__jb_string(b, ev->type->name, strlen(ev->type->name));
    PUT_LIT(b, ",\"key\":");
    if (ev->key.kind == ENT_KEY_AUTO) put_u64(b, ev->key.id);
    else ent__jb_string(b, ev->key.str, ev->key.len);
    PUT_LIT(b, ",\"op\":\"");
    ent__jb_put(b, op, strlen(op));
    PUT_LIT(b, "\",\"version\":");
    put_u64(b, ev->version);
    PUT_LIT(b, ",\"data\":");
    if (ev->data) ent__entity_data_write(b, ev->data, 1);
    else PUT_LIT(b, "{}");
    if (ev->data) ent__kinds_write(b, ev->data);
    PUT_LIT(b, "}");
    return 0;
}

int ent_event_to_json(char **out, const ent_event *ev, unsigned flags)
{
    if (!out || !ev) return ent__err(ENT_INVALID, "ent_event_to_json: %s is NULL", !out ? "out" : "event");
    /* ENT_JSON_ENTITY is taken (an event line has that shape already); a later flag is not */
    if (flags & ~(unsigned)(ENT_JSON_PRETTY | ENT_JSON_ENTITY))
        return ent__err(ENT_INVALID, "ent_event_to_json: unknown flags 0x%x", flags & ~(unsigned)(ENT_JSON_PRETTY | ENT_JSON_ENTITY));
    *out = NULL;
    if (!(flags & ENT_JSON_PRETTY)) {
        ent__jbuf b = ENT__JBUF_INIT;
        if (event_write(&b, ev) == 0) {
            if (b.oom) {
                free(b.p);
                return ent__err(ENT_NOMEM, "out of memory rendering event %llu", (unsigned long long)ev->seq);
            }
            *out = b.p;
            return ENT_OK;
        }
        free(b.p);
    }
    return ent__event_to_json_tree(out, ev, flags);
}

/* The tree's put_u64(). */
static json_t *ju64(uint64_t u)
{
    char buf[24];
    if (u <= INT64_MAX) return json_integer((json_int_t)u);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
    return json_string(buf);
}

int ent__event_to_json_tree(char **out, const ent_event *ev, unsigned flags)
{
    json_t *o = NULL, *data = NULL, *kinds = NULL;
    char ts[48], *text = NULL;
    int rc = ENT_NOMEM;
    *out = NULL;
    /* Keys are checked when set, so only a damaged log record gets here with one JSON cannot
     * carry; unlike a value, a key is not printed with U+FFFD: it names the entity, and a mirror
     * applying the line would write another one. */
    if (ev->key.kind != ENT_KEY_AUTO && (!ev->key.str || !ent__utf8_ok(ev->key.str, ev->key.len)))
        return ent__err(ENT_CORRUPT, "event %llu: its key is not valid UTF-8 (a damaged record?), JSON cannot carry it",
                        (unsigned long long)ev->seq);
    if (ev->data) {
        if (!(data = ent__entity_data_json(ev->data)))
            return ent__err(ENT_NOMEM, "rendering event %llu", (unsigned long long)ev->seq);
        /* An update lists what changed: a field removed by it shows as null. */
        for (size_t i = 0; i < ev->data->type->n_fields; i++) {
            const ent_field *f = ev->data->type->fields[i];
            if (ent__is_changed(ev->data, i) && ev->data->slots[i].k == EV_UNSET)
                json_object_set_new(data, f->name, json_null());
        }
    } else {
        data = json_object();
    }
    ent__ts_format(ts, ev->ts);
    o = json_object();
    if (!o || !data) goto fail;
    if (json_object_set_new(o, "seq", ju64(ev->seq)) ||
        json_object_set_new(o, "ts", json_string(ts)) ||
        json_object_set_new(o, "txn", ju64(ev->txn)) ||
        json_object_set_new(o, "type", json_string(ev->type->name)) ||
        json_object_set_new(o, "key", ev->key.kind == ENT_KEY_AUTO ? ju64(ev->key.id)
                                                                   : json_stringn(ev->key.str, ev->key.len)) ||
        json_object_set_new(o, "op", json_string(ent__op_name(ev->op))) ||
        json_object_set_new(o, "version", ju64(ev->version)))
        goto fail; /* data is still ours */
    rc = json_object_set_new(o, "data", data);
    data = NULL; /* taken by o, or freed by a failed set */
    if (rc) {
        rc = ENT_NOMEM;
        goto fail;
    }
    /* what the data's text cannot say, as the compact writer adds it */
    if (ev->data && (ent__kinds_json(&kinds, ev->data) || (kinds && json_object_set_new(o, "kinds", kinds)))) {
        rc = ENT_NOMEM;
        goto fail;
    }
    text = ent__json_dumps(o, (flags & ENT_JSON_PRETTY) ? JSON_INDENT(2) : JSON_COMPACT);
    json_decref(o);
    if (!text) return ent__err(ENT_NOMEM, "out of memory");
    *out = text;
    return ENT_OK;
fail:
    json_decref(data);
    json_decref(o);
    return ent__err(rc, "out of memory rendering event %llu", (unsigned long long)ev->seq);
}

/* ---- parsing: the inverse, for mirrors that receive events as text ------------------------- */

static int bad(const char *what) { return ent__err(ENT_INVALID, "event JSON: %s", what); }

/* A JSON integer as u64: events print counters above INT64_MAX through json_int_t's wrap. */
/* A counter or auto key: an integer, or above INT64_MAX a string of decimal digits (put_u64). A
 * negative integer is read as the wrapped value lines written before put_u64 carried. */
static int json_u64(uint64_t *out, const json_t *j)
{
    if (json_is_integer(j)) {
        *out = (uint64_t)json_integer_value(j);
        return 1;
    }
    if (json_is_string(j)) {
        const char *p = json_string_value(j);
        size_t n = json_string_length(j);
        uint64_t u = 0;
        if (n < 1 || n > 20) return 0;
        for (size_t i = 0; i < n; i++) {
            unsigned d = (unsigned)(p[i] - '0');
            if (d > 9 || u > (UINT64_MAX - d) / 10) return 0;
            u = u * 10 + d;
        }
        *out = u;
        return 1;
    }
    return 0;
}

static int get_u64(uint64_t *out, json_t *o, const char *name)
{
    if (!json_u64(out, json_object_get(o, name)))
        return ent__err(ENT_INVALID, "event JSON: \"%s\" is missing or not an integer", name);
    return ENT_OK;
}

int ent_event_from_json(ent_event **out, const ent_schema *sc, const char *json, size_t len)
{
    static const char *ops[] = {"create", "update", "delete", "last_id"};
    static const int opv[] = {ENT_OP_CREATE, ENT_OP_UPDATE, ENT_OP_DELETE, ENT_OP_LAST_ID};
    json_error_t jerr;
    json_t *o = NULL, *j, *data, *m;
    ent_event *ev = NULL;
    const char *k;
    char *text = NULL;
    uint64_t id;
    int rc, nomem;
    if (!out || !sc || !json)
        return ent__err(ENT_INVALID, "ent_event_from_json: %s is NULL", !out ? "out" : !sc ? "schema" : "JSON");
    *out = NULL;
    /* Strings may hold U+0000: ent_event_to_json() prints them as \u0000 (found by fuzz_record). */
    if (!(o = ent__json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr, &nomem))) {
        if (nomem) return ent__err(ENT_NOMEM, "event JSON: out of memory parsing it");
        return ent__err(ENT_INVALID, "event JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
    }
    if (!json_is_object(o)) {
        rc = bad("not an object");
        goto fail;
    }
    if (!(ev = calloc(1, sizeof *ev))) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        goto fail;
    }
    if ((rc = get_u64(&ev->seq, o, "seq")) || (rc = get_u64(&ev->txn, o, "txn")) ||
        (rc = get_u64(&ev->version, o, "version")))
        goto fail;
    j = json_object_get(o, "ts");
    if (!json_is_string(j) || ent__ts_parse(&ev->ts, json_string_value(j), json_string_length(j)) != 0) {
        rc = bad("\"ts\" is missing or not an RFC 3339 timestamp");
        goto fail;
    }
    j = json_object_get(o, "type");
    if (!json_is_string(j) || strlen(json_string_value(j)) != json_string_length(j) ||
        !(ev->type = ent_schema_type(sc, json_string_value(j)))) {
        rc = ent__err(ENT_INVALID, "event JSON: type %s%s%s is not in schema %s version %u", j && json_is_string(j) ? "\"" : "",
                      json_is_string(j) ? json_string_value(j) : "(missing)", j && json_is_string(j) ? "\"" : "",
                      ent_schema_name(sc), (unsigned)ent_schema_version(sc));
        goto fail;
    }
    j = json_object_get(o, "op");
    for (size_t i = 0; json_is_string(j) && i < 4; i++)
        if (!strcmp(json_string_value(j), ops[i]) && json_string_length(j) == strlen(ops[i])) ev->op = opv[i];
    if (!ev->op) {
        /* An op of a later version (a consumer older than its producer) is refused by name, not
         * skipped: a copy that went past an event it did not understand would drift in silence. */
        if (json_is_string(j) && strlen(json_string_value(j)) == json_string_length(j) && json_string_length(j) <= 64)
            rc = ent__err(ENT_INVALID, "event JSON: \"op\" \"%s\" is not create, update, delete or last_id (an "
                          "operation of a later libentity? this one cannot apply it)", json_string_value(j));
        else
            rc = bad("\"op\" is not create, update, delete or last_id");
        goto fail;
    }
    /* An id counter's raise: a type of auto ids, the new counter as its key, version 0, no data. */
    if (ev->op == ENT_OP_LAST_ID && ev->type->key != ENT_KEY_AUTO) {
        rc = ent__err(ENT_INVALID, "event JSON: a last_id of type %s, which has string keys (no id counter)", ev->type->name);
        goto fail;
    }
    if (ev->op == ENT_OP_LAST_ID && ev->version) {
        rc = bad("a last_id with a version other than 0");
        goto fail;
    }
    j = json_object_get(o, "key");
    if (ev->type->key == ENT_KEY_AUTO && json_u64(&id, j) && (id || ev->op != ENT_OP_LAST_ID)) {
        ev->key = ent_key_id(id);
    } else if (ev->type->key == ENT_KEY_STRING && json_is_string(j) && json_string_length(j) >= 1) {
        char *ks = malloc(json_string_length(j) + 1);
        if (!ks) {
            rc = ent__err(ENT_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(ks, json_string_value(j), json_string_length(j) + 1);
        ev->key.kind = ENT_KEY_STRING;
        ev->key.str = ks;
        ev->key.len = json_string_length(j);
    } else {
        rc = ent__err(ENT_INVALID, "event JSON: \"key\" is missing or not a key of type %s", ev->type->name);
        goto fail;
    }
    data = json_object_get(o, "data");
    if (!json_is_object(data)) {
        rc = bad("\"data\" is missing or not an object");
        goto fail;
    }
    if (ev->op != ENT_OP_DELETE && ev->op != ENT_OP_LAST_ID) {
        /* Fields with values through the entity parser; nulls (fields an update removed) after.
         * A float field's -0 (another writer's: this library prints -0.0) would print as 0. */
        ent__negz nz;
        if (ent__negz_find(&nz, o, json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)) {
            rc = ent__err(ENT_NOMEM, "out of memory");
            goto fail;
        }
        rc = ent__json_negzero_fix(&data, NULL, ev->type, &nz);
        ent__negz_free(&nz);
        if (rc) goto fail;
        if (!(text = ent__json_dumps(data, JSON_COMPACT))) {
            rc = ent__err(ENT_NOMEM, "out of memory");
            goto fail;
        }
        if ((rc = ent_entity_from_json(&ev->data, ev->type, text, strlen(text)))) goto fail;
        json_object_foreach(data, k, m) {
            const ent_field *f;
            if (!json_is_null(m)) continue;
            if (ev->op == ENT_OP_CREATE) {
                rc = ent__err(ENT_INVALID, "event JSON: a create with null field \"%s\"", k);
                goto fail;
            }
            f = ent_type_field(ev->type, k);
            if ((rc = ent_entity_field_unset(ev->data, f))) goto fail;
        }
        /* free-form values back to the kinds their JSON cannot say (entity_kinds.c); a line
         * without "kinds" (older relays) reads as it always did */
        if ((j = json_object_get(o, "kinds")) && (rc = ent__kinds_apply(ev->data, j))) {
            rc = ent__err_prefix(rc, "event JSON: ");
            goto fail;
        }
    } else if (json_object_size(data)) {
        rc = bad(ev->op == ENT_OP_DELETE ? "a delete with data" : "a last_id with data");
        goto fail;
    } else if (json_object_get(o, "kinds")) {
        rc = bad(ev->op == ENT_OP_DELETE ? "a delete with kinds" : "a last_id with kinds");
        goto fail;
    }
    free(text);
    json_decref(o);
    *out = ev;
    return ENT_OK;
fail:
    free(text);
    json_decref(o);
    ent_event_free(ev);
    return rc;
}
