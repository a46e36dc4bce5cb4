/* libentity-nats — the store's log on NATS JetStream: a relay that publishes it exactly once, and
 * mirrors that follow the stream. An optional component: its own library (libentity-nats, pkg-config
 * "entity-nats"), built where the NATS C client (libnats) is found; the core library does not need it.
 *
 * What goes on the stream (one stream may carry several stores; each store's subjects start with
 * its id, ent_store_id()):
 *   entity.<store id>.<type>.<op>   one message per event, in seq order; op is create|update|delete.
 *       body: the event as ent_event_to_json() prints it (the line `entity events` prints)
 *       headers: Nats-Msg-Id "<store id>:<seq>", Entity-Seq "<seq>",
 *                Entity-Schema-Version "<the version it was written under>",
 *                Entity-Txn-End "1" on the last event of each transaction
 *   entity.<store id>.schema        one message per schema version, before the first event
 *                                   written under it, in version order.
 *       body: the schema JSON; headers: Nats-Msg-Id "<store id>:schema:<version>",
 *             Entity-Schema-Version "<version>", Entity-After-Seq "<seq of the event before it>"
 * A consumer in any language subscribes to "entity.<store id>.>" (or "entity.*.*.*" for the
 * events of every store) with a stock NATS client.
 *
 * Exactly once: the stream holds each seq once, whatever is killed when. The relay reads the log
 * through a durable subscription of its own (so trimming cannot drop what it has not published),
 * publishes asynchronously with a bounded window (core NATS publishes whose reply subjects carry
 * the seq; JetStream's acks come to one subscription), and acknowledges its checkpoint only after
 * JetStream acknowledged the messages. On every (re)connection it reads the stream's last message
 * of this store and resumes after the larger of its Entity-Seq and the checkpoint: correctness does
 * not rest on the duplicate window. It publishes on one connection without client-side reconnect
 * buffering, so what a failure loses is always a suffix, which the next connection publishes.
 *
 * Threads: every call blocks the calling thread; ent_relay_start() and ent_follow_start() run the
 * loop in a thread of their own. libnats keeps global state: a process that is done with NATS may
 * call nats_Close() after every relay and mirror is stopped (the entity tool does).
 */
#ifndef ENTITY_NATS_H
#define ENTITY_NATS_H

#include <entity/entity.h>

#ifdef __cplusplus
extern "C" {
#endif

/* State changes (connected, unreachable, resumed, caught up) as one line each, not one per retry,
 * and warnings (a secret file others may read). Called on the relay's or mirror's thread, which
 * claims what only it makes happen (ent_log_wait_claim()): there, ent_sub_wait() on the relay's
 * subscription and ent_log_wait() on the mirror store for what is not there yet return ENT_BUSY
 * (as ent_relay_wait() does) instead of waiting for themselves. NULL: lines go to stderr
 * prefixed "entity: ". */
typedef void (*ent_nats_log_cb)(const char *line, void *payload);

/* How to reach a secured NATS deployment (README, "Connecting to a secured NATS"): files, named
 * as the `nats` CLI names its options. Every member NULL (or ""): none of it, the URL alone says
 * (nats://, tls://, user:password@ or token@). Each file must be readable when the run starts.
 *   tls_ca        PEM bundle of the CAs that signed the server's certificate (a private CA);
 *                 makes TLS required, as tls:// does (--tlsca)
 *   tls_cert,     the client's certificate chain and its private key (PEM), for a server that
 *   tls_key       verifies its clients (mutual TLS): both or neither (--tlscert, --tlskey)
 *   tls_hostname  the name the server's certificate must hold when it is not the URL's host (a
 *                 URL with an IP address); needs TLS (--tls-hostname)
 *   nkey_seed     a file holding a user NKey seed ("SU..."): the server's nonce is signed with it
 *                 (--nkey); its public key is derived from it
 *   creds         a .creds file, a user JWT and its seed (decentralized auth) (--creds)
 * One way to authenticate: nkey_seed, creds and a user or token in the URL exclude each other.
 * Seeds and passwords are never printed. */
typedef struct ent_nats_auth {
    const char *tls_ca;
    const char *tls_cert;
    const char *tls_key;
    const char *tls_hostname;
    const char *nkey_seed;
    const char *creds;
} ent_nats_auth;
#define ENT_NATS_AUTH_INIT {NULL, NULL, NULL, NULL, NULL, NULL}

/* Version 2 added auth; a version 1 struct (without it) is still taken, as no auth. */
#define ENT_RELAY_OPTS_VERSION 2
typedef struct ent_relay_opts {
    unsigned version;       /* ENT_RELAY_OPTS_VERSION (or 1) */
    const char *url;        /* "nats://host:port", or a comma-separated list, tried in order */
    const char *stream;     /* stream name; created (file storage, subjects "entity.<id>.>") when
                             * missing; an existing one must take this store's subjects */
    const char *sub_name;   /* the relay's durable subscription; NULL: "relay". "<sub_name>.refill"
                             * (its first 193 bytes) holds the log while the stream lacks events
                             * the checkpoint covers (a new stream), and goes once it has them */
    int window;             /* messages in flight before waiting for acks; 0: 4096; negative:
                             * ENT_INVALID */
    int once;               /* publish what the log holds at start, wait for the acks, return;
                             * NATS unreachable, or lost 5 times in a row with no ack
                             * between (every publish answered 503), is then an error */
    int64_t duplicate_window_ms; /* for a stream the relay creates: 0 = the server's default (2 min) */
    ent_nats_log_cb log;
    void *log_payload;
    /* Version 2: */
    ent_nats_auth auth;     /* TLS files, NKey, credentials; copied by ent_relay_start() */
} ent_relay_opts;
#define ENT_RELAY_OPTS_INIT {ENT_RELAY_OPTS_VERSION, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, ENT_NATS_AUTH_INIT}

/* Run the relay of store s on the calling thread until *stop becomes non-zero (checked at least
 * every 200 ms) or, with once, until the log as it was at start is acknowledged. NATS down: retries
 * with backoff (up to 2 s) and catches up; writers to s are never waited for.
 * s: borrowed; a handle that can write (the subscription's checkpoint is stored in it).
 * One relay per store: for its whole run the relay holds an flock on "<store dir>/relay.lock"
 * (holding its pid), which the system drops however the process ends, SIGKILL included, so a
 * killed relay leaves no stale lock; a memory store is claimed by its handle, in this process.
 * Returns ENT_OK; ENT_BUSY (a relay is already running on this store: the message names the
 * store and that relay's pid), ENT_INVALID (bad options or URL, a stream name JetStream cannot take,
 * JetStream refused to make the stream: an account's limits; the server refused the URL's
 * credentials, or their absence: not retried), ENT_CONFLICT (the stream exists
 * and does not take this store's subjects; the store's data.mdb at its path is another file than
 * the one s has open: another store moved there), ENT_NOTFOUND (that file was removed: the
 * relay, caught up, looks every 200 ms, as no writer reaches the store it reads any more),
 * ENT_IO (once: NATS unreachable or an ack missing; a file of opts->auth that cannot be read or
 * is not of its kind, ent_nats_check_auth()), the store's codes. ENT_INVALID too for options of
 * opts->auth that do not go together, and for a server certificate that fails verification (an
 * unknown CA, a name it does not hold: not retried, as refused credentials). The message (ent_errmsg)
 * says which. */
ENT_EXTERN(int) ent_relay_run(ent_store *s, const ent_relay_opts *opts, const volatile int *stop);

typedef struct ent_relay ent_relay;
/* ent_relay_run() in a new thread. opts and its strings are copied. The store is claimed before
 * the thread starts, so a second relay is refused by this call. s: borrowed until
 * ent_relay_stop() returns (the thread calls on it until then: close it after the stop). Its
 * path is taken by this call (a relative one against the current directory then): a host may
 * change its directory afterwards. out: ent_relay_stop() ends it.
 * Returns ENT_OK, ENT_BUSY (a relay is already running on s), ENT_INVALID, ENT_NOMEM, ENT_IO (a
 * file of opts->auth, ent_nats_check_auth()). */
ENT_EXTERN(int) ent_relay_start(ent_relay **out, ent_store *s, const ent_relay_opts *opts);
/* Stop the thread (it finishes the batch in flight, at most its ack wait), free r, and return what
 * ent_relay_run() returned (its message is on this thread afterwards). NULL: ENT_OK. */
ENT_EXTERN(int) ent_relay_stop(ent_relay *r);
/* Events published and acknowledged so far by r (r NULL: 0; for progress and benchmarks): acked by JetStream,
 * or, when a connection was lost before their acks came, found in the stream on reconnecting.
 * Events the stream held before r started are not counted. */
ENT_EXTERN(uint64_t) ent_relay_acked(const ent_relay *r);

/* Wait until JetStream has acknowledged every event of r's store up to `seq` (or r found them in
 * the stream when it (re)connected), or timeout_ms passes (any negative value: forever). For a
 * host that must not lose an acknowledged write to a failover (semi-synchronous replication,
 * README "Failing over"): commit, then wait for the commit's last seq (ent_log_bounds() after the
 * commit: a safe upper bound when other threads write too), then answer the client. Woken by the
 * ack itself, on libnats's ack thread: one publish + ack round trip after the relay read the
 * commit, not the checkpoint's write (batched under load). A seq beyond the log's end is waited
 * for (its events may come); seq 0 answers at once. A relay in another process (`entity relay`):
 * ent_sub_wait() on its subscription ("relay") instead, which its checkpoint answers.
 * r: a relay of ent_relay_start() in this process. Any number of threads may wait at once.
 * ent_relay_stop() makes every wait under way return ENT_IO naming the stop, at once; a wait may
 * still be returning after the stop returned (it holds no reference to r), but no call on r may
 * begin once the stop has begun (r is freed).
 * Returns ENT_OK; ENT_TIMEOUT (the message names the seq acknowledged and seq); ENT_INVALID (r
 * NULL); ENT_IO (r stopped, or a once relay that ended before seq); ENT_BUSY (as ent_sub_wait():
 * from the thread that holds the store's write transaction, also in ent_txn_run()'s fn, when seq
 * is not acknowledged yet: the relay cannot go on before it ends; an event callback may wait; so
 * too from r's own log callback, which runs on the relay's thread);
 * and when r's run ended on an error, that error's code (ent_relay_stop() would return it), the
 * message naming it. */
ENT_EXTERN(int) ent_relay_wait(ent_relay *r, uint64_t seq, int timeout_ms);

/* Version 2 added auth; a version 1 struct (without it) is still taken, as no auth. */
#define ENT_FOLLOW_OPTS_VERSION 2
typedef struct ent_follow_opts {
    unsigned version;       /* ENT_FOLLOW_OPTS_VERSION (or 1) */
    const char *url;
    const char *stream;     /* must exist */
    const char *primary_id; /* the store to copy; NULL: the mirror's primary, else the store of
                             * the stream's first message */
    int once;               /* apply what the stream holds at start, then return */
    const ent_store_opts *store_opts; /* for creating/opening the mirror; NULL: defaults. Its
                             * durability is stored in a mirror this call creates (default
                             * durable) and applies to this run of an existing one (default: the
                             * stored mode); `entity mirror --durability` sets it. A mirror in
                             * memory works until a newer schema arrives (it cannot evolve:
                             * ENT_INVALID); use LMDB for a lasting one */
    /* Registered on the mirror store (ent_subscribe, every type, ops 0: create, update and
     * delete; an id counter's raise, ENT_OP_LAST_ID, is applied but not handed to it) whenever it
     * is opened: sees each applied event after its transaction committed. NULL: none. */
    ent_event_cb on_event;
    void *event_payload;
    ent_nats_log_cb log;
    void *log_payload;
    /* Version 2: */
    ent_nats_auth auth;     /* TLS files, NKey, credentials; copied by ent_follow_start() */
} ent_follow_opts;
#define ENT_FOLLOW_OPTS_INIT {ENT_FOLLOW_OPTS_VERSION, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, ENT_NATS_AUTH_INIT}

/* Keep the mirror store at `path` (created from the stream's schema messages on first run) a copy
 * of the primary: apply each of its transactions as one transaction with the primary's seq, ts,
 * txn and version, evolve the schema when a newer version arrives, skip duplicates, until *stop
 * (or, with once, the stream's end at start). NATS down: retries with backoff.
 * One mirror per store: for its whole run the mirror holds an flock on "<path>/mirror.lock"
 * (holding its pid; the directory is made when missing), dropped by the system however the
 * process ends; a mirror in memory (store_opts->backend "memory") takes none.
 * Returns ENT_OK; ENT_BUSY (a mirror is already running on path: the message names its pid);
 * ENT_NOTFOUND (no such stream; a seq or a schema version is missing in the stream: the message names
 * it, and the stream's limits that drop its oldest messages, or that it has none; with once, a new
 * mirror on a stream whose messages were all removed, named so too; no messages of primary_id; the mirror's data.mdb removed under it, seen when nothing comes),
 * ENT_CONFLICT (the store at path is not a mirror of that primary; another store moved there under it),
 * ENT_INVALID (bad options, URL or stream name; the server refused the URL's credentials, or
 * their absence, or opts->auth's; its certificate failed verification: not retried; options of
 * opts->auth that do not go together), ENT_IO (a file of opts->auth that cannot be read or is not
 * of its kind, ent_nats_check_auth(): before the directory is made; once: NATS unreachable, or 5 reads in a row lost with nothing applied between them), ENT_CORRUPT (a message that
 * is not an event of the mirror's schema, or events that do not fit its state), the store's codes. */
ENT_EXTERN(int) ent_follow_run(const char *path, const ent_follow_opts *opts, const volatile int *stop);

typedef struct ent_follower ent_follower;
/* ent_follow_run() in a new thread; path and opts (with its strings, and *store_opts with its
 * backend name) are copied: the caller may free or change them once this returns. The directory is
 * claimed before the thread starts, so a second mirror of it is refused by this call (ENT_BUSY).
 * out: ent_follow_stop() stops and frees it. Returns ENT_OK, ENT_BUSY, ENT_INVALID, ENT_NOMEM,
 * ENT_IO (a file of opts->auth, ent_nats_check_auth(); no directory made). */
ENT_EXTERN(int) ent_follow_start(ent_follower **out, const char *path, const ent_follow_opts *opts);
/* Stop, free, and return what ent_follow_run() returned. NULL: ENT_OK. A stop (this one, or
 * *stop raised for ent_follow_run) closes the mirror's connection at once, ending a request that
 * waits for a server that does not answer; a connect under way is not cut short (up to 2 s). */
ENT_EXTERN(int) ent_follow_stop(ent_follower *f);

/* Whether url (one server or a comma-separated list), stream and primary_id are of a form the
 * relay and mirror can take, without connecting to anything: a URL's scheme, host and port, a
 * stream name JetStream can take (1 to 255 bytes, no white space, control characters, '.', '*',
 * '>', '/' or '\'), a store id (1 to 36 bytes, no blanks, '.', '*' or '>'). Any of them NULL is
 * not checked. ent_relay_run() and ent_follow_run() make the same checks; a caller that tells a
 * value that can never be right (its user's mistake) from a server's refusal calls this first:
 * `entity relay` and `entity mirror` exit 2 (wrong usage) on it, 1 on what the server refuses.
 * Returns ENT_OK, or ENT_INVALID naming the value at fault. */
ENT_EXTERN(int) ent_nats_check(const char *url, const char *stream, const char *primary_id);

/* Whether auth can be used with url (NULL: not looked at), without connecting: tls_cert and
 * tls_key both or neither, at most one way to authenticate (nkey_seed, creds, or a user or token
 * in a URL), tls_hostname with TLS (tls:// or tls_ca or a client certificate), and each file named
 * readable (an NKey seed file also of the seed's form; a .creds file's user JWT not expired by its
 * "exp" claim, ENT_IO naming the file and the expiry otherwise, as at each connection). ent_relay_run() and ent_follow_run() make
 * the same checks before anything is made (a mirror's directory). auth NULL: ENT_OK.
 * Returns ENT_OK; ENT_INVALID naming the options at fault (the user's mistake: `entity` exits 2);
 * ENT_IO naming a file that cannot be read and why (exit 1). */
ENT_EXTERN(int) ent_nats_check_auth(const char *url, const ent_nats_auth *auth);

#ifdef __cplusplus
}
#endif
#endif
