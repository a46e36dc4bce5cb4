/* The mirror's side: follow a relay's messages on a JetStream stream into a mirror store
 * (entity/mirror.h does the applying; this file is the transport).
 *
 * An ordered consumer (no server-side state to clean up) starts after the stream position stored
 * in the mirror with its last applied transaction; a broken connection is replaced and the
 * consumer starts again from there, so a transaction half received is simply received again.
 * Duplicates are skipped by seq; a seq missing in the stream stops the mirror with an error.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mirror_msg.h"

typedef struct follower {
    const char *path;
    ent_follow_opts o;
    const volatile int *stop;
    ent_nats__conn c;         /* and its subscription c.sub */
    ent_nats__watch w;        /* closes c once *stop is raised (nats_util.h) */
    ent_nats__mirror mr;         /* the store and what was applied (mirror_msg.c) */
    char subj_all[80];
    int up, said_down;
    uint64_t target;         /* once: the stream position of the primary's last message at start */
    int64_t created;         /* the stream's creation time (ns) when the consumer was made */
    int idle;                /* reads in a row that timed out (200 ms each) */
    uint64_t regap;          /* a gap met at this seq made the mirror start again (see run) */
    char url[1024];          /* o.url as lines show it (ent_nats__url_shown: no password) */
} follower;

static void drop(follower *f)
{
    ent_nats__mirror_txn_clear(&f->mr);
    ent_nats__close(&f->c); /* and its subscription f->c.sub */
    f->up = 0;
}

/* Before connecting: an existing store at path tells the primary (or must agree with the one given). */
static int open_existing(follower *f)
{
    ent_store *x = NULL;
    ent_store_opts ro = ENT_STORE_OPTS_INIT;
    int rc;
    ro.read_only = 1;
    if (ent_store_open(&x, f->path, NULL, &ro) != ENT_OK) return ENT_OK; /* none yet: created later */
    if (!ent_store_mirror_of(x)) {
        ent_store_close(x);
        return ent_error_set(ENT_CONFLICT, "%s holds a store that is not a mirror; a mirror is created in an "
                             "empty directory", f->path);
    }
    if (!f->mr.primary[0]) snprintf(f->mr.primary, sizeof f->mr.primary, "%s", ent_store_mirror_of(x));
    ent_store_close(x);
    rc = ent_nats__mirror_open(&f->mr, NULL); /* ENT_CONFLICT when it mirrors another primary */
    return rc;
}

/* The primary's id from the subject "entity.<id>.…" of the stream's first message. */
static int primary_from_stream(follower *f, uint64_t first_seq)
{
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    const char *subj, *p, *dot;
    natsStatus st = js_GetMsg(&m, f->c.js, f->o.stream, first_seq, NULL, &jerr);
    if (st != NATS_OK) return ent_nats__err(ENT_IO, st, jerr, "reading the stream's first message");
    subj = natsMsg_GetSubject(m);
    p = subj + strlen(ENATS_SUBJECT_PREFIX);
    dot = strncmp(subj, ENATS_SUBJECT_PREFIX, strlen(ENATS_SUBJECT_PREFIX)) == 0 ? strchr(p, '.') : NULL;
    if (!dot || dot - p > ENATS_ID_MAX) {
        int rc = ent_error_set(ENT_CORRUPT, "stream %s: first message's subject %s is not entity.<store id>.…",
                               f->o.stream, subj);
        natsMsg_Destroy(m);
        return rc;
    }
    memcpy(f->mr.primary, p, (size_t)(dot - p));
    f->mr.primary[dot - p] = '\0';
    natsMsg_Destroy(m);
    return ENT_OK;
}

/* Where to read the stream from: after the position stored with the last applied transaction,
 * if that position still holds it. A stream deleted and made again (by the relay or by hand)
 * numbers its messages anew: the old position would skip events there, or wait for numbers the
 * stream reaches much later, while the mirror says it is up to date. Then it is read from its
 * start, and what was applied already is skipped by seq. A message gone from the position (a
 * stream's limits, a deletion) says nothing of numbering: reading after it stays right. */
static int start_seq(uint64_t *out, follower *f, uint64_t last_pos)
{
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    uint64_t seq = 0;
    const char *subj;
    natsStatus st;
    int same, rc;
    *out = f->mr.pos + 1;
    if (!f->mr.pos) return ENT_OK;
    if (last_pos >= f->mr.pos) {
        st = js_GetMsg(&m, f->c.js, f->o.stream, f->mr.pos, NULL, &jerr);
        if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) return ENT_OK;
        if (st != NATS_OK) return ent_nats__err(ENT_IO, st, jerr, "reading the stream at the mirror's position");
        subj = natsMsg_GetSubject(m);
        same = !strncmp(subj, f->subj_all, strlen(f->subj_all) - 1) && ent_nats__header_u64(&seq, m, "Entity-Seq") == ENT_OK &&
               seq == f->mr.applied;
        /* that seq, but is it the event the mirror applied? (not if the stream was made again
         * by the primary restored from a backup, or a copy of it) */
        rc = same ? ent_nats__mirror_same(&f->mr, m, seq) : ENT_OK;
        natsMsg_Destroy(m);
        if (same) return rc;
    }
    ent_nats__log(f->o.log, f->o.log_payload, "mirror: stream %s does not hold seq %" PRIu64 " at position %" PRIu64
              " where the mirror took it (made again?): reading it from its start", f->o.stream, f->mr.applied, f->mr.pos);
    *out = 1;
    return ENT_OK;
}

static void gap_limits(follower *f, int rc);

/* Connected: find the stream and the primary, subscribe after the mirror's position.
 * ENT_TIMEOUT: nothing to follow yet (empty stream). */
static int start(follower *f)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    jsSubOptions so;
    natsMsg *last = NULL;
    uint64_t first_seq = 0, msgs = 0, last_pos = 0, from = 0;
    natsStatus st = js_GetStreamInfo(&si, f->c.js, f->o.stream, NULL, &jerr);
    int rc;
    if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        /* Following: the relay may not have created it yet. --once has nothing to wait for. */
        ent_error_set(ENT_NOTFOUND, "no stream %s at %s (a relay creates it)", f->o.stream, f->url);
        return f->o.once ? ENT_NOTFOUND : ENT_TIMEOUT;
    }
    if (st != NATS_OK) return ent_nats__err(ENT_IO, st, jerr, "reading the stream's info");
    /* (the relay refuses such a stream, relay.c) JetStream refused the mirror's consumer on a
     * workqueue stream, which the mirror took for an outage and retried for ever ("NATS
     * unreachable"); on an interest stream its reads would remove what later mirrors need. */
    if (si->Config && si->Config->Retention != js_LimitsPolicy) {
        int keep = si->Config->Retention;
        jsStreamInfo_Destroy(si);
        return ent_error_set(ENT_INVALID, "stream %s keeps messages only while consumers want them (retention %s): a "
                             "mirror needs a stream that keeps the log (retention limits)", f->o.stream,
                             keep == js_InterestPolicy ? "interest" : "workqueue");
    }
    /* A mirror of a known primary (an existing mirror, or --primary) on a stream whose subjects
     * can never carry that store's messages (the stream of another store): it waited for them for
     * ever, "holds no messages of store X; waiting", where a relay exits 1 on such a stream. A
     * stream whose messages come from others (a JetStream mirror, sources) has no subjects to say. */
    if (f->mr.primary[0] && si->Config && si->Config->SubjectsLen > 0 && !si->Config->Mirror && !si->Config->SourcesLen) {
        char want[80], subjects[512] = "";
        int takes = 0;
        snprintf(want, sizeof want, ENATS_SUBJECT_PREFIX "%s.>", f->mr.primary);
        for (int i = 0; i < si->Config->SubjectsLen; i++) {
            size_t n = strlen(subjects);
            snprintf(subjects + n, sizeof subjects - n, "%s%s", i ? " " : "", si->Config->Subjects[i]);
            if (si->Config->Subjects[i] && ent_nats__subject_covers(si->Config->Subjects[i], want)) takes = 1;
        }
        if (!takes) {
            jsStreamInfo_Destroy(si);
            return ent_error_set(ENT_CONFLICT, "stream %s takes subjects [%s], never those of store %s (%s): it is another "
                                 "store's stream; point the mirror at the stream the primary's relay publishes to",
                                 f->o.stream, subjects, f->mr.primary, want);
        }
    }
    first_seq = si->State.FirstSeq;
    msgs = si->State.Msgs;
    last_pos = si->State.LastSeq;
    f->created = si->Created;
    f->idle = 0;
    jsStreamInfo_Destroy(si);
    if (!f->mr.primary[0]) {
        /* Emptied: the line names the limits that drop messages, as for a gap met later (it said
         * "purged, or dropped by its limits" and left the operator to find which). Following, it
         * waits: a stream of several stores may yet get a new one's seq 1. --once exits 1: no
         * mirror can be built from what is there (it exited 0, "nothing to apply", run after run). */
        if (!msgs && first_seq > 1) {
            rc = f->o.once ? ENT_NOTFOUND : ENT_TIMEOUT;
            ent_error_set(rc, "stream %s holds no messages: those up to stream seq %" PRIu64 " were removed; a new "
                          "mirror needs its primary's seq 1 there", f->o.stream, first_seq - 1);
            gap_limits(f, rc);
            return rc;
        }
        if (!msgs) return ent_error_set(ENT_TIMEOUT, "stream %s holds no messages yet", f->o.stream);
        if ((rc = primary_from_stream(f, first_seq))) return rc;
    }
    snprintf(f->subj_all, sizeof f->subj_all, ENATS_SUBJECT_PREFIX "%s.>", f->mr.primary);
    f->mr.checked = 0; /* a new consumer: the stream may have been made again since */
    if ((rc = ent_nats__last_msg(&last, f->c.js, f->o.stream, f->subj_all))) return rc;
    if (!last) {
        /* Following, an existing mirror waits too: the stream may have been purged once every
         * mirror had its messages (it exited 1 until the primary's next write). */
        ent_error_set(ENT_NOTFOUND, "stream %s holds no messages of store %s", f->o.stream, f->mr.primary);
        return f->o.once ? ENT_NOTFOUND : ENT_TIMEOUT;
    }
    if (f->o.once) f->target = natsMsg_GetSequence(last);
    natsMsg_Destroy(last);
    if ((rc = start_seq(&from, f, last_pos))) return rc;
    if (f->o.once && f->target < from) return ENT_OK;
    jsSubOptions_Init(&so);
    so.Stream = f->o.stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = from;
    jerr = 0;
    st = js_SubscribeSync(&f->c.sub, f->c.js, f->subj_all, NULL, &so, &jerr);
    if (st != NATS_OK) {
        f->c.sub = NULL;
        return ent_nats__err(ENT_IO, st, jerr, "subscribing to the stream");
    }
    return ENT_OK;
}

/* Nothing came for a while: is the stream still the one the consumer reads? A stream deleted
 * takes the consumer with it, and nothing says so: the mirror waited in silence, and libnats's
 * ordered consumer came back after ~25 s at the old position of a stream made again since, whose
 * numbering is another (a gap that is not there, or seqs skipped). ENT_IO: start again (start()
 * waits for a missing stream, and start_seq() finds the mirror's place in a new one). */
static int stream_still(follower *f)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_GetStreamInfo(&si, f->c.js, f->o.stream, NULL, &jerr);
    int64_t created;
    if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
        return ent_error_set(ENT_IO, "stream %s is gone (deleted?)", f->o.stream);
    if (st != NATS_OK) return ent_nats__err(ENT_IO, st, jerr, "reading the stream's info");
    created = si->Created;
    jsStreamInfo_Destroy(si);
    if (created != f->created) return ent_error_set(ENT_IO, "stream %s was deleted and made again", f->o.stream);
    return ENT_OK;
}

/* The mirror stops on a message missing in the stream (f->mr.gap): the stream's limits are the
 * usual cause, and the message said only "lacks seq N", as for messages deleted by hand, leaving
 * the operator to find out why and what would mend it. The stream's limits that drop its oldest
 * messages (max_msgs and max_bytes only with discard old: with discard new they refuse new
 * messages and drop none) are added to the error, and what to do: a mirror is built from the
 * primary's seq 1, which a stream without them (or a new one the relay fills from its log) has.
 * A new mirror on a stream they emptied (start()) says it the same way. Nothing is added when the
 * stream's info cannot be read: the gap is named all the same. */
static void gap_limits(follower *f, int rc)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    char lim[256] = "", msg[1024];
    int detail = ent_errdetail();
    size_t n;
    snprintf(msg, sizeof msg, "%s", ent_errmsg());
    if (!f->c.js || js_GetStreamInfo(&si, f->c.js, f->o.stream, NULL, &jerr) != NATS_OK || !si->Config) {
        jsStreamInfo_Destroy(si);
        ent_error_set_detail(rc, detail, "%s", msg);
        return;
    }
    if (si->Config->Discard != js_DiscardNew && si->Config->MaxMsgs > 0) {
        n = strlen(lim);
        snprintf(lim + n, sizeof lim - n, "%smax_msgs %" PRId64, lim[0] ? ", " : "", si->Config->MaxMsgs);
    }
    if (si->Config->Discard != js_DiscardNew && si->Config->MaxBytes > 0) {
        n = strlen(lim);
        snprintf(lim + n, sizeof lim - n, "%smax_bytes %" PRId64, lim[0] ? ", " : "", si->Config->MaxBytes);
    }
    if (si->Config->MaxAge > 0) { /* (ns) */
        n = strlen(lim);
        snprintf(lim + n, sizeof lim - n, "%smax_age %" PRId64 "s", lim[0] ? ", " : "", si->Config->MaxAge / 1000000000);
    }
    if (si->Config->MaxMsgsPerSubject > 0) {
        n = strlen(lim);
        snprintf(lim + n, sizeof lim - n, "%smax_msgs_per_subject %" PRId64, lim[0] ? ", " : "",
                 si->Config->MaxMsgsPerSubject);
    }
    jsStreamInfo_Destroy(si);
    if (lim[0])
        ent_error_set_detail(rc, detail, "%s. Stream %s drops its oldest messages by its limits (%s), before a mirror "
                             "behind read them: a mirror needs the primary's events from seq 1; build it anew from a "
                             "stream without those limits (relay the primary to a new --stream: it gets the log from "
                             "seq 1 while the primary's log holds it), or raise them so that mirrors keep up",
                             msg, f->o.stream, lim);
    else
        ent_error_set_detail(rc, detail, "%s. Stream %s has no limits that drop messages (max_msgs, max_bytes, max_age): "
                             "they were deleted or purged by hand; build the mirror anew from a stream that holds the "
                             "primary's events from seq 1 (relay the primary to a new --stream)", msg, f->o.stream);
}

static int on_msg(follower *f, natsMsg *msg)
{
    jsMsgMetaData *meta = NULL;
    uint64_t spos = 0;
    int rc;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        spos = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
    }
    rc = ent_nats__mirror_msg(&f->mr, msg, spos);
    if (!rc && f->o.once && spos >= f->target) rc = ENT_TIMEOUT; /* done */
    return rc;
}

/* Idle reads (200 ms each) between two looks at the stream (stream_still): about 2 s. */
#define IDLE_CHECK 10
/* mirror --once: lost reads in a row, with no transaction applied and no quiet read between
 * them, before it fails (the relay's ONCE_LOSSES, relay.c) */
#define ONCE_LOSSES 5

/* A lost read (its error set): with once, the ONCE_LOSSES-th in a row with nothing applied since
 * the first fails the run (ENT_IO naming the last error); a quiet read resets *losses. */
static int once_lost(follower *f, int *losses, uint64_t *loss_applied)
{
    if (f->mr.applied != *loss_applied) *losses = 0;
    *loss_applied = f->mr.applied;
    if (f->o.once && ++*losses >= ONCE_LOSSES)
        return ent_error_set(ENT_IO, "NATS at %s: %s (%d tries in a row, nothing applied between them)", f->url,
                             ent_errmsg(), *losses);
    return ENT_OK;
}

static int run(const char *path, const ent_follow_opts *opts, const volatile int *stop)
{
    follower f;
    /* backoff: the nap before the next connect after a failed one or a lost read, doubled each
     * time up to 2 s; back to 100 ms once a connection worked (a message applied, or a quiet read
     * with the connection open). A read error straight after each connect reconnected without a
     * pause, and the reset at every connect kept it so (the relay's, relay.c). */
    int rc = ENT_OK, backoff = 100, losses = 0;
    uint64_t loss_applied = 0;
    if (!path || !opts) return ent_error_set(ENT_INVALID, "ent_follow_run: %s is NULL", !path ? "path" : "opts");
    if (opts->version != ENT_FOLLOW_OPTS_VERSION)
        return ent_error_set(ENT_INVALID, "ent_follow_run: opts->version %u, expected %u", opts->version, ENT_FOLLOW_OPTS_VERSION);
    if ((rc = ent_nats__check_url(opts->url))) return rc;
    if ((rc = ent_nats__check_stream(opts->stream))) return rc;
    if (opts->primary_id && (rc = ent_nats__check_id(opts->primary_id))) return rc;
    if ((rc = ent_nats_check_auth(opts->url, &opts->auth))) return rc;
    ent_nats__auth_warn_modes(&opts->auth, "mirror", opts->log, opts->log_payload);
    memset(&f, 0, sizeof f);
    f.path = path;
    f.o = *opts;
    f.mr.path = path;
    f.mr.o = &f.o;
    f.stop = stop;
    f.c.stop = stop;
    ent_nats__url_shown(f.url, sizeof f.url, opts->url);
    if ((rc = ent_nats__watch_start(&f.w, &f.c, stop))) return rc;
    if (opts->primary_id) snprintf(f.mr.primary, sizeof f.mr.primary, "%s", opts->primary_id);
    if ((rc = open_existing(&f))) goto out;

    while (!ent_nats__stopped(stop)) {
        natsMsg *msg = NULL;
        natsStatus st;
        if (!f.up) {
            rc = ent_nats__connect(&f.c, f.o.url, &f.o.auth, 0);
            if (!rc) rc = start(&f);
            if (rc == ENT_IO && ent_nats__stopped(stop)) {
                rc = ENT_OK; /* its connection closed by the stop (f.w) */
                break;
            }
            if (rc == ENT_IO || rc == ENT_TIMEOUT) {
                char why[512];
                snprintf(why, sizeof why, "%s", ent_errmsg());
                drop(&f);
                if (f.o.once) {
                    if (rc == ENT_TIMEOUT) {
                        ent_nats__log(f.o.log, f.o.log_payload, "mirror: %s; nothing to apply", why);
                        rc = ENT_OK;
                    } else {
                        rc = ent_error_set(ENT_IO, "NATS at %s: %s", f.url, why);
                    }
                    break;
                }
                if (!f.said_down)
                    ent_nats__log(f.o.log, f.o.log_payload, "mirror: %s%s; waiting", rc == ENT_TIMEOUT ? "" : "NATS unreachable: ", why);
                f.said_down = 1;
                ent_nats__nap(backoff, stop);
                backoff = backoff < 1000 ? backoff * 2 : 2000;
                rc = ENT_OK;
                continue;
            }
            if (rc) break;
            f.up = 1;
            f.said_down = 0;
            if (f.o.once && !f.c.sub) break; /* nothing new */
            ent_nats__log(f.o.log, f.o.log_payload, "mirror: following store %s on stream %s at %s after seq %" PRIu64,
                      f.mr.primary, f.o.stream, f.url, f.mr.applied);
        }
        st = natsSubscription_NextMsg(&msg, f.c.sub, 200);
        if (st != NATS_OK && ent_nats__stopped(stop)) break; /* not a loss: the stop closed it */
        if (st == NATS_TIMEOUT) {
            if (ent_nats__closed(&f.c)) {
                ent_error_set(ENT_IO, "reading the stream: connection closed");
                if ((rc = once_lost(&f, &losses, &loss_applied))) break;
                ent_nats__log(f.o.log, f.o.log_payload, "mirror: lost NATS (connection closed); reconnecting");
                drop(&f);
                f.said_down = 1;
            } else if (f.mr.m && (rc = ent_nats__store_moved(f.mr.m, "mirror", "what it applies reaches "
                                                              "no reader of that path"))) {
                break; /* (nothing comes: is the store at the path still the one it writes?) */
            } else if (++f.idle % IDLE_CHECK == 0 && stream_still(&f)) {
                if (ent_nats__stopped(stop)) break; /* the stop closed the connection under it */
                ent_nats__log(f.o.log, f.o.log_payload, "mirror: %s; starting again", ent_errmsg());
                drop(&f);
            } else {
                backoff = 100; /* a quiet read on an open connection: it works */
                losses = 0;
            }
            continue;
        }
        f.idle = 0;
        if (st != NATS_OK) {
            ent_nats__err(ENT_IO, st, 0, "reading the stream");
            /* Reads that fail straight after each connect retried for ever, --once too (napping
             * up to 2 s between tries). Once gives up as the relay does: after ONCE_LOSSES in a
             * row with nothing applied and no quiet read between them. */
            if ((rc = once_lost(&f, &losses, &loss_applied))) break;
            ent_nats__log(f.o.log, f.o.log_payload, "mirror: lost NATS (%s); reconnecting in %d ms", ent_errmsg(), backoff);
            drop(&f);
            f.said_down = 1;
            ent_nats__nap(backoff, stop);
            backoff = backoff < 1000 ? backoff * 2 : 2000;
            continue;
        }
        rc = on_msg(&f, msg);
        natsMsg_Destroy(msg);
        if (rc == ENT_OK) backoff = 100;
        if (rc == ENT_TIMEOUT) {
            rc = ENT_OK;
            break;
        }
        /* A gap met while following: is it in the stream, or did the consumer come back at a
         * position that no longer means what it did (the stream made again, see stream_still)?
         * Starting again tells: start_seq() checks the position, and a gap still there is met
         * again at the same seq, which then stops the mirror with its one line. */
        if (rc == ENT_NOTFOUND && f.mr.gap && f.regap != f.mr.gap) {
            f.regap = f.mr.gap;
            drop(&f);
            rc = ENT_OK;
            continue;
        }
        if (rc == ENT_NOTFOUND && f.mr.gap) gap_limits(&f, rc);
        if (rc) break;
    }
    /* (no store: the stream held nothing for one, said above; it printed "holds store  up to
     * seq 0" of a directory the run then removed) */
    if (!rc && f.o.once && f.mr.m)
        ent_nats__log(f.o.log, f.o.log_payload, "mirror: %s holds store %s up to seq %" PRIu64, path, f.mr.primary, f.mr.applied);
out: {
    char msg[1024];
    int detail = ent_errdetail();
    snprintf(msg, sizeof msg, "%s", ent_errmsg());
    drop(&f);
    ent_nats__fini(&f.c);
    ent_nats__watch_end(&f.w);
    ent_nats__mirror_fini(&f.mr);
    if (rc) ent_error_set_detail(rc, detail, "%s", msg);
}
    return rc;
}

/* ---- one mirror per store ------------------------------------------------------------------
 * Two mirrors of one directory (two processes) both applied the stream, each skipping what the
 * other had applied as a duplicate: the store came out right, but each process's on_event (a
 * host's in-process subscriber) saw only the transactions its own mirror happened to apply, and
 * the two raced to create the store. As for relays (relay.c): an flock on <dir>/mirror.lock for the whole run. A
 * mirror in memory has no directory to share. */
static int lock_mirror(int *out, int *made, const char *path, const ent_follow_opts *opts)
{
    const ent_store_opts *so;
    *out = -1;
    *made = 0;
    /* (bad arguments: run() says what is wrong) */
    if (!path || !opts || opts->version != ENT_FOLLOW_OPTS_VERSION) return ENT_OK;
    so = opts->store_opts;
    if (so && so->backend && !strcmp(so->backend, "memory")) return ENT_OK;
    return ent_nats__lock_new_dir(out, made, path, "mirror");
}

/* A run that made the directory and failed before any store was made in it leaves none of it:
 * the retry, or another command, finds no half-made mirror (ent_nats__unlock_failed_dir(), which
 * keeps a store). A run that made it and ended well (stopped while it waited for the stream, SIGINT
 * or ent_follow_stop, or --once of an empty stream) left the directory with mirror.lock alone, "no
 * libentity store" to every command: it takes back only what it made, the lock file and the
 * directory, which rmdir() leaves when anything else is in it (a file the user put there, a store
 * another process is making). path NULL: a start that failed before it was copied. */
static void unlock_mirror(int fd, int made, const char *path, int rc)
{
    char lock[4096], data[4096];
    struct stat st;
    if (made && rc && path) {
        ent_nats__unlock_failed_dir(fd, path, "mirror", rc);
        return;
    }
    if (made && path && (size_t)snprintf(lock, sizeof lock, "%s/mirror.lock", path) < sizeof lock &&
        (size_t)snprintf(data, sizeof data, "%s/data.mdb", path) < sizeof data && stat(data, &st) != 0 && errno == ENOENT) {
        unlink(lock); /* before the unlock: a run that takes the lock meanwhile sees its file gone (lock_new_dir) */
        ent_nats__unlock_dir(fd);
        if (rmdir(path) != 0) { /* not empty: whatever is there stays */
        }
        return;
    }
    ent_nats__unlock_dir(fd);
}

/* *opts as this version's struct into *o: version 1 (before auth) is taken without auth. */
static int take_opts(ent_follow_opts *o, const ent_follow_opts *opts, const char *fn)
{
    ent_follow_opts init = ENT_FOLLOW_OPTS_INIT;
    *o = init;
    if (opts->version == 1) {
        memcpy(o, opts, offsetof(ent_follow_opts, auth));
        o->version = ENT_FOLLOW_OPTS_VERSION;
        return ENT_OK;
    }
    if (opts->version != ENT_FOLLOW_OPTS_VERSION)
        return ent_error_set(ENT_INVALID, "%s: options of version %u, this library's are 1 to %u", fn, opts->version,
                             ENT_FOLLOW_OPTS_VERSION);
    *o = *opts;
    return ENT_OK;
}

int ent_follow_run(const char *path, const ent_follow_opts *opts, const volatile int *stop)
{
    int fd, made, rc;
    char *abs = NULL;
    ent_follow_opts o;
    if (!path || !opts) return run(path, opts, stop);
    if ((rc = take_opts(&o, opts, "ent_follow_run"))) return rc;
    /* TLS files, keys: refused before the mirror's directory is made */
    if ((rc = ent_nats_check_auth(o.url, &o.auth))) return rc;
    if ((rc = ent_nats__abs_path(&abs, path))) return rc; /* (see ent_nats__abs_path) */
    if ((rc = lock_mirror(&fd, &made, abs, &o))) {
        free(abs);
        return rc;
    }
    rc = run(abs, &o, stop);
    unlock_mirror(fd, made, abs, rc);
    free(abs);
    return rc;
}

/* ---- in a thread of its own ---------------------------------------------------------------- */

struct ent_follower {
    pthread_t th;
    ent_follow_opts o;
    char *path, *url, *stream, *primary, *backend;
    ent_store_opts so;       /* o.store_opts points here: the caller's, copied (with its backend) */
    volatile int stop;
    int rc, detail;
    char msg[1024];
    int lock_fd, made; /* made: the run made the directory */
};

static void *follow_main(void *p)
{
    ent_follower *x = p;
    x->rc = run(x->path, &x->o, &x->stop);
    if (x->rc) {
        x->detail = ent_errdetail();
        snprintf(x->msg, sizeof x->msg, "%s", ent_errmsg());
    }
    return NULL;
}

static void follower_free(ent_follower *x)
{
    unlock_mirror(x->lock_fd, x->made, x->path, x->rc);
    free(x->path);
    free(x->url);
    free(x->stream);
    free(x->primary);
    free(x->backend);
    ent_nats__auth_free(&x->o.auth);
    free(x);
}

/* The directory is claimed here, before the thread starts: a second mirror hears it from this call. */
int ent_follow_start(ent_follower **out, const char *path, const ent_follow_opts *opts)
{
    ent_follower *x;
    int rc;
    if (!out || !path || !opts)
        return ent_error_set(ENT_INVALID, "ent_follow_start: %s is NULL", !out ? "out" : !path ? "path" : "opts");
    *out = NULL;
    {
        ent_follow_opts o;
        if ((rc = take_opts(&o, opts, "ent_follow_start"))) return rc;
        /* TLS files, keys: refused by this call, before the mirror's directory is made */
        if ((rc = ent_nats_check_auth(o.url, &o.auth))) return rc;
    }
    if (!(x = calloc(1, sizeof *x))) return ent_error_set(ENT_NOMEM, "out of memory");
    x->lock_fd = -1;
    take_opts(&x->o, opts, "ent_follow_start"); /* (checked above) */
    {
        ent_nats_auth theirs = x->o.auth;
        if ((rc = ent_nats__auth_dup(&x->o.auth, &theirs))) { /* (leaves it all NULL) */
            follower_free(x);
            return rc;
        }
    }
    /* absolute: the thread opens it long after this call, and the stop cleans it up (see
     * ent_nats__abs_path); a host may change its directory meanwhile */
    if ((rc = ent_nats__abs_path(&x->path, path)) || (rc = lock_mirror(&x->lock_fd, &x->made, x->path, &x->o))) {
        follower_free(x);
        return rc;
    }
    x->url = opts->url ? strdup(opts->url) : NULL;
    x->stream = opts->stream ? strdup(opts->stream) : NULL;
    x->primary = opts->primary_id ? strdup(opts->primary_id) : NULL;
    x->o.url = x->url;
    x->o.stream = x->stream;
    x->o.primary_id = x->primary;
    /* The thread opens the mirror with them at its first schema message and at each evolution,
     * long after this call: kept as the caller's pointer, a host's options on its stack (or
     * changed after the call) were read from whatever was there then. */
    if (opts->store_opts) {
        x->so = *opts->store_opts;
        x->backend = x->so.backend ? strdup(x->so.backend) : NULL;
        x->so.backend = x->backend;
        x->o.store_opts = &x->so;
    }
    int err = 0;
    if (!x->path || (opts->store_opts && opts->store_opts->backend && !x->backend) ||
        (err = pthread_create(&x->th, NULL, follow_main, x)) != 0) {
        x->made = 0; /* x->path may be NULL: the directory stays, as before */
        follower_free(x);
        return err ? ent_nats__thread_err(err, "the mirror thread") : ent_error_set(ENT_NOMEM, "out of memory");
    }
    *out = x;
    return ENT_OK;
}

int ent_follow_stop(ent_follower *x)
{
    int rc;
    if (!x) return ENT_OK;
    __atomic_store_n(&x->stop, 1, __ATOMIC_RELAXED);
    pthread_join(x->th, NULL);
    rc = x->rc;
    if (rc) ent_error_set_detail(rc, x->detail, "%s", x->msg);
    follower_free(x);
    return rc;
}
