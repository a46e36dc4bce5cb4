/* Shared by the relay and the mirror: connecting, error texts, state lines, subjects. */
#ifndef ENT_NATS_UTIL_H
#define ENT_NATS_UTIL_H

#include <nats/nats.h>
#include <stdint.h>

#include "entity/nats.h"

#define ENATS_SUBJECT_PREFIX "entity."
#define ENATS_ID_MAX 36

/* What the async publish acks report, written by libnats's thread, read by ours (atomics). One per
 * connection, on the heap: an ack of an old connection may still arrive while the next one runs,
 * and must not land in the new one's state, nor in freed memory (see enats_close). */
typedef struct enats_acks {
    int failed;               /* an async publish failed; err is set first */
    int refused;              /* 1: JetStream answered no (not a lost connection) */
    char err[256];
    uint64_t acked_seq;       /* highest Entity-Seq JetStream acknowledged (acks come in order) */
    int64_t retired_ms;       /* when its connection was closed (graveyard) */
    struct enats_acks *next;
} enats_acks;

/* A connection with JetStream. Zero it once (ENATS_CONN_INIT); connect and close it any number of
 * times; enats_fini() at the end. */
typedef struct enats_conn {
    natsConnection *nc;
    jsCtx *js;
    enats_acks *acks;         /* the current connection's */
    int async;                /* publishes asynchronously (the relay) */
    int published;            /* an async publish was made (libnats's pending map exists) */
    enats_acks *graveyard;    /* of closed connections, freed once no ack can reach them */
} enats_conn;

/* The URL is one we can try: "nats://", "tls://" or "host:port", no spaces. ENT_INVALID names it. */
int enats_check_url(const char *url);
/* Connect (no client-side reconnect: a broken connection is replaced, see nats.h) and make the
 * JetStream context. max_pending > 0 sets the async publish window. ENT_IO on failure. */
int enats_connect(enats_conn *c, const char *url, int max_pending);
void enats_close(enats_conn *c);
void enats_fini(enats_conn *c);
/* The connection closed under us (the server went away). */
int enats_closed(const enats_conn *c);
/* ent_error_set(code, "<what>: <nats text>") */
int enats_err(int code, natsStatus s, jsErrCode jerr, const char *what);
/* One state line through cb or to stderr. */
void enats_log(ent_nats_log_cb cb, void *payload, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* *stop, read as another thread or a signal handler may set it. */
static inline int enats_stopped(const volatile int *stop) { return stop && __atomic_load_n(stop, __ATOMIC_RELAXED); }
/* Sleep ms milliseconds, waking early when *stop is set. */
void enats_nap(int ms, const volatile int *stop);
/* A header value as u64; 0 and ENT_NOTFOUND when absent or malformed. */
int enats_header_u64(uint64_t *out, natsMsg *m, const char *key);

#endif
