/* In-process subscribers: callbacks of this process that see each committed event once, in commit
 * order, on the committing thread, after the commit (txn.c calls in here around its commit). The
 * list and the delivery state live in struct ent_store. Decodes the copy of its events a commit
 * kept, or reads them back through the wrapper layer, with log_record.c; calls nothing above it
 * (no txn.c, store.c, log.c). */
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "keys.h"
#include "store_int.h"

/* ---- in-process subscribers ------------------------------------------------------------------ */

/* A doubly linked list (pprev: the link that points here), so that ent_unsubscribe() unlinks its
 * node without walking the list: a walk per call made unsubscribing n subscribers quadratic
 * (30 000: 5.4 G instructions, callgrind). */
struct ent_sub_cb {
    struct ent_sub_cb *next, **pprev;
    const ent_store *store;           /* whose list it is on: another store's node is not ours */
    int dead;                         /* unsubscribed during a delivery: freed after it */
    char type_name[ENT_NAME_MAX + 1]; /* "" = all */
    unsigned ops;
    ent_event_cb cb;
    void *payload;
};

/* The store whose events this thread is delivering (a callback of it is running). Deliveries
 * do not nest: a callback cannot commit a write. */
static _Thread_local ent_store *delivering;

int ent__log_in_callback(void) { return delivering != NULL; }
int ent__log_delivering(const ent_store *s) { return s && delivering == s; }

int ent_subscribe(ent_subscriber **out, ent_store *s, const ent_type *type, unsigned ops,
                  ent_event_cb cb, void *payload)
{
    struct ent_sub_cb *c;
    int rc;
    if (!out || !cb) return ent__err(ENT_INVALID, "ent_subscribe: %s is NULL", !out ? "out" : "cb");
    if ((rc = ent__store_check(s))) return rc;
    if (ops & ~(unsigned)ENT_OP_ALL)
        return ent__err(ENT_INVALID, "unknown operation flags 0x%x", ops);
    if ((rc = ent__log_type_check(s, type))) return rc;
    c = calloc(1, sizeof *c);
    if (!c) return ent__err(ENT_NOMEM, "out of memory");
    if (type) snprintf(c->type_name, sizeof c->type_name, "%s", ent_type_name(type));
    /* 0: the three operations a filter of 0 meant before the id counter's raise was logged */
    c->ops = ops ? ops : ENT_OP_ENTITY;
    c->cb = cb;
    c->payload = payload;
    c->store = s;
    /* The list is guarded by s->mu alone, a lock never held while anything else is taken or a
     * callback runs: so subscribing works from any thread and from callbacks, of this store or
     * another, without a lock-order cycle. A new node goes in front, behind a running walk. */
    pthread_mutex_lock(&s->mu);
    c->next = s->cbs;
    c->pprev = &s->cbs;
    if (s->cbs) s->cbs->pprev = &c->next;
    s->cbs = c;
    atomic_store_explicit(&s->has_cbs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&s->mu);
    *out = (ent_subscriber *)c;
    return ENT_OK;
}

static void unlink_cb(ent_store *s, struct ent_sub_cb *c)
{
    *c->pprev = c->next;
    if (c->next) c->next->pprev = c->pprev;
    free(c);
    s->sub_steps++;
    atomic_store_explicit(&s->has_cbs, s->cbs != NULL, memory_order_relaxed);
}

/* Unlink and free the nodes marked dead. s->mu held, no delivery running. A walk only when a
 * delivery left some: it walked the list itself. */
static void sweep_dead(ent_store *s)
{
    if (!s->n_dead) return;
    for (struct ent_sub_cb *c = s->cbs, *next; c; c = next) {
        next = c->next;
        s->sub_steps++;
        if (c->dead) unlink_cb(s, c);
    }
    s->n_dead = 0;
}

void ent_unsubscribe(ent_store *s, ent_subscriber *sub)
{
    if (!s || !sub) return;
    /* A running delivery may stand on the node (it may be the caller's own, from its callback):
     * mark it; the delivery skips it from now on and frees it when it ends. Outside callbacks,
     * wait for that end, so that no call of it is still running when this returns (the caller
     * may free the payload). A callback does not wait: two callbacks of two stores waiting for
     * each other's delivery would never end. */
    struct ent_sub_cb *c = (struct ent_sub_cb *)sub;
    pthread_mutex_lock(&s->mu);
    if (c->store != s) { /* not on this store's list: nothing of ours to end */
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (!s->delivering) {
        /* no delivery stands on it: out of the list now, by its links, not by a walk */
        unlink_cb(s, c);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (!c->dead) {
        c->dead = 1;
        s->n_dead++;
    }
    /* Only the delivery running now can still call the node; a later one skips it. Deliveries
     * may follow each other without a gap, so wait for this one's end, not for a moment with
     * none running (which a busy store might never have). That end freed the node: not touched
     * after the wait. */
    if (!ent__log_in_callback()) {
        uint64_t gen = s->deliveries;
        while (s->delivering && s->deliveries == gen) pthread_cond_wait(&s->delivered, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

void ent__store_free_cbs(ent_store *s)
{
    while (s->cbs) {
        struct ent_sub_cb *n = s->cbs->next;
        free(s->cbs);
        s->cbs = n;
    }
}

/* Without s->mu: a subscriber that joins while a commit asks is as if it joined after; the
 * delivery itself walks the list under s->mu. */
int ent__log_has_subscribers(ent_store *s) { return atomic_load_explicit(&s->has_cbs, memory_order_relaxed); }

/* Delivery turns. A commit with subscribers takes a ticket while it still holds the write
 * transaction, so tickets follow commit order (one writer per store at a time), then commits with
 * no lock of this file held, then waits for its turn to deliver. An earlier design held a delivery
 * mutex across the backend commit; a map growth inside the commit takes the backend's resize lock
 * and LMDB's writer mutex under it, an inversion with every delivery that reads the log. A turn
 * is waited for on a condition variable of a leaf mutex instead: a thread waiting for its turn
 * holds no lock, and the deliverer it waits for holds only its backend pin (a read hold taken
 * before any resizer could queue behind it), so it never waits for this one. */
uint64_t ent__log_ticket(ent_store *s)
{
    uint64_t ticket;
    pthread_mutex_lock(&s->turn_mu);
    ticket = ++s->next_ticket;
    pthread_mutex_unlock(&s->turn_mu);
    return ticket;
}

/* A txn keeps at most this much of its events: a bigger one (an import) reads the rest back
 * rather than hold its events twice in memory. */
#define KEEP_MAX ((size_t)16 << 20)

void ent__log_keep(ent_txn *t, uint64_t seq, const void *p, size_t n)
{
    ent_evcap *c = &t->cap;
    size_t i;
    if (c->off) return;
    if (!c->asked) {
        /* Once per txn: a subscriber that comes later gets this txn's events read back. */
        c->asked = 1;
        c->on = (uint8_t)ent__log_has_subscribers(t->s);
    }
    if (!c->on) return;
    if (!c->n || seq < c->seq) { /* the first, or a savepoint took back every one kept */
        c->n = 0;
        c->seq = seq;
    }
    i = (size_t)(seq - c->seq);
    if (i > c->n) { /* a put of the log that was not kept: read them all back */
        c->off = 1;
        return;
    }
    c->n = i;
    c->buf.n = i ? c->end[i - 1] : 0;
    if (n > KEEP_MAX - c->buf.n) {
        c->off = 1;
        return;
    }
    if (i == c->max) {
        size_t max = c->max ? 2 * c->max : 16;
        size_t *end = realloc(c->end, max * sizeof *end);
        if (!end) {
            c->off = 1;
            return;
        }
        c->end = end;
        c->max = max;
    }
    if (ent__buf_append(&c->buf, p, n)) {
        c->off = 1;
        return;
    }
    c->end[i] = c->buf.n;
    c->n = i + 1;
}

void ent__evcap_free(ent_evcap *c)
{
    if (c->buf.p || c->end) {
        ent__buf_free(&c->buf);
        free(c->end);
    }
    memset(c, 0, sizeof *c);
}

/* The kept bytes of event seq, if cap has them. */
static int kept_event(const ent_evcap *cap, uint64_t seq, const void **p, size_t *n)
{
    size_t i, from;
    if (!cap || !cap->on || cap->off || seq < cap->seq || seq - cap->seq >= cap->n) return 0;
    i = (size_t)(seq - cap->seq);
    from = i ? cap->end[i - 1] : 0;
    *p = cap->buf.p + from;
    *n = cap->end[i] - from;
    return 1;
}

/* Read the event under seq for delivery, in read txn t (begun here when *open is 0): one retry in
 * a fresh read transaction, so a passing failure (a read error, memory short for the decode)
 * costs nothing. ENT_NOTFOUND: not in the log (truncated meanwhile by another handle): skipped. */
static int read_event(ent_event **out, ent_txn *t, int *open, uint64_t seq)
{
    uint8_t kb[8];
    ent_slice k = {kb, 8}, v;
    int rc = ENT_OK;
    ent__enc_u64(kb, seq);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!*open) {
            if ((rc = ent__bk_begin(t, 0))) continue;
            *open = 1;
        }
        rc = ent__bk_get(t, t->s->t_log, &k, &v);
        if (rc == ENT_NOTFOUND) return rc;
        if (!rc && !(rc = ent__event_decode(out, t->lay, seq, v.data, v.len))) return ENT_OK;
        ent__bk_abort(t);
        *open = 0;
    }
    return rc;
}

/* Call the subscribers for the events [first_seq, last_seq], as the commit stored them: the copy
 * it kept (cap), else read back from the committed log. A bare read txn of the backend will do:
 * the events decode with the layout they were written in (or a later one, for held-back events: a
 * newer schema reads the older events, as log cursors do). Returns 0, or the first seq that could
 * not be read (not delivered, nor any after it: order first). */
static uint64_t deliver(ent_store *s, const ent_layout *lay, uint64_t first_seq, uint64_t last_seq,
                        const ent_evcap *cap)
{
    ent_txn rt, *t = &rt;
    uint64_t failed = 0;
    int open = 0;
    memset(&rt, 0, sizeof rt);
    rt.s = s;
    rt.lay = (ent_layout *)lay;
    delivering = s;
    pthread_mutex_lock(&s->mu);
    s->delivering = 1;
    pthread_mutex_unlock(&s->mu);
    for (uint64_t seq = first_seq; seq <= last_seq; seq++) {
        ent_event *ev = NULL;
        const void *p;
        size_t n;
        int rc = kept_event(cap, seq, &p, &n) ? ent__event_decode(&ev, lay, seq, p, n) : ENT_NOTFOUND;
        if (rc) rc = read_event(&ev, t, &open, seq);
        if (rc == ENT_NOTFOUND) continue;
        if (rc) {
            failed = seq;
            break;
        }
        /* Walk under s->mu step by step, calling out without it: nodes are only marked (not
         * freed) while s->delivering is set, and new ones go in front. */
        pthread_mutex_lock(&s->mu);
        for (struct ent_sub_cb *c = s->cbs; c; c = c->next) {
            ent_event_cb cb;
            void *payload;
            if (c->dead || (c->type_name[0] && strcmp(c->type_name, ev->type->name) != 0) ||
                !(c->ops & (unsigned)ev->op))
                continue;
            cb = c->cb;
            payload = c->payload;
            pthread_mutex_unlock(&s->mu);
            cb(ev, payload);
            pthread_mutex_lock(&s->mu);
        }
        pthread_mutex_unlock(&s->mu);
        ent_event_free(ev);
    }
    delivering = NULL;
    if (open) ent__bk_abort(t);
    /* Free the subscribers unsubscribed during this delivery. */
    pthread_mutex_lock(&s->mu);
    s->delivering = 0;
    s->deliveries++;
    sweep_dead(s);
    pthread_cond_broadcast(&s->delivered);
    pthread_mutex_unlock(&s->mu);
    return failed;
}

/* Events whose read failed twice are held back (s->held_first..held_last, touched only by the
 * thread whose turn it is) and go first in the next delivery, so no subscriber misses one or gets
 * one out of order; the commit is not failed for it (it is durable, and a retry would write the
 * change twice). Two failures in a row keep one range: it then also spans what another process
 * committed in between (LMDB), which these subscribers get too. */
void ent__log_deliver(ent_store *s, const ent_layout *lay, uint64_t ticket, uint64_t first_seq, uint64_t last_seq,
                      int committed, const ent_evcap *cap)
{
    pthread_mutex_lock(&s->turn_mu);
    while (s->served_ticket + 1 != ticket) pthread_cond_wait(&s->turn, &s->turn_mu);
    pthread_mutex_unlock(&s->turn_mu);
    if (s->held_first) {
        uint64_t failed = deliver(s, lay, s->held_first, s->held_last, NULL);
        if (failed) {
            s->held_first = failed;
            if (committed) s->held_last = last_seq;
            committed = 0;
        } else {
            s->held_first = s->held_last = 0;
        }
    }
    if (committed) {
        uint64_t failed = deliver(s, lay, first_seq, last_seq, cap);
        if (failed) {
            s->held_first = failed;
            s->held_last = last_seq;
        }
    }
    /* A failed commit still uses up its turn: the commits after it wait for it. */
    pthread_mutex_lock(&s->turn_mu);
    s->served_ticket = ticket;
    pthread_cond_broadcast(&s->turn);
    pthread_mutex_unlock(&s->turn_mu);
}
