/* The body of a write: t's data alone, or the entity's JSON as ENT_JSON_ENTITY writes it (value.h,
 * ent_entity_from_body()). Both front ends take it, `entity put`/`patch` and entity-http's
 * PUT/POST/PATCH; each had its own copy of this rule, kept in step by hand (the CLI cannot link
 * the optional HTTP library), and the two drifted in wording and in order. One copy here.
 *
 * Why the entity's JSON at all: a client that read an entity and wrote its data back turned the
 * free-form values whose kind JSON cannot say (bytes, uints above 2^63-1, NaN, infinities) into
 * strings, which "kinds" names; and `get > e.json`, an edit, `put < e.json` failed on "type" as an
 * unknown field.
 *
 * The data is read first, so a body of data costs what it always did; only a body that fails as
 * data (ENT_INVALID) is parsed again as the entity's JSON, and only a type with fields named
 * type, key, version and data parses a body twice to look for the ambiguous one. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entity/store.h"
#include "error_int.h"
#include "json_io.h"
#include "schema_int.h"
#include "value_int.h"

#define LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

static int member_is(const char *k, size_t n, const char *name) { return n == strlen(name) && !memcmp(k, name, n); }

static int string_is(const json_t *j, const char *s)
{
    return json_is_string(j) && json_string_length(j) == strlen(s) && !memcmp(json_string_value(j), s, strlen(s));
}

/* Whether o is the entity's JSON rather than t's data: it has "data", its members are all of the
 * five names, and one of them is no declared field (else it is t's data, as it always was). */
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

/* Every member the entity's whole JSON has ("kinds" aside), "type" naming t, and no other. */
static int is_whole_entity_json(const json_t *o, const ent_type *t)
{
    size_t n = json_object_size(o) - (json_object_get(o, "kinds") ? 1 : 0);
    return n == 4 && string_is(json_object_get(o, "type"), ent_type_name(t)) && json_object_get(o, "key") &&
           json_object_get(o, "version") && json_is_object(json_object_get(o, "data"));
}

/* The entity's whole JSON for a type with fields named type, key, version and data reads as data
 * by the rule (every member a declared field), and was written as such: get, an edit and a put
 * made a new entity of get's members (a PATCH wrote them over the stored ones), with success.
 * Neither reading is safe there: ENT_INVALID. parsed: the body is known to be JSON (its data read
 * passed), so a failed parse is a lack of memory; else the data's read says what is wrong. */
static int ambiguous(const ent_type *t, const char *body, size_t len, int parsed, int patch)
{
    json_error_t err;
    json_t *g;
    int nomem, got;
    if (!ent_type_field(t, "type") || !ent_type_field(t, "key") || !ent_type_field(t, "version") || !ent_type_field(t, "data"))
        return ENT_OK;
    if (!(g = ent__json_loadb(body, len, LOAD_FLAGS, &err, &nomem)))
        return parsed || nomem ? ent__err(ENT_NOMEM, "out of memory parsing JSON") : ENT_OK;
    got = json_is_object(g) && is_whole_entity_json(g, t) && !is_entity_json(g, t); /* all of them fields */
    json_decref(g);
    if (!got) return ENT_OK;
    return ent__err(ENT_INVALID,
                    "%s: the input is the entity's JSON as `entity get` prints it and GET answers it, and its members are "
                    "also fields of %s (neither reading is safe): give its \"data\" alone%s",
                    t->name, t->name,
                    patch ? ", or the fields to change, or a JSON Patch array"
                          : ", with its key and version apart (put's --key and --expect-version, the path and If-Match)");
}

/* The body as the entity's JSON, once its read as data failed with first_rc and its message:
 * *o, or NULL and first_rc again with that message (the body is data after all, or not JSON). */
static int parse_entity_json(json_t **o, const ent_type *t, const char *body, size_t len, int first_rc)
{
    char *first = strdup(ent_errmsg());
    json_error_t err;
    int nomem = 0;
    *o = NULL;
    if (!first) return ent__err(ENT_NOMEM, "out of memory");
    if (first_rc == ENT_INVALID && (*o = ent__json_loadb(body, len, LOAD_FLAGS, &err, &nomem)) && !is_entity_json(*o, t)) {
        json_decref(*o);
        *o = NULL;
    }
    if (!*o) {
        /* short of memory for the second parse: the data's error would blame good input */
        if (nomem) first_rc = ent__err(ENT_NOMEM, "out of memory parsing JSON");
        else ent__err(first_rc, "%s", first);
    } else {
        /* "data" is printed to be read as t's data: a float field's -0 would print as 0 */
        ent__negz nz;
        json_t *data = json_object_get(*o, "data");
        if (ent__negz_find(&nz, *o, body, len, LOAD_FLAGS)) first_rc = ent__err(ENT_NOMEM, "out of memory parsing JSON");
        else first_rc = ent__json_negzero_fix(&data, NULL, t, &nz);
        ent__negz_free(&nz);
        if (first_rc) {
            json_decref(*o);
            *o = NULL;
        }
    }
    free(first);
    return *o ? ENT_OK : first_rc;
}

/* An id as a decimal string: get prints one above 2^63-1 so (JSON's integers stop at 2^63-1), and
 * a uint elsewhere reads from such a string (a uint or ref field's "07" in the data, a URL path's
 * /api/doc/01, `entity get doc 01`, a load line's "key"), leading zeros and all. Only this "key"
 * refused them but get's own form ("1" and "01" were not keys while GET /api/doc/01 found the
 * entity): one rule for every path, the one that refuses nothing accepted before. Digits only (no
 * sign or blank), 1 to 2^64-1; 0 for any other string. */
static uint64_t decimal_id_of(const json_t *kj)
{
    const char *s = json_string_value(kj);
    size_t n = json_string_length(kj);
    uint64_t v = 0;
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10) return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v;
}

/* "key" as a key of t into *out (its string borrowed from kj). */
static int key_of(ent_key *out, const json_t *kj, const ent_type *t)
{
    if (t->key == ENT_KEY_AUTO && json_is_integer(kj) && json_integer_value(kj) > 0) {
        *out = ent_key_id((uint64_t)json_integer_value(kj));
        return ENT_OK;
    }
    /* get prints an id past 2^63-1 as a string: its output was refused by put and PUT, the round
     * trip (get, an edit, put) failed for every entity past 2^63-1 */
    if (t->key == ENT_KEY_AUTO && json_is_string(kj) && decimal_id_of(kj)) {
        *out = ent_key_id(decimal_id_of(kj));
        return ENT_OK;
    }
    if (t->key == ENT_KEY_STRING && json_is_string(kj) && json_string_length(kj) >= 1 &&
        json_string_length(kj) <= ENT_KEY_STRING_MAX && ent__utf8_ok(json_string_value(kj), json_string_length(kj))) {
        out->kind = ENT_KEY_STRING;
        out->id = 0;
        out->str = json_string_value(kj);
        out->len = json_string_length(kj);
        return ENT_OK;
    }
    if (t->key == ENT_KEY_AUTO)
        return ent__err(ENT_INVALID, "%s: \"key\" is not a key of %s (an id from 1; above 2^63-1 a decimal string)", t->name,
                        t->name);
    return ent__err(ENT_INVALID, "%s: \"key\" is not a key of %s (a string of 1 to %d bytes of UTF-8)", t->name, t->name,
                    ENT_KEY_STRING_MAX);
}

/* "version": an integer from 1, or the decimal string JSON holds above 2^63-1; 0 when neither. */
static uint64_t version_of(const json_t *vj)
{
    uint64_t v = 0;
    if (json_is_integer(vj)) return json_integer_value(vj) > 0 ? (uint64_t)json_integer_value(vj) : 0;
    if (!json_is_string(vj) || !json_string_length(vj)) return 0;
    for (size_t i = 0; i < json_string_length(vj); i++) {
        char c = json_string_value(vj)[i];
        if (c < '0' || c > '9' || v > (UINT64_MAX - (uint64_t)(c - '0')) / 10) return 0;
        v = v * 10 + (uint64_t)(c - '0');
    }
    return v == ENT_VERSION_ANY ? 0 : v; /* "any" is no version an entity has */
}

/* The members of the entity's JSON o beside "kinds": "type" t's, "data" an object, "key" into
 * *key (kind ENT_KEY_NONE when absent), "version" into *version (0 when absent). */
static int members(ent_key *key, uint64_t *version, const json_t *o, const ent_type *t)
{
    const json_t *tj = json_object_get(o, "type"), *kj = json_object_get(o, "key"), *vj = json_object_get(o, "version");
    int rc;
    memset(key, 0, sizeof *key);
    *version = 0;
    if (tj && !json_is_string(tj)) return ent__err(ENT_INVALID, "%s: \"type\" is not a string", t->name);
    if (tj && !string_is(tj, t->name))
        return ent__err(ENT_INVALID, "%s: \"type\" \"%.100s\" is not the type written to (%s)", t->name, json_string_value(tj), t->name);
    if (!json_is_object(json_object_get(o, "data"))) return ent__err(ENT_INVALID, "%s: \"data\" is not an object", t->name);
    if (kj && (rc = key_of(key, kj, t))) return rc;
    if (vj && !(*version = version_of(vj)))
        return ent__err(ENT_INVALID, "%s: \"version\" is not a version (an integer from 1)", t->name);
    return ENT_OK;
}

/* The entity's JSON o's "kinds", if any, applied to e. */
static int apply_kinds(ent_entity *e, const json_t *o)
{
    const json_t *kinds = json_object_get(o, "kinds");
    int rc;
    if (!kinds) return ENT_OK;
    rc = ent__kinds_apply(e, kinds);
    return rc ? ent__err_prefix(rc, "%s: ", e->type->name) : ENT_OK;
}

/* j's compact JSON text into *out (the caller frees it). */
static int dump(char **out, const json_t *j)
{
    if (!(*out = json_dumps(j, JSON_COMPACT))) return ent__err(ENT_NOMEM, "out of memory");
    return ENT_OK;
}

int ent_entity_from_body(ent_entity **out, uint64_t *out_version, const ent_type *t, const char *body, size_t len)
{
    json_t *o = NULL;
    char *data = NULL;
    ent_key key;
    uint64_t version = 0;
    int rc;
    if (out_version) *out_version = 0;
    if (!out) return ent__err(ENT_INVALID, "ent_entity_from_body: out is NULL");
    *out = NULL;
    if (!t) return ent__err(ENT_INVALID, "ent_entity_from_body: type is NULL");
    if (!body) return ent__err(ENT_INVALID, "%s: body is NULL", t->name);
    if ((rc = ent_entity_from_json(out, t, body, len)) == ENT_OK) {
        if ((rc = ambiguous(t, body, len, 1, 0))) goto fail;
        return ENT_OK;
    }
    if (rc != ENT_INVALID) return rc;
    /* get's output for such a type whose fields do not take get's members ("data" a string
     * field, get's "data" an object) fails as data, and is no entity's JSON either (each member a
     * field): the data's message ("w.data: expected string") said nothing of why, where a patch
     * of it said that neither reading is safe. Said here as patch says it. */
    if ((rc = ambiguous(t, body, len, 0, 0))) return rc;
    rc = ENT_INVALID;
    if ((rc = parse_entity_json(&o, t, body, len, rc))) return rc;
    if ((rc = members(&key, &version, o, t)) || (rc = dump(&data, json_object_get(o, "data"))) ||
        (rc = ent_entity_from_json(out, t, data, strlen(data))) || (rc = apply_kinds(*out, o)))
        goto fail;
    if (key.kind != ENT_KEY_NONE && (rc = ent_entity_set_key(*out, &key))) goto fail;
    if (out_version) *out_version = version;
    free(data);
    json_decref(o);
    return ENT_OK;
fail:
    ent_entity_free(*out);
    *out = NULL;
    free(data);
    json_decref(o);
    return rc;
}

/* Whether the RFC 6901 pointer p (n bytes) names a value the merge patch j sets, into *found: 1,
 * 0 (a null removes: it sets none), or -1 when p is no pointer at all (ent__kinds_apply() then
 * says why). */
static int in_patch(int *found, const json_t *j, const char *p, size_t n)
{
    char *seg = malloc(n + 1);
    size_t at = 0;
    if (!seg) return ent__err(ENT_NOMEM, "out of memory");
    *found = n && p[0] == '/' ? 1 : -1;
    while (*found == 1 && at < n) {
        size_t len = 0;
        at++; /* the '/' */
        while (at < n && p[at] != '/') {
            if (p[at] == '~') {
                if (at + 1 >= n || (p[at + 1] != '0' && p[at + 1] != '1')) {
                    *found = -1;
                    break;
                }
                seg[len++] = p[at + 1] == '0' ? '~' : '/';
                at += 2;
            } else {
                seg[len++] = p[at++];
            }
        }
        if (*found != 1) break;
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
        if (!j || json_is_null(j)) *found = 0;
    }
    free(seg);
    return ENT_OK;
}

/* The JSON Pointer of the first null member of an object in j, through objects only (a merge
 * patch replaces an array whole: a null in one is a value), into buf (cut to fit); 0 when there
 * is none. */
static int null_member(char *buf, size_t size, const json_t *j)
{
    const char *k;
    size_t kn, used = strlen(buf);
    json_t *v;
    if (!json_is_object(j)) return 0;
    json_object_keylen_foreach((json_t *)j, k, kn, v) {
        size_t at = used;
        if (!json_is_null(v) && !json_is_object(v)) continue;
        if (at + 1 < size) buf[at++] = '/';
        for (size_t i = 0; i < kn && at + 2 < size; i++) { /* RFC 6901: ~ is ~0, / is ~1 */
            if (k[i] == '~' || k[i] == '/') {
                buf[at++] = '~';
                buf[at++] = k[i] == '~' ? '0' : '1';
            } else {
                buf[at++] = k[i] ? k[i] : '?';
            }
        }
        buf[at] = '\0';
        if (json_is_null(v) || null_member(buf, size, v)) return 1;
        buf[used] = '\0';
    }
    return 0;
}

static int same_key(ent_key a, ent_key b)
{
    return a.kind == b.kind && (a.kind == ENT_KEY_AUTO ? a.id == b.id : a.len == b.len && !memcmp(a.str, b.str, a.len));
}

/* k for a message: an id's digits, a string key in quotes (cut). */
static void key_text(char *buf, size_t size, ent_key k)
{
    if (k.kind == ENT_KEY_AUTO) snprintf(buf, size, "%llu", (unsigned long long)k.id);
    else snprintf(buf, size, "\"%.*s\"", (int)(k.len < 200 ? k.len : 200), k.str ? k.str : "");
}

/* The checks of the entity's JSON o as a patch of e, before anything is applied. */
static int patch_checks(const ent_entity *e, const json_t *o, ent_key key)
{
    const ent_type *t = e->type;
    const json_t *data = json_object_get(o, "data"), *kinds = json_object_get(o, "kinds"), *m;
    char at[300] = "", a[220], b[220];
    const char *k;
    size_t kn;
    int found, rc;
    if (key.kind != ENT_KEY_NONE && !same_key(key, ent_entity_key(e))) {
        key_text(a, sizeof a, key);
        key_text(b, sizeof b, ent_entity_key(e));
        return ent__err(ENT_INVALID, "%s: \"key\" %s is not the key of the entity patched (%s): give its key, or leave \"key\" out",
                        t->name, a, b);
    }
    /* In the entity's JSON a null is a value (a free-form null prints as one), in a merge patch a
     * removal: the entity's JSON written back removed the nulls it held, with success and a new
     * version. Which one was meant cannot be told: refused, naming the two ways that say it. */
    if (null_member(at, sizeof at, data))
        return ent__err(ENT_INVALID,
                        "%s: \"data\" holds a null at %s, a value in the entity's JSON and a removal in a merge patch: give "
                        "the changes as a merge patch of the data alone ({\"FIELD\":null} removes one) or as a JSON Patch "
                        "array, or write the entity whole",
                        t->name, at);
    /* The kinds of a patch name values it sets: one naming a value the patch leaves (or removes)
     * would turn a stored string into another kind that nobody wrote. */
    if (json_is_object(kinds))
        json_object_keylen_foreach((json_t *)kinds, k, kn, m) {
            if ((rc = in_patch(&found, data, k, kn))) return rc;
            if (found == 0)
                return ent__err(ENT_INVALID, "%s: \"kinds\": \"%.200s\": names no value of the data that the patch sets", t->name, k);
        }
    return ENT_OK;
}

int ent_entity_patch_body(uint64_t *out_version, ent_entity *e, const char *body, size_t len)
{
    ent_entity *c = NULL;
    json_t *o = NULL;
    char *data = NULL;
    ent_key key;
    uint64_t version = 0;
    size_t i = 0;
    int rc;
    if (out_version) *out_version = 0;
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    if (!body) return ent__err(ENT_INVALID, "%s: body is NULL", e->type->name);
    /* RFC 6902 by its shape: a merge patch is an object, and an array was refused as one */
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) i++;
    if (i < len && body[i] == '[') return ent_entity_json_patch(e, body, len);
    if ((rc = ambiguous(e->type, body, len, 0, 1))) return rc;
    if ((rc = ent_entity_patch_json(e, body, len)) != ENT_INVALID) return rc;
    if ((rc = parse_entity_json(&o, e->type, body, len, rc))) return rc;
    if ((rc = members(&key, &version, o, e->type)) || (rc = patch_checks(e, o, key)) || (rc = dump(&data, json_object_get(o, "data"))))
        goto out;
    /* On a copy: "kinds" refused after the merge would leave e patched (its two public steps,
     * ent_entity_patch_json() and ent_entity_apply_kinds(), each leave e as it was on failure, not
     * the pair). Only what changed moves over, as in ent_entity_patch_json(). */
    if ((rc = ent_entity_dup(&c, e)) || (rc = ent_entity_patch_json(c, data, strlen(data))) || (rc = apply_kinds(c, o))) goto out;
    for (size_t f = 0; f < e->type->n_fields; f++) ent__val_adopt(&e->slots[f], &c->slots[f]);
    memcpy(e->changed, c->changed, (e->type->n_fields + 63) / 64 * sizeof(uint64_t));
    if (out_version) *out_version = version;
out:
    ent_entity_free(c);
    free(data);
    json_decref(o);
    return rc;
}
