/* Semi-synchronous replication through the relay: a writer that waits until its commit is in the
 * JetStream stream before it acknowledges it, so that a failover loses no acknowledged write.
 * Against a real nats-server this test starts on a free port (as test_nats_threads does).
 * - ent_relay_wait(): returns once JetStream acknowledged the seq (the stream then holds it); a
 *   seq beyond the log times out naming both seqs; with the server SIGSTOPped a wait times out,
 *   and after SIGCONT the same wait succeeds; waits under way when ent_relay_stop() runs return
 *   ENT_IO naming the stop (no hang, no use of the freed relay: clean under -DENT_TSAN=ON and
 *   ASan); a relay whose run ended on an error hands its code to the waiters; a once relay that
 *   ended before the seq says so; NULL is ENT_INVALID.
 * - the relay in another process: ent_sub_wait() on its subscription "relay" ends once the relay
 *   checkpointed the seq (it writes the checkpoint when caught up).
 * - failover: a writer process creates entities one per transaction and counts each acknowledged
 *   only after its wait (ent_relay_wait() with the relay in its own process; ent_sub_wait() with
 *   the relay in a second process); both are killed with SIGKILL at a random moment; a mirror
 *   built with `once` from the stream and promoted holds every acknowledged create.
 * The writer and relay processes are this program run again (/proc/self/exe) with a role: a
 * forked child of a process that runs libnats threads must not use libnats itself.
 * No timing decides a pass: time bounds only end a broken run. Scratch under $TMPDIR. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <entity/nats.h>
#include <nats/nats.h>

#include "backend_fault.h"
#include "test_util.h"

static char dir[ENT_TEST_PATH_MAX], url[64], port[16];
static pid_t server;
static int port_hold = -1;

static const char schema_json[] =
    "{\"schema\":\"ss\",\"version\":1,\"types\":{\"item\":{\"key\":\"string\",\"fields\":{"
    "\"n\":{\"id\":1,\"type\":\"int\"}}}}}";

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void quiet(const char *line, void *p)
{
    (void)line;
    (void)p;
}

/* As test_nats_threads.c: the port held by a bound socket that never listens, so that no other
 * suite's bind to port 0 gets it. */
static int start_server(void)
{
    char sd[ENT_TEST_PATH_MAX];
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int one = 1;
    port_hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (port_hold < 0 || setsockopt(port_hold, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(port_hold, (struct sockaddr *)&a, sizeof a) || getsockname(port_hold, (struct sockaddr *)&a, &al))
        return -1;
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    if (ent_test_fmt(sd, sizeof sd, "%s/js", dir)) return -1;
    snprintf(url, sizeof url, "nats://127.0.0.1:%s", port);
    if ((server = fork()) == 0) {
        int dn = open("/dev/null", O_WRONLY);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a crashed run leaves no server behind */
        dup2(dn, 1);
        dup2(dn, 2);
        execlp("nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p", port, "-sd", sd, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1200; i++) { /* up to 30 s: a bound on a broken start only */
        natsConnection *nc = NULL;
        if (natsConnection_ConnectTo(&nc, url) == NATS_OK) {
            natsConnection_Destroy(nc);
            return 0;
        }
        nap_ms(25);
    }
    return -1;
}

/* Whether every thread of the server is stopped (SIGSTOP reaches them a moment later). */
static int all_threads_stopped(void)
{
    char path[64], buf[256];
    struct dirent *d;
    DIR *tasks;
    int all = 1;
    snprintf(path, sizeof path, "/proc/%ld/task", (long)server);
    if (!(tasks = opendir(path))) return 1;
    while (all && (d = readdir(tasks))) {
        char stat_path[400];
        FILE *f;
        size_t n;
        const char *st;
        if (d->d_name[0] == '.') continue;
        snprintf(stat_path, sizeof stat_path, "%s/%s/stat", path, d->d_name);
        if (!(f = fopen(stat_path, "r"))) continue;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        st = strrchr(buf, ')');
        if (st && st[1] == ' ' && st[2] != 'T' && st[2] != 't') all = 0;
    }
    closedir(tasks);
    return all;
}

static void stop_server(void)
{
    kill(server, SIGSTOP);
    for (int i = 0; i < 2000 && !all_threads_stopped(); i++) nap_ms(1); /* a guard, not a timing */
}

static void add(ent_store *s, const char *key, int n)
{
    ent_entity *e = NULL;
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "item")));
    ENT_OK_(ent_entity_set_key(e, &(ent_key){ENT_KEY_STRING, 0, key, strlen(key)}));
    ENT_OK_(ent_entity_set_int(e, "n", n));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
}

static uint64_t last_seq(ent_store *s)
{
    uint64_t last = 0;
    ENT_OK_(ent_log_bounds(NULL, &last, s, NULL));
    return last;
}

/* The stream's last Entity-Seq of store id (0: none; or the lookup failed). */
static uint64_t stream_last_seq(const char *stream, const char *id)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsMsg *m = NULL;
    const char *v = NULL;
    char subj[96];
    uint64_t seq = 0;
    snprintf(subj, sizeof subj, "entity.%s.*.*", id);
    if (natsConnection_ConnectTo(&nc, url) == NATS_OK && natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
        js_GetLastMsg(&m, js, stream, subj, NULL, NULL) == NATS_OK && natsMsgHeader_Get(m, "Entity-Seq", &v) == NATS_OK)
        seq = strtoull(v, NULL, 10);
    natsMsg_Destroy(m);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return seq;
}

static void open_store(ent_store **s, ent_schema **sc, const char *name, int durability)
{
    char path[ENT_TEST_PATH_MAX];
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    so.durability = durability;
    ENT_TEST_PATH(path, "%s/%s", dir, name);
    ENT_OK_(ent_schema_load_json(sc, schema_json, strlen(schema_json), "ss"));
    ENT_OK_(ent_store_open(s, path, *sc, &so));
}

/* ---- ent_relay_wait() ------------------------------------------------------------------------- */

static void test_relay_wait(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    uint64_t seq;
    open_store(&s, &sc, "wait", ENT_DURABLE);
    ro.url = url;
    ro.stream = "WAIT";
    ro.log = quiet;
    ENT_CHECK_RC(ent_relay_wait(NULL, 1, 0), ENT_INVALID);
    ENT_OK_(ent_relay_start(&r, s, &ro));
    ENT_OK_(ent_relay_wait(r, 0, 0)); /* nothing to wait for */
    for (int i = 0; i < 5; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        add(s, k, i);
        seq = last_seq(s);
        /* bounded only against a broken relay: the ack comes */
        ENT_OK_(ent_relay_wait(r, seq, 60000));
        /* returned after JetStream stored it: the stream holds the seq already */
        CU_ASSERT(stream_last_seq("WAIT", ent_store_id(s)) >= seq);
    }
    /* a seq the log does not hold yet: waited for, and the message says how far it got */
    ENT_CHECK_RC(ent_relay_wait(r, seq + 3, 50), ENT_TIMEOUT);
    ENT_ASSERT_MSG("not yet");
    /* the server stopped: the wait times out; let go, the same wait ends (the relay reconnects
     * and resumes when the stopped connection was given up meanwhile) */
    stop_server();
    add(s, "hung", 99);
    seq = last_seq(s);
    ENT_CHECK_RC(ent_relay_wait(r, seq, 300), ENT_TIMEOUT);
    kill(server, SIGCONT);
    ENT_OK_(ent_relay_wait(r, seq, 120000));
    CU_ASSERT(stream_last_seq("WAIT", ent_store_id(s)) >= seq);
    ENT_OK_(ent_relay_stop(r));
    ent_store_close(s);
    ent_schema_free(sc);
}

typedef struct waiter {
    ent_relay *r;
    uint64_t seq;
    int timeout_ms;
    int rc;
    char msg[512];
    int started;
} waiter;

static void *wait_thread(void *p)
{
    waiter *w = p;
    __atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
    w->rc = ent_relay_wait(w->r, w->seq, w->timeout_ms);
    snprintf(w->msg, sizeof w->msg, "%s", ent_errmsg());
    return NULL;
}

/* ent_relay_stop() while threads wait (forever, and bounded) for seqs that never come: each returns
 * ENT_IO naming the stop; the stop does not wait for them, nor they for it; nothing of the freed
 * relay is touched after (ASan, TSan). */
static void test_relay_wait_stop(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    waiter w[4];
    pthread_t th[4];
    open_store(&s, &sc, "waitstop", ENT_NONE);
    ro.url = url;
    ro.stream = "WAITSTOP";
    ro.log = quiet;
    add(s, "a", 1);
    ENT_OK_(ent_relay_start(&r, s, &ro));
    ENT_OK_(ent_relay_wait(r, 1, 60000));
    for (int i = 0; i < 4; i++) {
        w[i] = (waiter){.r = r, .seq = 100 + (uint64_t)i, .timeout_ms = i % 2 ? 600000 : -1};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, wait_thread, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        while (!__atomic_load_n(&w[i].started, __ATOMIC_ACQUIRE)) nap_ms(1);
    nap_ms(50); /* (most likely) inside their waits: either way each must return */
    ENT_OK_(ent_relay_stop(r));
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(w[i].rc, ENT_IO);
        if (!strstr(w[i].msg, "stopped")) fprintf(stderr, "\n  waiter %d: %s\n", i, w[i].msg);
        CU_ASSERT_PTR_NOT_NULL(strstr(w[i].msg, "stopped"));
    }
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A relay whose run ends on its own: its waiters get its code and message, not their timeout. An
 * existing stream that does not take the store's subjects ends the run with ENT_CONFLICT; a once
 * relay ends with ENT_OK after the log it found, and a wait for a later seq is ENT_IO saying so. */
static void test_relay_wait_ended(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    const char *subjects[1] = {"other.>"};
    open_store(&s, &sc, "waitend", ENT_NONE);
    add(s, "a", 1);
    CU_ASSERT_EQUAL_FATAL(natsConnection_ConnectTo(&nc, url), NATS_OK);
    CU_ASSERT_EQUAL_FATAL(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsStreamConfig_Init(&cfg);
    cfg.Name = "NOTOURS";
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    CU_ASSERT_EQUAL_FATAL(js_AddStream(&si, js, &cfg, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    ro.url = url;
    ro.stream = "NOTOURS";
    ro.log = quiet;
    ENT_OK_(ent_relay_start(&r, s, &ro));
    ENT_CHECK_RC(ent_relay_wait(r, 1, 600000), ENT_CONFLICT);
    ENT_ASSERT_MSG("the relay ended before JetStream acknowledged seq 1");
    ENT_ASSERT_MSG("NOTOURS");
    ENT_CHECK_RC(ent_relay_stop(r), ENT_CONFLICT);
    /* once: the log at its start (seq 1) goes out, then it ends */
    ro.stream = "WAITONCE";
    ro.once = 1;
    ENT_OK_(ent_relay_start(&r, s, &ro));
    ENT_OK_(ent_relay_wait(r, 1, 60000));
    ENT_CHECK_RC(ent_relay_wait(r, 2, 600000), ENT_IO);
    ENT_ASSERT_MSG("once");
    ENT_OK_(ent_relay_stop(r));
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A wait on the thread that holds the store's write transaction (its own, or ent_txn_run()'s fn)
 * for a seq JetStream has not acknowledged: ENT_BUSY at once, as ent_sub_wait() and
 * ent_log_wait() answer there. The wait cannot end: the seq is this transaction's own (not
 * committed until the wait returns) or the relay's next, and the relay's checkpoint commit waits
 * for the writer this thread holds. It waited out its timeout (forever with -1, the transaction
 * and the relay stuck with it). What is acknowledged already answers ENT_OK there; an event
 * callback's wait for its own event works (a commit without events, the relay's checkpoint, does
 * not wait for the delivery), and is not refused. */
typedef struct in_txn {
    ent_relay *r;
    ent_store *s;
    int rc_have, rc_own;
    char msg[512];
} in_txn;

static int wait_in_fn(ent_txn *t, void *p)
{
    in_txn *w = p;
    uint64_t mine = 0;
    ent_entity *e = NULL;
    w->rc_have = ent_relay_wait(w->r, 1, 60000);
    ENT_OK_(ent_entity_new(&e, ent_store_type(w->s, "item")));
    ENT_OK_(ent_entity_set_key(e, &(ent_key){ENT_KEY_STRING, 0, "infn", 4}));
    ENT_OK_(ent_create(w->s, t, e));
    ent_entity_free(e);
    ENT_OK_(ent_log_bounds(NULL, &mine, w->s, t));
    w->rc_own = ent_relay_wait(w->r, mine, 2000); /* (a timeout only ends the wait that was broken) */
    snprintf(w->msg, sizeof w->msg, "%s", ent_errmsg());
    return ENT_OK;
}

typedef struct in_cb {
    ent_relay *r;
    int n, ok;
} in_cb;

static void wait_in_cb(const ent_event *ev, void *p)
{
    in_cb *c = p;
    c->n++;
    c->ok += ent_relay_wait(c->r, ev->seq, 60000) == ENT_OK;
}

static void test_relay_wait_busy(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_subscriber *sub = NULL;
    ent_txn *t = NULL;
    in_txn w = {0};
    in_cb c = {0};
    open_store(&s, &sc, "waitbusy", ENT_NONE);
    ro.url = url;
    ro.stream = "WAITBUSY";
    ro.log = quiet;
    add(s, "a", 1);
    ENT_OK_(ent_relay_start(&r, s, &ro));
    ENT_OK_(ent_relay_wait(r, 1, 60000));
    /* its own write transaction: seq 1 is acknowledged, the next is not */
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
    ENT_OK_(ent_relay_wait(r, 1, -1));
    ENT_CHECK_RC(ent_relay_wait(r, 2, 2000), ENT_BUSY);
    ENT_ASSERT_MSG("write transaction");
    ent_txn_abort(t);
    /* ent_txn_run()'s fn, waiting for its own create */
    w.r = r;
    w.s = s;
    ENT_OK_(ent_txn_run(s, wait_in_fn, &w));
    CU_ASSERT_EQUAL(w.rc_have, ENT_OK);
    CU_ASSERT_EQUAL(w.rc_own, ENT_BUSY);
    if (w.rc_own != ENT_BUSY) fprintf(stderr, "\n  in ent_txn_run's fn: %d: %s\n", w.rc_own, w.msg);
    /* committed, it is published and acknowledged as any */
    ENT_OK_(ent_relay_wait(r, last_seq(s), 60000));
    /* an event callback waits for its own event */
    c.r = r;
    ENT_OK_(ent_subscribe(&sub, s, NULL, 0, wait_in_cb, &c));
    add(s, "cb1", 1);
    add(s, "cb2", 2);
    ent_unsubscribe(s, sub);
    CU_ASSERT_EQUAL(c.n, 2);
    CU_ASSERT_EQUAL(c.ok, 2);
    ENT_OK_(ent_relay_stop(r));
    ent_store_close(s);
    ent_schema_free(sc);
}

/* The relay's log callback runs on the relay's own thread: a wait there for a seq not yet
 * acknowledged can never end (the thread that would publish it is the one waiting): it ran out
 * its timeout, and with -1 hung the relay and every later ent_relay_stop(). */
typedef struct in_log {
    ent_relay *r;           /* atomic: set once ent_relay_start() returned */
    int calls, rc, rc_done; /* written on the relay's thread, read after the stop */
    char msg[512];
} in_log;

static void wait_in_log(const char *line, void *p)
{
    in_log *l = p;
    ent_relay *r = NULL;
    (void)line;
    if (l->calls++) return;
    for (int i = 0; i < 5000 && !(r = __atomic_load_n(&l->r, __ATOMIC_ACQUIRE)); i++) nap_ms(1);
    if (!r) return;
    l->rc = ent_relay_wait(r, UINT64_MAX, 3000);
    snprintf(l->msg, sizeof l->msg, "%s", ent_errmsg());
    l->rc_done = ent_relay_wait(r, 0, -1); /* seq 0 needs nothing: at once, also there */
}

static void test_relay_wait_in_log_cb(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    in_log l = {0};
    open_store(&s, &sc, "waitlog", ENT_NONE);
    ro.url = url;
    ro.stream = "WAITLOG";
    ro.log = wait_in_log;
    ro.log_payload = &l;
    l.rc = -1;
    add(s, "a", 1);
    ENT_OK_(ent_relay_start(&r, s, &ro));
    __atomic_store_n(&l.r, r, __ATOMIC_RELEASE);
    ENT_OK_(ent_relay_wait(r, 1, 60000)); /* the relay went on after its callback's refused wait */
    ENT_OK_(ent_relay_stop(r));
    CU_ASSERT(l.calls >= 1);
    CU_ASSERT_EQUAL(l.rc, ENT_BUSY);
    if (l.rc != ENT_BUSY) fprintf(stderr, "\n  in the relay's log callback: %d: %s\n", l.rc, l.msg);
    CU_ASSERT(strstr(l.msg, "relay's own thread") != NULL);
    CU_ASSERT_EQUAL(l.rc_done, ENT_OK);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* The core's waits from the relay's and the mirror's log callbacks (their own threads): a wait for
 * what only that thread makes happen (the relay's subscription acknowledged, the mirror's log
 * written) ran out its timeout, with -1 for ever and the relay or mirror with it. Refused now
 * (ENT_BUSY, ent_log_wait_claim() by the component); waits other threads answer still work. */
typedef struct in_log_core {
    ent_store *s;       /* the store the callback waits on (another handle of the mirror's) */
    int asked;          /* atomic: the refused wait is done, the main thread may write (relay);
                         * the callback's waits are done (mirror) */
    int calls, rc_own, rc_other, rc_log, rc_had;
    char msg[512];
} in_log_core;

static void relay_sub_wait_in_log(const char *line, void *p)
{
    in_log_core *l = p;
    uint64_t cp = 0;
    if (!strstr(line, "connected") || l->calls++) return;
    l->rc_own = ent_sub_wait(&cp, l->s, "relay", 1000, 3000); /* only this thread acks "relay" */
    snprintf(l->msg, sizeof l->msg, "%s", ent_errmsg());
    __atomic_store_n(&l->asked, 1, __ATOMIC_RELEASE);
    /* the main thread acks "other" and commits seq 2: both come while this one waits */
    l->rc_other = ent_sub_wait(NULL, l->s, "other", 2, 60000);
    l->rc_log = ent_log_wait(NULL, l->s, 1, 60000);
}

static void test_sub_wait_in_relay_log_cb(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    in_log_core l = {0};
    open_store(&s, &sc, "subwaitlog", ENT_NONE);
    ENT_OK_(ent_sub_create(s, "relay", 0));
    ENT_OK_(ent_sub_create(s, "other", 0));
    add(s, "a", 1);
    l.s = s;
    l.rc_own = l.rc_other = l.rc_log = -1;
    ro.url = url;
    ro.stream = "SUBWAITLOG";
    ro.log = relay_sub_wait_in_log;
    ro.log_payload = &l;
    ENT_OK_(ent_relay_start(&r, s, &ro));
    for (int i = 0; i < 6000 && !__atomic_load_n(&l.asked, __ATOMIC_ACQUIRE); i++) nap_ms(10);
    CU_ASSERT_FATAL(__atomic_load_n(&l.asked, __ATOMIC_ACQUIRE));
    add(s, "b", 2);
    ENT_OK_(ent_sub_ack(s, NULL, "other", 2));
    ENT_OK_(ent_relay_wait(r, 2, 60000)); /* the relay went on after its callback */
    ENT_OK_(ent_relay_stop(r));
    CU_ASSERT_EQUAL(l.rc_own, ENT_BUSY);
    if (l.rc_own != ENT_BUSY) fprintf(stderr, "\n  ent_sub_wait in the relay's log callback: %d: %s\n", l.rc_own, l.msg);
    CU_ASSERT(strstr(l.msg, "the relay's thread") != NULL);
    CU_ASSERT(strstr(l.msg, "\"relay\"") != NULL);
    CU_ASSERT_EQUAL(l.rc_other, ENT_OK);
    CU_ASSERT_EQUAL(l.rc_log, ENT_OK);
    /* the claim ended with the run: this thread's waits are its own business again */
    ENT_OK_(ent_sub_wait(NULL, s, "relay", 2, 60000));
    ent_store_close(s);
    ent_schema_free(sc);
}

static void mirror_log_wait_in_log(const char *line, void *p)
{
    in_log_core *l = p;
    uint64_t last = 0;
    if (!strstr(line, "following") || l->calls++) return;
    if (ent_log_bounds(NULL, &last, l->s, NULL) || !last) return; /* (rc_own stays -1: fails) */
    /* seq last + 1: only this thread would apply it */
    l->rc_own = ent_log_wait(NULL, l->s, last, 3000);
    snprintf(l->msg, sizeof l->msg, "%s", ent_errmsg());
    l->rc_had = ent_log_wait(NULL, l->s, last - 1, 60000); /* there already: at once */
    __atomic_store_n(&l->asked, 1, __ATOMIC_RELEASE);
}

static void test_log_wait_in_mirror_log_cb(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL, *m = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts mo = ENT_STORE_OPTS_INIT;
    ent_follower *f = NULL;
    in_log_core l = {0};
    char mpath[ENT_TEST_PATH_MAX];
    open_store(&s, &sc, "mlogwait", ENT_NONE);
    ENT_TEST_PATH(mpath, "%s/mlogwait-mirror", dir);
    add(s, "a", 1);
    ro.url = url;
    ro.stream = "MLOGWAIT";
    ro.once = 1;
    ro.log = quiet;
    ENT_OK_(ent_relay_run(s, &ro, NULL));
    fo.url = url;
    fo.stream = "MLOGWAIT";
    fo.once = 1;
    fo.log = quiet;
    mo.durability = ENT_NONE;
    fo.store_opts = &mo;
    ENT_OK_(ent_follow_run(mpath, &fo, NULL)); /* the mirror, at seq 1 */
    ENT_OK_(ent_store_open(&m, mpath, NULL, &mo)); /* the host's own handle of it */
    l.s = m;
    l.rc_own = l.rc_had = -1;
    fo.once = 0;
    fo.log = mirror_log_wait_in_log;
    fo.log_payload = &l;
    ENT_OK_(ent_follow_start(&f, mpath, &fo));
    for (int i = 0; i < 6000 && !__atomic_load_n(&l.asked, __ATOMIC_ACQUIRE); i++) nap_ms(10);
    ENT_OK_(ent_follow_stop(f));
    CU_ASSERT_EQUAL(l.rc_own, ENT_BUSY);
    if (l.rc_own != ENT_BUSY) fprintf(stderr, "\n  ent_log_wait in the mirror's log callback: %d: %s\n", l.rc_own, l.msg);
    CU_ASSERT(strstr(l.msg, "the mirror's thread") != NULL);
    CU_ASSERT_EQUAL(l.rc_had, ENT_OK);
    ent_store_close(m);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* ---- the relay in another process: ent_sub_wait() on its checkpoint ---------------------------- */

static char self_exe[ENT_TEST_PATH_MAX];

/* This program again with a role (main() below): a fresh process, libnats its own. */
static pid_t spawn(const char *role, const char *store, const char *stream, int out_fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (out_fd >= 0) dup2(out_fd, 1);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl(self_exe, self_exe, role, store, url, stream, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void test_sub_wait_on_relay_process(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    char path[ENT_TEST_PATH_MAX];
    uint64_t cp = 0, seq = 0;
    pid_t relay;
    int status = 0;
    open_store(&s, &sc, "subwait", ENT_DURABLE);
    ENT_TEST_PATH(path, "%s/subwait", dir);
    /* made by the host before the relay runs, so that a wait never finds it missing */
    ENT_OK_(ent_sub_create(s, "relay", 0));
    relay = spawn("relay", path, "SUBWAIT", -1);
    CU_ASSERT_FATAL(relay > 0);
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        add(s, k, i);
        seq = last_seq(s);
        ENT_OK_(ent_sub_wait(&cp, s, "relay", seq, 60000)); /* bounded against a broken relay only */
        CU_ASSERT(cp >= seq);
        /* the checkpoint follows JetStream's acks: the stream holds it */
        CU_ASSERT(stream_last_seq("SUBWAIT", ent_store_id(s)) >= seq);
    }
    kill(relay, SIGTERM);
    CU_ASSERT_EQUAL(waitpid(relay, &status, 0), relay);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A relay that has caught up writes its checkpoint then, not up to 200 ms later: until then its
 * caught-up wait for the next commit (a wait for seqs past the checkpoint) returned at once, and it
 * went round its loop without a pause, a read transaction or two each time, while a writer waiting
 * on the checkpoint waited out the 200 ms. Counted in backend calls (the fault backend counts every
 * call of the process) per create of a writer that waits on the checkpoint after each: about 70
 * now, 840 000 before. A count of work, not a time: a slow machine adds only the relay's idle
 * looks (one per 200 ms of nothing to do), a handful of calls each. */
static void test_relay_caught_up_writes_checkpoint(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX];
    uint64_t calls, seq = 0;
    enum { N = 20 };
    so.durability = ENT_NONE;
    so.backend = "fault:lmdb";
    ENT_TEST_PATH(path, "%s/caughtup", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "ss"));
    ENT_OK_(ent_store_open(&s, path, sc, &so));
    ENT_OK_(ent_sub_create(s, "relay", 0));
    add(s, "first", 0);
    ro.url = url;
    ro.stream = "CAUGHTUP";
    ro.log = quiet;
    ENT_OK_(ent_relay_start(&r, s, &ro));
    ENT_OK_(ent_sub_wait(NULL, s, "relay", 1, 60000));
    ent__fault_reset();
    for (int i = 0; i < N; i++) {
        char k[16];
        snprintf(k, sizeof k, "c%d", i);
        add(s, k, i);
        seq = last_seq(s);
        ENT_OK_(ent_sub_wait(NULL, s, "relay", seq, 60000));
    }
    calls = ent__fault_calls();
    if (calls / N > 1000) fprintf(stderr, "\n  %llu backend calls per create and wait\n", (unsigned long long)(calls / N));
    CU_ASSERT(calls / N <= 1000); /* 69 here; 840 000 before */
    ENT_OK_(ent_relay_stop(r));
    ent_store_close(s);
    ent_schema_free(sc);
}

/* ---- failover ------------------------------------------------------------------------------- */

/* Role "writer-relay" (ent_relay_wait, relay thread in the writer) or "writer-sub" (ent_sub_wait on
 * a relay process's subscription): create "k<i>" one per transaction on a durable store, wait until
 * the stream has it, then print the key: acknowledged. Runs until killed. */
static int writer_main(const char *role, const char *path, const char *u, const char *stream)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    int inproc = !strcmp(role, "writer-relay");
    so.durability = ENT_DURABLE;
    ro.url = u;
    ro.stream = stream;
    ro.log = quiet;
    if (ent_schema_load_json(&sc, schema_json, strlen(schema_json), "ss") || ent_store_open(&s, path, sc, &so)) goto fail;
    if (inproc && ent_relay_start(&r, s, &ro)) goto fail;
    for (int i = 0;; i++) {
        ent_entity *e = NULL;
        char k[32];
        uint64_t last = 0;
        int rc;
        ent_txn *t = NULL;
        snprintf(k, sizeof k, "k%d", i);
        if (ent_entity_new(&e, ent_store_type(s, "item")) || ent_entity_set_key(e, &(ent_key){ENT_KEY_STRING, 0, k, strlen(k)}) ||
            ent_entity_set_int(e, "n", i))
            goto fail;
        if (inproc) {
            /* the commit's own seq, exact: the log's last as its write transaction sees it */
            if (ent_txn_begin(&t, s, ENT_TXN_WRITE) || ent_create(s, t, e) || ent_log_bounds(NULL, &last, s, t) ||
                ent_txn_commit(t))
                goto fail;
        } else {
            /* the log's last seq after the commit: this create's, or a later one's (a safe bound) */
            if (ent_create(s, NULL, e) || ent_log_bounds(NULL, &last, s, NULL)) goto fail;
        }
        ent_entity_free(e);
        rc = inproc ? ent_relay_wait(r, last, -1) : ent_sub_wait(NULL, s, "relay", last, -1);
        if (rc) goto fail;
        /* acknowledged to "its client": one write() per line, whole */
        printf("%s\n", k);
        fflush(stdout);
    }
fail:
    fprintf(stderr, "writer: %s\n", ent_errmsg());
    return 3;
}

static int relay_main(const char *path, const char *u, const char *stream)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    int rc;
    so.durability = ENT_DURABLE;
    ro.url = u;
    ro.stream = stream;
    ro.log = quiet;
    if (ent_schema_load_json(&sc, schema_json, strlen(schema_json), "ss") || ent_store_open(&s, path, sc, &so)) return 3;
    rc = ent_relay_run(s, &ro, NULL); /* until killed */
    fprintf(stderr, "relay: %s\n", ent_errmsg());
    return rc ? 3 : 0;
}

/* Lines of f that end in a newline (a line cut by the kill was never acknowledged). */
static size_t read_acked(const char *f, char ***out)
{
    FILE *fp = fopen(f, "r");
    char line[64];
    size_t n = 0, cap = 0;
    char **v = NULL;
    while (fp && fgets(line, sizeof line, fp)) {
        size_t l = strlen(line);
        if (!l || line[l - 1] != '\n') break;
        line[l - 1] = '\0';
        if (n == cap) v = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);
        v[n++] = strdup(line);
    }
    if (fp) fclose(fp);
    *out = v;
    return n;
}

static void failover(const char *role, const char *name, const char *stream, unsigned seed)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL, *m = NULL;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts mo = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX], mpath[ENT_TEST_PATH_MAX], acked_path[ENT_TEST_PATH_MAX];
    char **acked = NULL;
    size_t n = 0, missing = 0;
    pid_t writer, relay = -1;
    int fd, inproc = !strcmp(role, "writer-relay");
    ENT_TEST_PATH(path, "%s/%s", dir, name);
    ENT_TEST_PATH(mpath, "%s/%s-mirror", dir, name);
    ENT_TEST_PATH(acked_path, "%s/%s.acked", dir, name);
    open_store(&s, &sc, name, ENT_DURABLE);
    if (!inproc) ENT_OK_(ent_sub_create(s, "relay", 0)); /* the writer waits on it from its first create */
    ent_store_close(s);
    s = NULL;
    fd = open(acked_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    if (!inproc) CU_ASSERT_FATAL((relay = spawn("relay", path, stream, -1)) > 0);
    writer = spawn(role, path, stream, fd);
    close(fd);
    CU_ASSERT_FATAL(writer > 0);
    /* the first acknowledgement (bounded: 60 s), then the primary's machine is lost at a random
     * moment 0-1.5 s later: writer and relay killed, whatever they were doing */
    for (int i = 0; i < 6000; i++) {
        struct stat st;
        if (stat(acked_path, &st) == 0 && st.st_size > 0) break;
        if (waitpid(writer, NULL, WNOHANG) == writer) {
            writer = -1;
            break;
        }
        nap_ms(10);
    }
    CU_ASSERT_FATAL(writer > 0); /* (it ended on its own: its message is on stderr) */
    nap_ms((int)(rand_r(&seed) % 1500));
    kill(writer, SIGKILL);
    if (relay > 0) kill(relay, SIGKILL);
    waitpid(writer, NULL, 0);
    if (relay > 0) waitpid(relay, NULL, 0);
    n = read_acked(acked_path, &acked);
    CU_ASSERT(n > 0);
    /* a mirror built from the stream as it is, then promoted: the new primary */
    fo.url = url;
    fo.stream = stream;
    fo.once = 1;
    fo.log = quiet;
    mo.durability = ENT_NONE;
    fo.store_opts = &mo;
    ENT_OK_(ent_follow_run(mpath, &fo, NULL));
    ENT_OK_(ent_store_open(&m, mpath, NULL, &mo));
    ENT_OK_(ent_mirror_promote(m, ENT_DURABILITY_STORED, NULL));
    for (size_t i = 0; i < n; i++) {
        ent_entity *e = NULL;
        int rc = ent_get(&e, m, NULL, ent_store_type(m, "item"), &(ent_key){ENT_KEY_STRING, 0, acked[i], strlen(acked[i])});
        if (rc) {
            if (!missing) fprintf(stderr, "\n  %s: acknowledged %s is not in the promoted mirror: %s\n", role, acked[i], ent_errmsg());
            missing++;
        }
        ent_entity_free(e);
        free(acked[i]);
    }
    free(acked);
    CU_ASSERT_EQUAL(missing, 0);
    ent_store_close(m);
    ent_schema_free(sc);
}

static void test_failover_relay_wait(void)
{
    for (unsigned round = 0; round < 3; round++) {
        char name[32], stream[32];
        snprintf(name, sizeof name, "fo-relay-%u", round);
        snprintf(stream, sizeof stream, "FORELAY%u", round);
        failover("writer-relay", name, stream, (unsigned)time(NULL) + round);
    }
}

static void test_failover_sub_wait(void)
{
    for (unsigned round = 0; round < 3; round++) {
        char name[32], stream[32];
        snprintf(name, sizeof name, "fo-sub-%u", round);
        snprintf(stream, sizeof stream, "FOSUB%u", round);
        failover("writer-sub", name, stream, (unsigned)time(NULL) * 7 + round);
    }
}

int main(int argc, char **argv)
{
    static const ent_test_case cases[] = {ENT_TEST(test_relay_wait), ENT_TEST(test_relay_wait_stop),
                                           ENT_TEST(test_relay_wait_ended), ENT_TEST(test_relay_wait_busy),
                                           ENT_TEST(test_relay_wait_in_log_cb),
                                           ENT_TEST(test_sub_wait_in_relay_log_cb),
                                           ENT_TEST(test_log_wait_in_mirror_log_cb),
                                           ENT_TEST(test_sub_wait_on_relay_process),
                                           ENT_TEST(test_relay_caught_up_writes_checkpoint),
                                           ENT_TEST(test_failover_relay_wait), ENT_TEST(test_failover_sub_wait),
                                           {NULL, NULL}};
    ssize_t k;
    int rc;
    if (argc == 5 && !strncmp(argv[1], "writer-", 7)) return writer_main(argv[1], argv[2], argv[3], argv[4]);
    if (argc == 5 && !strcmp(argv[1], "relay")) return relay_main(argv[2], argv[3], argv[4]);
    if ((k = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1)) <= 0) return fprintf(stderr, "no /proc/self/exe\n"), 1;
    self_exe[k] = '\0';
    if (ent_test_mkdtemp(dir, sizeof dir, "nats-ss") || start_server()) {
        fprintf(stderr, "test_nats_semisync: cannot start nats-server\n");
        return 1;
    }
    {
        /* ENT_TEST_ONLY=name runs that case alone */
        const char *only = getenv("ENT_TEST_ONLY");
        static ent_test_case one[2];
        for (int i = 0; only && cases[i].name; i++)
            if (!strcmp(cases[i].name, only)) one[0] = cases[i];
        rc = ent_test_run("nats_semisync", only && one[0].name ? one : cases);
    }
    kill(server, SIGCONT);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    ent_test_rm_rf(dir);
    nats_Close();
    return rc;
}
