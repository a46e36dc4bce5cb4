/* Crash safety of the write paths beyond grouped CRUD (test_crash_kill.c has those): a child runs
 * one of them and is killed with SIGKILL at a random moment; the parent reopens the store and
 * checks that what the child was told is done is there and that nothing is half-applied, or that
 * the store says plainly what it holds. Whether a kill lands early or late changes what is
 * checked, never whether the test passes.
 *
 * Replay: a replay into a new store runs one destination transaction per source transaction and
 * builds the unique indexes at the end. Killed in between, the destination must not pass for a
 * store: a writer would find its unique indexes empty and store duplicates. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static void rm_rf(const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
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

/* Run the entity tool (when built) with args; its exit code and its output (stdout and stderr)
 * must be want_rc and hold needle. */
static void tool_says(const char *args, int want_rc, const char *needle)
{
    char cmd[1200], out[4096] = "";
    FILE *f;
    int rc;
    size_t n;
    if (access(ENT_BINARY_DIR "/entity", X_OK) != 0) return;
    snprintf(cmd, sizeof cmd, "%s/entity %s 2>&1", ENT_BINARY_DIR, args);
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
    char src[] = "/tmp/ent_crashr_XXXXXX", dst[300];
    int rounds = 8, partial = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(src));
    snprintf(dst, sizeof dst, "%s/dst", src);
    srand((unsigned)time(NULL));
    {
        char sdir[300];
        snprintf(sdir, sizeof sdir, "%s/src", src);
        fill_source(sdir, 3000); /* ~27 000 events: progress (every 4 096) signs several times */
    }
    for (int r = 0; r < rounds; r++) {
        char sdir[300];
        int p[2], killed;
        pid_t pid;
        ent_store *s = NULL, *d = NULL;
        ent_schema *sc = NULL, *sc2 = NULL;
        uint64_t last = 0, problems = 0;
        snprintf(sdir, sizeof sdir, "%s/src", src);
        rm_rf(dst);
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
                    char args[800];
                    snprintf(args, sizeof args, "-s '%s' check", dst);
                    tool_says(args, 1, "the store holds a replay that did not finish");
                    snprintf(args, sizeof args, "-s '%s' put note --key k '{}'", dst);
                    tool_says(args, 1, "holds a replay that did not finish");
                    snprintf(args, sizeof args, "-s '%s' replay --into '%s'", sdir, dst);
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
    rm_rf(src);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(t_kill_replay), {NULL, NULL}};
    return ent_test_run("crash_paths", cases);
}
