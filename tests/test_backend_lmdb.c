/* LMDB-only behaviour of the backend: map growth (in one txn, over many txns, by another process),
 * read-only opening while another process writes, one directory opened twice, the fork guard,
 * cross-process change notification, and a missing store opened read-only. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "backend_lmdb_int.h"
#include "test_util.h"

static const ent_backend_ops *B = &ent__backend_lmdb;
static char dir[ENT_TEST_PATH_MAX];

static ent_slice S(const char *s) { return (ent_slice){s, strlen(s)}; }

static void fresh_dir(void)
{
    ENT_TEST_MKDTEMP(dir, "backend-lmdb");
}

static void rm_dir(void)
{
    ent_test_rm_rf(dir);
}

static int open_small(ent_bk **out, int read_only)
{
    ent_backend_opts o = {0};
    o.durability = ENT__DUR_NONE;
    o.map_size = 64 << 10;
    o.read_only = read_only;
    return B->open(out, dir, &o);
}

static void fill_value(char *v, size_t n, int i)
{
    for (size_t j = 0; j < n; j++) v[j] = (char)('a' + (i + (int)j) % 26);
}

/* Write keys [from, to) in one txn; returns an ENT_* code. */
static int write_range(ent_bk *be, const char *table, int from, int to)
{
    ent_btxn *w;
    unsigned t;
    char kb[32], vb[200];
    int rc = B->txn_begin(be, 1, &w);
    if (rc) return rc;
    if ((rc = B->table(be, w, table, ENT_TBL_CREATE, &t))) goto fail;
    for (int i = from; i < to; i++) {
        snprintf(kb, sizeof kb, "key%08d", i);
        fill_value(vb, sizeof vb, i);
        ent_slice k = S(kb), v = {vb, sizeof vb};
        if ((rc = B->put(w, t, &k, &v, 0))) goto fail;
    }
    return B->txn_commit(w);
fail:
    B->txn_abort(w);
    return rc;
}

/* Every key in [0, n) present with its value, and nothing else. */
static int check_range(ent_bk *be, const char *table, int n)
{
    ent_btxn *r;
    ent_bcur *cur;
    unsigned t;
    char kb[32], vb[200];
    ent_slice k, v;
    int i = 0, bad = 0;
    if (B->txn_begin(be, 0, &r)) return -1;
    if (B->table(be, r, table, 0, &t) || B->cursor_open(r, t, &cur)) {
        B->txn_abort(r);
        return -1;
    }
    for (int rc = B->cursor_get(cur, ENT_CUR_FIRST, &k, &v); rc == ENT_OK; rc = B->cursor_get(cur, ENT_CUR_NEXT, &k, &v), i++) {
        snprintf(kb, sizeof kb, "key%08d", i);
        fill_value(vb, sizeof vb, i);
        if (k.len != strlen(kb) || memcmp(k.data, kb, k.len) || v.len != sizeof vb || memcmp(v.data, vb, v.len)) bad++;
    }
    B->cursor_close(cur);
    B->txn_abort(r);
    return bad ? -bad : i == n ? 0 : -100000 - i;
}

static void t_grow_in_one_txn(void)
{
    ent_bk *be;
    ent_btxn *w;
    ent_bcur *cur;
    unsigned t, t2;
    ent_backend_info i0, i1;
    ent_slice k, v;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(B->info(be, &i0));
    /* a table created in the same txn, and a cursor opened before the growth, survive the replay */
    ENT_OK_(B->txn_begin(be, 1, &w));
    ENT_OK_(B->table(be, w, "big", ENT_TBL_CREATE, &t));
    ENT_OK_(B->table(be, w, "side", ENT_TBL_CREATE | ENT_TBL_DUPSORT, &t2));
    k = S("a");
    v = S("1");
    ENT_OK_(B->put(w, t2, &k, &v, 0));
    v = S("2");
    ENT_OK_(B->put(w, t2, &k, &v, 0));
    ENT_OK_(B->cursor_open(w, t2, &cur));
    ENT_OK_(B->cursor_get(cur, ENT_CUR_FIRST, &k, &v));
    for (int i = 0; i < 20000; i++) { /* ~4 MB of values into a 64 KiB map */
        char kb[32], vb[200];
        snprintf(kb, sizeof kb, "key%08d", i);
        fill_value(vb, sizeof vb, i);
        ent_slice kk = S(kb), vv = {vb, sizeof vb};
        ENT_OK_(B->put(w, t, &kk, &vv, 0));
    }
    ENT_OK_(B->cursor_get(cur, ENT_CUR_NEXT, &k, &v)); /* the cursor goes on where it was */
    CU_ASSERT(k.len == 1 && memcmp(k.data, "a", 1) == 0 && v.len == 1 && memcmp(v.data, "2", 1) == 0);
    B->cursor_close(cur);
    ENT_OK_(B->txn_commit(w));
    ENT_OK_(B->info(be, &i1));
    CU_ASSERT(i1.map_size > i0.map_size);
    CU_ASSERT_EQUAL(check_range(be, "big", 20000), 0);
    B->close(be);
    /* and after reopening */
    ENT_OK_(open_small(&be, 1));
    CU_ASSERT_EQUAL(check_range(be, "big", 20000), 0);
    B->close(be);
    rm_dir();
}

static void t_grow_over_many_txns(void)
{
    ent_bk *be;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    for (int i = 0; i < 200; i++) ENT_OK_(write_range(be, "many", i * 100, (i + 1) * 100));
    CU_ASSERT_EQUAL(check_range(be, "many", 20000), 0);
    B->close(be);
    rm_dir();
}

/* The map grows inside a savepoint (a nested LMDB txn): parent and child are rebuilt from the op
 * log, and the savepoint can still be undone or kept. */
static void t_grow_in_a_savepoint(void)
{
    ent_bk *be;
    ent_btxn *w;
    unsigned t;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    for (int keep = 0; keep < 2; keep++) {
        ENT_OK_(B->txn_begin(be, 1, &w));
        ENT_OK_(B->table(be, w, keep ? "kept" : "undone", ENT_TBL_CREATE, &t));
        for (int i = 0; i < 20000; i++) {
            char kb[32], vb[200];
            snprintf(kb, sizeof kb, "key%08d", i);
            fill_value(vb, sizeof vb, i);
            ent_slice kk = S(kb), vv = {vb, sizeof vb};
            if (i == 100) ENT_OK_(B->sp_begin(w));
            ENT_OK_(B->put(w, t, &kk, &vv, 0));
        }
        ENT_OK_(B->sp_end(w, keep));
        ENT_OK_(B->txn_commit(w));
        CU_ASSERT_EQUAL(check_range(be, keep ? "kept" : "undone", keep ? 20000 : 100), 0);
    }
    B->close(be);
    rm_dir();
}

/* A thread that holds a read txn and asks for the writer while another thread writes. */
typedef struct held_reader {
    ent_bk *be;
    int reading; /* atomic: the read txn is open */
    int rc;      /* of the write txn_begin */
    int wrote;   /* the write txn committed */
    char msg[256];
} held_reader;

static void *held_reader_main(void *p)
{
    held_reader *h = p;
    ent_btxn *r, *w;
    unsigned t;
    if (B->txn_begin(h->be, 0, &r)) return NULL;
    __atomic_store_n(&h->reading, 1, __ATOMIC_SEQ_CST);
    h->rc = B->txn_begin(h->be, 1, &w);
    snprintf(h->msg, sizeof h->msg, "%s", h->rc ? ent_errmsg() : "");
    if (h->rc == ENT_OK) {
        ent_slice k = S("from-reader"), v = S("1");
        h->wrote = B->table(h->be, w, "side", ENT_TBL_CREATE, &t) == ENT_OK && B->put(w, t, &k, &v, 0) == ENT_OK &&
                   B->txn_commit(w) == ENT_OK;
        if (!h->wrote) B->txn_abort(w);
    }
    B->txn_abort(r);
    return NULL;
}

/* The writer must grow the map while another thread holds a read txn and waits to write: that
 * thread gets ENT_BUSY rather than waiting for the writer, which waits for its read txn (before,
 * both waited until the resize gave up). Without a growth the waiting thread gets the writer. */
static void t_writer_wanted_by_a_reader(void)
{
    ent_bk *be;
    ent_btxn *w;
    unsigned t;
    pthread_t th;
    held_reader h;
    ent_backend_info i0, i1;
    struct timespec nap = {0, 1000000};
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "big", 0, 1));
    for (int grow = 0; grow < 2; grow++) {
        memset(&h, 0, sizeof h);
        h.be = be;
        h.rc = -1;
        ENT_OK_(B->info(be, &i0));
        ENT_OK_(B->txn_begin(be, 1, &w));
        ENT_OK_(B->table(be, w, "big", ENT_TBL_CREATE, &t));
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, held_reader_main, &h), 0);
        while (!__atomic_load_n(&h.reading, __ATOMIC_SEQ_CST)) nanosleep(&nap, NULL);
        for (int i = 1; i < (grow ? 20000 : 10); i++) { /* ~4 MB of values into a 64 KiB map */
            char kb[32], vb[200];
            snprintf(kb, sizeof kb, "key%08d", i);
            fill_value(vb, sizeof vb, i);
            ent_slice kk = S(kb), vv = {vb, sizeof vb};
            ENT_OK_(B->put(w, t, &kk, &vv, 0));
        }
        ENT_OK_(B->txn_commit(w));
        pthread_join(th, NULL);
        ENT_OK_(B->info(be, &i1));
        if (grow) {
            CU_ASSERT(i1.map_size > i0.map_size);
            CU_ASSERT_EQUAL(h.rc, ENT_BUSY);
            CU_ASSERT_PTR_NOT_NULL(strstr(h.msg, "while a writer must grow the map; end it and retry the write"));
            CU_ASSERT_EQUAL(check_range(be, "big", 20000), 0);
        } else {
            CU_ASSERT_EQUAL(h.rc, ENT_OK);
            CU_ASSERT(h.wrote);
        }
    }
    B->close(be);
    rm_dir();
}

/* The child pid (a check run apart) exited 0; else says what status it had. */
static void child_ok(pid_t pid, const char *what)
{
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) fprintf(stderr, "\n  %s: child status %d\n", what, status);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Another process (a child with an open of its own) writes entries [from, to) of "shared",
 * growing the small map far beyond this process's; returns once it has. */
static void grow_in_child(int from, int to)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ent_bk *cbe;
        int rc = open_small(&cbe, 0);
        if (rc == ENT_OK) rc = write_range(cbe, "shared", from, to);
        if (rc == ENT_OK) B->close(cbe);
        else fprintf(stderr, "\n  child: %s: %s\n", ent_strerror(rc), ent_errmsg());
        _exit(rc == ENT_OK ? 0 : 1);
    }
    CU_ASSERT_FATAL(pid > 0);
    child_ok(pid, "growing the map in another process");
}

/* The parent has the store open with a small map; a child process (its own open) grows it far
 * beyond; the parent then reads everything and writes more. */
static void t_grown_by_other_process(void)
{
    ent_bk *be;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "shared", 0, 10));
    grow_in_child(10, 20000);
    CU_ASSERT_EQUAL(check_range(be, "shared", 20000), 0);
    ENT_OK_(write_range(be, "shared", 20000, 30000));
    CU_ASSERT_EQUAL(check_range(be, "shared", 30000), 0);
    B->close(be);
    rm_dir();
}

/* A copy taken after another process grew the map, before this one began a txn on the larger map:
 * LMDB's copy begins a txn of its own, which failed with MDB_MAP_RESIZED (ENT_BUSY), and kept
 * failing on every retry, as nothing of this process adopted the size. */
static void t_copy_after_other_process_grew(void)
{
    ent_bk *be, *cbe;
    char dest[ENT_TEST_PATH_MAX];
    ent_backend_opts o = {0};
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "shared", 0, 10));
    grow_in_child(10, 5000);
    for (int compact = 0; compact < 2; compact++) {
        ENT_TEST_PATH(dest, "%s/copy%d", dir, compact);
        ENT_OK_(B->copy(be, dest, compact));
        o.durability = ENT__DUR_NONE;
        ENT_OK_(B->open(&cbe, dest, &o));
        CU_ASSERT_EQUAL(check_range(cbe, "shared", 5000), 0);
        B->close(cbe);
    }
    B->close(be);
    rm_dir();
}

/* A read-only handle reads consistent snapshots while another process writes. */
static void t_readonly_while_other_writes(void)
{
    ent_bk *be, *ro;
    int status, bad = 0, reads = 0;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "log", 0, 1));
    B->close(be);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ent_bk *cbe;
        int rc = open_small(&cbe, 0);
        for (int i = 1; rc == ENT_OK && i < 400; i++) rc = write_range(cbe, "log", i * 10 - 9, i * 10 + 1);
        if (rc == ENT_OK) B->close(cbe);
        else fprintf(stderr, "\n  child: %s: %s\n", ent_strerror(rc), ent_errmsg());
        _exit(rc == ENT_OK ? 0 : 1);
    }
    CU_ASSERT_FATAL(pid > 0);
    ENT_OK_(open_small(&ro, 1));
    ent_btxn *w;
    ENT_CHECK_RC(B->txn_begin(ro, 1, &w), ENT_READONLY);
    for (;;) {
        int done = waitpid(pid, &status, WNOHANG) == pid;
        ent_btxn *r;
        ent_bcur *cur;
        unsigned t;
        ent_slice k, v;
        int n = 0, rc = B->txn_begin(ro, 0, &r);
        if (rc != ENT_OK) {
            bad++;
            fprintf(stderr, "\n  read-only begin: %s\n", ent_errmsg());
            break;
        }
        if (B->table(be = ro, r, "log", 0, &t) == ENT_OK && B->cursor_open(r, t, &cur) == ENT_OK) {
            for (rc = B->cursor_get(cur, ENT_CUR_FIRST, &k, &v); rc == ENT_OK; rc = B->cursor_get(cur, ENT_CUR_NEXT, &k, &v)) n++;
            B->cursor_close(cur);
        }
        B->txn_abort(r);
        if (n % 10 != 1) { /* every commit adds exactly ten keys */
            if (!bad) fprintf(stderr, "\n  a snapshot held %d keys\n", n);
            bad++;
        }
        reads++;
        if (done) break;
    }
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(check_range(ro, "log", 3991), 0);
    B->close(ro);
    rm_dir();
}

static void t_same_dir_twice(void)
{
    ent_bk *a, *b;
    ent_btxn *r;
    char alt[ENT_TEST_PATH_MAX];
    unsigned t;
    ent_slice k = S("key00000000"), out;
    fresh_dir();
    ENT_OK_(open_small(&a, 0));
    ENT_TEST_PATH(alt, "%s/.", dir); /* another spelling of the same directory */
    ent_backend_opts o = {0};
    ENT_OK_(B->open(&b, alt, &o));
    ENT_OK_(write_range(a, "t", 0, 5));
    ENT_OK_(B->txn_begin(b, 0, &r));
    ENT_OK_(B->table(b, r, "t", 0, &t));
    ENT_OK_(B->get(r, t, &k, &out));
    B->txn_abort(r);
    B->close(a); /* the other handle keeps working */
    ENT_OK_(write_range(b, "t", 5, 10));
    CU_ASSERT_EQUAL(check_range(b, "t", 10), 0);
    B->close(b);
    rm_dir();
}

static void t_fork_guard(void)
{
    ent_bk *be;
    int status;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "t", 0, 5));
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ent_btxn *txn;
        unsigned t;
        int rc = B->txn_begin(be, 0, &txn);
        int ok = rc == ENT_BUSY && strstr(ent_errmsg(), "fork") != NULL;
        ok = ok && B->txn_begin(be, 1, &txn) == ENT_BUSY;
        (void)t;
        B->close(be); /* frees memory only */
        /* the child may open the store itself */
        ent_bk *mine;
        ok = ok && open_small(&mine, 0) == ENT_OK;
        ok = ok && write_range(mine, "t", 5, 6) == ENT_OK;
        if (ok) B->close(mine);
        _exit(ok ? 0 : 1);
    }
    CU_ASSERT_FATAL(pid > 0);
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the parent's handle is unharmed */
    ENT_OK_(write_range(be, "t", 6, 10));
    CU_ASSERT_EQUAL(check_range(be, "t", 10), 0);
    B->close(be);
    rm_dir();
}

static void t_wait_change_across_processes(void)
{
    ent_bk *be;
    int status;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "t", 0, 1));
    uint64_t seen = B->change_counter(be);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ent_bk *cbe;
        usleep(50 * 1000);
        int rc = open_small(&cbe, 0);
        if (rc == ENT_OK) rc = write_range(cbe, "t", 1, 2);
        if (rc == ENT_OK) B->close(cbe);
        else fprintf(stderr, "\n  child: %s: %s\n", ent_strerror(rc), ent_errmsg());
        _exit(rc == ENT_OK ? 0 : 1);
    }
    CU_ASSERT_FATAL(pid > 0);
    ENT_OK_(B->wait_change(be, seen, 20000));
    CU_ASSERT(B->change_counter(be) != seen);
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    B->close(be);
    rm_dir();
}

static void t_missing_store(void)
{
    ent_bk *be;
    ent_backend_opts o = {0};
    fresh_dir();
    char missing[ENT_TEST_PATH_MAX];
    ENT_TEST_PATH(missing, "%s/none", dir);
    o.read_only = 1;
    ENT_CHECK_RC(B->open(&be, missing, &o), ENT_NOTFOUND);
    ENT_ASSERT_MSG("none");
    /* an existing but empty directory is no store either */
    ENT_CHECK_RC(B->open(&be, dir, &o), ENT_NOTFOUND);
    rm_dir();
}

/* A reader that died holding a slot does not keep its slot after the next open. */
static void t_stale_reader(void)
{
    ent_bk *be;
    int status;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "t", 0, 5));
    B->close(be);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ent_bk *cbe;
        ent_btxn *r;
        if (open_small(&cbe, 0) || B->txn_begin(cbe, 0, &r)) _exit(1);
        kill(getpid(), SIGKILL); /* dies with the reader slot taken */
        _exit(1);
    }
    CU_ASSERT_FATAL(pid > 0);
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFSIGNALED(status));
    ENT_OK_(open_small(&be, 0));
    for (int i = 0; i < 20; i++) ENT_OK_(write_range(be, "t", 5 + i, 6 + i)); /* writers are not held back */
    CU_ASSERT_EQUAL(check_range(be, "t", 25), 0);
    B->close(be);
    rm_dir();
}

/* A reader that died holding a slot while this process kept the store open: no open clears it,
 * yet its snapshot must not pin every page freed since, or a long-running writer's file grows with
 * each rewrite until some process happens to open the store. */
static void t_stale_reader_while_open(void)
{
    enum { TXNS = 3000, KEYS = 40 };
    ent_bk *be;
    int pfd[2], status;
    char c = 0, data[ENT_TEST_PATH_MAX];
    struct stat st;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "t", 0, KEYS));
    B->close(be);
    CU_ASSERT_FATAL(pipe(pfd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ent_bk *cbe;
        ent_btxn *r;
        if (open_small(&cbe, 0) || B->txn_begin(cbe, 0, &r)) _exit(1);
        if (write(pfd[1], "r", 1) != 1) _exit(1);
        pause(); /* killed here, the reader slot taken */
        _exit(1);
    }
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_FATAL(read(pfd[0], &c, 1) == 1);
    ENT_OK_(open_small(&be, 0)); /* opened while the reader lives: the open's check keeps it */
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFSIGNALED(status));
    close(pfd[0]);
    close(pfd[1]);
    for (int i = 0; i < TXNS; i++) ENT_OK_(write_range(be, "t", 0, KEYS)); /* ~3 pages freed each */
    CU_ASSERT_EQUAL(check_range(be, "t", KEYS), 0);
    ENT_TEST_PATH(data, "%s/data.mdb", dir);
    CU_ASSERT_FATAL(stat(data, &st) == 0);
    /* pinned, the file holds every version: TXNS * 3 pages of 4 KiB (~36 MiB) */
    if (st.st_size >= 4 << 20) fprintf(stderr, "\n  data.mdb is %lld bytes\n", (long long)st.st_size);
    CU_ASSERT(st.st_size < 4 << 20);
    B->close(be);
    rm_dir();
}

/* Several processes write one store whose map keeps growing: a growth redoes its txn on the
 * snapshot it began on while the others step back (no flock per txn, backend_lmdb.c's overview).
 * Small maps make every commit announce itself; larger ones leave it to the puts that fill them. */
static void grow_while_processes_write(size_t map_size)
{
    enum { PROCS = 3, TXNS = 300, PER = 10 };
    ent_bk *be;
    ent_backend_opts o = {0};
    pid_t pids[PROCS];
    fresh_dir();
    o.durability = ENT__DUR_NONE;
    o.map_size = map_size;
    ENT_OK_(B->open(&be, dir, &o));
    ENT_OK_(write_range(be, "shared", 0, 0)); /* the table exists before the writers start */
    fflush(NULL);
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            ent_bk *cbe;
            int rc = B->open(&cbe, dir, &o);
            for (int i = 0; rc == ENT_OK && i < TXNS; i++)
                rc = write_range(cbe, "shared", (p * TXNS + i) * PER, (p * TXNS + i + 1) * PER);
            if (rc == ENT_OK) B->close(cbe);
            else fprintf(stderr, "\n  writer %d: %s: %s\n", p, ent_strerror(rc), ent_errmsg());
            _exit(rc == ENT_OK ? 0 : 1);
        }
        CU_ASSERT_FATAL(pids[p] > 0);
    }
    for (int p = 0; p < PROCS; p++) {
        int status = 0;
        waitpid(pids[p], &status, 0);
        CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CU_ASSERT_EQUAL(check_range(be, "shared", PROCS * TXNS * PER), 0);
    B->close(be);
    rm_dir();
}

static void t_grow_while_processes_write_small(void) { grow_while_processes_write(64 << 10); }
static void t_grow_while_processes_write_large(void) { grow_while_processes_write(4 << 20); }

/* A writer that died while it announced a growth leaves the flag set but not writer.lock: the
 * next writer finds the lock free, clears the flag and goes on. So does it when the word holds
 * anything else (a damaged notify file): it waited for that forever (the alarm makes that a
 * failure rather than a hung test). */
static void stale_grow_flag(uint32_t flag)
{
    ent_bk *be;
    char path[ENT_TEST_PATH_MAX];
    int fd;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "t", 0, 5));
    ENT_TEST_PATH(path, "%s/notify", dir);
    fd = open(path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    lnotify *nt = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    CU_ASSERT_FATAL(nt != MAP_FAILED);
    atomic_store(&nt->growing, flag);
    alarm(60);
    ENT_OK_(write_range(be, "t", 5, 10));
    alarm(0);
    CU_ASSERT_EQUAL(atomic_load(&nt->growing), 0);
    CU_ASSERT_EQUAL(check_range(be, "t", 10), 0);
    munmap(nt, 4096);
    B->close(be);
    rm_dir();
}

/* A store made by a process without an address-space limit has a 64 GiB map in its meta page; a
 * process under ulimit -v opens it (with a map that fits) instead of failing with ENOMEM. A child
 * takes the limit: 256 MiB above what it uses already. Not under ASan or TSan, whose shadow memory needs
 * terabytes of address space. */
static void t_open_under_address_limit(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    printf("(skipped under a sanitizer) ");
#else
    ent_bk *be;
    ent_backend_opts o = {0};
    pid_t pid;
    int status = 0;
    fresh_dir();
    o.durability = ENT__DUR_NONE;
    ENT_OK_(B->open(&be, dir, &o)); /* the default map size */
    ENT_OK_(write_range(be, "t", 0, 50));
    B->close(be);
    fflush(stdout);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        unsigned long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%lu", &pages) != 1) _exit(2);
        fclose(f);
        struct rlimit rl = {(rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (256u << 20), RLIM_INFINITY};
        if (setrlimit(RLIMIT_AS, &rl)) _exit(3);
        if (B->open(&be, dir, &o)) _exit(4);
        if (check_range(be, "t", 50) || write_range(be, "t", 50, 60) || check_range(be, "t", 60)) _exit(5);
        B->close(be);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) fprintf(stderr, "\n  child status %d\n", status);
    rm_dir();
#endif
}

/* Under an address-space limit the map cannot always grow. LMDB lets the old map go before it
 * maps the new size, and a failure there left the environment with no map: the next call of the
 * handle crashed. A growth of its own is refused while the old map is still there (the handle
 * still reads), and a larger map made by another process that does not fit is refused, and so is
 * every later call, without a crash. In children, not under ASan (as above). */
static void t_grow_under_address_limit(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    printf("(skipped under a sanitizer) ");
#else
    ent_bk *be;
    pid_t pid;
    int status = 0;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "t", 0, 10));
    B->close(be);
    for (int adopt = 0; adopt < 2; adopt++) {
        fflush(stdout);
        pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            unsigned long pages = 0;
            int rc, i;
            FILE *f = fopen("/proc/self/statm", "r");
            if (B->open(&be, dir, NULL) ? 1 : 0) _exit(2);
            if (!f || fscanf(f, "%lu", &pages) != 1) _exit(3);
            fclose(f);
            struct rlimit rl = {(rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (32u << 20), RLIM_INFINITY};
            if (setrlimit(RLIMIT_AS, &rl)) _exit(4);
            if (!adopt) {
                /* writes of its own until the map cannot double any more */
                for (i = 10, rc = 0; rc == 0 && i < 2000000; i += 1000) rc = write_range(be, "t", i, i + 1000);
                if (rc != ENT_NOMEM) _exit(5);
                if (check_range(be, "t", i - 1000)) _exit(6); /* it goes on */
            } else {
                /* another process grows the map past this one's limit */
                int p2[2];
                if (pipe(p2)) _exit(7);
                pid_t g = fork();
                if (g == 0) {
                    struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY};
                    ent_bk *be2;
                    ent_backend_opts o = {0};
                    setrlimit(RLIMIT_AS, &inf);
                    o.durability = ENT__DUR_NONE;
                    _exit(B->open(&be2, dir, &o) || write_range(be2, "big", 0, 200000) ? 1 : 0);
                }
                waitpid(g, &status, 0);
                if (!WIFEXITED(status) || WEXITSTATUS(status)) _exit(8);
                for (i = 0; i < 3; i++) /* refused each time, no crash */
                    if (check_range(be, "t", 10) != -1) _exit(9);
            }
            B->close(be);
            _exit(0);
        }
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status)) fprintf(stderr, "\n  adopt %d: child status %d\n", adopt, status);
        CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    rm_dir();
#endif
}

/* A new store of five entries whose notify file is gone; path: where it was. */
static void store_without_notify(char *path, size_t n)
{
    ent_bk *be;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "t", 0, 5));
    B->close(be);
    CU_ASSERT_FATAL(ent_test_fmt(path, n, "%s/notify", dir) == 0);
    CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
}

/* A notify that is not a file (a directory here) is named as such: the read-only open (which
 * can open a directory) said "cannot map .../notify: No such device". */
static void t_notify_not_a_file(void)
{
    ent_bk *be;
    char path[ENT_TEST_PATH_MAX];
    store_without_notify(path, sizeof path);
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
    CU_ASSERT_EQUAL(open_small(&be, 0), ENT_IO);
    ENT_ASSERT_MSG("notify: Is a directory");
    CU_ASSERT_EQUAL(open_small(&be, 1), ENT_IO);
    ENT_ASSERT_MSG("notify is not a regular file");
    rm_dir();
}

/* A fifo at notify, for a handle that may not write it (the read-only fallback): the open must
 * not wait for a writer of the fifo that never comes. Run as another user when run as root, for
 * whom the read-write open would succeed and never reach the fallback. */
static void t_notify_fifo_read_only(void)
{
    ent_bk *be;
    char path[ENT_TEST_PATH_MAX];
    pid_t pid;
    store_without_notify(path, sizeof path);
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0444), 0);
    CU_ASSERT_EQUAL_FATAL(chmod(dir, 0755), 0);
    ENT_TEST_PATH(path, "%s/lock.mdb", dir);
    CU_ASSERT_EQUAL_FATAL(chmod(path, 0666), 0);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int rc;
        alarm(10); /* before the fix: blocked in open() until killed */
        if (geteuid() == 0 && setuid(65534) != 0) _exit(3);
        rc = open_small(&be, 1);
        if (rc == ENT_OK) B->close(be);
        if (rc != ENT_IO || !strstr(ent_errmsg(), "notify is not a regular file")) {
            fprintf(stderr, "\n  read-only open beside a fifo: %d %s\n", rc, ent_errmsg());
            _exit(1);
        }
        _exit(0);
    }
    child_ok(pid, "read-only open beside a fifo");
    rm_dir();
}

/* A lock file shorter than this library makes, held open by another LMDB program (126 readers:
 * 8 KiB, mapped at that size): the open grew it to 64 KiB under that program, and LMDB here then
 * sized its reader table by the new size, so readers of this library took slots past the other
 * program's map (its scans of the table read there). Grown only when no process has it open. */
static void t_short_lock_file_in_use(void)
{
    ent_bk *be = NULL;
    struct stat st;
    char path[ENT_TEST_PATH_MAX], c = 0;
    int ready[2], done[2];
    off_t before;
    pid_t pid;
    fresh_dir();
    CU_ASSERT_EQUAL_FATAL(pipe(ready), 0);
    CU_ASSERT_EQUAL_FATAL(pipe(done), 0);
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) { /* the other program: another process (fcntl locks are per process) */
        MDB_env *other = NULL;
        alarm(20);
        if (mdb_env_create(&other) || mdb_env_set_maxreaders(other, 126) || mdb_env_open(other, dir, MDB_NOTLS, 0664))
            _exit(1);
        if (write(ready[1], "r", 1) != 1 || read(done[0], &c, 1) != 1) _exit(2);
        mdb_env_close(other);
        _exit(0);
    }
    CU_ASSERT_EQUAL_FATAL(read(ready[0], &c, 1), 1);
    ENT_TEST_PATH(path, "%s/lock.mdb", dir);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    before = st.st_size;
    CU_ASSERT(before < 32 * 1024);
    CU_ASSERT_EQUAL(open_small(&be, 0), ENT_OK);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_size, before);
    if (be) B->close(be);
    CU_ASSERT_EQUAL(write(done[1], "d", 1), 1);
    child_ok(pid, "another LMDB program on the store");
    close(ready[0]);
    close(ready[1]);
    close(done[0]);
    close(done[1]);
    /* with no process on it, a short one is made whole again (a full disk is an error then) */
    CU_ASSERT_EQUAL_FATAL(open_small(&be, 0), ENT_OK);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT(st.st_size >= 64 * 1024);
    B->close(be);
    rm_dir();
}

/* Openers of a store without lock.mdb at the same moment (a copy or restore of data.mdb, six
 * processes started together): the one that makes the file looks for processes holding the store
 * open, to refuse them a lock file apart from theirs when theirs was removed. Another opener that
 * met the new file at once and opened the store before that look was taken for such a process:
 * the maker was refused ("its lock.mdb was removed while another process has the store open") and
 * removed the file the other was using (test_wal_pages's six openers: ~5 % of runs). Here the
 * other opener runs in the moment between the making and the look (ent__lmdb_lock_made_hook):
 * both open, on one lock.mdb. */
static int lock_go[2], lock_opened[2];

/* Files of dir whose names start with prefix. */
static int files_named(const char *d, const char *prefix)
{
    DIR *dh = opendir(d);
    struct dirent *de;
    int n = 0;
    if (!dh) return -1;
    while ((de = readdir(dh))) n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(dh);
    return n;
}

static void lock_made(const char *d)
{
    char c = 0;
    (void)d;
    CU_ASSERT_EQUAL(write(lock_go[1], "g", 1), 1);
    CU_ASSERT_EQUAL(read(lock_opened[0], &c, 1), 1); /* it holds the store open now */
}

static void t_lock_made_beside_other_openers(void)
{
    ent_bk *be = NULL;
    struct stat st;
    char path[ENT_TEST_PATH_MAX], c = 0;
    int done[2];
    pid_t pid;
    fresh_dir();
    CU_ASSERT_EQUAL_FATAL(open_small(&be, 0), ENT_OK);
    B->close(be);
    be = NULL;
    ENT_TEST_PATH(path, "%s/lock.mdb", dir);
    CU_ASSERT_EQUAL_FATAL(unlink(path), 0); /* no process has it open: a copy without it */
    CU_ASSERT_EQUAL_FATAL(pipe(lock_go), 0);
    CU_ASSERT_EQUAL_FATAL(pipe(lock_opened), 0);
    CU_ASSERT_EQUAL_FATAL(pipe(done), 0);
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) { /* the other opener, forked before any open: it waits for the maker's moment */
        ent_bk *other = NULL;
        struct stat ost;
        alarm(20);
        if (read(lock_go[0], &c, 1) != 1) _exit(1);
        if (open_small(&other, 0) != ENT_OK) _exit(2);
        if (stat(path, &ost) != 0) _exit(3);
        if (write(lock_opened[1], "o", 1) != 1 || read(done[0], &c, 1) != 1) _exit(4);
        /* the file it uses is still the store's lock.mdb once the maker has opened */
        if (stat(path, &st) != 0 || st.st_ino != ost.st_ino) _exit(5);
        B->close(other);
        _exit(0);
    }
    ent__lmdb_lock_made_hook = lock_made;
    CU_ASSERT_EQUAL(open_small(&be, 0), ENT_OK); /* was ENT_BUSY, the file removed under the other */
    ent__lmdb_lock_made_hook = NULL;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(write(done[1], "d", 1), 1);
    child_ok(pid, "the other opener");
    if (be) B->close(be);
    for (int i = 0; i < 2; i++) {
        close(lock_go[i]);
        close(lock_opened[i]);
        close(done[i]);
    }
    /* no file of the making left beside the store's own */
    CU_ASSERT_EQUAL(files_named(dir, "lock.mdb.new-"), 0);
    rm_dir();
}

/* A process with stderr and stdout closed: the store's files must not take descriptors 1 and 2,
 * where the host's next message would overwrite them (pcli found `entity ... 2>&-` writing its
 * error message over data.mdb's first page). */
static void t_closed_std_fds(void)
{
    pid_t pid;
    fresh_dir();
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        ent_bk *be;
        static const char junk[] = "this message is not a page of the store\n";
        close(1);
        close(2);
        if (open_small(&be, 0) != ENT_OK || write_range(be, "t", 0, 50) != ENT_OK) _exit(1);
        /* what a host prints to its stderr and stdout: must not reach the store's files */
        if (write(2, junk, sizeof junk - 1) > 0 || write(1, junk, sizeof junk - 1) > 0) _exit(2);
        if (write_range(be, "t", 50, 100) != ENT_OK) _exit(3);
        B->close(be);
        _exit(0);
    }
    child_ok(pid, "closed std fds");
    {
        ent_bk *be;
        ENT_OK_(open_small(&be, 0));
        CU_ASSERT_EQUAL(check_range(be, "t", 100), 0);
        B->close(be);
    }
    rm_dir();
}

/* ent_store_sync() of a `lazy` store (the relay syncs before it publishes) while other processes
 * commit: their lazy commits take no lock of the write-ahead file, so two of them may land between
 * the checkpoint's snapshot and its read of that snapshot's meta page, which the second overwrote.
 * The sync failed with MDB_CORRUPTED, "reading its free pages for a checkpoint", and the relay
 * of the soak (tests/soak) stopped for good. The hook lets a child commit twice right there. */
static int cp_go[2], cp_done[2], cp_fired;

static void commit_twice_elsewhere(void)
{
    char c = 0;
    if (cp_fired++) return; /* the first snapshot only: the sync's next one must be able to win */
    CU_ASSERT(write(cp_go[1], "g", 1) == 1);
    CU_ASSERT(read(cp_done[0], &c, 1) == 1 && c == 'd');
}

static void t_sync_beside_lazy_writers(void)
{
    ent_bk *be;
    ent_backend_opts o = {0};
    int status = 0;
    char c = 0;
    fresh_dir();
    o.durability = ENT__DUR_LAZY;
    ENT_OK_(B->open(&be, dir, &o));
    ENT_OK_(write_range(be, "t", 0, 5));
    CU_ASSERT_FATAL(pipe(cp_go) == 0 && pipe(cp_done) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ent_bk *cbe;
        if (B->open(&cbe, dir, &o)) _exit(1);
        if (read(cp_go[0], &c, 1) != 1) _exit(1);
        int rc = write_range(cbe, "t", 5, 6);
        if (!rc) rc = write_range(cbe, "t", 6, 7);
        if (write(cp_done[1], rc ? "x" : "d", 1) != 1) _exit(1);
        B->close(cbe);
        _exit(rc ? 1 : 0);
    }
    CU_ASSERT_FATAL(pid > 0);
    ENT_OK_(write_range(be, "t", 5, 5)); /* a commit of this process that the sync makes durable */
    cp_fired = 0;
    ent__lmdb_checkpoint_read_hook = commit_twice_elsewhere;
    int rc = B->sync(be, 1);
    ent__lmdb_checkpoint_read_hook = NULL;
    if (rc) fprintf(stderr, "\n  sync: %s: %s\n", ent_strerror(rc), ent_errmsg());
    CU_ASSERT_EQUAL(rc, ENT_OK);
    CU_ASSERT_EQUAL(cp_fired >= 1, 1);
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ENT_OK_(B->sync(be, 1)); /* and again, with nothing in between */
    CU_ASSERT_EQUAL(check_range(be, "t", 7), 0);
    B->close(be);
    for (int i = 0; i < 2; i++) {
        close(cp_go[i]);
        close(cp_done[i]);
    }
    rm_dir();
}

/* A durable commit's pages are those free before it and not after (backend_lmdb_wal.c). The free
 * list comes in LMDB's order of txn ids, not of pages: each commit sorted all of it, O(F log F)
 * for F free pages. A reader that held a snapshot for a minute under the soak's writes
 * (tests/soak) left ~40 000 free pages, and the store's durable writers fell from ~1 700 to ~40
 * events a second for good, most of each commit in qsort. Now only the commit's own pages are
 * sorted: a count, not a time, so the test cannot depend on the machine. */
static void t_commit_beside_a_large_free_list(void)
{
    ent_bk *be;
    ent_btxn *r;
    ent_backend_opts o = {0};
    fresh_dir();
    o.durability = ENT__DUR_DURABLE;
    ENT_OK_(B->open(&be, dir, &o));
    ENT_OK_(write_range(be, "t", 0, 3000));
    ENT_OK_(B->txn_begin(be, 0, &r)); /* pins every page the rewrites free */
    for (int i = 0; i < 150; i++) {
        int at = (i * 739) % 2900;
        ENT_OK_(write_range(be, "t", at, at + 100));
    }
    B->txn_abort(r);
    for (int i = 0; i < 4; i++) ENT_OK_(write_range(be, "t", i, i + 1)); /* the pinned pages freed */
    uint64_t before = ent__lmdb_wal_sorted, touched = ent__lmdb_wal_free_touched;
    ENT_OK_(write_range(be, "t", 7, 8));
    uint64_t sorted = ent__lmdb_wal_sorted - before;
    touched = ent__lmdb_wal_free_touched - touched;
    if (sorted >= 100) fprintf(stderr, "\n  one small commit sorted %llu page numbers\n", (unsigned long long)sorted);
    CU_ASSERT(sorted < 100); /* its own few pages, not the free list */
    /* nor did it walk the list page by page (a bit set for each of its ~1 600 pages, every
     * commit: the soak's writers kept a quarter of their rate): only the records it changed */
    if (touched >= 300) fprintf(stderr, "\n  one small commit read %llu free pages\n", (unsigned long long)touched);
    CU_ASSERT(touched < 300);
    CU_ASSERT_EQUAL(check_range(be, "t", 3000), 0);
    B->close(be);
    rm_dir();
}

/* Who holds an old snapshot (ent_store_get_readers(), `entity stat`'s "readers"): a reader left
 * open under writes keeps every page freed since from reuse, and the soak's data.mdb grew by
 * ~90 MB in a minute with nothing to say why. A reader in another process is counted with its
 * pid and the commits since its snapshot; a reset (reused) transaction is not; once it is killed
 * and cleared (an open's check), none is left. */
static void t_readers_reported(void)
{
    ent_bk *be, *be2;
    ent_backend_info bi;
    int pfd[2], status;
    char c = 0;
    fresh_dir();
    ENT_OK_(open_small(&be, 0));
    ENT_OK_(write_range(be, "t", 0, 5));
    ENT_OK_(B->info(be, &bi));
    CU_ASSERT_EQUAL(bi.readers, 0); /* this process's reads ended (kept reset for reuse) */
    CU_ASSERT_EQUAL(bi.oldest_pid, 0);
    CU_ASSERT_FATAL(pipe(pfd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ent_bk *cbe;
        ent_btxn *r;
        if (open_small(&cbe, 0) || B->txn_begin(cbe, 0, &r)) _exit(1);
        if (write(pfd[1], "r", 1) != 1) _exit(1);
        pause();
        _exit(1);
    }
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_FATAL(read(pfd[0], &c, 1) == 1);
    for (int i = 0; i < 7; i++) ENT_OK_(write_range(be, "t", 5 + i, 6 + i));
    ENT_OK_(B->info(be, &bi));
    CU_ASSERT_EQUAL(bi.readers, 1);
    CU_ASSERT_EQUAL(bi.oldest_pid, pid);
    CU_ASSERT_EQUAL(bi.oldest_behind, 7);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(pfd[0]);
    close(pfd[1]);
    B->close(be);
    ENT_OK_(open_small(&be2, 0)); /* the open clears the dead process's slot */
    ENT_OK_(B->info(be2, &bi));
    CU_ASSERT_EQUAL(bi.readers, 0);
    CU_ASSERT_EQUAL(bi.oldest_behind, 0);
    B->close(be2);
    rm_dir();
}

static void t_stale_grow_flag(void) { stale_grow_flag(1); }
static void t_garbage_grow_flag(void) { stale_grow_flag(0xdeadbeef); }

static const ent_test_case cases[] = {
    ENT_TEST(t_grow_in_one_txn),
    ENT_TEST(t_grow_over_many_txns),
    ENT_TEST(t_writer_wanted_by_a_reader),
    ENT_TEST(t_grow_in_a_savepoint),
    ENT_TEST(t_grown_by_other_process),
    ENT_TEST(t_copy_after_other_process_grew),
    ENT_TEST(t_readonly_while_other_writes),
    ENT_TEST(t_same_dir_twice),
    ENT_TEST(t_fork_guard),
    ENT_TEST(t_wait_change_across_processes),
    ENT_TEST(t_missing_store),
    ENT_TEST(t_stale_reader),
    ENT_TEST(t_stale_reader_while_open),
    ENT_TEST(t_grow_while_processes_write_small),
    ENT_TEST(t_grow_while_processes_write_large),
    ENT_TEST(t_stale_grow_flag),
    ENT_TEST(t_garbage_grow_flag),
    ENT_TEST(t_open_under_address_limit),
    ENT_TEST(t_grow_under_address_limit),
    ENT_TEST(t_notify_not_a_file),
    ENT_TEST(t_notify_fifo_read_only),
    ENT_TEST(t_closed_std_fds),
    ENT_TEST(t_short_lock_file_in_use),
    ENT_TEST(t_lock_made_beside_other_openers),
    ENT_TEST(t_sync_beside_lazy_writers),
    ENT_TEST(t_commit_beside_a_large_free_list),
    ENT_TEST(t_readers_reported),
    {NULL, NULL},
};

int main(void) { return ent_test_run("backend_lmdb", cases); }
