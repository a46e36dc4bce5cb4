/* Free-form values keep their kind through the HTTP API: random entities holding every kind the C
 * API can put in a free-form map (test_kinds_gen.h), read over HTTP (GET: the entity's JSON with
 * "kinds") and written back as they were read (PUT of the whole answer, PUT and POST of its
 * "data" and "kinds", PATCH), are stored again byte for byte (the msgpack records compared).
 * Before the entity's JSON was taken as a body, a client could only write the data back, and
 * bytes, uints above 2^63-1, NaN and infinities came back as strings. Also: "kinds" that are bad
 * (a pointer naming nothing, a declared field, not base64, not an object, a pointer of a patch
 * to a stored value the patch does not hold) are a 400 naming the pointer, nothing written; the
 * entity's "type", "key" and "version" are checked; a body of data alone reads as it did. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <entity/http.h>

#include "test_util.h"
#include "test_kinds_gen.h"

static const char schema_json[] =
    "{\"schema\":\"hkinds\",\"version\":1,\"types\":{"
    "\"doc\":{\"key\":\"auto\",\"fields\":{"
    "  \"m\":{\"id\":1,\"type\":\"map\"},"
    "  \"am\":{\"id\":2,\"type\":\"array\",\"items\":{\"type\":\"map\"}},"
    "  \"dm\":{\"id\":3,\"type\":\"map\",\"fields\":{\"ff\":{\"id\":1,\"type\":\"map\"},\"b\":{\"id\":2,\"type\":\"bytes\"}}},"
    "  \"fb\":{\"id\":4,\"type\":\"bytes\"},"
    "  \"fu\":{\"id\":5,\"type\":\"uint\"},"
    "  \"ff\":{\"id\":6,\"type\":\"float\"}}},"
    "\"note\":{\"key\":\"string\",\"fields\":{\"m\":{\"id\":1,\"type\":\"map\"}}},"
    /* a type with fields named as the entity's JSON's members: its data reads as data */
    "\"env\":{\"key\":\"auto\",\"fields\":{\"data\":{\"id\":1,\"type\":\"map\"},\"kinds\":{\"id\":2,\"type\":\"map\"}}},"
    /* fields named as all of GET's members: GET's answer reads as its data and as its JSON */
    "\"rec\":{\"key\":\"auto\",\"fields\":{\"type\":{\"id\":1,\"type\":\"string\"},\"key\":{\"id\":2,\"type\":\"int\"},"
    "  \"version\":{\"id\":3,\"type\":\"int\"},\"data\":{\"id\":4,\"type\":\"map\"}}}}}";

/* ---- a small HTTP/1.0 client (the server closes after each answer) ------------------------ */

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

/* One request; *body: the answer's body (the caller frees it). Returns the status, or -1. Reads
 * until the server closes, or 10 s pass (a bound on a hang, not a timing check). */
static int http(char **body, unsigned port, const char *method, const char *path, const char *data)
{
    size_t dlen = data ? strlen(data) : 0, cap = 1 << 16, n = 0, hlen;
    char *head = malloc(512 + strlen(path)), *buf = malloc(cap), *sep;
    int fd = connect_to(port), len, status = -1;
    time_t end = time(NULL) + 10;
    *body = NULL;
    if (fd < 0 || !head || !buf) goto out;
    len = sprintf(head, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", method,
                  path, dlen);
    if (write(fd, head, (size_t)len) != len || (dlen && write(fd, data, dlen) != (ssize_t)dlen)) goto out;
    while (time(NULL) < end) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t got;
        if (poll(&p, 1, 200) <= 0) continue;
        if (n + 1 >= cap && !(buf = realloc(buf, cap *= 2))) goto out;
        if ((got = read(fd, buf + n, cap - 1 - n)) <= 0) break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    if (!(sep = strstr(buf, "\r\n\r\n")) || !strchr(buf, ' ')) goto out;
    hlen = (size_t)(sep + 4 - buf);
    status = atoi(strchr(buf, ' ') + 1);
    *body = strdup(buf + hlen);
out:
    if (fd >= 0) close(fd);
    free(head);
    free(buf);
    return status;
}

/* ---- the store --------------------------------------------------------------------------- */

static ent_store *open_memory(ent_schema **sc)
{
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = "memory";
    if (ent_schema_load_json(sc, schema_json, strlen(schema_json), "hkinds") != ENT_OK) return NULL;
    if (ent_store_open(&s, "", *sc, &o) != ENT_OK) return NULL;
    return s;
}

/* The stored record of type/key, version set to 1: what a write back must leave as it was. */
static void record(void **out, size_t *len, ent_store *s, const char *type, ent_key k)
{
    ent_entity *e = NULL;
    ENT_OK_(ent_get(&e, s, NULL, ent_store_type(s, type), &k));
    ENT_OK_(ent_entity_set_version(e, 1));
    ENT_OK_(ent_entity_encode(out, len, e));
    ent_entity_free(e);
}

static void assert_same(ent_store *s, const char *type, ent_key k, const void *want, size_t wlen, const char *how)
{
    void *got = NULL;
    size_t n = 0;
    record(&got, &n, s, type, k);
    if (n != wlen || memcmp(got, want, n)) {
        char *j = NULL;
        ent_entity *e = NULL;
        ent_get(&e, s, NULL, ent_store_type(s, type), &k);
        ent_entity_to_json(&j, e, ENT_JSON_ENTITY);
        fprintf(stderr, "\n  %s: the record changed: now %s\n   was:", how, j);
        for (size_t i = 0; i < wlen; i++) fprintf(stderr, " %02x", ((const unsigned char *)want)[i]);
        fprintf(stderr, "\n   now:");
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %02x", ((const unsigned char *)got)[i]);
        fprintf(stderr, "\n");
        free(j);
        ent_entity_free(e);
    }
    CU_ASSERT(n == wlen && !memcmp(got, want, n));
    free(got);
}

/* The record a merge patch of the entity's JSON answer (its "data", then its "kinds") gives the
 * stored doc k, by the library's calls. */
static void patched(void **out, size_t *len, ent_store *s, ent_key k, const char *answer)
{
    json_t *a = json_loads(answer, JSON_ALLOW_NUL, NULL);
    ent_entity *e = NULL;
    char *data, *kinds;
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    data = json_dumps(json_object_get(a, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
    kinds = json_object_get(a, "kinds") ? json_dumps(json_object_get(a, "kinds"), JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
    ENT_OK_(ent_get(&e, s, NULL, ent_store_type(s, "doc"), &k));
    ENT_OK_(ent_entity_patch_json(e, data, strlen(data)));
    ENT_OK_(ent_entity_apply_kinds(e, kinds, strlen(kinds)));
    ENT_OK_(ent_entity_set_version(e, 1));
    ENT_OK_(ent_entity_encode(out, len, e));
    ent_entity_free(e);
    free(data);
    free(kinds);
    json_decref(a);
}

/* The answer's members named (NULL-terminated) as a new JSON text (the caller frees it). */
static char *members(const char *answer, const char *const *names)
{
    json_t *a = json_loads(answer, JSON_ALLOW_NUL, NULL), *o = json_object();
    char *out;
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    for (; *names; names++)
        if (json_object_get(a, *names)) json_object_set(o, *names, json_object_get(a, *names));
    out = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(a);
    json_decref(o);
    return out;
}

/* Whether the JSON text's "data" holds a null, through objects (in an array a null is a value even
 * to a merge patch). */
static int null_in(const json_t *j)
{
    const char *k;
    json_t *v;
    if (!json_is_object(j)) return 0;
    json_object_foreach((json_t *)j, k, v) if (json_is_null(v) || null_in(v)) return 1;
    return 0;
}

static int data_has_null(const char *answer)
{
    json_t *a = json_loads(answer, JSON_ALLOW_NUL, NULL);
    int got = null_in(json_object_get(a, "data"));
    json_decref(a);
    return got;
}

static void test_write_back_keeps_kinds(void)
{
    static const char *const data_kinds[] = {"data", "kinds", NULL};
    static const char *const data_only[] = {"data", NULL};
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    const ent_type *doc, *note;
    unsigned port, with_kinds = 0, with_null = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    doc = ent_store_type(s, "doc");
    note = ent_store_type(s, "note");
    o.listen = "127.0.0.1:0";
    ENT_OK_(ent_http_start(&h, s, &o));
    port = ent_http_port(h);
    for (unsigned i = 0; i < 60; i++) {
        ent_entity *e = NULL;
        char path[64], npath[64], *got = NULL, *ans = NULL, *dk = NULL;
        void *rec = NULL, *nrec = NULL, *prec = NULL;
        size_t rlen = 0, nlen = 0, plen = 0;
        ent_key k, nk;
        char nkey[16];
        ENT_OK_(ent_entity_new(&e, doc));
        gen_doc(e, 0);
        ENT_OK_(ent_create(s, NULL, e));
        k = ent_entity_key(e);
        ent_entity_free(e);
        record(&rec, &rlen, s, "doc", k);
        snprintf(path, sizeof path, "/api/doc/%llu", (unsigned long long)k.id);

        CU_ASSERT_EQUAL_FATAL(http(&got, port, "GET", path, NULL), 200);
        with_kinds += strstr(got, "\"kinds\":") != NULL;
        /* the whole answer back: its version is the stored one */
        CU_ASSERT_EQUAL(http(&ans, port, "PUT", path, got), 200);
        assert_same(s, "doc", k, rec, rlen, "PUT of the GET's answer");
        free(ans);
        /* "data" and "kinds" alone, by PUT and PATCH */
        dk = members(got, data_kinds);
        CU_ASSERT_EQUAL(http(&ans, port, "PUT", path, dk), 200);
        assert_same(s, "doc", k, rec, rlen, "PUT of data and kinds");
        free(ans);
        /* a merge patch of the same data: as the library's own calls on the stored entity. A
         * free-form null GET answered is a value there and a removal in a merge patch: such a
         * body is refused (it was 200, the null removed and the version bumped), nothing written */
        if (data_has_null(got)) {
            with_null++;
            CU_ASSERT_EQUAL(http(&ans, port, "PATCH", path, got), 400);
            CU_ASSERT_TRUE(ans && strstr(ans, "holds a null at /"));
            assert_same(s, "doc", k, rec, rlen, "refused PATCH of the GET's answer");
            free(ans);
            CU_ASSERT_EQUAL(http(&ans, port, "PATCH", path, dk), 400);
            assert_same(s, "doc", k, rec, rlen, "refused PATCH of data and kinds");
            free(ans);
        } else {
            patched(&prec, &plen, s, k, got);
            CU_ASSERT_EQUAL(http(&ans, port, "PATCH", path, got), 200);
            assert_same(s, "doc", k, prec, plen, "PATCH of the GET's answer");
            free(ans);
            CU_ASSERT_EQUAL(http(&ans, port, "PATCH", path, dk), 200);
            assert_same(s, "doc", k, prec, plen, "PATCH of data and kinds");
            free(ans);
            free(prec);
            prec = NULL;
        }
        /* back to the record as it was, for the POST below */
        CU_ASSERT_EQUAL(http(&ans, port, "PUT", path, dk), 200);
        assert_same(s, "doc", k, rec, rlen, "PUT after PATCH");
        free(ans);
        /* a copy by POST: the new entity's record is the same */
        CU_ASSERT_EQUAL(http(&ans, port, "POST", "/api/doc", dk), 201);
        {
            json_t *a = json_loads(ans ? ans : "", 0, NULL);
            CU_ASSERT_PTR_NOT_NULL_FATAL(a);
            assert_same(s, "doc", ent_key_id((uint64_t)json_integer_value(json_object_get(a, "key"))), rec, rlen, "POST of data and kinds");
            json_decref(a);
        }
        free(ans);
        /* a string key made by PUT, with the free-form map of the doc */
        snprintf(nkey, sizeof nkey, "n%u", i);
        nk = (ent_key){ENT_KEY_STRING, 0, nkey, strlen(nkey)};
        ENT_OK_(ent_entity_new(&e, note));
        ENT_OK_(ent_entity_set_key(e, &nk));
        gen_map(e, "m");
        ENT_OK_(ent_create(s, NULL, e));
        ent_entity_free(e);
        record(&nrec, &nlen, s, "note", nk);
        snprintf(npath, sizeof npath, "/api/note/%s", nkey);
        free(got);
        CU_ASSERT_EQUAL_FATAL(http(&got, port, "GET", npath, NULL), 200);
        free(dk);
        dk = members(got, data_kinds);
        CU_ASSERT_EQUAL(http(&ans, port, "DELETE", npath, NULL), 204);
        free(ans);
        CU_ASSERT_EQUAL(http(&ans, port, "PUT", npath, dk), 201);
        assert_same(s, "note", nk, nrec, nlen, "PUT creating a string key from data and kinds");
        free(ans);
        free(dk);
        free(got);
        free(rec);
        free(nrec);
        /* data alone still reads as data */
        if (i == 0) {
            CU_ASSERT_EQUAL(http(&got, port, "GET", path, NULL), 200);
            dk = members(got, data_only);
            CU_ASSERT_EQUAL(http(&ans, port, "PUT", path, "{\"m\":{\"x\":\"AP8=\"}}"), 200);
            CU_ASSERT_PTR_NOT_NULL(strstr(ans, "\"data\":{\"m\":{\"x\":\"AP8=\"}}"));
            CU_ASSERT_PTR_NULL(strstr(ans, "\"kinds\""));
            free(ans);
            free(dk);
            free(got);
        }
    }
    /* the random values needed kinds in most entities, and nulls in some but not all: else the
     * test proves little */
    CU_ASSERT(with_kinds > 30);
    CU_ASSERT(with_null > 0 && with_null < 60);
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A bad "kinds" (or type, key, version) is refused naming it, and nothing is written. */
static void test_bad_kinds_refused(void)
{
    static const struct {
        const char *method, *body, *status, *says;
    } cases[] = {
        {"PUT", "{\"data\":{\"m\":{\"a\":\"AP8=\"}},\"kinds\":{\"/m/b\":\"bytes\"}}", "400", "\"/m/b\": names no value of the data"},
        {"PUT", "{\"data\":{\"m\":{\"a\":\"AP8=\"}},\"kinds\":{\"m/a\":\"bytes\"}}", "400", "\"m/a\": not a JSON Pointer"},
        {"PUT", "{\"data\":{\"m\":{\"a\":\"AP8\"}},\"kinds\":{\"/m/a\":\"bytes\"}}", "400", "\"/m/a\": bytes: \"AP8\" is not base64: its length 3"},
        {"PUT", "{\"data\":{\"m\":{\"a\":\"12x\"}},\"kinds\":{\"/m/a\":\"uint\"}}", "400", "\"/m/a\": uint: not decimal digits"},
        {"PUT", "{\"data\":{\"m\":{\"a\":\"nan\"}},\"kinds\":{\"/m/a\":\"float\"}}", "400", "\"/m/a\": float: not"},
        {"PUT", "{\"data\":{\"m\":{\"a\":\"x\"}},\"kinds\":{\"/m/a\":\"text\"}}", "400", "\"/m/a\": not a kind"},
        {"PUT", "{\"data\":{\"m\":{\"a\":5}},\"kinds\":{\"/m/a\":\"uint\"}}", "400", "\"/m/a\": names no string"},
        {"PUT", "{\"data\":{\"fb\":\"AP8=\"},\"kinds\":{\"/fb\":\"bytes\"}}", "400", "\"/fb\": names a declared field"},
        {"PUT", "{\"data\":{\"m\":{}},\"kinds\":[\"/m\"]}", "400", "\"kinds\" is not an object"},
        {"PUT", "{\"data\":{\"m\":{\"a~b\":\"AP8=\"}},\"kinds\":{\"/m/a~2b\":\"bytes\"}}", "400", "a '~' not followed by 0 or 1"},
        {"PUT", "{\"data\":[],\"kinds\":{}}", "400", "doc: \"data\" is not an object"},
        {"PUT", "{\"type\":\"note\",\"data\":{}}", "400", "doc: \"type\" \"note\" is not the type written to (doc)"},
        {"PUT", "{\"key\":2,\"data\":{}}", "400", "doc: \"key\" 2 is not the key of the path (1)"},
        {"PUT", "{\"key\":\"x1\",\"data\":{}}", "400", "doc: \"key\" is not a key of doc (an id from 1; above 2^63-1 a decimal string)"},
        /* an id as a decimal string is the id it spells, leading zeros and all, as in the path */
        {"PUT", "{\"key\":\"02\",\"data\":{}}", "400", "doc: \"key\" 2 is not the key of the path (1)"},
        {"PUT", "{\"version\":0,\"data\":{}}", "400", "doc: \"version\" is not a version"},
        {"PUT", "{\"version\":2,\"data\":{}}", "412", "\"version\": doc \"1\" is at version 1, not 2"},
        {"PATCH", "{\"version\":2,\"data\":{}}", "412", "\"version\": doc \"1\" is at version 1, not 2"},
        {"PUT", "{\"data\":{},\"other\":1}", "400", "doc.data: unknown field"},
        /* a patch's kinds name what it sets, not what is stored */
        {"PATCH", "{\"data\":{\"m\":{\"b\":\"AP8=\"}},\"kinds\":{\"/m/a\":\"bytes\"}}", "400", "\"/m/a\": names no value of the data"},
        {"PATCH", "{\"data\":{\"m\":{\"b\":null}},\"kinds\":{\"/m/b\":\"bytes\"}}", "400", "\"data\" holds a null at /m/b"},
        /* in the entity's JSON a null is a value (GET answers a free-form null so), in a merge
         * patch a removal: refused, naming it (also a declared field's, and in a deeper map) */
        {"PATCH", "{\"type\":\"doc\",\"key\":1,\"version\":1,\"data\":{\"m\":{\"a\":\"AP8=\",\"n\":null}}}", "400",
         "doc: \"data\" holds a null at /m/n, a value in the entity's JSON and a removal in a merge patch"},
        {"PATCH", "{\"data\":{\"fb\":null}}", "400", "\"data\" holds a null at /fb"},
        {"PATCH", "{\"data\":{\"dm\":{\"ff\":{\"x~/\":{\"y\":null}}}}}", "400", "\"data\" holds a null at /dm/ff/x~0~1/y"},
        {"PATCH", "{\"data\":{\"m\":{\"b\":\"AP8=\"}},\"kinds\":{\"/m/b\":\"uint\"}}", "400", "\"/m/b\": uint: not decimal digits"},
        {"POST", "{\"key\":1,\"data\":{}}", "400", "doc: \"key\": POST gives the new entity its key"},
        {"POST", "{\"version\":1,\"data\":{}}", "400", "doc: \"version\": a new entity starts at version 1"},
        {"POST", "{\"data\":{\"m\":{\"a\":\"AP8=\"}},\"kinds\":{\"/m/b\":\"bytes\"}}", "400", "\"/m/b\": names no value of the data"},
    };
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    ent_entity *e = NULL;
    void *rec = NULL;
    size_t rlen = 0;
    uint64_t first = 0, last = 0, last_now = 0;
    unsigned port;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    ENT_OK_(ent_http_start(&h, s, &o));
    port = ent_http_port(h);
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "doc")));
    ENT_OK_(ent_entity_set_json(e, "m", "{\"a\":\"AP8=\"}"));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
    record(&rec, &rlen, s, "doc", ent_key_id(1));
    ENT_OK_(ent_log_bounds(&first, &last, s, NULL));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *ans = NULL;
        int st = http(&ans, port, cases[i].method, !strcmp(cases[i].method, "POST") ? "/api/doc" : "/api/doc/1", cases[i].body);
        json_t *a = json_loads(ans ? ans : "", 0, NULL);
        const char *err = json_string_value(json_object_get(a, "error"));
        if (st != atoi(cases[i].status) || !err || !strstr(err, cases[i].says))
            fprintf(stderr, "\n  %s %s: %d %s (want %s \"%s\")\n", cases[i].method, cases[i].body, st, ans ? ans : "", cases[i].status,
                    cases[i].says);
        CU_ASSERT_EQUAL(st, atoi(cases[i].status));
        CU_ASSERT(err && strstr(err, cases[i].says));
        json_decref(a);
        free(ans);
    }
    assert_same(s, "doc", ent_key_id(1), rec, rlen, "refused writes");
    ENT_OK_(ent_log_bounds(&first, &last_now, s, NULL));
    CU_ASSERT_EQUAL(last_now, last); /* nothing written */
    free(rec);
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A type whose fields are called "data" and "kinds": a body of those is its data, as it was. */
static void test_fields_named_data(void)
{
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char *ans = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    ENT_OK_(ent_http_start(&h, s, &o));
    CU_ASSERT_EQUAL(http(&ans, ent_http_port(h), "POST", "/api/env", "{\"data\":{\"x\":\"AP8=\"},\"kinds\":{\"/data/x\":\"bytes\"}}"), 201);
    CU_ASSERT(ans && strstr(ans, "\"data\":{\"data\":{\"x\":\"AP8=\"},\"kinds\":{\"/data/x\":\"bytes\"}}"));
    free(ans);
    /* with a member that is no field ("type"), it is the entity's JSON */
    CU_ASSERT_EQUAL(http(&ans, ent_http_port(h), "PUT", "/api/env/1",
                         "{\"type\":\"env\",\"data\":{\"data\":{\"x\":\"AP8=\"}},\"kinds\":{\"/data/x\":\"bytes\"}}"), 200);
    CU_ASSERT(ans && strstr(ans, "\"data\":{\"data\":{\"x\":\"AP8=\"}},\"kinds\":{\"/data/x\":\"bytes\"}}"));
    free(ans);
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A type with fields type, key, version and data: GET's whole answer fits both readings (its data,
 * every member a field; the entity's JSON), and was written as data: a PUT stored GET's "key",
 * "version" and "data" in those fields, a POST made a new entity of them, a PATCH wrote them over
 * the stored ones, each 2xx. Refused (400), as `entity put` and `entity patch` refuse it, nothing
 * written; its "data" alone is the data, as the message says. */
static void test_fields_named_as_get(void)
{
    static const char *const methods[] = {"PUT", "PATCH", "POST"};
    ent_schema *sc = NULL;
    ent_store *s = open_memory(&sc);
    ent_http *h = NULL;
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    char *got = NULL, *ans = NULL, *data = NULL;
    void *rec = NULL;
    size_t rlen = 0;
    uint64_t first = 0, last = 0, last_now = 0;
    unsigned port;
    json_t *a;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    o.listen = "127.0.0.1:0";
    ENT_OK_(ent_http_start(&h, s, &o));
    port = ent_http_port(h);
    CU_ASSERT_EQUAL(http(&ans, port, "POST", "/api/rec", "{\"type\":\"t\",\"key\":7,\"version\":3,\"data\":{\"x\":\"y\"}}"), 201);
    free(ans);
    CU_ASSERT_EQUAL_FATAL(http(&got, port, "GET", "/api/rec/1", NULL), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "\"data\":{\"type\":\"t\",\"key\":7,\"version\":3,\"data\":{\"x\":\"y\"}}"));
    record(&rec, &rlen, s, "rec", ent_key_id(1));
    ENT_OK_(ent_log_bounds(&first, &last, s, NULL));
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        int st = http(&ans, port, methods[i], strcmp(methods[i], "POST") ? "/api/rec/1" : "/api/rec", got);
        if (st != 400) fprintf(stderr, "\n  %s of GET's answer: %d %s\n", methods[i], st, ans ? ans : "");
        CU_ASSERT_EQUAL(st, 400);
        CU_ASSERT(ans && strstr(ans, "rec: the input is the entity's JSON as `entity get` prints it and GET answers it, "
                                                  "and its members are also fields of rec (neither reading is safe): give its "
                                                  "\\\"data\\\" alone"));
        free(ans);
    }
    assert_same(s, "rec", ent_key_id(1), rec, rlen, "refused writes of GET's answer");
    ENT_OK_(ent_log_bounds(&first, &last_now, s, NULL));
    CU_ASSERT_EQUAL(last_now, last); /* nothing written */
    /* its "data" alone is the data, by PUT and PATCH */
    a = json_loads(got, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    json_object_set_new(json_object_get(a, "data"), "version", json_integer(4));
    data = json_dumps(json_object_get(a, "data"), JSON_COMPACT);
    CU_ASSERT_EQUAL(http(&ans, port, "PUT", "/api/rec/1", data), 200);
    CU_ASSERT(ans && strstr(ans, "\"version\":2,\"data\":{\"type\":\"t\",\"key\":7,\"version\":4,"));
    free(ans);
    CU_ASSERT_EQUAL(http(&ans, port, "PATCH", "/api/rec/1", "{\"version\":5}"), 200);
    CU_ASSERT(ans && strstr(ans, "\"version\":3,\"data\":{\"type\":\"t\",\"key\":7,\"version\":5,"));
    free(ans);
    free(data);
    json_decref(a);
    free(got);
    free(rec);
    ent_http_stop(h);
    ent_store_close(s);
    ent_schema_free(sc);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_write_back_keeps_kinds), ENT_TEST(test_bad_kinds_refused),
                                          ENT_TEST(test_fields_named_data), ENT_TEST(test_fields_named_as_get), {NULL, NULL}};
    return ent_test_run("http_kinds", cases);
}
