/* Test helper for nats_test.sh: looks at a stream with the NATS C client, independently of the
 * relay's code, so the test checks what is on the server, not what the relay believes.
 *   nats_probe mkstream URL STREAM SUBJECT DUP_MS [MAX_MSGS [MAX_MSG_SIZE [noack]]]   create a file
 *       stream with that duplicate window (and at most MAX_MSGS messages, refusing more: discard
 *       new; -1: no limit), each message at most MAX_MSG_SIZE bytes (-1: no limit), no_ack
 *   nats_probe check URL STREAM STORE_ID LAST_SEQ   every message of the store, read back: events
 *       with Entity-Seq 1..LAST_SEQ exactly once each, in order, Nats-Msg-Id "<id>:<seq>", the body's
 *       "seq" equal to the header, subject entity.<id>.<type>.<op> matching the body; schema messages
 *       once per version, ascending; the stream's own message count equal to what was read
 *   nats_probe delete URL STREAM STREAM_SEQ         remove one message (to make a gap)
 *   nats_probe seqof URL STREAM STORE_ID SEQ        the stream position of event SEQ
 *   nats_probe rmstream URL STREAM                  delete the stream (as an operator would)
 *   nats_probe purge URL STREAM                     remove every message, keeping the stream and its numbering
 *   nats_probe mkkeep URL STREAM SUBJECT RETENTION  create a file stream (duplicate window 2 min) whose
 *       retention is RETENTION: limits, interest or workqueue
 *   nats_probe mkmirror URL STREAM ORIGIN           create a file stream that is a JetStream mirror of ORIGIN
 *   nats_probe maxsize URL STREAM BYTES             change the stream's max_msg_size (as an operator would)
 *   nats_probe maxmsgs URL STREAM N                 keep the stream's last N messages (discard old)
 *   nats_probe maxage URL STREAM SECONDS            drop messages older than SECONDS (duplicate window cut to it)
 *   nats_probe msgs URL STREAM                      print the stream's message count and first seq
 * Exit 0 when fine, 1 with one line on stderr otherwise. */
#include <jansson.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *what, natsStatus st)
{
    fprintf(stderr, "nats_probe: %s: %s\n", what, st == NATS_OK ? "failed" : natsStatus_GetText(st));
    return 1;
}

static const char *hdr(natsMsg *m, const char *k)
{
    const char *v = NULL;
    if (natsMsgHeader_Get(m, k, &v) != NATS_OK) return NULL;
    return v;
}

typedef int (*each_fn)(natsMsg *m, uint64_t spos, void *p);

/* Unsubscribed, destroyed once the connection is closed: libnats 3.4's reader thread may still be
 * delivering to a subscription (a heartbeat) without holding it (see ent_nats__close). */
static natsSubscription *spent[8];
static int n_spent;

/* Every message on subject in the stream, in order. */
static int each(jsCtx *js, const char *stream, const char *subject, each_fn fn, void *p)
{
    natsSubscription *sub = NULL;
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus st;
    int rc = 0;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    if ((st = js_SubscribeSync(&sub, js, subject, NULL, &so, &jerr)) != NATS_OK) return die("subscribe", st);
    for (;;) {
        natsMsg *m = NULL;
        jsMsgMetaData *meta = NULL;
        uint64_t pending, spos;
        st = natsSubscription_NextMsg(&m, sub, 3000);
        if (st == NATS_TIMEOUT) break; /* nothing (more) */
        if (st != NATS_OK) {
            rc = die("next message", st);
            break;
        }
        if (natsMsg_GetMetaData(&meta, m) != NATS_OK) {
            natsMsg_Destroy(m);
            rc = die("metadata", NATS_OK);
            break;
        }
        pending = meta->NumPending;
        spos = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
        rc = fn(m, spos, p);
        natsMsg_Destroy(m);
        if (rc || pending == 0) break;
    }
    natsSubscription_Unsubscribe(sub);
    if (n_spent < (int)(sizeof spent / sizeof spent[0])) spent[n_spent++] = sub;
    else natsSubscription_Destroy(sub);
    return rc;
}

typedef struct check {
    const char *id;
    unsigned long long next, last, events, schemas, schema_ver, seqof, found;
} check;

static int check_one(natsMsg *m, uint64_t spos, void *p)
{
    check *c = p;
    const char *subj = natsMsg_GetSubject(m), *mid = hdr(m, "Nats-Msg-Id");
    char want[256];
    size_t idl = strlen(c->id);
    if (strncmp(subj, "entity.", 7) || strncmp(subj + 7, c->id, idl) || subj[7 + idl] != '.') {
        fprintf(stderr, "nats_probe: message %llu: subject %s is not entity.%s.…\n", (unsigned long long)spos, subj, c->id);
        return 1;
    }
    if (!strcmp(subj + 8 + idl, "schema")) {
        const char *v = hdr(m, "Entity-Schema-Version");
        unsigned long long ver = v ? strtoull(v, NULL, 10) : 0;
        snprintf(want, sizeof want, "%s:schema:%llu", c->id, ver);
        if (!v || ver <= c->schema_ver || !mid || strcmp(mid, want)) {
            fprintf(stderr, "nats_probe: schema message %llu: version %s after %llu, id %s\n", (unsigned long long)spos,
                    v ? v : "(none)", c->schema_ver, mid ? mid : "(none)");
            return 1;
        }
        c->schema_ver = ver;
        c->schemas++;
        return 0;
    }
    {
        const char *sh = hdr(m, "Entity-Seq");
        unsigned long long seq = sh ? strtoull(sh, NULL, 10) : 0;
        json_error_t e;
        json_t *o = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, &e);
        char sj[200];
        if (!o || !json_is_integer(json_object_get(o, "seq"))) {
            fprintf(stderr, "nats_probe: message %llu: body is not an event\n", (unsigned long long)spos);
            json_decref(o);
            return 1;
        }
        if (seq != c->next) {
            fprintf(stderr, "nats_probe: message %llu holds Entity-Seq %llu where %llu was due (%s)\n",
                    (unsigned long long)spos, seq, c->next, seq < c->next ? "a duplicate" : "a gap");
            json_decref(o);
            return 1;
        }
        snprintf(want, sizeof want, "%s:%llu", c->id, seq);
        snprintf(sj, sizeof sj, "entity.%s.%s.%s", c->id, json_string_value(json_object_get(o, "type")),
                 json_string_value(json_object_get(o, "op")));
        if ((unsigned long long)json_integer_value(json_object_get(o, "seq")) != seq || !mid || strcmp(mid, want) ||
            strcmp(sj, subj) || !c->schemas) {
            fprintf(stderr, "nats_probe: message %llu (seq %llu): id %s, subject %s, body seq or schema wrong\n",
                    (unsigned long long)spos, seq, mid ? mid : "(none)", subj);
            json_decref(o);
            return 1;
        }
        json_decref(o);
        if (seq == c->seqof) c->found = spos;
        c->next++;
        c->events++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsErrCode jerr = 0;
    natsStatus st;
    int rc = 1;
    if (argc < 4) {
        fprintf(stderr, "usage: nats_probe mkstream|mkkeep|mkmirror|maxsize|maxmsgs|maxage|msgs|check|delete|seqof|rmstream|purge|pub URL STREAM ...\n");
        return 2;
    }
    if ((st = natsConnection_ConnectTo(&nc, argv[2])) != NATS_OK) return die("connect", st);
    if ((st = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK) {
        rc = die("jetstream", st);
        goto out;
    }
    if (!strcmp(argv[1], "mkstream") && argc >= 6 && argc <= 9) {
        jsStreamConfig cfg;
        jsStreamInfo *si = NULL;
        const char *subjects[8];
        char list[512];
        int ns = 0;
        /* SUBJECT: one, or several separated by commas */
        snprintf(list, sizeof list, "%s", argv[4]);
        for (char *tok = strtok(list, ","); tok && ns < 8; tok = strtok(NULL, ",")) subjects[ns++] = tok;
        jsStreamConfig_Init(&cfg);
        cfg.Name = argv[3];
        cfg.Subjects = subjects;
        cfg.SubjectsLen = ns;
        cfg.Storage = js_FileStorage;
        cfg.Duplicates = strtoll(argv[5], NULL, 10) * 1000000;
        if (argc >= 7) {
            cfg.MaxMsgs = strtoll(argv[6], NULL, 10);
            cfg.Discard = js_DiscardNew;
        }
        if (argc >= 8) cfg.MaxMsgSize = (int32_t)strtol(argv[7], NULL, 10);
        if (argc == 9) cfg.NoAck = !strcmp(argv[8], "noack");
        if ((st = js_AddStream(&si, js, &cfg, NULL, &jerr)) != NATS_OK) rc = die("add stream", st);
        else rc = 0;
        jsStreamInfo_Destroy(si);
    } else if (!strcmp(argv[1], "mkkeep") && argc == 6) {
        jsStreamConfig cfg;
        jsStreamInfo *si = NULL;
        const char *subjects[1] = {argv[4]};
        jsStreamConfig_Init(&cfg);
        cfg.Name = argv[3];
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        cfg.Storage = js_FileStorage;
        cfg.Retention = !strcmp(argv[5], "interest") ? js_InterestPolicy
                        : !strcmp(argv[5], "workqueue") ? js_WorkQueuePolicy : js_LimitsPolicy;
        if ((st = js_AddStream(&si, js, &cfg, NULL, &jerr)) != NATS_OK) rc = die("add stream", st);
        else rc = 0;
        jsStreamInfo_Destroy(si);
    } else if (!strcmp(argv[1], "mkmirror") && argc == 5) {
        jsStreamConfig cfg;
        jsStreamSource src;
        jsStreamInfo *si = NULL;
        jsStreamConfig_Init(&cfg);
        jsStreamSource_Init(&src);
        src.Name = argv[4];
        cfg.Name = argv[3];
        cfg.Storage = js_FileStorage;
        cfg.Mirror = &src;
        if ((st = js_AddStream(&si, js, &cfg, NULL, &jerr)) != NATS_OK) rc = die("add stream", st);
        else rc = 0;
        jsStreamInfo_Destroy(si);
    } else if (!strcmp(argv[1], "maxsize") && argc == 5) {
        jsStreamInfo *si = NULL, *after = NULL;
        if ((st = js_GetStreamInfo(&si, js, argv[3], NULL, &jerr)) != NATS_OK) {
            rc = die("stream info", st);
            goto out;
        }
        si->Config->MaxMsgSize = (int32_t)strtol(argv[4], NULL, 10);
        if ((st = js_UpdateStream(&after, js, si->Config, NULL, &jerr)) != NATS_OK) rc = die("update stream", st);
        else rc = 0;
        jsStreamInfo_Destroy(after);
        jsStreamInfo_Destroy(si);
    } else if (!strcmp(argv[1], "maxmsgs") && argc == 5) {
        /* the stream keeps its last MAX_MSGS messages, dropping the oldest (as an operator
         * would limit it) */
        jsStreamInfo *si = NULL, *after = NULL;
        if ((st = js_GetStreamInfo(&si, js, argv[3], NULL, &jerr)) != NATS_OK) {
            rc = die("stream info", st);
            goto out;
        }
        si->Config->MaxMsgs = strtoll(argv[4], NULL, 10);
        si->Config->Discard = js_DiscardOld;
        if ((st = js_UpdateStream(&after, js, si->Config, NULL, &jerr)) != NATS_OK) rc = die("update stream", st);
        else rc = 0;
        jsStreamInfo_Destroy(after);
        jsStreamInfo_Destroy(si);
    } else if (!strcmp(argv[1], "maxage") && argc == 5) {
        /* the stream drops messages older than SECONDS (as an operator would limit it); its
         * duplicate window, which JetStream wants no longer than that, shortened to match */
        jsStreamInfo *si = NULL, *after = NULL;
        if ((st = js_GetStreamInfo(&si, js, argv[3], NULL, &jerr)) != NATS_OK) {
            rc = die("stream info", st);
            goto out;
        }
        si->Config->MaxAge = strtoll(argv[4], NULL, 10) * 1000000000;
        if (si->Config->Duplicates > si->Config->MaxAge) si->Config->Duplicates = si->Config->MaxAge;
        if ((st = js_UpdateStream(&after, js, si->Config, NULL, &jerr)) != NATS_OK) rc = die("update stream", st);
        else rc = 0;
        jsStreamInfo_Destroy(after);
        jsStreamInfo_Destroy(si);
    } else if (!strcmp(argv[1], "msgs") && argc == 4) {
        /* how many messages the stream holds, and its first seq */
        jsStreamInfo *si = NULL;
        if ((st = js_GetStreamInfo(&si, js, argv[3], NULL, &jerr)) != NATS_OK) {
            rc = die("stream info", st);
            goto out;
        }
        printf("%llu %llu\n", (unsigned long long)si->State.Msgs, (unsigned long long)si->State.FirstSeq);
        jsStreamInfo_Destroy(si);
        rc = 0;
    } else if ((!strcmp(argv[1], "check") || !strcmp(argv[1], "seqof")) && argc == 6) {
        check c;
        jsStreamInfo *si = NULL;
        char subject[128];
        memset(&c, 0, sizeof c);
        c.id = argv[4];
        c.next = 1;
        if (!strcmp(argv[1], "check")) c.last = strtoull(argv[5], NULL, 10);
        else c.seqof = strtoull(argv[5], NULL, 10);
        snprintf(subject, sizeof subject, "entity.%s.>", c.id);
        if (each(js, argv[3], subject, check_one, &c)) goto out;
        if (!strcmp(argv[1], "seqof")) {
            if (!c.found) fprintf(stderr, "nats_probe: seq %s is not in the stream\n", argv[5]);
            else printf("%llu\n", c.found);
            rc = !c.found;
            goto out;
        }
        if ((st = js_GetStreamInfo(&si, js, argv[3], NULL, &jerr)) != NATS_OK) {
            rc = die("stream info", st);
            goto out;
        }
        if (c.next != c.last + 1) {
            fprintf(stderr, "nats_probe: the stream holds events 1..%llu, expected 1..%llu\n", c.next - 1, c.last);
        } else if (si->State.Msgs != c.events + c.schemas) {
            fprintf(stderr, "nats_probe: the server counts %llu messages, read %llu\n",
                    (unsigned long long)si->State.Msgs, c.events + c.schemas);
        } else {
            printf("stream %s: events 1..%llu each once, %llu schema versions, %llu messages\n", argv[3], c.last,
                   c.schemas, (unsigned long long)si->State.Msgs);
            rc = 0;
        }
        jsStreamInfo_Destroy(si);
    } else if (!strcmp(argv[1], "delete") && argc == 5) {
        if ((st = js_DeleteMsg(js, argv[3], strtoull(argv[4], NULL, 10), NULL, &jerr)) != NATS_OK) rc = die("delete", st);
        else rc = 0;
    } else if (!strcmp(argv[1], "purge") && argc == 4) {
        if ((st = js_PurgeStream(js, argv[3], NULL, &jerr)) != NATS_OK) rc = die("purge stream", st);
        else rc = 0;
    } else if (!strcmp(argv[1], "pub") && argc >= 5 && argc % 2 == 1) {
        /* pub URL SUBJECT BODY [HEADER VALUE]...: one message through JetStream, its ack awaited
         * (STREAM's place holds the subject; BODY's trailing newline left out) */
        natsMsg *m = NULL;
        jsPubAck *pa = NULL;
        size_t len = strlen(argv[4]);
        while (len && argv[4][len - 1] == '\n') len--;
        st = natsMsg_Create(&m, argv[3], NULL, argv[4], (int)len);
        for (int i = 5; st == NATS_OK && i + 1 < argc; i += 2) st = natsMsgHeader_Set(m, argv[i], argv[i + 1]);
        if (st == NATS_OK) st = js_PublishMsg(&pa, js, m, NULL, &jerr);
        if (st != NATS_OK) rc = die("publish", st);
        else rc = 0;
        jsPubAck_Destroy(pa);
        natsMsg_Destroy(m);
    } else if (!strcmp(argv[1], "rmstream") && argc == 4) {
        if ((st = js_DeleteStream(js, argv[3], NULL, &jerr)) != NATS_OK) rc = die("delete stream", st);
        else rc = 0;
    } else {
        fprintf(stderr, "nats_probe: bad arguments\n");
        rc = 2;
    }
out:
    jsCtx_Destroy(js);
    natsConnection_Close(nc); /* joins the reader thread */
    while (n_spent) natsSubscription_Destroy(spent[--n_spent]);
    natsConnection_Destroy(nc);
    nats_Close();
    return rc;
}
