/* The log across processes (LMDB): a follower process sees every commit of a writer process, in
 * order, woken by each commit rather than by polling (median wake-up latency printed, not
 * asserted); a durable subscription's consumer killed with SIGKILL resumes from its last
 * acknowledgement and misses nothing (at least once); a follower waiting when a writer is killed
 * after its commit became visible and before it woke the waiters still sees that commit; followers
 * killed while they wait leave no count in the notify page. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend_fault.h"
#include "backend_lmdb_int.h" /* lnotify: the waiters a killed writer's commit should wake */
#include "bk.h"
#include "test_util.h"

static const char schema_json[] =
    "{\"schema\":\"f\",\"version\":1,\"types\":{\"tick\":{\"key\":\"auto\",\"fields\":{"
    "\"n\":{\"id\":1,\"type\":\"uint\",\"required\":true}}}}}";

enum { TICKS = 200 };

static int open_store(ent_store **s, ent_schema **sc, const char *dir)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc = ent_schema_load_json(sc, schema_json, strlen(schema_json), "f");
    o.durability = ENT_NONE;
    return rc ? rc : ent_store_open(s, dir, *sc, &o);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Follower: wait for each commit, read it, record commit-to-wake latency; report on fd. */
static int follower(const char *dir, int fd)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_log_cursor *c = NULL;
    uint64_t expect = 1;
    static int64_t lat[TICKS];
    int nl = 0;
    if (open_store(&s, &sc, dir) || ent_log_cursor_open(&c, s, 1, NULL, 0)) return 3;
    if (write(fd, "r", 1) != 1) return 4; /* ready */
    while (expect <= TICKS) {
        ent_event *ev = NULL;
        uint64_t last = 0;
        int rc = ent_log_wait(&last, s, expect - 1, 10000);
        int64_t woke = now_ns();
        if (rc) return 5;
        while (ent_log_next(&ev, c) == ENT_OK) {
            uint64_t n = 0;
            if (ev->seq != expect) return 6; /* in order, none missed */
            if (ent_entity_get_uint(&n, ev->data, "n") || n != expect) return 7;
            if (nl < TICKS && ev->seq == last) lat[nl++] = woke - ev->ts;
            expect++;
            ent_event_free(ev);
        }
    }
    qsort(lat, (size_t)nl, sizeof lat[0], cmp_i64);
    {
        int64_t med = nl ? lat[nl / 2] : -1;
        if (write(fd, &med, sizeof med) != (ssize_t)sizeof med) return 8;
    }
    ent_log_cursor_free(c);
    ent_store_close(s);
    ent_schema_free(sc);
    return 0;
}

static void t_follow_other_process(void)
{
    char dir[ENT_TEST_PATH_MAX], ready;
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    int p[2], st = 0;
    pid_t pid;
    int64_t median = -1;
    ENT_TEST_MKDTEMP(dir, "follow-process");
    ENT_OK_(open_store(&s, &sc, dir));
    ent_store_close(s);
    ent_schema_free(sc);
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        _exit(follower(dir, p[1]));
    }
    close(p[1]);
    CU_ASSERT_EQUAL_FATAL(read(p[0], &ready, 1), 1);
    ENT_OK_(open_store(&s, &sc, dir));
    for (uint64_t i = 1; i <= TICKS; i++) {
        ent_entity *e = NULL;
        struct timespec gap = {0, 2 * 1000000};
        ENT_OK_(ent_entity_new(&e, ent_store_type(s, "tick")));
        ENT_OK_(ent_entity_set_uint(e, "n", i));
        ENT_OK_(ent_create(s, NULL, e));
        ent_entity_free(e);
        nanosleep(&gap, NULL);
    }
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "\n  follower ended with %d\n", st);
    if (read(p[0], &median, sizeof median) == (ssize_t)sizeof median)
        printf("\n  follower saw %d commits of another process in order; median wake-up latency %.3f ms\n", TICKS,
               (double)median / 1e6);
    close(p[0]);
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

/* Consumer: read after the checkpoint, report each seq on fd, acknowledge every 7th. */
static int consumer(const char *dir, int fd)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_log_cursor *c = NULL;
    ent_event *ev;
    if (open_store(&s, &sc, dir) || ent_sub_cursor(&c, s, "audit")) return 3;
    for (;;) {
        int rc = ent_log_next(&ev, c);
        if (rc == ENT_NOTFOUND) {
            if (ent_log_wait(NULL, s, ent_log_cursor_pos(c) - 1, 1000) == ENT_TIMEOUT) break;
            continue;
        }
        if (rc) return 4;
        if (write(fd, &ev->seq, sizeof ev->seq) != (ssize_t)sizeof ev->seq) return 5;
        if (ev->seq % 7 == 0 && ent_sub_ack(s, NULL, "audit", ev->seq)) return 6;
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    ent_store_close(s);
    ent_schema_free(sc);
    return 0;
}

static void t_durable_subscription_survives_kill(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    static int delivered[TICKS + 1];
    uint64_t cp = 0, seen_last = 0; /* the last seq any consumer read */
    int rounds = 0;
    ENT_TEST_MKDTEMP(dir, "follow-process");
    memset(delivered, 0, sizeof delivered);
    ENT_OK_(open_store(&s, &sc, dir));
    ENT_OK_(ent_sub_create(s, "audit", 0));
    for (uint64_t i = 1; i <= TICKS; i++) {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, ent_store_type(s, "tick")));
        ENT_OK_(ent_entity_set_uint(e, "n", i));
        ENT_OK_(ent_create(s, NULL, e));
        ent_entity_free(e);
    }
    /* kill consumers until one reaches the end; each resumes from the last acknowledgement */
    for (; rounds < 50; rounds++) {
        int p[2], st;
        uint64_t seq, before = 0, seen_last_before = seen_last;
        pid_t pid;
        ENT_OK_(ent_sub_checkpoint(&before, s, NULL, "audit"));
        CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            close(p[0]);
            _exit(consumer(dir, p[1]));
        }
        close(p[1]);
        if (rounds < 4) {
            struct timespec d = {0, (long)(2 + rounds * 3) * 1000000L};
            nanosleep(&d, NULL);
            kill(pid, SIGKILL);
        }
        waitpid(pid, &st, 0);
        {
            uint64_t first_seen = 0;
            while (read(p[0], &seq, sizeof seq) == (ssize_t)sizeof seq) {
                if (!first_seen) first_seen = seq;
                if (seq <= TICKS) delivered[seq]++;
                if (seq > seen_last) seen_last = seq;
            }
            /* A restarted consumer starts right after the checkpoint: the one read before it
             * started, or a later one. A consumer killed inside its ack's commit, after LMDB wrote
             * the meta page and before it published the txn, leaves that ack for the next writer
             * to adopt (LMDB's robust-mutex recovery), and the restarted consumer's open is one.
             * It acknowledged only what it had read, so the start is never past seen_last + 1. */
            if (first_seen) {
                CU_ASSERT(first_seen >= before + 1);
                CU_ASSERT(first_seen <= (seen_last_before > before ? seen_last_before : before) + 1);
            }
        }
        close(p[0]);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) break;
    }
    ENT_OK_(ent_sub_checkpoint(&cp, s, NULL, "audit"));
    CU_ASSERT(cp >= TICKS - 6);
    for (int i = 1; i <= TICKS; i++) CU_ASSERT(delivered[i] >= 1); /* at least once */
    printf("\n  %d consumer processes (4 killed); checkpoint %llu\n", rounds + 1, (unsigned long long)cp);
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

/* A follower that opened the store read-only before its notify file existed (a store made by
 * `entity copy`, which copies data.mdb only) has nothing to wait on: it must still see the commits
 * of a writer that comes later. It slept in 100 ms steps until its timeout, forever with -1,
 * whatever was committed meanwhile. */
static void t_follow_read_only_without_notify(void)
{
    char dir[ENT_TEST_PATH_MAX], notify[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t last = 0;
    int st = 0;
    pid_t pid;
    ENT_TEST_MKDTEMP(dir, "follow-process");
    ENT_OK_(open_store(&s, &sc, dir));
    ent_store_close(s);
    ENT_TEST_PATH(notify, "%s/notify", dir);
    CU_ASSERT_EQUAL_FATAL(unlink(notify), 0);
    o.read_only = 1;
    ENT_OK_(ent_store_open(&s, dir, NULL, &o));
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        ent_store *w = NULL;
        ent_schema *wsc = NULL;
        ent_entity *e = NULL;
        struct timespec d = {0, 300 * 1000000L}; /* while the parent waits, most likely */
        int rc;
        nanosleep(&d, NULL);
        rc = open_store(&w, &wsc, dir);
        if (!rc) rc = ent_entity_new(&e, ent_store_type(w, "tick"));
        if (!rc) rc = ent_entity_set_uint(e, "n", 1);
        if (!rc) rc = ent_create(w, NULL, e);
        _exit(rc ? 1 : 0);
    }
    CU_ASSERT_FATAL(pid > 0);
    /* No timeout: the commit must end the wait. A watchdog ends a run that hangs, as this did. */
    alarm(300);
    ENT_OK_(ent_log_wait(&last, s, 0, -1));
    alarm(0);
    CU_ASSERT_EQUAL(last, 1);
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

/* A durable commit is visible once LMDB commits it; the waiters are woken after the meta page's
 * sync (l_sync). A writer killed during that sync (it takes milliseconds on a disk), or one whose
 * sync failed, left the commit in the store and every follower in ent_log_wait asleep: with -1
 * until some later commit, `events --follow` and `entity serve` streams silent on an event the
 * log holds. The writer child here is killed by the fault backend's hook just before its first
 * sync, once the parent's follower is inside the wait (the notify page counts the waiters), so
 * whatever the scheduling the commit comes without a wake. The follower waits without a
 * timeout (one would end the wait and find the event: that is not the point); a watchdog alarm
 * ends a run that hangs, as this did. */
typedef struct waiter_arg {
    ent_store *s;
    uint64_t last;
    int rc;
} waiter_arg;

static void *waiter_thread(void *p)
{
    waiter_arg *a = p;
    a->rc = ent_log_wait(&a->last, a->s, 0, -1);
    return NULL;
}

static void kill_self(void *payload)
{
    (void)payload;
    raise(SIGKILL);
}

static int killed_writer(const char *dir)
{
    ent_store *w = NULL;
    ent_schema *wsc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_entity *e = NULL;
    char path[ENT_TEST_PATH_MAX];
    lnotify *nt;
    int fd, rc;
    if (ent_test_fmt(path, sizeof path, "%s/notify", dir)) return 10;
    if ((fd = open(path, O_RDONLY)) < 0) return 11;
    nt = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (nt == MAP_FAILED) return 12;
    /* The parent's follower registers before it sleeps, after it found no event. */
    for (int i = 0; atomic_load(&nt->waiters) == 0; i++) {
        struct timespec ms = {0, 1000000};
        if (i == 60000) return 13; /* the follower never waited: a broken run */
        nanosleep(&ms, NULL);
    }
    munmap(nt, 4096);
    if ((rc = ent_schema_load_json(&wsc, schema_json, strlen(schema_json), "f"))) return 14;
    o.durability = ENT_DURABLE;
    o.backend = "fault:lmdb";
    if (ent_store_open(&w, dir, wsc, &o)) return 15;
    ent__fault_reset();
    ent__fault_hook("sync", 1, kill_self, NULL);
    rc = ent_entity_new(&e, ent_store_type(w, "tick"));
    if (!rc) rc = ent_entity_set_uint(e, "n", 1);
    if (!rc) rc = ent_create(w, NULL, e);
    return rc ? 16 : 17; /* never reached when the hook ran */
}

static void t_follower_sees_commit_of_writer_killed_before_wake(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    waiter_arg a = {0};
    pthread_t th;
    int st = 0;
    pid_t pid;
    ENT_TEST_MKDTEMP(dir, "follow-process");
    ENT_OK_(open_store(&s, &sc, dir));
    a.s = s;
    a.rc = -1;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, waiter_thread, &a), 0);
    fflush(stdout);
    pid = fork();
    if (pid == 0) _exit(killed_writer(dir));
    CU_ASSERT_FATAL(pid > 0);
    alarm(120);
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    if (!WIFSIGNALED(st)) fprintf(stderr, "\n  writer ended with %d\n", st);
    pthread_join(th, NULL);
    alarm(0);
    if (a.rc) fprintf(stderr, "\n  ent_log_wait: %d (%s)\n", a.rc, ent_strerror(a.rc));
    CU_ASSERT_EQUAL(a.rc, ENT_OK);
    CU_ASSERT_EQUAL(a.last, 1);
    {
        uint64_t first = 0, last = 0;
        ENT_OK_(ent_log_bounds(&first, &last, s, NULL));
        CU_ASSERT_EQUAL(last, 1); /* the commit is there: the wait had something to see */
    }
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

/* Followers killed with SIGKILL while they wait leave no count in the notify page. A commit wakes
 * the futex only while `waiters` says someone waits; a count alone kept a killed follower's +1 for
 * good: every later commit of every process made a needless wake. Each waiting process now
 * counts itself in a slot whose byte it holds locked; a dead one's slot is cleared by the next
 * wait of any process and by every open. The children wait on the backend's wait directly (in
 * one go: ent_log_wait looks at the log between half-second slices, and a kill between two would
 * leave nothing to repair), and so does the parent's wait that must sweep (sweeping_wait). The
 * counts are read off the notify page; no timing decides. */
static int direct_waiter(const char *dir, int timeout_ms, int ready_fd, int go_fd)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    uint64_t seen;
    char go;
    int rc;
    if (open_store(&s, &sc, dir)) return 20;
    /* an open may commit (and wake the waiters): every child opens before any waits */
    if (write(ready_fd, "r", 1) != 1 || read(go_fd, &go, 1) != 1) return 23;
    seen = ent__bk_change_counter(s);
    rc = ent__bk_wait_change(s, seen, timeout_ms);
    if (rc) return 21;
    return ent__bk_change_counter(s) != seen ? 0 : 22; /* woken by a commit */
}

static const lnotify *map_notify(const char *dir)
{
    char path[ENT_TEST_PATH_MAX];
    const lnotify *nt;
    int fd;
    if (ent_test_fmt(path, sizeof path, "%s/notify", dir) || (fd = open(path, O_RDONLY)) < 0) return NULL;
    nt = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    return nt == MAP_FAILED ? NULL : nt;
}

static uint32_t slots_set(const lnotify *nt)
{
    uint32_t n = 0;
    for (int i = 0; i < WAIT_SLOTS; i++) n += atomic_load(&((lnotify *)nt)->slot[i]) != 0;
    return n;
}

/* Wait until the page counts n waiters, each in its slot (at most 60 s: a broken run ends there).
 * A waiter counts itself before it flags its slot (the other order would let a sweep take out a
 * count never added, of a live waiter), so a kill between the two leaves a count no sweep can
 * tell: a kill must come after both. */
static int waiters_reach(const lnotify *nt, uint32_t n)
{
    for (int i = 0; atomic_load(&((lnotify *)nt)->waiters) != n || slots_set(nt) != n; i++) {
        struct timespec ms = {0, 1000000};
        if (i == 60000) return 0;
        nanosleep(&ms, NULL);
    }
    return 1;
}

/* The slot bytes of dir's notify file that some open file description holds locked (-1: cannot
 * tell) */
static int slots_locked(const char *dir)
{
    char path[ENT_TEST_PATH_MAX];
    int fd, n = 0;
    if (ent_test_fmt(path, sizeof path, "%s/notify", dir) || (fd = open(path, O_RDONLY)) < 0) return -1;
    for (int i = 0; i < WAIT_SLOTS && n >= 0; i++) {
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = WAIT_LOCK_BASE + i;
        fl.l_len = 1;
        if (fcntl(fd, F_OFD_GETLK, &fl) < 0) n = -1;
        else if (fl.l_type != F_UNLCK) n++;
    }
    close(fd);
    return n;
}

/* Wait until n slot bytes are held (at most 60 s). The kernel drops a killed waiter's lock when
 * its open file description goes, which is as the process ends, before waitpid() returns, unless
 * something else still holds a reference to it (another process reading the child's memory
 * through /proc holds its mappings, the notify file's among them): then a little later. A sweep
 * before that finds the slot held and rightly leaves its count. */
static int locks_reach(const char *dir, int n)
{
    for (int i = 0; slots_locked(dir) != n; i++) {
        struct timespec ms = {0, 1000000};
        if (i == 60000) return 0;
        nanosleep(&ms, NULL);
    }
    return 1;
}

static uint32_t waiters_now(const lnotify *nt) { return atomic_load(&((lnotify *)nt)->waiters); }

/* n children waiting in the backend's wait on dir, each opened before any waits; pids in pid */
static int fork_waiters(pid_t *pid, int n, const char *dir, int timeout_ms)
{
    int ready[2], go[2], ok = 1;
    char r;
    if (pipe(ready) || pipe(go)) return 0;
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < n; i++) {
        pid[i] = fork();
        if (pid[i] == 0) _exit(direct_waiter(dir, timeout_ms, ready[1], go[0]));
        if (pid[i] < 0 || read(ready[0], &r, 1) != 1) ok = 0;
    }
    for (int i = 0; i < n; i++)
        if (write(go[1], "g", 1) != 1) ok = 0;
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    return ok;
}

/* A wait of this process that registers as a waiter, and so sweeps the slots, before it looks at
 * the clock: the backend's wait with timeout 0 (ENT_TIMEOUT, nothing being committed).
 * ent_log_wait(..., 1), used here before, reaches the backend's wait only if less than 1 ms has
 * passed at its first look at the clock: on a loaded machine (an ASan build, the process
 * preempted after the fork and kill) it timed out before, nothing was swept, and the killed
 * follower's count was still there ("2 waiters counted, one waits"). */
static int sweeping_wait(ent_store *s)
{
    return ent__bk_wait_change(s, ent__bk_change_counter(s), 0);
}

static void kill_wait(pid_t pid)
{
    int st = 0;
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void t_killed_waiters_leave_no_count(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    const lnotify *nt;
    ent_entity *e = NULL;
    pid_t w[2], c;
    int st = 0;
    ENT_TEST_MKDTEMP(dir, "follow-process");
    ENT_OK_(open_store(&s, &sc, dir));
    nt = map_notify(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nt);
    CU_ASSERT_EQUAL(waiters_now(nt), 0);

    /* one follower killed while it waits: the next wait (here the parent's, which times out)
     * takes its count out */
    CU_ASSERT_FATAL(fork_waiters(w, 1, dir, 60000));
    CU_ASSERT_FATAL(waiters_reach(nt, 1));
    kill_wait(w[0]);
    CU_ASSERT_FATAL(locks_reach(dir, 0));
    ENT_CHECK_RC(sweeping_wait(s), ENT_TIMEOUT);
    if (waiters_now(nt)) fprintf(stderr, "\n  %u waiters counted, none waits\n", waiters_now(nt));
    CU_ASSERT_EQUAL(waiters_now(nt), 0);

    /* a live follower and a killed one: the next wait keeps the live one's count only */
    CU_ASSERT_FATAL(fork_waiters(w, 2, dir, 60000));
    CU_ASSERT_FATAL(waiters_reach(nt, 2));
    kill_wait(w[1]);
    CU_ASSERT_FATAL(locks_reach(dir, 1));
    ENT_CHECK_RC(sweeping_wait(s), ENT_TIMEOUT);
    if (waiters_now(nt) != 1) fprintf(stderr, "\n  %u waiters counted, one waits\n", waiters_now(nt));
    CU_ASSERT_EQUAL(waiters_now(nt), 1);

    /* killed too: another process's open takes its count out */
    kill_wait(w[0]);
    CU_ASSERT_FATAL(locks_reach(dir, 0));
    fflush(stdout);
    c = fork();
    if (c == 0) {
        ent_store *s2 = NULL;
        ent_schema *sc2 = NULL;
        _exit(open_store(&s2, &sc2, dir) ? 30 : 0);
    }
    CU_ASSERT_FATAL(c > 0);
    waitpid(c, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (waiters_now(nt)) fprintf(stderr, "\n  %u waiters counted after an open, none waits\n", waiters_now(nt));
    CU_ASSERT_EQUAL(waiters_now(nt), 0);

    /* and a follower waiting now is still woken by a commit (its wait has no slices: a lost
     * wake would end it at its 60 s timeout, exit 21) */
    CU_ASSERT_FATAL(fork_waiters(w, 1, dir, 60000));
    CU_ASSERT_FATAL(waiters_reach(nt, 1));
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "tick")));
    ENT_OK_(ent_entity_set_uint(e, "n", 1));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
    waitpid(w[0], &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "\n  woken follower ended with %d\n", st);
    CU_ASSERT_EQUAL(waiters_now(nt), 0);

    munmap((void *)nt, 4096);
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

/* A thread waiting in the backend's wait, with no slices (as direct_waiter) */
typedef struct direct_arg {
    ent_store *s;
    uint64_t seen;
    int rc;
} direct_arg;

static void *direct_thread(void *p)
{
    direct_arg *a = p;
    a->rc = ent__bk_wait_change(a->s, a->seen, 60000);
    return NULL;
}

/* The worst a slot can do is take a live waiter's count: writers then skip its wake, and it
 * sleeps through commits. A process that forked while one of its threads waits shares the slot's
 * lock (its open file description) with the child; the child's own open sweeps the slots, and
 * must find that one held, not dead. Two threads of the waiting process count once, and the
 * commit wakes them both (a lost wake ends a thread at its 60 s timeout: ENT_TIMEOUT). */
static void t_fork_while_waiting_keeps_the_count(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_entity *e = NULL;
    const lnotify *nt;
    direct_arg a = {0}, b = {0};
    pthread_t ta, tb;
    pid_t c;
    int st = 0;
    ENT_TEST_MKDTEMP(dir, "follow-process");
    ENT_OK_(open_store(&s, &sc, dir));
    nt = map_notify(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nt);
    a.s = b.s = s;
    a.seen = b.seen = ent__bk_change_counter(s);
    a.rc = b.rc = -1;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&ta, NULL, direct_thread, &a), 0);
    CU_ASSERT_FATAL(waiters_reach(nt, 1));
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tb, NULL, direct_thread, &b), 0);
    fflush(stdout);
    fflush(stderr);
    c = fork();
    if (c == 0) { /* the child: its handle from before fork() is refused; it opens anew */
        ent_store *s2 = NULL;
        ent_schema *sc2 = NULL;
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        o.read_only = 1; /* sweeps as any open, and commits nothing that would wake the threads */
        if (ent__bk_wait_change(s, 0, 0) != ENT_BUSY) _exit(31);
        if (ent_schema_load_json(&sc2, schema_json, strlen(schema_json), "f") || ent_store_open(&s2, dir, sc2, &o)) _exit(30);
        ent_store_close(s2);
        ent_store_close(s); /* its copy of the descriptor only */
        _exit(0);
    }
    CU_ASSERT_FATAL(c > 0);
    waitpid(c, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_EQUAL(ent__bk_change_counter(s), a.seen); /* nothing woke the threads */
    if (waiters_now(nt) != 1) fprintf(stderr, "\n  %u waiters counted after the child's open, one process waits\n", waiters_now(nt));
    CU_ASSERT_EQUAL(waiters_now(nt), 1);
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "tick")));
    ENT_OK_(ent_entity_set_uint(e, "n", 1));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CU_ASSERT_EQUAL(a.rc, ENT_OK);
    CU_ASSERT_EQUAL(b.rc, ENT_OK);
    CU_ASSERT_EQUAL(waiters_now(nt), 0);
    munmap((void *)nt, 4096);
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(t_follow_other_process),
        ENT_TEST(t_durable_subscription_survives_kill),
        ENT_TEST(t_follow_read_only_without_notify),
        ENT_TEST(t_follower_sees_commit_of_writer_killed_before_wake),
        ENT_TEST(t_killed_waiters_leave_no_count),
        ENT_TEST(t_fork_while_waiting_keeps_the_count),
        {NULL, NULL},
    };
    return ent_test_run("follow_process", cases);
}
