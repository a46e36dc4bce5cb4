/* A mirror's apply under backend faults: a mirror (on fault:lmdb or fault:memory; backend_fault.h)
 * applies a primary's transactions, recorded as JSON (what a relay publishes) from the fault
 * workload (fault_workload.h), once to count the backend calls, then once per call number N and
 * per fault kind with the Nth failing; it is then restarted (LMDB: reopened on plain lmdb, as a new
 * process) and resumes from its stored position, as the NATS follower would.
 * After each run: the failed transaction is applied in full or not at all (the stored position is
 * a transaction boundary and the log ends at its seq), verify is clean, and once resumed the
 * mirror is identical to the fault-free one (entities, counts, log), whose entities are the
 * primary's; its subscriber saw each event once, in order. No NATS server is needed: this is the
 * store's side (ent_mirror_apply); fuzz_mirror covers the message handling before it.
 * Then ent_mirror_promote() the same way: after a fault at any call the store is the mirror as it
 * was or fully promoted, never between (promote_loop). */
#include "test_util.h"

#include "backend_fault.h"
#include "fault_workload.h"

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

/* The primary: the workload on a memory store, every event it logs recorded as JSON in r (what a
 * relay would have sent); *snap (snap not NULL): its snapshot, taken before it is closed. */
static void record_primary(fw_ctx *w, recorded *r, int *rcs, char **snap)
{
    ent_subscriber *rec = NULL;
    memset(w, 0, sizeof *w);
    memset(r, 0, sizeof *r);
    w->backend = "memory";
    ENT_OK_(ent_schema_load_json(&w->v1, fw_schema_v1, sizeof fw_schema_v1 - 1, "v1"));
    ENT_OK_(fw_open_fresh(w));
    ENT_OK_(ent_subscribe(&rec, w->s, NULL, 0, record_json, r));
    fw_run(w, rcs, NULL);
    if (snap) *snap = fw_snapshot(w->s);
    fw_close(w);
}

static void mirror_loop(const char *inner)
{
    fw_ctx w;
    recorded r;
    ent_store *m = NULL;
    char backend[32], dir[ENT_TEST_PATH_MAX], *base = fw_tmpdir("fault-mirror"), *ref_snap, *prim_snap;
    int rcs[FW_NSTEPS], lmdb = strcmp(inner, "memory") != 0, failed = 0;
    uint64_t total, ref_seq = 0, ref_pos = 0;
    long runs = 0, surfaced = 0, absorbed = 0;
    fw_seen seen;
    snprintf(backend, sizeof backend, "fault:%s", inner);
    ENT_TEST_PATH(dir, "%s/mirror", base);
    record_primary(&w, &r, rcs, &prim_snap);
    CU_ASSERT_FATAL(r.n >= 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(prim_snap);

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

    for (size_t ki = 0; ki < FW_NKINDS; ki++) {
        const fw_kind *kd = &fw_kinds[ki];
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
           backend, (unsigned long long)total, r.n, runs, FW_NKINDS, surfaced, absorbed);
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

/* ent_mirror_promote() under backend faults: a mirror of the workload's primary is promoted once
 * to count the backend calls, then once per call number N and fault kind with the Nth failing.
 * Killed anywhere it is the mirror or the primary, never between: after each run (LMDB: reopened
 * on plain lmdb, as a new process) either it is still the mirror, with its own id, position and
 * state as before, or it is fully promoted (the primary's id, no mirror, every id counter at
 * least the reference's); a success is always the latter; verify is clean; a mirror left so is
 * promoted by the next try. */
static const char fo_primary[] = "0e1f2a3b-4c5d-4e6f-8a7b-8c9d0e1f2a3b";

static int promote_open(ent_store **m, const char *dir, const char *backend, const ent_schema *sc)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = backend;
    o.durability = ENT_NONE;
    return ent_mirror_open(m, dir, fo_primary, sc, &o);
}

/* Every type's id counter, as text. */
static void counters(char *out, size_t n, ent_store *s)
{
    const ent_schema *sc = ent_store_schema(s);
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ent_schema_type_count(sc); i++) {
        uint64_t id = 0;
        if (ent_type_key(ent_schema_type_at(sc, i)) != ENT_KEY_AUTO) continue;
        ENT_OK_(ent_last_id(&id, s, NULL, ent_schema_type_at(sc, i)));
        at += (size_t)snprintf(out + at, at < n ? n - at : 0, "%s=%llu ", ent_type_name(ent_schema_type_at(sc, i)),
                               (unsigned long long)id);
    }
}

static void promote_loop(const char *inner)
{
    fw_ctx w;
    recorded r;
    ent_store *m = NULL;
    char backend[32], dir[ENT_TEST_PATH_MAX], *base = fw_tmpdir("fault-promote"), *ref_snap, ctr[512], got_ctr[512];
    int rcs[FW_NSTEPS], lmdb = strcmp(inner, "memory") != 0, failed = 0;
    uint64_t total, ref_seq = 0;
    long runs = 0, promoted = 0, stayed = 0;
    snprintf(backend, sizeof backend, "fault:%s", inner);
    ENT_TEST_PATH(dir, "%s/mirror", base);
    record_primary(&w, &r, rcs, NULL);

    /* reference: promoted without faults, counting the backend calls of the promotion */
    if (lmdb) mkdir(dir, 0700);
    ENT_OK_(promote_open(&m, dir, backend, w.v1));
    ENT_OK_(apply_from(m, &r, 0, &failed));
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref_snap = fw_snapshot(m));
    counters(ctr, sizeof ctr, m);
    ent__fault_reset();
    ENT_OK_(ent_mirror_promote(m, ENT_DURABILITY_STORED, &ref_seq));
    total = ent__fault_calls();
    CU_ASSERT_EQUAL(ref_seq, r.n);
    ent_store_close(m);
    m = NULL;

    for (size_t ki = 0; ki < FW_NKINDS; ki++) {
        const fw_kind *kd = &fw_kinds[ki];
        for (uint64_t n = 1; n <= total; n++) {
            uint64_t seq = 0, problems = 0;
            int rc;
            char mid[37], *got;
            runs++;
            fw_rmrf(dir);
            if (lmdb) mkdir(dir, 0700);
            ENT_OK_(promote_open(&m, dir, backend, w.v1));
            ENT_OK_(apply_from(m, &r, 0, &failed));
            snprintf(mid, sizeof mid, "%s", ent_store_id(m));
            ent__fault_reset();
            if (kd->sticky) ent__fault_arm_sticky(n, kd->rc);
            else ent__fault_arm(n, kd->rc);
            rc = ent_mirror_promote(m, ENT_DURABILITY_STORED, &seq);
            ent__fault_disarm();
            if (lmdb) { /* a new process opening what the promotion left */
                ent_store_opts o = ENT_STORE_OPTS_INIT;
                ent_store_close(m);
                m = NULL;
                o.durability = ENT_NONE;
                ENT_OK_(ent_store_open(&m, dir, NULL, &o));
            }
            CU_ASSERT_PTR_NOT_NULL_FATAL(m);
            CU_ASSERT_EQUAL(ent_store_verify(&problems, m, NULL, NULL), ENT_OK);
            CU_ASSERT_EQUAL(problems, 0);
            got = fw_snapshot(m);
            CU_ASSERT_PTR_NOT_NULL_FATAL(got);
            CU_ASSERT_STRING_EQUAL(got, ref_snap); /* entities, counts and log untouched either way */
            free(got);
            counters(got_ctr, sizeof got_ctr, m);
            if (!ent_store_mirror_of(m)) {
                promoted++;
                CU_ASSERT_STRING_EQUAL(ent_store_id(m), fo_primary);
                CU_ASSERT_STRING_EQUAL(got_ctr, ctr);
                CU_ASSERT_EQUAL(ent_mirror_position(NULL, NULL, m), ENT_INVALID);
            } else {
                stayed++;
                if (rc == ENT_OK) fprintf(stderr, "\n  promote %s, call %llu, %s: ENT_OK, still a mirror\n", backend,
                                          (unsigned long long)n, kd->name);
                CU_ASSERT_NOT_EQUAL(rc, ENT_OK);
                CU_ASSERT_EQUAL(rc, kd->rc);
                CU_ASSERT_STRING_EQUAL(ent_store_mirror_of(m), fo_primary);
                CU_ASSERT_STRING_EQUAL(ent_store_id(m), mid);
                ENT_OK_(ent_mirror_position(&seq, NULL, m));
                CU_ASSERT_EQUAL(seq, ref_seq);
                /* the next try (the fault gone) promotes it */
                ENT_OK_(ent_mirror_promote(m, ENT_DURABILITY_STORED, &seq));
                CU_ASSERT_EQUAL(seq, ref_seq);
                CU_ASSERT_STRING_EQUAL(ent_store_id(m), fo_primary);
            }
            ent_store_close(m);
            m = NULL;
        }
    }
    printf("\n  promote on %s: %llu backend calls, %ld runs (%zu kinds): %ld ended promoted, %ld still the mirror, "
           "none between\n", backend, (unsigned long long)total, runs, FW_NKINDS, promoted, stayed);
    for (size_t i = 0; i < r.n; i++) free(r.json[i]);
    free(ref_snap);
    fw_rmrf(dir);
    rmdir(base);
    free(base);
    ent_schema_free(w.v1);
}

static void test_promote_lmdb(void) { promote_loop("lmdb"); }
static void test_promote_memory(void) { promote_loop("memory"); }

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_mirror_lmdb), ENT_TEST(test_mirror_memory),
                                          ENT_TEST(test_promote_lmdb), ENT_TEST(test_promote_memory), {NULL, NULL}};
    return ent_test_run("fault_mirror", cases);
}
