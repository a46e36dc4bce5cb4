/* Crash safety: a child writes and reports every acknowledged commit to the parent; the parent
 * kills it with SIGKILL at a random moment, reopens the store and checks that every acknowledged
 * commit is there with its events, and that nothing is half-applied. Run in each durability mode:
 * the modes differ on a crash of the machine, not of the process (the page cache outlives it).
 *
 * Each transaction of the child keeps invariants a half-applied one would break: it creates one
 * "job" (with a unique name and an indexed bucket), sometimes deletes an older one, and sets the
 * "tally" entity to the number of jobs created and deleted so far.
 *
 * The grouped variant kills a child whose 16 threads write through ent_txn_run() without a
 * transaction of their own, so their calls share group commits: each call creates a job and sets
 * its thread's tally, and every fifth call undoes itself (a duplicate name) inside its group. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "test_reboot.h"

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
            ent_entity_set_bytes(job, "payload", payload, (size_t)rand() % sizeof payload) ||
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
    char dir[ENT_TEST_PATH_MAX];
    ack last = {0, 0, 0};
    int acked_total = 0;
    ENT_TEST_MKDTEMP(dir, "crash-kill");
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
    ent_test_rm_rf(dir);
}

/* ---- 16 writer threads in group commits ------------------------------------------------------- */

enum { GTHREADS = 16 };

typedef struct gack {
    uint32_t tid, pad;
    uint64_t n, seq;
} gack;

typedef struct gcall {
    ent_store *s;
    int tid;
    uint64_t n;
    int doomed;
    uint64_t seq;
    unsigned seed;
} gcall;

static int grouped_call(ent_txn *txn, void *p)
{
    gcall *c = p;
    ent_entity *job = NULL, *tally = NULL;
    char name[64], tkey[16];
    unsigned char payload[200];
    ent_key tk;
    int rc;
    snprintf(name, sizeof name, c->doomed ? "w%d-x%llu" : "w%d-%llu", c->tid, (unsigned long long)c->n);
    snprintf(tkey, sizeof tkey, "t%d", c->tid);
    tk = ent_key_str(tkey);
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (unsigned char)rand_r(&c->seed);
    if ((rc = ent_entity_new(&job, ent_store_type(c->s, "job"))) || (rc = ent_entity_set_string(job, "name", name)) ||
        (rc = ent_entity_set_int(job, "bucket", c->tid)) ||
        (rc = ent_entity_set_bytes(job, "payload", payload, (size_t)rand_r(&c->seed) % sizeof payload)) ||
        (rc = ent_create(c->s, txn, job)))
        goto out;
    if (c->doomed) { /* a second job under a name that is taken: the call fails, its first job goes */
        ent_entity_free(job);
        job = NULL;
        snprintf(name, sizeof name, "w%d-1", c->tid);
        if ((rc = ent_entity_new(&job, ent_store_type(c->s, "job"))) || (rc = ent_entity_set_string(job, "name", name)))
            goto out;
        rc = ent_create(c->s, txn, job);
        goto out;
    }
    if ((rc = ent_entity_new(&tally, ent_store_type(c->s, "tally"))) || (rc = ent_entity_set_key(tally, &tk)) ||
        (rc = ent_entity_set_uint(tally, "created", c->n)) || (rc = ent_entity_set_uint(tally, "deleted", 0)) ||
        (rc = ent_upsert(c->s, txn, tally, ENT_VERSION_ANY)))
        goto out;
    rc = ent_log_bounds(NULL, &c->seq, c->s, txn);
out:
    ent_entity_free(job);
    ent_entity_free(tally);
    return rc;
}

typedef struct gthread {
    ent_store *s;
    int tid, fd;
    uint64_t start;
} gthread;

static void *grouped_thread(void *p)
{
    gthread *g = p;
    gcall c;
    memset(&c, 0, sizeof c);
    c.s = g->s;
    c.tid = g->tid;
    c.seed = (unsigned)getpid() * 131u + (unsigned)g->tid;
    for (uint64_t n = g->start + 1;; ) {
        int rc;
        c.n = n;
        c.doomed = n > 1 && rand_r(&c.seed) % 5 == 0;
        rc = ent_txn_run(g->s, grouped_call, &c);
        if (c.doomed) {
            if (rc != ENT_CONFLICT) _exit(20);
            continue;
        }
        if (rc) _exit(21);
        {
            gack a = {(uint32_t)g->tid, 0, n, c.seq};
            if (write(g->fd, &a, sizeof a) != (ssize_t)sizeof a) _exit(22); /* < PIPE_BUF: atomic */
        }
        n++;
    }
    return NULL;
}

static void grouped_writer(const char *dir, int fd)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    pthread_t th[GTHREADS];
    gthread g[GTHREADS];
    if (open_store(&s, &sc, dir)) _exit(3);
    for (int i = 0; i < GTHREADS; i++) {
        char tkey[16];
        ent_key tk;
        ent_entity *t = NULL;
        snprintf(tkey, sizeof tkey, "t%d", i);
        tk = ent_key_str(tkey);
        g[i] = (gthread){s, i, fd, 0};
        if (ent_get(&t, s, NULL, ent_store_type(s, "tally"), &tk) == ENT_OK) ent_entity_get_uint(&g[i].start, t, "created");
        ent_entity_free(t);
    }
    for (int i = 0; i < GTHREADS; i++)
        if (pthread_create(&th[i], NULL, grouped_thread, &g[i])) _exit(23);
    for (int i = 0; i < GTHREADS; i++) pthread_join(th[i], NULL);
    _exit(24);
}

static void check_grouped(const char *dir, const gack *acked, int round)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    uint64_t total = 0, jobs = 0, last = 0, max_seq = 0, creates = 0, problems = 0;
    const ent_type *jt;
    ENT_OK_(open_store(&s, &sc, dir));
    jt = ent_store_type(s, "job");
    for (int i = 0; i < GTHREADS; i++) {
        char tkey[16];
        ent_key tk;
        ent_entity *t = NULL;
        uint64_t created = 0;
        snprintf(tkey, sizeof tkey, "t%d", i);
        tk = ent_key_str(tkey);
        if (ent_get(&t, s, NULL, ent_store_type(s, "tally"), &tk) == ENT_OK) ENT_OK_(ent_entity_get_uint(&created, t, "created"));
        ent_entity_free(t);
        /* every acknowledged call is there, and its thread's jobs with it */
        if (created < acked[i].n) fprintf(stderr, "\n  round %d: thread %d acknowledged %llu, the store has %llu\n", round, i,
                                          (unsigned long long)acked[i].n, (unsigned long long)created);
        CU_ASSERT(created >= acked[i].n);
        for (uint64_t n = created; n >= 1 && n + 3 > created; n--) {
            char name[64];
            ent_value v;
            ent_entity *e = NULL;
            snprintf(name, sizeof name, "w%d-%llu", i, (unsigned long long)n);
            v = ent_value_string(name);
            ENT_OK_(ent_find_unique(&e, s, NULL, ent_type_field(jt, "name"), &v));
            ent_entity_free(e);
        }
        total += created;
        if (acked[i].seq > max_seq) max_seq = acked[i].seq;
    }
    /* nothing of a refused or unacknowledged call half there: one job per counted call */
    ENT_OK_(ent_count(&jobs, s, NULL, jt));
    CU_ASSERT_EQUAL(jobs, total);
    ENT_OK_(ent_log_bounds(NULL, &last, s, NULL));
    CU_ASSERT(last >= max_seq);
    {
        /* each call's two events (its job, its tally) are contiguous and share a txn number */
        ent_log_cursor *c = NULL;
        ent_event *ev, *prev = NULL;
        int bad = 0;
        ENT_OK_(ent_log_cursor_open(&c, s, 1, NULL, 0));
        while (ent_log_next(&ev, c) == ENT_OK) {
            if (ev->type == jt) {
                creates++;
                if (prev) bad++; /* the previous call left a job without its tally */
                ent_event_free(prev);
                prev = ev;
                continue;
            }
            if (!prev || prev->txn != ev->txn || prev->seq + 1 != ev->seq) bad++;
            ent_event_free(prev);
            prev = NULL;
            ent_event_free(ev);
        }
        if (prev) bad++;
        ent_event_free(prev);
        ent_log_cursor_free(c);
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL(creates, total);
    }
    ENT_OK_(ent_store_verify(&problems, s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    ent_store_close(s);
    ent_schema_free(sc);
}

static void t_kill_grouped_writers_durable(void)
{
    char dir[ENT_TEST_PATH_MAX];
    gack acked[GTHREADS];
    int acked_total = 0, rounds = 10;
    memset(acked, 0, sizeof acked);
    mode = ENT_DURABLE;
    ENT_TEST_MKDTEMP(dir, "crash-kill");
    srand((unsigned)time(NULL) ^ 0x5a5a);
    for (int r = 0; r < rounds; r++) {
        int p[2], status;
        pid_t pid;
        gack a;
        struct timespec delay = {0, (long)(5 + rand() % 120) * 1000000L};
        struct pollfd pf;
        CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
        fflush(stdout);
        pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            grouped_writer(dir, p[1]);
        }
        close(p[1]);
        /* The kill lands while the threads write: after the first acknowledgement (a slow disk may
         * take long to give one; 30 s at most), at a random moment. */
        pf.fd = p[0];
        pf.events = POLLIN;
        poll(&pf, 1, 30000);
        nanosleep(&delay, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fprintf(stderr, "\n  round %d: the writer ended by itself (status %d)\n", r, status);
        CU_ASSERT(WIFSIGNALED(status));
        while (read(p[0], &a, sizeof a) == (ssize_t)sizeof a) {
            if (a.tid < GTHREADS && a.n > acked[a.tid].n) acked[a.tid] = a;
            acked_total++;
        }
        close(p[0]);
        check_grouped(dir, acked, r);
        if (r % 3 == 2) { /* and had the machine stopped too (the records put back) */
            char rb[ENT_TEST_PATH_MAX + 16];
            /* as a machine that lost its power right after the kill finds it once booted again */
            CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
            ent_test_reboot_copy(dir, rb, 0);
            check_grouped(rb, acked, r);
            ent_test_rm_rf(rb);
        }
    }
    printf("\n  grouped durable: %d rounds, %d acknowledged calls from %d threads\n", rounds, acked_total, GTHREADS);
    CU_ASSERT(acked_total > 0);
    ent_test_rm_rf(dir);
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
                                          ENT_TEST(t_kill_writer_none), ENT_TEST(t_kill_grouped_writers_durable),
                                          {NULL, NULL}};
    return ent_test_run("crash", cases);
}
