/* The relay: the store's log to a JetStream stream, exactly once (see entity/nats.h).
 *
 * One loop, on one thread: (re)connect, make sure of the stream, resume after the stream's last
 * message of this store, then publish batches of at most `window` messages asynchronously and wait
 * for their acks before acknowledging the durable subscription. Any failure drops the connection;
 * the next one resumes from the stream again, so a message is never published twice nor skipped,
 * whichever of relay, server and network failed, and whenever.
 */
#include <inttypes.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nats_util.h"

/* relay --once: losses of the connection in a row, with no ack between them, before it fails */
#define ONCE_LOSSES 5

typedef struct relay {
    ent_store *s;
    ent_relay_opts o;
    const char *sub;
    int window;
    const volatile int *stop;
    char subj_all[80], subj_events[80], subj_schema[80], subj_base[80];
    char id[ENATS_ID_MAX + 1]; /* the store's */
    char url[1024];          /* o.url as lines show it (ent_nats__url_shown: no password) */
    ent_nats__conn c;
    ent_nats__watch w;       /* closes c once *stop is raised (nats_util.h) */
    int up;                  /* connected and resumed */
    int said_down;           /* the "unreachable" line was printed for this outage */
    uint64_t pos;            /* last seq in the stream and acknowledged in the subscription */
    uint32_t schema_pub;     /* highest schema version in the stream */
    ent_schema_mark *marks;
    size_t n_marks;
    uint32_t marks_top;      /* highest version in marks */
    ent_log_cursor *cur;
    ent_event *ahead;        /* read, not yet published: its txn end is known at the next one */
    uint64_t sent;           /* last seq published on this connection (acked or not) */
    int64_t ack_ms;          /* when the checkpoint was last written (monotonic ms) */
    uint64_t counted;        /* events counted into *acked up to this seq */
    int counting;            /* counted is based (the first resume): later resumes count on */
    uint64_t target;         /* once: the last seq at start */
    uint64_t *acked;         /* events acknowledged by JetStream (atomic; may be NULL) */
    ent_nats__progress *progress; /* ent_relay_start()'s, for ent_relay_wait() (borrowed; NULL: none) */
    int64_t max_msg;         /* the stream's max_msg_size (headers and body), <= 0: none */
    uint64_t replay_upto;    /* seqs up to this one were published to the stream before (it lost
                              * them): published one at a time, see publish() */
    uint64_t synced;         /* events up to this seq are known durable (sync_seen) */
    uint32_t schema_synced;  /* schema versions up to this one are known durable */
    int store_failed;        /* the failure is the store's (a sync), not a lost connection */
    char refill[201];        /* the subscription that holds the log while the stream lacks events
                              * the checkpoint covers (hold_refill) */
    uint64_t refill_upto;    /* ...up to this seq (the checkpoint); 0: none held */
} relay;

/* Nothing goes out that the store may still lose. A reader sees a commit as soon as its meta
 * page is written, before its last sync returns (LMDB; a durable group commit syncs after it lets
 * the writer go), and a `lazy` or `none` store syncs later or never: published then, an event a
 * power cut takes from the store stays in the stream, and the seq is used again for another.
 * So before publishing anything newer than the last sync it saw, the relay syncs the store
 * itself: every commit visible before the sync is durable after it, and the log's last seq read
 * before it bounds what it covers (one fdatasync per catch-up, not per event). */
static int sync_seen(relay *r)
{
    uint64_t first = 0, last = 0;
    uint32_t top = r->marks_top;
    int rc = ent_log_bounds(&first, &last, r->s, NULL);
    if (!rc) rc = ent_store_sync(r->s);
    if (rc) {
        r->store_failed = 1;
        return ent_error_set_detail(rc, ent_errdetail(), "syncing the store before publishing: %s", ent_errmsg());
    }
    if (last > r->synced) r->synced = last;
    if (top > r->schema_synced) r->schema_synced = top;
    return ENT_OK;
}

static void drop(relay *r)
{
    ent_log_cursor_free(r->cur);
    r->cur = NULL;
    ent_event_free(r->ahead);
    r->ahead = NULL;
    ent_nats__close(&r->c);
    r->up = 0;
    r->sent = 0;
}

/* Some subject is matched by both patterns (each may hold "*" and a last ">"): JetStream refuses to
 * add one to a stream beside the other. */
static int subjects_overlap(const char *a, const char *b)
{
    for (;;) {
        size_t an = strcspn(a, "."), bn = strcspn(b, ".");
        if ((an == 1 && a[0] == '>') || (bn == 1 && b[0] == '>')) return 1; /* the rest, one token or more: both have one here */
        if (!(an == 1 && a[0] == '*') && !(bn == 1 && b[0] == '*') && (an != bn || memcmp(a, b, an))) return 0;
        a += an;
        b += bn;
        if (!*a || !*b) return !*a && !*b;
        a++;
        b++;
    }
}

static int stream_takes(const jsStreamConfig *cfg, const char *subj_all)
{
    for (int i = 0; i < cfg->SubjectsLen; i++)
        if (cfg->Subjects[i] && ent_nats__subject_covers(cfg->Subjects[i], subj_all)) return 1;
    return 0;
}

/* The stream exists and takes our subjects, or is created. out_new: it has never lost a message
 * (just created, deleted and made again, or nothing ever removed from it: its first seq is 1 and
 * it has no deleted ones): what it does not hold of this store was never published to it. */
static int ensure_stream(relay *r, int *out_new)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_GetStreamInfo(&si, r->c.js, r->o.stream, NULL, &jerr);
    *out_new = 0;
    if (st == NATS_OK) {
        int ok = si->Config && stream_takes(si->Config, r->subj_all), no_ack = si->Config && si->Config->NoAck;
        jsRetentionPolicy keep = si->Config ? si->Config->Retention : js_LimitsPolicy;
        char origin[300] = "";
        /* A JetStream mirror of another stream takes no publishes: it has no subjects, and the
         * refusal below told the operator to add one to it, which JetStream refuses. */
        if (si->Config && si->Config->Mirror && si->Config->Mirror->Name)
            snprintf(origin, sizeof origin, "%s", si->Config->Mirror->Name);
        *out_new = si->State.LastSeq == 0 || (si->State.FirstSeq <= 1 && si->State.NumDeleted == 0);
        r->max_msg = si->Config ? si->Config->MaxMsgSize : -1;
        char subjects[512] = "";
        int inside = 0; /* a subject of the stream overlaps the store's: JetStream refuses the store's beside it */
        for (int i = 0; si->Config && i < si->Config->SubjectsLen; i++) {
            size_t n = strlen(subjects);
            snprintf(subjects + n, sizeof subjects - n, "%s%s", i ? " " : "", si->Config->Subjects[i]);
            if (si->Config->Subjects[i] && subjects_overlap(r->subj_all, si->Config->Subjects[i])) inside = 1;
        }
        jsStreamInfo_Destroy(si);
        if (origin[0])
            return ent_error_set(ENT_CONFLICT, "stream %s is a JetStream mirror of stream %s and takes no publishes: relay "
                                 "to %s (mirrors of the store may read either)", r->o.stream, origin, origin);
        /* Split over several patterns (each of the store's messages may have a subject there), the
         * store's subjects are not one the relay can count on (it reads the stream's last message
         * of the store by it, and mirrors consume it), and adding it JetStream refuses as an
         * overlap: the remedy named is one that works. */
        if (!ok && inside)
            return ent_error_set(ENT_CONFLICT, "stream %s takes subjects [%s], which overlap %s but do not hold it: use "
                                 "another stream, or one made with the subject %s (JetStream refuses to add it beside "
                                 "those)", r->o.stream, subjects, r->subj_all, r->subj_all);
        if (!ok)
            return ent_error_set(ENT_CONFLICT, "stream %s takes subjects [%s], not %s: use another stream, "
                                 "or add that subject to it", r->o.stream, subjects, r->subj_all);
        /* Its acks are how the relay knows what the stream stored: without them it waited 10 s
         * per batch, took the silence for a lost connection, and went round again. */
        if (no_ack)
            return ent_error_set(ENT_INVALID, "stream %s does not acknowledge what is published to it (no_ack): the relay "
                                 "needs JetStream's acks; use a stream without no_ack", r->o.stream);
        /* A stream that drops a message once consumers had it (interest: at once when none
         * listens; workqueue: once one acknowledged it) is no log: the relay said "stream holds
         * the log up to seq N" of one that held nothing, its next run published the schema again
         * into the duplicate window and stopped, and no mirror could ever be built from it. */
        if (keep != js_LimitsPolicy)
            return ent_error_set(ENT_INVALID, "stream %s keeps messages only while consumers want them (retention %s): the "
                                 "relay needs a stream that keeps the log (retention limits)", r->o.stream,
                                 keep == js_InterestPolicy ? "interest" : "workqueue");
        return ENT_OK;
    }
    if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        jsStreamConfig cfg;
        const char *subjects[1] = {r->subj_all};
        jsStreamConfig_Init(&cfg);
        cfg.Name = r->o.stream;
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        cfg.Storage = js_FileStorage;
        if (r->o.duplicate_window_ms > 0) cfg.Duplicates = r->o.duplicate_window_ms * 1000000;
        jerr = 0;
        st = js_AddStream(&si, r->c.js, &cfg, NULL, &jerr);
        /* Another stream takes these subjects already (the relay restarted with another
         * --stream): no retry changes that, so it is not an outage. */
        if (jerr == JSStreamSubjectOverlapErr)
            return ent_error_set(ENT_CONFLICT, "stream %s cannot be made: another stream takes subjects %s already; "
                                 "relay to that one, or delete it", r->o.stream, r->subj_all);
        /* Any other answer of JetStream's is a refusal too (the account's limits, a setting it
         * does not take): the relay retried it forever as "NATS unreachable". Not so an answer
         * that a server or cluster being (re)started gives, nor a stream made meanwhile. */
        if (st != NATS_OK && jerr && jerr != JSClusterNotAvailErr && jerr != JSClusterNotLeaderErr &&
            jerr != JSInsufficientResourcesErr && jerr != JSNotEnabledErr && jerr != JSStreamNameExistErr &&
            jerr != JSStreamOfflineErr) {
            char what[300];
            snprintf(what, sizeof what, "stream %s cannot be made", r->o.stream);
            return ent_nats__err(ENT_INVALID, st, jerr, what);
        }
        if (st != NATS_OK) return ent_nats__err(ENT_IO, st, jerr, "creating the stream");
        jsStreamInfo_Destroy(si);
        *out_new = 1;
        r->max_msg = -1;
        ent_nats__log(r->o.log, r->o.log_payload, "relay: created stream %s (file storage, subjects %s)",
                  r->o.stream, r->subj_all);
        return ENT_OK;
    }
    return ent_nats__err(ENT_IO, st, jerr, "reading the stream's info");
}

/* Header `key` of the stream's last message on `subject` (0 when there is none). keep: NULL, or
 * where the message goes (NULL when there is none); the caller destroys it. */
static int last_header(uint64_t *out, relay *r, const char *subject, const char *key, natsMsg **keep)
{
    natsMsg *m = NULL;
    int rc = ent_nats__last_msg(&m, r->c.js, r->o.stream, subject);
    *out = 0;
    if (keep) *keep = NULL;
    if (rc) return rc;
    if (!m) return ENT_OK;
    if (ent_nats__header_u64(out, m, key) != ENT_OK) {
        natsMsg_Destroy(m);
        return ent_error_set(ENT_CORRUPT, "stream %s: the last message on %s has no %s header", r->o.stream, subject, key);
    }
    if (keep) *keep = m;
    else natsMsg_Destroy(m);
    return ENT_OK;
}

/* The stream's last event m (seq in_stream) is the log's event of that seq. The log's events
 * after it go on from it; another history under the same id and seqs (the store restored from a
 * backup that wrote on, a copy of it) must not: the stream would become a history no store had,
 * and mirrors built from it copies of nothing. A seq the log no longer holds cannot be compared. */
static int same_history(relay *r, natsMsg *m, uint64_t in_stream)
{
    int same, rc = ent_nats__same_event(&same, m, r->s, in_stream);
    if (rc == ENT_NOTFOUND) return ENT_OK;
    if (rc) return rc;
    if (!same)
        return ent_error_set(ENT_CONFLICT, "stream %s holds another seq %" PRIu64 " of store %s than its log (the store "
                             "restored from a backup, or a copy of it, that wrote on; a mirror promoted before it had "
                             "applied all the stream holds, or the old primary back after a mirror's promotion): the relay "
                             "stops rather than mix two histories; relay to a new stream", r->o.stream, in_stream,
                             ent_store_id(r->s));
    return ENT_OK;
}

/* The stream lacks events the checkpoint covers (a new stream: the server lost its store, or it
 * was deleted or purged by hand and made again; or a tail the server lost): the relay publishes
 * them again, from r->pos + 1. The checkpoint said they were published, so `trim` (without
 * --force) dropped them meanwhile, and `subs` showed the relay at lag 0: trimmed under a relay
 * filling a new stream, the log could no longer fill it (the relay stopped, "no event N in the
 * log", and no mirror could be built from that stream). The checkpoint is not moved back (it tells
 * the next run which seqs were published before, see replay_upto), a second subscription,
 * "<sub>.refill", holds the log at what the stream has, moves with the acks, and is removed once
 * they pass the checkpoint (ack_progress); a relay stopped before that leaves it, and the next run
 * goes on with it (or removes it, the stream holding everything). */
static int hold_refill(relay *r, uint64_t cp)
{
    uint64_t have = 0, first = 0;
    int rc;
    snprintf(r->refill, sizeof r->refill, "%.193s.refill", r->sub);
    r->refill_upto = 0;
    rc = ent_sub_checkpoint(&have, r->s, NULL, r->refill);
    if (rc && rc != ENT_NOTFOUND) return rc;
    if (r->pos >= cp) return rc == ENT_NOTFOUND ? ENT_OK : ent_sub_delete(r->s, r->refill);
    /* (made before the first event the log keeps, at most r->pos: resume() checked the log holds
     * r->pos + 1. One left by an earlier run is at what the stream held then; past r->pos only if
     * the stream lost messages again since, and acks never move it back: it holds from there) */
    if (rc == ENT_NOTFOUND && (rc = ent_sub_create(r->s, r->refill, 0)) && rc != ENT_CONFLICT) return rc;
    if ((rc = ent_sub_ack(r->s, NULL, r->refill, r->pos))) return rc;
    /* a trim between resume()'s look at the log and the hold: the log cannot fill the stream */
    if ((rc = ent_log_bounds(&first, NULL, r->s, NULL))) return rc;
    if (r->pos + 1 < first) {
        ent_sub_delete(r->s, r->refill);
        return ent_error_set(ENT_NOTFOUND, "the log starts at seq %" PRIu64 " (trimmed), the relay needs %" PRIu64
                             " (the last in stream %s is %" PRIu64 ")", first, r->pos + 1, r->o.stream, r->pos);
    }
    r->refill_upto = cp;
    return ENT_OK;
}

static int load_marks(relay *r);

/* Connected: where to go on from. After the stream's last Entity-Seq of this store: the stream may
 * hold messages whose acks the last run never saw (past the checkpoint), or lack some the
 * checkpoint covers (a server that lost what it had not synced yet, messages deleted by hand, a
 * `subs ack relay` by hand): going on from the checkpoint then left a gap no mirror gets past. The
 * checkpoint only when the stream holds nothing of this store any more (purged, or its limits
 * dropped every message): nothing there to go on from. A stream that holds nothing of this store
 * and never lost a message never held any of it (new: another --stream, or deleted and made
 * again, also one that other stores' relays published to first) and gets the log from seq 1
 * whatever the checkpoint says, or it would start with a gap. */
static int resume(relay *r)
{
    uint64_t in_stream = 0, cp = 0, schema = 0, first = 0, last = 0;
    natsMsg *lastm = NULL;
    int rc, fresh = 0;
    /* A stream deleted and made again by hand while the relay waited for writes took the next
     * publish without a word (only a publish into no stream fails): the new stream began at that
     * seq, a gap no mirror gets past, and the relay said nothing. Likewise a max_msg_size lowered
     * by hand: the relay checked against the size read here, JetStream refused a larger event
     * and stored the ones sent behind it, a gap. JetStream announces each change of a stream on
     * subjects of its own; the relay listens there, on c.sub (which it has no other use for),
     * from before it looks at the stream, and publish() goes no further once a deletion or an
     * update came (stream_changed). */
    if (!r->c.sub) {
        char adv[sizeof "$JS.EVENT.ADVISORY.STREAM.*." + 256];
        natsStatus st;
        snprintf(adv, sizeof adv, "$JS.EVENT.ADVISORY.STREAM.*.%s", r->o.stream);
        st = natsConnection_SubscribeSync(&r->c.sub, r->c.nc, adv);
        if (st == NATS_OK) st = natsConnection_FlushTimeout(r->c.nc, 5000);
        if (st != NATS_OK) return ent_nats__err(ENT_IO, st, 0, "listening for the stream's deletion");
    }
    if ((rc = ensure_stream(r, &fresh))) return rc;
    if ((rc = last_header(&in_stream, r, r->subj_events, "Entity-Seq", &lastm))) return rc;
    if (in_stream) fresh = 0;
    rc = last_header(&schema, r, r->subj_schema, "Entity-Schema-Version", NULL);
    if (!rc && (rc = ent_log_bounds(&first, &last, r->s, NULL)) == ENT_OK && in_stream && in_stream <= last)
        rc = same_history(r, lastm, in_stream);
    natsMsg_Destroy(lastm);
    if (rc) return rc;
    rc = ent_sub_checkpoint(&cp, r->s, NULL, r->sub);
    if (rc == ENT_NOTFOUND) {
        if ((rc = ent_sub_create(r->s, r->sub, 0)) && rc != ENT_CONFLICT) return rc;
        cp = 0;
    } else if (rc) {
        return rc;
    }
    if (in_stream > last)
        /* Also a mirror promoted while it lagged (the primary published seqs it never applied),
         * and the old primary back after a promoted mirror published: going on would fork the
         * stream's history (ent_mirror_promote()). */
        return ent_error_set(ENT_CONFLICT, "stream %s holds seq %" PRIu64 " of store %s, but its log ends at %" PRIu64
                             " (a copy of that store; a mirror promoted before it had applied seqs %" PRIu64 "..%" PRIu64
                             "; or the old primary back after a mirror's promotion): the relay stops rather than fork "
                             "the stream's history", r->o.stream, in_stream, ent_store_id(r->s), last, last + 1, in_stream);
    /* A schema version of this store in the stream that the store never had: the stream's is
     * another history's (a mirror promoted before it applied the primary's last evolution, whose
     * message had no event after it; the old primary back after a promotion evolved the schema).
     * Going on, its events went out under its older version to mirrors at that one, and its own
     * next evolution, numbered as the stream's, was taken for published and never sent. (The
     * marks read again first: another process may have evolved the store since they were.) */
    if (schema > r->marks_top && schema > ent_schema_version(ent_store_schema(r->s)) && (rc = load_marks(r))) return rc;
    if (schema > r->marks_top && schema > ent_schema_version(ent_store_schema(r->s)))
        return ent_error_set(ENT_CONFLICT, "stream %s holds schema version %" PRIu64 " of store %s, but the store has versions "
                             "up to %" PRIu32 " (a mirror promoted before it had applied that version; or the old primary "
                             "back after a mirror's promotion evolved the schema): the relay stops rather than fork the "
                             "stream's history", r->o.stream, schema, ent_store_id(r->s), r->marks_top);
    r->pos = fresh ? 0 : in_stream ? in_stream : cp;
    r->sent = r->pos;
    /* in the stream (or acknowledged by it before a purge, as the checkpoint says): a host waiting
     * for a seq the stream had when this relay (re)connected need not wait for a publish */
    ent_nats__progress_advance(r->progress, r->pos);
    __atomic_store_n(&r->c.acks->acked_seq, r->pos, __ATOMIC_RELEASE); /* acks go on from here, one by one */
    /* Nothing of the store there (purged, emptied by its limits): the events after the checkpoint
     * that it had went with the rest, and their duplicates are their acks (on_ack) */
    __atomic_store_n(&r->c.acks->gone_dups_ok, !fresh && !in_stream, __ATOMIC_RELEASE);
    /* What the stream holds past the count was published by this relay on the dropped connection
     * and stored by JetStream, but its acks went with that connection (ent_nats__close drops the
     * pending ones; the old connection's late acks land in its retired state): the stream is
     * their ack, so they are counted here, or *acked would stay short of the log forever. The
     * first resume only sets the base: events in the stream from before this run are not ours. */
    if (r->counted < r->pos) {
        if (r->counting && r->acked) __atomic_add_fetch(r->acked, r->pos - r->counted, __ATOMIC_RELAXED);
        r->counted = r->pos;
    }
    r->counting = 1;
    r->schema_pub = (uint32_t)schema;
    /* Each version went out before the first event written under it: those written before the
     * stream's last event of the store are there, or were (its limits or a deletion took them).
     * Published again after that event, one would reach no mirror in its place, and within the
     * stream's duplicate window JetStream drops it (which stops the relay, see publish_schemas).
     * So too up to the checkpoint of a stream that holds nothing of the store any more (purged,
     * or emptied by its limits): JetStream acknowledged those events, and the versions before
     * them. Counted from the stream's last event only, a relay that resumed after a purge sent
     * version 1 again and stopped on its drop as a duplicate, exit 1, for the window's 2 min. */
    for (size_t i = 0; r->pos && i < r->n_marks; i++)
        if (r->marks[i].after_seq < r->pos && r->marks[i].version > r->schema_pub) r->schema_pub = r->marks[i].version;
    r->replay_upto = !fresh && in_stream < cp ? cp : 0;
    if (in_stream > cp && (rc = ent_sub_ack(r->s, NULL, r->sub, in_stream))) return rc;
    if (fresh && first > 1)
        return ent_error_set(ENT_NOTFOUND, "stream %s is new, but the log starts at seq %" PRIu64 " (trimmed): it cannot "
                             "hold seq 1 to %" PRIu64 "; relay to the stream that has them", r->o.stream, first, first - 1);
    if (r->pos + 1 < first)
        return ent_error_set(ENT_NOTFOUND, "the log starts at seq %" PRIu64 " (trimmed), the relay needs %" PRIu64
                             " (the last in stream %s is %" PRIu64 ")", first, r->pos + 1, r->o.stream, r->pos);
    if ((rc = hold_refill(r, cp))) return rc;
    if (!fresh && in_stream && in_stream < cp)
        ent_nats__log(r->o.log, r->o.log_payload, "relay: stream %s ends at seq %" PRIu64 " of this store, before the relay's "
                  "checkpoint %" PRIu64 " (messages lost by the server or deleted, or the checkpoint acknowledged by "
                  "hand): publishing from seq %" PRIu64 " again", r->o.stream, in_stream, cp, in_stream + 1);
    /* every event, the id counters' raises too: a mirror counts the ids its primary counts */
    if ((rc = ent_log_cursor_open(&r->cur, r->s, r->pos + 1, NULL, ENT_OP_ALL))) return rc;
    return ENT_OK;
}

static int load_marks(relay *r)
{
    int rc;
    free(r->marks);
    r->marks = NULL;
    r->n_marks = 0;
    if ((rc = ent_store_schema_history(&r->marks, &r->n_marks, r->s))) return rc;
    r->marks_top = r->n_marks ? r->marks[r->n_marks - 1].version : 0;
    return ENT_OK;
}

static int pub_state(relay *r);

/* A schema version not in the stream yet whose events, if any, come after pos: --once is not done
 * with the log up to pos until it is published. */
static int schema_pending(const relay *r)
{
    for (size_t i = 0; i < r->n_marks; i++)
        if (r->marks[i].version > r->schema_pub && r->marks[i].after_seq <= r->pos) return 1;
    return 0;
}

/* ENT_IO when JetStream announced (see resume()) that the stream was deleted or its config
 * changed since the relay looked at it: the resume then looks again. Its creation (by this
 * relay, or made again after a deletion announced too) changes nothing by itself. */
static int stream_changed(relay *r)
{
    int n = 0, bytes = 0;
    while (r->c.sub && natsSubscription_GetPending(r->c.sub, &n, &bytes) == NATS_OK && n > 0) {
        natsMsg *m = NULL;
        const char *what;
        if (natsSubscription_NextMsg(&m, r->c.sub, 1) != NATS_OK) return ENT_OK; /* (closed: pub_state says so) */
        what = natsMsg_GetSubject(m) + strlen("$JS.EVENT.ADVISORY.STREAM.");
        what = !strncmp(what, "DELETED.", 8) ? "deleted" : !strncmp(what, "UPDATED.", 8) ? "changed" : NULL;
        natsMsg_Destroy(m);
        if (what)
            return ent_error_set(ENT_IO, "stream %s was %s (JetStream's advisory); resuming from the stream as it is now",
                                 r->o.stream, what);
    }
    return ENT_OK;
}

/* One message, once fewer than a window of them await their acks. token: what the ack's subject
 * ends with (the event's seq; "s<version>" for a schema message); seq: the event's (0: a schema message).
 * ENT_FULL: larger than the server's max_payload, which no reconnection changes (the caller names
 * the message). */
static int publish(relay *r, const char *subject, const char *token, uint64_t seq, const char *msg_id, const char *body,
                   size_t len, const char *k1, const char *v1, const char *k2, const char *v2, const char *k3,
                   const char *v3)
{
    /* Seqs the stream lost (deleted by hand, or a checkpoint acknowledged past it) were published
     * before, maybe within JetStream's duplicate window, which then drops them again (on_ack
     * fails the relay): each one, and the one after them, goes out only once every ack is in,
     * so that nothing is stored behind a dropped one. */
    uint64_t limit = seq && seq <= r->replay_upto + 1 && r->replay_upto ? 1 : (uint64_t)r->window;
    natsMsg *m = NULL;
    char reply[96];
    natsStatus st;
    int rc;
    /* The stream's own limit is checked here, not left to JetStream: its refusal comes back with
     * the ack, after the messages sent behind this one, which it stores: a gap that the next run
     * went on after. (Its size as the server counts it: the header block, then the body.) */
    if (r->max_msg > 0) {
        size_t hdr = 10 + strlen("Nats-Msg-Id: \r\n") + strlen(msg_id) + strlen(k1) + 4 + strlen(v1) + 2;
        if (k2) hdr += strlen(k2) + 4 + strlen(v2);
        if (k3) hdr += strlen(k3) + 4 + strlen(v3);
        if (hdr + len > (uint64_t)r->max_msg)
            return ent_error_set_detail(ENT_FULL, ENT_DETAIL_TOO_LARGE, "does not fit the stream's max_msg_size of %" PRId64 " bytes (with its headers it "
                                 "has %zu): the relay stops rather than leave a gap; raise the stream's max_msg_size",
                                 r->max_msg, hdr + len);
    }
    if ((rc = ent_nats__wait_acks(&r->c, limit, limit == 1 ? 10000 : 5000))) return rc;
    if (__atomic_load_n(&r->c.acks->failed, __ATOMIC_ACQUIRE)) return pub_state(r);
    if ((rc = stream_changed(r))) return rc;
    ent_nats__reply(&r->c, reply, sizeof reply, token);
    st = natsMsg_Create(&m, subject, reply, body, (int)len);
    if (st == NATS_OK) st = natsMsgHeader_Set(m, "Nats-Msg-Id", msg_id);
    if (st == NATS_OK) st = natsMsgHeader_Set(m, k1, v1);
    if (st == NATS_OK && k2) st = natsMsgHeader_Set(m, k2, v2);
    if (st == NATS_OK && k3) st = natsMsgHeader_Set(m, k3, v3);
    if (st != NATS_OK) {
        natsMsg_Destroy(m);
        return ent_nats__err(ENT_NOMEM, st, 0, "building a message");
    }
    rc = ent_nats__publish(&r->c, m);
    natsMsg_Destroy(m);
    /* The client refuses it before sending: reconnecting and publishing it again would loop
     * without end (it did, without a pause), so the relay stops here, as for a JetStream refusal. */
    if (rc == ENT_FULL)
        return ent_error_set_detail(ENT_FULL, ENT_DETAIL_TOO_LARGE, "does not fit the server's max_payload of %" PRId64 " bytes (its body alone is %zu): "
                             "the relay stops rather than leave a gap; raise max_payload in the server's configuration",
                             (int64_t)natsConnection_GetMaxPayload(r->c.nc), len);
    return rc;
}

static char *put_u64(char *p, uint64_t v)
{
    char d[24], *q = d + sizeof d;
    do *--q = (char)('0' + v % 10);
    while (v /= 10);
    memcpy(p, q, (size_t)(d + sizeof d - q));
    return p + (d + sizeof d - q);
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* A message's Nats-Msg-Id from its ack token (publish()'s: an event's seq, or "s<v>" for schema
 * version v): "<store id>:<seq>" or "<store id>:schema:<v>", in out (MSG_ID_MAX bytes). One
 * place for both forms, so that duplicate_stored() looks for what the publishes wrote. */
#define MSG_ID_MAX (ENATS_ID_MAX + 48) /* ":schema:" and a token of up to 31 bytes (dup_token) */
static void put_msg_id(char *out, const relay *r, const char *token)
{
    char *p = put_str(out, r->id);
    if (token[0] == 's') {
        p = put_str(p, ":schema:");
        token++;
    } else {
        *p++ = ':';
    }
    *put_str(p, token) = '\0';
}

/* Schema versions after the last one published, up to the one event seq was written under. */
static int publish_schemas(relay *r, uint64_t seq, uint64_t *n_out)
{
    uint32_t need = 0;
    int rc;
    if (ent_schema_version(ent_store_schema(r->s)) > r->marks_top && (rc = load_marks(r))) return rc;
    for (size_t i = 0; i < r->n_marks; i++)
        if (r->marks[i].after_seq < seq) need = r->marks[i].version;
    for (size_t i = 0; i < r->n_marks; i++) {
        char *json = NULL, mid[MSG_ID_MAX], ver[16], after[24], tok[16];
        uint32_t v = r->marks[i].version;
        if (v <= r->schema_pub || v > need) continue;
        if (v > r->schema_synced && (rc = sync_seen(r))) return rc;
        if ((rc = ent_store_schema_json(&json, r->s, v))) return rc;
        snprintf(ver, sizeof ver, "%" PRIu32, v);
        snprintf(after, sizeof after, "%" PRIu64, seq - 1);
        snprintf(tok, sizeof tok, "s%" PRIu32, v);
        put_msg_id(mid, r, tok);
        rc = publish(r, r->subj_schema, tok, 0, mid, json, strlen(json), "Entity-Schema-Version", ver, "Entity-After-Seq", after,
                     NULL, NULL);
        free(json);
        /* (a refusal of an earlier message, reported here, is not this one's) */
        if (rc == ENT_FULL && !__atomic_load_n(&r->c.acks->failed, __ATOMIC_ACQUIRE))
            return ent_error_set_detail(rc, ent_errdetail(), "schema version %" PRIu32 " %s", v, ent_errmsg());
        if (rc) return rc;
        /* Nothing goes behind a schema message before its ack. JetStream drops one as a duplicate
         * when the stream lost it within its duplicate window (deleted by hand, a server that lost
         * its tail): events stored behind it reached mirrors under the version before it (an
         * unknown field, or the old schema kept for good). One wait per schema version. */
        {
            int w = ent_nats__wait_acks(&r->c, 1, 10000);
            if (w) return w; /* ENT_TIMEOUT: stopping; ENT_IO: no ack, the connection is dropped */
            if ((rc = pub_state(r))) return rc;
        }
        r->schema_pub = v;
        (*n_out)++;
    }
    return ENT_OK;
}

/* v in decimal at p; returns the end. */
/* Subject, message id and seq are put together by hand, not by snprintf: three formatted prints
 * per event were a tenth of the relay's own time. Every part is bounded (store id 36 bytes, type
 * name ENT_NAME_MAX, op 6, seq 20 digits), so the buffers cannot overflow. */
static int publish_event(relay *r, const ent_event *ev, int txn_end)
{
    static const char *ops[] = {"", "create", "update", "", "delete", "", "", "", "last_id"};
    char subject[sizeof ENATS_SUBJECT_PREFIX + ENATS_ID_MAX + ENT_NAME_MAX + 16], mid[MSG_ID_MAX], seq[24], ver[16], *p;
    char *json = NULL;
    uint32_t under = 0;
    int rc;
    /* The version the event was written under (the last one taken before it, as publish_schemas
     * counts), in a header: a mirror that never got that version's message (the stream's limits
     * dropped it, or it was deleted, before the mirror read it) applied the events under the
     * version before, in silence (its schema, defaults and indexes stayed old for good), or met
     * "unknown field" with no word of why. */
    for (size_t i = 0; i < r->n_marks; i++)
        if (r->marks[i].after_seq < ev->seq) under = r->marks[i].version;
    *put_u64(ver, under) = '\0';
    if ((rc = ent_event_to_json(&json, ev, 0))) return rc;
    p = put_str(subject, r->subj_base); /* "entity.<id>." */
    p = put_str(p, ent_type_name(ev->type));
    *p++ = '.';
    p = put_str(p, ev->op >= 1 && ev->op <= 8 && ops[ev->op][0] ? ops[ev->op] : "?");
    *p = '\0';
    *put_u64(seq, ev->seq) = '\0';
    put_msg_id(mid, r, seq);
    rc = publish(r, subject, seq, ev->seq, mid, json, strlen(json), "Entity-Seq", seq, under ? "Entity-Schema-Version" : NULL,
                 ver, txn_end ? "Entity-Txn-End" : NULL, "1");
    free(json);
    if (rc == ENT_FULL && !__atomic_load_n(&r->c.acks->failed, __ATOMIC_ACQUIRE)) {
        if (ev->key.kind == ENT_KEY_AUTO)
            return ent_error_set_detail(rc, ent_errdetail(), "event seq %s (%s %" PRIu64 ") %s", seq, ent_type_name(ev->type), ev->key.id, ent_errmsg());
        return ent_error_set_detail(rc, ent_errdetail(), "event seq %s (%s %.*s) %s", seq, ent_type_name(ev->type), (int)(ev->key.len > 64 ? 64 : ev->key.len),
                             ev->key.str, ent_errmsg());
    }
    return rc;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The checkpoint follows JetStream's acks, never ahead of them. It is a write to the primary (a
 * sync in durable mode), so while events keep coming it is written at most every 200 ms or half
 * window, not per event; force (caught up, or --once done) writes it now. Resuming never rests on
 * it alone (see resume()), so lagging a little costs nothing but trim's margin. */
static int ack_progress(relay *r, int force)
{
    uint64_t acked = __atomic_load_n(&r->c.acks->acked_seq, __ATOMIC_ACQUIRE);
    int64_t now = mono_ms();
    int rc;
    if (acked > r->counted) { /* what ent_relay_acked() reports: JetStream's acks */
        if (r->acked) __atomic_add_fetch(r->acked, acked - r->counted, __ATOMIC_RELAXED);
        r->counted = acked;
    }
    if (acked <= r->pos) return ENT_OK;
    if (!force && acked - r->pos < (uint64_t)r->window / 2 && now - r->ack_ms < 200) return ENT_OK;
    r->ack_ms = now;
    rc = ent_sub_ack(r->s, NULL, r->sub, acked);
    if (rc == ENT_NOTFOUND) {
        /* Removed under the relay (`subs rm relay`): made again where the acks are, as a restart
         * would make it, so that trim goes on keeping what is not published (a trim meanwhile is
         * caught as any forced one is: the next event read is not the next seq). */
        if ((rc = ent_sub_create(r->s, r->sub, 0)) && rc != ENT_CONFLICT) return rc;
        ent_nats__log(r->o.log, r->o.log_payload, "relay: its subscription \"%s\" was removed; made again at seq %" PRIu64,
                  r->sub, acked);
        rc = ent_sub_ack(r->s, NULL, r->sub, acked);
    }
    if (rc) return rc;
    /* (see hold_refill) the stream holds what the checkpoint covers again: trim is held by it */
    if (r->refill_upto) {
        rc = ent_sub_ack(r->s, NULL, r->refill, acked);
        if (!rc && acked >= r->refill_upto) rc = ent_sub_delete(r->s, r->refill);
        if (rc == ENT_NOTFOUND) rc = ENT_OK; /* removed by hand: the relay's own subscription holds the rest */
        if (rc) return rc;
        if (acked >= r->refill_upto) r->refill_upto = 0;
    }
    r->pos = acked;
    return ENT_OK;
}

/* A duplicate's answer named stream message dup_of: 1 when that is the dropped message itself (its
 * Nats-Msg-Id the one the relay gave it), stored from an earlier publish whose ack did not come;
 * 0 when the stream does not hold it (or another message there); -1 when the look-up failed (a
 * server still stalled, a lost connection: the next resume looks at the stream again). */
static int duplicate_stored(relay *r, const ent_nats__acks *a)
{
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    const char *have = NULL;
    char want[MSG_ID_MAX];
    natsStatus st;
    int same;
    if (!a->dup_of) return 0;
    put_msg_id(want, r, a->dup_token);
    st = js_GetMsg(&m, r->c.js, r->o.stream, a->dup_of, NULL, &jerr);
    if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) return 0;
    if (st != NATS_OK) {
        ent_nats__err(ENT_IO, st, jerr, "reading the message a duplicate's answer names");
        return -1;
    }
    same = natsMsgHeader_Get(m, "Nats-Msg-Id", &have) == NATS_OK && have && !strcmp(have, want);
    natsMsg_Destroy(m);
    return same;
}

static int pub_state(relay *r)
{
    if (__atomic_load_n(&r->c.acks->failed, __ATOMIC_ACQUIRE)) {
        /* A duplicate of a message the stream holds: published before, on the connection this one
         * replaced, and stored after the resume read the stream's last message (a stalled server
         * catching up). Nothing is missing; a new resume reads the stream as it is now. */
        int stored = r->c.acks->duplicate ? duplicate_stored(r, r->c.acks) : 0;
        if (stored < 0) return ENT_IO; /* its message says which look-up failed */
        if (stored)
            return ent_error_set(ENT_IO, "JetStream had %s%s already, at stream seq %" PRIu64 ", from a publish "
                                 "whose ack a stall lost; resuming from the stream",
                                 r->c.acks->dup_token[0] == 's' ? "schema version " : "event seq ",
                                 r->c.acks->dup_token + (r->c.acks->dup_token[0] == 's'), r->c.acks->dup_of);
        /* JetStream said no to one message (too large, stream full...): publishing on would leave
         * a gap, and resuming from the stream would skip it. Stop and say which. */
        if (__atomic_load_n(&r->c.acks->refused, __ATOMIC_RELAXED))
            return ent_error_set_detail(ENT_FULL, r->c.acks->detail, "JetStream refused %s; the relay stops rather than leave a gap",
                                        r->c.acks->err);
        return ent_error_set(ENT_IO, "a publish failed (%s)", r->c.acks->err);
    }
    if (ent_nats__closed(&r->c)) return ent_error_set(ENT_IO, "the connection closed");
    return ENT_OK;
}

/* Events sent+1..upto are not in the log any more (a forced truncation while the relay ran). */
static int lost(relay *r, uint64_t upto)
{
    return ent_error_set(ENT_NOTFOUND, "seq %" PRIu64 " to %" PRIu64 " left the log (trim --force) before the relay "
                         "published them; it stops rather than leave a gap in stream %s", r->sent + 1, upto, r->o.stream);
}

/* Publish up to a window of messages without waiting (at most `window` await their acks; a
 * publish beyond waits for one, see publish()), then move the checkpoint as far as the acks have come. When there
 * is nothing new to publish, wait for the acks of what is in flight.
 * out_n: events published. ENT_IO: the connection is to be dropped. */
static int batch(relay *r, uint64_t *out_n)
{
    uint64_t n = 0, msgs = 0;
    int rc = ENT_OK;
    *out_n = 0;
    while (msgs < (uint64_t)r->window) {
        ent_event *ev = NULL;
        if (!r->ahead) {
            rc = ent_log_next(&r->ahead, r->cur);
            if (rc == ENT_TRUNCATED) return lost(r, ent_log_cursor_pos(r->cur) - 1);
            if (rc == ENT_NOTFOUND) {
                /* Nothing after what was sent, or was it all truncated? (Else the relay would
                 * wait for seqs past the log's end, woken at once each time: a spin.) */
                uint64_t first = 0, last = 0;
                if ((rc = ent_log_bounds(&first, &last, r->s, NULL))) return rc;
                if (last > r->sent && first > r->sent + 1) return lost(r, first - 1);
                rc = ENT_OK;
                break;
            }
            if (rc) return rc;
        }
        /* The cursor goes on from the first event it finds: events truncated (forced) before the
         * relay read them would be skipped, and the stream get a gap. Stop short of it instead. */
        if (r->ahead->seq != r->sent + 1) return lost(r, r->ahead->seq - 1);
        rc = ent_log_next(&ev, r->cur);
        /* ahead went with the rest: a truncation drops every event below the first it keeps */
        if (rc == ENT_TRUNCATED) return lost(r, ent_log_cursor_pos(r->cur) - 1);
        if (rc && rc != ENT_NOTFOUND) return rc;
        /* A transaction commits whole: when the log shows nothing after an event (in a snapshot
         * that holds it), its transaction has ended. */
        if (r->ahead->seq > r->synced && (rc = sync_seen(r))) {
            ent_event_free(ev);
            return rc;
        }
        if ((rc = publish_schemas(r, r->ahead->seq, &msgs))) {
            ent_event_free(ev);
            return rc;
        }
        {
            ent_event *w = NULL;
            /* As written, not as read with the store's schema, which no longer reads the fields
             * a later version removed: published so, it was another event than the log's, which
             * a mirror at its version refused when one was required ("missing required field"),
             * and a mirror held other values than the primary until it evolved. */
            if (!(rc = ent_event_as_written(&w, r->s, r->ahead))) rc = publish_event(r, w ? w : r->ahead, !ev || ev->txn != r->ahead->txn);
            ent_event_free(w);
        }
        if (rc) {
            ent_event_free(ev);
            return rc;
        }
        r->sent = r->ahead->seq;
        ent_event_free(r->ahead);
        r->ahead = ev;
        n++;
        msgs++;
        if (!ev) break;
    }
    /* Caught up with the log: a schema version taken after its last event (an evolution with no
     * write after it yet) goes out now rather than with the next event, which may never come (a
     * mirror kept the old schema: no new defaults, no new index). The log ends with a whole
     * transaction here, so a mirror gets it between two of them, as the relay sends it with the
     * next event; its ack is waited for, as --once's last event's is. */
    if (!msgs && !r->ahead) {
        if ((rc = publish_schemas(r, r->sent + 1, &msgs))) return rc;
        if (msgs) {
            int w = ent_nats__wait_acks(&r->c, 1, 10000);
            if (w == ENT_TIMEOUT) return w; /* stopping */
            if ((rc = pub_state(r))) return rc;
            if (w) return ent_error_set(ENT_IO, "waiting for JetStream's ack of a schema message: %s", ent_errmsg());
        }
    }
    if (!msgs && r->sent > r->pos) {
        int w = ent_nats__wait_acks(&r->c, 1, 10000);
        if (w == ENT_TIMEOUT) return w; /* stopping */
        if ((rc = pub_state(r))) return rc;
        if (w) return ent_error_set(ENT_IO, "waiting for JetStream's acks: %s", ent_errmsg());
        if (__atomic_load_n(&r->c.acks->acked_seq, __ATOMIC_ACQUIRE) < r->sent)
            return ent_error_set(ENT_IO, "acks stopped at seq %" PRIu64 " of %" PRIu64,
                                 __atomic_load_n(&r->c.acks->acked_seq, __ATOMIC_ACQUIRE), r->sent);
    }
    if ((rc = pub_state(r))) return rc;
    /* Caught up (nothing new to publish, every ack in): the checkpoint is written now rather than
     * up to 200 ms later. A writer in another process that waits for it (ent_sub_wait(), semi-
     * synchronous replication: README, "Failing over") then waits one ack round trip and this
     * commit, not the batching's 200 ms. Under a steady load the relay is not caught up at the
     * end of a batch (msgs > 0) and the checkpoint stays batched; while caught up it is one
     * commit per catch-up, beside the one sync per catch-up (sync_seen) the relay makes anyway. */
    if ((rc = ack_progress(r, !msgs))) return rc;
    *out_n = n;
    return ENT_OK;
}

/* ---- one relay per store ------------------------------------------------------------------ */

/* Two relays of one store would both resume from the stream and publish the same seqs: the
 * stream's duplicate window would drop most, but exactly once must not rest on it, and their
 * checkpoints would race. A store on disk: an flock on <dir>/relay.lock, held for the whole run;
 * the kernel drops it with its holder, however that dies (SIGKILL too), so it never goes stale.
 * flock locks of two opens conflict within one process too. The file holds the holder's pid, for
 * the message. A memory store (no directory) can only be reached through its handle: a list of
 * handles with a relay running covers it, and a second relay on one handle of any store. */
static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;
static const ent_store *running[64];

static int claim_handle(const ent_store *s)
{
    int rc = ENT_OK;
    size_t free_slot = sizeof running / sizeof running[0];
    pthread_mutex_lock(&running_mu);
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++) {
        if (running[i] == s) rc = ENT_BUSY;
        else if (!running[i] && free_slot == sizeof running / sizeof running[0]) free_slot = i;
    }
    if (!rc && free_slot == sizeof running / sizeof running[0]) rc = ENT_NOMEM;
    if (!rc) running[free_slot] = s;
    pthread_mutex_unlock(&running_mu);
    if (rc == ENT_BUSY)
        return ent_error_set(ENT_BUSY, "store %s: a relay is already running on it in this process; one relay per store",
                             ent_store_path(s)[0] ? ent_store_path(s) : "(memory)");
    if (rc) return ent_error_set(rc, "more than 64 relays in one process");
    return ENT_OK;
}

static void release_handle(const ent_store *s)
{
    pthread_mutex_lock(&running_mu);
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++)
        if (running[i] == s) running[i] = NULL;
    pthread_mutex_unlock(&running_mu);
}

/* out: the lock file's descriptor (-1 for a store without a directory). */
static int lock_store(int *out, const ent_store *s)
{
    *out = -1;
    if (strcmp(ent_store_backend(s), "lmdb") != 0 || !ent_store_path(s)[0]) return ENT_OK;
    return ent_nats__lock_dir(out, ent_store_path(s), "relay");
}

static void unlock_store(int fd) { ent_nats__unlock_dir(fd); }

static int run_locked(ent_store *s, const ent_relay_opts *opts, const volatile int *stop, uint64_t *acked,
                      ent_nats__progress *progress);

static int run(ent_store *s, const ent_relay_opts *opts, const volatile int *stop, uint64_t *acked)
{
    int rc, fd;
    if (!s || !opts) return ent_error_set(ENT_INVALID, "ent_relay_run: %s is NULL", !s ? "store" : "opts");
    if ((rc = claim_handle(s))) return rc;
    if ((rc = lock_store(&fd, s))) {
        release_handle(s);
        return rc;
    }
    rc = run_locked(s, opts, stop, acked, NULL);
    unlock_store(fd);
    release_handle(s);
    return rc;
}

static int run_locked(ent_store *s, const ent_relay_opts *opts, const volatile int *stop, uint64_t *acked,
                      ent_nats__progress *progress)
{
    relay r;
    /* backoff: the nap before the next connect after a failed one or a loss, doubled each time
     * up to 2 s. It starts again at 100 ms only once a connection has worked: an ack moved the
     * position, or the relay waited caught up with the connection open. Reset at every connect
     * (as it was), a server that took the connection and failed every publish (a 503 to each,
     * a stream that refuses) got a new connection, stream look-up and resume 10 times a second
     * for as long as it lasted. */
    int rc = ENT_OK, backoff = 100, losses = 0;
    uint64_t loss_pos = 0, up_pos = 0;
    uint64_t first = 0;
    static const volatile int never = 0;
    if (!s || !opts) return ent_error_set(ENT_INVALID, "ent_relay_run: %s is NULL", !s ? "store" : "opts");
    if (opts->version != ENT_RELAY_OPTS_VERSION)
        return ent_error_set(ENT_INVALID, "ent_relay_run: opts->version %u, expected %u", opts->version, ENT_RELAY_OPTS_VERSION);
    if (opts->window < 0) /* was taken as 0 (the default): a slip that silently meant 4096 */
        return ent_error_set(ENT_INVALID, "ent_relay_run: opts->window %d is negative (0: 4096)", opts->window);
    if ((rc = ent_nats__check_url(opts->url))) return rc;
    if ((rc = ent_nats__check_stream(opts->stream))) return rc;
    if ((rc = ent_nats_check_auth(opts->url, &opts->auth))) return rc;
    ent_nats__auth_warn_modes(&opts->auth, "relay", opts->log, opts->log_payload);
    if (!ent_store_id(s)[0]) return ent_error_set(ENT_INVALID, "the store has no id yet: open it writable once");
    if (strlen(ent_store_id(s)) > ENATS_ID_MAX)
        return ent_error_set(ENT_INVALID, "store id \"%s\" is longer than a UUID", ent_store_id(s));
    if (ent_store_mirror_of(s))
        return ent_error_set(ENT_INVALID, "store is a mirror of %s: relay the primary's log from the primary",
                             ent_store_mirror_of(s));
    memset(&r, 0, sizeof r);
    r.s = s;
    r.o = *opts;
    r.sub = opts->sub_name && *opts->sub_name ? opts->sub_name : "relay";
    r.window = opts->window > 0 ? opts->window : 4096;
    r.stop = stop ? stop : &never;
    r.c.stop = r.stop;
    r.acked = acked;
    r.progress = progress;
    r.c.progress = progress;
    snprintf(r.subj_all, sizeof r.subj_all, ENATS_SUBJECT_PREFIX "%s.>", ent_store_id(s));
    snprintf(r.subj_events, sizeof r.subj_events, ENATS_SUBJECT_PREFIX "%s.*.*", ent_store_id(s));
    snprintf(r.subj_schema, sizeof r.subj_schema, ENATS_SUBJECT_PREFIX "%s.schema", ent_store_id(s));
    snprintf(r.subj_base, sizeof r.subj_base, ENATS_SUBJECT_PREFIX "%s.", ent_store_id(s));
    snprintf(r.id, sizeof r.id, "%s", ent_store_id(s));
    ent_nats__url_shown(r.url, sizeof r.url, opts->url);
    if ((rc = ent_log_bounds(&first, &r.target, s, NULL))) return rc;
    if ((rc = load_marks(&r))) return rc;
    /* A stop closes the connection at once (the caller's flag; none: no thread): a JetStream
     * request of the resume (stream info, last message, 5 s each when the server does not answer)
     * ends then, instead of keeping the stop waiting for it. What was published and not yet
     * acknowledged is looked up in the stream by the next run's resume: nothing is lost. */
    if ((rc = ent_nats__watch_start(&r.w, &r.c, stop))) {
        free(r.marks);
        return rc;
    }
    /* This thread alone moves the relay's subscriptions, and the log callback runs on it: an
     * ent_sub_wait() there on them waited out its timeout (with -1 the relay stopped for good).
     * The core refuses it now (ENT_BUSY), as ent_relay_wait() from the callback. */
    snprintf(r.refill, sizeof r.refill, "%.193s.refill", r.sub);
    if ((rc = ent_log_wait_claim(s, r.sub, "the relay's thread (its log callback runs there)")) ||
        (rc = ent_log_wait_claim(s, r.refill, "the relay's thread (its log callback runs there)"))) {
        ent_log_wait_unclaim(s, r.sub);
        ent_nats__watch_end(&r.w);
        free(r.marks);
        return rc;
    }

    while (!ent_nats__stopped(r.stop)) {
        uint64_t n = 0;
        if (!r.up) {
            rc = ent_nats__connect(&r.c, r.o.url, &r.o.auth, r.window);
            if (!rc) rc = resume(&r);
            if (rc == ENT_IO && ent_nats__stopped(r.stop)) {
                rc = ENT_OK; /* its connection closed by the stop (r.w): a stop, not an outage */
                break;
            }
            if (rc == ENT_IO) {
                char why[512];
                snprintf(why, sizeof why, "%s", ent_errmsg());
                drop(&r);
                if (r.o.once) {
                    rc = ent_error_set(ENT_IO, "NATS at %s: %s", r.url, why);
                    break;
                }
                if (!r.said_down)
                    ent_nats__log(r.o.log, r.o.log_payload, "relay: NATS unreachable (%s); retrying", why);
                r.said_down = 1;
                ent_nats__nap(backoff, r.stop);
                backoff = backoff < 1000 ? backoff * 2 : 2000;
                rc = ENT_OK; /* stopped while NATS is down: a stop like any other (exit 0) */
                continue;
            }
            if (rc) break;
            r.up = 1;
            r.said_down = 0;
            up_pos = r.pos;
            ent_nats__log(r.o.log, r.o.log_payload, "relay: connected to %s, stream %s; resuming after seq %" PRIu64,
                      r.url, r.o.stream, r.pos);
        }
        if (r.o.once && r.pos >= r.target && !schema_pending(&r)) break;
        rc = batch(&r, &n);
        if (rc == ENT_TIMEOUT && ent_nats__stopped(r.stop)) {
            rc = ENT_OK; /* stopped while waiting for acks: what came in is checkpointed below */
            break;
        }
        if (rc == ENT_IO && ent_nats__stopped(r.stop)) {
            rc = ENT_OK; /* the stop closed the connection under a publish: the acks in are checkpointed below */
            break;
        }
        if (rc && r.store_failed) break; /* the store's failure, not NATS's: no reconnect mends it */
        if (rc == ENT_IO) {
            /* A loss that comes back at once after each reconnect (JetStream answering 503 to
             * every publish) looped without a pause, and with once for ever. Once gives up after
             * ONCE_LOSSES losses in a row with no ack between them; the relay naps between tries. */
            if (r.pos != loss_pos) losses = 0;
            loss_pos = r.pos;
            if (r.o.once && ++losses >= ONCE_LOSSES) {
                rc = ent_error_set(ENT_IO, "NATS at %s: %s (%d tries in a row, no ack between them)", r.url,
                                   ent_errmsg(), losses);
                break;
            }
            ent_nats__log(r.o.log, r.o.log_payload, "relay: lost NATS (%s); reconnecting in %d ms", ent_errmsg(), backoff);
            drop(&r);
            r.said_down = 1;
            ent_nats__nap(backoff, r.stop);
            backoff = backoff < 1000 ? backoff * 2 : 2000;
            rc = ENT_OK;
            continue;
        }
        if (rc) break;
        if (r.pos != up_pos) backoff = 100; /* acks came on this connection */
        if (!n && !r.o.once) {
            /* Caught up: wait for a commit (any process) without polling the log. */
            int w = ent_log_wait(NULL, s, r.pos, 200);
            if (w && w != ENT_TIMEOUT) {
                rc = w;
                break;
            }
            if (ent_nats__stopped(r.stop)) break; /* (its connection maybe closed by the stop) */
            /* caught up, and nothing comes: is the store at the path still the one it reads? */
            if (w == ENT_TIMEOUT && (rc = ent_nats__store_moved(s, "relay", "the writers of that path write "
                                                                 "another store than it reads, and nothing of theirs "
                                                                 "reaches the stream")))
                break;
            if (ent_nats__closed(&r.c)) {
                ent_nats__log(r.o.log, r.o.log_payload, "relay: lost NATS (connection closed); reconnecting");
                drop(&r);
                r.said_down = 1;
            } else {
                backoff = 100; /* caught up on an open connection: it works */
            }
        }
    }
    {
        /* keep the failure's message across the cleanup */
        char msg[1024];
        int detail = ent_errdetail();
        snprintf(msg, sizeof msg, "%s", ent_errmsg());
        /* Stopping: the checkpoint catches up with every ack received (trim's margin), also when
         * the relay stops on an error: what JetStream acknowledged is in the stream either way. */
        if (r.up && r.c.acks) ack_progress(&r, 1);
        if (!rc && r.o.once)
            ent_nats__log(r.o.log, r.o.log_payload, "relay: stream %s holds the log up to seq %" PRIu64, r.o.stream, r.pos);
        drop(&r);
        ent_nats__fini(&r.c);
        ent_nats__watch_end(&r.w);
        free(r.marks);
        ent_log_wait_unclaim(s, r.sub);
        ent_log_wait_unclaim(s, r.refill);
        if (rc) ent_error_set_detail(rc, detail, "%s", msg);
    }
    return rc;
}

/* *opts as this version's struct into *o: version 1 (before auth) is taken without auth. */
static int take_opts(ent_relay_opts *o, const ent_relay_opts *opts, const char *fn)
{
    ent_relay_opts init = ENT_RELAY_OPTS_INIT;
    *o = init;
    if (opts->version == 1) {
        memcpy(o, opts, offsetof(ent_relay_opts, auth));
        o->version = ENT_RELAY_OPTS_VERSION;
        return ENT_OK;
    }
    if (opts->version != ENT_RELAY_OPTS_VERSION)
        return ent_error_set(ENT_INVALID, "%s: options of version %u, this library's are 1 to %u", fn, opts->version,
                             ENT_RELAY_OPTS_VERSION);
    *o = *opts;
    return ENT_OK;
}

int ent_relay_run(ent_store *s, const ent_relay_opts *opts, const volatile int *stop)
{
    ent_relay_opts o;
    int rc;
    if (!opts) return run(s, opts, stop, NULL);
    if ((rc = take_opts(&o, opts, "ent_relay_run"))) return rc;
    return run(s, &o, stop, NULL);
}

/* ---- in a thread of its own ---------------------------------------------------------------- */

struct ent_relay {
    pthread_t th;
    ent_store *s;
    ent_relay_opts o;
    char *url, *stream, *sub;
    volatile int stop;
    int rc, detail;
    char msg[1024];
    uint64_t acked;
    int lock_fd;
    ent_nats__progress *prog; /* ent_relay_wait()'s (a reference) */
};

static void *relay_main(void *p)
{
    ent_relay *x = p;
    ent_nats__progress_runner(x->prog); /* before the log callback's first line */
    x->rc = run_locked(x->s, &x->o, &x->stop, &x->acked, x->prog);
    if (x->rc) {
        x->detail = ent_errdetail();
        snprintf(x->msg, sizeof x->msg, "%s", ent_errmsg());
    }
    /* waiters for seqs it never acknowledged hear why, rather than wait out their timeout */
    ent_nats__progress_end(x->prog, 1, x->rc, x->detail, x->msg);
    return NULL;
}

static void relay_free(ent_relay *x)
{
    ent_nats__progress_release(x->prog);
    unlock_store(x->lock_fd);
    release_handle(x->s);
    free(x->url);
    free(x->stream);
    free(x->sub);
    ent_nats__auth_free(&x->o.auth);
    free(x);
}

/* The store is claimed here, before the thread starts: a second relay hears it from this call. */
int ent_relay_start(ent_relay **out, ent_store *s, const ent_relay_opts *opts)
{
    ent_relay *x;
    int rc;
    if (!out || !s || !opts)
        return ent_error_set(ENT_INVALID, "ent_relay_start: %s is NULL", !out ? "out" : !s ? "store" : "opts");
    *out = NULL;
    {
        ent_relay_opts o;
        if ((rc = take_opts(&o, opts, "ent_relay_start"))) return rc;
        /* TLS files, keys: refused by this call, as ent_follow_start() does */
        if ((rc = ent_nats_check_auth(o.url, &o.auth))) return rc;
    }
    if ((rc = claim_handle(s))) return rc;
    if (!(x = calloc(1, sizeof *x))) {
        release_handle(s);
        return ent_error_set(ENT_NOMEM, "out of memory");
    }
    x->s = s;
    x->lock_fd = -1;
    if (!(x->prog = ent_nats__progress_new())) {
        relay_free(x);
        return ent_error_set(ENT_NOMEM, "out of memory");
    }
    if ((rc = lock_store(&x->lock_fd, s))) {
        relay_free(x);
        return rc;
    }
    take_opts(&x->o, opts, "ent_relay_start"); /* (checked above) */
    {
        ent_nats_auth theirs = x->o.auth;
        if ((rc = ent_nats__auth_dup(&x->o.auth, &theirs))) { /* (leaves it all NULL) */
            relay_free(x);
            return rc;
        }
    }
    x->url = opts->url ? strdup(opts->url) : NULL;
    x->stream = opts->stream ? strdup(opts->stream) : NULL;
    x->sub = opts->sub_name ? strdup(opts->sub_name) : NULL;
    if ((opts->url && !x->url) || (opts->stream && !x->stream) || (opts->sub_name && !x->sub)) {
        relay_free(x);
        return ent_error_set(ENT_NOMEM, "out of memory");
    }
    x->o.url = x->url;
    x->o.stream = x->stream;
    x->o.sub_name = x->sub;
    int err = pthread_create(&x->th, NULL, relay_main, x);
    if (err) {
        relay_free(x);
        return ent_nats__thread_err(err, "the relay thread");
    }
    *out = x;
    return ENT_OK;
}

int ent_relay_stop(ent_relay *x)
{
    int rc;
    if (!x) return ENT_OK;
    /* Waiters in ent_relay_wait() return now (what is not acknowledged yet is not known to be
     * in the stream), not once the last batch's acks came; each holds a reference to the
     * progress, not to x, which goes below. */
    ent_nats__progress_end(x->prog, 2, ENT_OK, 0, NULL);
    __atomic_store_n(&x->stop, 1, __ATOMIC_RELAXED);
    pthread_join(x->th, NULL);
    rc = x->rc;
    if (rc) ent_error_set_detail(rc, x->detail, "%s", x->msg);
    relay_free(x); /* (sets no error) */
    return rc;
}

uint64_t ent_relay_acked(const ent_relay *x)
{
    return x ? __atomic_load_n(&x->acked, __ATOMIC_RELAXED) : 0;
}

static int64_t wait_ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return ((int64_t)(now.tv_sec - t0->tv_sec) * 1000000000 + (now.tv_nsec - t0->tv_nsec)) / 1000000;
}

int ent_relay_wait(ent_relay *x, uint64_t seq, int timeout_ms)
{
    ent_nats__progress *p;
    struct timespec t0;
    uint64_t done;
    int rc = ENT_OK;
    if (!x) return ent_error_set(ENT_INVALID, "ent_relay_wait: the relay is NULL");
    p = x->prog;
    if (__atomic_load_n(&p->done, __ATOMIC_SEQ_CST) >= seq) return ENT_OK; /* (no lock when it is there) */
    /* The thread that holds the store's writer (a wait inside ent_txn_run()'s fn for its own
     * seq, or beside its write transaction) waited out its timeout, forever with -1: its own
     * events are not committed until the wait returns, and the relay, caught up, blocks in its
     * checkpoint's commit on that writer before it reads the next ones. Refused as ent_sub_wait()
     * refuses there. An event callback's wait is not: the relay's commits carry no events and do
     * not wait for the delivery. */
    if (ent_txn_holds_writer(x->s))
        return ent_error_set(ENT_BUSY, "ent_relay_wait: this thread holds the store's write transaction (also in "
                             "ent_txn_run()'s fn): seq %" PRIu64 " cannot reach JetStream (it has up to %" PRIu64
                             ") before it ends; commit, then wait", seq, __atomic_load_n(&p->done, __ATOMIC_SEQ_CST));
    /* The relay's log callback runs on the relay's thread: the thread that would publish seq is
     * the one waiting (it ran out its timeout, and with -1 hung the relay and its stop). */
    if (ent_nats__progress_on_runner(p))
        return ent_error_set(ENT_BUSY, "ent_relay_wait: called on the relay's own thread (its log callback): seq %" PRIu64
                             " cannot reach JetStream (it has up to %" PRIu64 ") while the relay waits",
                             seq, __atomic_load_n(&p->done, __ATOMIC_SEQ_CST));
    /* x is not touched past this point: ent_relay_stop() may free it while this waits */
    ent_nats__progress_ref(p);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&p->mu);
    __atomic_add_fetch(&p->waiters, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        int64_t left;
        struct timespec ts;
        done = __atomic_load_n(&p->done, __ATOMIC_SEQ_CST);
        if (done >= seq) break;
        if (p->ended == 2) {
            rc = ent_error_set(ENT_IO, "the relay was stopped (ent_relay_stop) before JetStream acknowledged seq %" PRIu64
                               " (it has up to %" PRIu64 ")", seq, done);
            break;
        }
        if (p->ended && p->rc) {
            rc = ent_error_set_detail(p->rc, p->detail, "the relay ended before JetStream acknowledged seq %" PRIu64
                                      " (it has up to %" PRIu64 "): %s", seq, done, p->msg);
            break;
        }
        if (p->ended) { /* once: it published the log as it was at its start */
            rc = ent_error_set(ENT_IO, "the relay ended (once: the log as it was at its start is published) before seq %"
                               PRIu64 " (JetStream has up to %" PRIu64 ")", seq, done);
            break;
        }
        if (timeout_ms >= 0 && (left = timeout_ms - wait_ms_since(&t0)) <= 0) {
            rc = ent_error_set(ENT_TIMEOUT, "JetStream has acknowledged the relay's events up to seq %" PRIu64 ", not yet %"
                               PRIu64 " (waited %d ms)", done, seq, timeout_ms);
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)(left / 1000);
        ts.tv_nsec += (long)(left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    __atomic_sub_fetch(&p->waiters, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&p->mu);
    ent_nats__progress_release(p);
    return rc;
}
