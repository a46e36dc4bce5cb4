/* entity put and patch: their input is TYPE's data alone (for patch, an RFC 7396 merge patch of
 * it), or the entity's JSON as `entity get` prints it ({"type","key","version","data","kinds"}),
 * as serve's PUT and PATCH take either (entity-http's body.c, whose rule this follows): `get >
 * e.json`, an edit, `put < e.json` failed on "type" as an unknown field, and the data alone lost
 * the kinds of free-form values that "kinds" names. patch takes the entity's JSON's "data" as its
 * merge patch, as PATCH does (`get | jq .data.stock=9 | patch` failed on "type" the same way).
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
static char *key_text(const json_t *kj, const ent_type *t, const char *what)
{
    char buf[32], *text;
    if (ent_type_key(t) == ENT_KEY_AUTO && json_is_integer(kj) && json_integer_value(kj) > 0) {
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)json_integer_value(kj));
        text = strdup(buf);
    } else if (ent_type_key(t) == ENT_KEY_STRING && json_is_string(kj) && strlen(json_string_value(kj)) == json_string_length(kj)) {
        text = strdup(json_string_value(kj));
    } else {
        msg("%s: %s: the input's \"key\" is not a key of it (%s)", what, ent_type_name(t),
            ent_type_key(t) == ENT_KEY_AUTO ? "an id from 1" : "a string without NUL");
        return NULL;
    }
    if (!text) msg("%s: out of memory", what);
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

/* The members of the entity's JSON o beside its data: "type" must be t, "data" an object; "key"
 * and "version" into *in. Returns 0, or 1 with a message (in->key NULL then). */
static int read_members(put_input *in, const json_t *o, const ent_type *t, const char *what)
{
    const json_t *tj = json_object_get(o, "type"), *kj = json_object_get(o, "key"), *vj = json_object_get(o, "version");
    in->shaped = 1;
    if (tj && (!json_is_string(tj) || strlen(json_string_value(tj)) != json_string_length(tj) ||
               strcmp(json_string_value(tj), ent_type_name(t)))) {
        msg("%s: the input's \"type\" %s%.100s%s is not %s", what, json_is_string(tj) ? "\"" : "",
            json_is_string(tj) ? json_string_value(tj) : "(not a string)", json_is_string(tj) ? "\"" : "", ent_type_name(t));
        return 1;
    }
    if (!json_is_object(json_object_get(o, "data"))) {
        msg("%s: %s: the input's \"data\" is not an object", what, ent_type_name(t));
        return 1;
    }
    if (kj && !(in->key = key_text(kj, t, what))) return 1;
    if (vj && !(in->version = version_of(vj))) {
        msg("%s: %s: the input's \"version\" is not a version (an integer from 1)", what, ent_type_name(t));
        free(in->key);
        in->key = NULL;
        return 1;
    }
    return 0;
}

/* The input's "kinds", if any, applied to e. Returns 0, or 1 with a message. */
static int apply_kinds(ent_entity *e, const json_t *o, const char *what)
{
    const json_t *kinds = json_object_get(o, "kinds");
    char *text;
    int rc;
    if (!kinds) return 0;
    if (!(text = json_dumps(kinds, JSON_COMPACT | JSON_ENCODE_ANY))) {
        msg("%s: out of memory", what);
        return 1;
    }
    rc = ent_entity_apply_kinds(e, text, strlen(text)) == ENT_OK ? 0 : fail(what);
    free(text);
    return rc;
}

/* The input parsed as the entity's JSON, after it failed as data with ENT_INVALID (its message
 * the thread's): *o, or NULL with that message said (1), or 1 for a failure of its own. */
static int parse_shaped(json_t **o, const ent_type *t, const char *json, size_t len, const char *what)
{
    json_error_t err;
    char *first;
    *o = NULL;
    if (!room_to_parse(len) || !(first = strdup(ent_errmsg()))) return fail(what);
    *o = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!*o || !is_entity_json(*o, t)) { /* data after all: its own error */
        msg("%s: %s", what, first);
        json_decref(*o);
        *o = NULL;
    }
    free(first);
    return *o ? 0 : 1;
}

/* Every member that get prints, "type" naming t, and no other: get's output of an entity of t. */
static int is_get_output(const json_t *o, const ent_type *t)
{
    const json_t *tj = json_object_get(o, "type");
    size_t n = json_object_size(o) - (json_object_get(o, "kinds") ? 1 : 0);
    return n == 4 && json_is_string(tj) && strlen(json_string_value(tj)) == json_string_length(tj) &&
           !strcmp(json_string_value(tj), ent_type_name(t)) && json_object_get(o, "key") && json_object_get(o, "version") &&
           json_is_object(json_object_get(o, "data"));
}

/* get's whole output of a type with fields named type, key, version and data reads as data by the
 * rule above, and was written as such: get, an edit, put made a new entity of those fields (and
 * patch wrote get's "version" and "data" into them), exit 0. Neither reading is safe there:
 * refused, 1 with a message. Only such a type is parsed twice. */
static int get_output_as_fields(const ent_type *t, const char *json, size_t len, const char *what)
{
    json_error_t err;
    json_t *g;
    int got;
    if (!ent_type_field(t, "type") || !ent_type_field(t, "key") || !ent_type_field(t, "version") || !ent_type_field(t, "data") ||
        !room_to_parse(len))
        return 0;
    g = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    got = json_is_object(g) && is_get_output(g, t) && !is_entity_json(g, t); /* all of them fields */
    json_decref(g);
    if (got)
        msg("%s: %s: the input is the entity's JSON as get prints it, and its members are also fields of %s: give its "
            "\"data\" alone%s", what, ent_type_name(t), ent_type_name(t),
            strcmp(what, "patch") ? " (with --key and --expect-version)" : ", or the fields to change, or a JSON Patch array");
    return got;
}

int put_input_read(ent_entity **out, put_input *in, const ent_type *t, const char *json, size_t len)
{
    json_t *o = NULL;
    char *data = NULL;
    int rc;
    memset(in, 0, sizeof *in);
    *out = NULL;
    if ((rc = ent_entity_from_json(out, t, json, len)) == ENT_OK) {
        if (!get_output_as_fields(t, json, len, "put")) return 0;
        ent_entity_free(*out);
        *out = NULL;
        return 1;
    }
    if (rc != ENT_INVALID) return fail("put");
    if (parse_shaped(&o, t, json, len, "put")) return 1;
    rc = 1;
    if (read_members(in, o, t, "put")) goto out;
    if (!(data = json_dumps(json_object_get(o, "data"), JSON_COMPACT))) {
        msg("put: out of memory");
        goto out;
    }
    if (ent_entity_from_json(out, t, data, strlen(data)) != ENT_OK) {
        fail("put");
        goto out;
    }
    rc = apply_kinds(*out, o, "put");
out:
    if (rc) {
        ent_entity_free(*out);
        *out = NULL;
        free(in->key);
        in->key = NULL;
    }
    free(data);
    json_decref(o);
    return rc;
}

/* Whether the RFC 6901 pointer p (n bytes) names a value that the merge patch j sets (a null
 * removes: it sets none), as body.c's in_patch(). 1, 0, or -1 when it is no pointer at all. */
static int in_patch(const json_t *j, const char *p, size_t n)
{
    char *seg = malloc(n + 1);
    size_t at = 0;
    int found = 1;
    if (!seg) return -1;
    if (!n || p[0] != '/') found = -1;
    while (found == 1 && at < n) {
        size_t len = 0;
        at++; /* the '/' */
        while (at < n && p[at] != '/') {
            if (p[at] == '~') {
                if (at + 1 >= n || (p[at + 1] != '0' && p[at + 1] != '1')) {
                    found = -1;
                    break;
                }
                seg[len++] = p[at + 1] == '0' ? '~' : '/';
                at += 2;
            } else {
                seg[len++] = p[at++];
            }
        }
        if (found != 1) break;
        seg[len] = '\0';
        if (json_is_object(j)) {
            j = json_object_getn(j, seg, len);
        } else if (json_is_array(j)) {
            size_t i = 0, d;
            for (d = 0; d < len && seg[d] >= '0' && seg[d] <= '9' && i < SIZE_MAX / 10 - 1; d++) i = i * 10 + (size_t)(seg[d] - '0');
            j = d == len && len && (len == 1 || seg[0] != '0') ? json_array_get(j, i) : NULL;
        } else {
            j = NULL;
        }
        if (!j || json_is_null(j)) found = 0;
    }
    free(seg);
    return found;
}

/* The JSON Pointer of the first null member of an object in j, through objects only (a merge
 * patch replaces arrays whole: a null in one is a value), into buf; 0 when there is none. */
static int null_member(char *buf, size_t size, const json_t *j)
{
    const char *k;
    size_t kn, used = strlen(buf);
    json_t *v;
    if (!json_is_object(j)) return 0;
    json_object_keylen_foreach((json_t *)j, k, kn, v) {
        if (!json_is_null(v) && !json_is_object(v)) continue;
        size_t at = used;
        if (at + 1 < size) buf[at++] = '/';
        for (size_t i = 0; i < kn && at + 2 < size; i++) { /* RFC 6901: ~ is ~0, / is ~1 */
            if (k[i] == '~' || k[i] == '/') {
                buf[at++] = '~';
                buf[at++] = k[i] == '~' ? '0' : '1';
            } else buf[at++] = k[i] ? k[i] : '?';
        }
        buf[at] = '\0';
        if (json_is_null(v) || null_member(buf, size, v)) return 1;
        buf[used] = '\0';
    }
    return 0;
}

int patch_input_apply(ent_entity *e, put_input *in, const char *json, size_t len)
{
    const ent_type *t = ent_entity_type(e);
    json_t *o = NULL, *kinds, *m;
    char *data = NULL;
    const char *k;
    size_t kn;
    int rc;
    memset(in, 0, sizeof *in);
    if (json[strspn(json, " \t\r\n")] == '[') return ent_entity_json_patch(e, json, len) == ENT_OK ? 0 : fail("patch");
    if (get_output_as_fields(t, json, len, "patch")) return 1;
    if ((rc = ent_entity_patch_json(e, json, len)) == ENT_OK) return 0;
    if (rc != ENT_INVALID) return fail("patch");
    if (parse_shaped(&o, t, json, len, "patch")) return 1;
    rc = 1;
    if (read_members(in, o, t, "patch")) goto out;
    {
        /* In the entity's JSON a null is a value (a free-form null), in a merge patch a removal:
         * get's output written back so removed the nulls it printed. */
        char at[600] = "";
        if (null_member(at, sizeof at, json_object_get(o, "data"))) {
            msg("patch: %s: the input's \"data\" holds a null at %s, a value in the entity's JSON and a removal in a "
                "merge patch: give the fields to change alone ({\"FIELD\":null} removes one), a JSON Patch array, or "
                "`entity put %s`", ent_type_name(t), at, ent_type_name(t));
            goto out;
        }
    }
    /* The kinds of a patch name values it sets: one naming a value the patch leaves (or removes)
     * would turn a stored string into another kind that nobody wrote. */
    if (json_is_object(kinds = json_object_get(o, "kinds")))
        json_object_keylen_foreach(kinds, k, kn, m) {
            /* -1, no pointer at all: ent_entity_apply_kinds() says why */
            if (in_patch(json_object_get(o, "data"), k, kn) == 0) {
                msg("patch: %s: the input's \"kinds\": \"%.200s\" names no value of the patch's \"data\"", ent_type_name(t), k);
                goto out;
            }
        }
    if (!(data = json_dumps(json_object_get(o, "data"), JSON_COMPACT))) {
        msg("patch: out of memory");
        goto out;
    }
    if (ent_entity_patch_json(e, data, strlen(data)) != ENT_OK) {
        fail("patch");
        goto out;
    }
    rc = apply_kinds(e, o, "patch");
out:
    if (rc) {
        free(in->key);
        in->key = NULL;
    }
    free(data);
    json_decref(o);
    return rc;
}
