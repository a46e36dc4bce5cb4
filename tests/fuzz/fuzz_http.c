/* Fuzz entity-http's request handling (libentity/http): the path, the query, the headers it reads
 * (If-Match, If-None-Match, Last-Event-ID, Authorization) and the JSON bodies of POST, PUT and
 * PATCH, through a real server on a loopback port in front of the shop store in memory.
 * Input: up to four requests, each a method byte, a byte of header choices, then chunks (split at
 * 0xff): the target after "/api", the value of each chosen header, the body. Bytes HTTP does not
 * allow in a request line or header (controls, space) become '_', so what reaches the server is a
 * well-formed request and the fuzzer works on the server's parsing, not libmicrohttpd's.
 * Properties: every request gets a whole reply (no hang: 10 s), never a 5xx (a memory store has no
 * I/O to fail), a JSON body that parses, and after the requests verify finds the store clean. The
 * event stream is left once its headers came (it never ends by itself). */
#include "fuzz_shop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "entity/http.h"
#include "http_int.h"

static ent_schema *shop;

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

/* the request's text: s grows by n bytes of p */
typedef struct buf {
    char *p;
    size_t n;
} buf;

static void add(buf *b, const void *p, size_t n)
{
    if (!(b->p = realloc(b->p, b->n + n + 1))) abort();
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void add_s(buf *b, const char *s) { add(b, s, strlen(s)); }

/* bytes of a request line or header value: no controls, no space, no DEL */
static void add_clean(buf *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i] <= 0x20 || p[i] == 0x7f ? '_' : (char)p[i];
        add(b, &ch, 1);
    }
}

static int connect_to(unsigned port)
{
    struct sockaddr_in a;
    struct timeval tv = {10, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    FUZZ_CHECK(fd >= 0, "socket");
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    /* libFuzzer's SIGALRM can interrupt connect() too (never restarted on a socket with
     * SO_SNDTIMEO, signal(7)); the handshake goes on in the kernel, so wait for its outcome as
     * a non-blocking connect would. A refused or timed-out connection is still a failure. */
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno, err = 0, k;
        socklen_t len = sizeof err;
        struct pollfd pf = {fd, POLLOUT, 0};
        if (e == EINTR || e == EINPROGRESS || e == EALREADY) {
            do k = poll(&pf, 1, 10000);
            while (k < 0 && errno == EINTR);
            FUZZ_CHECK(k == 1, "connect to port %u: no answer in 10 s", port);
            FUZZ_CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0, "getsockopt: %s", strerror(errno));
            e = err;
        }
        FUZZ_CHECK(e == 0, "connect to port %u: %s", port, strerror(e));
    }
    return fd;
}

/* Send req, read the whole reply (Connection: close) and check it. */
static void exchange(unsigned port, const buf *req, int head)
{
    int fd = connect_to(port);
    buf rep = {NULL, 0};
    char tmp[4096], *body;
    unsigned status = 0;
    size_t off = 0;
    ssize_t k;
    /* libFuzzer's SIGALRM (its -timeout watch, every timeout/2 + 1 s) interrupts a blocked call:
     * EINTR is not the server's silence (it was taken for a hang three times). */
    while (off < req->n && ((k = send(fd, req->p + off, req->n - off, MSG_NOSIGNAL)) > 0 || (k < 0 && errno == EINTR)))
        if (k > 0) off += (size_t)k;
    for (;;) {
        do k = recv(fd, tmp, sizeof tmp, 0);
        while (k < 0 && errno == EINTR);
        FUZZ_CHECK(k >= 0, "no reply in 10 s (%s) to:\n%s\n(so far: %s)", strerror(errno), req->p, rep.p ? rep.p : "");
        if (k == 0) break;
        add(&rep, tmp, (size_t)k);
        /* the stream: its headers are the reply; it would go on until the server stops */
        if (strstr(rep.p, "\r\n\r\n") && strstr(rep.p, "text/event-stream")) break;
    }
    {
        /* Closed with a reset: a normal close leaves a TIME_WAIT socket per request on loopback
         * (tens of thousands in a run, each a port a new server's SYN could meet). */
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
    if (getenv("FUZZ_HTTP_SHOW")) dprintf(2, "%s\n-> %.300s\n\n", req->p, rep.p ? rep.p : "(nothing)");
    FUZZ_CHECK(rep.p && sscanf(rep.p, "HTTP/1.1 %u", &status) == 1, "no status line for:\n%s\n(reply: %s)", req->p,
               rep.p ? rep.p : "");
    /* 413 and 414 from libmicrohttpd itself on long targets are its own pages; 5xx are ours */
    FUZZ_CHECK(status < 500, "status %u for:\n%s\nreply:\n%s", status, req->p, rep.p);
    body = strstr(rep.p, "\r\n\r\n");
    if (body && !head && strstr(rep.p, "application/json")) {
        json_error_t err;
        json_t *j = json_loads(body + 4, 0, &err);
        FUZZ_CHECK(j != NULL, "a JSON reply does not parse (%s) for:\n%s\nreply:\n%s", err.text, req->p, rep.p);
        json_decref(j);
    }
    free(rep.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_http_opts ho = ENT_HTTP_OPTS_INIT;
    ent_store *s = NULL;
    ent_http *h = NULL;
    uint64_t problems = 0;
    if (!shop) shop = fuzz_schema("shop");
    o.backend = "memory";
    o.durability = ENT_NONE;
    must(ent_store_open(&s, NULL, shop, &o), "open");
    fill(s);
    ho.listen = "127.0.0.1:0";
    ho.max_body = 2048;
    ho.heartbeat_ms = 60000;
    if (fuzz_u8(&in) & 1) ho.token = "t0k";
    must(ent_http_start(&h, s, &ho), "http start");
    for (int i = 0; i < 4 && in.n; i++) {
        unsigned m = fuzz_u8(&in) % (sizeof methods / sizeof methods[0]), hdrs = fuzz_u8(&in);
        const uint8_t *p;
        size_t n = fuzz_chunk(&in, &p), bn;
        buf req = {NULL, 0};
        char line[64];
        add_s(&req, methods[m]);
        add_s(&req, " /api");
        add_clean(&req, p, n);
        add_s(&req, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        if (ho.token && !(hdrs & 0x10)) add_s(&req, "Authorization: Bearer t0k\r\n");
        static const char *const names[] = {"If-Match", "If-None-Match", "Last-Event-ID", "Authorization"};
        for (int b = 0; b < 4; b++)
            if (hdrs & (1u << b)) {
                n = fuzz_chunk(&in, &p);
                add_s(&req, names[b]);
                add_s(&req, ": ");
                add_clean(&req, p, n);
                add_s(&req, "\r\n");
            }
        bn = fuzz_chunk(&in, &p);
        if (bn || m == 2 || m == 3 || m == 4) {
            snprintf(line, sizeof line, "Content-Length: %zu\r\n", bn);
            add_s(&req, line);
        }
        if (hdrs & 0x20) add_s(&req, "Content-Type: application/json\r\n");
        add_s(&req, "\r\n");
        add(&req, p, bn);
        exchange(ent_http_port(h), &req, m == 1);
        free(req.p);
    }
    {
        /* The log's follower sleeps up to 250 ms in ent_log_wait() before it sees a stop: told to
         * stop, then woken by a commit, it ends at once (4 inputs a second otherwise). */
        const ent_type *cu = ent_store_type(s, "customer");
        ent_entity *e;
        pthread_mutex_lock(&h->hub.mu);
        h->hub.stop = 1;
        pthread_mutex_unlock(&h->hub.mu);
        must(ent_entity_new(&e, cu), "new");
        must(ent_entity_set_string(e, "email", "stop@fuzz"), "set");
        must(ent_entity_set_string(e, "name", "stop"), "set");
        (void)ent_create(s, NULL, e); /* a conflict when a request made it: then nothing wakes it */
        ent_entity_free(e);
    }
    ent_http_stop(h);
    FUZZ_CHECK(ent_store_verify(&problems, s, NULL, NULL) == ENT_OK && problems == 0, "verify after the requests");
    ent_store_close(s);
    return 0;
}
