/* entity-nats-bench: what the relay and mirrors cost, on this machine, against a nats-server it
 * starts itself (127.0.0.1, a free port, a temporary directory, file storage) unless --nats URL.
 *
 *  relay throughput: a store holding N events (creates, 1000 per transaction) is relayed to a
 *    fresh stream with ent_relay_run(once): events published and acknowledged per second. Floor:
 *    the same message bodies published by raw libnats js_PublishMsgAsync with the same window,
 *    waiting for the acks the same way, to the same kind of stream.
 *  lag: a writer commits one create per transaction at a steady rate while a relay thread and a
 *    mirror thread run in this process; each event's lag is the mirror's commit (seen by an
 *    in-process subscriber of the mirror store) minus the primary's event ts (same clock).
 *  --semisync (instead of the two above): what a writer pays for losing no acknowledged write to
 *    a failover. One thread creates one entity per transaction on a durable store for --seconds,
 *    with a relay thread running: without waiting, waiting after each commit with
 *    ent_relay_wait() (the relay in this process), and with ent_sub_wait() on the relay's
 *    checkpoint (the relay on a second handle of the store, as `entity relay` in another process
 *    would be): creates per second, each the median of --runs runs, the three modes alternating.
 * Every number is the median of --runs runs. Public API only (plus libnats for the floor).
 * A secured NATS (--nats URL with the options `entity relay` takes, parsed by its own parser): the
 * relay and mirrors use them; the raw floor, a plain libnats connection, is then not measured. */
#include "bench_util.h"
#include "nats_auth_arg.h"

#include <entity/entity.h>
#include <entity/nats.h>
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

static const char schema_json[] =
    "{\"schema\":\"bench\",\"version\":1,\"types\":{\"product\":{\"key\":\"string\",\"fields\":{"
    "\"ean\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "\"name\":{\"id\":2,\"type\":\"string\",\"required\":true},"
    "\"price\":{\"id\":3,\"type\":\"float\",\"min\":0,\"indexed\":true},"
    "\"stock\":{\"id\":4,\"type\":\"int\",\"indexed\":true},"
    "\"active\":{\"id\":5,\"type\":\"bool\"},"
    "\"tags\":{\"id\":6,\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}}}";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int64_t wall_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
    fprintf(stderr, "entity-nats-bench: %s: %s\n", what, ent_errmsg());
    exit(1);
}

static void quiet(const char *line, void *p)
{
    (void)line;
    (void)p;
}

/* The bench's directory, in $TMPDIR (else /tmp); paths in it are checked, never cut short. */
static char tmp[4096];
static ent_nats_auth auth = ENT_NATS_AUTH_INIT; /* --tlsca ... --creds: every relay's and mirror's */
static pid_t server = 0;
/* The server's port stays bound here (SO_REUSEADDR, never listening) while the server runs: no one
 * else's bind to port 0 gets it between the choice and the server's own bind, as happened when the
 * port was chosen, closed, then given to nats-server (two benches or test suites at once). */
static int port_hold = -1;

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        server = 0;
    }
    if (port_hold >= 0) close(port_hold);
    port_hold = -1;
    if (tmp[0]) ent_bench_rmrf(tmp);
}

/* snprintf that fails loudly instead of cutting a path short */
static void path_fmt(char *out, size_t n, const char *a, const char *b)
{
    int k = snprintf(out, n, "%s/%s", a, b);
    if (k < 0 || (size_t)k >= n) {
        fprintf(stderr, "entity-nats-bench: path too long: %s/%s\n", a, b);
        exit(1);
    }
}

static int start_server(char *url, size_t n)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port, one = 1;
    char ports[16], sd[sizeof tmp + 8];
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    port_hold = fd;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &al))
        return -1;
    port = ntohs(a.sin_port);
    snprintf(ports, sizeof ports, "%d", port);
    path_fmt(sd, sizeof sd, tmp, "js");
    server = fork();
    if (server == 0) {
        int dn = open("/dev/null", 1);
        dup2(dn, 1);
        dup2(dn, 2);
        execlp("nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p", ports, "-sd", sd, (char *)NULL);
        _exit(127);
    }
    snprintf(url, n, "nats://127.0.0.1:%d", port);
    /* up to 30 s (a refused connect returns at once; the first answer ends the wait): 5 s could be
     * a JetStream start on a machine others load, and CI's smoke run failed on it */
    for (int i = 0; i < 1200; i++) {
        natsConnection *nc = NULL;
        struct timespec ts = {0, 25000000};
        if (natsConnection_ConnectTo(&nc, url) == NATS_OK) {
            natsConnection_Destroy(nc);
            return 0;
        }
        nanosleep(&ts, NULL);
    }
    return -1;
}

static ent_schema *sc;

static void open_as(ent_store **s, const char *name, ent_durability d)
{
    char p[sizeof tmp + 64];
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.durability = d;
    path_fmt(p, sizeof p, tmp, name);
    if (ent_store_open(s, p, sc, &o)) die(p);
}

static void open_store(ent_store **s, const char *name) { open_as(s, name, ENT_NONE); }
static void open_durable(ent_store **s, const char *name) { open_as(s, name, ENT_DURABLE); }

static void fill(ent_store *s, uint64_t from, uint64_t n)
{
    const ent_type *t = ent_store_type(s, "product");
    for (uint64_t i = 0; i < n;) {
        ent_txn *x;
        if (ent_txn_begin(&x, s, ENT_TXN_WRITE)) die("begin");
        for (uint64_t j = 0; j < 1000 && i < n; j++, i++) {
            ent_entity *e;
            char k[32], ean[32];
            snprintf(k, sizeof k, "p%llu", (unsigned long long)(from + i));
            snprintf(ean, sizeof ean, "%013llu", (unsigned long long)(from + i));
            ent_entity_new(&e, t);
            ent_entity_set_key(e, &(ent_key){ENT_KEY_STRING, 0, k, strlen(k)});
            ent_entity_set_string(e, "ean", ean);
            ent_entity_set_string(e, "name", "a product of some length");
            ent_entity_set_float(e, "price", (double)(i % 1000) / 10);
            ent_entity_set_int(e, "stock", (int64_t)(i % 50));
            ent_entity_set_bool(e, "active", 1);
            if (ent_create(s, x, e)) die("create");
            ent_entity_free(e);
        }
        if (ent_txn_commit(x)) die("commit");
    }
}

/* Raw libnats: the same bodies to a new stream, same window, acks awaited per window. */
static double floor_run(const char *url, const char *stream, char **bodies, size_t n, int window)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    jsPubOptions po;
    char subj[64];
    const char *subjects[1] = {subj};
    double t0;
    snprintf(subj, sizeof subj, "floor.%s.>", stream);
    if (natsConnection_ConnectTo(&nc, url) != NATS_OK) die("floor connect");
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = window;
    natsConnection_JetStream(&js, nc, &jo);
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    if (js_AddStream(&si, js, &cfg, NULL, NULL) != NATS_OK) die("floor stream");
    jsStreamInfo_Destroy(si);
    snprintf(subj, sizeof subj, "floor.%s.product.create", stream);
    jsPubOptions_Init(&po);
    po.MaxWait = 30000;
    t0 = now_s();
    for (size_t i = 0; i < n;) {
        for (int w = 0; w < window && i < n; w++, i++) {
            natsMsg *m = NULL;
            char id[32], seq[24];
            snprintf(id, sizeof id, "x:%zu", i + 1);
            snprintf(seq, sizeof seq, "%zu", i + 1);
            natsMsg_Create(&m, subj, NULL, bodies[i], (int)strlen(bodies[i]));
            natsMsgHeader_Set(m, "Nats-Msg-Id", id);
            natsMsgHeader_Set(m, "Entity-Seq", seq);
            if (js_PublishMsgAsync(js, &m, NULL) != NATS_OK) die("floor publish");
            natsMsg_Destroy(m);
        }
        if (js_PublishAsyncComplete(js, &po) != NATS_OK) die("floor acks");
    }
    t0 = now_s() - t0;
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return (double)n / t0;
}

typedef struct lagrec {
    pthread_mutex_t mu;
    double *v;
    size_t n, cap;
} lagrec;

static void on_mirror_event(const ent_event *ev, void *p)
{
    lagrec *l = p;
    double lag = (double)(wall_ns() - ev->ts) / 1e6;
    pthread_mutex_lock(&l->mu);
    if (l->n < l->cap) l->v[l->n++] = lag;
    pthread_mutex_unlock(&l->mu);
}

/* --semisync: creates/s of one thread for secs seconds; mode 0 no wait, 1 ent_relay_wait after
 * each commit, 2 ent_sub_wait on the relay's checkpoint (relay on a second handle). */
static double semisync_run(const char *url, int mode, int run, int secs)
{
    ent_store *s, *rs = NULL;
    ent_relay *rl;
    ent_relay_opts o = ENT_RELAY_OPTS_INIT;
    char name[32], stream[32];
    uint64_t n = 0, last = 0;
    double t0, el;
    snprintf(name, sizeof name, "ss%d_%d", mode, run);
    snprintf(stream, sizeof stream, "SS%d_%d", mode, run);
    open_durable(&s, name);
    if (mode == 2) open_durable(&rs, name);
    fill(s, 0, 1); /* the schema message and a first event before the clock runs */
    o.url = url;
    o.stream = stream;
    o.log = quiet;
    o.auth = auth;
    if (ent_relay_start(&rl, rs ? rs : s, &o)) die("relay");
    if (ent_relay_wait(rl, 1, 30000)) die("relay's first ack");
    if (mode == 2 && ent_sub_wait(NULL, s, "relay", 1, 30000)) die("relay's first checkpoint");
    t0 = now_s();
    while ((el = now_s() - t0) < secs) {
        fill(s, 1 + n, 1);
        n++;
        if (mode && ent_log_bounds(NULL, &last, s, NULL)) die("bounds");
        if (mode == 1 && ent_relay_wait(rl, last, 30000)) die("ent_relay_wait");
        if (mode == 2 && ent_sub_wait(NULL, s, "relay", last, 30000)) die("ent_sub_wait");
    }
    if (ent_relay_stop(rl)) die("relay");
    ent_store_close(s);
    ent_store_close(rs);
    return (double)n / el;
}

int main(int argc, char **argv)
{
    const char *url_arg = NULL;
    char url[128];
    uint64_t n = 200000;
    int runs = 3, rate = 2000, secs = 3, window = 4096, semisync = 0;
    double thr[16], flo[16], p50[16], p99[16];
    static const char usage[] = "usage: entity-nats-bench [--nats URL " ENT_TOOL_NATS_AUTH_USAGE "] [--n EVENTS] [--runs R] "
                                "[--rate TXN/S] [--seconds S] [--quick] [--semisync]\n";
    for (int i = 1; i < argc; i++) /* the usage on stdout, exit 0 (it was wrong usage, exit 2) */
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return fputs(usage, stdout) == EOF || fflush(stdout) ? 1 : 0;
    for (int i = 1; i < argc; i++) {
        /* numbers strictly (bench_util.c), each in its range: atoi() took "x" as 0, "5x" as 5 and
         * wrapped past 2^31, strtoull() took "-1" as 2^64 - 1; and each valued option once, as the
         * entity tool and entity-bench take them (the last one won) */
        static const struct {
            const char *opt;
            unsigned long long min, max;
        } nums[] = {{"--n", 1, 1000000000ULL}, {"--runs", 1, 15}, {"--rate", 1, 1000000}, {"--seconds", 1, 3600}};
        size_t k = 0;
        unsigned long long v = 0;
        char why[128];
        int a = ent_tool_nats_auth_arg(&auth, argc, argv, &i, why, sizeof why);
        if (a < 0) return fprintf(stderr, "entity-nats-bench: %s\n%s", why, usage), 2;
        if (a) continue;
        while (k < sizeof nums / sizeof nums[0] && strcmp(argv[i], nums[k].opt)) k++;
        if ((k < sizeof nums / sizeof nums[0] || !strcmp(argv[i], "--nats")) && i + 1 < argc) {
            for (int j = 1; j < i; j++)
                if (!strcmp(argv[j], argv[i])) {
                    fprintf(stderr, "entity-nats-bench: %s given twice: give it once\n%s", argv[i], usage);
                    return 2;
                }
        }
        if (!strcmp(argv[i], "--nats") && i + 1 < argc) url_arg = argv[++i];
        else if (k < sizeof nums / sizeof nums[0] && i + 1 < argc) {
            if (ent_bench_number_arg(&v, argv[i + 1], nums[k].min, nums[k].max, "entity-nats-bench", argv[i]))
                return fputs(usage, stderr), 2;
            i++;
            if (k == 0) n = v;
            else if (k == 1) runs = (int)v;
            else if (k == 2) rate = (int)v;
            else secs = (int)v;
        } else if (!strcmp(argv[i], "--quick")) n = 20000, runs = 1, secs = 1;
        else if (!strcmp(argv[i], "--semisync")) semisync = 1;
        else {
            fprintf(stderr, "entity-nats-bench: %s %s\n%s", argv[i][0] == '-' ? "unknown option or one without its value:" : "unexpected word", argv[i], usage);
            return 2;
        }
    }
    /* as `entity relay` checks them, before anything is made or connected: options that do not
     * go together are wrong usage (2), a file that cannot be used exits 1 naming it */
    if (ent_tool_nats_auth_any(&auth) && !url_arg)
        return fprintf(stderr, "entity-nats-bench: the TLS and credentials options need --nats URL (the nats-server the "
                               "bench starts itself takes none)\n%s", usage), 2;
    if (url_arg && ent_nats_check(url_arg, NULL, NULL))
        return fprintf(stderr, "entity-nats-bench: %s\n%s", ent_errmsg(), usage), 2;
    {
        int rc = ent_nats_check_auth(url_arg, &auth);
        if (rc) return fprintf(stderr, "entity-nats-bench: %s\n", ent_errmsg()), rc == ENT_INVALID ? 2 : 1;
    }
    {
        const char *td = getenv("TMPDIR");
        int k = snprintf(tmp, sizeof tmp, "%s/entity-nats-bench.XXXXXX", td && *td ? td : "/tmp");
        if (k < 0 || (size_t)k >= sizeof tmp) return fprintf(stderr, "entity-nats-bench: TMPDIR too long\n"), 1;
    }
    if (!mkdtemp(tmp)) return perror(tmp), 1;
    atexit(stop_server);
    if (url_arg) snprintf(url, sizeof url, "%s", url_arg);
    else if (start_server(url, sizeof url)) {
        fprintf(stderr, "entity-nats-bench: cannot start nats-server (is it installed?)\n");
        return 1;
    }
    if (ent_schema_load_json(&sc, schema_json, strlen(schema_json), "bench")) die("schema");
    if (semisync) {
        double v[3][16];
        static const char *what[3] = {"no wait", "ent_relay_wait after each commit",
                                      "ent_sub_wait(\"relay\") after each commit"};
        for (int r = 0; r < runs; r++) /* the modes alternate: a load that comes and goes hits each alike */
            for (int m = 0; m < 3; m++) v[m][r] = semisync_run(url, m, r, secs);
        printf("entity-nats-bench --semisync — one thread, one create per txn, durable lmdb store, a relay thread to "
               "nats-server on 127.0.0.1, %d s per run, medians of %d runs\n", secs, runs);
        for (int m = 0; m < 3; m++) {
            printf("%-40s %8.0f creates/s   runs:", what[m], median(v[m], runs));
            for (int r = 0; r < runs; r++) printf(" %.0f", v[m][r]);
            printf("\n");
        }
        ent_schema_free(sc);
        nats_Close();
        return 0;
    }

    for (int r = 0; r < runs; r++) {
        ent_store *s;
        ent_relay_opts o = ENT_RELAY_OPTS_INIT;
        char name[32], stream[32];
        char **bodies;
        ent_log_cursor *c;
        ent_event *ev;
        size_t nb = 0;
        double t0;
        snprintf(name, sizeof name, "thr%d", r);
        open_store(&s, name);
        fill(s, 0, n);
        snprintf(stream, sizeof stream, "THR%d", r);
        o.url = url;
        o.stream = stream;
        o.once = 1;
        o.window = window;
        o.log = quiet;
        o.auth = auth;
        t0 = now_s();
        if (ent_relay_run(s, &o, NULL)) die("relay");
        thr[r] = (double)n / (now_s() - t0);
        /* the floor publishes the very bodies the relay sent */
        bodies = calloc(n, sizeof *bodies);
        if (ent_log_cursor_open(&c, s, 1, NULL, 0)) die("cursor");
        while (nb < n && ent_log_next(&ev, c) == ENT_OK) {
            ent_event_to_json(&bodies[nb++], ev, 0);
            ent_event_free(ev);
        }
        ent_log_cursor_free(c);
        snprintf(stream, sizeof stream, "FLOOR%d", r);
        flo[r] = ent_tool_nats_auth_any(&auth) ? 0 : floor_run(url, stream, bodies, nb, window);
        for (size_t i = 0; i < nb; i++) free(bodies[i]);
        free(bodies);
        ent_store_close(s);
    }

    for (int r = 0; r < runs; r++) {
        ent_store *s;
        ent_relay *rl;
        ent_follower *fl;
        ent_relay_opts o = ENT_RELAY_OPTS_INIT;
        ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
        ent_store_opts mopts = ENT_STORE_OPTS_INIT;
        lagrec l;
        char name[32], mname[32], stream[32], mpath[sizeof tmp + 64];
        uint64_t total = (uint64_t)rate * (uint64_t)secs, skip = total / 10;
        double t0;
        snprintf(name, sizeof name, "lag%d", r);
        open_store(&s, name);
        snprintf(stream, sizeof stream, "LAG%d", r);
        snprintf(mname, sizeof mname, "lagm%d", r);
        path_fmt(mpath, sizeof mpath, tmp, mname);
        mopts.durability = ENT_NONE;
        fill(s, 0, 1); /* the stream's schema message and a first event, before the clock runs */
        memset(&l, 0, sizeof l);
        pthread_mutex_init(&l.mu, NULL);
        l.cap = total + 16;
        l.v = calloc(l.cap, sizeof *l.v);
        o.url = url;
        o.stream = stream;
        o.log = quiet;
        fo.url = url;
        fo.stream = stream;
        fo.primary_id = ent_store_id(s);
        fo.on_event = on_mirror_event;
        fo.event_payload = &l;
        fo.log = quiet;
        fo.auth = auth;
        o.auth = auth;
        fo.store_opts = &mopts; /* the primary's durability (none): the lag is the pipeline's, not fsync's */
        if (ent_relay_start(&rl, s, &o) || ent_follow_start(&fl, mpath, &fo)) die("start");
        {
            struct timespec ts = {0, 500000000};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&l.mu);
        l.n = 0; /* the warm-up event */
        pthread_mutex_unlock(&l.mu);
        t0 = now_s();
        for (uint64_t i = 0; i < total; i++) {
            double due = t0 + (double)i / rate, d;
            while ((d = due - now_s()) > 0) {
                struct timespec ts = {0, (long)(d * 1e9)};
                nanosleep(&ts, NULL);
            }
            fill(s, 1 + i, 1);
        }
        for (int w = 0; w < 100; w++) { /* let the mirror finish */
            struct timespec ts = {0, 20000000};
            size_t got;
            pthread_mutex_lock(&l.mu);
            got = l.n;
            pthread_mutex_unlock(&l.mu);
            if (got >= total) break;
            nanosleep(&ts, NULL);
        }
        if (ent_relay_stop(rl)) die("relay");
        if (ent_follow_stop(fl)) die("mirror");
        if (l.n < total) {
            fprintf(stderr, "entity-nats-bench: the mirror applied %zu of %llu events\n", l.n, (unsigned long long)total);
            return 1;
        }
        /* the first tenth is warm-up */
        p50[r] = median(l.v + skip, (int)(l.n - skip));
        qsort(l.v + skip, l.n - skip, sizeof *l.v, cmp_d);
        p99[r] = l.v[skip + (size_t)((double)(l.n - skip - 1) * 0.99)];
        free(l.v);
        pthread_mutex_destroy(&l.mu);
        ent_store_close(s);
    }
    {
        double t = median(thr, runs), f = median(flo, runs);
        printf("entity-nats-bench — nats-server file storage on 127.0.0.1, window %d, medians of %d runs\n", window, runs);
        printf("relay throughput   %9.0f events/s published+acked (%llu events, 1000 per txn)\n", t, (unsigned long long)n);
        if (ent_tool_nats_auth_any(&auth))
            printf("raw libnats floor  not measured (a secured NATS: the floor's plain connection takes no TLS or credentials)\n");
        else
            printf("raw libnats floor  %9.0f msgs/s (same bodies and window)   ratio %.2f\n", f, f / t);
        printf("commit->mirror lag p50 %.2f ms  p99 %.2f ms  (%d txn/s of one create for %d s)\n", median(p50, runs),
               median(p99, runs), rate, secs);
    }
    ent_schema_free(sc);
    nats_Close();
    return 0;
}
