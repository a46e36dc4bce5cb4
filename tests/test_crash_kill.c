/* Crash safety: a child writes and reports every acknowledged commit to the parent; the parent
 * kills it with SIGKILL at a random moment, reopens the store and checks that every acknowledged
 * commit is there with its events, and that nothing is half-applied. Run in each durability mode:
 * the modes differ on a crash of the machine, not of the process (the page cache outlives it).
 *
 * Each transaction of the child keeps invariants a half-applied one would break: it creates one
 * "job" (with a unique name and an indexed bucket), sometimes deletes an older one, and sets the
 * "tally" entity to the number of jobs created and deleted so far. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

static const char schema_json[] =
    "{\"schema\":\"crash\",\"version\":1,\"types\":{"
    "\"job\":{\"key\":\"auto\",\"fields\":{"
    "  \"name\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "  \"bucket\":{\"id\":2,\"type\":\"int\",\"indexed\":true},"
    "  \"payload\":{\"id\":3,\"type\":\"bytes\"}}},"
    "\"tally\":{\"key\":\"string\",\"fields\":{"
    "  \"created\":{\"id\":1,\"type\":\"uint\",\"required\":true},"
    "  \"deleted\":{\"id\":2,\"type\":\"uint\",\"required\":true}}}}}";

static ent_durability mode = ENT_DURABLE;

typedef struct ack {
    uint64_t created, deleted, seq;
} ack;

static int open_store(ent_store **s, ent_schema **sc, const char *dir)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc = ent_schema_load_json(sc, schema_json, strlen(schema_json), "crash");
    o.durability = mode;
    o.map_size = 256 << 10; /* small: the map grows while the child is being killed */
    return rc ? rc : ent_store_open(s, dir, *sc, &o);
}

/* The child: write until killed, acknowledging each commit on fd. */
static void writer(const char *dir, int fd, unsigned seed)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_key tk = ent_key_str("t");
    uint64_t created = 0, deleted = 0;
    unsigned char payload[300];
    if (open_store(&s, &sc, dir)) _exit(3);
    {
        ent_entity *t = NULL;
        if (ent_get(&t, s, NULL, ent_store_type(s, "tally"), &tk) == ENT_OK) {
            ent_entity_get_uint(&created, t, "created");
            ent_entity_get_uint(&deleted, t, "deleted");
        }
        ent_entity_free(t);
    }
    srand(seed);
    for (;;) {
        ent_txn *w = NULL;
        ent_entity *job = NULL, *tally = NULL;
        char name[64];
        ack a;
        uint64_t last = 0;
        if (ent_txn_begin(&w, s, ENT_TXN_WRITE)) _exit(4);
        created++;
        snprintf(name, sizeof name, "job-%llu", (unsigned long long)created);
        for (size_t i = 0; i < sizeof payload; i++) payload[i] = (unsigned char)rand();
        if (ent_entity_new(&job, ent_store_type(s, "job")) || ent_entity_set_string(job, "name", name) ||
            ent_entity_set_int(job, "bucket", rand() % 10) ||
            ent_entity_set_bytes(job, "payload", payload, (size_t)(rand() % (int)sizeof payload)) ||
            ent_create(s, w, job))
            _exit(5);
        if (created > 5 && rand() % 3 == 0) {
            /* delete the oldest live job: ids run from deleted+1 */
            ent_key old = ent_key_id(deleted + 1);
            if (ent_delete(s, w, ent_store_type(s, "job"), &old, ENT_VERSION_ANY)) _exit(6);
            deleted++;
        }
        if (ent_entity_new(&tally, ent_store_type(s, "tally")) || ent_entity_set_key(tally, &tk) ||
            ent_entity_set_uint(tally, "created", created) || ent_entity_set_uint(tally, "deleted", deleted) ||
            ent_upsert(s, w, tally, ENT_VERSION_ANY))
            _exit(7);
        if (ent_log_bounds(NULL, &last, s, w)) _exit(8);
        if (ent_txn_commit(w)) _exit(9);
        ent_entity_free(job);
        ent_entity_free(tally);
        a.created = created;
        a.deleted = deleted;
        a.seq = last;
        if (write(fd, &a, sizeof a) != (ssize_t)sizeof a) _exit(10);
    }
}

static void check_store(const char *dir, const ack *last_ack, int round)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_entity *t = NULL;
    ent_key tk = ent_key_str("t");
    uint64_t created = 0, deleted = 0, jobs = 0, first = 0, last = 0, by_index = 0, creates = 0, deletes = 0;
    ENT_OK_(open_store(&s, &sc, dir));
    if (ent_get(&t, s, NULL, ent_store_type(s, "tally"), &tk) == ENT_OK) {
        ENT_OK_(ent_entity_get_uint(&created, t, "created"));
        ENT_OK_(ent_entity_get_uint(&deleted, t, "deleted"));
    }
    ent_entity_free(t);
    /* every acknowledged commit is there (or a later one) */
    CU_ASSERT(created >= last_ack->created);
    CU_ASSERT(deleted >= last_ack->deleted);
    /* nothing half-applied: the tally agrees with the jobs */
    ENT_OK_(ent_count(&jobs, s, NULL, ent_store_type(s, "job")));
    if (jobs != created - deleted)
        fprintf(stderr, "\n  round %d: %llu jobs, tally says %llu - %llu\n", round, (unsigned long long)jobs,
                (unsigned long long)created, (unsigned long long)deleted);
    CU_ASSERT_EQUAL(jobs, created - deleted);
    /* the index agrees with the entities */
    {
        ent_iter *it = NULL;
        ent_entity *e;
        ENT_OK_(ent_range(&it, s, NULL, ent_type_field(ent_store_type(s, "job"), "bucket"), NULL));
        while (ent_iter_next(&e, it) == ENT_OK) {
            by_index++;
            ent_entity_free(e);
        }
        ent_iter_free(it);
        CU_ASSERT_EQUAL(by_index, jobs);
    }
    for (uint64_t id = deleted + 1; id <= created; id += 1 + created / 50) {
        char name[64];
        ent_value v;
        ent_entity *e = NULL;
        snprintf(name, sizeof name, "job-%llu", (unsigned long long)id);
        v = ent_value_string(name);
        ENT_OK_(ent_find_unique(&e, s, NULL, ent_type_field(ent_store_type(s, "job"), "name"), &v));
        CU_ASSERT_EQUAL(ent_entity_key(e).id, id);
        ent_entity_free(e);
    }
    /* the log: every acknowledged event, gap-free, and exactly one event per change */
    ENT_OK_(ent_log_bounds(&first, &last, s, NULL));
    CU_ASSERT(last >= last_ack->seq);
    {
        ent_log_cursor *c = NULL;
        ent_event *ev;
        uint64_t expect = 1;
        ENT_OK_(ent_log_cursor_open(&c, s, 1, ent_store_type(s, "job"), 0));
        while (ent_log_next(&ev, c) == ENT_OK) {
            CU_ASSERT(ev->seq >= expect);
            expect = ev->seq + 1;
            if (ev->op == ENT_OP_CREATE) creates++;
            if (ev->op == ENT_OP_DELETE) deletes++;
            ent_event_free(ev);
        }
        ent_log_cursor_free(c);
        CU_ASSERT_EQUAL(creates, created);
        CU_ASSERT_EQUAL(deletes, deleted);
    }
    {
        uint64_t problems = 0;
        ENT_OK_(ent_store_verify(&problems, s, NULL, NULL));
        CU_ASSERT_EQUAL(problems, 0);
    }
    ent_store_close(s);
    ent_schema_free(sc);
}

static void kill_writer(int rounds)
{
    char dir[] = "/tmp/ent_crash_XXXXXX", cmd[128];
    ack last = {0, 0, 0};
    int acked_total = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    srand((unsigned)time(NULL));
    printf("\n  crash test in %s, seed %u\n", dir, (unsigned)time(NULL));
    for (int r = 0; r < rounds; r++) {
        int p[2], status;
        pid_t pid;
        ack a;
        ssize_t n;
        struct timespec delay = {0, (long)(5 + rand() % 60) * 1000000L};
        CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
        fflush(stdout);
        pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            writer(dir, p[1], (unsigned)(r * 7919 + 1));
        }
        close(p[1]);
        nanosleep(&delay, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fprintf(stderr, "\n  round %d: the writer ended by itself (status %d)\n", r, status);
        CU_ASSERT(WIFSIGNALED(status));
        /* everything the child acknowledged before it died */
        while ((n = read(p[0], &a, sizeof a)) == (ssize_t)sizeof a) {
            last = a;
            acked_total++;
        }
        close(p[0]);
        check_store(dir, &last, r);
    }
    printf("  %s: %d rounds, %d acknowledged commits, last seq %llu\n",
           mode == ENT_DURABLE ? "durable" : mode == ENT_LAZY ? "lazy" : "none", rounds, acked_total,
           (unsigned long long)last.seq);
    CU_ASSERT(acked_total > 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

static void t_kill_writer_durable(void)
{
    mode = ENT_DURABLE;
    kill_writer(25);
}

static void t_kill_writer_lazy(void)
{
    mode = ENT_LAZY;
    kill_writer(15);
}

static void t_kill_writer_none(void)
{
    mode = ENT_NONE;
    kill_writer(15);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(t_kill_writer_durable), ENT_TEST(t_kill_writer_lazy),
                                          ENT_TEST(t_kill_writer_none), {NULL, NULL}};
    return ent_test_run("crash", cases);
}
