/* Events as JSON, in the shape the entity tool prints:
 * {"seq":N,"ts":"RFC 3339","txn":N,"type":T,"key":K,"op":"create|update|delete","version":V,
 *  "data":{...}} with a removed field as null and {} for a delete. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "json_io.h"
#include "rfc3339.h"
#include "store_int.h"

int ent_event_to_json(char **out, const ent_event *ev, unsigned flags)
{
    static const char *ops[] = {"", "create", "update", "", "delete"};
    json_t *o = NULL, *data = NULL;
    char ts[48], *text = NULL;
    int rc = ENT_NOMEM;
    if (!out || !ev) return ent__err(ENT_INVALID, "ent_event_to_json: NULL argument");
    *out = NULL;
    if (ev->data) {
        json_error_t err;
        if ((rc = ent_entity_to_json(&text, ev->data, 0))) return rc;
        data = ent__json_loadb(text, strlen(text), JSON_ALLOW_NUL, &err, NULL); /* strings may hold U+0000 */
        free(text);
        text = NULL;
        if (!data) return ent__err(ENT_NOMEM, "rendering event %llu: %s", (unsigned long long)ev->seq, err.text);
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
    if (json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq)) ||
        json_object_set_new(o, "ts", json_string(ts)) ||
        json_object_set_new(o, "txn", json_integer((json_int_t)ev->txn)) ||
        json_object_set_new(o, "type", json_string(ev->type->name)) ||
        json_object_set_new(o, "key", ev->key.kind == ENT_KEY_AUTO ? json_integer((json_int_t)ev->key.id)
                                                                   : json_stringn(ev->key.str, ev->key.len)) ||
        json_object_set_new(o, "op", json_string(ev->op >= 1 && ev->op <= 4 ? ops[ev->op] : "?")) ||
        json_object_set_new(o, "version", json_integer((json_int_t)ev->version)) ||
        json_object_set_new(o, "data", data))
        goto fail_set;
    data = NULL;
    text = ent__json_dumps(o, ((flags & ENT_JSON_PRETTY) ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text) return ent__err(ENT_NOMEM, "out of memory");
    *out = text;
    return ENT_OK;
fail_set:
    data = NULL; /* owned by o once set */
fail:
    json_decref(data);
    json_decref(o);
    return ent__err(rc, "out of memory rendering event %llu", (unsigned long long)ev->seq);
}
