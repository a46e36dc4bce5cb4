/* entity-http: the JSON API under /api/: its routing, and the reads of many (stat, schema, lists,
 * index look-ups and ranges, events); one entity's calls are in api_entity.c. Entities and events
 * are rendered by the library's own ent_entity_to_json() and ent_event_to_json(), so they have the
 * entity tool's shapes. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
#define EVENTS_MAX 10000
/* A page also ends once its JSON passes this (it holds at least one entity or event), with the
 * Link to the rest: a page is built in memory and held until the client has read it, so without
 * a bound a client that asks for 1000 big entities and never reads holds 1000 times their size. */
#define PAGE_BYTES ((size_t)1 << 20)

/* A growing string for JSON arrays and Link headers. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        char *p;
        while (cap < b->n + n + 1) cap *= 2;
        if (!(p = realloc(b->p, cap))) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_esc(sbuf *b, const char *s)
{
    char *e = ent_http__escape(s);
    if (!e) b->oom = 1;
    else sb_str(b, e);
    free(e);
}

/* Reply with the JSON in b (taken), and a Link to the next page when link holds one. */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, sbuf *b, sbuf *link)
{
    const char *hdr[] = {MHD_HTTP_HEADER_LINK, link && link->n && !link->oom ? link->p : NULL, NULL};
    enum MHD_Result rc;
    if (b->oom || (link && link->oom)) {
        free(b->p);
        if (link) free(link->p);
        return ent_http__reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    rc = ent_http__reply(c, status, b->p, b->n, NULL, hdr);
    if (link) free(link->p);
    return rc;
}

int ent_http__digits_u64(uint64_t *out, const char *text)
{
    char *end;
    unsigned long long v;
    if (!isdigit((unsigned char)text[0])) return -1;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

/* limit=N in 1..max, default def. Returns 0 or -1 (after a 400 reply in *rc). */
static int arg_limit(uint64_t *out, ent_http_args *a, uint64_t def, uint64_t max, struct MHD_Connection *c, enum MHD_Result *rc)
{
    const char *v = ent_http__arg(a, "limit");
    *out = def;
    if (!v) return 0;
    if (ent_http__digits_u64(out, v) || *out < 1 || *out > max) {
        *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "limit: \"%s\" is not a number from 1 to %llu", v, (unsigned long long)max);
        return -1;
    }
    return 0;
}

static int arg_bool(int *out, ent_http_args *a, const char *name, struct MHD_Connection *c, enum MHD_Result *rc)
{
    const char *v = ent_http__arg(a, name);
    *out = 0;
    if (!v) return 0;
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "")) *out = 1;
    else if (strcmp(v, "0") && strcmp(v, "false")) {
        *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "%s: \"%s\" is not 1, 0, true or false", name, v);
        return -1;
    }
    return 0;
}

/* Every parameter given must have been read by the route: a misspelt one is an error, not a
 * silently ignored filter. */
static int args_all_used(ent_http_args *a, struct MHD_Connection *c, enum MHD_Result *rc)
{
    for (size_t i = 0; i < a->n; i++)
        if (!a->v[i].used) {
            *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "unknown parameter \"%s\"", a->v[i].name);
            return -1;
        }
    return 0;
}

/* A read route's transaction and its type, as of that transaction: the type and every read of
 * the request are of one snapshot. (The type looked up first and read later in another
 * transaction answered 409 when another process's evolution committed in between, and so did a
 * type of the store's current schema when another request's transaction had noticed an
 * evolution that this one's snapshot predates.) *r: the caller aborts it; NULL on failure, which
 * is answered (rc). */
static const ent_type *read_type(ent_txn **r, ent_http *h, struct MHD_Connection *c, const char *name,
                                 enum MHD_Result *rc)
{
    const ent_type *t;
    int code = ent_txn_begin(r, h->s, ENT_TXN_READ);
    if (code) {
        *r = NULL;
        *rc = ent_http__reply_lib(c, code, name);
        return NULL;
    }
    if (!(t = ent_txn_type(*r, name))) {
        ent_txn_abort(*r);
        *r = NULL;
        *rc = ent_http__reply_error(c, MHD_HTTP_NOT_FOUND, "unknown type \"%s\"", name);
    }
    return t;
}

/* A write route's type: looked up again by name inside the write's own transaction (which no
 * evolution can pass: it holds the writer), so this one only answers an unknown type with 404. */
static const ent_type *type_or_404(ent_http *h, struct MHD_Connection *c, const char *name, enum MHD_Result *rc)
{
    ent_txn *r = NULL;
    const ent_type *t = read_type(&r, h, c, name, rc);
    ent_txn_abort(r);
    return t;
}

int ent_http__key(ent_key *out, const ent_type *t, const char *text, struct MHD_Connection *c, enum MHD_Result *rc)
{
    if (ent_type_key(t) == ENT_KEY_AUTO) {
        uint64_t id;
        if (ent_http__digits_u64(&id, text) || id == 0) {
            *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "%s: key \"%s\" is not an id (a positive integer)", ent_type_name(t), text);
            return -1;
        }
        *out = ent_key_id(id);
    } else {
        *out = ent_key_str(text);
    }
    return 0;
}

int ent_http__path_key(ent_key *out, char *buf, const ent_type *t, const char *text, int hex, struct MHD_Connection *c,
                       enum MHD_Result *rc)
{
    size_t n = strlen(text), len = n / 2;
    if (!hex) return ent_http__key(out, t, text, c, rc);
    for (size_t i = 0; i < n && !(n % 2) && len <= ENT_KEY_STRING_MAX; i += 2) {
        int hi = ent_http__hexval((unsigned char)text[i]), lo = ent_http__hexval((unsigned char)text[i + 1]);
        if (hi < 0 || lo < 0) {
            len = 0;
            break;
        }
        buf[i / 2] = (char)(hi << 4 | lo);
    }
    if (n % 2 || len == 0 || len > ENT_KEY_STRING_MAX) {
        *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST,
                                    "%s: /hex/%.40s%s is not a key in hex (its bytes as 2 to %d hex digits, two a byte)", ent_type_name(t),
                                    text, n > 40 ? "..." : "", 2 * ENT_KEY_STRING_MAX);
        return -1;
    }
    buf[len] = '\0';
    if (ent_type_key(t) == ENT_KEY_AUTO) {
        if (memchr(buf, '\0', len)) {
            *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "%s: key /hex/%s is not an id (a positive integer)", ent_type_name(t), text);
            return -1;
        }
        return ent_http__key(out, t, buf, c, rc);
    }
    out->kind = ENT_KEY_STRING;
    out->id = 0;
    out->str = buf;
    out->len = len;
    return 0;
}

/* For messages: a NUL as \0 (a %s stopped at it, and named another key). */
void ent_http__key_text(char *buf, size_t size, ent_key k)
{
    size_t w = 0;
    if (k.kind == ENT_KEY_AUTO) {
        snprintf(buf, size, "%llu", (unsigned long long)k.id);
        return;
    }
    for (size_t i = 0; i < k.len && w + 3 <= size; i++) {
        if (k.str[i]) buf[w++] = k.str[i];
        else buf[w++] = '\\', buf[w++] = '0';
    }
    buf[w < size ? w : size - 1] = '\0';
}

/* The one path that names it whatever its bytes: /api/TYPE/KEY percent-encoded, or /api/TYPE/hex/HEX
 * for the keys that path cannot carry: a NUL (%00 is refused in a path), "." and ".." (dot
 * segments a client resolves away, as the WHATWG URL parser does their %2E escapes too: the list
 * or /api/), and "stream" of a type "events" (the event stream's path). */
char *ent_http__entity_path(const char *tname, ent_key k)
{
    static const char hx[] = "0123456789abcdef";
    char *te = ent_http__escape(tname), *ke = NULL, *out = NULL;
    size_t n;
    int hex = k.kind == ENT_KEY_STRING &&
              (memchr(k.str, '\0', k.len) || (k.len == 1 && k.str[0] == '.') || (k.len == 2 && !memcmp(k.str, "..", 2)) ||
               (!strcmp(tname, "events") && k.len == 6 && !memcmp(k.str, "stream", 6)));
    if (!te) return NULL;
    if (k.kind == ENT_KEY_AUTO) {
        if ((ke = malloc(24))) snprintf(ke, 24, "%llu", (unsigned long long)k.id);
    } else if (hex) {
        if ((ke = malloc(4 + 2 * k.len + 1))) {
            char *w = ke + 4;
            memcpy(ke, "hex/", 4);
            for (size_t i = 0; i < k.len; i++) {
                *w++ = hx[(unsigned char)k.str[i] >> 4];
                *w++ = hx[(unsigned char)k.str[i] & 15];
            }
            *w = '\0';
        }
    } else {
        char kb[ENT_KEY_STRING_MAX + 1];
        memcpy(kb, k.str, k.len); /* no NUL in it: the hex path takes those */
        kb[k.len] = '\0';
        ke = ent_http__escape(kb);
    }
    n = ke ? 5 + strlen(te) + 1 + strlen(ke) + 1 : 0;
    if (ke && (out = malloc(n))) snprintf(out, n, "/api/%s/%s", te, ke);
    free(te);
    free(ke);
    return out;
}

int ent_http__same_key(ent_key a, ent_key b)
{
    return a.kind == b.kind && (a.kind == ENT_KEY_AUTO ? a.id == b.id : a.len == b.len && !memcmp(a.str, b.str, a.len));
}

static int add_entity(sbuf *b, const ent_entity *e, int first)
{
    char *j = NULL;
    int rc = ent_entity_to_json(&j, e, ENT_JSON_ENTITY);
    if (rc) return rc;
    if (!first) sb_add(b, ",", 1);
    sb_str(b, j);
    free(j);
    return ENT_OK;
}

/* ---- stat and schema ---------------------------------------------------------------------- */

/* The counts and the log's bounds are read in one transaction: the page counts from the answer's
 * counts and follows the stream from its last_seq, so they must be of one moment. (Each count
 * and the bounds in snapshots of their own: an entity created between them was in neither the
 * count nor the stream, and the page showed one less for good.) */
static enum MHD_Result api_stat(ent_http *h, struct MHD_Connection *c)
{
    const ent_schema *sc;
    json_t *o, *types, *subs, *damaged;
    ent_sub_info *list = NULL;
    size_t nsubs = 0;
    uint64_t first = 0, last = 0;
    ent_store_info info;
    ent_txn *r = NULL;
    int rc = ent_txn_begin(&r, h->s, ENT_TXN_READ);
    char *j;
    if (rc) return ent_http__reply_lib(c, rc, "stat");
    /* after the begin: the store's schema is then at least the snapshot's; a type of a newer
     * evolution than the snapshot (noticed by another request meanwhile) is left out */
    sc = ent_store_schema(h->s);
    o = json_object();
    types = json_object();
    subs = json_array();
    damaged = json_array();
    for (size_t i = 0; !rc && i < ent_schema_type_count(sc); i++) {
        const ent_type *t = ent_txn_type(r, ent_type_name(ent_schema_type_at(sc, i)));
        uint64_t n = 0;
        json_t *idx;
        if (!t) continue;
        idx = json_array();
        rc = ent_count(&n, h->s, r, t);
        /* A damaged id counter record (it holds the type's count too) is named in "damaged" and its
         * count is null, as `entity stat` prints it (its stderr line, the body here); the rest of
         * the store is still told. (The whole answer was a 500, and the page listed no type.) */
        int bad = rc == ENT_CORRUPT;
        if (bad) /* out of memory: no answer rather than a null count with nothing naming why */
            rc = json_array_append_new(damaged, json_pack("{s:s,s:s+}", "type", ent_type_name(t), "error", "its id counter and count: ",
                                                          ent_errmsg()))
                     ? ENT_NOMEM
                     : ENT_OK;
        for (size_t f = 0; f < ent_type_field_count(t); f++) {
            const ent_field *fl = ent_type_field_at(t, f);
            const char *kind = ent_field_is_unique(fl) ? "unique" : ent_field_is_indexed(fl) ? "indexed" : NULL;
            if (kind) json_array_append_new(idx, json_pack("{s:s,s:s}", "field", ent_field_name(fl), "kind", kind));
        }
        json_object_set_new(types, ent_type_name(t), bad ? json_pack("{s:n,s:o}", "count", "indexes", idx)
                                                         : json_pack("{s:I,s:o}", "count", (json_int_t)n, "indexes", idx));
    }
    if (!rc) rc = ent_log_bounds(&first, &last, h->s, r);
    ent_txn_abort(r);
    if (!rc) rc = ent_sub_list(&list, &nsubs, h->s);
    if (rc) {
        json_decref(o);
        json_decref(types);
        json_decref(subs);
        json_decref(damaged);
        return ent_http__reply_lib(c, rc, "stat");
    }
    for (size_t i = 0; i < nsubs; i++)
        json_array_append_new(subs, json_pack("{s:s,s:I,s:I}", "name", list[i].name, "checkpoint", (json_int_t)list[i].checkpoint,
                                              "lag", (json_int_t)(last > list[i].checkpoint ? last - list[i].checkpoint : 0)));
    free(list);
    /* The members of `entity stat`, in its order: a client that relays or mirrors the store
     * needs its id, and a mirror's position is what says how far behind it is. */
    json_object_set_new(o, "id", json_string(ent_store_id(h->s)));
    if (ent_store_mirror_of(h->s)) {
        uint64_t applied = 0;
        /* The store promoted since this server opened it (by `entity promote` in another
         * process): its position is gone, and was shown as a mirror at seq 0. Said instead: the
         * server must be restarted to serve the primary. */
        if ((rc = ent_mirror_position(&applied, NULL, h->s))) {
            json_decref(o);
            json_decref(types);
            json_decref(subs);
            return ent_http__reply_lib(c, rc, "stat");
        }
        json_object_set_new(o, "mirror_of", json_pack("{s:s,s:I}", "primary", ent_store_mirror_of(h->s), "applied_seq",
                                                      (json_int_t)applied));
    }
    /* a version is up to 2^32-1 (the schema loader's bound): as an int, one above 2^31-1 printed
     * negative, as `entity stat` did */
    json_object_set_new(o, "schema", json_pack("{s:s,s:I}", "name", ent_schema_name(sc), "version", (json_int_t)ent_schema_version(sc)));
    json_object_set_new(o, "backend", json_string(ent_store_backend(h->s)));
    {
        static const char *const modes[] = {"durable", "lazy", "none"};
        ent_durability d = ent_store_durability(h->s); /* read-only: the mode stored in it */
        json_object_set_new(o, "durability", json_string(d >= ENT_DURABLE && d <= ENT_NONE ? modes[d] : "?"));
    }
    json_object_set_new(o, "types", types);
    /* only when there is damage: its absence says stat met none, not that the store is sound
     * (`entity check` reads all of it) */
    if (json_array_size(damaged)) json_object_set_new(o, "damaged", damaged);
    else json_decref(damaged);
    json_object_set_new(o, "log", json_pack("{s:I,s:I}", "first_seq", (json_int_t)first, "last_seq", (json_int_t)last));
    json_object_set_new(o, "subscriptions", subs);
    if (ent_store_get_info(&info, h->s) == ENT_OK) {
        json_object_set_new(o, "disk_bytes", json_integer((json_int_t)info.disk_bytes));
        json_object_set_new(o, "used_bytes", json_integer((json_int_t)info.used_bytes));
        json_object_set_new(o, "map_size", json_integer((json_int_t)info.map_size));
    }
    {
        /* as `entity stat`: who holds a snapshot that keeps data.mdb growing under writes */
        ent_store_readers rd;
        if (ent_store_get_readers(&rd, h->s) == ENT_OK)
            json_object_set_new(o, "readers", json_pack("{s:I,s:I,s:I}", "count", (json_int_t)rd.readers, "oldest_behind",
                                                        (json_int_t)rd.oldest_behind, "oldest_pid", (json_int_t)rd.oldest_pid));
    }
    /* a mirror takes no write from anyone but its follower: read-only to this server's clients */
    json_object_set_new(o, "read_only", json_boolean(h->read_only || ent_store_mirror_of(h->s)));
    j = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!j) return ent_http__reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "stat: cannot render (a name is not UTF-8)");
    return ent_http__reply(c, MHD_HTTP_OK, j, strlen(j), NULL, NULL);
}

static enum MHD_Result api_schema(ent_http *h, struct MHD_Connection *c)
{
    char *j = NULL;
    int rc = ent_schema_to_json(&j, ent_store_schema(h->s), 0);
    if (rc) return ent_http__reply_lib(c, rc, "schema");
    return ent_http__reply(c, MHD_HTTP_OK, j, strlen(j), NULL, NULL);
}

/* ---- lists -------------------------------------------------------------------------------- */

/* Whether /api/NAME is a route of the server's own: a type of that name lists at /api/NAME/. */
static int is_route_name(const char *name)
{
    return !strcmp(name, "stat") || !strcmp(name, "schema") || !strcmp(name, "events");
}

/* GET /api/TYPE?limit=N&after=KEY&reverse=1&resume=TOKEN, or /api/TYPE/?...
 * The next page's Link carries the scan's own resume token (ent_iter_resume(): the type and the
 * last key's bytes in hex), not after=KEY: a key is bytes (a NUL, '&', '%', '+' or any UTF-8 among
 * them) and after= is text, so the key was cut at a NUL and the next page started elsewhere
 * (repeating the page, or not going on). after=KEY is still taken, a start a person types. */
static enum MHD_Result api_list(ent_http *h, struct MHD_Connection *c, const char *tname, ent_http_args *a)
{
    enum MHD_Result mrc = MHD_NO;
    const ent_type *t;
    const char *after, *resume, *tok = NULL;
    uint64_t limit, n = 0;
    int reverse, rc = ENT_OK, more = 0;
    ent_key start;
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    ent_entity *e;
    ent_txn *r = NULL;
    sbuf b = {0}, link = {0};
    if (arg_limit(&limit, a, PAGE_DEFAULT, PAGE_MAX, c, &mrc) || arg_bool(&reverse, a, "reverse", c, &mrc)) return mrc;
    after = ent_http__arg(a, "after");
    resume = ent_http__arg(a, "resume");
    if (args_all_used(a, c, &mrc)) return mrc;
    if (after && resume)
        return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST,
                                     "after= and resume= both say where the page starts: give one (a Link's resume= goes on from its page)");
    if (!(t = read_type(&r, h, c, tname, &mrc))) return mrc;
    if (after && ent_http__key(&start, t, after, c, &mrc)) goto out;
    if (reverse) o.flags |= ENT_ITER_REVERSE;
    o.resume = resume;
    /* after= is exclusive: the scan starts at the key and skips it. A token of a look-up, of
     * another type or forged is the library's ENT_INVALID: a 400 naming it. */
    if ((rc = ent_scan(&it, h->s, r, t, after ? &start : NULL, &o))) {
        mrc = ent_http__reply_lib(c, rc, resume ? "resume" : tname);
        goto out;
    }
    sb_add(&b, "[", 1);
    while (n < limit && b.n < PAGE_BYTES && (rc = ent_iter_next(&e, it)) == ENT_OK) {
        if (after && ent_http__same_key(ent_entity_key(e), start)) {
            ent_entity_free(e);
            continue;
        }
        rc = add_entity(&b, e, n == 0);
        ent_entity_free(e);
        if (rc) break;
        n++;
    }
    if (rc == ENT_NOTFOUND) rc = ENT_OK;
    /* a full page: whether a next one holds anything (a look ahead, kept for no one), and the
     * position after this page's last entity */
    if (!rc && n && (n == limit || b.n >= PAGE_BYTES) && (more = ent_iter_more(it)) < 0) rc = more;
    if (!rc && more > 0 && !(tok = ent_iter_resume(it))) rc = ENT_NOMEM;
    if (rc) {
        mrc = ent_http__reply_lib(c, rc, tname);
        free(b.p);
    } else {
        sb_add(&b, "]", 1);
        if (tok) {
            char num[32];
            sb_str(&link, "</api/");
            sb_esc(&link, tname);
            if (is_route_name(tname)) sb_str(&link, "/"); /* /api/TYPE is another route */
            snprintf(num, sizeof num, "?limit=%llu", (unsigned long long)limit);
            sb_str(&link, num);
            if (reverse) sb_str(&link, "&reverse=1");
            sb_str(&link, "&resume=");
            sb_esc(&link, tok);
            sb_str(&link, ">; rel=\"next\"");
        }
        mrc = reply_json(c, MHD_HTTP_OK, &b, &link);
    }
out:
    ent_iter_free(it);
    ent_txn_abort(r);
    return mrc;
}

/* The part of a resume token that names the index and the index value: up to its last '.' (the
 * rest is the primary key: "i" TYPE "." FIELD "." VALUE "." KEY, in hex). */
static size_t token_value_len(const char *tok)
{
    const char *dot = strrchr(tok, '.');
    return dot ? (size_t)(dot - tok) + 1 : 0;
}

/* Whether tok resumes at an entity of the index value that vtok (value_token()) names. */
static int token_of_value(const char *tok, const char *vtok)
{
    size_t n = strlen(vtok);
    return !strncmp(tok, vtok, n) && !strchr(tok + n, '.');
}

/* The token part naming f's index value v, from the first entity that has it. out: NULL when
 * none has (the caller frees it). Returns 0 or a libentity code. */
static int value_token(char **out, ent_store *s, ent_txn *txn, const ent_field *f, const ent_value *v)
{
    ent_iter *it = NULL;
    ent_entity *e = NULL;
    const char *tok;
    int rc;
    *out = NULL;
    if ((rc = ent_find(&it, s, txn, f, v))) return rc;
    rc = ent_iter_next(&e, it);
    ent_entity_free(e);
    if (rc == ENT_OK && (tok = ent_iter_resume(it)) && !(*out = strndup(tok, token_value_len(tok)))) rc = ENT_NOMEM;
    ent_iter_free(it);
    return rc == ENT_NOTFOUND ? ENT_OK : rc;
}

/* GET /api/TYPE/by/FIELD?value=V&limit=N&resume=TOKEN | ?from=A&to=B&limit=N&reverse=1&resume=TOKEN.
 * A look-up pages like a range: its next page is a range from V resumed after the last entity,
 * which ends at the first entity whose index value is not V. */
/* value= outside the field's enum: a 400 naming the values, as `entity find` exits 1 (no entity can
 * hold another value, so the look-up answered [] 200: a misspelt "Paid" read as a "paid" none had).
 * Returns 0, or -1 after the reply in *rc. A range's from= and to= may lie between the values. */
static int value_in_enum(const ent_field *f, const char *value, struct MHD_Connection *c, enum MHD_Result *rc)
{
    if (ent_field_enum_check(f, value) == ENT_OK) return 0;
    *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "value: %s", ent_errmsg());
    return -1;
}

static enum MHD_Result api_find(ent_http *h, struct MHD_Connection *c, const char *tname, const char *fname, ent_http_args *a)
{
    enum MHD_Result mrc = MHD_NO;
    const ent_type *t;
    const ent_field *f;
    const char *value, *from, *to, *resume;
    unsigned char buf_v[ENT_VALUE_PARSE_BUF_SIZE], buf_from[ENT_VALUE_PARSE_BUF_SIZE], buf_to[ENT_VALUE_PARSE_BUF_SIZE];
    ent_value v, vfrom, vto;
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    ent_entity *e;
    uint64_t limit, n = 0;
    int reverse, rc, more = 0;
    char *token = NULL, *vtok = NULL;
    ent_txn *r = NULL;
    sbuf b = {0}, link = {0};
    if (arg_limit(&limit, a, PAGE_DEFAULT, PAGE_MAX, c, &mrc) || arg_bool(&reverse, a, "reverse", c, &mrc)) return mrc;
    value = ent_http__arg(a, "value");
    from = ent_http__arg(a, "from");
    to = ent_http__arg(a, "to");
    resume = ent_http__arg(a, "resume");
    if (args_all_used(a, c, &mrc) || !(t = read_type(&r, h, c, tname, &mrc))) return mrc;
    if (!(f = ent_type_field(t, fname))) {
        mrc = ent_http__reply_error(c, MHD_HTTP_NOT_FOUND, "%s has no field \"%s\"", tname, fname);
        goto out;
    }
    if (value && (from || to || reverse)) {
        mrc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "value= looks one value up; from=, to= and reverse= scan a range: give one or the other");
        goto out;
    }
    if (value && value_in_enum(f, value, c, &mrc)) goto out;
    if (value && !resume) {
        if ((rc = ent_value_parse(&v, buf_v, sizeof buf_v, f, value)) || (rc = ent_find(&it, h->s, r, f, &v))) {
            mrc = ent_http__reply_lib(c, rc, "value");
            goto out;
        }
    } else if (value) {
        if ((rc = ent_value_parse(&v, buf_v, sizeof buf_v, f, value)) || (rc = value_token(&vtok, h->s, r, f, &v))) {
            mrc = ent_http__reply_lib(c, rc, "value");
            goto out;
        }
        if (!vtok) { /* none has it (any more) */
            char *empty = strdup("[]");
            mrc = empty ? ent_http__reply(c, MHD_HTTP_OK, empty, 2, NULL, NULL) : MHD_NO;
            goto out;
        }
        if (!token_of_value(resume, vtok)) {
            mrc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "resume: the token is not from a look-up of %s.%s = %s", tname, fname, value);
            goto out;
        }
        o.from = &v;
        o.resume = resume;
        if ((rc = ent_range(&it, h->s, r, f, &o))) {
            mrc = ent_http__reply_lib(c, rc, fname);
            goto out;
        }
    } else {
        if (from && (rc = ent_value_parse(&vfrom, buf_from, sizeof buf_from, f, from))) {
            mrc = ent_http__reply_lib(c, rc, "from");
            goto out;
        }
        if (to && (rc = ent_value_parse(&vto, buf_to, sizeof buf_to, f, to))) {
            mrc = ent_http__reply_lib(c, rc, "to");
            goto out;
        }
        o.from = from ? &vfrom : NULL;
        o.to = to ? &vto : NULL;
        o.flags = reverse ? ENT_ITER_REVERSE : 0;
        o.resume = resume;
        if ((rc = ent_range(&it, h->s, r, f, &o))) {
            mrc = ent_http__reply_lib(c, rc, fname);
            goto out;
        }
    }
    sb_add(&b, "[", 1);
    while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
        if (vtok) {
            /* a look-up's later page: the range goes on past the value, the page not */
            const char *res = ent_iter_resume(it);
            if (!res || !token_of_value(res, vtok)) {
                ent_entity_free(e);
                break;
            }
        }
        if (n == limit || b.n >= PAGE_BYTES) {
            more = 1;
            ent_entity_free(e);
            break;
        }
        rc = add_entity(&b, e, n == 0);
        ent_entity_free(e);
        if (rc) break;
        /* the token after this entity, when the page may end here */
        if (++n == limit || b.n >= PAGE_BYTES) {
            const char *res = ent_iter_resume(it); /* borrowed until the next call: copied */
            free(token);
            token = res ? strdup(res) : NULL;
        }
    }
    if (rc == ENT_NOTFOUND) rc = ENT_OK;
    if (rc) {
        free(b.p);
        mrc = ent_http__reply_lib(c, rc, fname);
    } else {
        sb_add(&b, "]", 1);
        if (more && token) {
            char num[24];
            sb_str(&link, "</api/");
            sb_esc(&link, tname);
            sb_str(&link, "/by/");
            sb_esc(&link, fname);
            snprintf(num, sizeof num, "?limit=%llu", (unsigned long long)limit);
            sb_str(&link, num);
            if (value) {
                sb_str(&link, "&value=");
                sb_esc(&link, value);
            }
            if (from) {
                sb_str(&link, "&from=");
                sb_esc(&link, from);
            }
            if (to) {
                sb_str(&link, "&to=");
                sb_esc(&link, to);
            }
            if (reverse) sb_str(&link, "&reverse=1");
            sb_str(&link, "&resume=");
            sb_esc(&link, token);
            sb_str(&link, ">; rel=\"next\"");
        }
        mrc = reply_json(c, MHD_HTTP_OK, &b, &link);
    }
out:
    free(token);
    free(vtok);
    ent_iter_free(it);
    ent_txn_abort(r);
    return mrc;
}

int ent_http__log_next(ent_event **out, ent_log_cursor *c)
{
    int rc;
    while ((rc = ent_log_next(out, c)) == ENT_TRUNCATED) {
    }
    return rc;
}

int ent_http__event_json(char **out, ent_store *s, const ent_event *ev)
{
    ent_event *w = NULL;
    int rc = ent_event_as_written(&w, s, ev);
    /* ENT_NOTFOUND: trimmed since it was read; ev is what is left of it (a gap would be worse) */
    if (rc == ENT_NOTFOUND) rc = ENT_OK;
    /* an event of the current schema version (the live tail) has no copy: the compact writer
     * prints ev itself */
    if (rc == ENT_OK) rc = ent_event_to_json(out, w ? w : ev, 0);
    ent_event_free(w);
    return rc;
}

int ent_http__event_filter(const ent_type **t, unsigned *ops, ent_store *s, ent_http_args *a, struct MHD_Connection *c,
                           enum MHD_Result *mrc)
{
    const char *type = ent_http__arg(a, "type"), *op = ent_http__arg(a, "op");
    *t = NULL;
    *ops = 0;
    if (type && !(*t = ent_store_type(s, type))) {
        *mrc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "type: unknown type \"%s\"", type);
        return -1;
    }
    for (const char *p = op; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == 6 && !strncmp(p, "create", 6)) *ops |= ENT_OP_CREATE;
        else if (n == 6 && !strncmp(p, "update", 6)) *ops |= ENT_OP_UPDATE;
        else if (n == 6 && !strncmp(p, "delete", 6)) *ops |= ENT_OP_DELETE;
        else if (n == 7 && !strncmp(p, "last_id", 7)) *ops |= ENT_OP_LAST_ID;
        else {
            *mrc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "op: \"%.*s\" is not create, update, delete or last_id", (int)n, p);
            return -1;
        }
        p += n;
        if (*p == ',') p++;
    }
    if (op && !*op) {
        *mrc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "op: empty; give create, update, delete or last_id");
        return -1;
    }
    return 0;
}

/* The 410 for events from up to first - 1, trimmed from a log that starts at first now. */
static enum MHD_Result trimmed_gone(struct MHD_Connection *c, uint64_t from, uint64_t first)
{
    return ent_http__reply_error(c, MHD_HTTP_GONE, "events %llu to %llu were trimmed from the log, which starts at %llu now",
                                 (unsigned long long)from, (unsigned long long)(first - 1), (unsigned long long)first);
}

/* GET /api/events?from=SEQ&limit=N&type=T&op=OP[,OP] */
static enum MHD_Result api_events(ent_http *h, struct MHD_Connection *c, ent_http_args *a)
{
    enum MHD_Result mrc = MHD_NO;
    const char *from_text = ent_http__arg(a, "from");
    uint64_t from = 1, limit, n = 0;
    const ent_type *t;
    unsigned ops;
    ent_log_cursor *cur = NULL;
    ent_event *ev;
    sbuf b = {0}, link = {0};
    int rc;
    if (from_text && ent_http__digits_u64(&from, from_text))
        return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "from: \"%s\" is not a sequence number", from_text);
    if (arg_limit(&limit, a, PAGE_DEFAULT, EVENTS_MAX, c, &mrc) || ent_http__event_filter(&t, &ops, h->s, a, c, &mrc) ||
        args_all_used(a, c, &mrc))
        return mrc;
    if (from_text && from) {
        /* Events asked for by seq that a trim took: a page starting later would look like the
         * asked one (as `entity events --from` says too). */
        uint64_t first = 0, last = 0;
        if ((rc = ent_log_bounds(&first, &last, h->s, NULL))) return ent_http__reply_lib(c, rc, "events");
        if (first > from)
            return trimmed_gone(c, from, first);
    }
    /* Unfiltered, the filter applied here: a cursor goes on at the first event kept when a trim
     * (--force) takes events it has not read yet, and a filtered one skips seqs of its own. A
     * jump ends the page there; the next one, from the first seq trimmed, is the 410 above (the
     * page went on past the trimmed events as if nothing was missing). */
    uint64_t expect = from_text && from ? from : 0, next = 0, kept = 0;
    if ((rc = ent_log_cursor_open(&cur, h->s, from, NULL, ENT_OP_ALL))) return ent_http__reply_lib(c, rc, "events");
    sb_add(&b, "[", 1);
    while (n < limit && b.n < PAGE_BYTES && (rc = ent_http__log_next(&ev, cur)) == ENT_OK) {
        char *j = NULL;
        if (expect && ev->seq != expect) {
            next = expect;
            kept = ev->seq;
            ent_event_free(ev);
            break;
        }
        expect = ev->seq + 1;
        if ((t && strcmp(ent_type_name(ev->type), ent_type_name(t))) || (ops && !(ops & (unsigned)ev->op))) {
            ent_event_free(ev);
            continue;
        }
        rc = ent_http__event_json(&j, h->s, ev);
        ent_event_free(ev);
        if (rc) break;
        if (n++) sb_add(&b, ",", 1);
        sb_str(&b, j);
        free(j);
    }
    if (rc == ENT_NOTFOUND) rc = ENT_OK;
    if (!rc && next && !n) {
        free(b.p);
        mrc = trimmed_gone(c, next, kept);
    } else if (rc) {
        free(b.p);
        mrc = ent_http__reply_lib(c, rc, "events");
    } else {
        sb_add(&b, "]", 1);
        if (n == limit || b.n >= PAGE_BYTES || next) {
            /* from the cursor's position: events a filter skipped are not read again */
            char num[80];
            snprintf(num, sizeof num, "</api/events?from=%llu&limit=%llu",
                     (unsigned long long)(next ? next : ent_log_cursor_pos(cur)), (unsigned long long)limit);
            sb_str(&link, num);
            if (t) {
                sb_str(&link, "&type=");
                sb_esc(&link, ent_type_name(t));
            }
            if (ops) {
                sb_str(&link, "&op=");
                sb_esc(&link, ent_http__arg(a, "op"));
            }
            sb_str(&link, ">; rel=\"next\"");
        }
        mrc = reply_json(c, MHD_HTTP_OK, &b, &link);
    }
    ent_log_cursor_free(cur);
    return mrc;
}

/* ---- routing ------------------------------------------------------------------------------ */

/* why may quote the method, any bytes the client sent ("G\xe9T"): through json_pack, one that was
 * not UTF-8 left no body, and the connection closed without an answer. */
static enum MHD_Result not_allowed(struct MHD_Connection *c, const char *allow, const char *why)
{
    const char *hdr[] = {MHD_HTTP_HEADER_ALLOW, allow, NULL};
    char *body = ent_http__error_json(why);
    if (!body) return MHD_NO;
    return ent_http__reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, body, strlen(body), NULL, hdr);
}

/* Is method one of allow ("GET, HEAD, POST")? HEAD is taken where allow names it: the stream's
 * GET only (a HEAD went with GET to the stream, whose callback answer libmicrohttpd ended with a
 * chunked body's last chunk, "0" and a blank line, though a HEAD answer has no body: a client
 * that kept the connection read those bytes as the start of its next answer). */
static int allowed(const char *method, const char *allow)
{
    size_t n = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)); p += n)
        if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

const char *ent_http__condition(struct MHD_Connection *c)
{
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH)) return MHD_HTTP_HEADER_IF_MATCH;
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH)) return MHD_HTTP_HEADER_IF_NONE_MATCH;
    return NULL;
}

enum MHD_Result ent_http__api(ent_http *h, struct MHD_Connection *c, const char *method, char **segs, size_t nseg,
                              ent_http_args *args, ent_http_req *r)
{
    enum MHD_Result mrc = MHD_NO;
    const char *allow, *hn;
    const ent_type *t;
    ent_txn *rt = NULL;
    ent_http_wait ww;
    char why[160];
    int write;
    int hex = 0;
    enum { STAT, SCHEMA, EVENTS, STREAM, LIST, ONE, FIND } route;
    if (nseg == 1 && !strcmp(segs[0], "stat")) route = STAT, allow = "GET, HEAD";
    else if (nseg == 1 && !strcmp(segs[0], "schema")) route = SCHEMA, allow = "GET, HEAD";
    else if (nseg == 1 && !strcmp(segs[0], "events")) route = EVENTS, allow = "GET, HEAD";
    else if (nseg == 2 && !strcmp(segs[0], "events") && !strcmp(segs[1], "stream")) route = STREAM, allow = "GET";
    else if (nseg == 1 && segs[0][0]) route = LIST, allow = "GET, HEAD, POST";
    /* /api/TYPE/ too: the one list route of a type named stat, schema or events, whose
     * /api/TYPE is the server's own (the page listed the event log as entities of "events") */
    else if (nseg == 2 && segs[0][0] && !segs[1][0]) route = LIST, allow = "GET, HEAD, POST";
    else if (nseg == 2 && segs[0][0] && segs[1][0]) route = ONE, allow = "GET, HEAD, PUT, PATCH, DELETE";
    /* /api/TYPE/hex/HEX: one entity by its key's bytes in hex, the path of any key (below) */
    else if (nseg == 3 && segs[0][0] && !strcmp(segs[1], "hex")) route = ONE, hex = 1, allow = "GET, HEAD, PUT, PATCH, DELETE";
    else if (nseg == 3 && segs[0][0] && !strcmp(segs[1], "by") && segs[2][0]) route = FIND, allow = "GET, HEAD";
    else return ent_http__reply_error(c, MHD_HTTP_NOT_FOUND, "no such path: /api/stat, /api/schema, /api/events, /api/events/stream, /api/TYPE, /api/TYPE/KEY, /api/TYPE/hex/HEX, /api/TYPE/by/FIELD");
    if (!allowed(method, allow)) {
        /* a read-only server takes no write on any path: Allow and the message say so */
        const char *takes = h->read_only && strcmp(allow, "GET") ? "GET, HEAD" : allow;
        snprintf(why, sizeof why, "%s is not allowed here; this path takes %s", method, takes);
        return not_allowed(c, takes, why);
    }
    write = !allowed(method, "GET, HEAD");
    if (write && h->read_only) return not_allowed(c, "GET, HEAD", "the server is read-only (--read-only)");
    /* Only one entity has an ETag: a condition sent to another path was read by nobody, and the
     * answer went out as if it held ("If-Match" on a list answered 200). A POST says so itself
     * (ent_http__entity_create()). */
    if (route != ONE && !(route == LIST && write) && (hn = ent_http__condition(c)))
        return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST,
                                     "%s: only one entity (/api/TYPE/KEY) has an ETag to match; this path's answers have none",
                                     hn);
    switch (route) {
    case STAT:
        return args_all_used(args, c, &mrc) ? mrc : api_stat(h, c);
    case SCHEMA:
        return args_all_used(args, c, &mrc) ? mrc : api_schema(h, c);
    case EVENTS:
        return api_events(h, c, args);
    case STREAM:
        return ent_http__stream(h, c, args);
    case LIST:
        if (!write) return api_list(h, c, segs[0], args);
        if (ent_http__wait_args(&ww, h, args, c, &mrc) || args_all_used(args, c, &mrc) || !(t = type_or_404(h, c, segs[0], &mrc)))
            return mrc;
        return ent_http__entity_create(h, c, t, r, &ww);
    case ONE:
        if (write && ent_http__wait_args(&ww, h, args, c, &mrc)) return mrc;
        if (args_all_used(args, c, &mrc)) return mrc;
        if (write)
            return (t = type_or_404(h, c, segs[0], &mrc)) ? ent_http__entity_write(h, c, method, t, segs[nseg - 1], hex, r, &ww) : mrc;
        if (!(t = read_type(&rt, h, c, segs[0], &mrc))) return mrc;
        mrc = ent_http__entity_get(h, c, rt, t, segs[nseg - 1], hex);
        ent_txn_abort(rt);
        return mrc;
    case FIND:
        return api_find(h, c, segs[0], segs[2], args);
    }
    return mrc;
}
