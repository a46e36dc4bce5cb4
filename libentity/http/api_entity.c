/* entity-http: one entity under /api/TYPE/KEY: GET with its ETag, POST to the type, and PUT,
 * PATCH and DELETE with If-Match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "http_int.h"

/* An entity's ETag is "VERSION-HASH": its version, and the XXH3-64 of its JSON as served (16
 * lowercase hex digits), so that it names the representation (RFC 9110 8.8.3), not the version
 * alone. A version restarts at 1 when an entity is deleted and created again (a create gives
 * version 1): with the version as the whole ETag ("3", until 2026-12-06), an If-Match read before
 * a delete matched the entity made again once it reached that version, and a PUT, PATCH or
 * DELETE went through on a representation its client never saw (an If-None-Match answered 304
 * for it). Within one version the JSON changes only where the entity was made again, or where the
 * schema changed what is served for it (an evolution's new field with a default): the hash tells
 * both apart. "VERSION" is at most 20 digits: with the quotes, the dash and the hash, 40 bytes. */
typedef struct served {
    char *json; /* the entity's JSON as GET answers it (the reply takes it) */
    size_t len;
    uint64_t version, hash;
    char etag[48];
} served;

/* sv: e's JSON and ETag; sv->json NULL on failure. Returns ENT_OK, ENT_NOMEM (ent_entity_to_json()). */
static int served_make(served *sv, const ent_entity *e)
{
    int rc = ent_entity_to_json(&sv->json, e, ENT_JSON_ENTITY);
    if (rc) {
        sv->json = NULL;
        return rc;
    }
    sv->len = strlen(sv->json);
    sv->version = ent_entity_version(e);
    sv->hash = XXH3_64bits(sv->json, sv->len);
    snprintf(sv->etag, sizeof sv->etag, "\"%llu-%016llx\"", (unsigned long long)sv->version, (unsigned long long)sv->hash);
    return ENT_OK;
}

/* One entity-tag of a condition, as this server gives them: "VERSION-HASH", or "VERSION" alone
 * (the ETags before 2026-12-06, and what a hand-written request sends). */
typedef struct etag {
    uint64_t version, hash;
    int bare;    /* the version alone */
    int foreign; /* a version with leading zeros ("03"): none this server wrote, so it names nothing */
} etag;

/* The next entity-tag of the list at *p ([W/]"..." separated by commas, RFC 9110 5.6.1: empty
 * elements are allowed). Returns 1 (*out set, *p past it), 0 at the list's end, -1 for what is no
 * ETag of this server's. W/ is read as the tag it weakens: a proxy that compresses answers weakens
 * the ETags it passes on, and the client then sends them back so (W/"3" was taken before). */
static int next_tag(etag *out, const char **p)
{
    const char *s = *p, *q, *dash;
    char num[24];
    size_t n;
    while (*s == ' ' || *s == '\t' || *s == ',') s++;
    if (!*s) return 0;
    if (!strncmp(s, "W/", 2)) s += 2;
    if (*s++ != '"' || !(q = strchr(s, '"'))) return -1;
    dash = memchr(s, '-', (size_t)(q - s));
    n = (size_t)((dash ? dash : q) - s);
    if (!n || n >= sizeof num) return -1;
    memcpy(num, s, n);
    num[n] = '\0';
    /* UINT64_MAX is ENT_VERSION_ANY, which the write takes as *: no entity has that version */
    if (ent_http__digits_u64(&out->version, num) || out->version == ENT_VERSION_ANY) return -1;
    out->bare = !dash;
    /* An entity-tag is an opaque string (RFC 9110 8.8.3): "03-HASH" is not "3-HASH", and read as
     * a number it matched the entity at version 3 (If-Match went through, If-None-Match said 304)
     * though this server never wrote it. Well-formed all the same: it matches nothing, no 400. */
    out->foreign = n > 1 && num[0] == '0';
    out->hash = 0;
    if (dash) {
        if (q - dash != 17) return -1;
        for (const char *x = dash + 1; x < q; x++) {
            int d = *x >= '0' && *x <= '9' ? *x - '0' : *x >= 'a' && *x <= 'f' ? *x - 'a' + 10 : -1;
            if (d < 0) return -1;
            out->hash = out->hash << 4 | (uint64_t)d;
        }
    }
    s = q + 1;
    while (*s == ' ' || *s == '\t') s++;
    if (*s && *s != ',') return -1;
    *p = s;
    return 1;
}

/* A condition header (If-Match, If-None-Match) of the request. */
typedef struct cond {
    const char *list; /* its value; NULL: not sent */
    int any;          /* * */
} cond;

/* Returns 0 (out set), or -1 for a malformed value: neither * nor a list of ETags of this
 * server's (checked whole, so that a bad tag after a matching one is a 400 all the same). */
static int cond_read(cond *out, struct MHD_Connection *c, const char *header)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, header), *p;
    etag t;
    int r, n = 0;
    out->list = v;
    out->any = 0;
    if (!v) return 0;
    while (*v == ' ' || *v == '\t') v++;
    if (*v == '*') {
        for (p = v + 1; *p == ' ' || *p == '\t'; p++) {}
        out->any = !*p;
        return out->any ? 0 : -1;
    }
    for (p = v; (r = next_tag(&t, &p)) == 1;) n++;
    return r || !n ? -1 : 0;
}

#define COND_BAD_TAGS "expected * or ETags as this server gives them (\"3-0123456789abcdef\"; a version alone, \"3\", is read as the version)"

/* What a condition's tags say of the entity served as sv. bare_ok: a version alone matches the
 * same version (If-Match: the check it always was); otherwise it matches nothing (If-None-Match:
 * a 200 is never wrong, a 304 for another representation is). Returns 1 when a tag matches;
 * *same_version: a tag named sv's version with another hash (the entity was made again, or is
 * served otherwise since); *first: the first tag's version, ENT_VERSION_ANY (which no tag
 * holds) when it is foreign. */
static int cond_match(const cond *k, const served *sv, int bare_ok, int *same_version, uint64_t *first)
{
    const char *p = k->list;
    etag t;
    int i = 0;
    *same_version = 0;
    *first = 0;
    while (next_tag(&t, &p) == 1) {
        if (!i++) *first = t.foreign ? ENT_VERSION_ANY : t.version;
        if (t.foreign || t.version != sv->version) continue;
        if (t.bare ? bare_ok : t.hash == sv->hash) return 1;
        if (!t.bare) *same_version = 1;
    }
    return 0;
}

/* The 412 of a false If-Match on an entity that exists (served as sv). */
static enum MHD_Result precondition_failed(struct MHD_Connection *c, const char *tn, const char *ktext, const served *sv,
                                           int same_version, uint64_t first)
{
    if (same_version)
        return ent_http__reply_error(c, MHD_HTTP_PRECONDITION_FAILED,
                                     "If-Match: %s \"%s\" changed: it was re-created or changed at version %llu (or an evolution "
                                     "changed what is served for it); its ETag is now %s",
                                     tn, ktext, (unsigned long long)sv->version, sv->etag);
    if (first == ENT_VERSION_ANY) /* "it is at version 3, not 3" said nothing of why */
        return ent_http__reply_error(c, MHD_HTTP_PRECONDITION_FAILED,
                                     "If-Match: %s \"%s\" is at version %llu, its ETag %s; a version with leading zeros is "
                                     "no ETag of this server's and matches nothing",
                                     tn, ktext, (unsigned long long)sv->version, sv->etag);
    return ent_http__reply_error(c, MHD_HTTP_PRECONDITION_FAILED, "If-Match: %s \"%s\" changed: it is at version %llu, not %llu", tn,
                                 ktext, (unsigned long long)sv->version, (unsigned long long)first);
}

int ent_http__wait_args(ent_http_wait *ww, ent_http *h, ent_http_args *a, struct MHD_Connection *c, enum MHD_Result *rc)
{
    const char *sub = ent_http__arg(a, "wait"), *ms = ent_http__arg(a, "wait_ms");
    uint64_t v;
    memset(ww, 0, sizeof *ww);
    ww->sub = sub ? sub : h->wait_sub[0] ? h->wait_sub : NULL;
    ww->ms = h->wait_ms;
    if (sub && (!*sub || strlen(sub) > 200)) {
        *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "wait: a subscription name is 1 to 200 bytes (e.g. wait=relay)");
        return -1;
    }
    if (sub) {
        /* a name no subscription can have (a control character, not UTF-8) is the request's
         * fault, named as its wait's: the write's own refusal named it after the type */
        uint64_t cp;
        if (ent_sub_checkpoint(&cp, h->s, NULL, sub) == ENT_INVALID) {
            *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "wait: %s", ent_errmsg());
            return -1;
        }
    }
    if (ms && !ww->sub) {
        *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "wait_ms: needs wait=SUB (the server waits for none by default)");
        return -1;
    }
    if (ms && (ent_http__digits_u64(&v, ms) || v > h->max_wait_ms)) {
        *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "wait_ms: \"%.40s\" is not a number of ms from 0 to %u (the server's most)",
                                    ms, h->max_wait_ms);
        return -1;
    }
    if (ms) ww->ms = (unsigned)v;
    return 0;
}

/* In the write's transaction, before its writes: the subscription must exist (a write that none
 * could acknowledge is refused before it is made, 409: nothing written), and the log's last seq,
 * to tell a write that made no event. Returns ENT_OK, ENT_NOTFOUND (ww->nosub), or a code. */
static int wait_begin(ent_http_wait *ww, ent_store *s, ent_txn *w)
{
    uint64_t cp;
    int rc;
    ww->nosub = 0;
    if (!ww->sub) return ENT_OK;
    if ((rc = ent_sub_checkpoint(&cp, s, w, ww->sub)) == ENT_NOTFOUND) ww->nosub = 1;
    return rc ? rc : ent_log_bounds(NULL, &ww->before, s, w);
}

/* In the write's transaction, after its writes: the seq it ends at (0: it made no event). */
static int wait_seq(ent_http_wait *ww, ent_store *s, ent_txn *w)
{
    uint64_t last;
    int rc;
    if (!ww->sub) return ENT_OK;
    if ((rc = ent_log_bounds(NULL, &last, s, w))) return rc;
    ww->seq = last > ww->before ? last : 0;
    return ENT_OK;
}

static enum MHD_Result nosub_reply(struct MHD_Connection *c, const ent_http_wait *ww)
{
    return ent_http__reply_error(c, MHD_HTTP_CONFLICT,
                                 "wait: no subscription \"%s\" in the store, nothing was written (make it with entity subs add %s, "
                                 "or leave wait out)",
                                 ww->sub, ww->sub);
}

/* After the commit: wait for the acknowledgement, and the Entity-Acknowledged header's value into
 * buf ("" without a wait). The write is committed whatever this says: a timeout answers the usual
 * success with "none; ..." (the client knows what was written, and must not write it again). The
 * wait holds this connection's thread only, for at most ww->ms. */
static void wait_acked(char *buf, size_t size, const ent_http_wait *ww, ent_store *s)
{
    uint64_t cp = 0;
    int rc;
    buf[0] = '\0';
    if (!ww->sub) return;
    if (!ww->seq) {
        snprintf(buf, size, "%s; no event to acknowledge (the write changed nothing)", ww->sub);
        return;
    }
    rc = ent_sub_wait(&cp, s, ww->sub, ww->seq, (int)ww->ms);
    if (rc == ENT_OK) snprintf(buf, size, "%s seq %llu", ww->sub, (unsigned long long)ww->seq);
    else if (rc == ENT_TIMEOUT)
        snprintf(buf, size, "none; %s at seq %llu, not %llu, waited %u ms", ww->sub, (unsigned long long)cp,
                 (unsigned long long)ww->seq, ww->ms);
    else if (rc == ENT_NOTFOUND)
        snprintf(buf, size, "none; subscription %s is gone, seq %llu", ww->sub, (unsigned long long)ww->seq);
    else
        snprintf(buf, size, "none; seq %llu: the wait failed (%s)", (unsigned long long)ww->seq, ent_strerror(rc));
}

#define ACK_HEADER "Entity-Acknowledged"

/* sv's JSON with its ETag (and for a 201 its Location: the path of e's key); takes sv->json.
 * ack: the Entity-Acknowledged header's value, "" or NULL: none. */
static enum MHD_Result reply_entity(struct MHD_Connection *c, unsigned status, served *sv, const ent_entity *e, const char *tname,
                                    const char *ack)
{
    const char *hdr[] = {MHD_HTTP_HEADER_ETAG, sv->etag, ACK_HEADER, ack && *ack ? ack : NULL, MHD_HTTP_HEADER_LOCATION, NULL, NULL};
    char *j = sv->json, *loc = NULL;
    enum MHD_Result rc;
    sv->json = NULL;
    /* the path that GETs it, whatever its key: /api/events/stream was the event stream's, and
     * /api/TYPE/%2E the list for a browser; a NUL cut the key there, naming another entity */
    if (status == MHD_HTTP_CREATED && (loc = ent_http__entity_path(tname, ent_entity_key(e)))) hdr[5] = loc;
    rc = ent_http__reply(c, status, j, sv->len, NULL, hdr);
    free(loc);
    return rc;
}

enum MHD_Result ent_http__entity_get(ent_http *h, struct MHD_Connection *c, ent_txn *txn, const ent_type *t, const char *kpath, int hex)
{
    char kbuf[ENT_KEY_STRING_MAX + 1], ktext[2 * ENT_KEY_STRING_MAX + 1];
    enum MHD_Result mrc = MHD_NO;
    ent_entity *e = NULL;
    ent_key k;
    int rc, same;
    cond im, inm;
    served sv;
    uint64_t first;
    if (ent_http__path_key(&k, kbuf, t, kpath, hex, c, &mrc)) return mrc;
    ent_http__key_text(ktext, sizeof ktext, k);
    if (cond_read(&im, c, MHD_HTTP_HEADER_IF_MATCH)) return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "If-Match: " COND_BAD_TAGS);
    if (cond_read(&inm, c, MHD_HTTP_HEADER_IF_NONE_MATCH))
        return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "If-None-Match: " COND_BAD_TAGS);
    if ((rc = ent_get(&e, h->s, txn, t, &k))) return ent_http__reply_lib(c, rc, ent_type_name(t));
    if ((rc = served_make(&sv, e))) {
        ent_entity_free(e);
        return ent_http__reply_lib(c, rc, ent_type_name(t));
    }
    ent_entity_free(e);
    /* a read of the representation the client holds, or nothing: it was the current one whatever
     * the client named (RFC 9110 13.1.1 has a false If-Match refuse any method) */
    if (im.list && !im.any && !cond_match(&im, &sv, 1, &same, &first)) {
        free(sv.json);
        return precondition_failed(c, ent_type_name(t), ktext, &sv, same, first);
    }
    /* weak comparison (RFC 9110 13.1.2): W/ is ignored, as everywhere here */
    if (inm.list && (inm.any || cond_match(&inm, &sv, 0, &same, &first))) {
        const char *hdr[] = {MHD_HTTP_HEADER_ETAG, sv.etag, NULL};
        free(sv.json);
        return ent_http__reply(c, MHD_HTTP_NOT_MODIFIED, NULL, 0, NULL, hdr);
    }
    return reply_entity(c, MHD_HTTP_OK, &sv, NULL, ent_type_name(t), NULL);
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
    served sv;     /* e as stored, read back in the write's transaction; the caller frees sv.json */
    int unknown;   /* the type is gone from the schema the write sees */
    ent_http_wait *ww;
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

/* The entity of type t with key k as w holds it, served: what a GET answers once w commits. A
 * write's reply is made from this, not from the entity the request built: the store may keep a
 * value in another form than it came in (a free-form timestamp as its ns, a non-negative int as a
 * uint), and an ETag of the JSON before that would match no GET. Returns as ent_get() and
 * served_make(). */
static int stored(served *sv, ent_store *s, ent_txn *w, const ent_type *t, const ent_key *k)
{
    ent_entity *e = NULL;
    int rc = ent_get(&e, s, w, t, k);
    sv->json = NULL;
    if (!rc) rc = served_make(sv, e);
    ent_entity_free(e);
    return rc;
}

static int create_in(ent_txn *w, void *payload)
{
    create_job *j = payload;
    const ent_type *t = ent_txn_type(w, j->tn);
    ent_http_body b;
    ent_key k;
    int rc;
    ent_entity_free(j->e);
    j->e = NULL;
    free(j->sv.json);
    j->sv.json = NULL;
    j->unknown = !t;
    if (!t) return ENT_NOTFOUND;
    /* the wait's seqs within this fn's own run: a group's other writes come before or after it */
    if ((rc = wait_begin(j->ww, j->s, w))) return rc;
    if ((rc = ent_http__body_entity(&j->e, &b, t, NULL, j->r->body, j->r->len))) return rc;
    if ((rc = ent_create(j->s, w, j->e))) return rc;
    k = ent_entity_key(j->e);
    if ((rc = stored(&j->sv, j->s, w, t, &k))) return rc;
    return wait_seq(j->ww, j->s, w);
}

enum MHD_Result ent_http__entity_create(ent_http *h, struct MHD_Connection *c, const ent_type *t, ent_http_req *r, ent_http_wait *ww)
{
    create_job j = {h->s, ent_type_name(t), r, NULL, {NULL, 0, 0, 0, ""}, 0, ww};
    char ack[512];
    const char *hn;
    enum MHD_Result mrc;
    int rc;
    if (ent_type_key(t) != ENT_KEY_AUTO)
        return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "%s has string keys: create one with PUT /api/%s/KEY", j.tn, j.tn);
    /* A condition on a POST was read by nobody: the create went ahead whatever the client made
     * it depend on (a stale ETag, an If-None-Match meant for PUT). A new entity has no version. */
    if ((hn = ent_http__condition(c)))
        return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST,
                                     "%s: a POST creates an entity with a new id, which no condition can name; PUT, PATCH and "
                                     "DELETE /api/%s/KEY take it",
                                     hn, j.tn);
    if (!r->len) return no_body(c, "the entity's data");
    rc = ent_txn_run(h->s, create_in, &j);
    if (rc && j.unknown) mrc = ent_http__reply_error(c, MHD_HTTP_NOT_FOUND, "unknown type \"%s\"", j.tn);
    else if (rc && ww->nosub) mrc = nosub_reply(c, ww);
    else if (rc) mrc = ent_http__reply_lib(c, rc, j.tn);
    else {
        wait_acked(ack, sizeof ack, ww, h->s);
        mrc = reply_entity(c, MHD_HTTP_CREATED, &j.sv, j.e, j.tn, ack);
    }
    ent_entity_free(j.e);
    free(j.sv.json);
    return mrc;
}

/* PUT, PATCH and DELETE /api/TYPE/KEY. The If-Match check and the write share one write
 * transaction, so no other writer can slip in between them: the ETag is checked against the
 * entity that transaction reads, and the write is given that entity's version as the one it
 * expects (the library's own check, should anything come between). A mismatch is then 412, and an
 * ENT_CONFLICT of the write itself (a unique value taken, still referenced) is 409. */
enum MHD_Result ent_http__entity_write(ent_http *h, struct MHD_Connection *c, const char *method, const ent_type *t,
                                 const char *kpath, int hex, ent_http_req *r, ent_http_wait *ww)
{
    char ack[512];
    char kbuf[ENT_KEY_STRING_MAX + 1], ktext[2 * ENT_KEY_STRING_MAX + 1];
    enum MHD_Result mrc = MHD_NO;
    const char *tn = ent_type_name(t);
    ent_txn *w = NULL;
    ent_entity *cur = NULL, *e = NULL;
    ent_key k;
    uint64_t have = 0, first;
    int rc, exists, same;
    unsigned status = MHD_HTTP_OK;
    cond im, inm;
    served sv = {NULL, 0, 0, 0, ""};
    if (ent_http__path_key(&k, kbuf, t, kpath, hex, c, &mrc)) return mrc;
    ent_http__key_text(ktext, sizeof ktext, k);
    if (cond_read(&im, c, MHD_HTTP_HEADER_IF_MATCH)) return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "If-Match: " COND_BAD_TAGS);
    if (cond_read(&inm, c, MHD_HTTP_HEADER_IF_NONE_MATCH) || (inm.list && !inm.any))
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
    if ((rc = wait_begin(ww, h->s, w))) {
        if (!ww->nosub) goto lib_fail;
        mrc = nosub_reply(c, ww);
        goto out;
    }
    rc = ent_get(&cur, h->s, w, t, &k);
    if (rc && rc != ENT_NOTFOUND) goto lib_fail;
    exists = rc == ENT_OK;
    if (exists) have = ent_entity_version(cur);
    if (im.list && !exists) {
        mrc = ent_http__reply_error(c, MHD_HTTP_PRECONDITION_FAILED, "If-Match: %s \"%s\" does not exist", tn, ktext);
        goto out;
    }
    if (im.list && !im.any) {
        /* cur as a GET in this transaction would serve it: the representation the tag names */
        if ((rc = served_make(&sv, cur))) goto lib_fail;
        if (!cond_match(&im, &sv, 1, &same, &first)) {
            mrc = precondition_failed(c, tn, ktext, &sv, same, first);
            goto out;
        }
        free(sv.json);
        sv.json = NULL;
    }
    if (inm.list && exists) {
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
            int json_patch = ct && !ent_http__ncasecmp(ct, "application/json-patch+json", n) && strchr("; \t", ct[n]);
            if ((rc = ent_http__body_patch(cur, &b, r->body, r->len, json_patch))) goto lib_fail;
            e = cur;
            cur = NULL;
        } else if ((rc = ent_http__body_entity(&e, &b, t, &k, r->body, r->len)) || (rc = ent_entity_set_key(e, &k))) {
            goto lib_fail;
        }
        /* the entity's JSON names the version it was read at: a write over a later one would
         * undo what came between, as a stale If-Match would (a version alone, as "3" in If-Match:
         * the body cannot say which entity of that key it was read from) */
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
        /* the answer and its ETag from the entity as stored, before the commit: a GET right
         * after it gets the same */
        if ((rc = stored(&sv, h->s, w, t, &k))) goto lib_fail;
    }
    if ((rc = wait_seq(ww, h->s, w))) goto lib_fail;
    rc = ent_txn_commit(w);
    w = NULL;
    if (rc) goto lib_fail;
    wait_acked(ack, sizeof ack, ww, h->s);
    if (status == MHD_HTTP_NO_CONTENT) {
        const char *hdr[] = {ACK_HEADER, ack[0] ? ack : NULL, NULL};
        mrc = ent_http__reply(c, status, NULL, 0, NULL, hdr);
    } else mrc = reply_entity(c, status, &sv, e, tn, ack);
    goto out;
lib_fail:
    mrc = ent_http__reply_lib(c, rc, tn);
out:
    ent_txn_abort(w);
    ent_entity_free(cur);
    ent_entity_free(e);
    free(sv.json);
    return mrc;
}
