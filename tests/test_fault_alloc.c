/* Allocation failures: the fault workload (fault_workload.h) runs once to count the library's
 * allocations, then once per allocation number N with the Nth failing, on LMDB and in memory.
 * After each run: the step that met the failure returned ENT_NOMEM with a message (or the failure
 * was absorbed and every step returned what it returns without faults), nothing crashed or leaked (ASan/LSan in the sanitizer build), the
 * store reopens (LMDB), verifies clean and holds exactly the commits acknowledged before the
 * failing step, plus that step in full or not at all.
 *
 * How the Nth allocation fails: this test binary is linked with -Wl,--wrap=malloc,calloc,realloc,
 * strdup,strndup (tests/CMakeLists.txt). libentity is a static library, so its objects are part of
 * this link and every call they make to those functions goes to the __wrap_ versions of
 * fault_alloc_wrap.h, which count and fail the chosen one; jansson's allocations on the library's
 * behalf go through the same counter (json_set_alloc_funcs). Not covered: allocations inside LMDB and msgpack-c's zones, which
 * a --wrap of this binary cannot reach. The memory backend's are covered (it no longer uses GLib).
 *
 * Every N is run (about 1 200 on LMDB and 400 in memory, a second or two; the counts are printed).
 * ENT_FAULT_STRIDE=K runs every Kth only; ENT_FAULT_ONLY=N runs the Nth only, to debug one. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>

#include "fault_alloc_wrap.h"
#include "fault_workload.h"
#include "test_util.h"

static void *json_malloc(size_t n) { return __wrap_malloc(n); }
static void json_free(void *p) { free(p); }

typedef struct tally {
    long runs, hit, nomem, other, clean_runs, events_checked;
} tally;

static int same_or_next(const char *got, char *const *snap, size_t f)
{
    return !strcmp(got, snap[f]) || !strcmp(got, snap[f + 1]);
}

static void alloc_loop(const char *backend)
{
    fw_ctx w;
    int ref[FW_NSTEPS], rcs[FW_NSTEPS];
    static fw_ref rf;
    char *snap[FW_NSTEPS + 1];
    long total, stride;
    tally ty = {0, 0, 0, 0, 0, 0};
    const char *st = getenv("ENT_FAULT_STRIDE");
    char *base = fw_tmpdir("fault-alloc");
    memset(&w, 0, sizeof w);
    w.backend = backend;
    w.lmdb = strcmp(backend, "memory") != 0;
    ENT_TEST_PATH(w.dir, "%s/store", base);
    ENT_TEST_PATH(w.copy_dir, "%s/copy", base);
    ENT_OK_(ent_schema_load_json(&w.v1, fw_schema_v1, sizeof fw_schema_v1 - 1, "v1"));
    ENT_OK_(ent_schema_load_json(&w.v2, fw_schema_v2, sizeof fw_schema_v2 - 1, "v2"));
    json_set_alloc_funcs(json_malloc, json_free);

    /* Reference run: count the allocations; a snapshot before and after every step. */
    ENT_OK_(fw_open_fresh(&w));
    CU_ASSERT_PTR_NOT_NULL_FATAL(snap[0] = fw_snapshot(w.s));
    count = 0;
    fail_at = -1;
    for (size_t i = 0; i < FW_NSTEPS; i++) {
        rf.last[i] = fw_log_last(w.s);
        if (fw_steps[i].lmdb_only && !w.lmdb) {
            ref[i] = ENT_OK;
        } else {
            armed = 1;
            ref[i] = fw_steps[i].fn(&w);
            armed = 0;
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(snap[i + 1] = fw_snapshot(w.s));
    }
    total = count;
    rf.last[FW_NSTEPS] = fw_log_last(w.s);
    rf.all = w.all;
    CU_ASSERT_EQUAL(fw_check_events(&w, &rf, FW_NSTEPS, 0, "reference run"), 0);
    CU_ASSERT(rf.all.n == rf.last[FW_NSTEPS] && rf.all.n >= 10);
    fw_close(&w);
    CU_ASSERT_EQUAL(ref[2], ENT_CONFLICT);
    CU_ASSERT_EQUAL(ref[4], ENT_INVALID);
    CU_ASSERT_EQUAL(ref[9], ENT_CONFLICT);
    stride = st && atol(st) > 0 ? atol(st) : 1;

    if (getenv("ENT_FAULT_ONLY")) total = atol(getenv("ENT_FAULT_ONLY")), stride = total;
    for (long n = stride == total ? total : 1; n <= total; n += stride) {
        size_t f;
        char *got;
        ty.runs++;
        ENT_OK_(fw_open_fresh(&w));
        count = 0;
        fail_at = n;
        failed_n = 0;
        armed = 1;
        f = fw_run(&w, rcs, ref);
        armed = 0;
        fail_at = -1;
        if (failed_n) ty.hit++;
        if (f < FW_NSTEPS) {
            int rc = rcs[f];
            const char *m = ent_errmsg();
            if (rc == ENT_NOMEM) ty.nomem++;
            else ty.other++;
            if (rc != ENT_NOMEM || !m[0])
                fprintf(stderr, "\n  alloc %ld: step \"%s\" (returns %d without faults): %d (%s): \"%s\"\n", n,
                        fw_steps[f].name, ref[f], rc, ent_strerror(rc), m);
            CU_ASSERT(rc == ENT_NOMEM && m[0] != '\0');
        } else {
            ty.clean_runs++;
        }
        /* What the subscribers and the follower saw, on the store as the run left it. */
        if (w.s) {
            char label[96];
            snprintf(label, sizeof label, "%s alloc %ld, failing step %zu", backend, n, f);
            CU_ASSERT_EQUAL(fw_check_events(&w, &rf, f, 0, label), 0);
            ty.events_checked++;
        }
        /* The store as a new process would find it. */
        if (w.lmdb) {
            fw_close(&w);
            if (ent_store_open(&w.s, w.dir, NULL, NULL) != ENT_OK)
                fprintf(stderr, "\n  alloc %ld (failed at step %zu, %s): the store does not reopen: %s\n", n, f,
                        f < FW_NSTEPS ? fw_steps[f].name : "none", ent_errmsg());
            CU_ASSERT_PTR_NOT_NULL_FATAL(w.s);
        }
        {
            uint64_t problems = 0;
            int vrc;
            CU_ASSERT_PTR_NOT_NULL_FATAL(w.s);
            vrc = ent_store_verify(&problems, w.s, NULL, NULL);
            if (vrc) fprintf(stderr, "\n  alloc %ld (step %zu): verify: %s\n", n, f, ent_errmsg());
            CU_ASSERT_EQUAL(vrc, ENT_OK);
        }
        got = fw_snapshot(w.s);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        if (f < FW_NSTEPS ? !same_or_next(got, snap, f) : strcmp(got, snap[FW_NSTEPS]) != 0) {
            fprintf(stderr, "\n  alloc %ld: after step %zu (%s) the store is neither before nor after it:\n%s\n", n, f,
                    f < FW_NSTEPS ? fw_steps[f].name : "end", got);
            CU_FAIL("store changed by a failed step");
        }
        free(got);
        fw_close(&w);
    }
    printf("\n  %s: %ld allocations in the workload, %ld runs (stride %ld): %ld failed an allocation, "
           "%ld surfaced as ENT_NOMEM, %ld as another code, %ld absorbed (every step as without faults); "
           "%ld runs' subscribers, follower and durable subscription checked (%zu events without faults)\n",
           backend, total, ty.runs, stride, ty.hit, ty.nomem, ty.other, ty.clean_runs, ty.events_checked, rf.all.n);
    for (size_t i = 0; i <= FW_NSTEPS; i++) free(snap[i]);
    json_set_alloc_funcs(malloc, free);
    fw_rmrf(w.copy_dir);
    fw_rmrf(w.dir);
    rmdir(base);
    free(base);
    ent_schema_free(w.v1);
    ent_schema_free(w.v2);
}

static void test_alloc_lmdb(void) { alloc_loop("lmdb"); }
static void test_alloc_memory(void) { alloc_loop("memory"); }

/* Opens of an LMDB store (writable and read-only), each with its Nth allocation failing: a failed
 * open closes only what it opened. Its write-ahead file's state was zeroed by calloc and freed
 * before its descriptors were set to -1, so a failure there closed descriptor 0, twice (the file's
 * and that of its direct writes): here fd 0 is a file of the test's, which must stay open. */
static void test_open_keeps_descriptors(void)
{
    char *base = fw_tmpdir("fault-open-fds"), dir[ENT_TEST_PATH_MAX + 16], mark[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    struct stat want, got;
    long hit = 0;
    ENT_TEST_PATH(dir, "%s/store", base);
    ENT_TEST_PATH(mark, "%s/fd0", base);
    ENT_OK_(ent_schema_load_json(&sc, fw_schema_v1, sizeof fw_schema_v1 - 1, "v1"));
    o.durability = ENT_DURABLE;
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    ent_store_close(s);
    int saved = dup(0), fd = open(mark, O_RDWR | O_CREAT, 0600);
    CU_ASSERT_FATAL(saved >= 0 && fd >= 0 && dup2(fd, 0) == 0 && fstat(0, &want) == 0);
    close(fd);
    for (int ro = 0; ro < 2; ro++) {
        o.read_only = ro;
        for (long n = 1;; n++) {
            count = 0;
            fail_at = n;
            failed_n = 0;
            armed = 1;
            int rc = ent_store_open(&s, dir, NULL, &o);
            armed = 0;
            fail_at = -1;
            if (rc == ENT_OK) ent_store_close(s);
            s = NULL;
            int open0 = fstat(0, &got) == 0 && got.st_ino == want.st_ino && got.st_dev == want.st_dev;
            if (!open0) fprintf(stderr, "\n  %s open, allocation %ld failing: fd 0 closed\n", ro ? "read-only" : "writable", n);
            CU_ASSERT(open0);
            if (!open0) { /* fd 0 the test's file again, for the opens that follow */
                fd = open(mark, O_RDWR);
                CU_ASSERT_FATAL(fd >= 0 && dup2(fd, 0) == 0 && fstat(0, &want) == 0);
                close(fd);
            }
            if (!failed_n) break; /* every allocation of the open ran */
            hit++;
        }
    }
    CU_ASSERT(hit > 10);
    CU_ASSERT_FATAL(dup2(saved, 0) == 0);
    close(saved);
    ent_schema_free(sc);
    unlink(mark);
    fw_rmrf(dir);
    rmdir(base);
    free(base);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_alloc_lmdb), ENT_TEST(test_alloc_memory),
                                          ENT_TEST(test_open_keeps_descriptors), {NULL, NULL}};
    return ent_test_run("fault_alloc", cases);
}
