/* entity-http: one entity under /api/TYPE/KEY: GET with its ETag, POST to the type, and PUT,
 * PATCH and DELETE with If-Match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

/* If-Match: "V" (or W/"V", or *). Returns 0 (*has set when given), or -1 for a malformed value. */
static int if_match(int *has, uint64_t *version, struct MHD_Connection *c, const char *header)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, header);
    char num[32];
    size_t n;
    *has = 0;
    *version = ENT_VERSION_ANY;
    if (!v) return 0;
    *has = 1;
    while (*v == ' ') v++;
    if (!strcmp(v, "*")) return 0;
    if (!strncmp(v, "W/", 2)) v += 2;
    n = strlen(v);
    while (n && v[n - 1] == ' ') n--;
    if (n < 3 || v[0] != '"' || v[n - 1] != '"' || n - 2 >= sizeof num) return -1;
    memcpy(num, v + 1, n - 2);
    num[n - 2] = '\0';
    /* UINT64_MAX is ENT_VERSION_ANY, which the write takes as *: no entity has that version */
    if (ent_http__digits_u64(version, num) || *version == ENT_VERSION_ANY) return -1;
    return 0;
}

static enum MHD_Result reply_entity(struct MHD_Connection *c, unsigned status, const ent_entity *e, const char *tname)
{
    /* loc: "/api/" + a name and a key of 255 bytes, each byte escaped as %XX at worst */
    char *j = NULL, etag[32], loc[6 + 3 * ENT_NAME_MAX + 3 * 255 + 1], kb[300];
    const char *hdr[] = {MHD_HTTP_HEADER_ETAG, etag, MHD_HTTP_HEADER_LOCATION, NULL, NULL};
    int rc = ent_entity_to_json(&j, e, ENT_JSON_ENTITY);
    if (rc) return ent_http__reply_lib(c, rc, tname);
    snprintf(etag, sizeof etag, "\"%llu\"", (unsigned long long)ent_entity_version(e));
    if (status == MHD_HTTP_CREATED) {
        char *te = ent_http__escape(tname), *ke;
        ent_http__key_text(kb, sizeof kb, ent_entity_key(e));
        ke = ent_http__escape(kb);
        if (te && ke) {
            snprintf(loc, sizeof loc, "/api/%s/%s", te, ke);
            hdr[3] = loc;
        }
        free(te);
        free(ke);
    }
    return ent_http__reply(c, status, j, strlen(j), NULL, hdr);
}

enum MHD_Result ent_http__entity_get(ent_http *h, struct MHD_Connection *c, ent_txn *txn, const ent_type *t, const char *ktext)
{
    enum MHD_Result mrc = MHD_NO;
    ent_entity *e = NULL;
    ent_key k;
    int rc;
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    int has_im;
    uint64_t want;
    if (ent_http__key(&k, t, ktext, c, &mrc)) return mrc;
    if (if_match(&has_im, &want, c, MHD_HTTP_HEADER_IF_MATCH))
        return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "If-Match: expected a version in quotes (\"3\") or *");
    if ((rc = ent_get(&e, h->s, txn, t, &k))) return ent_http__reply_lib(c, rc, ent_type_name(t));
    /* a read of the version the client holds, or nothing: it was the current one whatever the
     * client named (RFC 9110 13.1.1 has a false If-Match refuse any method) */
    if (has_im && want != ENT_VERSION_ANY && want != ent_entity_version(e)) {
        mrc = ent_http__reply_error(c, MHD_HTTP_PRECONDITION_FAILED, "If-Match: %s \"%s\" is at version %llu, not %llu", ent_type_name(t), ktext,
                                    (unsigned long long)ent_entity_version(e), (unsigned long long)want);
        ent_entity_free(e);
        return mrc;
    }
    if (inm) {
        char etag[32];
        snprintf(etag, sizeof etag, "\"%llu\"", (unsigned long long)ent_entity_version(e));
        if (strstr(inm, etag) || !strcmp(inm, "*")) {
            const char *hdr[] = {MHD_HTTP_HEADER_ETAG, etag, NULL};
            ent_entity_free(e);
            return ent_http__reply(c, MHD_HTTP_NOT_MODIFIED, NULL, 0, NULL, hdr);
        }
    }
    mrc = reply_entity(c, MHD_HTTP_OK, e, ent_type_name(t));
    ent_entity_free(e);
    return mrc;
}

/* POST /api/TYPE: create with the next id. */
/* POST's work in a grouped write (ent_txn_run(): grouped with other threads' writes, as a create
 * without a transaction is). The type again, inside the write's own transaction, as for the
 * other writes: an evolution committed since the route's look-up made the create a 409. fn may
 * run more than once: each run builds the entity anew. */
typedef struct create_job {
    ent_store *s;
    const char *tn;
    const ent_http_req *r;
    ent_entity *e; /* the created entity; the caller frees it */
    int unknown;   /* the type is gone from the schema the write sees */
} create_job;

/* A write that came without a body. HTTP/1.1 gives a request with neither Content-Length nor
 * Transfer-Encoding no body: a client that sent one so (written by hand) was told only what the
 * body must be, and its bytes were then read as the next request on the connection (a second,
 * stranger error). The answer says so and closes the connection. want: what the body must be. */
static enum MHD_Result no_body(struct MHD_Connection *c, const char *want)
{
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH) ||
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "the request body must be %s, a JSON object", want);
    return ent_http__reply_error_close(c, MHD_HTTP_BAD_REQUEST,
                                       "the request has no body (neither Content-Length nor Transfer-Encoding came with it): "
                                       "it must be %s, a JSON object",
                                       want);
}

static int create_in(ent_txn *w, void *payload)
{
    create_job *j = payload;
    const ent_type *t = ent_txn_type(w, j->tn);
    ent_http_body b;
    int rc;
    ent_entity_free(j->e);
    j->e = NULL;
    j->unknown = !t;
    if (!t) return ENT_NOTFOUND;
    if ((rc = ent_http__body_entity(&j->e, &b, t, NULL, j->r->body, j->r->len))) return rc;
    return ent_create(j->s, w, j->e);
}

enum MHD_Result ent_http__entity_create(ent_http *h, struct MHD_Connection *c, const ent_type *t, ent_http_req *r)
{
    create_job j = {h->s, ent_type_name(t), r, NULL, 0};
    enum MHD_Result mrc;
    int rc;
    if (ent_type_key(t) != ENT_KEY_AUTO)
        return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "%s has string keys: create one with PUT /api/%s/KEY", j.tn, j.tn);
    /* A condition on a POST was read by nobody: the create went ahead whatever the client made
     * it depend on (a stale ETag, an If-None-Match meant for PUT). A new entity has no version. */
    for (unsigned i = 0; i < 2; i++) {
        const char *hn = i ? MHD_HTTP_HEADER_IF_NONE_MATCH : MHD_HTTP_HEADER_IF_MATCH;
        if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, hn))
            return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST,
                                         "%s: a POST creates an entity with a new id, which no condition can name; PUT, PATCH and "
                                         "DELETE /api/%s/KEY take it",
                                         hn, j.tn);
    }
    if (!r->len) return no_body(c, "the entity's data");
    rc = ent_txn_run(h->s, create_in, &j);
    if (rc && j.unknown) mrc = ent_http__reply_error(c, MHD_HTTP_NOT_FOUND, "unknown type \"%s\"", j.tn);
    else if (rc) mrc = ent_http__reply_lib(c, rc, j.tn);
    else mrc = reply_entity(c, MHD_HTTP_CREATED, j.e, j.tn);
    ent_entity_free(j.e);
    return mrc;
}

/* PUT, PATCH and DELETE /api/TYPE/KEY. The If-Match check and the write share one write
 * transaction, so no other writer can slip in between them; a version mismatch is then 412, and
 * an ENT_CONFLICT of the write itself (a unique value taken, still referenced) is 409. */
enum MHD_Result ent_http__entity_write(ent_http *h, struct MHD_Connection *c, const char *method, const ent_type *t,
                                 const char *ktext, ent_http_req *r)
{
    enum MHD_Result mrc = MHD_NO;
    const char *tn = ent_type_name(t);
    ent_txn *w = NULL;
    ent_entity *cur = NULL, *e = NULL;
    ent_key k;
    uint64_t want, have = 0;
    int has_match, has_none, rc, exists;
    unsigned status = MHD_HTTP_OK;
    uint64_t none_v;
    if (ent_http__key(&k, t, ktext, c, &mrc)) return mrc;
    if (if_match(&has_match, &want, c, MHD_HTTP_HEADER_IF_MATCH))
        return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "If-Match: expected a version in quotes (\"3\") or *");
    if (if_match(&has_none, &none_v, c, MHD_HTTP_HEADER_IF_NONE_MATCH) || (has_none && none_v != ENT_VERSION_ANY))
        return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "If-None-Match: only * (must not exist) is understood on writes");
    if (strcmp(method, "DELETE") && !r->len)
        return no_body(c, !strcmp(method, "PATCH") ? "a merge patch (RFC 7396) or a JSON Patch (RFC 6902)" : "the entity's data");
    if ((rc = ent_txn_begin(&w, h->s, ENT_TXN_WRITE))) return ent_http__reply_lib(c, rc, tn);
    /* The type again, as of this transaction: another process may have evolved the schema since
     * the route looked it up, and none can now (this transaction holds the writer). */
    if (!(t = ent_txn_type(w, tn))) {
        mrc = ent_http__reply_error(c, MHD_HTTP_NOT_FOUND, "unknown type \"%s\"", tn);
        goto out;
    }
    rc = ent_get(&cur, h->s, w, t, &k);
    if (rc && rc != ENT_NOTFOUND) goto lib_fail;
    exists = rc == ENT_OK;
    if (exists) have = ent_entity_version(cur);
    if (has_match && !exists) {
        mrc = ent_http__reply_error(c, MHD_HTTP_PRECONDITION_FAILED, "If-Match: %s \"%s\" does not exist", tn, ktext);
        goto out;
    }
    if (has_match && want != ENT_VERSION_ANY && want != have) {
        mrc = ent_http__reply_error(c, MHD_HTTP_PRECONDITION_FAILED, "If-Match: %s \"%s\" is at version %llu, not %llu", tn, ktext,
                                    (unsigned long long)have, (unsigned long long)want);
        goto out;
    }
    if (has_none && exists) {
        mrc = ent_http__reply_error(c, MHD_HTTP_PRECONDITION_FAILED, "If-None-Match: %s \"%s\" exists", tn, ktext);
        goto out;
    }
    if (!exists && (strcmp(method, "PUT") || ent_type_key(t) == ENT_KEY_AUTO)) {
        /* auto ids are given by POST; PUT replaces an existing one, as `entity put --key` does */
        mrc = ent_http__reply_error(c, MHD_HTTP_NOT_FOUND, "%s \"%s\" does not exist", tn, ktext);
        goto out;
    }
    if (!strcmp(method, "DELETE")) {
        if ((rc = ent_delete(h->s, w, t, &k, have))) goto lib_fail;
        status = MHD_HTTP_NO_CONTENT;
    } else {
        ent_http_body b;
        if (!strcmp(method, "PATCH")) {
            const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
            size_t n = strlen("application/json-patch+json");
            /* the type alone or with parameters (strchr finds the terminating NUL too) */
            int json_patch = ct && !strncasecmp(ct, "application/json-patch+json", n) && strchr("; \t", ct[n]);
            if ((rc = ent_http__body_patch(cur, &b, r->body, r->len, json_patch))) goto lib_fail;
            e = cur;
            cur = NULL;
        } else if ((rc = ent_http__body_entity(&e, &b, t, &k, r->body, r->len)) || (rc = ent_entity_set_key(e, &k))) {
            goto lib_fail;
        }
        /* the entity's JSON names the version it was read at: a write over a later one would
         * undo what came between, as a stale If-Match would */
        if (b.has_version && (!exists || b.version != have)) {
            if (!exists) mrc = ent_http__reply_error(c, MHD_HTTP_PRECONDITION_FAILED, "\"version\": %s \"%s\" does not exist", tn, ktext);
            else
                mrc = ent_http__reply_error(c, MHD_HTTP_PRECONDITION_FAILED, "\"version\": %s \"%s\" is at version %llu, not %llu", tn, ktext,
                                            (unsigned long long)have, (unsigned long long)b.version);
            goto out;
        }
        rc = exists ? ent_replace(h->s, w, e, have) : ent_create(h->s, w, e);
        if (rc) goto lib_fail;
        status = exists ? MHD_HTTP_OK : MHD_HTTP_CREATED;
    }
    rc = ent_txn_commit(w);
    w = NULL;
    if (rc) goto lib_fail;
    if (status == MHD_HTTP_NO_CONTENT) mrc = ent_http__reply(c, status, NULL, 0, NULL, NULL);
    else mrc = reply_entity(c, status, e, tn);
    goto out;
lib_fail:
    mrc = ent_http__reply_lib(c, rc, tn);
out:
    ent_txn_abort(w);
    ent_entity_free(cur);
    ent_entity_free(e);
    return mrc;
}

