/* Shared by the relay and the mirror: connecting, error texts, state lines, subjects. */
#ifndef ENT_NATS_UTIL_H
#define ENT_NATS_UTIL_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "entity/nats.h"

#define ENATS_SUBJECT_PREFIX "entity."
#define ENATS_ID_MAX 36
#define ENATS_URLS_MAX 16   /* servers in one --nats list */
#define ENATS_URL_MAX 512   /* bytes of one of them */

/* How far JetStream has acknowledged a relay's events, for its host's ent_relay_wait(): every seq
 * up to `done` is in the stream (acknowledged, or found there by a resume). Moved by the ack
 * subscription's thread (on_ack, the moment an ack comes) and by the relay's resume. Counted:
 * the relay handle holds a reference, each connection's ack state holds one (an old connection's
 * late acks may come after the relay is gone, see ent_nats__acks), and each waiter holds one for
 * its wait; whichever lets go last frees it. */
typedef struct ent_nats__progress {
    uint64_t done;            /* atomic; only moves up */
    unsigned waiters;         /* atomic: threads in ent_relay_wait (an advance skips the lock when none) */
    int refs;                 /* atomic */
    int ended;                /* under mu: 1 the relay's run ended (rc, detail, msg); 2 ent_relay_stop() began */
    int rc, detail;
    char msg[1024];
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* CLOCK_MONOTONIC: done moved, or ended set */
    pthread_t runner;         /* the relay's thread, once runner_set (ent_nats__progress_runner) */
    int runner_set;           /* atomic */
} ent_nats__progress;
/* NULL when out of memory; one reference, the caller's. */
ent_nats__progress *ent_nats__progress_new(void);
/* The calling thread is the one that advances p (the relay's), set before it calls any host code. */
void ent_nats__progress_runner(ent_nats__progress *p);
/* 1 when the calling thread is p's runner: a wait there would wait for itself. */
int ent_nats__progress_on_runner(const ent_nats__progress *p);
void ent_nats__progress_ref(ent_nats__progress *p);
void ent_nats__progress_release(ent_nats__progress *p);
/* done = max(done, seq), waking the waiters. p NULL does nothing. */
void ent_nats__progress_advance(ent_nats__progress *p, uint64_t seq);
/* ended = how (1, 2) unless set already, with the run's rc and message (how 1), waking the waiters. */
void ent_nats__progress_end(ent_nats__progress *p, int how, int rc, int detail, const char *msg);

/* What the publish acks report, written by the ack subscription's thread, read by ours (atomics;
 * err is written before failed is set). One per connection, on the heap: an ack of an old
 * connection may still arrive while the next one runs, and must not land in the new one's state,
 * nor in freed memory. libnats runs on_ack on the ack subscription's own delivery thread, which
 * nobody joins: a close only tells it to end once the callback in progress returns. So the state
 * is counted: its connection's owner, libnats's closed callback still to come, and the ack
 * subscription's completion callback still to come (natsSubscription_SetOnCompleteCB: the last
 * thing that thread does with it) each hold a reference; whichever lets go last frees it. */
typedef struct ent_nats__acks {
    int failed;               /* a publish failed; err is set first */
    int refused;              /* 1: JetStream answered no (not a lost connection) */
    char err[256];
    int detail;               /* the refusal's ENT_DETAIL_* (JetStream's err_code), set with err */
    int duplicate;            /* the failure: JetStream dropped the message as a duplicate of the */
    uint64_t dup_of;          /*   one at this stream seq (0: not said); set with err */
    char dup_token[32];       /*   the dropped message's token (its seq; "s<version>": a schema message) */
    uint64_t acked_seq;       /* JetStream acknowledged every Entity-Seq up to this one (from the resume point) */
    int gone_dups_ok;         /* atomic; set by the relay's resume into a stream that holds nothing
                               * of the store (purged, emptied by its limits): until a message is
                               * stored, a duplicate is one stored and removed with the rest since,
                               * and is taken as its ack (on_ack) */
    ent_nats__progress *progress; /* NULL, or the relay's (a reference): acked_seq's moves go there too */
    uint64_t n_acks;          /* acks (and failures) received */
    int waiting;              /* the publishing thread sleeps on cv: signal it */
    int closed;               /* libnats's closed callback came: its reader thread is joined (mu, cv) */
    int refs;                 /* atomic: see above */
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* CLOCK_MONOTONIC */
} ent_nats__acks;

/* A connection with JetStream. Zero it once; connect and close it any number of
 * times; ent_nats__fini() at the end.
 * Publishing (the relay) does not go through libnats's js_PublishMsgAsync(): that keeps every
 * message until its ack, in a map, under a reply subject of its own, and frees it on its ack
 * thread, which was most of the relay's per-message cost. The relay keeps nothing (what a lost
 * connection loses it publishes again from the log, after the stream's last message): it publishes
 * with core NATS and a reply subject "<inbox>.<seq>", and one subscription on "<inbox>.*" reads
 * JetStream's acks. */
typedef struct ent_nats__conn {
    natsConnection *nc;
    jsCtx *js;
    ent_nats__acks *acks;         /* the current connection's */
    natsInbox *inbox;         /* acks come to "<inbox>.<token>" (publishing connections) */
    natsSubscription *ack_sub;
    natsSubscription *sub;    /* the caller's (the mirror's), destroyed by ent_nats__close */
    uint64_t sent_msgs;       /* published on this connection (the publishing thread's) */
    const volatile int *stop; /* the caller's stop flag (NULL: none): ends a wait for acks; a
                               * mirror's subscription closed after it deletes no consumer */
    pthread_mutex_t *guard;   /* NULL, or a watcher's (ent_nats__watch): nc changes under it */
    ent_nats__progress *progress; /* NULL, or the relay's (borrowed): each connection's acks take a reference */
} ent_nats__conn;

/* A thread that closes c's connection once *stop is raised, so that a stop does not wait for a
 * server that does not answer: libnats's requests (JetStream's API waits 5 s for an answer) end
 * at once when their connection is closed, from any thread. It does not end a connect in progress
 * (natsConnection_Connect cannot be cut short: up to its 2 s timeout), nor the flush of a close
 * with bytes still to write (libnats's own 500 ms). stop may be raised by a signal handler, which
 * cannot signal a condition variable: the thread looks every ENATS_WATCH_MS. */
#define ENATS_WATCH_MS 20
typedef struct ent_nats__watch {
    pthread_t th;
    pthread_mutex_t mu;       /* c->guard; and done */
    pthread_cond_t cv;        /* CLOCK_MONOTONIC: done */
    int done, running;
    ent_nats__conn *c;
    const volatile int *stop;
} ent_nats__watch;
/* Watch c (its connection, while it has one) for *stop. stop NULL: nothing to watch, no thread.
 * ENT_NOMEM when the thread cannot start. ent_nats__watch_end() in any case, before c goes. */
int ent_nats__watch_start(ent_nats__watch *w, ent_nats__conn *c, const volatile int *stop);
void ent_nats__watch_end(ent_nats__watch *w);

/* The URL is one we can try: "nats://", "tls://" or "host:port", no spaces; or a comma-separated
 * list of such (blanks around the commas allowed). ENT_INVALID names the one at fault. */
int ent_nats__check_url(const char *url);
/* url (one or a comma-separated list) as state lines and messages show it: a password or token
 * in a server's user info ("nats://user:pw@host", "nats://token@host") replaced by "***". The
 * URL was printed whole in every line ("connected to ...", "NATS at ...: ..."), a secret written
 * to whatever keeps the logs. out: size bytes, cut short if need be. */
void ent_nats__url_shown(char *out, size_t size, const char *url);
/* A name JetStream can take for a stream, and in the subjects of its API: 1 to 255 bytes, none of
 * them white space, a control character, '.', '*', '>', '/' or '\'. ENT_INVALID names it: a name
 * the server refuses would be retried (relay) or waited for (mirror) forever. */
int ent_nats__check_stream(const char *name);
/* A store id as a primary id: 1 to ENATS_ID_MAX bytes, none of them ' ', '.', '*' or '>' (they
 * would change the subjects it is read from). ENT_INVALID names it. */
int ent_nats__check_id(const char *id);
/* Connect (no client-side reconnect: a broken connection is replaced, see nats.h) and make the
 * JetStream context. window > 0: a publishing connection, with the ack subscription sized for
 * window acks in flight. ENT_IO on failure. */
int ent_nats__connect(ent_nats__conn *c, const char *url, const ent_nats_auth *auth, int window);
/* auth's strings copied into dst (NULL stay NULL), for a relay or mirror in a thread of its own;
 * ent_nats__auth_free() frees them. ENT_NOMEM. */
int ent_nats__auth_dup(ent_nats_auth *dst, const ent_nats_auth *src);
/* One warning line through log (who: "relay", "mirror") for each secret file of a (NKey seed,
 * .creds, TLS key) that its group or every user may read or write, naming it and its mode. */
void ent_nats__auth_warn_modes(const ent_nats_auth *a, const char *who, ent_nats_log_cb log, void *payload);
void ent_nats__auth_free(ent_nats_auth *a);
/* "<inbox>.<token>" into buf (at least 64 bytes): the reply subject of a publish. */
void ent_nats__reply(const ent_nats__conn *c, char *buf, size_t size, const char *token);
/* *same: whether m's body is s's logged event seq as far as its seq, ts and txn go: what tells
 * one history's event from another's under the same store id and seq (a primary restored from a
 * backup, a copy of it), whichever schema version rendered the rest. ENT_NOTFOUND when the log
 * no longer holds seq (nothing to compare with). */
int ent_nats__same_event(int *same, natsMsg *m, ent_store *s, uint64_t seq);
/* Publish m (its reply from ent_nats__reply) and count it; m stays the caller's. ENT_IO on failure;
 * ENT_FULL when m is larger than the server's max_payload (no new connection changes that). */
int ent_nats__publish(ent_nats__conn *c, natsMsg *m);
/* Wait while `limit` or more publishes await their ack (limit 1: until every ack is in), at most
 * timeout_ms. ENT_OK also when a failure was reported or the connection closed (the caller looks
 * at acks->failed and ent_nats__closed); ENT_IO on the timeout, the message saying how many acks are
 * missing; ENT_TIMEOUT when c->stop was raised meanwhile. */
int ent_nats__wait_acks(ent_nats__conn *c, uint64_t limit, int timeout_ms);
/* Unsubscribes ack_sub and sub, closes the connection, and destroys them once libnats says its
 * reader thread is gone (see there). */
void ent_nats__close(ent_nats__conn *c);
void ent_nats__fini(ent_nats__conn *c);
/* The connection closed under us (the server went away). */
int ent_nats__closed(const ent_nats__conn *c);
/* ent_error_set(code, "<what>: <nats text>") */
int ent_nats__err(int code, natsStatus s, jsErrCode jerr, const char *what);
/* One state line through cb or to stderr. */
void ent_nats__log(ent_nats_log_cb cb, void *payload, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* *stop, read as another thread or a signal handler may set it. */
static inline int ent_nats__stopped(const volatile int *stop) { return stop && __atomic_load_n(stop, __ATOMIC_RELAXED); }
/* Sleep ms milliseconds, waking early when *stop is set. */
void ent_nats__nap(int ms, const volatile int *stop);
/* The stream's last message on `subject` (a filter: * and > allowed). out: NULL when there is
 * none; the caller destroys it. nats-server 2.9 answers "no message found" for a filter whose
 * subjects lost their last message (deleted by hand), though earlier ones are there: when it
 * says none of a stream that holds messages, the last WALK_MAX positions are read back one by
 * one. ENT_IO names what failed. */
int ent_nats__last_msg(natsMsg **out, jsCtx *js, const char *stream, const char *subject);
/* 1 when every subject that filter `want` (literal tokens, ending in ">") matches is matched by
 * the stream's subject `have` ("*" any one token, ">" the rest). */
int ent_nats__subject_covers(const char *have, const char *want);
/* One relay, or one mirror, per store: an flock on "<dir>/<who>.lock" (who: "relay" or "mirror"),
 * held until ent_nats__unlock_dir(*out); the kernel drops it with its holder, however that dies
 * (SIGKILL too), so it never goes stale, and two opens conflict within one process too. The file
 * holds the holder's pid, for the message. dir is made when missing (a mirror's, before its store).
 * ENT_BUSY: "store <dir>: a <who> is already running on it (pid N); one <who> per store". */
int ent_nats__lock_dir(int *out, const char *dir, const char *who);
/* ENT_NOMEM naming what could not be started and why (pthread_create()'s err; EAGAIN: ulimit -u). */
int ent_nats__thread_err(int err, const char *what);
/* As ent_nats__lock_dir(), and *made: 1 when this call made dir (a mirror's first run). */
int ent_nats__lock_new_dir(int *out, int *made, const char *dir, const char *who);
void ent_nats__unlock_dir(int fd);
/* The lock fd of dir, which this run made and failed in, given up: when dir holds no store (the
 * run failed before the stream's first message made it: an unreachable server, no stream), the
 * lock file and any LMDB files without a store go, and dir with them, as a failed `entity init`
 * leaves none (a directory with only mirror.lock read as a mirror's, "no libentity store" to
 * every command). A store, or what may be one (damaged), is kept. code: the run's error, whose
 * message the thread keeps. */
void ent_nats__unlock_failed_dir(int fd, const char *dir, const char *who, int code);
/* A header value as u64; 0 and ENT_NOTFOUND when absent or malformed. */
int ent_nats__header_u64(uint64_t *out, natsMsg *m, const char *key);

/* path made absolute against the current directory (not resolved: symbolic links stay), for a
 * mirror's directory, which the mirror opens again long after its start (its first schema
 * message, each evolution) and cleans up at its end: a host that changed its directory meanwhile
 * had it open, make, or empty the relative path under the new one. out: the caller frees it.
 * Returns ENT_OK (path NULL: *out NULL), ENT_NOMEM, ENT_IO (no current directory). */
int ent_nats__abs_path(char **out, const char *path);

/* ENT_OK while s is the store at its path (ent_store_check_path(), or it cannot tell); else its
 * code (ENT_NOTFOUND removed, ENT_CONFLICT another store there) with its message, saying `who`
 * ("relay", "mirror") stops and why. */
int ent_nats__store_moved(ent_store *s, const char *who, const char *why);

/* The ENT_DETAIL_* of a JetStream refusal: d, n bytes, the answer; desc, k bytes, its
 * "description" (nats_util.c says which err_codes mean what). */
int ent_nats__refusal_detail(const char *d, size_t n, const char *desc, size_t k);

#endif
