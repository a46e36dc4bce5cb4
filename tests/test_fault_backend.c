/* Backend faults: the fault workload (fault_workload.h) runs on the fault backend ("fault:lmdb",
 * "fault:memory": every call forwarded to the inner backend, the Nth failing on demand;
 * backend_fault.h) once to count the backend calls, then once per call number N and per error
 * kind the real backends return: I/O error, full (disk or map), out of memory, a corrupt read;
 * plus an I/O error that sticks (every later call fails too: a disk gone away).
 * After each run:
 * - the step that met the fault returned the injected code, with the fault named in the message
 *   (or the fault was absorbed: every step returned what it returns without faults);
 * - nothing crashed or leaked (ASan/LSan in the sanitizer build);
 * - the store reopens (LMDB: closed and opened again on plain "lmdb", as a new process would),
 *   verify finds no problem, and the store holds exactly the commits acknowledged before the
 *   failing step, plus that step in full or not at all.
 * Every N and kind is run; ENT_FAULT_STRIDE=K runs every Kth call only (the counts are printed),
 * ENT_FAULT_ONLY=N the Nth only. */
#include "test_util.h"

#include "backend_fault.h"
#include "fault_workload.h"


static void backend_loop(const char *inner)
{
    fw_ctx w;
    int ref[FW_NSTEPS], rcs[FW_NSTEPS];
    static fw_ref rf;
    char *snap[FW_NSTEPS + 1], backend[32];
    uint64_t total;
    long stride = 1, runs = 0, surfaced = 0, absorbed = 0, events_checked = 0;
    const char *st = getenv("ENT_FAULT_STRIDE"), *only = getenv("ENT_FAULT_ONLY");
    char *base = fw_tmpdir("fault-backend");
    memset(&w, 0, sizeof w);
    snprintf(backend, sizeof backend, "fault:%s", inner);
    w.backend = backend;
    w.lmdb = strcmp(inner, "memory") != 0;
    ENT_TEST_PATH(w.dir, "%s/store", base);
    ENT_TEST_PATH(w.copy_dir, "%s/copy", base);
    ENT_OK_(ent_schema_load_json(&w.v1, fw_schema_v1, sizeof fw_schema_v1 - 1, "v1"));
    ENT_OK_(ent_schema_load_json(&w.v2, fw_schema_v2, sizeof fw_schema_v2 - 1, "v2"));

    /* Reference run: count the backend calls; a snapshot before and after every step. */
    ENT_OK_(fw_open_fresh(&w));
    CU_ASSERT_PTR_NOT_NULL_FATAL(snap[0] = fw_snapshot(w.s));
    total = 0;
    for (size_t i = 0; i < FW_NSTEPS; i++) {
        rf.last[i] = fw_log_last(w.s);
        if (fw_steps[i].lmdb_only && !w.lmdb) {
            ref[i] = ENT_OK;
        } else {
            ent__fault_reset();
            ref[i] = fw_steps[i].fn(&w);
            total += ent__fault_calls();
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(snap[i + 1] = fw_snapshot(w.s));
    }
    rf.last[FW_NSTEPS] = fw_log_last(w.s);
    rf.all = w.all;
    CU_ASSERT_EQUAL(fw_check_events(&w, &rf, FW_NSTEPS, 0, "reference run"), 0);
    CU_ASSERT(rf.all.n == rf.last[FW_NSTEPS] && rf.all.n >= 10);
    fw_close(&w);
    CU_ASSERT_EQUAL(ref[2], ENT_CONFLICT);
    CU_ASSERT_EQUAL(ref[4], ENT_INVALID);
    CU_ASSERT_EQUAL(ref[9], ENT_CONFLICT);
    if (st && atol(st) > 0) stride = atol(st);

    for (size_t ki = 0; ki < FW_NKINDS; ki++) {
        const fw_kind *kd = &fw_kinds[ki];
        for (uint64_t n = only ? (uint64_t)atol(only) : 1; n <= total; n += (uint64_t)stride) {
            size_t f;
            char *got;
            uint64_t fired;
            runs++;
            ENT_OK_(fw_open_fresh(&w));
            ent__fault_reset();
            if (kd->sticky) ent__fault_arm_sticky(n, kd->rc);
            else ent__fault_arm(n, kd->rc);
            f = fw_run(&w, rcs, ref);
            fired = ent__fault_fired();
            ent__fault_disarm();
            if (f < FW_NSTEPS) {
                int rc = rcs[f];
                /* verify reports what its reads met as a problem (ENT_CORRUPT), named in the line */
                const char *m = fw_steps[f].fn == fw_s_verify && rc == ENT_CORRUPT && fw_last_problem[0] ? fw_last_problem : ent_errmsg();
                surfaced++;
                if (rc != kd->rc || !strstr(m, "fault injected"))
                    fprintf(stderr, "\n  %s, call %llu, %s: step \"%s\" (returns %d without faults): %d (%s): \"%s\"\n",
                            backend, (unsigned long long)n, kd->name, fw_steps[f].name, ref[f], rc, ent_strerror(rc), m);
                CU_ASSERT(fired > 0);
                CU_ASSERT_EQUAL(rc, kd->rc);
                CU_ASSERT_PTR_NOT_NULL(strstr(m, "fault injected"));
                /* an injected ENT_FULL is a full disk, and its cause reaches the caller with it */
                if (rc == ENT_FULL && m == ent_errmsg() && ent_errdetail() != ENT_DETAIL_NO_SPACE) {
                    fprintf(stderr, "\n  %s, call %llu: step \"%s\": ENT_FULL with detail %d\n", backend,
                            (unsigned long long)n, fw_steps[f].name, ent_errdetail());
                    CU_FAIL("ENT_FULL without ENT_DETAIL_NO_SPACE");
                }
            } else {
                absorbed++;
            }
            /* What the subscribers and the follower saw, on the store as the run left it. */
            if (w.s) {
                char label[160];
                snprintf(label, sizeof label, "%s, call %llu, %s, failing step %zu", backend, (unsigned long long)n,
                         kd->name, f);
                CU_ASSERT_EQUAL(fw_check_events(&w, &rf, f, kd->sticky, label), 0);
                events_checked++;
            }
            /* The store as a new process would find it. */
            if (w.lmdb) {
                ent_store_opts o = ENT_STORE_OPTS_INIT;
                fw_close(&w);
                if (ent_store_open(&w.s, w.dir, NULL, &o) != ENT_OK)
                    fprintf(stderr, "\n  %s, call %llu, %s (step %zu): the store does not reopen: %s\n", backend,
                            (unsigned long long)n, kd->name, f, ent_errmsg());
            }
            CU_ASSERT_PTR_NOT_NULL_FATAL(w.s);
            {
                uint64_t problems = 0;
                int vrc = ent_store_verify(&problems, w.s, NULL, NULL);
                if (vrc)
                    fprintf(stderr, "\n  %s, call %llu, %s (step %zu): verify: %s\n", backend, (unsigned long long)n,
                            kd->name, f, ent_errmsg());
                CU_ASSERT_EQUAL(vrc, ENT_OK);
            }
            got = fw_snapshot(w.s);
            CU_ASSERT_PTR_NOT_NULL_FATAL(got);
            if (f < FW_NSTEPS ? strcmp(got, snap[f]) && strcmp(got, snap[f + 1]) : strcmp(got, snap[FW_NSTEPS])) {
                fprintf(stderr, "\n  %s, call %llu, %s: after step %zu (%s) the store is neither before nor after it:\n%s\n",
                        backend, (unsigned long long)n, kd->name, f, f < FW_NSTEPS ? fw_steps[f].name : "end", got);
                CU_FAIL("store changed by a failed step");
            }
            free(got);
            fw_close(&w);
            if (only) break;
        }
    }
    printf("\n  %s: %llu backend calls in the workload, %ld runs (%zu kinds, stride %ld): %ld faults surfaced "
           "as the injected code, %ld absorbed (every step as without faults); every store reopened, verified "
           "and matched; %ld runs' subscribers, follower and durable subscription checked (%zu events without faults)\n",
           backend, (unsigned long long)total, runs, FW_NKINDS, stride, surfaced, absorbed, events_checked, rf.all.n);
    for (size_t i = 0; i <= FW_NSTEPS; i++) free(snap[i]);
    fw_rmrf(w.copy_dir);
    fw_rmrf(w.dir);
    rmdir(base);
    free(base);
    ent_schema_free(w.v1);
    ent_schema_free(w.v2);
}

/* A create in a txn whose first event came while the store had no subscriber: the commit kept no
 * copy of its events, so its delivery reads them back from the log (log_deliver.c). */
static int create_read_back(fw_ctx *w, const char *email, int64_t score)
{
    ent_txn *t = NULL;
    int rc;
    ent_unsubscribe(w->s, w->sub_all);
    w->sub_all = NULL;
    if ((rc = ent_txn_begin(&t, w->s, ENT_TXN_WRITE))) return rc;
    if ((rc = fw_create_acct(w, t, email, score)) ||
        (rc = ent_subscribe(&w->sub_all, w->s, NULL, 0, fw_cb_all, w))) {
        ent_txn_abort(t);
        return rc;
    }
    return ent_txn_commit(t);
}

/* The held-back tests' start: a store on fault:inner with a subscriber of every event, a@x and
 * b@x delivered, then c@x committed while its delivery's reads (and their retry) fail, so that it
 * is held back. *c2: the fault counter's calls of a create like c@x's. */
static char *held_open(fw_ctx *w, const char *inner, const char *name, uint64_t *c2)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    static char backend[32];
    char *base = fw_tmpdir(name);
    memset(w, 0, sizeof *w);
    snprintf(backend, sizeof backend, "fault:%s", inner);
    ENT_TEST_PATH(w->dir, "%s/store", base);
    o.backend = backend;
    o.durability = ENT_NONE;
    ENT_OK_(ent_schema_load_json(&w->v1, fw_schema_v1, sizeof fw_schema_v1 - 1, "v1"));
    ENT_OK_(ent_store_open(&w->s, w->dir, w->v1, &o));
    ENT_OK_(ent_subscribe(&w->sub_all, w->s, NULL, 0, fw_cb_all, w));
    ENT_OK_(fw_create_acct(w, NULL, "a@x", 1));
    /* the calls of a create like the next one; its delivery's read transaction and get come last */
    ent__fault_reset();
    ENT_OK_(create_read_back(w, "b@x", 2));
    *c2 = ent__fault_calls();
    CU_ASSERT_EQUAL_FATAL(w->all.n, 2);
    ent__fault_reset();
    ent__fault_arm_sticky(*c2 - 1, ENT_IO); /* the delivery's reads, and its retry, fail */
    ENT_OK_(create_read_back(w, "c@x", 3));
    CU_ASSERT(ent__fault_fired() >= 2);
    CU_ASSERT_EQUAL(w->all.n, 2); /* held back */
    ent__fault_disarm();
    return base;
}

static void held_close(fw_ctx *w, char *base)
{
    ent_store_close(w->s);
    fw_rmrf(w->dir);
    rmdir(base);
    free(base);
    ent_schema_free(w->v1);
}

/* A delivery whose reads keep failing holds its events back; the commit is not failed for it (it is
 * durable), and the next delivery hands them out first, in order, once each. A failed commit
 * delivers nothing of its own but still what was held back. */
static void held_back(const char *inner)
{
    fw_ctx w;
    uint64_t c2;
    char *base = held_open(&w, inner, "fault-held", &c2);
    /* Held back again, with the next commit's own event: the range then spans both. */
    ent__fault_reset();
    ent__fault_arm_sticky(c2 - 1, ENT_IO);
    ENT_OK_(create_read_back(&w, "c2@x", 33));
    CU_ASSERT(ent__fault_fired() >= 2);
    CU_ASSERT_EQUAL(w.all.n, 2);
    ent__fault_disarm();
    /* A failed commit: nothing of its own, the held-back events all the same. */
    ent__fault_reset();
    ent__fault_arm_named("txn_commit", 1, ENT_IO);
    CU_ASSERT_EQUAL(fw_create_acct(&w, NULL, "d@x", 4), ENT_IO);
    ent__fault_disarm();
    CU_ASSERT_EQUAL(w.all.n, 4);
    ENT_OK_(fw_create_acct(&w, NULL, "e@x", 5));
    CU_ASSERT_EQUAL_FATAL(w.all.n, 5);
    for (size_t i = 0; i < w.all.n; i++) CU_ASSERT_EQUAL(w.all.ev[i].seq, i + 1);
    CU_ASSERT_EQUAL(fw_log_last(w.s), 5);
    held_close(&w, base);
}

/* A held-back event that a truncation took from the log meanwhile is passed over: the next
 * delivery goes on after it (it held every later event back for good). */
static void held_back_truncated(const char *inner)
{
    fw_ctx w;
    uint64_t c2;
    char *base = held_open(&w, inner, "fault-held-trunc", &c2);
    ENT_OK_(ent_log_truncate(w.s, 4, 1));
    ENT_OK_(fw_create_acct(&w, NULL, "d@x", 4));
    CU_ASSERT_EQUAL_FATAL(w.all.n, 3);
    CU_ASSERT_EQUAL(w.all.ev[2].seq, 4);
    held_close(&w, base);
}

static void test_held_back(void)
{
    held_back("lmdb");
    held_back("memory");
    held_back_truncated("lmdb");
    held_back_truncated("memory");
}

static void test_fault_lmdb(void) { backend_loop("lmdb"); }
static void test_fault_memory(void) { backend_loop("memory"); }

/* ent_store_sync(): whatever the durability, the call reaches the backend's sync (forced: an
 * LMDB store opened `none` is synced too), its failure comes back, a read-only handle is refused
 * and a memory store has nothing to sync. */
static void test_store_sync(void)
{
    char *base = fw_tmpdir("store-sync"), path[ENT_TEST_PATH_MAX];
    ent_schema *sc = NULL;
    ent_store *s = NULL, *ro = NULL, *m = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    static const char sj[] = "{\"schema\":\"sy\",\"version\":1,\"types\":{\"a\":{\"key\":\"auto\",\"fields\":{"
                             "\"n\":{\"id\":1,\"type\":\"int\"}}}}}";
    ENT_TEST_PATH(path, "%s/s", base);
    ENT_OK_(ent_schema_load_json(&sc, sj, strlen(sj), "sy"));
    o.durability = ENT_NONE;
    o.backend = "fault:lmdb";
    ENT_OK_(ent_store_open(&s, path, sc, &o));
    ent__fault_reset();
    ENT_OK_(ent_store_sync(s));
    CU_ASSERT_EQUAL(ent__fault_calls(), 1);
    ent__fault_arm_named("sync", 1, ENT_IO);
    CU_ASSERT_EQUAL(ent_store_sync(s), ENT_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "fault injected"));
    ent__fault_reset();
    ENT_OK_(ent_store_sync(s));
    o.backend = NULL;
    o.read_only = 1;
    o.durability = ENT_DURABILITY_STORED;
    ENT_OK_(ent_store_open(&ro, path, NULL, &o));
    CU_ASSERT_EQUAL(ent_store_sync(ro), ENT_READONLY);
    o.read_only = 0;
    o.backend = "memory";
    ENT_OK_(ent_store_open(&m, NULL, sc, &o));
    ENT_OK_(ent_store_sync(m));
    CU_ASSERT_EQUAL(ent_store_sync(NULL), ENT_INVALID);
    ent_store_close(m);
    ent_store_close(ro);
    ent_store_close(s);
    ent_schema_free(sc);
    fw_rmrf(path);
    rmdir(base);
    free(base);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_fault_lmdb), ENT_TEST(test_fault_memory), ENT_TEST(test_held_back),
                                         ENT_TEST(test_store_sync), {NULL, NULL}};
    return ent_test_run("fault_backend", cases);
}
