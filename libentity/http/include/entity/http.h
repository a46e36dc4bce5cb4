/* libentity — an HTTP face for a store (optional component, library entity-http).
 *
 * A JSON API over the same calls as the entity tool (entity and event JSON as ent_entity_to_json()
 * and ent_event_to_json() render them; ETags of the version and a hash of the entity's JSON), the
 * event log as Server-Sent Events whose ids are seqs, and a small page at GET /. Built on
 * libmicrohttpd; built only where it is found. The routes, codes and headers are listed in
 * README.md ("Serving a store over HTTP").
 *
 * The server runs on threads of its own (one per connection, plus one that follows the log with
 * ent_log_wait(), so writes by other processes are streamed too). The caller keeps using the store
 * meanwhile, and closes it only after ent_http_stop().
 */
#ifndef ENTITY_HTTP_H
#define ENTITY_HTTP_H

#include <entity/common.h>
#include <entity/store.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ent_http ent_http;

/* Called with one line about the server's life (a client dropped for falling behind, a log read
 * that failed), on one of the server's threads; line is borrowed for the call. */
typedef void (*ent_http_log_cb)(const char *line, void *payload);

/* Version 2 added the members after log_payload, version 3 max_streams_per_addr, version 4 the
 * wait_ members; an older struct (without them) is still taken, with their defaults. */
#define ENT_HTTP_OPTS_VERSION 4
typedef struct ent_http_opts {
    unsigned version;        /* ENT_HTTP_OPTS_VERSION (or 1, 2, 3) */
    const char *listen;      /* "ADDR:PORT" (IPv4 dotted, or [IPv6]); NULL: "127.0.0.1:8080".
                              * Port 0 takes a free port: see ent_http_port(). */
    const char *token;       /* non-NULL: every /api/ request needs "Authorization: Bearer TOKEN";
                              * copied */
    int read_only;           /* writes answer 405 */
    size_t max_body;         /* request body limit in bytes (413 above it); 0: 1 MiB */
    size_t client_buffer;    /* bytes of events queued for one stream client before it is dropped
                              * (it resumes with Last-Event-ID); 0: 1 MiB */
    unsigned heartbeat_ms;   /* a comment line on idle streams this often; 0: 15000 */
    unsigned max_clients;    /* connections at once; 0: 1000. A new one past it closes the
                              * connection that has waited longest for its request to arrive
                              * (idle, or sending it slowly), or itself when every other one
                              * is being answered */
    ent_http_log_cb log;     /* may be NULL */
    void *log_payload;
    /* Version 2: */
    const char *allow_hosts; /* Host header names answered besides IP addresses, "localhost" and
                              * "*.localhost" (a check against DNS rebinding): comma-separated;
                              * ".example.org" takes example.org and its subdomains; "*" (alone or
                              * among names) any name.
                              * NULL: none. Copied */
    unsigned request_timeout_ms; /* a request's head and body must arrive within this from the
                                  * connection's start or the previous answer, or the connection
                                  * is closed; 0: 30000 */
    /* Version 3: */
    unsigned max_streams_per_addr; /* event streams open at once from one client address (an
                                    * IPv6 one by its /64); past it a new stream is answered 429.
                                    * Streams are never closed for room, so without it one
                                    * address could hold every one of max_clients.
                                    * 0: 64, or max_clients / 2 when that is less */
    /* Version 4: semi-synchronous writes (README, "Losing no acknowledged write"). A write
     * request may ask with ?wait=SUB[&wait_ms=MS] to be answered only once durable subscription
     * SUB (the relay's: "relay") acknowledged the write's own last event, or MS passed; the
     * answer's Entity-Acknowledged header says which (README, "Serving a store over HTTP"). */
    const char *wait_sub;    /* the subscription every write waits for without ?wait=; NULL:
                              * none. It must exist at the start (else ENT_NOTFOUND). Copied */
    unsigned wait_ms;        /* a wait's timeout without ?wait_ms=; 0: 10000. This and
                              * max_wait_ms are at most INT_MAX (else ENT_INVALID) */
    unsigned max_wait_ms;    /* the largest ?wait_ms= taken (400 above it); 0: 60000, or wait_ms
                              * when that is more. A waiting request holds its connection's
                              * thread (one per connection), never the store's writer */
} ent_http_opts;
#define ENT_HTTP_OPTS_INIT {ENT_HTTP_OPTS_VERSION, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0, NULL, 0, 0}

/* Start serving store s (borrowed: it must stay open until ent_http_stop()).
 * out: the caller stops and frees it with ent_http_stop().
 * Every request's Host must be an IP address, a localhost name or one of allow_hosts (else 403),
 * and a write that carries Origin must come from the origin the Host names (else 403): a page of
 * another site can then neither reach the server through a name it made resolve to the server's
 * address (DNS rebinding) nor write through the user's browser.
 * Returns ENT_OK, ENT_INVALID (bad listen address, empty token, bad options), ENT_IO (the address
 * cannot be bound: the message names it), ENT_NOMEM, ENT_NOTFOUND (wait_sub names no subscription),
 * and the codes of ent_log_bounds(). */
ENT_EXTERN(int) ent_http_start(ent_http **out, ent_store *s, const ent_http_opts *opts);

/* The TCP port the server listens on (the one chosen when the address asked for port 0); 0 for
 * h NULL. */
ENT_EXTERN(unsigned) ent_http_port(const ent_http *h);

/* Stop: end every event stream (each gets the end of its response), close every connection,
 * join the server's threads and free h. NULL does nothing. */
ENT_EXTERN(void) ent_http_stop(ent_http *h);

#ifdef __cplusplus
}
#endif
#endif
