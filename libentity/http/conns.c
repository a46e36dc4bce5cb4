/* entity-http: the connections, so that slow clients cannot hold them all (slowloris).
 *
 * libmicrohttpd refuses a connection past its limit and closes one only after an idle timeout,
 * which each byte received starts again: clients that open connections and send their requests a
 * byte at a time, or not at all, held every connection, and everybody else was refused. Here each
 * connection is known from its start to its close, with whether it is waiting for a request (from
 * its start, or since its last answer) and since when:
 * - a request's head and body must arrive within request_timeout_ms of that, or the connection
 *   is closed (a thread sleeps until the nearest such deadline);
 * - a connection past max_clients closes the one that has waited longest for its request, else
 *   the oldest one being answered other than an event stream (a client that stopped reading a
 *   long answer), else itself. A client that sends its request at once waits microseconds, so it
 *   is never the one closed while slow ones are there; event streams are never closed for room.
 * "Closed" is shutdown(): the connection's thread then sees the end of its input and libmicrohttpd
 * closes the socket. A connection leaves the list (under the lock) before its socket is closed
 * (libmicrohttpd notifies the close first), so the fd of one in the list is always its own.
 *
 * Since streams are never closed for room, one client address could open max_clients of them
 * and lock everybody else out for as long as it likes: a stream is taken only while its address
 * has fewer than max_streams_per_addr open (an IPv6 address counts by its /64, which one host
 * usually has whole). Other connections are not counted: they are closed for room and time
 * anyway, and local clients all share 127.0.0.1. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "http_int.h"

struct ent_http_conn {
    ent_http_conn *next, *prev;
    int fd;
    int waiting; /* for a request: since counts */
    int closing; /* shut down here: no longer counted */
    int stream;  /* answering with an event stream: never closed for room */
    unsigned char addr[17]; /* the client address as counted: its length, then its bytes */
    struct timespec since; /* when it began waiting, or answering */
};

static struct timespec now_mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

static int before(struct timespec a, struct timespec b)
{
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

int ent_http__cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    int bad = pthread_condattr_init(&ca);
    if (bad) return bad;
    bad = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) || pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return bad;
}

struct timespec ent_http__plus_ms(struct timespec t, unsigned ms)
{
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Under the lock. */
static void close_conn(ent_http_conns *cs, ent_http_conn *cn)
{
    cn->closing = 1;
    cs->count--;
    if (cn->fd >= 0) shutdown(cn->fd, SHUT_RDWR);
}

static void *reap(void *arg)
{
    ent_http *h = arg;
    ent_http_conns *cs = &h->conns;
    pthread_mutex_lock(&cs->mu);
    while (!cs->stop) {
        struct timespec now = now_mono(), next = {0, 0};
        int have_next = 0;
        for (ent_http_conn *cn = cs->head; cn; cn = cn->next) {
            struct timespec deadline;
            if (!cn->waiting || cn->closing) continue;
            deadline = ent_http__plus_ms(cn->since, cs->timeout_ms);
            if (!before(now, deadline)) close_conn(cs, cn);
            else if (!have_next || before(deadline, next)) next = deadline, have_next = 1;
        }
        /* a connection that starts waiting later has a later deadline than every one seen here,
         * so only the first one wakes this wait early (a signal when the list had none) */
        cs->idle = !have_next;
        if (have_next) pthread_cond_timedwait(&cs->cond, &cs->mu, &next);
        else pthread_cond_wait(&cs->cond, &cs->mu);
    }
    pthread_mutex_unlock(&cs->mu);
    return NULL;
}

int ent_http__conns_start(ent_http *h, unsigned max_clients, unsigned timeout_ms, unsigned max_streams_per_addr)
{
    ent_http_conns *cs = &h->conns;
    cs->max = max_clients;
    cs->max_streams_per_addr = max_streams_per_addr;
    cs->timeout_ms = timeout_ms;
    if (pthread_mutex_init(&cs->mu, NULL)) return ENT_NOMEM;
    /* the deadlines are monotonic: a clock set back must not keep slow clients */
    if (ent_http__cond_init_mono(&cs->cond)) goto fail_mu;
    int err = pthread_create(&cs->thread, NULL, reap, h);
    if (err) {
        pthread_cond_destroy(&cs->cond);
        pthread_mutex_destroy(&cs->mu);
        return ent_http__thread_err(err, "the thread that closes slow connections");
    }
    cs->started = 1;
    return ENT_OK;
fail_mu:
    pthread_mutex_destroy(&cs->mu);
    return ent_error_set(ENT_NOMEM, "out of resources for the server's connections (a lock)");
}

/* A thread that could not be started (pthread_create()'s err): ENT_NOMEM, as before, with why.
 * EAGAIN is most often this user's limit of processes and threads (RLIMIT_NPROC, `ulimit -u`),
 * which the message names with its value; it said "cannot start the relay thread" alone. */
int ent_http__thread_err(int err, const char *what)
{
    struct rlimit rl;
    if (err == EAGAIN && getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return ent_error_set(ENT_NOMEM, "cannot start %s: %s (this user's limit of processes and threads, ulimit -u: %llu, "
                             "or the memory for its stack)", what, strerror(err), (unsigned long long)rl.rlim_cur);
    return ent_error_set(ENT_NOMEM, "cannot start %s: %s", what, strerror(err));
}


void ent_http__conns_stop(ent_http *h)
{
    ent_http_conns *cs = &h->conns;
    if (!cs->started) return;
    pthread_mutex_lock(&cs->mu);
    cs->stop = 1;
    pthread_cond_signal(&cs->cond);
    pthread_mutex_unlock(&cs->mu);
    pthread_join(cs->thread, NULL);
    /* after the daemon stopped, every connection was notified closed: the list is empty */
    while (cs->head) {
        ent_http_conn *cn = cs->head;
        cs->head = cn->next;
        free(cn);
    }
    pthread_cond_destroy(&cs->cond);
    pthread_mutex_destroy(&cs->mu);
    cs->started = 0;
}

/* The evictions at the limit are logged once a minute at most: under a flood, one line per
 * connection would be the flood in the log. Under the lock. */
static void log_evictions(ent_http *h, struct timespec now)
{
    ent_http_conns *cs = &h->conns;
    cs->evicted++;
    if (cs->logged_once && now.tv_sec - cs->logged_at.tv_sec < 60) return;
    ent_http__logf(h, "%u connections at once (the limit): closed %llu that had waited longest for their requests%s", cs->max,
                   (unsigned long long)cs->evicted, cs->logged_once ? " in the last minute" : "");
    cs->logged_at = now;
    cs->logged_once = 1;
    cs->evicted = 0;
}

int ent_http__conns_log_now(ent_http *h, unsigned long long *unsaid)
{
    ent_http_conns *cs = &h->conns;
    struct timespec now = now_mono();
    int say;
    pthread_mutex_lock(&cs->mu);
    say = !cs->mhd_logged_once || now.tv_sec - cs->mhd_logged_at.tv_sec >= 60;
    if (say) {
        *unsaid = cs->mhd_unsaid;
        cs->mhd_unsaid = 0;
        cs->mhd_logged_at = now;
        cs->mhd_logged_once = 1;
    } else {
        cs->mhd_unsaid++;
    }
    pthread_mutex_unlock(&cs->mu);
    return say;
}

/* The address sa as counted per client: IPv4 whole, IPv6 by its /64 (an IPv4-mapped one as the
 * IPv4 address it is). Unknown families count as one address. */
static void addr_key(unsigned char out[17], const struct sockaddr *sa)
{
    memset(out, 0, 17);
    if (!sa) return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        out[0] = 4;
        memcpy(out + 1, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in->sin6_addr)) {
            out[0] = 4;
            memcpy(out + 1, in->sin6_addr.s6_addr + 12, 4);
        } else {
            out[0] = 8;
            memcpy(out + 1, in->sin6_addr.s6_addr, 8);
        }
    }
}

void ent_http__conn_notify(void *cls, struct MHD_Connection *c, void **socket_context, enum MHD_ConnectionNotificationCode code)
{
    ent_http *h = cls;
    ent_http_conns *cs = &h->conns;
    ent_http_conn *cn = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct timespec now = now_mono();
        ent_http_conn *oldest = NULL;
        if (!(cn = calloc(1, sizeof *cn))) {
            /* not known here, it could not be closed for room or time: refused instead */
            if (ci) shutdown(ci->connect_fd, SHUT_RDWR);
            return;
        }
        cn->fd = ci ? ci->connect_fd : -1;
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        addr_key(cn->addr, ci ? ci->client_addr : NULL);
        cn->waiting = 1;
        cn->since = now;
        pthread_mutex_lock(&cs->mu);
        cn->prev = cs->tail;
        if (cs->tail) cs->tail->next = cn;
        else cs->head = cn;
        cs->tail = cn;
        cs->count++;
        if (cs->count > cs->max) {
            /* the one waiting longest (there is one: the new connection waits); a client that
             * stopped reading a long answer holds its connection as surely as a slow sender, so
             * the oldest answer other than a stream goes when none is waiting but the new one */
            for (ent_http_conn *o = cs->head; o; o = o->next)
                if (o->waiting && !o->closing && o != cn && (!oldest || before(o->since, oldest->since))) oldest = o;
            if (!oldest)
                for (ent_http_conn *o = cs->head; o; o = o->next)
                    if (!o->waiting && !o->closing && !o->stream && (!oldest || before(o->since, oldest->since))) oldest = o;
            close_conn(cs, oldest ? oldest : cn);
            log_evictions(h, now);
        }
        if (cs->idle) pthread_cond_signal(&cs->cond);
        pthread_mutex_unlock(&cs->mu);
        *socket_context = cn;
    } else if (cn) {
        pthread_mutex_lock(&cs->mu);
        if (cn->prev) cn->prev->next = cn->next;
        else cs->head = cn->next;
        if (cn->next) cn->next->prev = cn->prev;
        else cs->tail = cn->prev;
        if (!cn->closing) cs->count--;
        pthread_mutex_unlock(&cs->mu);
        free(cn);
        *socket_context = NULL;
    }
}

static ent_http_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void ent_http__conn_answering(ent_http *h, struct MHD_Connection *c)
{
    ent_http_conn *cn = conn_of(c);
    if (!cn) return;
    pthread_mutex_lock(&h->conns.mu);
    cn->waiting = 0;
    cn->since = now_mono();
    pthread_mutex_unlock(&h->conns.mu);
}

int ent_http__conn_streaming(ent_http *h, struct MHD_Connection *c, unsigned *open)
{
    ent_http_conn *cn = conn_of(c);
    unsigned n = 0;
    *open = 0;
    if (!cn) return 0;
    pthread_mutex_lock(&h->conns.mu);
    /* counted and marked under one lock: two streams of one address starting at once cannot
     * both pass as the last one allowed */
    for (ent_http_conn *o = h->conns.head; o; o = o->next)
        if (o != cn && o->stream && !o->closing && !memcmp(o->addr, cn->addr, sizeof cn->addr)) n++;
    if (n < h->conns.max_streams_per_addr) cn->stream = 1;
    pthread_mutex_unlock(&h->conns.mu);
    *open = n;
    return n < h->conns.max_streams_per_addr ? 0 : -1;
}

void ent_http__conn_answered(ent_http *h, struct MHD_Connection *c)
{
    ent_http_conn *cn = conn_of(c);
    if (!cn) return;
    pthread_mutex_lock(&h->conns.mu);
    if (!cn->waiting) {
        cn->waiting = 1;
        cn->stream = 0;
        cn->since = now_mono();
        if (h->conns.idle) pthread_cond_signal(&h->conns.cond);
    }
    pthread_mutex_unlock(&h->conns.mu);
}
