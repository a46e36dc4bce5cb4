/* entity-http internals shared by its files: the server handle, the reply helpers, the routes and
 * the event stream. Nothing here is public. */
#ifndef ENT_HTTP_INT_H
#define ENT_HTTP_INT_H

#include <entity/entity.h>
#include <entity/http.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* ASCII case folding and letters, for HTTP's case-insensitive words (header names, Host, charset,
 * encodings): strcasecmp(), tolower() and isalnum() follow the host's LC_CTYPE, and under a
 * Turkish one (tr_TR.UTF-8) 'I' is not the capital of 'i': an embedding host refused "Host:
 * MIRROR.EXAMPLE" (403) and "charset=US-ASCII" or "Content-Encoding: IDENTITY" (415). */
static inline int ent_http__lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }
static inline int ent_http__alnum(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline int ent_http__ncasecmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int x = ent_http__lower((unsigned char)a[i]), y = ent_http__lower((unsigned char)b[i]);
        if (x != y) return x - y;
        if (!x) return 0;
    }
    return 0;
}
static inline int ent_http__casecmp(const char *a, const char *b) { return ent_http__ncasecmp(a, b, (size_t)-1); }

typedef struct ent_http_client ent_http_client;

/* Request heads: a target (path and query) and a whole head over these are refused in JSON
 * (414, 431); libmicrohttpd's memory per connection leaves room for heads up to about
 * CONN_MEMORY - 4 KiB to get that far (beyond, it answers with an HTML page of its own). */
#define ENT_HTTP__MAX_TARGET 8192u
#define ENT_HTTP__MAX_HEAD 16384u
#define ENT_HTTP__CONN_MEMORY (64u * 1024u)

/* A rendered SSE message the follower keeps for clients that catch up. */
typedef struct ent_http_recent {
    uint64_t seq;
    char *msg; /* NULL when it could not be rendered */
    size_t len;
    unsigned op;
    char type[ENT_NAME_MAX + 1];
} ent_http_recent;

/* The event stream's shared state: one thread follows the log and hands each new event, rendered
 * once, to every live client whose filter takes it, and keeps the last ones rendered for clients
 * that catch up. Guarded by mu. */
typedef struct ent_http_hub {
    pthread_mutex_t mu;
    ent_http_client *live; /* clients caught up with the follower (a list through next/prev) */
    uint64_t next;         /* the seq the follower reads next: live clients got everything before */
    ent_http_recent *recent; /* recent[seq % RECENT_MAX] holds seqs [recent_first, recent_end) */
    uint64_t recent_first, recent_end;
    size_t recent_bytes;
    int stop;
    int started;
    pthread_t thread;
    unsigned streams;      /* stream answers not freed by libmicrohttpd yet */
    pthread_cond_t gone;   /* signalled when streams reaches 0 (CLOCK_MONOTONIC) */
} ent_http_hub;

/* The connections (conns.c): each from its start to its close, for the request deadline and
 * the room at max_clients. Guarded by mu. */
typedef struct ent_http_conn ent_http_conn;
typedef struct ent_http_conns {
    pthread_mutex_t mu;
    pthread_cond_t cond;   /* wakes the deadline thread: a stop, a first connection waiting */
    ent_http_conn *head, *tail; /* in start order */
    unsigned count;        /* connections not closed here yet */
    unsigned max, timeout_ms;
    unsigned max_streams_per_addr;
    int idle;              /* the deadline thread waits for a signal, not a deadline */
    int stop, started;
    unsigned long long evicted; /* closed for room since the last log line */
    unsigned long long mhd_unsaid; /* libmicrohttpd's lines not logged since its last one */
    struct timespec mhd_logged_at;
    int mhd_logged_once;
    struct timespec logged_at;
    int logged_once;
    pthread_t thread;
} ent_http_conns;

struct ent_http {
    ent_store *s;
    struct MHD_Daemon *d;
    int mhd_layout; /* libmicrohttpd 0.9.74 to 0.9.77: heads parsed in place (head_bytes_ok()) */
    char *token;
    size_t token_len;
    char *allow_hosts; /* NULL: none but addresses and localhost names */
    int allow_any;     /* allow_hosts was "*" */
    int read_only;
    size_t max_body, client_buffer;
    unsigned heartbeat_ms;
    unsigned port;
    ent_http_log_cb log;
    void *log_payload;
    ent_http_hub hub;
    ent_http_conns conns;
    int data_said; /* the store's replacement was logged (store_replaced() in server.c) */
    char wait_sub[201];   /* opts' wait_sub; "": none */
    unsigned wait_ms, max_wait_ms;
};

/* A write request's wait for a subscription's acknowledgement (?wait=SUB, opts' wait_sub). */
typedef struct ent_http_wait {
    const char *sub; /* NULL: no wait */
    unsigned ms;
    uint64_t before; /* the log's last seq as the write's transaction began */
    uint64_t seq;    /* the write's own last event; 0: it made none */
    int nosub;       /* the write was refused: no such subscription */
} ent_http_wait;

/* One request's state across the access handler's calls: its body so far. Made by the URI log
 * callback, which sees the request target before libmicrohttpd cuts it up. */
typedef struct ent_http_req {
    char *body;
    size_t len, cap;
    int too_big;
    int started;       /* the access handler saw the request's head */
    size_t target_len; /* strlen() of the request target as it came, SIZE_MAX: not seen */
} ent_http_req;

/* A decoded query parameter. */
typedef struct ent_http_arg {
    char *name, *value;
    int used;
} ent_http_arg;

typedef struct ent_http_args {
    ent_http_arg v[16];
    size_t n;
    int overflow, bad; /* more than 16; a bad %-escape */
} ent_http_args;

void ent_http__logf(ent_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Replies: each queues a response on c and returns what MHD_queue_response() did. */
enum MHD_Result ent_http__reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, with "Connection: close": the request's bytes cannot be told from the next one's. */
enum MHD_Result ent_http__reply_error_close(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* body: taken (freed with free()); ctype NULL: application/json. */
enum MHD_Result ent_http__reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                                const char *ctype, const char *const *headers /* name, value, ..., NULL */);
/* {"error": msg} as JSON, bytes that are not UTF-8 as '?'. out: the caller frees it; NULL when
 * out of memory. */
char *ent_http__error_json(const char *msg);
/* The HTTP status for a libentity failure code (never 500 for what a request got wrong). */
unsigned ent_http__status(int code);
/* An error reply for the library's last failure. */
enum MHD_Result ent_http__reply_lib(struct MHD_Connection *c, int code, const char *what);

/* A hex digit's value (either case), or -1. */
int ent_http__hexval(int ch);
/* "%XX"-decode s in place ('+' as a space when plus). Returns 0, or -1 for a bad escape or a NUL. */
int ent_http__unescape(char *s, int plus);
/* s percent-encoded for a URL path segment or query value. out: the caller frees it. */
char *ent_http__escape(const char *s);
/* The value of parameter name (marked used), or NULL. */
const char *ent_http__arg(ent_http_args *a, const char *name);
/* Request header name's value without the spaces and tabs around it (RFC 9110 5.5: libmicrohttpd
 * 0.9.75 drops those before it only), or NULL when absent: libmicrohttpd's own when there are
 * none after it, else a copy in buf (size bytes; a value that does not fit is given as it came). */
const char *ent_http__header(struct MHD_Connection *c, const char *name, char *buf, size_t size);

/* The type= and op= filters of /api/events and the stream (api.c). Returns 0, or -1 after a 400
 * reply in *mrc. */
int ent_http__event_filter(const ent_type **t, unsigned *ops, ent_store *s, ent_http_args *a, struct MHD_Connection *c,
                           enum MHD_Result *mrc);

/* Event ev of s's log as JSON (ent_event_to_json()), as it was written (ent_event_as_written()):
 * the API, the stream and `entity events` print the same line for it (api.c). out: the caller
 * frees it with free(). Returns a libentity code. */
int ent_http__event_json(char **out, ent_store *s, const ent_event *ev);

/* ent_log_next() reading on past ENT_TRUNCATED: the readers of the API and the stream read
 * unfiltered and tell their clients of the events a trim took from the jump in seqs (api.c). */
int ent_http__log_next(ent_event **out, ent_log_cursor *c);

/* Shared by the routes (api.c). A text of digits only (no sign, no blank) as a uint64: 0 or -1. */
int ent_http__digits_u64(uint64_t *out, const char *text);
/* The first condition header the request sent (If-Match, If-None-Match), or NULL (api.c). */
const char *ent_http__condition(struct MHD_Connection *c);
/* The key of type t in text; on a bad one, a 400 reply in *rc and -1. */
int ent_http__key(ent_key *out, const ent_type *t, const char *text, struct MHD_Connection *c, enum MHD_Result *rc);
/* The key of one entity's path: its text (as ent_http__key()), or with hex its bytes in hex
 * (/api/TYPE/hex/HEX), decoded into buf (ENT_KEY_STRING_MAX + 1 bytes), which out borrows. */
int ent_http__path_key(ent_key *out, char *buf, const ent_type *t, const char *text, int hex, struct MHD_Connection *c,
                       enum MHD_Result *rc);
/* k for a message: the id, or the string with a NUL as \0. */
void ent_http__key_text(char *buf, size_t size, ent_key k);
/* The path that GETs the entity of type tname and key k, whatever the key's bytes (api.c).
 * out: the caller frees it; NULL when out of memory. */
char *ent_http__entity_path(const char *tname, ent_key k);
int ent_http__same_key(ent_key a, ent_key b); /* 1 when a and b are the same key */

/* The body of a write (body.c): t's data alone, or the entity's JSON as GET answers it, read by
 * the library's rule (ent_entity_from_body(), ent_entity_patch_body()). */
typedef struct ent_http_body {
    int has_version;  /* it held "version": the write's expected version, as If-Match */
    uint64_t version;
} ent_http_body;
/* PUT and POST: a new entity of t (the caller frees it). want: the path's key, which the body's
 * "key" must be; NULL for POST, which refuses "key" and "version". Returns ENT_OK, ENT_INVALID
 * (ent_errmsg() names the problem), ENT_NOMEM. */
int ent_http__body_entity(ent_entity **out, ent_http_body *b, const ent_type *t, const ent_key *want, const char *body, size_t len);
/* PATCH: the body applied to e, as ent_entity_patch_body() (whose "key" must be e's, the path's),
 * or as an RFC 6902 JSON Patch whatever its shape when json_patch (the Content-Type said so).
 * Returns as those; on failure e is unchanged. */
int ent_http__body_patch(ent_entity *e, ent_http_body *b, const char *body, size_t len, int json_patch);

/* One entity (api_entity.c). */
/* GET /api/TYPE/KEY in read transaction txn (the caller's; t is a type of its schema). */
/* ktext: the path's key, its text or (hex) its bytes in hex (ent_http__path_key()). */
enum MHD_Result ent_http__entity_get(ent_http *h, struct MHD_Connection *c, ent_txn *txn, const ent_type *t, const char *ktext, int hex);
/* ww: the request's wait (ent_http__wait_args()). */
enum MHD_Result ent_http__entity_create(ent_http *h, struct MHD_Connection *c, const ent_type *t, ent_http_req *r, ent_http_wait *ww);
enum MHD_Result ent_http__entity_write(ent_http *h, struct MHD_Connection *c, const char *method, const ent_type *t,
                                       const char *ktext, int hex, ent_http_req *r, ent_http_wait *ww);
/* A write's ?wait=SUB and ?wait_ms=MS, or the server's wait_sub, into ww. Returns 0, or -1 after
 * a 400 reply in *rc. */
int ent_http__wait_args(ent_http_wait *ww, ent_http *h, ent_http_args *a, struct MHD_Connection *c, enum MHD_Result *rc);

/* The /api routes (api.c). segs: the decoded path segments after "api". */
enum MHD_Result ent_http__api(ent_http *h, struct MHD_Connection *c, const char *method, char **segs, size_t nseg,
                              ent_http_args *args, ent_http_req *r);

/* The event stream (stream.c). */
/* Returns ENT_OK, or a code with ent_errmsg() saying why (the log unreadable, out of memory). */
int ent_http__hub_start(ent_http *h);
void ent_http__hub_stop(ent_http *h);  /* ends the streams and the follower */
/* After hub_stop: waits up to ms for the streams' answers to be sent whole (their last, empty
 * chunk written), so that the daemon's stop, which closes every socket, cuts none. */
void ent_http__hub_drain(ent_http *h, unsigned ms);
/* A condition variable whose timed waits take CLOCK_MONOTONIC deadlines (the wall clock may
 * step). Returns 0, or non-zero when it could not be made. */
int ent_http__cond_init_mono(pthread_cond_t *cv);
/* ENT_NOMEM naming what could not be started and why (pthread_create()'s err; EAGAIN: ulimit -u). */
int ent_http__thread_err(int err, const char *what);
/* t + ms (deadlines for pthread_cond_timedwait, on whichever clock t was read) */
struct timespec ent_http__plus_ms(struct timespec t, unsigned ms);
void ent_http__hub_free(ent_http *h);  /* after the daemon stopped: no reader left */
enum MHD_Result ent_http__stream(ent_http *h, struct MHD_Connection *c, ent_http_args *args);

/* The connections (conns.c). conns_stop after the daemon stopped. */
int ent_http__conns_start(ent_http *h, unsigned max_clients, unsigned timeout_ms, unsigned max_streams_per_addr);
void ent_http__conns_stop(ent_http *h);
/* MHD_OPTION_NOTIFY_CONNECTION's callback (cls: h). */
void ent_http__conn_notify(void *cls, struct MHD_Connection *c, void **socket_context, enum MHD_ConnectionNotificationCode code);
/* The request on c has arrived whole and is being answered: no deadline until it is answered. */
void ent_http__conn_answering(ent_http *h, struct MHD_Connection *c);
/* The answer on c is to be an event stream: never closed for room. Returns 0, or -1 (c not
 * marked) when c's client address has max_streams_per_addr streams open already; *open: how many. */
int ent_http__conn_streaming(ent_http *h, struct MHD_Connection *c, unsigned *open);
/* Its answer is done: c waits for its next request. */
void ent_http__conn_answered(ent_http *h, struct MHD_Connection *c);

/* Whether a line of libmicrohttpd's is logged now: one a minute at most (most are about one
 * client's connection, and a client can make one per request). *unsaid: the lines left out
 * before it. */
int ent_http__conns_log_now(ent_http *h, unsigned long long *unsaid);

/* The page (page.c). */
enum MHD_Result ent_http__page(struct MHD_Connection *c);

#endif
