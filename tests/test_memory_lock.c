/* The memory backend's writer does not wait for readers inside a call, except at its commit.
 *
 * Readers hold the tree lock shared for the length of each call (a get, a cursor step). The
 * writer took it exclusively for every put, delete, savepoint end and commit: six times per
 * single-call update, each waiting for the reader calls under way, and on a loaded 2-core machine
 * a writer beside three scanning readers fell to under 1 k updates/s (README, "A writer beside
 * scanning readers"). Now it links its versions and keeps its new nodes aside without the lock,
 * and takes it once, to commit.
 *
 * The test holds the lock shared, as a reader inside a call does, while another thread writes:
 * puts over existing keys and new ones (plain and DUPSORT), deletes, reads of its own writes, a
 * savepoint kept and a cursor over a table it did not add to. All of that must finish while the
 * lock is held (a bounded wait only ends a broken run); readers must still see the old snapshot;
 * after the lock is let go the commit finishes and a new reader sees every change. */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "backend.h"
#include "backend_memory_int.h"
#include "test_util.h"

static const ent_backend_ops *B = &ent__backend_memory;

static ent_slice S(const char *s) { return (ent_slice){s, strlen(s)}; }

static int slice_is(ent_slice v, const char *s) { return v.len == strlen(s) && memcmp(v.data, s, v.len) == 0; }

typedef struct writer {
    ent_bk *be;
    unsigned plain, dup, other;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wrote;   /* the writes before the commit are done */
    int go;      /* commit now */
    int rc;      /* first failure, or ENT_OK */
    int own_ok;  /* the writer read back its own writes */
} writer;

static void set(writer *w, int *flag)
{
    pthread_mutex_lock(&w->mu);
    *flag = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Wait until *flag is set, at most `seconds` (a broken run ends there). 1 when it was set. */
static int wait_flag(writer *w, int *flag, int seconds)
{
    struct timespec dl;
    int ok;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += seconds;
    pthread_mutex_lock(&w->mu);
    while (!*flag)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) == ETIMEDOUT) break;
    ok = *flag;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

#define W_OK(expr)                                                                                 \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != ENT_OK && w->rc == ENT_OK) {                                                    \
            fprintf(stderr, "\n  %s:%d: %s = %d: %s\n", __FILE__, __LINE__, #expr, rc_, ent_errmsg()); \
            w->rc = rc_;                                                                           \
        }                                                                                          \
    } while (0)

static void *write_beside_reader(void *p)
{
    writer *w = p;
    ent_btxn *t = NULL;
    ent_bcur *c = NULL;
    ent_slice k = S("a"), v = S("1"), got = {0}, ck = {0}, cv = {0};
    int own = 1;
    W_OK(B->txn_begin(w->be, 1, &t));
    if (w->rc) goto out;
    k = S("old");
    v = S("new value");
    W_OK(B->put(t, w->plain, &k, &v, 0)); /* over a committed key */
    k = S("fresh");
    v = S("fresh value");
    W_OK(B->put(t, w->plain, &k, &v, 0)); /* a new key */
    k = S("fresh");
    v = S("fresh again");
    W_OK(B->put(t, w->plain, &k, &v, 0)); /* the same new key, replaced */
    k = S("idx");
    v = S("p2");
    W_OK(B->put(t, w->dup, &k, &v, 0)); /* a new pair */
    v = S("p1");
    W_OK(B->del(t, w->dup, &k, &v)); /* a committed pair */
    k = S("gone");
    W_OK(B->del(t, w->plain, &k, NULL));
    W_OK(B->sp_begin(t));
    k = S("in sp");
    v = S("kept");
    W_OK(B->put(t, w->plain, &k, &v, 0));
    k = S("old");
    v = S("newer");
    W_OK(B->put(t, w->plain, &k, &v, 0));
    W_OK(B->sp_end(t, 1));
    /* its own writes, read back */
    k = S("fresh");
    own = own && B->get(t, w->plain, &k, &got) == ENT_OK && slice_is(got, "fresh again");
    k = S("in sp");
    own = own && B->get(t, w->plain, &k, &got) == ENT_OK && slice_is(got, "kept");
    k = S("old");
    own = own && B->get(t, w->plain, &k, &got) == ENT_OK && slice_is(got, "newer");
    k = S("gone");
    own = own && B->get(t, w->plain, &k, &got) == ENT_NOTFOUND;
    /* a cursor over a table with none of its new nodes */
    W_OK(B->cursor_open(t, w->other, &c));
    own = own && c && B->cursor_get(c, ENT_CUR_FIRST, &ck, &cv) == ENT_OK && slice_is(ck, "o");
    B->cursor_close(c);
    w->own_ok = own;
    set(w, &w->wrote);
    wait_flag(w, &w->go, 600);
    W_OK(B->txn_commit(t));
    t = NULL;
out:
    if (t) B->txn_abort(t);
    set(w, &w->wrote);
    return NULL;
}

static void t_writer_waits_for_readers_only_to_commit(void)
{
    writer w0, *w = &w0;
    ent_btxn *t = NULL;
    ent_slice k, v, got = {0};
    pthread_t th;
    mstore *ms;
    int wrote;
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    ENT_OK_(B->open(&w->be, NULL, NULL));
    ms = (mstore *)w->be;
    ENT_OK_(B->txn_begin(w->be, 1, &t));
    ENT_OK_(B->table(w->be, t, "plain", ENT_TBL_CREATE, &w->plain));
    ENT_OK_(B->table(w->be, t, "dup", ENT_TBL_CREATE | ENT_TBL_DUPSORT, &w->dup));
    ENT_OK_(B->table(w->be, t, "other", ENT_TBL_CREATE, &w->other));
    k = S("old");
    v = S("old value");
    ENT_OK_(B->put(t, w->plain, &k, &v, 0));
    k = S("gone");
    ENT_OK_(B->put(t, w->plain, &k, &v, 0));
    k = S("idx");
    v = S("p1");
    ENT_OK_(B->put(t, w->dup, &k, &v, 0));
    k = S("o");
    ENT_OK_(B->put(t, w->other, &k, &v, 0));
    ENT_OK_(B->txn_commit(t));

    /* a reader inside a call, for as long as the writer works */
    pthread_rwlock_rdlock(&ms->lock);
    CU_ASSERT_FATAL(pthread_create(&th, NULL, write_beside_reader, w) == 0);
    wrote = wait_flag(w, &w->wrote, 20);
    pthread_rwlock_unlock(&ms->lock);
    CU_ASSERT(wrote); /* else the writer waited for the reader before its commit */
    if (wrote) { /* (else the writer is still running: nothing of it to read yet) */
        CU_ASSERT_EQUAL(w->rc, ENT_OK);
        CU_ASSERT(w->own_ok);
    }

    /* Not committed: a new reader sees the old state (the writer waits for `go`). */
    if (wrote && w->rc == ENT_OK) {
        ENT_OK_(B->txn_begin(w->be, 0, &t));
        k = S("old");
        ENT_OK_(B->get(t, w->plain, &k, &got));
        CU_ASSERT(slice_is(got, "old value"));
        k = S("fresh");
        CU_ASSERT_EQUAL(B->get(t, w->plain, &k, &got), ENT_NOTFOUND);
        k = S("gone");
        CU_ASSERT_EQUAL(B->get(t, w->plain, &k, &got), ENT_OK);
        k = S("idx");
        ENT_OK_(B->get(t, w->dup, &k, &got));
        CU_ASSERT(slice_is(got, "p1"));
        ENT_OK_(B->txn_commit(t));
    }
    set(w, &w->go);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(w->rc, ENT_OK);

    /* committed: every change, the new nodes found by key and by cursor */
    ENT_OK_(B->txn_begin(w->be, 0, &t));
    k = S("old");
    ENT_OK_(B->get(t, w->plain, &k, &got));
    CU_ASSERT(slice_is(got, "newer"));
    k = S("fresh");
    ENT_OK_(B->get(t, w->plain, &k, &got));
    CU_ASSERT(slice_is(got, "fresh again"));
    k = S("in sp");
    ENT_OK_(B->get(t, w->plain, &k, &got));
    CU_ASSERT(slice_is(got, "kept"));
    k = S("gone");
    CU_ASSERT_EQUAL(B->get(t, w->plain, &k, &got), ENT_NOTFOUND);
    k = S("idx");
    ENT_OK_(B->get(t, w->dup, &k, &got));
    CU_ASSERT(slice_is(got, "p2"));
    {
        static const char *const want[] = {"fresh", "in sp", "old"};
        ent_bcur *c = NULL;
        ent_slice ck, cv;
        int i = 0, op = ENT_CUR_FIRST;
        ENT_OK_(B->cursor_open(t, w->plain, &c));
        for (; B->cursor_get(c, op, &ck, &cv) == ENT_OK; op = ENT_CUR_NEXT, i++)
            CU_ASSERT(i < 3 && slice_is(ck, want[i]));
        CU_ASSERT_EQUAL(i, 3);
        B->cursor_close(c);
    }
    ENT_OK_(B->txn_commit(t));
    B->close(w->be);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

/* A commit collects old versions inside its exclusive section. While one old snapshot keeps the
 * versions of many deleted keys queued, a commit must not walk all of them again (it did: a
 * single-call update cost ~900 k instructions with 20 000 queued, 50 times its own work, and
 * readers waited for it); once the snapshot ends, the next commit frees them all. */
static void t_commit_does_not_rewalk_what_a_snapshot_keeps(void)
{
    enum { N = 1000, COMMITS = 20 };
    ent_bk *be = NULL;
    ent_btxn *t = NULL, *old = NULL;
    mstore *ms;
    unsigned tb;
    uint64_t walked;
    char kb[32];
    ent_slice k, v = S("v");
    ENT_OK_(B->open(&be, NULL, NULL));
    ms = (mstore *)be;
    ENT_OK_(B->txn_begin(be, 1, &t));
    ENT_OK_(B->table(be, t, "t", ENT_TBL_CREATE, &tb));
    for (int i = 0; i < N; i++) {
        k = (ent_slice){kb, (size_t)snprintf(kb, sizeof kb, "k%06d", i)};
        ENT_OK_(B->put(t, tb, &k, &v, 0));
    }
    ENT_OK_(B->txn_commit(t));
    ENT_OK_(B->txn_begin(be, 0, &old)); /* keeps every key */
    ENT_OK_(B->txn_begin(be, 1, &t));
    for (int i = 0; i < N; i++) {
        k = (ent_slice){kb, (size_t)snprintf(kb, sizeof kb, "k%06d", i)};
        ENT_OK_(B->del(t, tb, &k, NULL));
    }
    ENT_OK_(B->txn_commit(t));
    CU_ASSERT_EQUAL(ms->ngc, N); /* the deletions, queued: the old snapshot sees the keys */
    walked = ms->gc_walked;
    for (int i = 0; i < COMMITS; i++) {
        ENT_OK_(B->txn_begin(be, 1, &t));
        k = S("other");
        ENT_OK_(B->put(t, tb, &k, &v, 0));
        ENT_OK_(B->txn_commit(t));
    }
    /* each commit examines what it queued (one node), not the N kept ones again */
    CU_ASSERT(ms->gc_walked - walked <= 2 * COMMITS);
    {
        ent_slice got;
        k = S("k000007");
        ENT_OK_(B->get(old, tb, &k, &got)); /* still there for the old snapshot */
    }
    ENT_OK_(B->txn_commit(old));
    ENT_OK_(B->txn_begin(be, 1, &t));
    k = S("other");
    ENT_OK_(B->put(t, tb, &k, &v, 0));
    ENT_OK_(B->txn_commit(t));
    if (ms->ngc) fprintf(stderr, "\n  ngc %zu nnodes %zu\n", ms->ngc, ms->tables[tb]->nnodes);
    CU_ASSERT_EQUAL(ms->ngc, 0); /* every deleted key freed, and "other"'s older versions */
    CU_ASSERT_EQUAL(ms->tables[tb]->nnodes, 1);
    B->close(be);
}

/* Readers open cursors and get while the writer makes tables, which moves the table list
 * (realloc): a reader indexed it outside the lock in cursor_open (a read of freed memory; a data
 * race under ThreadSanitizer, which runs this suite). */
/* n tables "t0".., each made and given one pair in a write txn of its own */
static void make_tables(ent_bk *be, int n)
{
    ent_slice k = S("k"), v = S("v");
    char name[32];
    for (int i = 0; i < n; i++) {
        ent_btxn *t = NULL;
        unsigned tb;
        ENT_OK_(B->txn_begin(be, 1, &t));
        snprintf(name, sizeof name, "t%d", i);
        ENT_OK_(B->table(be, t, name, ENT_TBL_CREATE, &tb));
        ENT_OK_(B->put(t, tb, &k, &v, 0));
        ENT_OK_(B->txn_commit(t));
    }
}

typedef struct tabler {
    ent_bk *be;
    unsigned first;
    int *stop;
    int rc; /* this reader's first failure */
} tabler;

static void *open_cursors(void *p)
{
    tabler *x = p;
    ent_slice k = S("k"), got;
    while (!__atomic_load_n(x->stop, __ATOMIC_ACQUIRE) && x->rc == ENT_OK) {
        ent_btxn *t = NULL;
        ent_bcur *c = NULL;
        if ((x->rc = B->txn_begin(x->be, 0, &t))) break;
        if ((x->rc = B->cursor_open(t, x->first, &c)) == ENT_OK) {
            ent_slice ck, cv;
            if (B->cursor_get(c, ENT_CUR_FIRST, &ck, &cv) != ENT_OK || !slice_is(ck, "k")) x->rc = ENT_CORRUPT;
            B->cursor_close(c);
        }
        if (x->rc == ENT_OK && (B->get(t, x->first, &k, &got) != ENT_OK || !slice_is(got, "v"))) x->rc = ENT_CORRUPT;
        B->txn_abort(t);
    }
    return NULL;
}

static void t_readers_beside_new_tables(void)
{
    ent_bk *be = NULL;
    unsigned first;
    int stop = 0;
    tabler x[2];
    ent_btxn *t = NULL;
    ent_slice k = S("k"), v = S("v");
    pthread_t th[2];
    ENT_OK_(B->open(&be, NULL, NULL));
    ENT_OK_(B->txn_begin(be, 1, &t));
    ENT_OK_(B->table(be, t, "first", ENT_TBL_CREATE, &first));
    ENT_OK_(B->put(t, first, &k, &v, 0));
    ENT_OK_(B->txn_commit(t));
    for (int i = 0; i < 2; i++) {
        x[i] = (tabler){be, first, &stop, ENT_OK};
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, open_cursors, &x[i]) == 0);
    }
    make_tables(be, 300); /* the list doubles several times */
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(x[i].rc, ENT_OK);
    }
    B->close(be);
}

/* ent_store_get_info() from any thread while the writer makes tables: the memory backend's info
 * read the number of tables after it let go of the lock, beside m_table's increment under it (a
 * data race under ThreadSanitizer, which runs this suite). And it counted every slot of the list,
 * where the seam asks for the tables committed: a table a writer was still making, and the slot
 * an aborted one leaves, counted too. */
typedef struct infoer {
    ent_bk *be;
    int *stop;
    int rc;
    size_t last; /* tables seen: never fewer than the time before */
} infoer;

static void *read_info(void *p)
{
    infoer *x = p;
    while (!__atomic_load_n(x->stop, __ATOMIC_ACQUIRE) && x->rc == ENT_OK) {
        ent_backend_info bi;
        if ((x->rc = B->info(x->be, &bi))) break;
        if (bi.tables < x->last) x->rc = ENT_CORRUPT;
        x->last = bi.tables;
    }
    return NULL;
}

static void t_info_beside_new_tables(void)
{
    ent_bk *be = NULL;
    int stop = 0;
    infoer x = {0};
    ent_btxn *t = NULL;
    pthread_t th;
    ENT_OK_(B->open(&be, NULL, NULL));
    x = (infoer){be, &stop, ENT_OK, 0};
    CU_ASSERT_FATAL(pthread_create(&th, NULL, read_info, &x) == 0);
    make_tables(be, 200);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(x.rc, ENT_OK);
    {
        ent_backend_info bi;
        unsigned tb;
        ENT_OK_(B->info(be, &bi));
        CU_ASSERT_EQUAL(bi.tables, 200);
        /* committed tables only: not one being made, nor the slot its abort leaves */
        ENT_OK_(B->txn_begin(be, 1, &t));
        ENT_OK_(B->table(be, t, "uncommitted", ENT_TBL_CREATE, &tb));
        ENT_OK_(B->info(be, &bi));
        CU_ASSERT_EQUAL(bi.tables, 200);
        B->txn_abort(t);
        ENT_OK_(B->info(be, &bi));
        CU_ASSERT_EQUAL(bi.tables, 200);
    }
    B->close(be);
}

/* Tables are found by name in a table of names, not by a scan of the list: opening a store of
 * thousands of types looks each type's and index's table up, and a scan made that quadratic
 * (1 000 types: 216 M instructions to open). Counted, not timed: the names compared stay a few
 * per look-up. And what a scan found is still what is found: of tables of one name, the one the
 * transaction sees (an aborted one's slot is no table; made again, the name finds the new one). */
static void t_tables_found_by_name(void)
{
    enum { N = 3000 };
    ent_bk *be = NULL;
    ent_btxn *t = NULL, *r = NULL;
    mstore *ms;
    unsigned tb, again[3], got;
    char name[32];
    ENT_OK_(B->open(&be, NULL, NULL));
    ms = (mstore *)be;
    ENT_OK_(B->txn_begin(be, 1, &t));
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "type_%d", i);
        ENT_OK_(B->table(be, t, name, ENT_TBL_CREATE, &tb));
        CU_ASSERT_EQUAL(tb, (unsigned)i);
    }
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "type_%d", i);
        ENT_OK_(B->table(be, t, name, 0, &tb));
        CU_ASSERT_EQUAL(tb, (unsigned)i);
    }
    if (ms->name_probes >= 4 * N) fprintf(stderr, "\n  %llu names compared\n", (unsigned long long)ms->name_probes);
    CU_ASSERT(ms->name_probes < 4 * N);
    ENT_OK_(B->txn_commit(t));

    /* made and aborted: no table; made again: the new slot */
    ENT_OK_(B->txn_begin(be, 1, &t));
    ENT_OK_(B->table(be, t, "again", ENT_TBL_CREATE, &again[0]));
    B->txn_abort(t);
    ENT_OK_(B->txn_begin(be, 1, &t));
    ENT_CHECK_RC(B->table(be, t, "again", 0, &got), ENT_NOTFOUND);
    ENT_OK_(B->table(be, t, "again", ENT_TBL_CREATE, &again[1]));
    CU_ASSERT_NOT_EQUAL(again[1], again[0]);
    ENT_OK_(B->txn_begin(be, 0, &r)); /* a reader does not see it before the commit */
    ENT_CHECK_RC(B->table(be, r, "again", 0, &got), ENT_NOTFOUND);
    ENT_OK_(B->table(be, r, "type_2999", 0, &got));
    CU_ASSERT_EQUAL(got, 2999);
    B->txn_abort(r);
    ENT_OK_(B->txn_commit(t));
    ENT_OK_(B->txn_begin(be, 0, &r));
    ENT_OK_(B->table(be, r, "again", 0, &again[2]));
    CU_ASSERT_EQUAL(again[2], again[1]);
    ENT_CHECK_RC(B->table(be, r, "type_3000", 0, &got), ENT_NOTFOUND);
    B->txn_abort(r);
    B->close(be);
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(t_writer_waits_for_readers_only_to_commit),
        ENT_TEST(t_commit_does_not_rewalk_what_a_snapshot_keeps),
        ENT_TEST(t_readers_beside_new_tables),
        ENT_TEST(t_info_beside_new_tables),
        ENT_TEST(t_tables_found_by_name),
        {NULL, NULL},
    };
    return ent_test_run("test_memory_lock", cases);
}
