/* Connecting to NATS, error texts and state lines for the relay and the mirror. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "nats_util.h"

int enats_check_url(const char *url)
{
    const char *p;
    if (!url || !*url) return ent_error_set(ENT_INVALID, "no NATS URL (--nats nats://HOST:PORT)");
    for (p = url; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\n')
            return ent_error_set(ENT_INVALID, "NATS URL \"%s\" has white space", url);
    if (strstr(url, "://") && strncmp(url, "nats://", 7) != 0 && strncmp(url, "tls://", 6) != 0)
        return ent_error_set(ENT_INVALID, "NATS URL \"%s\": the scheme must be nats:// or tls://", url);
    p = strstr(url, "://") ? strstr(url, "://") + 3 : url;
    if (!*p || *p == ':' || *p == '/')
        return ent_error_set(ENT_INVALID, "NATS URL \"%s\" names no host", url);
    return ENT_OK;
}

int enats_err(int code, natsStatus s, jsErrCode jerr, const char *what)
{
    const char *last = nats_GetLastError(NULL);
    /* libnats prefixes "(file.c:123): ": people need the text, not the client's source line */
    if (last && last[0] == '(' && strstr(last, "): ")) last = strstr(last, "): ") + 3;
    if (jerr)
        return ent_error_set(code, "%s: %s (JetStream error %d)", what, last && *last ? last : natsStatus_GetText(s), (int)jerr);
    return ent_error_set(code, "%s: %s", what, last && *last ? last : natsStatus_GetText(s));
}

/* The seq of an event message from its body, which starts {"seq":N (ent_event_to_json(), compact,
 * as the relay publishes it): the same number as its Entity-Seq header, read without libnats's
 * header lookup, which was most of the cost of an ack on this thread. Schema messages have none. */
static int body_seq(uint64_t *out, natsMsg *m)
{
    static const char pre[] = "{\"seq\":";
    const char *d = natsMsg_GetData(m);
    int n = natsMsg_GetDataLength(m), i = (int)sizeof pre - 1;
    uint64_t v = 0;
    if (!d || n <= i || memcmp(d, pre, sizeof pre - 1) != 0) return 0;
    for (; i < n && d[i] >= '0' && d[i] <= '9' && i < (int)sizeof pre + 20; i++) v = v * 10 + (uint64_t)(d[i] - '0');
    if (i == (int)sizeof pre - 1 || i >= n || d[i] != ',') return 0;
    *out = v;
    return 1;
}

/* Every async publish ends here, acked or not (libnats's thread). Acks of one stream come back
 * in publish order on one connection, so the highest acknowledged Entity-Seq covers every event
 * before it. */
static void on_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    enats_acks *c = closure;
    uint64_t seq = 0;
    (void)js;
    if (pae || !pa) {
        if (!__atomic_load_n(&c->failed, __ATOMIC_ACQUIRE)) {
            snprintf(c->err, sizeof c->err, "%s%s%s", natsMsg_GetSubject(msg),
                     pae && pae->ErrText ? ": " : "", pae && pae->ErrText ? pae->ErrText : "");
            __atomic_store_n(&c->refused, pae && pae->ErrCode != 0, __ATOMIC_RELAXED);
            __atomic_store_n(&c->failed, 1, __ATOMIC_RELEASE);
        }
    } else if (body_seq(&seq, msg)) {
        uint64_t cur = __atomic_load_n(&c->acked_seq, __ATOMIC_RELAXED);
        while (seq > cur && !__atomic_compare_exchange_n(&c->acked_seq, &cur, seq, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
        }
    }
    natsMsg_Destroy(msg);
}

int enats_connect(enats_conn *c, const char *url, int max_pending)
{
    natsOptions *o = NULL;
    jsOptions jo;
    natsStatus st;
    c->nc = NULL;
    c->js = NULL;
    c->published = 0;
    if (!(c->acks = calloc(1, sizeof *c->acks))) return ent_error_set(ENT_NOMEM, "out of memory");
    if ((st = natsOptions_Create(&o)) != NATS_OK) return enats_err(ENT_NOMEM, st, 0, "NATS options");
    if ((st = natsOptions_SetURL(o, url)) != NATS_OK) {
        natsOptions_Destroy(o);
        enats_close(c);
        return enats_err(ENT_INVALID, st, 0, url);
    }
    /* No reconnect inside the client: its reconnect buffer could resend messages after others
     * were lost with the old connection, leaving a gap. A new connection resumes from the stream. */
    natsOptions_SetAllowReconnect(o, false);
    natsOptions_SetTimeout(o, 2000);
    natsOptions_SetPingInterval(o, 2000);
    natsOptions_SetMaxPingsOut(o, 2);
    natsOptions_SetName(o, "libentity");
    st = natsConnection_Connect(&c->nc, o);
    natsOptions_Destroy(o);
    if (st != NATS_OK) {
        c->nc = NULL;
        enats_close(c);
        return enats_err(ENT_IO, st, 0, "connecting");
    }
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    c->async = max_pending > 0;
    if (max_pending > 0) {
        jo.PublishAsync.MaxPending = max_pending;
        jo.PublishAsync.AckHandler = on_pub_ack;
        jo.PublishAsync.AckHandlerClosure = c->acks;
        jo.PublishAsync.StallWait = 5000;
    }
    if ((st = natsConnection_JetStream(&c->js, c->nc, &jo)) != NATS_OK) {
        enats_close(c);
        return enats_err(ENT_IO, st, 0, "JetStream context");
    }
    return ENT_OK;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Acks of a closed connection may still be on their way through libnats's threads: their state is
 * kept for a while (GRACE_MS) before it is freed. */
#define GRACE_MS 10000

static void bury(enats_conn *c, int64_t older_than_ms)
{
    enats_acks **p = &c->graveyard;
    while (*p) {
        enats_acks *a = *p;
        if (a->retired_ms <= older_than_ms) {
            *p = a->next;
            free(a);
        } else {
            p = &a->next;
        }
    }
}

void enats_close(enats_conn *c)
{
    if (c->js) {
        natsMsgList pending;
        /* Unacknowledged publishes are dropped from libnats's books, so no callback comes for
         * them: what they carried is published again after the stream's last message. */
        memset(&pending, 0, sizeof pending);
        if (c->published && js_PublishAsyncGetPendingList(&pending, c->js) == NATS_OK) natsMsgList_Destroy(&pending);
        jsCtx_Destroy(c->js);
    }
    if (c->nc) {
        natsConnection_Close(c->nc);
        natsConnection_Destroy(c->nc);
    }
    c->js = NULL;
    c->nc = NULL;
    if (c->acks) {
        c->acks->retired_ms = mono_ms();
        c->acks->next = c->graveyard;
        c->graveyard = c->acks;
        c->acks = NULL;
    }
    bury(c, mono_ms() - GRACE_MS);
}

void enats_fini(enats_conn *c)
{
    enats_close(c);
    /* No ack is pending any more (enats_close); a short pause lets a callback that was already
     * running finish before its state goes. */
    if (c->graveyard) enats_nap(10, NULL);
    bury(c, INT64_MAX);
}

int enats_closed(const enats_conn *c) { return !c->nc || natsConnection_IsClosed(c->nc); }

void enats_log(ent_nats_log_cb cb, void *payload, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (cb) cb(buf, payload);
    else fprintf(stderr, "entity: %s\n", buf);
}

void enats_nap(int ms, const volatile int *stop)
{
    while (ms > 0 && !enats_stopped(stop)) {
        int step = ms < 50 ? ms : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

int enats_header_u64(uint64_t *out, natsMsg *m, const char *key)
{
    const char *v = NULL;
    char *end;
    unsigned long long x;
    *out = 0;
    if (natsMsgHeader_Get(m, key, &v) != NATS_OK || !v || !*v) return ENT_NOTFOUND;
    x = strtoull(v, &end, 10);
    if (*end) return ENT_NOTFOUND;
    *out = x;
    return ENT_OK;
}
