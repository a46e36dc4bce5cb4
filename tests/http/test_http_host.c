/* entity-http as a host uses it: ent_http_start() on the host's own store (here the memory
 * backend, which the tool never serves), requests over a plain socket, a stream that sees the
 * host's own ent_create() calls, the refusals of bad options, and a stop with a stream open. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <limits.h>
#include <locale.h>
#include <fcntl.h>
#include <ctype.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <entity/http.h>

#include "test_util.h"

/* Sends of libmicrohttpd's threads slowed down while set (this program's send() and sendmsg()
 * come before libc's): the window in which a stop may cut what a stream thread writes last. */
static int slow_sends;

/* The wall clock the library and the server read (their CLOCK_REALTIME calls: the binary is
 * linked with -Wl,--wrap=clock_gettime, entity-http and libentity statically), moved by this many
 * seconds; the kernel's clock, which pthread_cond_timedwait() compares deadlines with, does not
 * move. +3600 is a step back by an hour just after each deadline was computed. */
static volatile time_t wall_offset_s;

int __real_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
    int rc = __real_clock_gettime(clk, ts);
    if (rc == 0 && clk == CLOCK_REALTIME) ts->tv_sec += wall_offset_s;
    return rc;
}

/* The follower's waits for the log (the binary is linked with -Wl,--wrap=ent_log_wait): the
 * longest timeout one asked for, and how many there were. Nothing ends such a wait but a commit or
 * its timeout, and a stop joins the follower: that timeout is how late a stop can be. */
static int wait_max_ms, wait_calls;

int __real_ent_log_wait(uint64_t *out_last, ent_store *s, uint64_t after_seq, int timeout_ms);
int __wrap_ent_log_wait(uint64_t *out_last, ent_store *s, uint64_t after_seq, int timeout_ms);
int __wrap_ent_log_wait(uint64_t *out_last, ent_store *s, uint64_t after_seq, int timeout_ms)
{
    int had = __atomic_load_n(&wait_max_ms, __ATOMIC_RELAXED);
    /* a negative timeout waits forever: the longest of all */
    int want = timeout_ms < 0 ? __INT_MAX__ : timeout_ms;
    while (want > had && !__atomic_compare_exchange_n(&wait_max_ms, &had, want, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    __atomic_add_fetch(&wait_calls, 1, __ATOMIC_RELEASE);
    return __real_ent_log_wait(out_last, s, after_seq, timeout_ms);
}

/* strdup() of the library and the server (-Wl,--wrap=strdup): the one numbered fail_strdup_at
 * from when it is set fails (the counter is the test's thread's own: the server's threads are
 * not armed). */
static _Thread_local int fail_strdup_at, strdup_count;

char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);
char *__wrap_strdup(const char *s)
{
    if (fail_strdup_at && ++strdup_count == fail_strdup_at) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strdup(s);
}

static void *real_fn(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "test_http_host: no %s after this program: %s\n", name, dlerror());
        abort();
    }
    return f;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    ssize_t (*real)(int, const void *, size_t, int);
    void *f = real_fn("send");
    memcpy(&real, &f, sizeof real);
    if (__atomic_load_n(&slow_sends, __ATOMIC_ACQUIRE)) usleep(400 * 1000); /* longer than the stop's own steps (the follower's wait: 50 ms) */
    return real(fd, buf, len, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    ssize_t (*real)(int, const struct msghdr *, int);
    void *f = real_fn("sendmsg");
    memcpy(&real, &f, sizeof real);
    if (__atomic_load_n(&slow_sends, __ATOMIC_ACQUIRE)) usleep(400 * 1000); /* longer than the stop's own steps (the follower's wait: 50 ms) */
    return real(fd, msg, flags);
}

/* pthread_create() of the library and the server (this program's comes before libc's): the one
 * numbered fail_thread_at on the calling thread fails with EAGAIN, as under ulimit -u. */
static _Thread_local int fail_thread_at, thread_count;

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    void *f = real_fn("pthread_create");
    memcpy(&real, &f, sizeof real);
    if (fail_thread_at && ++thread_count == fail_thread_at) return EAGAIN;
    return real(t, a, fn, arg);
}

static ent_store *open_memory(ent_schema **sc)
{
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = "memory";
    if (ent_schema_load_file(sc, ENT_SOURCE_DIR "/schemas/shop.json") != ENT_OK) return NULL;
    if (ent_store_open(&s, "", *sc, &o) != ENT_OK) return NULL;
    return s;
}

static int connect_to(unsigned port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* Read from fd into buf (NUL-terminated) until `until` appears in it, the peer closes, or 10 s
 * pass (a bound on a hang, not a timing check). Returns the bytes read. */
static size_t read_until(int fd, char *buf, size_t size, const char *until)
{
    size_t n = 0;
    time_t end = time(NULL) + 10;
    buf[0] = '\0';
    while (n + 1 < size && time(NULL) < end && !(until && strstr(buf, until))) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t got;
        if (poll(&p, 1, 200) <= 0) continue;
        got = read(fd, buf + n, size - 1 - n);
        if (got <= 0) break;
        n += (size_t)got;
        buf[n] = '\0';
    }
    return n;
}

/* One request on a fresh connection (HTTP/1.0: the server closes after the answer). */
static int request(char *out, size_t size, unsigned port, const char *method, const char *path, const char *body)
{
    char req[1024];
    int fd = connect_to(port), len;
    if (fd < 0) return -1;
    len = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nContent-Length: %zu\r\n\r\n%s", method, path,
                   body ? strlen(body) : 0, body ? body : "");
    if (write(fd, req, (size_t)len) != len) {
        close(fd);
        return -1;
    }
    read_until(fd, out, size, NULL);
    close(fd);
    return atoi(strchr(out, ' ') ? strchr(out, ' ') + 1 : "0");
}

static void test_serve_memory_store(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char buf[8192];
    int fd;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    o.heartbeat_ms = 200;
    ENT_OK_(ent_http_start(&h, s, &o));
    CU_ASSERT(ent_http_port(h) > 0);

    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "POST", "/api/customer", "{\"email\":\"a@x\",\"name\":\"A\"}"), 201);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"key\":1,\"version\":1"));
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "GET", "/api/customer/1", NULL), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "ETag: \"1-")); /* "VERSION-HASH" */
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "GET", "/api/stat", NULL), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"backend\":\"memory\""));

    /* a stream from seq 1 sees the API's create, then the host's own create and a heartbeat */
    fd = connect_to(ent_http_port(h));
    CU_ASSERT_FATAL(fd >= 0);
    {
        const char r[] = "GET /api/events/stream?from=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        CU_ASSERT_EQUAL(write(fd, r, sizeof r - 1), (ssize_t)(sizeof r - 1));
    }
    read_until(fd, buf, sizeof buf, "id: 1\n");
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "text/event-stream"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "id: 1\nevent: create\ndata: {\"seq\":1,"));
    {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, ent_store_type(s, "customer")));
        ENT_OK_(ent_entity_set_string(e, "email", "b@x"));
        ENT_OK_(ent_entity_set_string(e, "name", "B"));
        ENT_OK_(ent_create(s, NULL, e));
        ent_entity_free(e);
    }
    read_until(fd, buf, sizeof buf, ": heartbeat");
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "id: 2\nevent: create\ndata: {\"seq\":2,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"email\":\"b@x\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, ": heartbeat"));

    /* stop with the stream open: it gets the end of its response (the last chunk), then EOF */
    ent_http_stop(h);
    read_until(fd, buf, sizeof buf, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "0\r\n\r\n"));
    close(fd);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* /api/stat of a mirror says whose and how far, as `entity stat` does (it said neither) */
static void test_stat_of_a_mirror(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char buf[8192];
    so.backend = "memory";
    ENT_OK_(ent_schema_load_file(&sc, ENT_SOURCE_DIR "/schemas/shop.json"));
    ENT_OK_(ent_mirror_open(&s, "", "5d1e7a52-0000-4000-8000-000000000001", sc, &so));
    o.listen = "127.0.0.1:0";
    ENT_OK_(ent_http_start(&h, s, &o));
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "GET", "/api/stat", NULL), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"mirror_of\":{\"primary\":\"5d1e7a52-0000-4000-8000-000000000001\",\"applied_seq\":0}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"id\":\""));
    /* the mirror takes no write: the server says it is read-only, and its 405s carry the Allow
     * header HTTP requires of them (they had none, and stat said "read_only":false) */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"read_only\":true"));
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "POST", "/api/customer", "{\"email\":\"a@x\",\"name\":\"A\"}"), 405);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Allow: GET, HEAD\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "is a mirror of store 5d1e7a52-0000-4000-8000-000000000001"));
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
}

static void log_to(const char *line, void *payload)
{
    snprintf(payload, 256, "%s", line);
}

static void test_refusals(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL, *h2 = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char why[256] = "";
    char addr[64];
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.log = log_to;
    o.log_payload = why;
    /* each refusal also says why in ent_errmsg(), as every call of the library does (it was
     * empty: a host without a log callback got ENT_INVALID or ENT_IO and no reason) */
    CU_ASSERT_EQUAL(ent_http_start(&h, NULL, &o), ENT_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "ent_http_start"));
    CU_ASSERT_EQUAL(ent_http_start(NULL, s, &o), ENT_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "ent_http_start"));
    o.listen = "localhost";
    CU_ASSERT_EQUAL(ent_http_start(&h, s, &o), ENT_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "ADDR:PORT"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "\"localhost\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "ADDR:PORT"));
    o.listen = "127.0.0.1:65536";
    CU_ASSERT_EQUAL(ent_http_start(&h, s, &o), ENT_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "127.0.0.1:65536"));
    o.listen = "127.0.0.1:0";
    o.token = "";
    CU_ASSERT_EQUAL(ent_http_start(&h, s, &o), ENT_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "token"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "token"));
    o.token = NULL;
    o.version = 99;
    CU_ASSERT_EQUAL(ent_http_start(&h, s, &o), ENT_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "version"));
    CU_ASSERT_PTR_NULL(h);
    /* a host built against version 1 of the options (before allow_hosts and
     * request_timeout_ms) is served: its struct ends before them, so they are not read */
    {
        char buf[4096];
        ent_http_opts v1 = ENT_HTTP_OPTS_INIT;
        v1.version = 1;
        v1.listen = "127.0.0.1:0";
        v1.allow_hosts = "garbage past a version 1 struct";
        ENT_OK_(ent_http_start(&h, s, &v1));
        CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "GET", "/api/stat", NULL), 200);
        ent_http_stop(h);
        h = NULL;
    }
    o.version = ENT_HTTP_OPTS_VERSION;
    ENT_OK_(ent_http_start(&h, s, &o));
    snprintf(addr, sizeof addr, "127.0.0.1:%u", ent_http_port(h));
    o.listen = addr; /* taken */
    CU_ASSERT_EQUAL(ent_http_start(&h2, s, &o), ENT_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, addr));
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), addr));
    ent_http_stop(h);
    ent_http_stop(NULL);
    CU_ASSERT_EQUAL(ent_http_port(NULL), 0u);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* Whether the server closes fd within 10 s (a bound on a broken run, not a timing check): read()
 * returns 0 or fails; whatever it sent before is read and dropped. */
static int closed_by_server(int fd)
{
    char buf[4096];
    time_t end = time(NULL) + 10;
    while (time(NULL) < end) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t got;
        if (poll(&p, 1, 200) <= 0) continue;
        got = read(fd, buf, sizeof buf);
        if (got <= 0) return 1;
    }
    return 0;
}

static int write_all(int fd, const char *s)
{
    size_t n = strlen(s);
    return write(fd, s, n) == (ssize_t)n ? 0 : -1;
}

/* A connection that made one whole request (so the server has accepted it) and kept it open. */
static int kept_alive(unsigned port)
{
    char buf[8192];
    int fd = connect_to(port);
    if (fd < 0) return -1;
    /* stat's JSON ends with read_only: the whole answer is read */
    if (write_all(fd, "GET /api/stat HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") ||
        !strstr((read_until(fd, buf, sizeof buf, "\"read_only\":false}"), buf), "\"read_only\":false}")) {
        close(fd);
        return -1;
    }
    return fd;
}

/* An event stream from seq 1, its head read. */
static int stream_from_1(unsigned port)
{
    char buf[4096];
    int fd = connect_to(port);
    if (fd < 0) return -1;
    if (write_all(fd, "GET /api/events/stream?from=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") ||
        !strstr((read_until(fd, buf, sizeof buf, ": events from seq 1\n"), buf), ": events from seq 1\n")) {
        close(fd);
        return -1;
    }
    return fd;
}

static void create_customer(ent_store *s, const char *email)
{
    ent_entity *e = NULL;
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "customer")));
    ENT_OK_(ent_entity_set_string(e, "email", email));
    ENT_OK_(ent_entity_set_string(e, "name", "N"));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
}

/* Slowloris: clients that open connections and send their requests slowly (or never) used to hold
 * every one of max_clients, and every other client was refused until libmicrohttpd's idle timeout
 * (150 s, restarted by each byte) closed them. A new connection at the limit now closes the one
 * that has waited longest for its request; connections being answered (streams) are never
 * closed for it. */
static void test_slow_clients_cannot_starve(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char buf[8192];
    int fds[8], streams[3], idle;
    unsigned port;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    o.max_clients = 8;
    ENT_OK_(ent_http_start(&h, s, &o));
    port = ent_http_port(h);
    /* every connection the server takes: the first sends nothing; the others make a request and
     * stay open, and half of them start their next request and never end its head. The server
     * accepts in connect order, so the first is known to it before any later one is answered;
     * it has waited longest (a connection answered waits again only from just after the answer,
     * which a test cannot order) */
    CU_ASSERT_FATAL((fds[0] = connect_to(port)) >= 0);
    for (int i = 1; i < 8; i++) {
        fds[i] = kept_alive(port);
        CU_ASSERT_FATAL(fds[i] >= 0);
        if (i % 2) CU_ASSERT_EQUAL(write_all(fds[i], "GET /api/stat HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a"), 0);
    }
    CU_ASSERT_EQUAL(request(buf, sizeof buf, port, "GET", "/api/stat", NULL), 200);
    CU_ASSERT_EQUAL(closed_by_server(fds[0]), 1); /* it waited longest */
    /* the newest slow one was left alone: its request, once whole, is answered */
    CU_ASSERT_EQUAL(write_all(fds[7], "\r\n\r\n"), 0);
    read_until(fds[7], buf, sizeof buf, "\"read_only\":false}");
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "HTTP/1.1 200 OK"));
    for (int i = 0; i < 8; i++) close(fds[i]);
    ent_http_stop(h);

    /* streams are answers in progress: never closed to make room; when only they are left, the
     * new connection is the one closed (all from 127.0.0.1 here: the per-address limit, 2 by
     * default for 4 clients, is raised out of the way) */
    o.max_clients = 4;
    o.max_streams_per_addr = 4;
    ENT_OK_(ent_http_start(&h, s, &o));
    port = ent_http_port(h);
    CU_ASSERT_FATAL((idle = connect_to(port)) >= 0); /* first, as above */
    for (int i = 0; i < 3; i++) CU_ASSERT_FATAL((streams[i] = stream_from_1(port)) >= 0);
    CU_ASSERT_EQUAL(request(buf, sizeof buf, port, "GET", "/api/stat", NULL), 200);
    CU_ASSERT_EQUAL(closed_by_server(idle), 1);
    close(idle);
    create_customer(s, "c1@x");
    for (int i = 0; i < 3; i++) {
        read_until(streams[i], buf, sizeof buf, "\"c1@x\"");
        CU_ASSERT_PTR_NOT_NULL(strstr(buf, "id: 1\nevent: create\n"));
    }
    {
        int fourth = stream_from_1(port);
        CU_ASSERT_FATAL(fourth >= 0);
        CU_ASSERT_NOT_EQUAL(request(buf, sizeof buf, port, "GET", "/api/stat", NULL), 200);
        create_customer(s, "c2@x");
        read_until(fourth, buf, sizeof buf, "\"c2@x\"");
        CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"c2@x\""));
        close(fourth);
    }
    for (int i = 0; i < 3; i++) {
        read_until(streams[i], buf, sizeof buf, "\"c2@x\"");
        CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"c2@x\""));
        close(streams[i]);
    }
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A client that asks for a long answer and stops reading holds its connection as surely as a slow
 * sender (libmicrohttpd's idle timeout, 150 s): at max_clients, the oldest answer other than a
 * stream is closed for a new connection when none waits for its request. */
static void test_slow_reader_cannot_starve(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    ent_entity *e = NULL;
    ent_key k = ent_key_str("big");
    size_t n = (size_t)16 << 20;
    char buf[8192], *json = malloc(n + 64);
    int reader, small = 4096;
    struct sockaddr_in a;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    /* 16 MiB: more than the sockets' buffers hold for a client that reads nothing */
    {
        static const char head[] = "{\"price\":1,\"attrs\":{\"b\":\"";
        memcpy(json, head, sizeof head - 1);
        memset(json + sizeof head - 1, 'x', n);
        memcpy(json + sizeof head - 1 + n, "\"}}", 4);
    }
    ENT_OK_(ent_entity_from_json(&e, ent_store_type(s, "product"), json, strlen(json)));
    free(json);
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
    o.listen = "127.0.0.1:0";
    o.max_clients = 1;
    ENT_OK_(ent_http_start(&h, s, &o));
    /* a small receive buffer, set before connecting (the window is agreed then) */
    reader = socket(AF_INET, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(reader >= 0);
    setsockopt(reader, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)ent_http_port(h));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_FATAL(connect(reader, (struct sockaddr *)&a, sizeof a) == 0);
    CU_ASSERT_EQUAL(write_all(reader, "GET /api/product/big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), 0);
    read_until(reader, buf, 1024, "xxxx"); /* the answer has begun; no more is read */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "200 OK"));
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "GET", "/api/stat", NULL), 200);
    CU_ASSERT_EQUAL(closed_by_server(reader), 1);
    close(reader);
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A request's head and body must arrive within request_timeout_ms: a client that sends a byte now
 * and then (which restarted libmicrohttpd's idle timeout each time), one that sends nothing, one
 * whose body never ends, and a kept-alive connection that never sends its next request are
 * closed; a stream, an answer in progress, is not. */
static void test_request_timeout(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char buf[8192];
    int stream, trickle, silent, body, kept, closed = 0;
    time_t end;
    unsigned port;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    o.request_timeout_ms = 1500; /* a whole request from a loaded (sanitized) test comes well within it */
    ENT_OK_(ent_http_start(&h, s, &o));
    port = ent_http_port(h);
    CU_ASSERT_FATAL((stream = stream_from_1(port)) >= 0);
    CU_ASSERT_FATAL((silent = connect_to(port)) >= 0);
    CU_ASSERT_FATAL((body = connect_to(port)) >= 0);
    CU_ASSERT_EQUAL(write_all(body, "POST /api/customer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"), 0);
    CU_ASSERT_FATAL((kept = kept_alive(port)) >= 0);
    /* one byte of a never-ending header every 50 ms, until the server closes (bounded: 10 s) */
    CU_ASSERT_FATAL((trickle = connect_to(port)) >= 0);
    CU_ASSERT_EQUAL(write_all(trickle, "GET /api/stat HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "), 0);
    for (end = time(NULL) + 10; !closed && time(NULL) < end;) {
        struct pollfd p = {trickle, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) closed = read(trickle, buf, sizeof buf) <= 0;
        else if (write(trickle, "a", 1) != 1) closed = 1;
    }
    CU_ASSERT_EQUAL(closed, 1);
    CU_ASSERT_EQUAL(closed_by_server(silent), 1);
    CU_ASSERT_EQUAL(closed_by_server(body), 1);
    CU_ASSERT_EQUAL(closed_by_server(kept), 1);
    /* the stream, open longer than all of them, still gets events */
    create_customer(s, "t@x");
    read_until(stream, buf, sizeof buf, "\"t@x\"");
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "id: 1\nevent: create\n"));
    /* and a whole request is answered */
    CU_ASSERT_EQUAL(request(buf, sizeof buf, port, "GET", "/api/customer/1", NULL), 200);
    close(stream);
    close(trickle);
    close(silent);
    close(body);
    close(kept);
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* One client address opening streams: they are never closed for room, so it could hold every
 * one of max_clients and lock everyone else out for good. Past max_streams_per_addr a new stream
 * is a 429 with a JSON body and Retry-After; other requests of that address are answered; once
 * one of its streams ends, a new one is taken again. */
/* Heartbeats go on when the wall clock steps back: their wait measured it, so a step back by an
 * hour stopped them for the hour, and with them the finding of closed streams, which kept their
 * client's places (--max-streams-per-address) that long. read_until's 10 s (time(), not the
 * wrapped call) ends a broken run. */
static void test_heartbeat_wall_clock_step_back(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char buf[8192];
    int fd;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    o.heartbeat_ms = 100;
    ENT_OK_(ent_http_start(&h, s, &o));
    wall_offset_s = 3600;
    fd = stream_from_1(ent_http_port(h));
    CU_ASSERT_FATAL(fd >= 0);
    read_until(fd, buf, sizeof buf, ": heartbeat");
    wall_offset_s = 0;
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, ": heartbeat"));
    close(fd);
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
}

static void test_streams_per_address(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char buf[8192];
    int streams[2], third, again = -1;
    unsigned port;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    o.max_clients = 16;
    o.max_streams_per_addr = 2;
    o.heartbeat_ms = 200; /* a closed stream is seen when its next heartbeat finds no reader */
    ENT_OK_(ent_http_start(&h, s, &o));
    port = ent_http_port(h);
    for (int i = 0; i < 2; i++) CU_ASSERT_FATAL((streams[i] = stream_from_1(port)) >= 0);
    CU_ASSERT_EQUAL(request(buf, sizeof buf, port, "GET", "/api/events/stream?from=1", NULL), 429);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\r\nRetry-After: 10\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\r\nContent-Type: application/json\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "{\"error\":\"127.0.0.1 has 2 event streams open, the most one client address may have"));
    /* a bad request is still told what is wrong with it, not that there is no room */
    CU_ASSERT_EQUAL(request(buf, sizeof buf, port, "GET", "/api/events/stream?op=x", NULL), 400);
    CU_ASSERT_EQUAL(request(buf, sizeof buf, port, "GET", "/api/stat", NULL), 200);
    /* the two streams are still served */
    create_customer(s, "p1@x");
    for (int i = 0; i < 2; i++) {
        read_until(streams[i], buf, sizeof buf, "\"p1@x\"");
        CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"p1@x\""));
    }
    /* one ends: a new stream is taken (within 10 s, a bound on a broken run) */
    close(streams[0]);
    for (time_t end = time(NULL) + 10; again < 0 && time(NULL) < end;) {
        third = connect_to(port);
        CU_ASSERT_FATAL(third >= 0);
        CU_ASSERT_EQUAL_FATAL(write_all(third, "GET /api/events/stream?from=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), 0);
        read_until(third, buf, sizeof buf, "\r\n\r\n");
        if (strstr(buf, "HTTP/1.1 200 ")) again = third;
        else {
            CU_ASSERT_PTR_NOT_NULL(strstr(buf, "HTTP/1.1 429 "));
            close(third);
            usleep(50 * 1000);
        }
    }
    CU_ASSERT_FATAL(again >= 0);
    if (!strstr(buf, "\"p1@x\"")) read_until(again, buf, sizeof buf, "\"p1@x\""); /* it came with the head, or later */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"p1@x\""));
    close(again);
    close(streams[1]);
    ent_http_stop(h);

    /* options of version 2 end before max_streams_per_addr: it is not read (the default for 16
     * clients is 8, so a third stream is taken) */
    o.version = 2;
    o.max_streams_per_addr = 1;
    ENT_OK_(ent_http_start(&h, s, &o));
    port = ent_http_port(h);
    {
        int fds[3];
        for (int i = 0; i < 3; i++) CU_ASSERT((fds[i] = stream_from_1(port)) >= 0);
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0) close(fds[i]);
    }
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A stream whose client closed its connection gives its place back (--max-streams-per-address)
 * within a second or two, not at the second heartbeat after (30 s by default): an idle stream
 * was found closed only by writing to it, and the first write after a FIN goes out. With a
 * heartbeat of a minute here, only that look finds it within the bound (20 s, on a broken run).
 * A client that only half-closes after its request still gets its stream. */
static void test_closed_stream_frees_its_place(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char buf[8192];
    int fd, again = -1;
    unsigned port;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    o.max_clients = 16;
    o.max_streams_per_addr = 1;
    o.heartbeat_ms = 60000;
    ENT_OK_(ent_http_start(&h, s, &o));
    port = ent_http_port(h);
    CU_ASSERT_FATAL((fd = stream_from_1(port)) >= 0);
    close(fd);
    for (time_t end = time(NULL) + 20; again < 0 && time(NULL) < end;) {
        fd = connect_to(port);
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL_FATAL(write_all(fd, "GET /api/events/stream?from=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), 0);
        read_until(fd, buf, sizeof buf, "\r\n\r\n");
        if (strstr(buf, "HTTP/1.1 200 ")) again = fd;
        else {
            CU_ASSERT_PTR_NOT_NULL(strstr(buf, "HTTP/1.1 429 "));
            close(fd);
            usleep(50 * 1000);
        }
    }
    CU_ASSERT_FATAL(again >= 0);
    /* half-closed: its FIN is no end of the stream */
    CU_ASSERT_EQUAL(shutdown(again, SHUT_WR), 0);
    read_until(again, buf, sizeof buf, ": heartbeat");
    create_customer(s, "half@x");
    read_until(again, buf, sizeof buf, "\"half@x\"");
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"half@x\""));
    close(again);
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A stop ends every event stream as a whole HTTP answer (the chunked body's last, empty chunk),
 * so a client tells a server that stopped from a broken connection (curl: exit 0, not 18) and
 * resumes with Last-Event-ID. The daemon's stop closed the sockets while the stream threads were
 * still waking to write that chunk: a few of many streams ended cut (seen in api_test.sh under
 * load). The stream threads' sends are slowed here to widen that window: each stream then ends
 * cut without the wait for the streams' ends. */
static void test_stop_ends_streams_whole(void)
{
    enum { N = 40 };
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    static char buf[16384];
    int fds[N], whole = 0;
    unsigned port;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    o.max_clients = 2 * N;
    o.max_streams_per_addr = N;
    ENT_OK_(ent_http_start(&h, s, &o));
    port = ent_http_port(h);
    for (int i = 0; i < N; i++) CU_ASSERT_FATAL((fds[i] = stream_from_1(port)) >= 0);
    create_customer(s, "end@x");
    for (int i = 0; i < N; i++) {
        read_until(fds[i], buf, sizeof buf, "\"end@x\"");
        CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"end@x\""));
    }
    __atomic_store_n(&slow_sends, 1, __ATOMIC_RELEASE);
    ent_http_stop(h);
    __atomic_store_n(&slow_sends, 0, __ATOMIC_RELEASE);
    for (int i = 0; i < N; i++) {
        size_t n = read_until(fds[i], buf, sizeof buf, NULL); /* to the server's close */
        if (n >= 5 && memcmp(buf + n - 5, "0\r\n\r\n", 5) == 0) whole++;
        close(fds[i]);
    }
    CU_ASSERT_EQUAL(whole, N);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A stop is prompt: the follower never blocks in a wait it cannot leave for longer than 50 ms
 * (it waited 250 ms at once, which every stop, and `entity serve`'s exit on SIGTERM, joined).
 * The mechanism is asserted, not the stop's duration: the waits' timeouts are what bound it. */
static void test_stop_is_prompt(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    __atomic_store_n(&wait_max_ms, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&wait_calls, 0, __ATOMIC_RELAXED);
    ENT_OK_(ent_http_start(&h, s, &o));
    /* an idle log: the follower waits, again and again (bounded: 10 s ends a broken run) */
    for (int i = 0; i < 1000 && __atomic_load_n(&wait_calls, __ATOMIC_ACQUIRE) < 3; i++) usleep(10 * 1000);
    ent_http_stop(h);
    CU_ASSERT(__atomic_load_n(&wait_calls, __ATOMIC_ACQUIRE) >= 3);
    CU_ASSERT(__atomic_load_n(&wait_max_ms, __ATOMIC_RELAXED) > 0);
    CU_ASSERT(__atomic_load_n(&wait_max_ms, __ATOMIC_RELAXED) <= 50);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A start that runs out of memory copying its options says which (it returned ENT_NOMEM with no
 * message: `entity serve` printed an earlier call's failure or none), and frees what it made. */
static void test_start_out_of_memory(void)
{
    static const struct {
        int at;
        const char *token, *hosts, *want;
    } rows[] = {
        {1, "s3cret", NULL, "copying the token"},
        {2, "s3cret", "example.org", "copying the allowed host names"},
        {1, NULL, "example.org", "copying the allowed host names"},
    };
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ent_http *h = NULL;
        ent_http_opts o = ENT_HTTP_OPTS_INIT;
        int rc;
        o.listen = "127.0.0.1:0";
        o.token = rows[i].token;
        o.allow_hosts = rows[i].hosts;
        ent_error_set(ENT_IO, "STALE");
        strdup_count = 0;
        fail_strdup_at = rows[i].at;
        rc = ent_http_start(&h, s, &o);
        fail_strdup_at = 0;
        CU_ASSERT_EQUAL(rc, ENT_NOMEM);
        CU_ASSERT_PTR_NULL(h);
        if (!strstr(ent_errmsg(), rows[i].want)) fprintf(stderr, "\n  row %zu: \"%s\"", i, ent_errmsg());
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), rows[i].want));
        ent_http_stop(h);
    }
    ent_store_close(s);
    ent_schema_free(sc);
}

/* The store's data.mdb replaced under a running server (a copy --compact moved into its place, a
 * backup put back): the server read and wrote the files it had open, so a PUT answered 201 was
 * in no file at the path and what others wrote never showed. Every /api/ request is now a 503
 * naming the store, logged once, and nothing is written. (entity serve itself then also stops,
 * exit 1, within 200 ms: cli; a host's server keeps answering 503.) */
static void log_replaced(const char *line, void *payload)
{
    if (strstr(line, "was replaced under this server")) (*(int *)payload)++;
}

static void test_store_replaced_under_the_server(void)
{
    char dir[ENT_TEST_PATH_MAX], path[ENT_TEST_PATH_MAX + 32], copy[ENT_TEST_PATH_MAX + 32], moved[ENT_TEST_PATH_MAX + 48];
    ent_schema *sc = NULL;
    ent_store *s = NULL, *s2 = NULL;
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    char buf[8192];
    int said = 0;
    ENT_TEST_MKDTEMP(dir, "http-moved");
    snprintf(path, sizeof path, "%s/s", dir);
    snprintf(copy, sizeof copy, "%s/c", dir);
    snprintf(moved, sizeof moved, "%s/c/data.mdb", dir);
    ENT_OK_(ent_schema_load_file(&sc, ENT_SOURCE_DIR "/schemas/shop.json"));
    so.durability = ENT_NONE;
    ENT_OK_(ent_store_open(&s, path, sc, &so));
    o.listen = "127.0.0.1:0";
    o.log = log_replaced;
    o.log_payload = &said;
    ENT_OK_(ent_http_start(&h, s, &o));
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "POST", "/api/customer", "{\"email\":\"a@x\",\"name\":\"A\"}"), 201);
    ENT_OK_(ent_store_copy(s, copy, 1));
    {
        char to[ENT_TEST_PATH_MAX + 48];
        snprintf(to, sizeof to, "%s/data.mdb", path);
        CU_ASSERT_EQUAL_FATAL(rename(moved, to), 0);
    }
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "POST", "/api/customer", "{\"email\":\"b@x\",\"name\":\"B\"}"), 503);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "was replaced under this server"));
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "GET", "/api/customer/1", NULL), 503);
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "GET", "/api/stat", NULL), 503);
    ent_http_stop(h);
    CU_ASSERT_EQUAL(said, 1); /* logged once */
    ent_store_close(s);
    /* the store now at the path: the copy, with the first customer and not the refused one */
    ENT_OK_(ent_store_open(&s2, path, NULL, &so));
    if (s2) {
        uint64_t n = 99;
        ENT_OK_(ent_count(&n, s2, NULL, ent_store_type(s2, "customer")));
        CU_ASSERT_EQUAL(n, 1);
        ent_store_close(s2);
    }
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

/* ?wait= and opts' wait_sub (2026-12-07): a write answered once another thread acknowledged
 * its event (ent_sub_ack()), the header saying so; a wait that timed out answers the usual success
 * with "none; ..."; wait_sub naming no subscription refuses the start; a version 3 struct's
 * wait_sub (past its end) is not read. */
typedef struct acker {
    ent_store *s;
    uint64_t seq;
    int rc;
} acker;

static void *ack_when_there(void *arg)
{
    acker *a = arg;
    uint64_t last = 0;
    /* bounded against a hang only: the assertion is on the answer, not on time */
    a->rc = ent_log_wait(&last, a->s, a->seq - 1, 60000);
    if (!a->rc) a->rc = ent_sub_ack(a->s, NULL, "relay", a->seq);
    return NULL;
}

static void test_wait_for_subscription(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char buf[8192];
    pthread_t th;
    acker a;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    o.wait_sub = "relay";
    CU_ASSERT_EQUAL(ent_http_start(&h, s, &o), ENT_NOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "no subscription \"relay\""));
    CU_ASSERT_PTR_NULL(h);
    o.wait_sub = "";
    CU_ASSERT_EQUAL(ent_http_start(&h, s, &o), ENT_INVALID);
    ENT_OK_(ent_sub_create(s, "relay", 0));
    o.wait_sub = "relay";
    /* a timeout past INT_MAX ms became a negative int for ent_sub_wait(): a wait for ever */
    o.max_wait_ms = (unsigned)INT_MAX + 1u;
    CU_ASSERT_EQUAL(ent_http_start(&h, s, &o), ENT_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "max_wait_ms 2147483648: at most 2147483647 ms"));
    CU_ASSERT_PTR_NULL(h);
    o.max_wait_ms = 0;
    o.wait_ms = (unsigned)INT_MAX + 1u;
    CU_ASSERT_EQUAL(ent_http_start(&h, s, &o), ENT_INVALID);
    CU_ASSERT_PTR_NULL(h);
    o.wait_ms = 60000;
    ENT_OK_(ent_http_start(&h, s, &o));
    a.s = s;
    a.seq = 1;
    a.rc = -1;
    CU_ASSERT_FATAL(pthread_create(&th, NULL, ack_when_there, &a) == 0);
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "POST", "/api/customer", "{\"email\":\"a@x\",\"name\":\"A\"}"), 201);
    pthread_join(th, NULL);
    ENT_OK_(a.rc);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Entity-Acknowledged: relay seq 1\r\n"));
    /* nobody acks seq 2: committed, answered 201 all the same, not acknowledged */
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "POST", "/api/customer?wait_ms=0", "{\"email\":\"b@x\",\"name\":\"B\"}"), 201);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Entity-Acknowledged: none; relay at seq 1, not 2, waited 0 ms\r\n"));
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "GET", "/api/customer/2", NULL), 200);
    CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "POST", "/api/customer?wait_ms=60001", "{\"email\":\"c@x\",\"name\":\"C\"}"), 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "wait_ms"));
    ent_http_stop(h);
    h = NULL;
    {
        /* a host built against version 3: wait_sub lies past its struct, and is not read */
        ent_http_opts v3 = ENT_HTTP_OPTS_INIT;
        v3.version = 3;
        v3.listen = "127.0.0.1:0";
        v3.wait_sub = "garbage past a version 3 struct";
        ENT_OK_(ent_http_start(&h, s, &v3));
        CU_ASSERT_EQUAL(request(buf, sizeof buf, ent_http_port(h), "POST", "/api/customer", "{\"email\":\"d@x\",\"name\":\"D\"}"), 201);
        CU_ASSERT_PTR_NULL(strstr(buf, "Entity-Acknowledged"));
        ent_http_stop(h);
    }
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A raw request on a fresh connection (the server closes after the answer): its status code. */
static int raw_request(unsigned port, const char *text)
{
    char buf[4096];
    int fd = connect_to(port);
    if (fd < 0) return -1;
    if (write_all(fd, text) != 0) {
        close(fd);
        return -1;
    }
    read_until(fd, buf, sizeof buf, NULL);
    close(fd);
    return atoi(strchr(buf, ' ') ? strchr(buf, ' ') + 1 : "0");
}

/* A host's LC_CTYPE in which 'I' is not the capital of 'i', as in Turkish (tr_TR.UTF-8): built
 * here with localedef into dir/dotless, ASCII letters but I. 0, or -1 (the test fails). */
static int make_dotless_i_locale(const char *dir)
{
    char src[ENT_TEST_PATH_MAX], out[ENT_TEST_PATH_MAX];
    FILE *f;
    pid_t pid;
    int st = 0;
    if (ent_test_fmt(src, sizeof src, "%s/dotless.def", dir) || ent_test_fmt(out, sizeof out, "%s/dotless", dir)) return -1;
    if (!(f = fopen(src, "w"))) return -1;
    fputs("LC_CTYPE\nupper <U0041>..<U005A>\nlower <U0061>..<U007A>\ndigit <U0030>..<U0039>\n"
          "space <U0020>;<U000C>;<U000A>;<U000D>;<U0009>;<U000B>\ntoupper ", f);
    for (int c = 'a'; c <= 'z'; c++)
        if (c != 'i') fprintf(f, "%s(<U%04X>,<U%04X>)", c == 'a' ? "" : ";", c, c - 32);
    fputs("\ntolower ", f);
    for (int c = 'A'; c <= 'Z'; c++)
        if (c != 'I') fprintf(f, "%s(<U%04X>,<U%04X>)", c == 'A' ? "" : ";", c, c + 32);
    if (fputs("\nEND LC_CTYPE\n", f) == EOF || fclose(f) != 0) return -1;
    if ((pid = fork()) == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 2);
        execlp("localedef", "localedef", "-c", "-i", src, out, (char *)NULL); /* -c: one category */
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) > 1) return -1;
    return 0;
}

/* HTTP's words are case-insensitive in ASCII whatever the host's locale: under a Turkish-like
 * LC_CTYPE an embedding host answered "Host: MIRROR.EXAMPLE" 403 (an allowed name), and
 * "charset=US-ASCII" and "Content-Encoding: IDENTITY" 415 (strcasecmp()/tolower() folded no 'I'). */
static void test_host_locale_without_dotted_i(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char dir[ENT_TEST_PATH_MAX];
    unsigned port;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ENT_TEST_MKDTEMP(dir, "dotless-locale");
    CU_ASSERT_FATAL(make_dotless_i_locale(dir) == 0);
    CU_ASSERT_FATAL(setenv("LOCPATH", dir, 1) == 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(setlocale(LC_CTYPE, "dotless"));
    /* the locale is what it should be (tolower(), not strcasecmp(): ASan's strcasecmp folds ASCII) */
    CU_ASSERT_FATAL(tolower('I') != 'i');
    o.listen = "127.0.0.1:0";
    o.allow_hosts = "mirror.example";
    CU_ASSERT_EQUAL_FATAL(ent_http_start(&h, s, &o), ENT_OK);
    port = ent_http_port(h);
    CU_ASSERT_EQUAL(raw_request(port, "GET /api/stat HTTP/1.0\r\nHost: MIRROR.EXAMPLE\r\n\r\n"), 200);
    CU_ASSERT_EQUAL(raw_request(port, "GET /api/stat HTTP/1.0\r\nHost: other.example\r\n\r\n"), 403);
    CU_ASSERT_EQUAL(raw_request(port, "PUT /api/product/a HTTP/1.0\r\nHost: localhost\r\nContent-Type: "
                                      "application/json; charset=US-ASCII\r\nContent-Length: 11\r\n\r\n{\"stock\":1}"),
                    201);
    CU_ASSERT_EQUAL(raw_request(port, "PUT /api/product/b HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                                      "Content-Encoding: IDENTITY\r\nContent-Length: 11\r\n\r\n{\"stock\":1}"),
                    201);
    CU_ASSERT_EQUAL(raw_request(port, "PUT /api/product/c HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                                      "Content-Encoding: gzip\r\nContent-Length: 11\r\n\r\n{\"stock\":1}"),
                    415);
    ent_http_stop(h);
    CU_ASSERT_PTR_NOT_NULL(setlocale(LC_CTYPE, "C"));
    unsetenv("LOCPATH");
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

/* A thread the start cannot make (ulimit -u reached): ENT_NOMEM naming which and why, nothing
 * left running or held (the next start on the same port is served). It said "out of resources
 * for the event stream (a lock, a thread)", or "out of resources" alone for the second thread. */
static void test_start_without_threads(void)
{
    static const struct {
        int at;
        const char *want;
    } rows[] = {
        {1, "cannot start the event stream's thread: "},
        {2, "cannot start the thread that closes slow connections: "},
    };
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    char want[256];
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ent_http *h = NULL;
        ent_http_opts o = ENT_HTTP_OPTS_INIT;
        int rc;
        o.listen = "127.0.0.1:0";
        thread_count = 0;
        fail_thread_at = rows[i].at;
        rc = ent_http_start(&h, s, &o);
        fail_thread_at = 0;
        CU_ASSERT_EQUAL(rc, ENT_NOMEM);
        CU_ASSERT_PTR_NULL(h);
        snprintf(want, sizeof want, "%s%s", rows[i].want, strerror(EAGAIN));
        if (!strstr(ent_errmsg(), want)) fprintf(stderr, "\n  row %zu: \"%s\"", i, ent_errmsg());
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), want));
        ent_http_stop(h);
        ENT_OK_(ent_http_start(&h, s, &o));
        CU_ASSERT(h && ent_http_port(h) > 0);
        ent_http_stop(h);
    }
    ent_store_close(s);
    ent_schema_free(sc);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_serve_memory_store), ENT_TEST(test_stat_of_a_mirror),
                                          ENT_TEST(test_refusals), ENT_TEST(test_slow_clients_cannot_starve), ENT_TEST(test_slow_reader_cannot_starve),
                                          ENT_TEST(test_request_timeout), ENT_TEST(test_streams_per_address), ENT_TEST(test_closed_stream_frees_its_place), ENT_TEST(test_heartbeat_wall_clock_step_back),
                                          ENT_TEST(test_stop_ends_streams_whole), ENT_TEST(test_stop_is_prompt),
                                          ENT_TEST(test_start_out_of_memory), ENT_TEST(test_start_without_threads), ENT_TEST(test_store_replaced_under_the_server),
                                          ENT_TEST(test_wait_for_subscription), ENT_TEST(test_host_locale_without_dotted_i),
                                          {NULL, NULL}};
    return ent_test_run("http_host", cases);
}
