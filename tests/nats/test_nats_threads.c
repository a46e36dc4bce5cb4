/* The host API of libentity-nats: a relay thread and a mirror thread in one process
 * (ent_relay_start / ent_follow_start) against a real nats-server this test starts on a free port.
 * Writes while both run; after stop, the mirror's entities and log equal the primary's, its
 * in-process subscriber saw every event once, and both threads return ENT_OK, also across a
 * SIGKILL and restart of the server half way (both reconnect and resume). Also run under
 * -DENT_TSAN=ON. One relay per store: a second one (same handle, another handle of the directory,
 * a memory store's handle) is refused with ENT_BUSY; so is a second mirror of a directory. A relay
 * and a mirror stopped while libnats delivers them a message do not use a freed subscription, nor
 * a relay stopped while its ack callback runs the state that callback writes. A relay stops while
 * the server does not read what it sends. relay --once and mirror --once give up after 5 losses in
 * a row. A mirror and a relay stopped while the server is hung (SIGSTOP) end the JetStream request
 * under way, and the relay's next run publishes exactly what the stream lacks. Free-form bytes,
 * big uints and NaN reach the mirror with
 * their kinds. The cause of an ENT_FULL (ent_errdetail()) comes through a relay and a mirror.
 * Transactions that deferred their ref checks reach a mirror whole. A scratch directory is made under $TMPDIR (test_tmp.h). */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <entity/nats.h>
#include <nats/nats.h>

#include "backend_fault.h"
#include "nats_util.h"
#include "test_nofile.h"
#include "test_util.h"

static char dir[ENT_TEST_PATH_MAX], url[64], port[16];
static pid_t server;

/* SIGSTOP the server and wait (bounded) until every thread of it is stopped: the signal reaches
 * its threads a moment later, in which one could still answer a request sent right after the
 * kill (a stream info answered OK under a stop that was to find it hung: CI, once, under load). */
static int all_threads_stopped(void)
{
    char path[64], buf[256];
    struct dirent *d;
    DIR *tasks;
    int all = 1;
    snprintf(path, sizeof path, "/proc/%ld/task", (long)server);
    if (!(tasks = opendir(path))) return 1; /* nothing to look at: no wait */
    while (all && (d = readdir(tasks))) {
        char stat_path[400];
        FILE *f;
        size_t n;
        const char *st;
        if (d->d_name[0] == '.') continue;
        snprintf(stat_path, sizeof stat_path, "%s/%s/stat", path, d->d_name);
        if (!(f = fopen(stat_path, "r"))) continue; /* a thread that ended */
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        st = strrchr(buf, ')'); /* "tid (comm) S ...": the state follows the name */
        if (st && st[1] == ' ' && st[2] != 'T' && st[2] != 't') all = 0;
    }
    closedir(tasks);
    return all;
}

static void stop_server(void)
{
    struct timespec ms = {0, 1000000};
    kill(server, SIGSTOP);
    for (int i = 0; i < 2000 && !all_threads_stopped(); i++) nanosleep(&ms, NULL); /* a guard, not a timing */
}

static const char schema_json[] =
    "{\"schema\":\"th\",\"version\":1,\"types\":{\"item\":{\"key\":\"auto\",\"fields\":{"
    "\"name\":{\"id\":1,\"type\":\"string\",\"required\":true},\"n\":{\"id\":2,\"type\":\"int\",\"indexed\":true},"
    "\"attrs\":{\"id\":3,\"type\":\"map\"}}}}}";

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The port is held for the whole run by a socket bound to it (SO_REUSEADDR, never listening):
 * the kernel then gives it to no one else's bind to port 0, while nats-server (Go listens with
 * SO_REUSEADDR) can still take it, then again after a restart. Picking a free port, closing it
 * and starting the server left a window in which a second suite running at the same time could
 * take the same port, and a restarted server found it taken, or a test reached the other suite's
 * server. */
static int port_hold = -1;

/* On a free port the first time, then again on the same port and directory (a restart). */
static int start_server(void)
{
    char sd[ENT_TEST_PATH_MAX];
    if (port_hold < 0) {
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
    }
    if (ent_test_fmt(sd, sizeof sd, "%s/js", dir)) return -1;
    snprintf(url, sizeof url, "nats://127.0.0.1:%s", port);
    if ((server = fork()) == 0) {
        int dn = open("/dev/null", O_WRONLY);
        /* a run that crashes (an ASan abort) does not leave its server running */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(dn, 1);
        dup2(dn, 2);
        execlp("nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p", port, "-sd", sd, (char *)NULL);
        _exit(127);
    }
    /* up to 30 s (a refused connect returns at once): a bound on a broken start only; at 5 s a
     * restart on the JetStream directory, on a machine others load, could look like one */
    for (int i = 0; i < 1200; i++) {
        natsConnection *nc = NULL;
        if (natsConnection_ConnectTo(&nc, url) == NATS_OK) {
            natsConnection_Destroy(nc);
            return 0;
        }
        nap_ms(25);
    }
    return -1;
}

static char *show(ent_store *s)
{
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    ent_iter *it = NULL;
    ent_entity *e;
    ent_log_cursor *c = NULL;
    ent_event *ev;
    char *j;
    out[0] = '\0';
#define ADD(t)                                                                                     \
    do {                                                                                           \
        size_t l_ = strlen(t);                                                                     \
        while (n + l_ + 2 > cap) out = realloc(out, cap *= 2);                                     \
        memcpy(out + n, t, l_ + 1);                                                                \
        n += l_;                                                                                   \
    } while (0)
    /* every type's entities, in the schema's order */
    for (size_t ti = 0; ti < ent_schema_type_count(ent_store_schema(s)); ti++) {
        ENT_OK_(ent_scan(&it, s, NULL, ent_schema_type_at(ent_store_schema(s), ti), NULL, NULL));
        while (ent_iter_next(&e, it) == ENT_OK) {
            ENT_OK_(ent_entity_to_json(&j, e, ENT_JSON_ENTITY));
            ADD(j);
            free(j);
            ent_entity_free(e);
        }
        ent_iter_free(it);
    }
    ENT_OK_(ent_log_cursor_open(&c, s, 1, NULL, 0));
    while (ent_log_next(&ev, c) == ENT_OK) {
        ENT_OK_(ent_event_to_json(&j, ev, 0));
        ADD(j);
        free(j);
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    return out;
}

static int seen; /* mirror events, counted on the mirror thread */
static void on_ev(const ent_event *ev, void *p)
{
    (void)ev;
    (void)p;
    __atomic_add_fetch(&seen, 1, __ATOMIC_RELAXED);
}

static int mirror_seen; /* the same, with release order */
static void count_mirror_ev(const ent_event *ev, void *p)
{
    (void)ev;
    (void)p;
    __atomic_add_fetch(&mirror_seen, 1, __ATOMIC_RELEASE);
}

static void quiet(const char *line, void *p)
{
    (void)line;
    (void)p;
}

static void test_threads(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL, *m = NULL;
    ent_relay *r = NULL;
    ent_follower *f = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT, mo = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX], mpath[ENT_TEST_PATH_MAX], *a, *b;
    uint64_t last = 0, applied = 0;
    int i;
    so.durability = ENT_NONE;
    mo.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/primary", dir);
    ENT_TEST_PATH(mpath, "%s/mirror", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    ro.url = url;
    ro.stream = "TH";
    ro.window = 64; /* many windows in flight and acknowledged */
    ro.log = quiet;
    fo.url = url;
    fo.stream = "TH";
    fo.primary_id = ent_store_id(p);
    fo.store_opts = &mo;
    fo.on_event = on_ev;
    fo.log = quiet;
    ENT_OK_(ent_relay_start(&r, p, &ro));
    /* One relay per store: a second one on the same handle, or on another handle of the same
     * directory (its flock), is refused at once, naming the store and the running relay. */
    {
        ent_relay *r2 = (ent_relay *)1;
        ent_store *p2 = NULL;
        char pid[64];
        CU_ASSERT_EQUAL(ent_relay_start(&r2, p, &ro), ENT_BUSY);
        CU_ASSERT_PTR_NULL(r2);
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "a relay is already running on it"));
        ENT_OK_(ent_store_open(&p2, path, sc, &so));
        CU_ASSERT_EQUAL(ent_relay_run(p2, &ro, NULL), ENT_BUSY);
        snprintf(pid, sizeof pid, "(pid %ld)", (long)getpid());
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), pid));
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), path));
        ent_store_close(p2);
    }
    ENT_OK_(ent_follow_start(&f, mpath, &fo));
    /* One mirror per store, the same way: a second one on the directory (a thread, or a run on
     * this one) is refused at once, naming the directory and the running one's pid. (Both ran:
     * each skipped what the other applied, so each on_event saw part of the events.) */
    {
        ent_follower *f2 = (ent_follower *)1;
        char pid[64];
        snprintf(pid, sizeof pid, "(pid %ld)", (long)getpid());
        CU_ASSERT_EQUAL(ent_follow_start(&f2, mpath, &fo), ENT_BUSY);
        CU_ASSERT_PTR_NULL(f2);
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "a mirror is already running on it"));
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), pid));
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), mpath));
        fo.once = 1;
        CU_ASSERT_EQUAL(ent_follow_run(mpath, &fo, NULL), ENT_BUSY);
        fo.once = 0;
    }
    for (i = 0; i < 300; i++) {
        ent_txn *t;
        ENT_OK_(ent_txn_begin(&t, p, ENT_TXN_WRITE));
        for (int j = 0; j < 1 + i % 4; j++) {
            ent_entity *e;
            char nm[32];
            snprintf(nm, sizeof nm, "item %d.%d", i, j);
            ENT_OK_(ent_entity_new(&e, ent_store_type(p, "item")));
            ENT_OK_(ent_entity_set_string(e, "name", nm));
            ENT_OK_(ent_entity_set_int(e, "n", i));
            ENT_OK_(ent_create(p, t, e));
            ent_entity_free(e);
        }
        if (i == 150) {
            /* the server SIGKILLed and restarted: both threads reconnect and resume */
            kill(server, SIGKILL);
            waitpid(server, NULL, 0);
            nap_ms(300);
            CU_ASSERT_EQUAL_FATAL(start_server(), 0);
        }
        if (i % 10 == 9) ENT_OK_(ent_delete(p, t, ent_store_type(p, "item"), &(ent_key){ENT_KEY_AUTO, (uint64_t)i, NULL, 0}, ENT_VERSION_ANY));
        ENT_OK_(ent_txn_commit(t));
    }
    ENT_OK_(ent_log_bounds(NULL, &last, p, NULL));
    /* the mirror gets there. The bound only stops a broken run: a loaded machine or a TSan build
     * may take its reconnect backoff several times over after the server restart. */
    for (i = 0; i < 12000 && (int)__atomic_load_n(&seen, __ATOMIC_RELAXED) < (int)last; i++) nap_ms(10);
    /* the relay counts JetStream's acks as its loop sees them (within its 200 ms wait) */
    for (i = 0; i < 12000 && ent_relay_acked(r) < last; i++) nap_ms(10);
    CU_ASSERT_EQUAL(ent_relay_acked(r), last);
    ENT_OK_(ent_relay_stop(r));
    ENT_OK_(ent_follow_stop(f));
    {
        /* the lock went with the relay: another handle relays now (nothing left to publish) */
        ent_store *p2 = NULL;
        ro.once = 1;
        ENT_OK_(ent_store_open(&p2, path, sc, &so));
        ENT_OK_(ent_relay_run(p2, &ro, NULL));
        ent_store_close(p2);
        ro.once = 0;
        /* and the mirror's went with it (nothing left to apply) */
        fo.once = 1;
        ENT_OK_(ent_follow_run(mpath, &fo, NULL));
        fo.once = 0;
    }
    CU_ASSERT_EQUAL(__atomic_load_n(&seen, __ATOMIC_RELAXED), (int)last);
    ENT_OK_(ent_store_open(&m, mpath, NULL, &mo));
    ENT_OK_(ent_mirror_position(&applied, NULL, m));
    CU_ASSERT_EQUAL(applied, last);
    a = show(p);
    b = show(m);
    CU_ASSERT_STRING_EQUAL(a, b);
    free(a);
    free(b);
    ent_store_close(m);
    ent_store_close(p);
    ent_schema_free(sc);
}

/* ---- a message held inside libnats's delivery ------------------------------------------------
 * libnats 3.4's reader thread finds a message's subscription, lets go of the lock, builds the
 * message (natsMsg_create) and only then locks the subscription. Destroyed in that window, the
 * subscription is used after it was freed: CI saw the relay crash so, an ack arriving as it stopped.
 * The window is a few instructions wide; these definitions (the test exports them, so libnats's
 * calls come here) hold it open: the next message matching the hold waits in natsMsg_create until
 * a subscription was destroyed or a connection began to close. Destroyed first (the old order), the
 * held message then meets freed memory; closed first, the close joins the reader, which finds its
 * subscription closed. The held ack also makes the relay wait for it until libnats closes the stale
 * connection itself (its pings go unanswered) and waits for the reader: the relay's own close then
 * returns at once, and only libnats's closed callback says when the subscription may go. */
natsStatus natsMsg_create(natsMsg **msg, const char *subj, int subj_len, const char *reply, int reply_len,
                          const char *buf, int buf_len, int hdr_len);
typedef natsStatus (*msg_create_fn)(natsMsg **, const char *, int, const char *, int, const char *, int, int);
typedef struct hold_spec {
    const char *subj, *body; /* the subject's start, the body's start ("": any) */
} hold_spec;
static const hold_spec ack_hold = {"_INBOX.", "{\"stream\":"}; /* JetStream's ack (not an API answer) */
static const hold_spec event_hold = {"entity.", ""};
static const hold_spec *hold_next; /* the next message to hold; NULL: none */
static int answer_503; /* the relay's publishes go where no stream listens (natsMsg_Create) */
static int hold_held, hold_released;

static void *real_fn(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "test_nats_threads: no %s after this program: %s\n", name, dlerror());
        abort();
    }
    return f;
}

natsStatus natsMsg_create(natsMsg **msg, const char *subj, int subj_len, const char *reply, int reply_len,
                          const char *buf, int buf_len, int hdr_len)
{
    msg_create_fn real;
    void *f = real_fn("natsMsg_create");
    const hold_spec *hs = __atomic_load_n(&hold_next, __ATOMIC_ACQUIRE);
    int h = hdr_len > 0 ? hdr_len : 0; /* -1: no headers */
    memcpy(&real, &f, sizeof real);
    if (hs && (size_t)subj_len >= strlen(hs->subj) && !memcmp(subj, hs->subj, strlen(hs->subj)) &&
        (size_t)(buf_len - h) >= strlen(hs->body) && !memcmp(buf + h, hs->body, strlen(hs->body)) &&
        __atomic_compare_exchange_n(&hold_next, &hs, NULL, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&hold_held, 1, __ATOMIC_RELEASE);
        /* bounded, so that a broken run ends (it then passes the window without a hold) */
        for (int i = 0; i < 6000 && !__atomic_load_n(&hold_released, __ATOMIC_ACQUIRE); i++) nap_ms(5);
    }
    return real(msg, subj, subj_len, reply, reply_len, buf, buf_len, hdr_len);
}

/* The relay's messages: while answer_503 is set, each goes to a subject no stream takes, so the
 * server answers its publish with a 503 status and stores nothing. */
natsStatus natsMsg_Create(natsMsg **msg, const char *subj, const char *reply, const char *data, int dataLen)
{
    natsStatus (*real)(natsMsg **, const char *, const char *, const char *, int);
    void *f = real_fn("natsMsg_Create");
    char other[256];
    memcpy(&real, &f, sizeof real);
    if (__atomic_load_n(&answer_503, __ATOMIC_ACQUIRE) && subj && !strncmp(subj, "entity.", 7)) {
        snprintf(other, sizeof other, "nostream.%s", subj);
        return real(msg, other, reply, data, dataLen);
    }
    return real(msg, subj, reply, data, dataLen);
}

/* While fail_reads is set, the mirror's reads of its stream fail (as on a connection that breaks
 * straight after each connect). */
static int fail_reads, failed_reads; /* the latter counts them */
/* test_mirror_stop_server_hung: the stop was asked; natsConnection_Close calls since; requests
 * that ended after the stop, cut short by such a close or not (the first one's subject) */
static int stopping, stop_closes, req_cut, req_waited, req_entered; /* the latter: while counting_reqs */
static int counting_reqs;
static char req_waited_subj[128];
/* test_relay_stop_server_hung: the request on this subject SIGSTOPs the server first (once), and
 * says so in hung_req; the relay's publishes of events while counting_pubs */
static const char *hang_on;
static int hung_req, counting_pubs, pubs;

natsStatus natsSubscription_NextMsg(natsMsg **msg, natsSubscription *sub, int64_t timeout)
{
    natsStatus (*real)(natsMsg **, natsSubscription *, int64_t);
    void *f = real_fn("natsSubscription_NextMsg");
    memcpy(&real, &f, sizeof real);
    if (__atomic_load_n(&fail_reads, __ATOMIC_ACQUIRE)) {
        __atomic_add_fetch(&failed_reads, 1, __ATOMIC_ACQ_REL);
        *msg = NULL;
        return NATS_CONNECTION_CLOSED;
    }
    return real(msg, sub, timeout);
}

void natsSubscription_Destroy(natsSubscription *sub)
{
    void (*real)(natsSubscription *);
    void *f = real_fn("natsSubscription_Destroy");
    memcpy(&real, &f, sizeof real);
    real(sub);
    if (sub) __atomic_store_n(&hold_released, 1, __ATOMIC_RELEASE);
}

void natsConnection_Close(natsConnection *nc)
{
    void (*real)(natsConnection *);
    void *f = real_fn("natsConnection_Close");
    memcpy(&real, &f, sizeof real);
    __atomic_store_n(&hold_released, 1, __ATOMIC_RELEASE);
    if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE)) __atomic_add_fetch(&stop_closes, 1, __ATOMIC_ACQ_REL);
    real(nc);
}

/* A mirror stopped while the server is hung (test_mirror_stop_server_hung): the JetStream API
 * requests (all of them go through natsConnection_Request) that ended after the stop was asked,
 * and whether each ended because the stop closed its connection (a natsConnection_Close called
 * since) or by itself (its 5 s wait, or libnats's own close of a stale connection). */

natsStatus natsConnection_Request(natsMsg **reply, natsConnection *nc, const char *subj, const void *data, int dataLen,
                                  int64_t timeout)
{
    natsStatus (*real)(natsMsg **, natsConnection *, const char *, const void *, int, int64_t);
    void *f = real_fn("natsConnection_Request");
    natsStatus st;
    const char *h = __atomic_load_n(&hang_on, __ATOMIC_ACQUIRE);
    memcpy(&real, &f, sizeof real);
    if (__atomic_load_n(&counting_reqs, __ATOMIC_ACQUIRE)) __atomic_add_fetch(&req_entered, 1, __ATOMIC_ACQ_REL);
    if (h && subj && !strcmp(subj, h) && __atomic_compare_exchange_n(&hang_on, &h, NULL, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        stop_server(); /* this request is sent to a server that does not answer */
        __atomic_store_n(&hung_req, 1, __ATOMIC_RELEASE);
    }
    st = real(reply, nc, subj, data, dataLen, timeout);
    if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE)) {
        if (st != NATS_OK && __atomic_load_n(&stop_closes, __ATOMIC_ACQUIRE)) {
            __atomic_add_fetch(&req_cut, 1, __ATOMIC_ACQ_REL);
        } else if (__atomic_add_fetch(&req_waited, 1, __ATOMIC_ACQ_REL) == 1) {
            snprintf(req_waited_subj, sizeof req_waited_subj, "%s (%s)", subj, natsStatus_GetText(st));
        }
    }
    return st;
}

natsStatus natsConnection_PublishMsg(natsConnection *nc, natsMsg *msg)
{
    natsStatus (*real)(natsConnection *, natsMsg *);
    void *f = real_fn("natsConnection_PublishMsg");
    const char *subj = msg ? natsMsg_GetSubject(msg) : NULL;
    natsStatus st;
    memcpy(&real, &f, sizeof real);
    st = real(nc, msg);
    if (st == NATS_OK && __atomic_load_n(&counting_pubs, __ATOMIC_ACQUIRE) && subj && !strncmp(subj, "entity.", 7) &&
        !strstr(subj, ".schema"))
        __atomic_add_fetch(&pubs, 1, __ATOMIC_ACQ_REL);
    return st;
}

static void hold(const hold_spec *hs)
{
    __atomic_store_n(&hold_held, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&hold_released, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&hold_next, hs, __ATOMIC_RELEASE);
}

static int held(void)
{
    for (int i = 0; i < 2000 && !__atomic_load_n(&hold_held, __ATOMIC_ACQUIRE); i++) nap_ms(5);
    return __atomic_load_n(&hold_held, __ATOMIC_ACQUIRE);
}

static void add_item_txn(ent_store *s, ent_txn *t, const char *name)
{
    ent_entity *e;
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "item")));
    ENT_OK_(ent_entity_set_string(e, "name", name));
    ENT_OK_(ent_create(s, t, e));
    ent_entity_free(e);
}

static void add_item(ent_store *s, const char *name) { add_item_txn(s, NULL, name); }

static int lost; /* the relay's "lost NATS" lines */
static void count_lost(const char *line, void *p)
{
    (void)p;
    if (strstr(line, "lost NATS")) __atomic_add_fetch(&lost, 1, __ATOMIC_RELAXED);
}

/* A relay stopped while its ack is held (its close comes first), a relay whose connection libnats
 * closed as stale while the ack is held (libnats's close comes first), a mirror stopped while an
 * event is held: each returns ENT_OK, and the process does not touch a freed subscription (a SEGV,
 * or an ASan report, before). */
static void test_stop_in_delivery(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_relay *r = NULL;
    ent_follower *f = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT, mo = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX], mpath[ENT_TEST_PATH_MAX];
    int i;
    so.durability = ENT_NONE;
    mo.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/stop_primary", dir);
    ENT_TEST_PATH(mpath, "%s/stop_mirror", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    ro.url = url;
    ro.stream = "STOP";
    ro.log = quiet;
    fo.url = url;
    fo.stream = "STOP";
    fo.primary_id = ent_store_id(p);
    fo.store_opts = &mo;
    fo.on_event = on_ev;
    fo.log = quiet;
    add_item(p, "first");
    ENT_OK_(ent_relay_start(&r, p, &ro));
    for (i = 0; i < 2000 && ent_relay_acked(r) < 1; i++) nap_ms(5);
    CU_ASSERT_EQUAL_FATAL(ent_relay_acked(r), 1);
    /* the relay: JetStream's ack of the next event held */
    hold(&ack_hold);
    add_item(p, "second");
    CU_ASSERT_FATAL(held());
    ENT_OK_(ent_relay_stop(r)); /* it does not wait for the held ack */
    /* libnats's pinger finds the held connection stale and closes it, joining the held reader */
    ro.log = count_lost;
    ENT_OK_(ent_relay_start(&r, p, &ro));
    hold(&ack_hold);
    add_item(p, "third");
    CU_ASSERT_FATAL(held());
    for (i = 0; i < 6000 && !__atomic_load_n(&lost, __ATOMIC_RELAXED); i++) nap_ms(5);
    CU_ASSERT_FATAL(__atomic_load_n(&lost, __ATOMIC_RELAXED) > 0);
    ENT_OK_(ent_relay_stop(r));
    ro.log = quiet;
    /* the mirror: the next event held on its way to the mirror */
    __atomic_store_n(&seen, 0, __ATOMIC_RELAXED);
    ENT_OK_(ent_follow_start(&f, mpath, &fo));
    ENT_OK_(ent_relay_start(&r, p, &ro));
    for (i = 0; i < 4000 && __atomic_load_n(&seen, __ATOMIC_RELAXED) < 3; i++) nap_ms(5);
    CU_ASSERT_EQUAL_FATAL(__atomic_load_n(&seen, __ATOMIC_RELAXED), 3);
    hold(&event_hold);
    add_item(p, "fourth");
    CU_ASSERT_FATAL(held());
    ENT_OK_(ent_follow_stop(f));
    ENT_OK_(ent_relay_stop(r));
    ent_store_close(p);
    ent_schema_free(sc);
}

/* ---- an ack callback still running when the relay stops ------------------------------------
 * JetStream's acks reach on_ack on the ack subscription's own delivery thread, which libnats
 * neither joins nor waits for: closing the connection only tells it to stop once the callback in
 * progress returns. The ack state was freed 10 ms after the close (a nap in ent_nats__fini), or
 * 10 s after it on a reconnect, whether the callback was done or not. Here on_ack is held in its
 * first call into libnats (natsMsg_GetSubject, which the test exports) until ent_relay_stop() has
 * returned: it then goes on into the relay's ack state, which must still be there (an ASan or
 * TSan heap-use-after-free report before). The held ack's message is destroyed by on_ack last. */
static natsMsg *cb_held_msg;
static int cb_hold_armed, cb_held, cb_released, cb_done;

const char *natsMsg_GetSubject(const natsMsg *msg)
{
    const char *(*real)(const natsMsg *);
    void *f = real_fn("natsMsg_GetSubject");
    const char *subj, *d;
    int armed = 1;
    memcpy(&real, &f, sizeof real);
    subj = real(msg);
    d = msg ? natsMsg_GetData(msg) : NULL;
    if (subj && !strncmp(subj, "_INBOX.", 7) && d && !strncmp(d, "{\"stream\":", 10) &&
        __atomic_compare_exchange_n(&cb_hold_armed, &armed, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&cb_held_msg, (natsMsg *)msg, __ATOMIC_RELEASE);
        __atomic_store_n(&cb_held, 1, __ATOMIC_RELEASE);
        /* bounded, so that a broken run ends */
        for (int i = 0; i < 6000 && !__atomic_load_n(&cb_released, __ATOMIC_ACQUIRE); i++) nap_ms(5);
    }
    return subj;
}

void natsMsg_Destroy(natsMsg *msg)
{
    void (*real)(natsMsg *);
    void *f = real_fn("natsMsg_Destroy");
    memcpy(&real, &f, sizeof real);
    if (msg && msg == __atomic_load_n(&cb_held_msg, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&cb_held_msg, NULL, __ATOMIC_RELEASE);
        real(msg);
        __atomic_store_n(&cb_done, 1, __ATOMIC_RELEASE);
        return;
    }
    real(msg);
}

static void test_stop_in_ack_callback(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX];
    int i;
    so.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/cb_primary", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    ro.url = url;
    ro.stream = "CB";
    ro.log = quiet;
    add_item(p, "first");
    ENT_OK_(ent_relay_start(&r, p, &ro));
    for (i = 0; i < 2000 && ent_relay_acked(r) < 1; i++) nap_ms(5);
    CU_ASSERT_EQUAL_FATAL(ent_relay_acked(r), 1);
    __atomic_store_n(&cb_held, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&cb_released, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&cb_done, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&cb_hold_armed, 1, __ATOMIC_RELEASE);
    add_item(p, "second");
    for (i = 0; i < 2000 && !__atomic_load_n(&cb_held, __ATOMIC_ACQUIRE); i++) nap_ms(5);
    CU_ASSERT_FATAL(__atomic_load_n(&cb_held, __ATOMIC_ACQUIRE));
    /* the relay waits for that ack no longer than the stop (it never comes in time) */
    ENT_OK_(ent_relay_stop(r));
    __atomic_store_n(&cb_released, 1, __ATOMIC_RELEASE);
    for (i = 0; i < 2000 && !__atomic_load_n(&cb_done, __ATOMIC_ACQUIRE); i++) nap_ms(5);
    CU_ASSERT(__atomic_load_n(&cb_done, __ATOMIC_ACQUIRE));
    ent_store_close(p);
    ent_schema_free(sc);
}

/* ---- a relay stopped while the server does not read ------------------------------------------
 * A server that stops reading (SIGSTOP here; a hung process or a stalled network alike) while the
 * relay publishes more than the sockets buffer: libnats's writes had no deadline, so the relay's
 * thread waited in send() for as long as the server did, the connection lock held (libnats's own
 * pinger, which would have found the connection stale, waited behind it), and ent_relay_stop() or
 * a SIGTERM of `entity relay` with it. The server is stopped from the relay's "connected" line,
 * before it publishes 80 MB; the stop must return while the server is still stopped. A watchdog
 * lets the server go on after 60 s, only to end a broken run (the stop returned after it: failed). */
static pid_t stopped_server;
static int stop_returned, watchdog_fired;

static void stop_server_on_connect(const char *line, void *p)
{
    (void)p;
    if (strstr(line, "relay: connected") && __atomic_exchange_n(&stopped_server, server, __ATOMIC_ACQ_REL) == 0)
        stop_server();
}

static void *watchdog(void *p)
{
    (void)p;
    for (int i = 0; i < 6000 && !__atomic_load_n(&stop_returned, __ATOMIC_ACQUIRE); i++) nap_ms(10);
    if (!__atomic_load_n(&stop_returned, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&watchdog_fired, 1, __ATOMIC_RELEASE);
        kill(server, SIGCONT);
    }
    return NULL;
}

static void test_stop_server_not_reading(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX], *big;
    pthread_t wd;
    ent_txn *t;
    size_t n = 100 * 1024;
    int rc;
    so.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/stalled_primary", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    big = malloc(n + 16);
    memset(big, 'x', n);
    ENT_OK_(ent_txn_begin(&t, p, ENT_TXN_WRITE));
    for (int i = 0; i < 800; i++) {
        snprintf(big + n, 16, "%d", i);
        add_item_txn(p, t, big);
    }
    ENT_OK_(ent_txn_commit(t));
    free(big);
    ro.url = url;
    ro.stream = "STALLED";
    ro.log = stop_server_on_connect;
    __atomic_store_n(&stopped_server, 0, __ATOMIC_RELAXED);
    ENT_OK_(ent_relay_start(&r, p, &ro));
    for (int i = 0; i < 2000 && !__atomic_load_n(&stopped_server, __ATOMIC_ACQUIRE); i++) nap_ms(5);
    CU_ASSERT_FATAL(__atomic_load_n(&stopped_server, __ATOMIC_ACQUIRE) != 0);
    CU_ASSERT_FATAL(pthread_create(&wd, NULL, watchdog, NULL) == 0);
    rc = ent_relay_stop(r);
    __atomic_store_n(&stop_returned, 1, __ATOMIC_RELEASE);
    pthread_join(wd, NULL);
    CU_ASSERT_FALSE(__atomic_load_n(&watchdog_fired, __ATOMIC_ACQUIRE));
    CU_ASSERT_EQUAL(rc, ENT_OK); /* a lost connection while stopping is a stop */
    kill(server, SIGCONT);
    /* the server back: the relay publishes the whole log, once */
    ro.once = 1;
    ro.log = quiet;
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    ent_store_close(p);
    ent_schema_free(sc);
}

/* ---- a mirror stopped while the server is hung ---------------------------------------------
 * The server stopped (SIGSTOP: it takes TCP, never answers) under a following mirror, then the
 * mirror stopped. The stop waited for a JetStream request's whole 5 s: the consumer's deletion
 * that natsSubscription_Unsubscribe sends as the mirror lets go of its connection, or the stream
 * look-up the mirror makes after 2 s of quiet, when the stop came during it. Stopped at once, and
 * stopped during that look-up: each request that ends after the stop was asked must end because
 * the stop closed its connection, not by its wait (the time the stop took is printed, not
 * asserted). The consumers left go with their connections. A watchdog lets the server go on after
 * 60 s, only to end a broken run. */
static void stop_hung(const char *mpath, const ent_follow_opts *fo, int in_request)
{
    ent_follower *f = NULL;
    struct timespec t0, t1;
    pthread_t wd;
    int i, rc;
    __atomic_store_n(&mirror_seen, 0, __ATOMIC_RELEASE);
    ENT_OK_(ent_follow_start(&f, mpath, fo));
    for (i = 0; i < 4000 && __atomic_load_n(&mirror_seen, __ATOMIC_ACQUIRE) < 1; i++) nap_ms(5);
    CU_ASSERT_EQUAL_FATAL(__atomic_load_n(&mirror_seen, __ATOMIC_ACQUIRE), 1);
    __atomic_store_n(&req_entered, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&counting_reqs, 1, __ATOMIC_RELEASE);
    stop_server();
    __atomic_store_n(&stop_returned, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&watchdog_fired, 0, __ATOMIC_RELEASE);
    CU_ASSERT_FATAL(pthread_create(&wd, NULL, watchdog, NULL) == 0);
    /* the look-up after 2 s of quiet (bounded, only to end a broken run) */
    for (i = 0; in_request && i < 2000 && !__atomic_load_n(&req_entered, __ATOMIC_ACQUIRE); i++) nap_ms(5);
    CU_ASSERT(!in_request || __atomic_load_n(&req_entered, __ATOMIC_ACQUIRE) == 1);
    __atomic_store_n(&req_cut, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&req_waited, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&stop_closes, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = ent_follow_stop(f);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    __atomic_store_n(&stopping, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&counting_reqs, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&stop_returned, 1, __ATOMIC_RELEASE);
    pthread_join(wd, NULL);
    kill(server, SIGCONT);
    fprintf(stderr, "\n  mirror stop, server hung%s: %.3f s; requests cut by the stop %d, waited for %d%s%s\n",
            in_request ? ", in a request" : "", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
            req_cut, req_waited, req_waited ? ": " : "", req_waited ? req_waited_subj : "");
    CU_ASSERT_EQUAL(rc, ENT_OK);
    CU_ASSERT_FALSE(__atomic_load_n(&watchdog_fired, __ATOMIC_ACQUIRE));
    CU_ASSERT_EQUAL(__atomic_load_n(&req_waited, __ATOMIC_ACQUIRE), 0);
    if (in_request) CU_ASSERT_EQUAL(__atomic_load_n(&req_cut, __ATOMIC_ACQUIRE), 1);
}

static void test_mirror_stop_server_hung(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT, mo = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX], mpath[ENT_TEST_PATH_MAX];
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsStreamInfo *si = NULL;
    int i, consumers = -1;
    so.durability = ENT_NONE;
    mo.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/hung", dir);
    ENT_TEST_PATH(mpath, "%s/hung-mirror", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    add_item(p, "one");
    ro.url = url;
    ro.stream = "HUNG";
    ro.log = quiet;
    ro.once = 1;
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    fo.url = url;
    fo.stream = "HUNG";
    fo.primary_id = ent_store_id(p);
    fo.store_opts = &mo;
    fo.on_event = count_mirror_ev;
    fo.log = quiet;
    stop_hung(mpath, &fo, 0);
    add_item(p, "two");
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    stop_hung(mpath, &fo, 1);
    /* the consumers went with their connections (bounded, only to end a broken run) */
    CU_ASSERT_FATAL(natsConnection_ConnectTo(&nc, url) == NATS_OK && natsConnection_JetStream(&js, nc, NULL) == NATS_OK);
    for (i = 0; i < 300 && consumers; i++) {
        if (js_GetStreamInfo(&si, js, "HUNG", NULL, NULL) == NATS_OK) {
            consumers = (int)si->State.Consumers;
            jsStreamInfo_Destroy(si);
        }
        if (consumers) nap_ms(100);
    }
    fprintf(stderr, "  consumers gone after %d looks 100 ms apart\n", i);
    CU_ASSERT_EQUAL(consumers, 0);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    /* the server back: the mirror follows it */
    add_item(p, "three");
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    fo.once = 1;
    ENT_OK_(ent_follow_run(mpath, &fo, NULL));
    ent_store_close(p);
    ent_schema_free(sc);
}

/* ---- a relay stopped while the server is hung ----------------------------------------------
 * The relay has JetStream requests too: its resume's stream info and last messages (5 s each when
 * the server does not answer); a stop during one waited for it. Two stops with the server
 * SIGSTOPped: right after it, with publishes awaiting their acks, and during the resume's stream
 * info (the test's natsConnection_Request stops the server as that request goes out). Each
 * request that ends after the stop was asked must end because the stop closed its connection,
 * not by its wait; the relay returns ENT_OK (no timing asserted, the time printed; a watchdog
 * lets the server go on after 60 s, only to end a broken run). Nothing is lost: the checkpoint
 * stays at the last ack, and the next run publishes exactly what the stream lacks, each seq once. */

/* The events of store id in the stream, read back message by message: Entity-Seq 1, 2, ... in
 * order (*ok 0 at the first other one). */
static uint64_t stream_events(const char *stream, const char *id, int *ok)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsStreamInfo *si = NULL;
    uint64_t n = 0, last = 0;
    char prefix[80];
    *ok = 0;
    snprintf(prefix, sizeof prefix, "entity.%s.", id);
    if (natsConnection_ConnectTo(&nc, url) != NATS_OK || natsConnection_JetStream(&js, nc, NULL) != NATS_OK) goto out;
    if (js_GetStreamInfo(&si, js, stream, NULL, NULL) != NATS_OK) goto out;
    last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    *ok = 1;
    for (uint64_t q = 1; q <= last && *ok; q++) {
        natsMsg *m = NULL;
        const char *v = NULL;
        if (js_GetMsg(&m, js, stream, q, NULL, NULL) != NATS_OK) {
            *ok = 0;
            break;
        }
        if (!strncmp(natsMsg_GetSubject(m), prefix, strlen(prefix)) && !strstr(natsMsg_GetSubject(m), ".schema")) {
            if (natsMsgHeader_Get(m, "Entity-Seq", &v) != NATS_OK || strtoull(v, NULL, 10) != n + 1) {
                fprintf(stderr, "\n  stream %s, message %llu: Entity-Seq %s after %llu\n", stream, (unsigned long long)q,
                        v ? v : "none", (unsigned long long)n);
                *ok = 0;
            }
            n++;
        }
        natsMsg_Destroy(m);
    }
out:
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return n;
}

/* Stop r (the server SIGSTOPped already), let the server go on, and check the stop. */
static void stop_relay_hung(ent_relay *r, int in_request)
{
    struct timespec t0, t1;
    pthread_t wd;
    int rc;
    __atomic_store_n(&stop_returned, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&watchdog_fired, 0, __ATOMIC_RELEASE);
    CU_ASSERT_FATAL(pthread_create(&wd, NULL, watchdog, NULL) == 0);
    __atomic_store_n(&req_cut, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&req_waited, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&stop_closes, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = ent_relay_stop(r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    __atomic_store_n(&stopping, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&stop_returned, 1, __ATOMIC_RELEASE);
    pthread_join(wd, NULL);
    kill(server, SIGCONT);
    fprintf(stderr, "\n  relay stop, server hung%s: %.3f s; requests cut by the stop %d, waited for %d%s%s\n",
            in_request ? ", in its resume's stream info" : ", acks awaited",
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, req_cut, req_waited,
            req_waited ? ": " : "", req_waited ? req_waited_subj : "");
    CU_ASSERT_EQUAL(rc, ENT_OK);
    CU_ASSERT_FALSE(__atomic_load_n(&watchdog_fired, __ATOMIC_ACQUIRE));
    CU_ASSERT_EQUAL(__atomic_load_n(&req_waited, __ATOMIC_ACQUIRE), 0);
    if (in_request) CU_ASSERT_EQUAL(__atomic_load_n(&req_cut, __ATOMIC_ACQUIRE), 1);
}

/* The next run (--once) publishes exactly what the stream lacks of the log, and the stream then
 * holds each of its seqs once, in order. */
static void relay_rest_once(ent_store *p, ent_relay_opts ro)
{
    uint64_t last = 0, before;
    int ok = 0;
    ENT_OK_(ent_log_bounds(NULL, &last, p, NULL));
    before = stream_events(ro.stream, ent_store_id(p), &ok);
    CU_ASSERT(ok);
    __atomic_store_n(&pubs, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&counting_pubs, 1, __ATOMIC_RELEASE);
    ro.once = 1;
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    __atomic_store_n(&counting_pubs, 0, __ATOMIC_RELEASE);
    fprintf(stderr, "  stream held %llu of %llu events; the next run published %d\n", (unsigned long long)before,
            (unsigned long long)last, __atomic_load_n(&pubs, __ATOMIC_ACQUIRE));
    CU_ASSERT_EQUAL((uint64_t)__atomic_load_n(&pubs, __ATOMIC_ACQUIRE), last - before);
    CU_ASSERT_EQUAL(stream_events(ro.stream, ent_store_id(p), &ok), last);
    CU_ASSERT(ok);
}

static void test_relay_stop_server_hung(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX];
    ent_txn *t = NULL;
    uint64_t cp = 0;
    int i, ok = 0;
    so.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/rhung", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    add_item(p, "one");
    add_item(p, "two");
    ro.url = url;
    ro.stream = "RHUNG";
    ro.log = quiet;
    /* stopped right after the server: three events published, their acks awaited */
    ENT_OK_(ent_relay_start(&r, p, &ro));
    for (i = 0; i < 4000 && ent_relay_acked(r) < 2; i++) nap_ms(5);
    CU_ASSERT_EQUAL_FATAL(ent_relay_acked(r), 2);
    __atomic_store_n(&pubs, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&counting_pubs, 1, __ATOMIC_RELEASE);
    stop_server();
    /* one transaction: the relay reads the three at once and publishes them before it waits (three
     * commits apart, it could be waiting for the first one's ack before it read the next) */
    ENT_OK_(ent_txn_begin(&t, p, ENT_TXN_WRITE));
    add_item_txn(p, t, "three");
    add_item_txn(p, t, "four");
    add_item_txn(p, t, "five");
    ENT_OK_(ent_txn_commit(t));
    for (i = 0; i < 4000 && __atomic_load_n(&pubs, __ATOMIC_ACQUIRE) < 3; i++) nap_ms(5);
    __atomic_store_n(&counting_pubs, 0, __ATOMIC_RELEASE);
    CU_ASSERT_EQUAL(__atomic_load_n(&pubs, __ATOMIC_ACQUIRE), 3);
    stop_relay_hung(r, 0);
    ENT_OK_(ent_sub_checkpoint(&cp, p, NULL, "relay"));
    if (cp != 2) fprintf(stderr, "\n  relay checkpoint %llu after its stop, not 2\n", (unsigned long long)cp);
    CU_ASSERT_EQUAL(cp, 2); /* none of the three acknowledged */
    /* What the server read before the relay's connection closed it stores once it goes on; the
     * next run resumes after the stream's last, so it waits for that (bounded, only to end a
     * broken run: a publish from the old connection stored after the next run's resume would be
     * sent twice, JetStream's duplicate window aside). */
    for (i = 0; i < 200 && stream_events("RHUNG", ent_store_id(p), &ok) < 5; i++) nap_ms(50);
    relay_rest_once(p, ro);
    /* stopped during its resume: the server stops as the stream info is asked for */
    add_item(p, "six");
    add_item(p, "seven");
    __atomic_store_n(&hung_req, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&hang_on, "$JS.API.STREAM.INFO.RHUNG", __ATOMIC_RELEASE);
    ENT_OK_(ent_relay_start(&r, p, &ro));
    for (i = 0; i < 4000 && !__atomic_load_n(&hung_req, __ATOMIC_ACQUIRE); i++) nap_ms(5);
    __atomic_store_n(&hang_on, NULL, __ATOMIC_RELEASE);
    CU_ASSERT_FATAL(__atomic_load_n(&hung_req, __ATOMIC_ACQUIRE));
    stop_relay_hung(r, 1);
    relay_rest_once(p, ro);
    ent_store_close(p);
    ent_schema_free(sc);
}

/* ---- relay --once against a JetStream that answers every publish with a 503 -------------------
 * Each answer is a lost connection to the relay, which reconnects and publishes again. It did so
 * without a pause, and with once for ever (seen: 60 s of it, until this test stopped it). Once now
 * fails after 5 losses in a row with no ack between them, naming the answer; without the fault
 * the next run publishes the log. */
static int once_stop;
typedef struct once_run {
    ent_store *s;
    const ent_relay_opts *ro;
    int rc, done;
    char msg[512];
} once_run;

static void *run_once(void *p)
{
    once_run *o = p;
    o->rc = ent_relay_run(o->s, o->ro, &once_stop);
    snprintf(o->msg, sizeof o->msg, "%s", ent_errmsg());
    __atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_once_gives_up(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX];
    once_run o;
    pthread_t th;
    so.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/once_503", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    add_item(p, "one");
    add_item(p, "two");
    ro.url = url;
    ro.stream = "ONCE503";
    ro.once = 1;
    ro.log = quiet;
    memset(&o, 0, sizeof o);
    o.s = p;
    o.ro = &ro;
    __atomic_store_n(&answer_503, 1, __ATOMIC_RELEASE);
    CU_ASSERT_FATAL(pthread_create(&th, NULL, run_once, &o) == 0);
    /* bounded: a relay that never gives up is stopped after 60 s, and the test fails below */
    for (int i = 0; i < 12000 && !__atomic_load_n(&o.done, __ATOMIC_ACQUIRE); i++) nap_ms(5);
    if (!__atomic_load_n(&o.done, __ATOMIC_ACQUIRE)) __atomic_store_n(&once_stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    __atomic_store_n(&answer_503, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&once_stop, 0, __ATOMIC_RELEASE);
    if (o.rc != ENT_IO) fprintf(stderr, "relay --once: %d: %s\n", o.rc, o.msg);
    CU_ASSERT_EQUAL(o.rc, ENT_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "no JetStream answer (status 503)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "5 tries in a row"));
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    ent_store_close(p);
    ent_schema_free(sc);
}

/* Free-form values whose kind JSON does not say (bytes, a uint above 2^63-1, NaN), also inside an
 * array, reach the mirror as those kinds through the stream (its messages carry "kinds"): they
 * came back as the strings JSON printed for them. A string that looks like base64 stays a string. */
static void test_kinds_through_stream(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL, *m = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT, mo = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX], mpath[ENT_TEST_PATH_MAX];
    ent_entity *e = NULL, *c = NULL;
    ent_kind k;
    const void *bp;
    size_t bn;
    uint64_t u = 0;
    double d = 0;
    const char *str;
    void *ra = NULL, *rb = NULL;
    size_t na = 0, nb = 0;
    so.durability = ENT_NONE;
    mo.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/kinds-primary", dir);
    ENT_TEST_PATH(mpath, "%s/kinds-mirror", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    ENT_OK_(ent_entity_new(&e, ent_store_type(p, "item")));
    ENT_OK_(ent_entity_set_string(e, "name", "kinds"));
    ENT_OK_(ent_entity_set_bytes(e, "attrs.blob", "\x00\xff\x10", 3));
    ENT_OK_(ent_entity_set_uint(e, "attrs.big", UINT64_MAX));
    ENT_OK_(ent_entity_set_json(e, "attrs.list", "[null,null]"));
    ENT_OK_(ent_entity_set_bytes(e, "attrs.list[0]", "", 0));
    ENT_OK_(ent_entity_set_uint(e, "attrs.list[1]", (uint64_t)INT64_MAX + 1));
    ENT_OK_(ent_entity_set_float(e, "attrs.nan", NAN));
    ENT_OK_(ent_entity_set_string(e, "attrs.text", "AP8="));
    ENT_OK_(ent_create(p, NULL, e));
    ent_entity_free(e);
    ro.url = url;
    ro.stream = "KINDS";
    ro.log = quiet;
    fo.url = url;
    fo.stream = "KINDS";
    fo.primary_id = ent_store_id(p);
    fo.store_opts = &mo;
    fo.log = quiet;
    ro.once = 1;
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    fo.once = 1;
    ENT_OK_(ent_follow_run(mpath, &fo, NULL));
    ENT_OK_(ent_store_open(&m, mpath, NULL, &mo));
    ENT_OK_(ent_get(&e, p, NULL, ent_store_type(p, "item"), &(ent_key){ENT_KEY_AUTO, 1, NULL, 0}));
    ENT_OK_(ent_get(&c, m, NULL, ent_store_type(m, "item"), &(ent_key){ENT_KEY_AUTO, 1, NULL, 0}));
    ENT_OK_(ent_entity_kind(&k, c, "attrs.blob"));
    CU_ASSERT_EQUAL(k, ENT_KIND_BYTES);
    if (k == ENT_KIND_BYTES) {
        ENT_OK_(ent_entity_get_bytes(&bp, &bn, c, "attrs.blob"));
        CU_ASSERT(bn == 3 && !memcmp(bp, "\x00\xff\x10", 3));
    }
    ENT_OK_(ent_entity_kind(&k, c, "attrs.big"));
    CU_ASSERT_EQUAL(k, ENT_KIND_UINT);
    if (k == ENT_KIND_UINT) ENT_OK_(ent_entity_get_uint(&u, c, "attrs.big"));
    CU_ASSERT_EQUAL(u, UINT64_MAX);
    ENT_OK_(ent_entity_kind(&k, c, "attrs.list[0]"));
    CU_ASSERT_EQUAL(k, ENT_KIND_BYTES);
    ENT_OK_(ent_entity_kind(&k, c, "attrs.list[1]"));
    CU_ASSERT_EQUAL(k, ENT_KIND_UINT);
    ENT_OK_(ent_entity_kind(&k, c, "attrs.nan"));
    CU_ASSERT_EQUAL(k, ENT_KIND_FLOAT);
    if (k == ENT_KIND_FLOAT) ENT_OK_(ent_entity_get_float(&d, c, "attrs.nan"));
    CU_ASSERT(d != d);
    ENT_OK_(ent_entity_kind(&k, c, "attrs.text"));
    CU_ASSERT_EQUAL(k, ENT_KIND_STRING);
    ENT_OK_(ent_entity_get_string(&str, &bn, c, "attrs.text"));
    CU_ASSERT_STRING_EQUAL(str, "AP8=");
    /* and the whole record, byte for byte */
    ENT_OK_(ent_entity_encode(&ra, &na, e));
    ENT_OK_(ent_entity_encode(&rb, &nb, c));
    CU_ASSERT(na == nb && !memcmp(ra, rb, na));
    free(ra);
    free(rb);
    ent_entity_free(e);
    ent_entity_free(c);
    ent_store_close(m);
    ent_store_close(p);
    ent_schema_free(sc);
}

/* ---- a transaction whose ref checks waited for its commit ---------------------------------------
 * ent_txn_defer_ref_checks(): the primary deleted a department and then the employee that referred
 * to it, in one transaction, checked on its final state at commit. The mirror applied the delete
 * with the immediate check ("still referenced") and stopped with ENT_CORRUPT: a primary whose
 * transactions the mirror cannot take. It takes what the primary took, refs as well. */
static const char refs_schema_json[] =
    "{\"schema\":\"refs\",\"version\":1,\"types\":{\"dept\":{\"key\":\"string\",\"fields\":{"
    "\"name\":{\"id\":1,\"type\":\"string\"}}},\"emp\":{\"key\":\"string\",\"fields\":{"
    "\"dept\":{\"id\":1,\"type\":\"ref\",\"to\":\"dept\",\"required\":true},"
    "\"boss\":{\"id\":2,\"type\":\"ref\",\"to\":\"emp\"}}}}}";

static void put_json(ent_store *s, ent_txn *t, const char *type, const char *key, const char *json)
{
    ent_entity *e = NULL;
    ENT_OK_(ent_entity_from_json(&e, ent_store_type(s, type), json, strlen(json)));
    ENT_OK_(ent_entity_set_key(e, &(ent_key){ENT_KEY_STRING, 0, key, strlen(key)}));
    ENT_OK_(ent_create(s, t, e));
    ent_entity_free(e);
}

static void test_deferred_refs_through_stream(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL, *m = NULL;
    ent_txn *t = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT, mo = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX], mpath[ENT_TEST_PATH_MAX], *a, *b;
    uint64_t last = 0, applied = 0;
    const ent_type *dept, *emp;
    so.durability = ENT_NONE;
    mo.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/refs-primary", dir);
    ENT_TEST_PATH(mpath, "%s/refs-mirror", dir);
    ENT_OK_(ent_schema_load_json(&sc, refs_schema_json, strlen(refs_schema_json), "refs"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    dept = ent_store_type(p, "dept");
    emp = ent_store_type(p, "emp");
    /* made in one transaction, the refs pointing forward (to a dept and a boss made after them) */
    ENT_OK_(ent_txn_begin(&t, p, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    put_json(p, t, "emp", "ann", "{\"dept\":\"d1\",\"boss\":\"bob\"}");
    put_json(p, t, "emp", "bob", "{\"dept\":\"d1\",\"boss\":\"ann\"}");
    put_json(p, t, "dept", "d1", "{\"name\":\"one\"}");
    put_json(p, t, "dept", "d2", "{\"name\":\"two\"}");
    ENT_OK_(ent_txn_commit(t));
    /* deleted in one transaction, each still referred to when its delete is called */
    ENT_OK_(ent_txn_begin(&t, p, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_ref_checks(t));
    ENT_OK_(ent_delete(p, t, dept, &(ent_key){ENT_KEY_STRING, 0, "d1", 2}, ENT_VERSION_ANY));
    ENT_OK_(ent_delete(p, t, emp, &(ent_key){ENT_KEY_STRING, 0, "ann", 3}, ENT_VERSION_ANY));
    ENT_OK_(ent_delete(p, t, emp, &(ent_key){ENT_KEY_STRING, 0, "bob", 3}, ENT_VERSION_ANY));
    ENT_OK_(ent_txn_commit(t));
    /* and one made after, so the mirror's next transaction is checked too */
    put_json(p, NULL, "emp", "cy", "{\"dept\":\"d2\"}");
    ENT_OK_(ent_log_bounds(NULL, &last, p, NULL));
    ro.url = url;
    ro.stream = "REFS";
    ro.log = quiet;
    ro.once = 1;
    fo.url = url;
    fo.stream = "REFS";
    fo.primary_id = ent_store_id(p);
    fo.store_opts = &mo;
    fo.log = quiet;
    fo.once = 1;
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    ENT_OK_(ent_follow_run(mpath, &fo, NULL));
    ENT_OK_(ent_store_open(&m, mpath, NULL, &mo));
    ENT_OK_(ent_mirror_position(&applied, NULL, m));
    CU_ASSERT_EQUAL(applied, last);
    {
        uint64_t problems = 1;
        ENT_OK_(ent_store_verify(&problems, m, NULL, NULL));
        CU_ASSERT_EQUAL(problems, 0);
    }
    a = show(p);
    b = show(m);
    CU_ASSERT_STRING_EQUAL(a, b);
    free(a);
    free(b);
    ent_store_close(m);
    ent_store_close(p);
    ent_schema_free(sc);
}

/* ---- the relay's backoff after losses ----------------------------------------------------------
 * A server that takes every connection and answers every publish with a 503: the relay's naps
 * before reconnecting (it names each in its line) double from 100 ms up to 2 s while no ack comes,
 * and start again at 100 ms once acks came. They were reset at every connect, so such a server got
 * a connect, a stream look-up and a resume every 100 ms for as long as it lasted. The naps are
 * read from the lines, not timed. */
static int naps[16], n_naps;
static void record_nap(const char *line, void *p)
{
    const char *in = strstr(line, "; reconnecting in ");
    (void)p;
    if (!strstr(line, "lost NATS") || !in) return;
    if (n_naps < 16) naps[n_naps] = atoi(in + strlen("; reconnecting in "));
    __atomic_add_fetch(&n_naps, 1, __ATOMIC_RELEASE);
}

static void test_relay_backoff(void)
{
    static const int want[] = {100, 200, 400, 800, 1600, 2000};
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_relay *r = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX];
    int i;
    so.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/backoff", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    add_item(p, "one");
    add_item(p, "two");
    ro.url = url;
    ro.stream = "BACKOFF";
    ro.log = record_nap;
    __atomic_store_n(&n_naps, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&answer_503, 1, __ATOMIC_RELEASE);
    ENT_OK_(ent_relay_start(&r, p, &ro));
    /* bounded waits, only to end a broken run */
    for (i = 0; i < 4000 && __atomic_load_n(&n_naps, __ATOMIC_ACQUIRE) < 6; i++) nap_ms(5);
    /* the publishes reach the stream: acked, and the relay waits caught up */
    __atomic_store_n(&answer_503, 0, __ATOMIC_RELEASE);
    for (i = 0; i < 4000 && ent_relay_acked(r) < 2; i++) nap_ms(5);
    CU_ASSERT_EQUAL(ent_relay_acked(r), 2);
    /* a loss after that naps 100 ms again */
    i = __atomic_load_n(&n_naps, __ATOMIC_ACQUIRE);
    __atomic_store_n(&answer_503, 1, __ATOMIC_RELEASE);
    add_item(p, "three");
    for (int k = 0; k < 4000 && __atomic_load_n(&n_naps, __ATOMIC_ACQUIRE) <= i; k++) nap_ms(5);
    __atomic_store_n(&answer_503, 0, __ATOMIC_RELEASE);
    ENT_OK_(ent_relay_stop(r));
    CU_ASSERT_FATAL(i >= 6 && i < 16);
    for (int k = 0; k < 6; k++) {
        if (naps[k] != want[k]) fprintf(stderr, "\n  nap %d: %d ms, expected %d\n", k, naps[k], want[k]);
        CU_ASSERT_EQUAL(naps[k], want[k]);
    }
    CU_ASSERT_EQUAL(naps[i], 100);
    ent_store_close(p);
    ent_schema_free(sc);
}

/* The mirror the same way: reads that fail straight after each connect. It reconnected without a
 * nap at all. */

static void test_mirror_backoff(void)
{
    static const int want[] = {100, 200, 400, 800, 1600, 2000};
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_follower *f = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT, mo = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX], mpath[ENT_TEST_PATH_MAX];
    int i;
    so.durability = ENT_NONE;
    mo.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/mbackoff", dir);
    ENT_TEST_PATH(mpath, "%s/mbackoff-mirror", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    add_item(p, "one");
    add_item(p, "two");
    ro.url = url;
    ro.stream = "MBACKOFF";
    ro.log = quiet;
    ro.once = 1;
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    fo.url = url;
    fo.stream = "MBACKOFF";
    fo.primary_id = ent_store_id(p);
    fo.store_opts = &mo;
    fo.on_event = count_mirror_ev;
    fo.log = record_nap;
    __atomic_store_n(&n_naps, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&mirror_seen, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&fail_reads, 1, __ATOMIC_RELEASE);
    ENT_OK_(ent_follow_start(&f, mpath, &fo));
    /* bounded waits, only to end a broken run */
    for (i = 0; i < 4000 && __atomic_load_n(&n_naps, __ATOMIC_ACQUIRE) < 6; i++) nap_ms(5);
    __atomic_store_n(&fail_reads, 0, __ATOMIC_RELEASE);
    for (i = 0; i < 4000 && __atomic_load_n(&mirror_seen, __ATOMIC_ACQUIRE) < 2; i++) nap_ms(5);
    CU_ASSERT_EQUAL(__atomic_load_n(&mirror_seen, __ATOMIC_ACQUIRE), 2);
    /* a lost read after that naps 100 ms again */
    i = __atomic_load_n(&n_naps, __ATOMIC_ACQUIRE);
    __atomic_store_n(&fail_reads, 1, __ATOMIC_RELEASE);
    for (int k = 0; k < 4000 && __atomic_load_n(&n_naps, __ATOMIC_ACQUIRE) <= i; k++) nap_ms(5);
    __atomic_store_n(&fail_reads, 0, __ATOMIC_RELEASE);
    ENT_OK_(ent_follow_stop(f));
    CU_ASSERT_FATAL(i >= 6 && i < 16);
    for (int k = 0; k < 6; k++) {
        if (naps[k] != want[k]) fprintf(stderr, "\n  mirror nap %d: %d ms, expected %d\n", k, naps[k], want[k]);
        CU_ASSERT_EQUAL(naps[k], want[k]);
    }
    CU_ASSERT_EQUAL(naps[i], 100);
    ent_store_close(p);
    ent_schema_free(sc);
}

/* ---- mirror --once whose reads keep failing ----------------------------------------------------
 * Each read failing straight after its connect: the mirror reconnected and read again for ever,
 * --once too (seen: stopped here after its 9th read). Once now fails after 5 lost reads in a row
 * with nothing applied between them, naming the error; the reads are counted, not timed. Without
 * the fault a run then applies the stream. */
static int mirror_once_stop;
typedef struct mirror_once_run {
    const char *path;
    const ent_follow_opts *fo;
    int rc, done;
    char msg[1024];
} mirror_once_run;

static void *run_mirror_once(void *p)
{
    mirror_once_run *o = p;
    o->rc = ent_follow_run(o->path, o->fo, &mirror_once_stop);
    snprintf(o->msg, sizeof o->msg, "%s", ent_errmsg());
    __atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_mirror_once_gives_up(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL, *m = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT, mo = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX], mpath[ENT_TEST_PATH_MAX];
    mirror_once_run o;
    pthread_t th;
    uint64_t first = 0, applied = 0;
    so.durability = ENT_NONE;
    mo.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/monce", dir);
    ENT_TEST_PATH(mpath, "%s/monce-mirror", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    add_item(p, "one");
    add_item(p, "two");
    ro.url = url;
    ro.stream = "MONCE";
    ro.log = quiet;
    ro.once = 1;
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    fo.url = url;
    fo.stream = "MONCE";
    fo.primary_id = ent_store_id(p);
    fo.store_opts = &mo;
    fo.log = quiet;
    fo.once = 1;
    memset(&o, 0, sizeof o);
    o.path = mpath;
    o.fo = &fo;
    __atomic_store_n(&failed_reads, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&fail_reads, 1, __ATOMIC_RELEASE);
    CU_ASSERT_FATAL(pthread_create(&th, NULL, run_mirror_once, &o) == 0);
    /* bounded, only to end a broken run: a mirror still reading after 9 failed reads is stopped */
    for (int i = 0; i < 12000 && !__atomic_load_n(&o.done, __ATOMIC_ACQUIRE) && __atomic_load_n(&failed_reads, __ATOMIC_ACQUIRE) < 9; i++)
        nap_ms(5);
    __atomic_store_n(&mirror_once_stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    __atomic_store_n(&fail_reads, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&mirror_once_stop, 0, __ATOMIC_RELEASE);
    if (o.rc != ENT_IO) fprintf(stderr, "\n  mirror --once: %d after %d failed reads: %s\n", o.rc, failed_reads, o.msg);
    CU_ASSERT_EQUAL(o.rc, ENT_IO);
    CU_ASSERT_EQUAL(__atomic_load_n(&failed_reads, __ATOMIC_ACQUIRE), 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "reading the stream"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, "5 tries in a row"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.msg, url));
    /* the reads work again: the stream is applied, from where the failed run left nothing */
    ENT_OK_(ent_follow_run(mpath, &fo, NULL));
    ENT_OK_(ent_store_open(&m, mpath, NULL, &mo));
    ENT_OK_(ent_log_bounds(&first, &applied, m, NULL));
    CU_ASSERT_EQUAL(applied, 2);
    ent_store_close(m);
    ent_store_close(p);
    ent_schema_free(sc);
}

/* ---- the cause of an ENT_FULL, through the relay and the mirror ----------------------------------
 * ent_errdetail() tells a full disk from an input too large. The relay and the mirror are built on
 * the public API and said their failures again with ent_error_set(), which sets no detail: a mirror
 * that ran out of disk reported ENT_DETAIL_NONE, and so did a relay whose stream was full or whose
 * message was over the stream's limit. Here: a stream at its max_msgs with the discard-new policy
 * (NO_SPACE), then with a max_msg_size below an event (TOO_LARGE), and a mirror whose store's
 * commit fails as on a full disk (the fault backend), run in the caller's thread and in its own
 * (the relay's thread hands its message over the same way). */
static void set_stream_limits(const char *stream, int64_t max_msgs, int32_t max_msg_size)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsStreamInfo *si = NULL, *si2 = NULL;
    jsErrCode jerr = 0;
    CU_ASSERT_FATAL(natsConnection_ConnectTo(&nc, url) == NATS_OK);
    CU_ASSERT_FATAL(natsConnection_JetStream(&js, nc, NULL) == NATS_OK);
    CU_ASSERT_FATAL(js_GetStreamInfo(&si, js, stream, NULL, &jerr) == NATS_OK);
    si->Config->MaxMsgs = max_msgs;
    si->Config->Discard = js_DiscardNew;
    si->Config->MaxMsgSize = max_msg_size;
    CU_ASSERT_FATAL(js_UpdateStream(&si2, js, si->Config, NULL, &jerr) == NATS_OK);
    jsStreamInfo_Destroy(si2);
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

static void test_error_details(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_follower *ft = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT, mo = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX], mpath[ENT_TEST_PATH_MAX], big[2048];
    int rc;
    so.durability = ENT_NONE;
    mo.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/detail", dir);
    ENT_TEST_PATH(mpath, "%s/detail-mirror", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    add_item(p, "one");
    ro.url = url;
    ro.stream = "DETAIL";
    ro.log = quiet;
    ro.once = 1;
    ENT_OK_(ent_relay_run(p, &ro, NULL)); /* makes the stream: a schema message and one event */

    /* the mirror: its store's next commit fails as a full disk's does */
    mo.backend = "fault:lmdb";
    fo.url = url;
    fo.stream = "DETAIL";
    fo.primary_id = ent_store_id(p);
    fo.store_opts = &mo;
    fo.log = quiet;
    fo.once = 1;
    ENT_OK_(ent_follow_run(mpath, &fo, NULL));
    add_item(p, "two");
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    ent__fault_reset();
    ent__fault_arm_named("txn_commit", 1, ENT_FULL);
    rc = ent_follow_run(mpath, &fo, NULL);
    CU_ASSERT_EQUAL(rc, ENT_FULL);
    CU_ASSERT_EQUAL(ent_errdetail(), ENT_DETAIL_NO_SPACE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "fault injected"));
    ent__fault_reset();
    ent__fault_arm_named("txn_commit", 1, ENT_FULL);
    ENT_OK_(ent_follow_start(&ft, mpath, &fo));
    /* once the commit failed, the run ends with it whatever the stop says (bounded: a broken run) */
    for (int i = 0; i < 2000 && !ent__fault_fired(); i++) nap_ms(5);
    rc = ent_follow_stop(ft);
    CU_ASSERT_EQUAL(rc, ENT_FULL);
    CU_ASSERT_EQUAL(ent_errdetail(), ENT_DETAIL_NO_SPACE);
    ent__fault_reset();
    ENT_OK_(ent_follow_run(mpath, &fo, NULL)); /* room again: the mirror catches up */

    /* the relay: the stream holds as many messages as it may (3: a schema message and two events) */
    set_stream_limits("DETAIL", 3, -1);
    add_item(p, "three");
    rc = ent_relay_run(p, &ro, NULL);
    CU_ASSERT_EQUAL(rc, ENT_FULL);
    CU_ASSERT_EQUAL(ent_errdetail(), ENT_DETAIL_NO_SPACE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "maximum messages"));

    /* room for messages, but not for an event this large */
    set_stream_limits("DETAIL", -1, 1024);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    add_item(p, big);
    rc = ent_relay_run(p, &ro, NULL);
    CU_ASSERT_EQUAL(rc, ENT_FULL);
    CU_ASSERT_EQUAL(ent_errdetail(), ENT_DETAIL_TOO_LARGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "max_msg_size"));
    ent_store_close(p);
    ent_schema_free(sc);
}

/* JetStream's storage limits, as nats-server answers a publish past them: the server's
 * max_file_store ("insufficient resources", err_code 10023) and an account's max_file ("resource
 * limits exceeded for account", 10002). Both are a lack of room (ENT_DETAIL_NO_SPACE); they were
 * NONE, when only 10047 (said to a stream's creation, never to a publish) counted. A server of
 * their own, on a port held as the suite's is. */
static void relay_until_refused(const char *u, const char *stream, const char *path, const char *words)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    char big[2048];
    int rc = ENT_OK;
    so.durability = ENT_NONE;
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    ro.url = u;
    ro.stream = stream;
    ro.log = quiet;
    ro.once = 1;
    /* (bounded: 64 events of 2 KiB are over either limit) */
    for (int i = 0; i < 64 && rc == ENT_OK; i++) {
        add_item(p, big);
        rc = ent_relay_run(p, &ro, NULL);
    }
    CU_ASSERT_EQUAL(rc, ENT_FULL);
    CU_ASSERT_EQUAL(ent_errdetail(), ENT_DETAIL_NO_SPACE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), words));
    if (!strstr(ent_errmsg(), words) || ent_errdetail() != ENT_DETAIL_NO_SPACE)
        fprintf(stderr, "\n  %s: %d detail %d: %s\n", stream, rc, ent_errdetail(), ent_errmsg());
    ent_store_close(p);
    ent_schema_free(sc);
}

static void test_error_details_storage_limits(void)
{
    char conf[ENT_TEST_PATH_MAX], sd[ENT_TEST_PATH_MAX], path[ENT_TEST_PATH_MAX], u[96], lport[16];
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int one = 1, hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), up = 0;
    pid_t srv;
    FILE *f;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_FATAL(hold >= 0 && !setsockopt(hold, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) &&
                    !bind(hold, (struct sockaddr *)&a, sizeof a) && !getsockname(hold, (struct sockaddr *)&a, &al));
    snprintf(lport, sizeof lport, "%d", ntohs(a.sin_port));
    ENT_TEST_PATH(conf, "%s/limits.conf", dir);
    ENT_TEST_PATH(sd, "%s/js-limits", dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(conf, "w"));
    fprintf(f, "listen: \"127.0.0.1:%s\"\njetstream { store_dir: \"%s\", max_file_store: 16384 }\n"
               "accounts { A { jetstream { max_file: 4096 }, users [ {user: a, password: a} ] },\n"
               "  B { jetstream: enabled, users [ {user: b, password: b} ] } }\n", lport, sd);
    fclose(f);
    if ((srv = fork()) == 0) {
        int dn = open("/dev/null", O_WRONLY);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(dn, 1);
        dup2(dn, 2);
        execlp("nats-server", "nats-server", "-c", conf, (char *)NULL);
        _exit(127);
    }
    snprintf(u, sizeof u, "nats://b:b@127.0.0.1:%s", lport);
    for (int i = 0; i < 1200 && !up; i++) { /* 30 s, as start_server() */
        natsConnection *nc = NULL;
        if (natsConnection_ConnectTo(&nc, u) == NATS_OK) {
            natsConnection_Destroy(nc);
            up = 1;
        } else {
            nap_ms(25);
        }
    }
    CU_ASSERT(up);
    if (up) {
        /* (the account's first: what it stores counts against the server's limit too) */
        snprintf(u, sizeof u, "nats://a:a@127.0.0.1:%s", lport);
        ENT_TEST_PATH(path, "%s/limit-account", dir);
        relay_until_refused(u, "ACCOUNTFULL", path, "resource limits exceeded for account");
        snprintf(u, sizeof u, "nats://b:b@127.0.0.1:%s", lport);
        ENT_TEST_PATH(path, "%s/limit-server", dir);
        relay_until_refused(u, "SERVERFULL", path, "insufficient resources");
    }
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    close(hold);
}

/* The classification itself, on nats-server 2.9.10's own answers (captured from a server with
 * each limit reached) and on err_code 10077's other descriptions: the store's failures that are
 * no lack of room (a store closed) were NO_SPACE, 10077 being taken for "maximum messages". */
static void test_refusal_details(void)
{
    static const struct {
        const char *ack, *desc;
        int detail;
    } cases[] = {
        {"{\"error\":{\"code\":503,\"err_code\":10077,\"description\":\"maximum bytes exceeded\"},\"stream\":\"B\",\"seq\":0}",
         "maximum bytes exceeded", ENT_DETAIL_NO_SPACE},
        {"{\"error\":{\"code\":503,\"err_code\":10077,\"description\":\"maximum messages exceeded\"},\"stream\":\"M\",\"seq\":0}",
         "maximum messages exceeded", ENT_DETAIL_NO_SPACE},
        {"{\"error\":{\"code\":503,\"err_code\":10077,\"description\":\"maximum messages per subject exceeded\"},\"stream\":\"P\","
         "\"seq\":0}", "maximum messages per subject exceeded", ENT_DETAIL_NO_SPACE},
        {"{\"error\":{\"code\":503,\"err_code\":10023,\"description\":\"insufficient resources\"},\"stream\":\"T\",\"seq\":0}",
         "insufficient resources", ENT_DETAIL_NO_SPACE},
        {"{\"error\":{\"code\":400,\"err_code\":10002,\"description\":\"resource limits exceeded for account\"},\"stream\":\"A\","
         "\"seq\":0}", "resource limits exceeded for account", ENT_DETAIL_NO_SPACE},
        {"{\"error\":{\"code\":400,\"err_code\":10054,\"description\":\"message size exceeds maximum allowed\"},\"stream\":\"S\","
         "\"seq\":0}", "message size exceeds maximum allowed", ENT_DETAIL_TOO_LARGE},
        {"{\"error\":{\"code\":503,\"err_code\":10077,\"description\":\"message too large\"},\"stream\":\"S\",\"seq\":0}",
         "message too large", ENT_DETAIL_TOO_LARGE},
        {"{\"error\":{\"code\":503,\"err_code\":10077,\"description\":\"store closed\"},\"stream\":\"C\",\"seq\":0}",
         "store closed", ENT_DETAIL_NONE},
        {"{\"error\":{\"code\":503,\"err_code\":10078,\"description\":\"something else\"},\"stream\":\"C\",\"seq\":0}",
         "something else", ENT_DETAIL_NONE},
        {"{\"error\":{\"code\":503,\"description\":\"no code\"}}", "no code", ENT_DETAIL_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int d = ent_nats__refusal_detail(cases[i].ack, strlen(cases[i].ack), cases[i].desc, strlen(cases[i].desc));
        CU_ASSERT_EQUAL(d, cases[i].detail);
        if (d != cases[i].detail) fprintf(stderr, "\n  %s: %d, not %d\n", cases[i].desc, d, cases[i].detail);
    }
}

/* ---- the relay publishes only what the store cannot lose ----------------------------------------
 * A commit is visible to readers (the relay) before its last sync returns, and a `lazy` or `none`
 * store syncs later or never: an event published then and lost from the store by a power cut
 * stayed in the stream, its seq used again for another. The relay syncs the store (ent_store_sync)
 * before it publishes events newer than the last sync it saw; a store whose sync fails gets
 * nothing published and the relay stops at once with the store's error (not taken for a lost
 * NATS, retried five times). The fault backend fails the sync, as a dying disk would. */
static void test_relay_syncs_before_publishing(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX];
    int ok = 0, rc;
    so.durability = ENT_NONE;
    so.backend = "fault:lmdb";
    ENT_TEST_PATH(path, "%s/rsync", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    add_item(p, "one");
    ro.url = url;
    ro.stream = "RSYNC";
    ro.log = quiet;
    ro.once = 1;
    ent__fault_reset();
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    CU_ASSERT(ent__fault_calls() > 0);
    CU_ASSERT_EQUAL(stream_events("RSYNC", ent_store_id(p), &ok), 1);
    add_item(p, "two");
    add_item(p, "three");
    ent__fault_reset();
    ent__fault_arm_named("sync", 1, ENT_IO);
    rc = ent_relay_run(p, &ro, NULL);
    CU_ASSERT_EQUAL(rc, ENT_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "syncing the store before publishing"));
    CU_ASSERT_EQUAL(ent__fault_fired(), 1);
    CU_ASSERT_EQUAL(stream_events("RSYNC", ent_store_id(p), &ok), 1); /* nothing it could lose */
    CU_ASSERT(ok);
    ent__fault_reset();
    ENT_OK_(ent_relay_run(p, &ro, NULL)); /* the disk is back: the rest goes out, once */
    CU_ASSERT_EQUAL(stream_events("RSYNC", ent_store_id(p), &ok), 3);
    CU_ASSERT(ok);
    ent_store_close(p);
    ent_schema_free(sc);
}

/* A memory store has no directory to lock: its handle is what a second relay is refused on. */
static void test_one_relay_memory(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay *r = NULL, *r2 = (ent_relay *)1;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    so.backend = "memory";
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&s, NULL, sc, &so));
    ro.url = url;
    ro.stream = "THMEM";
    ro.log = quiet;
    ENT_OK_(ent_relay_start(&r, s, &ro));
    CU_ASSERT_EQUAL(ent_relay_start(&r2, s, &ro), ENT_BUSY);
    CU_ASSERT_PTR_NULL(r2);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "(memory): a relay is already running on it in this process"));
    ENT_OK_(ent_relay_stop(r));
    ENT_OK_(ent_relay_start(&r, s, &ro)); /* released by the stop */
    ENT_OK_(ent_relay_stop(r));
    ent_store_close(s);
    ent_schema_free(sc);
}

/* ---- the host API misused ----------------------------------------------------------------------
 * NULL for each pointer argument, a negative window: ENT_INVALID naming the argument, before any
 * connection or thread (test_api_misuse.c does the same for the core library). */
static void test_api_misuse(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay *r = (ent_relay *)1;
    ent_follower *fw = (ent_follower *)1;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    static const volatile int stop = 1;
    char path[ENT_TEST_PATH_MAX];
    so.backend = "memory";
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&s, NULL, sc, &so));
    ENT_TEST_PATH(path, "%s/misuse-mirror", dir);
    ro.url = fo.url = url;
    ro.stream = fo.stream = "THMISUSE";
    ro.log = fo.log = quiet;
    ENT_CHECK_RC(ent_relay_run(NULL, &ro, &stop), ENT_INVALID);
    ENT_ASSERT_MSG("store is NULL");
    ENT_CHECK_RC(ent_relay_run(s, NULL, &stop), ENT_INVALID);
    ENT_ASSERT_MSG("opts is NULL");
    ENT_CHECK_RC(ent_relay_start(NULL, s, &ro), ENT_INVALID);
    ENT_ASSERT_MSG("out is NULL");
    ENT_CHECK_RC(ent_relay_start(&r, NULL, &ro), ENT_INVALID);
    ENT_ASSERT_MSG("store is NULL");
    ENT_CHECK_RC(ent_relay_start(&r, s, NULL), ENT_INVALID);
    ENT_ASSERT_MSG("opts is NULL");
    ro.window = -1; /* was taken as the default, 4096 */
    ENT_CHECK_RC(ent_relay_run(s, &ro, &stop), ENT_INVALID);
    ENT_ASSERT_MSG("window -1");
    ENT_OK_(ent_relay_stop(NULL));
    CU_ASSERT_EQUAL(ent_relay_acked(NULL), 0);
    ENT_CHECK_RC(ent_follow_run(NULL, &fo, &stop), ENT_INVALID);
    ENT_ASSERT_MSG("path is NULL");
    ENT_CHECK_RC(ent_follow_run(path, NULL, &stop), ENT_INVALID);
    ENT_ASSERT_MSG("opts is NULL");
    ENT_CHECK_RC(ent_follow_start(NULL, path, &fo), ENT_INVALID);
    ENT_ASSERT_MSG("out is NULL");
    ENT_CHECK_RC(ent_follow_start(&fw, NULL, &fo), ENT_INVALID);
    ENT_ASSERT_MSG("path is NULL");
    ENT_CHECK_RC(ent_follow_start(&fw, path, NULL), ENT_INVALID);
    ENT_ASSERT_MSG("opts is NULL");
    ENT_OK_(ent_follow_stop(NULL));
    /* options of a version this library does not know; version 1 (before auth) is still taken,
     * its auth not read (a host built against it passed a shorter struct) */
    ro.version = fo.version = 99;
    ENT_CHECK_RC(ent_relay_run(s, &ro, &stop), ENT_INVALID);
    ENT_ASSERT_MSG("options of version 99");
    ENT_CHECK_RC(ent_relay_start(&r, s, &ro), ENT_INVALID);
    ENT_ASSERT_MSG("options of version 99");
    ENT_CHECK_RC(ent_follow_run(path, &fo, &stop), ENT_INVALID);
    ENT_ASSERT_MSG("options of version 99");
    ENT_CHECK_RC(ent_follow_start(&fw, path, &fo), ENT_INVALID);
    ENT_ASSERT_MSG("options of version 99");
    ro.window = 0;
    ro.auth.tls_cert = fo.auth.tls_cert = "/nonexistent/client.pem"; /* without its key */
    ro.version = 1;
    ENT_OK_(ent_relay_run(s, &ro, &stop)); /* stopped at once: no server needed */
    ro.version = ENT_RELAY_OPTS_VERSION;
    ENT_CHECK_RC(ent_relay_run(s, &ro, &stop), ENT_INVALID);
    ENT_ASSERT_MSG("give --tlscert and --tlskey");
    ENT_CHECK_RC(ent_relay_start(&r, s, &ro), ENT_INVALID);
    ENT_ASSERT_MSG("give --tlscert and --tlskey");
    fo.version = ENT_FOLLOW_OPTS_VERSION;
    ENT_CHECK_RC(ent_follow_run(path, &fo, &stop), ENT_INVALID);
    ENT_ASSERT_MSG("give --tlscert and --tlskey");
    /* a file that cannot be read: ENT_IO naming it, before the mirror's directory is made */
    fo.auth.tls_cert = NULL;
    fo.auth.tls_ca = "/nonexistent/ca.pem";
    ENT_CHECK_RC(ent_follow_start(&fw, path, &fo), ENT_IO);
    ENT_ASSERT_MSG("--tlsca /nonexistent/ca.pem: No such file");
    ENT_CHECK_RC(ent_follow_run(path, &fo, &stop), ENT_IO);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    {
        ent_nats_auth a = ENT_NATS_AUTH_INIT;
        ENT_OK_(ent_nats_check_auth(url, NULL));
        ENT_OK_(ent_nats_check_auth(url, &a));
        a.nkey_seed = "/nonexistent/user.nk";
        a.creds = "/nonexistent/user.creds";
        ENT_CHECK_RC(ent_nats_check_auth(url, &a), ENT_INVALID);
        ENT_ASSERT_MSG("two ways to authenticate");
        a.creds = NULL;
        ENT_CHECK_RC(ent_nats_check_auth("nats://token@127.0.0.1:4222", &a), ENT_INVALID);
        ENT_ASSERT_MSG("give one way to authenticate");
        a.nkey_seed = NULL;
        a.tls_hostname = "localhost";
        ENT_CHECK_RC(ent_nats_check_auth("nats://127.0.0.1:4222", &a), ENT_INVALID);
        ENT_ASSERT_MSG("needs TLS");
        ENT_OK_(ent_nats_check_auth("tls://127.0.0.1:4222", &a));
    }
    {
        /* auth copied by the starts: the caller's strings changed right after (ASan: read after) */
        char host[32] = "localhost", tls_url[256];
        ent_relay_opts r2 = ENT_RELAY_OPTS_INIT;
        ent_follow_opts f2 = ENT_FOLLOW_OPTS_INIT;
        snprintf(tls_url, sizeof tls_url, "tls://%s", strstr(url, "://") ? strstr(url, "://") + 3 : url);
        r2.url = f2.url = tls_url; /* the test's server has no TLS: retried until the stop */
        r2.stream = f2.stream = "THMISUSE";
        r2.log = f2.log = quiet;
        r2.auth.tls_hostname = f2.auth.tls_hostname = host;
        ENT_OK_(ent_relay_start(&r, s, &r2));
        ENT_OK_(ent_follow_start(&fw, path, &f2));
        memset(host, 'x', sizeof host - 1);
        usleep(200 * 1000);
        ENT_OK_(ent_relay_stop(r));
        ENT_OK_(ent_follow_stop(fw));
        CU_ASSERT_EQUAL(access(path, F_OK), -1); /* the run made it and leaves none (nothing came) */
    }
    ent_store_close(s);
    ent_schema_free(sc);
}

/* ---- a server that fails the handshake -------------------------------------------------------
 * The connection's ack state is counted (nats_util.c): its owner, libnats's closed callback and the
 * ack subscription's completion callback hold a reference each. A connect that fails never gets
 * the closed callback (libnats closes such a connection without callbacks), so the reference taken
 * for it goes at once: kept, the state leaked (LeakSanitizer, the ASan run); released twice, a
 * callback would use freed memory. A fake server fails each step of the handshake that follows the
 * TCP connect: it closes at once, or says INFO and closes on CONNECT, or answers -ERR (an
 * authorization refused: ENT_INVALID, which no retry mends; the others ENT_IO). */
typedef struct fake {
    int lfd;
    int mode; /* 0: close at once; 1: INFO, then close; 2: INFO, then -ERR */
    int conns;
} fake;

static void *fake_server(void *p)
{
    fake *f = p;
    for (;;) {
        char buf[4096];
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0) break;
        f->conns++;
        if (f->mode >= 1) {
            static const char info[] = "INFO {\"server_id\":\"fake\",\"version\":\"2.9.10\",\"proto\":1,"
                                       "\"max_payload\":1048576,\"headers\":true}\r\n";
            if (write(fd, info, sizeof info - 1) < 0) {
            }
            if (read(fd, buf, sizeof buf) > 0 && f->mode == 2) {
                static const char err[] = "-ERR 'Authorization Violation'\r\n";
                if (write(fd, err, sizeof err - 1) < 0) {
                }
            }
        }
        close(fd);
    }
    return NULL;
}

static void test_handshake_failures(void)
{
    for (int mode = 0; mode < 3; mode++) {
        ent_schema *sc = NULL;
        ent_store *s = NULL;
        ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
        ent_store_opts so = ENT_STORE_OPTS_INIT;
        struct sockaddr_in a = {0};
        socklen_t al = sizeof a;
        fake f = {.mode = mode};
        pthread_t th;
        char furl[64];
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        f.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CU_ASSERT_FATAL(f.lfd >= 0 && bind(f.lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(f.lfd, 8) == 0 &&
                        getsockname(f.lfd, (struct sockaddr *)&a, &al) == 0);
        snprintf(furl, sizeof furl, "nats://127.0.0.1:%d", ntohs(a.sin_port));
        CU_ASSERT_FATAL(pthread_create(&th, NULL, fake_server, &f) == 0);
        so.backend = "memory";
        ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
        ENT_OK_(ent_store_open(&s, NULL, sc, &so));
        ro.url = furl;
        ro.stream = "THFAKE";
        ro.log = quiet;
        ro.once = 1;
        CU_ASSERT_EQUAL(ent_relay_run(s, &ro, NULL), mode == 2 ? ENT_INVALID : ENT_IO);
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), furl));
        if (mode == 2) CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "refused the URL's credentials"));
        shutdown(f.lfd, SHUT_RDWR);
        pthread_join(th, NULL);
        close(f.lfd);
        CU_ASSERT(f.conns >= 1);
        ent_store_close(s);
        ent_schema_free(sc);
    }
}

/* ---- the options a mirror thread was started with are its own -----------------------------------
 * ent_follow_start() copies opts "with its strings", but kept opts->store_opts as the caller's
 * pointer, read by the thread at every open of the mirror (its first schema message, each
 * evolution): a host that filled them on its stack, or changed them after the call, had the thread
 * open with whatever was there (here: garbage written over them after the start, so that the
 * mirror's open failed and nothing was applied; on a returned stack frame, anything). */
static int sopts_seen;
static void count_sopts_ev(const ent_event *ev, void *p)
{
    (void)ev;
    (void)p;
    __atomic_add_fetch(&sopts_seen, 1, __ATOMIC_RELEASE);
}

static void test_follow_copies_store_opts(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL, *m = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT, stored = ENT_STORE_OPTS_INIT, *mo = NULL;
    ent_follower *f = NULL;
    char path[ENT_TEST_PATH_MAX], mpath[ENT_TEST_PATH_MAX], backend[16] = "lmdb";
    uint64_t applied = 0;
    so.durability = ENT_NONE;
    ENT_TEST_PATH(path, "%s/sopts-primary", dir);
    ENT_TEST_PATH(mpath, "%s/sopts-mirror", dir);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, path, sc, &so));
    add_item(p, "one");
    add_item(p, "two");
    ro.url = url;
    ro.stream = "SOPTS";
    ro.log = quiet;
    ro.once = 1;
    ENT_OK_(ent_relay_run(p, &ro, NULL));
    CU_ASSERT_PTR_NOT_NULL_FATAL(mo = malloc(sizeof *mo));
    *mo = (ent_store_opts)ENT_STORE_OPTS_INIT;
    mo->backend = backend;
    mo->durability = ENT_NONE;
    fo.url = url;
    fo.stream = "SOPTS";
    fo.primary_id = ent_store_id(p);
    fo.store_opts = mo;
    fo.on_event = count_sopts_ev;
    fo.log = quiet;
    ENT_OK_(ent_follow_start(&f, mpath, &fo));
    /* the caller's copy, and the string it points to, are the caller's again */
    memset(mo, 0xa5, sizeof *mo);
    free(mo);
    strcpy(backend, "nosuch");
    /* (30 s: a bound on a thread that never applies; it ends with the second event) */
    for (int i = 0; i < 3000 && __atomic_load_n(&sopts_seen, __ATOMIC_ACQUIRE) < 2; i++) nap_ms(10);
    CU_ASSERT_EQUAL(__atomic_load_n(&sopts_seen, __ATOMIC_ACQUIRE), 2);
    ENT_OK_(ent_follow_stop(f));
    ENT_OK_(ent_store_open(&m, mpath, NULL, &stored));
    ENT_OK_(ent_mirror_position(&applied, NULL, m));
    CU_ASSERT_EQUAL(applied, 2);
    CU_ASSERT_STRING_EQUAL(ent_store_backend(m), "lmdb");
    CU_ASSERT_EQUAL(ent_store_durability(m), ENT_NONE); /* the mode given, stored at creation */
    ent_store_close(m);
    ent_store_close(p);
    ent_schema_free(sc);
}

/* A host that opened its stores by relative paths and then changed its directory: the relay and
 * the mirror look at the store at their path while nothing comes (a store replaced or removed
 * under them stops them, nats_streams case 12); read from the new directory, that path named no
 * store, and a relay would have stopped saying its store was removed. And the mirror opens its
 * store again at an evolution: by the relative path, under the new directory, it made a new
 * store there, and the next event was a gap. They go on, in their stores. */
static int chdir_seen;
static void count_chdir_ev(const ent_event *ev, void *p)
{
    (void)ev;
    (void)p;
    __atomic_add_fetch(&chdir_seen, 1, __ATOMIC_RELEASE);
}

static void test_relative_paths_after_chdir(void)
{
    ent_schema *sc = NULL;
    ent_store *p = NULL;
    ent_relay *r = NULL;
    ent_follower *f = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    static const char v2[] =
        "{\"schema\":\"th\",\"version\":2,\"types\":{\"item\":{\"key\":\"auto\",\"fields\":{"
        "\"name\":{\"id\":1,\"type\":\"string\",\"required\":true},\"n\":{\"id\":2,\"type\":\"int\",\"indexed\":true},"
        "\"attrs\":{\"id\":3,\"type\":\"map\"},\"tag\":{\"id\":4,\"type\":\"string\"}}}}}";
    ent_schema *sc2 = NULL;
    char cwd[ENT_TEST_PATH_MAX], path[ENT_TEST_PATH_MAX], elsewhere[ENT_TEST_PATH_MAX];
    int ok = 0, rc, rc2, made_here;
    uint64_t n = 0;
    so.durability = ENT_NONE;
    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
    CU_ASSERT_EQUAL_FATAL(chdir(dir), 0);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&p, "chdir-primary", sc, &so));
    add_item(p, "one");
    ro.url = url;
    ro.stream = "CHDIR";
    ro.log = quiet;
    fo.url = url;
    fo.stream = "CHDIR";
    fo.store_opts = &so;
    fo.on_event = count_chdir_ev;
    fo.log = quiet;
    ENT_OK_(ent_relay_start(&r, p, &ro));
    ENT_OK_(ent_follow_start(&f, "chdir-mirror", &fo));
    /* (30 s: a bound on threads that never get there) */
    for (int i = 0; i < 3000 && __atomic_load_n(&chdir_seen, __ATOMIC_ACQUIRE) < 1; i++) nap_ms(10);
    ENT_TEST_PATH(elsewhere, "%s/elsewhere", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(elsewhere, 0755), 0);
    CU_ASSERT_EQUAL_FATAL(chdir(elsewhere), 0);
    nap_ms(1000); /* idle: both look at their store's path several times */
    /* an evolution of the primary: the mirror opens its store again, by its path */
    rc = ent_relay_stop(r);
    r = NULL;
    CU_ASSERT_EQUAL(rc, ENT_OK);
    ent_store_close(p);
    p = NULL;
    ENT_OK_(ent_schema_load_json(&sc2, v2, strlen(v2), "th"));
    ENT_TEST_PATH(path, "%s/chdir-primary", dir);
    ENT_OK_(ent_store_open(&p, path, sc2, &so));
    ENT_OK_(ent_relay_start(&r, p, &ro));
    add_item(p, "two");
    add_item(p, "three");
    for (int i = 0; i < 3000 && (__atomic_load_n(&chdir_seen, __ATOMIC_ACQUIRE) < 3 || n < 3); i++) {
        n = stream_events("CHDIR", ent_store_id(p), &ok);
        nap_ms(10);
    }
    rc = ent_relay_stop(r);
    rc2 = ent_follow_stop(f);
    made_here = access("chdir-mirror", F_OK) == 0; /* the relative path under the new directory */
    CU_ASSERT_EQUAL(chdir(cwd), 0); /* (before any assertion that ends the test: the next ones) */
    CU_ASSERT(!made_here);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(__atomic_load_n(&chdir_seen, __ATOMIC_ACQUIRE), 3);
    CU_ASSERT_EQUAL(rc, ENT_OK);
    CU_ASSERT_EQUAL(rc2, ENT_OK);
    ent_store_close(p);
    ent_schema_free(sc);
    ent_schema_free(sc2);
}

/* A relay of a store opened by a relative path, the host then changing its directory, and the
 * store's data.mdb removed: the relay stops naming the store by the directory it reads, absolute
 * (it named the relative path, which under the host's new directory is another, or none). */
typedef struct moved_run {
    ent_store *s;
    ent_relay_opts o;
    volatile int stop;
    int rc;
    char msg[1024];
} moved_run;

static void *moved_relay(void *p)
{
    moved_run *m = p;
    m->rc = ent_relay_run(m->s, &m->o, &m->stop);
    snprintf(m->msg, sizeof m->msg, "%s", ent_errmsg());
    return NULL;
}

static void test_relay_moved_after_chdir(void)
{
    ent_schema *sc = NULL;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    moved_run m;
    pthread_t th;
    char cwd[ENT_TEST_PATH_MAX], data[ENT_TEST_PATH_MAX], abs[ENT_TEST_PATH_MAX], elsewhere[ENT_TEST_PATH_MAX];
    int ok = 0, gone, named;
    uint64_t n = 0;
    memset(&m, 0, sizeof m);
    so.durability = ENT_NONE;
    m.o = (ent_relay_opts)ENT_RELAY_OPTS_INIT;
    m.o.url = url;
    m.o.stream = "CHDIRMV";
    m.o.log = quiet;
    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
    CU_ASSERT_EQUAL_FATAL(chdir(dir), 0);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&m.s, "moved-primary", sc, &so));
    add_item(m.s, "one");
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, moved_relay, &m), 0);
    /* (30 s: a bound on a relay that never gets there) */
    for (int i = 0; i < 3000 && n < 1; i++) {
        n = stream_events("CHDIRMV", ent_store_id(m.s), &ok);
        if (n < 1) nap_ms(10);
    }
    ENT_TEST_PATH(elsewhere, "%s/elsewhere-mv", dir);
    ENT_TEST_PATH(abs, "%s/moved-primary", dir);
    ENT_TEST_PATH(data, "%s/moved-primary/data.mdb", dir);
    gone = mkdir(elsewhere, 0755) == 0 && chdir(elsewhere) == 0 && unlink(data) == 0;
    if (!gone) __atomic_store_n(&m.stop, 1, __ATOMIC_RELAXED);
    pthread_join(th, NULL); /* the relay, caught up, finds its data.mdb gone and stops */
    named = strstr(m.msg, abs) != NULL;
    CU_ASSERT_EQUAL(chdir(cwd), 0); /* (before any assertion that ends the test) */
    CU_ASSERT(gone);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(m.rc, ENT_NOTFOUND);
    if (!named) fprintf(stderr, "relay's message does not name %s: %s\n", abs, m.msg);
    CU_ASSERT(named);
    ent_store_close(m.s);
    ent_schema_free(sc);
}

/* A relay out of descriptors: libnats's socket() refused reads "No server available for
 * connection", and a user told the server was down looked there (`entity relay` at ulimit -n 12).
 * The message says the process cannot open a socket, and names the limit. */
static void test_relay_out_of_descriptors(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    ent_test_nofile nf;
    int rc;
    so.backend = "memory";
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th"));
    ENT_OK_(ent_store_open(&s, NULL, sc, &so));
    ro.url = url;
    ro.stream = "THNOFILE";
    ro.once = 1;
    ro.log = quiet;
    ent_test_nofile_begin(&nf);
    rc = ent_relay_run(s, &ro, NULL);
    ent_test_nofile_end(&nf);
    CU_ASSERT_EQUAL(rc, ENT_IO);
    if (!strstr(ent_errmsg(), "cannot open a socket: Too many open files") || !strstr(ent_errmsg(), "ulimit -n"))
        fprintf(stderr, "\n  relay out of descriptors: %s\n", ent_errmsg());
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "cannot open a socket: Too many open files"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "ulimit -n"));
    ent_store_close(s);
    ent_schema_free(sc);
}

/* Threads that cannot be made: a host under its user's limit of processes and threads
 * (RLIMIT_NPROC, ulimit -u). ent_relay_start() and ent_follow_start() return ENT_NOMEM naming why
 * and the limit (they said "cannot start the relay thread" alone), leave nothing claimed (a start
 * once the limit is raised is not ENT_BUSY) and the store usable. Run in a new process of this
 * test (a fork would carry libnats's threads' state): unprivileged, as root ignores the limit. */
static int thread_limit_child(const char *u)
{
    struct rlimit was, low;
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_relay *r = NULL;
    ent_follower *f = NULL;
    ent_relay_opts ro = ENT_RELAY_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    ent_entity *e = NULL;
    int bad = 0, rc;
    if (geteuid() == 0 && (setgroups(0, NULL) || setgid(65534) || setuid(65534))) return 3;
    so.backend = "memory";
    if (ent_schema_load_json(&sc, schema_json, strlen(schema_json), "th") || ent_store_open(&s, NULL, sc, &so)) return 4;
    ro.url = fo.url = u;
    ro.stream = fo.stream = "THNPROC";
    ro.log = fo.log = quiet;
    fo.store_opts = &so;
    if (getrlimit(RLIMIT_NPROC, &was)) return 5;
    low = was;
    low.rlim_cur = 1; /* this process counts already: no thread more */
    if (setrlimit(RLIMIT_NPROC, &low)) return 5;
    rc = ent_relay_start(&r, s, &ro);
    if (rc != ENT_NOMEM || !strstr(ent_errmsg(), "cannot start the relay thread") || !strstr(ent_errmsg(), "ulimit -u: 1"))
        fprintf(stderr, "\n  relay under ulimit -u 1: %d %s\n", rc, ent_errmsg()), bad = 1;
    rc = ent_follow_start(&f, "mem", &fo);
    if (rc != ENT_NOMEM || !strstr(ent_errmsg(), "cannot start the mirror thread") || !strstr(ent_errmsg(), "ulimit -u: 1"))
        fprintf(stderr, "\n  mirror under ulimit -u 1: %d %s\n", rc, ent_errmsg()), bad = 1;
    if (ent_entity_new(&e, ent_store_type(s, "item")) || ent_entity_set_string(e, "name", "x") || ent_create(s, NULL, e))
        fprintf(stderr, "\n  a write under ulimit -u 1: %s\n", ent_errmsg()), bad = 1;
    ent_entity_free(e);
    if (setrlimit(RLIMIT_NPROC, &was)) return 5;
    if ((rc = ent_relay_start(&r, s, &ro)) != ENT_OK) fprintf(stderr, "\n  relay after: %d %s\n", rc, ent_errmsg()), bad = 1;
    if ((rc = ent_follow_start(&f, "mem", &fo)) != ENT_OK) fprintf(stderr, "\n  mirror after: %d %s\n", rc, ent_errmsg()), bad = 1;
    ent_follow_stop(f);
    ent_relay_stop(r);
    ent_store_close(s);
    ent_schema_free(sc);
    nats_Close();
    return bad;
}

static void test_thread_limit(void)
{
    int st = -1;
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_nats_threads", "--thread-limit-child", url, (char *)NULL);
        _exit(127);
    }
    CU_ASSERT(waitpid(pid, &st, 0) == pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "\n  the child ended with status 0x%x\n", st);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
    static const ent_test_case cases[] = {ENT_TEST(test_threads), ENT_TEST(test_kinds_through_stream),
                                           ENT_TEST(test_one_relay_memory),
                                           ENT_TEST(test_stop_in_delivery),
                                           ENT_TEST(test_stop_in_ack_callback),
                                           ENT_TEST(test_stop_server_not_reading),
                                           ENT_TEST(test_handshake_failures), ENT_TEST(test_once_gives_up),
                                           ENT_TEST(test_relay_backoff), ENT_TEST(test_mirror_backoff),
                                           ENT_TEST(test_mirror_once_gives_up), ENT_TEST(test_mirror_stop_server_hung),
                                           ENT_TEST(test_relay_stop_server_hung), ENT_TEST(test_error_details),
                                           ENT_TEST(test_relay_syncs_before_publishing),
                                           ENT_TEST(test_error_details_storage_limits), ENT_TEST(test_refusal_details),
                                           ENT_TEST(test_api_misuse), ENT_TEST(test_deferred_refs_through_stream),
                                           ENT_TEST(test_follow_copies_store_opts),
                                           ENT_TEST(test_relative_paths_after_chdir),
                                           ENT_TEST(test_relay_moved_after_chdir),
                                           ENT_TEST(test_thread_limit), ENT_TEST(test_relay_out_of_descriptors),
                                           {NULL, NULL}};
    int rc;
    if (argc == 3 && !strcmp(argv[1], "--thread-limit-child")) return thread_limit_child(argv[2]);
    if (ent_test_mkdtemp(dir, sizeof dir, "nats-th") || start_server()) {
        fprintf(stderr, "test_nats_threads: cannot start nats-server\n");
        return 1;
    }
    {
        /* ENT_TEST_ONLY=name runs that case alone (while working on it) */
        const char *only = getenv("ENT_TEST_ONLY");
        static ent_test_case one[2];
        for (int i = 0; only && cases[i].name; i++)
            if (!strcmp(cases[i].name, only)) one[0] = cases[i];
        rc = ent_test_run("nats_threads", only && one[0].name ? one : cases);
    }
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    ent_test_rm_rf(dir);
    nats_Close();
    return rc;
}
