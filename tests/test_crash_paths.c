/* Crash safety of the write paths beyond grouped CRUD (test_crash_kill.c has those): a child runs
 * one of them and is killed with SIGKILL at a random moment; the parent reopens the store and
 * checks that what the child was told is done is there and that nothing is half-applied, or that
 * the store says plainly what it holds. Whether a kill lands early or late changes what is
 * checked, never whether the test passes.
 *
 * Replay: a replay into a new store runs one destination transaction per source transaction and
 * builds the unique indexes at the end. Killed in between, the destination must not pass for a
 * store: a writer would find its unique indexes empty and store duplicates.
 *
 * Load (the tool): killed, it keeps whole batches, and the same input loaded again completes the
 * store without a second event for any line.
 *
 * Copy: a copy killed while it writes leaves no data.mdb at its destination (it left a prefix of the
 * store there, refused as truncated, and a second copy was refused as "holds a data.mdb already");
 * the next copy takes the killed one's file over and makes the whole store. A copy to a place
 * where another copy is under way is ENT_BUSY, naming it.
 *
 * Several processes: two writers and a consumer of a durable subscription on one store whose map
 * starts small (it grows while they are killed), one of the three killed at a time and started
 * again. Every acknowledged commit of a writer is there; the consumer, which writes what it saw
 * and acknowledges it in the same transaction, has seen every event up to its checkpoint exactly
 * once and none after it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend_lmdb_int.h"
#include "test_util.h"

static const char schema_json[] =
    "{\"schema\":\"paths\",\"version\":1,\"types\":{"
    "\"user\":{\"key\":\"auto\",\"fields\":{"
    "  \"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "  \"team\":{\"id\":2,\"type\":\"int\",\"indexed\":true},"
    "  \"bio\":{\"id\":3,\"type\":\"string\"}}},"
    "\"note\":{\"key\":\"string\",\"fields\":{"
    "  \"text\":{\"id\":1,\"type\":\"string\"}}}}}";

static int open_at(ent_store **s, ent_schema **sc, const char *dir, int read_only)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc = ent_schema_load_json(sc, schema_json, strlen(schema_json), "paths");
    o.durability = ENT_NONE; /* a kill of the process, not of the machine: the mode does not matter */
    o.read_only = read_only;
    return rc ? rc : ent_store_open(s, dir, read_only ? NULL : *sc, &o);
}

/* Kill child pid once it has written a byte on fd (30 s at most), after up to max_ms more.
 * Returns whether SIGKILL ended it (else it ended by itself, status 0 expected). */
static int kill_after_sign(pid_t pid, int fd, int max_ms)
{
    struct pollfd pf = {fd, POLLIN, 0};
    struct timespec delay = {0, (long)(rand() % (max_ms + 1)) * 1000000L};
    int status;
    poll(&pf, 1, 30000);
    nanosleep(&delay, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) return 1;
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) fprintf(stderr, "\n  the child failed: status %d\n", status);
    return 0;
}

/* Run the entity tool (when built) with args (words for sh: paths through ent_test_sh_word()); its exit
 * code and its output (stdout and stderr) must be want_rc and hold needle. */
static void tool_says(const char *args, int want_rc, const char *needle)
{
    char cmd[6 * ENT_TEST_PATH_MAX], tool[4 * ENT_TEST_PATH_MAX], out[4096] = "";
    FILE *f;
    int rc;
    size_t n;
    if (access(ENT_BINARY_DIR "/entity", X_OK) != 0) return;
    ENT_TEST_PATH(cmd, "%s %s 2>&1", ent_test_sh_word(tool, sizeof tool, ENT_BINARY_DIR "/entity"), args);
    f = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    while (fread(cmd, 1, sizeof cmd, f) > 0) {} /* the rest unread: the tool would die of SIGPIPE */
    rc = pclose(f);
    CU_ASSERT(WIFEXITED(rc) && WEXITSTATUS(rc) == want_rc);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, needle));
    if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == want_rc) || !strstr(out, needle))
        fprintf(stderr, "\n  entity %s: exit %d, said: %s\n", args, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out);
}

/* ---- replay ------------------------------------------------------------------------------------ */

/* n transactions of a few users and notes each, some updated and deleted, every email unique. */
static void fill_source(const char *dir, int n)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    uint64_t made = 0;
    ENT_OK_(open_at(&s, &sc, dir, 0));
    for (int i = 0; i < n; i++) {
        ent_txn *w = NULL;
        ENT_OK_(ent_txn_begin(&w, s, ENT_TXN_WRITE));
        for (int j = 0; j < 4; j++) {
            ent_entity *u = NULL, *nt = NULL;
            char email[64], nk[32];
            snprintf(email, sizeof email, "u%d.%d@x", i, j);
            snprintf(nk, sizeof nk, "n%d", (i * 4 + j) % 500);
            ENT_OK_(ent_entity_new(&u, ent_store_type(s, "user")));
            ENT_OK_(ent_entity_set_string(u, "email", email));
            ENT_OK_(ent_entity_set_int(u, "team", (i + j) % 7));
            ENT_OK_(ent_create(s, w, u));
            made++;
            ENT_OK_(ent_entity_new(&nt, ent_store_type(s, "note")));
            ENT_OK_(ent_entity_set_key(nt, &(ent_key){ENT_KEY_STRING, 0, nk, strlen(nk)}));
            ENT_OK_(ent_entity_set_string(nt, "text", email));
            ENT_OK_(ent_upsert(s, w, nt, ENT_VERSION_ANY));
            ent_entity_free(u);
            ent_entity_free(nt);
        }
        if (i % 5 == 4) {
            ent_key k = ent_key_id(made - 6);
            ENT_OK_(ent_delete(s, w, ent_store_type(s, "user"), &k, ENT_VERSION_ANY));
        }
        ENT_OK_(ent_txn_commit(w));
    }
    ent_store_close(s);
    ent_schema_free(sc);
}

static int replay_fd = -1;

static void replay_sign(const char *what, uint64_t done, void *payload)
{
    (void)what;
    (void)done;
    (void)payload;
    if (replay_fd >= 0 && write(replay_fd, "r", 1) != 1) _exit(12);
    replay_fd = -1; /* once: the parent waits for the first */
}

static void replay_child(const char *src_dir, const char *dst_dir, int fd)
{
    ent_store *src = NULL, *dst = NULL;
    ent_schema *sc = NULL, *sc2 = NULL;
    if (open_at(&src, &sc, src_dir, 0) || open_at(&dst, &sc2, dst_dir, 0)) _exit(10);
    replay_fd = fd;
    ent_store_set_progress(src, replay_sign, NULL);
    if (ent_store_replay(dst, src, 0)) _exit(11);
    ent_store_close(dst);
    ent_store_close(src);
    _exit(0);
}

/* The same entities at the same versions, one type after the other in key order. */
static void assert_same_entities(ent_store *a, ent_store *b)
{
    const ent_schema *sc = ent_store_schema(a);
    for (size_t i = 0; i < ent_schema_type_count(sc); i++) {
        const ent_type *ta = ent_schema_type_at(sc, i), *tb = ent_store_type(b, ent_type_name(ta));
        ent_iter *ia = NULL, *ib = NULL;
        ent_entity *ea, *eb;
        uint64_t n = 0, diff = 0;
        ENT_OK_(ent_scan(&ia, a, NULL, ta, NULL, NULL));
        ENT_OK_(ent_scan(&ib, b, NULL, tb, NULL, NULL));
        for (;;) {
            int ra = ent_iter_next(&ea, ia), rb = ent_iter_next(&eb, ib);
            char *ja = NULL, *jb = NULL;
            if (ra || rb) {
                CU_ASSERT_EQUAL(ra, rb);
                if (!ra) ent_entity_free(ea);
                if (!rb) ent_entity_free(eb);
                break;
            }
            n++;
            ENT_OK_(ent_entity_to_json(&ja, ea, 0));
            ENT_OK_(ent_entity_to_json(&jb, eb, 0));
            if (ent_entity_version(ea) != ent_entity_version(eb) || strcmp(ja, jb)) diff++;
            free(ja);
            free(jb);
            ent_entity_free(ea);
            ent_entity_free(eb);
        }
        CU_ASSERT_EQUAL(diff, 0);
        ent_iter_free(ia);
        ent_iter_free(ib);
    }
}

static void t_kill_replay(void)
{
    char src[ENT_TEST_PATH_MAX], dst[ENT_TEST_PATH_MAX];
    int rounds = 8, partial = 0;
    ENT_TEST_MKDTEMP(src, "crash-paths");
    ENT_TEST_PATH(dst, "%s/dst", src);
    srand((unsigned)time(NULL));
    {
        char sdir[ENT_TEST_PATH_MAX];
        ENT_TEST_PATH(sdir, "%s/src", src);
        fill_source(sdir, 3000); /* ~27 000 events: progress (every 4 096) signs several times */
    }
    for (int r = 0; r < rounds; r++) {
        char sdir[ENT_TEST_PATH_MAX];
        int p[2], killed;
        pid_t pid;
        ent_store *s = NULL, *d = NULL;
        ent_schema *sc = NULL, *sc2 = NULL;
        uint64_t last = 0, problems = 0;
        ENT_TEST_PATH(sdir, "%s/src", src);
        ent_test_rm_rf(dst);
        CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
        fflush(stdout);
        pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            replay_child(sdir, dst, p[1]);
        }
        close(p[1]);
        /* the first sign comes after 4 096 events; a whole replay takes several times that */
        killed = kill_after_sign(pid, p[0], r % 3 == 2 ? 1500 : r % 3 ? 40 : 5);
        close(p[0]);
        ENT_OK_(open_at(&s, &sc, sdir, 1));
        if (!killed) {
            /* finished: the same store */
            ENT_OK_(open_at(&d, &sc2, dst, 0));
            assert_same_entities(s, d);
            ENT_OK_(ent_store_verify(&problems, d, NULL, NULL));
        } else {
            int rc = open_at(&d, &sc2, dst, 0);
            ent_schema_free(sc2);
            sc2 = NULL;
            if (rc == ENT_OK) {
                /* a store that opens for writing is whole: the replay had done all of it */
                ENT_OK_(ent_log_bounds(NULL, &last, d, NULL));
                CU_ASSERT_EQUAL(ent_store_verify(&problems, d, NULL, NULL), ENT_OK);
                CU_ASSERT_EQUAL(problems, 0);
                if (problems) fprintf(stderr, "\n  round %d: a killed replay opens for writing with %llu problems\n", r,
                                      (unsigned long long)problems);
            } else {
                /* or it says what it is, at the open for writing, at check and to a new replay */
                partial++;
                CU_ASSERT_EQUAL(rc, ENT_CORRUPT);
                ENT_ASSERT_MSG("replay that did not finish");
                ENT_OK_(open_at(&d, &sc2, dst, 1)); /* still readable */
                CU_ASSERT_EQUAL(ent_store_verify(&problems, d, NULL, NULL), ENT_CORRUPT);
                CU_ASSERT(problems > 0);
                CU_ASSERT_EQUAL(ent_store_replay(d, s, 0), ENT_INVALID);
                if (partial == 1) {
                    /* what the tool says of it: check, a write, a new replay into it */
                    char args[9 * ENT_TEST_PATH_MAX], qd[4 * ENT_TEST_PATH_MAX], qs[4 * ENT_TEST_PATH_MAX];
                    ent_test_sh_word(qd, sizeof qd, dst);
                    ent_test_sh_word(qs, sizeof qs, sdir);
                    ENT_TEST_PATH(args, "-s %s check", qd);
                    tool_says(args, 1, "the store holds a replay that did not finish");
                    ENT_TEST_PATH(args, "-s %s put note --key k '{}'", qd);
                    tool_says(args, 1, "holds a replay that did not finish");
                    ENT_TEST_PATH(args, "-s %s replay --into %s", qs, qd);
                    tool_says(args, 1, "holds a replay that did not finish");
                }
            }
        }
        ent_store_close(d);
        ent_store_close(s);
        ent_schema_free(sc);
        ent_schema_free(sc2);
    }
    printf("\n  replay: %d rounds, %d left a partial replay\n", rounds, partial);
    ent_test_rm_rf(src);
}

/* ---- load ------------------------------------------------------------------------------------- */

enum { LOAD_LINES = 20000, LOAD_BATCH = 500 };

/* Run the tool's load of file into dir (in the foreground when wait_for, else returns its pid). */
static pid_t load_run(const char *dir, const char *file, int wait_for)
{
    pid_t pid;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        char batch[16];
        int in = open(file, O_RDONLY), null = open("/dev/null", O_WRONLY);
        if (in < 0 || null < 0 || dup2(in, 0) < 0 || dup2(null, 2) < 0) _exit(50);
        snprintf(batch, sizeof batch, "%d", LOAD_BATCH);
        execl(ENT_BINARY_DIR "/entity", "entity", "-s", dir, "load", "--batch", batch, (char *)NULL);
        _exit(51);
    }
    if (wait_for && pid > 0) {
        int status;
        waitpid(pid, &status, 0);
        CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    return pid;
}

/* The store holds whole batches of users (all of them when `whole`), one event each, and verifies
 * clean. Returns how many. */
static uint64_t load_check(const char *dir, int whole)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    uint64_t n = 0, last = 0, problems = 0;
    ENT_OK_(open_at(&s, &sc, dir, 1));
    ENT_OK_(ent_count(&n, s, NULL, ent_store_type(s, "user")));
    ENT_OK_(ent_log_bounds(NULL, &last, s, NULL));
    if (whole) CU_ASSERT_EQUAL(n, LOAD_LINES);
    if (n % LOAD_BATCH != 0) fprintf(stderr, "\n  a killed load left %llu users\n", (unsigned long long)n);
    CU_ASSERT_EQUAL(n % LOAD_BATCH, 0); /* whole batches */
    CU_ASSERT_EQUAL(last, n);           /* one event per line, none twice */
    CU_ASSERT_EQUAL(ent_store_verify(&problems, s, NULL, NULL), ENT_OK);
    CU_ASSERT_EQUAL(problems, 0);
    ent_store_close(s);
    ent_schema_free(sc);
    return n;
}

static void t_kill_load(void)
{
    char dir[ENT_TEST_PATH_MAX], file[ENT_TEST_PATH_MAX], st[ENT_TEST_PATH_MAX];
    int rounds = 4;
    FILE *f;
    if (access(ENT_BINARY_DIR "/entity", X_OK) != 0) return; /* the tool is not built */
    ENT_TEST_MKDTEMP(dir, "crash-paths");
    srand((unsigned)time(NULL) ^ 0x1d1d);
    ENT_TEST_PATH(file, "%s/in.ndjson", dir);
    f = fopen(file, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 1; i <= LOAD_LINES; i++)
        fprintf(f, "{\"type\":\"user\",\"key\":%d,\"version\":%d,\"data\":{\"email\":\"u%d@x\",\"team\":%d}}\n", i,
                1 + i % 3, i, i % 9);
    CU_ASSERT_EQUAL_FATAL(fclose(f), 0);
    for (int r = 0; r < rounds; r++) {
        ent_store *s = NULL;
        ent_schema *sc = NULL;
        struct timespec delay = {0, (long)(10 + rand() % 250) * 1000000L};
        pid_t pid;
        int status;
        ENT_TEST_PATH(st, "%s/st%d", dir, r);
        ENT_OK_(open_at(&s, &sc, st, 0)); /* made here: the load opens an existing store */
        ent_store_close(s);
        ent_schema_free(sc);
        pid = load_run(st, file, 0);
        CU_ASSERT_FATAL(pid > 0);
        nanosleep(&delay, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        printf("%s%llu", r ? ", " : "\n  load: killed with users ", (unsigned long long)load_check(st, 0));
        load_run(st, file, 1); /* the same input again */
        load_check(st, 1);
    }
    printf(" of %d; each completed by a second load\n", LOAD_LINES);
    ent_test_rm_rf(dir);
}

/* ---- several processes ------------------------------------------------------------------------ */

static int open_small(ent_store **s, ent_schema **sc, const char *dir)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc = ent_schema_load_json(sc, schema_json, strlen(schema_json), "paths");
    o.durability = ENT_DURABLE;
    o.map_size = 256 << 10; /* grows while processes are killed */
    return rc ? rc : ent_store_open(s, dir, *sc, &o);
}

typedef struct wack {
    uint32_t who, pad;
    uint64_t n;
} wack;

/* Writer `who` (0, 1): each transaction creates user w<who>-<n> with some bio and, every tenth,
 * 40 more users; note w<who> counts them. Acknowledges n on fd once committed. */
static void multi_writer(const char *dir, int who, int fd)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    char nk[16], bio[1200];
    ent_key tk;
    uint64_t n = 0;
    unsigned seed = (unsigned)getpid();
    if (open_small(&s, &sc, dir)) _exit(30);
    snprintf(nk, sizeof nk, "w%d", who);
    tk = ent_key_str(nk);
    {
        ent_entity *t = NULL;
        const char *txt = NULL;
        size_t len = 0;
        if (ent_get(&t, s, NULL, ent_store_type(s, "note"), &tk) == ENT_OK && ent_entity_get_string(&txt, &len, t, "text") == ENT_OK)
            n = strtoull(txt, NULL, 10);
        ent_entity_free(t);
    }
    for (size_t i = 0; i < sizeof bio - 1; i++) bio[i] = (char)('a' + rand_r(&seed) % 26);
    bio[sizeof bio - 1] = '\0';
    for (;;) {
        ent_txn *w = NULL;
        ent_entity *u = NULL, *t = NULL;
        char email[64], text[32];
        int rc, extra = (n + 1) % 10 == 0 ? 40 : 0;
        n++;
        bio[rand_r(&seed) % (sizeof bio - 1)] = '\0';
        if ((rc = ent_txn_begin(&w, s, ENT_TXN_WRITE))) _exit(31);
        for (int i = 0; !rc && i <= extra; i++) {
            snprintf(email, sizeof email, i ? "w%d-%llu-%d" : "w%d-%llu", who, (unsigned long long)n, i);
            if (!(rc = ent_entity_new(&u, ent_store_type(s, "user"))) && !(rc = ent_entity_set_string(u, "email", email)) &&
                !(rc = ent_entity_set_int(u, "team", who)) && !(rc = ent_entity_set_string(u, "bio", bio)))
                rc = ent_create(s, w, u);
            ent_entity_free(u);
            u = NULL;
        }
        bio[strlen(bio)] = 'x';
        snprintf(text, sizeof text, "%llu", (unsigned long long)n);
        if (!rc && !(rc = ent_entity_new(&t, ent_store_type(s, "note"))) && !(rc = ent_entity_set_key(t, &tk)) &&
            !(rc = ent_entity_set_string(t, "text", text)))
            rc = ent_upsert(s, w, t, ENT_VERSION_ANY);
        ent_entity_free(t);
        if (!rc) rc = ent_txn_commit(w);
        else ent_txn_abort(w);
        if (rc == ENT_BUSY) { /* a growth of another process in between: nothing written, again */
            n--;
            continue;
        }
        if (rc) _exit(32);
        {
            wack a = {(uint32_t)who, 0, n};
            if (write(fd, &a, sizeof a) != (ssize_t)sizeof a) _exit(33);
        }
    }
}

/* The consumer: for each user created, a note "seen-<seq>" and the acknowledgement of that seq, in
 * one transaction. */
static void multi_consumer(const char *dir)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    if (open_small(&s, &sc, dir)) _exit(40);
    for (;;) {
        ent_log_cursor *c = NULL;
        ent_event *ev;
        uint64_t cp = 0, last = 0;
        int got = 0, rc = ENT_OK;
        if (ent_sub_checkpoint(&cp, s, NULL, "seen") || ent_sub_cursor(&c, s, "seen")) _exit(41);
        while (got < 50 && ent_log_next(&ev, c) == ENT_OK) {
            ent_txn *w = NULL;
            got++;
            if (ev->type == ent_store_type(s, "user") && ev->op == ENT_OP_CREATE) {
                ent_entity *nt = NULL;
                char key[32];
                snprintf(key, sizeof key, "seen-%llu", (unsigned long long)ev->seq);
                if ((rc = ent_txn_begin(&w, s, ENT_TXN_WRITE)) == ENT_OK) {
                    ent_key k = ent_key_str(key);
                    if (!(rc = ent_entity_new(&nt, ent_store_type(s, "note"))) && !(rc = ent_entity_set_key(nt, &k)))
                        rc = ent_create(s, w, nt); /* seen twice: ENT_CONFLICT */
                    ent_entity_free(nt);
                    if (!rc) rc = ent_sub_ack(s, w, "seen", ev->seq);
                    if (!rc) rc = ent_txn_commit(w);
                    else ent_txn_abort(w);
                }
            } else {
                rc = ent_sub_ack(s, NULL, "seen", ev->seq);
            }
            ent_event_free(ev);
            if (rc == ENT_BUSY) break;
            if (rc) _exit(42);
        }
        ent_log_cursor_free(c);
        if (!got) ent_log_wait(&last, s, cp, 50);
    }
}

static pid_t multi_start(const char *dir, int who, int fd)
{
    pid_t pid;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        if (who == 2) multi_consumer(dir);
        multi_writer(dir, who, fd);
    }
    return pid;
}

static void multi_read_acks(int fd, uint64_t *acked)
{
    wack a;
    while (read(fd, &a, sizeof a) == (ssize_t)sizeof a)
        if (a.who < 2 && a.n > acked[a.who]) acked[a.who] = a.n;
}

static void t_kill_one_of_several(void)
{
    char dir[ENT_TEST_PATH_MAX];
    pid_t pid[3];
    int p[2], rounds = 40;
    uint64_t acked[2] = {0, 0};
    ENT_TEST_MKDTEMP(dir, "crash-paths");
    srand((unsigned)time(NULL) ^ 0x3c3c);
    {
        ent_store *s = NULL;
        ent_schema *sc = NULL;
        pid_t q;
        int status;
        fflush(stdout);
        q = fork(); /* made in a child: this process opens the store only after the others died */
        if (q == 0) _exit(open_small(&s, &sc, dir) || ent_sub_create(s, "seen", 0) ? 1 : 0);
        waitpid(q, &status, 0);
        CU_ASSERT_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    CU_ASSERT_EQUAL_FATAL(fcntl(p[0], F_SETFL, O_NONBLOCK), 0); /* acks read as they come, without waiting */
    for (int i = 0; i < 3; i++) CU_ASSERT_FATAL((pid[i] = multi_start(dir, i, p[1])) > 0);
    for (int r = 0; r < rounds; r++) {
        struct timespec delay = {0, (long)(5 + rand() % 60) * 1000000L};
        int v = rand() % 3, status;
        nanosleep(&delay, NULL);
        kill(pid[v], SIGKILL);
        waitpid(pid[v], &status, 0);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fprintf(stderr, "\n  round %d: process %d ended by itself (status %d)\n", r, v, status);
        CU_ASSERT(WIFSIGNALED(status));
        multi_read_acks(p[0], acked);
        CU_ASSERT_FATAL((pid[v] = multi_start(dir, v, p[1])) > 0);
    }
    for (int i = 0; i < 3; i++) {
        int status;
        kill(pid[i], SIGKILL);
        waitpid(pid[i], &status, 0);
        CU_ASSERT(WIFSIGNALED(status));
    }
    close(p[1]);
    multi_read_acks(p[0], acked);
    close(p[0]);
    {
        ent_store *s = NULL;
        ent_schema *sc = NULL;
        ent_log_cursor *c = NULL;
        ent_event *ev;
        uint64_t users = 0, total = 0, cp = 0, want = 0, missing = 0, extra = 0, notes = 0, problems = 0;
        ENT_OK_(open_small(&s, &sc, dir));
        for (int who = 0; who < 2; who++) {
            char nk[16];
            ent_key tk;
            ent_entity *t = NULL;
            const char *txt = NULL;
            size_t len = 0;
            uint64_t n = 0;
            snprintf(nk, sizeof nk, "w%d", who);
            tk = ent_key_str(nk);
            if (ent_get(&t, s, NULL, ent_store_type(s, "note"), &tk) == ENT_OK && ent_entity_get_string(&txt, &len, t, "text") == ENT_OK)
                n = strtoull(txt, NULL, 10);
            ent_entity_free(t);
            if (n < acked[who]) fprintf(stderr, "\n  writer %d: acknowledged %llu, the store has %llu\n", who,
                                        (unsigned long long)acked[who], (unsigned long long)n);
            CU_ASSERT(n >= acked[who]);
            total += n + n / 10 * 40; /* nothing half-applied: each transaction's users all there */
        }
        ENT_OK_(ent_count(&users, s, NULL, ent_store_type(s, "user")));
        CU_ASSERT_EQUAL(users, total);
        /* the consumer: a note for each user's create up to its checkpoint, none after */
        ENT_OK_(ent_sub_checkpoint(&cp, s, NULL, "seen"));
        ENT_OK_(ent_log_cursor_open(&c, s, 1, ent_store_type(s, "user"), ENT_OP_CREATE));
        while (ent_log_next(&ev, c) == ENT_OK) {
            char key[32];
            ent_key k;
            int rc;
            snprintf(key, sizeof key, "seen-%llu", (unsigned long long)ev->seq);
            k = ent_key_str(key);
            rc = ent_exists(s, NULL, ent_store_type(s, "note"), &k);
            if (ev->seq <= cp) {
                want++;
                missing += rc != ENT_OK;
            } else {
                extra += rc == ENT_OK;
            }
            ent_event_free(ev);
        }
        ent_log_cursor_free(c);
        ENT_OK_(ent_count(&notes, s, NULL, ent_store_type(s, "note")));
        CU_ASSERT_EQUAL(missing, 0);
        CU_ASSERT_EQUAL(extra, 0);
        CU_ASSERT_EQUAL(notes, want + 2); /* and the two writers' counts */
        CU_ASSERT(ent_store_verify(&problems, s, NULL, NULL) == ENT_OK);
        CU_ASSERT_EQUAL(problems, 0);
        printf("\n  several processes: %d kills, %llu + %llu acknowledged commits, %llu users, consumer at seq %llu\n",
               rounds, (unsigned long long)acked[0], (unsigned long long)acked[1], (unsigned long long)users,
               (unsigned long long)cp);
        CU_ASSERT(acked[0] + acked[1] > 0);
        ent_store_close(s);
        ent_schema_free(sc);
    }
    ent_test_rm_rf(dir);
}


/* ---- copy ------------------------------------------------------------------------------------- */

static int copy_fd = -1;

/* A kill in the middle of the copy's writes: what it wrote is cut to half, as a kill leaves a file
 * that LMDB writes in order, and the process dies at once. */
static void copy_cut_and_die(const char *file, int fd)
{
    struct stat st;
    (void)file;
    if (fstat(fd, &st) == 0 && ftruncate(fd, st.st_size / 2) == 0) raise(SIGKILL);
    _exit(12);
}

/* A copy that stays under way: it says so on copy_fd and waits to be killed. */
static void copy_hold(const char *file, int fd)
{
    (void)file;
    (void)fd;
    if (write(copy_fd, "c", 1) != 1) _exit(13);
    for (;;) pause();
}

static pid_t copy_child(const char *src_dir, const char *dst_dir, int compact, void (*hook)(const char *, int))
{
    pid_t pid;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        ent_store *s = NULL;
        ent_schema *sc = NULL;
        if (open_at(&s, &sc, src_dir, 0)) _exit(10);
        ent__lmdb_copy_written_hook = hook;
        _exit(ent_store_copy(s, dst_dir, compact) ? 11 : 0);
    }
    return pid;
}

static void t_kill_copy(void)
{
    char root[ENT_TEST_PATH_MAX], sdir[ENT_TEST_PATH_MAX], dst[ENT_TEST_PATH_MAX], data[ENT_TEST_PATH_MAX];
    ENT_TEST_MKDTEMP(root, "crash-copy");
    ENT_TEST_PATH(sdir, "%s/src", root);
    ENT_TEST_PATH(dst, "%s/dst", root);
    ENT_TEST_PATH(data, "%s/dst/data.mdb", root);
    fill_source(sdir, 300);
    for (int compact = 0; compact <= 1; compact++) {
        ent_store *s = NULL, *d = NULL;
        ent_schema *sc = NULL, *sc2 = NULL;
        uint64_t problems = 1;
        int status, p[2];
        pid_t pid;
        ent_test_rm_rf(dst);
        /* killed in the middle of its writes, twice: the second copy takes the first's file over */
        for (int k = 0; k < 2; k++) {
            pid = copy_child(sdir, dst, compact, copy_cut_and_die);
            CU_ASSERT_FATAL(pid > 0);
            waitpid(pid, &status, 0);
            CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
            CU_ASSERT_EQUAL(access(data, F_OK), -1); /* no store that is a prefix of one */
            if (access(data, F_OK) == 0) fprintf(stderr, "\n  compact %d: a killed copy left %s\n", compact, data);
        }
        ENT_OK_(open_at(&s, &sc, sdir, 1));
        /* another copy under way to the same place: refused, naming it */
        CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
        copy_fd = p[1];
        pid = copy_child(sdir, dst, compact, copy_hold);
        CU_ASSERT_FATAL(pid > 0);
        close(p[1]);
        {
            char c;
            CU_ASSERT_EQUAL(read(p[0], &c, 1), 1);
        }
        close(p[0]);
        CU_ASSERT_EQUAL(ent_store_copy(s, dst, compact), ENT_BUSY);
        ENT_ASSERT_MSG("another copy to");
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        /* the copy after the killed ones is the store, whole */
        ENT_OK_(ent_store_copy(s, dst, compact));
        ENT_OK_(open_at(&d, &sc2, dst, 0));
        assert_same_entities(s, d);
        ENT_OK_(ent_store_verify(&problems, d, NULL, NULL));
        CU_ASSERT_EQUAL(problems, 0);
        ent_store_close(d);
        CU_ASSERT_EQUAL(ent_store_copy(s, dst, compact), ENT_CONFLICT); /* a store there now */
        ent_store_close(s);
        ent_schema_free(sc);
        ent_schema_free(sc2);
    }
    ent_test_rm_rf(root);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(t_kill_replay), ENT_TEST(t_kill_load), ENT_TEST(t_kill_one_of_several),
                                          ENT_TEST(t_kill_copy), {NULL, NULL}};
    return ent_test_run("crash_paths", cases);
}
