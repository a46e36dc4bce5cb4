/* Reading the event log: its bounds, one event, log cursors (batches read in short read
 * transactions), waiting for commits. The records themselves are log_record.c's; durable
 * subscriptions and truncation are in log_subs.c, in-process delivery in log_deliver.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "error_int.h"
#include "keys.h"
#include "store_int.h"
#include "value_int.h"

/* ---- reading --------------------------------------------------------------------------------- */

int ent__log_bounds_in(uint64_t *first, uint64_t *last, ent_txn *t)
{
    ent_bcur *cur = NULL;
    ent_slice k, v;
    uint64_t trunc = 0;
    int rc = ent__log_counters(last, NULL, t);
    if (rc) return rc;
    if (*last == 0) {
        *first = 0;
        return ENT_OK;
    }
    rc = ent__meta_get_u64(&trunc, t, "log_trunc");
    if (rc && rc != ENT_NOTFOUND) return rc;
    if ((rc = ent__bk_cursor_open(t, t->s->t_log, &cur))) return rc;
    rc = ent__bk_cursor_get(t->s, cur, ENT_CUR_FIRST, &k, &v);
    if (rc == ENT_OK && k.len == 8)
        *first = ent__dec_u64(k.data);
    else if (rc == ENT_NOTFOUND || rc == ENT_OK)
        *first = *last ? (trunc ? trunc + 1 : 1) : 0;
    ent__bk_cursor_close(t->s, cur);
    return rc == ENT_NOTFOUND ? ENT_OK : rc;
}

int ent_log_bounds(uint64_t *first, uint64_t *last, ent_store *s, ent_txn *txn)
{
    ent_txn *t;
    uint64_t f = 0, l = 0;
    int rc;
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    rc = ent__log_bounds_in(&f, &l, t);
    if (first) *first = f;
    if (last) *last = l;
    return ent__txn_end(t, txn, rc, 0);
}

int ent_log_get(ent_event **out, ent_store *s, ent_txn *txn, uint64_t seq)
{
    ent_txn *t;
    uint8_t kb[8];
    ent_slice k = {kb, 8}, v;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_log_get: out is NULL");
    *out = NULL;
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    ent__enc_u64(kb, seq);
    rc = ent__bk_get(t, s->t_log, &k, &v);
    if (rc == ENT_NOTFOUND) rc = ent__err(rc, "no event %" PRIu64 " in the log", seq);
    else if (!rc) rc = ent__event_decode(out, t->lay, seq, v.data, v.len);
    return ent__txn_end(t, txn, rc, 0);
}

int ent_log_get_as(ent_event **out, ent_store *s, uint64_t seq, const ent_schema *sc)
{
    ent_txn *t;
    uint8_t kb[8];
    ent_slice k = {kb, 8}, v;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_log_get_as: out is NULL");
    *out = NULL;
    if (!sc || !sc->sealed) return ent__err(ENT_INVALID, "ent_log_get_as: the schema is %s", sc ? "not sealed" : "NULL");
    if ((rc = ent__txn_use(&t, s, NULL, 0))) return rc;
    ent__enc_u64(kb, seq);
    rc = ent__bk_get(t, s->t_log, &k, &v);
    if (rc == ENT_NOTFOUND) rc = ent__err(rc, "no event %" PRIu64 " in the log", seq);
    else if (!rc) rc = ent__event_decode_in(out, sc, seq, v.data, v.len);
    return ent__txn_end(t, NULL, rc, 0);
}

#define LOG_BATCH 256
/* A fill also ends once the events it read pass this many bytes (at least one event): a batch is
 * held decoded until handed out, and 256 events of 600 kB were 150 MB for each cursor (each event
 * stream client of entity serve that catches up has one). */
#define LOG_BATCH_BYTES ((size_t)1 << 20)

struct ent_log_cursor {
    ent_store *s;
    uint64_t pos;          /* next seq to look at */
    const ent_type *type;  /* filter (the store's type), NULL = all */
    char type_name[ENT_NAME_MAX + 1];
    unsigned ops;
    ent_event *batch[LOG_BATCH];
    size_t n, i;
    int at_first;      /* opened at 0: starts at the first event kept when it first reads */
    int bad;           /* a damaged log met: 1 a key below pos, 2 seqs missing before bad_seq */
    uint64_t bad_seq;  /* the next fill fails with it, after the events before it went out */
    ent_txn *pin;      /* read in this snapshot rather than a new one per fill (borrowed) */
};

/* Filters match events by type name (so a type handle of an older schema, or of another handle on
 * the same store, still works); a name the store's schema lacks would match nothing, ever. */
int ent__log_type_check(ent_store *s, const ent_type *type)
{
    if (type && !ent_store_type(s, ent_type_name(type)))
        return ent__err(ENT_SCHEMA, "type %s is not in the store's schema: it would match no event",
                        ent_type_name(type));
    return ENT_OK;
}

int ent_log_cursor_open(ent_log_cursor **out, ent_store *s, uint64_t from_seq,
                        const ent_type *type, unsigned ops)
{
    ent_log_cursor *c;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_log_cursor_open: out is NULL");
    *out = NULL;
    if ((rc = ent__store_check(s))) return rc;
    if (ops & ~(unsigned)ENT_OP_ALL)
        return ent__err(ENT_INVALID, "unknown operation flags 0x%x", ops);
    if ((rc = ent__log_type_check(s, type))) return rc;
    c = calloc(1, sizeof *c);
    if (!c) return ent__err(ENT_NOMEM, "out of memory");
    c->s = s;
    c->pos = from_seq ? from_seq : 1;
    c->at_first = from_seq == 0;
    /* 0: the three operations a filter of 0 meant before the id counter's raise was logged */
    c->ops = ops ? ops : ENT_OP_ENTITY;
    if (type) snprintf(c->type_name, sizeof c->type_name, "%s", ent_type_name(type));
    c->type = type;
    *out = c;
    return ENT_OK;
}

static int bad_err(const ent_log_cursor *c)
{
    if (c->bad == 1)
        return ent__err(ENT_CORRUPT, "log: seq %" PRIu64 " follows seq %" PRIu64 " (a damaged log)", c->bad_seq, c->pos - 1);
    return ent__err(ENT_CORRUPT, "log: seq %" PRIu64 " to %" PRIu64 " missing (a damaged log)", c->pos, c->bad_seq - 1);
}

static int cursor_fill(ent_log_cursor *c)
{
    ent_txn *t;
    ent_bcur *cur = NULL;
    uint8_t kb[8];
    ent_slice k, v;
    int rc, op = ENT_CUR_SEEK;
    uint64_t trunc = 0;
    size_t bytes = 0;
    if (c->bad) return bad_err(c);
    if (c->pin) t = c->pin;
    else if ((rc = ent_txn_begin(&t, c->s, ENT_TXN_READ))) return rc;
    /* Seqs run without a gap from the one after the truncation point ("log_trunc") to the last. */
    if ((rc = ent__meta_get_u64(&trunc, t, "log_trunc")) == ENT_NOTFOUND) rc = ENT_OK;
    if (rc) goto out;
    if (c->pos <= trunc) {
        /* Events the cursor was to read next were truncated (forced past a subscription, or no
         * subscription held them). It goes on where the log begins, but says so once: a filtered
         * cursor skips seqs of its own, so its host could not tell from the seqs it gets that it
         * missed events (an unfiltered one showed the jump, a filtered one went on in silence). */
        uint64_t lost = c->pos;
        c->pos = trunc + 1;
        if (!c->at_first) {
            if (lost == trunc)
                rc = ent__err(ENT_TRUNCATED, "event %" PRIu64 " was truncated from the log before the cursor read it; it "
                              "goes on at %" PRIu64, lost, trunc + 1);
            else
                rc = ent__err(ENT_TRUNCATED, "events %" PRIu64 " to %" PRIu64 " were truncated from the log before the "
                              "cursor read them; it goes on at %" PRIu64, lost, trunc, trunc + 1);
            goto out;
        }
    }
    c->at_first = 0; /* from here on, events truncated before it reads them are events it misses */
    if ((rc = ent__bk_cursor_open(t, c->s->t_log, &cur))) goto out;
    ent__enc_u64(kb, c->pos);
    k.data = kb;
    k.len = 8;
    /* Scan up to a bounded number of records per fill so a filter that matches little still
     * returns to the caller (and to the next snapshot) regularly. */
    for (size_t scanned = 0; c->n < LOG_BATCH && scanned < 16 * LOG_BATCH; scanned++, op = ENT_CUR_NEXT) {
        uint64_t seq;
        ent_event *ev = NULL;
        rc = ent__bk_cursor_get(c->s, cur, op, &k, &v);
        if (rc == ENT_NOTFOUND) {
            /* Nothing at or after pos. pos is past the truncation point already (above): a
             * follower left on a truncated seq would wait for seqs after pos - 1 (ent_log_wait),
             * be woken at once, every time, and spin. */
            rc = ENT_OK;
            break;
        }
        if (rc) break;
        if (k.len != 8) {
            rc = c->n ? ENT_OK : ent__err(ENT_CORRUPT, "log key of %zu bytes", k.len); /* as below */
            break;
        }
        seq = ent__dec_u64(k.data);
        /* The seek finds pos and the keys rise by one from there, unless the log is damaged: a
         * key below pos (going back to seq + 1 read the same events again, forever) or above it
         * (events missing, and nobody told). */
        if (seq != c->pos || seq == UINT64_MAX) { /* (pos would wrap to 0) */
            c->bad = seq < c->pos || seq == UINT64_MAX ? 1 : 2;
            c->bad_seq = seq;
            if (c->n == 0) rc = bad_err(c); /* else the events before it are handed out first */
            break;
        }
        if ((rc = ent__event_decode(&ev, t->lay, seq, v.data, v.len))) {
            /* The events before it are handed out first (the whole batch was lost with it: `entity
             * events` printed nothing of a log whose 6th event was damaged); pos stays on it, so
             * the next fill begins there and fails at once (or, out of memory, tries again). */
            if (c->n) rc = ENT_OK;
            break;
        }
        c->pos = seq + 1;
        if ((c->type && strcmp(ev->type->name, c->type_name) != 0) || !(c->ops & (unsigned)ev->op)) {
            ent_event_free(ev);
            continue;
        }
        c->batch[c->n++] = ev;
        if ((bytes += v.len) >= LOG_BATCH_BYTES) break;
    }
    ent__bk_cursor_close(c->s, cur);
out:
    if (!c->pin) ent_txn_abort(t);
    return rc;
}

void ent__log_cursor_pin(ent_log_cursor *c, ent_txn *t)
{
    c->pin = t;
}

int ent_log_next(ent_event **out, ent_log_cursor *c)
{
    int rc;
    if (!out || !c) return ent__err(ENT_INVALID, "ent_log_next: %s is NULL", !out ? "out" : "cursor");
    *out = NULL;
    if (c->i == c->n) {
        uint64_t before;
        c->i = c->n = 0;
        do {
            before = c->pos;
            if ((rc = cursor_fill(c))) return rc;
        } while (c->n == 0 && c->pos != before);
        if (c->n == 0) return ent__err(ENT_NOTFOUND, "no event at or after %" PRIu64 " yet", c->pos);
    }
    *out = c->batch[c->i];
    c->batch[c->i++] = NULL;
    return ENT_OK;
}

uint64_t ent_log_cursor_pos(const ent_log_cursor *c)
{
    /* Events buffered but not yet handed out come before pos. NULL: 0, a seq no event has. */
    if (!c) return 0;
    return c->i < c->n ? c->batch[c->i]->seq : c->pos;
}

void ent_log_cursor_free(ent_log_cursor *c)
{
    if (!c) return;
    for (size_t i = c->i; i < c->n; i++) ent_event_free(c->batch[i]);
    free(c);
}

/* ---- waits only this thread could end (ent_log_wait_claim) ------------------------------------ */

/* A thread's claims: what only it makes happen on a store (its log, a subscription's acks). Kept
 * per thread, as the write transaction a wait is refused beside (txn.c's list): a claim is about
 * the thread that waits. On the heap, made by the first claim: every thread of a host pays one
 * pointer of thread-local storage, not room for claims only a relay or mirror thread makes. */
typedef struct wait_claim {
    const ent_store *s;
    int by_file;        /* dev, ino: the store's directory (a persistent backend), so that
                         * another handle of the same store in this process matches too */
    dev_t dev;
    ino_t ino;
    char sub[201];      /* "": the log; else a durable subscription's name */
    char who[128];
} wait_claim;
static _Thread_local wait_claim *claims;
static _Thread_local size_t n_claims;
#define MAX_CLAIMS 8

static int claim_file(const ent_store *s, dev_t *dev, ino_t *ino)
{
    struct stat st;
    if (!(s->bk.lim.caps & ENT_BK_CAP_PERSISTENT) || !s->path || !s->path[0] || stat(ent_store_path(s), &st) != 0) return 0;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 1;
}

static wait_claim *claim_find(const ent_store *s, const char *sub, int file_too)
{
    dev_t dev = 0;
    ino_t ino = 0;
    int by_file = -1; /* not looked up yet: a stat() only when a claim of another handle is there */
    if (!sub) sub = "";
    for (size_t i = 0; i < n_claims; i++) {
        wait_claim *c = &claims[i];
        if (strcmp(c->sub, sub) != 0) continue;
        if (c->s == s) return c;
        if (!file_too || !c->by_file) continue;
        if (by_file < 0) by_file = claim_file(s, &dev, &ino);
        if (by_file && c->dev == dev && c->ino == ino) return c;
    }
    return NULL;
}

int ent_log_wait_claim(ent_store *s, const char *sub, const char *who)
{
    wait_claim *c;
    if (!s) return ent__err(ENT_INVALID, "ent_log_wait_claim: store is NULL");
    if (sub && (!*sub || strlen(sub) > 200))
        return ent__err(ENT_INVALID, "ent_log_wait_claim: subscription name of %zu bytes (1 to 200)", strlen(sub));
    if ((c = claim_find(s, sub, 0))) {
        snprintf(c->who, sizeof c->who, "%s", who && *who ? who : "this thread");
        return ENT_OK;
    }
    if (n_claims == MAX_CLAIMS)
        return ent__err(ENT_FULL, "ent_log_wait_claim: this thread holds %d claims already", MAX_CLAIMS);
    if (!claims && !(claims = calloc(MAX_CLAIMS, sizeof *claims))) return ent__err(ENT_NOMEM, "out of memory");
    c = &claims[n_claims++];
    memset(c, 0, sizeof *c);
    c->s = s;
    c->by_file = claim_file(s, &c->dev, &c->ino);
    snprintf(c->sub, sizeof c->sub, "%s", sub ? sub : "");
    snprintf(c->who, sizeof c->who, "%s", who && *who ? who : "this thread");
    return ENT_OK;
}

void ent_log_wait_unclaim(ent_store *s, const char *sub)
{
    wait_claim *c = s ? claim_find(s, sub, 0) : NULL;
    if (!c) return;
    *c = claims[--n_claims];
    if (!n_claims) {
        free(claims);
        claims = NULL;
    }
}

/* The longest sleep of ent_log_wait() between two looks at the log: one read transaction per
 * slice and waiter (microseconds) bounds how late a commit whose wake was lost is seen. */
#define LOST_WAKE_MS 500

/* A wait in slices on the store's change counter until look() says it is done (1), or fails
 * (its code), or timeout_ms (negative: forever) passes: ENT_TIMEOUT, without a message (the
 * caller names what it waited for). what: what is waited for, for the ENT_BUSY messages ("events",
 * "an acknowledgement"). Shared by ent_log_wait() and ent_sub_wait() (log_subs.c): every commit
 * moves the counter, an event's and a subscription's acknowledgement alike, on both backends. sub:
 * the subscription waited for (NULL: the log), for the thread's claims (ent_log_wait_claim()). */
int ent__wait_change_until(ent_store *s, int timeout_ms, int (*look)(void *arg), void *arg, const char *what,
                           const char *sub)
{
    const wait_claim *claim;
    struct timespec start, now;
    int rc;
    if ((rc = ent__store_check(s))) return rc;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        /* Read the change counter before looking: a commit after the look bumps it, so the wait
         * below returns at once instead of missing that commit. */
        uint64_t seen = ent__bk_change_counter(s);
        int left = -1;
        if ((rc = look(arg)) != 0) return rc > 0 ? ENT_OK : rc;
        /* A callback of s waits for what this process's next commits would bring, and they wait
         * for its delivery to end (the delivery order; a group's leader): it waited out its
         * timeout, forever with -1. */
        if (ent__log_delivering(s))
            return ent__err(ENT_BUSY, "an event callback cannot wait for %s of its store: this process's next commits "
                                      "wait for the delivery it runs in (hand the wait to another thread)", what);
        /* Nor the thread that claimed to be the one that makes it happen (a relay's thread for its
         * subscription, a mirror's for its store's log: their log callbacks run there): it
         * waited out its timeout, and with -1 the relay or mirror stopped for good. */
        if (n_claims && (claim = claim_find(s, sub, 1))) {
            if (sub)
                return ent__err(ENT_BUSY, "this thread is %s, the one that acknowledges subscription \"%s\" of the "
                                          "store: no acknowledgement comes while it waits for one (it would wait for "
                                          "itself); hand the wait to another thread", claim->who, sub);
            return ent__err(ENT_BUSY, "this thread is %s, the one that writes the store's log: no event comes while "
                                      "it waits for one (it would wait for itself); hand the wait to another thread",
                            claim->who);
        }
        /* Nor can the thread that holds the store's write transaction (its own, or ent_txn_run()'s
         * fn): no commit, of this process or another, comes before it ends. */
        if (ent__txn_holds_write(s))
            return ent__err(ENT_BUSY, "this thread holds the store's write transaction (also in ent_txn_run()'s fn): no "
                                      "other commit can come while it waits for %s; end the transaction first", what);
        if (timeout_ms >= 0) {
            int64_t elapsed;
            clock_gettime(CLOCK_MONOTONIC, &now);
            /* In nanoseconds, then whole milliseconds: the nanoseconds' difference alone is
             * negative when a whole second of the clock passes between the two reads, and its
             * division cut toward zero, so a few microseconds read as up to 1 ms (a 1 ms wait
             * begun just before a whole second ended at once, without waiting; test_clock_step). */
            elapsed = ((int64_t)(now.tv_sec - start.tv_sec) * 1000000000 + (now.tv_nsec - start.tv_nsec)) / 1000000;
            if (elapsed >= timeout_ms) return ENT_TIMEOUT;
            left = (int)(timeout_ms - elapsed);
        }
        /* A commit's wake can be lost while the commit is in the store: its writer killed between
         * the two (a durable commit wakes after its last sync, milliseconds later), or its sync
         * failed. A wait in slices looks again after each, so such a commit ends the wait within
         * a slice rather than at the next commit, if one ever comes. */
        if (left < 0 || left > LOST_WAKE_MS) left = LOST_WAKE_MS;
        rc = ent__bk_wait_change(s, seen, left);
        if (rc && rc != ENT_TIMEOUT) return rc;
    }
}

typedef struct log_look {
    ent_store *s;
    uint64_t after, last;
} log_look;

static int log_past(void *p)
{
    log_look *l = p;
    int rc = ent_log_bounds(NULL, &l->last, l->s, NULL);
    return rc ? rc : l->last > l->after;
}

int ent_log_wait(uint64_t *out_last, ent_store *s, uint64_t after_seq, int timeout_ms)
{
    log_look l = {s, after_seq, 0};
    int rc = ent__wait_change_until(s, timeout_ms, log_past, &l, "events", NULL);
    if (rc == ENT_TIMEOUT) rc = ent__err(ENT_TIMEOUT, "no event after %" PRIu64 " within %d ms", after_seq, timeout_ms);
    /* (the last seq seen also on a timeout and a refusal, as before) */
    if (out_last && (rc == ENT_OK || rc == ENT_TIMEOUT || rc == ENT_BUSY)) *out_last = l.last;
    return rc;
}
