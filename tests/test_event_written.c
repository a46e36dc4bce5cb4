/* ent_event_as_written(): an event read with the store's current schema lacks the fields a later
 * version removed; read again with the version that wrote it, it has them, and the JSON printed
 * from it is the line printed before the evolution. Several evolutions, the cache of older
 * versions kept while another handle or process evolves the store, threads sharing it (run under
 * TSan: build-tsan), and the memory backend (one schema version per store: nothing to re-read). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

/* v1: a, b, d. v2: b removed. v3: c added with a default. v4: d removed. */
static const char *const versions[] = {
    NULL,
    "{\"schema\":\"wr\",\"version\":1,\"types\":{\"t\":{\"key\":\"string\",\"fields\":{"
    "\"a\":{\"id\":1,\"type\":\"int\"},\"b\":{\"id\":2,\"type\":\"string\"},\"d\":{\"id\":4,\"type\":\"string\"}}}}}",
    "{\"schema\":\"wr\",\"version\":2,\"types\":{\"t\":{\"key\":\"string\",\"fields\":{"
    "\"a\":{\"id\":1,\"type\":\"int\"},\"d\":{\"id\":4,\"type\":\"string\"}}}}}",
    "{\"schema\":\"wr\",\"version\":3,\"types\":{\"t\":{\"key\":\"string\",\"fields\":{"
    "\"a\":{\"id\":1,\"type\":\"int\"},\"d\":{\"id\":4,\"type\":\"string\"},"
    "\"c\":{\"id\":3,\"type\":\"int\",\"default\":7}}}}}",
    "{\"schema\":\"wr\",\"version\":4,\"types\":{\"t\":{\"key\":\"string\",\"fields\":{"
    "\"a\":{\"id\":1,\"type\":\"int\"},\"c\":{\"id\":3,\"type\":\"int\",\"default\":7}}}}}",
};

/* Open dir at schema version v (evolving it), durability none. */
static int open_v(ent_store **out, const char *dir, int v, const char *backend)
{
    ent_schema *sc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc;
    o.backend = backend;
    o.durability = ENT_NONE;
    if ((rc = ent_schema_load_json(&sc, versions[v], strlen(versions[v]), "wr"))) return rc;
    rc = ent_store_open(out, dir, sc, &o);
    ent_schema_free(sc); /* the store keeps its own copy */
    return rc;
}

/* Create (update: 0) t `key` with the body's fields. */
static int write_t(ent_store *s, const char *key, const char *body, int create)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str(key);
    int rc = ent_entity_from_body(&e, NULL, ent_store_type(s, "t"), body, strlen(body));
    if (!rc) rc = ent_entity_set_key(e, &k);
    if (!rc) rc = create ? ent_create(s, NULL, e) : ent_update(s, NULL, e, ENT_VERSION_ANY);
    ent_entity_free(e);
    return rc;
}

/* The JSON line of event seq as written (what the CLI and entity-http print); the caller frees
 * it. *copied: whether ent_event_as_written() made a copy. */
static char *line_of(ent_store *s, uint64_t seq, int *copied)
{
    ent_event *ev = NULL, *w = NULL;
    char *j = NULL;
    ENT_OK_(ent_log_get(&ev, s, NULL, seq));
    ENT_OK_(ent_event_as_written(&w, s, ev));
    if (w) {
        /* the same event, only read with another schema */
        CU_ASSERT_EQUAL(w->seq, ev->seq);
        CU_ASSERT_EQUAL(w->ts, ev->ts);
        CU_ASSERT_EQUAL(w->txn, ev->txn);
        CU_ASSERT_EQUAL(w->op, ev->op);
        CU_ASSERT_EQUAL(w->version, ev->version);
        CU_ASSERT_STRING_EQUAL(ent_type_name(w->type), ent_type_name(ev->type));
        CU_ASSERT_PTR_NOT_EQUAL(w->type, ent_store_type(s, "t"));
    }
    if (copied) *copied = w != NULL;
    ENT_OK_(ent_event_to_json(&j, w ? w : ev, 0));
    ent_event_free(w);
    ent_event_free(ev);
    return j;
}

/* The data member of a line (from "data": to the end). */
static const char *data_of(const char *line)
{
    const char *d = strstr(line, "\"data\":");
    return d ? d + 7 : "";
}

static void expect_data(ent_store *s, uint64_t seq, const char *want, int want_copy)
{
    int copied = -1;
    char *j = line_of(s, seq, &copied);
    if (strcmp(data_of(j), want) || copied != want_copy)
        fprintf(stderr, "\n  seq %llu: %s (copied %d), want data %s (copied %d)\n", (unsigned long long)seq, j, copied,
                want, want_copy);
    CU_ASSERT_STRING_EQUAL(data_of(j), want);
    CU_ASSERT_EQUAL(copied, want_copy);
    free(j);
}

/* Events written under versions 1 to 4 of one store, read at version 4: each one as written. */
static void t_several_evolutions(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    char *before1 = NULL, *after1 = NULL;
    ENT_TEST_MKDTEMP(dir, "written");
    ENT_OK_(open_v(&s, dir, 1, "lmdb"));
    ENT_OK_(write_t(s, "k1", "{\"a\":1,\"b\":\"old\",\"d\":\"dd\"}", 1)); /* seq 1, v1 */
    ENT_OK_(write_t(s, "k1", "{\"b\":\"older\"}", 0));                   /* seq 2, v1 */
    ENT_OK_(write_t(s, "k9", "{\"a\":9}", 1));                           /* seq 3, v1 */
    ENT_OK_(ent_delete(s, NULL, ent_store_type(s, "t"), &(ent_key){.kind = ENT_KEY_STRING, .str = "k9", .len = 2},
                       ENT_VERSION_ANY));                                   /* seq 4, v1 */
    before1 = line_of(s, 1, NULL);
    ent_store_close(s);
    ENT_OK_(open_v(&s, dir, 2, "lmdb"));
    ENT_OK_(write_t(s, "k2", "{\"a\":2,\"d\":\"d2\"}", 1)); /* seq 5, v2 */
    ent_store_close(s);
    ENT_OK_(open_v(&s, dir, 3, "lmdb"));
    ENT_OK_(write_t(s, "k1", "{\"a\":3}", 0)); /* seq 6, v3: stores c's default */
    ent_store_close(s);
    ENT_OK_(open_v(&s, dir, 4, "lmdb"));
    ENT_OK_(write_t(s, "k3", "{\"a\":5}", 1)); /* seq 7, v4 */

    /* the line printed before any evolution, word for word */
    after1 = line_of(s, 1, NULL);
    CU_ASSERT_STRING_EQUAL(after1, before1);
    expect_data(s, 1, "{\"a\":1,\"b\":\"old\",\"d\":\"dd\"}}", 1);
    expect_data(s, 2, "{\"b\":\"older\"}}", 1);
    expect_data(s, 3, "{\"a\":9}}", 1); /* nothing removed is in it: a copy all the same */
    expect_data(s, 4, "{}}", 0);       /* a delete: nothing a schema changes */
    expect_data(s, 5, "{\"a\":2,\"d\":\"d2\"}}", 1);
    /* c's default is not put into events written before c was added; the write under v3 stored it */
    expect_data(s, 6, "{\"a\":3,\"c\":7}}", 1);
    expect_data(s, 7, "{\"a\":5,\"c\":7}}", 0);
    free(before1);
    free(after1);
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

/* Each older version is parsed once: two events of one version share its types. */
static void t_cache_shared(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_event *e1 = NULL, *e2 = NULL, *w1 = NULL, *w2 = NULL;
    ENT_TEST_MKDTEMP(dir, "written");
    ENT_OK_(open_v(&s, dir, 1, "lmdb"));
    ENT_OK_(write_t(s, "k1", "{\"a\":1,\"b\":\"x\"}", 1));
    ENT_OK_(write_t(s, "k2", "{\"a\":2,\"b\":\"y\"}", 1));
    ent_store_close(s);
    ENT_OK_(open_v(&s, dir, 2, "lmdb"));
    ENT_OK_(ent_log_get(&e1, s, NULL, 1));
    ENT_OK_(ent_log_get(&e2, s, NULL, 2));
    ENT_OK_(ent_event_as_written(&w1, s, e1));
    ENT_OK_(ent_event_as_written(&w2, s, e2));
    CU_ASSERT_PTR_NOT_NULL_FATAL(w1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w2);
    CU_ASSERT_PTR_EQUAL(w1->type, w2->type);
    CU_ASSERT_EQUAL(ent_schema_version(ent_type_schema(w1->type)), 1);
    CU_ASSERT_PTR_NOT_NULL(ent_type_field(w1->type, "b"));
    CU_ASSERT_PTR_NULL(ent_type_field(e1->type, "b"));
    ent_event_free(w2);
    ent_event_free(e2);
    ent_event_free(e1);
    ent_event_free(w1); /* before the close, which frees the version it borrows */
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

/* Another process evolves the store twice while this handle holds the cache (marks up to v2,
 * version 1 parsed) and an event borrowed from it: the marks are read again when an event comes
 * under a version they lack, and the event handed out before stays valid. */
static int child_evolve(const char *dir, int v, const char *key, const char *body)
{
    ent_store *s = NULL;
    int rc = open_v(&s, dir, v, "lmdb");
    if (!rc) rc = write_t(s, key, body, 1);
    ent_store_close(s);
    return rc;
}

static void evolve_in_child(const char *dir, int v, const char *key, const char *body)
{
    pid_t c;
    int st = 0;
    fflush(stdout);
    fflush(stderr);
    c = fork();
    if (c == 0) _exit(child_evolve(dir, v, key, body) ? 1 : 0);
    CU_ASSERT_FATAL(c > 0);
    waitpid(c, &st, 0);
    CU_ASSERT_FATAL(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void t_other_process_evolves(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_log_cursor *c = NULL;
    ent_event *ev = NULL, *held = NULL;
    char *j = NULL;
    ENT_TEST_MKDTEMP(dir, "written");
    ENT_OK_(open_v(&s, dir, 1, "lmdb"));
    ENT_OK_(write_t(s, "k1", "{\"a\":1,\"b\":\"old\",\"d\":\"dd\"}", 1)); /* seq 1, v1 */
    ent_store_close(s);
    ENT_OK_(open_v(&s, dir, 2, "lmdb"));
    ENT_OK_(write_t(s, "k2", "{\"a\":2,\"d\":\"d2\"}", 1)); /* seq 2, v2 */
    ENT_OK_(ent_log_cursor_open(&c, s, 1, NULL, 0));
    ENT_OK_(ent_log_next(&ev, c));
    ENT_OK_(ent_event_as_written(&held, s, ev)); /* v1 parsed, marks up to v2 */
    ent_event_free(ev);
    CU_ASSERT_PTR_NOT_NULL_FATAL(held);
    ENT_OK_(ent_log_next(&ev, c));
    {
        ent_event *w = NULL;
        ENT_OK_(ent_event_as_written(&w, s, ev)); /* written under v2, the current one */
        CU_ASSERT_PTR_NULL(w);
        ent_event_free(w);
    }
    ent_event_free(ev);

    evolve_in_child(dir, 3, "k3", "{\"a\":3}");        /* seq 3, v3 */
    evolve_in_child(dir, 4, "k4", "{\"a\":4}");        /* seq 4, v4: d removed */
    /* read by this handle with v4 now: seq 2 (v2) had d, seq 4 is as read */
    expect_data(s, 2, "{\"a\":2,\"d\":\"d2\"}}", 1);
    expect_data(s, 3, "{\"a\":3,\"c\":7}}", 1);
    expect_data(s, 4, "{\"a\":4,\"c\":7}}", 0);
    expect_data(s, 1, "{\"a\":1,\"b\":\"old\",\"d\":\"dd\"}}", 1);
    /* the cursor goes on under v4 */
    evolve_in_child(dir, 4, "k5", "{\"a\":5}");
    ENT_OK_(ent_log_next(&ev, c));
    CU_ASSERT_EQUAL(ev->seq, 3);
    ent_event_free(ev);
    /* the event handed out before the evolutions is still whole */
    ENT_OK_(ent_event_to_json(&j, held, 0));
    CU_ASSERT_STRING_EQUAL(data_of(j), "{\"a\":1,\"b\":\"old\",\"d\":\"dd\"}}");
    free(j);
    ent_event_free(held);
    ent_log_cursor_free(c);
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

/* Threads share one handle's cache while another handle of this process evolves the store and
 * writes: every event each thread prints is the one written (TSan checks the cache's locking). */
typedef struct reader {
    ent_store *s;
    atomic_int *stop;
    int bad;
    atomic_ulong rounds;
} reader;

static const char *const want_data[] = {
    NULL,
    "{\"a\":1,\"b\":\"old\",\"d\":\"dd\"}}", /* seq 1, v1 */
    "{\"a\":2,\"d\":\"d2\"}}",               /* seq 2, v2 */
    "{\"a\":3,\"c\":7}}",                    /* seq 3, v3 */
    "{\"a\":4,\"c\":7}}",                    /* seq 4, v4 */
};

static void *read_loop(void *arg)
{
    reader *r = arg;
    do {
        ent_log_cursor *c = NULL;
        ent_event *ev;
        if (ent_log_cursor_open(&c, r->s, 1, NULL, 0)) {
            fprintf(stderr, "\n  cursor: %s\n", ent_errmsg());
            r->bad++;
            atomic_fetch_add(&r->rounds, 1);
            continue;
        }
        while (ent_log_next(&ev, c) == ENT_OK) {
            ent_event *w = NULL;
            char *j = NULL;
            if (ent_event_as_written(&w, r->s, ev) || ent_event_to_json(&j, w ? w : ev, 0) || ev->seq > 4 ||
                strcmp(data_of(j), want_data[ev->seq])) {
                if (!r->bad) fprintf(stderr, "\n  seq %llu: %s (%s)\n", (unsigned long long)ev->seq, j ? j : "-", ent_errmsg());
                r->bad++;
            }
            free(j);
            ent_event_free(w);
            ent_event_free(ev);
        }
        ent_log_cursor_free(c);
        atomic_fetch_add(&r->rounds, 1);
    } while (!atomic_load(r->stop));
    return NULL;
}

static void t_threads_share_cache(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL, *w = NULL;
    atomic_int stop = 0;
    reader rd[3];
    pthread_t th[3];
    ENT_TEST_MKDTEMP(dir, "written");
    ENT_OK_(open_v(&s, dir, 1, "lmdb"));
    ENT_OK_(write_t(s, "k1", "{\"a\":1,\"b\":\"old\",\"d\":\"dd\"}", 1));
    for (int i = 0; i < 3; i++) {
        rd[i].s = s;
        rd[i].stop = &stop;
        rd[i].bad = 0;
        atomic_init(&rd[i].rounds, 0);
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, read_loop, &rd[i]), 0);
    }
    /* another handle of this process evolves the store under the readers, version by version */
    ENT_OK_(open_v(&w, dir, 2, "lmdb"));
    ENT_OK_(write_t(w, "k2", "{\"a\":2,\"d\":\"d2\"}", 1));
    ent_store_close(w);
    ENT_OK_(open_v(&w, dir, 3, "lmdb"));
    ENT_OK_(write_t(w, "k3", "{\"a\":3}", 1));
    ent_store_close(w);
    ENT_OK_(open_v(&w, dir, 4, "lmdb"));
    ENT_OK_(write_t(w, "k4", "{\"a\":4}", 1));
    ent_store_close(w);
    /* every reader goes over the whole log once more, begun after v4 (two rounds ended from
     * now): a wait for progress, not for a time */
    for (int i = 0; i < 3; i++) {
        unsigned long at = atomic_load(&rd[i].rounds);
        while (atomic_load(&rd[i].rounds) < at + 2) usleep(1000);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(rd[i].bad, 0);
    }
    for (uint64_t seq = 1; seq <= 4; seq++) expect_data(s, seq, want_data[seq], seq < 4);
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

/* The memory backend keeps one schema version per store (an evolution reopens it, empty): its
 * history has that version, and no event is copied. */
static void t_memory_backend(void)
{
    ent_store *s = NULL;
    ENT_OK_(open_v(&s, NULL, 1, "memory"));
    ENT_OK_(write_t(s, "k1", "{\"a\":1,\"b\":\"old\"}", 1));
    ENT_OK_(write_t(s, "k1", "{\"b\":\"new\"}", 0));
    expect_data(s, 1, "{\"a\":1,\"b\":\"old\"}}", 0);
    expect_data(s, 2, "{\"b\":\"new\"}}", 0);
    ent_store_close(s);
}

/* An event trimmed from the log since it was read cannot be read again: ENT_NOTFOUND. */
static void t_trimmed(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_event *ev = NULL, *w = NULL;
    ENT_TEST_MKDTEMP(dir, "written");
    ENT_OK_(open_v(&s, dir, 1, "lmdb"));
    ENT_OK_(write_t(s, "k1", "{\"a\":1,\"b\":\"old\"}", 1));
    ENT_OK_(write_t(s, "k2", "{\"a\":2}", 1));
    ent_store_close(s);
    ENT_OK_(open_v(&s, dir, 2, "lmdb"));
    ENT_OK_(ent_log_get(&ev, s, NULL, 1));
    ENT_OK_(ent_log_truncate(s, 2, 1));
    ENT_CHECK_RC(ent_event_as_written(&w, s, ev), ENT_NOTFOUND);
    CU_ASSERT_PTR_NULL(w);
    ent_event_free(ev);
    ent_store_close(s);
    ent_test_rm_rf(dir);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(t_several_evolutions), ENT_TEST(t_cache_shared),
                                          ENT_TEST(t_other_process_evolves), ENT_TEST(t_threads_share_cache),
                                          ENT_TEST(t_memory_backend), ENT_TEST(t_trimmed), {NULL, NULL}};
    return ent_test_run("event_written", cases);
}
