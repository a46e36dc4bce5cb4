/* entity-http: the daemon (start, stop), the access handler (body, token, path and query parsing)
 * and the reply helpers. The routes are in api.c, the event stream in stream.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_int.h"

static int store_replaced(ent_http *h, struct MHD_Connection *c, enum MHD_Result *rc);

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_LIMIT ((size_t)1 << 20)

void ent_http__logf(ent_http *h, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    if (!h->log) return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    h->log(buf, h->log_payload);
}

/* ---- replies ------------------------------------------------------------------------------ */

enum MHD_Result ent_http__reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                                const char *ctype, const char *const *headers)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc;
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    if (len || (status != MHD_HTTP_NO_CONTENT && status != MHD_HTTP_NOT_MODIFIED))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype ? ctype : "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (; headers && headers[0]; headers += 2)
        if (headers[1]) MHD_add_response_header(resp, headers[0], headers[1]);
    rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* {"error": msg}. jansson refuses strings that are not UTF-8 (a name read from a damaged store,
 * a request's method or path), so such bytes become '?' rather than losing the whole message. */
char *ent_http__error_json(const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *out;
    if (!o) {
        char *copy = strdup(msg);
        if (!copy) return NULL;
        for (char *p = copy; *p; p++)
            if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20) *p = '?';
        o = json_pack("{s:s}", "error", copy);
        free(copy);
        if (!o) return NULL;
    }
    out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

static enum MHD_Result reply_error_v(struct MHD_Connection *c, unsigned status, const char *const *headers,
                                     const char *fmt, va_list ap)
{
    char msg[1024], *body;
    static const char *const auth[] = {MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"entity\"", NULL};
    /* a 405 from here is the store's ENT_READONLY (a mirror): it takes reads only, and HTTP
     * requires a 405 to say what it takes */
    static const char *const reads[] = {MHD_HTTP_HEADER_ALLOW, "GET, HEAD", NULL};
    /* a 429 is a stream past the per-address limit: streams last, so not at once */
    static const char *const later[] = {MHD_HTTP_HEADER_RETRY_AFTER, "10", NULL};
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!(body = ent_http__error_json(msg))) return MHD_NO;
    return ent_http__reply(c, status, body, strlen(body), NULL,
                           headers                                 ? headers
                           : status == MHD_HTTP_UNAUTHORIZED       ? auth
                           : status == MHD_HTTP_METHOD_NOT_ALLOWED ? reads
                           : status == MHD_HTTP_TOO_MANY_REQUESTS  ? later
                                                                   : NULL);
}

enum MHD_Result ent_http__reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    enum MHD_Result rc;
    va_list ap;
    va_start(ap, fmt);
    rc = reply_error_v(c, status, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

enum MHD_Result ent_http__reply_error_close(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    static const char *const close_it[] = {MHD_HTTP_HEADER_CONNECTION, "close", NULL};
    enum MHD_Result rc;
    va_list ap;
    va_start(ap, fmt);
    rc = reply_error_v(c, status, close_it, fmt, ap);
    va_end(ap);
    return rc;
}

unsigned ent_http__status(int code)
{
    switch (code) {
    case ENT_NOTFOUND: return MHD_HTTP_NOT_FOUND;
    case ENT_CONFLICT: return MHD_HTTP_CONFLICT;
    case ENT_INVALID: return MHD_HTTP_BAD_REQUEST;
    case ENT_SCHEMA: return MHD_HTTP_CONFLICT;     /* the schema changed under the request */
    case ENT_FULL: return MHD_HTTP_INSUFFICIENT_STORAGE; /* the store out of room (the other causes: lib_status) */
    case ENT_READONLY: return MHD_HTTP_METHOD_NOT_ALLOWED;
    case ENT_BUSY:
    case ENT_TIMEOUT: return MHD_HTTP_SERVICE_UNAVAILABLE;
    case ENT_TRUNCATED: return MHD_HTTP_GONE; /* events trimmed before they were read, as a page below the log says */
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR; /* ENT_IO, ENT_CORRUPT, ENT_NOMEM: the server's */
    }
}

/* The status of a library failure, with what ent_errdetail() says of an ENT_FULL. A value too
 * long for a key is the client's input: 413. Ids or versions used up are 409: the state of the
 * resource (an entity at its last version, a type at its last auto id) refuses the change, and
 * neither a smaller body (413) nor a retry once the operator freed room (507) ever makes it
 * succeed. The rest is the store out of room (a full disk or quota, the file size limit, a map
 * that cannot grow, the table limit): 507, the server's to fix; so is an ENT_FULL without a
 * detail (LMDB's internal limits, a fault injected), as the server's and not the client's. The
 * detail, not the message's words (which read "exceeds the backend" here until the detail
 * existed): a message may be reworded, the detail is the library's contract. */
static unsigned lib_status(int code, int detail)
{
    if (code == ENT_FULL && detail == ENT_DETAIL_TOO_LARGE) return MHD_HTTP_CONTENT_TOO_LARGE;
    if (code == ENT_FULL && detail == ENT_DETAIL_EXHAUSTED) return MHD_HTTP_CONFLICT;
    return ent_http__status(code);
}

enum MHD_Result ent_http__reply_lib(struct MHD_Connection *c, int code, const char *what)
{
    const char *m = ent_errmsg();
    size_t n = strlen(what);
    unsigned status = lib_status(code, ent_errdetail());
    /* The library's messages mostly name the type already ("product.price: ...", "customer 1 is
     * still referenced"): not twice. */
    if (m[0] && n && strncmp(m, what, n) == 0 && (m[n] == ':' || m[n] == ' ' || m[n] == '.'))
        return ent_http__reply_error(c, status, "%s", m);
    return ent_http__reply_error(c, status, "%s: %s", what, m[0] ? m : ent_strerror(code));
}

/* ---- URLs --------------------------------------------------------------------------------- */

int ent_http__hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int ent_http__unescape(char *s, int plus)
{
    char *w = s;
    for (const char *p = s; *p; p++) {
        if (*p == '%') {
            int hi = ent_http__hexval((unsigned char)p[1]), lo = hi < 0 ? -1 : ent_http__hexval((unsigned char)p[2]);
            if (lo < 0 || (hi == 0 && lo == 0)) return -1; /* a bad escape, or a NUL in a name */
            *w++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *w++ = plus && *p == '+' ? ' ' : *p;
        }
    }
    *w = '\0';
    return 0;
}

char *ent_http__escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *w = out;
    /* "." and ".." as a path segment are dot segments, which clients resolve away (a Location of
     * /api/product/.. leads to /api/): their dots are escaped */
    int dots = !strcmp(s, ".") || !strcmp(s, "..");
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (ent_http__alnum(*p) || *p == '-' || *p == '_' || (*p == '.' && !dots) || *p == '~') *w++ = (char)*p;
        else {
            *w++ = '%';
            *w++ = hex[*p >> 4];
            *w++ = hex[*p & 15];
        }
    }
    *w = '\0';
    return out;
}

const char *ent_http__header(struct MHD_Connection *c, const char *name, char *buf, size_t size)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    size_t n;
    if (!v) return NULL;
    while (*v == ' ' || *v == '\t') v++;
    n = strlen(v);
    if (!n || (v[n - 1] != ' ' && v[n - 1] != '\t')) return v;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n >= size) return v;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

const char *ent_http__arg(ent_http_args *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].name, name)) {
            a->v[i].used = 1;
            return a->v[i].value;
        }
    return NULL;
}

/* MHD decodes %XX itself before it splits a path, which would make "a%2Fb" two segments: the
 * identity here keeps paths and values raw, and each segment and value is decoded once split. */
static size_t keep_raw(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    ent_http_args *a = cls;
    (void)kind;
    if (!key[0] && (!value || !value[0])) return MHD_YES; /* "?&limit=5&": a stray & names nothing */
    if (a->n == sizeof a->v / sizeof a->v[0]) {
        a->overflow = 1;
        return MHD_NO;
    }
    a->v[a->n].name = strdup(key);
    a->v[a->n].value = strdup(value ? value : "");
    a->v[a->n].used = 0;
    if (!a->v[a->n].name || !a->v[a->n].value) {
        free(a->v[a->n].name);
        free(a->v[a->n].value);
        a->bad = 1;
        return MHD_NO;
    }
    if (ent_http__unescape(a->v[a->n].name, 1) || ent_http__unescape(a->v[a->n].value, 1)) a->bad = 1;
    a->n++;
    return MHD_YES;
}

static void args_free(ent_http_args *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].name);
        free(a->v[i].value);
    }
}

/* ---- the access handler -------------------------------------------------------------------- */

/* The token is compared in time that depends only on the lengths, never on where the first
 * different byte is: an attacker timing answers learns nothing about the token's prefix. */
static int token_ok(const ent_http *h, struct MHD_Connection *c)
{
    char buf[1024];
    const char *v = ent_http__header(c, MHD_HTTP_HEADER_AUTHORIZATION, buf, sizeof buf);
    size_t n;
    unsigned char diff = 0;
    if (!v || ent_http__ncasecmp(v, "Bearer ", 7) != 0) return 0;
    v += 7;
    n = strlen(v);
    for (size_t i = 0; i < h->token_len; i++) diff |= (unsigned char)(h->token[i] ^ (i < n ? v[i] : 0));
    return diff == 0 && n == h->token_len;
}

/* ---- DNS rebinding and cross-site writes ------------------------------------------------- */

/* A page of another site can make a browser talk to this server in two ways. It can send it
 * requests (a form's POST needs no CORS preflight), or, worse, point a name of its own at the
 * server's address (DNS rebinding) and then read and write as if the server were its own origin;
 * on 127.0.0.1 without a token that is everyone's data on the machine. Every request's Host must
 * therefore name this server: an IP address (a page whose origin is the server's own address is
 * the server's page), a localhost name (browsers resolve those to loopback themselves, never by
 * DNS), or a name the user allowed. The port is not compared: an ssh tunnel or a proxy changes it,
 * and a rebinding page is caught by its name. */

/* The name of a Host value ("name", "name:port", "[v6]:port") into buf, lower-cased, without a
 * trailing dot. Returns 0, or -1 when it is not one (v6 set when it was a bracketed address). */
static int host_name(char *buf, size_t size, int *v6, const char *host)
{
    const char *end, *port;
    size_t n;
    *v6 = host[0] == '[';
    if (*v6) {
        if (!(end = strchr(host, ']'))) return -1;
        host++;
        port = end + 1;
    } else {
        end = host + strcspn(host, ":");
        port = end;
    }
    if (*port == ':') {
        port++;
        if (!*port || strspn(port, "0123456789") != strlen(port)) return -1;
    } else if (*port) {
        return -1;
    }
    n = (size_t)(end - host);
    if (!*v6 && n && host[n - 1] == '.') n--;
    if (!n || n >= size) return -1;
    for (size_t i = 0; i < n; i++) buf[i] = (char)ent_http__lower((unsigned char)host[i]);
    buf[n] = '\0';
    return 0;
}

/* Whether name is in the comma-separated list (".example.org": it and its subdomains). */
static int name_listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n && p[0] == '.') {
            /* ".example.org" takes "example.org" and "x.example.org", not "xexample.org" */
            if ((len == n - 1 && !ent_http__ncasecmp(name, p + 1, n - 1)) ||
                (len >= n && !ent_http__ncasecmp(name + len - n, p, n)))
                return 1;
        } else if (n == len && !ent_http__ncasecmp(name, p, n)) {
            return 1;
        }
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

/* Whether the comma-separated list holds "*" (any name). The list compared whole with "*" missed
 * it among other names: `entity serve --allow-host a.lan --allow-host '*'` (joined "a.lan,*")
 * kept the check on, and every other name was a 403. */
static int lists_any(const char *list)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 1 && p[0] == '*') return 1;
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

/* Returns 1 when Host names this server, else 0. A request without Host is no browser's (every
 * browser sends it), so it is answered. */
static int host_ok(const ent_http *h, struct MHD_Connection *c)
{
    char buf[512];
    const char *host = ent_http__header(c, MHD_HTTP_HEADER_HOST, buf, sizeof buf);
    char name[256];
    unsigned char addr[16];
    int v6;
    size_t n;
    if (!host || h->allow_any) return 1;
    if (host_name(name, sizeof name, &v6, host)) return 0;
    if (v6) return inet_pton(AF_INET6, name, addr) == 1;
    if (inet_pton(AF_INET, name, addr) == 1) return 1;
    n = strlen(name);
    if (!strcmp(name, "localhost") || (n > 10 && !strcmp(name + n - 10, ".localhost"))) return 1;
    return h->allow_hosts && name_listed(h->allow_hosts, name);
}

/* A write from a page carries Origin ("null" from a sandboxed or file page); it must be the
 * origin the Host names, whatever its scheme (a TLS proxy in front makes it https). Clients that
 * are not browsers send no Origin and are not affected. */
static int origin_ok(struct MHD_Connection *c)
{
    char ob[512], hb[512];
    const char *origin = ent_http__header(c, MHD_HTTP_HEADER_ORIGIN, ob, sizeof ob);
    const char *host = ent_http__header(c, MHD_HTTP_HEADER_HOST, hb, sizeof hb);
    const char *auth;
    if (!origin) return 1;
    if (!host || !(auth = strstr(origin, "://"))) return 0;
    return !ent_http__casecmp(auth + 3, host);
}

/* What the request's head holds, for the checks libmicrohttpd leaves to us. */
struct head_scan {
    size_t head, query;     /* bytes of the header lines; of the query */
    const char *length;     /* the first Content-Length */
    int lengths_differ;     /* a second one with another value */
    const char *twice;      /* a header below given twice */
    unsigned seen;          /* which of them were seen */
    const char *bad_name;   /* the first header name that is no HTTP token ("Content-Length ") */
    int chunked;            /* a Transfer-Encoding came */
};

/* An HTTP token's characters (RFC 9110 5.6.2), which a header name is made of. */
static int token_char(unsigned char ch)
{
    return ent_http__alnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Headers read once: libmicrohttpd hands out the first of two, so a second one (a Host or an
 * If-Match after the one the client meant) was read by nobody, silently. */
static const char *const once_headers[] = {MHD_HTTP_HEADER_HOST, MHD_HTTP_HEADER_ORIGIN, MHD_HTTP_HEADER_AUTHORIZATION,
                                           MHD_HTTP_HEADER_IF_MATCH, MHD_HTTP_HEADER_IF_NONE_MATCH, MHD_HTTP_HEADER_LAST_EVENT_ID,
                                           MHD_HTTP_HEADER_TRANSFER_ENCODING, MHD_HTTP_HEADER_CONTENT_ENCODING};

static enum MHD_Result scan_head(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct head_scan *hs = cls;
    size_t n = strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF, or "=" and "&" */
    if (kind == MHD_GET_ARGUMENT_KIND) {
        hs->query += n;
        return MHD_YES;
    }
    hs->head += n;
    if (!hs->bad_name) {
        const unsigned char *p = (const unsigned char *)key;
        while (token_char(*p)) p++;
        if (*p || !key[0]) hs->bad_name = key;
    }
    if (!ent_http__casecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) hs->chunked = 1;
    for (unsigned i = 0; i < sizeof once_headers / sizeof once_headers[0]; i++)
        if (!ent_http__casecmp(key, once_headers[i])) {
            if (hs->seen & (1u << i) && !hs->twice) hs->twice = once_headers[i];
            hs->seen |= 1u << i;
        }
    if (!ent_http__casecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        if (!hs->length) hs->length = value ? value : "";
        else if (strcmp(hs->length, value ? value : "")) hs->lengths_differ = 1;
    }
    return MHD_YES;
}

/* The head, before anything else: libmicrohttpd answers its own limits with HTML pages, and takes
 * the first of two headers, any Transfer-Encoding and any Content-Encoding. Its connection memory
 * is made larger than the limits here (server start), so that a head a little too big reaches
 * this check and is answered in JSON like every other error. Returns 0, or -1 after a reply in
 * *rc (which closes the connection: a body, if any, is left unread). */
static int head_ok(struct MHD_Connection *c, const char *url, enum MHD_Result *rc)
{
    struct head_scan hs = {0, 0, NULL, 0, NULL, 0, NULL, 0};
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    const char *ce = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    size_t target;
    MHD_get_connection_values(c, (enum MHD_ValueKind)(MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND), scan_head, &hs);
    target = strlen(url) + hs.query;
    /* "http://host/api/stat" (a client that takes this server for its proxy) or "*": answered
     * "no such path: the API is under /api/", which sent the client looking for a wrong path */
    if (url[0] != '/') {
        *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST,
                                    "the request target \"%.200s\" is not a path: send the path alone (/api/...), "
                                    "this server is no proxy",
                                    url);
        return -1;
    }
    if (target > ENT_HTTP__MAX_TARGET) {
        *rc = ent_http__reply_error(c, MHD_HTTP_URI_TOO_LONG, "the request target is %zu bytes, over the limit of %u", target,
                                    ENT_HTTP__MAX_TARGET);
        return -1;
    }
    if (target + hs.head > ENT_HTTP__MAX_HEAD) {
        *rc = ent_http__reply_error(c, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                                    "the request's head is %zu bytes, over the limit of %u", target + hs.head, ENT_HTTP__MAX_HEAD);
        return -1;
    }
    /* "Content-Length : 5" (a blank before the colon) was no Content-Length to libmicrohttpd:
     * a GET's body was then read as the next request on the connection, a second request a proxy
     * in front (which may take the header for the length) never saw (smuggling). RFC 9112 5.1
     * has such a head refused with a 400; the connection is closed, its bytes cannot be framed. */
    if (hs.bad_name) {
        *rc = ent_http__reply_error_close(c, MHD_HTTP_BAD_REQUEST,
                                          "the header name \"%.100s\" is not an HTTP token (a blank before its colon?)",
                                          hs.bad_name);
        return -1;
    }
    /* Both framings: libmicrohttpd read the body as chunked and kept the connection for the next
     * request, where a proxy that framed it by Content-Length saw other requests (smuggling).
     * RFC 9112 6.1: the server must close the connection after such a request; refused here. */
    if (hs.chunked && hs.length) {
        *rc = ent_http__reply_error_close(c, MHD_HTTP_BAD_REQUEST,
                                          "the request has both Content-Length and Transfer-Encoding: send one of them");
        return -1;
    }
    /* two lengths: which one frames the body is the client's guess against ours (smuggling) */
    if (hs.lengths_differ) {
        *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "Content-Length is given twice with different values");
        return -1;
    }
    if (hs.twice) {
        *rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "header %s is given twice", hs.twice);
        return -1;
    }
    /* libmicrohttpd decodes chunked only; a body in another coding has no known end, and the
     * connection waited for one until the request timeout */
    if (te && ent_http__casecmp(te, "chunked")) {
        *rc = ent_http__reply_error(c, MHD_HTTP_NOT_IMPLEMENTED,
                                    "Transfer-Encoding \"%.100s\" is not supported: send the body as it is, or chunked", te);
        return -1;
    }
    /* a body the client compressed was read as JSON as it was: compressed, a 400 about a byte
     * of gzip's header; not compressed after all, a write the client did not mean as sent */
    if (ce && ent_http__casecmp(ce, "identity")) {
        *rc = ent_http__reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                    "Content-Encoding \"%.100s\" is not supported: send the body uncompressed", ce);
        return -1;
    }
    return 0;
}

/* NUL bytes and control characters in the head. libmicrohttpd hands values out as C strings, so
 * a NUL cut one short and the rest was never read: "If-None-Match: *\0x" answered 304, "Host:
 * 127.0.0.1\0.evil" passed the Host check, "DELETE /api/customer/12\0/x" deleted customer 12.
 * Before 1.0 (which refuses such heads itself) the sizes it gives are strlen()'s as well, so the
 * cut is found where its parse left the bytes (libmicrohttpd 0.9.74 to 0.9.77, h->mhd_layout):
 * in place in the connection's read buffer, the request line and each header line in order, every
 * line end (CRLF or a bare LF) and each header's colon overwritten with NULs, the blanks after the
 * colon kept. What lies between the end of one value and the next header's name must then be one
 * line end; anything more is what a NUL hid. A header folded onto a next line (a line starting
 * with a blank, RFC 9112 5.2's obsolete line folding) was glued to the name by 0.9.75, "Host: x\r\n
 * y" read as a header "Hosty" and no Host at all, its name copied out of that buffer: refused, as
 * RFC 9112 allows. A NUL right before a bare LF ("\0\n") leaves the same two NULs as a CRLF, and
 * is the one cut this cannot see: the value loses only the NUL, but a line "\0\n" alone ends the
 * head as a blank line does (a request pipelined behind it runs as the next). The bytes are gone
 * before any callback but uri_log(), which comes with the request line and sees only what arrived
 * with it: libmicrohttpd 1.0, or reading the socket before it parses, would close this. The
 * request target is cut by a NUL alike: uri_log() took its length before libmicrohttpd split it,
 * and it must reach the blank before the HTTP version. */
struct head_bytes {
    int layout;             /* h->mhd_layout and a head that has the layout */
    const char *pos, *end;  /* the end of the last value checked; of the head */
    const char *last;       /* the header whose value ends at pos (NULL: the request line) */
    const char *bad;        /* the header at fault */
    const char *why;        /* what is wrong with it */
    unsigned char ctl;      /* the control character */
};

/* n bytes at p are a line end as libmicrohttpd leaves it (CRLF or LF, each byte made NUL) */
static int line_end(const char *p, size_t n, size_t most)
{
    if (n < 1 || n > most) return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static enum MHD_Result scan_bytes(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value,
                                  size_t value_size)
{
    struct head_bytes *hb = cls;
    (void)kind;
    if (!value) value = "";
    /* libmicrohttpd 1.0 gives the sizes as they came: a NUL shows there */
    if (strlen(key) != key_size || strlen(value) != value_size) {
        hb->bad = key;
        hb->why = "a NUL byte";
        return MHD_NO;
    }
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            hb->bad = key;
            hb->why = "a control character";
            hb->ctl = *p;
            return MHD_NO;
        }
    if (!hb->layout) return MHD_YES;
    if (key < hb->pos || key >= hb->end || value < key + key_size + 1 || value > hb->end ||
        (size_t)(hb->end - value) < value_size) {
        hb->why = "folded";
        return MHD_NO;
    }
    if (!line_end(hb->pos, (size_t)(key - hb->pos), 2)) {
        hb->bad = hb->last;
        hb->why = "a NUL byte";
        return MHD_NO;
    }
    for (const char *p = key + key_size + 1; p < value; p++)
        if (*p != ' ' && *p != '\t') {
            hb->why = "folded"; /* not as libmicrohttpd 0.9.75 leaves a line: take it for unreadable */
            return MHD_NO;
        }
    hb->last = key;
    hb->pos = value + value_size;
    return MHD_YES;
}

/* Returns 0, or -1 after a reply in *rc (which closes the connection). */
static int head_bytes_ok(const ent_http *h, struct MHD_Connection *c, const ent_http_req *r, const char *url,
                         const char *method, const char *version, enum MHD_Result *rc)
{
    struct head_bytes hb;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    memset(&hb, 0, sizeof hb);
    /* the layout holds for a request line "METHOD TARGET VERSION" read into one buffer */
    hb.layout = h->mhd_layout && info && version[0] && url[0] && r->target_len != SIZE_MAX && method < url && url < version;
    if (hb.layout) {
        hb.end = method + info->header_size;
        hb.pos = version + strlen(version);
        if (hb.pos > hb.end) hb.layout = 0;
    }
    if (hb.layout && (size_t)(version - 1 - url) != r->target_len) {
        *rc = ent_http__reply_error_close(c, MHD_HTTP_BAD_REQUEST,
                                          "the request target holds a NUL byte (a NUL in a path or value is sent as %%00)");
        return -1;
    }
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_bytes, &hb);
    if (!hb.why && hb.layout && !line_end(hb.pos, (size_t)(hb.end - hb.pos), 4)) {
        hb.bad = hb.last;
        hb.why = "a NUL byte";
    }
    if (!hb.why) return 0;
    if (!strcmp(hb.why, "folded"))
        *rc = ent_http__reply_error_close(c, MHD_HTTP_BAD_REQUEST,
                                          "a header line starts with a blank (obsolete line folding, RFC 9112 5.2): send "
                                          "each header on one line");
    else if (!hb.bad)
        *rc = ent_http__reply_error_close(c, MHD_HTTP_BAD_REQUEST, "the request's head holds %s after the request line", hb.why);
    else if (hb.ctl)
        *rc = ent_http__reply_error_close(c, MHD_HTTP_BAD_REQUEST, "header %.100s holds %s (byte 0x%02x)", hb.bad, hb.why,
                                          hb.ctl);
    else
        *rc = ent_http__reply_error_close(c, MHD_HTTP_BAD_REQUEST, "header %.100s holds %s", hb.bad, hb.why);
    return -1;
}

/* A body is read as JSON, which is UTF-8 (RFC 8259 8.1): a body the client says is in another
 * charset was read as UTF-8 all the same, its text taken for other characters than it meant
 * ("charset=latin1" and the bytes C3 A9 stored as "é", not "Ã©"). The media type itself is not
 * read (curl -d sends a form's; PATCH reads application/json-patch+json), only the charset.
 * Returns NULL, or the charset refused (its value as the header gives it, in buf). */
static const char *bad_charset(char *buf, size_t size, const char *ctype)
{
    for (const char *p = strchr(ctype, ';'); p; p = strchr(p, ';')) {
        size_t n;
        p++;
        p += strspn(p, " \t");
        if (ent_http__ncasecmp(p, "charset", 7)) continue;
        p += 7;
        p += strspn(p, " \t");
        if (*p != '=') continue;
        p++;
        p += strspn(p, " \t");
        if (*p == '"') p++;
        n = strcspn(p, "\"; \t");
        if ((n == 5 && !ent_http__ncasecmp(p, "utf-8", 5)) || (n == 4 && !ent_http__ncasecmp(p, "utf8", 4)) ||
            (n == 8 && !ent_http__ncasecmp(p, "us-ascii", 8)))
            continue;
        snprintf(buf, size, "%.*s", (int)(n < 100 ? n : 100), p);
        return buf;
    }
    return NULL;
}

/* The API is /api and what is under /api/ ("/apiX" is no part of it: a 404, token or not). */
static int is_api(const char *url) { return !strncmp(url, "/api", 4) && (url[4] == '/' || url[4] == '\0'); }

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    ent_http *h = cls;
    ent_http_req *r = *con_cls;
    ent_http_args args;
    char *path = NULL, *segs[8];
    size_t nseg = 0;
    enum MHD_Result rc;
    if (!r || !r->started) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (!r) {
            /* uri_log() made none (out of memory): the target's length is not known */
            if (!(r = calloc(1, sizeof *r))) return MHD_NO;
            r->target_len = SIZE_MAX;
            *con_cls = r;
        }
        r->started = 1;
        if (head_bytes_ok(h, c, r, url, method, version, &rc) || head_ok(c, url, &rc)) {
            r->too_big = 1; /* reading stops; the reply is the answer */
            ent_http__conn_answering(h, c);
            return rc;
        }
        {
            const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
            char cs[128];
            if (ct && bad_charset(cs, sizeof cs, ct)) {
                r->too_big = 1;
                ent_http__conn_answering(h, c);
                return ent_http__reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                             "Content-Type: charset \"%s\" is not taken: bodies are JSON, read as UTF-8 "
                                             "(send UTF-8, with charset=utf-8 or none)",
                                             cs);
            }
        }
        /* refused before any body is read: an unauthenticated client cannot make us buffer one */
        if (!host_ok(h, c)) {
            const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
            r->too_big = 1; /* reading stops; the reply below is the answer */
            ent_http__conn_answering(h, c);
            return ent_http__reply_error(c, MHD_HTTP_FORBIDDEN,
                                         "Host \"%.200s\" is not a name of this server: use its IP address or localhost, or "
                                         "allow the name (entity serve --allow-host NAME); refused so that no web page can "
                                         "reach this server through a name of its own (DNS rebinding)",
                                         host);
        }
        if (strcmp(method, "GET") && strcmp(method, "HEAD") && !origin_ok(c)) {
            const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN);
            r->too_big = 1;
            ent_http__conn_answering(h, c);
            return ent_http__reply_error(c, MHD_HTTP_FORBIDDEN,
                                         "Origin \"%.200s\": a %s from a page of another origin than this server's is refused "
                                         "(the page's browser would write with the user's access here)",
                                         origin, method);
        }
        if (h->token && is_api(url) && !token_ok(h, c)) {
            r->too_big = 1; /* reading stops; the reply below is the answer */
            ent_http__conn_answering(h, c);
            return ent_http__reply_error(c, MHD_HTTP_UNAUTHORIZED, "this server needs \"Authorization: Bearer TOKEN\"");
        }
        if (cl) {
            char *end;
            unsigned long long n;
            errno = 0;
            n = strtoull(cl, &end, 10);
            /* answered before the body is read (curl's Expect: 100-continue then sends none) */
            if (!errno && !*end && n > h->max_body) {
                r->too_big = 1;
                ent_http__conn_answering(h, c);
                return ent_http__reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "the request body of %llu bytes is over the limit of %zu bytes", n,
                                             h->max_body);
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* A chunked body over the limit is read and dropped: MHD takes a reply only before the
         * body or after all of it. */
        if (!r->too_big && r->len + *upload_size > h->max_body) {
            r->too_big = 1;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
        }
        if (!r->too_big) {
            if (r->len + *upload_size + 1 > r->cap) {
                size_t cap = r->cap ? r->cap : 4096;
                char *b;
                while (cap < r->len + *upload_size + 1) cap *= 2;
                if (!(b = realloc(r->body, cap))) return MHD_NO;
                r->body = b;
                r->cap = cap;
            }
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
            r->body[r->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    /* the request is whole: what follows is its answer, under no deadline (a stream's lasts) */
    ent_http__conn_answering(h, c);
    if (r->too_big)
        return ent_http__reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "the request body is over the limit of %zu bytes", h->max_body);

    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
        /* The page holds no data, so it is served without the token (a browser cannot send a
         * bearer token when it navigates); it asks for the token and sends it on /api/ calls. */
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
            static const char *const allow[] = {"Allow", "GET, HEAD", NULL};
            char *b = ent_http__error_json("only GET and HEAD are allowed on /");
            return b ? ent_http__reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, b, strlen(b), NULL, allow) : MHD_NO;
        }
        return ent_http__page(c);
    }
    if (!is_api(url))
        return ent_http__reply_error(c, MHD_HTTP_NOT_FOUND, "no such path: the API is under /api/");
    if (h->token && !token_ok(h, c))
        return ent_http__reply_error(c, MHD_HTTP_UNAUTHORIZED, "this server needs \"Authorization: Bearer TOKEN\"");

    memset(&args, 0, sizeof args);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
    if (args.overflow || args.bad) {
        rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, args.overflow ? "too many query parameters" : "a query parameter has a bad %%-escape");
        args_free(&args);
        return rc;
    }
    /* a route reads the first of a repeated parameter: the second would then be called unknown */
    for (size_t i = 0; i < args.n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(args.v[i].name, args.v[j].name)) {
                rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "parameter \"%s\" is given twice", args.v[i].name);
                args_free(&args);
                return rc;
            }
    if (!(path = strdup(url + 4))) {
        args_free(&args);
        return MHD_NO;
    }
    {
        /* "/a/b" -> "a", "b"; an empty segment (a trailing or double slash) is kept: no route has one */
        char *p = path;
        int bad = 0;
        if (*p == '/') {
            p++;
            for (;;) {
                char *e;
                if (nseg == sizeof segs / sizeof segs[0]) {
                    bad = 2;
                    break;
                }
                segs[nseg++] = p;
                if (!(e = strchr(p, '/'))) break;
                *e = '\0';
                p = e + 1;
            }
        }
        for (size_t i = 0; !bad && i < nseg; i++)
            if (ent_http__unescape(segs[i], 0)) bad = 1;
        if (bad == 1) rc = ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "the path has a bad %%-escape");
        else if (bad) rc = ent_http__reply_error(c, MHD_HTTP_NOT_FOUND, "no such path");
        else if (!store_replaced(h, c, &rc)) rc = ent_http__api(h, c, method, segs, nseg, &args, r);
    }
    free(path);
    args_free(&args);
    return rc;
}

/* Whether the store was removed, or replaced by another (a copy --compact or a backup moved into
 * its place), since the server opened it (ent_store_check_path()): then 1, the request answered 503
 * in *rc, the first time logged. The server reads and writes the files it has open, which no other
 * process sees any more: a PUT answered 201 was in no file at the path, and what others wrote never
 * showed (the relay and the mirror exit 1 on it). A stat or two a request; when it cannot tell (a
 * permission taken away), the request goes on. */
static int store_replaced(ent_http *h, struct MHD_Connection *c, enum MHD_Result *rc)
{
    char what[1024];
    if (ent_store_check_path(h->s) == ENT_OK) return 0;
    snprintf(what, sizeof what, "%s", ent_errmsg());
    if (!__atomic_exchange_n(&h->data_said, 1, __ATOMIC_RELAXED))
        ent_http__logf(h, "the store was replaced under this server: %s; every request is refused (503): restart the server "
                       "on the store now there", what);
    *rc = ent_http__reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the store was replaced under this server: %s; restart "
                                "it", what);
    return 1;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    ent_http_req *r = *con_cls;
    (void)toe;
    ent_http__conn_answered(cls, c);
    if (r) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

/* MHD_OPTION_URI_LOG_CALLBACK: called with the request target before libmicrohttpd splits it at
 * '?', '&' and '='; its length here is what a NUL in it would have cut (head_bytes_ok()). The
 * request's state is made here: libmicrohttpd hands it to the access handler and, as the
 * request was seen, to on_completed() whatever becomes of it. */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    ent_http_req *r = calloc(1, sizeof *r);
    (void)cls;
    (void)c;
    if (r) r->target_len = strlen(uri);
    return r;
}

/* Whether this libmicrohttpd parses heads in place as head_bytes_ok() reads them: 0.9.74 (where
 * its line reader took this form) to 0.9.77; 1.0 rewrote the parser and refuses NULs itself. */
static int mhd_layout(void)
{
    unsigned major, minor, patch;
    const char *v = MHD_get_version();
    if (!v || sscanf(v, "%u.%u.%u", &major, &minor, &patch) != 3) return 0;
    return major == 0 && minor == 9 && patch >= 74 && patch <= 77;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    ent_http *h = cls;
    char buf[512], *html, *end;
    size_t n;
    unsigned long long unsaid = 0;
    if (!h->log) return;
    vsnprintf(buf, sizeof buf, fmt, ap);
    n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    /* A stream's reader ends its response with an error only for a client dropped or failed,
     * which stream.c logs with the reason; this line after it would read as a fault here. */
    if (strstr(buf, "application error generating response")) return;
    /* Nearly all of its lines are about one client's connection (a malformed request, a peer
     * gone mid-answer), two for each bad request a client cares to send: one a minute, as with
     * the evictions (conns.c), or the log is the flood. Its refusals quote the whole HTML page
     * sent; the status says it. */
    if (!ent_http__conns_log_now(h, &unsaid)) return;
    if ((html = strstr(buf, " ('<html>")) && (end = strstr(html, "</html>')"))) memmove(html, end + 9, strlen(end + 9) + 1);
    if (unsaid)
        ent_http__logf(h, "libmicrohttpd: %s (and %llu more of its lines since the last one: it is logged once a minute at most)", buf, unsaid);
    else
        ent_http__logf(h, "libmicrohttpd: %s", buf);
}

/* "A.B.C.D:PORT" or "[V6]:PORT" into addr. Returns 0, or -1 with the reason in ent_errmsg() terms. */
static int parse_listen(struct sockaddr_storage *addr, int *v6, const char *text)
{
    char host[128];
    const char *colon;
    char *end;
    unsigned long port;
    memset(addr, 0, sizeof *addr);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host) return -1;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        colon = close + 1;
        *v6 = 1;
    } else {
        if (!(colon = strrchr(text, ':')) || (size_t)(colon - text) >= sizeof host) return -1;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        *v6 = 0;
    }
    if (!isdigit((unsigned char)colon[1])) return -1;
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (errno || *end || port > 65535) return -1;
    if (*v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)addr;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) return -1;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)addr;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return -1;
    }
    return 0;
}

/* A refused start: the reason in ent_errmsg(), as after any failed call, and on the log line
 * too (hosts read it there). Returns code. */
static int start_refused(const ent_http_opts *o, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int start_refused(const ent_http_opts *o, int code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (o && o->log) o->log(buf, o->log_payload);
    return ent_error_set(code, "%s", buf);
}

int ent_http_start(ent_http **out, ent_store *s, const ent_http_opts *opts)
{
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    struct sockaddr_storage addr;
    const union MHD_DaemonInfo *info;
    ent_http *h;
    int v6, rc, err;
    unsigned flags, max_clients, hard_limit;
    if (!out || !s) return start_refused(NULL, ENT_INVALID, "ent_http_start: %s is NULL", out ? "the store" : "out");
    *out = NULL;
    if (opts) {
        if (opts->version >= 1 && opts->version <= 3) {
            /* a host built against an older version passed the struct without the later members */
            memcpy(&o, opts, opts->version == 1   ? offsetof(ent_http_opts, allow_hosts)
                             : opts->version == 2 ? offsetof(ent_http_opts, max_streams_per_addr)
                                                  : offsetof(ent_http_opts, wait_sub));
            o.version = ENT_HTTP_OPTS_VERSION;
        } else if (opts->version != ENT_HTTP_OPTS_VERSION) {
            return start_refused(NULL, ENT_INVALID, "ent_http_start: options of version %u, this library's are 1 to %u",
                                 opts->version, ENT_HTTP_OPTS_VERSION);
        } else {
            o = *opts;
        }
    }
    if (!o.listen) o.listen = DEFAULT_LISTEN;
    if (parse_listen(&addr, &v6, o.listen))
        return start_refused(&o, ENT_INVALID, "listen address \"%.200s\": expected ADDR:PORT (127.0.0.1:8080, [::1]:8080)",
                             o.listen);
    if (o.token && !o.token[0]) return start_refused(&o, ENT_INVALID, "the token is empty");
    /* a wait's timeout goes to ent_sub_wait() as an int, where a negative one waits for ever */
    if (o.wait_ms > INT_MAX || o.max_wait_ms > INT_MAX)
        return start_refused(&o, ENT_INVALID, "%s %u: at most %d ms", o.wait_ms > INT_MAX ? "wait_ms" : "max_wait_ms",
                             o.wait_ms > INT_MAX ? o.wait_ms : o.max_wait_ms, INT_MAX);
    if (o.wait_sub) {
        /* checked here: a misspelt name made every write answer 409 */
        uint64_t cp;
        int r;
        if (!o.wait_sub[0] || strlen(o.wait_sub) > 200)
            return start_refused(&o, ENT_INVALID, "wait_sub: a subscription name is 1 to 200 bytes");
        if ((r = ent_sub_checkpoint(&cp, s, NULL, o.wait_sub)) == ENT_NOTFOUND)
            return start_refused(&o, ENT_NOTFOUND, "wait_sub: no subscription \"%s\" in the store (make it first: entity subs add %s)",
                                 o.wait_sub, o.wait_sub);
        if (r) return start_refused(&o, r, "wait_sub: %s", ent_errmsg());
    }
    if (!(h = calloc(1, sizeof *h))) return start_refused(NULL, ENT_NOMEM, "ent_http_start: out of memory");
    h->s = s;
    h->mhd_layout = mhd_layout();
    h->read_only = o.read_only;
    h->max_body = o.max_body ? o.max_body : DEFAULT_LIMIT;
    h->client_buffer = o.client_buffer ? o.client_buffer : DEFAULT_LIMIT;
    h->heartbeat_ms = o.heartbeat_ms ? o.heartbeat_ms : 15000;
    h->log = o.log;
    h->log_payload = o.log_payload;
    if (o.wait_sub) memcpy(h->wait_sub, o.wait_sub, strlen(o.wait_sub) + 1);
    h->wait_ms = o.wait_ms ? o.wait_ms : 10000;
    h->max_wait_ms = o.max_wait_ms ? o.max_wait_ms : h->wait_ms > 60000 ? h->wait_ms : 60000;
    /* each refusal says what it was making: a bare ENT_NOMEM left ent_errmsg() as it was, and
     * `entity serve` printed the failure of an earlier call, or nothing */
    if (o.token) {
        if (!(h->token = strdup(o.token))) {
            free(h);
            return start_refused(&o, ENT_NOMEM, "ent_http_start: out of memory copying the token");
        }
        h->token_len = strlen(h->token);
    }
    if (o.allow_hosts && o.allow_hosts[0]) {
        h->allow_any = lists_any(o.allow_hosts);
        if (!(h->allow_hosts = strdup(o.allow_hosts))) {
            free(h->token);
            free(h);
            return start_refused(&o, ENT_NOMEM, "ent_http_start: out of memory copying the allowed host names");
        }
    }
    if ((rc = ent_http__hub_start(h))) {
        free(h->token);
        free(h->allow_hosts);
        free(h);
        return start_refused(&o, rc, "ent_http_start: %s", ent_errmsg());
    }
    max_clients = o.max_clients ? o.max_clients : 1000;
    {
        /* Past the process's file limit (ulimit -n, often 1024), accept() fails before
         * max_clients is reached, and libmicrohttpd then stops accepting: no new connection
         * comes in to close a slow one for, and slow clients hold the server again. So the
         * limit leaves room for the sockets closed but not yet gone (an eighth) and for the
         * store's and the server's own files (64). */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
            rlim_t budget = rl.rlim_cur > 64 + 32 ? rl.rlim_cur - 64 : 32;
            if ((rlim_t)max_clients + max_clients / 8 + 16 > budget) {
                unsigned fit = (unsigned)((budget - 16) * 8 / 9);
                if (!fit) fit = 1;
                ent_http__logf(h, "serving %u connections at once, not %u: this process may open %llu files (ulimit -n)", fit,
                               max_clients, (unsigned long long)rl.rlim_cur);
                max_clients = fit;
            }
            hard_limit = (rlim_t)max_clients * 2 + 16 > budget ? (unsigned)budget : max_clients * 2 + 16;
        } else {
            hard_limit = max_clients * 2 + 16;
        }
    }
    if (!o.max_streams_per_addr) {
        /* one address alone never fills max_clients with streams, however small it is */
        o.max_streams_per_addr = max_clients / 2 < 64 ? max_clients / 2 : 64;
        if (!o.max_streams_per_addr) o.max_streams_per_addr = 1;
    }
    if ((rc = ent_http__conns_start(h, max_clients, o.request_timeout_ms ? o.request_timeout_ms : 30000, o.max_streams_per_addr))) {
        ent_http__hub_stop(h);
        ent_http__hub_free(h);
        free(h->token);
        free(h->allow_hosts);
        free(h);
        return start_refused(&o, rc, "ent_http_start: %s", ent_errmsg());
    }
    /* A thread per connection: an event stream's reader then simply blocks until the follower
     * hands it events, and a stalled client stalls only its own thread. */
    flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (v6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, /* first: it covers the options' own messages */
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            /* max_clients is kept by closing waiting connections (conns.c); the
                             * ones closed linger until their threads see it, hence the room */
                            MHD_OPTION_CONNECTION_LIMIT, hard_limit,
                            MHD_OPTION_NOTIFY_CONNECTION, ent_http__conn_notify, h,
                            /* idle connections close; a stream's heartbeat must come sooner */
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(120 + 2 * h->heartbeat_ms / 1000),
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_UNESCAPE_CALLBACK, keep_raw, h,
                            MHD_OPTION_URI_LOG_CALLBACK, uri_log, h,
                            /* room for a head over ENT_HTTP__MAX_HEAD to reach head_ok() */
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ENT_HTTP__CONN_MEMORY,
                            MHD_OPTION_END);
    if (!h->d) {
        /* libmicrohttpd's own line (logged above) has the reason; bind's errno is still here */
        err = errno;
        start_refused(&o, ENT_IO, "cannot listen on %.200s%s%s", o.listen, err ? ": " : "", err ? strerror(err) : "");
        ent_http__conns_stop(h);
        ent_http__hub_stop(h);
        ent_http__hub_free(h);
        free(h->token);
        free(h->allow_hosts);
        free(h);
        return ENT_IO;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *out = h;
    return ENT_OK;
}

unsigned ent_http_port(const ent_http *h) { return h ? h->port : 0; }

void ent_http_stop(ent_http *h)
{
    if (!h) return;
    /* Streams first: their readers return the end of their responses, which their threads send
     * (the daemon's stop closes every socket at once: a stream cut there looks broken to its
     * client, curl's exit 18), then the daemon closes what is left and joins the connection
     * threads. */
    ent_http__hub_stop(h);
    ent_http__hub_drain(h, 2000);
    MHD_stop_daemon(h->d);
    ent_http__conns_stop(h);
    ent_http__hub_free(h);
    free(h->token);
    free(h->allow_hosts);
    free(h);
}
