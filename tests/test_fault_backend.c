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

typedef struct kind {
    int rc;
    int sticky;
    const char *name;
} kind;

static const kind kinds[] = {
    {ENT_IO, 0, "I/O error"},   {ENT_FULL, 0, "full"},           {ENT_NOMEM, 0, "out of memory"},
    {ENT_CORRUPT, 0, "corrupt"}, {ENT_IO, 1, "I/O error, sticky"},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

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
    snprintf(w.dir, sizeof w.dir, "%s/store", base);
    snprintf(w.copy_dir, sizeof w.copy_dir, "%s/copy", base);
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

    for (size_t ki = 0; ki < NKINDS; ki++) {
        const kind *kd = &kinds[ki];
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
           backend, (unsigned long long)total, runs, NKINDS, stride, surfaced, absorbed, events_checked, rf.all.n);
    for (size_t i = 0; i <= FW_NSTEPS; i++) free(snap[i]);
    fw_rmrf(w.copy_dir);
    fw_rmrf(w.dir);
    rmdir(base);
    free(base);
    ent_schema_free(w.v1);
    ent_schema_free(w.v2);
}

/* A delivery whose reads keep failing holds its events back; the commit is not failed for it (it is
 * durable), and the next delivery hands them out first, in order, once each. A failed commit
 * delivers nothing of its own but still what was held back. */
static void held_back(const char *inner)
{
    fw_ctx w;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    char backend[32], *base = fw_tmpdir("fault-held");
    uint64_t c2;
    memset(&w, 0, sizeof w);
    snprintf(backend, sizeof backend, "fault:%s", inner);
    snprintf(w.dir, sizeof w.dir, "%s/store", base);
    o.backend = backend;
    o.durability = ENT_NONE;
    ENT_OK_(ent_schema_load_json(&w.v1, fw_schema_v1, sizeof fw_schema_v1 - 1, "v1"));
    ENT_OK_(ent_store_open(&w.s, w.dir, w.v1, &o));
    ENT_OK_(ent_subscribe(&w.sub_all, w.s, NULL, 0, fw_cb_all, &w));
    ENT_OK_(fw_create_acct(&w, NULL, "a@x", 1));
    /* the calls of a create like the next one; its delivery's read transaction and get come last */
    ent__fault_reset();
    ENT_OK_(fw_create_acct(&w, NULL, "b@x", 2));
    c2 = ent__fault_calls();
    CU_ASSERT_EQUAL_FATAL(w.all.n, 2);
    ent__fault_reset();
    ent__fault_arm_sticky(c2 - 1, ENT_IO); /* the delivery's reads, and its retry, fail */
    ENT_OK_(fw_create_acct(&w, NULL, "c@x", 3));
    CU_ASSERT(ent__fault_fired() >= 2);
    CU_ASSERT_EQUAL(w.all.n, 2); /* held back */
    ent__fault_disarm();
    /* A failed commit: nothing of its own, the held-back event all the same. */
    ent__fault_reset();
    ent__fault_arm_named("txn_commit", 1, ENT_IO);
    CU_ASSERT_EQUAL(fw_create_acct(&w, NULL, "d@x", 4), ENT_IO);
    ent__fault_disarm();
    CU_ASSERT_EQUAL(w.all.n, 3);
    ENT_OK_(fw_create_acct(&w, NULL, "e@x", 5));
    CU_ASSERT_EQUAL_FATAL(w.all.n, 4);
    for (size_t i = 0; i < w.all.n; i++) CU_ASSERT_EQUAL(w.all.ev[i].seq, i + 1);
    CU_ASSERT_EQUAL(fw_log_last(w.s), 4);
    ent_store_close(w.s);
    fw_rmrf(w.dir);
    rmdir(base);
    free(base);
    ent_schema_free(w.v1);
}

static void test_held_back(void)
{
    held_back("lmdb");
    held_back("memory");
}

/* ---- a mirror's apply under faults ---------------------------------------------------------- */

/* The primary's events as JSON (what a relay publishes), recorded by a subscriber of the primary
 * while it runs the fault workload (its log is truncated later; the subscriber saw everything). */
typedef struct recorded {
    char *json[FW_MAX_SEEN];
    uint64_t txn[FW_MAX_SEEN];
    size_t n;
} recorded;

static void record_json(const ent_event *ev, void *payload)
{
    recorded *r = payload;
    if (r->n == FW_MAX_SEEN || ent_event_to_json(&r->json[r->n], ev, 0) != ENT_OK) abort();
    r->txn[r->n++] = ev->txn;
}

static void seen_seq(const ent_event *ev, void *payload)
{
    fw_seen *r = payload;
    fw_record(r, ev);
}

/* Apply the primary's transactions from the one after the mirror's position (pos: the index of
 * the next transaction, from 1) to the end, as a follower resuming would; stop at the first error. */
static int apply_from(ent_store *m, const recorded *r, uint64_t pos, int *failed_txn)
{
    size_t i = 0, t = 0;
    while (i < r->n) {
        ent_event *evs[FW_MAX_SEEN];
        size_t n = 0;
        int rc = ENT_OK;
        t++;
        for (size_t start = i; i < r->n && r->txn[i] == r->txn[start]; i++) {
            if (t <= pos) continue; /* applied before the restart */
            if ((rc = ent_event_from_json(&evs[n], ent_store_schema(m), r->json[i], strlen(r->json[i])))) break;
            n++;
        }
        if (!rc && n) rc = ent_mirror_apply(m, evs, n, t);
        for (size_t k = 0; k < n; k++) ent_event_free(evs[k]);
        if (rc) {
            *failed_txn = (int)t;
            return rc;
        }
    }
    return ENT_OK;
}

static int mirror_open(ent_store **m, const char *dir, const char *backend, const ent_schema *sc, fw_seen *seen)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_subscriber *sub;
    int rc;
    o.backend = backend;
    o.durability = ENT_NONE;
    if ((rc = ent_mirror_open(m, dir, "primary-of-the-fault-test", sc, &o))) return rc;
    return ent_subscribe(&sub, *m, NULL, 0, seen_seq, seen);
}

/* A mirror (on fault:lmdb or fault:memory) applies the primary's transactions, recorded from the
 * fault workload, once to count the backend calls, then once per call number N and kind with the
 * Nth failing; then it restarts (LMDB: reopened on plain lmdb, as a new process) and resumes from
 * its stored position, as a follower would. After each: the failed transaction is applied in full
 * or not at all (the stored position is a transaction boundary and the log ends at its seq),
 * verify is clean, and once resumed the mirror is identical to the reference mirror (entities,
 * counts, log), which holds the primary's entities. */
static void mirror_loop(const char *inner)
{
    fw_ctx w;
    recorded r;
    ent_subscriber *rec = NULL;
    ent_store *m = NULL;
    char backend[32], dir[300], *base = fw_tmpdir("fault-mirror"), *ref_snap, *prim_snap;
    int rcs[FW_NSTEPS], lmdb = strcmp(inner, "memory") != 0, failed = 0;
    uint64_t total, ref_seq = 0, ref_pos = 0;
    long runs = 0, surfaced = 0, absorbed = 0;
    fw_seen seen;
    memset(&w, 0, sizeof w);
    memset(&r, 0, sizeof r);
    snprintf(backend, sizeof backend, "fault:%s", inner);
    snprintf(dir, sizeof dir, "%s/mirror", base);

    /* The primary: the workload in memory, every event recorded as JSON. */
    w.backend = "memory";
    ENT_OK_(ent_schema_load_json(&w.v1, fw_schema_v1, sizeof fw_schema_v1 - 1, "v1"));
    ENT_OK_(fw_open_fresh(&w));
    ENT_OK_(ent_subscribe(&rec, w.s, NULL, 0, record_json, &r));
    fw_run(&w, rcs, NULL);
    CU_ASSERT_FATAL(r.n >= 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(prim_snap = fw_snapshot(w.s));
    fw_close(&w);

    /* Reference: the mirror without faults, counting the backend calls of the applies. */
    memset(&seen, 0, sizeof seen);
    if (lmdb) mkdir(dir, 0700);
    ENT_OK_(mirror_open(&m, dir, backend, w.v1, &seen));
    ent__fault_reset();
    ENT_OK_(apply_from(m, &r, 0, &failed));
    total = ent__fault_calls();
    ENT_OK_(ent_mirror_position(&ref_seq, &ref_pos, m));
    CU_ASSERT_EQUAL(ref_seq, r.n);
    CU_ASSERT_EQUAL(seen.n, r.n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref_snap = fw_snapshot(m));
    /* the mirror's entities and counts are the primary's (its log is whole: the primary's was truncated) */
    CU_ASSERT_NSTRING_EQUAL(ref_snap, prim_snap, (size_t)(strstr(prim_snap, "\nlog ") - prim_snap));
    ent_store_close(m);

    for (size_t ki = 0; ki < NKINDS; ki++) {
        const kind *kd = &kinds[ki];
        for (uint64_t n = 1; n <= total; n++) {
            uint64_t seq = 0, pos = 0, problems = 0;
            int rc, ft = 0;
            char *got;
            runs++;
            fw_rmrf(dir);
            if (lmdb) mkdir(dir, 0700);
            memset(&seen, 0, sizeof seen);
            ENT_OK_(mirror_open(&m, dir, backend, w.v1, &seen));
            ent__fault_reset();
            if (kd->sticky) ent__fault_arm_sticky(n, kd->rc);
            else ent__fault_arm(n, kd->rc);
            rc = apply_from(m, &r, 0, &ft);
            ent__fault_disarm();
            if (rc) {
                surfaced++;
                if (rc != kd->rc || !strstr(ent_errmsg(), "fault injected"))
                    fprintf(stderr, "\n  mirror %s, call %llu, %s: transaction %d: %d (%s)\n", backend,
                            (unsigned long long)n, kd->name, ft, rc, ent_errmsg());
                CU_ASSERT_EQUAL(rc, kd->rc);
                CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "fault injected"));
            } else {
                absorbed++;
            }
            /* A restart (LMDB: a new process opening the store on plain lmdb), then the position. */
            if (lmdb) {
                ent_store_close(m);
                m = NULL;
                ENT_OK_(mirror_open(&m, dir, "lmdb", NULL, &seen));
            }
            CU_ASSERT_PTR_NOT_NULL_FATAL(m);
            ENT_OK_(ent_mirror_position(&seq, &pos, m));
            /* nothing half-applied: the position is a transaction boundary, the log ends there */
            CU_ASSERT(fw_log_last(m) == seq);
            CU_ASSERT(rc == ENT_OK ? pos == ref_pos : (pos == (uint64_t)ft - 1 || pos == (uint64_t)ft));
            CU_ASSERT_EQUAL(ent_store_verify(&problems, m, NULL, NULL), ENT_OK);
            /* resume after the stored position: the mirror ends identical to the reference */
            ENT_OK_(apply_from(m, &r, pos, &ft));
            ENT_OK_(ent_mirror_position(&seq, &pos, m));
            CU_ASSERT(seq == ref_seq && pos == ref_pos);
            got = fw_snapshot(m);
            CU_ASSERT_PTR_NOT_NULL_FATAL(got);
            if (strcmp(got, ref_snap)) {
                fprintf(stderr, "\n  mirror %s, call %llu, %s: after resuming the mirror differs:\n%s\n", backend,
                        (unsigned long long)n, kd->name, got);
                CU_FAIL("mirror differs after resuming");
            }
            free(got);
            /* Its subscriber: each event once, in order, none the mirror does not hold; all of
             * them, except under a sticky fault: the delivery it held back goes with the next
             * commit, which a restart (LMDB) or the end of the stream may not bring (the events
             * are in the log, where a durable subscription replays them). */
            for (size_t i = 0; i < seen.n; i++) {
                CU_ASSERT(i == 0 || seen.ev[i].seq > seen.ev[i - 1].seq);
                CU_ASSERT(seen.ev[i].seq <= ref_seq);
                CU_ASSERT(lmdb || seen.ev[i].seq == i + 1);
            }
            if (!kd->sticky) {
                CU_ASSERT_EQUAL(seen.n, r.n);
                if (seen.n != r.n)
                    fprintf(stderr, "\n  mirror %s, call %llu, %s: subscriber saw %zu of %zu events\n", backend,
                            (unsigned long long)n, kd->name, seen.n, r.n);
            }
            ent_store_close(m);
            m = NULL;
        }
    }
    printf("\n  mirror on %s: %llu backend calls applying %zu events, %ld runs (%zu kinds): %ld faults surfaced as "
           "the injected code, %ld absorbed; each resumed from its stored position to a mirror identical to the "
           "reference (whose entities are the primary's)\n",
           backend, (unsigned long long)total, r.n, runs, NKINDS, surfaced, absorbed);
    for (size_t i = 0; i < r.n; i++) free(r.json[i]);
    free(ref_snap);
    free(prim_snap);
    fw_rmrf(dir);
    rmdir(base);
    free(base);
    ent_schema_free(w.v1);
}

static void test_mirror_lmdb(void) { mirror_loop("lmdb"); }
static void test_mirror_memory(void) { mirror_loop("memory"); }

static void test_fault_lmdb(void) { backend_loop("lmdb"); }
static void test_fault_memory(void) { backend_loop("memory"); }

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_fault_lmdb), ENT_TEST(test_fault_memory), ENT_TEST(test_held_back),
                                         ENT_TEST(test_mirror_lmdb), ENT_TEST(test_mirror_memory),
                                         {NULL, NULL}};
    return ent_test_run("fault_backend", cases);
}
