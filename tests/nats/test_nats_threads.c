/* The host API of libentity-nats: a relay thread and a mirror thread in one process
 * (ent_relay_start / ent_follow_start) against a real nats-server this test starts on a free port.
 * Writes while both run; after stop, the mirror's entities and log equal the primary's, its
 * in-process subscriber saw every event once, and both threads return ENT_OK, also across a
 * SIGKILL and restart of the server half way (both reconnect and resume). Also run under
 * -DENT_TSAN=ON. One relay per store: a second one (same handle, another handle of the directory,
 * a memory store's handle) is refused with ENT_BUSY. A scratch directory is made under /tmp. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <entity/nats.h>
#include <nats/nats.h>

#include "test_util.h"

static char dir[64], url[64], port[16];
static pid_t server;

static const char schema_json[] =
    "{\"schema\":\"th\",\"version\":1,\"types\":{\"item\":{\"key\":\"auto\",\"fields\":{"
    "\"name\":{\"id\":1,\"type\":\"string\",\"required\":true},\"n\":{\"id\":2,\"type\":\"int\",\"indexed\":true}}}}}";

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* On a free port the first time, then again on the same port and directory (a restart). */
static int start_server(void)
{
    char sd[128];
    if (!port[0]) {
        struct sockaddr_in a;
        socklen_t al = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &al)) return -1;
        snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
        close(fd);
    }
    snprintf(sd, sizeof sd, "%s/js", dir);
    snprintf(url, sizeof url, "nats://127.0.0.1:%s", port);
    if ((server = fork()) == 0) {
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 1);
        dup2(dn, 2);
        execlp("nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p", port, "-sd", sd, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
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
    ENT_OK_(ent_scan(&it, s, NULL, ent_store_type(s, "item"), NULL, NULL));
    while (ent_iter_next(&e, it) == ENT_OK) {
        ENT_OK_(ent_entity_to_json(&j, e, ENT_JSON_ENTITY));
        ADD(j);
        free(j);
        ent_entity_free(e);
    }
    ent_iter_free(it);
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
    char path[128], mpath[128], *a, *b;
    uint64_t last = 0, applied = 0;
    int i;
    so.durability = ENT_NONE;
    mo.durability = ENT_NONE;
    snprintf(path, sizeof path, "%s/primary", dir);
    snprintf(mpath, sizeof mpath, "%s/mirror", dir);
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

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_threads), ENT_TEST(test_one_relay_memory), {NULL, NULL}};
    int rc;
    char cmd[128];
    snprintf(dir, sizeof dir, "/tmp/ent_nats_th_XXXXXX");
    if (!mkdtemp(dir) || start_server()) {
        fprintf(stderr, "test_nats_threads: cannot start nats-server\n");
        return 1;
    }
    rc = ent_test_run("nats_threads", cases);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    nats_Close();
    return rc;
}
