/* entity-http's reads while another process evolves the schema (`entity schema --apply`): a read
 * looked its type up in one transaction and read in another, so an evolution that committed in
 * between made it answer 409 ("type customer is from schema version N"). The store is served
 * through the fault backend (fault:lmdb), whose hook runs the evolution, in another process,
 * just before the N-th backend call of a request, for every N the request makes: each read must
 * answer 200, and the next one the new schema; the server's store notices each evolution at once
 * (another request's transaction would), so a request's snapshot may predate the store's current
 * schema (a type looked up there was refused in the older transaction). No timing: the hook is
 * placed by call count.
 *
 * usage: test_http_evolve ENTITY_CLI */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <entity/http.h>

#include "backend_fault.h"
#include "test_util.h"

static const char *cli;
static char dir[ENT_TEST_PATH_MAX], schema_file[ENT_TEST_PATH_MAX + 16];
static unsigned schema_version = 1;
static int evolved;

/* The shop schema at version v, with fields x2..xv added to customer (defaults 2..v). */
static void write_schema(unsigned v)
{
    FILE *in = fopen(ENT_SOURCE_DIR "/schemas/shop.json", "r"), *out = fopen(schema_file, "w");
    char text[16384], add[8192] = "", *at;
    size_t n, used = 0;
    CU_ASSERT_FATAL(in != NULL && out != NULL);
    n = fread(text, 1, sizeof text - 1, in);
    text[n] = '\0';
    fclose(in);
    for (unsigned i = 2; i <= v; i++)
        used += (size_t)snprintf(add + used, sizeof add - used, "\"x%u\": {\"id\": %u, \"type\": \"int\", \"default\": %u}, ",
                                 i, 100 + i, i);
    at = strstr(text, "\"email\":");
    CU_ASSERT_FATAL(at != NULL && strstr(text, "\"version\": 1,") != NULL);
    at[-1] = '\0'; /* text up to the customer's first field, then the new ones, then the rest */
    memcpy(strstr(text, "\"version\": 1,"), "\"version\": 0,", 13);
    fprintf(out, "%s %s%s", text, add, at);
    fclose(out);
    /* the version after the replacement above: "0" is one digit, the real one any */
    out = fopen(schema_file, "r+");
    CU_ASSERT_FATAL(out != NULL);
    n = fread(text, 1, sizeof text - 1, out);
    text[n] = '\0';
    fclose(out);
    out = fopen(schema_file, "w");
    at = strstr(text, "\"version\": 0,");
    *at = '\0';
    fprintf(out, "%s\"version\": %u,%s", text, v, at + 13);
    fclose(out);
}

/* Another process evolves the store to the next version (the fault hook, or the test itself). */
static void evolve(void *payload)
{
    static char cmd[12 * ENT_TEST_PATH_MAX + 64], qc[4 * ENT_TEST_PATH_MAX + 3], qd[4 * ENT_TEST_PATH_MAX + 3],
        qs[4 * ENT_TEST_PATH_MAX + 3];
    (void)payload;
    write_schema(++schema_version);
    /* timeout: a hook placed where the evolution waits for this process ends the run, not hangs it;
     * paths as sh words (TMPDIR may hold spaces and quotes) */
    snprintf(cmd, sizeof cmd, "timeout 60 %s -s %s schema --apply %s >/dev/null 2>&1", ent_test_sh_word(qc, sizeof qc, cli),
             ent_test_sh_word(qd, sizeof qd, dir), ent_test_sh_word(qs, sizeof qs, schema_file));
    CU_ASSERT_EQUAL(system(cmd), 0);
    evolved++;
}

/* The same, and the served store notices it at once, as another request's transaction would:
 * its current schema then moves past the snapshot of a request under way. */
static void evolve_noticed(void *payload)
{
    ent_txn *r = NULL;
    evolve(NULL);
    ENT_OK_(ent_txn_begin(&r, payload, ENT_TXN_READ));
    ent_txn_abort(r);
}

/* method path (with body, or NULL); the status, and the answer in out. A bounded wait (10 s)
 * only ends a broken run. */
static int request(char *out, size_t size, unsigned port, const char *method, const char *path, const char *body)
{
    struct sockaddr_in a = {0};
    char req[1024];
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), len;
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    len = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s%zu\r\n\r\n%s", method, path,
                   body ? "Content-Type: application/json\r\nContent-Length: " : "X-Length: ", body ? strlen(body) : 0,
                   body ? body : "");
    if (write(fd, req, (size_t)len) != len) {
        close(fd);
        return -1;
    }
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;
        if (poll(&p, 1, 10000) != 1) break;
        r = read(fd, out + got, size - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
        if (got == size - 1) break;
    }
    out[got] = '\0';
    close(fd);
    return atoi(strchr(out, ' ') ? strchr(out, ' ') + 1 : "0");
}

static void t_reads_beside_evolutions(void)
{
    static const char *const paths[] = {"/api/customer/1", "/api/customer?limit=10", "/api/customer/by/email?value=a%40x",
                                        "/api/customer/by/joined?from=0"};
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    ent_http_opts ho = ENT_HTTP_OPTS_INIT;
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_entity *e = NULL;
    ent_http *h = NULL;
    unsigned port;
    int in_request = 0;
    static char body[65536];
    CU_ASSERT_FATAL(ent_test_mkdtemp(dir, sizeof dir, "http_evolve") == 0);
    snprintf(schema_file, sizeof schema_file, "%s.schema.json", dir);
    so.backend = "fault:lmdb";
    ENT_OK_(ent_schema_load_file(&sc, ENT_SOURCE_DIR "/schemas/shop.json"));
    ENT_OK_(ent_store_open(&s, dir, sc, &so));
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "customer")));
    ENT_OK_(ent_entity_set_string(e, "email", "a@x"));
    ENT_OK_(ent_entity_set_string(e, "name", "A"));
    ENT_OK_(ent_entity_set_timestamp(e, "joined", 5));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
    ho.listen = "127.0.0.1:0";
    ENT_OK_(ent_http_start(&h, s, &ho));
    port = ent_http_port(h);
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        for (uint64_t n = 1; n <= 12; n++) {
            char want[32];
            int before = evolved, st;
            ent__fault_hook(NULL, n, evolve_noticed, s);
            st = request(body, sizeof body, port, "GET", paths[p], NULL);
            if (st != 200) fprintf(stderr, "GET %s, evolution before call %u: %d\n%s\n", paths[p], (unsigned)n, st, body);
            CU_ASSERT_EQUAL(st, 200);
            ent__fault_hook(NULL, 0, NULL, NULL);
            if (evolved > before) in_request++;
            else evolve(NULL); /* the request made fewer calls (or another thread took the hook's) */
            /* the evolution committed: the next read answers the new schema */
            st = request(body, sizeof body, port, "GET", paths[p], NULL);
            CU_ASSERT_EQUAL(st, 200);
            snprintf(want, sizeof want, "\"x%u\":%u", schema_version, schema_version);
            if (!strstr(body, want)) fprintf(stderr, "GET %s after version %u: %s\n", paths[p], schema_version, body);
            CU_ASSERT_PTR_NOT_NULL(strstr(body, want));
        }
    }
    /* a create: its type was looked up before its write transaction */
    for (uint64_t n = 1; n <= 4; n++) {
        char data[64], want[32];
        int before = evolved, st;
        snprintf(data, sizeof data, "{\"email\":\"p%u@x\",\"name\":\"P\"}", (unsigned)n);
        ent__fault_hook("txn_begin", n, evolve, NULL); /* not inside the write: it holds the writer */
        st = request(body, sizeof body, port, "POST", "/api/customer", data);
        if (st != 201) fprintf(stderr, "POST, evolution before call %u: %d\n%s\n", (unsigned)n, st, body);
        CU_ASSERT_EQUAL(st, 201);
        ent__fault_hook(NULL, 0, NULL, NULL);
        if (evolved > before) in_request++;
        else evolve(NULL);
        snprintf(data, sizeof data, "{\"email\":\"q%u@x\",\"name\":\"Q\"}", (unsigned)n);
        st = request(body, sizeof body, port, "POST", "/api/customer", data);
        CU_ASSERT_EQUAL(st, 201);
        snprintf(want, sizeof want, "\"x%u\":%u", schema_version, schema_version);
        CU_ASSERT_PTR_NOT_NULL(strstr(body, want));
    }
    CU_ASSERT(in_request >= 10); /* the hook fired inside requests, not only beside them */
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
    unlink(schema_file);
    ent_test_rm_rf(dir);
}

/* Another process creates a customer (the fault hook, or the test itself). */
static unsigned puts_done;
static void put_customer(void *payload)
{
    static char cmd[12 * ENT_TEST_PATH_MAX + 128], qc[4 * ENT_TEST_PATH_MAX + 3], qd[4 * ENT_TEST_PATH_MAX + 3];
    (void)payload;
    puts_done++;
    snprintf(cmd, sizeof cmd, "timeout 60 %s -s %s put customer '{\"email\":\"s%u@x\",\"name\":\"S\"}' >/dev/null 2>&1",
             ent_test_sh_word(qc, sizeof qc, cli), ent_test_sh_word(qd, sizeof qd, dir), puts_done);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* The value of "NAME":NUMBER after the first "WITHIN" in text, or -1. */
static long long json_num(const char *text, const char *within, const char *name)
{
    char key[64];
    const char *at = strstr(text, within);
    snprintf(key, sizeof key, "\"%s\":", name);
    if (!at || !(at = strstr(at, key))) return -1;
    return atoll(at + strlen(key));
}

/* /api/stat's counts and log bounds are of one moment: a page (the server's own) counts from the
 * answer's counts and follows the stream after its last_seq, so an entity created between the
 * count and the bounds (each read in a snapshot of its own) was never counted there, and the page
 * showed one customer less for good. Every event of this store is a customer's create, so the
 * customer count equals last_seq at any one moment. Another process creates one just before each
 * backend call of the request in turn. */
static void t_stat_beside_writes(void)
{
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    ent_http_opts ho = ENT_HTTP_OPTS_INIT;
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_http *h = NULL;
    unsigned port;
    int in_request = 0;
    static char body[65536];
    CU_ASSERT_FATAL(ent_test_mkdtemp(dir, sizeof dir, "http_stat") == 0);
    so.backend = "fault:lmdb";
    ENT_OK_(ent_schema_load_file(&sc, ENT_SOURCE_DIR "/schemas/shop.json"));
    ENT_OK_(ent_store_open(&s, dir, sc, &so));
    ho.listen = "127.0.0.1:0";
    ENT_OK_(ent_http_start(&h, s, &ho));
    port = ent_http_port(h);
    for (uint64_t n = 1; n <= 16; n++) {
        unsigned before = puts_done;
        long long count, last;
        int st;
        ent__fault_hook(NULL, n, put_customer, NULL);
        st = request(body, sizeof body, port, "GET", "/api/stat", NULL);
        ent__fault_hook(NULL, 0, NULL, NULL);
        CU_ASSERT_EQUAL(st, 200);
        if (puts_done > before) in_request++;
        else put_customer(NULL);
        count = json_num(body, "\"customer\":", "count");
        last = json_num(body, "\"log\":", "last_seq");
        if (count < 0 || count != last) fprintf(stderr, "GET /api/stat, a create before call %u: %s\n", (unsigned)n, body);
        CU_ASSERT(count >= 0 && count == last);
    }
    CU_ASSERT(in_request >= 4); /* the hook fired inside requests, not only beside them */
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

int main(int argc, char **argv)
{
    static const ent_test_case cases[] = {
        ENT_TEST(t_reads_beside_evolutions),
        ENT_TEST(t_stat_beside_writes),
        {NULL, NULL},
    };
    if (argc < 2) {
        fprintf(stderr, "usage: test_http_evolve ENTITY_CLI\n");
        return 2;
    }
    cli = argv[1];
    return ent_test_run("http_evolve", cases);
}
