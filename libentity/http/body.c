/* entity-http: the bodies of writes. A body is the entity's data alone ({"email":...}), as it
 * always was, or the entity's JSON as GET answers it ({"type","key","version","data","kinds"}):
 * without the second form a client that read an entity and wrote its data back turned the
 * free-form values whose kind JSON cannot say (bytes, uints above 2^63-1, NaN, infinities) into
 * strings, which GET names in "kinds" and `entity load` reads back (value.h).
 *
 * Which one a body is: the data alone when every member names a declared field (then nothing
 * changes for a type that has fields called "data" or "kinds"), else the entity's JSON when it
 * has "data" and its members are all of the five names above; anything else is read as data,
 * with the data's own error. The data is read first, so a body of data costs what it did.
 *
 * Two bodies neither reading takes safely are refused, as `entity put` and `entity patch` refuse
 * them (tools/entity/put_input.c; the two front ends must agree): a PATCH's entity's JSON with a
 * null in "data", and GET's whole answer for a type with fields named type, key, version and data. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* jansson's lexer, short of memory in the middle of a large text, overran its buffer (libentity's
 * json_io.c): a text of 1 MiB or more is parsed only with room to spare, as the library does.
 * Through volatile pointers, as there: a malloc() only freed may be dropped by the compiler
 * (clang -O2 does) and taken for a success. */
static void *(*volatile probe_alloc)(size_t) = malloc;
static void (*volatile probe_free)(void *) = free;

static json_t *load(const char *text, size_t len)
{
    json_error_t err;
    if (len >= ((size_t)1 << 20)) {
        void *room = len <= SIZE_MAX / 4 ? probe_alloc(4 * len) : NULL;
        if (!room) return NULL;
        probe_free(room);
    }
    return json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
}

static int member_is(const char *k, size_t n, const char *name) { return n == strlen(name) && !memcmp(k, name, n); }

/* Whether o is the entity's JSON rather than t's data (above). */
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

static int bad(const ent_type *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(const ent_type *t, const char *fmt, ...)
{
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ent_error_set(ENT_INVALID, "%s: %s", ent_type_name(t), what);
}

/* "type", "key" and "version" of the entity's JSON o: the type must be t, the key want's (the
 * path's; NULL for POST, which gives the key, and then no version either). */
static int check_members(ent_http_body *out, const json_t *o, const ent_type *t, const ent_key *want)
{
    const json_t *tj = json_object_get(o, "type"), *kj = json_object_get(o, "key"), *vj = json_object_get(o, "version");
    char kb[300];
    if (tj && (!json_is_string(tj) || json_string_length(tj) != strlen(ent_type_name(t)) ||
               memcmp(json_string_value(tj), ent_type_name(t), json_string_length(tj))))
        return json_is_string(tj) ? bad(t, "\"type\" \"%.100s\" is not the type of the path", json_string_value(tj))
                                  : bad(t, "\"type\" is not a string");
    if (kj && !want) return bad(t, "\"key\": POST gives the new entity its key: leave it out");
    if (vj && !want) return bad(t, "\"version\": a new entity starts at version 1: leave it out");
    if (kj) {
        int same;
        ent_http__key_text(kb, sizeof kb, *want);
        if (want->kind == ENT_KEY_AUTO)
            same = json_is_integer(kj) && json_integer_value(kj) > 0 && (uint64_t)json_integer_value(kj) == want->id;
        else
            same = json_is_string(kj) && json_string_length(kj) == want->len && !memcmp(json_string_value(kj), want->str, want->len);
        if (!same) return bad(t, "\"key\" is not the key of the path (%s)", kb);
    }
    if (vj) {
        /* an integer, or the decimal string entity JSON has above 2^63-1 */
        uint64_t v = 0;
        if (json_is_integer(vj) && json_integer_value(vj) > 0) v = (uint64_t)json_integer_value(vj);
        else if (json_is_string(vj) && strlen(json_string_value(vj)) == json_string_length(vj) &&
                 ent_http__digits_u64(&v, json_string_value(vj)))
            v = 0;
        if (!v || v == ENT_VERSION_ANY) return bad(t, "\"version\" is not a version (an integer from 1)");
        out->has_version = 1;
        out->version = v;
    }
    return ENT_OK;
}

/* j's JSON text into *out (the caller frees it). */
static int dump(char **out, const json_t *j)
{
    if (!(*out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY))) return ent_error_set(ENT_NOMEM, "out of memory");
    return ENT_OK;
}

/* The body as the entity's JSON, when the data read of it failed (first_rc, with its message):
 * *o the parsed body, or NULL and first_rc again with the data's own message. */
static int entity_json(json_t **o, const ent_type *t, const char *body, size_t len, int first_rc)
{
    char *first = strdup(ent_errmsg());
    int rc = first_rc;
    *o = NULL;
    if (!first) return ent_error_set(ENT_NOMEM, "out of memory");
    if (first_rc == ENT_INVALID && (*o = load(body, len)) && !is_entity_json(*o, t)) {
        json_decref(*o);
        *o = NULL;
    }
    if (*o) {
        if (!json_is_object(json_object_get(*o, "data"))) rc = bad(t, "\"data\" is not an object");
        else rc = ENT_OK;
    } else {
        ent_error_set(first_rc, "%s", first);
    }
    if (rc && *o) {
        json_decref(*o);
        *o = NULL;
    }
    free(first);
    return rc;
}

static int apply_kinds(ent_entity *e, const json_t *o)
{
    const json_t *kinds = json_object_get(o, "kinds");
    char *text = NULL;
    int rc;
    if (!kinds) return ENT_OK;
    if ((rc = dump(&text, kinds))) return rc;
    rc = ent_entity_apply_kinds(e, text, strlen(text));
    free(text);
    return rc;
}

/* Every member that GET answers, "type" naming t, and no other: GET's answer for an entity of t. */
static int is_get_answer(const json_t *o, const ent_type *t)
{
    const json_t *tj = json_object_get(o, "type");
    size_t n = json_object_size(o) - (json_object_get(o, "kinds") ? 1 : 0);
    return n == 4 && json_is_string(tj) && json_string_length(tj) == strlen(ent_type_name(t)) &&
           !memcmp(json_string_value(tj), ent_type_name(t), json_string_length(tj)) && json_object_get(o, "key") &&
           json_object_get(o, "version") && json_is_object(json_object_get(o, "data"));
}

/* GET's whole answer for a type with fields named type, key, version and data is read as data by
 * the rule above (every member a declared field), and was written as such: a PUT of what GET
 * answered stored GET's "key", "version" and "data" in those fields (a POST made a new entity of
 * them, a PATCH wrote them over the stored ones), 200. Neither reading is safe there: ENT_INVALID,
 * as `entity put` and `entity patch` refuse it (put_input.c). Only such a type parses the body
 * twice. parsed: the body is known to be JSON, so a failed parse is one out of memory. */
static int get_answer_as_fields(const ent_type *t, const char *body, size_t len, int parsed, int patch)
{
    json_t *g;
    int got;
    if (!ent_type_field(t, "type") || !ent_type_field(t, "key") || !ent_type_field(t, "version") || !ent_type_field(t, "data"))
        return ENT_OK;
    /* not JSON: the data's own read says so, after */
    if (!(g = load(body, len))) return parsed ? ent_error_set(ENT_NOMEM, "out of memory") : ENT_OK;
    got = json_is_object(g) && is_get_answer(g, t) && !is_entity_json(g, t); /* all of them fields */
    json_decref(g);
    if (!got) return ENT_OK;
    return bad(t, "the body is the entity's JSON as GET answers it, and its members are also fields of %s: send its \"data\" alone%s",
               ent_type_name(t), patch ? ", or the fields to change, or a JSON Patch array" : " (its version as If-Match)");
}

int ent_http__body_entity(ent_entity **out, ent_http_body *b, const ent_type *t, const ent_key *want, const char *body,
                          size_t len)
{
    json_t *o = NULL;
    char *data = NULL;
    int rc;
    memset(b, 0, sizeof *b);
    *out = NULL;
    if ((rc = ent_entity_from_json(out, t, body, len)) == ENT_OK && (rc = get_answer_as_fields(t, body, len, 1, 0))) {
        ent_entity_free(*out);
        *out = NULL;
        return rc;
    }
    if (rc != ENT_INVALID) return rc;
    if ((rc = entity_json(&o, t, body, len, rc))) return rc;
    b->entity_json = 1;
    if (!(rc = check_members(b, o, t, want)) && !(rc = dump(&data, json_object_get(o, "data"))) &&
        !(rc = ent_entity_from_json(out, t, data, strlen(data))))
        rc = apply_kinds(*out, o);
    if (rc) {
        ent_entity_free(*out);
        *out = NULL;
    }
    free(data);
    json_decref(o);
    return rc;
}

/* Whether the RFC 6901 pointer p (n bytes) names a member of the patch j: 1, 0, or -1 when it is
 * no pointer at all (ent_entity_apply_kinds() says why). */
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
        /* a null in a patch removes: it names no value of the result */
        if (!j || json_is_null(j)) found = 0;
    }
    free(seg);
    return found;
}

/* The JSON Pointer of the first null member of an object in j, through objects only (a merge patch
 * replaces an array whole: a null in one is a value), into buf (cut to fit); 0 when there is none.
 * As put_input.c's null_member(), so that `entity patch` and PATCH refuse the same bodies. */
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

int ent_http__body_patch(ent_entity *e, ent_http_body *b, const ent_key *want, const char *body, size_t len, int json_patch)
{
    const ent_type *t = ent_entity_type(e);
    json_t *o = NULL, *kinds, *m;
    char *data = NULL;
    const char *k;
    size_t kn, i = 0;
    int rc;
    memset(b, 0, sizeof *b);
    /* RFC 6902 by its media type, or by its shape: a merge patch is an object, and an array was
     * refused as one */
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) i++;
    if (json_patch || (i < len && body[i] == '[')) return ent_entity_json_patch(e, body, len);
    if ((rc = get_answer_as_fields(t, body, len, 0, 1))) return rc;
    if ((rc = ent_entity_patch_json(e, body, len)) != ENT_INVALID) return rc;
    if ((rc = entity_json(&o, t, body, len, rc))) return rc;
    b->entity_json = 1;
    if ((rc = check_members(b, o, t, want))) goto out;
    {
        /* In the entity's JSON a null is a value (GET answers a free-form null as null), in a
         * merge patch a removal: GET's answer sent back removed the nulls it held, 200 and a new
         * version. Which one the client meant cannot be told: refused, with the two ways that
         * say it (a merge patch of the data alone keeps RFC 7396's null). */
        char at[300] = "";
        if (null_member(at, sizeof at, json_object_get(o, "data"))) {
            rc = bad(t, "\"data\" holds a null at %s, a value in the entity's JSON and a removal in a merge patch: send the "
                        "changes as a merge patch of the data alone ({\"FIELD\":null} removes one), or a JSON Patch array",
                     at);
            goto out;
        }
    }
    /* The kinds of a patch name values it sets: a pointer to a stored value that the patch does
     * not hold is refused, as a pointer into "data" that names nothing is by `load`. */
    if (json_is_object(kinds = json_object_get(o, "kinds")))
        json_object_keylen_foreach(kinds, k, kn, m) {
            if (!in_patch(json_object_get(o, "data"), k, kn)) {
                rc = ent_error_set(ENT_INVALID, "%s: \"kinds\": \"%.200s\": names no value of the data", ent_type_name(t), k);
                goto out;
            }
        }
    if (!(rc = dump(&data, json_object_get(o, "data"))) && !(rc = ent_entity_patch_json(e, data, strlen(data)))) rc = apply_kinds(e, o);
out:
    free(data);
    json_decref(o);
    return rc;
}
