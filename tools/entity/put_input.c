/* entity put: its input is TYPE's data alone, or the entity's JSON as `entity get` prints it
 * ({"type","key","version","data","kinds"}), as serve's PUT takes either (entity-http's body.c,
 * whose rule this follows): `get > e.json`, an edit, `put < e.json` failed on "type" as an
 * unknown field, and the data alone lost the kinds of free-form values that "kinds" names.
 *
 * Which one the input is: the data when every member names a declared field (a type with fields
 * called "data" or "kinds" reads as it did), else the entity's JSON when it has "data" and its
 * members are all of the five names; anything else is read as data, with the data's own error. */
#include <entity/entity.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int member_is(const char *k, size_t n, const char *name) { return n == strlen(name) && !memcmp(k, name, n); }

static int is_entity_json(const json_t *o, const ent_type *t)
{
    static const char *const names[] = {"type", "key", "version", "data", "kinds"};
    const char *k;
    size_t n;
    json_t *v;
    int undeclared = 0;
    if (!json_is_object(o) || !json_object_get(o, "data")) return 0;
    json_object_keylen_foreach((json_t *)o, k, n, v) {
        int known = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) known |= member_is(k, n, names[i]);
        if (!known) return 0;
        if (strlen(k) != n || !ent_type_field(t, k)) undeclared = 1;
    }
    return undeclared;
}

/* "key" as --key gives it: an auto id's digits, or the string. NULL with a message. */
static char *key_text(const json_t *kj, const ent_type *t)
{
    char buf[32], *text;
    if (ent_type_key(t) == ENT_KEY_AUTO && json_is_integer(kj) && json_integer_value(kj) > 0) {
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)json_integer_value(kj));
        text = strdup(buf);
    } else if (ent_type_key(t) == ENT_KEY_STRING && json_is_string(kj) && strlen(json_string_value(kj)) == json_string_length(kj)) {
        text = strdup(json_string_value(kj));
    } else {
        msg("put: %s: the input's \"key\" is not a key of it (%s)", ent_type_name(t),
            ent_type_key(t) == ENT_KEY_AUTO ? "an id from 1" : "a string without NUL");
        return NULL;
    }
    if (!text) msg("put: out of memory");
    return text;
}

/* "version": an integer from 1, or the decimal string get prints above 2^63-1. 0 when not. */
static uint64_t version_of(const json_t *vj)
{
    uint64_t v = 0;
    if (json_is_integer(vj)) return json_integer_value(vj) > 0 ? (uint64_t)json_integer_value(vj) : 0;
    if (!json_is_string(vj) || strlen(json_string_value(vj)) != json_string_length(vj)) return 0;
    for (const char *p = json_string_value(vj); *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v == ENT_VERSION_ANY ? 0 : v;
}

int put_input_read(ent_entity **out, put_input *in, const ent_type *t, const char *json, size_t len)
{
    json_t *o = NULL;
    json_error_t err;
    const json_t *tj, *kj, *vj, *kinds;
    char *data = NULL, *first = NULL;
    int rc;
    memset(in, 0, sizeof *in);
    *out = NULL;
    if ((rc = ent_entity_from_json(out, t, json, len)) == ENT_OK) return 0;
    if (rc != ENT_INVALID) return fail("put");
    /* jansson's lexer overran its buffer short of memory in a large text (libentity's json_io.c):
     * a text of 1 MiB or more is parsed again only with room to spare */
    if (len >= ((size_t)1 << 20)) {
        void *room = len <= SIZE_MAX / 4 ? malloc(4 * len) : NULL;
        if (!room) return fail("put");
        free(room);
    }
    if (!(first = strdup(ent_errmsg()))) return fail("put");
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!o || !is_entity_json(o, t)) { /* data after all: its own error */
        msg("put: %s", first);
        rc = 1;
        goto out;
    }
    in->shaped = 1;
    rc = 1;
    tj = json_object_get(o, "type");
    kj = json_object_get(o, "key");
    vj = json_object_get(o, "version");
    if (tj && (!json_is_string(tj) || strlen(json_string_value(tj)) != json_string_length(tj) ||
               strcmp(json_string_value(tj), ent_type_name(t)))) {
        msg("put: the input's \"type\" %s%.100s%s is not %s", json_is_string(tj) ? "\"" : "",
            json_is_string(tj) ? json_string_value(tj) : "(not a string)", json_is_string(tj) ? "\"" : "", ent_type_name(t));
        goto out;
    }
    if (!json_is_object(json_object_get(o, "data"))) {
        msg("put: %s: the input's \"data\" is not an object", ent_type_name(t));
        goto out;
    }
    if (kj && !(in->key = key_text(kj, t))) goto out;
    if (vj && !(in->version = version_of(vj))) {
        msg("put: %s: the input's \"version\" is not a version (an integer from 1)", ent_type_name(t));
        goto out;
    }
    if (!(data = json_dumps(json_object_get(o, "data"), JSON_COMPACT))) {
        msg("put: out of memory");
        goto out;
    }
    if (ent_entity_from_json(out, t, data, strlen(data)) != ENT_OK) {
        fail("put");
        goto out;
    }
    free(data);
    data = NULL;
    if ((kinds = json_object_get(o, "kinds"))) {
        if (!(data = json_dumps(kinds, JSON_COMPACT | JSON_ENCODE_ANY))) {
            msg("put: out of memory");
            goto out;
        }
        if (ent_entity_apply_kinds(*out, data, strlen(data)) != ENT_OK) {
            fail("put");
            goto out;
        }
    }
    rc = 0;
out:
    if (rc) {
        ent_entity_free(*out);
        *out = NULL;
        free(in->key);
        in->key = NULL;
    }
    free(data);
    free(first);
    json_decref(o);
    return rc;
}
