/* entity-http: the bodies of writes. A body is the entity's data alone ({"email":...}), as it
 * always was, or the entity's JSON as GET answers it ({"type","key","version","data","kinds"}):
 * without the second form a client that read an entity and wrote its data back turned the
 * free-form values whose kind JSON cannot say (bytes, uints above 2^63-1, NaN, infinities) into
 * strings, which GET names in "kinds" and `entity load` reads back (value.h).
 *
 * Which one a body is, what its members must be, and the bodies refused as ambiguous are the
 * library's rule (ent_entity_from_body(), ent_entity_patch_body(); entity_body.c), which
 * `entity put` and `entity patch` take too: the two front ends kept copies of it in step by hand
 * (the entity tool cannot link this library), and agree now by having one. What is left here is
 * HTTP's own: the body's "key" against the path's, and a POST, which gives the new entity its key
 * and its first version, refusing either. */
#include <string.h>

#include "http_int.h"

int ent_http__body_entity(ent_entity **out, ent_http_body *b, const ent_type *t, const ent_key *want, const char *body,
                          size_t len)
{
    ent_key got;
    char kb[2 * ENT_KEY_STRING_MAX + 1];
    int rc;
    memset(b, 0, sizeof *b);
    if ((rc = ent_entity_from_body(out, &b->version, t, body, len))) return rc;
    b->has_version = b->version != 0;
    got = ent_entity_key(*out);
    if (got.kind != ENT_KEY_NONE && !want)
        rc = ent_error_set(ENT_INVALID, "%s: \"key\": POST gives the new entity its key: leave it out", ent_type_name(t));
    else if (b->has_version && !want)
        rc = ent_error_set(ENT_INVALID, "%s: \"version\": a new entity starts at version 1: leave it out", ent_type_name(t));
    else if (got.kind != ENT_KEY_NONE && !ent_http__same_key(got, *want)) {
        /* both named: a client that sent another entity's body sees which one it was */
        char gb[2 * ENT_KEY_STRING_MAX + 1];
        int quote = got.kind == ENT_KEY_STRING;
        ent_http__key_text(gb, sizeof gb, got);
        ent_http__key_text(kb, sizeof kb, *want);
        rc = ent_error_set(ENT_INVALID, "%s: \"key\" %s%s%s is not the key of the path (%s)", ent_type_name(t), quote ? "\"" : "",
                           gb, quote ? "\"" : "", kb);
    }
    if (rc) {
        ent_entity_free(*out);
        *out = NULL;
    }
    return rc;
}

int ent_http__body_patch(ent_entity *e, ent_http_body *b, const char *body, size_t len, int json_patch)
{
    int rc;
    memset(b, 0, sizeof *b);
    /* RFC 6902 by its media type; by its shape (an array) the library tells it itself */
    if (json_patch) return ent_entity_json_patch(e, body, len);
    rc = ent_entity_patch_body(&b->version, e, body, len);
    b->has_version = b->version != 0;
    return rc;
}
