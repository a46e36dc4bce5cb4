/* entity-http: the event log as Server-Sent Events.
 *
 * One follower thread reads the log (woken by ent_log_wait(), which also sees commits of other
 * processes), renders each event once as an SSE message ("id: SEQ", "event: OP", "data: JSON"),
 * and appends it to the queue of every live client whose filter takes it. A client first catches
 * up (from its `from` or Last-Event-ID): from the messages the follower rendered lately when they
 * reach back far enough, else on its own log cursor; it joins the live list once it has reached
 * the follower, under the hub's lock, so no event is sent twice or missed. Each connection has a thread of its own that blocks in the response's reader until its
 * queue holds bytes.
 *
 * A client whose queue would grow past client_buffer (it reads slower than the log grows) is dropped
 * (an empty queue takes one message of any length):
 * its queue is freed and its socket shut down, so neither the follower nor any writer ever waits
 * for it; it resumes with Last-Event-ID like any browser whose connection broke. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http_int.h"

#define FOLLOW_BATCH 256  /* events the follower renders per hand-out */
#define CATCHUP_BATCH 64  /* events a catching-up client renders per round */
#define CATCHUP_BYTES (256 * 1024) /* bytes a catching-up client copies from recent per round */
/* The longest the follower blocks in ent_log_wait() without looking at the stop flag: how late a
 * stop (and `entity serve`'s exit) can be. 20 looks a second at an idle log, each a read
 * transaction: about 1 ms of CPU a second more than the 4 of 250 ms waits (measured, Release). */
#define FOLLOW_SLICE_MS 50
/* What the follower keeps rendered: 100 clients catching up (a reconnect storm after a restart of
 * the clients' side, pages opened with from=) then copy instead of each decoding and rendering. */
#define RECENT_MAX 16384  /* messages (a power of two) */
#define RECENT_BYTES ((size_t)64 << 20)
/* How often an idle stream looks whether its client has gone (peer_gone()): a client that left
 * held its stream, and its address's share of --max-streams-per-address, until the second
 * heartbeat after (30 s by default). A look is one recv() that reads nothing. */
#define PEER_SLICE_MS 1000

struct ent_http_client {
    ent_http_client *next, *prev;
    ent_http *h;
    int fd;
    char addr[64];
    char type[ENT_NAME_MAX + 1]; /* filter: "" for every type */
    unsigned ops;                /* filter: 0 for every op */
    uint64_t next_seq;           /* live: events below it were sent while catching up */
    uint64_t pos;                /* catching up: the next seq to look at */
    ent_log_cursor *cur;         /* catching up from the log: at pos; NULL otherwise */
    int live, dropped, failed;
    char *q;                     /* bytes to send: q[off, len) */
    size_t len, off, cap;
    pthread_cond_t cond;
};

/* Append n bytes to the client's queue. Returns 0, or -1 when it would pass limit (or memory).
 * An empty queue takes one message of any length: one event longer than limit (an entity over
 * the default 1 MiB) dropped every live client, however fast it read, with the event unsent; a
 * client resumed after it only with an id it had been sent. A queue holds at most the larger
 * of limit and one message. */
static int q_add(ent_http_client *cl, const char *p, size_t n, size_t limit)
{
    if (cl->off && cl->off == cl->len) cl->off = cl->len = 0;
    if (cl->len > cl->off && cl->len - cl->off + n > limit) return -1;
    if (cl->len + n > cl->cap) {
        size_t cap = cl->cap ? cl->cap : 4096;
        char *q;
        if (cl->off) { /* compact before growing */
            memmove(cl->q, cl->q + cl->off, cl->len - cl->off);
            cl->len -= cl->off;
            cl->off = 0;
        }
        while (cap < cl->len + n) cap *= 2;
        if (cap != cl->cap) {
            if (!(q = realloc(cl->q, cap))) return -1;
            cl->q = q;
            cl->cap = cap;
        }
    }
    memcpy(cl->q + cl->len, p, n);
    cl->len += n;
    return 0;
}

static const char *op_name(int op)
{
    return op == ENT_OP_CREATE ? "create" : op == ENT_OP_UPDATE ? "update" : op == ENT_OP_DELETE ? "delete"
         : op == ENT_OP_LAST_ID ? "last_id" : "unknown";
}

/* "id: SEQ\nevent: OP\ndata: JSON\n\n", the event as it was written (as /api/events has it).
 * out: the caller frees it. The event JSON is one line (strings escape their newlines), as one
 * data: line needs. */
static char *render(ent_http *h, const ent_event *ev, size_t *out_len)
{
    char *j = NULL, *m;
    size_t n;
    if (ent_http__event_json(&j, h->s, ev) != ENT_OK) return NULL;
    n = strlen(j) + 64;
    if ((m = malloc(n))) *out_len = (size_t)snprintf(m, n, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)ev->seq, op_name(ev->op), j);
    free(j);
    return m;
}

/* ev passes the client's filter (type by name: the handle the request named may be of an older
 * schema). */
static int wanted(const ent_http_client *cl, const ent_event *ev)
{
    return (!cl->ops || (cl->ops & (unsigned)ev->op)) && (!cl->type[0] || !strcmp(cl->type, ent_type_name(ev->type)));
}

static int takes(const ent_http_client *cl, const ent_event *ev)
{
    return ev->seq >= cl->next_seq && wanted(cl, ev);
}

/* The comment a stream gets where events from..to were trimmed from the log (trim --force)
 * before it read them: a log cursor goes on at the first event kept, which a client otherwise
 * took for the next one. A new string (NULL: no memory), its length in *len. */
static char *trimmed_note(uint64_t from, uint64_t to, size_t *len)
{
    char *m = malloc(128);
    int n;
    if (!m) return NULL;
    if (from == to) n = snprintf(m, 128, ": event %llu was trimmed from the log before it was sent\n\n", (unsigned long long)from);
    else
        n = snprintf(m, 128, ": events %llu to %llu were trimmed from the log before they were sent\n\n", (unsigned long long)from,
                     (unsigned long long)to);
    *len = (size_t)n;
    return m;
}

static void unlink_live(ent_http_hub *hb, ent_http_client *cl)
{
    if (!cl->live) return;
    if (cl->prev) cl->prev->next = cl->next;
    else hb->live = cl->next;
    if (cl->next) cl->next->prev = cl->prev;
    cl->next = cl->prev = NULL;
    cl->live = 0;
}

/* Under the hub's lock. */
static void drop(ent_http *h, ent_http_client *cl, uint64_t seq)
{
    ent_http__logf(h, "dropped the event stream of %s at seq %llu: more than %zu bytes waited for it (it may resume with Last-Event-ID)",
                   cl->addr, (unsigned long long)seq, h->client_buffer);
    unlink_live(&h->hub, cl);
    cl->dropped = 1;
    free(cl->q);
    cl->q = NULL;
    cl->len = cl->off = cl->cap = 0;
    /* The connection's thread may be blocked sending to it: shutting the socket down wakes it and
     * MHD closes the connection. The fd is still the connection's: the client leaves the list
     * (in stream_free) before MHD closes the socket. */
    if (cl->fd >= 0) shutdown(cl->fd, SHUT_RDWR);
    pthread_cond_signal(&cl->cond);
}

static int takes_recent(const ent_http_client *cl, const ent_http_recent *r)
{
    return r->msg && (!cl->ops || (cl->ops & r->op)) && (!cl->type[0] || !strcmp(cl->type, r->type));
}

/* Keep ev's message (taken; may be NULL) as the newest recent one, dropping the oldest ones past
 * the count or the bytes. Under the hub's lock. The kept seqs are contiguous, so seq % RECENT_MAX
 * finds one; a gap (never in a log) starts over. */
static void recent_drop_oldest(ent_http_hub *hb)
{
    ent_http_recent *r = &hb->recent[hb->recent_first++ % RECENT_MAX];
    hb->recent_bytes -= r->len;
    free(r->msg);
    memset(r, 0, sizeof *r);
}

static void recent_add(ent_http_hub *hb, const ent_event *ev, char *msg, size_t len)
{
    ent_http_recent *r;
    if (hb->recent_end != ev->seq) { /* a gap: start over */
        while (hb->recent_first < hb->recent_end) recent_drop_oldest(hb);
        hb->recent_first = hb->recent_end = ev->seq;
    }
    while (hb->recent_first < hb->recent_end &&
           (ev->seq - hb->recent_first >= RECENT_MAX || hb->recent_bytes + (msg ? len : 0) > RECENT_BYTES))
        recent_drop_oldest(hb);
    r = &hb->recent[ev->seq % RECENT_MAX];
    r->seq = ev->seq;
    r->msg = msg;
    r->len = msg ? len : 0;
    r->op = (unsigned)ev->op;
    snprintf(r->type, sizeof r->type, "%s", ent_type_name(ev->type));
    hb->recent_bytes += r->len;
    hb->recent_end = ev->seq + 1;
}

static void *follow(void *arg)
{
    ent_http *h = arg;
    ent_http_hub *hb = &h->hub;
    ent_log_cursor *cur = NULL;
    ent_event *evs[FOLLOW_BATCH];
    char *msgs[FOLLOW_BATCH], *notes[FOLLOW_BATCH]; /* notes[i]: events trimmed before evs[i] */
    size_t lens[FOLLOW_BATCH], note_lens[FOLLOW_BATCH];
    int rc, failing = 0;
    pthread_mutex_lock(&hb->mu);
    rc = ent_log_cursor_open(&cur, h->s, hb->next, NULL, ENT_OP_ALL); /* the id counters' raises too */
    pthread_mutex_unlock(&hb->mu);
    if (rc) {
        ent_http__logf(h, "event stream: cannot read the log: %s", ent_errmsg());
        return NULL;
    }
    for (;;) {
        size_t n = 0;
        int stop;
        pthread_mutex_lock(&hb->mu);
        stop = hb->stop;
        pthread_mutex_unlock(&hb->mu);
        if (stop) break;
        /* rendered as read, and no more than about CATCHUP_BYTES at a time: 256 big events
         * would all be held twice (decoded and rendered) before any client got one */
        uint64_t expect = hb->next; /* written by this thread only */
        for (size_t bytes = 0; n < FOLLOW_BATCH && bytes < CATCHUP_BYTES && (rc = ent_http__log_next(&evs[n], cur)) == ENT_OK; n++) {
            msgs[n] = render(h, evs[n], &lens[n]);
            bytes += msgs[n] ? lens[n] : 0;
            notes[n] = evs[n]->seq > expect ? trimmed_note(expect, evs[n]->seq - 1, &note_lens[n]) : NULL;
            expect = evs[n]->seq + 1;
        }
        if (rc != ENT_OK && rc != ENT_NOTFOUND) {
            if (!failing) ent_http__logf(h, "event stream: reading the log at seq %llu: %s", (unsigned long long)ent_log_cursor_pos(cur), ent_errmsg());
            failing = 1;
        } else {
            failing = 0;
        }
        if (n == 0) {
            /* Nothing new: sleep in the store's wait, which a commit of this or another process
             * ends at once. Nothing can end that wait but a commit or its timeout, and a stop
             * joins this thread: so the wait is cut in slices of FOLLOW_SLICE_MS with a look at
             * the stop flag between them (a wait of 250 ms at once made every stop, and with it
             * `entity serve`'s exit on SIGTERM, take up to that long). A slice is one look at
             * the log; a log that failed to read is looked at again after 1 s, not each slice. */
            int waited = 0, want = failing ? 1000 : 250;
            do {
                rc = ent_log_wait(NULL, h->s, ent_log_cursor_pos(cur) - 1, FOLLOW_SLICE_MS);
                waited += FOLLOW_SLICE_MS;
                pthread_mutex_lock(&hb->mu);
                stop = hb->stop;
                pthread_mutex_unlock(&hb->mu);
            } while (rc == ENT_TIMEOUT && !stop && waited < want);
            if (rc != ENT_OK && rc != ENT_TIMEOUT && !stop) {
                /* a wait that fails at once must not turn this loop into a spin */
                struct timespec pause = {0, FOLLOW_SLICE_MS * 1000 * 1000};
                for (int i = 0; i < 2 && !stop; i++) {
                    nanosleep(&pause, NULL);
                    pthread_mutex_lock(&hb->mu);
                    stop = hb->stop;
                    pthread_mutex_unlock(&hb->mu);
                }
            }
            continue;
        }
        pthread_mutex_lock(&hb->mu);
        for (ent_http_client *cl = hb->live, *nx; cl; cl = nx) {
            int got = 0;
            nx = cl->next;
            for (size_t i = 0; i < n; i++) {
                if (notes[i] && evs[i]->seq > cl->next_seq) { /* every client: the trimmed ones may have been its */
                    if (q_add(cl, notes[i], note_lens[i], h->client_buffer)) {
                        drop(h, cl, evs[i]->seq);
                        got = 0;
                        break;
                    }
                    got = 1;
                }
                if (!msgs[i] || !takes(cl, evs[i])) continue;
                if (q_add(cl, msgs[i], lens[i], h->client_buffer)) {
                    drop(h, cl, evs[i]->seq);
                    got = 0;
                    break;
                }
                got = 1;
            }
            if (got) pthread_cond_signal(&cl->cond);
        }
        for (size_t i = 0; i < n; i++) recent_add(hb, evs[i], msgs[i], lens[i]); /* takes msgs[i] */
        hb->next = ent_log_cursor_pos(cur);
        pthread_mutex_unlock(&hb->mu);
        for (size_t i = 0; i < n; i++) {
            if (!msgs[i]) ent_http__logf(h, "event stream: cannot render event %llu", (unsigned long long)evs[i]->seq);
            ent_event_free(evs[i]);
            free(notes[i]);
        }
    }
    ent_log_cursor_free(cur);
    return NULL;
}

int ent_http__hub_start(ent_http *h)
{
    ent_http_hub *hb = &h->hub;
    uint64_t last = 0;
    int rc;
    if ((rc = ent_log_bounds(NULL, &last, h->s, NULL))) return rc;
    if (!(hb->recent = calloc(RECENT_MAX, sizeof *hb->recent)))
        return ent_error_set(ENT_NOMEM, "out of memory for the event stream's recent events");
    if (pthread_mutex_init(&hb->mu, NULL)) {
        free(hb->recent);
        return ent_error_set(ENT_NOMEM, "out of resources for the event stream (a lock, a thread)");
    }
    if (ent_http__cond_init_mono(&hb->gone)) {
        pthread_mutex_destroy(&hb->mu);
        free(hb->recent);
        return ent_error_set(ENT_NOMEM, "out of resources for the event stream (a lock, a thread)");
    }
    hb->next = hb->recent_first = hb->recent_end = last + 1;
    int err = pthread_create(&hb->thread, NULL, follow, h);
    if (err) {
        pthread_cond_destroy(&hb->gone);
        pthread_mutex_destroy(&hb->mu);
        free(hb->recent);
        return ent_http__thread_err(err, "the event stream's thread");
    }
    hb->started = 1;
    return ENT_OK;
}

void ent_http__hub_free(ent_http *h)
{
    ent_http_hub *hb = &h->hub;
    if (!hb->recent) return;
    while (hb->recent_first < hb->recent_end) recent_drop_oldest(hb);
    free(hb->recent);
    hb->recent = NULL;
    pthread_cond_destroy(&hb->gone);
    pthread_mutex_destroy(&hb->mu);
}

void ent_http__hub_stop(ent_http *h)
{
    ent_http_hub *hb = &h->hub;
    if (!hb->started) return;
    pthread_mutex_lock(&hb->mu);
    hb->stop = 1;
    for (ent_http_client *cl = hb->live; cl; cl = cl->next) pthread_cond_signal(&cl->cond);
    pthread_mutex_unlock(&hb->mu);
    pthread_join(hb->thread, NULL);
    hb->started = 0;
    /* the mutex and the recent messages live on until the daemon is stopped (hub_free):
     * connection threads still take them */
}

void ent_http__hub_drain(ent_http *h, unsigned ms)
{
    ent_http_hub *hb = &h->hub;
    struct timespec until;
    if (!hb->recent) return;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until = ent_http__plus_ms(until, ms);
    pthread_mutex_lock(&hb->mu);
    /* a client that reads nothing keeps its answer unsent: the bound lets the stop go on */
    while (hb->streams && pthread_cond_timedwait(&hb->gone, &hb->mu, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&hb->mu);
}

/* ---- one client --------------------------------------------------------------------------- */

/* Catch up on the client's own log cursor (opened at pos): render up to a batch into its queue,
 * and no more once the queue holds CATCHUP_BYTES: a client that is not live is under no
 * client_buffer, and 64 big events rendered ahead for one that stopped reading were all held.
 * Called without the lock: the follower does not touch a client that is not live, and pos is
 * the client's own until then. Returns 0 or a libentity code. */
static int catch_up(ent_http_client *cl)
{
    ent_event *ev;
    int rc = ENT_OK;
    if (cl->cur && ent_log_cursor_pos(cl->cur) != cl->pos) {
        ent_log_cursor_free(cl->cur);
        cl->cur = NULL;
    }
    if (!cl->cur) {
        if (cl->type[0] && !ent_store_type(cl->h->s, cl->type)) return ENT_SCHEMA;
        /* Unfiltered (wanted() filters): a cursor goes on at the first event kept when a trim
         * (--force) takes events it has not read yet, and a filtered one skips seqs of its own,
         * so only an unfiltered one shows the jump, which the client is told of (it went on in
         * silence, as if nothing was missing). */
        if ((rc = ent_log_cursor_open(&cl->cur, cl->h->s, cl->pos, NULL, ENT_OP_ALL))) return rc;
    }
    uint64_t expect = cl->pos;
    for (int i = 0; i < CATCHUP_BATCH && cl->len - cl->off < CATCHUP_BYTES && (rc = ent_http__log_next(&ev, cl->cur)) == ENT_OK; i++) {
        size_t n;
        char *m;
        if (ev->seq > expect) {
            if (!(m = trimmed_note(expect, ev->seq - 1, &n))) {
                ent_event_free(ev);
                return ENT_NOMEM;
            }
            pthread_mutex_lock(&cl->h->hub.mu);
            rc = q_add(cl, m, n, (size_t)-1);
            pthread_mutex_unlock(&cl->h->hub.mu);
            free(m);
            if (rc) {
                ent_event_free(ev);
                return ENT_NOMEM;
            }
        }
        expect = ev->seq + 1;
        if (!wanted(cl, ev)) {
            ent_event_free(ev);
            continue;
        }
        m = render(cl->h, ev, &n);
        ent_event_free(ev);
        if (!m) return ENT_NOMEM;
        pthread_mutex_lock(&cl->h->hub.mu);
        rc = q_add(cl, m, n, (size_t)-1);
        pthread_mutex_unlock(&cl->h->hub.mu);
        free(m);
        if (rc) return ENT_NOMEM;
    }
    cl->pos = ent_log_cursor_pos(cl->cur);
    return rc == ENT_NOTFOUND ? ENT_OK : rc;
}

/* Whether the idle stream's client is gone: 1 for a connection reset (the socket's error), -1
 * for the client's end of the connection closed (its FIN: a closed client, or one that only
 * half-closed after its request and still reads), 0 when nothing says so. Reads nothing: a peek
 * that does not wait. An SSE client sends nothing after its request, so no byte is in the way. */
static int peer_gone(const ent_http_client *cl)
{
    char c;
    ssize_t n;
    if (cl->fd < 0) return 0;
    n = recv(cl->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return -1;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return 1;
    return 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    ent_http_client *cl = cls;
    ent_http *h = cl->h;
    ent_http_hub *hb = &h->hub;
    static const char beat[] = ": heartbeat\n";
    (void)pos;
    pthread_mutex_lock(&hb->mu);
    for (;;) {
        if (hb->stop) {
            pthread_mutex_unlock(&hb->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        /* a failed client's queue is sent first: the events read before the failure and the
         * comment that names it (they were thrown away, and the client saw its stream end with
         * nothing said, to end the same way at each reconnect) */
        if (cl->dropped || (cl->failed && cl->len == cl->off)) {
            pthread_mutex_unlock(&hb->mu);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (cl->len > cl->off) {
            size_t n = cl->len - cl->off < max ? cl->len - cl->off : max;
            memcpy(buf, cl->q + cl->off, n);
            cl->off += n;
            pthread_mutex_unlock(&hb->mu);
            return (ssize_t)n;
        }
        if (!cl->live) {
            int rc;
            if (cl->pos >= hb->next) {
                /* caught up: the follower hands over from here, nothing below next_seq twice */
                cl->next_seq = cl->pos;
                ent_log_cursor_free(cl->cur);
                cl->cur = NULL;
                cl->live = 1;
                cl->prev = NULL;
                cl->next = hb->live;
                if (hb->live) hb->live->prev = cl;
                hb->live = cl;
                continue;
            }
            if (cl->pos >= hb->recent_first && cl->pos < hb->recent_end) {
                /* copies of what the follower rendered: no decoding, no rendering */
                size_t added = 0;
                while (cl->pos < hb->recent_end && added < CATCHUP_BYTES) {
                    const ent_http_recent *r = &hb->recent[cl->pos % RECENT_MAX];
                    if (takes_recent(cl, r)) {
                        if (q_add(cl, r->msg, r->len, (size_t)-1)) {
                            ent_http__logf(h, "event stream of %s: out of memory at seq %llu", cl->addr, (unsigned long long)cl->pos);
                            cl->failed = 1;
                            break;
                        }
                        added += r->len;
                    }
                    cl->pos++;
                }
                continue;
            }
            {
                uint64_t before = cl->pos;
                pthread_mutex_unlock(&hb->mu);
                rc = catch_up(cl);
                pthread_mutex_lock(&hb->mu);
                if (rc) {
                    /* A damaged event record (or any read failure) named to the client too, in a
                     * comment, before the stream ends: it was said on the server's stderr only. */
                    char note[600];
                    int n = snprintf(note, sizeof note, ": the log cannot be read on from here: %s; the stream ends (entity check names any damage)",
                                     ent_errmsg());
                    size_t len = n < 0 ? 0 : (size_t)n < sizeof note - 2 ? (size_t)n : sizeof note - 3;
                    for (size_t i = 0; i < len; i++)
                        if (note[i] == '\n' || note[i] == '\r') note[i] = ' '; /* one comment line */
                    memcpy(note + len, "\n\n", 2);
                    ent_http__logf(h, "event stream of %s: reading the log: %s", cl->addr, ent_errmsg());
                    q_add(cl, note, len + 2, (size_t)-1); /* (out of memory: it ends without it, as before) */
                    cl->failed = 1;
                } else if (cl->pos == before && cl->len == cl->off && !hb->stop) {
                    /* The log ended below the follower's position: not expected (the follower
                     * read those events), but if it happens, wait for the follower rather than
                     * spin on the log. */
                    struct timespec until;
                    clock_gettime(CLOCK_MONOTONIC, &until); /* cl->cond's clock */
                    until = ent_http__plus_ms(until, 50);
                    pthread_cond_timedwait(&cl->cond, &hb->mu, &until);
                }
            }
            continue;
        }
        {
            /* Idle until the next heartbeat, looking every PEER_SLICE_MS whether the client left.
             * A client that closed its connection is found only by writing to it: the first
             * write after its FIN goes out, its RST comes back, and only the next write fails;
             * with nothing but heartbeats to write, its stream stayed open for two of them. Its
             * FIN is seen here instead and a heartbeat goes out at once, and one more at the next
             * look, which fails (the RST of the first one leaves no error to look at: the
             * socket is closed, and a peek reads its end again). A client that only half-closed
             * after its request, and reads on, gets a heartbeat at each look. */
            struct timespec until, slice;
            int timed_out = 0, gone = 0;
            clock_gettime(CLOCK_MONOTONIC, &until); /* cl->cond's clock */
            until = ent_http__plus_ms(until, h->heartbeat_ms);
            for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &slice);
                slice = ent_http__plus_ms(slice, PEER_SLICE_MS);
                if (until.tv_sec < slice.tv_sec || (until.tv_sec == slice.tv_sec && until.tv_nsec < slice.tv_nsec)) slice = until;
                if (pthread_cond_timedwait(&cl->cond, &hb->mu, &slice) != ETIMEDOUT || hb->stop || cl->dropped ||
                    cl->len != cl->off)
                    break; /* woken: an event, a drop or the stop */
                if (slice.tv_sec == until.tv_sec && slice.tv_nsec == until.tv_nsec) {
                    timed_out = 1;
                    break;
                }
                if ((gone = peer_gone(cl))) break;
            }
            if (gone == 1) {
                pthread_mutex_unlock(&hb->mu);
                return MHD_CONTENT_READER_END_WITH_ERROR; /* libmicrohttpd closes the connection */
            }
            if ((timed_out || gone == -1) && max >= sizeof beat - 1) {
                /* a comment line: keeps proxies from closing an idle stream, and finds dead peers */
                pthread_mutex_unlock(&hb->mu);
                memcpy(buf, beat, sizeof beat - 1);
                return (ssize_t)(sizeof beat - 1);
            }
        }
    }
}

static void stream_free(void *cls)
{
    ent_http_client *cl = cls;
    ent_http_hub *hb = &cl->h->hub;
    pthread_mutex_lock(&hb->mu);
    unlink_live(hb, cl);
    if (--hb->streams == 0) pthread_cond_broadcast(&hb->gone);
    pthread_mutex_unlock(&hb->mu);
    ent_log_cursor_free(cl->cur);
    pthread_cond_destroy(&cl->cond);
    free(cl->q);
    free(cl);
}

/* The client's address ("a client" when unknown) into buf, with ":PORT" when port. */
static void client_addr(char *buf, size_t size, struct MHD_Connection *c, int port)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    char ip[48] = "?";
    unsigned p = 0;
    snprintf(buf, size, "a client");
    if (!sa) return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        p = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in->sin6_addr, ip, sizeof ip);
        p = ntohs(in->sin6_port);
    }
    if (port) snprintf(buf, size, "%s:%u", ip, p);
    else snprintf(buf, size, "%s", ip);
}

/* GET /api/events/stream?from=SEQ&type=T&op=OP, with Last-Event-ID taking over from `from` when a
 * browser reconnects. Without either, the stream starts after the last event. */
enum MHD_Result ent_http__stream(ent_http *h, struct MHD_Connection *c, ent_http_args *a)
{
    enum MHD_Result mrc = MHD_NO;
    const char *from_text = ent_http__arg(a, "from");
    char idb[64];
    const char *last_id = ent_http__header(c, MHD_HTTP_HEADER_LAST_EVENT_ID, idb, sizeof idb);
    const union MHD_ConnectionInfo *ci;
    const ent_type *t;
    unsigned ops;
    uint64_t from = 0, first = 0, last = 0;
    unsigned open;
    ent_http_client *cl;
    struct MHD_Response *resp;
    char head[200];
    int rc;
    if (ent_http__event_filter(&t, &ops, h->s, a, c, &mrc)) return mrc;
    for (size_t i = 0; i < a->n; i++)
        if (!a->v[i].used) return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "unknown parameter \"%s\"", a->v[i].name);
    /* from is checked even when Last-Event-ID wins over it: a bad parameter is refused, never
     * passed over */
    if (from_text) {
        char *end;
        errno = 0;
        from = strtoull(from_text, &end, 10);
        if (from_text[0] < '0' || from_text[0] > '9' || *end || errno)
            return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "from: \"%s\" is not a sequence number", from_text);
    }
    if (last_id) {
        char *end;
        errno = 0;
        from = strtoull(last_id, &end, 10) + 1; /* UINT64_MAX wraps to 0: refused, not the whole log */
        if (last_id[0] < '0' || last_id[0] > '9' || *end || errno || !from)
            return ent_http__reply_error(c, MHD_HTTP_BAD_REQUEST, "Last-Event-ID: \"%s\" is not a sequence number", last_id);
    }
    if (ent_http__conn_streaming(h, c, &open)) {
        char ip[64];
        client_addr(ip, sizeof ip, c, 0);
        /* an IPv6 address counts with the rest of its /64 (conns.c), an IPv4-mapped one alone */
        return ent_http__reply_error(c, MHD_HTTP_TOO_MANY_REQUESTS,
                                     "%s%s has %u event streams open, the most one client address may have "
                                     "(entity serve --max-streams-per-address); close one and retry",
                                     ip, strchr(ip, ':') && !strchr(ip, '.') ? " (with its /64)" : "", open);
    }
    if ((rc = ent_log_bounds(&first, &last, h->s, NULL))) return ent_http__reply_lib(c, rc, "events");
    /* The first block names the seq before the stream's first event as its id (a block without
     * data is no event, but sets the client's last id): a client that reconnects before any event
     * came resumes from there with Last-Event-ID. Without it such a client came back without one
     * and started after the last event of then, skipping those written in between. */
    if (!last_id && !from_text) from = last + 1;
    if (!(cl = calloc(1, sizeof *cl))) return MHD_NO;
    cl->h = h;
    cl->fd = -1;
    cl->ops = ops;
    if (t) snprintf(cl->type, sizeof cl->type, "%s", ent_type_name(t));
    if ((ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD))) cl->fd = ci->connect_fd;
    client_addr(cl->addr, sizeof cl->addr, c, 1);
    cl->pos = from ? from : 1;
    /* Below a trimmed log the stream starts at its first event (the follower's recent copies may
     * reach further back: not those, so every client of the same position gets the same) and
     * says what is gone; a client that resumes there cannot have everything. */
    if (cl->pos > last + 1 && (last_id || from_text)) {
        /* A resume point past the log's end: the client read another store, or this one before
         * it was restored from an older copy or made anew. Waiting for that seq would skip every
         * event up to it without a word; the stream starts after the last event instead, and
         * says so. */
        snprintf(head, sizeof head, "retry: 1000\nid: %llu\n: events from seq %llu (%s %llu is past the log's last event, %llu)\n\n",
                 (unsigned long long)last, (unsigned long long)last + 1, last_id ? "Last-Event-ID" : "from",
                 (unsigned long long)(last_id ? cl->pos - 1 : cl->pos), (unsigned long long)last);
        cl->pos = last + 1;
    } else if (first > 1 && cl->pos < first) {
        snprintf(head, sizeof head, "retry: 1000\nid: %llu\n: events from seq %llu (%llu to %llu were trimmed from the log)\n\n",
                 (unsigned long long)first - 1, (unsigned long long)first, (unsigned long long)cl->pos, (unsigned long long)first - 1);
        cl->pos = first;
    } else {
        snprintf(head, sizeof head, "retry: 1000\nid: %llu\n: events from seq %llu\n\n", (unsigned long long)cl->pos - 1,
                 (unsigned long long)cl->pos);
    }
    /* The heartbeat's wait measures the monotonic clock: on the wall clock a step back (NTP, an
     * operator's date) stopped the heartbeats for as long as the step, and with them the
     * finding of dead peers that hold a stream. */
    if (ent_http__cond_init_mono(&cl->cond)) {
        free(cl);
        return ent_http__reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "events: out of resources");
    }
    pthread_mutex_lock(&h->hub.mu);
    h->hub.streams++; /* until stream_free(), which every path from here ends in */
    pthread_mutex_unlock(&h->hub.mu);
    /* the first bytes (head): how soon a browser reconnects, and where this stream starts */
    q_add(cl, head, strlen(head), (size_t)-1);
    if (!(resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, cl, stream_free))) {
        stream_free(cl);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    mrc = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return mrc;
}
